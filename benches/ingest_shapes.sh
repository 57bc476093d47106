#!/usr/bin/env bash
# Ingest on every source shape issue 35 names, each beside DuckDB's COPY of the same files
# (benches/peers/duckdb_ingest.py), with `retrohunt bench --ingest`:
#
#   bash benches/ingest_shapes.sh WORK [RUNS] [LAKE]
#
# Sources, made in WORK (kept between runs; delete it to make them again):
#   full.jsonl/      7 days of a 1,000-user tenant as Log Analytics JSON lines (~2 KB records)
#   flat.jsonl/      the same records cut by DuckDB to 19 flat fields (~600 B records)
#   flat.parquet     those flat records as Parquet written by DuckDB (its UUID type for GUIDs)
#   diagnostic/      the same tenant as a diagnostic-settings archive (hourly blobs)
#   tenant.parquet/  with LAKE (a 30-day benchmark lake): its sign-ins as Parquet written by
#                    DuckDB, one file a table and date in time order, without the lake's own
#                    UserKey column; timed twice with /usr/bin/time for its peak memory too
# Needs a release build (cargo build --release) and `pip install duckdb`.
set -euo pipefail
work=$1 runs=${2:-3} lake=${3:-}
here=$(cd "$(dirname "$0")/.." && pwd)
B=$here/target/release/retrohunt
mkdir -p "$work"

if [ ! -d "$work/full.jsonl" ]; then
  "$B" generate --format la-jsonl --users 1000 --days 7 --seed 7 --out "$work/full.jsonl"
fi
if [ ! -d "$work/diagnostic" ]; then
  "$B" generate --format diagnostic --users 1000 --days 7 --seed 7 --out "$work/diagnostic"
fi
if [ ! -f "$work/flat.parquet" ]; then
  python3 - "$work" <<'PY'
import glob, os, sys
import duckdb
work = sys.argv[1]
fields = ("TimeGenerated, Type, TenantId, CreatedDateTime, Id, CorrelationId, UserPrincipalName, "
          "UserDisplayName, UserId, UserType, AppDisplayName, AppId, ClientAppUsed, IPAddress, "
          "AutonomousSystemNumber, ResultType, ResultDescription, ConditionalAccessStatus, "
          "IsInteractive")
os.makedirs(f"{work}/flat.jsonl", exist_ok=True)
connection = duckdb.connect()
for path in sorted(glob.glob(f"{work}/full.jsonl/*/*.jsonl")):
    name = os.path.relpath(path, f"{work}/full.jsonl").replace("/", "-")
    connection.execute(f"COPY (SELECT {fields} FROM read_json('{path}')) "
                       f"TO '{work}/flat.jsonl/{name}' (FORMAT json)")
connection.execute(f"COPY (SELECT * FROM read_json('{work}/flat.jsonl/*.jsonl')) "
                   f"TO '{work}/flat.parquet' (FORMAT parquet)")
PY
fi
if [ -n "$lake" ] && [ ! -d "$work/tenant.parquet" ]; then
  python3 - "$lake" "$work/tenant.parquet" <<'PY'
import glob, os, sys
import duckdb
lake, out = sys.argv[1:]
os.makedirs(out)
connection = duckdb.connect()
for table in ("SigninLogs", "AADNonInteractiveUserSignInLogs"):
    for path in sorted(glob.glob(f"{lake}/{table}/date=*/data.parquet")):
        date = path.split("date=")[1].split("/")[0]
        connection.execute(
            f"COPY (SELECT * EXCLUDE (UserKey) FROM read_parquet('{path}') ORDER BY TimeGenerated) "
            f"TO '{out}/{table}-{date}.parquet' (FORMAT parquet)")
PY
fi

du -sh "$work"/full.jsonl "$work"/flat.jsonl "$work"/flat.parquet "$work"/diagnostic
peer="duckdb-copy=python3 $here/benches/peers/duckdb_ingest.py '{out}' {input}"
for source in full.jsonl flat.jsonl diagnostic flat.parquet; do
  echo "== $source"
  "$B" bench --ingest "$work/$source" --runs "$runs" --warmup 1 --format markdown --external "$peer"
done
if [ -n "$lake" ]; then
  du -sh "$work/tenant.parquet"
  echo "== tenant.parquet"
  "$B" bench --ingest "$work/tenant.parquet" --runs 2 --warmup 0 --format markdown \
    --external "$peer"
  for round in 1 2; do
    rm -rf "$work/ingested"
    /usr/bin/time -f "retrohunt ingest: %e s, %M KiB peak" \
      "$B" ingest --lake "$work/ingested" "$work/tenant.parquet" > /dev/null
  done
  rm -rf "$work/ingested"
fi
