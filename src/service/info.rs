//! A service as `ipcring ls` / `inspect` / `rm` see it: its limits, its server, and the
//! clients connected to it, read without taking any role.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::access::Access;
use crate::segment::{self, Segment, SegmentInfo, Trust};
use crate::service::layout::*;
use crate::service::listener::{channel_name, entry, listener_geometry, validate_listener};
use crate::transport::Deadline;
use crate::{Error, Result};

/// Where a connection entry is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    /// A client claimed the entry and is setting up its channel.
    Claimed,
    /// The client's channel is ready; the server has not accepted it yet.
    Connecting,
    /// The server serves the client.
    Connected,
    /// The server refused or closed the connection; the entry is freed once the client
    /// lets go of it.
    Closed,
    /// A state no version of this crate writes (a corrupt entry).
    Unknown(u32),
}

impl EntryState {
    fn of(state: u32) -> Option<EntryState> {
        Some(match state {
            ENTRY_FREE => return None,
            ENTRY_CLAIMED => EntryState::Claimed,
            ENTRY_CONNECT => EntryState::Connecting,
            ENTRY_ACCEPTED => EntryState::Connected,
            ENTRY_CLOSED => EntryState::Closed,
            s => EntryState::Unknown(s),
        })
    }

    /// A word for it ("connected", ...).
    ///
    /// ```
    /// assert_eq!(ipcring::service::EntryState::Connected.as_str(), "connected");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            EntryState::Claimed => "claimed",
            EntryState::Connecting => "connecting",
            EntryState::Connected => "connected",
            EntryState::Closed => "closed",
            EntryState::Unknown(_) => "unknown",
        }
    }
}

/// One connection entry in use (or left behind by a client that died).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The entry's index.
    pub entry: u32,
    /// The pid the client wrote (informational: a client writes what it likes).
    pub pid: u32,
    /// The entry's state.
    pub state: EntryState,
    /// The client holds the entry's liveness lock: it is alive. A dead one's entry is
    /// freed by the server within a liveness slice (or stays, if the server is gone).
    pub alive: bool,
    /// The name of its channel segment (removed once the server mapped it).
    pub channel: String,
}

/// A snapshot of a service listener, read without attaching to any role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    /// The common segment header and role locks.
    pub segment: SegmentInfo,
    /// Connection entries (the most clients at once).
    pub max_clients: u32,
    /// The most slots a client's channel may have.
    pub max_slots: u32,
    /// The largest request or answer a client's channel may carry.
    pub max_message: u32,
    /// A live server holds the listener.
    pub server_attached: bool,
    /// The entries in use, in entry order.
    pub clients: Vec<ClientInfo>,
}

impl ServiceInfo {
    /// Clients alive and served.
    pub fn connected(&self) -> usize {
        self.clients
            .iter()
            .filter(|c| c.alive && c.state == EntryState::Connected)
            .count()
    }
}

/// Reads the service listener `name`: its limits, whether its server lives, and every
/// entry in use with its client's pid and liveness.
///
/// ```
/// use ipcring::service::{self, Client, Listener, ServiceOptions};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-svcinfo-{}", std::process::id());
/// let mut server = Listener::bind(&name, &ServiceOptions::new().max_clients(4))?;
/// let serving = std::thread::spawn(move || -> ipcring::Result<()> {
///     server.recv()?.respond_with(b"ok")?;
///     while server.clients() > 0 {
///         // Polls until the client has gone (its entry is freed on the way).
///         let _ = server.recv_timeout(std::time::Duration::from_millis(20));
///     }
///     Ok(())
/// });
/// let client = Client::connect(&name, &ServiceOptions::new())?;
/// client.call(b"hi")?;
/// let info = service::inspect(&name)?;
/// assert_eq!((info.max_clients, info.connected()), (4, 1));
/// assert!(info.server_attached);
/// assert_eq!(info.clients[0].pid, std::process::id());
/// # drop(client);
/// # serving.join().unwrap()?;
/// # Ok(()) }
/// ```
pub fn inspect(name: &str) -> Result<ServiceInfo> {
    let (seg_info, (max_clients, max_slots, max_message, entries)) =
        segment::inspect_with(name, Some(&crate::kinds::LISTENER), |map, info| {
            validate_listener(map, &info.name)?;
            let g = listener_geometry(map);
            let n = g.max_clients.load(Ordering::Relaxed);
            let entries: Vec<(u32, u32, u32, u64)> = (0..n)
                .map(|e| {
                    let en = entry(map, e);
                    (
                        e,
                        en.state.load(Ordering::Acquire),
                        en.pid.load(Ordering::Relaxed),
                        en.channel_nonce.load(Ordering::Relaxed),
                    )
                })
                .collect();
            Ok((
                n,
                g.max_slots.load(Ordering::Relaxed),
                g.max_message.load(Ordering::Relaxed),
                entries,
            ))
        })?;
    // The liveness locks: through a read-only handle on the same file (its nonce says so).
    let seg = Segment::open(
        name,
        &crate::kinds::LISTENER,
        Deadline::after(Duration::ZERO),
        false,
        &Trust::owner_only(Access::new()),
        None,
        validate_listener,
    )?;
    if seg.header().nonce.load(Ordering::Relaxed) != seg_info.nonce {
        return Err(Error::BadSegment {
            path: seg_info.name,
            reason: "was replaced while being read; try again".into(),
        });
    }
    let mut clients = Vec::new();
    for (e, state, pid, nonce) in entries {
        let alive = seg.role_held_by_other(entry_role(e))?;
        let Some(state) = EntryState::of(state) else {
            continue;
        };
        clients.push(ClientInfo {
            entry: e,
            pid,
            state,
            alive,
            channel: channel_name(name, e, nonce),
        });
    }
    Ok(ServiceInfo {
        server_attached: seg_info.holds(crate::kinds::SERVER),
        segment: seg_info,
        max_clients,
        max_slots,
        max_message,
        clients,
    })
}

/// Removes a service listener's name, and the channel segments its dead clients left
/// behind (a client that died between creating its channel and being accepted). A
/// listener whose server lives is refused with [`Error::RoleTaken`] unless `force`; a
/// channel whose client lives is kept unless `force`. Returns the listener's snapshot and
/// the channels removed.
///
/// ```
/// use ipcring::service::{self, Listener, ServiceOptions};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-svcrm-{}", std::process::id());
/// let server = Listener::bind(&name, &ServiceOptions::new())?;
/// assert!(service::remove(&name, false).is_err()); // its server lives
/// let (info, channels) = service::remove(&name, true)?;
/// assert!(info.server_attached && channels.is_empty());
/// # drop(server);
/// # Ok(()) }
/// ```
pub fn remove(name: &str, force: bool) -> Result<(ServiceInfo, Vec<String>)> {
    let info = inspect(name)?;
    if info.server_attached && !force {
        return Err(Error::RoleTaken {
            role: "server",
            name: info.segment.name,
        });
    }
    segment::remove(name, true)?;
    let mut removed = Vec::new();
    for c in &info.clients {
        if c.alive && !force {
            continue;
        }
        match segment::remove(&c.channel, force) {
            Ok(_) => removed.push(c.channel.clone()),
            // Most channels' names are gone once accepted; a live client's stays.
            Err(Error::NotFound(_) | Error::RoleTaken { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((info, removed))
}
