//! JSON sources: diagnostic-settings archive lines and legacy `{"records":[...]}` blobs, Event
//! Hub messages, Log Analytics results (array or lines), Graph `{"value":[...]}` pages, bare
//! arrays and the admin-center JSON download. Values are borrowed from the input buffer where
//! they need no unescaping, and every field without a column of its own is kept byte-exact in
//! `AdditionalFields`, so the mapping is lossless and cheap.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::fields::{self, Target};
use super::row::Row;
use super::time::{clip, parse_timestamp};
use crate::schema::Text;

/// Where a record sits in its file: 1-based line, and its 1-based index inside a wrapper
/// (`records`/`value`/array) when a line or document holds several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    pub line: u64,
    pub record: Option<u64>,
}

/// Receives each record of a file: where it is, its raw bytes, and its mapping or why it has none.
pub type RecordSink<'s> = dyn for<'r> FnMut(Location, &'r [u8], Result<Row<'r>, String>) + 's;

/// Whether a file whose content starts with `start` (whole lines) holds one document per line,
/// and so may be read a piece at a time: its first line is a whole document, or looks like one
/// record that is malformed.
pub fn line_mode(start: &[u8]) -> bool {
    let start = start.strip_prefix(b"\xef\xbb\xbf").unwrap_or(start);
    lines(start)
        .map(|(_, line)| line)
        .find(|line| !line.trim_ascii().is_empty())
        .is_some_and(|first| {
            looks_like_one_record_per_line(first)
                || std::str::from_utf8(first).is_ok_and(|text| parse_document(text).is_ok())
        })
}

/// Reads every record of a JSON file not in [`line_mode`]: one document, or (when the
/// document is malformed) one reject for the whole file.
pub fn read_document_file(bytes: &[u8], sink: &mut RecordSink<'_>) {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let Some((first_no, _)) = lines(bytes).find(|(_, line)| !line.trim_ascii().is_empty()) else {
        return;
    };
    let location = Location {
        line: first_no,
        record: None,
    };
    match std::str::from_utf8(bytes) {
        Ok(text) => match parse_document(text) {
            Ok(document) => read_document(text, document, 0, sink),
            Err(reason) => sink(location, bytes, Err(reason)),
        },
        Err(e) => {
            let reason = format!("not valid UTF-8 (byte {})", e.valid_up_to());
            sink(location, bytes, Err(reason));
        }
    }
}

/// Reads every line of `bytes` as a document; `line_base` lines of the file came before.
pub fn read_lines(bytes: &[u8], line_base: u64, sink: &mut RecordSink<'_>) {
    let bytes = if line_base == 0 {
        bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
    } else {
        bytes
    };
    for (line_no, line) in lines(bytes) {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let line_no = line_base + line_no;
        let location = Location {
            line: line_no,
            record: None,
        };
        match std::str::from_utf8(line) {
            Err(e) => sink(
                location,
                line,
                Err(format!("not valid UTF-8 (byte {})", e.valid_up_to())),
            ),
            Ok(text) => match parse_document(text) {
                Ok(document) => read_document(text, document, line_no - 1, sink),
                Err(reason) => sink(location, line, Err(reason)),
            },
        }
    }
}

fn looks_like_one_record_per_line(line: &[u8]) -> bool {
    let line = line.trim_ascii();
    line.starts_with(b"{") && line.ends_with(b"}")
}

/// Lines with their 1-based numbers; CRLF and LF both end a line.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', bytes)
        .chain([bytes.len()])
        .map(move |end| {
            let line = &bytes[start..end];
            start = end + 1;
            line.strip_suffix(b"\r").unwrap_or(line)
        })
        .zip(1..)
        .map(|(line, no)| (no, line))
}

/// A parsed JSON value that is either one record or a list of them.
enum Document<'a> {
    Record(Entries<'a>),
    Many(Vec<&'a RawValue>),
}

fn parse_document(text: &str) -> Result<Document<'_>, String> {
    let json_error = |e: serde_json::Error| format!("malformed JSON: {e}");
    match text.trim_start().as_bytes().first() {
        Some(b'[') => Ok(Document::Many(
            serde_json::from_str(text).map_err(json_error)?,
        )),
        Some(b'{') => {
            let entries: Entries = serde_json::from_str(text).map_err(json_error)?;
            let wrapped = entries.0.iter().find(|(key, value)| {
                (key == "records" || key == "value") && value.get().starts_with('[')
            });
            match wrapped {
                Some((_, list)) => Ok(Document::Many(
                    serde_json::from_str(list.get()).map_err(json_error)?,
                )),
                None => Ok(Document::Record(entries)),
            }
        }
        // A file's BOM is dropped before parsing; one here comes from files glued together.
        _ if text.trim_start().starts_with('\u{feff}') => {
            Err("a byte-order mark (U+FEFF) in the middle of the file".to_string())
        }
        _ => Err("not a JSON object or array".to_string()),
    }
}

/// `line_base` is the number of lines before `text` in its file, so that records of a
/// multi-line document report the line they start on.
fn read_document<'a>(
    text: &'a str,
    document: Document<'a>,
    line_base: u64,
    sink: &mut RecordSink<'_>,
) {
    match document {
        Document::Record(entries) => sink(
            Location {
                line: line_base + 1,
                record: None,
            },
            text.as_bytes(),
            map_record(entries),
        ),
        Document::Many(records) => {
            let mut line = line_base + 1;
            let mut scanned = 0;
            for (index, raw) in (1..).zip(records) {
                let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
                line += text.as_bytes()[scanned..offset]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64;
                scanned = offset;
                let location = Location {
                    line,
                    record: Some(index),
                };
                let row = serde_json::from_str::<Entries>(raw.get())
                    .map_err(|e| format!("record is not a JSON object: {e}"))
                    .and_then(map_record);
                sink(location, raw.get().as_bytes(), row);
            }
        }
    }
}

/// Maps one record object. Diagnostic records (with a `properties` object) read the envelope
/// and the Graph object inside; flat records read Log Analytics or Graph names.
fn map_record(entries: Entries<'_>) -> Result<Row<'_>, String> {
    let diagnostic = entries
        .0
        .iter()
        .any(|(key, value)| key == "properties" && value.get().starts_with('{'));
    let mut row = Row::default();
    let mut extra = JsonObject::default();
    let mut properties_extra = JsonObject::default();
    for (key, value) in entries.0 {
        let target = if diagnostic {
            fields::envelope(&key)
        } else {
            fields::log_analytics(&key)
                .or_else(|| fields::graph(&key))
                .or_else(|| fields::envelope(&key).filter(|t| *t != Target::Properties))
        };
        match target {
            Some(Target::Properties) => {
                let properties: Entries = serde_json::from_str(value.get())
                    .map_err(|e| format!("field \"properties\": {e}"))?;
                for (key, value) in properties.0 {
                    match fields::graph(&key) {
                        Some(target) => {
                            assign(&mut row, target, &key, value, &mut properties_extra)?
                        }
                        None => unmapped(&mut row, &key, value, &mut properties_extra)?,
                    }
                }
            }
            Some(target) => assign(&mut row, target, &key, value, &mut extra)?,
            None => unmapped(&mut row, &key, value, &mut extra)?,
        }
    }
    if row.text(Text::ResultType).is_empty() {
        row.text[Text::ResultType as usize] = error_code(row.text(Text::Status))?;
    }
    if !properties_extra.is_empty() {
        extra.push("properties", &properties_extra.finish());
    }
    row.set_additional_fields(Cow::Owned(extra.finish()));
    Ok(row)
}

/// Graph carries the result only as `status.errorCode` (docs/ingest.md).
pub(super) fn error_code(status: &str) -> Result<Cow<'static, str>, String> {
    #[derive(Deserialize)]
    struct Status<'a> {
        #[serde(rename = "errorCode", borrow)]
        error_code: Option<&'a RawValue>,
    }
    if !status.starts_with('{') {
        return Ok(Cow::Borrowed(""));
    }
    let parsed: Status =
        serde_json::from_str(status).map_err(|e| format!("field \"status\": {e}"))?;
    match parsed.error_code {
        Some(code) => Ok(Cow::Owned(
            text_value(code, false)
                .map_err(|e| format!("field \"status.errorCode\": {e}"))?
                .into_owned(),
        )),
        None => Ok(Cow::Borrowed("")),
    }
}

/// Puts a mapped field in its column; a second source for a filled column (the envelope and
/// the properties both carry `correlationId`) goes to `AdditionalFields` instead of being lost.
fn assign<'a>(
    row: &mut Row<'a>,
    target: Target,
    key: &str,
    value: &'a RawValue,
    extra: &mut JsonObject,
) -> Result<(), String> {
    let field_error = |e: String| format!("field {:?}: {e}", clip(key));
    match target {
        Target::Text(column) => {
            let slot = &mut row.text[column as usize];
            if slot.is_empty() {
                *slot = text_value(value, column.is_json()).map_err(field_error)?;
                return Ok(());
            }
        }
        Target::TimeGenerated | Target::CreatedDateTime => {
            let slot = if target == Target::TimeGenerated {
                &mut row.time_generated
            } else {
                &mut row.created
            };
            if slot.is_none() {
                *slot = time_value(value).map_err(field_error)?;
                return Ok(());
            }
        }
        Target::IsInteractive if row.is_interactive.is_none() => {
            row.is_interactive = bool_value(value).map_err(field_error)?;
            return Ok(());
        }
        Target::TableType if row.table_type.is_none() => {
            row.table_type = Some(text_value(value, false).map_err(field_error)?);
            return Ok(());
        }
        Target::UserKey if row.user_key.is_none() => {
            row.user_key = Some(text_value(value, false).map_err(field_error)?);
            return Ok(());
        }
        Target::IsInteractive | Target::TableType | Target::Properties | Target::UserKey => {}
    }
    extra.push(key, value.get());
    Ok(())
}

fn unmapped<'a>(
    row: &mut Row<'a>,
    key: &str,
    value: &'a RawValue,
    extra: &mut JsonObject,
) -> Result<(), String> {
    if key == "signInEventTypes" && value.get().starts_with('[') {
        let types: Vec<CowStr> = serde_json::from_str(value.get())
            .map_err(|e| format!("field \"signInEventTypes\": {e}"))?;
        row.event_types = types.into_iter().map(|t| t.0).collect();
    }
    extra.push(key, value.get());
    Ok(())
}

/// A string column's value: strings as text, numbers and booleans as their JSON text (ASN
/// `6128` → `"6128"`, ResultType `0` → `"0"`), null as `""`; objects only in JSON columns.
fn text_value(value: &RawValue, json_column: bool) -> Result<Cow<'_, str>, String> {
    let raw = value.get();
    match raw.as_bytes().first() {
        Some(b'"') => match unescape(&raw[1..raw.len() - 1]) {
            Some(text) => Ok(text),
            None => serde_json::from_str::<CowStr>(raw)
                .map(|s| s.0)
                .map_err(|e| e.to_string()),
        },
        Some(b'n') => Ok(Cow::Borrowed("")),
        Some(b'{' | b'[') if json_column => Ok(Cow::Borrowed(raw)),
        Some(b'{') => Err("expected text, found an object".to_string()),
        Some(b'[') => Err("expected text, found an array".to_string()),
        _ => Ok(Cow::Borrowed(raw)),
    }
}

/// The text of a JSON string's content that the record's parse has already checked, when
/// its escapes are all single characters: borrowed as it is without escapes. Log Analytics
/// exports hold whole JSON documents as escaped strings (`"[{\"authenticationMethod\":…`),
/// dozens of escapes per value, which serde_json unescapes one call at a time; this copies
/// the runs between them whole. `None` for `\u` escapes (surrogate pairs and all), which
/// serde_json decodes instead.
fn unescape(content: &str) -> Option<Cow<'_, str>> {
    if memchr::memchr(b'\\', content.as_bytes()).is_none() {
        return Some(Cow::Borrowed(content));
    }
    let mut text = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(at) = memchr::memchr(b'\\', rest.as_bytes()) {
        text.push_str(&rest[..at]);
        text.push(match rest.as_bytes().get(at + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            _ => return None,
        });
        rest = &rest[at + 2..];
    }
    text.push_str(rest);
    Some(Cow::Owned(text))
}

fn time_value(value: &RawValue) -> Result<Option<i64>, String> {
    match text_value(value, false)? {
        text if text.is_empty() => Ok(None),
        text if value.get().starts_with('"') => parse_timestamp(&text).map(Some),
        _ => Err(format!(
            "expected a timestamp string, found {}",
            clip(value.get())
        )),
    }
}

fn bool_value(value: &RawValue) -> Result<Option<bool>, String> {
    let text = text_value(value, false)?;
    parse_bool(&text)
}

/// JSON booleans and the CSV exports' `TRUE`/`FALSE`.
pub fn parse_bool(text: &str) -> Result<Option<bool>, String> {
    match text {
        "" => Ok(None),
        t if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
        t if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
        other => Err(format!("expected true or false, found {:?}", clip(other))),
    }
}

/// Builds the `AdditionalFields` object from raw JSON values, byte-exact.
#[derive(Debug, Default)]
pub struct JsonObject {
    text: String,
}

impl JsonObject {
    pub fn push(&mut self, key: &str, raw_value: &str) {
        self.text.push(if self.text.is_empty() { '{' } else { ',' });
        write_json_string(&mut self.text, key);
        self.text.push(':');
        self.text.push_str(raw_value);
    }

    pub fn push_string(&mut self, key: &str, value: &str) {
        let mut quoted = String::with_capacity(value.len() + 2);
        write_json_string(&mut quoted, value);
        self.push(key, &quoted);
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn finish(self) -> String {
        if self.text.is_empty() {
            "{}".to_string()
        } else {
            self.text + "}"
        }
    }
}

fn write_json_string(out: &mut String, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        let _ = write!(out, "{}", serde_json::Value::from(text));
    }
}

/// An object's members in source order, values unparsed.
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(32));
                while let Some(key) = map.next_key::<CowStr<'de>>()? {
                    entries.push((key.0, map.next_value()?));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// A string borrowed from the input unless it had escapes (serde's `Cow<str>` always copies).
struct CowStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CowVisitor;
        impl<'de> Visitor<'de> for CowVisitor {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(CowVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::{lines, text_value, unescape};
    use serde_json::value::RawValue;

    #[test]
    fn text_values_are_unescaped_where_they_have_escapes_and_borrowed_where_not() {
        let text = |json: &str, json_column: bool| {
            let raw: &RawValue = serde_json::from_str(json).unwrap();
            text_value(raw, json_column).map(|t| t.into_owned())
        };
        assert_eq!(text(r#""plain""#, false).unwrap(), "plain");
        assert_eq!(text(r#""""#, false).unwrap(), "");
        assert_eq!(text(r#""a\"b\\c""#, false).unwrap(), r#"a"b\c"#);
        assert_eq!(text(r#""caf\u00e9 \n""#, false).unwrap(), "café \n");
        assert_eq!(text("6128", false).unwrap(), "6128");
        assert_eq!(text("null", false).unwrap(), "");
        assert_eq!(text(r#"{"a":"\t"}"#, true).unwrap(), r#"{"a":"\t"}"#);
        assert!(text(r#"{"a":1}"#, false).is_err());
    }

    /// serde_json is the reference: every string, escaped any way, reads the same through the
    /// fast path as through serde_json alone, and `\u` escapes are left to serde_json.
    #[test]
    fn unescaping_matches_serde_json_on_every_escape() {
        let pieces = [
            "a",
            "é",
            "😀",
            " ",
            r#"\""#,
            r"\\",
            r"\/",
            r"\b",
            r"\f",
            r"\n",
            r"\r",
            r"\t",
            r"\u00e9",
            r"\ud83d\ude00",
            r#"{\"k\":[1]}"#,
        ];
        for first in pieces {
            for second in pieces {
                for third in ["", "x", r"\\", r#"\""#] {
                    let content = format!("{first}{second}{third}");
                    let quoted = format!("\"{content}\"");
                    let expected: String = serde_json::from_str(&quoted).unwrap();
                    match unescape(&content) {
                        Some(text) => assert_eq!(text, expected, "{content}"),
                        None => assert!(content.contains(r"\u"), "{content}"),
                    }
                    let raw: &RawValue = serde_json::from_str(&quoted).unwrap();
                    assert_eq!(text_value(raw, false).unwrap(), expected, "{content}");
                }
            }
        }
    }

    #[test]
    fn lines_end_at_lf_or_crlf_and_count_from_one() {
        let all = |text: &'static str| -> Vec<(u64, &'static str)> {
            lines(text.as_bytes())
                .map(|(no, line)| (no, std::str::from_utf8(line).unwrap()))
                .collect()
        };
        assert_eq!(all("a\r\nb\n\nc"), [(1, "a"), (2, "b"), (3, ""), (4, "c")]);
        assert_eq!(all("x\n"), [(1, "x"), (2, "")]);
        assert_eq!(all(""), [(1, "")]);
        assert_eq!(all("\r\r\n"), [(1, "\r"), (2, "")]);
    }
}
