//! One RPC suite run over every transport, between real separate processes: the test
//! binary re-executes itself as Alice (`peer`, role `<row>-<codec>`), Bob calls her from the
//! test. Each transport is a row ([`Link`]): how Bob and Alice open their ends, and what the
//! transport can do (who may come first, whether Alice sees Bob leave). The cases every row
//! runs are written once ([`calls_work`], [`killed_server_gives_disconnected`]) and
//! instantiated per row by `rpc_rows!`; cases about one transport only sit in its row.
//!
//! The Redis row needs `IPCRING_TEST_REDIS_URL` (`.ci/steps/71-rpc-redis.sh` starts a
//! throwaway server and sets it); without it each of its tests says loudly that it skipped.
#![cfg(feature = "rpc")]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use ipcring::rpc::{BinaryCodec, Client, Codec, JsonCodec, RpcError};
use ipcring::transport::{Receiver, Sender};
use support::rpc_alice::{alice, calls_in_flight, failures_come_back};
use support::{peer_role, unique, Peer};
#[cfg(feature = "socket")]
use support::{rpc_alice::served_at_once, unique_path};

const T: Duration = Duration::from_secs(20);

/// A transport under the RPC layer: Alice (the peer process) serves on her ends, Bob (the
/// test) calls on his.
trait Link {
    /// The row's name: the prefix of Alice's roles.
    const NAME: &'static str;
    /// Bob may open his ends before Alice exists (the transport keeps what he sends).
    const BOB_FIRST: bool = true;
    /// Alice may start before Bob opens his ends (nothing Bob sends is lost).
    const ALICE_FIRST: bool = true;
    /// Alice's `serve` returns once Bob has gone (else she is killed at the end).
    const SEES_BOB_LEAVE: bool = true;
    /// A call Bob starts before Alice exists is kept for her (with `BOB_FIRST`).
    const EARLY_CALL: bool = true;
    /// Calls the generic case keeps in flight at once.
    const IN_FLIGHT: i64 = 100;

    /// Where Alice and Bob meet; removes what it made when dropped.
    type Place;
    type BobTx: Sender;
    type BobRx: Receiver;

    /// A new meeting place, or `None` when the row cannot run here (said loudly).
    fn place(test: &str) -> Option<Self::Place>;
    /// The place as Alice's argument.
    fn addr(place: &Self::Place) -> String;
    /// Bob's ends.
    fn bob(place: &Self::Place) -> (Self::BobTx, Self::BobRx);
    /// In the peer: serves `codec` on Alice's ends at `addr` until Bob has gone or the
    /// process is killed.
    fn serve<C: Codec>(addr: &str, codec: C);
}

/// Alice, in a peer process, for row `L` and codec `codec`.
fn spawn_alice<L: Link>(place: &L::Place, codec: &str) -> Peer {
    Peer::spawn(&format!("{}-{codec}", L::NAME), &[&L::addr(place)])
}

/// Bob's client.
fn bob<L: Link, C: Codec>(place: &L::Place, codec: C) -> Client<L::BobTx, L::BobRx, C> {
    let (tx, rx) = L::bob(place);
    Client::new(tx, rx, codec)
}

fn codec_name<C: Codec>() -> &'static str {
    if std::any::type_name::<C>().ends_with("JsonCodec") {
        "json"
    } else {
        "binary"
    }
}

/// The calls every transport carries: results, the error kinds, a notification, calls in
/// flight waited for in reverse; then Alice ends (or is killed) once Bob is gone.
fn calls_work<L: Link, C: Codec>(test: &str, codec: C, bob_first: bool) {
    let Some(place) = L::place(test) else { return };
    let name = codec_name::<C>();
    let (mut peer, mut c, early) = if bob_first {
        let mut c = bob::<L, C>(&place, codec);
        // Bob first: his first call goes out before Alice exists.
        let early = L::EARLY_CALL.then(|| c.start_call::<_, i64>("add", (2, 5), T).unwrap());
        (spawn_alice::<L>(&place, name), c, early)
    } else {
        let peer = spawn_alice::<L>(&place, name);
        (peer, bob::<L, C>(&place, codec), None)
    };
    let first = match early {
        Some(p) => c.wait(p, T),
        None => c.call::<_, i64>("add", (2, 5), T),
    };
    assert_eq!(first.unwrap(), 7);
    assert_eq!(c.call::<_, i64>("multiply", (8, 5), T).unwrap(), 40);
    failures_come_back(&mut c);
    let r = c.call::<_, i64>("nope", (), T);
    assert!(matches!(r, Err(RpcError::UnknownMethod { .. })), "{r:?}");
    c.notify("incr", 3u64, T).unwrap();
    assert_eq!(c.call::<_, u64>("count", (), T).unwrap(), 3);
    calls_in_flight(&mut c, "add", (0..L::IN_FLIGHT).map(|i| (i, i)), true);
    drop(c);
    if L::SEES_BOB_LEAVE {
        peer.finish(); // Alice's serve ended with Ok when Bob's ends were gone
    }
}

/// A server SIGKILLed in the middle of a call: the call ends with `Disconnected` (well
/// before its timeout), not a hang.
fn killed_server_gives_disconnected<L: Link>(test: &str) {
    let Some(place) = L::place(test) else { return };
    let (mut peer, mut c) = if L::BOB_FIRST {
        // Bob first: what he created goes away with him even though Alice is killed.
        let c = bob::<L, _>(&place, BinaryCodec);
        (spawn_alice::<L>(&place, "binary"), c)
    } else {
        let peer = spawn_alice::<L>(&place, "binary");
        (peer, bob::<L, _>(&place, BinaryCodec))
    };
    let r = support::hang_then_kill_alice(&mut c, &mut peer);
    assert!(matches!(r, Err(RpcError::Disconnected)), "{r:?}");
}

/// The table: for each row, the module of its link and the generic cases it runs.
macro_rules! rpc_rows {
    ($($(#[$m:meta])* $row:ident: $link:ty;)*) => {
        /// Alice's side of every row: role `<row>-<codec>`, argument the place's address.
        #[test]
        fn peer() {
            let Some((role, args)) = peer_role() else { return };
            $(
                $(#[$m])*
                match role.strip_prefix(concat!(stringify!($row), "-")) {
                    Some("json") => return <$link>::serve(&args[0], JsonCodec),
                    Some("binary") => return <$link>::serve(&args[0], BinaryCodec),
                    _ => {}
                }
            )*
            rows::serve_special(&role, &args);
        }

        $(
            $(#[$m])*
            mod $row {
                use super::*;

                /// Alice first, unless the row cannot.
                #[test]
                fn calls_binary() {
                    let bob_first = !<$link>::ALICE_FIRST;
                    calls_work::<$link, _>(concat!(stringify!($row), "::calls_binary"), BinaryCodec, bob_first);
                }

                /// Bob first, unless the row cannot.
                #[test]
                fn calls_json() {
                    let bob_first = <$link>::BOB_FIRST;
                    calls_work::<$link, _>(concat!(stringify!($row), "::calls_json"), JsonCodec, bob_first);
                }

                #[test]
                fn server_killed_mid_call_gives_disconnected() {
                    killed_server_gives_disconnected::<$link>(
                        concat!(stringify!($row), "::server_killed_mid_call_gives_disconnected"),
                    );
                }
            }
        )*
    };
}

rpc_rows! {
    ring: rows::RingLink;
    #[cfg(feature = "pipe")]
    pipe: rows::PipeLink;
    #[cfg(feature = "file")]
    file: rows::FileLink;
    #[cfg(feature = "socket")]
    socket_unix: rows::SocketLink<false>;
    #[cfg(feature = "socket")]
    socket_tcp: rows::SocketLink<true>;
    #[cfg(all(feature = "mq", target_os = "linux"))]
    mq: rows::MqLink;
    #[cfg(feature = "redis")]
    redis: rows::RedisLink;
    service: rows::ServiceLink;
}

/// The rows, and the cases about one transport only.
mod rows {
    use super::*;

    /// Roles that are not `<row>-<codec>`.
    pub fn serve_special(role: &str, args: &[String]) {
        match role {
            "ring-binary-concurrent" => {
                let (tx, rx) = ring_ends(&args[0], ipcring::ring::Side::A);
                alice(BinaryCodec).serve_concurrent(tx, rx, 4).unwrap();
            }
            "pipe-binary-small" => serve_pipes(&args[0], BinaryCodec, true),
            "socket-many-json" => serve_socket_many(&args[0], JsonCodec),
            "socket-many-binary" => serve_socket_many(&args[0], BinaryCodec),
            other => panic!("unknown role {other}"),
        }
    }

    // ---- ring: two shared-memory rings (`ring::duplex`) ----

    use ipcring::ring::{duplex, Consumer, Producer, RingOptions, Side};

    pub struct RingLink;

    fn ring_opts() -> RingOptions {
        RingOptions::new().capacity(1 << 16).open_timeout(T)
    }

    fn ring_ends(name: &str, side: Side) -> (Producer, Consumer) {
        duplex(name, side, &ring_opts()).unwrap()
    }

    impl Link for RingLink {
        const NAME: &'static str = "ring";
        type Place = String;
        type BobTx = Producer;
        type BobRx = Consumer;
        fn place(_: &str) -> Option<String> {
            Some(unique("rpc-ring"))
        }
        fn addr(place: &String) -> String {
            place.clone()
        }
        fn bob(place: &String) -> (Producer, Consumer) {
            ring_ends(place, Side::B)
        }
        fn serve<C: Codec>(addr: &str, codec: C) {
            let (tx, rx) = ring_ends(addr, Side::A);
            alice(codec).serve(tx, rx).unwrap();
        }
    }

    #[test]
    fn ring_thousands_of_calls_in_flight_through_small_rings_do_not_deadlock() {
        let name = unique("rpc-ring-small");
        // Bob creates both rings small (Alice opens them with Bob's geometry): far fewer
        // messages fit than there are calls in flight, so both sides fill up; the client
        // must keep taking replies while it waits for room to send.
        let small = RingOptions::new().capacity(1024).open_timeout(T);
        let (tx, rx) = duplex(&name, Side::B, &small).unwrap();
        let mut c = Client::new(tx, rx, BinaryCodec);
        let mut peer = Peer::spawn("ring-binary", &[&name]);
        let pending: Vec<_> = (0..3000i64)
            .map(|i| c.start_call::<_, i64>("multiply", (i, 2), T).unwrap())
            .collect();
        assert_eq!(c.in_flight(), 3000);
        for (i, p) in pending.into_iter().enumerate() {
            assert_eq!(c.wait(p, T).unwrap(), 2 * i as i64);
        }
        peer.hang_up(c);
    }

    #[test]
    fn ring_client_and_server_can_move_to_other_threads() {
        fn send<T: Send>() {}
        fn send_sync<T: Send + Sync>() {}
        send::<Client<Producer, Consumer, BinaryCodec>>();
        send::<Client<Producer, Consumer, JsonCodec>>();
        send_sync::<ipcring::rpc::Server<BinaryCodec>>();
        send_sync::<ipcring::rpc::Server<JsonCodec>>();
        send::<ipcring::rpc::Pending<i64>>();
    }

    #[test]
    fn ring_serve_concurrent_runs_calls_at_once() {
        let name = unique("rpc-ring-conc");
        let mut c = bob::<RingLink, _>(&name, BinaryCodec);
        let mut peer = Peer::spawn("ring-binary-concurrent", &[&name]);
        // `gate_wait` holds one worker until `gate_open`, sent after it, runs on another.
        let waiting = c.start_call::<_, String>("gate_wait", (), T).unwrap();
        c.call::<_, ()>("gate_open", (), T).unwrap();
        assert_eq!(c.wait(waiting, T).unwrap(), "through the gate");
        calls_in_flight(&mut c, "multiply", (0..200).map(|i| (i, 2)), true);
        peer.hang_up(c);
    }

    // ---- pipe: two named pipes (one FIFO each way) ----

    #[cfg(feature = "pipe")]
    use ipcring::pipe::{PipeOptions, PipeReceiver, PipeSender};

    #[cfg(feature = "pipe")]
    pub struct PipeLink;

    #[cfg(feature = "pipe")]
    fn pipe_opts(small: bool) -> PipeOptions {
        match small {
            // The smallest pipe buffer (one page).
            true => PipeOptions::new().pipe_size(4096),
            false => PipeOptions::new(),
        }
    }

    /// Alice's side: requests come in on `<dir>/req`, replies go out on `<dir>/rep`.
    #[cfg(feature = "pipe")]
    fn serve_pipes<C: Codec>(dir: &str, codec: C, small: bool) {
        let dir = std::path::Path::new(dir);
        let opts = pipe_opts(small);
        let rx = PipeReceiver::open(dir.join("req"), &opts).unwrap();
        let mut tx = PipeSender::open(dir.join("rep"), &opts).unwrap();
        // Connect the reply pipe now rather than at the first reply: a FIFO reader sees its
        // writer's death only once that writer has opened it, so without this a server
        // killed before its first reply would leave Bob waiting for a writer instead of
        // disconnected.
        tx.wait_for_reader(None).unwrap();
        alice(codec).serve(tx, rx).unwrap();
    }

    #[cfg(feature = "pipe")]
    fn bob_pipes(dir: &std::path::Path, small: bool) -> (PipeSender, PipeReceiver) {
        let opts = pipe_opts(small);
        let rx = PipeReceiver::open(dir.join("rep"), &opts).unwrap();
        let tx = PipeSender::open(dir.join("req"), &opts).unwrap();
        (tx, rx)
    }

    #[cfg(feature = "pipe")]
    impl Link for PipeLink {
        const NAME: &'static str = "pipe";
        // A FIFO's writer waits for a reader.
        const EARLY_CALL: bool = false;
        type BobTx = PipeSender;
        type BobRx = PipeReceiver;
        crate::dir_place!();
        fn bob(place: &tempfile::TempDir) -> (PipeSender, PipeReceiver) {
            bob_pipes(place.path(), false)
        }
        fn serve<C: Codec>(addr: &str, codec: C) {
            serve_pipes(addr, codec, false);
        }
    }

    #[cfg(feature = "pipe")]
    #[test]
    fn pipe_thousands_of_calls_in_flight_through_small_pipes_do_not_deadlock() {
        let dir = tempfile::tempdir().unwrap();
        let mut peer = Peer::spawn("pipe-binary-small", &[dir.path().to_str().unwrap()]);
        // The smallest pipe buffer (one page) both ways: requests and replies fill their
        // pipes, so both sides wait for room unless the client takes replies while it sends.
        let (tx, rx) = bob_pipes(dir.path(), true);
        let mut c = Client::new(tx, rx, BinaryCodec);
        calls_in_flight(&mut c, "multiply", (0..5000).map(|i| (i, 3)), false);
        peer.hang_up(c);
    }

    #[cfg(not(feature = "pipe"))]
    fn serve_pipes<C: Codec>(_: &str, _: C, _: bool) {
        unreachable!("pipe is not built")
    }

    // ---- file: two shared append-only logs (one each way) ----

    #[cfg(feature = "file")]
    use ipcring::file::{LogOptions, LogReader, LogWriter};

    #[cfg(feature = "file")]
    pub struct FileLink;

    #[cfg(feature = "file")]
    impl Link for FileLink {
        const NAME: &'static str = "file";
        type BobTx = LogWriter;
        type BobRx = LogReader;
        crate::dir_place!();
        fn bob(place: &tempfile::TempDir) -> (LogWriter, LogReader) {
            let opts = LogOptions::new();
            let rx = LogReader::open(place.path().join("rep.log"), &opts).unwrap();
            let tx = LogWriter::open(place.path().join("req.log"), &opts).unwrap();
            (tx, rx)
        }
        /// Requests come in on `<dir>/req.log`, replies go out on `<dir>/rep.log`.
        fn serve<C: Codec>(addr: &str, codec: C) {
            let dir = std::path::Path::new(addr);
            let opts = LogOptions::new();
            let rx = LogReader::open(dir.join("req.log"), &opts).unwrap();
            let tx = LogWriter::open(dir.join("rep.log"), &opts).unwrap();
            alice(codec).serve(tx, rx).unwrap();
        }
    }

    // ---- socket: a Unix socket with the article's authkey; Alice serves each
    // connection on its own thread ----

    #[cfg(feature = "socket")]
    use ipcring::socket::{Connection, Listener, SocketOptions};
    #[cfg(feature = "socket")]
    use support::setup::socket_opts;

    /// A socket row: Unix (`TCP = false`, a path) or TCP (loopback).
    #[cfg(feature = "socket")]
    pub struct SocketLink<const TCP: bool>;

    /// Connections Alice accepts in the many-Bobs case (the wrong-key one included).
    #[cfg(feature = "socket")]
    const CONNECTIONS: usize = 4;

    /// A socket address; a Unix socket's file is removed on drop.
    #[cfg(feature = "socket")]
    pub struct SocketPlace(String);

    #[cfg(feature = "socket")]
    impl Drop for SocketPlace {
        fn drop(&mut self) {
            if self.0.starts_with('/') {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[cfg(feature = "socket")]
    impl<const TCP: bool> Link for SocketLink<TCP> {
        const NAME: &'static str = if TCP { "socket_tcp" } else { "socket_unix" };
        // Bob's connect waits for Alice's listener: he cannot come first on one thread.
        const BOB_FIRST: bool = false;
        type Place = SocketPlace;
        type BobTx = ipcring::socket::SocketSender;
        type BobRx = ipcring::socket::SocketReceiver;
        fn place(_: &str) -> Option<SocketPlace> {
            Some(SocketPlace(if TCP {
                // A loopback port free now (Alice binds it a moment later).
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                format!("tcp:{}", l.local_addr().unwrap())
            } else {
                unique_path("rpc-socket").to_str().unwrap().to_owned()
            }))
        }
        fn addr(place: &SocketPlace) -> String {
            place.0.clone()
        }
        fn bob(place: &SocketPlace) -> (Self::BobTx, Self::BobRx) {
            Connection::connect(place.0.as_str(), &socket_opts())
                .unwrap()
                .into_split()
        }
        /// Accepts one connection and serves it.
        fn serve<C: Codec>(addr: &str, codec: C) {
            let listener = Listener::bind(addr, &socket_opts()).unwrap();
            let (tx, rx) = listener.accept().unwrap().into_split();
            alice(codec).serve(tx, rx).unwrap();
        }
    }

    /// Accepts `CONNECTIONS` connections, serves each on its own thread, and returns once
    /// they are all done.
    #[cfg(feature = "socket")]
    fn serve_socket_many<C: Codec>(addr: &str, codec: C) {
        let listener = Listener::bind(addr, &socket_opts()).unwrap();
        let accepted = std::iter::repeat_with(|| listener.accept().map(Connection::into_split))
            .take(CONNECTIONS);
        alice(codec).serve_incoming(accepted).unwrap();
    }

    #[cfg(not(feature = "socket"))]
    fn serve_socket_many<C: Codec>(_: &str, _: C) {
        unreachable!("socket is not built")
    }

    #[cfg(feature = "socket")]
    fn many_bobs<C: Codec>(codec: C) {
        let place = SocketLink::<false>::place("").unwrap();
        let addr = SocketLink::<false>::addr(&place);
        let mut peer = Peer::spawn(&format!("socket-many-{}", codec_name::<C>()), &[&addr]);

        // Eve, with the wrong key, is refused; Alice goes on serving.
        let eve = Connection::connect(
            addr.as_str(),
            &SocketOptions::new().authkey(b"eve").connect_timeout(T),
        );
        assert!(matches!(eve, Err(ipcring::Error::Auth(_))), "{eve:?}");

        let bobs = (1..CONNECTIONS)
            .map(|_| bob::<SocketLink<false>, C>(&place, codec.clone()))
            .collect();
        // One Alice, one counter, three connections served at once.
        served_at_once(bobs, |c, k| {
            assert_eq!(c.call::<_, i64>("add", (2, 5), T).unwrap(), 7);
            failures_come_back(c);
            calls_in_flight(c, "multiply", (0..50).map(|i| (i, k)), true);
        });
        peer.finish(); // serve_incoming returned once every connection was done
    }

    #[cfg(feature = "socket")]
    #[test]
    fn socket_unix_json_many_bobs() {
        many_bobs(JsonCodec);
    }

    #[cfg(feature = "socket")]
    #[test]
    fn socket_unix_binary_many_bobs() {
        many_bobs(BinaryCodec);
    }

    // ---- mq: two POSIX message queues (one each way) ----

    #[cfg(all(feature = "mq", target_os = "linux"))]
    use ipcring::mq::MessageQueue;
    #[cfg(all(feature = "mq", target_os = "linux"))]
    use support::setup::{mq_opts, Queues};

    #[cfg(all(feature = "mq", target_os = "linux"))]
    pub struct MqLink;

    #[cfg(all(feature = "mq", target_os = "linux"))]
    impl Link for MqLink {
        const NAME: &'static str = "mq";
        // A queue has no notion of a departed peer: Alice serves until killed.
        const SEES_BOB_LEAVE: bool = false;
        // Far more calls in flight than the 4-message queues hold: the client takes
        // replies while it waits for room, so neither side waits for ever.
        const IN_FLIGHT: i64 = 500;
        type Place = Queues;
        type BobTx = MessageQueue;
        type BobRx = MessageQueue;
        /// Requests on `<base>.req`, replies on `<base>.rep`; both unlinked at the end
        /// (Alice is killed, so her handles never unlink the queues she created).
        fn place(_: &str) -> Option<Queues> {
            let base = unique("rpc-mq");
            Some(Queues(vec![format!("{base}.req"), format!("{base}.rep")]))
        }
        fn addr(place: &Queues) -> String {
            place.0.join(" ")
        }
        fn bob(place: &Queues) -> (MessageQueue, MessageQueue) {
            let tx = MessageQueue::open_or_create(&place.0[0], &mq_opts()).unwrap();
            let rx = MessageQueue::open_or_create(&place.0[1], &mq_opts()).unwrap();
            (tx, rx)
        }
        fn serve<C: Codec>(addr: &str, codec: C) {
            let (req, rep) = addr.split_once(' ').unwrap();
            let rx = MessageQueue::open_or_create(req, &mq_opts()).unwrap();
            let tx = MessageQueue::open_or_create(rep, &mq_opts()).unwrap();
            alice(codec).serve(tx, rx).unwrap();
        }
    }

    // ---- redis: two Redis streams (one each way) ----

    #[cfg(feature = "redis")]
    use ipcring::redis::{StreamConsumer, StreamProducer};
    #[cfg(feature = "redis")]
    use support::setup::{redis_key, stream_opts as redis_opts};

    #[cfg(feature = "redis")]
    pub struct RedisLink;

    /// One side's ends: a producer on `<base>:<out>`, a consumer (group `who`) on
    /// `<base>:<in>`.
    #[cfg(feature = "redis")]
    fn redis_ends(url: &str, base: &str, who: &str) -> (StreamProducer, StreamConsumer) {
        let (out, inn) = match who {
            "alice" => ("rep", "req"),
            _ => ("req", "rep"),
        };
        let tx = StreamProducer::connect(url, &format!("{base}:{out}"), &redis_opts()).unwrap();
        let rx = StreamConsumer::connect(
            url,
            &format!("{base}:{inn}"),
            who,
            &format!("{who}-1"),
            &redis_opts(),
        )
        .unwrap();
        (tx, rx)
    }

    /// The server's URL and a unique key prefix.
    #[cfg(feature = "redis")]
    pub struct RedisPlace {
        url: String,
        base: String,
    }

    #[cfg(feature = "redis")]
    impl Link for RedisLink {
        const NAME: &'static str = "redis";
        // Bob first: the streams keep his requests until Alice reads them (Alice first,
        // her group might be made after his first request, which she would never see).
        const ALICE_FIRST: bool = false;
        // Redis has no notion of a departed peer: Alice serves until killed.
        const SEES_BOB_LEAVE: bool = false;
        const IN_FLIGHT: i64 = 20;
        type Place = RedisPlace;
        type BobTx = StreamProducer;
        type BobRx = StreamConsumer;
        fn place(test: &str) -> Option<RedisPlace> {
            let url = support::redis_url(test)?;
            let base = redis_key("rpc");
            Some(RedisPlace { url, base })
        }
        fn addr(place: &RedisPlace) -> String {
            format!("{} {}", place.url, place.base)
        }
        fn bob(place: &RedisPlace) -> (StreamProducer, StreamConsumer) {
            redis_ends(&place.url, &place.base, "bob")
        }
        fn serve<C: Codec>(addr: &str, codec: C) {
            let (url, base) = addr.split_once(' ').unwrap();
            let (tx, rx) = redis_ends(url, base, "alice");
            alice(codec).serve(tx, rx).unwrap();
        }
    }

    // ---- service: the many-clients service (a Client's requests and answers) ----

    use ipcring::service::{self, Answers, Requests, ServiceOptions};

    pub struct ServiceLink;

    /// The service's name; Alice is killed at the end, so the name is removed here.
    pub struct ServiceName(String);

    impl Drop for ServiceName {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(format!("/dev/shm{}", self.0));
        }
    }

    fn service_opts() -> ServiceOptions {
        ServiceOptions::new().max_slots(8).slots(8).open_timeout(T)
    }

    impl Link for ServiceLink {
        const NAME: &'static str = "service";
        // A client's connect needs the listener there.
        const BOB_FIRST: bool = false;
        // Alice serves any number of clients: she never ends on her own.
        const SEES_BOB_LEAVE: bool = false;
        // A client has at most `slots` requests in flight.
        const IN_FLIGHT: i64 = 7;
        type Place = ServiceName;
        type BobTx = Requests;
        type BobRx = Answers;
        fn place(_: &str) -> Option<ServiceName> {
            Some(ServiceName(unique("rpc-svc")))
        }
        fn addr(place: &ServiceName) -> String {
            place.0.clone()
        }
        fn bob(place: &ServiceName) -> (Requests, Answers) {
            service::split(service::Client::connect(&place.0, &service_opts()).unwrap())
        }
        fn serve<C: Codec>(addr: &str, codec: C) {
            let mut l = service::Listener::bind(addr, &service_opts()).unwrap();
            alice(codec).serve_service(&mut l).unwrap();
        }
    }
}
