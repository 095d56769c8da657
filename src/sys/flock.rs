//! Whole-file `flock(2)` locks (the kind Python's `filelock` package takes), EINTR retried,
//! and shared record locks used as liveness markers.

use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::fcntl::FlockArg;

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
    let arg = match (mode, wait) {
        (Mode::Shared, true) => FlockArg::LockShared,
        (Mode::Shared, false) => FlockArg::LockSharedNonblock,
        (Mode::Exclusive, true) => FlockArg::LockExclusive,
        (Mode::Exclusive, false) => FlockArg::LockExclusiveNonblock,
    };
    loop {
        match nix_flock(fd.as_raw_fd(), arg) {
            Ok(()) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(Errno::EWOULDBLOCK) if !wait => return Ok(false),
            Err(Errno::ENOLCK) => {
                return Err(Error::SystemLimit {
                    what: "file locks".into(),
                    hint: "the kernel's lock table is full (ENOLCK)".into(),
                })
            }
            Err(e) => return Err(Error::io("flock", e.into())),
        }
    }
}

/// nix's `flock` on a borrowed fd. nix deprecates it for `Flock<T>`, which owns the file and
/// unlocks on drop; here the lock belongs to a file the caller keeps (and may unlock, or
/// relock in the other mode, while keeping it), which `Flock<T>` cannot express.
#[allow(deprecated)]
fn nix_flock(fd: std::os::fd::RawFd, arg: FlockArg) -> nix::Result<()> {
    nix::fcntl::flock(fd, arg)
}

/// Releases a `flock` on `fd`.
pub(crate) fn unlock(fd: &impl AsRawFd) -> Result<()> {
    nix_flock(fd.as_raw_fd(), FlockArg::Unlock).map_err(|e| Error::io("flock unlock", e.into()))
}

/// Takes a shared (read) record lock on one byte of `fd` without waiting; on Linux an
/// open-file-description lock, dropped by the kernel when the holder dies. Many holders may
/// share it; [`crate::sys::byte_locked`] from another open sees it.
pub(crate) fn lock_byte_shared(fd: &impl AsFd, byte: u64) -> Result<bool> {
    crate::sys::set_lock(
        fd,
        &crate::sys::flock_for(byte, libc::F_RDLCK),
        "fcntl read lock",
    )
}
