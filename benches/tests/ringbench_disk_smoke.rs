//! `ringbench disk --smoke` end to end: the binary runs through the engine's ring on a real
//! filesystem (the target directory, not the system's temporary directory, which may be
//! tmpfs), writes a result that loads, and every case of the plan has positive figures.

use std::collections::BTreeSet;
use std::process::Command;

use benches::disk::{DiskCase, Op, plan};
use benches::results::RunResult;

#[test]
fn disk_smoke_writes_every_case_with_positive_figures() {
    let data = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a data directory");
    let out = tempfile::tempdir().expect("an output directory");
    let run = Command::new(env!("CARGO_BIN_EXE_ringbench"))
        .args(["disk", "--smoke", "--dir"])
        .arg(data.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("run ringbench");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "ringbench disk failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let path = out.path().join("disk.json");
    assert_eq!(
        stdout.lines().last().map(str::trim),
        Some(path.to_str().expect("utf-8 path")),
        "{stdout}"
    );
    assert!(stdout.contains("write 256 KiB QD8, fallocated"), "{stdout}");

    let result = RunResult::load(&path).expect("the result loads");
    let info = result.disk.as_ref().expect("the disk description");
    assert!(info.engine_write_bytes > 0 && info.engine_writes_in_flight > 0);
    assert!(info.file_bytes > 0 && info.alignment_bytes >= 4096);
    assert_eq!(result.environment.profile, "smoke");
    assert_eq!(result.environment.io_path, "io_uring+O_DIRECT");
    let ran: BTreeSet<String> = result
        .scenarios
        .iter()
        .map(|s| DiskCase::of(s).expect("a disk case").label())
        .collect();
    for case in plan(info.engine_write_bytes, info.engine_writes_in_flight) {
        assert!(ran.contains(&case.label()), "{} missing", case.label());
    }
    for s in &result.scenarios {
        let case = DiskCase::of(s).expect("a disk case");
        let l = s
            .latency
            .unwrap_or_else(|| panic!("{}: no latency", case.label()));
        assert!(
            s.operations > 0 && s.payload_mb_s > 0.0 && s.messages_per_s > 0.0,
            "{}: no throughput",
            case.label()
        );
        assert!(
            l.p50_us > 0.0 && l.p99_us >= l.p50_us && l.p9999_us.is_some_and(|p| p >= l.p99_us),
            "{}: {l:?}",
            case.label()
        );
        assert_eq!(s.payload_bytes, s.operations * case.request_bytes);
        let timeline = s.timeline.as_ref().expect("a timeline");
        assert!(timeline.interval_ms > 0 && !timeline.mb_s.is_empty());
        assert_eq!(s.durability.is_none(), case.op == Op::Read);
    }
    // The data directory is left empty: the files were removed.
    assert_eq!(std::fs::read_dir(data.path()).expect("list").count(), 0);
}
