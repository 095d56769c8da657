//! A compact binary envelope with postcard-encoded values.

use std::borrow::Cow;
use std::ops::Range;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::{Codec, Incoming, Reply, Request};
use super::{ErrorObject, RpcError, INVALID_REQUEST, PARSE_ERROR};

const KIND_REQUEST: u8 = 0xB1;
const KIND_NOTIFY: u8 = 0xB2;
const KIND_RESULT: u8 = 0xB3;
const KIND_ERROR: u8 = 0xB4;

/// A compact binary codec: a small envelope, arguments and results in
/// [postcard](https://docs.rs/postcard).
///
/// Frames (`varint` = unsigned LEB128, at most 10 bytes; `str` = varint length + UTF-8):
///
/// | kind | layout after the kind byte |
/// |------|----------------------------|
/// | `0xB1` request      | id: varint (≥ 1), method: str, params: postcard (rest of frame) |
/// | `0xB2` notification | method: str, params: postcard (rest of frame) |
/// | `0xB3` result       | id: varint, result: postcard (rest of frame) |
/// | `0xB4` error        | id: varint (0 = unknown), code: zigzag varint, message: str, has_data: u8 (0/1), [data: str] |
///
/// The kind bytes are outside ASCII, so a JSON text sent to a binary server is refused
/// as an invalid request rather than misread.
///
/// postcard is not self-describing: arguments are checked only as far as their bytes must
/// decode into the handler's type, with no byte left over. `add("bad", "data")` to a handler
/// of `(i64, i64)` is refused, but two values of types with the same encoding (an `i64`
/// and a `u64`, a struct and a tuple of its fields) are not told apart. Both sides must
/// agree on the types, as with any postcard protocol.
///
/// ```
/// use ipcring::rpc::{BinaryCodec, Codec};
/// let mut out = Vec::new();
/// BinaryCodec.encode_request(Some(1), "add", &(2i64, 5i64), &mut out).unwrap();
/// assert_eq!(out, [0xB1, 1, 3, b'a', b'd', b'd', 4, 10]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct BinaryCodec;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_postcard<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result<(), RpcError> {
    let buf = std::mem::take(out);
    *out = postcard::to_extend(v, buf).map_err(RpcError::codec)?;
    Ok(())
}

/// A checked reader over a frame: every read is bounds-checked and fails with a message.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, &'static str> {
        let b = *self.buf.get(self.pos).ok_or("frame ends early")?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if i == 9 && b > 1 {
                return Err("varint overflows 64 bits");
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes")
    }

    fn str(&mut self) -> Result<&'a str, &'static str> {
        let len = self.varint()?;
        let rest = self.buf.len() - self.pos;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= rest)
            .ok_or("string runs past the frame")?;
        let s = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        std::str::from_utf8(s).map_err(|_| "string is not UTF-8")
    }

    fn rest(&self) -> Range<usize> {
        self.pos..self.buf.len()
    }
}

fn postcard_exact<T: DeserializeOwned>(frame: &[u8], at: Range<usize>) -> Result<T, String> {
    let bytes = frame.get(at).ok_or("value range outside the frame")?;
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(format!(
            "the bytes do not match the expected type ({} bytes left over)",
            rest.len()
        )),
        Err(e) => Err(format!("the bytes do not match the expected type: {e}")),
    }
}

fn decode_one(frame: &[u8]) -> Result<Request<'_, BinaryCodec>, (Option<u64>, ErrorObject)> {
    let bad = |id, what: &str| {
        let e = ErrorObject::new(INVALID_REQUEST, "Invalid Request");
        (id, e.with_data(what))
    };
    let parse = |id, what: &str| {
        let e = ErrorObject::new(PARSE_ERROR, "Parse error");
        (id, e.with_data(what))
    };
    let mut r = Reader { buf: frame, pos: 0 };
    let Ok(kind) = r.byte() else {
        return Err(parse(None, "empty frame"));
    };
    let id = match kind {
        KIND_REQUEST => Some(r.varint().map_err(|e| parse(None, e))?),
        KIND_NOTIFY => None,
        KIND_RESULT | KIND_ERROR => return Err(bad(None, "a reply frame sent as a request")),
        _ => return Err(bad(None, "unknown frame kind")),
    };
    let method = r.str().map_err(|e| parse(id, e))?;
    Ok(Request {
        id,
        method: Cow::Borrowed(method),
        params: r.rest(),
    })
}

impl Codec for BinaryCodec {
    type PeerId = u64;
    type Value = Range<usize>;

    fn encode_request<P: Serialize + ?Sized>(
        &self,
        id: Option<u64>,
        method: &str,
        params: &P,
        out: &mut Vec<u8>,
    ) -> Result<(), RpcError> {
        match id {
            Some(id) => {
                out.push(KIND_REQUEST);
                put_varint(out, id);
            }
            None => out.push(KIND_NOTIFY),
        }
        put_str(out, method);
        put_postcard(out, params)
    }

    fn decode_request<'f>(&self, frame: &'f [u8]) -> Incoming<'f, Self> {
        Incoming::Single(decode_one(frame))
    }

    fn encode_result<T: Serialize + ?Sized>(
        &self,
        id: &u64,
        result: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), RpcError> {
        out.push(KIND_RESULT);
        put_varint(out, *id);
        put_postcard(out, result)
    }

    fn encode_error(&self, id: Option<&u64>, error: &ErrorObject, out: &mut Vec<u8>) {
        out.push(KIND_ERROR);
        put_varint(out, id.copied().unwrap_or(0));
        let zigzag = ((error.code << 1) ^ (error.code >> 63)) as u64;
        put_varint(out, zigzag);
        put_str(out, &error.message);
        match &error.data {
            Some(d) => {
                out.push(1);
                put_str(out, d);
            }
            None => out.push(0),
        }
    }

    fn decode_reply(&self, frame: &[u8]) -> Result<Reply<Range<usize>>, RpcError> {
        let mut r = Reader { buf: frame, pos: 0 };
        let p = RpcError::protocol;
        match r.byte().map_err(p)? {
            KIND_RESULT => {
                let id = r.varint().map_err(p)?;
                Ok(Reply {
                    id: Some(id),
                    outcome: Ok(r.rest()),
                })
            }
            KIND_ERROR => {
                let id = r.varint().map_err(p)?;
                let z = r.varint().map_err(p)?;
                let code = ((z >> 1) as i64) ^ -((z & 1) as i64);
                let message = r.str().map_err(p)?.to_owned();
                let data = match r.byte().map_err(p)? {
                    0 => None,
                    1 => Some(r.str().map_err(p)?.to_owned()),
                    _ => return Err(p("bad data flag in an error reply")),
                };
                if r.pos != frame.len() {
                    return Err(p("bytes left over after an error reply"));
                }
                let id = (id != 0).then_some(id);
                Ok(Reply {
                    id,
                    outcome: Err(ErrorObject {
                        code,
                        message,
                        data,
                    }),
                })
            }
            _ => Err(p("not a reply frame")),
        }
    }

    fn decode_result<T: DeserializeOwned>(
        &self,
        frame: &[u8],
        value: Range<usize>,
    ) -> Result<T, String> {
        postcard_exact(frame, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_refuse_overlong() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(Reader { buf: &out, pos: 0 }.varint(), Ok(v));
        }
        let over = [0xff; 10];
        assert!(Reader { buf: &over, pos: 0 }.varint().is_err());
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(Reader { buf: &over, pos: 0 }.varint().is_err());
        let cut = [0x80];
        assert!(Reader { buf: &cut, pos: 0 }.varint().is_err());
    }

    #[test]
    fn error_replies_round_trip() {
        for (id, code, data) in [
            (Some(5u64), -32601i64, None),
            (None, -32000, Some("d")),
            (Some(u64::MAX), i64::MIN, None),
        ] {
            let mut e = ErrorObject::new(code, "msg");
            e.data = data.map(str::to_owned);
            let mut out = Vec::new();
            BinaryCodec.encode_error(id.as_ref(), &e, &mut out);
            let r = BinaryCodec.decode_reply(&out).unwrap();
            assert_eq!(r.id, id);
            assert_eq!(r.outcome.unwrap_err(), e);
        }
    }

    #[test]
    fn bad_frames_are_errors() {
        let frames: [&[u8]; 6] = [
            b"",
            &[0x00],
            &[KIND_REQUEST],
            &[KIND_REQUEST, 1, 5, b'a'],
            &[KIND_NOTIFY, 2, 0xff, 0xfe],
            &[KIND_RESULT, 1],
        ];
        for f in frames {
            match BinaryCodec.decode_request(f) {
                Incoming::Single(Err((_, e))) => {
                    assert!(e.code == PARSE_ERROR || e.code == INVALID_REQUEST)
                }
                other => panic!("{f:?} decoded as {other:?}"),
            }
        }
        assert!(BinaryCodec
            .decode_reply(&[KIND_ERROR, 1, 1, 1, b'm', 2])
            .is_err());
        assert!(BinaryCodec.decode_reply(&[KIND_REQUEST, 1]).is_err());
    }

    #[test]
    fn leftover_bytes_mean_wrong_type() {
        let mut out = Vec::new();
        BinaryCodec
            .encode_request(Some(1), "add", &("bad", "data"), &mut out)
            .unwrap();
        let Incoming::Single(Ok(r)) = BinaryCodec.decode_request(&out) else {
            panic!()
        };
        assert!(BinaryCodec
            .decode_params::<(i64, i64)>(&out, r.params)
            .is_err());
    }
}
