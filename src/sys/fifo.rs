//! Named pipes (FIFOs): creation, non-blocking opens, poll, read and write with EINTR retried
//! and SIGPIPE kept from killing the process.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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
    // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
    if unsafe { libc::mkfifo(c.as_ptr(), mode as libc::mode_t) } == 0 {
        // mkfifo applies the umask; make the mode exactly what was asked for.
        // SAFETY: as above.
        unsafe { libc::chmod(c.as_ptr(), mode as libc::mode_t) };
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EEXIST) {
        return Err(Error::io(format!("mkfifo {}", path.display()), e));
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
pub(crate) fn fifo_identity(path: &Path) -> Result<Option<(u64, u64)>> {
    let c = cpath(path)?;
    // SAFETY: an all-zero `stat` is a valid value; stat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and out-pointer.
    if unsafe { libc::stat(c.as_ptr(), &mut st) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOENT) {
            return Err(Error::NotFound(path.display().to_string()));
        }
        return Err(Error::io(format!("stat {}", path.display()), e));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return Ok(None);
    }
    Ok(Some((st.st_dev as u64, st.st_ino as u64)))
}

/// `(device, inode)` of an open fd.
pub(crate) fn fd_identity(fd: &OwnedFd) -> Result<(u64, u64)> {
    // SAFETY: an all-zero `stat` is a valid value; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out-pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(Error::last_os("fstat fifo"));
    }
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
        libc::O_WRONLY
    } else {
        libc::O_RDONLY
    } | libc::O_NONBLOCK
        | libc::O_CLOEXEC
        | libc::O_NOFOLLOW;
    loop {
        // SAFETY: valid NUL-terminated path.
        let fd = unsafe { libc::open(c.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: a fresh fd from a successful open, owned by nobody else.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            owner::check_fd(
                &fd,
                &path.display().to_string(),
                FileType::Fifo,
                access,
                max_mode,
            )?;
            return Ok(Some(fd));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ENXIO) | Some(libc::ENOENT) => return Ok(None),
            _ => return Err(owner::open_error("open", path, e)),
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
    let ms = match timeout {
        None => -1,
        // Round up so a short positive timeout does not become a busy 0 ms poll.
        Some(d) => (d.as_micros().div_ceil(1000)).min(i32::MAX as u128) as libc::c_int,
    };
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: `pfd` is a valid array of one pollfd for the call's duration.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINTR) {
            return Ok(0);
        }
        return Err(Error::io("poll fifo", e));
    }
    Ok(if n == 0 { 0 } else { pfd.revents })
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

/// Reads into `buf` without blocking; EINTR is retried.
pub(crate) fn read(fd: &OwnedFd, buf: &mut [u8]) -> Result<Io> {
    loop {
        // SAFETY: `buf` is a valid writable buffer of the given length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(Io::Done(n as usize));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(Io::WouldBlock),
            _ => return Err(Error::io("read fifo", e)),
        }
    }
}

/// True if SIGPIPE is ignored in this process (Rust binaries ignore it by default), so a
/// write to a pipe without reader returns EPIPE instead of killing the process.
pub(crate) fn sigpipe_ignored() -> bool {
    // SAFETY: an all-zero sigaction is a valid out-value.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only queries the current one into `old`.
    let rc = unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) };
    rc == 0 && old.sa_sigaction == libc::SIG_IGN
}

/// Writes from `buf` without blocking; EINTR is retried. When `guard_sigpipe` is set, SIGPIPE
/// is blocked in this thread for the call and a SIGPIPE it raised is consumed, so a reader
/// that went away is reported as [`Io::Closed`] even in processes that do not ignore SIGPIPE.
pub(crate) fn write(fd: &OwnedFd, buf: &[u8], guard_sigpipe: bool) -> Result<Io> {
    if guard_sigpipe {
        with_sigpipe_blocked(|| write_raw(fd, buf))
    } else {
        write_raw(fd, buf)
    }
}

fn write_raw(fd: &OwnedFd, buf: &[u8]) -> Result<Io> {
    loop {
        // SAFETY: `buf` is a valid readable buffer of the given length.
        let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(Io::Done(n as usize));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(Io::WouldBlock),
            Some(libc::EPIPE) => return Ok(Io::Closed),
            _ => return Err(Error::io("write fifo", e)),
        }
    }
}

/// Asks the kernel for a pipe buffer of `bytes` (Linux F_SETPIPE_SZ). Returns the size granted.
#[cfg(target_os = "linux")]
pub(crate) fn set_pipe_size(fd: &OwnedFd, bytes: usize) -> Result<usize> {
    let want = libc::c_int::try_from(bytes)
        .map_err(|_| Error::InvalidConfig("pipe size too large".into()))?;
    // SAFETY: plain fcntl on an fd we own.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, want) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EPERM) {
            return Err(Error::SystemLimit {
                what: format!("pipe buffer of {bytes} bytes").into(),
                hint: "/proc/sys/fs/pipe-max-size and /proc/sys/fs/pipe-user-pages-soft".into(),
            });
        }
        return Err(Error::io("fcntl F_SETPIPE_SZ", e));
    }
    Ok(n as usize)
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
    let iov = [
        libc::iovec {
            iov_base: a.as_ptr() as *mut libc::c_void,
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        },
    ];
    let op = || loop {
        // SAFETY: both iovecs point into live slices of the given lengths; writev only reads.
        let n = unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), 2) };
        if n >= 0 {
            return Ok(Io::Done(n as usize));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(Io::WouldBlock),
            Some(libc::EPIPE) => return Ok(Io::Closed),
            _ => return Err(Error::io("writev fifo", e)),
        }
    };
    if guard_sigpipe {
        with_sigpipe_blocked(op)
    } else {
        op()
    }
}

/// Runs `f` with SIGPIPE blocked in this thread; a SIGPIPE that `f` raised (result
/// [`Io::Closed`]) is consumed before the mask is restored.
fn with_sigpipe_blocked(f: impl FnOnce() -> Result<Io>) -> Result<Io> {
    // SAFETY: sigset operations on local, initialised values; pthread_sigmask only changes
    // this thread's mask, restored below on every path.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        libc::sigemptyset(&mut pending);
        libc::sigpending(&mut pending);
        let was_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        let r = f();
        if matches!(r, Ok(Io::Closed)) && !was_pending {
            #[cfg(not(target_os = "macos"))]
            {
                let zero = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) < 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
                {
                }
            }
            // macOS has no sigtimedwait: take the signal with sigwait only when it is
            // pending, so the call returns at once.
            #[cfg(target_os = "macos")]
            {
                libc::sigemptyset(&mut pending);
                libc::sigpending(&mut pending);
                if libc::sigismember(&pending, libc::SIGPIPE) == 1 {
                    let mut sig: libc::c_int = 0;
                    libc::sigwait(&set, &mut sig);
                }
            }
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        r
    }
}
