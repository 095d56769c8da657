//! Linux: the futex system call, the *shared* kind (no `FUTEX_PRIVATE_FLAG`: the word is
//! mapped by several processes, and a private futex only matches waiters of one process).
//! Through rustix's `futex` wrappers, which take the word as `&AtomicU32`; `Flags::empty()`
//! is the shared kind.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use rustix::io::Errno;
use rustix::thread::futex::{self, Flags, Timespec};

use super::WaitWake;

/// The Linux futex.
#[derive(Debug)]
pub(crate) struct Futex;

impl WaitWake for Futex {
    fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
        let ts = timeout.map(|d| Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: d.subsec_nanos() as _,
        });
        // The errors it can return are all "re-check and go on": EAGAIN (value already
        // differs), EINTR (signal), ETIMEDOUT; EFAULT/EINVAL cannot happen for a valid
        // aligned word and a normalised timespec.
        match futex::wait(word, Flags::empty(), expected, ts.as_ref()) {
            // Woken by FUTEX_WAKE.
            Ok(()) => true,
            // The word had already changed.
            Err(e) => e == Errno::AGAIN,
        }
    }

    fn wake_all(word: &AtomicU32) {
        // Its only failure for a valid address is EINVAL on a misaligned word, which an
        // `&AtomicU32` cannot be.
        let _ = futex::wake(word, Flags::empty(), i32::MAX as u32);
    }
}
