//! The one way a test runs a peer in a real separate process: the test binary re-executes
//! itself, running only its `peer` test, with the role and its arguments in the environment.
//!
//! ```ignore
//! #[test]
//! fn peer() {
//!     let Some((role, args)) = support::peer_role() else { return };
//!     match role.as_str() { "writer" => { /* ... */ } other => panic!("unknown role {other}") }
//! }
//!
//! let mut p = Peer::spawn("writer", &[&name, "100"]);
//! p.finish(); // waits (within the deadline) and asserts success, with the peer's stderr
//! ```
//!
//! A [`Peer`] is killed when dropped or when its deadline passes (by a watchdog thread, so
//! a test blocked reading a hung peer's output fails instead of hanging), and keeps what the
//! peer wrote to stderr, to put in the failure message when the peer fails or hangs.
//!
//! The deadline is a hang guard, not a time limit: it counts from the peer's start or from
//! its last sign of progress ([`Peer::progress`]), whichever is later. A test that streams
//! for long from a peer reports each message it gets, so a busy machine that makes the
//! whole stream take longer than the deadline does not have its healthy peer killed in the
//! middle (its other side would then see the peer disconnect: a failure that looks like
//! the code under test lost the peer). A kill says so on stderr when it happens.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Env var naming the role a re-executed test binary plays.
pub const ROLE_VAR: &str = "IPCRING_PEER";
/// Env var carrying the role's arguments, joined by U+001F.
pub const ARGS_VAR: &str = "IPCRING_ARGS";
/// The test every peer process runs: each test file has one `#[test] fn peer()`.
pub const ENTRY: &str = "peer";
/// How long a peer may run without a sign of progress ([`Peer::progress`]) before the test
/// gives up on it (generous: the machine running the tests may be busy).
pub const DEADLINE: Duration = Duration::from_secs(180);

/// The peer role and its args, if this process is a peer.
pub fn peer_role() -> Option<(String, Vec<String>)> {
    let role = std::env::var(ROLE_VAR).ok()?;
    let args = std::env::var(ARGS_VAR).unwrap_or_default();
    let args = if args.is_empty() {
        vec![]
    } else {
        args.split('\u{1f}').map(str::to_owned).collect()
    };
    Some((role, args))
}

/// How to start a peer: built by [`Peer::builder`], started by [`PeerBuilder::spawn`].
#[derive(Debug)]
pub struct PeerBuilder {
    role: String,
    entry: &'static str,
    args: Vec<String>,
    env: Vec<(String, String)>,
    launcher: Vec<String>,
    stdin: bool,
    stdout: bool,
    deadline: Duration,
}

impl PeerBuilder {
    /// Adds an argument (the role reads them in order).
    pub fn arg(mut self, a: impl ToString) -> Self {
        self.args.push(a.to_string());
        self
    }

    /// The test the peer process runs (default [`ENTRY`]).
    pub fn entry(mut self, test: &'static str) -> Self {
        self.entry = test;
        self
    }

    /// Adds an environment variable for the peer.
    pub fn env(mut self, k: &str, v: impl ToString) -> Self {
        self.env.push((k.to_owned(), v.to_string()));
        self
    }

    /// Runs the peer through `launcher` (a command and its arguments, given the test
    /// binary and its arguments after them, which it must exec: `setpriv`, say).
    pub fn launcher(mut self, launcher: &[&str]) -> Self {
        self.launcher = launcher.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Pipes the peer's stdin from this process ([`Peer::close_stdin`]).
    pub fn stdin_piped(mut self) -> Self {
        self.stdin = true;
        self
    }

    /// Pipes the peer's stdout to this process ([`Peer::wait_line`], [`Peer::stdout`]).
    pub fn stdout_piped(mut self) -> Self {
        self.stdout = true;
        self
    }

    /// How long the peer may run without a sign of progress (default [`DEADLINE`]).
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = d;
        self
    }

    /// Starts the peer.
    pub fn spawn(self) -> Peer {
        let piped = |yes| if yes { Stdio::piped() } else { Stdio::null() };
        let mut argv: Vec<std::ffi::OsString> = self.launcher.iter().map(Into::into).collect();
        argv.push(std::env::current_exe().expect("current exe").into());
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .args(["--exact", self.entry, "--nocapture", "--test-threads=1"])
            .env(ROLE_VAR, &self.role)
            .env(ARGS_VAR, self.args.join("\u{1f}"))
            .env("RUST_BACKTRACE", "0")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(piped(self.stdin))
            .stdout(piped(self.stdout))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn peer {}: {e}", self.role));
        // Drained on a thread of its own, so a chatty peer never blocks on a full pipe.
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let keep = stderr.clone();
        let drain = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                keep.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        let stdout = child.stdout.take().map(BufReader::new);
        // Its clock starts now, with the child's.
        let watch = Arc::new(Watch::default());
        let (w, pid, deadline) = (watch.clone(), child.id() as libc::pid_t, self.deadline);
        let role = self.role.clone();
        std::thread::spawn(move || {
            let mut reaped = w.reaped.lock().unwrap();
            loop {
                if *reaped {
                    return;
                }
                // The deadline counts from the last sign of progress (or the start).
                let since = Duration::from_micros(w.progress_us.load(Ordering::Relaxed));
                let left = (since + deadline).saturating_sub(w.start.elapsed());
                if left.is_zero() {
                    break;
                }
                reaped = w.cv.wait_timeout(reaped, left).unwrap().0;
            }
            w.fired.store(true, Ordering::Release);
            // SAFETY: kill(2) on the child's pid, which is not reaped (and so not reused)
            // while `reaped` is false: reaping happens only under this lock.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // Said now, on stderr itself (not captured): whatever the test's other side
            // reports next (a disconnected peer) follows from this kill.
            let _ = writeln!(
                std::io::stderr().lock(),
                "*** test harness: peer {role} (pid {pid}) SIGKILLed: no sign of progress for \
                 {deadline:?} (its deadline) ***"
            );
        });
        Peer {
            watch,
            role: self.role,
            child,
            stdout,
            stderr,
            drain: Some(drain),
            deadline: self.deadline,
        }
    }
}

/// The watchdog's state: whether the child is reaped (set under the lock, so the watchdog
/// never signals a reused pid), when it last showed progress, and whether the deadline
/// fired.
#[derive(Debug)]
struct Watch {
    reaped: Mutex<bool>,
    cv: Condvar,
    fired: AtomicBool,
    start: Instant,
    /// The last sign of progress, in microseconds since `start` (0: none yet).
    progress_us: AtomicU64,
}

impl Default for Watch {
    fn default() -> Self {
        Watch {
            reaped: Mutex::new(false),
            cv: Condvar::new(),
            fired: AtomicBool::new(false),
            start: Instant::now(),
            progress_us: AtomicU64::new(0),
        }
    }
}

/// A peer process: killed on drop if still running.
#[derive(Debug)]
pub struct Peer {
    watch: Arc<Watch>,
    role: String,
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    drain: Option<JoinHandle<()>>,
    deadline: Duration,
}

impl Peer {
    /// A peer in `role`, to configure before [`PeerBuilder::spawn`].
    pub fn builder(role: &str) -> PeerBuilder {
        PeerBuilder {
            role: role.to_owned(),
            entry: ENTRY,
            args: Vec::new(),
            env: Vec::new(),
            launcher: Vec::new(),
            stdin: false,
            stdout: false,
            deadline: DEADLINE,
        }
    }

    /// Starts peer `role` with `args`; its stdout is discarded.
    pub fn spawn(role: &str, args: &[&str]) -> Peer {
        args.iter()
            .fold(Peer::builder(role), |b, a| b.arg(a))
            .spawn()
    }

    /// Starts peer `role` with `args`, its stdout piped to this process.
    pub fn spawn_piped(role: &str, args: &[&str]) -> Peer {
        args.iter()
            .fold(Peer::builder(role).stdout_piped(), |b, a| b.arg(a))
            .spawn()
    }

    /// [`spawn_piped`](Self::spawn_piped), then waits for a line with `needle` (the peer says
    /// it is ready, say).
    pub fn spawn_until(role: &str, args: &[&str], needle: &str) -> Peer {
        let mut peer = Peer::spawn_piped(role, args);
        peer.wait_line(needle);
        peer
    }

    /// Records a sign of the peer's progress (a message from it, say): its deadline counts
    /// from now. Cheap (a clock read and an atomic): a test may call it for every message.
    pub fn progress(&self) {
        let us = self.watch.start.elapsed().as_micros() as u64;
        self.watch.progress_us.fetch_max(us, Ordering::Relaxed);
    }

    /// The peer's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The peer's role.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The peer's stdout (spawned with [`PeerBuilder::stdout_piped`]).
    pub fn stdout(&mut self) -> &mut BufReader<ChildStdout> {
        self.stdout
            .as_mut()
            .expect("the peer's stdout is not piped")
    }

    /// Takes the peer's stdout (spawned with [`PeerBuilder::stdout_piped`]).
    pub fn take_stdout(&mut self) -> BufReader<ChildStdout> {
        self.stdout.take().expect("the peer's stdout is not piped")
    }

    /// Reads the peer's stdout until a line containing `needle`; returns that line from
    /// `needle` on (the test harness of the peer writes "test peer ... " before the peer's
    /// first line, without a newline).
    pub fn wait_line(&mut self, needle: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self
                .stdout()
                .read_line(&mut line)
                .expect("read peer stdout");
            if n == 0 {
                let st = self.wait();
                self.fail(format_args!("ended ({st}) before printing {needle:?}"));
            }
            if let Some(at) = line.find(needle) {
                return line[at..].trim_end().to_owned();
            }
        }
    }

    /// What the peer wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Panics: the peer `what`, and what it wrote to stderr.
    fn fail(&mut self, what: std::fmt::Arguments) -> ! {
        let note = self.stderr_note();
        panic!("peer {} {what}{note}", self.role)
    }

    fn stderr_note(&mut self) -> String {
        // Once the peer has exited, the drain ends at its pipe's end: join it for every byte.
        if *self.watch.reaped.lock().unwrap() {
            if let Some(d) = self.drain.take() {
                let _ = d.join();
            }
        }
        let text = self.stderr_text();
        if text.trim().is_empty() {
            String::new()
        } else {
            format!(
                "\n--- stderr of peer {} ---\n{}",
                self.role,
                text.trim_end()
            )
        }
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        let mut reaped = self.watch.reaped.lock().unwrap();
        let st = self.child.try_wait().expect("try_wait peer");
        if st.is_some() && !*reaped {
            *reaped = true;
            self.watch.cv.notify_all();
        }
        st
    }

    /// Waits for the peer to exit (at most its deadline: past it, the peer is killed and the
    /// test fails with its stderr).
    pub fn wait(&mut self) -> ExitStatus {
        loop {
            if let Some(st) = self.try_wait() {
                if self.watch.fired.load(Ordering::Acquire) {
                    let d = self.deadline;
                    self.fail(format_args!(
                        "killed by the test harness: no sign of progress for {d:?} (its deadline)"
                    ));
                }
                return st;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits for the peer to exit and asserts it succeeded; else fails with its stderr.
    pub fn finish(&mut self) {
        let st = self.wait();
        if !st.success() {
            self.fail(format_args!("failed: {st}"));
        }
    }

    /// Closes the peer's stdin (spawned with [`PeerBuilder::stdin_piped`]): it reads the end.
    pub fn close_stdin(&mut self) {
        let stdin = self.child.stdin.take();
        drop(stdin.expect("the peer's stdin is not piped"));
    }

    /// [`finish`](Self::finish)es each of `peers`, in order.
    pub fn finish_all(peers: impl IntoIterator<Item = Peer>) {
        peers.into_iter().for_each(|mut p| p.finish());
    }

    /// Drops `end`, this side's end of what links it to the peer (so the peer sees this side
    /// leave), then [`finish`](Self::finish)es.
    pub fn hang_up<T>(&mut self, end: T) {
        drop(end);
        self.finish();
    }

    /// Waits for the peer to exit and returns its exit code, asserting it was not killed
    /// by a signal.
    pub fn code(&mut self) -> i32 {
        let st = self.wait();
        st.code()
            .unwrap_or_else(|| self.fail(format_args!("was killed: {st}")))
    }

    /// Reads the rest of the peer's stdout, waits for it to exit and asserts it succeeded;
    /// returns that stdout.
    pub fn finish_output(&mut self) -> String {
        let mut rest = String::new();
        if let Some(out) = self.stdout.as_mut() {
            out.read_to_string(&mut rest).expect("read peer stdout");
        }
        let st = self.wait();
        if !st.success() {
            self.fail(format_args!("failed: {st}\n{rest}"));
        }
        rest
    }

    /// SIGKILLs the peer from another thread 150 ms from now, so that this thread is most
    /// likely blocked in a wait when the peer dies (if not, the outcome must be the same).
    /// Join the handle before the peer is reaped.
    pub fn kill_soon(&self) -> JoinHandle<()> {
        let pid = self.id() as libc::pid_t;
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            // SAFETY: kill(2) on the child's pid, not reaped (nor reused) before this thread
            // is joined.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        })
    }

    /// Kills the peer (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let mut reaped = self.watch.reaped.lock().unwrap();
        if !*reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            *reaped = true;
            self.watch.cv.notify_all();
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            // The test failed with this peer alive or unchecked: show what the peer said.
            eprintln!("{}", self.stderr_note());
        }
    }
}
