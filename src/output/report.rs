//! The investigation report (`--format html`): one self-contained HTML file an analyst opens
//! offline. The run, the users ranked, and for the top users a timeline of their sign-ins
//! around their findings, two lanes (interactive above, non-interactive below), each sign-in
//! coloured by its network, each finding's pair joined by a line.
//!
//! Log data is hostile here as everywhere: every value is written as HTML text or a quoted
//! attribute, escaped for it, with control characters and direction overrides made visible
//! first ([`escape_for_terminal`]); nothing from the data is placed in a script or a style.
//! A Content-Security-Policy allows only this file's own script and style (by a nonce drawn
//! for each report), no inline event handler and no load from anywhere, so a value that
//! slipped through would still not run.

use std::fmt::Write as _;
use std::io::Write;

use chrono::{DateTime, SecondsFormat};

use super::safety::escape_for_terminal;

/// What a report shows.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub title: String,
    /// The run: what was hunted, how, when, by which command.
    pub run: Vec<(String, String)>,
    /// Exclusion rules with the rows each removed and why.
    pub exclusions: Vec<(String, usize, String)>,
    /// The users ranked, first column the user.
    pub users: Table,
    pub timelines: Vec<Timeline>,
}

/// Rows of text, already formatted.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One user's sign-ins from `from` to `to` (ns since the epoch) and their findings.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub user: String,
    pub from: i64,
    pub to: i64,
    pub sign_ins: Vec<SignIn>,
    pub pairs: Vec<Pair>,
}

#[derive(Debug, Clone)]
pub struct SignIn {
    pub time: i64,
    pub interactive: bool,
    /// What colours it: its network (the ASN).
    pub network: String,
    /// Shown on hover: IP, country, app, result.
    pub detail: String,
}

/// A finding: the two sign-ins' times, and what the enrichment says of it.
#[derive(Debug, Clone)]
pub struct Pair {
    pub interactive: i64,
    pub non_interactive: i64,
    pub facts: Vec<(String, String)>,
    /// The finding's entities as `--format sentinel` has them (JSON text).
    pub entities: String,
}

/// Width of a timeline's drawing, in SVG units; lanes' heights.
const WIDTH: f64 = 960.0;
const LANE: f64 = 36.0;
const MARGIN: f64 = 8.0;

/// The report's own style and script: the only ones the policy lets run.
const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// Writes `report` as one HTML document.
///
/// # Errors
/// Write failures.
pub fn write_report(report: &Report, mut out: impl Write) -> std::io::Result<()> {
    let nonce = format!("{:032x}", rand::random::<u128>());
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'none'; \
         connect-src 'none'; form-action 'none'; base-uri 'none'\">\n\
         <title>{}</title>\n<style nonce=\"{nonce}\">{STYLE}</style></head><body>\n",
        text(&report.title)
    );
    let _ = writeln!(html, "<h1>{}</h1>", text(&report.title));
    run_section(&mut html, report);
    users_section(&mut html, &report.users);
    let _ = write!(
        html,
        "<h2>Timelines</h2>\n<p class=\"note\">The top {} users: their sign-ins from an hour \
         before their first finding to an hour after their last. Interactive sign-ins above, \
         non-interactive below, coloured by network; a line joins each finding's pair. Hover \
         a sign-in for its IP, country, app and result.</p>\n",
        report.timelines.len()
    );
    for timeline in &report.timelines {
        timeline_section(&mut html, timeline);
    }
    let _ = write!(
        html,
        "<script nonce=\"{nonce}\">{SCRIPT}</script>\n</body></html>\n"
    );
    out.write_all(html.as_bytes())?;
    out.flush()
}

fn run_section(html: &mut String, report: &Report) {
    html.push_str("<h2>The run</h2>\n<dl class=\"run\">\n");
    for (name, value) in &report.run {
        let _ = writeln!(html, "<dt>{}</dt><dd>{}</dd>", text(name), text(value));
    }
    html.push_str("</dl>\n");
    if report.exclusions.is_empty() {
        return;
    }
    html.push_str(
        "<table class=\"exclusions\"><thead><tr><th>Exclusion rule</th><th>Rows removed</th>\
         <th>Why</th></tr></thead><tbody>\n",
    );
    for (name, rows, reason) in &report.exclusions {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"n\">{rows}</td><td>{}</td></tr>",
            text(name),
            text(reason)
        );
    }
    html.push_str("</tbody></table>\n");
}

fn users_section(html: &mut String, users: &Table) {
    let _ = write!(
        html,
        "<h2>Users, ranked</h2>\n<p><input id=\"filter\" type=\"search\" \
         placeholder=\"Filter users\" aria-label=\"Filter users\"> <span id=\"shown\"></span> \
         <button id=\"previous\" type=\"button\">Previous</button> \
         <button id=\"next\" type=\"button\">Next</button></p>\n\
         <table id=\"users\" data-rows=\"{}\"><thead><tr>",
        users.rows.len()
    );
    for (index, column) in users.columns.iter().enumerate() {
        let _ = write!(
            html,
            "<th data-column=\"{index}\" title=\"Sort\">{}</th>",
            text(column)
        );
    }
    html.push_str("</tr></thead><tbody>\n");
    for (rank, row) in users.rows.iter().enumerate() {
        let _ = write!(html, "<tr data-rank=\"{rank}\">");
        for (index, cell) in row.iter().enumerate() {
            match index {
                0 => {
                    let _ = write!(
                        html,
                        "<td><a href=\"#{}\">{}</a></td>",
                        text(&anchor(cell)),
                        text(cell)
                    );
                }
                _ => {
                    let _ = write!(html, "<td>{}</td>", text(cell));
                }
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table>\n");
}

fn timeline_section(html: &mut String, timeline: &Timeline) {
    let _ = write!(
        html,
        "<section class=\"timeline\" id=\"{}\" data-user=\"{}\" data-signins=\"{}\" \
         data-pairs=\"{}\">\n<h3>{}</h3>\n<p class=\"note\">{} to {}: {} sign-ins, {} findings</p>\n",
        text(&anchor(&timeline.user)),
        text(&timeline.user),
        timeline.sign_ins.len(),
        timeline.pairs.len(),
        text(&timeline.user),
        time(timeline.from),
        time(timeline.to),
        timeline.sign_ins.len(),
        timeline.pairs.len(),
    );
    let span = (timeline.to - timeline.from).max(1) as f64;
    let x = |t: i64| MARGIN + (t - timeline.from) as f64 / span * (WIDTH - 2.0 * MARGIN);
    let lane = |interactive: bool| {
        if interactive {
            LANE / 2.0
        } else {
            LANE * 1.5 + 12.0
        }
    };
    let axis = LANE * 2.0 + 24.0;
    let height = axis + 14.0;
    let _ = write!(
        html,
        "<svg viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" \
         role=\"img\" aria-label=\"Sign-ins of {}\">\n\
         <text x=\"{MARGIN}\" y=\"12\" class=\"lane\">interactive</text>\
         <text x=\"{MARGIN}\" y=\"{}\" class=\"lane\">non-interactive</text>\n",
        text(&timeline.user),
        LANE + 24.0,
    );
    for tick in ticks(timeline.from, timeline.to) {
        let _ = writeln!(
            html,
            "<line class=\"tick\" x1=\"{0:.1}\" y1=\"0\" x2=\"{0:.1}\" y2=\"{axis}\"/>\
             <text class=\"tick\" x=\"{0:.1}\" y=\"{1}\">{2}</text>",
            x(tick),
            height - 2.0,
            DateTime::from_timestamp_nanos(tick).format("%H:%M"),
        );
    }
    for pair in &timeline.pairs {
        let _ = writeln!(
            html,
            "<line class=\"pair\" x1=\"{:.1}\" y1=\"{}\" x2=\"{:.1}\" y2=\"{}\"/>",
            x(pair.interactive),
            lane(true),
            x(pair.non_interactive),
            lane(false)
        );
    }
    for sign_in in &timeline.sign_ins {
        let _ = writeln!(
            html,
            "<circle class=\"signin\" cx=\"{:.1}\" cy=\"{}\" r=\"5\" fill=\"{}\"><title>{} \
             {}</title></circle>",
            x(sign_in.time),
            lane(sign_in.interactive),
            colour(&sign_in.network),
            time(sign_in.time),
            text(&sign_in.detail)
        );
    }
    html.push_str("</svg>\n");
    legend(html, timeline);
    html.push_str("<ol class=\"pairs\">\n");
    for pair in &timeline.pairs {
        let _ = write!(
            html,
            "<li>{} → {}",
            time(pair.interactive),
            time(pair.non_interactive)
        );
        for (name, value) in &pair.facts {
            let _ = write!(html, " · {}: {}", text(name), text(value));
        }
        let _ = writeln!(
            html,
            "<details><summary>Sentinel entities</summary><pre>{}</pre></details></li>",
            text(&pair.entities)
        );
    }
    html.push_str("</ol>\n</section>\n");
}

/// Round instants between `from` and `to` for the time axis: the finest step of the usual
/// ones that gives at most eight.
fn ticks(from: i64, to: i64) -> Vec<i64> {
    const MINUTE: i64 = 60_000_000_000;
    let steps = [1, 5, 10, 15, 30, 60, 120, 360, 720, 1440].map(|m| m * MINUTE);
    let span = (to - from).max(1);
    let step = steps
        .into_iter()
        .find(|step| span / step <= 8)
        .unwrap_or(span / 8 + 1);
    let first = from.div_euclid(step) * step + step;
    (0..)
        .map(|i| first + i * step)
        .take_while(|&t| t < to)
        .collect()
}

/// The networks of a timeline, each with its colour.
fn legend(html: &mut String, timeline: &Timeline) {
    let mut networks: Vec<&str> = timeline
        .sign_ins
        .iter()
        .map(|s| s.network.as_str())
        .collect();
    networks.sort_unstable();
    networks.dedup();
    html.push_str("<p class=\"legend\">");
    for network in networks {
        let _ = write!(
            html,
            "<svg width=\"12\" height=\"12\"><circle cx=\"6\" cy=\"6\" r=\"5\" fill=\"{}\"/></svg> \
             AS{} ",
            colour(network),
            text(network)
        );
    }
    html.push_str("</p>\n");
}

/// A stable colour per network: a hue from its name, never the name itself.
fn colour(network: &str) -> String {
    let hash = network.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("hsl({}, 65%, 45%)", hash % 360)
}

fn time(nanos: i64) -> String {
    DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An id for a user's timeline: its characters as hex, so no value can break out of it.
fn anchor(user: &str) -> String {
    user.bytes().fold(String::from("u-"), |mut id, b| {
        let _ = write!(id, "{b:02x}");
        id
    })
}

/// `value` as HTML text or inside a double-quoted attribute: control characters and
/// direction overrides made visible, then the markup characters and both quotes escaped.
fn text(value: &str) -> String {
    escape(&escape_for_terminal(value))
}

fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_quotes_and_invisible_characters_are_escaped() {
        assert_eq!(
            text("<script>x</script>\"'&"),
            "&lt;script&gt;x&lt;/script&gt;&quot;&#39;&amp;"
        );
        // A right-to-left override and an escape character become visible text.
        let shown = text("a\u{202e}b\u{1b}[31m");
        assert!(
            !shown.contains('\u{202e}') && !shown.contains('\u{1b}'),
            "{shown}"
        );
        assert_eq!(anchor("a\"<"), "u-61223c");
    }

    #[test]
    fn ticks_fall_on_round_instants_at_most_eight() {
        const MINUTE: i64 = 60_000_000_000;
        // 07:06:17 to 09:09:23, 123 minutes: quarter-hourly, 07:15 to 09:00.
        let from = 7 * 60 * MINUTE + 6 * MINUTE + 17_000_000_000;
        let to = 9 * 60 * MINUTE + 9 * MINUTE + 23_000_000_000;
        let at: Vec<i64> = ticks(from, to).iter().map(|t| t / MINUTE).collect();
        assert_eq!(at, [435, 450, 465, 480, 495, 510, 525, 540]);
    }
}
