//! Running a peer: another tool's shell command, given the size's lake and range through
//! placeholders, in its own process under the bench's timeout.
//!
//! | placeholder | becomes |
//! |---|---|
//! | `{lake}` | the lake's folder (or URL) |
//! | `{start}`, `{end}` | the range's ends, RFC 3339 with nanoseconds; empty when open |
//! | `{window}` | the hunt's window in seconds |
//! | `{out}` | a Parquet file for the hunt's rows, compared with ours |
//!
//! A peer times itself where it can: if the last line it prints is JSON with `seconds` (and
//! `peak_rss` in bytes, `rows` when it writes no `{out}`), those are its figures, as ours
//! cover the query and not the start of the process; otherwise its whole process is timed,
//! and its peak memory is the kernel's count for the process.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat};
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde::Deserialize;

use super::process::{Ended, run_child};
use super::{BenchError, Measurement, Outcome, Peer, Size};

/// The placeholder of the file a peer writes its rows to.
pub const OUT: &str = "{out}";

/// What a peer may say of its own run.
#[derive(Debug, Default, Deserialize)]
struct OwnFigures {
    seconds: Option<f64>,
    peak_rss: Option<u64>,
    /// Its result's rows, where it writes none to `{out}` (a scan floor).
    rows: Option<u64>,
}

/// Runs `peer` on `size`, its rows (if it returns rows) going to `out`.
///
/// # Errors
/// The shell cannot be started, or the rows it wrote cannot be read.
pub(super) fn run(
    peer: &Peer,
    size: &Size,
    out: &Path,
    timeout: Duration,
) -> Result<Outcome, BenchError> {
    let mut shell = Command::new("sh");
    shell.arg("-c").arg(command_line(&peer.command, size, out));
    let (stdout, seconds, peak_rss) = match run_child(shell, timeout)? {
        Ended::Succeeded {
            stdout,
            seconds,
            peak_rss,
            ..
        } => (stdout, seconds, peak_rss),
        Ended::Failed(reason) => return Ok(Outcome::Failed(reason)),
        Ended::TimedOut => return Ok(Outcome::TimedOut),
    };
    let own: OwnFigures = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_default();
    let result_rows = match peer.command.contains(OUT) {
        false => own.rows.unwrap_or(0),
        true => {
            let rows = std::fs::File::open(out)
                .map_err(|e| e.to_string())
                .and_then(|file| SerializedFileReader::new(file).map_err(|e| e.to_string()))
                .map(|reader| reader.metadata().file_metadata().num_rows());
            match rows {
                Ok(rows) => rows as u64,
                Err(reason) => {
                    let reason = format!("{} wrote no readable {}: {reason}", peer.name, OUT);
                    return Ok(Outcome::Failed(reason));
                }
            }
        }
    };
    Ok(Outcome::Finished(Measurement {
        seconds: own.seconds.unwrap_or(seconds),
        rows_scanned: None,
        result_rows,
        peak_rss: own.peak_rss.or(peak_rss),
        operator_peak: None,
    }))
}

/// `command` with its placeholders filled in for `size`.
fn command_line(command: &str, size: &Size, out: &Path) -> String {
    let time = |nanos: Option<i64>| {
        nanos
            .map(DateTime::from_timestamp_nanos)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true))
            .unwrap_or_default()
    };
    let window = size.params.window as f64 / 1e9;
    command
        .replace("{lake}", &size.lake.to_string_lossy())
        .replace("{start}", &time(size.params.start))
        .replace("{end}", &time(size.params.end))
        .replace("{window}", &window.to_string())
        .replace(OUT, &out.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hunt::HuntParams;

    #[test]
    fn placeholders_name_the_lake_the_range_and_the_output() {
        let size = Size {
            label: "a day".into(),
            days: Some(1),
            lake: "/data/lake".into(),
            params: HuntParams {
                start: Some(1_772_409_600_000_000_000),
                end: None,
                window: 600_000_000_000,
                ..HuntParams::default()
            },
        };
        assert_eq!(
            command_line(
                "x '{lake}' {start}|{end}|{window} {out}",
                &size,
                Path::new("/o.pq")
            ),
            "x '/data/lake' 2026-03-02T00:00:00.000000000Z||600 /o.pq"
        );
    }
}
