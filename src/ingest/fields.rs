//! Which source field feeds which lake column, for every format of docs/ingest.md. One table per
//! naming convention: Log Analytics (PascalCase), Graph signIn objects (camelCase, also the
//! `properties` of diagnostic records), the diagnostic envelope, and the admin-center CSV headers.

use crate::schema::Text;

/// Where a source field goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Text(Text),
    TimeGenerated,
    CreatedDateTime,
    IsInteractive,
    /// The Log Analytics `Type` column: it names the table, so it routes and is not stored.
    TableType,
    /// The diagnostic record's nested Graph object.
    Properties,
    /// The lake's derived `UserKey`, in a source that is a lake's file (see `Row::user_key`).
    UserKey,
}

/// Field names of a Log Analytics row (query results, exports, foreign Parquet).
pub fn log_analytics(key: &str) -> Option<Target> {
    Some(match key {
        "TimeGenerated" => Target::TimeGenerated,
        "CreatedDateTime" => Target::CreatedDateTime,
        "IsInteractive" => Target::IsInteractive,
        "Type" => Target::TableType,
        crate::schema::USER_KEY => Target::UserKey,
        other => Target::Text(Text::from_name(other)?),
    })
}

/// Field names of a Graph signIn object (`properties` of a diagnostic record, Graph pages).
pub fn graph(key: &str) -> Option<Target> {
    use Text::*;
    Some(Target::Text(match key {
        "createdDateTime" => return Some(Target::CreatedDateTime),
        "isInteractive" => return Some(Target::IsInteractive),
        "id" => Id,
        "userPrincipalName" => UserPrincipalName,
        "ipAddress" => IPAddress,
        "autonomousSystemNumber" => AutonomousSystemNumber,
        "appDisplayName" => AppDisplayName,
        "appId" => AppId,
        "correlationId" => CorrelationId,
        "userId" => UserId,
        "userDisplayName" => UserDisplayName,
        "userType" => UserType,
        "clientAppUsed" => ClientAppUsed,
        "userAgent" => UserAgent,
        "resourceDisplayName" => ResourceDisplayName,
        "sessionId" => SessionId,
        "uniqueTokenIdentifier" => UniqueTokenIdentifier,
        "conditionalAccessStatus" => ConditionalAccessStatus,
        "location" => LocationDetails,
        "deviceDetail" => DeviceDetail,
        "status" => Status,
        "mfaDetail" => MfaDetail,
        "appliedConditionalAccessPolicies" => ConditionalAccessPolicies,
        "authenticationDetails" => AuthenticationDetails,
        _ => return None,
    }))
}

/// Top-level fields of a diagnostic-settings / Event Hub record.
pub fn envelope(key: &str) -> Option<Target> {
    Some(match key {
        "time" => Target::TimeGenerated,
        "properties" => Target::Properties,
        "category" => Target::Text(Text::Category),
        "resultType" => Target::Text(Text::ResultType),
        "resultDescription" => Target::Text(Text::ResultDescription),
        "correlationId" => Target::Text(Text::CorrelationId),
        _ => return None,
    })
}

/// Columns of the Entra admin-center download (headers trimmed, inner spaces collapsed,
/// case-insensitive).
pub fn admin_center_header(header: &str) -> Option<Target> {
    let normal = normalize_header(header);
    use Text::*;
    Some(Target::Text(match normal.to_ascii_lowercase().as_str() {
        "date (utc)" | "date" => return Some(Target::CreatedDateTime),
        "request id" => Id,
        "correlation id" => CorrelationId,
        "user" | "user display name" => UserDisplayName,
        "username" | "user principal name" => UserPrincipalName,
        "user id" => UserId,
        "user type" => UserType,
        "application" => AppDisplayName,
        "application id" => AppId,
        "resource" => ResourceDisplayName,
        "ip address" => IPAddress,
        "autonomous system number" => AutonomousSystemNumber,
        "sign-in error code" => ResultType,
        "failure reason" => ResultDescription,
        "client app" => ClientAppUsed,
        "user agent" => UserAgent,
        "session id" => SessionId,
        "unique token identifier" => UniqueTokenIdentifier,
        "conditional access" => ConditionalAccessStatus,
        _ => return None,
    }))
}

/// `"TimeGenerated [UTC]"` → `"TimeGenerated"`, `"Autonomous system  number "` →
/// `"Autonomous system number"`.
pub fn normalize_header(header: &str) -> String {
    let header = header.trim().trim_start_matches('\u{feff}');
    let header = header.strip_suffix("[UTC]").unwrap_or(header);
    header.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_both_csv_exports_map() {
        assert_eq!(
            log_analytics(&normalize_header("TimeGenerated [UTC]")),
            Some(Target::TimeGenerated)
        );
        assert_eq!(
            admin_center_header("Autonomous system  number "),
            Some(Target::Text(Text::AutonomousSystemNumber))
        );
        assert_eq!(
            admin_center_header("Date (UTC)"),
            Some(Target::CreatedDateTime)
        );
        assert_eq!(admin_center_header("Status"), None);
        assert_eq!(log_analytics("Type"), Some(Target::TableType));
    }
}
