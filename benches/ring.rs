//! The ring between two real processes, each figure beside the machine's floor measured
//! right before and after it (these machines are shared and noisy: ratios hold, absolute
//! figures drift). Run: `cargo bench --bench ring` (`-- --quick` for a short run).
//!
//! This binary re-executes itself as the peer (env `IPCRING_BENCH_PEER`).
//!
//! `-- --wake-only`: only the round trip where every wait sleeps (`SpinBlock { spin: 0 }`
//! on both sides) against the raw futex ping-pong, p50 and mean, in rounds.
//! `-- --pause-only`: a peer that answers after a pause (100 µs, 1 ms, 10 ms), default
//! strategy, against the futex floor whose peer pauses the same way.
//! `-- --wake-count ring` (or `floor`): exactly `IPCRING_BENCH_COUNT` such round trips and
//! nothing else, to count system calls per round trip, e.g.
//! `perf stat -e syscalls:sys_enter_futex,syscalls:sys_enter_sched_yield,context-switches`.
//!
//! On a machine with two or more CPUs the bench pins itself to CPU 0 and every peer to
//! CPU 1 (rtrb's two threads likewise), so that floors, ring and rtrb all run on the same
//! pair of CPUs and the scheduler cannot move one side onto the other's CPU halfway
//! through a figure. `IPCRING_BENCH_NOPIN=1` turns that off.
//!
//! Streaming is measured in rounds (rtrb, then the ring, then the ring with batches),
//! and each round's ratio is taken within the round: these virtual machines switch
//! between placements that change every rate several-fold within seconds, so the
//! median of per-round ratios is the figure, printed with its range. Each queue is new in
//! each round and its clock starts once its consumer has taken a first 1000 messages (so
//! neither a process's nor a thread's start is counted); the row "one lap in" starts it
//! after both queues have carried a whole lap, as in a long stream. Both queues' loops
//! know the message size at compile time for 64 B and 1 KiB (rtrb's slots are `[u8; N]`;
//! the ring's producer calls `reserve(N)` and copies an `[u8; N]`, as a program streaming
//! fixed-size messages does), so the comparison is between the queues, not their callers'
//! code.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use ipcring::measure::{self, Stats};
use ipcring::ring::{duplex, Consumer, Producer, RingOptions, Side, WaitStrategy};
use support::{arg, divisor, floor_futex, floor_spin, floor_split, median, ns, pin, spawn, uniq};

/// The prefix of the segment names this bench creates.
const NAMES: &str = "/ipcring-bench";

/// Ring options for a peer role's `extra`: the wait strategy ("spin"; "sleep" for
/// `SpinBlock { spin: 0 }`, every wait sleeps; else the default or
/// `IPCRING_BENCH_SPIN_US`), optionally followed by `:` and a capacity in bytes (else
/// `IPCRING_BENCH_CAPACITY`, else 4 MiB).
fn opts(extra: &str) -> RingOptions {
    let (strategy, cap) = match extra.split_once(':') {
        Some((s, c)) => (s, c.parse().ok()),
        None => (extra, None),
    };
    let w = match strategy {
        "spin" => WaitStrategy::Spin,
        "sleep" => WaitStrategy::SpinBlock {
            spin: Duration::ZERO,
        },
        _ => match env("IPCRING_BENCH_SPIN_US") {
            Some(us) => WaitStrategy::SpinBlock {
                spin: Duration::from_micros(us),
            },
            None => WaitStrategy::default(),
        },
    };
    RingOptions::new()
        .prefault(env("IPCRING_BENCH_PREFAULT") != Some(0))
        .capacity(
            cap.or_else(|| env("IPCRING_BENCH_CAPACITY"))
                .unwrap_or(1 << 22),
        )
        .wait(w)
        .open_timeout(Duration::from_secs(10))
}

/// The environment variable `var`, parsed; `None` if unset or not a `T`.
fn env<T: std::str::FromStr>(var: &str) -> Option<T> {
    std::env::var(var).ok()?.parse().ok()
}

/// The strategy in an "echo" peer's `extra` (after the pause, if any).
fn strategy_of(extra: &str) -> &str {
    extra
        .split_once('/')
        .map_or(extra, |(_, strategy)| strategy)
}

fn peer(role: &str, name: &str, extra: &str) {
    pin(1);
    match role {
        "floor-spin" => measure::floor_spin_peer(name).unwrap(),
        "floor-split" => measure::floor_spin_split_peer(name).unwrap(),
        "floor-records" => measure::floor_records_peer(name, extra.parse().unwrap()).unwrap(),
        "floor-futex" => measure::floor_futex_peer(name).unwrap(),
        "floor-futex-pause" => {
            let us: u64 = extra.parse().unwrap();
            measure::floor_futex_peer_paused(name, Some(Duration::from_micros(us))).unwrap()
        }
        "echo" => {
            // extra: the strategy, or "<pause in µs>/<strategy>" to answer after a pause.
            let (mut tx, mut rx) = duplex(name, Side::B, &opts(strategy_of(extra))).unwrap();
            match extra.split_once('/') {
                Some((us, _)) => {
                    let pause = Duration::from_micros(us.parse().unwrap());
                    measure::echo_peer_paused(&mut tx, &mut rx, pause).unwrap();
                }
                None => measure::echo_peer(&mut tx, &mut rx).unwrap(),
            }
        }
        "sink-batch" => {
            // Drain many, release once: one release (and its fence) per batch.
            let mut rx = Consumer::open(name, &opts(extra)).unwrap();
            let mut buf = vec![0u8; 1 << 17];
            let mut n = 0u64;
            loop {
                match rx.recv_batch(256, None, |m| {
                    copy_sized(&mut buf[..m.len()], m);
                    std::hint::black_box(&buf);
                    n += 1;
                }) {
                    Ok(_) => {}
                    Err(ipcring::Error::Disconnected) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            std::hint::black_box((n, &buf));
        }
        "sink" => {
            // Zero-copy receive, then one memcpy out: the same work as rtrb's reader.
            let mut rx = Consumer::open(name, &opts(extra)).unwrap();
            let mut buf = vec![0u8; 1 << 17];
            let mut n = 0u64;
            loop {
                match rx.recv() {
                    Ok(m) => {
                        copy_sized(&mut buf[..m.len()], &m);
                        std::hint::black_box(&buf);
                        n += 1;
                    }
                    Err(ipcring::Error::Disconnected) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            std::hint::black_box((n, &buf));
        }
        _ => panic!("unknown peer role {role}"),
    }
}

fn floor_records(size: usize, iters: usize) -> Stats {
    let name = uniq("fr");
    let mut c = spawn("floor-records", &name, &size.to_string());
    let s = measure::floor_records(&name, size, iters).unwrap();
    c.wait().unwrap();
    s
}

/// Round trips of `size` bytes with an echo peer; `extra` is the strategy of both sides, or
/// "<pause in µs>/<strategy>" for a peer that answers after a pause.
fn ring_rtt(extra: &str, size: usize, iters: usize, pause: Option<Duration>) -> Stats {
    let name = uniq(&format!("rt{size}"));
    let (mut tx, mut rx) = duplex(&name, Side::A, &opts(strategy_of(extra))).unwrap();
    let mut c = spawn("echo", &name, extra);
    let s = measure::round_trip(&mut tx, &mut rx, size, iters, pause).unwrap();
    drop((tx, rx));
    c.wait().unwrap();
    s
}

/// Messages per second from this process to a peer process, zero-copy on both sides plus
/// one copy in and one copy out (the work rtrb does). The clock starts once the consumer
/// process has started and taken a first 1000 messages; with `lap`, once it has taken a
/// whole lap of the ring first (every line of it then written and read once: the steady
/// state of a long stream).
fn ring_stream(size: usize, count: usize, batch: bool, lap: bool) -> f64 {
    let name = uniq(&format!("st{size}{batch}"));
    let mut tx = Producer::create(&name, &opts("block")).unwrap();
    let mut c = spawn(if batch { "sink-batch" } else { "sink" }, &name, "block");
    let src = vec![0x5Au8; size];
    // Warm up, and wait until the consumer has taken it all: its process's start is not
    // part of the rate.
    let warm = 1000
        + if lap {
            tx.capacity() as usize / (size + 8)
        } else {
            0
        };
    for _ in 0..warm {
        tx.send(&src).unwrap();
    }
    tx.wait_drained(None).unwrap();
    let t = Instant::now();
    match size {
        64 => produce::<64>(&mut tx, count, batch),
        1024 => produce::<1024>(&mut tx, count, batch),
        _ => {
            for i in 0..count {
                let mut g = tx.reserve(size).unwrap();
                g.copy_from_slice(&src);
                if batch && i % 64 != 63 {
                    g.commit_deferred(); // publish many, wake once
                } else {
                    g.commit();
                }
            }
        }
    }
    // Wait until the consumer drained everything: then the rate is end to end.
    tx.wait_drained(None).unwrap();
    let dt = t.elapsed();
    drop(tx);
    c.wait().unwrap();
    count as f64 / dt.as_secs_f64()
}

/// The producer's loop of [`ring_stream`] for `N`-byte messages, the size known to the
/// compiler as rtrb's slot size is to it (a caller streaming fixed-size messages writes
/// `reserve(64)`): one copy in per message, committed one by one, or in batches of 64.
fn produce<const N: usize>(tx: &mut Producer, count: usize, batch: bool) {
    let src = [0x5Au8; N];
    for i in 0..count {
        let mut g = tx.reserve(N).unwrap();
        let dst: &mut [u8; N] = (&mut *g).try_into().unwrap();
        *dst = src;
        if batch && i % 64 != 63 {
            g.commit_deferred(); // publish many, wake once
        } else {
            g.commit();
        }
    }
}

/// One copy of a message, with its size known to the compiler for the sizes rtrb's slots
/// have (64 and 1024 bytes), as rtrb's own copies are: both sides of the comparison then
/// copy the same way (inline moves rather than a call to `memcpy`), and only the queues
/// differ.
#[inline(always)]
fn copy_sized(dst: &mut [u8], src: &[u8]) {
    fn fixed<const N: usize>(dst: &mut [u8], src: &[u8]) {
        let (d, s): (&mut [u8; N], &[u8; N]) = (dst.try_into().unwrap(), src.try_into().unwrap());
        *d = *s;
    }
    match src.len() {
        64 => fixed::<64>(dst, src),
        1024 => fixed::<1024>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// rtrb between two threads of one process, same message sizes. For 64 and 1024 bytes
/// its clock starts as the ring's (`lap`: see [`ring_stream`]); other sizes use rtrb's
/// byte ring, timed from before its reader thread starts, with no lap.
fn rtrb_stream(size: usize, count: usize, lap: bool) -> f64 {
    fn fixed<const N: usize>(count: usize, lap: bool) -> f64 {
        let slots = (1 << 22) / N;
        let (mut p, mut c) = rtrb::RingBuffer::<[u8; N]>::new(slots);
        let warm = 1000 + if lap { slots } else { 0 };
        let reader = std::thread::spawn(move || {
            pin(1);
            for _ in 0..count + warm {
                loop {
                    if let Ok(v) = c.pop() {
                        // Copied out and used once per message, as the ring's sink does.
                        std::hint::black_box(&v);
                        break;
                    }
                }
            }
        });
        let src = [0x5Au8; N];
        for _ in 0..warm {
            while p.push(src).is_err() {}
        }
        while p.slots() < slots {}
        let t = Instant::now();
        for _ in 0..count {
            while p.push(src).is_err() {}
        }
        reader.join().unwrap();
        count as f64 / t.elapsed().as_secs_f64()
    }
    match size {
        64 => fixed::<64>(count, lap),
        1024 => fixed::<1024>(count, lap),
        _ => {
            // Large messages: a byte ring, written and read in chunks of `size`.
            let (mut p, mut c) = rtrb::RingBuffer::<u8>::new(1 << 22);
            let t = Instant::now();
            let reader = std::thread::spawn(move || {
                pin(1);
                let mut out = vec![0u8; size];
                for _ in 0..count {
                    loop {
                        if let Ok(ch) = c.read_chunk(size) {
                            let (a, b) = ch.as_slices();
                            out[..a.len()].copy_from_slice(a);
                            out[a.len()..].copy_from_slice(b);
                            ch.commit_all();
                            std::hint::black_box(&out);
                            break;
                        }
                    }
                }
            });
            let src = vec![0x5Au8; size];
            for _ in 0..count {
                loop {
                    if let Ok(mut ch) = p.write_chunk(size) {
                        let (a, b) = ch.as_mut_slices();
                        let k = a.len();
                        a.copy_from_slice(&src[..k]);
                        b.copy_from_slice(&src[k..]);
                        ch.commit_all();
                        break;
                    }
                }
            }
            reader.join().unwrap();
            count as f64 / t.elapsed().as_secs_f64()
        }
    }
}

fn main() {
    if support::run_peer(peer) {
        return;
    }
    pin(0);
    let quick = arg("--quick");
    let k = divisor();
    println!("ipcring ring benchmark: two processes; each figure beside its floor measured just before and after it.");
    println!(
        "(percentiles over batches of {} round trips; futex figures per single round trip)\n",
        measure::BATCH
    );
    if arg("--stream-only") {
        return stream(k);
    }
    if arg("--wake-only") {
        return wake(k);
    }
    if arg("--pause-only") {
        return paused_peer(k);
    }
    if let Some(what) = std::env::args().skip_while(|a| a != "--wake-count").nth(1) {
        return wake_count(&what);
    }

    // Busy-poll round trips in rounds, each ring figure between two measurements of the
    // three spin floors: the host moves the two vCPUs between placements that change
    // every figure several-fold within seconds, so only ratios within a round hold.
    let rounds = if quick { 5 } else { 15 };
    let iters = 200_000 / k.min(2);
    println!(
        "busy-poll round trip, 64 B: {rounds} rounds of {iters}; each ring figure / the smaller of the floor measured just before and just after it"
    );
    println!(
        "floors: 1-line = one cache line, both directions in it; 2-line = one line per direction;"
    );
    println!("        walk = 64 B records walking through memory one after another, one lane per direction (measure::floor_records)");
    // Ring variants per round, each measured between two sets of floors: (label, extra).
    // The small ring shows what the working set costs: a 4 MiB ring (the bench's default,
    // sized for 64 KiB messages) walks through 4 MiB of lines, a 4 KiB ring through 64
    // lines that both cores keep cached.
    const VARIANTS: [(&str, &str); 3] = [
        ("ring Spin", "spin"),
        ("ring default, peer at once", "block"),
        ("ring Spin, 4 KiB ring", "spin:4096"),
    ];
    for (i, (label, _)) in VARIANTS.iter().enumerate() {
        println!("  ring ({}) = {label}", i + 1);
    }
    print!(
        "{:<6} {:>7} {:>7} {:>7}",
        "round", "1-line", "2-line", "walk"
    );
    for (i, _) in VARIANTS.iter().enumerate() {
        print!(
            " | {:>9} {:>7} {:>7} {:>7}",
            format!("ring ({})", i + 1),
            "/1-line",
            "/2-line",
            "/walk"
        );
    }
    println!();
    let floors = || {
        [
            floor_spin(iters),
            floor_split(iters),
            floor_records(64, iters),
        ]
    };
    // ratios[i][j]: ring variant i over floor j.
    let mut ratios: [[Vec<f64>; 3]; VARIANTS.len()] = Default::default();
    let mut rtts: [Vec<f64>; VARIANTS.len()] = Default::default();
    let mut before = floors();
    for round in 1..=rounds {
        let mut lows = [f64::MAX; 3];
        let mut cells = String::new();
        for (i, (_, extra)) in VARIANTS.iter().enumerate() {
            let rtt = ring_rtt(extra, 64, iters, None);
            let after = floors();
            let r = ns(rtt.p50);
            rtts[i].push(r);
            cells += &format!(" | {r:>7.0}ns");
            for j in 0..3 {
                let lo = ns(before[j].p50).min(ns(after[j].p50));
                lows[j] = lows[j].min(lo);
                let q = r / lo;
                ratios[i][j].push(q);
                cells += &format!(" {q:>7.2}");
            }
            before = after;
        }
        let mut line = format!("{round:<6}");
        for lo in lows {
            line += &format!(" {lo:>5.0}ns");
        }
        println!("{line}{cells}");
    }
    for (i, (label, _)) in VARIANTS.iter().enumerate() {
        let mut line = format!(
            "{label:<27} median p50 {:>5.0}ns; median ratio (range):",
            median(&mut rtts[i])
        );
        for (j, floor) in ["1-line", "2-line", "walk"].iter().enumerate() {
            let v = &mut ratios[i][j];
            let m = median(v);
            line += &format!("  /{floor} {m:.2} ({:.2}..{:.2})", v[0], v[v.len() - 1]);
        }
        println!("{line}");
    }
    if arg("--rtt-only") {
        return;
    }

    // Sleeping peer vs the futex floor.
    let n = 4000 / k;
    if arg("--block-only") {
        let g1 = floor_futex(5000, None);
        let r = ring_rtt("block", 64, 5000, None);
        println!(
            "block-only: futex floor {:.1}us ring {:.1}us p99 {:.1}us",
            ns(g1.p50) / 1e3,
            ns(r.p50) / 1e3,
            ns(r.p99) / 1e3
        );
        return;
    }
    let pause = Some(Duration::from_micros(300));
    if arg("--sleep-only") {
        let g1 = floor_futex(2000, pause);
        let r = ring_rtt("block", 64, 2000, pause);
        println!(
            "sleep-only: floor {:.1}us ring {:.1}us",
            ns(g1.p50) / 1e3,
            ns(r.p50) / 1e3
        );
        return;
    }
    let g1 = floor_futex(n, pause);
    let sleep = ring_rtt("block", 64, n, pause);
    let g2 = floor_futex(n, pause);
    let ffloor = ns(g1.p50).min(ns(g2.p50));
    println!(
        "\n{:<50} {:>9} {:>9} {:>9}",
        "round trip, peer asleep", "p50", "p99", "/futex"
    );
    let urow = |label: &str, st: &Stats, r: String| {
        println!(
            "{:<50} {:>7.1}us {:>7.1}us {:>9}",
            label,
            ns(st.p50) / 1e3,
            ns(st.p99) / 1e3,
            r
        )
    };
    urow(
        "floor: futex ping-pong, 300us apart (before)",
        &g1,
        "1.00".into(),
    );
    urow(
        "ring 64 B, default, 300us apart (peer asleep)",
        &sleep,
        format!("{:.2}", ns(sleep.p50) / ffloor),
    );
    urow(
        "floor: futex ping-pong, 300us apart (after)",
        &g2,
        String::new(),
    );
    stream(k);
}

/// Round trips where every wait sleeps: the ring with `SpinBlock { spin: 0 }` against the
/// raw futex ping-pong, one round trip per sample, in rounds (floor, ring, floor, ...),
/// each ring figure over the smaller floor of the two around it.
fn wake(k: usize) {
    let rounds = if k > 1 { 3 } else { 7 };
    let n = 20_000 / k;
    println!(
        "every wait sleeps, 64 B: {rounds} rounds of {n} round trips; ratio = ring / the smaller futex floor just before and after"
    );
    println!(
        "{:<6} {:>10} {:>10} | {:>10} {:>10} | {:>7} {:>7}",
        "round", "floor p50", "mean", "ring p50", "mean", "/p50", "/mean"
    );
    let us = |d: Duration| ns(d) / 1e3;
    let (mut r50, mut rmean) = (vec![], vec![]);
    let mut before = floor_futex(n, None);
    for round in 1..=rounds {
        let ring = ring_rtt("sleep", 64, n, Some(Duration::ZERO));
        let after = floor_futex(n, None);
        let f50 = ns(before.p50).min(ns(after.p50));
        let fmean = ns(before.mean).min(ns(after.mean));
        let (q50, qmean) = (ns(ring.p50) / f50, ns(ring.mean) / fmean);
        println!(
            "{round:<6} {:>8.1}us {:>8.1}us | {:>8.1}us {:>8.1}us | {q50:>7.2} {qmean:>7.2}",
            f50 / 1e3,
            fmean / 1e3,
            us(ring.p50),
            us(ring.mean)
        );
        r50.push(q50);
        rmean.push(qmean);
        before = after;
    }
    let (m50, mmean) = (median(&mut r50), median(&mut rmean));
    println!(
        "median ratio to the futex floor: p50 {m50:.2} ({:.2}..{:.2}), mean {mmean:.2} ({:.2}..{:.2})",
        r50[0],
        r50[r50.len() - 1],
        rmean[0],
        rmean[rmean.len() - 1]
    );
}

/// A peer that answers after a pause (100 µs, 1 ms, 10 ms), the default strategy on both
/// sides: each round trip is one wake-up each way, plus the pause. Beside it, the futex
/// floor whose peer sleeps the same pause the same way (`std::thread::sleep`, whose
/// overshoot both pay), and the futex floor without a pause. The target: the ring's round
/// trip at most the paused floor's plus 0.2x the unpaused floor (that is, the pause plus
/// 1.2x the floor), p50 and mean; printed as `excess/fl` = (ring - paused floor) / floor.
fn paused_peer(k: usize) {
    let rounds = if k > 1 { 2 } else { 3 };
    println!(
        "peer answers after a pause, 64 B, default strategy: {rounds} rounds; excess/fl = (ring - paused floor) / unpaused floor (target <= 0.20)"
    );
    println!(
        "{:<8} {:<5} {:>9} {:>9} | {:>11} {:>11} | {:>9} {:>9} | {:>10} {:>10}",
        "pause",
        "round",
        "floor p50",
        "mean",
        "paused p50",
        "mean",
        "ring p50",
        "mean",
        "excess/fl",
        "(mean)"
    );
    let us = |d: Duration| ns(d) / 1e3;
    for pause_us in [100u64, 1000, 10_000] {
        let n = (2_000_000 / (pause_us as usize + 200) / k).clamp(50, 5000);
        for round in 1..=rounds {
            let floor = floor_futex(n.max(2000 / k), None);
            let name = uniq("pf");
            let mut c = spawn("floor-futex-pause", &name, &pause_us.to_string());
            let paused = measure::floor_futex(&name, n, None).unwrap();
            c.wait().unwrap();
            let ring = ring_rtt(&format!("{pause_us}/block"), 64, n, Some(Duration::ZERO));
            let ex50 = (ns(ring.p50) - ns(paused.p50)) / ns(floor.p50);
            let exmean = (ns(ring.mean) - ns(paused.mean)) / ns(floor.mean);
            println!(
                "{:<8} {round:<5} {:>7.1}us {:>7.1}us | {:>9.1}us {:>9.1}us | {:>7.1}us {:>7.1}us | {ex50:>10.2} {exmean:>10.2}",
                format!("{pause_us}us"),
                us(floor.p50),
                us(floor.mean),
                us(paused.p50),
                us(paused.mean),
                us(ring.p50),
                us(ring.mean),
            );
        }
    }
}

/// Exactly `IPCRING_BENCH_COUNT` (default 10 000) sleeping round trips of `what` ("floor"
/// or "ring"), nothing else: for counting system calls per round trip under
/// `perf stat -e syscalls:sys_enter_futex,...` or `strace -c -f` (subtract a run with a
/// count of 1 for the set-up).
fn wake_count(what: &str) {
    let n = env("IPCRING_BENCH_COUNT").unwrap_or(10_000);
    let name = uniq("wc");
    match what {
        "floor" => {
            let mut c = spawn("floor-futex", &name, "");
            measure::floor_futex(&name, n, None).unwrap();
            c.wait().unwrap();
        }
        _ => {
            let (mut tx, mut rx) = duplex(&name, Side::A, &opts("sleep")).unwrap();
            let mut c = spawn("echo", &name, "sleep");
            let (msg, mut buf) = ([0xA5u8; 64], Vec::new());
            for _ in 0..n {
                tx.send(&msg).unwrap();
                rx.recv_into(&mut buf).unwrap();
            }
            drop((tx, rx));
            c.wait().unwrap();
        }
    }
}

fn stream(k: usize) {
    let rounds = if k > 1 { 3 } else { 5 };
    println!(
        "\nstreaming, {rounds} rounds of (rtrb between two threads, ring, ring in batches); ratio = ring / rtrb of the same round"
    );
    println!("(each queue new in each round; \"one lap in\": both queues first carry a whole lap, as in a long stream)");
    println!(
        "{:<22} {:>13} {:>13} {:>13} {:>20}",
        "", "ipcring msg/s", "rtrb msg/s", "median ratio", "range of ratios"
    );
    let row = |label: String, size: usize, rates: &mut Vec<f64>, rt: f64, ratios: &mut Vec<f64>| {
        let rate = median(rates);
        let m = median(ratios);
        println!(
            "{:<22} {:>13.0} {:>13.0} {:>13.2} {:>9.2} .. {:<8.2}  ({:.2} GB/s)",
            label,
            rate,
            rt,
            m,
            ratios[0],
            ratios[ratios.len() - 1],
            rate * size as f64 / 1e9
        );
    };
    for (size, count) in [
        (64usize, 4_000_000usize),
        (1024, 1_000_000),
        (65536, 20_000),
    ] {
        let count = count / k;
        let (mut rtrb, mut ours, mut batch) = (vec![], vec![], vec![]);
        let (mut r_ours, mut r_batch) = (vec![], vec![]);
        let (mut rtrb_lap, mut lap, mut r_lap) = (vec![], vec![], vec![]);
        for _ in 0..rounds {
            let r = rtrb_stream(size, count, false);
            let o = ring_stream(size, count, false, false);
            let b = ring_stream(size, count, true, false);
            rtrb.push(r);
            ours.push(o);
            batch.push(b);
            r_ours.push(o / r);
            r_batch.push(b / r);
            if size == 64 {
                let r = rtrb_stream(size, count, true);
                let o = ring_stream(size, count, false, true);
                rtrb_lap.push(r);
                lap.push(o);
                r_lap.push(o / r);
            }
        }
        let rt = median(&mut rtrb);
        row(format!("{size} B"), size, &mut ours, rt, &mut r_ours);
        row(
            format!("{size} B, batches of 64"),
            size,
            &mut batch,
            rt,
            &mut r_batch,
        );
        if size == 64 {
            let rt = median(&mut rtrb_lap);
            row(
                format!("{size} B, one lap in"),
                size,
                &mut lap,
                rt,
                &mut r_lap,
            );
        }
    }
}
