//! 4 threads x 500 operations (writes and reads) on one ring at once, every byte checked;
//! two threads wait blocking, two poll with `try_wait`.
mod common;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{BLOCK_BYTES, assert_pattern, direct_file, pattern_block, tmp_dir};
use ringlog_sys::{AlignedBuf, Ring, Ticket};

const THREAD_COUNT: usize = 4;
const OPS_PER_THREAD: usize = 500;
/// Operations each thread keeps in flight at once; 4 x 10 exceeds the ring's 8 completion
/// entries, so threads also wait for room.
const BATCH_COUNT: usize = 10;
/// Blocks in each thread's region of the file; later batches overwrite earlier ones.
const REGION_BLOCKS: usize = 30;

#[test]
fn four_threads_share_one_ring() {
    let dir = tmp_dir();
    let file = direct_file(dir.path(), "log");
    let ring = Arc::new(Ring::new(4).unwrap());
    let threads: Vec<_> = (0..THREAD_COUNT)
        .map(|thread| {
            let ring = Arc::clone(&ring);
            let file = Arc::clone(&file);
            std::thread::spawn(move || run_thread(&ring, &file, thread))
        })
        .collect();
    for thread in threads {
        thread.join().expect("worker thread panicked");
    }
    assert_eq!(ring.in_flight(), 0);
}

fn run_thread(ring: &Ring, file: &Arc<std::fs::File>, thread: usize) {
    let batch_total = OPS_PER_THREAD / (2 * BATCH_COUNT);
    for batch in 0..batch_total {
        let seeds: Vec<u64> = (0..BATCH_COUNT)
            .map(|i| ((thread * 1_000_000) + batch * BATCH_COUNT + i) as u64)
            .collect();
        let offset = |i: usize| {
            let block = thread * REGION_BLOCKS + (batch * BATCH_COUNT + i) % REGION_BLOCKS;
            (block * BLOCK_BYTES) as u64
        };
        let writes: Vec<_> = (0..BATCH_COUNT)
            .map(|i| {
                ring.submit_write(file, pattern_block(seeds[i], BLOCK_BYTES), offset(i))
                    .unwrap()
            })
            .collect();
        for ticket in writes.into_iter().rev() {
            assert_eq!(ring.wait(ticket).0.unwrap(), BLOCK_BYTES);
        }
        let reads: Vec<_> = (0..BATCH_COUNT)
            .map(|i| {
                let buf = AlignedBuf::new(BLOCK_BYTES, BLOCK_BYTES);
                ring.submit_read(file, buf, offset(i), BLOCK_BYTES).unwrap()
            })
            .collect();
        for (i, ticket) in reads.into_iter().enumerate() {
            // Odd threads poll, so `try_wait` runs while other threads hold the reaper role.
            let (result, buf) = if thread % 2 == 1 {
                poll(ring, ticket)
            } else {
                ring.wait(ticket)
            };
            assert_eq!(result.unwrap(), BLOCK_BYTES);
            assert_pattern(
                &buf,
                seeds[i],
                &format!("thread {thread} batch {batch} op {i}"),
            );
        }
    }
}

/// Polls `ticket` with `try_wait` until it completes (at most 10 s).
fn poll(ring: &Ring, mut ticket: Ticket<AlignedBuf>) -> (io::Result<usize>, AlignedBuf) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match ring.try_wait(ticket) {
            Ok(done) => return done,
            Err(pending) => {
                assert!(Instant::now() < deadline, "read did not complete in 10 s");
                ticket = pending;
                std::thread::yield_now();
            }
        }
    }
}
