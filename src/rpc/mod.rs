//! Request/response over any duplex pair of the crate's transports: run tasks in the other
//! program's process and get the result, or the error, back.
//!
//! One side runs a [`Server`] with named handlers (closures taking and returning serde
//! values); the other holds a [`Client`] and calls them by name. Both are generic over any
//! [`Sender`](crate::transport::Sender) / [`Receiver`](crate::transport::Receiver) pair —
//! two shared-memory rings, a socket connection, a pipe pair, an mq pair — and over a
//! [`Codec`]:
//!
//! * [`JsonCodec`]: JSON shaped exactly as [JSON-RPC 2.0](https://www.jsonrpc.org/specification)
//!   (requests, notifications, batches, error objects and codes), so any JSON-RPC client can
//!   talk to a server reached through a byte transport;
//! * [`BinaryCodec`]: a compact binary envelope with [postcard]-encoded values, for speed.
//!
//! What travels:
//!
//! * calls with a request id, answered by a result or an error; a client may have several
//!   calls in flight ([`Client::start_call`]) and the replies may come back in any order;
//! * one-way notifications ([`Client::notify`]), which get no reply;
//! * typed errors ([`RpcError`]): unknown method, bad arguments, the handler's own error with
//!   its message, a handler panic (the server keeps serving), timeout, disconnection.
//!
//! # Example
//!
//! The article's Alice offers `add` and `multiply`; Bob calls them. Here the server handles
//! one request frame in-process with [`Server::handle_frame`]; over a real transport Alice
//! runs [`Server::serve`] and Bob a [`Client`].
//!
//! ```
//! use ipcring::rpc::{HandlerError, JsonCodec, Server};
//!
//! let mut alice = Server::new(JsonCodec);
//! alice
//!     .register("add", |(a, b): (i64, i64)| Ok(a + b))
//!     .register("multiply", |(a, b): (i64, i64)| Ok(a * b))
//!     .register("divide", |(a, b): (i64, i64)| {
//!         a.checked_div(b).ok_or_else(|| HandlerError::new("division by zero"))
//!     });
//!
//! let mut reply = Vec::new();
//! alice.handle_frame(br#"{"jsonrpc":"2.0","method":"add","params":[2,5],"id":1}"#, &mut reply);
//! assert_eq!(reply, br#"{"jsonrpc":"2.0","result":7,"id":1}"#);
//! ```
//!
//! A client over any transport pair:
//!
//! ```no_run
//! use std::time::Duration;
//! use ipcring::rpc::{Client, JsonCodec, RpcError};
//! use ipcring::transport::{Receiver, Sender};
//!
//! fn bob<S: Sender, R: Receiver>(tx: S, rx: R) -> Result<(), RpcError> {
//!     let mut alice = Client::new(tx, rx, JsonCodec);
//!     let t = Duration::from_secs(5);
//!     let sum: i64 = alice.call("add", (2, 5), t)?;
//!     assert_eq!(sum, 7);
//!     match alice.call::<_, i64>("add", ("bad", "data"), t) {
//!         Err(RpcError::BadArguments { message, .. }) => println!("refused: {message}"),
//!         other => println!("unexpected: {other:?}"),
//!     }
//!     Ok(())
//! }
//! ```
//!
//! See `docs/methods/rpc.md` for the wire formats, limits and behaviour on peer death.

use std::borrow::Cow;

mod binary;
mod client;
mod codec;
mod json;
#[cfg(test)]
mod proptests;
mod server;

// The async (tokio) form, beside the blocking one.
#[cfg(feature = "async")]
mod tokio;
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use self::tokio::AsyncClient;

pub use binary::BinaryCodec;
pub use client::{Client, Pending};
pub use codec::{Codec, Entry, Incoming, Reply, Request};
pub use json::JsonCodec;
pub use server::Server;

/// JSON-RPC 2.0 error code: the frame could not be parsed.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0 error code: the frame parsed but is not a valid request.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC 2.0 error code: no handler has this name.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC 2.0 error code: the arguments do not decode into the handler's argument type.
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC 2.0 error code: the handler panicked or its result could not be sent.
pub const INTERNAL_ERROR: i64 = -32603;
/// The default code of a handler's own error (the first of JSON-RPC's server-defined
/// range `-32099..=-32000`).
pub const HANDLER_ERROR: i64 = -32000;

/// An error object as it travels on the wire: a JSON-RPC 2.0 error `code`, a `message`,
/// and an optional `data` string with details.
///
/// ```
/// use ipcring::rpc::{ErrorObject, METHOD_NOT_FOUND};
/// let e = ErrorObject::new(METHOD_NOT_FOUND, "Method not found").with_data("no method `sub`");
/// assert_eq!(e.data.as_deref(), Some("no method `sub`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorObject {
    /// The error code (see [`PARSE_ERROR`] and its siblings, [`HANDLER_ERROR`]).
    pub code: i64,
    /// A short description.
    pub message: String,
    /// Details (a JSON-RPC `data` member that is a string; any other JSON value is kept as
    /// its JSON text).
    pub data: Option<String>,
}

impl ErrorObject {
    /// An error object without data.
    pub fn new(code: i64, message: impl Into<String>) -> ErrorObject {
        ErrorObject {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Adds the `data` string.
    pub fn with_data(mut self, data: impl Into<String>) -> ErrorObject {
        self.data = Some(data.into());
        self
    }

    /// The detail if there is one, else the message.
    fn detail(&self) -> String {
        self.data.clone().unwrap_or_else(|| self.message.clone())
    }

    /// The typed error a caller of `method` sees for this error object.
    pub(crate) fn into_rpc_error(self, method: &str) -> RpcError {
        let method = method.to_owned();
        match self.code {
            PARSE_ERROR => RpcError::ParseError {
                message: self.detail(),
            },
            INVALID_REQUEST => RpcError::InvalidRequest {
                message: self.detail(),
            },
            METHOD_NOT_FOUND => RpcError::UnknownMethod { method },
            INVALID_PARAMS => RpcError::BadArguments {
                method,
                message: self.detail(),
            },
            INTERNAL_ERROR => RpcError::Internal {
                method,
                message: self.detail(),
            },
            code => RpcError::Handler {
                method,
                code,
                message: self.message,
            },
        }
    }
}

/// The error a handler returns: a message, and a code that travels with it.
///
/// The code is [`HANDLER_ERROR`] (-32000) unless [`HandlerError::with_code`] sets another
/// one. Codes in JSON-RPC's reserved range `-32768..=-32100` (the protocol's own errors) are
/// not allowed for handlers and become [`HANDLER_ERROR`].
///
/// ```
/// use ipcring::rpc::HandlerError;
/// let e = HandlerError::new("Yeah, we are only going to add numbers");
/// assert_eq!(e.code(), -32000);
/// assert_eq!(HandlerError::from("nope").with_code(-32042).code(), -32042);
/// assert_eq!(HandlerError::new("x").with_code(-32601).code(), -32000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    code: i64,
    message: String,
}

impl HandlerError {
    /// A handler error with `message` and the default code [`HANDLER_ERROR`].
    pub fn new(message: impl Into<String>) -> HandlerError {
        HandlerError {
            code: HANDLER_ERROR,
            message: message.into(),
        }
    }

    /// Sets the code: `-32099..=-32000` (JSON-RPC's server-defined range) or any code outside
    /// the reserved `-32768..=-32000`; a reserved code becomes [`HANDLER_ERROR`].
    pub fn with_code(mut self, code: i64) -> HandlerError {
        let reserved = (-32768..=-32100).contains(&code);
        self.code = if reserved { HANDLER_ERROR } else { code };
        self
    }

    /// The code that will travel to the caller.
    pub fn code(&self) -> i64 {
        self.code
    }

    /// The message that will travel to the caller.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<&str> for HandlerError {
    fn from(message: &str) -> Self {
        HandlerError::new(message)
    }
}

impl From<String> for HandlerError {
    fn from(message: String) -> Self {
        HandlerError::new(message)
    }
}

/// Everything a remote call can end with, other than its result.
///
/// The first group comes from the server (an error reply), the second from this side.
///
/// ```
/// use ipcring::rpc::RpcError;
/// let e = RpcError::from(ipcring::Error::Disconnected);
/// assert!(matches!(e, RpcError::Disconnected));
/// assert_eq!(RpcError::UnknownMethod { method: "sub".into() }.code(), Some(-32601));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The server has no handler of this name (JSON-RPC -32601).
    #[error("no method named `{method}` on the server")]
    UnknownMethod {
        /// The method called.
        method: String,
    },

    /// The arguments do not decode into the handler's argument type (JSON-RPC -32602),
    /// e.g. `add("bad", "data")` to a handler of `(i64, i64)`.
    #[error("bad arguments for `{method}`: {message}")]
    BadArguments {
        /// The method called.
        method: String,
        /// What the decoder said.
        message: String,
    },

    /// The handler returned its own error ([`HandlerError`]).
    #[error("`{method}` failed: {message} (code {code})")]
    Handler {
        /// The method called.
        method: String,
        /// The handler's code (-32000 unless it chose another).
        code: i64,
        /// The handler's message.
        message: String,
    },

    /// The handler panicked, or its result could not be encoded or sent (JSON-RPC -32603).
    /// The server went on serving.
    #[error("internal error in `{method}`: {message}")]
    Internal {
        /// The method called.
        method: String,
        /// What happened, e.g. `handler `boom` panicked: ...`.
        message: String,
    },

    /// The server could not parse the request frame (JSON-RPC -32700).
    #[error("the server could not parse the request: {message}")]
    ParseError {
        /// The server's detail.
        message: String,
    },

    /// The server parsed the frame but it is not a valid request (JSON-RPC -32600).
    #[error("the server refused the request as invalid: {message}")]
    InvalidRequest {
        /// The server's detail.
        message: String,
    },

    /// No reply within the timeout. A reply that arrives later is discarded.
    #[error("the call timed out")]
    Timeout,

    /// The peer is gone (exited, killed, closed its end).
    #[error("the peer has disconnected")]
    Disconnected,

    /// A value could not be encoded or decoded on this side: the arguments do not encode,
    /// or the result does not decode into the expected type.
    #[error("codec error: {message}")]
    Codec {
        /// What the codec said.
        message: String,
    },

    /// A reply frame that is not a valid reply of this codec.
    #[error("malformed reply: {message}")]
    Protocol {
        /// What is wrong with it.
        message: String,
    },

    /// Any other transport failure (message too large, I/O error, corrupt ring, ...).
    #[error(transparent)]
    Transport(crate::Error),
}

impl RpcError {
    /// The JSON-RPC 2.0 error code of an error that came from the server; `None` for the
    /// errors raised on this side.
    pub fn code(&self) -> Option<i64> {
        match self {
            RpcError::UnknownMethod { .. } => Some(METHOD_NOT_FOUND),
            RpcError::BadArguments { .. } => Some(INVALID_PARAMS),
            RpcError::Handler { code, .. } => Some(*code),
            RpcError::Internal { .. } => Some(INTERNAL_ERROR),
            RpcError::ParseError { .. } => Some(PARSE_ERROR),
            RpcError::InvalidRequest { .. } => Some(INVALID_REQUEST),
            _ => None,
        }
    }

    pub(crate) fn codec(message: impl std::fmt::Display) -> RpcError {
        RpcError::Codec {
            message: message.to_string(),
        }
    }

    pub(crate) fn protocol(message: impl Into<Cow<'static, str>>) -> RpcError {
        RpcError::Protocol {
            message: message.into().into_owned(),
        }
    }
}

impl From<crate::Error> for RpcError {
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::Disconnected => RpcError::Disconnected,
            crate::Error::Timeout => RpcError::Timeout,
            e => RpcError::Transport(e),
        }
    }
}
