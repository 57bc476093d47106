//! Exclusions: named rules, each with a reason, that take known benign look-alikes out of the
//! hunt's results (corporate egress, VPNs, CI/CD runners, device management, service accounts).
//! Rules become DataFusion expressions (values are literals, never SQL text) evaluated in the
//! engine; every removed row is counted against the first rule, in file order, that matches it.
//!
//! A rule lists criteria of up to three kinds: accounts (exact, glob, regex), apps (display
//! name or app id) and networks (ASNs, CIDR ranges). Within a kind any entry may match; a rule
//! matches a row when every kind it lists matches. `side` says which sign-in the app and
//! network criteria look at: `interactive`, `non-interactive`, `either` (default) or `both`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::{cast, filter_record_batch, is_null};
use datafusion::arrow::datatypes::{DataType, SchemaRef, UInt32Type};
use datafusion::common::{DFSchema, ScalarValue, TableReference};
use datafusion::error::Result;
use datafusion::functions::expr_fn::{lower, regexp_like};
use datafusion::logical_expr::conditional_expressions::CaseBuilder;
use datafusion::logical_expr::{Expr, ident, lit, when};
use datafusion::prelude::SessionContext;
use ipnet::IpNet;
use serde::Deserialize;

use super::ip_ranges::ip_in_ranges;
use crate::schema::Table;

#[derive(Debug, thiserror::Error)]
pub enum ExclusionError {
    #[error("cannot read exclusions {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Syntax {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("{path}: rule {rule:?}: {reason}")]
    Rule {
        path: String,
        rule: String,
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    reason: String,
    #[serde(default)]
    side: Side,
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    account_globs: Vec<String>,
    #[serde(default)]
    account_regexes: Vec<String>,
    #[serde(default)]
    apps: Vec<String>,
    #[serde(default)]
    app_ids: Vec<String>,
    #[serde(default)]
    asns: Vec<Asn>,
    #[serde(default)]
    ips: Vec<String>,
    /// A condition on the finding's history, read from the columns `--enrich` adds.
    #[serde(default)]
    when: Option<When>,
    /// With `when`: on how many days of the lookback the user must have used the network.
    #[serde(default)]
    seen_on_days: Option<u32>,
    /// A rule left in the file for review but not applied.
    #[serde(default = "enabled_by_default")]
    enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// Conditions on what the lake says about the user before the interactive sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum When {
    /// The user signed in successfully from the non-interactive sign-in's ASN within the
    /// lookback before the interactive sign-in. A replayed token comes from a network the
    /// victim has not used, so a rule with this condition cannot remove that signature.
    NonInteractiveAsnSeenByUser,
}

impl When {
    /// The condition over the enrichment columns, the network seen on at least `days` days.
    fn expr(self, days: u32) -> Expr {
        match self {
            When::NonInteractiveAsnSeenByUser => {
                ident("NonInteractiveAsnDaysBefore").gt_eq(lit(i64::from(days.max(1))))
            }
        }
    }
}

/// ASNs are text in the logs; the file may write them as numbers too.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Asn {
    Number(u64),
    Text(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Side {
    Interactive,
    NonInteractive,
    #[default]
    Either,
    Both,
}

/// A validated rule.
#[derive(Debug, Clone)]
struct Rule {
    name: String,
    reason: String,
    spec: RuleSpec,
    ranges: Vec<IpNet>,
}

/// How many result rows a rule removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleCount {
    pub name: String,
    pub reason: String,
    pub rows: usize,
}

/// The rules of one exclusions file, in file order.
#[derive(Debug, Clone)]
pub struct Exclusions {
    rules: Vec<Rule>,
}

impl Exclusions {
    /// # Errors
    /// An unreadable file, TOML errors (with line and column), and rules that are invalid:
    /// no criteria, a bad CIDR range or regex, duplicate names.
    pub fn load(path: &Path) -> Result<Exclusions, ExclusionError> {
        let text = std::fs::read_to_string(path).map_err(|source| ExclusionError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Exclusions::parse(&text, &path.display().to_string())
    }

    /// Parses `text`, naming `origin` in errors.
    ///
    /// # Errors
    /// As [`Exclusions::load`].
    pub fn parse(text: &str, origin: &str) -> Result<Exclusions, ExclusionError> {
        let file: RulesFile = toml::from_str(text).map_err(|e| ExclusionError::Syntax {
            path: origin.to_string(),
            source: Box::new(e),
        })?;
        let mut rules: Vec<Rule> = Vec::new();
        for spec in file.rule {
            let invalid = |reason: String| ExclusionError::Rule {
                path: origin.to_string(),
                rule: spec.name.clone(),
                reason,
            };
            if rules.iter().any(|r| r.name == spec.name) {
                return Err(invalid("a rule of that name comes earlier".into()));
            }
            if spec.accounts.is_empty()
                && spec.account_globs.is_empty()
                && spec.account_regexes.is_empty()
                && spec.apps.is_empty()
                && spec.app_ids.is_empty()
                && spec.asns.is_empty()
                && spec.ips.is_empty()
                && spec.when.is_none()
            {
                return Err(invalid(
                    "lists no accounts, apps, ASNs, IP ranges or condition, so it would remove \
                     every row"
                        .into(),
                ));
            }
            if spec.seen_on_days.is_some() && spec.when.is_none() {
                return Err(invalid("seen_on_days needs a `when` condition".into()));
            }
            for pattern in &spec.account_regexes {
                regex::Regex::new(pattern)
                    .map_err(|e| invalid(format!("invalid regex {pattern:?}: {e}")))?;
            }
            let ranges = spec
                .ips
                .iter()
                .map(|text| parse_range(text).ok_or_else(|| {
                    invalid(format!(
                        "{text:?} is not an IP address or CIDR range (e.g. 198.51.100.0/24, 2001:db8::/32)"
                    ))
                }))
                .collect::<Result<Vec<_>, _>>()?;
            if !spec.enabled {
                continue;
            }
            rules.push(Rule {
                name: spec.name.clone(),
                reason: spec.reason.clone(),
                spec,
                ranges,
            });
        }
        Ok(Exclusions { rules })
    }

    /// The rules that read the history `--enrich` adds, by name: they need enriched findings.
    pub fn needing_history(&self) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|rule| rule.spec.when.is_some())
            .map(|rule| rule.name.as_str())
            .collect()
    }

    /// Splits `rows` (the hunt's columns, possibly enriched, as `schema` says) into those no
    /// rule matches, in their order, and a count per rule in file order.
    ///
    /// The rules are evaluated on the rows as they are, not planned as a query over them:
    /// DataFusion spreads the rows of a query over partitions to work on them in parallel,
    /// and the kept rows would come back out of the hunt's order.
    ///
    /// # Errors
    /// Evaluation errors; app ids are resolved to display names from the lake in `ctx`.
    pub async fn apply(
        &self,
        ctx: &SessionContext,
        schema: &SchemaRef,
        rows: Vec<RecordBatch>,
    ) -> Result<(Vec<RecordBatch>, Vec<RuleCount>)> {
        let ids: Vec<&str> = self
            .rules
            .iter()
            .flat_map(|rule| rule.spec.app_ids.iter().map(String::as_str))
            .collect();
        let app_names = app_names_by_id(ctx, &ids).await?;
        // Rows are tagged with the index of the first rule that matches them.
        let mut tag: Option<CaseBuilder> = None;
        for (index, rule) in self.rules.iter().enumerate() {
            let (matches, index) = (rule.expr(&app_names), lit(index as u32));
            tag = Some(match tag {
                None => when(matches, index),
                Some(mut builder) => {
                    builder.when(matches, index);
                    builder
                }
            });
        }
        let mut counts: Vec<RuleCount> = self
            .rules
            .iter()
            .map(|rule| RuleCount {
                name: rule.name.clone(),
                reason: rule.reason.clone(),
                rows: 0,
            })
            .collect();
        let Some(mut tag) = tag else {
            return Ok((rows, counts));
        };
        let tag = tag.otherwise(lit(ScalarValue::UInt32(None)))?;
        let tag = ctx.create_physical_expr(tag, &DFSchema::try_from(Arc::clone(schema))?)?;
        let mut kept = Vec::with_capacity(rows.len());
        for batch in rows {
            let rules = tag.evaluate(&batch)?.into_array(batch.num_rows())?;
            let rules = rules.as_primitive::<UInt32Type>();
            for rule in rules.iter().flatten() {
                counts[rule as usize].rows += 1;
            }
            kept.push(filter_record_batch(&batch, &is_null(rules)?)?);
        }
        Ok((kept, counts))
    }
}

/// `198.51.100.0/24`, `2001:db8::/32`, or a single address. Host bits set under the prefix
/// (`10.1.2.3/8`) are cleared: the range is what the prefix says.
fn parse_range(text: &str) -> Option<IpNet> {
    let text = text.trim();
    match text.parse::<IpNet>() {
        Ok(net) => Some(net.trunc()),
        Err(_) => text.parse::<std::net::IpAddr>().ok().map(IpNet::from),
    }
}

/// A glob (`*` any run of characters, `?` one) as an anchored regex; everything else literal.
fn glob_regex(glob: &str) -> String {
    let mut out = String::from("^");
    let mut literal = String::new();
    for c in glob.chars() {
        if c == '*' || c == '?' {
            out.push_str(&regex::escape(&literal));
            literal.clear();
            out.push_str(if c == '*' { ".*" } else { "." });
        } else {
            literal.push(c);
        }
    }
    out.push_str(&regex::escape(&literal));
    out.push('$');
    out
}

fn any_of(exprs: impl IntoIterator<Item = Expr>) -> Option<Expr> {
    exprs.into_iter().reduce(Expr::or)
}

fn in_list(column: &str, values: Vec<String>) -> Option<Expr> {
    (!values.is_empty())
        .then(|| ident(column).in_list(values.into_iter().map(lit).collect(), false))
}

impl Rule {
    /// This rule as a boolean expression over the hunt's columns; `names_by_id` holds the
    /// display names the lake gives each app id.
    fn expr(&self, names_by_id: &BTreeMap<String, BTreeSet<String>>) -> Expr {
        let spec = &self.spec;
        let user = "UserPrincipalName";
        let account = any_of(
            in_list(
                user,
                spec.accounts.iter().map(|a| a.to_lowercase()).collect(),
            )
            .into_iter()
            .chain(
                spec.account_globs
                    .iter()
                    .map(|g| regexp_like(ident(user), lit(glob_regex(&g.to_lowercase())), None)),
            )
            .chain(
                spec.account_regexes
                    .iter()
                    .map(|r| regexp_like(ident(user), lit(r.as_str()), None)),
            ),
        );
        let mut app_names: Vec<String> = spec.apps.iter().map(|a| a.to_lowercase()).collect();
        for id in &spec.app_ids {
            app_names.extend(names_by_id.get(&app_id(id)).into_iter().flatten().cloned());
        }
        let has_apps = !spec.apps.is_empty() || !spec.app_ids.is_empty();
        let app = |side: &str| {
            // An app id that the lake never saw matches nothing, not everything.
            has_apps.then(|| {
                let column = lower(ident(format!("{side}AppDisplayName")));
                if app_names.is_empty() {
                    lit(false)
                } else {
                    column.in_list(app_names.iter().map(|n| lit(n.as_str())).collect(), false)
                }
            })
        };
        let asns: Vec<String> = spec
            .asns
            .iter()
            .map(|asn| match asn {
                Asn::Number(n) => n.to_string(),
                Asn::Text(t) => t.trim().to_string(),
            })
            .collect();
        let network = |side: &str| {
            any_of(
                in_list(&format!("{side}ASN"), asns.clone())
                    .into_iter()
                    .chain(
                        (!self.ranges.is_empty())
                            .then(|| ip_in_ranges(ident(format!("{side}IP")), self.ranges.clone())),
                    ),
            )
        };
        let sided = |criterion: &dyn Fn(&str) -> Option<Expr>| {
            let (i, n) = (criterion("Interactive"), criterion("NonInteractive"));
            match spec.side {
                Side::Interactive => i,
                Side::NonInteractive => n,
                Side::Either => i.zip(n).map(|(i, n)| i.or(n)),
                Side::Both => i.zip(n).map(|(i, n)| i.and(n)),
            }
        };
        let history = spec
            .when
            .map(|when| when.expr(spec.seen_on_days.unwrap_or(1)));
        let criteria = [account, sided(&app), sided(&network), history];
        criteria
            .into_iter()
            .flatten()
            .reduce(Expr::and)
            .expect("parse refuses rules without criteria")
    }
}

/// App ids compare without case or surrounding space.
fn app_id(id: &str) -> String {
    id.trim().to_lowercase()
}

/// The display names (lower-cased) that each of `ids` carries in the lake's tables, in one
/// pass over each table for all rules.
async fn app_names_by_id(
    ctx: &SessionContext,
    ids: &[&str],
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(names);
    }
    let ids: Vec<Expr> = ids.iter().map(|id| lit(app_id(id))).collect();
    for table in Table::USERS {
        let batches = ctx
            .table(TableReference::bare(table.name()))
            .await?
            .filter(lower(ident("AppId")).in_list(ids.clone(), false))?
            .select(vec![
                lower(ident("AppId")).alias("id"),
                lower(ident("AppDisplayName")).alias("name"),
            ])?
            .distinct()?
            .collect()
            .await?;
        for batch in &batches {
            let text = |column| cast(batch.column(column), &DataType::Utf8);
            let (id, name) = (text(0)?, text(1)?);
            for (id, name) in id.as_string::<i32>().iter().zip(name.as_string::<i32>()) {
                if let (Some(id), Some(name)) = (id, name) {
                    names
                        .entry(id.to_string())
                        .or_default()
                        .insert(name.to_string());
                }
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_are_anchored_and_literal_elsewhere() {
        let re = regex::Regex::new(&glob_regex("svc-*@contoso.com")).unwrap();
        assert!(re.is_match("svc-build@contoso.com"));
        assert!(re.is_match("svc-@contoso.com"));
        assert!(!re.is_match("svc-build@contosoXcom"));
        assert!(!re.is_match("xsvc-build@contoso.com"));
        assert!(!re.is_match("svc-build@contoso.com.evil"));
        let one = regex::Regex::new(&glob_regex("ci?@x.io")).unwrap();
        assert!(one.is_match("ci1@x.io"));
        assert!(!one.is_match("ci12@x.io"));
        assert!(!one.is_match("ci@x.io"));
    }

    #[test]
    fn ranges_accept_prefixes_and_single_addresses() {
        assert_eq!(
            parse_range("10.1.2.3/8"),
            Some("10.0.0.0/8".parse().unwrap())
        );
        assert_eq!(
            parse_range("2001:db8::1"),
            Some("2001:db8::1/128".parse().unwrap())
        );
        assert_eq!(
            parse_range("192.0.2.1"),
            Some("192.0.2.1/32".parse().unwrap())
        );
        assert_eq!(parse_range("10.0.0.0/33"), None);
        assert_eq!(parse_range("2001:db8::/129"), None);
        assert_eq!(parse_range("example.com"), None);
    }

    #[test]
    fn invalid_rules_name_the_rule_and_reason() {
        let error = |text: &str| Exclusions::parse(text, "x.toml").unwrap_err().to_string();
        assert_eq!(
            error("[[rule]]\nname = \"a\"\nreason = \"r\"\n"),
            "x.toml: rule \"a\": lists no accounts, apps, ASNs, IP ranges or condition, so it \
             would remove every row"
        );
        assert!(
            error("[[rule]]\nname = \"a\"\nreason = \"r\"\nasns = [1]\nseen_on_days = 3\n")
                .contains("seen_on_days needs a `when` condition")
        );
        assert!(
            error("[[rule]]\nname = \"a\"\nreason = \"r\"\nwhen = \"sometimes\"\n")
                .contains("unknown variant `sometimes`")
        );
        assert!(
            error("[[rule]]\nname = \"a\"\nreason = \"r\"\nips = [\"10.0.0.0/40\"]\n")
                .starts_with("x.toml: rule \"a\": \"10.0.0.0/40\" is not an IP address")
        );
        assert!(
            error("[[rule]]\nname = \"a\"\nreason = \"r\"\naccount_regexes = [\"(\"]\n")
                .starts_with("x.toml: rule \"a\": invalid regex \"(\"")
        );
        assert!(
            error("[[rule]]\nname = \"a\"\nreason = \"r\"\nasn = [1]\n")
                .contains("unknown field `asn`")
        );
        assert!(error("[[rule]]\nname = \"a\"\nasns = [1]\n").contains("missing field `reason`"));
        assert!(
            error("[[rule]]\nname = \"a\"\nreason = \"r\"\nasns = [1]\n[[rule]]\nname = \"a\"\nreason = \"r\"\nasns = [2]\n")
                .contains("a rule of that name comes earlier")
        );
    }
}
