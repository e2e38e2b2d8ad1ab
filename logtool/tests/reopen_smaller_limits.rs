//! The reproduction of issue 12, item 1, as a new user runs it: 20 records of 100 kB
//! acknowledged with `sync` (batches of about 500 kB), then one more record with
//! `--segment-bytes 65536` (which also caps the batch size at 64 KiB). Every record must
//! survive, the new one must take offset 20, and `logtool verify` must count all 21.

use std::process::{Command, Output};

fn logtool(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_logtool"))
        .args(args)
        .output()
        .expect("run logtool");
    assert!(
        out.status.success(),
        "logtool {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_smaller_segment_size_keeps_every_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let large = [
        "produce",
        "--dir",
        d,
        "--count",
        "20",
        "--size",
        "100000",
        "--batch",
        "5",
        "--durability",
        "sync",
    ];
    logtool(&large);
    let small = logtool(&[
        "produce",
        "--dir",
        d,
        "--count",
        "1",
        "--size",
        "10",
        "--segment-bytes",
        "65536",
    ]);
    let report = String::from_utf8_lossy(&small.stdout);
    assert!(
        report.contains("offsets: 20..=20"),
        "the new record takes the next offset, not 0 again: {report}"
    );
    let verify = logtool(&["verify", "--dir", d]);
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(
        text.contains("5 batch(es), 21 record(s)"),
        "verify counts every record: {text}"
    );
}
