//! Named-pipe frames (`"SP"`, version 1, flags 0, `u32` length) as a writer puts them into
//! the FIFO, in pieces. The receiver must deliver exactly the frames an independent parser
//! of the documented format finds, then say how the stream ended (a bad header or an
//! oversized length: `Framing`, the rest of that writer discarded; a writer gone mid-frame:
//! `Framing`; else `Disconnected`), never panic, never buffer more than `max_message + 8`
//! for a length the writer announced. Round trip: the frames, encoded again, are the bytes
//! the writer sent, and go through a `PipeSender`/`PipeReceiver` pair unchanged.
//!
//! Input: byte 0 picks `max_message`, bytes 1..3 seed the piece sizes, the rest is the
//! stream.
#![no_main]

mod common;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use ipcring::pipe::{PipeOptions, PipeReceiver, PipeSender, HEADER_LEN};
use ipcring::{Error, Receiver, Sender, TryRecvError};
use libfuzzer_sys::fuzz_target;

const MAXES: [usize; 4] = [0, 9, 300, 1 << 20];

#[derive(Debug, PartialEq, Clone, Copy)]
enum Seen {
    Framing,
    Disconnected,
}

/// The documented format: the whole frames, how many bytes they take, and the errors a
/// reader reports from there to the writer's end.
fn model(stream: &[u8], max: usize) -> (Vec<&[u8]>, usize, Vec<Seen>) {
    let mut frames = Vec::new();
    let mut at = 0;
    loop {
        let rest = &stream[at..];
        if rest.is_empty() {
            return (frames, at, vec![Seen::Disconnected]);
        }
        if rest.len() < HEADER_LEN {
            return (frames, at, vec![Seen::Framing]);
        }
        let len = u32::from_le_bytes(rest[4..8].try_into().unwrap()) as usize;
        if &rest[..2] != b"SP" || rest[2] != 1 || rest[3] != 0 || len > max {
            return (frames, at, vec![Seen::Framing, Seen::Disconnected]);
        }
        if rest.len() < HEADER_LEN + len {
            return (frames, at, vec![Seen::Framing]);
        }
        frames.push(&rest[HEADER_LEN..HEADER_LEN + len]);
        at += HEADER_LEN + len;
    }
}

fn seen(
    r: Result<(), TryRecvError>,
    got: &mut Vec<Vec<u8>>,
    buf: &[u8],
    errs: &mut Vec<Seen>,
) -> bool {
    match r {
        Ok(()) => {
            got.push(buf.to_vec());
            true
        }
        Err(TryRecvError::Empty) => false,
        Err(TryRecvError::Failed(Error::Framing(_))) => {
            errs.push(Seen::Framing);
            false
        }
        Err(TryRecvError::Failed(Error::Disconnected)) => {
            errs.push(Seen::Disconnected);
            false
        }
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 || data.len() > 32 * 1024 {
        return;
    }
    let max = MAXES[(data[0] & 3) as usize];
    let seed = u32::from(data[1]) << 8 | u32::from(data[2]) | 1;
    let stream = &data[3..];
    let (expect, used, expect_errs) = model(stream, max);

    let path = common::fresh_path("fifo-in");
    let opts = PipeOptions::new().max_message(max);
    let mut rx = PipeReceiver::open(&path, &opts).unwrap();
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    let (mut got, mut errs, mut buf) = (Vec::new(), Vec::new(), Vec::new());
    let mut off = 0;
    for n in common::pieces(seed, stream.len()) {
        writer.write_all(&stream[off..off + n]).unwrap();
        off += n;
        while seen(rx.try_recv_into(&mut buf), &mut got, &buf, &mut errs) {}
    }
    drop(writer);
    // Everything left, then how the writer's stream ended; then nothing (a new writer
    // is awaited).
    let mut calls = 0;
    loop {
        let before = (got.len(), errs.len());
        seen(rx.try_recv_into(&mut buf), &mut got, &buf, &mut errs);
        if (got.len(), errs.len()) == before {
            break;
        }
        calls += 1;
        assert!(calls <= expect.len() + 4, "no end to the stream");
    }
    assert_eq!(got.len(), expect.len(), "frames delivered");
    for (g, e) in got.iter().zip(&expect) {
        assert_eq!(g, e);
    }
    assert_eq!(errs, expect_errs);
    drop(rx);
    let _ = std::fs::remove_file(&path);

    // The frames, encoded again, are the bytes they came from.
    let mut canon = Vec::new();
    for f in &got {
        canon.extend_from_slice(b"SP\x01\x00");
        canon.extend_from_slice(&(f.len() as u32).to_le_bytes());
        canon.extend_from_slice(f);
    }
    assert_eq!(canon, &stream[..used]);
    // And go through a real pair unchanged.
    if !got.is_empty() {
        let path = common::fresh_path("fifo-rt");
        let mut rx = PipeReceiver::open(&path, &opts).unwrap();
        let mut tx = PipeSender::open(&path, &opts).unwrap();
        for f in &got {
            tx.send(f).unwrap();
            rx.recv_into(&mut buf).unwrap();
            assert_eq!(&buf, f);
        }
        drop(tx);
        assert!(matches!(rx.recv_into(&mut buf), Err(Error::Disconnected)));
        drop(rx);
        let _ = std::fs::remove_file(&path);
    }
});
