//! Kept for tests/service.rs, which includes this path: Alice lives in
//! `tests/support/rpc_alice.rs`.
#![allow(dead_code, unused_imports)]

#[path = "../support/rpc_alice.rs"]
mod alice;

pub use alice::*;
