//! Opening a lake for a run: its location checked, pinned as of one commit, its tables
//! registered in a session of the chosen engine (and a cluster's), damaged files named;
//! without a location, the sample lake.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::{Event, Events, Usage};
use crate::catalog::{LakeDates, LakeTables, OpenError, damaged_files, damaged_paths};
use crate::cluster;
use crate::engine::{
    Engine, default_memory_limit, runs_on_cluster, runtime, session_config, session_with,
};
use crate::hunt::{HuntParams, Incremental};
use crate::ingest::{self, IngestOptions};
use crate::lake::{self, LakeError, LakeWriter, Pinned, Root};
use crate::store::{Location, RequestCounts};

/// Where and how a run's queries execute.
#[derive(Debug, Clone, Default)]
pub struct EngineChoice {
    pub engine: Engine,
    /// A Ballista scheduler (`df://HOST:PORT`) to run the queries on.
    pub cluster: Option<String>,
    /// Bytes the queries may hold; `None`, the machine's default share.
    pub memory_limit: Option<usize>,
    pub partitions: Option<usize>,
}

/// A lake opened for reading, as of one commit while it is held.
pub struct OpenLake {
    /// A session with the lake's tables registered; its queries run on the cluster with one.
    pub ctx: SessionContext,
    /// A session on this machine with the same tables, for queries that join rows this
    /// process holds (findings in memory) with the lake: a cluster cannot read those. It is
    /// `ctx` itself when there is no cluster.
    pub local: SessionContext,
    tables: LakeTables,
    lake: Pinned,
}

impl OpenLake {
    /// The lake at `location` (a folder, or a store's URL), or without one the cached sample
    /// lake. A location that is not a lake is a [`Usage`] error saying what it is instead.
    /// With `skip_bad_files`, every file of a folder is read once first and the damaged ones
    /// are left out, each told as an event.
    ///
    /// # Errors
    /// As above; a store or folder that cannot be read; a cluster that cannot be reached.
    pub async fn open(
        location: Option<&Path>,
        engine: &EngineChoice,
        skip_bad_files: bool,
        events: &dyn Events,
    ) -> anyhow::Result<OpenLake> {
        let location = match location {
            Some(path) => path.to_path_buf(),
            None => sample_lake(events)?,
        };
        let parsed =
            Location::parse(&location.to_string_lossy()).map_err(|e| Usage(e.to_string()))?;
        let root = Root::new(parsed)?;
        let cannot_open = || format!("cannot open lake {}", root.display());
        // Before the tables list their files.
        let lake = root.pin().await.with_context(cannot_open)?;
        let skip = match (skip_bad_files, root.folder()) {
            (false, _) => BTreeSet::new(),
            (true, None) => {
                return Err(Usage(
                    "--skip-bad-files reads every file of a lake on local disk; a lake in \
                     object storage is read as it is"
                        .into(),
                )
                .into());
            }
            (true, Some(folder)) => {
                let damaged = damaged_files(folder);
                for file in &damaged {
                    events.event(&Event::SkippingDamaged(file));
                }
                damaged_paths(&damaged)
            }
        };
        let tables = LakeTables::open(&lake, &skip)
            .await
            .map_err(|error| match error {
                OpenError::NotALake(not) => anyhow::Error::from(Usage(not.to_string())),
                other => name_damage(root.folder(), other.into()).context(cannot_open()),
            })?;
        let limit = engine.memory_limit.or_else(default_memory_limit);
        let config = session_config(limit, engine.partitions);
        let (local, ctx) = sessions(engine, config, limit).await?;
        let cluster = runs_on_cluster(&ctx).then_some(&ctx);
        for session in std::iter::once(&local).chain(cluster) {
            tables
                .register(session)
                .await
                .map_err(|error| name_damage(root.folder(), error.into()))
                .with_context(cannot_open)?;
        }
        Ok(OpenLake {
            ctx,
            local,
            tables,
            lake,
        })
    }

    /// The dates each table holds.
    pub fn dates(&self) -> &LakeDates {
        &self.tables.dates
    }

    /// Starts a run of the incremental hunt `name` on this lake, as the tables read it.
    ///
    /// # Errors
    /// See [`Incremental::start`].
    pub async fn start_incremental(
        &self,
        name: &str,
        params: &HuntParams,
        events: &dyn Events,
    ) -> Result<Incremental, Usage> {
        Incremental::start(&self.lake, name, params, || {
            events.event(&Event::Waiting { hunt: name });
        })
        .await
        .map_err(Usage)
    }

    /// Appends a run's findings to the lake's `RetrohuntFindings` table; returns where the
    /// file went.
    ///
    /// # Errors
    /// See [`lake::append_findings`].
    pub async fn append_findings(
        &self,
        run_date: NaiveDate,
        run_id: &str,
        schema: &SchemaRef,
        rows: &[RecordBatch],
    ) -> Result<String, LakeError> {
        lake::append_findings(self.lake.root(), run_date, run_id, schema, rows).await
    }

    /// The requests made to a lake in a store so far (`None` for a folder).
    pub fn requests(&self) -> Option<RequestCounts> {
        self.lake.root().requests()
    }

    /// `error` (a query's over this lake), with the damaged files of a folder named.
    pub fn name_damage(&self, error: anyhow::Error) -> anyhow::Error {
        name_damage(self.lake.root().folder(), error)
    }
}

/// A session on this machine, and the one queries run in: the cluster's with one, else the
/// same one.
async fn sessions(
    engine: &EngineChoice,
    config: SessionConfig,
    limit: Option<usize>,
) -> anyhow::Result<(SessionContext, SessionContext)> {
    let runtime = runtime(limit).context("cannot set up the memory pool")?;
    let local = session_with(engine.engine, config.clone(), Arc::clone(&runtime));
    let ctx = match &engine.cluster {
        None => local.clone(),
        Some(url) => cluster::connect(url, engine.engine, config, runtime)
            .await
            .map_err(|e| anyhow::anyhow!(e))?,
    };
    Ok((local, ctx))
}

/// A query that failed in the Parquet decoder names no file: find the damaged ones and say
/// which, and how to hunt the rest.
fn name_damage(folder: Option<&Path>, error: anyhow::Error) -> anyhow::Error {
    let Some(folder) = folder.filter(|_| format!("{error:#}").contains("Parquet")) else {
        return error;
    };
    let damaged = damaged_files(folder);
    if damaged.is_empty() {
        return error;
    }
    let list: Vec<String> = damaged
        .iter()
        .map(|d| format!("  {}: {}", d.path.display(), d.reason))
        .collect();
    error.context(format!(
        "the lake holds damaged files (--skip-bad-files hunts the rest):\n{}",
        list.join("\n")
    ))
}

/// Ingests the sample this library was built with (`data/sample` of its checkout) into a lake
/// in the user's cache folder, a no-op once done (the manifest knows its files). The lake
/// never goes into the checkout: an installed binary's source tree is not ours to write.
///
/// # Errors
/// No sample, no cache folder, or the ingest failing.
pub fn sample_lake(events: &dyn Events) -> anyhow::Result<PathBuf> {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    if !sample.is_dir() {
        return Err(Usage(format!(
            "no --lake given, and the sample this binary was built with ({}) is not there: \
             ingest your logs with `retrohunt ingest --lake LAKE PATH...` and pass --lake LAKE",
            sample.display()
        ))
        .into());
    }
    let lake = cache_folder()?.join("sample-lake");
    let writer = LakeWriter::open(&lake, || {})
        .with_context(|| format!("cannot open {}", lake.display()))?;
    let options = IngestOptions {
        inputs: vec![Location::Local(sample.clone())],
        ..IngestOptions::default()
    };
    let summary = ingest::ingest(&writer, &options, &()).context("cannot ingest the sample")?;
    if summary.written() > 0 {
        events.event(&Event::IngestedSample {
            sample: &sample,
            lake: &lake,
        });
    }
    Ok(lake)
}

/// `$XDG_CACHE_HOME/retrohunt`, else `~/.cache/retrohunt`.
fn cache_folder() -> anyhow::Result<PathBuf> {
    let nonempty = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    let base = match (nonempty("XDG_CACHE_HOME"), nonempty("HOME")) {
        (Some(cache), _) => PathBuf::from(cache),
        (None, Some(home)) => PathBuf::from(home).join(".cache"),
        (None, None) => {
            return Err(Usage(
                "no --lake given, and neither XDG_CACHE_HOME nor HOME is set to keep the \
                 sample lake in: pass --lake LAKE"
                    .into(),
            )
            .into());
        }
    };
    Ok(base.join("retrohunt"))
}
