//! The article's socket Alice "hosts a server party" — over shared memory. Any number of
//! Bobs connect to the service by name, each with its own channel; one thread serves them
//! all, answering each request in the same cache lines it arrived in.
//!
//! A request of two little-endian `i64`s gets their product back (8 bytes, or
//! `overflow`); `stop server` stops her; anything else gets
//! `I have no idea what you want me to do`. Start her and Bob from two terminals, in
//! either order (Bob waits for her):
//!
//! ```text
//! cargo run --release --example service_alice
//! cargo run --release --example service_bob
//! ```
//!
//! The service name is `/ipcring-service` (env `IPCRING_EXAMPLE_NAME` to change it).
//! Killed and started again, she takes her old name back without any cleanup.

use ipcring::service::{Listener, ServiceOptions};

fn main() -> ipcring::Result<()> {
    let name = std::env::var("IPCRING_EXAMPLE_NAME").unwrap_or_else(|_| "/ipcring-service".into());
    let mut alice = Listener::bind(&name, &ServiceOptions::new().max_clients(16))?;
    println!("alice: waiting for someone to ask for something on {name}");
    loop {
        let req = alice.recv()?;
        if &*req == b"stop server" {
            req.respond_with(b"Goodbye")?;
            println!("alice: Goodbye");
            return Ok(());
        }
        match <[u8; 16]>::try_from(&*req) {
            Ok(b) => {
                let a = i64::from_le_bytes(b[..8].try_into().unwrap_or_default());
                let c = i64::from_le_bytes(b[8..].try_into().unwrap_or_default());
                println!(
                    "alice: {} wants me to do something: {a} * {c}",
                    req.client()
                );
                match a.checked_mul(c) {
                    Some(p) => req.respond_with(&p.to_le_bytes())?,
                    None => req.respond_with(b"overflow")?,
                }
            }
            Err(_) => req.respond_with(b"I have no idea what you want me to do")?,
        }
    }
}
