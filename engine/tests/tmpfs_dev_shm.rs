//! A log on tmpfs (`/dev/shm`), on every I/O path: where the filesystem refuses O_DIRECT, the
//! io_uring and pread/pwrite paths use buffered I/O with the same format and say so; where it
//! accepts O_DIRECT (tmpfs does on recent kernels), they use it. The mmap path is buffered
//! everywhere. Either way the log works and reopens.

mod common;

use common::{for_each_io_mode, open_log};
use ringlog::IoMode;
use ringlog::record::Record;
use ringlog_sys::direct::{DirectIoError, probe_direct_io};

#[test]
fn a_log_on_dev_shm_works_and_reports_its_path() {
    for_each_io_mode(log_on_dev_shm);
}

fn log_on_dev_shm(io_mode: IoMode) {
    let shm = std::path::Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("/dev/shm does not exist here; nothing to test");
        return;
    }
    let dir = tempfile::tempdir_in(shm).unwrap();
    let direct_supported = match probe_direct_io(dir.path()) {
        Ok(_) => true,
        Err(DirectIoError::Unsupported { .. }) => false,
        Err(e) => panic!("probe failed: {e}"),
    };
    let log = open_log(dir.path(), common::config(io_mode));
    let path = log.io_path();
    if path != ringlog::IoPath::Mmap {
        assert_eq!(
            path.is_direct(),
            direct_supported,
            "path {path} vs probe {direct_supported}"
        );
        if !direct_supported {
            let reason = log
                .shared()
                .fallback_reason()
                .expect("the log says why it is buffered");
            assert!(
                reason.contains("tmpfs") && reason.contains("buffered"),
                "{reason}"
            );
        }
    }
    eprintln!("/dev/shm: O_DIRECT supported: {direct_supported}; path {path}");
    for i in 0..50u8 {
        log.append(&[Record {
            key: Some(b"k"),
            value: Some(&[i; 300]),
            timestamp_ms: i64::from(i),
            headers: &[],
        }])
        .unwrap();
    }
    log.close().unwrap();
    drop(log);
    let log = open_log(dir.path(), common::config(io_mode));
    let records = log.read_records(0, 1 << 20).unwrap();
    assert_eq!(records.len(), 50);
    assert_eq!(records[49].value.as_deref(), Some(&[49u8; 300][..]));
}
