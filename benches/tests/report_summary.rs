//! `write_report` on the fixed results in `tests/fixtures/report/`: an io_uring run, an mmap
//! run and fio's output; the summary has every section, the expected figures, and says so
//! when fio was not run.

use std::path::{Path, PathBuf};

use benches::report::write_report;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report");

/// A temporary results directory holding the named fixtures.
fn results_dir(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    for name in files {
        std::fs::copy(Path::new(FIXTURES).join(name), dir.path().join(name))
            .expect("copy a fixture");
    }
    dir
}

fn summary(written: &[PathBuf]) -> String {
    let path = written
        .iter()
        .find(|p| p.ends_with("summary.md"))
        .expect("summary.md written");
    std::fs::read_to_string(path).expect("read summary.md")
}

#[test]
fn summary_has_every_section_in_order() {
    let dir = results_dir(&["ringbench-uring.json", "ringbench-mmap.json", "fio.json"]);
    let text = summary(&write_report(dir.path()).expect("report"));
    let sections = [
        "# ringbench report: 2026-03-14T09:30:00Z (quick profile)",
        "## Executive summary",
        "## Environment",
        "## produce",
        "## fetch",
        "## concurrency",
        "## compaction",
        "## topic",
        "## mixed",
        "## baseline",
        "## io_uring vs mmap vs naive",
        "## Disk limit",
        "## Bottlenecks",
        "## Targets",
        "## Plots",
        "## Raw files",
    ];
    let mut from = 0;
    for section in sections {
        let at = text[from..]
            .find(section)
            .unwrap_or_else(|| panic!("`{section}` missing or out of order in:\n{text}"));
        from += at + section.len();
    }
}

#[test]
fn summary_states_figures_with_their_durability() {
    let dir = results_dir(&["ringbench-uring.json", "ringbench-mmap.json", "fio.json"]);
    let text = summary(&write_report(dir.path()).expect("report"));
    // Executive summary: produce at 1 KiB on each path, with the durability and verdict.
    assert!(text.contains(
        "| produce throughput, 1 KiB records | 500-800 MB/s | 950 MB/s (none) pass | 510 MB/s (none) pass |"
    ));
    assert!(text.contains(
        "| produce latency p99, 1 KiB | < 2 ms | 1500 us (sync) pass | 2600 us (sync) FAIL |"
    ));
    // Environment: one column per path.
    assert!(text.contains("| engine I/O path | io_uring+O_DIRECT | mmap |"));
    // Category table row, reads say they have no durability.
    assert!(text.contains(
        "| sequential_fetch | io_uring | fetch=100 messages=1000 size=1024 | n/a: read | 1 | 1800 |"
    ));
    // Ratios: the same case on both paths and the naive baseline of each run.
    assert!(text.contains(
        "| write_throughput | messages=10000 size=1024 | none | payload MB/s | 950 | 510 | 300 | 310 | 3.17x | 1.65x | 1.86x |"
    ));
    // Disk limit from fio, and the engine's fraction of it.
    assert!(text.contains("| seq-write-256k-qd8 | write | 256 KiB | 8 | 2050 |"));
    assert!(text.contains("| io_uring | read | sequential_fetch fetch=100 messages=1000 size=1024 | n/a: read | 1800 | seq-read-256k-qd4 | 2600 | 69% |"));
    assert!(
        text.contains("fio `write-4k-qd1` write p50 30.5 us, p99 58.0 us; the fdatasync after it")
    );
    // Compaction scaled to 100 MB, and the target not measured on the path without it.
    assert!(text.contains(
        "| compaction of 100 MB | < 100 ms | 80.2 ms per 100 MB (none) pass | not measured |"
    ));
    // Plots and raw files linked.
    for link in [
        "(throughput_by_size.svg)",
        "(latency_percentiles.svg)",
        "(scaling.svg)",
        "[`ringbench-uring.json`](ringbench-uring.json)",
        "[`fio.json`](fio.json)",
    ] {
        assert!(text.contains(link), "{link} not linked");
    }
}

#[test]
fn missing_fio_is_said_not_guessed() {
    let dir = results_dir(&["ringbench-uring.json"]);
    let written = write_report(dir.path()).expect("report");
    let text = summary(&written);
    assert!(
        text.contains("fio not installed: the disk's physical limit was not measured in this run")
    );
    assert!(text.contains("lowest payload throughput"));
    assert!(text.contains("no `fio.json`"));
    assert_eq!(written.len(), 6, "five plots and the summary: {written:?}");
    for file in &written {
        assert!(file.exists(), "{} reported but not written", file.display());
    }
}

#[test]
fn divan_output_is_linked() {
    let dir = results_dir(&["ringbench-uring.json"]);
    std::fs::write(dir.path().join("divan-uring.txt"), "log\n├─ write\n").expect("write");
    let text = summary(&write_report(dir.path()).expect("report"));
    assert!(text.contains("[`divan-uring.txt`](divan-uring.txt): Divan's output, 2 lines"));
}

#[test]
fn a_directory_without_results_is_an_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let error = write_report(dir.path()).expect_err("no results");
    assert!(error.contains("ringbench suite"), "{error}");
}

#[test]
fn the_scaling_row_names_the_cores_that_bound_it() {
    let scaling_row = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("| scaling with 4 producers | >= 0.7 of linear |"))
            .expect("the executive summary has a scaling row")
            .to_string()
    };
    // The fixture ran on 8 cores: the producers had a core each.
    let dir = results_dir(&["ringbench-uring.json", "ringbench-mmap.json", "fio.json"]);
    let row = scaling_row(&summary(&write_report(dir.path()).expect("report")));
    assert!(
        row.contains("4 producers on 8 cores") && !row.contains("at most"),
        "{row}"
    );
    // The same run on 2 cores: 4 CPU-bound producers reach at most half of linear.
    for name in ["ringbench-uring.json", "ringbench-mmap.json"] {
        let path = dir.path().join(name);
        let text = std::fs::read_to_string(&path).expect("read the fixture copy");
        let two_cores = text.replacen("\"cores\": 8", "\"cores\": 2", 1);
        assert_ne!(text, two_cores, "the fixture states its cores");
        std::fs::write(&path, two_cores).expect("write the fixture copy");
    }
    let row = scaling_row(&summary(&write_report(dir.path()).expect("report")));
    assert!(
        row.contains("4 producers on 2 cores: at most 0.50 of linear when CPU-bound"),
        "{row}"
    );
}
