//! `write_report` with and without `disk.json` (a `ringbench disk --smoke` run of this
//! machine, in `tests/fixtures/report/`): the Disk limit section shows the disk's figures and
//! fio's beside them, every write figure carries its ratio to the matching disk case, and a
//! run without `disk.json` says so.

use std::path::Path;

use benches::disk::{DiskCase, Op, Space};
use benches::report::write_report;
use benches::results::RunResult;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report");

/// The summary of a temporary results directory holding the named fixtures.
fn summary_of(files: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    for name in files {
        std::fs::copy(Path::new(FIXTURES).join(name), dir.path().join(name))
            .expect("copy a fixture");
    }
    write_report(dir.path()).expect("report");
    std::fs::read_to_string(dir.path().join("summary.md")).expect("read summary.md")
}

/// MB/s and p99 of one case of the disk fixture.
fn disk_figure(case: DiskCase) -> (f64, f64) {
    let disk = RunResult::load(&Path::new(FIXTURES).join("disk.json")).expect("disk.json");
    let s = disk
        .scenarios
        .iter()
        .find(|s| DiskCase::of(s) == Some(case))
        .unwrap_or_else(|| panic!("{} in the fixture", case.label()));
    (s.payload_mb_s, s.latency.expect("latency").p99_us)
}

/// The line of `text` holding `needle`.
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

#[test]
fn the_disk_limit_section_lists_the_disks_cases_and_fio_beside_them() {
    let text = summary_of(&["ringbench-uring.json", "disk.json", "fio.json"]);
    let section = &text[text.find("## Disk limit").expect("Disk limit")..];
    let section = &section[..section
        .find("## Bottlenecks")
        .expect("Bottlenecks after it")];
    assert!(section.contains("`ringbench disk` on the data directory's filesystem"));
    assert!(
        section.contains("(256 KiB chunks, 8 in flight)"),
        "{section}"
    );
    for label in [
        "| write 256 KiB QD8, fallocated | write |",
        "| write 256 KiB QD8, overwrite | write |",
        "| read 1 MiB QD4 | n/a: read |",
        "| write+fdatasync 4 KiB QD1, fallocated | sync |",
    ] {
        assert!(section.contains(label), "{label} missing in:\n{section}");
    }
    assert!(section.contains("Overwriting written blocks over writing fallocated ones"));
    // fio is the independent check, with the disk's case of the same shape beside each job.
    assert!(section.contains("the independent check"));
    let fio_row = line_with(
        section,
        "| seq-write-256k-qd8 | write | 256 KiB | 8 | 2050 |",
    );
    assert!(
        fio_row.contains("fallocated / ") && fio_row.contains("overwrite |"),
        "{fio_row}"
    );
}

#[test]
fn every_write_figure_carries_its_ratio_to_the_matching_disk_case() {
    let text = summary_of(&["ringbench-uring.json", "disk.json"]);
    let engine_case = DiskCase {
        op: Op::Write,
        space: Some(Space::Fallocated),
        request_bytes: 256 * 1024,
        queue_depth: 8,
    };
    let (disk_mb_s, _) = disk_figure(engine_case);
    // write_throughput size=1024 messages=10000, durability none: 950 MB/s in the fixture.
    let expected = format!("{:.2}x of write 256 KiB QD8, fallocated", 950.0 / disk_mb_s);
    let row = line_with(
        &text,
        "| write_throughput | io_uring | messages=10000 size=1024 |",
    );
    assert!(row.contains(&expected), "{expected} missing in {row}");
    assert!(text.contains("vs disk (payload MB/s over the disk case's, same run)"));
    // The executive summary too.
    let executive = line_with(&text, "| produce throughput, 1 KiB records |");
    assert!(executive.contains(&expected), "{executive}");
    // A sync append: its throughput against write+fdatasync, its p99 against that p99.
    let sync_case = DiskCase {
        op: Op::WriteFdatasync,
        space: Some(Space::Fallocated),
        request_bytes: 4096,
        queue_depth: 1,
    };
    let (_, sync_p99) = disk_figure(sync_case);
    let row = line_with(&text, "| produce_latency | io_uring | size=1024 | sync |");
    let p99_ratio = format!("p99 {:.2}x its p99", 1500.0 / sync_p99);
    assert!(
        row.contains("of write+fdatasync 4 KiB QD1, fallocated") && row.contains(&p99_ratio),
        "{p99_ratio} missing in {row}"
    );
    // Reads have none (and a table of reads only has no such column).
    let read = line_with(&text, "| sequential_fetch | io_uring |");
    assert!(!read.contains("x of "), "{read}");
    // Without fio, the summary says there is no independent check, not that nothing was
    // measured.
    assert!(text.contains("fio not installed: no independent check"));
    assert!(text.contains("[`disk.json`](disk.json): `ringbench disk`, 22 cases"));
}

#[test]
fn a_run_without_disk_json_says_so() {
    let text = summary_of(&["ringbench-uring.json", "fio.json"]);
    assert!(
        text.contains("No `disk.json`: the disk was not measured by `ringbench disk` in this run")
    );
    assert!(text.contains("no `disk.json` (`ringbench disk` was not run)"));
    assert!(!text.contains("vs disk"));
}

#[test]
fn an_unreadable_disk_json_is_reported_not_fatal() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        Path::new(FIXTURES).join("ringbench-uring.json"),
        dir.path().join("ringbench-uring.json"),
    )
    .expect("copy");
    std::fs::write(dir.path().join("disk.json"), "{ not json").expect("write");
    write_report(dir.path()).expect("report");
    let text = std::fs::read_to_string(dir.path().join("summary.md")).expect("summary");
    assert!(text.contains("`disk.json` could not be read"), "{text}");
}

#[test]
fn the_fetch_target_reads_the_cold_pass_with_its_spread_the_warm_figure_and_the_disks_read() {
    let mut run = RunResult::load(&Path::new(FIXTURES).join("ringbench-uring.json")).expect("run");
    let warm = run
        .scenarios
        .iter()
        .find(|s| s.name == "sequential_fetch" && s.params.get("size") == Some(&1024))
        .expect("a warm sequential fetch")
        .clone();
    let mut cold = warm.clone();
    cold.name = "sequential_fetch_cold".to_string();
    cold.payload_mb_s = 1300.0;
    cold.spread = benches::results::Spread::of(&[1200.0, 1300.0, 1400.0]);
    run.scenarios.push(cold);
    let dir = tempfile::tempdir().expect("create a temporary directory");
    run.save(&dir.path().join("ringbench-uring.json"))
        .expect("save");
    std::fs::copy(
        Path::new(FIXTURES).join("disk.json"),
        dir.path().join("disk.json"),
    )
    .expect("copy disk.json");
    write_report(dir.path()).expect("report");
    let text = std::fs::read_to_string(dir.path().join("summary.md")).expect("summary.md");
    let line = line_with(&text, "| fetch throughput, sequential |");
    assert!(line.contains("1300 MB/s"), "{line}");
    assert!(line.contains("cold (3 passes: 1200-1400 MB/s)"), "{line}");
    assert!(
        line.contains(&format!(
            "warm (engine cache) {:.0} MB/s",
            warm.payload_mb_s
        )),
        "{line}"
    );
    let (disk_mb_s, _) = disk_figure(DiskCase {
        op: Op::Read,
        space: None,
        request_bytes: 1 << 20,
        queue_depth: 4,
    });
    assert!(
        line.contains(&format!(
            "{:.2}x of disk read 1 MiB QD4",
            1300.0 / disk_mb_s
        )),
        "{line}"
    );
}

/// The fastest MB/s of the disk fixture's cases of `op` in `space`.
fn fastest(op: Op, space: Option<Space>) -> (DiskCase, f64) {
    let disk = RunResult::load(&Path::new(FIXTURES).join("disk.json")).expect("disk.json");
    disk.scenarios
        .iter()
        .filter_map(|s| Some((DiskCase::of(s)?, s.payload_mb_s)))
        .filter(|(c, _)| c.op == op && c.space == space)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a case of that kind")
}

#[test]
fn every_compaction_row_and_the_target_carry_the_disks_time_for_their_bytes() {
    let text = summary_of(&["ringbench-uring.json", "disk.json"]);
    let run = RunResult::load(&Path::new(FIXTURES).join("ringbench-uring.json")).expect("run");
    let (read, read_mb_s) = fastest(Op::Read, None);
    let (write, write_mb_s) = fastest(Op::Write, Some(Space::Fallocated));
    let header = line_with(
        &text,
        "| scenario | measured by | params | durability | MB before |",
    );
    assert!(
        header.ends_with("| disk's time ms | vs the disk's time |"),
        "{header}"
    );
    let mut rows = 0;
    for s in run.scenarios.iter().filter(|s| s.name == "compaction") {
        let c = s.compaction.expect("compaction figures");
        let floor_s = c.mb_before / read_mb_s + c.mb_after / write_mb_s;
        let row = text
            .lines()
            .find(|l| {
                l.starts_with("| compaction | ")
                    && l.contains(&format!("| {} |", benches::report::fmt::params(&s.params)))
                    && l.contains(&format!("| {} |", benches::report::fmt::num(c.mb_before)))
            })
            .unwrap_or_else(|| panic!("the details row of {:?}:\n{text}", s.params));
        let expected = format!(
            "| {} | {} |",
            benches::report::fmt::num(floor_s * 1000.0),
            benches::report::fmt::ratio(c.duration_s / floor_s)
        );
        assert!(row.ends_with(&expected), "{row} should end with {expected}");
        rows += 1;
    }
    assert!(rows > 0, "the fixture has compaction cases");
    let note = line_with(&text, "The disk's time: reading the MB before");
    assert!(
        note.contains(&format!("({} + {})", read.label(), write.label())),
        "{note}"
    );
    let target = line_with(&text, "| compaction of 100 MB |");
    assert!(
        target.contains("the disk's time for its bytes ("),
        "{target}"
    );
}
