//! The value `state_writer` publishes and `state_watcher` reads: one definition for both
//! programs, included by each with `#[path = "support/state.rs"] mod state;`.
#![allow(dead_code)]

use bytemuck::{Pod, Zeroable};

/// The shared value: a line of text and a counter.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub struct State {
    pub counter: u64,
    pub len: u32,
    pub _pad: u32,
    pub text: [u8; 256],
}

/// Identifies the `State` layout; both programs must use the same tag.
pub const STATE_TAG: u64 = 0x5354_4154_4531; // "STATE1"

/// The cell's name: the first argument, else `/ipcring-state`.
pub const DEFAULT_NAME: &str = "/ipcring-state";
