//! `logtool dump`: prints every batch (and with `--records` every record) of every segment, in
//! offset order, read straight from the segment files.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use ringlog::record::format::batch_crc;
use ringlog::record::{BatchHeader, BatchLimits, RecordView, records, validate_batch};

use crate::fail;
use crate::location::PartitionLocation;
use crate::segments::{BatchReader, FileError, Item, SegmentFiles, display_name, list_segments};

/// Characters of a key or value shown before it is cut short.
const SHOWN_CHARS: usize = 40;

/// Arguments of `logtool dump`.
#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    #[command(flatten)]
    location: PartitionLocation,
    /// Print every record of every batch too.
    #[arg(long)]
    records: bool,
}

/// Why a dump stopped.
enum DumpError {
    File(FileError),
    Stdout(io::Error),
}

impl From<FileError> for DumpError {
    fn from(e: FileError) -> Self {
        DumpError::File(e)
    }
}

impl From<io::Error> for DumpError {
    fn from(e: io::Error) -> Self {
        DumpError::Stdout(e)
    }
}

/// Runs `logtool dump`.
pub fn run(args: &DumpArgs) -> ExitCode {
    let dir = match args.location.dir() {
        Ok(dir) => dir,
        Err(message) => return fail(&message),
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let result = dump_dir(&dir, args.records, &mut out).and_then(|()| Ok(out.flush()?));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`logtool dump | head`) is the reader's choice, not a failure.
        Err(DumpError::Stdout(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(DumpError::Stdout(e)) => fail(&format!("cannot write to stdout: {e}")),
        Err(DumpError::File(e)) => fail(&e.to_string()),
    }
}

fn dump_dir(dir: &Path, with_records: bool, out: &mut impl Write) -> Result<(), DumpError> {
    let segments = list_segments(dir)?;
    writeln!(out, "{}: {} segment(s)", dir.display(), segments.len())?;
    for segment in &segments {
        dump_segment(segment, with_records, out)?;
    }
    Ok(())
}

fn dump_segment(
    segment: &SegmentFiles,
    with_records: bool,
    out: &mut impl Write,
) -> Result<(), DumpError> {
    let name = display_name(&segment.log);
    let reader = BatchReader::open(&segment.log)?;
    writeln!(
        out,
        "segment {name}: base offset {}, {} bytes",
        segment.base_offset,
        reader.file_bytes()
    )?;
    for item in reader {
        match item? {
            Item::Batch { position, bytes } => {
                dump_batch(&name, position, &bytes, with_records, out)?;
            }
            Item::ZeroTail {
                position,
                zero_bytes,
            } => writeln!(
                out,
                "{name}: zero-filled tail at position {position}: {zero_bytes} bytes \
                 (preallocated, never written)"
            )?,
            Item::Unparsable { position, error } => {
                writeln!(
                    out,
                    "{name}: unparsable tail at position {position}: {error}"
                )?;
            }
        }
    }
    Ok(())
}

fn dump_batch(
    name: &str,
    position: u64,
    bytes: &[u8],
    with_records: bool,
    out: &mut impl Write,
) -> Result<(), DumpError> {
    // The frame guarantees at least a header's worth of bytes; a failure is shown, not fatal.
    let header = match BatchHeader::parse(bytes) {
        Ok(header) => header,
        Err(e) => {
            writeln!(out, "{name}: unparsable batch at position {position}: {e}")?;
            return Ok(());
        }
    };
    let crc_valid = batch_crc(bytes) == header.crc;
    writeln!(
        out,
        "{name} position={position} base_offset={} last_offset={} records={} \
         first_timestamp={} max_timestamp={} size={} crc_valid={}",
        header.base_offset,
        header.last_offset(),
        header.records_count,
        header.base_timestamp,
        header.max_timestamp,
        bytes.len(),
        if crc_valid { "yes" } else { "no" },
    )?;
    let limits = BatchLimits {
        max_batch_bytes: usize::MAX,
        require_contiguous_offsets: false,
    };
    if crc_valid && let Err(e) = validate_batch(bytes, &limits) {
        writeln!(out, "  invalid batch: {e}")?;
    }
    if with_records {
        dump_records(bytes, out)?;
    }
    Ok(())
}

fn dump_records(bytes: &[u8], out: &mut impl Write) -> Result<(), DumpError> {
    let iter = match records(bytes) {
        Ok(iter) => iter,
        Err(e) => {
            writeln!(out, "  records unreadable: {e}")?;
            return Ok(());
        }
    };
    for record in iter {
        match record {
            Ok(record) => writeln!(out, "  {}", record_line(&record))?,
            Err(e) => writeln!(out, "  record unreadable: {e}")?,
        }
    }
    Ok(())
}

fn record_line(record: &RecordView<'_>) -> String {
    format!(
        "offset={} timestamp={} key={} value={} headers={}",
        record.offset,
        record.timestamp_ms,
        shown(record.key),
        shown(record.value),
        record.header_count()
    )
}

/// Bytes as lossy UTF-8 cut to [`SHOWN_CHARS`] characters, with the full length when cut;
/// `null` for a null key or value.
fn shown(bytes: Option<&[u8]>) -> String {
    let Some(bytes) = bytes else {
        return "null".to_string();
    };
    let text = String::from_utf8_lossy(bytes);
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(SHOWN_CHARS).collect();
    let escaped = head.escape_debug();
    if chars.next().is_some() {
        format!("\"{escaped}\"... ({} bytes)", bytes.len())
    } else {
        format!("\"{escaped}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn shown_cuts_long_values_and_marks_null() {
        assert_eq!(shown(None), "null");
        assert_eq!(shown(Some(b"key-1")), "\"key-1\"");
        let long = [b'a'; 50];
        assert_eq!(
            shown(Some(&long)),
            format!("\"{}\"... (50 bytes)", "a".repeat(40))
        );
    }
}
