//! Scalar KQL expressions into DataFusion expressions, each with its Kusto type, keeping
//! Kusto's semantics where they differ from SQL's: `==`/`!=` with null (null equals nothing,
//! differs from everything), strings compared with numbers as text (`ResultType == 0`),
//! ASCII-only case folding, inclusive `between` (with a timespan upper bound meaning an
//! offset), dynamic values as JSON text, `datetime_diff` counting boundaries, and functions
//! refused by name when not run exactly.

use datafusion::common::{Column, ScalarValue};
use datafusion::functions::expr_fn as f;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, Operator, binary_expr, cast, lit, when};

use super::ast::{self, BinOp, ExprKind, Literal, StrOp};
use super::error::{KqlError, Span};
use super::functions::{Func, parse_datetime};
use super::plan::{Binding, Planner, Rel, Scope};
use super::types::KType;

/// A planned scalar: the expression and its Kusto type.
#[derive(Debug, Clone)]
pub struct Typed {
    pub expr: Expr,
    pub ty: KType,
}

impl Typed {
    pub fn new(expr: Expr, ty: KType) -> Typed {
        Typed { expr, ty }
    }
}

pub fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

pub(super) fn null_of(ty: KType) -> Expr {
    lit(ScalarValue::try_from(&ty.arrow()).expect("a typed null"))
}

pub fn datetime_lit(nanos: i64) -> Expr {
    lit(ScalarValue::TimestampNanosecond(
        Some(nanos),
        Some("UTC".into()),
    ))
}

pub fn timespan_lit(ticks: i64) -> Expr {
    lit(ScalarValue::DurationNanosecond(Some(
        ticks.saturating_mul(100),
    )))
}

/// The value as Kusto's `tostring()` gives it, for the types where that is exact.
pub fn to_string(value: Typed, span: Span) -> Result<Expr, KqlError> {
    Ok(match value.ty {
        KType::String | KType::Guid => value.expr,
        KType::Dynamic => Func::DynToString.call(vec![value.expr]),
        KType::Long | KType::Int | KType::Bool => f::coalesce(vec![
            cast(value.expr, datafusion::arrow::datatypes::DataType::Utf8),
            lit(""),
        ]),
        other => {
            return Err(KqlError::unsupported(
                span,
                format!("tostring() of a {}", other.name()),
            ));
        }
    })
}

impl Planner<'_> {
    /// `expr` in the row context of `rel` (none for a `let` scalar), with `scope`'s names.
    pub fn scalar(
        &self,
        expr: &ast::Expr,
        rel: Option<&Rel>,
        scope: &Scope,
    ) -> Result<Typed, KqlError> {
        let span = expr.span;
        match &expr.kind {
            ExprKind::Literal(literal) => self.literal(literal, span),
            ExprKind::Name(name) => self.name(name, span, rel, scope),
            ExprKind::Star => Err(KqlError::semantic(span, "`*` is not a value here")),
            ExprKind::Side(..) => Err(KqlError::semantic(
                span,
                "`$left`/`$right` are only meaningful in a join's `on`",
            )),
            ExprKind::Negate(inner) => {
                let inner = self.scalar(inner, rel, scope)?;
                if !(inner.ty.is_numeric() || inner.ty == KType::Timespan) {
                    return Err(KqlError::semantic(
                        span,
                        "only numbers and timespans negate",
                    ));
                }
                Ok(Typed::new(Expr::Negative(Box::new(inner.expr)), inner.ty))
            }
            ExprKind::Binary { op, left, right } => self.binary(*op, left, right, span, rel, scope),
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let value = self.scalar(expr, rel, scope)?;
                let low = self.scalar(low, rel, scope)?;
                let mut high = self.scalar(high, rel, scope)?;
                if value.ty == KType::DateTime && high.ty == KType::Timespan {
                    high = Typed::new(low.expr.clone() + high.expr, KType::DateTime);
                }
                comparable(&value, &low, span)?;
                comparable(&value, &high, span)?;
                let inside = value
                    .expr
                    .clone()
                    .gt_eq(low.expr)
                    .and(value.expr.lt_eq(high.expr));
                Ok(Typed::new(
                    if *negated {
                        Expr::Not(Box::new(inside))
                    } else {
                        inside
                    },
                    KType::Bool,
                ))
            }
            ExprKind::In {
                expr,
                list,
                negated,
                case_insensitive,
            } => self.in_list(expr, list, *negated, *case_insensitive, span, rel, scope),
            ExprKind::Member(..) | ExprKind::Index(..) => self.dynamic_path(expr, rel, scope),
            ExprKind::Call { name, args } => self.call(name, args, span, rel, scope),
            ExprKind::Tabular(tabular) => {
                let inner = self.tabular(tabular, scope)?;
                let [only] = inner.cols.as_slice() else {
                    return Err(KqlError::semantic(
                        span,
                        "a tabular expression used as a value must have one column",
                    ));
                };
                let ty = only.ty;
                let plan = inner.project_visible(span)?;
                Ok(Typed::new(
                    Expr::ScalarSubquery(datafusion::logical_expr::Subquery {
                        subquery: std::sync::Arc::new(plan),
                        outer_ref_columns: vec![],
                        spans: Default::default(),
                    }),
                    ty,
                ))
            }
        }
    }

    pub fn boolean(
        &self,
        expr: &ast::Expr,
        rel: Option<&Rel>,
        scope: &Scope,
    ) -> Result<Expr, KqlError> {
        let value = self.scalar(expr, rel, scope)?;
        match value.ty {
            KType::Bool => Ok(value.expr),
            KType::Dynamic => Ok(Func::DynToBool.call(vec![value.expr])),
            other => Err(KqlError::semantic(
                expr.span,
                format!("expected a bool, found a {}", other.name()),
            )),
        }
    }

    fn literal(&self, literal: &Literal, span: Span) -> Result<Typed, KqlError> {
        Ok(match literal {
            Literal::String(text) => {
                Typed::new(lit(self.fill_template(text, span)?), KType::String)
            }
            Literal::Long(value) => Typed::new(lit(*value), KType::Long),
            Literal::Real(value) => Typed::new(lit(*value), KType::Real),
            Literal::Bool(value) => Typed::new(lit(*value), KType::Bool),
            Literal::Timespan(ticks) => Typed::new(timespan_lit(*ticks), KType::Timespan),
            Literal::DateTime(text) => {
                let Some(nanos) = parse_datetime(text) else {
                    return Err(KqlError::semantic(
                        span,
                        format!("`{text}` is not a datetime retrohunt reads (ISO 8601)"),
                    ));
                };
                Typed::new(datetime_lit(nanos), KType::DateTime)
            }
            Literal::Dynamic(text) => match dynamic_literal_json(text) {
                Some(json) => Typed::new(lit(json), KType::Dynamic),
                None => {
                    return Err(KqlError::unsupported(
                        span,
                        "a dynamic literal holding anything but strings, numbers, booleans, nulls, arrays and bags",
                    ));
                }
            },
            Literal::Null(type_name) => {
                let Some(ty) = KType::from_name(type_name) else {
                    return Err(KqlError::semantic(
                        span,
                        format!("unknown type `{type_name}`"),
                    ));
                };
                Typed::new(null_of(ty), ty)
            }
        })
    }

    fn name(
        &self,
        name: &str,
        span: Span,
        rel: Option<&Rel>,
        scope: &Scope,
    ) -> Result<Typed, KqlError> {
        if let Some(rel) = rel
            && let Some(col) = rel.col(name)
        {
            return Ok(Typed::new(column(&col.name), col.ty));
        }
        match scope.lookup(name) {
            Some(Binding::Scalar(value)) => Ok(value.clone()),
            Some(Binding::Lazy(value, at)) => {
                let planned = self.let_value(value, at)?;
                match planned {
                    Binding::Scalar(value) => Ok(value),
                    _ => Err(KqlError::semantic(
                        span,
                        format!("`{name}` is a table, not a value"),
                    )),
                }
            }
            Some(Binding::Function { .. }) => Err(KqlError::semantic(
                span,
                format!("`{name}` is a function: call it"),
            )),
            Some(Binding::Table(_)) => Err(KqlError::semantic(
                span,
                format!("`{name}` is a table, not a value"),
            )),
            None => Err(KqlError::semantic(
                span,
                format!("unknown name `{name}`: no column or `let` has it"),
            )),
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call site, each part of `in`"
    )]
    fn in_list(
        &self,
        expr: &ast::Expr,
        list: &[ast::Expr],
        negated: bool,
        case_insensitive: bool,
        span: Span,
        rel: Option<&Rel>,
        scope: &Scope,
    ) -> Result<Typed, KqlError> {
        let mut value = self.scalar(expr, rel, scope)?;
        if value.ty == KType::Dynamic {
            value = Typed::new(Func::DynToString.call(vec![value.expr]), KType::String);
        }
        if let [only] = list
            && let Some(tabular) = self.as_tabular(only, scope)
        {
            if case_insensitive {
                return Err(KqlError::unsupported(
                    span,
                    "`in~` with a tabular right side",
                ));
            }
            let inner = self.tabular(&tabular, scope)?;
            let Some(first) = inner.cols.first().cloned() else {
                return Err(KqlError::semantic(only.span, "the table has no column"));
            };
            if first.ty != value.ty {
                return Err(KqlError::unsupported(
                    span,
                    format!(
                        "`in` comparing a {} with a column of {}",
                        value.ty.name(),
                        first.ty.name()
                    ),
                ));
            }
            // Kusto: a null is in no list, so nulls of the table match nothing.
            // Its column gets a name of its own, which no column of the outer query clashes
            // with once DataFusion turns the subquery into a join.
            const LISTED: &str = "__retrohunt_in";
            let plan = LogicalPlanBuilder::from(inner.plan.clone())
                .filter(column(&first.name).is_not_null())
                .and_then(|b| b.project(vec![column(&first.name).alias(LISTED)]))
                .and_then(|b| b.alias(LISTED))
                .and_then(LogicalPlanBuilder::build)
                .map_err(|e| KqlError::semantic(only.span, format!("cannot plan this: {e}")))?;
            let subquery = datafusion::logical_expr::Subquery {
                subquery: std::sync::Arc::new(plan),
                outer_ref_columns: vec![],
                spans: Default::default(),
            };
            let found = Expr::InSubquery(datafusion::logical_expr::expr::InSubquery::new(
                Box::new(value.expr.clone()),
                subquery,
                negated,
            ));
            let found = if negated && !value.ty.is_text() {
                value.expr.is_null().or(found)
            } else {
                found
            };
            return Ok(Typed::new(found, KType::Bool));
        }
        let mut items = Vec::new();
        for item in list {
            items.extend(self.list_items(item, rel, scope)?);
        }
        let fold = |e: Expr| {
            if case_insensitive {
                Func::AsciiLower.call(vec![e])
            } else {
                e
            }
        };
        let mut values = Vec::new();
        for item in items {
            let item = match (value.ty, item.ty) {
                (a, b) if a == b => item.expr,
                (KType::String, _) => to_string(item, span)?,
                (a, b) if a.is_numeric() && b.is_numeric() => item.expr,
                (a, b) => {
                    return Err(KqlError::semantic(
                        span,
                        format!("`in` compares a {} with a {}", a.name(), b.name()),
                    ));
                }
            };
            values.push(fold(item));
        }
        let test = fold(value.expr.clone());
        let found = test.in_list(values, negated);
        // Kusto: a null is in no list, so `!in` holds for it.
        let found = if negated && !value.ty.is_text() {
            value.expr.is_null().or(found)
        } else {
            found
        };
        Ok(Typed::new(found, KType::Bool))
    }

    /// The values an item of an `in` list stands for: a dynamic array literal (or a `let` of
    /// one) is flattened, as Kusto does.
    fn list_items(
        &self,
        item: &ast::Expr,
        rel: Option<&Rel>,
        scope: &Scope,
    ) -> Result<Vec<Typed>, KqlError> {
        let value = self.scalar(item, rel, scope)?;
        if value.ty != KType::Dynamic {
            return Ok(vec![value]);
        }
        let Expr::Literal(ScalarValue::Utf8(Some(json)), _) = &value.expr else {
            return Err(KqlError::unsupported(
                item.span,
                "a computed dynamic value in an `in` list",
            ));
        };
        let parsed: serde_json::Value =
            serde_json::from_str(json).map_err(|_| KqlError::semantic(item.span, "not JSON"))?;
        let elements = match parsed {
            serde_json::Value::Array(items) => items,
            other => vec![other],
        };
        elements
            .into_iter()
            .map(|element| match element {
                serde_json::Value::String(s) => Ok(Typed::new(lit(s), KType::String)),
                serde_json::Value::Number(n) if n.is_i64() => {
                    Ok(Typed::new(lit(n.as_i64().unwrap_or_default()), KType::Long))
                }
                serde_json::Value::Number(n) => {
                    Ok(Typed::new(lit(n.as_f64().unwrap_or_default()), KType::Real))
                }
                serde_json::Value::Bool(b) => Ok(Typed::new(lit(b), KType::Bool)),
                _ => Err(KqlError::unsupported(
                    item.span,
                    "a nested or null element in an `in` list",
                )),
            })
            .collect()
    }

    /// `x.a[0]['b']`: one call reading the whole path.
    fn dynamic_path(
        &self,
        expr: &ast::Expr,
        rel: Option<&Rel>,
        scope: &Scope,
    ) -> Result<Typed, KqlError> {
        let mut steps = Vec::new();
        let mut base = expr;
        loop {
            match &base.kind {
                ExprKind::Member(inner, name) => {
                    steps.push(lit(name.clone()));
                    base = inner;
                }
                ExprKind::Index(inner, index) => {
                    let index = self.scalar(index, rel, scope)?;
                    steps.push(match index.ty {
                        KType::Long | KType::Int => {
                            cast(index.expr, datafusion::arrow::datatypes::DataType::Int64)
                        }
                        KType::String => index.expr,
                        other => {
                            return Err(KqlError::semantic(
                                base.span,
                                format!(
                                    "an index must be a number or a name, not a {}",
                                    other.name()
                                ),
                            ));
                        }
                    });
                    base = inner;
                }
                _ => break,
            }
        }
        steps.reverse();
        let value = self.scalar(base, rel, scope)?;
        if value.ty != KType::Dynamic {
            return Err(KqlError::semantic(
                base.span,
                format!(
                    "member access and indexing need a dynamic value, and this is a {} (wrap it in todynamic())",
                    value.ty.name()
                ),
            ));
        }
        let mut args = vec![value.expr];
        args.extend(steps);
        Ok(Typed::new(Func::DynGet.call(args), KType::Dynamic))
    }

    fn binary(
        &self,
        op: BinOp,
        left: &ast::Expr,
        right: &ast::Expr,
        span: Span,
        rel: Option<&Rel>,
        scope: &Scope,
    ) -> Result<Typed, KqlError> {
        if matches!(op, BinOp::And | BinOp::Or) {
            let (l, r) = (
                self.boolean(left, rel, scope)?,
                self.boolean(right, rel, scope)?,
            );
            let expr = if op == BinOp::And { l.and(r) } else { l.or(r) };
            return Ok(Typed::new(expr, KType::Bool));
        }
        // `t2 - t1 <= w` on datetimes is `t2 <= t1 + w`: the shape a band join is found in.
        if matches!(op, BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq)
            && let ExprKind::Binary {
                op: BinOp::Sub,
                left: a,
                right: b,
            } = &left.kind
        {
            let (a, b) = (self.scalar(a, rel, scope)?, self.scalar(b, rel, scope)?);
            let w = self.scalar(right, rel, scope)?;
            if a.ty == KType::DateTime && b.ty == KType::DateTime && w.ty == KType::Timespan {
                let bound = b.expr + w.expr;
                let expr = match op {
                    BinOp::Lt => a.expr.lt(bound),
                    BinOp::LtEq => a.expr.lt_eq(bound),
                    BinOp::Gt => a.expr.gt(bound),
                    _ => a.expr.gt_eq(bound),
                };
                return Ok(Typed::new(expr, KType::Bool));
            }
        }
        let l = self.scalar(left, rel, scope)?;
        if let BinOp::Str(StrOp::HasAny, negated) = op {
            return self.has_any(l, right, negated, span, rel, scope);
        }
        let r = self.scalar(right, rel, scope)?;
        match op {
            BinOp::Eq | BinOp::NotEq => equality(l, r, op == BinOp::NotEq, span),
            BinOp::EqCi | BinOp::NotEqCi => {
                let (l, r) = (text_operand(l, span)?, text_operand(r, span)?);
                let eq = Func::AsciiLower
                    .call(vec![l])
                    .eq(Func::AsciiLower.call(vec![r]));
                Ok(Typed::new(
                    if op == BinOp::NotEqCi {
                        Expr::Not(Box::new(eq))
                    } else {
                        eq
                    },
                    KType::Bool,
                ))
            }
            BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
                let (l, r) = ordered(l, r, span)?;
                Ok(Typed::new(
                    match op {
                        BinOp::Lt => l.lt(r),
                        BinOp::LtEq => l.lt_eq(r),
                        BinOp::Gt => l.gt(r),
                        _ => l.gt_eq(r),
                    },
                    KType::Bool,
                ))
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                arithmetic(op, l, r, span)
            }
            BinOp::Str(string_op, negated) => {
                let haystack = text_operand(l, span)?;
                let result = {
                    let needle = text_operand(r, span)?;
                    match string_op {
                        StrOp::Has => Func::Has.call(vec![haystack, needle]),
                        StrOp::HasCs => Func::HasCs.call(vec![haystack, needle]),
                        StrOp::Contains => Func::Contains.call(vec![haystack, needle]),
                        StrOp::ContainsCs => f::strpos(haystack, needle).gt(lit(0)),
                        StrOp::StartsWith => Func::StartsWith.call(vec![haystack, needle]),
                        StrOp::StartsWithCs => f::starts_with(haystack, needle),
                        StrOp::EndsWith => Func::EndsWith.call(vec![haystack, needle]),
                        StrOp::EndsWithCs => f::ends_with(haystack, needle),
                        StrOp::MatchesRegex => {
                            datafusion::functions::expr_fn::regexp_like(haystack, needle, None)
                        }
                        StrOp::HasAny => unreachable!("handled above"),
                    }
                };
                Ok(Typed::new(
                    if negated {
                        Expr::Not(Box::new(result))
                    } else {
                        result
                    },
                    KType::Bool,
                ))
            }
            BinOp::And | BinOp::Or => unreachable!("handled above"),
        }
    }

    /// `x has_any (a, b, ...)`: `has` of any of the list's values (dynamic arrays flattened).
    fn has_any(
        &self,
        value: Typed,
        list: &ast::Expr,
        negated: bool,
        span: Span,
        rel: Option<&Rel>,
        scope: &Scope,
    ) -> Result<Typed, KqlError> {
        let haystack = text_operand(value, span)?;
        let ExprKind::Call { args, .. } = &list.kind else {
            return Err(KqlError::syntax(list.span, "expected a list after has_any"));
        };
        let mut tests = Vec::new();
        for arg in args {
            for item in self.list_items(arg, rel, scope)? {
                let needle = to_string(item, arg.span)?;
                tests.push(Func::Has.call(vec![haystack.clone(), needle]));
            }
        }
        let any = tests.into_iter().reduce(Expr::or).unwrap_or(lit(false));
        Ok(Typed::new(
            if negated {
                Expr::Not(Box::new(any))
            } else {
                any
            },
            KType::Bool,
        ))
    }
}

/// Kusto's `==`/`!=`: texts compare as texts (a number on the other side as its text), and
/// for other types null equals nothing and differs from everything but null.
fn equality(l: Typed, r: Typed, not: bool, span: Span) -> Result<Typed, KqlError> {
    let (l, r) = match (l.ty, r.ty) {
        (a, b) if a == b => (l, r),
        (KType::String | KType::Guid, KType::String | KType::Guid) => (l, r),
        (KType::String, KType::Long | KType::Int) | (KType::Long | KType::Int, KType::String) => {
            let (text, number) = if l.ty == KType::String {
                (l, r)
            } else {
                (r, l)
            };
            let number = Typed::new(to_string(number, span)?, KType::String);
            (text, number)
        }
        (KType::Dynamic, _) | (_, KType::Dynamic) => {
            let (dynamic, other) = if l.ty == KType::Dynamic {
                (l, r)
            } else {
                (r, l)
            };
            let converted = match other.ty {
                KType::String | KType::Guid => Func::DynToString.call(vec![dynamic.expr]),
                KType::Long | KType::Int => Func::DynToLong.call(vec![dynamic.expr]),
                KType::Real => Func::DynToReal.call(vec![dynamic.expr]),
                KType::Bool => Func::DynToBool.call(vec![dynamic.expr]),
                KType::DateTime => Func::DynToDateTime.call(vec![dynamic.expr]),
                _ => {
                    return Err(KqlError::unsupported(
                        span,
                        "comparing a dynamic value with a timespan",
                    ));
                }
            };
            (Typed::new(converted, other.ty), other)
        }
        (a, b) if a.is_numeric() && b.is_numeric() => (l, r),
        (KType::Timespan, KType::String) | (KType::String, KType::Timespan) => {
            // Kusto.Language accepts this; what Kusto returns for it is not documented.
            return Err(KqlError::unsupported(
                span,
                "comparing a timespan with a string",
            ));
        }
        (a, b) => {
            return Err(KqlError::semantic(
                span,
                format!("cannot compare a {} with a {}", a.name(), b.name()),
            ));
        }
    };
    if l.ty.is_text() {
        let expr = if not {
            l.expr.not_eq(r.expr)
        } else {
            l.expr.eq(r.expr)
        };
        return Ok(Typed::new(expr, KType::Bool));
    }
    let both_null = l.expr.clone().is_null().and(r.expr.clone().is_null());
    let distinct = if not {
        binary_expr(l.expr, Operator::IsDistinctFrom, r.expr)
    } else {
        binary_expr(l.expr, Operator::IsNotDistinctFrom, r.expr)
    };
    let expr = when(both_null, null_of(KType::Bool))
        .otherwise(distinct)
        .map_err(|e| KqlError::semantic(span, e.to_string()))?;
    Ok(Typed::new(expr, KType::Bool))
}

/// The JSON of a `dynamic(...)` literal's text, which Kusto writes with its own literals
/// (strings in single quotes, say).
fn dynamic_literal_json(text: &str) -> Option<String> {
    use super::lexer::{Tok, tokenize};
    let mut json = String::new();
    for token in tokenize(text).ok()? {
        match token.tok {
            Tok::Str(value) => json.push_str(&serde_json::Value::String(value).to_string()),
            Tok::Long(value) => json.push_str(&value.to_string()),
            Tok::Real(value) => json.push_str(&serde_json::Number::from_f64(value)?.to_string()),
            Tok::Ident(word) if matches!(word.as_str(), "true" | "false" | "null") => {
                json.push_str(&word)
            }
            Tok::Punct(p @ ("[" | "]" | "{" | "}" | "," | ":")) => json.push_str(p),
            Tok::Punct("-") => json.push('-'),
            Tok::Eof => break,
            _ => return None,
        }
    }
    serde_json::from_str::<serde_json::Value>(&json).ok()?;
    Some(json)
}

pub(super) fn dynamic_operand(value: Typed, span: Span) -> Result<Expr, KqlError> {
    match value.ty {
        KType::Dynamic => Ok(value.expr),
        other => Err(KqlError::semantic(
            span,
            format!("expected a dynamic array, found a {}", other.name()),
        )),
    }
}

/// A value as the JSON of a dynamic value holding it.
pub(super) fn to_json(value: Typed, span: Span) -> Result<Expr, KqlError> {
    match value.ty {
        KType::Dynamic => Ok(value.expr),
        KType::String | KType::Guid => Ok(Func::JsonString.call(vec![value.expr])),
        KType::Long | KType::Int | KType::Real | KType::Bool => Ok(cast(
            value.expr,
            datafusion::arrow::datatypes::DataType::Utf8,
        )),
        other => Err(KqlError::unsupported(
            span,
            format!("a {} inside a dynamic value", other.name()),
        )),
    }
}

pub(super) fn text_operand(value: Typed, span: Span) -> Result<Expr, KqlError> {
    match value.ty {
        KType::String | KType::Guid => Ok(value.expr),
        KType::Dynamic => Ok(Func::DynToString.call(vec![value.expr])),
        KType::Long | KType::Int => to_string(value, span),
        other => Err(KqlError::unsupported(
            span,
            format!("a string operator on a {}", other.name()),
        )),
    }
}

fn comparable(a: &Typed, b: &Typed, span: Span) -> Result<(), KqlError> {
    let ok = a.ty == b.ty || (a.ty.is_numeric() && b.ty.is_numeric());
    if ok {
        Ok(())
    } else if matches!(
        (a.ty, b.ty),
        (KType::Timespan, KType::String) | (KType::String, KType::Timespan)
    ) {
        // Kusto.Language accepts this; what Kusto returns for it is not documented.
        Err(KqlError::unsupported(
            span,
            "comparing a timespan with a string",
        ))
    } else {
        Err(KqlError::semantic(
            span,
            format!("cannot compare a {} with a {}", a.ty.name(), b.ty.name()),
        ))
    }
}

fn ordered(l: Typed, r: Typed, span: Span) -> Result<(Expr, Expr), KqlError> {
    match (l.ty, r.ty) {
        (KType::Dynamic, other) if other.is_numeric() => {
            Ok((Func::DynToReal.call(vec![l.expr]), r.expr))
        }
        (other, KType::Dynamic) if other.is_numeric() => {
            Ok((l.expr, Func::DynToReal.call(vec![r.expr])))
        }
        _ => {
            comparable(&l, &r, span)?;
            Ok((l.expr, r.expr))
        }
    }
}

fn arithmetic(op: BinOp, l: Typed, r: Typed, span: Span) -> Result<Typed, KqlError> {
    use KType::*;
    use datafusion::arrow::datatypes::DataType;
    let ty = match (op, l.ty, r.ty) {
        (BinOp::Add, DateTime, Timespan) | (BinOp::Sub, DateTime, Timespan) => DateTime,
        (BinOp::Add, Timespan, DateTime) => DateTime,
        (BinOp::Add | BinOp::Sub, Timespan, Timespan) => Timespan,
        (BinOp::Sub, DateTime, DateTime) => {
            let nanos = |e: Expr| cast(e, datafusion::arrow::datatypes::DataType::Int64);
            let diff = nanos(l.expr) - nanos(r.expr);
            return Ok(Typed::new(cast(diff, Timespan.arrow()), Timespan));
        }
        (BinOp::Mul | BinOp::Div, Timespan, n) | (BinOp::Mul, n, Timespan) if n.is_numeric() => {
            // In nanoseconds as a real, back to whole ticks (toward zero).
            let (span_expr, number) = if l.ty == Timespan {
                (l.expr, r.expr)
            } else {
                (r.expr, l.expr)
            };
            let nanos = cast(cast(span_expr, DataType::Int64), DataType::Float64);
            let number = cast(number, DataType::Float64);
            let scaled = cast(
                if op == BinOp::Mul {
                    nanos * number
                } else {
                    nanos / number
                },
                DataType::Int64,
            );
            let ticks = scaled.clone() - scaled % lit(100_i64);
            return Ok(Typed::new(cast(ticks, Timespan.arrow()), Timespan));
        }
        (BinOp::Div, Timespan, Timespan) => {
            let real = |e: Expr| cast(cast(e, DataType::Int64), DataType::Float64);
            return Ok(Typed::new(real(l.expr) / real(r.expr), Real));
        }
        (_, a, b) if a.is_numeric() && b.is_numeric() => {
            if a == Real || b == Real {
                Real
            } else if a == Long || b == Long {
                Long
            } else {
                Int
            }
        }
        (_, a, b) => {
            return Err(KqlError::unsupported(
                span,
                format!("arithmetic on a {} and a {}", a.name(), b.name()),
            ));
        }
    };
    let (a, b) = if ty.is_numeric() {
        (cast(l.expr, ty.arrow()), cast(r.expr, ty.arrow()))
    } else {
        (l.expr, r.expr)
    };
    let expr = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        _ => a % b,
    };
    Ok(Typed::new(expr, ty))
}

/// Two values of one type, for `iff` and `case` (numbers widen; texts and dynamics do not
/// mix silently).
pub(super) fn unify(a: Typed, b: Typed, span: Span) -> Result<(Typed, Typed), KqlError> {
    if a.ty == b.ty {
        return Ok((a, b));
    }
    // A dynamic beside a string is read as a string (Kusto.Language types the result so).
    let as_string = |t: Typed| match t.ty {
        KType::Dynamic => Typed::new(Func::DynToString.call(vec![t.expr]), KType::String),
        _ => t,
    };
    if matches!(
        (a.ty, b.ty),
        (KType::Dynamic, KType::String) | (KType::String, KType::Dynamic)
    ) {
        return Ok((as_string(a), as_string(b)));
    }
    if a.ty.is_numeric() && b.ty.is_numeric() {
        let ty = if a.ty == KType::Real || b.ty == KType::Real {
            KType::Real
        } else {
            KType::Long
        };
        return Ok((
            Typed::new(cast(a.expr, ty.arrow()), ty),
            Typed::new(cast(b.expr, ty.arrow()), ty),
        ));
    }
    Err(KqlError::semantic(
        span,
        format!("the branches are a {} and a {}", a.ty.name(), b.ty.name()),
    ))
}

/// `value` floored to a multiple of `ticks` since 1970-01-01 (floor, also before it).
pub fn bin_time(value: Expr, ticks: i64) -> Expr {
    let size = lit(ticks.saturating_mul(100));
    let nanos = cast(value, datafusion::arrow::datatypes::DataType::Int64);
    let rem = ((nanos.clone() % size.clone()) + size.clone()) % size;
    cast(nanos - rem, KType::DateTime.arrow())
}
