//! The versioned byte layout of a ring segment. docs/LAYOUT.md is the normative text; this
//! file is its code, with `const` assertions that keep the two in step.
//!
//! ```text
//! offset  size  field                         written by
//! 0       128   SegmentHeader (common to every segment kind; see crate::segment)
//! 128     8     capacity (bytes, power of two) creator, before `ready`
//! 136     4     max_message (bytes)            creator, before `ready`
//! 140     4     data_offset (= 1024)           creator, before `ready`
//! 144     4     producer_attaches              each producer, at attach
//! 148     4     consumer_attaches              each consumer, at attach
//! 256     8     write_pos                      producer (Release)
//! 384     8     read_pos                       consumer (Release)
//! 512     4+4   data wake: seq, waiters        consumer announces, producer wakes
//! 520     4     data excuse                    consumer (see crate::wake::excuse)
//! 640     4+4   space wake: seq, waiters       producer announces, consumer wakes
//! 648     4     space excuse                   producer
//! 1024    cap   data: records
//! ```
//!
//! Every word is little-endian and naturally aligned; words written by different sides sit
//! on different 128-byte lines (two 64-byte lines on x86_64, where the adjacent-line
//! prefetcher pulls pairs of lines: 128 keeps the sides from false sharing).

use crate::sync::{AtomicU32, AtomicU64};

/// Segment kind of an SPSC ring (in the common header's `kind` word).
pub const KIND_RING: u32 = crate::kinds::RING.id;

/// Size of the ring's header; the data area starts here.
pub const RING_HEADER_SIZE: usize = 1024;

/// Record kind: a message; `len` is its payload length.
pub const REC_MESSAGE: u32 = 0x4D53_4731; // "1GSM" little-endian: unlikely in garbage
/// Record kind: padding up to the end of the data area; `len` counts the bytes after the
/// 8-byte record header.
pub const REC_PADDING: u32 = 0x4441_5031; // "1PAD"

/// Size of a record header: `len: u32, kind: u32`.
pub const RECORD_HEADER: u64 = 8;

/// Smallest capacity accepted (bytes).
pub const MIN_CAPACITY: u64 = 64;
/// Largest capacity accepted (bytes): 2^40, far past any real mapping, small enough that
/// positions (u64 byte counters) cannot wrap in the lifetime of a machine.
pub const MAX_CAPACITY: u64 = 1 << 40;

/// The bytes a message of `len` payload bytes occupies: header + payload, rounded up to 8.
#[inline(always)]
pub const fn record_size(len: u64) -> u64 {
    (RECORD_HEADER + len + 7) & !7
}

/// The largest payload a ring of `capacity` bytes can carry.
///
/// A record never wraps, so in the worst case a message needs padding to the end plus
/// itself; allowing at most half the ring per record guarantees that an empty ring always
/// has room for any allowed message, wherever its positions stand.
///
/// ```
/// assert_eq!(ipcring::ring::layout::max_message_for(1024), 504);
/// ```
pub const fn max_message_for(capacity: u64) -> u64 {
    let m = capacity / 2 - RECORD_HEADER;
    if m > u32::MAX as u64 {
        u32::MAX as u64 & !7
    } else {
        m
    }
}

/// Geometry words of a ring (offset 128 in the segment). Written by the creator before the
/// segment is published as ready; read-only afterwards except the attach counters.
#[repr(C)]
#[derive(Debug)]
pub struct RingGeometry {
    /// Data area size in bytes; a power of two.
    pub capacity: AtomicU64,
    /// Largest payload in bytes; at most [`max_message_for`]`(capacity)`.
    pub max_message: AtomicU32,
    /// Offset of the data area from the start of the segment (1024).
    pub data_offset: AtomicU32,
    /// Incremented by every producer that attaches: 0 means none ever did.
    pub producer_attaches: AtomicU32,
    /// Incremented by every consumer that attaches: 0 means none ever did.
    pub consumer_attaches: AtomicU32,
}

pub use crate::wake::{ExcuseWord, WakeWord};

/// The words the two sides of a ring move at run time, each group on its own 128-byte line.
#[repr(C)]
#[derive(Debug)]
pub struct RingShared {
    /// Byte position one past the last published record. Only grows. Producer-owned.
    pub write_pos: AtomicU64,
    _pad0: [u8; 120],
    /// Byte position of the first unreleased record. Only grows. Consumer-owned.
    pub read_pos: AtomicU64,
    /// The position at which the consumer waits for the next record, plus one (0: not
    /// waiting). Consumer-owned, a hint: the producer starts over at index 0 early only
    /// while the consumer waits at its write position (see `RECYCLE_WINDOW`). Zero in
    /// segments made before it existed (they never recycle from this producer).
    pub consumer_waiting: AtomicU64,
    _pad1: [u8; 112],
    /// The consumer sleeps here waiting for data.
    pub data_wake: WakeWord,
    /// Non-zero while the consumer polls and promises a barrier before it sleeps: the
    /// producer's publish may skip its fence (see [`crate::wake::excuse`]).
    pub data_excuse: ExcuseWord,
    _pad2: [u8; 116],
    /// The producer sleeps here waiting for space.
    pub space_wake: WakeWord,
    /// The same for the producer's sleep: the consumer's release may skip its fence.
    pub space_excuse: ExcuseWord,
    _pad3: [u8; 116],
}

crate::kinds::shared_layout! {
    // SAFETY: repr(C) of atomics only, valid for every bit pattern, changed only atomically.
    unsafe RingGeometry {
        capacity: 0, max_message: 8, data_offset: 12, producer_attaches: 16,
        consumer_attaches: 20,
    } size 24;
    // SAFETY: repr(C) of atomics and padding arrays; the padding is private and never read,
    // so another process writing it changes nothing this process relies on; the atomics are
    // valid for every bit pattern.
    unsafe RingShared {
        write_pos: 0, read_pos: 128, consumer_waiting: 136, data_wake: 256,
        data_excuse: 264, space_wake: 384, space_excuse: 392,
    } size 512, align 8;
}

impl RingShared {
    /// What the consumer sleeps on: the data wake word and the consumer's excuse word.
    pub(crate) fn data_sleep(&self) -> crate::wake::Sleep<'_> {
        crate::wake::Sleep {
            word: &self.data_wake,
            excuse: Some(&self.data_excuse),
        }
    }

    /// What the producer sleeps on: the space wake word and the producer's excuse word.
    pub(crate) fn space_sleep(&self) -> crate::wake::Sleep<'_> {
        crate::wake::Sleep {
            word: &self.space_wake,
            excuse: Some(&self.space_excuse),
        }
    }

    /// A zeroed block for in-process models (loom) and tests.
    #[cfg(any(test, loom))]
    pub(crate) fn new_model() -> RingShared {
        RingShared {
            write_pos: AtomicU64::new(0),
            _pad0: [0; 120],
            read_pos: AtomicU64::new(0),
            consumer_waiting: AtomicU64::new(0),
            _pad1: [0; 112],
            data_wake: WakeWord::new_model(),
            data_excuse: ExcuseWord::new_model(),
            _pad2: [0; 116],
            space_wake: WakeWord::new_model(),
            space_excuse: ExcuseWord::new_model(),
            _pad3: [0; 116],
        }
    }
}

/// Offset of [`RingGeometry`] in the segment.
pub const GEOMETRY_OFFSET: usize = 128;
/// Offset of [`RingShared`] in the segment.
pub const SHARED_OFFSET: usize = 256;

#[cfg(not(loom))]
const _: () = {
    use std::mem::size_of;
    assert!(size_of::<WakeWord>() == 8);
    assert!(size_of::<ExcuseWord>() == 4);
    assert!(SHARED_OFFSET + size_of::<RingShared>() <= RING_HEADER_SIZE);
    assert!(GEOMETRY_OFFSET + size_of::<RingGeometry>() <= SHARED_OFFSET);
};
