//! Sender/Receiver views of the methods that are not byte transports themselves, so the
//! comparison measures them with the same drivers: a seqlock cell (latest value), signals
//! (an `i32` per signal).

use std::time::Duration;

use ipcring::transport::Deadline;
use ipcring::{Error, Receiver, Result, Sender};

/// Seqlock cell value: `len: u32`, 4 bytes of padding, then up to [`CELL_MAX`] bytes.
pub type Cell = [u8; 96];
/// Largest message a cell carries.
pub const CELL_MAX: usize = 96 - 8;

/// `MessageTooLarge` unless `msg` fits in `max` bytes.
fn fits(msg: &[u8], max: usize) -> Result<()> {
    match msg.len() {
        len if len > max => Err(Error::MessageTooLarge { len, max }),
        _ => Ok(()),
    }
}

fn encode_cell(msg: &[u8]) -> Result<Cell> {
    fits(msg, CELL_MAX)?;
    let mut c = [0u8; 96];
    c[..4].copy_from_slice(&(msg.len() as u32).to_le_bytes());
    c[8..8 + msg.len()].copy_from_slice(msg);
    Ok(c)
}

/// Copies the first `len` bytes of `payload` (a cell's or a signal's) into `buf`, if
/// there are that many.
fn decode_into(what: &str, payload: &[u8], len: usize, buf: &mut Vec<u8>) -> Result<()> {
    let Some(msg) = payload.get(..len) else {
        return Err(Error::Framing(
            format!("{what} says {len} bytes, at most {} fit", payload.len()).into(),
        ));
    };
    buf.clear();
    buf.extend_from_slice(msg);
    Ok(())
}

fn decode_cell(c: &Cell, buf: &mut Vec<u8>) -> Result<()> {
    let len = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
    decode_into("cell", &c[8..], len, buf)
}

/// Writes each message as the cell's new value (never waits).
#[derive(Debug)]
pub struct CellTx(pub ipcring::seqlock::Writer<Cell>);

impl Sender for CellTx {
    fn send_deadline(&mut self, msg: &[u8], _: Deadline) -> Result<()> {
        let c = encode_cell(msg)?;
        self.0.write(&c);
        Ok(())
    }
    fn max_message(&self) -> usize {
        CELL_MAX
    }
}

/// Receives each new version of the cell (versions written between two receives are
/// skipped: that is what a seqlock is).
#[derive(Debug)]
pub struct CellRx {
    /// The reader.
    pub reader: ipcring::seqlock::Reader<Cell>,
    /// The last version received.
    pub last: u64,
}

impl Receiver for CellRx {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        let timeout = deadline.remaining().unwrap_or(Duration::MAX);
        let s = self
            .reader
            .wait_changed(self.last, timeout)
            .inspect_err(|_| buf.clear())?;
        self.last = s.version;
        decode_cell(&s.value, buf)
    }
}

/// Largest message a signal carries: the `i32` of a real-time signal holds a length byte
/// and 3 bytes.
pub const SIGNAL_MAX: usize = 3;

/// Sends each message as one queued real-time signal (`sigqueue`) to the peer's pid.
#[derive(Debug)]
pub struct SignalTx {
    /// The peer.
    pub pid: u32,
    /// Which signal.
    pub opts: ipcring::signal::SignalOptions,
}

impl SignalTx {
    fn value(msg: &[u8]) -> Result<i32> {
        fits(msg, SIGNAL_MAX)?;
        let mut b = [0u8; 4];
        b[0] = msg.len() as u8;
        b[1..1 + msg.len()].copy_from_slice(msg);
        Ok(i32::from_le_bytes(b))
    }
}

impl Sender for SignalTx {
    fn send_deadline(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        let v = Self::value(msg)?;
        loop {
            match ipcring::signal::send(self.pid, ipcring::signal::Signal::Value(v), &self.opts) {
                Ok(()) => return Ok(()),
                // The peer's queue of real-time signals is full: no room now.
                Err(Error::SystemLimit { .. }) => {}
                Err(e) => return Err(e),
            }
            if deadline.expired() {
                return Err(Error::Timeout);
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    fn max_message(&self) -> usize {
        SIGNAL_MAX
    }
}

/// Receives the values queued to this process (other signals are ignored).
#[derive(Debug)]
pub struct SignalRx {
    /// The listener.
    pub listener: ipcring::signal::Listener,
    /// This process's entry in its registry (held only to be removed on drop).
    pub _registration: ipcring::signal::Registration,
}

fn decode_value(v: i32, buf: &mut Vec<u8>) -> Result<()> {
    let b = v.to_le_bytes();
    decode_into("signal value", &b[1..], b[0] as usize, buf)
}

impl Receiver for SignalRx {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        buf.clear();
        loop {
            let left = deadline.remaining().unwrap_or(Duration::MAX);
            let ev = self.listener.recv_timeout(left)?;
            if let ipcring::signal::Signal::Value(v) = ev.signal {
                return decode_value(v, buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_and_a_signal_value_carry_up_to_their_largest_message() {
        let mut buf = Vec::new();
        for msg in [&b""[..], b"x", &[7u8; CELL_MAX]] {
            decode_cell(&encode_cell(msg).unwrap(), &mut buf).unwrap();
            assert_eq!(buf, msg);
        }
        assert!(matches!(
            encode_cell(&[0; CELL_MAX + 1]),
            Err(Error::MessageTooLarge { len, max: CELL_MAX }) if len == CELL_MAX + 1
        ));
        let mut bad = encode_cell(b"").unwrap();
        bad[0] = CELL_MAX as u8 + 1;
        assert!(matches!(
            decode_cell(&bad, &mut buf),
            Err(Error::Framing(_))
        ));

        for msg in [&b""[..], b"ab", b"abc"] {
            decode_value(SignalTx::value(msg).unwrap(), &mut buf).unwrap();
            assert_eq!(buf, msg);
        }
        assert!(matches!(
            SignalTx::value(b"abcd"),
            Err(Error::MessageTooLarge {
                len: 4,
                max: SIGNAL_MAX
            })
        ));
        assert!(matches!(decode_value(4, &mut buf), Err(Error::Framing(_))));
    }
}
