//! Writer and Reader handles over a named segment.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{
    try_read_words, value_words, Attempt, SeqlockGeometry, SeqlockShared, WriterCore,
    GEOMETRY_OFFSET, MAX_VALUE_SIZE, READERS_ROLE, SEQLOCK_HEADER_SIZE, SHARED_OFFSET, WRITER_ROLE,
};
use crate::segment::{self, Held, Segment, SegmentInfo, SegmentOptions};
use crate::sys::Mapping;
use crate::wake::{wait_for, WaitStrategy, LIVENESS_SLICE};
use crate::words::{put_word, word_of};
use crate::{Error, Result};

/// How to create or open a seqlock cell.
///
/// ```
/// use std::time::Duration;
/// use ipcring::seqlock::SeqlockOptions;
/// let opts = SeqlockOptions::new()
///     .mode(0o600)
///     .open_timeout(Duration::from_secs(30))
///     .type_tag(0x5354_4154);            // any u64 both sides agree on
/// assert_eq!(opts.get_type_tag(), 0x5354_4154);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SeqlockOptions {
    seg: SegmentOptions,
    type_tag: u64,
}

impl SeqlockOptions {
    /// Defaults: mode 0600, unlink on drop, no reclaiming, [`WaitStrategy::default`], open
    /// timeout 5 s, type tag 0.
    pub fn new() -> Self {
        Self::default()
    }

    segment::segment_option_methods!(
        "How [`Reader::wait_changed`] waits (default: spin 20 µs, then sleep on the futex)."
    );

    /// A number naming the value type, stored at creation and checked at open (default
    /// 0). The size of `T` is always checked; the tag also tells apart two types of the
    /// same size.
    pub fn type_tag(mut self, tag: u64) -> Self {
        self.type_tag = tag;
        self
    }

    /// The type tag set.
    pub fn get_type_tag(&self) -> u64 {
        self.type_tag
    }
}

/// A consistent copy of the cell's value and the version it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot<T> {
    /// The value.
    pub value: T,
    /// How many writes had completed when this value was written (0: never written).
    pub version: u64,
}

impl<T> Snapshot<T> {
    /// How many updates happened between the value of version `last` and this one that
    /// the reader never saw (0 if this is the next version, or not newer).
    ///
    /// ```
    /// use ipcring::seqlock::Snapshot;
    /// let s = Snapshot { value: 0u32, version: 10 };
    /// assert_eq!(s.missed_since(7), 2);   // versions 8 and 9 were never seen
    /// assert_eq!(s.missed_since(9), 0);
    /// ```
    pub fn missed_since(&self, last: u64) -> u64 {
        self.version.saturating_sub(last).saturating_sub(1)
    }
}

/// The attached cell: the segment and the value's word count (validated at open).
struct Cell {
    /// The segment with its run-time words and value words, found once at attach.
    seg: Held<SeqlockShared>,
    n_words: usize,
    wait: WaitStrategy,
}

impl fmt::Debug for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cell")
            .field("name", &self.seg.name())
            .field("words", &self.n_words)
            .finish()
    }
}

/// The geometry words. Every seqlock mapping is at least SEQLOCK_HEADER_SIZE bytes (the
/// creator maps that much, `validate` and `inspect` check it before calling this).
fn geometry_of(map: &Mapping) -> &SeqlockGeometry {
    map.at(GEOMETRY_OFFSET)
}

fn check_type<T>() -> Result<()> {
    let size = std::mem::size_of::<T>();
    if size > MAX_VALUE_SIZE {
        return Err(Error::InvalidConfig(
            format!("a seqlock value is at most {MAX_VALUE_SIZE} bytes; this type has {size}")
                .into(),
        ));
    }
    Ok(())
}

fn validate<T>(map: &Mapping, shown: &str, tag: u64) -> Result<()> {
    let bad = segment::bad(shown);
    segment::check_header_size(map, "seqlock", SEQLOCK_HEADER_SIZE).map_err(bad)?;
    let g = geometry_of(map);
    let size = g.value_size.load(Ordering::Relaxed) as usize;
    let words = g.value_words.load(Ordering::Relaxed) as usize;
    if size > MAX_VALUE_SIZE || words != value_words(size) {
        return Err(bad(format!(
            "value size {size} / {words} words is inconsistent"
        )));
    }
    let (need, len) = (SEQLOCK_HEADER_SIZE + words * 8, map.len());
    if need != len {
        return Err(bad(format!(
            "a {size}-byte value needs a {need}-byte segment, the file has {len}"
        )));
    }
    let want = std::mem::size_of::<T>();
    if size != want {
        return Err(bad(format!(
            "holds a value of {size} bytes, this type has {want}"
        )));
    }
    let t = g.type_tag.load(Ordering::Relaxed);
    if t != tag {
        return Err(bad(format!(
            "type tag {t:#x}, this program expects {tag:#x}"
        )));
    }
    Ok(())
}

impl Cell {
    fn from_segment(seg: Segment, wait: WaitStrategy) -> Cell {
        // The mapping's length, not the header's `value_words`: the length cannot change
        // after `validate` showed it to be the header plus `value_words(size_of::<T>())`
        // words (or `create` made it so), while a peer could rewrite the header word.
        let n_words = seg.mapping().len().saturating_sub(SEQLOCK_HEADER_SIZE) / 8;
        let seg = Held::with_words(seg, SHARED_OFFSET, SEQLOCK_HEADER_SIZE, n_words);
        Cell { seg, n_words, wait }
    }

    fn geometry(&self) -> &SeqlockGeometry {
        geometry_of(self.seg.mapping())
    }

    fn create<T>(name: &str, opts: &SeqlockOptions) -> Result<Cell> {
        check_type::<T>()?;
        let size = std::mem::size_of::<T>();
        let words = value_words(size);
        let total = (SEQLOCK_HEADER_SIZE + words * 8) as u64;
        let (kind, header) = (&crate::kinds::SEQLOCK, SEQLOCK_HEADER_SIZE);
        let seg = opts
            .seg
            .create(name, kind, header, total, WRITER_ROLE, |map| {
                let g = geometry_of(map);
                g.value_size.store(size as u32, Ordering::Relaxed);
                g.value_words.store(words as u32, Ordering::Relaxed);
                g.type_tag.store(opts.type_tag, Ordering::Relaxed);
            })?;
        Ok(Cell::from_segment(seg, opts.seg.wait))
    }

    fn open<T>(
        name: &str,
        opts: &SeqlockOptions,
        role: Option<crate::kinds::Role>,
    ) -> Result<Cell> {
        check_type::<T>()?;
        let tag = opts.type_tag;
        let seg = opts
            .seg
            .open(name, &crate::kinds::SEQLOCK, role, |map, shown| {
                validate::<T>(map, shown, tag)
            })?;
        Ok(Cell::from_segment(seg, opts.seg.wait))
    }

    /// True once a writer had attached and none holds the role now.
    fn writer_gone(&self) -> Result<bool> {
        let attached = self.geometry().writer_attaches.load(Ordering::Acquire) != 0;
        self.seg.peer_gone(attached, WRITER_ROLE)
    }
}

/// The one writer of a seqlock cell. Writing never waits.
///
/// ```
/// use ipcring::seqlock::{SeqlockOptions, Writer};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-wdoc-{}", std::process::id());
/// let mut w = Writer::<u64>::create(&name, &SeqlockOptions::new())?;
/// assert_eq!(w.write(&7), 1);
/// assert_eq!(w.update(|v| *v += 1), 2);
/// assert_eq!(w.value(), 8);
/// // A second writer is refused while this one lives.
/// assert!(matches!(
///     Writer::<u64>::open(&name, &SeqlockOptions::new()),
///     Err(ipcring::Error::RoleTaken { .. })
/// ));
/// # Ok(()) }
/// ```
#[must_use = "a Writer detaches when dropped"]
pub struct Writer<T: bytemuck::Pod> {
    cell: Cell,
    core: WriterCore,
    _t: PhantomData<fn(T) -> T>,
}

impl<T: bytemuck::Pod> fmt::Debug for Writer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("cell", &self.cell)
            .field("version", &self.core.version())
            .finish()
    }
}

impl<T: bytemuck::Pod> Writer<T> {
    /// Creates a cell named `name` (a `/shm-name` or a file path) holding a zeroed `T`
    /// (version 0), and attaches as its writer. [`Error::AlreadyExists`] if the name is
    /// taken (see [`SeqlockOptions::reclaim_stale`]).
    pub fn create(name: &str, opts: &SeqlockOptions) -> Result<Writer<T>> {
        Self::attach(Cell::create::<T>(name, opts)?)
    }

    /// Opens an existing cell as its writer (waiting up to the open timeout for it to
    /// appear), continuing its versions. [`Error::RoleTaken`] while another writer lives.
    pub fn open(name: &str, opts: &SeqlockOptions) -> Result<Writer<T>> {
        Self::attach(Cell::open::<T>(name, opts, Some(WRITER_ROLE))?)
    }

    /// Opens the cell if it exists, else creates it.
    pub fn open_or_create(name: &str, opts: &SeqlockOptions) -> Result<Writer<T>> {
        match Cell::create::<T>(name, opts) {
            Ok(c) => Self::attach(c),
            Err(Error::AlreadyExists(_)) => Self::open(name, opts),
            Err(e) => Err(e),
        }
    }

    fn attach(cell: Cell) -> Result<Writer<T>> {
        let core = WriterCore::attach(cell.seg.shared());
        segment::count_attach(&cell.geometry().writer_attaches);
        Ok(Writer {
            cell,
            core,
            _t: PhantomData,
        })
    }

    /// Publishes `value` and returns its version. Never waits; makes a system call only
    /// when a reader sleeps in [`Reader::wait_changed`].
    #[inline]
    pub fn write(&mut self, value: &T) -> u64 {
        let bytes = bytemuck::bytes_of(value);
        let shared = self.cell.seg.shared();
        if self
            .core
            .write(shared, self.cell.seg.words(), |i| word_of(bytes, i))
        {
            shared.changed.wake();
        }
        self.core.version()
    }

    /// The value as last written (by this writer, or by the writer before it).
    pub fn value(&self) -> T {
        let mut v = T::zeroed();
        let bytes = bytemuck::bytes_of_mut(&mut v);
        // Only this writer stores the words, so its own loads are never torn.
        for (i, w) in self.cell.seg.words().iter().enumerate() {
            put_word(bytes, i, w.load(Ordering::Relaxed));
        }
        v
    }

    /// Reads the value, lets `f` change it, writes it back; returns the new version.
    pub fn update(&mut self, f: impl FnOnce(&mut T)) -> u64 {
        let mut v = self.value();
        f(&mut v);
        self.write(&v)
    }

    /// Version of the last completed write (0: never written).
    pub fn version(&self) -> u64 {
        self.core.version()
    }

    /// The cell's name.
    pub fn name(&self) -> String {
        self.cell.seg.name()
    }

    /// True if at least one reader is attached now (in any process).
    pub fn readers_attached(&self) -> Result<bool> {
        self.cell.seg.role_held_by_other(READERS_ROLE)
    }

    /// Keep the name after this (creating) handle drops.
    pub fn set_keep(&mut self, keep: bool) {
        self.cell.seg.set_keep(keep);
    }
}

impl<T: bytemuck::Pod> Drop for Writer<T> {
    fn drop(&mut self) {
        // Release the role before waking, so a blocked reader that wakes sees us gone.
        let _ = self.cell.seg.leave_role(WRITER_ROLE);
        self.cell.seg.shared().changed.wake();
    }
}

/// A reader of a seqlock cell. Any number of them, in any processes.
///
/// ```
/// use ipcring::seqlock::{Reader, SeqlockOptions, Writer};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-rdoc-{}", std::process::id());
/// let mut w = Writer::<[u32; 2]>::create(&name, &SeqlockOptions::new())?;
/// let r = Reader::<[u32; 2]>::open(&name, &SeqlockOptions::new())?;
/// w.write(&[1, 1]);
/// let snap = r.try_read().expect("no write in progress");
/// assert_eq!(snap.value, [1, 1]);
/// assert_eq!(r.version(), 1);
/// # Ok(()) }
/// ```
#[must_use = "a Reader detaches when dropped"]
pub struct Reader<T: bytemuck::Pod> {
    cell: Cell,
    _t: PhantomData<fn() -> T>,
}

impl<T: bytemuck::Pod> fmt::Debug for Reader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").field("cell", &self.cell).finish()
    }
}

/// Bounded backoff for a reader that keeps meeting a write in progress: spin, then
/// yield, then sleep 1 µs doubling up to 1 ms. Says when a liveness check is due.
#[derive(Default)]
struct Backoff {
    step: u32,
    next_check: Option<Instant>,
}

impl Backoff {
    const SPIN_STEPS: u32 = 6;
    const YIELD_STEPS: u32 = 10;

    /// Waits a little; `true` when the caller should check that the writer lives.
    fn snooze(&mut self) -> bool {
        if self.step < Self::SPIN_STEPS {
            for _ in 0..(1u32 << self.step) {
                crate::sync::spin_hint();
            }
        } else if self.step < Self::YIELD_STEPS {
            std::thread::yield_now();
        } else {
            let us = 1u64 << (self.step - Self::YIELD_STEPS).min(10);
            std::thread::sleep(Duration::from_micros(us.min(1000)));
        }
        self.step = self.step.saturating_add(1);
        if self.step < Self::YIELD_STEPS {
            return false;
        }
        let now = Instant::now();
        let due = self.next_check.is_some_and(|t| now >= t);
        if due || self.next_check.is_none() {
            self.next_check = Some(now + LIVENESS_SLICE);
        }
        due
    }
}

impl<T: bytemuck::Pod> Reader<T> {
    /// Opens an existing cell for reading, waiting up to the open timeout for it to
    /// appear. The size of `T` (and the type tag) must match the creator's.
    pub fn open(name: &str, opts: &SeqlockOptions) -> Result<Reader<T>> {
        let cell = Cell::open::<T>(name, opts, None)?;
        // A shared lock: many readers at once; it only tells others that readers exist.
        let _ = cell.seg.lock_shared(READERS_ROLE)?;
        cell.geometry()
            .reader_attaches
            .fetch_add(1, Ordering::Relaxed);
        Ok(Reader {
            cell,
            _t: PhantomData,
        })
    }

    #[inline]
    fn attempt(&self, out: &mut T) -> Attempt {
        let bytes = bytemuck::bytes_of_mut(out);
        try_read_words(self.cell.seg.shared(), self.cell.seg.words(), |i, w| {
            put_word(bytes, i, w)
        })
    }

    /// One read attempt: the value if no write overlapped it, `None` if a write was in
    /// progress (call again, or use [`Reader::read`], which retries).
    #[inline]
    #[must_use = "None means a write was in progress and nothing was read"]
    pub fn try_read(&self) -> Option<Snapshot<T>> {
        let mut v = T::zeroed();
        match self.attempt(&mut v) {
            Attempt::Ok(seq) => Some(Snapshot {
                value: v,
                version: seq / 2,
            }),
            Attempt::Busy | Attempt::Torn => None,
        }
    }

    /// Copies a consistent value into `out` and returns its version, retrying with a
    /// bounded backoff while writes overlap the copy. `out` holds the value only on `Ok`.
    ///
    /// [`Error::Disconnected`] only if the writer died in the middle of a write and no new
    /// writer has completed one since (there is then no consistent value to return).
    pub fn read_into(&self, out: &mut T) -> Result<u64> {
        let mut backoff = Backoff::default();
        loop {
            if let Attempt::Ok(seq) = self.attempt(out) {
                return Ok(seq / 2);
            }
            if backoff.snooze()
                && self.cell.seg.shared().seq.load(Ordering::Acquire) & 1 == 1
                && !self.cell.seg.role_held_by_other(WRITER_ROLE)?
            {
                // Re-check: a writer may have finished between the two loads.
                if let Attempt::Ok(seq) = self.attempt(out) {
                    return Ok(seq / 2);
                }
                return Err(Error::Disconnected);
            }
        }
    }

    /// A consistent copy of the value and its version (see [`Reader::read_into`]).
    pub fn read(&self) -> Result<Snapshot<T>> {
        let mut v = T::zeroed();
        let version = self.read_into(&mut v)?;
        Ok(Snapshot { value: v, version })
    }

    /// Version of the last completed write, without copying the value.
    pub fn version(&self) -> u64 {
        self.cell.seg.shared().seq.load(Ordering::Acquire) / 2
    }

    /// Waits until a version newer than `last_version` is there, at most `timeout`
    /// (`Duration::MAX`: no limit), and returns it. Spins briefly, then sleeps on a futex;
    /// the writer wakes sleepers after each write.
    ///
    /// Errors: [`Error::Timeout`]; [`Error::Disconnected`] if the writer had attached and
    /// is gone (exited or killed) and nothing newer than `last_version` is there: seen
    /// within [`LIVENESS_SLICE`] of its death. The last value stays readable.
    pub fn wait_changed(&self, last_version: u64, timeout: Duration) -> Result<Snapshot<T>> {
        let shared = self.cell.seg.shared();
        let mut v = T::zeroed();
        let version = wait_for(
            &shared.changed,
            self.cell.wait,
            Some(timeout),
            &mut (),
            |_| {
                if shared.seq.load(Ordering::Acquire) / 2 <= last_version {
                    return Ok(None);
                }
                Ok(match self.attempt(&mut v) {
                    Attempt::Ok(seq) if seq / 2 > last_version => Some(seq / 2),
                    _ => None,
                })
            },
            |_| self.cell.writer_gone(),
        )?;
        Ok(Snapshot { value: v, version })
    }

    /// True if a writer is attached now.
    pub fn writer_attached(&self) -> Result<bool> {
        self.cell.seg.role_held_by_other(WRITER_ROLE)
    }

    /// The cell's name.
    pub fn name(&self) -> String {
        self.cell.seg.name()
    }
}

/// A snapshot of a seqlock cell's header and state, read without attaching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqlockInfo {
    /// The common segment header and role locks.
    pub segment: SegmentInfo,
    /// Size of the value type in bytes.
    pub value_size: u32,
    /// The type tag given at creation.
    pub type_tag: u64,
    /// Completed writes.
    pub version: u64,
    /// A write is in progress now (or its writer died in the middle of it).
    pub write_in_progress: bool,
    /// A writer holds its role now.
    pub writer_attached: bool,
    /// At least one reader is attached now.
    pub readers_attached: bool,
    /// How many writers ever attached.
    pub writer_attaches: u32,
    /// How many readers ever attached.
    pub reader_attaches: u32,
}

/// Reads a seqlock cell's header and state read-only (for `ipcring inspect`).
///
/// ```
/// use ipcring::seqlock::{inspect, SeqlockOptions, Writer};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-sinsp-{}", std::process::id());
/// let mut w = Writer::<[u8; 12]>::create(&name, &SeqlockOptions::new())?;
/// w.write(&[1; 12]);
/// let info = inspect(&name)?;
/// assert_eq!((info.value_size, info.version), (12, 1));
/// # Ok(()) }
/// ```
pub fn inspect(name: &str) -> Result<SeqlockInfo> {
    let (_, info) = segment::inspect_with(name, Some(&crate::kinds::SEQLOCK), |map, info| {
        let hs = segment::header_of(map).header_size.load(Ordering::Relaxed) as usize;
        if hs != SEQLOCK_HEADER_SIZE || map.len() < SEQLOCK_HEADER_SIZE {
            return Err(Error::BadSegment {
                path: info.name.clone(),
                reason: format!("seqlock header size {hs}").into(),
            });
        }
        let g = geometry_of(map);
        let sh: &SeqlockShared = map.at(SHARED_OFFSET);
        let seq = sh.seq.load(Ordering::Acquire);
        Ok(SeqlockInfo {
            segment: info.clone(),
            value_size: g.value_size.load(Ordering::Relaxed),
            type_tag: g.type_tag.load(Ordering::Relaxed),
            version: seq / 2,
            write_in_progress: seq & 1 == 1,
            writer_attached: info.holds(WRITER_ROLE),
            readers_attached: info.holds(READERS_ROLE),
            writer_attaches: g.writer_attaches.load(Ordering::Relaxed),
            reader_attaches: g.reader_attaches.load(Ordering::Relaxed),
        })
    })?;
    Ok(info)
}

/// Hooks for the async wrapper (`crate::seqlock::tokio`): the wake word, liveness check and
/// one non-waiting look that [`Reader::wait_changed`] uses.
#[cfg(feature = "async")]
impl<T: bytemuck::Pod> Reader<T> {
    /// The word readers sleep on while waiting for a change.
    pub(super) fn changed_wake_word(&self) -> &crate::wake::WakeWord {
        &self.cell.seg.shared().changed
    }

    /// True once a writer had attached and is gone.
    pub(super) fn writer_gone(&self) -> Result<bool> {
        self.cell.writer_gone()
    }

    /// The wait strategy from the options.
    pub(super) fn wait_strategy(&self) -> WaitStrategy {
        self.cell.wait
    }

    /// A consistent value newer than `last_version`, if there is one now.
    pub(super) fn try_newer(&self, last_version: u64) -> Option<Snapshot<T>> {
        if self.cell.seg.shared().seq.load(Ordering::Acquire) / 2 <= last_version {
            return None;
        }
        let mut v = T::zeroed();
        match self.attempt(&mut v) {
            Attempt::Ok(seq) if seq / 2 > last_version => Some(Snapshot {
                value: v,
                version: seq / 2,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(tag: &str) -> String {
        crate::test_name("seqt", tag)
    }

    /// A writer of `T` on a new cell named after `tag`, and a reader on it.
    fn pair<T: bytemuck::Pod>(tag: &str) -> (Writer<T>, Reader<T>) {
        let n = name(tag);
        let w = Writer::create(&n, &SeqlockOptions::new()).unwrap();
        (w, Reader::open(&n, &SeqlockOptions::new()).unwrap())
    }

    /// A writer on a new cell `n` that keeps the name when it drops, having written `v`.
    fn kept_writer<T: bytemuck::Pod>(n: &str, v: &T) -> Writer<T> {
        let mut w = Writer::create(n, &SeqlockOptions::new()).unwrap();
        w.set_keep(true);
        w.write(v);
        w
    }

    #[test]
    fn roundtrip_odd_sized_value_and_versions() {
        let (mut w, r) = pair::<[u8; 13]>("odd");
        let s = r.read().unwrap();
        assert_eq!((s.value, s.version), ([0; 13], 0));
        for k in 1..=5u8 {
            assert_eq!(w.write(&[k; 13]), k as u64);
        }
        let s = r.read().unwrap();
        assert_eq!(s.value, [5; 13]);
        assert_eq!(s.version, 5);
        assert_eq!(s.missed_since(1), 3);
        assert!(w.readers_attached().unwrap());
        assert!(r.writer_attached().unwrap());
    }

    #[test]
    fn size_and_tag_mismatch_refused() {
        let n = name("mismatch");
        let _w = Writer::<u64>::create(&n, &SeqlockOptions::new().type_tag(7)).unwrap();
        let e = Reader::<u32>::open(&n, &SeqlockOptions::new().type_tag(7)).unwrap_err();
        assert!(matches!(e, Error::BadSegment { .. }), "{e}");
        let e = Reader::<u64>::open(&n, &SeqlockOptions::new().type_tag(8)).unwrap_err();
        assert!(e.to_string().contains("type tag"), "{e}");
        assert!(Reader::<u64>::open(&n, &SeqlockOptions::new().type_tag(7)).is_ok());
    }

    #[test]
    fn wrong_kind_refused() {
        let n = name("kind");
        let _p = crate::ring::Producer::create(&n, &crate::ring::RingOptions::new().capacity(1024))
            .unwrap();
        let e = Reader::<u64>::open(&n, &SeqlockOptions::new()).unwrap_err();
        assert!(e.to_string().contains("not a seqlock"), "{e}");
    }

    /// A plain array of u64 of any length (bytemuck implements Pod for a few lengths only).
    #[derive(Clone, Copy)]
    #[repr(transparent)]
    struct Big<const N: usize>([u64; N]);
    // SAFETY: a plain array of u64: any bit pattern is valid, no padding.
    unsafe impl<const N: usize> bytemuck::Zeroable for Big<N> {}
    // SAFETY: as above.
    unsafe impl<const N: usize> bytemuck::Pod for Big<N> {}

    #[test]
    fn too_large_value_refused() {
        let e =
            Writer::<Big<{ MAX_VALUE_SIZE / 8 + 1 }>>::create(&name("big"), &SeqlockOptions::new())
                .unwrap_err();
        assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
    }

    #[test]
    fn largest_value_roundtrips() {
        type Big = super::tests::Big<8192>; // 64 KiB
        let (mut w, r) = pair::<Big>("big64k");
        let mut v = Box::new(Big([0; 8192]));
        for (i, x) in v.0.iter_mut().enumerate() {
            *x = i as u64 * 3;
        }
        w.write(&v);
        let mut out = Box::new(Big([1; 8192]));
        assert_eq!(r.read_into(&mut out).unwrap(), 1);
        assert!(out.0 == v.0);
    }

    #[test]
    fn wait_changed_wakes_and_times_out() {
        let (mut w, r) = pair::<u64>("wait");
        let got = r.wait_changed(0, Duration::from_millis(20));
        assert!(matches!(got, Err(Error::Timeout)), "{got:?}");
        let t = std::thread::spawn(move || {
            let s = r.wait_changed(0, Duration::from_secs(10)).unwrap();
            (s, r)
        });
        std::thread::sleep(Duration::from_millis(30));
        w.write(&42);
        let (s, r) = t.join().unwrap();
        assert_eq!((s.value, s.version), (42, 1));
        // A version already newer than asked returns at once.
        assert_eq!(r.wait_changed(0, Duration::ZERO).unwrap().value, 42);
        drop(w);
        // Writer gone, nothing newer: Disconnected (not a timeout), last value readable.
        let got = r.wait_changed(1, Duration::from_secs(10));
        assert!(matches!(got, Err(Error::Disconnected)), "{got:?}");
        assert_eq!(r.read().unwrap().value, 42);
    }

    #[test]
    fn second_writer_refused_then_takes_over() {
        let n = name("takeover");
        let o = SeqlockOptions::new();
        let w1 = kept_writer(&n, &1u32);
        let r = Writer::<u32>::open(&n, &o);
        assert!(matches!(r, Err(Error::RoleTaken { .. })), "{r:?}");
        drop(w1);
        let mut w2 = Writer::<u32>::open(&n, &o).unwrap();
        assert_eq!(w2.value(), 1);
        assert_eq!(w2.write(&2), 2);
        let info = inspect(&n).unwrap();
        assert_eq!(info.version, 2);
        assert_eq!(info.writer_attaches, 2);
        drop(w2);
        crate::sys::Location::parse(&n).unwrap().unlink().unwrap();
    }

    #[test]
    fn dead_writer_mid_write_is_completed_by_next_writer() {
        let n = name("midwrite");
        let o = SeqlockOptions::new();
        let w = kept_writer(&n, &5u64);
        // Simulate a writer that died after its odd store.
        w.cell.seg.shared().seq.store(3, Ordering::Relaxed);
        drop(w);
        let r = Reader::<u64>::open(&n, &o).unwrap();
        assert!(r.try_read().is_none());
        assert!(matches!(r.read(), Err(Error::Disconnected)));
        let mut w = Writer::<u64>::open(&n, &o).unwrap();
        assert_eq!(w.write(&6), 2);
        let s = r.read().unwrap();
        assert_eq!((s.value, s.version), (6, 2));
        drop(w);
        crate::sys::Location::parse(&n).unwrap().unlink().unwrap();
    }
}
