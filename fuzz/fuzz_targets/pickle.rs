//! The pickle decoder (what Python's `Connection.send(obj)` puts in a frame), on any bytes:
//! a clean `Error::Codec` or a value, never a panic, a hang or a huge allocation; no code
//! runs (globals become `None`). Round trip: a decoded value, encoded and decoded again,
//! encodes to the same bytes (byte equality, so NaNs compare equal).
#![no_main]

use ipcring::socket::pickle::{self, Value};
use ipcring::Error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match pickle::value_from_slice(data) {
        Ok(v) => {
            let bytes = pickle::value_to_vec(&v).expect("a decoded value encodes");
            let v2 = pickle::value_from_slice(&bytes).expect("what we encode decodes");
            let bytes2 = pickle::value_to_vec(&v2).unwrap();
            assert_eq!(bytes, bytes2, "{v:?} -> {v2:?}");
        }
        Err(Error::Codec(_)) => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
    // The typed (serde) path: no panic whatever the target type.
    let _ = pickle::from_slice::<Vec<i64>>(data);
    let _ = pickle::from_slice::<(String, Vec<u8>, Option<f64>)>(data);
    let _ = pickle::from_slice::<std::collections::BTreeMap<String, Vec<String>>>(data);
    let _ = pickle::from_slice::<Value>(data);
});
