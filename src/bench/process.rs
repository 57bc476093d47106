//! Runs each measurement in a child process of this same binary, under a timeout.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
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
        let mut command = Command::new(&self.exe);
        command.arg(CHILD_COMMAND).arg(job_json);
        let (stdout, stderr) = match run_child(command, timeout)? {
            Ended::Succeeded { stdout, stderr, .. } => (stdout, stderr),
            Ended::Failed(reason) => return Ok(Outcome::Failed(reason)),
            Ended::TimedOut => return Ok(Outcome::TimedOut),
        };
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .map(Outcome::Finished)
            .map_err(|e| BenchError::Garbled {
                reason: e.to_string(),
                output: format!("{stdout}{stderr}"),
            })
    }
}

/// How a child process ended.
pub(super) enum Ended {
    Succeeded {
        stdout: String,
        stderr: String,
        /// From spawn to exit.
        seconds: f64,
        /// Its peak resident memory, its descendants' included: see [`run_child`].
        peak_rss: Option<u64>,
    },
    /// A non-zero exit: its standard error, or its status when that is empty.
    Failed(String),
    /// Killed at the timeout.
    TimedOut,
}

/// Runs `command` to its end, or kills it at `timeout`.
///
/// Its peak memory is what the kernel counts at its exit (`wait4`) unless that is no more than
/// this process held when it forked: Linux counts a forked child's inherited pages as the
/// child's own at its `exec`, so behind a bench that holds a large result every peer would
/// look as large. Then the peak is the largest `VmHWM` of the child and its descendants,
/// sampled every 10 ms while they run (a peak in a process's last 10 ms can be missed).
pub(super) fn run_child(mut command: Command, timeout: Duration) -> Result<Ended, BenchError> {
    let inherited = crate::engine::resident().unwrap_or(0);
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(BenchError::Spawn)?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = started + timeout;
    let mut sampled = None;
    let (status, peak_rss) = loop {
        if let Some(ended) = reap(&child).map_err(BenchError::Spawn)? {
            break ended;
        }
        sampled = sampled.max(tree_peak_rss(child.id()));
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Ended::TimedOut);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let seconds = started.elapsed().as_secs_f64();
    // Past what it inherited (and a margin for this process's growth while forking), the
    // kernel's count is the child's own.
    let peak_rss = match peak_rss {
        Some(counted) if counted > inherited + (16 << 20) => Some(counted),
        counted => sampled.or(counted),
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        let reason = stderr.trim();
        return Ok(Ended::Failed(if reason.is_empty() {
            format!("exited with {status}")
        } else {
            reason.to_string()
        }));
    }
    Ok(Ended::Succeeded {
        stdout,
        stderr,
        seconds,
        peak_rss,
    })
}

/// The child's exit status and peak memory once it has exited, `None` while it runs. `wait4`
/// rather than `Child::try_wait`, which does not say how much memory the child took: a peer
/// cannot be asked to report its own.
fn reap(child: &Child) -> std::io::Result<Option<(ExitStatus, Option<u64>)>> {
    let pid = libc::pid_t::try_from(child.id()).map_err(std::io::Error::other)?;
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of that plain C struct, and both pointers
    // are to locals that outlive the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
    match reaped {
        0 => Ok(None),
        -1 => {
            let error = std::io::Error::last_os_error();
            match error.kind() {
                std::io::ErrorKind::Interrupted => Ok(None),
                _ => Err(error),
            }
        }
        // Linux counts `ru_maxrss` in KiB.
        _ => Ok(Some((
            ExitStatus::from_raw(status),
            u64::try_from(usage.ru_maxrss).ok().map(|kib| kib * 1024),
        ))),
    }
}

/// The largest `VmHWM` among process `pid` and its descendants now (Linux; `None` elsewhere).
fn tree_peak_rss(pid: u32) -> Option<u64> {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    children
        .split_whitespace()
        .filter_map(|child| child.parse().ok())
        .map(tree_peak_rss)
        .fold(crate::engine::peak_rss_of(pid), Option::max)
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
