//! Multi-process tests of the socket method: this test binary re-executes itself in a peer
//! role (`peer`, through `support::Peer`).
#![cfg(feature = "socket")]

#[path = "support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ipcring::socket::{Address, Connection, Flow, Listener, SocketOptions};
use ipcring::{Error, Receiver, Sender};
use support::setup::LONG;
use support::Peer;

const KEY: &[u8] = b"Do not let eve find us!";

/// A unique address of the given kind for this test.
fn unique(kind: &str) -> String {
    match kind {
        "unix" => support::unique_path("sock").to_str().unwrap().to_owned(),
        "abstract" => format!("@{}", &support::unique("sock")[1..]),
        _ => {
            // Pick a free port by binding port 0 and releasing it.
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("127.0.0.1:{}", l.local_addr().unwrap().port())
        }
    }
}

fn opts_from_env() -> SocketOptions {
    let mut o = SocketOptions::new();
    if std::env::var("IPCRING_SOCKET_NOKEY").is_err() {
        o = o.authkey(KEY);
    }
    if let Ok(ms) = std::env::var("IPCRING_SOCKET_HANDSHAKE_MS") {
        o = o.handshake_timeout(Duration::from_millis(ms.parse().unwrap()));
    }
    o
}

/// The bytes of message `seq` of the sender role: varied sizes, content derived from seq.
fn message(seq: u32) -> Vec<u8> {
    let len = match seq % 500 {
        0 => 200_000,
        1 => 0,
        7 => 20_000,
        _ => (seq % 97) as usize + 4,
    };
    support::sized_message(seq, len, 31)
}

const SENDER_COUNT: u32 = 2000;

crate::peer_entry!(roles);

/// The peer roles. Does nothing unless run as a peer.
fn roles(role: &str, args: Vec<String>) {
    let addr = args[0].clone();
    match role {
        // Echoes every message of every client until one sends "stop".
        "echo_server" => {
            let listener = Listener::bind(addr.as_str(), &opts_from_env()).unwrap();
            println!("READY");
            let served = AtomicUsize::new(0);
            listener
                .serve(|conn| {
                    let mut conn = match conn {
                        Ok(c) => c,
                        Err(e) => {
                            println!("AUTHFAIL {e}");
                            return Ok(Flow::Continue);
                        }
                    };
                    let mut buf = Vec::new();
                    loop {
                        match conn.recv_into(&mut buf) {
                            Ok(()) if buf == b"stop" => return Ok(Flow::Stop),
                            Ok(()) => {
                                served.fetch_add(1, Ordering::Relaxed);
                                conn.send(&buf)?;
                            }
                            Err(Error::Disconnected) => return Ok(Flow::Continue),
                            Err(e) => {
                                println!("HANDLERERR {e}");
                                return Ok(Flow::Continue);
                            }
                        }
                    }
                })
                .unwrap();
            println!("SERVED {}", served.load(Ordering::Relaxed));
        }
        // Sends SENDER_COUNT messages, then waits for an acknowledgement.
        "sender" => {
            let mut c = Connection::connect(addr.as_str(), &opts_from_env()).unwrap();
            for seq in 0..SENDER_COUNT {
                c.send(&message(seq)).unwrap();
            }
            assert_eq!(c.recv().unwrap(), b"ack");
        }
        // Sends three whole frames and half of a fourth, then waits to be killed.
        "mid_frame" => {
            let mut s = UnixStream::connect(&addr).unwrap();
            for m in [&b"one"[..], b"two", b"three"] {
                s.write_all(&(m.len() as i32).to_be_bytes()).unwrap();
                s.write_all(m).unwrap();
            }
            s.write_all(&1000i32.to_be_bytes()).unwrap();
            s.write_all(&[7u8; 500]).unwrap();
            println!("SENT");
            std::thread::sleep(Duration::from_secs(60));
        }
        other => panic!("unknown role {other}"),
    }
    std::process::exit(0);
}

fn order_and_integrity(kind: &str) {
    let addr = unique(kind);
    let opts = SocketOptions::new().authkey(KEY);
    let listener = Listener::bind(addr.as_str(), &opts).unwrap();
    let mut peer = Peer::spawn_piped("sender", &[&addr]);
    let mut conn = listener.accept_timeout(LONG).unwrap();
    let mut buf = Vec::new();
    for seq in 0..SENDER_COUNT {
        conn.recv_timeout_into(&mut buf, LONG).unwrap();
        assert_eq!(buf, message(seq), "message {seq} differs");
    }
    conn.send(b"ack").unwrap();
    peer.finish_output();
    // The sender is gone after everything it sent was delivered.
    assert!(conn.recv_timeout(LONG).unwrap_err().is_disconnected());
}

#[test]
fn order_and_integrity_unix_path() {
    order_and_integrity("unix");
}

#[cfg(target_os = "linux")]
#[test]
fn order_and_integrity_abstract() {
    order_and_integrity("abstract");
}

#[test]
fn order_and_integrity_tcp() {
    order_and_integrity("tcp");
}

/// 32 concurrent clients x 1000 requests against one server process: every request gets
/// its own answer back, none lost, none mixed up.
#[test]
fn many_clients_at_once() {
    let addr = unique("unix");
    let server = echo_server(&addr, &[]);
    let opts = SocketOptions::new().authkey(KEY);
    const CLIENTS: usize = 32;
    const REQUESTS: usize = 1000;
    let barrier = std::sync::Barrier::new(CLIENTS);
    std::thread::scope(|s| {
        for id in 0..CLIENTS {
            let (addr, opts, barrier) = (&addr, &opts, &barrier);
            s.spawn(move || {
                let mut c = Connection::connect(addr.as_str(), opts).unwrap();
                // All connected before anyone sends: the server holds 32 connections at once.
                barrier.wait();
                let mut buf = Vec::new();
                for seq in 0..REQUESTS {
                    let req = format!("client {id} request {seq} {}", "x".repeat(seq % 50));
                    c.send(req.as_bytes()).unwrap();
                    c.recv_timeout_into(&mut buf, LONG).unwrap();
                    assert_eq!(buf, req.as_bytes());
                }
            });
        }
    });
    let c = Connection::connect(addr.as_str(), &opts).unwrap();
    stop_and_check(server, c, &[&format!("SERVED {}", CLIENTS * REQUESTS)]);
}

/// The `echo_server` peer at `addr`, with `env`, once it is ready.
fn echo_server(addr: &str, env: &[(&str, &str)]) -> Peer {
    let server = Peer::builder("echo_server").arg(addr).stdout_piped();
    let mut server = env.iter().fold(server, |b, (k, v)| b.env(k, v)).spawn();
    server.wait_line("READY");
    server
}

/// Stops the echo server through `client`, its last client, and checks that what the
/// server printed after READY says each of `says`.
fn stop_and_check(mut server: Peer, mut client: Connection, says: &[&str]) {
    client.send(b"stop").unwrap();
    let rest = server.finish_output();
    for s in says {
        assert!(rest.contains(s), "{s:?} not in {rest}");
    }
}

/// A client with the right key that the server at `addr` has served: one echo came back.
fn served_client(addr: &str) -> Connection {
    let mut c = Connection::connect(addr, &SocketOptions::new().authkey(KEY)).unwrap();
    c.send(b"ping").unwrap();
    assert_eq!(c.recv().unwrap(), b"ping");
    c
}

#[test]
fn wrong_key_is_refused_on_both_sides() {
    let addr = unique("tcp");
    let server = echo_server(&addr, &[]);
    let eve = SocketOptions::new().authkey(b"eve's guess");
    match Connection::connect(addr.as_str(), &eve) {
        Err(Error::Auth(m)) => assert!(m.contains("authkey"), "{m}"),
        other => panic!("expected an auth error, got {other:?}"),
    }
    // No key at all: the server's challenge is not a frame a key-less client expects,
    // and the server refuses to go on without an answer.
    let mut c = Connection::connect(addr.as_str(), &SocketOptions::new()).unwrap();
    assert!(c.send(b"hello").is_ok());
    assert!(c
        .recv_timeout(LONG)
        .is_ok_and(|m| m.starts_with(b"#CHALLENGE#")));
    drop(c);
    // The server is still serving.
    stop_and_check(server, served_client(&addr), &["AUTHFAIL", "authkey"]);
}

/// A client that connects and never answers the challenge is dropped after the handshake
/// timeout, and does not hold up anyone else meanwhile.
#[test]
fn silent_client_is_dropped_after_the_handshake_timeout() {
    let addr = unique("unix");
    let server = echo_server(&addr, &[("IPCRING_SOCKET_HANDSHAKE_MS", "300")]);
    let mut silent = UnixStream::connect(&addr).unwrap();
    silent.set_read_timeout(Some(LONG)).unwrap();
    let mut challenge = [0u8; 4 + 59];
    silent.read_exact(&mut challenge).unwrap();
    assert_eq!(&challenge[4..15], b"#CHALLENGE#");
    // While the silent one sits there, another client is served.
    let good = served_client(&addr);
    // The server closes the silent connection: we read end of stream, not our read timeout.
    let mut b = [0u8; 16];
    assert_eq!(silent.read(&mut b).unwrap(), 0);
    let says = ["AUTHFAIL", "did not answer our challenge within 300 ms"];
    stop_and_check(server, good, &says);
}

/// A peer announcing a frame of 2^40 bytes gets its connection closed; the server allocates
/// nothing for it (it would abort if it tried) and keeps serving.
#[test]
fn huge_announced_frame_is_refused() {
    let addr = unique("unix");
    let server = echo_server(&addr, &[("IPCRING_SOCKET_NOKEY", "1")]);
    let mut raw = UnixStream::connect(&addr).unwrap();
    raw.set_read_timeout(Some(LONG)).unwrap();
    let mut hdr = vec![0xFF, 0xFF, 0xFF, 0xFF];
    hdr.extend_from_slice(&(1u64 << 40).to_be_bytes());
    raw.write_all(&hdr).unwrap();
    let mut b = [0u8; 16];
    assert_eq!(
        raw.read(&mut b).unwrap(),
        0,
        "the server should close the connection"
    );
    let mut good = Connection::connect(addr.as_str(), &SocketOptions::new()).unwrap();
    good.send(b"ping").unwrap();
    assert_eq!(good.recv().unwrap(), b"ping");
    let says = "HANDLERERR message of 1099511627776 bytes exceeds the maximum";
    stop_and_check(server, good, &[says]);
}

/// A peer killed in the middle of a frame: every whole frame is delivered, then a framing
/// error says the last one was cut.
#[test]
fn peer_killed_mid_frame() {
    let addr = unique("unix");
    let listener = Listener::bind(addr.as_str(), &SocketOptions::new()).unwrap();
    let mut peer = Peer::spawn_piped("mid_frame", &[&addr]);
    let mut conn = listener.accept_timeout(LONG).unwrap();
    peer.wait_line("SENT");
    peer.kill();
    for m in [&b"one"[..], b"two", b"three"] {
        assert_eq!(conn.recv_timeout(LONG).unwrap(), m);
    }
    match conn.recv_timeout(LONG) {
        Err(Error::Framing(m)) => assert!(m.contains("500 of 1000"), "{m}"),
        other => panic!("expected a framing error, got {other:?}"),
    }
    assert!(conn.recv().unwrap_err().is_disconnected());
}

#[test]
fn connect_gives_up_when_nobody_listens() {
    let addr = unique("unix");
    let opts = SocketOptions::new().connect_timeout(Duration::from_millis(100));
    assert!(Connection::connect(addr.as_str(), &opts)
        .unwrap_err()
        .is_timeout());
    let once = SocketOptions::new().connect_timeout(Duration::ZERO);
    let r = Connection::connect(addr.as_str(), &once);
    assert!(matches!(r, Err(Error::Io { .. })), "{r:?}");
}

#[test]
fn unix_listener_replaces_a_stale_file_and_removes_its_own() {
    let addr = unique("unix");
    {
        let l = Listener::bind(addr.as_str(), &SocketOptions::new()).unwrap();
        assert_eq!(l.local_addr(), &Address::Unix(addr.clone().into()));
        // A second listener on a live socket is refused.
        let r = Listener::bind(addr.as_str(), &SocketOptions::new());
        assert!(matches!(r, Err(Error::AlreadyExists(_))), "{r:?}");
    }
    assert!(!std::path::Path::new(&addr).exists());
    // Leave a socket file behind with nobody listening, as a killed listener would.
    drop(std::os::unix::net::UnixListener::bind(&addr).unwrap());
    assert!(std::path::Path::new(&addr).exists());
    let l = Listener::bind(addr.as_str(), &SocketOptions::new()).unwrap();
    drop(l);
    assert!(!std::path::Path::new(&addr).exists());
}
