//! Bob, the article's client of a command server over a shared JSON file guarded by a lock.
//!
//! Asks Alice (Rust, or the article's Python Alice) through `shared.json` in the current
//! directory to add 2 and 5, multiply 8 and 5, then to add two words, which she refuses:
//! Bob then prints her error and exits with status 1, as the article's Python Bob dies of
//! the exception. Waits as long as needed, or `MAILBOX_TIMEOUT` seconds when that is set.
//!
//! ```text
//! cargo run --features file --example file_alice     # terminal 1 (either order)
//! cargo run --features file --example file_bob       # terminal 2
//! Lets add 2 and 5: 7
//! Lets multiply 8 and 5: 40
//! Lets break it and cause an exception!
//! Exception: Yeah, we are only going to add numbers
//! ```
use std::time::Duration;

use ipcring::file::mailbox::Mailbox;
use serde_json::{json, Value};

fn ask_alice(mb: &mut Mailbox, command: &str, args: Vec<Value>) -> ipcring::Result<Value> {
    let timeout = std::env::var("MAILBOX_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs_f64);
    match mb.call(command, args, timeout)? {
        Ok(v) => Ok(v),
        Err(message) => {
            eprintln!("Exception: {message}");
            std::process::exit(1);
        }
    }
}

fn main() -> ipcring::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "shared.json".to_owned());
    let mut mb = Mailbox::open(&path)?;
    println!(
        "Lets add 2 and 5: {}",
        ask_alice(&mut mb, "add", vec![json!(2), json!(5)])?
    );
    println!(
        "Lets multiply 8 and 5: {}",
        ask_alice(&mut mb, "multiply", vec![json!(8), json!(5)])?
    );
    println!("Lets break it and cause an exception!");
    ask_alice(&mut mb, "add", vec![json!("bad"), json!("data")])?;
    Ok(())
}
