//! Incremental hunts for scheduled jobs (`hunt --incremental NAME`): each run reports the
//! pairs that are in the lake now and that no earlier run of NAME reported, reading only the
//! dates that changed since the last run and a day either side.
//!
//! A run knows what changed from the date files themselves: a commit never edits a file, it
//! replaces it (lake.md), so a date whose file has another identity than the last run
//! recorded holds new rows ([`Pinned::date_files`], as of the commit the hunt reads). A pair
//! is within the window of its two rows, and
//! the window is at most a day, so every pair that involves a new row lies within its date
//! and the next or previous one. What was reported is the lake's findings table: rows of
//! that range already recorded under NAME are left out, and recorded rows the lake no longer
//! holds are retracted. The run's own record is written last, after its findings are: a run
//! killed before that is done again by the next one, which the findings table then keeps
//! from reporting anything twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Days, NaiveDate};
use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::TableReference;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use serde::{Deserialize, Serialize};

use super::{HuntParams, TimeColumn};
use crate::lake::{DateFilesError, LakeError, Pinned, Root, layout};

const DAY: i64 = 86_400 * 1_000_000_000;

/// What a run of NAME leaves for the next: the hunt's parameters (which must not change under
/// a name) and the identity of every date file it has hunted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    window: i64,
    files: BTreeMap<String, String>,
}

/// An incremental run's findings: the rows to report, and earlier reports to take back.
#[derive(Debug, Clone)]
pub struct Reconciled {
    pub new: Vec<RecordBatch>,
    /// The hunt's 14 columns of each finding an earlier run reported that is no longer in the
    /// lake.
    pub retracted: Vec<RecordBatch>,
}

impl Reconciled {
    /// Everything found is new: nothing was recorded before.
    fn new(found: Vec<RecordBatch>) -> Reconciled {
        Reconciled {
            new: found,
            retracted: Vec::new(),
        }
    }
}

/// A run of an incremental hunt.
#[derive(Debug)]
pub struct Incremental {
    name: String,
    record: Record,
    /// The state to record once this run's findings are in the lake.
    next: State,
    /// Inclusive (start, end) ranges, in ns, that hold every pair involving a changed date.
    pub ranges: Vec<(i64, i64)>,
}

/// Where NAME's runs are recorded: `LAKE/_hunts/NAME/<generation>.json`, each run adding the
/// next generation, which [`Root::create`] refuses if it exists: of two runs at once the
/// second to finish fails. In a folder, NAME's lock is held too until the run is dropped, so
/// a second run waits instead (a store has no lock a killed process releases).
#[derive(Debug)]
struct Record {
    root: Root,
    /// `_hunts/NAME`, below the lake.
    folder: String,
    generation: u64,
    /// The newest record's file name, removed once the next is written.
    last: Option<String>,
    _lock: Option<std::fs::File>,
}

/// What earlier versions of this project named the record in a folder; read as generation 0.
const LEGACY_RECORD: &str = "state.json";

impl Incremental {
    /// Takes NAME's lock in a folder (waiting for a run of the same NAME to finish; `waiting`
    /// is called once if it has to) and finds what changed in `lake`, as this run's hunt reads
    /// it, since NAME's last run.
    ///
    /// # Errors
    /// A name that is not a plain word, parameters that differ from NAME's earlier runs, a
    /// window over a day, hunting on `CreatedDateTime`, a lake holding files another tool
    /// wrote, and I/O and store errors, as text for the user.
    pub async fn start(
        lake: &Pinned,
        name: &str,
        params: &HuntParams,
        waiting: impl FnOnce(),
    ) -> std::result::Result<Incremental, String> {
        check(name, params)?;
        let root = lake.root();
        let text = |e: LakeError| e.to_string();
        let folder = format!("{}/{name}", layout::HUNTS);
        let lock = root
            .lock(&format!("{folder}/_lock"), waiting)
            .map_err(text)?;
        let files = lake.date_files().await.map_err(|error| match error {
            DateFilesError::Foreign(file) => foreign(&file),
            DateFilesError::Lake(error) => error.to_string(),
        })?;
        let mut records: Vec<(u64, String)> = root
            .list(&folder)
            .await
            .map_err(text)?
            .into_iter()
            .filter_map(|object| {
                let file = object.location.filename()?.to_string();
                let generation = match file.as_str() {
                    LEGACY_RECORD => 0,
                    _ => file.strip_suffix(".json")?.parse().ok()?,
                };
                Some((generation, file))
            })
            .collect();
        records.sort();
        let (generation, last, last_file) = match records.pop() {
            None => (0, State::default(), None),
            Some((generation, file)) => {
                let relative = format!("{folder}/{file}");
                let unreadable = |why: String| format!("{}: {why}", root.name_of(&relative));
                let bytes = root
                    .read(&relative)
                    .await
                    .map_err(text)?
                    .ok_or_else(|| unreadable("removed while being read".into()))?;
                let last = serde_json::from_slice(&bytes).map_err(|e| unreadable(e.to_string()))?;
                (generation, last, Some(file))
            }
        };
        let record = Record {
            root: root.clone(),
            folder,
            generation,
            last: last_file,
            _lock: lock,
        };
        Incremental::new(name, params, record, &last, files)
    }

    fn new(
        name: &str,
        params: &HuntParams,
        record: Record,
        last: &State,
        files: BTreeMap<String, String>,
    ) -> std::result::Result<Incremental, String> {
        if !last.files.is_empty() && last.window != params.window {
            return Err(format!(
                "--incremental {name} ran with a window of {} s; a hunt with another window \
                 needs another name",
                last.window as f64 / 1e9
            ));
        }
        let changed: BTreeSet<NaiveDate> = files
            .iter()
            .filter(|(key, id)| last.files.get(*key) != Some(*id))
            .filter_map(|(key, _)| date_of_key(key))
            .collect();
        Ok(Incremental {
            name: name.to_owned(),
            record,
            next: State {
                window: params.window,
                files,
            },
            ranges: ranges(&changed),
        })
    }

    /// Sets `found` (the hunt's rows over this run's ranges) against what earlier runs of
    /// this name recorded over the same ranges: the rows not recorded yet are new; recorded
    /// rows no longer found are retracted (the lake replaced a record of theirs by an
    /// earlier copy). Counts are kept per row, so a pair the lake holds twice is reported
    /// twice.
    ///
    /// # Errors
    /// Reading the findings table.
    pub async fn reconcile(
        &self,
        ctx: &SessionContext,
        schema: &SchemaRef,
        found: Vec<RecordBatch>,
    ) -> Result<Reconciled> {
        let (Some(first), Some(last)) = (self.ranges.first(), self.ranges.last()) else {
            return Ok(Reconciled::new(found));
        };
        if !ctx.table_exist(TableReference::bare(layout::FINDINGS_TABLE))? {
            return Ok(Reconciled::new(found));
        }
        // Only findings of this run's ranges can be found again: the rest are not read.
        let columns = super::COLUMNS.join(", ");
        // Tables appended before retractions existed have no such column: nothing retracted.
        let table = ctx
            .table(TableReference::bare(layout::FINDINGS_TABLE))
            .await?;
        let retracted = match table.schema().field_with_unqualified_name("Retracted") {
            Ok(_) => "coalesce(Retracted, false)",
            Err(_) => "false",
        };
        let sql = format!(
            "SELECT {columns}, {retracted} AS Retracted FROM {} \
             WHERE HuntName = $1 AND TimeGenerated BETWEEN $2 AND $3",
            layout::FINDINGS_TABLE
        );
        let time = |nanos: i64| ScalarValue::TimestampNanosecond(Some(nanos), Some("UTC".into()));
        let recorded = ctx
            .sql(&sql)
            .await?
            .with_param_values(vec![
                ScalarValue::from(self.name.as_str()),
                time(first.0),
                time(last.1),
            ])?
            .collect()
            .await?;
        // What this name holds now, per row: reported minus retracted, and one copy of it.
        let mut held: HashMap<String, (i64, (usize, usize))> = HashMap::new();
        for (index, batch) in recorded.iter().enumerate() {
            let retracted = batch
                .column(batch.schema().index_of("Retracted")?)
                .as_boolean()
                .clone();
            let hunted = self.hunted(batch)?;
            for (row, key) in keys(batch)?.into_iter().enumerate() {
                if !hunted[row] {
                    continue;
                }
                let change = if retracted.value(row) { -1 } else { 1 };
                held.entry(key).or_insert((0, (index, row))).0 += change;
            }
        }
        let mut found_counts: HashMap<String, i64> = HashMap::new();
        let found_keys = found.iter().map(keys).collect::<Result<Vec<_>>>()?;
        for key in found_keys.iter().flatten() {
            *found_counts.entry(key.clone()).or_default() += 1;
        }
        // New: each found row beyond what is held.
        let mut allowance: HashMap<&str, i64> = found_counts
            .iter()
            .map(|(key, &n)| (key.as_str(), n - held.get(key).map_or(0, |h| h.0.max(0))))
            .collect();
        let mut new = Vec::with_capacity(found.len());
        for (batch, keys) in found.iter().zip(&found_keys) {
            let keep: BooleanArray = keys
                .iter()
                .map(|key| {
                    let left = allowance.get_mut(key.as_str()).expect("counted");
                    *left -= 1;
                    Some(*left >= 0)
                })
                .collect();
            new.push(filter_record_batch(batch, &keep)?);
        }
        // Retracted: each held row beyond what is found.
        let mut retracted = Vec::new();
        for (key, &(count, (index, row))) in &held {
            let surplus = count - found_counts.get(key).copied().unwrap_or(0);
            if surplus > 0 {
                let copy = as_found(schema, &recorded[index].slice(row, 1))?;
                retracted.extend(std::iter::repeat_n(copy, surplus as usize));
            }
        }
        Ok(Reconciled { new, retracted })
    }

    /// Which rows of `batch` this run's hunt would find again if they were still in the lake:
    /// both times in one of its ranges (the hunt filters both sides by its range).
    fn hunted(&self, batch: &RecordBatch) -> Result<Vec<bool>> {
        let time = |name: &str| -> Result<Vec<i64>> {
            let column = cast(
                batch.column(batch.schema().index_of(name)?),
                &DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, None),
            )?;
            Ok(column
                .as_primitive::<datafusion::arrow::datatypes::TimestampNanosecondType>()
                .iter()
                .map(|t| t.unwrap_or(i64::MIN))
                .collect())
        };
        let (interactive, other) = (time("InteractiveTime")?, time("NonInteractiveTime")?);
        Ok(interactive
            .iter()
            .zip(&other)
            .map(|(&i, &n)| {
                self.ranges
                    .iter()
                    .any(|&(start, end)| (start..=end).contains(&i) && (start..=end).contains(&n))
            })
            .collect())
    }

    /// Records this run as done: the next run starts from the lake as this one saw it.
    ///
    /// # Errors
    /// I/O and store errors, and in a store another run of NAME that recorded itself first.
    pub async fn finish(self) -> Result<()> {
        let text = serde_json::to_vec_pretty(&self.next)
            .map_err(|e| DataFusionError::Execution(e.to_string()))?;
        let record = &self.record;
        let next = format!("{}/{:020}.json", record.folder, record.generation + 1);
        match record.root.create(&next, |out| out.write_all(&text)).await {
            Ok(_) => {}
            Err(LakeError::Exists { .. }) => {
                return Err(DataFusionError::Execution(format!(
                    "another run of --incremental {} recorded itself while this one ran; the \
                     findings of both are in the lake, so the next run continues from them \
                     (this run's output may repeat some of the other's)",
                    self.name
                )));
            }
            Err(e) => return Err(DataFusionError::Execution(e.to_string())),
        }
        // Only the newest record is read.
        if let Some(last) = &record.last {
            record
                .root
                .remove(&format!("{}/{last}", record.folder))
                .await;
        }
        Ok(())
    }
}

/// What an incremental hunt requires of its name and parameters.
fn check(name: &str, params: &HuntParams) -> std::result::Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || name.starts_with('.')
    {
        return Err(format!(
            "--incremental {name:?}: use letters, digits, '-', '_' and '.'"
        ));
    }
    if params.time_column != TimeColumn::TimeGenerated {
        return Err(
            "--incremental hunts on TimeGenerated, the time the lake is partitioned by".into(),
        );
    }
    if params.window > DAY {
        return Err("--incremental needs a --window of at most a day".into());
    }
    if params.start.is_some() || params.end.is_some() {
        return Err(
            "--incremental chooses its own range (what changed since the last run): \
             drop --start, --end and --last"
                .into(),
        );
    }
    Ok(())
}

/// Why a lake holding `file`, which this project did not write, cannot be hunted
/// incrementally: changes to such files would go unseen.
fn foreign(file: &dyn std::fmt::Display) -> String {
    format!(
        "--incremental reads a lake `retrohunt ingest` writes, one file per date, to tell \
         what changed; {file} is not one of those (hunt other tools' lakes with \
         --start/--end)"
    )
}

/// A findings-table row (the hunt's columns first, text as the table's reader gives it) as
/// the hunt's own rows are: `schema`'s columns and types.
fn as_found(schema: &SchemaRef, row: &RecordBatch) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| Ok(cast(row.column(index), field.data_type())?))
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// The columns that tell one pair from another.
const KEY: [&str; 7] = [
    "InteractiveTime",
    "NonInteractiveTime",
    "UserPrincipalName",
    "InteractiveIP",
    "NonInteractiveIP",
    "InteractiveCorrelationId",
    "NonInteractiveCorrelationId",
];

/// Each row's key columns as text, joined by a separator no column holds.
fn keys(batch: &RecordBatch) -> Result<Vec<String>> {
    let columns = KEY
        .iter()
        .map(|name| {
            let column = batch.column(batch.schema().index_of(name)?);
            Ok(cast(column, &DataType::Utf8)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((0..batch.num_rows())
        .map(|row| {
            columns
                .iter()
                .map(|column| column.as_string::<i32>().value(row))
                .collect::<Vec<_>>()
                .join("\u{1f}")
        })
        .collect())
}

fn date_of_key(key: &str) -> Option<NaiveDate> {
    let date = key.rsplit_once("date=")?.1;
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// The changed dates, each widened by a day either side, merged where they touch, as
/// inclusive ns ranges.
fn ranges(changed: &BTreeSet<NaiveDate>) -> Vec<(i64, i64)> {
    let midnight = |date: NaiveDate| {
        date.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_utc().timestamp_nanos_opt())
    };
    let mut merged: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &date in changed {
        let from = date.checked_sub_days(Days::new(1)).unwrap_or(date);
        let to = date.checked_add_days(Days::new(1)).unwrap_or(date);
        match merged.last_mut() {
            Some(last) if from <= last.1.checked_add_days(Days::new(1)).unwrap_or(last.1) => {
                last.1 = to;
            }
            _ => merged.push((from, to)),
        }
    }
    merged
        .into_iter()
        .filter_map(|(from, to)| {
            let end = midnight(to.checked_add_days(Days::new(1))?)? - 1;
            Some((midnight(from)?, end))
        })
        .collect()
}
