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
//! whichever side comes first (`IPCRING_EXAMPLE_NAME` changes the name). Alice serves until
//! Bob disconnects, then waits for the next Bob (run her with `--once` to stop after one).
//!
//! The rings outlive each Bob (`keep(true)`), so the next Bob finds them. Alice removes them
//! when she exits: after one Bob with `--once`, or on Ctrl-C (SIGINT) or SIGTERM. Only a
//! SIGKILL leaves them behind: `ipcring ls` shows them as stale, and `ipcring rm
//! /ipcring-example.ab /ipcring-example.ba` removes them.

#[path = "support/rings.rs"]
mod rings;

use ipcring::ring::{duplex, Side};

fn main() -> ipcring::Result<()> {
    let once = std::env::args().any(|a| a == "--once");
    let name = rings::name();
    let opts = rings::opts();
    loop {
        let (mut tx, mut rx) = duplex(&name, Side::A, &opts)?;
        // Once she holds the rings: a second Alice, refused above, removes nothing.
        rings::remove_rings_on_signal(&name)?;
        println!("alice: waiting for messages on {name}");
        // Until Bob leaves (`Error::Disconnected`: his end closed, all he sent read).
        while let Some(reply) = rings::reply(rx.recv())? {
            println!("alice: {reply}");
            tx.send(reply.as_bytes())?;
        }
        println!("alice: bob left");
        if once {
            drop((tx, rx));
            rings::remove_rings(&name);
            return Ok(());
        }
    }
}
