//! Turns a results directory into `summary.md` and SVG plots.
//!
//! Layout: `inputs.rs` finds and reads the files (`fio.rs`, `divan.rs` for the optional ones);
//! `targets.rs`, `compare.rs` and `disk.rs` are the pure decisions (target verdicts, path and
//! baseline ratios, which disk figure of `disk.json` an engine figure is set against); `summary.rs` writes the Markdown, `plots.rs` chooses what each plot shows and
//! `svg.rs` draws it; `fmt.rs` prints figures the same way everywhere. `peers.rs` writes the
//! section and plot of `peers.json` (`ringbench peers`), when the directory has one;
//! `contention.rs` the lines on producers during compaction, `wire.rs` those on the wire
//! protocol against the engine in process.

pub mod compare;
pub mod contention;
pub mod disk;
pub mod disk_limit;
pub mod divan;
pub mod fio;
pub mod fmt;
pub mod inputs;
pub mod peers;
pub mod plots;
pub mod summary;
pub mod svg;
pub mod targets;
pub mod wire;

use std::path::{Path, PathBuf};

/// Name of the Markdown report in the results directory.
pub const SUMMARY_FILE: &str = "summary.md";

/// Reads `dir/ringbench-*.json` (and `disk.json`, `fio.json`, `divan-*.txt`, `peers.json` when
/// present) and writes `dir/summary.md` and the SVG plots beside it; returns the files
/// written.
///
/// # Errors
/// A message naming what could not be read or written.
pub fn write_report(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let inputs = inputs::load(dir)?;
    let mut written = Vec::new();
    for (name, svg) in plots::all(&inputs.runs, inputs.disk_figures()) {
        written.push(write(dir, name, &svg)?);
    }
    if let Some(Ok(result)) = &inputs.peers {
        let svg = svg::bar_chart(&peers::plot(result));
        written.push(write(dir, peers::PEERS_PLOT, &svg)?);
    }
    written.push(write(dir, SUMMARY_FILE, &summary::render(&inputs))?);
    Ok(written)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf, String> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    Ok(path)
}
