//! Exclusion rules mined from the lake itself (`retrohunt triage suggest`): the tenant's own
//! networks, background applications on them, accounts that behave like machines, and each
//! user's recurring networks. Hand-written ASN lists fit one tenant; these are measured on the
//! tenant being hunted.
//!
//! Every suggested rule carries the condition `when = "non-interactive-asn-seen-by-user"`:
//! a replayed token comes from a network the victim has not used, so no suggested rule can
//! remove a pair whose non-interactive ASN is new for the user, whatever else it matches.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;

use super::enrich::Lookback;
use super::exclusions::{Exclusions, RuleCount};
use super::measure::hunt_and_exclude;
use crate::hunt::HuntParams;

const NETWORKS_SQL: &str = include_str!("../../sql/suggest_networks.sql");
const APPS_SQL: &str = include_str!("../../sql/suggest_apps.sql");
const ACCOUNTS_SQL: &str = include_str!("../../sql/suggest_accounts.sql");

/// What makes a pattern count; `retrohunt triage suggest --help` gives the defaults.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// A network is the tenant's own when at least this share of its users come back to it.
    pub shared_users: f64,
    /// Coming back means signing in from it on at least this many days of the range (every
    /// day of a shorter range).
    pub regular_days: u32,
    /// A background application signs in non-interactively for at least this share of users,
    pub background_users: f64,
    /// with at least this share of its sign-ins from the tenant's own networks.
    pub background_share: f64,
    /// A machine-like account signs in in at least this many distinct hours of the day,
    pub service_hours: u32,
    /// with at least this share of its sign-ins from one application.
    pub service_app_share: f64,
    /// A user's recurring network: seen on at least this many days of the lookback.
    pub recurring_days: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            shared_users: 0.05,
            regular_days: 3,
            background_users: 0.05,
            background_share: 0.8,
            service_hours: 20,
            service_app_share: 0.95,
            recurring_days: 3,
        }
    }
}

/// The suggested rules as an exclusions file, and what each removes.
#[derive(Debug, Clone)]
pub struct Suggestions {
    /// TOML in the format `--exclusions` reads, each rule with its evidence in comments.
    pub toml: String,
    /// Findings each rule removes (the first matching rule, in file order).
    pub counts: Vec<RuleCount>,
    /// Findings of the hunt before any rule.
    pub findings: usize,
}

/// One rule before it is written out.
struct Suggestion {
    name: &'static str,
    reason: String,
    evidence: Vec<String>,
    /// `key = value` lines of the rule's criteria, values already TOML.
    criteria: Vec<(&'static str, String)>,
}

/// Mines the lake registered in `ctx` over the hunt's range for benign patterns, and counts
/// what the rules would remove from the hunt's findings (enriched with `lookback`).
///
/// # Errors
/// Planning and execution errors.
pub async fn suggest(
    ctx: &SessionContext,
    params: &HuntParams,
    lookback: Lookback,
    thresholds: &Thresholds,
) -> Result<Suggestions> {
    let range = params.values()[..2].to_vec();
    let days = ScalarValue::Int64(Some(i64::from(thresholds.regular_days)));
    let networks = query(ctx, NETWORKS_SQL, [range.clone(), vec![days]].concat()).await?;
    let apps = query(ctx, APPS_SQL, range.clone()).await?;
    let accounts = query(ctx, ACCOUNTS_SQL, range).await?;

    let (shared, tenant_users) = shared_networks(&networks, thresholds.shared_users)?;
    let regular_days = integers(&networks, "Days")?.into_iter().max().unwrap_or(0);
    let mut suggestions = Vec::new();
    if !shared.is_empty() {
        suggestions.push(Suggestion {
            name: "tenant-networks",
            reason: "Both sign-ins from networks a large share of the tenant's users come back \
                     to (corporate egress, VPN concentrators, national carriers): switching \
                     between them changes ASN and IP within minutes."
                .into(),
            evidence: shared
                .iter()
                .map(|(asn, users)| {
                    format!(
                        "AS{asn}: {:.0}% of the tenant's {tenant_users} users sign in from it on \
                         >= {regular_days} days",
                        100.0 * *users as f64 / tenant_users as f64,
                    )
                })
                .collect(),
            criteria: vec![
                ("side", text("both")),
                ("asns", list(shared.iter().map(|(asn, _)| asn.as_str()))),
            ],
        });
    }
    let shared_asns: BTreeSet<&str> = shared.iter().map(|(asn, _)| asn.as_str()).collect();
    let background = background_apps(&apps, &shared_asns, tenant_users, thresholds)?;
    if !background.is_empty() && !shared.is_empty() {
        suggestions.push(Suggestion {
            name: "background-apps-on-tenant-networks",
            reason: "Device management, sync and update agents refresh tokens in the \
                     background; from the tenant's own networks they are the machine, not an \
                     intruder."
                .into(),
            evidence: background.iter().map(|(_, line)| line.clone()).collect(),
            criteria: vec![
                ("side", text("non-interactive")),
                ("apps", list(background.iter().map(|(app, _)| app.as_str()))),
                ("asns", list(shared_asns.iter().copied())),
            ],
        });
    }
    let machines = machine_accounts(&accounts, thresholds)?;
    if !machines.is_empty() {
        suggestions.push(Suggestion {
            name: "machine-like-accounts",
            reason: "Accounts that sign in around the clock with one application are services \
                     or scheduled jobs, whose tokens move between hosts."
                .into(),
            evidence: machines.iter().map(|(_, line)| line.clone()).collect(),
            // A machine's own networks recur; one day of history could be an earlier replay.
            criteria: vec![
                (
                    "accounts",
                    list(machines.iter().map(|(account, _)| account.as_str())),
                ),
                ("seen_on_days", thresholds.recurring_days.max(1).to_string()),
            ],
        });
    }
    suggestions.push(Suggestion {
        name: "recurring-networks-of-the-user",
        reason: "The user has signed in from the non-interactive sign-in's network on several \
                 days of the lookback: roaming between the user's own networks."
            .into(),
        evidence: vec![format!(
            "the network on >= {} days of the user's lookback before the interactive sign-in",
            thresholds.recurring_days
        )],
        criteria: vec![("seen_on_days", thresholds.recurring_days.max(1).to_string())],
    });

    // What each rule removes, counted on the findings as `hunt --enrich` makes them.
    let draft = render(&suggestions, None);
    let exclusions = Exclusions::parse(&draft, "suggested rules")
        .map_err(|e| DataFusionError::Internal(format!("a suggested rule is invalid: {e}")))?;
    let excluded = hunt_and_exclude(ctx, params, lookback, &exclusions).await?;
    let total = excluded.found_rows();
    Ok(Suggestions {
        toml: render(&suggestions, Some((&excluded.counts, total))),
        counts: excluded.counts,
        findings: total,
    })
}

async fn query(
    ctx: &SessionContext,
    sql: &str,
    values: Vec<ScalarValue>,
) -> Result<Vec<RecordBatch>> {
    ctx.sql(sql)
        .await?
        .with_param_values(values)?
        .collect()
        .await
}

/// Column `name` of every row, as text.
fn texts(batches: &[RecordBatch], name: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for batch in batches {
        let column = cast(
            batch.column(batch.schema().index_of(name)?),
            &DataType::Utf8,
        )?;
        out.extend(
            column
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap_or_default().to_owned()),
        );
    }
    Ok(out)
}

/// Column `name` of every row, as integers.
fn integers(batches: &[RecordBatch], name: &str) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    for batch in batches {
        let column = cast(
            batch.column(batch.schema().index_of(name)?),
            &DataType::Int64,
        )?;
        out.extend(
            column
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.unwrap_or(0)),
        );
    }
    Ok(out)
}

/// The ASNs at least `share` of the tenant's users come back to, with those users' count, and
/// the tenant's user count.
fn shared_networks(batches: &[RecordBatch], share: f64) -> Result<(Vec<(String, i64)>, i64)> {
    let asns = texts(batches, "Asn")?;
    let regulars = integers(batches, "RegularUsers")?;
    let tenant = integers(batches, "TenantUsers")?
        .into_iter()
        .max()
        .unwrap_or(0);
    let shared = asns
        .into_iter()
        .zip(regulars)
        .filter(|&(_, users)| tenant > 0 && users as f64 >= share * tenant as f64)
        .collect();
    Ok((shared, tenant))
}

/// Applications that sign in non-interactively for many users, mostly from `shared`
/// networks, with a line of evidence each.
fn background_apps(
    batches: &[RecordBatch],
    shared: &BTreeSet<&str>,
    tenant_users: i64,
    thresholds: &Thresholds,
) -> Result<Vec<(String, String)>> {
    let (apps, asns) = (texts(batches, "App")?, texts(batches, "Asn")?);
    let (sign_ins, users) = (integers(batches, "SignIns")?, integers(batches, "Users")?);
    // Per app: sign-ins, sign-ins from shared networks, and the most users on one network
    // (a lower bound of its users, which distinct counts per network cannot add up to).
    let mut per_app: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for (((app, asn), n), u) in apps.into_iter().zip(asns).zip(sign_ins).zip(users) {
        let entry = per_app.entry(app).or_default();
        entry.0 += n;
        if shared.contains(asn.as_str()) {
            entry.1 += n;
        }
        entry.2 = entry.2.max(u);
    }
    Ok(per_app
        .into_iter()
        .filter(|(_, (total, from_shared, users))| {
            *total > 0
                && *users as f64 >= thresholds.background_users * tenant_users as f64
                && *from_shared as f64 >= thresholds.background_share * *total as f64
        })
        .map(|(app, (total, from_shared, users))| {
            let line = format!(
                "{app}: {:.0}% of its {total} non-interactive sign-ins from the tenant's \
                 networks; >= {users} users",
                100.0 * from_shared as f64 / total as f64
            );
            (app, line)
        })
        .collect())
}

/// Accounts active in many hours of the day with one application, with a line each.
fn machine_accounts(
    batches: &[RecordBatch],
    thresholds: &Thresholds,
) -> Result<Vec<(String, String)>> {
    let users = texts(batches, "UserKey")?;
    let sign_ins = integers(batches, "SignIns")?;
    let hours = integers(batches, "Hours")?;
    let top = integers(batches, "TopAppSignIns")?;
    Ok(users
        .into_iter()
        .zip(sign_ins)
        .zip(hours)
        .zip(top)
        .filter(|(((user, n), h), t)| {
            !user.is_empty()
                && *h >= i64::from(thresholds.service_hours)
                && *t as f64 >= thresholds.service_app_share * *n as f64
        })
        .map(|(((user, n), h), t)| {
            let line = format!(
                "{user}: signs in during {h} distinct hours of the day; {:.0}% of its {n} \
                 sign-ins with one application",
                100.0 * t as f64 / n as f64
            );
            (user, line)
        })
        .collect())
}

fn text(value: &str) -> String {
    // A JSON string is a TOML basic string: the same escapes.
    serde_json::to_string(value).expect("strings serialise")
}

fn list<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let values: Vec<String> = values.map(text).collect();
    format!("[{}]", values.join(", "))
}

/// The rules as an exclusions file; with counts, each says what it would remove.
fn render(suggestions: &[Suggestion], counts: Option<(&[RuleCount], usize)>) -> String {
    let mut out = String::from(
        "# Exclusion rules suggested by `retrohunt triage suggest` from the lake itself.\n\
         # Review each rule, set `enabled = false` where it does not fit, then hunt with\n\
         # `retrohunt hunt --exclusions FILE --enrich` (or --summary): the rules read the\n\
         # history --enrich computes.\n",
    );
    for suggestion in suggestions {
        out.push('\n');
        for line in &suggestion.evidence {
            let _ = writeln!(out, "# evidence: {line}");
        }
        if let Some((counts, total)) = counts
            && let Some(count) = counts.iter().find(|c| c.name == suggestion.name)
        {
            let _ = writeln!(
                out,
                "# removes {} of {total} findings (counted against the first matching rule)",
                count.rows
            );
        }
        out.push_str(
            "# safe: never removes a pair whose non-interactive ASN is new for the user (`when`)\n",
        );
        let _ = writeln!(out, "[[rule]]\nname = {}", text(suggestion.name));
        let _ = writeln!(out, "reason = {}", text(&suggestion.reason));
        out.push_str("enabled = true\n");
        for (key, value) in &suggestion.criteria {
            let _ = writeln!(out, "{key} = {value}");
        }
        out.push_str("when = \"non-interactive-asn-seen-by-user\"\n");
    }
    out
}
