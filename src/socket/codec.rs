//! The socket's frame format, without I/O, for both drivers (the blocking one in
//! `frame.rs`, the tokio one in `tokio.rs`): byte-compatible with Python's
//! `multiprocessing.connection.Connection.send_bytes` / `recv_bytes`.
//!
//! A frame is a 4-byte big-endian *signed* length followed by the payload. A payload longer
//! than `0x7fff_ffff` bytes is sent as `FF FF FF FF`, an 8-byte big-endian unsigned length,
//! then the payload. The receiver ([`Inbox`]) checks every announced length against its
//! limit before it takes a byte of payload, and never reserves memory for a length the peer
//! chose: the payload buffer grows as bytes arrive.

use std::io;

use crate::{Error, Result};

/// Largest length that fits the 4-byte signed header.
const MAX_SHORT: usize = 0x7fff_ffff;
/// The longest header: the escape `-1`, then an 8-byte length.
pub(super) const MAX_HEADER: usize = 12;
/// The receive buffer: many small frames are parsed out of one read.
const RBUF: usize = 64 * 1024;
/// A large payload is read straight into the message buffer, which grows by at most this
/// much per read, so memory follows the bytes that really arrived.
const DIRECT_CHUNK: usize = 1 << 20;

/// Encodes the frame header for a payload of `len` bytes into `out`, returning its size.
pub(crate) fn encode_header(len: usize, out: &mut [u8; MAX_HEADER]) -> usize {
    if len > MAX_SHORT {
        out[..4].copy_from_slice(&(-1i32).to_be_bytes());
        out[4..12].copy_from_slice(&(len as u64).to_be_bytes());
        12
    } else {
        out[..4].copy_from_slice(&(len as i32).to_be_bytes());
        4
    }
}

/// Whether a send failed because the peer is gone (then the connection is done with).
pub(super) fn peer_gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPIPE) | Some(libc::ECONNRESET) | Some(libc::ENOTCONN)
    )
}

/// Whether a receive failed because the peer reset the connection: read as end of stream.
pub(super) fn is_reset(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ECONNRESET)
}

/// Decodes the header at the start of `avail`: `Ok(None)` while it is incomplete, else the
/// payload's length (at most `max`) and the header's size.
fn decode_header(avail: &[u8], max: usize) -> Result<Option<(usize, usize)>> {
    if avail.len() < 4 {
        return Ok(None);
    }
    let short = i32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]);
    let (len, used) = if short >= 0 {
        (short as u64, 4)
    } else if short == -1 {
        if avail.len() < 12 {
            return Ok(None);
        }
        let mut l = [0u8; 8];
        l.copy_from_slice(&avail[4..12]);
        (u64::from_be_bytes(l), 12)
    } else {
        return Err(Error::Framing(
            format!("negative length {short} in a frame header (only -1, the large-frame escape, is valid)").into(),
        ));
    };
    if len > max as u64 {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        return Err(Error::MessageTooLarge { len, max });
    }
    Ok(Some((len as usize, used)))
}

/// The receiving side's bytes: those received but not parsed yet, and the frame in progress.
/// A driver reads into it ([`fill`](Inbox::fill)) and takes whole frames out of it
/// ([`take`](Inbox::take)); a blocking receiver made async hands its inbox over as it is.
#[derive(Debug)]
pub(super) struct Inbox {
    /// Bytes read but not yet parsed live in `rbuf[start..end]`.
    rbuf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The announced length of the frame being received, once its header is parsed.
    want: Option<usize>,
    /// The payload received so far of that frame (`payload.len() <= want`).
    payload: Vec<u8>,
}

impl Inbox {
    pub(super) fn new() -> Inbox {
        Inbox {
            rbuf: vec![0u8; RBUF].into_boxed_slice(),
            start: 0,
            end: 0,
            want: None,
            payload: Vec::new(),
        }
    }

    /// Memory held for a frame in progress (tests check it follows the bytes received).
    #[cfg(test)]
    pub(super) fn buffered(&self) -> usize {
        self.payload.capacity()
    }

    /// Takes the next frame, of at most `max` bytes, into `out` if it has all arrived.
    /// `Ok(false)`: not yet (a partial frame stays here). An error (a bad header, or a
    /// frame over `max`) leaves the byte stream out of step: the caller closes.
    pub(super) fn take(&mut self, out: &mut Vec<u8>, max: usize) -> Result<bool> {
        if self.want.is_none() {
            if let Some((len, used)) = decode_header(&self.rbuf[self.start..self.end], max)? {
                self.start += used;
                self.want = Some(len);
                self.payload.clear();
            }
        }
        let Some(len) = self.want else {
            return Ok(false);
        };
        // A frame whose header an earlier owner with a larger limit parsed.
        Error::check_len(len, max)?;
        let take = (len - self.payload.len()).min(self.end - self.start);
        self.payload
            .extend_from_slice(&self.rbuf[self.start..self.start + take]);
        self.start += take;
        if self.payload.len() < len {
            return Ok(false);
        }
        self.want = None;
        std::mem::swap(out, &mut self.payload);
        self.payload.clear();
        Ok(true)
    }

    /// Reads more bytes with `read` (the driver's I/O: a non-blocking or a blocking
    /// `recv` into the slice it is given), keeping those it reports. The rest of a large
    /// frame goes straight into its payload (growing by at most 1 MiB a read); anything
    /// else into the receive buffer, compacted first. Returns what `read` returned.
    pub(super) fn fill(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> io::Result<Option<usize>>,
    ) -> io::Result<Option<usize>> {
        // After a `take` that found no whole frame, every buffered byte is in the payload.
        let rest = self.want.map_or(0, |len| len - self.payload.len());
        if rest >= RBUF / 2 && self.start == self.end {
            let old = self.payload.len();
            self.payload.resize(old + rest.min(DIRECT_CHUNK), 0);
            let r = read(&mut self.payload[old..]);
            let n = match r {
                Ok(Some(n)) => n,
                _ => 0,
            };
            self.payload.truncate(old + n);
            return r;
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.rbuf.len() - self.end < MAX_HEADER {
            self.rbuf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let r = read(&mut self.rbuf[self.end..]);
        if let Ok(Some(n)) = r {
            self.end += n;
        }
        r
    }

    /// The error for end of stream: clean between frames, a framing error inside one.
    pub(super) fn eof(&self) -> Error {
        if let Some(len) = self.want {
            Error::Framing(
                format!(
                    "the peer closed the connection in the middle of a frame ({} of {len} payload bytes received)",
                    self.payload.len()
                )
                .into(),
            )
        } else if self.end > self.start {
            Error::Framing(
                format!(
                    "the peer closed the connection in the middle of a frame header ({} bytes)",
                    self.end - self.start
                )
                .into(),
            )
        } else {
            Error::Disconnected
        }
    }
}
