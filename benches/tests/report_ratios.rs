//! io_uring vs mmap vs naive: cases matched across runs, `naive_X` to `X`, ratios as times
//! better, each path against its own run's baseline.

use benches::report::compare::{Metric, comparisons, times_better};
use benches::results::RunResult;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report");

fn run(name: &str) -> RunResult {
    RunResult::load(&std::path::Path::new(FIXTURES).join(name)).expect("fixture loads")
}

#[test]
fn write_throughput_matches_its_naive_twin_in_each_run() {
    let (uring, mmap) = (run("ringbench-uring.json"), run("ringbench-mmap.json"));
    let table = comparisons(&[&uring.scenarios, &mmap.scenarios]);
    let row = table
        .iter()
        .find(|c| {
            c.key.base == "write_throughput"
                && c.key.params.get("size") == Some(&1024)
                && c.key.params.get("messages") == Some(&10_000)
                && c.metric == Metric::PayloadMbS
        })
        .expect("write_throughput 1 KiB compared");
    assert_eq!(row.engine, vec![Some(950.0), Some(510.0)]);
    assert_eq!(row.naive, vec![Some(300.0), Some(310.0)]);
    assert!((row.engine_vs_naive(0).unwrap() - 950.0 / 300.0).abs() < 1e-9);
    assert!((row.engine_vs_naive(1).unwrap() - 510.0 / 310.0).abs() < 1e-9);
    assert!((row.engine_vs_engine(0, 1).unwrap() - 950.0 / 510.0).abs() < 1e-9);
}

#[test]
fn latency_is_compared_the_other_way_round() {
    assert!((times_better(Metric::P99Us, 1500.0, 4200.0) - 2.8).abs() < 1e-9);
    assert!((times_better(Metric::PayloadMbS, 900.0, 300.0) - 3.0).abs() < 1e-9);
    let uring = run("ringbench-uring.json");
    let table = comparisons(&[&uring.scenarios]);
    let row = table
        .iter()
        .find(|c| c.key.base == "produce_latency" && c.metric == Metric::P99Us)
        .expect("sync produce latency against the naive fdatasync");
    assert_eq!(row.key.durability.as_deref(), Some("sync"));
    assert!((row.engine_vs_naive(0).unwrap() - 4200.0 / 1500.0).abs() < 1e-9);
}

#[test]
fn durability_and_params_must_match() {
    let uring = run("ringbench-uring.json");
    let table = comparisons(&[&uring.scenarios]);
    // The none produce_latency has no naive twin in the fixture: not a comparison.
    assert!(!table.iter().any(|c| c.key.base == "produce_latency"
        && c.key.durability.as_deref() == Some("none")));
    // A case measured once, by one engine, is not compared.
    assert!(!table.iter().any(|c| c.key.base == "mixed_workload"));
}
