//! ipcring's ring beside other Rust IPC crates, measured the same way in the same run:
//! round trip p50/p99 of 64 bytes and one-way throughput of 64 B and 64 KiB messages
//! between two processes, each round trip beside the floor of its kind (cache-line
//! ping-pong for busy-poll, futex ping-pong for blocking).
//!
//! Every contender is wrapped in ipcring's `Sender`/`Receiver` traits and driven by the
//! same code as `ipcring compare` (`ipcring::measure`'s round-trip and echo drivers, the
//! compare's stream to a sink in `cli/src/drive.rs`), so they all do one copy in and one
//! copy out per message.
//!
//! Run: `cargo run --release -p ipcring-peers` (`-- --quick` for a short run;
//! `IPCRING_PEERS_ONLY=iceoryx2` runs only the contenders whose id contains that text).

mod contenders;
// The measuring side's drivers of `ipcring compare`, so both measure the same way.
#[path = "../../cli/src/drive.rs"]
mod drive;

use std::io::BufReader;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use ipcring::measure::{self, Stats};
use ipcring::Sender;

use contenders::{Contender, Rx, SideB, Tx};
use drive::{iters_for, ns, read_line, unique};

const SMALL: usize = 64;
/// The throughput "result" of a request/response contender: not measured (each request
/// waits for its answer; there is no one-way stream).
const NO_STREAM: &str = "request/response: no one-way stream";
const LARGE: usize = 64 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("peer") {
        if let Err(e) = peer(&args[2..]) {
            eprintln!("peer: {e}");
            std::process::exit(1);
        }
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let budget = if quick {
        Duration::from_millis(250)
    } else {
        Duration::from_millis(1000)
    };
    run(budget);
}

/// The peer process: `peer <contender> <role> <token>`.
fn peer(args: &[String]) -> Result<(), String> {
    let [id, role, token] = args else {
        return Err("usage: peer CONTENDER ROLE TOKEN".into());
    };
    match role.as_str() {
        "floor-spin" => return measure::floor_spin_peer(token).map_err(|e| e.to_string()),
        "floor-futex" => return measure::floor_futex_peer(token).map_err(|e| e.to_string()),
        _ => {}
    }
    let c = contenders::find(id).ok_or_else(|| format!("unknown contender {id}"))?;
    // Standard output is line-buffered: each line reaches side A as it is written.
    let (mut tx, mut rx) = match c.b_side {
        SideB::Pair(b_side) => b_side(token)?,
        SideB::Serve(serve) => return serve(token, &mut || println!("ready")),
    };
    println!("ready");
    match role.as_str() {
        "echo" => measure::echo_peer(&mut tx, &mut rx).map_err(|e| e.to_string()),
        "sink" => loop {
            match measure::throughput_peer(&mut rx) {
                Ok((n, bytes, dt)) => println!("{n} {bytes} {}", dt.as_nanos()),
                Err(ipcring::Error::Disconnected) => return Ok(()),
                Err(e) => return Err(e.to_string()),
            }
        },
        r => Err(format!("unknown role {r}")),
    }
}

/// A running peer process.
struct Peer {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(id: &str, role: &str, token: &str) -> Result<Peer, String> {
        let mut child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
            .args(["peer", id, role, token])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        Ok(Peer { child, out })
    }

    fn line(&mut self) -> Result<String, String> {
        read_line(&mut self.out)
    }

    /// Waits a moment for the peer to leave by itself (it does when its transport tells
    /// it the other side is gone), then stops it (some transports never tell).
    fn finish(mut self) {
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The prefix of every shm name (and file) a run creates.
const NAMES: &str = "ipcring-peers";

/// Connects side A, starting the peer in `role` when the contender says so.
fn connect(c: &Contender, role: &str) -> Result<(Tx, Rx, Peer), String> {
    let mut peer = None;
    let mut spawn = |token: &str| -> Result<(), String> {
        peer = Some(Peer::spawn(c.id, role, token)?);
        Ok(())
    };
    let (tx, rx) = (c.a_side)(&unique(NAMES, c.id), &mut spawn)?;
    let mut peer = peer.ok_or("the contender never started its peer")?;
    let ready = peer.line()?;
    if ready != "ready" {
        return Err(format!("peer said {ready:?}"));
    }
    Ok((tx, rx, peer))
}

fn rtt(c: &Contender, budget: Duration) -> Result<Stats, String> {
    let (mut tx, mut rx, peer) = connect(c, "echo")?;
    // Batches of `measure::BATCH` (busy-poll) or one by one (blocking).
    let r = measure::round_trip_for(&mut tx, &mut rx, SMALL, budget, !c.busy_poll)
        .map_err(|e| e.to_string());
    drop((tx, rx));
    peer.finish();
    r
}

/// Messages per second one way (timed by the receiver), in rounds until `budget` is spent.
fn tput(c: &Contender, size: usize, budget: Duration) -> Result<f64, String> {
    let (mut tx, rx, mut peer) = connect(c, "sink")?;
    if tx.max_message() < size {
        return Err(format!("largest message {} B", tx.max_message()));
    }
    let r = drive::stream(&mut tx, &mut peer.out, size, budget, u64::MAX);
    drop((tx, rx));
    peer.finish();
    r.map(|(_, rate)| rate)
}

fn floor(spin: bool, budget: Duration) -> Result<Stats, String> {
    // Sized by a short pilot, then one run of about the budget.
    let run = |iters: usize| -> Result<Stats, String> {
        let name = unique(NAMES, "floor");
        let role = if spin { "floor-spin" } else { "floor-futex" };
        let handle = {
            let name = name.clone();
            std::thread::spawn(move || {
                if spin {
                    measure::floor_spin(&name, iters)
                } else {
                    measure::floor_futex(&name, iters, None)
                }
            })
        };
        let mut child = Peer::spawn("-", role, &name)?.child;
        // A peer that failed leaves the floor waiting for ever: give up on it (and its
        // page) a second after the peer is gone.
        let mut gone_since: Option<Instant> = None;
        while !handle.is_finished() {
            if gone_since.is_none() && matches!(child.try_wait(), Ok(Some(_))) {
                gone_since = Some(Instant::now());
            }
            if gone_since.is_some_and(|t| t.elapsed() > Duration::from_secs(1)) {
                let _ = std::fs::remove_file(format!("/dev/shm{name}"));
                return Err("the floor's peer exited early".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let r = handle
            .join()
            .map_err(|_| "floor thread panicked".to_owned())?;
        let _ = child.wait();
        r.map_err(|e| e.to_string())
    };
    let pilot = run(if spin { 20_000 } else { 300 })?;
    run(iters_for(
        budget,
        ns(pilot.mean).max(1.0),
        100,
        20_000_000,
        1,
    ))
}

fn fmt_ns(v: f64) -> String {
    if v < 1e3 {
        format!("{v:.0} ns")
    } else if v < 1e6 {
        format!("{:.1} µs", v / 1e3)
    } else {
        format!("{:.2} ms", v / 1e6)
    }
}

struct Row {
    label: &'static str,
    busy: bool,
    /// A request/response contender.
    rr: bool,
    rtt: Result<Stats, String>,
    small: Result<f64, String>,
    large: Result<f64, String>,
}

/// Seconds since the start at which the run last made progress (a watchdog ends a run
/// that is stuck: a contender whose peer failed may leave its other side waiting).
static PROGRESS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn progress(start: Instant) {
    PROGRESS.store(
        start.elapsed().as_secs(),
        std::sync::atomic::Ordering::Relaxed,
    );
}

fn run(budget: Duration) {
    let start = Instant::now();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(1));
        let last = PROGRESS.load(std::sync::atomic::Ordering::Relaxed);
        if start.elapsed().as_secs().saturating_sub(last) > 60 {
            eprintln!("ipcring-peers: no progress for a minute; a contender is stuck");
            std::process::exit(1);
        }
    });
    // IPCRING_PEERS_ONLY=text: only the contenders whose id contains it.
    let only = std::env::var("IPCRING_PEERS_ONLY").unwrap_or_default();
    let chosen: Vec<Contender> = contenders::all()
        .into_iter()
        .filter(|c| c.id.contains(only.as_str()))
        .collect();
    eprintln!("measuring (about {} s)...", 2 + chosen.len() * 3);
    let fs1 = floor(true, budget / 3);
    let ff1 = floor(false, budget / 3);
    let mut rows = Vec::new();
    for c in chosen {
        progress(start);
        eprintln!("  {}", c.label);
        let rr = matches!(c.b_side, SideB::Serve(_));
        let stream = |size| {
            if rr {
                Err(NO_STREAM.to_owned())
            } else {
                tput(&c, size, budget * 2 / 3)
            }
        };
        rows.push(Row {
            label: c.label,
            busy: c.busy_poll,
            rr,
            rtt: rtt(&c, budget),
            small: stream(SMALL),
            large: stream(LARGE),
        });
    }
    let fs2 = floor(true, budget / 3);
    let ff2 = floor(false, budget / 3);
    let best = |a: &Result<Stats, String>, b: &Result<Stats, String>| {
        [a, b]
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|s| ns(s.p50))
            .min_by(f64::total_cmp)
    };
    let (spin, futex) = (best(&fs1, &fs2), best(&ff1, &ff2));
    println!("ipcring peers: two processes, same drivers, floors measured before and after\n");
    println!(
        "{:<42} {:>9} {:>9} {:>8} | {:>12} {:>12}",
        "", "rtt p50", "rtt p99", "p50/fl", "64 B msg/s", "64 KiB GB/s"
    );
    for (label, v) in [
        ("floor: cache-line ping-pong", spin),
        ("floor: futex ping-pong", futex),
    ] {
        if let Some(v) = v {
            println!("{label:<42} {:>9} {:>9} {:>8} |", fmt_ns(v), "", "1.00x");
        }
    }
    for r in &rows {
        let fl = if r.busy { spin } else { futex };
        let rtt = match &r.rtt {
            Ok(s) => format!(
                "{:>9} {:>9} {:>8}",
                fmt_ns(ns(s.p50)),
                fmt_ns(ns(s.p99)),
                fl.map_or("-".into(), |f| format!("{:.2}x", ns(s.p50) / f))
            ),
            Err(e) => format!("failed: {e}"),
        };
        let small = r
            .small
            .as_ref()
            .map_or("-".into(), |v| format!("{:.2} M", v / 1e6));
        let large = r
            .large
            .as_ref()
            .map_or("-".into(), |v| format!("{:.2}", v * LARGE as f64 / 1e9));
        println!("{:<42} {rtt} | {small:>12} {large:>12}", r.label);
    }
    println!(
        "\nbusy-poll rows are compared with the cache-line floor, the others with the futex floor.\n\
request/response rows (the round trip is a request and its response; no one-way stream) show\n\
no throughput."
    );
    for r in &rows {
        for (what, e) in [
            ("round trip", r.rtt.as_ref().err()),
            ("throughput 64 B", r.small.as_ref().err()),
            ("throughput 64 KiB", r.large.as_ref().err()),
        ] {
            if let Some(e) = e.filter(|e| e.as_str() != NO_STREAM) {
                println!("failed: {} {what}: {e}", r.label);
            }
        }
    }
    // Say plainly who wins each figure.
    let winner = |f: &dyn Fn(&Row) -> Option<f64>, more_is_better: bool| {
        let sign = if more_is_better { 1.0 } else { -1.0 };
        rows.iter()
            .filter_map(|r| f(r).map(|v| (r.label, sign * v)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(l, _)| l)
    };
    let p50 = |r: &Row| r.rtt.as_ref().ok().map(|s| ns(s.p50));
    let blocking_rtt = winner(&|r: &Row| p50(r).filter(|_| !r.busy), false);
    let busy_rtt = winner(&|r: &Row| p50(r).filter(|_| r.busy), false);
    let small = winner(&|r: &Row| r.small.as_ref().ok().copied(), true);
    let large = winner(&|r: &Row| r.large.as_ref().ok().copied(), true);
    let rr_rtt = winner(&|r: &Row| p50(r).filter(|_| r.rr), false);
    println!("fastest round trip, busy-poll: {}", busy_rtt.unwrap_or("-"));
    println!("fastest request/response:      {}", rr_rtt.unwrap_or("-"));
    println!(
        "fastest round trip, blocking:  {}",
        blocking_rtt.unwrap_or("-")
    );
    println!("most 64 B messages per second: {}", small.unwrap_or("-"));
    println!("most 64 KiB bytes per second:  {}", large.unwrap_or("-"));
}
