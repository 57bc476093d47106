//! Synthetic tenants for tests, the sample in `data/` and benchmarks: users with 1–5
//! interactive sign-ins per workday and tens of token refreshes a day from several apps; home
//! ISP, corporate egress, VPN and mobile ASNs; some missing ASNs; failures with real error
//! codes; mixed-case UPNs, a few without '@'; IPv6; a heavy tail of accounts with 20–100x the
//! volume; the benign look-alikes of the hunt's card (mobile refresh, VPN toggles, several
//! networks per day, Intune/Connect/DevOps/Windows Update apps); re-delivered duplicates; and
//! injected token replay from hosting-provider ASNs minutes after an interactive sign-in, listed
//! in `_ground_truth.jsonl`. With `--patterns`, also what Sentinel's sign-in hunts look for
//! (`patterns.rs`). The same spec and seed give the same bytes.

mod patterns;
mod render;
mod tenant;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate};

pub use render::format_time;
pub use tenant::{Event, NetworkMix, TenantSpec};

use crate::ingest::RowsBuilder;
use crate::lake::{LakeError, LakeWriter};
use crate::schema::Table;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantFormat {
    Diagnostic,
    LaJsonl,
    Lake,
}

impl crate::choice::Choice for TenantFormat {
    const OFFERED: &'static [(Self, &'static str, &'static str)] = &[
        (
            TenantFormat::Diagnostic,
            "diagnostic",
            "The storage-account archive: insights-logs-*/tenantId=/y=/m=/d=/h=/m=00/PT1H.json",
        ),
        (
            TenantFormat::LaJsonl,
            "la-jsonl",
            "Log Analytics rows as JSON lines: <Table>/<date>.jsonl",
        ),
        (
            TenantFormat::Lake,
            "lake",
            "Straight into a lake (large benchmark tenants)",
        ),
    ];
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Lake(#[from] LakeError),
}

/// What was generated.
#[derive(Debug, Default, Clone, Copy)]
pub struct Generated {
    pub interactive: u64,
    pub non_interactive: u64,
    pub attacks: u64,
}

/// The injected attacks, one JSON line each, beside the data; the leading `_` keeps it out of
/// `ingest` walks and lake listings.
pub const GROUND_TRUTH: &str = "_ground_truth.jsonl";

/// Writes a tenant to `out` in `format`.
///
/// # Errors
/// A file that cannot be written, or a lake commit that fails.
pub fn generate(
    spec: &TenantSpec,
    format: TenantFormat,
    out: &Path,
) -> Result<Generated, GenerateError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| GenerateError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let lake = match format {
        TenantFormat::Lake => Some(LakeWriter::open(out, || {})?),
        _ => None,
    };
    let users = spec.users();
    let mut generated = Generated::default();
    let mut truth = String::new();
    let mut pending: Vec<Event> = Vec::new();
    for date in spec.dates() {
        let days = std::thread::scope(|scope| {
            let chunks: Vec<_> = users
                .chunks(users.len().div_ceil(2).max(1))
                .map(|chunk| {
                    scope.spawn(move || chunk.iter().map(|u| spec.day(u, date)).collect::<Vec<_>>())
                })
                .collect();
            chunks
                .into_iter()
                .flat_map(|h| h.join().expect("generator thread"))
                .collect::<Vec<_>>()
        });
        for day in days {
            for (victim, attack) in &day.attacks {
                generated.attacks += 1;
                truth.push_str(
                    &serde_json::json!({
                        "UserPrincipalName": victim.upn.to_lowercase(),
                        "InteractiveTime": format_time(victim.time_generated, "Z"),
                        "NonInteractiveTime": format_time(attack.time_generated, "Z"),
                        "InteractiveCorrelationId": victim.correlation_id,
                        "NonInteractiveCorrelationId": attack.correlation_id,
                        "NonInteractiveASN": attack.asn.map(|a| a.to_string()),
                        "NonInteractiveIP": attack.ip,
                    })
                    .to_string(),
                );
                truth.push('\n');
            }
            pending.extend(day.events);
        }
        if spec.patterns {
            pending.extend(patterns::day(spec, &users, date));
        }
        // Events of later dates (processing lag, re-deliveries) wait for their date's turn, so
        // each output file is written once.
        let next_midnight = (date + chrono::Days::new(1))
            .and_hms_opt(0, 0, 0)
            .expect("valid")
            .and_utc()
            .timestamp_nanos_opt()
            .expect("in range");
        let last = date == spec.dates().last().expect("at least one day");
        let (ready, later): (Vec<Event>, Vec<Event>) = std::mem::take(&mut pending)
            .into_iter()
            .partition(|e| last || e.time_generated < next_midnight);
        pending = later;
        for event in &ready {
            if event.interactive {
                generated.interactive += 1
            } else {
                generated.non_interactive += 1
            }
        }
        match (&lake, format) {
            (Some(lake), _) => write_lake(lake, &ready)?,
            (None, TenantFormat::Diagnostic) => {
                write_files(out, &ready, diagnostic_path, render::diagnostic, "\r\n")?
            }
            (None, _) => write_files(out, &ready, la_path, render::log_analytics, "\n")?,
        }
    }
    let truth_path = out.join(GROUND_TRUTH);
    std::fs::write(&truth_path, truth).map_err(io(&truth_path))?;
    Ok(generated)
}

fn table(event: &Event) -> Table {
    if event.interactive {
        Table::Signin
    } else {
        Table::NonInteractive
    }
}

fn diagnostic_path(event: &Event) -> PathBuf {
    let container = match table(event) {
        Table::Signin => "insights-logs-signinlogs",
        Table::NonInteractive => "insights-logs-noninteractiveusersigninlogs",
        Table::ServicePrincipal => "insights-logs-serviceprincipalsigninlogs",
        Table::ManagedIdentity => "insights-logs-managedidentitysigninlogs",
    };
    let time = DateTime::from_timestamp_nanos(event.time_generated);
    PathBuf::from(container)
        .join(format!("tenantId={}", render::TENANT_ID))
        .join(time.format("y=%Y/m=%m/d=%d/h=%H/m=00").to_string())
        .join("PT1H.json")
}

fn la_path(event: &Event) -> PathBuf {
    let date: NaiveDate = DateTime::from_timestamp_nanos(event.time_generated).date_naive();
    PathBuf::from(table(event).name()).join(format!("{date}.jsonl"))
}

/// Writes events grouped by file, each file's records in processing-time order.
fn write_files(
    out: &Path,
    events: &[Event],
    path_of: fn(&Event) -> PathBuf,
    render: fn(&Event) -> String,
    newline: &str,
) -> Result<(), GenerateError> {
    let mut files: BTreeMap<PathBuf, Vec<&Event>> = BTreeMap::new();
    for event in events {
        files.entry(path_of(event)).or_default().push(event);
    }
    for (relative, mut events) in files {
        events.sort_by(|a, b| (a.time_generated, &a.id).cmp(&(b.time_generated, &b.id)));
        let path = out.join(relative);
        let io = |source| GenerateError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(path.parent().expect("has a parent")).map_err(io)?;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io)?);
        for event in events {
            file.write_all(render(event).as_bytes()).map_err(io)?;
            file.write_all(newline.as_bytes()).map_err(io)?;
        }
        file.flush().map_err(io)?;
    }
    Ok(())
}

fn write_lake(lake: &LakeWriter, events: &[Event]) -> Result<(), GenerateError> {
    lake.publish(|| write_tables(lake, events))
}

fn write_tables(lake: &LakeWriter, events: &[Event]) -> Result<(), GenerateError> {
    for target in Table::USERS {
        let mut builder = RowsBuilder::default();
        let mut batches = Vec::new();
        for event in events.iter().filter(|e| table(e) == target) {
            builder.append(&render::lake_row(event), event.time_generated);
            if builder.len() >= 64 * 1024 {
                batches.push(builder.finish());
            }
        }
        batches.push(builder.finish());
        lake.commit(target, batches)?;
    }
    Ok(())
}
