"""Loading sign-in logs into Parquet as a data engineer would with DuckDB (PyPI `duckdb`), for
side-by-side timing with `retrohunt ingest`: one COPY of every input file, sorted by user and
time as a lake for this hunt would be, compressed with zstd. JSON (lines or documents) is read
with read_json, Parquet with read_parquet and written partitioned by date. A peer of
`retrohunt bench --ingest ... --external` (benches/peers/README.md).

Usage: python3 benches/peers/duckdb_ingest.py OUT_FOLDER INPUT...
"""
import os
import sys

import duckdb

out, inputs = sys.argv[1], sys.argv[2:]
files = []
for path in inputs:
    if os.path.isdir(path):
        for folder, _, names in os.walk(path):
            files.extend(os.path.join(folder, n) for n in sorted(names) if not n.startswith(("_", ".")))
    else:
        files.append(path)
parquet = all(f.endswith(".parquet") for f in files)
listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
source = (
    f"read_parquet({listed}, union_by_name = true)"
    if parquet
    else f"read_json({listed}, union_by_name = true)"
)
connection = duckdb.connect()
columns = {row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
order = (
    "ORDER BY lower(UserPrincipalName), TimeGenerated"
    if {"UserPrincipalName", "TimeGenerated"} <= columns
    else ""
)
if parquet and "TimeGenerated" in columns:
    select = f"SELECT *, CAST(TimeGenerated AS DATE) AS day FROM {source} {order}"
    options = "FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day)"
    target = out
else:
    select = f"SELECT * FROM {source} {order}"
    options = "FORMAT parquet, COMPRESSION zstd"
    target = os.path.join(out, "data.parquet")
connection.execute(f"COPY ({select}) TO '{target}' ({options})")
