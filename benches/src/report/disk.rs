//! The disk's own figures of the run (`disk.json` of `ringbench disk`) and the engine's
//! ratio to them: which disk case an engine case is compared against is decided here
//! ([`DiskFigures::matching`], by [`DiskCase::matching`]); `summary.rs` prints it.

use super::fio::Direction;
use super::fmt::{bytes, ratio};
use crate::disk::{CATEGORY, DiskCase, Op, Space};
use crate::results::{RunResult, ScenarioResult};

/// The disk's cases of one run, with the engine's write size and depth they were made for.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskFigures {
    /// Every case with its figures, in the order run.
    pub cases: Vec<(DiskCase, ScenarioResult)>,
    /// The engine's write chunk bytes and writes in flight (`DiskInfo`).
    pub engine: (u64, u64),
}

/// An engine figure set against the disk's matching one.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskRatio {
    /// The disk case it was compared against.
    pub case: DiskCase,
    /// Engine payload MB/s over the disk case's MB/s.
    pub throughput: f64,
    /// Engine p99 over the disk case's p99, for `sync` cases with latency: how many times
    /// the disk's write + fdatasync p99 the engine's is.
    pub p99: Option<f64>,
}

impl DiskRatio {
    /// `0.45x of write 256 KiB QD8, fallocated`, and the p99 ratio when there is one.
    pub fn text(&self) -> String {
        let p99 = self
            .p99
            .map_or(String::new(), |p99| format!("; p99 {} its p99", ratio(p99)));
        format!("{} of {}{p99}", ratio(self.throughput), self.case.label())
    }
}

/// The disk's time for the bytes a compaction reads and writes ([`DiskFigures::compaction_floor`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CompactionFloor {
    /// Seconds: input at the read case's rate plus output at the write case's.
    pub seconds: f64,
    /// The read case used (the fastest sequential read).
    pub read: DiskCase,
    /// The write case used (the fastest sequential write into fallocated blocks).
    pub write: DiskCase,
}

/// Whether a scenario writes or reads, from its name.
pub fn io_direction(s: &ScenarioResult) -> Option<Direction> {
    let name = s.name.as_str();
    if ["produce", "write", "rollover"]
        .iter()
        .any(|w| name.contains(w))
    {
        Some(Direction::Write)
    } else if ["fetch", "read", "consum"].iter().any(|w| name.contains(w)) {
        Some(Direction::Read)
    } else {
        None
    }
}

/// Bytes one append of a scenario writes when its durability makes it write at once: the
/// record size times the records per append (`batch`, else 1).
pub fn append_bytes(s: &ScenarioResult) -> Option<u64> {
    let size = *s.params.get("size")?;
    Some(size * s.params.get("batch").copied().unwrap_or(1).max(1))
}

/// The space an engine scenario's writes meet: written blocks when its log runs under
/// retention and keeps spare segment files (`retention_bytes` and `spare_segments` > 0 in its
/// params, as `ringbench produce --retention-bytes` records them), fallocated ones otherwise.
pub fn written_space(s: &ScenarioResult) -> Space {
    let reuses = s.params.contains_key("retention_bytes")
        && s.params.get("spare_segments").is_some_and(|&n| n > 0);
    if reuses {
        Space::Overwrite
    } else {
        crate::disk::ENGINE_SPACE
    }
}

/// Appends in flight at once in a scenario: producers (threads) times `in_flight` per
/// producer.
fn appends_in_flight(s: &ScenarioResult) -> u64 {
    u64::from(s.threads.max(1)) * s.params.get("in_flight").copied().unwrap_or(1).max(1)
}

impl DiskFigures {
    /// The figures of a `ringbench disk` result.
    ///
    /// # Errors
    /// A message when the result is not one of `ringbench disk` (no `disk` description or no
    /// disk case).
    pub fn of(result: &RunResult) -> Result<DiskFigures, String> {
        let info = result
            .disk
            .as_ref()
            .ok_or("no `disk` description: not written by `ringbench disk`")?;
        let cases: Vec<(DiskCase, ScenarioResult)> = result
            .scenarios
            .iter()
            .filter(|s| s.category == CATEGORY)
            .filter_map(|s| Some((DiskCase::of(s)?, s.clone())))
            .collect();
        if cases.is_empty() {
            return Err("no disk case in it".to_string());
        }
        Ok(DiskFigures {
            cases,
            engine: (info.engine_write_bytes, info.engine_writes_in_flight),
        })
    }

    /// The figures of `case`, when measured.
    pub fn get(&self, case: &DiskCase) -> Option<&ScenarioResult> {
        self.cases.iter().find(|(c, _)| c == case).map(|(_, s)| s)
    }

    /// The disk case an engine scenario is compared against: for writes (by name) with a
    /// durability, [`DiskCase::matching`] of its durability, append bytes and appends in
    /// flight; for reads, the fastest read (the disk's sequential read limit).
    pub fn matching(&self, s: &ScenarioResult) -> Option<DiskCase> {
        let available: Vec<DiskCase> = self.cases.iter().map(|(c, _)| *c).collect();
        match io_direction(s)? {
            Direction::Write => DiskCase::matching_in(
                written_space(s),
                s.durability.as_deref()?,
                append_bytes(s).unwrap_or(self.engine.0),
                appends_in_flight(s),
                self.engine,
                &available,
            ),
            Direction::Read => self
                .cases
                .iter()
                .filter(|(c, _)| c.op == Op::Read)
                .max_by(|a, b| a.1.payload_mb_s.total_cmp(&b.1.payload_mb_s))
                .map(|(c, _)| *c),
        }
    }

    /// A write scenario's ratio to its matching disk case: payload MB/s, and p99 for `sync`
    /// cases; `None` for reads and cases without a match.
    pub fn write_ratio(&self, s: &ScenarioResult) -> Option<DiskRatio> {
        if io_direction(s)? != Direction::Write {
            return None;
        }
        let case = self.matching(s)?;
        let disk = self.get(&case)?;
        if disk.payload_mb_s <= 0.0 {
            return None;
        }
        let p99 = match (case.op, s.latency, disk.latency) {
            (Op::WriteFdatasync, Some(engine), Some(disk)) if disk.p99_us > 0.0 => {
                Some(engine.p99_us / disk.p99_us)
            }
            _ => None,
        };
        Some(DiskRatio {
            case,
            throughput: s.payload_mb_s / disk.payload_mb_s,
            p99,
        })
    }

    /// The p99 of the disk's write + fdatasync of the smallest size holding `request_bytes`
    /// (else the largest), in [`crate::disk::ENGINE_SPACE`]: the floor under a durable
    /// append's p99.
    pub fn sync_p99(&self, request_bytes: u64) -> Option<(DiskCase, f64)> {
        let case = self.matching_sync(request_bytes)?;
        Some((case, self.get(&case)?.latency?.p99_us))
    }

    fn matching_sync(&self, request_bytes: u64) -> Option<DiskCase> {
        let available: Vec<DiskCase> = self.cases.iter().map(|(c, _)| *c).collect();
        DiskCase::matching("sync", request_bytes, 1, self.engine, &available)
    }

    /// How much faster overwriting written blocks is than writing fallocated ones, per
    /// operation, request size and depth: (fallocated case, overwrite MB/s / fallocated MB/s).
    pub fn overwrite_speedups(&self) -> Vec<(DiskCase, f64)> {
        self.cases
            .iter()
            .filter(|(c, _)| c.space == Some(crate::disk::Space::Fallocated))
            .filter_map(|(c, fallocated)| {
                let over = self.get(&DiskCase {
                    space: Some(crate::disk::Space::Overwrite),
                    ..*c
                })?;
                (fallocated.payload_mb_s > 0.0)
                    .then(|| (*c, over.payload_mb_s / fallocated.payload_mb_s))
            })
            .collect()
    }

    /// The disk's own time for a compaction's I/O: reading `mb_before` at its fastest
    /// sequential read and writing `mb_after` at its fastest sequential write into fallocated
    /// blocks (a cleaned segment is a new file), whatever the request size and depth: the
    /// floor under any compaction of those bytes. Seconds, with the two cases used; `None`
    /// without both figures.
    pub fn compaction_floor(&self, mb_before: f64, mb_after: f64) -> Option<CompactionFloor> {
        let fastest = |op: Op, space: Option<Space>| {
            self.cases
                .iter()
                .filter(|(c, s)| c.op == op && c.space == space && s.payload_mb_s > 0.0)
                .max_by(|a, b| a.1.payload_mb_s.total_cmp(&b.1.payload_mb_s))
        };
        let (read, read_figures) = fastest(Op::Read, None)?;
        let (write, write_figures) = fastest(Op::Write, Some(Space::Fallocated))?;
        Some(CompactionFloor {
            seconds: mb_before / read_figures.payload_mb_s + mb_after / write_figures.payload_mb_s,
            read: *read,
            write: *write,
        })
    }

    /// The engine's request size and depth, as a reader reads them.
    pub fn engine_text(&self) -> String {
        format!(
            "{} chunks, {} in flight",
            bytes(self.engine.0),
            self.engine.1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::{Space, plan};
    use crate::results::{DiskInfo, Latency};
    use std::collections::BTreeMap;

    const KIB: u64 = 1024;

    fn latency(p99_us: f64) -> Latency {
        Latency {
            p50_us: p99_us / 2.0,
            p90_us: p99_us,
            p99_us,
            p999_us: p99_us,
            max_us: p99_us,
            mean_us: p99_us / 2.0,
            p75_us: None,
            p95_us: None,
            p995_us: None,
            p9999_us: None,
        }
    }

    /// Disk figures where a case's MB/s is its request KiB (+1000 for overwrite) and the
    /// write + fdatasync p99 is 200 us.
    fn figures() -> DiskFigures {
        let cases = plan(256 * KIB, 8)
            .into_iter()
            .map(|c| {
                let bonus = if c.space == Some(Space::Overwrite) {
                    1000.0
                } else {
                    0.0
                };
                let s = ScenarioResult {
                    name: c.name().to_string(),
                    category: CATEGORY.to_string(),
                    params: c.params(),
                    payload_mb_s: (c.request_bytes / KIB) as f64 + bonus,
                    latency: Some(latency(200.0)),
                    ..crate::results::tests::scenario()
                };
                (c, s)
            })
            .collect();
        DiskFigures {
            cases,
            engine: (256 * KIB, 8),
        }
    }

    fn engine(name: &str, durability: &str, params: &[(&str, u64)], mb_s: f64) -> ScenarioResult {
        ScenarioResult {
            name: name.to_string(),
            durability: Some(durability.to_string()),
            params: params
                .iter()
                .map(|&(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
            payload_mb_s: mb_s,
            ..crate::results::tests::scenario()
        }
    }

    #[test]
    fn none_appends_are_set_against_the_engines_chunk_and_depth() {
        let f = figures();
        let s = engine("write_throughput", "none", &[("size", 1024)], 128.0);
        let r = f.write_ratio(&s).expect("a ratio");
        assert_eq!(r.text(), "0.50x of write 256 KiB QD8, fallocated");
    }

    #[test]
    fn sync_appends_carry_their_p99_against_the_disks_write_and_fdatasync() {
        let f = figures();
        let mut s = engine("produce_latency", "sync", &[("size", 1024)], 2.0);
        s.latency = Some(latency(600.0));
        let r = f.write_ratio(&s).expect("a ratio");
        assert_eq!(r.case.op, Op::WriteFdatasync);
        assert_eq!(r.case.request_bytes, 4 * KIB);
        assert_eq!(r.p99, Some(3.0));
        assert_eq!(
            r.text(),
            "0.50x of write+fdatasync 4 KiB QD1, fallocated; p99 3.00x its p99"
        );
        assert_eq!(f.sync_p99(1024).map(|(_, p)| p), Some(200.0));
    }

    #[test]
    fn write_appends_use_their_batch_bytes_and_depth() {
        let f = figures();
        let s = engine(
            "sustained_produce",
            "write",
            &[("size", 1024), ("batch", 100), ("in_flight", 8)],
            64.0,
        );
        let r = f.write_ratio(&s).expect("a ratio");
        assert_eq!(r.case.label(), "write 128 KiB QD8, fallocated");
        assert!((r.throughput - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_log_that_reuses_segment_files_is_set_against_overwrites() {
        let f = figures();
        let mut s = engine(
            "sustained_produce_retention",
            "none",
            &[("size", 1024), ("batch", 100), ("retention_bytes", 1 << 29)],
            128.0,
        );
        s.params.insert("spare_segments".to_string(), 2);
        let r = f.write_ratio(&s).expect("a ratio");
        assert_eq!(r.case.label(), "write 256 KiB QD8, overwrite");
        s.params.insert("spare_segments".to_string(), 0);
        let r = f.write_ratio(&s).expect("a ratio");
        assert_eq!(
            r.case.label(),
            "write 256 KiB QD8, fallocated",
            "no spares: every segment is a new file"
        );
    }

    #[test]
    fn reads_and_unknown_cases_have_no_write_ratio() {
        let f = figures();
        let mut read = engine("sequential_fetch", "none", &[("size", 1024)], 100.0);
        read.durability = None;
        assert_eq!(f.write_ratio(&read), None);
        let limit = f.matching(&read).expect("the read limit");
        assert_eq!((limit.op, limit.request_bytes), (Op::Read, 1024 * KIB));
        let compaction = engine("compaction", "none", &[("size", 1024)], 100.0);
        assert_eq!(f.write_ratio(&compaction), None);
    }

    #[test]
    fn overwrite_speedups_pair_each_fallocated_case() {
        let speedups = figures().overwrite_speedups();
        assert_eq!(speedups.len(), 3 * 2 + 2);
        let (case, x) = speedups[0];
        assert_eq!(case.label(), "write 128 KiB QD8, fallocated");
        assert!((x - 1128.0 / 128.0).abs() < 1e-9);
    }

    #[test]
    fn a_result_without_a_disk_description_is_refused() {
        let mut result = RunResult {
            schema: crate::results::SCHEMA_VERSION,
            environment: crate::results::tests::environment(),
            scenarios: vec![],
            peers: None,
            disk: None,
        };
        assert!(DiskFigures::of(&result).is_err());
        result.disk = Some(DiskInfo {
            engine_write_bytes: 256 * KIB,
            engine_writes_in_flight: 8,
            file_bytes: 1 << 30,
            case_duration_s: 2.0,
            alignment_bytes: 4096,
        });
        assert_eq!(
            DiskFigures::of(&result).map(|_| ()),
            Err("no disk case in it".to_string())
        );
    }
}
