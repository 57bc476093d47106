//! `summarize`: Kusto's aggregations and the names it gives their columns (`count_`,
//! `dcount_X`, `set_X`, ...), the group keys first, `bin()` keys keeping their column's name,
//! and Kusto's values on empty input (counts 0, sets `[]`).

use datafusion::functions::expr_fn as f;
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlanBuilder, lit};

use super::ast::{self, ExprKind, NamedExpr};
use super::error::{KqlError, Span};
use super::functions::Func;
use super::plan::{Col, Planner, Rel, Scope};
use super::scalar::{Typed, column};
use super::types::KType;

/// The aggregation functions, with the prefix of the name Kusto gives their column.
const AGGREGATES: [(&str, &str); 22] = [
    ("count", "count_"),
    ("countif", "countif_"),
    ("dcount", "dcount_"),
    ("dcountif", "dcountif_"),
    ("sum", "sum_"),
    ("sumif", "sumif_"),
    ("avg", "avg_"),
    ("avgif", "avgif_"),
    ("min", "min_"),
    ("max", "max_"),
    ("minif", "minif_"),
    ("maxif", "maxif_"),
    ("make_set", "set_"),
    ("makeset", "set_"),
    ("make_list", "list_"),
    ("makelist", "list_"),
    ("make_set_if", "set_"),
    ("make_list_if", "list_"),
    ("take_any", ""),
    ("any", ""),
    ("arg_max", ""),
    ("arg_min", ""),
];

pub fn is_aggregate(name: &str) -> bool {
    AGGREGATES.iter().any(|(n, _)| *n == name)
}

/// A name not yet taken: `name`, else `name1`, `name2`, ...
pub(super) fn unique(name: String, taken: &[String]) -> String {
    if !taken.contains(&name) {
        return name;
    }
    (1..)
        .map(|n| format!("{name}{n}"))
        .find(|candidate| !taken.contains(candidate))
        .expect("a free name")
}

impl Planner<'_> {
    pub fn summarize(
        &self,
        rel: Rel,
        aggregates: &[NamedExpr],
        by: &[NamedExpr],
        span: Span,
        scope: &Scope,
    ) -> Result<Rel, KqlError> {
        let mut names: Vec<String> = Vec::new();
        let mut cols = Vec::new();
        let mut group = Vec::new();
        let mut finish = Vec::new();
        for (index, key) in by.iter().enumerate() {
            let value = self.scalar(&key.expr, Some(&rel), scope)?;
            if value.ty == KType::Dynamic {
                return Err(KqlError::semantic(
                    key.expr.span,
                    "a group key cannot be dynamic: convert it (tostring(), toint(), ...)",
                ));
            }
            let name = match (key.names.as_slice(), &key.expr.kind) {
                ([name], _) => name.name.clone(),
                ([], ExprKind::Name(name)) => name.clone(),
                ([], ExprKind::Call { name, args })
                    if name.name == "bin" || name.name == "floor" =>
                {
                    match args.first().map(|a| &a.kind) {
                        Some(ExprKind::Name(column)) => column.clone(),
                        _ => {
                            return Err(KqlError::unsupported(
                                key.expr.span,
                                "an unnamed group key of an expression (write `Name = ...`)",
                            ));
                        }
                    }
                }
                ([], _) => key.expr.implicit_name().ok_or_else(|| {
                    KqlError::unsupported(
                        key.expr.span,
                        "an unnamed group key of an expression (write `Name = ...`)",
                    )
                })?,
                _ => {
                    return Err(KqlError::unsupported(key.expr.span, "a tuple of names"));
                }
            };
            let name = unique(name, &names);
            let hidden = format!("__retrohunt_key_{index}");
            group.push(value.expr.alias(&hidden));
            finish.push((name.clone(), column(&hidden), value.ty));
            names.push(name.clone());
            cols.push(Col { name, ty: value.ty });
        }
        let mut aggregate_exprs = Vec::new();
        for (index, item) in aggregates.iter().enumerate() {
            let ExprKind::Call {
                name: function,
                args,
            } = &item.expr.kind
            else {
                return Err(KqlError::unsupported(
                    item.expr.span,
                    "an expression over aggregations (name each aggregation, then `extend`)",
                ));
            };
            if !is_aggregate(&function.name) {
                return Err(KqlError::unsupported(
                    function.span,
                    format!("the aggregation `{}()`", function.name),
                ));
            }
            if function.name == "arg_max" || function.name == "arg_min" {
                if !item.names.is_empty() {
                    return Err(KqlError::unsupported(
                        item.expr.span,
                        format!("naming the columns of {}()", function.name),
                    ));
                }
                let by_names: Vec<String> = cols.iter().map(|c: &Col| c.name.clone()).collect();
                for (expr, ty, name) in
                    self.arg_extreme(&function.name, args, item.expr.span, &rel, scope, &by_names)?
                {
                    let hidden = format!("__retrohunt_aggregate_{index}_{}", aggregate_exprs.len());
                    let name = unique(name, &names);
                    aggregate_exprs.push(expr.alias(&hidden));
                    finish.push((name.clone(), column(&hidden), ty));
                    names.push(name.clone());
                    cols.push(Col { name, ty });
                }
                continue;
            }
            let hidden = format!("__retrohunt_aggregate_{index}");
            let (expr, finished, ty) = self.aggregate(
                &function.name,
                args,
                item.expr.span,
                &rel,
                scope,
                &hidden,
                by.is_empty(),
            )?;
            let name = match (item.names.as_slice(), args.first()) {
                ([name], _) => name.name.clone(),
                ([], _) if matches!(function.name.as_str(), "count" | "countif") => {
                    auto_prefix(&function.name).to_string()
                }
                ([], Some(arg)) if column_of(arg).is_some() => {
                    format!(
                        "{}{}",
                        auto_prefix(&function.name),
                        column_of(arg).unwrap_or_default()
                    )
                }
                // Of an expression, Kusto names the column by the prefix alone (`avg_`).
                ([], _) if !auto_prefix(&function.name).is_empty() => {
                    auto_prefix(&function.name).to_string()
                }
                _ => {
                    return Err(KqlError::unsupported(
                        item.expr.span,
                        "an unnamed aggregation of an expression (write `Name = ...`)",
                    ));
                }
            };
            let name = unique(name, &names);
            aggregate_exprs.push(expr.alias(&hidden));
            finish.push((name.clone(), finished, ty));
            names.push(name.clone());
            cols.push(Col { name, ty });
        }
        let plan = LogicalPlanBuilder::from(rel.plan.clone())
            .aggregate(group, aggregate_exprs)
            .and_then(|b| b.project(finish.into_iter().map(|(name, expr, _)| expr.alias(name))))
            .and_then(LogicalPlanBuilder::build)
            .map_err(|e| KqlError::semantic(span, format!("cannot plan this: {e}")))?;
        Ok(Rel::new(plan, cols))
    }

    /// One aggregation: the aggregate expression, what makes its final value from the column
    /// `hidden` it is computed into, and its Kusto type.
    #[expect(clippy::too_many_arguments, reason = "one call site")]
    fn aggregate(
        &self,
        function: &str,
        args: &[ast::Expr],
        span: Span,
        rel: &Rel,
        scope: &Scope,
        hidden: &str,
        whole_input: bool,
    ) -> Result<(Expr, Expr, KType), KqlError> {
        let arity = |min: usize, max: usize| {
            if args.len() < min || args.len() > max {
                Err(KqlError::semantic(
                    span,
                    format!(
                        "{function}() takes {min}{} arguments",
                        if max > min {
                            format!(" to {max}")
                        } else {
                            String::new()
                        }
                    ),
                ))
            } else {
                Ok(())
            }
        };
        let value =
            |i: usize| -> Result<Typed, KqlError> { self.scalar(&args[i], Some(rel), scope) };
        let predicate = |i: usize| self.boolean(&args[i], Some(rel), scope);
        let out = column(hidden);
        let zero_if_null = |e: Expr| f::coalesce(vec![e, lit(0i64)]);
        Ok(match function {
            "count" => {
                if !(args.is_empty() || matches!(args, [a] if a.kind == ExprKind::Star)) {
                    return Err(KqlError::semantic(
                        span,
                        "count() takes no argument (countif() counts rows that match)",
                    ));
                }
                (agg::count(lit(1)), out, KType::Long)
            }
            "countif" => {
                arity(1, 1)?;
                (
                    agg::count(lit(1))
                        .filter(predicate(0)?)
                        .build()
                        .map_err(|e| plan_error(span, e))?,
                    zero_if_null(out),
                    KType::Long,
                )
            }
            "dcount" | "dcountif" => {
                arity(
                    if function == "dcount" { 1 } else { 2 },
                    if function == "dcount" { 2 } else { 3 },
                )?;
                let v = value(0)?;
                let mut expr = agg::count_distinct(v.expr);
                if function == "dcountif" {
                    expr = expr
                        .filter(predicate(1)?)
                        .build()
                        .map_err(|e| plan_error(span, e))?;
                }
                (expr, zero_if_null(out), KType::Long)
            }
            "sum" | "sumif" | "avg" | "avgif" | "min" | "max" | "minif" | "maxif" | "take_any"
            | "any" => {
                let conditional = function.ends_with("if");
                arity(
                    if conditional { 2 } else { 1 },
                    if conditional { 2 } else { 1 },
                )?;
                let v = value(0)?;
                let numeric = v.ty.is_numeric() || v.ty == KType::Timespan;
                let ty = match function {
                    "avg" | "avgif" => KType::Real,
                    "sum" | "sumif" if v.ty == KType::Int => KType::Long,
                    _ => v.ty,
                };
                if matches!(function, "sum" | "sumif" | "avg" | "avgif") && !numeric {
                    return Err(KqlError::semantic(
                        span,
                        format!("{function}() adds numbers, not a {}", v.ty.name()),
                    ));
                }
                if v.ty == KType::Dynamic {
                    return Err(KqlError::unsupported(
                        span,
                        format!("{function}() of a dynamic value"),
                    ));
                }
                let input = if ty != v.ty {
                    datafusion::logical_expr::cast(v.expr, ty.arrow())
                } else {
                    v.expr
                };
                let mut expr = match function {
                    "sum" | "sumif" => agg::sum(input),
                    "avg" | "avgif" => agg::avg(input),
                    // take_any: any value will do; the least is one, and the same on every run.
                    "min" | "minif" | "take_any" | "any" => agg::min(input),
                    _ => agg::max(input),
                };
                if conditional {
                    expr = expr
                        .filter(predicate(1)?)
                        .build()
                        .map_err(|e| plan_error(span, e))?;
                }
                let finished = if matches!(function, "sum" | "sumif") && whole_input {
                    zero_if_null(out)
                } else {
                    out
                };
                (expr, finished, ty)
            }
            "make_set" | "makeset" | "make_list" | "makelist" | "make_set_if" | "make_list_if" => {
                let conditional = function.ends_with("_if");
                arity(
                    if conditional { 2 } else { 1 },
                    if conditional { 3 } else { 2 },
                )?;
                let v = value(0)?;
                let cap_at = if conditional { 2 } else { 1 };
                let legacy = matches!(function, "makeset" | "makelist");
                let cap = match args.get(cap_at) {
                    Some(cap) => Some(self.constant_count(cap, scope)?),
                    None if legacy => Some(128),
                    None => None,
                };
                let set = function.contains("set");
                // Nulls are left out (strings are never null).
                let mut filter = v.expr.clone().is_not_null();
                if conditional {
                    filter = filter.and(predicate(1)?);
                }
                // In value order: Kusto leaves the order (and, past a size limit, which
                // elements are kept) unspecified; this way every run keeps the same ones.
                let mut builder = agg::array_agg(v.expr.clone())
                    .filter(filter)
                    .order_by(vec![v.expr.sort(true, false)]);
                if set {
                    builder = builder.distinct();
                }
                let expr = builder.build().map_err(|e| plan_error(span, e))?;
                let items = lit(if v.ty == KType::Dynamic {
                    "dynamic"
                } else {
                    "scalar"
                });
                let mut args = vec![out, items];
                if let Some(cap) = cap {
                    args.push(lit(cap));
                }
                let json = f::coalesce(vec![Func::ListToJson.call(args), lit("[]")]);
                (expr, json, KType::Dynamic)
            }
            other => {
                return Err(KqlError::unsupported(
                    span,
                    format!("the aggregation `{other}()`"),
                ));
            }
        })
    }

    /// `arg_max(t, c, ...)` / `arg_min`: `t`'s extreme and, from the same row, the columns
    /// named (`*`: every column but the group keys). Ties are broken by those columns'
    /// values, so every column comes from one row and every run picks the same one.
    fn arg_extreme(
        &self,
        function: &str,
        args: &[ast::Expr],
        span: Span,
        rel: &Rel,
        scope: &Scope,
        keys: &[String],
    ) -> Result<Vec<(Expr, KType, String)>, KqlError> {
        let Some((extreme, rest)) = args.split_first() else {
            return Err(KqlError::semantic(
                span,
                format!("{function}() takes the value to maximize and the columns to return"),
            ));
        };
        let Some(extreme_name) = column_of(extreme) else {
            return Err(KqlError::unsupported(
                extreme.span,
                format!("{function}() of an expression that is no column"),
            ));
        };
        let t = self.scalar(extreme, Some(rel), scope)?;
        let mut outputs: Vec<(Typed, String)> = Vec::new();
        for arg in rest {
            if arg.kind == ExprKind::Star {
                for col in &rel.cols {
                    if !keys.contains(&col.name) && col.name != extreme_name {
                        outputs.push((Typed::new(column(&col.name), col.ty), col.name.clone()));
                    }
                }
                continue;
            }
            let Some(name) = column_of(arg) else {
                return Err(KqlError::unsupported(
                    arg.span,
                    format!("{function}() returning an expression that is no column"),
                ));
            };
            outputs.push((self.scalar(arg, Some(rel), scope)?, name.to_string()));
        }
        let descending = function == "arg_max";
        let mut order = vec![datafusion::logical_expr::SortExpr::new(
            t.expr.clone(),
            !descending,
            false,
        )];
        order.extend(
            outputs
                .iter()
                .map(|(v, _)| datafusion::logical_expr::SortExpr::new(v.expr.clone(), true, true)),
        );
        let present = t.expr.clone().is_not_null();
        let mut result = vec![(
            if descending {
                agg::max(t.expr.clone())
            } else {
                agg::min(t.expr.clone())
            },
            t.ty,
            extreme_name.to_string(),
        )];
        for (value, name) in outputs {
            let expr = agg::first_value(value.expr, Vec::new())
                .order_by(order.clone())
                .filter(present.clone())
                .build()
                .map_err(|e| plan_error(span, e))?;
            result.push((expr, value.ty, name));
        }
        Ok(result)
    }

    fn constant_count(&self, expr: &ast::Expr, scope: &Scope) -> Result<i64, KqlError> {
        match self.scalar(expr, None, scope)?.expr {
            Expr::Literal(datafusion::common::ScalarValue::Int64(Some(n)), _) => Ok(n),
            _ => Err(KqlError::semantic(expr.span, "expected a constant")),
        }
    }
}

/// The column an aggregation's argument names its result by: a column, or the column a
/// `bin()` of it rounds (Kusto's `max(bin(T, 1h))` is `max_T`).
fn column_of(arg: &ast::Expr) -> Option<&str> {
    match &arg.kind {
        ExprKind::Name(name) => Some(name),
        ExprKind::Call { name, args } if name.name == "bin" || name.name == "floor" => {
            args.first().and_then(column_of)
        }
        _ => None,
    }
}

fn auto_prefix(function: &str) -> &'static str {
    AGGREGATES
        .iter()
        .find(|(n, _)| *n == function)
        .map(|(_, prefix)| *prefix)
        .unwrap_or("")
}

fn plan_error(span: Span, error: datafusion::error::DataFusionError) -> KqlError {
    KqlError::semantic(span, format!("cannot plan this: {error}"))
}
