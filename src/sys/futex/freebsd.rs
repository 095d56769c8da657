//! FreeBSD: `_umtx_op(2)` with `UMTX_OP_WAIT_UINT` / `UMTX_OP_WAKE`, the *shared* kind
//! (not the `_PRIVATE` ops: those key the sleep queue on the process's address space, so a
//! waiter in another process would never be found). Compile-checked only.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use super::WaitWake;

/// FreeBSD's umtx.
#[derive(Debug)]
pub(crate) struct Futex;

/// The two `_umtx_op` operations used here; no other can be asked for, so [`umtx_op`] can
/// state what each reads and writes.
#[derive(Clone, Copy)]
enum Op {
    /// `UMTX_OP_WAIT_UINT`: sleep while the word holds the value (it reads the word, and
    /// the timeout when one is given).
    WaitUint,
    /// `UMTX_OP_WAKE`: wake up to `val` sleepers (it touches no memory).
    Wake,
}

/// Raw libc: no crate wraps `_umtx_op`. Typed so that every call is sound: the word is a
/// live `&AtomicU32`, the op one of [`Op`], and the timeout (`UMTX_OP_WAIT_UINT` only)
/// absent or a valid `_umtx_time` passed with its size, as the kernel takes it.
fn umtx_op(
    word: &AtomicU32,
    op: Op,
    val: libc::c_ulong,
    timeout: Option<&mut libc::_umtx_time>,
) -> libc::c_int {
    let op = match op {
        Op::WaitUint => libc::UMTX_OP_WAIT_UINT,
        Op::Wake => libc::UMTX_OP_WAKE,
    };
    // A timeout goes as its size in `uaddr` and the struct in `uaddr2`.
    let (size, ptr) = match timeout {
        Some(t) => (
            std::mem::size_of::<libc::_umtx_time>(),
            t as *mut libc::_umtx_time as *mut libc::c_void,
        ),
        None => (0, std::ptr::null_mut()),
    };
    // SAFETY: `word` is a valid, aligned 32-bit word for the call's duration, only read
    // (WAIT_UINT) or not touched (WAKE); `ptr` is null or a valid `_umtx_time` of `size`
    // bytes, only read.
    unsafe {
        libc::_umtx_op(
            word.as_ptr().cast(),
            op,
            val,
            size as *mut libc::c_void,
            ptr,
        )
    }
}

impl WaitWake for Futex {
    fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
        // A relative timeout on CLOCK_MONOTONIC (`_flags` 0 = relative).
        let mut t = timeout.map(|d| libc::_umtx_time {
            _timeout: libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            },
            _flags: 0,
            _clockid: libc::CLOCK_MONOTONIC as u32,
        });
        // Every error is "re-check and go on": EINTR, ETIMEDOUT, or the word already
        // differing (a plain return).
        umtx_op(word, Op::WaitUint, expected as libc::c_ulong, t.as_mut());
        // Not told apart here (untested platform): the caller's checks always run.
        false
    }

    fn wake_all(word: &AtomicU32) {
        umtx_op(word, Op::Wake, i32::MAX as libc::c_ulong, None);
    }
}
