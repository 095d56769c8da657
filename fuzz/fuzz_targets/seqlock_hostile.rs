//! A seqlock cell from a hostile writer. Byte 0 picks the mode:
//! - 0: the rest of the input is the whole segment file; open it as a reader and as a
//!   writer, read and write;
//! - 1: a valid cell (written once), with the rest laid over its header, geometry, shared
//!   words or value at an offset the mode picks; the same;
//! - 2: a live writer and reader while the input, a script of 10-byte steps, also writes
//!   into the shared words and the value. After every real write with no hostile write
//!   since, a read returns exactly that value and version.
//! Every outcome is a value, `Corrupt`/`BadSegment`-style error, `Timeout` or
//! `Disconnected`; never a panic, a SIGBUS, an out-of-bounds access or a hang.
#![no_main]

mod common;

use std::os::unix::fs::FileExt;
use std::time::Duration;

use ipcring::seqlock::{Reader, SeqlockOptions, Writer};
use libfuzzer_sys::fuzz_target;

type V = [u64; 4];

fn poke(reader: &Reader<V>) {
    if let Some(s) = reader.try_read() {
        let _ = s.missed_since(0);
    }
    let v = reader.version();
    let _ = reader.wait_changed(v, Duration::ZERO);
    let _ = reader.writer_attached();
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let path = common::fresh_path("seqlock");
    let p = path.to_str().unwrap();
    let opts = SeqlockOptions::new().open_timeout(Duration::ZERO);
    match mode % 3 {
        0 | 1 => {
            let write_one = || {
                let mut w = Writer::<V>::create(p, &SeqlockOptions::new().keep(true)).unwrap();
                w.write(&[1, 2, 3, 4]);
            };
            let off = (mode as u64 / 3) * 8 % 640;
            common::hostile_segment_file(&path, mode, rest, write_one, off);
            if let Ok(r) = Reader::<V>::open(p, &opts) {
                poke(&r);
                if let Ok(mut w) = Writer::<V>::open(p, &opts.clone().keep(true)) {
                    let v = w.write(&[5, 6, 7, 8]);
                    // A write by the attached writer is whole and versioned.
                    let s = r.try_read().expect("no write in progress");
                    assert_eq!((s.value, s.version), ([5, 6, 7, 8], v));
                    assert_eq!(w.value(), [5, 6, 7, 8]);
                }
                poke(&r);
            }
            let _ = ipcring::seqlock::inspect(p);
        }
        _ => {
            let mut w = Writer::<V>::create(p, &SeqlockOptions::new()).unwrap();
            let r = Reader::<V>::open(p, &opts).unwrap();
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            let mut clean: Option<(V, u64)> = Some(([0; 4], 0));
            for (op, arg, bytes) in common::steps(rest) {
                match op % 4 {
                    0 => {
                        // The sequence word, the wake word, the geometry, or the value.
                        let at = match op / 4 % 4 {
                            0 => 256 + arg % 8,
                            1 => 384 + arg % 8,
                            2 => 128 + arg % 24,
                            _ => 512 + arg % 32,
                        };
                        let _ = f.write_all_at(bytes, at);
                        if !bytes.is_empty() {
                            clean = None;
                        }
                    }
                    1 => {
                        let mut v = [0u64; 4];
                        for (i, b) in bytes.iter().enumerate() {
                            v[i % 4] = v[i % 4] << 8 | u64::from(*b);
                        }
                        let version = w.write(&v);
                        assert_eq!(version, w.version());
                        clean = Some((v, version));
                    }
                    2 => match (r.try_read(), clean) {
                        (Some(s), Some((v, version))) => {
                            assert_eq!((s.value, s.version), (v, version));
                        }
                        (None, Some(_)) => panic!("no value after a clean write"),
                        _ => {}
                    },
                    _ => poke(&r),
                }
            }
            drop(w);
            // The writer is gone: a reader never hangs on whatever the words say.
            let _ = r.wait_changed(r.version(), Duration::from_millis(1));
            let _ = ipcring::seqlock::inspect(p);
        }
    }
    let _ = std::fs::remove_file(&path);
});
