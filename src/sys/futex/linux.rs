//! Linux: the futex system call, the *shared* kind (no `FUTEX_PRIVATE_FLAG`: the word is
//! mapped by several processes, and a private futex only matches waiters of one process).

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use super::WaitWake;

/// The Linux futex.
#[derive(Debug)]
pub(crate) struct Futex;

impl WaitWake for Futex {
    fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        });
        let tsp = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `word` is a valid, aligned 32-bit word for the call's duration; FUTEX_WAIT
        // only reads it. The errors it can return are all "re-check and go on":
        // EAGAIN (value already differs), EINTR (signal), ETIMEDOUT; EFAULT/EINVAL cannot
        // happen for a valid aligned address and a normalised timespec.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                expected,
                tsp,
                std::ptr::null::<u32>(),
                0u32,
            )
        };
        // 0: woken by FUTEX_WAKE; EAGAIN: the word had already changed.
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
    }

    fn wake_all(word: &AtomicU32) {
        // SAFETY: `word` is a valid aligned word; FUTEX_WAKE does not touch memory. Its only
        // failure for a valid address is EINVAL on a misaligned word, which cannot happen.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE,
                i32::MAX,
                std::ptr::null::<u32>(),
                std::ptr::null::<u32>(),
                0u32,
            );
        }
    }
}
