//! JSON shaped exactly as JSON-RPC 2.0.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::codec::{Codec, Incoming, Reply, Request};
use super::{ErrorObject, RpcError, INVALID_REQUEST, PARSE_ERROR};

/// JSON-RPC 2.0 (<https://www.jsonrpc.org/specification>), one JSON text per frame.
///
/// * Request: `{"jsonrpc":"2.0","method":"add","params":[2,5],"id":1}`; a notification has
///   no `id`. Arguments that serialize to an array or an object are sent as they are (a
///   tuple becomes positional `params`, a struct named `params`); any other value is wrapped
///   in a one-element array, and `()` or `None` omits `params`.
/// * Reply: `{"jsonrpc":"2.0","result":7,"id":1}` or
///   `{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found","data":"..."},"id":1}`;
///   `id` is `null` when the request's id could not be read.
/// * Batches (a JSON array of requests) are answered by an array of replies, without the
///   notifications' entries, or by nothing when they were all notifications.
///
/// The server echoes any id (string, number, null) verbatim; the client sends and
/// recognises integer ids only.
///
/// ```
/// use ipcring::rpc::{Codec, JsonCodec};
/// let mut out = Vec::new();
/// JsonCodec.encode_request(Some(1), "add", &(2, 5), &mut out).unwrap();
/// assert_eq!(out, br#"{"jsonrpc":"2.0","method":"add","params":[2,5],"id":1}"#);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCodec;

fn invalid(detail: &str) -> ErrorObject {
    ErrorObject::new(INVALID_REQUEST, "Invalid Request").with_data(detail)
}

type Entry = super::codec::Entry<'static, JsonCodec>;

fn request_from_value(v: Value) -> Entry {
    let Value::Object(mut m) = v else {
        return Err((None, invalid("a request must be a JSON object")));
    };
    let id = match m.remove("id") {
        None => None,
        Some(id @ (Value::Null | Value::String(_) | Value::Number(_))) => Some(id),
        Some(_) => return Err((None, invalid("\"id\" must be a string, a number or null"))),
    };
    if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err((id, invalid("\"jsonrpc\" must be exactly \"2.0\"")));
    }
    let method = match m.remove("method") {
        Some(Value::String(s)) => s,
        _ => return Err((id, invalid("\"method\" must be a string"))),
    };
    let params = match m.remove("params") {
        None => Value::Null,
        Some(p @ (Value::Array(_) | Value::Object(_))) => p,
        Some(_) => return Err((id, invalid("\"params\" must be an array or an object"))),
    };
    Ok(Request {
        id,
        method: method.into(),
        params,
    })
}

/// Appends `before` (the JSON text up to a value: a member's name, an opening brace) and
/// then `v` as JSON.
fn write_json<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    before: &[u8],
    v: &T,
) -> Result<(), RpcError> {
    out.extend_from_slice(before);
    serde_json::to_writer(&mut *out, v).map_err(RpcError::codec)
}

#[derive(Deserialize)]
struct WireError {
    code: i64,
    message: String,
    #[serde(default)]
    data: Option<Value>,
}

impl Codec for JsonCodec {
    type PeerId = Value;
    type Value = Value;

    fn encode_request<P: Serialize + ?Sized>(
        &self,
        id: Option<u64>,
        method: &str,
        params: &P,
        out: &mut Vec<u8>,
    ) -> Result<(), RpcError> {
        write_json(out, br#"{"jsonrpc":"2.0","method":"#, method)?;
        const PARAMS: &[u8] = br#","params":"#;
        let before = out.len();
        write_json(out, PARAMS, params)?;
        let at = before + PARAMS.len();
        match out.get(at) {
            Some(b'[' | b'{') => {}
            // `()`, `None`: no params member at all.
            Some(b'n') => out.truncate(before),
            // A scalar: JSON-RPC params must be structured, so wrap it.
            _ => {
                out.insert(at, b'[');
                out.push(b']');
            }
        }
        if let Some(id) = id {
            write_json(out, br#","id":"#, &id)?;
        }
        out.push(b'}');
        Ok(())
    }

    fn decode_request<'f>(&self, frame: &'f [u8]) -> Incoming<'f, Self> {
        let v: Value = match serde_json::from_slice(frame) {
            Ok(v) => v,
            Err(e) => {
                let e = ErrorObject::new(PARSE_ERROR, "Parse error").with_data(e.to_string());
                return Incoming::Single(Err((None, e)));
            }
        };
        match v {
            Value::Array(items) if items.is_empty() => {
                Incoming::Single(Err((None, invalid("an empty batch"))))
            }
            Value::Array(items) => {
                Incoming::Batch(items.into_iter().map(request_from_value).collect())
            }
            v => Incoming::Single(request_from_value(v)),
        }
    }

    fn decode_params<A: DeserializeOwned>(
        &self,
        _frame: &[u8],
        params: Value,
    ) -> Result<A, String> {
        match A::deserialize(&params) {
            Ok(a) => Ok(a),
            Err(first) => {
                // The other shapes `encode_request` produces: no params for `()`, and a
                // scalar wrapped in a one-element array.
                let retry = match &params {
                    Value::Null => A::deserialize(&Value::Array(Vec::new())).ok(),
                    Value::Array(v) if v.len() == 1 => A::deserialize(&v[0]).ok(),
                    _ => None,
                };
                retry.ok_or_else(|| first.to_string())
            }
        }
    }

    fn encode_result<T: Serialize + ?Sized>(
        &self,
        id: &Value,
        result: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), RpcError> {
        write_json(out, br#"{"jsonrpc":"2.0","result":"#, result)?;
        write_json(out, br#","id":"#, id)?;
        out.push(b'}');
        Ok(())
    }

    fn encode_error(&self, id: Option<&Value>, error: &ErrorObject, out: &mut Vec<u8>) {
        // Writing numbers, strings and a `Value` into a Vec cannot fail.
        let _ = (|| -> Result<(), RpcError> {
            write_json(out, br#"{"jsonrpc":"2.0","error":{"code":"#, &error.code)?;
            write_json(out, br#","message":"#, &error.message)?;
            if let Some(data) = &error.data {
                write_json(out, br#","data":"#, data)?;
            }
            write_json(out, br#"},"id":"#, id.unwrap_or(&Value::Null))?;
            out.push(b'}');
            Ok(())
        })();
    }

    fn encode_batch(&self, replies: &[Vec<u8>], out: &mut Vec<u8>) -> Result<(), RpcError> {
        out.push(b'[');
        // Straight into `out`: `join` would build a temporary copy of every reply first.
        for (i, r) in replies.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(r);
        }
        out.push(b']');
        Ok(())
    }

    fn decode_reply(&self, frame: &[u8]) -> Result<Reply<Value>, RpcError> {
        let v: Value = serde_json::from_slice(frame)
            .map_err(|e| RpcError::protocol(format!("not JSON: {e}")))?;
        let Value::Object(mut m) = v else {
            return Err(RpcError::protocol("a JSON-RPC reply must be a JSON object"));
        };
        if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(RpcError::protocol("\"jsonrpc\" must be exactly \"2.0\""));
        }
        let id = m.get("id").and_then(Value::as_u64);
        let outcome = match (m.remove("result"), m.remove("error")) {
            (Some(result), None) => Ok(result),
            (None, Some(error)) => {
                let e = WireError::deserialize(&error)
                    .map_err(|e| RpcError::protocol(format!("bad error object: {e}")))?;
                let data = e.data.map(|d| match d {
                    Value::String(s) => s,
                    other => other.to_string(),
                });
                Err(ErrorObject {
                    code: e.code,
                    message: e.message,
                    data,
                })
            }
            _ => {
                return Err(RpcError::protocol(
                    "a reply needs exactly one of \"result\" and \"error\"",
                ))
            }
        };
        Ok(Reply { id, outcome })
    }

    fn decode_result<T: DeserializeOwned>(&self, _frame: &[u8], value: Value) -> Result<T, String> {
        T::deserialize(value).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(frame: &[u8]) -> Entry {
        match JsonCodec.decode_request(frame) {
            Incoming::Single(r) => r.map(|r| Request {
                id: r.id,
                method: r.method.into_owned().into(),
                params: r.params,
            }),
            Incoming::Batch(_) => panic!("batch"),
        }
    }

    /// Found by the `rpc_json` fuzz target: a long number was read 1 ulp off (serde_json's
    /// fast float parser), so a value forwarded through JSON changed quietly. Numbers are
    /// now read exactly (serde_json's `float_roundtrip`).
    #[test]
    fn numbers_survive_a_round_trip_exactly() {
        let frame = br#"{"jsonrpc":"2.0","method":"add","params":[0,29999999999999999999999999999999999999999999999999],"id":1}"#;
        let r = single(frame).unwrap();
        assert_eq!(r.params[1].as_f64(), Some(3e49));
        let mut out = Vec::new();
        JsonCodec
            .encode_request(Some(1), "add", &r.params, &mut out)
            .unwrap();
        assert_eq!(single(&out).unwrap().params, r.params);
    }

    #[test]
    fn scalar_and_unit_params_round_trip() {
        let mut out = Vec::new();
        JsonCodec
            .encode_request(None, "one", &5i64, &mut out)
            .unwrap();
        assert_eq!(out, br#"{"jsonrpc":"2.0","method":"one","params":[5]}"#);
        let r = single(&out).unwrap();
        assert!(r.id.is_none());
        assert_eq!(JsonCodec.decode_params::<i64>(&out, r.params), Ok(5));

        out.clear();
        JsonCodec
            .encode_request(Some(2), "none", &(), &mut out)
            .unwrap();
        assert_eq!(out, br#"{"jsonrpc":"2.0","method":"none","id":2}"#);
        let r = single(&out).unwrap();
        assert_eq!(r.id, Some(Value::from(2)));
        assert_eq!(JsonCodec.decode_params::<()>(&out, r.params), Ok(()));
    }

    #[test]
    fn invalid_shapes_are_refused_with_their_id() {
        let (id, e) = single(br#"{"jsonrpc":"2.0","method":1,"id":"x"}"#).unwrap_err();
        assert_eq!((id, e.code), (Some(Value::from("x")), INVALID_REQUEST));
        let (id, e) = single(br#"{"jsonrpc":"1.0","method":"a","id":3}"#).unwrap_err();
        assert_eq!((id, e.code), (Some(Value::from(3)), INVALID_REQUEST));
        let (_, e) = single(br#"{"jsonrpc":"2.0","method":"a","params":3,"id":3}"#).unwrap_err();
        assert_eq!(e.code, INVALID_REQUEST);
        let (id, e) = single(br#"{"jsonrpc":"2.0","method":"a","id":[1]}"#).unwrap_err();
        assert_eq!((id, e.code), (None, INVALID_REQUEST));
        let (id, e) = single(b"{\"jsonrpc\"").unwrap_err();
        assert_eq!((id, e.code), (None, PARSE_ERROR));
    }

    #[test]
    fn replies_decode() {
        let r = JsonCodec
            .decode_reply(br#"{"jsonrpc":"2.0","result":[1,2],"id":9}"#)
            .unwrap();
        assert_eq!(r.id, Some(9));
        let v: Vec<i32> = JsonCodec.decode_result(b"", r.outcome.unwrap()).unwrap();
        assert_eq!(v, [1, 2]);
        let r = JsonCodec
            .decode_reply(br#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"m","data":{"a":1}},"id":null}"#)
            .unwrap();
        assert_eq!(r.id, None);
        let e = r.outcome.unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str(), e.data.as_deref()),
            (-32000, "m", Some(r#"{"a":1}"#))
        );
        assert!(JsonCodec
            .decode_reply(br#"{"jsonrpc":"2.0","id":1}"#)
            .is_err());
        assert!(JsonCodec.decode_reply(b"[]").is_err());
        assert!(JsonCodec.decode_reply(b"\xff").is_err());
    }
}
