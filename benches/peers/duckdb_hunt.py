"""The hunt as a data engineer would write it in DuckDB (PyPI `duckdb`), for side-by-side
timing with `retrohunt hunt`: the scan floor, the plain range join, and the hand-bucketed
join, over a retrohunt lake, the findings written to Parquet.

Usage: python3 benches/peers/duckdb_hunt.py LAKE floor|plain|bucketed OUTPUT.parquet
Prints one line: the query, the rows, the seconds (from SQL text to the file written).
"""
import sys
import time

import duckdb

LAKE, QUERY, OUTPUT = sys.argv[1], sys.argv[2], sys.argv[3]
WINDOW = "INTERVAL 10 MINUTE"


def table(name):
    return f"read_parquet('{LAKE}/{name}/*/*.parquet', hive_partitioning = true)"


SIDES = f"""
interactive AS (
    SELECT TimeGenerated AS t, UserKey AS u, IPAddress AS ip, AutonomousSystemNumber AS asn,
           AppDisplayName AS app, CorrelationId AS cid
    FROM {table('SigninLogs')}
    WHERE ResultType = '0' AND AutonomousSystemNumber <> ''
),
non_interactive AS (
    SELECT TimeGenerated AS t, UserKey AS u, IPAddress AS ip, AutonomousSystemNumber AS asn,
           AppDisplayName AS app, CorrelationId AS cid
    FROM {table('AADNonInteractiveUserSignInLogs')}
    WHERE ResultType = '0' AND AutonomousSystemNumber <> ''
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
        ib AS (SELECT *, CAST(floor(epoch(t) / 600) AS BIGINT) AS b FROM interactive),
        nb AS (SELECT *, CAST(floor(epoch(t) / 600) AS BIGINT) AS b FROM non_interactive)
        SELECT {COLUMNS} FROM ib i JOIN nb n
          ON i.u = n.u AND (n.b = i.b OR n.b = i.b + 1)
        WHERE n.t BETWEEN i.t AND i.t + {WINDOW} AND {FILTER} {ORDER}""",
}

started = time.perf_counter()
connection = duckdb.connect()
connection.execute(f"COPY ({QUERIES[QUERY]}) TO '{OUTPUT}' (FORMAT parquet)")
rows = connection.execute(f"SELECT count(*) FROM '{OUTPUT}'").fetchone()[0]
print(f"{QUERY} {rows} rows {time.perf_counter() - started:.3f} s")
