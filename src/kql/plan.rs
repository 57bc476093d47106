//! A parsed KQL query into a DataFusion `LogicalPlan`, operator by operator, so that
//! DataFusion's optimizer and retrohunt's window-join rule see the query as they see SQL:
//! a time-window join written in KQL (a `join` then a `where` bounding one side's time by
//! the other's) reaches the same band-join rule as the hunt's SQL.
//!
//! Every relation carries its Kusto columns (name and type) in Kusto's order; the plan may
//! hold hidden columns beside them (the lake's `UserKey`, which is `tolower(UserPrincipalName)`
//! and the key the lake's files are sorted by), dropped when the relation is returned.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::functions::expr_fn as f;
use datafusion::logical_expr::{
    EmptyRelation, Expr, JoinType, LogicalPlan, LogicalPlanBuilder, SortExpr, cast, lit,
};

use super::ast::{
    self, ExprKind, Ident, JoinKey, JoinKind, LetValue, NamedExpr, Op, OpKind, Query, Source,
    Tabular, Union,
};
use super::error::{KqlError, Span};
use super::functions::Func;
use super::scalar::{Typed, column};
use super::types::{KType, LaTable, log_analytics_table};

/// What a query is run as of.
#[derive(Debug, Clone)]
pub struct Options {
    /// `now()` and `ago()` are relative to this instant, fixed for the whole query.
    pub now: DateTime<Utc>,
    /// What `{{StartTimeISO}}` and `{{EndTimeISO}}` stand for.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Col {
    pub name: String,
    pub ty: KType,
}

/// A planned tabular expression.
#[derive(Debug, Clone)]
pub struct Rel {
    pub plan: LogicalPlan,
    pub cols: Vec<Col>,
    /// (visible column, hidden column holding its `tolower`).
    twins: Vec<(String, String)>,
}

const HIDDEN_USER_KEY: &str = "__retrohunt_UserKey";

/// The prefix of a plan column that rides along every projection without being visible:
/// `mv-apply`'s subquery sees only its subtable, and the row's other columns come back
/// after it.
const CARRIED: &str = "__retrohunt_carried_";

impl Rel {
    pub fn new(plan: LogicalPlan, cols: Vec<Col>) -> Rel {
        Rel {
            plan,
            cols,
            twins: Vec::new(),
        }
    }

    pub fn col(&self, name: &str) -> Option<&Col> {
        self.cols.iter().find(|c| c.name == name)
    }

    pub fn lower_twin(&self, name: &str) -> Option<&str> {
        self.twins
            .iter()
            .find(|(visible, _)| visible == name)
            .map(|(_, hidden)| hidden.as_str())
    }

    fn err(span: Span, error: datafusion::error::DataFusionError) -> KqlError {
        KqlError::semantic(span, format!("cannot plan this: {error}"))
    }

    /// The plan with only the visible columns.
    pub fn project_visible(&self, span: Span) -> Result<LogicalPlan, KqlError> {
        let names: Vec<String> = self.cols.iter().map(|c| c.name.clone()).collect();
        self.project_names(&names, span)
    }

    pub fn project_names(&self, names: &[String], span: Span) -> Result<LogicalPlan, KqlError> {
        let exprs: Vec<Expr> = names.iter().map(|n| column(n).alias(n)).collect();
        LogicalPlanBuilder::from(self.plan.clone())
            .project(exprs)
            .and_then(LogicalPlanBuilder::build)
            .map_err(|e| Rel::err(span, e))
    }

    fn with_plan(
        &self,
        span: Span,
        build: impl FnOnce(LogicalPlanBuilder) -> datafusion::error::Result<LogicalPlanBuilder>,
    ) -> Result<Rel, KqlError> {
        let plan = build(LogicalPlanBuilder::from(self.plan.clone()))
            .and_then(LogicalPlanBuilder::build)
            .map_err(|e| Rel::err(span, e))?;
        Ok(Rel {
            plan,
            cols: self.cols.clone(),
            twins: self.twins.clone(),
        })
    }

    /// A projection to `outputs` (name, expression, type), keeping the hidden twins of the
    /// columns passed through unchanged.
    fn project(&self, outputs: Vec<(String, Expr, KType)>, span: Span) -> Result<Rel, KqlError> {
        let mut seen = HashSet::new();
        for (name, _, _) in &outputs {
            if !seen.insert(name.clone()) {
                return Err(KqlError::semantic(
                    span,
                    format!("the column `{name}` is named twice"),
                ));
            }
        }
        let mut twins = Vec::new();
        let mut exprs = Vec::new();
        for (name, expr, _) in &outputs {
            if let Expr::Column(c) = expr
                && let Some(hidden) = self.lower_twin(&c.name)
                && !twins.iter().any(|(_, h): &(String, String)| h == hidden)
            {
                twins.push((name.clone(), hidden.to_string()));
            }
            exprs.push(expr.clone().alias(name));
        }
        for (_, hidden) in &twins {
            exprs.push(column(hidden).alias(hidden));
        }
        for field in self.plan.schema().fields() {
            if field.name().starts_with(CARRIED) {
                exprs.push(column(field.name()).alias(field.name()));
            }
        }
        Rel::projected(&self.plan, exprs, outputs, twins, span)
    }

    /// `input` projected to `exprs`, whose visible columns are `outputs`.
    fn projected(
        input: &LogicalPlan,
        exprs: Vec<Expr>,
        outputs: Vec<(String, Expr, KType)>,
        twins: Vec<(String, String)>,
        span: Span,
    ) -> Result<Rel, KqlError> {
        let plan = LogicalPlanBuilder::from(input.clone())
            .project(exprs)
            .and_then(LogicalPlanBuilder::build)
            .map_err(|e| Rel::err(span, e))?;
        Ok(Rel {
            plan,
            cols: outputs
                .into_iter()
                .map(|(name, _, ty)| Col { name, ty })
                .collect(),
            twins,
        })
    }

    fn passthrough(&self) -> Vec<(String, Expr, KType)> {
        self.cols
            .iter()
            .map(|c| (c.name.clone(), column(&c.name), c.ty))
            .collect()
    }
}

/// What a name in scope stands for.
#[derive(Debug, Clone)]
pub enum Binding {
    Scalar(Typed),
    /// A `let` value, planned where it is used (as a table or a value, as the use needs).
    Lazy(Tabular, Scope),
    Function {
        params: Vec<(Ident, Ident)>,
        body: Rc<Query>,
        scope: Scope,
    },
    Table(Rel),
}

/// The names a query's statements have bound so far; later bindings shadow earlier ones.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    entries: Rc<Vec<(String, Binding)>>,
}

impl Scope {
    pub fn lookup(&self, name: &str) -> Option<&Binding> {
        self.entries
            .iter()
            .rev()
            .find(|(bound, _)| bound == name)
            .map(|(_, binding)| binding)
    }

    fn with(&self, name: &str, binding: Binding) -> Scope {
        let mut entries = (*self.entries).clone();
        entries.push((name.to_string(), binding));
        Scope {
            entries: Rc::new(entries),
        }
    }
}

pub struct Planner<'a> {
    /// The lake's tables, as their scans.
    pub tables: &'a HashMap<String, LogicalPlan>,
    pub options: &'a Options,
    /// What the user is told beside the result (a `render` ignored, a table with no rows).
    pub notes: RefCell<Vec<String>>,
}

impl Planner<'_> {
    pub fn now_nanos(&self) -> i64 {
        self.options.now.timestamp_nanos_opt().unwrap_or_default()
    }

    /// `{{StartTimeISO}}` and `{{EndTimeISO}}`, Sentinel's placeholders, filled in.
    pub fn fill_template(&self, text: &str, span: Span) -> Result<String, KqlError> {
        let mut text = text.to_string();
        for (placeholder, value, flag) in [
            ("{{StartTimeISO}}", self.options.start, "--start"),
            ("{{EndTimeISO}}", self.options.end, "--end"),
        ] {
            if text.contains(placeholder) {
                let Some(value) = value else {
                    return Err(KqlError::semantic(
                        span,
                        format!("the query uses {placeholder}: give {flag}"),
                    ));
                };
                text = text.replace(
                    placeholder,
                    &value.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                );
            }
        }
        Ok(text)
    }

    pub fn query(&self, query: &Query, scope: &Scope) -> Result<Rel, KqlError> {
        let mut scope = scope.clone();
        for statement in &query.lets {
            let binding = match &statement.value {
                LetValue::Value(value) => Binding::Lazy(value.clone(), scope.clone()),
                LetValue::Function { params, body } => Binding::Function {
                    params: params.clone(),
                    body: Rc::new((**body).clone()),
                    scope: scope.clone(),
                },
            };
            scope = scope.with(&statement.name.name, binding);
        }
        self.tabular(&query.body, &scope)
    }

    /// A `let` value as a table or a value, whichever it is.
    pub fn let_value(&self, value: &Tabular, scope: &Scope) -> Result<Binding, KqlError> {
        if self.is_tabular(value, scope) {
            return Ok(Binding::Table(self.tabular(value, scope)?));
        }
        let Source::Expr(expr) = &value.source else {
            unreachable!("a union is tabular")
        };
        Ok(Binding::Scalar(self.scalar(expr, None, scope)?))
    }

    fn is_tabular(&self, value: &Tabular, scope: &Scope) -> bool {
        match &value.source {
            Source::Union(_) => true,
            Source::Expr(_) if !value.ops.is_empty() => true,
            Source::Expr(expr) => self.is_tabular_expr(expr, scope),
        }
    }

    fn is_tabular_expr(&self, expr: &ast::Expr, scope: &Scope) -> bool {
        match &expr.kind {
            ExprKind::Tabular(_) => true,
            ExprKind::Name(name) => match scope.lookup(name) {
                Some(Binding::Table(_)) => true,
                Some(Binding::Lazy(value, at)) => self.is_tabular(value, at),
                Some(_) => false,
                None => log_analytics_table(name).is_some() || self.tables.contains_key(name),
            },
            ExprKind::Call { name, args } => match name.name.as_str() {
                "table" => true,
                "materialize" => args.first().is_some_and(|a| self.is_tabular_expr(a, scope)),
                other => match scope.lookup(other) {
                    Some(Binding::Function { body, scope, .. }) => {
                        self.is_tabular(&body.body, scope)
                    }
                    _ => false,
                },
            },
            _ => false,
        }
    }

    /// `expr` as a tabular expression when it is one.
    pub fn as_tabular(&self, expr: &ast::Expr, scope: &Scope) -> Option<Tabular> {
        match &expr.kind {
            ExprKind::Tabular(tabular) => Some((**tabular).clone()),
            _ if self.is_tabular_expr(expr, scope) => Some(Tabular {
                source: Source::Expr(expr.clone()),
                ops: Vec::new(),
                span: expr.span,
            }),
            _ => None,
        }
    }

    pub fn tabular(&self, tabular: &Tabular, scope: &Scope) -> Result<Rel, KqlError> {
        let mut rel = match &tabular.source {
            Source::Union(union) => self.union(None, union, tabular.span, scope)?,
            Source::Expr(expr) => self.source(expr, scope)?,
        };
        for op in &tabular.ops {
            rel = self.operator(rel, op, scope)?;
        }
        Ok(rel)
    }

    fn source(&self, expr: &ast::Expr, scope: &Scope) -> Result<Rel, KqlError> {
        let span = expr.span;
        match &expr.kind {
            ExprKind::Tabular(tabular) => self.tabular(tabular, scope),
            ExprKind::Name(name) => match scope.lookup(name) {
                Some(Binding::Table(rel)) => Ok(rel.clone()),
                Some(Binding::Lazy(value, at)) => match self.let_value(value, at)? {
                    Binding::Table(rel) => Ok(rel),
                    _ => Err(KqlError::semantic(
                        span,
                        format!("`{name}` is a value, not a table"),
                    )),
                },
                Some(_) => Err(KqlError::semantic(span, format!("`{name}` is not a table"))),
                None => self.table(name, span),
            },
            ExprKind::Call { name, args } => match name.name.as_str() {
                "table" => {
                    let [arg] = args.as_slice() else {
                        return Err(KqlError::semantic(span, "table() takes the table's name"));
                    };
                    let value = self.scalar(arg, None, scope)?;
                    let Expr::Literal(ScalarValue::Utf8(Some(table)), _) = value.expr else {
                        return Err(KqlError::unsupported(
                            span,
                            "table() of a name that is not a constant",
                        ));
                    };
                    self.table(&table, span)
                }
                "materialize" => {
                    let [arg] = args.as_slice() else {
                        return Err(KqlError::semantic(span, "materialize() takes a table"));
                    };
                    self.source(arg, scope)
                }
                other => match scope.lookup(other) {
                    Some(Binding::Function {
                        params,
                        body,
                        scope: defined,
                    }) => {
                        let defined = self.bind_arguments(name, params, args, defined, scope)?;
                        self.query(body, &defined)
                    }
                    _ => Err(KqlError::semantic(
                        span,
                        format!("`{other}(...)` is not a table"),
                    )),
                },
            },
            _ => Err(KqlError::semantic(span, "expected a table")),
        }
    }

    fn bind_arguments(
        &self,
        name: &Ident,
        params: &[(Ident, Ident)],
        args: &[ast::Expr],
        defined: &Scope,
        caller: &Scope,
    ) -> Result<Scope, KqlError> {
        if params.len() != args.len() {
            return Err(KqlError::semantic(
                name.span,
                format!("{}() takes {} arguments", name.name, params.len()),
            ));
        }
        let mut scope = defined.clone();
        for ((param, ty), arg) in params.iter().zip(args) {
            let value = self.scalar(arg, None, caller)?;
            let expected = KType::from_name(&ty.name).ok_or_else(|| {
                KqlError::semantic(ty.span, format!("unknown type `{}`", ty.name))
            })?;
            if value.ty != expected {
                return Err(KqlError::semantic(
                    arg.span,
                    format!(
                        "`{}` is a {}, given a {}",
                        param.name,
                        expected.name(),
                        value.ty.name()
                    ),
                ));
            }
            scope = scope.with(&param.name, Binding::Scalar(value));
        }
        Ok(scope)
    }

    /// A scalar function defined by `let`: its body planned with the arguments bound.
    pub fn call_scalar_function(
        &self,
        name: &Ident,
        args: &[ast::Expr],
        rel: Option<&Rel>,
        scope: &Scope,
    ) -> Result<Typed, KqlError> {
        let Some(Binding::Function {
            params,
            body,
            scope: defined,
        }) = scope.lookup(&name.name)
        else {
            unreachable!("checked by the caller")
        };
        if !body.lets.is_empty() || !body.body.ops.is_empty() {
            return Err(KqlError::unsupported(
                name.span,
                "a scalar function with statements",
            ));
        }
        let mut inner = defined.clone();
        if params.len() != args.len() {
            return Err(KqlError::semantic(
                name.span,
                format!("{}() takes {} arguments", name.name, params.len()),
            ));
        }
        for ((param, _), arg) in params.iter().zip(args) {
            inner = inner.with(&param.name, Binding::Scalar(self.scalar(arg, rel, scope)?));
        }
        let Source::Expr(expr) = &body.body.source else {
            return Err(KqlError::semantic(
                name.span,
                "the function returns a table",
            ));
        };
        self.scalar(expr, None, &inner)
    }

    /// A table of the workspace: its Log Analytics columns, read from the lake's columns of
    /// the same name or from `AdditionalFields`, where ingest keeps every other field.
    fn table(&self, name: &str, span: Span) -> Result<Rel, KqlError> {
        let scan = self.tables.get(name);
        let Some(table) = log_analytics_table(name) else {
            let Some(scan) = scan else {
                return Err(KqlError::semantic(span, format!("unknown table `{name}`")));
            };
            return own_table(scan, span);
        };
        let Some(scan) = scan else {
            self.notes.borrow_mut().push(format!(
                "the lake holds no rows of {name}: it reads as an empty table"
            ));
            return empty_table(table, span);
        };
        let schema = scan.schema();
        let has = |column: &str| schema.has_column_with_unqualified_name(column);
        let mut outputs = Vec::new();
        for (column_name, ty) in &table.columns {
            let expr = if has(column_name) && *ty == KType::Dynamic {
                // The lake keeps a missing JSON value as "": dynamic's null.
                f::nullif(column(column_name), lit(""))
            } else if has(column_name) {
                column(column_name)
            } else if column_name == "Type" {
                lit(name)
            } else if has(crate::schema::Text::AdditionalFields.name()) {
                additional_field(column_name, *ty)
            } else {
                null_or_empty(*ty)
            };
            outputs.push((column_name.clone(), expr, *ty));
        }
        let mut exprs: Vec<Expr> = outputs.iter().map(|(n, e, _)| e.clone().alias(n)).collect();
        let mut twins = Vec::new();
        if has(crate::schema::USER_KEY)
            && table.columns.iter().any(|(n, _)| n == "UserPrincipalName")
        {
            exprs.push(column(crate::schema::USER_KEY).alias(HIDDEN_USER_KEY));
            twins.push(("UserPrincipalName".to_string(), HIDDEN_USER_KEY.to_string()));
        }
        Rel::projected(scan, exprs, outputs, twins, span)
    }

    fn operator(&self, rel: Rel, op: &Op, scope: &Scope) -> Result<Rel, KqlError> {
        let span = op.span;
        match &op.kind {
            OpKind::Where(predicate) => {
                let predicate = self.boolean(predicate, Some(&rel), scope)?;
                rel.with_plan(span, |b| b.filter(predicate))
            }
            OpKind::Extend(items) => {
                let mut rel = rel;
                for item in items {
                    let value = self.scalar(&item.expr, Some(&rel), scope)?;
                    let name = self.derived_name(item, "extend")?;
                    let mut outputs = rel.passthrough();
                    match outputs.iter_mut().find(|(n, _, _)| *n == name) {
                        Some(existing) => *existing = (name.clone(), value.expr, value.ty),
                        None => outputs.push((name.clone(), value.expr, value.ty)),
                    }
                    rel.twins.retain(|(visible, _)| *visible != name);
                    rel = rel.project(outputs, span)?;
                }
                Ok(rel)
            }
            OpKind::Project(items) => {
                let mut outputs: Vec<(String, Expr, KType)> = Vec::new();
                for item in items {
                    let value = self.scalar(&item.expr, Some(&rel), scope)?;
                    let mut name = self.derived_name(item, "project")?;
                    // A name Kusto derives gives way to the ones before it (`X1`); a name
                    // written twice is an error.
                    if item.names.is_empty() && !matches!(item.expr.kind, ExprKind::Name(_)) {
                        let taken: Vec<String> = outputs.iter().map(|o| o.0.clone()).collect();
                        name = super::summarize::unique(name, &taken);
                    }
                    outputs.push((name, value.expr, value.ty));
                }
                rel.project(outputs, span)
            }
            OpKind::ProjectAway(names) | OpKind::ProjectKeep(names) => {
                for name in names {
                    self.known(&rel, name)?;
                }
                let keep = matches!(op.kind, OpKind::ProjectKeep(_));
                let outputs = rel
                    .passthrough()
                    .into_iter()
                    .filter(|(n, _, _)| names.iter().any(|named| named.name == *n) == keep)
                    .collect();
                rel.project(outputs, span)
            }
            OpKind::ProjectRename(pairs) => {
                let mut outputs = rel.passthrough();
                for (new, old) in pairs {
                    self.known(&rel, old)?;
                    for output in outputs.iter_mut() {
                        if output.0 == old.name {
                            output.0 = new.name.clone();
                        }
                    }
                }
                rel.project(outputs, span)
            }
            OpKind::ProjectReorder(names) => {
                let mut outputs = Vec::new();
                let all = rel.passthrough();
                for name in names {
                    self.known(&rel, name)?;
                    outputs.extend(all.iter().filter(|(n, _, _)| *n == name.name).cloned());
                }
                for output in all {
                    if !outputs.iter().any(|(n, _, _)| *n == output.0) {
                        outputs.push(output);
                    }
                }
                rel.project(outputs, span)
            }
            OpKind::Summarize { aggregates, by } => {
                self.summarize(rel, aggregates, by, span, scope)
            }
            OpKind::Join { kind, right, on } => self.join(rel, kind, right, on, span, scope),
            OpKind::Union(union) => self.union(Some(rel), union, span, scope),
            OpKind::Sort(keys) => self.sort(rel, keys, None, scope),
            OpKind::Top { count, by } => {
                let count = self.count(count, scope)?;
                self.sort(rel, std::slice::from_ref(by), Some(count), scope)
            }
            OpKind::Take(count) => {
                let count = self.count(count, scope)?;
                rel.with_plan(span, |b| b.limit(0, Some(count)))
            }
            OpKind::Distinct(columns) => {
                let names: Vec<String> = if matches!(columns.as_slice(), [e] if e.kind == ExprKind::Star)
                {
                    rel.cols.iter().map(|c| c.name.clone()).collect()
                } else {
                    columns
                        .iter()
                        .map(|c| match &c.kind {
                            ExprKind::Name(name) if rel.col(name).is_some() => Ok(name.clone()),
                            _ => Err(KqlError::unsupported(
                                c.span,
                                "`distinct` of anything but columns",
                            )),
                        })
                        .collect::<Result<_, _>>()?
                };
                let cols: Vec<Col> = names.iter().filter_map(|n| rel.col(n).cloned()).collect();
                let plan = LogicalPlanBuilder::from(rel.project_names(&names, span)?)
                    .distinct()
                    .and_then(LogicalPlanBuilder::build)
                    .map_err(|e| Rel::err(span, e))?;
                Ok(Rel {
                    plan,
                    cols,
                    twins: Vec::new(),
                })
            }
            OpKind::Count => {
                let count = datafusion::functions_aggregate::expr_fn::count(lit(1)).alias("Count");
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .aggregate(Vec::<Expr>::new(), vec![count])
                    .and_then(LogicalPlanBuilder::build)
                    .map_err(|e| Rel::err(span, e))?;
                Ok(Rel {
                    plan,
                    cols: vec![Col {
                        name: "Count".into(),
                        ty: KType::Long,
                    }],
                    twins: Vec::new(),
                })
            }
            OpKind::MvExpand {
                columns,
                limit,
                legacy,
            } => self.mv_expand(rel, columns, limit.as_ref(), *legacy, span, scope),
            OpKind::MvApply {
                columns,
                limit,
                subquery,
            } => self.mv_apply(rel, columns, limit.as_ref(), subquery, span, scope),
            OpKind::Render => {
                self.notes
                    .borrow_mut()
                    .push("`render` draws a chart in Kusto: ignored here".into());
                Ok(rel)
            }
        }
    }

    fn known(&self, rel: &Rel, name: &Ident) -> Result<(), KqlError> {
        match rel.col(&name.name) {
            Some(_) => Ok(()),
            None => Err(KqlError::semantic(
                name.span,
                format!("unknown column `{}`", name.name),
            )),
        }
    }

    /// The name an `extend`/`project` item gets: the one written, or the column's own.
    fn derived_name(&self, item: &NamedExpr, operator: &str) -> Result<String, KqlError> {
        match item.names.as_slice() {
            [name] => Ok(name.name.clone()),
            [] => item.expr.implicit_name().ok_or_else(|| {
                KqlError::unsupported(
                    item.expr.span,
                    format!("an unnamed `{operator}` expression (write `Name = ...`)"),
                )
            }),
            _ => Err(KqlError::unsupported(item.expr.span, "a tuple of names")),
        }
    }

    fn count(&self, count: &ast::Expr, scope: &Scope) -> Result<usize, KqlError> {
        let value = self.scalar(count, None, scope)?;
        match value.expr {
            Expr::Literal(ScalarValue::Int64(Some(n)), _) if n >= 0 => Ok(n as usize),
            _ => Err(KqlError::semantic(count.span, "expected a constant count")),
        }
    }

    /// `sort`, or `top` with `limit`: Kusto's defaults (descending; nulls last descending,
    /// first ascending), then every other column ascending, so that rows Kusto leaves in no
    /// particular order come out the same on every engine and every run.
    fn sort(
        &self,
        rel: Rel,
        keys: &[ast::SortKey],
        limit: Option<usize>,
        scope: &Scope,
    ) -> Result<Rel, KqlError> {
        let span = keys.first().map(|k| k.expr.span).unwrap_or_default();
        let mut sort = Vec::new();
        let mut used = HashSet::new();
        for key in keys {
            let value = self.scalar(&key.expr, Some(&rel), scope)?;
            if let ExprKind::Name(name) = &key.expr.kind {
                used.insert(name.clone());
            }
            let nulls_first = key.nulls_first.unwrap_or(!key.descending);
            sort.push(SortExpr::new(value.expr, !key.descending, nulls_first));
        }
        for col in &rel.cols {
            if !used.contains(&col.name) {
                sort.push(SortExpr::new(column(&col.name), true, true));
            }
        }
        rel.with_plan(span, |b| b.sort_with_limit(sort, limit))
    }

    fn mv_expand(
        &self,
        rel: Rel,
        columns: &[ast::Expansion],
        limit: Option<&ast::Expr>,
        legacy: bool,
        span: Span,
        scope: &Scope,
    ) -> Result<Rel, KqlError> {
        let limit = match limit {
            Some(limit) => Some(self.count(limit, scope)? as i64),
            None if legacy => Some(128),
            None => None,
        };
        let mut outputs = rel.passthrough();
        let mut expanded = Vec::new();
        for (index, (item, to)) in columns.iter().enumerate() {
            let value = self.scalar(&item.expr, Some(&rel), scope)?;
            if value.ty != KType::Dynamic {
                return Err(KqlError::semantic(
                    item.expr.span,
                    "mv-expand expands a dynamic value",
                ));
            }
            let name = self.derived_name(item, "mv-expand")?;
            let target = match to {
                None => KType::Dynamic,
                Some(ty) => KType::from_name(&ty.name).ok_or_else(|| {
                    KqlError::semantic(ty.span, format!("unknown type `{}`", ty.name))
                })?,
            };
            let hidden = format!("__retrohunt_expand_{index}");
            let mut args = vec![value.expr];
            if let Some(limit) = limit {
                args.push(lit(limit));
            }
            outputs.push((hidden.clone(), Func::ExpandItems.call(args), KType::Dynamic));
            expanded.push((name, hidden, target));
        }
        let staged = rel.project(outputs, span)?;
        let unnest_columns = expanded
            .iter()
            .map(|(_, hidden, _)| Column::new_unqualified(hidden))
            .collect();
        let plan = LogicalPlanBuilder::from(staged.plan.clone())
            .unnest_columns_with_options(unnest_columns, Default::default())
            .and_then(LogicalPlanBuilder::build)
            .map_err(|e| Rel::err(span, e))?;
        let unnested = Rel {
            plan,
            cols: staged.cols.clone(),
            twins: staged.twins.clone(),
        };
        let mut outputs: Vec<(String, Expr, KType)> = rel.passthrough();
        for (name, hidden, target) in expanded {
            let item = column(&hidden);
            let converted = match target {
                KType::Dynamic => item,
                KType::String => Func::DynToString.call(vec![item]),
                KType::Long | KType::Int => cast(Func::DynToLong.call(vec![item]), target.arrow()),
                KType::Real => Func::DynToReal.call(vec![item]),
                KType::Bool => Func::DynToBool.call(vec![item]),
                KType::DateTime => Func::DynToDateTime.call(vec![item]),
                other => {
                    return Err(KqlError::unsupported(
                        span,
                        format!("mv-expand to typeof({})", other.name()),
                    ));
                }
            };
            match outputs.iter_mut().find(|(n, _, _)| *n == name) {
                Some(existing) => *existing = (name, converted, target),
                None => outputs.push((name, converted, target)),
            }
        }
        unnested.project(outputs, span)
    }

    /// `mv-apply` with a subquery of row-by-row operators, which Kusto's subtables give
    /// exactly what they give the expanded rows as a whole: `mv-expand`, then the subquery
    /// on the expanded columns alone, with the row's other columns carried past it and put
    /// first, as Kusto adds them. A subquery that reads a subtable as a whole (`summarize`,
    /// `top`, `take`, ...) is refused: it would need each row's subtable apart.
    fn mv_apply(
        &self,
        rel: Rel,
        columns: &[ast::Expansion],
        limit: Option<&ast::Expr>,
        subquery: &[Op],
        span: Span,
        scope: &Scope,
    ) -> Result<Rel, KqlError> {
        for op in subquery {
            if !matches!(
                op.kind,
                OpKind::Where(_)
                    | OpKind::Extend(_)
                    | OpKind::Project(_)
                    | OpKind::ProjectAway(_)
                    | OpKind::ProjectKeep(_)
                    | OpKind::ProjectRename(_)
                    | OpKind::ProjectReorder(_)
            ) {
                return Err(KqlError::unsupported(
                    op.span,
                    "an `mv-apply` subquery with an operator other than where, extend and \
                     project (its subtables would be read apart)",
                ));
            }
        }
        let expanded_names = columns
            .iter()
            .map(|(item, _)| self.derived_name(item, "mv-apply"))
            .collect::<Result<Vec<_>, _>>()?;
        let kept: Vec<Col> = rel
            .cols
            .iter()
            .filter(|c| !expanded_names.contains(&c.name))
            .cloned()
            .collect();
        let expanded = self.mv_expand(rel, columns, limit, false, span, scope)?;
        let carried = |index: usize| format!("{CARRIED}{index}");
        let mut exprs: Vec<Expr> = Vec::new();
        let mut subtable = Vec::new();
        for col in &expanded.cols {
            match kept.iter().position(|k| k.name == col.name) {
                Some(index) => exprs.push(column(&col.name).alias(carried(index))),
                None => {
                    exprs.push(column(&col.name).alias(&col.name));
                    subtable.push(col.clone());
                }
            }
        }
        let plan = LogicalPlanBuilder::from(expanded.plan)
            .project(exprs)
            .and_then(LogicalPlanBuilder::build)
            .map_err(|e| Rel::err(span, e))?;
        let mut applied = Rel::new(plan, subtable);
        for op in subquery {
            applied = self.operator(applied, op, scope)?;
        }
        let mut outputs: Vec<(String, Expr, KType)> = kept
            .iter()
            .enumerate()
            .map(|(index, col)| (col.name.clone(), column(&carried(index)), col.ty))
            .collect();
        for output in applied.passthrough() {
            if kept.iter().any(|k| k.name == output.0) {
                return Err(KqlError::semantic(
                    span,
                    format!("the column `{}` is named twice", output.0),
                ));
            }
            outputs.push(output);
        }
        let exprs = outputs.iter().map(|(n, e, _)| e.clone().alias(n)).collect();
        Rel::projected(&applied.plan, exprs, outputs, Vec::new(), span)
    }

    fn join(
        &self,
        left: Rel,
        kind: &JoinKind,
        right: &Tabular,
        on: &[JoinKey],
        span: Span,
        scope: &Scope,
    ) -> Result<Rel, KqlError> {
        let right = self.tabular(right, scope)?;
        let mut keys = Vec::new();
        for key in on {
            let (l, r) = match key {
                JoinKey::Same(name) => (name, name),
                JoinKey::Pair(l, r) => (l, r),
            };
            let lcol = left.col(&l.name).ok_or_else(|| {
                KqlError::semantic(l.span, format!("the left side has no column `{}`", l.name))
            })?;
            let rcol = right.col(&r.name).ok_or_else(|| {
                KqlError::semantic(r.span, format!("the right side has no column `{}`", r.name))
            })?;
            if lcol.ty != rcol.ty {
                return Err(KqlError::semantic(
                    l.span.to(r.span),
                    format!(
                        "join keys of different types: {} and {}",
                        lcol.ty.name(),
                        rcol.ty.name()
                    ),
                ));
            }
            if lcol.ty == KType::Dynamic {
                return Err(KqlError::semantic(l.span, "a join key cannot be dynamic"));
            }
            keys.push((l.name.clone(), r.name.clone()));
        }
        // innerunique: one arbitrary left row per key, then an inner join.
        let left_plan = if *kind == JoinKind::InnerUnique {
            let on_exprs: Vec<Expr> = keys.iter().map(|(l, _)| column(l)).collect();
            let select: Vec<Expr> = left
                .cols
                .iter()
                .map(|c| column(&c.name).alias(&c.name))
                .collect();
            let mut twins: Vec<Expr> = left.twins.iter().map(|(_, h)| column(h).alias(h)).collect();
            let mut select = select;
            select.append(&mut twins);
            LogicalPlanBuilder::from(left.plan.clone())
                .distinct_on(on_exprs, select, None)
                .and_then(LogicalPlanBuilder::build)
                .map_err(|e| Rel::err(span, e))?
        } else {
            left.plan.clone()
        };
        let join_type = match kind {
            JoinKind::InnerUnique | JoinKind::Inner => JoinType::Inner,
            JoinKind::LeftOuter => JoinType::Left,
            JoinKind::RightOuter => JoinType::Right,
            JoinKind::FullOuter => JoinType::Full,
            JoinKind::LeftAnti => JoinType::LeftAnti,
            JoinKind::RightAnti => JoinType::RightAnti,
            JoinKind::LeftSemi => JoinType::LeftSemi,
            JoinKind::RightSemi => JoinType::RightSemi,
        };
        const L: &str = "__retrohunt_left";
        const R: &str = "__retrohunt_right";
        let qualified = |side: &str, name: &str| Expr::Column(Column::new(Some(side), name));
        let joined = LogicalPlanBuilder::from(left_plan)
            .alias(L)
            .and_then(|b| {
                let right_plan = LogicalPlanBuilder::from(right.plan.clone())
                    .alias(R)?
                    .build()?;
                b.join(
                    right_plan,
                    join_type,
                    (
                        keys.iter()
                            .map(|(l, _)| Column::new(Some(L), l))
                            .collect::<Vec<_>>(),
                        keys.iter()
                            .map(|(_, r)| Column::new(Some(R), r))
                            .collect::<Vec<_>>(),
                    ),
                    None,
                )
            })
            .and_then(LogicalPlanBuilder::build)
            .map_err(|e| Rel::err(span, e))?;
        let (show_left, show_right) = match join_type {
            JoinType::LeftAnti | JoinType::LeftSemi => (true, false),
            JoinType::RightAnti | JoinType::RightSemi => (false, true),
            _ => (true, true),
        };
        // Strings are never null: the side an outer join fills gets "" in its text columns.
        let fill_left = matches!(join_type, JoinType::Right | JoinType::Full);
        let fill_right = matches!(join_type, JoinType::Left | JoinType::Full);
        let value = |side: &str, col: &Col, fill: bool| {
            let expr = qualified(side, &col.name);
            if fill && col.ty.is_text() {
                f::coalesce(vec![expr, lit("")])
            } else {
                expr
            }
        };
        let mut exprs = Vec::new();
        let mut cols = Vec::new();
        let mut names: HashSet<String> = HashSet::new();
        let mut twins = Vec::new();
        if show_left {
            for col in &left.cols {
                exprs.push(value(L, col, fill_left).alias(&col.name));
                names.insert(col.name.clone());
                cols.push(col.clone());
            }
            for (visible, hidden) in &left.twins {
                if !fill_left {
                    exprs.push(qualified(L, hidden).alias(hidden));
                    twins.push((visible.clone(), hidden.clone()));
                }
            }
        }
        if show_right {
            for col in &right.cols {
                let mut name = col.name.clone();
                let mut suffix = 1;
                while names.contains(&name) {
                    name = format!("{}{suffix}", col.name);
                    suffix += 1;
                }
                exprs.push(value(R, col, fill_right).alias(&name));
                names.insert(name.clone());
                cols.push(Col { name, ty: col.ty });
            }
        }
        let plan = LogicalPlanBuilder::from(joined)
            .project(exprs)
            .and_then(LogicalPlanBuilder::build)
            .map_err(|e| Rel::err(span, e))?;
        Ok(Rel { plan, cols, twins })
    }

    /// Kusto's `union`: columns by name in order of first appearance; a name two inputs type
    /// differently becomes one column per type, `Name_type`; what an input lacks is null
    /// (`""` for text).
    fn union(
        &self,
        first: Option<Rel>,
        union: &Union,
        span: Span,
        scope: &Scope,
    ) -> Result<Rel, KqlError> {
        let mut inputs: Vec<(Rel, Option<String>)> = Vec::new();
        if let Some(first) = first {
            inputs.push((first, None));
        }
        for table in &union.tables {
            let source_name = match (&table.source, table.ops.is_empty()) {
                (
                    Source::Expr(ast::Expr {
                        kind: ExprKind::Name(name),
                        ..
                    }),
                    true,
                ) => Some(name.clone()),
                _ => None,
            };
            inputs.push((self.tabular(table, scope)?, source_name));
        }
        if union.with_source.is_some() && inputs.iter().any(|(_, name)| name.is_none()) {
            return Err(KqlError::unsupported(
                span,
                "`withsource` over inputs that are not plain names",
            ));
        }
        let mut types: Vec<(String, Vec<KType>)> = Vec::new();
        for (rel, _) in &inputs {
            for col in &rel.cols {
                match types.iter_mut().find(|(name, _)| *name == col.name) {
                    Some((_, seen)) if !seen.contains(&col.ty) => seen.push(col.ty),
                    Some(_) => {}
                    None => types.push((col.name.clone(), vec![col.ty])),
                }
            }
        }
        let mut outputs: Vec<(String, String, KType)> = Vec::new();
        for (name, seen) in &types {
            if !union.kind_outer
                && !inputs
                    .iter()
                    .all(|(rel, _)| rel.col(name).is_some_and(|c| c.ty == seen[0]))
            {
                continue;
            }
            for ty in seen {
                let out = if seen.len() > 1 {
                    format!("{name}_{}", ty.name())
                } else {
                    name.clone()
                };
                outputs.push((out, name.clone(), *ty));
            }
        }
        let mut plans = Vec::new();
        for (rel, source_name) in &inputs {
            let mut exprs = Vec::new();
            if let (Some(with_source), Some(source_name)) = (&union.with_source, source_name) {
                exprs.push(lit(source_name.clone()).alias(&with_source.name));
            }
            for (out, name, ty) in &outputs {
                let expr = match rel.col(name) {
                    Some(col) if col.ty == *ty => column(name),
                    _ => null_or_empty(*ty),
                };
                exprs.push(cast(expr, ty.arrow()).alias(out));
            }
            plans.push(
                LogicalPlanBuilder::from(rel.plan.clone())
                    .project(exprs)
                    .and_then(LogicalPlanBuilder::build)
                    .map_err(|e| Rel::err(span, e))?,
            );
        }
        let mut plans = plans.into_iter();
        let mut builder = LogicalPlanBuilder::from(plans.next().expect("a union has inputs"));
        for plan in plans {
            builder = builder.union(plan).map_err(|e| Rel::err(span, e))?;
        }
        let plan = builder.build().map_err(|e| Rel::err(span, e))?;
        let mut cols = Vec::new();
        if let Some(with_source) = &union.with_source {
            cols.push(Col {
                name: with_source.name.clone(),
                ty: KType::String,
            });
        }
        cols.extend(outputs.into_iter().map(|(name, _, ty)| Col { name, ty }));
        Ok(Rel {
            plan,
            cols,
            twins: Vec::new(),
        })
    }
}

/// A column Log Analytics has and the lake keeps in `AdditionalFields`: under its own name
/// (Log Analytics exports), or under `properties` in camel case (diagnostic-settings records).
fn additional_field(name: &str, ty: KType) -> Expr {
    let fields = column(crate::schema::Text::AdditionalFields.name());
    let mut camel = name.to_string();
    if let Some(first) = camel.get(0..1) {
        camel.replace_range(0..1, &first.to_ascii_lowercase());
    }
    let raw = Func::AdditionalField.call(vec![fields, lit(name), lit(camel)]);
    match ty {
        KType::String | KType::Guid => Func::DynToString.call(vec![raw]),
        KType::Dynamic => raw,
        KType::Long => Func::DynToLong.call(vec![raw]),
        KType::Int => cast(Func::DynToLong.call(vec![raw]), ty.arrow()),
        KType::Real => Func::DynToReal.call(vec![raw]),
        KType::Bool => Func::DynToBool.call(vec![raw]),
        KType::DateTime => Func::DynToDateTime.call(vec![raw]),
        KType::Timespan => null_or_empty(ty),
    }
}

fn null_or_empty(ty: KType) -> Expr {
    if ty.is_text() {
        lit("")
    } else {
        lit(ScalarValue::try_from(&ty.arrow()).expect("a typed null"))
    }
}

/// A Log Analytics table the lake has no rows of.
fn empty_table(table: &LaTable, span: Span) -> Result<Rel, KqlError> {
    let empty = LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: true,
        schema: Arc::new(DFSchema::empty()),
    });
    let exprs: Vec<Expr> = table
        .columns
        .iter()
        .map(|(name, ty)| cast(null_or_empty(*ty), ty.arrow()).alias(name))
        .collect();
    let plan = LogicalPlanBuilder::from(empty)
        .project(exprs)
        .and_then(|b| b.limit(0, Some(0)))
        .and_then(LogicalPlanBuilder::build)
        .map_err(|e| Rel::err(span, e))?;
    Ok(Rel {
        plan,
        cols: table
            .columns
            .iter()
            .map(|(name, ty)| Col {
                name: name.clone(),
                ty: *ty,
            })
            .collect(),
        twins: Vec::new(),
    })
}

/// A table of the lake that Log Analytics does not have (`RetrohuntFindings`), typed from
/// its Arrow schema.
fn own_table(scan: &LogicalPlan, span: Span) -> Result<Rel, KqlError> {
    use datafusion::arrow::datatypes::DataType;
    let mut outputs = Vec::new();
    for field in scan.schema().fields() {
        let ty = match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => KType::String,
            DataType::Int64 | DataType::UInt32 | DataType::UInt64 => KType::Long,
            DataType::Int32 | DataType::Int16 | DataType::Int8 => KType::Int,
            DataType::Float64 | DataType::Float32 => KType::Real,
            DataType::Boolean => KType::Bool,
            DataType::Timestamp(_, _) | DataType::Date32 => KType::DateTime,
            _ => continue,
        };
        let mut expr = cast(column(field.name()), ty.arrow());
        if ty.is_text() {
            expr = f::coalesce(vec![expr, lit("")]);
        }
        outputs.push((field.name().clone(), expr, ty));
    }
    let exprs = outputs.iter().map(|(n, e, _)| e.clone().alias(n)).collect();
    Rel::projected(scan, exprs, outputs, Vec::new(), span)
}
