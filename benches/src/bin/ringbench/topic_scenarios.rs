//! The topic-manager scenarios of `benches/topic.rs` that ringbench runs, on its own timing
//! loops: same grids ([`benches::scenarios::topic`]) and fixtures.

use std::time::Instant;

use benches::payload;
use benches::scenarios::topic::{
    CONCURRENT_BATCHES_NONE, CONCURRENT_BATCHES_SYNC, PRODUCE_BATCHES, RECORD_BYTES, SizeCase,
    TOPIC_CAP_BYTES, ThreadCase,
};
use benches::topic_fixtures::{
    Broker, Rotating, batch_records, check_produced, keyless_records, topic_config,
};
use hdrhistogram::Histogram;
use ringlog::Durability;
use ringlog::record::encoded_batch_bytes;
use ringlog_sys::alloc_count::thread_allocations;

use crate::log_scenarios::Outcome;
use crate::measure::{Budget, Driver, Meter, histogram, record as record_latency};

/// One thread produces `PRODUCE_BATCHES` 16 KiB batches per region, batch k to partition
/// k mod P; an operation is one produce call (one batch).
pub fn topic_produce_throughput(case: &SizeCase, budget: Budget) -> Outcome {
    let broker = Broker::open();
    let value = payload(case.size);
    let batch = keyless_records(&value, batch_records(case.size));
    let disk = encoded_batch_bytes(&batch).expect("a valid batch") as u64;
    let records = PRODUCE_BATCHES * batch.len();
    let bytes = (records * case.size) as u64;
    let rotating = Rotating::new(
        &broker.manager,
        "produce",
        1,
        topic_config(case.partitions, Durability::None),
        TOPIC_CAP_BYTES,
    );
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let topics = rotating.next(bytes);
        let topic = topics[0].as_str();
        meter.region(|hist| {
            for k in 0..PRODUCE_BATCHES {
                let partition = (k % case.partitions as usize) as u32;
                let start = Instant::now();
                let results = broker
                    .manager
                    .produce(topic, Some(partition), &batch)
                    .expect("produce");
                record_latency(hist, start.elapsed());
                check_produced(&results, partition, batch.len());
            }
        });
        meter.ops += PRODUCE_BATCHES as u64;
        meter.moved(records as u64, bytes, Some(disk * PRODUCE_BATCHES as u64));
    }
    (meter, None)
}

/// N threads share the batches of a region (512 with `none`, 32 with `sync`), batch k to
/// partition k mod P, thread t producing batches t, t+N, ...; each produce call timed.
pub fn topic_concurrent_producers(case: &ThreadCase, budget: Budget) -> Outcome {
    let broker = Broker::open();
    let value = payload(RECORD_BYTES);
    let batch = keyless_records(&value, batch_records(RECORD_BYTES));
    let disk = encoded_batch_bytes(&batch).expect("a valid batch") as u64;
    let batches = match case.durability {
        Durability::Sync => CONCURRENT_BATCHES_SYNC,
        _ => CONCURRENT_BATCHES_NONE,
    };
    let records = batches * batch.len();
    let bytes = (records * RECORD_BYTES) as u64;
    let rotating = Rotating::new(
        &broker.manager,
        "producers",
        1,
        topic_config(case.partitions, case.durability),
        TOPIC_CAP_BYTES,
    );
    let (manager, batch) = (&broker.manager, batch.as_slice());
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let topics = rotating.next(bytes);
        let topic = topics[0].as_str();
        let hists: Vec<Histogram<u64>> = meter.region_threads(|| {
            let out: Vec<(Histogram<u64>, u64)> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..case.threads)
                    .map(|thread| {
                        scope.spawn(move || {
                            let mut hist = histogram();
                            let allocs = thread_allocations();
                            for k in (thread..batches).step_by(case.threads) {
                                let partition = (k % case.partitions as usize) as u32;
                                let start = Instant::now();
                                let results = manager
                                    .produce(topic, Some(partition), batch)
                                    .expect("produce");
                                record_latency(&mut hist, start.elapsed());
                                check_produced(&results, partition, batch.len());
                            }
                            (hist, thread_allocations() - allocs)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("producer thread"))
                    .collect()
            });
            let allocs = out.iter().map(|(_, a)| a).sum();
            (out.into_iter().map(|(h, _)| h).collect(), allocs)
        });
        for hist in &hists {
            meter.hist.add(hist).expect("same histogram bounds");
        }
        meter.ops += batches as u64;
        meter.moved(records as u64, bytes, Some(disk * batches as u64));
    }
    (meter, None)
}
