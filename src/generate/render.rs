//! An [`Event`] in each output format: a diagnostic-settings record (the storage archive and
//! Event Hub shape, camelCase Graph object under `properties`), a Log Analytics row
//! (PascalCase), or a lake row.

use std::borrow::Cow;

use chrono::DateTime;
use serde_json::{Value, json};

use super::tenant::Event;
use crate::ingest::Row;
use crate::schema::Text;

pub const TENANT_ID: &str = "5f1c2a3b-0d4e-4f60-9a7b-8c9d0e1f2a3b";

/// RFC 3339 with the 7 fraction digits Entra writes.
pub fn format_time(nanos: i64, suffix: &str) -> String {
    let time = DateTime::from_timestamp_nanos(nanos);
    format!(
        "{}.{:07}{suffix}",
        time.format("%Y-%m-%dT%H:%M:%S"),
        nanos.rem_euclid(1_000_000_000) / 100
    )
}

fn category(event: &Event) -> &'static str {
    if event.interactive {
        "SignInLogs"
    } else {
        "NonInteractiveUserSignInLogs"
    }
}

fn status(event: &Event) -> Value {
    let mut status = json!({"errorCode": event.result_type.parse::<i64>().unwrap_or(0)});
    let (reason, details) = event.failure;
    if !reason.is_empty() {
        status["failureReason"] = json!(reason);
    }
    if !details.is_empty() {
        status["additionalDetails"] = json!(details);
    }
    status
}

fn device(event: &Event) -> Value {
    json!({"deviceId": "", "operatingSystem": if event.user_agent.contains("iPhone") { "Ios" } else { "Windows10" }, "browser": "Edge 131.0.0"})
}

fn location(event: &Event) -> Value {
    json!({"city": event.city, "state": "", "countryOrRegion": event.country, "geoCoordinates": {"latitude": 47.6, "longitude": -122.3}})
}

fn policies() -> Value {
    json!([{"id": "ccb90f89-cdaf-4ae6-9dd1-a9ee6ea86a90", "displayName": "Require MFA for admins", "enforcedGrantControls": ["Mfa"], "enforcedSessionControls": [], "result": "notApplied"}])
}

fn auth_details(event: &Event) -> Value {
    json!([{"authenticationStepDateTime": format_time(event.created, "+00:00"), "authenticationMethod": "Previously satisfied", "succeeded": event.result_type == "0", "authenticationStepResultDetail": "First factor requirement satisfied by claim in the token", "authenticationStepRequirement": "Primary authentication"}])
}

/// One diagnostic-settings JSON line (what `PT1H.json` blobs and Event Hub records hold).
pub fn diagnostic(event: &Event) -> String {
    let mut properties = json!({
        "id": event.id,
        "createdDateTime": format_time(event.created, "+00:00"),
        "userDisplayName": event.display_name,
        "userPrincipalName": event.upn,
        "userId": event.user_id,
        "appId": event.app.id,
        "appDisplayName": event.app.name,
        "ipAddress": event.ip,
        "status": status(event),
        "clientAppUsed": event.client_app,
        "userAgent": event.user_agent,
        "deviceDetail": device(event),
        "location": location(event),
        "correlationId": event.correlation_id,
        "conditionalAccessStatus": "notApplied",
        "appliedConditionalAccessPolicies": policies(),
        "isInteractive": event.interactive,
        "tokenIssuerType": "AzureAD",
        "authenticationProcessingDetails": [{"key": "Is CAE Token", "value": "False"}],
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "resourceDisplayName": "Microsoft Graph",
        "resourceId": "00000003-0000-0000-c000-000000000000",
        "homeTenantId": TENANT_ID,
        "authenticationDetails": auth_details(event),
        "userType": "Member",
        "sessionId": event.correlation_id,
        "uniqueTokenIdentifier": &event.id[..22],
    });
    if let Some(asn) = event.asn {
        properties["autonomousSystemNumber"] = json!(asn);
    }
    // Only `generate --patterns` sets these: a default tenant's records stay as they were.
    if event.auth_protocol != "none" {
        properties["authenticationProtocol"] = json!(event.auth_protocol);
    }
    let mut envelope = json!({
        "time": format_time(event.time_generated, "Z"),
        "resourceId": format!("/tenants/{TENANT_ID}/providers/Microsoft.aadiam"),
        "operationName": "Sign-in activity",
        "operationVersion": "1.0",
        "category": category(event),
        "tenantId": TENANT_ID,
        "resultType": event.result_type,
        "resultSignature": if event.result_type == "0" { "SUCCESS" } else { "FAILURE" },
        "durationMs": 0,
        "callerIpAddress": event.ip,
        "correlationId": event.correlation_id,
        "identity": event.display_name,
        "Level": 4,
        "location": event.country,
        "properties": properties,
    });
    if !event.description.is_empty() {
        envelope["resultDescription"] = json!(event.description);
    }
    envelope.to_string()
}

/// One Log Analytics row as the query API returns it. `SigninLogs` holds its sub-objects as
/// `dynamic`, `AADNonInteractiveUserSignInLogs` as JSON text (docs/tables.md).
pub fn log_analytics(event: &Event) -> String {
    let dynamic = |value: Value| {
        if event.interactive {
            value
        } else {
            Value::String(value.to_string())
        }
    };
    let mut row = json!({
        "TenantId": TENANT_ID,
        "SourceSystem": "Azure AD",
        "TimeGenerated": format_time(event.time_generated, "Z"),
        "OperationName": "Sign-in activity",
        "Category": category(event),
        "ResultType": event.result_type,
        "ResultDescription": event.description,
        "CorrelationId": event.correlation_id,
        "Identity": event.display_name,
        "Location": event.country,
        "AppDisplayName": event.app.name,
        "AppId": event.app.id,
        "AuthenticationDetails": dynamic(auth_details(event)),
        "AutonomousSystemNumber": event.asn.map(|a| a.to_string()).unwrap_or_default(),
        "ClientAppUsed": event.client_app,
        "ConditionalAccessPolicies": dynamic(policies()),
        "ConditionalAccessStatus": "notApplied",
        "CreatedDateTime": format_time(event.created, "Z"),
        "DeviceDetail": dynamic(device(event)),
        "IPAddress": event.ip,
        "Id": event.id,
        "IsInteractive": event.interactive,
        "LocationDetails": dynamic(location(event)),
        "ResourceDisplayName": "Microsoft Graph",
        "Status": dynamic(status(event)),
        "UserAgent": event.user_agent,
        "UserDisplayName": event.display_name,
        "UserId": event.user_id,
        "UserPrincipalName": event.upn,
        "UserType": "Member",
        "SessionId": event.correlation_id,
        "UniqueTokenIdentifier": &event.id[..22],
        "Type": if event.interactive { "SigninLogs" } else { "AADNonInteractiveUserSignInLogs" },
    });
    if event.auth_protocol != "none" {
        row["AuthenticationProtocol"] = json!(event.auth_protocol);
    }
    row.to_string()
}

/// A lake row with the columns the hunt and triage read; no sub-object detail, so that large
/// benchmark tenants stay cheap to write.
pub fn lake_row(event: &Event) -> Row<'_> {
    let mut row = Row {
        time_generated: Some(event.time_generated),
        created: Some(event.created),
        is_interactive: Some(event.interactive),
        ..Row::default()
    };
    let asn = event.asn.map(|a| a.to_string()).unwrap_or_default();
    let values: [(Text, Cow<'_, str>); 12] = [
        (Text::UserPrincipalName, Cow::Borrowed(&event.upn)),
        (Text::Id, Cow::Borrowed(&event.id)),
        (Text::ResultType, Cow::Borrowed(event.result_type)),
        (Text::IPAddress, Cow::Borrowed(&event.ip)),
        (Text::AutonomousSystemNumber, Cow::Owned(asn)),
        (Text::AppDisplayName, Cow::Borrowed(event.app.name)),
        (Text::AppId, Cow::Borrowed(event.app.id)),
        (Text::CorrelationId, Cow::Borrowed(&event.correlation_id)),
        (Text::UserId, Cow::Borrowed(&event.user_id)),
        (Text::UserDisplayName, Cow::Borrowed(&event.display_name)),
        (Text::Category, Cow::Borrowed(category(event))),
        (Text::UserAgent, Cow::Borrowed(event.user_agent)),
    ];
    for (column, value) in values {
        row.text[column as usize] = value;
    }
    row.text[Text::AdditionalFields as usize] = Cow::Borrowed("{}");
    row
}
