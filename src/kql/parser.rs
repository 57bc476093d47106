//! Recursive descent from tokens to [`ast::Query`](super::ast::Query), one function per
//! grammar rule as sqlparser writes it. An operator or function Kusto has and retrohunt does
//! not run is refused here or by the planner with its name and position; nothing is skipped.
//!
//! Expression precedence, loosest first: `or`; `and`; comparisons, string operators,
//! `between` and `in` (not chained); `+ -`; `* / %`; unary `-`; member access, indexing and
//! calls.

use super::ast::*;
use super::error::{KqlError, Span};
use super::lexer::{Tok, Token, tokenize};

/// Tabular operators Kusto has that are refused (the planner cannot run them exactly).
const UNSUPPORTED_OPERATORS: [&str; 19] = [
    "make-series",
    "parse",
    "parse-where",
    "parse-kv",
    "evaluate",
    "serialize",
    "as",
    "invoke",
    "lookup",
    "fork",
    "facet",
    "find",
    "search",
    "sample",
    "sample-distinct",
    "scan",
    "top-nested",
    "top-hitters",
    "getschema",
];

/// Words Kusto reserves: as a name, declared or referred to, each must be bracketed
/// (`['first']`). Kusto.Language's own list, found by binding `T | extend W = 1` for every
/// word of its grammar and keeping those it says need brackets; sorted, for a binary search.
const RESERVED: [&str; 121] = [
    "and",
    "anomalychart",
    "areachart",
    "asc",
    "bagexpansion",
    "barchart",
    "between",
    "bin_legacy",
    "boolean",
    "byte",
    "cachingpolicy",
    "callout",
    "cancel",
    "card",
    "char",
    "columnchart",
    "contains_cs",
    "containscs",
    "cycles",
    "dataexport",
    "datascope",
    "date",
    "datetime",
    "decimal",
    "decodeblocks",
    "desc",
    "double",
    "dynamic",
    "encodingpolicy",
    "endswith",
    "endswith_cs",
    "expandoutput",
    "extent_tags_retention",
    "external_data",
    "first",
    "flags",
    "float",
    "force_remote",
    "harddelete",
    "hardretention",
    "has_all",
    "has_any",
    "has_cs",
    "hasprefix",
    "hasprefix_cs",
    "hassuffix",
    "hassuffix_cs",
    "hotcache",
    "int",
    "int16",
    "int32",
    "int64",
    "int8",
    "isfuzzy",
    "journal",
    "kind",
    "ladderchart",
    "last",
    "like",
    "likecs",
    "linechart",
    "long",
    "missing",
    "nooptimization",
    "notcontains",
    "notcontainscs",
    "notlike",
    "notlikecs",
    "or",
    "others",
    "pathformat",
    "piechart",
    "pivotchart",
    "project",
    "queries",
    "query_results",
    "real",
    "relaxed",
    "restricted_view_access",
    "row_level_security",
    "rowstore",
    "rowstore_references",
    "rowstore_sealinfo",
    "rowstorepolicy",
    "rowstores",
    "scatterchart",
    "seal",
    "seals",
    "shards",
    "simple",
    "softdelete",
    "softretention",
    "stackedareachart",
    "startswith",
    "startswith_cs",
    "statistics",
    "storedqueryresultcontainers",
    "string",
    "tablepurge",
    "time",
    "timechart",
    "timeline",
    "timepivot",
    "timespan",
    "treemap",
    "uint",
    "uint16",
    "uint32",
    "uint64",
    "uint8",
    "ulong",
    "union",
    "uniqueid",
    "unrestrictedviewers",
    "views",
    "with_itemindex",
    "with_match_id",
    "with_source",
    "with_step_name",
    "withsource",
    "writeaheadlog",
];

pub fn parse(text: &str) -> Result<Query, KqlError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        text,
        tokens,
        at: 0,
        depth: 0,
    };
    let query = parser.query()?;
    parser.expect_eof()?;
    Ok(query)
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    at: usize,
    /// How deeply expressions nest here: bounded, so that no text overflows the stack.
    depth: usize,
}

/// Deeper nesting than any real query has; past it the text is refused.
const MAX_DEPTH: usize = 200;

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.at]
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        &self.tokens[(self.at + ahead).min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let token = self.tokens[self.at].clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn is_punct(&self, punct: &str) -> bool {
        matches!(&self.peek().tok, Tok::Punct(p) if *p == punct)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(name) if name == word)
    }

    fn eat_punct(&mut self, punct: &str) -> bool {
        let found = self.is_punct(punct);
        if found {
            self.bump();
        }
        found
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let found = self.is_word(word);
        if found {
            self.bump();
        }
        found
    }

    fn found(&self) -> String {
        match &self.peek().tok {
            Tok::Eof => "the end of the query".into(),
            _ => {
                let span = self.peek().span;
                format!("`{}`", &self.text[span.start..span.end])
            }
        }
    }

    fn expected(&self, what: &str) -> KqlError {
        KqlError::syntax(
            self.peek().span,
            format!("expected {what}, found {}", self.found()),
        )
    }

    fn expect_punct(&mut self, punct: &str) -> Result<Span, KqlError> {
        if self.is_punct(punct) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&format!("`{punct}`")))
        }
    }

    fn expect_word(&mut self, word: &str) -> Result<Span, KqlError> {
        if self.is_word(word) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&format!("`{word}`")))
        }
    }

    fn expect_eof(&mut self) -> Result<(), KqlError> {
        match self.peek().tok {
            Tok::Eof => Ok(()),
            _ => Err(self.expected("`|`, `;` or the end of the query")),
        }
    }

    /// A name: a plain identifier or `['bracketed name']`.
    fn ident(&mut self) -> Result<Ident, KqlError> {
        match self.peek().tok.clone() {
            Tok::Ident(name) => {
                let span = self.bump().span;
                Ok(Ident { name, span })
            }
            Tok::Punct("[") if matches!(self.peek_at(1).tok, Tok::Str(_)) => {
                let start = self.bump().span;
                let Tok::Str(name) = self.bump().tok else {
                    unreachable!("checked above")
                };
                let end = self.expect_punct("]")?;
                Ok(Ident {
                    name,
                    span: start.to(end),
                })
            }
            _ => Err(self.expected("a name")),
        }
    }

    /// A name (of a column, a `let`, a parameter) as [`Parser::ident`] reads it, refused when
    /// it is a word Kusto reserves written without brackets.
    fn name(&mut self) -> Result<Ident, KqlError> {
        let bare = matches!(self.peek().tok, Tok::Ident(_));
        let name = self.ident()?;
        if bare {
            reserved_check(&name.name, name.span)?;
        }
        Ok(name)
    }

    /// Whether the next two tokens are `a-b` written without spaces (`project-away`).
    fn hyphenated(&self) -> Option<(String, usize)> {
        let (Tok::Ident(first), Tok::Punct("-"), Tok::Ident(second)) =
            (&self.peek().tok, &self.peek_at(1).tok, &self.peek_at(2).tok)
        else {
            return None;
        };
        let adjacent = self.peek().span.end == self.peek_at(1).span.start
            && self.peek_at(1).span.end == self.peek_at(2).span.start;
        adjacent.then(|| (format!("{first}-{second}"), 3))
    }

    fn query(&mut self) -> Result<Query, KqlError> {
        let mut lets = Vec::new();
        loop {
            while self.eat_punct(";") {}
            if self.is_word("let") {
                lets.push(self.let_statement()?);
                if !self.eat_punct(";") {
                    return Err(self.expected("`;` after the `let` statement"));
                }
                continue;
            }
            if self.is_word("set") || self.is_word("declare") || self.is_word("alias") {
                let span = self.peek().span;
                return Err(KqlError::unsupported(
                    span,
                    format!("the `{}` statement", &self.text[span.start..span.end]),
                ));
            }
            let body = self.tabular()?;
            while self.eat_punct(";") {}
            return Ok(Query { lets, body });
        }
    }

    fn let_statement(&mut self) -> Result<Let, KqlError> {
        self.expect_word("let")?;
        let name = self.name()?;
        self.expect_punct("=")?;
        // `(p: type, ...) { body }` is a function; `(expr)` is a value.
        if self.is_punct("(") && self.looks_like_parameters() {
            self.bump();
            let mut params = Vec::new();
            while !self.is_punct(")") {
                let param = self.ident()?;
                self.expect_punct(":")?;
                if self.is_punct("(") {
                    return Err(KqlError::unsupported(
                        self.peek().span,
                        "a tabular function parameter",
                    ));
                }
                let ty = self.ident()?;
                if self.is_punct("=") {
                    return Err(KqlError::unsupported(
                        self.peek().span,
                        "a default parameter value",
                    ));
                }
                params.push((param, ty));
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct(")")?;
            self.expect_punct("{")?;
            let body = self.query()?;
            self.expect_punct("}")?;
            return Ok(Let {
                name,
                value: LetValue::Function {
                    params,
                    body: Box::new(body),
                },
            });
        }
        Ok(Let {
            name,
            value: LetValue::Value(self.tabular()?),
        })
    }

    /// After `let f = (`: `)` or `name :` starts a parameter list.
    fn looks_like_parameters(&self) -> bool {
        matches!(
            (&self.peek_at(1).tok, &self.peek_at(2).tok),
            (Tok::Punct(")"), Tok::Punct("{")) | (Tok::Ident(_), Tok::Punct(":"))
        )
    }

    fn tabular(&mut self) -> Result<Tabular, KqlError> {
        let start = self.peek().span;
        let source = if self.is_word("union") {
            self.bump();
            Source::Union(self.union_body()?)
        } else {
            Source::Expr(self.expr()?)
        };
        let mut ops = Vec::new();
        while self.eat_punct("|") {
            ops.push(self.operator()?);
        }
        let end = self.tokens[self.at.saturating_sub(1)].span;
        Ok(Tabular {
            source,
            ops,
            span: start.to(end),
        })
    }

    fn union_body(&mut self) -> Result<Union, KqlError> {
        let mut union = Union {
            kind_outer: true,
            with_source: None,
            tables: Vec::new(),
        };
        loop {
            if self.is_word("kind") && matches!(self.peek_at(1).tok, Tok::Punct("=")) {
                self.bump();
                self.bump();
                let kind = self.ident()?;
                union.kind_outer = match kind.name.as_str() {
                    "outer" => true,
                    "inner" => false,
                    other => {
                        return Err(KqlError::syntax(
                            kind.span,
                            format!("expected union kind outer or inner, found `{other}`"),
                        ));
                    }
                };
            } else if self.is_word("withsource") {
                self.bump();
                self.expect_punct("=")?;
                union.with_source = Some(self.ident()?);
            } else if self.is_word("isfuzzy") {
                self.bump();
                self.expect_punct("=")?;
                self.ident()?;
            } else if matches!(&self.peek().tok, Tok::Ident(n) if n.starts_with("hint"))
                && matches!(self.peek_at(1).tok, Tok::Punct("."))
            {
                self.hint()?;
            } else {
                break;
            }
        }
        loop {
            let table = self.operand_table()?;
            union.tables.push(table);
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(union)
    }

    /// A table an operator takes: `(tabular expression)`, or a name or call.
    fn operand_table(&mut self) -> Result<Tabular, KqlError> {
        if self.eat_punct("(") {
            let inner = self.tabular()?;
            self.expect_punct(")")?;
            return Ok(inner);
        }
        let expr = self.postfix()?;
        let span = expr.span;
        Ok(Tabular {
            source: Source::Expr(expr),
            ops: Vec::new(),
            span,
        })
    }

    /// `hint.name = value`, which changes how Kusto runs a query, not what it returns.
    fn hint(&mut self) -> Result<(), KqlError> {
        self.ident()?;
        self.expect_punct(".")?;
        self.ident()?;
        self.expect_punct("=")?;
        match self.peek().tok {
            Tok::Ident(_) | Tok::Str(_) | Tok::Long(_) => {
                self.bump();
                Ok(())
            }
            _ => Err(self.expected("a hint's value")),
        }
    }

    fn skip_hints(&mut self) -> Result<(), KqlError> {
        while matches!(&self.peek().tok, Tok::Ident(n) if n == "hint")
            && matches!(self.peek_at(1).tok, Tok::Punct("."))
        {
            self.hint()?;
        }
        Ok(())
    }

    fn operator(&mut self) -> Result<Op, KqlError> {
        let start = self.peek().span;
        let name = match self.hyphenated() {
            Some((name, tokens)) => {
                for _ in 0..tokens {
                    self.bump();
                }
                name
            }
            None => match &self.peek().tok {
                Tok::Ident(name) => {
                    let name = name.clone();
                    self.bump();
                    name
                }
                _ => return Err(self.expected("a tabular operator after `|`")),
            },
        };
        let name_span = start.to(self.tokens[self.at - 1].span);
        let kind = match name.as_str() {
            "where" | "filter" => OpKind::Where(self.expr()?),
            "project" => OpKind::Project(self.named_list()?),
            "extend" => OpKind::Extend(self.named_list()?),
            "project-away" => OpKind::ProjectAway(self.ident_list()?),
            "project-keep" => OpKind::ProjectKeep(self.ident_list()?),
            "project-reorder" => OpKind::ProjectReorder(self.ident_list()?),
            "project-rename" => {
                let mut pairs = Vec::new();
                loop {
                    let new = self.name()?;
                    self.expect_punct("=")?;
                    let old = self.name()?;
                    pairs.push((new, old));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                OpKind::ProjectRename(pairs)
            }
            "summarize" => self.summarize()?,
            "join" => self.join()?,
            "union" => OpKind::Union(self.union_body()?),
            "sort" | "order" => {
                self.expect_word("by")?;
                OpKind::Sort(self.sort_keys()?)
            }
            "top" => {
                let count = self.expr()?;
                self.expect_word("by")?;
                let by = self.sort_key()?;
                OpKind::Top { count, by }
            }
            "take" | "limit" => OpKind::Take(self.expr()?),
            "distinct" => {
                let mut columns = Vec::new();
                loop {
                    columns.push(self.expr()?);
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                OpKind::Distinct(columns)
            }
            "count" => OpKind::Count,
            "mv-expand" | "mvexpand" => self.mv_expand(name == "mvexpand")?,
            "mv-apply" => self.mv_apply()?,
            "render" => {
                self.skip_to_operator_end();
                OpKind::Render
            }
            other if UNSUPPORTED_OPERATORS.contains(&other) => {
                return Err(KqlError::unsupported(
                    name_span,
                    format!("the `{other}` operator"),
                ));
            }
            other => {
                return Err(KqlError::syntax(
                    name_span,
                    format!("expected a tabular operator after `|`, found `{other}`"),
                ));
            }
        };
        let end = self.tokens[self.at.saturating_sub(1)].span;
        Ok(Op {
            kind,
            span: start.to(end),
        })
    }

    /// Skips what follows `render` up to the next `|`, `;`, `)` or `}` at its own depth.
    fn skip_to_operator_end(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek().tok {
                Tok::Eof => return,
                Tok::Punct("(" | "[" | "{") => depth += 1,
                Tok::Punct(")" | "]" | "}") if depth == 0 => return,
                Tok::Punct(")" | "]" | "}") => depth -= 1,
                Tok::Punct("|" | ";") if depth == 0 => return,
                _ => {}
            }
            self.bump();
        }
    }

    fn ident_list(&mut self) -> Result<Vec<Ident>, KqlError> {
        let mut names = Vec::new();
        loop {
            let name = self.name()?;
            if self.is_punct("*") && self.peek().span.start == name.span.end {
                return Err(KqlError::unsupported(
                    name.span.to(self.peek().span),
                    "a column name wildcard",
                ));
            }
            names.push(name);
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(names)
    }

    /// `[name =] expr, (a, b) = expr, ...`.
    fn named_list(&mut self) -> Result<Vec<NamedExpr>, KqlError> {
        let mut items = Vec::new();
        loop {
            items.push(self.named()?);
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(items)
    }

    fn named(&mut self) -> Result<NamedExpr, KqlError> {
        // `(a, b) = expr`
        if self.is_punct("(") {
            let save = self.at;
            self.bump();
            let mut names = Vec::new();
            while let Ok(name) = self.ident() {
                names.push(name);
                if !self.eat_punct(",") {
                    break;
                }
            }
            if !names.is_empty() && self.eat_punct(")") && self.eat_punct("=") {
                let expr = self.expr()?;
                return Ok(NamedExpr { names, expr });
            }
            self.at = save;
        }
        let is_name = matches!(self.peek().tok, Tok::Ident(_))
            || (self.is_punct("[") && matches!(self.peek_at(1).tok, Tok::Str(_)));
        if is_name {
            let save = self.at;
            let name = self.ident()?;
            if self.is_punct("=") {
                if matches!(self.tokens[save].tok, Tok::Ident(_)) {
                    reserved_check(&name.name, name.span)?;
                }
                self.bump();
                let expr = self.expr()?;
                return Ok(NamedExpr {
                    names: vec![name],
                    expr,
                });
            }
            self.at = save;
        }
        Ok(NamedExpr {
            names: Vec::new(),
            expr: self.expr()?,
        })
    }

    fn summarize(&mut self) -> Result<OpKind, KqlError> {
        self.skip_hints()?;
        let aggregates = if self.is_word("by") {
            Vec::new()
        } else {
            self.named_list()?
        };
        let by = if self.eat_word("by") {
            self.named_list()?
        } else {
            Vec::new()
        };
        Ok(OpKind::Summarize { aggregates, by })
    }

    fn join(&mut self) -> Result<OpKind, KqlError> {
        let mut kind = JoinKind::InnerUnique;
        loop {
            if self.is_word("kind") && matches!(self.peek_at(1).tok, Tok::Punct("=")) {
                self.bump();
                self.bump();
                let name = self.ident()?;
                kind = match name.name.as_str() {
                    "innerunique" => JoinKind::InnerUnique,
                    "inner" => JoinKind::Inner,
                    "leftouter" => JoinKind::LeftOuter,
                    "rightouter" => JoinKind::RightOuter,
                    "fullouter" => JoinKind::FullOuter,
                    "leftanti" | "anti" | "leftantisemi" => JoinKind::LeftAnti,
                    "rightanti" | "rightantisemi" => JoinKind::RightAnti,
                    "leftsemi" => JoinKind::LeftSemi,
                    "rightsemi" => JoinKind::RightSemi,
                    other => {
                        return Err(KqlError::syntax(
                            name.span,
                            format!("expected a join kind, found `{other}`"),
                        ));
                    }
                };
            } else if self.is_word("hint") && matches!(self.peek_at(1).tok, Tok::Punct(".")) {
                self.hint()?;
            } else {
                break;
            }
        }
        let right = self.operand_table()?;
        if !self.is_word("on") {
            return Err(self.expected("`on` and the join's keys"));
        }
        self.bump();
        let mut on = Vec::new();
        loop {
            on.push(self.join_key()?);
            if !(self.eat_punct(",") || self.eat_word("and")) {
                break;
            }
        }
        Ok(OpKind::Join {
            kind,
            right: Box::new(right),
            on,
        })
    }

    fn join_key(&mut self) -> Result<JoinKey, KqlError> {
        if !self.is_punct("$") {
            return Ok(JoinKey::Same(self.ident()?));
        }
        let (first_left, first) = self.side_column()?;
        if !self.eat_punct("==") {
            return Err(self.expected("`==` between `$left` and `$right` columns"));
        }
        let (second_left, second) = self.side_column()?;
        match (first_left, second_left) {
            (true, false) => Ok(JoinKey::Pair(first, second)),
            (false, true) => Ok(JoinKey::Pair(second, first)),
            _ => Err(KqlError::syntax(
                first.span.to(second.span),
                "a join key compares a `$left` column with a `$right` column",
            )),
        }
    }

    /// `$left.Name` (true) or `$right.Name` (false).
    fn side_column(&mut self) -> Result<(bool, Ident), KqlError> {
        self.expect_punct("$")?;
        let side = self.ident()?;
        let left = match side.name.as_str() {
            "left" => true,
            "right" => false,
            _ => {
                return Err(KqlError::syntax(side.span, "expected `$left` or `$right`"));
            }
        };
        self.expect_punct(".")?;
        Ok((left, self.ident()?))
    }

    fn sort_keys(&mut self) -> Result<Vec<SortKey>, KqlError> {
        let mut keys = Vec::new();
        loop {
            keys.push(self.sort_key()?);
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(keys)
    }

    fn sort_key(&mut self) -> Result<SortKey, KqlError> {
        let expr = self.expr()?;
        let descending = if self.eat_word("asc") {
            false
        } else {
            self.eat_word("desc");
            true
        };
        let nulls_first = if self.eat_word("nulls") {
            if self.eat_word("first") {
                Some(true)
            } else {
                self.expect_word("last")?;
                Some(false)
            }
        } else {
            None
        };
        Ok(SortKey {
            expr,
            descending,
            nulls_first,
        })
    }

    fn mv_expand(&mut self, legacy: bool) -> Result<OpKind, KqlError> {
        let (columns, limit) = self.expansion("mv-expand")?;
        Ok(OpKind::MvExpand {
            columns,
            limit,
            legacy,
        })
    }

    /// `mv-apply Columns [limit N] on ( SubQuery )`, the subquery a pipeline of operators
    /// without a source.
    fn mv_apply(&mut self) -> Result<OpKind, KqlError> {
        let (columns, limit) = self.expansion("mv-apply")?;
        self.expect_word("on")?;
        self.expect_punct("(")?;
        let mut subquery = vec![self.operator()?];
        while self.eat_punct("|") {
            subquery.push(self.operator()?);
        }
        self.expect_punct(")")?;
        Ok(OpKind::MvApply {
            columns,
            limit,
            subquery,
        })
    }

    /// What `mv-expand` and `mv-apply` expand: `[Name =] Array [to typeof(T)], ...
    /// [limit N]`.
    fn expansion(&mut self, operator: &str) -> Result<(Vec<Expansion>, Option<Expr>), KqlError> {
        if self.is_word("bagexpansion") || self.is_word("with_itemindex") {
            let span = self.peek().span;
            return Err(KqlError::unsupported(
                span,
                format!("{operator}'s `{}`", &self.text[span.start..span.end]),
            ));
        }
        if self.is_word("kind") && matches!(self.peek_at(1).tok, Tok::Punct("=")) {
            return Err(KqlError::unsupported(
                self.peek().span,
                format!("{operator}'s `kind`"),
            ));
        }
        let mut columns = Vec::new();
        loop {
            let named = self.named()?;
            let to = if self.eat_word("to") {
                self.expect_word("typeof")?;
                self.expect_punct("(")?;
                let ty = self.ident()?;
                self.expect_punct(")")?;
                Some(ty)
            } else {
                None
            };
            columns.push((named, to));
            if !self.eat_punct(",") {
                break;
            }
        }
        let limit = if self.eat_word("limit") {
            Some(self.expr()?)
        } else {
            None
        };
        Ok((columns, limit))
    }

    pub fn expr(&mut self) -> Result<Expr, KqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(KqlError::syntax(
                self.peek().span,
                "expressions nest too deeply",
            ));
        }
        let expr = self.or();
        self.depth -= 1;
        expr
    }

    fn binary(op: BinOp, left: Expr, right: Expr) -> Expr {
        let span = left.span.to(right.span);
        Expr {
            kind: ExprKind::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
            span,
        }
    }

    /// One level of left-associative binary operators (`ops`, as punctuation or words) over
    /// the operands `next` parses.
    fn left_assoc(
        &mut self,
        ops: &[(&str, BinOp)],
        next: fn(&mut Self) -> Result<Expr, KqlError>,
    ) -> Result<Expr, KqlError> {
        let mut left = next(self)?;
        loop {
            let Some(&(_, op)) = ops
                .iter()
                .find(|(token, _)| self.is_punct(token) || self.is_word(token))
            else {
                return Ok(left);
            };
            self.bump();
            let right = next(self)?;
            left = Self::binary(op, left, right);
        }
    }

    fn or(&mut self) -> Result<Expr, KqlError> {
        self.left_assoc(&[("or", BinOp::Or)], Self::and)
    }

    fn and(&mut self) -> Result<Expr, KqlError> {
        self.left_assoc(&[("and", BinOp::And)], Self::comparison)
    }

    fn comparison(&mut self) -> Result<Expr, KqlError> {
        let left = self.additive()?;
        let op = match &self.peek().tok {
            Tok::Punct("==") => Some(BinOp::Eq),
            Tok::Punct("!=") | Tok::Punct("<>") => Some(BinOp::NotEq),
            Tok::Punct("<") => Some(BinOp::Lt),
            Tok::Punct("<=") => Some(BinOp::LtEq),
            Tok::Punct(">") => Some(BinOp::Gt),
            Tok::Punct(">=") => Some(BinOp::GtEq),
            Tok::Punct("=~") => Some(BinOp::EqCi),
            Tok::Punct("!~") => Some(BinOp::NotEqCi),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            let right = self.additive()?;
            return Ok(Self::binary(op, left, right));
        }
        // `!word` with no space between: a negated string operator, `!in`, `!between`.
        let negated = self.is_punct("!")
            && matches!(self.peek_at(1).tok, Tok::Ident(_))
            && self.peek().span.end == self.peek_at(1).span.start;
        let word_at = if negated { 1 } else { 0 };
        let Tok::Ident(word) = self.peek_at(word_at).tok.clone() else {
            return Ok(left);
        };
        let word_span = self.peek().span.to(self.peek_at(word_at).span);
        let string_op = match word.as_str() {
            "has" => Some(StrOp::Has),
            "has_cs" => Some(StrOp::HasCs),
            "has_any" => Some(StrOp::HasAny),
            "contains" => Some(StrOp::Contains),
            "contains_cs" => Some(StrOp::ContainsCs),
            "startswith" => Some(StrOp::StartsWith),
            "startswith_cs" => Some(StrOp::StartsWithCs),
            "endswith" => Some(StrOp::EndsWith),
            "endswith_cs" => Some(StrOp::EndsWithCs),
            "matches" if !negated => Some(StrOp::MatchesRegex),
            _ => None,
        };
        if let Some(string_op) = string_op {
            for _ in 0..=word_at {
                self.bump();
            }
            if string_op == StrOp::MatchesRegex {
                self.expect_word("regex")?;
            }
            let right = if string_op == StrOp::HasAny {
                self.paren_list_expr()?
            } else {
                self.additive()?
            };
            return Ok(Self::binary(BinOp::Str(string_op, negated), left, right));
        }
        match word.as_str() {
            "in" => {
                for _ in 0..=word_at {
                    self.bump();
                }
                let case_insensitive = self.is_punct("~")
                    && self.peek().span.start == self.tokens[self.at - 1].span.end;
                if case_insensitive {
                    self.bump();
                }
                let list = self.in_list()?;
                let span = left.span.to(self.tokens[self.at - 1].span);
                Ok(Expr {
                    kind: ExprKind::In {
                        expr: Box::new(left),
                        list,
                        negated,
                        case_insensitive,
                    },
                    span,
                })
            }
            "between" => {
                for _ in 0..=word_at {
                    self.bump();
                }
                self.expect_punct("(")?;
                let low = self.additive()?;
                self.expect_punct("..")?;
                let high = self.additive()?;
                let end = self.expect_punct(")")?;
                let span = left.span.to(end);
                Ok(Expr {
                    kind: ExprKind::Between {
                        expr: Box::new(left),
                        low: Box::new(low),
                        high: Box::new(high),
                        negated,
                    },
                    span,
                })
            }
            "has_all" | "hasprefix" | "hasprefix_cs" | "hassuffix" | "hassuffix_cs" | "like"
            | "notlike" | "contains_any" | "has_any_cs" => Err(KqlError::unsupported(
                word_span,
                format!("the `{}{word}` operator", if negated { "!" } else { "" }),
            )),
            _ if negated => Err(KqlError::syntax(
                word_span,
                format!("expected a string operator after `!`, found `{word}`"),
            )),
            _ => Ok(left),
        }
    }

    /// `( a, b, ... )` as one expression whose list the planner reads (for `has_any`).
    fn paren_list_expr(&mut self) -> Result<Expr, KqlError> {
        let start = self.peek().span;
        let list = self.in_list()?;
        let span = start.to(self.tokens[self.at - 1].span);
        Ok(Expr {
            kind: ExprKind::Call {
                name: Ident {
                    name: "pack_array".into(),
                    span,
                },
                args: list,
            },
            span,
        })
    }

    /// The parenthesised right side of `in`: expressions, or one tabular expression.
    fn in_list(&mut self) -> Result<Vec<Expr>, KqlError> {
        self.expect_punct("(")?;
        let mut list = Vec::new();
        loop {
            list.push(self.tabular_or_expr()?);
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct(")")?;
        Ok(list)
    }

    /// An expression, or a tabular expression when a `|` follows it.
    fn tabular_or_expr(&mut self) -> Result<Expr, KqlError> {
        let tabular = self.tabular()?;
        match tabular {
            Tabular {
                source: Source::Expr(expr),
                ops,
                ..
            } if ops.is_empty() => Ok(expr),
            other => {
                let span = other.span;
                Ok(Expr {
                    kind: ExprKind::Tabular(Box::new(other)),
                    span,
                })
            }
        }
    }

    fn additive(&mut self) -> Result<Expr, KqlError> {
        self.left_assoc(
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            Self::multiplicative,
        )
    }

    fn multiplicative(&mut self) -> Result<Expr, KqlError> {
        self.left_assoc(
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Mod)],
            Self::unary,
        )
    }

    fn unary(&mut self) -> Result<Expr, KqlError> {
        if self.is_punct("-") {
            let start = self.bump().span;
            let inner = self.expr_at_depth(Self::unary)?;
            let span = start.to(inner.span);
            return Ok(Expr {
                kind: ExprKind::Negate(Box::new(inner)),
                span,
            });
        }
        if self.is_punct("+") {
            self.bump();
        }
        self.postfix()
    }

    /// `parse` one level deeper (for rules that recurse without passing through `expr`).
    fn expr_at_depth(
        &mut self,
        parse: fn(&mut Self) -> Result<Expr, KqlError>,
    ) -> Result<Expr, KqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(KqlError::syntax(
                self.peek().span,
                "expressions nest too deeply",
            ));
        }
        let expr = parse(self);
        self.depth -= 1;
        expr
    }

    fn postfix(&mut self) -> Result<Expr, KqlError> {
        let mut expr = self.primary()?;
        loop {
            if self.is_punct(".") {
                self.bump();
                // `x.[0]` and `x.['name']` are `x[0]` and `x['name']`.
                if self.is_punct("[") {
                    continue;
                }
                let name = self.ident()?;
                let span = expr.span.to(name.span);
                expr = Expr {
                    kind: ExprKind::Member(Box::new(expr), name.name),
                    span,
                };
            } else if self.is_punct("[") {
                self.bump();
                let index = self.expr()?;
                let end = self.expect_punct("]")?;
                let span = expr.span.to(end);
                expr = match index.kind {
                    ExprKind::Literal(Literal::String(name)) => Expr {
                        kind: ExprKind::Member(Box::new(expr), name),
                        span,
                    },
                    _ => Expr {
                        kind: ExprKind::Index(Box::new(expr), Box::new(index)),
                        span,
                    },
                };
            } else {
                return Ok(expr);
            }
        }
    }

    /// The text between the parentheses after a literal's type name, with its span.
    fn raw_parenthesised(&mut self) -> Result<(String, Span), KqlError> {
        let open = self.expect_punct("(")?;
        let mut depth = 0usize;
        loop {
            match self.peek().tok {
                Tok::Eof => return Err(self.expected("`)`")),
                Tok::Punct("(" | "[" | "{") => depth += 1,
                Tok::Punct(")") if depth == 0 => break,
                Tok::Punct(")" | "]" | "}") => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.bump();
        }
        let close = self.bump().span;
        Ok((
            self.text[open.end..close.start].trim().to_string(),
            open.to(close),
        ))
    }

    fn primary(&mut self) -> Result<Expr, KqlError> {
        let token = self.peek().clone();
        let literal = |literal: Literal| Expr {
            kind: ExprKind::Literal(literal),
            span: token.span,
        };
        match token.tok {
            Tok::Str(value) => {
                self.bump();
                Ok(literal(Literal::String(value)))
            }
            Tok::Long(value) => {
                self.bump();
                Ok(literal(Literal::Long(value)))
            }
            Tok::Real(value) => {
                self.bump();
                Ok(literal(Literal::Real(value)))
            }
            Tok::Timespan(value) => {
                self.bump();
                Ok(literal(Literal::Timespan(value)))
            }
            Tok::Punct("(") => {
                self.bump();
                let inner = self.tabular_or_expr()?;
                self.expect_punct(")")?;
                Ok(inner)
            }
            Tok::Punct("[") if matches!(self.peek_at(1).tok, Tok::Str(_)) => {
                let name = self.ident()?;
                Ok(Expr {
                    kind: ExprKind::Name(name.name),
                    span: name.span,
                })
            }
            Tok::Punct("*") => {
                self.bump();
                Ok(Expr {
                    kind: ExprKind::Star,
                    span: token.span,
                })
            }
            Tok::Punct("$") => {
                let (left, name) = self.side_column()?;
                Ok(Expr {
                    kind: ExprKind::Side(left, name.name),
                    span: token.span.to(name.span),
                })
            }
            Tok::Ident(name) => {
                self.bump();
                let called = self.is_punct("(") && self.peek().span.start >= token.span.end;
                match name.as_str() {
                    "true" | "false" if !called => Ok(literal(Literal::Bool(name == "true"))),
                    "datetime" | "todatetime_literal" | "dynamic" | "timespan" | "time"
                    | "long" | "int" | "real" | "double" | "bool" | "boolean" | "string"
                    | "guid" | "decimal"
                        if called =>
                    {
                        self.typed_literal(&name, token.span)
                    }
                    _ if called => self.call(Ident {
                        name,
                        span: token.span,
                    }),
                    _ => {
                        reserved_check(&name, token.span)?;
                        Ok(Expr {
                            kind: ExprKind::Name(name),
                            span: token.span,
                        })
                    }
                }
            }
            _ => Err(self.expected("an expression")),
        }
    }

    /// `datetime(...)`, `dynamic(...)`, `timespan(...)`, `long(null)`, ...
    fn typed_literal(&mut self, type_name: &str, start: Span) -> Result<Expr, KqlError> {
        let (raw, span) = self.raw_parenthesised()?;
        let span = start.to(span);
        let literal = match type_name {
            _ if raw == "null" => Literal::Null(type_name.to_string()),
            "datetime" => Literal::DateTime(raw),
            "dynamic" => Literal::Dynamic(raw),
            "timespan" | "time" => {
                let tokens = tokenize(&raw).map_err(|e| KqlError::syntax(span, e.message))?;
                match tokens.as_slice() {
                    [
                        Token {
                            tok: Tok::Timespan(ticks),
                            ..
                        },
                        _eof,
                    ] => Literal::Timespan(*ticks),
                    _ => {
                        return Err(KqlError::unsupported(
                            span,
                            format!("the timespan literal `{raw}` (write it as 1d, 2h, 30m, 10s)"),
                        ));
                    }
                }
            }
            "bool" | "boolean" if raw == "true" || raw == "false" => Literal::Bool(raw == "true"),
            "long" | "int" => Literal::Long(
                raw.parse()
                    .map_err(|_| KqlError::syntax(span, format!("bad {type_name} literal")))?,
            ),
            "real" | "double" => Literal::Real(
                raw.parse()
                    .map_err(|_| KqlError::syntax(span, format!("bad {type_name} literal")))?,
            ),
            _ => {
                return Err(KqlError::unsupported(
                    span,
                    format!("the literal `{type_name}({raw})`"),
                ));
            }
        };
        Ok(Expr {
            kind: ExprKind::Literal(literal),
            span,
        })
    }

    fn call(&mut self, name: Ident) -> Result<Expr, KqlError> {
        self.expect_punct("(")?;
        let mut args = Vec::new();
        if !self.is_punct(")") {
            loop {
                args.push(self.tabular_or_expr()?);
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        let end = self.expect_punct(")")?;
        let span = name.span.to(end);
        Ok(Expr {
            kind: ExprKind::Call { name, args },
            span,
        })
    }
}

/// Refuses `name` when Kusto reserves it and it was written without brackets, as
/// Kusto.Language does.
fn reserved_check(name: &str, span: Span) -> Result<(), KqlError> {
    if RESERVED.binary_search(&name).is_ok() {
        return Err(KqlError::syntax(
            span,
            format!("`{name}` is a word Kusto reserves: as a name, write it ['{name}']"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reserved_words_are_sorted_for_their_search() {
        assert!(RESERVED.windows(2).all(|pair| pair[0] < pair[1]));
    }

    use super::*;

    fn error_at(text: &str) -> (usize, usize, String) {
        let error = parse(text).unwrap_err();
        let (line, column) = error.position(text);
        (line, column, error.message)
    }

    #[test]
    fn the_seed_query_parses() {
        let query = parse(
            "let w = 10m;\nlet i = SigninLogs | where ResultType == 0 | project T = TimeGenerated;\n\
             i | join kind=inner (AADNonInteractiveUserSignInLogs | project T2 = TimeGenerated) on $left.T == $right.T2\n\
             | where T2 between (T .. (T + w)) | sort by T desc",
        )
        .unwrap();
        assert_eq!(query.lets.len(), 2);
        assert_eq!(query.body.ops.len(), 3);
        assert!(matches!(
            &query.body.ops[0].kind,
            OpKind::Join { kind: JoinKind::Inner, on, .. } if on.len() == 1
        ));
    }

    #[test]
    fn errors_say_where_and_what_was_expected() {
        assert_eq!(
            error_at("SigninLogs\n| where"),
            (
                2,
                8,
                "expected an expression, found the end of the query".into()
            )
        );
        assert_eq!(
            error_at("SigninLogs | wher x"),
            (
                1,
                14,
                "expected a tabular operator after `|`, found `wher`".into()
            )
        );
        let (line, column, message) = error_at("T\n| make-series c = count() on t step 1h");
        assert_eq!((line, column), (2, 3));
        assert!(message.starts_with("the `make-series` operator is not supported"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        for text in [
            format!("T | where {}1{}", "(".repeat(10_000), ")".repeat(10_000)),
            format!("T | where {}1", "-".repeat(10_000)),
            format!("T | where x in ({})", "(T | where y in (".repeat(5_000)),
        ] {
            let error = parse(&text).unwrap_err();
            assert_eq!(error.message, "expressions nest too deeply");
        }
    }

    #[test]
    fn negated_and_case_insensitive_operators() {
        let query = parse("T | where a !in~ ('x') and b !has 'y' and c !between (1 .. 2)").unwrap();
        let OpKind::Where(expr) = &query.body.ops[0].kind else {
            panic!()
        };
        let text = format!("{expr:?}");
        assert!(text.contains("negated: true, case_insensitive: true"));
        assert!(text.contains("Str(Has, true)"));
    }
}
