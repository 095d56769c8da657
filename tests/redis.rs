//! The Redis transports against a real redis-server.
//!
//! Needs `IPCRING_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:46379`); without it every test
//! prints a SKIPPED line saying why and returns. `.ci/steps/70-redis.sh` starts a server and
//! sets it. The server-restart test also needs `IPCRING_TEST_REDIS_RESTART`, a shell command
//! that crashes and restarts that server (`scripts/redis-test-server.sh restart DIR PORT`).
//!
//! Two-process tests re-execute this binary in a peer role (`peer_role`, through
//! `support::Peer`).

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use ipcring::redis::{
    AckMode, Publisher, RedisOptions, StreamConsumer, StreamOptions, StreamProducer, Subscriber,
};
use ipcring::transport::Deadline;
use ipcring::{Error, Receiver, Sender};
use support::setup::{redis_key, redis_opts};
use support::{loud, Peer};

const RESTART_VAR: &str = "IPCRING_TEST_REDIS_RESTART";

/// Tests take it shared; the server-restart test takes it exclusively, so no other test
/// sees the server vanish under it.
static SERVER: RwLock<()> = RwLock::new(());

/// For the test `test`: the server's URL, a key unique to this call (after `tag`), and
/// [`SERVER`] held shared; `None` (after saying loudly that the test skipped) without a
/// server.
fn shared_server(
    test: &str,
    tag: &str,
) -> Option<(String, String, std::sync::RwLockReadGuard<'static, ()>)> {
    let url = support::redis_url(test)?;
    Some((url, redis_key(tag), SERVER.read().unwrap()))
}

/// In a test against the Redis server: `(url, key, guard)` from [`shared_server`] for the
/// enclosing test; without a server, the test returns (skipped, as it said).
macro_rules! server_or_skip {
    ($tag:literal) => {{
        match shared_server($crate::this_test!(), $tag) {
            Some(server) => server,
            None => return,
        }
    }};
}

/// [`fast`] with a short liveness TTL (500 ms), so that a dead peer shows within
/// `disconnect_bound` = 1.125 s.
fn live() -> RedisOptions {
    redis_opts().liveness_ttl(Some(Duration::from_millis(500)))
}

fn stream_opts() -> StreamOptions {
    StreamOptions::new()
        .redis(redis_opts())
        .block(Duration::from_millis(200))
}

/// The `data` field of every entry of stream `key`, oldest first (read from the outside).
fn stream_data(url: &str, key: &str) -> Vec<String> {
    let v: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query(&mut side(url))
        .unwrap();
    v.into_iter().map(|(_, f)| f[0].1.clone()).collect()
}

/// Sends entries `sent` (each its number) on `tx`, never more than `window` in flight; then
/// a flush leaves none in flight, and the stream `key` on the server `url` holds entries 0
/// to `sent.end - 1`, once each, in order.
fn sent_in_order(
    tx: &mut StreamProducer,
    (url, key): (&str, &str),
    sent: std::ops::Range<usize>,
    window: usize,
) {
    let end = sent.end;
    for i in sent {
        tx.send(format!("{i}").as_bytes()).unwrap();
        assert!(tx.in_flight() <= window, "{} in flight", tx.in_flight());
    }
    tx.flush().unwrap();
    assert_eq!(tx.in_flight(), 0);
    let want: Vec<String> = (0..end).map(|i| i.to_string()).collect();
    assert_eq!(stream_data(url, key), want, "every entry, once, in order");
}

/// Adds an entry with field `data` to stream `key` from the outside (as another writer).
fn xadd(url: &str, key: &str, data: impl redis::ToRedisArgs) {
    let _: String = redis::cmd("XADD")
        .arg(key)
        .arg("*")
        .arg("data")
        .arg(data)
        .query(&mut side(url))
        .unwrap();
}

/// A plain connection for checking the server's state from the outside.
fn side(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

/// Peer `role` on the server `url`, with `args`, its stdout piped.
fn peer(role: &str, url: &str, args: &[&str]) -> Peer {
    let b = Peer::builder(role)
        .entry("peer_role")
        .stdout_piped()
        .arg(url);
    args.iter().fold(b, |b, a| b.arg(a)).spawn()
}

/// The peer side of the two-process tests (args: the server's URL, then the role's). A
/// no-op unless run by [`peer`].
#[test]
fn peer_role() {
    let Some((role, mut args)) = support::peer_role() else {
        return;
    };
    let url = args.remove(0);
    match role.as_str() {
        // echo N messages from channel args[0] to channel args[1]
        "pubsub-echo" => {
            let n: usize = args[2].parse().unwrap();
            let mut rx = Subscriber::connect(&url, &args[0], &redis_opts()).unwrap();
            let mut tx = Publisher::connect(&url, &args[1], &redis_opts()).unwrap();
            println!("PEER:ready");
            for _ in 0..n {
                let m = rx.recv_timeout(WAIT).unwrap();
                tx.send(&m).unwrap();
            }
            // Sends are pipelined and `exit` below runs no destructor.
            tx.flush().unwrap();
        }
        // echo N messages from stream args[0] to stream args[1]
        "stream-echo" => {
            let n: usize = args[2].parse().unwrap();
            let mut rx =
                StreamConsumer::connect(&url, &args[0], "echo", "echo-1", &stream_opts()).unwrap();
            let mut tx = StreamProducer::connect(&url, &args[1], &stream_opts()).unwrap();
            for _ in 0..n {
                let m = rx.recv_timeout(WAIT).unwrap();
                tx.send(&m).unwrap();
            }
            tx.flush().unwrap();
            rx.commit().unwrap();
        }
        // consumer args[2] of group args[1] on stream args[0]: take N messages without
        // acknowledging them, then wait to be killed
        "stream-hold" => {
            let n: usize = args[3].parse().unwrap();
            let opts = stream_opts().ack_mode(AckMode::Manual).claim_idle(None);
            let mut rx =
                StreamConsumer::connect(&url, &args[0], &args[1], &args[2], &opts).unwrap();
            for _ in 0..n {
                let e = rx.recv_entry(Deadline::after(WAIT)).unwrap();
                println!("PEER:got {}", String::from_utf8_lossy(&e.data));
            }
            println!("PEER:holding");
            support::hang()
        }
        // add messages 0..N to stream args[0], a few ms apart
        "stream-produce" => {
            let n: usize = args[1].parse().unwrap();
            let mut tx = StreamProducer::connect(&url, &args[0], &stream_opts()).unwrap();
            for i in 0..n {
                tx.send(format!("{i}").as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(3));
            }
            tx.flush().unwrap();
            println!("PEER:done");
        }
        // publish N messages on channel args[0] (liveness TTL 500 ms), then wait to be killed
        "publish-then-hang" => {
            let n: usize = args[1].parse().unwrap();
            let mut tx = Publisher::connect(&url, &args[0], &live()).unwrap();
            for i in 0..n {
                assert_eq!(tx.publish(format!("{i}").as_bytes()).unwrap(), 1);
            }
            println!("PEER:sent");
            support::hang()
        }
        // add N entries to stream args[0] (liveness TTL 500 ms), then wait to be killed
        "add-then-hang" => {
            let n: usize = args[1].parse().unwrap();
            let opts = stream_opts().redis(live());
            let mut tx = StreamProducer::connect(&url, &args[0], &opts).unwrap();
            send_numbered(&mut tx, 0..n);
            // Pipelined: only a flush says every entry is in the server (a SIGKILL may
            // otherwise take what the server had not read yet).
            tx.flush().unwrap();
            println!("PEER:sent");
            support::hang()
        }
        other => panic!("unknown peer role {other}"),
    }
    std::process::exit(0);
}

/// How long a receive that must get a message may wait (a failure guard).
const WAIT: Duration = Duration::from_secs(10);

/// Sends messages "i" for each `i` of `numbers`, in order.
fn send_numbered(tx: &mut impl Sender, numbers: std::ops::Range<usize>) {
    for i in numbers {
        tx.send(format!("{i}").as_bytes()).unwrap();
    }
}

/// Receives messages "i" for each `i` of `numbers`, in order, each within [`WAIT`].
fn recv_numbered(rx: &mut impl Receiver, numbers: std::ops::Range<usize>) {
    for i in numbers {
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), format!("{i}").as_bytes());
    }
}

/// How many messages the round-trip tests send each way.
const ROUND_TRIP: usize = 200;

#[test]
fn pubsub_round_trip_in_order_between_processes() {
    let (url, fwd, _g) = server_or_skip!("fwd");
    let back = redis_key("back");
    let mut rx = Subscriber::connect(&url, &back, &redis_opts()).unwrap();
    let mut tx = Publisher::connect(&url, &fwd, &redis_opts()).unwrap();
    let mut child = peer("pubsub-echo", &url, &[&fwd, &back, &ROUND_TRIP.to_string()]);
    child.wait_line("PEER:ready");
    for i in 0..ROUND_TRIP {
        let msg = format!("message {i}: {}", "x".repeat(i));
        assert_eq!(
            tx.publish(msg.as_bytes()).unwrap(),
            1,
            "the peer is subscribed"
        );
        // Round trip one at a time for the first half, then pipelined.
        if i < ROUND_TRIP / 2 {
            assert_eq!(rx.recv_timeout(WAIT).unwrap(), msg.as_bytes());
        }
    }
    for i in ROUND_TRIP / 2..ROUND_TRIP {
        let msg = format!("message {i}: {}", "x".repeat(i));
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), msg.as_bytes());
    }
    child.finish();
    assert_eq!(rx.gaps(), 0);
    assert!(
        rx.try_recv_into(&mut Vec::new()).unwrap_err().is_empty(),
        "nothing more"
    );
}

#[test]
fn stream_round_trip_in_order_between_processes() {
    let (url, fwd, _g) = server_or_skip!("sfwd");
    let back = redis_key("sback");
    let mut tx = StreamProducer::connect(&url, &fwd, &stream_opts()).unwrap();
    // Half the messages before the peer even exists: a stream keeps them for it.
    send_numbered(&mut tx, 0..ROUND_TRIP / 2);
    let mut child = peer("stream-echo", &url, &[&fwd, &back, &ROUND_TRIP.to_string()]);
    let mut rx = StreamConsumer::connect(&url, &back, "main", "main-1", &stream_opts()).unwrap();
    send_numbered(&mut tx, ROUND_TRIP / 2..ROUND_TRIP);
    recv_numbered(&mut rx, 0..ROUND_TRIP);
    child.finish();
    rx.commit().unwrap();
    assert_eq!(rx.pending().unwrap(), 0, "every entry acknowledged");
    assert!(rx.try_recv_into(&mut Vec::new()).unwrap_err().is_empty());
}

/// Entries "0" to "n - 1" on the stream `key`, and a consumer `consumer` of group `g` in
/// another process, SIGKILLed (no acknowledgement, no cleanup) once it has taken `take` of
/// them without acknowledging any.
fn killed_while_holding(url: &str, key: &str, n: usize, consumer: &str, take: &str) {
    let mut tx = StreamProducer::connect(url, key, &stream_opts()).unwrap();
    send_numbered(&mut tx, 0..n);
    let mut child = peer("stream-hold", url, &[key, "g", consumer, take]);
    child.wait_line("PEER:holding");
    child.kill();
}

#[test]
fn stream_entries_of_a_killed_consumer_are_claimed_by_another() {
    let (url, key, _g) = server_or_skip!("claim");
    killed_while_holding(&url, &key, 10, "victim", "5");

    let opts = stream_opts()
        .claim_idle(Some(Duration::from_millis(200)))
        .claim_every(Duration::from_millis(50));
    let mut rescuer = StreamConsumer::connect(&url, &key, "g", "rescuer", &opts).unwrap();
    // The victim fetched all ten in one batch: all ten are pending under its name.
    assert_eq!(rescuer.pending().unwrap(), 10);
    let mut got = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 10 && Instant::now() < deadline {
        match rescuer.recv_timeout(Duration::from_millis(500)) {
            Ok(m) => {
                got.insert(String::from_utf8(m).unwrap().parse::<u32>().unwrap());
            }
            Err(Error::Timeout) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        got,
        (0..10).collect::<BTreeSet<_>>(),
        "every entry of the dead consumer recovered"
    );
    rescuer.commit().unwrap();
    assert_eq!(rescuer.pending().unwrap(), 0);
}

#[test]
fn restarted_consumer_gets_its_own_pending_entries_back_first() {
    let (url, key, _g) = server_or_skip!("own");
    killed_while_holding(&url, &key, 6, "worker", "3");
    // Same consumer name, no claiming: it must find what it had been given.
    let opts = stream_opts().claim_idle(None);
    let mut again = StreamConsumer::connect(&url, &key, "g", "worker", &opts).unwrap();
    recv_numbered(&mut again, 0..6);
    again.commit().unwrap();
    assert_eq!(again.pending().unwrap(), 0);
}

#[test]
fn stream_survives_a_server_crash_and_restart() {
    let Some(url) = support::redis_url("stream_survives_a_server_crash_and_restart") else {
        return;
    };
    let Ok(restart) = std::env::var(RESTART_VAR) else {
        loud(&format!(
            "\n*** SKIPPED redis test stream_survives_a_server_crash_and_restart: {RESTART_VAR} \
             is not set (a command that crashes and restarts the server at {url}, e.g. \
             scripts/redis-test-server.sh restart DIR PORT). ***\n"
        ));
        return;
    };
    let _g = SERVER.write().unwrap();
    let key = redis_key("restart");
    const N: u32 = 300;
    let mut rx =
        StreamConsumer::connect(&url, &key, "g", "c", &stream_opts().claim_idle(None)).unwrap();
    // A subscriber and a publisher go through the crash too.
    let ch = redis_key("restartch");
    let mut sub = Subscriber::connect(&url, &ch, &redis_opts()).unwrap();
    let mut publ = Publisher::connect(&url, &ch, &redis_opts()).unwrap();
    let mut child = peer("stream-produce", &url, &[&key, &N.to_string()]);
    let (mut seen, mut last, mut restarted) = (BTreeSet::new(), None, false);
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < N as usize {
        assert!(
            Instant::now() < deadline,
            "only {} of {N} arrived",
            seen.len()
        );
        let m = match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(m) => m,
            Err(Error::Timeout) => continue,
            Err(e) => {
                let missing: Vec<u32> = (0..N).filter(|i| !seen.contains(i)).collect();
                panic!(
                    "{e} with {} of {N} received (restarted {restarted}, {} reconnects); \
                     missing {missing:?}",
                    seen.len(),
                    rx.reconnects()
                )
            }
        };
        let i: u32 = String::from_utf8(m).unwrap().parse().unwrap();
        if seen.insert(i) {
            // First deliveries come in order; a repeat (a retried add, or an entry whose
            // acknowledgement the crash took) may come again later.
            assert!(last.is_none_or(|l| i > l), "{i} after {last:?}");
            last = Some(i);
        }
        if i == 100 && !restarted {
            restarted = true;
            rx.commit().unwrap(); // these acknowledgements must survive the crash
            let st = Command::new("sh").arg("-c").arg(&restart).status().unwrap();
            assert!(st.success(), "restart command failed: {restart}");
        }
    }
    assert!(restarted);
    child.finish(); // the producer saw every add through
    assert!(rx.reconnects() >= 1, "the consumer went through the crash");
    rx.commit().unwrap();
    assert_eq!(rx.pending().unwrap(), 0);
    assert!(rx.try_recv_into(&mut Vec::new()).unwrap_err().is_empty());

    let msg = publish_until_heard(&mut publ, &mut sub);
    assert_eq!(sub.recv_timeout(WAIT).unwrap(), msg);
    assert_eq!(sub.gaps(), 1, "the subscriber says it was away");
}

/// Kills the connection(s) named `name` from the outside (`CLIENT KILL ID`).
fn kill_client(url: &str, name: &str) {
    let mut c = side(url);
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    let mut killed = 0;
    for line in list
        .lines()
        .filter(|l| l.split(' ').any(|f| f == format!("name={name}")))
    {
        let id = line.split(' ').find_map(|f| f.strip_prefix("id=")).unwrap();
        let _: () = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query(&mut c)
            .unwrap();
        killed += 1;
    }
    assert_eq!(killed, 1, "one connection named {name}");
}

/// Publishes until the subscriber is back (the server says one subscriber got it), letting
/// the subscriber run its reconnect in between. Returns the message that got through.
fn publish_until_heard(tx: &mut Publisher, rx: &mut Subscriber) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    for k in 0.. {
        assert!(Instant::now() < deadline, "subscriber never came back");
        let msg = format!("after {k}").into_bytes();
        if tx.publish(&msg).unwrap() == 1 {
            return msg;
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Err(Error::Timeout) => {}
            Err(Error::Redis(e)) => assert!(e.contains("missed"), "{e}"),
            other => panic!("unexpected {other:?}"),
        }
    }
    unreachable!()
}

#[test]
fn subscriber_reconnects_and_reports_the_gap() {
    let (url, ch, _g) = server_or_skip!("gap");
    let name = format!("ipcring-gap-{}", std::process::id());
    let mut rx = Subscriber::connect(&url, &ch, &redis_opts().client_name(name.clone())).unwrap();
    let mut tx = Publisher::connect(&url, &ch, &redis_opts()).unwrap();
    tx.send(b"before").unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), b"before");
    assert!(rx.take_gap().is_none());

    kill_client(&url, &name);
    let msg = publish_until_heard(&mut tx, &mut rx);
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), msg);
    assert_eq!(rx.gaps(), 1);
    let gap = rx.take_gap().expect("the gap is reported");
    assert_eq!(gap.count, 1);
    assert!(gap.restored_at >= gap.lost_at);
    assert!(rx.take_gap().is_none(), "reported once");

    // Now as an error from the receive itself.
    rx.set_gap_errors(true);
    kill_client(&url, &name);
    let deadline = Instant::now() + Duration::from_secs(10);
    let err = loop {
        assert!(Instant::now() < deadline);
        match rx.recv_timeout(Duration::from_millis(50)) {
            Err(Error::Timeout) => continue,
            Err(e) => break e,
            Ok(m) => panic!("unexpected message {m:?}"),
        }
    };
    assert!(
        matches!(&err, Error::Redis(s) if s.contains("missed")),
        "{err}"
    );
    let msg = publish_until_heard(&mut tx, &mut rx);
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), msg);
    assert_eq!(rx.gaps(), 2);
}

fn redis_cli(url: &str, args: &[&str]) -> Option<String> {
    match Command::new("redis-cli")
        .arg("-u")
        .arg(url)
        .args(args)
        .output()
    {
        Ok(o) => {
            assert!(
                o.status.success(),
                "redis-cli {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            Some(String::from_utf8(o.stdout).unwrap())
        }
        Err(e) => {
            loud(&format!("\n*** SKIPPED redis-cli interop: cannot run redis-cli ({e}); install redis-tools ***\n"));
            None
        }
    }
}

#[test]
fn interop_with_redis_cli() {
    let (url, ch, _g) = server_or_skip!("cli");

    // redis-cli PUBLISH -> Subscriber
    let mut sub = Subscriber::connect(&url, &ch, &redis_opts()).unwrap();
    let Some(out) = redis_cli(&url, &["PUBLISH", &ch, "hello from redis-cli"]) else {
        return;
    };
    assert_eq!(out.trim(), "1");
    assert_eq!(sub.recv_timeout(WAIT).unwrap(), b"hello from redis-cli");
    assert_eq!(sub.last_channel(), ch);

    // redis-cli XADD -> StreamConsumer, including an entry without the data field
    let key = redis_key("clistream");
    let mut rx = StreamConsumer::connect(&url, &key, "g", "c", &stream_opts()).unwrap();
    redis_cli(&url, &["XADD", &key, "*", "data", "hi there"]).unwrap();
    redis_cli(&url, &["XADD", &key, "*", "other", "x"]).unwrap();
    redis_cli(&url, &["XADD", &key, "*", "data", "after"]).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), b"hi there");
    let e = rx.recv_timeout(WAIT).unwrap_err();
    assert!(matches!(&e, Error::Framing(s) if s.contains("data")), "{e}");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), b"after");
    rx.commit().unwrap();
    assert_eq!(
        rx.pending().unwrap(),
        0,
        "the malformed entry was acknowledged too"
    );

    // StreamProducer -> redis-cli XRANGE
    let mut tx = StreamProducer::connect(&url, &key, &stream_opts()).unwrap();
    tx.send(b"from ipcring").unwrap();
    let out = redis_cli(&url, &["--raw", "XRANGE", &key, "-", "+"]).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[lines.len() - 2..], ["data", "from ipcring"], "{out}");
}

#[test]
fn stream_is_bounded_and_trimmed_pending_entries_are_counted() {
    let (url, key, _g) = server_or_skip!("bounded");
    let opts = stream_opts()
        .max_len(Some(100))
        .ack_mode(AckMode::Manual)
        .claim_idle(None)
        .batch(50);
    let mut tx = StreamProducer::connect(&url, &key, &opts).unwrap();
    let mut rx = StreamConsumer::connect(&url, &key, "g", "c", &opts).unwrap();
    tx.send(b"first").unwrap();
    send_numbered(&mut tx, 0..49);
    // One read fetches all 50 (pending under "c"); hand out one.
    assert_eq!(rx.recv_entry(Deadline::after(WAIT)).unwrap().data, b"first");
    drop(rx);
    for _ in 0..1000 {
        tx.send(b"filler").unwrap();
    }
    let len: u64 = redis::cmd("XLEN").arg(&key).query(&mut side(&url)).unwrap();
    assert!(
        (100..1000).contains(&len),
        "MAXLEN ~ 100 keeps about 100 entries, not {len}"
    );
    // Back as "c": its pending entries are gone from the stream; it says how many.
    let mut rx = StreamConsumer::connect(&url, &key, "g", "c", &opts).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), b"filler");
    assert_eq!(rx.trimmed(), 50);
}

/// With nothing sent yet, `rx` has nothing now ([`support::assert_nothing_now`]) and a
/// receive of 100 ms times out; `tx` refuses 17 bytes: its error.
fn nothing_yet_and_17_bytes_too_many<S: Sender, R: Receiver>(tx: &mut S, rx: &mut R) -> Error {
    support::assert_nothing_now(rx);
    let e = rx.recv_timeout(Duration::from_millis(100)).unwrap_err();
    assert!(e.is_timeout(), "{e}");
    tx.send(&[0; 17]).unwrap_err()
}

#[test]
fn timeout_forms_and_limits() {
    let (url, ch, _g) = server_or_skip!("forms");
    let small = redis_opts().max_message(16);
    let mut sub = Subscriber::connect(&url, &ch, &small).unwrap();
    let mut publ = Publisher::connect(&url, &ch, &small).unwrap();
    let e = nothing_yet_and_17_bytes_too_many(&mut publ, &mut sub);
    assert!(
        matches!(e, Error::MessageTooLarge { len: 17, max: 16 }),
        "{e}"
    );
    publ.try_send(b"ok").unwrap();
    assert_eq!(sub.recv_timeout(WAIT).unwrap(), b"ok");
    assert_eq!(publ.max_message(), 16);

    let key = redis_key("sforms");
    let sopts = stream_opts().redis(small);
    let mut rx = StreamConsumer::connect(&url, &key, "g", "c", &sopts).unwrap();
    let mut tx = StreamProducer::connect(&url, &key, &sopts).unwrap();
    let e = nothing_yet_and_17_bytes_too_many(&mut tx, &mut rx);
    assert!(matches!(e, Error::MessageTooLarge { .. }), "{e}");
    let mut buf = Vec::new();
    tx.try_send(b"one").unwrap();
    rx.try_recv_into(&mut buf).unwrap();
    assert_eq!(buf, b"one");
    // An oversized entry from another writer is refused, acknowledged, and skipped.
    xadd(&url, &key, &[7u8; 64][..]);
    tx.send(b"two").unwrap();
    assert!(matches!(
        rx.recv_timeout(WAIT),
        Err(Error::MessageTooLarge { len: 64, max: 16 })
    ));
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), b"two");
    rx.commit().unwrap();
    assert_eq!(rx.pending().unwrap(), 0);
}

#[test]
fn large_messages_arrive_whole_through_short_reads() {
    let (url, ch, _g) = server_or_skip!("big");
    let big: Vec<u8> = (0..4u32 << 20).map(|i| (i * 7 + i / 251) as u8).collect();

    // try_recv reads in 1 ms slices: a 4 MiB message takes many, and must come out whole.
    let mut sub = Subscriber::connect(&url, &ch, &redis_opts()).unwrap();
    let mut publ = Publisher::connect(&url, &ch, &redis_opts()).unwrap();
    for _ in 0..3 {
        publ.send(&big).unwrap();
    }
    publ.send(b"small").unwrap();
    let mut buf = Vec::new();
    for want in [&big[..], &big[..], &big[..], b"small"] {
        support::wait_until("a whole message", || {
            support::got(sub.try_recv_into(&mut buf)).is_some()
        });
        assert!(
            buf == want,
            "message of {} bytes came out as {} bytes",
            want.len(),
            buf.len()
        );
    }

    let key = redis_key("bigstream");
    let mut tx = StreamProducer::connect(&url, &key, &stream_opts()).unwrap();
    let mut rx = StreamConsumer::connect(&url, &key, "g", "c", &stream_opts()).unwrap();
    tx.send(&big).unwrap();
    assert!(rx.recv_timeout(WAIT).unwrap() == big);
}

#[test]
fn consumer_recreates_a_group_the_server_lost() {
    let (url, key, _g) = server_or_skip!("lostgroup");
    let mut rx = StreamConsumer::connect(&url, &key, "g", "c", &stream_opts()).unwrap();
    let mut tx = StreamProducer::connect(&url, &key, &stream_opts()).unwrap();
    tx.send(b"one").unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), b"one");
    // As after a restart of a server without persistence: stream and group are gone.
    let _: u64 = redis::cmd("DEL").arg(&key).query(&mut side(&url)).unwrap();
    let e = rx.recv_timeout(Duration::from_millis(300)).unwrap_err();
    assert!(e.is_timeout(), "{e}");
    tx.send(b"two").unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), b"two");
}

#[test]
fn blocked_subscriber_gets_disconnected_after_its_publisher_is_killed() {
    let (url, ch, _g) = server_or_skip!("live-pub");
    const N: usize = 50;
    let mut rx = Subscriber::connect(&url, &ch, &live()).unwrap();
    let mut child = peer("publish-then-hang", &url, &[&ch, &N.to_string()]);
    child.wait_line("PEER:sent");
    recv_numbered(&mut rx, 0..N);
    // Alive and idle for more than twice the bound: nothing, and not Disconnected.
    let e = rx.recv_timeout(Duration::from_millis(2500)).unwrap_err();
    assert!(e.is_timeout(), "{e}");
    let killer = child.kill_soon();
    let e = rx.recv().unwrap_err();
    assert!(e.is_disconnected(), "{e}");
    killer.join().unwrap();
    child.wait();
    // Nothing was lost on the way.
    assert_eq!(rx.gaps(), 0);
    let e = rx.try_recv_into(&mut Vec::new()).unwrap_err();
    assert!(e.is_disconnected(), "{e}");
    // A new publisher revives the channel.
    let mut tx = Publisher::connect(&url, &ch, &live()).unwrap();
    assert_eq!(tx.publish(b"again").unwrap(), 1);
    assert_eq!(rx.recv().unwrap(), b"again");
    // And a clean drop is a departure too.
    drop(tx);
    assert!(rx.recv().unwrap_err().is_disconnected());
}

#[test]
fn stream_consumer_gets_every_entry_then_disconnected_after_its_producer_is_killed() {
    let (url, key, _g) = server_or_skip!("live-stream");
    const N: usize = 300;
    let opts = stream_opts().redis(live());
    let mut rx = StreamConsumer::connect(&url, &key, "g", "c1", &opts).unwrap();
    let mut child = peer("add-then-hang", &url, &[&key, &N.to_string()]);
    child.wait_line("PEER:sent");
    // Killed before anything was read: all of it is in the stream.
    child.kill();
    recv_numbered(&mut rx, 0..N);
    let e = rx.recv().unwrap_err();
    assert!(e.is_disconnected(), "{e}");
    rx.commit().unwrap();
    assert_eq!(rx.pending().unwrap(), 0, "every entry acknowledged");
    // A new producer revives the stream for the same consumer.
    let mut tx = StreamProducer::connect(&url, &key, &opts).unwrap();
    tx.send(b"again").unwrap();
    assert_eq!(rx.recv().unwrap(), b"again");
}

#[test]
fn liveness_off_or_foreign_senders_never_give_disconnected() {
    let (url, key, _g) = server_or_skip!("nolive");
    // A sender of this crate with liveness off keeps no entry; neither does redis-cli.
    let mut rx =
        StreamConsumer::connect(&url, &key, "g", "c1", &stream_opts().redis(live())).unwrap();
    let mut tx = StreamProducer::connect(
        &url,
        &key,
        &stream_opts().redis(redis_opts().liveness_ttl(None)),
    )
    .unwrap();
    tx.send(b"one").unwrap();
    drop(tx);
    assert_eq!(rx.recv().unwrap(), b"one");
    let e = rx.recv_timeout(Duration::from_millis(2500)).unwrap_err();
    assert!(e.is_timeout(), "{e}");
    xadd(&url, &key, "two");
    assert_eq!(rx.recv().unwrap(), b"two");
    let e = rx.recv_timeout(Duration::from_millis(500)).unwrap_err();
    assert!(e.is_timeout(), "{e}");
}

#[test]
fn pipelined_sends_keep_the_window_and_order_and_report_refusals() {
    let (url, key, _g) = server_or_skip!("window");
    let opts = stream_opts().redis(redis_opts().pipeline(4, 1 << 20));
    let mut tx = StreamProducer::connect(&url, &key, &opts).unwrap();
    const N: usize = 500;
    sent_in_order(&mut tx, (&url, &key), 0..N, 4);

    // A key of the wrong type: each XADD is refused. The send that wrote it returned Ok;
    // the refusal comes with a later call (here the flush), once, never dropped.
    let wrong = redis_key("wrongtype");
    let _: () = redis::cmd("SET")
        .arg(&wrong)
        .arg("x")
        .query(&mut side(&url))
        .unwrap();
    let mut bad = StreamProducer::connect(&url, &wrong, &opts).unwrap();
    bad.send(b"a").unwrap();
    let e = bad.flush().unwrap_err();
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");
    assert!(bad.flush().is_ok(), "reported once");
    // The same through a later send: written, refused, and the send after reports it.
    bad.send(b"b").unwrap();
    let mut reported = None;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(2));
        if let Err(e) = bad.send(b"c") {
            reported = Some(e);
            break;
        }
    }
    let e = reported.expect("a refusal is reported by a later send");
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");
    let _ = bad.flush();

    // Pub/sub: a flush means the server took every message, in order.
    let ch = redis_key("pipech");
    let mut sub = Subscriber::connect(&url, &ch, &redis_opts()).unwrap();
    let mut publ = Publisher::connect(&url, &ch, &redis_opts().pipeline(8, 1 << 20)).unwrap();
    for i in 0..N {
        publ.send(format!("{i}").as_bytes()).unwrap();
        assert!(publ.in_flight() <= 8);
    }
    publ.flush().unwrap();
    recv_numbered(&mut sub, 0..N);
    assert_eq!(publ.publish(b"last").unwrap(), 1, "one subscriber");
    assert_eq!(sub.recv_timeout(WAIT).unwrap(), b"last");

    // Batches: in order, and a message over the limit fails the batch before any is sent.
    let batch: Vec<Vec<u8>> = (0..50).map(|i| format!("b{i}").into_bytes()).collect();
    let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
    publ.send_all(&refs).unwrap();
    publ.flush().unwrap();
    for m in &batch {
        assert_eq!(&sub.recv_timeout(WAIT).unwrap(), m);
    }
    let big = vec![0u8; RedisOptions::new().max_message_len() + 1];
    let e = publ.send_all(&[b"never".as_slice(), &big]).unwrap_err();
    assert!(matches!(e, Error::MessageTooLarge { .. }), "{e}");
    publ.flush().unwrap();
    // Sent after the refused batch: the next thing the subscriber gets.
    publ.publish(b"after").unwrap();
    assert_eq!(sub.recv_timeout(WAIT).unwrap(), b"after");
    tx.send_all(&refs).unwrap();
    tx.flush().unwrap();
    let v = stream_data(&url, &key);
    let tail = &v[N..];
    let want: Vec<String> = (0..50).map(|i| format!("b{i}")).collect();
    assert_eq!(tail, want);
}

/// The async wrapper sends through the same pipeline: `send` resolves once written, a
/// flush through `with` once the server has everything, in order.
#[cfg(feature = "async")]
#[test]
fn async_producer_pipelines_and_flushes() {
    use ipcring::redis::AsyncStreamProducer;
    use ipcring::transport::AsyncSender;
    let (url, key, _g) = server_or_skip!("async-pipe");
    let rt = support::setup::multi_thread();
    const N: usize = 300;
    rt.block_on(async {
        let k = key.clone();
        let mut tx = AsyncStreamProducer::connect(&url, move |u| {
            StreamProducer::connect(
                u,
                &k,
                &stream_opts().redis(redis_opts().pipeline(16, 1 << 20)),
            )
        })
        .await
        .unwrap();
        for i in 0..N {
            tx.send(format!("{i}").as_bytes()).await.unwrap();
        }
        tx.with(|p| p.flush()).await.unwrap();
        assert_eq!(tx.get_ref().unwrap().in_flight(), 0);
    });
    let got = stream_data(&url, &key);
    let want: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
}

/// `RedisOptions::coalesce(n)` (opt-in): a returned `send` has only queued the message;
/// the queue goes out in writes of up to `n`, and `flush` / drop write what is left, in
/// order, nothing lost.
#[test]
fn coalesced_sends_are_queued_then_written_in_order() {
    let (url, key, _g) = server_or_skip!("coalesce");
    let opts = stream_opts().redis(redis_opts().coalesce(8));
    let mut tx = StreamProducer::connect(&url, &key, &opts).unwrap();
    tx.send(b"0").unwrap();
    // Queued in this process, not written: the server cannot have it.
    assert_eq!(tx.in_flight(), 1);
    let len: usize = redis::cmd("XLEN").arg(&key).query(&mut side(&url)).unwrap();
    assert_eq!(len, 0, "a coalesced send is not written before the n-th");
    const N: usize = 301;
    sent_in_order(&mut tx, (&url, &key), 1..N, 128);
    // Dropping the sender writes what is still queued.
    tx.send(b"last").unwrap();
    drop(tx);
    assert_eq!(
        stream_data(&url, &key).last().map(String::as_str),
        Some("last")
    );

    // Pub/sub the same way: a flush means the server took every message, in order.
    let ch = redis_key("coalesce-ch");
    let mut sub = Subscriber::connect(&url, &ch, &redis_opts()).unwrap();
    let mut publ = Publisher::connect(&url, &ch, &redis_opts().coalesce(8)).unwrap();
    send_numbered(&mut publ, 0..N);
    publ.flush().unwrap();
    recv_numbered(&mut sub, 0..N);
    // A window smaller than the coalescing is refused when connecting.
    let e =
        Publisher::connect(&url, &ch, &redis_opts().pipeline(4, 1 << 20).coalesce(8)).unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
}
