//! Many operations in flight at once can be waited for in any order.
mod common;

use common::{BLOCK_BYTES, assert_pattern, direct_file, pattern_block, tmp_dir};
use ringlog_sys::{AlignedBuf, Ring};

const BLOCK_COUNT: usize = 24;

/// A fixed permutation of `0..BLOCK_COUNT` that is neither submission order nor its reverse.
fn scrambled() -> Vec<usize> {
    (0..BLOCK_COUNT)
        .map(|i| (i * 7 + 5) % BLOCK_COUNT)
        .collect()
}

#[test]
fn waits_in_scrambled_order() {
    let dir = tmp_dir();
    let file = direct_file(dir.path(), "log");
    // Fewer ring entries than operations, so submission also waits for room.
    let ring = Ring::new(8).unwrap();
    let mut writes: Vec<_> = (0..BLOCK_COUNT)
        .map(|b| {
            let block = pattern_block(b as u64 + 100, BLOCK_BYTES);
            Some(
                ring.submit_write(&file, block, (b * BLOCK_BYTES) as u64)
                    .unwrap(),
            )
        })
        .collect();
    for b in scrambled() {
        let (result, buf) = ring.wait(writes[b].take().unwrap());
        assert_eq!(result.unwrap(), BLOCK_BYTES, "write {b}");
        assert_pattern(&buf, b as u64 + 100, "write buffer given back");
    }
    let mut reads: Vec<_> = (0..BLOCK_COUNT)
        .map(|b| {
            let buf = AlignedBuf::new(BLOCK_BYTES, BLOCK_BYTES);
            Some(
                ring.submit_read(&file, buf, (b * BLOCK_BYTES) as u64, BLOCK_BYTES)
                    .unwrap(),
            )
        })
        .collect();
    for b in scrambled().into_iter().rev() {
        let (result, buf) = ring.wait(reads[b].take().unwrap());
        assert_eq!(result.unwrap(), BLOCK_BYTES, "read {b}");
        assert_pattern(&buf, b as u64 + 100, &format!("block {b}"));
    }
    assert_eq!(ring.in_flight(), 0);
}
