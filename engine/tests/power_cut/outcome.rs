//! What a power cut does to the operations on one file that no `fdatasync` covered: a pure
//! choice drawn from the seeded generator, kept apart from the code that rewrites the file
//! (`image.rs`), so the choice can be read and tested on its own.
//!
//! A disk with a volatile write cache may persist any subset of the writes it acknowledged
//! since the last cache flush, in any order, each sector (512 bytes on most disks, 4096 on
//! "advanced format" ones) atomically but not a multi-sector write as a whole. The patterns
//! below range from the benign (everything reached the disk) to that worst case (any subset of
//! operations, and of the sectors of a write).

use super::rng::Rng;

/// Sector sizes a write may be torn at.
pub const SECTOR_BYTES: [usize; 2] = [512, 4096];

/// One operation on a file since its last `fdatasync`, as far as the choice needs to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    /// A write of `len` bytes.
    Write { len: usize },
    /// A size change (`ftruncate`, `fallocate`): all or nothing.
    Resize,
}

/// What became of one pending operation at the cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It never reached the disk.
    Lost,
    /// It reached the disk whole.
    Kept,
    /// A write of which only some sectors reached the disk: `sectors[i]` tells whether bytes
    /// `[i * sector_bytes, (i + 1) * sector_bytes)` of the write did.
    Torn {
        sector_bytes: usize,
        sectors: Vec<bool>,
    },
}

/// How the disk treated a file's pending operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Every pending operation reached the disk (the cache happened to be written back).
    AllKept,
    /// None did.
    AllLost,
    /// The first k did, in order; the next write may be torn at a sector boundary (a prefix of
    /// its sectors kept), the rest are lost.
    Prefix,
    /// Each operation independently kept, lost or (a write) torn into any subset of sectors.
    Subset,
}

impl Pattern {
    /// Every pattern, for reports.
    pub const ALL: [Pattern; 4] = [
        Pattern::AllKept,
        Pattern::AllLost,
        Pattern::Prefix,
        Pattern::Subset,
    ];
}

/// Draws the fate of each of `pending`, in order.
pub fn choose(rng: &mut Rng, pending: &[Pending]) -> (Pattern, Vec<Fate>) {
    let pattern = match rng.below(8) {
        0 => Pattern::AllKept,
        1 => Pattern::AllLost,
        2..=4 => Pattern::Prefix,
        _ => Pattern::Subset,
    };
    let fates = match pattern {
        Pattern::AllKept => vec![Fate::Kept; pending.len()],
        Pattern::AllLost => vec![Fate::Lost; pending.len()],
        Pattern::Prefix => prefix(rng, pending),
        Pattern::Subset => pending.iter().map(|&op| any_fate(rng, op)).collect(),
    };
    (pattern, fates)
}

fn prefix(rng: &mut Rng, pending: &[Pending]) -> Vec<Fate> {
    let kept = rng.below(pending.len() as u64 + 1) as usize;
    let mut fates = vec![Fate::Kept; kept];
    if let Some(&Pending::Write { len }) = pending.get(kept)
        && rng.chance(2, 3)
    {
        let sector_bytes = rng.pick(&SECTOR_BYTES);
        let count = len.div_ceil(sector_bytes);
        if count > 1 {
            let keep = rng.between(1, count as u64 - 1) as usize;
            fates.push(Fate::Torn {
                sector_bytes,
                sectors: (0..count).map(|i| i < keep).collect(),
            });
        }
    }
    fates.resize(pending.len(), Fate::Lost);
    fates
}

fn any_fate(rng: &mut Rng, op: Pending) -> Fate {
    match (op, rng.below(3)) {
        (_, 0) => Fate::Lost,
        (Pending::Write { len }, 1) => {
            let sector_bytes = rng.pick(&SECTOR_BYTES);
            let count = len.div_ceil(sector_bytes);
            Fate::Torn {
                sector_bytes,
                sectors: (0..count).map(|_| rng.chance(1, 2)).collect(),
            }
        }
        _ => Fate::Kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes(count: usize) -> Vec<Pending> {
        vec![Pending::Write { len: 8192 }; count]
    }

    #[test]
    fn a_prefix_keeps_the_first_writes_tears_at_most_the_next_and_loses_the_rest() {
        let mut seen_torn = false;
        for seed in 0..500 {
            let (pattern, fates) = choose(&mut Rng::new(seed), &writes(5));
            if pattern != Pattern::Prefix {
                continue;
            }
            let kept = fates.iter().take_while(|f| **f == Fate::Kept).count();
            let mut rest = fates[kept..].iter();
            if let Some(Fate::Torn { sectors, .. }) = fates.get(kept) {
                rest.next();
                let first_lost = sectors.iter().position(|kept| !kept).expect("some lost");
                assert!(first_lost > 0, "a torn write keeps at least one sector");
                assert!(
                    sectors[first_lost..].iter().all(|kept| !kept),
                    "{sectors:?}"
                );
                seen_torn = true;
            }
            assert!(rest.all(|f| *f == Fate::Lost), "seed {seed}: {fates:?}");
        }
        assert!(seen_torn, "some prefix tears a write");
    }

    #[test]
    fn every_pattern_occurs_and_size_changes_are_never_torn() {
        let pending = [
            Pending::Resize,
            Pending::Write { len: 4096 },
            Pending::Resize,
        ];
        let mut seen = [false; 4];
        for seed in 0..200 {
            let (pattern, fates) = choose(&mut Rng::new(seed), &pending);
            assert_eq!(fates.len(), pending.len());
            seen[Pattern::ALL.iter().position(|p| *p == pattern).unwrap()] = true;
            for (op, fate) in pending.iter().zip(&fates) {
                if *op == Pending::Resize {
                    assert!(!matches!(fate, Fate::Torn { .. }), "seed {seed}: {fates:?}");
                }
            }
        }
        assert_eq!(seen, [true; 4]);
    }
}
