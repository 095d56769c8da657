//! Property tests of the codecs and the server's frame handling: any bytes are answered
//! without a panic, and every value travels unchanged.

use proptest::prelude::*;

use super::{BinaryCodec, Codec, HandlerError, Incoming, JsonCodec, Server};

fn server<C: Codec>(codec: C) -> Server<C> {
    let mut s = Server::new(codec);
    s.register("add", |(a, b): (i64, i64)| Ok(a.wrapping_add(b)))
        .register("echo", |v: (String, Vec<u8>, Option<u32>)| Ok(v))
        .register("fail", |m: String| -> Result<(), HandlerError> {
            Err(HandlerError::new(m))
        });
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the bytes, the binary server answers (or stays silent) with a frame its
    /// client can decode, and never panics.
    #[test]
    fn binary_server_answers_any_bytes(frame in proptest::collection::vec(any::<u8>(), 0..64)) {
        let s = server(BinaryCodec);
        let mut out = Vec::new();
        if s.handle_frame(&frame, &mut out) {
            prop_assert!(BinaryCodec.decode_reply(&out).is_ok());
        }
    }

    /// The same with a binary prefix that looks like a request, so decoding gets further.
    #[test]
    fn binary_server_answers_any_request_body(
        method in prop::sample::select(vec!["add", "echo", "fail", "nope"]),
        body in proptest::collection::vec(any::<u8>(), 0..48),
    ) {
        let mut frame = vec![0xB1, 7, method.len() as u8];
        frame.extend_from_slice(method.as_bytes());
        frame.extend_from_slice(&body);
        let s = server(BinaryCodec);
        let mut out = Vec::new();
        prop_assert!(s.handle_frame(&frame, &mut out));
        let r = BinaryCodec.decode_reply(&out).unwrap();
        prop_assert_eq!(r.id, Some(7));
    }

    /// Whatever the bytes, the JSON server answers with JSON (an object, or an array for a
    /// batch) or stays silent (notifications), and never panics.
    #[test]
    fn json_server_answers_any_text(text in "[\\[\\]{}\":,0-9a-z. -]{0,64}") {
        let s = server(JsonCodec);
        let mut out = Vec::new();
        if s.handle_frame(text.as_bytes(), &mut out) {
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            prop_assert!(v.is_object() || v.is_array());
            if v.is_object() {
                prop_assert!(JsonCodec.decode_reply(&out).is_ok());
            }
        }
    }

    /// Arguments and results travel unchanged through both codecs and the server.
    #[test]
    fn values_round_trip(
        id in 1u64..,
        s in ".{0,20}",
        bytes in proptest::collection::vec(any::<u8>(), 0..20),
        n in any::<Option<u32>>(),
    ) {
        let args = (s.clone(), bytes.clone(), n);
        round_trip(BinaryCodec, id, &args)?;
        round_trip(JsonCodec, id, &args)?;
    }
}

fn round_trip<C: Codec>(
    codec: C,
    id: u64,
    args: &(String, Vec<u8>, Option<u32>),
) -> Result<(), TestCaseError> {
    let mut req = Vec::new();
    codec
        .encode_request(Some(id), "echo", args, &mut req)
        .unwrap();
    let Incoming::Single(Ok(r)) = codec.decode_request(&req) else {
        return Err(TestCaseError::fail("request does not decode"));
    };
    prop_assert_eq!(&*r.method, "echo");
    let mut out = Vec::new();
    prop_assert!(server(codec.clone()).handle_frame(&req, &mut out));
    let reply = codec.decode_reply(&out).unwrap();
    prop_assert_eq!(reply.id, Some(id));
    let back: (String, Vec<u8>, Option<u32>) =
        codec.decode_result(&out, reply.outcome.unwrap()).unwrap();
    prop_assert_eq!(&back, args);
    Ok(())
}
