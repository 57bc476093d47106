//! Runs each measurement in a child process of this same binary, under a timeout.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{BenchError, Job, Measurement};

/// The hidden subcommand that runs one [`Job`] and prints its [`Measurement`] as JSON.
pub const CHILD_COMMAND: &str = "bench-run";

/// How one run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Finished(Measurement),
    /// Killed at the timeout.
    TimedOut,
    /// The run's own error, e.g. a resources error under the memory limit.
    Failed(String),
}

/// Carries out one run; the bench's seam for tests.
pub trait Runner {
    /// # Errors
    /// The run could not be carried out at all (as opposed to the run failing, which is an
    /// [`Outcome`]).
    fn run(&self, job: &Job, timeout: Duration) -> Result<Outcome, BenchError>;
}

/// Runs jobs as `EXE bench-run JOB`.
pub struct ProcessRunner {
    exe: PathBuf,
}

impl ProcessRunner {
    /// `exe` is a retrohunt binary, usually `std::env::current_exe()`.
    pub fn new(exe: PathBuf) -> Self {
        ProcessRunner { exe }
    }
}

impl Runner for ProcessRunner {
    fn run(&self, job: &Job, timeout: Duration) -> Result<Outcome, BenchError> {
        let job_json = serde_json::to_string(job).expect("a job serialises");
        let mut child = Command::new(&self.exe)
            .arg(CHILD_COMMAND)
            .arg(job_json)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(BenchError::Spawn)?;
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(BenchError::Spawn)? {
                break status;
            }
            if Instant::now() >= deadline {
                // Already gone if it exited since try_wait: then kill fails harmlessly.
                let _ = child.kill();
                let _ = child.wait();
                return Ok(Outcome::TimedOut);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        if !status.success() {
            let reason = stderr.trim();
            return Ok(Outcome::Failed(if reason.is_empty() {
                format!("exited with {status}")
            } else {
                reason.to_string()
            }));
        }
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .map(Outcome::Finished)
            .map_err(|e| BenchError::Garbled {
                reason: e.to_string(),
                output: format!("{stdout}{stderr}"),
            })
    }
}

/// Reads a pipe to its end on its own thread, so a chatty child never blocks on a full pipe.
fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}
