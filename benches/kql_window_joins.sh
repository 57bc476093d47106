#!/usr/bin/env bash
# The time-window hunts in KQL (the seed, success-then-fail, tokens after the last
# interactive sign-in), checked and then timed beside `retrohunt hunt`, the same KQL on stock
# DataFusion, and DuckDB running each hand-translated.
#
#   bash benches/kql_window_joins.sh LAKE START END [RUNS]
#
# First every engine's rows are compared, in order, as CSV (a difference stops the script);
# then `retrohunt bench` times every contender as a whole process writing its rows to
# Parquet, interleaved round by round (the seed's DuckDB rows checked again by the bench), and
# DuckDB's scan floor of the hunt's columns, a whole process too.
# Needs a release build (cargo build --release) and `pip install duckdb`.
set -euo pipefail
lake=$1 start=$2 end=$3 runs=${4:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
B=$here/target/release/retrohunt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
range=(--start "$start" --end "$end")

# The same rows in the same order; times compared to the nanosecond, whatever their digits
# (retrohunt writes 3, 6 or 9, DuckDB's strftime 9).
same() {
  if ! python3 - "$1" "$2" <<'PY'
import re, sys
nine = lambda m: m.group(1) + (m.group(2) or ".").ljust(10, "0") + "Z"
times = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z")
a, b = (times.sub(nine, open(path).read()) for path in sys.argv[1:])
sys.exit(a != b)
PY
  then
    echo "rows differ: $1 $2" >&2
    diff <(head -20 "$1") <(head -20 "$2") >&2 || true
    exit 1
  fi
}

# The seed: KQL on the operator and on stock DataFusion, against the hunt.
"$B" hunt --lake "$lake" "${range[@]}" --all --format csv --output "$work/hunt.csv"
"$B" kql --lake "$lake" --file "$here/sql/short_window_signin_mismatch.kql" "${range[@]}" \
  --all --format csv --output "$work/seed.csv"
"$B" kql --engine sql --lake "$lake" --file "$here/sql/short_window_signin_mismatch.kql" \
  "${range[@]}" --all --format csv --output "$work/seed-stock.csv"
same "$work/hunt.csv" "$work/seed.csv"
same "$work/hunt.csv" "$work/seed-stock.csv"
echo "seed: $(($(wc -l < "$work/seed.csv") - 1)) rows, equal on hunt, kql and kql --engine sql"

for query in success-then-fail tokens-after-interactive; do
  file=$here/benches/kql/${query//-/_}.kql
  "$B" kql --lake "$lake" --file "$file" "${range[@]}" --all --format csv --output "$work/$query.csv"
  "$B" kql --engine sql --lake "$lake" --file "$file" "${range[@]}" --all --format csv \
    --output "$work/$query-stock.csv"
  python3 "$here/benches/peers/duckdb_kql.py" "$lake" "$query" "${range[@]}" \
    --csv "$work/$query-duckdb.csv" > /dev/null
  same "$work/$query.csv" "$work/$query-stock.csv"
  same "$work/$query.csv" "$work/$query-duckdb.csv"
  echo "$query: $(($(wc -l < "$work/$query.csv") - 1)) rows, equal on kql, kql --engine sql and DuckDB"
done

K="--start '{start}' --end '{end}' --all --format parquet"
P="python3 $here/benches/peers/duckdb_kql.py '{lake}'"
externals=(
  --external "hunt=$B hunt --lake '{lake}' $K --output '{out}'"
  --external "kql-seed=$B kql --lake '{lake}' --file $here/sql/short_window_signin_mismatch.kql $K --output '{out}'"
  --external "kql-seed-stock=$B kql --engine sql --lake '{lake}' --file $here/sql/short_window_signin_mismatch.kql $K --output '{out}'"
  --external "duckdb-seed=python3 $here/benches/peers/duckdb_hunt.py '{lake}' expanded --out '{out}' --start '{start}' --end '{end}' --window {window} --whole-process"
  --external "duckdb-floor=python3 $here/benches/peers/duckdb_hunt.py '{lake}' floor --start '{start}' --end '{end}' --window {window} --whole-process"
)
for query in success-then-fail tokens-after-interactive; do
  file=$here/benches/kql/${query//-/_}.kql
  externals+=(
    --external "kql-$query=$B kql --lake '{lake}' --file $file $K --output $work/$query.parquet"
    --external "kql-$query-stock=$B kql --engine sql --lake '{lake}' --file $file $K --output $work/$query-stock.parquet"
    --external "duckdb-$query=$P $query --start '{start}' --end '{end}' --out $work/$query-duckdb.parquet --whole-process"
  )
done
"$B" bench --lake "$lake" "${range[@]}" --engines operator --runs "$runs" --warmup 1 \
  --format markdown "${externals[@]}"
