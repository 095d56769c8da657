//! The pickle codec: what Python's `Connection.send(obj)` / `recv()` put in a frame.
//!
//! Python pickles objects with protocol 4 (3.11, 3.12); this codec reads protocols 0 to 5
//! and writes protocol 3, which every Python 3 reads. Decoding never runs code: pickled
//! globals and `__reduce__` tricks are refused (or replaced by `None` in [`Value`]s).
//!
//! A pickle can say "the same object again" (memo references, `DUP`); a decoded [`Value`]
//! is a tree, so every such reference is a copy. Before decoding, the bytes are checked
//! (in one pass, without building anything) so that a few bytes cannot ask for an
//! exponentially large value or a nesting that would exhaust the stack: a pickle whose
//! value would cost more than [`MAX_EXPANSION`] units per byte of pickle (plus
//! [`EXPANSION_ALLOWANCE`]; one unit per value and per byte of string, bytes or integer),
//! or nest deeper than [`MAX_DEPTH`], or refer to itself, is refused with
//! [`Error::Codec`].
//!
//! ```
//! use ipcring::socket::pickle::{self, Value};
//!
//! # fn main() -> ipcring::Result<()> {
//! let bytes = pickle::to_vec(&vec![8i64, 8])?;          // what Python's send([8, 8]) carries
//! let back: Vec<i64> = pickle::from_slice(&bytes)?;
//! assert_eq!(back, [8, 8]);
//! let v = pickle::value_from_slice(&pickle::value_to_vec(&Value::Bytes(b"stop server".to_vec()))?)?;
//! assert_eq!(v, Value::Bytes(b"stop server".to_vec()));
//! # Ok(())
//! # }
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, Result};

/// A Python value as pickled: `None`, bools, ints, floats, `bytes`, `str`, lists, tuples,
/// sets, dicts. Re-exported from `serde-pickle`.
pub use serde_pickle::Value;

/// A hashable Python value (dict keys and set members). Re-exported from `serde-pickle`.
pub use serde_pickle::HashableValue;

/// The deepest nesting a decoded value may have (lists in lists...), as for JSON in
/// `serde_json`: decoding, encoding and dropping a value recurse once per level, and 128
/// levels fit a 2 MiB thread stack even in a debug build.
pub const MAX_DEPTH: u32 = 128;
/// How many units (one per value, one per byte of payload) a decoded value, counting every
/// copy a reference makes, may cost per byte of pickle. A pickle without shared references
/// costs about one unit per byte; a unit is a few dozen bytes of memory once decoded.
pub const MAX_EXPANSION: u64 = 4;
/// Units every pickle may use beyond [`MAX_EXPANSION`] per byte (1 Mi).
pub const EXPANSION_ALLOWANCE: u64 = 1 << 20;

fn codec(e: serde_pickle::Error) -> Error {
    Error::Codec(format!("pickle: {e}").into())
}

/// Pickles a serde value. `Vec<T>` becomes a Python list, a tuple a tuple, a map a dict,
/// `String` a `str`; use [`Value::Bytes`] (or `serde_bytes`) for Python `bytes`.
///
/// ```
/// let b = ipcring::socket::pickle::to_vec(&(1, "two"))?;
/// # Ok::<(), ipcring::Error>(())
/// ```
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    serde_pickle::to_vec(&value, serde_pickle::SerOptions::new()).map_err(codec)
}

/// Unpickles into a serde value.
///
/// ```
/// use ipcring::socket::pickle;
/// let n: i64 = pickle::from_slice(&pickle::to_vec(&64i64)?)?;
/// assert_eq!(n, 64);
/// # Ok::<(), ipcring::Error>(())
/// ```
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    guard::check(bytes)?;
    serde_pickle::from_slice(bytes, serde_pickle::DeOptions::new()).map_err(codec)
}

/// Pickles a [`Value`].
///
/// ```
/// use ipcring::socket::pickle::{self, Value};
/// let b = pickle::value_to_vec(&Value::I64(64))?;
/// assert_eq!(pickle::value_from_slice(&b)?, Value::I64(64));
/// # Ok::<(), ipcring::Error>(())
/// ```
pub fn value_to_vec(value: &Value) -> Result<Vec<u8>> {
    serde_pickle::value_to_vec(value, serde_pickle::SerOptions::new()).map_err(codec)
}

/// Unpickles into a [`Value`], whatever the Python object was (unknown globals become
/// `None` instead of failing).
///
/// ```
/// use ipcring::socket::pickle::{self, Value};
/// // Python 3.11: pickle.dumps([8, 8], protocol=4)
/// let py = b"\x80\x04\x95\t\x00\x00\x00\x00\x00\x00\x00]\x94(K\x08K\x08e.";
/// assert_eq!(pickle::value_from_slice(py)?, Value::List(vec![Value::I64(8), Value::I64(8)]));
/// # Ok::<(), ipcring::Error>(())
/// ```
pub fn value_from_slice(bytes: &[u8]) -> Result<Value> {
    guard::check(bytes)?;
    serde_pickle::value_from_slice(
        bytes,
        serde_pickle::DeOptions::new().replace_unresolved_globals(),
    )
    .map_err(codec)
}

/// The check run before decoding: walks the opcodes as `serde-pickle` 1.x reads them,
/// with every value reduced to a node of a graph (containers) or a weight (scalars), and
/// bounds what decoding would build. `serde-pickle` copies a value for `DUP`, for a memo
/// reference resolved in `REDUCE`, `STACK_GLOBAL` and `PUT`, and once per reference when it
/// turns the result into a tree; the graph shares instead, and only grows (no opcode
/// removes an item from a container), so the expanded size of a node at the end bounds
/// every copy made of it at any time. Hand-written: no crate bounds a pickle's expansion.
mod guard {
    use std::collections::HashMap;

    use super::{EXPANSION_ALLOWANCE, MAX_DEPTH, MAX_EXPANSION};
    use crate::{Error, Result};

    #[derive(Clone, Copy)]
    enum Item {
        /// A scalar: its cost in units.
        Leaf(u64),
        /// A container: its node.
        Node(u32),
    }

    #[derive(Clone, Copy)]
    struct Slot {
        item: Item,
        /// A memo reference (copied when resolved), not an owned value.
        is_ref: bool,
    }

    struct Scan<'a> {
        b: &'a [u8],
        pos: usize,
        stack: Vec<Slot>,
        stacks: Vec<Vec<Slot>>,
        memo: HashMap<u32, Item>,
        /// Per node: one unit, plus the scalars it holds.
        weight: Vec<u64>,
        /// (container, contained node).
        edges: Vec<(u32, u32)>,
        /// Nodes copied while decoding (each copy costs the node's expanded size).
        copies: Vec<u32>,
        /// Units of scalars copied while decoding.
        leaf_copies: u64,
    }

    fn bad(what: &str, pos: usize) -> Error {
        Error::Codec(format!("pickle: {what} at byte {pos}").into())
    }

    /// Checks `bytes`; `Ok` means decoding them is bounded (it may still fail).
    pub(super) fn check(bytes: &[u8]) -> Result<()> {
        let mut s = Scan {
            b: bytes,
            pos: 0,
            stack: Vec::new(),
            stacks: Vec::new(),
            memo: HashMap::new(),
            weight: Vec::new(),
            edges: Vec::new(),
            copies: Vec::new(),
            leaf_copies: 0,
        };
        let result = s.run()?;
        s.bound(result, bytes.len())
    }

    impl Scan<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8]> {
            if self.b.len() - self.pos < n {
                return Err(bad("truncated", self.pos));
            }
            let out = &self.b[self.pos..self.pos + n];
            self.pos += n;
            Ok(out)
        }

        fn byte(&mut self) -> Result<u8> {
            Ok(self.take(1)?[0])
        }

        fn le(&mut self, n: usize) -> Result<u64> {
            let mut v = [0u8; 8];
            v[..n].copy_from_slice(self.take(n)?);
            Ok(u64::from_le_bytes(v))
        }

        /// A text line (to `\n` or the end, as `serde-pickle` reads it); returns its length.
        fn line(&mut self) -> usize {
            let rest = &self.b[self.pos..];
            let n = rest
                .iter()
                .position(|&c| c == b'\n')
                .map_or(rest.len(), |i| i + 1);
            self.pos += n;
            n
        }

        fn line_id(&mut self) -> Result<u32> {
            let start = self.pos;
            let n = self.line();
            let text = &self.b[start..start + n];
            let text = text.strip_suffix(b"\n").unwrap_or(text);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| bad("bad memo id", start))
        }

        fn push(&mut self, item: Item, is_ref: bool) {
            self.stack.push(Slot { item, is_ref });
        }

        fn leaf(&mut self, units: usize) {
            self.push(Item::Leaf(units as u64), false);
        }

        fn payload(&mut self, len: u64) -> Result<()> {
            let n = usize::try_from(len).map_err(|_| bad("truncated", self.pos))?;
            self.take(n)?;
            self.leaf(1 + n);
            Ok(())
        }

        /// A payload after its length in `len_bytes` bytes (little-endian, unsigned).
        fn sized_payload(&mut self, len_bytes: usize) -> Result<()> {
            let n = self.le(len_bytes)?;
            self.payload(n)
        }

        fn pop(&mut self) -> Result<Slot> {
            self.stack
                .pop()
                .ok_or_else(|| bad("stack underflow", self.pos))
        }

        fn pop_mark(&mut self) -> Result<Vec<Slot>> {
            let prev = self
                .stacks
                .pop()
                .ok_or_else(|| bad("stack underflow", self.pos))?;
            Ok(std::mem::replace(&mut self.stack, prev))
        }

        fn copy(&mut self, item: Item) {
            match item {
                Item::Leaf(w) => self.leaf_copies = self.leaf_copies.saturating_add(w),
                Item::Node(n) => self.copies.push(n),
            }
        }

        /// A memo reference resolved: a copy.
        fn pop_resolve(&mut self) -> Result<Slot> {
            let s = self.pop()?;
            if s.is_ref {
                self.copy(s.item);
            }
            Ok(s)
        }

        fn add(&mut self, node: u32, items: &[Slot]) {
            for s in items {
                match s.item {
                    Item::Leaf(w) => {
                        let slot = &mut self.weight[node as usize];
                        *slot = slot.saturating_add(w);
                    }
                    Item::Node(c) => self.edges.push((node, c)),
                }
            }
        }

        fn node(&mut self, items: &[Slot]) -> Result<()> {
            let n =
                u32::try_from(self.weight.len()).map_err(|_| bad("too many values", self.pos))?;
            self.weight.push(1);
            self.add(n, items);
            self.push(Item::Node(n), false);
            Ok(())
        }

        /// APPEND(S), SETITEM(S), ADDITEMS: into the container on top of the stack.
        fn add_to_top(&mut self, items: &[Slot]) -> Result<()> {
            match self.stack.last() {
                Some(Slot {
                    item: Item::Node(n),
                    ..
                }) => {
                    let n = *n;
                    self.add(n, items);
                    Ok(())
                }
                _ => Err(bad("no container to add to", self.pos)),
            }
        }

        fn memoize(&mut self, id: u32) -> Result<()> {
            let top = self.pop_resolve()?;
            self.memo.insert(id, top.item);
            self.push(top.item, true);
            Ok(())
        }

        /// The memo id operand of PUT and GET (`p`, `g`: a decimal line), BINPUT and BINGET
        /// (`q`, `h`: one byte), LONG_BINPUT and LONG_BINGET (`r`, `j`: 4 bytes, little-endian).
        fn memo_id(&mut self, op: u8) -> Result<u32> {
            match op {
                b'p' | b'g' => self.line_id(),
                b'q' | b'h' => Ok(self.byte()?.into()),
                _ => Ok(self.le(4)? as u32),
            }
        }

        fn get(&mut self, id: u32) -> Result<()> {
            let item = *self
                .memo
                .get(&id)
                .ok_or_else(|| bad("unknown memo id", self.pos))?;
            self.push(item, true);
            Ok(())
        }

        /// Walks the opcodes up to STOP; returns the result.
        fn run(&mut self) -> Result<Item> {
            loop {
                let at = self.pos;
                match self.byte()? {
                    0x80 => drop(self.take(1)?), // PROTO
                    0x95 => drop(self.take(8)?), // FRAME
                    b'.' => return Ok(self.pop()?.item),
                    b'(' => {
                        let s = std::mem::take(&mut self.stack);
                        self.stacks.push(s);
                    }
                    b'0' => {
                        if self.stack.is_empty() {
                            self.pop_mark()?;
                        } else {
                            self.pop()?;
                        }
                    }
                    b'1' => drop(self.pop_mark()?),
                    b'2' => {
                        // DUP copies the value (a reference's target included).
                        let top = *self
                            .stack
                            .last()
                            .ok_or_else(|| bad("stack underflow", at))?;
                        self.copy(top.item);
                        self.push(top.item, false);
                    }
                    op @ (b'p' | b'q' | b'r') => {
                        let id = self.memo_id(op)?;
                        self.memoize(id)?;
                    }
                    0x94 => {
                        let id = self.memo.len() as u32;
                        self.memoize(id)?;
                    }
                    op @ (b'g' | b'h' | b'j') => {
                        let id = self.memo_id(op)?;
                        self.get(id)?;
                    }
                    b'N' | 0x88 | 0x89 => self.leaf(1),
                    b'I' | b'L' | b'F' | b'S' | b'V' => {
                        let n = self.line();
                        self.leaf(1 + n);
                    }
                    op @ (b'G' | b'J' | b'K' | b'M') => {
                        // BINFLOAT, BININT, BININT1, BININT2: an argument of fixed size.
                        self.take(match op {
                            b'G' => 8,
                            b'J' => 4,
                            b'K' => 1,
                            _ => 2,
                        })?;
                        self.leaf(1);
                    }
                    0x8a | b'C' | b'U' | 0x8c => self.sized_payload(1)?,
                    0x8b | b'T' => {
                        let n = self.le(4)? as u32 as i32;
                        if n < 0 {
                            return Err(bad("negative length", at));
                        }
                        self.payload(n as u64)?;
                    }
                    b'B' | b'X' => self.sized_payload(4)?,
                    0x8e | 0x8d | 0x96 => self.sized_payload(8)?,
                    b')' | b']' | b'}' | 0x8f => self.node(&[])?,
                    0x85..=0x87 => {
                        // TUPLE1, TUPLE2, TUPLE3
                        let k = usize::from(self.b[at] - 0x84);
                        if self.stack.len() < k {
                            return Err(bad("stack underflow", at));
                        }
                        let items = self.stack.split_off(self.stack.len() - k);
                        self.node(&items)?;
                    }
                    b't' | b'l' | b'd' | 0x91 => {
                        let items = self.pop_mark()?;
                        self.node(&items)?;
                    }
                    b'a' => {
                        let v = self.pop()?;
                        self.add_to_top(&[v])?;
                    }
                    b'e' | b'u' | 0x90 => {
                        let items = self.pop_mark()?;
                        self.add_to_top(&items)?;
                    }
                    b's' => {
                        let v = self.pop()?;
                        let k = self.pop()?;
                        self.add_to_top(&[k, v])?;
                    }
                    b'c' => {
                        let n = self.line() + self.line();
                        self.leaf(1 + n);
                    }
                    0x93 => {
                        self.pop_resolve()?;
                        self.pop_resolve()?;
                        self.leaf(1);
                    }
                    b'R' => {
                        // The result is made of the arguments, whose references are
                        // resolved (copied).
                        let args = self.pop_resolve()?;
                        self.pop_resolve()?;
                        self.copy(args.item);
                        self.push(args.item, false);
                    }
                    b'i' => {
                        self.line();
                        self.line();
                        self.pop_mark()?;
                        self.node(&[])?;
                    }
                    b'o' => {
                        self.pop_mark()?;
                        self.pop()?;
                        self.node(&[])?;
                    }
                    0x81 => {
                        self.pop()?;
                        self.pop()?;
                        self.node(&[])?;
                    }
                    0x92 => {
                        self.pop()?;
                        self.pop()?;
                        self.pop()?;
                        self.node(&[])?;
                    }
                    b'b' => {
                        let state = self.pop()?;
                        self.pop()?;
                        self.stack.push(state);
                    }
                    op => return Err(bad(&format!("unsupported opcode {op:#04x}"), at)),
                }
            }
        }

        /// The expanded size and depth of every node; refuses cycles, deep nesting and an
        /// expansion over the limit.
        fn bound(&self, result: Item, len: usize) -> Result<()> {
            let n = self.weight.len();
            // Children of each node, in one array (counting sort by container).
            let mut start = vec![0u32; n + 1];
            for &(p, _) in &self.edges {
                start[p as usize + 1] += 1;
            }
            for i in 0..n {
                start[i + 1] += start[i];
            }
            let mut fill = start.clone();
            let mut child = vec![0u32; self.edges.len()];
            for &(p, c) in &self.edges {
                child[fill[p as usize] as usize] = c;
                fill[p as usize] += 1;
            }
            // Iterative depth-first walk: size and depth of each node after its children.
            const NEW: u8 = 0;
            const OPEN: u8 = 1;
            const DONE: u8 = 2;
            let mut state = vec![NEW; n];
            let mut size = vec![0u64; n];
            let mut depth = vec![0u32; n];
            let mut todo: Vec<(u32, u32)> = Vec::new();
            for root in 0..n as u32 {
                if state[root as usize] != NEW {
                    continue;
                }
                state[root as usize] = OPEN;
                todo.push((root, start[root as usize]));
                while let Some(&mut (node, ref mut next)) = todo.last_mut() {
                    let end = start[node as usize + 1];
                    if *next < end {
                        let c = child[*next as usize];
                        *next += 1;
                        match state[c as usize] {
                            NEW => {
                                if todo.len() as u32 >= MAX_DEPTH {
                                    return Err(bad(
                                        &format!("values nested deeper than {MAX_DEPTH}"),
                                        len,
                                    ));
                                }
                                state[c as usize] = OPEN;
                                todo.push((c, start[c as usize]));
                            }
                            OPEN => {
                                return Err(bad(
                                    "a value that contains itself (not supported)",
                                    len,
                                ))
                            }
                            _ => {}
                        }
                        continue;
                    }
                    let kids = &child[start[node as usize] as usize..end as usize];
                    let mut s = self.weight[node as usize];
                    let mut d = 0;
                    for &c in kids {
                        s = s.saturating_add(size[c as usize]);
                        d = d.max(depth[c as usize]);
                    }
                    size[node as usize] = s;
                    depth[node as usize] = d + 1;
                    if d + 1 > MAX_DEPTH {
                        return Err(bad(&format!("values nested deeper than {MAX_DEPTH}"), len));
                    }
                    state[node as usize] = DONE;
                    todo.pop();
                }
            }
            let of = |item: Item| match item {
                Item::Leaf(w) => w,
                Item::Node(n) => size[n as usize],
            };
            let mut total = (len as u64)
                .saturating_add(self.leaf_copies)
                .saturating_add(of(result));
            for &c in &self.copies {
                total = total.saturating_add(size[c as usize]);
            }
            let limit = (len as u64)
                .saturating_mul(MAX_EXPANSION)
                .saturating_add(EXPANSION_ALLOWANCE);
            if total > limit {
                return Err(bad(
                    &format!(
                        "the value would expand to more than {limit} units (shared references copied)"
                    ),
                    len,
                ));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(bytes: &[u8], why: &str) {
        let t = std::time::Instant::now();
        match value_from_slice(bytes) {
            Err(Error::Codec(m)) => assert!(m.contains(why), "{m}"),
            other => panic!("expected a refusal ({why}), got {other:?}"),
        }
        let r = from_slice::<Vec<i64>>(bytes);
        assert!(matches!(r, Err(Error::Codec(_))), "{r:?}");
        // Refused by the check, not after building anything.
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }

    /// Found by the `pickle` fuzz target: 82 bytes of DUP and TUPLE3 that used to take
    /// minutes and gigabytes to decode (every DUP copies, so the value triples each round),
    /// though it ends in an error.
    #[test]
    fn exponential_copies_are_refused() {
        let found = b"MM\xff]2\x8f\x87\x8f\x87222\x8f2\x8f\x87\x8f\x87222\x8f\x872\x8f\x8722\x8722\
            2\x8f\x87222\x8f\x872\x8f\x8722\x87222\x8f\x872\x8f\x8722\x87222\x8f\x87222\
            \x8f\x872\x8f\x8722\x87222\x8fa\x85)1.\xff";
        refused(found, ""); // a stack underflow at its end, found before any decoding
        let mut dup = b"\x80\x04K\x01".to_vec();
        for _ in 0..40 {
            dup.extend_from_slice(b"22\x87");
        }
        dup.push(b'.');
        refused(&dup, "expand");
    }

    /// `a = []; b = [a] * 100; c = [b] * 100; ...`: tiny in Python, where the references
    /// are shared; 100^5 copies in a tree.
    #[test]
    fn memo_references_that_multiply_are_refused() {
        let mut p = b"\x80\x02]q\x00".to_vec();
        for level in 0..5u8 {
            p.push(b'(');
            for _ in 0..100 {
                p.extend_from_slice(&[b'h', level]);
            }
            p.extend_from_slice(&[b'l', b'q', level + 1]);
        }
        p.push(b'.');
        refused(&p, "expand");
    }

    /// The size that counts is the referenced value's final one: a list referenced 1000
    /// times while empty, filled afterwards, is 1000 copies of the full list.
    #[test]
    fn a_container_filled_after_its_references_is_counted_full() {
        let mut p = b"\x80\x02]q\x00(".to_vec();
        p.extend(std::iter::repeat_n(*b"h\x00", 1000).flatten());
        p.extend_from_slice(b"th\x00(");
        p.extend(std::iter::repeat_n(*b"K\x01", 50_000).flatten());
        p.extend_from_slice(b"e0.");
        refused(&p, "expand");
    }

    /// `n` lists, each appended to the one before it: nested `n` deep.
    fn nested(n: usize) -> Vec<u8> {
        let mut p = b"\x80\x02".to_vec();
        p.extend(std::iter::repeat_n(b']', n));
        p.extend(std::iter::repeat_n(b'a', n - 1));
        p.push(b'.');
        p
    }

    #[test]
    fn deep_nesting_is_refused_without_exhausting_the_stack() {
        refused(&nested(200_000), "nested deeper");
    }

    #[test]
    fn nesting_up_to_the_limit_decodes_and_encodes() {
        let mut p = nested(MAX_DEPTH as usize);
        let v = value_from_slice(&p).unwrap();
        let back = value_from_slice(&value_to_vec(&v).unwrap()).unwrap();
        assert_eq!(back, v);
        p.insert(2, b']');
        p.insert(p.len() - 1, b'a');
        refused(&p, "nested deeper");
    }

    #[test]
    fn shared_references_within_the_limit_decode() {
        // ["abc", "abc", "abc"], the string pickled once and referenced twice.
        let p = b"\x80\x02(X\x03\x00\x00\x00abcq\x00h\x00h\x00l.";
        let s = Value::String("abc".into());
        assert_eq!(
            value_from_slice(p).unwrap(),
            Value::List(vec![s.clone(), s.clone(), s])
        );
        // [[1, 2]] * 1000: a thousand copies of a small list are fine.
        let mut p = b"\x80\x02(]q\x00(K\x01K\x02e".to_vec();
        p.extend(std::iter::repeat_n(*b"h\x00", 999).flatten());
        p.extend_from_slice(b"l.");
        let Value::List(items) = value_from_slice(&p).unwrap() else {
            panic!()
        };
        assert_eq!(items.len(), 1000);
    }

    #[test]
    fn a_value_that_contains_itself_is_refused() {
        // l = []; l.append(l)
        refused(b"\x80\x02]q\x00h\x00a.", "contains itself");
    }
}
