//! A misaligned `O_DIRECT` write completes with EINVAL instead of panicking, and the ring stays
//! usable.
mod common;

use common::{BLOCK_BYTES, direct_file, pattern_block, tmp_dir};
use ringlog_sys::{AlignedBuf, Ring};

#[test]
fn misaligned_length_and_offset_fail_with_einval() {
    let dir = tmp_dir();
    let file = direct_file(dir.path(), "log");
    let ring = Ring::new(8).unwrap();

    let mut short = AlignedBuf::new(BLOCK_BYTES, BLOCK_BYTES);
    short.extend_from_slice(&[7; 100]);
    let (result, buf) = ring.wait(ring.submit_write(&file, short, 0).unwrap());
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EINVAL));
    assert_eq!(buf.len(), 100, "the buffer comes back after a failed write");

    let (result, _) = ring.wait(
        ring.submit_write(&file, pattern_block(1, BLOCK_BYTES), 100)
            .unwrap(),
    );
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EINVAL));

    let (result, _) = ring.wait(
        ring.submit_write(&file, pattern_block(1, BLOCK_BYTES), 0)
            .unwrap(),
    );
    assert_eq!(
        result.unwrap(),
        BLOCK_BYTES,
        "the ring still works afterwards"
    );
}
