//! The SQL hunt against a plain-Rust reference implementation of docs/hunt.md, written from its
//! rules (nested loops, no SQL), on random small tables dense in the edge cases: exactly 0 s and
//! exactly +window, one tick past, sub-second times whose second-boundary delta differs from
//! truncation, events at and just outside start and end, midnight crossings, mixed-case and
//! empty UPNs, UPNs with 0, 1 and 2 '@', empty ASN and IP, failed ResultTypes.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, TimestampNanosecondType};
use proptest::prelude::*;

use crate::util::{SignIn, write_lake};

use datafusion::prelude::SessionConfig;
use retrohunt::catalog::register_lake;
use retrohunt::engine::{Engine, session_with};
use retrohunt::hunt::{self, HuntParams, HuntQuery, TimeColumn};

/// 2026-03-02T23:55:00Z: five minutes before midnight, so windows cross a date partition.
const BASE: i64 = 1_772_495_700 * 1_000_000_000;
const SECOND: i64 = 1_000_000_000;
const TICK: i64 = 100;

/// (InteractiveTime, NonInteractiveTime, TimeDeltaSeconds, then the 11 text columns).
type Finding = (i64, i64, i64, Vec<String>);

fn reference(
    interactive: &[SignIn],
    non_interactive: &[SignIn],
    params: &HuntParams,
) -> Vec<Finding> {
    let (start, end) = (
        params.start.unwrap_or(i64::MIN),
        params.end.unwrap_or(i64::MAX),
    );
    // docs/hunt.md rule 11: one column gives the filter, the window and the output times.
    let time = |s: &SignIn| match params.time_column {
        TimeColumn::TimeGenerated => Some(s.time),
        TimeColumn::CreatedDateTime => s.created,
    };
    let kept = |s: &&SignIn| time(s).is_some_and(|t| start <= t && t <= end) && s.result == "0";
    let mut findings = Vec::new();
    for i in interactive.iter().filter(kept) {
        for n in non_interactive.iter().filter(kept) {
            let (it, nt) = (time(i).unwrap(), time(n).unwrap());
            let same_user = i.upn.to_lowercase() == n.upn.to_lowercase();
            let in_window = it <= nt && nt <= it + params.window;
            let differ = !i.asn.is_empty() && !n.asn.is_empty() && i.asn != n.asn && i.ip != n.ip;
            if same_user && in_window && differ {
                let upn = i.upn.to_lowercase();
                let mut parts = upn.split('@');
                let account = parts.next().unwrap_or("").to_string();
                let suffix = parts.next().unwrap_or("").to_string();
                let delta = nt.div_euclid(SECOND) - it.div_euclid(SECOND);
                let text = [
                    upn.as_str(),
                    &account,
                    &suffix,
                    i.ip,
                    n.ip,
                    i.asn,
                    n.asn,
                    i.app,
                    n.app,
                    &i.correlation,
                    &n.correlation,
                ];
                findings.push((it, nt, delta, text.iter().map(|s| s.to_string()).collect()));
            }
        }
    }
    findings.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| (a.1, a.2, &a.3).cmp(&(b.1, b.2, &b.3)))
    });
    findings
}

fn findings(batches: &[RecordBatch]) -> Vec<Finding> {
    let mut out = Vec::new();
    for batch in batches {
        let time = |c: usize| {
            batch
                .column(c)
                .as_primitive::<TimestampNanosecondType>()
                .clone()
        };
        let (it, nt) = (time(0), time(1));
        let delta = batch.column(2).as_primitive::<Int64Type>();
        // Text comes as the engine holds it (views, as the lake is read); compared as text.
        let texts: Vec<_> = (3..14)
            .map(|c| arrow::compute::cast(batch.column(c), &DataType::Utf8).unwrap())
            .collect();
        for r in 0..batch.num_rows() {
            let text = texts
                .iter()
                .map(|column| column.as_string::<i32>().value(r).to_string())
                .collect();
            out.push((it.value(r), nt.value(r), delta.value(r), text));
        }
    }
    out
}

/// How a test runs the hunt: the engine, the SQL (the hunt or its bucketed rewrite), and the
/// session's batch size and partition count (small batches split key groups and windows
/// across batches).
#[derive(Debug, Clone, Copy)]
struct Run {
    engine: Engine,
    query: HuntQuery,
    batch_size: usize,
    partitions: usize,
}

const STOCK: Run = Run {
    engine: Engine::Sql,
    query: HuntQuery::Hunt,
    batch_size: 8192,
    partitions: 2,
};

/// The hand-bucketed rewrite `retrohunt bench` compares, on stock DataFusion.
const BUCKETED: Run = Run {
    query: HuntQuery::Bucketed,
    ..STOCK
};

fn runs() -> impl Strategy<Value = Run> {
    (
        prop::sample::select(vec![1usize, 3, 8192]),
        prop::sample::select(vec![1usize, 3]),
    )
        .prop_map(|(batch_size, partitions)| Run {
            engine: Engine::Operator,
            query: HuntQuery::Hunt,
            batch_size,
            partitions,
        })
}

fn run_hunt(lake: &Path, params: &HuntParams, run: Run) -> Vec<Finding> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = SessionConfig::new()
            .with_batch_size(run.batch_size)
            .with_target_partitions(run.partitions);
        let ctx = session_with(run.engine, config, Arc::default());
        register_lake(&ctx, lake.to_str().unwrap()).await.unwrap();
        let batches = hunt::plan_query(&ctx, run.query, params)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        findings(&batches)
    })
}

/// Every engine on the same lake: stock SQL, its bucketed rewrite, and the operator at two
/// batch sizes.
fn run_engines(lake: &Path, params: &HuntParams) -> Vec<Vec<Finding>> {
    let operator = |batch_size| Run {
        engine: Engine::Operator,
        batch_size,
        ..STOCK
    };
    [STOCK, BUCKETED, operator(8192), operator(1)]
        .map(|run| run_hunt(lake, params, run))
        .to_vec()
}

fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0),
        Just(TICK),
        Just(900 * 1_000_000),
        Just(SECOND),
        Just(10 * SECOND + 100 * 1_000_000),
        Just(600 * SECOND - TICK),
        Just(600 * SECOND),
        Just(600 * SECOND + TICK),
        Just(-TICK),
        (0..1200 * SECOND / TICK).prop_map(|k| k * TICK),
    ]
}

fn sign_in() -> impl Strategy<Value = SignIn> {
    (
        offset(),
        prop::sample::select(vec![
            "a@x.com",
            "A@X.com",
            "",
            "b",
            "c@d@e",
            "Émile@x.fr",
            "émile@x.fr",
        ]),
        prop::sample::select(vec!["0", "0", "0", "00", " 0", "50126"]),
        prop::sample::select(vec!["", "1.1.1.1", "2.2.2.2"]),
        prop::sample::select(vec!["", "1", "2", "3"]),
        prop::sample::select(vec!["App A", "App B"]),
        // How long before TimeGenerated the sign-in happened, or no CreatedDateTime at all.
        prop::option::weighted(
            0.9,
            prop::sample::select(vec![0, TICK, 30 * SECOND, 700 * SECOND]),
        ),
    )
        .prop_map(|(time, upn, result, ip, asn, app, lag)| SignIn {
            time: BASE + time,
            created: lag.map(|lag| BASE + time - lag),
            upn,
            result,
            ip,
            asn,
            app,
            correlation: String::new(),
            ..SignIn::default()
        })
}

/// Places most non-interactive sign-ins at an edge offset from an interactive one (exactly 0,
/// exactly +window, one tick either side) of the same user, where off-by-one errors live.
fn anchor(
    mut rows: Vec<SignIn>,
    anchors: &[(usize, i64)],
    interactive: &[SignIn],
    window: i64,
) -> Vec<SignIn> {
    for (row, &(index, choice)) in rows.iter_mut().zip(anchors) {
        let Some(anchor) = interactive.get(index % interactive.len().max(1)) else {
            continue;
        };
        let offset = match choice {
            0 => 0,
            1 => window,
            2 => window + TICK,
            3 => window - TICK,
            4 => -TICK,
            _ => continue,
        };
        // Anchored on both columns, so edges are dense whichever one is hunted.
        row.time = anchor.time + offset;
        row.created = anchor.created.map(|created| created + offset);
        row.upn = anchor.upn;
    }
    rows
}

fn number(mut rows: Vec<SignIn>, prefix: &str) -> Vec<SignIn> {
    for (index, row) in rows.iter_mut().enumerate() {
        row.correlation = format!("{prefix}{index}");
    }
    rows
}

fn params() -> impl Strategy<Value = HuntParams> {
    (
        prop::option::of(offset()),
        prop::option::of(offset()),
        prop::sample::select(vec![600 * SECOND, SECOND, TICK]),
        prop::sample::select(vec![TimeColumn::TimeGenerated, TimeColumn::CreatedDateTime]),
    )
        .prop_map(|(a, b, window, time_column)| {
            let (start, end) = match (a, b) {
                (Some(a), Some(b)) => (Some(BASE + a.min(b)), Some(BASE + a.max(b))),
                (a, b) => (a.map(|a| BASE + a), b.map(|b| BASE + b)),
            };
            HuntParams {
                start,
                end,
                window,
                time_column,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_engine_matches_the_reference(
        interactive in prop::collection::vec(sign_in(), 0..12),
        non_interactive in prop::collection::vec(sign_in(), 0..25),
        anchors in prop::collection::vec((0..12usize, 0..8i64), 25),
        params in params(),
        operator in runs(),
    ) {
        let interactive = number(interactive, "i");
        let non_interactive = number(anchor(non_interactive, &anchors, &interactive, params.window), "n");
        let lake = tempfile::tempdir().unwrap();
        write_lake(lake.path(), &interactive, &non_interactive);
        let expected = reference(&interactive, &non_interactive, &params);
        prop_assert_eq!(&run_hunt(lake.path(), &params, STOCK), &expected);
        prop_assert_eq!(&run_hunt(lake.path(), &params, BUCKETED), &expected);
        prop_assert_eq!(&run_hunt(lake.path(), &params, operator), &expected, "{:?}", operator);
    }
}

/// A hand-computed scenario: one true positive, its look-alikes one rule short each.
#[test]
fn hand_written_scenario_has_exactly_the_known_positives() {
    let s = |time: i64,
             upn: &'static str,
             result: &'static str,
             ip: &'static str,
             asn: &'static str,
             correlation: &str| SignIn {
        time,
        created: Some(time),
        upn,
        result,
        ip,
        asn,
        app: "App A",
        correlation: correlation.to_string(),
        ..SignIn::default()
    };
    // Interactive at 23:55:00.900 from 1.1.1.1 / ASN 1.
    let interactive = vec![s(
        BASE + 900_000_000,
        "Alice@Contoso.com",
        "0",
        "1.1.1.1",
        "1",
        "I1",
    )];
    let non_interactive = vec![
        // +9.2 s from another ASN and IP: found, TimeDeltaSeconds 10 (second boundaries).
        s(
            BASE + 10_100_000_000,
            "alice@contoso.com",
            "0",
            "2.2.2.2",
            "2",
            "hit",
        ),
        // Same ASN: not found.
        s(
            BASE + 20 * SECOND,
            "alice@contoso.com",
            "0",
            "2.2.2.2",
            "1",
            "same-asn",
        ),
        // Same IP: not found.
        s(
            BASE + 30 * SECOND,
            "alice@contoso.com",
            "0",
            "1.1.1.1",
            "2",
            "same-ip",
        ),
        // Failed: not found.
        s(
            BASE + 40 * SECOND,
            "alice@contoso.com",
            "50126",
            "2.2.2.2",
            "2",
            "failed",
        ),
        // Exactly +10 min, across midnight: found, delta 600.
        s(
            BASE + 900_000_000 + 600 * SECOND,
            "ALICE@contoso.com",
            "0",
            "3.3.3.3",
            "3",
            "edge",
        ),
        // One tick past the window: not found.
        s(
            BASE + 900_000_000 + 600 * SECOND + TICK,
            "alice@contoso.com",
            "0",
            "3.3.3.3",
            "3",
            "past",
        ),
        // Empty ASN: not found.
        s(
            BASE + 50 * SECOND,
            "alice@contoso.com",
            "0",
            "4.4.4.4",
            "",
            "no-asn",
        ),
    ];
    let lake = tempfile::tempdir().unwrap();
    write_lake(lake.path(), &interactive, &non_interactive);
    let results = run_engines(lake.path(), &HuntParams::default());
    let found = &results[0];
    assert!(results.iter().all(|other| other == found));
    let summary: Vec<(i64, &str)> = found.iter().map(|f| (f.2, f.3[10].as_str())).collect();
    assert_eq!(summary, [(10, "hit"), (600, "edge")]);
    assert_eq!(
        &found[0].3[..3],
        ["alice@contoso.com", "alice", "contoso.com"]
    );
}

/// docs/hunt.md rule 11 by hand: Log Analytics received the non-interactive sign-in 11 minutes
/// after the interactive one, but by Entra ID's clock it came 6 minutes after: only the
/// CreatedDateTime hunt finds it, and reports those times.
#[test]
fn created_date_time_switches_filter_window_and_output_times() {
    let sign_in = |time: i64, created: i64, ip: &'static str, asn: &'static str, id: &str| SignIn {
        time,
        created: Some(created),
        upn: "bob@contoso.com",
        result: "0",
        ip,
        asn,
        app: "App A",
        correlation: id.to_string(),
        ..SignIn::default()
    };
    let interactive = vec![sign_in(BASE + 60 * SECOND, BASE, "1.1.1.1", "1", "i")];
    let non_interactive = vec![sign_in(
        BASE + 12 * 60 * SECOND,
        BASE + 6 * 60 * SECOND,
        "2.2.2.2",
        "2",
        "n",
    )];
    let lake = tempfile::tempdir().unwrap();
    write_lake(lake.path(), &interactive, &non_interactive);
    for found in run_engines(lake.path(), &HuntParams::default()) {
        assert_eq!(found, Vec::<Finding>::new());
    }
    let created = HuntParams {
        time_column: TimeColumn::CreatedDateTime,
        ..HuntParams::default()
    };
    for found in run_engines(lake.path(), &created) {
        let times: Vec<(i64, i64, i64)> = found.iter().map(|f| (f.0, f.1, f.2)).collect();
        assert_eq!(times, [(BASE, BASE + 360 * SECOND, 360)]);
    }
}

/// The real samples hold no finding (their README says so), and the hunt agrees: every
/// non-interactive DataDog record (2025-04-11 05:18–05:56) comes hours *before* the interactive
/// ones of the same users (16:15–16:53), and the only other non-interactive record (Event Hub
/// record 6, john.doe@company.com, 2025-07-24) has no interactive sign-in of that user at all.
#[test]
fn the_real_samples_hold_no_finding() {
    let lake = tempfile::tempdir().unwrap();
    crate::util::ingest(lake.path(), &crate::util::samples());
    for found in run_engines(lake.path(), &HuntParams::default()) {
        assert_eq!(found, Vec::<Finding>::new());
    }
}

/// A lake written by another tool (docs/lake.md): no `UserKey`, nullable text with nulls, time in
/// microseconds, the ASN as an integer, most columns missing. Every engine reads it as the
/// lake's own rows would read, and finds exactly the hand-computed rows.
#[test]
fn a_foreign_lake_is_adapted() {
    use arrow::array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema, TimeUnit};

    let time = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("TimeGenerated", time, false),
        Field::new("UserPrincipalName", DataType::Utf8, true),
        Field::new("ResultType", DataType::Utf8, true),
        Field::new("IPAddress", DataType::Utf8, true),
        Field::new("AutonomousSystemNumber", DataType::Int64, true),
        Field::new("AppDisplayName", DataType::Utf8, true),
        Field::new("CorrelationId", DataType::Utf8, true),
    ]));
    /// (seconds after BASE, UPN, IP, ASN, app, correlation id)
    type Foreign<'a> = (
        i64,
        Option<&'a str>,
        Option<&'a str>,
        Option<i64>,
        Option<&'a str>,
        &'a str,
    );
    let lake = tempfile::tempdir().unwrap();
    let write = |table: &str, rows: &[Foreign]| {
        let dir = lake.path().join(table).join("date=2026-03-02");
        std::fs::create_dir_all(&dir).unwrap();
        let micros = rows.iter().map(|r| (BASE + r.0 * SECOND) / 1_000);
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(TimestampMicrosecondArray::from_iter_values(micros).with_timezone("UTC")),
                Arc::new(StringArray::from_iter(rows.iter().map(|r| r.1))),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|_| "0"))),
                Arc::new(StringArray::from_iter(rows.iter().map(|r| r.2))),
                Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.3))),
                Arc::new(StringArray::from_iter(rows.iter().map(|r| r.4))),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.5))),
            ],
        )
        .unwrap();
        let file = std::fs::File::create(dir.join("export.parquet")).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    };
    write(
        "SigninLogs",
        &[(
            0,
            Some("Carol@Contoso.com"),
            Some("1.1.1.1"),
            Some(100),
            None,
            "ci",
        )],
    );
    write(
        "AADNonInteractiveUserSignInLogs",
        &[
            // Found: another IP and ASN; the interactive app is null, read as "".
            (
                60,
                Some("carol@contoso.com"),
                Some("2.2.2.2"),
                Some(200),
                Some("App N"),
                "n1",
            ),
            // Found: a null IP reads as "", which differs from 1.1.1.1.
            (
                120,
                Some("CAROL@contoso.com"),
                None,
                Some(300),
                Some("App N"),
                "n2",
            ),
            // Not found: a null ASN reads as "", and empty ASNs never match.
            (
                180,
                Some("carol@contoso.com"),
                Some("3.3.3.3"),
                None,
                Some("App N"),
                "n3",
            ),
            // Not found: a null UPN is the empty user, not Carol.
            (30, None, Some("4.4.4.4"), Some(400), Some("App N"), "n4"),
        ],
    );
    let finding = |offset: i64, ip: &str, asn: &str, id: &str| {
        let text = [
            "carol@contoso.com",
            "carol",
            "contoso.com",
            "1.1.1.1",
            ip,
            "100",
            asn,
            "",
            "App N",
            "ci",
            id,
        ];
        (
            BASE,
            BASE + offset * SECOND,
            offset,
            text.map(String::from).to_vec(),
        )
    };
    let expected = vec![
        finding(60, "2.2.2.2", "200", "n1"),
        finding(120, "", "300", "n2"),
    ];
    for found in run_engines(lake.path(), &HuntParams::default()) {
        assert_eq!(found, expected);
    }
}
