//! Entry points for the fuzz targets in `fuzz/`, compiled only under `cfg(fuzzing)` (which
//! cargo-fuzz sets): the decoders that are private to their modules, exposed as they are,
//! so each target feeds bytes straight to the code that parses what another process sent.
//! Not part of the API.

/// The socket handshake pieces (`socket_auth`) and a connection over a socket pair
/// (`socket_frames`).
#[cfg(feature = "socket")]
pub mod socket {
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use crate::socket::{auth, Connection, SocketOptions, SocketReceiver, SocketSender, Stream};
    use crate::transport::Deadline;
    use crate::Result;

    pub use crate::socket::Digest;

    /// A connection over one end of a connected Unix socket pair, as `connect` and
    /// `accept` make it before the handshake.
    pub fn connection(stream: UnixStream, opts: &SocketOptions) -> Connection {
        Connection::from_stream(Stream::Unix(stream), opts)
    }

    fn handshake<'a>(
        tx: &'a mut SocketSender,
        rx: &'a mut SocketReceiver,
        key: &'a [u8],
        timeout: Duration,
    ) -> auth::Handshake<'a> {
        auth::Handshake {
            tx,
            rx,
            key,
            deadline: Deadline::after(timeout),
            timeout_ms: timeout.as_millis(),
        }
    }

    /// `answer_challenge`: read the peer's challenge, answer it, read its verdict.
    pub fn answer(
        tx: &mut SocketSender,
        rx: &mut SocketReceiver,
        key: &[u8],
        timeout: Duration,
    ) -> Result<()> {
        handshake(tx, rx, key, timeout).answer()
    }

    /// `deliver_challenge` with the challenge `message` (without `#CHALLENGE#`).
    pub fn deliver(
        tx: &mut SocketSender,
        rx: &mut SocketReceiver,
        key: &[u8],
        message: &[u8],
        timeout: Duration,
    ) -> Result<()> {
        handshake(tx, rx, key, timeout).deliver_message(message)
    }

    /// A fresh random challenge message for `digest`.
    pub fn new_challenge(digest: Digest) -> Result<Vec<u8>> {
        auth::new_challenge(digest)
    }

    /// CPython 3.12's `_get_digest_name_and_payload`.
    pub fn digest_name_and_payload(message: &[u8]) -> Result<(&[u8], &[u8])> {
        auth::digest_name_and_payload(message)
    }

    /// CPython 3.12's `_create_response`.
    pub fn create_response(key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
        auth::create_response(key, message)
    }

    /// CPython 3.12's `_verify_challenge`.
    pub fn verify_response(key: &[u8], message: &[u8], response: &[u8]) -> Result<()> {
        auth::verify_response(key, message, response)
    }

    /// The largest handshake frame (CPython's `recv_bytes(256)`).
    pub const MAX_HANDSHAKE_FRAME: usize = auth::MAX_HANDSHAKE_FRAME;
}

/// The command mailbox's document (`mailbox`).
#[cfg(feature = "file")]
pub mod mailbox {
    use crate::file::mailbox::Reply;
    use crate::Result;

    /// Each command's id and the answer it holds.
    pub type Answers = Vec<(String, Option<Reply>)>;

    /// Decodes the mailbox file's bytes as a reader does; returns the document as a writer
    /// writes it, and each command's id and answer.
    pub fn decode(buf: &[u8]) -> Result<(Vec<u8>, Answers)> {
        crate::file::mailbox::fuzz_decode(buf)
    }
}

/// How a stream consumer decodes the server's replies (`redis_streams`).
#[cfg(feature = "redis")]
pub mod redis {
    use crate::redis::streams;
    use crate::Result;

    pub use ::redis::{parse_redis_value, Value};

    /// An entry as read: its id and fields, or `None` if trimmed away while pending.
    pub type Entry = (String, Option<Vec<Value>>);

    /// The reply to `XREADGROUP`.
    pub fn parse_read_reply(v: Value) -> Result<Vec<Entry>> {
        streams::parse_read_reply(v)
    }

    /// The reply to `XAUTOCLAIM`: next cursor, entries, how many were deleted.
    pub fn parse_autoclaim_reply(v: Value) -> Result<(String, Vec<Entry>, u64)> {
        streams::parse_autoclaim_reply(v)
    }

    /// The `data` field of an entry's fields, as the consumer picks it.
    pub fn data_of(fields: &[Value]) -> Option<&Value> {
        streams::data_of(fields)
    }
}
