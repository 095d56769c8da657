//! The one place atomics, fences and the spin hint come from.
//!
//! Under the custom cfg `loom` (`RUSTFLAGS="--cfg loom"`) these are loom's, so the loom
//! models in `ring::core` and `wake` run the exact code that ships. A cfg, not a
//! feature, so loom never reaches users' builds.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// The publishing side's barrier of the wake protocol (between "store the record" and
/// "read `waiters`"): a full fence.
///
/// The ring skips it while the other side polls (`wake::excuse`: that side issues
/// `membarrier(2)` once when it goes from polling to sleeping). Paying that barrier on
/// every sleep instead, as first tried, turned a 7 µs blocking round trip into 30 µs on a
/// virtual machine (an inter-processor interrupt per sleep).
#[inline(always)]
pub(crate) fn light_barrier() {
    fence(Ordering::SeqCst);
}

/// The sleeping side's barrier of the wake protocol (between "announce" and "re-check"):
/// a full fence. Returns true (the barrier is always issued; see `light_barrier`).
#[inline]
pub(crate) fn heavy_barrier() -> bool {
    fence(Ordering::SeqCst);
    true
}

/// One iteration of a busy-wait loop (PAUSE on x86). Kept off the ring's own hot poll:
/// on this project's reference machine PAUSE costs about 30 ns per round trip.
#[inline(always)]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

/// The data area of a ring: bytes shared with another process.
///
/// Outside loom it is a raw pointer into a mapping; the ring protocol guarantees that each
/// byte is written by one side and read by the other only after a Release/Acquire hand-over
/// of the position that covers it. Under loom every byte is a `loom::cell::UnsafeCell`, so
/// loom itself checks that hand-over: a read not ordered after the write is reported as a
/// data race.
#[cfg(not(loom))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct DataArea {
    ptr: *mut u8,
    len: usize,
}

#[cfg(not(loom))]
impl DataArea {
    /// # Safety
    /// `ptr .. ptr + len` must stay mapped and writable for as long as this value (and
    /// its copies) is used, and `ptr` must be 8-byte aligned.
    pub(crate) unsafe fn new(ptr: *mut u8, len: usize) -> DataArea {
        DataArea { ptr, len }
    }

    /// Copies `src` to offset `off`.
    ///
    /// # Safety
    /// `off + src.len() <= len`, and the caller owns those bytes under the ring protocol.
    #[inline(always)]
    pub(crate) unsafe fn write(&self, off: usize, src: &[u8]) {
        debug_assert!(off + src.len() <= self.len);
        // SAFETY: in bounds by the caller's contract; the regions cannot overlap (src is
        // not in the data area the caller owns for writing).
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.add(off), src.len()) }
    }

    #[inline(always)]
    fn header_word(&self, off: usize) -> &std::sync::atomic::AtomicU64 {
        debug_assert!(off % 8 == 0 && off + 8 <= self.len);
        // SAFETY: every caller passes an 8-aligned `off` with `off + 8 <= len` (their
        // contracts); the area is 8-aligned and mapped for our lifetime; AtomicU64 has the
        // layout of u64 and any bit pattern is valid.
        unsafe { std::sync::atomic::AtomicU64::from_ptr(self.ptr.add(off) as *mut u64) }
    }

    /// Publishes a record header (`len | kind << 32`, little-endian) at 8-aligned offset
    /// `off` with Release: everything written before it (the payload) is visible to whoever
    /// reads the header with [`DataArea::load_header`].
    ///
    /// # Safety
    /// `off` is 8-aligned, `off + 8 <= len`, and the caller owns those bytes.
    #[inline(always)]
    pub(crate) unsafe fn store_header(&self, off: usize, len: u32, kind: u32, order: Ordering) {
        let v = (len as u64) | ((kind as u64) << 32);
        self.header_word(off).store(v.to_le(), order);
    }

    /// Reads a record header with Acquire. 0 means "nothing published here yet".
    ///
    /// # Safety
    /// `off` is 8-aligned and `off + 8 <= len`. The value may have been written by an
    /// untrusted peer: the caller validates both fields before use.
    #[inline(always)]
    pub(crate) unsafe fn load_header(&self, off: usize) -> (u32, u32) {
        let v = u64::from_le(self.header_word(off).load(Ordering::Acquire));
        (v as u32, (v >> 32) as u32)
    }

    /// A shared slice of the data area.
    ///
    /// # Safety
    /// In bounds, published to the caller, and valid for `'a` (see the ring's docs on
    /// what a hostile peer writing these bytes means).
    #[inline(always)]
    pub(crate) unsafe fn slice<'a>(&self, off: usize, len: usize) -> &'a [u8] {
        debug_assert!(off + len <= self.len);
        // SAFETY: by the contract.
        unsafe { std::slice::from_raw_parts(self.ptr.add(off), len) }
    }

    /// A mutable slice of the data area.
    ///
    /// # Safety
    /// In bounds, owned by the caller (reserved, not yet published), valid for `'a`.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice_mut<'a>(&self, off: usize, len: usize) -> &'a mut [u8] {
        debug_assert!(off + len <= self.len);
        // SAFETY: by the contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(off), len) }
    }
}

#[cfg(loom)]
#[derive(Debug, Clone)]
pub(crate) struct DataArea {
    cells: std::sync::Arc<[loom::cell::Cell<u8>]>,
    /// Record header words. In real memory they alias the bytes; the model keeps them apart
    /// (the protocol never reads a header slot it has not zeroed or written in this lap).
    headers: std::sync::Arc<[AtomicU64]>,
}

#[cfg(loom)]
impl DataArea {
    pub(crate) fn new_model(len: usize) -> DataArea {
        DataArea {
            cells: (0..len).map(|_| loom::cell::Cell::new(0u8)).collect(),
            headers: (0..len / 8).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// # Safety
    /// None in the model (loom checks every access; an unordered one fails the model), but
    /// `unsafe` as the real area's is, so the code that ships compiles against both.
    pub(crate) unsafe fn write(&self, off: usize, src: &[u8]) {
        for (cell, b) in self.cells[off..off + src.len()].iter().zip(src) {
            cell.set(*b);
        }
    }

    /// # Safety
    /// As `write`.
    pub(crate) unsafe fn read(&self, off: usize, dst: &mut [u8]) {
        self.read_cells(off, dst);
    }

    fn read_cells(&self, off: usize, dst: &mut [u8]) {
        for (b, cell) in dst.iter_mut().zip(&self.cells[off..]) {
            *b = cell.get();
        }
    }

    pub(crate) unsafe fn store_header(&self, off: usize, len: u32, kind: u32, order: Ordering) {
        self.headers[off / 8].store((len as u64) | ((kind as u64) << 32), order);
    }

    pub(crate) unsafe fn load_header(&self, off: usize) -> (u32, u32) {
        let v = self.headers[off / 8].load(Ordering::Acquire);
        (v as u32, (v >> 32) as u32)
    }
}

#[cfg(not(loom))]
impl DataArea {
    /// Replaces `buf`'s contents with the `len` bytes at 8-aligned offset `off`, copied
    /// with word-sized atomic loads, so a peer writing the same bytes concurrently is not a
    /// data race in this process (the copy may then hold a mix of old and new bytes, never
    /// anything else). Written straight into `buf`'s spare capacity: no zero-filling first
    /// (the copy-out receive runs this once per message).
    ///
    /// # Safety
    /// `off` is 8-aligned and `off + round_up_8(len) <= len of the area`.
    #[inline]
    pub(crate) unsafe fn read_atomic_into(&self, off: usize, len: usize, buf: &mut Vec<u8>) {
        use std::sync::atomic::AtomicU64 as StdAtomicU64;
        debug_assert!(off % 8 == 0 && off + len.div_ceil(8) * 8 <= self.len);
        buf.clear();
        buf.reserve(len);
        let dst = buf.as_mut_ptr();
        let words = len / 8;
        for i in 0..words {
            // SAFETY: the source word is aligned and in bounds by the contract; the
            // destination is within the `len` bytes of capacity reserved above.
            unsafe {
                let w = StdAtomicU64::from_ptr(self.ptr.add(off + i * 8) as *mut u64)
                    .load(std::sync::atomic::Ordering::Relaxed);
                (dst.add(i * 8) as *mut [u8; 8]).write_unaligned(w.to_ne_bytes());
            }
        }
        let rest = len - words * 8;
        if rest > 0 {
            // SAFETY: the tail word lies within the 8-aligned record (contract); `rest`
            // bytes fit in the reserved capacity after the whole words.
            unsafe {
                let w = StdAtomicU64::from_ptr(self.ptr.add(off + words * 8) as *mut u64)
                    .load(std::sync::atomic::Ordering::Relaxed);
                std::ptr::copy_nonoverlapping(w.to_ne_bytes().as_ptr(), dst.add(words * 8), rest);
            }
        }
        // SAFETY: all `len` bytes were written above, within the reserved capacity.
        unsafe { buf.set_len(len) };
    }

    /// Asks the CPU to start bringing the cache line that holds offset `off` into this
    /// core's cache, without waiting for it. A hint, not a read: the program never sees
    /// the bytes, so it is sound whatever the peer is writing there. Offsets past the end
    /// are ignored; a no-op on targets other than x86_64.
    #[inline(always)]
    pub(crate) fn prefetch(&self, off: usize) {
        if off >= self.len {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: PREFETCHT0 is part of SSE, which every x86_64 CPU has; it never faults
        // and changes no program state, whatever the address (`off < len` keeps it inside
        // the mapping anyway).
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                self.ptr.wrapping_add(off) as *const i8,
            );
        }
    }
}

#[cfg(loom)]
impl DataArea {
    /// A hint only: nothing to model.
    #[inline(always)]
    pub(crate) fn prefetch(&self, _off: usize) {}

    /// The model's copy-out: replaces `buf`'s contents with the `len` bytes at `off`,
    /// through loom's cells (so loom checks the read against the producer's writes).
    ///
    /// # Safety
    /// As the real `read_atomic_into`: `off + len` within the area, and those bytes
    /// published to the caller.
    pub(crate) unsafe fn read_atomic_into(&self, off: usize, len: usize, buf: &mut Vec<u8>) {
        buf.clear();
        buf.resize(len, 0);
        self.read_cells(off, buf);
    }
}
