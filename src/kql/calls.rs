//! Kusto's scalar functions, by name, into DataFusion expressions: each checks its
//! arguments' Kusto types and refuses, by name, what it cannot compute exactly; the `let`
//! functions of the query are called here too.

use datafusion::common::ScalarValue;
use datafusion::functions::expr_fn as f;
use datafusion::logical_expr::{Expr, cast, lit, when};

use super::ast::{self, ExprKind};
use super::error::{KqlError, Span};
use super::functions::{Func, parse_datetime};
use super::plan::{Binding, Planner, Rel, Scope};
use super::scalar::{
    Typed, bin_time, column, datetime_lit, dynamic_operand, null_of, text_operand, timespan_lit,
    to_json, to_string, unify,
};
use super::types::KType;

impl Planner<'_> {
    pub(super) fn call(
        &self,
        name: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
        rel: Option<&Rel>,
        scope: &Scope,
    ) -> Result<Typed, KqlError> {
        let arity = |n: usize| -> Result<(), KqlError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(KqlError::semantic(
                    span,
                    format!(
                        "{}() takes {n} argument{}",
                        name.name,
                        if n == 1 { "" } else { "s" }
                    ),
                ))
            }
        };
        let arg = |i: usize| self.scalar(&args[i], rel, scope);
        let function = name.name.as_str();
        match function {
            "now" | "ago" => {
                let now = datetime_lit(self.now_nanos());
                if function == "now" && args.is_empty() {
                    return Ok(Typed::new(now, KType::DateTime));
                }
                arity(1)?;
                let offset = arg(0)?;
                if offset.ty != KType::Timespan {
                    return Err(KqlError::semantic(
                        args[0].span,
                        format!("{function}() takes a timespan"),
                    ));
                }
                let expr = if function == "ago" {
                    now - offset.expr
                } else {
                    now + offset.expr
                };
                Ok(Typed::new(expr, KType::DateTime))
            }
            "todatetime" => {
                arity(1)?;
                let value = arg(0)?;
                Ok(Typed::new(
                    match value.ty {
                        KType::DateTime => value.expr,
                        KType::String => match &value.expr {
                            Expr::Literal(ScalarValue::Utf8(Some(text)), _) => {
                                match parse_datetime(text) {
                                    Some(nanos) => datetime_lit(nanos),
                                    None => null_of(KType::DateTime),
                                }
                            }
                            _ => Func::ToDateTime.call(vec![value.expr]),
                        },
                        KType::Dynamic => Func::DynToDateTime.call(vec![value.expr]),
                        other => {
                            return Err(KqlError::unsupported(
                                span,
                                format!("todatetime() of a {}", other.name()),
                            ));
                        }
                    },
                    KType::DateTime,
                ))
            }
            "tolower" | "toupper" => {
                arity(1)?;
                // The lake stores lower(UserPrincipalName) as UserKey, in the files' order.
                if function == "tolower"
                    && let (ExprKind::Name(column_name), Some(rel)) = (&args[0].kind, rel)
                    && let Some(twin) = rel.lower_twin(column_name)
                {
                    return Ok(Typed::new(column(twin), KType::String));
                }
                let value = text_operand(arg(0)?, span)?;
                let expr = if function == "tolower" {
                    f::lower(value)
                } else {
                    f::upper(value)
                };
                Ok(Typed::new(expr, KType::String))
            }
            "tostring" => {
                arity(1)?;
                // `tostring(split(s, d)[i])` without building the array.
                if let ExprKind::Index(inner, index) = &args[0].kind
                    && let ExprKind::Call {
                        name: split,
                        args: split_args,
                    } = &inner.kind
                    && split.name == "split"
                    && split_args.len() == 2
                {
                    let text = text_operand(self.scalar(&split_args[0], rel, scope)?, span)?;
                    let delimiter = text_operand(self.scalar(&split_args[1], rel, scope)?, span)?;
                    let index = self.scalar(index, rel, scope)?;
                    if matches!(index.ty, KType::Long | KType::Int) {
                        return Ok(Typed::new(
                            Func::SplitAt.call(vec![
                                text,
                                delimiter,
                                cast(index.expr, datafusion::arrow::datatypes::DataType::Int64),
                            ]),
                            KType::String,
                        ));
                    }
                }
                Ok(Typed::new(to_string(arg(0)?, span)?, KType::String))
            }
            "tolong" | "toint" => {
                arity(1)?;
                let value = arg(0)?;
                let ty = if function == "tolong" {
                    KType::Long
                } else {
                    KType::Int
                };
                let expr = match value.ty {
                    KType::Dynamic => cast(Func::DynToLong.call(vec![value.expr]), ty.arrow()),
                    KType::String => Expr::TryCast(datafusion::logical_expr::TryCast::new(
                        Box::new(f::btrim(vec![value.expr])),
                        ty.arrow(),
                    )),
                    KType::Long | KType::Int | KType::Real | KType::Bool => {
                        cast(value.expr, ty.arrow())
                    }
                    other => {
                        return Err(KqlError::unsupported(
                            span,
                            format!("{function}() of a {}", other.name()),
                        ));
                    }
                };
                Ok(Typed::new(expr, ty))
            }
            "toreal" | "todouble" => {
                arity(1)?;
                let value = arg(0)?;
                let expr = match value.ty {
                    KType::Dynamic => Func::DynToReal.call(vec![value.expr]),
                    KType::String => Expr::TryCast(datafusion::logical_expr::TryCast::new(
                        Box::new(f::btrim(vec![value.expr])),
                        KType::Real.arrow(),
                    )),
                    KType::Long | KType::Int | KType::Real => cast(value.expr, KType::Real.arrow()),
                    other => {
                        return Err(KqlError::unsupported(
                            span,
                            format!("{function}() of a {}", other.name()),
                        ));
                    }
                };
                Ok(Typed::new(expr, KType::Real))
            }
            "isempty" | "isnotempty" => {
                arity(1)?;
                let value = arg(0)?;
                let empty = match value.ty {
                    KType::String | KType::Guid => value.expr.eq(lit("")),
                    KType::Dynamic => Func::DynToString.call(vec![value.expr]).eq(lit("")),
                    _ => value.expr.is_null(),
                };
                Ok(Typed::new(
                    if function == "isempty" {
                        empty
                    } else {
                        Expr::Not(Box::new(empty))
                    },
                    KType::Bool,
                ))
            }
            "isnull" | "isnotnull" => {
                arity(1)?;
                let value = arg(0)?;
                // Strings are never null.
                let null = if value.ty.is_text() {
                    lit(false)
                } else {
                    value.expr.is_null()
                };
                Ok(Typed::new(
                    if function == "isnull" {
                        null
                    } else {
                        Expr::Not(Box::new(null))
                    },
                    KType::Bool,
                ))
            }
            "iif" | "iff" => {
                arity(3)?;
                let test = self.boolean(&args[0], rel, scope)?;
                let (then, otherwise) = unify(arg(1)?, arg(2)?, span)?;
                let ty = then.ty;
                let expr = when(test, then.expr)
                    .otherwise(otherwise.expr)
                    .map_err(|e| KqlError::semantic(span, e.to_string()))?;
                Ok(Typed::new(expr, ty))
            }
            "case" => {
                if args.len() < 3 || args.len().is_multiple_of(2) {
                    return Err(KqlError::semantic(
                        span,
                        "case() takes pairs of a condition and a value, then an else value",
                    ));
                }
                let mut otherwise = arg(args.len() - 1)?;
                let mut branches = Vec::new();
                for pair in args[..args.len() - 1].chunks(2) {
                    let test = self.boolean(&pair[0], rel, scope)?;
                    let (value, rest) = unify(self.scalar(&pair[1], rel, scope)?, otherwise, span)?;
                    otherwise = rest;
                    branches.push((test, value));
                }
                let ty = otherwise.ty;
                let mut builder: Option<
                    datafusion::logical_expr::conditional_expressions::CaseBuilder,
                > = None;
                for (test, value) in branches {
                    let value = if value.ty == ty {
                        value.expr
                    } else {
                        cast(value.expr, ty.arrow())
                    };
                    builder = Some(match builder {
                        None => when(test, value),
                        Some(mut b) => b.when(test, value),
                    });
                }
                let mut builder = builder.expect("at least one branch");
                let expr = builder
                    .otherwise(otherwise.expr)
                    .map_err(|e| KqlError::semantic(span, e.to_string()))?;
                Ok(Typed::new(expr, ty))
            }
            "strcat" => {
                if args.is_empty() {
                    return Err(KqlError::semantic(
                        span,
                        "strcat() takes at least one argument",
                    ));
                }
                let parts = (0..args.len())
                    .map(|i| to_string(arg(i)?, args[i].span))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Typed::new(f::concat(parts), KType::String))
            }
            "strlen" => {
                arity(1)?;
                let value = text_operand(arg(0)?, span)?;
                Ok(Typed::new(
                    cast(f::character_length(value), KType::Long.arrow()),
                    KType::Long,
                ))
            }
            "split" => {
                if !(2..=3).contains(&args.len()) {
                    arity(2)?;
                }
                let text = text_operand(arg(0)?, span)?;
                let delimiter = text_operand(arg(1)?, span)?;
                let mut call = vec![text, delimiter];
                if args.len() == 3 {
                    let index = arg(2)?;
                    if !matches!(index.ty, KType::Long | KType::Int) {
                        return Err(KqlError::semantic(
                            args[2].span,
                            "split()'s index is a number",
                        ));
                    }
                    call.push(cast(
                        index.expr,
                        datafusion::arrow::datatypes::DataType::Int64,
                    ));
                }
                Ok(Typed::new(Func::Split.call(call), KType::Dynamic))
            }
            "set_has_element" | "array_index_of" => {
                arity(2)?;
                let items = dynamic_operand(arg(0)?, args[0].span)?;
                let value = to_json(arg(1)?, args[1].span)?;
                Ok(if function == "set_has_element" {
                    Typed::new(Func::SetHasElement.call(vec![items, value]), KType::Bool)
                } else {
                    Typed::new(Func::ArrayIndexOf.call(vec![items, value]), KType::Long)
                })
            }
            "set_difference" => {
                if args.len() < 2 {
                    return Err(KqlError::semantic(
                        span,
                        "set_difference() takes two or more arrays",
                    ));
                }
                let sets = (0..args.len())
                    .map(|i| dynamic_operand(arg(i)?, args[i].span))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Typed::new(Func::SetDifference.call(sets), KType::Dynamic))
            }
            "bag_pack" | "pack" => {
                if !args.len().is_multiple_of(2) {
                    return Err(KqlError::semantic(
                        span,
                        format!("{function}() takes pairs of a key and a value"),
                    ));
                }
                let mut pairs = Vec::new();
                for pair in (0..args.len()).collect::<Vec<_>>().chunks(2) {
                    pairs.push(text_operand(arg(pair[0])?, args[pair[0]].span)?);
                    pairs.push(to_json(arg(pair[1])?, args[pair[1]].span)?);
                }
                Ok(Typed::new(Func::BagPack.call(pairs), KType::Dynamic))
            }
            "format_datetime" => {
                arity(2)?;
                let at = arg(0)?;
                let format = arg(1)?;
                let Expr::Literal(ScalarValue::Utf8(Some(pattern)), _) = &format.expr else {
                    return Err(KqlError::unsupported(
                        span,
                        "format_datetime() with a format that is not a constant",
                    ));
                };
                if at.ty != KType::DateTime {
                    return Err(KqlError::semantic(
                        args[0].span,
                        "format_datetime() formats a datetime",
                    ));
                }
                if super::functions::format_with(0, pattern).is_none() {
                    return Err(KqlError::unsupported(
                        args[1].span,
                        format!("the datetime format `{pattern}`"),
                    ));
                }
                Ok(Typed::new(
                    Func::FormatDateTime.call(vec![at.expr, format.expr]),
                    KType::String,
                ))
            }
            "datetime_part" | "hourofday" | "getyear" | "getmonth" | "dayofmonth" | "dayofyear" => {
                let (part, at) = if function == "datetime_part" {
                    arity(2)?;
                    let Expr::Literal(ScalarValue::Utf8(Some(part)), _) = arg(0)?.expr else {
                        return Err(KqlError::unsupported(
                            span,
                            "datetime_part() of a part that is not a constant",
                        ));
                    };
                    (part.to_ascii_lowercase(), arg(1)?)
                } else {
                    arity(1)?;
                    let part = match function {
                        "hourofday" => "hour",
                        "getyear" => "year",
                        "getmonth" => "month",
                        "dayofmonth" => "day",
                        _ => "dayofyear",
                    };
                    (part.to_string(), arg(0)?)
                };
                let field = match part.as_str() {
                    "year" | "quarter" | "month" | "day" | "hour" | "minute" | "second" => {
                        part.clone()
                    }
                    "dayofyear" => "doy".to_string(),
                    _ => {
                        return Err(KqlError::unsupported(
                            span,
                            format!("the datetime part `{part}`"),
                        ));
                    }
                };
                if at.ty != KType::DateTime {
                    return Err(KqlError::semantic(
                        span,
                        format!("{function}() reads a datetime"),
                    ));
                }
                let ty = if function == "getyear" || function == "getmonth" {
                    KType::Long
                } else {
                    KType::Int
                };
                Ok(Typed::new(
                    cast(f::date_part(lit(field), at.expr), ty.arrow()),
                    ty,
                ))
            }
            "dayofweek" => {
                arity(1)?;
                let at = arg(0)?;
                if at.ty != KType::DateTime {
                    return Err(KqlError::semantic(span, "dayofweek() reads a datetime"));
                }
                // Days since the Sunday before, as a timespan; 1970-01-01 was a Thursday.
                let day = 86_400_000_000_000_i64;
                let nanos = cast(at.expr, datafusion::arrow::datatypes::DataType::Int64);
                let days =
                    (nanos.clone() - (((nanos % lit(day)) + lit(day)) % lit(day))) / lit(day);
                let weekday = ((days + lit(4_i64)) % lit(7_i64) + lit(7_i64)) % lit(7_i64);
                Ok(Typed::new(
                    cast(weekday * lit(day), KType::Timespan.arrow()),
                    KType::Timespan,
                ))
            }
            "round" => {
                if !(1..=2).contains(&args.len()) {
                    arity(1)?;
                }
                let value = arg(0)?;
                if !value.ty.is_numeric() {
                    return Err(KqlError::semantic(span, "round() rounds a number"));
                }
                let mut call = vec![cast(value.expr, KType::Real.arrow())];
                if args.len() == 2 {
                    call.push(cast(
                        arg(1)?.expr,
                        datafusion::arrow::datatypes::DataType::Int64,
                    ));
                }
                let rounded = f::round(call);
                Ok(if value.ty == KType::Real {
                    Typed::new(rounded, KType::Real)
                } else {
                    Typed::new(cast(rounded, KType::Long.arrow()), KType::Long)
                })
            }
            "totimespan" => {
                arity(1)?;
                let value = arg(0)?;
                Ok(Typed::new(
                    match value.ty {
                        KType::Timespan => value.expr,
                        KType::String => match &value.expr {
                            Expr::Literal(ScalarValue::Utf8(Some(text)), _) => {
                                match super::functions::parse_timespan(text) {
                                    Some(ticks) => timespan_lit(ticks),
                                    None => {
                                        self.notes.borrow_mut().push(format!(
                                        "totimespan({text:?}) is null: the text is not a timespan"
                                    ));
                                        null_of(KType::Timespan)
                                    }
                                }
                            }
                            _ => Func::ToTimespan.call(vec![value.expr]),
                        },
                        KType::Dynamic => {
                            Func::ToTimespan.call(vec![Func::DynToString.call(vec![value.expr])])
                        }
                        other => {
                            return Err(KqlError::unsupported(
                                span,
                                format!("totimespan() of a {}", other.name()),
                            ));
                        }
                    },
                    KType::Timespan,
                ))
            }
            "todynamic" | "parse_json" => {
                arity(1)?;
                let value = arg(0)?;
                Ok(Typed::new(
                    match value.ty {
                        KType::Dynamic => value.expr,
                        KType::String => Func::ParseJson.call(vec![value.expr]),
                        other => {
                            return Err(KqlError::unsupported(
                                span,
                                format!("{function}() of a {}", other.name()),
                            ));
                        }
                    },
                    KType::Dynamic,
                ))
            }
            "array_length" => {
                arity(1)?;
                let value = arg(0)?;
                if value.ty != KType::Dynamic {
                    return Err(KqlError::semantic(
                        span,
                        "array_length() takes a dynamic array",
                    ));
                }
                Ok(Typed::new(
                    Func::ArrayLength.call(vec![value.expr]),
                    KType::Long,
                ))
            }
            "abs" => {
                arity(1)?;
                let value = arg(0)?;
                if !value.ty.is_numeric() {
                    return Err(KqlError::unsupported(
                        span,
                        format!("abs() of a {}", value.ty.name()),
                    ));
                }
                Ok(Typed::new(f::abs(value.expr), value.ty))
            }
            "startofday" => {
                arity(1)?;
                let value = arg(0)?;
                if value.ty != KType::DateTime {
                    return Err(KqlError::semantic(span, "startofday() takes a datetime"));
                }
                Ok(Typed::new(
                    bin_time(value.expr, 864_000_000_000),
                    KType::DateTime,
                ))
            }
            "bin" | "floor" => {
                arity(2)?;
                let value = arg(0)?;
                let size = arg(1)?;
                let int = datafusion::arrow::datatypes::DataType::Int64;
                let ty = match (value.ty, size.ty) {
                    (KType::DateTime, KType::Timespan) | (KType::Timespan, KType::Timespan) => {
                        value.ty
                    }
                    (KType::Long | KType::Int, KType::Long | KType::Int) => KType::Long,
                    _ => {
                        return Err(KqlError::unsupported(
                            span,
                            format!("bin() of a {} by a {}", value.ty.name(), size.ty.name()),
                        ));
                    }
                };
                // Floor to a multiple of the size counted from 0 (1970-01-01), also below it;
                // null for a size that is not positive.
                let v = cast(value.expr, int.clone());
                let step = cast(size.expr, int);
                let rem = ((v.clone() % step.clone()) + step.clone()) % step.clone();
                let floored = when(step.gt(lit(0_i64)), v - rem)
                    .end()
                    .map_err(|e| KqlError::semantic(span, e.to_string()))?;
                Ok(Typed::new(cast(floored, ty.arrow()), ty))
            }
            "range" => {
                arity(3)?;
                let (start, stop, step) = (arg(0)?, arg(1)?, arg(2)?);
                let kind = match (start.ty, stop.ty, step.ty) {
                    (KType::DateTime, KType::DateTime, KType::Timespan) => "datetime",
                    (
                        KType::Long | KType::Int,
                        KType::Long | KType::Int,
                        KType::Long | KType::Int,
                    ) => "long",
                    _ => {
                        return Err(KqlError::unsupported(
                            span,
                            "range() other than of datetimes by a timespan or of longs",
                        ));
                    }
                };
                let int = datafusion::arrow::datatypes::DataType::Int64;
                Ok(Typed::new(
                    Func::Range.call(vec![
                        cast(start.expr, int.clone()),
                        cast(stop.expr, int.clone()),
                        cast(step.expr, int),
                        lit(kind),
                    ]),
                    KType::Dynamic,
                ))
            }
            "datetime_diff" => {
                arity(3)?;
                let unit = arg(0)?;
                let (a, b) = (arg(1)?, arg(2)?);
                let Expr::Literal(ScalarValue::Utf8(Some(unit_name)), _) = &unit.expr else {
                    return Err(KqlError::unsupported(
                        span,
                        "datetime_diff() with a unit that is not a constant",
                    ));
                };
                if super::functions::datetime_diff(unit_name, 0, 0).is_none() {
                    return Err(KqlError::semantic(
                        args[0].span,
                        format!("`{unit_name}` is not a datetime_diff unit"),
                    ));
                }
                if a.ty != KType::DateTime || b.ty != KType::DateTime {
                    return Err(KqlError::semantic(
                        span,
                        "datetime_diff() compares two datetimes",
                    ));
                }
                Ok(Typed::new(
                    Func::DateTimeDiff.call(vec![unit.expr, a.expr, b.expr]),
                    KType::Long,
                ))
            }
            "not" => {
                arity(1)?;
                Ok(Typed::new(
                    Expr::Not(Box::new(self.boolean(&args[0], rel, scope)?)),
                    KType::Bool,
                ))
            }
            "materialize" => {
                arity(1)?;
                self.scalar(&args[0], rel, scope)
            }
            "toscalar" => {
                arity(1)?;
                let Some(tabular) = self.as_tabular(&args[0], scope) else {
                    return Err(KqlError::semantic(
                        span,
                        "toscalar() takes a tabular expression",
                    ));
                };
                let wrapped = ast::Expr {
                    kind: ExprKind::Tabular(Box::new(tabular)),
                    span: args[0].span,
                };
                self.scalar(&wrapped, rel, scope)
            }
            other => {
                if let Some(Binding::Function { .. }) = scope.lookup(other) {
                    return self.call_scalar_function(name, args, rel, scope);
                }
                if super::summarize::is_aggregate(other) {
                    return Err(KqlError::semantic(
                        span,
                        format!("{other}() is an aggregation: use it in `summarize`"),
                    ));
                }
                Err(KqlError::unsupported(
                    name.span,
                    format!("the function `{other}()`"),
                ))
            }
        }
    }
}
