//! Produce and fetch through the topic manager from many threads while other topics come and
//! go. Three topics of four partitions; four producer threads (two routing by key, two naming
//! the partition) and four consumer threads (each following three partitions with
//! `fetch_many`) run together, while another thread creates, uses and deletes other topics in
//! a loop. Every record's value carries its producer, sequence number and a checksum; every
//! record is seen exactly once, on the partition its produce reported, in each producer's order
//! on that partition; produce and fetch on the stable topics never fail. Runs on every I/O
//! path.

mod common;
mod topic_common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use common::for_each_io_mode;
use ringlog::record::Record;
use ringlog::topic::PartitionFetch;
use ringlog::topic::partitioner::partition_for_key;
use ringlog::{Durability, TopicConfig, TopicManager};
use topic_common::{decode, open_manager, record};

const TOPICS: [&str; 3] = ["alpha", "beta", "gamma"];
const PARTITIONS: u32 = 4;
const PRODUCERS: u32 = 4;
const CONSUMERS: u32 = 4;
const RECORDS_PER_PRODUCER: u64 = 2000;
/// Kept small so that consumers fetch many times and budgets cut fetches short.
const FETCH_TOTAL_BYTES: usize = 8 * 1024;
const FETCH_PARTITION_BYTES: usize = 3 * 1024;

/// `(topic index, partition)`.
type Place = (usize, u32);

/// The value of record `seq` of `producer`: producer, sequence, padding of varying length,
/// then a CRC-32C of all that.
fn encode_value(producer: u32, seq: u64) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&producer.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend((0..seq % 97).map(|i| (i as u8) ^ (producer as u8)));
    let crc = crc32c::crc32c(&v);
    v.extend_from_slice(&crc.to_be_bytes());
    v
}

/// `(producer, seq)` of a value, after checking its checksum.
fn decode_value(value: &[u8], place: Place, offset: u64) -> (u32, u64) {
    assert!(
        value.len() >= 16,
        "{place:?}@{offset}: value of {} bytes",
        value.len()
    );
    let (body, crc) = value.split_at(value.len() - 4);
    assert_eq!(
        crc32c::crc32c(body).to_be_bytes(),
        crc,
        "{place:?}@{offset}: checksum mismatch"
    );
    let producer = u32::from_be_bytes(body[..4].try_into().expect("4 bytes"));
    let seq = u64::from_be_bytes(body[4..12].try_into().expect("8 bytes"));
    assert_eq!(
        body.len(),
        12 + (seq % 97) as usize,
        "{place:?}@{offset}: value length"
    );
    (producer, seq)
}

/// Produces every record of `producer`; returns where each one went, by sequence number.
fn run_producer(manager: &TopicManager, producer: u32) -> Vec<Place> {
    let keyed = producer.is_multiple_of(2);
    let mut places = Vec::new();
    let mut seq = 0;
    let mut call: u64 = 0;
    while seq < RECORDS_PER_PRODUCER {
        let count = (1 + (call + u64::from(producer)) % 4).min(RECORDS_PER_PRODUCER - seq);
        let t = ((call + u64::from(producer)) % TOPICS.len() as u64) as usize;
        let values: Vec<Vec<u8>> = (seq..seq + count)
            .map(|s| encode_value(producer, s))
            .collect();
        let keys: Vec<Vec<u8>> = (seq..seq + count)
            .map(|s| format!("p{producer}-k{}", s % 7).into_bytes())
            .collect();
        let records: Vec<Record<'_>> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| record(Some(k), v))
            .collect();
        if keyed {
            let results = manager
                .produce(TOPICS[t], None, &records)
                .unwrap_or_else(|e| panic!("producer {producer} call {call}: {e}"));
            let mut touched = BTreeMap::new();
            for key in &keys {
                let p = partition_for_key(key, PARTITIONS);
                *touched.entry(p).or_insert(0_u64) += 1;
                places.push((t, p));
            }
            let reported: BTreeMap<u32, u64> = results
                .iter()
                .map(|r| (r.partition, r.last_offset - r.base_offset + 1))
                .collect();
            assert_eq!(
                reported, touched,
                "producer {producer} call {call}: split by key"
            );
        } else {
            let p = ((call / 3 + u64::from(producer)) % u64::from(PARTITIONS)) as u32;
            let results = manager
                .produce(TOPICS[t], Some(p), &records)
                .unwrap_or_else(|e| panic!("producer {producer} call {call}: {e}"));
            assert_eq!(results.len(), 1);
            assert_eq!(results[0].partition, p);
            assert_eq!(results[0].last_offset - results[0].base_offset + 1, count);
            places.extend((0..count).map(|_| (t, p)));
        }
        seq += count;
        call += 1;
    }
    places
}

/// What one consumer saw: for each place, every `(producer, seq)` in order of offset.
type Seen = BTreeMap<Place, Vec<(u32, u64)>>;

/// Follows `places` until the producers are done and every place is read to its end.
fn run_consumer(manager: &TopicManager, places: &[Place], producers_done: &AtomicBool) -> Seen {
    let mut offsets = vec![0_u64; places.len()];
    let mut seen: Seen = places.iter().map(|&p| (p, Vec::new())).collect();
    loop {
        // Read before fetching: if the producers were done by then, a fetch that reaches
        // every log end has seen everything.
        let done = producers_done.load(Ordering::Acquire);
        let requests: Vec<PartitionFetch> = places
            .iter()
            .zip(&offsets)
            .map(|(&(t, p), &offset)| PartitionFetch {
                topic: TOPICS[t].to_string(),
                partition: p,
                offset,
            })
            .collect();
        let fetched = manager.fetch_many(&requests, FETCH_TOTAL_BYTES, FETCH_PARTITION_BYTES);
        let mut at_end = true;
        for ((entry, &place), offset) in fetched.iter().zip(places).zip(&mut offsets) {
            let batches = entry
                .result
                .as_ref()
                .unwrap_or_else(|e| panic!("fetch {place:?} at {offset}: {e}"));
            for r in decode(&batches.bytes) {
                if r.offset < *offset {
                    continue;
                }
                assert_eq!(r.offset, *offset, "{place:?}: offsets are contiguous");
                let id = decode_value(r.value.as_deref().expect("value"), place, r.offset);
                let key = r.key.expect("every record has a key");
                assert_eq!(key, format!("p{}-k{}", id.0, id.1 % 7).into_bytes());
                seen.get_mut(&place).expect("followed").push(id);
                *offset += 1;
            }
            assert_eq!(
                batches.next_fetch_offset, *offset,
                "{place:?}: next fetch offset"
            );
            at_end &= *offset == batches.high_watermark;
        }
        if done && at_end {
            return seen;
        }
        if at_end {
            std::thread::yield_now();
        }
    }
}

/// Creates, uses and deletes other topics until `stop`; returns how many it went through.
fn run_churn(manager: &TopicManager, stop: &AtomicBool) -> usize {
    let mut round = 0;
    while !stop.load(Ordering::Acquire) {
        let name = format!("churn-{round}");
        let config = TopicConfig {
            partitions: 2,
            ..TopicConfig::default()
        };
        manager
            .create_topic(&name, config)
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        manager
            .produce(&name, Some(1), &[record(Some(b"c"), name.as_bytes())])
            .unwrap_or_else(|e| panic!("produce to {name}: {e}"));
        let fetched = manager
            .fetch(&name, 1, 0, 4096)
            .unwrap_or_else(|e| panic!("fetch {name}: {e}"));
        assert_eq!(decode(&fetched.bytes).len(), 1, "{name}: its one record");
        manager
            .delete_topic(&name)
            .unwrap_or_else(|e| panic!("delete {name}: {e}"));
        round += 1;
    }
    round
}

/// Checks what the consumers saw against where the producers put each record.
fn check(produced: &[Vec<Place>], seen: &Seen) {
    let mut found: BTreeSet<(u32, u64)> = BTreeSet::new();
    for (&place, ids) in seen {
        let mut last: BTreeMap<u32, u64> = BTreeMap::new();
        for &(producer, seq) in ids {
            assert!(
                found.insert((producer, seq)),
                "producer {producer} seq {seq} seen twice (again on {place:?})"
            );
            let want = produced[producer as usize][seq as usize];
            assert_eq!(
                want, place,
                "producer {producer} seq {seq}: produced to {want:?}, read from {place:?}"
            );
            if let Some(&previous) = last.get(&producer) {
                assert!(
                    seq > previous,
                    "{place:?}: producer {producer} seq {seq} after seq {previous}"
                );
            }
            last.insert(producer, seq);
        }
    }
    let total: usize = produced.iter().map(Vec::len).sum();
    assert_eq!(found.len(), total, "every produced record is seen");
}

#[test]
fn producers_consumers_and_topic_churn_run_together() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = open_manager(dir.path(), io_mode);
        for (t, name) in TOPICS.iter().enumerate() {
            let durability = if t == 1 {
                Durability::Write
            } else {
                Durability::None
            };
            let config = TopicConfig {
                partitions: PARTITIONS,
                durability,
                ..TopicConfig::default()
            };
            manager.create_topic(name, config).expect("create");
        }
        let all_places: Vec<Place> = (0..TOPICS.len())
            .flat_map(|t| (0..PARTITIONS).map(move |p| (t, p)))
            .collect();
        let producers_done = AtomicBool::new(false);

        let (produced, seen, churn_rounds) = std::thread::scope(|s| {
            let (manager, done) = (&manager, &producers_done);
            let consumers: Vec<_> = (0..CONSUMERS)
                .map(|c| {
                    let places: Vec<Place> = all_places
                        .iter()
                        .copied()
                        .filter(|&(t, p)| (t as u32 * PARTITIONS + p) % CONSUMERS == c)
                        .collect();
                    s.spawn(move || run_consumer(manager, &places, done))
                })
                .collect();
            let churn = s.spawn(move || run_churn(manager, done));
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|producer| s.spawn(move || run_producer(manager, producer)))
                .collect();
            let produced: Vec<Vec<Place>> = producers
                .into_iter()
                .map(|h| h.join().expect("producer thread"))
                .collect();
            done.store(true, Ordering::Release);
            let mut seen = Seen::new();
            for h in consumers {
                seen.extend(h.join().expect("consumer thread"));
            }
            (produced, seen, churn.join().expect("churn thread"))
        });

        eprintln!("churn went through {churn_rounds} topics");
        assert!(churn_rounds > 0, "the churn thread ran alongside");
        assert_eq!(seen.len(), all_places.len(), "every partition was followed");
        check(&produced, &seen);
        assert_eq!(manager.list_topics(), TOPICS, "the churned topics are gone");
        let stored: u64 = TOPICS
            .iter()
            .flat_map(|t| manager.describe_topic(t).expect("describe").partitions)
            .map(|p| p.next_offset)
            .sum();
        assert_eq!(stored, u64::from(PRODUCERS) * RECORDS_PER_PRODUCER);
        manager.close().expect("close");
    });
}
