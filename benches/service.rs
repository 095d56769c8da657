//! The shared-memory service between real processes: the 64-byte request/response round
//! trip (busy-poll, one client) beside the one-line and two-line floors and the ring pair,
//! all measured in the same run, in rounds; then 1, 4 and 16 client processes served by
//! one server thread. These machines are shared and noisy: ratios within a round hold,
//! absolute figures drift. Run: `cargo bench --bench service` (`-- --quick` for a short
//! run, `-- --rtt-only` for the round trip alone).
//!
//! When both processes share one physical core (the host's "near" placement), the round
//! trip is paid in instructions more than in cache-line transfers: count those per round
//! trip with `examples/service_callgrind.rs` (under callgrind, the same count every run).
//!
//! This binary re-executes itself as the peer (env `IPCRING_BENCH_PEER`). On a machine
//! with two or more CPUs the bench pins itself to CPU 0 and the server to CPU 1
//! (`IPCRING_BENCH_NOPIN=1` turns that off).

#[path = "support/mod.rs"]
mod support;

use std::process::Child;
use std::time::{Duration, Instant};

use ipcring::measure::{self, Stats, BATCH};
use ipcring::ring::{duplex, RingOptions, Side, WaitStrategy};
use ipcring::service::{Client, Listener, ServiceOptions};
use support::{
    against_peer, arg, floor_spin, floor_split, median, ns, pin, spawn, spawn_piped, uniq,
};

/// The prefix of the segment names this bench creates.
const NAMES: &str = "/ipcring-bench-svc";

fn service_opts(s: &str) -> ServiceOptions {
    ServiceOptions::new()
        .max_message(64)
        .slots(1)
        .wait(if s == "spin" {
            WaitStrategy::Spin
        } else {
            WaitStrategy::default()
        })
        .open_timeout(Duration::from_secs(10))
}

/// The ring pair the service is compared with: 4 KiB each way, busy-poll.
fn ring_opts() -> RingOptions {
    RingOptions::new()
        .capacity(4096)
        .wait(WaitStrategy::Spin)
        .open_timeout(Duration::from_secs(10))
}

/// The server: answers every request in place (its first byte plus one, same length)
/// until the request "stop".
fn serve(name: &str, extra: &str) {
    let mut l = Listener::bind(name, &service_opts(extra).max_clients(64)).unwrap();
    loop {
        let mut req = l.recv().unwrap();
        if &*req == b"stop" {
            req.respond(0).unwrap();
            return;
        }
        let n = req.len();
        let b = req.buffer();
        b[0] = b[0].wrapping_add(1);
        req.respond(n).unwrap();
    }
}

fn peer(role: &str, name: &str, extra: &str) {
    match role {
        "floor-spin" => {
            pin(1);
            measure::floor_spin_peer(name).unwrap()
        }
        "floor-split" => {
            pin(1);
            measure::floor_spin_split_peer(name).unwrap()
        }
        "echo" => {
            pin(1);
            let (mut tx, mut rx) = duplex(name, Side::B, &ring_opts()).unwrap();
            measure::echo_peer(&mut tx, &mut rx).unwrap();
        }
        "server" => {
            pin(1);
            serve(name, extra)
        }
        "client" => {
            // extra: calls; prints per-batch times (ns) as one line of numbers.
            let n: usize = extra.parse().unwrap();
            let c = Client::connect(name, &service_opts("block")).unwrap();
            let req = [0x5Au8; 64];
            let mut batches = Vec::with_capacity(n / BATCH);
            for _ in 0..n / BATCH {
                let t = Instant::now();
                for _ in 0..BATCH {
                    let a = c.call(&req).unwrap();
                    assert_eq!(a[0], 0x5B);
                }
                batches.push(t.elapsed().as_nanos().to_string());
            }
            println!("{}", batches.join(" "));
        }
        _ => panic!("unknown peer role {role}"),
    }
}

fn ring_rtt(iters: usize) -> Stats {
    against_peer("echo", &uniq("ring"), |name| {
        let (mut tx, mut rx) = duplex(name, Side::A, &ring_opts()).unwrap();
        measure::round_trip(&mut tx, &mut rx, 64, iters, None).unwrap()
    })
}

/// Round trips of `size` bytes over the service, one client (this process), busy-poll on
/// both sides; copy in (`submit`) and copy out (`call_into`), as the ring pair's figure
/// does.
fn service_rtt(size: usize, iters: usize) -> Stats {
    let name = uniq(&format!("svc{size}"));
    let mut server = spawn("server", &name, "spin");
    let c = Client::connect(&name, &service_opts("spin")).unwrap();
    let req = vec![0x5Au8; size];
    let mut out = Vec::with_capacity(64);
    for _ in 0..iters / 10 {
        c.call_into(&req, &mut out).unwrap();
    }
    let mut batches = Vec::with_capacity(iters / BATCH);
    for _ in 0..iters / BATCH {
        let t = Instant::now();
        for _ in 0..BATCH {
            c.call_into(&req, &mut out).unwrap();
        }
        batches.push(t.elapsed());
        assert_eq!(out[0], 0x5B);
    }
    let _ = c.call(b"stop");
    drop(c);
    server.wait().unwrap();
    Stats::from_batches(batches, BATCH)
}

/// `clients` client processes, each making `calls` 64-byte calls, one server thread
/// (default wait strategy: spin 20 us, then sleep). Aggregate requests/s and per-request
/// p50/p99 (over batches of BATCH).
fn many(clients: usize, calls: usize) -> (f64, Stats) {
    let name = uniq(&format!("many{clients}"));
    let mut server = spawn("server", &name, "block");
    let t = Instant::now();
    let kids: Vec<Child> = (0..clients)
        .map(|_| spawn_piped("client", &name, &calls.to_string()))
        .collect();
    let mut batches = Vec::new();
    for k in kids {
        let out = k.wait_with_output().unwrap();
        assert!(out.status.success());
        batches.extend(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(|n| Duration::from_nanos(n.parse().unwrap())),
        );
    }
    let dt = t.elapsed();
    let c = Client::connect(&name, &service_opts("block")).unwrap();
    let _ = c.call(b"stop");
    drop(c);
    server.wait().unwrap();
    (
        (clients * calls) as f64 / dt.as_secs_f64(),
        Stats::from_batches(batches, BATCH),
    )
}

fn main() {
    if support::run_peer(peer) {
        return;
    }
    let quick = arg("--quick");
    let rounds = if quick { 5 } else { 11 };
    let iters = if quick { 100_000 } else { 200_000 };
    pin(0);
    println!("ipcring service benchmark: 64 B request/response round trip, busy-poll, one client process, one server process.");
    println!("Each figure beside the floors measured just before and after it; ratio = figure / the smaller of those two.");
    println!("1-line = one cache line ping-pong (both directions in it); 2-line = one line per direction; ring = a pair of 4 KiB rings (Spin).");
    println!(
        "A 64 B payload and its 8 B slot header span two lines; 56 B fit in one with the header."
    );
    println!(
        "\n{:<6} {:>8} {:>8} | {:>9} {:>8} {:>8} | {:>9} {:>8} | {:>9} {:>8}",
        "round",
        "1-line",
        "2-line",
        "service",
        "/1-line",
        "/2-line",
        "svc 56 B",
        "/1-line",
        "ring",
        "/1-line"
    );
    let floors = || (floor_spin(iters), floor_split(iters));
    let (mut svc, mut svc1, mut svc2, mut ring, mut ring1) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut s56 = vec![];
    let mut before = floors();
    for round in 1..=rounds {
        let s = service_rtt(64, iters);
        let t56 = service_rtt(56, iters);
        let mid = floors();
        let r = ring_rtt(iters);
        let after = floors();
        let one_s = ns(before.0.p50).min(ns(mid.0.p50));
        let two_s = ns(before.1.p50).min(ns(mid.1.p50));
        let one_r = ns(mid.0.p50).min(ns(after.0.p50));
        let (sv, s56v, rv) = (ns(s.p50), ns(t56.p50), ns(r.p50));
        println!(
            "{round:<6} {:>6.0}ns {:>6.0}ns | {:>7.0}ns {:>8.2} {:>8.2} | {:>7.0}ns {:>8.2} | {:>7.0}ns {:>8.2}",
            one_s,
            two_s,
            sv,
            sv / one_s,
            sv / two_s,
            s56v,
            s56v / one_s,
            rv,
            rv / one_r
        );
        s56.push(s56v / one_s);
        svc.push(sv);
        svc1.push(sv / one_s);
        svc2.push(sv / two_s);
        ring.push(rv);
        ring1.push(rv / one_r);
        before = after;
    }
    let range = |v: &mut Vec<f64>| {
        let m = median(v);
        format!("{m:.2} ({:.2}..{:.2})", v[0], v[v.len() - 1])
    };
    println!(
        "\nservice 64 B busy-poll: median p50 {:.0}ns; / 1-line floor {}; / 2-line floor {}",
        median(&mut svc),
        range(&mut svc1),
        range(&mut svc2)
    );
    println!(
        "service 56 B busy-poll (request + header in one line): / 1-line floor {}",
        range(&mut s56)
    );
    println!(
        "ring pair 64 B busy-poll: median p50 {:.0}ns; / 1-line floor {}",
        median(&mut ring),
        range(&mut ring1)
    );
    if arg("--rtt-only") {
        return;
    }
    println!("\none server thread, N client processes, default wait (spin 20 us, then sleep), 64 B calls:");
    println!(
        "{:<10} {:>14} {:>12} {:>12}",
        "clients", "requests/s", "p50", "p99"
    );
    let calls = if quick { 20_000 } else { 100_000 };
    for n in [1usize, 4, 16] {
        let (rate, st) = many(n, calls / n.min(4));
        println!(
            "{:<10} {:>14.0} {:>10.0}ns {:>10.0}ns",
            n,
            rate,
            ns(st.p50),
            ns(st.p99)
        );
    }
}
