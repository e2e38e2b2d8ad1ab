//! What one power cut did, summed over rounds for the test's closing line.

use std::fmt;

use super::dirs::DirReport;
use super::outcome::{Fate, Pattern};

/// What one power cut did.
#[derive(Clone, Debug, Default)]
pub struct CutReport {
    /// Files rewritten.
    pub files: u64,
    /// Of those, files with operations pending at the cut.
    pub files_pending: u64,
    /// Operations pending (not covered by an `fdatasync`) at the cut.
    pub pending_ops: u64,
    /// Of those, lost.
    pub lost_ops: u64,
    /// Of those, writes torn at a sector boundary.
    pub torn_writes: u64,
    /// Files per pattern, in the order of [`Pattern::ALL`].
    pub patterns: [u64; 4],
    /// On the mmap path: pages stored into but not synced at the cut.
    pub dirty_pages: u64,
    /// Of those, lost.
    pub lost_pages: u64,
    /// Of those, torn at a sector boundary.
    pub torn_pages: u64,
    /// Directory entries.
    pub dirs: DirReport,
}

impl CutReport {
    /// Counts a file rewritten with `fates` for its pending operations.
    pub fn count_file(&mut self, pattern: Pattern, fates: &[Fate]) {
        self.files += 1;
        if fates.is_empty() {
            return;
        }
        self.files_pending += 1;
        self.pending_ops += fates.len() as u64;
        let (lost, torn) = lost_and_torn(fates);
        self.lost_ops += lost;
        self.torn_writes += torn;
        let slot = Pattern::ALL.iter().position(|p| *p == pattern);
        self.patterns[slot.expect("every pattern is listed")] += 1;
    }

    /// Counts the dirty pages of a mapped file, with their fates.
    pub fn count_pages(&mut self, fates: &[Fate]) {
        self.dirty_pages += fates.len() as u64;
        let (lost, torn) = lost_and_torn(fates);
        self.lost_pages += lost;
        self.torn_pages += torn;
    }

    /// Adds `other` to the totals.
    pub fn add(&mut self, other: &CutReport) {
        self.files += other.files;
        self.files_pending += other.files_pending;
        self.pending_ops += other.pending_ops;
        self.lost_ops += other.lost_ops;
        self.torn_writes += other.torn_writes;
        self.dirty_pages += other.dirty_pages;
        self.lost_pages += other.lost_pages;
        self.torn_pages += other.torn_pages;
        for (total, n) in self.patterns.iter_mut().zip(other.patterns) {
            *total += n;
        }
        self.dirs.add(&other.dirs);
    }
}

impl fmt::Display for CutReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} files ({} with ops pending), {} ops pending, {} lost, {} writes torn; \
             patterns of files with ops pending",
            self.files, self.files_pending, self.pending_ops, self.lost_ops, self.torn_writes
        )?;
        for (pattern, n) in Pattern::ALL.iter().zip(self.patterns) {
            write!(f, " {pattern:?}={n}")?;
        }
        if self.dirty_pages > 0 {
            write!(
                f,
                "; mapped pages dirty {}, lost {}, torn {}",
                self.dirty_pages, self.lost_pages, self.torn_pages
            )?;
        }
        write!(
            f,
            "; dir entries vanished {}, resurrected {}, made after the cut and removed {}, \
             small files put back {}",
            self.dirs.vanished,
            self.dirs.resurrected,
            self.dirs.removed_after_cut,
            self.dirs.restored_after_cut
        )
    }
}

fn lost_and_torn(fates: &[Fate]) -> (u64, u64) {
    let lost = fates.iter().filter(|f| **f == Fate::Lost).count();
    let torn = fates
        .iter()
        .filter(|f| matches!(f, Fate::Torn { .. }))
        .count();
    (lost as u64, torn as u64)
}
