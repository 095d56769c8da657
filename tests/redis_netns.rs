//! The Redis transports across "machines": the roles that `.ci/steps/73-redis-netns.sh` runs
//! in three network namespaces of their own (producer, consumer, server; joined by veth
//! pairs), while it takes links down and restarts the server in the middle of the stream.
//!
//! Each role is this test binary re-run with `IPCRING_NETNS_ROLE` set; it asserts what it
//! must see and exits non-zero otherwise, so the step fails. Without the variable the test
//! prints a line saying where it really runs and returns (the scenario needs root and
//! `ip netns`, which `cargo test` alone does not set up).
//!
//! Roles (`IPCRING_NETNS_ARGS`, space separated):
//! * `stream-produce URL KEY SECONDS`: adds `0`, `1`, ... about every 2 ms for SECONDS, then
//!   `end:<n>`, and flushes.
//! * `stream-consume URL KEY`: reads until `end:<n>`; every `0..n` must have come, first
//!   deliveries in order (a repeat of an earlier one is allowed: at least once).
//! * `publish URL CHANNEL SECONDS`: publishes `0`, `1`, ... the same way, then `end:<n>`
//!   until a subscriber has it.
//! * `subscribe URL CHANNEL`: receives until `end:<n>`; what came must be in order, and if
//!   anything is missing the subscriber must have reported a gap (`Subscriber::gaps`), as
//!   the docs promise.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ipcring::redis::{
    Publisher, RedisOptions, StreamConsumer, StreamOptions, StreamProducer, Subscriber,
};
use ipcring::{Error, Receiver, Sender};

const ROLE_VAR: &str = "IPCRING_NETNS_ROLE";

/// Short timeouts so that a cut link is noticed within seconds; no liveness entries (what
/// is tested here is delivery, not peer death).
fn opts() -> RedisOptions {
    RedisOptions::new()
        .connect_timeout(Duration::from_secs(30))
        .io_timeout(Duration::from_secs(2))
        .backoff(Duration::from_millis(20), Duration::from_millis(300))
        .health_check(Duration::from_secs(1))
        .liveness_ttl(None)
}

fn stream_opts() -> StreamOptions {
    StreamOptions::new()
        .redis(opts())
        .block(Duration::from_millis(200))
        .claim_idle(None)
}

fn say(line: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "\nNETNS {line}");
    let _ = o.flush();
}

/// Sends `0..` for `secs`, about every 2 ms; returns how many.
fn produce(tx: &mut impl Sender, secs: f64) -> u64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        tx.send(n.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("send {n}: {e}"));
        n += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    n
}

/// Checks a sequence of received numbers: first deliveries in increasing order; counts the
/// distinct ones and the repeats.
#[derive(Default)]
struct Seen {
    set: BTreeSet<u64>,
    last: Option<u64>,
    repeats: u64,
}

impl Seen {
    fn add(&mut self, i: u64) {
        if self.set.insert(i) {
            assert!(
                self.last.is_none_or(|l| i > l),
                "{i} came after {:?}: out of order",
                self.last
            );
            self.last = Some(i);
        } else {
            self.repeats += 1;
        }
    }

    fn missing(&self, n: u64) -> Vec<u64> {
        (0..n).filter(|i| !self.set.contains(i)).collect()
    }
}

/// Receives until `end:<n>`; what came, and `n`.
fn receive_until_end(rx: &mut impl Receiver) -> (Seen, u64) {
    let mut seen = Seen::default();
    let give_up = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < give_up, "no end marker within 120 s");
        let m = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(m) => m,
            Err(Error::Timeout) => continue,
            Err(e) => panic!("receive: {e}"),
        };
        match parse(&m) {
            Ok(i) => seen.add(i),
            Err(n) => return (seen, n),
        }
    }
}

fn parse(msg: &[u8]) -> Result<u64, u64> {
    let s = std::str::from_utf8(msg).expect("utf-8 message");
    match s.strip_prefix("end:") {
        Some(n) => Err(n.parse().expect("end:<n>")),
        None => Ok(s.parse().expect("a number")),
    }
}

#[test]
fn netns_role() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "redis_netns: roles only; the scenario runs in .ci/steps/73-redis-netns.sh \
             (root, ip netns, redis-server)"
        );
        return;
    };
    let args: Vec<String> = std::env::var("IPCRING_NETNS_ARGS")
        .expect("IPCRING_NETNS_ARGS")
        .split(' ')
        .map(String::from)
        .collect();
    let url = args[0].as_str();
    match role.as_str() {
        "stream-produce" => {
            let secs: f64 = args[2].parse().unwrap();
            let mut tx = StreamProducer::connect(url, &args[1], &stream_opts()).unwrap();
            let n = produce(&mut tx, secs);
            tx.send(format!("end:{n}").as_bytes()).unwrap();
            tx.flush().unwrap();
            say(&format!(
                "stream-produce sent {n} with {} reconnects",
                tx.reconnects()
            ));
        }
        "stream-consume" => {
            let mut rx =
                StreamConsumer::connect(url, &args[1], "netns", "c1", &stream_opts()).unwrap();
            let (seen, n) = receive_until_end(&mut rx);
            rx.commit().unwrap();
            let missing = seen.missing(n);
            say(&format!(
                "stream-consume got {} of {n} ({} repeats, {} reconnects, {} trimmed)",
                seen.set.len(),
                seen.repeats,
                rx.reconnects(),
                rx.trimmed()
            ));
            assert!(missing.is_empty(), "stream lost {missing:?}");
            assert!(
                rx.reconnects() >= 1,
                "the consumer went through the server restart"
            );
        }
        "publish" => {
            let secs: f64 = args[2].parse().unwrap();
            let mut tx = Publisher::connect(url, &args[1], &opts()).unwrap();
            let n = produce(&mut tx, secs);
            let give_up = Instant::now() + Duration::from_secs(60);
            while tx.publish(format!("end:{n}").as_bytes()).unwrap() == 0 {
                assert!(
                    Instant::now() < give_up,
                    "no subscriber took the end marker"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            say(&format!(
                "publish sent {n} with {} reconnects",
                tx.reconnects()
            ));
        }
        "subscribe" => {
            let mut rx = Subscriber::connect(url, &args[1], &opts()).unwrap();
            let (seen, n) = receive_until_end(&mut rx);
            let lost = seen.missing(n).len();
            say(&format!(
                "subscribe got {} of {n} ({} repeats), lost {lost}, gaps reported {}",
                seen.set.len(),
                seen.repeats,
                rx.gaps()
            ));
            // The promise: whatever is lost falls in a reported gap (the server restart
            // cut the subscription, so there is one).
            assert!(rx.gaps() >= 1, "the server restart must show as a gap");
            if lost > 0 {
                assert!(
                    rx.take_gap().is_some(),
                    "losses without a gap to explain them"
                );
            }
        }
        other => panic!("unknown role {other}"),
    }
}
