//! Arbitrary bytes opened as a segment: every outcome is a clean error or a usable ring;
//! never a panic, a SIGBUS or an out-of-bounds access. The first byte picks a template: raw
//! bytes, or a valid ring header with the fuzzer's bytes laid over part of it.
#![no_main]

mod common;

use std::io::Write;
use std::time::Duration;

use ipcring::ring::{Consumer, Producer, RingOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::fresh_path("open");
    let p = path.to_str().unwrap();
    // Mode 0666 accepted: `File::create` makes the raw-bytes file 0644 (umask), and the
    // point here is the header's validation, not the mode check.
    let opts = RingOptions::new()
        .open_timeout(Duration::from_millis(0))
        .mode(0o666);
    if let Some((&mode, rest)) = data.split_first() {
        if mode % 2 == 0 {
            std::fs::File::create(&path)
                .unwrap()
                .write_all(rest)
                .unwrap();
        } else {
            // A valid ring, then the fuzzer's bytes at an offset in its header.
            let tx = Producer::create(p, &RingOptions::new().capacity(1024).keep(true)).unwrap();
            drop(tx);
            let off = (mode as u64 / 2) * 8 % 1024;
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.write_all_at(&rest[..rest.len().min(2048)], off).unwrap();
        }
        if let Ok(mut rx) = Consumer::open(p, &opts) {
            let mut buf = Vec::new();
            for _ in 0..64 {
                match rx.try_recv_into(&mut buf) {
                    Ok(()) => assert!(buf.len() <= rx.max_message()),
                    _ => break,
                }
            }
        }
        let _ = ipcring::ring::inspect(p);
    }
    let _ = std::fs::remove_file(&path);
});
