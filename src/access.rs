//! Who may own the named objects this side opens.
//!
//! Every named object a method opens — a segment (`/name` or a file path), a FIFO, a log or
//! mailbox file and its `.lock`, a signal registry directory, the listener or client at the
//! other end of a Unix socket — must by default belong to this process's effective user.
//! An object owned by anybody else is refused with [`Error::PermissionDenied`] naming the
//! path, the owner and the mode: another local user who created the name first could
//! otherwise read what this side sends, or feed it forged messages. An [`Access`] in each
//! method's options widens this to one more user (`allow_owner`) and one group
//! (`allow_group`): use it when two programs run as different users on purpose.
//!
//! Opening also refuses an object whose mode lets in more users than this side's own
//! `mode` option would have (see each method's documentation and docs/THREAT-MODEL.md).
//!
//! [`Error::PermissionDenied`]: crate::Error::PermissionDenied

/// Which owners, besides this process's effective user, an opened object may have.
///
/// The default trusts nobody else. Each options type with named objects has
/// `allow_owner(uid)` and `allow_group(gid)` methods that set this.
///
/// ```
/// use ipcring::Access;
/// let me = Access::effective_uid();
/// let stranger = me.wrapping_add(1);
/// assert!(Access::new().trusts(me, 0));
/// assert!(!Access::new().trusts(stranger, 4242));
/// let a = Access::new().allow_owner(stranger).allow_group(100);
/// assert!(a.trusts(stranger, 5));
/// assert!(a.trusts(me.wrapping_add(2), 100));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access {
    owner: Option<u32>,
    group: Option<u32>,
}

impl Access {
    /// Trust this process's effective user only.
    ///
    /// ```
    /// assert_eq!(ipcring::Access::new(), ipcring::Access::default());
    /// ```
    pub fn new() -> Access {
        Access::default()
    }

    /// Also trust objects owned by `uid` (one extra user; a second call replaces it).
    ///
    /// ```
    /// let a = ipcring::Access::new().allow_owner(0);
    /// assert!(a.trusts(0, 12345));
    /// ```
    pub fn allow_owner(mut self, uid: u32) -> Access {
        self.owner = Some(uid);
        self
    }

    /// Also trust objects whose group is `gid`, whoever owns them (one group; a second
    /// call replaces it). The group of a file is set by whoever creates it (among the
    /// groups it belongs to) or by a set-group-id directory: trust a group only in a
    /// directory where nobody outside it can create files.
    ///
    /// ```
    /// let a = ipcring::Access::new().allow_group(100);
    /// assert!(a.trusts(4242, 100));
    /// ```
    pub fn allow_group(mut self, gid: u32) -> Access {
        self.group = Some(gid);
        self
    }

    /// The extra user allowed, if any.
    ///
    /// ```
    /// assert_eq!(ipcring::Access::new().allow_owner(7).owner(), Some(7));
    /// ```
    pub fn owner(&self) -> Option<u32> {
        self.owner
    }

    /// The group allowed, if any.
    ///
    /// ```
    /// assert_eq!(ipcring::Access::new().group(), None);
    /// ```
    pub fn group(&self) -> Option<u32> {
        self.group
    }

    /// True if an object owned by `uid` with group `gid` may be used: `uid` is this
    /// process's effective uid or the allowed owner, or `gid` is the allowed group.
    ///
    /// ```
    /// let me = ipcring::Access::effective_uid();
    /// assert!(ipcring::Access::new().trusts(me, 0));
    /// ```
    pub fn trusts(&self, uid: u32, gid: u32) -> bool {
        uid == Self::effective_uid() || self.owner == Some(uid) || self.group == Some(gid)
    }

    /// This process's effective uid (the user every check compares owners with).
    ///
    /// ```
    /// let _uid = ipcring::Access::effective_uid();
    /// ```
    pub fn effective_uid() -> u32 {
        nix::unistd::geteuid().as_raw()
    }
}

/// The `allow_owner` / `allow_group` builder methods, for an options type whose
/// [`Access`] is reached by the field path given (e.g. `access` or `seg.access`).
macro_rules! access_option_methods {
    ($($field:ident).+) => {
        /// Also accept objects owned by user `uid` (default: only this process's effective
        /// user). Without it, an object another user owns is refused with
        /// [`Error::PermissionDenied`](crate::Error::PermissionDenied).
        pub fn allow_owner(mut self, uid: u32) -> Self {
            self.$($field).+ = self.$($field).+.allow_owner(uid);
            self
        }

        /// Also accept objects whose group is `gid`, whoever owns them (see
        /// [`Access::allow_group`](crate::Access::allow_group) for when that is safe).
        pub fn allow_group(mut self, gid: u32) -> Self {
            self.$($field).+ = self.$($field).+.allow_group(gid);
            self
        }
    };
}
pub(crate) use access_option_methods;
