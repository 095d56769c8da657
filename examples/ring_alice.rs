//! Alice: the ring's counterpart of the article's converter server. She reads messages
//! from Bob over a shared-memory ring, converts them (lower case, `_`/`-` to spaces), and
//! sends the result back. Start her and Bob from two terminals, in either order:
//!
//! ```text
//! cargo run --release --example ring_alice
//! cargo run --release --example ring_bob
//! ```
//!
//! The channel is two rings, `/ipcring-example.ab` and `.ba`, each opened or created by
//! whichever side comes first. Alice serves until Bob disconnects, then waits for the next
//! Bob (run her with `--once` to stop after one).

use ipcring::ring::{duplex, RingOptions, Side};
use ipcring::Error;

fn converter(message: &[u8]) -> String {
    String::from_utf8_lossy(message)
        .replace(['_', '-'], " ")
        .to_lowercase()
}

fn main() -> ipcring::Result<()> {
    let once = std::env::args().any(|a| a == "--once");
    let name = std::env::var("IPCRING_EXAMPLE_NAME").unwrap_or_else(|_| "/ipcring-example".into());
    let opts = RingOptions::new().capacity(1 << 16).keep(true);
    loop {
        let (mut tx, mut rx) = duplex(&name, Side::A, &opts)?;
        println!("alice: waiting for messages on {name}");
        loop {
            let reply = match rx.recv() {
                Ok(msg) => converter(&msg),
                Err(Error::Disconnected) => break,
                Err(e) => return Err(e),
            };
            println!("alice: {reply}");
            tx.send(reply.as_bytes())?;
        }
        println!("alice: bob left");
        if once {
            return Ok(());
        }
    }
}
