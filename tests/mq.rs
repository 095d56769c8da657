//! Multi-process tests of POSIX message queues: this test binary re-executes itself in a
//! peer role (`peer`, through `support::Peer`).
#![cfg(all(feature = "mq", target_os = "linux"))]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use ipcring::mq::{MessageQueue, MqOptions};
use ipcring::{Error, Receiver, Sender};
use support::setup::LONG;
use support::{unique, Peer};

const COUNT: u32 = 3000;

fn message(seq: u32) -> Vec<u8> {
    let len = match seq % 100 {
        0 => 8192,
        1 => 0,
        _ => (seq % 300) as usize + 4,
    };
    support::sized_message(seq, len, 13)
}

/// A new queue with `opts`, named after `tag`, and the peer `role` on it.
fn queue_with_peer(tag: &str, opts: &MqOptions, role: &str) -> (String, MessageQueue, Peer) {
    let name = unique(tag);
    let q = MessageQueue::create(&name, opts).unwrap();
    let peer = Peer::spawn_piped(role, &[&name]);
    (name, q, peer)
}

/// A new queue with `opts`, and a peer that has sent messages 0..5 on it and hangs.
fn queue_after_five_sent(tag: &str, opts: &MqOptions) -> (String, MessageQueue, Peer) {
    let (name, q, mut peer) = queue_with_peer(tag, opts, "send_then_hang");
    peer.wait_line("SENT");
    (name, q, peer)
}

crate::peer_entry!(roles);

/// The peer roles. Does nothing unless run as a peer.
fn roles(role: &str, args: Vec<String>) {
    let name = args[0].clone();
    let mut q = MessageQueue::open(&name, &MqOptions::new()).unwrap();
    match role {
        "sender" => {
            for seq in 0..COUNT {
                q.send_timeout(&message(seq), LONG).unwrap();
            }
        }
        "send_then_hang" => {
            for seq in 0..5 {
                q.send(&message(seq)).unwrap();
            }
            println!("SENT");
            std::thread::sleep(Duration::from_secs(60));
        }
        "receive_one_then_hang" => {
            println!("READY");
            let m = q.recv_timeout(LONG).unwrap();
            assert_eq!(m, message(0));
            println!("RECEIVED");
            std::thread::sleep(Duration::from_secs(60));
        }
        "hold_until_stdin_ends" => {
            println!("HOLDING");
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new()).unwrap();
            drop(q);
        }
        other => panic!("unknown role {other}"),
    }
    std::process::exit(0);
}

/// 3000 messages through a 10-deep queue: both processes block in turn; every message
/// arrives once, in order, intact.
#[test]
fn order_and_integrity_between_processes() {
    let opts = MqOptions::new().max_messages(10).message_size(8192);
    let (_, mut q, mut peer) = queue_with_peer("order", &opts, "sender");
    let mut buf = Vec::new();
    for seq in 0..COUNT {
        q.recv_timeout_into(&mut buf, LONG).unwrap();
        assert_eq!(buf, message(seq), "message {seq} differs");
    }
    peer.finish_output();
    // The sender has gone and everything it sent was received.
    assert!(q.try_recv_into(&mut buf).unwrap_err().is_disconnected());
}

/// A receiver blocked (without a timeout) on an empty queue learns that its only peer was
/// SIGKILLed: every message it sent first, then `Disconnected`.
#[test]
fn blocked_receiver_gets_everything_then_disconnected_when_the_sender_is_killed() {
    let (name, mut q, peer) = queue_after_five_sent("rxdead", &MqOptions::new());
    for seq in 0..5 {
        assert_eq!(q.recv().unwrap(), message(seq));
    }
    let killer = peer.kill_soon();
    let e = q.recv().unwrap_err();
    assert!(e.is_disconnected(), "{e}");
    killer.join().unwrap();
    // Stays so, also for the try_ and timed forms.
    let e = q.try_recv_into(&mut Vec::new()).unwrap_err();
    assert!(e.is_disconnected(), "{e}");
    let e = q.recv_timeout(Duration::from_secs(5)).unwrap_err();
    assert!(e.is_disconnected(), "{e}");
    // A new peer revives the queue.
    let mut bob = MessageQueue::open(&name, &MqOptions::new()).unwrap();
    bob.send(b"again").unwrap();
    assert_eq!(q.recv().unwrap(), b"again");
}

/// A sender blocked on a full queue learns that the receiver was SIGKILLed: `Disconnected`,
/// the message not sent, the earlier ones still queued.
#[test]
fn blocked_sender_gets_disconnected_when_the_receiver_is_killed() {
    let opts = MqOptions::new().max_messages(2).message_size(8192);
    let (_, mut q, mut peer) = queue_with_peer("txdead", &opts, "receive_one_then_hang");
    peer.wait_line("READY");
    for seq in 0..3 {
        q.send(&message(seq)).unwrap();
    }
    peer.wait_line("RECEIVED");
    // Messages 1 and 2 fill the queue; this one waits for room nobody will make.
    let killer = peer.kill_soon();
    let e = q.send(&message(3)).unwrap_err();
    assert!(e.is_disconnected(), "{e}");
    killer.join().unwrap();
    assert_eq!(q.attributes().unwrap().current_messages, 2);
    assert_eq!(q.recv().unwrap(), message(1));
}

/// With liveness off, a dead peer is not reported: the wait ends by its timeout.
#[test]
fn liveness_off_waits_for_the_timeout() {
    let (_, mut q, mut peer) = queue_after_five_sent("nolive", &MqOptions::new().liveness(false));
    peer.kill();
    for _ in 0..5 {
        q.recv().unwrap();
    }
    let e = q.recv_timeout(Duration::from_millis(300)).unwrap_err();
    assert!(e.is_timeout(), "{e}");
}

/// The async queue, blocked in a receive, learns of the sender's SIGKILL too.
#[cfg(feature = "async")]
#[tokio::test]
async fn async_receiver_gets_disconnected_when_the_sender_is_killed() {
    use ipcring::mq::AsyncMessageQueue;
    use ipcring::transport::AsyncReceiver;
    let name = unique("aiodead");
    let mut q = AsyncMessageQueue::create(&name, &MqOptions::new()).unwrap();
    let peer = Peer::spawn_until("send_then_hang", &[&name], "SENT");
    let mut buf = Vec::new();
    for seq in 0..5 {
        q.recv_into(&mut buf).await.unwrap();
        assert_eq!(buf, message(seq));
    }
    let killer = peer.kill_soon();
    let e = q.recv_into(&mut buf).await.unwrap_err();
    assert!(e.is_disconnected(), "{e}");
    killer.join().unwrap();
}

/// A sender killed after sending: everything it sent is still there (the kernel keeps it).
#[test]
fn messages_outlive_a_killed_sender() {
    let (_, mut q, mut peer) = queue_after_five_sent("killed", &MqOptions::new());
    peer.kill();
    for seq in 0..5 {
        assert_eq!(q.recv_timeout(LONG).unwrap(), message(seq));
    }
    // Then: the sender is gone, nothing more will come.
    assert!(q.recv().unwrap_err().is_disconnected());
}

#[test]
fn try_and_timeout_forms() {
    let name = unique("forms");
    let mut q =
        MessageQueue::create(&name, &MqOptions::new().max_messages(2).message_size(16)).unwrap();
    let mut buf = vec![1, 2, 3];
    assert!(q.try_recv_into(&mut buf).unwrap_err().is_empty());
    assert!(buf.is_empty());
    let short = Duration::from_millis(10);
    assert!(q.recv_timeout(short).unwrap_err().is_timeout());
    q.try_send(b"a").unwrap();
    q.send_timeout(b"b", short).unwrap();
    assert!(q.try_send(b"c").unwrap_err().is_full());
    assert!(q.send_timeout(b"c", short).unwrap_err().is_timeout());
    assert!(matches!(
        q.send(&[0u8; 17]),
        Err(Error::MessageTooLarge { len: 17, max: 16 })
    ));
    assert_eq!(q.max_message(), 16);
    let a = q.attributes().unwrap();
    assert_eq!(
        (a.max_messages, a.message_size, a.current_messages),
        (2, 16, 2)
    );
    assert_eq!(q.recv().unwrap(), b"a");
    let r = q.send_priority(b"x", 40_000);
    assert!(matches!(r, Err(Error::InvalidConfig(_))), "{r:?}");
}

#[test]
fn system_limits_are_named() {
    let name = unique("limit");
    // 32 MiB messages exceed msgsize_max, and the kernel's hard limit even for root.
    match MessageQueue::create(&name, &MqOptions::new().message_size(32 << 20)) {
        Err(Error::SystemLimit { what, hint }) => {
            assert!(what.contains("33554432"), "{what}");
            assert!(
                hint.contains("msgsize_max") && hint.contains("/proc/sys/fs/mqueue"),
                "{hint}"
            );
        }
        other => panic!("expected a SystemLimit error, got {other:?}"),
    }
    match MessageQueue::create(
        &name,
        &MqOptions::new().max_messages(1_000_000).message_size(16),
    ) {
        Err(Error::SystemLimit { hint, .. }) => assert!(hint.contains("msg_max"), "{hint}"),
        other => panic!("expected a SystemLimit error, got {other:?}"),
    }
    let r = MessageQueue::create(&name, &MqOptions::new().max_messages(0));
    assert!(matches!(r, Err(Error::InvalidConfig(_))), "{r:?}");
}

#[test]
fn creator_unlinks_unless_kept() {
    let name = unique("unlink");
    let q = MessageQueue::create(&name, &MqOptions::new()).unwrap();
    let r = MessageQueue::create(&name, &MqOptions::new());
    assert!(matches!(r, Err(Error::AlreadyExists(_))), "{r:?}");
    let opener = MessageQueue::open(&name, &MqOptions::new().mode(0o640)).unwrap();
    drop(opener); // an opener does not unlink
    assert!(MessageQueue::open(&name, &MqOptions::new()).is_ok());
    drop(q);
    let r = MessageQueue::open(&name, &MqOptions::new());
    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");

    drop(MessageQueue::create(&name, &MqOptions::new().keep(true)).unwrap());
    let mut again = MessageQueue::open_or_create(&name, &MqOptions::new()).unwrap();
    again.set_unlink_on_drop(true);
    drop(again);
    let r = MessageQueue::open(&name, &MqOptions::new());
    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
}

/// The liveness file sits in /dev/shm beside the queue, with the queue's mode whatever the
/// umask, and goes when the creator unlinks the queue.
#[test]
fn liveness_file_has_the_queue_mode_and_goes_with_the_queue() {
    use std::os::unix::fs::PermissionsExt;
    let name = unique("mode");
    let file = format!("/dev/shm/ipcring-mq.{}", &name[1..]);
    let q = MessageQueue::create(&name, &MqOptions::new().mode(0o640)).unwrap();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    drop(MessageQueue::open(&name, &MqOptions::new().mode(0o640)).unwrap());
    assert!(std::path::Path::new(&file).exists(), "an opener leaves it");
    drop(q);
    assert!(
        !std::path::Path::new(&file).exists(),
        "the creator removes it"
    );
}

/// A queue whose name someone else removed (its creator kept it; a bare `mq_unlink`, as a
/// program that does not use this crate removes it) leaves nothing in /dev/shm: the last
/// handle to drop removes the liveness file, whether it is the peer that ends last or this
/// process after the peer was killed; an earlier one leaves it to the handles still there.
#[test]
fn the_last_handle_of_a_queue_removed_elsewhere_removes_its_liveness_file() {
    let name = unique("gone");
    let file = format!("/dev/shm/ipcring-mq.{}", &name[1..]);
    let exists = || std::path::Path::new(&file).exists();
    let unlink_bare = || {
        let c = std::ffi::CString::new(name.clone()).unwrap();
        // SAFETY: a NUL-terminated name; mq_unlink only reads it.
        assert_eq!(unsafe { libc::mq_unlink(c.as_ptr()) }, 0);
    };
    let kept = MqOptions::new().keep(true);

    // The peer ends last: it removes the file.
    let creator = MessageQueue::create(&name, &kept).unwrap();
    let mut peer = Peer::builder("hold_until_stdin_ends")
        .arg(&name)
        .stdin_piped()
        .stdout_piped()
        .spawn();
    peer.wait_line("HOLDING");
    unlink_bare();
    drop(creator);
    assert!(exists(), "the peer still holds the queue: its file stays");
    peer.close_stdin();
    peer.finish();
    assert!(
        !exists(),
        "the peer's handle was the last: it removed the file"
    );

    // The peer is killed: this process's handle is the last, and removes it.
    let creator = MessageQueue::create(&name, &kept).unwrap();
    let mut peer = Peer::spawn_until("hold_until_stdin_ends", &[&name], "HOLDING");
    unlink_bare();
    peer.kill();
    assert!(exists());
    drop(creator);
    assert!(
        !exists(),
        "the last handle removed the file after its peer was killed"
    );

    // A queue still named keeps its file when an opener drops.
    let creator = MessageQueue::create(&name, &kept).unwrap();
    drop(MessageQueue::open(&name, &MqOptions::new()).unwrap());
    drop(creator);
    assert!(exists(), "the queue is still there (kept): so is its file");
    MessageQueue::unlink(&name).unwrap();
    assert!(!exists());
}
