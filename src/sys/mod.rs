//! The only place in the crate's core that calls the OS: shared memory objects, files,
//! mappings, record locks and futexes. Everything here returns `Result`; nothing panics.
//!
//! Methods behind features keep their own OS calls in files of their own under this
//! directory (one concept a file).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag};
use nix::sys::stat::Mode;

use crate::access::Access;
use crate::{Error, Result};

pub(crate) mod barrier;
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

    fn open_raw(&self, flags: OFlag, mode: u32) -> nix::Result<OwnedFd> {
        let mode = Mode::from_bits_truncate(mode as libc::mode_t);
        match self {
            Location::Shm(c) => nix::sys::mman::shm_open(c.as_c_str(), flags, mode),
            // O_NOFOLLOW: a symlink planted at the path must not redirect us (glibc's
            // shm_open adds it for shm names). O_NONBLOCK: a FIFO planted there must not
            // block the open (no effect on a regular file).
            Location::Path(c) => nix::fcntl::open(
                c.as_c_str(),
                flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK,
                mode,
            ),
        }
    }

    /// Creates the object exclusively (O_EXCL), read-write for this process, with file mode
    /// `mode` (use 0200 while initialising, then [`fchmod`] to the final mode).
    /// `Ok(None)` if it already exists.
    pub(crate) fn create_excl(&self, mode: u32) -> Result<Option<OwnedFd>> {
        match self.open_raw(OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL, mode) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::EEXIST) => Ok(None),
            Err(e) => Err(Error::io(format!("create {}", self.display()), e.into())),
        }
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
        let flags = if write {
            OFlag::O_RDWR
        } else {
            OFlag::O_RDONLY
        };
        match self.open_raw(flags, 0) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) => Ok(None),
            Err(Errno::EACCES) | Err(Errno::EPERM) => {
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
            Err(Errno::ELOOP) => Err(owner::denied(
                &self.display(),
                None,
                "is a symbolic link; segments are opened with O_NOFOLLOW".into(),
            )),
            Err(e) => Err(Error::io(format!("open {}", self.display()), e.into())),
        }
    }

    /// Opens an existing object for looking at it only (its locks, its status): read-only,
    /// or write-only when it is still mode 0200 (a creator initialising it, or one that
    /// died doing so). `Ok(None)` if it does not exist or neither is allowed.
    pub(crate) fn open_to_probe(&self) -> Result<Option<OwnedFd>> {
        for flags in [OFlag::O_RDONLY, OFlag::O_WRONLY] {
            match self.open_raw(flags, 0) {
                Ok(fd) => return Ok(Some(fd)),
                Err(Errno::ENOENT) => return Ok(None),
                Err(Errno::EACCES) => {}
                Err(e) => return Err(Error::io(format!("open {}", self.display()), e.into())),
            }
        }
        Ok(None)
    }

    /// True if the name still names `fd`'s file ([`still_at`]); true where a name has no
    /// path to check (shm names outside Linux).
    pub(crate) fn still_names(&self, fd: &impl AsFd) -> Result<bool> {
        use std::os::unix::ffi::OsStrExt;
        match self.fs_path() {
            Some(p) => still_at(
                fd,
                std::path::Path::new(std::ffi::OsStr::from_bytes(p.as_bytes())),
            ),
            None => Ok(true),
        }
    }

    /// Removes the name if it still names `fd`'s file (true), else leaves it (false). Two
    /// processes that find the same abandoned name may both set out to remove it: the one
    /// that comes second must not remove what the first made there meanwhile (seen in a
    /// test: `send` and `recv` started together on a half-created name, each then on its
    /// own ring). The check and the unlink are two calls; what is left between them is a
    /// few microseconds, not the whole look that judged the file abandoned. Where a name
    /// has no path the name is removed unchecked.
    pub(crate) fn unlink_if_still(&self, fd: &impl AsFd) -> Result<bool> {
        if !self.still_names(fd)? {
            return Ok(false);
        }
        self.unlink()?;
        Ok(true)
    }

    /// Removes the name. A missing name is not an error.
    pub(crate) fn unlink(&self) -> Result<()> {
        let r = match self {
            Location::Shm(c) => nix::sys::mman::shm_unlink(c.as_c_str()),
            Location::Path(c) => nix::unistd::unlink(c.as_c_str()),
        };
        match r {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::io(format!("unlink {}", self.display()), e.into())),
        }
    }
}

/// Sets the file's size.
pub(crate) fn ftruncate(fd: &OwnedFd, len: u64) -> Result<()> {
    let len = libc::off_t::try_from(len)
        .map_err(|_| Error::InvalidConfig("segment size too large".into()))?;
    nix::unistd::ftruncate(fd, len).map_err(|e| Error::io("ftruncate", e.into()))
}

/// How long ago the file's status last changed (`st_ctime`: its creation, resize or
/// `fchmod`); zero if that lies in the future.
pub(crate) fn status_age(fd: &OwnedFd) -> Result<std::time::Duration> {
    let st = nix::sys::stat::fstat(fd).map_err(|e| Error::io("fstat", e.into()))?;
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
    nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode as libc::mode_t))
        .map_err(|e| Error::io("fchmod", e.into()))
}

/// A shared read-write (or read-only) mapping of a whole file, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    map: memmap2::MmapRaw,
}

impl Mapping {
    /// Maps `len` bytes of `fd` shared. `len` must not exceed the file's size (checked by
    /// the callers against fstat, since touching a page past the end raises SIGBUS).
    pub(crate) fn map(fd: &OwnedFd, len: usize, write: bool) -> Result<Mapping> {
        if len == 0 {
            return Err(Error::InvalidConfig("cannot map zero bytes".into()));
        }
        let mut opts = memmap2::MmapOptions::new();
        opts.len(len);
        let map = if write {
            opts.map_raw(fd.as_raw_fd())
        } else {
            opts.map_raw_read_only(fd.as_raw_fd())
        }
        .map_err(|e| Error::io("mmap", e))?;
        Ok(Mapping { map })
    }

    /// Makes the whole mapping resident and mapped writable now
    /// (`MADV_POPULATE_WRITE`, Linux 5.14 and later), so that the first touch of each page
    /// takes no page fault later. Contents are unchanged. Where the call is missing (an
    /// older kernel, another system) or refused (a seccomp filter), it does nothing: pages
    /// then fault in on first use, as without it.
    ///
    /// Written by hand over `madvise` rather than `MAP_POPULATE` at `mmap` time: the latter
    /// hides a failure, this reports it. `Err(SystemLimit)` when the memory cannot be
    /// provided (a full tmpfs such as `/dev/shm`, a memory limit, or a file cut short
    /// meanwhile: the caller tells that case apart): touching those pages later would raise
    /// SIGBUS instead.
    pub(crate) fn prefault(&self) -> Result<()> {
        #[cfg(target_os = "linux")]
        while let Err(e) = self
            .map
            .advise_range(memmap2::Advice::PopulateWrite, 0, self.len())
        {
            match e.raw_os_error() {
                // A signal arrived: the pages done so far stay done; go on.
                Some(libc::EINTR) => {}
                Some(libc::EFAULT | libc::ENOMEM) => {
                    return Err(Error::SystemLimit {
                        what: format!("{} bytes of shared memory could not be provided ({e})", self.len())
                            .into(),
                        hint: "the file system holding the segment (/dev/shm for a /name) is full, or a memory limit was reached; free some, or turn prefaulting off to fault pages in as they are first used".into(),
                    });
                }
                Some(libc::EHWPOISON) => return Err(Error::io("madvise(MADV_POPULATE_WRITE)", e)),
                // EINVAL (before Linux 5.14), EPERM/ENOSYS (a seccomp filter), anything
                // else: prefaulting is only ever a head start.
                _ => break,
            }
        }
        Ok(())
    }

    /// Start of the mapping (page aligned).
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The `T` at byte offset `off` of the mapping, or `None` if it does not lie wholly
    /// inside it or `off` is not aligned for `T`.
    ///
    /// This is the one place a segment's bytes become typed references: every header,
    /// shared-word block and per-slot entry of every segment kind is reached through it
    /// (or [`Mapping::at`]), so the bounds and alignment argument is made once, here.
    #[inline]
    pub(crate) fn view<T: SharedPlain>(&self, off: usize) -> Option<&T> {
        self.view_slice(off, 1).map(|s| &s[0])
    }

    /// `n` consecutive `T`s from byte offset `off`, or `None` if they do not lie wholly inside
    /// the mapping or `off` is not aligned for `T`. As [`Mapping::view`], for arrays.
    #[inline]
    pub(crate) fn view_slice<T: SharedPlain>(&self, off: usize, n: usize) -> Option<&[T]> {
        let end = n.checked_mul(std::mem::size_of::<T>())?.checked_add(off)?;
        if end > self.len() || (self.as_ptr() as usize + off) % std::mem::align_of::<T>() != 0 {
            return None;
        }
        // SAFETY: `n` values of `T` from `off` lie inside the mapping (checked above), which
        // stays mapped for as long as `self` is borrowed, aligned for `T`; `T: SharedPlain`
        // promises that every bit pattern is a valid `T` and that it is changed only through
        // atomics (or not at all), so another process writing the bytes cannot make the
        // reference invalid.
        Some(unsafe { std::slice::from_raw_parts(self.as_ptr().add(off) as *const T, n) })
    }

    /// The `T` at `off`, for offsets that the segment's validation at open has already shown
    /// to lie inside the mapping (a fixed header field of a mapping at least the header's
    /// size). A failure is a bug in this crate, not bad input, and panics saying where.
    #[inline]
    #[track_caller]
    pub(crate) fn at<T: SharedPlain>(&self, off: usize) -> &T {
        match self.view(off) {
            Some(t) => t,
            None => panic!(
                "internal error: {} at offset {off} does not fit a mapping of {} bytes",
                std::any::type_name::<T>(),
                self.len()
            ),
        }
    }
}

/// Plain shared-memory types: the only types [`Mapping::view`] hands out references to.
///
/// # Safety
/// An implementor is `#[repr(C)]` (or a primitive), holds no pointer or reference, is valid
/// for every bit pattern (integers, atomics and arrays or structs of them), and has no field
/// that may change behind a `&` except atomics: the bytes are shared with other processes,
/// which may write anything at any time.
pub(crate) unsafe trait SharedPlain: Sync {}

// SAFETY: primitives and atomics: every bit pattern is valid, no pointers, atomics change
// only through atomic operations.
unsafe impl SharedPlain for std::sync::atomic::AtomicU64 {}
// SAFETY: as above.
unsafe impl SharedPlain for std::sync::atomic::AtomicU32 {}
// SAFETY: as above.
unsafe impl SharedPlain for std::sync::atomic::AtomicU8 {}
// SAFETY: as above; `u8` arrays are read only (a `&[u8; N]` of shared memory is read with
// the same caveat as the data area: see `sync::DataArea`).
unsafe impl<const N: usize> SharedPlain for [std::sync::atomic::AtomicU64; N] {}

/// A one-byte record lock request (`l_pid` is 0, as `F_OFD_*` requires). `ty` is one of
/// `libc::F_*LCK`, whose type differs by target (`c_int` on Linux, `c_short` on macOS and
/// FreeBSD).
pub(crate) fn flock_for(byte: u64, ty: impl Into<libc::c_int>) -> libc::flock {
    // Every field named: a target whose `flock` has more (or private padding) fails to
    // build here rather than sending an unset field to the kernel.
    libc::flock {
        l_type: ty.into() as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: byte as libc::off_t,
        l_len: 1,
        l_pid: 0,
        // FreeBSD's remote-lock system id: 0 for a local lock.
        #[cfg(target_os = "freebsd")]
        l_sysid: 0,
    }
}

/// Sets the record lock `fl` without waiting. On Linux an open-file-description lock;
/// elsewhere a classic per-process record lock: a process must then not hold two roles of
/// one segment, and must not close another fd of the same file while attached.
/// `Ok(false)` if another open holds a conflicting lock.
pub(crate) fn set_lock(fd: &impl AsFd, fl: &libc::flock, op: &'static str) -> Result<bool> {
    #[cfg(target_os = "linux")]
    let arg = FcntlArg::F_OFD_SETLK(fl);
    #[cfg(not(target_os = "linux"))]
    let arg = FcntlArg::F_SETLK(fl);
    match nix::fcntl::fcntl(fd.as_fd(), arg) {
        Ok(_) => Ok(true),
        Err(Errno::EAGAIN) | Err(Errno::EACCES) => Ok(false),
        Err(e) => Err(Error::io(op, e.into())),
    }
}

/// Takes an exclusive lock on one byte of `fd` without waiting. On Linux this is an
/// open-file-description lock: it belongs to this open of the file (not to the process),
/// so two handles in one process conflict as two processes would, and the kernel drops it
/// when the last fd of this open closes — including when the process is killed.
/// `Ok(false)` if another open holds it.
pub(crate) fn try_lock_byte(fd: &OwnedFd, byte: u64) -> Result<bool> {
    set_lock(fd, &flock_for(byte, libc::F_WRLCK), "fcntl lock")
}

/// Takes a shared (read) lock on one byte of `fd` without waiting: many opens may hold it
/// at once (seqlock readers, broadcast subscribers), and it shows as "held" to
/// [`byte_locked`] from any other open, so a segment in use by readers only is not stale.
/// `Ok(false)` if another open holds an exclusive lock on it.
pub(crate) fn try_lock_byte_shared(fd: &OwnedFd, byte: u64) -> Result<bool> {
    set_lock(fd, &flock_for(byte, libc::F_RDLCK), "fcntl shared lock")
}

/// Releases a lock taken with [`try_lock_byte`].
pub(crate) fn unlock_byte(fd: &OwnedFd, byte: u64) -> Result<()> {
    set_lock(fd, &flock_for(byte, libc::F_UNLCK), "fcntl unlock").map(drop)
}

/// True if some other open of the file holds a lock on `byte` (a live role holder).
pub(crate) fn byte_locked(fd: &impl AsFd, byte: u64) -> Result<bool> {
    let mut fl = flock_for(byte, libc::F_WRLCK);
    #[cfg(target_os = "linux")]
    let arg = FcntlArg::F_OFD_GETLK(&mut fl);
    #[cfg(not(target_os = "linux"))]
    let arg = FcntlArg::F_GETLK(&mut fl);
    nix::fcntl::fcntl(fd.as_fd(), arg).map_err(|e| Error::io("fcntl getlk", e.into()))?;
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

/// True if `fd` is still the file named `path`: it has a link left and `path` names the same
/// device and inode. False when the file was removed, or removed and created again, since
/// `fd` was opened: a `flock` on `fd` then excludes nobody who opens `path` now.
pub(crate) fn still_at(fd: &impl AsFd, path: &std::path::Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let st =
        nix::sys::stat::fstat(fd.as_fd()).map_err(|e| Error::io("fstat lock file", e.into()))?;
    if st.st_nlink == 0 {
        return Ok(false);
    }
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.dev() == st.st_dev as u64 && m.ino() == st.st_ino as u64),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(format!("stat {}", path.display()), e)),
    }
}

/// A fresh random 64-bit value (creation nonces).
pub(crate) fn random_u64() -> u64 {
    let mut v = [0u8; 8];
    if getrandom::getrandom(&mut v).is_ok() {
        return u64::from_le_bytes(v);
    }
    // Fallback: time and pid; only uniqueness matters, not secrecy.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ ((std::process::id() as u64) << 32)
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
