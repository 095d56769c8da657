//! In-process tests of framing and handshake against the byte vectors of
//! notes/python-multiprocessing-protocol.md (Appendix B). Multi-process tests live in
//! tests/socket.rs.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::auth::{hmac_named, CHALLENGE, FAILURE, WELCOME};
use super::*;

/// A connection over one end of a socket pair; the raw other end plays the peer.
fn pair(opts: &SocketOptions) -> (Connection, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    (Connection::from_stream(Stream::Unix(a), opts), b)
}

fn read_exact(s: &mut UnixStream, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.read_exact(&mut v).unwrap();
    v
}

/// A 3.12 answer to `message`: `{sha256}` and the HMAC.
fn sha256_answer(key: &[u8], message: &[u8]) -> Vec<u8> {
    [
        &b"{sha256}"[..],
        &hmac_named(b"sha256", key, message).unwrap(),
    ]
    .concat()
}

/// Asserts that the connection's other end is closed: `raw` reads end of stream.
fn assert_closed(raw: &mut UnixStream) {
    let mut b = [0u8; 1];
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(raw.read(&mut b).unwrap(), 0);
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

/// Our listener's side of a handshake over `a`, expecting `authkey` and delivering its
/// challenge with `digest`.
fn pending(a: UnixStream, authkey: &[u8], digest: Digest) -> Pending {
    Pending {
        conn: Connection::from_stream(Stream::Unix(a), &SocketOptions::new()),
        authkey: Some(authkey.to_vec()),
        digest,
        handshake_timeout: Duration::from_secs(10),
    }
}

/// A peer delivers the challenge `msg`: our answer must be the frame of `answer`, byte for
/// byte; the peer welcomes it.
fn peer_challenges(py: &mut UnixStream, msg: &[u8], answer: &[u8]) {
    py.write_all(&frame(&[CHALLENGE, msg].concat())).unwrap();
    assert_eq!(read_exact(py, 4 + answer.len()), frame(answer));
    py.write_all(&frame(WELCOME)).unwrap();
}

/// A CPython 3.12 peer delivers its challenge `{sha256}` + `r40`: our answer must be
/// byte-exact (00 00 00 28 "{sha256}" HMAC_SHA256(K, "{sha256}" R40)); it welcomes it.
fn py312_challenges(py: &mut UnixStream, key: &[u8], r40: &[u8]) {
    let msg: Vec<u8> = [&b"{sha256}"[..], r40].concat();
    peer_challenges(py, &msg, &sha256_answer(key, &msg));
}

/// Our challenge (00 00 00 3B "#CHALLENGE#" "{sha256}" R40) reaches the peer, which sends
/// `answer(message)` back and gets `verdict`.
fn peer_answers(py: &mut UnixStream, answer: impl Fn(&[u8]) -> Vec<u8>, verdict: &[u8]) {
    let ch = read_exact(py, 4 + 59);
    assert_eq!(&ch[..4], &[0, 0, 0, 0x3B]);
    assert_eq!(ch[4..23], [CHALLENGE, b"{sha256}"].concat());
    py.write_all(&frame(&answer(&ch[15..]))).unwrap();
    assert_eq!(read_exact(py, 4 + verdict.len()), frame(verdict));
}

/// A CPython 3.12 peer answers our challenge and is welcomed.
fn py312_answers(py: &mut UnixStream, key: &[u8]) {
    peer_answers(py, |m| sha256_answer(key, m), WELCOME);
}

#[test]
fn send_bytes_vectors() {
    let (mut c, mut raw) = pair(&SocketOptions::new());
    c.send(b"").unwrap();
    assert_eq!(read_exact(&mut raw, 4), [0, 0, 0, 0]);
    c.send(b"hello").unwrap();
    assert_eq!(
        read_exact(&mut raw, 9),
        [0, 0, 0, 5, 0x68, 0x65, 0x6c, 0x6c, 0x6f]
    );
    // A large (> 16 KiB) payload goes out as header + payload too.
    let big: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    c.send(&big).unwrap();
    let got = read_exact(&mut raw, 4 + big.len());
    assert_eq!(&got[..4], &(big.len() as i32).to_be_bytes());
    assert_eq!(&got[4..], &big[..]);
}

#[test]
fn large_length_escape_is_read() {
    let (mut c, mut raw) = pair(&SocketOptions::new());
    raw.write_all(&[
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c',
    ])
    .unwrap();
    assert_eq!(c.recv().unwrap(), b"abc");
}

#[test]
fn header_encoding_uses_the_escape_above_2gib() {
    let mut h = [0u8; 12];
    assert_eq!(codec::encode_header(0x7fff_ffff, &mut h), 4);
    assert_eq!(&h[..4], &[0x7f, 0xff, 0xff, 0xff]);
    assert_eq!(codec::encode_header(0x8000_0000, &mut h), 12);
    assert_eq!(h, [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0]);
}

#[test]
fn negative_length_is_refused_and_closes() {
    let (mut c, mut raw) = pair(&SocketOptions::new());
    raw.write_all(&[0xFF, 0xFF, 0xFF, 0xFE]).unwrap();
    assert!(matches!(c.recv(), Err(Error::Framing(_))));
    assert_closed(&mut raw);
    assert!(c.recv().unwrap_err().is_disconnected());
}

#[test]
fn huge_announced_frame_is_refused_from_its_header() {
    // 2^62 bytes announced with the escape: allocating it would abort the process.
    let (mut c, mut raw) = pair(&SocketOptions::new().max_frame(usize::MAX / 2));
    let mut hdr = vec![0xFF, 0xFF, 0xFF, 0xFF];
    hdr.extend_from_slice(&(1u64 << 62).to_be_bytes());
    raw.write_all(&hdr).unwrap();
    raw.write_all(&[0u8; 1000]).unwrap();
    // It is within this (absurd) limit, so the receiver waits for the bytes, holding only
    // what arrived.
    let e = c.recv_timeout(Duration::from_millis(50)).unwrap_err();
    assert!(e.is_timeout(), "{e}");
    let held = c.rx.inbox.buffered();
    assert!(held <= 4 << 20, "{held} bytes held");

    // With the default limit it is refused at once.
    let (mut c, mut raw) = pair(&SocketOptions::new());
    raw.write_all(&hdr).unwrap();
    match c.recv() {
        Err(Error::MessageTooLarge { len, max }) => {
            assert_eq!(len as u64, 1u64 << 62);
            assert_eq!(max, SocketOptions::DEFAULT_MAX_FRAME);
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    assert_closed(&mut raw);
}

#[test]
fn partial_frame_survives_a_timeout() {
    let (mut c, mut raw) = pair(&SocketOptions::new());
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
    let f = frame(&payload);
    raw.write_all(&f[..3]).unwrap();
    let short = Duration::from_millis(20);
    assert!(c.recv_timeout(short).unwrap_err().is_timeout());
    assert!(c.try_recv_into(&mut Vec::new()).unwrap_err().is_empty());
    raw.write_all(&f[3..100_000]).unwrap();
    assert!(c.recv_timeout(short).unwrap_err().is_timeout());
    raw.write_all(&f[100_000..]).unwrap();
    raw.write_all(&frame(b"next")).unwrap();
    assert_eq!(c.recv().unwrap(), payload);
    let mut buf = Vec::new();
    c.try_recv_into(&mut buf).unwrap();
    assert_eq!(buf, b"next");
}

#[test]
fn eof_mid_frame_is_a_framing_error_after_whole_frames() {
    let (mut c, mut raw) = pair(&SocketOptions::new());
    raw.write_all(&frame(b"one")).unwrap();
    raw.write_all(&frame(b"two")).unwrap();
    raw.write_all(&frame(&[9u8; 100])[..50]).unwrap();
    drop(raw);
    assert_eq!(c.recv().unwrap(), b"one");
    assert_eq!(c.recv().unwrap(), b"two");
    match c.recv() {
        Err(Error::Framing(m)) => assert!(m.contains("46 of 100"), "{m}"),
        other => panic!("expected a framing error, got {other:?}"),
    }
    // A clean close between frames is Disconnected.
    let (mut c, mut raw) = pair(&SocketOptions::new());
    raw.write_all(&frame(b"last")).unwrap();
    drop(raw);
    assert_eq!(c.recv().unwrap(), b"last");
    assert!(c.recv().unwrap_err().is_disconnected());
    assert!(c.send(b"x").unwrap_err().is_disconnected());
}

#[test]
fn oversized_send_is_refused_before_writing() {
    let (mut c, mut raw) = pair(&SocketOptions::new().max_frame(8));
    assert!(matches!(
        c.send(&[0u8; 9]),
        Err(Error::MessageTooLarge { len: 9, max: 8 })
    ));
    c.send(b"12345678").unwrap();
    assert_eq!(read_exact(&mut raw, 12), frame(b"12345678"));
}

#[test]
fn try_send_reports_a_full_socket() {
    let (mut c, _raw) = pair(&SocketOptions::new());
    let chunk = vec![0u8; 4096];
    let mut sent = 0;
    while c
        .try_send(&chunk)
        .map_err(|e| assert!(e.is_full(), "{e}"))
        .is_ok()
    {
        sent += 1;
        assert!(sent < 100_000, "the socket buffer never filled");
    }
    let r = c.send_timeout(&chunk, Duration::from_millis(10));
    assert!(r.unwrap_err().is_timeout());
}

/// Plays a CPython 3.12 `Listener` byte by byte against our client side, with a fixed
/// challenge: checks every byte we send.
#[test]
fn client_handshake_against_a_scripted_312_listener() {
    let key = b"Do not let eve find us!";
    let (a, mut py) = UnixStream::pair().unwrap();
    let opts = SocketOptions::new().authkey(key);
    let t = std::thread::spawn(move || {
        let mut c = Connection::from_stream(Stream::Unix(a), &opts);
        let mut h = c.handshake(key, Duration::from_secs(10));
        h.answer()?;
        h.deliver(Digest::Sha256)?;
        c.recv()
    });
    // S->C: 00 00 00 3B "#CHALLENGE#" "{sha256}" R40
    let r40: Vec<u8> = (100u8..140).collect();
    let f = [0, 0, 0, 0x3B];
    assert_eq!(frame(&[CHALLENGE, b"{sha256}", &r40].concat())[..4], f);
    py312_challenges(&mut py, key, &r40);
    // Then the client delivers its own 3.12 challenge.
    py312_answers(&mut py, key);
    py.write_all(&frame(b"hello")).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), b"hello");
}

/// Plays a CPython 3.11 client (legacy MD5 answers, 20-byte challenge) against our
/// listener side.
#[test]
fn listener_handshake_against_a_scripted_311_client() {
    let key = b"secret";
    let (a, mut py) = UnixStream::pair().unwrap();
    let t = std::thread::spawn(move || pending(a, key, Digest::Sha256).authenticate().map(|_| ()));
    // Our challenge: 59 bytes; a 3.11 client MD5s the whole 48-byte remainder.
    peer_answers(&mut py, |m| hmac_named(b"md5", key, m).unwrap(), WELCOME);
    // The 3.11 client delivers a 20-byte challenge; we answer with a raw 16-byte MD5.
    let r20 = [7u8; 20];
    peer_challenges(&mut py, &r20, &hmac_named(b"md5", key, &r20).unwrap());
    t.join().unwrap().unwrap();
}

#[test]
fn wrong_key_gets_failure_and_an_auth_error() {
    let (a, mut py) = UnixStream::pair().unwrap();
    let t = std::thread::spawn(move || {
        pending(a, b"right", Digest::Sha256)
            .authenticate()
            .map(|_| ())
    });
    peer_answers(&mut py, |m| sha256_answer(b"wrong", m), FAILURE);
    assert!(matches!(t.join().unwrap(), Err(Error::Auth(_))));
}

#[test]
fn handshake_frames_are_capped_at_256_bytes() {
    let (a, mut py) = UnixStream::pair().unwrap();
    let t = std::thread::spawn(move || {
        let mut c = Connection::from_stream(Stream::Unix(a), &SocketOptions::new());
        let mut h = c.handshake(b"k", Duration::from_secs(10));
        h.answer()
    });
    py.write_all(&(300i32).to_be_bytes()).unwrap();
    match t.join().unwrap() {
        Err(Error::Auth(m)) => assert!(m.contains("256"), "{m}"),
        other => panic!("expected an auth error, got {other:?}"),
    }
}

#[test]
fn address_parsing() {
    assert_eq!(
        Address::parse("unix:rel.sock").unwrap(),
        Address::Unix("rel.sock".into())
    );
    assert_eq!(
        Address::parse("app.sock").unwrap(),
        Address::Unix("app.sock".into())
    );
    assert_eq!(
        Address::parse("[::1]:80").unwrap(),
        Address::Tcp("[::1]:80".into())
    );
    assert!(Address::parse("tcp:nohost").is_err());
    assert!(Address::parse("@").is_err());
    assert_eq!(Address::parse("@x").unwrap().to_string(), "@x");
}

/// Our listener and our client agree with every digest we can deliver.
#[test]
fn rust_to_rust_handshake_with_every_digest() {
    for digest in [Digest::Sha256, Digest::Sha384, Digest::LegacyMd5] {
        let (a, b) = UnixStream::pair().unwrap();
        let key = b"k3y";
        let server = std::thread::spawn(move || {
            let mut c = pending(a, key, digest).authenticate()?;
            c.send(b"welcome")
        });
        let mut c = Connection::from_stream(Stream::Unix(b), &SocketOptions::new());
        {
            let mut h = c.handshake(key, Duration::from_secs(10));
            h.answer().unwrap();
            h.deliver(digest).unwrap();
        }
        assert_eq!(c.recv().unwrap(), b"welcome", "{digest:?}");
        server.join().unwrap().unwrap();
    }
}

/// Plays a CPython 3.12 `Client` byte by byte against our listener side.
#[test]
fn listener_handshake_against_a_scripted_312_client() {
    let key = b"Do not let eve find us!";
    let (a, mut py) = UnixStream::pair().unwrap();
    let t = std::thread::spawn(move || pending(a, key, Digest::Sha256).authenticate()?.recv());
    // Our challenge: 00 00 00 3B "#CHALLENGE#" "{sha256}" R40.
    py312_answers(&mut py, key);
    // The client's challenge, with a fixed R40; our answer must be byte-exact.
    py312_challenges(&mut py, key, &(0u8..40).collect::<Vec<u8>>());
    py.write_all(&frame(b"data")).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), b"data");
}
