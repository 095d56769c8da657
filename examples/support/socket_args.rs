//! The command line both socket examples read, included by each with
//! `#[path = "support/socket_args.rs"] mod socket_args;`.

use ipcring::socket::{DEFAULT_ADDRESS, DEFAULT_AUTHKEY};

/// The address and the authentication key: the first two arguments, else the defaults of
/// Python's `multiprocessing.connection` examples.
pub fn address_and_authkey() -> (String, Vec<u8>) {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| DEFAULT_ADDRESS.to_owned());
    let authkey = args
        .next()
        .map(String::into_bytes)
        .unwrap_or_else(|| DEFAULT_AUTHKEY.to_vec());
    (address, authkey)
}
