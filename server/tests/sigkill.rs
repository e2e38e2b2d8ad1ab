//! The server binary killed with SIGKILL while clients produce with acks=-1 to a `sync` topic:
//! after a restart every acknowledged record is there, at the offset it was acknowledged with.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Client, create_topics, now_ms, produce, sample_batch, spawn};
use ringlog_server::errors::code;

#[test]
fn every_record_acknowledged_before_a_sigkill_is_there_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, addr) = spawn(&data, &["--default-durability", "sync"]);
    let mut admin = Client::connect(addr);
    let created = admin.call(&create_topics(&["acked"], 2, &[]), 7);
    assert_eq!(created.topics[0].error_code, code::NONE);

    // Acknowledged batches: (partition, base offset, first record index, count).
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..2)
        .map(|partition| {
            let acked = Arc::clone(&acked);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut client = Client::connect(addr);
                let base_ms = now_ms();
                let mut next = 0usize;
                // Four requests in flight; stops at the first failure (the kill).
                let mut in_flight = std::collections::VecDeque::new();
                loop {
                    while in_flight.len() < 4 && !stop.load(Ordering::Relaxed) {
                        let batch = sample_batch(next, 20, base_ms);
                        let correlation = client.send(&produce("acked", partition, -1, batch), 9);
                        in_flight.push_back((correlation, next));
                        next += 20;
                    }
                    let Some((correlation, first)) = in_flight.pop_front() else {
                        return;
                    };
                    let response = match client
                        .conn
                        .receive::<kafka_protocol::messages::ProduceRequest>(correlation, 9)
                    {
                        Ok(response) => response,
                        // The kill; anything else is a failure.
                        Err(e) if e.contains("closed") => return,
                        Err(e) => panic!("{e}"),
                    };
                    let p = &response.responses[0].partition_responses[0];
                    assert_eq!(p.error_code, code::NONE);
                    acked
                        .lock()
                        .unwrap()
                        .push((partition, p.base_offset, first, 20));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for producer in producers {
        producer.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 10,
        "producers were acknowledged before the kill"
    );

    let (mut child, addr) = spawn(&data, &["--default-durability", "sync"]);
    let mut client = Client::connect(addr);
    for partition in 0..2 {
        let stored = common::fetch_all(&mut client, "acked", partition);
        for &(_, base, first, count) in acked.iter().filter(|a| a.0 == partition) {
            for i in 0..count {
                let (offset, key, value, _) = stored
                    .get(base as usize + i)
                    .unwrap_or_else(|| panic!("acknowledged offset {} is gone", base as usize + i));
                assert_eq!(*offset, base as u64 + i as u64);
                assert_eq!(key, &format!("key-{}", first + i));
                assert_eq!(value, &format!("value-{}", first + i));
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
