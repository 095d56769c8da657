//! OS calls of the `socket` method: waiting for readiness with a deadline, and sending
//! without ever raising SIGPIPE.

use std::os::fd::RawFd;

use crate::transport::Deadline;
use crate::{Error, Result};

/// What to wait for in [`wait_ready`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ready {
    /// Bytes to read, or end of stream.
    Read,
    /// Room to write.
    Write,
}

/// Waits until `fd` is ready for `what` or `deadline` passes. `Ok(false)` on time out.
/// Hang-up and error conditions count as ready: the read or write that follows reports them.
/// EINTR is retried with the time left.
pub(crate) fn wait_ready(fd: RawFd, what: Ready, deadline: Deadline) -> Result<bool> {
    let events = match what {
        Ready::Read => libc::POLLIN,
        Ready::Write => libc::POLLOUT,
    };
    loop {
        let timeout_ms: libc::c_int = match deadline.remaining() {
            None => -1,
            // Round up so a wait of 0.3 ms does not become a busy 0 ms poll loop.
            Some(d) => d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int,
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd, and we pass its count (1).
        let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(Error::io("poll", e));
        }
        if rc > 0 {
            return Ok(true);
        }
        if deadline.expired() || timeout_ms == 0 {
            return Ok(false);
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
const NOSIGNAL: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const NOSIGNAL: libc::c_int = 0;

/// One `send(2)` with MSG_NOSIGNAL, so a closed peer gives EPIPE instead of killing the
/// process with SIGPIPE. Returns the number of bytes written; EINTR is retried.
pub(crate) fn send_nosignal(fd: RawFd, buf: &[u8]) -> std::io::Result<usize> {
    loop {
        // SAFETY: `buf` is a valid readable slice of `buf.len()` bytes for the call.
        let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), NOSIGNAL) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Sets SO_NOSIGPIPE where MSG_NOSIGNAL does not exist (macOS and BSDs); nothing elsewhere.
pub(crate) fn no_sigpipe(fd: RawFd) {
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    {
        let one: libc::c_int = 1;
        // SAFETY: `one` is a valid c_int for the duration of the call.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_NOSIGPIPE,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    }
    let _ = fd;
}

/// One `send(2)` that never blocks (MSG_DONTWAIT) nor raises SIGPIPE.
/// `Ok(None)` when the socket has no room now. EINTR is retried.
pub(crate) fn send_dontwait(fd: RawFd, buf: &[u8]) -> std::io::Result<Option<usize>> {
    loop {
        // SAFETY: `buf` is a valid readable slice of `buf.len()` bytes for the call.
        let n = unsafe {
            libc::send(
                fd,
                buf.as_ptr().cast(),
                buf.len(),
                NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(None),
            #[allow(unreachable_patterns)]
            Some(libc::EWOULDBLOCK) => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// One `recv(2)`, blocking or not (`dontwait`). `Ok(None)` when `dontwait` and nothing is
/// there now; `Ok(Some(0))` is end of stream. EINTR is retried.
pub(crate) fn recv_some(
    fd: RawFd,
    buf: &mut [u8],
    dontwait: bool,
) -> std::io::Result<Option<usize>> {
    let flags = if dontwait { libc::MSG_DONTWAIT } else { 0 };
    loop {
        // SAFETY: `buf` is a valid writable slice of `buf.len()` bytes for the call.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(None),
            #[allow(unreachable_patterns)]
            Some(libc::EWOULDBLOCK) => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// The user and group of the process at the other end of a connected Unix socket, as the
/// kernel recorded them when it connected (Linux `SO_PEERCRED`, elsewhere `getpeereid`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn peer_ids(fd: RawFd) -> Result<(u32, u32)> {
    // SAFETY: an all-zero ucred is a valid value; getsockopt fills it.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid out-pointers of the size passed.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(Error::last_os("getsockopt SO_PEERCRED"));
    }
    Ok((cred.uid, cred.gid))
}

/// See the Linux version.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn peer_ids(fd: RawFd) -> Result<(u32, u32)> {
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: valid out-pointers for the call's duration.
    if unsafe { libc::getpeereid(fd, &mut uid, &mut gid) } != 0 {
        return Err(Error::last_os("getpeereid"));
    }
    Ok((uid, gid))
}
