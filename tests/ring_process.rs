//! The ring between real processes: the test binary re-executes itself as the peer.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::time::Duration;

use common::{check, message, peer_role, spawn_peer, unique};
use ipcring::ring::{duplex, inspect, Consumer, Producer, RingOptions, Side, WaitStrategy};
use ipcring::Error;

const LONG: Duration = Duration::from_secs(30);

fn strategy(s: &str) -> WaitStrategy {
    match s {
        "spin" => WaitStrategy::Spin,
        "yield" => WaitStrategy::SpinYield {
            spin: Duration::from_micros(20),
        },
        // Every wait that finds nothing sleeps at once.
        "sleep" => WaitStrategy::SpinBlock {
            spin: Duration::ZERO,
        },
        _ => WaitStrategy::default(),
    }
}

/// Entry point of every peer role; a no-op in the normal test run.
#[test]
fn peer() {
    let Some((role, args)) = peer_role() else {
        return;
    };
    let code = match role.as_str() {
        // args: name, count, strategy — produce `count` messages then exit.
        "producer" => {
            let opts = RingOptions::new()
                .wait(strategy(&args[2]))
                .open_timeout(LONG);
            let mut tx = Producer::open(&args[0], &opts).expect("open producer");
            let n: u64 = args[1].parse().unwrap();
            let mut m = Vec::new();
            for seq in 0..n {
                message(seq, &mut m);
                tx.send(&m).expect("send");
            }
            0
        }
        // args: name, count — produce `count` messages, then stay attached and idle until
        // killed (the consumer falls asleep on an empty ring).
        "producer-then-idle" => {
            let mut tx = Producer::open(&args[0], &RingOptions::new().open_timeout(LONG))
                .expect("open producer");
            let n: u64 = args[1].parse().unwrap();
            let mut m = Vec::new();
            for seq in 0..n {
                message(seq, &mut m);
                tx.send(&m).expect("send");
            }
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        // args: name — produce forever (until killed).
        "producer-forever" => {
            let mut tx = Producer::open(&args[0], &RingOptions::new().open_timeout(LONG))
                .expect("open producer");
            let mut m = Vec::new();
            for seq in 0.. {
                message(seq, &mut m);
                tx.send(&m).expect("send");
            }
            0
        }
        // args: name — consume, printing each seq before releasing it, until killed.
        "consumer-print" => {
            let mut rx = Consumer::open(&args[0], &RingOptions::new().open_timeout(LONG))
                .expect("open consumer");
            let out = std::io::stdout();
            let mut out = out.lock();
            let mut scratch = Vec::new();
            let mut expect: Option<u64> = None;
            loop {
                let msg = rx.recv().expect("recv");
                let seq = u64::from_le_bytes(msg[..8].try_into().unwrap());
                if let Some(e) = expect {
                    assert_eq!(seq, e);
                }
                check(seq, &msg, &mut scratch).unwrap();
                writeln!(out, "SEQ {seq}").unwrap();
                out.flush().unwrap();
                expect = Some(seq + 1);
                drop(msg);
            }
        }
        // args: name — try to open as producer; exit 3 on RoleTaken.
        "second-producer" => match Producer::open(&args[0], &RingOptions::new()) {
            Err(Error::RoleTaken { .. }) => 3,
            Ok(_) => 0,
            Err(e) => {
                eprintln!("{e}");
                1
            }
        },
        // args: name — create with keep, send 3 messages, exit (leaves a stale segment).
        "leave-stale" => {
            let mut tx =
                Producer::create(&args[0], &RingOptions::new().capacity(4096).keep(true)).unwrap();
            for i in 0..3u8 {
                tx.send(&[i]).unwrap();
            }
            0
        }
        // args: name — echo every message of a duplex's side B back, checked, until the
        // other side leaves.
        // args: name, strategy (optional).
        "echo-checked" => {
            let opts = RingOptions::new()
                .capacity(1 << 16)
                .open_timeout(LONG)
                .wait(strategy(args.get(1).map_or("", String::as_str)));
            let (mut tx, mut rx) = duplex(&args[0], Side::B, &opts).expect("duplex");
            let (mut buf, mut scratch) = (Vec::new(), Vec::new());
            for seq in 0.. {
                match rx.recv_into(&mut buf) {
                    Ok(()) => {}
                    Err(Error::Disconnected) => break,
                    Err(e) => panic!("{e}"),
                }
                check(seq, &buf, &mut scratch).unwrap();
                tx.send(&buf).expect("echo");
            }
            0
        }
        other => panic!("unknown role {other}"),
    };
    std::process::exit(code);
}

/// Receives `n` messages, checking each byte, then expects Disconnected.
fn consume_all(rx: &mut Consumer, n: u64) {
    let mut scratch = Vec::new();
    for seq in 0..n {
        let msg = rx
            .recv_timeout(LONG)
            .unwrap_or_else(|e| panic!("message {seq}: {e}"));
        check(seq, &msg, &mut scratch).unwrap();
    }
    match rx.recv_timeout(LONG) {
        Err(Error::Disconnected) => {}
        other => panic!(
            "expected Disconnected after {n} messages, got {:?}",
            other.map(|m| m.len())
        ),
    }
}

fn stream(strategy_name: &str, n: u64) {
    let name = unique("stream");
    let opts = RingOptions::new()
        .capacity(1 << 16)
        .wait(strategy(strategy_name));
    let mut rx = Consumer::create(&name, &opts).unwrap();
    let mut child = spawn_peer("producer", &[&name, &n.to_string(), strategy_name], false);
    consume_all(&mut rx, n);
    assert!(child.wait().unwrap().success());
}

fn stream_count() -> u64 {
    std::env::var("IPCRING_STREAM_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000)
}

#[test]
fn ten_million_messages_spin_block() {
    stream("block", stream_count());
}

#[test]
fn ten_million_messages_spin() {
    stream("spin", stream_count());
}

#[test]
fn ten_million_messages_spin_yield() {
    stream("yield", stream_count());
}

/// Both sides sleep at once whenever they wait (`SpinBlock { spin: 0 }`): the consumer
/// on an empty ring, the producer on a full one. A tenth of the other streams' count:
/// here many messages cost a futex wake-up each.
#[test]
fn a_million_messages_every_wait_sleeping() {
    stream("sleep", stream_count() / 10);
}

/// Round trips where every wait sleeps (`SpinBlock { spin: 0 }` on both sides): each
/// message and echo arrives whole and in order, and each side is woken for every one.
#[test]
fn one_message_at_a_time_every_wait_sleeping_loses_nothing() {
    let name = unique("pingsleep");
    let opts = RingOptions::new().capacity(1 << 12).wait(strategy("sleep"));
    let (mut tx, mut rx) = duplex(&name, Side::A, &opts).unwrap();
    let mut child = spawn_peer("echo-checked", &[&name, "sleep"], false);
    let (mut m, mut scratch) = (Vec::new(), Vec::new());
    for seq in 0..5000u64 {
        message(seq, &mut m);
        tx.send(&m).unwrap();
        let echo = rx.recv_timeout(LONG).unwrap();
        check(seq, &echo, &mut scratch).unwrap();
        assert_eq!(&*echo, &m[..]);
    }
    drop((tx, rx));
    assert!(child.wait().unwrap().success());
}

/// A consumer that sleeps at once (no spin phase) still checks its peer at every wait
/// slice: a producer SIGKILLed while the consumer sleeps is `Disconnected`, after every
/// message it sent.
#[test]
fn sleeping_consumer_sees_a_sigkilled_producer() {
    let name = unique("kill-sleep");
    let opts = RingOptions::new().capacity(1 << 12).wait(strategy("sleep"));
    let mut rx = Consumer::create(&name, &opts).unwrap();
    let mut child = spawn_peer("producer-then-idle", &[&name, "100"], false);
    let mut scratch = Vec::new();
    for seq in 0..100u64 {
        let m = rx.recv_timeout(LONG).unwrap();
        check(seq, &m, &mut scratch).unwrap();
    }
    // Empty now: a short wait sleeps and times out (the producer is alive).
    assert!(matches!(
        rx.recv_timeout(Duration::from_millis(30)),
        Err(Error::Timeout)
    ));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(matches!(rx.recv_timeout(LONG), Err(Error::Disconnected)));
}

/// One message at a time between two processes, every message and echo checked: each
/// ring keeps starting over at index 0 once a few messages lie behind its write index,
/// so its positions run a lap ahead every few messages, and nothing is lost or reordered.
#[test]
fn one_message_at_a_time_recycles_the_first_lines_and_loses_nothing() {
    let name = unique("pingpong");
    let opts = RingOptions::new().capacity(1 << 16);
    let (mut tx, mut rx) = duplex(&name, Side::A, &opts).unwrap();
    let mut child = spawn_peer("echo-checked", &[&name], false);
    let (mut m, mut scratch) = (Vec::new(), Vec::new());
    let n = 2000u64;
    for seq in 0..n {
        message(seq, &mut m);
        tx.send(&m).unwrap();
        let echo = rx.recv_timeout(LONG).unwrap();
        check(seq, &echo, &mut scratch).unwrap();
        assert_eq!(&*echo, &m[..]);
    }
    // Without recycling the positions would stay near the bytes sent; with it, each
    // ring moves a lap every few messages, so at least one per 8 KiB sent.
    let sent: u64 = (0..n)
        .map(|seq| {
            message(seq, &mut m);
            m.len() as u64
        })
        .sum();
    for ring in [format!("{name}.ab"), format!("{name}.ba")] {
        let info = inspect(&ring).unwrap();
        assert_eq!(info.fill, 0, "{ring}");
        assert!(
            info.write_pos > (sent / 4096 / 2) * (1 << 16),
            "{ring}: write_pos {} after {sent} bytes of messages",
            info.write_pos
        );
    }
    drop((tx, rx));
    assert!(child.wait().unwrap().success());
}

#[test]
fn consumer_may_start_first_and_open_waits_for_creator() {
    let name = unique("order");
    // The peer opens a producer on a name that does not exist yet: it waits.
    let mut child = spawn_peer("producer", &[&name, "1000", "block"], false);
    std::thread::sleep(Duration::from_millis(50));
    let mut rx = Consumer::create(&name, &RingOptions::new().capacity(4096)).unwrap();
    consume_all(&mut rx, 1000);
    assert!(child.wait().unwrap().success());
}

#[test]
fn producer_sigkilled_midstream_is_disconnected_after_its_messages() {
    let name = unique("kill-p");
    let mut rx = Consumer::create(&name, &RingOptions::new().capacity(1 << 14)).unwrap();
    let mut child = spawn_peer("producer-forever", &[&name], false);
    let mut scratch = Vec::new();
    let mut seq = 0u64;
    while seq < 20_000 {
        let m = rx.recv_timeout(LONG).unwrap();
        check(seq, &m, &mut scratch).unwrap();
        seq += 1;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Everything committed before the kill is delivered, intact and in order; then
    // Disconnected (not a hang, not a torn message).
    loop {
        match rx.recv_timeout(LONG) {
            Ok(m) => {
                check(seq, &m, &mut scratch).unwrap();
                seq += 1;
            }
            Err(Error::Disconnected) => break,
            Err(e) => panic!("after {seq} messages: {e}"),
        }
    }
    assert!(seq >= 20_000);
}

#[test]
fn consumer_sigkilled_and_replaced_loses_nothing() {
    let name = unique("kill-c");
    let n = 200_000u64;
    let opts = RingOptions::new().capacity(1 << 12);
    let tx = Producer::create(&name, &opts).unwrap();
    let producer = std::thread::spawn(move || {
        let mut tx = tx;
        let mut m = Vec::new();
        for seq in 0..n {
            message(seq, &mut m);
            tx.send_timeout(&m, LONG).unwrap();
        }
        tx
    });
    // First consumer: prints each seq before releasing it.
    let mut c1 = spawn_peer("consumer-print", &[&name], true);
    // The test harness prints its own lines on stdout too: keep only ours.
    let mut seqs = BufReader::new(c1.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| l.strip_prefix("SEQ ").map(|s| s.parse::<u64>().unwrap()));
    let mut last = 0u64;
    for _ in 0..5_000 {
        last = seqs.next().expect("first consumer died early");
    }
    c1.kill().unwrap();
    c1.wait().unwrap();
    for s in seqs {
        last = s;
    }
    // Second consumer continues at the first unreleased message: the last printed one
    // (killed between print and release) or the one after it.
    let mut rx = Consumer::open(&name, &opts).unwrap();
    let first = rx.recv_timeout(LONG).unwrap();
    let first_seq = u64::from_le_bytes(first[..8].try_into().unwrap());
    assert!(
        first_seq == last || first_seq == last + 1,
        "printed up to {last}, replacement starts at {first_seq}"
    );
    drop(first);
    let mut scratch = Vec::new();
    for seq in first_seq + 1..n {
        let m = rx.recv_timeout(LONG).unwrap();
        check(seq, &m, &mut scratch).unwrap();
    }
    let _tx = producer.join().unwrap();
}

#[test]
fn second_producer_is_refused_in_another_process_and_in_this_one() {
    let name = unique("role");
    let _tx = Producer::create(&name, &RingOptions::new().capacity(4096)).unwrap();
    let status = spawn_peer("second-producer", &[&name], false)
        .wait()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    assert!(matches!(
        Producer::open(&name, &RingOptions::new()),
        Err(Error::RoleTaken {
            role: "producer",
            ..
        })
    ));
    let _rx = Consumer::open(&name, &RingOptions::new()).unwrap();
    assert!(matches!(
        Consumer::open(&name, &RingOptions::new()),
        Err(Error::RoleTaken {
            role: "consumer",
            ..
        })
    ));
}

#[test]
fn stale_segment_is_detected_and_reclaimed_on_request() {
    let name = unique("stale");
    assert!(spawn_peer("leave-stale", &[&name], false)
        .wait()
        .unwrap()
        .success());
    let info = inspect(&name).unwrap();
    assert!(info.segment.is_stale());
    assert_eq!(info.fill, 3 * 16); // three 1-byte messages, 16-byte records
    assert!(matches!(
        Producer::create(&name, &RingOptions::new()),
        Err(Error::AlreadyExists(_))
    ));
    let tx = Producer::create(
        &name,
        &RingOptions::new().capacity(4096).reclaim_stale(true),
    )
    .unwrap();
    assert_eq!(inspect(&name).unwrap().fill, 0);
    drop(tx);
    assert!(matches!(inspect(&name), Err(Error::NotFound(_))));
}

#[test]
fn live_segment_is_not_reclaimed() {
    let name = unique("live");
    let _rx = Consumer::create(&name, &RingOptions::new().capacity(4096)).unwrap();
    assert!(matches!(
        Producer::create(&name, &RingOptions::new().reclaim_stale(true)),
        Err(Error::AlreadyExists(_))
    ));
}

#[test]
fn created_with_mode_0600_by_default_and_configurable() {
    let name = unique("mode");
    let _a = Producer::create(&name, &RingOptions::new().capacity(4096)).unwrap();
    let mode = std::fs::metadata(format!("/dev/shm{name}"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let name2 = unique("mode");
    let _b = Producer::create(&name2, &RingOptions::new().capacity(4096).mode(0o640)).unwrap();
    let mode = std::fs::metadata(format!("/dev/shm{name2}"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640);
}

/// A ring in a file, kept, whose bytes the test then damages.
fn kept_file_ring(capacity: u64) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring").to_str().unwrap().to_owned();
    let mut tx =
        Producer::create(&path, &RingOptions::new().capacity(capacity).keep(true)).unwrap();
    tx.send(b"hello").unwrap();
    drop(tx);
    (dir, path)
}

fn open_err(path: &str) -> String {
    let opts = RingOptions::new().open_timeout(Duration::from_millis(50));
    match Consumer::open(path, &opts) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{path} opened"),
    }
}

fn patch(path: &str, offset: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

#[test]
fn bad_files_are_refused_with_a_specific_error() {
    // Random bytes.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk");
    std::fs::write(
        &junk,
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761u32) >> 13) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(open_err(junk.to_str().unwrap()).contains("wrong magic"));
    // Too small to hold a header.
    let small = dir.path().join("small");
    std::fs::write(&small, b"SHMRING").unwrap();
    assert!(open_err(small.to_str().unwrap()).contains("truncated"));
    // Truncated after creation.
    let (_d, path) = kept_file_ring(4096);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(2048)
        .unwrap();
    assert!(
        open_err(&path).contains("truncated or resized"),
        "{}",
        open_err(&path)
    );
    // Wrong magic.
    let (_d, path) = kept_file_ring(4096);
    patch(&path, 0, b"NOTARING");
    assert!(open_err(&path).contains("wrong magic"));
    // Unknown layout version.
    let (_d, path) = kept_file_ring(4096);
    patch(&path, 8, &99u32.to_le_bytes());
    assert!(open_err(&path).contains("layout version 99"));
    // Capacity not a power of two.
    let (_d, path) = kept_file_ring(4096);
    patch(&path, 128, &3000u64.to_le_bytes());
    assert!(open_err(&path).contains("not a power of two"));
    // Capacity larger than the mapping.
    let (_d, path) = kept_file_ring(4096);
    patch(&path, 128, &8192u64.to_le_bytes());
    assert!(open_err(&path).contains("does not match the file"));
    // Max message larger than the ring allows.
    let (_d, path) = kept_file_ring(4096);
    patch(&path, 136, &4000u32.to_le_bytes());
    assert!(open_err(&path).contains("max message 4000 exceeds"));
    // Never initialised (zeroed header: a creator died while creating it).
    let zero = dir.path().join("zero");
    std::fs::write(&zero, vec![0u8; 2048]).unwrap();
    assert!(open_err(zero.to_str().unwrap()).contains("never initialised"));
    // A missing name.
    assert!(matches!(
        Consumer::open(
            &unique("missing"),
            &RingOptions::new().open_timeout(Duration::from_millis(20))
        ),
        Err(Error::NotFound(_))
    ));
    // Bad names.
    assert!(matches!(
        Producer::create("", &RingOptions::new()),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        Producer::create("/", &RingOptions::new()),
        Err(Error::InvalidName { .. })
    ));
    // Bad options.
    let e = Producer::create(&unique("cfg"), &RingOptions::new().capacity(1000)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid configuration: capacity 1000 is not a power of two"
    );
    let e = Producer::create(
        &unique("cfg"),
        &RingOptions::new().capacity(1024).max_message(600),
    )
    .unwrap_err();
    assert!(e.to_string().contains("max_message 600 exceeds 504"));
}

#[test]
fn segment_corrupted_while_in_use_yields_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring").to_str().unwrap().to_owned();
    let mut rx = Consumer::create(&path, &RingOptions::new().capacity(4096)).unwrap();
    let mut child = spawn_peer("producer", &[&path, "10", "block"], false);
    let mut scratch = Vec::new();
    for seq in 0..10 {
        check(seq, &rx.recv_timeout(LONG).unwrap(), &mut scratch).unwrap();
    }
    assert!(child.wait().unwrap().success());
    // A third party writes a garbage record header where the next message would go.
    let info = inspect(&path).unwrap();
    let slot = 1024 + (info.read_pos & (info.capacity - 1));
    patch(&path, slot, &0x0bad_f00d_0000_0040u64.to_le_bytes());
    match rx.try_recv() {
        Err(Error::Corrupt(msg)) => assert!(msg.contains("unknown record kind"), "{msg}"),
        other => panic!(
            "expected Corrupt, got {:?}",
            other.map(|m| m.map(|m| m.len()))
        ),
    }
    // A lying record header.
    let mut tx = Producer::create(&unique("rec"), &RingOptions::new().capacity(4096)).unwrap();
    drop(rx);
    tx.send(b"abc").unwrap();
    let name = tx.name();
    let rec_path = format!("/dev/shm{name}");
    patch(&rec_path, 1024, &[0xff, 0xff, 0, 0]); // len = 65535 > max
    let mut rx = Consumer::open(&name, &RingOptions::new()).unwrap();
    assert!(matches!(rx.try_recv(), Err(Error::Corrupt(_))));
    let mut buf = Vec::new();
    assert!(matches!(rx.try_recv_into(&mut buf), Err(Error::Corrupt(_))));
}

#[test]
fn clean_exit_of_producer_is_disconnected_after_all_messages() {
    let name = unique("exit");
    let mut rx = Consumer::create(&name, &RingOptions::new().capacity(1 << 12)).unwrap();
    let mut child = spawn_peer("producer", &[&name, "5000", "spin"], false);
    consume_all(&mut rx, 5000);
    assert!(child.wait().unwrap().success());
}

#[test]
fn consumer_never_attached_is_not_disconnected_but_times_out() {
    let name = unique("noconsumer");
    let mut tx = Producer::create(&name, &RingOptions::new().capacity(64)).unwrap();
    tx.send(&[0; 24]).unwrap(); // 32-byte record + 8: the rest cannot hold another
    assert!(matches!(
        tx.send_timeout(&[0; 24], Duration::from_millis(30)),
        Err(Error::Timeout)
    ));
    assert!(!tx.try_send(&[0; 24]).unwrap());
}

#[test]
fn timeout_forms_take_what_is_there_at_once_and_time_out_otherwise() {
    let name = unique("tmo");
    let opts = RingOptions::new().capacity(64);
    let mut tx = Producer::create(&name, &opts).unwrap();
    let mut rx = Consumer::open(&name, &opts).unwrap();
    let zero = Duration::ZERO;
    // Empty ring: both receive forms time out.
    assert!(matches!(rx.recv_timeout(zero), Err(Error::Timeout)));
    let mut buf = vec![1u8];
    assert!(matches!(
        rx.recv_timeout_into(&mut buf, zero),
        Err(Error::Timeout)
    ));
    // Room: both send forms succeed even with a zero timeout.
    tx.send_timeout(b"one", zero).unwrap();
    let mut g = tx.reserve_timeout(3, zero).unwrap();
    g.copy_from_slice(b"two");
    g.commit();
    // Two 16-byte records (+ the 8-byte next header slot) leave no room for a 32-byte one.
    assert!(matches!(
        tx.send_timeout(&[0; 24], zero),
        Err(Error::Timeout)
    ));
    assert!(matches!(tx.reserve_timeout(24, zero), Err(Error::Timeout)));
    // Messages there: both receive forms take them at once, in order.
    assert_eq!(&*rx.recv_timeout(zero).unwrap(), b"one");
    rx.recv_timeout_into(&mut buf, zero).unwrap();
    assert_eq!(buf, b"two");
    assert!(matches!(rx.recv_timeout(zero), Err(Error::Timeout)));
}
