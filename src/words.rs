//! Bytes as little-endian 64-bit words: the unit in which the seqlock and the broadcast
//! ring keep a value or a message in shared atomics (a tail shorter than a word is
//! zero-padded). No I/O, no atomics: every layer above may use it.

/// Bytes of word `i` of `bytes`, zero-padded past its end.
#[inline(always)]
pub(crate) fn word_of(bytes: &[u8], i: usize) -> u64 {
    let start = i * 8;
    match bytes.get(start..start + 8) {
        Some(w) => {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            u64::from_le_bytes(b)
        }
        None => {
            let mut b = [0u8; 8];
            let rest = bytes.get(start..).unwrap_or(&[]);
            b[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(b)
        }
    }
}

/// Stores word `w` as word `i` of `bytes` (the tail word only partly).
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn put_word(bytes: &mut [u8], i: usize, w: u64) {
    let start = i * 8;
    let b = w.to_le_bytes();
    if let Some(dst) = bytes.get_mut(start..start + 8) {
        dst.copy_from_slice(&b);
    } else if let Some(dst) = bytes.get_mut(start..) {
        let n = dst.len();
        dst.copy_from_slice(&b[..n]);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_with_a_partial_tail() {
        let bytes: Vec<u8> = (1..=11).collect();
        assert_eq!(
            word_of(&bytes, 0),
            u64::from_le_bytes([1, 2, 3, 4, 5, 6, 7, 8])
        );
        assert_eq!(
            word_of(&bytes, 1),
            u64::from_le_bytes([9, 10, 11, 0, 0, 0, 0, 0])
        );
        assert_eq!(word_of(&bytes, 2), 0);
        let mut back = [0u8; 11];
        put_word(&mut back, 0, word_of(&bytes, 0));
        put_word(&mut back, 1, word_of(&bytes, 1));
        put_word(&mut back, 2, u64::MAX); // past the end: nothing stored
        assert_eq!(&back[..], &bytes[..]);
    }
}
