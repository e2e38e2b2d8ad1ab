//! End-to-end tests of `logtool topics` and of the topic forms of `produce`, `dump` and
//! `verify`, each on its own temporary data directory.

use std::path::Path;
use std::process::{Command, Output};

fn logtool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logtool"))
        .args(args)
        .output()
        .expect("run logtool")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn describe_output(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    )
}

/// Runs logtool and asserts it succeeded; returns its stdout.
fn ok(args: &[&str]) -> String {
    let output = logtool(args);
    assert!(
        output.status.success(),
        "logtool {args:?} failed: {}",
        describe_output(&output)
    );
    stdout(&output)
}

/// Runs logtool and asserts it exited 2 (usage or I/O error); returns its stderr.
fn refused(args: &[&str]) -> String {
    let output = logtool(args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "logtool {args:?} should have been refused: {}",
        describe_output(&output)
    );
    stderr(&output)
}

fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

fn create(data_dir: &Path, topic: &str, partitions: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "topics",
        "create",
        "--data-dir",
        path(data_dir),
        "--topic",
        topic,
        "--partitions",
        partitions,
    ];
    args.extend_from_slice(extra);
    ok(&args)
}

fn describe(data_dir: &Path, topic: &str) -> String {
    ok(&[
        "topics",
        "describe",
        "--data-dir",
        path(data_dir),
        "--topic",
        topic,
    ])
}

/// `(partition, next_offset)` of every `partition=` line of a description.
fn next_offsets(description: &str) -> Vec<(u32, u64)> {
    description
        .lines()
        .filter(|line| line.starts_with("partition="))
        .map(|line| {
            let field = |name: &str| {
                line.split(' ')
                    .find_map(|kv| kv.strip_prefix(name))
                    .unwrap_or_else(|| panic!("no {name} in {line:?}"))
                    .to_string()
            };
            (
                field("partition=").parse().unwrap(),
                field("next_offset=").parse().unwrap(),
            )
        })
        .collect()
}

fn produce_keyed(data_dir: &Path, topic: &str, batch: &str) -> String {
    ok(&[
        "produce",
        "--data-dir",
        path(data_dir),
        "--topic",
        topic,
        "--count",
        "400",
        "--size",
        "50",
        "--batch",
        batch,
        "--keys",
        "31",
    ])
}

#[test]
fn create_list_describe_delete_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let created = create(
        data,
        "orders",
        "3",
        &["--cleanup-policy", "compact", "--segment-bytes", "65536"],
    );
    assert!(
        created.contains("topic: orders\npartitions: 3\n"),
        "{created}"
    );
    assert!(created.contains("cleanup_policy: compact"), "{created}");
    assert!(created.contains("segment_bytes: 65536"), "{created}");
    create(data, "audit", "1", &["--retention-ms", "-1"]);

    assert_eq!(
        ok(&["topics", "list", "--data-dir", path(data)]),
        "audit\norders\n"
    );
    let described = describe(data, "orders");
    assert_eq!(next_offsets(&described), [(0, 0), (1, 0), (2, 0)]);
    assert!(described.contains("segment_bytes: 65536"), "{described}");
    assert!(
        describe(data, "audit").contains("retention_ms: none"),
        "retention -1 should mean none"
    );

    let deleted = ok(&[
        "topics",
        "delete",
        "--data-dir",
        path(data),
        "--topic",
        "orders",
    ]);
    assert_eq!(deleted, "deleted topic orders\n");
    assert!(!data.join("orders-0").exists());
    assert_eq!(ok(&["topics", "list", "--data-dir", path(data)]), "audit\n");
    let err = refused(&[
        "topics",
        "describe",
        "--data-dir",
        path(data),
        "--topic",
        "orders",
    ]);
    assert!(err.contains("unknown topic \"orders\""), "{err}");
}

#[test]
fn keyed_produce_spreads_over_partitions_and_each_partition_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    create(data, "events", "4", &[]);
    let report = produce_keyed(data, "events", "40");
    assert!(report.contains("records: 400"), "{report}");
    assert!(report.contains("written by 10 produce calls"), "{report}");
    for p in 0..4 {
        assert!(report.contains(&format!("partition {p}: ")), "{report}");
    }

    let offsets = next_offsets(&describe(data, "events"));
    assert_eq!(offsets.len(), 4);
    assert!(
        offsets.iter().all(|&(_, next)| next > 0),
        "31 keys should reach every partition: {offsets:?}"
    );
    assert_eq!(offsets.iter().map(|&(_, next)| next).sum::<u64>(), 400);

    for (p, next) in offsets {
        let p = p.to_string();
        let checked = ok(&[
            "verify",
            "--data-dir",
            path(data),
            "--topic",
            "events",
            "--partition",
            &p,
        ]);
        assert!(
            checked.contains(&format!("{next} record(s)")),
            "partition {p}: {checked}"
        );
    }
}

#[test]
fn the_same_keys_go_to_the_same_partitions_on_every_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    create(data, "a", "4", &[]);
    create(data, "b", "4", &[]);
    produce_keyed(data, "a", "40");
    produce_keyed(data, "b", "7");
    assert_eq!(
        next_offsets(&describe(data, "a")),
        next_offsets(&describe(data, "b")),
        "Kafka's partitioner depends on the key only, not on batching"
    );
}

#[test]
fn dump_of_a_topic_partition_lists_its_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    create(data, "logs", "2", &[]);
    ok(&[
        "produce",
        "--data-dir",
        path(data),
        "--topic",
        "logs",
        "--partition",
        "1",
        "--count",
        "12",
        "--size",
        "20",
        "--batch",
        "5",
        "--keys",
        "3",
    ]);
    let dumped = ok(&[
        "dump",
        "--data-dir",
        path(data),
        "--topic",
        "logs",
        "--partition",
        "1",
        "--records",
    ]);
    assert!(dumped.contains("1 segment(s)"), "{dumped}");
    assert!(
        dumped.contains("base_offset=0 last_offset=4 records=5"),
        "{dumped}"
    );
    assert!(
        dumped.contains("base_offset=10 last_offset=11 records=2"),
        "{dumped}"
    );
    assert!(dumped.contains("key=\"key-2\""), "{dumped}");
    assert_eq!(next_offsets(&describe(data, "logs")), [(0, 0), (1, 12)]);

    let err = refused(&[
        "dump",
        "--data-dir",
        path(data),
        "--topic",
        "logs",
        "--partition",
        "2",
    ]);
    assert!(err.contains("has no partition 2"), "{err}");
}

#[test]
fn print_acks_in_topic_mode_names_partition_and_last_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    create(data, "acks", "3", &["--durability", "write"]);
    let report = ok(&[
        "produce",
        "--data-dir",
        path(data),
        "--topic",
        "acks",
        "--partition",
        "2",
        "--count",
        "6",
        "--size",
        "8",
        "--batch",
        "4",
        "--durability",
        "sync",
        "--print-acks",
    ]);
    assert!(report.starts_with("acked 2 3\nacked 2 5\n"), "{report}");
    assert!(
        report.contains("durability: sync (the topic acknowledges at write;"),
        "{report}"
    );
}

#[test]
fn produce_without_keys_to_a_compacted_topic_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    create(data, "state", "2", &["--cleanup-policy", "compact"]);
    let err = refused(&[
        "produce",
        "--data-dir",
        path(data),
        "--topic",
        "state",
        "--count",
        "5",
        "--size",
        "10",
    ]);
    assert!(err.contains("compacted") && err.contains("--keys"), "{err}");
    assert_eq!(next_offsets(&describe(data, "state")), [(0, 0), (1, 0)]);
}

#[test]
fn an_invalid_topic_name_is_refused_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let err = refused(&[
        "topics",
        "create",
        "--data-dir",
        path(&data),
        "--topic",
        "bad/name",
        "--partitions",
        "1",
    ]);
    assert!(err.contains("illegal character '/'"), "{err}");
    assert!(!data.exists(), "a refused name must not touch the disk");
    let err = refused(&[
        "produce",
        "--data-dir",
        path(&data),
        "--topic",
        "..",
        "--count",
        "1",
        "--size",
        "1",
    ]);
    assert!(err.contains("reserved directory names"), "{err}");
}

#[test]
fn dir_and_data_dir_together_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("partition");
    let data = tmp.path().join("data");
    let err = refused(&[
        "produce",
        "--dir",
        path(&dir),
        "--data-dir",
        path(&data),
        "--topic",
        "t",
        "--count",
        "1",
        "--size",
        "1",
    ]);
    assert!(
        err.contains("'--dir <DIR>' cannot be used with '--data-dir <DATA_DIR>'"),
        "{err}"
    );
    let err = refused(&[
        "verify",
        "--dir",
        path(&dir),
        "--data-dir",
        path(&data),
        "--topic",
        "t",
        "--partition",
        "0",
    ]);
    assert!(err.contains("cannot be used with"), "{err}");
    let err = refused(&["produce", "--count", "1", "--size", "1"]);
    assert!(err.contains("--dir <DIR>|--data-dir <DATA_DIR>"), "{err}");
    assert!(!dir.exists() && !data.exists());
}

#[test]
fn compact_reports_what_it_removed_and_the_partitions_still_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path();
    create(
        data_dir,
        "table",
        "2",
        &["--cleanup-policy", "compact", "--segment-bytes", "16384"],
    );
    ok(&[
        "produce",
        "--data-dir",
        path(data_dir),
        "--topic",
        "table",
        "--count",
        "3000",
        "--size",
        "100",
        "--batch",
        "10",
        "--keys",
        "20",
    ]);
    // Refused before anything is opened: a cap of zero would never finish.
    let zero = refused(&[
        "compact",
        "--data-dir",
        path(data_dir),
        "--topic",
        "table",
        "--cleaner-io-max-bytes-per-second",
        "0",
    ]);
    assert!(zero.contains("--cleaner-io-max-bytes-per-second"), "{zero}");
    let report = ok(&[
        "compact",
        "--data-dir",
        path(data_dir),
        "--topic",
        "table",
        "--cleaner-io-max-bytes-per-second",
        "100000000",
    ]);
    let removed: u64 = report
        .lines()
        .filter(|l| l.starts_with("partition="))
        .map(|l| {
            l.split_whitespace()
                .find_map(|f| f.strip_prefix("records_removed="))
                .expect("a records_removed field")
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert!(removed > 0, "compaction removed older versions:\n{report}");
    for partition in ["0", "1"] {
        ok(&[
            "verify",
            "--data-dir",
            path(data_dir),
            "--topic",
            "table",
            "--partition",
            partition,
        ]);
    }
    let refused = refused(&[
        "compact",
        "--data-dir",
        path(data_dir),
        "--topic",
        "missing",
    ]);
    assert!(refused.contains("missing"), "{refused}");
}

#[test]
fn in_flight_produce_to_one_partition_acks_in_order_and_needs_the_partition() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    create(&data_dir, "pipe", "2", &["--durability", "sync"]);
    let common = [
        "produce",
        "--data-dir",
        path(&data_dir),
        "--topic",
        "pipe",
        "--count",
        "20",
        "--size",
        "10",
        "--batch",
        "2",
        "--in-flight",
        "4",
        "--print-acks",
    ];
    let message = refused(&common);
    assert!(message.contains("--partition"), "{message}");
    let report = ok(&[&common[..], &["--partition", "1"]].concat());
    let acks: Vec<&str> = report.lines().filter(|l| l.starts_with("acked ")).collect();
    let expected: Vec<String> = (0..10).map(|k| format!("acked 1 {}", 2 * k + 1)).collect();
    assert_eq!(acks, expected, "{report}");
    assert_eq!(
        next_offsets(&describe(&data_dir, "pipe")),
        [(0, 0), (1, 20)]
    );
}
