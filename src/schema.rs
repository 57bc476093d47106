//! The lake's canonical schema (docs/tables.md): the Log Analytics column names, so SQL written
//! against Sentinel reads the same here, plus the stored `UserKey` that the file order is
//! declared on.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use ahash::RandomState;
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, TimestampNanosecondType};

/// The four sign-in tables of Entra ID. The hunt joins the two of users ([`Table::USERS`]);
/// the lake keeps the service principals' and managed identities' too, in the same file
/// schema, so the queries users write against them (KQL, SQL) read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Interactive sign-ins (`SigninLogs`).
    Signin,
    /// Non-interactive sign-ins (`AADNonInteractiveUserSignInLogs`).
    NonInteractive,
    /// Service principals' sign-ins (`AADServicePrincipalSignInLogs`).
    ServicePrincipal,
    /// Managed identities' sign-ins (`AADManagedIdentitySignInLogs`).
    ManagedIdentity,
}

impl Table {
    pub const COUNT: usize = 4;

    pub const ALL: [Table; Table::COUNT] = [
        Table::Signin,
        Table::NonInteractive,
        Table::ServicePrincipal,
        Table::ManagedIdentity,
    ];

    /// The users' sign-ins: the tables the hunt, its triage and its report read.
    pub const USERS: [Table; 2] = [Table::Signin, Table::NonInteractive];

    /// The Log Analytics table name, which is also the lake folder name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Signin => "SigninLogs",
            Table::NonInteractive => "AADNonInteractiveUserSignInLogs",
            Table::ServicePrincipal => "AADServicePrincipalSignInLogs",
            Table::ManagedIdentity => "AADManagedIdentitySignInLogs",
        }
    }

    /// Accepts the table names and the diagnostic-settings category names of docs/ingest.md.
    pub fn from_name(name: &str) -> Option<Table> {
        match name {
            "SigninLogs" | "SignInLogs" => Some(Table::Signin),
            "AADNonInteractiveUserSignInLogs" | "NonInteractiveUserSignInLogs" => {
                Some(Table::NonInteractive)
            }
            "AADServicePrincipalSignInLogs" | "ServicePrincipalSignInLogs" => {
                Some(Table::ServicePrincipal)
            }
            "AADManagedIdentitySignInLogs" | "ManagedIdentitySignInLogs" => {
                Some(Table::ManagedIdentity)
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Table {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Table::from_name(s).ok_or_else(|| {
            let names: Vec<_> = Table::ALL.iter().map(|t| t.name()).collect();
            format!("unknown table {s:?}: expected {}", names.join(", "))
        })
    }
}

pub const TIME_GENERATED: &str = "TimeGenerated";
pub const CREATED_DATE_TIME: &str = "CreatedDateTime";
pub const USER_KEY: &str = "UserKey";
pub const IS_INTERACTIVE: &str = "IsInteractive";

/// The string columns, in file order. Strings are never null (docs/hunt.md rule 2): missing
/// is `""`.
/// The last seven hold JSON text (objects or arrays kept byte-exact from the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Text {
    UserPrincipalName,
    Id,
    ResultType,
    ResultDescription,
    IPAddress,
    AutonomousSystemNumber,
    AppDisplayName,
    AppId,
    CorrelationId,
    UserId,
    UserDisplayName,
    UserType,
    Category,
    ClientAppUsed,
    UserAgent,
    ResourceDisplayName,
    SessionId,
    UniqueTokenIdentifier,
    ConditionalAccessStatus,
    LocationDetails,
    DeviceDetail,
    Status,
    MfaDetail,
    ConditionalAccessPolicies,
    AuthenticationDetails,
    /// Every source field that has no column of its own, as one JSON object, so ingest is
    /// lossless (docs/tables.md). Fields of a diagnostic record's `properties` nest under
    /// `"properties"`.
    AdditionalFields,
}

impl Text {
    pub const COUNT: usize = Text::AdditionalFields as usize + 1;

    pub const ALL: [Text; Text::COUNT] = [
        Text::UserPrincipalName,
        Text::Id,
        Text::ResultType,
        Text::ResultDescription,
        Text::IPAddress,
        Text::AutonomousSystemNumber,
        Text::AppDisplayName,
        Text::AppId,
        Text::CorrelationId,
        Text::UserId,
        Text::UserDisplayName,
        Text::UserType,
        Text::Category,
        Text::ClientAppUsed,
        Text::UserAgent,
        Text::ResourceDisplayName,
        Text::SessionId,
        Text::UniqueTokenIdentifier,
        Text::ConditionalAccessStatus,
        Text::LocationDetails,
        Text::DeviceDetail,
        Text::Status,
        Text::MfaDetail,
        Text::ConditionalAccessPolicies,
        Text::AuthenticationDetails,
        Text::AdditionalFields,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Text::UserPrincipalName => "UserPrincipalName",
            Text::Id => "Id",
            Text::ResultType => "ResultType",
            Text::ResultDescription => "ResultDescription",
            Text::IPAddress => "IPAddress",
            Text::AutonomousSystemNumber => "AutonomousSystemNumber",
            Text::AppDisplayName => "AppDisplayName",
            Text::AppId => "AppId",
            Text::CorrelationId => "CorrelationId",
            Text::UserId => "UserId",
            Text::UserDisplayName => "UserDisplayName",
            Text::UserType => "UserType",
            Text::Category => "Category",
            Text::ClientAppUsed => "ClientAppUsed",
            Text::UserAgent => "UserAgent",
            Text::ResourceDisplayName => "ResourceDisplayName",
            Text::SessionId => "SessionId",
            Text::UniqueTokenIdentifier => "UniqueTokenIdentifier",
            Text::ConditionalAccessStatus => "ConditionalAccessStatus",
            Text::LocationDetails => "LocationDetails",
            Text::DeviceDetail => "DeviceDetail",
            Text::Status => "Status",
            Text::MfaDetail => "MfaDetail",
            Text::ConditionalAccessPolicies => "ConditionalAccessPolicies",
            Text::AuthenticationDetails => "AuthenticationDetails",
            Text::AdditionalFields => "AdditionalFields",
        }
    }

    /// Whether the column holds JSON text (an object or array may be stored as-is).
    pub fn is_json(self) -> bool {
        self as usize >= Text::LocationDetails as usize
    }

    /// Looked up for every field of every record ingest reads: a table, not a search.
    pub fn from_name(name: &str) -> Option<Text> {
        static BY_NAME: LazyLock<HashMap<&str, Text, RandomState>> =
            LazyLock::new(|| Text::ALL.into_iter().map(|t| (t.name(), t)).collect());
        BY_NAME.get(name).copied()
    }
}

/// Nanosecond UTC timestamps: KQL ticks are 100 ns and docs/hunt.md rule 10 forbids losing them.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// Column positions in [`lake_schema`].
pub mod col {
    pub const TIME_GENERATED: usize = 0;
    pub const CREATED_DATE_TIME: usize = 1;
    pub const USER_KEY: usize = 2;
    /// The first [`super::Text`] column; `Text::X` is at `TEXT + X as usize`.
    pub const TEXT: usize = 3;
    pub const IS_INTERACTIVE: usize = TEXT + super::Text::COUNT;
}

/// The `TimeGenerated` of a batch of the lake's rows (nanoseconds since the epoch, UTC).
pub fn time_generated(batch: &RecordBatch) -> &[i64] {
    batch
        .column(col::TIME_GENERATED)
        .as_primitive::<TimestampNanosecondType>()
        .values()
}

static LAKE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![
        Field::new(TIME_GENERATED, timestamp_type(), false),
        Field::new(CREATED_DATE_TIME, timestamp_type(), true),
        Field::new(USER_KEY, DataType::Utf8, false),
    ];
    fields.extend(
        Text::ALL
            .iter()
            .map(|t| Field::new(t.name(), DataType::Utf8, false)),
    );
    fields.push(Field::new(IS_INTERACTIVE, DataType::Boolean, true));
    Arc::new(Schema::new(fields))
});

/// The schema of every Parquet file the project writes (the `date` partition is in the path).
pub fn lake_schema() -> SchemaRef {
    Arc::clone(&LAKE_SCHEMA)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_column_is_found_by_its_exact_name_alone() {
        for text in Text::ALL {
            assert_eq!(Text::from_name(text.name()), Some(text));
        }
        assert_eq!(Text::from_name("IPAddress"), Some(Text::IPAddress));
        for other in ["ipaddress", "IPAddress ", "", "UserKey", "TimeGenerated"] {
            assert_eq!(Text::from_name(other), None, "{other:?}");
        }
    }

    #[test]
    fn column_positions_match_the_schema() {
        let schema = lake_schema();
        assert_eq!(schema.field(col::TIME_GENERATED).name(), "TimeGenerated");
        assert_eq!(schema.field(col::USER_KEY).name(), "UserKey");
        assert_eq!(
            schema
                .field(col::TEXT + Text::AutonomousSystemNumber as usize)
                .name(),
            "AutonomousSystemNumber"
        );
        assert_eq!(schema.field(col::IS_INTERACTIVE).name(), "IsInteractive");
        assert_eq!(schema.fields().len(), col::IS_INTERACTIVE + 1);
    }
}
