//! Bob, who spits out gobbledygook, over a named pipe.
//!
//! Sends each argument (or, with none, the article's `TERRIBLE-looking_MACHINE-output`) as
//! one message on the FIFO `fifo` in the current directory (path overridable with the
//! `FIFO` environment variable), waiting for Alice if she is not there yet.
//!
//! ```text
//! cargo run --example pipe_alice --features pipe      # terminal 1 (either order)
//! cargo run --example pipe_bob --features pipe        # terminal 2
//! ```
use ipcring::pipe::{PipeOptions, PipeSender};
use ipcring::Sender;

fn main() -> ipcring::Result<()> {
    let path = std::env::var("FIFO").unwrap_or_else(|_| "fifo".to_owned());
    let mut messages: Vec<String> = std::env::args().skip(1).collect();
    if messages.is_empty() {
        messages.push("TERRIBLE-looking_MACHINE-output".to_owned());
    }
    let mut tx = PipeSender::open(&path, &PipeOptions::new())?;
    for m in &messages {
        tx.send(m.as_bytes())?;
        println!("Bob sent {m:?}");
    }
    Ok(())
}
