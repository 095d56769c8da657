//! `ipcring compare`: every method between two real processes, beside the machine's floors.
//!
//! Order of a run: the memcpy floor; then for each method that can run, the floor of its
//! kind (reused when the previous measurement was that same floor), the method's round
//! trip, its throughput at 64 B and at 64 KiB, and the floor of its kind again. Each
//! round trip is reported as a ratio to the smaller of the floors measured right before
//! and after it; each throughput as a ratio to a memcpy of the same message size. Floors
//! and methods are measured the same way: every round trip is the least disturbed of up
//! to six chunks against fresh peer processes ([`least_disturbed`]); the drivers within a
//! chunk are `ipcring::measure`'s, the stream to a sink is `drive::stream`.
//!
//! Every measurement runs on a worker thread with its peer process; one that does not
//! finish in time gets its peer killed and is reported as failed, so a broken method never
//! hangs the run.

use std::io::{BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use ipcring::measure::{self, Stats, BATCH};
use ipcring::ring::Side;
use ipcring::Sender;

use crate::args::{CompareArgs, Failure, EXIT_USAGE};
use crate::drive::{iters_for, ns, read_line, stream, unique};
use crate::methods::{self, Connect, Method, Rx, Tx};
use crate::report::{
    render, FloorKind, FloorResult, Machine, MethodResult, Outcome, Plan, Report, Rtt, Tput, Wait,
    LARGE, SMALL,
};

/// The prefix of every shm name (and file) a run creates.
const NAMES: &str = "ipcring-cmp";

/// A peer process: its stdout lines, its stderr collected in the background.
struct Peer {
    child: Child,
    stderr: Option<thread::JoinHandle<String>>,
}

fn spawn_peer(role: &str, name: &str, method: &str) -> Result<(Peer, ChildStdout), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    let mut child = Command::new(exe)
        .args(["__peer", role, name, "--method", method])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the peer process: {e}"))?;
    let stdout = child.stdout.take().ok_or("peer has no stdout")?;
    let mut err = child.stderr.take().ok_or("peer has no stderr")?;
    let stderr = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    Ok((
        Peer {
            child,
            stderr: Some(stderr),
        },
        stdout,
    ))
}

impl Peer {
    /// Waits (bounded) for the peer to exit, killing it if it does not; its stderr if it
    /// failed.
    fn finish(mut self, kill_now: bool) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        if kill_now {
            let _ = self.child.kill();
        }
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(st)) => break Some(st),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                _ => {
                    let _ = self.child.kill();
                    break self.child.wait().ok();
                }
            }
        };
        let err = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        match status {
            Some(st) if st.success() => Ok(()),
            Some(st) => Err(format!(
                "peer {st}{}{}",
                if err.trim().is_empty() { "" } else { ": " },
                err.trim()
            )),
            None => Err("peer could not be waited for".into()),
        }
    }
}

/// Runs `work` on a worker thread against a peer process in `role`; a measurement that
/// does not finish within `limit` gets its peer killed (which makes a blocked transport
/// return `Disconnected`); a worker still stuck after that is abandoned.
fn with_peer<T: Send + 'static>(
    role: &'static str,
    name: String,
    method: &'static str,
    limit: Duration,
    stop_peer_after: bool,
    work: impl FnOnce(String, BufReader<ChildStdout>) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let (peer, stdout) = spawn_peer(role, &name, method)?;
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = done_tx.send(work(name, BufReader::new(stdout)));
    });
    match done_rx.recv_timeout(limit) {
        Ok(r) => {
            let fin = peer.finish(r.is_err() || stop_peer_after);
            match (r, fin) {
                (Ok(t), _) => Ok(t),
                (Err(e), Ok(())) => Err(e),
                (Err(e), Err(pe)) => Err(format!("{e} ({pe})")),
            }
        }
        Err(_) => {
            let pe = peer.finish(true).err().unwrap_or_default();
            // The kill usually unblocks the worker; give it a moment, then abandon it.
            let _ = done_rx.recv_timeout(Duration::from_secs(2));
            Err(format!(
                "no result within {:.0} s; peer killed {pe}",
                limit.as_secs_f64()
            ))
        }
    }
}

/// Connects to the peer's pair as side A, then waits for the peer to say it is ready.
fn connect_when_ready(
    connect: Connect,
    name: &str,
    out: &mut BufReader<ChildStdout>,
) -> Result<(Tx, Rx), String> {
    let pair = connect(name, Side::A).map_err(|e| e.to_string())?;
    let ready = read_line(out)?;
    if ready != "ready" {
        return Err(format!("unexpected peer output {ready:?}"));
    }
    Ok(pair)
}

/// The state of a run: per-kind iteration estimates, the last measurement done.
struct Runner {
    plan: Plan,
    floors: Vec<FloorResult>,
    /// ns per round trip of each floor, from its first measurement.
    floor_per: [Option<f64>; 2],
    /// The floor measured last, if nothing else was measured since.
    last_floor: Option<usize>,
}

impl Runner {
    /// Measures the floor of `kind` ([`least_disturbed`]) and keeps it: its index in
    /// `floors`, or `None` if every chunk failed.
    fn floor(&mut self, kind: FloorKind, around: String) -> Option<usize> {
        let idx = kind as usize;
        // The peer's role, and the round trips of the first chunk.
        let (role, first) = match kind {
            FloorKind::Spin => ("floor-spin", 20_000),
            FloorKind::Futex => ("floor-futex", 300),
        };
        // A chunk is meant to take a quarter of the floor budget: one that takes seconds
        // met a busy machine and is abandoned (and the next one made smaller).
        let limit = Duration::from_secs(5) + self.plan.floor * 8;
        let run = |iters: usize| -> Result<Stats, String> {
            let name = unique(NAMES, "floor");
            let page = name.clone();
            let r = with_peer(role, name, "", limit, false, move |name, _out| {
                match kind {
                    FloorKind::Spin => measure::floor_spin(&name, iters),
                    FloorKind::Futex => measure::floor_futex(&name, iters, None),
                }
                .map_err(|e| e.to_string())
            });
            if r.is_err() {
                // An abandoned floor never drops its page: remove the name (Linux keeps
                // POSIX shm names in /dev/shm; elsewhere there is nothing to do here).
                let _ = std::fs::remove_file(format!("/dev/shm{page}"));
            }
            r
        };
        // Each chunk is sized by the last chunk's mean (a count sized once could run for
        // minutes if the machine gets busy meanwhile); a failed one (abandoned on a busy
        // machine) makes the next one smaller.
        let (plan, per) = (self.plan, &mut self.floor_per[idx]);
        let chunk = || {
            let iters = match *per {
                Some(per) => iters_for(plan.floor / 4, per, 100, 50_000_000, BATCH),
                None => first,
            };
            let r = run(iters);
            *per = Some(match &r {
                Ok(s) => ns(s.mean).max(1.0),
                Err(_) => per.unwrap_or(1000.0) * 100.0,
            });
            r.map(|s| (s, ()))
        };
        let (s, ()) = least_disturbed(plan.floor, true, chunk).ok()?;
        self.floors.push(FloorResult {
            kind,
            p50_ns: ns(s.p50),
            p99_ns: ns(s.p99),
            count: s.count,
            around,
        });
        self.last_floor = Some(self.floors.len() - 1);
        self.last_floor
    }

    /// Runs `work` against `m`'s peer process in `role`, over this side's pair once the
    /// peer is ready; cleans up after both processes are done. Every measurement of a
    /// method goes through here.
    fn with_method<T: Send + 'static>(
        &mut self,
        m: &Method,
        role: &'static str,
        work: impl FnOnce(Tx, Rx, &mut BufReader<ChildStdout>) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        self.last_floor = None;
        let connect = m.connect;
        let name = unique(NAMES, m.id);
        let r = with_peer(
            role,
            name.clone(),
            m.id,
            self.plan.limit(),
            !m.peer_sees_close,
            move |name, mut out| {
                let (tx, rx) = connect_when_ready(connect, &name, &mut out)?;
                work(tx, rx, &mut out)
            },
        );
        (m.cleanup)(&name);
        r
    }

    /// Round trips at 64 B (or at the method's largest message, if smaller): calls for an
    /// RPC method, echoed messages for the others; measured as the floors are (chunks
    /// against fresh peers, the least disturbed one).
    fn rtt(&mut self, m: &Method) -> Outcome<(Stats, usize)> {
        const NO_BYTES: &str = "carries no bytes";
        let whole = self.plan.rtt;
        let budget = whole / 4;
        // Blocking methods: one round trip per timed sample, like the futex floor.
        let one_per_sample = m.wait == Wait::Blocking;
        let chunk = || match m.rpc {
            Some(codec) => self.with_method(m, "rpc-server", move |tx, rx, _| {
                crate::rpcbench::round_trip(codec, tx, rx, SMALL, budget).map(|s| (s, SMALL))
            }),
            None => self.with_method(m, "echo", move |mut tx, mut rx, _| {
                let size = tx.max_message().min(SMALL);
                if size == 0 {
                    return Err(NO_BYTES.into());
                }
                measure::round_trip_for(&mut tx, &mut rx, size, budget, one_per_sample)
                    .map(|s| (s, size))
                    .map_err(|e| e.to_string())
            }),
        };
        match least_disturbed(whole, false, chunk) {
            Ok(s) => Outcome::Ok(s),
            Err(e) if e == NO_BYTES => Outcome::Skipped(e),
            Err(e) => Outcome::Failed(e),
        }
    }

    /// One-way throughput at `size` (the small size shrinks to the method's largest
    /// message if that is smaller; the large one is then skipped): calls for an RPC
    /// method, a stream to a sink for the others.
    fn tput(&mut self, m: &Method, size: usize, memcpy: f64) -> Outcome<Tput> {
        if let Some(why) = m.no_stream {
            return Outcome::Skipped(why.into());
        }
        let budget = self.plan.tput;
        let cap = m.max_stream_bytes;
        let r = match m.rpc {
            Some(codec) => self.with_method(m, "rpc-server", move |tx, rx, _| {
                let most = cap / size as u64;
                crate::rpcbench::throughput(codec, tx, rx, size, budget, most)
                    .map(|(n, rate)| Ok((n, rate, size)))
            }),
            None => self.with_method(m, "sink", move |mut tx, _rx, out| {
                let max = tx.max_message();
                let size = match size {
                    SMALL => max.min(SMALL),
                    _ if max < size => return Ok(Err(max)),
                    _ => size,
                };
                if size == 0 {
                    return Ok(Err(0));
                }
                stream(&mut tx, out, size, budget, cap).map(|(n, rate)| Ok((n, rate, size)))
            }),
        };
        match r {
            Ok(Ok((n, rate, size))) => Outcome::Ok(Tput {
                size,
                messages: n,
                msgs_per_s: rate,
                bytes_per_s: rate * size as f64,
                memcpy_msgs_per_s: memcpy,
                ratio: if memcpy > 0.0 { rate / memcpy } else { 0.0 },
            }),
            Ok(Err(max)) => Outcome::Skipped(format!("largest message {max} B < {size} B")),
            Err(e) => Outcome::Failed(e),
        }
    }
}

/// Most chunks in a series of [`least_disturbed`].
const CHUNKS: usize = 6;

/// How every round trip is measured, the floors' and the methods' alike: `chunk` (about a
/// quarter of `budget`, against a fresh peer process each) until `budget` is spent, at
/// most [`CHUNKS`] times; the result is the least disturbed chunk, the one with the
/// smallest p50. A failed chunk ends the series once one has succeeded; before that,
/// `retry` tries the next one (a floor chunk abandoned on a busy machine) or returns the
/// failure (a method that fails).
fn least_disturbed<T>(
    budget: Duration,
    retry: bool,
    mut chunk: impl FnMut() -> Result<(Stats, T), String>,
) -> Result<(Stats, T), String> {
    let start = Instant::now();
    let mut best: Option<(Stats, T)> = None;
    let mut failure = String::new();
    for _ in 0..CHUNKS {
        match chunk() {
            Ok(r) => {
                if best.as_ref().is_none_or(|b| r.0.p50 < b.0.p50) {
                    best = Some(r);
                }
            }
            Err(_) if best.is_some() => break,
            Err(e) if retry => {
                failure = e;
                continue;
            }
            Err(e) => return Err(e),
        }
        if start.elapsed() >= budget {
            break;
        }
    }
    best.ok_or(failure)
}

/// memcpy of `size`-byte messages into a 4-MiB area (the ring's size), messages/s.
fn memcpy_rate(size: usize, budget: Duration) -> f64 {
    let area = 1usize << 22;
    let src = vec![0x5Au8; size];
    let mut dst = vec![0u8; area];
    let slots = area / size;
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < budget {
        for _ in 0..1024 {
            let at = (n as usize % slots) * size;
            dst[at..at + size].copy_from_slice(std::hint::black_box(&src));
            n += 1;
        }
        std::hint::black_box(&mut dst);
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn selected(args: &CompareArgs) -> Result<Vec<Method>, Failure> {
    let all = methods::all();
    if args.only.is_empty() {
        return Ok(all);
    }
    if let Some(id) = args.only.iter().find(|id| !all.iter().any(|m| m.id == *id)) {
        let ids: Vec<_> = all.iter().map(|m| m.id).collect();
        return Err(Failure {
            msg: format!("unknown method {id:?}; methods: {}", ids.join(", ")),
            code: EXIT_USAGE,
        });
    }
    Ok(all
        .into_iter()
        .filter(|m| args.only.iter().any(|o| o == m.id))
        .collect())
}

/// Runs `compare`.
pub fn run(args: &CompareArgs) -> Result<(), Failure> {
    let methods = selected(args)?;
    if args.list {
        for m in &methods {
            let state = match (m.check)() {
                Ok(()) => "runs here".to_owned(),
                Err(r) => format!("cannot run here: {r}"),
            };
            println!("{:<12} {:<26} {state}", m.id, m.label);
        }
        return Ok(());
    }
    let plan = Plan::from_args(args);
    let started = Instant::now();
    let machine = Machine::here();
    let checks: Vec<Result<(), String>> = methods.iter().map(|m| (m.check)()).collect();
    let runnable = checks.iter().filter(|c| c.is_ok()).count();
    // Per method: a floor before, three measurements, a floor after.
    let steps = 1 + runnable as u64 * 5;
    let bar = ProgressBar::new(steps);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));

    bar.set_message("floor: memcpy");
    let memcpy = vec![
        (SMALL, memcpy_rate(SMALL, plan.floor)),
        (LARGE, memcpy_rate(LARGE, plan.floor)),
    ];
    bar.inc(1);
    let mut r = Runner {
        plan,
        floors: Vec::new(),
        floor_per: [None, None],
        last_floor: None,
    };
    let mut results = Vec::new();
    for (m, check) in methods.iter().zip(checks) {
        let mut res = MethodResult {
            id: m.id.into(),
            label: m.label.into(),
            qual: m.qual.clone(),
            wait: m.wait,
            unavailable: None,
            rtt: None,
            tput_small: None,
            tput_large: None,
        };
        if let Err(reason) = check {
            res.unavailable = Some(reason);
            results.push(res);
            continue;
        }
        let kind = FloorKind::of(m.wait);
        // The step done counts; the next one is named.
        let next = |what: String| {
            bar.inc(1);
            bar.set_message(what);
        };
        bar.set_message(format!("{} (before {})", kind.label(), m.id));
        let before = match r.last_floor {
            Some(i) if r.floors[i].kind == kind => Some(i),
            _ => r.floor(kind, format!("before {}", m.id)),
        };
        next(format!("{}: round trip", m.id));
        let rtt = r.rtt(m);
        next(format!("{}: throughput 64 B", m.id));
        res.tput_small = Some(r.tput(m, SMALL, memcpy[0].1));
        next(format!("{}: throughput 64 KiB", m.id));
        res.tput_large = Some(r.tput(m, LARGE, memcpy[1].1));
        next(format!("{} (after {})", kind.label(), m.id));
        let after = r.floor(kind, format!("after {}", m.id));
        bar.inc(1);
        let pick = |f: fn(&FloorResult) -> f64| {
            [before, after]
                .iter()
                .flatten()
                .map(|&i| f(&r.floors[i]))
                .min_by(f64::total_cmp)
        };
        let (fp50, fp99) = (pick(|f| f.p50_ns), pick(|f| f.p99_ns));
        res.rtt = Some(match rtt {
            Outcome::Ok((s, size)) => Outcome::Ok(Rtt {
                size,
                p50_ns: ns(s.p50),
                p99_ns: ns(s.p99),
                mean_ns: ns(s.mean),
                count: s.count,
                batch: if m.wait == Wait::BusyPoll { BATCH } else { 1 },
                floor: kind,
                floor_p50_ns: fp50,
                floor_p99_ns: fp99,
                p50_ratio: fp50.map(|f| ns(s.p50) / f),
                p99_ratio: fp99.map(|f| ns(s.p99) / f),
            }),
            Outcome::Skipped(x) => Outcome::Skipped(x),
            Outcome::Failed(x) => Outcome::Failed(x),
        });
        results.push(res);
    }
    bar.finish_and_clear();
    let report = Report {
        version: env!("CARGO_PKG_VERSION").into(),
        machine,
        plan,
        memcpy,
        floors: r.floors,
        methods: results,
        seconds: started.elapsed().as_secs_f64(),
    };
    print!("{}", render(&report));
    let _ = std::io::Write::flush(&mut std::io::stdout());
    if let Some(path) = &args.json {
        report.write_json(path).map_err(Failure::new)?;
        eprintln!("ipcring: results written to {}", path.display());
    }
    if let Some(path) = &args.plot {
        crate::plot::draw(&report, path)
            .map_err(|e| Failure::new(format!("drawing {}: {e}", path.display())))?;
        eprintln!("ipcring: plot written to {}", path.display());
    }
    Ok(())
}
