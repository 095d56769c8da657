//! What the benches share, included by each with `#[path = "support/mod.rs"] mod support;`:
//! the peer process (the bench binary re-executed in a role), CPU pinning, segment names,
//! the floors measured beside each figure, and the small statistics. Each bench defines
//! `const NAMES: &str`, the prefix of the segment names it creates.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ipcring::measure::{self, Stats};

/// Env var naming the role a re-executed bench binary plays.
const ROLE_VAR: &str = "IPCRING_BENCH_PEER";
/// Env var giving the peer the name of what it opens.
const NAME_VAR: &str = "IPCRING_BENCH_NAME";
/// Env var giving the peer its role's extra argument.
const EXTRA_VAR: &str = "IPCRING_BENCH_EXTRA";

/// If this process is a peer (started by [`spawn`]), runs `peer(role, name, extra)` and
/// returns `true`; the bench's `main` then returns.
pub fn run_peer(peer: fn(&str, &str, &str)) -> bool {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return false;
    };
    let name = std::env::var(NAME_VAR).unwrap();
    let extra = std::env::var(EXTRA_VAR).unwrap_or_default();
    peer(&role, &name, &extra);
    true
}

/// Whether the bench was run with the command-line flag `flag` (e.g. `--quick`).
pub fn arg(flag: &str) -> bool {
    std::env::args().any(|a| a == flag)
}

/// What the counts of a run are divided by: 5 with `--quick` (a short run), else 1.
pub fn divisor() -> usize {
    if arg("--quick") {
        5
    } else {
        1
    }
}

/// The command that runs this bench binary as peer `role` on `name` with `extra`.
pub fn peer_command(role: &str, name: &str, extra: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(ROLE_VAR, role)
        .env(NAME_VAR, name)
        .env(EXTRA_VAR, extra)
        .stdin(Stdio::null());
    cmd
}

/// Starts this bench binary as peer `role` on `name` with `extra`.
pub fn spawn(role: &str, name: &str, extra: &str) -> Child {
    peer_command(role, name, extra).spawn().expect("spawn peer")
}

/// [`spawn`], with the peer's stdout piped to this process.
pub fn spawn_piped(role: &str, name: &str, extra: &str) -> Child {
    peer_command(role, name, extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn peer")
}

/// Pins the calling thread to `cpu` (when pinning is on and the machine has the CPUs).
pub fn pin(cpu: usize) {
    // Online CPUs, not `available_parallelism` (that follows the affinity mask, which a
    // peer inherits from the pinned bench process).
    // SAFETY: sysconf has no preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if cpus < 2 || std::env::var_os("IPCRING_BENCH_NOPIN").is_some() {
        return;
    }
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET and sched_setaffinity only
    // read/write the set we own, for the calling thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!("note: could not pin to CPU {cpu}; running unpinned");
        }
    }
}

/// A segment name of this bench's own (`crate::NAMES`), this process and `tag`.
pub fn uniq(tag: &str) -> String {
    format!("{}-{tag}-{}", crate::NAMES, std::process::id())
}

/// Starts a peer in `role` on `name`, runs `measure(name)` against it, then waits for it.
pub fn against_peer(role: &str, name: &str, measure: impl FnOnce(&str) -> Stats) -> Stats {
    let mut c = spawn(role, name, "");
    let s = measure(name);
    c.wait().unwrap();
    s
}

/// The one-line floor (cache-line ping-pong) against a peer in role `floor-spin`.
pub fn floor_spin(iters: usize) -> Stats {
    against_peer("floor-spin", &uniq("fs"), |n| {
        measure::floor_spin(n, iters).unwrap()
    })
}

/// The two-line floor (one line per direction) against a peer in role `floor-split`.
pub fn floor_split(iters: usize) -> Stats {
    against_peer("floor-split", &uniq("fl"), |n| {
        measure::floor_spin_split(n, iters).unwrap()
    })
}

/// The futex ping-pong floor against a peer in role `floor-futex`.
pub fn floor_futex(iters: usize, pause: Option<Duration>) -> Stats {
    against_peer("floor-futex", &uniq("ff"), |n| {
        measure::floor_futex(n, iters, pause).unwrap()
    })
}

/// A duration in nanoseconds.
pub fn ns(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// The median of `v` (sorted in place).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
