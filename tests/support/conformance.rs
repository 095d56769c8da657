//! The transport contract (`ipcring::transport`, blocking and async), written once as
//! generic cases over a [`Kit`] (how to open one transport's two ends) and instantiated for
//! every transport by [`conformance_row!`] in `tests/conformance.rs`.
//!
//! What every transport promises (the table in `src/transport.rs`): whole messages, in
//! order, each delivered once; `try_` forms answer at once (`Ok(false)`: nothing done);
//! `_timeout` forms give `Error::Timeout` having done nothing; a too-large message is a
//! clear error that loses nothing already accepted; once the peer is gone and everything it
//! sent is delivered, `Error::Disconnected` (for transports that see a peer leave).

use std::time::Duration;

use ipcring::transport::{Receiver, Sender};
use ipcring::{Error, TryRecvError, TrySendError};

use super::{check, message, recv_seqs, send_seqs, Peer};

pub use super::setup::LONG;
/// A short wait, for cases that expect `Timeout`.
pub const SHORT: Duration = Duration::from_millis(20);

/// Where an end is opened: in the test, which owns the meeting place, or in a peer process,
/// which knows only its address.
pub enum At<'a, P> {
    Here(&'a P),
    There(&'a str),
}

/// One transport, for the contract cases: how to make a meeting place and open each end.
pub trait Kit {
    /// The row's name: the suffix of its peer roles.
    const NAME: &'static str;
    /// The receiver learns that the sender has gone (`Error::Disconnected`).
    const SEES_DEPARTURE: bool = true;
    /// The receiver must exist before anything is sent (else it would not see it).
    const RX_FIRST: bool = false;

    /// Owns what the ends meet through (a name, a directory, a listener); removes it when
    /// dropped.
    type Place;
    type Tx: Sender;
    type Rx: Receiver;

    /// A new place, or `None` when the transport cannot run here (said loudly).
    fn place(test: &str) -> Option<Self::Place>;
    /// The place as a peer's argument.
    fn addr(place: &Self::Place) -> String;
    /// Both ends, in this process (by default the receiver first, then the sender).
    fn pair(place: &Self::Place) -> (Self::Tx, Self::Rx) {
        let rx = Self::rx(At::Here(place));
        (Self::tx(At::Here(place)), rx)
    }
    /// The sending end.
    fn tx(at: At<'_, Self::Place>) -> Self::Tx;
    /// The receiving end.
    fn rx(at: At<'_, Self::Place>) -> Self::Rx;
}

fn expect_departure<R: Receiver>(rx: &mut R) {
    match rx.recv_timeout_into(&mut Vec::new(), LONG) {
        Err(Error::Disconnected) => {}
        other => panic!("after the sender left and all was delivered: {other:?}"),
    }
}

/// Messages go through whole, in order, once, with at most two in flight (so one thread
/// does both ends); then the sender leaves and the receiver is told.
pub fn order_and_integrity<K: Kit>(test: &str) {
    let Some(place) = K::place(test) else { return };
    let (mut tx, mut rx) = K::pair(&place);
    const N: u64 = 500;
    for seq in 0..N {
        send_seqs(&mut tx, [seq]);
        if seq >= 1 {
            recv_seqs(&mut rx, [seq - 1]);
        }
    }
    recv_seqs(&mut rx, [N - 1]);
    drop(tx);
    if K::SEES_DEPARTURE {
        expect_departure(&mut rx);
    }
}

/// The `try_` and `_timeout` forms: on an empty channel `try_recv_into` is `Empty` and
/// `recv_timeout_into` is `Timeout`; a timed-out receive loses nothing sent after it; each
/// send form delivers its message once.
pub fn try_and_timeout_forms<K: Kit>(test: &str) {
    let Some(place) = K::place(test) else { return };
    let (mut tx, mut rx) = K::pair(&place);
    let (mut m, mut buf, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
    assert!(
        matches!(rx.try_recv_into(&mut buf), Err(TryRecvError::Empty)),
        "a message from nowhere"
    );
    assert!(
        buf.is_empty(),
        "an empty try_recv_into left bytes in the buffer"
    );
    assert!(
        matches!(rx.recv_timeout_into(&mut buf, SHORT), Err(Error::Timeout)),
        "an empty channel must time out"
    );
    message(0, &mut m);
    tx.send_timeout(&m, LONG).unwrap();
    recv_seqs(&mut rx, [0]);
    message(1, &mut m);
    tx.try_send(&m).expect("an empty channel has room");
    // `try_recv_into` until it comes (it may take a moment to cross).
    super::wait_until("message 1", || {
        super::got(rx.try_recv_into(&mut buf)).is_some()
    });
    check(1, &buf, &mut scratch).unwrap();
    message(2, &mut m);
    tx.send(&m).unwrap();
    let got = rx.recv().unwrap();
    check(2, &got, &mut scratch).unwrap();
    assert!(
        matches!(rx.try_recv_into(&mut buf), Err(TryRecvError::Empty)),
        "a message sent once came twice"
    );
}

/// A full channel: `try_send` says so, `send_timeout` times out having sent nothing, and
/// everything accepted before comes out, in order.
pub fn full_channel<K: Kit>(test: &str) {
    let Some(place) = K::place(test) else { return };
    let (mut tx, mut rx) = K::pair(&place);
    let (mut m, mut buf) = (Vec::new(), Vec::new());
    let sent = super::fill(&mut tx, 10_000_000);
    message(sent, &mut m);
    let r = tx.send_timeout(&m, SHORT);
    assert!(
        matches!(r, Err(Error::Timeout)),
        "a full channel gave {r:?}"
    );
    recv_seqs(&mut rx, 0..sent);
    assert!(
        matches!(rx.try_recv_into(&mut buf), Err(TryRecvError::Empty)),
        "the timed-out message was sent"
    );
    // Room again.
    tx.send_timeout(&m, LONG).unwrap();
    recv_seqs(&mut rx, [sent]);
}

/// A message over `max_message` is refused with `MessageTooLarge`; the channel goes on.
pub fn oversized_is_refused<K: Kit>(test: &str) {
    let Some(place) = K::place(test) else { return };
    let (mut tx, mut rx) = K::pair(&place);
    let max = tx.max_message();
    if max > 64 << 20 {
        return; // no practical limit to test against
    }
    send_seqs(&mut tx, [0]);
    let big = vec![7u8; max + 1];
    match tx.send(&big) {
        Err(Error::MessageTooLarge { len, .. }) => assert_eq!(len, max + 1),
        other => panic!("a message of {} bytes over {max}: {other:?}", max + 1),
    }
    assert!(matches!(
        tx.try_send(&big),
        Err(TrySendError::Failed(Error::MessageTooLarge { .. }))
    ));
    send_seqs(&mut tx, [1]);
    recv_seqs(&mut rx, 0..2);
}

/// Messages sent by a peer process (`conf-send-<row>`).
pub const PROCESS_N: u64 = 2000;

/// The peer roles of the cases between processes; `true` if `role` was one of them.
pub fn serve_peer<K: Kit>(role: &str, args: &[String]) -> bool {
    if role == format!("conf-send-{}", K::NAME) {
        send_seqs(&mut K::tx(At::There(&args[0])), 0..PROCESS_N);
        // Leaving now is the departure the test checks for.
        return true;
    }
    if role == format!("conf-recv-{}", K::NAME) {
        let mut rx = K::rx(At::There(&args[0]));
        println!("\nREADY");
        recv_seqs(&mut rx, 0..PROCESS_N);
        if K::SEES_DEPARTURE {
            expect_departure(&mut rx);
        }
        return true;
    }
    false
}

/// The test's receiving end, opened before the peer starts if the transport needs it.
fn rx_around_peer<K: Kit>(place: &K::Place, role: &str) -> (Peer, K::Rx) {
    let addr = K::addr(place);
    if K::RX_FIRST {
        let rx = K::rx(At::Here(place));
        (Peer::spawn(role, &[&addr]), rx)
    } else {
        let peer = Peer::spawn(role, &[&addr]);
        (peer, K::rx(At::Here(place)))
    }
}

/// A peer process sends; this one receives everything, in order, then the departure.
pub fn from_another_process<K: Kit>(test: &str) {
    let Some(place) = K::place(test) else { return };
    let (mut peer, mut rx) = rx_around_peer::<K>(&place, &format!("conf-send-{}", K::NAME));
    recv_seqs(&mut rx, 0..PROCESS_N);
    peer.finish();
    if K::SEES_DEPARTURE {
        expect_departure(&mut rx);
    }
}

/// The test's sending end, for a receiving peer that says `READY` once its end is open.
fn tx_for_peer<K: Kit>(place: &K::Place) -> (Peer, K::Tx) {
    let mut peer = Peer::builder(&format!("conf-recv-{}", K::NAME))
        .arg(K::addr(place))
        .stdout_piped()
        .spawn();
    let tx = K::tx(At::Here(place));
    peer.wait_line("READY");
    (peer, tx)
}

/// This process sends; a peer process checks everything, in order, then the departure.
pub fn to_another_process<K: Kit>(test: &str) {
    let Some(place) = K::place(test) else { return };
    let (mut peer, mut tx) = tx_for_peer::<K>(&place);
    send_seqs(&mut tx, 0..PROCESS_N);
    peer.hang_up(tx);
}

/// The async forms (`ipcring::transport::AsyncSender`/`AsyncReceiver`) of a [`Kit`]'s ends.
#[cfg(feature = "async")]
pub trait AsyncKit: Kit {
    type ATx: ipcring::transport::AsyncSender;
    type ARx: ipcring::transport::AsyncReceiver;
    /// The async sender made from the blocking one (inside a tokio runtime).
    fn atx(tx: Self::Tx) -> Self::ATx;
    /// The async receiver made from the blocking one (inside a tokio runtime).
    fn arx(rx: Self::Rx) -> Self::ARx;
}

/// Async receives of a peer process's messages: in order, once, although every fifth
/// receive is first cancelled by a timeout (a cancelled receive takes no message).
#[cfg(feature = "async")]
pub fn async_from_another_process<K: AsyncKit>(test: &str) {
    use ipcring::transport::AsyncReceiver;
    let Some(place) = K::place(test) else { return };
    let rt = super::setup::multi_thread();
    let (mut peer, rx) = rx_around_peer::<K>(&place, &format!("conf-send-{}", K::NAME));
    rt.block_on(async {
        let mut rx = K::arx(rx);
        let (mut buf, mut scratch) = (Vec::new(), Vec::new());
        for seq in 0..PROCESS_N {
            if seq % 5 == 0 {
                match rx
                    .recv_timeout_into(&mut buf, Duration::from_micros(50))
                    .await
                {
                    Ok(()) => {
                        check(seq, &buf, &mut scratch).unwrap();
                        continue;
                    }
                    Err(Error::Timeout) => {}
                    Err(e) => panic!("message {seq}: {e}"),
                }
            }
            rx.recv_timeout_into(&mut buf, LONG)
                .await
                .unwrap_or_else(|e| panic!("message {seq}: {e}"));
            check(seq, &buf, &mut scratch).unwrap();
        }
        if K::SEES_DEPARTURE {
            match rx.recv_timeout_into(&mut buf, LONG).await {
                Err(Error::Disconnected) => {}
                other => panic!("after the sender left: {other:?}"),
            }
        }
    });
    peer.finish();
}

/// Async sends to a peer process, which checks them all.
#[cfg(feature = "async")]
pub fn async_to_another_process<K: AsyncKit>(test: &str) {
    use ipcring::transport::AsyncSender;
    let Some(place) = K::place(test) else { return };
    let rt = super::setup::multi_thread();
    let (mut peer, tx) = tx_for_peer::<K>(&place);
    rt.block_on(async {
        let mut tx = K::atx(tx);
        let mut m = Vec::new();
        for seq in 0..PROCESS_N {
            message(seq, &mut m);
            if seq % 3 == 0 {
                tx.send_timeout(&m, LONG).await.unwrap();
            } else {
                tx.send(&m).await.unwrap();
            }
        }
    });
    peer.finish();
}

/// The async `try_` and `_timeout` receives on an empty channel.
#[cfg(feature = "async")]
pub fn async_empty_channel<K: AsyncKit>(test: &str) {
    use ipcring::transport::{AsyncReceiver, AsyncSender};
    let Some(place) = K::place(test) else { return };
    let rt = super::setup::multi_thread();
    let (tx, rx) = K::pair(&place);
    rt.block_on(async {
        let (mut tx, mut rx) = (K::atx(tx), K::arx(rx));
        let (mut m, mut buf, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        assert!(
            matches!(rx.try_recv_into(&mut buf), Err(TryRecvError::Empty)),
            "a message from nowhere"
        );
        let r = rx.recv_timeout_into(&mut buf, SHORT).await;
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        message(0, &mut m);
        tx.send(&m).await.unwrap();
        rx.recv_timeout_into(&mut buf, LONG).await.unwrap();
        check(0, &buf, &mut scratch).unwrap();
    });
}

/// The cases of one group for row `$kit`, as `#[test]`s in the current module, each
/// named as its function here.
#[macro_export]
macro_rules! conformance_cases {
    (@each $kit:ty, $row:ident, $($case:ident),*) => {
        $(
            #[test]
            fn $case() {
                $crate::support::conformance::$case::<$kit>(concat!(
                    stringify!($row),
                    "::",
                    stringify!($case)
                ));
            }
        )*
    };
    (blocking, $kit:ty, $row:ident) => {
        $crate::conformance_cases!(@each $kit, $row, order_and_integrity, try_and_timeout_forms, oversized_is_refused);
    };
    (bounded, $kit:ty, $row:ident) => {
        $crate::conformance_cases!(@each $kit, $row, full_channel);
    };
    (processes, $kit:ty, $row:ident) => {
        $crate::conformance_cases!(@each $kit, $row, from_another_process, to_another_process);
    };
    (async, $kit:ty, $row:ident) => {
        $crate::conformance_cases!(@each $kit, $row, async_from_another_process, async_to_another_process, async_empty_channel);
    };
}
