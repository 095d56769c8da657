//! A live service (a listener, a connected client) whose shared memory the fuzzer writes
//! while both use it: the listener's header and connection entries (what the accept
//! handshake reads: entry states, nonces, challenges, refusals) and the client's channel
//! (slot headers, lengths, proofs, the closed flag). New clients connect meanwhile, with
//! and without the right auth key. Nothing may panic, hang or touch memory outside the
//! mappings: the server sees requests of valid size or drops the client; the client sees
//! answers of valid size or an error.
//!
//! Input: byte 0 bit 0 = the listener has an auth key; then 10-byte steps (op, arg, 8
//! bytes): 0 poke the listener file, 1 poke the channel, 2 submit, 3 serve, 4 take an
//! answer, 5 connect another client.
#![no_main]

mod common;

use std::collections::VecDeque;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ipcring::ring::WaitStrategy;
use ipcring::service::{Client, Listener, ServiceOptions};
use libfuzzer_sys::fuzz_target;

const KEY: &[u8] = b"Do not let eve find us!";
/// 512-byte channel header + 2 slots of 128 bytes (messages up to 120 bytes).
const CHANNEL_LEN: usize = 512 + 2 * 128;
/// How long the clients that come later may take to connect.
const SHORT: Duration = Duration::from_millis(50);

fn opts(key: Option<&[u8]>, timeout: Duration) -> ServiceOptions {
    let o = ServiceOptions::new()
        .max_clients(3)
        .slots(2)
        .max_message(120)
        .wait(WaitStrategy::Spin)
        .open_timeout(timeout);
    match key {
        Some(k) => o.auth_key(k),
        None => o,
    }
}

/// Polls the listener while `connect` runs on another thread.
fn connect_while_serving(
    l: &mut Listener,
    name: &str,
    key: Option<&'static [u8]>,
    timeout: Duration,
) -> ipcring::Result<Client> {
    let name = name.to_owned();
    let t = std::thread::spawn(move || Client::connect(&name, &opts(key, timeout)));
    let end = Instant::now() + timeout * 10;
    while !t.is_finished() && Instant::now() < end {
        if let Ok(req) = l.try_recv() {
            drop(req); // answered empty
        }
    }
    t.join().unwrap()
}

/// The start of a mapping of the client's channel in this process's address space.
fn channel_of(listener_path: &str, entry: u32) -> Option<*const AtomicU64> {
    let prefix = format!("{listener_path}.{entry}.");
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find(|l| l.contains(&prefix)).and_then(|l| {
        let start = usize::from_str_radix(l.split('-').next()?, 16).ok()?;
        Some(start as *const AtomicU64)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, script)) = data.split_first() else {
        return;
    };
    let key = (flags & 1 == 1).then_some(KEY);
    let path = common::fresh_path("svc");
    let p = path.to_str().unwrap().to_owned();
    let mut l = Listener::bind(&p, &opts(key, SHORT)).unwrap();
    // The first client must get in, however busy the machine.
    let client = connect_while_serving(&mut l, &p, key, Duration::from_secs(5)).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let listener_len = file.metadata().unwrap().len();
    let mut tickets = VecDeque::new();
    let mut others = Vec::new();
    for (op, arg, bytes) in common::steps(script) {
        let arg = arg as usize;
        let mut word = [0u8; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        match op % 6 {
            0 => {
                let at = (arg as u64 * 8) % listener_len;
                let _ = file.write_all_at(&word, at);
            }
            1 => {
                // Looked up at each poke: the client maps its channel for as long as it
                // lives, the server only until it drops the client.
                let chan = channel_of(&p, client.entry()).expect("the channel's mapping");
                let at = (arg * 8) % CHANNEL_LEN;
                // SAFETY: `chan` is the start of this process's live shared mapping of the
                // client's channel, CHANNEL_LEN bytes long (its file's size); `at` is
                // 8-aligned and inside it. An atomic store is how a peer writes it.
                unsafe { (*chan.add(at / 8)).store(u64::from_le_bytes(word), Ordering::Release) };
            }
            2 => {
                if let Ok(t) = client.submit(&word[..arg % 9]) {
                    tickets.push_back(t);
                }
            }
            3 => {
                if let Ok(mut req) = l.try_recv() {
                    assert!(req.len() <= req.max_answer());
                    let n = arg % (req.max_answer() + 1);
                    req.buffer()[..8].copy_from_slice(&word);
                    let _ = req.respond(n);
                }
            }
            4 => {
                if let Some(t) = tickets.front() {
                    match client.is_answered(t) {
                        Ok(true) => {
                            let t = tickets.pop_front().unwrap();
                            if let Ok(a) = client.wait(t) {
                                assert!(a.len() <= client.max_message());
                            }
                        }
                        Ok(false) => {}
                        Err(_) => {
                            tickets.pop_front();
                        }
                    }
                }
            }
            _ => {
                let k = match (key, arg % 3) {
                    (_, 0) => None,
                    (_, 1) => Some(&b"not the key"[..]),
                    _ => Some(KEY),
                };
                if let Ok(c) = connect_while_serving(&mut l, &p, k, SHORT) {
                    others.push(c);
                }
            }
        }
    }
    drop(tickets);
    drop(others);
    drop(client);
    drop(l);
    let _ = std::fs::remove_file(&path);
});
