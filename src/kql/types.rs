//! Kusto's scalar types as the planner tracks them beside DataFusion's: a `dynamic` value and
//! a `string` are both `Utf8` in a plan (dynamic values are JSON text), but they compare,
//! convert and print differently, so every planned column carries its Kusto type. Also the
//! Log Analytics schemas of the four sign-in tables, which give each column its Kusto type
//! whatever the lake stores.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::{DataType, TimeUnit};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KType {
    String,
    Long,
    Int,
    Real,
    Bool,
    DateTime,
    Timespan,
    Dynamic,
    Guid,
}

impl KType {
    pub fn name(self) -> &'static str {
        match self {
            KType::String => "string",
            KType::Long => "long",
            KType::Int => "int",
            KType::Real => "real",
            KType::Bool => "bool",
            KType::DateTime => "datetime",
            KType::Timespan => "timespan",
            KType::Dynamic => "dynamic",
            KType::Guid => "guid",
        }
    }

    /// The type a Kusto type name (as in a schema, `typeof()` or a function parameter) means.
    pub fn from_name(name: &str) -> Option<KType> {
        Some(match name {
            "string" => KType::String,
            "long" | "int64" => KType::Long,
            "int" | "int32" => KType::Int,
            "real" | "double" => KType::Real,
            "bool" | "boolean" => KType::Bool,
            "datetime" | "date" => KType::DateTime,
            "timespan" | "time" => KType::Timespan,
            "dynamic" => KType::Dynamic,
            "guid" | "uuid" | "uniqueid" => KType::Guid,
            _ => return None,
        })
    }

    /// How a value of this type is held in a DataFusion plan. Datetimes are nanoseconds, a
    /// finer grain than Kusto's 100-ns ticks, so no tick is lost.
    pub fn arrow(self) -> DataType {
        match self {
            KType::String | KType::Dynamic | KType::Guid => DataType::Utf8,
            KType::Long => DataType::Int64,
            KType::Int => DataType::Int32,
            KType::Real => DataType::Float64,
            KType::Bool => DataType::Boolean,
            KType::DateTime => crate::schema::timestamp_type(),
            KType::Timespan => DataType::Duration(TimeUnit::Nanosecond),
        }
    }

    /// Kusto's `string` cannot be null: a missing string is `""`.
    pub fn is_text(self) -> bool {
        matches!(self, KType::String | KType::Guid)
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, KType::Long | KType::Int | KType::Real)
    }
}

/// A table of the Log Analytics workspace, with its Kusto schema.
#[derive(Debug)]
pub struct LaTable {
    pub name: String,
    pub columns: Vec<(String, KType)>,
}

/// The four sign-in tables, in the order Log Analytics documents their columns.
pub fn log_analytics_tables() -> &'static [LaTable] {
    static TABLES: LazyLock<Vec<LaTable>> = LazyLock::new(|| {
        include_str!("log_analytics_tables.txt")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let (name, columns) = line.split_once(' ').expect("a table's name, then columns");
                let columns = columns
                    .trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .split(", ")
                    .map(|column| {
                        let (name, ty) = column.split_once(':').expect("name:type");
                        let ty = KType::from_name(ty).expect("a known Kusto type");
                        (name.to_string(), ty)
                    })
                    .collect();
                LaTable {
                    name: name.to_string(),
                    columns,
                }
            })
            .collect()
    });
    &TABLES
}

pub fn log_analytics_table(name: &str) -> Option<&'static LaTable> {
    log_analytics_tables()
        .iter()
        .find(|table| table.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_tables_type_their_columns_as_log_analytics_does() {
        let names: Vec<_> = log_analytics_tables()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "SigninLogs",
                "AADNonInteractiveUserSignInLogs",
                "AADServicePrincipalSignInLogs",
                "AADManagedIdentitySignInLogs"
            ]
        );
        let column = |table: &str, column: &str| {
            log_analytics_table(table)
                .unwrap()
                .columns
                .iter()
                .find(|(name, _)| name == column)
                .map(|(_, ty)| *ty)
        };
        assert_eq!(
            column("SigninLogs", "LocationDetails"),
            Some(KType::Dynamic)
        );
        assert_eq!(
            column("AADNonInteractiveUserSignInLogs", "LocationDetails"),
            Some(KType::String)
        );
        assert_eq!(column("SigninLogs", "ResultType"), Some(KType::String));
        assert_eq!(column("SigninLogs", "TimeGenerated"), Some(KType::DateTime));
        assert_eq!(column("SigninLogs", "Type"), Some(KType::String));
    }
}
