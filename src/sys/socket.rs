//! OS calls of the `socket` method: waiting for readiness with a deadline, and sending
//! without ever raising SIGPIPE.

use std::os::fd::{AsFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::MsgFlags;

use crate::deadline::Deadline;
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
        // Raw libc: callers hold the socket as a `RawFd` (sockets of std and tokio types);
        // nix's `poll` takes a `BorrowedFd`, which from a `RawFd` is as unsafe as this call.
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
const NOSIGNAL: MsgFlags = MsgFlags::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const NOSIGNAL: MsgFlags = MsgFlags::empty();

/// One `send(2)` with MSG_NOSIGNAL, so a closed peer gives EPIPE instead of killing the
/// process with SIGPIPE. Returns the number of bytes written; EINTR is retried.
pub(crate) fn send_nosignal(fd: RawFd, buf: &[u8]) -> std::io::Result<usize> {
    loop {
        match nix::sys::socket::send(fd, buf, NOSIGNAL) {
            Err(Errno::EINTR) => continue,
            r => return r.map_err(Into::into),
        }
    }
}

/// Sets SO_NOSIGPIPE where MSG_NOSIGNAL does not exist (macOS and BSDs); nothing elsewhere.
pub(crate) fn no_sigpipe(fd: RawFd) {
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    {
        let one: libc::c_int = 1;
        // Raw libc: nix has no SO_NOSIGPIPE socket option.
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

/// Maps EAGAIN to `Ok(None)`; EINTR is `None` (retry).
fn nonblocking(r: nix::Result<usize>) -> Option<std::io::Result<Option<usize>>> {
    match r {
        Ok(n) => Some(Ok(Some(n))),
        Err(Errno::EINTR) => None,
        // EWOULDBLOCK is EAGAIN on every supported target.
        Err(Errno::EAGAIN) => Some(Ok(None)),
        Err(e) => Some(Err(e.into())),
    }
}

/// One `send(2)` that never blocks (MSG_DONTWAIT) nor raises SIGPIPE.
/// `Ok(None)` when the socket has no room now. EINTR is retried.
pub(crate) fn send_dontwait(fd: RawFd, buf: &[u8]) -> std::io::Result<Option<usize>> {
    loop {
        let r = nix::sys::socket::send(fd, buf, NOSIGNAL | MsgFlags::MSG_DONTWAIT);
        if let Some(r) = nonblocking(r) {
            return r;
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
    let flags = if dontwait {
        MsgFlags::MSG_DONTWAIT
    } else {
        MsgFlags::empty()
    };
    loop {
        if let Some(r) = nonblocking(nix::sys::socket::recv(fd, buf, flags)) {
            return r;
        }
    }
}

/// The user and group of the process at the other end of a connected Unix socket, as the
/// kernel recorded them when it connected (Linux `SO_PEERCRED`, elsewhere `getpeereid`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn peer_ids(fd: &impl AsFd) -> Result<(u32, u32)> {
    let cred = nix::sys::socket::getsockopt(fd, nix::sys::socket::sockopt::PeerCredentials)
        .map_err(|e| Error::io("getsockopt SO_PEERCRED", e.into()))?;
    Ok((cred.uid(), cred.gid()))
}

/// See the Linux version.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn peer_ids(fd: &impl AsFd) -> Result<(u32, u32)> {
    let (uid, gid) =
        nix::unistd::getpeereid(fd.as_fd()).map_err(|e| Error::io("getpeereid", e.into()))?;
    Ok((uid.as_raw(), gid.as_raw()))
}
