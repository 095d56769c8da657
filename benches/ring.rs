//! The ring between two real processes, each figure beside the machine's floor measured
//! right before and after it (these machines are shared and noisy: ratios hold, absolute
//! figures drift). Run: `cargo bench --bench ring` (`-- --quick` for a short run).
//!
//! This binary re-executes itself as the peer (env `SHMRING_BENCH_PEER`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shmring::measure::{self, Stats};
use shmring::ring::{duplex, Consumer, Producer, RingOptions, Side, WaitStrategy};

fn spawn(role: &str, name: &str, extra: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env("SHMRING_BENCH_PEER", role)
        .env("SHMRING_BENCH_NAME", name)
        .env("SHMRING_BENCH_EXTRA", extra)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn peer")
}

fn opts(strategy: &str) -> RingOptions {
    let w = match strategy {
        "spin" => WaitStrategy::Spin,
        _ => match std::env::var("SHMRING_BENCH_SPIN_US")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            Some(us) => WaitStrategy::SpinBlock {
                spin: Duration::from_micros(us),
            },
            None => WaitStrategy::default(),
        },
    };
    RingOptions::new()
        .capacity(1 << 22)
        .wait(w)
        .open_timeout(Duration::from_secs(10))
}

fn peer(role: &str) {
    let name = std::env::var("SHMRING_BENCH_NAME").unwrap();
    let extra = std::env::var("SHMRING_BENCH_EXTRA").unwrap_or_default();
    match role {
        "floor-spin" => measure::floor_spin_peer(&name).unwrap(),
        "floor-futex" => measure::floor_futex_peer(&name).unwrap(),
        "echo" => {
            let (mut tx, mut rx) = duplex(&name, Side::B, &opts(&extra)).unwrap();
            measure::echo_peer(&mut tx, &mut rx).unwrap();
        }
        "sink-batch" => {
            // Drain many, release once: one release (and its fence) per batch.
            let mut rx = Consumer::open(&name, &opts(&extra)).unwrap();
            let mut buf = vec![0u8; 1 << 17];
            let mut n = 0u64;
            loop {
                match rx.recv_batch(256, None, |m| {
                    buf[..m.len()].copy_from_slice(m);
                    n += 1;
                }) {
                    Ok(_) => {}
                    Err(shmring::Error::Disconnected) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            std::hint::black_box((n, &buf));
        }
        "sink" => {
            // Zero-copy receive, then one memcpy out: the same work as rtrb's reader.
            let mut rx = Consumer::open(&name, &opts(&extra)).unwrap();
            let mut buf = vec![0u8; 1 << 17];
            let mut n = 0u64;
            loop {
                match rx.recv() {
                    Ok(m) => {
                        buf[..m.len()].copy_from_slice(&m);
                        n += 1;
                    }
                    Err(shmring::Error::Disconnected) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            std::hint::black_box((n, &buf));
        }
        _ => panic!("unknown peer role {role}"),
    }
}

fn uniq(tag: &str) -> String {
    format!("/shmring-bench-{tag}-{}", std::process::id())
}

fn floor_spin(iters: usize) -> Stats {
    let name = uniq("fs");
    let mut c = spawn("floor-spin", &name, "");
    let s = measure::floor_spin(&name, iters).unwrap();
    c.wait().unwrap();
    s
}

fn floor_futex(iters: usize, pause: Option<Duration>) -> Stats {
    let name = uniq("ff");
    let mut c = spawn("floor-futex", &name, "");
    let s = measure::floor_futex(&name, iters, pause).unwrap();
    c.wait().unwrap();
    s
}

fn ring_rtt(strategy: &str, size: usize, iters: usize, pause: Option<Duration>) -> Stats {
    let name = uniq(&format!("rt{size}"));
    let (mut tx, mut rx) = duplex(&name, Side::A, &opts(strategy)).unwrap();
    let mut c = spawn("echo", &name, strategy);
    let s = measure::round_trip(&mut tx, &mut rx, size, iters, pause).unwrap();
    drop((tx, rx));
    c.wait().unwrap();
    s
}

/// Messages per second from this process to a peer process, zero-copy on both sides plus
/// one copy in and one copy out (the work rtrb does).
fn ring_stream(size: usize, count: usize, batch: bool) -> f64 {
    let name = uniq(&format!("st{size}{batch}"));
    let mut tx = Producer::create(&name, &opts("block")).unwrap();
    let mut c = spawn(if batch { "sink-batch" } else { "sink" }, &name, "block");
    let src = vec![0x5Au8; size];
    // Warm up (also waits for the consumer to attach).
    for _ in 0..1000 {
        tx.send(&src).unwrap();
    }
    let t = Instant::now();
    for i in 0..count {
        let mut g = tx.reserve(size).unwrap();
        g.copy_from_slice(&src);
        if batch && i % 64 != 63 {
            g.commit_deferred(); // publish many, wake once
        } else {
            g.commit();
        }
    }
    // Wait until the consumer drained everything: then the rate is end to end.
    while shmring::ring::inspect(&name).map(|i| i.fill).unwrap_or(0) > 0 {
        std::hint::spin_loop();
    }
    let dt = t.elapsed();
    drop(tx);
    c.wait().unwrap();
    count as f64 / dt.as_secs_f64()
}

/// rtrb between two threads of one process, same message sizes.
fn rtrb_stream(size: usize, count: usize) -> f64 {
    fn fixed<const N: usize>(count: usize) -> f64 {
        let (mut p, mut c) = rtrb::RingBuffer::<[u8; N]>::new((1 << 22) / N);
        let t = Instant::now();
        let reader = std::thread::spawn(move || {
            let mut out = [0u8; N];
            for _ in 0..count {
                loop {
                    if let Ok(v) = c.pop() {
                        out = v;
                        break;
                    }
                }
            }
            std::hint::black_box(out);
        });
        let src = [0x5Au8; N];
        for _ in 0..count {
            while p.push(src).is_err() {}
        }
        reader.join().unwrap();
        count as f64 / t.elapsed().as_secs_f64()
    }
    match size {
        64 => fixed::<64>(count),
        1024 => fixed::<1024>(count),
        _ => {
            // Large messages: a byte ring, written and read in chunks of `size`.
            let (mut p, mut c) = rtrb::RingBuffer::<u8>::new(1 << 22);
            let t = Instant::now();
            let reader = std::thread::spawn(move || {
                let mut out = vec![0u8; size];
                for _ in 0..count {
                    loop {
                        if let Ok(ch) = c.read_chunk(size) {
                            let (a, b) = ch.as_slices();
                            out[..a.len()].copy_from_slice(a);
                            out[a.len()..].copy_from_slice(b);
                            ch.commit_all();
                            break;
                        }
                    }
                }
                std::hint::black_box(&out);
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

fn ns(d: Duration) -> f64 {
    d.as_nanos() as f64
}

fn main() {
    if let Ok(role) = std::env::var("SHMRING_BENCH_PEER") {
        peer(&role);
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let k = if quick { 5 } else { 1 };
    println!("shmring ring benchmark: two processes; each figure beside its floor measured just before and after.");
    println!(
        "(percentiles over batches of {} round trips; futex figures per single round trip)\n",
        measure::BATCH
    );

    let stream_only = std::env::args().any(|a| a == "--stream-only");
    // Busy-poll round trip vs the spin floor.
    let f1 = if stream_only {
        Stats::from_batches(vec![], 1)
    } else {
        floor_spin(1_000_000 / k)
    };
    let (spin, f2) = if stream_only {
        (f1, f1)
    } else {
        (
            ring_rtt("spin", 64, 1_000_000 / k, None),
            floor_spin(1_000_000 / k),
        )
    };
    let floor = ns(f1.p50).min(ns(f2.p50));
    println!(
        "{:<46} {:>10} {:>10} {:>8}",
        "round trip", "p50", "p99", "p50/floor"
    );
    println!(
        "{:<46} {:>8.0}ns {:>8.0}ns {:>8}",
        "floor: cache-line ping-pong (before)",
        ns(f1.p50),
        ns(f1.p99),
        "1.00"
    );
    println!(
        "{:<46} {:>8.0}ns {:>8.0}ns {:>8.2}",
        "ring 64 B, busy-poll (Spin)",
        ns(spin.p50),
        ns(spin.p99),
        ns(spin.p50) / floor
    );
    println!(
        "{:<46} {:>8.0}ns {:>8.0}ns {:>8}",
        "floor: cache-line ping-pong (after)",
        ns(f2.p50),
        ns(f2.p99),
        ""
    );

    if std::env::args().any(|a| a == "--rtt-only") {
        return;
    }
    if stream_only {
        return stream(k);
    }
    let f3 = floor_spin(1_000_000 / k);
    let def = ring_rtt("block", 64, 1_000_000 / k, None);
    let f4 = floor_spin(1_000_000 / k);
    let floor2 = ns(f3.p50).min(ns(f4.p50));
    println!(
        "{:<46} {:>8.0}ns {:>8.0}ns {:>8.2}",
        "ring 64 B, default (spin then futex), peer at once",
        ns(def.p50),
        ns(def.p99),
        ns(def.p50) / floor2
    );
    println!(
        "{:<46} {:>8.0}ns {:>8.0}ns {:>8}",
        "floor: cache-line ping-pong (after)",
        ns(f4.p50),
        ns(f4.p99),
        ""
    );

    // Sleeping peer vs the futex floor.
    let n = 4000 / k;
    if std::env::args().any(|a| a == "--block-only") {
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
    if std::env::args().any(|a| a == "--sleep-only") {
        let pause = Some(Duration::from_micros(300));
        let g1 = floor_futex(2000, pause);
        let r = ring_rtt("block", 64, 2000, pause);
        println!(
            "sleep-only: floor {:.1}us ring {:.1}us",
            ns(g1.p50) / 1e3,
            ns(r.p50) / 1e3
        );
        return;
    }
    let pause = Some(Duration::from_micros(300));
    let g1 = floor_futex(n, pause);
    let sleep = ring_rtt("block", 64, n, pause);
    let g2 = floor_futex(n, pause);
    let ffloor = ns(g1.p50).min(ns(g2.p50));
    println!(
        "{:<46} {:>8.1}us {:>8.1}us {:>8}",
        "floor: futex ping-pong, 300us apart (before)",
        ns(g1.p50) / 1e3,
        ns(g1.p99) / 1e3,
        "1.00"
    );
    println!(
        "{:<46} {:>8.1}us {:>8.1}us {:>8.2}",
        "ring 64 B, default, 300us apart (peer asleep)",
        ns(sleep.p50) / 1e3,
        ns(sleep.p99) / 1e3,
        ns(sleep.p50) / ffloor
    );
    println!(
        "{:<46} {:>8.1}us {:>8.1}us {:>8}",
        "floor: futex ping-pong, 300us apart (after)",
        ns(g2.p50) / 1e3,
        ns(g2.p99) / 1e3,
        ""
    );
    stream(k);
}

fn stream(k: usize) {
    println!(
        "\n{:<34} {:>14} {:>14} {:>8}",
        "streaming (rtrb: 2 threads)", "shmring msg/s", "rtrb msg/s", "ratio"
    );
    for (size, count) in [
        (64usize, 10_000_000usize),
        (1024, 2_000_000),
        (65536, 40_000),
    ] {
        let count = count / k;
        let r1 = rtrb_stream(size, count);
        let ours = ring_stream(size, count, false);
        let ours_batch = ring_stream(size, count, true);
        let r2 = rtrb_stream(size, count);
        let rtrb = r1.max(r2);
        for (label, rate) in [("", ours), (", batches of 64", ours_batch)] {
            println!(
                "{:<34} {:>14.0} {:>14.0} {:>8.2}   ({:.2} GB/s)",
                format!("{size} B{label}"),
                rate,
                rtrb,
                rate / rtrb,
                rate * size as f64 / 1e9
            );
        }
    }
}
