//! Text from the logs is partly attacker-chosen (user agents, app names, UPNs): written as is,
//! a cell like `=HYPERLINK(...)` runs as a formula in a spreadsheet, and `ESC[2J` or a
//! right-to-left override rewrites what a terminal shows. Outputs defang such text by default.

use std::borrow::Cow;

/// How text cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextSafety {
    /// CSV cells a spreadsheet would run as formulas get a leading `'`; terminal tables show
    /// control characters, ANSI escapes and bidirectional overrides as `\n`, `\u{1b}`, ...
    #[default]
    Defanged,
    /// Every cell exactly as stored.
    Raw,
}

/// A CSV cell that starts like a formula (`=`, `+`, `-`, `@`, tab, CR) behind a `'`, as
/// OWASP recommends; a plain number such as `-5` or `+1.5` is data, not a formula, and stays.
pub fn neutralise_formula(cell: &str) -> Cow<'_, str> {
    let triggers = ['=', '+', '-', '@', '\t', '\r'];
    if cell.starts_with(triggers) && cell.trim().parse::<f64>().is_err() {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Control characters (C0, DEL, C1: ESC among them, so no ANSI sequence survives) and the
/// invisible direction marks and overrides, as visible escapes.
pub fn escape_for_terminal(cell: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !cell.contains(unsafe_char) {
        return Cow::Borrowed(cell);
    }
    let mut out = String::with_capacity(cell.len() + 8);
    for c in cell.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        for (cell, expected) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
            ("@SUM(1,2)", "'@SUM(1,2)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-5", "-5"),
            ("+1.5", "+1.5"),
            ("alice@contoso.com", "alice@contoso.com"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(neutralise_formula(cell), expected, "{cell:?}");
        }
    }

    #[test]
    fn terminal_escapes_show_instead_of_acting() {
        assert_eq!(
            escape_for_terminal("\u{1b}[2J\u{1b}[31mroot\u{7}"),
            "\\u{1b}[2J\\u{1b}[31mroot\\u{7}"
        );
        assert_eq!(escape_for_terminal("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(
            escape_for_terminal("evil\u{202E}txt.exe"),
            "evil\\u{202e}txt.exe"
        );
        assert_eq!(escape_for_terminal("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape_for_terminal("Émile – ok"), "Émile – ok");
    }
}
