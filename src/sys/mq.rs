//! OS calls of the `mq` method: POSIX message queues (`mq_open(3)` and friends, Linux).
//!
//! Every call retries EINTR. Timed calls take an absolute CLOCK_REALTIME deadline, as
//! POSIX requires; a deadline already past makes them non-blocking (the kernel returns
//! ETIMEDOUT at once when the queue is full or empty), so one descriptor, opened blocking,
//! serves the blocking, `try_` and timed forms without toggling O_NONBLOCK.
//!
//! Raw libc, not nix's `mqueue`: nix wraps no `mq_timedsend`, and its `MqdT` gives no raw
//! descriptor on FreeBSD, where the owner check needs one (`mq_getfd_np`) and so does
//! `mq_timedsend`; one queue type for every call on every platform keeps the descriptor's
//! ownership in one place: [`Mq`], made only from a descriptor `mq_open` returned, closed
//! once by its drop, so no other code handles a raw `mqd_t`. (`mq_unlink`, which takes a
//! name, is nix's.)

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::mqueue::mq_attr_member_t;

/// An open queue descriptor, owned. Its existence proves the descriptor open: only
/// [`open`] makes one, from what `mq_open` returned, and only its drop closes it.
#[derive(Debug)]
pub(crate) struct Mq(libc::mqd_t);

// SAFETY: on FreeBSD `mqd_t` is a pointer to libc's descriptor record (it holds the kernel
// descriptor); an `Mq` owns it alone and closes it once, on drop, and POSIX makes the
// `mq_*` calls thread-safe. On Linux `mqd_t` is an int and these follow automatically.
#[cfg(target_os = "freebsd")]
unsafe impl Send for Mq {}
// SAFETY: as above; `&self` methods only call thread-safe `mq_*` functions.
#[cfg(target_os = "freebsd")]
unsafe impl Sync for Mq {}

impl Drop for Mq {
    fn drop(&mut self) {
        // Errors are ignored: the descriptor is gone either way.
        // SAFETY: closes the descriptor this `Mq` owns, once (nothing else closes it).
        unsafe { libc::mq_close(self.0) };
    }
}

/// The file descriptor behind the queue (for `fstat`, and on Linux for `poll`/`epoll`):
/// the queue descriptor itself on Linux.
#[cfg(target_os = "linux")]
impl AsFd for Mq {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: on Linux a queue descriptor is a file descriptor; it stays open while
        // `self` lives (only the drop closes it).
        unsafe { BorrowedFd::borrow_raw(self.0) }
    }
}

/// The file descriptor behind the queue (for `fstat`): `mq_getfd_np` on FreeBSD.
#[cfg(target_os = "freebsd")]
impl AsFd for Mq {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: `self.0` is an open queue descriptor; the call only reads its record,
        // and the kernel descriptor it names belongs to that record, open until the
        // record is closed (our drop), so it outlives the borrow of `self`.
        unsafe { BorrowedFd::borrow_raw(libc::mq_getfd_np(self.0)) }
    }
}

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

/// An all-zero `mq_attr`. Raw: libc's has private padding fields (Linux, FreeBSD), so no
/// struct literal can build one, and nix's `MqAttr` keeps its `mq_attr` private.
fn zeroed_attr() -> libc::mq_attr {
    // SAFETY: `mq_attr` is plain integers; all-zero is a valid value of each field.
    unsafe { std::mem::zeroed() }
}

/// `mq_open`. With `create = Some((maxmsg, msgsize))`, O_CREAT with those attributes.
pub(crate) fn open(
    name: &CStr,
    oflag: libc::c_int,
    mode: u32,
    create: Option<(i64, i64)>,
) -> io::Result<Mq> {
    let mut attr = create.map(|(maxmsg, msgsize)| {
        let mut a = zeroed_attr();
        a.mq_maxmsg = maxmsg as _;
        a.mq_msgsize = msgsize as _;
        a
    });
    let (oflag, attr) = match attr.as_mut() {
        Some(a) => (oflag | libc::O_CREAT, a as *mut libc::mq_attr),
        None => (oflag, std::ptr::null_mut()),
    };
    retry(|| {
        // SAFETY: `name` is NUL-terminated, `attr` null or valid for the call. With O_CREAT
        // mq_open reads (mode, attr) as its variadic arguments; without, it reads none, and
        // variadic arguments never read are ignored.
        let mqd = unsafe {
            libc::mq_open(
                name.as_ptr(),
                oflag,
                // A variadic argument: promoted to an unsigned int (mode_t is 16 bits on
                // FreeBSD).
                mode as libc::c_uint,
                attr,
            )
        };
        // `(mqd_t)-1`: an int on Linux, a pointer elsewhere.
        (mqd, mqd as isize == -1)
    })
    .map(Mq)
}

/// `mq_unlink`.
pub(crate) fn unlink(name: &CStr) -> io::Result<()> {
    loop {
        match nix::mqueue::mq_unlink(name) {
            Err(Errno::EINTR) => continue,
            r => return r.map_err(Into::into),
        }
    }
}

impl Mq {
    /// `mq_getattr`.
    pub(crate) fn getattr(&self) -> io::Result<Attr> {
        let mut a = zeroed_attr();
        // SAFETY: `self.0` is open (the type's invariant); `a` is a valid out-pointer.
        retry(|| ((), unsafe { libc::mq_getattr(self.0, &mut a) } != 0))?;
        // The fields' type, `long` (i64 on x32), as nix names it.
        let maxmsg: mq_attr_member_t = a.mq_maxmsg;
        let msgsize: mq_attr_member_t = a.mq_msgsize;
        let curmsgs: mq_attr_member_t = a.mq_curmsgs;
        Ok(Attr {
            maxmsg: maxmsg as i64,
            msgsize: msgsize as i64,
            curmsgs: curmsgs as i64,
        })
    }

    /// `mq_send` (blocking, `abs = None`) or `mq_timedsend`.
    pub(crate) fn send(
        &self,
        msg: &[u8],
        prio: u32,
        abs: Option<&libc::timespec>,
    ) -> io::Result<()> {
        let (q, p, n) = (self.0, msg.as_ptr().cast(), msg.len());
        retry(|| {
            // SAFETY: `q` is open (the type's invariant); `msg` is valid for `n` bytes
            // during the call, `t` a valid timespec. One call in either form.
            let rc = unsafe {
                match abs {
                    None => libc::mq_send(q, p, n, prio),
                    Some(t) => libc::mq_timedsend(q, p, n, prio, t),
                }
            };
            ((), rc != 0)
        })
    }

    /// `mq_receive` (blocking, `abs = None`) or `mq_timedreceive`; `buf` must be at least
    /// the queue's message size. Returns (length, priority).
    pub(crate) fn receive(
        &self,
        buf: &mut [u8],
        abs: Option<&libc::timespec>,
    ) -> io::Result<(usize, u32)> {
        let (q, p, len) = (self.0, buf.as_mut_ptr().cast(), buf.len());
        let mut prio: libc::c_uint = 0;
        let n = retry(|| {
            // SAFETY: `q` is open (the type's invariant); `buf` is valid writable memory of
            // `len` bytes, `prio` an out-pointer, `t` a valid timespec. One call in either
            // form.
            let n = unsafe {
                match abs {
                    None => libc::mq_receive(q, p, len, &mut prio),
                    Some(t) => libc::mq_timedreceive(q, p, len, &mut prio, t),
                }
            };
            (n, n < 0)
        })?;
        Ok((n as usize, prio))
    }
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
    let at = now.saturating_add(after);
    libc::timespec {
        tv_sec: at.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: at.subsec_nanos() as _,
    }
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
