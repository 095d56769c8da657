//! The segment kinds of this crate in one table: the number each writes into the common
//! header's `kind` field, its name, and its roles (which lock byte each takes).
//!
//! The segment layer ([`crate::segment`]) creates, opens and inspects segments through a
//! [`Kind`] it is handed and names an unknown file's kind through [`by_id`]; it knows no
//! kind itself. Each kind's module (ring, seqlock, broadcast, service) takes its descriptor
//! and roles from here. One table, so that two kinds can never share a number: checked at
//! compile time below. [`shared_layout!`] declares and checks the shared structs of each
//! kind's header. This module imports nothing of the crate: every layer may use it.

/// A segment kind: what the segment layer needs to know of it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Kind {
    /// The value of the common header's `kind` field (docs/LAYOUT.md).
    pub id: u32,
    /// Its name in errors, `ipcring ls` and `inspect` ("ring", "seqlock", ...).
    pub name: &'static str,
    /// Its fixed roles, each on its own lock byte.
    pub roles: &'static [Role],
}

/// A role a handle takes on a segment: a record lock on one byte of the file (exclusive
/// for a single holder such as a producer, shared for many such as seqlock readers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Role {
    /// The byte the lock covers (below [`FIXED_ROLE_BYTES`] for fixed roles).
    pub byte: u64,
    /// Its name in errors and logs ("producer", "writer", ...).
    pub name: &'static str,
}

impl Role {
    /// The role on lock byte `byte`, named `name`.
    pub(crate) const fn new(byte: u64, name: &'static str) -> Role {
        Role { byte, name }
    }
}

impl Kind {
    /// The kind numbered `id`, named `name`, with its fixed `roles`.
    pub(crate) const fn new(id: u32, name: &'static str, roles: &'static [Role]) -> Kind {
        Kind { id, name, roles }
    }

    /// The name of the fixed role on lock byte `byte`, if this kind has one.
    pub(crate) fn role_name(&self, byte: u64) -> Option<&'static str> {
        self.roles.iter().find(|r| r.byte == byte).map(|r| r.name)
    }
}

/// The ring's producer.
pub(crate) const PRODUCER: Role = Role::new(0, "producer");
/// The ring's consumer.
pub(crate) const CONSUMER: Role = Role::new(1, "consumer");
/// A one-to-one ring (`ring`).
pub(crate) const RING: Kind = Kind::new(1, "ring", &[PRODUCER, CONSUMER]);

/// The seqlock's writer.
pub(crate) const WRITER: Role = Role::new(0, "writer");
/// The seqlock's readers (a shared lock: any number hold it).
pub(crate) const READERS: Role = Role::new(1, "readers");
/// A seqlock cell (`seqlock`).
pub(crate) const SEQLOCK: Kind = Kind::new(2, "seqlock", &[WRITER, READERS]);

/// The broadcast ring's publisher.
pub(crate) const PUBLISHER: Role = Role::new(0, "publisher");
/// The broadcast ring's subscribers (a shared lock: any number hold it).
pub(crate) const SUBSCRIBERS: Role = Role::new(1, "subscribers");
/// A broadcast ring (`broadcast`).
pub(crate) const BROADCAST: Kind = Kind::new(3, "broadcast", &[PUBLISHER, SUBSCRIBERS]);

/// The service's server (its listener segment's owner).
pub(crate) const SERVER: Role = Role::new(0, "server");
/// A service's listener segment (`service`): clients lock their connection entries on
/// bytes past the fixed roles.
pub(crate) const LISTENER: Kind = Kind::new(4, "service", &[SERVER]);

/// A service client's hold on its own channel.
pub(crate) const CLIENT: Role = Role::new(0, "client");
/// One client's channel to a service (`service channel`).
pub(crate) const CHANNEL: Kind = Kind::new(5, "service channel", &[CLIENT]);

/// How many lock bytes, from byte 0, a segment reserves for fixed roles.
pub(crate) const FIXED_ROLE_BYTES: u64 = 8;

/// Every kind of this crate.
pub(crate) const ALL: [&Kind; 5] = [&RING, &SEQLOCK, &BROADCAST, &LISTENER, &CHANNEL];

/// The kind whose header number is `id`, if it is one of this crate's.
pub(crate) fn by_id(id: u32) -> Option<&'static Kind> {
    ALL.into_iter().find(|k| k.id == id)
}

/// The kind named `name` (as [`Kind::name`] spells it), if it is one of this crate's.
pub(crate) fn by_name(name: &str) -> Option<&'static Kind> {
    ALL.into_iter().find(|k| k.name == name)
}

// Numbers unique and never 0 (a zeroed header must not pass for a kind); each kind's
// fixed roles on distinct bytes below the role bytes a segment reserves.
const _: () = {
    let mut i = 0;
    while i < ALL.len() {
        assert!(ALL[i].id != 0);
        let mut j = i + 1;
        while j < ALL.len() {
            assert!(ALL[i].id != ALL[j].id);
            j += 1;
        }
        let roles = ALL[i].roles;
        let mut a = 0;
        while a < roles.len() {
            assert!(roles[a].byte < FIXED_ROLE_BYTES);
            let mut b = a + 1;
            while b < roles.len() {
                assert!(roles[a].byte != roles[b].byte);
                b += 1;
            }
            a += 1;
        }
        i += 1;
    }
};

/// Marks `#[repr(C)]` header structs as [`SharedPlain`](crate::sys::SharedPlain) and asserts
/// their layout at compile time (docs/LAYOUT.md): each listed field at its offset, the size,
/// and the alignment where one is given. Both outside loom only, where a `WakeWord` also
/// carries loom's mutex and is neither plain nor 8 bytes.
///
/// Each struct is written `unsafe Name { field: offset, ... } size N[, align A];` after a
/// `// SAFETY:` line that says why it is plain (repr(C) of atomics and private padding that
/// nothing reads: valid for every bit pattern, no pointers, changed only atomically).
macro_rules! shared_layout {
    ($(
        unsafe $ty:ident { $($field:ident: $offset:expr),* $(,)? }
        size $size:expr $(, align $align:expr)?;
    )+) => {$(
        // SAFETY: the `// SAFETY:` line of the invocation, before `unsafe $ty`.
        #[cfg(not(loom))]
        unsafe impl crate::sys::SharedPlain for $ty {}
        #[cfg(not(loom))]
        const _: () = {
            $(assert!(::std::mem::offset_of!($ty, $field) == $offset);)*
            assert!(::std::mem::size_of::<$ty>() == $size);
            $(assert!(::std::mem::align_of::<$ty>() == $align);)?
        };
    )+};
}
pub(crate) use shared_layout;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_found_by_its_number_and_name() {
        for k in ALL {
            assert_eq!(by_id(k.id), Some(k));
            assert_eq!(by_name(k.name), Some(k));
        }
        assert_eq!(by_id(0), None);
        assert_eq!(by_name("pipe"), None);
        assert_eq!(RING.role_name(1), Some("consumer"));
        assert_eq!(LISTENER.role_name(3), None);
    }
}
