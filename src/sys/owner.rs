//! Who owns a named object, and whether this side may use it: the one owner-and-mode check
//! every method calls on the descriptor it opened (never on a path it is about to open, so
//! the object checked is the object used).

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd};

use crate::access::Access;
use crate::{Error, Result};

/// The effective uid of this process.
pub(crate) fn euid() -> u32 {
    Access::effective_uid()
}

/// What a named object should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileType {
    /// A regular file (segments on a path, shm objects, logs, mailboxes, lock files).
    Regular,
    /// A FIFO.
    #[cfg_attr(not(feature = "pipe"), allow(dead_code))]
    Fifo,
    /// A directory (the signal registry).
    #[cfg_attr(not(feature = "signal"), allow(dead_code))]
    Dir,
    /// Any type (POSIX message queues, whose type bits the checks do not rely on).
    Any,
}

impl FileType {
    fn bits(self) -> libc::mode_t {
        match self {
            FileType::Regular => libc::S_IFREG,
            FileType::Fifo => libc::S_IFIFO,
            FileType::Dir => libc::S_IFDIR,
            FileType::Any => 0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            FileType::Regular => "a regular file",
            FileType::Fifo => "a FIFO",
            FileType::Dir => "a directory",
            FileType::Any => "anything",
        }
    }
}

/// The parts of `stat` the checks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// Size in bytes.
    pub size: u64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Full `st_mode` (type and permission bits).
    pub mode: u32,
    /// Device and inode: which file this is.
    pub dev: u64,
    /// See `dev`.
    pub ino: u64,
}

impl Stat {
    // The casts are no-ops on Linux; elsewhere `mode_t` is u16 and `dev_t` i32.
    #[allow(clippy::unnecessary_cast)]
    fn from_raw(st: &libc::stat) -> Stat {
        Stat {
            size: st.st_size as u64,
            uid: st.st_uid,
            gid: st.st_gid,
            mode: st.st_mode as u32,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
        }
    }

    /// The permission bits (`0o7777`).
    pub(crate) fn perm(&self) -> u32 {
        self.mode & 0o7777
    }
}

/// `fstat` of an open descriptor.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> Result<Stat> {
    let st = nix::sys::stat::fstat(fd).map_err(|e| Error::io("fstat", e.into()))?;
    Ok(Stat::from_raw(&st))
}

/// `lstat` of a path (never follows a final symlink). `None` if it cannot be read.
pub(crate) fn lstat(path: &CStr) -> Option<Stat> {
    nix::sys::stat::lstat(path)
        .ok()
        .map(|st| Stat::from_raw(&st))
}

pub(crate) fn denied(path: &str, st: Option<&Stat>, reason: String) -> Error {
    Error::PermissionDenied {
        path: path.to_owned(),
        owner: st.map(|s| s.uid),
        mode: st.map(|s| s.perm()),
        reason: reason.into(),
    }
}

/// Checks an opened object: its type is `ty`, its owner is trusted by `access`, and its
/// permission bits grant nothing outside `max_mode` (e.g. a 0666 segment to a caller that
/// asked for 0600). `path` names it in the error.
// The casts are no-ops on Linux; elsewhere `mode_t` is u16.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn check(
    st: &Stat,
    path: &str,
    ty: FileType,
    access: &Access,
    max_mode: u32,
) -> Result<()> {
    if ty != FileType::Any && st.mode & libc::S_IFMT as u32 != ty.bits() as u32 {
        let reason = format!("not {} (mode {:o})", ty.name(), st.mode);
        return Err(denied(path, Some(st), reason));
    }
    let (uid, gid, perm) = (st.uid, st.gid, st.perm());
    if !access.trusts(uid, gid) {
        let me = euid();
        let reason = format!(
            "owned by uid {uid} (gid {gid}, mode {perm:04o}), not by this user (uid {me}); \
             another user's object is refused unless allowed with allow_owner({uid}) \
             or allow_group({gid})"
        );
        return Err(denied(path, Some(st), reason));
    }
    let (extra, asked) = (perm & 0o777 & !max_mode, max_mode & 0o777);
    if extra != 0 {
        let wider = (max_mode | perm) & 0o777;
        let reason = format!(
            "mode {perm:04o} (owner uid {uid}) grants {extra:04o} beyond the {asked:04o} asked \
             for; ask for mode {wider:04o} to accept it"
        );
        return Err(denied(path, Some(st), reason));
    }
    Ok(())
}

/// [`fstat`] then [`check`] on an open descriptor; returns the stat.
pub(crate) fn check_fd(
    fd: impl AsFd,
    path: &str,
    ty: FileType,
    access: &Access,
    max_mode: u32,
) -> Result<Stat> {
    let st = fstat(fd.as_fd())?;
    check(&st, path, ty, access, max_mode)?;
    Ok(st)
}

/// The error for an open that failed with EACCES: says who owns `at` and its mode (from an
/// `lstat`, for the message only: nothing is trusted from it).
pub(crate) fn eacces(path: &str, at: Option<&CStr>) -> Error {
    let (st, me) = (at.and_then(lstat), euid());
    let reason = match st.map(|s| (s.uid, s.gid, s.perm())) {
        Some((uid, gid, perm)) => format!(
            "the system refused access (EACCES): owned by uid {uid} (gid {gid}), mode \
             {perm:04o}, this process runs as uid {me}"
        ),
        None => format!("the system refused access (EACCES) to this process (uid {me})"),
    };
    denied(path, st.as_ref(), reason)
}

/// True if an object that gave EACCES is a segment still being created by a trusted user
/// (mode exactly 0200, the creation protocol's write-only mode): wait for it rather than
/// report it.
// The casts are no-ops on Linux; elsewhere `mode_t` is u16.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn is_being_created(at: &CStr, access: &Access) -> bool {
    lstat(at).is_some_and(|s| {
        s.mode & libc::S_IFMT as u32 == libc::S_IFREG as u32
            && s.perm() == 0o200
            && access.trusts(s.uid, s.gid)
    })
}

/// Maps an `io::Error` from opening `path` to [`Error::PermissionDenied`] for EACCES /
/// EPERM, else to [`Error::Io`] naming the operation.
#[cfg_attr(
    not(any(feature = "pipe", feature = "file", feature = "signal")),
    allow(dead_code)
)]
pub(crate) fn open_error(op: &str, path: &std::path::Path, e: std::io::Error) -> Error {
    use std::os::unix::ffi::OsStrExt;
    let shown = path.display().to_string();
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => {
            let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok();
            eacces(&shown, c.as_deref())
        }
        Some(libc::ELOOP) => denied(
            &shown,
            None,
            "is a symbolic link; named objects are opened with O_NOFOLLOW".into(),
        ),
        _ => Error::io(format!("{op} {shown}"), e),
    }
}

/// Opens (creating it with `mode` if missing) a regular file read-write, without following
/// a symlink at `path`, then checks it: a file another user owns (unless `access` trusts
/// them) or whose mode grants anything beyond `max_mode` is refused with
/// [`Error::PermissionDenied`], as is EACCES. For logs, mailboxes, their lock files and
/// cursors.
#[cfg(feature = "file")]
pub(crate) fn open_file(
    path: &std::path::Path,
    mode: u32,
    access: &Access,
    max_mode: u32,
) -> Result<std::fs::File> {
    open_file_if(path, true, mode, access, max_mode)?
        .ok_or_else(|| Error::NotFound(path.display().to_string()))
}

/// [`open_file`], creating the file only if `create`; `Ok(None)` if it is missing and
/// `create` is false.
#[cfg(feature = "file")]
pub(crate) fn open_file_if(
    path: &std::path::Path,
    create: bool,
    mode: u32,
    access: &Access,
    max_mode: u32,
) -> Result<Option<std::fs::File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(open_error("open", path, e)),
    };
    check_fd(
        &f,
        &path.display().to_string(),
        FileType::Regular,
        access,
        max_mode,
    )?;
    Ok(Some(f))
}

#[cfg(test)]
#[allow(clippy::unnecessary_cast)]
mod tests {
    use super::*;

    fn file(uid: u32, gid: u32, perm: u32) -> Stat {
        Stat {
            size: 0,
            uid,
            gid,
            mode: libc::S_IFREG as u32 | perm,
            dev: 0,
            ino: 0,
        }
    }

    /// `check` of a regular file at a made-up path.
    fn regular(f: &Stat, access: &Access, max_mode: u32) -> Result<()> {
        check(f, "/x", FileType::Regular, access, max_mode)
    }

    fn reason(r: Result<()>) -> String {
        match r {
            Err(Error::PermissionDenied { reason, .. }) => reason.into_owned(),
            other => panic!("expected PermissionDenied, got {other:?}"),
        }
    }

    #[test]
    fn own_file_within_the_mode_passes() {
        let me = euid();
        let a = Access::new();
        regular(&file(me, 0, 0o600), &a, 0o600).unwrap();
        regular(&file(me, 0, 0o200), &a, 0o600).unwrap();
    }

    #[test]
    fn another_owner_is_refused_unless_allowed() {
        let other = euid().wrapping_add(1);
        let r = reason(regular(&file(other, 77, 0o600), &Access::new(), 0o600));
        assert!(r.contains(&format!("owned by uid {other}")), "{r}");
        assert!(r.contains(&format!("allow_owner({other})")), "{r}");
        let by_owner = Access::new().allow_owner(other);
        regular(&file(other, 77, 0o600), &by_owner, 0o600).unwrap();
        let by_group = Access::new().allow_group(77);
        regular(&file(other, 77, 0o600), &by_group, 0o600).unwrap();
        let wrong_group = Access::new().allow_group(78);
        reason(regular(&file(other, 77, 0o600), &wrong_group, 0o600));
    }

    #[test]
    fn a_wider_mode_is_refused_naming_the_extra_bits() {
        let r = reason(regular(&file(euid(), 0, 0o664), &Access::new(), 0o640));
        assert!(r.contains("mode 0664") && r.contains("grants 0024"), "{r}");
    }

    #[test]
    fn the_wrong_type_is_refused() {
        let r = reason(check(
            &file(euid(), 0, 0o600),
            "/x",
            FileType::Fifo,
            &Access::new(),
            0o600,
        ));
        assert!(r.contains("not a FIFO"), "{r}");
    }
}
