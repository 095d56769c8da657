//! Bob, the article's Redis client: publishes `example data` on `my_channel`.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --features redis --example redis_bob
//! ```
//!
//! Pub/sub keeps nothing for subscribers that are not there yet, so to let the two programs
//! start in either order Bob publishes again every 100 ms until a subscriber got it (for at
//! most 30 s). A message that must wait for its reader belongs in a stream
//! (`ipcring::redis::StreamProducer`).

use std::time::{Duration, Instant};

use ipcring::redis::{Publisher, RedisOptions};

fn main() -> ipcring::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut bob = Publisher::connect(&url, "my_channel", &RedisOptions::new())?;
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let heard_by = bob.publish(b"example data")?;
        if heard_by > 0 {
            println!("bob: published to {heard_by} subscriber(s)");
            return Ok(());
        }
        if Instant::now() >= give_up {
            eprintln!("bob: nobody subscribed to my_channel on {url} within 30 s");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
