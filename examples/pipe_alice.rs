//! Alice, the article's text converter, over a named pipe.
//!
//! Reads messages from the FIFO `fifo` in the current directory (or the path given as the
//! first argument), makes them readable (dashes and underscores become spaces, all lower
//! case) and prints them. Keeps serving writer after writer until Ctrl-C.
//!
//! ```text
//! cargo run --example pipe_alice --features pipe      # terminal 1 (either order)
//! cargo run --example pipe_bob --features pipe        # terminal 2
//! ```
use ipcring::pipe::{PipeOptions, PipeReceiver};
use ipcring::{Error, Receiver};

fn converter(message: &[u8]) -> String {
    String::from_utf8_lossy(message)
        .replace(['_', '-'], " ")
        .to_lowercase()
}

fn main() -> ipcring::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "fifo".to_owned());
    let mut rx = PipeReceiver::open(&path, &PipeOptions::new())?;
    println!("Alice is listening on {path}");
    let mut buf = Vec::new();
    loop {
        match rx.recv_into(&mut buf) {
            Ok(()) => println!(
                "Alice will print out a pretty message of: {}",
                converter(&buf)
            ),
            // Bob left: wait for the next Bob.
            Err(Error::Disconnected) => continue,
            // A foreign writer sent something that is not a frame: say so, keep serving.
            Err(e @ Error::Framing(_)) => eprintln!("Out of sync! {e}"),
            Err(e) => return Err(e),
        }
    }
}
