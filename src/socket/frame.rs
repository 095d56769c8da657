//! Length-prefixed frames over a stream socket, blocking: the driver of the frame format
//! in `codec.rs` (byte-compatible with Python's `multiprocessing.connection`).

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use super::codec::{self, encode_header, Inbox, MAX_HEADER};
use super::Stream;
use crate::sys::socket::{recv_some, send_dontwait, send_nosignal, wait_ready, Ready};
use crate::transport::{done_by_deadline, Deadline, Receiver, Sender};
use crate::{Error, Result, TrySendError};

/// Payloads up to this size go out in one `send` together with their header (as Python
/// does, to avoid a Nagle delay between header and payload); larger ones in two.
const SMALL: usize = 16 * 1024;

fn deadline_for(t: Option<Duration>) -> Deadline {
    t.map_or_else(Deadline::forever, Deadline::after)
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
    pub(super) stream: Arc<Stream>,
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
        self.usable()?;
        Error::check_len(msg.len(), self.max_frame)?;
        let mut header = [0u8; MAX_HEADER];
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

    /// `Ok` unless an earlier send left the byte stream unusable (the tokio driver asks too,
    /// before it takes the stream over).
    pub(super) fn usable(&self) -> Result<()> {
        match self.broken {
            Some(Broken::Partial) => Err(Error::Framing(
                "an earlier send timed out in the middle of a frame; this connection can no longer be used".into(),
            )),
            Some(Broken::Gone) => Err(Error::Disconnected),
            None => Ok(()),
        }
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
                    Err(e) if codec::peer_gone(&e) => {
                        self.broken = Some(Broken::Gone);
                        return Err(Error::Disconnected);
                    }
                    Err(e) => {
                        if started {
                            self.broken = Some(Broken::Partial);
                        }
                        return Err(Error::io("send", e));
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
    pub(super) stream: Arc<Stream>,
    max_frame: usize,
    read_timeout: Option<Duration>,
    /// Bytes received and not delivered yet, and the frame in progress.
    pub(super) inbox: Inbox,
    /// Set once the connection is closed (by the peer, or by us after a framing error).
    pub(super) closed: bool,
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
            inbox: Inbox::new(),
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

    /// Closes the connection after a protocol error: the peer sees end of stream.
    fn fail(&mut self, e: Error) -> Error {
        self.closed = true;
        self.stream.shutdown();
        e
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
            match self.inbox.take(out, max) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) => return Err(self.fail(e)),
            }
            // More bytes are needed.
            let fd = self.stream.as_raw_fd();
            let blocking = deadline.is_forever() && !try_only;
            let r = self.inbox.fill(|buf| recv_some(fd, buf, !blocking));
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
                Err(e) if codec::is_reset(&e) => return Err(self.eof()),
                Err(e) => return Err(Error::io("recv", e)),
            }
        }
    }

    /// The error for end of stream: clean between frames, a framing error inside one.
    fn eof(&mut self) -> Error {
        self.closed = true;
        self.inbox.eof()
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
