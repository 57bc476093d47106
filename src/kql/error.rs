//! What goes wrong with a query, and where: every error carries the span of the text it is
//! about, and renders as `line L, column C` with the query's line and a caret under the span,
//! so a user fixing a pasted Sentinel query sees the spot without counting characters.

use std::fmt;

/// Byte offsets into the query text, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The span from the start of `self` to the end of `other`.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not KQL.
    Syntax,
    /// KQL that Kusto runs but retrohunt does not run exactly: refused, never approximated.
    Unsupported,
    /// KQL that Kusto's binder rejects too: an unknown name, a type that does not fit.
    Semantic,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KqlError {
    pub kind: ErrorKind,
    pub span: Span,
    pub message: String,
}

impl KqlError {
    pub fn syntax(span: Span, message: impl Into<String>) -> KqlError {
        KqlError {
            kind: ErrorKind::Syntax,
            span,
            message: message.into(),
        }
    }

    pub fn unsupported(span: Span, what: impl fmt::Display) -> KqlError {
        KqlError {
            kind: ErrorKind::Unsupported,
            span,
            message: format!("{what} is not supported (docs/kql.md lists what is)"),
        }
    }

    pub fn semantic(span: Span, message: impl Into<String>) -> KqlError {
        KqlError {
            kind: ErrorKind::Semantic,
            span,
            message: message.into(),
        }
    }

    /// The 1-based line and column (in characters) of the span's start in `text`.
    pub fn position(&self, text: &str) -> (usize, usize) {
        let start = self.span.start.min(text.len());
        let before = &text[..floor_char_boundary(text, start)];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        (line, column)
    }

    /// The error as a user reads it: position, message, the line and a caret under the span.
    pub fn render(&self, text: &str) -> String {
        let (line, column) = self.position(text);
        let source_line = text.lines().nth(line - 1).unwrap_or("");
        let width = {
            let start = floor_char_boundary(text, self.span.start.min(text.len()));
            let end = floor_char_boundary(text, self.span.end.min(text.len())).max(start);
            text[start..end]
                .split('\n')
                .next()
                .unwrap_or("")
                .chars()
                .count()
                .max(1)
        };
        let kind = match self.kind {
            ErrorKind::Syntax => "syntax error",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Semantic => "error",
        };
        format!(
            "{kind} at line {line}, column {column}: {}\n  {source_line}\n  {}{}",
            self.message,
            " ".repeat(column - 1),
            "^".repeat(width)
        )
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

impl fmt::Display for KqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (bytes {}..{})",
            self.message, self.span.start, self.span.end
        )
    }
}

impl std::error::Error for KqlError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_line_column_and_caret() {
        let text = "SigninLogs\n| where éx == 1\n| bogus";
        let at = text.find("bogus").unwrap();
        let error = KqlError::syntax(Span::new(at, at + 5), "expected an operator");
        assert_eq!(error.position(text), (3, 3));
        assert_eq!(
            error.render(text),
            "syntax error at line 3, column 3: expected an operator\n  | bogus\n    ^^^^^"
        );
        let at = text.find("x ==").unwrap();
        let error = KqlError::semantic(Span::new(at, at + 1), "unknown column");
        assert_eq!(
            error.position(text),
            (2, 10),
            "columns count characters, not bytes"
        );
    }
}
