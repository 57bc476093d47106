#!/usr/bin/env bash
# The measurement behind docs/triage.md's table: three generated tenant shapes, each with the
# rules `triage suggest` writes under its defaults, measured against the tenant's ground truth.
# Usage: bash benches/triage_shapes.sh [WORK_DIR]   (about 3 minutes on 2 cores, dev build)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$(mktemp -d)}"
cargo build --quiet
retrohunt="${CARGO_TARGET_DIR:-target}/debug/retrohunt"
shape() {
    local name=$1; shift
    rm -rf "$work/$name"
    "$retrohunt" generate --format lake --out "$work/$name" "$@"
    "$retrohunt" triage suggest --lake "$work/$name" --out "$work/$name.toml"
    echo "== $*"
    "$retrohunt" triage measure --lake "$work/$name" --rules "$work/$name.toml" \
        --truth "$work/$name/_ground_truth.jsonl"
}
shape a --users 1000 --days 14 --seed 3
shape b --users 2000 --days 30 --seed 11 --networks europe --heavy-per-mille 30
shape c --users 300 --days 7 --seed 21 --heavy-per-mille 50
