//! What a `compare` run measured: the report that `compare` produces and that the text
//! table ([`render`]), the JSON output ([`Report::write_json`]) and the plot
//! (`plot.rs`) read.
//!
//! The JSON keys are the field names below (`python/bench/bench.py` and
//! `.ci/steps/80-compare.sh` read them): renaming a field changes the format.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::args::CompareArgs;
use crate::methods::{Qual, Wait};

/// Message size of the round trip and the small throughput.
pub const SMALL: usize = 64;
/// Message size of the large throughput.
pub const LARGE: usize = 64 * 1024;

/// How long each kind of measurement aims to take.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Plan {
    pub(crate) mode: &'static str,
    #[serde(serialize_with = "secs")]
    pub(crate) rtt: Duration,
    #[serde(serialize_with = "secs")]
    pub(crate) tput: Duration,
    #[serde(serialize_with = "secs")]
    pub(crate) floor: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Plan {
    pub(crate) fn from_args(a: &CompareArgs) -> Plan {
        let ms = Duration::from_millis;
        if a.quick {
            Plan {
                mode: "quick",
                rtt: ms(250),
                tput: ms(200),
                floor: ms(100),
            }
        } else if a.full {
            Plan {
                mode: "full",
                rtt: ms(4000),
                tput: ms(3000),
                floor: ms(1000),
            }
        } else {
            Plan {
                mode: "default",
                rtt: ms(1000),
                tput: ms(700),
                floor: ms(300),
            }
        }
    }

    /// How long a measurement may take before its peer is killed.
    pub(crate) fn limit(&self) -> Duration {
        Duration::from_secs(20) + self.rtt.max(self.tput) * 8
    }
}

/// Which floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FloorKind {
    /// Two processes ping-pong one cache line, busy polling.
    Spin,
    /// Two processes ping-pong through shared futexes, sleeping each way.
    Futex,
}

impl FloorKind {
    pub(crate) fn of(w: Wait) -> FloorKind {
        match w {
            Wait::BusyPoll => FloorKind::Spin,
            Wait::Blocking => FloorKind::Futex,
        }
    }
    pub(crate) fn label(self) -> &'static str {
        match self {
            FloorKind::Spin => "floor: cache-line ping-pong",
            FloorKind::Futex => "floor: futex ping-pong",
        }
    }
}

/// A floor measurement.
#[derive(Debug, Clone, Serialize)]
pub struct FloorResult {
    /// Which floor.
    pub kind: FloorKind,
    /// Median round trip, ns.
    pub p50_ns: f64,
    /// 99th percentile, ns.
    pub p99_ns: f64,
    /// Round trips measured.
    pub count: usize,
    /// Which method it was measured before or after.
    pub around: String,
}

/// A round-trip result.
#[derive(Debug, Clone, Serialize)]
pub struct Rtt {
    /// Message size (64, or the method's largest message if smaller).
    pub size: usize,
    /// Median, ns.
    pub p50_ns: f64,
    /// 99th percentile, ns.
    pub p99_ns: f64,
    /// Mean, ns.
    pub mean_ns: f64,
    /// Round trips measured.
    pub count: usize,
    /// Round trips per timed batch (percentiles are over batch means).
    pub batch: usize,
    /// The floor compared with.
    pub floor: FloorKind,
    /// The floor's p50 (smaller of before and after), ns.
    pub floor_p50_ns: Option<f64>,
    /// The floor's p99 (smaller of before and after), ns.
    pub floor_p99_ns: Option<f64>,
    /// p50 / floor p50.
    pub p50_ratio: Option<f64>,
    /// p99 / floor p99.
    pub p99_ratio: Option<f64>,
}

/// A throughput result.
#[derive(Debug, Clone, Serialize)]
pub struct Tput {
    /// Message size.
    pub size: usize,
    /// Messages the receiver counted.
    pub messages: u64,
    /// Messages per second at the receiver.
    pub msgs_per_s: f64,
    /// Payload bytes per second.
    pub bytes_per_s: f64,
    /// memcpy of the same size, messages per second.
    pub memcpy_msgs_per_s: f64,
    /// msgs_per_s / memcpy_msgs_per_s.
    pub ratio: f64,
}

/// Outcome of one measurement of a method.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "value")]
pub enum Outcome<T> {
    /// Measured.
    Ok(T),
    /// Not measured, for this reason (message too large, ...).
    Skipped(String),
    /// Tried and failed.
    Failed(String),
}

impl<T> Outcome<T> {
    pub(crate) fn ok(&self) -> Option<&T> {
        match self {
            Outcome::Ok(t) => Some(t),
            _ => None,
        }
    }
}

/// One method's row.
#[derive(Debug, Clone, Serialize)]
pub struct MethodResult {
    /// Id.
    pub id: &'static str,
    /// Label.
    pub label: &'static str,
    /// The article's columns.
    pub qual: Qual,
    /// Busy-poll or blocking.
    pub wait: Wait,
    /// Why it did not run here, if it did not.
    pub unavailable: Option<String>,
    /// Round trip at 64 B.
    pub rtt: Option<Outcome<Rtt>>,
    /// Throughput at 64 B.
    pub tput_small: Option<Outcome<Tput>>,
    /// Throughput at 64 KiB.
    pub tput_large: Option<Outcome<Tput>>,
}

/// The machine the run came from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Logical CPUs available.
    pub cpus: usize,
    /// OS and kernel.
    pub os: String,
    /// Architecture.
    pub arch: &'static str,
    /// The 1-minute load average when the run started (Linux), if known.
    pub load: Option<f64>,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// ipcring version.
    pub version: &'static str,
    /// The machine.
    pub machine: Machine,
    /// Mode and per-measurement budgets.
    pub(crate) plan: Plan,
    /// memcpy floor: (size, messages per second).
    pub memcpy: Vec<(usize, f64)>,
    /// Every floor measurement, in order.
    pub floors: Vec<FloorResult>,
    /// Every method, in table order.
    pub methods: Vec<MethodResult>,
    /// Wall time of the run, s.
    pub seconds: f64,
}

impl Report {
    /// Writes the report to `path` as pretty-printed JSON (the `--json` output).
    pub fn write_json(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| format!("JSON: {e}"))?;
        std::fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
    }
}

/// A duration in ns, human-readable.
pub fn fmt_ns(v: f64) -> String {
    if v < 1e3 {
        format!("{v:.0} ns")
    } else if v < 1e6 {
        format!("{:.1} µs", v / 1e3)
    } else if v < 1e9 {
        format!("{:.2} ms", v / 1e6)
    } else {
        format!("{:.2} s", v / 1e9)
    }
}

/// A rate, human-readable with an SI prefix.
pub fn fmt_rate(v: f64, unit: &str) -> String {
    if v >= 1e9 {
        format!("{:.2} G{unit}", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.2} M{unit}", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k{unit}", v / 1e3)
    } else {
        format!("{v:.0} {unit}")
    }
}

fn fmt_ratio(v: Option<f64>) -> String {
    match v {
        Some(r) if r >= 100.0 => format!("{r:.0}x"),
        Some(r) if r >= 10.0 => format!("{r:.1}x"),
        Some(r) if r >= 0.01 => format!("{r:.2}x"),
        Some(r) => format!("{r:.1e}x"),
        None => "-".into(),
    }
}

fn fmt_outcome<T>(o: &Option<Outcome<T>>) -> Option<String> {
    match o {
        Some(Outcome::Skipped(r)) => Some(format!("skipped: {r}")),
        Some(Outcome::Failed(r)) => Some(format!("failed: {r}")),
        _ => None,
    }
}

/// The text table.
pub fn render(rep: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let m = &rep.machine;
    let _ = writeln!(
        s,
        "ipcring {} compare ({} run, {:.0} s) on {} ({} CPUs, {} {})\n",
        rep.version, rep.plan.mode, rep.seconds, m.cpu, m.cpus, m.os, m.arch
    );
    if let Some(load) = m.load.filter(|&l| l > m.cpus as f64 / 2.0) {
        let _ = writeln!(
            s,
            "note: load average {load:.1} on {} CPUs when the run started: busy-poll figures need \
two idle cores and will be noisy; re-run on a quieter machine.\n",
            m.cpus
        );
    }
    let _ = writeln!(
        s,
        "{:<26} {:<5} {:<5} {:<7} {:<4} | {:>9} {:>9} {:>7} {:>7} | {:>11} {:>8} | {:>11} {:>8}",
        "method",
        "cross",
        "file",
        "service",
        "easy",
        "rtt p50",
        "rtt p99",
        "p50/fl",
        "p99/fl",
        "64 B msg/s",
        "/memcpy",
        "64 KiB B/s",
        "/memcpy"
    );
    let _ = writeln!(s, "{}", "-".repeat(131));
    // Floors first: the smallest of each kind.
    for kind in [FloorKind::Spin, FloorKind::Futex] {
        let best = rep
            .floors
            .iter()
            .filter(|f| f.kind == kind)
            .min_by(|a, b| a.p50_ns.total_cmp(&b.p50_ns));
        if let Some(f) = best {
            let _ = writeln!(
                s,
                "{:<26} {:<5} {:<5} {:<7} {:<4} | {:>9} {:>9} {:>7} {:>7} |",
                kind.label(),
                "",
                "",
                "",
                "",
                fmt_ns(f.p50_ns),
                fmt_ns(f.p99_ns),
                "1.00x",
                "1.00x"
            );
        }
    }
    let mc = |size: usize| rep.memcpy.iter().find(|(s, _)| *s == size).map(|x| x.1);
    let _ = writeln!(
        s,
        "{:<26} {:<5} {:<5} {:<7} {:<4} | {:>9} {:>9} {:>7} {:>7} | {:>11} {:>8} | {:>11} {:>8}",
        "floor: memcpy (1 process)",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        mc(SMALL).map_or("-".into(), |v| fmt_rate(v, "")),
        "1.00x",
        mc(LARGE).map_or("-".into(), |v| fmt_rate(v * LARGE as f64, "B")),
        "1.00x"
    );
    let _ = writeln!(s, "{}", "-".repeat(131));
    let mut notes = Vec::new();
    for r in &rep.methods {
        let q = &r.qual;
        let head = format!(
            "{:<26} {:<5} {:<5} {:<7} {:<4} |",
            r.label, q.cross_platform, q.needs_file, q.needs_service, q.easy
        );
        if let Some(why) = &r.unavailable {
            let _ = writeln!(s, "{head} not run here: {why}");
            continue;
        }
        let rtt = match r.rtt.as_ref().and_then(|o| o.ok()) {
            Some(x) => format!(
                "{:>9} {:>9} {:>7} {:>7}",
                fmt_ns(x.p50_ns),
                fmt_ns(x.p99_ns),
                fmt_ratio(x.p50_ratio),
                fmt_ratio(x.p99_ratio)
            ),
            None => format!("{:>9} {:>9} {:>7} {:>7}", "-", "-", "-", "-"),
        };
        let tp = |o: &Option<Outcome<Tput>>, bytes: bool| match o.as_ref().and_then(|o| o.ok()) {
            Some(t) => format!(
                "{:>11} {:>8}",
                if bytes {
                    fmt_rate(t.bytes_per_s, "B")
                } else {
                    fmt_rate(t.msgs_per_s, "")
                },
                fmt_ratio(Some(t.ratio))
            ),
            None => format!("{:>11} {:>8}", "-", "-"),
        };
        let _ = writeln!(
            s,
            "{head} {rtt} | {} | {}",
            tp(&r.tput_small, false),
            tp(&r.tput_large, true)
        );
        if let Some(x) = r.rtt.as_ref().and_then(|o| o.ok()) {
            if x.size != SMALL {
                notes.push(format!(
                    "  {} round trip: measured at {} B, its largest message",
                    r.label, x.size
                ));
            }
        }
        if let Some(t) = r.tput_small.as_ref().and_then(|o| o.ok()) {
            if t.size != SMALL {
                notes.push(format!(
                    "  {} throughput: measured at {} B, its largest message",
                    r.label, t.size
                ));
            }
        }
        for (what, o) in [
            ("round trip", fmt_outcome(&r.rtt)),
            ("throughput 64 B", fmt_outcome(&r.tput_small)),
            ("throughput 64 KiB", fmt_outcome(&r.tput_large)),
        ] {
            if let Some(o) = o {
                notes.push(format!("  {} {what}: {o}", r.label));
            }
        }
    }
    let _ = writeln!(
        s,
        "\ncross/file/service/easy: the article's columns (cross platform, needs a file or file \
descriptor, needs an external service, easy to write).\nrtt: round trip of a 64-byte message \
between two processes; p50/fl, p99/fl: ratio to the floor of its kind (busy-poll methods: the \
cache-line ping-pong; blocking ones: the futex ping-pong), the smaller of the floors measured \
right before and after it.\nmsg/s, B/s: throughput one way, at the receiver; /memcpy: ratio to \
copying the same messages within one process."
    );
    if !notes.is_empty() {
        let _ = writeln!(s, "\nNotes:");
        for n in notes {
            let _ = writeln!(s, "{n}");
        }
    }
    s
}
