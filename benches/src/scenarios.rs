//! The scenario grids, shared by the Divan benches (`benches/log.rs`, `benches/topic.rs`) and
//! `ringbench suite`: each scenario's name, its parameter lists, and their trimmed variants.
//!
//! A grid function takes a [`Profile`]. The Divan benches pass [`Profile::divan`] (quick with
//! `RINGLOG_BENCH_QUICK=1`, else full); `ringbench suite` passes the profile it was asked for.
//! [`Profile::Smoke`] is ringbench's alone: one tiny 1 KiB case per scenario (two for
//! durability and thread-count axes, so that sync and scaling figures exist), for CI.

use std::fmt;

use ringlog::Durability;

use crate::SIZES;
use crate::fixtures::{Case, cases, cross};

/// How much of every grid runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// One tiny case per scenario: the whole ringbench suite in seconds (CI).
    Smoke,
    /// Trimmed grids (largest values dropped, 1 KiB kept).
    Quick,
    /// The full grids.
    Full,
}

impl Profile {
    /// The profile of the Divan benches: [`Profile::Quick`] when `RINGLOG_BENCH_QUICK` is set,
    /// else [`Profile::Full`].
    pub fn divan() -> Profile {
        if crate::is_quick() {
            Profile::Quick
        } else {
            Profile::Full
        }
    }

    /// "smoke", "quick" or "full".
    pub fn name(self) -> &'static str {
        match self {
            Profile::Smoke => "smoke",
            Profile::Quick => "quick",
            Profile::Full => "full",
        }
    }

    /// The list for this profile.
    pub fn pick<T: Clone>(self, full: &[T], quick: &[T], smoke: &[T]) -> Vec<T> {
        match self {
            Profile::Smoke => smoke.to_vec(),
            Profile::Quick => quick.to_vec(),
            Profile::Full => full.to_vec(),
        }
    }
}

/// The partition-log scenarios (`benches/log.rs`).
pub mod log {
    use super::{Case, Durability, Profile, SIZES, cases, cross};

    /// Messages per iteration (writes) or in the log (reads).
    pub const MESSAGES: [usize; 3] = [100, 1_000, 10_000];
    /// Records in the log of `random_fetch`.
    pub const RANDOM_MESSAGES: [usize; 3] = [1_000, 10_000, 100_000];
    /// Records per append of `batch_write_throughput`.
    pub const BATCHES: [usize; 3] = [10, 100, 1_000];
    /// Records per fetch of `sequential_fetch`.
    pub const FETCH_RECORDS: [usize; 3] = [1, 10, 100];
    /// Producer and consumer threads.
    pub const THREADS: [usize; 4] = [1, 2, 4, 8];
    /// Sizes of the concurrent benches.
    pub const SMALL_SIZES: [usize; 2] = [100, 1024];
    /// Appends per iteration of `concurrent_producers` with durability sync, split across the
    /// producers.
    pub const PRODUCER_APPENDS_SYNC: usize = 64;
    /// The same with durability none.
    pub const PRODUCER_APPENDS_NONE: usize = 8_192;
    /// Records of the log `concurrent_consumers` reads.
    pub const CONSUMER_MESSAGES: usize = 50_000;
    /// Records per fetch of `concurrent_consumers`.
    pub const CONSUMER_FETCH_RECORDS: usize = 100;
    /// Sealed segments of `compaction`.
    pub const SEGMENTS: [usize; 3] = [10, 50, 100];
    /// Size of one segment of `compaction`.
    pub const COMPACTION_SEGMENT_BYTES: u64 = 256 * 1024;
    /// Percent of records of `compaction` superseded by a later record with the same key.
    pub const DUPLICATE_PERCENT: [usize; 3] = [30, 50, 70];
    /// Sealed 1 MiB segments of ringbench's target compaction case: about 100 MB (the target
    /// "compaction of 100 MB < 100 ms"). 1 MiB rather than 256 KiB segments, because building
    /// the log (untimed) pays a sealing `fdatasync` per segment.
    pub const TARGET_COMPACTION_SEGMENTS: usize = 100;
    /// Size of one segment of the target compaction case.
    pub const TARGET_COMPACTION_SEGMENT_BYTES: u64 = 1024 * 1024;
    /// Label of the target case's segment count (the segment size differs from the grid's).
    pub const TARGET_COMPACTION_LABEL: &str = "segments_1mib";
    /// Record size of `mixed_workload` and `segment_rollover`.
    pub const KIB: usize = 1024;
    /// How far the consumer of `mixed_workload` trails the producer, in records.
    pub const MIXED_LAG: usize = 10_000;
    /// Segment sizes of `segment_rollover`, in MiB.
    pub const SEGMENT_MIB: [usize; 3] = [1, 10, 100];
    /// Seed of the random offsets and keys (the same every run).
    pub const SEED: u64 = 0x5EED_0F10_6500;
    /// Largest batch accepted by `batch_write_throughput` (1000 x 10 KiB plus overhead).
    pub const BIG_BATCH_BYTES: usize = 16 * 1024 * 1024;

    const NONE: Option<Durability> = Some(Durability::None);
    const SYNC: Option<Durability> = Some(Durability::Sync);

    fn sizes(profile: Profile) -> Vec<usize> {
        profile.pick(&SIZES, &[100, 1024], &[1024])
    }

    /// `write_throughput`: messages x size, durability none.
    pub fn write_throughput(profile: Profile) -> Vec<Case> {
        let messages = profile.pick(&MESSAGES, &[100, 1_000], &[1_000]);
        cases(Case::engine, &[NONE], &messages, &sizes(profile))
    }

    /// `batch_write_throughput`: size x batch, durability none.
    pub fn batch_write_throughput(profile: Profile) -> Vec<Case> {
        let base = cases(Case::engine, &[NONE], &[0], &sizes(profile));
        cross(&base, "batch", &profile.pick(&BATCHES, &[10, 100], &[100]))
    }

    /// `produce_latency`: durability none and sync x size.
    pub fn produce_latency(profile: Profile) -> Vec<Case> {
        cases(Case::engine, &[NONE, SYNC], &[0], &sizes(profile))
    }

    /// `concurrent_producers`: durability sync and none x size x producers.
    pub fn concurrent_producers(profile: Profile) -> Vec<Case> {
        let sizes = profile.pick(&SMALL_SIZES, &[1024], &[1024]);
        let threads = profile.pick(&THREADS, &[1, 2, 4], &[1, 2]);
        let mut out = cross(
            &cases(Case::engine, &[SYNC], &[PRODUCER_APPENDS_SYNC], &sizes),
            "producers",
            &threads,
        );
        out.extend(cross(
            &cases(Case::engine, &[NONE], &[PRODUCER_APPENDS_NONE], &sizes),
            "producers",
            &threads,
        ));
        out
    }

    /// `segment_rollover`: segment size in MiB, 1 KiB records, durability none.
    pub fn segment_rollover(profile: Profile) -> Vec<Case> {
        profile
            .pick(&SEGMENT_MIB, &[1, 10], &[1])
            .into_iter()
            .map(|mib| Case::engine(NONE, 0, KIB).with("segment_mib", mib))
            .collect()
    }

    /// `read_throughput`: messages x size.
    pub fn read_throughput(profile: Profile) -> Vec<Case> {
        let messages = profile.pick(&MESSAGES, &[1_000, 10_000], &[1_000]);
        cases(Case::engine, &[None], &messages, &sizes(profile))
    }

    /// `sequential_fetch`: messages x size x records per fetch.
    pub fn sequential_fetch(profile: Profile) -> Vec<Case> {
        let messages = profile.pick(&MESSAGES, &[1_000], &[1_000]);
        let base = cases(Case::engine, &[None], &messages, &sizes(profile));
        cross(
            &base,
            "fetch",
            &profile.pick(&FETCH_RECORDS, &FETCH_RECORDS, &[10]),
        )
    }

    /// Records in the log `sequential_fetch_cold` reads: 1 GiB of 1 KiB records in `--full`,
    /// 256 MiB in the quick profile (more than a 256 MiB cache holds, and long enough to
    /// measure a cold read), a few MiB in smoke.
    pub const COLD_MESSAGES: [usize; 3] = [1 << 20, 1 << 18, 4_000];
    /// Records per batch of the log `sequential_fetch_cold` reads, as a producer batches them.
    pub const COLD_BATCH_RECORDS: usize = 100;
    /// Passes of `sequential_fetch_cold` (each from a fresh open), for the spread.
    pub const COLD_PASSES: usize = 3;

    /// `sequential_fetch_cold` (ringbench only: a pass needs a fresh open and an emptied page
    /// cache, which a Divan iteration cannot time apart): messages x size 1 KiB, batches of
    /// [`COLD_BATCH_RECORDS`].
    pub fn sequential_fetch_cold(profile: Profile) -> Vec<Case> {
        let messages = profile.pick(
            &COLD_MESSAGES[..1],
            &COLD_MESSAGES[1..2],
            &COLD_MESSAGES[2..],
        );
        cross(
            &cases(Case::engine, &[None], &messages, &[1024]),
            "batch",
            &[COLD_BATCH_RECORDS],
        )
    }

    /// `random_fetch`: messages x size.
    pub fn random_fetch(profile: Profile) -> Vec<Case> {
        let messages = profile.pick(&RANDOM_MESSAGES, &[1_000, 10_000], &[1_000]);
        cases(Case::engine, &[None], &messages, &sizes(profile))
    }

    /// `fetch_latency`: size (appends with durability none).
    pub fn fetch_latency(profile: Profile) -> Vec<Case> {
        cases(Case::engine, &[NONE], &[0], &sizes(profile))
    }

    /// `concurrent_consumers`: messages x size x consumers.
    pub fn concurrent_consumers(profile: Profile) -> Vec<Case> {
        let messages = profile.pick(&[CONSUMER_MESSAGES], &[CONSUMER_MESSAGES], &[10_000]);
        let sizes = profile.pick(&SMALL_SIZES, &[1024], &[1024]);
        let threads = profile.pick(&THREADS, &[1, 2, 4], &[1, 2]);
        cross(
            &cases(Case::engine, &[None], &messages, &sizes),
            "consumers",
            &threads,
        )
    }

    /// `compaction`: segments x size x duplicate percent.
    pub fn compaction(profile: Profile) -> Vec<Case> {
        let mut out = Vec::new();
        for &segments in &profile.pick(&SEGMENTS, &[10], &[8]) {
            for &size in &profile.pick(&SMALL_SIZES, &[100, 1024], &[1024]) {
                for &dup in &profile.pick(&DUPLICATE_PERCENT, &[30, 70], &[50]) {
                    out.push(
                        Case::engine(NONE, 0, size)
                            .with("segments", segments)
                            .with("dup_percent", dup),
                    );
                }
            }
        }
        out
    }

    /// Segment size of a compaction case: [`TARGET_COMPACTION_SEGMENT_BYTES`] for the target
    /// case, else [`COMPACTION_SEGMENT_BYTES`].
    pub fn compaction_segment_bytes(case: &Case) -> u64 {
        match case.extra {
            Some((TARGET_COMPACTION_LABEL, _)) => TARGET_COMPACTION_SEGMENT_BYTES,
            _ => COMPACTION_SEGMENT_BYTES,
        }
    }

    /// ringbench's compaction cases: the grid plus, in the quick and full profiles, the
    /// ~100 MB target case ([`TARGET_COMPACTION_SEGMENTS`] of 1 MiB, 1 KiB records, 50 %
    /// superseded).
    pub fn compaction_with_target(profile: Profile) -> Vec<Case> {
        let mut out = compaction(profile);
        if profile != Profile::Smoke {
            out.push(
                Case::engine(NONE, 0, KIB)
                    .with(TARGET_COMPACTION_LABEL, TARGET_COMPACTION_SEGMENTS)
                    .with("dup_percent", 50),
            );
        }
        out
    }

    /// `mixed_workload`: one case, 1 KiB, durability none.
    pub fn mixed_workload(_profile: Profile) -> Vec<Case> {
        vec![Case::engine(NONE, 0, KIB)]
    }

    /// `naive_write_throughput`: messages x size, no fsync.
    pub fn naive_write_throughput(profile: Profile) -> Vec<Case> {
        let messages = profile.pick(&MESSAGES, &[100, 1_000], &[1_000]);
        cases(Case::naive, &[NONE], &messages, &sizes(profile))
    }

    /// `naive_produce_latency`: durability none and sync x size.
    pub fn naive_produce_latency(profile: Profile) -> Vec<Case> {
        cases(Case::naive, &[NONE, SYNC], &[0], &sizes(profile))
    }

    /// `naive_read_throughput`: messages x size.
    pub fn naive_read_throughput(profile: Profile) -> Vec<Case> {
        let messages = profile.pick(&MESSAGES, &[1_000, 10_000], &[1_000]);
        cases(Case::naive, &[None], &messages, &sizes(profile))
    }

    /// `naive_random_fetch`: messages x size.
    pub fn naive_random_fetch(profile: Profile) -> Vec<Case> {
        let messages = profile.pick(&RANDOM_MESSAGES, &[1_000, 10_000], &[1_000]);
        cases(Case::naive, &[None], &messages, &sizes(profile))
    }
}

/// The topic-manager scenarios (`benches/topic.rs`).
pub mod topic {
    use super::{Durability, Profile, SIZES, fmt};
    use crate::topic_fixtures;

    /// A produce benchmark's topic is swapped for a fresh one once it holds this much payload.
    pub const TOPIC_CAP_BYTES: u64 = 256 * 1024 * 1024;
    /// Batches (of 16 KiB payload) one produce-throughput iteration writes.
    pub const PRODUCE_BATCHES: usize = 256;
    /// Record size of the concurrency, balance and multi-topic benches.
    pub const RECORD_BYTES: usize = 1024;
    /// Batches the producers of one iteration share, with durability none.
    pub const CONCURRENT_BATCHES_NONE: usize = 512;
    /// The same with durability sync.
    pub const CONCURRENT_BATCHES_SYNC: usize = 32;
    /// Partition counts of the produce and fetch throughput grids.
    pub const PARTITIONS: [u32; 3] = [1, 4, 16];
    /// Producer and consumer thread counts.
    pub const THREADS: [usize; 4] = [1, 4, 8, 16];
    /// Partition counts of the concurrency benches.
    pub const CONCURRENT_PARTITIONS: [u32; 2] = [4, 16];
    /// Partition counts of the balance bench.
    pub const BALANCE_PARTITIONS: [u32; 4] = [4, 8, 16, 32];
    /// Topic counts of the multi-topic benches.
    pub const TOPICS: [usize; 3] = [1, 5, 10];
    /// Partition counts of the compaction bench.
    pub const COMPACTION_PARTITIONS: [u32; 3] = [1, 4, 8];
    /// Payload of a fetch-throughput or concurrent-consumer topic (quick and full profiles).
    pub const READ_TOPIC_BYTES: usize = 32 * 1024 * 1024;
    /// The same in ringbench's smoke profile.
    pub const SMOKE_READ_TOPIC_BYTES: usize = 2 * 1024 * 1024;
    /// Passes over the warm topic per timed region of ringbench's `topic_concurrent_consumers`
    /// (the Divan bench reads it once per iteration): one pass of 32 MiB takes about 0.1 ms
    /// from the read cache here, less than starting 8 threads, so a single pass would measure
    /// thread start-up rather than reading.
    pub const CONSUMER_PASSES: u64 = 16;
    /// Keyed records per produce call of the balance bench.
    pub const BALANCE_RECORDS: usize = 1024;
    /// Distinct keys the balance bench cycles through (a multiple of [`BALANCE_RECORDS`]).
    pub const BALANCE_KEYS: usize = 64 * BALANCE_RECORDS;
    /// Partitions of each topic of the multi-topic benches.
    pub const MULTI_TOPIC_PARTITIONS: u32 = 4;
    /// Batches per multi-topic produce iteration (a multiple of the 4, 20 and 40 partitions).
    pub const MULTI_TOPIC_BATCHES: usize = 160;
    /// Payload spread over the partitions of a multi-topic fetch (quick and full profiles).
    pub const MULTI_TOPIC_READ_BYTES: usize = 16 * 1024 * 1024;
    /// The same in ringbench's smoke profile.
    pub const SMOKE_MULTI_TOPIC_READ_BYTES: usize = 2 * 1024 * 1024;
    /// Records per partition of a dirty compacted topic.
    pub const COMPACTION_RECORDS: usize = 1024;
    /// Distinct keys of a dirty compacted topic (each written `COMPACTION_RECORDS / KEYS`
    /// times per partition).
    pub const COMPACTION_KEYS: usize = 128;
    /// Segment size of a dirty compacted topic, so that about 20 segments are sealed.
    pub const COMPACTION_SEGMENT_BYTES: u64 = 64 * 1024;

    /// Payload of a fetch-throughput or concurrent-consumer topic: [`READ_TOPIC_BYTES`], or
    /// [`SMOKE_READ_TOPIC_BYTES`] in the smoke profile.
    pub fn read_topic_bytes(profile: Profile) -> usize {
        profile.pick(
            &[READ_TOPIC_BYTES],
            &[READ_TOPIC_BYTES],
            &[SMOKE_READ_TOPIC_BYTES],
        )[0]
    }

    /// Payload of a multi-topic fetch: [`MULTI_TOPIC_READ_BYTES`], or
    /// [`SMOKE_MULTI_TOPIC_READ_BYTES`] in the smoke profile.
    pub fn multi_topic_read_bytes(profile: Profile) -> usize {
        profile.pick(
            &[MULTI_TOPIC_READ_BYTES],
            &[MULTI_TOPIC_READ_BYTES],
            &[SMOKE_MULTI_TOPIC_READ_BYTES],
        )[0]
    }

    /// Sizes in bytes, so that Divan's natural sort of case names orders them by size.
    fn size_name(bytes: usize) -> String {
        format!("{bytes}B")
    }

    /// Partitions x record size, `durability=none`.
    #[derive(Clone, Copy, Debug)]
    pub struct SizeCase {
        /// Partitions of the topic.
        pub partitions: u32,
        /// Payload bytes of one record.
        pub size: usize,
    }

    impl fmt::Display for SizeCase {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "partitions={} size={} durability=none io={}",
                self.partitions,
                size_name(self.size),
                topic_fixtures::io_path()
            )
        }
    }

    /// `topic_produce_throughput` and `topic_fetch_throughput`: partitions x size.
    pub fn size_cases(profile: Profile) -> Vec<SizeCase> {
        let partitions = profile.pick(&PARTITIONS, &[1, 16], &[4]);
        let sizes = profile.pick(&SIZES, &[100, 10 * 1024], &[1024]);
        partitions
            .iter()
            .flat_map(|&partitions| sizes.iter().map(move |&size| SizeCase { partitions, size }))
            .collect()
    }

    /// ringbench's `topic_produce_throughput` cases: [`size_cases`], plus 1 KiB records where
    /// the profile's grid lacks them (the quick grid has 100 B and 10 KiB only).
    pub fn size_cases_with_1kib(profile: Profile) -> Vec<SizeCase> {
        let mut out = size_cases(profile);
        let partitions: Vec<u32> = out.iter().map(|c| c.partitions).collect();
        for partitions in partitions {
            if !out
                .iter()
                .any(|c| c.partitions == partitions && c.size == 1024)
            {
                out.push(SizeCase {
                    partitions,
                    size: 1024,
                });
            }
        }
        out
    }

    /// Threads x partitions x durability, 1 KiB records.
    #[derive(Clone, Copy, Debug)]
    pub struct ThreadCase {
        /// Producer or consumer threads.
        pub threads: usize,
        /// Partitions of the topic.
        pub partitions: u32,
        /// Durability of the topic's appends.
        pub durability: Durability,
        /// "producers" or "consumers".
        pub role: &'static str,
    }

    impl fmt::Display for ThreadCase {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "{}={} partitions={} size=1024B durability={} io={}",
                self.role,
                self.threads,
                self.partitions,
                self.durability.name(),
                topic_fixtures::io_path()
            )
        }
    }

    /// `topic_concurrent_producers` / `topic_concurrent_consumers`: durability x partitions x
    /// threads.
    pub fn thread_cases(
        profile: Profile,
        role: &'static str,
        durabilities: &[Durability],
    ) -> Vec<ThreadCase> {
        let threads = profile.pick(&THREADS, &[1, 8], &[1, 2]);
        let partitions = profile.pick(&CONCURRENT_PARTITIONS, &[16], &[4]);
        let mut cases = Vec::new();
        for &durability in durabilities {
            for &partitions in &partitions {
                for &threads in &threads {
                    cases.push(ThreadCase {
                        threads,
                        partitions,
                        durability,
                        role,
                    });
                }
            }
        }
        cases
    }

    /// A count of partitions or topics, with the fixed conditions of its bench.
    #[derive(Clone, Copy, Debug)]
    pub struct CountCase {
        /// What is counted ("partitions", "topics").
        pub name: &'static str,
        /// How many.
        pub count: usize,
        /// The bench's fixed conditions, printed after the count.
        pub detail: &'static str,
    }

    impl fmt::Display for CountCase {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "{}={} {} durability=none io={}",
                self.name,
                self.count,
                self.detail,
                topic_fixtures::io_path()
            )
        }
    }

    /// Cases of one counted dimension.
    pub fn count_cases(
        profile: Profile,
        name: &'static str,
        detail: &'static str,
        lists: [&[usize]; 3],
    ) -> Vec<CountCase> {
        let [full, quick, smoke] = lists;
        profile
            .pick(full, quick, smoke)
            .into_iter()
            .map(|count| CountCase {
                name,
                count,
                detail,
            })
            .collect()
    }

    fn to_usize(counts: &[u32]) -> Vec<usize> {
        counts.iter().map(|&c| c as usize).collect()
    }

    /// `topic_partition_balance`: partitions.
    pub fn balance_cases(profile: Profile) -> Vec<CountCase> {
        count_cases(
            profile,
            "partitions",
            "keyed size=1024B partitioner=murmur2",
            [&to_usize(&BALANCE_PARTITIONS), &[4, 32], &[4]],
        )
    }

    /// `topic_multi_topic::*`: topics of 4 partitions.
    pub fn multi_topic_cases(profile: Profile) -> Vec<CountCase> {
        count_cases(
            profile,
            "topics",
            "partitions=4 size=1024B",
            [&TOPICS, &[1, 10], &[2]],
        )
    }

    /// `topic_compaction`: partitions.
    pub fn compaction_cases(profile: Profile) -> Vec<CountCase> {
        count_cases(
            profile,
            "partitions",
            "keys=128x8 size=1024B segment=65536B",
            [&to_usize(&COMPACTION_PARTITIONS), &[1, 8], &[1]],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::log;
    use super::topic;
    use super::{Durability, Profile};

    #[test]
    fn smoke_has_one_case_per_scenario_or_two_on_a_durability_or_thread_axis() {
        let p = Profile::Smoke;
        assert_eq!(log::write_throughput(p).len(), 1);
        assert_eq!(log::produce_latency(p).len(), 2);
        assert_eq!(log::concurrent_producers(p).len(), 4);
        assert_eq!(log::compaction_with_target(p).len(), 1);
        assert!(log::write_throughput(p).iter().all(|c| c.size == 1024));
        assert_eq!(topic::size_cases(p).len(), 1);
        assert_eq!(topic::balance_cases(p).len(), 1);
        assert_eq!(topic::multi_topic_cases(p).len(), 1);
        assert_eq!(topic::compaction_cases(p).len(), 1);
        let consumers = topic::thread_cases(p, "consumers", &[Durability::None]);
        assert_eq!(
            consumers.len(),
            2,
            "1 consumer and N, for the scaling figure"
        );
        assert!(topic::read_topic_bytes(p) < topic::READ_TOPIC_BYTES);
    }

    #[test]
    fn quick_keeps_1kib_and_the_scaling_thread_counts() {
        let p = Profile::Quick;
        assert!(log::write_throughput(p).iter().any(|c| c.size == 1024));
        let producers: Vec<usize> = log::concurrent_producers(p)
            .iter()
            .map(super::Case::extra)
            .collect();
        for n in [1, 2, 4] {
            assert!(producers.contains(&n), "{n} producers in {producers:?}");
        }
        assert!(log::compaction_with_target(p).iter().any(|c| {
            c.extra
                .is_some_and(|(l, _)| l == log::TARGET_COMPACTION_LABEL)
        }));
    }

    #[test]
    fn full_is_the_cross_product_of_the_lists() {
        let p = Profile::Full;
        assert_eq!(log::write_throughput(p).len(), 9);
        assert_eq!(log::concurrent_producers(p).len(), 2 * 2 * 4);
        assert_eq!(log::compaction(p).len(), 3 * 2 * 3);
        assert_eq!(topic::size_cases(p).len(), 9);
    }
}
