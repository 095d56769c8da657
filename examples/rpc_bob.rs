//! The article's Bob as an RPC client: asks Alice to add and multiply, then breaks it on
//! purpose with bad arguments.
//!
//! ```text
//! cargo run --example rpc_bob --features rpc               # over two rings, binary codec
//! cargo run --example rpc_bob --features rpc -- --json     # JSON-RPC 2.0 codec
//! ```
//! Start `rpc_alice` (with the same flags) in another terminal, before or after this one.

use std::time::Duration;

use shmring::ring::{duplex, RingOptions, Side};
use shmring::rpc::{BinaryCodec, Client, Codec, JsonCodec, RpcError};

/// Long enough for Alice to be started by hand after Bob.
const WAIT: Duration = Duration::from_secs(120);

fn ask_alice<C: Codec>(name: &str, codec: C) -> Result<(), RpcError> {
    let opts = RingOptions::new().capacity(1 << 16).reclaim_stale(true);
    let (tx, rx) = duplex(name, Side::B, &opts)?;
    let mut alice = Client::new(tx, rx, codec);
    println!("Bob is asking Alice on {name}.ab / {name}.ba (start rpc_alice if she is not there)");

    let sum: i64 = alice.call("add", (2, 5), WAIT)?;
    println!("Lets add 2 and 5: {sum}");
    let product: i64 = alice.call("multiply", (8, 5), WAIT)?;
    println!("Lets multiply 8 and 5: {product}");

    println!("Lets break it and cause an exception!");
    match alice.call::<_, i64>("add", ("bad", "data"), WAIT) {
        Err(e @ RpcError::BadArguments { .. }) => println!("Exception: {e}"),
        other => println!("Alice did not refuse it: {other:?}"),
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let name = args
        .iter()
        .position(|a| a == "--name")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| "/shmring-rpc-demo".to_owned());
    let r = if json {
        ask_alice(&name, JsonCodec)
    } else {
        ask_alice(&name, BinaryCodec)
    };
    if let Err(e) = r {
        eprintln!("Bob gives up: {e}");
        std::process::exit(1);
    }
}
