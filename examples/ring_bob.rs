//! Bob: sends the article's "gobbledygook" machine output to Alice over a shared-memory
//! ring and prints what she makes of it. See `ring_alice.rs`; start them in either order.
//!
//! Bob leaves the rings to Alice, who removes them when she exits. If he gives up (no Alice
//! within 30 s), he removes them himself, unless an Alice holds them by then.

use std::time::Duration;

use ipcring::ring::{duplex, RingOptions, Side};
use ipcring::segment;

fn main() -> ipcring::Result<()> {
    let name = std::env::var("IPCRING_EXAMPLE_NAME").unwrap_or_else(|_| "/ipcring-example".into());
    let result = talk(&name);
    if result.is_err() {
        for ring in [format!("{name}.ab"), format!("{name}.ba")] {
            // Not forced: a live Alice keeps her rings.
            let _ = segment::remove(&ring, false);
        }
    }
    result
}

fn talk(name: &str) -> ipcring::Result<()> {
    let opts = RingOptions::new().capacity(1 << 16).keep(true);
    let (mut tx, mut rx) = duplex(name, Side::B, &opts)?;
    for msg in [
        "TERRIBLE_LOOKING-MACHINE_OUTPUT",
        "Howdy",
        "ANOTHER-ONE_BITES_THE-DUST",
    ] {
        tx.send(msg.as_bytes())?;
        let reply = rx.recv_timeout(Duration::from_secs(30))?;
        println!("bob: alice says: {}", String::from_utf8_lossy(&reply));
    }
    Ok(())
}
