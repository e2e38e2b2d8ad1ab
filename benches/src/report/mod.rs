//! Turns a results directory into `summary.md` and SVG plots (being written).

use std::path::{Path, PathBuf};

/// Reads `dir/ringbench-*.json` (and `fio.json`, `divan-*.txt` when present) and writes
/// `dir/summary.md` and the SVG plots beside it; returns the files written.
///
/// # Errors
/// A message naming what could not be read or written.
pub fn write_report(dir: &Path) -> Result<Vec<PathBuf>, String> {
    Err(format!("the report is not implemented yet ({})", dir.display()))
}
