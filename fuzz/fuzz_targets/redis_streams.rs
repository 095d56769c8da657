//! Redis stream replies as a `StreamConsumer` decodes them: the RESP bytes the server sends
//! (parsed by the `redis` crate), then the crate's reading of `XREADGROUP` and `XAUTOCLAIM`
//! replies and of each entry's `data` field. Errors are values, never panics. Round trip:
//! entries read from a reply, written again as an `XREADGROUP` reply, read back equal.
#![no_main]

use ipcring::__fuzz::redis::{
    data_of, parse_autoclaim_reply, parse_read_reply, parse_redis_value, Entry, Value,
};
use libfuzzer_sys::fuzz_target;

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// A RESP2 encoding of the values a stream entry holds.
fn resp(out: &mut Vec<u8>, v: &Value) -> bool {
    match v {
        Value::Nil => out.extend_from_slice(b"*-1\r\n"),
        Value::BulkString(b) => bulk(out, b),
        Value::Int(i) => out.extend_from_slice(format!(":{i}\r\n").as_bytes()),
        Value::Array(items) => {
            out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            for i in items {
                if !resp(out, i) {
                    return false;
                }
            }
        }
        Value::SimpleString(s) if !s.contains(['\r', '\n']) => {
            out.extend_from_slice(format!("+{s}\r\n").as_bytes())
        }
        _ => return false,
    }
    true
}

/// `[[key, [[id, fields | nil], ...]]]`
fn read_reply(entries: &[Entry]) -> Option<Vec<u8>> {
    let mut out = b"*1\r\n*2\r\n".to_vec();
    bulk(&mut out, b"key");
    out.extend_from_slice(format!("*{}\r\n", entries.len()).as_bytes());
    for (id, fields) in entries {
        out.extend_from_slice(b"*2\r\n");
        bulk(&mut out, id.as_bytes());
        match fields {
            None => out.extend_from_slice(b"*-1\r\n"),
            Some(f) => {
                if !resp(&mut out, &Value::Array(f.clone())) {
                    return None;
                }
            }
        }
    }
    Some(out)
}

fn check(entries: &[Entry]) {
    for (_, fields) in entries {
        if let Some(f) = fields {
            let _ = data_of(f);
        }
    }
    let Some(bytes) = read_reply(entries) else {
        return;
    };
    let v = parse_redis_value(&bytes).expect("our reply parses");
    let again = parse_read_reply(v).expect("our reply reads");
    assert_eq!(again.len(), entries.len());
    for ((id1, f1), (id2, f2)) in entries.iter().zip(&again) {
        assert_eq!(id1, id2);
        assert_eq!(f1.as_ref().map(|f| f.len()), f2.as_ref().map(|f| f.len()));
        if let (Some(f1), Some(f2)) = (f1, f2) {
            assert_eq!(data_of(f1), data_of(f2));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = parse_redis_value(data) else {
        return;
    };
    if let Ok(entries) = parse_read_reply(v.clone()) {
        check(&entries);
    }
    if let Ok((_cursor, entries, _deleted)) = parse_autoclaim_reply(v) {
        check(&entries);
    }
});
