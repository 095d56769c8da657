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

use ipcring::ring::{duplex, RingOptions, Side};
use ipcring::{segment, Error};

/// Removes the two rings' names. Forced: Alice owns the channel, and a Bob still attached
/// keeps his mapping and sees her leave. A ring already gone is fine.
fn remove_rings(name: &str) {
    for ring in [format!("{name}.ab"), format!("{name}.ba")] {
        match segment::remove(&ring, true) {
            Ok(_) | Err(Error::NotFound(_)) => println!("alice: removed {ring}"),
            Err(e) => eprintln!("alice: could not remove {ring}: {e}"),
        }
    }
}

/// On SIGINT or SIGTERM, removes the rings and exits (128 + the signal, as a shell reports a
/// process killed by it).
fn remove_rings_on_signal(name: &str) -> ipcring::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let name = name.to_owned();
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            remove_rings(&name);
            std::process::exit(128 + signal);
        }
    });
    Ok(())
}

fn converter(message: &[u8]) -> String {
    String::from_utf8_lossy(message)
        .replace(['_', '-'], " ")
        .to_lowercase()
}

fn main() -> ipcring::Result<()> {
    let once = std::env::args().any(|a| a == "--once");
    let name = std::env::var("IPCRING_EXAMPLE_NAME").unwrap_or_else(|_| "/ipcring-example".into());
    let opts = RingOptions::new().capacity(1 << 16).keep(true);
    let mut cleanup_armed = false;
    loop {
        let (mut tx, mut rx) = duplex(&name, Side::A, &opts)?;
        // Armed once she holds the rings (not before: a second Alice, refused with
        // `RoleTaken` above, must not remove the first one's rings).
        if !cleanup_armed {
            remove_rings_on_signal(&name)?;
            cleanup_armed = true;
        }
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
            drop((tx, rx));
            remove_rings(&name);
            return Ok(());
        }
    }
}
