//! Adding rows to a table: merge them with the files of the dates they touch, drop duplicates
//! (docs/tables.md: same non-empty `Id`, the copy with the earliest `TimeGenerated` wins, even
//! across dates), and swap each changed date's file in atomically, so each (table, date) stays
//! one sorted file.
//!
//! Re-deliveries arrive hours, not weeks, after the original, so a duplicate is looked for in
//! the dates the new rows fall on and the day either side of them: that keeps a commit's cost
//! proportional to what it adds, not to the size of the lake.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ahash::RandomState;
use arrow::array::{AsArray, RecordBatch};
use chrono::{Days, NaiveDate};

use super::error::LakeError;
use super::file::{self, Part};
use super::layout;
use crate::schema::{Table, Text, time_generated as times};

/// What a commit did with the rows it was given.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    /// New rows now in the lake.
    pub written: u64,
    /// New rows dropped because the lake or the same batch has an earlier copy.
    pub duplicates: u64,
    /// Rows already in the lake replaced by an earlier copy that arrived now.
    pub superseded: u64,
    /// Date files written.
    pub files_written: u64,
}

/// Where a table's date files are kept, one (table, date) file at a time: a folder on local
/// disk, or a store's snapshot (`remote.rs`).
pub(super) trait DateFiles: Sync {
    /// The dates that have a file.
    fn dates(&self, table: Table) -> Result<BTreeSet<NaiveDate>, LakeError>;
    /// The date's rows (`part` of their columns); none if it has no file.
    fn read(
        &self,
        table: Table,
        date: NaiveDate,
        part: Part,
    ) -> Result<Vec<RecordBatch>, LakeError>;
    /// Replaces the date's file by the `rows` of `batches`, sorted.
    fn write(
        &self,
        table: Table,
        date: NaiveDate,
        batches: &[RecordBatch],
        rows: &[(usize, usize)],
    ) -> Result<(), LakeError>;
    /// A date whose every row was superseded by an earlier copy on another date.
    fn remove(&self, table: Table, date: NaiveDate) -> Result<(), LakeError>;
}

/// A lake folder on local disk: files replaced by rename from `_staging/`.
pub(super) struct LocalFiles<'a>(pub(super) &'a Path);

impl DateFiles for LocalFiles<'_> {
    fn dates(&self, table: Table) -> Result<BTreeSet<NaiveDate>, LakeError> {
        let dates = layout::dates(self.0, table)
            .map_err(|e| LakeError::io(&layout::table_dir(self.0, table), e))?;
        Ok(dates.into_iter().collect())
    }

    fn read(
        &self,
        table: Table,
        date: NaiveDate,
        part: Part,
    ) -> Result<Vec<RecordBatch>, LakeError> {
        let path = layout::data_file(self.0, table, date);
        if path.exists() {
            file::read_part(&path, part)
        } else {
            Ok(Vec::new())
        }
    }

    fn write(
        &self,
        table: Table,
        date: NaiveDate,
        batches: &[RecordBatch],
        rows: &[(usize, usize)],
    ) -> Result<(), LakeError> {
        let target = layout::data_file(self.0, table, date);
        file::write_sorted(&layout::staging_dir(self.0), &target, batches, rows)
    }

    fn remove(&self, table: Table, date: NaiveDate) -> Result<(), LakeError> {
        let target = layout::data_file(self.0, table, date);
        std::fs::remove_file(&target).map_err(|e| LakeError::io(&target, e))?;
        let dir = layout::date_dir(self.0, table, date);
        // Another tool's files may share the folder; then it stays.
        let _ = std::fs::remove_dir(dir);
        Ok(())
    }
}

/// Merges `new` (lake-schema batches) into `table`.
pub(super) fn commit(
    files: &impl DateFiles,
    table: Table,
    new: Vec<RecordBatch>,
) -> Result<CommitStats, LakeError> {
    let new: Vec<RecordBatch> = new.into_iter().filter(|b| b.num_rows() > 0).collect();
    if new.is_empty() {
        return Ok(CommitStats::default());
    }
    let new_dates: BTreeSet<NaiveDate> = new
        .iter()
        .flat_map(|b| times(b).iter().map(|&t| layout::date_of(t)))
        .collect();
    let existing = files.dates(table)?;
    // The dates the new rows fall on are rewritten with them, so they are read whole. The
    // days either side only lend their `Id`s to the search for duplicates: they are read
    // whole only once one of their rows turns out to be superseded (then they change too).
    let mut whole: BTreeSet<NaiveDate> = new_dates.intersection(&existing).copied().collect();
    let around: BTreeSet<NaiveDate> = new_dates
        .iter()
        .flat_map(|&d| {
            [
                d.checked_sub_days(Days::new(1)),
                d.checked_add_days(Days::new(1)),
            ]
        })
        .flatten()
        .filter(|d| existing.contains(d))
        .collect();
    loop {
        let keys_only: BTreeSet<NaiveDate> = around.difference(&whole).copied().collect();
        match merge(files, table, &new, &whole, &keys_only)? {
            Merged::Written(stats) => return Ok(stats),
            Merged::Superseded(dates) => whole.extend(dates),
        }
    }
}

enum Merged {
    Written(CommitStats),
    /// Days read for their keys alone that hold rows the new ones supersede.
    Superseded(BTreeSet<NaiveDate>),
}

/// [`commit`] with the old rows of `whole` read whole and those of `keys_only` read for their
/// keys.
fn merge(
    files: &impl DateFiles,
    table: Table,
    new: &[RecordBatch],
    whole: &BTreeSet<NaiveDate>,
    keys_only: &BTreeSet<NaiveDate>,
) -> Result<Merged, LakeError> {
    // Old rows first: on a tie they win, so re-ingesting never rewrites a file.
    let mut batches = Vec::new();
    for &date in whole {
        batches.extend(files.read(table, date, Part::Whole)?);
    }
    let old_batches = batches.len();
    batches.extend(new.iter().cloned());
    let mut keys = Vec::new();
    for &date in keys_only {
        keys.extend(files.read(table, date, Part::Keys)?);
    }
    // Every batch's keys, in the order they compete: old whole, old keys, new.
    let key_batches: Vec<&RecordBatch> = batches[..old_batches]
        .iter()
        .chain(&keys)
        .chain(&batches[old_batches..])
        .collect();
    let old_keys = old_batches + keys.len();

    let mut keep: Vec<Vec<bool>> = key_batches
        .iter()
        .map(|b| vec![true; b.num_rows()])
        .collect();
    let mut stats = CommitStats::default();
    let mut changed: BTreeSet<NaiveDate> = BTreeSet::new();
    let mut short: BTreeSet<NaiveDate> = BTreeSet::new();
    {
        // One entry per row: sized up front, and hashed with aHash, not SipHash (the ids
        // are Microsoft's, so a keyed fast hash is enough against crafted collisions).
        let rows = key_batches.iter().map(|b| b.num_rows()).sum();
        let mut winners: HashMap<&str, (usize, usize), RandomState> =
            HashMap::with_capacity_and_hasher(rows, RandomState::new());
        for (b, batch) in key_batches.iter().enumerate() {
            let ids = batch
                .column_by_name(Text::Id.name())
                .expect("lake batches hold Id")
                .as_string::<i32>();
            let batch_times = times(batch);
            for (r, id) in ids.iter().enumerate() {
                let Some(id) = id.filter(|id| !id.is_empty()) else {
                    continue;
                };
                let Some(&(wb, wr)) = winners.get(id) else {
                    winners.insert(id, (b, r));
                    continue;
                };
                let winner_time = times(key_batches[wb])[wr];
                let (loser_b, loser_r) = if batch_times[r] < winner_time {
                    winners.insert(id, (b, r));
                    (wb, wr)
                } else {
                    (b, r)
                };
                keep[loser_b][loser_r] = false;
                let loser_date = || layout::date_of(times(key_batches[loser_b])[loser_r]);
                if loser_b < old_batches {
                    stats.superseded += 1;
                    changed.insert(loser_date());
                } else if loser_b < old_keys {
                    short.insert(loser_date());
                } else {
                    stats.duplicates += 1;
                }
            }
        }
    }
    if !short.is_empty() {
        return Ok(Merged::Superseded(short));
    }

    // The keys-only batches hold no row of a date that changes: leave them out.
    keep.drain(old_batches..old_keys);
    let mut rows_by_date: BTreeMap<NaiveDate, Vec<(usize, usize)>> = BTreeMap::new();
    for (b, batch) in batches.iter().enumerate() {
        for (r, &t) in times(batch).iter().enumerate() {
            if !keep[b][r] {
                continue;
            }
            let date = layout::date_of(t);
            if b >= old_batches {
                stats.written += 1;
                changed.insert(date);
            }
            rows_by_date.entry(date).or_default().push((b, r));
        }
    }
    let changed: Vec<NaiveDate> = changed.into_iter().collect();
    // Each date is its own file: sorting and compressing them is spread over the cores.
    let written = in_parallel(&changed, |&date| match rows_by_date.get(&date) {
        Some(rows) => files.write(table, date, &batches, rows).map(|()| 1),
        None => files.remove(table, date).map(|()| 0),
    })?;
    stats.files_written = written.iter().sum();
    Ok(Merged::Written(stats))
}

/// `work` on every item, on up to one thread per core; the first error wins (the other
/// threads finish the item they hold and stop).
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> Result<R, LakeError> + Sync,
) -> Result<Vec<R>, LakeError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(items.len());
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Vec<Vec<(usize, Result<R, LakeError>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        let result = work(item);
                        failed.fetch_or(result.is_err(), Ordering::Relaxed);
                        done.push((i, result));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut results: Vec<(usize, Result<R, LakeError>)> = results.into_iter().flatten().collect();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, result)| result).collect()
}
