//! A live ring whose shared state (positions, record headers, payload bytes) the fuzzer
//! writes while a consumer and a producer use it: they must see only whole messages of
//! valid size, "empty/full", or Error::Corrupt.
#![no_main]

mod common;

use std::os::unix::fs::FileExt;

use ipcring::ring::{Consumer, Producer, RingOptions};
use ipcring::{Error, TryRecvError, TrySendError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::fresh_path("live");
    let p = path.to_str().unwrap();
    let opts = RingOptions::new().capacity(512);
    let mut tx = Producer::create(p, &opts).unwrap();
    let mut rx = Consumer::open(p, &opts).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let mut buf = Vec::new();
    // The input is a script: each chunk is (op, offset, 8 bytes).
    for (op, off, bytes) in common::steps(data) {
        match op % 4 {
            0 => {
                // Hostile write into the shared words or the data area (8-aligned).
                let at = if op & 4 == 0 {
                    256 + (off % 4) * 128
                } else {
                    1024 + (off * 8) % 512
                };
                let _ = f.write_all_at(bytes, at);
            }
            1 => {
                let len = (off as usize) % (tx.max_message() + 1);
                match tx.try_send(&vec![op; len]) {
                    Ok(()) | Err(TrySendError::Full) => {}
                    Err(TrySendError::Failed(Error::Corrupt(_))) => {}
                    Err(e) => panic!("send: {e}"),
                }
            }
            _ => match rx.try_recv_into(&mut buf) {
                Ok(()) | Err(TryRecvError::Empty) => assert!(buf.len() <= rx.max_message()),
                Err(TryRecvError::Failed(Error::Corrupt(_))) => {}
                Err(e) => panic!("recv: {e}"),
            },
        }
    }
    let _ = ipcring::ring::inspect(p);
});
