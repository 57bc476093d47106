//! Opening a `--lake` for reading: the folder checked, the tables registered in a session of
//! the chosen engine, damaged files named; without `--lake`, the sample lake.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use datafusion::prelude::{SessionConfig, SessionContext};
use indicatif::ProgressBar;

use retrohunt::catalog::{
    LakeDates, RemoteLake, RemoteLakeError, damaged_files, damaged_paths, inspect_lake,
    register_lake_skipping,
};
use retrohunt::cluster;
use retrohunt::engine::{
    default_memory_limit, runs_on_cluster, runtime, session_config, session_with,
};
use retrohunt::hunt::{HuntParams, Incremental};
use retrohunt::ingest::{self, IngestOptions};
use retrohunt::lake::snapshot::Snapshot;
use retrohunt::lake::{
    LakeError, LakeWriter, ReadSnapshot, append_findings, append_findings_remote,
};
use retrohunt::store::{Location, Remote};

use super::args::{EngineArgs, LakeArg};
use super::{Usage, escape_lines};

/// A lake opened for reading.
pub struct Lake {
    /// A session with the lake's tables registered; its queries run on the cluster with
    /// `--cluster`.
    pub ctx: SessionContext,
    /// A session on this machine with the same tables, for queries that join rows this
    /// process holds (findings in memory) with the lake: a cluster cannot read those. It is
    /// `ctx` itself when there is no cluster.
    pub local: SessionContext,
    pub dates: LakeDates,
    place: Place,
}

enum Place {
    /// A folder, which stays as of one commit while the snapshot is held.
    Disk {
        folder: PathBuf,
        _snapshot: ReadSnapshot,
    },
    /// A prefix in object storage, read as of its latest snapshot (if it has one).
    Store {
        remote: Remote,
        snapshot: Option<Box<Snapshot>>,
    },
}

impl Lake {
    /// The folder of a local lake, where damaged files can be looked for.
    pub fn local(&self) -> Option<&Path> {
        match &self.place {
            Place::Disk { folder, .. } => Some(folder),
            Place::Store { .. } => None,
        }
    }

    /// Starts a run of the incremental hunt `name` on this lake, as the tables read it.
    pub async fn start_incremental(
        &self,
        name: &str,
        params: &HuntParams,
    ) -> Result<Incremental, Usage> {
        let started = match &self.place {
            Place::Disk { folder, .. } => Incremental::start(folder, name, params, || {
                eprintln!("waiting for another run of {name} to finish");
            }),
            Place::Store { remote, snapshot } => {
                Incremental::start_remote(remote, snapshot.as_deref(), name, params).await
            }
        };
        started.map_err(Usage)
    }

    /// Appends a run's findings to the lake's `RetrohuntFindings` table, on disk or in a
    /// store; returns where the file went.
    pub async fn append_findings(
        &self,
        run_date: chrono::NaiveDate,
        run_id: &str,
        schema: &arrow::datatypes::SchemaRef,
        rows: &[arrow::array::RecordBatch],
    ) -> Result<String, LakeError> {
        match &self.place {
            Place::Store { remote, .. } => {
                append_findings_remote(remote, run_date, run_id, schema, rows).await
            }
            Place::Disk { folder, .. } => append_findings(folder, run_date, run_id, schema, rows)
                .map(|path| path.display().to_string()),
        }
    }

    /// Says on standard error what reading a lake in object storage cost.
    pub fn report_requests(&self) {
        if let Place::Store { remote, .. } = &self.place {
            eprintln!("store requests: {}", remote.requests());
        }
    }
}

/// A session on this machine, and the one queries run in: the cluster's with `--cluster`,
/// else the same one.
async fn sessions(
    engine: &EngineArgs,
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

/// The sessions a lake's tables are registered in: `local`, and `ctx` when it is another
/// (a cluster's).
fn lake_sessions<'a>(
    local: &'a SessionContext,
    ctx: &'a SessionContext,
) -> impl Iterator<Item = &'a SessionContext> {
    let cluster = runs_on_cluster(ctx).then_some(ctx);
    std::iter::once(local).chain(cluster)
}

/// The lake at `--lake`, or without it the cached sample lake. A folder that is not a lake is
/// a usage error saying what it is instead. With `--skip-bad-files`, every file is read once
/// first and the damaged ones are left out, each named on standard error.
pub async fn open_lake(lake: &LakeArg, engine: &EngineArgs) -> anyhow::Result<Lake> {
    let location = match &lake.lake {
        Some(path) => path.clone(),
        None => sample_lake()?,
    };
    let limit = engine.memory.memory_limit.or_else(default_memory_limit);
    let config = session_config(limit, engine.partitions.map(usize::from));
    let text = location.to_string_lossy();
    if let Location::Remote(remote) = Location::parse(&text).map_err(|e| Usage(e.to_string()))? {
        if lake.skip_bad_files {
            return Err(Usage(
                "--skip-bad-files reads every file of a lake on local disk; a lake in object \
                 storage is read as it is"
                    .into(),
            )
            .into());
        }
        let opened = |error: RemoteLakeError| match error {
            RemoteLakeError::NotALake(not) => anyhow::Error::from(Usage(not.to_string())),
            other => anyhow::Error::from(other).context(format!(
                "cannot open lake {}",
                remote.url_of(remote.prefix())
            )),
        };
        let registered = RemoteLake::open(&remote).await.map_err(opened)?;
        let (local, ctx) = sessions(engine, config, limit).await?;
        for session in lake_sessions(&local, &ctx) {
            registered
                .register(session)
                .await
                .map_err(|e| opened(e.into()))?;
        }
        return Ok(Lake {
            ctx,
            local,
            dates: registered.dates,
            place: Place::Store {
                remote,
                snapshot: registered.snapshot.map(Box::new),
            },
        });
    }
    let folder = local_folder(&location);
    let dates = inspect_lake(&folder).map_err(|e| Usage(e.to_string()))?;
    // Before the tables list their files.
    let snapshot = ReadSnapshot::take(&folder)
        .with_context(|| format!("cannot open lake {}", folder.display()))?;
    let (local, ctx) = sessions(engine, config, limit).await?;
    let skip = if lake.skip_bad_files {
        let damaged = damaged_files(&folder);
        for file in &damaged {
            let message = format!(
                "skipping damaged file {}: {}",
                file.path.display(),
                file.reason
            );
            eprintln!("{}", escape_lines(&message));
        }
        damaged_paths(&damaged)
    } else {
        BTreeSet::new()
    };
    for session in lake_sessions(&local, &ctx) {
        register_lake_skipping(session, &location.to_string_lossy(), &skip)
            .await
            .map_err(|error| name_damage(Some(&folder), error.into()))
            .with_context(|| format!("cannot open lake {}", location.display()))?;
    }
    Ok(Lake {
        ctx,
        local,
        dates,
        place: Place::Disk {
            folder,
            _snapshot: snapshot,
        },
    })
}

/// The folder a `--lake` path or `file://` URL names.
pub fn local_folder(location: &Path) -> PathBuf {
    let text = location.to_string_lossy();
    PathBuf::from(text.strip_prefix("file://").unwrap_or(&text))
}

/// A query that failed in the Parquet decoder names no file: find the damaged ones and say
/// which, and how to hunt the rest.
pub fn name_damage(folder: Option<&Path>, error: anyhow::Error) -> anyhow::Error {
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

/// Ingests the sample this binary was built with (`data/sample` of its checkout) into a lake
/// in the user's cache folder, a no-op once done (the manifest knows its files). The lake
/// never goes into the checkout: an installed binary's source tree is not ours to write.
pub fn sample_lake() -> anyhow::Result<PathBuf> {
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
    let summary = ingest::ingest(&writer, &options, &ProgressBar::hidden())
        .context("cannot ingest the sample")?;
    if summary.written() > 0 {
        eprintln!(
            "ingested the sample in {} into {}",
            sample.display(),
            lake.display()
        );
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
