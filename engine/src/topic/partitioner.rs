//! Choosing a partition for a record, exactly as Kafka's Java producer does.
//!
//! A keyed record goes to `toPositive(murmur2(key)) % partitions`
//! (`org.apache.kafka.clients.producer.internals.BuiltInPartitioner.partitionForKey`), so a key
//! lands on the same partition whether a Kafka client or ringlog places it. That placement is
//! what keeps per-key ordering, which is why [`murmur2`] must match Kafka bit for bit.
//!
//! A record without a key has no placement to agree on; [`StickyPartitioner`] keeps a batch on
//! one partition and moves round robin between batches.

use std::sync::atomic::{AtomicU32, Ordering};

/// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2): seed 0x9747b28c, m
/// 0x5bd1e995, r 24; little-endian 4-byte chunks; the Java code's tail handling (fall-through
/// switch on length % 4) and final mixing; returns i32.
///
/// Java's `int` arithmetic wraps, so the hash is computed in `u32` with wrapping multiplies;
/// Java's `>>>` is the logical shift of `u32`. The bits are reinterpreted as `i32` at the end.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java mixes in `data.length`, an `int`; a Kafka key never reaches 2 GiB, so the cast
    // loses nothing.
    let mut h = SEED ^ data.len() as u32;

    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        // Java adds the four masked bytes shifted by 0, 8, 16 and 24: a little-endian word.
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    // Java's `switch (length % 4)` falls through from case 3 to case 1: each trailing byte `i`
    // is XORed in shifted by `8 * i`, then one multiply, and nothing at all for no tail. XOR
    // does not care about order, so a loop does the same.
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate() {
            h ^= u32::from(byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Utils.toPositive: n & 0x7fffffff.
///
/// Not `abs`: Kafka clears the sign bit, so `i32::MIN` maps to 0 and `-1` to `i32::MAX`.
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition for a keyed record: toPositive(murmur2(key)) % partitions
/// (BuiltInPartitioner.partitionForKey). Panics if partitions == 0.
///
/// # Panics
///
/// If `partitions` is 0: every topic has at least one partition, so a 0 here is a bug in the
/// caller.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    assert!(
        partitions > 0,
        "partition_for_key: a topic has at least one partition, got 0"
    );
    // to_positive leaves a value in 0..=i32::MAX, so the cast to u32 keeps it.
    to_positive(murmur2(key)) as u32 % partitions
}

/// Records without a key: Kafka's client sticks to one partition for a whole batch and moves on
/// after it (sticky partitioner). This keeps a current partition and advances to the next one
/// (round robin, so the spread is even and deterministic) each time `next_batch` is called.
///
/// Kafka's own `BuiltInPartitioner` picks the next partition at random, weighted by broker
/// queue sizes; unkeyed records promise no placement, so round robin is as compatible and
/// easier to test.
///
/// The partition count is passed on every call because a topic can grow; the current partition
/// is taken modulo the count given, so it is always in range.
#[derive(Debug, Default)]
pub struct StickyPartitioner {
    /// The current partition. Kept below the partition count of the last `next_batch`, so
    /// it never wraps around `u32::MAX` and skews the spread.
    current: AtomicU32,
}

impl StickyPartitioner {
    /// A partitioner whose first batch goes to partition 0.
    pub const fn new() -> Self {
        Self {
            current: AtomicU32::new(0),
        }
    }

    /// The partition the current batch goes to, in `0..partitions`.
    ///
    /// # Panics
    ///
    /// If `partitions` is 0.
    pub fn partition(&self, partitions: u32) -> u32 {
        assert!(
            partitions > 0,
            "StickyPartitioner::partition: a topic has at least one partition, got 0"
        );
        // Relaxed: the counter publishes no other data; callers only need some recent value.
        self.current.load(Ordering::Relaxed) % partitions
    }

    /// Ends the current batch: advances to the next partition, round robin, and returns it.
    ///
    /// Concurrent callers each advance the partition by exactly one step.
    ///
    /// # Panics
    ///
    /// If `partitions` is 0.
    pub fn next_batch(&self, partitions: u32) -> u32 {
        assert!(
            partitions > 0,
            "StickyPartitioner::next_batch: a topic has at least one partition, got 0"
        );
        // `current % partitions` is at most `partitions - 1`, so the `+ 1` cannot overflow.
        let advance = |current: u32| (current % partitions + 1) % partitions;
        // Relaxed: the read-modify-write is atomic, which is all the even spread needs; the
        // counter guards no other memory.
        let previous = self
            .current
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
                Some(advance(current))
            })
            .expect("the update closure always returns Some");
        advance(previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Apache Kafka's own vectors: `UtilsTest.testMurmur2` in
    /// clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
    /// (apache/kafka commit f55581dc73953c3509a4702433aeeeddc2970779).
    const KAFKA_UTILS_TEST_VECTORS: &[(&[u8], i32)] = &[
        (b"21", -973_932_308),
        (b"foobar", -790_332_482),
        (b"a-little-bit-long-string", -985_981_536),
        (b"a-little-bit-longer-string", -1_486_304_829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        // Kafka writes this one as `new byte[] {'a', 'b', 'c'}`.
        (b"abc", 479_470_107),
    ];

    /// Kafka's vectors leave out the empty input, a 1-byte tail and bytes with the high bit
    /// set (Java's `byte` is signed, hence its `& 0xff`). These values come from Kafka's
    /// `Utils.murmur2` Java source, copied unchanged and run on a JVM; that copy reproduces
    /// every vector above. The empty input's value also appears in other Kafka-compatible
    /// clients' tests.
    const JAVA_REFERENCE_VECTORS: &[(&[u8], i32)] = &[
        (b"", 275_646_681),
        (b"a", -1_563_381_124),
        (b"key", -1_079_937_367),
        (b"hello", 2_132_663_229),
        (&[0xff, 0xff, 0xff, 0xff, 0xff], -363_838_622),
        (&[0x80, 0x00, 0xff, 0x7f, 0x80, 0x81, 0xfe], -500_456_332),
        ("tøpic".as_bytes(), -366_400_108),
    ];

    /// `(key, partitions, partition)` from the same Java source:
    /// `Utils.toPositive(Utils.murmur2(key)) % partitions`. `("foobar", 10)` and
    /// `("foobar", 50)` also appear in other Kafka-compatible clients' tests.
    const JAVA_PARTITION_VECTORS: &[(&[u8], u32, u32)] = &[
        (b"key", 1, 0),
        (b"key", 3, 1),
        (b"key", 6, 1),
        (b"key", 12, 1),
        (b"key", 50, 31),
        (b"key", 100, 81),
        (b"key", 1000, 281),
        (b"foobar", 10, 6),
        (b"foobar", 12, 6),
        (b"foobar", 50, 16),
        (b"foobar", 1000, 166),
        (b"user-42", 6, 4),
        (b"user-42", 1000, 460),
        (b"order:9001", 12, 10),
        (b"order:9001", 1000, 810),
    ];

    /// A line-by-line transliteration of the Java method, index arithmetic and fall-through
    /// switch included, to check the chunked implementation against on random input.
    fn murmur2_java_transliteration(data: &[u8]) -> i32 {
        let length = data.len() as i32;
        let seed = 0x9747_b28c_u32 as i32;
        let m = 0x5bd1_e995_i32;
        let r = 24;
        let ushr = |x: i32, n: u32| ((x as u32) >> n) as i32;
        let byte = |i: i32| i32::from(data[i as usize]);

        let mut h = seed ^ length;
        let length4 = length / 4;
        for i in 0..length4 {
            let i4 = i * 4;
            let mut k = byte(i4)
                .wrapping_add(byte(i4 + 1) << 8)
                .wrapping_add(byte(i4 + 2) << 16)
                .wrapping_add(byte(i4 + 3) << 24);
            k = k.wrapping_mul(m);
            k ^= ushr(k, r);
            k = k.wrapping_mul(m);
            h = h.wrapping_mul(m);
            h ^= k;
        }
        let rest = length % 4;
        if rest >= 3 {
            h ^= byte((length & !3) + 2) << 16;
        }
        if rest >= 2 {
            h ^= byte((length & !3) + 1) << 8;
        }
        if rest >= 1 {
            h ^= byte(length & !3);
            h = h.wrapping_mul(m);
        }
        h ^= ushr(h, 13);
        h = h.wrapping_mul(m);
        h ^= ushr(h, 15);
        h
    }

    #[test]
    fn murmur2_matches_kafka_utils_test() {
        for &(input, expected) in KAFKA_UTILS_TEST_VECTORS {
            assert_eq!(
                murmur2(input),
                expected,
                "murmur2({:?})",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn murmur2_matches_kafka_java_on_tails_and_high_bytes() {
        for &(input, expected) in JAVA_REFERENCE_VECTORS {
            assert_eq!(murmur2(input), expected, "murmur2({input:02x?})");
        }
    }

    #[test]
    fn java_transliteration_agrees_with_the_vectors() {
        for &(input, expected) in KAFKA_UTILS_TEST_VECTORS
            .iter()
            .chain(JAVA_REFERENCE_VECTORS)
        {
            assert_eq!(
                murmur2_java_transliteration(input),
                expected,
                "{input:02x?}"
            );
        }
    }

    #[test]
    fn to_positive_clears_the_sign_bit() {
        assert_eq!(to_positive(0), 0);
        assert_eq!(to_positive(5), 5);
        assert_eq!(to_positive(i32::MAX), i32::MAX);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-790_332_482), 1_357_151_166);
    }

    #[test]
    fn partition_for_key_matches_kafka_java() {
        for &(key, partitions, expected) in JAVA_PARTITION_VECTORS {
            assert_eq!(
                partition_for_key(key, partitions),
                expected,
                "partition_for_key({:?}, {partitions})",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn partition_for_key_is_to_positive_murmur2_mod_partitions() {
        let hash = to_positive(murmur2(b"key"));
        for partitions in [1, 2, 7, 16, 1024, u32::MAX] {
            assert_eq!(
                partition_for_key(b"key", partitions),
                hash as u32 % partitions
            );
        }
    }

    #[test]
    #[should_panic(expected = "a topic has at least one partition, got 0")]
    fn partition_for_key_refuses_zero_partitions() {
        partition_for_key(b"key", 0);
    }

    proptest! {
        #[test]
        fn partition_for_key_is_in_range_and_stable(
            key in proptest::collection::vec(any::<u8>(), 0..64),
            partitions in 1..=u32::MAX,
        ) {
            let partition = partition_for_key(&key, partitions);
            prop_assert!(partition < partitions);
            prop_assert_eq!(partition, partition_for_key(&key.clone(), partitions));
        }

        #[test]
        fn murmur2_agrees_with_java_transliteration(
            data in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            prop_assert_eq!(murmur2(&data), murmur2_java_transliteration(&data));
        }
    }

    #[test]
    fn sticky_starts_at_zero_and_stays_within_a_batch() {
        let sticky = StickyPartitioner::new();
        for _ in 0..5 {
            assert_eq!(sticky.partition(4), 0);
        }
        assert_eq!(StickyPartitioner::default().partition(4), 0);
    }

    #[test]
    fn sticky_moves_round_robin_between_batches() {
        let sticky = StickyPartitioner::new();
        let visited: Vec<u32> = (0..7).map(|_| sticky.next_batch(3)).collect();
        assert_eq!(visited, [1, 2, 0, 1, 2, 0, 1]);
        assert_eq!(sticky.partition(3), 1);
    }

    #[test]
    fn sticky_spreads_batches_evenly() {
        for partitions in [1_u32, 2, 3, 7, 12, 64] {
            for batches in [0_u32, 1, 100, 1000, 1001] {
                let sticky = StickyPartitioner::new();
                let mut batches_per_partition = vec![0_u32; partitions as usize];
                for _ in 0..batches {
                    batches_per_partition[sticky.partition(partitions) as usize] += 1;
                    sticky.next_batch(partitions);
                }
                let min = batches_per_partition.iter().min().copied().unwrap_or(0);
                let max = batches_per_partition.iter().max().copied().unwrap_or(0);
                assert!(
                    max - min <= 1,
                    "{partitions} partitions, {batches} batches: {batches_per_partition:?}"
                );
                assert_eq!(batches_per_partition.iter().sum::<u32>(), batches);
            }
        }
    }

    #[test]
    fn sticky_stays_in_range_when_the_partition_count_changes() {
        let sticky = StickyPartitioner::new();
        for _ in 0..5 {
            sticky.next_batch(8);
        }
        assert_eq!(sticky.partition(8), 5);
        assert_eq!(sticky.partition(3), 2);
        assert_eq!(sticky.next_batch(3), 0);
        assert_eq!(sticky.next_batch(8), 1);
    }

    #[test]
    fn sticky_concurrent_callers_each_advance_one_step() {
        const THREADS: u32 = 8;
        const BATCHES_PER_THREAD: u32 = 1000;
        const PARTITIONS: u32 = 7;
        let sticky = StickyPartitioner::new();
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    for _ in 0..BATCHES_PER_THREAD {
                        assert!(sticky.next_batch(PARTITIONS) < PARTITIONS);
                    }
                });
            }
        });
        assert_eq!(
            sticky.partition(PARTITIONS),
            THREADS * BATCHES_PER_THREAD % PARTITIONS
        );
    }

    #[test]
    #[should_panic(expected = "a topic has at least one partition, got 0")]
    fn sticky_refuses_zero_partitions() {
        StickyPartitioner::new().next_batch(0);
    }
}
