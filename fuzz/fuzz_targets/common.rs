//! What several fuzz targets share, included by each with `mod common;`.
#![allow(dead_code)]

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

/// A path in the temporary directory for this process and `tag`, with nothing at it.
pub fn fresh_path(tag: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("ipcring-fuzz-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// Writes `bytes` as a whole new file at `path` with mode 0600, as the crate creates
/// segments: a wider mode is refused at open before the header is read, which is not what
/// the targets that call this check.
pub fn write_segment_file(path: &std::path::Path, bytes: &[u8]) {
    std::os::unix::fs::OpenOptionsExt::mode(
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
        0o600,
    )
    .open(path)
    .and_then(|mut f| std::io::Write::write_all(&mut f, bytes))
    .unwrap();
}

/// Modes 0 and 1 of the hostile-segment targets, which put a segment file at `path`: in
/// mode 0 the input bytes themselves; in mode 1 a valid segment made by `make` (kept when
/// its handle drops), with up to 1 KiB of the input written over it at `offset`.
pub fn hostile_segment_file(
    path: &std::path::Path,
    mode: u8,
    input: &[u8],
    make: impl FnOnce(),
    offset: u64,
) {
    use std::os::unix::fs::FileExt;
    if mode % 3 == 0 {
        write_segment_file(path, input);
    } else {
        make();
        let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.write_all_at(&input[..input.len().min(1024)], offset)
            .unwrap();
    }
}

/// The input read as a script of 10-byte steps: (op, arg, up to 8 bytes), the last step
/// possibly shorter (a missing arg reads as 0).
pub fn steps(script: &[u8]) -> impl Iterator<Item = (u8, u64, &[u8])> {
    script.chunks(10).map(|step| {
        let op = step[0];
        let arg = step.get(1).copied().unwrap_or(0) as u64;
        (op, arg, &step[2.min(step.len())..])
    })
}

/// The sizes (1..=64) of the pieces a stream of `len` bytes is written in, from `seed`
/// (not 0).
pub fn pieces(mut seed: u32, len: usize) -> Vec<usize> {
    let (mut out, mut off) = (Vec::new(), 0);
    while off < len {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let n = ((1 + seed % 64) as usize).min(len - off);
        out.push(n);
        off += n;
    }
    out
}

/// How a stream of Python-framed messages ends.
#[derive(Debug, PartialEq, Clone, Copy)]
pub enum End {
    Clean,
    Partial,
    Negative,
    TooLarge,
}

/// Python's `send_bytes` framing (4-byte big-endian signed length, or -1 and an 8-byte
/// length), parsed on its own, frames of at most `max` bytes: the whole frames, then how
/// the stream ends.
pub fn py_frames(mut rest: &[u8], max: usize) -> (Vec<&[u8]>, End) {
    let mut frames = Vec::new();
    loop {
        if rest.is_empty() {
            return (frames, End::Clean);
        }
        if rest.len() < 4 {
            return (frames, End::Partial);
        }
        let short = i32::from_be_bytes(rest[..4].try_into().unwrap());
        let (len, used) = if short >= 0 {
            (short as u64, 4)
        } else if short == -1 {
            if rest.len() < 12 {
                return (frames, End::Partial);
            }
            (u64::from_be_bytes(rest[4..12].try_into().unwrap()), 12)
        } else {
            return (frames, End::Negative);
        };
        if len > max as u64 {
            return (frames, End::TooLarge);
        }
        let len = len as usize;
        if rest.len() - used < len {
            return (frames, End::Partial);
        }
        frames.push(&rest[used..used + len]);
        rest = &rest[used + len..];
    }
}

/// Writes all of `bytes` to `fd` without SIGPIPE (the receiver may have shut the socket).
pub fn put(fd: &UnixStream, bytes: &[u8]) {
    let mut off = 0;
    while off < bytes.len() {
        // SAFETY: the pointer and length describe the live slice `bytes[off..]`.
        let n = unsafe {
            libc::send(
                fd.as_raw_fd(),
                bytes[off..].as_ptr().cast(),
                bytes.len() - off,
                libc::MSG_NOSIGNAL,
            )
        };
        if n <= 0 {
            return; // the receiver closed after a framing error: the rest is not read
        }
        off += n as usize;
    }
}
