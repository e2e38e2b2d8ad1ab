//! The Peers section of `summary.md` and its plot, from a `peers.json` written by
//! `ringbench peers --smoke` (`tests/fixtures/report/peers.json`: ringlog, raft-engine, fjall,
//! glommio and the naive baseline) beside an io_uring suite run.

use std::path::Path;

use benches::report::peers::{PEERS_FILE, PEERS_PLOT};
use benches::report::write_report;
use benches::results::RunResult;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report");

fn results_dir(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    for name in files {
        std::fs::copy(Path::new(FIXTURES).join(name), dir.path().join(name))
            .expect("copy a fixture");
    }
    dir
}

fn summary(dir: &Path) -> String {
    write_report(dir).expect("report");
    std::fs::read_to_string(dir.join("summary.md")).expect("read summary.md")
}

#[test]
fn peers_section_puts_ratios_first_then_figures_then_modes() {
    let dir = results_dir(&["ringbench-uring.json", PEERS_FILE]);
    let text = summary(dir.path());
    let order = [
        "## io_uring vs mmap vs naive",
        "## Peers",
        "### ringlog vs each peer",
        "| case | metric | vs raft-engine | vs fjall | vs glommio | vs naive |",
        "| append, cheapest, 1 producer | records/s |",
        "| reopen (recovery), cold | time |",
        "### Figures",
        "### What each engine's durability modes mean",
        "- **ringlog**",
        "- **raft-engine**",
        "- **fjall**",
        "- **glommio**",
        "- **naive**",
        "## Disk limit",
        PEERS_PLOT,
        "`peers.json`",
    ];
    let mut from = 0;
    for needle in order {
        let at = text[from..]
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` missing or out of order in:\n{text}"));
        from += at + needle.len();
    }
    let four = text
        .lines()
        .find(|l| l.starts_with("| append, sync, 4 producers | records/s |"))
        .expect("the 4-producer row");
    assert!(
        four.ends_with("| n/a | n/a |"),
        "glommio and naive have one writer: {four}"
    );
    assert!(
        text.contains("`drop_caches`"),
        "the cache-drop method is named"
    );
}

#[test]
fn every_ratio_in_the_file_is_printed_in_its_row() {
    let peers = RunResult::load(&Path::new(FIXTURES).join(PEERS_FILE)).expect("fixture");
    let info = peers.peers.as_ref().expect("peer info");
    assert!(!info.ratios.is_empty());
    let dir = results_dir(&["ringbench-uring.json", PEERS_FILE]);
    let text = summary(dir.path());
    for r in &info.ratios {
        assert!(
            text.contains(&format!("**{:.2}x**", r.ringlog_vs_peer)),
            "ratio {r:?} missing"
        );
    }
}

#[test]
fn the_plot_has_one_bar_series_per_engine() {
    let dir = results_dir(&["ringbench-uring.json", PEERS_FILE]);
    write_report(dir.path()).expect("report");
    let svg = std::fs::read_to_string(dir.path().join(PEERS_PLOT)).expect("the plot");
    assert!(svg.starts_with("<svg"), "{svg}");
    for engine in ["ringlog", "raft-engine", "fjall", "glommio", "naive"] {
        assert!(
            svg.contains(&format!(">{engine}</text>")),
            "{engine} in the legend"
        );
    }
    assert!(svg.contains("log scale"));
}

#[test]
fn a_broken_peers_file_is_reported_not_fatal() {
    let dir = results_dir(&["ringbench-uring.json"]);
    std::fs::write(dir.path().join(PEERS_FILE), b"{ not json").expect("write");
    let text = summary(dir.path());
    assert!(
        text.contains("## Peers\n\n`peers.json` could not be read"),
        "{text}"
    );
    assert!(!dir.path().join(PEERS_PLOT).exists());
}

#[test]
fn no_peers_file_no_section() {
    let dir = results_dir(&["ringbench-uring.json"]);
    let text = summary(dir.path());
    assert!(!text.contains("## Peers"));
}
