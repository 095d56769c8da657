//! Socket frames (Python's `send_bytes` framing: 4-byte big-endian signed length, or -1 and
//! an 8-byte length) as a peer writes them, in pieces, into a connected socket pair. The
//! receiver must deliver exactly the frames an independent parser of the documented format
//! finds, then the error it says (a framing error, a frame over `max_frame`, or a clean
//! end), without a panic and without reserving memory for a length the peer announced.
//! Round trip: every delivered frame, sent again by a connection, is received equal.
//!
//! Input: byte 0 picks `max_frame`, bytes 1..3 seed the piece sizes, the rest is the stream.
#![no_main]

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use ipcring::__fuzz::socket::connection;
use ipcring::socket::SocketOptions;
use ipcring::{Error, Receiver, Sender};
use libfuzzer_sys::fuzz_target;

const MAX_FRAMES: [usize; 8] = [0, 1, 7, 64, 255, 4096, 1 << 20, 1 << 30];

#[derive(Debug, PartialEq)]
enum End {
    Clean,
    Partial,
    Negative,
    TooLarge,
}

/// The documented format, parsed on its own: the whole frames, then how the stream ends.
fn model(mut rest: &[u8], max: usize) -> (Vec<&[u8]>, End) {
    let mut frames = Vec::new();
    loop {
        if rest.is_empty() {
            return (frames, End::Clean);
        }
        if rest.len() < 4 {
            return (frames, End::Partial);
        }
        let short = i32::from_be_bytes(rest[..4].try_into().unwrap());
        let (len, used) = if short >= 0 {
            (short as u64, 4)
        } else if short == -1 {
            if rest.len() < 12 {
                return (frames, End::Partial);
            }
            (u64::from_be_bytes(rest[4..12].try_into().unwrap()), 12)
        } else {
            return (frames, End::Negative);
        };
        if len > max as u64 {
            return (frames, End::TooLarge);
        }
        let len = len as usize;
        if rest.len() - used < len {
            return (frames, End::Partial);
        }
        frames.push(&rest[used..used + len]);
        rest = &rest[used + len..];
    }
}

/// Writes all of `bytes` to `fd` without SIGPIPE (the receiver may have shut the socket).
fn put(fd: &UnixStream, bytes: &[u8]) {
    let mut off = 0;
    while off < bytes.len() {
        // SAFETY: the pointer and length describe the live slice `bytes[off..]`.
        let n = unsafe {
            libc::send(
                fd.as_raw_fd(),
                bytes[off..].as_ptr().cast(),
                bytes.len() - off,
                libc::MSG_NOSIGNAL,
            )
        };
        if n <= 0 {
            return; // the receiver closed after a framing error: the rest is not read
        }
        off += n as usize;
    }
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
    let mut seed = u32::from(data[1]) << 8 | u32::from(data[2]) | 1;
    let stream = &data[3..];
    let (expect, end) = model(stream, max);

    let (ours, peer) = UnixStream::pair().unwrap();
    let opts = SocketOptions::new()
        .max_frame(max)
        .read_timeout(Some(Duration::from_secs(5)));
    let mut conn = connection(ours, &opts);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut first_err: Option<End> = None;
    let mut buf = Vec::new();
    // Pieces of 1..=64 bytes, each followed by non-blocking receives.
    let mut off = 0;
    while off < stream.len() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let n = (1 + seed % 64) as usize;
        let piece = &stream[off..(off + n).min(stream.len())];
        off += piece.len();
        put(&peer, piece);
        loop {
            match conn.try_recv_into(&mut buf) {
                Ok(true) => got.push(buf.clone()),
                Ok(false) => break,
                Err(e) => {
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
        Err(Error::Disconnected)
    ));
    assert_eq!(got.len(), expect.len(), "frames delivered");
    for (g, e) in got.iter().zip(&expect) {
        assert_eq!(g, e);
    }
    assert_eq!(first_err, Some(end));
    drop(conn);
    drop(peer);

    // Round trip: send what was delivered, receive it on the other end.
    let (a, b) = UnixStream::pair().unwrap();
    let mut tx = connection(a, &opts);
    let mut rx = connection(b, &opts);
    for f in &got {
        tx.send(f).unwrap();
    }
    drop(tx);
    for f in &got {
        rx.recv_into(&mut buf).unwrap();
        assert_eq!(&buf, f);
    }
    assert!(matches!(rx.recv_into(&mut buf), Err(Error::Disconnected)));

    // What a connection writes is the canonical form: 4-byte length and the payload.
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut tx = connection(a, &opts);
    for f in &got {
        tx.send(f).unwrap();
    }
    drop(tx);
    let mut raw = Vec::new();
    b.read_to_end(&mut raw).unwrap();
    let mut canon = Vec::new();
    for f in &got {
        canon.extend_from_slice(&(f.len() as u32).to_be_bytes());
        canon.extend_from_slice(f);
    }
    assert_eq!(raw, canon);
});
