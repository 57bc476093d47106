"""The hunt as a data engineer would write it in DuckDB (PyPI `duckdb`), for side-by-side
timing with `retrohunt hunt`: the scan floor, the plain range join, and the hand-bucketed
join, over a retrohunt lake. A peer of `retrohunt bench --external` (benches/peers/README.md).

Usage: python3 benches/peers/duckdb_hunt.py LAKE floor|plain|bucketed|expanded
           [--out ROWS.parquet] [--start T] [--end T] [--window SECONDS] [--whole-process]

The query's result is materialised in DuckDB's memory (as `retrohunt bench` collects ours),
and that is what is timed; writing it to --out comes after. The last line printed is
{"seconds": ..., "peak_rss": ..., "rows": ...}, the figures `retrohunt bench` reports for it;
with --whole-process nothing follows the row count, and the bench times the whole process.
"""
import argparse
import json
import resource
import time

import duckdb

parser = argparse.ArgumentParser()
parser.add_argument("lake")
parser.add_argument("query", choices=["floor", "plain", "bucketed", "expanded"])
parser.add_argument("--out", default="")
parser.add_argument("--start", default="")
parser.add_argument("--end", default="")
parser.add_argument("--window", type=float, default=600)
parser.add_argument("--whole-process", action="store_true",
                    help="print no figures, so that the bench times the whole process")
args = parser.parse_args()
LAKE = args.lake
WINDOW = f"INTERVAL {args.window} SECOND"
BUCKET = args.window
# Both sides keep to the range, as the hunt's do.
RANGE = "".join(
    f" AND TimeGenerated {op} TIMESTAMPTZ '{value}'"
    for op, value in ((">=", args.start), ("<=", args.end))
    if value
)


def table(name):
    return f"read_parquet('{LAKE}/{name}/*/*.parquet', hive_partitioning = true)"


SIDES = f"""
interactive AS (
    SELECT TimeGenerated AS t, UserKey AS u, IPAddress AS ip, AutonomousSystemNumber AS asn,
           AppDisplayName AS app, CorrelationId AS cid
    FROM {table('SigninLogs')}
    WHERE ResultType = '0' AND AutonomousSystemNumber <> ''{RANGE}
),
non_interactive AS (
    SELECT TimeGenerated AS t, UserKey AS u, IPAddress AS ip, AutonomousSystemNumber AS asn,
           AppDisplayName AS app, CorrelationId AS cid
    FROM {table('AADNonInteractiveUserSignInLogs')}
    WHERE ResultType = '0' AND AutonomousSystemNumber <> ''{RANGE}
)"""

COLUMNS = """
    i.t AS InteractiveTime, n.t AS NonInteractiveTime,
    epoch(date_trunc('second', n.t)) - epoch(date_trunc('second', i.t)) AS TimeDeltaSeconds,
    i.u AS UserPrincipalName, split_part(i.u, '@', 1) AS AccountName,
    split_part(i.u, '@', 2) AS AccountUPNSuffix, i.ip AS InteractiveIP,
    n.ip AS NonInteractiveIP, i.asn AS InteractiveASN, n.asn AS NonInteractiveASN,
    i.app AS InteractiveAppDisplayName, n.app AS NonInteractiveAppDisplayName,
    i.cid AS InteractiveCorrelationId, n.cid AS NonInteractiveCorrelationId"""

FILTER = "i.asn <> n.asn AND i.ip <> n.ip"
ORDER = "ORDER BY InteractiveTime DESC, NonInteractiveTime, InteractiveCorrelationId, NonInteractiveCorrelationId"

QUERIES = {
    # As sql/scan_floor.sql: every column the hunt reads is decoded, nothing is held.
    "floor": f"""WITH {SIDES}
        SELECT 'SigninLogs' AS side, count(*), max(t), max(u), max(ip), max(asn), max(app),
               max(cid) FROM interactive
        UNION ALL
        SELECT 'AADNonInteractiveUserSignInLogs', count(*), max(t), max(u), max(ip), max(asn),
               max(app), max(cid) FROM non_interactive""",
    "plain": f"""WITH {SIDES}
        SELECT {COLUMNS} FROM interactive i JOIN non_interactive n
          ON i.u = n.u AND n.t BETWEEN i.t AND i.t + {WINDOW}
        WHERE {FILTER} {ORDER}""",
    # The classic rewrite: join on the user and a window-sized bucket (this one and the
    # next), then filter by time.
    "bucketed": f"""WITH {SIDES},
        ib AS (SELECT *, CAST(floor(epoch(t) / {BUCKET}) AS BIGINT) AS b FROM interactive),
        nb AS (SELECT *, CAST(floor(epoch(t) / {BUCKET}) AS BIGINT) AS b FROM non_interactive)
        SELECT {COLUMNS} FROM ib i JOIN nb n
          ON i.u = n.u AND (n.b = i.b OR n.b = i.b + 1)
        WHERE n.t BETWEEN i.t AND i.t + {WINDOW} AND {FILTER} {ORDER}""",
    # The strongest form: each interactive sign-in listed under its own bucket and the next,
    # so the join is a plain equi-join on (user, bucket) that DuckDB hashes; a pair meets in
    # exactly one bucket, since the window is one bucket long.
    "expanded": f"""WITH {SIDES},
        ib AS (SELECT *, unnest([CAST(floor(epoch(t) / {BUCKET}) AS BIGINT),
                                 CAST(floor(epoch(t) / {BUCKET}) AS BIGINT) + 1]) AS b
               FROM interactive),
        nb AS (SELECT *, CAST(floor(epoch(t) / {BUCKET}) AS BIGINT) AS b FROM non_interactive)
        SELECT {COLUMNS} FROM ib i JOIN nb n ON i.u = n.u AND n.b = i.b
        WHERE n.t BETWEEN i.t AND i.t + {WINDOW} AND {FILTER} {ORDER}""",
}

connection = duckdb.connect()
started = time.perf_counter()
connection.execute(f"CREATE TEMP TABLE result AS {QUERIES[args.query]}")
seconds = time.perf_counter() - started
if args.out:
    connection.execute(f"COPY result TO '{args.out}' (FORMAT parquet)")
rows = connection.execute("SELECT count(*) FROM result").fetchone()[0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(f"{args.query}: {rows} rows")
if not args.whole_process:
    print(json.dumps({"seconds": seconds, "peak_rss": peak, "rows": rows}))
