//! The `rpc` layer over the service: one [`Server`] answering every client of a
//! [`Listener`], each reply written over its request.

use crate::rpc::{Codec, RpcError, Server};
use crate::service::Listener;

impl<C: Codec> Server<C> {
    /// Serves every client of `listener` on this thread, one request at a time, until an
    /// error of the listener itself (a client that leaves or breaks its channel is not
    /// one: the others go on). Each reply is written over its request, in the client's
    /// slot; a notification gets an empty answer (which [`Answers`](crate::service::Answers)
    /// skips). Clients call with an [`rpc::Client`](crate::rpc::Client) over
    /// [`service::split`](crate::service::split).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ipcring::rpc::{BinaryCodec, Client, Server};
    /// use ipcring::service::{self, Listener, ServiceOptions};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let name = format!("/ipcring-svc-rpc-{}", std::process::id());
    /// let mut listener = Listener::bind(&name, &ServiceOptions::new())?;
    /// std::thread::spawn(move || {
    ///     let mut alice = Server::new(BinaryCodec);
    ///     alice.register("add", |(a, b): (i64, i64)| Ok(a + b));
    ///     alice.serve_service(&mut listener)
    /// });
    /// let (tx, rx) = service::split(service::Client::connect(&name, &ServiceOptions::new())?);
    /// let mut bob = Client::new(tx, rx, BinaryCodec);
    /// let sum: i64 = bob.call("add", (2, 5), Duration::from_secs(5))?;
    /// assert_eq!(sum, 7);
    /// // The server thread serves until the process ends; its listener is not dropped, so
    /// // remove the name (a real server would run until stopped).
    /// ipcring::segment::remove(&name, true)?;
    /// # Ok(()) }
    /// ```
    pub fn serve_service(&self, listener: &mut Listener) -> Result<(), RpcError> {
        let mut out = Vec::new();
        loop {
            let req = listener.recv()?;
            let max = req.max_answer();
            if self.handle_frame_limited(&req, &mut out, max) {
                req.respond_with(&out)?;
            } else {
                req.respond(0)?;
            }
        }
    }
}
