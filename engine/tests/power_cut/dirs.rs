//! Directory entries as the simulated disk holds them. A name created, renamed or removed since
//! the last fsync of its directory may or may not survive a power cut; files changed with plain
//! `std::fs` calls (index files, the clean-shutdown marker) after the cut must not keep those
//! changes, since the power was already off.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::rng::Rng;

/// Files up to this size that the wrapper does not model (index files, the clean-shutdown
/// marker) are copied into listings, so that their contents can be put back.
pub const SMALL_FILE_BYTES: u64 = 1 << 20;

/// The entries of one directory at one moment.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// Name, and the contents of files that are neither modeled (`FileImage`) nor large.
    entries: BTreeMap<OsString, Option<Vec<u8>>>,
}

impl Listing {
    /// The entries of `dir` now (none if it does not exist); `modeled` tells which files have
    /// a `FileImage` and need no copy.
    pub fn read(dir: &Path, modeled: &dyn Fn(&Path) -> bool) -> Listing {
        let Ok(entries) = fs::read_dir(dir) else {
            return Listing::default();
        };
        let entries = entries
            .filter_map(Result::ok)
            .map(|entry| {
                let path = entry.path();
                let small = entry
                    .metadata()
                    .is_ok_and(|m| m.is_file() && m.len() <= SMALL_FILE_BYTES);
                let contents = (small && !modeled(&path))
                    .then(|| fs::read(&path).ok())
                    .flatten();
                (entry.file_name(), contents)
            })
            .collect();
        Listing { entries }
    }
}

/// One tracked directory.
#[derive(Debug)]
pub struct DirState {
    /// The entries as of the last directory fsync (or when tracking started).
    pub durable: Listing,
    /// The entries when the power went.
    pub at_cut: Option<Listing>,
}

/// What the cut did to directory entries.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirReport {
    /// Entries created since the last directory fsync that the cut removed.
    pub vanished: u64,
    /// Entries removed since the last directory fsync that came back.
    pub resurrected: u64,
    /// Entries created after the cut (through `std::fs`), removed.
    pub removed_after_cut: u64,
    /// Small files changed or removed after the cut (through `std::fs`), put back.
    pub restored_after_cut: u64,
}

impl DirReport {
    pub fn add(&mut self, other: &DirReport) {
        self.vanished += other.vanished;
        self.resurrected += other.resurrected;
        self.removed_after_cut += other.removed_after_cut;
        self.restored_after_cut += other.restored_after_cut;
    }
}

/// Puts `dir` in the state the power cut leaves it in: changes after the cut undone, entries
/// not yet made durable (files or directories) dropped or kept at random. Returns the report and the paths that
/// vanished (their `FileImage`s no longer apply).
pub fn settle(dir: &Path, state: &DirState, rng: &mut Rng) -> (DirReport, Vec<PathBuf>) {
    let at_cut = state
        .at_cut
        .as_ref()
        .expect("the directory was listed when the power went");
    let mut report = DirReport::default();
    if !dir.exists() {
        // Its own entry in its parent vanished (settled first: parents sort first).
        let gone = at_cut.entries.keys().map(|name| dir.join(name)).collect();
        return (report, gone);
    }
    undo_after_cut(dir, at_cut, &mut report);
    let mut vanished = Vec::new();
    for name in at_cut.entries.keys() {
        if !state.durable.entries.contains_key(name) && rng.chance(1, 2) {
            let path = dir.join(name);
            remove(&path);
            report.vanished += 1;
            vanished.push(path);
        }
    }
    for (name, contents) in &state.durable.entries {
        if let Some(contents) = contents
            && !at_cut.entries.contains_key(name)
            && rng.chance(1, 2)
        {
            fs::write(dir.join(name), contents).expect("bring back a removed file");
            report.resurrected += 1;
        }
    }
    (report, vanished)
}

/// Removes what `std::fs` created after the cut and puts back small files it changed.
fn undo_after_cut(dir: &Path, at_cut: &Listing, report: &mut DirReport) {
    let now = Listing::read(dir, &|_| true);
    for name in now.entries.keys() {
        if !at_cut.entries.contains_key(name) {
            remove(&dir.join(name));
            report.removed_after_cut += 1;
        }
    }
    for (name, contents) in &at_cut.entries {
        let Some(contents) = contents else { continue };
        let path = dir.join(name);
        if fs::read(&path).ok().as_ref() != Some(contents) {
            fs::write(&path, contents).expect("put back a file changed after the cut");
            report.restored_after_cut += 1;
        }
    }
}

fn remove(path: &Path) {
    let result = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("remove {}: {e}", path.display()),
    }
}
