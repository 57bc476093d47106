"""Two of Sentinel's time-window hunts hand-translated to DuckDB SQL (PyPI `duckdb`), for
side-by-side timing with `retrohunt kql` on the same lake: the KQL is in benches/kql/, and
each translation was written from Kusto's documentation as a skilled DuckDB user would write
it (the stored lower-case `UserKey` for `tolower(UserPrincipalName)`, the band as a range
condition DuckDB plans itself), not from retrohunt's planner. A peer of `retrohunt bench
--external` (benches/peers/README.md); benches/kql_window_joins.sh checks its rows.

Usage: python3 benches/peers/duckdb_kql.py LAKE success-then-fail|tokens-after-interactive
           --start T --end T [--out ROWS.parquet] [--csv ROWS.csv] [--whole-process]

The result is materialised in DuckDB's memory, and that is what is timed; writing --out or
--csv (in retrohunt's CSV spelling: times RFC 3339 with nanoseconds, UTC) comes after. The
last line printed is {"seconds": ..., "peak_rss": ..., "rows": ...}; with --whole-process
nothing follows the row count, so that the bench times the whole process, writing included,
as it times `retrohunt kql`.
"""
import argparse
import json
import resource
import time

import duckdb

parser = argparse.ArgumentParser()
parser.add_argument("lake")
parser.add_argument("query", choices=["success-then-fail", "tokens-after-interactive"])
parser.add_argument("--start", required=True)
parser.add_argument("--end", required=True)
parser.add_argument("--out", default="")
parser.add_argument("--csv", default="")
parser.add_argument("--whole-process", action="store_true")
args = parser.parse_args()


def table(name):
    return f"read_parquet('{args.lake}/{name}/*/*.parquet', hive_partitioning = true)"


RANGE = f"TimeGenerated BETWEEN TIMESTAMPTZ '{args.start}' AND TIMESTAMPTZ '{args.end}'"

QUERIES = {
    # `join kind=inner` on user and app, `t1 < t2 and t2 - t1 <= 10m`, then the summarize;
    # ties of `sort by SuccessTime desc` ordered by every other column ascending, as
    # retrohunt documents (docs/kql.md).
    "success-then-fail": f"""
        WITH s AS (SELECT UserKey AS u, TimeGenerated AS t, IPAddress AS ip,
                          AppDisplayName AS app
                   FROM {table('SigninLogs')} WHERE ResultType = '0' AND {RANGE}),
             f AS (SELECT UserKey AS u, TimeGenerated AS t, IPAddress AS ip,
                          AppDisplayName AS app, ResultType
                   FROM {table('SigninLogs')} WHERE ResultType <> '0' AND {RANGE})
        SELECT s.u AS UserPrincipalName, s.ip AS SuccessIP, s.app AS AppDisplayName,
               f.ip AS FailIP, f.ResultType, max(f.t) AS FailTime, max(s.t) AS SuccessTime
        FROM s JOIN f ON s.u = f.u AND s.app = f.app
         AND s.t < f.t AND f.t <= s.t + INTERVAL 10 MINUTE
        WHERE s.ip <> f.ip
        GROUP BY ALL
        ORDER BY SuccessTime DESC, UserPrincipalName, SuccessIP, AppDisplayName, FailIP,
                 ResultType, FailTime""",
    # `arg_max(TimeGenerated, ...)` per user (ties by the other columns' values, as
    # retrohunt breaks them), then non-interactive tokens within ten minutes after it.
    "tokens-after-interactive": f"""
        WITH latest AS (
            SELECT UserKey AS Upn, TimeGenerated AS InteractiveTime,
                   IPAddress AS InteractiveIP, AutonomousSystemNumber AS InteractiveASN
            FROM {table('SigninLogs')} WHERE ResultType = '0' AND {RANGE}
            QUALIFY row_number() OVER (PARTITION BY UserKey
                ORDER BY TimeGenerated DESC, IPAddress, AutonomousSystemNumber) = 1)
        SELECT n.TimeGenerated, n.UserKey AS Upn, n.IPAddress, l.InteractiveIP,
               l.InteractiveTime, n.CorrelationId
        FROM {table('AADNonInteractiveUserSignInLogs')} n JOIN latest l ON n.UserKey = l.Upn
        WHERE n.ResultType = '0' AND n.{RANGE}
          AND n.TimeGenerated BETWEEN l.InteractiveTime
                                  AND l.InteractiveTime + INTERVAL 10 MINUTE
          AND n.IPAddress <> l.InteractiveIP AND n.AutonomousSystemNumber <> l.InteractiveASN
        ORDER BY TimeGenerated DESC, Upn, IPAddress, InteractiveIP, InteractiveTime,
                 CorrelationId""",
}

connection = duckdb.connect()
connection.execute("SET TimeZone = 'UTC'")
started = time.perf_counter()
connection.execute(f"CREATE TEMP TABLE result AS {QUERIES[args.query]}")
seconds = time.perf_counter() - started
if args.out:
    connection.execute(f"COPY result TO '{args.out}' (FORMAT parquet)")
if args.csv:
    # Times as retrohunt writes them; the file keeps the query's order.
    columns = connection.execute("DESCRIBE result").fetchall()
    select = ", ".join(
        f"strftime({name}, '%Y-%m-%dT%H:%M:%S.%nZ') AS {name}" if "TIMESTAMP" in kind else name
        for name, kind, *_ in columns)
    connection.execute(f"COPY (SELECT {select} FROM result) TO '{args.csv}' (HEADER, DELIMITER ',')")
rows = connection.execute("SELECT count(*) FROM result").fetchone()[0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(f"{args.query}: {rows} rows")
if not args.whole_process:
    print(json.dumps({"seconds": seconds, "peak_rss": peak, "rows": rows}))
