//! FreeBSD: `_umtx_op(2)` with `UMTX_OP_WAIT_UINT` / `UMTX_OP_WAKE`, the *shared* kind
//! (not the `_PRIVATE` ops: those key the sleep queue on the process's address space, so a
//! waiter in another process would never be found). Compile-checked only.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use super::WaitWake;

/// FreeBSD's umtx.
#[derive(Debug)]
pub(crate) struct Futex;

impl WaitWake for Futex {
    fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
        // A relative timeout on CLOCK_MONOTONIC (`_flags` 0 = relative): the kernel takes
        // the struct's size in `uaddr` and the struct in `uaddr2`.
        let mut t = timeout.map(|d| libc::_umtx_time {
            _timeout: libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            },
            _flags: 0,
            _clockid: libc::CLOCK_MONOTONIC as u32,
        });
        let (size, ptr) = match t.as_mut() {
            Some(t) => (
                std::mem::size_of::<libc::_umtx_time>(),
                t as *mut libc::_umtx_time as *mut libc::c_void,
            ),
            None => (0, std::ptr::null_mut()),
        };
        // SAFETY: `word` is a valid, aligned 32-bit word for the call's duration; the op
        // only reads it. `ptr` is null or a valid `_umtx_time` of `size` bytes. Every error
        // is "re-check and go on": EINTR, ETIMEDOUT, or the word already differing (a
        // plain return).
        unsafe {
            libc::_umtx_op(
                word.as_ptr().cast(),
                libc::UMTX_OP_WAIT_UINT,
                expected as libc::c_ulong,
                size as *mut libc::c_void,
                ptr,
            );
        }
        // Not told apart here (untested platform): the caller's checks always run.
        false
    }

    fn wake_all(word: &AtomicU32) {
        // SAFETY: `word` is a valid aligned word; UMTX_OP_WAKE does not write memory.
        unsafe {
            libc::_umtx_op(
                word.as_ptr().cast(),
                libc::UMTX_OP_WAKE,
                i32::MAX as libc::c_ulong,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
        }
    }
}
