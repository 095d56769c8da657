//! Named shared-memory segments: the creation/open protocol, validation of the common
//! header, role locks and liveness. The SPSC ring, the seqlock cell and the broadcast ring
//! all live in segments.
//!
//! # Creation protocol
//! 1. `O_CREAT|O_EXCL`, mode 0200 (write-only): nobody else can open it for reading yet.
//! 2. The creator locks its role byte, sizes the file, maps it, writes the header and the
//!    kind's own fields, and `fchmod`s it to the requested mode (0600 by default).
//! 3. It stores `state = READY` **last**, with Release: an opener that sees READY also
//!    sees the final mode.
//!
//! # Opening
//! An opener refuses at once (with [`Error::PermissionDenied`]) a segment whose owner it
//! does not trust (by default anyone but its own effective uid: see
//! [`Access`]), whose mode is wider than its own `mode`, or that the system
//! will not let it open, checking the `fstat` of the descriptor it opened, before reading a
//! byte. It retries (until its deadline) while the name is missing, still being created by
//! a trusted user (mode 0200), smaller than a header, or not yet `READY`. It maps the
//! common header alone, validates it against the file's real size, and only then maps the
//! whole file and validates the kind's fields: a truncated file would raise SIGBUS, a
//! lying header would send it out of bounds.
//!
//! # Roles and liveness
//! Each role (producer, consumer, writer, publisher) is an exclusive record lock on one
//! byte of the file, held for as long as the handle lives (an open-file-description lock on
//! Linux). The kernel releases it when the process dies, however it dies, so "is the peer
//! alive" is one `fcntl(F_OFD_GETLK)` with no pid-reuse race. A segment none of whose role
//! bytes is locked is *stale*.

use std::os::fd::{AsFd, OwnedFd};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::access::Access;
use crate::deadline::Deadline;
use crate::kinds::{self, Kind, Role};
use crate::sys::owner::{self, FileType};
use crate::sys::{self, Location, Mapping};
use crate::wake::WaitStrategy;
use crate::{Error, Result};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// `b"SHMRING\0"` as a little-endian u64: the first 8 bytes of every segment.
pub const MAGIC: u64 = u64::from_le_bytes(*b"SHMRING\0");
/// Layout version written by this crate. Openers refuse any other.
pub const LAYOUT_VERSION: u32 = 2;
/// `state` value of a fully initialised segment ("RDY!" little-endian).
pub const STATE_READY: u32 = 0x2159_4452;
/// Size of the common header.
pub const COMMON_HEADER_SIZE: usize = 128;
/// Role bytes used for record locks (the lock ranges do not touch the mapped data).
pub const ROLE_BYTES: u64 = kinds::FIXED_ROLE_BYTES;

/// The first 128 bytes of every segment.
#[repr(C)]
#[derive(Debug)]
pub struct SegmentHeader {
    /// [`MAGIC`].
    pub magic: AtomicU64,
    /// [`LAYOUT_VERSION`].
    pub version: AtomicU32,
    /// Size of the kind's whole header (where its data area starts).
    pub header_size: AtomicU32,
    /// What lives here: 1 = SPSC ring, 2 = seqlock cell, 3 = broadcast ring.
    pub kind: AtomicU32,
    /// 0 while the creator initialises; [`STATE_READY`] once published.
    pub state: AtomicU32,
    /// Pid of the creating process (informational: liveness uses locks, not pids).
    pub creator_pid: AtomicU32,
    /// Reserved flags, 0.
    pub flags: AtomicU32,
    /// Random value chosen at creation: tells two segments of the same name apart.
    pub nonce: AtomicU64,
    /// Size of the whole segment in bytes (header + data).
    pub total_size: AtomicU64,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_ns: AtomicU64,
}

crate::kinds::shared_layout! {
    // SAFETY: repr(C) of atomics only: every bit pattern is valid, no pointers, and it
    // changes only through atomic operations.
    unsafe SegmentHeader {
        magic: 0, version: 8, header_size: 12, kind: 16, state: 20, creator_pid: 24,
        flags: 28, nonce: 32, total_size: 40, created_ns: 48,
    } size 56;
}
const _: () = assert!(std::mem::size_of::<SegmentHeader>() <= COMMON_HEADER_SIZE);

/// Human name of a segment kind: the header's `kind` number as `ipcring ls` shows it
/// ("ring", "seqlock", "broadcast", "service", "service channel"; "unknown" for a number
/// this crate does not use).
///
/// ```
/// assert_eq!(ipcring::segment::kind_name(1), "ring");
/// assert_eq!(ipcring::segment::kind_name(99), "unknown");
/// ```
pub fn kind_name(kind: u32) -> &'static str {
    kinds::by_id(kind).map_or("unknown", |k| k.name)
}

/// The settings every named segment type (ring, seqlock, broadcast) takes beside its own:
/// held once in each options type, set through the builder methods that
/// [`segment_option_methods!`] writes into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentOptions {
    pub mode: u32,
    pub keep: bool,
    pub reclaim_stale: bool,
    pub wait: WaitStrategy,
    pub open_timeout: Duration,
    pub access: Access,
    /// Fault the mapping in when attaching; `None`: if it is at most
    /// [`PREFAULT_DEFAULT_MAX`] bytes.
    pub prefault: Option<bool>,
}

/// The largest segment that is faulted in when a handle attaches unless its options say
/// otherwise (`prefault`): 64 MiB. Larger ones (a deep ring kept as a buffer, rarely
/// filled) take their memory as it is used.
pub const PREFAULT_DEFAULT_MAX: u64 = 64 << 20;

impl Default for SegmentOptions {
    fn default() -> Self {
        SegmentOptions {
            mode: 0o600,
            keep: false,
            reclaim_stale: false,
            wait: WaitStrategy::default(),
            open_timeout: Duration::from_secs(5),
            access: Access::new(),
            prefault: None,
        }
    }
}

impl SegmentOptions {
    /// How to create a segment of `kind` with these settings.
    pub(crate) fn create_spec(&self, kind: &Kind, header_size: u32, total_size: u64) -> CreateSpec {
        CreateSpec {
            kind: kind.id,
            header_size,
            total_size,
            mode: self.mode,
            reclaim_stale: self.reclaim_stale,
            access: self.access,
        }
    }

    /// Who an opened segment may belong to, and the widest mode accepted (this side's
    /// own `mode`).
    pub(crate) fn trust(&self) -> Trust {
        Trust {
            access: self.access,
            max_mode: self.mode,
        }
    }

    /// Creates a segment of `kind` with these settings ([`Segment::create`]), its header
    /// `header_size` bytes of `total_size`, locked for `role`, `init` writing its geometry
    /// into the zeroed mapping; it keeps its name on drop if these settings say so.
    pub(crate) fn create(
        &self,
        name: &str,
        kind: &Kind,
        header_size: usize,
        total_size: u64,
        role: Role,
        init: impl FnOnce(&Mapping),
    ) -> Result<Segment> {
        let spec = self.create_spec(kind, header_size as u32, total_size);
        let mut seg = Segment::create(name, &spec, Some(role), init)?;
        seg.set_keep(self.keep);
        self.prefault(&seg)?;
        Ok(seg)
    }

    /// Faults `seg`'s whole mapping in if these settings ask for it (see the builders'
    /// `prefault`). On an error the caller drops `seg` as any segment that failed to
    /// attach (a creator's drop removes the name).
    pub(crate) fn prefault(&self, seg: &Segment) -> Result<()> {
        let len = seg.mapping().len();
        if !self.prefault.unwrap_or(len as u64 <= PREFAULT_DEFAULT_MAX) {
            return Ok(());
        }
        seg.mapping().prefault().or_else(|e| {
            // A file cut short since it was checked is that, not a lack of memory.
            let size = seg.file_size()?;
            if size != len as u64 {
                return Err(bad(&seg.name())(format!(
                    "the file was resized from {len} to {size} bytes while attaching"
                )));
            }
            Err(e)
        })
    }

    /// Opens a segment of `kind` for writing with these settings ([`Segment::open`]):
    /// waiting up to the open timeout, trusting what they trust, locking `role` if given,
    /// `validate` checking the kind's header.
    pub(crate) fn open(
        &self,
        name: &str,
        kind: &Kind,
        role: Option<Role>,
        validate: impl Fn(&Mapping, &str) -> Result<()>,
    ) -> Result<Segment> {
        let deadline = Deadline::after(self.open_timeout);
        let seg = Segment::open(name, kind, deadline, true, &self.trust(), role, validate)?;
        self.prefault(&seg)?;
        Ok(seg)
    }
}

/// The builder methods of the [`SegmentOptions`] settings, for an options type with a
/// `seg: SegmentOptions` field. `$wait_doc` says what waits with the strategy.
macro_rules! segment_option_methods {
    ($wait_doc:literal) => {
        /// File mode of a created segment (default 0600), and the widest mode `open`
        /// accepts: a segment whose mode grants anything beyond it (0666 to a caller that
        /// asked for 0600) is refused with
        /// [`Error::PermissionDenied`](crate::Error::PermissionDenied).
        pub fn mode(mut self, mode: u32) -> Self {
            self.seg.mode = mode;
            self
        }

        /// Keep the name when the creating handle drops (default: unlink it).
        pub fn keep(mut self, keep: bool) -> Self {
            self.seg.keep = keep;
            self
        }

        /// When creating over a leftover segment that no live process uses, remove it and
        /// create anew (default: `AlreadyExists`).
        pub fn reclaim_stale(mut self, yes: bool) -> Self {
            self.seg.reclaim_stale = yes;
            self
        }

        #[doc = $wait_doc]
        pub fn wait(mut self, strategy: $crate::wake::WaitStrategy) -> Self {
            self.seg.wait = strategy;
            self
        }

        /// How long `open` waits for the segment to appear and be ready (default 5 s).
        pub fn open_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.seg.open_timeout = timeout;
            self
        }

        /// Fault the whole segment in when this handle attaches (default: yes for segments
        /// up to [`PREFAULT_DEFAULT_MAX`](crate::segment::PREFAULT_DEFAULT_MAX), 64 MiB,
        /// no above). Each side then takes its page faults at `create`/`open`, not on
        /// first use, where each costs a message stream its pace and a round trip its
        /// latency (counted between two processes: a fresh 1 MiB ring's first lap cost its
        /// producer 256 page faults and its consumer 16; prefaulted, none). The memory is
        /// also reserved then: on a `/dev/shm` too full for the segment, `create` or `open`
        /// fails with [`Error::SystemLimit`](crate::Error::SystemLimit) instead of a later
        /// write raising SIGBUS. Turn it off for a large segment that is rarely filled,
        /// whose memory should be taken only as it is used. Linux 5.14 and later
        /// (`MADV_POPULATE_WRITE`); elsewhere it does nothing.
        ///
        /// ```
        /// use ipcring::ring::RingOptions;
        /// // A 1 GiB ring kept as a deep buffer: take pages as they are used.
        /// let opts = RingOptions::new().capacity(1 << 30).prefault(false);
        /// # let _ = opts;
        /// ```
        pub fn prefault(mut self, yes: bool) -> Self {
            self.seg.prefault = Some(yes);
            self
        }

        $crate::access::access_option_methods!(seg.access);
    };
}
pub(crate) use segment_option_methods;

/// Counts one more attach of a single-holder role (a producer, a writer, a publisher) in
/// the attach counter of its kind's geometry, after the handle took the role's lock.
pub(crate) fn count_attach(counter: &AtomicU32) {
    // SYNC: Release, so a peer that loads the count with Acquire and sees it non-zero also
    // sees our lock taken (its `peer_gone` check reads a free role as gone only then).
    counter.fetch_add(1, Ordering::Release);
}

/// Who an opened segment may belong to and how wide its mode may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trust {
    pub access: Access,
    pub max_mode: u32,
}

impl Trust {
    /// Owner check only (any mode): for reading a segment's header (`inspect`, `rm`).
    pub(crate) fn owner_only(access: Access) -> Trust {
        Trust {
            access,
            max_mode: 0o777,
        }
    }
}

/// How to create a segment.
#[derive(Debug, Clone)]
pub(crate) struct CreateSpec {
    pub kind: u32,
    pub header_size: u32,
    pub total_size: u64,
    pub mode: u32,
    pub reclaim_stale: bool,
    pub access: Access,
}

/// An attached segment: the open file, its mapping, the role lock this handle holds.
#[derive(Debug)]
pub(crate) struct Segment {
    loc: Location,
    fd: OwnedFd,
    map: Mapping,
    creator: bool,
    keep: bool,
    /// Whether a peer's death was logged already (feature `tracing`: once per handle).
    #[cfg(feature = "tracing")]
    peer_gone_logged: std::sync::atomic::AtomicBool,
}

impl Segment {
    /// A handle on the segment mapped as `map`; a `creator` removes the name on drop
    /// unless kept, an opener keeps it.
    fn new(loc: Location, fd: OwnedFd, map: Mapping, creator: bool) -> Segment {
        Segment {
            loc,
            fd,
            map,
            creator,
            keep: !creator,
            #[cfg(feature = "tracing")]
            peer_gone_logged: Default::default(),
        }
    }

    /// Creates a new segment per `spec`, locks `role` on it, runs `init` on the zeroed
    /// mapping, then publishes it as ready.
    pub(crate) fn create(
        name: &str,
        spec: &CreateSpec,
        role: Option<Role>,
        init: impl FnOnce(&Mapping),
    ) -> Result<Segment> {
        let loc = Location::parse(name)?;
        if spec.total_size < spec.header_size as u64
            || (spec.header_size as usize) < COMMON_HEADER_SIZE
        {
            return Err(Error::InvalidConfig(
                "segment smaller than its header".into(),
            ));
        }
        let total = usize::try_from(spec.total_size)
            .map_err(|_| Error::InvalidConfig("segment too large for this platform".into()))?;
        let mut fd = loc.create_excl(0o200)?;
        if fd.is_none()
            && spec.reclaim_stale
            && Self::reclaim_if_stale(&loc, &Trust::owner_only(spec.access))?
        {
            fd = loc.create_excl(0o200)?;
        }
        let fd = fd.ok_or_else(|| Error::AlreadyExists(loc.display()))?;
        let made = (|| {
            if let Some(r) = role {
                if !sys::try_lock_byte(&fd, r.byte)? {
                    return Err(Error::RoleTaken {
                        role: "creator",
                        name: loc.display(),
                    });
                }
            }
            sys::ftruncate(&fd, spec.total_size)?;
            let map = Mapping::map(&fd, total, true)?;
            let hdr = header_of(&map);
            hdr.magic.store(MAGIC, Ordering::Relaxed);
            hdr.version.store(LAYOUT_VERSION, Ordering::Relaxed);
            hdr.header_size.store(spec.header_size, Ordering::Relaxed);
            hdr.kind.store(spec.kind, Ordering::Relaxed);
            hdr.creator_pid.store(std::process::id(), Ordering::Relaxed);
            hdr.flags.store(0, Ordering::Relaxed);
            hdr.nonce.store(sys::random_u64(), Ordering::Relaxed);
            hdr.total_size.store(spec.total_size, Ordering::Relaxed);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            hdr.created_ns.store(now, Ordering::Relaxed);
            init(&map);
            // The final mode before READY, so that an opener that sees READY also sees the
            // mode it checks (it refuses a mode wider than its own).
            sys::fchmod(&fd, spec.mode)?;
            Ok(map)
        })();
        // A failure removes what we created.
        let map = made.inspect_err(|_| drop(loc.unlink()))?;
        // SYNC: publishes every header and kind field written above to openers, which
        // load `state` with Acquire before reading them.
        header_of(&map).state.store(STATE_READY, Ordering::Release);
        crate::log::log_event!(
            info,
            name = %loc.display(),
            kind = kind_name(spec.kind),
            bytes = spec.total_size,
            mode = format_args!("{:o}", spec.mode),
            "segment created"
        );
        Ok(Segment::new(loc, fd, map, true))
    }

    /// Opens an existing segment of `kind`, waiting until `deadline` for it to appear and
    /// become ready, checking its owner and mode against `trust`, validating the common
    /// header, then `validate` for the kind's fields, then locking `role` (if any). `write`
    /// maps it writable.
    ///
    /// Order (docs/LAYOUT.md, "Opening"): open; `fstat` the descriptor and refuse an owner
    /// `trust` does not accept (at once, before reading a byte); map the common header
    /// alone and wait for READY; `fstat` again and check the mode and that the file's size
    /// equals the header's `total_size`; only then map the whole file and validate the
    /// kind's fields. Nothing past the header is mapped before the file is known to be as
    /// large as the header says.
    pub(crate) fn open(
        name: &str,
        kind: &Kind,
        deadline: Deadline,
        write: bool,
        trust: &Trust,
        role: Option<Role>,
        validate: impl Fn(&Mapping, &str) -> Result<()>,
    ) -> Result<Segment> {
        let loc = Location::parse(name)?;
        let shown = loc.display();
        let mut pause = Duration::from_micros(100);
        loop {
            let retry_reason: String;
            match loc.open_existing(write, &trust.access)? {
                None => retry_reason = "does not exist (or is not yet accessible)".into(),
                Some(fd) => match Self::attach_ready(&loc, fd, kind.id, write, trust)? {
                    Ready::Yes(fd, map) => {
                        validate(&map, &shown)?;
                        if let Some(r) = role {
                            if !sys::try_lock_byte(&fd, r.byte)? {
                                return Err(Error::RoleTaken {
                                    role: r.name,
                                    name: shown,
                                });
                            }
                        }
                        return Ok(Segment::new(loc, fd, map, false));
                    }
                    Ready::NotYet(why) => retry_reason = why,
                },
            }
            let Some(nap) = deadline.slice(pause) else {
                return Err(if retry_reason.starts_with("does not exist") {
                    Error::NotFound(shown)
                } else {
                    Error::BadSegment {
                        path: shown,
                        reason: retry_reason.into(),
                    }
                });
            };
            thread::sleep(nap);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// One attempt of [`Segment::open`] on an opened descriptor: the owner check, the
    /// header alone, READY, the size and mode, then the whole mapping.
    fn attach_ready(
        loc: &Location,
        fd: OwnedFd,
        kind: u32,
        write: bool,
        trust: &Trust,
    ) -> Result<Ready> {
        let shown = loc.display();
        // The owner first, on the descriptor (not the path): nothing of another user's
        // object is read. The mode is checked once READY (the creator sets it before).
        let st = owner::check_fd(&fd, &shown, FileType::Regular, &trust.access, 0o7777)?;
        let Some(hdr_map) = map_header(&fd, st.size, write)? else {
            return Ok(Ready::NotYet(format!(
                "truncated: {} bytes, smaller than the {COMMON_HEADER_SIZE}-byte header",
                st.size
            )));
        };
        let hdr = header_of(&hdr_map);
        let magic = hdr.magic.load(Ordering::Relaxed);
        if magic != MAGIC && magic != 0 {
            return Err(Error::BadSegment {
                path: shown,
                reason: format!(
                    "wrong magic {magic:#018x} (expected {MAGIC:#018x}: \"SHMRING\\0\")"
                )
                .into(),
            });
        }
        // SYNC: pairs with the creator's Release store of READY: every header field is
        // visible after this load.
        let state = hdr.state.load(Ordering::Acquire);
        if magic != MAGIC || state != STATE_READY {
            return Ok(Ready::NotYet(if magic == 0 {
                "never initialised (empty header; its creator may have died while creating it)"
                    .into()
            } else {
                format!("never became ready (state {state:#x})")
            }));
        }
        let st = owner::check_fd(
            &fd,
            &shown,
            FileType::Regular,
            &trust.access,
            trust.max_mode,
        )?;
        validate_common(&hdr_map, st.size, kind, &shown)?;
        drop(hdr_map);
        let map = map_whole(&fd, st.size, write, &shown)?;
        Ok(Ready::Yes(fd, map))
    }

    /// Removes a leftover segment with no live role. `Ok(true)` if it was removed (or is
    /// gone). A segment `trust` does not accept is never removed: [`Error::PermissionDenied`].
    pub(crate) fn reclaim_if_stale(loc: &Location, trust: &Trust) -> Result<bool> {
        let Some(fd) = loc.open_existing(false, &trust.access)? else {
            // Gone (or still being created by a trusted user): let the caller retry.
            return Ok(true);
        };
        owner::check_fd(
            &fd,
            &loc.display(),
            FileType::Regular,
            &trust.access,
            0o7777,
        )?;
        for b in 0..ROLE_BYTES {
            if sys::byte_locked(&fd, b)? {
                return Ok(false);
            }
        }
        loc.unlink()?;
        crate::log::log_event!(
            warn,
            name = %loc.display(),
            "reclaimed a stale segment (no live role held it)"
        );
        Ok(true)
    }

    /// The common header.
    #[allow(dead_code)] // for the segment kinds that read it after attaching
    pub(crate) fn header(&self) -> &SegmentHeader {
        header_of(&self.map)
    }

    /// The mapping.
    pub(crate) fn mapping(&self) -> &Mapping {
        &self.map
    }

    /// True if another handle (in any process) holds `role`.
    pub(crate) fn role_held_by_other(&self, role: Role) -> Result<bool> {
        sys::byte_locked(&self.fd, role.byte)
    }

    /// True if a peer that had attached (`attached`) no longer holds `role`: it detached
    /// or died. The first time this handle sees it, the death is logged
    /// (feature `tracing`); called from the checks at wait-slice ends only.
    pub(crate) fn peer_gone(&self, attached: bool, role: Role) -> Result<bool> {
        if !attached {
            return Ok(false);
        }
        let gone = !self.role_held_by_other(role)?;
        #[cfg(feature = "tracing")]
        if gone && !self.peer_gone_logged.swap(true, Ordering::Relaxed) {
            crate::log::log_event!(
                warn,
                name = %self.loc.display(),
                role = role.name,
                "peer gone: it released its role (exited, or was killed)"
            );
        }
        #[cfg(not(feature = "tracing"))]
        let _ = role;
        Ok(gone)
    }

    /// The name as the user gave it.
    pub(crate) fn name(&self) -> String {
        self.loc.display()
    }

    /// Keep the name when this (creating) handle drops.
    pub(crate) fn set_keep(&mut self, keep: bool) {
        self.keep = keep;
    }
}

impl Segment {
    /// The creating handle's cleanup, once: removes the name (unless kept), and only while
    /// it still leads to this segment. A handle calls it before it releases its role, so a
    /// peer that sees the role released and creates the segment anew under the same name
    /// (a server that serves one client after another) never has its new segment's name
    /// removed by the old one's creator (seen in the README step: Bob created the rings,
    /// Alice created new ones as he left, and his drop removed their names).
    pub(crate) fn retire_name(&mut self) {
        if !std::mem::take(&mut self.creator) || self.keep {
            return;
        }
        // Cleanup never panics; a failure here leaves a stale segment that `create` with
        // `reclaim_stale` or `ipcring rm` removes later.
        if self.name_leads_here().unwrap_or(false) {
            let _ = self.loc.unlink();
        }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        self.retire_name();
    }
}

pub(crate) fn header_of(map: &Mapping) -> &SegmentHeader {
    // Every caller maps at least COMMON_HEADER_SIZE bytes (checked against the file's size
    // before mapping).
    map.at(0)
}

/// Outcome of one opening attempt.
enum Ready {
    /// Ready and validated: the descriptor and the whole mapping.
    Yes(OwnedFd, Mapping),
    /// Not (yet) usable, for this reason: retry until the deadline.
    NotYet(String),
}

/// Maps the common header alone (`None` if the file is smaller than it).
fn map_header(fd: &OwnedFd, size: u64, write: bool) -> Result<Option<Mapping>> {
    if size < COMMON_HEADER_SIZE as u64 {
        return Ok(None);
    }
    Mapping::map(fd, COMMON_HEADER_SIZE, write).map(Some)
}

/// Maps the whole file, `size` bytes (its validated `total_size`).
fn map_whole(fd: &OwnedFd, size: u64, write: bool, shown: &str) -> Result<Mapping> {
    let len = usize::try_from(size).map_err(|_| Error::BadSegment {
        path: shown.to_owned(),
        reason: format!("size {size} does not fit in memory").into(),
    })?;
    Mapping::map(fd, len, write)
}

/// The first check of every kind's own header: the header records the kind's header size
/// (`size`) and the file holds at least that much. `Err` is the reason, for the kind's
/// [`Error::BadSegment`].
pub(crate) fn check_header_size(
    map: &Mapping,
    kind: &str,
    size: usize,
) -> std::result::Result<(), String> {
    let hs = header_of(map).header_size.load(Ordering::Relaxed) as usize;
    if hs != size || map.len() < size {
        return Err(format!(
            "{kind} header size {hs} (expected {size}), file of {} bytes",
            map.len()
        ));
    }
    Ok(())
}

/// [`Error::BadSegment`] of the segment shown as `shown`, for the reason given.
pub(crate) fn bad(shown: &str) -> impl Fn(String) -> Error + Copy + '_ {
    move |reason| Error::BadSegment {
        path: shown.to_owned(),
        reason: reason.into(),
    }
}

fn validate_common(map: &Mapping, size: u64, kind: u32, shown: &str) -> Result<()> {
    let bad = bad(shown);
    let h = header_of(map);
    let version = h.version.load(Ordering::Relaxed);
    if version != LAYOUT_VERSION {
        return Err(bad(format!(
            "layout version {version}, this build reads version {LAYOUT_VERSION}"
        )));
    }
    let k = h.kind.load(Ordering::Relaxed);
    if k != kind {
        let (is, want) = (kind_name(k), kind_name(kind));
        return Err(bad(format!("is a {is} segment (kind {k}), not a {want}")));
    }
    let total = h.total_size.load(Ordering::Relaxed);
    if total != size {
        return Err(bad(format!(
            "header says {total} bytes but the file has {size} (truncated or resized)"
        )));
    }
    let hs = h.header_size.load(Ordering::Relaxed) as u64;
    if hs < COMMON_HEADER_SIZE as u64 || hs > total {
        return Err(bad(format!(
            "header size {hs} out of range for a {total}-byte segment"
        )));
    }
    Ok(())
}

/// What the common header and role locks of a segment say, read without attaching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The name or path.
    pub name: String,
    /// Kind: "ring", "seqlock", "broadcast".
    pub kind: &'static str,
    /// Layout version.
    pub version: u32,
    /// Size of the whole segment.
    pub total_size: u64,
    /// Creator's pid.
    pub creator_pid: u32,
    /// Creation nonce.
    pub nonce: u64,
    /// Creation time, ns since the Unix epoch.
    pub created_ns: u64,
    /// For each role byte 0..8: is a live handle holding it.
    pub roles_held: [bool; ROLE_BYTES as usize],
}

impl SegmentInfo {
    /// True if no live handle holds any role: a leftover.
    pub fn is_stale(&self) -> bool {
        !self.roles_held.iter().any(|&b| b)
    }

    /// True if a live handle holds `role`.
    pub(crate) fn holds(&self, role: Role) -> bool {
        self.roles_held.get(role.byte as usize) == Some(&true)
    }
}

/// Reads a segment's common header read-only, plus which roles are held, checks that it
/// is a segment of `kind` (any kind if `None`), and hands the validated mapping to `f` for
/// the kind's own fields.
pub(crate) fn inspect_with<T>(
    name: &str,
    kind: Option<&Kind>,
    f: impl FnOnce(&Mapping, &SegmentInfo) -> Result<T>,
) -> Result<(SegmentInfo, T)> {
    let access = &Access::new();
    let loc = Location::parse(name)?;
    let shown = loc.display();
    let bad = bad(&shown);
    let fd = loc
        .open_existing(false, access)?
        .ok_or_else(|| Error::NotFound(shown.clone()))?;
    let st = owner::check_fd(&fd, &shown, FileType::Regular, access, 0o7777)?;
    let size = st.size;
    let Some(hdr_map) = map_header(&fd, size, false)? else {
        return Err(bad(format!(
            "truncated: {size} bytes, smaller than the {COMMON_HEADER_SIZE}-byte header"
        )));
    };
    let h = header_of(&hdr_map);
    let magic = h.magic.load(Ordering::Relaxed);
    if magic != MAGIC {
        return Err(bad(format!(
            "wrong magic {magic:#018x} (expected {MAGIC:#018x}: \"SHMRING\\0\")"
        )));
    }
    // SYNC: pairs with the creator's Release store of READY.
    if h.state.load(Ordering::Acquire) != STATE_READY {
        return Err(bad(
            "not initialised (being created, or its creator died while creating it)".into(),
        ));
    }
    let found = h.kind.load(Ordering::Relaxed);
    if let Some(k) = kind.filter(|k| k.id != found) {
        let (is, want) = (kind_name(found), k.name);
        return Err(bad(format!("is a {is} segment, not a {want}")));
    }
    validate_common(&hdr_map, size, found, &shown)?;
    drop(hdr_map);
    let map = map_whole(&fd, size, false, &shown)?;
    let h = header_of(&map);
    let mut roles_held = [false; ROLE_BYTES as usize];
    for (b, held) in roles_held.iter_mut().enumerate() {
        *held = sys::byte_locked(&fd, b as u64)?;
    }
    let info = SegmentInfo {
        name: shown,
        kind: kind_name(found),
        version: h.version.load(Ordering::Relaxed),
        total_size: size,
        creator_pid: h.creator_pid.load(Ordering::Relaxed),
        nonce: h.nonce.load(Ordering::Relaxed),
        created_ns: h.created_ns.load(Ordering::Relaxed),
        roles_held,
    };
    let extra = f(&map, &info)?;
    Ok((info, extra))
}

impl Segment {
    /// Takes `role` as a shared lock (many holders at once: seqlock readers, broadcast
    /// subscribers). `Ok(false)` if an exclusive holder has it.
    pub(crate) fn lock_shared(&self, role: Role) -> Result<bool> {
        sys::try_lock_byte_shared(&self.fd, role.byte)
    }

    /// Takes `role` as an exclusive lock without waiting (a role chosen after attaching:
    /// a service client's connection entry). `Ok(false)` if another open holds it.
    pub(crate) fn try_lock(&self, role: Role) -> Result<bool> {
        sys::try_lock_byte(&self.fd, role.byte)
    }

    /// A handle's leaving: removes the name first if this handle created it (see
    /// [`Segment::retire_name`]), then releases `role`, so a peer that sees the role
    /// released finds the name gone already (the ring's, seqlock's and broadcast's writers).
    pub(crate) fn leave_role(&mut self, role: Role) -> Result<()> {
        self.retire_name();
        self.release_role(role)
    }

    /// Releases this handle's `role` early (on detach, before waking the peer).
    pub(crate) fn release_role(&self, role: Role) -> Result<()> {
        sys::unlock_byte(&self.fd, role.byte)
    }

    /// Whether the segment's name still leads to the file this handle holds (`false` once
    /// the name was removed, or now names another file: nobody can open this one by name
    /// any more).
    pub(crate) fn name_leads_here(&self) -> Result<bool> {
        let Some(path) = self.loc.fs_path() else {
            // Where shm names have no path this cannot be told: say it still does.
            return Ok(true);
        };
        let held = owner::fstat(self.fd.as_fd())?;
        Ok(owner::lstat(&path).is_some_and(|at| at.dev == held.dev && at.ino == held.ino))
    }

    /// The file's size now (`fstat` on the descriptor this handle holds: the same file
    /// even if the name was removed or replaced). A size other than the mapping's means
    /// someone truncated or grew the file while it is mapped: see `check_intact` in the
    /// ring's handles.
    pub(crate) fn file_size(&self) -> Result<u64> {
        Ok(owner::fstat(self.fd.as_fd())?.size)
    }
}

/// Reads any segment's common header and which roles are held, read-only, without
/// attaching (for `ipcring ls` / `inspect` / `rm`). A file that is not a segment gets
/// [`Error::BadSegment`] naming what is wrong, a missing one [`Error::NotFound`].
///
/// ```
/// use ipcring::ring::{Producer, RingOptions};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-seginsp-{}", std::process::id());
/// let tx = Producer::create(&name, &RingOptions::new().capacity(4096))?;
/// let info = ipcring::segment::inspect(&name)?;
/// assert_eq!(info.kind, "ring");
/// assert!(!info.is_stale());
/// # drop(tx);
/// # Ok(()) }
/// ```
pub fn inspect(name: &str) -> Result<SegmentInfo> {
    inspect_with(name, None, |_, _| Ok(())).map(|(info, ())| info)
}

/// Removes a segment's name (`shm_unlink` or `unlink`) after checking that it is a
/// segment of this crate; processes still attached keep their mapping. Refuses a segment
/// that a live handle uses with [`Error::RoleTaken`] unless `force`. If another process
/// removed that segment and made a new one under the name between the look and the
/// removal, the new one is left alone (the one inspected is gone either way).
///
/// ```
/// use ipcring::ring::{Producer, RingOptions};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-segrm-{}", std::process::id());
/// let tx = Producer::create(&name, &RingOptions::new().capacity(4096).keep(true))?;
/// assert!(ipcring::segment::remove(&name, false).is_err()); // live
/// drop(tx);
/// ipcring::segment::remove(&name, false)?;                 // stale now
/// assert!(ipcring::segment::inspect(&name).is_err());
/// # Ok(()) }
/// ```
pub fn remove(name: &str, force: bool) -> Result<SegmentInfo> {
    let loc = Location::parse(name)?;
    // Held across the look, so that the removal can check it is still this file.
    let looked_at = loc.open_to_probe()?.map(std::fs::File::from);
    let info = inspect(name)?;
    if !force && !info.is_stale() {
        let role = info
            .roles_held
            .iter()
            .position(|&b| b)
            .and_then(|b| kinds::by_name(info.kind)?.role_name(b as u64))
            .unwrap_or("attached");
        return Err(Error::RoleTaken {
            role,
            name: info.name,
        });
    }
    match &looked_at {
        // False: replaced meanwhile, left alone.
        Some(file) => _ = loc.unlink_if_still(file)?,
        None => loc.unlink()?,
    }
    Ok(info)
}

/// How long after its last status change (`st_ctime`) a never-finished segment that holds
/// no role lock counts as abandoned. Creation takes well under a millisecond; the grace
/// keeps [`half_created`] from calling a segment that another process is creating right
/// now (between its `O_EXCL` open and its role lock) abandoned.
pub const HALF_CREATED_GRACE: Duration = Duration::from_secs(2);

/// A name whose segment was never finished: its creator died (or is still at work)
/// between creating the file (mode 0200, write-only) and publishing it (state `READY`,
/// then `fchmod` to the final mode). Openers wait for such a name until their deadline
/// and then fail; [`remove_half_created`] removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HalfCreated {
    /// The name or path.
    pub name: String,
    /// The file's size in bytes (0 if its creator died before sizing it).
    pub size: u64,
    /// The file's mode bits (0200 while unfinished).
    pub mode: u32,
    /// A creator may still be at work: a role byte is locked, or the file's status
    /// changed less than [`HALF_CREATED_GRACE`] ago.
    pub in_progress: bool,
}

/// Whether `name` is a half-created segment (see [`HalfCreated`]): it exists, still has
/// mode 0200, and its header, where readable, is zero or this crate's magic. `Ok(None)` if
/// it is missing, finished, or not a segment of this crate.
///
/// ```
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-half-{}", std::process::id());
/// assert!(ipcring::segment::half_created(&name)?.is_none()); // missing
/// # Ok(()) }
/// ```
pub fn half_created(name: &str) -> Result<Option<HalfCreated>> {
    Ok(probe_half_created(name)?.map(|(h, _)| h))
}

/// [`half_created`], with the open file it looked at.
fn probe_half_created(name: &str) -> Result<Option<(HalfCreated, std::fs::File)>> {
    use std::os::unix::fs::FileExt;
    let loc = Location::parse(name)?;
    let Some(fd) = loc.open_to_probe()? else {
        return Ok(None);
    };
    let st = owner::fstat(fd.as_fd())?;
    let size = st.size;
    if st.perm() != 0o200 {
        return Ok(None);
    }
    let mut in_progress = sys::status_age(&fd)? < HALF_CREATED_GRACE;
    for b in 0..ROLE_BYTES {
        in_progress |= sys::byte_locked(&fd, b)?;
    }
    // Opened write-only (not root, mode 0200), the header cannot be read: the mode alone
    // says "unfinished". Read with pread, never through a mapping (no SIGBUS if it shrinks).
    let file = std::fs::File::from(fd);
    let mut magic = [0u8; 8];
    if size >= 8 && file.read_exact_at(&mut magic, 0).is_ok() {
        let m = u64::from_le_bytes(magic);
        if m != 0 && m != MAGIC {
            return Ok(None);
        }
    }
    let h = HalfCreated {
        name: loc.display(),
        size,
        mode: st.perm(),
        in_progress,
    };
    Ok(Some((h, file)))
}

/// Removes a half-created segment's name (see [`half_created`]). `Ok(None)` if `name` is
/// not one, or no longer names the file found half-created (another process removed it
/// and made a segment there meanwhile: that one is left alone); [`Error::RoleTaken`]
/// (role `"creator"`) if a creator may still be at work on it, unless `force`.
///
/// ```
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-halfrm-{}", std::process::id());
/// assert!(ipcring::segment::remove_half_created(&name, false)?.is_none());
/// # Ok(()) }
/// ```
pub fn remove_half_created(name: &str, force: bool) -> Result<Option<HalfCreated>> {
    let Some((h, file)) = probe_half_created(name)? else {
        return Ok(None);
    };
    if h.in_progress && !force {
        return Err(Error::RoleTaken {
            role: "creator",
            name: h.name,
        });
    }
    let gone = Location::parse(name)?.unlink_if_still(&file)?;
    Ok(gone.then_some(h))
}

/// A segment together with the blocks its handle touches on every message: one block of
/// shared words `S` and an array of words `W` (empty where a kind has none), found through
/// [`Mapping::view`] / [`Mapping::view_slice`] once, when the segment is attached, so the
/// per-message path pays no bounds check. Derefs to the segment.
#[derive(Debug)]
pub(crate) struct Held<S: sys::SharedPlain, W: sys::SharedPlain = AtomicU64> {
    seg: Segment,
    /// Both point into `seg`'s mapping: checked in bounds and aligned by `Mapping`.
    shared: std::ptr::NonNull<S>,
    words: std::ptr::NonNull<[W]>,
}

// SAFETY: the pointers lead into the mapping `seg` owns, which moves with the value and
// is shared with other processes anyway; `S` and `W` are `SharedPlain` (hence `Sync`), so
// reaching them from another thread is as sound as from this one.
unsafe impl<S: sys::SharedPlain, W: sys::SharedPlain> Send for Held<S, W> {}
// SAFETY: as above: `&Held` gives out only `&S`, `&[W]` (`Sync`) and `&Segment`.
unsafe impl<S: sys::SharedPlain, W: sys::SharedPlain> Sync for Held<S, W> {}

impl<S: sys::SharedPlain, W: sys::SharedPlain> Held<S, W> {
    /// Takes `seg` with its `S` at byte offset `off` and no word array. The caller
    /// validated the segment's header, so the block fits; if it does not, this panics (a
    /// bug in this crate).
    pub(crate) fn new(seg: Segment, off: usize) -> Held<S, W> {
        let shared = std::ptr::NonNull::from(seg.mapping().at::<S>(off));
        let words = std::ptr::NonNull::from(&[][..]);
        Held { seg, shared, words }
    }

    /// Takes `seg` with its `S` at byte offset `off` and `n` words `W` from `words_off`.
    /// The caller validated the segment's header against the mapping's length, so both
    /// fit; if they do not, this panics (a bug in this crate), as [`Held::new`] does.
    pub(crate) fn with_words(seg: Segment, off: usize, words_off: usize, n: usize) -> Held<S, W> {
        let map = seg.mapping();
        let (Some(shared), Some(words)) = (map.view::<S>(off), map.view_slice::<W>(words_off, n))
        else {
            panic!("internal error: a validated segment's words do not fit its mapping");
        };
        let (shared, words) = (
            std::ptr::NonNull::from(shared),
            std::ptr::NonNull::from(words),
        );
        Held { seg, shared, words }
    }

    /// The shared words.
    #[inline(always)]
    pub(crate) fn shared(&self) -> &S {
        // SAFETY: `shared` came from `Mapping::view` on `seg`'s mapping (in bounds, aligned,
        // `S: SharedPlain`); the mapping stays mapped, at the same address, for as long as
        // `seg` lives, which this value owns and never hands out mutably.
        unsafe { self.shared.as_ref() }
    }

    /// The word array.
    #[inline(always)]
    pub(crate) fn words(&self) -> &[W] {
        // SAFETY: as in `shared`, from `Mapping::view_slice` (or an empty slice).
        unsafe { self.words.as_ref() }
    }
}

impl<S: sys::SharedPlain, W: sys::SharedPlain> std::ops::Deref for Held<S, W> {
    type Target = Segment;
    fn deref(&self) -> &Segment {
        &self.seg
    }
}

impl<S: sys::SharedPlain, W: sys::SharedPlain> std::ops::DerefMut for Held<S, W> {
    fn deref_mut(&mut self) -> &mut Segment {
        &mut self.seg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;

    /// A file as a creator leaves it between its `O_EXCL` open and its `fchmod`.
    fn unfinished(path: &std::path::Path) {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o200)
            .open(path)
            .unwrap();
    }

    /// Two removers find the same abandoned name; the first removes it and a segment is
    /// made there (unfinished too, as it is while its creator works): the second, which
    /// probed the old file, must leave the new one alone.
    #[test]
    fn a_half_created_name_replaced_after_the_probe_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let name = path.to_str().unwrap();
        unfinished(&path);
        let (h, old) = probe_half_created(name).unwrap().unwrap();
        assert_eq!((h.mode, h.size), (0o200, 0));
        std::fs::remove_file(&path).unwrap();
        unfinished(&path);
        let loc = Location::parse(name).unwrap();
        assert!(!loc.unlink_if_still(&old).unwrap());
        assert!(path.exists(), "the new file was removed");
        // The file probed is still there: removed.
        let (_, new) = probe_half_created(name).unwrap().unwrap();
        assert!(loc.unlink_if_still(&new).unwrap());
        assert!(!path.exists());
        // Forced (it is within the grace period), through the public call.
        unfinished(&path);
        let r = remove_half_created(name, false);
        assert!(matches!(r, Err(Error::RoleTaken { .. })), "{r:?}");
        assert_eq!(
            remove_half_created(name, true).unwrap().map(|h| h.mode),
            Some(0o200)
        );
        assert!(!path.exists());
    }
}
