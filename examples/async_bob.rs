//! Bob on tokio: sends the article's machine output to Alice over the ring and prints what
//! she makes of it, with tokio's timeout on each answer. See `async_alice.rs`; start them in
//! either order (he talks to `ring_alice` too: same rings, same wire).
//!
//! He leaves the rings to Alice, who removes them when she exits; if he gives up (no Alice
//! within 30 s), he removes them himself, unless an Alice holds them by then.

use std::time::Duration;

#[path = "support/rings.rs"]
mod rings;

use ipcring::ring::{async_duplex, Side};
use ipcring::transport::AsyncReceiver;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ipcring::Result<()> {
    let name = rings::name();
    let result = talk(&name).await;
    if result.is_err() {
        rings::bob_gives_up(&name);
    }
    result
}

async fn talk(name: &str) -> ipcring::Result<()> {
    let opts = rings::opts();
    let (mut tx, mut rx) = async_duplex(name, Side::B, &opts)?;
    for msg in rings::MESSAGES {
        tx.send(msg.as_bytes()).await?;
        let reply = rx.recv_timeout(Duration::from_secs(30)).await?;
        println!("bob: alice says: {}", String::from_utf8_lossy(&reply));
    }
    Ok(())
}
