//! Dropping tickets detaches their operations; dropping the ring waits for them, so detached
//! writes still reach the file and nothing is freed early.
mod common;

use std::os::unix::fs::FileExt;

use common::{BLOCK_BYTES, assert_pattern, direct_file, pattern_block, tmp_dir};
use ringlog_sys::{AlignedBuf, Ring, SyncKind};

const BLOCK_COUNT: usize = 32;

#[test]
fn detached_writes_complete_before_the_ring_is_gone() {
    let dir = tmp_dir();
    let file = direct_file(dir.path(), "log");
    let ring = Ring::new(8).unwrap();
    for block in 0..BLOCK_COUNT {
        let offset = (block * BLOCK_BYTES) as u64;
        drop(
            ring.submit_write(&file, pattern_block(block as u64, BLOCK_BYTES), offset)
                .unwrap(),
        );
    }
    let buf = AlignedBuf::new(BLOCK_BYTES, BLOCK_BYTES);
    drop(ring.submit_read(&file, buf, 0, BLOCK_BYTES).unwrap());
    // A ticket that outlives its ring: the ring's drop waits, the ticket frees the slot later.
    let late = ring.submit_sync(&file, SyncKind::Data).unwrap();
    drop(ring);
    drop(late);

    let mut block = vec![0; BLOCK_BYTES];
    let buffered = std::fs::File::open(dir.path().join("log")).unwrap();
    for index in 0..BLOCK_COUNT {
        buffered
            .read_exact_at(&mut block, (index * BLOCK_BYTES) as u64)
            .unwrap();
        assert_pattern(&block, index as u64, &format!("detached block {index}"));
    }
}

#[test]
fn detaching_a_completed_operation_frees_it() {
    let dir = tmp_dir();
    let file = direct_file(dir.path(), "log");
    let ring = Ring::new(4).unwrap();
    let ticket = ring
        .submit_write(&file, pattern_block(0, BLOCK_BYTES), 0)
        .unwrap();
    while ring.in_flight() > 0 {
        std::thread::yield_now();
    }
    drop(ticket);
    assert_eq!(ring.in_flight(), 0);
}
