//! The files of a results directory the report reads: one `ringbench-<path>.json` per I/O
//! path, and optionally `disk.json`, `fio.json`, `divan-*.txt` and `peers.json`.

use std::path::Path;

use super::disk::DiskFigures;
use super::divan::{self, DivanFile};
use super::fio::{self, FioReport};
pub use crate::disk::DISK_FILE;
use crate::results::RunResult;

/// Name of fio's output in the results directory.
pub const FIO_FILE: &str = "fio.json";

/// One run of the suite on one I/O path.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The file's name, e.g. `ringbench-uring.json`.
    pub file: String,
    /// What the file name says after `ringbench-`: `uring`, `mmap`, ...
    pub label: String,
    /// Its contents.
    pub result: RunResult,
}

impl Run {
    /// The I/O path as a reader knows it: `io_uring` for the `uring` file, else the label.
    pub fn display(&self) -> &str {
        if self.label == "uring" {
            "io_uring"
        } else {
            &self.label
        }
    }
}

/// Everything the report is made from.
#[derive(Clone, Debug, PartialEq)]
pub struct Inputs {
    /// The runs, io_uring first, then mmap, then any other path by name.
    pub runs: Vec<Run>,
    /// `fio.json`: absent, or read, or why it could not be read.
    pub fio: Option<Result<FioReport, String>>,
    /// The raw Divan outputs.
    pub divan: Vec<DivanFile>,
    /// `peers.json` of `ringbench peers`: absent, or read, or why it could not be read.
    pub peers: Option<Result<RunResult, String>>,
    /// `disk.json` of `ringbench disk`: absent, or read, or why it could not be read.
    pub disk: Option<Result<DiskFigures, String>>,
}

impl Inputs {
    /// The disk's figures, when `disk.json` was read.
    pub fn disk_figures(&self) -> Option<&DiskFigures> {
        self.disk.as_ref().and_then(|d| d.as_ref().ok())
    }
}

/// Reads the results directory.
///
/// # Errors
/// A message naming the file that could not be read, or saying that there is no run.
pub fn load(dir: &Path) -> Result<Inputs, String> {
    let mut runs = Vec::new();
    for name in file_names(dir)? {
        let Some(label) = name
            .strip_prefix("ringbench-")
            .and_then(|rest| rest.strip_suffix(".json"))
        else {
            continue;
        };
        runs.push(Run {
            label: label.to_string(),
            result: RunResult::load(&dir.join(&name))?,
            file: name,
        });
    }
    if runs.is_empty() {
        return Err(format!(
            "{}: no ringbench-*.json result files; run `ringbench suite` into this directory first",
            dir.display()
        ));
    }
    runs.sort_by_key(|run| (path_rank(&run.label), run.label.clone()));
    let fio_path = dir.join(FIO_FILE);
    let fio = fio_path.exists().then(|| {
        std::fs::read_to_string(&fio_path)
            .map_err(|e| e.to_string())
            .and_then(|text| fio::parse(&text))
    });
    let peers_path = dir.join(super::peers::PEERS_FILE);
    let peers = peers_path.exists().then(|| RunResult::load(&peers_path));
    let disk_path = dir.join(DISK_FILE);
    let disk = disk_path.exists().then(|| {
        RunResult::load(&disk_path)
            .and_then(|r| DiskFigures::of(&r).map_err(|e| format!("{}: {e}", disk_path.display())))
    });
    Ok(Inputs {
        runs,
        fio,
        divan: divan::find(dir)?,
        peers,
        disk,
    })
}

/// The names of the files in `dir`, sorted.
///
/// # Errors
/// The directory could not be listed.
pub fn file_names(dir: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn path_rank(label: &str) -> u8 {
    match label {
        "uring" => 0,
        "mmap" => 1,
        _ => 2,
    }
}
