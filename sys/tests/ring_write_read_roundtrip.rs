//! `O_DIRECT` writes through the ring read back intact at several offsets, for every kind of
//! write buffer.
mod common;

use bytes::Bytes;
use common::{BLOCK_BYTES, assert_pattern, direct_file, pattern_block, tmp_dir};
use ringlog_sys::{AlignedBuf, Ring};

#[test]
fn aligned_writes_read_back_at_several_offsets() {
    let dir = tmp_dir();
    let file = direct_file(dir.path(), "log");
    let ring = Ring::new(16).unwrap();
    let offsets = [0, BLOCK_BYTES, 5 * BLOCK_BYTES, 1 << 20, 3 * BLOCK_BYTES];
    for (seed, &offset) in offsets.iter().enumerate() {
        let len = BLOCK_BYTES * (1 + seed % 3);
        let ticket = ring
            .submit_write(&file, pattern_block(seed as u64, len), offset as u64)
            .unwrap();
        let (result, buf) = ring.wait(ticket);
        assert_eq!(result.unwrap(), len, "write at {offset}");
        assert_eq!(buf.len(), len, "the write buffer comes back unchanged");
    }
    for (seed, &offset) in offsets.iter().enumerate() {
        let len = BLOCK_BYTES * (1 + seed % 3);
        let buf = AlignedBuf::new(3 * BLOCK_BYTES, BLOCK_BYTES);
        let ticket = ring.submit_read(&file, buf, offset as u64, len).unwrap();
        let (result, buf) = ring.wait(ticket);
        assert_eq!(result.unwrap(), len, "read at {offset}");
        assert_eq!(buf.len(), len);
        assert_pattern(&buf, seed as u64, &format!("block at {offset}"));
    }
    assert_eq!(ring.in_flight(), 0);
}

#[test]
fn bytes_backed_by_an_aligned_buf_can_be_written() {
    let dir = tmp_dir();
    let file = direct_file(dir.path(), "log");
    let ring = Ring::new(4).unwrap();
    let bytes = Bytes::from_owner(pattern_block(42, BLOCK_BYTES));
    let (result, _bytes) = ring.wait(ring.submit_write(&file, bytes, 0).unwrap());
    assert_eq!(result.unwrap(), BLOCK_BYTES);
    let ticket = ring
        .submit_read(
            &file,
            AlignedBuf::new(BLOCK_BYTES, BLOCK_BYTES),
            0,
            BLOCK_BYTES,
        )
        .unwrap();
    let (result, buf) = ring.wait(ticket);
    assert_eq!(result.unwrap(), BLOCK_BYTES);
    assert_pattern(&buf, 42, "block written from Bytes");
}

#[test]
fn vec_writes_work_on_buffered_files() {
    let dir = tmp_dir();
    let file = std::sync::Arc::new(std::fs::File::create(dir.path().join("buffered")).unwrap());
    let ring = Ring::new(4).unwrap();
    let (result, data) = ring.wait(ring.submit_write(&file, b"hello".to_vec(), 3).unwrap());
    assert_eq!(result.unwrap(), 5);
    assert_eq!(data, b"hello");
    let on_disk = std::fs::read(dir.path().join("buffered")).unwrap();
    assert_eq!(on_disk, b"\0\0\0hello");
}
