//! Recognising a band join in a logical `Join`: an inner equi-join whose filter bounds one
//! side's time by the other side's time plus constants,
//!
//! ```text
//!   l.k1 = r.k1 AND ... AND r.t >= l.t + lo AND r.t <= l.t + hi AND residual
//! ```
//!
//! in any of the ways SQL spells it (`BETWEEN`, either operand order, either side's time as
//! the anchor, `>`/`<` for exclusive bounds, intervals or durations as offsets). Everything
//! the operator cannot use for its window stays in the residual, so the rewrite never changes
//! what the join returns.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Column, DFSchema, NullEquality, ScalarValue};
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Join, JoinType, Operator};

/// One end of the window, relative to the left row's time, in the time column's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd)]
pub struct Bound {
    pub offset: i64,
    pub inclusive: bool,
}

impl Bound {
    /// The bound as an inclusive offset (times are integers, so `> c` is `>= c + 1`).
    pub fn inclusive_lower(self) -> i64 {
        if self.inclusive {
            self.offset
        } else {
            self.offset.saturating_add(1)
        }
    }

    pub fn inclusive_upper(self) -> i64 {
        if self.inclusive {
            self.offset
        } else {
            self.offset.saturating_sub(1)
        }
    }
}

/// A join the window-join operator can run: `right_time` lies within
/// `[left_time + lower, left_time + upper]` among rows with equal keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct Band {
    pub on: Vec<(Expr, Expr)>,
    pub left_time: Column,
    pub right_time: Column,
    pub lower: Bound,
    pub upper: Bound,
    pub residual: Option<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

/// `column + offset`, offset in nanoseconds for timestamps, in the column's own unit for
/// integers.
struct Term {
    column: Column,
    side: Side,
    offset: i128,
}

/// `right_time OP left_time + offset` after normalisation.
struct Comparison {
    left_time: Column,
    right_time: Column,
    op: Operator,
    offset: i128,
}

impl Band {
    /// The band shape of `join`, or `None` when it is not one (then the join is left alone).
    pub fn recognise(join: &Join) -> Option<Band> {
        if join.join_type != JoinType::Inner
            || join.null_equality != NullEquality::NullEqualsNothing
            || join.on.is_empty()
        {
            return None;
        }
        let left = join.left.schema();
        let right = join.right.schema();
        let conjuncts: Vec<Expr> = split_conjunction(join.filter.as_ref()?)
            .into_iter()
            .flat_map(expand_between)
            .collect();
        let comparisons: Vec<Option<Comparison>> = conjuncts
            .iter()
            .map(|expr| comparison(expr, left, right))
            .collect();

        // The first lower bound that has an upper bound on the same pair of columns.
        let (lower_at, upper_at) = comparisons.iter().enumerate().find_map(|(i, lower)| {
            let lower = lower.as_ref().filter(|c| is_lower(c.op))?;
            let upper_at = comparisons.iter().position(|upper| {
                upper.as_ref().is_some_and(|u| {
                    !is_lower(u.op)
                        && u.left_time == lower.left_time
                        && u.right_time == lower.right_time
                })
            })?;
            Some((i, upper_at))
        })?;
        let lower = comparisons[lower_at].as_ref()?;
        let upper = comparisons[upper_at].as_ref()?;
        let unit = time_unit_nanos(
            left.qualified_field_from_column(&lower.left_time)
                .ok()?
                .1
                .data_type(),
            right
                .qualified_field_from_column(&lower.right_time)
                .ok()?
                .1
                .data_type(),
        )?;
        let bound = |c: &Comparison| {
            let offset = if c.offset % unit == 0 {
                i64::try_from(c.offset / unit).ok()?
            } else {
                return None;
            };
            Some(Bound {
                offset,
                inclusive: matches!(c.op, Operator::GtEq | Operator::LtEq),
            })
        };
        let residual = conjunction(
            conjuncts
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != lower_at && *i != upper_at)
                .map(|(_, expr)| expr.clone()),
        );
        Some(Band {
            on: join.on.clone(),
            left_time: lower.left_time.clone(),
            right_time: lower.right_time.clone(),
            lower: bound(lower)?,
            upper: bound(upper)?,
            residual,
        })
    }
}

fn is_lower(op: Operator) -> bool {
    matches!(op, Operator::Gt | Operator::GtEq)
}

fn expand_between(expr: &Expr) -> Vec<Expr> {
    match expr {
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => vec![
            Expr::BinaryExpr(BinaryExpr::new(expr.clone(), Operator::GtEq, low.clone())),
            Expr::BinaryExpr(BinaryExpr::new(expr.clone(), Operator::LtEq, high.clone())),
        ],
        other => vec![other.clone()],
    }
}

/// `expr` as `right_time OP left_time + offset`, if it compares a time of each side.
fn comparison(expr: &Expr, left: &DFSchema, right: &DFSchema) -> Option<Comparison> {
    let Expr::BinaryExpr(BinaryExpr {
        left: a,
        op,
        right: b,
    }) = expr
    else {
        return None;
    };
    if !matches!(
        op,
        Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
    ) {
        return None;
    }
    let a = term(a, left, right)?;
    let b = term(b, left, right)?;
    // a.col + a.off OP b.col + b.off
    let (right_term, op, left_term) = match (a.side, b.side) {
        (Side::Right, Side::Left) => (a, *op, b),
        (Side::Left, Side::Right) => (b, op.swap()?, a),
        _ => return None,
    };
    Some(Comparison {
        offset: left_term.offset.checked_sub(right_term.offset)?,
        left_time: left_term.column,
        right_time: right_term.column,
        op,
    })
}

fn term(expr: &Expr, left: &DFSchema, right: &DFSchema) -> Option<Term> {
    match expr {
        Expr::Column(column) => {
            let side = match (left.has_column(column), right.has_column(column)) {
                (true, false) => Side::Left,
                (false, true) => Side::Right,
                _ => return None,
            };
            Some(Term {
                column: column.clone(),
                side,
                offset: 0,
            })
        }
        Expr::BinaryExpr(BinaryExpr {
            left: a,
            op: op @ (Operator::Plus | Operator::Minus),
            right: b,
        }) => {
            let (inner, constant, negate) = match (a.as_ref(), b.as_ref()) {
                (inner, Expr::Literal(value, _)) => (inner, value, *op == Operator::Minus),
                (Expr::Literal(value, _), inner) if *op == Operator::Plus => (inner, value, false),
                _ => return None,
            };
            let mut term = term(inner, left, right)?;
            let offset = offset_of(constant)?;
            let offset = if negate {
                offset.checked_neg()?
            } else {
                offset
            };
            term.offset = term.offset.checked_add(offset)?;
            Some(term)
        }
        _ => None,
    }
}

const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;

/// A constant offset in nanoseconds (durations and fixed-length intervals) or as a plain
/// integer. Month intervals have no fixed length and are refused.
fn offset_of(value: &ScalarValue) -> Option<i128> {
    let nanos = |v: Option<i64>, scale: i128| v.map(|v| i128::from(v) * scale);
    match value {
        ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => {
            Some(i128::from(v.days) * NANOS_PER_DAY + i128::from(v.nanoseconds))
        }
        ScalarValue::IntervalDayTime(Some(v)) => {
            Some(i128::from(v.days) * NANOS_PER_DAY + i128::from(v.milliseconds) * 1_000_000)
        }
        ScalarValue::DurationSecond(v) => nanos(*v, 1_000_000_000),
        ScalarValue::DurationMillisecond(v) => nanos(*v, 1_000_000),
        ScalarValue::DurationMicrosecond(v) => nanos(*v, 1_000),
        ScalarValue::DurationNanosecond(v) => nanos(*v, 1),
        ScalarValue::Int64(v) => nanos(*v, 1),
        ScalarValue::Int32(v) => nanos(v.map(i64::from), 1),
        _ => None,
    }
}

/// How many nanoseconds one unit of the time columns is (1 for integer times). Both sides
/// must have the same type; days in intervals are 24 h, so zoned timestamps other than UTC
/// (with daylight saving) are refused.
fn time_unit_nanos(left: &DataType, right: &DataType) -> Option<i128> {
    if left != right {
        return None;
    }
    match left {
        DataType::Timestamp(unit, zone) => {
            if zone
                .as_deref()
                .is_some_and(|z| !matches!(z, "UTC" | "+00:00" | "Z"))
            {
                return None;
            }
            Some(match unit {
                TimeUnit::Second => 1_000_000_000,
                TimeUnit::Millisecond => 1_000_000,
                TimeUnit::Microsecond => 1_000,
                TimeUnit::Nanosecond => 1,
            })
        }
        DataType::Int64 => Some(1),
        _ => None,
    }
}
