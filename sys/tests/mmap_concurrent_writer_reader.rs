//! One thread appends and publishes 10,000 small records through a mapping while another
//! reads behind it; the reader checks every published byte, and the file holds them after.
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::thread;

use ringlog_sys::file::fallocate;
use ringlog_sys::mmap::MapWriter;

const RECORD_COUNT: usize = 10_000;
/// Record `i` is `record_bytes(i)` bytes long, 1 to 61.
fn record_bytes(index: usize) -> usize {
    1 + index % 61
}
/// The byte at `position` of the whole stream: depends on the position only.
fn stream_byte(position: usize) -> u8 {
    (position.wrapping_mul(31) % 251) as u8
}
/// How far the file is extended at a time (`fallocate`), so `set_backed_len` is exercised.
const GROW_BYTES: usize = 16 * 1024;

#[test]
fn reader_sees_every_published_byte() {
    let total_bytes: usize = (0..RECORD_COUNT).map(record_bytes).sum();
    let map_len = total_bytes.next_multiple_of(GROW_BYTES);
    let file = Arc::new(tempfile::tempfile_in("/tmp").unwrap());
    let (mut writer, reader) = MapWriter::create(&file, map_len, 0, 0).unwrap();

    let checker = thread::spawn(move || {
        let (mut checked, mut rounds) = (0, 0u64);
        while checked < total_bytes {
            let published = reader.published();
            assert!(published >= checked, "published went back");
            if published == checked {
                thread::yield_now();
                continue;
            }
            let bytes = reader.bytes(checked, published - checked).unwrap();
            for (i, &byte) in bytes.iter().enumerate() {
                assert_eq!(byte, stream_byte(checked + i), "byte {}", checked + i);
            }
            assert!(reader.bytes(published, 1).is_none() || reader.published() > published);
            checked = published;
            rounds += 1;
        }
        rounds
    });

    let mut end = 0;
    for index in 0..RECORD_COUNT {
        let len = record_bytes(index);
        if end + len > writer.backed_len() {
            let backed = writer.backed_len();
            fallocate(&file, backed as u64, GROW_BYTES as u64).unwrap();
            writer.set_backed_len(backed + GROW_BYTES).unwrap();
        }
        for (i, byte) in writer.unpublished_mut(end, len).iter_mut().enumerate() {
            *byte = stream_byte(end + i);
        }
        end += len;
        writer.publish(end);
    }
    let rounds = checker.join().unwrap();
    assert!(rounds > 0);

    writer.reader().sync(0, end).unwrap();
    let mut on_disk = vec![0; end];
    file.read_exact_at(&mut on_disk, 0).unwrap();
    assert!(
        on_disk
            .iter()
            .enumerate()
            .all(|(p, &b)| b == stream_byte(p))
    );
}
