//! Ingest from object storage, on real emulators started by the tests: Azurite for Azure Blob
//! Storage (and the ADLS Gen2 and https URL forms), moto for S3. What a store hands over must
//! make exactly the lake the same files make from local disk, and cost no more requests than
//! the time range needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use retrohunt::ingest::{IngestError, IngestOptions};
use retrohunt::store::{FailureKind, Location, Remote};

use crate::emulators::{Emulator, azurite, moto};
use crate::util::{ingest_options, retrohunt, succeeded};

const CONTAINERS: [&str; 2] = [
    "insights-logs-signinlogs",
    "insights-logs-noninteractiveusersigninlogs",
];

fn sample(container: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/sample")
        .join(container)
}

/// Every file of the lake's two tables, by path below the lake, with its bytes.
fn table_files(lake: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for table in ["SigninLogs", "AADNonInteractiveUserSignInLogs"] {
        if !lake.join(table).exists() {
            continue;
        }
        for entry in walkdir::WalkDir::new(lake.join(table)) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                let below = entry.path().strip_prefix(lake).unwrap().to_path_buf();
                files.insert(below, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    files
}

fn ingest(lake: &Path, inputs: &[&str], emulator: &Emulator) -> Output {
    let mut command = retrohunt();
    command
        .args(["ingest", "--lake"])
        .arg(lake)
        .args(inputs)
        .envs(emulator.env());
    command.output().unwrap()
}

/// The sample ingested from its local folders: the lake every remote ingest must equal.
fn local_lake() -> (tempfile::TempDir, String) {
    let lake = tempfile::tempdir().unwrap();
    let output = succeeded(
        retrohunt()
            .args(["ingest", "--lake"])
            .arg(lake.path())
            .args(CONTAINERS.map(sample)),
    );
    (lake, accounting(&output))
}

/// The summary's `records in … = written … + …` line.
fn accounting(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find(|l| l.starts_with("records in"))
        .unwrap_or_else(|| panic!("no accounting in {stdout}"))
        .to_string()
}

fn stdout_line<'a>(output: &'a Output, prefix: &str) -> &'a str {
    let stdout = std::str::from_utf8(&output.stdout).unwrap();
    stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in {stdout}"))
}

/// An ingest of the sample into `lake` finds all 31 of its files known already.
fn assert_sample_known(lake: &str, emulator: &Emulator) {
    let again = retrohunt()
        .args(["ingest", "--lake", lake])
        .args(CONTAINERS.map(sample))
        .envs(emulator.env())
        .output()
        .unwrap();
    assert_ok(&again);
    let read = stdout_line(&again, "read ");
    assert!(read.contains("31 unchanged files skipped"), "{read}");
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_sample_archive_from_azurite_makes_the_lake_local_files_make() {
    let azure = azurite();
    for container in CONTAINERS {
        azure.create(container);
        azure.upload_tree(container, &sample(container));
    }
    let (local, local_accounting) = local_lake();
    let remote = tempfile::tempdir().unwrap();
    let urls = CONTAINERS.map(|c| format!("az://{c}"));
    let first = ingest(remote.path(), &[&urls[0], &urls[1]], &azure);
    assert_ok(&first);
    assert_eq!(accounting(&first), local_accounting);
    assert_eq!(table_files(remote.path()), table_files(local.path()));
    // 31 blobs: 13 interactive hours and 18 non-interactive ones, each read once.
    assert!(
        stdout_line(&first, "store requests:").contains(" 31 get,"),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );

    // Unchanged blobs are recognised from the listing alone.
    let again = ingest(remote.path(), &[&urls[0], &urls[1]], &azure);
    assert_ok(&again);
    let read = stdout_line(&again, "read ");
    assert!(read.contains("31 unchanged files skipped"), "{read}");
    assert!(stdout_line(&again, "store requests:").contains(" 0 get,"));
    assert_eq!(table_files(remote.path()), table_files(local.path()));
}

/// The ADLS Gen2 and https forms of a URL reach the same blobs as `az://`.
#[test]
fn abfss_and_https_urls_name_the_same_blobs() {
    let azure = azurite();
    for container in CONTAINERS {
        azure.create(container);
        azure.upload_tree(container, &sample(container));
    }
    let (local, local_accounting) = local_lake();
    let lake = tempfile::tempdir().unwrap();
    let abfss = format!(
        "abfss://{}@devstoreaccount1.dfs.core.windows.net/",
        CONTAINERS[0]
    );
    let https = format!(
        "https://devstoreaccount1.blob.core.windows.net/{}/tenantId=5f1c2a3b-0d4e-4f60-9a7b-8c9d0e1f2a3b",
        CONTAINERS[1]
    );
    let output = ingest(lake.path(), &[&abfss, &https], &azure);
    assert_ok(&output);
    assert_eq!(accounting(&output), local_accounting);
    assert_eq!(table_files(lake.path()), table_files(local.path()));
}

#[test]
fn the_sample_archive_from_s3_makes_the_lake_local_files_make() {
    let s3 = moto();
    s3.create("archive");
    for container in CONTAINERS {
        s3.upload_tree(&format!("archive/{container}"), &sample(container));
    }
    let (local, local_accounting) = local_lake();
    let lake = tempfile::tempdir().unwrap();
    let urls = CONTAINERS.map(|c| format!("s3://archive/{c}"));
    let output = ingest(lake.path(), &[&urls[0], &urls[1]], &s3);
    assert_ok(&output);
    assert_eq!(accounting(&output), local_accounting);
    assert_eq!(table_files(lake.path()), table_files(local.path()));
}

/// One hour of sign-ins at `hour`, as a diagnostic-settings blob line.
fn hour_blob(day: u32, hour: u32) -> String {
    format!(
        concat!(
            r#"{{"time":"2026-01-{day:02}T{hour:02}:10:00.0000000Z","category":"SignInLogs","#,
            r#""resultType":"0","properties":{{"id":"id-{day}-{hour}","#,
            r#""createdDateTime":"2026-01-{day:02}T{hour:02}:09:00Z","#,
            r#""userPrincipalName":"a@contoso.com","ipAddress":"192.0.2.1","#,
            r#""autonomousSystemNumber":64500,"status":{{"errorCode":0}}}}}}"#,
            "\n"
        ),
        day = day,
        hour = hour
    )
}

/// Puts many small blobs at once through this process's own store.
fn put_all(store: &Arc<dyn ObjectStore>, blobs: Vec<(String, String)>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut puts = futures::stream::iter(blobs.into_iter().map(|(name, body)| {
            let store = Arc::clone(store);
            async move {
                let payload = PutPayload::from(body.into_bytes());
                store.put(&ObjectPath::from(name), payload).await.unwrap();
            }
        }))
        .buffer_unordered(16);
        while puts.next().await.is_some() {}
    });
}

/// A month of hourly blobs; `--since` and `--until` one day. The listing descends one level
/// per request (tenant, year, month, day) and lists that day flat: 5 listings, whatever the
/// archive's length, and exactly the day's 24 blobs read.
#[test]
fn a_day_of_a_month_long_archive_costs_five_listings_and_its_own_blobs() {
    let azure = azurite();
    let container = CONTAINERS[0];
    azure.create(container);
    let mut blobs = Vec::new();
    for day in 1..=31 {
        for hour in 0..24 {
            let name = format!("tenantId=t/y=2026/m=01/d={day:02}/h={hour:02}/m=00/PT1H.json");
            blobs.push((name, hour_blob(day, hour)));
        }
    }
    put_all(&azure.azure_store(container), blobs);

    let lake = tempfile::tempdir().unwrap();
    let output = retrohunt()
        .args(["ingest", "--lake"])
        .arg(lake.path())
        .arg(format!("az://{container}"))
        .args([
            "--since",
            "2026-01-15T00:00:00Z",
            "--until",
            "2026-01-16T00:00:00Z",
        ])
        .envs(azure.env())
        .output()
        .unwrap();
    assert_ok(&output);
    assert_eq!(
        stdout_line(&output, "store requests:"),
        "store requests: 5 list, 24 get, 0 head, 0 write"
    );
    assert_eq!(
        accounting(&output),
        "records in 24 = written 24 + duplicates 0 + skipped 0 + rejected 0"
    );
}

#[test]
fn wrong_credentials_and_a_missing_container_are_named_errors() {
    let azure = azurite();
    azure.create(CONTAINERS[0]);
    let lake = tempfile::tempdir().unwrap();
    // A well-formed key that is not the account's.
    let wrong_key =
        "d3JvbmcgYnV0IHdlbGwtZm9ybWVkIGtleSBvZiBzaXh0eS1mb3VyIGJ5dGVzIGxvbmcgZm9yIHRlc3Rz";
    let output = retrohunt()
        .args(["ingest", "--lake"])
        .arg(lake.path())
        .arg(format!("az://{}", CONTAINERS[0]))
        .envs(azure.env())
        .env("AZURE_STORAGE_ACCOUNT_KEY", wrong_key)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("az://{}: authentication failed", CONTAINERS[0])),
        "{stderr}"
    );
    assert!(!stderr.contains(wrong_key), "{stderr}");

    let missing = ingest(lake.path(), &["az://no-such-container"], &azure);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("az://no-such-container: not found"),
        "{stderr}"
    );
    assert!(table_files(lake.path()).is_empty());
}

/// A store that answers 500 for one blob, after object_store's own retries gave up.
#[derive(Debug)]
struct FailingOne {
    inner: Arc<dyn ObjectStore>,
    blob: String,
}

impl std::fmt::Display for FailingOne {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FailingOne({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for FailingOne {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        if location.as_ref() == self.blob {
            return Err(object_store::Error::Generic {
                store: "MicrosoftAzure",
                source: "Server returned non-2xx status code: 500 Internal Server Error".into(),
            });
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A blob the store fails to hand over fails the ingest, naming it; the blobs read meanwhile
/// are not recorded as ingested unless their rows were committed, so the run that follows
/// ends with exactly the lake of a run that never failed.
#[test]
fn a_store_failure_names_the_blob_and_loses_nothing() {
    let azure = azurite();
    let container = CONTAINERS[1];
    azure.create(container);
    azure.upload_tree(container, &sample(container));
    let store = azure.azure_store(container);
    let blob = "tenantId=5f1c2a3b-0d4e-4f60-9a7b-8c9d0e1f2a3b/y=2026/m=03/d=02/h=12/m=00/PT1H.json";
    let failing: Arc<dyn ObjectStore> = Arc::new(FailingOne {
        inner: Arc::clone(&store),
        blob: blob.to_string(),
    });
    let url = format!("az://{container}");
    let options = |store: Arc<dyn ObjectStore>| IngestOptions {
        inputs: vec![Location::Remote(Remote::with_store(&url, store).unwrap())],
        ..IngestOptions::default()
    };
    let lake = tempfile::tempdir().unwrap();
    let error = ingest_options(lake.path(), &options(failing)).unwrap_err();
    let IngestError::Store(error) = error else {
        panic!("not a store error: {error}");
    };
    assert_eq!(error.url, format!("{url}/{blob}"));
    assert_eq!(error.kind, FailureKind::Store);
    assert!(error.detail.contains("500"), "{error}");

    let summary = ingest_options(lake.path(), &options(store)).unwrap();
    let expected = tempfile::tempdir().unwrap();
    succeeded(
        retrohunt()
            .args(["ingest", "--lake"])
            .arg(expected.path())
            .arg(sample(container)),
    );
    assert_eq!(table_files(lake.path()), table_files(expected.path()));
    crate::util::assert_accounted(&summary);
}

/// Diagnostic settings append to an hour's blob while the hour lasts. A scheduled ingest reads
/// only what was appended since its last read: the appended records alone, none of them a
/// duplicate, and a bad one rejected under its line number in the whole blob. A blob
/// rewritten instead of appended to is read whole.
#[test]
fn a_grown_append_blob_is_read_from_where_the_last_read_stopped() {
    let azure = azurite();
    let container = CONTAINERS[0];
    azure.create(container);
    let hours: Vec<PathBuf> = walkdir::WalkDir::new(sample(container))
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.is_file())
        .take(2)
        .collect();
    let lines = |path: &Path| {
        std::fs::read(path)
            .unwrap()
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    };
    let blob = format!("{container}/y=2026/m=03/d=02/h=09/m=00/PT1H.json");
    let url = format!("az://{container}");
    let lake = tempfile::tempdir().unwrap();

    azure.upload(&blob, &hours[0]);
    let first = ingest(lake.path(), &[&url], &azure);
    assert_ok(&first);
    let records = lines(&hours[0]);
    assert_eq!(
        accounting(&first),
        format!("records in {records} = written {records} + duplicates 0 + skipped 0 + rejected 0")
    );

    azure.append(&blob, &hours[1]);
    let grown = ingest(lake.path(), &[&url], &azure);
    assert_ok(&grown);
    let appended = lines(&hours[1]);
    assert_eq!(
        accounting(&grown),
        format!(
            "records in {appended} = written {appended} + duplicates 0 + skipped 0 + rejected 0"
        )
    );
    assert_eq!(
        stdout_line(&grown, "store requests:"),
        "store requests: 1 list, 1 get, 0 head, 0 write"
    );
    let expected = tempfile::tempdir().unwrap();
    succeeded(
        retrohunt()
            .args(["ingest", "--lake"])
            .arg(expected.path())
            .args(&hours),
    );
    assert_eq!(table_files(lake.path()), table_files(expected.path()));

    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "{\"time\": broken\n").unwrap();
    azure.append(&blob, bad.path());
    let rejected = ingest(lake.path(), &[&url], &azure);
    assert_ok(&rejected);
    assert_eq!(
        accounting(&rejected),
        "records in 1 = written 0 + duplicates 0 + skipped 0 + rejected 1"
    );
    let rejects = std::fs::read_dir(lake.path().join("_rejects"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    let reject: serde_json::Value = serde_json::from_str(rejects.lines().next().unwrap()).unwrap();
    assert_eq!(reject["line"], (records + appended + 1) as u64);
    assert_eq!(
        reject["source"],
        format!("{url}/y=2026/m=03/d=02/h=09/m=00/PT1H.json")
    );

    // Rewritten, and longer than what was read: the bytes before the resume point differ, so
    // it is read whole, and every record is in the lake already.
    azure.upload(&blob, &hours[1]);
    azure.append(&blob, &hours[0]);
    azure.append(&blob, &hours[0]);
    let rewritten = ingest(lake.path(), &[&url], &azure);
    assert_ok(&rewritten);
    let all = 2 * records + appended;
    assert_eq!(
        accounting(&rewritten),
        format!("records in {all} = written 0 + duplicates {all} + skipped 0 + rejected 0")
    );
}

/// The hunt, on both engines, and a band join in `sql`, over a lake copied into a store
/// (as azcopy or `aws s3 sync` would): byte for byte what the same lake gives on local disk.
/// One lake is this tool's own (and an ingest into its copy knows what it holds); the other
/// holds the same rows as another tool writes them,
/// without `UserKey`, so the tables must adapt its files (told from their footers, read
/// through the store), or the hunt would find no one.
#[test]
fn lakes_in_azurite_and_s3_hunt_as_on_local_disk() {
    let own = tempfile::tempdir().unwrap();
    succeeded(
        retrohunt()
            .args(["ingest", "-q", "--lake"])
            .arg(own.path())
            .args(CONTAINERS.map(sample)),
    );
    let export = without_user_key(own.path());
    let band_join = "SELECT i.\"UserKey\", count(*) AS pairs, \
                     sum(n.\"TimeGenerated\" - i.\"TimeGenerated\") AS spread \
                     FROM SigninLogs i JOIN AADNonInteractiveUserSignInLogs n \
                     ON i.\"UserKey\" = n.\"UserKey\" AND n.\"TimeGenerated\" \
                     BETWEEN i.\"TimeGenerated\" AND i.\"TimeGenerated\" + INTERVAL '10 minutes' \
                     GROUP BY 1 ORDER BY 1";
    let runs: [&[&str]; 4] = [
        &["hunt", "--format", "csv", "--engine", "operator"],
        &["hunt", "--format", "csv", "--engine", "sql"],
        &["hunt", "--format", "csv", "--summary"],
        &["sql", "--format", "csv", band_join],
    ];
    for (emulator, scheme) in [(azurite(), "az"), (moto(), "s3")] {
        emulator.create("lakes");
        for (name, lake) in [("own", own.path()), ("export", export.path())] {
            emulator.upload_tree(&format!("lakes/{name}"), lake);
            let url = format!("{scheme}://lakes/{name}");
            for args in runs {
                let local = succeeded(retrohunt().args(args).arg("--lake").arg(lake));
                let remote = retrohunt()
                    .args(args)
                    .args(["--lake", &url])
                    .envs(emulator.env())
                    .output()
                    .unwrap();
                assert_ok(&remote);
                assert!(
                    local.stdout.len() > 100,
                    "{args:?}: too few rows to compare"
                );
                assert!(
                    remote.stdout == local.stdout,
                    "{url} {args:?}: {} bytes against {} on local disk",
                    remote.stdout.len(),
                    local.stdout.len()
                );
            }
        }
        // `bench` runs every engine on it in child processes, which compare their rows.
        let bench = retrohunt()
            .args(["bench", "--runs", "1", "--warmup", "0", "--lake"])
            .arg(format!("{scheme}://lakes/own"))
            .envs(emulator.env())
            .output()
            .unwrap();
        assert_ok(&bench);
        // The hunt finds 1,342 pairs in the sample, as the README says.
        assert!(
            String::from_utf8_lossy(&bench.stdout).contains("┆ 1,342 "),
            "{}",
            String::from_utf8_lossy(&bench.stdout)
        );
        // A run's findings go into the lake's findings table there.
        let appended = retrohunt()
            .args(["hunt", "--append-findings", "--format", "csv", "--lake"])
            .arg(format!("{scheme}://lakes/own"))
            .envs(emulator.env())
            .output()
            .unwrap();
        assert_ok(&appended);
        let stderr = String::from_utf8_lossy(&appended.stderr);
        assert!(
            stderr.contains(&format!(
                "appended 1342 findings to {scheme}://lakes/own/RetrohuntFindings/run_date="
            )),
            "{stderr}"
        );
        let recorded = retrohunt()
            .args(["sql", "--format", "csv", "--lake"])
            .arg(format!("{scheme}://lakes/own"))
            .arg("SELECT count(*) AS n FROM \"RetrohuntFindings\"")
            .envs(emulator.env())
            .output()
            .unwrap();
        assert_ok(&recorded);
        assert_eq!(String::from_utf8_lossy(&recorded.stdout), "n\n1342\n");
        // The first ingest into the copied lake starts from its files and its manifest.
        assert_sample_known(&format!("{scheme}://lakes/own"), &emulator);
        let empty = retrohunt()
            .args(["hunt", "--lake", &format!("{scheme}://lakes/none")])
            .envs(emulator.env())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&empty.stderr);
        assert_eq!(empty.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("is not a lake"), "{stderr}");
    }
}

/// The data files of `lake` rewritten without their `UserKey` column, as an export of the Log
/// Analytics tables would hold them.
pub(crate) fn without_user_key(lake: &Path) -> tempfile::TempDir {
    crate::util::rewritten_lake(lake, |mut batch| {
        let key = batch.schema().index_of("UserKey").unwrap();
        batch.remove_column(key);
        batch
    })
}

/// Both tables of the lake at `lake` (a path or URL), every row in the lake files' own order,
/// as `sql` prints them: equal for two lakes exactly when they hold the same rows.
fn rows_csv(lake: &str, emulator: Option<&Emulator>) -> Vec<u8> {
    let mut all = Vec::new();
    for table in ["SigninLogs", "AADNonInteractiveUserSignInLogs"] {
        let query = format!(
            "SELECT * FROM {table} ORDER BY \"UserKey\", \"TimeGenerated\", \"Id\", \
             \"CorrelationId\", \"AdditionalFields\""
        );
        let mut command = retrohunt();
        command.args(["sql", "--format", "csv", "--lake", lake, &query]);
        if let Some(emulator) = emulator {
            command.envs(emulator.env());
        }
        let output = command.output().unwrap();
        assert_ok(&output);
        all.extend(output.stdout);
    }
    all
}

/// An ingest into a lake in a store, committed in several rounds (each rewriting the same
/// dates), holds exactly the rows an ingest into a folder does, hunts to the same bytes, and
/// knows on the next run that nothing is new.
#[test]
fn ingests_into_lakes_in_azurite_and_s3_make_the_lake_a_folder_gets() {
    let (local, local_accounting) = local_lake();
    let local_text = local.path().to_str().unwrap();
    let expected_rows = rows_csv(local_text, None);
    let expected_hunt = succeeded(
        retrohunt()
            .args(["hunt", "--format", "csv", "--lake"])
            .arg(local.path()),
    )
    .stdout;
    for (emulator, scheme) in [(azurite(), "az"), (moto(), "s3")] {
        emulator.create("lakes");
        let url = format!("{scheme}://lakes/tenant");
        let mut command = retrohunt();
        command
            .args(["ingest", "--memory-limit", "24MiB", "--lake", &url])
            .args(CONTAINERS.map(sample))
            .envs(emulator.env());
        let output = command.output().unwrap();
        assert_ok(&output);
        // Written and duplicate counts depend on which round a copy came in (a later round
        // may bring the earlier copy, which supersedes one written); the records do not.
        let records = |line: String| line.split(" = ").next().unwrap().to_string();
        assert_eq!(
            records(accounting(&output)),
            records(local_accounting.clone())
        );
        let rounds = stdout_line(&output, "read ");
        assert!(!rounds.ends_with("commit rounds: 1"), "{rounds}");
        assert!(
            rows_csv(&url, Some(&emulator)) == expected_rows,
            "{url}: rows differ"
        );
        let hunt = retrohunt()
            .args(["hunt", "--format", "csv", "--lake", &url])
            .envs(emulator.env())
            .output()
            .unwrap();
        assert!(hunt.stdout == expected_hunt, "{url}: hunt differs");

        assert_sample_known(&url, &emulator);
    }
}

/// SIGKILL at any point of an ingest into a lake in a store: readers meanwhile see a whole
/// commit or none (never a missing or doubled date file), and running the ingest again ends
/// with exactly a clean ingest's rows.
#[test]
fn sigkill_during_an_ingest_into_azurite_loses_and_duplicates_nothing() {
    let input = crate::util::diagnostic_tenant(40, 3, 9);
    let clean = tempfile::tempdir().unwrap();
    succeeded(
        retrohunt()
            .args(["ingest", "-q", "--memory-limit", "32MiB", "--lake"])
            .arg(clean.path())
            .arg(input.path()),
    );
    let expected = rows_csv(clean.path().to_str().unwrap(), None);

    let azure = azurite();
    azure.create("lakes");
    // An ingest into the lake at `url`, quiet.
    let ingest = |url: &str| {
        retrohunt()
            .args(["ingest", "-q", "--memory-limit", "32MiB", "--lake", url])
            .arg(input.path())
            .envs(azure.env())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // One whole run, into a prefix of its own, for the run's length.
    let started = std::time::Instant::now();
    ingest("az://lakes/timed").wait().unwrap();
    let duration = started.elapsed();
    let url = "az://lakes/killed";
    let mut interrupted = 0;
    for step in 1..=6u32 {
        let mut child = ingest(url);
        std::thread::sleep(duration * step / 7);
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();
        // Whatever was published reads whole: every row of it exactly once.
        let output = retrohunt()
            .args(["sql", "--format", "csv", "--lake", url])
            .arg("SELECT count(*) AS n, count(DISTINCT \"Id\") AS ids FROM SigninLogs")
            .envs(azure.env())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        if output.status.success() {
            let counts: Vec<&str> = stdout.lines().nth(1).unwrap().split(',').collect();
            assert_eq!(counts[0], counts[1], "a doubled row after kill {step}");
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("is not a lake"), "{stderr}");
        }
    }
    assert!(
        interrupted > 0,
        "every kill came after the ingest had finished"
    );
    let status = ingest(url).wait().unwrap();
    assert!(status.success());
    assert!(
        rows_csv(url, Some(&azure)) == expected,
        "rows differ from a clean ingest"
    );
}

/// Two writers of one lake in a store, each starting from the same snapshot: the first to
/// publish wins, the other fails saying so, and nothing it wrote is visible. (S3 and Azure
/// both refuse the second create-if-absent put.)
#[test]
fn of_two_writers_of_a_lake_in_a_store_one_publishes() {
    use retrohunt::lake::{LakeError, LakeWriter};

    use crate::util::{SignIn, commit_rows};
    use retrohunt::lake::Root;

    for (emulator, scheme) in [(azurite(), "az"), (moto(), "s3")] {
        emulator.create("lakes");
        let store = emulator.store("lakes");
        let url = format!("{scheme}://lakes/two");
        let open = || {
            let remote = Remote::with_store(&url, Arc::clone(&store)).unwrap();
            let root = Root::new(Location::Remote(remote)).unwrap();
            LakeWriter::open_at(&root, retrohunt::lake::DEFAULT_GRACE, || {}).unwrap()
        };
        let first = open();
        let second = open();
        let at = 1_772_445_600_000_000_000; // 2026-03-02T10:00:00Z
        let sign_in = |minutes: i64| {
            SignIn::success(
                at + minutes * 60_000_000_000,
                "a@contoso.com",
                "192.0.2.1",
                "64500",
            )
        };
        first
            .publish(|| commit_rows(&first, &[sign_in(0), sign_in(1)], &[], "first-"))
            .unwrap();
        let lost = second.publish(|| commit_rows(&second, &[sign_in(5)], &[], "second-"));
        assert!(
            matches!(lost, Err(LakeError::Conflict { generation: 1, .. })),
            "{url}: {lost:?}"
        );
        let rows = retrohunt()
            .args(["sql", "--format", "csv", "--lake", &url])
            .arg("SELECT \"Id\" FROM SigninLogs ORDER BY 1")
            .envs(emulator.env())
            .output()
            .unwrap();
        assert_ok(&rows);
        assert_eq!(
            String::from_utf8_lossy(&rows.stdout),
            "Id\nfirst-0\nfirst-1\n"
        );
    }
}

/// The two other layouts storage holds sign-in logs in, uploaded to Azurite: Log Analytics
/// data export (`am-…` containers, JSON lines in five-minute folders) and an export job's
/// Parquet in hourly folders per table. Each ingests to exactly what the same files give from
/// local disk, routed by container or folder where the records do not say.
#[test]
fn data_export_and_export_job_layouts_from_azurite_make_the_lake_local_files_make() {
    use retrohunt::generate::{TenantFormat, TenantSpec, generate};

    let rows = tempfile::tempdir().unwrap();
    let spec = TenantSpec::new(40, 2, 3);
    generate(&spec, TenantFormat::LaJsonl, rows.path()).unwrap();
    let (local, local_accounting) = {
        let lake = tempfile::tempdir().unwrap();
        let output = succeeded(
            retrohunt()
                .args(["ingest", "--lake"])
                .arg(lake.path())
                .arg(rows.path()),
        );
        (lake, accounting(&output))
    };

    let azure = azurite();
    let workspace = "WorkspaceResourceId=/subscriptions/00000000-0000-0000-0000-000000000000/\
                     resourcegroups/rg/providers/microsoft.operationalinsights/workspaces/ws";
    let mut containers = Vec::new();
    for table in ["SigninLogs", "AADNonInteractiveUserSignInLogs"] {
        let container = format!("am-{}", table.to_ascii_lowercase());
        azure.create(&container);
        for date in spec.dates() {
            let file = rows.path().join(table).join(format!("{date}.jsonl"));
            let folder = date.format("y=%Y/m=%m/d=%d/h=00/m=05");
            azure.upload(
                &format!("{container}/{workspace}/{folder}/PT05M.json"),
                &file,
            );
        }
        containers.push(format!("az://{container}"));
    }
    let exported = tempfile::tempdir().unwrap();
    let output = ingest(exported.path(), &[&containers[0], &containers[1]], &azure);
    assert_ok(&output);
    assert_eq!(accounting(&output), local_accounting);
    assert_eq!(table_files(exported.path()), table_files(local.path()));

    // An export job's Parquet: the lake's own date files, in hourly folders of each table.
    azure.create("export");
    for (below, _) in table_files(local.path()) {
        let parts: Vec<String> = below
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let date = parts[1].strip_prefix("date=").unwrap().replace('-', "/");
        let mut ymd = date.split('/');
        let (y, m, d) = (
            ymd.next().unwrap(),
            ymd.next().unwrap(),
            ymd.next().unwrap(),
        );
        let name = format!("export/{}/y={y}/m={m}/d={d}/h=00/part-0.parquet", parts[0]);
        azure.upload(&name, &local.path().join(&below));
    }
    let from_parquet = tempfile::tempdir().unwrap();
    let output = ingest(from_parquet.path(), &["az://export"], &azure);
    assert_ok(&output);
    let local_url = local.path().to_str().unwrap();
    let parquet_url = from_parquet.path().to_str().unwrap();
    assert!(rows_csv(parquet_url, None) == rows_csv(local_url, None));
}

/// A blob larger than its share of `--memory-limit` is read as it arrives, in one GET: every
/// record reaches the lake, as from the same file on local disk read whole (here in 16 MiB
/// pieces: one reading thread holds a quarter of 64 MiB). And the process never holds the
/// blob: twice the records, retyped to a table the lake does not keep (so that no commit
/// needs memory for them), peak far below the blob's size under a 32 MiB limit (the old
/// whole-blob read peaked above it).
#[test]
fn a_blob_larger_than_its_share_of_memory_is_read_as_it_arrives() {
    let tenant = tempfile::tempdir().unwrap();
    succeeded(
        retrohunt()
            .args([
                "generate", "--users", "200", "--days", "2", "--format", "la-jsonl",
            ])
            .arg("--out")
            .arg(tenant.path()),
    );
    let mut content = Vec::new();
    for table in ["SigninLogs", "AADNonInteractiveUserSignInLogs"] {
        let mut days: Vec<PathBuf> = std::fs::read_dir(tenant.path().join(table))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        days.sort();
        for day in days {
            content.extend(std::fs::read(day).unwrap());
        }
    }
    assert!(content.len() > 32 << 20, "{} bytes", content.len());
    let records = tenant.path().join("export.jsonl");
    std::fs::write(&records, &content).unwrap();
    let text = String::from_utf8(content).unwrap();
    // Records of a table that is not a sign-in table: skipped, none held.
    let retyped = text
        .replace("\"Type\":\"SigninLogs\"", "\"Type\":\"AuditLogs\"")
        .replace(
            "\"Type\":\"AADNonInteractiveUserSignInLogs\"",
            "\"Type\":\"AuditLogs\"",
        );
    let skipped = tenant.path().join("skipped.jsonl");
    std::fs::write(&skipped, retyped.repeat(2)).unwrap();
    let skipped_mib = std::fs::metadata(&skipped).unwrap().len() >> 20;

    let whole = tempfile::tempdir().unwrap();
    let local = succeeded(
        retrohunt()
            .args(["ingest", "--lake"])
            .arg(whole.path())
            .arg(&records),
    );
    for emulator in [azurite(), moto()] {
        emulator.create("exports");
        emulator.upload("exports/records/export.jsonl", &records);
        emulator.upload("exports/skipped/export.jsonl", &skipped);
        let ingest = |limit: &str, blob: &str, lake: &Path| {
            let output = retrohunt()
                .args(["ingest", "--memory-limit", limit, "--lake"])
                .arg(lake)
                .arg(format!("{}://exports/{blob}", emulator.scheme()))
                .envs(emulator.env())
                .output()
                .unwrap();
            assert_ok(&output);
            assert_eq!(
                stdout_line(&output, "store requests:"),
                "store requests: 1 list, 1 get, 0 head, 0 write"
            );
            output
        };
        let lake = tempfile::tempdir().unwrap();
        let output = ingest("64MiB", "records", lake.path());
        assert_eq!(accounting(&output), accounting(&local));
        let rows = |lake: &Path| rows_csv(lake.to_str().unwrap(), None);
        assert!(rows(lake.path()) == rows(whole.path()), "rows differ");

        let output = ingest("32MiB", "skipped", tempfile::tempdir().unwrap().path());
        let peak: u64 = stdout_line(&output, "peak memory: ")
            .trim_start_matches("peak memory: ")
            .trim_end_matches(" MiB")
            .parse()
            .unwrap();
        assert!(
            peak < skipped_mib * 3 / 4,
            "{}: peak {peak} MiB for a {skipped_mib} MiB blob",
            emulator.scheme()
        );
    }
}

/// What a lake in a store keeps and deletes, with `--keep-replaced 1s`: a file a commit
/// replaced stays for its grace (readers of the previous snapshot may be reading it) and is
/// gone at the first commit after it; a file no snapshot names (a writer killed before
/// publishing) is deleted by the next writer once older than the grace; the last 11
/// snapshots stay and older ones go. Throughout, the lake holds the rows local disk holds.
#[test]
fn a_lake_in_a_store_deletes_what_no_reader_can_need() {
    let azure = azurite();
    azure.create("lakes");
    let store = azure.store("lakes");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let container = CONTAINERS[0];
    let mut hours: Vec<PathBuf> = walkdir::WalkDir::new(sample(container))
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.is_file())
        .collect();
    hours.truncate(13);
    assert_eq!(hours.len(), 13);
    let listed = |prefix: &str| -> BTreeSet<String> {
        let prefix = ObjectPath::from(prefix);
        let objects: Vec<_> = runtime.block_on(store.list(Some(&prefix)).collect());
        objects
            .into_iter()
            .map(|o| o.unwrap().location.to_string())
            .collect()
    };
    let data_files = || listed("gc/SigninLogs");
    // The newest snapshot's generation, and the data files it names live and replaced.
    let latest = || {
        let generations: Vec<u64> = listed("gc/_snapshots")
            .iter()
            .map(|s| {
                let name = s.rsplit('/').next().unwrap();
                name.trim_end_matches(".json").parse().unwrap()
            })
            .collect();
        let last = *generations.iter().max().unwrap();
        let path = ObjectPath::from(format!("gc/_snapshots/{last:020}.json"));
        let bytes =
            runtime.block_on(async { store.get(&path).await.unwrap().bytes().await.unwrap() });
        let snapshot: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let named = |list: &str| -> BTreeSet<String> {
            snapshot[list]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| format!("gc/{}", f["path"].as_str().unwrap()))
                .filter(|path| path.starts_with("gc/SigninLogs/"))
                .collect()
        };
        (generations, named("files"), named("superseded"))
    };
    let orphan = "gc/SigninLogs/date=2026-03-02/part-19700101T000000-1-dead0000-0.parquet";
    let (mut live, mut replaced) = (BTreeSet::new(), BTreeSet::new());
    for (run, hour) in hours.iter().enumerate() {
        if run == 1 {
            // A killed writer's file: nothing names it.
            let first = ObjectPath::from(live.iter().next().map(String::as_str).unwrap());
            runtime.block_on(async {
                let bytes = store.get(&first).await.unwrap().bytes().await.unwrap();
                let orphan = ObjectPath::from(orphan);
                store.put(&orphan, PutPayload::from(bytes)).await.unwrap();
            });
            assert!(data_files().contains(orphan));
        }
        // Every file now is older than the grace when the next run opens the lake.
        std::thread::sleep(std::time::Duration::from_millis(1200));
        let output = retrohunt()
            .args(["ingest", "-q", "--keep-replaced", "1s"])
            .args(["--lake", "az://lakes/gc"])
            .arg(hour)
            .envs(azure.env())
            .output()
            .unwrap();
        assert_ok(&output);
        let (generations, now_live, now_replaced) = latest();
        let present = data_files();
        // What was live is still there, live or just replaced; what was replaced a grace
        // ago is gone; nothing else is there.
        assert!(
            live.is_subset(&present),
            "run {run}: a file read a moment ago is gone"
        );
        assert!(live.is_subset(&now_live.union(&now_replaced).cloned().collect()));
        assert!(
            replaced.is_disjoint(&present),
            "run {run}: kept {replaced:?}"
        );
        let named: BTreeSet<String> = now_live.union(&now_replaced).cloned().collect();
        assert_eq!(present, named, "run {run}");
        // Each run replaced the date file (all hours are of one date) and published once.
        if run > 0 {
            assert_eq!(now_replaced.len(), 1, "run {run}");
        }
        let last = *generations.last().unwrap();
        assert_eq!(last, run as u64 + 1);
        assert_eq!(
            generations,
            (last.saturating_sub(10).max(1)..=last).collect::<Vec<_>>()
        );
        (live, replaced) = (now_live, now_replaced);
    }

    let local = tempfile::tempdir().unwrap();
    succeeded(
        retrohunt()
            .args(["ingest", "--lake"])
            .arg(local.path())
            .args(&hours),
    );
    assert!(
        rows_csv("az://lakes/gc", Some(&azure)) == rows_csv(local.path().to_str().unwrap(), None),
        "rows differ"
    );
}

/// `hunt --incremental` on a lake in a store reports, run after run, exactly what it reports
/// on local disk (itself tested against the whole hunt): the archive is ingested into both
/// lakes in shuffled chunks, so records land late in past dates, with a run on each after
/// every chunk. A run after nothing changed reports nothing and says so.
#[test]
fn incremental_hunts_on_a_lake_in_a_store_report_what_they_report_on_disk() {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;

    let archive = crate::util::diagnostic_tenant(40, 3, 5);
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(archive.path())
        .into_iter()
        .map(|entry| entry.unwrap().into_path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(5));
    let azure = azurite();
    azure.create("lakes");
    let local = tempfile::tempdir().unwrap();
    let local = local.path().to_str().unwrap().to_string();
    let remote = "az://lakes/incremental".to_string();
    let run = |lake: &str, args: &[&str]| {
        let output = retrohunt()
            .args(args)
            .args(["--lake", lake])
            .envs(azure.env())
            .output()
            .unwrap();
        assert_ok(&output);
        output
    };
    let hunt = ["hunt", "--incremental", "nightly", "--format", "csv"];
    let mut reported = 0;
    for chunk in files.chunks(files.len().div_ceil(6)) {
        for lake in [&local, &remote] {
            let mut ingest = vec!["ingest", "--quiet"];
            ingest.extend(chunk.iter().map(|p| p.to_str().unwrap()));
            run(lake, &ingest);
        }
        let on_disk = run(&local, &hunt).stdout;
        let in_store = run(&remote, &hunt).stdout;
        assert_eq!(
            crate::incremental::rows(&in_store),
            crate::incremental::rows(&on_disk)
        );
        reported += crate::incremental::rows(&on_disk).values().sum::<usize>();
    }
    assert!(reported > 0);
    let again = run(&remote, &hunt);
    assert!(crate::incremental::rows(&again.stdout).is_empty());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("the lake has not changed"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // Only the newest record of the name is kept.
    let store = azure.store("lakes");
    let records: Vec<_> = tokio::runtime::Runtime::new().unwrap().block_on(
        store
            .list(Some(&ObjectPath::from("incremental/_hunts/nightly")))
            .collect::<Vec<_>>(),
    );
    assert_eq!(records.len(), 1, "{records:?}");
}
