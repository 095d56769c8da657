//! The [`Codec`] trait: how requests, replies and values become frames and back.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{ErrorObject, RpcError};

/// A request as the server decoded it from a frame.
#[derive(Debug)]
pub struct Request<'f, C: Codec> {
    /// The request id to echo back; `None` for a notification (no reply is sent).
    pub id: Option<C::PeerId>,
    /// The method name.
    pub method: std::borrow::Cow<'f, str>,
    /// The still-encoded arguments, for [`Codec::decode_params`].
    pub params: C::Value,
}

/// One request of a frame as the server decoded it: the request, or the error reply it earns
/// (with the request's id, when one could be read).
pub type Entry<'f, C> = Result<Request<'f, C>, (Option<<C as Codec>::PeerId>, ErrorObject)>;

/// What one request frame holds: a single request or a batch (JSON-RPC arrays).
///
/// Each entry is either a request or the error reply it earns (with the id, when one could
/// be read).
#[derive(Debug)]
pub enum Incoming<'f, C: Codec> {
    /// One request.
    Single(Entry<'f, C>),
    /// A batch: replies go back in one frame, in a batch (see [`Codec::encode_batch`]).
    Batch(Vec<Entry<'f, C>>),
}

/// A reply as the client decoded it from a frame.
#[derive(Debug)]
pub struct Reply<V> {
    /// The id of the call it answers; `None` when the server could not read the request's id
    /// (or the id is not one this client sends).
    pub id: Option<u64>,
    /// The still-encoded result, or the error object.
    pub outcome: Result<V, ErrorObject>,
}

/// Turns requests and replies into frames and back. Pluggable: [`Server`](super::Server)
/// and [`Client`](super::Client) are generic over it; [`JsonCodec`](super::JsonCodec) and
/// [`BinaryCodec`](super::BinaryCodec) implement it.
///
/// Every method appends to `out`; on error, what it appended is unspecified (callers
/// truncate). Decoders never panic on any input: a bad frame is an error value.
///
/// ```
/// use ipcring::rpc::{BinaryCodec, Codec, Incoming};
///
/// let codec = BinaryCodec;
/// let mut frame = Vec::new();
/// codec.encode_request(Some(7), "add", &(2i64, 5i64), &mut frame).unwrap();
/// let Incoming::Single(Ok(req)) = codec.decode_request(&frame) else { panic!() };
/// assert_eq!((req.id, &*req.method), (Some(7), "add"));
/// let args: (i64, i64) = codec.decode_params(&frame, req.params).unwrap();
/// assert_eq!(args, (2, 5));
/// ```
pub trait Codec: Clone + Debug + Send + Sync + 'static {
    /// A request id as the server received it, echoed back verbatim in the reply.
    type PeerId: Clone + Debug + Send;
    /// A value (arguments or result) not decoded yet: either owned, or a position in the frame
    /// it came from (the frame is passed again to decode it).
    type Value: Debug + Send;

    /// Client: appends a request calling `method` with `params`; `id: None` makes it a
    /// notification (no reply).
    fn encode_request<P: Serialize + ?Sized>(
        &self,
        id: Option<u64>,
        method: &str,
        params: &P,
        out: &mut Vec<u8>,
    ) -> Result<(), RpcError>;

    /// Server: decodes one request frame.
    fn decode_request<'f>(&self, frame: &'f [u8]) -> Incoming<'f, Self>;

    /// Server: decodes a request's arguments into the handler's argument type. The error is
    /// the decoder's message (sent back as invalid params). The default decodes them as
    /// [`Codec::decode_result`] decodes a result; a codec that accepts other shapes of
    /// arguments overrides it.
    fn decode_params<A: DeserializeOwned>(
        &self,
        frame: &[u8],
        params: Self::Value,
    ) -> Result<A, String> {
        self.decode_result(frame, params)
    }

    /// Server: appends the successful reply to request `id`.
    fn encode_result<T: Serialize + ?Sized>(
        &self,
        id: &Self::PeerId,
        result: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), RpcError>;

    /// Server: appends an error reply; `id: None` when the request's id could not be read.
    fn encode_error(&self, id: Option<&Self::PeerId>, error: &ErrorObject, out: &mut Vec<u8>);

    /// Server: joins the replies of a batch (each made by `encode_result`/`encode_error`)
    /// into one frame. Only called for frames that [`Codec::decode_request`] decoded as
    /// [`Incoming::Batch`]; the default refuses.
    fn encode_batch(&self, replies: &[Vec<u8>], out: &mut Vec<u8>) -> Result<(), RpcError> {
        let _ = (replies, out);
        Err(RpcError::codec("this codec has no batches"))
    }

    /// Client: decodes a reply frame.
    fn decode_reply(&self, frame: &[u8]) -> Result<Reply<Self::Value>, RpcError>;

    /// Client: decodes a result into the caller's expected type.
    fn decode_result<T: DeserializeOwned>(
        &self,
        frame: &[u8],
        value: Self::Value,
    ) -> Result<T, String>;
}
