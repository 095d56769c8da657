//! Whole-file `flock(2)` locks (the kind Python's `filelock` package takes), EINTR retried,
//! and shared record locks used as liveness markers.

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

// `flock` and `unlock` take any fd owner (a `File` or an `OwnedFd`).

use crate::{Error, Result};

/// Lock modes for [`flock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `LOCK_SH`: many holders at once.
    Shared,
    /// `LOCK_EX`: one holder.
    Exclusive,
}

/// Takes a `flock` on `fd`. With `wait`, sleeps in the kernel until granted (EINTR retried);
/// without, returns `Ok(false)` at once if another open file description holds a conflicting
/// lock.
pub(crate) fn flock(fd: &impl AsRawFd, mode: Mode, wait: bool) -> Result<bool> {
    let mut op = match mode {
        Mode::Shared => libc::LOCK_SH,
        Mode::Exclusive => libc::LOCK_EX,
    };
    if !wait {
        op |= libc::LOCK_NB;
    }
    loop {
        // SAFETY: plain syscall on an fd we own.
        if unsafe { libc::flock(fd.as_raw_fd(), op) } == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) if !wait => return Ok(false),
            Some(libc::ENOLCK) => {
                return Err(Error::SystemLimit {
                    what: "file locks".into(),
                    hint: "the kernel's lock table is full (ENOLCK)".into(),
                })
            }
            _ => return Err(Error::io("flock", e)),
        }
    }
}

/// Releases a `flock` on `fd`.
pub(crate) fn unlock(fd: &impl AsRawFd) -> Result<()> {
    // SAFETY: plain syscall on an fd we own.
    if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_UN) } != 0 {
        return Err(Error::last_os("flock unlock"));
    }
    Ok(())
}

/// Takes a shared (read) record lock on one byte of `fd` without waiting; on Linux an
/// open-file-description lock, dropped by the kernel when the holder dies. Many holders may
/// share it; [`crate::sys::byte_locked`] from another open sees it.
pub(crate) fn lock_byte_shared(fd: &impl AsRawFd, byte: u64) -> Result<bool> {
    // SAFETY: `flock` is plain old data; zero is valid for every field.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_RDLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = byte as libc::off_t;
    fl.l_len = 1;
    #[cfg(target_os = "linux")]
    let cmd = libc::F_OFD_SETLK;
    #[cfg(not(target_os = "linux"))]
    let cmd = libc::F_SETLK;
    // SAFETY: `fl` is a valid flock for the duration of the call.
    if unsafe { libc::fcntl(fd.as_raw_fd(), cmd, &fl) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(Error::io("fcntl read lock", e)),
    }
}

/// True if `fd` is still the file named `path`: it has a link left and `path` names the same
/// device and inode. False when the file was removed, or removed and created again, since
/// `fd` was opened: a `flock` on `fd` then excludes nobody who opens `path` now.
pub(crate) fn still_at(fd: &impl AsRawFd, path: &Path) -> Result<bool> {
    // SAFETY: `stat` is plain old data; zero is valid for every field.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable stat buffer for the duration of the call.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(Error::last_os("fstat lock file"));
    }
    if st.st_nlink == 0 {
        return Ok(false);
    }
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.dev() == st.st_dev as u64 && m.ino() == st.st_ino as u64),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(format!("stat {}", path.display()), e)),
    }
}
