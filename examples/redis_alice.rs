//! Alice, the article's Redis service: subscribes to `my_channel` and prints whatever
//! arrives, until Ctrl+C (or, given a number N as argument, after N messages).
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --features redis --example redis_alice
//! ```
//!
//! Start Bob (`redis_bob`) before or after: Bob keeps publishing until someone hears him.
//! If the connection to the server breaks, Alice reconnects by herself and says that she
//! may have missed messages meanwhile (pub/sub keeps nothing for absent subscribers).

use ipcring::redis::{RedisOptions, Subscriber};
use ipcring::Receiver;

fn main() -> ipcring::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let limit: Option<u64> = std::env::args().nth(1).and_then(|a| a.parse().ok());
    let mut alice = Subscriber::connect(&url, "my_channel", &RedisOptions::new())?;
    println!("alice: subscribed to my_channel on {url}");
    let mut buf = Vec::new();
    let mut seen = 0u64;
    while limit.is_none_or(|n| seen < n) {
        alice.recv_into(&mut buf)?;
        if let Some(gap) = alice.take_gap() {
            println!(
                "alice: connection was lost for {:?}; messages may have been missed",
                gap.duration()
            );
        }
        println!("{}", String::from_utf8_lossy(&buf));
        seen += 1;
    }
    Ok(())
}
