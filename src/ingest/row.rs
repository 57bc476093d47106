//! One sign-in record in canonical form, and the Arrow builder that collects them into lake
//! batches. Every reader (JSON, CSV, Parquet) produces [`Row`]s, so the lake sees one shape.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, StringArray, StringBuilder, TimestampNanosecondBuilder,
};
use arrow::record_batch::RecordBatch;

use super::json::JsonObject;
use crate::schema::{Table, Text, USER_KEY, lake_schema};

/// A record as the readers map it, before it is routed to a table.
#[derive(Debug, Default)]
pub struct Row<'a> {
    pub time_generated: Option<i64>,
    pub created: Option<i64>,
    pub text: [Cow<'a, str>; Text::COUNT],
    pub is_interactive: Option<bool>,
    /// The Log Analytics `Type` column, when the source has one.
    pub table_type: Option<Cow<'a, str>>,
    /// Graph beta `signInEventTypes`, when the source has them.
    pub event_types: Vec<Cow<'a, str>>,
    /// A `UserKey` the source carries (a lake's own file re-ingested, say): the lake derives
    /// its own, so this one is kept in `AdditionalFields` only where it differs.
    pub user_key: Option<Cow<'a, str>>,
}

/// Where a record goes (docs/ingest.md: `Type`, else category, else Graph event types or
/// `isInteractive`, else the user's `--table`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Table(Table),
    /// A category or type of no sign-in table (an audit record, say): skipped and counted.
    Skip(String),
    /// The record does not say, and the user named no table.
    Unknown,
}

impl<'a> Row<'a> {
    pub fn text(&self, column: Text) -> &str {
        &self.text[column as usize]
    }

    /// Sets `AdditionalFields` from `extra`, the fields no column took (a JSON object), and
    /// what the source carried: see [`additional_fields`].
    pub fn set_additional_fields(&mut self, extra: Cow<'a, str>) {
        let column = Text::AdditionalFields as usize;
        let carried = std::mem::take(&mut self.text[column]);
        let carried_key = self.user_key.take();
        let own_key = carried_key
            .as_deref()
            .filter(|key| *key != user_key(self.text(Text::UserPrincipalName)));
        self.text[column] = additional_fields(&carried, own_key, extra);
    }
}

/// The lake's `UserKey` for a user principal name: the name in lower case, borrowed when it
/// already is (most are), so no row pays an allocation for it.
pub fn user_key(user_principal_name: &str) -> Cow<'_, str> {
    let lower = user_principal_name.is_ascii()
        && !user_principal_name.bytes().any(|b| b.is_ascii_uppercase());
    if lower {
        Cow::Borrowed(user_principal_name)
    } else {
        Cow::Owned(user_principal_name.to_lowercase())
    }
}

/// A record's `AdditionalFields`: the members of the `AdditionalFields` the source `carried`,
/// if any (an object's members join; anything else is kept under its name), then a `UserKey`
/// the source carried that differs from the lake's own (`own_key`), then `extra` (the fields
/// no column took, a JSON object). Nothing of either is lost, and a lake file re-ingested
/// keeps its text.
pub fn additional_fields<'a>(
    carried: &str,
    own_key: Option<&str>,
    extra: Cow<'a, str>,
) -> Cow<'a, str> {
    let mut extra = extra;
    if let Some(key) = own_key {
        let mut own = JsonObject::default();
        own.push_string(USER_KEY, key);
        extra = Cow::Owned(joined(&own.finish(), &extra));
    }
    let carried = carried.trim();
    // Most sources carry none: their fields are taken as they are, without a copy.
    if carried.is_empty() {
        extra
    } else if carried.starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(carried).is_ok()
    {
        Cow::Owned(joined(carried, &extra))
    } else {
        let mut own = JsonObject::default();
        own.push_string(Text::AdditionalFields.name(), carried);
        Cow::Owned(joined(&own.finish(), &extra))
    }
}

/// The members of two JSON object texts in one object, `first`'s first.
fn joined(first: &str, second: &str) -> String {
    let inner = |object: &str| {
        let object = object.trim();
        object[1..object.len() - 1].trim().to_string()
    };
    match (inner(first), inner(second)) {
        (a, b) if b.is_empty() => format!("{{{a}}}"),
        (a, b) if a.is_empty() => format!("{{{b}}}"),
        (a, b) => format!("{{{a},{b}}}"),
    }
}

impl Row<'_> {
    pub fn route(&self, fallback: Option<Table>) -> Route {
        let event_type = self.event_types.first().map(|kind| kind.as_ref());
        let table_type = self.table_type.as_deref();
        let category = self.text(Text::Category);
        Route::of(
            table_type,
            category,
            event_type,
            self.is_interactive,
            fallback,
        )
    }
}

impl Route {
    /// The table a record names by its `Type`, else its category, else its first Graph event
    /// type, else `isInteractive`; else `fallback`, the user's `--table`.
    pub fn of(
        table_type: Option<&str>,
        category: &str,
        event_type: Option<&str>,
        is_interactive: Option<bool>,
        fallback: Option<Table>,
    ) -> Route {
        if let Some(kind) = table_type.filter(|t| !t.is_empty()) {
            return Table::from_name(kind)
                .map_or_else(|| Route::Skip(kind.to_string()), Route::Table);
        }
        if !category.is_empty() {
            return Table::from_name(category)
                .map_or_else(|| Route::Skip(category.to_string()), Route::Table);
        }
        if let Some(kind) = event_type {
            return match kind {
                "interactiveUser" => Route::Table(Table::Signin),
                "nonInteractiveUser" => Route::Table(Table::NonInteractive),
                "servicePrincipal" => Route::Table(Table::ServicePrincipal),
                "managedIdentity" => Route::Table(Table::ManagedIdentity),
                other => Route::Skip(other.to_string()),
            };
        }
        match (is_interactive, fallback) {
            (Some(true), _) => Route::Table(Table::Signin),
            (Some(false), _) => Route::Table(Table::NonInteractive),
            (None, Some(table)) => Route::Table(table),
            (None, None) => Route::Unknown,
        }
    }
}

/// Collects routed rows of one table into a lake-schema [`RecordBatch`].
#[derive(Debug)]
pub struct RowsBuilder {
    time_generated: TimestampNanosecondBuilder,
    created: TimestampNanosecondBuilder,
    user_key: StringBuilder,
    text: Vec<StringBuilder>,
    is_interactive: BooleanBuilder,
    rows: usize,
}

impl Default for RowsBuilder {
    fn default() -> Self {
        Self {
            time_generated: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            created: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            user_key: StringBuilder::new(),
            text: (0..Text::COUNT).map(|_| StringBuilder::new()).collect(),
            is_interactive: BooleanBuilder::new(),
            rows: 0,
        }
    }
}

impl RowsBuilder {
    /// `time_generated` is the resolved time (the caller has applied the CreatedDateTime fallback).
    pub fn append(&mut self, row: &Row<'_>, time_generated: i64) {
        self.time_generated.append_value(time_generated);
        self.created.append_option(row.created);
        self.user_key
            .append_value(user_key(row.text(Text::UserPrincipalName)));
        for (builder, value) in self.text.iter_mut().zip(&row.text) {
            builder.append_value(value);
        }
        self.is_interactive.append_option(row.is_interactive);
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn finish(&mut self) -> RecordBatch {
        let rows = self.rows;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.time_generated.finish()),
            Arc::new(self.created.finish()),
            Arc::new(finish_text(&mut self.user_key, rows)),
        ];
        columns.extend(
            self.text
                .iter_mut()
                .map(|builder| Arc::new(finish_text(builder, rows)) as ArrayRef),
        );
        columns.push(Arc::new(self.is_interactive.finish()));
        self.rows = 0;
        RecordBatch::try_new(lake_schema(), columns).expect("builder columns follow lake_schema")
    }
}

/// Finishes `builder`, which then has room for another batch like this one.
fn finish_text(builder: &mut StringBuilder, rows: usize) -> StringArray {
    let array = builder.finish();
    *builder = StringBuilder::with_capacity(rows, array.value_data().len());
    array
}
