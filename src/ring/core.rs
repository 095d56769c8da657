//! The ring protocol over a raw memory block. No OS calls, no names, no processes: loom,
//! proptest, miri and the fuzzer run this exact code in-process.
//!
//! # Protocol
//! Positions are u64 byte counters that only grow; a position's index in the data area is
//! `pos & (capacity - 1)`. Records are 8-byte aligned: an 8-byte header `len: u32,
//! kind: u32`, the payload, padding to 8. A record never wraps: when it does not fit before
//! the end, the producer first writes a padding record up to the end and starts the message
//! at index 0, so every message is one contiguous slice. The producer also pads to the end
//! early, at most once per lap, when it finds the ring empty a few records past index 0
//! and the consumer waiting for the next record ([`RECYCLE_WINDOW`]), so that a ring used
//! one message at a time keeps reusing the same few cache lines.
//!
//! **The record header is the publication.** The consumer polls the header word at its
//! read position (one Acquire load of the cache line that also holds the payload's first
//! bytes) instead of a shared write index, so a message costs one cache-line transfer to
//! the consumer in the common case. A zero header means "nothing here yet". To keep that
//! true, the producer maintains one invariant: *the header slot at its write position is
//! zero*. Committing a record at `w`:
//! 1. the payload is written;
//! 2. the header slot of the *next* record (`w + size`) is zeroed — the producer reserves
//!    8 bytes beyond every record for this, so that slot is free;
//! 3. the record's header is stored with Release (for a wrapped message: the message's
//!    header at index 0 first, then the padding header at `w`, so a consumer that follows
//!    the padding always finds the message).
//!
//! `write_pos` is still stored (Release) after each batch of commits: it tells `inspect`
//! the fill, and lets a replacement producer find the end (it walks the headers forward
//! from `write_pos` to the first zero slot, since a producer killed between steps 3 and
//! the store may have published records that `write_pos` does not cover yet). The consumer
//! frees records by storing `read_pos` with Release; the producer re-reads it (Acquire)
//! only when its cached copy says the ring is full.
//!
//! Everything read from shared memory is checked before use: positions must be 8-aligned
//! and within one capacity of each other; record kinds must be known, lengths within
//! `max_message` and within the data area. A failed check is `Error::Corrupt`.

use crate::ring::layout::{record_size, RingShared, RECORD_HEADER, REC_MESSAGE, REC_PADDING};
use crate::sync::{DataArea, Ordering};
use crate::{Error, Result};

/// Geometry of a ring, validated once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Data area size; a power of two.
    pub capacity: u64,
    /// Largest payload.
    pub max_message: u32,
    /// Recycling (see [`RECYCLE_WINDOW`]): the least write index at which the producer
    /// checks whether it may start over; 0: this ring does not recycle. Local to each
    /// side, never stored in the segment.
    pub recycle: u64,
    /// Recycling: how many records of the next message's size must lie below the write
    /// index before the producer checks ([`RECYCLE_RECORDS`]).
    pub recycle_records: u64,
}

impl Geometry {
    /// The geometry of a `capacity`-byte ring, recycling when the ring allows it
    /// ([`recycles`]).
    pub(crate) fn new(capacity: u64, max_message: u32) -> Geometry {
        let recycle = if recycles(capacity, RECYCLE_WINDOW) {
            RECYCLE_WINDOW
        } else {
            0
        };
        Geometry {
            capacity,
            max_message,
            recycle,
            recycle_records: RECYCLE_RECORDS,
        }
    }

    #[inline(always)]
    fn mask(&self) -> u64 {
        self.capacity - 1
    }
}

/// A reserved region for one message, not yet committed. Made only by
/// [`ProducerCore::reserve`], neither copied nor cloned, and consumed by
/// [`ProducerCore::commit`]: holding one is what lets the producer's safe methods write
/// its bytes ([`ProducerCore::fill`], [`ProducerCore::reserved_mut`]).
#[derive(Debug)]
pub(crate) struct Reservation {
    /// Payload offset in the data area.
    offset: usize,
    /// Payload length.
    len: usize,
    /// Padding bytes to write before the record (0, or up to the end of the data area).
    pad: u64,
}

/// The memory a ring lives in: its block of shared words and its data area (a mapping's,
/// or a test's heap). Both cores hold one; the handles hold one beside their segment.
#[derive(Debug, Clone)]
pub(crate) struct RingMemory {
    shared: *const RingShared,
    data: DataArea,
    geo: Geometry,
}

impl RingMemory {
    /// # Safety
    /// `shared` must point to a `RingShared` and `data` cover `geo.capacity` bytes, both
    /// valid (mapped, aligned) for as long as this value or any copy or core made from it
    /// is used.
    pub(crate) unsafe fn new(
        shared: *const RingShared,
        data: DataArea,
        geo: Geometry,
    ) -> RingMemory {
        RingMemory { shared, data, geo }
    }

    /// The same memory with another recycle window and record count (models and tests:
    /// the capacity, and so every bound, stays as `new` was promised).
    #[cfg(loom)]
    pub(crate) fn with_recycle(mut self, window: u64, records: u64) -> RingMemory {
        self.geo.recycle = window;
        self.geo.recycle_records = records;
        self
    }

    /// The shared words.
    #[inline(always)]
    pub(crate) fn shared(&self) -> &RingShared {
        // SAFETY: valid for as long as `self` by `new`'s contract; RingShared is atomics
        // only, valid for any bit pattern a peer may store.
        unsafe { &*self.shared }
    }
}

/// The producer's view: the shared words, the data area, and its private cursors.
#[derive(Debug)]
pub(crate) struct ProducerCore {
    mem: RingMemory,
    /// End of what this producer has committed (visible to the consumer).
    write: u64,
    /// What `write_pos` holds (the last value this producer stored there).
    published: u64,
    /// Last `read_pos` seen; the space in `cached_read .. cached_read + capacity` is free.
    cached_read: u64,
    /// Write position at or past which the producer next checks whether the consumer has
    /// taken everything, to start over at index 0 (see [`RECYCLE_WINDOW`]); `u64::MAX`
    /// when this ring does not recycle.
    recycle_at: u64,
    /// How far past a failed check the next one comes (doubles with each failure in a
    /// row, up to one capacity).
    recycle_gap: u64,
    /// This process may skip the publish fence while the consumer excuses it
    /// (`wake::excuse::enabled`, read once at attach).
    excusable: bool,
}

/// A ring that the consumer keeps empty (one message at a time, each taken before the
/// next is sent) keeps reusing its first few cache lines: once the write index is past
/// `RECYCLE_WINDOW` bytes and past [`RECYCLE_RECORDS`] records of the next message's size,
/// the producer checks `read_pos`; if the consumer has taken everything and waits for the
/// next record (it says so in `consumer_waiting` when a receive first finds nothing), spinning
/// rather than asleep (no count in the data wake word's `waiters`), it
/// pads to the end early and starts over at index 0, exactly as if the message did not
/// fit, and checks next in the next lap. Consumers see an ordinary padding record.
///
/// The waiting condition keeps the ring's capacity: until the consumer reads past the
/// padding, the padding holds the rest of the lap, and the producer has only the lines
/// below the index it padded from. A consumer that waits follows the padding at once; one
/// that took everything and went on with other work (a burst then arrives) would have left
/// the producer a few hundred bytes of a ring of any size (seen in a test: a 64 KiB ring
/// full after 12 messages of 200 bytes). What remains: a wait that ends at the moment the
/// producer decides (a timeout), a dropped async receive (its announcement stays until the
/// consumer's next receive or its drop) and a consumer killed while it spins waiting (a
/// sleeping one does not count as waiting here) leave that smaller room until a consumer
/// reads on. A failed check
/// is retried a window later, the gap doubling with each failure in a row up to one
/// capacity (a consumer that answers before it releases, as `tx.send(&rx.recv()?)`, is
/// sometimes caught holding the message; without the retry that cost a whole lap of
/// walking: 205-215 ns against 178-181 ns on a 4 KiB ring, measured).
///
/// Measured (`cargo bench --bench ring`, one binary, the window set by a switch since
/// removed, alternating): the busy-poll round trip of 64-byte messages on a 4 MiB ring
/// was 200-214 ns without recycling; with a window of 4 KiB 179-194 ns, 1 KiB 182-190,
/// 512 bytes 162-169, 128-320 bytes (2-5 records) 132-157, and 208-212 ns when every
/// message started over (a `read_pos` load per message). A few records per lap is what
/// pays, whatever their size, so the window grows with the message
/// ([`RECYCLE_RECORDS`]): 256-byte and 1 KiB messages measured 216-238 and 398-433 ns
/// with it, against 251-257 and 521-527 ns without.
/// A check is one load of the consumer's line, a few per lap while the ring is never
/// empty, so streaming is unaffected.
pub(crate) const RECYCLE_WINDOW: u64 = 256;

/// Records of the next message's size that must lie below the write index before the
/// producer checks whether it may start over (see [`RECYCLE_WINDOW`]).
pub(crate) const RECYCLE_RECORDS: u64 = 4;

/// Slipping: how far a consumer that has caught up with a streaming producer lets it run
/// ahead before it reads on (a quarter of the ring, if that is less). See
/// [`ConsumerCore::slip`].
///
/// Why: a consumer faster than its producer catches up with it, and then reads each record
/// as it is written, polling the line the producer writes next. Every record then costs
/// line transfers both ways, both sides slow to a crawl, and the faster consumer keeps them
/// there. Measured (64 B messages, 4 MiB ring, the consumer in its own process, one lap
/// in, rtrb between two threads in the same rounds): rounds in which the consumer found
/// the ring empty 30 000-780 000 times per 3.2 M messages ran at 14-150 M msg/s, 0.1-0.6x
/// rtrb, whose reader, slower than its producer, stays behind it; rounds in which it stayed
/// behind ran at 0.43-0.92x. With the slip (54 rounds each, runs alternated): median
/// 0.78 -> 1.00x rtrb, rounds under 0.5x 19% -> 4%; `cargo bench --bench ring --
/// --stream-only`, eight alternated runs: "64 B" 0.76 -> 1.01x, "64 B, one lap in" 0.73 ->
/// 0.77x (medians of runs). 16 KiB to 1 MiB did the same; 4 KiB less.
pub(crate) const SLIP_BYTES: u64 = 16 << 10;

/// Slipping: the producer must publish at least this many bytes in every [`SLIP_CHECK`]
/// polls of the consumer's slip (about 35 M msg/s of 64 B with PAUSE at 25 ns), else the
/// slip ends and the consumer reads on. A peer that answers requests, or sends at a
/// moderate rate, fails this at the first check: its messages wait at most those polls.
/// (2 KiB measured worse: fast streams then failed it too, 0.89 against 1.09x rtrb.)
const SLIP_PACE: u64 = 1024;

/// Slipping: polls between two pace checks.
const SLIP_CHECK: u32 = 16;

/// Slipping: after a failed slip the consumer skips it for the next 1, 2, 4, ... waits
/// (doubling with each failure in a row, at most this many), so that a request/response
/// pair or a moderate stream pays one failed slip per this many messages.
const SLIP_BACKOFF_MAX: u32 = 1024;

/// Whether a `capacity`-byte ring recycles with a `window`-byte window: the ring must be
/// at least four windows, and at most 4 GiB (padding records carry a u32 length, so
/// larger rings cannot pad from the window to their end).
fn recycles(capacity: u64, window: u64) -> bool {
    window != 0 && (4 * window..=1 << 32).contains(&capacity)
}

/// The first recycle check position for a producer at `write` (see [`RECYCLE_WINDOW`]).
fn recycle_start(write: u64, geo: &Geometry) -> u64 {
    let window = geo.recycle;
    if !recycles(geo.capacity, window) {
        return u64::MAX;
    }
    let lap = write & !geo.mask();
    if write - lap < window {
        lap + window
    } else {
        lap + geo.capacity + window
    }
}

// SAFETY: the core only touches the shared block through atomics and the data area through
// the SPSC protocol; moving it to another thread moves the only producer cursor with it.
unsafe impl Send for ProducerCore {}

impl ProducerCore {
    /// Attaches a producer to a ring, continuing after a previous producer, if any (whose
    /// last records may be visible past `write_pos`: they are found by walking headers).
    ///
    /// # Safety
    /// No other producer may use this ring (in any process) for the life of the core: the
    /// ring protocol gives each side's bytes to one writer.
    pub(crate) unsafe fn attach(mem: RingMemory) -> Result<ProducerCore> {
        let (data, geo) = (&mem.data, mem.geo);
        let sh = mem.shared();
        // SYNC: Acquire pairs with the consumer's Release of read_pos (space it freed).
        let r = sh.read_pos.load(Ordering::Acquire);
        let w0 = sh.write_pos.load(Ordering::Acquire);
        check_positions(r, w0, geo.capacity)?;
        // Walk the records from read_pos, not from write_pos: every position up to
        // write_pos must hold a record (else write_pos was moved past them, and this
        // producer would write where the consumer never looks), and records past it are
        // a previous producer's last commits.
        let mut w = r;
        while w - r < geo.capacity {
            let Some((size, _)) = record_at(data, &geo, w)? else {
                break;
            };
            if w + size - r > geo.capacity {
                return Err(Error::corrupt(format!(
                    "records from read_pos {r} run over one capacity ({}) at position {w}",
                    geo.capacity
                )));
            }
            w += size;
        }
        if w < w0 {
            return Err(Error::corrupt(format!(
                "write_pos {w0} is past the last record, which ends at position {w} (read_pos {r})"
            )));
        }
        Ok(ProducerCore {
            mem,
            write: w,
            published: w0,
            cached_read: r,
            recycle_at: recycle_start(w, &geo),
            recycle_gap: geo.recycle,
            excusable: crate::wake::excuse::enabled(),
        })
    }

    #[inline(always)]
    fn shared(&self) -> &RingShared {
        self.mem.shared()
    }

    /// Copies `msg` into the payload of `r`, which must be at least as long.
    #[inline(always)]
    pub(crate) fn fill(&mut self, r: &Reservation, msg: &[u8]) {
        if msg.len() > r.len {
            overrun(msg.len(), r.len);
        }
        // SAFETY: `r` was made by `reserve` on this core (its fields are private to this
        // module): its payload lies in the data area, past the consumer's read position
        // and before anything published, so this producer alone owns those bytes until
        // `commit` takes `r`.
        unsafe { self.mem.data.write(r.offset, msg) }
    }

    /// The payload bytes of `r` as written so far.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn reserved(&self, r: &Reservation) -> &[u8] {
        // SAFETY: as in `fill`: in bounds and owned by this producer until `commit`, and
        // not written while this shared borrow of the core lives.
        unsafe { self.mem.data.slice(r.offset, r.len) }
    }

    /// The payload bytes of `r`, to write the message in place.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn reserved_mut(&mut self, r: &Reservation) -> &mut [u8] {
        // SAFETY: as in `fill`: in bounds and owned by this producer until `commit`; the
        // `&mut self` borrow makes the slice the only reference to those bytes.
        unsafe { self.mem.data.slice_mut(r.offset, r.len) }
    }

    /// Reserves room for a message of `len` bytes. `Ok(None)` if the ring has no room now.
    #[inline(always)]
    pub(crate) fn reserve(&mut self, len: usize) -> Result<Option<Reservation>> {
        if len > self.mem.geo.max_message as usize {
            return Err(self.too_large(len));
        }
        let rec = record_size(len as u64);
        let idx = self.write & self.mem.geo.mask();
        let to_end = self.mem.geo.capacity - idx;
        let (mut pad, mut start) = if rec > to_end { (to_end, 0) } else { (0, idx) };
        if self.write >= self.recycle_at
            && idx >= self.mem.geo.recycle_records * rec
            && pad == 0
            && self.may_start_over(to_end + rec + RECORD_HEADER)?
        {
            // Everything was taken: start over at index 0 (see RECYCLE_WINDOW).
            (pad, start) = (to_end, 0);
        }
        // + 8: the next record's header slot, zeroed at commit (see the module docs).
        let need = pad + rec + RECORD_HEADER;
        if self.write + need - self.cached_read > self.mem.geo.capacity {
            let r = self.refresh_read()?;
            if self.write + need - r > self.mem.geo.capacity {
                return Ok(None);
            }
        }
        Ok(Some(Reservation {
            offset: (start + RECORD_HEADER) as usize,
            len,
            pad,
        }))
    }

    /// The error for a message of `len` bytes, above the ring's largest (out of line: an
    /// inline error construction kept `reserve` itself out of line).
    #[cold]
    #[inline(never)]
    fn too_large(&self, len: usize) -> Error {
        Error::MessageTooLarge {
            len,
            max: self.mem.geo.max_message as usize,
        }
    }

    /// The recycle check (see [`RECYCLE_WINDOW`]): true if the consumer has taken
    /// everything and `need` bytes (padding to the end, the message, the next header slot)
    /// fit, so the next message may start over at index 0. Schedules the next check: in
    /// the next lap after a success; after a failure, a gap further on that doubles with
    /// each failure in a row, up to one capacity, so a producer that runs ahead of its
    /// consumer checks only a few times per lap, and one whose consumer was just slow to
    /// release checks again a few messages later.
    #[cold]
    fn may_start_over(&mut self, need: u64) -> Result<bool> {
        // Only while the consumer waits here: one that took everything and went on with
        // other work would, before it reads the padding, leave this producer only the
        // lines below the index it pads from (the padding holds the rest of the lap), a
        // few hundred bytes of a ring of any size.
        // And only while it spins, not sleeps: a consumer killed in its sleep leaves its
        // announcement (and its count in `waiters`), and would leave the producer those few
        // hundred bytes until the next consumer attaches; a sleeping consumer gains nothing
        // worth a wake-up's cost from the first lines. (One killed while it spun still
        // leaves them: see `RECYCLE_WINDOW`.)
        // SYNC: hints, no data rides on them (starting over is safe whenever `read_pos`
        // equals `write`, checked with Acquire below): Relaxed.
        let shared = self.shared();
        let waiting = shared.consumer_waiting.load(Ordering::Relaxed) == self.write.wrapping_add(1)
            && shared.data_wake.waiters.load(Ordering::Relaxed) == 0;
        let empty = waiting && self.refresh_read()? == self.write && need <= self.mem.geo.capacity;
        if empty {
            self.recycle_at = (self.write | self.mem.geo.mask()) + 1 + self.mem.geo.recycle;
            self.recycle_gap = self.mem.geo.recycle;
        } else {
            self.recycle_at = self.write + self.recycle_gap;
            self.recycle_gap = (self.recycle_gap * 2).min(self.mem.geo.capacity);
        }
        Ok(empty)
    }

    /// Re-reads `read_pos` into the cached copy, and returns it.
    #[inline]
    fn refresh_read(&mut self) -> Result<u64> {
        // SYNC: Acquire pairs with the consumer's Release of read_pos: the records it
        // freed are no longer read, so we may overwrite them.
        let r = self.shared().read_pos.load(Ordering::Acquire);
        if r < self.cached_read || r > self.write || r % 8 != 0 {
            return Err(Error::corrupt(format!(
                "read_pos {r} outside [{}, {}] or misaligned",
                self.cached_read, self.write
            )));
        }
        self.cached_read = r;
        Ok(r)
    }

    /// True once the consumer has released everything this producer committed.
    /// Validates `read_pos` as [`ProducerCore::reserve`] does.
    pub(crate) fn drained(&mut self) -> Result<bool> {
        Ok(self.refresh_read()? == self.write)
    }

    /// The messages (and their payload bytes) committed and not yet released by the
    /// consumer, counted by walking the records from `read_pos` (cold: for reporting what
    /// a consumer that left did not take).
    pub(crate) fn unread(&mut self) -> Result<(u64, u64)> {
        let r = self.refresh_read()?;
        let (mut pos, mut messages, mut bytes) = (r, 0u64, 0u64);
        while pos < self.write {
            let Some((size, len)) = record_at(&self.mem.data, &self.mem.geo, pos)? else {
                break;
            };
            if let Some(len) = len {
                messages += 1;
                bytes += len as u64;
            }
            pos += size;
        }
        if pos != self.write {
            return Err(Error::corrupt(format!(
                "the records from read_pos {r} end at position {pos}, not at {} where this producer wrote up to",
                self.write
            )));
        }
        Ok((messages, bytes))
    }

    /// The check a waiting producer makes at each wait slice's end (cold, never on the
    /// send path): `read_pos` is valid (see [`ProducerCore::reserve`]), and if the consumer
    /// has not taken everything, a record is where `read_pos` points. An empty slot there
    /// means a third party moved `read_pos` (or zeroed the records): the consumer, which
    /// looks for records at its own position, would never get the rest, and this producer
    /// would wait for ever.
    pub(crate) fn check_stalled(&self) -> Result<()> {
        // SYNC: Acquire pairs with the consumer's Release of read_pos (as in refresh_read).
        let r = self.shared().read_pos.load(Ordering::Acquire);
        if r < self.cached_read || r > self.write || r % 8 != 0 {
            return Err(Error::corrupt(format!(
                "read_pos {r} outside [{}, {}] or misaligned",
                self.cached_read, self.write
            )));
        }
        if r < self.write && record_at(&self.mem.data, &self.mem.geo, r)?.is_none() {
            return Err(Error::corrupt(format!(
                "read_pos {r} points at an empty slot, though records were written up to position {}",
                self.write
            )));
        }
        Ok(())
    }

    /// Makes the message of `r` visible to the consumer (its payload must be written).
    /// Call [`ProducerCore::publish`] after one or more commits to update `write_pos` and
    /// learn whether the consumer sleeps.
    #[inline]
    pub(crate) fn commit(&mut self, r: Reservation) {
        let idx = (self.write & self.mem.geo.mask()) as usize;
        let size = record_size(r.len as u64);
        let next = self.write + r.pad + size;
        // SAFETY: (all three stores) the slots are 8-aligned, in bounds (a record never
        // passes the end, and `next`'s slot is inside the 8 extra bytes `reserve`
        // checked), and past `write`: owned by the producer.
        unsafe {
            // Keep the invariant: the slot at the new write position reads zero.
            self.mem.data.store_header(
                (next & self.mem.geo.mask()) as usize,
                0,
                0,
                Ordering::Relaxed,
            );
            // SYNC: Release publishes the payload (and the zeroed next slot) to a consumer
            // that loads this header with Acquire.
            self.mem.data.store_header(
                r.offset - RECORD_HEADER as usize,
                r.len as u32,
                REC_MESSAGE,
                Ordering::Release,
            );
            if r.pad > 0 {
                // SYNC: Release after the message header at index 0, so a consumer that
                // follows the padding finds the message.
                self.mem.data.store_header(
                    idx,
                    (r.pad - RECORD_HEADER) as u32,
                    REC_PADDING,
                    Ordering::Release,
                );
            }
        }
        self.write = next;
    }

    /// Stores `write_pos` and returns true if the consumer announced that it sleeps and
    /// must be woken (the caller wakes it: see `crate::wake`).
    #[inline]
    pub(crate) fn publish(&mut self) -> bool {
        if self.write == self.published {
            return false;
        }
        self.published = self.write;
        let sh = self.shared();
        // SYNC: Release, so that whoever loads write_pos with Acquire (an attaching side,
        // `inspect`, the consumer's slice-end check) finds every record before it written.
        sh.write_pos.store(self.write, Ordering::Release);
        // The header stores above are what the consumer's re-check reads; the barrier is
        // skipped while the consumer polls and has promised its own (`wake::excuse`).
        sh.data_wake
            .after_publish(sh.data_excuse.excused(self.excusable))
    }

    /// Copies `msg` in and commits it. `Ok(false)` if no room.
    #[inline]
    pub(crate) fn push(&mut self, msg: &[u8]) -> Result<bool> {
        match self.reserve(msg.len())? {
            None => Ok(false),
            Some(r) => {
                self.fill(&r, msg);
                self.commit(r);
                Ok(true)
            }
        }
    }

    /// Bytes in use as far as this producer knows (committed, minus freed).
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.write - self.cached_read
    }
}

/// Where a received message lies in the data area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Payload offset in the data area.
    offset: usize,
    /// Payload length.
    len: usize,
}

/// The consumer's view.
#[derive(Debug)]
pub(crate) struct ConsumerCore {
    mem: RingMemory,
    /// Position of the next record to read.
    read: u64,
    /// What `read_pos` holds (the last value this consumer released).
    released: u64,
    /// As `ProducerCore::excusable`, for the release fence.
    excusable: bool,
    /// Slipping ([`ConsumerCore::slip`]): waits to let pass before the next slip, and how
    /// many to let pass after the next failed one.
    slip_skip: u32,
    slip_backoff: u32,
}

// SAFETY: as for ProducerCore.
unsafe impl Send for ConsumerCore {}

impl ConsumerCore {
    /// Attaches a consumer, continuing where the previous one (if any) released.
    ///
    /// # Safety
    /// As [`ProducerCore::attach`], for the consumer role.
    pub(crate) unsafe fn attach(mem: RingMemory) -> Result<ConsumerCore> {
        let geo = mem.geo;
        let sh = mem.shared();
        let r = sh.read_pos.load(Ordering::Acquire);
        let w = sh.write_pos.load(Ordering::Acquire);
        check_positions(r, w, geo.capacity)?;
        Ok(ConsumerCore {
            mem,
            read: r,
            released: r,
            excusable: crate::wake::excuse::enabled(),
            slip_skip: 0,
            slip_backoff: 0,
        })
    }

    #[inline(always)]
    fn shared(&self) -> &RingShared {
        self.mem.shared()
    }

    /// Tells the producer that this consumer now waits at its read position for the next
    /// record (called once per wait, on its first miss), so that the producer may start
    /// over at index 0 there (see [`RECYCLE_WINDOW`]): a consumer that waits follows the
    /// padding at once.
    #[inline]
    pub(crate) fn announce_waiting(&self) {
        // SYNC: a hint (see `ProducerCore::may_start_over`): Relaxed.
        self.shared()
            .consumer_waiting
            .store(self.read.wrapping_add(1), Ordering::Relaxed);
    }

    /// Called when a receive that may spin first finds nothing: if the producer is
    /// streaming, waits (spinning, looking only at `write_pos`, never at the records'
    /// lines) until it has published [`SLIP_BYTES`] past this consumer's position, so that
    /// the two no longer work on the same lines (see [`SLIP_BYTES`] for why and what it
    /// gained). The producer must keep [`SLIP_PACE`]; if it does not (it answers requests,
    /// sends at a moderate rate, or stopped), the slip ends at the next pace check and the
    /// next slips are skipped for a while ([`SLIP_BACKOFF_MAX`]). The caller looks for a
    /// record afterwards either way: `write_pos` is only a hint here (a peer may store
    /// anything there), and every record is still checked where it is read.
    ///
    /// `slip_due` says whether to call it: false (and one wait counted off) while slips
    /// are skipped after a failure.
    #[cold]
    #[inline(never)]
    pub(crate) fn slip(&mut self) {
        let target = self.read + SLIP_BYTES.min(self.mem.geo.capacity / 4);
        let shared = self.shared();
        // SYNC: a hint, no data rides on it (records are read through their headers, with
        // Acquire): Relaxed.
        let mut mark = shared.write_pos.load(Ordering::Relaxed);
        let mut last = mark;
        let mut polls: u32 = 0;
        // At the pace asked for, the target is reached within this many polls; the bound
        // also holds whatever a peer stores in `write_pos`.
        let most = SLIP_CHECK * (SLIP_BYTES / SLIP_PACE + 1) as u32;
        while last < target && polls < most {
            crate::sync::spin_hint();
            last = shared.write_pos.load(Ordering::Relaxed);
            polls += 1;
            if polls % SLIP_CHECK == 0 {
                // Not wrapping: a `write_pos` that moves back (a hostile peer) ends it.
                if last.saturating_sub(mark) < SLIP_PACE {
                    break;
                }
                mark = last;
            }
        }
        if last >= target {
            self.slip_backoff = 0;
        } else {
            self.slip_backoff = (self.slip_backoff * 2).clamp(1, SLIP_BACKOFF_MAX);
            self.slip_skip = self.slip_backoff;
        }
    }

    /// Whether the wait starting now slips first ([`ConsumerCore::slip`]): false, counting
    /// this wait off, while slips are skipped after a failed one.
    #[inline]
    pub(crate) fn slip_due(&mut self) -> bool {
        if self.slip_skip == 0 {
            return true;
        }
        self.slip_skip -= 1;
        false
    }

    /// Withdraws [`ConsumerCore::announce_waiting`] (a wait that ends without a record: a
    /// timeout, an error), so the producer does not start over while nobody reads.
    #[cold]
    pub(crate) fn withdraw_waiting(&self) {
        // SYNC: a hint: Relaxed.
        self.shared().consumer_waiting.store(0, Ordering::Relaxed);
    }

    /// The payload of `slot`, in shared memory. See the ring module's docs on what a
    /// hostile peer writing these bytes means for a reference into them.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn bytes(&self, slot: &Slot) -> &[u8] {
        // SAFETY: `slot` was made by `peek` on this core (its fields are private to this
        // module): validated to lie in the data area and published to us; the producer does
        // not write it until `release` frees it, which needs `&mut self`.
        unsafe { self.mem.data.slice(slot.offset, slot.len) }
    }

    /// Replaces `buf`'s contents with a copy of `slot`'s payload, read with word-sized
    /// atomic loads (no reference into shared memory is made).
    #[inline]
    pub(crate) fn copy_out(&self, slot: &Slot, buf: &mut Vec<u8>) {
        // SAFETY: as in `bytes`; the record is 8-aligned and ends (rounded up to 8) within
        // the data area, as `read_atomic_into` requires.
        unsafe { self.mem.data.read_atomic_into(slot.offset, slot.len, buf) }
    }

    /// The next message, if one is published: its place in the data area. Padding records
    /// are skipped. The message stays unreleased until [`ConsumerCore::advance`] and
    /// [`ConsumerCore::release`].
    ///
    /// Inline, with everything but "a valid message" and "nothing yet" out of line
    /// (padding comes once a lap, a bad header never in a sound ring): as one function
    /// with its error messages it was called out of line, and a 64-byte message sent and
    /// received in one thread cost 166 instructions (callgrind), 54 of them in this call.
    #[inline(always)]
    pub(crate) fn peek(&mut self) -> Result<Option<Slot>> {
        loop {
            let idx = self.read & self.mem.geo.mask();
            // SYNC: Acquire pairs with the producer's Release store of this header: the
            // payload (and the next slot's zeroing) is visible.
            // Both fields are validated below.
            let (len, kind) = header_at(&self.mem.data, idx);
            if kind == REC_MESSAGE {
                let total = record_size(len as u64);
                if len <= self.mem.geo.max_message
                    && idx + total <= self.mem.geo.capacity
                    && self.read + total - self.released <= self.mem.geo.capacity
                {
                    return Ok(Some(Slot {
                        offset: (idx + RECORD_HEADER) as usize,
                        len: len as usize,
                    }));
                }
                return Err(self.bad_record(idx, len, kind));
            }
            if kind == 0 && len == 0 {
                // Nothing yet. While polling, also pull in the line after the header's: a
                // message that spills into it (a 64-byte payload plus its header always
                // does) then arrives in about one cache-line transfer time instead of two
                // in a row. Measured on the reference machine: busy-poll round trip
                // 227-240 -> 195-208 ns in the same binary.
                self.mem.data.prefetch((idx as usize | 63) + 1);
                return Ok(None);
            }
            self.skip_padding(idx, len, kind)?;
        }
    }

    /// A padding record at `idx` (any other kind is corruption): checks that it ends
    /// exactly at the end of the data area, and moves the cursor past it.
    #[cold]
    #[inline(never)]
    fn skip_padding(&mut self, idx: u64, len: u32, kind: u32) -> Result<()> {
        let total = RECORD_HEADER + len as u64;
        if kind != REC_PADDING || self.read + total - self.released > self.mem.geo.capacity {
            return Err(self.bad_record(idx, len, kind));
        }
        if idx + total != self.mem.geo.capacity {
            return Err(Error::corrupt(format!(
                "padding record of {len} bytes at position {} does not end at the end of the data area",
                self.read
            )));
        }
        self.read += total;
        Ok(())
    }

    /// The error for the record header (`len`, `kind`) at `idx` that [`ConsumerCore::peek`]
    /// refused: an unknown kind, a record running past one capacity after `read_pos`, or a
    /// message too large or not fitting before the end of the data area.
    #[cold]
    #[inline(never)]
    fn bad_record(&self, idx: u64, len: u32, kind: u32) -> Error {
        let total = match kind {
            REC_MESSAGE => record_size(len as u64),
            REC_PADDING => RECORD_HEADER + len as u64,
            other => {
                return Error::corrupt(format!(
                    "unknown record kind {other:#x} (len {len}) at position {}",
                    self.read
                ));
            }
        };
        if self.read + total - self.released > self.mem.geo.capacity {
            return Error::corrupt(format!(
                "record of {total} bytes at position {} runs past one capacity ({}) after read_pos {}",
                self.read, self.mem.geo.capacity, self.released
            ));
        }
        Error::corrupt(format!(
            "message record of {len} bytes at position {} does not fit (max {}, {} to the end)",
            self.read,
            self.mem.geo.max_message,
            self.mem.geo.capacity - idx
        ))
    }

    /// Moves the read cursor past the message `slot` returned by [`ConsumerCore::peek`].
    #[inline(always)]
    pub(crate) fn advance(&mut self, slot: Slot) {
        debug_assert_eq!(
            (self.read & self.mem.geo.mask()) + RECORD_HEADER,
            slot.offset as u64
        );
        self.read += record_size(slot.len as u64);
    }

    /// Frees everything before the read cursor for the producer. Returns true if the
    /// producer announced that it sleeps and must be woken.
    #[inline]
    pub(crate) fn release(&mut self) -> bool {
        if self.read == self.released {
            return false;
        }
        self.released = self.read;
        let sh = self.shared();
        // SYNC: Release orders our reads of the freed records before the producer's reuse
        // of their bytes (it loads read_pos with Acquire).
        sh.read_pos.store(self.read, Ordering::Release);
        // As in `ProducerCore::publish`, for the producer's sleep waiting for room.
        sh.space_wake
            .after_publish(sh.space_excuse.excused(self.excusable))
    }

    /// Copies the next message into `buf` (cleared first) and moves past it, without
    /// releasing. `Ok(false)` if none. (The handles copy out in `Consumer::copy_out`; this
    /// form serves the in-process models.)
    #[cfg(any(test, loom))]
    pub(crate) fn pop_into(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        match self.peek()? {
            None => Ok(false),
            Some(slot) => {
                self.copy_out(&slot, buf);
                self.advance(slot);
                Ok(true)
            }
        }
    }

    /// The check a waiting consumer makes at each wait slice's end (cold: the polling
    /// path reads only the header at its position, never `write_pos`). The documented
    /// invariant says records are published before `write_pos` covers them, so:
    /// `write_pos` must be 8-aligned and at most one capacity past `read_pos`, and when
    /// it is past this consumer's position, a record must be there. An empty slot there
    /// means a third party moved `write_pos` past the records (or zeroed them): waiting
    /// on would sleep for ever beside messages reported as sent.
    pub(crate) fn check_stalled(&self) -> Result<()> {
        // SYNC: Acquire pairs with the producer's Release store of write_pos: every
        // record header below it is visible to the load after this one.
        let w = self.shared().write_pos.load(Ordering::Acquire);
        if w % 8 != 0 || (w > self.released && w - self.released > self.mem.geo.capacity) {
            return Err(Error::corrupt(format!(
                "write_pos {w} is misaligned or more than one capacity ({}) past read_pos {}",
                self.mem.geo.capacity, self.released
            )));
        }
        if w > self.read && record_at(&self.mem.data, &self.mem.geo, self.read)?.is_none() {
            return Err(Error::corrupt(format!(
                "write_pos {w} says records were published up to there, but none is at position {}",
                self.read
            )));
        }
        Ok(())
    }

    /// Bytes committed and not yet released, per the producer's last `write_pos`: a hint
    /// (a peer may store anything there), kept within `0 ..= capacity`.
    pub(crate) fn pending(&self) -> u64 {
        self.shared()
            .write_pos
            .load(Ordering::Relaxed)
            .saturating_sub(self.released)
            .min(self.mem.geo.capacity)
    }
}

/// A caller of [`ProducerCore::fill`] passed more bytes than it reserved: a bug in this
/// crate. Out of line, so the check costs the hot path one compare.
#[cold]
#[inline(never)]
fn overrun(len: usize, reserved: usize) -> ! {
    panic!("internal error: a {len}-byte message written into a {reserved}-byte reservation")
}

/// The record header at data-area index `idx` (`pos & mask`), read with Acquire. The value
/// may have been written by an untrusted peer: callers validate both fields.
#[inline(always)]
fn header_at(data: &DataArea, idx: u64) -> (u32, u32) {
    // SAFETY: every index comes from a position masked by `capacity - 1`, and positions
    // move by multiples of 8 (checked where they are read from shared memory), so `idx` is
    // 8-aligned and `idx + 8 <= capacity`. A header is read only where the protocol has
    // handed the slot to the reader (at or past its cursor): never bytes being written.
    unsafe { data.load_header(idx as usize) }
}

/// The record whose header is at position `pos`, read with Acquire and validated against
/// the geometry: `Ok(None)` for an empty slot, else its size and, for a message, its
/// payload length (`None` for padding).
fn record_at(data: &DataArea, geo: &Geometry, pos: u64) -> Result<Option<(u64, Option<u32>)>> {
    let idx = pos & geo.mask();
    let (len, kind) = header_at(data, idx);
    match kind {
        0 if len == 0 => Ok(None),
        REC_MESSAGE if len <= geo.max_message && idx + record_size(len as u64) <= geo.capacity => {
            Ok(Some((record_size(len as u64), Some(len))))
        }
        REC_PADDING if idx + RECORD_HEADER + len as u64 == geo.capacity => {
            Ok(Some((RECORD_HEADER + len as u64, None)))
        }
        _ => Err(Error::corrupt(format!(
            "record header {len:#x}/{kind:#x} at position {pos} is neither empty nor valid"
        ))),
    }
}

/// Checks a (read, write) pair read from shared memory.
pub(crate) fn check_positions(r: u64, w: u64, capacity: u64) -> Result<()> {
    if r % 8 != 0 || w % 8 != 0 {
        return Err(Error::corrupt(format!(
            "positions read {r} / write {w} are not 8-byte aligned"
        )));
    }
    if w < r || w - r > capacity {
        return Err(Error::corrupt(format!(
            "write_pos {w} is not within one capacity ({capacity}) after read_pos {r}"
        )));
    }
    Ok(())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::ring::layout::max_message_for;
    use proptest::prelude::*;
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicU64;

    /// An in-process ring: shared words and data area in heap memory, as atomics so that
    /// pointers taken from `&self` may write (the cores write through raw pointers, as
    /// they do into a mapping; miri's aliasing model checks this).
    pub(crate) struct Mem {
        shared: Box<RingShared>,
        data: Box<[AtomicU64]>,
        pub geo: Geometry,
    }

    impl Mem {
        pub(crate) fn new(capacity: u64, max_message: u32) -> Mem {
            Mem {
                shared: Box::new(RingShared::new_model()),
                data: (0..capacity / 8).map(|_| AtomicU64::new(0)).collect(),
                geo: Geometry::new(capacity, max_message),
            }
        }
        /// Attaches a core with `attach` (`ProducerCore::attach` or `ConsumerCore::attach`).
        fn attach<T>(&self, attach: unsafe fn(RingMemory) -> Result<T>) -> Result<T> {
            // The pointers are taken from `&self` at each attach, as they are into a mapping
            // (a box moved after a pointer was taken would invalidate it: miri checks).
            // SAFETY: both blocks are heap memory of the right sizes, 8-aligned, that every
            // test keeps (unmoved) beyond the cores it makes; the data area is written only
            // through pointers taken from this shared reference (its words are atomics,
            // UnsafeCells); each test makes at most one producer and one consumer of a Mem at
            // a time (the attach contracts' one-writer-per-side rule).
            unsafe {
                attach(RingMemory::new(
                    &*self.shared,
                    DataArea::new(self.data.as_ptr() as *mut u8, self.geo.capacity as usize),
                    self.geo,
                ))
            }
        }
        pub(crate) fn try_producer(&self) -> Result<ProducerCore> {
            self.attach(ProducerCore::attach)
        }
        pub(crate) fn try_consumer(&self) -> Result<ConsumerCore> {
            self.attach(ConsumerCore::attach)
        }
        pub(crate) fn producer(&self) -> ProducerCore {
            self.try_producer().unwrap()
        }
        pub(crate) fn consumer(&self) -> ConsumerCore {
            self.try_consumer().unwrap()
        }
        /// Overwrites data word `i` (a hostile peer's write).
        fn set_data_word(&self, i: usize, v: u64) {
            self.data[i].store(v, Ordering::Relaxed);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Send(usize),
        /// Reserve, write, and drop without committing.
        Abandon(usize),
        Recv,
        /// Drain up to n, release once.
        Batch(usize),
        /// Publish several with one publication.
        SendMany(Vec<usize>),
        /// Replace the consumer by a fresh one (consumer restart).
        Reattach,
        /// The consumer says it waits for the next record (as a receive that found
        /// nothing does), so the producer may start over early.
        Wait,
    }

    fn op(max: usize) -> impl Strategy<Value = Op> {
        let size = prop_oneof![Just(0usize), Just(max), 0..=max, 0..=16usize];
        prop_oneof![
            4 => size.clone().prop_map(Op::Send),
            1 => size.clone().prop_map(Op::Abandon),
            4 => Just(Op::Recv),
            1 => (0..5usize).prop_map(Op::Batch),
            1 => proptest::collection::vec(size, 0..5).prop_map(Op::SendMany),
            1 => Just(Op::Reattach),
            2 => Just(Op::Wait),
        ]
    }

    fn payload(seq: u64, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (seq as usize * 31 + i * 7) as u8)
            .collect()
    }

    proptest! {
        // Under miri (CI runs these tests there too) every case is interpreted: a few
        // cases check the aliasing and bounds, the native run covers the sequences. Miri
        // also has no file system to save failing cases to.
        #![proptest_config(ProptestConfig {
            cases: if cfg!(miri) { 4 } else { 256 },
            failure_persistence: if cfg!(miri) {
                None
            } else {
                ProptestConfig::default().failure_persistence
            },
            ..ProptestConfig::default()
        })]

        /// The core against a VecDeque model: every message delivered whole, in order,
        /// once; full exactly when the model says the bytes do not fit.
        #[test]
        fn matches_vecdeque_model(cap_log in 6u32..11, recycle_div in prop_oneof![Just(0u64), Just(4u64), Just(8u64)], recycle_records in 0u64..5, ops in proptest::collection::vec(op(1 << 9), 1..300)) {
            let cap = 1u64 << cap_log;
            let max = max_message_for(cap) as u32;
            let mut mem = Mem::new(cap, max);
            // Recycling off, or a window of a quarter or an eighth of the ring.
            mem.geo.recycle = cap.checked_div(recycle_div).unwrap_or(0);
            mem.geo.recycle_records = recycle_records;
            let mut p = mem.producer();
            let mut c = mem.consumer();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            let mut seq = 0u64;
            let mut buf = Vec::new();
            for o in ops {
                match o {
                    Op::Send(n) => {
                        let n = n.min(max as usize);
                        let m = payload(seq, n);
                        if p.push(&m).unwrap() {
                            p.publish();
                            model.push_back(m);
                            seq += 1;
                        } else {
                            // Full: the model must hold enough bytes that this could not fit.
                            prop_assert!(!model.is_empty());
                        }
                    }
                    Op::Abandon(n) => {
                        let n = n.min(max as usize);
                        if let Some(r) = p.reserve(n).unwrap() {
                            p.fill(&r, &vec![0xEE; n]);
                            // dropped without commit: nothing is published
                        }
                        prop_assert_eq!(p.publish(), false);
                    }
                    Op::Recv => {
                        let got = c.pop_into(&mut buf).unwrap();
                        c.release();
                        match model.pop_front() {
                            Some(m) => { prop_assert!(got); prop_assert_eq!(&buf, &m); }
                            None => prop_assert!(!got),
                        }
                    }
                    Op::Batch(k) => {
                        for _ in 0..k {
                            match c.peek().unwrap() {
                                Some(slot) => {
                                    // SAFETY: validated slot.
                                    let s = c.bytes(&slot).to_vec();
                                    prop_assert_eq!(Some(s), model.pop_front());
                                    c.advance(slot);
                                }
                                None => { prop_assert!(model.is_empty()); break; }
                            }
                        }
                        c.release();
                    }
                    Op::SendMany(ns) => {
                        let mut sent = Vec::new();
                        for n in ns {
                            let n = n.min(max as usize);
                            let m = payload(seq, n);
                            if p.push(&m).unwrap() { sent.push(m); seq += 1; } else { break; }
                        }
                        p.publish();
                        model.extend(sent);
                    }
                    Op::Reattach => {
                        c = mem.consumer();
                    }
                    Op::Wait => c.announce_waiting(),
                }
                prop_assert!(p.used() <= cap);
            }
            // Drain: everything left is delivered in order.
            while let Some(m) = model.pop_front() {
                prop_assert!(c.pop_into(&mut buf).unwrap());
                prop_assert_eq!(&buf, &m);
            }
            prop_assert!(!c.pop_into(&mut buf).unwrap());
        }

        /// Garbage in the shared positions and the data area never panics or reads out of
        /// bounds: every outcome is a message within bounds, "empty", or Corrupt.
        #[test]
        fn garbage_is_corrupt_not_ub(cap_log in 6u32..10, w in any::<u64>(), r in any::<u64>(), words in proptest::collection::vec(any::<u64>(), 0..128), valid_prefix in 0usize..4) {
            let cap = 1u64 << cap_log;
            let mem = Mem::new(cap, max_message_for(cap) as u32);
            {
                let mut p = mem.producer();
                for i in 0..valid_prefix { let _ = p.push(&payload(i as u64, i * 5)); }
                p.publish();
            }
            let n = mem.data.len();
            for (i, v) in words.iter().enumerate() { mem.set_data_word(i % n, *v); }
            if w % 3 == 0 { mem.shared.write_pos.store(w, Ordering::Relaxed); }
            if r % 5 == 0 { mem.shared.read_pos.store(r, Ordering::Relaxed); }
            let c = mem.try_consumer();
            if let Ok(mut c) = c {
                let mut buf = Vec::new();
                for _ in 0..64 {
                    match c.pop_into(&mut buf) {
                        Ok(true) => { prop_assert!(buf.len() <= mem.geo.max_message as usize); c.release(); }
                        Ok(false) => break,
                        Err(Error::Corrupt(_)) => break,
                        Err(e) => prop_assert!(false, "unexpected error {e}"),
                    }
                }
            }
        }
    }

    #[test]
    fn padding_record_when_message_does_not_fit_before_end() {
        let mem = Mem::new(64, 24);
        let mut p = mem.producer();
        let mut c = mem.consumer();
        let mut buf = Vec::new();
        // A 16-byte payload is a 24-byte record (+8 for the next header slot).
        assert!(p.push(&[1; 16]).unwrap());
        assert!(p.push(&[2; 16]).unwrap());
        assert!(!p.push(&[9; 16]).unwrap(), "full: 48 used + 24 + 8 > 64");
        assert!(c.pop_into(&mut buf).unwrap());
        assert!(c.pop_into(&mut buf).unwrap());
        assert_eq!(buf, [2; 16]);
        c.release();
        // write at 48: 16 bytes left before the end; a 16-byte payload needs 24: padding.
        assert!(p.push(&[3; 16]).unwrap());
        assert!(c.pop_into(&mut buf).unwrap());
        assert_eq!(buf, [3; 16]);
        c.release();
        assert_eq!(mem.shared.read_pos.load(Ordering::Relaxed), 64 + 24);
        p.publish();
        assert_eq!(mem.shared.write_pos.load(Ordering::Relaxed), 64 + 24);
    }

    #[test]
    fn replacement_producer_finds_records_past_a_stale_write_pos() {
        let mem = Mem::new(256, 64);
        let mut p = mem.producer();
        p.push(b"one").unwrap();
        p.publish();
        p.push(b"two").unwrap(); // visible, but write_pos not stored (producer "killed")
        let mut p2 = mem.producer();
        p2.push(b"three").unwrap();
        let mut c = mem.consumer();
        let mut buf = Vec::new();
        for want in [&b"one"[..], b"two", b"three"] {
            assert!(c.pop_into(&mut buf).unwrap());
            assert_eq!(buf, want);
        }
        assert!(!c.pop_into(&mut buf).unwrap());
    }

    #[test]
    fn too_large_is_refused_not_truncated() {
        let mem = Mem::new(64, 24);
        let mut p = mem.producer();
        assert!(matches!(
            p.push(&[0; 25]),
            Err(Error::MessageTooLarge { len: 25, max: 24 })
        ));
    }

    #[test]
    fn corrupt_record_kind_is_reported() {
        let mem = Mem::new(64, 24);
        let mut p = mem.producer();
        assert!(p.push(b"abc").unwrap());
        p.publish();
        mem.set_data_word(0, 3 | (0xdead_beef_u64 << 32));
        let mut c = mem.consumer();
        let e = c.pop_into(&mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("unknown record kind"), "{e}");
    }

    #[test]
    fn records_running_past_one_capacity_are_corrupt() {
        let mem = Mem::new(64, 24);
        // A valid-looking chain of 24-byte records all around the ring and beyond.
        for i in 0..8 {
            let v = if i % 2 == 0 {
                8 | ((REC_MESSAGE as u64) << 32)
            } else {
                0x4141
            };
            mem.set_data_word(i, v);
        }
        let mut c = mem.consumer();
        let mut buf = Vec::new();
        let mut seen = 0;
        let err = loop {
            match c.pop_into(&mut buf) {
                Ok(true) => seen += 1,
                Ok(false) => panic!("ring looked empty"),
                Err(e) => break e,
            }
        };
        assert_eq!(seen, 4);
        assert!(err.to_string().contains("past one capacity"), "{err}");
    }

    /// Sends one message and takes it back; returns the payload's index in the data area.
    /// One message at a time: the consumer finds nothing and waits (announcing it, as a
    /// receive does), the producer sends, the consumer takes it.
    fn one_trip(p: &mut ProducerCore, c: &mut ConsumerCore, seq: u64, len: usize) -> usize {
        assert!(c.peek().unwrap().is_none());
        c.announce_waiting();
        let m = payload(seq, len);
        assert!(p.push(&m).unwrap());
        p.publish();
        let slot = c.peek().unwrap().expect("published");
        assert_eq!(c.bytes(&slot), &m[..]);
        c.advance(slot);
        c.release();
        slot.offset
    }

    /// Six one-message trips of `len` bytes through a 1 KiB ring with a 128-byte window:
    /// the payload offsets, and the producer's and consumer's positions after them.
    fn recycled_trips(len: usize) -> (Vec<usize>, u64, u64) {
        let mut mem = Mem::new(1024, 200);
        mem.geo.recycle = 128;
        let (mut p, mut c) = (mem.producer(), mem.consumer());
        let offsets = (0..6).map(|i| one_trip(&mut p, &mut c, i, len)).collect();
        let read = mem.shared.read_pos.load(Ordering::Relaxed);
        (offsets, p.write, read)
    }

    #[test]
    fn an_emptied_ring_starts_over_at_index_0_past_the_window() {
        // 40-byte records: 0, 40, 80, 120 (past the window at 128 after this one), then
        // the check finds the ring empty and starts over at 0.
        let (offsets, write, read) = recycled_trips(32);
        assert_eq!(offsets, [8, 48, 88, 128, 8, 48]);
        // Position-wise the padding took the rest of the lap, and the consumer passed it.
        assert_eq!((write, read), (1024 + 80, 1024 + 80));
    }

    #[test]
    fn a_ring_with_a_message_not_yet_released_does_not_start_over() {
        let mut mem = Mem::new(1024, 200);
        mem.geo.recycle = 128;
        let (mut p, mut c) = (mem.producer(), mem.consumer());
        for i in 0..3 {
            one_trip(&mut p, &mut c, i, 32);
        }
        // A message at 120 is still unreleased when the next one, past the window, checks:
        // that one goes on at 160, and the producer checks again a window later.
        for i in 3..5 {
            assert!(p.push(&payload(i, 32)).unwrap());
        }
        p.publish();
        assert_eq!(p.write, 200);
        let mut buf = Vec::new();
        for i in 3..5 {
            assert!(c.pop_into(&mut buf).unwrap());
            assert_eq!(buf, payload(i, 32));
        }
        c.release();
        let offsets: Vec<usize> = (5..9).map(|i| one_trip(&mut p, &mut c, i, 32)).collect();
        assert_eq!(offsets, [208, 248, 288, 8]);
    }

    #[test]
    fn a_producer_ahead_of_its_consumer_checks_a_few_times_per_lap() {
        let cap = 1u64 << 16;
        let mut mem = Mem::new(cap, 200);
        mem.geo.recycle = 128;
        let (mut p, mut c) = (mem.producer(), mem.consumer());
        let mut buf = Vec::new();
        assert!(p.push(&payload(0, 32)).unwrap());
        let mut checks = 0;
        // The consumer stays one message behind: the ring is never empty.
        for i in 1..(cap / 40) {
            let scheduled = p.recycle_at;
            assert!(p.push(&payload(i, 32)).unwrap());
            p.publish();
            if p.recycle_at != scheduled {
                checks += 1;
            }
            assert!(c.pop_into(&mut buf).unwrap());
            assert_eq!(buf, payload(i - 1, 32));
            c.release();
        }
        // Gaps of 128, 256, ... up to one capacity: a handful of checks, never a restart.
        assert!((5..=12).contains(&checks), "{checks} checks in one lap");
        assert!(p.write < cap);
    }

    #[test]
    fn the_window_grows_with_the_message() {
        // 112-byte records: the check waits until four of them lie below the write index.
        let (offsets, ..) = recycled_trips(100);
        assert_eq!(offsets, [8, 120, 232, 344, 8, 120]);
    }

    #[test]
    fn rings_too_small_or_too_large_do_not_recycle() {
        assert_eq!(Geometry::new(4 * RECYCLE_WINDOW - 8, 64).recycle, 0);
        assert_eq!(
            Geometry::new(8 * RECYCLE_WINDOW, 64).recycle,
            RECYCLE_WINDOW
        );
        assert_eq!(Geometry::new(1 << 33, 64).recycle, 0);
    }

    #[test]
    fn read_pos_moving_backwards_is_corrupt() {
        let mem = Mem::new(64, 24);
        let mut p = mem.producer();
        let mut c = mem.consumer();
        for _ in 0..2 {
            assert!(p.push(&[0; 16]).unwrap());
        }
        c.pop_into(&mut Vec::new()).unwrap();
        c.release();
        mem.shared.read_pos.store(8 * 1001, Ordering::Relaxed); // past what was written
        assert!(matches!(p.reserve(24), Err(Error::Corrupt(_))));
    }

    #[test]
    fn write_pos_moved_past_the_records_is_corrupt_for_both_sides() {
        let mem = Mem::new(1024, 200);
        let mut p = mem.producer();
        let mut c = mem.consumer();
        for i in 0..3 {
            assert!(p.push(&payload(i, 20)).unwrap());
        }
        p.publish();
        c.check_stalled().unwrap();
        let w = mem.shared.write_pos.load(Ordering::Relaxed);
        // A third party moves write_pos 64 bytes past the last record.
        mem.shared.write_pos.store(w + 64, Ordering::Relaxed);
        // The consumer still takes the three messages, then reports the gap.
        let mut buf = Vec::new();
        for i in 0..3 {
            assert!(c.pop_into(&mut buf).unwrap());
            assert_eq!(buf, payload(i, 20));
        }
        assert!(!c.pop_into(&mut buf).unwrap());
        let e = c.check_stalled().unwrap_err();
        assert!(e.to_string().contains("none is at position"), "{e}");
        // A producer attaching now (in place of the first) would write where the
        // consumer never looks: refused.
        let _ = p;
        let e = mem.try_producer().unwrap_err();
        assert!(e.to_string().contains("past the last record"), "{e}");
        // More than a capacity ahead of read_pos.
        mem.shared.write_pos.store(w + 2048, Ordering::Relaxed);
        assert!(matches!(c.check_stalled(), Err(Error::Corrupt(_))));
    }

    #[test]
    fn a_replacement_producer_still_continues_after_records_past_write_pos() {
        // write_pos lagging behind the records is normal (a producer killed between
        // commit and publish): the walk from read_pos passes it.
        let mem = Mem::new(256, 64);
        let mut p = mem.producer();
        p.push(b"one").unwrap();
        p.publish();
        p.push(b"two").unwrap();
        let mut c = mem.consumer();
        assert!(c.pop_into(&mut Vec::new()).unwrap());
        c.release();
        let p2 = mem.producer();
        assert_eq!(p2.write, p.write);
        c.check_stalled().unwrap();
    }

    /// Recycling (see `RECYCLE_WINDOW`) while the consumer waits, and the whole ring for a
    /// burst once it took everything and went on with other work (before, the producer
    /// started over whenever the ring was empty, and the padding it wrote then held the
    /// rest of the lap: the burst found room for 3 of these 62 messages).
    #[test]
    fn a_consumer_that_took_everything_and_paused_leaves_the_whole_ring() {
        let cap = 4096u64;
        let mem = Mem::new(cap, max_message_for(cap) as u32);
        assert_ne!(mem.geo.recycle, 0, "this ring recycles");
        let mut p = mem.producer();
        let mut c = mem.consumer();
        let mut buf = Vec::new();
        let msg = [7u8; 56]; // 64-byte records
        for i in 0..1000 {
            assert!(!c.pop_into(&mut buf).unwrap());
            c.announce_waiting();
            assert!(p.push(&msg).unwrap());
            p.publish();
            assert!(c.pop_into(&mut buf).unwrap());
            c.release();
            // A waiting consumer: the producer keeps to the first lines.
            assert!(p.write & (cap - 1) <= 512, "message {i} at {}", p.write);
        }
        // Took everything, does not wait: a burst has the whole ring (less the header slot
        // kept free at the write position and at most one padding to the end).
        let mut n = 0u64;
        while p.push(&msg).unwrap() {
            n += 1;
        }
        p.publish();
        assert!(n >= (cap - 64) / 64 - 1, "only {n} messages fit");
        for _ in 0..n {
            assert!(c.pop_into(&mut buf).unwrap());
            assert_eq!(buf, msg);
        }
        c.release();
        assert!(!c.pop_into(&mut buf).unwrap());
    }

    #[test]
    fn unread_counts_what_the_consumer_left_and_read_pos_on_an_empty_slot_is_corrupt() {
        let mem = Mem::new(1024, 200);
        let mut p = mem.producer();
        let mut c = mem.consumer();
        for i in 0..5 {
            assert!(p.push(&payload(i, 10 + i as usize)).unwrap());
        }
        p.publish();
        assert!(!p.drained().unwrap());
        let mut buf = Vec::new();
        assert!(c.pop_into(&mut buf).unwrap());
        c.release();
        assert_eq!(p.unread().unwrap(), (4, 11 + 12 + 13 + 14));
        p.check_stalled().unwrap();
        for _ in 0..4 {
            assert!(c.pop_into(&mut buf).unwrap());
        }
        c.release();
        assert!(p.drained().unwrap());
        assert_eq!(p.unread().unwrap(), (0, 0));
        // Messages of zero bytes again, then read_pos moved forward into one: a slot that
        // reads empty.
        for _ in 0..3 {
            assert!(p.push(&[0; 20]).unwrap());
        }
        let r = mem.shared.read_pos.load(Ordering::Relaxed);
        mem.shared.read_pos.store(r + 8, Ordering::Relaxed);
        let e = p.check_stalled().unwrap_err();
        assert!(e.to_string().contains("empty slot"), "{e}");
    }

    /// A slip with nothing published fails at its first pace check, and the next slips
    /// are skipped for 1, 2, 4, ... waits, up to `SLIP_BACKOFF_MAX`; one that finds the
    /// producer already far enough ahead succeeds at once and resets that.
    #[test]
    fn slip_backs_off_when_the_producer_does_not_stream() {
        let mem = Mem::new(1 << 20, 1024);
        let mut c = mem.consumer();
        let mut skipped_in_a_row = vec![];
        for _ in 0..14 {
            assert!(c.slip_due());
            c.slip(); // an attempt: nothing is published, so it fails
            let mut skipped = 0;
            while !c.slip_due() {
                skipped += 1; // each wait while skipping only counts down
            }
            skipped_in_a_row.push(skipped);
        }
        assert_eq!(
            skipped_in_a_row,
            [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1024, 1024, 1024]
        );
        // The producer is SLIP_BYTES ahead (as its write_pos says): the slip succeeds at
        // once, and the next wait slips again.
        let mut p = mem.producer();
        while mem.shared.write_pos.load(Ordering::Relaxed) < SLIP_BYTES {
            assert!(p.push(&[7u8; 1000]).unwrap());
            p.publish();
        }
        c.slip();
        assert_eq!((c.slip_skip, c.slip_backoff), (0, 0));
        assert!(c.slip_due());
    }

    /// A `write_pos` a hostile peer keeps moving (back and forth, each time by more than
    /// the pace) cannot hold the consumer in its slip: it ends within its poll bound.
    /// (Two threads: not under miri, whose step runs single-threaded tests only.)
    #[test]
    #[cfg_attr(miri, ignore)]
    fn slip_ends_whatever_a_peer_stores_in_write_pos() {
        let mem = Mem::new(1 << 20, 1024);
        let mut c = mem.consumer();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v = if i % 2 == 0 { 8 * 1024 } else { 0 };
                    mem.shared.write_pos.store(v, Ordering::Relaxed);
                    i += 1;
                }
            });
            for _ in 0..100 {
                c.slip();
            }
            stop.store(true, Ordering::Relaxed);
        });
        // What it read did not reach the target: the last slip counted as failed.
        assert!(c.slip_backoff >= 1);
    }
}
