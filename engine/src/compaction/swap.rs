//! The crash-safe swap of cleaned segments for the segments they replace.
//!
//! A cleaned group with base offset `B` is written as four files, all fsynced:
//!
//! | file | content |
//! |---|---|
//! | `B.log.cleaned` | the rewritten batches |
//! | `B.index.cleaned`, `B.timeindex.cleaned` | their indexes |
//! | `B.replaces.cleaned` | the base offsets of the segments it replaces, one per line |
//!
//! Then, one file operation at a time:
//!
//! 1. rename `B.index.cleaned`, `B.timeindex.cleaned`, `B.replaces.cleaned` to `.swap`;
//! 2. rename `B.log.cleaned` to `B.log.swap` and fsync the directory: **the commit point**;
//! 3. delete the `.log`, `.index` and `.timeindex` files of every replaced segment;
//! 4. rename `B.index.swap`, `B.timeindex.swap`, then `B.log.swap` to their plain names,
//!    delete `B.replaces.swap`, fsync the directory.
//!
//! At open, [`recover`] completes every swap whose `B.log.swap` exists (steps 3 and 4, which
//! are idempotent) and deletes everything else ending in `.cleaned` or `.swap`: a compaction
//! interrupted before its commit point leaves the old segments untouched, one interrupted after
//! it is finished. Nothing is ever half applied.
//!
//! A compaction that fails in the running process is settled the same way: before its commit
//! point the log keeps its old segments, after it the log serves the cleaned segment at once
//! (what the next open would find), and the next compaction starts by running [`recover`], so
//! a later swap never meets the files of an unfinished one.

use std::io;
use std::path::{Path, PathBuf};

use crate::io::Storage;
use crate::segment::{INDEX_EXTENSION, LOG_EXTENSION, TIME_INDEX_EXTENSION, file_name};

/// Suffix of files being written.
pub const CLEANED_SUFFIX: &str = "cleaned";
/// Suffix of files committed but not yet in place.
pub const SWAP_SUFFIX: &str = "swap";
/// Extension of the list of replaced segments.
pub const REPLACES_EXTENSION: &str = "replaces";
/// Largest list of replaced segments read back: one 20-digit base offset per line for far more
/// segments than one group can hold.
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

/// Writes the list of segments a cleaned group replaces (`B.replaces.cleaned`), fsynced.
///
/// # Errors
/// The operating system's error.
pub fn write_replaces(
    storage: &dyn Storage,
    dir: &Path,
    base: u64,
    replaced: &[u64],
) -> io::Result<()> {
    let text = replaced.iter().fold(String::new(), |mut text, base| {
        text.push_str(&base.to_string());
        text.push('\n');
        text
    });
    storage.write_file(
        &staged_path(dir, base, REPLACES_EXTENSION, CLEANED_SUFFIX),
        text.as_bytes(),
    )
}

/// Steps 1 to 4 for the cleaned group `base` (see the module docs): [`stage`], then
/// [`complete`].
///
/// # Errors
/// The operating system's error, or the simulated crash of `budget`; the files are then left
/// exactly as that step left them, for [`recover`] to settle.
pub fn commit(
    storage: &dyn Storage,
    dir: &Path,
    base: u64,
    replaced: &[u64],
    budget: &mut StepBudget,
) -> io::Result<()> {
    stage(storage, dir, base, budget)?;
    complete(storage, dir, base, replaced, budget)
}

/// Steps 1 and 2 up to the commit point: the renames to `.swap`, `B.log.swap` last. Once this
/// returned `Ok` the swap is committed: whatever fails after, [`recover`] finishes it (at the
/// next open, or when the next compaction starts), so the caller must serve the cleaned
/// segment from then on. On `Err` nothing is committed (a failed rename renames nothing).
///
/// # Errors
/// The operating system's error, or the simulated crash of `budget`.
pub fn stage(
    storage: &dyn Storage,
    dir: &Path,
    base: u64,
    budget: &mut StepBudget,
) -> io::Result<()> {
    for extension in [INDEX_EXTENSION, TIME_INDEX_EXTENSION, REPLACES_EXTENSION] {
        budget.before_operation()?;
        storage.rename(
            &staged_path(dir, base, extension, CLEANED_SUFFIX),
            &staged_path(dir, base, extension, SWAP_SUFFIX),
        )?;
    }
    budget.before_operation()?;
    storage.rename(
        &staged_path(dir, base, LOG_EXTENSION, CLEANED_SUFFIX),
        &staged_path(dir, base, LOG_EXTENSION, SWAP_SUFFIX),
    )
}

/// The rest of a committed swap: the directory fsync that makes the commit point durable, then
/// steps 3 and 4.
///
/// # Errors
/// The operating system's error, or the simulated crash of `budget`; [`recover`] finishes
/// the swap.
pub fn complete(
    storage: &dyn Storage,
    dir: &Path,
    base: u64,
    replaced: &[u64],
    budget: &mut StepBudget,
) -> io::Result<()> {
    storage.sync_dir(dir)?;
    finish(storage, dir, base, replaced, budget)
}

/// Steps 3 and 4: idempotent, so a crash in the middle is finished by running them again (a
/// plain file of base `base` is deleted only while its `.swap` replacement still waits).
fn finish(
    storage: &dyn Storage,
    dir: &Path,
    base: u64,
    replaced: &[u64],
    budget: &mut StepBudget,
) -> io::Result<()> {
    for &old in replaced {
        for extension in [LOG_EXTENSION, INDEX_EXTENSION, TIME_INDEX_EXTENSION] {
            // The cleaned segment takes the first replaced base offset: once its `.swap` file of
            // an extension was renamed into place, the plain file is the new one and stays.
            if old == base && !storage.exists(&staged_path(dir, base, extension, SWAP_SUFFIX))? {
                continue;
            }
            budget.before_operation()?;
            remove_if_present(storage, &dir.join(file_name(old, extension)))?;
        }
    }
    for extension in [INDEX_EXTENSION, TIME_INDEX_EXTENSION, LOG_EXTENSION] {
        let from = staged_path(dir, base, extension, SWAP_SUFFIX);
        if storage.exists(&from)? {
            budget.before_operation()?;
            storage.rename(&from, &dir.join(file_name(base, extension)))?;
        }
    }
    budget.before_operation()?;
    remove_if_present(
        storage,
        &staged_path(dir, base, REPLACES_EXTENSION, SWAP_SUFFIX),
    )?;
    storage.sync_dir(dir)
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
    let mut committed = Vec::new();
    let mut leftovers = Vec::new();
    for name in storage.list_dir(dir)? {
        let name = name.to_string_lossy().into_owned();
        let log_swap = format!(".{LOG_EXTENSION}.{SWAP_SUFFIX}");
        if let Some(stem) = name.strip_suffix(&log_swap) {
            if let Ok(base) = stem.parse::<u64>() {
                committed.push(base);
            }
        } else if name.ends_with(&format!(".{CLEANED_SUFFIX}"))
            || name.ends_with(&format!(".{SWAP_SUFFIX}"))
        {
            leftovers.push(dir.join(&name));
        }
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
        // Files of committed swaps were consumed by `finish` above.
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
