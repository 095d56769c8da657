//! Socket frames (Python's `send_bytes` framing: 4-byte big-endian signed length, or -1 and
//! an 8-byte length) as a peer writes them, in pieces, into a connected socket pair. The
//! receiver must deliver exactly the frames an independent parser of the documented format
//! finds, then the error it says (a framing error, a frame over `max_frame`, or a clean
//! end), without a panic and without reserving memory for a length the peer announced.
//! Round trip: every delivered frame, sent again by a connection, is received equal.
//! The async receiver (`socket::AsyncConnection`, a parser of its own) must deliver the same,
//! also when a blocking connection that holds part of a frame is made async half-way.
//!
//! Input: byte 0 picks `max_frame`, bytes 1..3 seed the piece sizes, the rest is the stream.
#![no_main]

mod common;

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::End;
use ipcring::__fuzz::socket::connection;
use ipcring::socket::AsyncConnection;
use ipcring::socket::SocketOptions;
use ipcring::{Error, Receiver, Sender, TryRecvError};
use libfuzzer_sys::fuzz_target;

const MAX_FRAMES: [usize; 8] = [0, 1, 7, 64, 255, 4096, 1 << 20, 1 << 30];

static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();

/// The same stream through the async receiver, made async from a blocking connection after
/// `switch` pieces: the frames it delivers and how it ended.
fn async_pass(
    stream: &[u8],
    sizes: &[usize],
    switch: usize,
    opts: &SocketOptions,
) -> (Vec<Vec<u8>>, End) {
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap()
    });
    rt.block_on(async {
        let (ours, peer) = UnixStream::pair().unwrap();
        let mut sync = Some(connection(ours, opts));
        let mut conn: Option<AsyncConnection> = None;
        let (mut got, mut buf, mut off) = (Vec::new(), Vec::new(), 0);
        for (i, &n) in sizes.iter().enumerate() {
            if i == switch {
                conn = Some(AsyncConnection::from_blocking(sync.take().unwrap(), opts).unwrap());
            }
            common::put(&peer, &stream[off..off + n]);
            off += n;
            loop {
                let r = match (&mut sync, &mut conn) {
                    (Some(c), _) => c.try_recv_into(&mut buf),
                    (None, Some(c)) => c.try_recv_into(&mut buf),
                    _ => unreachable!(),
                };
                match r {
                    Ok(()) => got.push(buf.clone()),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Failed(e)) => return (got, kind(&e)),
                }
            }
        }
        peer.shutdown(std::net::Shutdown::Write).unwrap();
        let mut conn = match (sync, conn) {
            (Some(c), _) => AsyncConnection::from_blocking(c, opts).unwrap(),
            (None, Some(c)) => c,
            _ => unreachable!(),
        };
        loop {
            match conn.recv_into(&mut buf).await {
                Ok(()) => got.push(buf.clone()),
                Err(e) => return (got, kind(&e)),
            }
        }
    })
}

fn kind(e: &Error) -> End {
    match e {
        Error::Disconnected => End::Clean,
        Error::MessageTooLarge { .. } => End::TooLarge,
        Error::Framing(m) if m.contains("negative length") => End::Negative,
        Error::Framing(_) => End::Partial,
        other => panic!("unexpected error: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 || data.len() > 32 * 1024 {
        return;
    }
    let max = MAX_FRAMES[(data[0] & 7) as usize];
    let seed = u32::from(data[1]) << 8 | u32::from(data[2]) | 1;
    let stream = &data[3..];
    let (expect, end) = common::py_frames(stream, max);

    let (ours, peer) = UnixStream::pair().unwrap();
    let opts = SocketOptions::new()
        .max_frame(max)
        .read_timeout(Some(Duration::from_secs(5)));
    let mut conn = connection(ours, &opts);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut first_err: Option<End> = None;
    let mut buf = Vec::new();
    // Pieces of 1..=64 bytes, each followed by non-blocking receives.
    let sizes = common::pieces(seed, stream.len());
    let mut off = 0;
    for &n in &sizes {
        common::put(&peer, &stream[off..off + n]);
        off += n;
        loop {
            match conn.try_recv_into(&mut buf) {
                Ok(()) => got.push(buf.clone()),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Failed(e)) => {
                    let k = kind(&e);
                    assert_ne!(k, End::Clean, "disconnected while the peer is there");
                    first_err.get_or_insert(k);
                    break;
                }
            }
        }
        if first_err.is_some() {
            break;
        }
    }
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    if first_err.is_none() {
        loop {
            match conn.recv_into(&mut buf) {
                Ok(()) => got.push(buf.clone()),
                Err(e) => {
                    first_err = Some(kind(&e));
                    break;
                }
            }
        }
    }
    // Once failed, the connection stays failed.
    assert!(matches!(
        conn.try_recv_into(&mut buf),
        Err(TryRecvError::Failed(Error::Disconnected))
    ));
    assert_eq!(got.len(), expect.len(), "frames delivered");
    for (g, e) in got.iter().zip(&expect) {
        assert_eq!(g, e);
    }
    assert_eq!(first_err, Some(end));
    drop(conn);
    drop(peer);

    // The async receiver, switched to after a number of pieces the input picks.
    let switch = usize::from(data[1] >> 4) % (sizes.len() + 1);
    let (agot, aend) = async_pass(stream, &sizes, switch, &opts);
    assert_eq!(agot, got, "async frames");
    assert_eq!(aend, end, "async end");

    // Round trip: send what was delivered, receive it on the other end (one at a time:
    // many small frames would fill the socket's buffer). What a connection writes is the
    // canonical form: the 4-byte length, then the payload.
    let (a, b) = UnixStream::pair().unwrap();
    let mut tx = connection(a, &opts);
    let mut rx = connection(b, &opts);
    let (c, mut d) = UnixStream::pair().unwrap();
    let mut raw_tx = connection(c, &opts);
    for f in &got {
        tx.send(f).unwrap();
        rx.recv_into(&mut buf).unwrap();
        assert_eq!(&buf, f);
        raw_tx.send(f).unwrap();
        let mut raw = vec![0u8; 4 + f.len()];
        d.read_exact(&mut raw).unwrap();
        assert_eq!(raw[..4], (f.len() as u32).to_be_bytes());
        assert_eq!(&raw[4..], &f[..]);
    }
    drop((tx, raw_tx));
    assert!(matches!(rx.recv_into(&mut buf), Err(Error::Disconnected)));
    let mut rest = Vec::new();
    d.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
});
