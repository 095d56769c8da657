//! A transport for tests only: a connected `UnixStream` (cloned into a sending and a
//! receiving half) carrying frames as a 4-byte little-endian length and the payload, plus
//! the way a peer process ([`super::Peer`]) gets such a stream to the test.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use ipcring::transport::{Deadline, Receiver, Sender};
use ipcring::{Error, Result};

use super::{unique_path, Peer};

/// The largest frame either half accepts.
pub const MAX_FRAME: usize = 1 << 20;

/// The sending half.
#[derive(Debug)]
pub struct FrameTx {
    stream: UnixStream,
}

/// The receiving half; keeps bytes of a partly read frame across timeouts.
#[derive(Debug)]
pub struct FrameRx {
    stream: UnixStream,
    acc: Vec<u8>,
}

/// Splits a connected stream into the two halves.
pub fn framed(stream: UnixStream) -> (FrameTx, FrameRx) {
    let rx = stream.try_clone().expect("clone a unix stream");
    (
        FrameTx { stream },
        FrameRx {
            stream: rx,
            acc: Vec::new(),
        },
    )
}

impl FrameTx {
    fn write_frame(&mut self, msg: &[u8], timeout: Option<Duration>) -> Result<()> {
        if msg.len() > MAX_FRAME {
            return Err(Error::MessageTooLarge {
                len: msg.len(),
                max: MAX_FRAME,
            });
        }
        self.stream
            .set_write_timeout(timeout)
            .map_err(Error::from)?;
        let mut frame = Vec::with_capacity(4 + msg.len());
        frame.extend_from_slice(&(msg.len() as u32).to_le_bytes());
        frame.extend_from_slice(msg);
        // A timeout in the middle of a frame leaves the stream out of step: acceptable in a
        // test transport, whose sends never wait for long.
        self.stream.write_all(&frame).map_err(Error::from)
    }
}

impl Sender for FrameTx {
    /// With no time to wait ([`Deadline::immediate`], `try_send`) the frame is written as
    /// `send` writes it: this test transport is never full.
    fn send_deadline(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        let timeout = match deadline.remaining() {
            Some(left) if !deadline.is_immediate() => Some(left.max(Duration::from_millis(1))),
            _ => None,
        };
        self.write_frame(msg, timeout)
    }
    fn max_message(&self) -> usize {
        MAX_FRAME
    }
}

enum Mode {
    Block,
    Try,
    Until(Deadline),
}

impl FrameRx {
    fn next_frame(&mut self, buf: &mut Vec<u8>, mode: Mode) -> Result<bool> {
        buf.clear();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if self.acc.len() >= 4 {
                let len = u32::from_le_bytes(self.acc[..4].try_into().unwrap()) as usize;
                if len > MAX_FRAME {
                    return Err(Error::Framing(
                        format!("frame of {len} bytes is too large").into(),
                    ));
                }
                if self.acc.len() >= 4 + len {
                    buf.extend_from_slice(&self.acc[4..4 + len]);
                    self.acc.drain(..4 + len);
                    return Ok(true);
                }
            }
            match &mode {
                Mode::Block => {
                    self.stream.set_nonblocking(false)?;
                    self.stream.set_read_timeout(None)?;
                }
                Mode::Try => self.stream.set_nonblocking(true)?,
                Mode::Until(d) => {
                    let left = d.remaining().unwrap_or(Duration::MAX);
                    if left.is_zero() {
                        return Err(Error::Timeout);
                    }
                    self.stream.set_nonblocking(false)?;
                    self.stream.set_read_timeout(Some(left))?;
                }
            }
            match self.stream.read(&mut chunk) {
                Ok(0) if self.acc.is_empty() => return Err(Error::Disconnected),
                Ok(0) => return Err(Error::Framing("stream ends inside a frame".into())),
                Ok(n) => self.acc.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if matches!(mode, Mode::Try) {
                        return Ok(false);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Receiver for FrameRx {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        let mode = if deadline.is_forever() {
            Mode::Block
        } else if deadline.is_immediate() {
            Mode::Try
        } else {
            Mode::Until(deadline)
        };
        if self.next_frame(buf, mode)? {
            Ok(())
        } else {
            Err(Error::Timeout)
        }
    }
}

/// Binds a listener, starts peer `role` with the listener's path as its argument, and
/// accepts the connection the peer makes with [`connect_to_parent`].
pub fn spawn_connected(role: &str) -> (Peer, UnixStream) {
    let path = unique_path(role);
    let listener = UnixListener::bind(&path).expect("bind");
    listener.set_nonblocking(true).unwrap();
    let mut peer = Peer::spawn(role, &[path.to_str().unwrap()]);
    let mut stream = None;
    super::wait_until(&format!("peer {role} to connect"), || {
        match listener.accept() {
            Ok((s, _)) => {
                stream = Some(s);
                true
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => match peer.try_wait() {
                Some(st) => panic!(
                    "peer {role} exited before connecting: {st}\n{}",
                    peer.stderr_text()
                ),
                None => false,
            },
            Err(e) => panic!("accept: {e}"),
        }
    });
    let _ = std::fs::remove_file(&path);
    let stream = stream.unwrap();
    stream.set_nonblocking(false).unwrap();
    (peer, stream)
}

/// In the peer: connects to the parent's listener at `path` (its first argument).
pub fn connect_to_parent(path: &str) -> UnixStream {
    UnixStream::connect(path).expect("connect to the parent")
}

/// Connects to `path`, retrying while the peer has not bound it yet.
pub fn connect_retry(path: &Path) -> UnixStream {
    let mut stream = None;
    super::wait_until(&format!("a listener at {}", path.display()), || {
        stream = UnixStream::connect(path).ok();
        stream.is_some()
    });
    stream.unwrap()
}
