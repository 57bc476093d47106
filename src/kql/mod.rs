//! KQL, the language analysts hold their hunts in, run on the lake: a parser of our own
//! (`lexer`, `parser`, `ast`), a planner into DataFusion logical plans with Kusto's semantics
//! (`plan`, `scalar`, `summarize`, `functions`, `types`), and errors that point at the
//! query's text (`error`). docs/kql.md says what runs, exactly, and what is refused.

mod ast;
mod error;
mod functions;
mod lexer;
mod parser;
mod plan;
mod scalar;
mod summarize;
mod types;

use std::collections::HashMap;

use datafusion::common::TableReference;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

pub use error::{ErrorKind, KqlError, Span};
pub use plan::Options;
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
