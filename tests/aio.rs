//! The async (tokio) transports between real processes: the test binary re-executes itself
//! as the peer (blocking or async), and each test runs a tokio runtime of its own.

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use ipcring::broadcast::AsyncSubscriber;
use ipcring::broadcast::{BroadcastOptions, Publisher, Recv, Start};
use ipcring::mq::AsyncMessageQueue;
use ipcring::mq::{MessageQueue, MqOptions};
use ipcring::pipe::{AsyncPipeReceiver, AsyncPipeSender};
use ipcring::pipe::{PipeOptions, PipeReceiver, PipeSender};
use ipcring::ring::{async_duplex as aduplex, AsyncConsumer, AsyncProducer};
use ipcring::ring::{duplex, Consumer, Producer, RingOptions, Side};
use ipcring::rpc::AsyncClient;
use ipcring::rpc::{JsonCodec, RpcError};
use ipcring::seqlock::AsyncReader;
use ipcring::seqlock::{Reader, SeqlockOptions, Writer};
use ipcring::socket::{AsyncConnection, AsyncListener};
use ipcring::socket::{Connection, Listener, SocketOptions};
use ipcring::transport::{AsyncReceiver, AsyncSender, ReceiverStream};
use ipcring::{Error, TryRecvError, TrySendError};
use ipcring::{Receiver, Sender};
use support::rpc_alice::alice;
use support::setup::{multi_thread, LONG};
use support::{
    check, message, recv_seqs, recv_seqs_async, send_paced, send_seqs, sent, unique, wait_until,
    Peer,
};

/// Runs the future `$op` under a timeout of `$us` µs again and again until a run completes,
/// and evaluates to its output. Each run that timed out was dropped (and must have done
/// nothing); with `$cancelled`, each adds one to it.
macro_rules! until_done {
    ($us:expr, $cancelled:ident, $op:expr) => {
        loop {
            match tokio::time::timeout(Duration::from_micros($us), $op).await {
                Ok(r) => break r,
                Err(_) => $cancelled += 1,
            }
        }
    };
    ($us:expr, $op:expr) => {{
        let mut _cancelled = 0u32;
        until_done!($us, _cancelled, $op)
    }};
}

fn sopts(key: &str) -> SocketOptions {
    SocketOptions::new()
        .authkey(key)
        .connect_timeout(LONG)
        .max_frame(8 << 20)
}

/// A unique abstract Unix socket address.
fn sock_addr(prefix: &str) -> String {
    format!("@{}", unique(prefix).trim_start_matches('/'))
}

fn bcopts() -> BroadcastOptions {
    BroadcastOptions::new()
        .slots(4096)
        .max_message(512)
        .open_timeout(LONG)
        .start(Start::Oldest)
}

fn mqopts() -> MqOptions {
    MqOptions::new().max_messages(8).message_size(512)
}

fn ropts() -> RingOptions {
    RingOptions::new().capacity(1 << 14).open_timeout(LONG)
}

/// The pause of a paced sender.
const PAUSE: Duration = Duration::from_millis(1);

/// The messages before which a paced sender pauses: two in every ten, at odd intervals.
fn odd_pause(seq: u64) -> bool {
    seq % 10 == 1 || seq % 10 == 4
}

/// A blocking receiver's peer role, slow now and then (a pause of `ms` milliseconds every
/// `every` messages, so the async sender finds no room): exit code 0 if messages 0..n came
/// once each, intact, in order, and then the receive waiting `end_wait` ended as `end` says
/// (else it panics, saying why).
fn recv_paced<R: Receiver>(
    mut rx: R,
    n: &str,
    (every, ms): (u64, u64),
    end: fn(&Error) -> bool,
    end_wait: Duration,
) -> i32 {
    let (mut buf, mut scratch) = (Vec::new(), Vec::new());
    for seq in 0..n.parse().unwrap() {
        if seq % every == 0 {
            std::thread::sleep(Duration::from_millis(ms));
        }
        rx.recv_timeout_into(&mut buf, LONG).expect("recv");
        check(seq, &buf, &mut scratch).unwrap();
    }
    let r = rx.recv_timeout_into(&mut buf, end_wait);
    assert!(
        r.as_ref().is_err_and(end),
        "expected the end, got {r:?} ({} bytes)",
        buf.len()
    );
    0
}

/// Receives messages 0..n and checks them: even ones by a plain wait (only readiness can
/// end it), odd ones by receives of 300 µs retried until one gets the message (many time
/// out while the sender pauses: each dropped receive must have taken nothing). Says how
/// many receives were cancelled.
async fn recv_through_cancels<R: AsyncReceiver>(rx: &mut R, n: u64) {
    let (mut buf, mut scratch) = (Vec::new(), Vec::new());
    let mut cancelled = 0;
    for seq in 0..n {
        if seq % 2 == 0 {
            within(rx.recv_into(&mut buf), "readiness woke the receive")
                .await
                .unwrap();
        } else {
            until_done!(300, cancelled, rx.recv_into(&mut buf)).unwrap();
        }
        check(seq, &buf, &mut scratch).unwrap();
    }
    eprintln!("{cancelled} receives cancelled");
}

/// Sends messages 0..n: even ones by a plain wait for room (only readiness can end it), odd
/// ones by `odd(tx, message)` under timeouts of 200 µs, retried until one completes (each
/// dropped send must have sent nothing). Says how many sends were cancelled.
async fn send_through_cancels_too<S: AsyncSender>(
    tx: &mut S,
    n: u64,
    mut odd: impl AsyncFnMut(&mut S, &[u8]) -> ipcring::Result<()>,
) {
    let (mut m, mut cancelled) = (Vec::new(), 0u32);
    for seq in 0..n {
        message(seq, &mut m);
        if seq % 2 == 0 {
            within(tx.send(&m), "readiness woke the send")
                .await
                .unwrap();
        } else {
            until_done!(200, cancelled, odd(tx, &m)).unwrap();
        }
    }
    eprintln!("{cancelled} sends cancelled");
}

/// Awaits `f` for [`LONG`] at most: it must complete by then (else panics with `what`).
async fn within<F: std::future::Future>(f: F, what: &str) -> F::Output {
    tokio::time::timeout(LONG, f).await.expect(what)
}

/// Awaits `recv` (for [`LONG`] at most): it must end with `Disconnected`.
async fn assert_disconnected<T: std::fmt::Debug>(
    recv: impl std::future::Future<Output = ipcring::Result<T>>,
) {
    let r = tokio::time::timeout(LONG, recv).await;
    assert!(matches!(r, Ok(Err(Error::Disconnected))), "{r:?}");
}

/// Three receives on `rx`, each given up after `wait`: nothing can arrive yet, and each
/// one dropped must take nothing.
async fn receives_time_out<R: AsyncReceiver>(rx: &mut R, wait: Duration) {
    let mut buf = Vec::new();
    for _ in 0..3 {
        let r = tokio::time::timeout(wait, rx.recv_into(&mut buf)).await;
        assert!(r.is_err(), "nothing can arrive yet: {r:?}");
    }
}

crate::peer_entry!(roles);

/// The peer roles this file's tests run, each in a process of its own.
fn roles(role: &str, args: Vec<String>) {
    let code = match role {
        // args: name, count, pause_ms — blocking producer; pauses every 10 messages so the
        // async consumer has to sleep on the futex.
        "ring-producer-paced" => {
            let tx = Producer::open(&args[0], &ropts()).expect("open producer");
            let pause = Duration::from_millis(args[2].parse().unwrap());
            send_paced(tx, args[1].parse().unwrap(), |seq| seq % 10 == 0, pause)
        }
        // args: name — blocking producer forever (until killed).
        "ring-producer-forever" => {
            let mut tx = Producer::open(&args[0], &ropts()).expect("open producer");
            send_seqs(&mut tx, 0..);
            0
        }
        // args: name, count — blocking consumer, checks `count` messages in order (slowly
        // now and then, so the async producer finds the ring full), then expects
        // Disconnected. Exit 0 only if every message was there once, intact, in order.
        "ring-consumer-check" => {
            let rx = Consumer::open(&args[0], &ropts()).expect("open consumer");
            recv_paced(rx, &args[1], (500, 2), Error::is_disconnected, LONG)
        }
        // args: name, count, size, pause_ms — blocking consumer that attaches, sleeps
        // `pause_ms`, then expects messages 0..count, message i being `size` bytes of i
        // (as u8), then Disconnected. Exit 0 only if exactly those bytes came.
        "ring-consumer-fixed" => {
            let mut rx = Consumer::open(&args[0], &ropts()).expect("open consumer");
            let n: usize = args[1].parse().unwrap();
            let size: usize = args[2].parse().unwrap();
            std::thread::sleep(Duration::from_millis(args[3].parse().unwrap()));
            let mut buf = Vec::new();
            for i in 0..n {
                rx.recv_timeout_into(&mut buf, LONG).expect("recv");
                assert_eq!(buf, vec![i as u8; size], "message {i}");
            }
            let r = rx.recv_timeout_into(&mut buf, LONG);
            assert!(matches!(r, Err(Error::Disconnected)), "{r:?} ({buf:?})");
            0
        }
        // args: name — duplex side B, blocking: waits for "go", then sends "message".
        "ring-on-go" => {
            let (mut tx, mut rx) = duplex(&args[0], Side::B, &ropts()).expect("duplex");
            let go = rx.recv_timeout(LONG).expect("go");
            assert_eq!(&*go, b"go");
            drop(go);
            tx.send(b"message").expect("send");
            // Wait for the test to finish with us.
            let _ = rx.recv_timeout(LONG);
            0
        }
        // args: name — duplex side B, async on a multi-thread runtime: echo until
        // Disconnected.
        "ring-async-echo" => multi_thread().block_on(async {
            let (mut tx, mut rx) = aduplex(&args[0], Side::B, &ropts()).expect("duplex");
            let mut buf = Vec::new();
            loop {
                match rx.recv_into(&mut buf).await {
                    Ok(()) => tx.send(&buf).await.expect("echo"),
                    Err(Error::Disconnected) => break 0,
                    Err(e) => panic!("{e}"),
                }
            }
        }),
        // args: addr, key — blocking listener: accept one client, echo until it leaves.
        "sock-echo" => {
            let l = Listener::bind(args[0].as_str(), &sopts(&args[1])).expect("bind");
            let mut conn = l.accept().expect("accept");
            let mut buf = Vec::new();
            loop {
                match conn.recv_into(&mut buf) {
                    Ok(()) => conn.send(&buf).expect("echo"),
                    Err(Error::Disconnected) => break 0,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        // args: addr, key, count — blocking client: sends `count` messages, checks each
        // echo; exit 0 if all came back intact and in order.
        "sock-client" => {
            let mut conn =
                Connection::connect(args[0].as_str(), &sopts(&args[1])).expect("connect");
            for seq in 0..args[2].parse().unwrap() {
                send_seqs(&mut conn, [seq]);
                recv_seqs(&mut conn, [seq]);
            }
            0
        }
        // args: addr — a client with the wrong key: exit 0 if refused with Auth.
        "sock-wrong-key" => match Connection::connect(args[0].as_str(), &sopts("not the key")) {
            Err(Error::Auth(_)) => 0,
            other => {
                eprintln!("expected Auth, got {:?}", other.map(|_| ()));
                1
            }
        },
        // args: addr, key, count, size — blocking listener that reads slowly: `count`
        // frames of `size` bytes whose first 8 bytes are 0, 1, 2, ... in order; exit 0 if
        // every frame came once, whole, in order, then Disconnected.
        "sock-slow-sink" => {
            let l = Listener::bind(args[0].as_str(), &sopts(&args[1])).expect("bind");
            let mut conn = l.accept().expect("accept");
            let n: u64 = args[2].parse().unwrap();
            let size: usize = args[3].parse().unwrap();
            let mut buf = Vec::new();
            for seq in 0..n {
                if seq % 4 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
                conn.recv_into(&mut buf).expect("recv");
                assert!(
                    buf.len() == size
                        && buf[..8] == seq.to_le_bytes()
                        && buf[8..].iter().all(|&b| b == seq as u8),
                    "frame {seq}: {} bytes, starts {:?}",
                    buf.len(),
                    &buf[..8.min(buf.len())]
                );
            }
            let r = conn.recv_into(&mut buf);
            assert!(matches!(r, Err(Error::Disconnected)), "{r:?}");
            0
        }
        // args: name, count — blocking mq sender, pausing every 10 messages.
        "mq-sender" => {
            let q = MessageQueue::open(&args[0], &mqopts()).expect("open queue");
            send_paced(q, args[1].parse().unwrap(), odd_pause, PAUSE)
        }
        // args: name, count — blocking mq receiver, slow now and then; exit 0 if `count`
        // messages came once each, intact, in order, and nothing after them.
        "mq-receiver-check" => {
            let q = MessageQueue::open(&args[0], &mqopts()).expect("open queue");
            let nothing_more = Duration::from_millis(200);
            recv_paced(q, &args[1], (100, 2), Error::is_timeout, nothing_more)
        }
        // args: path, count — blocking pipe writer, pausing now and then.
        "pipe-writer" => {
            let tx = PipeSender::open(&args[0], &PipeOptions::new()).expect("open pipe");
            send_paced(tx, args[1].parse().unwrap(), odd_pause, PAUSE)
        }
        // args: path, count — blocking pipe reader, slow now and then; exit 0 if `count`
        // messages came once each, intact, in order, then Disconnected.
        "pipe-reader-check" => {
            let rx = PipeReceiver::open(&args[0], &PipeOptions::new()).expect("open pipe");
            recv_paced(rx, &args[1], (500, 3), Error::is_disconnected, LONG)
        }
        // args: name, count — blocking publisher: waits for a subscriber, publishes
        // `count` messages with pauses, exits.
        "bc-publisher" => {
            let tx = Publisher::create(&args[0], &bcopts()).expect("create");
            wait_until("a subscriber", || tx.subscribers_attached().unwrap());
            send_paced(tx, args[1].parse().unwrap(), odd_pause, PAUSE)
        }
        // args: name, count — seqlock writer: waits for a reader, writes [i, i*3] for
        // i in 1..=count with pauses, exits.
        "sl-writer" => {
            let mut w =
                Writer::<[u64; 2]>::create(&args[0], &SeqlockOptions::new()).expect("create");
            wait_until("a reader", || w.readers_attached().unwrap());
            let n: u64 = args[1].parse().unwrap();
            for i in 1..=n {
                if i % 5 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                w.write(&[i, i * 3]);
            }
            0
        }
        // args: addr — blocking RPC server (the RPC tests' Alice, 4 workers) for one
        // connection.
        "rpc-server" => {
            let l = Listener::bind(args[0].as_str(), &sopts("k-rpc")).expect("bind");
            let (tx, rx) = l.accept().expect("accept").into_split();
            match alice(JsonCodec).serve_concurrent(tx, rx, 4) {
                Ok(()) | Err(RpcError::Disconnected) => 0,
                Err(e) => {
                    eprintln!("serve: {e}");
                    1
                }
            }
        }
        // args: prefix, count — in a process of its own: `count` async consumers wait at
        // once on `count` rings; prints the process's thread count while they all sleep,
        // then feeds each ring one message and checks every consumer got its own.
        "many-waiters" => multi_thread().block_on(async {
            let n: usize = args[1].parse().unwrap();
            let opts = RingOptions::new().capacity(4096);
            let mut producers = Vec::new();
            let mut tasks = Vec::new();
            for i in 0..n {
                let name = format!("{}-{i}", args[0]);
                let mut rx = AsyncConsumer::create(&name, &opts).unwrap();
                producers.push(Producer::open(&name, &opts).unwrap());
                tasks.push(tokio::spawn(async move {
                    let mut buf = Vec::new();
                    rx.recv_into(&mut buf).await.unwrap();
                    (i, buf)
                }));
            }
            // Let every task get past its spin into its sleep.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let threads = std::fs::read_dir("/proc/self/task").unwrap().count();
            println!("THREADS {threads}");
            for (i, p) in producers.iter_mut().enumerate() {
                p.send(format!("ring {i}").as_bytes()).unwrap();
            }
            for t in tasks {
                let (i, buf) = within(t, "woken").await.unwrap();
                assert_eq!(buf, format!("ring {i}").as_bytes());
            }
            println!("OK");
            0
        }),
        other => panic!("unknown role {other}"),
    };
    std::process::exit(code);
}

#[tokio::test]
async fn async_consumer_receives_every_message_from_a_blocking_producer_then_disconnected() {
    let name = unique("aio-recv");
    let n = 3000u64;
    let mut rx = AsyncConsumer::create(&name, &ropts()).unwrap();
    let mut child = Peer::spawn("ring-producer-paced", &[&name, &n.to_string(), "1"]);
    let (mut buf, mut scratch) = (Vec::new(), Vec::new());
    for seq in 0..n {
        if seq % 2 == 0 {
            rx.recv_into(&mut buf).await.unwrap();
            check(seq, &buf, &mut scratch).unwrap();
        } else {
            check(seq, &rx.recv().await.unwrap(), &mut scratch).unwrap();
        }
    }
    assert_disconnected(rx.recv_into(&mut buf)).await;
    child.finish();
}

#[tokio::test]
async fn dropped_recv_futures_lose_no_message() {
    let name = unique("aio-cancel");
    let (mut tx, mut rx) = aduplex(&name, Side::A, &ropts()).unwrap();
    let mut child = Peer::spawn("ring-on-go", &[&name]);
    let mut buf = Vec::new();
    // The peer sends nothing before "go": every one of these times out (long enough
    // for the future to get past its spin into the futex sleep), and is dropped.
    for _ in 0..3 {
        let r = tokio::time::timeout(Duration::from_millis(30), rx.recv_into(&mut buf)).await;
        assert!(r.is_err(), "nothing can arrive before go: {r:?}");
        let r = tokio::time::timeout(Duration::from_millis(5), rx.recv()).await;
        assert!(r.is_err(), "nothing can arrive before go");
    }
    // The trait's timeout form says Timeout and takes nothing either.
    let r = AsyncReceiver::recv_timeout(&mut rx, Duration::from_millis(20)).await;
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    // A dropped wait may still have its sleeper in flight: the message published now
    // must still reach the next recv.
    let _ = tokio::time::timeout(Duration::from_millis(1), rx.recv_into(&mut buf)).await;
    tx.send(b"go").await.unwrap();
    let got = tokio::time::timeout(LONG, rx.recv_into(&mut buf)).await;
    assert!(matches!(got, Ok(Ok(()))), "{got:?}");
    assert_eq!(buf, b"message");
    // And nothing more: the message came once.
    assert!(rx.try_recv_into(&mut buf).unwrap_err().is_empty());
    tx.send(b"bye").await.unwrap();
    child.finish();
}

/// Sends messages 0..n (20 000) from an async producer on a new 4 KiB ring to a blocking
/// consumer in another process, which pauses now and then (so the ring fills up and sends
/// wait) and checks that every message arrives once, intact, in order: a retry after a half
/// send would fail it. Each message goes by `send(tx, seq, message)` under 200 µs timeouts,
/// retried until one completes; every one that timed out was dropped and must have sent
/// nothing. Returns how many were.
async fn send_through_cancels(
    tag: &str,
    mut send: impl AsyncFnMut(&mut AsyncProducer, u64, &[u8]) -> ipcring::Result<()>,
) -> u32 {
    let name = unique(tag);
    let n = 20_000u64;
    let mut tx = AsyncProducer::create(&name, &RingOptions::new().capacity(4096)).unwrap();
    let mut child = Peer::spawn("ring-consumer-check", &[&name, &n.to_string()]);
    let (mut m, mut cancelled) = (Vec::new(), 0u32);
    for seq in 0..n {
        message(seq, &mut m);
        until_done!(200, cancelled, send(&mut tx, seq, &m)).unwrap();
    }
    // Fails, with the consumer's stderr, if it saw a gap, a duplicate or a torn message.
    child.hang_up(tx);
    cancelled
}

#[tokio::test]
async fn dropped_send_futures_send_whole_messages_or_nothing() {
    let retried = send_through_cancels("aio-send", async |tx, _, m| tx.send(m).await).await;
    // Not an assertion on timing: just visible in the output.
    eprintln!("{retried} sends were cancelled and retried");
}

/// An async reserve on a full ring waits until the consumer (another process, which starts
/// reading only after a pause) frees room, then the message written in place into the
/// grant arrives byte for byte; reserves dropped while they waited reserved nothing.
#[tokio::test]
async fn async_reserve_waits_for_room_then_commits_in_place() {
    let name = unique("aio-reserve");
    let size = 40usize;
    let opts = RingOptions::new().capacity(256);
    let mut tx = AsyncProducer::create(&name, &opts).unwrap();
    let mut k = 0u8;
    while sent(tx.try_send(&[k; 40])) {
        k += 1;
    }
    assert!(k > 0);
    assert!(
        matches!(tx.try_reserve(size), Err(TrySendError::Full)),
        "the ring is full"
    );
    // No consumer yet: reserves time out (past the spin into the sleep, and a short
    // one), are dropped, and reserve nothing.
    for us in [30_000, 500] {
        let r = tokio::time::timeout(Duration::from_micros(us), tx.reserve(size)).await;
        assert!(r.is_err(), "a full ring with no consumer has no room");
    }
    let n = k as usize + 8;
    let started = std::time::Instant::now();
    let pause_ms = 100u64;
    let mut child = Peer::spawn(
        "ring-consumer-fixed",
        &[
            &name,
            &n.to_string(),
            &size.to_string(),
            &pause_ms.to_string(),
        ],
    );
    // Waits for the consumer to free room: it reads nothing before its pause ends.
    let mut g = within(tx.reserve(size), "the consumer's release woke the reserve")
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(pause_ms),
        "the reserve found room before the consumer took anything"
    );
    assert_eq!(g.len(), size);
    g.fill(k);
    g.commit();
    for i in k + 1..n as u8 {
        let mut g = tx.reserve(size).await.unwrap();
        g.copy_from_slice(&[i; 40]);
        g.commit();
    }
    let got = tx.reserve(1 << 20).await;
    assert!(matches!(got, Err(Error::MessageTooLarge { .. })), "{got:?}");
    // Fails, with the consumer's stderr, unless messages 0..n came byte for byte.
    child.hang_up(tx);
}

/// Reserves cancelled by a 200 µs timeout, again and again while a slow consumer in
/// another process keeps the ring full, reserve nothing: the consumer checks that every
/// message arrives once, intact, in order.
#[tokio::test]
async fn dropped_reserve_futures_reserve_nothing() {
    let retried = send_through_cancels("aio-reserve-cancel", async |tx, seq, m| {
        let mut g = tx.reserve(m.len()).await?;
        g.copy_from_slice(m);
        // Half of them deferred: published by the next commit (or the producer's drop).
        if seq % 2 == 0 {
            g.commit_deferred();
        } else {
            g.commit();
        }
        Ok(())
    })
    .await;
    eprintln!("{retried} reserves were cancelled and retried");
}

/// The async ring consumer as a stream: every message of a producer in another process,
/// in order, through `next` futures dropped by timeouts (which must take nothing); the
/// receiver taken back between polls and given to a new stream loses nothing either;
/// then the stream ends when the producer leaves, and stays ended.
#[tokio::test]
async fn ring_consumer_stream_yields_every_message_then_ends() {
    let name = unique("aio-stream");
    let n = 3000u64;
    let rx = AsyncConsumer::create(&name, &ropts()).unwrap();
    let mut stream = rx.into_stream();
    // No producer yet: each `next` waits past its spin into the futex sleep, times
    // out and is dropped with its receive in flight; it must take nothing.
    for _ in 0..3 {
        let r = tokio::time::timeout(Duration::from_millis(30), stream.next()).await;
        assert!(r.is_err(), "nothing can arrive before the producer: {r:?}");
    }
    assert!(!futures_core::FusedStream::is_terminated(&stream));
    let mut child = Peer::spawn("ring-producer-paced", &[&name, &n.to_string(), "1"]);
    let (mut scratch, mut cancelled) = (Vec::new(), 0u32);
    for seq in 0..n {
        if seq == n / 2 {
            // Between polls: the receiver comes back whole, and a new stream goes on.
            let rx = stream.into_inner().expect("no receive in flight");
            stream = ReceiverStream::new(rx);
        }
        // The producer pauses before every tenth message: there, `next` is cancelled
        // by short timeouts until one gets it.
        let m = if seq % 10 == 0 {
            until_done!(300, cancelled, stream.next())
        } else {
            within(stream.next(), "woken").await
        };
        check(seq, &m.expect("not ended yet").unwrap(), &mut scratch).unwrap();
    }
    let end = within(stream.next(), "ended").await;
    assert!(end.is_none(), "expected the end, got {end:?}");
    assert!(futures_core::FusedStream::is_terminated(&stream));
    assert!(stream.next().await.is_none());
    child.finish();
    eprintln!("{cancelled} next() calls cancelled");
}

/// The same adapter over a named pipe: generic over every `AsyncReceiver`.
#[tokio::test]
async fn pipe_receiver_stream_yields_every_message_then_ends() {
    let (_dir, path) = fifo_path("aio-pipe-stream");
    let n = 3000u64;
    let mut stream = AsyncPipeReceiver::open(&path, &PipeOptions::new())
        .unwrap()
        .into_stream();
    let mut child = Peer::spawn("pipe-writer", &[&path, &n.to_string()]);
    let (mut scratch, mut cancelled) = (Vec::new(), 0u32);
    for seq in 0..n {
        let m = if seq % 2 == 0 {
            within(stream.next(), "woken").await
        } else {
            until_done!(300, cancelled, stream.next())
        };
        check(seq, &m.expect("not ended yet").unwrap(), &mut scratch).unwrap();
    }
    let end = within(stream.next(), "ended").await;
    assert!(end.is_none(), "expected the end, got {end:?}");
    child.finish();
    eprintln!("{cancelled} next() calls cancelled");
}

#[tokio::test]
async fn send_timeout_on_a_full_ring_sends_nothing() {
    let name = unique("aio-full");
    let opts = RingOptions::new().capacity(256);
    let mut tx = AsyncProducer::create(&name, &opts).unwrap();
    let mut rx = Consumer::open(&name, &opts).unwrap();
    let mut n = 0u8;
    while sent(tx.try_send(&[n; 40])) {
        n += 1;
    }
    let r = AsyncSender::send_timeout(&mut tx, &[0xEE; 40], Duration::from_millis(30)).await;
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    let mut buf = Vec::new();
    for i in 0..n {
        rx.recv_into(&mut buf).unwrap();
        assert_eq!(buf, [i; 40]);
    }
    assert!(
        matches!(rx.try_recv_into(&mut buf), Err(TryRecvError::Empty)),
        "the timed-out message was sent"
    );
    let got = tx.send(&vec![0; 1000]).await;
    assert!(matches!(got, Err(Error::MessageTooLarge { .. })), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_ring_echo_between_two_async_processes_with_concurrent_tasks() {
    let name = unique("aio-echo");
    let n = 5000u64;
    let (mut tx, mut rx) = aduplex(&name, Side::A, &ropts()).unwrap();
    let mut child = Peer::spawn("ring-async-echo", &[&name]);
    let sender = tokio::spawn(async move {
        let mut m = Vec::new();
        for seq in 0..n {
            message(seq, &mut m);
            tx.send(&m).await.unwrap();
            if seq % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        tx
    });
    let receiver = tokio::spawn(async move {
        recv_seqs_async(&mut rx, 0..n).await;
        rx
    });
    child.hang_up((sender.await.unwrap(), receiver.await.unwrap()));
}

#[tokio::test]
async fn killed_producer_is_disconnected_after_its_messages() {
    let name = unique("aio-kill");
    let mut rx = AsyncConsumer::create(&name, &ropts()).unwrap();
    let mut child = Peer::spawn("ring-producer-forever", &[&name]);
    recv_seqs_async(&mut rx, 0..5000).await;
    child.kill();
    let (mut buf, mut scratch, mut seq) = (Vec::new(), Vec::new(), 5000);
    loop {
        match tokio::time::timeout(LONG, rx.recv_into(&mut buf)).await {
            Ok(Ok(())) => {
                check(seq, &buf, &mut scratch).unwrap();
                seq += 1;
            }
            Ok(Err(Error::Disconnected)) => break,
            other => panic!("after {seq} messages: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_consumer_while_its_wait_sleeps_is_clean() {
    let name = unique("aio-drop");
    let mut rx = AsyncConsumer::create(&name, &ropts()).unwrap();
    let mut tx = Producer::open(&name, &ropts()).unwrap();
    let mut buf = Vec::new();
    // Leaves a sleeper in flight on the futex.
    let r = tokio::time::timeout(Duration::from_millis(25), rx.recv_into(&mut buf)).await;
    assert!(r.is_err());
    // The drop waits for the sleeper, then unmaps; the producer sees the consumer gone: the
    // ring is not left "waited on".
    drop(rx);
    tx.send(b"x").unwrap();
    assert!(!tx.consumer_attached().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_socket_client_against_a_blocking_listener_with_split_halves() {
    let addr = sock_addr("aio-sock");
    let n = 2000u64;
    let mut child = Peer::spawn("sock-echo", &[&addr, "k1"]);
    let conn = AsyncConnection::connect(addr.as_str(), &sopts("k1"))
        .await
        .unwrap();
    let (mut tx, mut rx) = conn.into_split();
    // Nothing is sent yet: these receives time out, are dropped, and lose nothing.
    receives_time_out(&mut rx, Duration::from_millis(5)).await;
    let mut buf = Vec::new();
    let big = vec![0x5Au8; 3 << 20]; // several socket buffers: partial writes and reads
    let sender = tokio::spawn(async move {
        let mut m = Vec::new();
        for seq in 0..n {
            message(seq, &mut m);
            tx.send(&m).await.unwrap();
            if seq == n / 2 {
                tx.send(&big).await.unwrap();
            }
        }
        tx
    });
    let mut scratch = Vec::new();
    for seq in 0..n {
        // Short timeouts that fire while a frame is half in: the next recv continues.
        until_done!(300, rx.recv_into(&mut buf)).unwrap();
        check(seq, &buf, &mut scratch).unwrap();
        if seq == n / 2 {
            until_done!(300, rx.recv_into(&mut buf)).unwrap();
            assert!(buf.len() == 3 << 20 && buf.iter().all(|&b| b == 0x5A));
        }
    }
    let tx = sender.await.unwrap();
    assert!(rx.try_recv_into(&mut buf).unwrap_err().is_empty());
    child.hang_up((tx, rx));
}

#[tokio::test]
async fn async_listener_serves_blocking_clients_and_refuses_a_wrong_key() {
    let addr = sock_addr("aio-listen");
    let listener = AsyncListener::bind(addr.as_str(), &sopts("k2")).unwrap();
    let mut bad = Peer::spawn("sock-wrong-key", &[&addr]);
    let r = listener.accept().await.map(|_| ());
    assert!(matches!(r, Err(Error::Auth(_))), "{r:?}");
    bad.finish();
    // The listener still serves; two clients at once, each on its own task.
    let mut c1 = Peer::spawn("sock-client", &[&addr, "k2", "500"]);
    let mut c2 = Peer::spawn("sock-client", &[&addr, "k2", "500"]);
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let mut conn = listener.accept().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let mut buf = Vec::new();
            loop {
                match conn.recv_into(&mut buf).await {
                    Ok(()) => conn.send(&buf).await.unwrap(),
                    Err(Error::Disconnected) => break,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    c1.finish();
    c2.finish();
}

#[tokio::test]
async fn cancelled_socket_sends_are_whole_or_absent() {
    let addr = sock_addr("aio-ssend");
    let n = 200u64;
    let size = 256 * 1024;
    let mut child = Peer::spawn(
        "sock-slow-sink",
        &[&addr, "k3", &n.to_string(), &size.to_string()],
    );
    let mut conn = AsyncConnection::connect(addr.as_str(), &sopts("k3"))
        .await
        .unwrap();
    let (mut sent_on_cancel, mut retried) = (0u32, 0u32);
    let mut m = vec![0u8; size];
    for seq in 0..n {
        m[..8].copy_from_slice(&seq.to_le_bytes());
        m[8..].fill(seq as u8);
        loop {
            let before = conn.sent_count();
            match tokio::time::timeout(Duration::from_micros(500), conn.send(&m)).await {
                Ok(r) => break r.unwrap(),
                // Committed: its rest goes out with the next operation.
                Err(_) if conn.sent_count() == before + 1 => {
                    sent_on_cancel += 1;
                    break;
                }
                // Not sent at all: send it again.
                Err(_) => retried += 1,
            }
        }
    }
    conn.flush().await.unwrap();
    child.hang_up(conn); // fails with the peer's stderr: the sink saw a torn, missing or doubled frame
    eprintln!("{sent_on_cancel} sends cancelled after their first byte, {retried} before it");
}

#[tokio::test]
async fn async_mq_receives_from_a_blocking_sender_through_cancelled_waits() {
    let name = unique("aio-mq");
    let n = 2000u64;
    let mut q = AsyncMessageQueue::create(&name, &mqopts()).unwrap();
    let mut child = Peer::spawn("mq-sender", &[&name, &n.to_string()]);
    recv_through_cancels(&mut q, n).await;
    child.finish();
    // The sender has gone and everything it sent was received.
    let e = q.try_recv_into(&mut Vec::new()).unwrap_err();
    assert!(e.is_disconnected(), "{e}");
}

#[tokio::test]
async fn async_mq_sends_cancelled_on_a_full_queue_are_whole_or_absent() {
    let name = unique("aio-mqs");
    let n = 2000u64;
    let mut q = AsyncMessageQueue::create(&name, &mqopts()).unwrap();
    // Full queue, nobody draining yet: the timed send says Timeout and sends nothing.
    let (mut k, mut m) = (0u64, Vec::new());
    message(0, &mut m);
    while sent(q.try_send(&m)) {
        k += 1;
    }
    assert_eq!(k, 8);
    let r = q.send_timeout(&m, Duration::from_millis(20)).await;
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    let mut buf = Vec::new();
    for _ in 0..k {
        q.try_recv_into(&mut buf).unwrap();
    }
    assert!(
        matches!(q.try_recv_into(&mut buf), Err(TryRecvError::Empty)),
        "the timed-out send was sent"
    );
    // Now with a slow receiver in another process, every send under a short timeout,
    // retried when it timed out.
    let mut child = Peer::spawn("mq-receiver-check", &[&name, &n.to_string()]);
    send_through_cancels_too(&mut q, n, async |q, m| q.send_priority(m, 0).await).await;
    child.finish(); // fails with the peer's stderr: the receiver saw a gap or a duplicate
}

fn fifo_path(prefix: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(format!("{prefix}.fifo"));
    (dir, p.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn async_pipe_reader_started_first_gets_every_message_then_disconnected() {
    let (_dir, path) = fifo_path("aio-pipe-r");
    let n = 3000u64;
    let mut rx = AsyncPipeReceiver::open(&path, &PipeOptions::new()).unwrap();
    // No writer yet: waits time out (readiness must not report a writer that is not
    // there), are dropped, and take nothing.
    receives_time_out(&mut rx, Duration::from_millis(10)).await;
    let mut child = Peer::spawn("pipe-writer", &[&path, &n.to_string()]);
    recv_through_cancels(&mut rx, n).await;
    assert_disconnected(rx.recv_into(&mut Vec::new())).await;
    child.finish();
}

#[tokio::test]
async fn async_pipe_writer_started_first_waits_for_the_reader_and_loses_nothing() {
    let (_dir, path) = fifo_path("aio-pipe-w");
    let n = 20_000u64;
    let mut tx = AsyncPipeSender::open(&path, &PipeOptions::new()).unwrap();
    // No reader yet: a send waits (on inotify), times out, and sent nothing.
    let mut m = Vec::new();
    message(0, &mut m);
    assert!(tokio::time::timeout(Duration::from_millis(20), tx.send(&m))
        .await
        .is_err());
    let mut child = Peer::spawn("pipe-reader-check", &[&path, &n.to_string()]);
    send_through_cancels_too(&mut tx, n, async |tx, m| tx.send(m).await).await;
    tx.flush().await.unwrap();
    child.hang_up(tx); // fails with the peer's stderr: the reader saw a gap, a duplicate or a torn message
}

#[tokio::test]
async fn async_subscriber_gets_every_broadcast_then_disconnected() {
    let name = unique("aio-bc");
    let n = 2000u64;
    let mut child = Peer::spawn("bc-publisher", &[&name, &n.to_string()]);
    let mut sub = AsyncSubscriber::open(&name, &bcopts()).unwrap();
    let (mut buf, mut scratch, mut cancelled) = (Vec::new(), Vec::new(), 0u32);
    for seq in 0..n {
        let r = if seq % 2 == 0 {
            within(sub.recv_into(&mut buf), "the futex wake reached the task")
                .await
                .unwrap()
        } else {
            until_done!(300, cancelled, sub.recv_into(&mut buf)).unwrap()
        };
        assert_eq!(r, Recv::Message(seq));
        check(seq, &buf, &mut scratch).unwrap();
    }
    assert_disconnected(sub.recv_into(&mut buf)).await;
    child.finish();
    eprintln!("{cancelled} receives cancelled");
}

#[tokio::test]
async fn async_seqlock_reader_follows_a_writer_in_another_process() {
    let name = unique("aio-sl");
    let n = 500u64;
    let mut child = Peer::spawn("sl-writer", &[&name, &n.to_string()]);
    let opts = SeqlockOptions::new().open_timeout(LONG);
    let mut r = AsyncReader::from(Reader::<[u64; 2]>::open(&name, &opts).unwrap());
    let (mut last, mut waits) = (0u64, 0u32);
    loop {
        waits += 1;
        let got = if waits % 2 == 1 {
            within(r.wait_changed(last), "woken").await
        } else {
            // Dropped waits change nothing; the next one still sees every change.
            let wait = tokio::time::timeout(Duration::from_micros(300), r.wait_changed(last));
            let Ok(got) = wait.await else { continue };
            got
        };
        match got {
            Ok(snap) => {
                assert!(snap.version > last, "versions only grow");
                // Version k holds the k-th write: [k, 3k], never a torn mix.
                assert_eq!(snap.value, [snap.version, snap.version * 3]);
                last = snap.version;
            }
            Err(Error::Disconnected) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(last, n, "the last write was seen before Disconnected");
    child.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_rpc_client_many_tasks_over_one_connection() {
    let addr = sock_addr("aio-rpc");
    let mut child = Peer::spawn("rpc-server", &[&addr]);
    let (tx, rx) = AsyncConnection::connect(addr.as_str(), &sopts("k-rpc"))
        .await
        .unwrap()
        .into_split();
    let client = AsyncClient::new(tx, rx, JsonCodec);
    // Many tasks, many calls in flight at once on one connection.
    let mut tasks = Vec::new();
    for t in 0..20i64 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25i64 {
                let r: i64 = c.call("add", (t * 1000, i)).await.unwrap();
                assert_eq!(r, t * 1000 + i);
            }
        }));
    }
    // Replies out of order: the slow call was sent first.
    let slow = {
        let c = client.clone();
        tokio::spawn(async move { c.call::<_, u64>("sleep_ms", 150u64).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    let fast: u64 = client.call("sleep_ms", 0u64).await.unwrap();
    assert_eq!(fast, 0);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(slow.await.unwrap().unwrap(), 150);
    // A call given up (its future dropped by the timeout) does not disturb the next;
    // its late reply is discarded.
    let r = client
        .call_timeout::<_, u64>("sleep_ms", 200u64, Duration::from_millis(20))
        .await;
    assert!(matches!(r, Err(RpcError::Timeout)), "{r:?}");
    let r: i64 = client.call("add", (40i64, 2i64)).await.unwrap();
    assert_eq!(r, 42);
    let r = client.call::<_, i64>("nope", ()).await;
    assert!(
        matches!(&r, Err(RpcError::UnknownMethod { method }) if method == "nope"),
        "{r:?}"
    );
    // Wait out the forgotten call's reply: nothing is left in flight.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let r: i64 = client.call("add", (1i64, 1i64)).await.unwrap();
    assert_eq!(r, 2);
    assert_eq!(client.in_flight(), 0);
    child.hang_up(client);
}

/// Every async operation's future can move between threads (`tokio::spawn` on a
/// multi-thread runtime); checked at compile time, the test body only builds them.
#[test]
fn every_future_is_send() {
    fn send<T: Send>(_: T) {}
    #[allow(clippy::too_many_arguments)]
    fn check_all(
        p: &mut AsyncProducer,
        c: &mut AsyncConsumer,
        s: &mut AsyncConnection,
        q: &mut AsyncMessageQueue,
        pw: &mut AsyncPipeSender,
        pr: &mut AsyncPipeReceiver,
        b: &mut AsyncSubscriber,
        r: &mut AsyncReader<[u64; 2]>,
        buf: &mut Vec<u8>,
    ) {
        send(p.send(b"x"));
        send(p.reserve(1));
        send(c.recv_into(buf));
        send(s.send(b"x"));
        send(q.send_priority(b"x", 1));
        send(pw.send(b"x"));
        send(pr.recv_into(buf));
        send(b.recv_into(buf));
        send(r.wait_changed(0));
    }
    fn check_rpc(c: &AsyncClient<AsyncProducer, JsonCodec>) {
        send(c.call::<_, i64>("add", (1i64, 2i64)));
    }
    fn check_stream(s: &mut ReceiverStream<AsyncConsumer>) {
        send(s.next());
    }
    fn check_stream_owned(s: ReceiverStream<AsyncPipeReceiver>) {
        send(s);
    }
    let _ = (check_all, check_rpc, check_stream, check_stream_owned);
}

/// 150 tasks wait on 150 rings at once in one process: every one is woken by its own
/// message. On Linux with futex_waitv the first 127 share the process's one waker thread
/// (the rest fall back to a pool thread each), so the process stays far below a thread per
/// waiting ring.
#[test]
fn many_waiting_rings_share_one_waker_thread() {
    let prefix = unique("aio-many");
    let mut child = Peer::spawn_piped("many-waiters", &[&prefix, "150"]);
    let threads: usize = child.wait_line("THREADS ")[8..].parse().unwrap();
    // Every waiting task got its message.
    assert_eq!(child.wait_line("OK"), "OK");
    child.finish();
    eprintln!("{threads} threads with 150 rings waited on");
    if waitv_supported() {
        // 127 share one thread; 23 fall back to one pool thread each; plus the runtime's.
        assert!(
            threads < 60,
            "{threads} threads: not one per waiting ring expected"
        );
    }
}

/// Whether this kernel has futex_waitv (5.16+), read from the release string.
fn waitv_supported() -> bool {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut it = r
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|x| x.parse::<u32>().ok());
    let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (a, b) >= (5, 16)
}
