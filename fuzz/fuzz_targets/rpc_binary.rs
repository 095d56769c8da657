//! The binary RPC codec (envelope + postcard) on any frame: requests as a server decodes
//! them, replies as a client decodes them, arguments into several handler types; errors are
//! values, never panics or allocations sized by the peer. Round trip: whatever decodes,
//! encoded again, decodes to the same thing.
#![no_main]

use ipcring::rpc::{BinaryCodec, Codec, Incoming};
use libfuzzer_sys::fuzz_target;

/// A type whose values the round trips decode, encode again and compare.
trait Value: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug {}
impl<A: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug> Value for A {}

fn typed<A: Value>(frame: &[u8], params: std::ops::Range<usize>, id: Option<u64>, method: &str) {
    let codec = BinaryCodec;
    let Ok(a) = codec.decode_params::<A>(frame, params) else {
        return;
    };
    let mut out = Vec::new();
    codec.encode_request(id, method, &a, &mut out).unwrap();
    let Incoming::Single(Ok(req)) = codec.decode_request(&out) else {
        panic!("our request does not decode: {out:?}");
    };
    assert_eq!((req.id, &*req.method), (id, method));
    let back: A = codec
        .decode_params(&out, req.params)
        .expect("our params decode");
    assert_eq!(back, a);
}

fn result<A: Value>(frame: &[u8], value: std::ops::Range<usize>, id: u64) {
    let codec = BinaryCodec;
    let Ok(a) = codec.decode_result::<A>(frame, value) else {
        return;
    };
    let mut out = Vec::new();
    codec.encode_result(&id, &a, &mut out).unwrap();
    let r = codec.decode_reply(&out).expect("our reply decodes");
    assert_eq!(r.id, Some(id));
    let back: A = codec.decode_result(&out, r.outcome.unwrap()).unwrap();
    assert_eq!(back, a);
}

fuzz_target!(|data: &[u8]| {
    let codec = BinaryCodec;
    match codec.decode_request(data) {
        Incoming::Single(Ok(r)) => {
            let method = r.method.into_owned();
            let p = r.params;
            typed::<(i64, i64)>(data, p.clone(), r.id, &method);
            typed::<String>(data, p.clone(), r.id, &method);
            typed::<Vec<u8>>(data, p.clone(), r.id, &method);
            typed::<Vec<String>>(data, p.clone(), r.id, &method);
            typed::<(u8, Option<u32>, Vec<(i16, bool)>)>(data, p.clone(), r.id, &method);
            typed::<()>(data, p, r.id, &method);
        }
        Incoming::Single(Err((_, e))) => assert!(e.code < 0),
        Incoming::Batch(_) => panic!("the binary codec has no batches"),
    }
    if let Ok(reply) = codec.decode_reply(data) {
        match reply.outcome {
            Ok(range) => {
                let id = reply.id.expect("a result has an id");
                result::<(i64, i64)>(data, range.clone(), id);
                result::<String>(data, range.clone(), id);
                result::<Vec<Vec<u8>>>(data, range.clone(), id);
                result::<Option<u32>>(data, range, id);
            }
            Err(obj) => {
                let mut out = Vec::new();
                codec.encode_error(reply.id.as_ref(), &obj, &mut out);
                let again = codec.decode_reply(&out).unwrap();
                assert_eq!(again.id, reply.id);
                assert_eq!(again.outcome.unwrap_err(), obj);
            }
        }
    }
});
