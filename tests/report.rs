//! The investigation report (`hunt --format html`) as an analyst sees it: loaded from disk by
//! a real browser (Debian's headless Chromium, installed by the harness), its DOM checked
//! after its script ran. The ranked users and their order are `--summary`'s; each timeline's
//! sign-ins and pairs are the lake's, counted by `retrohunt sql` and the hunt's CSV; and log
//! data written to run script runs nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, TimeDelta};
use regex::Regex;

use crate::emulators::chromium;
use crate::util::{SignIn, add_to_lake, retrohunt, succeeded};

/// The DOM of `report` once loaded and its script run, in a fresh browser profile.
fn dom(report: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = succeeded(
        Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--virtual-time-budget=3000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("file://{}", report.display())),
    );
    String::from_utf8(output.stdout).unwrap()
}

fn report(lake: &Path, out: &Path) {
    succeeded(
        retrohunt()
            .args(["hunt", "--format", "html", "--output"])
            .arg(out)
            .arg("--lake")
            .arg(lake),
    );
}

fn csv(lake: &Path, args: &[&str]) -> Vec<csv::StringRecord> {
    let output = succeeded(retrohunt().args(args).arg("--lake").arg(lake));
    csv::Reader::from_reader(&output.stdout[..])
        .records()
        .map(Result::unwrap)
        .collect()
}

/// Each timeline of the DOM: its user, the counts it declares, and the sign-ins and pair
/// lines it draws.
fn timelines(dom: &str) -> Vec<(String, usize, usize, usize, usize, String)> {
    let section = Regex::new(
        r#"(?s)<section class="timeline" id="[^"]*" data-user="([^"]*)" data-signins="(\d+)" data-pairs="(\d+)">(.*?)</section>"#,
    )
    .unwrap();
    section
        .captures_iter(dom)
        .map(|c| {
            let body = c[4].to_string();
            (
                c[1].to_string(),
                c[2].parse().unwrap(),
                c[3].parse().unwrap(),
                body.matches("<circle class=\"signin\"").count(),
                body.matches("<line class=\"pair\"").count(),
                body,
            )
        })
        .collect()
}

/// The sample's report: its users in `--summary`'s order, the two attacked accounts first,
/// each timeline holding the lake's sign-ins of that user from an hour before the first
/// finding to an hour after the last, and a line per finding; the ranked table's script ran.
#[test]
fn the_sample_report_ranks_as_the_summary_and_draws_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    succeeded(
        retrohunt()
            .args(["ingest", "--quiet", "--lake"])
            .arg(&lake)
            .arg(&sample),
    );
    let out = dir.path().join("report.html");
    report(&lake, &out);
    let dom = dom(&out);

    let summary = csv(&lake, &["hunt", "--summary", "--format", "csv"]);
    let ranked: Vec<String> = summary.iter().map(|r| r[0].to_string()).collect();
    let row =
        Regex::new(r#"<tr data-rank="\d+"( hidden="")?><td><a href="[^"]*">([^<]*)</a>"#).unwrap();
    let rows: Vec<(bool, String)> = row
        .captures_iter(&dom)
        .map(|c| (c.get(1).is_none(), c[2].to_string()))
        .collect();
    let in_order: Vec<String> = rows.iter().map(|(_, user)| user.clone()).collect();
    assert_eq!(in_order, ranked);
    // The first page shows the first 25 users, and only them.
    let visible: Vec<String> = rows
        .iter()
        .filter(|(visible, _)| *visible)
        .map(|(_, user)| user.clone())
        .collect();
    assert_eq!(visible, ranked[..25.min(ranked.len())]);
    assert!(
        dom.contains(&format!(
            "id=\"shown\">{} users, page 1 of {}",
            ranked.len(),
            ranked.len().div_ceil(25)
        )),
        "the report's script did not run"
    );
    let attacked: Vec<String> = std::fs::read_to_string(sample.join("_ground_truth.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let truth: serde_json::Value = serde_json::from_str(line).unwrap();
            truth["UserPrincipalName"].as_str().unwrap().to_owned()
        })
        .collect();
    let mut first_two = ranked[..2].to_vec();
    first_two.sort();
    let mut expected = attacked.clone();
    expected.sort();
    assert_eq!(first_two, expected);

    // The findings, per user: their count and the span of their times.
    let findings = csv(&lake, &["hunt", "--format", "csv"]);
    let mut spans: BTreeMap<String, (usize, i64, i64)> = BTreeMap::new();
    for finding in &findings {
        let time = |i: usize| {
            DateTime::parse_from_rfc3339(&finding[i])
                .unwrap()
                .timestamp_nanos_opt()
                .unwrap()
        };
        let (a, b) = (time(0), time(1));
        let span = spans
            .entry(finding[3].to_string())
            .or_insert((0, i64::MAX, i64::MIN));
        *span = (span.0 + 1, span.1.min(a).min(b), span.2.max(a).max(b));
    }
    let drawn = timelines(&dom);
    assert_eq!(drawn.len(), ranked.len().min(50));
    for (user, sign_ins, pairs, circles, lines, _) in &drawn {
        let (findings, first, last) = spans[user];
        let hour = TimeDelta::hours(1).num_nanoseconds().unwrap();
        let at = |nanos: i64| DateTime::from_timestamp_nanos(nanos).to_rfc3339();
        let count = |table: &str| -> usize {
            let query = format!(
                "SELECT count(*) AS n FROM {table} WHERE UserKey = '{user}' AND TimeGenerated \
                 BETWEEN TIMESTAMP '{}' AND TIMESTAMP '{}'",
                at(first - hour),
                at(last + hour)
            );
            let rows = csv(&lake, &["sql", "--format", "csv", &query]);
            rows[0][0].parse().unwrap()
        };
        let in_lake = count("SigninLogs") + count("AADNonInteractiveUserSignInLogs");
        assert_eq!((*sign_ins, *circles), (in_lake, in_lake), "{user}");
        assert_eq!((*pairs, *lines), (findings, findings), "{user}");
    }
    // Each attacked account's timeline lists its replayed pair.
    for line in std::fs::read_to_string(sample.join("_ground_truth.jsonl"))
        .unwrap()
        .lines()
    {
        let truth: serde_json::Value = serde_json::from_str(line).unwrap();
        let second = |name: &str| {
            DateTime::parse_from_rfc3339(truth[name].as_str().unwrap())
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        };
        let pair = format!(
            "{} → {}",
            second("InteractiveTime"),
            second("NonInteractiveTime")
        );
        let user = truth["UserPrincipalName"].as_str().unwrap();
        let (.., body) = drawn.iter().find(|t| t.0 == user).unwrap();
        assert!(body.contains(&pair), "{user}: {pair}");
    }
}

/// Log data that would run script in a careless report (markup in names and apps, a script
/// end inside text, a `javascript:` URL, direction overrides and terminal escapes) is shown as
/// text: the browser runs no script but the report's own, makes no element of it, and the
/// marker any of it would set stays unset. A secret in the lake's name is not written.
#[test]
fn hostile_log_data_runs_nothing_in_the_report() {
    const BASE: i64 = 1_772_445_600 * 1_000_000_000; // 2026-03-02T10:00:00Z
    const MINUTE: i64 = 60 * 1_000_000_000;
    let upns: [&'static str; 3] = [
        "<img src=x onerror=\"document.body.dataset.pwned=1\">@x.com",
        "\"><svg onload=document.body.dataset.pwned=2>@x.com",
        "\u{202e}moc.live@eve\u{1b}[31m",
    ];
    let app = "</script><script>document.body.dataset.pwned=3</script>";
    let mut interactive = Vec::new();
    let mut other = Vec::new();
    for (i, upn) in upns.into_iter().enumerate() {
        let at = BASE + i as i64 * 30 * MINUTE;
        interactive.push(SignIn {
            app,
            ..SignIn::success(at, upn, "javascript:document.body.dataset.pwned=4", "1")
        });
        other.push(SignIn {
            app: "<iframe src=javascript:document.body.dataset.pwned=5>",
            ..SignIn::success(at + 2 * MINUTE, upn, "2.2.2.2", "2")
        });
    }
    let dir = tempfile::tempdir().unwrap();
    // What would be a SAS token in a store's URL: the report shows the command, never it.
    let lake = dir.path().join("lake?sig=SECRET");
    add_to_lake(&lake, &interactive, &other, "");
    let out = dir.path().join("report.html");
    report(&lake, &out);
    let dom = dom(&out);
    assert_eq!(timelines(&dom).len(), 3, "{dom}");
    assert!(!dom.contains("data-pwned"), "{dom}");
    assert_eq!(
        dom.matches("<script").count(),
        1,
        "only the report's own script"
    );
    for element in ["<img", "<iframe", "<svg onload"] {
        assert!(!dom.contains(element), "{element}");
    }
    assert!(dom.contains("&lt;img src=x onerror="));
    assert!(!dom.contains('\u{202e}') && !dom.contains('\u{1b}'));
    assert!(dom.contains("?&lt;redacted&gt;") && !dom.contains("SECRET"));
}
