//! `ringbench suite --smoke` end to end: the binary runs, writes a result file that loads,
//! covers every scenario with positive throughput and a filled environment, and `compare`
//! of the file with itself finds no regression.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use benches::results::RunResult;

/// Scenarios the smoke profile must cover.
const SCENARIOS: [&str; 18] = [
    "write_throughput",
    "batch_write_throughput",
    "produce_latency",
    "concurrent_producers",
    "segment_rollover",
    "read_throughput",
    "sequential_fetch",
    "random_fetch",
    "fetch_latency",
    "concurrent_consumers",
    "compaction",
    "mixed_workload",
    "naive_write_throughput",
    "naive_produce_latency",
    "naive_read_throughput",
    "naive_random_fetch",
    "topic_produce_throughput",
    "topic_concurrent_producers",
];

#[test]
fn smoke_suite_writes_a_complete_result_that_compares_clean_with_itself() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let run = Command::new(env!("CARGO_BIN_EXE_ringbench"))
        .args(["suite", "--smoke", "--out"])
        .arg(out.path())
        .output()
        .expect("run ringbench");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "ringbench suite failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let path = PathBuf::from(stdout.lines().last().expect("the result path").trim());
    assert!(path.starts_with(out.path()), "{path:?}");

    let result = RunResult::load(&path).expect("the result loads");
    let names: BTreeSet<&str> = result.scenarios.iter().map(|r| r.name.as_str()).collect();
    for name in SCENARIOS {
        assert!(names.contains(name), "{name} missing; ran {names:?}");
    }
    for r in &result.scenarios {
        assert!(
            r.payload_mb_s > 0.0 && r.messages_per_s > 0.0 && r.operations > 0,
            "{} {:?}: no throughput",
            r.name,
            r.params
        );
        if r.params.contains_key("producers") || r.params.contains_key("consumers") {
            assert!(r.scaling.is_some(), "{} {:?}: no scaling", r.name, r.params);
        }
    }
    let sync_latency = result
        .scenarios
        .iter()
        .find(|r| r.name == "produce_latency" && r.durability.as_deref() == Some("sync"))
        .expect("produce_latency with sync");
    assert!(sync_latency.latency.is_some_and(|l| l.p99_us > 0.0));
    let compaction = result
        .scenarios
        .iter()
        .find(|r| r.name == "compaction")
        .expect("compaction");
    assert!(compaction.compaction.is_some_and(|c| c.mb_reclaimed > 0.0));
    assert!(
        result
            .scenarios
            .iter()
            .filter(|r| r.engine == "naive")
            .all(|r| r.category == "baseline" && r.io_path == "page cache")
    );

    let env = &result.environment;
    assert_eq!(env.profile, "smoke");
    assert!(env.cores > 0 && env.memory_bytes > 0, "{env:?}");
    assert!(
        !env.cpu_model.is_empty() && !env.kernel.is_empty(),
        "{env:?}"
    );
    assert!(
        !env.filesystem.is_empty() && !env.io_uring.is_empty(),
        "{env:?}"
    );
    assert!(
        !env.io_path.is_empty() && env.started_utc.ends_with('Z'),
        "{env:?}"
    );
    assert!(
        result.scenarios.iter().any(|r| r.io_path == env.io_path),
        "scenarios record the engine's I/O path {}",
        env.io_path
    );

    let compare = Command::new(env!("CARGO_BIN_EXE_ringbench"))
        .arg("compare")
        .arg(&path)
        .arg(&path)
        .output()
        .expect("run ringbench compare");
    assert_eq!(
        compare.status.code(),
        Some(0),
        "compare of a file with itself:\n{}",
        String::from_utf8_lossy(&compare.stdout)
    );

    let missing = Command::new(env!("CARGO_BIN_EXE_ringbench"))
        .arg("compare")
        .arg(&path)
        .arg(out.path().join("no-such-file.json"))
        .output()
        .expect("run ringbench compare");
    assert_eq!(missing.status.code(), Some(2), "unreadable input exits 2");
}
