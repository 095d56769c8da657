//! macOS: `os_sync_wait_on_address` / `os_sync_wake_by_address_all` with the `SHARED` flags
//! (macOS 14.4+), looked up at run time with `dlsym` so the binary still loads on older
//! systems; there, `__ulock_wait` / `__ulock_wake` with `UL_COMPARE_AND_WAIT_SHARED`, the
//! kernel call the public functions wrap (in libSystem since macOS 10.12, also looked up).
//! Compile-checked only.
//!
//! Why not a named semaphore for older systems, as DESIGN.md first sketched: macOS has no
//! `sem_timedwait` (a blocked side must wake every liveness slice to check its peer) and no
//! `sem_getvalue`, and a semaphore wakes one sleeper per post where the broadcast ring needs
//! "wake all"; it would also need a name per segment, which this word-only interface lacks.
//! Both calls used here compare the word and queue the sleeper atomically, as a futex does.
//!
//! Should neither be found (not expected on any macOS Rust supports), or should the kernel
//! refuse the shared operation, a wait sleeps at most 200 µs instead: still correct (every
//! caller re-checks its condition), slower to wake.

use std::ffi::{c_int, c_void};
use std::sync::atomic::AtomicU32;
use std::sync::OnceLock;
use std::time::Duration;

use super::WaitWake;

// The calls' pointer types are *safe* `extern "C" fn`s, private to this file, whose one
// rule is: pass only the address of a live `&AtomicU32` (non-null, 4-aligned, as the
// headers require), which `Futex` below does. Under that rule no call can break memory
// safety: each is the system call (`__ulock_wait` / `__ulock_wake`) or a thin wrapper of it
// (the `os_sync_*` functions, over `__ulock_wait2` / `__ulock_wake`); the kernel reads the
// word itself, a refused size or flag is EINVAL, and none writes user memory. What is
// unsafe is naming a symbol's type, done once, in `api`, where each is looked up.

/// `os_sync_wait_on_address_with_timeout(addr, value, size, flags, clockid, timeout_ns)`.
type OsWaitTimeout = extern "C" fn(*mut c_void, u64, usize, u32, u32, u64) -> c_int;
/// `os_sync_wait_on_address(addr, value, size, flags)`.
type OsWait = extern "C" fn(*mut c_void, u64, usize, u32) -> c_int;
/// `os_sync_wake_by_address_all(addr, size, flags)`.
type OsWake = extern "C" fn(*mut c_void, usize, u32) -> c_int;
/// `__ulock_wait(operation, addr, value, timeout_us)` (timeout 0 = none).
type UlockWait = extern "C" fn(u32, *mut c_void, u64, u32) -> c_int;
/// `__ulock_wake(operation, addr, wake_value)`.
type UlockWake = extern "C" fn(u32, *mut c_void, u64) -> c_int;

/// `<sys/ulock.h>`: compare a 32-bit word, keyed on the memory object (cross-process).
const UL_COMPARE_AND_WAIT_SHARED: u32 = 3;
/// `<sys/ulock.h>`: wake every waiter, not one.
const ULF_WAKE_ALL: u32 = 0x0000_0100;

/// The calls found at run time.
#[derive(Clone, Copy)]
enum Api {
    OsSync {
        wait_timeout: OsWaitTimeout,
        wait: OsWait,
        wake_all: OsWake,
    },
    Ulock {
        wait: UlockWait,
        wake: UlockWake,
    },
    /// Neither: bounded sleeps.
    Sleep,
}

fn lookup(name: &std::ffi::CStr) -> Option<*mut c_void> {
    // SAFETY: `name` is NUL-terminated; RTLD_DEFAULT searches the loaded images.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!p.is_null()).then_some(p)
}

fn api() -> Api {
    static API: OnceLock<Api> = OnceLock::new();
    *API.get_or_init(|| {
        if let (Some(wt), Some(w), Some(k)) = (
            lookup(c"os_sync_wait_on_address_with_timeout"),
            lookup(c"os_sync_wait_on_address"),
            lookup(c"os_sync_wake_by_address_all"),
        ) {
            // SAFETY: these libSystem symbols have exactly these C signatures
            // (<os/os_sync_wait_on_address.h>, macOS 14.4), and are safe to call with any
            // arguments (system-call wrappers: see the types above).
            return unsafe {
                Api::OsSync {
                    wait_timeout: std::mem::transmute::<*mut c_void, OsWaitTimeout>(wt),
                    wait: std::mem::transmute::<*mut c_void, OsWait>(w),
                    wake_all: std::mem::transmute::<*mut c_void, OsWake>(k),
                }
            };
        }
        if let (Some(w), Some(k)) = (lookup(c"__ulock_wait"), lookup(c"__ulock_wake")) {
            // SAFETY: libSystem's `__ulock_wait`/`__ulock_wake` have these C signatures
            // (xnu bsd/sys/ulock.h), and are the system calls themselves (see the types
            // above).
            return unsafe {
                Api::Ulock {
                    wait: std::mem::transmute::<*mut c_void, UlockWait>(w),
                    wake: std::mem::transmute::<*mut c_void, UlockWake>(k),
                }
            };
        }
        Api::Sleep
    })
}

fn errno() -> Option<i32> {
    std::io::Error::last_os_error().raw_os_error()
}

/// The last resort: a short sleep (callers re-check).
fn nap(timeout: Option<Duration>) {
    std::thread::sleep(
        timeout
            .unwrap_or(Duration::from_millis(1))
            .min(Duration::from_micros(200)),
    );
}

/// macOS's wait-on-address.
#[derive(Debug)]
pub(crate) struct Futex;

impl WaitWake for Futex {
    fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
        if timeout == Some(Duration::ZERO) {
            // Both calls read a zero timeout as "no timeout"; a zero wait is no wait.
            return false;
        }
        let addr = word.as_ptr().cast::<c_void>();
        match api() {
            Api::OsSync {
                wait_timeout, wait, ..
            } => {
                // `addr` is a live, aligned 4-byte word, only read. Errors: EINTR,
                // ETIMEDOUT, EFAULT (cannot happen for a live word) are "re-check"; EINVAL
                // would mean the shared flag is refused.
                let rc = match timeout {
                    Some(d) => wait_timeout(
                        addr,
                        expected as u64,
                        4,
                        libc::OS_SYNC_WAIT_ON_ADDRESS_SHARED,
                        libc::OS_CLOCK_MACH_ABSOLUTE_TIME,
                        d.as_nanos().min(u64::MAX as u128) as u64,
                    ),
                    None => wait(
                        addr,
                        expected as u64,
                        4,
                        libc::OS_SYNC_WAIT_ON_ADDRESS_SHARED,
                    ),
                };
                if rc < 0 && errno() == Some(libc::EINVAL) {
                    nap(timeout);
                }
            }
            Api::Ulock { wait, .. } => {
                // Microseconds, at least 1 (0 means "forever"), at most u32::MAX (71
                // minutes; callers re-check and wait again).
                let us = timeout.map_or(0, |d| d.as_micros().clamp(1, u32::MAX as u128) as u32);
                // The kernel compares the word and queues us atomically.
                let rc = wait(UL_COMPARE_AND_WAIT_SHARED, addr, expected as u64, us);
                if rc < 0 && errno() == Some(libc::EINVAL) {
                    nap(timeout);
                }
            }
            Api::Sleep => nap(timeout),
        }
        // Not told apart here (untested platform): the caller's checks always run.
        false
    }

    fn wake_all(word: &AtomicU32) {
        let addr = word.as_ptr().cast::<c_void>();
        // Waking does not touch memory. ENOENT (nobody waits) is the only expected error
        // and needs nothing.
        match api() {
            Api::OsSync { wake_all, .. } => {
                wake_all(addr, 4, libc::OS_SYNC_WAKE_BY_ADDRESS_SHARED);
            }
            Api::Ulock { wake, .. } => {
                wake(UL_COMPARE_AND_WAIT_SHARED | ULF_WAKE_ALL, addr, 0);
            }
            Api::Sleep => {}
        }
    }
}
