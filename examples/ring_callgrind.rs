//! A measuring tool, not a demo: the instructions the ring executes per 64-byte message,
//! producer and consumer in one thread, so that a run under callgrind is deterministic
//! (timing between two processes is not: it depends on where the host puts the two
//! vCPUs). Each message is sent and received the way `cargo bench --bench ring` streams:
//!
//! - `stream` (default): `reserve` + copy in + `commit`, then `recv` (zero-copy) + copy
//!   out, as the bench's producer and its `sink` peer do;
//! - `copy`: `try_send` + `try_recv_into` (a copy each way);
//! - `view`: `try_send` + `try_recv` (zero-copy receive).
//!
//! Every message carries its number in its first 8 bytes, checked on receipt.
//! Instructions per message = (I(2N) - I(N)) / N, which cancels setup and teardown:
//!
//! ```text
//! cargo build --release --example ring_callgrind
//! for n in 100000 200000; do
//!   valgrind --tool=callgrind --callgrind-out-file=cg.$n \
//!     target/release/examples/ring_callgrind $n stream
//! done
//! callgrind_annotate cg.200000 | head -40      # where they go
//! ```

use ipcring::ring::{Consumer, Producer, RingOptions};

fn main() -> ipcring::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(100_000, |a| a.parse().expect("N"));
    let mode = args.next().unwrap_or_else(|| "stream".into());
    let name = format!("/ipcring-ringcg-{}", std::process::id());
    // 4 MiB, as the bench's ring.
    let mut rx = Consumer::create(&name, &RingOptions::new().capacity(1 << 22))?;
    let mut tx = Producer::open(&name, &RingOptions::new())?;
    let mut msg = [7u8; 64];
    let mut out = vec![0u8; 64];
    let mut buf = Vec::with_capacity(64);
    let check = |seq: u64, got: &[u8]| {
        assert_eq!(got.len(), 64, "message {seq}: length");
        assert_eq!(got[..8], seq.to_le_bytes(), "message {seq}: number");
    };
    for seq in 0..n {
        msg[..8].copy_from_slice(&seq.to_le_bytes());
        match mode.as_str() {
            "stream" => {
                let mut g = tx.reserve(64)?;
                g.copy_from_slice(&msg);
                g.commit();
                let m = rx.recv()?;
                out[..m.len()].copy_from_slice(&m);
                drop(m);
                check(seq, &out);
            }
            "copy" => {
                tx.try_send(&msg)?;
                rx.try_recv_into(&mut buf)?;
                check(seq, &buf);
            }
            "view" => {
                tx.try_send(&msg)?;
                let m = rx.try_recv()?;
                check(seq, &m);
            }
            other => panic!("unknown mode {other}: stream, copy or view"),
        }
    }
    drop((tx, rx)); // the creator's drop removes the ring's name
    println!("{n} messages of 64 B ({mode}), each checked");
    Ok(())
}
