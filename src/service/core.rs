//! The channel protocol over a raw block of slots: no OS calls, so the loom model
//! (`service::tests_loom`) runs exactly this code.
//!
//! # Protocol of one slot
//! The client owns a slot while it is free or holds an answer it has read. It writes a
//! request into the slot's payload bytes, then publishes the header word
//! `(len, SLOT_REQUEST)` with Release. The server, polling the header with Acquire, sees
//! the request, reads it, writes its answer **over it, in the same bytes**, and publishes
//! `(len, SLOT_ANSWER)` with Release. The client, polling with Acquire, reads the answer;
//! the slot is its own again (it never writes a "free" state: the server acts on
//! `SLOT_REQUEST` only), so the next request is one store away. One line carries the
//! request there and the answer back, as the one-line floor's ping and pong do.
//!
//! Both sides validate every header they load: an unknown state, or a length past the
//! slot, is [`Error::Corrupt`](crate::Error::Corrupt), never an out-of-bounds access.
//!
//! # Wake-ups
//! After publishing, a side whose peer may sleep (the peer's `FLAG_MAY_SLEEP`) issues the
//! full barrier and reads the peer's `waiters` word, exactly as the ring does (see
//! `ring::wait`); when the peer only spins (`WaitStrategy::Spin` or `SpinYield`) the
//! barrier and the read are skipped: the busy-poll round trip is two stores and two loads.

use crate::ring::layout::WakeWord;
use crate::service::layout::{
    ENTRY_ACCEPTED, ENTRY_CLAIMED, ENTRY_CLOSED, ENTRY_CONNECT, ENTRY_FREE, SLOT_ANSWER,
    SLOT_HEADER, SLOT_REQUEST,
};
use crate::sync::{light_barrier, DataArea, Ordering};
use crate::{Error, Result};

/// The slots of one channel, as either side sees them.
#[derive(Debug, Clone)]
pub(crate) struct ChannelCore {
    data: DataArea,
    slots: u32,
    slot_size: u32,
    max_message: u32,
}

impl ChannelCore {
    /// # Safety
    /// `data` covers `slots * slot_size` bytes; `slot_size` is a multiple of 8 and at least
    /// `SLOT_HEADER + max_message`. (Validated from the segment before this is called.)
    pub(crate) unsafe fn new(data: DataArea, slots: u32, slot_size: u32, max_message: u32) -> Self {
        debug_assert!(slot_size % 8 == 0 && SLOT_HEADER as u32 + max_message <= slot_size);
        ChannelCore {
            data,
            slots,
            slot_size,
            max_message,
        }
    }

    /// Number of slots.
    #[inline(always)]
    pub(crate) fn slots(&self) -> u32 {
        self.slots
    }

    /// Largest request or answer.
    #[inline(always)]
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn max_message(&self) -> u32 {
        self.max_message
    }

    /// The data area.
    #[inline(always)]
    pub(crate) fn data(&self) -> &DataArea {
        &self.data
    }

    /// Offset of slot `slot`'s header word.
    #[inline(always)]
    pub(crate) fn header_off(&self, slot: u32) -> usize {
        debug_assert!(slot < self.slots);
        slot as usize * self.slot_size as usize
    }

    /// Offset of slot `slot`'s payload.
    #[inline(always)]
    pub(crate) fn payload_off(&self, slot: u32) -> usize {
        self.header_off(slot) + SLOT_HEADER
    }

    #[inline(always)]
    fn load(&self, slot: u32) -> (u32, u32) {
        // SAFETY: `slot < slots` (every caller's index is one of ours), so the header word
        // is 8-aligned and inside the area (`new`'s contract).
        unsafe { self.data.load_header(self.header_off(slot)) }
    }

    /// Client side: publishes the request of `len` bytes written into slot `slot`.
    ///
    /// # Safety
    /// The client owns the slot (free, or its answer read), `len <= max_message`, and the
    /// payload bytes were written before this call.
    #[inline(always)]
    pub(crate) unsafe fn publish_request(&self, slot: u32, len: u32) {
        debug_assert!(len <= self.max_message);
        // SYNC: Release publishes the request's payload bytes to the server, which loads
        // this word with Acquire in `poll_request`.
        // SAFETY: by the contract, in bounds and owned.
        unsafe {
            self.data
                .store_header(self.header_off(slot), len, SLOT_REQUEST, Ordering::Release)
        };
    }

    /// Client side: `Some(len)` once the server answered slot `slot`, `None` while the
    /// request is pending.
    #[inline(always)]
    pub(crate) fn poll_answer(&self, slot: u32) -> Result<Option<u32>> {
        // SYNC: Acquire pairs with the server's Release in `publish_answer`: the answer's
        // bytes are visible after this load.
        match self.load(slot) {
            (len, SLOT_ANSWER) if len <= self.max_message => Ok(Some(len)),
            (_, SLOT_REQUEST) => Ok(None),
            (len, SLOT_ANSWER) => Err(Error::corrupt(format!(
                "service answer of {len} bytes in slot {slot} exceeds the slot's {} bytes",
                self.max_message
            ))),
            (len, state) => Err(Error::corrupt(format!(
                "service slot {slot} holds state {state:#x} (len {len}) while a request is pending"
            ))),
        }
    }

    /// Server side: `Some(len)` if slot `slot` holds a request not yet answered.
    #[inline(always)]
    pub(crate) fn poll_request(&self, slot: u32) -> Result<Option<u32>> {
        // SYNC: Acquire pairs with the client's Release in `publish_request`.
        match self.load(slot) {
            (len, SLOT_REQUEST) if len <= self.max_message => Ok(Some(len)),
            (_, SLOT_ANSWER) | (0, 0) => Ok(None),
            (len, SLOT_REQUEST) => Err(Error::corrupt(format!(
                "service request of {len} bytes in slot {slot} exceeds the slot's {} bytes",
                self.max_message
            ))),
            (len, state) => Err(Error::corrupt(format!(
                "service slot {slot} holds unknown state {state:#x} (len {len})"
            ))),
        }
    }

    /// Server side: publishes the answer of `len` bytes written over slot `slot`'s request.
    ///
    /// # Safety
    /// `poll_request(slot)` returned a request that has not been answered yet, `len <=
    /// max_message`, and the answer's bytes were written before this call.
    #[inline(always)]
    pub(crate) unsafe fn publish_answer(&self, slot: u32, len: u32) {
        debug_assert!(len <= self.max_message);
        // SYNC: Release publishes the answer's bytes to the client (`poll_answer`).
        // SAFETY: by the contract.
        unsafe {
            self.data
                .store_header(self.header_off(slot), len, SLOT_ANSWER, Ordering::Release)
        };
    }
}

/// After a publish: true if the peer, which may sleep (`peer_may_sleep`), announced that
/// it sleeps on `wake` and must be woken (the caller calls `wake.wake()`).
#[inline(always)]
pub(crate) fn must_wake(wake: &WakeWord, peer_may_sleep: bool) -> bool {
    if !peer_may_sleep {
        return false;
    }
    // SYNC: the header store before this and the load of `waiters` below must not be
    // reordered (store-load): paired with the sleeper's `heavy_barrier` after announcing
    // itself, either we see its announcement or it sees our header.
    light_barrier();
    wake.waiters.load(Ordering::Relaxed) != 0
}

/// The accept handshake on one connection entry's two words, as both sides run it (and the
/// loom model `service::tests_loom` runs it):
///
/// 1. client, holding the entry's liveness lock: [`EntryWords::claim`] (FREE -> CLAIMED);
/// 2. client, its channel created: [`EntryWords::post`] (nonce, then CONNECT, Release);
/// 3. server: [`EntryWords::posted`] (Acquire) gives the nonce, the server opens and judges
///    the channel, then [`EntryWords::judge`] (CONNECT -> ACCEPTED or CLOSED, Release);
/// 4. client: [`EntryWords::verdict`] (Acquire) until it is no longer CONNECT;
/// 5. server, once the entry's lock is free (the client left or died, however):
///    [`EntryWords::free`] (the state it saw -> FREE, Release). A client giving up before
///    being accepted gives the entry back itself ([`EntryWords::give_back`]).
///
/// Only a client holding the lock claims, and the server frees only an unlocked entry,
/// so one entry never serves two clients.
pub(crate) struct EntryWords<'a> {
    pub(crate) state: &'a crate::sync::AtomicU32,
    pub(crate) nonce: &'a crate::sync::AtomicU64,
}

impl EntryWords<'_> {
    /// Client, holding the entry's lock: takes a free entry.
    pub(crate) fn claim(&self) -> bool {
        // SYNC: Acquire pairs with the server's Release in `free` (and with the creation's
        // READY): what the server wrote into the entry before freeing it (its challenge)
        // is visible once the claim succeeds.
        self.state
            .compare_exchange(
                ENTRY_FREE,
                ENTRY_CLAIMED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Client: posts its channel's nonce (the channel is created before this).
    pub(crate) fn post(&self, nonce: u64) {
        self.nonce.store(nonce, Ordering::Relaxed);
        // SYNC: Release publishes the nonce (and the channel segment made before) to the
        // server, which loads the state with Acquire in `posted`.
        self.state.store(ENTRY_CONNECT, Ordering::Release);
    }

    /// Server: the nonce of a posted connect, if one waits here.
    pub(crate) fn posted(&self) -> Option<u64> {
        // SYNC: Acquire pairs with the client's Release in `post`.
        (self.state.load(Ordering::Acquire) == ENTRY_CONNECT)
            .then(|| self.nonce.load(Ordering::Relaxed))
    }

    /// Server: accepts (or refuses) the posted connect. Everything written for the
    /// client before this (its proof, the refusal reason) is published with it.
    pub(crate) fn judge(&self, accept: bool) {
        let next = if accept { ENTRY_ACCEPTED } else { ENTRY_CLOSED };
        // SYNC: Release: the client, seeing ACCEPTED with Acquire in `verdict`, sees our
        // proof and may unlink its channel's name (we have it open by then).
        let _ =
            self.state
                .compare_exchange(ENTRY_CONNECT, next, Ordering::Release, Ordering::Relaxed);
    }

    /// Client: the entry's state while it waits for the server's judgement.
    pub(crate) fn verdict(&self) -> u32 {
        // SYNC: Acquire pairs with the server's Release in `judge`.
        self.state.load(Ordering::Acquire)
    }

    /// Server: frees the entry of a client whose lock is gone, if it is still in the
    /// state `seen` (a client writing garbage makes this fail; it is retried later).
    pub(crate) fn free(&self, seen: u32) -> bool {
        // SYNC: Release publishes what the server wrote into the entry before (its renewed
        // challenge) to the next client's `claim`.
        self.state
            .compare_exchange(seen, ENTRY_FREE, Ordering::Release, Ordering::Relaxed)
            .is_ok()
    }

    /// Client, still holding the lock and not accepted: gives the entry back.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn give_back(&self) {
        // SYNC: Release, nothing of ours to publish beyond the state; pairs with `claim`.
        self.state.store(ENTRY_FREE, Ordering::Release);
    }
}
