//! The real records in `tests/fixtures/samples/`. Every expected
//! value below was read by eye from the sample files, not produced by the code.

use retrohunt::schema::Table;

use crate::util::{assert_accounted, find, fixture, ingest, read_table, samples};

#[test]
fn every_sample_ingests_with_exact_values() {
    let lake = tempfile::tempdir().unwrap();
    let summary = ingest(lake.path(), &samples());

    // 5 + 14 diagnostic lines, 7 Event Hub records (one a service principal's, kept in its
    // own table), 1 Graph object.
    assert_eq!(summary.table(Table::Signin).written, 5 + 5 + 1, "{summary}");
    assert_eq!(
        summary.table(Table::NonInteractive).written,
        14 + 1,
        "{summary}"
    );
    assert_eq!(
        summary.table(Table::ServicePrincipal).written,
        1,
        "{summary}"
    );
    assert!(summary.skipped.is_empty(), "{summary}");
    let principal = read_table(lake.path(), Table::ServicePrincipal);
    let record_7 = find(&principal, "66666666-6666-6666-6666-666666666666");
    assert_eq!(record_7.time_generated, "2025-10-14T07:34:57.914489700Z");
    assert_eq!(record_7.upn, "");
    assert_eq!(record_7.ip, "77777777-7777-7777-7777-777777777777");
    assert!(
        record_7
            .additional
            .contains(r#""servicePrincipalId":"ParseMe""#),
        "{}",
        record_7.additional
    );
    assert_eq!(summary.duplicates(), 0);
    assert_eq!(
        summary.time_from_created, 1,
        "the Graph record has no envelope time"
    );
    assert_accounted(&summary);

    let signin = read_table(lake.path(), Table::Signin);
    assert_eq!(signin.len(), 11);

    let first = find(&signin, "94cb51df-08a4-4a74-b42b-1210a7a12a00");
    assert_eq!(first.time_generated, "2025-04-11T16:17:00.739774400Z");
    assert_eq!(
        first.created.as_deref(),
        Some("2025-04-11T16:15:30.543135900Z")
    );
    assert_eq!(first.upn, "harry.potter@hogwarts.com");
    assert_eq!(first.ip, "68.198.218.175");
    assert_eq!(first.asn, "6128");
    assert_eq!(first.result_type, "0");
    assert_eq!(first.app, "Azure Portal");
    assert_eq!(first.correlation_id, "6a88c69c-77cc-4f71-b1e2-155b84594b0b");
    assert_eq!(first.date, "2025-04-11");

    let ipv6 = find(&signin, "0068a98d-d965-4358-8ef0-b5ca0ca91a00");
    assert_eq!(ipv6.ip, "2600:4041:5b2d:7300:a5a9:1de5:d8b:4ae3");
    assert_eq!(ipv6.asn, "701");
    assert_eq!(ipv6.time_generated, "2025-04-11T16:41:32.922183600Z");

    let no_at = find(&signin, "16494208-6401-476f-b5eb-b48846382f00");
    assert_eq!(no_at.upn, "harry-potter-hogwarts.onmicrosoft.com");
    assert_eq!(no_at.user_key, "harry-potter-hogwarts.onmicrosoft.com");
    assert_eq!(no_at.asn, "16509");

    let failure = find(&signin, "77777777-7777-7777-7777-777777777777");
    assert_eq!(failure.result_type, "50158");
    assert_eq!(failure.time_generated, "2022-03-30T14:52:21.706218600Z");
    assert_eq!(failure.asn, "48744");

    let event_hub_3 = find(&signin, "user1");
    assert_eq!(event_hub_3.upn, "john.doe@example.org");
    assert_eq!(
        event_hub_3.created.as_deref(),
        Some("2023-08-16T15:28:23.304593300Z")
    );

    let graph = find(&signin, "00000000-0000-0000-0000-000000000000");
    assert_eq!(graph.upn, "ANONYMIZED_VALUE");
    assert_eq!(graph.user_key, "anonymized_value");
    assert_eq!(graph.time_generated, "2023-12-01T16:03:35.000000000Z");
    assert_eq!(
        graph.created.as_deref(),
        Some("2023-12-01T16:03:35.000000000Z")
    );
    assert_eq!(graph.result_type, "0", "from status.errorCode");
    assert_eq!(graph.asn, "", "Graph v1.0 has no ASN");
    assert_eq!(graph.ip, "192.0.2.1");

    let non_interactive = read_table(lake.path(), Table::NonInteractive);
    assert_eq!(non_interactive.len(), 15);
    let mixed_case = find(&non_interactive, "2c145df4-1280-43b6-979e-1d4602dc1800");
    assert_eq!(mixed_case.upn, "Harry.Potter@hogwarts.com");
    assert_eq!(mixed_case.user_key, "harry.potter@hogwarts.com");
    assert_eq!(mixed_case.asn, "6461");
    assert_eq!(mixed_case.ip, "64.124.12.18");
    assert_eq!(mixed_case.app, "WindowsDefenderATP");
    assert_eq!(mixed_case.time_generated, "2025-04-11T05:21:05.505370400Z");
    assert_eq!(
        mixed_case.created.as_deref(),
        Some("2025-04-11T05:18:41.825644800Z")
    );
    let intune = find(&non_interactive, "77777777-7777-7777-7777-777777777777");
    assert_eq!(intune.upn, "john.doe@company.com");
    assert_eq!(intune.asn, "62044");
    assert_eq!(intune.app, "Microsoft Intune Windows Agent");
}

#[test]
fn unmapped_fields_stay_reachable() {
    let lake = tempfile::tempdir().unwrap();
    ingest(
        lake.path(),
        &[fixture("samples/datadog-diag-signinlogs.jsonl")],
    );
    let rows = read_table(lake.path(), Table::Signin);
    let first = find(&rows, "94cb51df-08a4-4a74-b42b-1210a7a12a00");
    let extra: serde_json::Value = serde_json::from_str(&first.additional).unwrap();
    assert_eq!(
        extra["resourceId"],
        "/tenants/4d3bac44-0230-4732-9e70-cc00736f0a97/providers/Microsoft.aadiam"
    );
    assert_eq!(extra["identity"], "Harry Potter");
    assert_eq!(extra["properties"]["riskDetail"], "none");
    assert_eq!(extra["properties"]["tokenIssuerType"], "AzureAD");
    assert_eq!(extra["properties"]["processingTimeInMilliseconds"], 58);
}
