//! The shared file log as another writer (or bad luck) left it: a header and records whose
//! every byte the fuzzer chooses, and a saved cursor. A reader must deliver only records
//! that pass every check, then stop with `Corrupt`/`BadSegment` (or `Disconnected` once it
//! read everything), never panic, and never allocate more than its `max_message` allows.
//! Round trip: the messages it delivered, appended to another log, read back equal.
//!
//! Input: byte 0 is the mode. Even: the rest is the whole file. Odd: a valid log of a few
//! records (written by `LogWriter`), with the rest laid over it at an offset the mode picks.
//! Bit 1 of byte 1: the first 16 bytes of the rest are a saved cursor file instead.
#![no_main]

mod common;

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ipcring::file::{LogOptions, LogReader, LogWriter, Start};
use ipcring::{Error, Receiver, Sender, TryRecvError};
use libfuzzer_sys::fuzz_target;

static ROUND_TRIP: Mutex<Option<(LogWriter, LogReader)>> = Mutex::new(None);

fn clean(p: &Path) {
    for suffix in ["", ".lock", ".cursor.c"] {
        let mut s = p.as_os_str().to_owned();
        s.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(s));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((&flags, mut rest)) = rest.split_first() else {
        return;
    };
    let p = common::fresh_path("log-in");
    clean(&p);
    let max = [16usize, 100, 4096, 1 << 20][(flags & 3) as usize];
    let mut opts = LogOptions::new().max_message(max).start(Start::Beginning);
    if flags & 4 != 0 && rest.len() >= 16 {
        let mut c = p.as_os_str().to_owned();
        c.push(".cursor.c");
        common::write_segment_file(&PathBuf::from(c), &rest[..16]);
        rest = &rest[16..];
        opts = opts.cursor("c");
    }
    if mode % 2 == 0 {
        common::write_segment_file(&p, rest);
    } else {
        {
            let mut w = LogWriter::open(&p, &LogOptions::new()).unwrap();
            for (i, m) in [&b"first"[..], b"", b"third message", &[7u8; 40]]
                .iter()
                .enumerate()
            {
                if i < 1 + (mode as usize / 2) % 4 {
                    w.send(m).unwrap();
                }
            }
        }
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        let off = (mode as u64 / 8) * 4;
        f.write_all_at(&rest[..rest.len().min(1024)], off).unwrap();
    }
    let mut got = Vec::new();
    match LogReader::open(&p, &opts) {
        Ok(mut r) => {
            let mut buf = Vec::new();
            for _ in 0..256 {
                match r.try_recv_into(&mut buf) {
                    Ok(()) => {
                        assert!(buf.len() <= max);
                        assert_eq!(r.offset() % 8, 0);
                        got.push(buf.clone());
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Failed(
                        Error::Corrupt(_) | Error::BadSegment { .. } | Error::Disconnected,
                    )) => break,
                    Err(e) => panic!("unexpected error {e:?}"),
                }
            }
        }
        Err(Error::Corrupt(_) | Error::BadSegment { .. }) => {}
        Err(e) => panic!("unexpected error at open {e:?}"),
    }
    clean(&p);

    // Round trip through a log kept between runs (opening a reader costs an inotify
    // descriptor, whose close is slow): the messages, appended, read back equal.
    if !got.is_empty() {
        let mut pair = ROUND_TRIP.lock().unwrap();
        if pair.as_ref().is_none_or(|(_, r)| r.offset() > 1 << 20) {
            *pair = None;
            let q = common::fresh_path("log-out");
            clean(&q);
            let opts = LogOptions::new()
                .max_message(1 << 20)
                .start(Start::Beginning);
            *pair = Some((
                LogWriter::open(&q, &opts).unwrap(),
                LogReader::open(&q, &opts).unwrap(),
            ));
        }
        let (w, r) = pair.as_mut().unwrap();
        for m in &got {
            w.send(m).unwrap();
        }
        let mut buf = Vec::new();
        for m in &got {
            r.try_recv_into(&mut buf).unwrap();
            assert_eq!(&buf, m);
        }
        assert!(r.try_recv_into(&mut buf).unwrap_err().is_empty());
    }
});
