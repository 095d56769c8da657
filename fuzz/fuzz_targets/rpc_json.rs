//! The JSON-RPC 2.0 codec on any frame: requests (single and batches) as a server decodes
//! them, replies as a client decodes them; errors are values, never panics. Round trip:
//! a decoded request or reply, encoded again, decodes to the same thing.
#![no_main]

use ipcring::rpc::{Codec, ErrorObject, Incoming, JsonCodec};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn check_request(id: Option<Value>, method: &str, params: Value) {
    let codec = JsonCodec;
    // Arguments into a few handler types: errors are strings, never panics.
    let _ = codec.decode_params::<(i64, i64)>(&[], params.clone());
    let _ = codec.decode_params::<Vec<String>>(&[], params.clone());
    let _ = codec.decode_params::<()>(&[], params.clone());
    let _ = codec.decode_params::<String>(&[], params.clone());
    // The client sends integer ids only; re-encode those requests.
    let id = match id {
        None => None,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(_) => return,
    };
    let mut out = Vec::new();
    codec.encode_request(id, method, &params, &mut out).unwrap();
    let Incoming::Single(Ok(req)) = codec.decode_request(&out) else {
        panic!(
            "our request does not decode: {}",
            String::from_utf8_lossy(&out)
        );
    };
    assert_eq!(req.id.map(|v| v.as_u64().unwrap()), id);
    assert_eq!(req.method, method);
    assert_eq!(req.params, params);
}

fuzz_target!(|data: &[u8]| {
    let codec = JsonCodec;
    match codec.decode_request(data) {
        Incoming::Single(Ok(r)) => check_request(r.id, &r.method.into_owned(), r.params),
        Incoming::Single(Err((_, e))) => assert!(e.code < 0),
        Incoming::Batch(entries) => {
            assert!(!entries.is_empty());
            let mut replies = Vec::new();
            for e in entries {
                match e {
                    Ok(r) => {
                        let mut out = Vec::new();
                        if let Some(id) = &r.id {
                            codec.encode_result(id, &r.params, &mut out).unwrap();
                            replies.push(out);
                        }
                        check_request(r.id, &r.method.into_owned(), r.params);
                    }
                    Err((id, obj)) => {
                        let mut out = Vec::new();
                        codec.encode_error(id.as_ref(), &obj, &mut out);
                        replies.push(out);
                    }
                }
            }
            // The batch reply is a JSON array of reply objects.
            let mut out = Vec::new();
            codec.encode_batch(&replies, &mut out).unwrap();
            let v: Value = serde_json::from_slice(&out).expect("batch reply is JSON");
            assert_eq!(v.as_array().map(Vec::len), Some(replies.len()));
        }
    }
    if let Ok(reply) = codec.decode_reply(data) {
        let id = reply.id.map_or(Value::Null, Value::from);
        let mut out = Vec::new();
        match &reply.outcome {
            Ok(v) => codec.encode_result(&id, v, &mut out).unwrap(),
            Err(obj) => codec.encode_error(Some(&id), obj, &mut out),
        }
        let again = codec.decode_reply(&out).expect("our reply decodes");
        assert_eq!(again.id, reply.id);
        match (&again.outcome, &reply.outcome) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("outcome changed"),
        }
        let _ =
            codec.decode_result::<(i64, String)>(&out, reply.outcome.clone().unwrap_or_default());
        let _: Option<&ErrorObject> = reply.outcome.as_ref().err();
    }
});
