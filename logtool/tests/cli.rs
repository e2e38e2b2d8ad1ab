//! End-to-end tests of the `logtool` binary: produce into a temporary directory, then dump and
//! verify it, and corrupt files by hand to check that verify names what broke.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SEGMENT: &str = "00000000000000000000";

fn logtool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logtool"))
        .args(args)
        .output()
        .expect("run logtool")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `logtool produce --dir DIR` with `extra` flags and asserts it succeeded.
fn produce(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["produce", "--dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = logtool(&args);
    assert!(
        output.status.success(),
        "produce failed: {}",
        describe(&output)
    );
    output
}

fn verify(dir: &Path) -> Output {
    logtool(&["verify", "--dir", dir.to_str().unwrap()])
}

fn dump(dir: &Path, records: bool) -> String {
    let mut args = vec!["dump", "--dir", dir.to_str().unwrap()];
    if records {
        args.push("--records");
    }
    let output = logtool(&args);
    assert!(
        output.status.success(),
        "dump failed: {}",
        describe(&output)
    );
    stdout(&output)
}

fn partition() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("partition");
    (tmp, dir)
}

/// Byte positions of the batches, from the dump.
fn batch_positions(dump: &str) -> Vec<u64> {
    dump.lines()
        .filter_map(|line| line.split_once(" position=")?.1.split(' ').next())
        .map(|p| p.parse().unwrap())
        .collect()
}

fn produce_verify_dump(durability: &str) {
    let (_tmp, dir) = partition();
    let output = produce(
        &dir,
        &[
            "--count",
            "25",
            "--size",
            "100",
            "--batch",
            "4",
            "--durability",
            durability,
        ],
    );
    let report = stdout(&output);
    assert!(
        report.contains(&format!("durability: {durability}")),
        "{report}"
    );
    assert!(report.contains("records: 25"), "{report}");
    assert!(report.contains("batches: 7"), "{report}");
    assert!(report.contains("payload bytes: 2500"), "{report}");
    assert!(report.contains("io path: "), "{report}");
    assert!(report.contains("MB = 10^6 bytes"), "{report}");

    let checked = verify(&dir);
    assert!(checked.status.success(), "verify: {}", describe(&checked));
    assert!(
        stdout(&checked).contains("1 segment(s), 7 batch(es), 25 record(s)"),
        "{}",
        describe(&checked)
    );

    let dumped = dump(&dir, false);
    assert_eq!(dumped.matches("crc_valid=yes").count(), 7, "{dumped}");
    assert!(!dumped.contains("crc_valid=no"), "{dumped}");
    assert!(
        dumped.contains("base_offset=24 last_offset=24 records=1"),
        "{dumped}"
    );
    assert!(
        dumped.contains("base_offset=20 last_offset=23 records=4"),
        "{dumped}"
    );
}

#[test]
fn produce_with_durability_none_verifies_and_dumps() {
    produce_verify_dump("none");
}

#[test]
fn produce_with_durability_write_verifies_and_dumps() {
    produce_verify_dump("write");
}

#[test]
fn produce_with_durability_sync_verifies_and_dumps() {
    produce_verify_dump("sync");
}

/// Produces 10 records with `--io io` and returns the path from the report's `io path:` line.
fn produce_on_io(dir: &Path, io: &str) -> String {
    let report = stdout(&produce(
        dir,
        &["--count", "10", "--size", "50", "--io", io],
    ));
    report
        .lines()
        .find_map(|line| line.strip_prefix("io path: "))
        .unwrap_or_else(|| panic!("no `io path:` line in the report:\n{report}"))
        .to_owned()
}

#[test]
fn produce_on_portable_io_reports_pread_pwrite_and_verifies() {
    let (_tmp, dir) = partition();
    let path = produce_on_io(&dir, "portable");
    assert!(path.starts_with("pread/pwrite+"), "io path: {path}");
    assert!(verify(&dir).status.success());
}

#[test]
fn produce_on_uring_io_reports_io_uring_and_verifies() {
    let (_tmp, dir) = partition();
    let path = produce_on_io(&dir, "uring");
    assert!(path.starts_with("io_uring+"), "io path: {path}");
    assert!(verify(&dir).status.success());
}

#[test]
fn record_dump_shows_keys() {
    let (_tmp, dir) = partition();
    produce(
        &dir,
        &[
            "--count", "6", "--size", "60", "--batch", "2", "--keys", "4",
        ],
    );
    let dumped = dump(&dir, true);
    assert_eq!(dumped.matches("  offset=").count(), 6, "{dumped}");
    assert!(dumped.contains("offset=5 "), "{dumped}");
    assert!(dumped.contains("key=\"key-3\""), "{dumped}");
    assert!(dumped.contains("key=\"key-1\" value=\""), "{dumped}");
    assert!(dumped.contains("(60 bytes) headers=0"), "{dumped}");
}

#[test]
fn record_dump_shows_null_keys_without_keys_flag() {
    let (_tmp, dir) = partition();
    produce(&dir, &["--count", "2", "--size", "10"]);
    let dumped = dump(&dir, true);
    assert_eq!(dumped.matches("key=null").count(), 2, "{dumped}");
}

#[test]
fn print_acks_prints_each_batch_last_offset() {
    let (_tmp, dir) = partition();
    let output = produce(
        &dir,
        &[
            "--count",
            "10",
            "--size",
            "20",
            "--batch",
            "3",
            "--durability",
            "write",
            "--print-acks",
        ],
    );
    let acks: Vec<String> = stdout(&output)
        .lines()
        .filter(|l| l.starts_with("acked "))
        .map(str::to_string)
        .collect();
    assert_eq!(acks, ["acked 2", "acked 5", "acked 8", "acked 9"]);

    // A second run continues from the log's end.
    let output = produce(&dir, &["--count", "2", "--size", "20", "--print-acks"]);
    assert!(stdout(&output).contains("acked 10\nacked 11\n"));
}

#[test]
fn in_flight_appends_ack_in_offset_order_and_verify() {
    for durability in ["sync", "write", "none"] {
        let (_tmp, dir) = partition();
        let output = produce(
            &dir,
            &[
                "--count",
                "50",
                "--size",
                "100",
                "--batch",
                "3",
                "--durability",
                durability,
                "--in-flight",
                "8",
                "--print-acks",
                "--segment-bytes",
                "4096",
            ],
        );
        let report = stdout(&output);
        let acks: Vec<String> = report
            .lines()
            .filter(|l| l.starts_with("acked "))
            .map(str::to_string)
            .collect();
        let expected: Vec<String> = (0..17)
            .map(|k| format!("acked {}", (3 * k + 2).min(49)))
            .collect();
        assert_eq!(
            acks, expected,
            "{durability}: one ack per batch, in offset order"
        );
        assert!(report.contains("in flight: 8 append(s)"), "{report}");
        assert!(report.contains("offsets: 0..=49"), "{report}");
        let verified = verify(&dir);
        assert!(
            verified.status.success() && stdout(&verified).contains(", 50 record(s)"),
            "{durability}: {}",
            describe(&verified)
        );
    }
}

#[test]
fn in_flight_zero_is_refused() {
    let (_tmp, dir) = partition();
    let dir = dir.to_str().unwrap();
    let args = ["produce", "--dir", dir, "--count", "1", "--size", "1"];
    let output = logtool(&[&args[..], &["--in-flight", "0"]].concat());
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
}

#[test]
fn produce_rolls_segments_and_verify_follows_offsets_across_them() {
    let (_tmp, dir) = partition();
    produce(
        &dir,
        &[
            "--count",
            "300",
            "--size",
            "1000",
            "--segment-bytes",
            "65536",
        ],
    );
    let checked = verify(&dir);
    assert!(checked.status.success(), "{}", describe(&checked));
    let summary = stdout(&checked);
    assert!(
        summary.contains("300 batch(es), 300 record(s)"),
        "{summary}"
    );
    assert!(
        !summary.contains(" 1 segment(s)"),
        "expected a roll: {summary}"
    );
}

#[test]
fn verify_reports_a_flipped_byte_with_file_and_position() {
    let (_tmp, dir) = partition();
    produce(&dir, &["--count", "10", "--size", "100"]);
    let positions = batch_positions(&dump(&dir, false));
    assert_eq!(positions.len(), 10);
    let log = dir.join(format!("{SEGMENT}.log"));
    let mut bytes = std::fs::read(&log).unwrap();
    // Inside the third batch's value, well past its header.
    let target = positions[2] as usize + 100;
    bytes[target] ^= 0x40;
    std::fs::write(&log, &bytes).unwrap();

    let checked = verify(&dir);
    assert_eq!(checked.status.code(), Some(1), "{}", describe(&checked));
    let expected = format!("{SEGMENT}.log: invalid batch at position {}", positions[2]);
    assert!(
        stdout(&checked).contains(&expected),
        "{}",
        describe(&checked)
    );
    assert!(stdout(&checked).contains("CRC"), "{}", describe(&checked));

    let dumped = dump(&dir, false);
    assert_eq!(dumped.matches("crc_valid=no").count(), 1, "{dumped}");
}

#[test]
fn verify_reports_an_index_entry_inside_a_batch() {
    let (_tmp, dir) = partition();
    produce(&dir, &["--count", "200", "--size", "1024"]);
    assert!(verify(&dir).status.success());
    let index = dir.join(format!("{SEGMENT}.index"));
    let mut bytes = std::fs::read(&index).unwrap();
    assert!(bytes.len() >= 16, "expected index entries, got {bytes:?}");
    // Entry 1 now points one byte into the batch entry 0 points at: entry order still holds,
    // so only the cross-check against the log's batch boundaries can catch it.
    let position = u32::from_be_bytes(bytes[4..8].try_into().unwrap());
    assert!(position > 0);
    bytes[12..16].copy_from_slice(&(position + 1).to_be_bytes());
    std::fs::write(&index, &bytes).unwrap();

    let checked = verify(&dir);
    assert_eq!(checked.status.code(), Some(1), "{}", describe(&checked));
    let expected = format!(
        "{SEGMENT}.index: entry 1 at position 8 (offset {})",
        u32::from_be_bytes(bytes[8..12].try_into().unwrap())
    );
    assert!(
        stdout(&checked).contains(&expected),
        "{}",
        describe(&checked)
    );
    assert!(
        stdout(&checked).contains(&format!("log position {}", position + 1)),
        "{}",
        describe(&checked)
    );
}

#[test]
fn verify_reports_an_index_entry_naming_the_wrong_offset() {
    let (_tmp, dir) = partition();
    produce(&dir, &["--count", "200", "--size", "1024"]);
    let index = dir.join(format!("{SEGMENT}.index"));
    let mut bytes = std::fs::read(&index).unwrap();
    assert!(bytes.len() >= 8);
    // Entry 0 points at the start of batch 0, whose last offset is 0, not the entry's offset.
    bytes[4..8].copy_from_slice(&0u32.to_be_bytes());
    std::fs::write(&index, &bytes).unwrap();

    let checked = verify(&dir);
    assert_eq!(checked.status.code(), Some(1), "{}", describe(&checked));
    assert!(
        stdout(&checked).contains("entry 0 at position 0")
            && stdout(&checked).contains("whose last offset is 0"),
        "{}",
        describe(&checked)
    );
}

#[test]
fn verify_warns_on_a_zero_tail_and_dump_reports_a_torn_one() {
    let (_tmp, dir) = partition();
    produce(&dir, &["--count", "5", "--size", "100"]);
    let log = dir.join(format!("{SEGMENT}.log"));
    let mut bytes = std::fs::read(&log).unwrap();
    let end = bytes.len();
    bytes.resize(end + 4096, 0);
    std::fs::write(&log, &bytes).unwrap();
    let checked = verify(&dir);
    assert!(checked.status.success(), "{}", describe(&checked));
    assert!(
        stdout(&checked).contains(&format!(
            "warning: {SEGMENT}.log: 4096 zero bytes from position {end}"
        )),
        "{}",
        describe(&checked)
    );

    // Cut the last batch in half: the tail no longer frames a batch.
    let last = *batch_positions(&dump(&dir, false)).last().unwrap();
    bytes.truncate(end - 50);
    std::fs::write(&log, &bytes).unwrap();
    let dumped = dump(&dir, false);
    assert!(
        dumped.contains(&format!("unparsable tail at position {last}: truncated")),
        "{dumped}"
    );
    assert_eq!(verify(&dir).status.code(), Some(1));
}

#[test]
fn verify_of_a_missing_directory_exits_2_naming_it() {
    let (_tmp, dir) = partition();
    let checked = verify(&dir);
    assert_eq!(checked.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(stderr.contains("partition"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
