//! The optional auth key, checked at connect (feature `service-auth`).
//!
//! File modes decide who may open a service's segments; a key narrows that to the
//! processes that know it (say, a group-readable service of which only some members
//! should be clients). Both sides prove they know the key, as the socket's handshake
//! does, without sending it:
//!
//! ```text
//! server, at bind and after judging each connect on an entry:
//!     entry.challenge = 16 fresh random bytes (the server keeps its own copy)
//! client, having claimed the entry:
//!     channel.client_proof = HMAC-SHA256(key, "ipcring service client" | h)
//! server, on the connect:
//!     compares the client proof with its own computation (constant time): refuses with
//!     REFUSED_AUTH, or writes channel.server_proof = HMAC-SHA256(key, "... server" | h)
//!     and accepts; then renews the entry's challenge
//! client, accepted: checks the server proof (constant time)
//!
//! h = listener nonce | entry | challenge | channel nonce (little-endian)
//! ```
//!
//! The challenge is fresh for every connect, so a proof read from a channel once cannot be
//! replayed; the server verifies against the copy it keeps, never against what shared
//! memory says.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::service::layout::{CHALLENGE_LEN, PROOF_LEN};

/// A shared secret (never printed).
#[cfg(feature = "service-auth")]
#[derive(Clone)]
pub(crate) struct AuthKey(std::sync::Arc<[u8]>);

/// Without the `service-auth` feature no key can be made.
#[cfg(not(feature = "service-auth"))]
#[derive(Clone)]
pub(crate) enum AuthKey {}

#[cfg(feature = "service-auth")]
impl AuthKey {
    pub(crate) fn new(key: &[u8]) -> AuthKey {
        AuthKey(key.into())
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<auth key>")
    }
}

/// What a proof covers besides the key.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "service-auth"), allow(dead_code))]
pub(crate) struct Handshake {
    pub listener_nonce: u64,
    pub entry: u32,
    pub challenge: [u8; CHALLENGE_LEN],
    pub channel_nonce: u64,
}

/// Which side proves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Who {
    Client,
    Server,
}

/// The proof of `who` for this handshake.
pub(crate) fn proof(key: &AuthKey, who: Who, h: &Handshake) -> [u8; PROOF_LEN] {
    #[cfg(feature = "service-auth")]
    {
        use hmac::{Hmac, Mac};
        // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(&key.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        m.update(match who {
            Who::Client => b"ipcring service client",
            Who::Server => b"ipcring service server",
        });
        m.update(&h.listener_nonce.to_le_bytes());
        m.update(&h.entry.to_le_bytes());
        m.update(&h.challenge);
        m.update(&h.channel_nonce.to_le_bytes());
        m.finalize().into_bytes().into()
    }
    #[cfg(not(feature = "service-auth"))]
    {
        let _ = (who, h);
        match *key {}
    }
}

/// Constant-time equality of two proofs.
pub(crate) fn same(a: &[u8; PROOF_LEN], b: &[u8; PROOF_LEN]) -> bool {
    #[cfg(feature = "service-auth")]
    {
        use subtle::ConstantTimeEq;
        bool::from(a.ct_eq(b))
    }
    #[cfg(not(feature = "service-auth"))]
    {
        // Never reached without a key; still no early exit.
        a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
    }
}

/// Reads little-endian words from shared memory into bytes (words a peer may change at
/// any time: each read once, atomically).
pub(crate) fn load_words<const N: usize>(words: &[AtomicU64]) -> [u8; N] {
    let mut out = [0u8; N];
    for (chunk, w) in out.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
    }
    out
}

/// Writes bytes as little-endian words into shared memory.
pub(crate) fn store_words(words: &[AtomicU64], bytes: &[u8]) {
    for (chunk, w) in bytes.chunks_exact(8).zip(words) {
        let v = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        w.store(v, Ordering::Relaxed);
    }
}

/// A fresh challenge, from the OS's random source (no fallback: a guessable challenge
/// would let a proof be replayed).
pub(crate) fn new_challenge(key: &AuthKey) -> crate::Result<[u8; CHALLENGE_LEN]> {
    #[cfg(feature = "service-auth")]
    {
        let _ = key;
        let mut c = [0u8; CHALLENGE_LEN];
        getrandom::getrandom(&mut c).map_err(|e| {
            crate::Error::Auth(format!("no random bytes for the service's challenge: {e}").into())
        })?;
        Ok(c)
    }
    #[cfg(not(feature = "service-auth"))]
    match *key {}
}
