//! The crash-safe swap of cleaned segments for the segments they replace.
//!
//! One compaction pass rewrites a run of consecutive sealed segments (the *old* ones) into new
//! cleaned segments (*new* ones), cut at `segment_bytes` like the write path's rolls, so a pass
//! may merge many small segments into few. The whole pass commits at once, with one rename and
//! one directory fsync, whatever the number of segments:
//!
//! 1. Every new segment `N` is written as `N.log.cleaned`, `N.index.cleaned` and
//!    `N.timeindex.cleaned`, each made durable (one fdatasync or fsync per file).
//! 2. The pass's manifest `P.pass.cleaned` (`P` = the first old segment's base offset) lists
//!    the old and the new base offsets ([`PassManifest`]), fsynced.
//! 3. Rename `P.pass.cleaned` to `P.pass.swap` and fsync the directory: **the commit point**.
//! 4. Delete the `.log`, `.index` and `.timeindex` files of every old segment, rename every new
//!    segment's `.cleaned` files to their plain names (`.log` last), delete `P.pass.swap`, fsync
//!    the directory.
//!
//! At open, [`recover`] finishes every pass whose `P.pass.swap` exists (step 4 is idempotent: a
//! plain file of an old segment whose base is also a new one is deleted only while its
//! `.cleaned` replacement still waits) and deletes everything else ending in `.cleaned` or
//! `.swap`: a pass interrupted before its commit point leaves every old segment untouched, one
//! interrupted after it is finished. The log opens to exactly the content before the pass or
//! after it, never a mix.
//!
//! Logs written before passes committed whole used one commit per group (`B.log.swap` with
//! `B.replaces.swap`); [`recover`] still finishes those.
//!
//! A compaction that fails in the running process is settled the same way: before its commit
//! point the log keeps its old segments, after it the log serves the new ones at once (what
//! the next open would find), and the next compaction starts by running [`recover`], so a later
//! pass never meets the files of an unfinished one.

use std::io;
use std::path::{Path, PathBuf};

use crate::io::Storage;
use crate::segment::{INDEX_EXTENSION, LOG_EXTENSION, TIME_INDEX_EXTENSION, file_name};

/// Suffix of files being written.
pub const CLEANED_SUFFIX: &str = "cleaned";
/// Suffix of files committed but not yet in place.
pub const SWAP_SUFFIX: &str = "swap";
/// Extension of the list of replaced segments of a one-group commit (logs written before
/// passes committed whole).
pub const REPLACES_EXTENSION: &str = "replaces";
/// Extension of a pass's manifest (`P.pass.cleaned`, then `P.pass.swap`).
pub const PASS_EXTENSION: &str = "pass";
/// Largest list of replaced segments (or pass manifest) read back: 20-digit base offsets for
/// far more segments than one pass rewrites.
pub const MAX_REPLACES_BYTES: u64 = 1024 * 1024;

/// `B.{extension}.{suffix}` in `dir`.
pub fn staged_path(dir: &Path, base: u64, extension: &str, suffix: &str) -> PathBuf {
    dir.join(format!("{}.{suffix}", file_name(base, extension)))
}

/// Counts file operations and fails after a chosen number of them: tests use it to stop a
/// compaction after each step, as a crash would.
#[derive(Debug, Default)]
pub struct StepBudget {
    remaining: Option<usize>,
}

impl StepBudget {
    /// No limit.
    pub fn unlimited() -> Self {
        StepBudget { remaining: None }
    }

    /// Fails the operation after `steps` successful ones.
    pub fn stop_after(steps: usize) -> Self {
        StepBudget {
            remaining: Some(steps),
        }
    }

    fn step(&mut self) -> io::Result<()> {
        match &mut self.remaining {
            None => Ok(()),
            Some(0) => Err(io::Error::other(
                "compaction stopped here on purpose (simulated crash)",
            )),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
        }
    }

    /// Counts one file operation that is about to happen.
    ///
    /// # Errors
    /// The simulated crash, when the budget is spent.
    pub fn before_operation(&mut self) -> io::Result<()> {
        self.step()
    }
}

/// What one pass replaces: the base offsets of the old segments and of the new ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassManifest {
    /// The old segments, oldest first.
    pub old: Vec<u64>,
    /// The new segments, oldest first; the first takes the first old segment's base offset.
    pub new: Vec<u64>,
}

impl PassManifest {
    /// The base offset naming the pass's manifest: its first old segment's.
    ///
    /// # Panics
    /// If the pass replaces nothing.
    pub fn name_base(&self) -> u64 {
        self.old[0]
    }

    /// `old 0 10 20\nnew 0 25\n`.
    pub fn encode(&self) -> String {
        let line = |tag: &str, bases: &[u64]| {
            let mut line = tag.to_string();
            for base in bases {
                line.push(' ');
                line.push_str(&base.to_string());
            }
            line.push('\n');
            line
        };
        line("old", &self.old) + &line("new", &self.new)
    }

    /// The manifest `text` encodes; `InvalidData` for anything else (a torn or foreign file).
    ///
    /// # Errors
    /// `InvalidData` naming what is wrong.
    pub fn decode(text: &str) -> io::Result<PassManifest> {
        let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
        let mut lines = text.lines();
        let mut bases = |tag: &str| -> io::Result<Vec<u64>> {
            let line = lines
                .next()
                .ok_or_else(|| bad(format!("no `{tag}` line")))?;
            let mut words = line.split_ascii_whitespace();
            if words.next() != Some(tag) {
                return Err(bad(format!("expected a `{tag}` line, found {line:?}")));
            }
            words
                .map(|w| {
                    w.parse::<u64>()
                        .map_err(|e| bad(format!("{w:?} is not a base offset: {e}")))
                })
                .collect()
        };
        let manifest = PassManifest {
            old: bases("old")?,
            new: bases("new")?,
        };
        if lines.next().is_some() {
            return Err(bad("text after the `new` line".to_string()));
        }
        if manifest.old.is_empty() || manifest.new.first() != manifest.old.first() {
            return Err(bad(format!(
                "a pass replaces at least one segment and its first new segment takes the first \
                 old base offset: {manifest:?}"
            )));
        }
        Ok(manifest)
    }
}

/// Writes the manifest of a pass (`P.pass.cleaned`), fsynced: step 2.
///
/// # Errors
/// The operating system's error.
pub fn write_manifest(
    storage: &dyn Storage,
    dir: &Path,
    manifest: &PassManifest,
) -> io::Result<()> {
    storage.write_file(
        &staged_path(dir, manifest.name_base(), PASS_EXTENSION, CLEANED_SUFFIX),
        manifest.encode().as_bytes(),
    )
}

/// Step 3 up to the commit point: the rename of the manifest to `P.pass.swap`. Once this
/// returned `Ok` the pass is committed: whatever fails after, [`recover`] finishes it (at the
/// next open, or when the next compaction starts), so the caller must serve the new segments
/// from then on. On `Err` nothing is committed (a failed rename renames nothing).
///
/// # Errors
/// The operating system's error, or the simulated crash of `budget`.
pub fn commit_pass(
    storage: &dyn Storage,
    dir: &Path,
    manifest: &PassManifest,
    budget: &mut StepBudget,
) -> io::Result<()> {
    budget.before_operation()?;
    let base = manifest.name_base();
    storage.rename(
        &staged_path(dir, base, PASS_EXTENSION, CLEANED_SUFFIX),
        &staged_path(dir, base, PASS_EXTENSION, SWAP_SUFFIX),
    )
}

/// The rest of a committed pass: the directory fsync that makes the commit point durable, then
/// step 4.
///
/// # Errors
/// The operating system's error, or the simulated crash of `budget`; [`recover`] finishes
/// the pass.
pub fn complete_pass(
    storage: &dyn Storage,
    dir: &Path,
    manifest: &PassManifest,
    budget: &mut StepBudget,
) -> io::Result<()> {
    storage.sync_dir(dir)?;
    finish_pass(storage, dir, manifest, budget)
}

/// Step 4: idempotent, so a crash in the middle is finished by running it again.
fn finish_pass(
    storage: &dyn Storage,
    dir: &Path,
    manifest: &PassManifest,
    budget: &mut StepBudget,
) -> io::Result<()> {
    let list = staged_path(dir, manifest.name_base(), PASS_EXTENSION, SWAP_SUFFIX);
    replace(storage, dir, manifest, CLEANED_SUFFIX, &list, budget)
}

/// Deletes the files of `manifest`'s old segments, renames its new segments' files staged as
/// `B.{extension}.{staged}` into place (`.log` last), deletes `list` and fsyncs `dir`.
/// Idempotent: a plain file of an old segment whose base is also a new one's is deleted only
/// while the new one's staged file still waits.
fn replace(
    storage: &dyn Storage,
    dir: &Path,
    manifest: &PassManifest,
    staged: &str,
    list: &Path,
    budget: &mut StepBudget,
) -> io::Result<()> {
    for &old in &manifest.old {
        for extension in [LOG_EXTENSION, INDEX_EXTENSION, TIME_INDEX_EXTENSION] {
            // Once a new segment's staged file of an extension was renamed into place, the
            // plain file of that base is the new one and stays.
            if manifest.new.contains(&old)
                && !storage.exists(&staged_path(dir, old, extension, staged))?
            {
                continue;
            }
            budget.before_operation()?;
            remove_if_present(storage, &dir.join(file_name(old, extension)))?;
        }
    }
    for &new in &manifest.new {
        for extension in [INDEX_EXTENSION, TIME_INDEX_EXTENSION, LOG_EXTENSION] {
            let from = staged_path(dir, new, extension, staged);
            if storage.exists(&from)? {
                budget.before_operation()?;
                storage.rename(&from, &dir.join(file_name(new, extension)))?;
            }
        }
    }
    budget.before_operation()?;
    remove_if_present(storage, list)?;
    storage.sync_dir(dir)
}

/// The manifest of the committed pass `P.pass.swap` in `dir`.
///
/// # Errors
/// The operating system's error, or `InvalidData` for a manifest that does not decode (named
/// by its path).
pub fn read_committed(storage: &dyn Storage, dir: &Path, base: u64) -> io::Result<PassManifest> {
    let path = staged_path(dir, base, PASS_EXTENSION, SWAP_SUFFIX);
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let bytes = storage
        .read_file(&path, MAX_REPLACES_BYTES)
        .map_err(named)?;
    PassManifest::decode(&String::from_utf8_lossy(&bytes)).map_err(named)
}

/// The base offsets of the committed passes among `names` (entries of a log directory).
pub fn committed_passes<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<u64> {
    let suffix = format!(".{PASS_EXTENSION}.{SWAP_SUFFIX}");
    names
        .into_iter()
        .filter_map(|name| name.strip_suffix(&suffix)?.parse::<u64>().ok())
        .collect()
}

/// The rest of a one-group commit of an earlier version (`B.log.swap`, the new segment `B`
/// staged as `.swap` files, its old ones listed in `B.replaces.swap`).
fn finish(
    storage: &dyn Storage,
    dir: &Path,
    base: u64,
    replaced: &[u64],
    budget: &mut StepBudget,
) -> io::Result<()> {
    let group = PassManifest {
        old: replaced.to_vec(),
        new: vec![base],
    };
    let list = staged_path(dir, base, REPLACES_EXTENSION, SWAP_SUFFIX);
    replace(storage, dir, &group, SWAP_SUFFIX, &list, budget)
}

fn remove_if_present(storage: &dyn Storage, path: &Path) -> io::Result<()> {
    match storage.remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Settles every interrupted compaction in `dir`: at open, before segments are listed, and
/// when a compaction starts (under the log's maintenance lock, so no swap is in progress), where
/// it finishes the swaps a failed compaction committed and already serves.
///
/// # Errors
/// The operating system's error, or a committed swap whose list of replaced segments is
/// unreadable.
pub fn recover(storage: &dyn Storage, dir: &Path) -> io::Result<()> {
    let names: Vec<String> = storage
        .list_dir(dir)?
        .into_iter()
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    let passes = committed_passes(names.iter().map(String::as_str));
    let mut committed = Vec::new();
    let mut leftovers = Vec::new();
    let log_swap = format!(".{LOG_EXTENSION}.{SWAP_SUFFIX}");
    for name in &names {
        if let Some(stem) = name.strip_suffix(&log_swap) {
            if let Ok(base) = stem.parse::<u64>() {
                committed.push(base);
            }
        } else if name.ends_with(&format!(".{CLEANED_SUFFIX}"))
            || name.ends_with(&format!(".{SWAP_SUFFIX}"))
        {
            leftovers.push(dir.join(name));
        }
    }
    for &base in &passes {
        let manifest = read_committed(storage, dir, base)?;
        finish_pass(storage, dir, &manifest, &mut StepBudget::unlimited())?;
    }
    for &base in &committed {
        let list = staged_path(dir, base, REPLACES_EXTENSION, SWAP_SUFFIX);
        // The list is renamed before the commit point and removed only after the swap is in
        // place, so a committed swap always has it.
        let bytes = storage
            .read_file(&list, MAX_REPLACES_BYTES)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", list.display())))?;
        let text = String::from_utf8_lossy(&bytes);
        let replaced = text
            .lines()
            .map(|l| l.trim().parse::<u64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", list.display()),
                )
            })?;
        finish(storage, dir, base, &replaced, &mut StepBudget::unlimited())?;
    }
    let mut removed = false;
    for path in leftovers {
        // Files of committed passes and swaps were consumed above.
        if storage.exists(&path)? {
            storage.remove_file(&path)?;
            removed = true;
        }
    }
    if removed {
        storage.sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::portable::PortableStorage;
    use std::collections::BTreeMap;

    /// Every file of `dir` with its content.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }

    fn put(dir: &Path, name: &str, content: &str) {
        std::fs::write(dir.join(name), content).unwrap();
    }

    /// Old segments 0 and 10, new segments 0 and 15, staged, as a pass leaves them before its
    /// commit rename.
    fn staged_pass(dir: &Path) -> PassManifest {
        for base in [0, 10] {
            for ext in [LOG_EXTENSION, INDEX_EXTENSION, TIME_INDEX_EXTENSION] {
                put(dir, &file_name(base, ext), &format!("old {base} {ext}"));
            }
        }
        for base in [0, 15] {
            for ext in [LOG_EXTENSION, INDEX_EXTENSION, TIME_INDEX_EXTENSION] {
                let name = format!("{}.{CLEANED_SUFFIX}", file_name(base, ext));
                put(dir, &name, &format!("new {base} {ext}"));
            }
        }
        let manifest = PassManifest {
            old: vec![0, 10],
            new: vec![0, 15],
        };
        let storage = PortableStorage::new(None);
        write_manifest(&storage, dir, &manifest).unwrap();
        manifest
    }

    /// The files of segments `bases` under plain names, each holding `"{tag} {base} {ext}"`.
    fn segments(bases: &[u64], tag: &str) -> BTreeMap<String, Vec<u8>> {
        bases
            .iter()
            .flat_map(|&base| {
                [LOG_EXTENSION, INDEX_EXTENSION, TIME_INDEX_EXTENSION].map(|ext| {
                    (
                        file_name(base, ext),
                        format!("{tag} {base} {ext}").into_bytes(),
                    )
                })
            })
            .collect()
    }

    /// What the directory holds after the pass: the new segments under plain names only.
    fn after_pass() -> BTreeMap<String, Vec<u8>> {
        segments(&[0, 15], "new")
    }

    /// What it holds before: the old segments only.
    fn before_pass() -> BTreeMap<String, Vec<u8>> {
        segments(&[0, 10], "old")
    }

    #[test]
    fn a_manifest_round_trips_and_anything_else_is_refused() {
        let manifest = PassManifest {
            old: vec![0, 10, 20],
            new: vec![0, 25],
        };
        assert_eq!(manifest.encode(), "old 0 10 20\nnew 0 25\n");
        assert_eq!(PassManifest::decode(&manifest.encode()).unwrap(), manifest);
        for bad in [
            "",
            "old 0 10\n",
            "new 0\nold 0\n",
            "old 0 x\nnew 0\n",
            "old\nnew\n",
            "old 0 10\nnew 5\n",
            "old 0\nnew 0\nmore\n",
        ] {
            let err = PassManifest::decode(bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_pass_stopped_anywhere_recovers_to_before_or_after_it() {
        let storage = PortableStorage::new(None);
        for n in 0..100 {
            let dir = tempfile::tempdir().unwrap();
            let manifest = staged_pass(dir.path());
            let mut budget = StepBudget::stop_after(n);
            let committed = commit_pass(&storage, dir.path(), &manifest, &mut budget).is_ok();
            let done =
                committed && complete_pass(&storage, dir.path(), &manifest, &mut budget).is_ok();
            recover(&storage, dir.path()).unwrap();
            let found = files(dir.path());
            if committed {
                assert_eq!(
                    found,
                    after_pass(),
                    "stopped after {n} operations, committed"
                );
            } else {
                assert_eq!(
                    found,
                    before_pass(),
                    "stopped after {n} operations, not committed"
                );
            }
            // Recovering again changes nothing.
            recover(&storage, dir.path()).unwrap();
            assert_eq!(files(dir.path()), found);
            if done {
                assert!(n > 0);
                return;
            }
        }
        panic!("the pass never completed");
    }

    #[test]
    fn a_one_group_swap_of_an_earlier_version_is_finished() {
        // Group 0 replacing segments 0 and 10, committed (`0.log.swap`) and stopped after the
        // old `0.log` was deleted.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for ext in [INDEX_EXTENSION, TIME_INDEX_EXTENSION] {
            put(d, &file_name(0, ext), "old 0");
        }
        for ext in [LOG_EXTENSION, INDEX_EXTENSION, TIME_INDEX_EXTENSION] {
            put(d, &file_name(10, ext), "old 10");
            put(d, &format!("{}.{SWAP_SUFFIX}", file_name(0, ext)), "new 0");
        }
        put(
            d,
            &format!("{}.{SWAP_SUFFIX}", file_name(0, REPLACES_EXTENSION)),
            "0\n10\n",
        );
        recover(&PortableStorage::new(None), d).unwrap();
        let expected: BTreeMap<String, Vec<u8>> =
            [LOG_EXTENSION, INDEX_EXTENSION, TIME_INDEX_EXTENSION]
                .map(|ext| (file_name(0, ext), b"new 0".to_vec()))
                .into_iter()
                .collect();
        assert_eq!(files(d), expected);
    }

    #[test]
    fn a_committed_pass_with_a_torn_manifest_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("{}.{SWAP_SUFFIX}", file_name(0, PASS_EXTENSION));
        put(dir.path(), &name, "old 0 1");
        let err = recover(&PortableStorage::new(None), dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains(&name), "{err}");
    }
}
