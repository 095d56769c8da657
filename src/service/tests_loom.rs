//! loom models of the service channel's slot protocol: request published, answered in the
//! same bytes, answer read, slot reused; pipelined slots; no lost wake-up on either side.
//! Run with `RUSTFLAGS="--cfg loom" cargo test --lib --release service::tests_loom`.
//!
//! The slots are `loom::cell::UnsafeCell`s, so loom reports any read of a request or an
//! answer not ordered after its write (a missing Release/Acquire on the header word), and
//! the futex is a loom condvar, so a lost wake-up shows up as a deadlock. Both sides go
//! through the same slot tokens (`ClientSide`, `ServerSide`) as `Client` and `Listener`.

use loom::sync::Arc;
use loom::thread;

use crate::ring::layout::WakeWord;
use crate::service::core::{must_wake, ChannelCore, ClientSide, ServerSide, Side};
use crate::sync::AtomicU32;

const SLOT_SIZE: u32 = 32;
const MAX: u32 = 24;

fn request(round: u8, slot: u32) -> Vec<u8> {
    vec![round.wrapping_mul(31).wrapping_add(slot as u8); 3]
}

fn answer_for(req: &[u8]) -> Vec<u8> {
    req.iter()
        .map(|b| b.wrapping_add(1))
        .chain([0xAA])
        .collect()
}

/// The client's submit, as `Client::submit` does it; the slot it went to.
fn submit(c: &ClientSide, server_wake: &WakeWord, req: &[u8], server_may_sleep: bool) -> u32 {
    let slot = c.fits(req).unwrap().send().unwrap();
    if must_wake(server_wake, server_may_sleep) {
        server_wake.wake();
    }
    slot
}

/// Looks until `look` finds something, as `wait_for` does it (without the clock): with
/// `sleep`, announce on `wake`, re-check, sleep; else yield between looks.
fn wait_on<T>(wake: &WakeWord, sleep: bool, mut look: impl FnMut() -> Option<T>) -> T {
    loop {
        if let Some(v) = look() {
            return v;
        }
        if !sleep {
            thread::yield_now();
            continue;
        }
        let (ticket, _) = wake.prepare_wait();
        if let Some(v) = look() {
            wake.cancel_wait();
            return v;
        }
        wake.sleep(ticket, None);
        wake.cancel_wait();
    }
}

/// The client's wait for slot `slot`'s answer; the answer is copied out as
/// `Client::call_into` does.
fn wait_answer(c: &ClientSide, slot: u32, sleep: bool) -> Vec<u8> {
    let answer = wait_on(c.core().client_wake(), sleep, || c.answer(slot).unwrap());
    let mut out = Vec::new();
    answer.copy_into(&mut out);
    out
}

/// The server's poll of every slot, then its answer written over the request, as
/// `Listener::poll` and `Request::respond_with` do it (the answer wakes the client if it
/// may sleep).
fn serve_one(s: &mut ServerSide, server_wake: &WakeWord, sleep: bool) {
    wait_on(server_wake, sleep, || s.poll().unwrap().then_some(()));
    let served = s.take().expect("poll found a request");
    let mut req = Vec::new();
    served.copy_into(&mut req);
    served.respond_with(&answer_for(&req)).unwrap();
}

/// One channel of `slots` slots whose server already serves `requests` requests on its own
/// thread (`sleep`: the client's channel flag says it may sleep, and both sides do): the
/// client's side, the server's wake word (in the listener, really) and the server's thread.
fn spawn_server(
    slots: u32,
    sleep: bool,
    requests: usize,
) -> (ClientSide, Arc<WakeWord>, thread::JoinHandle<()>) {
    let core = ChannelCore::new_model(slots, SLOT_SIZE, MAX, Arc::new(WakeWord::new_model()));
    let client = ClientSide::new(core.clone());
    let mut server = ServerSide::new(core, sleep);
    let server_wake = Arc::new(WakeWord::new_model());
    let wake = server_wake.clone();
    let serving = thread::spawn(move || {
        for _ in 0..requests {
            serve_one(&mut server, &wake, sleep);
        }
    });
    (client, server_wake, serving)
}

/// Two round trips through one slot with both sides sleeping: the second request reuses
/// the bytes the first answer came back in; every read is ordered after its write, and
/// neither side misses a wake-up.
#[test]
fn round_trips_reuse_the_slot_no_lost_wakeup() {
    loom::model(|| {
        let (client, server_wake, serving) = spawn_server(1, true, 2);
        for round in 0..2u8 {
            let req = request(round, 0);
            let slot = submit(&client, &server_wake, &req, true);
            assert_eq!(slot, 0);
            assert_eq!(wait_answer(&client, slot, true), answer_for(&req));
        }
        serving.join().unwrap();
    });
}

/// Pipelining: two requests in two slots in flight at once, answered in whatever order the
/// server finds them, each answer in its own slot; the client waits for the second first.
#[test]
fn pipelined_slots() {
    loom::model(|| {
        let (client, server_wake, serving) = spawn_server(2, false, 2);
        let (r0, r1) = (request(0, 0), request(0, 1));
        let s0 = submit(&client, &server_wake, &r0, false);
        let s1 = submit(&client, &server_wake, &r1, false);
        assert_eq!((s0, s1), (0, 1));
        assert_eq!(wait_answer(&client, s1, false), answer_for(&r1));
        assert_eq!(wait_answer(&client, s0, false), answer_for(&r0));
        serving.join().unwrap();
    });
}

// ---- The accept path: connect vs accept vs a client dying ----

use crate::service::core::EntryWords;
use crate::service::layout::{ENTRY_ACCEPTED, ENTRY_CONNECT, ENTRY_FREE};
use crate::sync::{AtomicU64, Ordering};
use loom::sync::atomic::AtomicBool;

/// One connection entry: its two words, the kernel's lock on its byte of the listener file
/// (a system call is a full barrier: SeqCst), the channel the client makes before posting
/// (a loom cell, `loom::cell::Cell` over its `UnsafeCell`: reading it unordered after its
/// write is reported), and how many clients think they own the entry.
struct Slot {
    state: AtomicU32,
    nonce: AtomicU64,
    lock: AtomicBool,
    channel: loom::cell::Cell<u64>,
    owners: AtomicU32,
}

impl Slot {
    fn new() -> Arc<Slot> {
        Arc::new(Slot {
            state: AtomicU32::new(ENTRY_FREE),
            nonce: AtomicU64::new(0),
            lock: AtomicBool::new(false),
            channel: loom::cell::Cell::new(0),
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
        // The entry is ours (lock and claim); the server reads the channel only after
        // seeing the post.
        self.channel.set(nonce * 3);
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
                // The client wrote the channel before posting (Release/Acquire).
                let c = self.channel.get();
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
