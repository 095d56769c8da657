//! RPC over sockets (Unix path, with the article's authkey) between real separate processes:
//! the test binary re-executes itself as Alice (`socket_peer_entry`), who serves every
//! connection on its own thread with `Server::serve_incoming`.
#![cfg(all(feature = "rpc", feature = "socket"))]

#[path = "common/rpc_alice.rs"]
mod rpc_alice;
#[path = "common/unix_frames.rs"]
mod unix_frames;

use std::time::{Duration, Instant};

use ipcring::rpc::{BinaryCodec, Client, Codec, JsonCodec, RpcError};
use ipcring::socket::{Connection, Listener, SocketOptions, DEFAULT_AUTHKEY};
use ipcring::Error;
use rpc_alice::alice;
use unix_frames::{unique_path, Peer, ADDR_VAR, ROLE_VAR};

const ENTRY: &str = "socket_peer_entry";
const T: Duration = Duration::from_secs(20);
/// Connections Alice accepts before she stops (the wrong-key one included).
const CONNECTIONS: usize = 4;

fn opts() -> SocketOptions {
    SocketOptions::new()
        .authkey(DEFAULT_AUTHKEY)
        .connect_timeout(T)
}

/// Alice's side: accepts `CONNECTIONS` connections, serves each on its own thread, and
/// returns once they are all done.
#[test]
fn socket_peer_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let addr = std::env::var(ADDR_VAR).unwrap();
    let listener = Listener::bind(addr.as_str(), &opts()).unwrap();
    let accepted =
        std::iter::repeat_with(|| listener.accept().map(Connection::into_split)).take(CONNECTIONS);
    match role.as_str() {
        "socket-json" => alice(JsonCodec).serve_incoming(accepted).unwrap(),
        "socket-binary" => alice(BinaryCodec).serve_incoming(accepted).unwrap(),
        other => panic!("unknown role {other}"),
    }
}

fn bob<C: Codec>(
    addr: &str,
    codec: C,
) -> Client<ipcring::socket::SocketSender, ipcring::socket::SocketReceiver, C> {
    let (tx, rx) = Connection::connect(addr, &opts()).unwrap().into_split();
    Client::new(tx, rx, codec)
}

fn many_bobs<C: Codec>(role: &str, codec: C) {
    let path = unique_path(role);
    let addr = path.to_str().unwrap().to_owned();
    let peer = Peer::spawn(ENTRY, role, &path, &[]);

    // Eve, with the wrong key, is refused; Alice goes on serving.
    let eve = Connection::connect(
        addr.as_str(),
        &SocketOptions::new().authkey(b"eve").connect_timeout(T),
    );
    assert!(matches!(eve, Err(Error::Auth(_))), "{eve:?}");

    let bobs: Vec<_> = (0..CONNECTIONS as i64 - 1)
        .map(|k| {
            let mut c = bob(&addr, codec.clone());
            std::thread::spawn(move || {
                assert_eq!(c.call::<_, i64>("add", (2, 5), T).unwrap(), 7);
                match c.call::<_, i64>("add", ("bad", "data"), T) {
                    Err(RpcError::BadArguments { method, .. }) => assert_eq!(method, "add"),
                    other => panic!("add('bad', 'data') gave {other:?}"),
                }
                match c.call::<_, ()>("boom", "kaboom", T) {
                    Err(RpcError::Internal { message, .. }) => assert!(message.contains("kaboom")),
                    other => panic!("a panicking handler gave {other:?}"),
                }
                let pending: Vec<_> = (0..50i64)
                    .map(|i| c.start_call::<_, i64>("multiply", (i, k), T).unwrap())
                    .collect();
                for (i, p) in pending.into_iter().enumerate().rev() {
                    assert_eq!(c.wait(p, T).unwrap(), i as i64 * k);
                }
                c.call::<_, u64>("incr", 1u64, T).unwrap()
            })
        })
        .collect();
    let mut counts: Vec<u64> = bobs.into_iter().map(|t| t.join().unwrap()).collect();
    counts.sort_unstable();
    // One Alice, one counter, three connections served at once.
    assert_eq!(counts, [1, 2, 3]);
    peer.finish(); // serve_incoming returned once every connection was done
}

#[test]
fn rpc_over_sockets_json_many_bobs() {
    many_bobs("socket-json", JsonCodec);
}

#[test]
fn rpc_over_sockets_binary_many_bobs() {
    many_bobs("socket-binary", BinaryCodec);
}

#[test]
fn socket_server_killed_mid_call_gives_disconnected() {
    let path = unique_path("socket-kill");
    let mut peer = Peer::spawn(ENTRY, "socket-binary", &path, &[]);
    let mut c = bob(path.to_str().unwrap(), BinaryCodec);
    let marker = unique_path("socket-marker");
    let p = c
        .start_call::<_, ()>("hang", marker.to_str().unwrap(), T)
        .unwrap();
    let deadline = Instant::now() + T;
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the handler never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = std::fs::remove_file(&marker);
    peer.child.kill().unwrap();
    let r = c.wait(p, Duration::from_secs(30));
    assert!(matches!(r, Err(RpcError::Disconnected)), "{r:?}");
}
