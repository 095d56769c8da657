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

    pub use crate::socket::auth::{
        create_response, digest_name_and_payload, new_challenge, verify_response,
        MAX_HANDSHAKE_FRAME,
    };
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
    pub use ::redis::{parse_redis_value, Value};

    /// An entry as read: its id and fields, or `None` if trimmed away while pending.
    pub type Entry = (String, Option<Vec<Value>>);

    pub use crate::redis::streams::{data_of, parse_autoclaim_reply, parse_read_reply};
}
