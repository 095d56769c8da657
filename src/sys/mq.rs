//! OS calls of the `mq` method: POSIX message queues (`mq_open(3)` and friends, Linux).
//!
//! Every call retries EINTR. Timed calls take an absolute CLOCK_REALTIME deadline, as
//! POSIX requires; a deadline already past makes them non-blocking (the kernel returns
//! ETIMEDOUT at once when the queue is full or empty), so one descriptor, opened blocking,
//! serves the blocking, `try_` and timed forms without toggling O_NONBLOCK.
//!
//! Raw libc, not nix's `mqueue`: nix wraps no `mq_timedsend`, and its `MqdT` gives no raw
//! descriptor on FreeBSD, where the owner check needs one (`mq_getfd_np`); one queue type
//! for every call keeps the descriptor's ownership in one place (`Mq`'s drop).

use std::ffi::CStr;
use std::io;
use std::time::Duration;

/// A queue descriptor.
pub(crate) type Mqd = libc::mqd_t;

/// A queue's attributes as the kernel reports them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attr {
    pub(crate) maxmsg: i64,
    pub(crate) msgsize: i64,
    pub(crate) curmsgs: i64,
}

fn retry<T>(mut f: impl FnMut() -> (T, bool)) -> io::Result<T> {
    loop {
        let (v, failed) = f();
        if !failed {
            return Ok(v);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// `mq_open`. With `create = Some((maxmsg, msgsize))`, O_CREAT with those attributes.
pub(crate) fn open(
    name: &CStr,
    oflag: libc::c_int,
    mode: u32,
    create: Option<(i64, i64)>,
) -> io::Result<Mqd> {
    retry(|| {
        let fd = match create {
            Some((maxmsg, msgsize)) => {
                // SAFETY: an all-zero mq_attr is valid; the fields we need are then set.
                let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
                attr.mq_maxmsg = maxmsg as _;
                attr.mq_msgsize = msgsize as _;
                // SAFETY: `name` is NUL-terminated, `attr` valid for the call; mq_open with
                // O_CREAT reads (mode, attr) as its variadic arguments.
                unsafe {
                    libc::mq_open(
                        name.as_ptr(),
                        oflag | libc::O_CREAT,
                        // A variadic argument: promoted to an unsigned int (mode_t is
                        // 16 bits on FreeBSD).
                        mode as libc::c_uint,
                        &mut attr as *mut libc::mq_attr,
                    )
                }
            }
            // SAFETY: `name` is NUL-terminated; without O_CREAT no variadic argument is read.
            None => unsafe { libc::mq_open(name.as_ptr(), oflag) },
        };
        (fd, failed(fd))
    })
}

/// `mq_open`'s failure value, `(mqd_t)-1`: an int on Linux, a pointer on FreeBSD.
#[cfg(target_os = "linux")]
fn failed(mqd: Mqd) -> bool {
    mqd == -1
}

/// `mq_open`'s failure value, `(mqd_t)-1`: an int on Linux, a pointer on FreeBSD.
#[cfg(not(target_os = "linux"))]
fn failed(mqd: Mqd) -> bool {
    mqd as isize == -1
}

/// The file descriptor behind a queue descriptor (for `fstat`): the descriptor itself on
/// Linux.
#[cfg(target_os = "linux")]
pub(crate) fn queue_fd(mqd: Mqd) -> std::os::fd::RawFd {
    mqd
}

/// The file descriptor behind a queue descriptor (for `fstat`): `mq_getfd_np` on FreeBSD.
#[cfg(target_os = "freebsd")]
pub(crate) fn queue_fd(mqd: Mqd) -> std::os::fd::RawFd {
    // SAFETY: `mqd` is an open queue descriptor; the call only reads its record.
    unsafe { libc::mq_getfd_np(mqd) }
}

/// `mq_close`. Errors are ignored: the descriptor is gone either way.
pub(crate) fn close(mqd: Mqd) {
    // SAFETY: closes a descriptor we own, once.
    unsafe { libc::mq_close(mqd) };
}

/// `mq_unlink`.
pub(crate) fn unlink(name: &CStr) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated.
    retry(|| ((), unsafe { libc::mq_unlink(name.as_ptr()) } != 0))
}

/// `mq_getattr`.
pub(crate) fn getattr(mqd: Mqd) -> io::Result<Attr> {
    // SAFETY: an all-zero mq_attr is a valid out-value.
    let mut a: libc::mq_attr = unsafe { std::mem::zeroed() };
    // SAFETY: `a` is a valid out-pointer for the call.
    retry(|| ((), unsafe { libc::mq_getattr(mqd, &mut a) } != 0))?;
    Ok(Attr {
        maxmsg: a.mq_maxmsg as i64,
        msgsize: a.mq_msgsize as i64,
        curmsgs: a.mq_curmsgs as i64,
    })
}

/// An absolute CLOCK_REALTIME deadline `after` from now (`None` after = already past).
pub(crate) fn abs_deadline(after: Option<Duration>) -> libc::timespec {
    let Some(after) = after else {
        return libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
    };
    // `SystemTime` reads CLOCK_REALTIME on every Unix.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = (now.as_secs().min(i64::MAX as u64 / 2) as i64)
        .saturating_add(after.as_secs().min(i64::MAX as u64 / 2) as i64);
    let mut nsec = now.subsec_nanos() as i64 + after.subsec_nanos() as i64;
    let mut secs = secs;
    if nsec >= 1_000_000_000 {
        nsec -= 1_000_000_000;
        secs = secs.saturating_add(1);
    }
    libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: nsec as _,
    }
}

/// `mq_send` (blocking, `abs = None`) or `mq_timedsend`.
pub(crate) fn send(
    mqd: Mqd,
    msg: &[u8],
    prio: u32,
    abs: Option<&libc::timespec>,
) -> io::Result<()> {
    retry(|| {
        let rc = match abs {
            // SAFETY: `msg` is valid for `msg.len()` bytes during the call.
            None => unsafe { libc::mq_send(mqd, msg.as_ptr().cast(), msg.len(), prio) },
            // SAFETY: as above; `t` is a valid timespec.
            Some(t) => unsafe { libc::mq_timedsend(mqd, msg.as_ptr().cast(), msg.len(), prio, t) },
        };
        ((), rc != 0)
    })
}

/// `mq_receive` (blocking, `abs = None`) or `mq_timedreceive`; `buf` must be at least the
/// queue's message size. Returns (length, priority).
pub(crate) fn receive(
    mqd: Mqd,
    buf: &mut [u8],
    abs: Option<&libc::timespec>,
) -> io::Result<(usize, u32)> {
    let mut prio: libc::c_uint = 0;
    let n = retry(|| {
        let n = match abs {
            // SAFETY: `buf` is valid writable memory of `buf.len()` bytes; `prio` an out-pointer.
            None => unsafe { libc::mq_receive(mqd, buf.as_mut_ptr().cast(), buf.len(), &mut prio) },
            // SAFETY: as above; `t` is a valid timespec.
            Some(t) => unsafe {
                libc::mq_timedreceive(mqd, buf.as_mut_ptr().cast(), buf.len(), &mut prio, t)
            },
        };
        (n, n < 0)
    })?;
    Ok((n as usize, prio))
}

/// Reads one of the `/proc/sys/fs/mqueue/*` limits.
pub(crate) fn proc_limit(name: &str) -> Option<i64> {
    std::fs::read_to_string(format!("/proc/sys/fs/mqueue/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// True when running as root (then CAP_SYS_RESOURCE usually lifts msg_max/msgsize_max up to
/// the kernel's hard limits).
pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
