//! KQL, the language analysts hold their hunts in, run on the lake: a parser of our own
//! (`lexer`, `parser`, `ast`), a planner into DataFusion logical plans with Kusto's semantics
//! (`plan`, `scalar`, `calls`, `summarize`, `functions`, `types`), errors that point at the query's
//! text (`error`), and Sentinel's YAML query files (`query_file`). docs/kql.md says what
//! runs, exactly, and what is refused.

mod ast;
mod calls;
mod error;
mod functions;
mod lexer;
mod parser;
mod plan;
mod query_file;
mod scalar;
mod summarize;
mod types;

use std::collections::HashMap;

use datafusion::common::TableReference;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

pub use error::{ErrorKind, KqlError, Span};
pub use functions::udf;
pub use plan::Options;
pub use query_file::{EntityMapping, QueryFile};
pub use types::KType;

/// A query planned over a session's tables.
#[derive(Debug)]
pub struct Planned {
    /// The query's rows, to run on the session.
    pub frame: DataFrame,
    /// Its columns as Kusto names and types them, in Kusto's order.
    pub columns: Vec<(String, KType)>,
    /// What the user should be told beside the rows (a `render` ignored, an empty table).
    pub notes: Vec<String>,
}

/// Whether `text` parses as KQL; the parse error otherwise (what fuzzing drives).
///
/// # Errors
/// The [`KqlError`] of the first place the text is not KQL.
pub fn parses(text: &str) -> Result<(), KqlError> {
    parser::parse(text).map(drop)
}

/// Plans `text` over the tables registered in `ctx`.
///
/// # Errors
/// A [`KqlError`] with the span of the text it is about: the query does not parse, names
/// something that does not exist, or uses what retrohunt does not run exactly.
pub async fn plan(
    ctx: &SessionContext,
    text: &str,
    options: &Options,
) -> Result<Planned, KqlError> {
    let query = parser::parse(text)?;
    let mut tables = HashMap::new();
    for name in ctx
        .catalog("datafusion")
        .and_then(|catalog| catalog.schema("public"))
        .map(|schema| schema.table_names())
        .unwrap_or_default()
    {
        if let Ok(frame) = ctx.table(TableReference::bare(name.as_str())).await {
            tables.insert(name, frame.into_unoptimized_plan());
        }
    }
    let planner = plan::Planner {
        tables: &tables,
        options,
        notes: Default::default(),
    };
    let rel = planner.query(&query, &plan::Scope::default())?;
    let whole = Span::new(0, text.len());
    let logical = rel.project_visible(whole)?;
    Ok(Planned {
        frame: DataFrame::new(ctx.state(), logical),
        columns: rel.cols.iter().map(|c| (c.name.clone(), c.ty)).collect(),
        notes: planner.notes.into_inner(),
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use proptest::prelude::*;

    use super::*;

    /// Words and symbols queries are made of, so that generated text gets past the lexer and
    /// deep into the parser and planner.
    const VOCABULARY: &[&str] = &[
        "SigninLogs",
        "AADNonInteractiveUserSignInLogs",
        "|",
        "where",
        "project",
        "extend",
        "summarize",
        "by",
        "join",
        "kind=inner",
        "kind=leftouter",
        "on",
        "union",
        "sort",
        "top",
        "take",
        "distinct",
        "count",
        "mv-expand",
        "let",
        "x",
        "=",
        "==",
        "!=",
        "=~",
        "has",
        "!in",
        "in~",
        "between",
        "..",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ";",
        ".",
        "+",
        "-",
        "*",
        "/",
        "and",
        "or",
        "not",
        "TimeGenerated",
        "UserPrincipalName",
        "IPAddress",
        "LocationDetails",
        "city",
        "1",
        "0.5",
        "10m",
        "'a'",
        "\"b\"",
        "datetime(2026-01-01)",
        "dynamic([1,'x'])",
        "ago",
        "tolower",
        "split",
        "count()",
        "dcount",
        "make_set",
        "arg_max",
        "bin",
        "iff",
        "case",
        "$left",
        "$right",
        "tostring",
        "todynamic",
        "*",
        "table",
        "materialize",
        "toscalar",
        "range",
        "format_datetime",
    ];

    fn plan_quietly(text: &str) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let ctx = SessionContext::new();
        let options = Options {
            now: Utc::now(),
            start: None,
            end: None,
        };
        let _ = runtime.block_on(plan(&ctx, text, &options));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Any text: an error or a plan, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
            let _ = parses(&text);
        }

        /// Queries of KQL's own words, in any order: parsed and planned without a panic.
        #[test]
        fn word_soup_never_panics(words in proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..24)) {
            let text = words.join(" ");
            if parses(&text).is_ok() {
                plan_quietly(&text);
            }
        }

        /// Well-formed pipelines of generated operators plan or fail cleanly.
        #[test]
        fn generated_pipelines_never_panic(
            table in proptest::sample::select(&["SigninLogs", "AADNonInteractiveUserSignInLogs"][..]),
            ops in proptest::collection::vec(proptest::sample::select(&[
                "where ResultType == 0", "where UserPrincipalName has 'a'", "take 5",
                "project UserPrincipalName, TimeGenerated", "extend y = tolower(IPAddress)",
                "summarize count() by UserPrincipalName", "sort by TimeGenerated",
                "distinct UserPrincipalName", "count", "where TimeGenerated > ago(1d)",
                "mv-expand p = split(UserPrincipalName, '@')", "project-away IPAddress",
                "join (SigninLogs | project UserPrincipalName) on UserPrincipalName",
                "union AADNonInteractiveUserSignInLogs", "top 3 by TimeGenerated asc",
            ][..]), 0..6),
        ) {
            let text = std::iter::once(table).chain(ops).collect::<Vec<_>>().join(" | ");
            plan_quietly(&text);
        }
    }
}
