//! Real storage emulators on loopback, installed on first use and stopped by process id when
//! the test that started one ends: Azurite (npm `azurite@3.35.0`, the last release that runs
//! on Node 20) for Azure Blob Storage, and moto's server (PyPI `moto[server]`) for S3. A test
//! that cannot get its emulator fails with the reason; none is skipped. Also Microsoft's KQL
//! parser and binder (npm `@kusto/language-service-next`), the authority the KQL tests check
//! query schemas against; and Debian's headless Chromium, which loads the HTML reports as an
//! analyst's browser would.

use std::fs::File;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::free_port;

const AZURITE: &str = "azurite@3.35.0";
const KUSTO_LANGUAGE: &str = "@kusto/language-service-next@12.4.1";

/// A running emulator; dropping it kills the process.
pub struct Emulator {
    kind: Kind,
    port: u16,
    child: Child,
    log: PathBuf,
    _data: tempfile::TempDir,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Azurite,
    Moto,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where emulators are installed: shared by test runs, so npm runs once per machine.
fn install_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache/retrohunt/emulators")
}

/// Runs `command`, failing the test with its output unless it succeeds.
fn run(mut command: Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot {what}: {e}"));
    assert!(
        output.status.success(),
        "cannot {what}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Installs what `kind` needs unless it is there, one test at a time.
fn install(kind: Kind) -> Option<PathBuf> {
    match kind {
        Kind::Azurite => {
            let dir = install_dir();
            let _lock = install_lock();
            let binary = dir.join("node_modules/.bin/azurite-blob");
            if !binary.exists() {
                let mut npm = Command::new("npm");
                npm.args(["install", "--no-audit", "--no-fund", "--prefix"])
                    .arg(&dir)
                    .arg(AZURITE);
                run(
                    npm,
                    &format!("install {AZURITE} with npm (Node.js 20 or later is needed)"),
                );
            }
            Some(binary)
        }
        Kind::Moto => {
            python_package("moto.server, flask, flask_cors", "moto[server]");
            None
        }
    }
}

/// Microsoft's Kusto.Language parser and binder (npm, compiled to JavaScript), installed if
/// need be: the `node_modules` folder `tests/kusto/bind.js` runs with.
pub fn kusto_language() -> PathBuf {
    let dir = install_dir();
    let _lock = install_lock();
    let modules = dir.join("node_modules");
    if !modules
        .join("@kusto/language-service-next/Kusto.Language.Bridge.js")
        .exists()
    {
        let mut npm = Command::new("npm");
        npm.args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg(KUSTO_LANGUAGE);
        run(npm, &format!("install {KUSTO_LANGUAGE} with npm"));
    }
    modules
}

/// Debian's Chromium, installed with apt-get unless it is there (the tests run as root, as
/// CI does).
pub fn chromium() -> PathBuf {
    let binary = PathBuf::from("/usr/bin/chromium");
    let _lock = install_lock();
    if !binary.exists() {
        let mut update = Command::new("apt-get");
        update.args(["update", "-qq"]);
        run(update, "update Debian's package lists");
        let mut install = Command::new("apt-get");
        install
            .args(["install", "-y", "-qq", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive");
        run(install, "install chromium with apt-get");
    }
    binary
}

/// Held while something is installed: two installs side by side (npm, or pip) can clash.
fn install_lock() -> File {
    let dir = install_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let lock = File::create(dir.join(".lock")).unwrap();
    lock.lock().unwrap();
    lock
}

/// Makes `modules` importable by python3, installing `package` with pip unless they are.
pub fn python_package(modules: &str, package: &str) {
    let _lock = install_lock();
    let present = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "install", "--quiet", package]);
        run(pip, &format!("install {package} with pip"));
    }
}

fn start(kind: Kind) -> Emulator {
    let binary = install(kind);
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = data.path().join("emulator.log");
    let mut command = match kind {
        Kind::Azurite => {
            let mut command = Command::new(binary.unwrap());
            command
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .arg("--location")
                .arg(data.path().join("azurite"))
                .args([
                    "--silent",
                    "--skipApiVersionCheck",
                    "--loose",
                    "--disableTelemetry",
                ]);
            command
        }
        Kind::Moto => {
            let mut command = Command::new("python3");
            command.args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ]);
            command
        }
    };
    let child = command
        .stdin(Stdio::null())
        .stdout(File::create(&log).unwrap())
        .stderr(File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", kind.name()));
    let mut emulator = Emulator {
        kind,
        port,
        child,
        log,
        _data: data,
    };
    emulator.wait_until_listening();
    emulator
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Azurite => "Azurite",
            Kind::Moto => "moto's S3 server",
        }
    }
}

/// Azurite, installed if need be, on a free loopback port.
pub fn azurite() -> Emulator {
    start(Kind::Azurite)
}

/// moto's S3 server, installed if need be, on a free loopback port.
pub fn moto() -> Emulator {
    start(Kind::Moto)
}

impl Emulator {
    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited ({status}) before listening: {}",
                    self.kind.name(),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{} did not listen on port {} within 60 s: {}",
            self.kind.name(),
            self.port,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// The environment a `retrohunt` process needs to reach this emulator, as a user's
    /// would be set for the real service.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let endpoint = format!("http://127.0.0.1:{}", self.port);
        match self.kind {
            Kind::Azurite => vec![
                ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
                ("AZURITE_BLOB_STORAGE_URL", endpoint),
            ],
            Kind::Moto => vec![
                ("AWS_ENDPOINT", endpoint),
                ("AWS_ALLOW_HTTP", "true".into()),
                ("AWS_ACCESS_KEY_ID", "testing".into()),
                ("AWS_SECRET_ACCESS_KEY", "testing".into()),
                ("AWS_REGION", "us-east-1".into()),
            ],
        }
    }

    fn helper(&self, args: &[&str]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/emulators/storage.py");
        let store = match self.kind {
            Kind::Azurite => "azure",
            Kind::Moto => "s3",
        };
        let mut command = Command::new("python3");
        command
            .arg(script)
            .arg(store)
            .arg(self.port.to_string())
            .args(args);
        run(command, &format!("{args:?} on {}", self.kind.name()));
    }

    /// The URL scheme that reaches this emulator's store.
    pub fn scheme(&self) -> &'static str {
        match self.kind {
            Kind::Azurite => "az",
            Kind::Moto => "s3",
        }
    }

    /// Creates a container (Azurite) or bucket (moto).
    pub fn create(&self, name: &str) {
        let command = match self.kind {
            Kind::Azurite => "container",
            Kind::Moto => "bucket",
        };
        self.helper(&[command, name]);
    }

    /// Writes `file` as the object `name` (`CONTAINER/PATH`): on Azurite an append blob, as
    /// diagnostic settings write them.
    pub fn upload(&self, name: &str, file: &Path) {
        let command = match self.kind {
            Kind::Azurite => "new-append",
            Kind::Moto => "put",
        };
        self.helper(&[command, name, file.to_str().unwrap()]);
    }

    /// Appends `file` to the append blob `name` (Azurite only).
    pub fn append(&self, name: &str, file: &Path) {
        assert!(self.kind == Kind::Azurite, "only Azure has append blobs");
        self.helper(&["append", name, file.to_str().unwrap()]);
    }

    /// Uploads every file under `folder` as `CONTAINER/<path below folder>`, in name order.
    pub fn upload_tree(&self, container: &str, folder: &Path) {
        self.helper(&["tree", container, folder.to_str().unwrap()]);
    }
}

/// The key every Azurite account starts with (public, documented by Microsoft).
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

impl Emulator {
    /// The container or bucket `name` as a store of this process, built without the
    /// environment (tests run side by side, each with its own emulator).
    pub fn store(&self, name: &str) -> std::sync::Arc<dyn object_store::ObjectStore> {
        match self.kind {
            Kind::Azurite => self.azure_store(name),
            Kind::Moto => std::sync::Arc::new(
                object_store::aws::AmazonS3Builder::new()
                    .with_endpoint(format!("http://127.0.0.1:{}", self.port))
                    .with_bucket_name(name)
                    .with_allow_http(true)
                    .with_access_key_id("testing")
                    .with_secret_access_key("testing")
                    .with_region("us-east-1")
                    .build()
                    .unwrap(),
            ),
        }
    }

    /// The container `name` in Azurite as a store of this process.
    pub fn azure_store(&self, name: &str) -> std::sync::Arc<dyn object_store::ObjectStore> {
        assert!(self.kind == Kind::Azurite);
        let store = object_store::azure::MicrosoftAzureBuilder::new()
            .with_account("devstoreaccount1")
            .with_access_key(AZURITE_KEY)
            .with_container_name(name)
            .with_endpoint(format!("http://127.0.0.1:{}/devstoreaccount1", self.port))
            .with_allow_http(true)
            .build()
            .unwrap();
        std::sync::Arc::new(store)
    }
}
