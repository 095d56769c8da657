//! Typed messages between real processes: `bytemuck::Pod` values on the ring and the
//! broadcast ring, and (feature `serde`) postcard-encoded values on the ring. The test
//! binary re-executes itself as the sending peer.

mod support;

use bytemuck::{Pod, Zeroable};
use ipcring::broadcast::{BroadcastOptions, Publisher, Received, Start, Subscriber};
use ipcring::ring::{Consumer, RingOptions};
use ipcring::{Error, TryRecvError, TrySendError};
use support::setup::{open_producer, ring_pair, LONG};
use support::{sent, unique, Peer};

/// A value with padding-free mixed fields whose alignment (8) exceeds the ring's record
/// alignment guarantees nothing about: received by copy, so any offset works.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
struct Tick {
    seq: u64,
    price: f64,
    qty: u32,
    side: u16,
    flags: u16,
}

fn tick(seq: u64) -> Tick {
    Tick {
        seq,
        price: 100.0 + seq as f64 / 4.0,
        qty: (seq as u32).wrapping_mul(7),
        side: (seq % 2) as u16,
        flags: 0xa5a5,
    }
}

#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
enum Event {
    Order { id: u64, symbol: String, qty: i64 },
    Cancel(u64),
    Batch(Vec<(u32, Option<String>)>),
}

#[cfg(feature = "serde")]
fn event(i: u64) -> Event {
    match i % 3 {
        0 => Event::Order {
            id: i,
            symbol: format!("SYM{i}"),
            qty: -(i as i64),
        },
        1 => Event::Cancel(i),
        _ => Event::Batch(
            (0..i as u32 % 5)
                .map(|k| (k, (k % 2 == 0).then(|| "x".repeat(k as usize))))
                .collect(),
        ),
    }
}

crate::peer_entry!(roles);

/// The peer roles this file's tests run, each in a process of its own.
fn roles(role: &str, args: Vec<String>) {
    match role {
        // args: name, count — send `count` ticks, then one message of the wrong size.
        "pod-producer" => {
            let mut tx = open_producer(&args[0]);
            let n: u64 = args[1].parse().unwrap();
            for seq in 0..n {
                tx.send_pod(&tick(seq)).expect("send_pod");
            }
            tx.send(b"seven b").expect("send");
            tx.wait_drained(Some(LONG)).expect("drained");
        }
        // args: name, count — publish `count` ticks, then wait for the subscriber's word.
        "pod-publisher" => {
            let opts = BroadcastOptions::new().slots(1024).start(Start::Oldest);
            let mut tx = Publisher::create(&args[0], &opts).expect("create publisher");
            let n: u64 = args[1].parse().unwrap();
            for seq in 0..n {
                assert_eq!(tx.publish_pod(&tick(seq)).expect("publish_pod"), seq);
            }
            tx.publish(b"x").expect("publish");
            // Stay until the subscriber has read it all (it removes the flag file).
            let flag = std::path::PathBuf::from(&args[1 + 1]);
            support::wait_until("the subscriber to read it all", || !flag.exists());
        }
        #[cfg(feature = "serde")]
        // args: name, count — send `count` events, then bytes that are no `Event`.
        "serde-producer" => {
            let mut tx = open_producer(&args[0]);
            let n: u64 = args[1].parse().unwrap();
            for i in 0..n {
                tx.send_serde(&event(i)).expect("send_serde");
            }
            tx.send(&[0xff, 0xff, 0xff]).expect("send");
            tx.wait_drained(Some(LONG)).expect("drained");
        }
        other => panic!("unknown role {other}"),
    }
}

/// A new ring of `capacity` bytes, into which the peer `role` (another process) sends `n`
/// values, then a message that is no such value: checks that `recv` gives values `want(0)`
/// to `want(n - 1)`, then a codec error; returns the consumer, the peer and that error's
/// text.
fn values_from_peer<T: PartialEq + std::fmt::Debug>(
    role: &str,
    capacity: u64,
    n: u64,
    recv: impl Fn(&mut Consumer) -> ipcring::Result<T>,
    want: impl Fn(u64) -> T,
) -> (Consumer, Peer, String) {
    let name = unique(role);
    let mut rx = Consumer::create(&name, &RingOptions::new().capacity(capacity)).unwrap();
    let child = Peer::spawn(role, &[&name, &n.to_string()]);
    for i in 0..n {
        assert_eq!(recv(&mut rx).unwrap(), want(i));
    }
    match recv(&mut rx) {
        Err(Error::Codec(e)) => (rx, child, e.to_string()),
        other => panic!("expected a codec error, got {other:?}"),
    }
}

#[test]
fn pod_values_cross_processes_and_a_wrong_size_is_a_clear_error() {
    let recv = |rx: &mut Consumer| rx.recv_pod_timeout::<Tick>(LONG);
    let (mut rx, mut child, e) = values_from_peer("pod-producer", 4096, 500, recv, tick);
    for says in ["7 bytes", "24 bytes", "Tick"] {
        assert!(e.contains(says), "{e}");
    }
    child.finish();
    // The bad message was consumed, nothing else is left, and the producer is gone.
    let r = rx.try_recv_pod::<Tick>();
    assert!(matches!(r, Err(TryRecvError::Empty)), "{r:?}");
    assert!(matches!(rx.recv_pod::<Tick>(), Err(Error::Disconnected)));
}

#[test]
fn pod_too_large_for_the_ring_is_refused_and_nothing_is_sent() {
    let (mut tx, mut rx) = ring_pair(
        "pod-big",
        &RingOptions::new().capacity(4096).max_message(64),
    );
    assert!(matches!(
        tx.send_pod(&[0u64; 9]),
        Err(Error::MessageTooLarge { len: 72, max: 64 })
    ));
    assert!(matches!(
        tx.try_send_pod(&[0u64; 9]),
        Err(TrySendError::Failed(Error::MessageTooLarge { .. }))
    ));
    assert!(rx.try_recv_pod::<[u64; 9]>().unwrap_err().is_empty());
    // A full ring: try_send_pod says so and sends nothing.
    let mut n = 0u64;
    while sent(tx.try_send_pod(&[n; 8])) {
        n += 1;
    }
    assert!(n > 0);
    assert!(tx.try_send_pod(&[n; 8]).unwrap_err().is_full());
    for i in 0..n {
        assert_eq!(rx.try_recv_pod::<[u64; 8]>().unwrap(), [i; 8]);
    }
    assert!(rx.try_recv_pod::<[u64; 8]>().unwrap_err().is_empty());
}

#[test]
fn broadcast_pod_values_cross_processes_with_numbers() {
    let name = unique("bpod");
    let flag = std::env::temp_dir().join(format!("ipcring-bpod-flag-{}", std::process::id()));
    std::fs::write(&flag, b"").unwrap();
    let n = 300u64;
    let mut child = Peer::spawn(
        "pod-publisher",
        &[&name, &n.to_string(), flag.to_str().unwrap()],
    );
    let opts = BroadcastOptions::new()
        .start(Start::Oldest)
        .open_timeout(LONG);
    let mut rx = Subscriber::open(&name, &opts).unwrap();
    let mut got = 0u64;
    let mut lost = 0u64;
    while got + lost < n {
        match rx.recv_pod_timeout::<Tick>(LONG).unwrap() {
            Received::Message(i, t) => {
                assert_eq!(t, tick(i));
                got += 1;
            }
            Received::Lagged(k) => lost += k,
        }
    }
    // 1024 slots hold all 300: nothing may be lost.
    assert_eq!((got, lost), (n, 0));
    let e = rx.recv_pod_timeout::<Tick>(LONG).unwrap_err();
    assert!(
        matches!(&e, Error::Codec(m) if m.contains("1 bytes")),
        "{e:?}"
    );
    std::fs::remove_file(&flag).unwrap();
    child.finish();
}

#[cfg(feature = "serde")]
#[test]
fn serde_values_cross_processes_and_garbage_is_a_codec_error() {
    let recv = |rx: &mut Consumer| rx.recv_serde_timeout::<Event>(LONG);
    let (mut rx, mut child, e) = values_from_peer("serde-producer", 8192, 300, recv, event);
    assert!(e.contains("Event"), "{e}");
    child.finish();
    let r = rx.try_recv_serde::<Event>();
    assert!(matches!(r, Err(TryRecvError::Empty)), "{r:?}");
}

#[cfg(feature = "serde")]
#[test]
fn serde_encoding_larger_than_max_message_is_refused_whole() {
    let (mut tx, mut rx) = ring_pair(
        "serde-big",
        &RingOptions::new().capacity(4096).max_message(32),
    );
    let big = "y".repeat(100);
    assert!(matches!(
        tx.send_serde(&big),
        Err(Error::MessageTooLarge { max: 32, .. })
    ));
    assert!(matches!(
        tx.try_send_serde(&big),
        Err(TrySendError::Failed(Error::MessageTooLarge { .. }))
    ));
    // Nothing half-written went out: the next value is the first one received.
    tx.send_serde(&("ok", 1u8)).unwrap();
    assert_eq!(
        rx.try_recv_serde::<(String, u8)>().unwrap(),
        ("ok".to_owned(), 1)
    );
    assert!(rx.try_recv_serde::<(String, u8)>().unwrap_err().is_empty());
}
