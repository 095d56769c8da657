//! The article's socket Bob, over the shared-memory service: asks Alice for 8 * 8, prints
//! the answer, asks her something she does not understand, then stops her.
//!
//! ```text
//! cargo run --release --example service_bob            # asks, then stops Alice
//! cargo run --release --example service_bob -- --stay  # asks, leaves Alice running
//! ```
//! Started before Alice, Bob waits for her (up to 10 s).

use std::time::Duration;

use ipcring::service::{Client, ServiceOptions};

fn main() -> ipcring::Result<()> {
    let name = std::env::var("IPCRING_EXAMPLE_NAME").unwrap_or_else(|_| "/ipcring-service".into());
    let stay = std::env::args().any(|a| a == "--stay");
    let opts = ServiceOptions::new().open_timeout(Duration::from_secs(10));
    let bob = Client::connect(&name, &opts)?;

    let mut req = [0u8; 16];
    req[..8].copy_from_slice(&8i64.to_le_bytes());
    req[8..].copy_from_slice(&8i64.to_le_bytes());
    let answer = bob.call(&req)?;
    match <[u8; 8]>::try_from(&*answer) {
        Ok(p) => println!(
            "bob: What is 8 * 8? Why Alice told me it's {}",
            i64::from_le_bytes(p)
        ),
        Err(_) => println!("bob: Alice said {:?}", String::from_utf8_lossy(&answer)),
    }
    drop(answer);
    println!(
        "bob: and to \"dance?\" she says {:?}",
        String::from_utf8_lossy(&bob.call(b"dance?")?)
    );
    if !stay {
        // Bob's a party pooper and going to end it for everyone.
        let bye = bob.call(b"stop server")?;
        println!("bob: Alice said {:?}", String::from_utf8_lossy(&bye));
    }
    Ok(())
}
