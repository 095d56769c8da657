//! loom models of the service channel's slot protocol: request published, answered in the
//! same bytes, answer read, slot reused; pipelined slots; no lost wake-up on either side.
//! Run with `RUSTFLAGS="--cfg loom" cargo test --lib --release service::tests_loom`.
//!
//! The slots are `loom::cell::UnsafeCell`s, so loom reports any read of a request or an
//! answer not ordered after its write (a missing Release/Acquire on the header word), and
//! the futex is a loom condvar, so a lost wake-up shows up as a deadlock.

use loom::sync::Arc;
use loom::thread;

use crate::ring::layout::WakeWord;
use crate::service::core::{must_wake, ChannelCore};
use crate::sync::{AtomicU32, DataArea};

const SLOT_SIZE: u32 = 32;
const MAX: u32 = 24;

fn wake_word() -> WakeWord {
    WakeWord {
        seq: AtomicU32::new(0),
        waiters: AtomicU32::new(0),
        park: (loom::sync::Mutex::new(()), loom::sync::Condvar::new()),
    }
}

struct Model {
    core: ChannelCore,
    server_wake: Arc<WakeWord>,
    client_wake: Arc<WakeWord>,
}

impl Model {
    fn new(slots: u32) -> Model {
        let data = DataArea::new_model((slots * SLOT_SIZE) as usize);
        Model {
            // SAFETY: the model's area holds `slots` slots of SLOT_SIZE bytes, each with room
            // for the 8-byte header and MAX payload bytes.
            core: unsafe { ChannelCore::new(data, slots, SLOT_SIZE, MAX) },
            server_wake: Arc::new(wake_word()),
            client_wake: Arc::new(wake_word()),
        }
    }

    fn clone_sides(&self) -> Model {
        Model {
            core: self.core.clone(),
            server_wake: self.server_wake.clone(),
            client_wake: self.client_wake.clone(),
        }
    }
}

fn request(round: u8, slot: u32) -> Vec<u8> {
    vec![round.wrapping_mul(31).wrapping_add(slot as u8); 3]
}

fn answer_for(req: &[u8]) -> Vec<u8> {
    req.iter()
        .map(|b| b.wrapping_add(1))
        .chain([0xAA])
        .collect()
}

/// The client's submit, as `Client::submit` does it.
fn submit(m: &Model, slot: u32, req: &[u8], server_may_sleep: bool) {
    // SAFETY: the slot is the client's (free, or its answer read), in bounds.
    unsafe {
        m.core.data().write(m.core.payload_off(slot), req);
        m.core.publish_request(slot, req.len() as u32);
    }
    if must_wake(&m.server_wake, server_may_sleep) {
        m.server_wake.wake();
    }
}

/// The client's wait for slot `slot`'s answer, as `wait_for` does it (without the clock):
/// announce, re-check, sleep.
fn wait_answer(m: &Model, slot: u32, sleep: bool) -> Vec<u8> {
    let len = loop {
        if let Some(len) = m.core.poll_answer(slot).unwrap() {
            break len;
        }
        if !sleep {
            thread::yield_now();
            continue;
        }
        let (ticket, _) = m.client_wake.prepare_wait();
        if let Some(len) = m.core.poll_answer(slot).unwrap() {
            m.client_wake.cancel_wait();
            break len;
        }
        m.client_wake.sleep(ticket, None);
        m.client_wake.cancel_wait();
    };
    let mut out = vec![0; len as usize];
    // SAFETY: the answer is published (Acquire in poll_answer) and in bounds.
    unsafe { m.core.data().read(m.core.payload_off(slot), &mut out) };
    out
}

/// The server's poll of every slot, then its answer written over the request, as
/// `Listener::poll` and `Request::respond_with` do it.
fn serve_one(m: &Model, sleep: bool, client_may_sleep: bool) {
    let (slot, len) = loop {
        let found =
            (0..m.core.slots()).find_map(|s| m.core.poll_request(s).unwrap().map(|len| (s, len)));
        if let Some(f) = found {
            break f;
        }
        if !sleep {
            thread::yield_now();
            continue;
        }
        let (ticket, _) = m.server_wake.prepare_wait();
        let found =
            (0..m.core.slots()).find_map(|s| m.core.poll_request(s).unwrap().map(|len| (s, len)));
        if let Some(f) = found {
            m.server_wake.cancel_wait();
            break f;
        }
        m.server_wake.sleep(ticket, None);
        m.server_wake.cancel_wait();
    };
    let mut req = vec![0; len as usize];
    // SAFETY: the request is published to us (Acquire in poll_request) and in bounds; the
    // answer overwrites it in the same bytes, the slot being ours until we publish.
    unsafe {
        m.core.data().read(m.core.payload_off(slot), &mut req);
        let ans = answer_for(&req);
        m.core.data().write(m.core.payload_off(slot), &ans);
        m.core.publish_answer(slot, ans.len() as u32);
    }
    if must_wake(&m.client_wake, client_may_sleep) {
        m.client_wake.wake();
    }
}

/// Two round trips through one slot with both sides sleeping: the second request reuses
/// the bytes the first answer came back in; every read is ordered after its write, and
/// neither side misses a wake-up.
#[test]
fn round_trips_reuse_the_slot_no_lost_wakeup() {
    loom::model(|| {
        let m = Model::new(1);
        let s = m.clone_sides();
        let server = thread::spawn(move || {
            for _ in 0..2 {
                serve_one(&s, true, true);
            }
        });
        for round in 0..2u8 {
            let req = request(round, 0);
            submit(&m, 0, &req, true);
            assert_eq!(wait_answer(&m, 0, true), answer_for(&req));
        }
        server.join().unwrap();
    });
}

/// Pipelining: two requests in two slots in flight at once, answered in whatever order the
/// server finds them, each answer in its own slot; the client waits for the second first.
#[test]
fn pipelined_slots() {
    loom::model(|| {
        let m = Model::new(2);
        let s = m.clone_sides();
        let server = thread::spawn(move || {
            for _ in 0..2 {
                serve_one(&s, false, false);
            }
        });
        let (r0, r1) = (request(0, 0), request(0, 1));
        submit(&m, 0, &r0, false);
        submit(&m, 1, &r1, false);
        assert_eq!(wait_answer(&m, 1, false), answer_for(&r1));
        assert_eq!(wait_answer(&m, 0, false), answer_for(&r0));
        server.join().unwrap();
    });
}

// ---- The accept path: connect vs accept vs a client dying ----

use crate::service::core::EntryWords;
use crate::service::layout::{ENTRY_ACCEPTED, ENTRY_CONNECT, ENTRY_FREE};
use crate::sync::{AtomicU64, Ordering};
use loom::sync::atomic::AtomicBool;

/// One connection entry: its two words, the kernel's lock on its byte of the listener file
/// (a system call is a full barrier: SeqCst), the channel the client makes before posting
/// (a loom cell: reading it unordered after its write is reported), and how many clients
/// think they own the entry.
struct Slot {
    state: AtomicU32,
    nonce: AtomicU64,
    lock: AtomicBool,
    channel: loom::cell::UnsafeCell<u64>,
    owners: AtomicU32,
}

impl Slot {
    fn new() -> Arc<Slot> {
        Arc::new(Slot {
            state: AtomicU32::new(ENTRY_FREE),
            nonce: AtomicU64::new(0),
            lock: AtomicBool::new(false),
            channel: loom::cell::UnsafeCell::new(0),
            owners: AtomicU32::new(0),
        })
    }

    fn words(&self) -> EntryWords<'_> {
        EntryWords {
            state: &self.state,
            nonce: &self.nonce,
        }
    }

    /// A client's connect up to posting, as `Client::claim` and `Client::join` run it:
    /// the lock, the claim, the channel, the post. False if the entry was not free.
    fn connect(&self, nonce: u64) -> bool {
        if self
            .lock
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        if !self.words().claim() {
            self.lock.store(false, Ordering::SeqCst);
            return false;
        }
        assert_eq!(
            self.owners.fetch_add(1, Ordering::SeqCst),
            0,
            "two clients own one entry"
        );
        // SAFETY: the entry is ours (lock and claim); the server reads the channel only
        // after seeing the post.
        self.channel.with_mut(|c| unsafe { *c = nonce * 3 });
        self.words().post(nonce);
        true
    }

    /// The client dies (or leaves): the kernel drops its lock.
    fn die(&self) {
        self.owners.fetch_sub(1, Ordering::SeqCst);
        self.lock.store(false, Ordering::SeqCst);
    }

    /// One pass of the server: accept a posted connect (checking the channel it names),
    /// then reap the entry if its client is gone, as `Listener::accept_all` and
    /// `Listener::reap` do.
    fn serve_pass(&self, accepted: &mut bool) {
        if !*accepted {
            if let Some(nonce) = self.words().posted() {
                // SAFETY: the client wrote the channel before posting (Release/Acquire).
                let c = self.channel.with(|c| unsafe { *c });
                assert_eq!(c, nonce * 3, "the server sees the channel the client made");
                *accepted = true;
                self.words().judge(true);
            }
        }
        let state = self.state.load(Ordering::Acquire);
        if state != ENTRY_FREE && !self.lock.load(Ordering::SeqCst) {
            *accepted = false;
            self.words().free(state);
        }
    }
}

/// A client connecting while the server polls: the server sees the channel the client
/// made (never an unordered read), the client sees itself accepted.
#[test]
fn connect_vs_accept() {
    loom::model(|| {
        let slot = Slot::new();
        let s = slot.clone();
        let server = thread::spawn(move || {
            let mut accepted = false;
            for _ in 0..3 {
                s.serve_pass(&mut accepted);
                if accepted {
                    return;
                }
                thread::yield_now();
            }
        });
        assert!(slot.connect(7));
        let verdict = loop {
            let v = slot.words().verdict();
            if v != ENTRY_CONNECT {
                break v;
            }
            thread::yield_now();
        };
        assert_eq!(verdict, ENTRY_ACCEPTED);
        server.join().unwrap();
    });
}

/// A client that dies right after posting, a second client trying to connect at any
/// moment, and the server accepting and reaping: the second client gets the entry only
/// once the server freed it, never while the first owns it; the server accepts each
/// client with its own channel.
#[test]
fn a_dying_client_and_the_next_one() {
    loom::model(|| {
        let slot = Slot::new();
        let (s, b) = (slot.clone(), slot.clone());
        let server = thread::spawn(move || {
            let mut accepted = false;
            for _ in 0..3 {
                s.serve_pass(&mut accepted);
                thread::yield_now();
            }
        });
        let second = thread::spawn(move || {
            for _ in 0..2 {
                if b.connect(2) {
                    b.die();
                    return;
                }
                thread::yield_now();
            }
        });
        if slot.connect(1) {
            slot.die();
        }
        server.join().unwrap();
        second.join().unwrap();
        assert_eq!(slot.owners.load(Ordering::SeqCst), 0);
    });
}
