//! `logtool verify`: checks a partition directory's segment files against the format and
//! Kafka's index rules, reading them straight from disk.
//!
//! Checked per segment:
//! - every batch validates (lengths, magic, CRC-32C, records);
//! - offsets increase without overlap across batches and segments (compacted logs have gaps),
//!   and a segment's base offset is at most its first batch's base offset;
//! - the offset index decodes, and each entry points at the start of a batch whose last
//!   offset is `base + relative_offset`;
//! - the time index decodes, each entry's offset lies within the segment's batches and its
//!   timestamp is at most the segment's largest timestamp.
//!
//! A zero-filled tail after the last batch (preallocated space left by an unclean shutdown) is
//! a warning: recovery trims it at the next open.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use ringlog::record::{BatchLimits, validate_batch};
use ringlog::segment::index::{IndexError, OFFSET_ENTRY_BYTES, OffsetIndex};
use ringlog::segment::time_index::{TIME_ENTRY_BYTES, TimeIndex};

use crate::fail;
use crate::location::PartitionLocation;
use crate::segments::{BatchReader, FileError, Item, SegmentFiles, display_name, list_segments};

/// Arguments of `logtool verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    location: PartitionLocation,
}

/// Problems, warnings and totals gathered over the whole directory.
#[derive(Default)]
struct Report {
    problems: Vec<String>,
    warnings: Vec<String>,
    segment_count: usize,
    batch_count: u64,
    record_count: u64,
    batch_bytes: u64,
}

/// A batch that validated, as the index checks need it.
#[derive(Clone, Copy)]
struct BatchInfo {
    position: u64,
    size_bytes: u64,
    base_offset: i64,
    last_offset: i64,
}

/// What the walk through one `.log` file found.
#[derive(Default)]
struct LogScan {
    batches: Vec<BatchInfo>,
    /// Positions of whole batches that failed validation.
    invalid_positions: Vec<u64>,
    /// Largest batch max-timestamp, if any batch validated.
    max_timestamp: Option<i64>,
}

/// Runs `logtool verify`.
pub fn run(args: &VerifyArgs) -> ExitCode {
    let dir = match args.location.dir() {
        Ok(dir) => dir,
        Err(message) => return fail(&message),
    };
    match verify_dir(&dir) {
        Ok(report) => print_report(&dir, &report),
        Err(e) => fail(&e.to_string()),
    }
}

fn print_report(dir: &Path, report: &Report) -> ExitCode {
    for warning in &report.warnings {
        println!("warning: {warning}");
    }
    for problem in &report.problems {
        println!("error: {problem}");
    }
    println!(
        "{}: {} segment(s), {} batch(es), {} record(s), {} batch bytes",
        dir.display(),
        report.segment_count,
        report.batch_count,
        report.record_count,
        report.batch_bytes
    );
    if report.problems.is_empty() {
        println!("ok ({} warning(s))", report.warnings.len());
        ExitCode::SUCCESS
    } else {
        println!("FAILED: {} problem(s)", report.problems.len());
        ExitCode::from(1)
    }
}

fn verify_dir(dir: &Path) -> Result<Report, FileError> {
    if !dir.is_dir() {
        let source = std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory");
        return Err(FileError::new("verify", dir, source));
    }
    let segments = list_segments(dir)?;
    let mut report = Report {
        segment_count: segments.len(),
        ..Report::default()
    };
    // The offset the next batch must start at; `None` at the start or after a bad batch.
    let mut expected_next: Option<i64> = None;
    for segment in &segments {
        let name = display_name(&segment.log);
        if let Some(next) = expected_next
            && (segment.base_offset as i64) < next
        {
            report.problems.push(format!(
                "{name}: segment base offset {} overlaps the previous segment, which ends at \
                 offset {}",
                segment.base_offset,
                next - 1
            ));
        }
        let scan = scan_log(segment, &mut expected_next, &mut report)?;
        check_offset_index(segment, &scan, &mut report)?;
        check_time_index(segment, &scan, &mut report)?;
    }
    Ok(report)
}

/// Validates every batch of `segment`'s `.log` file and checks offset continuity.
fn scan_log(
    segment: &SegmentFiles,
    expected_next: &mut Option<i64>,
    report: &mut Report,
) -> Result<LogScan, FileError> {
    let name = display_name(&segment.log);
    let limits = BatchLimits {
        max_batch_bytes: usize::MAX,
        require_contiguous_offsets: false,
    };
    let mut scan = LogScan::default();
    for item in BatchReader::open(&segment.log)? {
        let (position, bytes) = match item? {
            Item::Batch { position, bytes } => (position, bytes),
            Item::ZeroTail {
                position,
                zero_bytes,
            } => {
                report.warnings.push(format!(
                    "{name}: {zero_bytes} zero bytes from position {position} to the end \
                     (preallocated space after an unclean shutdown; recovery trims it)"
                ));
                break;
            }
            Item::Unparsable { position, error } => {
                report.problems.push(format!(
                    "{name}: unparsable tail at position {position}: {error}"
                ));
                break;
            }
        };
        let header = match validate_batch(&bytes, &limits) {
            Ok(header) => header,
            Err(e) => {
                report
                    .problems
                    .push(format!("{name}: invalid batch at position {position}: {e}"));
                scan.invalid_positions.push(position);
                *expected_next = None;
                continue;
            }
        };
        let batch = BatchInfo {
            position,
            size_bytes: bytes.len() as u64,
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
        };
        check_continuity(segment, &name, &scan, batch, *expected_next, report);
        *expected_next = Some(batch.last_offset.saturating_add(1));
        scan.max_timestamp = scan.max_timestamp.max(Some(header.max_timestamp));
        scan.batches.push(batch);
        report.batch_count += 1;
        report.record_count += u64::try_from(header.records_count).unwrap_or(0);
        report.batch_bytes += bytes.len() as u64;
    }
    Ok(scan)
}

fn check_continuity(
    segment: &SegmentFiles,
    name: &str,
    scan: &LogScan,
    batch: BatchInfo,
    expected_next: Option<i64>,
    report: &mut Report,
) {
    let position = batch.position;
    if scan.batches.is_empty() && batch.base_offset < segment.base_offset as i64 {
        report.problems.push(format!(
            "{name}: first batch at position {position} has base offset {}, below the \
             segment's base offset {}",
            batch.base_offset, segment.base_offset
        ));
    }
    // Compaction leaves gaps (removed offsets); offsets may skip ahead but never repeat or go
    // back.
    if let Some(expected) = expected_next
        && batch.base_offset < expected
    {
        report.problems.push(format!(
            "{name}: batch at position {position} has base offset {}, below {expected} \
             (one past the previous batch's last offset): offsets overlap",
            batch.base_offset
        ));
    }
}

/// Reads an index file; a missing file is a problem, not an I/O error.
fn read_index(path: &Path, report: &mut Report) -> Result<Option<Vec<u8>>, FileError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report
                .problems
                .push(format!("{}: missing", display_name(path)));
            Ok(None)
        }
        Err(e) => Err(FileError::new("read", path, e)),
    }
}

/// A decode failure, with the byte position of the offending entry where there is one.
fn index_error(name: &str, error: &IndexError, entry_bytes: usize) -> String {
    match error {
        IndexError::OutOfOrder { entry, .. } | IndexError::PastEnd { entry, .. } => {
            format!(
                "{name}: entry {entry} at position {}: {error}",
                entry * entry_bytes
            )
        }
        _ => format!("{name}: {error}"),
    }
}

fn check_offset_index(
    segment: &SegmentFiles,
    scan: &LogScan,
    report: &mut Report,
) -> Result<(), FileError> {
    let name = display_name(&segment.index);
    let Some(bytes) = read_index(&segment.index, report)? else {
        return Ok(());
    };
    // Entries may point no further than the last valid batch.
    let log_bytes = scan.batches.last().map_or(0, |b| b.position + b.size_bytes);
    let index = match OffsetIndex::decode(&bytes, log_bytes) {
        Ok(index) => index,
        Err(e) => {
            report
                .problems
                .push(index_error(&name, &e, OFFSET_ENTRY_BYTES));
            return Ok(());
        }
    };
    let by_position: HashMap<u64, i64> = scan
        .batches
        .iter()
        .map(|b| (b.position, b.last_offset))
        .collect();
    for (number, entry) in index.entries().iter().enumerate() {
        let at = number * OFFSET_ENTRY_BYTES;
        let offset = segment.base_offset as i64 + i64::from(entry.relative_offset);
        let position = u64::from(entry.position);
        match by_position.get(&position) {
            None if scan.invalid_positions.contains(&position) => report.problems.push(format!(
                "{name}: entry {number} at position {at} (offset {offset}) points to the \
                 invalid batch at log position {position}"
            )),
            None => report.problems.push(format!(
                "{name}: entry {number} at position {at} (offset {offset}) points to log \
                 position {}, which is not the start of a valid batch",
                entry.position
            )),
            Some(&last) if last != offset => report.problems.push(format!(
                "{name}: entry {number} at position {at} says offset {offset} is in the batch \
                 at log position {}, whose last offset is {last}",
                entry.position
            )),
            Some(_) => {}
        }
    }
    Ok(())
}

fn check_time_index(
    segment: &SegmentFiles,
    scan: &LogScan,
    report: &mut Report,
) -> Result<(), FileError> {
    let name = display_name(&segment.time_index);
    let Some(bytes) = read_index(&segment.time_index, report)? else {
        return Ok(());
    };
    let (Some(first), Some(last), Some(max_timestamp)) = (
        scan.batches.first(),
        scan.batches.last(),
        scan.max_timestamp,
    ) else {
        if !bytes.is_empty() {
            report.problems.push(format!(
                "{name}: {} bytes of entries, but the segment has no valid batch",
                bytes.len()
            ));
        }
        return Ok(());
    };
    let base = segment.base_offset as i64;
    let max_relative = u32::try_from(last.last_offset - base).unwrap_or(u32::MAX);
    let index = match TimeIndex::decode(&bytes, max_relative) {
        Ok(index) => index,
        Err(e) => {
            report
                .problems
                .push(index_error(&name, &e, TIME_ENTRY_BYTES));
            return Ok(());
        }
    };
    for (number, entry) in index.entries().iter().enumerate() {
        let at = number * TIME_ENTRY_BYTES;
        let offset = base + i64::from(entry.relative_offset);
        if offset < first.base_offset {
            report.problems.push(format!(
                "{name}: entry {number} at position {at} refers to offset {offset}, before the \
                 segment's first offset {}",
                first.base_offset
            ));
        }
        if entry.timestamp_ms > max_timestamp {
            report.problems.push(format!(
                "{name}: entry {number} at position {at} has timestamp {}, above the \
                 segment's largest timestamp {max_timestamp}",
                entry.timestamp_ms
            ));
        }
    }
    Ok(())
}
