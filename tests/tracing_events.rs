//! The `tracing` feature: segment creation, reclaim of a stale segment, a peer's death
//! (a SIGKILLed process) and corruption found are each logged once, with the segment's
//! name, and retries do not repeat them.

mod support;

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use ipcring::ring::{Consumer, Producer, RingOptions};
use ipcring::{Error, TryRecvError};
use support::setup::{open_producer, ring_pair, LONG};
use support::{unique, Peer};
use tracing_subscriber::util::SubscriberInitExt;

/// Everything logged, as text.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn lines_with(&self, needle: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

crate::peer_entry!(roles);

/// The peer roles this file's tests run, each in a process of its own.
fn roles(role: &str, args: Vec<String>) {
    match role {
        // args: name — send one message, then stay attached until killed.
        "producer-then-idle" => {
            let mut tx = open_producer(&args[0]);
            tx.send(b"hello").expect("send");
            support::hang()
        }
        // args: name — create a ring, keep it, and exit: it is stale then.
        "leave-stale" => {
            let mut tx =
                Producer::create(&args[0], &RingOptions::new().capacity(4096)).expect("create");
            tx.set_keep(true);
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn creation_reclaim_peer_death_and_corruption_are_each_logged_once() {
    let log = Log::default();
    let w = log.clone();
    let _guard = tracing_subscriber::fmt()
        .with_writer(move || w.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish()
        .set_default();

    // Creation, then a peer SIGKILLed while attached: Disconnected, logged once however
    // often the consumer asks again.
    let name = unique("trace-kill");
    let mut rx = Consumer::create(&name, &RingOptions::new().capacity(4096)).unwrap();
    let created = log.lines_with("segment created");
    assert_eq!(created.len(), 1, "{created:?}");
    assert!(
        created[0].contains(&name) && created[0].contains("ring"),
        "{created:?}"
    );
    let mut child = Peer::spawn("producer-then-idle", &[&name]);
    assert_eq!(&*rx.recv_timeout(LONG).unwrap(), b"hello");
    child.kill();
    assert!(matches!(rx.recv_timeout(LONG), Err(Error::Disconnected)));
    assert!(matches!(rx.recv_timeout(LONG), Err(Error::Disconnected)));
    let gone = log.lines_with("peer gone");
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert!(
        gone[0].contains(&name) && gone[0].contains("producer"),
        "{gone:?}"
    );
    drop(rx);

    // A stale segment (its creator exited keeping it) reclaimed by a new creator.
    let stale = unique("trace-stale");
    Peer::spawn("leave-stale", &[&stale]).finish();
    assert!(log.lines_with("reclaimed").is_empty());
    let opts = RingOptions::new().capacity(4096).reclaim_stale(true);
    let tx = Producer::create(&stale, &opts).unwrap();
    let reclaimed = log.lines_with("reclaimed a stale segment");
    assert_eq!(reclaimed.len(), 1, "{reclaimed:?}");
    assert!(reclaimed[0].contains(&stale), "{reclaimed:?}");
    drop(tx);

    // Corruption: a record header that claims more than max_message. Asked twice, the
    // error comes twice, the log line once.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring").to_str().unwrap().to_owned();
    let mut tx = Producer::create(&path, &RingOptions::new().capacity(4096)).unwrap();
    tx.send(b"abc").unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all_at(&[0xff, 0xff, 0, 0], 1024).unwrap();
    let mut rx = Consumer::open(&path, &RingOptions::new()).unwrap();
    for _ in 0..2 {
        assert!(matches!(
            rx.try_recv(),
            Err(TryRecvError::Failed(Error::Corrupt(_)))
        ));
    }
    let corrupt = log.lines_with("corruption detected");
    assert_eq!(corrupt.len(), 1, "{corrupt:?}");
    // Sends and receives that succeed log nothing.
    let (mut a, mut c) = ring_pair("trace-quiet", &RingOptions::new().capacity(4096));
    let quiet_from = log.0.lock().unwrap().len();
    for i in 0..100u32 {
        a.send(&i.to_le_bytes()).unwrap();
        assert_eq!(*c.recv().unwrap(), i.to_le_bytes());
    }
    assert_eq!(log.0.lock().unwrap().len(), quiet_from);
}
