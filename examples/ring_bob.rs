//! Bob: sends the article's "gobbledygook" machine output to Alice over a shared-memory
//! ring and prints what she makes of it. See `ring_alice.rs`; start them in either order.
//!
//! Bob leaves the rings to Alice, who removes them when she exits. If he gives up (no Alice
//! within 30 s), he removes them himself, unless an Alice holds them by then.

use std::time::Duration;

#[path = "support/rings.rs"]
mod rings;

use ipcring::ring::{duplex, Side};

fn main() -> ipcring::Result<()> {
    let name = rings::name();
    let result = talk(&name);
    if result.is_err() {
        rings::bob_gives_up(&name);
    }
    result
}

fn talk(name: &str) -> ipcring::Result<()> {
    let opts = rings::opts();
    let (mut tx, mut rx) = duplex(name, Side::B, &opts)?;
    for msg in rings::MESSAGES {
        tx.send(msg.as_bytes())?;
        let reply = rx.recv_timeout(Duration::from_secs(30))?;
        println!("bob: alice says: {}", String::from_utf8_lossy(&reply));
    }
    Ok(())
}
