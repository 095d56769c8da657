//! A transport for tests only: a connected `UnixStream` (cloned into a sending and a
//! receiving half) carrying frames as a 4-byte little-endian length and the payload, plus the
//! helpers to run a peer in a real separate process (the test binary re-executed).
//!
//! Include it with `#[path = "common/unix_frames.rs"] mod unix_frames;`.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ipcring::transport::{Deadline, Receiver, Sender};
use ipcring::{Error, Result};

/// The largest frame either half accepts.
pub const MAX_FRAME: usize = 1 << 20;

/// Env var naming the role a re-executed test binary plays.
pub const ROLE_VAR: &str = "IPCRING_TEST_ROLE";
/// Env var carrying the socket path to the re-executed peer.
pub const ADDR_VAR: &str = "IPCRING_TEST_ADDR";

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
    /// Writes raw bytes (for tests that send malformed frames).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).map_err(Error::from)
    }

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
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.write_frame(msg, None)
    }
    fn try_send(&mut self, msg: &[u8]) -> Result<bool> {
        self.write_frame(msg, None).map(|()| true)
    }
    fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<()> {
        self.write_frame(msg, Some(timeout.max(Duration::from_millis(1))))
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
    fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        self.next_frame(buf, Mode::Block).map(|_| ())
    }
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        self.next_frame(buf, Mode::Try)
    }
    fn recv_timeout_into(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<()> {
        self.next_frame(buf, Mode::Until(Deadline::after(timeout)))
            .map(|_| ())
    }
}

/// A socket path unique to this process and call.
pub fn unique_path(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("ipcring-t-{}-{n}-{tag}.sock", std::process::id()))
}

/// A peer process; killed on drop if still running.
#[derive(Debug)]
pub struct Peer {
    pub child: Child,
    pub path: PathBuf,
}

impl Peer {
    /// Runs the helper test `entry` of this test binary in a new process, with `role` and
    /// `path` in its environment, plus `env`.
    pub fn spawn(entry: &str, role: &str, path: &Path, env: &[(&str, &str)]) -> Peer {
        let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
        cmd.args(["--exact", entry, "--nocapture", "--test-threads=1"])
            .env(ROLE_VAR, role)
            .env(ADDR_VAR, path)
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn the peer process");
        Peer {
            child,
            path: path.to_owned(),
        }
    }

    /// Binds a listener, starts the peer (which connects to it) and accepts its connection.
    pub fn spawn_connected(entry: &str, role: &str, env: &[(&str, &str)]) -> (Peer, UnixStream) {
        let path = unique_path(role);
        let listener = UnixListener::bind(&path).expect("bind");
        listener.set_nonblocking(true).unwrap();
        let mut peer = Peer::spawn(entry, role, &path, env);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    let _ = std::fs::remove_file(&path);
                    return (peer, s);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if let Some(st) = peer.child.try_wait().unwrap() {
                        panic!("peer {role} exited before connecting: {st}");
                    }
                    assert!(Instant::now() < deadline, "peer {role} did not connect");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }

    /// Waits for the peer to exit and asserts it succeeded.
    pub fn finish(mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "peer exited with {st}");
                return;
            }
            assert!(Instant::now() < deadline, "peer did not exit");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// In the peer: connects to the parent's listener.
pub fn connect_to_parent() -> UnixStream {
    let path = std::env::var(ADDR_VAR).expect("peer address");
    UnixStream::connect(path).expect("connect to the parent")
}

/// Connects to `path`, retrying while the peer has not bound it yet.
pub fn connect_retry(path: &Path) -> UnixStream {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return s,
            Err(e) => {
                assert!(Instant::now() < deadline, "connect {}: {e}", path.display());
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
