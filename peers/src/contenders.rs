//! The contenders, each behind ipcring's `Sender`/`Receiver` traits, used "the obvious way"
//! (as their documentation shows), two one-way channels or one two-way connection each.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use ipcring::ring::{duplex, RingOptions, Side, WaitStrategy};
use ipcring::transport::Deadline;
use ipcring::{Error, Receiver, Result, Sender};

/// This side's sending half.
pub type Tx = Box<dyn Sender>;
/// This side's receiving half.
pub type Rx = Box<dyn Receiver>;

/// The outcome of setting up a contender's side: the error is a message.
pub type Setup<T> = std::result::Result<T, String>;
/// Starts the peer process, giving it the token it finds this side by.
pub type Spawn<'a> = &'a mut dyn FnMut(&str) -> Setup<()>;

/// Side A: sets up, calls `spawn(token)` to start the peer process at the right moment
/// (it gets `token` to find us), then finishes connecting.
pub type ASide = fn(name: &str, spawn: Spawn<'_>) -> Setup<(Tx, Rx)>;
/// Side B, in the peer process, from the token A gave it.
pub type BSide = fn(token: &str) -> Setup<(Tx, Rx)>;
/// A request/response server, in the peer process: serves echo requests from the token A
/// gave it, calling `ready` once a client may connect, until its client has gone.
pub type Serve = fn(token: &str, ready: &mut dyn FnMut()) -> Setup<()>;

/// One contender.
pub struct Contender {
    /// Id (peer command line).
    pub id: &'static str,
    /// For the table.
    pub label: &'static str,
    /// Busy-polls (compared with the cache-line floor) or blocks (the futex floor).
    pub busy_poll: bool,
    /// Side A.
    pub a_side: ASide,
    /// Side B.
    pub b_side: SideB,
}

/// What the peer process runs.
pub enum SideB {
    /// Its end of the pair, over which it echoes or sinks.
    Pair(BSide),
    /// A request/response contender's server (there is no one-way stream to measure).
    Serve(Serve),
}

/// Every contender, in table order.
pub fn all() -> Vec<Contender> {
    vec![
        Contender {
            id: "ring-spin",
            label: "ipcring ring, busy-poll",
            busy_poll: true,
            a_side: |n, spawn| ring_a(n, spawn, WaitStrategy::Spin),
            b_side: SideB::Pair(|t| ring_b(t, WaitStrategy::Spin)),
        },
        Contender {
            id: "ring-block",
            label: "ipcring ring, futex wake",
            busy_poll: false,
            a_side: |n, spawn| ring_a(n, spawn, ring_block()),
            b_side: SideB::Pair(|t| ring_b(t, ring_block())),
        },
        Contender {
            id: "iceoryx2-spin",
            label: "iceoryx2 pub-sub, busy-poll",
            busy_poll: true,
            a_side: |n, spawn| iox_a(n, spawn, false),
            b_side: SideB::Pair(|t| iox_b(t, false)),
        },
        Contender {
            id: "iceoryx2-event",
            label: "iceoryx2 pub-sub + event, blocking",
            busy_poll: false,
            a_side: |n, spawn| iox_a(n, spawn, true),
            b_side: SideB::Pair(|t| iox_b(t, true)),
        },
        Contender {
            id: "service-spin",
            label: "ipcring service (req/resp), busy-poll",
            busy_poll: true,
            a_side: service_a,
            b_side: SideB::Serve(service_serve),
        },
        Contender {
            id: "iceoryx2-rr-spin",
            label: "iceoryx2 request-response, busy-poll",
            busy_poll: true,
            a_side: iox_rr_a,
            b_side: SideB::Serve(iox_rr_serve),
        },
        Contender {
            id: "ipc-channel",
            label: "ipc-channel (bytes channels)",
            busy_poll: false,
            a_side: ipc_a,
            b_side: SideB::Pair(ipc_b),
        },
        Contender {
            id: "shm-raw-sync",
            label: "shared_memory + raw_sync (mutex, events)",
            busy_poll: false,
            a_side: shm_a,
            b_side: SideB::Pair(shm_b),
        },
        Contender {
            id: "unix",
            label: "Unix socket (std, u32 length prefix)",
            busy_poll: false,
            a_side: unix_a,
            b_side: SideB::Pair(unix_b),
        },
    ]
}

/// The contender with this id.
pub fn find(id: &str) -> Option<Contender> {
    all().into_iter().find(|c| c.id == id)
}

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// `msg` fits in a channel whose messages hold at most `max` bytes.
fn fits(msg: &[u8], max: usize) -> Result<()> {
    match msg.len() {
        len if len > max => Err(Error::MessageTooLarge { len, max }),
        _ => Ok(()),
    }
}

// ---- ipcring's ring ----

fn ring_block() -> WaitStrategy {
    WaitStrategy::SpinBlock {
        spin: Duration::ZERO,
    }
}

fn ring_opts(w: WaitStrategy) -> RingOptions {
    RingOptions::new()
        .capacity(1 << 22)
        .wait(w)
        .open_timeout(Duration::from_secs(10))
}

fn ring_a(name: &str, spawn: Spawn<'_>, w: WaitStrategy) -> Setup<(Tx, Rx)> {
    let (tx, rx) = duplex(name, Side::A, &ring_opts(w)).map_err(s)?;
    spawn(name)?;
    Ok((Box::new(tx), Box::new(rx)))
}

fn ring_b(token: &str, w: WaitStrategy) -> Setup<(Tx, Rx)> {
    let (tx, rx) = duplex(token, Side::B, &ring_opts(w)).map_err(s)?;
    Ok((Box::new(tx), Box::new(rx)))
}

// ---- ipc-channel ----

use ipc_channel::ipc::{self, IpcBytesReceiver, IpcBytesSender, IpcOneShotServer, IpcSender};
use ipc_channel::{IpcError, TryRecvError};

struct IpcTx(IpcBytesSender);
struct IpcRx(IpcBytesReceiver);

impl Sender for IpcTx {
    fn send_deadline(&mut self, msg: &[u8], _: Deadline) -> Result<()> {
        self.0.send(msg).map_err(|_| Error::Disconnected)
    }
    fn max_message(&self) -> usize {
        usize::MAX
    }
}

fn ipc_err(e: IpcError) -> Error {
    match e {
        IpcError::Disconnected => Error::Disconnected,
        other => Error::Framing(format!("ipc-channel: {other:?}").into()),
    }
}

impl Receiver for IpcRx {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, _: Deadline) -> Result<()> {
        *buf = self.0.recv().map_err(ipc_err)?;
        Ok(())
    }
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), ipcring::TryRecvError> {
        match self.0.try_recv() {
            Ok(v) => {
                *buf = v;
                Ok(())
            }
            Err(TryRecvError::Empty) => Err(ipcring::TryRecvError::Empty),
            Err(TryRecvError::IpcError(e)) => Err(ipc_err(e).into()),
        }
    }
}

/// A one-shot server bootstraps the two bytes channels: the peer connects to it by name
/// and sends (its receiving end's sender, its sending end's receiver).
fn ipc_a(_name: &str, spawn: Spawn<'_>) -> Setup<(Tx, Rx)> {
    let (server, token) =
        IpcOneShotServer::<(IpcBytesSender, IpcBytesReceiver)>::new().map_err(s)?;
    spawn(&token)?;
    let (_, (tx, rx)) = server.accept().map_err(|e| format!("{e:?}"))?;
    Ok((Box::new(IpcTx(tx)), Box::new(IpcRx(rx))))
}

fn ipc_b(token: &str) -> Setup<(Tx, Rx)> {
    let (to_b, from_a) = ipc::bytes_channel().map_err(s)?;
    let (to_a, from_b) = ipc::bytes_channel().map_err(s)?;
    IpcSender::connect(token.to_owned())
        .map_err(s)?
        .send((to_b, from_b))
        .map_err(|e| format!("{e:?}"))?;
    Ok((Box::new(IpcTx(to_a)), Box::new(IpcRx(from_a))))
}

// ---- shared_memory + raw_sync ----

use raw_sync::events::{Event, EventImpl, EventInit, EventState};
use raw_sync::locks::{LockImpl, LockInit, Mutex};
use raw_sync::Timeout;
use shared_memory::{Shmem, ShmemConf};

/// Bytes of payload one channel holds (one message at a time).
const SHM_CAP: usize = 64 * 1024;
/// Room reserved for each synchronisation object.
const SLOT: usize = 256;
const SHM_SIZE: usize = 3 * SLOT + 8 + SHM_CAP;

/// One direction: a mutex-guarded buffer holding one message, an event "full" the writer
/// sets and an event "empty" the reader sets, as raw_sync's documentation shows.
struct ShmChannel {
    _mem: Shmem,
    lock: Box<dyn LockImpl>,
    full: Box<dyn EventImpl>,
    empty: Box<dyn EventImpl>,
    data: *mut u8,
}

impl ShmChannel {
    fn create(id: &str) -> Setup<ShmChannel> {
        let conf = ShmemConf::new().size(SHM_SIZE).os_id(id);
        ShmChannel::at(conf.create().map_err(s)?, true)
    }

    fn open(id: &str) -> Setup<ShmChannel> {
        let mem = ShmemConf::new().os_id(id).open().map_err(s)?;
        if mem.len() < SHM_SIZE {
            return Err(format!("{id}: {} bytes, expected {SHM_SIZE}", mem.len()));
        }
        ShmChannel::at(mem, false)
    }

    /// The channel in `mem`: its objects initialised in place (`create`), or as their
    /// creator initialised them before it started us.
    fn at(mem: Shmem, create: bool) -> Setup<ShmChannel> {
        let base = mem.as_ptr();
        // SAFETY: the mapping is SHM_SIZE bytes: three SLOT-sized areas for the objects,
        // then the buffer; raw_sync initialises each object in place (size_of <= SLOT on
        // Linux: a pthread mutex, a mutex + condvar + flag).
        unsafe {
            let data = base.add(3 * SLOT);
            let (lock, full, empty) = if create {
                let lock = Mutex::new(base, data).map_err(s)?.0;
                let full = Event::new(base.add(SLOT), true).map_err(s)?.0;
                let empty = Event::new(base.add(2 * SLOT), true).map_err(s)?.0;
                empty.set(EventState::Signaled).map_err(s)?;
                (lock, full, empty)
            } else {
                (
                    Mutex::from_existing(base, data).map_err(s)?.0,
                    Event::from_existing(base.add(SLOT)).map_err(s)?.0,
                    Event::from_existing(base.add(2 * SLOT)).map_err(s)?.0,
                )
            };
            Ok(ShmChannel {
                _mem: mem,
                lock,
                full,
                empty,
                data,
            })
        }
    }
}

fn rs(e: impl std::fmt::Display) -> Error {
    Error::Framing(format!("raw_sync: {e}").into())
}

impl Sender for ShmChannel {
    fn send_deadline(&mut self, msg: &[u8], _: Deadline) -> Result<()> {
        fits(msg, SHM_CAP)?;
        self.empty.wait(Timeout::Infinite).map_err(rs)?;
        {
            let _g = self.lock.lock().map_err(rs)?;
            // SAFETY: the buffer is 8 + SHM_CAP bytes inside the mapping; the mutex is held.
            unsafe {
                (self.data as *mut u32).write_unaligned(msg.len() as u32);
                std::ptr::copy_nonoverlapping(msg.as_ptr(), self.data.add(8), msg.len());
            }
        }
        self.full.set(EventState::Signaled).map_err(rs)
    }
    fn max_message(&self) -> usize {
        SHM_CAP
    }
}

impl Receiver for ShmChannel {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, _: Deadline) -> Result<()> {
        self.full.wait(Timeout::Infinite).map_err(rs)?;
        {
            let _g = self.lock.lock().map_err(rs)?;
            // SAFETY: as in `send`; the length is checked before the copy.
            unsafe {
                let len = (self.data as *const u32).read_unaligned() as usize;
                if len > SHM_CAP {
                    return Err(Error::Corrupt(format!("length {len}").into()));
                }
                buf.clear();
                buf.extend_from_slice(std::slice::from_raw_parts(self.data.add(8), len));
            }
        }
        self.empty.set(EventState::Signaled).map_err(rs)
    }
}

fn shm_a(name: &str, spawn: Spawn<'_>) -> Setup<(Tx, Rx)> {
    let tx = ShmChannel::create(&format!("{name}.ab"))?;
    let rx = ShmChannel::create(&format!("{name}.ba"))?;
    spawn(name)?;
    Ok((Box::new(tx), Box::new(rx)))
}

fn shm_b(token: &str) -> Setup<(Tx, Rx)> {
    let rx = ShmChannel::open(&format!("{token}.ab"))?;
    let tx = ShmChannel::open(&format!("{token}.ba"))?;
    Ok((Box::new(tx), Box::new(rx)))
}

// ---- Unix socket (std) ----

struct UnixTx(UnixStream);
struct UnixRx(UnixStream);

impl Sender for UnixTx {
    fn send_deadline(&mut self, msg: &[u8], _: Deadline) -> Result<()> {
        let len = u32::try_from(msg.len()).map_err(|_| Error::MessageTooLarge {
            len: msg.len(),
            max: u32::MAX as usize,
        })?;
        let io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::BrokenPipe => Error::Disconnected,
            _ => Error::Framing(e.to_string().into()),
        };
        self.0.write_all(&len.to_le_bytes()).map_err(io)?;
        self.0.write_all(msg).map_err(io)
    }
    fn max_message(&self) -> usize {
        16 << 20
    }
}

impl Receiver for UnixRx {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, _: Deadline) -> Result<()> {
        let mut len = [0u8; 4];
        if let Err(e) = self.0.read_exact(&mut len) {
            return Err(match e.kind() {
                std::io::ErrorKind::UnexpectedEof => Error::Disconnected,
                _ => Error::Framing(e.to_string().into()),
            });
        }
        let n = u32::from_le_bytes(len) as usize;
        if n > 16 << 20 {
            return Err(Error::Framing(format!("frame of {n} bytes").into()));
        }
        buf.resize(n, 0);
        self.0
            .read_exact(buf)
            .map_err(|e| Error::Framing(e.to_string().into()))
    }
}

fn unix_split(s: UnixStream) -> Setup<(Tx, Rx)> {
    let r = s.try_clone().map_err(|e| e.to_string())?;
    Ok((Box::new(UnixTx(s)), Box::new(UnixRx(r))))
}

fn unix_a(name: &str, spawn: Spawn<'_>) -> Setup<(Tx, Rx)> {
    let path = std::env::temp_dir().join(name.trim_start_matches('/'));
    let _ = std::fs::remove_file(&path);
    let l = UnixListener::bind(&path).map_err(s)?;
    spawn(path.to_str().ok_or("temp dir is not UTF-8")?)?;
    let (conn, _) = l.accept().map_err(s)?;
    let _ = std::fs::remove_file(&path);
    unix_split(conn)
}

fn unix_b(token: &str) -> Setup<(Tx, Rx)> {
    unix_split(UnixStream::connect(token).map_err(s)?)
}

// ---- iceoryx2 ----

use iceoryx2::port::listener::Listener;
use iceoryx2::port::notifier::Notifier;
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::prelude::{
    set_log_level, BackpressureStrategy, LogLevel, Node, NodeBuilder, PortFactory, ServiceName,
};
use iceoryx2::service::port_factory::publish_subscribe;
use std::rc::Rc;
use std::time::Instant;

type Ipc = iceoryx2::service::ipc::Service;

/// Largest message: every publisher's samples are slices of up to this many bytes.
const IOX_MAX: usize = 64 * 1024;
/// Samples a subscriber queues (the service's `subscriber_max_buffer_size`): 4 MiB of
/// 64 KiB samples, the ring's capacity.
const IOX_BUFFER: usize = 64;

/// One direction's sending end: a publisher of `[u8]` slices (and, in the blocking mode,
/// a notifier of the direction's event service, notified after every sample).
struct IoxTx {
    publisher: Publisher<Ipc, [u8], ()>,
    notifier: Option<Notifier<Ipc>>,
    _node: Rc<Node<Ipc>>,
}

/// One direction's receiving end: a subscriber (and, blocking, the event's listener).
struct IoxRx {
    subscriber: Subscriber<Ipc, [u8], ()>,
    service: publish_subscribe::PortFactory<Ipc, [u8], ()>,
    listener: Option<Listener<Ipc>>,
    _node: Rc<Node<Ipc>>,
}

fn iox(e: impl std::fmt::Display) -> Error {
    Error::Framing(format!("iceoryx2: {e}").into())
}

impl Sender for IoxTx {
    fn send_deadline(&mut self, msg: &[u8], _: Deadline) -> Result<()> {
        fits(msg, IOX_MAX)?;
        // Loan a sample in the publisher's data segment, copy in, send (RetryUntilDelivered:
        // waits while the subscriber's queue is full).
        let sample = self.publisher.loan_slice_uninit(msg.len()).map_err(iox)?;
        sample.write_from_slice(msg).send().map_err(iox)?;
        if let Some(n) = &self.notifier {
            n.notify().map_err(iox)?;
        }
        Ok(())
    }
    fn max_message(&self) -> usize {
        IOX_MAX
    }
}

/// Counts an empty busy poll; every 1024th (tens of µs) yields the CPU, as the ring's spin
/// does past 1 µs, and says so: on a busy 2-CPU machine a pure spinner can hold the CPU its
/// peer needs (measured: 64 B throughput 0.05 M/s without, 0.5-0.8 M/s with; round trip
/// unchanged).
fn idle(misses: &mut u32) -> bool {
    *misses = misses.wrapping_add(1);
    if !misses.is_multiple_of(1024) {
        return false;
    }
    std::thread::yield_now();
    true
}

/// An iceoryx2 receiving end, polled: `try_recv_into` until a message comes, `pause`
/// between empty polls, looking for the peer and the deadline after each pause that says so.
trait Polled: Receiver {
    /// Between two empty polls (busy: `idle`); true when it is time to look for the peer
    /// and the deadline.
    fn pause(&self, misses: &mut u32) -> Result<bool> {
        Ok(idle(misses))
    }

    /// The peer is gone (checked after an empty receive, so nothing it sent is lost).
    fn peer_gone(&self) -> Result<bool>;

    fn recv_until(&mut self, buf: &mut Vec<u8>, deadline: Option<Instant>) -> Result<()> {
        let mut misses = 0u32;
        loop {
            match self.try_recv_into(buf) {
                Ok(()) => return Ok(()),
                Err(ipcring::TryRecvError::Empty) => {}
                Err(e) => return Err(e.into()),
            }
            if !self.pause(&mut misses)? {
                continue;
            }
            if self.peer_gone()? {
                return Err(Error::Disconnected);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout);
            }
        }
    }
}

impl Polled for IoxRx {
    fn pause(&self, misses: &mut u32) -> Result<bool> {
        match &self.listener {
            // Sleeps until the sender's notification (one already pending returns at once).
            Some(l) => l
                .timed_wait(|_| {}, Duration::from_millis(50))
                .map(|_| true)
                .map_err(iox),
            None => Ok(idle(misses)),
        }
    }

    /// The publisher is gone and left nothing queued.
    fn peer_gone(&self) -> Result<bool> {
        if self.service.dynamic_config().number_of_publishers() > 0 {
            return Ok(false);
        }
        Ok(!self.subscriber.has_samples().map_err(iox)?)
    }
}

impl Receiver for IoxRx {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        self.recv_until(buf, deadline.remaining().map(|d| Instant::now() + d))
    }
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), ipcring::TryRecvError> {
        match self.subscriber.receive().map_err(iox)? {
            Some(sample) => {
                buf.clear();
                buf.extend_from_slice(sample.payload());
                Ok(())
            }
            None => Err(ipcring::TryRecvError::Empty),
        }
    }
}

/// This side's ends: publishes on `{base}/{out}`, subscribes to `{base}/{inp}` (the same
/// service settings on both sides: `open_or_create`).
fn iox_ports(base: &str, out: &str, inp: &str, blocking: bool) -> Setup<(IoxTx, IoxRx)> {
    // Without a config file iceoryx2 warns on stderr that it uses its defaults (it does).
    set_log_level(LogLevel::Error);
    let node = Rc::new(NodeBuilder::new().create::<Ipc>().map_err(s)?);
    let name = |dir: &str, what: &str| -> Setup<ServiceName> {
        format!("{base}/{dir}/{what}")
            .as_str()
            .try_into()
            .map_err(s)
    };
    let pubsub = |dir: &str| {
        node.service_builder(&name(dir, "data")?)
            .publish_subscribe::<[u8]>()
            .enable_safe_overflow(false)
            .subscriber_max_buffer_size(IOX_BUFFER)
            .open_or_create()
            .map_err(s)
    };
    let event = |dir: &str| {
        node.service_builder(&name(dir, "event")?)
            .event()
            .open_or_create()
            .map_err(s)
    };
    let out_service = pubsub(out)?;
    let in_service = pubsub(inp)?;
    let publisher = out_service
        .publisher_builder()
        .initial_max_slice_len(IOX_MAX)
        .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
        .create()
        .map_err(s)?;
    let subscriber = in_service
        .subscriber_builder()
        .buffer_size(IOX_BUFFER)
        .create()
        .map_err(s)?;
    let (notifier, listener) = if blocking {
        (
            Some(event(out)?.notifier_builder().create().map_err(s)?),
            Some(event(inp)?.listener_builder().create().map_err(s)?),
        )
    } else {
        (None, None)
    };
    Ok((
        IoxTx {
            publisher,
            notifier,
            _node: node.clone(),
        },
        IoxRx {
            subscriber,
            service: in_service,
            listener,
            _node: node,
        },
    ))
}

/// Handshake messages: iceoryx2 drops what is published before a subscriber is connected,
/// so A repeats `HS1` until B answers `HS2`; then `HS3` / `HS4` mark the end of the
/// handshake in each direction (each side discards up to it: stale repeats).
const HS: [&[u8]; 4] = [b"\0iox-hs1", b"\0iox-hs2", b"\0iox-hs3", b"\0iox-hs4"];
const HS_TIMEOUT: Duration = Duration::from_secs(10);

fn iox_a(name: &str, spawn: Spawn<'_>, blocking: bool) -> Setup<(Tx, Rx)> {
    let base = format!("ipcring-peers{}", name.replace('/', "-"));
    let (mut tx, mut rx) = iox_ports(&base, "ab", "ba", blocking)?;
    spawn(&base)?;
    let deadline = Instant::now() + HS_TIMEOUT;
    let mut buf = Vec::new();
    'hello: loop {
        tx.send(HS[0]).map_err(s)?;
        let next = Instant::now() + Duration::from_millis(1);
        while Instant::now() < next {
            match rx.try_recv_into(&mut buf) {
                Ok(()) if buf == HS[1] => break 'hello,
                Ok(()) | Err(ipcring::TryRecvError::Empty) => {}
                Err(e) => return Err(s(e)),
            }
        }
        if Instant::now() >= deadline {
            return Err("iceoryx2: no answer to the handshake".into());
        }
    }
    tx.send(HS[2]).map_err(s)?;
    while buf != HS[3] {
        rx.recv_until(&mut buf, Some(deadline)).map_err(s)?;
    }
    Ok((Box::new(tx), Box::new(rx)))
}

fn iox_b(token: &str, blocking: bool) -> Setup<(Tx, Rx)> {
    let (mut tx, mut rx) = iox_ports(token, "ba", "ab", blocking)?;
    let deadline = Instant::now() + HS_TIMEOUT;
    let mut buf = Vec::new();
    loop {
        rx.recv_until(&mut buf, Some(deadline)).map_err(s)?;
        if buf == HS[0] {
            tx.send(HS[1]).map_err(s)?;
        } else if buf == HS[2] {
            break;
        }
    }
    tx.send(HS[3]).map_err(s)?;
    Ok((Box::new(tx), Box::new(rx)))
}

// ---- request/response: ipcring's service, iceoryx2's request-response ----

fn service_opts() -> ipcring::service::ServiceOptions {
    ipcring::service::ServiceOptions::new()
        .wait(WaitStrategy::Spin)
        .open_timeout(Duration::from_secs(10))
}

/// The client: each message sent is a request, each received the answer
/// (`service::split`, as `ipcring compare` uses it).
fn service_a(name: &str, spawn: Spawn<'_>) -> Setup<(Tx, Rx)> {
    use ipcring::service::{split, Client};
    spawn(name)?;
    let (tx, rx) = split(Client::connect(name, &service_opts()).map_err(s)?);
    Ok((Box::new(tx), Box::new(rx)))
}

/// The listener: copies each request out and writes it back over itself (the echo's
/// copy out and copy in), until its client has gone.
fn service_serve(token: &str, ready: &mut dyn FnMut()) -> Setup<()> {
    let mut l = ipcring::service::Listener::bind(token, &service_opts()).map_err(s)?;
    ready();
    crate::drive::serve_echo(&mut l)
}

type IoxRrService =
    iceoryx2::service::port_factory::request_response::PortFactory<Ipc, [u8], (), [u8], ()>;
type IoxPending = iceoryx2::pending_response::PendingResponse<Ipc, [u8], (), [u8], ()>;
type IoxClient = iceoryx2::port::client::Client<Ipc, [u8], (), [u8], ()>;
type IoxQueue = Rc<std::cell::RefCell<std::collections::VecDeque<IoxPending>>>;

/// Largest request or response of the request/response contenders here (a round trip of
/// 64 bytes is all they are measured with).
const IOX_RR_MAX: usize = 4096;

fn iox_rr_service(token: &str) -> Setup<(Rc<Node<Ipc>>, IoxRrService)> {
    set_log_level(LogLevel::Error);
    let node = Rc::new(NodeBuilder::new().create::<Ipc>().map_err(s)?);
    let name: ServiceName = format!("{token}/rr").as_str().try_into().map_err(s)?;
    let service = node
        .service_builder(&name)
        .request_response::<[u8], [u8]>()
        .open_or_create()
        .map_err(s)?;
    Ok((node, service))
}

/// The client's requests: each message sent is a request (loaned, copied in, sent).
struct IoxReqTx {
    client: Rc<IoxClient>,
    pending: IoxQueue,
    _node: Rc<Node<Ipc>>,
}

/// The answers: each message received is the response to the oldest request, copied out.
struct IoxRespRx {
    pending: IoxQueue,
    service: Rc<IoxRrService>,
}

impl Sender for IoxReqTx {
    fn send_deadline(&mut self, msg: &[u8], _: Deadline) -> Result<()> {
        fits(msg, IOX_RR_MAX)?;
        let req = self.client.loan_slice_uninit(msg.len()).map_err(iox)?;
        let pending = req.write_from_slice(msg).send().map_err(iox)?;
        self.pending.borrow_mut().push_back(pending);
        Ok(())
    }
    fn max_message(&self) -> usize {
        IOX_RR_MAX
    }
}

impl Polled for IoxRespRx {
    /// The server is gone.
    fn peer_gone(&self) -> Result<bool> {
        Ok(self.service.dynamic_config().number_of_servers() == 0)
    }
}

impl Receiver for IoxRespRx {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        self.recv_until(buf, deadline.remaining().map(|d| Instant::now() + d))
    }
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), ipcring::TryRecvError> {
        let mut q = self.pending.borrow_mut();
        let Some(p) = q.front() else {
            return Err(Error::Timeout.into());
        };
        match p.receive().map_err(iox)? {
            Some(resp) => {
                buf.clear();
                buf.extend_from_slice(resp.payload());
                drop(resp);
                q.pop_front();
                Ok(())
            }
            None => Err(ipcring::TryRecvError::Empty),
        }
    }
}

/// The client: creates the service, starts the server, waits until a request reaches it
/// and comes back (requests sent before the server is connected are not delivered).
fn iox_rr_a(name: &str, spawn: Spawn<'_>) -> Setup<(Tx, Rx)> {
    let base = format!("ipcring-peers{}", name.replace('/', "-"));
    let (node, service) = iox_rr_service(&base)?;
    let client = service
        .client_builder()
        .initial_max_slice_len(IOX_RR_MAX)
        .create()
        .map_err(s)?;
    spawn(&base)?;
    let pending = Rc::new(std::cell::RefCell::new(std::collections::VecDeque::new()));
    let mut tx = IoxReqTx {
        client: Rc::new(client),
        pending: pending.clone(),
        _node: node,
    };
    let mut rx = IoxRespRx {
        pending,
        service: Rc::new(service),
    };
    let deadline = Instant::now() + HS_TIMEOUT;
    let mut buf = Vec::new();
    loop {
        tx.send(b"hello").map_err(s)?;
        let reached = tx
            .pending
            .borrow()
            .back()
            .is_some_and(|p| p.number_of_server_connections() > 0);
        if reached {
            rx.recv_until(&mut buf, Some(deadline)).map_err(s)?;
            break;
        }
        tx.pending.borrow_mut().clear();
        if Instant::now() >= deadline {
            return Err("iceoryx2: the server never connected".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok((Box::new(tx), Box::new(rx)))
}

/// The server: answers each request with a copy of it (loaned, copied in, sent), busy
/// polling, until its client has gone.
fn iox_rr_serve(token: &str, ready: &mut dyn FnMut()) -> Setup<()> {
    let (_node, service) = iox_rr_service(token)?;
    let server = service
        .server_builder()
        .initial_max_slice_len(IOX_RR_MAX)
        .create()
        .map_err(s)?;
    ready();
    let (mut served, mut misses) = (false, 0u32);
    loop {
        match server.receive().map_err(s)? {
            Some(req) => {
                served = true;
                let resp = req.loan_slice_uninit(req.payload().len()).map_err(s)?;
                resp.write_from_slice(req.payload()).send().map_err(s)?;
            }
            None => {
                if idle(&mut misses) && served && service.dynamic_config().number_of_clients() == 0
                {
                    return Ok(());
                }
            }
        }
    }
}
