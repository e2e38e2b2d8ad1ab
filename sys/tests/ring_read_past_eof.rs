//! Reads at or across the end of the file return 0 or a short count, not an error.
mod common;

use common::{BLOCK_BYTES, assert_pattern, direct_file, pattern_block, tmp_dir};
use ringlog_sys::{AlignedBuf, Ring};

#[test]
fn read_past_eof_is_empty_and_across_eof_is_short() {
    let dir = tmp_dir();
    let file = direct_file(dir.path(), "log");
    let ring = Ring::new(8).unwrap();
    let (result, _) = ring.wait(
        ring.submit_write(&file, pattern_block(9, BLOCK_BYTES), 0)
            .unwrap(),
    );
    assert_eq!(result.unwrap(), BLOCK_BYTES);

    let buf = AlignedBuf::new(BLOCK_BYTES, BLOCK_BYTES);
    let (result, buf) = ring.wait(
        ring.submit_read(&file, buf, 2 * BLOCK_BYTES as u64, BLOCK_BYTES)
            .unwrap(),
    );
    assert_eq!(result.unwrap(), 0);
    assert!(buf.is_empty());

    let buf = AlignedBuf::new(2 * BLOCK_BYTES, BLOCK_BYTES);
    let (result, buf) = ring.wait(ring.submit_read(&file, buf, 0, 2 * BLOCK_BYTES).unwrap());
    assert_eq!(result.unwrap(), BLOCK_BYTES);
    assert_eq!(buf.len(), BLOCK_BYTES);
    assert_pattern(&buf, 9, "short read");
}
