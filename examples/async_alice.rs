//! Alice on tokio: the ring converter of `ring_alice.rs`, written with the async handles,
//! on the same rings and wire (she serves `ring_bob` and `async_bob` alike). Start her and
//! Bob from two terminals, in either order:
//!
//! ```text
//! cargo run --release --features async --example async_alice
//! cargo run --release --features async --example async_bob     # or --example ring_bob
//! ```
//!
//! While she waits for Bob, her task holds no thread: after a short spin the wait is one
//! futex sleep on tokio's blocking pool, and her runtime thread is free (a ticker task
//! runs beside her to show it). Run her with `--once` to stop after one Bob.
//!
//! Like `ring_alice`, she removes the two rings when she exits (`--once`, Ctrl-C, SIGTERM);
//! after a SIGKILL, `ipcring rm /ipcring-example.ab /ipcring-example.ba` does.

use std::time::Duration;

#[path = "support/rings.rs"]
mod rings;

use ipcring::ring::{async_duplex, Side};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ipcring::Result<()> {
    let once = std::env::args().any(|a| a == "--once");
    let name = rings::name();
    let opts = rings::opts();
    // Another task on the same thread: it keeps running while Alice waits.
    let ticker = tokio::spawn(async {
        let mut n = 0u64;
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            n += 5;
            println!("alice: (still serving, {n} s)");
        }
    });
    loop {
        let (mut tx, mut rx) = async_duplex(&name, Side::A, &opts)?;
        // Once she holds the rings: a second Alice, refused above, removes nothing.
        rings::remove_rings_on_signal(&name)?;
        println!("alice: waiting for messages on {name}");
        while let Some(reply) = rings::reply(rx.recv().await)? {
            println!("alice: {reply}");
            tx.send(reply.as_bytes()).await?;
        }
        println!("alice: bob left");
        if once {
            ticker.abort();
            drop((tx, rx));
            rings::remove_rings(&name);
            return Ok(());
        }
    }
}
