//! The options and names the transport suites (`tests/conformance.rs`,
//! `tests/rpc_transports.rs`) open their transports with, written once.

use std::time::Duration;

/// Waits that are only reached when something is wrong.
pub const LONG: Duration = Duration::from_secs(30);

/// In a peer: the producer of the ring `name`, which the test creates; waits up to [`LONG`]
/// for it.
pub fn open_producer(name: &str) -> ipcring::ring::Producer {
    let opts = ipcring::ring::RingOptions::new().open_timeout(LONG);
    ipcring::ring::Producer::open(name, &opts).expect("open producer")
}

/// A new ring named after `tag`, and both its ends in this process.
pub fn ring_pair(
    tag: &str,
    opts: &ipcring::ring::RingOptions,
) -> (ipcring::ring::Producer, ipcring::ring::Consumer) {
    let name = super::unique(tag);
    let tx = ipcring::ring::Producer::create(&name, opts).unwrap();
    (tx, ipcring::ring::Consumer::open(&name, opts).unwrap())
}

/// A tokio runtime on two worker threads, timers and I/O enabled.
pub fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A tokio runtime on this thread, timers and I/O enabled.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A temporary directory whose name says which test process made it.
pub fn unique_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("{}-", super::unique(tag).trim_start_matches('/')))
        .tempdir()
        .unwrap()
}

/// Sockets with the article's authkey, waiting up to [`LONG`] to connect.
#[cfg(feature = "socket")]
pub fn socket_opts() -> ipcring::socket::SocketOptions {
    ipcring::socket::SocketOptions::new()
        .authkey(ipcring::socket::DEFAULT_AUTHKEY)
        .connect_timeout(LONG)
}

/// Small queues (4 messages of 1 KiB), well inside the default kernel limits.
#[cfg(all(feature = "mq", target_os = "linux"))]
pub fn mq_opts() -> ipcring::mq::MqOptions {
    ipcring::mq::MqOptions::new()
        .max_messages(4)
        .message_size(1024)
}

/// Queue names unlinked when this drops (a peer that is killed never unlinks the queues
/// it created).
#[cfg(all(feature = "mq", target_os = "linux"))]
pub struct Queues(pub Vec<String>);

#[cfg(all(feature = "mq", target_os = "linux"))]
impl Drop for Queues {
    fn drop(&mut self) {
        for q in &self.0 {
            let _ = ipcring::mq::MessageQueue::unlink(q);
        }
    }
}

/// Redis connections that retry briefly and give up on a silent server after 5 s.
#[cfg(feature = "redis")]
pub fn redis_opts() -> ipcring::redis::RedisOptions {
    ipcring::redis::RedisOptions::new()
        .backoff(Duration::from_millis(10), Duration::from_millis(200))
        .connect_timeout(Duration::from_secs(5))
        .io_timeout(Duration::from_secs(5))
}

/// Redis streams on [`redis_opts`] that block 100 ms at a time.
#[cfg(feature = "redis")]
pub fn stream_opts() -> ipcring::redis::StreamOptions {
    ipcring::redis::StreamOptions::new()
        .redis(redis_opts())
        .block(Duration::from_millis(100))
}

/// A Redis key prefix unique to this process and call.
pub fn redis_key(tag: &str) -> String {
    super::unique(tag).replace('/', "ipcring-test:")
}

/// In an `impl Kit` or `impl Link`: the meeting place is a new temporary directory, whose
/// path is the address.
#[macro_export]
macro_rules! dir_place {
    () => {
        type Place = tempfile::TempDir;
        fn place(_: &str) -> Option<tempfile::TempDir> {
            Some($crate::support::setup::unique_dir("place"))
        }
        fn addr(place: &tempfile::TempDir) -> String {
            place.path().to_str().unwrap().to_owned()
        }
    };
}
