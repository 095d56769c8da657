//! POSIX message queues from a hostile peer: another process creates the queue with the
//! attributes it likes (within the kernel's limits) and sends messages of any bytes and
//! priority. `MessageQueue::open` must take the creator's attributes, deliver every
//! message whole, highest priority first and in order within a priority, and report an
//! empty queue as such, never panicking. Round trip: the messages, sent again with their
//! priorities by our handle, are what the peer's `mq_receive` reads.
//!
//! Input: byte 0 picks the queue's `maxmsg` (1..=10), byte 1 and 2 its `msgsize`
//! (1..=8192), then messages: a length byte, two priority bytes, the bytes.
#![no_main]

use std::ffi::CString;

use ipcring::mq::{MessageQueue, MqOptions, PRIO_MAX};
use ipcring::Sender;
use libfuzzer_sys::fuzz_target;

struct RawQueue(libc::mqd_t, CString);

impl RawQueue {
    /// The peer's queue, created by hand.
    fn create(name: &CString, maxmsg: i64, msgsize: i64) -> RawQueue {
        // SAFETY: a zeroed mq_attr is valid; the fields set are plain integers.
        let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
        attr.mq_maxmsg = maxmsg as _;
        attr.mq_msgsize = msgsize as _;
        // SAFETY: valid NUL-terminated name and a live mq_attr.
        let q = unsafe {
            libc::mq_open(
                name.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NONBLOCK,
                0o600 as libc::mode_t,
                &attr as *const libc::mq_attr,
            )
        };
        assert!(q >= 0, "mq_open: {}", std::io::Error::last_os_error());
        RawQueue(q, name.clone())
    }

    fn send(&self, msg: &[u8], prio: u32) -> bool {
        // SAFETY: the pointer and length describe `msg`.
        unsafe { libc::mq_send(self.0, msg.as_ptr().cast(), msg.len(), prio) == 0 }
    }

    fn receive(&self, size: usize) -> Option<(Vec<u8>, u32)> {
        let mut buf = vec![0u8; size];
        let mut prio = 0u32;
        // SAFETY: the pointer and length describe `buf`; `prio` is a live u32.
        let n = unsafe { libc::mq_receive(self.0, buf.as_mut_ptr().cast(), buf.len(), &mut prio) };
        if n < 0 {
            return None;
        }
        buf.truncate(n as usize);
        Some((buf, prio))
    }
}

impl Drop for RawQueue {
    fn drop(&mut self) {
        // SAFETY: our own descriptor and name.
        unsafe {
            libc::mq_close(self.0);
            libc::mq_unlink(self.1.as_ptr());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let maxmsg = 1 + i64::from(data[0]) % 10;
    let msgsize = 1 + (i64::from(data[1]) << 8 | i64::from(data[2])) % 8192;
    let name = format!("/ipcring-fuzz-mq-{}", std::process::id());
    let cname = CString::new(name.clone()).unwrap();
    // SAFETY: a valid name; a leftover from a crashed run is removed.
    unsafe { libc::mq_unlink(cname.as_ptr()) };
    let peer = RawQueue::create(&cname, maxmsg, msgsize);
    let mut sent: Vec<(Vec<u8>, u32)> = Vec::new();
    let mut rest = &data[3..];
    while rest.len() >= 3 && (sent.len() as i64) < maxmsg {
        let len = (rest[0] as usize).min(rest.len() - 3).min(msgsize as usize);
        let prio = u32::from(u16::from_le_bytes([rest[1], rest[2]])) % PRIO_MAX;
        let msg = &rest[3..3 + len];
        rest = &rest[3 + len..];
        assert!(
            peer.send(msg, prio),
            "mq_send: {}",
            std::io::Error::last_os_error()
        );
        sent.push((msg.to_vec(), prio));
    }

    let mut q = MessageQueue::open(&name, &MqOptions::new()).unwrap();
    let a = q.attributes().unwrap();
    assert_eq!((a.max_messages, a.message_size), (maxmsg, msgsize));
    assert_eq!(q.max_message(), msgsize as usize);
    // Highest priority first, in sending order within a priority.
    let mut expect = sent.clone();
    expect.sort_by_key(|(_, p)| std::cmp::Reverse(*p));
    let mut buf = Vec::new();
    for (m, p) in &expect {
        let prio = q.try_recv_priority_into(&mut buf).unwrap();
        assert_eq!(prio, *p);
        assert_eq!(&buf, m);
    }
    assert!(q.try_recv_priority_into(&mut buf).unwrap_err().is_empty());

    // Round trip: our sends, the peer's receives.
    for (m, p) in &sent {
        q.try_send_priority(m, *p).unwrap();
    }
    for (m, p) in &expect {
        assert_eq!(
            peer.receive(msgsize as usize).as_ref(),
            Some(&(m.clone(), *p))
        );
    }
    assert!(peer.receive(msgsize as usize).is_none());
    // The peer removes the queue first, as a program that does not use this crate would:
    // our handle, the last, then removes the liveness file it made.
    drop(peer);
    drop(q);
});
