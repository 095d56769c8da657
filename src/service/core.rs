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
//! `wake`); when the peer only spins (`WaitStrategy::Spin` or `SpinYield`) the
//! barrier and the read are skipped: the busy-poll round trip is two stores and two loads.
//!
//! # Who may touch a slot's bytes
//! Every access to a slot's payload goes through a token that this module hands out only
//! for a slot whose bounds it knows and that the holder owns under the protocol above:
//! [`Owned`] (a client's free slot), [`Answered`] (a client's slot holding an answer it has
//! taken) and [`Served`] (the request the server found and has not answered). The tokens
//! borrow their side, so the bounds and ownership argument is made here, once, and the
//! client and the listener call safe code.

use std::cell::Cell;

use crate::ring::layout::WakeWord;
use crate::service::layout::{
    ENTRY_ACCEPTED, ENTRY_CLAIMED, ENTRY_CLOSED, ENTRY_CONNECT, ENTRY_FREE, MAX_SLOTS, SLOT_ANSWER,
    SLOT_HEADER, SLOT_REQUEST,
};
use crate::sync::{light_barrier, DataArea, Ordering};
use crate::{Error, Result};

#[cfg(not(loom))]
use crate::segment::Segment;
#[cfg(not(loom))]
use crate::service::layout::{ChannelShared, Held, CHANNEL_HEADER_SIZE, SHARED_OFFSET};

/// The slots of one channel, as either side sees them. Outside loom it owns the channel's
/// segment, so the data area it points into lives exactly as long as it does.
///
/// Invariants (checked when it is made): `1 <= slots <= MAX_SLOTS`, `slot_size` is a
/// multiple of 8 and at least `SLOT_HEADER + max_message`, and `data` covers
/// `slots * slot_size` bytes, 8-aligned.
#[derive(Debug)]
#[cfg_attr(loom, derive(Clone))]
pub(crate) struct ChannelCore {
    data: DataArea,
    slots: u32,
    slot_size: u32,
    max_message: u32,
    /// The segment the data area is in (dropped after nothing points into it any more).
    #[cfg(not(loom))]
    seg: Held<ChannelShared>,
    /// The model's stand-in for the client's wake word in `ChannelShared`.
    #[cfg(loom)]
    client_wake: loom::sync::Arc<WakeWord>,
}

fn check_geometry(slots: u32, slot_size: u32, max_message: u32) -> usize {
    assert!(
        (1..=MAX_SLOTS).contains(&slots)
            && slot_size % 8 == 0
            && SLOT_HEADER as u64 + max_message as u64 <= slot_size as u64,
        "internal error: channel geometry {slots} x {slot_size} for {max_message} bytes"
    );
    slots as usize * slot_size as usize
}

impl ChannelCore {
    /// Takes a channel segment whose geometry was validated (or made by us): `slots` slots
    /// of `slot_size` bytes for messages of up to `max_message` bytes. Panics if the
    /// geometry does not fit the mapping (a bug in this crate: callers validate first).
    #[cfg(not(loom))]
    pub(crate) fn attach(seg: Segment, slots: u32, slot_size: u32, max_message: u32) -> Self {
        let len = check_geometry(slots, slot_size, max_message);
        let map = seg.mapping();
        assert!(
            CHANNEL_HEADER_SIZE
                .checked_add(len)
                .is_some_and(|end| end <= map.len()),
            "internal error: {slots} slots of {slot_size} bytes outside a channel of {} bytes",
            map.len()
        );
        // SAFETY: the slots lie inside the mapping (asserted above), from offset 512 of a
        // page-aligned mapping (8-aligned); the mapping lives as long as `seg`, which the
        // core owns and drops with the data area.
        let data = unsafe { DataArea::new(map.as_ptr().add(CHANNEL_HEADER_SIZE), len) };
        ChannelCore {
            data,
            slots,
            slot_size,
            max_message,
            seg: Held::new(seg, SHARED_OFFSET),
        }
    }

    /// The loom model's channel: an area of `slots * slot_size` model bytes.
    #[cfg(loom)]
    pub(crate) fn new_model(
        slots: u32,
        slot_size: u32,
        max_message: u32,
        client_wake: loom::sync::Arc<WakeWord>,
    ) -> Self {
        let len = check_geometry(slots, slot_size, max_message);
        ChannelCore {
            data: DataArea::new_model(len),
            slots,
            slot_size,
            max_message,
            client_wake,
        }
    }

    /// The channel's segment.
    #[cfg(not(loom))]
    pub(crate) fn segment(&self) -> &Segment {
        &self.seg
    }

    /// The channel's run-time words.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn shared(&self) -> &ChannelShared {
        self.seg.shared()
    }

    /// The word the client sleeps on, waiting for an answer.
    #[inline(always)]
    pub(crate) fn client_wake(&self) -> &WakeWord {
        #[cfg(not(loom))]
        let wake = &self.shared().client_wake;
        #[cfg(loom)]
        let wake = &*self.client_wake;
        wake
    }

    /// Number of slots.
    #[inline(always)]
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn slots(&self) -> u32 {
        self.slots
    }

    /// Largest request or answer.
    #[inline(always)]
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn max_message(&self) -> u32 {
        self.max_message
    }

    // The raw accesses. Private: every caller in this module passes `slot < slots` (a
    // token's slot, or an index below `slots`) and a length of at most `max_message`.

    /// Offset of slot `slot`'s header word.
    #[inline(always)]
    fn header_off(&self, slot: u32) -> usize {
        debug_assert!(slot < self.slots);
        slot as usize * self.slot_size as usize
    }

    /// Offset of slot `slot`'s payload.
    #[inline(always)]
    fn payload_off(&self, slot: u32) -> usize {
        self.header_off(slot) + SLOT_HEADER
    }

    #[inline(always)]
    fn load(&self, slot: u32) -> (u32, u32) {
        // SAFETY: `slot < slots` (see above), so the header word is 8-aligned (slot sizes
        // are multiples of 8) and inside the area.
        unsafe { self.data.load_header(self.header_off(slot)) }
    }

    /// Publishes `(len, state)` in slot `slot`'s header word, with Release.
    #[inline(always)]
    fn store(&self, slot: u32, len: u32, state: u32) {
        debug_assert!(len <= self.max_message);
        // SAFETY: in bounds and aligned as in `load`; the caller's token owns the slot.
        unsafe {
            self.data
                .store_header(self.header_off(slot), len, state, Ordering::Release)
        };
    }

    /// Copies `src` into slot `slot`'s payload.
    #[inline(always)]
    fn write(&self, slot: u32, src: &[u8]) {
        debug_assert!(src.len() <= self.max_message as usize);
        // SAFETY: `src.len() <= max_message` and `SLOT_HEADER + max_message <= slot_size`,
        // so in bounds; the caller's token owns the slot and holds no view of it across
        // this call (`&mut self` on the token).
        unsafe { self.data.write(self.payload_off(slot), src) };
    }

    /// Replaces `out`'s contents with the `len` payload bytes of slot `slot`, read with
    /// word-sized atomic loads (no reference into the slot is made).
    #[inline]
    fn copy_out(&self, slot: u32, len: u32, out: &mut Vec<u8>) {
        debug_assert!(len <= self.max_message);
        // SAFETY: the payload offset is 8-aligned (slot sizes are multiples of 8, the header
        // is 8 bytes), and `len` rounded up to 8 stays within the slot (`slot_size` is a
        // multiple of 8 at least `8 + max_message`); the bytes were published to the
        // caller's token.
        unsafe {
            self.data
                .read_atomic_into(self.payload_off(slot), len as usize, out)
        };
    }

    /// The first `len` payload bytes of slot `slot`, for as long as the caller's token is
    /// borrowed.
    #[cfg(not(loom))]
    #[inline(always)]
    fn bytes(&self, slot: u32, len: u32) -> &[u8] {
        debug_assert!(len <= self.max_message);
        // SAFETY: in bounds (`len <= max_message`); published to, or owned by, the caller's
        // token, which the returned slice borrows: no `&mut` view of these bytes exists
        // meanwhile, and the peer does not write them until the token is gone (see the
        // module docs on a hostile peer). The area lives as long as `self`.
        unsafe { self.data.slice(self.payload_off(slot), len as usize) }
    }

    /// Slot `slot`'s whole payload, writable, for as long as the caller's token is borrowed
    /// mutably.
    #[cfg(not(loom))]
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    fn bytes_mut(&self, slot: u32) -> &mut [u8] {
        // SAFETY: in bounds (`max_message` bytes after the header); owned by the caller's
        // token, which the returned slice borrows mutably, so it is the only view; the peer
        // does not touch the payload of a slot it does not own. The area lives as long as
        // `self`.
        unsafe {
            self.data
                .slice_mut(self.payload_off(slot), self.max_message as usize)
        }
    }

    /// Client side: `Some(len)` once the server answered slot `slot` (`slot < slots`),
    /// `None` while the request is pending.
    #[inline(always)]
    fn poll_answer(&self, slot: u32) -> std::result::Result<Option<u32>, BadSlot> {
        // SYNC: Acquire (in `load`) pairs with the server's Release in `Served::answer`:
        // the answer's bytes are visible after this load.
        match self.load(slot) {
            (len, SLOT_ANSWER) if len <= self.max_message => Ok(Some(len)),
            (_, SLOT_REQUEST) => Ok(None),
            (len, state) => Err(self.bad(slot, len, state, SLOT_ANSWER)),
        }
    }

    /// Server side: `Some(len)` if slot `slot` (`slot < slots`) holds a request not yet
    /// answered.
    #[inline(always)]
    fn poll_request(&self, slot: u32) -> std::result::Result<Option<u32>, BadSlot> {
        // SYNC: Acquire (in `load`) pairs with the client's Release in `Fits::send` /
        // `Owned::send`.
        match self.load(slot) {
            (len, SLOT_REQUEST) if len <= self.max_message => Ok(Some(len)),
            (_, SLOT_ANSWER) | (0, 0) => Ok(None),
            (len, state) => Err(self.bad(slot, len, state, SLOT_REQUEST)),
        }
    }

    #[inline(always)]
    fn bad(&self, slot: u32, len: u32, state: u32, expected: u32) -> BadSlot {
        BadSlot {
            slot,
            len,
            state,
            expected,
            max: self.max_message,
        }
    }
}

/// An invalid slot header, as the poll that loaded it saw it: a few words, so that the
/// polls return it in registers; [`Error::Corrupt`] is made from it (off the polling path)
/// where an error is reported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BadSlot {
    slot: u32,
    len: u32,
    state: u32,
    /// The state the poll was looking for (`SLOT_ANSWER` or `SLOT_REQUEST`).
    expected: u32,
    max: u32,
}

impl From<BadSlot> for Error {
    #[cold]
    #[inline(never)]
    fn from(b: BadSlot) -> Error {
        let BadSlot {
            slot,
            len,
            state,
            expected,
            max,
        } = b;
        Error::corrupt(match (state == expected, expected == SLOT_ANSWER) {
            (true, true) => format!(
                "service answer of {len} bytes in slot {slot} exceeds the slot's {max} bytes"
            ),
            (true, false) => format!(
                "service request of {len} bytes in slot {slot} exceeds the slot's {max} bytes"
            ),
            (false, true) => format!(
                "service slot {slot} holds state {state:#x} (len {len}) while a request is pending"
            ),
            (false, false) => {
                format!("service slot {slot} holds unknown state {state:#x} (len {len})")
            }
        })
    }
}

fn too_large(len: usize, max: u32) -> Error {
    Error::MessageTooLarge {
        len,
        max: max as usize,
    }
}

// ---- The client's side ----

/// The client's side of a channel: which slots are free and which hold a published request
/// whose answer has not been taken. A slot is in at most one of the two sets, or held by
/// exactly one token ([`Owned`], [`Answered`]).
#[derive(Debug)]
pub(crate) struct ClientSide {
    core: ChannelCore,
    /// Slots free for a new request (bit per slot; only bits below `slots`).
    free: Cell<u64>,
    /// Slots whose request is published and whose answer has not been taken.
    pending: Cell<u64>,
}

impl ClientSide {
    /// Every slot free.
    pub(crate) fn new(core: ChannelCore) -> ClientSide {
        let all = u64::MAX >> (64 - core.slots);
        ClientSide {
            core,
            free: Cell::new(all),
            pending: Cell::new(0),
        }
    }

    /// A free slot to write a request into. [`Error::SystemLimit`] if every slot is in
    /// flight (or held by an answer).
    #[inline]
    pub(crate) fn take(&self) -> Result<Owned<'_>> {
        let free = self.free.get();
        if free == 0 {
            return Err(self.all_in_flight());
        }
        let slot = free.trailing_zeros();
        self.free.set(free & !(1 << slot));
        Ok(Owned { side: self, slot })
    }

    #[cold]
    #[inline(never)]
    fn all_in_flight(&self) -> Error {
        Error::SystemLimit {
            what: format!("all {} slots of the channel are in flight", self.core.slots).into(),
            hint: "wait for an answer (or drop one), or connect with more ServiceOptions::slots"
                .into(),
        }
    }

    /// `req`, checked to fit a slot ([`Error::MessageTooLarge`] otherwise), ready to be
    /// sent with [`Fits::send`].
    #[inline]
    pub(crate) fn fits<'s>(&self, req: &'s [u8]) -> Result<Fits<'_, 's>> {
        if req.len() > self.core.max_message as usize {
            return Err(too_large(req.len(), self.core.max_message));
        }
        Ok(Fits { side: self, req })
    }

    /// The bit of `slot` if its request is in flight, else the error a stale ticket gets.
    #[inline(always)]
    fn pending_bit(&self, slot: u32) -> Result<u64> {
        match 1u64.checked_shl(slot) {
            Some(bit) if self.pending.get() & bit != 0 => Ok(bit),
            _ => Err(Error::InvalidConfig(
                "this ticket is not in flight on this client".into(),
            )),
        }
    }

    /// Marks `slot` (owned by the caller's token, which is then forgotten) published.
    #[inline(always)]
    fn publish(&self, slot: u32, len: u32) {
        // SYNC: Release (in `store`) publishes the request's payload bytes to the server,
        // which loads this word with Acquire in `poll_request`.
        self.core.store(slot, len, SLOT_REQUEST);
        self.pending.set(self.pending.get() | 1 << slot);
    }

    /// The answer to the request in flight in `slot`, once the server published it: it
    /// is then no longer in flight. [`Error::InvalidConfig`] if no request is in flight
    /// there; [`Error::Corrupt`] for an invalid header.
    #[inline(always)]
    pub(crate) fn answer(&self, slot: u32) -> Result<Option<Answered<'_>>> {
        let bit = self.pending_bit(slot)?;
        // A pending slot is below `slots`: bits are set only by `publish`, for owned slots.
        Ok(self.core.poll_answer(slot)?.map(|len| {
            self.pending.set(self.pending.get() & !bit);
            Answered {
                side: self,
                slot,
                len,
            }
        }))
    }

    /// True if the request in flight in `slot` has its answer (then [`ClientSide::answer`]
    /// gives it at once).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn is_answered(&self, slot: u32) -> Result<bool> {
        self.pending_bit(slot)?;
        Ok(self.core.poll_answer(slot)?.is_some())
    }

    /// True if a slot is free for a new request.
    #[cfg(all(feature = "async", not(loom)))]
    pub(crate) fn has_free(&self) -> bool {
        self.free.get() != 0
    }

    #[inline(always)]
    fn give_back(&self, slot: u32) {
        self.free.set(self.free.get() | 1 << slot);
    }
}

/// A client's free slot, taken: writable until sent; given back if dropped unsent.
#[derive(Debug)]
pub(crate) struct Owned<'a> {
    side: &'a ClientSide,
    slot: u32,
}

impl Owned<'_> {
    /// The slot's index.
    #[inline(always)]
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn slot(&self) -> u32 {
        self.slot
    }

    /// The slot's whole payload (`max_message` bytes).
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn bytes(&self) -> &[u8] {
        self.side.core.bytes(self.slot, self.side.core.max_message)
    }

    /// The slot's whole payload, writable.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        self.side.core.bytes_mut(self.slot)
    }

    /// Publishes the first `len` payload bytes as the request; the slot's index comes back
    /// (the ticket). [`Error::MessageTooLarge`] past the slot (the slot is given back).
    #[inline]
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn send(self, len: usize) -> Result<u32> {
        let max = self.side.core.max_message;
        if len > max as usize {
            return Err(too_large(len, max));
        }
        let (side, slot) = (self.side, self.slot);
        std::mem::forget(self);
        side.publish(slot, len as u32);
        Ok(slot)
    }
}

impl Drop for Owned<'_> {
    #[inline]
    fn drop(&mut self) {
        self.side.give_back(self.slot);
    }
}

/// A request checked to fit a slot of the side that checked it.
#[derive(Debug)]
pub(crate) struct Fits<'a, 's> {
    side: &'a ClientSide,
    req: &'s [u8],
}

impl Fits<'_, '_> {
    /// Copies the request into a free slot and publishes it; the slot's index comes back
    /// (the ticket). [`Error::SystemLimit`] if every slot is in flight.
    #[inline]
    pub(crate) fn send(self) -> Result<u32> {
        let owned = self.side.take()?;
        let (side, slot) = (owned.side, owned.slot);
        std::mem::forget(owned);
        // `req` fits (checked by `fits`), and the slot is ours (just taken).
        side.core.write(slot, self.req);
        side.publish(slot, self.req.len() as u32);
        Ok(slot)
    }
}

/// An answer the client has taken: its slot is the client's until this is dropped, then
/// free again.
pub(crate) type Answered<'a> = Filled<'a, ClientSide>;

impl Side for ClientSide {
    #[inline(always)]
    fn core(&self) -> &ChannelCore {
        &self.core
    }

    #[inline]
    fn release(&self, slot: u32) {
        self.give_back(slot);
    }
}

// ---- The server's side ----

/// The server's side of a channel: finds requests, and hands out the one found as a
/// [`Served`], which answers it (with zero bytes if dropped unanswered).
#[derive(Debug)]
pub(crate) struct ServerSide {
    core: ChannelCore,
    /// The client may sleep waiting for answers (its `FLAG_MAY_SLEEP`).
    client_may_sleep: bool,
    /// The request the last `poll` found, `(slot, len)`: published, validated, unanswered.
    found: Option<(u32, u32)>,
}

impl ServerSide {
    /// A channel the server just accepted.
    pub(crate) fn new(core: ChannelCore, client_may_sleep: bool) -> ServerSide {
        ServerSide {
            core,
            client_may_sleep,
            found: None,
        }
    }

    /// Looks at every slot for a request: true if one was found (then [`ServerSide::take`]
    /// gives it). [`BadSlot`] (an [`Error::Corrupt`]) for an invalid header.
    #[inline]
    pub(crate) fn poll(&mut self) -> std::result::Result<bool, BadSlot> {
        for s in 0..self.core.slots {
            // (Prefetching the slot's second line while polling was measured: 64 B round
            // trips went from 120-132 to 148-190 ns near, 320 to 570 ns far.)
            if let Some(len) = self.core.poll_request(s)? {
                self.found = Some((s, len));
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The request the last [`ServerSide::poll`] found, if not taken yet.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<Served<'_>> {
        let (slot, len) = self.found.take()?;
        Some(Served {
            side: self,
            slot,
            len,
        })
    }
}

/// A request the server holds: its slot is the server's until it answers, which it does
/// exactly once ([`Served::respond`], [`Served::respond_with`], or zero bytes on drop).
pub(crate) type Served<'a> = Filled<'a, ServerSide>;

impl Side for ServerSide {
    #[inline(always)]
    fn core(&self) -> &ChannelCore {
        &self.core
    }

    /// Unanswered: answered with zero bytes.
    #[inline]
    fn release(&self, slot: u32) {
        publish_answer(self, slot, 0);
    }
}

impl Served<'_> {
    /// The largest answer.
    #[inline(always)]
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn max_answer(&self) -> u32 {
        self.side.core.max_message
    }

    /// The slot's whole payload, writable (the request in its first `len` bytes).
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn buffer(&mut self) -> &mut [u8] {
        self.side.core.bytes_mut(self.slot)
    }

    /// Publishes the first `len` bytes of the payload as the answer.
    /// [`Error::MessageTooLarge`] past the slot (then the request is answered with zero
    /// bytes, as on drop).
    #[inline]
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn respond(self, len: usize) -> Result<()> {
        let max = self.side.core.max_message;
        if len > max as usize {
            return Err(too_large(len, max));
        }
        self.answer(len as u32);
        Ok(())
    }

    /// Copies `answer` over the request and publishes it. [`Error::MessageTooLarge`] past
    /// the slot (nothing is written; the request is answered with zero bytes).
    #[inline]
    pub(crate) fn respond_with(self, answer: &[u8]) -> Result<()> {
        let max = self.side.core.max_message;
        if answer.len() > max as usize {
            return Err(too_large(answer.len(), max));
        }
        // Fits (checked above); the slot is ours until we publish.
        self.side.core.write(self.slot, answer);
        self.answer(answer.len() as u32);
        Ok(())
    }

    #[inline]
    fn answer(self, len: u32) {
        let (side, slot) = (self.side, self.slot);
        std::mem::forget(self);
        publish_answer(side, slot, len);
    }
}

// ---- A slot holding a message: the answer taken, the request found ----

/// What a [`Filled`] token needs of its side: the channel, and what becomes of a slot whose
/// token goes.
pub(crate) trait Side {
    /// The channel.
    fn core(&self) -> &ChannelCore;

    /// The token holding `slot` was dropped.
    fn release(&self, slot: u32);
}

/// A slot a side holds with a message of `len` bytes in it: the client's [`Answered`] or
/// the server's [`Served`]. Dropped, it gives the slot back as its side says
/// ([`Side::release`]).
#[derive(Debug)]
pub(crate) struct Filled<'a, S: Side> {
    side: &'a S,
    slot: u32,
    len: u32,
}

impl<S: Side> Filled<'_, S> {
    /// The slot's index.
    #[inline(always)]
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn slot(&self) -> u32 {
        self.slot
    }

    /// The message's length.
    #[inline(always)]
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// The message's bytes, in the channel.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn bytes(&self) -> &[u8] {
        // `len <= max_message`: validated by `poll_answer` or `poll_request`.
        self.side.core().bytes(self.slot, self.len)
    }

    /// Replaces `out`'s contents with a copy of the message, read with word-sized atomic
    /// loads: no reference into shared memory is made (for an untrusted peer).
    #[inline]
    pub(crate) fn copy_into(&self, out: &mut Vec<u8>) {
        self.side.core().copy_out(self.slot, self.len, out);
    }
}

impl<S: Side> Drop for Filled<'_, S> {
    #[inline]
    fn drop(&mut self) {
        self.side.release(self.slot);
    }
}

/// Publishes the answer of `len <= max_message` bytes in `slot` (held by a `Served` that
/// is gone) and wakes the client if it sleeps.
#[inline]
fn publish_answer(side: &ServerSide, slot: u32, len: u32) {
    // SYNC: Release (in `store`) publishes the answer's bytes to the client (`poll_answer`).
    side.core.store(slot, len, SLOT_ANSWER);
    let wake = side.core.client_wake();
    if must_wake(wake, side.client_may_sleep) {
        wake.wake();
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
