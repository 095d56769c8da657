//! A broadcast ring from a hostile publisher. Byte 0 picks the mode:
//! - 0: the rest of the input is the whole segment file; open it as a subscriber and as a
//!   publisher, receive and publish;
//! - 1: a valid ring holding a few messages, with the rest laid over its header, geometry,
//!   shared words or slots at an offset the mode picks; the same;
//! - 2: a live publisher and subscriber while the input, a script of 10-byte steps, also
//!   writes into the head, the wake word and the slots. Without hostile writes, every
//!   message is delivered once in order or counted once as lagged.
//! A received message never exceeds `max_message`; every outcome is a message, `Lagged`,
//! nothing, or an error; never a panic, a SIGBUS, an out-of-bounds access or a hang.
#![no_main]

mod common;

use std::os::unix::fs::FileExt;
use std::time::Duration;

use ipcring::broadcast::{BroadcastOptions, Publisher, Recv, Start, Subscriber};
use ipcring::{Error, TryRecvError};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 64;

fn drain(sub: &mut Subscriber) {
    let mut buf = Vec::new();
    for _ in 0..64 {
        match sub.try_recv_into(&mut buf) {
            Ok(Recv::Message(_)) => assert!(buf.len() <= sub.max_message()),
            Ok(Recv::Lagged(_)) => assert!(buf.is_empty()),
            Err(_) => break,
        }
    }
    let _ = sub.recv_timeout_into(&mut buf, Duration::ZERO);
    let _ = sub.publisher_attached();
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let path = common::fresh_path("bcast");
    let p = path.to_str().unwrap();
    let geometry = BroadcastOptions::new().slots(4).max_message(MAX as u32);
    let opts = geometry
        .clone()
        .open_timeout(Duration::ZERO)
        .start(Start::Oldest);
    match mode % 3 {
        0 | 1 => {
            let publish_some = || {
                let mut tx = Publisher::create(p, &geometry.clone().keep(true)).unwrap();
                for i in 0..(mode / 3) % 7 {
                    tx.publish(&vec![i; i as usize * 9]).unwrap();
                }
            };
            let off = (mode as u64 / 21) * 64 % 1024;
            common::hostile_segment_file(&path, mode, rest, publish_some, off);
            if let Ok(mut sub) = Subscriber::open(p, &opts) {
                drain(&mut sub);
                if let Ok(mut tx) = Publisher::open(p, &opts.clone().keep(true)) {
                    let _ = tx.publish(b"after");
                    let _ = tx.publish(&[9; MAX]);
                    assert!(
                        matches!(
                            tx.publish(&[0; MAX + 1]),
                            Err(Error::MessageTooLarge { .. })
                        ) || tx.max_message() > MAX
                    );
                }
                drain(&mut sub);
            }
            let _ = ipcring::broadcast::inspect(p);
        }
        _ => {
            let mut tx = Publisher::create(p, &geometry).unwrap();
            let mut sub = Subscriber::open(p, &opts).unwrap();
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            let mut published: Vec<Vec<u8>> = Vec::new();
            let mut tampered = false;
            let (mut delivered, mut lagged) = (0u64, 0u64);
            let mut buf = Vec::new();
            for (op, arg, bytes) in common::steps(rest) {
                match op % 3 {
                    0 => {
                        let at = match op / 3 % 3 {
                            0 => 256 + arg % 8,
                            1 => 384 + arg % 8,
                            _ => 512 + (arg * 8) % 512,
                        };
                        let _ = f.write_all_at(bytes, at);
                        tampered |= !bytes.is_empty();
                    }
                    1 => {
                        let msg = vec![op; arg as usize % (MAX + 1)];
                        match tx.publish(&msg) {
                            Ok(n) => {
                                if !tampered {
                                    assert_eq!(n as usize, published.len());
                                }
                                published.push(msg);
                            }
                            Err(e) => assert!(tampered, "publish: {e}"),
                        }
                    }
                    _ => match sub.try_recv_into(&mut buf) {
                        Ok(Recv::Message(n)) => {
                            assert!(buf.len() <= MAX);
                            if !tampered {
                                assert_eq!(n, delivered + lagged, "in order");
                                assert_eq!(buf, published[n as usize]);
                            }
                            delivered += 1;
                        }
                        Ok(Recv::Lagged(k)) => {
                            assert!(buf.is_empty());
                            lagged += k;
                        }
                        Err(TryRecvError::Empty) => {
                            if !tampered {
                                assert_eq!(delivered + lagged, published.len() as u64);
                            }
                        }
                        Err(e) => assert!(tampered, "recv: {e}"),
                    },
                }
            }
            drop(tx);
            let _ = sub.recv_timeout_into(&mut buf, Duration::from_millis(1));
            let _ = ipcring::broadcast::inspect(p);
        }
    }
    let _ = std::fs::remove_file(&path);
});
