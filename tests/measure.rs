//! The floors of `ipcring::measure` between two real processes: the test binary
//! re-executes itself as the peer.

#[path = "support/mod.rs"]
mod support;

use ipcring::measure;
use support::{unique, Peer};

crate::peer_entry!(roles);

/// The peer roles this file's tests run, each in a process of its own.
fn roles(role: &str, args: Vec<String>) {
    let r = match role {
        "floor-spin" => measure::floor_spin_peer(&args[0]),
        "floor-split" => measure::floor_spin_split_peer(&args[0]),
        "floor-records" => measure::floor_records_peer(&args[0], args[1].parse().unwrap()),
        other => panic!("unknown role {other}"),
    };
    r.expect("peer");
    std::process::exit(0);
}

/// Runs `floor` over `name` against its peer `role` (given `name` and `args`) in a process of
/// its own; checks the figures: whole batches only, every counted round trip took some
/// time, the median no more than the 99th percentile.
fn floor_between_processes(
    role: &str,
    args: &[&str],
    iters: usize,
    floor: impl FnOnce(&str, usize) -> ipcring::Result<measure::Stats>,
) {
    let name = unique(role);
    let mut c = Peer::spawn(role, &[&[name.as_str()], args].concat());
    let stats = floor(&name, iters).expect("floor");
    c.finish();
    assert_eq!(stats.count, iters / measure::BATCH * measure::BATCH);
    assert!(!stats.p50.is_zero());
    assert!(stats.p50 <= stats.p99);
}

#[test]
fn spin_floor_between_processes() {
    floor_between_processes("floor-spin", &[], 20_000, measure::floor_spin);
}

#[test]
fn split_floor_between_processes() {
    floor_between_processes("floor-split", &[], 20_000, measure::floor_spin_split);
}

#[test]
fn split_peer_of_a_missing_floor_reports_not_found() {
    // No floor process created this name: the peer gives up with a clear error after
    // its open deadline instead of spinning forever. (Open waits up to 10 s.)
    let name = unique("floor3");
    let err = measure::floor_spin_split_peer(&name).unwrap_err();
    assert!(matches!(err, ipcring::Error::NotFound(_)), "{err}");
}

#[test]
fn records_floor_between_processes() {
    // Sizes with and without a partial last word, and enough round trips to wrap each
    // lane (a lane holds RECORDS_LANE / stride records): the peer checks every record's
    // first byte, so a record read before it was written, or a stale one from the last
    // lap, fails the run.
    for size in [0usize, 13, 64, 1000] {
        let iters = measure::RECORDS_LANE / (8 + size.div_ceil(8) * 8) * 2 + 1000;
        floor_between_processes("floor-records", &[&size.to_string()], iters, |name, n| {
            measure::floor_records(name, size, n)
        });
    }
}

#[test]
fn records_floor_refuses_records_larger_than_half_a_lane() {
    let name = unique("floor5");
    let err = measure::floor_records(&name, measure::RECORDS_LANE, 10).unwrap_err();
    assert!(matches!(err, ipcring::Error::InvalidConfig(_)), "{err}");
}
