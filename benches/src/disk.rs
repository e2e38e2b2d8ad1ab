//! The cases of `ringbench disk`: the disk's own limits, measured through the same
//! `ringlog_sys` ring and O_DIRECT files the engine uses, at the engine's request sizes and
//! queue depths, with no engine logic. `ringbench disk` runs them; the report reads them back
//! from `disk.json` with [`DiskCase::of`] and sets every write figure of the engine against
//! the matching one ([`DiskCase::matching`]).
//!
//! Each case is one [`ScenarioResult`] of category [`CATEGORY`]: its name says the operation
//! and the kind of space written (`disk_write_fallocated`, `disk_write_overwrite`,
//! `disk_read`, `disk_write_fdatasync_fallocated`, `disk_write_fdatasync_overwrite`), its
//! params the request size and queue depth.

use std::collections::BTreeMap;

use crate::report::fmt::bytes as fmt_bytes;
use crate::results::ScenarioResult;

/// Name of the result file in a results directory.
pub const DISK_FILE: &str = "disk.json";
/// Category of every disk case.
pub const CATEGORY: &str = "disk";
/// The `engine` field of every disk case: the bare ring, no engine.
pub const ENGINE: &str = "ringlog_sys ring";
/// The I/O path of every disk case.
pub const IO_PATH: &str = "io_uring+O_DIRECT";
/// Request sizes measured besides the engine's own write chunk: the sizes the engine's
/// writes could grow to (issue 13, item 5) and the 128 KiB of a `sync` append of 100 x 1 KiB.
pub const EXTRA_REQUEST_BYTES: [u64; 3] = [128 * 1024, 256 * 1024, 1024 * 1024];
/// Queue depth of the read cases besides 1: a sequential consumer's read-ahead.
pub const READ_QUEUE_DEPTH: u64 = 4;
/// Request sizes of the write + fdatasync cases (queue depth 1): one small durable append,
/// and one of 100 records of 1 KiB.
pub const SYNC_REQUEST_BYTES: [u64; 2] = [4 * 1024, 128 * 1024];
/// The space the engine writes into: segment files are preallocated with `fallocate`
/// (`Config::preallocate_bytes`) and written once, so its writes meet fallocated, unwritten
/// blocks. Engine figures are compared against the disk's case of this space.
pub const ENGINE_SPACE: Space = Space::Fallocated;

/// What a case does, one request after the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Sequential direct writes, up to the queue depth in flight.
    Write,
    /// Sequential direct reads of written blocks.
    Read,
    /// A direct write, then an `fdatasync`, one pair at a time.
    WriteFdatasync,
}

/// The state of the blocks a write meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Space {
    /// Allocated with `fallocate` and never written: ext4 and XFS convert each extent from
    /// unwritten to written at completion, which costs metadata work.
    Fallocated,
    /// Written before: an overwrite in place, no extent conversion.
    Overwrite,
}

impl Space {
    /// `fallocated` or `overwrite`.
    pub fn name(self) -> &'static str {
        match self {
            Space::Fallocated => "fallocated",
            Space::Overwrite => "overwrite",
        }
    }
}

/// One case of `ringbench disk`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DiskCase {
    /// What it does.
    pub op: Op,
    /// The blocks its writes meet; `None` for reads.
    pub space: Option<Space>,
    /// Bytes of each request.
    pub request_bytes: u64,
    /// Requests in flight at once.
    pub queue_depth: u64,
}

impl DiskCase {
    /// The scenario name of the case.
    pub fn name(&self) -> &'static str {
        match (self.op, self.space) {
            (Op::Read, _) => "disk_read",
            (Op::Write, Some(Space::Overwrite)) => "disk_write_overwrite",
            (Op::Write, _) => "disk_write_fallocated",
            (Op::WriteFdatasync, Some(Space::Overwrite)) => "disk_write_fdatasync_overwrite",
            (Op::WriteFdatasync, _) => "disk_write_fdatasync_fallocated",
        }
    }

    /// The scenario params of the case: `request_bytes` and `queue_depth`.
    pub fn params(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([
            ("request_bytes".to_string(), self.request_bytes),
            ("queue_depth".to_string(), self.queue_depth),
        ])
    }

    /// The durability a write of this case has when it completes, as the engine names it:
    /// `write` (the direct write completed), `sync` (and the `fdatasync` after it); `None`
    /// for reads.
    pub fn durability(&self) -> Option<&'static str> {
        match self.op {
            Op::Write => Some("write"),
            Op::WriteFdatasync => Some("sync"),
            Op::Read => None,
        }
    }

    /// The case a disk scenario result describes; `None` for anything else.
    pub fn of(s: &ScenarioResult) -> Option<DiskCase> {
        let (op, space) = match s.name.as_str() {
            "disk_read" => (Op::Read, None),
            "disk_write_fallocated" => (Op::Write, Some(Space::Fallocated)),
            "disk_write_overwrite" => (Op::Write, Some(Space::Overwrite)),
            "disk_write_fdatasync_fallocated" => (Op::WriteFdatasync, Some(Space::Fallocated)),
            "disk_write_fdatasync_overwrite" => (Op::WriteFdatasync, Some(Space::Overwrite)),
            _ => return None,
        };
        Some(DiskCase {
            op,
            space,
            request_bytes: *s.params.get("request_bytes")?,
            queue_depth: *s.params.get("queue_depth")?,
        })
    }

    /// How a reader names the case: `write 256 KiB QD8, fallocated`.
    pub fn label(&self) -> String {
        let op = match self.op {
            Op::Write => "write",
            Op::Read => "read",
            Op::WriteFdatasync => "write+fdatasync",
        };
        let space = self
            .space
            .map_or(String::new(), |s| format!(", {}", s.name()));
        format!(
            "{op} {} QD{}{space}",
            fmt_bytes(self.request_bytes),
            self.queue_depth
        )
    }

    /// The disk case an engine write is compared against, among `available`:
    ///
    /// - `none`: the engine writes whole chunks, up to its depth in flight: a write of
    ///   `engine_write_bytes` at `engine_queue_depth`;
    /// - `write`: each append's bytes (`request_bytes`) are written before it returns: a
    ///   write of the smallest measured size holding them (else the largest), at depth 1 when
    ///   one append is in flight (`in_flight == 1`), else at the engine's depth;
    /// - `sync`: the same write followed by an `fdatasync`, at depth 1 (one sync at a time).
    ///
    /// Always in [`ENGINE_SPACE`]. `None` when no such case was measured.
    pub fn matching(
        durability: &str,
        request_bytes: u64,
        in_flight: u64,
        engine: (u64, u64),
        available: &[DiskCase],
    ) -> Option<DiskCase> {
        DiskCase::matching_in(
            ENGINE_SPACE,
            durability,
            request_bytes,
            in_flight,
            engine,
            available,
        )
    }

    /// [`DiskCase::matching`] in `space`: [`Space::Overwrite`] for an engine case whose
    /// segments are written over retired files (a log under retention that keeps spare
    /// segment files).
    pub fn matching_in(
        space: Space,
        durability: &str,
        request_bytes: u64,
        in_flight: u64,
        (engine_write_bytes, engine_queue_depth): (u64, u64),
        available: &[DiskCase],
    ) -> Option<DiskCase> {
        let (op, size, depth) = match durability {
            "none" => (Op::Write, Some(engine_write_bytes), engine_queue_depth),
            "write" => (
                Op::Write,
                None,
                if in_flight <= 1 {
                    1
                } else {
                    engine_queue_depth
                },
            ),
            "sync" => (Op::WriteFdatasync, None, 1),
            _ => return None,
        };
        let candidates: Vec<&DiskCase> = available
            .iter()
            .filter(|c| c.op == op && c.space == Some(space) && c.queue_depth == depth)
            .collect();
        if let Some(size) = size {
            return candidates
                .into_iter()
                .find(|c| c.request_bytes == size)
                .copied();
        }
        candidates
            .iter()
            .filter(|c| c.request_bytes >= request_bytes)
            .min_by_key(|c| c.request_bytes)
            .or_else(|| candidates.iter().max_by_key(|c| c.request_bytes))
            .map(|c| **c)
    }
}

/// Every case of a run for an engine writing `engine_write_bytes` at `engine_queue_depth`, in
/// the order run: writes (each size at the engine's depth, then at depth 1; fallocated, then
/// overwrite), reads (depth 1, then [`READ_QUEUE_DEPTH`]), then write + fdatasync.
pub fn plan(engine_write_bytes: u64, engine_queue_depth: u64) -> Vec<DiskCase> {
    let mut sizes = vec![engine_write_bytes];
    for size in EXTRA_REQUEST_BYTES {
        if !sizes.contains(&size) {
            sizes.push(size);
        }
    }
    sizes.sort_unstable();
    let mut depths = vec![engine_queue_depth];
    if engine_queue_depth != 1 {
        depths.push(1);
    }
    let mut cases = Vec::new();
    for &size in &sizes {
        for &depth in &depths {
            for space in [Space::Fallocated, Space::Overwrite] {
                cases.push(DiskCase {
                    op: Op::Write,
                    space: Some(space),
                    request_bytes: size,
                    queue_depth: depth,
                });
            }
        }
    }
    for &size in &sizes {
        for depth in [1, READ_QUEUE_DEPTH] {
            cases.push(DiskCase {
                op: Op::Read,
                space: None,
                request_bytes: size,
                queue_depth: depth,
            });
        }
    }
    for size in SYNC_REQUEST_BYTES {
        for space in [Space::Fallocated, Space::Overwrite] {
            cases.push(DiskCase {
                op: Op::WriteFdatasync,
                space: Some(space),
                request_bytes: size,
                queue_depth: 1,
            });
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;

    #[test]
    fn the_plan_covers_the_engines_size_and_depth_once() {
        let cases = plan(256 * KIB, 8);
        let writes: Vec<_> = cases.iter().filter(|c| c.op == Op::Write).collect();
        // 128 KiB, 256 KiB (the engine's, not repeated), 1 MiB; QD 8 and 1; two spaces.
        assert_eq!(writes.len(), 3 * 2 * 2);
        assert_eq!(cases.iter().filter(|c| c.op == Op::Read).count(), 3 * 2);
        assert_eq!(
            cases.iter().filter(|c| c.op == Op::WriteFdatasync).count(),
            4
        );
        let mut unique = cases.clone();
        unique.sort_by_key(|c| (c.name(), c.request_bytes, c.queue_depth));
        unique.dedup();
        assert_eq!(unique.len(), cases.len());
        // An engine of another chunk size gets its own size measured too.
        assert!(
            plan(512 * KIB, 4)
                .iter()
                .any(|c| c.request_bytes == 512 * KIB && c.queue_depth == 4)
        );
    }

    #[test]
    fn names_and_params_round_trip() {
        for case in plan(256 * KIB, 8) {
            let s = ScenarioResult {
                name: case.name().to_string(),
                params: case.params(),
                ..crate::results::tests::scenario()
            };
            assert_eq!(DiskCase::of(&s), Some(case));
        }
        assert_eq!(
            plan(256 * KIB, 8)[0].label(),
            "write 128 KiB QD8, fallocated"
        );
    }

    #[test]
    fn engine_writes_match_the_disk_case_of_their_size_and_depth() {
        let cases = plan(256 * KIB, 8);
        let engine = (256 * KIB, 8);
        let m = |d: &str, bytes: u64, in_flight: u64| {
            DiskCase::matching(d, bytes, in_flight, engine, &cases).map(|c| c.label())
        };
        assert_eq!(
            m("none", 1024, 1).as_deref(),
            Some("write 256 KiB QD8, fallocated")
        );
        assert_eq!(
            m("write", 100 * KIB, 1).as_deref(),
            Some("write 128 KiB QD1, fallocated")
        );
        assert_eq!(
            m("write", 100 * KIB, 8).as_deref(),
            Some("write 128 KiB QD8, fallocated")
        );
        // Larger than every size: the largest.
        assert_eq!(
            m("write", 4096 * KIB, 1).as_deref(),
            Some("write 1 MiB QD1, fallocated")
        );
        assert_eq!(
            m("sync", KIB, 1).as_deref(),
            Some("write+fdatasync 4 KiB QD1, fallocated")
        );
        assert_eq!(
            m("sync", 100 * KIB, 8).as_deref(),
            Some("write+fdatasync 128 KiB QD1, fallocated")
        );
        assert_eq!(m("bogus", KIB, 1), None);
        assert_eq!(DiskCase::matching("none", KIB, 1, engine, &[]), None);
    }
}
