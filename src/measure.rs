//! Measuring against the machine's floor.
//!
//! Absolute times on shared machines drift from run to run; ratios measured side by side
//! hold. This module provides the floors — a raw two-process cache-line ping-pong (busy
//! poll) and a raw shared-futex ping-pong (blocking) — and generic round-trip and
//! throughput drivers over any [`Sender`]/[`Receiver`] pair, so every method of the crate
//! (and the benches and the `ipcring compare` command) is measured the same way.
//!
//! Each driver runs in one process; its peer runs the matching `*_peer` function in
//! another process (the caller spawns it: typically its own executable re-run in a peer
//! role).
//!
//! Round trips are timed in batches of [`BATCH`] (reading the clock costs ~40 ns on a
//! virtual machine, comparable to what is measured); percentiles are over batch means.
//!
//! ```no_run
//! // Process A:
//! let stats = ipcring::measure::floor_spin("/floor", 100_000)?;
//! println!("spin floor p50 {:?}", stats.p50);
//! // Process B (started on its own, or spawned by A):
//! ipcring::measure::floor_spin_peer("/floor")?;
//! # Ok::<(), ipcring::Error>(())
//! ```

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::sync::DataArea;
use crate::sys::{self, futex, Location, Mapping};
use crate::transport::{Receiver, Sender};
use crate::{Error, Result};

/// Round trips per timed batch.
pub const BATCH: usize = 16;

/// Round-trip statistics.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    /// Median round trip.
    pub p50: Duration,
    /// 99th percentile (of batch means).
    pub p99: Duration,
    /// Mean round trip.
    pub mean: Duration,
    /// Round trips measured.
    pub count: usize,
}

impl Stats {
    /// Statistics from per-batch totals of `per_batch` round trips each.
    pub fn from_batches(mut batches: Vec<Duration>, per_batch: usize) -> Stats {
        if batches.is_empty() {
            return Stats::default();
        }
        let per = per_batch.max(1) as u32;
        batches.sort_unstable();
        let n = batches.len();
        let total: Duration = batches.iter().sum();
        Stats {
            p50: batches[n / 2] / per,
            p99: batches[(n * 99 / 100).min(n - 1)] / per,
            mean: total / (n as u32 * per),
            count: n * per_batch,
        }
    }
}

const STOP: u64 = u64::MAX;
/// The size of the shared page of the spin and futex floors.
const PAGE: usize = 4096;

/// Shared memory for the floors: one page, or [`RECORDS_AREA`] for [`floor_records`].
struct FloorPage {
    loc: Location,
    _fd: std::os::fd::OwnedFd,
    map: Mapping,
    creator: bool,
}

impl FloorPage {
    fn create(name: &str, len: usize) -> Result<FloorPage> {
        let loc = Location::parse(name)?;
        let _ = loc.unlink();
        let fd = loc
            .create_excl(0o600)?
            .ok_or_else(|| Error::AlreadyExists(name.to_owned()))?;
        sys::ftruncate(&fd, len as u64)?;
        let map = Mapping::map(&fd, len, true)?;
        Ok(FloorPage {
            loc,
            _fd: fd,
            map,
            creator: true,
        })
    }

    fn open(name: &str, len: usize) -> Result<FloorPage> {
        let loc = Location::parse(name)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(fd) = loc.open_existing(true, &crate::Access::new())? {
                let st = sys::owner::check_fd(
                    &fd,
                    name,
                    sys::owner::FileType::Regular,
                    &crate::Access::new(),
                    0o600,
                )?;
                if st.size >= len as u64 {
                    let map = Mapping::map(&fd, len, true)?;
                    return Ok(FloorPage {
                        loc,
                        _fd: fd,
                        map,
                        creator: false,
                    });
                }
            }
            if Instant::now() > deadline {
                return Err(Error::NotFound(name.to_owned()));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for FloorPage {
    fn drop(&mut self) {
        if self.creator {
            let _ = self.loc.unlink();
        }
    }
}

/// The busy-poll floor: two processes ping-pong one cache line (`ping` and `pong` words in
/// the same 64-byte line), `iters` round trips. Creates `name`; the peer runs
/// [`floor_spin_peer`]. The first tenth of the round trips warm up and are not counted.
pub fn floor_spin(name: &str, iters: usize) -> Result<Stats> {
    spin_ping_pong(name, iters, SAME_LINE)
}

/// The peer of [`floor_spin`]: answers every ping until told to stop.
pub fn floor_spin_peer(name: &str) -> Result<()> {
    spin_ping_pong_peer(name, SAME_LINE)
}

/// The busy-poll floor of any pair of one-way queues: as [`floor_spin`], but `ping` and
/// `pong` sit in two different cache lines (128 bytes apart), one per direction, as the
/// two rings of a request/response pair do. [`floor_spin`] lets both directions share
/// one line, which no pair of queues can; on some machines that halves the round trip,
/// so both floors are worth printing. The peer runs [`floor_spin_split_peer`].
pub fn floor_spin_split(name: &str, iters: usize) -> Result<Stats> {
    spin_ping_pong(name, iters, SPLIT_LINES)
}

/// The peer of [`floor_spin_split`].
pub fn floor_spin_split_peer(name: &str) -> Result<()> {
    spin_ping_pong_peer(name, SPLIT_LINES)
}

/// Bytes each direction of [`floor_records`] walks through before it starts over, as a
/// ring's records walk through its data area.
pub const RECORDS_LANE: usize = 1 << 20;

/// The busy-poll floor of a queue whose messages walk through memory: as
/// [`floor_spin_split`], but each direction sends `size`-byte records one after another
/// through its own [`RECORDS_LANE`]-byte area, each record an 8-byte sequence word
/// followed by the payload (the ring's record shape), and the receiver polls the next
/// record's sequence word, pulling in the line after it while it waits (as the ring's
/// consumer does), then copies the payload out. No positions, no checks beyond the
/// payload's first byte, no wake words: the memory traffic of a ring and nothing else.
///
/// Messages landing in fresh cache lines cost more than ping-ponging fixed ones on some
/// machines; this floor shows how much, so the ring's own cost can be told apart from
/// it. The peer runs [`floor_records_peer`] with the same `size`.
///
/// `size` must be at most `RECORDS_LANE / 2 - 8` bytes (`Error::InvalidConfig`).
pub fn floor_records(name: &str, size: usize, iters: usize) -> Result<Stats> {
    let lanes = RecordLanes::new(FloorPage::create(name, 2 * RECORDS_LANE)?, size)?;
    let (mut payload, mut out) = (vec![0xA5u8; size], Vec::with_capacity(size));
    let (stats, last) = spin_batches(iters, |i| {
        if let Some(b) = payload.first_mut() {
            *b = i as u8;
        }
        lanes.send(0, i, &payload);
        match lanes.wait(1, i, &mut out)? {
            true => Ok(()),
            false => Err(Error::corrupt("records floor: the peer stopped")),
        }
    });
    lanes.stop(0, last + 1);
    stats
}

/// The peer of [`floor_records`]: echoes every record until told to stop.
pub fn floor_records_peer(name: &str, size: usize) -> Result<()> {
    let lanes = RecordLanes::new(FloorPage::open(name, 2 * RECORDS_LANE)?, size)?;
    let mut buf = Vec::with_capacity(size);
    let mut i = 1u64;
    while lanes.wait(0, i, &mut buf)? {
        lanes.send(1, i, &buf);
        i += 1;
    }
    Ok(())
}

/// The two record lanes of [`floor_records`] in one mapping: lane 0 from the measuring
/// side to the peer, lane 1 back.
struct RecordLanes {
    page: FloorPage,
    lanes: [DataArea; 2],
    /// Bytes from one record to the next: 8 + the payload rounded up to 8.
    stride: usize,
    /// Records per lane before the walk starts over.
    slots: usize,
    size: usize,
}

impl RecordLanes {
    fn new(page: FloorPage, size: usize) -> Result<RecordLanes> {
        if size > RECORDS_LANE / 2 - 8 {
            return Err(Error::InvalidConfig(
                format!(
                "records floor: {size}-byte messages do not fit twice in a {RECORDS_LANE}-byte lane"
            )
                .into(),
            ));
        }
        let base = page.map.as_ptr();
        // SAFETY: the mapping is 2 * RECORDS_LANE bytes (created or checked by FloorPage),
        // page-aligned, and lives as long as `page`, which this struct owns.
        let lanes = unsafe {
            [
                DataArea::new(base, RECORDS_LANE),
                DataArea::new(base.add(RECORDS_LANE), RECORDS_LANE),
            ]
        };
        let stride = 8 + size.div_ceil(8) * 8;
        Ok(RecordLanes {
            page,
            lanes,
            stride,
            slots: RECORDS_LANE / stride,
            size,
        })
    }

    /// Offset of record `i`'s sequence word in its lane.
    fn at(&self, i: u64) -> usize {
        (i as usize % self.slots) * self.stride
    }

    fn seq(&self, lane: usize, i: u64) -> &AtomicU64 {
        self.page.map.at(lane * RECORDS_LANE + self.at(i))
    }

    /// Writes record `i` (payload `msg`) into `lane` and publishes it.
    fn send(&self, lane: usize, i: u64, msg: &[u8]) {
        debug_assert_eq!(msg.len(), self.size);
        // SAFETY: the record lies within the lane (`at` + stride <= RECORDS_LANE), and
        // only this side writes this lane; the peer reads it only after the Release below.
        unsafe { self.lanes[lane].write(self.at(i) + 8, msg) };
        self.seq(lane, i).store(i, Ordering::Release);
    }

    /// Marks record `i` of `lane` as the end.
    fn stop(&self, lane: usize, i: u64) {
        self.seq(lane, i).store(STOP, Ordering::Release);
    }

    /// Waits for record `i` in `lane` and copies its payload into `out`. `Ok(false)`: the
    /// other side stopped.
    fn wait(&self, lane: usize, i: u64, out: &mut Vec<u8>) -> Result<bool> {
        let seq = self.seq(lane, i);
        let next_line = (self.at(i) | 63) + 1;
        let mut patience = Patience::default();
        loop {
            match seq.load(Ordering::Acquire) {
                v if v == i => break,
                STOP => return Ok(false),
                _ => {}
            }
            self.lanes[lane].prefetch(next_line);
            patience.poll()?;
        }
        // SAFETY: the record is 8-aligned and within the lane; the Acquire above saw it
        // published.
        unsafe { self.lanes[lane].read_atomic_into(self.at(i) + 8, self.size, out) };
        if out.first().is_some_and(|&b| b != i as u8) {
            return Err(Error::corrupt(format!(
                "records floor: record {i} carries {} in its first byte",
                out[0]
            )));
        }
        Ok(true)
    }
}

/// Offset of the `pong` word for [`floor_spin`]: the same line as `ping` (offset 0).
const SAME_LINE: usize = 8;
/// Offset of the `pong` word for [`floor_spin_split`]: two lines away from `ping`.
const SPLIT_LINES: usize = 128;

fn spin_ping_pong(name: &str, iters: usize, pong_at: usize) -> Result<Stats> {
    let page = FloorPage::create(name, PAGE)?;
    let (ping, pong): (&AtomicU64, &AtomicU64) = (page.map.at(0), page.map.at(pong_at));
    let (stats, _) = spin_batches(iters, |i| {
        ping.store(i, Ordering::Release);
        let mut patience = Patience::default();
        while pong.load(Ordering::Acquire) != i {
            patience.poll()?;
        }
        Ok(())
    });
    ping.store(STOP, Ordering::Release);
    stats
}

/// The driver of the spin floors: `one(i)` runs round trip `i` (from 1); the first tenth
/// of `iters` warm up, the rest are timed in batches of [`BATCH`]. Returns the statistics
/// (or the first error) and the last `i` run, so the caller can tell its peer to stop.
fn spin_batches(iters: usize, mut one: impl FnMut(u64) -> Result<()>) -> (Result<Stats>, u64) {
    let mut batches = Vec::with_capacity(iters / BATCH + 1);
    let mut i = 0u64;
    let result = (|| {
        for _ in 0..iters / 10 {
            i += 1;
            one(i)?;
        }
        for _ in 0..iters / BATCH {
            let t = Instant::now();
            for _ in 0..BATCH {
                i += 1;
                one(i)?;
            }
            batches.push(t.elapsed());
        }
        Ok(())
    })();
    (result.map(|()| Stats::from_batches(batches, BATCH)), i)
}

/// A busy-poll loop that must not spin forever on a peer that died or never came: it
/// looks at the clock every 2^16 polls and gives up after [`PEER_TIMEOUT`].
#[derive(Default)]
struct Patience {
    polls: u32,
    since: Option<Instant>,
}

impl Patience {
    /// Counts one poll that found nothing; `Err(Timeout)` once the peer is overdue.
    #[inline(always)]
    fn poll(&mut self) -> Result<()> {
        self.polls = self.polls.wrapping_add(1);
        if self.polls % (1 << 16) == 0
            && self.since.get_or_insert_with(Instant::now).elapsed() > PEER_TIMEOUT
        {
            return Err(Error::Timeout);
        }
        Ok(())
    }
}

/// How long a floor waits for its peer before giving up with `Error::Timeout`.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(10);

fn spin_ping_pong_peer(name: &str, pong_at: usize) -> Result<()> {
    let page = FloorPage::open(name, PAGE)?;
    let (ping, pong): (&AtomicU64, &AtomicU64) = (page.map.at(0), page.map.at(pong_at));
    let mut last = 0;
    let mut patience = Patience::default();
    loop {
        let v = ping.load(Ordering::Acquire);
        if v == last {
            patience.poll()?;
            continue;
        }
        patience = Patience::default();
        if v == STOP {
            return Ok(());
        }
        pong.store(v, Ordering::Release);
        last = v;
    }
}

/// The blocking floor: two processes ping-pong through shared futexes, each sleeping in
/// FUTEX_WAIT until the other's FUTEX_WAKE: one kernel wake-up each way, no spinning.
/// `pause` (if any) is slept between round trips, as [`round_trip`] does, so that the
/// floor for "a peer that went to sleep" pays the same idle-CPU wake-up cost.
pub fn floor_futex(name: &str, iters: usize, pause: Option<Duration>) -> Result<Stats> {
    let page = FloorPage::create(name, PAGE)?;
    let (ping, pong): (&AtomicU32, &AtomicU32) = (page.map.at(0), page.map.at(128));
    let warm = (iters / 10).max(1);
    let mut batches = Vec::with_capacity(iters);
    let mut i = 0u32;
    let one = |i: u32| -> Result<()> {
        ping.store(i, Ordering::Release);
        futex::wake_all(ping);
        let mut since: Option<Instant> = None;
        loop {
            let v = pong.load(Ordering::Acquire);
            if v == i {
                return Ok(());
            }
            futex::wait(pong, v, Some(Duration::from_millis(100)));
            if since.get_or_insert_with(Instant::now).elapsed() > PEER_TIMEOUT {
                return Err(Error::Timeout);
            }
        }
    };
    let result = (|| {
        for _ in 0..warm {
            i += 1;
            one(i)?;
        }
        for _ in 0..iters {
            if let Some(p) = pause {
                std::thread::sleep(p);
            }
            let t = Instant::now();
            i += 1;
            one(i)?;
            batches.push(t.elapsed());
        }
        Ok(())
    })();
    ping.store(u32::MAX, Ordering::Release);
    futex::wake_all(ping);
    result.map(|()| Stats::from_batches(batches, 1))
}

/// The peer of [`floor_futex`].
pub fn floor_futex_peer(name: &str) -> Result<()> {
    floor_futex_peer_paused(name, None)
}

/// The peer of [`floor_futex`] that sleeps `pause` (if any) before each answer: the floor
/// for "a peer that answers after a pause" (two futex wake-ups per round trip, each side
/// asleep when the other wakes it), to set beside [`echo_peer_paused`].
///
/// ```no_run
/// # use std::time::Duration;
/// // In the peer process, for a floor measured with `floor_futex(name, iters, None)`:
/// ipcring::measure::floor_futex_peer_paused("/my-floor", Some(Duration::from_millis(1)))?;
/// # Ok::<(), ipcring::Error>(())
/// ```
pub fn floor_futex_peer_paused(name: &str, pause: Option<Duration>) -> Result<()> {
    let page = FloorPage::open(name, PAGE)?;
    let (ping, pong): (&AtomicU32, &AtomicU32) = (page.map.at(0), page.map.at(128));
    let mut last = 0u32;
    let mut idle_since: Option<Instant> = None;
    loop {
        let v = ping.load(Ordering::Acquire);
        if v == last {
            futex::wait(ping, v, Some(Duration::from_millis(100)));
            if idle_since.get_or_insert_with(Instant::now).elapsed() > PEER_TIMEOUT {
                return Err(Error::Timeout);
            }
            continue;
        }
        idle_since = None;
        if v == u32::MAX {
            return Ok(());
        }
        if let Some(p) = pause {
            std::thread::sleep(p);
        }
        pong.store(v, Ordering::Release);
        futex::wake_all(pong);
        last = v;
    }
}

/// Round trips of `size`-byte messages over any transport pair: send, wait for the echo.
/// The peer runs [`echo_peer`]. `pause` (if any) is slept between round trips (to measure
/// a peer that has gone to sleep: one wake-up per message).
pub fn round_trip<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    size: usize,
    iters: usize,
    pause: Option<Duration>,
) -> Result<Stats> {
    let per = if pause.is_some() { 1 } else { BATCH };
    round_trips(
        tx,
        rx,
        size,
        per,
        Until::Count((iters / 10).max(1)),
        Until::Count((iters / per).max(1)),
        pause,
    )
}

/// As [`round_trip`], but bounded by time rather than by count: warms up for a tenth of
/// `budget`, then measures for `budget` (whole batches; at most ten million of them).
/// `one_by_one` times every round trip on its own (for blocking transports, as the futex
/// floor does) instead of in batches of [`BATCH`].
pub fn round_trip_for<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    size: usize,
    budget: Duration,
    one_by_one: bool,
) -> Result<Stats> {
    let per = if one_by_one { 1 } else { BATCH };
    round_trips(
        tx,
        rx,
        size,
        per,
        Until::Time(budget / 10),
        Until::Time(budget),
        None,
    )
}

/// When a phase of [`round_trips`] ends: after so many rounds, or once so long has passed.
#[derive(Clone, Copy)]
enum Until {
    Count(usize),
    Time(Duration),
}

/// The one round-trip driver: `warm` round trips not counted, then timed batches of `per`
/// until `run` is over.
fn round_trips<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    size: usize,
    per: usize,
    warm: Until,
    run: Until,
    pause: Option<Duration>,
) -> Result<Stats> {
    const MAX_BATCHES: usize = 10_000_000;
    let msg = vec![0xA5u8; size];
    let mut buf = Vec::with_capacity(size);
    let start = Instant::now();
    let mut n = 0;
    while match warm {
        Until::Count(c) => n < c,
        Until::Time(d) => start.elapsed() < d,
    } {
        tx.send(&msg)?;
        rx.recv_into(&mut buf)?;
        n += 1;
    }
    let start = Instant::now();
    let mut batches = Vec::new();
    loop {
        if let Some(p) = pause {
            std::thread::sleep(p);
        }
        let t = Instant::now();
        for _ in 0..per {
            tx.send(&msg)?;
            rx.recv_into(&mut buf)?;
        }
        batches.push(t.elapsed());
        if buf.len() != size {
            return Err(Error::corrupt(format!(
                "echo of {} bytes for a {size}-byte message",
                buf.len()
            )));
        }
        let done = match run {
            Until::Count(c) => batches.len() >= c,
            Until::Time(d) => start.elapsed() >= d,
        };
        if done || batches.len() >= MAX_BATCHES {
            break;
        }
    }
    Ok(Stats::from_batches(batches, per))
}

/// Echoes every message back until the other side disconnects.
pub fn echo_peer<S: Sender, R: Receiver>(tx: &mut S, rx: &mut R) -> Result<()> {
    let mut buf = Vec::new();
    loop {
        match rx.recv_into(&mut buf) {
            Ok(()) => tx.send(&buf)?,
            Err(Error::Disconnected) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// As [`echo_peer`], sleeping `pause` before each answer (see [`floor_futex_peer_paused`]).
///
/// ```no_run
/// # use std::time::Duration;
/// use ipcring::ring::{duplex, RingOptions, Side};
/// let (mut tx, mut rx) = duplex("/my-pair", Side::B, &RingOptions::new())?;
/// ipcring::measure::echo_peer_paused(&mut tx, &mut rx, Duration::from_millis(1))?;
/// # Ok::<(), ipcring::Error>(())
/// ```
pub fn echo_peer_paused<S: Sender, R: Receiver>(
    tx: &mut S,
    rx: &mut R,
    pause: Duration,
) -> Result<()> {
    let mut buf = Vec::new();
    loop {
        match rx.recv_into(&mut buf) {
            Ok(()) => {
                std::thread::sleep(pause);
                tx.send(&buf)?
            }
            Err(Error::Disconnected) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Sends `count` messages of `size` bytes as fast as the transport takes them, then one
/// empty message as an end marker; returns the elapsed time (first send to last).
/// The receiving peer runs [`throughput_peer`]; the rate is what the receiver measured.
pub fn throughput_send<S: Sender>(tx: &mut S, size: usize, count: usize) -> Result<Duration> {
    let msg = vec![0x5Au8; size.max(1)];
    let t = Instant::now();
    for _ in 0..count {
        tx.send(&msg[..size.max(1)])?;
    }
    tx.send(&[])?;
    Ok(t.elapsed())
}

/// Receives until the empty end marker; returns (messages, bytes, elapsed from the first
/// message to the marker).
pub fn throughput_peer<R: Receiver>(rx: &mut R) -> Result<(u64, u64, Duration)> {
    let mut buf = Vec::new();
    rx.recv_into(&mut buf)?;
    let t = Instant::now();
    let (mut n, mut bytes) = (1u64, buf.len() as u64);
    loop {
        rx.recv_into(&mut buf)?;
        if buf.is_empty() {
            return Ok((n, bytes, t.elapsed()));
        }
        n += 1;
        bytes += buf.len() as u64;
    }
}
