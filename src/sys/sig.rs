//! Signals: masks, signalfd, a self-pipe, kill/sigqueue, and process identity for the pid
//! registry.

use std::os::fd::{BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
#[cfg(target_os = "linux")]
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::{Error, Result};

/// A signal set of the given signal numbers.
pub(crate) fn sigset(signals: &[libc::c_int]) -> SigSet {
    // Raw libc: nix's `SigSet::add` takes its `Signal` enum, which has no real-time signals
    // (the value carrier is one), so the set is built with sigaddset and handed to nix.
    // An initialised empty set, from nix.
    let mut set: libc::sigset_t = *SigSet::empty().as_ref();
    // SAFETY: `set` is a valid, initialised sigset_t; sigaddset only writes into it (an
    // invalid number is EINVAL, set unchanged), so the result is a set nix's sigemptyset
    // and sigaddset made.
    unsafe {
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        SigSet::from_sigset_t_unchecked(set)
    }
}

/// Blocks `set` in the calling thread (threads it spawns later inherit the mask).
pub(crate) fn block(set: &SigSet) -> Result<()> {
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(set), None)
        .map_err(|e| Error::io("pthread_sigmask", e.into()))
}

/// A non-blocking, close-on-exec pipe: (read end, write end).
#[cfg(not(target_os = "macos"))]
pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("pipe2", e.into()))
}

/// A non-blocking, close-on-exec pipe: (read end, write end). macOS has no `pipe2`: the
/// flags are set right after `pipe`, so a child forked and exec'd by another thread in
/// between could inherit the pipe (it cannot signal through it: the handler writes to the
/// write end's number in this process only).
#[cfg(target_os = "macos")]
pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let (r, w) = nix::unistd::pipe().map_err(|e| Error::io("pipe", e.into()))?;
    for fd in [&r, &w] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
            .and_then(|_| fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)))
            .map_err(|e| Error::io("fcntl pipe", e.into()))?;
    }
    Ok((r, w))
}

/// A non-blocking signalfd for `set` (Linux).
#[cfg(target_os = "linux")]
pub(crate) fn signalfd(set: &SigSet) -> Result<SignalFd> {
    SignalFd::with_flags(set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::io("signalfd", e.into()))
}

/// One signal read from a signalfd: (signal number, si_code, int payload, sender pid).
#[cfg(target_os = "linux")]
pub(crate) fn read_signalfd(fd: &SignalFd) -> Result<Option<(i32, i32, i32, u32)>> {
    loop {
        match fd.read_signal() {
            Ok(si) => {
                return Ok(si.map(|si| (si.ssi_signo as i32, si.ssi_code, si.ssi_int, si.ssi_pid)))
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::io("read signalfd", e.into())),
        }
    }
}

/// Reads one 12-byte event record from the self-pipe, if one is there.
pub(crate) fn read_record(fd: &OwnedFd) -> Result<Option<[u8; 12]>> {
    let mut b = [0u8; 12];
    loop {
        match nix::unistd::read(fd, &mut b) {
            Ok(12) => return Ok(Some(b)),
            // Writes of 12 bytes to a pipe are atomic (PIPE_BUF), so reads are whole.
            Ok(_) => {
                return Err(Error::corrupt(
                    "partial signal event record on the self-pipe",
                ))
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(Error::io("read self-pipe", e.into())),
        }
    }
}

/// Waits until one of `fds` is readable or `timeout_ms` passes (-1: forever). EINTR returns.
pub(crate) fn poll_read(fds: &[BorrowedFd<'_>], timeout_ms: libc::c_int) -> Result<()> {
    let mut p: Vec<PollFd<'_>> = fds
        .iter()
        .map(|f| PollFd::new(*f, PollFlags::POLLIN))
        .collect();
    let timeout = if timeout_ms < 0 {
        PollTimeout::NONE
    } else {
        PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::MAX)
    };
    match poll(&mut p, timeout) {
        Ok(_) | Err(Errno::EINTR) => Ok(()),
        Err(e) => Err(Error::io("poll", e.into())),
    }
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

fn sent(r: nix::Result<()>, op: &'static str) -> Result<Sent> {
    match r {
        Ok(_) => Ok(Sent::Ok),
        Err(Errno::ESRCH) => Ok(Sent::NoProcess),
        Err(Errno::EPERM) => Ok(Sent::Denied),
        Err(Errno::EAGAIN) => Ok(Sent::QueueFull),
        Err(e) => Err(Error::io(op, e.into())),
    }
}

/// `kill(pid, sig)` for one positive pid.
pub(crate) fn kill(pid: u32, sig: libc::c_int) -> Result<Sent> {
    let pid = checked_pid(pid)?;
    // nix's `Signal` has no real-time signals: those go with `sigqueue`, never here.
    let sig = nix::sys::signal::Signal::try_from(sig).map_err(|_| {
        Error::InvalidConfig(format!("signal {sig} cannot be sent with kill here").into())
    })?;
    // `pid` is positive, so it names one process, never a group.
    sent(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig),
        "kill",
    )
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
    // Raw libc: nix does not wrap sigqueue.
    // SAFETY: plain call; `pid` is positive.
    let rc = unsafe { libc::sigqueue(pid, sig, v) };
    sent(Errno::result(rc).map(drop), "sigqueue")
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
    nix::unistd::getuid().as_raw()
}
