//! The article's Alice as an RPC server: she offers `add` and `multiply` to whoever connects,
//! one Bob after another, until stopped with Ctrl-C.
//!
//! ```text
//! cargo run --example rpc_alice --features rpc                 # two rings /shmring-rpc-demo.{ab,ba}, binary codec
//! cargo run --example rpc_alice --features rpc -- --json       # JSON-RPC 2.0 codec
//! cargo run --example rpc_alice --features rpc -- --name /other
//! ```
//! Start `rpc_bob` (with the same flags) in another terminal, before or after this one.

use shmring::ring::{duplex, RingOptions, Side};
use shmring::rpc::{BinaryCodec, Codec, JsonCodec, RpcError, Server};

fn alice<C: Codec>(codec: C) -> Server<C> {
    let mut server = Server::new(codec);
    server
        .register("add", |(a, b): (i64, i64)| {
            println!("running command add with args [{a}, {b}]");
            Ok(a + b)
        })
        .register("multiply", |(a, b): (i64, i64)| {
            println!("running command multiply with args [{a}, {b}]");
            Ok(a * b)
        });
    server
}

fn serve_forever<C: Codec>(name: &str, codec: C) -> Result<(), RpcError> {
    let server = alice(codec);
    // Reclaim rings left behind by a killed run; either side may create them.
    let opts = RingOptions::new().capacity(1 << 16).reclaim_stale(true);
    loop {
        let (tx, rx) = duplex(name, Side::A, &opts)?;
        println!("Alice is waiting for Bob on {name}.ab / {name}.ba");
        server.serve(tx, rx)?;
        println!("Bob has left");
    }
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
        serve_forever(&name, JsonCodec)
    } else {
        serve_forever(&name, BinaryCodec)
    };
    if let Err(e) = r {
        eprintln!("Alice stops: {e}");
        std::process::exit(1);
    }
}
