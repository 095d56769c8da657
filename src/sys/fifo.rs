//! Named pipes (FIFOs): creation, non-blocking opens, poll, read and write with EINTR retried
//! and SIGPIPE kept from killing the process.

use std::ffi::CString;
use std::io::IoSlice;
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{OFlag, AT_FDCWD};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::stat::{FchmodatFlags, Mode};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use crate::access::Access;
use crate::sys::owner::{self, FileType};
use crate::{Error, Result};

fn cpath(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::InvalidName {
        name: path.display().to_string(),
        reason: "contains a NUL byte".into(),
    })
}

/// Creates a FIFO at `path` with `mode`. `Ok(true)` if this call created it, `Ok(false)` if a
/// FIFO was already there. Anything else at `path` is refused with [`Error::AlreadyExists`].
pub(crate) fn mkfifo(path: &Path, mode: u32) -> Result<bool> {
    let c = cpath(path)?;
    let m = Mode::from_bits_truncate(mode as libc::mode_t);
    match nix::unistd::mkfifo(c.as_c_str(), m) {
        Ok(()) => {
            // mkfifo applies the umask; make the mode exactly what was asked for.
            let _ =
                nix::sys::stat::fchmodat(AT_FDCWD, c.as_c_str(), m, FchmodatFlags::FollowSymlink);
            return Ok(true);
        }
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(Error::io(format!("mkfifo {}", path.display()), e.into())),
    }
    match fifo_identity(path)? {
        Some(_) => Ok(false),
        None => Err(Error::AlreadyExists(format!(
            "{} (not a FIFO)",
            path.display()
        ))),
    }
}

/// `(device, inode)` of the FIFO at `path`; `None` if `path` exists but is not a FIFO.
/// A missing path is [`Error::NotFound`].
// The casts are no-ops on Linux; elsewhere `mode_t` is u16 and `dev_t` i32.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn fifo_identity(path: &Path) -> Result<Option<(u64, u64)>> {
    let c = cpath(path)?;
    let st = match nix::sys::stat::stat(c.as_c_str()) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Err(Error::NotFound(path.display().to_string())),
        Err(e) => return Err(Error::io(format!("stat {}", path.display()), e.into())),
    };
    let fifo = st.st_mode & libc::S_IFMT == libc::S_IFIFO;
    Ok(fifo.then_some((st.st_dev as u64, st.st_ino as u64)))
}

/// `(device, inode)` of an open fd.
// The casts are no-ops on Linux; elsewhere `dev_t` is i32.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn fd_identity(fd: &OwnedFd) -> Result<(u64, u64)> {
    let st = nix::sys::stat::fstat(fd).map_err(|e| Error::io("fstat fifo", e.into()))?;
    Ok((st.st_dev as u64, st.st_ino as u64))
}

/// Opens the FIFO without blocking. For writing, `Ok(None)` means no reader has it open
/// (ENXIO); a missing path is `Ok(None)` too (the peer may be re-creating it). A symlink at
/// `path` is not followed; what was opened must be a FIFO whose owner `access` trusts and
/// whose mode grants nothing beyond `max_mode`, else [`Error::PermissionDenied`] (also for
/// EACCES).
pub(crate) fn open_nonblock(
    path: &Path,
    write: bool,
    access: &Access,
    max_mode: u32,
) -> Result<Option<OwnedFd>> {
    let c = cpath(path)?;
    let flags = if write {
        OFlag::O_WRONLY
    } else {
        OFlag::O_RDONLY
    } | OFlag::O_NONBLOCK
        | OFlag::O_CLOEXEC
        | OFlag::O_NOFOLLOW;
    loop {
        match nix::fcntl::open(c.as_c_str(), flags, Mode::empty()) {
            Ok(fd) => {
                owner::check_fd(
                    &fd,
                    &path.display().to_string(),
                    FileType::Fifo,
                    access,
                    max_mode,
                )?;
                return Ok(Some(fd));
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::ENXIO) | Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(owner::open_error("open", path, e.into())),
        }
    }
}

/// Waits until `fd` is ready for `events` (POLLIN / POLLOUT) or `timeout` passes
/// (`None` = forever). Returns the `revents` (0 on timeout). EINTR returns 0: callers loop.
pub(crate) fn poll(
    fd: &OwnedFd,
    events: libc::c_short,
    timeout: Option<Duration>,
) -> Result<libc::c_short> {
    let t = match timeout {
        None => PollTimeout::NONE,
        // Round up so a short positive timeout does not become a busy 0 ms poll.
        Some(d) => PollTimeout::try_from(d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32)
            .unwrap_or(PollTimeout::MAX),
    };
    let mut pfd = [PollFd::new(
        fd.as_fd(),
        PollFlags::from_bits_truncate(events),
    )];
    match nix::poll::poll(&mut pfd, t) {
        Ok(0) | Err(Errno::EINTR) => Ok(0),
        Ok(_) => Ok(revents(&pfd[0])),
        Err(e) => Err(Error::io("poll fifo", e.into())),
    }
}

fn revents(p: &PollFd<'_>) -> libc::c_short {
    p.revents().map_or(0, |r| r.bits())
}

/// Outcome of a non-blocking read or write.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Io {
    /// This many bytes moved (0 from a read = end of file: no writer left).
    Done(usize),
    /// Nothing can move now (EAGAIN).
    WouldBlock,
    /// The other end is closed (EPIPE on a write).
    Closed,
}

/// Runs a read or write until it is not interrupted (EINTR); EAGAIN and EPIPE are outcomes.
#[inline]
fn outcome(op: &'static str, mut call: impl FnMut() -> nix::Result<usize>) -> Result<Io> {
    loop {
        match call() {
            Ok(n) => return Ok(Io::Done(n)),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return Ok(Io::WouldBlock),
            Err(Errno::EPIPE) => return Ok(Io::Closed),
            Err(e) => return Err(Error::io(op, e.into())),
        }
    }
}

/// Reads into `buf` without blocking; EINTR is retried.
pub(crate) fn read(fd: &OwnedFd, buf: &mut [u8]) -> Result<Io> {
    outcome("read fifo", || nix::unistd::read(fd, buf))
}

/// True if SIGPIPE is ignored in this process (Rust binaries ignore it by default), so a
/// write to a pipe without reader returns EPIPE instead of killing the process.
pub(crate) fn sigpipe_ignored() -> bool {
    // Raw libc: nix's `sigaction` always installs a new action; only a null one queries.
    // The out-value starts as a valid action nix builds (the default one, empty mask).
    let mut old: libc::sigaction =
        SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty()).into();
    // SAFETY: a null new action only queries the current one into `old`.
    let rc = unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) };
    rc == 0 && old.sa_sigaction == libc::SIG_IGN
}

/// Writes from `buf` without blocking; EINTR is retried. When `guard_sigpipe` is set, SIGPIPE
/// is blocked in this thread for the call and a SIGPIPE it raised is consumed, so a reader
/// that went away is reported as [`Io::Closed`] even in processes that do not ignore SIGPIPE.
pub(crate) fn write(fd: &OwnedFd, buf: &[u8], guard_sigpipe: bool) -> Result<Io> {
    with_sigpipe_blocked(guard_sigpipe, || {
        outcome("write fifo", || nix::unistd::write(fd, buf))
    })
}

/// Asks the kernel for a pipe buffer of `bytes` (Linux F_SETPIPE_SZ). Returns the size granted.
#[cfg(target_os = "linux")]
pub(crate) fn set_pipe_size(fd: &OwnedFd, bytes: usize) -> Result<usize> {
    let want = libc::c_int::try_from(bytes)
        .map_err(|_| Error::InvalidConfig("pipe size too large".into()))?;
    match nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETPIPE_SZ(want)) {
        Ok(n) => Ok(n as usize),
        Err(Errno::EPERM) => Err(Error::SystemLimit {
            what: format!("pipe buffer of {bytes} bytes").into(),
            hint: "/proc/sys/fs/pipe-max-size and /proc/sys/fs/pipe-user-pages-soft".into(),
        }),
        Err(e) => Err(Error::io("fcntl F_SETPIPE_SZ", e.into())),
    }
}

/// Pipe buffer sizes cannot be changed here: the request is refused.
#[cfg(not(target_os = "linux"))]
pub(crate) fn set_pipe_size(_fd: &OwnedFd, _bytes: usize) -> Result<usize> {
    Err(Error::Unsupported(
        "setting the pipe buffer size (Linux only)".into(),
    ))
}

/// Writes `a` then `b` in one call (writev) without blocking; EINTR retried; SIGPIPE guarded
/// as in [`write`]. A frame of at most PIPE_BUF bytes goes in whole or not at all.
pub(crate) fn write2(fd: &OwnedFd, a: &[u8], b: &[u8], guard_sigpipe: bool) -> Result<Io> {
    if a.is_empty() {
        return write(fd, b, guard_sigpipe);
    }
    if b.is_empty() {
        return write(fd, a, guard_sigpipe);
    }
    let iov = [IoSlice::new(a), IoSlice::new(b)];
    with_sigpipe_blocked(guard_sigpipe, || {
        outcome("writev fifo", || nix::sys::uio::writev(fd, &iov))
    })
}

/// True if SIGPIPE is pending for this thread or process. Raw libc: nix does not wrap
/// sigpending.
fn sigpipe_pending() -> bool {
    // An initialised empty set, from nix, for sigpending to fill.
    let mut pending: libc::sigset_t = *SigSet::empty().as_ref();
    // SAFETY: `pending` is a valid, initialised sigset_t: sigpending fills it and
    // sigismember only reads it.
    unsafe {
        libc::sigpending(&mut pending) == 0 && libc::sigismember(&pending, libc::SIGPIPE) == 1
    }
}

/// Runs `f`; with `guard`, SIGPIPE is blocked in this thread meanwhile, and a SIGPIPE that
/// `f` raised (result [`Io::Closed`]) is consumed before the mask is restored.
#[inline]
fn with_sigpipe_blocked(guard: bool, f: impl FnOnce() -> Result<Io>) -> Result<Io> {
    if !guard {
        return f();
    }
    let set = SigSet::from(Signal::SIGPIPE);
    let Ok(old) = set.thread_swap_mask(SigmaskHow::SIG_BLOCK) else {
        // The mask could not change: run unguarded (a process that ignores SIGPIPE, as
        // Rust programs do, still sees EPIPE).
        return f();
    };
    let was_pending = sigpipe_pending();
    let r = f();
    if matches!(r, Ok(Io::Closed)) && !was_pending && sigpipe_pending() {
        // Pending and blocked: sigwait takes it at once.
        let _ = set.wait();
    }
    let _ = old.thread_set_mask();
    r
}
