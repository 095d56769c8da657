//! Kept for tests/service.rs, which includes this path beside `mod common;`: Alice lives
//! in `tests/support/rpc_alice.rs`, loaded once through `common`.

pub use crate::common::rpc_alice::*;
