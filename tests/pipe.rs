//! Named pipe between real processes: this test binary re-executes itself as the peer
//! (`peer` below, through `support::Peer`).
#![cfg(feature = "pipe")]

#[path = "support/mod.rs"]
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipcring::pipe::{PipeOptions, PipeReceiver, PipeSender};
use ipcring::{Error, Receiver, Sender, TryRecvError, TrySendError};
use support::setup::unique_dir;
use support::{assert_nothing_now, Peer};

fn spawn(role: &str, path: &Path, count: usize) -> Peer {
    Peer::builder(role).arg(path.display()).arg(count).spawn()
}

/// Message `i`: a size cycling through small, pipe-buffer-sized and larger-than-buffer
/// frames, filled with a pattern derived from `i`, so loss, reordering, duplication and
/// corruption all show.
fn message(i: usize) -> Vec<u8> {
    let len = match i % 7 {
        0 => 0,
        1 => 1,
        2 => 100,
        3 => 4088,
        4 => 65536,
        5 => 200_000,
        _ => i % 1000,
    };
    let mut m = Vec::with_capacity(len + 8);
    m.extend_from_slice(&(i as u64).to_le_bytes());
    m.extend((0..len).map(|k| (k as u64).wrapping_mul(31).wrapping_add(i as u64) as u8));
    m
}

/// Sends messages 0..count on `path`; returns the writer, still open.
fn send_messages(path: &Path, count: usize) -> PipeSender {
    let mut tx = PipeSender::open(path, &PipeOptions::new()).unwrap();
    for i in 0..count {
        tx.send(&message(i)).unwrap();
    }
    tx
}

/// Checks that the next `count` messages on `rx` are messages 0..count, in order.
fn expect_messages(rx: &mut PipeReceiver, count: usize) {
    for i in 0..count {
        assert_eq!(rx.recv().unwrap(), message(i), "message {i}");
    }
}

/// Receives on `path` and checks messages 0..count, in order, then Disconnected.
fn recv_messages(path: &Path, count: usize) {
    let mut rx = PipeReceiver::open(path, &PipeOptions::new()).unwrap();
    expect_messages(&mut rx, count);
    assert!(rx.recv().unwrap_err().is_disconnected());
}

crate::peer_entry!(roles);

/// The peer roles, run in a child process.
fn roles(role: &str, args: Vec<String>) {
    let path = PathBuf::from(&args[0]);
    let count: usize = args[1].parse().unwrap();
    let opts = PipeOptions::new();
    match role {
        "writer" => drop(send_messages(&path, count)),
        "writer-then-hang" => {
            let _tx = send_messages(&path, count);
            std::thread::sleep(Duration::from_secs(60));
        }
        "reader" => recv_messages(&path, count),
        "reader-one-and-exit" => {
            let mut rx = PipeReceiver::open(&path, &opts.keep(true)).unwrap();
            rx.recv().unwrap();
        }
        "garbage" => {
            // A foreign writer: raw bytes that are not a frame.
            let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.write_all(b"X0005HOWDY").unwrap();
        }
        "huge-length" => {
            // A valid-looking header announcing 4 GiB - 1.
            let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.write_all(b"SP\x01\x00\xff\xff\xff\xff").unwrap();
            f.write_all(&[0u8; 100]).unwrap();
        }
        "half-frame" => {
            let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.write_all(b"SP\x01\x00\x10\x00\x00\x00abc").unwrap();
        }
        "sigpipe-default" => {
            // A process that does NOT ignore SIGPIPE (as a C or Python host might not):
            // a reader that left must still be an error value, not a killed process.
            // SAFETY: resetting a signal disposition to its default in a single-threaded
            // moment of this child process.
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
            let mut tx = PipeSender::open(&path, &opts).unwrap();
            tx.send(b"first").unwrap();
            // Wait until the reader has gone (it exits after one message).
            let err = (0..500).find_map(|_| {
                std::thread::sleep(Duration::from_millis(10));
                tx.send(b"more").err()
            });
            assert!(err.unwrap().is_disconnected());
            std::process::exit(42);
        }
        other => panic!("unknown role {other}"),
    }
}

/// A FIFO path in a new temporary directory (removed with it).
fn fifo() -> (tempfile::TempDir, PathBuf) {
    let dir = unique_dir("pipe");
    let path = dir.path().join("fifo");
    (dir, path)
}

/// [`spawn`], then a pause to let the peer open its end first (the order is what the
/// caller tests; no timing is asserted).
fn spawn_first(role: &str, path: &Path, count: usize) -> Peer {
    let child = spawn(role, path, count);
    std::thread::sleep(Duration::from_millis(50));
    child
}

/// A writer on `path` whose reader, a process of its own, read one message and exited.
fn writer_whose_reader_left(path: &Path) -> PipeSender {
    let mut tx = PipeSender::open(path, &PipeOptions::new()).unwrap();
    let mut child = spawn("reader-one-and-exit", path, 1);
    tx.send(b"one").unwrap();
    child.finish();
    tx
}

/// The peer `role` opens its end of a new FIFO first; this process does `local` (300
/// messages) on the other end; the peer checks its side and exits cleanly.
fn order_and_integrity(role: &str, local: fn(&Path, usize)) {
    let (_dir, path) = fifo();
    let mut child = spawn_first(role, &path, 300);
    local(&path, 300);
    child.finish();
}

#[test]
fn order_and_integrity_writer_first() {
    order_and_integrity("writer", recv_messages);
}

#[test]
fn order_and_integrity_reader_first() {
    order_and_integrity("reader", |path, n| drop(send_messages(path, n)));
}

/// A reader on a new FIFO that got messages 0..count from a writer process which then
/// hangs (until killed): the FIFO's directory and path, the reader, the writer.
fn reader_of_a_hanging_writer(count: usize) -> (tempfile::TempDir, PathBuf, PipeReceiver, Peer) {
    let (dir, path) = fifo();
    let mut rx = PipeReceiver::open(&path, &PipeOptions::new()).unwrap();
    let child = spawn("writer-then-hang", &path, count);
    expect_messages(&mut rx, count);
    (dir, path, rx, child)
}

#[test]
fn killed_writer_is_disconnect_and_a_new_writer_reconnects() {
    let (_dir, path, mut rx, mut child) = reader_of_a_hanging_writer(20);
    child.kill();
    assert!(rx.recv().unwrap_err().is_disconnected());
    // A new writer on the same path is received by the same receiver.
    let mut child = spawn("writer", &path, 10);
    expect_messages(&mut rx, 10);
    assert!(rx.recv().unwrap_err().is_disconnected());
    child.finish();
}

/// The `try_` forms tell "nothing now" from "the peer is gone" in their type: `Empty` while
/// the writer process lives, `Failed(Disconnected)` once it was killed, and `?` into an
/// `ipcring::Result` keeps the difference (`WouldBlock` against `Disconnected`).
#[test]
fn try_recv_is_empty_while_the_writer_lives_and_disconnected_once_it_is_killed() {
    let (_dir, _, mut rx, mut child) = reader_of_a_hanging_writer(3);
    assert_nothing_now(&mut rx);
    child.kill();
    let mut buf = Vec::new();
    match rx.try_recv_into(&mut buf) {
        Err(e @ TryRecvError::Failed(Error::Disconnected)) => assert!(e.is_disconnected()),
        other => panic!("after the writer was killed: {other:?}"),
    }
}

/// A reader process that left: `try_send` is `Failed(Disconnected)`, not "full".
#[test]
fn try_send_to_a_reader_that_left_is_a_failed_disconnect() {
    let (_dir, path) = fifo();
    let mut tx = writer_whose_reader_left(&path);
    match tx.try_send(b"two") {
        Err(e @ TrySendError::Failed(Error::Disconnected)) => {
            assert!(e.is_disconnected() && !e.is_full());
            assert!(e.into_error().is_disconnected());
        }
        other => panic!("after the reader left: {other:?}"),
    }
}

#[test]
fn reader_leaving_is_disconnect_for_the_writer() {
    let (_dir, path) = fifo();
    let mut tx = writer_whose_reader_left(&path);
    assert!(tx.send(b"two").unwrap_err().is_disconnected());
    // The next send waits for a new reader again.
    let r = tx.send_timeout(b"three", Duration::from_millis(50));
    assert!(r.unwrap_err().is_timeout());
}

#[test]
fn sigpipe_is_an_error_not_a_death() {
    let (_dir, path) = fifo();
    let mut child = spawn("sigpipe-default", &path, 1);
    {
        let mut rx = PipeReceiver::open(&path, &PipeOptions::new().keep(true)).unwrap();
        assert_eq!(rx.recv().unwrap(), b"first");
    }
    assert_eq!(child.code(), 42);
}

/// A reader on a new FIFO, after the foreign writer `role` (a process of its own) wrote and
/// left: the FIFO's directory and path, the reader, and its first receive's framing error.
fn framing_error_after(
    role: &str,
    opts: &PipeOptions,
) -> (tempfile::TempDir, PathBuf, PipeReceiver, String) {
    let (dir, path) = fifo();
    let mut rx = PipeReceiver::open(&path, opts).unwrap();
    spawn(role, &path, 0).finish();
    match rx.recv() {
        Err(Error::Framing(m)) => (dir, path, rx, m.into_owned()),
        other => panic!("after {role}: expected a framing error, got {other:?}"),
    }
}

#[test]
fn garbage_is_a_framing_error_then_a_good_writer_works() {
    let (_dir, path, mut rx, _) = framing_error_after("garbage", &PipeOptions::new());
    assert!(rx.recv().unwrap_err().is_disconnected());
    let mut child = spawn("writer", &path, 3);
    expect_messages(&mut rx, 3);
    child.finish();
}

#[test]
fn absurd_length_is_refused_without_allocating_it() {
    let opts = PipeOptions::new().max_message(1024);
    let (_dir, _, mut rx, e) = framing_error_after("huge-length", &opts);
    assert!(e.contains("4294967295"), "{e}");
    assert!(rx.recv().unwrap_err().is_disconnected());
}

#[test]
fn writer_leaving_mid_frame_is_a_framing_error() {
    let (.., e) = framing_error_after("half-frame", &PipeOptions::new());
    assert!(e.contains("middle of a frame"), "{e}");
}
