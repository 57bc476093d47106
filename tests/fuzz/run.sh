#!/usr/bin/env bash
# Runs every fuzz target (ingest decoders, the KQL parser) for SECONDS (default 600) each; new crash inputs land in
# tests/fuzz/artifacts/<target>/ (copy them to tests/fixtures/fuzz/<target>/ once fixed).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
for target in ingest_json ingest_csv ingest_parquet kql_parse; do
    corpus="corpus/$target"
    mkdir -p "$corpus"
    cp -n ../fixtures/fuzz/"$target"/* "$corpus"/ 2>/dev/null || true
    cargo +nightly fuzz run --fuzz-dir . "$target" "$corpus" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1
done
