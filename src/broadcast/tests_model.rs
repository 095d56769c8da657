//! proptest model of the broadcast ring's index arithmetic: the real publisher and
//! subscriber cores, run on an in-process block, against a model that only knows "the last
//! `slots` messages are held".

use proptest::prelude::*;

use super::*;

/// One step of a scenario.
#[derive(Debug, Clone)]
enum Op {
    /// The publisher publishes this many messages.
    Publish(u8),
    /// Subscriber `s` makes one receive attempt.
    Recv(u8),
    /// The publisher starts message `head` (stamps its slot "being written") and stops
    /// there, as if preempted (or killed) mid-write; the next publish writes it again.
    Preempt,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u8..12).prop_map(Op::Publish),
        5 => (0u8..3).prop_map(Op::Recv),
        1 => Just(Op::Preempt),
    ]
}

/// Payload of message `i`: its number, then bytes derived from it; length varies.
fn payload(i: u64, max: u32) -> Vec<u8> {
    let len = 8 + (i.wrapping_mul(7) % (max as u64 - 7)) as usize;
    let mut m = i.to_le_bytes().to_vec();
    m.extend((8..len).map(|k| (i as u8).wrapping_mul(31).wrapping_add(k as u8)));
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn subscribers_follow_the_model(
        slots_log in 1u32..5,
        start in prop_oneof![Just(0u64), 0u64..1_000_000, (u64::MAX / 4)..(u64::MAX / 4 + 10)],
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let slots = 1u64 << slots_log;
        let max = 40u32;
        let geo = Geo { slots, slot_words: slot_size(max) / 8, max_message: max };
        let shared = BroadcastShared::new_block();
        let data: Vec<AtomicU64> =
            (0..slots as usize * geo.slot_words).map(|_| AtomicU64::new(0)).collect();
        // A ring whose numbering starts at `start`: as if published by an earlier publisher
        // whose messages the subscribers (starting at `start`) never see.
        shared.head.store(start, Ordering::Relaxed);
        let mut publisher = PublisherCore::attach(&shared, geo);
        let mut subs: Vec<SubscriberCore> = (0..3).map(|_| SubscriberCore::at(start, geo)).collect();
        let mut model_next = [start; 3];
        let mut delivered = [0u64; 3];
        let mut lagged = [0u64; 3];
        // The message being written by a "preempted" publisher, if any.
        let mut in_progress: Option<u64> = None;
        let mut buf = Vec::new();

        for op in ops {
            match op {
                Op::Publish(k) => {
                    for _ in 0..k {
                        let i = publisher.head();
                        publisher.write(&data, &payload(i, max)).unwrap();
                    }
                    in_progress = None;
                    publisher.flush(&shared);
                }
                Op::Preempt => {
                    let i = publisher.head();
                    let base = geo.slot_of(i) * geo.slot_words;
                    data[base].store(stamp_writing(i), Ordering::Relaxed);
                    data[base + 2].store(u64::MAX, Ordering::Relaxed); // half-written junk
                    in_progress = Some(i);
                }
                Op::Recv(s) => {
                    let s = s as usize;
                    let head = shared.head.load(Ordering::Relaxed);
                    let got = subs[s].try_recv(&shared, &data, &mut buf).unwrap();
                    let next = model_next[s];
                    // The model: messages head-slots .. head are held, except the one whose
                    // slot a preempted publisher is rewriting.
                    let oldest = head.saturating_sub(slots).max(start);
                    let clobbered = in_progress.and_then(|j| j.checked_sub(slots));
                    if next == head {
                        prop_assert_eq!(got, None);
                    } else if next < oldest {
                        prop_assert_eq!(got, Some(Recv::Lagged(oldest - next)));
                        model_next[s] = oldest;
                        lagged[s] += oldest - next;
                    } else if clobbered == Some(next) {
                        prop_assert_eq!(got, Some(Recv::Lagged(1)));
                        prop_assert!(buf.is_empty());
                        model_next[s] = next + 1;
                        lagged[s] += 1;
                    } else {
                        prop_assert_eq!(got, Some(Recv::Message(next)));
                        prop_assert_eq!(&buf, &payload(next, max));
                        model_next[s] = next + 1;
                        delivered[s] += 1;
                    }
                    prop_assert_eq!(subs[s].next(), model_next[s]);
                }
            }
        }
        // Drain: every subscriber ends at head, and delivered + lagged = published.
        let head = shared.head.load(Ordering::Relaxed);
        for s in 0..3 {
            while let Some(r) = subs[s].try_recv(&shared, &data, &mut buf).unwrap() {
                match r {
                    Recv::Message(i) => {
                        prop_assert_eq!(&buf, &payload(i, max));
                        delivered[s] += 1;
                    }
                    Recv::Lagged(n) => lagged[s] += n,
                }
            }
            prop_assert_eq!(subs[s].next(), head);
            prop_assert_eq!(delivered[s] + lagged[s], head - start);
        }
    }

    #[test]
    fn plan_partitions_the_indices(next in 0u64..u64::MAX / 2, ahead in 0u64..1 << 40, slots_log in 1u32..21) {
        let slots = 1u64 << slots_log;
        let head = next + ahead;
        match plan(next, head, slots).unwrap() {
            Plan::Empty => prop_assert_eq!(ahead, 0),
            Plan::Read(i) => {
                prop_assert_eq!(i, next);
                prop_assert!(ahead >= 1 && ahead <= slots);
            }
            Plan::Lagged { lost, resume } => {
                prop_assert!(ahead > slots);
                prop_assert_eq!(resume, head - slots);
                prop_assert_eq!(next + lost, resume);
            }
        }
        if next > 0 {
            prop_assert!(plan(next, next - 1, slots).is_err());
        }
    }

    #[test]
    fn resume_skips_only_what_is_gone(next in 0u64..u64::MAX / 4, laps in 1u64..4, extra in 0u64..64, done in any::<bool>(), slots_log in 1u32..12) {
        let slots = 1u64 << slots_log;
        // Message j = next + laps*slots is being written (or done) in next's slot.
        let j = next + laps * slots;
        let stamp = if done { stamp_done(j) } else { stamp_writing(j) };
        let head = j + if done { 1 } else { 0 } + extra.min(slots - 1) * u64::from(done);
        let r = resume_after_overwrite(next, stamp, head, slots);
        prop_assert!(r > next);
        // Nothing still held is skipped: the oldest held is max(head - slots, j + 1 - slots).
        prop_assert_eq!(r, (head - slots).max(j + 1 - slots));
        prop_assert_eq!(j & (slots - 1), next & (slots - 1)); // the same slot
    }
}

#[test]
fn stamps_encode_their_message() {
    for i in [0u64, 1, 2, 1000, u64::MAX / 2 - 1] {
        assert_eq!(started_by(stamp_writing(i)), Some(i));
        assert_eq!(started_by(stamp_done(i)), Some(i));
        assert!(stamp_writing(i) < stamp_done(i));
        assert!(stamp_done(i) < stamp_writing(i + 1));
    }
    assert_eq!(started_by(0), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// A hostile or buggy peer may write anything into the head and the slots: a
    /// subscriber gets messages, losses, nothing, or `Corrupt`, never a panic, never a
    /// buffer past `max_message`, and its cursor never moves backwards.
    #[test]
    fn garbage_never_panics(
        words in proptest::collection::vec(any::<u64>(), 2 * 8),
        small in proptest::collection::vec(0u64..40, 2 * 8),
        use_small in proptest::collection::vec(any::<bool>(), 2 * 8),
        heads in proptest::collection::vec(prop_oneof![any::<u64>(), (u64::MAX - 8)..=u64::MAX, 0u64..8], 1..6),
        next in prop_oneof![any::<u64>(), (u64::MAX - 8)..=u64::MAX, 0u64..8],
    ) {
        let geo = Geo { slots: 2, slot_words: 8, max_message: 40 };
        let shared = BroadcastShared::new_block();
        let data: Vec<AtomicU64> = words
            .iter()
            .zip(&small)
            .zip(&use_small)
            .map(|((&w, &s), &u)| AtomicU64::new(if u { s } else { w }))
            .collect();
        let mut sub = SubscriberCore::at(next, geo);
        let mut buf = Vec::new();
        for h in heads {
            shared.head.store(h, Ordering::Relaxed);
            let before = sub.next();
            match sub.try_recv(&shared, &data, &mut buf) {
                Ok(Some(Recv::Message(i))) => {
                    prop_assert_eq!(i, before);
                    prop_assert!(buf.len() <= 40);
                }
                Ok(Some(Recv::Lagged(n))) => {
                    prop_assert!(n > 0);
                    prop_assert!(buf.is_empty());
                }
                Ok(None) | Err(Error::Corrupt(_)) => {}
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
            prop_assert!(sub.next() >= before);
        }
    }
}
