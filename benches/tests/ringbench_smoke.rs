//! `ringbench suite --smoke` end to end: the binary runs, writes a result file that loads,
//! covers every scenario with positive throughput and a filled environment, and `compare`
//! of the file with itself finds no regression.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use benches::results::{RunResult, ScenarioResult};

/// Scenarios the smoke profile must cover.
const SCENARIOS: [&str; 19] = [
    "write_throughput",
    "batch_write_throughput",
    "produce_latency",
    "concurrent_producers",
    "segment_rollover",
    "read_throughput",
    "sequential_fetch",
    "sequential_fetch_cold",
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

/// The topic scenarios added to the suite after the first ones: each must appear with
/// positive throughput.
const TOPIC_SCENARIOS: [&str; 6] = [
    "topic_fetch_throughput",
    "topic_concurrent_consumers",
    "topic_partition_balance",
    "topic_multi_topic::produce",
    "topic_multi_topic::fetch_many",
    "topic_compaction",
];

/// Runs `ringbench suite --smoke` with `args` into `out`; checks it succeeded and returns the
/// path of its result file and what the file holds.
fn smoke_suite(args: &[&str], out: &std::path::Path) -> (PathBuf, RunResult) {
    let run = Command::new(env!("CARGO_BIN_EXE_ringbench"))
        .args(["suite", "--smoke"])
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run ringbench");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "ringbench suite failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let path = PathBuf::from(stdout.lines().last().expect("the result path").trim());
    assert!(path.starts_with(out), "{}", path.display());
    let result = RunResult::load(&path).expect("the result loads");
    (path, result)
}

#[test]
fn smoke_suite_writes_a_complete_result_that_compares_clean_with_itself() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let (path, result) = smoke_suite(&[], out.path());
    let names: BTreeSet<&str> = result.scenarios.iter().map(|r| r.name.as_str()).collect();
    for name in SCENARIOS.iter().chain(&TOPIC_SCENARIOS) {
        assert!(names.contains(name), "{name} missing; ran {names:?}");
    }
    check_topic_scenarios(&result);
    check_sustained(&result);
    check_contention(&result);
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

fn find<'a>(result: &'a RunResult, name: &str) -> Vec<&'a ScenarioResult> {
    result.scenarios.iter().filter(|r| r.name == name).collect()
}

/// The new topic scenarios: positive throughput, category "topic", the balance ratio, the
/// compaction figures, and scaling of the concurrent consumers against their 1-consumer case.
fn check_topic_scenarios(result: &RunResult) {
    for name in TOPIC_SCENARIOS {
        for r in find(result, name) {
            assert!(
                r.category == "topic" && r.payload_mb_s > 0.0 && r.messages_per_s > 0.0,
                "{name} {:?}: category {} or no throughput",
                r.params,
                r.category
            );
            assert!(r.latency.is_some(), "{name} {:?}: no latency", r.params);
        }
    }
    for r in find(result, "topic_partition_balance") {
        let permille = r.params.get("balance_permille").copied();
        assert!(
            permille.is_some_and(|p| p >= 1000),
            "balance_permille {permille:?}"
        );
        assert_eq!(r.durability.as_deref(), Some("none"));
    }
    for r in find(result, "topic_compaction") {
        assert!(
            r.compaction
                .is_some_and(|c| c.mb_reclaimed > 0.0 && c.records_removed > 0),
            "topic_compaction {:?}: {:?}",
            r.params,
            r.compaction
        );
    }
    let consumers = find(result, "topic_concurrent_consumers");
    assert!(
        consumers.iter().any(|r| r.threads == 1),
        "a 1-consumer case"
    );
    assert!(
        consumers.iter().any(|r| r.threads > 1),
        "a multi-consumer case"
    );
    for r in find(result, "topic_fetch_throughput")
        .into_iter()
        .chain(consumers)
    {
        assert_eq!(r.durability, None, "{} reads state no durability", r.name);
    }
}

#[test]
fn consume_with_a_target_rate_reads_everything_produced() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let produce = Command::new(env!("CARGO_BIN_EXE_ringbench"))
        .args(["produce", "--count", "2000", "--partitions", "2", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run ringbench produce");
    assert!(
        produce.status.success(),
        "ringbench produce failed:\n{}",
        String::from_utf8_lossy(&produce.stderr)
    );
    let consume = Command::new(env!("CARGO_BIN_EXE_ringbench"))
        .args(["consume", "--target-rate", "2000", "--fetch-bytes", "65536"])
        .args(["--consumers", "2", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run ringbench consume");
    let stdout = String::from_utf8_lossy(&consume.stdout);
    assert!(
        consume.status.success(),
        "ringbench consume failed:\n{}",
        String::from_utf8_lossy(&consume.stderr)
    );
    assert!(
        stdout.starts_with("2000 records consumed, "),
        "perf-test line: {stdout}"
    );
    assert!(
        stdout.contains("ms 99.9th.") && stdout.contains("from each fetch's intended start"),
        "perf-test line: {stdout}"
    );
}

/// `ringbench peers --smoke` end to end with the engines of this build (ringlog and the naive
/// baseline always; the others with `--features peers`): every engine runs every case it
/// can, reads are verified (a failed check fails the command), ratios to each peer are
/// written, and the engines left out are named.
#[test]
fn smoke_peers_runs_every_built_engine_and_writes_ratios() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let run = Command::new(env!("CARGO_BIN_EXE_ringbench"))
        .args(["peers", "--smoke", "--cache-drop", "fadvise", "--out"])
        .arg(out.path())
        .output()
        .expect("run ringbench peers");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "ringbench peers failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("### ringlog vs each peer"), "{stdout}");
    let path = PathBuf::from(stdout.lines().last().expect("the result path").trim());
    assert_eq!(path, out.path().join("peers.json"));

    let result = RunResult::load(&path).expect("peers.json loads");
    let info = result.peers.as_ref().expect("peer descriptions");
    assert_eq!(info.cache_drop, "fadvise");
    let mut named: Vec<&str> = info.engines.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(named.first(), Some(&"ringlog"), "ringlog runs first");
    named.extend(info.not_built.iter().map(String::as_str));
    named.sort_unstable();
    assert_eq!(
        named,
        [
            "fjall",
            "glommio",
            "naive",
            "raft-engine",
            "ringlog",
            "rocksdb"
        ]
    );
    assert!(info.failures.is_empty(), "{:?}", info.failures);
    for e in &info.engines {
        let cases: BTreeSet<(&str, Option<&str>)> = result
            .scenarios
            .iter()
            .filter(|s| s.engine == e.name)
            .map(|s| (s.name.as_str(), s.durability.as_deref()))
            .collect();
        for case in [
            ("peer_append", Some("cheapest")),
            ("peer_append", Some("sync")),
            ("peer_reopen", None),
            ("peer_read_seq", None),
            ("peer_read_point", None),
        ] {
            assert!(cases.contains(&case), "{}: {case:?} missing", e.name);
        }
        assert!(!e.cheapest.is_empty() && !e.sync.is_empty(), "{e:?}");
    }
    for s in &result.scenarios {
        assert!(
            s.category == "peers" && s.messages > 0 && s.messages_per_s > 0.0,
            "{} {} {:?}",
            s.engine,
            s.name,
            s.params
        );
        // tmpfs pages are never written back, so `write_bytes` does not count them.
        let tmpfs = result.environment.filesystem == "tmpfs";
        if !tmpfs && s.name == "peer_append" && s.durability.as_deref() == Some("cheapest") {
            assert!(
                s.disk_write_bytes.is_none_or(|w| w >= s.payload_bytes / 2),
                "{}: {:?} bytes written for {} of payload",
                s.engine,
                s.disk_write_bytes,
                s.payload_bytes
            );
        }
    }
    let naive = info.ratios.iter().filter(|r| r.peer == "naive").count();
    assert!(naive >= 7, "ratios to naive: {:?}", info.ratios);
}

/// `ringbench peers --rounds 2`: every figure is one round's with the range of both, every
/// ratio has its range, and the printed section says how the rounds were merged.
#[test]
fn peers_rounds_give_every_figure_and_ratio_its_spread() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let run = Command::new(env!("CARGO_BIN_EXE_ringbench"))
        .args(["peers", "--smoke", "--rounds", "2", "--engines", "naive"])
        .args(["--cache-drop", "fadvise", "--out"])
        .arg(out.path())
        .output()
        .expect("run ringbench peers");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "ringbench peers failed:\n{stderr}");
    assert!(stderr.contains("[round 2/2]"), "{stderr}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("ran 2 rounds"), "{stdout}");
    let result = RunResult::load(&out.path().join("peers.json")).expect("peers.json loads");
    let info = result.peers.as_ref().expect("peer descriptions");
    assert_eq!(info.rounds, 2);
    assert!(!result.scenarios.is_empty());
    let mut seen = BTreeSet::new();
    for s in &result.scenarios {
        let key = (
            s.engine.clone(),
            s.name.clone(),
            s.durability.clone(),
            s.params.clone(),
        );
        assert!(
            seen.insert(key),
            "one result per engine and case: {}",
            s.name
        );
        let spread = s
            .spread
            .unwrap_or_else(|| panic!("{} {}: no spread", s.engine, s.name));
        assert_eq!(spread.passes, 2);
        let records = spread.records_per_s.expect("records/s range");
        assert!(
            records.min <= s.messages_per_s && s.messages_per_s <= records.max,
            "{} {}: {} outside {records:?}",
            s.engine,
            s.name,
            s.messages_per_s
        );
        let elapsed = spread.elapsed_s.expect("time range");
        assert!(elapsed.min <= s.elapsed_s && s.elapsed_s <= elapsed.max);
        assert_eq!(spread.p50_us.is_some(), s.latency.is_some());
    }
    assert!(!info.ratios.is_empty());
    for r in &info.ratios {
        let range = r.spread.unwrap_or_else(|| panic!("{r:?}: no range"));
        assert!(
            range.min <= r.ringlog_vs_peer && r.ringlog_vs_peer <= range.max,
            "{r:?}"
        );
        assert!(
            stdout.contains(&format!(
                "**{:.2}x** ({:.2}x-{:.2}x)",
                r.ringlog_vs_peer, range.min, range.max
            )),
            "{r:?} printed with its range:\n{stdout}"
        );
    }
}

/// The sustained cases: a throughput timeline each, and only the retention case reuses
/// segment files (its disk ratio then uses the overwrite figures).
fn check_sustained(result: &RunResult) {
    // The durable write path's goals: pipelined produce under `write` and `sync`, single durable
    // records from 1 and 16 producers, the 16 with their scaling against the one.
    for (name, durability, producers) in [
        ("pipelined_produce", "write", 1),
        ("pipelined_produce", "sync", 1),
        ("durable_single_records", "sync", 1),
        ("durable_single_records", "sync", 16),
    ] {
        let case = result
            .scenarios
            .iter()
            .find(|r| {
                r.name == name
                    && r.durability.as_deref() == Some(durability)
                    && r.params.get("producers") == Some(&producers)
            })
            .unwrap_or_else(|| panic!("{name} {durability} {producers} missing"));
        assert!(case.latency.is_some(), "{name}: latency");
        if producers > 1 {
            assert!(
                case.scaling.is_some(),
                "{name}: scaling against one producer"
            );
        }
    }
    for name in ["sustained_produce", "sustained_produce_retention"] {
        let sustained = result
            .scenarios
            .iter()
            .find(|r| r.name == name)
            .expect(name);
        let timeline = sustained.timeline.as_ref().expect("a throughput timeline");
        assert!(
            timeline.interval_ms == 100 && timeline.mb_s.iter().any(|&v| v > 0.0),
            "{timeline:?}"
        );
        assert!(sustained.latency.is_some_and(|l| l.p9999_us.is_some()));
        let retention = sustained.params.contains_key("retention_bytes");
        assert_eq!(
            retention,
            name.ends_with("retention"),
            "{:?}",
            sustained.params
        );
        assert_eq!(
            sustained
                .params
                .get("spare_segments")
                .is_some_and(|&n| n > 0),
            retention
        );
    }
}

/// `produce_during_compaction`: uncapped then capped, the producer alone and then during the
/// compaction of its partition, each with latencies; the compaction phases with their figures.
fn check_contention(result: &RunResult) {
    let cases: Vec<&ScenarioResult> = result
        .scenarios
        .iter()
        .filter(|r| r.name == "produce_during_compaction")
        .collect();
    let shape: Vec<(u64, u64, bool)> = cases
        .iter()
        .map(|r| {
            assert!(r.latency.is_some(), "{:?}: latency", r.params);
            assert_eq!(r.durability.as_deref(), Some("sync"));
            (
                r.params["compaction"],
                r.params["cap_mb_s"],
                r.compaction.is_some_and(|c| c.mb_reclaimed > 0.0),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![(0, 0, false), (1, 0, true), (0, 100, false), (1, 100, true)]
    );
}

#[test]
fn only_runs_the_named_scenarios_and_an_unknown_name_is_refused() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let (_, result) = smoke_suite(&["--only", "compaction,topic_multi_topic"], out.path());
    let names: BTreeSet<&str> = result.scenarios.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "compaction",
            "topic_multi_topic::fetch_many",
            "topic_multi_topic::produce"
        ])
    );

    let refused = Command::new(env!("CARGO_BIN_EXE_ringbench"))
        .args(["suite", "--smoke", "--only", "nosuch", "--out"])
        .arg(out.path())
        .output()
        .expect("run ringbench");
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("\"nosuch\"") && stderr.contains("sequential_fetch_cold"),
        "{stderr}"
    );
}
