//! A shared file guarded by a lock: a durable append-only message log, and the article's
//! JSON command mailbox ([`mailbox`]).
//!
//! # The log
//!
//! One file holds every message ever sent, and `<file>.lock` beside it serialises the
//! writers with `flock(2)`. Any number of [`LogWriter`]s, in any processes, append; any
//! number of [`LogReader`]s read, each at its own offset, so every reader sees every message,
//! in the order the writers committed them. A reader can persist its offset in a cursor file
//! ([`LogOptions::cursor`]) so that, restarted, it resumes without losing or repeating a
//! message. Writers `fsync` on request ([`LogOptions::durable`]).
//!
//! Both implement the crate's [`Sender`] / [`Receiver`] traits. A reader that has caught up
//! waits for new messages without hot polling (inotify on Linux; elsewhere a sleep of 1 to
//! 25 ms between looks). It returns [`Error::Disconnected`] when it has read everything and
//! no writer is attached any more (writers hold a shared record lock on the log and on the
//! lock file while they live, which the kernel drops when a writer dies, even by SIGKILL).
//!
//! After every `flock` each side checks that its lock file is still the one at the path
//! (removed, or removed and created again, by a cleanup while it ran); if not, it opens the
//! path again and locks that, so processes started before and after keep excluding each
//! other.
//!
//! ## File format
//!
//! A 64-byte header, then records. All integers little-endian.
//!
//! | offset | size | header field |
//! |--------|------|--------------|
//! | 0 | 8 | magic `b"SHMRLOG\0"` |
//! | 8 | 4 | format version, [`LOG_VERSION`] (1) |
//! | 12 | 4 | header size, 64 |
//! | 16 | 8 | committed end: file offset just past the last committed record |
//! | 24 | 8 | records committed |
//! | 32 | 8 | writer generation: how many writers have attached, ever |
//! | 40 | 24 | reserved, zero |
//!
//! Each record starts on an 8-byte boundary: `len: u32`, `crc: u32` (CRC-32/IEEE of the
//! four length bytes followed by the payload), the payload, zero padding to 8 bytes.
//!
//! A writer, holding the lock, writes its record at the committed end, then (after
//! `fdatasync` when durable) advances the committed end in the header. A writer that dies
//! half-way leaves a torn record *past* the committed end: readers never look there, and the
//! next writer overwrites it. So a torn tail is never delivered and costs nothing.
//! Everything before the committed end is checked on reading (length bound, record inside the
//! committed range, checksum); garbage there is [`Error::Corrupt`], never a panic.
//!
//! # Example
//!
//! ```
//! use ipcring::file::{LogOptions, LogReader, LogWriter};
//! use ipcring::{Receiver, Sender};
//!
//! # fn main() -> ipcring::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("orders.log");
//! let opts = LogOptions::new();
//! let mut w = LogWriter::open(&path, &opts)?;   // any number of these, any processes
//! let mut r = LogReader::open(&path, &opts)?;   // each reader has its own offset
//! w.send(b"first")?;
//! w.send(b"second")?;
//! assert_eq!(r.recv()?, b"first");
//! assert_eq!(r.recv()?, b"second");
//! drop(w);
//! assert!(r.recv().unwrap_err().is_disconnected()); // all read, no writer left
//! # Ok(())
//! # }
//! ```

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::sys::flock::{self, Mode};
use crate::sys::notify::{Event, Watch};
use crate::sys::owner;
use crate::transport::{done_by_deadline, Deadline, Receiver, Sender};
use crate::{Error, Result};

pub mod mailbox;

// The async (tokio) form, beside the blocking one.
#[cfg(all(feature = "async", target_os = "linux"))]
mod tokio;
#[cfg(all(feature = "async", target_os = "linux"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "async", target_os = "linux"))))]
pub use self::tokio::{AsyncLogReader, AsyncLogWriter};

/// The log file's magic bytes.
pub const LOG_MAGIC: [u8; 8] = *b"SHMRLOG\0";
/// The log format version this module writes and reads.
pub const LOG_VERSION: u32 = 1;
/// Size of the log file's header.
pub const LOG_HEADER_LEN: u64 = 64;
/// Size of a record's header (`len`, `crc`).
pub const RECORD_HEADER_LEN: usize = 8;
/// Default largest message: 16 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

const OFF_END: u64 = 16;
/// Byte of the lock file on which live writers hold a shared record lock.
const LIVENESS_BYTE: u64 = 0;
/// Longest sleep of a waiting reader before it re-checks (covers a writer's death, which
/// no file event announces).
const WAIT_SLICE: Duration = Duration::from_millis(100);
const READ_CHUNK: usize = 64 * 1024;
const CURSOR_CHECK: u64 = 0x5348_4d52_4355_5253; // "SHMRCURS"

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`), table-driven.
pub(crate) fn crc32(mut crc: u32, data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    crc = !crc;
    for &b in data {
        crc = TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

fn record_crc(len: u32, payload: &[u8]) -> u32 {
    crc32(crc32(0, &len.to_le_bytes()), payload)
}

fn padded(n: u64) -> u64 {
    (n + 7) & !7
}

/// Where a reader without a saved cursor starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the first message ever written (the default).
    Beginning,
    /// After the last message committed when the reader opens.
    End,
}

/// Options for [`LogWriter`] and [`LogReader`].
///
/// ```
/// use ipcring::file::{LogOptions, Start};
/// let opts = LogOptions::new().durable(true).cursor("billing").start(Start::End);
/// assert!(opts.is_durable());
/// ```
#[derive(Debug, Clone)]
pub struct LogOptions {
    max_message: usize,
    durable: bool,
    mode: u32,
    cursor: Option<String>,
    start: Start,
    access: crate::Access,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions::new()
    }
}

impl LogOptions {
    /// 16 MiB messages, no fsync, files created with mode 0600, no cursor, start at the
    /// beginning.
    ///
    /// ```
    /// let opts = ipcring::file::LogOptions::new();
    /// assert!(!opts.is_durable());
    /// ```
    pub fn new() -> LogOptions {
        LogOptions {
            max_message: DEFAULT_MAX_MESSAGE,
            durable: false,
            mode: 0o600,
            cursor: None,
            start: Start::Beginning,
            access: crate::Access::new(),
        }
    }

    crate::builder::setters! {
        /// Largest message (writer) or largest record believed (reader), in bytes; at most
        /// `u32::MAX - 8`. A larger record in the file is [`Error::Corrupt`] at the reader.
        ///
        /// ```
        /// let opts = ipcring::file::LogOptions::new().max_message(4096);
        /// # let _ = opts;
        /// ```
        max_message(bytes: usize);

        /// Durable mode: the writer calls `fdatasync` after writing each record and after
        /// committing it, so a message whose `send` returned survives a power cut; a reader
        /// with a cursor syncs its cursor file too. Default: off (the OS writes back later;
        /// other processes see every committed message at once either way).
        ///
        /// ```
        /// let opts = ipcring::file::LogOptions::new().durable(true);
        /// assert!(opts.is_durable());
        /// ```
        durable(on: bool);

        /// Reader only: where to start when there is no saved cursor (default
        /// [`Start::Beginning`]).
        ///
        /// ```
        /// let opts = ipcring::file::LogOptions::new().start(ipcring::file::Start::End);
        /// # let _ = opts;
        /// ```
        start(start: Start);
    }

    /// True if [`durable`](LogOptions::durable) is on.
    ///
    /// ```
    /// assert!(!ipcring::file::LogOptions::new().is_durable());
    /// ```
    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// File mode for the log, lock and cursor files when this side creates them (default
    /// 0600), and the widest mode accepted when opening them: a file that grants more, or
    /// that another user owns (see [`LogOptions::allow_owner`]), is refused with
    /// [`Error::PermissionDenied`].
    ///
    /// ```
    /// let opts = ipcring::file::LogOptions::new().mode(0o640);
    /// # let _ = opts;
    /// ```
    pub fn mode(mut self, mode: u32) -> LogOptions {
        self.mode = mode & 0o777;
        self
    }

    crate::access::access_option_methods!(access);

    /// Reader only: persist this reader's offset in `<log>.cursor.<name>` after every
    /// message it delivers, and resume from it when opened again. `name` is made of ASCII
    /// letters, digits, `.`, `_` and `-`.
    ///
    /// ```
    /// let opts = ipcring::file::LogOptions::new().cursor("audit");
    /// # let _ = opts;
    /// ```
    pub fn cursor(mut self, name: impl Into<String>) -> LogOptions {
        self.cursor = Some(name.into());
        self
    }

    fn validate(&self) -> Result<()> {
        if self.max_message > u32::MAX as usize - RECORD_HEADER_LEN {
            return Err(Error::InvalidConfig(
                format!("max_message {} is above u32::MAX - 8", self.max_message).into(),
            ));
        }
        if let Some(name) = &self.cursor {
            let ok = !name.is_empty()
                && name.len() <= 100
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(Error::InvalidName {
                    name: name.clone(),
                    reason: "a cursor name is 1 to 100 ASCII letters, digits, '.', '_' or '-'"
                        .into(),
                });
            }
        }
        Ok(())
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn io_err(op: &str, path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{op} {}", path.display()), e)
}

/// Releases a `flock` when dropped, so every error path unlocks.
struct Locked<'a>(MutexGuard<'a, OwnedFd>);

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // An unlock failure cannot be acted on here; closing the fd would release it anyway.
        let _ = flock::unlock(&*self.0);
    }
}

/// Opens (creating with `mode` if missing) the lock file at `path`.
fn open_lock_fd(path: &Path, perm: &LockPerm) -> Result<OwnedFd> {
    // Refused if another user owns it or its mode is wider than ours: a stranger's lock
    // file could be held for ever.
    Ok(owner::open_file(path, perm.mode, &perm.access, perm.max_mode)?.into())
}

/// How a lock file is created and which owners and modes it accepts when opened (again).
#[derive(Debug, Clone)]
pub(crate) struct LockPerm {
    /// The mode a lock file this process creates gets.
    pub(crate) mode: u32,
    /// The widest mode accepted on a lock file that already exists.
    pub(crate) max_mode: u32,
    /// Owners trusted beside this user.
    pub(crate) access: crate::Access,
}

/// `<file>.lock`, the `flock` that serialises the users of a log or a mailbox.
///
/// The lock file may be removed, or removed and created again, while a process runs (a
/// cleanup, `rm shared.json*`, a restarted peer). A lock on the old, deleted inode then
/// excludes nobody who opens the path afresh. So after every `flock` this checks that the
/// descriptor is still the file at the path (a link left, same device and inode); if not,
/// it opens the path again and locks that, until the two agree. Python's `filelock` checks
/// the link count on each acquisition too, so the two keep excluding each other.
#[derive(Debug)]
pub(crate) struct LockFile {
    path: PathBuf,
    perm: LockPerm,
    fd: Mutex<OwnedFd>,
    /// Whether this handle holds the writers' liveness byte, re-taken on every re-open.
    live: bool,
    /// How many times the file was found replaced and opened again.
    reopened: AtomicU64,
}

impl LockFile {
    pub(crate) fn open(path: PathBuf, perm: LockPerm) -> Result<LockFile> {
        let fd = open_lock_fd(&path, &perm)?;
        Ok(LockFile {
            path,
            perm,
            fd: Mutex::new(fd),
            live: false,
            reopened: AtomicU64::new(0),
        })
    }

    fn fd(&self) -> MutexGuard<'_, OwnedFd> {
        self.fd.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the liveness byte (a shared record lock the kernel drops when this process
    /// dies) on the current file and on every file this handle opens from now on. `false` if
    /// a foreign process write-locked it.
    fn announce(&mut self) -> Result<bool> {
        self.live = true;
        flock::lock_byte_shared(&*self.fd(), LIVENESS_BYTE)
    }

    /// True if some live writer holds the liveness byte of the file this handle has open.
    fn byte_locked(&self) -> Result<bool> {
        crate::sys::byte_locked(&*self.fd(), LIVENESS_BYTE)
    }

    /// How many times the lock file was found replaced (a caller watching the path re-adds
    /// its watch when this changes).
    fn reopened(&self) -> u64 {
        self.reopened.load(Ordering::Relaxed)
    }

    /// Takes the lock, waiting as long as needed.
    fn lock(&self, mode: Mode) -> Result<Locked<'_>> {
        self.lock_until(mode, Deadline::forever())?
            .ok_or(Error::Timeout)
    }

    /// Takes the lock according to `deadline`; `None` if not granted in time. The lock
    /// returned is on the file at the path when it was granted.
    fn lock_until(&self, mode: Mode, deadline: Deadline) -> Result<Option<Locked<'_>>> {
        let mut fd = self.fd();
        loop {
            if !take_flock(&fd, mode, deadline)? {
                return Ok(None);
            }
            match crate::sys::still_at(&*fd, &self.path) {
                Ok(true) => return Ok(Some(Locked(fd))),
                Ok(false) => {}
                Err(e) => {
                    let _ = flock::unlock(&*fd);
                    return Err(e);
                }
            }
            // Replaced (or removed): drop the lock on the stale inode and lock the file that
            // is there now (creating it if it is gone).
            flock::unlock(&*fd)?;
            let new = open_lock_fd(&self.path, &self.perm)?;
            if self.live && !flock::lock_byte_shared(&new, LIVENESS_BYTE)? {
                return Err(Error::corrupt(
                    "the log's liveness byte is write-locked by a foreign process",
                ));
            }
            *fd = new;
            self.reopened.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One `flock` on `fd` according to `deadline` (flock has no timed form: a bounded wait
/// retries the non-blocking one with a short sleep).
fn take_flock(fd: &OwnedFd, mode: Mode, deadline: Deadline) -> Result<bool> {
    if deadline.is_forever() {
        return flock::flock(fd, mode, true);
    }
    let mut nap = Duration::from_micros(50);
    loop {
        if flock::flock(fd, mode, false)? {
            return Ok(true);
        }
        let Some(d) = deadline.slice(nap) else {
            return Ok(false);
        };
        std::thread::sleep(d);
        nap = (nap * 2).min(Duration::from_millis(5));
    }
}

/// The parsed header fields that change.
#[derive(Debug, Clone, Copy)]
struct HeaderState {
    end: u64,
    count: u64,
    generation: u64,
}

/// The log and lock files, opened (and the log initialised if new).
#[derive(Debug)]
struct LogFiles {
    path: PathBuf,
    log: File,
    lock: LockFile,
}

impl LogFiles {
    fn open(path: &Path, opts: &LogOptions) -> Result<LogFiles> {
        opts.validate()?;
        // Both refused if another user owns them or their mode is wider than ours: a
        // stranger's log could be read or forged, a stranger's lock held for ever.
        let lock = LockFile::open(
            with_suffix(path, ".lock"),
            LockPerm {
                mode: opts.mode,
                max_mode: opts.mode,
                access: opts.access,
            },
        )?;
        let log = owner::open_file(path, opts.mode, &opts.access, opts.mode)?;
        let files = LogFiles {
            path: path.to_path_buf(),
            log,
            lock,
        };
        {
            let _g = files.lock.lock(Mode::Exclusive)?;
            let len = files
                .log
                .metadata()
                .map_err(|e| io_err("stat", path, e))?
                .len();
            if len == 0 {
                let mut h = [0u8; LOG_HEADER_LEN as usize];
                h[0..8].copy_from_slice(&LOG_MAGIC);
                h[8..12].copy_from_slice(&LOG_VERSION.to_le_bytes());
                h[12..16].copy_from_slice(&(LOG_HEADER_LEN as u32).to_le_bytes());
                h[16..24].copy_from_slice(&LOG_HEADER_LEN.to_le_bytes());
                files
                    .log
                    .write_all_at(&h, 0)
                    .map_err(|e| io_err("write header", path, e))?;
                if opts.durable {
                    files.log.sync_all().map_err(|e| io_err("fsync", path, e))?;
                }
            }
            files.read_header()?;
        }
        Ok(files)
    }

    fn bad(&self, reason: impl Into<std::borrow::Cow<'static, str>>) -> Error {
        Error::BadSegment {
            path: self.path.display().to_string(),
            reason: reason.into(),
        }
    }

    /// Reads and checks the header. The caller holds the lock (shared or exclusive).
    fn read_header(&self) -> Result<HeaderState> {
        let mut h = [0u8; LOG_HEADER_LEN as usize];
        let n =
            read_full_at(&self.log, &mut h, 0).map_err(|e| io_err("read header", &self.path, e))?;
        if n < h.len() {
            return Err(self.bad(format!("truncated header ({n} of 64 bytes)")));
        }
        if h[0..8] != LOG_MAGIC {
            return Err(self.bad("not a ipcring log (bad magic)"));
        }
        let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let u64_at = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap_or([0; 8]));
        let (version, size) = (u32_at(8), u32_at(12));
        if version != LOG_VERSION {
            let e = format!("unsupported log version {version} (expected {LOG_VERSION})");
            return Err(self.bad(e));
        }
        if size as u64 != LOG_HEADER_LEN {
            return Err(self.bad(format!("header size {size} (expected 64)")));
        }
        let st = HeaderState {
            end: u64_at(16),
            count: u64_at(24),
            generation: u64_at(32),
        };
        if st.end < LOG_HEADER_LEN || st.end % 8 != 0 {
            let (path, end) = (self.path.display(), st.end);
            return Err(Error::corrupt(format!(
                "{path}: committed end {end} is impossible"
            )));
        }
        Ok(st)
    }

    fn write_state(&self, st: &HeaderState) -> Result<()> {
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&st.end.to_le_bytes());
        b[8..16].copy_from_slice(&st.count.to_le_bytes());
        b[16..24].copy_from_slice(&st.generation.to_le_bytes());
        self.log
            .write_all_at(&b, OFF_END)
            .map_err(|e| io_err("write header", &self.path, e))
    }
}

/// Reads as much of `buf` as the file has at `off` (short only at end of file).
fn read_full_at(f: &File, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Appends messages to a shared log. Any number of writers, in any processes.
///
/// ```
/// use ipcring::file::{LogOptions, LogWriter};
/// use ipcring::Sender;
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("events.log");
/// let mut w = LogWriter::open(&path, &LogOptions::new())?;
/// w.send(b"started")?;
/// # Ok::<(), ipcring::Error>(())
/// ```
#[derive(Debug)]
pub struct LogWriter {
    files: LogFiles,
    opts: LogOptions,
    scratch: Vec<u8>,
}

impl LogWriter {
    /// Opens the log at `path` for appending, creating it (and `<path>.lock`) if missing.
    /// A file that is not a log is [`Error::BadSegment`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let w = ipcring::file::LogWriter::open(dir.path().join("x.log"), &Default::default())?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, opts: &LogOptions) -> Result<LogWriter> {
        let mut files = LogFiles::open(path.as_ref(), opts)?;
        // Announce a live writer: a shared record lock that the kernel drops when this
        // process dies, whatever the way, on the log itself (which a replaced lock file does
        // not affect) and on the lock file (where earlier versions of this crate look).
        // Readers test it to tell "no writer left".
        if !flock::lock_byte_shared(&files.log, LIVENESS_BYTE)? || !files.lock.announce()? {
            return Err(Error::corrupt(
                "the log's liveness byte is write-locked by a foreign process",
            ));
        }
        {
            let _g = files.lock.lock(Mode::Exclusive)?;
            let mut st = files.read_header()?;
            st.generation = st.generation.wrapping_add(1);
            files.write_state(&st)?;
        }
        Ok(LogWriter {
            files,
            opts: opts.clone(),
            scratch: Vec::new(),
        })
    }

    /// The log's path.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let p = dir.path().join("x.log");
    /// let w = ipcring::file::LogWriter::open(&p, &Default::default())?;
    /// assert_eq!(w.path(), p);
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.files.path
    }

    fn append(&mut self, msg: &[u8], deadline: Deadline) -> Result<bool> {
        Error::check_len(msg.len(), self.opts.max_message)?;
        let len = msg.len() as u32;
        let rec_len = padded(RECORD_HEADER_LEN as u64 + msg.len() as u64) as usize;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(&len.to_le_bytes());
        scratch.extend_from_slice(&record_crc(len, msg).to_le_bytes());
        scratch.extend_from_slice(msg);
        scratch.resize(rec_len, 0);
        let r = self.commit(&scratch, deadline);
        self.scratch = scratch;
        r
    }

    fn commit(&self, record: &[u8], deadline: Deadline) -> Result<bool> {
        let Some(_g) = self.files.lock.lock_until(Mode::Exclusive, deadline)? else {
            return Ok(false);
        };
        let f = &self.files;
        let mut st = f.read_header()?;
        // Whatever lies past the committed end is a torn record of a writer that died: it is
        // overwritten here.
        f.log
            .write_all_at(record, st.end)
            .map_err(|e| io_err("write record", &f.path, e))?;
        if self.opts.durable {
            f.log
                .sync_data()
                .map_err(|e| io_err("fdatasync", &f.path, e))?;
        }
        st.end += record.len() as u64;
        st.count += 1;
        f.write_state(&st)?;
        if self.opts.durable {
            f.log
                .sync_data()
                .map_err(|e| io_err("fdatasync", &f.path, e))?;
        }
        Ok(true)
    }
}

impl Sender for LogWriter {
    /// `Error::Timeout` (`TrySendError::Full` from `try_send`) when another writer holds
    /// the lock until the deadline.
    fn send_deadline(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        done_by_deadline(self.append(msg, deadline)?)
    }

    fn max_message(&self) -> usize {
        self.opts.max_message
    }
}

/// Reads a shared log from its own offset.
///
/// ```
/// use ipcring::file::{LogOptions, LogReader, LogWriter};
/// use ipcring::{Receiver, Sender};
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("events.log");
/// let mut r = LogReader::open(&path, &LogOptions::new().cursor("me"))?;
/// LogWriter::open(&path, &LogOptions::new())?.send(b"hi")?;
/// assert_eq!(r.recv()?, b"hi");
/// drop(r);
/// // Reopened with the same cursor: resumes after "hi".
/// let mut r = LogReader::open(&path, &LogOptions::new().cursor("me"))?;
/// assert!(r.recv().unwrap_err().is_disconnected());
/// # Ok::<(), ipcring::Error>(())
/// ```
#[derive(Debug)]
pub struct LogReader {
    files: LogFiles,
    opts: LogOptions,
    /// File offset of the next record to deliver.
    offset: u64,
    /// The committed end last read from the header.
    known_end: u64,
    cursor: Option<(PathBuf, File)>,
    /// Bytes of the log starting at file offset `buf_start`.
    rbuf: Vec<u8>,
    buf_start: u64,
    buf_len: usize,
    watch: Option<Watch>,
    /// [`LockFile::reopened`] when the watch on the lock file was last set.
    lock_watched: u64,
}

impl LogReader {
    /// Opens the log at `path` for reading, creating it if missing (so a reader may start
    /// before any writer). Starts at the saved cursor if [`LogOptions::cursor`] names one that
    /// exists, else where [`LogOptions::start`] says.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let r = ipcring::file::LogReader::open(dir.path().join("x.log"), &Default::default())?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, opts: &LogOptions) -> Result<LogReader> {
        let files = LogFiles::open(path.as_ref(), opts)?;
        let st = {
            let _g = files.lock.lock(Mode::Shared)?;
            files.read_header()?
        };
        let mut offset = match opts.start {
            Start::Beginning => LOG_HEADER_LEN,
            Start::End => st.end,
        };
        let cursor = match &opts.cursor {
            None => None,
            Some(name) => {
                let cpath = with_suffix(path.as_ref(), &format!(".cursor.{name}"));
                let f = owner::open_file(&cpath, opts.mode, &opts.access, opts.mode)?;
                let mut b = [0u8; 16];
                let n = read_full_at(&f, &mut b, 0).map_err(|e| io_err("read", &cpath, e))?;
                let shown = cpath.display();
                if n == 16 {
                    let off = u64::from_le_bytes(b[0..8].try_into().unwrap_or([0; 8]));
                    let check = u64::from_le_bytes(b[8..16].try_into().unwrap_or([0; 8]));
                    if check != off ^ CURSOR_CHECK
                        || off < LOG_HEADER_LEN
                        || off % 8 != 0
                        || off > st.end
                    {
                        return Err(Error::corrupt(format!(
                            "{shown}: saved offset {off} is not a record boundary of this log"
                        )));
                    }
                    offset = off;
                } else if n != 0 {
                    return Err(Error::corrupt(format!(
                        "{shown}: truncated cursor file ({n} bytes)"
                    )));
                }
                Some((cpath, f))
            }
        };
        let mut watch = Watch::new()?;
        watch.add(&files.path, Event::Modify)?;
        // A writer's exit closes its lock fd, which wakes a caught-up reader at once.
        watch.add(&files.lock.path, Event::Modify)?;
        Ok(LogReader {
            files,
            opts: opts.clone(),
            offset,
            known_end: st.end,
            cursor,
            rbuf: Vec::new(),
            buf_start: 0,
            buf_len: 0,
            watch: Some(watch),
            lock_watched: 0,
        })
    }

    /// File offset of the next message this reader will deliver.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let r = ipcring::file::LogReader::open(dir.path().join("x.log"), &Default::default())?;
    /// assert_eq!(r.offset(), ipcring::file::LOG_HEADER_LEN);
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn corrupt(&self, what: String) -> Error {
        let (path, offset) = (self.files.path.display(), self.offset);
        Error::corrupt(format!("{path} at offset {offset}: {what}"))
    }

    /// Makes `rbuf` hold the log's bytes `[offset, offset + n)`; `offset + n <= known_end`.
    fn ensure(&mut self, n: usize) -> Result<()> {
        let have = if self.buf_start <= self.offset
            && self.offset < self.buf_start + self.buf_len as u64
        {
            (self.buf_start + self.buf_len as u64 - self.offset) as usize
        } else {
            0
        };
        if have >= n {
            return Ok(());
        }
        let want = (n.max(READ_CHUNK) as u64).min(self.known_end - self.offset) as usize;
        if self.rbuf.len() < want {
            self.rbuf.resize(want, 0);
        }
        let got = read_full_at(&self.files.log, &mut self.rbuf[..want], self.offset)
            .map_err(|e| io_err("read", &self.files.path, e))?;
        self.buf_start = self.offset;
        self.buf_len = got;
        if got < n {
            return Err(self.corrupt(format!(
                "the file ends before its committed end {}",
                self.known_end
            )));
        }
        Ok(())
    }

    /// Delivers the next committed record, if the reader has not reached `known_end`.
    fn take(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        if self.offset >= self.known_end {
            return Ok(false);
        }
        if self.known_end - self.offset < RECORD_HEADER_LEN as u64 {
            return Err(self.corrupt("a record header runs past the committed end".into()));
        }
        self.ensure(RECORD_HEADER_LEN)?;
        let at = (self.offset - self.buf_start) as usize;
        let h = &self.rbuf[at..at + RECORD_HEADER_LEN];
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        if len as usize > self.opts.max_message {
            return Err(self.corrupt(format!(
                "record of {len} bytes exceeds the limit of {}",
                self.opts.max_message
            )));
        }
        let rec_len = padded(RECORD_HEADER_LEN as u64 + len as u64);
        if rec_len > self.known_end - self.offset {
            return Err(self.corrupt(format!("record of {len} bytes runs past the committed end")));
        }
        self.ensure(rec_len as usize)?;
        let at = (self.offset - self.buf_start) as usize;
        let payload = &self.rbuf[at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + len as usize];
        if record_crc(len, payload) != crc {
            return Err(self.corrupt("checksum mismatch".into()));
        }
        out.extend_from_slice(payload);
        self.offset += rec_len;
        if let Some((cpath, f)) = &self.cursor {
            let mut b = [0u8; 16];
            b[0..8].copy_from_slice(&self.offset.to_le_bytes());
            b[8..16].copy_from_slice(&(self.offset ^ CURSOR_CHECK).to_le_bytes());
            f.write_all_at(&b, 0)
                .map_err(|e| io_err("write", cpath, e))?;
            if self.opts.durable {
                f.sync_data().map_err(|e| io_err("fdatasync", cpath, e))?;
            }
        }
        Ok(true)
    }

    fn refresh(&mut self) -> Result<HeaderState> {
        let st = {
            let _g = self.files.lock.lock(Mode::Shared)?;
            self.files.read_header()?
        };
        if st.end < self.known_end {
            let (was, end) = (self.known_end, st.end);
            let e = format!("the committed end went back from {was} to {end}");
            return Err(self.corrupt(e));
        }
        self.known_end = st.end;
        Ok(st)
    }

    /// True if some writer holds the liveness byte: on the log (this version's writers) or
    /// on the lock file (earlier versions').
    fn writer_alive(&self) -> Result<bool> {
        Ok(crate::sys::byte_locked(&self.files.log, LIVENESS_BYTE)?
            || self.files.lock.byte_locked()?)
    }

    fn recv_until(&mut self, out: &mut Vec<u8>, deadline: Deadline) -> Result<bool> {
        out.clear();
        loop {
            if self.take(out)? {
                return Ok(true);
            }
            let st = self.refresh()?;
            if self.offset < self.known_end {
                continue;
            }
            // Caught up. No writer alive (and one ever was)? Then nothing more can come;
            // re-read the end after the check, since a writer commits before it goes.
            if st.generation > 0 && !self.writer_alive()? {
                self.refresh()?;
                if self.offset < self.known_end {
                    continue;
                }
                return Err(Error::Disconnected);
            }
            let Some(slice) = deadline.slice(WAIT_SLICE) else {
                return Ok(false);
            };
            if let Some(w) = self.watch.as_mut() {
                // The lock file was replaced: watch the new one (a writer's exit closes it).
                let reopened = self.files.lock.reopened();
                if reopened != self.lock_watched {
                    self.lock_watched = reopened;
                    w.add(&self.files.lock.path, Event::Modify)?;
                }
                w.wait(slice)?;
            }
        }
    }
}

impl Receiver for LogReader {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        done_by_deadline(self.recv_until(buf, deadline)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(crc32(0, b"1234"), b"56789"), 0xCBF4_3926);
    }

    #[test]
    fn round_trip_try_timeout_and_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let mut r = LogReader::open(&path, &LogOptions::new()).unwrap();
        let mut buf = Vec::new();
        // No writer ever: waiting, not disconnected.
        assert!(r.try_recv_into(&mut buf).unwrap_err().is_empty());
        let short = Duration::from_millis(10);
        assert!(r.recv_timeout(short).unwrap_err().is_timeout());
        let mut w = LogWriter::open(&path, &LogOptions::new().max_message(10)).unwrap();
        assert!(matches!(
            w.send(&[0; 11]),
            Err(Error::MessageTooLarge { len: 11, max: 10 })
        ));
        w.try_send(b"").unwrap();
        w.send_timeout(b"0123456789", short).unwrap();
        assert_eq!(r.recv().unwrap(), b"");
        assert_eq!(r.recv().unwrap(), b"0123456789");
        assert!(r.try_recv_into(&mut buf).unwrap_err().is_empty());
        drop(w);
        assert!(r.recv().unwrap_err().is_disconnected());
        assert!(r.try_recv_into(&mut buf).unwrap_err().is_disconnected());
    }

    #[test]
    fn not_a_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        std::fs::write(
            &path,
            b"hello, this is a text file and not a log at all, really, no",
        )
        .unwrap();
        // Mode 0644 (from the umask) is wider than the 0600 asked for: refused as such.
        let r = LogReader::open(&path, &LogOptions::new());
        assert!(matches!(r, Err(Error::PermissionDenied { .. })), "{r:?}");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let r = LogReader::open(&path, &LogOptions::new());
        assert!(matches!(r, Err(Error::BadSegment { .. })), "{r:?}");
        std::fs::write(&path, b"short").unwrap();
        let r = LogWriter::open(&path, &LogOptions::new());
        assert!(matches!(r, Err(Error::BadSegment { .. })), "{r:?}");
    }
}
