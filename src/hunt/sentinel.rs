//! Findings for Microsoft Sentinel: one JSON object per finding, shaped as a hunting
//! bookmark is (the query's name, its MITRE ATT&CK tactics and techniques, entity mappings for
//! the account and both IP addresses, and the finding's columns as evidence), so that a Logic
//! App or the Log Analytics ingestion API can turn each into a bookmark, an incident or a row
//! of a custom table without knowing this tool.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::error::{ArrowError, Result};
use serde_json::{Map, Value, json};

use crate::output::{TextSafety, entity, write_bookmarks};

/// The hunt's name, as Sentinel's hunting query is called.
pub const QUERY_NAME: &str = "Short-window sign-in mismatch";

/// T1550.001 (application access token) is defence evasion and lateral movement; T1539
/// (stealing a web session cookie) is credential access.
const TACTICS: [&str; 3] = ["CredentialAccess", "DefenseEvasion", "LateralMovement"];
const TECHNIQUES: [&str; 2] = ["T1550.001", "T1539"];

/// Writes each row of `batches` (the hunt's columns, and any triage columns after them) as
/// one Sentinel JSON object per line. Times and text are written as `--format json` writes
/// them.
///
/// # Errors
/// A schema without the hunt's columns (naming them), and write failures.
pub fn write_sentinel<W: Write + Send>(
    safety: TextSafety,
    schema: &Arc<Schema>,
    batches: &[RecordBatch],
    out: W,
) -> Result<()> {
    let missing: Vec<&str> = super::COLUMNS
        .into_iter()
        .filter(|name| schema.index_of(name).is_err())
        .collect();
    if !missing.is_empty() {
        return Err(ArrowError::InvalidArgumentError(format!(
            "--format sentinel writes the hunt's findings; these rows lack {}",
            missing.join(", ")
        )));
    }
    write_bookmarks(safety, schema, batches, out, bookmark)
}

fn bookmark(evidence: Map<String, Value>) -> Value {
    let text = |name: &str| evidence.get(name).and_then(Value::as_str).unwrap_or("");
    let (user, interactive_ip, other_ip) = (
        text("UserPrincipalName"),
        text("InteractiveIP"),
        text("NonInteractiveIP"),
    );
    let delta = evidence
        .get("TimeDeltaSeconds")
        .cloned()
        .unwrap_or(Value::Null);
    let network = |ip: &str, asn: &str| match ip {
        "" => format!("AS {asn}"),
        ip => format!("{ip} (AS {asn})"),
    };
    let display_name = format!(
        "{QUERY_NAME}: {user} from {} {delta} s after {}",
        network(other_ip, text("NonInteractiveASN")),
        network(interactive_ip, text("InteractiveASN")),
    );
    // Sentinel refuses empty identifiers: what KQL left empty maps no entity.
    let mut entities = Vec::new();
    if !user.is_empty() {
        entities.push(entity(
            "Account",
            &[
                ("FullName", user),
                ("Name", text("AccountName")),
                ("UPNSuffix", text("AccountUPNSuffix")),
            ],
        ));
    }
    for ip in [interactive_ip, other_ip] {
        if !ip.is_empty() {
            entities.push(entity("IP", &[("Address", ip)]));
        }
    }
    json!({
        "TimeGenerated": evidence.get("InteractiveTime"),
        "QueryName": QUERY_NAME,
        "DisplayName": display_name,
        "Tactics": TACTICS,
        "Techniques": TECHNIQUES,
        "EntityMappings": entities,
        "Evidence": evidence,
    })
}
