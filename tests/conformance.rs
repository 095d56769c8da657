//! The transport contract, run for every transport: the cases are written once in
//! `tests/support/conformance.rs`; here each transport is a [`Kit`] (how to open its two
//! ends) and a row of the table at the bottom (which groups of cases it runs). Cases
//! between processes re-execute this binary as the peer (`peer`, roles `conf-*-<row>`).
//!
//! The Redis row needs `IPCRING_TEST_REDIS_URL` (`.ci/steps/71-rpc-redis.sh` starts a
//! throwaway server and sets it); without it each of its tests says loudly that it skipped.

#[path = "support/mod.rs"]
mod support;

use support::conformance::{serve_peer, At, Kit, LONG};
use support::unique;
#[cfg(feature = "socket")]
use support::unique_path;

#[cfg(feature = "async")]
use support::conformance::AsyncKit;

// ---- ring: one shared-memory ring ----

use ipcring::ring::{Consumer, Producer, RingOptions};

struct RingKit;

fn ring_opts() -> RingOptions {
    // Small: a few hundred test messages fill it.
    RingOptions::new().capacity(4096).open_timeout(LONG)
}

/// A ring's name; the ring's segment goes with its last handle.
struct RingPlace(String);

impl Kit for RingKit {
    const NAME: &'static str = "ring";
    type Place = RingPlace;
    type Tx = Producer;
    type Rx = Consumer;
    fn place(_: &str) -> Option<RingPlace> {
        Some(RingPlace(unique("conf-ring")))
    }
    fn addr(place: &RingPlace) -> String {
        place.0.clone()
    }
    fn tx(at: At<'_, RingPlace>) -> Producer {
        Producer::open_or_create(&addr_of::<RingKit>(at), &ring_opts()).unwrap()
    }
    fn rx(at: At<'_, RingPlace>) -> Consumer {
        Consumer::open_or_create(&addr_of::<RingKit>(at), &ring_opts()).unwrap()
    }
}

#[cfg(feature = "async")]
impl AsyncKit for RingKit {
    type ATx = ipcring::ring::AsyncProducer;
    type ARx = ipcring::ring::AsyncConsumer;
    fn atx(tx: Producer) -> Self::ATx {
        tx.into()
    }
    fn arx(rx: Consumer) -> Self::ARx {
        rx.into()
    }
}

/// The address of an end: the test's place, or the peer's argument.
fn addr_of<K: Kit>(at: At<'_, K::Place>) -> String {
    match at {
        At::Here(p) => K::addr(p),
        At::There(a) => a.to_owned(),
    }
}

// ---- pipe: one named pipe ----

#[cfg(feature = "pipe")]
mod pipe_kit {
    use super::*;
    use ipcring::pipe::{PipeOptions, PipeReceiver, PipeSender};

    pub struct PipeKit;

    fn path(at: At<'_, tempfile::TempDir>) -> std::path::PathBuf {
        std::path::PathBuf::from(addr_of::<PipeKit>(at)).join("fifo")
    }

    impl Kit for PipeKit {
        const NAME: &'static str = "pipe";
        type Tx = PipeSender;
        type Rx = PipeReceiver;
        crate::dir_place!();
        fn tx(at: At<'_, tempfile::TempDir>) -> PipeSender {
            PipeSender::open(path(at), &PipeOptions::new()).unwrap()
        }
        fn rx(at: At<'_, tempfile::TempDir>) -> PipeReceiver {
            PipeReceiver::open(path(at), &PipeOptions::new()).unwrap()
        }
    }

    #[cfg(feature = "async")]
    impl AsyncKit for PipeKit {
        type ATx = ipcring::pipe::AsyncPipeSender;
        type ARx = ipcring::pipe::AsyncPipeReceiver;
        fn atx(tx: PipeSender) -> Self::ATx {
            Self::ATx::from_blocking(tx)
        }
        fn arx(rx: PipeReceiver) -> Self::ARx {
            Self::ARx::from_blocking(rx)
        }
    }
}

// ---- file: one shared append-only log ----

#[cfg(feature = "file")]
mod file_kit {
    use super::*;
    use ipcring::file::{LogOptions, LogReader, LogWriter};

    pub struct FileKit;

    fn path(at: At<'_, tempfile::TempDir>) -> std::path::PathBuf {
        std::path::PathBuf::from(addr_of::<FileKit>(at)).join("log")
    }

    impl Kit for FileKit {
        const NAME: &'static str = "file";
        // Not `bounded` (the table): a log grows as long as the disk lets it.
        type Tx = LogWriter;
        type Rx = LogReader;
        crate::dir_place!();
        fn tx(at: At<'_, tempfile::TempDir>) -> LogWriter {
            LogWriter::open(path(at), &LogOptions::new()).unwrap()
        }
        fn rx(at: At<'_, tempfile::TempDir>) -> LogReader {
            LogReader::open(path(at), &LogOptions::new()).unwrap()
        }
    }

    #[cfg(all(feature = "async", target_os = "linux"))]
    impl AsyncKit for FileKit {
        type ATx = ipcring::file::AsyncLogWriter;
        type ARx = ipcring::file::AsyncLogReader;
        fn atx(tx: LogWriter) -> Self::ATx {
            Self::ATx::from_blocking(tx)
        }
        fn arx(rx: LogReader) -> Self::ARx {
            Self::ARx::from_blocking(rx).unwrap()
        }
    }
}

// ---- socket: a Unix or TCP socket with the article's authkey ----

#[cfg(feature = "socket")]
mod socket_kit {
    use super::*;
    use ipcring::socket::{Connection, Listener};
    use support::setup::socket_opts as opts;

    /// Unix (`TCP = false`, a path) or TCP (loopback, a port of the kernel's choosing).
    pub struct SocketKit<const TCP: bool>;

    /// The listener the test's end is accepted from (its drop removes a Unix socket's file),
    /// and its address.
    pub struct SocketPlace(Listener, String);

    /// The test's end is accepted; the other (here or in the peer) connects.
    fn end<const TCP: bool>(at: At<'_, SocketPlace>) -> Connection {
        match at {
            At::Here(p) => p.0.accept().unwrap(),
            At::There(a) => Connection::connect(a, &opts()).unwrap(),
        }
    }

    impl<const TCP: bool> Kit for SocketKit<TCP> {
        const NAME: &'static str = if TCP { "socket_tcp" } else { "socket_unix" };
        // Not `bounded` (the table): a sender timed out inside a frame leaves the stream
        // broken by design.
        type Place = SocketPlace;
        type Tx = Connection;
        type Rx = Connection;
        fn place(_: &str) -> Option<SocketPlace> {
            let addr = if TCP {
                "tcp:127.0.0.1:0".to_owned()
            } else {
                unique_path("conf").to_str().unwrap().to_owned()
            };
            let l = Listener::bind(addr.as_str(), &opts()).unwrap();
            let bound = match l.local_addr() {
                ipcring::socket::Address::Tcp(a) => format!("tcp:{a}"),
                _ => addr,
            };
            Some(SocketPlace(l, bound))
        }
        fn addr(place: &SocketPlace) -> String {
            place.1.clone()
        }
        fn pair(place: &SocketPlace) -> (Connection, Connection) {
            let addr = place.1.clone();
            let connecting = std::thread::spawn(move || end::<TCP>(At::There(&addr)));
            let rx = end::<TCP>(At::Here(place));
            (connecting.join().unwrap(), rx)
        }
        fn tx(at: At<'_, SocketPlace>) -> Connection {
            end::<TCP>(at)
        }
        fn rx(at: At<'_, SocketPlace>) -> Connection {
            end::<TCP>(at)
        }
    }

    #[cfg(feature = "async")]
    impl<const TCP: bool> AsyncKit for SocketKit<TCP> {
        type ATx = ipcring::socket::AsyncConnection;
        type ARx = ipcring::socket::AsyncConnection;
        fn atx(tx: Connection) -> Self::ATx {
            Self::ATx::from_blocking(tx, &opts()).unwrap()
        }
        fn arx(rx: Connection) -> Self::ARx {
            Self::ARx::from_blocking(rx, &opts()).unwrap()
        }
    }
}

// ---- mq: one POSIX message queue ----

#[cfg(all(feature = "mq", target_os = "linux"))]
mod mq_kit {
    use super::*;
    use ipcring::mq::MessageQueue;
    use support::setup::{mq_opts as opts, Queues};

    pub struct MqKit;

    impl Kit for MqKit {
        const NAME: &'static str = "mq";
        // The queue's name, unlinked at the end. Each end opens the queue or creates it (in
        // the peer, it may come first): a third handle would be a peer that never leaves.
        type Place = Queues;
        type Tx = MessageQueue;
        type Rx = MessageQueue;
        fn place(_: &str) -> Option<Queues> {
            Some(Queues(vec![unique("conf-mq")]))
        }
        fn addr(place: &Queues) -> String {
            place.0[0].clone()
        }
        fn tx(at: At<'_, Queues>) -> MessageQueue {
            MessageQueue::open_or_create(&addr_of::<MqKit>(at), &opts()).unwrap()
        }
        fn rx(at: At<'_, Queues>) -> MessageQueue {
            MessageQueue::open_or_create(&addr_of::<MqKit>(at), &opts()).unwrap()
        }
    }

    #[cfg(feature = "async")]
    impl AsyncKit for MqKit {
        type ATx = ipcring::mq::AsyncMessageQueue;
        type ARx = ipcring::mq::AsyncMessageQueue;
        fn atx(tx: MessageQueue) -> Self::ATx {
            Self::ATx::from_blocking(tx).unwrap()
        }
        fn arx(rx: MessageQueue) -> Self::ARx {
            Self::ARx::from_blocking(rx).unwrap()
        }
    }
}

// ---- redis: one Redis stream ----

#[cfg(feature = "redis")]
mod redis_kit {
    use super::*;
    use ipcring::redis::{StreamConsumer, StreamProducer};
    use support::setup::{redis_key, stream_opts as opts};

    pub struct RedisKit;

    /// The server's URL and a unique stream key, as one address: `<url> <key>`.
    pub struct RedisPlace(String);

    fn split(at: At<'_, RedisPlace>) -> (String, String) {
        let a = addr_of::<RedisKit>(at);
        let (url, key) = a.split_once(' ').unwrap();
        (url.to_owned(), key.to_owned())
    }

    impl Kit for RedisKit {
        const NAME: &'static str = "redis";
        // Not `bounded` (the table): a stream keeps what it is given (up to its memory).
        // A consumer group starts at the stream's end: it must exist before the sends.
        const RX_FIRST: bool = true;
        type Place = RedisPlace;
        type Tx = StreamProducer;
        type Rx = StreamConsumer;
        fn place(test: &str) -> Option<RedisPlace> {
            let url = support::redis_url(test)?;
            let key = redis_key("conf");
            Some(RedisPlace(format!("{url} {key}")))
        }
        fn addr(place: &RedisPlace) -> String {
            place.0.clone()
        }
        fn tx(at: At<'_, RedisPlace>) -> StreamProducer {
            let (url, key) = split(at);
            StreamProducer::connect(&url, &key, &opts()).unwrap()
        }
        fn rx(at: At<'_, RedisPlace>) -> StreamConsumer {
            let (url, key) = split(at);
            StreamConsumer::connect(&url, &key, "conf", "conf-1", &opts()).unwrap()
        }
    }

    #[cfg(feature = "async")]
    impl AsyncKit for RedisKit {
        type ATx = ipcring::redis::AsyncStreamProducer;
        type ARx = ipcring::redis::AsyncStreamConsumer;
        fn atx(tx: StreamProducer) -> Self::ATx {
            Self::ATx::new(tx)
        }
        fn arx(rx: StreamConsumer) -> Self::ARx {
            Self::ARx::new(rx)
        }
    }
}

// ---- service: a client's requests and the answers of an echo server (a peer) ----

mod service_kit {
    use super::*;
    use ipcring::service::{self, Answers, Client, Listener, Requests, ServiceOptions};
    use support::Peer;

    pub struct ServiceKit;

    fn opts() -> ServiceOptions {
        ServiceOptions::new().open_timeout(LONG)
    }

    /// The service's name and its echo server; the server is killed at the end, so the
    /// name is removed here.
    pub struct ServicePlace(String, Peer);

    impl Drop for ServicePlace {
        fn drop(&mut self) {
            self.1.kill();
            let _ = std::fs::remove_file(format!("/dev/shm{}", self.0));
        }
    }

    /// The echo server's role: answers each request with its own bytes.
    pub fn serve_echo(name: &str) {
        let mut l = Listener::bind(name, &opts()).unwrap();
        println!("\nREADY");
        loop {
            let req = l.recv().unwrap();
            let echo = req.to_vec();
            req.respond_with(&echo).unwrap();
        }
    }

    impl Kit for ServiceKit {
        const NAME: &'static str = "service";
        // Not `bounded` (the table): a send beyond the client's slots is a clear error,
        // not a wait.
        // Answers end with their requests: there is no sender to see leave.
        const SEES_DEPARTURE: bool = false;
        type Place = ServicePlace;
        type Tx = Requests;
        type Rx = Answers;
        fn place(_: &str) -> Option<ServicePlace> {
            let name = unique("conf-svc");
            let echo = Peer::spawn_until("conf-service-echo", &[&name], "READY");
            Some(ServicePlace(name, echo))
        }
        fn addr(place: &ServicePlace) -> String {
            place.0.clone()
        }
        fn pair(place: &ServicePlace) -> (Requests, Answers) {
            service::split(Client::connect(&place.0, &opts()).unwrap())
        }
        fn tx(_: At<'_, ServicePlace>) -> Requests {
            unreachable!("a service client's two halves are made together (pair)")
        }
        fn rx(_: At<'_, ServicePlace>) -> Answers {
            unreachable!("a service client's two halves are made together (pair)")
        }
    }
}

crate::peer_entry!(roles);

/// Every peer role of the table.
fn roles(role: &str, args: Vec<String>) {
    if role == "conf-service-echo" {
        service_kit::serve_echo(&args[0]);
    }
    let served = serve_peer::<RingKit>(role, &args);
    #[cfg(feature = "pipe")]
    let served = served || serve_peer::<pipe_kit::PipeKit>(role, &args);
    #[cfg(feature = "file")]
    let served = served || serve_peer::<file_kit::FileKit>(role, &args);
    #[cfg(feature = "socket")]
    let served = served
        || serve_peer::<socket_kit::SocketKit<false>>(role, &args)
        || serve_peer::<socket_kit::SocketKit<true>>(role, &args);
    #[cfg(all(feature = "mq", target_os = "linux"))]
    let served = served || serve_peer::<mq_kit::MqKit>(role, &args);
    #[cfg(feature = "redis")]
    let served = served || serve_peer::<redis_kit::RedisKit>(role, &args);
    assert!(served, "unknown role {role}");
}

/// One row: a module `$row` running the case groups listed for `$kit`.
macro_rules! row {
    ($(#[$m:meta])* $row:ident: $kit:ty => [$($group:ident),*]) => {
        $(#[$m])*
        mod $row {
            use super::*;
            $( crate::conformance_cases!($group, $kit, $row); )*
        }
    };
}

// The table: every transport and the groups of cases it runs.
row!(ring: RingKit => [blocking, bounded, processes]);
row!(#[cfg(feature = "async")] ring_async: RingKit => [async]);
row!(#[cfg(feature = "pipe")] pipe: pipe_kit::PipeKit => [blocking, bounded, processes]);
row!(#[cfg(all(feature = "pipe", feature = "async"))] pipe_async: pipe_kit::PipeKit => [async]);
row!(#[cfg(feature = "file")] file: file_kit::FileKit => [blocking, processes]);
row!(#[cfg(all(feature = "file", feature = "async", target_os = "linux"))] file_async: file_kit::FileKit => [async]);
row!(#[cfg(feature = "socket")] socket_unix: socket_kit::SocketKit<false> => [blocking, processes]);
row!(#[cfg(all(feature = "socket", feature = "async"))] socket_unix_async: socket_kit::SocketKit<false> => [async]);
row!(#[cfg(feature = "socket")] socket_tcp: socket_kit::SocketKit<true> => [blocking, processes]);
row!(#[cfg(all(feature = "socket", feature = "async"))] socket_tcp_async: socket_kit::SocketKit<true> => [async]);
row!(#[cfg(all(feature = "mq", target_os = "linux"))] mq: mq_kit::MqKit => [blocking, bounded, processes]);
row!(#[cfg(all(feature = "mq", feature = "async", target_os = "linux"))] mq_async: mq_kit::MqKit => [async]);
row!(#[cfg(feature = "redis")] redis: redis_kit::RedisKit => [blocking, processes]);
row!(#[cfg(all(feature = "redis", feature = "async"))] redis_async: redis_kit::RedisKit => [async]);
row!(service: service_kit::ServiceKit => [blocking]);
