//! Kusto's scalar semantics that DataFusion has no function for, as scalar UDFs: ASCII-only
//! case folding (`=~`, `has`, `contains`, `startswith`), whole-term `has`, `dynamic` values
//! held as JSON text (member access, conversions, arrays), `split`, `datetime_diff` counting
//! unit boundaries, and `todatetime` of text. Each row-level rule is a plain function, tested
//! on its own against the values Kusto's documentation gives.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Int64Builder, ListArray, ListBuilder, StringBuilder,
    TimestampNanosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, TimestampNanosecondType};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::value::RawValue;

use super::types::KType;

/// The functions, each one `ScalarUDF` named `kql_<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// `(text) -> text`: ASCII letters lowered, all else kept (Kusto's case-insensitive
    /// operators fold ASCII only).
    AsciiLower,
    /// `(text, needle) -> bool`, whole terms, ASCII case folded.
    Has,
    /// `(text, needle) -> bool`, whole terms, case kept.
    HasCs,
    /// `(text, needle) -> bool`: substring / prefix / suffix with ASCII case folded.
    Contains,
    StartsWith,
    EndsWith,
    /// `(json, step...) -> json`: a member (text step) or element (integer step) of a dynamic
    /// value; null when absent.
    DynGet,
    /// `(json) -> text`: `tostring()` of a dynamic value.
    DynToString,
    DynToLong,
    DynToReal,
    DynToBool,
    DynToDateTime,
    /// `(text) -> json`: `parse_json`/`todynamic` of text (text that is not JSON becomes a
    /// JSON string).
    ParseJson,
    /// `(text, delimiter) -> json array`.
    Split,
    /// `(text, delimiter, index) -> text`: `tostring(split(t, d)[i])` without building the
    /// array.
    SplitAt,
    /// `(json) -> long`: the length of an array, else null.
    ArrayLength,
    /// `(list, "dynamic"|"scalar"[, cap]) -> json array`: an aggregated list as a dynamic
    /// array of at most `cap` elements.
    ListToJson,
    /// `(json[, limit]) -> list of json`: what `mv-expand` expands (an array's elements;
    /// another value, or null, as itself), at most `limit` of them.
    ExpandItems,
    /// `(unit, a, b) -> long`.
    DateTimeDiff,
    /// `(text) -> datetime`, null when it does not parse.
    ToDateTime,
    /// `(text) -> timespan`, null when it does not parse.
    ToTimespan,
    /// `(text) -> json`: a string as a JSON string value.
    JsonString,
    /// `(json array, json value) -> bool`.
    SetHasElement,
    /// `(json array, json value) -> long`: the first index, or -1.
    ArrayIndexOf,
    /// `(json array, json array...) -> json array`: the distinct elements of the first in
    /// none of the others.
    SetDifference,
    /// `(key, json value, key, json value, ...) -> json object`.
    BagPack,
    /// `(datetime, format) -> text`, with .NET's custom format specifiers.
    FormatDateTime,
    /// `(json object, name, camelName) -> json`: a Log Analytics column kept in
    /// `AdditionalFields`, under `name`, else under `properties` as `camelName`, else as
    /// `camelName`; the object parsed once for all three.
    AdditionalField,
    /// `(start, stop, step, "datetime"|"long") -> json array` (integers: nanoseconds or
    /// longs), at most 1,048,576 elements as Kusto's `range()`.
    Range,
}

impl Func {
    fn name(self) -> &'static str {
        match self {
            Func::AsciiLower => "kql_ascii_lower",
            Func::Has => "kql_has",
            Func::HasCs => "kql_has_cs",
            Func::Contains => "kql_contains",
            Func::StartsWith => "kql_startswith",
            Func::EndsWith => "kql_endswith",
            Func::DynGet => "kql_dynamic_get",
            Func::DynToString => "kql_dynamic_tostring",
            Func::DynToLong => "kql_dynamic_tolong",
            Func::DynToReal => "kql_dynamic_toreal",
            Func::DynToBool => "kql_dynamic_tobool",
            Func::DynToDateTime => "kql_dynamic_todatetime",
            Func::ParseJson => "kql_parse_json",
            Func::Split => "kql_split",
            Func::SplitAt => "kql_split_at",
            Func::ArrayLength => "kql_array_length",
            Func::ListToJson => "kql_list_to_json",
            Func::ExpandItems => "kql_expand_items",
            Func::DateTimeDiff => "kql_datetime_diff",
            Func::ToDateTime => "kql_todatetime",
            Func::ToTimespan => "kql_totimespan",
            Func::JsonString => "kql_json_string",
            Func::SetHasElement => "kql_set_has_element",
            Func::ArrayIndexOf => "kql_array_index_of",
            Func::SetDifference => "kql_set_difference",
            Func::BagPack => "kql_bag_pack",
            Func::FormatDateTime => "kql_format_datetime",
            Func::Range => "kql_range",
            Func::AdditionalField => "kql_additional_field",
        }
    }

    fn return_type(self) -> DataType {
        match self {
            Func::Has | Func::HasCs | Func::Contains | Func::StartsWith | Func::EndsWith => {
                DataType::Boolean
            }
            Func::DynToLong | Func::ArrayLength | Func::DateTimeDiff | Func::ArrayIndexOf => {
                DataType::Int64
            }
            Func::SetHasElement => DataType::Boolean,
            Func::ToTimespan => KType::Timespan.arrow(),
            Func::DynToReal => DataType::Float64,
            Func::DynToBool => DataType::Boolean,
            Func::DynToDateTime | Func::ToDateTime => KType::DateTime.arrow(),
            Func::ExpandItems => {
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
            }
            _ => DataType::Utf8,
        }
    }

    const ALL: [Func; 29] = [
        Func::AsciiLower,
        Func::Has,
        Func::HasCs,
        Func::Contains,
        Func::StartsWith,
        Func::EndsWith,
        Func::DynGet,
        Func::DynToString,
        Func::DynToLong,
        Func::DynToReal,
        Func::DynToBool,
        Func::DynToDateTime,
        Func::ParseJson,
        Func::Split,
        Func::SplitAt,
        Func::ArrayLength,
        Func::ListToJson,
        Func::ExpandItems,
        Func::DateTimeDiff,
        Func::ToDateTime,
        Func::ToTimespan,
        Func::JsonString,
        Func::SetHasElement,
        Func::ArrayIndexOf,
        Func::SetDifference,
        Func::BagPack,
        Func::FormatDateTime,
        Func::Range,
        Func::AdditionalField,
    ];

    /// `self(args)` as an expression.
    pub fn call(self, args: Vec<Expr>) -> Expr {
        self.udf().call(args)
    }

    fn udf(self) -> ScalarUDF {
        ScalarUDF::new_from_impl(Kql {
            func: self,
            signature: Signature::variadic_any(Volatility::Immutable),
        })
    }
}

/// The function a plan names `name`, for a cluster's executors to decode the plans of KQL
/// queries (no session registers these functions).
pub fn udf(name: &str) -> Option<Arc<ScalarUDF>> {
    Func::ALL
        .into_iter()
        .find(|func| func.name() == name)
        .map(|func| Arc::new(func.udf()))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Kql {
    func: Func,
    signature: Signature,
}

impl ScalarUDFImpl for Kql {
    fn name(&self) -> &str {
        self.func.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.func.return_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|arg| arg.to_array(rows))
            .collect::<Result<Vec<_>>>()?;
        Ok(ColumnarValue::Array(evaluate(self.func, &arrays, rows)?))
    }
}

/// Text at `row` of a `Utf8`/`Utf8View`/`LargeUtf8` array, `None` when null.
fn text_at(array: &ArrayRef, row: usize) -> Option<&str> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Some(array.as_string_view().value(row)),
        _ => None,
    }
}

/// The integer at `row` of an `Int64`, `Int32` or nanosecond-timestamp array, `None` when
/// null (read without a `ScalarValue` per row: these are called for every row).
fn int_at(array: &ArrayRef, row: usize) -> Option<i64> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Int64 => Some(array.as_primitive::<Int64Type>().value(row)),
        DataType::Int32 => Some(i64::from(
            array
                .as_primitive::<datafusion::arrow::datatypes::Int32Type>()
                .value(row),
        )),
        DataType::Timestamp(_, _) => array
            .as_primitive_opt::<TimestampNanosecondType>()
            .map(|times| times.value(row)),
        _ => None,
    }
}

fn check_arity(func: Func, arrays: &[ArrayRef], wanted: usize) -> Result<()> {
    if arrays.len() < wanted {
        return exec_err!("{} takes {wanted} arguments", func.name());
    }
    Ok(())
}

fn evaluate(func: Func, arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let arity = match func {
        Func::Has
        | Func::HasCs
        | Func::Contains
        | Func::StartsWith
        | Func::EndsWith
        | Func::Split => 2,
        Func::SplitAt | Func::DateTimeDiff => 3,
        Func::SetHasElement | Func::ArrayIndexOf | Func::FormatDateTime => 2,
        Func::Range => 4,
        Func::AdditionalField => 3,
        _ => 1,
    };
    check_arity(func, arrays, arity)?;
    let a = &arrays[0];
    Ok(match func {
        Func::AsciiLower => text_map(rows, |r| text_at(a, r).map(|t| ascii_lower(t).into_owned())),
        Func::DynToString => text_map(rows, |r| Some(dynamic_to_string(text_at(a, r)))),
        Func::ParseJson => text_map(rows, |r| text_at(a, r).map(parse_json)),
        Func::Split => {
            let d = &arrays[1];
            let index = arrays.get(2);
            text_map(rows, |r| {
                let text = text_at(a, r).unwrap_or("");
                let delimiter = text_at(d, r)?;
                Some(match index {
                    None => split_json(text, delimiter),
                    // With an index, an array of that part alone, or empty.
                    Some(index) => {
                        let part = split_at(text, delimiter, int_at(index, r)?);
                        serde_json::to_string(&part.into_iter().collect::<Vec<_>>())
                            .expect("strings serialise")
                    }
                })
            })
        }
        Func::SplitAt => {
            let (d, i) = (&arrays[1], &arrays[2]);
            text_map(rows, |r| {
                Some(
                    split_at(text_at(a, r).unwrap_or(""), text_at(d, r)?, int_at(i, r)?)
                        .unwrap_or_default()
                        .to_string(),
                )
            })
        }
        Func::DynGet => {
            let steps = &arrays[1..];
            text_map(rows, |r| {
                let mut value = text_at(a, r)?;
                for step in steps {
                    value = match text_at(step, r) {
                        Some(name) => dynamic_member(value, name)?,
                        None => dynamic_element(value, int_at(step, r)?)?,
                    };
                }
                Some(value.to_string())
            })
        }
        Func::Has | Func::HasCs | Func::Contains | Func::StartsWith | Func::EndsWith => {
            let b = &arrays[1];
            let mut out = BooleanBuilder::with_capacity(rows);
            for r in 0..rows {
                let (Some(text), Some(needle)) = (text_at(a, r), text_at(b, r)) else {
                    out.append_null();
                    continue;
                };
                out.append_value(match func {
                    Func::Has => has_term(text, needle, false),
                    Func::HasCs => has_term(text, needle, true),
                    Func::Contains => ascii_lower(text).contains(ascii_lower(needle).as_ref()),
                    Func::StartsWith => ascii_lower(text).starts_with(ascii_lower(needle).as_ref()),
                    _ => ascii_lower(text).ends_with(ascii_lower(needle).as_ref()),
                });
            }
            Arc::new(out.finish())
        }
        Func::DynToLong | Func::ArrayLength => {
            let mut out = Int64Builder::with_capacity(rows);
            for r in 0..rows {
                let text = text_at(a, r);
                out.append_option(match func {
                    Func::DynToLong => text.and_then(dynamic_to_long),
                    _ => text.and_then(array_length),
                });
            }
            Arc::new(out.finish())
        }
        Func::DynToReal => {
            let values: Vec<Option<f64>> = (0..rows)
                .map(|r| text_at(a, r).and_then(dynamic_to_real))
                .collect();
            Arc::new(datafusion::arrow::array::Float64Array::from(values))
        }
        Func::DynToBool => {
            let mut out = BooleanBuilder::with_capacity(rows);
            for r in 0..rows {
                out.append_option(text_at(a, r).and_then(dynamic_to_bool));
            }
            Arc::new(out.finish())
        }
        Func::JsonString => text_map(rows, |r| {
            text_at(a, r).map(|t| serde_json::Value::String(t.to_string()).to_string())
        }),
        Func::SetHasElement | Func::ArrayIndexOf => {
            let b = &arrays[1];
            let mut out = Int64Builder::with_capacity(rows);
            for r in 0..rows {
                out.append_option(match (text_at(a, r), text_at(b, r)) {
                    (Some(items), Some(value)) => index_of(items, value),
                    _ => None,
                });
            }
            let indexes = out.finish();
            if func == Func::ArrayIndexOf {
                Arc::new(indexes)
            } else {
                let found: datafusion::arrow::array::BooleanArray =
                    indexes.iter().map(|i| i.map(|i| i >= 0)).collect();
                Arc::new(found)
            }
        }
        Func::SetDifference => text_map(rows, |r| {
            let others: Vec<&str> = arrays[1..].iter().filter_map(|o| text_at(o, r)).collect();
            set_difference(text_at(a, r)?, &others)
        }),
        Func::BagPack => text_map(rows, |r| {
            let mut bag = serde_json::Map::new();
            for pair in arrays.chunks(2) {
                let key = text_at(&pair[0], r)?.to_string();
                let value = pair
                    .get(1)
                    .and_then(|v| text_at(v, r))
                    .and_then(|v| serde_json::from_str(v).ok())
                    .unwrap_or(serde_json::Value::Null);
                bag.insert(key, value);
            }
            Some(serde_json::Value::Object(bag).to_string())
        }),
        Func::FormatDateTime => {
            let times = a.as_primitive_opt::<TimestampNanosecondType>();
            let Some(times) = times else {
                return exec_err!("format_datetime formats a datetime");
            };
            let formats = &arrays[1];
            text_map(rows, |r| {
                if times.is_null(r) {
                    return Some(String::new());
                }
                Some(format_with(times.value(r), text_at(formats, r)?).unwrap_or_default())
            })
        }
        Func::AdditionalField => {
            let (names, camels) = (&arrays[1], &arrays[2]);
            text_map(rows, |r| {
                additional_field(text_at(a, r)?, text_at(names, r)?, text_at(camels, r)?)
                    .map(str::to_string)
            })
        }
        Func::Range => {
            let (stop, step, kind) = (&arrays[1], &arrays[2], &arrays[3]);
            text_map(rows, |r| {
                let (start, stop, step) = (int_at(a, r)?, int_at(stop, r)?, int_at(step, r)?);
                let datetimes = text_at(kind, r) == Some("datetime");
                Some(range_json(start, stop, step, datetimes))
            })
        }
        Func::ToTimespan => {
            let values: Vec<Option<i64>> = (0..rows)
                .map(|r| {
                    text_at(a, r)
                        .and_then(parse_timespan)
                        .map(|ticks| ticks * 100)
                })
                .collect();
            Arc::new(datafusion::arrow::array::DurationNanosecondArray::from(
                values,
            ))
        }
        Func::DynToDateTime | Func::ToDateTime => {
            let mut out = TimestampNanosecondBuilder::with_capacity(rows).with_timezone("UTC");
            for r in 0..rows {
                let text = text_at(a, r);
                out.append_option(match func {
                    Func::DynToDateTime => text.and_then(dynamic_to_datetime),
                    _ => text.and_then(parse_datetime),
                });
            }
            Arc::new(out.finish())
        }
        Func::DateTimeDiff => {
            let (x, y) = (&arrays[1], &arrays[2]);
            let (x, y) = (
                x.as_primitive_opt::<TimestampNanosecondType>(),
                y.as_primitive_opt::<TimestampNanosecondType>(),
            );
            let (Some(x), Some(y)) = (x, y) else {
                return exec_err!("datetime_diff compares two datetimes");
            };
            let mut out = Int64Builder::with_capacity(rows);
            for r in 0..rows {
                let unit = text_at(a, r);
                out.append_option(match (unit, x.is_valid(r), y.is_valid(r)) {
                    (Some(unit), true, true) => datetime_diff(unit, x.value(r), y.value(r)),
                    _ => None,
                });
            }
            Arc::new(out.finish())
        }
        Func::ListToJson => {
            let Some(lists) = a.as_list_opt::<i32>() else {
                return exec_err!("kql_list_to_json takes a list, not {}", a.data_type());
            };
            let dynamic_items = arrays.get(1).and_then(|k| text_at(k, 0)) == Some("dynamic");
            let cap = arrays
                .get(2)
                .and_then(|c| int_at(c, 0))
                .map_or(usize::MAX, |c| c.max(0) as usize);
            text_map(rows, |r| {
                (!lists.is_null(r)).then(|| list_to_json(&lists.value(r), dynamic_items, cap))
            })
        }
        Func::ExpandItems => {
            let mut out = ListBuilder::new(StringBuilder::new());
            for r in 0..rows {
                let limit = arrays
                    .get(1)
                    .and_then(|l| int_at(l, r))
                    .map_or(usize::MAX, |l| l.max(0) as usize);
                for item in expand_items(text_at(a, r)).into_iter().take(limit) {
                    out.values().append_option(item);
                }
                out.append(true);
            }
            let list: ListArray = out.finish();
            Arc::new(list)
        }
    })
}

fn range_json(start: i64, stop: i64, step: i64, datetimes: bool) -> String {
    let mut items = Vec::new();
    let mut at = start;
    while step != 0 && (if step > 0 { at <= stop } else { at >= stop }) && items.len() < 1 << 20 {
        items.push(if datetimes {
            serde_json::Value::String(format_datetime(at))
        } else {
            serde_json::Value::from(at)
        });
        let Some(next) = at.checked_add(step) else {
            break;
        };
        at = next;
    }
    serde_json::Value::Array(items).to_string()
}

/// The index of `value` (JSON) in the JSON array `items`, -1 when absent; `None` when
/// `items` is not an array.
fn index_of(items: &str, value: &str) -> Option<i64> {
    let items: Vec<serde_json::Value> = serde_json::from_str(items).ok()?;
    let value: serde_json::Value = serde_json::from_str(value).ok()?;
    Some(
        items
            .iter()
            .position(|item| json_equal(item, &value))
            .map_or(-1, |i| i as i64),
    )
}

/// JSON values equal as Kusto compares dynamic values: numbers by value.
fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a, b) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn set_difference(first: &str, others: &[&str]) -> Option<String> {
    let first: Vec<serde_json::Value> = serde_json::from_str(first).ok()?;
    let others: Vec<Vec<serde_json::Value>> = others
        .iter()
        .map(|o| serde_json::from_str(o).ok())
        .collect::<Option<_>>()?;
    let mut kept: Vec<serde_json::Value> = Vec::new();
    for item in first {
        let elsewhere = others.iter().flatten().any(|o| json_equal(o, &item));
        if !elsewhere && !kept.iter().any(|k| json_equal(k, &item)) {
            kept.push(item);
        }
    }
    Some(serde_json::Value::Array(kept).to_string())
}

/// Kusto's timespan text: `[-][d.]hh:mm[:ss[.fffffff]]`, or a literal such as `10m`; ticks.
pub fn parse_timespan(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(tokens) = super::lexer::tokenize(text)
        && let [token, _eof] = tokens.as_slice()
        && let super::lexer::Tok::Timespan(ticks) = token.tok
    {
        return Some(ticks);
    }
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (days, clock) = match text.split_once(':') {
        Some((head, _)) => match head.split_once('.') {
            Some((days, _)) => (days.parse::<i64>().ok()?, &text[days.len() + 1..]),
            None => (0, text),
        },
        None => return None,
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [h, m] => (*h, *m, "0"),
        [h, m, s] => (*h, *m, *s),
        _ => return None,
    };
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    if fraction.len() > 7 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = hours.parse().ok().filter(|h| (0..24).contains(h))?;
    let minutes: i64 = minutes.parse().ok().filter(|m| (0..60).contains(m))?;
    let whole: i64 = whole.parse().ok().filter(|s| (0..60).contains(s))?;
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<7}").parse().ok()?
    };
    let ticks = (((days * 24 + hours) * 60 + minutes) * 60 + whole) * 10_000_000 + fraction;
    Some(if negative { -ticks } else { ticks })
}

/// `format_datetime`: .NET's custom specifiers (`yyyy`, `MM`, `dd`, `HH`, `hh`, `mm`, `ss`,
/// `f`... up to seven, `tt`) and the separators Kusto allows; `None` for any other letter.
pub fn format_with(nanos: i64, format: &str) -> Option<String> {
    use chrono::Timelike;
    let at = DateTime::<Utc>::from_timestamp_nanos(nanos);
    let mut out = String::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&d| d == c).count();
        let pad = |value: u32, width: usize| format!("{value:0width$}");
        match (c, run) {
            ('y', 4) => out.push_str(&format!("{:04}", at.year())),
            ('y', 2) => out.push_str(&pad((at.year().rem_euclid(100)) as u32, 2)),
            ('M', 1 | 2) => out.push_str(&pad(at.month(), run)),
            ('d', 1 | 2) => out.push_str(&pad(at.day(), run)),
            ('H', 1 | 2) => out.push_str(&pad(at.hour(), run)),
            ('h', 1 | 2) => out.push_str(&pad(at.hour12().1, run)),
            ('m', 1 | 2) => out.push_str(&pad(at.minute(), run)),
            ('s', 1 | 2) => out.push_str(&pad(at.second(), run)),
            ('f' | 'F', 1..=7) => {
                let ticks = format!("{:07}", at.nanosecond() / 100);
                out.push_str(&ticks[..run]);
            }
            ('t', 2) => out.push_str(if at.hour() < 12 { "AM" } else { "PM" }),
            (c, _) if c.is_ascii_alphabetic() => return None,
            (c, _) => {
                for _ in 0..run {
                    out.push(c);
                }
            }
        }
        i += run;
    }
    Some(out)
}

fn text_map(rows: usize, mut value: impl FnMut(usize) -> Option<String>) -> ArrayRef {
    let mut out = StringBuilder::with_capacity(rows, rows * 8);
    for r in 0..rows {
        out.append_option(value(r));
    }
    Arc::new(out.finish())
}

pub fn ascii_lower(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// Kusto's `has`: `needle` occurs in `text` as whole terms, a term being a maximal run of
/// alphanumeric characters; the needle's own edges decide which sides must be term edges.
pub fn has_term(text: &str, needle: &str, case_sensitive: bool) -> bool {
    if needle.is_empty() {
        return true;
    }
    let (text, needle) = if case_sensitive {
        (Cow::Borrowed(text), Cow::Borrowed(needle))
    } else {
        (ascii_lower(text), ascii_lower(needle))
    };
    let starts_term = needle.chars().next().is_some_and(char::is_alphanumeric);
    let ends_term = needle.chars().last().is_some_and(char::is_alphanumeric);
    text.match_indices(needle.as_ref()).any(|(at, found)| {
        let before = text[..at].chars().next_back();
        let after = text[at + found.len()..].chars().next();
        (!starts_term || !before.is_some_and(char::is_alphanumeric))
            && (!ends_term || !after.is_some_and(char::is_alphanumeric))
    })
}

/// The raw JSON text of member `name` of the object `json`; `None` when absent or null.
pub fn dynamic_member<'a>(json: &'a str, name: &str) -> Option<&'a str> {
    let object: std::collections::HashMap<Cow<'a, str>, &'a RawValue> =
        serde_json::from_str(json).ok()?;
    let value = object.get(name)?.get();
    (value != "null").then_some(value)
}

/// See [`Func::AdditionalField`].
fn additional_field<'a>(fields: &'a str, name: &str, camel: &str) -> Option<&'a str> {
    let object: std::collections::HashMap<Cow<'a, str>, &'a RawValue> =
        serde_json::from_str(fields).ok()?;
    let present = |value: &'a RawValue| Some(value.get()).filter(|v| *v != "null");
    object
        .get(name)
        .and_then(|v| present(v))
        .or_else(|| {
            object
                .get("properties")
                .and_then(|properties| dynamic_member(properties.get(), camel))
        })
        .or_else(|| object.get(camel).and_then(|v| present(v)))
}

/// The raw JSON text of element `index` of the array `json` (negative counts from the end).
pub fn dynamic_element(json: &str, index: i64) -> Option<&str> {
    let items: Vec<&RawValue> = serde_json::from_str(json).ok()?;
    let at = if index < 0 {
        items.len().checked_sub(index.unsigned_abs() as usize)?
    } else {
        usize::try_from(index).ok()?
    };
    let value = items.get(at)?.get();
    (value != "null").then_some(value)
}

/// `tostring()` of a dynamic value: a JSON string's text, other JSON as written, null as `""`.
pub fn dynamic_to_string(json: Option<&str>) -> String {
    let Some(json) = json.map(str::trim) else {
        return String::new();
    };
    if json.starts_with('"')
        && let Ok(text) = serde_json::from_str::<String>(json)
    {
        return text;
    }
    if json == "null" {
        return String::new();
    }
    json.to_string()
}

fn json_value(json: &str) -> Option<serde_json::Value> {
    serde_json::from_str(json).ok()
}

fn dynamic_to_long(json: &str) -> Option<i64> {
    match json_value(json)? {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Bool(b) => Some(i64::from(b)),
        _ => None,
    }
}

fn dynamic_to_real(json: &str) -> Option<f64> {
    match json_value(json)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn dynamic_to_bool(json: &str) -> Option<bool> {
    match json_value(json)? {
        serde_json::Value::Bool(b) => Some(b),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        serde_json::Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

fn dynamic_to_datetime(json: &str) -> Option<i64> {
    match json_value(json)? {
        serde_json::Value::String(s) => parse_datetime(&s),
        _ => None,
    }
}

/// `parse_json(text)`: the text when it is JSON, else the text as a JSON string.
pub fn parse_json(text: &str) -> String {
    match serde_json::from_str::<&RawValue>(text) {
        Ok(raw) => raw.get().to_string(),
        Err(_) => serde_json::Value::String(text.to_string()).to_string(),
    }
}

/// `split(text, delimiter)` as a JSON array of strings.
pub fn split_json(text: &str, delimiter: &str) -> String {
    let parts: Vec<&str> = if delimiter.is_empty() {
        vec![text]
    } else {
        text.split(delimiter).collect()
    };
    serde_json::to_string(&parts).expect("strings serialise")
}

/// Element `index` of `split(text, delimiter)`, `None` past either end.
pub fn split_at<'a>(text: &'a str, delimiter: &str, index: i64) -> Option<&'a str> {
    let parts: Vec<&str> = if delimiter.is_empty() {
        vec![text]
    } else {
        text.split(delimiter).collect()
    };
    let at = if index < 0 {
        parts.len().checked_sub(index.unsigned_abs() as usize)?
    } else {
        usize::try_from(index).ok()?
    };
    parts.get(at).copied()
}

fn array_length(json: &str) -> Option<i64> {
    let items: Vec<&RawValue> = serde_json::from_str(json).ok()?;
    i64::try_from(items.len()).ok()
}

/// One list of an aggregate as a JSON array; `dynamic_items` when the elements are JSON
/// text themselves (a set of dynamic values).
fn list_to_json(list: &ArrayRef, dynamic_items: bool, cap: usize) -> String {
    let mut out = String::from("[");
    let mut first = true;
    for r in (0..list.len()).take(cap) {
        if list.is_null(r) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        match list.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let text = text_at(list, r).unwrap_or("");
                if dynamic_items {
                    out.push_str(text);
                } else {
                    out.push_str(&serde_json::Value::String(text.to_string()).to_string());
                }
            }
            DataType::Int64 => out.push_str(&list.as_primitive::<Int64Type>().value(r).to_string()),
            DataType::Timestamp(_, _) => {
                let nanos = list.as_primitive::<TimestampNanosecondType>().value(r);
                out.push('"');
                out.push_str(&format_datetime(nanos));
                out.push('"');
            }
            _ => match ScalarValue::try_from_array(list, r) {
                Ok(value) => out.push_str(&value.to_string()),
                Err(_) => out.push_str("null"),
            },
        }
    }
    out.push(']');
    out
}

/// A JSON object's members in their order, their values as written.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Entries<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Entries<'de>, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(Entries(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// What `mv-expand` makes of one value: an array's elements; a property bag's properties,
/// each as a bag of its own (Kusto's default `bagexpansion=bag`); any other value (null too)
/// as one item.
fn expand_items(json: Option<&str>) -> Vec<Option<String>> {
    let Some(json) = json else {
        return vec![None];
    };
    if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(json) {
        return items
            .into_iter()
            .map(|item| {
                Some(item.get())
                    .filter(|v| *v != "null")
                    .map(str::to_string)
            })
            .collect();
    }
    if let Ok(Entries(bag)) = serde_json::from_str::<Entries<'_>>(json) {
        return bag
            .into_iter()
            .map(|(key, value)| {
                Some(format!(
                    "{{{}:{}}}",
                    serde_json::Value::String(key),
                    value.get()
                ))
            })
            .collect();
    }
    vec![Some(json.to_string())]
}

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// `datetime_diff(unit, a, b)`: how many `unit` boundaries lie between `b` and `a` (negative
/// when `a` is earlier), as Kusto counts them: the difference of the two times floored to
/// the unit, not the elapsed time truncated.
pub fn datetime_diff(unit: &str, a: i64, b: i64) -> Option<i64> {
    let floor = |nanos: i64, size: i64| nanos.div_euclid(size);
    let fixed = |size: i64| Some(floor(a, size) - floor(b, size));
    match unit.to_ascii_lowercase().as_str() {
        "nanosecond" => fixed(100).map(|ticks| ticks * 100),
        "microsecond" => fixed(1_000),
        "millisecond" => fixed(1_000_000),
        "second" => fixed(NANOS_PER_SECOND),
        "minute" => fixed(60 * NANOS_PER_SECOND),
        "hour" => fixed(3_600 * NANOS_PER_SECOND),
        "day" => fixed(86_400 * NANOS_PER_SECOND),
        // Weeks start on Sunday; 1970-01-01 was a Thursday, four days after one.
        "week" => {
            let day = 86_400 * NANOS_PER_SECOND;
            Some((floor(a, day) + 4).div_euclid(7) - (floor(b, day) + 4).div_euclid(7))
        }
        "month" | "quarter" | "year" => {
            let months = |nanos: i64| {
                let at = DateTime::<Utc>::from_timestamp_nanos(nanos);
                i64::from(at.year()) * 12 + i64::from(at.month0())
            };
            let (x, y) = (months(a), months(b));
            Some(match unit.to_ascii_lowercase().as_str() {
                "month" => x - y,
                "quarter" => x.div_euclid(3) - y.div_euclid(3),
                _ => x.div_euclid(12) - y.div_euclid(12),
            })
        }
        _ => None,
    }
}

/// Kusto's ISO 8601 datetimes: a date, optionally a time (`T` or a space) with up to seven
/// fraction digits, and `Z` or an offset (none means UTC). Nanoseconds since the epoch, cut to
/// whole ticks.
pub fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    let nanos = if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        at.with_timezone(&Utc).timestamp_nanos_opt()?
    } else if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        at.and_utc().timestamp_nanos_opt()?
    } else if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
        at.and_utc().timestamp_nanos_opt()?
    } else if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        at.and_utc().timestamp_nanos_opt()?
    } else if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M") {
        at.and_utc().timestamp_nanos_opt()?
    } else if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt()?
    } else {
        return None;
    };
    Some(nanos - nanos.rem_euclid(100))
}

/// A datetime as Kusto prints it: ISO 8601, seven fraction digits, `Z`.
pub fn format_datetime(nanos: i64) -> String {
    let at = DateTime::<Utc>::from_timestamp_nanos(nanos);
    let ticks = at.timestamp_subsec_nanos() / 100;
    format!("{}.{ticks:07}Z", at.format("%Y-%m-%dT%H:%M:%S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_matches_whole_terms_folding_ascii_only() {
        // Kusto's documentation: "has" looks for a term; "contains" for any substring.
        assert!(has_term("North America", "america", false));
        assert!(!has_term("North America", "amer", false));
        assert!(has_term("deviceCode flow", "DEVICECODE", false));
        assert!(!has_term("deviceCode flow", "DEVICECODE", true));
        assert!(has_term("50055,50126", "50126", false));
        assert!(!has_term("500551", "50055", false));
        assert!(has_term("a.b.c", "b.c", false));
        assert!(!has_term("ab.c", "b.c", false));
        // Non-ASCII letters are not folded.
        assert!(!has_term("ÄRGER", "ärger", false));
        assert!(has_term("x ärger y", "ärger", false));
    }

    #[test]
    fn datetime_diff_counts_boundaries_as_the_documentation_shows() {
        let at = |text: &str| parse_datetime(text).unwrap();
        // The examples of Kusto's datetime_diff page.
        let cases = [
            (
                "second",
                "2017-10-30 23:00:10.100",
                "2017-10-30 23:00:00.900",
                10,
            ),
            ("minute", "2017-10-30 23:05:01", "2017-10-30 23:00:59", 5),
            ("hour", "2017-10-31 01:00", "2017-10-30 23:59", 2),
            ("day", "2017-10-29 00:00", "2017-09-30 23:59", 29),
            ("week", "2017-10-29 00:00", "2017-09-30 23:59", 5),
            ("month", "2017-01-01", "2015-12-30", 13),
            ("quarter", "2017-07-01", "2017-03-30", 2),
            ("year", "2017-01-01", "2015-12-30", 2),
            (
                "millisecond",
                "2017-10-30 23:00:00.100",
                "2017-10-30 23:00:00.1",
                0,
            ),
            (
                "nanosecond",
                "2017-10-30 23:00:00.0000000",
                "2017-10-30 23:00:00.0000007",
                -700,
            ),
        ];
        for (unit, a, b, expected) in cases {
            assert_eq!(datetime_diff(unit, at(a), at(b)), Some(expected), "{unit}");
        }
    }

    #[test]
    fn dynamic_values_are_json_text() {
        let location = r#"{"city":"Redmond","geo":{"lat":47.6},"n":null,"codes":[1,"x"]}"#;
        assert_eq!(dynamic_member(location, "city"), Some(r#""Redmond""#));
        assert_eq!(dynamic_member(location, "n"), None);
        assert_eq!(dynamic_member(location, "absent"), None);
        assert_eq!(dynamic_member("[1]", "x"), None);
        let codes = dynamic_member(location, "codes").unwrap();
        assert_eq!(dynamic_element(codes, 1), Some(r#""x""#));
        assert_eq!(dynamic_element(codes, -2), Some("1"));
        assert_eq!(dynamic_element(codes, 2), None);
        assert_eq!(dynamic_to_string(Some(r#""Red\"mond""#)), "Red\"mond");
        assert_eq!(dynamic_to_string(Some("47.6")), "47.6");
        assert_eq!(dynamic_to_string(None), "");
        assert_eq!(dynamic_to_long(r#""50126""#), Some(50126));
        assert_eq!(parse_json("not json"), r#""not json""#);
        assert_eq!(parse_json(r#"{"a":1}"#), r#"{"a":1}"#);
    }

    #[test]
    fn additional_fields_are_found_where_each_source_puts_them() {
        let export = r#"{"AuthenticationRequirement":"singleFactorAuthentication"}"#;
        let diagnostic = r#"{"properties":{"authenticationRequirement":"multiFactorAuthentication"},"operationName":"Sign-in activity"}"#;
        let find = |fields, name, camel| additional_field(fields, name, camel);
        let requirement = ("AuthenticationRequirement", "authenticationRequirement");
        assert_eq!(
            find(export, requirement.0, requirement.1),
            Some(r#""singleFactorAuthentication""#)
        );
        assert_eq!(
            find(diagnostic, requirement.0, requirement.1),
            Some(r#""multiFactorAuthentication""#)
        );
        assert_eq!(
            find(diagnostic, "OperationName", "operationName"),
            Some(r#""Sign-in activity""#)
        );
        assert_eq!(find(r#"{"X":null}"#, "X", "x"), None);
        assert_eq!(find("{}", "X", "x"), None);
    }

    #[test]
    fn mv_expand_takes_elements_and_properties() {
        let items = |json| expand_items(Some(json));
        assert_eq!(
            items(r#"[1,"a",null]"#),
            [Some("1".into()), Some(r#""a""#.into()), None]
        );
        assert_eq!(
            items(r#"{"b":{"x":1},"a":2}"#),
            [Some(r#"{"b":{"x":1}}"#.into()), Some(r#"{"a":2}"#.into())]
        );
        assert!(items("[]").is_empty());
        assert!(items("{}").is_empty());
        assert_eq!(items("5"), [Some("5".into())]);
        assert_eq!(expand_items(None), [None]);
    }

    #[test]
    fn split_indexes_as_kusto_does() {
        assert_eq!(split_json("a@b", "@"), r#"["a","b"]"#);
        assert_eq!(split_at("user@contoso.com", "@", 0), Some("user"));
        assert_eq!(split_at("user@contoso.com", "@", 1), Some("contoso.com"));
        assert_eq!(split_at("nobody", "@", 1), None);
        assert_eq!(split_at("", "@", 0), Some(""));
    }

    #[test]
    fn timespans_and_formats_as_kusto_writes_them() {
        assert_eq!(parse_timespan("1.00:00:00"), Some(864_000_000_000));
        assert_eq!(parse_timespan("00:10:00"), Some(6_000_000_000));
        assert_eq!(parse_timespan("-0:0:1.5"), Some(-15_000_000));
        assert_eq!(parse_timespan("2d"), Some(1_728_000_000_000));
        assert_eq!(parse_timespan("2026-03-01T00:00:00Z"), None);
        let at = parse_datetime("2017-01-29 09:00:05.1234567").unwrap();
        // The examples of Kusto's format_datetime page.
        assert_eq!(
            format_with(at, "yy-MM-dd [HH:mm:ss]").as_deref(),
            Some("17-01-29 [09:00:05]")
        );
        assert_eq!(
            format_with(at, "yyyy-M-dd [H:mm:ss]").as_deref(),
            Some("2017-1-29 [9:00:05]")
        );
        assert_eq!(
            format_with(at, "yy-MM-dd [hh:mm:ss tt]").as_deref(),
            Some("17-01-29 [09:00:05 AM]")
        );
        assert_eq!(
            format_with(at, "dd-MM-yyyy fff").as_deref(),
            Some("29-01-2017 123")
        );
        assert_eq!(format_with(at, "yyyy Q"), None);
    }

    #[test]
    fn sets_compare_json_values() {
        assert_eq!(index_of(r#"["a","b"]"#, r#""b""#), Some(1));
        assert_eq!(index_of(r#"[1,2]"#, "2.0"), Some(1));
        assert_eq!(index_of(r#"["1"]"#, "1"), Some(-1));
        assert_eq!(index_of("not an array", "1"), None);
        assert_eq!(
            set_difference(r#"["a","b","a","c"]"#, &[r#"["b"]"#, r#"["c"]"#]).as_deref(),
            Some(r#"["a"]"#)
        );
    }

    #[test]
    fn datetimes_parse_to_ticks() {
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(
            parse_datetime("1970-01-01T00:00:01.123456789Z"),
            Some(1_123_456_700)
        );
        assert_eq!(
            parse_datetime("1970-01-01 00:00:01+01:00"),
            Some(-3_599_000_000_000)
        );
        assert_eq!(parse_datetime("{{StartTimeISO}}"), None);
        assert_eq!(
            format_datetime(1_123_456_700),
            "1970-01-01T00:00:01.1234567Z"
        );
    }
}
