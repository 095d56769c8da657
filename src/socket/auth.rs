//! The authkey handshake of Python's `multiprocessing.connection`, both generations:
//! CPython 3.11's HMAC-MD5 challenge and 3.12's negotiated `{digest}` form.
//!
//! Authentication is mutual. The listener *delivers* a challenge and then *answers* the
//! client's; the client answers first and then delivers. Each leg is three frames:
//!
//! ```text
//! deliverer -> answerer   "#CHALLENGE#" + message        message = "{sha256}" + 40 random bytes
//!                                                          (legacy: 20 random bytes)
//! answerer  -> deliverer  response                       "{sha256}" + HMAC-SHA256(key, message)
//!                                                          (legacy: raw 16-byte HMAC-MD5)
//! deliverer -> answerer   "#WELCOME#" or "#FAILURE#"
//! ```
//!
//! The MAC always covers the whole message, `{digest}` prefix included, so a peer cannot
//! strip the prefix to force a weaker digest. Every handshake frame is capped at 256 bytes,
//! as in CPython, and digests are compared in constant time.

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

use super::frame::{SocketReceiver, SocketSender};
use super::Digest;
use crate::transport::Deadline;
use crate::{Error, Result};

pub(crate) const CHALLENGE: &[u8] = b"#CHALLENGE#";
pub(crate) const WELCOME: &[u8] = b"#WELCOME#";
pub(crate) const FAILURE: &[u8] = b"#FAILURE#";
/// CPython caps every handshake read with `recv_bytes(256)`.
pub const MAX_HANDSHAKE_FRAME: usize = 256;
/// Random bytes in a 3.12-style challenge (`MESSAGE_LENGTH`).
const MESSAGE_LENGTH: usize = 40;
/// Random bytes in a 3.11-style challenge (`_MD5ONLY_MESSAGE_LENGTH`).
const MD5_ONLY_MESSAGE_LENGTH: usize = 20;
const MD5_DIGEST_LEN: usize = 16;
/// `len(b"sha3_256")`: the longest allowed digest name.
const MAX_DIGEST_LEN: usize = 8;
/// The digests CPython 3.12 accepts (`_ALLOWED_DIGESTS`).
const ALLOWED_DIGESTS: [&[u8]; 5] = [b"md5", b"sha256", b"sha384", b"sha3_256", b"sha3_384"];

/// An [`Error::Auth`] with `reason`.
fn auth(reason: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::Auth(reason.into())
}

/// HMAC of `data` under `key` with the digest named `name` (Python's `hashlib` names).
pub(crate) fn hmac_named(name: &[u8], key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        // `new_from_slice` accepts keys of any length for HMAC: the error arm cannot happen,
        // but is mapped rather than unwrapped.
        let mut m =
            <M as Mac>::new_from_slice(key).map_err(|_| auth("the HMAC refused the key"))?;
        m.update(data);
        Ok(m.finalize().into_bytes().to_vec())
    }
    match name {
        b"md5" => mac::<Hmac<md5::Md5>>(key, data),
        b"sha256" => mac::<Hmac<sha2::Sha256>>(key, data),
        b"sha384" => mac::<Hmac<sha2::Sha384>>(key, data),
        other => Err(auth(format!(
            "the peer chose the digest {:?}, which Python allows but ipcring does not implement (md5, sha256, sha384 are)",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// CPython 3.12's `_get_digest_name_and_payload`: a 20- or 16-byte message is legacy
/// (digest name empty, meaning MD5); otherwise it must start with `{name}` where `name` is
/// in the allowlist.
pub fn digest_name_and_payload(message: &[u8]) -> Result<(&[u8], &[u8])> {
    if message.len() == MD5_ONLY_MESSAGE_LENGTH || message.len() == MD5_DIGEST_LEN {
        return Ok((b"", message));
    }
    if message.first() == Some(&b'{') {
        let end = message.len().min(MAX_DIGEST_LEN + 2);
        if let Some(curly) = message[1..end]
            .iter()
            .position(|&b| b == b'}')
            .map(|p| p + 1)
        {
            let name = &message[1..curly];
            if ALLOWED_DIGESTS.contains(&name) {
                return Ok((name, &message[curly + 1..]));
            }
        }
    }
    Err(auth(format!(
        "unsupported message length ({} bytes), missing digest prefix, or unsupported digest",
        message.len()
    )))
}

/// CPython 3.12's `_create_response`: the answer to a challenge message (prefix removed).
pub fn create_response(key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let (name, _) = digest_name_and_payload(message)?;
    if name.is_empty() {
        return hmac_named(b"md5", key, message);
    }
    let mut out = Vec::with_capacity(2 + name.len() + 48);
    out.push(b'{');
    out.extend_from_slice(name);
    out.push(b'}');
    out.extend_from_slice(&hmac_named(name, key, message)?);
    Ok(out)
}

/// CPython 3.12's `_verify_challenge`, with a constant-time comparison.
pub fn verify_response(key: &[u8], message: &[u8], response: &[u8]) -> Result<()> {
    let (name, mac) = digest_name_and_payload(response)?;
    let name: &[u8] = if name.is_empty() { b"md5" } else { name };
    let expected = hmac_named(name, key, message)?;
    if expected.len() != mac.len() {
        return Err(auth(format!(
            "the peer's {}-byte digest has the wrong length",
            mac.len()
        )));
    }
    if bool::from(expected.as_slice().ct_eq(mac)) {
        Ok(())
    } else {
        Err(auth(
            "the peer's digest is wrong: the two sides do not share the same authkey",
        ))
    }
}

/// A fresh challenge message for `digest` (without the `#CHALLENGE#` prefix).
pub fn new_challenge(digest: Digest) -> Result<Vec<u8>> {
    let (prefix, n): (&[u8], usize) = match digest {
        Digest::LegacyMd5 => (b"", MD5_ONLY_MESSAGE_LENGTH),
        Digest::Sha256 => (b"{sha256}", MESSAGE_LENGTH),
        Digest::Sha384 => (b"{sha384}", MESSAGE_LENGTH),
    };
    let mut m = vec![0u8; prefix.len() + n];
    m[..prefix.len()].copy_from_slice(prefix);
    getrandom::getrandom(&mut m[prefix.len()..])
        .map_err(|e| auth(format!("no random bytes for the challenge: {e}")))?;
    Ok(m)
}

/// Maps a transport error met during the handshake to a clear authentication error.
fn handshake_err(e: Error, step: &str, timeout_ms: u128) -> Error {
    match e {
        Error::Timeout => auth(format!("the peer did not {step} within {timeout_ms} ms")),
        Error::Disconnected => auth(format!("the peer closed the connection instead of {step} (a different authkey, or no authkey?)")),
        Error::MessageTooLarge { len, .. } => auth(format!("handshake message of {len} bytes exceeds the limit of {MAX_HANDSHAKE_FRAME} (is the peer using an authkey?)")),
        Error::Framing(m) => auth(format!("malformed handshake frame: {m}")),
        other => other,
    }
}

/// One side of the connection during the handshake.
pub(crate) struct Handshake<'a> {
    pub(crate) tx: &'a mut SocketSender,
    pub(crate) rx: &'a mut SocketReceiver,
    pub(crate) key: &'a [u8],
    pub(crate) deadline: Deadline,
    pub(crate) timeout_ms: u128,
}

impl Handshake<'_> {
    fn send(&mut self, msg: &[u8], step: &str) -> Result<()> {
        self.tx
            .send_frame(msg, self.deadline, false)
            .map(|_| ())
            .map_err(|e| handshake_err(e, step, self.timeout_ms))
    }

    fn recv(&mut self, step: &str) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.rx
            .recv_frame(&mut buf, self.deadline, false, MAX_HANDSHAKE_FRAME)
            .map_err(|e| handshake_err(e, step, self.timeout_ms))?;
        Ok(buf)
    }

    /// `deliver_challenge`: send a challenge, check the answer, send the verdict.
    pub(crate) fn deliver(&mut self, digest: Digest) -> Result<()> {
        let message = new_challenge(digest)?;
        self.deliver_message(&message)
    }

    /// `deliver_challenge` with a given challenge `message` (the fuzz targets choose it).
    pub(crate) fn deliver_message(&mut self, message: &[u8]) -> Result<()> {
        let mut frame = Vec::with_capacity(CHALLENGE.len() + message.len());
        frame.extend_from_slice(CHALLENGE);
        frame.extend_from_slice(message);
        self.send(&frame, "read our challenge")?;
        let response = self.recv("answer our challenge")?;
        match verify_response(self.key, message, &response) {
            Ok(()) => self.send(WELCOME, "read our verdict"),
            Err(e) => {
                // Tell the peer, as Python does; it may already be gone.
                let _ = self.tx.send_frame(FAILURE, self.deadline, false);
                Err(e)
            }
        }
    }

    /// `answer_challenge`: answer the peer's challenge and read its verdict.
    pub(crate) fn answer(&mut self) -> Result<()> {
        let frame = self.recv("send its challenge")?;
        let Some(message) = frame.strip_prefix(CHALLENGE) else {
            return Err(auth(
                "protocol error: expected a #CHALLENGE# message (is the peer using an authkey?)",
            ));
        };
        if message.len() < MD5_ONLY_MESSAGE_LENGTH {
            return Err(auth(format!(
                "challenge too short: {} bytes",
                message.len()
            )));
        }
        let response = create_response(self.key, message)?;
        self.send(&response, "read our answer")?;
        match self.recv("send its verdict")?.as_slice() {
            WELCOME => Ok(()),
            FAILURE => Err(auth(
                "the peer rejected our digest: the two sides do not share the same authkey",
            )),
            _ => Err(auth("protocol error: expected #WELCOME# or #FAILURE#")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_vectors() {
        // RFC 2104 / RFC 4231 test case 2 (key "Jefe").
        let data = b"what do ya want for nothing?";
        assert_eq!(
            hex(&hmac_named(b"md5", b"Jefe", data).unwrap()),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert_eq!(
            hex(&hmac_named(b"sha256", b"Jefe", data).unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn digest_name_parsing_follows_cpython() {
        assert_eq!(digest_name_and_payload(&[7u8; 20]).unwrap().0, b"");
        assert_eq!(digest_name_and_payload(&[7u8; 16]).unwrap().0, b"");
        let (n, p) =
            digest_name_and_payload(b"{sha256}0123456789012345678901234567890123456789").unwrap();
        assert_eq!((n, p.len()), (&b"sha256"[..], 40));
        let (n, _) = digest_name_and_payload(b"{sha3_384}xxxxxxxxxxxxxxxxxxxxxx").unwrap();
        assert_eq!(n, b"sha3_384");
        assert!(digest_name_and_payload(b"{sha1}0123456789012345678901").is_err());
        assert!(digest_name_and_payload(b"{blake2b512}012345678901234567").is_err());
        assert!(digest_name_and_payload(&[0u8; 21]).is_err());
        assert!(digest_name_and_payload(b"").is_err());
    }

    #[test]
    fn response_covers_the_prefix() {
        let key = b"Do not let eve find us!";
        let msg: Vec<u8> = b"{sha256}".iter().copied().chain(0u8..40).collect();
        let r = create_response(key, &msg).unwrap();
        assert_eq!(r.len(), 40);
        assert_eq!(&r[..8], b"{sha256}");
        assert_eq!(
            &r[8..],
            hmac_named(b"sha256", key, &msg).unwrap().as_slice()
        );
        verify_response(key, &msg, &r).unwrap();
        // A legacy client's raw MD5 over the whole prefixed message is accepted (as CPython does).
        verify_response(key, &msg, &hmac_named(b"md5", key, &msg).unwrap()).unwrap();
        // A wrong key is refused.
        let got = verify_response(b"eve", &msg, &r);
        assert!(matches!(got, Err(Error::Auth(_))), "{got:?}");
        // A legacy 20-byte challenge gets a raw 16-byte MD5.
        let legacy = [3u8; 20];
        assert_eq!(
            create_response(key, &legacy).unwrap(),
            hmac_named(b"md5", key, &legacy).unwrap()
        );
    }
}
