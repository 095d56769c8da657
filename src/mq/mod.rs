//! POSIX message queues (`mq_overview(7)`): a kernel-kept queue of whole messages with
//! priorities, named `/something`, that outlives the processes using it. Linux only here
//! (macOS has none).
//!
//! - Created with attributes ([`MqOptions::max_messages`], [`MqOptions::message_size`]),
//!   opened by name by any number of processes, each handle sends and receives.
//! - Higher priorities are received first; equal priorities in order.
//! - Blocking, `try_` and `_timeout` forms ([`Sender`], [`Receiver`]), with or without an
//!   explicit priority ([`MessageQueue::send_priority`], [`MessageQueue::recv_priority_into`]).
//! - The handle that created the queue removes its name on drop, unless
//!   [`MqOptions::keep`] is set; messages still queued are then lost.
//! - When the kernel limits refuse a queue, the error is an [`Error::SystemLimit`] naming the
//!   limit (`msg_max`, `msgsize_max`, `queues_max`, `RLIMIT_MSGQUEUE`) and where it is set.
//!
//! # Peer death
//!
//! A message queue has no notion of a peer, so each handle announces itself: it holds a
//! shared record lock on a small *liveness file* beside the queue (`/dev/shm/ipcring-mq.<name>`,
//! created with the queue's mode), which the kernel drops when the process dies, however it
//! dies. A handle that waits (a blocking or timed receive on an empty queue, a send on a full
//! one) looks at that lock every [`LIVENESS_SLICE`] (100 ms), and returns
//! [`Error::Disconnected`] once every other handle it has known is gone: one that was
//! attached when it opened the queue, or attached since. So within about 100 ms of the last
//! peer's death (SIGKILL included), a receiver gets every message the peer sent (the kernel
//! keeps them) and then `Disconnected`; a blocked sender gets `Disconnected` and the message
//! is not sent. A peer that died before this handle opened the queue is not waited for, nor
//! mourned: the handle waits for the next one. Peers that do not use this crate (Python's
//! `posix_ipc`) hold no lock: against them a wait never ends in `Disconnected`; turn it off
//! with [`MqOptions::liveness`] when such peers come and go beside this crate's.
//!
//! The liveness file goes with the queue: the creator removes both (unless
//! [`MqOptions::keep`]), [`MessageQueue::unlink`] removes both, and when the queue's name
//! was removed some other way (by a program that does not use this crate) the last handle
//! to drop removes the file (on Linux; a handle killed by a signal cannot, and the next
//! handle of the same name reuses the file).
//!
//! # Example
//!
//! ```
//! use ipcring::mq::{MessageQueue, MqOptions};
//! use ipcring::{Receiver, Sender};
//!
//! # fn main() -> ipcring::Result<()> {
//! let name = format!("/ipcring-doc-mq-{}", std::process::id());
//! let opts = MqOptions::new().max_messages(8).message_size(256);
//! let mut alice = MessageQueue::create(&name, &opts)?;   // process A
//! let mut bob = MessageQueue::open(&name, &opts)?;       // process B
//! bob.send(b"example data")?;
//! bob.send_priority(b"urgent", 9)?;
//! assert_eq!(alice.recv()?, b"urgent");                 // higher priority first
//! assert_eq!(alice.recv()?, b"example data");
//! # Ok(())
//! # }
//! ```

use std::borrow::Cow;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use crate::sys::mq as sys;
use crate::sys::owner::{self, FileType};
use crate::sys::Location;
use crate::transport::{Deadline, Receiver, Sender};
use crate::{Error, Result, TryRecvError, TrySendError};

// The async (tokio) form, beside the blocking one.
#[cfg(all(feature = "async", target_os = "linux"))]
mod tokio;
#[cfg(all(feature = "async", target_os = "linux"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "async", target_os = "linux"))))]
pub use self::tokio::AsyncMessageQueue;

/// How often a waiting handle looks whether its peers are still alive: the bound on how
/// late a dead peer is reported as [`Error::Disconnected`] (plus scheduling delay).
pub const LIVENESS_SLICE: Duration = Duration::from_millis(100);
/// Prefix of the liveness files' names in `/dev/shm`.
const LIVENESS_PREFIX: &str = "/ipcring-mq.";
/// Byte of the liveness file on which each live handle holds a shared record lock.
const ALIVE_BYTE: u64 = 0;

/// Linux's `MQ_PRIO_MAX`: priorities are `0 .. 32768`.
pub const PRIO_MAX: u32 = 32768;
/// The kernel's hard cap on messages per queue (`HARD_MSGMAX`), even for root.
const HARD_MSGMAX: i64 = 65536;
/// The kernel's hard cap on a message's size (`HARD_MSGSIZEMAX`), even for root.
const HARD_MSGSIZEMAX: i64 = 16 * 1024 * 1024;

/// How to create or open a queue.
///
/// ```
/// use ipcring::mq::MqOptions;
/// let opts = MqOptions::new().max_messages(10).message_size(8192).mode(0o600).keep(true);
/// ```
#[derive(Debug, Clone)]
pub struct MqOptions {
    max_messages: i64,
    message_size: i64,
    mode: u32,
    keep: bool,
    priority: u32,
    access: crate::Access,
    liveness: bool,
}

impl Default for MqOptions {
    fn default() -> Self {
        MqOptions {
            max_messages: 10,
            message_size: 8192,
            mode: 0o600,
            keep: false,
            priority: 0,
            access: crate::Access::new(),
            liveness: true,
        }
    }
}

impl MqOptions {
    /// The defaults: 10 messages of 8192 bytes (Linux's default `msg_max` and
    /// `msgsize_max`, so an unprivileged process can create it), mode 0600, unlinked by its
    /// creator on drop, priority 0.
    ///
    /// ```
    /// let o = ipcring::mq::MqOptions::new();
    /// ```
    pub fn new() -> MqOptions {
        MqOptions::default()
    }

    crate::builder::setters! {
        /// Queue depth on creation (`mq_maxmsg`). Above `/proc/sys/fs/mqueue/msg_max` needs
        /// CAP_SYS_RESOURCE.
        ///
        /// ```
        /// let o = ipcring::mq::MqOptions::new().max_messages(4);
        /// ```
        max_messages(n: i64);

        /// Largest message on creation (`mq_msgsize`). Above
        /// `/proc/sys/fs/mqueue/msgsize_max` needs CAP_SYS_RESOURCE.
        ///
        /// ```
        /// let o = ipcring::mq::MqOptions::new().message_size(1024);
        /// ```
        message_size(bytes: i64);

        /// File mode of a created queue (default 0600), and the widest mode [`MessageQueue::open`]
        /// accepts (Linux): a queue that grants more, or that another user owns (see
        /// [`MqOptions::allow_owner`]), is refused with [`Error::PermissionDenied`].
        ///
        /// ```
        /// let o = ipcring::mq::MqOptions::new().mode(0o660);
        /// ```
        mode(mode: u32);

        /// Keep the queue when its creator drops (default `false`: the creator unlinks it).
        ///
        /// ```
        /// let o = ipcring::mq::MqOptions::new().keep(true);
        /// ```
        keep(keep: bool);

        /// Priority of messages sent through [`Sender`] (default 0; `0 .. 32768`).
        ///
        /// ```
        /// let o = ipcring::mq::MqOptions::new().priority(5);
        /// ```
        priority(priority: u32);

        /// Announce this handle in the queue's liveness file and report peers' death as
        /// [`Error::Disconnected`] (default `true`; see the [module docs](crate::mq)). Off, a
        /// wait ends only with a message, room or its timeout, whoever died.
        ///
        /// ```
        /// let o = ipcring::mq::MqOptions::new().liveness(false);
        /// ```
        liveness(on: bool);
    }

    crate::access::access_option_methods!(access);
}

/// The liveness file's name for queue `name` (`/x` gives `/ipcring-mq.x`; a name too long
/// for that gives a hash of it).
fn liveness_location(name: &str) -> Result<Location> {
    let mut n = format!("{LIVENESS_PREFIX}{}", &name[1..]);
    if n.len() > 255 {
        // FNV-1a, 64 bits: only needs to tell queue names apart.
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
        n = format!("{LIVENESS_PREFIX}h{h:016x}");
    }
    Location::parse(&n)
}

/// This handle's presence in the queue's liveness file, and what it knows of its peers.
#[derive(Debug)]
struct Liveness {
    file: File,
    /// Written at offset 0 when this handle attached: another value there later means
    /// another handle attached since.
    stamp: u64,
    /// Whether some other handle was alive at or after this one's attach.
    seen_peer: bool,
}

impl Liveness {
    /// Opens (creating with `mode`, as segments are: 0200 first, then `fchmod`) the liveness
    /// file of queue `name`, takes this handle's shared lock and writes its stamp.
    /// An existing file is refused, as the queue is, if a user `access` does not trust owns
    /// it or its mode is wider than the queue's.
    fn attach(name: &str, mode: u32, access: &crate::Access) -> Result<Liveness> {
        let loc = liveness_location(name)?;
        let (mut found, mut write_locked) = (None, false);
        for _ in 0..200 {
            let fd = if let Some(f) = loc.create_excl(0o200)? {
                crate::sys::fchmod(&f, mode & 0o666)?;
                f
            } else if let Some(f) = loc.open_existing(true, access)? {
                // Exists: checked as the queue is.
                let regular = crate::sys::owner::FileType::Regular;
                crate::sys::owner::check_fd(&f, &loc.display(), regular, access, mode & 0o666)?;
                f
            } else {
                // Its creator is still at 0200, or it just went away.
                std::thread::sleep(Duration::from_millis(1));
                continue;
            };
            let locked = crate::sys::try_lock_byte_shared(&fd, ALIVE_BYTE)?;
            // The last handle of a removed queue removes the file under a write lock
            // (`remove_if_last`): one opened just before that must not stay on it (it would
            // not see the handles that attach later, nor they it): start over.
            if !loc.still_names(&fd)? {
                continue;
            }
            if !locked {
                // The last handle of a removed queue holds a write lock while it removes
                // the file: look again.
                write_locked = true;
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            found = Some(fd);
            break;
        }
        let Some(fd) = found else {
            if write_locked {
                return Err(Error::Corrupt(
                    format!(
                        "{}: the liveness byte is write-locked by a foreign process",
                        loc.display()
                    )
                    .into(),
                ));
            }
            return Err(Error::io(
                format!("open {}", loc.display()),
                io::Error::from(io::ErrorKind::PermissionDenied),
            ));
        };
        let file = File::from(fd);
        let stamp = crate::sys::random_u64();
        // The lock is taken first: whoever sees this stamp finds this handle alive (or dead).
        file.write_all_at(&stamp.to_le_bytes(), 0)
            .map_err(|e| Error::io(format!("write {}", loc.display()), e))?;
        let seen_peer = crate::sys::byte_locked(&file, ALIVE_BYTE)?;
        Ok(Liveness {
            file,
            stamp,
            seen_peer,
        })
    }

    /// True once every other handle this one has known is gone.
    fn peers_gone(&mut self) -> Result<bool> {
        if crate::sys::byte_locked(&self.file, ALIVE_BYTE)? {
            self.seen_peer = true;
            return Ok(false);
        }
        if !self.seen_peer {
            let mut b = [0u8; 8];
            // Anything but our own stamp (another one, or a short file) means another handle
            // attached since we did.
            let n = self.file.read_at(&mut b, 0).unwrap_or(0);
            self.seen_peer = n < 8 || u64::from_le_bytes(b) != self.stamp;
        }
        Ok(self.seen_peer)
    }

    /// For a handle that drops after its queue's name was removed by someone else (a
    /// creator that does not use this crate, one run with [`MqOptions::keep`] removed by
    /// [`MessageQueue::unlink`] elsewhere): removes the liveness file if no other handle
    /// holds it, so that removed queues leave nothing in `/dev/shm`. Under this handle's
    /// write lock, which only it can get while it is the last: one that opens the file
    /// meanwhile finds it removed and starts over ([`Liveness::attach`]). Linux only: with
    /// the per-process record locks of other systems, another handle of this process would
    /// not keep the write lock from being granted. Errors only leave the file behind.
    #[cfg(target_os = "linux")]
    fn remove_if_last(&self, name: &str) {
        let exclusive = crate::sys::flock_for(ALIVE_BYTE, libc::F_WRLCK);
        if crate::sys::set_lock(&self.file, &exclusive, "fcntl write lock").unwrap_or(false) {
            if let Ok(loc) = liveness_location(name) {
                let _ = loc.unlink_if_still(&self.file);
            }
        }
    }
}

/// A queue's attributes ([`MessageQueue::attributes`]).
///
/// ```
/// # use ipcring::mq::{MessageQueue, MqOptions};
/// # let name = format!("/ipcring-doc-attr-{}", std::process::id());
/// let q = MessageQueue::create(&name, &MqOptions::new().max_messages(5).message_size(100))?;
/// let a = q.attributes()?;
/// assert_eq!((a.max_messages, a.message_size, a.current_messages), (5, 100, 0));
/// # Ok::<(), ipcring::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MqAttributes {
    /// Queue depth (`mq_maxmsg`).
    pub max_messages: i64,
    /// Largest message (`mq_msgsize`).
    pub message_size: i64,
    /// Messages waiting now (`mq_curmsgs`).
    pub current_messages: i64,
}

/// A handle on a POSIX message queue: sends and receives whole messages.
///
/// ```no_run
/// use ipcring::mq::{MessageQueue, MqOptions};
/// use ipcring::Receiver;
/// # fn main() -> ipcring::Result<()> {
/// let mut q = MessageQueue::open_or_create("/orders", &MqOptions::new())?;
/// let (msg, prio) = q.recv_priority()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MessageQueue {
    mqd: sys::Mq,
    name: CString,
    unlink_on_drop: bool,
    message_size: usize,
    priority: u32,
    liveness: Option<Liveness>,
}

fn check_name(name: &str) -> Result<CString> {
    let bad = |reason: &'static str| Error::InvalidName {
        name: name.to_owned(),
        reason: reason.into(),
    };
    if !name.starts_with('/') || name.len() < 2 {
        return Err(bad(
            "a message queue name is '/' followed by at least one character",
        ));
    }
    if name[1..].contains('/') {
        return Err(bad("a message queue name has no '/' after the first"));
    }
    if name.len() > 255 {
        return Err(bad("a message queue name is at most 255 bytes"));
    }
    CString::new(name).map_err(|_| bad("contains a NUL byte"))
}

fn check_priority(prio: u32) -> Result<()> {
    if prio >= PRIO_MAX {
        return Err(Error::InvalidConfig(
            format!("priority {prio} is not below {PRIO_MAX}").into(),
        ));
    }
    Ok(())
}

/// Turns an `mq_open` failure into the error a user can act on.
fn open_error(name: &str, opts: &MqOptions, creating: bool, e: io::Error) -> Error {
    let limit = |what: String, hint: String| Error::SystemLimit {
        what: what.into(),
        hint: hint.into(),
    };
    match e.raw_os_error() {
        Some(libc::ENOENT) => Error::NotFound(format!("message queue {name}")),
        Some(libc::EACCES) => {
            // On Linux the queue is visible as /dev/mqueue/<name> (for the message only).
            let at = CString::new(format!("/dev/mqueue{name}")).ok();
            crate::sys::owner::eacces(&format!("message queue {name}"), at.as_deref())
        }
        Some(libc::EEXIST) => Error::AlreadyExists(format!("message queue {name}")),
        Some(libc::ENOSYS) => {
            Error::Unsupported("POSIX message queues are not available in this kernel (CONFIG_POSIX_MQUEUE)".into())
        }
        Some(libc::EINVAL) if creating => {
            let root = sys::is_root();
            let msg_max = sys::proc_limit("msg_max");
            let msgsize_max = sys::proc_limit("msgsize_max");
            let cap = |v: Option<i64>, file: &str, hard: i64| match (v, root) {
                (Some(v), false) => format!(
                    "{file} is {v}: raise /proc/sys/fs/mqueue/{file} (sysctl fs.mqueue.{file}), or run with CAP_SYS_RESOURCE"
                ),
                (Some(v), true) => format!(
                    "{file} is {v} (/proc/sys/fs/mqueue/{file}); with CAP_SYS_RESOURCE the kernel's hard limit is {hard}"
                ),
                (None, _) => format!("see /proc/sys/fs/mqueue/{file}; the kernel's hard limit is {hard}"),
            };
            if opts.message_size > HARD_MSGSIZEMAX || (!root && msgsize_max.is_some_and(|m| opts.message_size > m)) {
                limit(
                    format!("message queue {name}: messages of {} bytes", opts.message_size),
                    cap(msgsize_max, "msgsize_max", HARD_MSGSIZEMAX),
                )
            } else if opts.max_messages > HARD_MSGMAX || (!root && msg_max.is_some_and(|m| opts.max_messages > m)) {
                limit(
                    format!("message queue {name}: {} messages", opts.max_messages),
                    cap(msg_max, "msg_max", HARD_MSGMAX),
                )
            } else {
                limit(
                    format!(
                        "message queue {name}: {} messages of {} bytes refused (EINVAL)",
                        opts.max_messages, opts.message_size
                    ),
                    format!(
                        "limits: msg_max {}, msgsize_max {} in /proc/sys/fs/mqueue",
                        msg_max.map_or("?".into(), |v| v.to_string()),
                        msgsize_max.map_or("?".into(), |v| v.to_string())
                    ),
                )
            }
        }
        Some(libc::EMFILE) => limit(
            format!("message queue {name}: per-user queue memory or descriptors exhausted"),
            "RLIMIT_MSGQUEUE (ulimit -q, default 819200 bytes) caps the bytes all queues of a user may hold \
             (about max_messages * (message_size + overhead) each); RLIMIT_NOFILE (ulimit -n) the open descriptors"
                .into(),
        ),
        Some(libc::ENOSPC) => limit(
            format!("message queue {name}: too many queues on the system"),
            format!(
                "queues_max is {}: raise /proc/sys/fs/mqueue/queues_max (sysctl fs.mqueue.queues_max)",
                sys::proc_limit("queues_max").map_or("?".into(), |v| v.to_string())
            ),
        ),
        Some(libc::ENFILE) => limit(
            format!("message queue {name}: the system's open file limit"),
            "/proc/sys/fs/file-max".into(),
        ),
        Some(libc::ENOMEM) => limit(format!("message queue {name}: out of kernel memory"), "free memory".into()),
        _ => Error::io(format!("mq_open {name}"), e),
    }
}

impl MessageQueue {
    fn from_mqd(
        mqd: sys::Mq,
        name: CString,
        creator: bool,
        opts: &MqOptions,
    ) -> Result<MessageQueue> {
        // On failure `mqd` drops: the queue is closed.
        let attr = mqd.getattr().map_err(|e| Error::io("mq_getattr", e))?;
        let message_size = usize::try_from(attr.msgsize).unwrap_or(0);
        let mut q = MessageQueue {
            mqd,
            name,
            unlink_on_drop: creator && !opts.keep,
            message_size,
            priority: opts.priority,
            liveness: None,
        };
        if opts.liveness {
            // The liveness file gets the queue's own mode, so whoever may open the queue may
            // open it. On failure `q` drops: closes the queue, and unlinks it if this handle
            // made it.
            let st = owner::fstat(q.mqd.as_fd());
            let mode = st.map_or(opts.mode, |st| st.perm() & 0o777);
            q.liveness = Some(Liveness::attach(q.name(), mode, &opts.access)?);
        }
        Ok(q)
    }

    /// Creates a new queue; [`Error::AlreadyExists`] if the name is taken. This handle
    /// unlinks the queue on drop unless [`MqOptions::keep`].
    ///
    /// ```
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// let name = format!("/ipcring-doc-create-{}", std::process::id());
    /// let q = MessageQueue::create(&name, &MqOptions::new())?;
    /// assert!(MessageQueue::create(&name, &MqOptions::new()).is_err());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn create(name: &str, opts: &MqOptions) -> Result<MessageQueue> {
        let c = check_name(name)?;
        if opts.max_messages < 1 || opts.message_size < 1 {
            return Err(Error::InvalidConfig(
                format!(
                    "a message queue needs max_messages >= 1 and message_size >= 1 (got {} and {})",
                    opts.max_messages, opts.message_size
                )
                .into(),
            ));
        }
        check_priority(opts.priority)?;
        let mqd = sys::open(
            &c,
            libc::O_RDWR | libc::O_EXCL | libc::O_CLOEXEC,
            opts.mode,
            Some((opts.max_messages, opts.message_size)),
        )
        .map_err(|e| open_error(name, opts, true, e))?;
        Self::from_mqd(mqd, c, true, opts)
    }

    /// Opens an existing queue (its attributes are the creator's); [`Error::NotFound`] if
    /// there is none.
    ///
    /// ```
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// let r = MessageQueue::open("/ipcring-doc-no-such-queue", &MqOptions::new());
    /// assert!(matches!(r, Err(ipcring::Error::NotFound(_))));
    /// ```
    pub fn open(name: &str, opts: &MqOptions) -> Result<MessageQueue> {
        let c = check_name(name)?;
        check_priority(opts.priority)?;
        let mqd = sys::open(&c, libc::O_RDWR | libc::O_CLOEXEC, 0, None)
            .map_err(|e| open_error(name, opts, false, e))?;
        // On failure `mqd` drops: the queue is closed. Refused: a queue another user owns
        // (unless allowed) or whose mode is wider than ours. On Linux a queue descriptor is
        // a file descriptor of the mqueue file system, so `fstat` gives its owner and mode
        // (on FreeBSD, the descriptor `mq_getfd_np` returns).
        let shown = format!("message queue {name}");
        owner::check_fd(&mqd, &shown, FileType::Any, &opts.access, opts.mode)?;
        Self::from_mqd(mqd, c, false, opts)
    }

    /// Opens the queue, creating it if needed (then this handle is its creator). Either
    /// program may start first.
    ///
    /// ```
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// let name = format!("/ipcring-doc-ooc-{}", std::process::id());
    /// let a = MessageQueue::open_or_create(&name, &MqOptions::new())?;
    /// let b = MessageQueue::open_or_create(&name, &MqOptions::new())?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn open_or_create(name: &str, opts: &MqOptions) -> Result<MessageQueue> {
        for _ in 0..100 {
            match Self::create(name, opts) {
                Err(Error::AlreadyExists(_)) => {}
                other => return other,
            }
            match Self::open(name, opts) {
                // Unlinked between our two calls: try creating again.
                Err(Error::NotFound(_)) => {}
                other => return other,
            }
        }
        Err(Error::Io {
            op: Cow::Owned(format!("open or create {name}")),
            source: io::Error::other("the queue kept appearing and disappearing"),
        })
    }

    /// Removes a queue's name (processes that have it open keep using it), and its liveness
    /// file. A missing name is not an error.
    ///
    /// ```
    /// ipcring::mq::MessageQueue::unlink("/ipcring-doc-no-such-queue")?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn unlink(name: &str) -> Result<()> {
        let c = check_name(name)?;
        match sys::unlink(&c) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(Error::io(format!("mq_unlink {name}"), e)),
        }
        liveness_location(name)?.unlink()
    }

    /// The queue's name.
    ///
    /// ```
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// # let name = format!("/ipcring-doc-name-{}", std::process::id());
    /// let q = MessageQueue::create(&name, &MqOptions::new())?;
    /// assert_eq!(q.name(), name);
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        self.name.to_str().unwrap_or("")
    }

    /// Whether this handle unlinks the queue when dropped (true for a creator unless kept).
    ///
    /// ```
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// # let name = format!("/ipcring-doc-keep-{}", std::process::id());
    /// let mut q = MessageQueue::create(&name, &MqOptions::new())?;
    /// q.set_unlink_on_drop(false); // leave it for the next program
    /// # q.set_unlink_on_drop(true);
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn set_unlink_on_drop(&mut self, unlink: bool) {
        self.unlink_on_drop = unlink;
    }

    /// The queue's attributes, including how many messages wait now.
    ///
    /// ```
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// # let name = format!("/ipcring-doc-attrs-{}", std::process::id());
    /// let q = MessageQueue::create(&name, &MqOptions::new())?;
    /// assert_eq!(q.attributes()?.current_messages, 0);
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn attributes(&self) -> Result<MqAttributes> {
        let a = self.mqd.getattr().map_err(|e| Error::io("mq_getattr", e))?;
        Ok(MqAttributes {
            max_messages: a.maxmsg,
            message_size: a.msgsize,
            current_messages: a.curmsgs,
        })
    }

    /// The next absolute deadline for one kernel wait: the caller's, or sooner with
    /// liveness on so that a dead peer is noticed. `None` for a wait without end.
    fn slice(&self, deadline: &Deadline) -> Option<libc::timespec> {
        let rem = deadline.remaining();
        let rem = match (&self.liveness, rem) {
            (Some(_), Some(d)) => Some(d.min(LIVENESS_SLICE)),
            (Some(_), None) => Some(LIVENESS_SLICE),
            (None, r) => r,
        };
        rem.map(|d| sys::abs_deadline(Some(d)))
    }

    /// After a wait found the queue empty (or full): true if every peer this handle has known
    /// is gone (never with liveness off).
    fn check_peers(&mut self) -> Result<bool> {
        self.liveness
            .as_mut()
            .map_or(Ok(false), Liveness::peers_gone)
    }

    /// The one send path: `Error::Timeout` when the queue stays full until `deadline`.
    fn send_impl(&mut self, msg: &[u8], prio: u32, deadline: Deadline) -> Result<()> {
        Error::check_len(msg.len(), self.message_size)?;
        check_priority(prio)?;
        loop {
            let abs = self.slice(&deadline);
            match self.mqd.send(msg, prio, abs.as_ref()) {
                Ok(()) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ETIMEDOUT) => {
                    // Full. Nobody left to make room: the message is not sent.
                    if self.check_peers()? {
                        return Err(Error::Disconnected);
                    }
                    if deadline.expired() {
                        return Err(Error::Timeout);
                    }
                }
                Err(e) => return Err(Error::io(format!("mq_send {}", self.name()), e)),
            }
        }
    }

    /// The one receive path: `Error::Timeout` (and `buf` empty) when the queue stays empty
    /// until `deadline`; otherwise the message's priority.
    fn recv_impl(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<u32> {
        let mut last_look = false;
        loop {
            buf.clear();
            buf.resize(self.message_size, 0);
            let abs = if last_look {
                Some(sys::abs_deadline(None))
            } else {
                self.slice(&deadline)
            };
            match self.mqd.receive(buf, abs.as_ref()) {
                Ok((n, prio)) => {
                    buf.truncate(n);
                    return Ok(prio);
                }
                Err(e) if e.raw_os_error() == Some(libc::ETIMEDOUT) => {
                    buf.clear();
                    if last_look {
                        return Err(Error::Disconnected);
                    }
                    // Empty. Every peer gone? Look once more (a peer's last send may have
                    // landed just before its death), then it is over.
                    if self.check_peers()? {
                        last_look = true;
                        continue;
                    }
                    if deadline.expired() {
                        return Err(Error::Timeout);
                    }
                }
                Err(e) => {
                    buf.clear();
                    return Err(Error::io(format!("mq_receive {}", self.name()), e));
                }
            }
        }
    }

    /// Sends with a priority (`0 .. 32768`; higher is received first), waiting for room.
    ///
    /// ```
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// # let name = format!("/ipcring-doc-prio-{}", std::process::id());
    /// # let mut q = MessageQueue::create(&name, &MqOptions::new())?;
    /// q.send_priority(b"urgent", 10)?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn send_priority(&mut self, msg: &[u8], priority: u32) -> Result<()> {
        self.send_impl(msg, priority, Deadline::forever())
    }

    /// Sends with a priority if there is room now; [`TrySendError::Full`] if the queue is
    /// full.
    ///
    /// ```
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// # let name = format!("/ipcring-doc-tprio-{}", std::process::id());
    /// let mut q = MessageQueue::create(&name, &MqOptions::new().max_messages(1))?;
    /// q.try_send_priority(b"a", 1)?;
    /// assert!(q.try_send_priority(b"b", 1).unwrap_err().is_full());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn try_send_priority(&mut self, msg: &[u8], priority: u32) -> Result<(), TrySendError> {
        TrySendError::from_deadline(self.send_impl(msg, priority, Deadline::immediate()))
    }

    /// Sends with a priority, waiting at most `timeout` for room.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// # let name = format!("/ipcring-doc-toprio-{}", std::process::id());
    /// let mut q = MessageQueue::create(&name, &MqOptions::new())?;
    /// q.send_priority_timeout(b"a", 1, Duration::from_millis(10))?;
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn send_priority_timeout(
        &mut self,
        msg: &[u8],
        priority: u32,
        timeout: Duration,
    ) -> Result<()> {
        self.send_impl(msg, priority, Deadline::after(timeout))
    }

    /// Receives the oldest message of the highest priority into `buf`, waiting as long as
    /// needed; returns its priority.
    ///
    /// ```
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// # let name = format!("/ipcring-doc-rprio-{}", std::process::id());
    /// # let mut q = MessageQueue::create(&name, &MqOptions::new())?;
    /// q.send_priority(b"x", 3)?;
    /// let mut buf = Vec::new();
    /// assert_eq!(q.recv_priority_into(&mut buf)?, 3);
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn recv_priority_into(&mut self, buf: &mut Vec<u8>) -> Result<u32> {
        self.recv_impl(buf, Deadline::forever())
    }

    /// Receives a message and its priority, waiting as long as needed.
    ///
    /// ```
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// # let name = format!("/ipcring-doc-rp-{}", std::process::id());
    /// # let mut q = MessageQueue::create(&name, &MqOptions::new())?;
    /// q.send_priority(b"x", 3)?;
    /// assert_eq!(q.recv_priority()?, (b"x".to_vec(), 3));
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn recv_priority(&mut self) -> Result<(Vec<u8>, u32)> {
        let mut buf = Vec::new();
        let p = self.recv_priority_into(&mut buf)?;
        Ok((buf, p))
    }

    /// Receives a message if one waits now and returns its priority;
    /// [`TryRecvError::Empty`] if none does.
    ///
    /// ```
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// # let name = format!("/ipcring-doc-trp-{}", std::process::id());
    /// # let mut q = MessageQueue::create(&name, &MqOptions::new())?;
    /// assert!(q.try_recv_priority_into(&mut Vec::new()).unwrap_err().is_empty());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn try_recv_priority_into(&mut self, buf: &mut Vec<u8>) -> Result<u32, TryRecvError> {
        TryRecvError::from_deadline(self.recv_impl(buf, Deadline::immediate()))
    }

    /// Receives a message, waiting at most `timeout`; returns its priority.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ipcring::mq::{MessageQueue, MqOptions};
    /// # let name = format!("/ipcring-doc-torp-{}", std::process::id());
    /// # let mut q = MessageQueue::create(&name, &MqOptions::new())?;
    /// let r = q.recv_priority_timeout_into(&mut Vec::new(), Duration::from_millis(1));
    /// assert!(r.unwrap_err().is_timeout());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn recv_priority_timeout_into(
        &mut self,
        buf: &mut Vec<u8>,
        timeout: Duration,
    ) -> Result<u32> {
        self.recv_impl(buf, Deadline::after(timeout))
    }
}

impl Sender for MessageQueue {
    fn send_deadline(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        let p = self.priority;
        self.send_impl(msg, p, deadline)
    }
    fn max_message(&self) -> usize {
        self.message_size
    }
}

impl Receiver for MessageQueue {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        self.recv_impl(buf, deadline).map(|_| ())
    }
}

impl Drop for MessageQueue {
    fn drop(&mut self) {
        // The descriptor closes after this body, when `mqd` drops: unlinking first is
        // harmless (an unlinked queue lives on until its last descriptor closes).
        if self.unlink_on_drop {
            // Never panic in cleanup: a failure to unlink leaves a queue behind, nothing worse.
            let _ = sys::unlink(&self.name);
            if let Ok(loc) = liveness_location(self.name()) {
                let _ = loc.unlink();
            }
        } else {
            #[cfg(target_os = "linux")]
            if let Some(l) = &self.liveness {
                // Removed by someone else: no link left to the queue this handle has open.
                let removed =
                    nix::sys::stat::fstat(self.mqd.as_fd()).is_ok_and(|st| st.st_nlink == 0);
                if removed {
                    l.remove_if_last(self.name());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for bad in ["", "/", "noslash", "/a/b"] {
            assert!(
                matches!(
                    MessageQueue::create(bad, &MqOptions::new()),
                    Err(Error::InvalidName { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn priorities_then_fifo() {
        let name = crate::test_name("mq", "prio");
        let mut q = MessageQueue::create(&name, &MqOptions::new()).unwrap();
        for (m, p) in [(&b"low1"[..], 1), (b"high", 9), (b"low2", 1), (b"mid", 5)] {
            q.send_priority(m, p).unwrap();
        }
        assert_eq!(q.attributes().unwrap().current_messages, 4);
        let got: Vec<(Vec<u8>, u32)> = (0..4).map(|_| q.recv_priority().unwrap()).collect();
        assert_eq!(
            got,
            vec![
                (b"high".to_vec(), 9),
                (b"mid".to_vec(), 5),
                (b"low1".to_vec(), 1),
                (b"low2".to_vec(), 1)
            ]
        );
    }
}
