//! Target verdicts from the pure `targets::evaluate`: pass, fail and not measured, on the
//! fixture runs and on hand-made cases.

use benches::report::targets::{Target, Verdict, evaluate, judge};
use benches::results::RunResult;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report");

fn run(name: &str) -> RunResult {
    RunResult::load(&std::path::Path::new(FIXTURES).join(name)).expect("fixture loads")
}

fn verdicts(result: &RunResult) -> Vec<(Target, Verdict)> {
    evaluate(&result.scenarios)
        .into_iter()
        .map(|o| (o.target, o.verdict))
        .collect()
}

#[test]
fn uring_fixture_verdicts() {
    assert_eq!(
        verdicts(&run("ringbench-uring.json")),
        vec![
            (Target::ProduceThroughput, Verdict::Pass),
            (Target::FetchThroughput, Verdict::Pass),
            (Target::ProduceLatency, Verdict::Pass),
            (Target::FetchLatency, Verdict::Pass),
            (Target::ProducerScaling, Verdict::Fail),
            (Target::Compaction, Verdict::Pass),
        ]
    );
}

#[test]
fn mmap_fixture_verdicts_include_not_measured() {
    assert_eq!(
        verdicts(&run("ringbench-mmap.json")),
        vec![
            (Target::ProduceThroughput, Verdict::Pass),
            (Target::FetchThroughput, Verdict::Fail),
            (Target::ProduceLatency, Verdict::Fail),
            (Target::FetchLatency, Verdict::Pass),
            (Target::ProducerScaling, Verdict::Pass),
            (Target::Compaction, Verdict::NotMeasured),
        ]
    );
}

#[test]
fn produce_throughput_reads_the_steady_state_case_not_the_in_memory_one() {
    // The fixture's 100-message case (2100 MB/s) never leaves the tail chunk.
    let outcome = &evaluate(&run("ringbench-uring.json").scenarios)[0];
    let reading = outcome.reading.as_ref().expect("measured");
    assert_eq!(reading.case, "write_throughput messages=10000 size=1024");
    assert!((reading.value - 950.0).abs() < 1e-9);
    assert_eq!(reading.durability.as_deref(), Some("none"));
}

#[test]
fn produce_latency_prefers_sync_and_says_so() {
    let mut result = run("ringbench-uring.json");
    let outcome = &evaluate(&result.scenarios)[2];
    assert_eq!(
        outcome.reading.as_ref().unwrap().durability.as_deref(),
        Some("sync")
    );
    // Without the sync case the none case answers, and the reading says none.
    result
        .scenarios
        .retain(|s| !(s.name == "produce_latency" && s.durability.as_deref() == Some("sync")));
    let outcome = &evaluate(&result.scenarios)[2];
    let reading = outcome.reading.as_ref().unwrap();
    assert_eq!(reading.durability.as_deref(), Some("none"));
    assert_eq!(outcome.verdict, Verdict::Pass);
}

#[test]
fn naive_cases_never_answer_a_target() {
    let mut result = run("ringbench-uring.json");
    result.scenarios.retain(|s| s.engine == "naive");
    assert!(
        evaluate(&result.scenarios)
            .iter()
            .all(|o| o.verdict == Verdict::NotMeasured)
    );
}

#[test]
fn compaction_is_scaled_to_100_mb() {
    let outcome = &evaluate(&run("ringbench-uring.json").scenarios)[5];
    // 0.021 s for 26.2 MB: 80.2 ms per 100 MB.
    let value = outcome.reading.as_ref().unwrap().value;
    assert!((value - 0.021 * 1000.0 * 100.0 / 26.2).abs() < 1e-9);
    assert_eq!(judge(Target::Compaction, 99.9), Verdict::Pass);
    assert_eq!(judge(Target::Compaction, 150.0), Verdict::Fail);
}

#[test]
fn fetch_throughput_is_judged_on_the_cold_read_when_there_is_one() {
    let mut result = run("ringbench-uring.json");
    let warm = result
        .scenarios
        .iter()
        .find(|s| s.name == "sequential_fetch" && s.params.get("size") == Some(&1024))
        .expect("a warm sequential fetch in the fixture")
        .clone();
    assert_eq!(
        evaluate(&result.scenarios)[1].verdict,
        Verdict::Pass,
        "the warm figure passes"
    );
    let mut cold = warm;
    cold.name = "sequential_fetch_cold".to_string();
    cold.payload_mb_s = 800.0;
    result.scenarios.push(cold);
    let outcome = &evaluate(&result.scenarios)[1];
    let reading = outcome.reading.as_ref().expect("measured");
    assert!(
        reading.case.starts_with("sequential_fetch_cold"),
        "{}",
        reading.case
    );
    assert!((reading.value - 800.0).abs() < 1e-9);
    assert_eq!(outcome.verdict, Verdict::Fail, "judged on the cold figure");
}
