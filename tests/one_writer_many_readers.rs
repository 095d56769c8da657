//! Multi-process stress of the seqlock cell and the broadcast ring: one writer/publisher
//! in this process, several reader/subscriber processes (this test binary re-executed in a
//! peer role). Readers check every snapshot word by word; subscribers check every message's
//! number, length and checksum, and that delivered + lagged adds up to what was published.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use ipcring::broadcast::{BroadcastOptions, Publisher, Recv, Start, Subscriber};
use ipcring::seqlock::{Reader, SeqlockOptions, Writer};
use ipcring::Error;
use support::{thread_page_faults, unique, Peer};

/// 1 KiB value: every word carries the same counter (the version that wrote it).
const WORDS: usize = 128;
type Value = [u64; WORDS];

fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
        .parse()
        .unwrap()
}

crate::peer_entry!(roles);

/// The peer side: does nothing unless started by one of the tests below.
fn roles(role: &str, args: Vec<String>) {
    let name = args[0].clone();
    match role {
        "seq-reader" => seq_reader(&name),
        "bc-sub" => bc_subscriber(&name, false),
        "bc-sub-slow" => bc_subscriber(&name, true),
        "bc-pub-then-hang" => bc_publish_then_hang(&name),
        "seq-writer-then-hang" => seq_write_then_hang(&name),
        other => panic!("unknown role {other}"),
    }
}

fn check_value(v: &Value, version: u64) {
    for (i, w) in v.iter().enumerate() {
        assert_eq!(
            *w, version,
            "torn read: word {i} is {w}, version is {version} (word 0 is {})",
            v[0]
        );
    }
}

fn seq_reader(name: &str) {
    let r = Reader::<Value>::open(name, &SeqlockOptions::new()).unwrap();
    println!("@ready");
    let (mut reads, mut waits, mut last, mut missed) = (0u64, 0u64, 0u64, 0u64);
    let mut v: Value = [0; WORDS];
    loop {
        // Mostly busy reads (racing the writer), sometimes a blocking wait.
        let version = r.read_into(&mut v).unwrap();
        check_value(&v, version);
        assert!(
            version >= last,
            "version went backwards: {last} -> {version}"
        );
        if version > last {
            missed += version - last - 1;
        }
        reads += 1;
        if version == last && reads % 64 == 0 {
            waits += 1;
            match r.wait_changed(last, Duration::from_secs(10)) {
                Ok(s) => {
                    check_value(&s.value, s.version);
                    missed += s.missed_since(last);
                    last = s.version;
                    continue;
                }
                Err(Error::Disconnected) => break,
                Err(e) => panic!("wait_changed: {e}"),
            }
        }
        last = version;
    }
    let s = r.read().unwrap();
    check_value(&s.value, s.version);
    println!(
        "@result reads={reads} waits={waits} last={} missed={missed}",
        s.version
    );
}

#[test]
fn seqlock_readers_in_other_processes_never_see_a_torn_value() {
    let name = unique("seq");
    let mut w = Writer::<Value>::create(&name, &SeqlockOptions::new()).unwrap();
    let peers: Vec<_> = (0..3)
        .map(|_| Peer::spawn_until("seq-reader", &[&name], "@ready"))
        .collect();
    let start = Instant::now();
    let mut version = 0;
    while start.elapsed() < Duration::from_millis(1500) {
        version += 1;
        assert_eq!(w.write(&[version; WORDS]), version);
        if version % 4096 == 0 {
            // Let sleeping readers take the futex path too.
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    drop(w); // readers blocked in wait_changed see Disconnected
    for mut child in peers {
        let line = child.wait_line("@result");
        eprintln!("peer: {line}");
        child.finish();
        assert_eq!(field(&line, "last"), version, "{line}");
        assert!(field(&line, "reads") > 0);
    }
}

/// Message `i`: its number, a body whose length and bytes derive from `i`, and an FNV-1a
/// checksum of everything before it.
fn message(i: u64) -> Vec<u8> {
    let body = (i % 200) as usize;
    let mut m = Vec::with_capacity(16 + body);
    m.extend_from_slice(&i.to_le_bytes());
    m.extend((0..body).map(|k| (i as u8).wrapping_add(k as u8).rotate_left(3)));
    let sum = fnv(&m);
    m.extend_from_slice(&sum.to_le_bytes());
    m
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn check_message(i: u64, m: &[u8]) {
    assert!(m.len() >= 16, "message {i} too short: {}", m.len());
    let (head, sum) = m.split_at(m.len() - 8);
    assert_eq!(
        u64::from_le_bytes(sum.try_into().unwrap()),
        fnv(head),
        "checksum of message {i}"
    );
    assert_eq!(u64::from_le_bytes(head[..8].try_into().unwrap()), i);
    assert_eq!(m, message(i).as_slice(), "message {i}");
}

fn bc_subscriber(name: &str, slow: bool) {
    let opts = BroadcastOptions::new().start(Start::Oldest);
    let mut s = Subscriber::open(name, &opts).unwrap();
    let first = s.position();
    println!("@ready");
    let (mut delivered, mut lagged, mut expect) = (0u64, 0u64, first);
    let mut buf = Vec::new();
    loop {
        match s.recv_into(&mut buf) {
            Ok(Recv::Message(i)) => {
                assert_eq!(i, expect, "out of order");
                check_message(i, &buf);
                delivered += 1;
                expect += 1;
                if slow && delivered % 64 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            Ok(Recv::Lagged(n)) => {
                assert!(n > 0);
                lagged += n;
                expect += n;
            }
            Err(Error::Disconnected) => break,
            Err(e) => panic!("recv: {e}"),
        }
    }
    assert_eq!(lagged, s.lagged_total());
    println!(
        "@result first={first} delivered={delivered} lagged={lagged} end={}",
        s.position()
    );
}

#[test]
fn broadcast_subscribers_in_other_processes_count_every_message() {
    let name = unique("bc");
    let opts = BroadcastOptions::new().slots(64).max_message(256);
    let mut p = Publisher::create(&name, &opts).unwrap();
    let roles = ["bc-sub", "bc-sub", "bc-sub-slow"];
    let peers: Vec<_> = roles
        .iter()
        .map(|r| Peer::spawn_until(r, &[&name], "@ready"))
        .collect();
    let total = 100_000u64;
    for i in 0..total {
        assert_eq!(p.publish(&message(i)).unwrap(), i);
        if i % 1024 == 0 {
            std::thread::yield_now();
        }
    }
    drop(p); // subscribers drain what is held, then see Disconnected
    for mut child in peers {
        let line = child.wait_line("@result");
        eprintln!("peer: {line}");
        child.finish();
        assert_eq!(field(&line, "first"), 0, "{line}");
        assert_eq!(
            field(&line, "delivered") + field(&line, "lagged"),
            total,
            "{line}"
        );
        assert_eq!(field(&line, "end"), total, "{line}");
        // The last `slots` messages are held when the publisher stops: each subscriber
        // gets at least those.
        assert!(field(&line, "delivered") >= 64, "{line}");
    }
}

fn bc_publish_then_hang(name: &str) {
    let mut p = Publisher::create(name, &BroadcastOptions::new().slots(8)).unwrap();
    for i in 0..3u64 {
        p.publish(&message(i)).unwrap();
    }
    ready_then_hang()
}

#[test]
fn killed_publisher_is_seen_by_a_blocked_subscriber() {
    let name = unique("kill");
    let child = Peer::spawn_until("bc-pub-then-hang", &[&name], "@ready");
    let mut s = Subscriber::open(&name, &BroadcastOptions::new().start(Start::Oldest)).unwrap();
    let mut buf = Vec::new();
    for i in 0..3 {
        assert_eq!(s.recv_into(&mut buf).unwrap(), Recv::Message(i));
        check_message(i, &buf);
    }
    let killer = child.kill_soon();
    // Blocked (spinning, then on the futex) when the publisher dies: Disconnected, not
    // the timeout.
    let r = s.recv_timeout_into(&mut buf, Duration::from_secs(20));
    assert!(matches!(r, Err(Error::Disconnected)), "{r:?}");
    killer.join().unwrap();
    // The creator was killed, so nobody unlinked the name: clean up.
    let _ = std::fs::remove_file(format!("/dev/shm{name}"));
}

fn seq_write_then_hang(name: &str) {
    let mut w = Writer::<Value>::create(name, &SeqlockOptions::new()).unwrap();
    w.write(&[1; WORDS]);
    ready_then_hang()
}

/// Says `@ready`, then waits to be killed (bounded, in case the test that started us died
/// first).
fn ready_then_hang() -> ! {
    println!("@ready");
    std::thread::sleep(Duration::from_secs(30));
    std::process::exit(3);
}

#[test]
fn killed_writer_is_seen_by_a_reader_waiting_for_a_change() {
    let name = unique("seqkill");
    let child = Peer::spawn_until("seq-writer-then-hang", &[&name], "@ready");
    let r = Reader::<Value>::open(&name, &SeqlockOptions::new()).unwrap();
    let s = r.read().unwrap();
    check_value(&s.value, s.version);
    assert_eq!(s.version, 1);
    let killer = child.kill_soon();
    let e = r.wait_changed(1, Duration::from_secs(20));
    assert!(
        matches!(e, Err(Error::Disconnected)),
        "{:?}",
        e.map(|s| s.version)
    );
    killer.join().unwrap();
    // The last value stays readable.
    assert_eq!(r.read().unwrap().version, 1);
    let _ = std::fs::remove_file(format!("/dev/shm{name}"));
}

/// Prefaulting holds for the broadcast ring as for the ring (the segment options do it for
/// every kind): a publisher that fills each of 1024 slots of 1000 bytes, twice over, takes
/// no page fault when prefaulted (the default at this size) and one per page it first
/// writes without. Counts, not times.
#[test]
#[cfg(target_os = "linux")]
fn a_prefaulted_broadcast_ring_takes_no_page_faults_on_its_first_lap() {
    let mut seen = vec![];
    for prefault in [true, false] {
        let name = unique("bc-prefault");
        let opts = BroadcastOptions::new()
            .slots(1024)
            .max_message(1000)
            .prefault(prefault);
        let mut p = Publisher::create(&name, &opts).unwrap();
        let msg = vec![7u8; 1000];
        let before = thread_page_faults();
        for _ in 0..2 * p.slots() {
            p.publish(&msg).unwrap();
        }
        seen.push(thread_page_faults() - before);
    }
    assert!(
        seen[0] <= 2 && seen[1] >= 128,
        "page faults over the first laps (prefaulted, not): {seen:?}"
    );
}
