//! Waiting for a file to change without hot polling.
//!
//! Linux: inotify. A [`Watch`] owns one inotify instance watching one or more paths for the
//! given events; [`Watch::wait`] sleeps until one arrives (or the timeout passes) and drains
//! the queue. Callers always re-check their condition after a wait, so a spurious wake-up is
//! harmless; they also cap every wait at a slice, which covers the one thing inotify cannot
//! see (a lock released by a dead process).
//!
//! Elsewhere: no kernel notification is used; [`Watch::wait`] sleeps a short, growing
//! interval (1 ms doubling up to 25 ms), which is the documented fallback.

use std::path::Path;
use std::time::Duration;

use crate::Result;

/// Events to watch for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    /// The file was written to.
    Modify,
    /// The file was opened (by anyone).
    Open,
}

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use crate::Error;
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;

    /// An inotify instance.
    #[derive(Debug)]
    pub(crate) struct Watch {
        fd: OwnedFd,
    }

    impl Watch {
        pub(crate) fn new() -> Result<Watch> {
            // SAFETY: plain syscall; the result is checked.
            let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
            if fd < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EMFILE) {
                    return Err(Error::SystemLimit {
                        what: "inotify instances".into(),
                        hint: "/proc/sys/fs/inotify/max_user_instances".into(),
                    });
                }
                return Err(Error::io("inotify_init1", e));
            }
            // SAFETY: a fresh fd returned by a successful call, owned by nobody else.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            Ok(Watch { fd })
        }

        pub(crate) fn add(&mut self, path: &Path, ev: Event) -> Result<()> {
            let mask = match ev {
                Event::Modify => libc::IN_MODIFY | libc::IN_CLOSE_WRITE,
                Event::Open => libc::IN_OPEN,
            };
            let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::InvalidName {
                name: path.display().to_string(),
                reason: "contains a NUL byte".into(),
            })?;
            // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
            let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), mask) };
            if wd < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::ENOSPC) {
                    return Err(Error::SystemLimit {
                        what: "inotify watches".into(),
                        hint: "/proc/sys/fs/inotify/max_user_watches".into(),
                    });
                }
                return Err(Error::io(
                    format!("inotify_add_watch {}", path.display()),
                    e,
                ));
            }
            Ok(())
        }

        /// The inotify descriptor (readable while events are queued), for the async pipe.
        #[cfg(feature = "async")]
        pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
            use std::os::fd::AsFd;
            self.fd.as_fd()
        }

        /// Sleeps until an event arrives or `timeout` passes; drains pending events.
        /// Returns true if an event was seen.
        pub(crate) fn wait(&mut self, timeout: Duration) -> Result<bool> {
            if self.drain()? {
                return Ok(true);
            }
            let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `pfd` is a valid array of one pollfd for the call's duration.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    return Ok(false);
                }
                return Err(Error::io("poll inotify", e));
            }
            if n == 0 {
                return Ok(false);
            }
            self.drain()
        }

        /// Reads and discards every queued event. True if there was any.
        pub(crate) fn drain(&mut self) -> Result<bool> {
            let mut buf = [0u8; 4096];
            let mut any = false;
            loop {
                // SAFETY: `buf` is a valid writable buffer of the given length.
                let n =
                    unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n > 0 {
                    any = true;
                    continue;
                }
                if n == 0 {
                    return Ok(any);
                }
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) => return Ok(any),
                    _ => return Err(Error::io("read inotify", e)),
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::*;

    /// The portable fallback: a growing sleep.
    #[derive(Debug)]
    pub(crate) struct Watch {
        backoff: Duration,
    }

    impl Watch {
        pub(crate) fn new() -> Result<Watch> {
            Ok(Watch {
                backoff: Duration::from_millis(1),
            })
        }

        pub(crate) fn add(&mut self, _path: &Path, _ev: Event) -> Result<()> {
            Ok(())
        }

        pub(crate) fn wait(&mut self, timeout: Duration) -> Result<bool> {
            std::thread::sleep(self.backoff.min(timeout));
            self.backoff = (self.backoff * 2).min(Duration::from_millis(25));
            Ok(false)
        }
    }
}

pub(crate) use imp::Watch;
