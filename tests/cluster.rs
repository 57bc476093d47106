//! The hunt on a Ballista cluster against the same hunt on this machine (stock SQL and the
//! operator, locally, are the reference): in this process on random generated tenants with
//! heavy accounts, and as real processes of the built binary on loopback ports, one of them
//! killed in the middle of a query.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::{SessionConfig, SessionContext};
use proptest::prelude::*;

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

use crate::emulators::{azurite, moto};
use crate::util::{free_port, retrohunt, succeeded, usage_error};
use retrohunt::catalog::register_lake;
use retrohunt::cluster;
use retrohunt::engine::{Engine, session_with};
use retrohunt::generate::{TenantFormat, TenantSpec, generate};
use retrohunt::hunt::{self, HuntParams};

const MINUTE: i64 = 60 * 1_000_000_000;

fn tenant(lake: &Path, users: usize, days: u32, seed: u64, heavy_per_mille: u32) {
    let spec = TenantSpec {
        heavy_per_mille,
        ..TenantSpec::new(users, days, seed)
    };
    generate(&spec, TenantFormat::Lake, lake).unwrap();
}

fn config(partitions: usize, batch_size: usize) -> SessionConfig {
    SessionConfig::new()
        .with_target_partitions(partitions)
        .with_batch_size(batch_size)
}

/// The hunt's rows, as text, in the order the hunt returns them.
async fn hunt_rows(ctx: &SessionContext, lake: &Path, params: &HuntParams) -> (usize, String) {
    register_lake(ctx, lake.to_str().unwrap()).await.unwrap();
    let batches: Vec<RecordBatch> = hunt::plan(ctx, params)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    (rows, pretty_format_batches(&batches).unwrap().to_string())
}

async fn explained(ctx: &SessionContext, lake: &Path, params: &HuntParams) -> String {
    register_lake(ctx, lake.to_str().unwrap()).await.unwrap();
    let plan = hunt::plan(ctx, params)
        .await
        .unwrap()
        .explain(false, false)
        .unwrap()
        .collect()
        .await
        .unwrap();
    pretty_format_batches(&plan).unwrap().to_string()
}

#[test]
fn a_cluster_in_this_process_returns_the_local_rows() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let url = runtime.block_on(cluster::start_in_process(2)).unwrap();
    let on_cluster = |engine, config| {
        runtime
            .block_on(cluster::connect(&url, engine, config, Arc::default()))
            .unwrap()
    };

    // The plan the scheduler made: the operator inside a stage, both sides shuffled by key.
    let lake = tempfile::tempdir().unwrap();
    tenant(lake.path(), 40, 3, 1, 100);
    let plan = runtime.block_on(explained(
        &on_cluster(Engine::Operator, config(4, 8192)),
        lake.path(),
        &HuntParams::default(),
    ));
    assert!(
        plan.contains("WindowJoinExec")
            && plan.contains("key-partitioned (a cluster's tasks read only their own partition)")
            && plan.contains("UnresolvedShuffleExec")
            && plan.contains("ShuffleWriterExec")
            && !plan.contains("time-aligned")
            && !plan.contains("PrefixSortExec"),
        "{plan}"
    );

    // Lakes another tool wrote: without `UserKey`, and with GUIDs held as UUIDs. Adapted when
    // read, on the cluster (where text is read plain, and executors decode the UUIDs' reading)
    // as on this machine (where it is read as views); both hold the rows of `lake`.
    let no_key = crate::cloud::without_user_key(lake.path());
    let uuids = crate::foreign_lakes::with_uuids(lake.path());
    let params = HuntParams::default();
    let reference = runtime.block_on(hunt_rows(
        &session_with(Engine::Sql, config(2, 8192), Arc::default()),
        lake.path(),
        &params,
    ));
    assert!(reference.0 > 0);
    for (foreign, name) in [(&no_key, "without UserKey"), (&uuids, "with UUIDs")] {
        for engine in [Engine::Operator, Engine::Sql] {
            let ctx = on_cluster(engine, config(2, 8192));
            let rows = runtime.block_on(hunt_rows(&ctx, foreign.path(), &params));
            assert!(rows == reference, "{engine:?} on a lake {name}");
        }
    }

    let found = std::cell::Cell::new(0);
    let cases = ProptestConfig {
        cases: 6,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(cases, |(
        users in 10usize..30,
        days in 1u32..4,
        seed in any::<u64>(),
        heavy_per_mille in prop::sample::select(vec![0u32, 100, 400]),
        window_minutes in prop::sample::select(vec![1i64, 10, 180]),
        partitions in 1usize..5,
        // Small batches split a user's rows across batches; smaller still would mean
        // millions of batches through the shuffles of the larger cases.
        batch_size in prop::sample::select(vec![61usize, 8192]),
    )| {
        let lake = tempfile::tempdir().unwrap();
        tenant(lake.path(), users, days, seed, heavy_per_mille);
        let params = HuntParams { window: window_minutes * MINUTE, ..HuntParams::default() };
        let local = |engine| {
            let ctx = session_with(engine, config(partitions, batch_size), Arc::default());
            runtime.block_on(hunt_rows(&ctx, lake.path(), &params))
        };
        let remote = |engine| {
            let ctx = on_cluster(engine, config(partitions, batch_size));
            runtime.block_on(hunt_rows(&ctx, lake.path(), &params))
        };
        let reference = local(Engine::Sql);
        prop_assert_eq!(&local(Engine::Operator), &reference);
        prop_assert_eq!(&remote(Engine::Operator), &reference);
        prop_assert_eq!(&remote(Engine::Sql), &reference);
        found.set(found.get() + reference.0);
    });
    // Generated tenants hold injected attacks: an empty answer everywhere proves nothing.
    assert!(found.get() > 0);
}

/// A process of the cluster, killed by its id when the test ends however it ends.
struct Process {
    child: Child,
    name: String,
}

impl Process {
    fn start(name: &str, args: &[&str], env: &[(&str, String)]) -> Process {
        let child = Command::new(env!("CARGO_BIN_EXE_retrohunt"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {name}: {e}"));
        Process {
            child,
            name: name.to_string(),
        }
    }

    /// SIGKILL, then reaped.
    fn kill(&mut self) {
        // SAFETY: kill(2) on the id of a child this process has not reaped yet.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }

    fn assert_running(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the {} exited",
            self.name
        );
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_for(address: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the {what} never listened on {address}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A scheduler and executors of the built binary, on loopback ports.
struct Cluster {
    url: String,
    scheduler: Process,
    executors: Vec<Process>,
    work_dirs: Vec<tempfile::TempDir>,
}

impl Cluster {
    /// The processes get `env` (a store's credentials, say) beside this process's.
    fn start(executors: usize, env: &[(&str, String)]) -> Cluster {
        let port = free_port();
        let scheduler_address = format!("127.0.0.1:{port}");
        let scheduler = Process::start(
            "scheduler",
            &[
                "cluster",
                "scheduler",
                "--bind",
                &scheduler_address,
                "--executor-timeout",
                "6s",
            ],
            env,
        );
        wait_for(scheduler_address.parse().unwrap(), "scheduler");
        let mut started = Vec::new();
        let mut work_dirs = Vec::new();
        for n in 0..executors {
            let work_dir = tempfile::tempdir().unwrap();
            let (flight, grpc) = (free_port(), free_port());
            let bind = format!("127.0.0.1:{flight}");
            started.push(Process::start(
                &format!("executor {n}"),
                &[
                    "cluster",
                    "executor",
                    "--scheduler",
                    &scheduler_address,
                    "--bind",
                    &bind,
                    "--grpc-port",
                    &grpc.to_string(),
                    "--concurrent-tasks",
                    "2",
                    "--heartbeat-interval",
                    "1s",
                    "--work-dir",
                    work_dir.path().to_str().unwrap(),
                ],
                env,
            ));
            wait_for(bind.parse().unwrap(), "executor");
            work_dirs.push(work_dir);
        }
        Cluster {
            url: format!("df://{scheduler_address}"),
            scheduler,
            executors: started,
            work_dirs,
        }
    }

    /// Whether an executor ran tasks: each makes a folder named after its job in the work
    /// folder (beside DataFusion's spill folder, made at start).
    fn worked(&self, executor: usize) -> bool {
        std::fs::read_dir(self.work_dirs[executor].path())
            .unwrap()
            .filter_map(Result::ok)
            .any(|entry| {
                !entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("datafusion-")
            })
    }
}

/// `retrohunt ARGS --format csv` on this machine and on the cluster: both outputs.
fn local_and_cluster(cluster: &Cluster, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let run = |extra: &[&str]| {
        succeeded(retrohunt().args(args).args(["--format", "csv"]).args(extra)).stdout
    };
    (run(&[]), run(&["--cluster", &cluster.url]))
}

/// Band joins users write, each with a total order so outputs compare byte for byte.
const BAND_JOINS: [&str; 3] = [
    // Forward, BETWEEN, with a residual beside the window.
    "SELECT i.UserPrincipalName, i.TimeGenerated AS t1, n.TimeGenerated AS t2, n.IPAddress \
     FROM SigninLogs i JOIN AADNonInteractiveUserSignInLogs n \
       ON lower(i.UserPrincipalName) = lower(n.UserPrincipalName) \
      AND n.TimeGenerated BETWEEN i.TimeGenerated AND i.TimeGenerated + INTERVAL '5 minutes' \
     WHERE i.IPAddress <> n.IPAddress \
     ORDER BY 1, 2, 3, 4",
    // Backward and exclusive, the non-interactive side first.
    "SELECT n.UserPrincipalName, n.TimeGenerated AS t1, i.TimeGenerated AS t2, i.AppDisplayName \
     FROM AADNonInteractiveUserSignInLogs n JOIN SigninLogs i \
       ON n.UserPrincipalName = i.UserPrincipalName \
      AND i.TimeGenerated > n.TimeGenerated - INTERVAL '2 minutes' \
      AND i.TimeGenerated < n.TimeGenerated \
     ORDER BY 1, 2, 3, 4",
    // A self-join of one table, counted per user.
    "SELECT a.UserPrincipalName, count(*) AS pairs \
     FROM SigninLogs a JOIN SigninLogs b \
       ON a.UserPrincipalName = b.UserPrincipalName \
      AND b.TimeGenerated >= a.TimeGenerated AND b.TimeGenerated <= a.TimeGenerated + INTERVAL '1 hour' \
     GROUP BY a.UserPrincipalName ORDER BY 1, 2",
];

#[test]
fn a_cluster_of_processes_returns_the_local_rows_and_survives_or_fails_a_killed_executor() {
    // Large enough that a hunt on the cluster takes seconds, so the kill below lands in one.
    let lake = tempfile::tempdir().unwrap();
    tenant(lake.path(), 1500, 10, 12, 100);
    let lake_arg = lake.path().to_str().unwrap();
    let mut cluster = Cluster::start(2, &[]);

    let (local, remote) = local_and_cluster(&cluster, &["hunt", "--lake", lake_arg]);
    let lines = local.iter().filter(|&&b| b == b'\n').count();
    assert!(lines > 1, "the hunt found nothing to compare");
    assert!(local == remote, "the hunt on the cluster differs");
    assert!(
        cluster.worked(0) && cluster.worked(1),
        "both executors should have run tasks"
    );
    for query in BAND_JOINS {
        let (local, remote) = local_and_cluster(&cluster, &["sql", "--lake", lake_arg, query]);
        assert!(local.iter().filter(|&&b| b == b'\n').count() > 1, "{query}");
        assert!(local == remote, "the cluster differs on {query}");
    }
    // KQL: the seed (the window join, Kusto's datetime_diff and split) and a query of
    // Kusto's string and dynamic functions, which the executors decode by name.
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/short_window_signin_mismatch.kql");
    let range = [
        "--start",
        "2026-01-01T00:00:00Z",
        "--end",
        "2026-12-31T23:59:59Z",
    ];
    let mut kql = vec!["kql", "--lake", lake_arg, "--file", seed.to_str().unwrap()];
    kql.extend(range);
    let (here, there) = local_and_cluster(&cluster, &kql);
    assert!(here == there, "the seed in KQL differs on the cluster");
    let hunt = succeeded(
        retrohunt()
            .args(["hunt", "--all", "--format", "csv", "--lake", lake_arg])
            .args(range),
    )
    .stdout;
    assert!(here == hunt, "the seed in KQL differs from the hunt");
    let query = "SigninLogs | where AppDisplayName has 'office' or UserPrincipalName =~ 'X' \
                 | summarize n = count(), apps = make_set(AppDisplayName, 3) by Domain = tostring(split(UserPrincipalName, '@')[1]) \
                 | sort by Domain asc";
    let (here, there) = local_and_cluster(&cluster, &["kql", "--lake", lake_arg, query]);
    assert!(here.iter().filter(|&&b| b == b'\n').count() > 1, "{query}");
    assert!(here == there, "the cluster differs on {query}");
    bench_runs_the_cluster_beside_the_local_operator(&cluster, lake_arg, lines as u64 - 1, &[]);
    // --partitions reaches the scheduler, which cuts the shuffles into that many partitions,
    // and the rows stay the same on both sides.
    let explain = succeeded(retrohunt().args([
        "hunt",
        "--lake",
        lake_arg,
        "--explain",
        "--partitions",
        "5",
        "--cluster",
        &cluster.url,
    ]));
    let explain = String::from_utf8_lossy(&explain.stdout);
    assert!(
        explain.contains("Hash([UserPrincipalName@1], 5)"),
        "{explain}"
    );
    let (local3, remote3) =
        local_and_cluster(&cluster, &["hunt", "--lake", lake_arg, "--partitions", "3"]);
    assert!(
        local3 == local && remote3 == local,
        "--partitions 3 changed the rows"
    );
    // Enrichment and the summary join the findings the client holds with the lake there.
    for triage in ["--enrich", "--summary"] {
        let (local, remote) = local_and_cluster(&cluster, &["hunt", "--lake", lake_arg, triage]);
        assert!(
            local.iter().filter(|&&b| b == b'\n').count() > 1,
            "{triage}"
        );
        assert!(local == remote, "the cluster differs with {triage}");
    }
    // Exclusions: the client applies them to the rows the cluster returns, in their order.
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/exclusions.example.toml");
    let args = [
        "hunt",
        "--lake",
        lake_arg,
        "--exclusions",
        rules.to_str().unwrap(),
    ];
    let (kept, remote) = local_and_cluster(&cluster, &args);
    let kept_lines = kept.iter().filter(|&&b| b == b'\n').count();
    assert!(
        (2..lines).contains(&kept_lines),
        "the exclusions should drop some findings and keep some: {kept_lines} of {lines} lines"
    );
    assert!(kept == remote, "the cluster differs with exclusions");

    // An executor killed in the middle of a query: the query returns the same rows (Ballista
    // ran the lost work again) or fails saying so, and never writes a partial answer.
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("findings.csv");
    let client = retrohunt()
        .args([
            "hunt",
            "--lake",
            lake_arg,
            "--format",
            "csv",
            "--cluster",
            &cluster.url,
        ])
        .arg("--output")
        .arg(&output)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    cluster.executors[1].kill();
    let ended = ended_within(client, Duration::from_secs(180));
    let stderr = String::from_utf8_lossy(&ended.stderr);
    if ended.status.success() {
        assert_eq!(std::fs::read(&output).unwrap(), local, "{stderr}");
    } else {
        assert_eq!(ended.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("error"), "{stderr}");
        assert!(!output.exists(), "a failed query left {}", output.display());
    }
    // The cluster still answers, with the executor that is left.
    cluster.scheduler.assert_running();
    cluster.executors[0].assert_running();
    let (_, remote) = local_and_cluster(&cluster, &["hunt", "--lake", lake_arg]);
    assert!(remote == local, "after the kill the cluster differs");

    // Incremental runs record their findings in the lake: two copies of it, one hunted here and
    // one on the cluster, run after run.
    let copy = tempfile::tempdir().unwrap();
    tenant(copy.path(), 1500, 10, 12, 100);
    let copy_arg = copy.path().to_str().unwrap();
    for run in ["first", "second"] {
        let incremental = |lake: &str, extra: &[&str]| {
            let args = [
                "hunt",
                "--lake",
                lake,
                "--incremental",
                "nightly",
                "--format",
                "csv",
            ];
            succeeded(retrohunt().args(args).args(extra)).stdout
        };
        let here = incremental(lake_arg, &[]);
        let there = incremental(copy_arg, &["--cluster", &cluster.url]);
        assert!(
            here == there,
            "the {run} incremental run differs on the cluster"
        );
        let found = here.iter().filter(|&&b| b == b'\n').count();
        let expected = if run == "first" { lines } else { 1 };
        assert_eq!(found, expected, "the {run} incremental run");
    }
}

/// A lake in Azurite and one in moto's S3, each written by two ingests (the second replacing
/// date files the first wrote, which stay for readers of the older snapshot) and holding a
/// killed writer's file. The scheduler lists the tables itself, so it must list what the
/// client's snapshot names and nothing else, and its executors must reach the store from
/// their own environment. Counts, the hunt on both engines, incremental runs and the bench's
/// cluster engine must give what the same ingests give in a folder on this machine.
#[test]
fn lakes_in_azurite_and_s3_hunt_on_a_cluster_as_of_their_snapshot() {
    let archive = crate::util::diagnostic_tenant(300, 3, 21);
    let mut files: Vec<std::path::PathBuf> = walkdir::WalkDir::new(archive.path())
        .into_iter()
        .map(|entry| entry.unwrap().into_path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    // Every other hour file first, then the rest: the second ingest rewrites every date.
    let first: Vec<_> = files.iter().step_by(2).collect();
    let second: Vec<_> = files.iter().skip(1).step_by(2).collect();
    let (azure, s3) = (azurite(), moto());
    let env: Vec<(&str, String)> = azure.env().into_iter().chain(s3.env()).collect();
    let ingest = |lake: &str| {
        for half in [&first, &second] {
            succeeded(
                retrohunt()
                    .args(["ingest", "--quiet", "--lake", lake])
                    .args(half.iter())
                    .envs(env.clone()),
            );
        }
    };
    let disk = tempfile::tempdir().unwrap();
    let disk = disk.path().to_str().unwrap().to_string();
    ingest(&disk);
    let run = |lake: &str, args: &[&str], cluster: Option<&Cluster>| {
        let mut command = retrohunt();
        command
            .args(args)
            .args(["--lake", lake, "--format", "csv"])
            .envs(env.clone());
        if let Some(cluster) = cluster {
            command.args(["--cluster", &cluster.url]);
        }
        succeeded(&mut command).stdout
    };
    let counts = "SELECT (SELECT count(*) FROM SigninLogs) AS interactive, \
                  (SELECT count(*) FROM AADNonInteractiveUserSignInLogs) AS non_interactive";
    let runs: [&[&str]; 3] = [
        &["sql", counts],
        &["hunt", "--engine", "operator"],
        &["hunt", "--engine", "sql"],
    ];
    let reference: Vec<Vec<u8>> = runs.iter().map(|args| run(&disk, args, None)).collect();
    for output in &reference {
        assert!(output.iter().filter(|&&b| b == b'\n').count() > 1);
    }
    // The first incremental run reports the whole hunt, and records it in the lake.
    let incremental: &[&str] = &["hunt", "--incremental", "nightly"];
    let first_run = run(&disk, incremental, None);
    assert!(first_run == reference[1]);
    let cluster = Cluster::start(2, &env);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for emulator in [&azure, &s3] {
        emulator.create("lakes");
        let lake = format!("{}://lakes/cluster", emulator.scheme());
        ingest(&lake);
        // A copy of a live date file under a name no snapshot gives, as a writer killed
        // before publishing leaves it.
        let store = emulator.store("lakes");
        runtime.block_on(async {
            let listed: Vec<_> = store
                .list(Some(&ObjectPath::from("cluster/SigninLogs")))
                .try_collect()
                .await
                .unwrap();
            let live = listed
                .iter()
                .find(|o| o.location.extension() == Some("parquet"))
                .unwrap();
            let folder = live.location.as_ref().rsplit_once('/').unwrap().0;
            let orphan = format!("{folder}/part-19700101T000000-1-dead0000-0.parquet");
            let bytes = store
                .get(&live.location)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            store
                .put(&ObjectPath::from(orphan), bytes.into())
                .await
                .unwrap();
        });
        for (args, reference) in runs.iter().zip(&reference) {
            assert!(
                &run(&lake, args, None) == reference,
                "{lake} {args:?} on this machine"
            );
            assert!(
                &run(&lake, args, Some(&cluster)) == reference,
                "{lake} {args:?} on the cluster"
            );
        }
        assert!(run(&lake, incremental, Some(&cluster)) == first_run);
        let second_run = run(&lake, incremental, Some(&cluster));
        assert_eq!(
            String::from_utf8_lossy(&second_run).lines().count(),
            1,
            "{lake}"
        );
    }
    let findings = reference[1].iter().filter(|&&b| b == b'\n').count() as u64 - 1;
    bench_runs_the_cluster_beside_the_local_operator(
        &cluster,
        &format!("{}://lakes/cluster", s3.scheme()),
        findings,
        &env,
    );
}

/// `retrohunt bench` with the `cluster` engine: it must return the hunt's `findings` rows,
/// which the bench checks against the local operator's, and report no operator peak (the
/// operator ran out of the client's sight).
fn bench_runs_the_cluster_beside_the_local_operator(
    cluster: &Cluster,
    lake: &str,
    findings: u64,
    env: &[(&str, String)],
) {
    let output = succeeded(retrohunt().envs(env.iter().map(|(k, v)| (k, v))).args([
        "bench",
        "--lake",
        lake,
        "--engines",
        "operator,cluster",
        "--cluster",
        &cluster.url,
        "--runs",
        "1",
        "--warmup",
        "0",
        "--format",
        "json",
    ]));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let contenders = report["sizes"][0]["contenders"].as_array().unwrap();
    let names: Vec<&str> = contenders
        .iter()
        .map(|c| c["contender"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["scan-floor", "operator", "cluster"]);
    for hunt in &contenders[1..] {
        assert!(hunt["failed"].is_null(), "{hunt}");
        assert_eq!(hunt["result_rows"].as_u64(), Some(findings), "{hunt}");
    }
    assert!(contenders[1]["operator_peak"].as_u64().unwrap() > 0);
    assert!(contenders[2]["operator_peak"].is_null());
}

/// `child`'s end; a query that hangs fails the test (and is killed) rather than hang it.
fn ended_within(mut child: Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the query hung for {limit:?} after an executor was killed");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn the_cluster_engine_and_its_scheduler_come_together() {
    let stderr = usage_error(&["bench", "--engines", "operator,cluster"]);
    assert!(
        stderr.contains("the cluster engine needs a scheduler"),
        "{stderr}"
    );
    let stderr = usage_error(&[
        "bench",
        "--engines",
        "operator",
        "--cluster",
        "df://127.0.0.1:1",
    ]);
    assert!(stderr.contains("add it to --engines"), "{stderr}");
}

#[test]
fn a_scheduler_that_cannot_be_reached_is_named() {
    let port = free_port();
    let output = retrohunt()
        .args(["hunt", "--cluster", &format!("df://127.0.0.1:{port}")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot reach the cluster's scheduler at 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
}
