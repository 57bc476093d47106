//! The syntax tree of a KQL query, as written: names are not resolved and types not known
//! until the planner binds them against the lake's tables. Every node keeps its span.

use super::error::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A query: `let` statements, then one tabular expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub lets: Vec<Let>,
    pub body: Tabular,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Let {
    pub name: Ident,
    pub value: LetValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LetValue {
    /// A scalar or a tabular expression: which one is known once its names are bound.
    Value(Tabular),
    /// `(p: type, ...) { lets; body }`.
    Function {
        params: Vec<(Ident, Ident)>,
        body: Box<Query>,
    },
}

/// A tabular expression: a source and the operators piped after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tabular {
    pub source: Source,
    pub ops: Vec<Op>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A name, a call (`table("T")`, `materialize(...)`, a let function), a parenthesised
    /// query, or a scalar expression (for a scalar `let`).
    Expr(Expr),
    /// `union [params] T1, T2, ...` at the start of a query.
    Union(Union),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Union {
    pub kind_outer: bool,
    pub with_source: Option<Ident>,
    pub tables: Vec<Tabular>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NamedExpr {
    /// `name = expr`, or `(a, b) = expr` for a tuple; empty when the name is derived.
    pub names: Vec<Ident>,
    pub expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
    /// `nulls first` (true) / `nulls last` (false) when written.
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JoinKind {
    InnerUnique,
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
    LeftAnti,
    RightAnti,
    LeftSemi,
    RightSemi,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JoinKey {
    /// `on Col`: the same name on both sides.
    Same(Ident),
    /// `$left.A == $right.B`.
    Pair(Ident, Ident),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub kind: OpKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    Where(Expr),
    Project(Vec<NamedExpr>),
    ProjectAway(Vec<Ident>),
    ProjectKeep(Vec<Ident>),
    ProjectRename(Vec<(Ident, Ident)>),
    ProjectReorder(Vec<Ident>),
    Extend(Vec<NamedExpr>),
    Summarize {
        aggregates: Vec<NamedExpr>,
        by: Vec<NamedExpr>,
    },
    Join {
        kind: JoinKind,
        right: Box<Tabular>,
        on: Vec<JoinKey>,
    },
    Union(Union),
    Sort(Vec<SortKey>),
    Top {
        count: Expr,
        by: SortKey,
    },
    Take(Expr),
    Distinct(Vec<Expr>),
    Count,
    MvExpand {
        columns: Vec<Expansion>,
        limit: Option<Expr>,
        legacy: bool,
    },
    /// `mv-apply Columns [limit N] on (SubQuery)`: each row's arrays expanded into a
    /// subtable, the subquery run on it, the row's other columns added to what it returns.
    MvApply {
        columns: Vec<Expansion>,
        limit: Option<Expr>,
        subquery: Vec<Op>,
    },
    /// `render`: a chart in Kusto's UI, nothing to a result.
    Render,
}

impl Expr {
    /// The column name Kusto gives an unnamed `project`/`extend`/`by` item, where it gives
    /// one of its own (Kusto.Language binds these): a column its name; a member or index
    /// path its parts joined by `_` (`LocationDetails.city` → `LocationDetails_city`,
    /// `X[0].y` → `X_0_y`); a conversion its argument's. Anything else Kusto names
    /// `Column1`, `Column2`, ... by its place in the operator: `None`, and the planner asks
    /// for a name instead.
    pub fn implicit_name(&self) -> Option<String> {
        const CONVERSIONS: [&str; 9] = [
            "tostring",
            "toint",
            "tolong",
            "toreal",
            "todouble",
            "tobool",
            "todatetime",
            "todynamic",
            "parse_json",
        ];
        match &self.kind {
            ExprKind::Name(name) => Some(name.clone()),
            ExprKind::Member(base, key) => Some(format!("{}_{key}", base.implicit_name()?)),
            ExprKind::Index(base, index) => match &index.kind {
                ExprKind::Literal(Literal::Long(i)) if *i >= 0 => {
                    Some(format!("{}_{i}", base.implicit_name()?))
                }
                _ => None,
            },
            ExprKind::Call { name, args } if CONVERSIONS.contains(&name.name.as_str()) => {
                match args.as_slice() {
                    [arg] => arg.implicit_name(),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// An array `mv-expand` or `mv-apply` expands: `[Name =] Array [to typeof(T)]`.
pub type Expansion = (NamedExpr, Option<Ident>);

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Long(i64),
    Real(f64),
    Bool(bool),
    /// `datetime(...)` text, parsed by the planner.
    DateTime(String),
    /// Ticks.
    Timespan(i64),
    /// `dynamic(...)`: JSON text.
    Dynamic(String),
    /// `long(null)`, `datetime(null)`, ...: the type's name.
    Null(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `=~`: equal after folding ASCII case.
    EqCi,
    NotEqCi,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// A string operator (`has`, `contains`, `startswith`, `matches regex`, ...), with `!`.
    Str(StrOp, bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrOp {
    Has,
    HasCs,
    HasAny,
    Contains,
    ContainsCs,
    StartsWith,
    StartsWithCs,
    EndsWith,
    EndsWithCs,
    MatchesRegex,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    Name(String),
    /// `*` as an argument (`count(*)`, `arg_max(t, *)`).
    Star,
    Call {
        name: Ident,
        args: Vec<Expr>,
    },
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Negate(Box<Expr>),
    /// `x.name` or `x['name']`.
    Member(Box<Expr>, String),
    /// `x[i]`.
    Index(Box<Expr>, Box<Expr>),
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    /// `x in (a, b)`, `x !in~ (T | project c)`.
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    /// A tabular expression where a scalar is expected: `in (T | ...)`, `toscalar(...)`.
    Tabular(Box<Tabular>),
    /// `$left.X` / `$right.X` outside a join's `on`.
    Side(bool, String),
}
