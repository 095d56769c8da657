//! Signals: a pid registry, state toggles with SIGUSR1/SIGUSR2, and `i32` payloads on a
//! real-time signal.
//!
//! The article's last "no data, just toggle state" method. Clients register their pid in a
//! directory ([`Registry::register`]); a service broadcasts to every registered pid
//! ([`Registry::broadcast`]); each client receives events from a [`Listener`]. Signals carry
//! no byte messages, so this module has its own small event API instead of the
//! `Sender`/`Receiver` traits.
//!
//! | what is sent | signal | [`Signal`] | limits |
//! |--------------|--------|------------|--------|
//! | a toggle | `SIGUSR1` | [`Signal::Usr1`] | coalesced: several sent before the receiver takes one arrive as one |
//! | a toggle | `SIGUSR2` | [`Signal::Usr2`] | coalesced likewise |
//! | a number | `SIGRTMIN + 4` (configurable) with `sigqueue` | [`Signal::Value`] | an `i32` and nothing more; queued, in order, up to `RLIMIT_SIGPENDING` (`ulimit -i`) |
//!
//! Anything that sends signals works as a sender: `kill -USR1 <pid>` from a shell is received
//! as [`Signal::Usr1`].
//!
//! # How events are received
//!
//! [`Listener::new`] blocks the three signals in the calling thread (threads spawned later
//! inherit that) and reads them from a `signalfd` (Linux), so the kernel's order is kept:
//! real-time values arrive in the order they were queued. Threads that existed before and
//! have the signals unblocked are covered by a handler (installed with `signal-hook`) that
//! only does async-signal-safe work: it writes a 12-byte record to a non-blocking self-pipe.
//! Events taken that way may interleave differently with the ones from the `signalfd`, so
//! **create the listener early in `main`, before spawning threads**, when order matters.
//! One listener per process at a time (signals belong to the process).
//!
//! # The registry and pid reuse
//!
//! A registry is a directory (by default `$XDG_RUNTIME_DIR/ipcring-signal/<name>`, else
//! `<temp dir>/ipcring-signal-<uid>/<name>`; never under `/etc`), holding one file per
//! client named by its pid, as in the article. Each file holds the process's start time (on
//! Linux, from `/proc/<pid>/stat`), so a broadcast checks that the pid still names the process
//! that registered: a pid that died (ESRCH) or was reused by another process is pruned
//! without being signalled. An empty file (what the article's Python client writes) is
//! signalled without that check. Without `/proc` (other systems) the check cannot be made:
//! between a client's death and the next broadcast its pid could be reused, and the new
//! process would get the signal. Names that are not a positive pid are ignored, so a
//! broadcast never signals a process group.
//!
//! # Example
//!
//! ```
//! use ipcring::signal::{Listener, Registry, Signal, SignalOptions};
//!
//! # fn main() -> ipcring::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! let opts = SignalOptions::new("my_service").dir(dir.path().join("pids"));
//! // Client (the article's Bob): listen, then register.
//! let mut events = Listener::new(&opts)?;
//! let registry = Registry::open(&opts)?;
//! let _registration = registry.register()?;
//! // Service (the article's Alice), in another process: tell every client.
//! let report = Registry::open(&opts)?.broadcast(Signal::Value(42))?;
//! assert_eq!(report.signalled, vec![std::process::id()]);
//! assert_eq!(events.recv()?.signal, Signal::Value(42));
//! # Ok(())
//! # }
//! ```

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::sys::owner;
use crate::sys::sig::{self, Sent};
use crate::transport::Deadline;
use crate::{Error, Result, TryRecvError};

// The async (tokio) form, beside the blocking one.
#[cfg(all(feature = "async", target_os = "linux"))]
mod tokio;
#[cfg(all(feature = "async", target_os = "linux"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "async", target_os = "linux"))))]
pub use self::tokio::AsyncListener;

/// Default offset of the payload signal above `SIGRTMIN`.
pub const DEFAULT_RT_OFFSET: i32 = 4;

/// What a signal says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `SIGUSR1` (the article: "the service went off").
    Usr1,
    /// `SIGUSR2` (the article: "the service is on").
    Usr2,
    /// A real-time signal queued with an `i32`.
    Value(i32),
}

/// A received signal and who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalEvent {
    /// What arrived.
    pub signal: Signal,
    /// The sender's pid as the kernel reports it (0 if the kernel sent it).
    pub sender_pid: u32,
}

/// Options shared by the registry, the listener and the senders.
///
/// ```
/// let opts = ipcring::signal::SignalOptions::new("alice").rt_offset(6);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone)]
pub struct SignalOptions {
    name: String,
    dir: Option<PathBuf>,
    rt_offset: i32,
    access: crate::Access,
}

impl SignalOptions {
    /// Options for the registry called `name` (ASCII letters, digits, `.`, `_`, `-`).
    ///
    /// ```
    /// let opts = ipcring::signal::SignalOptions::new("my_service");
    /// # let _ = opts;
    /// ```
    pub fn new(name: impl Into<String>) -> SignalOptions {
        SignalOptions {
            name: name.into(),
            dir: None,
            rt_offset: DEFAULT_RT_OFFSET,
            access: crate::Access::new(),
        }
    }

    /// Use this directory as the registry instead of the default location.
    ///
    /// ```
    /// let opts = ipcring::signal::SignalOptions::new("x").dir("/run/user/1000/my_service/pids");
    /// # let _ = opts;
    /// ```
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> SignalOptions {
        self.dir = Some(dir.into());
        self
    }

    crate::access::access_option_methods!(access);

    /// The payload signal is `SIGRTMIN + offset` (default 4); senders and receivers must
    /// agree. `SIGRTMIN` itself and the first two above it are often used by threading
    /// libraries.
    ///
    /// ```
    /// let opts = ipcring::signal::SignalOptions::new("x").rt_offset(8);
    /// assert!(opts.rt_signal().is_ok());
    /// ```
    pub fn rt_offset(mut self, offset: i32) -> SignalOptions {
        self.rt_offset = offset;
        self
    }

    /// The real-time signal number used for values.
    ///
    /// ```
    /// let opts = ipcring::signal::SignalOptions::new("x");
    /// assert!(opts.rt_signal()? > 32);
    /// assert!(opts.rt_offset(1000).rt_signal().is_err());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    ///
    /// Values are Linux only (they need `sigqueue` and `signalfd`): elsewhere this is
    /// [`Error::Unsupported`].
    pub fn rt_signal(&self) -> Result<i32> {
        let Some((min, max)) = sig::rt_range() else {
            return Err(Error::Unsupported(
                "signal values (real-time signals, sigqueue) are Linux only in ipcring".into(),
            ));
        };
        let sig = min + self.rt_offset;
        if self.rt_offset < 0 || sig > max {
            return Err(Error::InvalidConfig(
                format!(
                    "rt_offset {} is outside SIGRTMIN..=SIGRTMAX",
                    self.rt_offset
                )
                .into(),
            ));
        }
        Ok(sig)
    }

    /// The payload signal where values exist (checked as [`SignalOptions::rt_signal`]), or
    /// [`NO_PAYLOAD_SIGNAL`] where they do not: `SIGUSR1`/`SIGUSR2` still work there, and a
    /// value is refused by `sigqueue` as [`Error::Unsupported`].
    fn payload_signal(&self) -> Result<i32> {
        if sig::rt_range().is_none() {
            return Ok(NO_PAYLOAD_SIGNAL);
        }
        self.rt_signal()
    }

    fn resolve_dir(&self) -> Result<PathBuf> {
        let ok = !self.name.is_empty()
            && self.name.len() <= 100
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && self.name != "."
            && self.name != "..";
        if !ok {
            return Err(Error::InvalidName {
                name: self.name.clone(),
                reason: "a registry name is 1 to 100 ASCII letters, digits, '.', '_' or '-'".into(),
            });
        }
        if let Some(d) = &self.dir {
            return Ok(d.clone());
        }
        let base = match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            Some(x) => PathBuf::from(x).join("ipcring-signal"),
            None => std::env::temp_dir().join(format!("ipcring-signal-{}", sig::uid())),
        };
        Ok(base.join(&self.name))
    }
}

/// Creates `dir` (and parents) with mode 0700 where this call creates them, and checks that
/// the final directory is a directory (not a symlink to one) that belongs to this user or
/// one `access` allows, and that nobody else may write in it (group members may when
/// `access` allows a group): a directory planted by another user in a shared temp dir must
/// not be trusted, and entries planted in ours would have us signal processes we never
/// meant to.
fn ensure_private_dir(dir: &Path, access: &crate::Access) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("mkdir {}", dir.display()), e))?;
    let fd = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTDIR) => {
                Error::AlreadyExists(format!("{} (not a directory)", dir.display()))
            }
            _ => owner::open_error("open", dir, e),
        })?;
    let max_mode = if access.group().is_some() {
        0o775
    } else {
        0o755
    };
    owner::check_fd(
        &fd,
        &dir.display().to_string(),
        owner::FileType::Dir,
        access,
        max_mode,
    )?;
    Ok(())
}

/// A pid registry directory.
///
/// ```
/// use ipcring::signal::{Registry, SignalOptions};
/// # let dir = tempfile::tempdir().unwrap();
/// let reg = Registry::open(&SignalOptions::new("svc").dir(dir.path()))?;
/// let me = reg.register()?;
/// assert_eq!(reg.pids()?, vec![std::process::id()]);
/// drop(me);
/// assert!(reg.pids()?.is_empty());
/// # Ok::<(), ipcring::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
    rt: i32,
}

/// This process's entry in a registry; removes it when dropped.
#[derive(Debug)]
#[must_use = "the registration is removed when this is dropped"]
pub struct Registration {
    path: PathBuf,
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Cleanup never panics; a leftover entry is pruned by the next broadcast.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What a broadcast did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastReport {
    /// Pids the signal was sent to.
    pub signalled: Vec<u32>,
    /// Stale entries removed: dead processes, or pids now used by another process.
    pub pruned: Vec<u32>,
    /// Entries left alone, with the reason (not allowed to signal it, unreadable entry,
    /// real-time queue full).
    pub failed: Vec<(u32, String)>,
}

impl Registry {
    /// Opens (creating it, mode 0700) the registry directory named by `opts`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let reg = ipcring::signal::Registry::open(&ipcring::signal::SignalOptions::new("svc").dir(dir.path()))?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn open(opts: &SignalOptions) -> Result<Registry> {
        let dir = opts.resolve_dir()?;
        let rt = opts.payload_signal()?;
        if opts.dir.is_none() {
            // The default location's parent (`ipcring-signal-<uid>` in a shared temp dir)
            // could have been planted by another user, who could then swap what is in it.
            if let Some(base) = dir.parent() {
                ensure_private_dir(base, &opts.access)?;
            }
        }
        ensure_private_dir(&dir, &opts.access)?;
        Ok(Registry { dir, rt })
    }

    /// The registry's directory.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let reg = ipcring::signal::Registry::open(&ipcring::signal::SignalOptions::new("svc").dir(dir.path()))?;
    /// assert_eq!(reg.dir(), dir.path());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Registers this process: writes `<dir>/<pid>` holding its start time. The entry is
    /// removed when the returned [`Registration`] is dropped.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let reg = ipcring::signal::Registry::open(&ipcring::signal::SignalOptions::new("svc").dir(dir.path()))?;
    /// let _me = reg.register()?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn register(&self) -> Result<Registration> {
        let pid = std::process::id();
        let path = self.dir.join(pid.to_string());
        let content = sig::start_time(pid)
            .map(|t| t.to_string())
            .unwrap_or_default();
        std::fs::write(&path, content)
            .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        Ok(Registration { path })
    }

    /// The registered pids (entries whose name is a positive pid), sorted.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let reg = ipcring::signal::Registry::open(&ipcring::signal::SignalOptions::new("svc").dir(dir.path()))?;
    /// assert!(reg.pids()?.is_empty());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn pids(&self) -> Result<Vec<u32>> {
        let err = |e| Error::io(format!("read {}", self.dir.display()), e);
        let mut v = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(err)? {
            if let Some(pid) = entry.map_err(err)?.file_name().to_str().and_then(parse_pid) {
                v.push(pid);
            }
        }
        v.sort_unstable();
        Ok(v)
    }

    /// Sends `signal` to every registered process, pruning stale entries (see the module
    /// docs). Errors only if the directory cannot be read; per-entry outcomes are in the
    /// report.
    ///
    /// ```no_run
    /// use ipcring::signal::{Registry, Signal, SignalOptions};
    /// let report = Registry::open(&SignalOptions::new("my_service"))?.broadcast(Signal::Usr2)?;
    /// println!("told {} clients", report.signalled.len());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn broadcast(&self, signal: Signal) -> Result<BroadcastReport> {
        let mut report = BroadcastReport::default();
        for pid in self.pids()? {
            let path = self.dir.join(pid.to_string());
            let recorded = match std::fs::read_to_string(&path) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // left meanwhile
                Err(e) => {
                    report.failed.push((pid, format!("unreadable entry: {e}")));
                    continue;
                }
            };
            let recorded = recorded.trim();
            if !recorded.is_empty() {
                let Ok(want) = recorded.parse::<u64>() else {
                    report
                        .failed
                        .push((pid, "entry holds no start time".into()));
                    continue;
                };
                if sig::start_time(pid) != Some(want) && Path::new("/proc/self/stat").exists() {
                    // Dead, or the pid now names another process: never signal it.
                    let _ = std::fs::remove_file(&path);
                    report.pruned.push(pid);
                    continue;
                }
            }
            match send_raw(pid, signal, self.rt)? {
                Sent::Ok => report.signalled.push(pid),
                Sent::NoProcess => {
                    let _ = std::fs::remove_file(&path);
                    report.pruned.push(pid);
                }
                Sent::Denied => report.failed.push((pid, "not permitted (EPERM)".into())),
                Sent::QueueFull => report
                    .failed
                    .push((pid, "real-time signal queue full (EAGAIN)".into())),
            }
        }
        Ok(report)
    }
}

fn parse_pid(name: &str) -> Option<u32> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pid: u32 = name.parse().ok()?;
    (pid > 0 && pid <= i32::MAX as u32).then_some(pid)
}

fn send_raw(pid: u32, signal: Signal, rt: i32) -> Result<Sent> {
    match signal {
        Signal::Usr1 => sig::kill(pid, libc::SIGUSR1),
        Signal::Usr2 => sig::kill(pid, libc::SIGUSR2),
        Signal::Value(v) => sig::sigqueue(pid, rt, v),
    }
}

/// Sends `signal` to one process. A process that does not exist is
/// [`Error::Disconnected`]; a full real-time queue at the receiver is
/// [`Error::SystemLimit`] (nothing was sent: retry later); no permission is [`Error::Io`].
///
/// ```no_run
/// use ipcring::signal::{send, Signal, SignalOptions};
/// send(12345, Signal::Value(7), &SignalOptions::new("my_service"))?;
/// # Ok::<(), ipcring::Error>(())
/// ```
pub fn send(pid: u32, signal: Signal, opts: &SignalOptions) -> Result<()> {
    match send_raw(pid, signal, opts.payload_signal()?)? {
        Sent::Ok => Ok(()),
        Sent::NoProcess => Err(Error::Disconnected),
        Sent::QueueFull => Err(Error::SystemLimit {
            what: "queued real-time signals".into(),
            hint: "RLIMIT_SIGPENDING (ulimit -i)".into(),
        }),
        Sent::Denied => Err(Error::Io {
            op: format!("signal pid {pid}").into(),
            source: std::io::Error::from_raw_os_error(libc::EPERM),
        }),
    }
}

// ---- the process-wide receiving machinery ----

/// Write end of the self-pipe the handler writes to (-1 while no listener is active; the
/// handler writes through `PIPE`'s own descriptor, this one only says whether to).
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// Events the handler could not queue (self-pipe full).
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// The payload signal of the active listener (-1: none).
static ACTIVE_RT: AtomicI32 = AtomicI32::new(-1);

/// The payload signal where there is none (no real-time signals in ipcring off Linux): no
/// signal has number 0, so nothing is decoded as a value.
const NO_PAYLOAD_SIGNAL: i32 = 0;

/// The signals a listener handles: `SIGUSR1`, `SIGUSR2` and the payload signal if any.
fn listened(rt: i32) -> Vec<i32> {
    let mut v = vec![libc::SIGUSR1, libc::SIGUSR2];
    if rt != NO_PAYLOAD_SIGNAL {
        v.push(rt);
    }
    v
}
static LISTENER_ACTIVE: AtomicBool = AtomicBool::new(false);
/// The self-pipe, created once per process and never closed, so a handler running late
/// can never write into a recycled descriptor.
static PIPE: OnceLock<(OwnedFd, OwnedFd)> = OnceLock::new();
/// Signals whose handler is installed (installed once per process, never removed).
static HANDLED: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// The signal handler: async-signal-safe only (atomic loads, one `write(2)` of 12 bytes,
/// which a pipe takes whole or not at all). signal-hook saves and restores errno around it.
fn on_signal(info: &libc::siginfo_t) {
    if PIPE_WRITE.load(Ordering::Relaxed) < 0 {
        return; // no listener: the signal is dropped (not fatal, not default action)
    }
    // The pipe PIPE_WRITE names: `OnceLock::get` is one atomic load (async-signal-safe),
    // and the pipe is never closed, so the borrowed write end stays valid.
    let Some((_, w)) = PIPE.get() else {
        return;
    };
    let signo = info.si_signo;
    // SAFETY: reading the sender fields of a siginfo the kernel filled for this delivery;
    // for signals not sent by a process these hold zeroes or unspecified integers, never
    // pointers we follow.
    let (pid, value) = unsafe {
        (
            info.si_pid(),
            info.si_value().sival_ptr as usize as u32 as i32,
        )
    };
    let value = if signo == ACTIVE_RT.load(Ordering::Relaxed) && info.si_code == sig::SI_QUEUE {
        value
    } else {
        0
    };
    let mut rec = [0u8; 12];
    rec[0..4].copy_from_slice(&signo.to_le_bytes());
    rec[4..8].copy_from_slice(&value.to_le_bytes());
    rec[8..12].copy_from_slice(&pid.to_le_bytes());
    // One write(2), async-signal-safe (nix's wrapper adds only the errno read).
    if nix::unistd::write(w, &rec) != Ok(12) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Receives signal events. One per process at a time.
///
/// ```
/// use std::time::Duration;
/// use ipcring::signal::{Listener, SignalOptions};
/// # let dir = tempfile::tempdir().unwrap();
/// let mut l = Listener::new(&SignalOptions::new("svc").dir(dir.path()))?;
/// assert!(l.try_recv().unwrap_err().is_empty());
/// assert!(l.recv_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
/// # Ok::<(), ipcring::Error>(())
/// ```
#[derive(Debug)]
pub struct Listener {
    #[cfg(target_os = "linux")]
    sigfd: nix::sys::signalfd::SignalFd,
    rt: i32,
}

impl Listener {
    /// Starts receiving `SIGUSR1`, `SIGUSR2` and the payload signal of `opts`: installs the
    /// fallback handler, blocks the signals in the calling thread and opens a `signalfd`.
    /// A second live listener in the process is [`Error::RoleTaken`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let l = ipcring::signal::Listener::new(&ipcring::signal::SignalOptions::new("svc").dir(dir.path()))?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn new(opts: &SignalOptions) -> Result<Listener> {
        let rt = opts.payload_signal()?;
        if LISTENER_ACTIVE.swap(true, Ordering::AcqRel) {
            return Err(Error::RoleTaken {
                role: "signal listener",
                name: format!("process {}", std::process::id()),
            });
        }
        Listener::start(rt).inspect_err(|_| LISTENER_ACTIVE.store(false, Ordering::Release))
    }

    fn start(rt: i32) -> Result<Listener> {
        if PIPE.get().is_none() {
            let _ = PIPE.set(sig::pipe()?);
        }
        let (r, w) = PIPE
            .get()
            .ok_or_else(|| Error::corrupt("self-pipe missing"))?;
        // Drain events left from an earlier listener.
        while sig::read_record(r)?.is_some() {}
        ACTIVE_RT.store(rt, Ordering::Relaxed);
        PIPE_WRITE.store(w.as_raw_fd(), Ordering::Release);
        {
            let mut handled = HANDLED.lock().unwrap_or_else(|p| p.into_inner());
            for s in listened(rt) {
                if !handled.contains(&s) {
                    // SAFETY: `on_signal` only does async-signal-safe work (see its docs);
                    // it touches no locks and allocates nothing.
                    unsafe { signal_hook_registry::register_sigaction(s, on_signal) }
                        .map_err(|e| Error::io(format!("install handler for signal {s}"), e))?;
                    handled.push(s);
                }
            }
        }
        let set = sig::sigset(&listened(rt));
        sig::block(&set)?;
        #[cfg(target_os = "linux")]
        let sigfd = sig::signalfd(&set)?;
        Ok(Listener {
            #[cfg(target_os = "linux")]
            sigfd,
            rt,
        })
    }

    /// Events lost because the fallback handler's queue (a pipe) was full. Events read from
    /// the `signalfd` are never lost this way.
    ///
    /// ```
    /// assert_eq!(ipcring::signal::Listener::dropped(), 0);
    /// ```
    pub fn dropped() -> u64 {
        DROPPED.load(Ordering::Relaxed)
    }

    fn decode(&self, signo: i32, code: i32, value: i32, pid: u32) -> Option<SignalEvent> {
        let signal = match signo {
            libc::SIGUSR1 => Signal::Usr1,
            libc::SIGUSR2 => Signal::Usr2,
            // A real-time signal sent with kill(2) instead of sigqueue carries no value.
            s if s == self.rt => Signal::Value(if code == sig::SI_QUEUE { value } else { 0 }),
            _ => return None,
        };
        Some(SignalEvent {
            signal,
            sender_pid: pid,
        })
    }

    fn take(&mut self) -> Result<Option<SignalEvent>> {
        #[cfg(target_os = "linux")]
        while let Some((signo, code, value, pid)) = sig::read_signalfd(&self.sigfd)? {
            if let Some(ev) = self.decode(signo, code, value, pid) {
                return Ok(Some(ev));
            }
        }
        if let Some((r, _)) = PIPE.get() {
            while let Some(rec) = sig::read_record(r)? {
                let i = |o: usize| i32::from_le_bytes([rec[o], rec[o + 1], rec[o + 2], rec[o + 3]]);
                // The handler already dropped values not sent with sigqueue.
                if let Some(ev) = self.decode(i(0), sig::SI_QUEUE, i(4), i(8) as u32) {
                    return Ok(Some(ev));
                }
            }
        }
        Ok(None)
    }

    fn recv_deadline(&mut self, deadline: Deadline) -> Result<Option<SignalEvent>> {
        loop {
            if let Some(ev) = self.take()? {
                return Ok(Some(ev));
            }
            let ms = match deadline.remaining() {
                Some(d) if d.is_zero() => return Ok(None),
                Some(d) => d.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int,
                None => -1,
            };
            let Some((r, _)) = PIPE.get() else {
                return Err(Error::corrupt("self-pipe missing"));
            };
            #[cfg(target_os = "linux")]
            sig::poll_read(&[self.sigfd.as_fd(), r.as_fd()], ms)?;
            #[cfg(not(target_os = "linux"))]
            sig::poll_read(&[r.as_fd()], ms)?;
        }
    }

    /// Waits for the next event.
    ///
    /// ```no_run
    /// # let mut l = ipcring::signal::Listener::new(&ipcring::signal::SignalOptions::new("svc"))?;
    /// let ev = l.recv()?;
    /// println!("{:?} from pid {}", ev.signal, ev.sender_pid);
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn recv(&mut self) -> Result<SignalEvent> {
        self.recv_deadline(Deadline::forever())?
            .ok_or(Error::Timeout)
    }

    /// The next event if one is waiting; [`TryRecvError::Empty`] if none is.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut l = ipcring::signal::Listener::new(&ipcring::signal::SignalOptions::new("svc").dir(dir.path()))?;
    /// assert!(l.try_recv().unwrap_err().is_empty());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<SignalEvent, TryRecvError> {
        self.recv_deadline(Deadline::immediate())?
            .ok_or(TryRecvError::Empty)
    }

    /// Waits at most `timeout` for the next event ([`Error::Timeout`] if none came).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut l = ipcring::signal::Listener::new(&ipcring::signal::SignalOptions::new("svc").dir(dir.path()))?;
    /// assert!(l.recv_timeout(std::time::Duration::from_millis(1)).unwrap_err().is_timeout());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<SignalEvent> {
        self.recv_deadline(Deadline::after(timeout))?
            .ok_or(Error::Timeout)
    }

    /// A blocking iterator over events; it ends at the first error.
    ///
    /// ```no_run
    /// # let mut l = ipcring::signal::Listener::new(&ipcring::signal::SignalOptions::new("svc"))?;
    /// for ev in l.iter() {
    ///     println!("{:?}", ev.signal);
    /// }
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn iter(&mut self) -> Events<'_> {
        Events { listener: self }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // The handlers stay installed but drop what arrives; the signals stay blocked in the
        // thread that created the listener (a later listener takes what is pending).
        PIPE_WRITE.store(-1, Ordering::Release);
        ACTIVE_RT.store(-1, Ordering::Relaxed);
        LISTENER_ACTIVE.store(false, Ordering::Release);
    }
}

/// Blocking iterator over a [`Listener`]'s events (see [`Listener::iter`]).
#[derive(Debug)]
pub struct Events<'a> {
    listener: &'a mut Listener,
}

impl Iterator for Events<'_> {
    type Item = SignalEvent;
    fn next(&mut self) -> Option<SignalEvent> {
        self.listener.recv().ok()
    }
}
