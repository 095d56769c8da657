//! One writer, many readers, between real processes, beside the cache-line floor measured
//! in the same run: the seqlock cell's fresh-value latency and reads per second per reader,
//! and the broadcast ring's fan-out to 1, 2 and 4 subscribers at 64 B.
//! Run: `cargo bench --bench one_to_many` (`-- --quick` for a short run).
//!
//! This binary re-executes itself as the peers (env `IPCRING_BENCH_PEER`).

#[path = "support/mod.rs"]
mod support;

use std::process::Child;
use std::time::{Duration, Instant};

use ipcring::broadcast::{BroadcastOptions, Publisher, Recv, Start, Subscriber};
use ipcring::measure::{self, Stats};
use ipcring::ring::WaitStrategy;
use ipcring::seqlock::{Reader, SeqlockOptions, Writer};
use ipcring::Error;
use support::{divisor, floor_spin, ns, spawn_piped as spawn, uniq};

/// The prefix of the segment names this bench creates.
const NAMES: &str = "/ipcring-bench-otm";

type Value = [u64; 8]; // 64 bytes

fn seq_opts() -> SeqlockOptions {
    SeqlockOptions::new()
        .wait(WaitStrategy::Spin)
        .open_timeout(Duration::from_secs(10))
}

fn bc_opts() -> BroadcastOptions {
    BroadcastOptions::new()
        .slots(1 << 16)
        .max_message(64)
        .start(Start::Oldest)
        .wait(WaitStrategy::Spin)
        .open_timeout(Duration::from_secs(10))
}

fn peer(role: &str, name: &str, extra: &str) {
    match role {
        "floor-spin" => measure::floor_spin_peer(name).unwrap(),
        // Echo every new value of `<name>.ping` into `<name>.pong`, until value[0] == MAX.
        "seq-echo" => {
            let ping = Reader::<Value>::open(&format!("{name}.ping"), &seq_opts()).unwrap();
            let mut pong =
                Writer::<Value>::open_or_create(&format!("{name}.pong"), &seq_opts()).unwrap();
            let mut last = 0;
            loop {
                if ping.version() == last {
                    continue;
                }
                let Some(s) = ping.try_read() else { continue };
                last = s.version;
                pong.write(&s.value);
                if s.value[0] == u64::MAX {
                    return;
                }
            }
        }
        // Read as fast as possible for `extra` ms; print reads/s.
        "seq-reader" => {
            let r = Reader::<Value>::open(name, &seq_opts()).unwrap();
            let dur = Duration::from_millis(extra.parse().unwrap());
            let mut v = [0u64; 8];
            let t = Instant::now();
            let mut n = 0u64;
            while t.elapsed() < dur {
                for _ in 0..256 {
                    r.read_into(&mut v).unwrap();
                }
                n += 256;
            }
            std::hint::black_box(v);
            println!("{}", n as f64 / t.elapsed().as_secs_f64());
        }
        // Receive until the publisher leaves; print delivered/s and lagged.
        "bc-sub" => {
            let mut s = Subscriber::open(name, &bc_opts()).unwrap();
            let mut buf = Vec::new();
            let (mut n, mut lagged) = (0u64, 0u64);
            let mut t: Option<Instant> = None;
            loop {
                match s.recv_timeout_into(&mut buf, Duration::from_secs(10)) {
                    Ok(Recv::Message(_)) => {
                        t.get_or_insert_with(Instant::now);
                        n += 1;
                    }
                    Ok(Recv::Lagged(k)) => lagged += k,
                    Err(Error::Disconnected) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            let dt = t.map_or(1e-9, |t| t.elapsed().as_secs_f64());
            println!("{} {} {}", n as f64 / dt, n, lagged);
        }
        _ => panic!("unknown peer role {role}"),
    }
}

/// Round trip through two seqlock cells: write in A, seen in B, echoed, seen in A.
fn seqlock_rtt(iters: usize) -> Stats {
    let name = uniq("seq");
    let mut ping = Writer::<Value>::create(&format!("{name}.ping"), &seq_opts()).unwrap();
    let mut c = spawn("seq-echo", &name, "");
    let pong = loop {
        match Reader::<Value>::open(&format!("{name}.pong"), &seq_opts()) {
            Ok(r) => break r,
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    let mut v = [0u64; 8];
    let mut one = |i: u64, v: &mut Value| {
        v[0] = i;
        ping.write(v);
        while pong.try_read().is_none_or(|s| s.value[0] != i) {}
    };
    for i in 1..=1000 {
        one(i, &mut v);
    }
    let mut batches = Vec::new();
    let mut i = 1000;
    for _ in 0..iters / measure::BATCH {
        let t = Instant::now();
        for _ in 0..measure::BATCH {
            i += 1;
            one(i, &mut v);
        }
        batches.push(t.elapsed());
    }
    v[0] = u64::MAX;
    ping.write(&v);
    c.wait().unwrap();
    Stats::from_batches(batches, measure::BATCH)
}

fn read_line(c: &mut Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    c.stdout.take().unwrap().read_to_string(&mut s).unwrap();
    c.wait().unwrap();
    s.lines()
        .rfind(|l| !l.starts_with("running") && !l.is_empty())
        .unwrap_or("")
        .to_owned()
}

/// Reads/s per reader with `readers` reader processes and the writer writing all along.
fn seqlock_reads(readers: usize, ms: u64) -> f64 {
    let name = uniq(&format!("rd{readers}"));
    let mut w = Writer::<Value>::create(&name, &seq_opts()).unwrap();
    w.write(&[1; 8]);
    let mut cs: Vec<Child> = (0..readers)
        .map(|_| spawn("seq-reader", &name, &ms.to_string()))
        .collect();
    let t = Instant::now();
    let mut i = 0u64;
    while t.elapsed() < Duration::from_millis(ms + 500) {
        i += 1;
        w.write(&[i; 8]);
        std::thread::sleep(Duration::from_micros(1));
    }
    let rates: Vec<f64> = cs
        .iter_mut()
        .map(|c| read_line(c).parse().unwrap_or(0.0))
        .collect();
    rates.iter().sum::<f64>() / rates.len() as f64
}

/// Fan-out: (delivered msgs/s per subscriber, delivered, lagged) averaged over subscribers.
fn fanout(subs: usize, count: u64) -> (f64, u64, u64) {
    let name = uniq(&format!("bc{subs}"));
    let mut p = Publisher::create(&name, &bc_opts()).unwrap();
    let mut cs: Vec<Child> = (0..subs).map(|_| spawn("bc-sub", &name, "")).collect();
    // Give the subscribers time to attach (they start at the oldest message held).
    std::thread::sleep(Duration::from_millis(300));
    let msg = [0x5Au8; 64];
    for _ in 0..count {
        p.publish(&msg).unwrap();
    }
    drop(p);
    let (mut rate, mut n, mut lag) = (0.0, 0, 0);
    for c in cs.iter_mut() {
        let l = read_line(c);
        let f: Vec<&str> = l.split_whitespace().collect();
        rate += f.first().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
        n += f.get(1).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        lag += f.get(2).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    }
    (rate / subs as f64, n / subs as u64, lag / subs as u64)
}

fn main() {
    if support::run_peer(peer) {
        return;
    }
    let k = divisor();
    println!("one writer, many readers: two or more processes, beside the cache-line floor of the same run\n");
    let f1 = floor_spin(500_000 / k);
    let s = seqlock_rtt(500_000 / k);
    let f2 = floor_spin(500_000 / k);
    let floor = ns(f1.p50.min(f2.p50));
    println!(
        "floor: cache-line ping-pong            p50 {:>6.0} ns",
        ns(f1.p50)
    );
    println!(
        "seqlock: write in A, seen in B, echoed  p50 {:>6.0} ns  p99 {:>6.0} ns  {:.2}x the floor (one way: half)",
        ns(s.p50),
        ns(s.p99),
        ns(s.p50) / floor
    );
    println!(
        "floor: cache-line ping-pong (after)    p50 {:>6.0} ns\n",
        ns(f2.p50)
    );
    for readers in [1, 2] {
        let r = seqlock_reads(readers, 1000 / k as u64);
        println!("seqlock reads of a 64-byte value, {readers} reader process(es), writer writing: {:>8.2} M reads/s per reader", r / 1e6);
    }
    println!();
    for subs in [1, 2, 4] {
        let count = 4_000_000 / k as u64;
        let (rate, n, lag) = fanout(subs, count);
        println!(
            "broadcast 64 B to {subs} subscriber(s): {:>7.2} M msgs/s delivered per subscriber ({n} delivered + {lag} lagged of {count})",
            rate / 1e6
        );
    }
}
