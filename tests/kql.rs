//! `retrohunt kql`: Kusto's semantics on a hand-written tenant whose answers are worked out
//! by hand from Kusto's documentation (tests/fixtures/kql-signins.jsonl, described below); the
//! seed hunt in KQL against `retrohunt hunt`; errors that point at the query; and every
//! query's output schema against Microsoft's own binder, Kusto.Language.
//!
//! The tenant, all on 2026-03-03 (UTC):
//!
//! | Id | table | time | user | ResultType | IP | ASN | app |
//! |---|---|---|---|---|---|---|---|
//! | s1 | SigninLogs | 10:00:00.9 | alice@contoso.com | 0 | 1.1.1.1 | 100 | Microsoft Teams |
//! | s2 | SigninLogs | 10:05:00 | ALICE@contoso.com | 50126 | 2.2.2.2 | 200 | Teamsy |
//! | s3 | SigninLogs | 11:00:00 | Änne@contoso.com | 0 | 3.3.3.3 | 300 | Azure Portal |
//! | s4 | SigninLogs | 12:00:00 | änne@contoso.com | 00 | 3.3.3.3 | 300 | Azure Portal |
//! | s5 | SigninLogs | 13:00:00 | bob@fabrikam.com | 0 | 4.4.4.4 | (empty) | Office 365 Exchange Online |
//! | n1 | non-interactive | 10:00:10.1 | alice@contoso.com | 0 | 9.9.9.9 | 900 | OneDrive SyncEngine |
//! | n2 | non-interactive | 10:10:00.9 | Alice@Contoso.com | 0 | 9.9.9.9 | 900 | OneDrive SyncEngine |
//! | n3 | non-interactive | 10:10:01 | alice@contoso.com | 0 | 9.9.9.9 | 900 | OneDrive SyncEngine |
//! | n4 | non-interactive | 11:05:00 | änne@contoso.com | 0 | 3.3.3.3 | 301 | Microsoft Authentication Broker |
//!
//! s1 and s2 carry `AuthenticationRequirement` (a column the lake keeps in AdditionalFields),
//! s1–s4 a `LocationDetails` object (s4 without a city), n1 one as text. s1 has two
//! conditional-access policies (MFA: failure, Block legacy: success), s2 one (MFA:
//! notApplied), s5 an empty list, the others none.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{fixture, retrohunt, succeeded};

/// The hand-written tenant, ingested into `dir/lake`.
fn tenant(dir: &Path) -> PathBuf {
    let lake = dir.join("lake");
    succeeded(
        retrohunt()
            .args(["ingest", "--quiet", "--lake"])
            .arg(&lake)
            .arg(fixture("kql-signins.jsonl")),
    );
    lake
}

/// A generated tenant of 80 users over 2026-03-01 and 02, as a lake in `dir/lake`.
fn generated(dir: &Path) -> PathBuf {
    let lake = dir.join("lake");
    succeeded(
        retrohunt()
            .args([
                "generate", "--format", "lake", "--days", "2", "--users", "80",
            ])
            .args(["--seed", "5", "--out"])
            .arg(&lake),
    );
    lake
}

fn kql(lake: &Path, query: &str, args: &[&str]) -> Output {
    retrohunt()
        .args(["kql", "--format", "csv", "--all", "--lake"])
        .arg(lake)
        .args(args)
        .arg(query)
        .output()
        .unwrap()
}

/// The CSV lines of a query that must succeed.
fn rows(lake: &Path, query: &str) -> Vec<String> {
    let output = succeeded(
        retrohunt()
            .args(["kql", "--format", "csv", "--all", "--lake"])
            .arg(lake)
            .arg(query),
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Queries over the tenant with their CSV output, worked out by hand from Kusto's documentation.
const HAND_WORKED: &[(&str, &[&str])] = &[
    // `has` matches whole terms, `contains` any substring; both fold ASCII case.
    (
        "SigninLogs | where AppDisplayName has 'teams' | project Id",
        &["Id", "s1"],
    ),
    (
        "SigninLogs | where AppDisplayName contains 'TEAMS' | project Id | sort by Id asc",
        &["Id", "s1", "s2"],
    ),
    // `=~` folds ASCII only: Ä stays Ä; tolower() folds it.
    (
        "SigninLogs | where UserPrincipalName =~ 'änne@CONTOSO.com' | project Id",
        &["Id", "s4"],
    ),
    (
        "SigninLogs | where tolower(UserPrincipalName) == 'änne@contoso.com' | project Id | sort by Id asc",
        &["Id", "s3", "s4"],
    ),
    // A string column against a number compares text: "00" is not 0.
    (
        "SigninLogs | where ResultType == 0 | count",
        &["Count", "3"],
    ),
    // `between` is inclusive at both ends, to the tick.
    (
        "AADNonInteractiveUserSignInLogs | where TimeGenerated between (datetime(2026-03-03 10:00:10.1) .. datetime(2026-03-03 10:10:00.9)) | project Id | sort by Id asc",
        &["Id", "n1", "n2"],
    ),
    // Default join is innerunique: one left row per key. alice: 1 x 3, änne: 1 x 1.
    (
        "SigninLogs | project U = tolower(UserPrincipalName), Id | join (AADNonInteractiveUserSignInLogs | project U = tolower(UserPrincipalName), NId = Id) on U | count",
        &["Count", "4"],
    ),
    // kind=inner keeps every pair: alice 2 x 3, änne 2 x 1.
    (
        "SigninLogs | project U = tolower(UserPrincipalName), Id | join kind=inner (AADNonInteractiveUserSignInLogs | project U = tolower(UserPrincipalName), NId = Id) on U | count",
        &["Count", "8"],
    ),
    // The right side's clashing columns get the suffix 1; the key is kept twice.
    (
        "SigninLogs | where Id == 's3' | project U = tolower(UserPrincipalName), IPAddress | join kind=inner (AADNonInteractiveUserSignInLogs | project U = tolower(UserPrincipalName), IPAddress) on U",
        &[
            "U,IPAddress,U1,IPAddress1",
            "änne@contoso.com,3.3.3.3,änne@contoso.com,3.3.3.3",
        ],
    ),
    // leftouter fills the right side's strings with "", never null.
    (
        "SigninLogs | project Id, U = tolower(UserPrincipalName) | join kind=leftouter (AADNonInteractiveUserSignInLogs | summarize n = count() by U = tolower(UserPrincipalName)) on U | where isempty(U1) and isnull(n) | project Id",
        &["Id", "s5"],
    ),
    (
        "SigninLogs | project U = tolower(UserPrincipalName) | join kind=leftanti (AADNonInteractiveUserSignInLogs | project U = tolower(UserPrincipalName)) on U",
        &["U", "bob@fabrikam.com"],
    ),
    (
        "SigninLogs | project U = tolower(UserPrincipalName) | distinct U | join kind=rightanti (AADNonInteractiveUserSignInLogs | project U = tolower(UserPrincipalName), Id) on U",
        &["U,Id"],
    ),
    // Auto names, the keys first.
    (
        "SigninLogs | summarize count(), dcount(IPAddress), countif(ResultType == '0') by User = tolower(UserPrincipalName) | sort by User asc",
        &[
            "User,count_,dcount_IPAddress,countif_",
            "alice@contoso.com,2,2,1",
            "bob@fabrikam.com,1,1,1",
            "änne@contoso.com,2,1,1",
        ],
    ),
    // Dynamic member access; a missing member is empty as a string.
    (
        "SigninLogs | extend City = tostring(LocationDetails.city) | where isempty(City) | project Id | sort by Id asc",
        &["Id", "s4", "s5"],
    ),
    (
        "SigninLogs | where Status.errorCode == 50126 | project Id, Reason = tostring(Status['failureReason'])",
        &["Id,Reason", "s2,Invalid username or password"],
    ),
    (
        "AADNonInteractiveUserSignInLogs | where Id == 'n1' | project City = tostring(todynamic(LocationDetails).city)",
        &["City", "Lagos"],
    ),
    // A Log Analytics column the lake keeps in AdditionalFields.
    (
        "SigninLogs | where AuthenticationRequirement == 'singleFactorAuthentication' | project Id",
        &["Id", "s1"],
    ),
    // datetime_diff counts second boundaries: 10:00:00.9 to 10:00:10.1 is 10, not 9.
    (
        "SigninLogs | where Id == 's1' | extend d = datetime_diff('second', datetime(2026-03-03 10:00:10.1), TimeGenerated) | project d",
        &["d", "10"],
    ),
    // split and its indexes; an index past the end is empty.
    (
        "SigninLogs | where Id == 's5' | project A = tostring(split(UserPrincipalName, '@')[0]), B = tostring(split(UserPrincipalName, '@')[1]), C = tostring(split(UserPrincipalName, '@')[2])",
        &["A,B,C", "bob,fabrikam.com,"],
    ),
    (
        "SigninLogs | where Id == 's2' | extend p = split(UserPrincipalName, '@') | mv-expand p to typeof(string) | project p",
        &["p", "ALICE", "contoso.com"],
    ),
    (
        "AADNonInteractiveUserSignInLogs | summarize IPs = make_set(IPAddress), Apps = make_list(AppDisplayName) by U = tolower(UserPrincipalName) | project U, n = array_length(IPs), m = array_length(Apps) | sort by U asc",
        &["U,n,m", "alice@contoso.com,1,3", "änne@contoso.com,1,1"],
    ),
    (
        "SigninLogs | where UserAgent has_any ('BAV2ROPC', 'curl') | project Id",
        &["Id", "s5"],
    ),
    (
        "SigninLogs | where AppDisplayName in~ ('azure PORTAL') and Id !in ('s4') | project Id",
        &["Id", "s3"],
    ),
    // sort defaults to descending.
    (
        "SigninLogs | project Id, TimeGenerated | sort by TimeGenerated | take 1 | project Id",
        &["Id", "s5"],
    ),
    (
        "SigninLogs | top 2 by TimeGenerated asc | project Id",
        &["Id", "s1", "s2"],
    ),
    // union by name; Type says the table.
    (
        "union SigninLogs, AADNonInteractiveUserSignInLogs | summarize n = count() by Type | sort by Type asc",
        &[
            "Type,n",
            "AADNonInteractiveUserSignInLogs,4",
            "SigninLogs,5",
        ],
    ),
    // The idiom of Sentinel's queries: one body for both tables through table().
    (
        "let f = (t:string) { table(t) | where ResultType == '0' | project Id }; union isfuzzy=true f('SigninLogs'), f('AADNonInteractiveUserSignInLogs') | count",
        &["Count", "7"],
    ),
    // Dates and times: s1 is Tuesday 2026-03-03 10:00:00.9.
    (
        "SigninLogs | where Id == 's1' | project f = format_datetime(TimeGenerated, 'yyyy-MM-dd HH:mm:ss.fff'), d = toint(dayofweek(TimeGenerated) / 1d), h = hourofday(TimeGenerated), p = datetime_part('minute', TimeGenerated)",
        &["f,d,h,p", "2026-03-03 10:00:00.900,2,10,0"],
    ),
    // bin() by a computed timespan (10m / 2.0 is 5m); range() of datetimes, expanded.
    (
        "let w = 10m; SigninLogs | where Id == 's1' | project b = format_datetime(bin(TimeGenerated, w / 2.0), 'HH:mm:ss')",
        &["b", "10:00:00"],
    ),
    (
        "SigninLogs | where Id == 's1' | extend k = range(bin(TimeGenerated, 1h), bin(TimeGenerated, 1h) + 2h, 1h) | mv-expand k to typeof(datetime) | project h = hourofday(k)",
        &["h", "10", "11", "12"],
    ),
    // Sets: four distinct IPs; a size limit keeps that many (here the least, in value order).
    (
        "SigninLogs | summarize s = make_set(IPAddress) | project a = set_has_element(s, '4.4.4.4'), b = array_index_of(s, '9.9.9.9'), c = array_length(set_difference(s, dynamic(['1.1.1.1'])))",
        &["a,b,c", "true,-1,3"],
    ),
    (
        "SigninLogs | summarize s = make_set(IPAddress, 2) | project n = array_length(s), lowest = tostring(s[0]), next = tostring(s[1])",
        &["n,lowest,next", "2,1.1.1.1,2.2.2.2"],
    ),
    (
        "SigninLogs | where Id == 's5' | project p = tostring(split(UserPrincipalName, '@', 1)[0]), q = array_length(split(UserPrincipalName, '@', 5))",
        &["p,q", "fabrikam.com,0"],
    ),
    // iff() of a dynamic and a string is a string.
    (
        "SigninLogs | where Id in ('s1', 's5') | project Id, c = iff(isnotempty(LocationDetails.city), LocationDetails.city, 'unknown') | sort by Id asc",
        &["Id,c", "s1,Redmond", "s5,unknown"],
    ),
    // arg_max: the latest sign-in's columns per user, from one row.
    (
        "SigninLogs | summarize arg_max(TimeGenerated, Id, IPAddress) by U = tolower(UserPrincipalName) | project U, Id, IPAddress | sort by U asc",
        &[
            "U,Id,IPAddress",
            "alice@contoso.com,s2,2.2.2.2",
            "bob@fabrikam.com,s5,4.4.4.4",
            "änne@contoso.com,s4,3.3.3.3",
        ],
    ),
    // `mv-apply`: each row's policies as a subtable, filtered; a row without policies (null)
    // gives one subtable row of nulls, an empty list none; the row's columns come first.
    (
        "SigninLogs | mv-apply CAP = ConditionalAccessPolicies on (project Policy = tostring(CAP.displayName), Result = tostring(CAP.result) | where Result != 'notApplied') | project Id, Policy, Result | sort by Id asc, Policy asc",
        &[
            "Id,Policy,Result",
            "s1,Block legacy,success",
            "s1,MFA,failure",
            "s3,,",
            "s4,,",
        ],
    ),
    // Names Kusto derives: a path's parts joined by `_`, a conversion its argument's, a
    // second of the same name `1`.
    (
        "SigninLogs | summarize count() by tostring(LocationDetails.countryOrRegion) | sort by LocationDetails_countryOrRegion asc",
        &[
            "LocationDetails_countryOrRegion,count_",
            ",1",
            "DE,2",
            "FR,1",
            "US,1",
        ],
    ),
    (
        "SigninLogs | where Id == 's1' | project LocationDetails_city = 2, tostring(LocationDetails.city), toint(ResultType)",
        &[
            "LocationDetails_city,LocationDetails_city1,ResultType",
            "2,Redmond,0",
        ],
    ),
    // `in` with a tabular right side.
    (
        "let known = AADNonInteractiveUserSignInLogs | project IPAddress; SigninLogs | where IPAddress in (known) | project Id | sort by Id asc",
        &["Id", "s3", "s4"],
    ),
    (
        "let known = AADNonInteractiveUserSignInLogs | project IPAddress; SigninLogs | where IPAddress !in (known) | count",
        &["Count", "3"],
    ),
];

#[test]
fn kusto_semantics_on_a_hand_written_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let lake = tenant(dir.path());
    for (query, expected) in HAND_WORKED {
        assert_eq!(rows(&lake, query), *expected, "{query}");
    }
}

/// The seed's pairs on the tenant: s1 with n1 (10 s, counted as boundaries) and n2 (exactly
/// ten minutes: inclusive); n3 is a second too late; s3 with n4 shares its IP.
#[test]
fn the_seed_hunt_in_kql_finds_the_hand_worked_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let lake = tenant(dir.path());
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/short_window_signin_mismatch.kql");
    let output = succeeded(
        retrohunt()
            .args(["kql", "--format", "csv", "--all", "--lake"])
            .arg(&lake)
            .args([
                "--start",
                "2026-03-03T00:00:00Z",
                "--end",
                "2026-03-03T23:59:59Z",
            ])
            .arg("--file")
            .arg(&seed),
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "InteractiveTime,NonInteractiveTime,TimeDeltaSeconds,UserPrincipalName,AccountName,\
         AccountUPNSuffix,InteractiveIP,NonInteractiveIP,InteractiveASN,NonInteractiveASN,\
         InteractiveAppDisplayName,NonInteractiveAppDisplayName,InteractiveCorrelationId,\
         NonInteractiveCorrelationId"
    );
    let pairs: Vec<(&str, &str, &str)> = lines[1..]
        .iter()
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (cells[12], cells[13], cells[2])
        })
        .collect();
    assert_eq!(pairs, [("c-s1", "c-n1", "10"), ("c-s1", "c-n2", "600")]);
}

/// On a generated tenant, `kql --file` of the seed equals `hunt`, byte for byte, in order;
/// and its join runs on the window-join operator.
#[test]
fn the_seed_in_kql_equals_the_hunt() {
    let dir = tempfile::tempdir().unwrap();
    let lake = generated(dir.path());
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/short_window_signin_mismatch.kql");
    let range = [
        "--start",
        "2026-03-01T00:00:00Z",
        "--end",
        "2026-03-02T23:59:59Z",
    ];
    let hunt = succeeded(
        retrohunt()
            .args(["hunt", "--format", "csv", "--all", "--lake"])
            .arg(&lake)
            .args(range),
    );
    let found = succeeded(
        retrohunt()
            .args(["kql", "--format", "csv", "--all", "--lake"])
            .arg(&lake)
            .args(range)
            .arg("--file")
            .arg(&seed),
    );
    let rows = hunt.stdout.iter().filter(|b| **b == b'\n').count();
    assert!(rows > 50, "the tenant should have findings: {rows}");
    assert!(hunt.stdout == found.stdout, "kql and hunt differ");
    let explain = succeeded(
        retrohunt()
            .args(["kql", "--explain", "--lake"])
            .arg(&lake)
            .args(range)
            .arg("--file")
            .arg(&seed),
    );
    let plan = String::from_utf8_lossy(&explain.stdout);
    assert!(plan.contains("WindowJoinExec"), "{plan}");
}

/// Errors name the line and column, show the line with a caret, and exit with status 2;
/// what is not run exactly is refused by name, never approximated.
#[test]
fn errors_point_at_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let lake = tenant(dir.path());
    let cases = [
        (
            "SigninLogs\n| where",
            "syntax error at line 2, column 8: expected an expression, found the end of the query",
        ),
        (
            "SigninLogs | make-series n = count() on TimeGenerated step 1h",
            "unsupported at line 1, column 14: the `make-series` operator is not supported",
        ),
        (
            "SigninLogs\n| extend x = series_fit_line(y)",
            "unsupported at line 2, column 14: the function `series_fit_line()` is not supported",
        ),
        (
            "SigninLogs | summarize count(UserPrincipalName)",
            "count() takes no argument",
        ),
        (
            "SigninLogs | project Nope",
            "error at line 1, column 22: unknown name `Nope`",
        ),
        (
            "SigninLogs | summarize by LocationDetails",
            "a group key cannot be dynamic",
        ),
        (
            "SigninLogs | mv-apply p = ConditionalAccessPolicies on (top 1 by tostring(p.result))",
            "unsupported at line 1, column 57: an `mv-apply` subquery with an operator other than where, extend and project",
        ),
        (
            "let s = todatetime('{{StartTimeISO}}'); SigninLogs | where TimeGenerated > s",
            "the query uses {{StartTimeISO}}: give --start",
        ),
    ];
    for (query, expected) in cases {
        let output = kql(&lake, query, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{query}: {stderr}");
        assert!(stderr.contains(expected), "{query}: {stderr}");
    }
    let output = kql(&lake, "SigninLogs\n| where", &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("  | where\n         ^"), "{stderr}");
}

/// What Kusto.Language says of one query: whether it binds, and its columns (name, type).
#[derive(Debug, serde::Deserialize)]
struct Bound {
    ok: bool,
    columns: Vec<BoundColumn>,
    errors: Vec<serde_json::Value>,
}

#[derive(Debug, serde::Deserialize)]
struct BoundColumn {
    name: String,
    #[serde(rename = "type")]
    ty: String,
}

/// Every query binds in Microsoft's Kusto.Language to the columns retrohunt plans, names,
/// types and order; every query it rejects, retrohunt rejects too.
#[test]
fn output_schemas_are_those_kusto_language_binds() {
    let dir = tempfile::tempdir().unwrap();
    let lake = tenant(dir.path());
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/short_window_signin_mismatch.kql"),
    )
    .unwrap();
    let mut queries: Vec<String> = SCHEMA_SUITE
        .iter()
        .chain(HAND_WORKED.iter().map(|(query, _)| query))
        .chain(TIME_WINDOW_JOINS.iter().map(|(query, _)| query))
        .map(|q| q.to_string())
        .collect();
    queries.push(seed);
    let rejected = [
        "SigninLogs | where",
        "SigninLogs | summarize count(UserPrincipalName)",
        "SigninLogs | project Nope",
        "SigninLogs | summarize by LocationDetails",
        "SigninLogs | where TimeGenerated > 5",
        "AADNonInteractiveUserSignInLogs | extend City = LocationDetails.city",
        "SigninLogs | project tostring(ResultType), ResultType = 1",
        "SigninLogs | extend first = 1",
        "let kind = 1; SigninLogs | project x = kind",
        "SigninLogs | extend ['string'] = 1 | project-away string",
    ];
    let bound = kusto_language_binds(queries.iter().map(String::as_str).chain(rejected));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ctx = retrohunt::engine::session(retrohunt::engine::Engine::Operator);
    runtime
        .block_on(retrohunt::catalog::register_lake(
            &ctx,
            lake.to_str().unwrap(),
        ))
        .unwrap();
    let options = retrohunt::kql::Options {
        now: chrono::Utc::now(),
        start: chrono::DateTime::from_timestamp(1_772_496_000, 0),
        end: chrono::DateTime::from_timestamp(1_772_582_399, 0),
    };
    for (query, bound) in queries
        .iter()
        .map(String::as_str)
        .chain(rejected)
        .zip(&bound)
    {
        let planned = runtime.block_on(retrohunt::kql::plan(&ctx, query, &options));
        if !bound.ok {
            assert!(
                planned.is_err(),
                "Kusto.Language rejects {query:?} ({:?}); retrohunt ran it",
                bound.errors
            );
            continue;
        }
        let planned = planned.unwrap_or_else(|e| panic!("{query}: {}", e.render(query)));
        let ours: Vec<(String, String)> = planned
            .columns
            .iter()
            .map(|(name, ty)| (name.clone(), ty.name().to_string()))
            .collect();
        let theirs: Vec<(String, String)> = bound
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.ty.clone()))
            .collect();
        assert_eq!(ours, theirs, "{query}");
        // The rows have the columns the schema says, in Arrow's terms.
        let arrow = planned.frame.schema().as_arrow().clone();
        let names: Vec<&String> = arrow.fields().iter().map(|f| f.name()).collect();
        let expected: Vec<&String> = ours.iter().map(|(n, _)| n).collect();
        assert_eq!(names, expected, "{query}");
    }
}

/// The queries the schema test binds (beyond those of `kusto_semantics_on_a_hand_written_tenant`,
/// which it reads too).
const SCHEMA_SUITE: &[&str] = &[
    "SigninLogs",
    "AADNonInteractiveUserSignInLogs | take 3",
    "union SigninLogs, AADNonInteractiveUserSignInLogs | take 1",
    "union withsource=Table SigninLogs, AADNonInteractiveUserSignInLogs | project Table, TimeGenerated",
    "SigninLogs | extend IPAddress = 1 | project-reorder IPAddress, Id",
    "SigninLogs | project-away LocationDetails, Status | project-rename Upn = UserPrincipalName | take 1",
    "SigninLogs | summarize take_any(IPAddress), make_set_if(AppDisplayName, ResultType == '0'), sumif(1, true), max(TimeGenerated) by UserPrincipalName, bin(TimeGenerated, 1h)",
    "SigninLogs | summarize count(), dcount(IPAddress), make_set(AppDisplayName), make_list(Id), min(TimeGenerated), avg(1) by UserPrincipalName",
    "SigninLogs | summarize by UserPrincipalName, AppDisplayName",
    "SigninLogs | distinct UserPrincipalName, IPAddress",
    "SigninLogs | extend d = datetime_diff('second', now(), TimeGenerated), a = ago(1d), s = startofday(TimeGenerated), e = TimeGenerated - ago(1h) | project d, a, s, e",
    "SigninLogs | extend L = LocationDetails.city, C = tostring(LocationDetails.countryOrRegion), P = parse_json(AuthenticationDetails)[0].authenticationMethod | project L, C, P",
    "SigninLogs | join kind=leftouter (AADNonInteractiveUserSignInLogs | summarize count() by UserPrincipalName) on UserPrincipalName | project UserPrincipalName, UserPrincipalName1, count_",
    "SigninLogs | join kind=rightsemi (AADNonInteractiveUserSignInLogs) on $left.UserPrincipalName == $right.UserPrincipalName | take 1",
    "SigninLogs | where TimeGenerated > ago(7d) | extend Hour = iff(ResultType == '0', 'ok', 'fail'), Risk = case(ResultType == '0', 1, ResultType == '50126', 2, 3) | project Hour, Risk",
    "SigninLogs | extend parts = split(UserPrincipalName, '@') | mv-expand parts to typeof(string), n = dynamic([1, 2]) | project parts, n",
    "SigninLogs | count",
    "SigninLogs | extend x = strcat(UserPrincipalName, '/', ResultType), y = strlen(UserPrincipalName), z = tolong('5') * 2 / 3, w = toreal(1) / 2 | project x, y, z, w",
    "let t = SigninLogs | project IPAddress; AADNonInteractiveUserSignInLogs | where IPAddress !in (t) | project Id",
    "SigninLogs | mv-apply CAP = ConditionalAccessPolicies to typeof(string) on (extend n = 1 | project-rename Policy = CAP)",
    "SigninLogs | project Id, ConditionalAccessPolicies | mv-apply ConditionalAccessPolicies on (where isnotempty(ConditionalAccessPolicies.result))",
    "SigninLogs | project LocationDetails.city, todynamic(AuthenticationDetails)[0].authenticationMethod, tostring(Status.errorCode)",
    "SigninLogs | extend tostring(LocationDetails.city), parse_json(Status) | summarize count() by LocationDetails_city, tolong(Status.errorCode)",
    "SigninLogs | extend ['first'] = 1, ['kind'] = 'x' | project ['first'], ['kind'], by = 2",
    "AADServicePrincipalSignInLogs | project ServicePrincipalName, ServicePrincipalId, ResultType, LocationDetails | take 1",
    "union AADServicePrincipalSignInLogs, AADManagedIdentitySignInLogs | summarize dcount(IPAddress) by ServicePrincipalId, Type",
];

/// Runs `tests/kusto/bind.js` on `queries` with the Log Analytics schemas of
/// `src/kql/log_analytics_tables.txt`, Kusto.Language installed by the harness.
fn kusto_language_binds<'a>(queries: impl Iterator<Item = &'a str>) -> Vec<Bound> {
    use std::io::Write;
    let modules = crate::emulators::kusto_language();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let queries: Vec<&str> = queries.collect();
    let mut node = std::process::Command::new("node")
        .arg(root.join("tests/kusto/bind.js"))
        .arg(root.join("src/kql/log_analytics_tables.txt"))
        .env("NODE_PATH", &modules)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node (Node.js) runs Kusto.Language");
    node.stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&queries).unwrap().as_bytes())
        .unwrap();
    let output = node.wait_with_output().unwrap();
    assert!(output.status.success(), "bind.js failed");
    let bound: Vec<Bound> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(bound.len(), queries.len());
    bound
}

/// Time-window joins as Sentinel's queries write them: the band in a `where` after the join,
/// as `between (t .. t + w)` or as `t1 < t2 and t2 - t1 <= w`, across tables or within one;
/// each beside a SQL translation written by hand from Kusto's documentation (not from the
/// planner), ordered as docs/kql.md says ties are.
const TIME_WINDOW_JOINS: &[(&str, &str)] = &[
    // A success, then a failure of the same user and app from another IP within ten minutes.
    (
        "let logonDiff = 10m;
         SigninLogs
         | where ResultType == '0'
         | project SuccessTime = TimeGenerated, UserPrincipalName = tolower(UserPrincipalName), SuccessIP = IPAddress, AppDisplayName
         | join kind=inner (
             SigninLogs
             | where ResultType != '0'
             | project FailTime = TimeGenerated, UserPrincipalName = tolower(UserPrincipalName), FailIP = IPAddress, AppDisplayName, ResultType
           ) on UserPrincipalName, AppDisplayName
         | where SuccessTime < FailTime and FailTime - SuccessTime <= logonDiff and SuccessIP != FailIP
         | summarize FailTime = max(FailTime), SuccessTime = max(SuccessTime) by UserPrincipalName, SuccessIP, AppDisplayName, FailIP, ResultType
         | sort by SuccessTime desc",
        "SELECT lower(s.UserPrincipalName) AS UserPrincipalName, s.IPAddress AS SuccessIP,
                s.AppDisplayName, f.IPAddress AS FailIP, f.ResultType,
                max(f.TimeGenerated) AS FailTime, max(s.TimeGenerated) AS SuccessTime
         FROM SigninLogs s JOIN SigninLogs f
           ON lower(s.UserPrincipalName) = lower(f.UserPrincipalName)
          AND s.AppDisplayName = f.AppDisplayName
          AND s.TimeGenerated < f.TimeGenerated
          AND f.TimeGenerated <= s.TimeGenerated + INTERVAL '10 minutes'
         WHERE s.ResultType = '0' AND f.ResultType <> '0' AND s.IPAddress <> f.IPAddress
         GROUP BY 1, 2, 3, 4, 5
         ORDER BY SuccessTime DESC, UserPrincipalName, SuccessIP, AppDisplayName, FailIP,
                  ResultType, FailTime",
    ),
    // Tokens issued to another network within ten minutes of each user's last interactive
    // sign-in.
    (
        "let window = 10m;
         let interactive = SigninLogs
             | where ResultType == 0
             | summarize arg_max(TimeGenerated, IPAddress, AutonomousSystemNumber) by Upn = tolower(UserPrincipalName)
             | project Upn, InteractiveTime = TimeGenerated, InteractiveIP = IPAddress, InteractiveASN = AutonomousSystemNumber;
         AADNonInteractiveUserSignInLogs
         | where ResultType == 0
         | extend Upn = tolower(UserPrincipalName)
         | join kind=inner interactive on Upn
         | where TimeGenerated between (InteractiveTime .. (InteractiveTime + window))
         | where IPAddress != InteractiveIP and AutonomousSystemNumber != InteractiveASN
         | project TimeGenerated, Upn, IPAddress, InteractiveIP, InteractiveTime, CorrelationId
         | sort by TimeGenerated desc",
        "WITH latest AS (
             SELECT lower(UserPrincipalName) AS Upn, TimeGenerated AS InteractiveTime,
                    IPAddress AS InteractiveIP, AutonomousSystemNumber AS InteractiveASN,
                    row_number() OVER (PARTITION BY lower(UserPrincipalName)
                        ORDER BY TimeGenerated DESC, IPAddress, AutonomousSystemNumber) AS n
             FROM SigninLogs WHERE ResultType = '0')
         SELECT s.TimeGenerated, lower(s.UserPrincipalName) AS Upn, s.IPAddress,
                l.InteractiveIP, l.InteractiveTime, s.CorrelationId
         FROM AADNonInteractiveUserSignInLogs s JOIN latest l
           ON lower(s.UserPrincipalName) = l.Upn AND l.n = 1
         WHERE s.ResultType = '0'
           AND s.TimeGenerated BETWEEN l.InteractiveTime AND l.InteractiveTime + INTERVAL '10 minutes'
           AND s.IPAddress <> l.InteractiveIP AND s.AutonomousSystemNumber <> l.InteractiveASN
         ORDER BY TimeGenerated DESC, Upn, IPAddress, InteractiveIP, InteractiveTime, CorrelationId",
    ),
];

/// Each runs on the window-join operator, and returns the rows of stock DataFusion running
/// the same KQL and of the hand-written SQL, in the same order.
#[test]
fn time_window_joins_run_on_the_operator_with_the_references_rows() {
    let dir = tempfile::tempdir().unwrap();
    let lake = generated(dir.path());
    for (query, reference) in TIME_WINDOW_JOINS {
        let explain = succeeded(
            retrohunt()
                .args(["kql", "--explain", "--lake"])
                .arg(&lake)
                .arg(query),
        );
        let plan = String::from_utf8_lossy(&explain.stdout);
        assert!(plan.contains("WindowJoinExec"), "{query}\n{plan}");
        let operator = kql(&lake, query, &["--engine", "operator"]);
        let stock = kql(&lake, query, &["--engine", "sql"]);
        assert!(
            operator.status.success() && stock.status.success(),
            "{query}"
        );
        let rows = operator.stdout.iter().filter(|b| **b == b'\n').count();
        assert!(rows > 3, "{query}: {rows} lines");
        assert!(
            operator.stdout == stock.stdout,
            "{query}: the engines differ"
        );
        let by_hand = crate::util::sql_csv(&lake, reference);
        assert!(
            operator.stdout == by_hand,
            "{query}: the hand-written SQL differs:\n{}\n{}",
            String::from_utf8_lossy(&operator.stdout),
            String::from_utf8_lossy(&by_hand)
        );
    }
}

/// A Sentinel query file runs its `query`; `--format sentinel` writes each row as a bookmark
/// with the file's name, tactics, techniques and entity mappings.
#[test]
fn a_sentinel_query_file_runs_and_feeds_its_bookmarks() {
    let dir = tempfile::tempdir().unwrap();
    let lake = tenant(dir.path());
    let file = dir.path().join("legacy.yaml");
    std::fs::write(
        &file,
        "id: 00000000-0000-0000-0000-000000000001\n\
         name: Legacy authentication user agents\n\
         tactics:\n  - InitialAccess\n\
         relevantTechniques:\n  - T1078\n\
         query: |\n  SigninLogs\n  | where UserAgent in~ ('bav2ropc')\n  | project TimeGenerated, UserPrincipalName, IPAddress\n\
         entityMappings:\n\
         \x20 - entityType: Account\n    fieldMappings:\n      - identifier: FullName\n        columnName: UserPrincipalName\n\
         \x20 - entityType: IP\n    fieldMappings:\n      - identifier: Address\n        columnName: IPAddress\n",
    )
    .unwrap();
    let output = succeeded(
        retrohunt()
            .args(["kql", "--format", "sentinel", "--lake"])
            .arg(&lake)
            .arg("--file")
            .arg(&file),
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let bookmark = &lines[0];
    assert_eq!(bookmark["QueryName"], "Legacy authentication user agents");
    assert_eq!(
        bookmark["DisplayName"],
        "Legacy authentication user agents: bob@fabrikam.com, 4.4.4.4"
    );
    assert_eq!(bookmark["Tactics"], serde_json::json!(["InitialAccess"]));
    assert_eq!(bookmark["Techniques"], serde_json::json!(["T1078"]));
    assert_eq!(
        bookmark["EntityMappings"],
        serde_json::json!([
            {"entityType": "Account", "fieldMappings": [{"identifier": "FullName", "value": "bob@fabrikam.com"}]},
            {"entityType": "IP", "fieldMappings": [{"identifier": "Address", "value": "4.4.4.4"}]},
        ])
    );
    assert_eq!(
        bookmark["Evidence"]["UserPrincipalName"],
        "bob@fabrikam.com"
    );
    let output = retrohunt()
        .args(["kql", "--format", "sentinel", "--lake"])
        .arg(&lake)
        .arg("SigninLogs | take 1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("give --file QUERY.yaml"));
}

/// The service principals' and managed identities' tables: ingested as tables of their own,
/// their Log Analytics columns read by name from a diagnostic record (the Event Hub sample,
/// camelCase under `properties`) and from a Log Analytics export (PascalCase). Expected
/// values read by eye from the two records.
#[test]
fn workload_identities_read_by_their_log_analytics_columns() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("identities.jsonl");
    std::fs::write(
        &export,
        r#"{"TimeGenerated":"2025-10-14T08:00:00.5Z","Type":"AADManagedIdentitySignInLogs","ServicePrincipalId":"mi-1","ServicePrincipalName":"vm-backup","ResourceDisplayName":"Azure Key Vault","IPAddress":"10.0.0.4","ResultType":"0","Id":"m1"}"#,
    )
    .unwrap();
    let lake = dir.path().join("lake");
    succeeded(
        retrohunt()
            .args(["ingest", "--quiet", "--lake"])
            .arg(&lake)
            .arg(fixture("samples/eventhub-record-7.json"))
            .arg(&export),
    );
    assert_eq!(
        rows(
            &lake,
            "AADServicePrincipalSignInLogs | project TimeGenerated, ServicePrincipalName, \
             ServicePrincipalId, AppId, ResourceDisplayName, ResultType, \
             ServicePrincipalCredentialKeyId, Type"
        ),
        [
            "TimeGenerated,ServicePrincipalName,ServicePrincipalId,AppId,ResourceDisplayName,\
             ResultType,ServicePrincipalCredentialKeyId,Type",
            "2025-10-14T07:34:57.914489700Z,ParseMe,ParseMe,88888888-8888-8888-8888-888888888888,\
             Azure Storage,0,55555555-5555-5555-5555-555555555555,AADServicePrincipalSignInLogs",
        ]
    );
    assert_eq!(
        rows(
            &lake,
            "union AADServicePrincipalSignInLogs, AADManagedIdentitySignInLogs \
             | summarize count() by Type, ServicePrincipalName, ResourceDisplayName \
             | sort by Type asc"
        ),
        [
            "Type,ServicePrincipalName,ResourceDisplayName,count_",
            "AADManagedIdentitySignInLogs,vm-backup,Azure Key Vault,1",
            "AADServicePrincipalSignInLogs,ParseMe,Azure Storage,1",
        ]
    );
}

/// `generate --patterns` adds what Sentinel's sign-in hunts look for, and nothing else changes:
/// the tenant's own records are all still there, byte for byte. The counts follow from
/// `src/generate/patterns.rs`'s spec over two days (a spray of 40 users from one address,
/// 120 failures then a success for one user, 5 denied MFA prompts, 3 legacy-protocol sign-ins,
/// 12 attempts on a disabled account over 4 apps and 3 addresses, 1 device-code sign-in, each
/// a day), read back through `retrohunt kql`.
#[test]
fn generated_patterns_are_what_the_hunts_look_for() {
    let dir = tempfile::tempdir().unwrap();
    let generate = |out: &Path, patterns: bool| {
        let mut command = retrohunt();
        command
            .args([
                "generate", "--days", "2", "--users", "80", "--seed", "5", "--out",
            ])
            .arg(out);
        if patterns {
            command.arg("--patterns");
        }
        succeeded(&mut command);
    };
    let (plain, patterned) = (dir.path().join("plain"), dir.path().join("patterned"));
    generate(&plain, false);
    generate(&patterned, true);
    let lines = |root: &Path| -> Vec<String> {
        let mut lines: Vec<String> = walkdir::WalkDir::new(root)
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file() && e.file_name() != "_ground_truth.jsonl")
            .flat_map(|e| {
                std::fs::read_to_string(e.path())
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        lines.sort();
        lines
    };
    let (plain_lines, patterned_lines) = (lines(&plain), lines(&patterned));
    let mut extra = patterned_lines.clone();
    for line in &plain_lines {
        let at = extra
            .binary_search(line)
            .expect("every plain record is kept");
        extra.remove(at);
    }
    assert_eq!(extra.len(), 2 * (40 + 121 + 6 + 3 + 12 + 6 + 1 + 1 + 1 + 1));

    let lake = dir.path().join("lake");
    succeeded(
        retrohunt()
            .args(["ingest", "--quiet", "--lake"])
            .arg(&lake)
            .arg(&patterned),
    );
    let cases: [(&str, &[&str]); 6] = [
        (
            "SigninLogs | where IPAddress == '167.99.10.10' | summarize Attempts = count(), Users = dcount(UserPrincipalName), Failed = countif(ResultType == '50126')",
            &["Attempts,Users,Failed", "80,40,80"],
        ),
        (
            "SigninLogs | where ResultType == '50126' | summarize Failures = count() by UserPrincipalName, IPAddress, Day = bin(TimeGenerated, 1d) | where Failures >= 100 | count",
            &["Count", "2"],
        ),
        (
            "SigninLogs | where ResultType == '500121' | summarize count() by Details = tostring(Status.additionalDetails)",
            &[
                "Details,count_",
                "MFA denied; user declined the authentication,10",
            ],
        ),
        (
            "SigninLogs | where UserAgent == 'BAV2ROPC' | summarize count() by ClientAppUsed | sort by ClientAppUsed asc",
            &[
                "ClientAppUsed,count_",
                "Authenticated SMTP,2",
                "Exchange ActiveSync,2",
                "IMAP4,2",
            ],
        ),
        (
            "SigninLogs | where ResultType == '50057' | summarize count(), dcount(AppDisplayName), dcount(IPAddress) by ResultDescription",
            &[
                "ResultDescription,count_,dcount_AppDisplayName,dcount_IPAddress",
                "User account is disabled. The account has been disabled by an administrator.,24,4,3",
            ],
        ),
        (
            "SigninLogs | where AuthenticationProtocol == 'deviceCode' | project AppDisplayName, ResultType",
            &[
                "AppDisplayName,ResultType",
                "Microsoft Azure CLI,0",
                "Microsoft Azure CLI,0",
            ],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(rows(&lake, query), expected, "{query}");
    }
}
