//! Instructions per operation under callgrind (not committed).
use ipcring::broadcast::{BroadcastOptions, Publisher, Subscriber};
use ipcring::ring::{Consumer, Producer, RingOptions};
use ipcring::seqlock::{Reader, SeqlockOptions, Writer};

fn main() {
    let n: u64 = std::env::args().nth(1).unwrap().parse().unwrap();
    let what = std::env::args().nth(2).unwrap();
    let pid = std::process::id();
    let msg = [7u8; 64];
    match what.as_str() {
        "ring" => {
            let name = format!("/ipcring-cg-{pid}");
            let mut rx = Consumer::create(&name, &RingOptions::new().capacity(1 << 16)).unwrap();
            let mut tx = Producer::open(&name, &RingOptions::new()).unwrap();
            let mut buf = Vec::with_capacity(64);
            for _ in 0..n {
                assert!(tx.try_send(&msg).unwrap());
                assert!(rx.try_recv_into(&mut buf).unwrap());
            }
        }
        "ringview" => {
            let name = format!("/ipcring-cg-{pid}");
            let mut rx = Consumer::create(&name, &RingOptions::new().capacity(1 << 16)).unwrap();
            let mut tx = Producer::open(&name, &RingOptions::new()).unwrap();
            let mut s = 0u64;
            for _ in 0..n {
                assert!(tx.try_send(&msg).unwrap());
                let m = rx.try_recv().unwrap().unwrap();
                s += m[0] as u64;
            }
            std::hint::black_box(s);
        }
        "seqlock" => {
            let name = format!("/ipcring-cgs-{pid}");
            let mut w = Writer::<[u64; 8]>::create(&name, &SeqlockOptions::new()).unwrap();
            let r = Reader::<[u64; 8]>::open(&name, &SeqlockOptions::new()).unwrap();
            let mut out = [0u64; 8];
            for i in 0..n {
                w.write(&[i; 8]);
                r.read_into(&mut out).unwrap();
            }
            std::hint::black_box(out);
        }
        "broadcast" => {
            let name = format!("/ipcring-cgb-{pid}");
            let mut p = Publisher::create(&name, &BroadcastOptions::new()).unwrap();
            let mut s = Subscriber::open(&name, &BroadcastOptions::new()).unwrap();
            let mut buf = Vec::with_capacity(64);
            for _ in 0..n {
                p.publish(&msg).unwrap();
                s.try_recv_into(&mut buf).unwrap();
            }
        }
        _ => panic!(),
    }
}
