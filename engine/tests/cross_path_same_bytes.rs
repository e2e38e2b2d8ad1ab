//! Every I/O path writes the same bytes, and a directory written by one path is opened, read
//! and appended to by every other (both ways, after a clean close and after a crash).

mod common;

use std::path::Path;

use common::{
    Expected, append_rows, config, numbered_batches, open_log, read_all, remove_clean_marker,
};
use ringlog::{Config, IoMode};

/// Small segments so that rolls, sealed segments and an active segment are all involved.
fn small_segments(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: 64 * 1024,
        max_batch_bytes: 32 * 1024,
        ..config(io_mode)
    }
}

fn rows(first_offset: u64) -> Vec<Vec<Expected>> {
    // Fixed timestamps, so that the bytes do not depend on when the test runs.
    numbered_batches(first_offset, 40, 7, 300, |offset| {
        1_700_000_000_000 + offset as i64
    })
}

fn write(dir: &Path, io_mode: IoMode, first_offset: u64) -> Vec<Expected> {
    let log = open_log(dir, small_segments(io_mode));
    assert_eq!(log.next_offset(), first_offset);
    let batches = rows(first_offset);
    for batch in &batches {
        append_rows(&log, batch);
    }
    log.close().unwrap();
    batches.into_iter().flatten().collect()
}

/// File name and contents.
type NamedFile = (String, Vec<u8>);

/// The bytes of every file in `dir` except the clean-shutdown marker, by name.
fn files(dir: &Path) -> Vec<NamedFile> {
    let mut out: Vec<NamedFile> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != ringlog::CLEAN_SHUTDOWN_FILE)
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_path_writes_the_same_bytes() {
    let mut reference: Option<(IoMode, Vec<NamedFile>)> = None;
    for &io_mode in IoMode::PATHS {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), io_mode, 0);
        let bytes = files(dir.path());
        assert!(
            bytes.len() >= 6,
            "several segments with both indexes: {}",
            bytes.len()
        );
        match &reference {
            None => reference = Some((io_mode, bytes)),
            Some((first, expected)) => {
                let names =
                    |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
                assert_eq!(
                    names(&bytes),
                    names(expected),
                    "{io_mode:?} vs {first:?}: file names"
                );
                for ((name, ours), (_, theirs)) in bytes.iter().zip(expected) {
                    assert!(
                        ours == theirs,
                        "{name} differs between {io_mode:?} and {first:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_directory_written_by_one_path_is_read_and_appended_by_every_other() {
    for &writer in IoMode::PATHS {
        for &reader in IoMode::PATHS.iter().filter(|&&m| m != writer) {
            for crash in [false, true] {
                eprintln!("written by {writer:?}, reopened by {reader:?}, crash: {crash}");
                let dir = tempfile::tempdir().unwrap();
                let mut expected = write(dir.path(), writer, 0);
                if crash {
                    remove_clean_marker(dir.path());
                }
                let log = open_log(dir.path(), small_segments(reader));
                assert_eq!(
                    read_all(&log),
                    expected,
                    "{reader:?} reads what {writer:?} wrote"
                );
                let first = log.next_offset();
                drop(log);
                expected.extend(write(dir.path(), reader, first));
                let log = open_log(dir.path(), small_segments(writer));
                assert_eq!(read_all(&log), expected, "{writer:?} reads what both wrote");
            }
        }
    }
}
