//! Rows read but not yet written, committed to the lake in rounds of bounded size.
//!
//! A commit rewrites the file of every date its rows fall on, so a date committed in two
//! rounds is written twice. Files are read in pieces, and a round fills up while some files are
//! half read: a day of a large tenant's Parquet (one date, hundreds of MB of rows) would be
//! written once with the pieces read so far and again with the rest. So a round leaves the
//! rows of the dates that files still being read have reached for the next round, unless they
//! are nearly all of it (one file adding to one date for longer than a round is committed as
//! it comes). The manifest records a file once all of its rows are committed.

use std::collections::BTreeSet;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use chrono::NaiveDate;

use super::IngestError;
use super::reader::FileOutcome;
use super::summary::Summary;
use crate::lake::{LakeWriter, Manifest, Source, layout};
use crate::schema::{Table, time_generated as times};

/// Per table, batches of rows with the input (its index in the listing) each came from.
type Rows = [Vec<(usize, RecordBatch)>; Table::COUNT];

/// Rows waiting to be committed.
#[derive(Debug, Default)]
pub(super) struct Round {
    batches: Rows,
    /// Inputs read to their end, with the source the manifest records once their rows are in.
    finished: Vec<(usize, Source)>,
    /// Inputs some of whose pieces have arrived, but not their last.
    reading: BTreeSet<usize>,
    /// Arrow memory of the rows held.
    pub bytes: usize,
}

impl Round {
    /// Takes the rows of `outcome`, a piece of input `input` (its last if it names its source).
    pub fn add(&mut self, input: usize, outcome: &mut FileOutcome) {
        for table in Table::ALL {
            let batches = std::mem::take(&mut outcome.batches[table as usize]);
            self.bytes += batches
                .iter()
                .map(RecordBatch::get_array_memory_size)
                .sum::<usize>();
            self.batches[table as usize].extend(batches.into_iter().map(|b| (input, b)));
        }
        match outcome.source.take() {
            Some(source) => {
                self.reading.remove(&input);
                self.finished.push((input, source));
            }
            None => {
                self.reading.insert(input);
            }
        }
    }

    /// Commits the rows held, but those of dates that inputs still being read have reached
    /// (unless they are nearly all the rows, or `everything`), and records in the manifest the
    /// inputs whose rows are all in.
    ///
    /// # Errors
    /// A lake write that fails.
    pub fn commit(
        &mut self,
        lake: &LakeWriter,
        manifest: &mut Manifest,
        summary: &mut Summary,
        everything: bool,
    ) -> Result<(), IngestError> {
        let (now, later) = self.split(everything);
        if now.iter().any(|b| !b.is_empty()) {
            summary.rounds += 1;
        }
        let waiting: BTreeSet<usize> = later.iter().flatten().map(|(input, _)| *input).collect();
        let (done, still): (Vec<_>, Vec<_>) = std::mem::take(&mut self.finished)
            .into_iter()
            .partition(|(input, _)| !waiting.contains(input));
        lake.publish(|| -> Result<(), IngestError> {
            for (table, batches) in Table::ALL.into_iter().zip(now) {
                let batches = batches.into_iter().map(|(_, batch)| batch).collect();
                let stats = lake.commit(table, batches)?;
                summary.add_commit(table, stats);
            }
            if !done.is_empty() {
                for (_, source) in done {
                    manifest.record(source);
                }
                lake.save_manifest(manifest)?;
            }
            Ok(())
        })?;
        self.bytes = later
            .iter()
            .flatten()
            .map(|(_, batch)| batch.get_array_memory_size())
            .sum();
        self.batches = later;
        self.finished = still;
        Ok(())
    }

    /// The rows to commit now, and those to leave for the next round.
    fn split(&mut self, everything: bool) -> (Rows, Rows) {
        let all = std::mem::take(&mut self.batches);
        if everything || self.reading.is_empty() {
            return (all, Default::default());
        }
        let reached: [BTreeSet<NaiveDate>; Table::COUNT] = all.each_ref().map(|batches| {
            batches
                .iter()
                .filter(|(input, _)| self.reading.contains(input))
                .flat_map(|(_, batch)| times(batch).iter().map(|&t| layout::date_of(t)))
                .collect()
        });
        // Which rows wait, and about how much memory they hold, before anything is copied.
        let waits: [Vec<BooleanArray>; Table::COUNT] = std::array::from_fn(|table| {
            all[table]
                .iter()
                .map(|(_, batch)| {
                    let reached = &reached[table];
                    times(batch)
                        .iter()
                        .map(|&t| Some(reached.contains(&layout::date_of(t))))
                        .collect()
                })
                .collect()
        });
        let later_bytes: usize = all
            .iter()
            .flatten()
            .zip(waits.iter().flatten())
            .map(|((_, batch), waits)| {
                batch.get_array_memory_size() * waits.true_count() / batch.num_rows().max(1)
            })
            .sum();
        // Holding nearly all of the round back would hold it all the longer: commit it as it
        // is. (Holding back at most half of it was no better: BENCHMARKS.md.)
        if later_bytes * 8 >= self.bytes * 7 {
            return (all, Default::default());
        }
        let (mut now, mut later) = (Rows::default(), Rows::default());
        for (table, batches) in all.into_iter().enumerate() {
            for ((input, batch), waits) in batches.into_iter().zip(&waits[table]) {
                let (waiting, going) = (waits.true_count(), waits.false_count());
                if going > 0 {
                    let kept = arrow::compute::not(waits).expect("no nulls");
                    now[table].push((input, filtered(&batch, &kept, going)));
                }
                if waiting > 0 {
                    later[table].push((input, filtered(&batch, waits, waiting)));
                }
            }
        }
        (now, later)
    }
}

/// The rows of `batch` that `keep` selects (`kept` of them).
fn filtered(batch: &RecordBatch, keep: &BooleanArray, kept: usize) -> RecordBatch {
    if kept == batch.num_rows() {
        return batch.clone();
    }
    filter_record_batch(batch, keep).expect("a mask as long as the batch")
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::ingest::row::{Row, RowsBuilder};
    use crate::schema::Text;

    const DAY: i64 = 86_400_000_000_000;

    /// A piece of input `name` with `rows` sign-ins on day `day` of 1970; its last piece if
    /// `last`.
    fn piece(name: &str, day: i64, rows: usize, last: bool) -> FileOutcome {
        let mut builder = RowsBuilder::default();
        for n in 0..rows {
            let mut row = Row::default();
            row.text[Text::Id as usize] = Cow::Owned(format!("{name}-{day}-{rows}-{n}"));
            row.text[Text::UserPrincipalName as usize] = Cow::Borrowed("a@x.com");
            builder.append(&row, day * DAY + n as i64);
        }
        let mut outcome = FileOutcome::default();
        outcome.batches[Table::Signin as usize].push(builder.finish());
        outcome.source = last.then(|| Source {
            path: PathBuf::from(name),
            size: 1,
            hash: String::new(),
            etag: None,
            resume: None,
        });
        outcome
    }

    fn empty_lake() -> (tempfile::TempDir, LakeWriter, Manifest) {
        let dir = tempfile::tempdir().unwrap();
        let lake = LakeWriter::open(dir.path(), || {}).unwrap();
        let manifest = lake.manifest().unwrap();
        (dir, lake, manifest)
    }

    fn rows_on(lake: &Path, day: i64) -> Option<usize> {
        let date = layout::date_of(day * DAY);
        let file = layout::data_file(lake, Table::Signin, date);
        let batches = crate::lake::read_file(&file).ok()?;
        Some(batches.iter().map(RecordBatch::num_rows).sum())
    }

    /// Input 0 is half read (day 1) when the round is committed: its day waits, and with it the
    /// rows input 2 (read to its end) has on that day, so input 2 is not yet recorded. Input 1's
    /// day is written. Once input 0 ends, day 1 is written once, with every row, and both are
    /// recorded.
    #[test]
    fn rows_of_a_day_still_being_read_wait_for_the_next_round() {
        let (dir, lake, mut manifest) = empty_lake();
        let (mut summary, mut round) = (Summary::default(), Round::default());
        // Memory, not rows, is what is weighed: input 1's rows must be most of it.
        round.add(0, &mut piece("zero", 1, 10, false));
        round.add(1, &mut piece("one", 2, 20_000, true));
        round.add(2, &mut piece("two", 1, 5, true));
        round
            .commit(&lake, &mut manifest, &mut summary, false)
            .unwrap();
        assert_eq!(rows_on(dir.path(), 1), None);
        assert_eq!(rows_on(dir.path(), 2), Some(20_000));
        let recorded = |name: &str| lake.manifest().unwrap().get(Path::new(name)).is_some();
        assert!(recorded("one") && !recorded("two") && !recorded("zero"));
        assert!(round.bytes > 0);

        round.add(0, &mut piece("zero", 1, 3, true));
        round
            .commit(&lake, &mut manifest, &mut summary, false)
            .unwrap();
        assert_eq!(rows_on(dir.path(), 1), Some(18));
        assert!(recorded("two") && recorded("zero"));
        assert_eq!((round.bytes, summary.rounds), (0, 2));
        assert_eq!(summary.written(), 20_018);
    }

    /// Rows of days being read that are nearly all of the round are committed at once: holding
    /// them back would only make the round larger.
    #[test]
    fn a_round_that_is_mostly_one_day_being_read_is_committed_whole() {
        let (dir, lake, mut manifest) = empty_lake();
        let (mut summary, mut round) = (Summary::default(), Round::default());
        round.add(0, &mut piece("zero", 1, 50_000, false));
        round.add(1, &mut piece("one", 2, 10, true));
        round
            .commit(&lake, &mut manifest, &mut summary, false)
            .unwrap();
        assert_eq!(rows_on(dir.path(), 1), Some(50_000));
        assert_eq!(rows_on(dir.path(), 2), Some(10));
        assert_eq!(round.bytes, 0);
    }
}
