//! A [`Client`] as a byte transport pair, so everything written over [`Sender`] /
//! [`Receiver`] (the `rpc` layer's client above all) runs over a service connection.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use crate::service::{Client, Ticket};
use crate::transport::{Deadline, Receiver, Sender};
use crate::{Error, Result, TryRecvError, TrySendError};

#[derive(Debug)]
struct Shared {
    client: Client,
    in_flight: RefCell<VecDeque<Ticket>>,
}

/// The sending half of [`split`]: each message sent is a request.
#[derive(Debug)]
pub struct Requests(Rc<Shared>);

/// The receiving half of [`split`]: each message received is the answer to the oldest
/// request not yet received.
#[derive(Debug)]
pub struct Answers(Rc<Shared>);

/// A [`Client`] seen as a [`Sender`] + [`Receiver`] pair: each message sent is a request;
/// each message received is the answer to the oldest request not yet received (answers
/// come back in the order their requests went out). Answers of zero bytes are skipped:
/// that is how a server answers a request that wants no reply (an RPC notification).
///
/// At most [`Client::slots`] requests are in flight: a send beyond that fails with
/// [`Error::SystemLimit`] (receive an answer first). Both halves stay on one thread.
///
/// ```
/// use ipcring::service::{self, Client, Listener, ServiceOptions};
/// use ipcring::{Receiver, Sender};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-svc-transport-{}", std::process::id());
/// let mut server = Listener::bind(&name, &ServiceOptions::new())?;
/// let serving = std::thread::spawn(move || -> ipcring::Result<()> {
///     let req = server.recv()?;
///     let answer = req.to_ascii_uppercase();
///     req.respond_with(&answer)
/// });
/// let (mut tx, mut rx) = service::split(Client::connect(&name, &ServiceOptions::new())?);
/// tx.send(b"hi")?;
/// assert_eq!(rx.recv()?, b"HI");
/// # serving.join().unwrap()?;
/// # Ok(()) }
/// ```
pub fn split(client: Client) -> (Requests, Answers) {
    let s = Rc::new(Shared {
        client,
        in_flight: RefCell::new(VecDeque::new()),
    });
    (Requests(s.clone()), Answers(s))
}

impl Sender for Requests {
    /// Sending never waits: a free slot, or a clear error.
    fn send_deadline(&mut self, msg: &[u8], _deadline: Deadline) -> Result<()> {
        let t = self.0.client.submit(msg)?;
        self.0.in_flight.borrow_mut().push_back(t);
        Ok(())
    }

    /// `Full` when every slot holds a request in flight.
    fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        if self.0.in_flight.borrow().len() >= self.0.client.slots() as usize {
            return Err(TrySendError::Full);
        }
        Ok(self.send(msg)?)
    }

    fn max_message(&self) -> usize {
        self.0.client.max_message()
    }
}

impl Answers {
    /// Waits for the oldest request's answer (at most `timeout`) and copies it into `buf`;
    /// `Ok(false)`: it was empty (skipped).
    fn take(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<bool> {
        let s = &*self.0;
        let q = s.in_flight.borrow();
        let Some(t) = q.front() else {
            // Nothing asked, so nothing will come.
            return Err(Error::Timeout);
        };
        let answer = s.client.wait_timeout(t, timeout)?;
        buf.clear();
        buf.extend_from_slice(&answer);
        drop(answer);
        drop(q);
        s.in_flight.borrow_mut().pop_front();
        Ok(!buf.is_empty())
    }
}

impl Receiver for Answers {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        loop {
            let left = deadline.remaining().unwrap_or(Duration::MAX);
            if self.take(buf, left)? {
                return Ok(());
            }
        }
    }

    /// Looks whether the oldest request is answered before taking it.
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        buf.clear();
        loop {
            let ready = match self.0.in_flight.borrow().front() {
                Some(t) => self.0.client.is_answered(t)?,
                None => false,
            };
            if !ready {
                return Err(TryRecvError::Empty);
            }
            if self.take(buf, Duration::ZERO)? {
                return Ok(());
            }
        }
    }
}
