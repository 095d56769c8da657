//! The command mailbox's JSON document (`shared.json`, written by other programs, Python
//! ones included), decoded as `Mailbox` reads it: a document or `Error::Corrupt`, never a
//! panic. Round trip: the document as `Mailbox` writes it decodes to the same document,
//! with the same commands in the same order and the same answers.
#![no_main]

use ipcring::__fuzz::mailbox::decode;
use ipcring::Error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode(data) {
        Ok((written, answers)) => {
            let (again, answers2) = decode(&written).expect("what we write decodes");
            assert_eq!(answers, answers2);
            assert_eq!(written, again, "{}", String::from_utf8_lossy(data));
        }
        Err(Error::Corrupt(_)) => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
});
