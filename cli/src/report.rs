//! What a `compare` run measured: the report that `compare` produces and that the text
//! table ([`render`]), the JSON output ([`Report::write_json`]) and the plot
//! (`plot.rs`) read. Plain data and its formatting: it imports no other module of the
//! command but the options (`args`), and the method table (`methods`) describes its rows
//! with this module's [`Wait`] and [`Qual`].
//!
//! The JSON keys are the field names below (`python/bench/bench.py` and
//! `.ci/steps/80-compare.sh` read them): renaming a field changes the format. A report
//! written as JSON reads back as the same report (`tests` below).

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::args::CompareArgs;

/// Text of a report: a `&'static str` from the method table when measured, an owned
/// string when read back from JSON.
pub type Text = Cow<'static, str>;

/// How a method waits, which decides the floor its round trip is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wait {
    /// Polls shared memory without sleeping: compared with the cache-line ping-pong.
    BusyPoll,
    /// Sleeps in the kernel until woken: compared with the futex ping-pong.
    Blocking,
}

/// The article's four qualitative columns ("Yes"/"No", with a short qualifier where the
/// article has a footnote or our implementation differs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qual {
    /// The article's row this method belongs to ("Shared Memory", "Sockets", ...), or
    /// "(not in the article)".
    pub article_row: Text,
    /// Cross platform compatible.
    pub cross_platform: Text,
    /// Requires a file or file descriptor.
    pub needs_file: Text,
    /// Requires an external service.
    pub needs_service: Text,
    /// Easy to write / read code.
    pub easy: Text,
}

/// Message size of the round trip and the small throughput.
pub const SMALL: usize = 64;
/// Message size of the large throughput.
pub const LARGE: usize = 64 * 1024;

/// How long each kind of measurement aims to take.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Plan {
    pub(crate) mode: Mode,
    #[serde(with = "secs")]
    pub(crate) rtt: Duration,
    #[serde(with = "secs")]
    pub(crate) tput: Duration,
    #[serde(with = "secs")]
    pub(crate) floor: Duration,
}

/// How long a run is (`--quick`, neither, `--full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Mode {
    Quick,
    Default,
    Full,
}

impl Mode {
    /// As the table and the plot name it (and JSON spells it).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Quick => "quick",
            Mode::Default => "default",
            Mode::Full => "full",
        }
    }
}

/// A duration as seconds (a float) in JSON.
mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = <f64 as serde::Deserialize>::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

impl Plan {
    pub(crate) fn from_args(a: &CompareArgs) -> Plan {
        // Round trip, throughput and floor budgets, ms.
        let (mode, [rtt, tput, floor]) = match (a.quick, a.full) {
            (true, _) => (Mode::Quick, [250, 200, 100]),
            (false, true) => (Mode::Full, [4000, 3000, 1000]),
            (false, false) => (Mode::Default, [1000, 700, 300]),
        };
        let ms = Duration::from_millis;
        Plan {
            mode,
            rtt: ms(rtt),
            tput: ms(tput),
            floor: ms(floor),
        }
    }

    /// How long a measurement may take before its peer is killed.
    pub(crate) fn limit(&self) -> Duration {
        Duration::from_secs(20) + self.rtt.max(self.tput) * 8
    }
}

/// Which floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FloorKind {
    /// Two processes ping-pong one cache line, busy polling.
    Spin,
    /// Two processes ping-pong through shared futexes, sleeping each way.
    Futex,
}

impl FloorKind {
    /// The floor a method that waits this way is compared with.
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloorResult {
    /// Which floor.
    pub kind: FloorKind,
    /// Median round trip, ns.
    pub p50_ns: f64,
    /// 99th percentile, ns.
    pub p99_ns: f64,
    /// Round trips measured in the chunk reported (the least disturbed).
    pub count: usize,
    /// Which method it was measured before or after.
    pub around: String,
}

/// A round-trip result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rtt {
    /// Message size (64, or the method's largest message if smaller).
    pub size: usize,
    /// Median, ns.
    pub p50_ns: f64,
    /// 99th percentile, ns.
    pub p99_ns: f64,
    /// Mean, ns.
    pub mean_ns: f64,
    /// Round trips measured in the chunk reported (the least disturbed).
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "value")]
pub enum Outcome<T> {
    /// Measured.
    Ok(T),
    /// Not measured, for this reason (message too large, ...).
    Skipped(String),
    /// Tried and failed.
    Failed(String),
}

/// What was measured, if it was.
pub(crate) fn measured<T>(o: &Option<Outcome<T>>) -> Option<&T> {
    match o {
        Some(Outcome::Ok(t)) => Some(t),
        _ => None,
    }
}

/// One method's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodResult {
    /// Id.
    pub id: Text,
    /// Label.
    pub label: Text,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Logical CPUs available.
    pub cpus: usize,
    /// OS and kernel.
    pub os: String,
    /// Architecture.
    pub arch: Text,
    /// The 1-minute load average when the run started (Linux), if known.
    pub load: Option<f64>,
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// ipcring version.
    pub version: Text,
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

impl Machine {
    /// This machine, and its load average now.
    pub fn here() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        Machine {
            cpu,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: format!("{} {kernel}", std::env::consts::OS)
                .trim()
                .to_owned(),
            arch: std::env::consts::ARCH.into(),
            load: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok()),
        }
    }
}

impl Report {
    /// Writes the report to `path` as pretty-printed JSON (the `--json` output).
    pub fn write_json(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| format!("JSON: {e}"))?;
        std::fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// Reads a report that [`Report::write_json`] wrote.
    #[cfg(test)]
    pub fn read_json(path: &Path) -> Result<Report, String> {
        let text = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The floor of this kind shown in the table and the plot: the least disturbed of its
    /// measurements (the smallest p50).
    pub fn best_floor(&self, kind: FloorKind) -> Option<&FloorResult> {
        self.floors
            .iter()
            .filter(|f| f.kind == kind)
            .min_by(|a, b| a.p50_ns.total_cmp(&b.p50_ns))
    }

    /// memcpy of `size`-byte messages, messages per second, if measured.
    pub fn memcpy_rate(&self, size: usize) -> Option<f64> {
        self.memcpy.iter().find(|(s, _)| *s == size).map(|x| x.1)
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

/// The table's first columns: the method (or floor) and the article's four.
fn head(label: &str, [cross, file, service, easy]: [&str; 4]) -> String {
    format!("{label:<26} {cross:<5} {file:<5} {service:<7} {easy:<4}")
}

/// The round-trip columns: p50, p99 and their ratios to the floor.
fn rtt_cols([p50, p99, p50_fl, p99_fl]: [&str; 4]) -> String {
    format!("{p50:>9} {p99:>9} {p50_fl:>7} {p99_fl:>7}")
}

/// A throughput's columns: the rate and its ratio to memcpy.
fn tput_cols(rate: &str, ratio: &str) -> String {
    format!("{rate:>11} {ratio:>8}")
}

/// The text table.
pub fn render(rep: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let m = &rep.machine;
    let _ = writeln!(
        s,
        "ipcring {} compare ({} run, {:.0} s) on {} ({} CPUs, {} {})\n",
        rep.version,
        rep.plan.mode.as_str(),
        rep.seconds,
        m.cpu,
        m.cpus,
        m.os,
        m.arch
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
        "{} | {} | {} | {}",
        head("method", ["cross", "file", "service", "easy"]),
        rtt_cols(["rtt p50", "rtt p99", "p50/fl", "p99/fl"]),
        tput_cols("64 B msg/s", "/memcpy"),
        tput_cols("64 KiB B/s", "/memcpy")
    );
    let _ = writeln!(s, "{}", "-".repeat(131));
    // Floors first: the smallest of each kind.
    for kind in [FloorKind::Spin, FloorKind::Futex] {
        if let Some(f) = rep.best_floor(kind) {
            let (p50, p99) = (fmt_ns(f.p50_ns), fmt_ns(f.p99_ns));
            let rtt = rtt_cols([&p50, &p99, "1.00x", "1.00x"]);
            let _ = writeln!(s, "{} | {rtt} |", head(kind.label(), [""; 4]));
        }
    }
    let small = rep
        .memcpy_rate(SMALL)
        .map_or("-".into(), |v| fmt_rate(v, ""));
    let large = rep
        .memcpy_rate(LARGE)
        .map_or("-".into(), |v| fmt_rate(v * LARGE as f64, "B"));
    let _ = writeln!(
        s,
        "{} | {} | {} | {}",
        head("floor: memcpy (1 process)", [""; 4]),
        rtt_cols([""; 4]),
        tput_cols(&small, "1.00x"),
        tput_cols(&large, "1.00x")
    );
    let _ = writeln!(s, "{}", "-".repeat(131));
    let mut notes = Vec::new();
    for r in &rep.methods {
        let q = &r.qual;
        let qual = [&q.cross_platform, &q.needs_file, &q.needs_service, &q.easy];
        let head = head(&r.label, qual.map(|c| c.as_ref()));
        if let Some(why) = &r.unavailable {
            let _ = writeln!(s, "{head} | not run here: {why}");
            continue;
        }
        let rtt = match measured(&r.rtt) {
            Some(x) => rtt_cols([
                &fmt_ns(x.p50_ns),
                &fmt_ns(x.p99_ns),
                &fmt_ratio(x.p50_ratio),
                &fmt_ratio(x.p99_ratio),
            ]),
            None => rtt_cols(["-"; 4]),
        };
        let tp = |o: &Option<Outcome<Tput>>, bytes: bool| match measured(o) {
            Some(t) => {
                let rate = if bytes {
                    fmt_rate(t.bytes_per_s, "B")
                } else {
                    fmt_rate(t.msgs_per_s, "")
                };
                tput_cols(&rate, &fmt_ratio(Some(t.ratio)))
            }
            None => tput_cols("-", "-"),
        };
        let (small, large) = (tp(&r.tput_small, false), tp(&r.tput_large, true));
        let _ = writeln!(s, "{head} | {rtt} | {small} | {large}");
        let sizes = [
            ("round trip", measured(&r.rtt).map(|x| x.size)),
            ("throughput", measured(&r.tput_small).map(|t| t.size)),
        ];
        for (what, size) in sizes {
            if let Some(size) = size.filter(|&s| s != SMALL) {
                notes.push(format!(
                    "  {} {what}: measured at {size} B, its largest message",
                    r.label
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn tput(size: usize, msgs_per_s: f64, memcpy: f64) -> Outcome<Tput> {
        Outcome::Ok(Tput {
            size,
            messages: 1000,
            msgs_per_s,
            bytes_per_s: msgs_per_s * size as f64,
            memcpy_msgs_per_s: memcpy,
            ratio: msgs_per_s / memcpy,
        })
    }

    fn row(id: &'static str, label: &'static str, wait: Wait) -> MethodResult {
        MethodResult {
            id: id.into(),
            label: label.into(),
            qual: Qual {
                article_row: "Shared Memory".into(),
                cross_platform: "Yes".into(),
                needs_file: "Yes".into(),
                needs_service: "No".into(),
                easy: "No".into(),
            },
            wait,
            unavailable: None,
            rtt: None,
            tput_small: None,
            tput_large: None,
        }
    }

    /// A report with every kind of row: measured, measured at a smaller size, skipped,
    /// failed, not run here; two floors of one kind.
    pub(crate) fn sample() -> Report {
        let floor = |kind, p50_ns, around: &str| FloorResult {
            kind,
            p50_ns,
            p99_ns: p50_ns * 2.0,
            count: 4096,
            around: around.into(),
        };
        let rtt = |size, p50_ns: f64, floor, floor_p50_ns: f64| Rtt {
            size,
            p50_ns,
            p99_ns: p50_ns * 4.0,
            mean_ns: p50_ns * 1.5,
            count: 10_000,
            batch: 1,
            floor,
            floor_p50_ns: Some(floor_p50_ns),
            floor_p99_ns: Some(floor_p50_ns * 2.0),
            p50_ratio: Some(p50_ns / floor_p50_ns),
            p99_ratio: Some(2.0 * p50_ns / floor_p50_ns),
        };
        let mut spin = row("ring-spin", "ipcring ring, busy-poll", Wait::BusyPoll);
        spin.rtt = Some(Outcome::Ok(Rtt {
            batch: 16,
            ..rtt(SMALL, 250.0, FloorKind::Spin, 125.0)
        }));
        spin.tput_small = Some(tput(SMALL, 2.5e7, 1e8));
        spin.tput_large = Some(tput(LARGE, 5e4, 2e5));
        let mut signal = row("signal", "signals (sigqueue, 3 B)", Wait::Blocking);
        signal.rtt = Some(Outcome::Ok(rtt(3, 8000.0, FloorKind::Futex, 2000.0)));
        signal.tput_small = Some(tput(3, 1e5, 1e8));
        signal.tput_large = Some(Outcome::Skipped("largest message 3 B < 65536 B".into()));
        let mut pipe = row("pipe", "named pipe (FIFO)", Wait::Blocking);
        pipe.rtt = Some(Outcome::Failed("peer exit status: 1: no such file".into()));
        pipe.tput_small = Some(Outcome::Skipped("request/response".into()));
        pipe.tput_large = Some(Outcome::Failed("no result within 24 s".into()));
        let mut redis = row("redis", "Redis pub/sub", Wait::Blocking);
        redis.unavailable = Some("Redis server not reachable".into());
        Report {
            version: "0.1.0".into(),
            machine: Machine {
                cpu: "Some CPU @ 2.00GHz".into(),
                cpus: 2,
                os: "linux 6.1.0".into(),
                arch: "x86_64".into(),
                load: Some(1.5),
            },
            plan: Plan::from_args(&CompareArgs {
                quick: true,
                full: false,
                json: None,
                plot: None,
                only: Vec::new(),
                list: false,
            }),
            memcpy: vec![(SMALL, 1e8), (LARGE, 2e5)],
            floors: vec![
                floor(FloorKind::Spin, 150.0, "before ring-spin"),
                floor(FloorKind::Spin, 125.0, "after ring-spin"),
                floor(FloorKind::Futex, 2000.0, "before signal"),
            ],
            methods: vec![spin, signal, pipe, redis],
            seconds: 12.5,
        }
    }

    /// A path under the temp directory unique to this test process and `name`.
    pub(crate) fn temp_file(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("ipcring-cli-test-{}-{name}", std::process::id()))
    }

    #[test]
    fn a_report_reads_back_from_its_json_as_the_same_report() {
        let rep = sample();
        let path = temp_file("round-trip.json");
        rep.write_json(&path).unwrap();
        let back = Report::read_json(&path).unwrap();
        assert_eq!(back, rep);
        assert_eq!(render(&back), render(&rep));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn the_json_keys_are_the_ones_its_readers_use() {
        // python/bench/bench.py and .ci/steps/80-compare.sh read these.
        let v = serde_json::to_value(sample()).unwrap();
        for k in [
            "version", "machine", "plan", "memcpy", "floors", "methods", "seconds",
        ] {
            assert!(v.get(k).is_some(), "{k} missing: {v}");
        }
        assert_eq!(v["plan"]["mode"], "quick");
        assert_eq!(v["plan"]["rtt"], 0.25);
        assert_eq!(v["machine"]["load"], 1.5);
        assert_eq!(v["memcpy"][1], serde_json::json!([LARGE, 2e5]));
        assert_eq!(v["floors"][0]["kind"], "spin");
        let m = &v["methods"][0];
        assert_eq!(m["id"], "ring-spin");
        assert_eq!(m["wait"], "busy-poll");
        assert_eq!(m["qual"]["cross_platform"], "Yes");
        assert_eq!(m["rtt"]["status"], "ok");
        assert_eq!(m["rtt"]["value"]["floor"], "spin");
        assert_eq!(m["rtt"]["value"]["p50_ratio"], 2.0);
        assert_eq!(m["tput_small"]["value"]["msgs_per_s"], 2.5e7);
        assert_eq!(v["methods"][1]["tput_large"]["status"], "skipped");
        assert_eq!(v["methods"][2]["rtt"]["status"], "failed");
        assert_eq!(v["methods"][3]["unavailable"], "Redis server not reachable");
        assert!(v["methods"][3]["rtt"].is_null());
    }

    #[test]
    fn the_table_shows_the_least_disturbed_floor_and_says_why_a_row_is_short() {
        let rep = sample();
        assert_eq!(rep.best_floor(FloorKind::Spin).unwrap().p50_ns, 125.0);
        assert_eq!(rep.memcpy_rate(LARGE), Some(2e5));
        let t = render(&rep);
        let floor = t
            .lines()
            .find(|l| l.starts_with("floor: cache-line ping-pong"))
            .unwrap();
        assert!(
            floor.contains("125 ns") && !floor.contains("150 ns"),
            "{floor}"
        );
        let spin = t.lines().find(|l| l.starts_with("ipcring ring")).unwrap();
        assert!(spin.contains("250 ns") && spin.contains("2.00x"), "{spin}");
        assert!(t.contains("Redis pub/sub"), "{t}");
        assert!(
            t.contains("not run here: Redis server not reachable"),
            "{t}"
        );
        assert!(
            t.contains("signals (sigqueue, 3 B) round trip: measured at 3 B, its largest message"),
            "{t}"
        );
        assert!(
            t.contains("named pipe (FIFO) round trip: failed: peer exit status"),
            "{t}"
        );
        assert!(t.contains("note: load average 1.5 on 2 CPUs"), "{t}");
    }
}
