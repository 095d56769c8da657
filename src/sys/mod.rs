//! The only place in the crate's core that calls the OS: shared memory objects, files,
//! mappings, record locks and futexes. Everything here returns `Result`; nothing panics.
//!
//! Methods behind features keep their own OS calls in files of their own under this
//! directory (one concept a file).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;

use crate::access::Access;
use crate::{Error, Result};

pub(crate) mod futex;
pub(crate) mod owner;

/// Where a segment lives: a POSIX shared memory name (`/orders`) or a file path.
///
/// A name that starts with `/` and has no other `/` is a POSIX shm name (on Linux it lives
/// in `/dev/shm`); anything else is a path on a file system (tmpfs or disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A POSIX shm name, with its leading `/`.
    Shm(CString),
    /// A file path.
    Path(CString),
}

impl Location {
    /// Parses a user-given name, refusing the unusable ones with a clear error.
    pub(crate) fn parse(name: &str) -> Result<Location> {
        let bad = |reason: &'static str| Error::InvalidName {
            name: name.to_owned(),
            reason: reason.into(),
        };
        if name.is_empty() {
            return Err(bad("empty"));
        }
        if name.as_bytes().contains(&0) {
            return Err(bad("contains a NUL byte"));
        }
        let c = CString::new(name).map_err(|_| bad("contains a NUL byte"))?;
        if name.starts_with('/') && !name[1..].contains('/') {
            if name.len() == 1 {
                return Err(bad("a shm name needs characters after '/'"));
            }
            if name.len() > 255 {
                return Err(bad("a shm name is at most 255 bytes"));
            }
            Ok(Location::Shm(c))
        } else {
            if name.len() >= libc::PATH_MAX as usize {
                return Err(bad("path too long"));
            }
            Ok(Location::Path(c))
        }
    }

    /// The name as the user gave it.
    pub(crate) fn display(&self) -> String {
        match self {
            Location::Shm(c) | Location::Path(c) => c.to_string_lossy().into_owned(),
        }
    }

    fn open_raw(&self, flags: libc::c_int, mode: libc::mode_t) -> RawFd {
        match self {
            // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
            Location::Shm(c) => unsafe { libc::shm_open(c.as_ptr(), flags, shm_mode(mode)) },
            // O_NOFOLLOW: a symlink planted at the path must not redirect us (glibc's
            // shm_open adds it for shm names). O_NONBLOCK: a FIFO planted there must not
            // block the open (no effect on a regular file).
            // SAFETY: as above.
            Location::Path(c) => unsafe {
                libc::open(
                    c.as_ptr(),
                    flags | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK,
                    mode as libc::c_uint,
                )
            },
        }
    }

    /// Creates the object exclusively (O_EXCL), read-write for this process, with file mode
    /// `mode` (use 0200 while initialising, then [`fchmod`] to the final mode).
    /// `Ok(None)` if it already exists.
    pub(crate) fn create_excl(&self, mode: u32) -> Result<Option<OwnedFd>> {
        let fd = self.open_raw(
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
            mode as libc::mode_t,
        );
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EEXIST) {
                return Ok(None);
            }
            return Err(Error::io(format!("create {}", self.display()), e));
        }
        // SAFETY: `fd` was just returned by a successful open and is owned by nobody else.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// The file system path of the object, for `lstat` in error messages: the path itself,
    /// or where Linux keeps a shm name (`/dev/shm/name`). `None` where shm names have no
    /// path.
    pub(crate) fn fs_path(&self) -> Option<CString> {
        match self {
            Location::Path(c) => Some(c.clone()),
            #[cfg(target_os = "linux")]
            Location::Shm(c) => {
                let mut v = b"/dev/shm".to_vec();
                v.extend_from_slice(c.as_bytes());
                CString::new(v).ok()
            }
            #[cfg(not(target_os = "linux"))]
            Location::Shm(_) => None,
        }
    }

    /// Opens an existing object. `Ok(None)` if it does not exist, or is not yet accessible
    /// because a user `access` trusts is still creating it (mode 0200). Any other refusal
    /// by the system (EACCES: another user's object, a mode that shuts this process out)
    /// is [`Error::PermissionDenied`] at once; a symlink at a path is refused (O_NOFOLLOW).
    /// The caller still checks the owner and mode of what it opened with
    /// [`owner::check_fd`].
    pub(crate) fn open_existing(&self, write: bool, access: &Access) -> Result<Option<OwnedFd>> {
        let flags = if write { libc::O_RDWR } else { libc::O_RDONLY };
        let fd = self.open_raw(flags, 0);
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOENT) => Ok(None),
                Some(libc::EACCES) | Some(libc::EPERM) => {
                    let at = self.fs_path();
                    if at
                        .as_deref()
                        .is_some_and(|p| owner::is_being_created(p, access))
                    {
                        Ok(None)
                    } else {
                        Err(owner::eacces(&self.display(), at.as_deref()))
                    }
                }
                Some(libc::ELOOP) => Err(Error::PermissionDenied {
                    path: self.display(),
                    owner: None,
                    mode: None,
                    reason: "is a symbolic link; segments are opened with O_NOFOLLOW".into(),
                }),
                _ => Err(Error::io(format!("open {}", self.display()), e)),
            };
        }
        // SAFETY: `fd` was just returned by a successful open and is owned by nobody else.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Opens an existing object for looking at it only (its locks, its status): read-only,
    /// or write-only when it is still mode 0200 (a creator initialising it, or one that
    /// died doing so). `Ok(None)` if it does not exist or neither is allowed.
    pub(crate) fn open_to_probe(&self) -> Result<Option<OwnedFd>> {
        for flags in [libc::O_RDONLY, libc::O_WRONLY] {
            let fd = self.open_raw(flags, 0);
            if fd >= 0 {
                // SAFETY: `fd` was just returned by a successful open and is owned by
                // nobody else.
                return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENOENT) => return Ok(None),
                Some(libc::EACCES) => {}
                _ => return Err(Error::io(format!("open {}", self.display()), e)),
            }
        }
        Ok(None)
    }

    /// Removes the name. A missing name is not an error.
    pub(crate) fn unlink(&self) -> Result<()> {
        let rc = match self {
            // SAFETY: valid NUL-terminated string.
            Location::Shm(c) => unsafe { libc::shm_unlink(c.as_ptr()) },
            // SAFETY: valid NUL-terminated string.
            Location::Path(c) => unsafe { libc::unlink(c.as_ptr()) },
        };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(Error::io(format!("unlink {}", self.display()), e));
            }
        }
        Ok(())
    }
}

/// `shm_open`'s mode argument: a `mode_t` on Linux and FreeBSD (16 bits there), a variadic
/// argument (promoted to an unsigned int) on macOS.
#[cfg(not(target_os = "macos"))]
fn shm_mode(mode: libc::mode_t) -> libc::mode_t {
    mode
}

/// `shm_open`'s mode argument (see the other version).
#[cfg(target_os = "macos")]
fn shm_mode(mode: libc::mode_t) -> libc::c_uint {
    mode as libc::c_uint
}

/// Sets the file's size.
pub(crate) fn ftruncate(fd: &OwnedFd, len: u64) -> Result<()> {
    let len = libc::off_t::try_from(len)
        .map_err(|_| Error::InvalidConfig("segment size too large".into()))?;
    // SAFETY: plain syscall on an fd we own.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len) } != 0 {
        return Err(Error::last_os("ftruncate"));
    }
    Ok(())
}

/// How long ago the file's status last changed (`st_ctime`: its creation, resize or
/// `fchmod`); zero if that lies in the future.
pub(crate) fn status_age(fd: &OwnedFd) -> Result<std::time::Duration> {
    // SAFETY: an all-zero `stat` is a valid value; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer; `fd` is open.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(Error::last_os("fstat"));
    }
    let ctime = std::time::UNIX_EPOCH
        + std::time::Duration::new(
            st.st_ctime.max(0) as u64,
            st.st_ctime_nsec.clamp(0, 999_999_999) as u32,
        );
    Ok(std::time::SystemTime::now()
        .duration_since(ctime)
        .unwrap_or_default())
}

/// Changes the file's mode.
pub(crate) fn fchmod(fd: &OwnedFd, mode: u32) -> Result<()> {
    // SAFETY: plain syscall on an fd we own.
    if unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) } != 0 {
        return Err(Error::last_os("fchmod"));
    }
    Ok(())
}

/// A shared read-write (or read-only) mapping of a whole file, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory; which threads touch it, and how, is governed by the
// types built on it (all shared words are atomics).
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` shared. `len` must not exceed the file's size (checked by
    /// the callers against fstat, since touching a page past the end raises SIGBUS).
    pub(crate) fn map(fd: &OwnedFd, len: usize, write: bool) -> Result<Mapping> {
        if len == 0 {
            return Err(Error::InvalidConfig("cannot map zero bytes".into()));
        }
        let prot = if write {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a fresh mapping chosen by the kernel (addr = null), so no existing memory
        // is replaced; the result is checked against MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::last_os("mmap"));
        }
        let ptr = NonNull::new(p as *mut u8).ok_or_else(|| Error::last_os("mmap"))?;
        Ok(Mapping { ptr, len })
    }

    /// Start of the mapping (page aligned).
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned; nothing borrows the mapping
        // past the owner's drop (borrowing types hold a reference to the owner).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

fn flock_for(byte: u64, ty: libc::c_short) -> libc::flock {
    // SAFETY: `flock` is plain old data; zero is valid for every field.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = ty;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = byte as libc::off_t;
    fl.l_len = 1;
    fl.l_pid = 0;
    fl
}

#[cfg(target_os = "linux")]
const SETLK: libc::c_int = libc::F_OFD_SETLK;
#[cfg(target_os = "linux")]
const GETLK: libc::c_int = libc::F_OFD_GETLK;
// Elsewhere, classic per-process record locks: a process must then not hold two roles of one
// segment, and must not close another fd of the same file while attached.
#[cfg(not(target_os = "linux"))]
const SETLK: libc::c_int = libc::F_SETLK;
#[cfg(not(target_os = "linux"))]
const GETLK: libc::c_int = libc::F_GETLK;

/// Takes an exclusive lock on one byte of `fd` without waiting. On Linux this is an
/// open-file-description lock: it belongs to this open of the file (not to the process),
/// so two handles in one process conflict as two processes would, and the kernel drops it
/// when the last fd of this open closes — including when the process is killed.
/// `Ok(false)` if another open holds it.
pub(crate) fn try_lock_byte(fd: &OwnedFd, byte: u64) -> Result<bool> {
    let fl = flock_for(byte, libc::F_WRLCK as libc::c_short);
    // SAFETY: `fl` is a valid flock for the duration of the call.
    if unsafe { libc::fcntl(fd.as_raw_fd(), SETLK, &fl) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(Error::io("fcntl lock", e)),
    }
}

/// Takes a shared (read) lock on one byte of `fd` without waiting: many opens may hold it
/// at once (seqlock readers, broadcast subscribers), and it shows as "held" to
/// [`byte_locked`] from any other open, so a segment in use by readers only is not stale.
/// `Ok(false)` if another open holds an exclusive lock on it.
pub(crate) fn try_lock_byte_shared(fd: &OwnedFd, byte: u64) -> Result<bool> {
    let fl = flock_for(byte, libc::F_RDLCK as libc::c_short);
    // SAFETY: `fl` is a valid flock for the duration of the call.
    if unsafe { libc::fcntl(fd.as_raw_fd(), SETLK, &fl) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(Error::io("fcntl shared lock", e)),
    }
}

/// Releases a lock taken with [`try_lock_byte`].
pub(crate) fn unlock_byte(fd: &OwnedFd, byte: u64) -> Result<()> {
    let fl = flock_for(byte, libc::F_UNLCK as libc::c_short);
    // SAFETY: `fl` is a valid flock for the duration of the call.
    if unsafe { libc::fcntl(fd.as_raw_fd(), SETLK, &fl) } != 0 {
        return Err(Error::last_os("fcntl unlock"));
    }
    Ok(())
}

/// True if some other open of the file holds a lock on `byte` (a live role holder).
pub(crate) fn byte_locked(fd: &impl AsRawFd, byte: u64) -> Result<bool> {
    let mut fl = flock_for(byte, libc::F_WRLCK as libc::c_short);
    // SAFETY: `fl` is a valid, writable flock for the duration of the call.
    if unsafe { libc::fcntl(fd.as_raw_fd(), GETLK, &mut fl) } != 0 {
        return Err(Error::last_os("fcntl getlk"));
    }
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

/// The current process id.
pub(crate) fn pid() -> u32 {
    std::process::id()
}

/// A fresh random 64-bit value (creation nonces).
pub(crate) fn random_u64() -> u64 {
    let mut v = [0u8; 8];
    #[cfg(target_os = "linux")]
    // SAFETY: `v` is a valid writable buffer of 8 bytes.
    let ok = unsafe { libc::getrandom(v.as_mut_ptr().cast(), 8, libc::GRND_NONBLOCK) } == 8;
    // macOS and FreeBSD have no getrandom(2) in libc's bindings; getentropy(3) is there.
    #[cfg(not(target_os = "linux"))]
    // SAFETY: as above (getentropy takes at most 256 bytes).
    let ok = unsafe { libc::getentropy(v.as_mut_ptr().cast(), 8) } == 0;
    if ok {
        return u64::from_le_bytes(v);
    }
    // Fallback: time and pid; only uniqueness matters, not secrecy.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ ((pid() as u64) << 32)
}
#[cfg(feature = "pipe")]
pub(crate) mod fifo;
#[cfg(feature = "file")]
pub(crate) mod flock;
#[cfg(all(feature = "mq", not(target_os = "macos")))]
pub(crate) mod mq;
#[cfg(any(feature = "pipe", feature = "file"))]
pub(crate) mod notify;
#[cfg(feature = "signal")]
pub(crate) mod sig;
#[cfg(feature = "socket")]
pub(crate) mod socket;
#[cfg(all(feature = "async", target_os = "linux"))]
pub(crate) mod waitv;
