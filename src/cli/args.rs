//! What the user can type.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};
use retrohunt::choice::Choice;

use retrohunt::bench::{Builtin, Peer, ReportFormat};
use retrohunt::engine::Engine;
use retrohunt::generate::{NetworkMix, TenantFormat, TenantSpec};
use retrohunt::hunt::TimeColumn;
use retrohunt::ingest::Format;
use retrohunt::schema::Table;

#[derive(Debug, Parser)]
#[command(
    name = "retrohunt",
    version,
    about = "Retro-hunt months of Microsoft Entra ID sign-in logs"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest sign-in logs (files or folders, any supported format) into a Parquet lake.
    Ingest(IngestArgs),
    /// Run the short-window sign-in mismatch hunt over a lake: every successful interactive
    /// sign-in followed within --window by a successful non-interactive sign-in of the same
    /// user from another ASN and another IP.
    Hunt(HuntArgs),
    /// Run any SQL over the lake's tables (SigninLogs, AADNonInteractiveUserSignInLogs).
    Sql(SqlArgs),
    /// Run a KQL query (a Sentinel hunting query, say) over the lake's tables, with Kusto's
    /// semantics; what is not run exactly is refused (docs/kql.md).
    Kql(KqlArgs),
    /// Write a synthetic tenant with injected attacks.
    Generate(GenerateArgs),
    /// Compare the hunt's engines side by side (and with the scan floor) on a lake.
    Bench(BenchArgs),
    /// Exclusion rules fitted to the tenant: mine them from the lake, or measure them
    /// against a generated tenant's ground truth.
    Triage {
        #[command(subcommand)]
        command: TriageCommand,
    },
    /// Run a process of an Apache DataFusion Ballista cluster that hunts with this binary's
    /// operators: one scheduler, any number of executors.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// One measured run of `bench`, in its own process (internal).
    #[command(name = "bench-run", hide = true)]
    BenchRun {
        /// The job, as JSON.
        job: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Run the scheduler: clients send it queries (`--cluster df://HOST:PORT`), executors
    /// register with it, and it plans each query into stages and hands them out.
    Scheduler {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
        /// An executor not heard from for this long is taken for dead, and its work is run
        /// again on the others.
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        executor_timeout: Duration,
    },
    /// Run an executor: it registers with the scheduler and runs the tasks it is given.
    Executor(ExecutorArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExecutorArgs {
    /// The scheduler's address.
    #[arg(long, value_name = "[df://]HOST:PORT")]
    pub scheduler: String,
    /// Where other executors and clients fetch this executor's results (Arrow Flight).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub bind: SocketAddr,
    /// The port the scheduler reaches this executor on, at --bind's host.
    /// [default: --bind's port + 1]
    #[arg(long)]
    pub grpc_port: Option<u16>,
    /// Tasks run at once. [default: the machine's cores]
    #[arg(long)]
    pub concurrent_tasks: Option<usize>,
    /// Memory the running tasks share (e.g. 8GiB). [default: Ballista's share of the
    /// machine's memory]
    #[arg(long, value_parser = parse_size)]
    pub memory_limit: Option<usize>,
    /// Where shuffle files are written. [default: a temporary folder]
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// How often to tell the scheduler this executor is alive: well inside its
    /// --executor-timeout.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub heartbeat_interval: Duration,
}

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// The lake folder (created if missing), or a prefix in object storage (az://, abfss://,
    /// https://, s3://, credentials as for INPUTS), committed to by snapshots.
    #[arg(long)]
    pub lake: PathBuf,
    /// Files or folders (walked recursively), or prefixes in object storage:
    /// az://CONTAINER/PATH, abfss://FS@ACCOUNT.dfs.core.windows.net/PATH,
    /// https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH[?SAS], s3://BUCKET/PATH. gzip and
    /// zstd are read transparently.
    ///
    /// Credentials come from the environment, as the object_store crate reads it: Azure
    /// AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_KEY or a
    /// service principal (AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_TENANT_ID), workload or
    /// managed identity, AZURE_USE_AZURE_CLI=true; S3 AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT, or the instance's role. Secrets never
    /// appear in output, errors, rejects or the manifest.
    #[arg(required = true, verbatim_doc_comment)]
    pub inputs: Vec<String>,
    /// List only the y=/m=/d=/h= (or date=) folders from this instant on: RFC 3339, or now,
    /// today or yesterday, optionally minus a duration (today-7d). Files outside such
    /// folders are always read.
    #[arg(long, allow_hyphen_values = true)]
    pub since: Option<String>,
    /// List only the folders before this instant; written as --since.
    #[arg(long, allow_hyphen_values = true)]
    pub until: Option<String>,
    /// With --since: how far back data-export containers (am-...) are listed too, since
    /// records arriving late are appended to the folders of their own time.
    #[arg(long, default_value = "1d")]
    pub late_arrivals: String,
    /// With a lake in object storage: how long files a commit replaced, and files of writers
    /// that died before publishing, stay for readers still reading them. Raise it if queries
    /// on the lake run longer.
    #[arg(long, default_value = "1h")]
    pub keep_replaced: String,
    /// Read every input as this format instead of detecting it per file.
    #[arg(long, value_parser = choice::<Format>())]
    pub format: Option<Format>,
    /// Table for records that do not say (SigninLogs or AADNonInteractiveUserSignInLogs).
    #[arg(long)]
    pub table: Option<Table>,
    /// Stop at the first bad record (exit status 2) instead of keeping it in LAKE/_rejects/.
    #[arg(long)]
    pub strict: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Records (lines) longer than this (e.g. 16MiB) are rejected with their file, line and
    /// byte offset, and skipped to their line end without being held in memory.
    /// [default: 128MiB]
    #[arg(long, value_parser = parse_size)]
    pub max_record_size: Option<usize>,
    /// Memory the rows read but not yet written may use (e.g. 2GiB): they are committed to
    /// the lake in rounds of a quarter of it (sorting and merging with the lake's files needs
    /// the rest). [default: 60% of the machine's memory, in rounds of at most 1 GiB]
    #[arg(long, value_parser = parse_size)]
    pub memory_limit: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Output folder (a lake with --format lake).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 200)]
    pub users: usize,
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, value_parser = choice::<TenantFormat>(), default_value = "diagnostic")]
    pub format: TenantFormat,
    /// Heavy accounts (20–100x the volume) per thousand users.
    #[arg(long, default_value_t = 10)]
    pub heavy_per_mille: u32,
    /// Which networks the tenant's people use (corporate egress, VPN, home ISPs, carriers).
    #[arg(long, value_parser = choice::<NetworkMix>(), default_value = "us")]
    pub networks: NetworkMix,
    /// Add, each day, what Sentinel's sign-in hunts look for: a password spray, a brute
    /// force, denied MFA, legacy protocols, a disabled account, smart lockouts, a new
    /// country, a device-code sign-in, AzureHound, Azure AD PowerShell.
    #[arg(long)]
    pub patterns: bool,
}

#[derive(Debug, clap::Args)]
pub struct LakeArg {
    /// The lake folder, or a lake in object storage (az://, abfss://, https://, s3://;
    /// credentials as for ingest). Without it, the sample in data/ is ingested on first
    /// use into a lake in the user's cache folder ($XDG_CACHE_HOME or ~/.cache, under
    /// retrohunt/sample-lake).
    #[arg(long)]
    pub lake: Option<PathBuf>,
    /// Read every file of the lake once first and leave out the damaged ones (each named on
    /// standard error) instead of failing on them.
    #[arg(long)]
    pub skip_bad_files: bool,
}

#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    /// How band joins run: the window-join operator, or stock DataFusion.
    #[arg(long, value_parser = choice::<Engine>(), default_value = "operator")]
    pub engine: Engine,
    /// Run on an Apache DataFusion Ballista cluster, started with `retrohunt cluster`: its
    /// scheduler's address. The lake must be a folder the scheduler and every executor read
    /// at the same path, or in a store their environment has credentials for.
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
    /// How many partitions a query is spread over. On a cluster it is how many tasks the
    /// stages after a shuffle (the join, the sorts) can run at once: set it to the cluster's
    /// concurrent tasks, executors times their --concurrent-tasks.
    /// [default: this machine's cores]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub partitions: Option<u16>,
    #[command(flatten)]
    pub memory: MemoryArg,
}

#[derive(Debug, clap::Args)]
pub struct MemoryArg {
    /// Memory a query may use (e.g. 8GiB, 500MB). Past it, the query stops with a resources
    /// error instead of the process being killed.
    /// [default: 60% of the machine's memory]
    #[arg(long, value_parser = parse_size)]
    pub memory_limit: Option<usize>,
}

/// A library [`Choice`] as a value clap offers, parses and explains in `--help`.
fn choice<T: Choice + Clone>() -> impl TypedValueParser<Value = T> {
    let offered = T::OFFERED
        .iter()
        .map(|&(_, name, help)| PossibleValue::new(name).help(help));
    PossibleValuesParser::new(offered)
        .map(|name| T::named(&name).expect("clap offers only the choices' names"))
}

fn parse_size(text: &str) -> Result<usize, String> {
    let size: bytesize::ByteSize = text.parse()?;
    usize::try_from(size.as_u64()).map_err(|e| e.to_string())
}

#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    #[arg(long, value_enum, default_value_t = ResultFormat::Table)]
    pub format: ResultFormat,
    /// Write results here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Write at most this many rows. Without it, a table on a terminal shows the first 20
    /// (standard error says how many there are), and everything else gets every row.
    #[arg(long, conflicts_with = "all")]
    pub limit: Option<usize>,
    /// Every row, in a table on a terminal too.
    #[arg(long)]
    pub all: bool,
    /// Write text cells exactly as stored. By default CSV cells that a spreadsheet would run as
    /// formulas (starting with = + - @, tab or CR) get a leading ', and tables show control
    /// characters and ANSI escapes from the data as \n, \u{1b}, ... instead of obeying them.
    #[arg(long)]
    pub raw: bool,
}

/// How results are written: the output module's formats, and the hunt's hand-off to Sentinel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResultFormat {
    /// An aligned table for the terminal.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Json,
    /// Parquet, types kept.
    Parquet,
    /// One JSON object per finding in the shape of a Sentinel hunting bookmark (entity
    /// mappings, tactics and techniques, the finding as evidence); the hunt's rows only.
    Sentinel,
    /// An investigation report, one self-contained HTML file: the run, the users ranked, and
    /// the top users' sign-ins on a timeline around their findings; the hunt's rows only.
    Html,
}

#[derive(Debug, clap::Args)]
pub struct HuntArgs {
    #[command(flatten)]
    pub lake: LakeArg,
    #[command(flatten)]
    pub params: HuntParamArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub explain: ExplainArgs,
    /// Exit with status 3 when the hunt finds anything (after --exclusions), for schedulers
    /// that alert on a failed job; otherwise 0 with or without findings.
    #[arg(long)]
    pub fail_on_findings: bool,
    /// Also write one JSON line about the run to standard error: the range hunted, the
    /// window, the engine, the findings and the seconds taken.
    #[arg(long)]
    pub summary_json: bool,
    /// Also keep this run's findings in the lake's RetrohuntFindings table (Parquet, one file
    /// a run, with TimeGenerated, HuntName, RunId and RunTime in front), which `sql` reads.
    #[arg(long)]
    pub append_findings: bool,
    /// The name the findings table records for this hunt.
    #[arg(long, default_value = "short-window-sign-in-mismatch")]
    pub hunt_name: String,
    /// Report only the pairs no earlier run of NAME reported, reading only the dates that
    /// changed since (and a day either side); the findings are appended to the lake's
    /// RetrohuntFindings table under NAME, and runs of one NAME take turns.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["start", "end", "last", "hunt_name"])]
    pub incremental: Option<String>,
    /// With --format html: how many of the ranked users get a timeline.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub report_users: usize,
    #[command(flatten)]
    pub triage: TriageArgs,
}

/// What happens to the findings between the hunt and the output.
#[derive(Debug, clap::Args)]
pub struct TriageArgs {
    /// Remove known benign look-alikes by the rules of this TOML file (see
    /// data/exclusions.example.toml); how many rows each rule removed goes to standard error.
    #[arg(long)]
    pub exclusions: Option<PathBuf>,
    /// Add evidence from the lake and a Score to each finding, and order by Score.
    #[arg(long)]
    pub enrich: bool,
    /// How far back --enrich looks for the user's earlier ASNs and IPs (at least a day).
    #[arg(long, default_value = "30d")]
    pub lookback: String,
    /// One row per user (findings, distinct ASN pairs, first and last time, top score);
    /// implies --enrich.
    #[arg(long)]
    pub summary: bool,
}

/// What the hunt looks for, shared by `hunt` and `bench`.
#[derive(Debug, clap::Args)]
pub struct HuntParamArgs {
    /// First instant hunted, inclusive: RFC 3339 (offsets are normalised to UTC), or now,
    /// today or yesterday (midnight UTC), optionally minus a duration (now-24h, today-7d).
    #[arg(long, allow_hyphen_values = true)]
    pub start: Option<String>,
    /// Last instant hunted, inclusive; written as --start.
    #[arg(long, allow_hyphen_values = true)]
    pub end: Option<String>,
    /// The last DURATION up to now (e.g. 24h, 7d): --start now-DURATION --end now.
    #[arg(long, conflicts_with_all = ["start", "end"])]
    pub last: Option<String>,
    /// How long after an interactive sign-in a non-interactive one counts (e.g. 10m, 90s).
    #[arg(long, default_value = "10m")]
    pub window: String,
    /// The time the hunt filters, windows and reports: when Log Analytics received the record,
    /// or when the sign-in happened (reads every date of the lake).
    #[arg(long, value_parser = choice::<TimeColumn>(), default_value = "TimeGenerated")]
    pub time_column: TimeColumn,
}

#[derive(Debug, clap::Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub lake: LakeArg,
    #[command(flatten)]
    pub query: QueryArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where a query's text comes from.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The query; or `--file`; or standard input when neither is given.
    pub query: Option<String>,
    /// Read the query from this file.
    #[arg(long, conflicts_with = "query")]
    pub file: Option<PathBuf>,
}

impl QueryArgs {
    /// The query's text: as given, from `--file`, or from standard input.
    pub fn text(&self) -> anyhow::Result<String> {
        use anyhow::Context;
        use std::io::Read;
        Ok(match (&self.query, &self.file) {
            (Some(query), _) => query.clone(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read query file {}", file.display()))?,
            (None, None) => {
                let mut query = String::new();
                std::io::stdin()
                    .read_to_string(&mut query)
                    .context("cannot read the query from standard input")?;
                query
            }
        })
    }
}

/// Showing the plan instead of, or beside, the rows.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// Show the physical plan instead of running the query.
    #[arg(long, conflicts_with = "explain_analyze")]
    pub explain: bool,
    /// Run the query and show the plan with its metrics.
    #[arg(long)]
    pub explain_analyze: bool,
}

impl ExplainArgs {
    pub fn any(&self) -> bool {
        self.explain || self.explain_analyze
    }
}

#[derive(Debug, clap::Args)]
pub struct KqlArgs {
    #[command(flatten)]
    pub lake: LakeArg,
    #[command(flatten)]
    pub query: QueryArgs,
    /// What `{{StartTimeISO}}` stands for: RFC 3339, or now, today or yesterday, optionally
    /// minus a duration (today-7d).
    #[arg(long, allow_hyphen_values = true)]
    pub start: Option<String>,
    /// What `{{EndTimeISO}}` stands for; written as --start.
    #[arg(long, allow_hyphen_values = true)]
    pub end: Option<String>,
    /// The instant `now()` and `ago()` are relative to, to replay a query as of a past day;
    /// written as --start. [default: the current time]
    #[arg(long, allow_hyphen_values = true)]
    pub now: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub explain: ExplainArgs,
    /// Print the result's columns with their Kusto types (`Name:type`, a line each) instead
    /// of running the query.
    #[arg(long, conflicts_with_all = ["explain", "explain_analyze"])]
    pub schema: bool,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The lake to bench. Without it (and without --generate), the sample lake that `hunt`
    /// uses without --lake.
    #[arg(long)]
    pub lake: Option<PathBuf>,
    /// Generate a tenant straight into a lake for the bench instead: users=N,days=D[,seed=S].
    #[arg(long, value_parser = parse_tenant, conflicts_with = "lake")]
    pub generate: Option<TenantSpec>,
    /// The engines to compare, run in this order in every round.
    #[arg(
        long,
        value_parser = choice::<Builtin>(),
        value_delimiter = ',',
        default_values = ["sql", "operator", "sql-bucketed"]
    )]
    pub engines: Vec<Builtin>,
    /// Another tool as a contender, NAME='COMMAND' (repeatable): a shell command run after
    /// ours in every round, with {lake}, {start}, {end} (RFC 3339, empty when open),
    /// {window} (seconds) and {out} (a Parquet file for the hunt's rows, compared with ours)
    /// filled in. If its last line of output is JSON with "seconds" (and "peak_rss" in
    /// bytes), those are its figures; otherwise its whole process is timed. Checked-in
    /// DuckDB peers: benches/peers/README.md.
    #[arg(long = "external", value_name = "NAME=COMMAND", value_parser = Peer::parse)]
    pub peers: Vec<Peer>,
    /// The scheduler of the Ballista cluster (started with `retrohunt cluster`) that the
    /// `cluster` engine runs on. The lake must be a folder it and its executors read at the
    /// same path, or in a store their environment has credentials for.
    #[arg(long, value_name = "df://HOST:PORT", conflicts_with = "ingest")]
    pub cluster: Option<String>,
    /// Bench ingest instead of the hunt: `retrohunt ingest` of these files or folders beside
    /// each --external command, whole processes, into a fresh folder each run; peers get
    /// {input} (the sources, quoted) and {out} (the folder to write Parquet into).
    #[arg(
        long,
        num_args = 1..,
        value_name = "SOURCE",
        conflicts_with_all = ["lake", "generate", "scale", "plot"]
    )]
    pub ingest: Vec<PathBuf>,
    /// Recorded runs per engine and size.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
    pub runs: u16,
    /// Unrecorded rounds first.
    #[arg(long, default_value_t = 1)]
    pub warmup: u16,
    /// A run still going after this is stopped and reported as "> T s" (seconds, or e.g. 10m).
    #[arg(long, default_value = "600", value_parser = parse_seconds)]
    pub timeout: Duration,
    /// A run slower than this is its engine's only one in that size (seconds, or e.g. 2m).
    #[arg(long, default_value = "60", value_parser = parse_seconds)]
    pub slow_after: Duration,
    #[command(flatten)]
    pub memory: MemoryArg,
    #[command(flatten)]
    pub params: HuntParamArgs,
    #[arg(long, value_parser = choice::<ReportFormat>(), default_value = "table")]
    pub format: ReportFormat,
    /// Also draw time and peak memory per engine and size as an SVG chart.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Growing history, e.g. days=7,14,30,60: the first 7, 14, ... days of the lake (from
    /// --start, else its first date); with --generate, a tenant as long as the longest.
    #[arg(long, value_parser = parse_scale, conflicts_with = "end")]
    pub scale: Option<Scale>,
    /// Where generated lakes and result files go [default: a temporary folder, removed after
    /// unless engines disagree].
    #[arg(long)]
    pub work: Option<PathBuf>,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(seconds) => Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string()),
        Err(_) => humantime::parse_duration(text).map_err(|e| e.to_string()),
    }
}

/// `users=N,days=D[,seed=S]`, any order.
fn parse_tenant(text: &str) -> Result<TenantSpec, String> {
    let mut spec = TenantSpec::new(0, 0, 1);
    for part in text.split(',') {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not key=value (users=N,days=D[,seed=S])"))?;
        let number = |what: &str| format!("{key}={value:?}: not a {what}");
        match key.trim() {
            "users" => spec.users = value.parse().map_err(|_| number("count"))?,
            "days" => spec.days = value.parse().map_err(|_| number("count"))?,
            "seed" => spec.seed = value.parse().map_err(|_| number("number"))?,
            other => return Err(format!("unknown key {other:?} (users, days, seed)")),
        }
    }
    if spec.users == 0 || spec.days == 0 {
        return Err("users and days must both be given and positive".into());
    }
    Ok(spec)
}

/// Days of history to bench, ascending.
#[derive(Debug, Clone)]
pub struct Scale(pub Vec<u32>);

/// `days=7,14,30` or `7,14,30`: positive, ascending.
fn parse_scale(text: &str) -> Result<Scale, String> {
    let list = text.strip_prefix("days=").unwrap_or(text);
    let days = list
        .split(',')
        .map(|d| {
            d.trim()
                .parse::<u32>()
                .ok()
                .filter(|&d| d > 0)
                .ok_or_else(|| format!("{d:?} is not a positive number of days"))
        })
        .collect::<Result<Vec<u32>, String>>()?;
    if !days.is_sorted() {
        return Err("the sizes must ascend".into());
    }
    Ok(Scale(days))
}

#[derive(Debug, Subcommand)]
pub enum TriageCommand {
    /// Mine the lake for benign look-alikes (the tenant's own networks, background apps on
    /// them, machine-like accounts, each user's recurring networks) and write exclusion rules
    /// with their evidence and what each removes. No rule removes a pair whose
    /// non-interactive ASN is new for the user.
    Suggest(SuggestArgs),
    /// Findings before and after exclusion rules, and the injected attacks the rules keep, on
    /// a tenant `retrohunt generate` made (its _ground_truth.jsonl).
    Measure(MeasureArgs),
}

/// What `triage suggest` and `triage measure` hunt.
#[derive(Debug, clap::Args)]
pub struct TriageHuntArgs {
    #[command(flatten)]
    pub lake: LakeArg,
    #[command(flatten)]
    pub params: HuntParamArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// How far back the user's history reaches (at least a day).
    #[arg(long, default_value = "30d")]
    pub lookback: String,
}

#[derive(Debug, clap::Args)]
pub struct SuggestArgs {
    #[command(flatten)]
    pub hunt: TriageHuntArgs,
    /// Write the rules here (TOML for --exclusions) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A network is the tenant's own when at least this share of the tenant's users come
    /// back to it.
    #[arg(long, default_value_t = 0.05)]
    pub shared_users: f64,
    /// Coming back to a network: signing in from it on at least this many days of the range.
    #[arg(long, default_value_t = 3)]
    pub regular_days: u32,
    /// A background app signs in non-interactively for at least this share of users...
    #[arg(long, default_value_t = 0.05)]
    pub background_users: f64,
    /// ...with at least this share of its sign-ins from the tenant's own networks.
    #[arg(long, default_value_t = 0.8)]
    pub background_share: f64,
    /// A machine-like account signs in during at least this many distinct hours of the day...
    #[arg(long, default_value_t = 20)]
    pub service_hours: u32,
    /// ...with at least this share of its sign-ins from one application.
    #[arg(long, default_value_t = 0.95)]
    pub service_app_share: f64,
    /// A user's recurring network: used on at least this many days of the lookback.
    #[arg(long, default_value_t = 3)]
    pub recurring_days: u32,
}

#[derive(Debug, clap::Args)]
pub struct MeasureArgs {
    #[command(flatten)]
    pub hunt: TriageHuntArgs,
    /// The exclusion rules to measure.
    #[arg(long)]
    pub rules: PathBuf,
    /// The ground truth `generate` wrote (_ground_truth.jsonl): the injected attacks.
    #[arg(long)]
    pub truth: PathBuf,
}
