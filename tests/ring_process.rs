//! The ring between real processes: the test binary re-executes itself as the peer.

#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::time::Duration;

use ipcring::ring::{duplex, inspect, Consumer, Producer, RingOptions, Side, WaitStrategy};
use ipcring::{Error, Sender, TryRecvError, TrySendError};
use support::setup::{open_producer, ring_pair, LONG};
use support::{
    assert_nothing_now, check, fill, got, message, recv_seqs, recv_seqs_to_end, send_seqs,
    thread_page_faults, unique, wait_until, Peer,
};

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
        // Polls 100 ms before it sleeps: a message sent within that ends the wait while
        // it still polls.
        "spin-100ms" => WaitStrategy::SpinBlock {
            spin: Duration::from_millis(100),
        },
        _ => WaitStrategy::default(),
    }
}

crate::peer_entry!(roles);

/// The peer roles this file's tests run, each in a process of its own.
fn roles(role: &str, args: Vec<String>) {
    let code = match role {
        // args: name, count, strategy — produce `count` messages then exit.
        "producer" => {
            let opts = RingOptions::new()
                .wait(strategy(&args[2]))
                .open_timeout(LONG);
            let mut tx = Producer::open(&args[0], &opts).expect("open producer");
            send_seqs(&mut tx, 0..args[1].parse().unwrap());
            0
        }
        // args: name, count — produce `count` messages, then stay attached and idle until
        // killed (the consumer falls asleep on an empty ring).
        "producer-then-idle" => {
            let mut tx = open_producer(&args[0]);
            send_seqs(&mut tx, 0..args[1].parse().unwrap());
            support::hang()
        }
        // args: name — produce forever (until killed).
        "producer-forever" => {
            send_seqs(&mut open_producer(&args[0]), 0..);
            0
        }
        // args: name, strategy (optional) — consume, printing each seq before releasing
        // it, until killed.
        "consumer-print" => {
            let opts = RingOptions::new()
                .open_timeout(LONG)
                .wait(strategy(args.get(1).map_or("", String::as_str)));
            let mut rx = Consumer::open(&args[0], &opts).expect("open consumer");
            let mut out = std::io::stdout().lock();
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
        // With "await-waiting" for the strategy, it spins, and each echo is sent once the
        // other side waits for it.
        "echo-checked" => {
            let mode = args.get(1).map_or("", String::as_str);
            let await_waiting = mode == "await-waiting";
            let opts = RingOptions::new()
                .capacity(1 << 16)
                .open_timeout(LONG)
                .wait(strategy(if await_waiting { "spin" } else { mode }));
            let (mut tx, mut rx) = duplex(&args[0], Side::B, &opts).expect("duplex");
            let (mut buf, mut scratch) = (Vec::new(), Vec::new());
            for seq in 0.. {
                match rx.recv_into(&mut buf) {
                    Ok(()) => {}
                    Err(Error::Disconnected) => break,
                    Err(e) => panic!("{e}"),
                }
                check(seq, &buf, &mut scratch).unwrap();
                if await_waiting {
                    await_consumer_waiting(&format!("{}.ba", args[0]));
                }
                tx.send(&buf).expect("echo");
            }
            0
        }
        // args: name — as consumer, receive until an error; print "GOT n" and "ERR <error>",
        // exit with error_code(error).
        "consumer-report" => {
            // Keeps the ring when it ends, so a producer that comes after this consumer
            // gave up still finds it (the tests' temporary directory removes it).
            let opts = RingOptions::new()
                .capacity(4096)
                .open_timeout(LONG)
                .keep(true);
            let mut rx = Consumer::open_or_create(&args[0], &opts).expect("open consumer");
            let (mut buf, mut n) = (Vec::new(), 0u64);
            let e = loop {
                match rx.recv_timeout_into(&mut buf, LONG) {
                    Ok(()) => n += 1,
                    Err(e) => break e,
                }
            };
            println!("GOT {n}");
            println!("ERR {e}");
            error_code(&e)
        }
        // args: name, n — as producer (opening an existing ring), send n messages, then
        // wait until they are taken; print "ERR <error>", exit with error_code(error).
        "producer-report" => {
            let opts = RingOptions::new().open_timeout(LONG);
            let result = Producer::open(&args[0], &opts).and_then(|mut tx| {
                let mut m = Vec::new();
                for seq in 0..args[1].parse::<u64>().unwrap() {
                    message(seq, &mut m);
                    tx.send_timeout(&m, LONG)?;
                }
                tx.wait_drained(Some(LONG))
            });
            match result {
                Ok(()) => 0,
                Err(e) => {
                    println!("ERR {e}");
                    error_code(&e)
                }
            }
        }
        // args: name, count, prefault ("1" or "0") — open as consumer with that prefault
        // setting, receive `count` messages (each checked), print "FAULTS <n>": the page
        // faults this thread took while receiving them.
        "consumer-faults" => {
            let opts = RingOptions::new()
                .open_timeout(LONG)
                .prefault(args[2] == "1");
            let mut rx = Consumer::open(&args[0], &opts).expect("open consumer");
            let (mut buf, mut scratch) = (Vec::with_capacity(1024), Vec::with_capacity(1024));
            let before = thread_page_faults();
            for seq in 0..args[1].parse::<u64>().unwrap() {
                rx.recv_timeout_into(&mut buf, LONG).expect("recv");
                check(seq, &buf, &mut scratch).unwrap();
            }
            println!("FAULTS {}", thread_page_faults() - before);
            0
        }
        // args: dir — a tmpfs of 256 KiB is mounted there (see
        // `a_ring_larger_than_its_file_system_is_refused_when_attached_not_by_sigbus_later`):
        // create a 1 MiB ring in it, prefaulted (the default) and not, and open it as
        // consumer; print what each did.
        "create-in-small-fs" => {
            let name = format!("{}/ring", args[0]);
            let opts = RingOptions::new().capacity(1 << 20).open_timeout(LONG);
            match Producer::create(&name, &opts) {
                Err(e @ Error::SystemLimit { .. }) => println!("REFUSED {e}"),
                other => println!("UNEXPECTED create: {other:?}"),
            }
            println!("LEFT {}", std::path::Path::new(&name).exists());
            let lazy = Producer::create(&name, &opts.clone().prefault(false))
                .expect("create without prefaulting");
            println!("CREATED");
            match Consumer::open(&name, &opts) {
                Err(Error::SystemLimit { .. }) => println!("OPEN-REFUSED"),
                other => println!("UNEXPECTED open: {other:?}"),
            }
            drop(lazy);
            0
        }
        other => panic!("unknown role {other}"),
    };
    std::process::exit(code);
}

/// A peer's exit code for the error that ended it.
fn error_code(e: &Error) -> i32 {
    match e {
        Error::Disconnected => 0,
        Error::Undelivered { .. } => 3,
        Error::Corrupt(_) => 4,
        Error::BadSegment { .. } => 5,
        _ => 1,
    }
}

/// A word of the ring's header, read from its file (as a third process sees it).
fn header_word(path: &str, offset: u64) -> u64 {
    let f = std::fs::File::open(path).unwrap();
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, offset).unwrap();
    u64::from_le_bytes(b)
}

/// Offsets in the ring's header (docs/LAYOUT.md).
const WRITE_POS: u64 = 256;
const READ_POS: u64 = 384;
const DATA_WAITERS: u64 = 516;
const SPACE_WAITERS: u64 = 644;

/// Waits until the side that sleeps on the wake word at `waiters` has announced itself:
/// it is past its spin, in the sleeping loop, which checks the segment at each slice end.
fn wait_asleep(path: &str, waiters: u64) {
    wait_until("the peer to sleep", || {
        header_word(path, waiters) as u32 != 0
    });
}

/// Receives `n` messages from `producer`, checking each byte, then expects Disconnected.
/// The messages are `producer`'s progress: its hang guard counts from the last of them, so
/// a stream that takes long on a busy machine does not have its producer killed midway.
fn consume_all(rx: &mut Consumer, n: u64, producer: &Peer) {
    let mut scratch = Vec::new();
    for seq in 0..n {
        let msg = rx
            .recv_timeout(LONG)
            .unwrap_or_else(|e| panic!("message {seq}: {e}"));
        check(seq, &msg, &mut scratch).unwrap();
        if seq % 1024 == 0 {
            producer.progress();
        }
    }
    let r = rx.recv_timeout(LONG).map(|m| m.len());
    assert!(
        matches!(r, Err(Error::Disconnected)),
        "after {n} messages: {r:?}"
    );
}

fn stream(strategy_name: &str, n: u64) {
    let name = unique("stream");
    let opts = RingOptions::new()
        .capacity(1 << 16)
        .wait(strategy(strategy_name));
    let mut rx = Consumer::create(&name, &opts).unwrap();
    let mut child = Peer::spawn("producer", &[&name, &n.to_string(), strategy_name]);
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        consume_all(&mut rx, n, &child)
    }));
    // A producer that failed says why (its stderr) before the consumer's own complaint.
    child.finish();
    if let Err(p) = got {
        std::panic::resume_unwind(p);
    }
}

fn stream_count() -> u64 {
    support::env_count("IPCRING_STREAM_MESSAGES", 10_000_000)
}

/// The sequence numbers a `consumer-print` peer prints (`SEQ <n>` lines), in order. The
/// harness prints lines of its own on stdout too, and its "test peer ..." may precede the
/// first number on the same line: only the numbers are kept.
fn printed_seqs(peer: &mut Peer) -> impl Iterator<Item = u64> {
    peer.take_stdout()
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| Some(l.split_once("SEQ ")?.1.parse::<u64>().unwrap()))
}

/// The harness's deadline is a hang guard counted from the peer's last sign of progress,
/// not a limit on how long it runs: a producer that streams for longer than its deadline,
/// each message reported as progress, is not killed (a fixed 180 s once killed a healthy
/// producer of a ten-million-message stream on a busy machine, and its consumer rightly
/// said the peer had disconnected).
#[test]
fn a_producer_streaming_past_its_deadline_is_not_killed_while_it_makes_progress() {
    let name = unique("outlive");
    let mut rx = Consumer::create(&name, &RingOptions::new().capacity(1 << 14)).unwrap();
    let deadline = Duration::from_secs(2);
    let mut child = Peer::builder("producer-forever")
        .arg(&name)
        .deadline(deadline)
        .spawn();
    let start = std::time::Instant::now();
    let (mut seq, mut scratch) = (0u64, Vec::new());
    while start.elapsed() < deadline * 5 / 2 {
        let m = rx
            .recv_timeout(LONG)
            .unwrap_or_else(|e| panic!("message {seq}: {e}"));
        check(seq, &m, &mut scratch).unwrap();
        child.progress();
        seq += 1;
    }
    assert!(child.try_wait().is_none(), "the producer ended");
    child.kill();
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
    let mut child = Peer::spawn("echo-checked", &[&name, "sleep"]);
    for seq in 0..5000u64 {
        send_seqs(&mut tx, [seq]);
        recv_seqs(&mut rx, [seq]);
    }
    child.hang_up((tx, rx));
}

/// A consumer that sleeps at once (no spin phase) still checks its peer at every wait
/// slice: a producer SIGKILLed while the consumer sleeps is `Disconnected`, after every
/// message it sent.
#[test]
fn sleeping_consumer_sees_a_sigkilled_producer() {
    let name = unique("kill-sleep");
    let opts = RingOptions::new().capacity(1 << 12).wait(strategy("sleep"));
    let mut rx = Consumer::create(&name, &opts).unwrap();
    let mut child = Peer::spawn("producer-then-idle", &[&name, "100"]);
    recv_seqs(&mut rx, 0..100);
    // Empty now: a short wait sleeps and times out (the producer is alive).
    assert!(matches!(
        rx.recv_timeout(Duration::from_millis(30)),
        Err(Error::Timeout)
    ));
    child.kill(); // SIGKILL
    assert!(matches!(rx.recv_timeout(LONG), Err(Error::Disconnected)));
}

/// A spinning consumer that catches up with a burst shorter than its slip distance
/// (50 messages of 16-272 bytes, at most 14 KiB; the slip waits for 16 KiB) gives up the slip when
/// the producer stops publishing, and receives the whole burst, in order, while the
/// producer stays attached and idle; then it waits as before (a timeout while the
/// producer lives, `Disconnected` once it is killed).
#[test]
fn a_burst_shorter_than_the_slip_is_received_whole() {
    for strategy_name in ["spin", "block", "yield"] {
        let name = unique("slipburst");
        let opts = RingOptions::new()
            .capacity(1 << 20)
            .wait(strategy(strategy_name));
        let mut rx = Consumer::create(&name, &opts).unwrap();
        let mut child = Peer::spawn("producer-then-idle", &[&name, "50"]);
        recv_seqs(&mut rx, 0..50);
        assert!(
            matches!(
                rx.recv_timeout(Duration::from_millis(30)),
                Err(Error::Timeout)
            ),
            "{strategy_name}"
        );
        child.kill();
        assert!(
            matches!(rx.recv_timeout(LONG), Err(Error::Disconnected)),
            "{strategy_name}"
        );
    }
}

/// Returns once the consumer of ring `name` waits for its next record (`inspect`'s hint);
/// panics after `LONG`.
fn await_consumer_waiting(name: &str) {
    let deadline = std::time::Instant::now() + LONG;
    while !inspect(name).unwrap().consumer_waiting {
        assert!(
            std::time::Instant::now() < deadline,
            "{name}: the consumer never waited"
        );
        std::thread::yield_now();
    }
}

/// A consumer in another process excuses the producer's publish fence while it polls
/// (`wake::fences_excused`): once a wait of its ends while it still polled, the excuse word
/// says so; before it sleeps it withdraws the excuse (a sleeping consumer never leaves it
/// given), and the message sent to the sleeper still wakes it. Three rounds of
/// sleep, wake-up, poll.
#[test]
fn a_polling_consumer_excuses_the_fence_and_withdraws_it_before_it_sleeps() {
    let on = ipcring::wake::fences_excused();
    let name = unique("excuse");
    let opts = RingOptions::new().capacity(1 << 16);
    let mut tx = Producer::create(&name, &opts).unwrap();
    let mut c = Peer::spawn_piped("consumer-print", &[&name, "spin-100ms"]);
    let mut seqs = printed_seqs(&mut c);
    let (mut seq, mut m) = (0u64, Vec::new());
    let mut send = |seq: &mut u64| {
        message(*seq, &mut m);
        tx.send(&m).unwrap();
        assert_eq!(seqs.next(), Some(*seq), "the consumer printed");
        *seq += 1;
    };
    for round in 0..3 {
        // Nothing in flight: the consumer polls for 100 ms, then sleeps.
        let mut info = inspect(&name).unwrap();
        wait_until(&format!("round {round}: the consumer to sleep"), || {
            info = inspect(&name).unwrap();
            info.consumer_attached && info.consumer_asleep
        });
        assert!(
            !info.consumer_excuses,
            "round {round}: asleep with the excuse given"
        );
        // Its wake-up (a wait that slept) gives nothing; a message sent while it polls
        // again ends a wait in its spin phase, which gives the excuse (if this machine
        // has the barrier).
        send(&mut seq);
        wait_until(&format!("round {round}: the excuse"), || {
            send(&mut seq);
            inspect(&name).unwrap().consumer_excuses == on
        });
    }
    c.kill();
}

/// One message at a time between two processes, every message and echo checked: each
/// ring keeps starting over at index 0 once a few messages lie behind its write index,
/// so its positions run a lap ahead every few messages, and nothing is lost or reordered.
#[test]
fn one_message_at_a_time_recycles_the_first_lines_and_loses_nothing() {
    let name = unique("pingpong");
    // Both sides spin: a consumer asleep does not count as waiting for the next record.
    let opts = RingOptions::new()
        .capacity(1 << 16)
        .wait(WaitStrategy::Spin);
    let (mut tx, mut rx) = duplex(&name, Side::A, &opts).unwrap();
    let mut child = Peer::spawn("echo-checked", &[&name, "await-waiting"]);
    let (mut m, mut scratch) = (Vec::new(), Vec::new());
    let n = 2000u64;
    let ab = format!("{name}.ab");
    for seq in 0..n {
        message(seq, &mut m);
        // A ring starts over early only while its consumer waits (spinning) for the next record;
        // each side sends once the other waits (as an idle server does), so whether the
        // rings start over does not depend on how the two processes are scheduled.
        await_consumer_waiting(&ab);
        tx.send(&m).unwrap();
        let echo = rx.recv_timeout(LONG).unwrap();
        check(seq, &echo, &mut scratch).unwrap();
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
    child.hang_up((tx, rx));
}

#[test]
fn consumer_may_start_first_and_open_waits_for_creator() {
    let name = unique("order");
    // The peer opens a producer on a name that does not exist yet: it waits.
    let mut child = Peer::spawn("producer", &[&name, "1000", "block"]);
    std::thread::sleep(Duration::from_millis(50));
    let mut rx = Consumer::create(&name, &RingOptions::new().capacity(4096)).unwrap();
    consume_all(&mut rx, 1000, &child);
    child.finish();
}

#[test]
fn producer_sigkilled_midstream_is_disconnected_after_its_messages() {
    let name = unique("kill-p");
    let mut rx = Consumer::create(&name, &RingOptions::new().capacity(1 << 14)).unwrap();
    let mut child = Peer::spawn("producer-forever", &[&name]);
    recv_seqs(&mut rx, 0..20_000);
    // SIGKILL: everything committed before it is delivered, intact and in order; then
    // Disconnected (not a hang, not a torn message).
    child.kill();
    assert!(recv_seqs_to_end(&mut rx, 20_000) >= 20_000);
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
            // A producer waiting for room sees the killed consumer as Disconnected (within
            // the liveness slice, before the replacement may have attached): nothing was
            // sent, and the same message goes out again once the replacement is there.
            let start = std::time::Instant::now();
            loop {
                match tx.send_timeout(&m, LONG) {
                    Ok(()) => break,
                    Err(Error::Disconnected) if start.elapsed() < LONG => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    Err(e) => panic!("message {seq}: {e}"),
                }
            }
        }
        tx
    });
    // First consumer: prints each seq before releasing it.
    let mut c1 = Peer::spawn_piped("consumer-print", &[&name]);
    let mut seqs = printed_seqs(&mut c1);
    let mut last = 0u64;
    for _ in 0..5_000 {
        last = seqs.next().expect("first consumer died early");
    }
    c1.kill();
    let last = seqs.last().unwrap_or(last);
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
    recv_seqs(&mut rx, first_seq + 1..n);
    let _tx = producer.join().unwrap();
}

/// `inspect` says when the consumer waits for its next message (the hint a producer reads
/// before it starts over at index 0) and when it sleeps. A consumer in another process
/// killed in its sleep leaves both, and the producer still has the whole ring for the
/// next consumer (it does not start over for a sleeper: before, it could queue only the
/// few hundred bytes below the index it padded from); the replacement clears the hint and
/// the dead sleeper's count at attach and gets every message; a wait that times out clears
/// the hint, a drop too.
#[test]
fn a_consumer_killed_in_its_sleep_leaves_the_whole_ring_for_the_next() {
    let name = unique("waiting");
    let capacity = 4096u64;
    let opts = RingOptions::new().capacity(capacity);
    let mut tx = Producer::create(&name, &opts).unwrap();
    assert!(!inspect(&name).unwrap().consumer_waiting, "no consumer yet");
    let mut c1 = Peer::spawn_piped("consumer-print", &[&name, "sleep"]);
    let mut seqs = printed_seqs(&mut c1);
    let mut m = Vec::new();
    // Three messages: the next one is where this ring's producer first checks whether it
    // may start over (a few records in).
    for seq in 0..3 {
        await_consumer_waiting(&name);
        send_seqs(&mut tx, [seq]);
        assert_eq!(seqs.next(), Some(seq), "the consumer printed");
    }
    wait_until("the consumer to sleep", || {
        let info = inspect(&name).unwrap();
        info.consumer_waiting && info.consumer_asleep
    });
    c1.kill();
    let info = inspect(&name).unwrap();
    assert!(
        info.consumer_waiting && info.consumer_asleep,
        "a killed sleeper's hint stays"
    );
    // Queue three quarters of the ring while no consumer is there.
    let (first_queued, mut seq, mut queued) = (3, 3, 0u64);
    loop {
        message(seq, &mut m);
        let record = (m.len() as u64 + 8).div_ceil(8) * 8;
        if queued + record > capacity * 3 / 4 {
            break;
        }
        tx.send_timeout(&m, LONG)
            .unwrap_or_else(|e| panic!("message {seq} after {queued} bytes queued: {e}"));
        queued += record;
        seq += 1;
    }
    let mut rx = Consumer::open(&name, &opts).unwrap();
    let info = inspect(&name).unwrap();
    // Else every send would make a futex call to wake the dead sleeper.
    assert!(
        !info.consumer_waiting && !info.consumer_asleep,
        "cleared at attach"
    );
    recv_seqs(&mut rx, first_queued..seq);
    assert!(matches!(
        rx.recv_timeout(Duration::from_millis(20)),
        Err(Error::Timeout)
    ));
    assert!(
        !inspect(&name).unwrap().consumer_waiting,
        "cleared by a timeout"
    );
    let waiter = std::thread::spawn(move || {
        let got = rx.recv_timeout(LONG).map(|m| m.to_vec());
        (rx, got)
    });
    await_consumer_waiting(&name);
    send_seqs(&mut tx, [seq]);
    let (rx, got) = waiter.join().unwrap();
    check(seq, &got.unwrap(), &mut Vec::new()).unwrap();
    drop(rx);
    assert!(!inspect(&name).unwrap().consumer_waiting, "cleared at drop");
}

/// A producer in another process killed asleep waiting for room leaves its count in the
/// space wake word; the next producer clears it at attach (else every release of the
/// consumer would make a futex call for nobody), and the consumer still gets every
/// message the first one sent.
#[test]
fn a_producer_killed_in_its_sleep_is_forgotten_by_the_next() {
    let name = unique("asleep");
    let opts = RingOptions::new().capacity(4096);
    let mut rx = Consumer::create(&name, &opts).unwrap();
    let mut child = Peer::spawn("producer", &[&name, "1000000", "sleep"]);
    wait_until("the producer to sleep", || {
        inspect(&name).unwrap().producer_asleep
    });
    child.kill();
    assert!(
        inspect(&name).unwrap().producer_asleep,
        "a killed sleeper's count stays"
    );
    let mut scratch = Vec::new();
    let mut seq = 0u64;
    while let Some(m) = got(rx.try_recv()) {
        check(seq, &m, &mut scratch).unwrap();
        seq += 1;
    }
    assert!(seq > 0, "the ring was full");
    let mut tx = Producer::open(&name, &opts).unwrap();
    assert!(
        !inspect(&name).unwrap().producer_asleep,
        "cleared at attach"
    );
    send_seqs(&mut tx, [seq]);
    recv_seqs(&mut rx, [seq]);
}

/// A creator's drop removes its ring's name only while the name still leads to that ring:
/// a client that created the rings and leaves while its server already made new ones under
/// the same names (the README's RPC pair, seen in CI) must not take the new names away.
#[test]
fn a_creators_drop_leaves_a_name_that_leads_to_a_newer_ring() {
    let (_d, path) = file_ring();
    let opts = RingOptions::new().capacity(4096);
    let old = Producer::create(&path, &opts).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut new = Producer::create(&path, &opts).unwrap();
    drop(old);
    let mut rx = Consumer::open(&path, &opts).unwrap();
    new.send(b"still named").unwrap();
    assert_eq!(&*rx.recv_timeout(LONG).unwrap(), b"still named");
    drop((new, rx));
    assert!(
        !std::path::Path::new(&path).exists(),
        "the newer ring's creator removes its name"
    );
}

#[test]
fn second_producer_is_refused_in_another_process_and_in_this_one() {
    let name = unique("role");
    let _tx = Producer::create(&name, &RingOptions::new().capacity(4096)).unwrap();
    assert_eq!(Peer::spawn("second-producer", &[&name]).code(), 3);
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
    Peer::spawn("leave-stale", &[&name]).finish();
    let info = inspect(&name).unwrap();
    assert!(info.segment.is_stale());
    assert_eq!(info.fill, 3 * 16); // three 1-byte messages, 16-byte records
    let r = Producer::create(&name, &RingOptions::new());
    assert!(matches!(r, Err(Error::AlreadyExists(_))), "{r:?}");
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
    let r = Producer::create(&name, &RingOptions::new().reclaim_stale(true));
    assert!(matches!(r, Err(Error::AlreadyExists(_))), "{r:?}");
}

#[test]
fn created_with_mode_0600_by_default_and_configurable() {
    for (opts, mode) in [
        (RingOptions::new(), 0o600),
        (RingOptions::new().mode(0o640), 0o640),
    ] {
        let name = unique("mode");
        let _tx = Producer::create(&name, &opts.capacity(4096)).unwrap();
        let meta = std::fs::metadata(format!("/dev/shm{name}")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, mode);
    }
}

/// A ring in a file, kept, whose bytes the test then damages.
fn kept_file_ring(capacity: u64) -> (tempfile::TempDir, String) {
    let (dir, path) = file_ring();
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
    // A file of `bytes`, as a path.
    let dir = tempfile::tempdir().unwrap();
    let file_of = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    };
    // Random bytes.
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761u32) >> 13) as u8)
        .collect();
    assert!(open_err(&file_of("junk", &random)).contains("wrong magic"));
    // Too small to hold a header.
    assert!(open_err(&file_of("small", b"SHMRING")).contains("truncated"));
    // Truncated after creation.
    let (_d, path) = kept_file_ring(4096);
    set_len(&path, 2048);
    assert!(
        open_err(&path).contains("truncated or resized"),
        "{}",
        open_err(&path)
    );
    // A header field patched: the offset, the bytes written there, what the error says.
    for (offset, bytes, says) in [
        // Wrong magic.
        (0, &b"NOTARING"[..], "wrong magic"),
        // Unknown layout version.
        (8, &99u32.to_le_bytes(), "layout version 99"),
        // Capacity not a power of two.
        (128, &3000u64.to_le_bytes(), "not a power of two"),
        // Capacity larger than the mapping.
        (128, &8192u64.to_le_bytes(), "does not match the file"),
        // Max message larger than the ring allows.
        (136, &4000u32.to_le_bytes(), "max message 4000 exceeds"),
    ] {
        let (_d, path) = kept_file_ring(4096);
        patch(&path, offset, bytes);
        let e = open_err(&path);
        assert!(e.contains(says), "{e}");
    }
    // Never initialised (zeroed header: a creator died while creating it).
    assert!(open_err(&file_of("zero", &[0; 2048])).contains("never initialised"));
    // A missing name.
    assert!(matches!(
        Consumer::open(
            &unique("missing"),
            &RingOptions::new().open_timeout(Duration::from_millis(20))
        ),
        Err(Error::NotFound(_))
    ));
    // Bad names.
    for bad in ["", "/"] {
        let r = Producer::create(bad, &RingOptions::new());
        assert!(matches!(r, Err(Error::InvalidName { .. })));
    }
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
    let (_d, path, mut rx) = file_consumer(4096);
    let mut child = Peer::spawn("producer", &[&path, "10", "block"]);
    recv_seqs(&mut rx, 0..10);
    child.finish();
    // A third party writes a garbage record header where the next message would go.
    let info = inspect(&path).unwrap();
    let slot = 1024 + (info.read_pos & (info.capacity - 1));
    patch(&path, slot, &0x0bad_f00d_0000_0040u64.to_le_bytes());
    let r = rx.try_recv().map(|m| m.len());
    assert!(
        matches!(&r, Err(TryRecvError::Failed(Error::Corrupt(m))) if m.contains("unknown record kind")),
        "{r:?}"
    );
    // A lying record header.
    let mut tx = Producer::create(&unique("rec"), &RingOptions::new().capacity(4096)).unwrap();
    drop(rx);
    tx.send(b"abc").unwrap();
    let name = tx.name();
    let rec_path = format!("/dev/shm{name}");
    patch(&rec_path, 1024, &[0xff, 0xff, 0, 0]); // len = 65535 > max
    let mut rx = Consumer::open(&name, &RingOptions::new()).unwrap();
    assert!(matches!(
        rx.try_recv(),
        Err(TryRecvError::Failed(Error::Corrupt(_)))
    ));
    let mut buf = Vec::new();
    assert!(matches!(
        rx.try_recv_into(&mut buf),
        Err(TryRecvError::Failed(Error::Corrupt(_)))
    ));
}

#[test]
fn clean_exit_of_producer_is_disconnected_after_all_messages() {
    let name = unique("exit");
    let mut rx = Consumer::create(&name, &RingOptions::new().capacity(1 << 12)).unwrap();
    let mut child = Peer::spawn("producer", &[&name, "5000", "spin"]);
    consume_all(&mut rx, 5000, &child);
    child.finish();
}

#[test]
fn consumer_never_attached_is_not_disconnected_but_times_out() {
    let name = unique("noconsumer");
    let mut tx = Producer::create(&name, &RingOptions::new().capacity(64)).unwrap();
    tx.send(&[0; 24]).unwrap(); // 32-byte record + 8: the rest cannot hold another
    let r = tx.send_timeout(&[0; 24], Duration::from_millis(30));
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    assert!(tx.try_send(&[0; 24]).unwrap_err().is_full());
}

/// `try_send` on a full ring is `Err(TrySendError::Full)` (inherent and through the
/// `Sender` trait), never a silent drop: `?` into an `ipcring::Result` makes it
/// `Error::WouldBlock`, and an `io::Result` `io::ErrorKind::WouldBlock`. `try_recv_into` on
/// an empty ring is `Err(TryRecvError::Empty)` with the buffer empty, and `?` makes it
/// `WouldBlock` too. Nothing reported full was sent.
#[test]
fn try_outcomes_are_full_and_empty_and_question_mark_makes_them_would_block() {
    fn send_now<S: Sender>(tx: &mut S, msg: &[u8]) -> ipcring::Result<()> {
        tx.try_send(msg)?;
        Ok(())
    }
    fn send_now_io(tx: &mut Producer, msg: &[u8]) -> std::io::Result<()> {
        tx.try_send(msg).map_err(ipcring::Error::from)?;
        Ok(())
    }
    // Messages of up to 272 bytes: a few fit.
    let (mut tx, mut rx) = ring_pair("tryfull", &RingOptions::new().capacity(2048));
    assert_nothing_now(&mut rx);
    assert!(rx.try_recv().unwrap_err().is_empty());
    let sent = fill(&mut tx, 1000);
    let mut m = Vec::new();
    message(sent, &mut m);
    assert!(matches!(tx.try_send(&m), Err(TrySendError::Full)));
    let r = Sender::try_send(&mut tx, &m);
    assert!(matches!(r, Err(TrySendError::Full)), "{r:?}");
    assert!(matches!(tx.try_reserve(m.len()), Err(TrySendError::Full)));
    assert!(matches!(send_now(&mut tx, &m), Err(Error::WouldBlock)));
    assert!(matches!(send_now(&mut &mut tx, &m), Err(Error::WouldBlock)));
    assert_eq!(
        send_now_io(&mut tx, &m).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    // Exactly what was accepted comes out, then nothing.
    let (mut buf, mut scratch) = (Vec::new(), Vec::new());
    for seq in 0..sent {
        rx.try_recv_into(&mut buf).unwrap();
        check(seq, &buf, &mut scratch).unwrap();
    }
    assert!(rx.try_recv_into(&mut buf).unwrap_err().is_empty());
}

#[test]
fn timeout_forms_take_what_is_there_at_once_and_time_out_otherwise() {
    let (mut tx, mut rx) = ring_pair("tmo", &RingOptions::new().capacity(64));
    let zero = Duration::ZERO;
    // Empty ring: both receive forms time out.
    assert!(matches!(rx.recv_timeout(zero), Err(Error::Timeout)));
    let mut buf = vec![1u8];
    let r = rx.recv_timeout_into(&mut buf, zero);
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    // Room: both send forms succeed even with a zero timeout.
    tx.send_timeout(b"one", zero).unwrap();
    let mut g = tx.reserve_timeout(3, zero).unwrap();
    g.copy_from_slice(b"two");
    g.commit();
    // Two 16-byte records (+ the 8-byte next header slot) leave no room for a 32-byte one.
    let r = tx.send_timeout(&[0; 24], zero);
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    assert!(matches!(tx.reserve_timeout(24, zero), Err(Error::Timeout)));
    // Messages there: both receive forms take them at once, in order.
    assert_eq!(&*rx.recv_timeout(zero).unwrap(), b"one");
    rx.recv_timeout_into(&mut buf, zero).unwrap();
    assert_eq!(buf, b"two");
    assert!(matches!(rx.recv_timeout(zero), Err(Error::Timeout)));
}

/// A ring in a fresh directory, as a path.
fn file_ring() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring").to_str().unwrap().to_owned();
    (dir, path)
}

/// The consumer of a new [`file_ring`] of `capacity` bytes.
fn file_consumer(capacity: u64) -> (tempfile::TempDir, String, Consumer) {
    let (dir, path) = file_ring();
    let rx = Consumer::create(&path, &RingOptions::new().capacity(capacity)).unwrap();
    (dir, path, rx)
}

/// The consumer of a new [`file_ring`] of 16 KiB, into which a producer process sent 50
/// messages and left.
fn file_consumer_after_50() -> (tempfile::TempDir, String, Consumer) {
    let (dir, path, rx) = file_consumer(1 << 14);
    Peer::spawn("producer", &[&path, "50", "block"]).finish();
    (dir, path, rx)
}

/// Waits for a `*-report` peer: it printed an `ERR` line holding `error`, and exited with
/// `code`.
fn ended_with(mut peer: Peer, code: i32, error: &str) {
    let err = peer.wait_line("ERR ");
    assert!(err.contains(error), "{err}");
    assert_eq!(peer.code(), code);
}

/// Waits for the `consumer-report` peer: it printed `got`, then as [`ended_with`].
fn consumer_ended(mut consumer: Peer, code: i32, got: &str, error: &str) {
    assert_eq!(consumer.wait_line("GOT "), got);
    ended_with(consumer, code, error);
}

fn set_len(path: &str, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// `inspect` of a ring whose `read_pos` another process set to the largest value reports
/// the positions inconsistent, and no consumer waiting (it read the hint against an
/// unchecked position plus one: a panic in a debug build, found by the fuzzer).
#[test]
fn inspect_of_a_read_pos_at_the_top_of_its_range_is_inconsistent_not_a_panic() {
    let (_d, path) = file_ring();
    let mut tx = Producer::create(&path, &RingOptions::new().capacity(4096)).unwrap();
    tx.send(b"x").unwrap();
    patch(&path, READ_POS, &u64::MAX.to_le_bytes());
    let info = inspect(&path).unwrap();
    assert_eq!(info.read_pos, u64::MAX);
    assert!(!info.positions_consistent() && !info.consumer_waiting);
}

#[test]
fn write_pos_moved_past_the_records_is_corrupt_not_a_silent_hang() {
    // A consumer asleep on an empty ring; a third process moves write_pos 64 bytes ahead;
    // then a producer comes with 50 messages. Before: the producer wrote them where the
    // consumer never looks, and both waited for ever.
    let (_d, path) = file_ring();
    let consumer = Peer::spawn_piped("consumer-report", &[&path]);
    wait_until("the consumer", || {
        inspect(&path).is_ok_and(|i| i.consumer_attached)
    });
    wait_asleep(&path, DATA_WAITERS);
    let w = header_word(&path, WRITE_POS);
    patch(&path, WRITE_POS, &(w + 64).to_le_bytes());
    let producer = Peer::spawn_piped("producer-report", &[&path, "50"]);
    ended_with(producer, 4, "past the last record");
    consumer_ended(consumer, 4, "GOT 0", "none is at position");
}

#[test]
fn write_pos_moved_after_a_producer_left_is_corrupt_after_its_messages() {
    let (_d, path, mut rx) = file_consumer_after_50();
    let w = header_word(&path, WRITE_POS);
    patch(&path, WRITE_POS, &(w + 64).to_le_bytes());
    // Every committed message is delivered, then Corrupt instead of Disconnected.
    recv_seqs(&mut rx, 0..50);
    assert!(matches!(rx.recv_timeout(LONG), Err(Error::Corrupt(_))));
}

#[test]
fn producer_reports_how_many_messages_a_departed_consumer_left_unread() {
    let (_d, path, mut rx) = file_consumer(1 << 16);
    let producer = Peer::spawn_piped("producer-report", &[&path, "100"]);
    recv_seqs(&mut rx, 0..10);
    // Once the producer waits for the rest to be taken, all 100 are in the ring (they
    // fit): leave, so the count is exact.
    wait_asleep(&path, SPACE_WAITERS);
    rx.set_keep(true);
    drop(rx);
    ended_with(producer, 3, "left with 90 message(s)");
}

#[test]
fn producer_waiting_for_its_consumer_ends_once_everything_was_taken() {
    let (_d, path, mut rx) = file_consumer(1 << 12);
    let mut producer = Peer::spawn_piped("producer-report", &[&path, "1000"]);
    recv_seqs(&mut rx, 0..1000);
    producer.finish_output();
}

#[test]
fn truncation_while_a_side_sleeps_is_bad_segment_not_sigbus() {
    // Consumer side: asleep on an empty ring whose producer (this process) is alive; the
    // file is cut to half. The cut keeps the page the consumer polls, so even a peer
    // caught between its check and its next look would not fault: the outcome is exact.
    let (_d, path) = file_ring();
    let mut tx = Producer::create(&path, &RingOptions::new().capacity(4096)).unwrap();
    tx.send(b"first").unwrap();
    let consumer = Peer::spawn_piped("consumer-report", &[&path]);
    wait_until("the consumer to take the message", || {
        inspect(&path).is_ok_and(|i| i.consumer_attached && i.fill == 0)
    });
    wait_asleep(&path, DATA_WAITERS);
    set_len(&path, (1024 + 4096) / 2);
    consumer_ended(consumer, 5, "GOT 1", "resized from 5120 to 2560");
    drop(tx); // sees the cut too, and leaves the mapping alone

    // Producer side: waiting for a consumer to take its messages; the file is cut to
    // its header.
    let (_d, path) = file_ring();
    // A consumer is attached (so the producer waits for it) but takes nothing.
    let rx = Consumer::create(&path, &RingOptions::new().capacity(4096)).unwrap();
    let producer = Peer::spawn_piped("producer-report", &[&path, "3"]);
    wait_until("the producer", || {
        inspect(&path).is_ok_and(|i| i.producer_attached && i.fill > 0)
    });
    wait_asleep(&path, SPACE_WAITERS);
    set_len(&path, 1024);
    ended_with(producer, 5, "resized from 5120 to 1024");
    drop(rx);
}

#[test]
fn records_zeroed_by_a_cut_and_regrow_are_corrupt_not_a_clean_end() {
    // A producer sends 50 messages and leaves; the file is cut to its header and grown
    // back (the records read zero). Before: the consumer saw an empty ring and a producer
    // gone, and ended cleanly with 50 messages lost.
    let (_d, path, mut rx) = file_consumer_after_50();
    set_len(&path, 1024);
    set_len(&path, 1024 + (1 << 14));
    match rx.recv_timeout(LONG) {
        Err(Error::Corrupt(msg)) => assert!(msg.contains("none is at position 0"), "{msg}"),
        other => panic!("expected Corrupt, got {:?}", other.map(|m| m.len())),
    };
}

/// A fresh ring's first lap, between two processes: prefaulted (the default for this size),
/// neither side takes a page fault while the messages flow; without it, the producer takes
/// one per 4 KiB page it first writes (and the consumer some: the kernel maps pages it reads
/// in groups). Counts, not times: the same on every machine.
#[test]
#[cfg(target_os = "linux")]
fn a_prefaulted_ring_takes_no_page_faults_on_its_first_lap() {
    const CAPACITY: u64 = 1 << 20;
    let pages = (CAPACITY / 4096) as i64;
    // Messages average about 150 bytes: this is more than two laps.
    let n: u64 = 2 * CAPACITY / 100;
    let mut seen = vec![];
    for prefault in [true, false] {
        let name = unique("prefault");
        let opts = RingOptions::new().capacity(CAPACITY).prefault(prefault);
        let mut tx = Producer::create(&name, &opts).unwrap();
        let mut child = Peer::spawn_piped(
            "consumer-faults",
            &[&name, &n.to_string(), if prefault { "1" } else { "0" }],
        );
        let mut m = Vec::with_capacity(1024);
        let before = thread_page_faults();
        for seq in 0..n {
            message(seq, &mut m);
            tx.send_timeout(&m, LONG).unwrap();
        }
        let producer = thread_page_faults() - before;
        tx.wait_drained(Some(LONG)).unwrap();
        let line = child.wait_line("FAULTS ");
        let consumer: i64 = line["FAULTS ".len()..].parse().unwrap();
        child.finish();
        seen.push((prefault, producer, consumer));
    }
    let [(_, p_on, c_on), (_, p_off, c_off)] = seen[..] else {
        unreachable!()
    };
    assert!(
        p_on <= 2 && c_on <= 2,
        "prefaulted: the producer took {p_on} page faults and the consumer {c_on} ({pages} pages): {seen:?}"
    );
    assert!(
        p_off >= pages / 2 && c_off > c_on,
        "not prefaulted, the first lap faults in: producer {p_off}, consumer {c_off} ({pages} pages): {seen:?}"
    );
}

/// True if this user may mount a tmpfs in a new user and mount namespace of its own.
#[cfg(target_os = "linux")]
fn can_mount_in_a_namespace() -> bool {
    let ok = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "true"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "skipped: needs `unshare --user --map-root-user --mount` (util-linux, user namespaces)"
        );
    }
    ok
}

/// A ring whose memory its file system cannot provide (a 256 KiB tmpfs, mounted in a
/// namespace of the peer's own, for a 1 MiB ring): prefaulted, `create` and `open` fail
/// with `SystemLimit` and the failed `create` leaves no name behind, where without
/// prefaulting the ring is made and a write past 256 KiB would raise SIGBUS.
#[test]
#[cfg(target_os = "linux")]
fn a_ring_larger_than_its_file_system_is_refused_when_attached_not_by_sigbus_later() {
    if !can_mount_in_a_namespace() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let mount = r#"mount -t tmpfs -o size=256k ipcring-test "$0" && exec "$@""#;
    let out = Peer::builder("create-in-small-fs")
        .arg(d)
        .launcher(&[
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            mount,
            d,
        ])
        .stdout_piped()
        .spawn()
        .finish_output();
    let said: Vec<&str> = out
        .lines()
        .map(|l| l.trim_start_matches("test peer ... "))
        .filter(|l| {
            ["REFUSED", "LEFT", "CREATED", "OPEN-REFUSED", "UNEXPECTED"]
                .iter()
                .any(|w| l.starts_with(w))
        })
        .collect();
    assert_eq!(said.len(), 4, "{out}");
    assert!(
        said[0].starts_with("REFUSED system limit: ")
            && said[0].contains("bytes of shared memory could not be provided"),
        "{out}"
    );
    assert_eq!(
        said[1..],
        ["LEFT false", "CREATED", "OPEN-REFUSED"],
        "{out}"
    );
}
