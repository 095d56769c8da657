//! The byte layouts of a service: the listener segment (the rendezvous) and each client's
//! channel segment. Every word is little-endian, fixed-width and naturally aligned; `const`
//! assertions keep the offsets below true.
//!
//! Listener segment (kind [`KIND_LISTENER`], created by the server):
//!
//! ```text
//! offset  size  field                           written by
//! 0       128   SegmentHeader (crate::segment)
//! 128     4     max_clients                     server, before `ready`
//! 132     4     max_slots                       server, before `ready`
//! 136     4     max_message                     server, before `ready`
//! 140     4     flags (bit 0: the server may sleep on its futex; bit 1: an auth key is
//!               required)
//! 256     4     connect_seq                     clients bump it after posting a connect
//! 384     4+4   server wake: seq, waiters       server announces, clients wake
//! 512     64*n  entries, one per connection     claimed by a client (lock + CAS)
//! ```
//!
//! Entry `i`'s liveness lock is byte [`ENTRY_LOCK_BASE`]` + i` of the listener file, held by
//! the client for as long as it is connected (an open-file-description lock: the kernel
//! drops it when the client dies, however it dies).
//!
//! Channel segment (kind [`KIND_CHANNEL`], created by the client, named
//! `<listener name>.<entry>.<nonce as 16 hex digits>`, unlinked once the server mapped it):
//!
//! ```text
//! offset  size  field                           written by
//! 0       128   SegmentHeader
//! 128     4     slots                           client, before `ready`
//! 132     4     slot_size (bytes, a multiple of 128, header word included)
//! 136     4     max_message (= slot_size - 8)
//! 140     4     flags (bit 0: the client may sleep on its futex)
//! 144     8     listener_nonce                  the listener's creation nonce
//! 152     4     entry                           the entry this channel belongs to
//! 160     32    client proof (HMAC, with a key)  client, before `ready`
//! 192     32    server proof (HMAC, with a key)  server, before it accepts
//! 256     4     closed (0 open, 1 closed by the server)
//! 384     4+4   client wake: seq, waiters       client announces, server wakes
//! 512     slots * slot_size: the slots
//! ```
//!
//! A slot is a header word (`len: u32, state: u32`) followed by up to `max_message`
//! bytes. `state` is 0 (free: never used), [`SLOT_REQUEST`] (the client published a
//! request of `len` bytes) or [`SLOT_ANSWER`] (the server wrote an answer of `len` bytes
//! over it, in the same lines). Anything else is corruption.

#[cfg(not(loom))]
use crate::ring::layout::WakeWord;
#[cfg(not(loom))]
use crate::sync::{AtomicU32, AtomicU64};

/// Segment kind of a service listener.
pub const KIND_LISTENER: u32 = crate::kinds::LISTENER.id;
/// Segment kind of a service channel.
pub const KIND_CHANNEL: u32 = crate::kinds::CHANNEL.id;

/// Size of the listener's header; entries start here.
pub const LISTENER_HEADER_SIZE: usize = 512;
/// Bytes per connection entry.
pub const ENTRY_SIZE: usize = 64;
/// Size of a channel's header; slots start here.
pub const CHANNEL_HEADER_SIZE: usize = 512;
/// Slot sizes are multiples of this (two cache lines on x86_64, the pair its adjacent-line
/// prefetcher moves together).
pub const SLOT_ALIGN: usize = 128;
/// The slot's header word: `len: u32, state: u32`.
pub const SLOT_HEADER: usize = 8;
/// Byte of the listener file whose lock is the server's role.
pub const SERVER_ROLE: u64 = crate::kinds::SERVER.byte;
/// Entry `i`'s liveness lock is on byte `ENTRY_LOCK_BASE + i` of the listener file.
pub const ENTRY_LOCK_BASE: u64 = 1024;

/// The lock a client holds on its connection entry `e` of the listener file (while it
/// lives, the server knows the connection's client is alive).
pub(crate) const fn entry_role(e: u32) -> crate::kinds::Role {
    crate::kinds::Role::new(ENTRY_LOCK_BASE + e as u64, "client")
}

/// Most connection entries a listener may have.
pub const MAX_CLIENTS: u32 = 4096;
/// Most slots a channel may have.
pub const MAX_SLOTS: u32 = 64;
/// Largest request or answer a slot may carry (16 MiB).
pub const MAX_MESSAGE: u32 = 1 << 24;

/// Slot state: a request of `len` bytes, published by the client.
pub const SLOT_REQUEST: u32 = u32::from_le_bytes(*b"REQ1");
/// Slot state: an answer of `len` bytes, published by the server.
pub const SLOT_ANSWER: u32 = u32::from_le_bytes(*b"ANS1");

/// `flags` bit: this side may sleep on its futex, so the other must check its waiters.
pub const FLAG_MAY_SLEEP: u32 = 1;
/// Listener `flags` bit: the server requires an auth key (see `service::auth`).
pub const FLAG_AUTH: u32 = 2;

/// Entry `refusal`: the channel was invalid (or vanished).
pub const REFUSED_INVALID: u32 = 1;
/// Entry `refusal`: the client's proof of the auth key was wrong.
pub const REFUSED_AUTH: u32 = 2;

/// Bytes of an entry's challenge.
pub const CHALLENGE_LEN: usize = 16;
/// Bytes of a proof (HMAC-SHA256).
pub const PROOF_LEN: usize = 32;
/// Offset of [`ChannelAuth`] in a channel.
pub const AUTH_OFFSET: usize = 160;

/// Entry state: unused; a client may claim it.
pub const ENTRY_FREE: u32 = 0;
/// Entry state: a client holds its lock and is setting up its channel.
pub const ENTRY_CLAIMED: u32 = 1;
/// Entry state: the client's channel is ready for the server to map.
pub const ENTRY_CONNECT: u32 = 2;
/// Entry state: the server mapped the channel and serves it.
pub const ENTRY_ACCEPTED: u32 = 3;
/// Entry state: the server refused the channel (invalid), or closed it.
pub const ENTRY_CLOSED: u32 = 4;

/// The slot size (a multiple of [`SLOT_ALIGN`]) for messages of up to `max_message` bytes.
///
/// ```
/// assert_eq!(ipcring::service::layout::slot_size_for(64), 128);
/// assert_eq!(ipcring::service::layout::slot_size_for(120), 128);
/// assert_eq!(ipcring::service::layout::slot_size_for(121), 256);
/// ```
pub const fn slot_size_for(max_message: u32) -> u32 {
    let need = SLOT_HEADER as u32 + max_message;
    need.div_ceil(SLOT_ALIGN as u32) * SLOT_ALIGN as u32
}

/// Listener geometry (offset 128): written before `ready`, read-only afterwards.
#[cfg(not(loom))]
#[repr(C)]
#[derive(Debug)]
pub struct ListenerGeometry {
    /// Number of connection entries.
    pub max_clients: AtomicU32,
    /// Most slots a client's channel may have.
    pub max_slots: AtomicU32,
    /// Largest request or answer a client's channel may carry.
    pub max_message: AtomicU32,
    /// [`FLAG_MAY_SLEEP`] if the server may sleep on its futex.
    pub flags: AtomicU32,
}

/// The listener's run-time words (offset 256), each group on its own 128-byte line.
#[cfg(not(loom))]
#[repr(C)]
#[derive(Debug)]
pub struct ListenerShared {
    /// Bumped by a client after it posted a connect: the server rescans the entries.
    pub connect_seq: AtomicU32,
    _pad0: [u8; 124],
    /// The server sleeps here when every channel is idle.
    pub server_wake: WakeWord,
    _pad1: [u8; 120],
}

/// A connection entry (offset 512 + 64 * i).
#[cfg(not(loom))]
#[repr(C)]
#[derive(Debug)]
pub struct Entry {
    /// `ENTRY_*`.
    pub state: AtomicU32,
    /// Pid of the client (informational).
    pub pid: AtomicU32,
    /// The nonce in the client's channel name.
    pub channel_nonce: AtomicU64,
    /// A fresh random challenge the server writes before the entry can be claimed and
    /// renews after every connect it judged: a client's auth proof covers it, so a proof
    /// seen once cannot be replayed.
    pub challenge: [AtomicU64; 2],
    /// Why the server refused the last connect (`REFUSED_*`), read by a client that sees
    /// `ENTRY_CLOSED` before being accepted.
    pub refusal: AtomicU32,
    _pad: [u8; 28],
}

/// Channel geometry (offset 128): written by the client before `ready`.
#[cfg(not(loom))]
#[repr(C)]
#[derive(Debug)]
pub struct ChannelGeometry {
    /// Number of slots.
    pub slots: AtomicU32,
    /// Bytes per slot, header word included; a multiple of [`SLOT_ALIGN`].
    pub slot_size: AtomicU32,
    /// Largest request or answer: `slot_size - 8`.
    pub max_message: AtomicU32,
    /// [`FLAG_MAY_SLEEP`] if the client may sleep on its futex.
    pub flags: AtomicU32,
    /// The creation nonce of the listener this channel was made for.
    pub listener_nonce: AtomicU64,
    /// The entry this channel belongs to.
    pub entry: AtomicU32,
    _reserved: AtomicU32,
}

/// The proofs of the auth key (offset 160), all zero without one: little-endian words of
/// HMAC-SHA256 outputs.
#[cfg(not(loom))]
#[repr(C)]
#[derive(Debug)]
pub struct ChannelAuth {
    /// The client's proof, written before the channel is published.
    pub client_proof: [AtomicU64; 4],
    /// The server's proof, written before it accepts.
    pub server_proof: [AtomicU64; 4],
}

/// The channel's run-time words (offset 256).
#[cfg(not(loom))]
#[repr(C)]
#[derive(Debug)]
pub struct ChannelShared {
    /// 0 while open; 1 once the server closed the connection (the client then sees
    /// `Disconnected`).
    pub closed: AtomicU32,
    _pad0: [u8; 124],
    /// The client sleeps here waiting for an answer.
    pub client_wake: WakeWord,
    _pad1: [u8; 120],
}

crate::kinds::shared_layout! {
    // SAFETY: this type and the five below: each is repr(C) of atomics (`WakeWord` too),
    // arrays of atomics and private padding bytes that nothing reads; every bit pattern is
    // valid, there are no pointers, and every field that is read changes only through
    // atomics.
    unsafe ListenerGeometry {} size 16;
    // SAFETY: as above.
    unsafe ListenerShared { server_wake: 128 } size 256;
    // SAFETY: as above.
    unsafe Entry { pid: 4, channel_nonce: 8, challenge: 16, refusal: 32 } size ENTRY_SIZE;
    // SAFETY: as above.
    unsafe ChannelGeometry { listener_nonce: 16, entry: 24 } size 32;
    // SAFETY: as above.
    unsafe ChannelAuth {} size 2 * PROOF_LEN;
    // SAFETY: as above.
    unsafe ChannelShared { client_wake: 128 } size 256;
}

/// A service segment with its run-time words ([`ListenerShared`] or [`ChannelShared`]).
#[cfg(not(loom))]
pub(crate) type Held<T> = crate::segment::Held<T>;

/// Offset of [`ListenerGeometry`] / [`ChannelGeometry`] in their segments.
pub const GEOMETRY_OFFSET: usize = 128;
/// Offset of [`ListenerShared`] / [`ChannelShared`] in their segments.
pub const SHARED_OFFSET: usize = 256;

#[cfg(not(loom))]
const _: () = {
    use std::mem::size_of;
    assert!(SHARED_OFFSET + size_of::<ListenerShared>() == LISTENER_HEADER_SIZE);
    assert!(GEOMETRY_OFFSET + size_of::<ChannelGeometry>() <= AUTH_OFFSET);
    assert!(AUTH_OFFSET + size_of::<ChannelAuth>() <= SHARED_OFFSET);
    assert!(CHALLENGE_LEN == 16 && PROOF_LEN == 32);
    assert!(SHARED_OFFSET + size_of::<ChannelShared>() == CHANNEL_HEADER_SIZE);
    assert!(GEOMETRY_OFFSET + size_of::<ChannelGeometry>() <= SHARED_OFFSET);
    assert!(CHANNEL_HEADER_SIZE % SLOT_ALIGN == 0);
    assert!(slot_size_for(MAX_MESSAGE) as u64 * MAX_SLOTS as u64 <= u32::MAX as u64);
};
