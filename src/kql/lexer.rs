//! KQL text into tokens, each with the byte span it came from, so that every later error can
//! point at the place in the query it is about.
//!
//! Kusto's lexical rules that matter here: `//` comments; strings in single or double quotes
//! with backslash escapes, or verbatim with a leading `@` (no escapes, a doubled quote is a
//! quote); `h`/`H` before a string only hides it from logs; a number directly followed by a
//! unit (`10m`, `1.5h`, `100ms`) is a timespan literal; operator names with hyphens
//! (`project-away`, `mv-expand`) are joined by the parser from adjacent tokens.

use super::error::{KqlError, Span};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    Long(i64),
    Real(f64),
    /// A timespan literal in 100-nanosecond ticks.
    Timespan(i64),
    Punct(&'static str),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Punctuation, longest first so that `..` wins over `.`, `!=` over `!`, `=~` over `=`.
const PUNCTS: [&str; 27] = [
    "..", "==", "!=", "<>", "<=", ">=", "=~", "!~", "=>", "|", "(", ")", "[", "]", "{", "}", ",",
    ";", ".", ":", "=", "<", ">", "+", "-", "*", "/",
];
const SINGLE: [&str; 4] = ["%", "!", "~", "$"];

/// Ticks per unit of a timespan literal's suffix (Kusto's `timespan` literals).
fn unit_ticks(unit: &str) -> Option<i64> {
    Some(match unit {
        "d" | "day" | "days" => 864_000_000_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 36_000_000_000,
        "m" | "min" | "minute" | "minutes" => 600_000_000,
        "s" | "sec" | "second" | "seconds" => 10_000_000,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 10_000,
        "microsecond" | "microseconds" => 10,
        "tick" | "ticks" => 1,
        _ => return None,
    })
}

pub fn tokenize(text: &str) -> Result<Vec<Token>, KqlError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if text[i..].starts_with("//") {
            i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            continue;
        }
        let start = i;
        // Verbatim and hidden strings: @"..", h"..", h@"..".
        let (hidden, verbatim) = match (c, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'h' | b'H', Some(b'\'' | b'"'), _) => (1, false),
            (b'h' | b'H', Some(b'@'), Some(b'\'' | b'"')) => (2, true),
            (b'@', Some(b'\'' | b'"'), _) => (1, true),
            _ => (0, false),
        };
        if hidden > 0 || c == b'\'' || c == b'"' {
            let quote_at = start + hidden;
            let (value, end) = string_literal(text, quote_at, verbatim)?;
            tokens.push(Token {
                tok: Tok::Str(value),
                span: Span::new(start, end),
            });
            i = end;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let end = scan_while(bytes, i, |b| b.is_ascii_alphanumeric() || b == b'_');
            tokens.push(Token {
                tok: Tok::Ident(text[i..end].to_string()),
                span: Span::new(start, end),
            });
            i = end;
            continue;
        }
        if c.is_ascii_digit() {
            let (tok, end) = number(text, i)?;
            tokens.push(Token {
                tok,
                span: Span::new(start, end),
            });
            i = end;
            continue;
        }
        let rest = &text[i..];
        let Some(punct) = PUNCTS
            .iter()
            .chain(SINGLE.iter())
            .find(|p| rest.starts_with(**p))
        else {
            let ch = rest.chars().next().unwrap_or(' ');
            return Err(KqlError::syntax(
                Span::new(i, i + ch.len_utf8()),
                format!("unexpected character {ch:?}"),
            ));
        };
        tokens.push(Token {
            tok: Tok::Punct(punct),
            span: Span::new(start, start + punct.len()),
        });
        i += punct.len();
    }
    tokens.push(Token {
        tok: Tok::Eof,
        span: Span::new(bytes.len(), bytes.len()),
    });
    Ok(tokens)
}

fn scan_while(bytes: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while i < bytes.len() && keep(bytes[i]) {
        i += 1;
    }
    i
}

/// The string starting with the quote at `at`: its value and the offset after it.
fn string_literal(text: &str, at: usize, verbatim: bool) -> Result<(String, usize), KqlError> {
    let quote = text.as_bytes()[at] as char;
    let mut value = String::new();
    let mut chars = text[at + 1..].char_indices().peekable();
    while let Some((offset, ch)) = chars.next() {
        let here = at + 1 + offset;
        if ch == quote {
            if verbatim && chars.peek().map(|(_, c)| *c) == Some(quote) {
                chars.next();
                value.push(quote);
                continue;
            }
            return Ok((value, here + 1));
        }
        if ch == '\n' && !verbatim {
            break;
        }
        if ch == '\\' && !verbatim {
            let Some((_, escaped)) = chars.next() else {
                break;
            };
            value.push(match escaped {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '0' => '\0',
                other => other,
            });
            continue;
        }
        value.push(ch);
    }
    Err(KqlError::syntax(
        Span::new(at, at + 1),
        format!("string literal not closed: expected {quote}"),
    ))
}

/// A number, or a timespan when a unit follows it directly.
fn number(text: &str, start: usize) -> Result<(Tok, usize), KqlError> {
    let bytes = text.as_bytes();
    if text[start..].starts_with("0x") || text[start..].starts_with("0X") {
        let end = scan_while(bytes, start + 2, |b| b.is_ascii_hexdigit());
        let value = i64::from_str_radix(&text[start + 2..end], 16).map_err(|_| {
            KqlError::syntax(Span::new(start, end), "hexadecimal literal too large")
        })?;
        return Ok((Tok::Long(value), end));
    }
    let mut end = scan_while(bytes, start, |b| b.is_ascii_digit());
    let mut real = false;
    // A fraction, but not the `..` of a range.
    if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
        real = true;
        end = scan_while(bytes, end + 1, |b| b.is_ascii_digit());
    }
    if matches!(bytes.get(end), Some(b'e' | b'E'))
        && (bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
            || (matches!(bytes.get(end + 1), Some(b'+' | b'-'))
                && bytes.get(end + 2).is_some_and(u8::is_ascii_digit)))
    {
        real = true;
        end = scan_while(bytes, end + 2, |b| b.is_ascii_digit());
    }
    let digits = &text[start..end];
    let unit_end = scan_while(bytes, end, |b| b.is_ascii_alphabetic());
    let span = Span::new(start, unit_end);
    if unit_end > end {
        let unit = &text[end..unit_end];
        let Some(ticks) = unit_ticks(unit) else {
            return Err(KqlError::syntax(
                span,
                format!(
                    "unknown timespan unit {unit:?}: expected d, h, m, s, ms, microsecond or tick"
                ),
            ));
        };
        let value: f64 = digits
            .parse()
            .map_err(|_| KqlError::syntax(span, "bad timespan literal"))?;
        let total = value * ticks as f64;
        if !total.is_finite() || total.abs() > i64::MAX as f64 {
            return Err(KqlError::syntax(span, "timespan literal out of range"));
        }
        return Ok((Tok::Timespan(total.round() as i64), unit_end));
    }
    if real {
        let value = digits
            .parse()
            .map_err(|_| KqlError::syntax(span, "bad real literal"))?;
        Ok((Tok::Real(value), end))
    } else {
        let value = digits
            .parse()
            .map_err(|_| KqlError::syntax(span, "integer literal out of the range of long"))?;
        Ok((Tok::Long(value), end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokenize(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn timespans_are_ticks_and_ranges_are_not_reals() {
        assert_eq!(
            toks("10m 1.5h 100ms 2d"),
            vec![
                Tok::Timespan(6_000_000_000),
                Tok::Timespan(54_000_000_000),
                Tok::Timespan(1_000_000),
                Tok::Timespan(1_728_000_000_000),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("1..2"),
            vec![Tok::Long(1), Tok::Punct(".."), Tok::Long(2), Tok::Eof]
        );
    }

    #[test]
    fn strings_escape_unless_verbatim() {
        assert_eq!(
            toks(r#"'a\'b' @"c\d""e" h"x" // gone"#),
            vec![
                Tok::Str("a'b".into()),
                Tok::Str("c\\d\"e".into()),
                Tok::Str("x".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn an_open_string_is_an_error_at_its_quote() {
        let error = tokenize("T | where x == 'abc").unwrap_err();
        assert_eq!(error.span, Span::new(15, 16));
    }
}
