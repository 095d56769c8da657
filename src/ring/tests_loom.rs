//! loom models of the ring protocol and of the sleep/wake protocol. Run with
//! `RUSTFLAGS="--cfg loom" cargo test --lib --release ring::tests_loom`.
//!
//! The data area is made of `loom::cell::UnsafeCell`s, so loom reports any read of a
//! record that is not ordered after its write (a missing Release/Acquire), and the futex is
//! a loom condvar, so a lost wakeup shows up as a deadlock.
//!
//! The excused fences (`wake::excuse`): each side starts with its excuse given (as at
//! attach) and gives it again after every receive or send that did not sleep, withdraws it
//! before each sleep, and the other side's publish (store, excuse check, `waiters` read)
//! runs under the excuse's model barrier, the lock that stands in for `membarrier`.

use loom::sync::Arc;
use loom::thread;

use crate::ring::core::{ConsumerCore, Geometry, ProducerCore, RingMemory};
use crate::ring::layout::RingShared;
use crate::sync::DataArea;
use crate::wake::ExcuseWord;

struct Model {
    /// Points into `shared` and `data` (kept here, alive for the whole execution).
    mem: RingMemory,
    shared: Arc<RingShared>,
}

impl Model {
    fn new(capacity: u64, max_message: u32) -> Model {
        let geo = Geometry::new(capacity, max_message);
        let shared = Arc::new(RingShared::new_model());
        let data = DataArea::new_model(geo.capacity as usize);
        // SAFETY: the Arc'd block and the cells (the DataArea clones share them) outlive
        // every core of the model: the model's closures hold them for the whole execution.
        let mem = unsafe { RingMemory::new(Arc::as_ptr(&shared), data, geo) };
        Model { mem, shared }
    }
    fn with_recycle(mut self, window: u64, records: u64) -> Model {
        self.mem = self.mem.with_recycle(window, records);
        self
    }
    fn attach<T>(&self, attach: unsafe fn(RingMemory) -> crate::Result<T>) -> T {
        // SAFETY: each model makes one producer and one consumer.
        unsafe { attach(self.mem.clone()) }.unwrap()
    }
    fn producer(&self) -> ProducerCore {
        self.attach(ProducerCore::attach)
    }
    fn consumer(&self) -> ConsumerCore {
        self.attach(ConsumerCore::attach)
    }
}

/// Runs a publish (its stores, excuse check and `waiters` read) as one step against the
/// other side's barrier, as `membarrier` makes it (see the module docs).
fn publishing<T>(excuse: &ExcuseWord, f: impl FnOnce() -> T) -> T {
    let _barrier = excuse.barrier.lock().unwrap();
    f()
}

/// Releases what the consumer took, waking a sleeping producer.
fn release(c: &mut ConsumerCore, shared: &RingShared) {
    if publishing(&shared.space_excuse, || c.release()) {
        shared.space_wake.wake();
    }
}

/// Blocking receive exactly as `wake::wait_for` does it, without the clock.
fn recv_blocking(c: &mut ConsumerCore, shared: &RingShared, buf: &mut Vec<u8>) {
    loop {
        if c.pop_into(buf).unwrap() {
            release(c, shared);
            shared.data_excuse.give(); // a receive that did not sleep
            return;
        }
        assert!(shared.data_excuse.withdraw());
        let (ticket, _) = shared.data_wake.prepare_wait();
        if c.pop_into(buf).unwrap() {
            shared.data_wake.cancel_wait();
            release(c, shared);
            return;
        }
        shared.data_wake.sleep(ticket, None);
        shared.data_wake.cancel_wait();
    }
}

/// Blocking send exactly as `wait_for` does it, without the clock.
fn send_blocking(p: &mut ProducerCore, shared: &RingShared, msg: &[u8]) {
    let mut slept = false;
    loop {
        // The record's stores happen in `push`: they belong to the publish.
        let _barrier = shared.data_excuse.barrier.lock().unwrap();
        if p.push(msg).unwrap() {
            if p.publish() {
                shared.data_wake.wake();
            }
            break;
        }
        drop(_barrier);
        assert!(shared.space_excuse.withdraw());
        slept = true;
        let (ticket, _) = shared.space_wake.prepare_wait();
        let _barrier = shared.data_excuse.barrier.lock().unwrap();
        if p.push(msg).unwrap() {
            shared.space_wake.cancel_wait();
            if p.publish() {
                shared.data_wake.wake();
            }
            break;
        }
        drop(_barrier);
        shared.space_wake.sleep(ticket, None);
        shared.space_wake.cancel_wait();
    }
    if !slept {
        shared.space_excuse.give();
    }
}

fn msg(i: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|k| i.wrapping_mul(17).wrapping_add(k as u8))
        .collect()
}

/// One producer thread sends messages of `sizes` through `m`, publishing each; this
/// thread receives and releases each, checking that it arrives whole and in order.
fn publish_consume(m: Model, sizes: [usize; 3]) {
    let mut p = m.producer();
    let mut c = m.consumer();
    let t = thread::spawn(move || {
        for (i, &n) in sizes.iter().enumerate() {
            while !p.push(&msg(i as u8, n)).unwrap() {
                thread::yield_now();
            }
            p.publish();
        }
    });
    let mut buf = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        while !c.pop_into(&mut buf).unwrap() {
            // As a receive that found nothing: the producer may start over (recycle).
            c.announce_waiting();
            thread::yield_now();
        }
        c.release();
        assert_eq!(buf, msg(i as u8, n));
    }
    t.join().unwrap();
}

/// Publish/consume with wrap-around and a padding record: every message arrives whole
/// and in order, and every data-area read is ordered after its write.
#[test]
fn publish_consume_with_wrap() {
    loom::model(|| publish_consume(Model::new(64, 24), [20, 12, 24]));
}

/// Publish/consume with recycling: once past the window, the producer starts over at
/// index 0 only if the consumer has released everything (whichever it sees), and every
/// message still arrives whole and in order.
#[test]
fn publish_consume_with_recycle() {
    loom::model(|| {
        publish_consume(Model::new(64, 24).with_recycle(16, 1), [12, 4, 12]);
    });
}

/// Sends `count` messages of `len` bytes with the blocking (sleeping) send on one thread
/// and receives them with the blocking receive on this one: each arrives whole and in order.
fn blocking_send_recv(count: u8, len: usize) {
    let m = Model::new(64, 24);
    let mut p = m.producer();
    let mut c = m.consumer();
    // As at attach: both sides poll, and excuse each other's fence.
    m.shared.data_excuse.reset();
    m.shared.space_excuse.reset();
    let shared = m.shared.clone();
    let t = thread::spawn(move || {
        for i in 0..count {
            send_blocking(&mut p, &shared, &msg(i, len));
        }
    });
    let mut buf = Vec::new();
    for i in 0..count {
        recv_blocking(&mut c, &m.shared, &mut buf);
        assert_eq!(buf, msg(i, len));
    }
    t.join().unwrap();
}

/// A consumer that sleeps on the futex is always woken by the producer's publication:
/// no lost wakeup when the consumer announces itself while the producer publishes.
#[test]
fn no_lost_wakeup_on_data() {
    loom::model(|| blocking_send_recv(2, 4));
}

/// A producer that sleeps because the ring is full is always woken by the consumer's
/// release.
#[test]
fn no_lost_wakeup_on_space() {
    // Capacity 64, 24-byte payloads = 32-byte records: two fill the ring.
    loom::model(|| blocking_send_recv(3, 24));
}
