//! The authkey handshake of Python's `multiprocessing.connection`, both forms (CPython
//! 3.11: 20-byte challenge, raw HMAC-MD5; 3.12+: `{digest}` prefix), from a hostile peer.
//!
//! Input: byte 0 picks the mode, byte 1 the key length (0..=32), then the key, then:
//! - mode 0, the parsing functions: `digest_name_and_payload` must only accept what CPython
//!   accepts, and every response `create_response` makes must pass `verify_response`
//!   (round trip).
//! - mode 1, answering: the rest is what the peer sends. The answer must succeed exactly
//!   when an independent reading of the frames says so, and the digest sent must verify.
//! - mode 2, delivering: a challenge (3.11 or 3.12 form, bytes from the input), then either
//!   the right response or the input's bytes as the peer's reply. Success exactly when the
//!   reply frame verifies; the verdict sent must match.
#![no_main]

mod common;

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use ipcring::__fuzz::socket::{
    answer, connection, create_response, deliver, digest_name_and_payload, verify_response,
    MAX_HANDSHAKE_FRAME,
};
use ipcring::socket::SocketOptions;
use libfuzzer_sys::fuzz_target;

const CHALLENGE: &[u8] = b"#CHALLENGE#";
const WELCOME: &[u8] = b"#WELCOME#";
const FAILURE: &[u8] = b"#FAILURE#";
const ALLOWED: [&[u8]; 5] = [b"md5", b"sha256", b"sha384", b"sha3_256", b"sha3_384"];

/// Splits a byte stream into frames of at most `max` bytes (None: malformed or cut short).
fn frames(rest: &[u8], max: usize) -> Vec<Option<&[u8]>> {
    let (whole, end) = common::py_frames(rest, max);
    let mut out: Vec<_> = whole.into_iter().map(Some).collect();
    if end != common::End::Clean {
        out.push(None);
    }
    out
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

/// CPython 3.12's `_get_digest_name_and_payload`, written again from its source.
fn python_digest_name(m: &[u8]) -> Option<&[u8]> {
    if m.len() == 20 || m.len() == 16 {
        return Some(b"");
    }
    if m.first() == Some(&b'{') {
        let end = m.len().min(10);
        if let Some(p) = m[1..end].iter().position(|&b| b == b'}') {
            let name = &m[1..p + 1];
            if ALLOWED.contains(&name) {
                return Some(name);
            }
        }
    }
    None
}

/// Runs `f` on a connection whose peer has sent `peer_bytes` and then closed its side;
/// returns `f`'s result and every byte our side sent.
fn with_peer(
    peer_bytes: &[u8],
    f: impl FnOnce(
        &mut ipcring::socket::SocketSender,
        &mut ipcring::socket::SocketReceiver,
    ) -> ipcring::Result<()>,
) -> (ipcring::Result<()>, Vec<u8>) {
    let (ours, mut peer) = UnixStream::pair().unwrap();
    common::put(&peer, peer_bytes);
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    let (mut tx, mut rx) = connection(ours, &SocketOptions::new()).into_split();
    let r = f(&mut tx, &mut rx);
    drop((tx, rx));
    let mut sent = Vec::new();
    peer.read_to_end(&mut sent).unwrap();
    (r, sent)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 || data.len() > 4096 {
        return;
    }
    let mode = data[0] % 3;
    let klen = (data[1] as usize % 33).min(data.len() - 2);
    let key = &data[2..2 + klen];
    let rest = &data[2 + klen..];
    let timeout = Duration::from_secs(5);
    match mode {
        0 => {
            // The parser accepts exactly what CPython's does.
            let ours = digest_name_and_payload(rest).ok();
            let theirs = python_digest_name(rest);
            assert_eq!(ours.map(|(n, _)| n), theirs);
            if let Some((name, payload)) = ours {
                let skip = if name.is_empty() { 0 } else { name.len() + 2 };
                assert_eq!(payload, &rest[skip..]);
            }
            // A response we make always verifies, and is the size the digest says.
            if let Ok(resp) = create_response(key, rest) {
                verify_response(key, rest, &resp).expect("our own response must verify");
                let (name, mac) = digest_name_and_payload(&resp).unwrap();
                let size = match name {
                    b"" | b"md5" => 16,
                    b"sha256" => 32,
                    b"sha384" => 48,
                    other => panic!("digest {other:?} in a response"),
                };
                assert_eq!(mac.len(), size);
                assert!(resp.len() <= MAX_HANDSHAKE_FRAME);
            }
            // Half the rest as the message, half as a claimed response: no panic.
            let (m, r) = rest.split_at(rest.len() / 2);
            let _ = verify_response(key, m, r);
        }
        1 => {
            let (r, sent) = with_peer(rest, |tx, rx| answer(tx, rx, key, timeout));
            let f = frames(rest, MAX_HANDSHAKE_FRAME);
            let challenge = match f.first() {
                Some(Some(c)) => c.strip_prefix(CHALLENGE).filter(|m| m.len() >= 20),
                _ => None,
            };
            let response = challenge.and_then(|m| create_response(key, m).ok());
            let welcomed = matches!(f.get(1), Some(Some(v)) if *v == WELCOME);
            assert_eq!(r.is_ok(), response.is_some() && welcomed, "{r:?}");
            if let Some(resp) = response {
                // We sent exactly our response, and it verifies against the challenge.
                assert_eq!(sent, frame(&resp));
                verify_response(key, challenge.unwrap(), &resp).unwrap();
            } else {
                assert!(sent.is_empty());
            }
        }
        _ => {
            // A challenge of the 3.11 form (20 bytes) or the 3.12 form ({digest} + 40).
            let Some((&sel, rest)) = rest.split_first() else {
                return;
            };
            let mut message = match sel % 3 {
                0 => Vec::new(),
                1 => b"{sha256}".to_vec(),
                _ => b"{sha384}".to_vec(),
            };
            let n = if sel % 3 == 0 { 20 } else { 40 };
            if rest.len() < n {
                return;
            }
            message.extend_from_slice(&rest[..n]);
            let rest = &rest[n..];
            let reply = if sel & 0x80 != 0 {
                // A well-behaved peer: the right answer.
                frame(&create_response(key, &message).unwrap())
            } else {
                rest.to_vec()
            };
            let (r, sent) = with_peer(&reply, |tx, rx| deliver(tx, rx, key, &message, timeout));
            let f = frames(&reply, MAX_HANDSHAKE_FRAME);
            let verdict = match f.first() {
                Some(Some(resp)) => Some(verify_response(key, &message, resp).is_ok()),
                _ => None, // no readable reply: no verdict is sent
            };
            assert_eq!(r.is_ok(), verdict == Some(true), "{r:?}");
            if sel & 0x80 != 0 {
                assert!(r.is_ok(), "the right answer was refused: {r:?}");
            }
            let mut challenge = CHALLENGE.to_vec();
            challenge.extend_from_slice(&message);
            let mut expect = frame(&challenge);
            match verdict {
                Some(true) => expect.extend_from_slice(&frame(WELCOME)),
                Some(false) => expect.extend_from_slice(&frame(FAILURE)),
                None => {}
            }
            assert_eq!(sent, expect);
        }
    }
});
