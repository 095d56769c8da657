//! Signals: masks, signalfd, a self-pipe, kill/sigqueue, and process identity for the pid
//! registry.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::{Error, Result};

/// A signal set of the given signal numbers.
pub(crate) fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: an all-zero sigset_t is valid storage; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is valid, writable storage for the calls.
    unsafe {
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
    }
    set
}

/// Blocks `set` in the calling thread (threads it spawns later inherit the mask).
pub(crate) fn block(set: &libc::sigset_t) -> Result<()> {
    // SAFETY: valid set pointer; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(Error::io(
            "pthread_sigmask",
            std::io::Error::from_raw_os_error(rc),
        ));
    }
    Ok(())
}

/// A non-blocking, close-on-exec pipe: (read end, write end).
#[cfg(not(target_os = "macos"))]
pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(Error::last_os("pipe2"));
    }
    // SAFETY: both fds were just returned by a successful pipe2 and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A non-blocking, close-on-exec pipe: (read end, write end). macOS has no `pipe2`: the
/// flags are set right after `pipe`, so a child forked and exec'd by another thread in
/// between could inherit the pipe (it cannot signal through it: the handler writes to the
/// write end's number in this process only).
#[cfg(target_os = "macos")]
pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe to fill.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(Error::last_os("pipe"));
    }
    // SAFETY: both fds were just returned by a successful pipe and are owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fd in [&r, &w] {
        // SAFETY: plain fcntl calls on a descriptor we own.
        let ok = unsafe {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) == 0
                && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) == 0
        };
        if !ok {
            return Err(Error::last_os("fcntl pipe"));
        }
    }
    Ok((r, w))
}

/// A non-blocking signalfd for `set` (Linux).
#[cfg(target_os = "linux")]
pub(crate) fn signalfd(set: &libc::sigset_t) -> Result<OwnedFd> {
    // SAFETY: valid set pointer; -1 asks for a new fd.
    let fd = unsafe { libc::signalfd(-1, set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::last_os("signalfd"));
    }
    // SAFETY: a fresh fd from a successful call, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// One signal read from a signalfd: (signal number, si_code, int payload, sender pid).
#[cfg(target_os = "linux")]
pub(crate) fn read_signalfd(fd: &OwnedFd) -> Result<Option<(i32, i32, i32, u32)>> {
    // SAFETY: an all-zero signalfd_siginfo is a valid value; read fills it.
    let mut si: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    loop {
        // SAFETY: `si` is valid writable storage of `size` bytes.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                (&mut si as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        if n == size as isize {
            return Ok(Some((
                si.ssi_signo as i32,
                si.ssi_code,
                si.ssi_int,
                si.ssi_pid,
            )));
        }
        if n >= 0 {
            return Err(Error::Io {
                op: "read signalfd".into(),
                source: std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "short read"),
            });
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(None),
            _ => return Err(Error::io("read signalfd", e)),
        }
    }
}

/// Reads one 12-byte event record from the self-pipe, if one is there.
pub(crate) fn read_record(fd: &OwnedFd) -> Result<Option<[u8; 12]>> {
    let mut b = [0u8; 12];
    loop {
        // SAFETY: `b` is valid writable storage of 12 bytes.
        let n = unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr().cast(), 12) };
        if n == 12 {
            return Ok(Some(b));
        }
        if n >= 0 {
            // Writes of 12 bytes to a pipe are atomic (PIPE_BUF), so reads are whole.
            return Err(Error::corrupt(
                "partial signal event record on the self-pipe",
            ));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(None),
            _ => return Err(Error::io("read self-pipe", e)),
        }
    }
}

/// Waits until one of `fds` is readable or `timeout_ms` passes (-1: forever). EINTR returns.
pub(crate) fn poll_read(fds: &[&OwnedFd], timeout_ms: libc::c_int) -> Result<()> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|f| libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a valid array of `p.len()` pollfds for the call's duration.
    let n = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(Error::io("poll", e));
        }
    }
    Ok(())
}

/// Outcome of sending a signal.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Delivered to the kernel for the target.
    Ok,
    /// No such process (ESRCH).
    NoProcess,
    /// Not allowed (EPERM).
    Denied,
    /// The target's queue of real-time signals is full (EAGAIN).
    QueueFull,
}

fn sent(rc: libc::c_int, op: &'static str) -> Result<Sent> {
    if rc == 0 {
        return Ok(Sent::Ok);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ESRCH) => Ok(Sent::NoProcess),
        Some(libc::EPERM) => Ok(Sent::Denied),
        Some(libc::EAGAIN) => Ok(Sent::QueueFull),
        _ => Err(Error::io(op, e)),
    }
}

/// `kill(pid, sig)` for one positive pid.
pub(crate) fn kill(pid: u32, sig: libc::c_int) -> Result<Sent> {
    let pid = checked_pid(pid)?;
    // SAFETY: plain syscall; `pid` is positive, so it names one process, never a group.
    sent(unsafe { libc::kill(pid, sig) }, "kill")
}

/// `SIGRTMIN..=SIGRTMAX`, where values are sent: Linux only in ipcring (values need
/// `sigqueue` and `signalfd`; macOS has no real-time signals, and libc binds neither
/// FreeBSD's `sigqueue` nor its `SIGRTMIN`).
#[cfg(target_os = "linux")]
pub(crate) fn rt_range() -> Option<(libc::c_int, libc::c_int)> {
    Some((libc::SIGRTMIN(), libc::SIGRTMAX()))
}

/// No real-time signal values on this platform (see the Linux version).
#[cfg(not(target_os = "linux"))]
pub(crate) fn rt_range() -> Option<(libc::c_int, libc::c_int)> {
    None
}

/// `si_code` of a signal sent with `sigqueue`.
#[cfg(target_os = "linux")]
pub(crate) const SI_QUEUE: libc::c_int = libc::SI_QUEUE;
/// No `sigqueue` here: a code no delivered signal carries, so nothing reads as a value.
#[cfg(not(target_os = "linux"))]
pub(crate) const SI_QUEUE: libc::c_int = libc::c_int::MIN;

/// `sigqueue(pid, sig, value)` for one positive pid.
#[cfg(target_os = "linux")]
pub(crate) fn sigqueue(pid: u32, sig: libc::c_int, value: i32) -> Result<Sent> {
    let pid = checked_pid(pid)?;
    // The sigval union's int member overlays the low bytes of the pointer member on the
    // little-endian targets this crate supports.
    let v = libc::sigval {
        sival_ptr: value as u32 as usize as *mut libc::c_void,
    };
    // SAFETY: plain call; `pid` is positive.
    sent(unsafe { libc::sigqueue(pid, sig, v) }, "sigqueue")
}

/// Real-time signals with a payload need `sigqueue`, which this platform lacks.
#[cfg(not(target_os = "linux"))]
pub(crate) fn sigqueue(_pid: u32, _sig: libc::c_int, _value: i32) -> Result<Sent> {
    Err(Error::Unsupported(
        "sigqueue (Linux only in ipcring)".into(),
    ))
}

fn checked_pid(pid: u32) -> Result<libc::pid_t> {
    // 0 and negative values address process groups: never allowed here.
    match libc::pid_t::try_from(pid) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(Error::InvalidConfig(
            format!("pid {pid} does not name one process").into(),
        )),
    }
}

/// The start time of process `pid` (Linux: field 22 of /proc/<pid>/stat, in clock ticks
/// since boot). Together with the pid it names one process for the life of the system.
/// `None` if the process does not exist or the platform has no /proc.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the
    // last ')'. Field 3 is the first after it, so field 22 is the 20th.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The real user id of this process.
pub(crate) fn uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}
