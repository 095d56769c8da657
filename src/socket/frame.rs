//! Length-prefixed frames over a stream socket, byte-compatible with Python's
//! `multiprocessing.connection.Connection.send_bytes` / `recv_bytes`.
//!
//! A frame is a 4-byte big-endian *signed* length followed by the payload. A payload longer
//! than `0x7fff_ffff` bytes is sent as `FF FF FF FF`, an 8-byte big-endian unsigned length,
//! then the payload. The receiver checks every announced length against its limit before
//! it reads a byte of payload, and never reserves memory for a length the peer chose: the
//! payload buffer grows as bytes arrive.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use super::Stream;
use crate::sys::socket::{recv_some, send_dontwait, send_nosignal, wait_ready, Ready};
use crate::transport::{done_by_deadline, Deadline, Receiver, Sender};
use crate::{Error, Result, TrySendError};

/// Payloads up to this size go out in one `send` together with their header (as Python
/// does, to avoid a Nagle delay between header and payload); larger ones in two.
const SMALL: usize = 16 * 1024;
/// The receive buffer: many small frames are parsed out of one `recv`.
const RBUF: usize = 64 * 1024;
/// A large payload is read straight into the message buffer, which grows by at most this
/// much per `recv`, so memory follows the bytes that really arrived.
const DIRECT_CHUNK: usize = 1 << 20;
/// Largest length that fits the 4-byte signed header.
const MAX_SHORT: usize = 0x7fff_ffff;

fn deadline_for(t: Option<Duration>) -> Deadline {
    t.map_or_else(Deadline::forever, Deadline::after)
}

/// Encodes the frame header for a payload of `len` bytes into `out`, returning its size.
pub(crate) fn encode_header(len: usize, out: &mut [u8; 12]) -> usize {
    if len > MAX_SHORT {
        out[..4].copy_from_slice(&(-1i32).to_be_bytes());
        out[4..12].copy_from_slice(&(len as u64).to_be_bytes());
        12
    } else {
        out[..4].copy_from_slice(&(len as i32).to_be_bytes());
        4
    }
}

/// The sending half of a socket [`Connection`](super::Connection): writes whole frames.
///
/// Obtained from [`Connection::into_split`](super::Connection::into_split), so one thread
/// can send while another receives.
///
/// ```no_run
/// use ipcring::socket::{Connection, SocketOptions};
/// use ipcring::Sender;
/// # fn main() -> ipcring::Result<()> {
/// let conn = Connection::connect("localhost:6000", &SocketOptions::new())?;
/// let (mut tx, _rx) = conn.into_split();
/// tx.send(b"hello")?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SocketSender {
    stream: Arc<Stream>,
    max_frame: usize,
    write_timeout: Option<Duration>,
    wbuf: Vec<u8>,
    /// Set when a send stopped in the middle of a frame (time out) or the peer is gone:
    /// the byte stream can no longer be framed, so every later send fails.
    broken: Option<Broken>,
}

#[derive(Debug, Clone, Copy)]
enum Broken {
    Partial,
    Gone,
}

impl SocketSender {
    pub(crate) fn new(
        stream: Arc<Stream>,
        max_frame: usize,
        write_timeout: Option<Duration>,
    ) -> SocketSender {
        SocketSender {
            stream,
            max_frame,
            write_timeout,
            wbuf: Vec::new(),
            broken: None,
        }
    }

    /// Sends one frame. With `try_only`, returns `Ok(false)` if the socket had no room for
    /// a single byte; once the first byte is written the frame is always completed (within
    /// the write timeout), because a half-written frame would desynchronise the stream.
    pub(crate) fn send_frame(
        &mut self,
        msg: &[u8],
        deadline: Deadline,
        try_only: bool,
    ) -> Result<bool> {
        match self.broken {
            Some(Broken::Partial) => {
                return Err(Error::Framing(
                    "an earlier send timed out in the middle of a frame; this connection can no longer be used".into(),
                ))
            }
            Some(Broken::Gone) => return Err(Error::Disconnected),
            None => {}
        }
        if msg.len() > self.max_frame {
            return Err(Error::MessageTooLarge {
                len: msg.len(),
                max: self.max_frame,
            });
        }
        let mut header = [0u8; 12];
        let hlen = encode_header(msg.len(), &mut header);
        let mut wbuf = std::mem::take(&mut self.wbuf);
        let r = if msg.len() <= SMALL {
            wbuf.clear();
            wbuf.extend_from_slice(&header[..hlen]);
            wbuf.extend_from_slice(msg);
            self.write_parts(&[&wbuf], deadline, try_only)
        } else {
            self.write_parts(&[&header[..hlen], msg], deadline, try_only)
        };
        self.wbuf = wbuf;
        r
    }

    fn write_parts(&mut self, parts: &[&[u8]], deadline: Deadline, try_only: bool) -> Result<bool> {
        let fd = self.stream.as_raw_fd();
        let mut started = false;
        // After the first byte of a `try_` send, finish within the write timeout.
        let mut deadline = deadline;
        for part in parts {
            let mut off = 0;
            while off < part.len() {
                let r = if deadline.is_forever() && (!try_only || started) {
                    send_nosignal(fd, &part[off..]).map(Some)
                } else {
                    send_dontwait(fd, &part[off..])
                };
                match r {
                    Ok(Some(n)) => {
                        off += n;
                        if !started && try_only {
                            deadline = deadline_for(self.write_timeout);
                        }
                        started = true;
                    }
                    Ok(None) => {
                        if try_only && !started {
                            return Ok(false);
                        }
                        if !wait_ready(fd, Ready::Write, deadline)? {
                            if started {
                                self.broken = Some(Broken::Partial);
                            }
                            return Err(Error::Timeout);
                        }
                    }
                    Err(e) => {
                        return Err(match e.raw_os_error() {
                            Some(libc::EPIPE) | Some(libc::ECONNRESET) | Some(libc::ENOTCONN) => {
                                self.broken = Some(Broken::Gone);
                                Error::Disconnected
                            }
                            _ => {
                                if started {
                                    self.broken = Some(Broken::Partial);
                                }
                                Error::io("send", e)
                            }
                        })
                    }
                }
            }
        }
        Ok(true)
    }

    /// The largest payload this sender accepts (the connection's `max_frame`).
    ///
    /// ```no_run
    /// # use ipcring::socket::{Connection, SocketOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// let (tx, _rx) = Connection::connect("localhost:6000", &SocketOptions::new())?.into_split();
    /// assert_eq!(tx.max_frame(), SocketOptions::DEFAULT_MAX_FRAME);
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }
}

/// No deadline ([`Deadline::forever`]) means the connection's write timeout, if it has
/// one. [`Deadline::immediate`] sends only if the socket takes a first byte now; a frame
/// once started is always finished (within the write timeout): a half-written frame would
/// desynchronise the stream.
impl Sender for SocketSender {
    fn send_deadline(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        let (deadline, try_only) = if deadline.is_forever() {
            (deadline_for(self.write_timeout), false)
        } else {
            (deadline, deadline.is_immediate())
        };
        done_by_deadline(self.send_frame(msg, deadline, try_only)?)
    }

    /// Not the provided form: a timeout once the frame is under way is a failure (the
    /// stream is broken), not "full".
    fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        match self.send_frame(msg, Deadline::immediate(), true) {
            Ok(true) => Ok(()),
            Ok(false) => Err(TrySendError::Full),
            Err(e) => Err(TrySendError::Failed(e)),
        }
    }

    fn max_message(&self) -> usize {
        self.max_frame
    }
}

/// The receiving half of a socket [`Connection`](super::Connection): reads whole frames.
///
/// A frame cut by a time out stays buffered and completes on the next call: nothing is lost.
///
/// ```no_run
/// use ipcring::socket::{Connection, SocketOptions};
/// use ipcring::Receiver;
/// # fn main() -> ipcring::Result<()> {
/// let (_tx, mut rx) = Connection::connect("localhost:6000", &SocketOptions::new())?.into_split();
/// let msg = rx.recv()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SocketReceiver {
    stream: Arc<Stream>,
    max_frame: usize,
    read_timeout: Option<Duration>,
    /// Bytes read but not yet parsed live in `rbuf[start..end]`.
    rbuf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The announced length of the frame being received, once its header is parsed.
    want: Option<usize>,
    /// The payload received so far of that frame (`payload.len() <= want`).
    payload: Vec<u8>,
    /// Set once the connection is closed (by the peer, or by us after a framing error).
    closed: bool,
}

impl SocketReceiver {
    pub(crate) fn new(
        stream: Arc<Stream>,
        max_frame: usize,
        read_timeout: Option<Duration>,
    ) -> SocketReceiver {
        SocketReceiver {
            stream,
            max_frame,
            read_timeout,
            rbuf: vec![0u8; RBUF].into_boxed_slice(),
            start: 0,
            end: 0,
            want: None,
            payload: Vec::new(),
            closed: false,
        }
    }

    /// The largest payload this receiver accepts (the connection's `max_frame`).
    ///
    /// ```no_run
    /// # use ipcring::socket::{Connection, SocketOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// let opts = SocketOptions::new().max_frame(1 << 20);
    /// let (_tx, rx) = Connection::connect("localhost:6000", &opts)?.into_split();
    /// assert_eq!(rx.max_frame(), 1 << 20);
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Memory held for a frame in progress (tests check it follows the bytes received).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.payload.capacity()
    }

    /// Closes the connection after a protocol error: the peer sees end of stream.
    fn fail(&mut self, e: Error) -> Error {
        self.closed = true;
        self.stream.shutdown();
        e
    }

    /// Parses a frame header out of the buffer, if it is all there.
    fn parse_header(&mut self, max: usize) -> Result<Option<usize>> {
        let avail = &self.rbuf[self.start..self.end];
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
            return Err(self.fail(Error::Framing(
                format!("negative length {short} in a frame header (only -1, the large-frame escape, is valid)").into(),
            )));
        };
        if len > max as u64 {
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            return Err(self.fail(Error::MessageTooLarge { len, max }));
        }
        self.start += used;
        Ok(Some(len as usize))
    }

    /// Receives one frame of at most `max` bytes into `out`. `Ok(false)` only with
    /// `try_only`, when no whole frame is there now; otherwise a passed deadline is
    /// `Error::Timeout`. A partial frame stays buffered either way.
    pub(crate) fn recv_frame(
        &mut self,
        out: &mut Vec<u8>,
        deadline: Deadline,
        try_only: bool,
        max: usize,
    ) -> Result<bool> {
        loop {
            if self.closed {
                return Err(Error::Disconnected);
            }
            if self.want.is_none() {
                if let Some(len) = self.parse_header(max)? {
                    self.want = Some(len);
                    self.payload.clear();
                }
            }
            let mut direct = false;
            if let Some(len) = self.want {
                let need = len - self.payload.len();
                let take = need.min(self.end - self.start);
                self.payload
                    .extend_from_slice(&self.rbuf[self.start..self.start + take]);
                self.start += take;
                if self.payload.len() == len {
                    self.want = None;
                    std::mem::swap(out, &mut self.payload);
                    self.payload.clear();
                    return Ok(true);
                }
                direct = need - take >= RBUF / 2;
            }
            // More bytes are needed.
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            } else if self.rbuf.len() - self.end < 12 {
                self.rbuf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let fd = self.stream.as_raw_fd();
            let blocking = deadline.is_forever() && !try_only;
            let r = if direct {
                let need = self.want.unwrap_or(0) - self.payload.len();
                let old = self.payload.len();
                self.payload.resize(old + need.min(DIRECT_CHUNK), 0);
                let r = recv_some(fd, &mut self.payload[old..], !blocking);
                let n = match r {
                    Ok(Some(n)) => n,
                    _ => 0,
                };
                self.payload.truncate(old + n);
                r
            } else {
                recv_some(fd, &mut self.rbuf[self.end..], !blocking).inspect(|r| {
                    if let Some(n) = r {
                        self.end += n;
                    }
                })
            };
            match r {
                Ok(Some(0)) => return Err(self.eof()),
                Ok(Some(_)) => {}
                Ok(None) => {
                    if !wait_ready(fd, Ready::Read, deadline)? {
                        return if try_only {
                            Ok(false)
                        } else {
                            Err(Error::Timeout)
                        };
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Err(self.eof()),
                Err(e) => return Err(Error::io("recv", e)),
            }
        }
    }

    /// The error for end of stream: clean between frames, a framing error inside one.
    fn eof(&mut self) -> Error {
        self.closed = true;
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

/// No deadline ([`Deadline::forever`]) means the connection's read timeout, if it has one.
/// A partial frame stays buffered whatever the outcome.
impl Receiver for SocketReceiver {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        let max = self.max_frame;
        let (deadline, try_only) = if deadline.is_forever() {
            (deadline_for(self.read_timeout), false)
        } else {
            (deadline, deadline.is_immediate())
        };
        let got = self.recv_frame(buf, deadline, try_only, max);
        if !matches!(got, Ok(true)) {
            buf.clear();
        }
        done_by_deadline(got?)
    }
}

/// Hooks for the async wrappers (`crate::aio::socket`): hand the stream and every byte
/// already read over, so an async connection continues exactly where this one stopped.
#[cfg(feature = "async")]
impl SocketSender {
    /// The stream, unless an earlier send left the byte stream unusable.
    pub(crate) fn into_async_parts(self) -> Result<Arc<Stream>> {
        match self.broken {
            Some(Broken::Partial) => Err(Error::Framing(
                "an earlier send timed out in the middle of a frame; this connection can no longer be used".into(),
            )),
            Some(Broken::Gone) => Err(Error::Disconnected),
            None => Ok(self.stream),
        }
    }
}

#[cfg(feature = "async")]
impl SocketReceiver {
    /// The stream, the bytes received but not yet delivered (a partial frame is given
    /// back re-encoded, so they read as the original byte stream), and whether the
    /// connection is closed.
    pub(crate) fn into_async_parts(self) -> (Arc<Stream>, Vec<u8>, bool) {
        let mut pending = Vec::new();
        if let Some(len) = self.want {
            let mut h = [0u8; 12];
            let n = encode_header(len, &mut h);
            pending.extend_from_slice(&h[..n]);
            pending.extend_from_slice(&self.payload);
        }
        pending.extend_from_slice(&self.rbuf[self.start..self.end]);
        (self.stream, pending, self.closed)
    }
}
