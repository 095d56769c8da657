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
    #[cfg(feature = "file")]
    Modify,
    /// The file was opened (by anyone).
    #[cfg(feature = "pipe")]
    Open,
}

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use crate::Error;
    use nix::errno::Errno;
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    use std::os::fd::AsFd;

    /// An inotify instance.
    #[derive(Debug)]
    pub(crate) struct Watch {
        fd: Inotify,
    }

    impl Watch {
        pub(crate) fn new() -> Result<Watch> {
            match Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) {
                Ok(fd) => Ok(Watch { fd }),
                Err(Errno::EMFILE) => Err(Error::SystemLimit {
                    what: "inotify instances".into(),
                    hint: "/proc/sys/fs/inotify/max_user_instances".into(),
                }),
                Err(e) => Err(Error::io("inotify_init1", e.into())),
            }
        }

        pub(crate) fn add(&mut self, path: &Path, ev: Event) -> Result<()> {
            let mask = match ev {
                #[cfg(feature = "file")]
                Event::Modify => AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CLOSE_WRITE,
                #[cfg(feature = "pipe")]
                Event::Open => AddWatchFlags::IN_OPEN,
            };
            match self.fd.add_watch(path, mask) {
                Ok(_) => Ok(()),
                Err(Errno::ENOSPC) => Err(Error::SystemLimit {
                    what: "inotify watches".into(),
                    hint: "/proc/sys/fs/inotify/max_user_watches".into(),
                }),
                Err(e) => Err(Error::io(
                    format!("inotify_add_watch {}", path.display()),
                    e.into(),
                )),
            }
        }

        /// The inotify descriptor (readable while events are queued), for the async pipe.
        #[cfg(feature = "async")]
        pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
            self.fd.as_fd()
        }

        /// Sleeps until an event arrives or `timeout` passes; drains pending events.
        /// Returns true if an event was seen.
        pub(crate) fn wait(&mut self, timeout: Duration) -> Result<bool> {
            if self.drain()? {
                return Ok(true);
            }
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            let t = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
            let mut pfd = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(&mut pfd, t) {
                Ok(0) | Err(Errno::EINTR) => Ok(false),
                Ok(_) => self.drain(),
                Err(e) => Err(Error::io("poll inotify", e.into())),
            }
        }

        /// Reads and discards every queued event. True if there was any.
        pub(crate) fn drain(&mut self) -> Result<bool> {
            let mut buf = [0u8; 4096];
            let mut any = false;
            loop {
                match nix::unistd::read(self.fd.as_fd(), &mut buf) {
                    Ok(0) => return Ok(any),
                    Ok(_) => any = true,
                    Err(Errno::EINTR) => {}
                    Err(Errno::EAGAIN) => return Ok(any),
                    Err(e) => return Err(Error::io("read inotify", e.into())),
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
