#!/usr/bin/env bash
# The measurement behind BENCHMARKS.md's "Object storage" section: ingest of a diagnostic-settings
# archive from Azurite against the same files on local disk, and the hunt on a lake in Azurite
# against the same lake on local disk; whole processes, interleaved, with the store requests each
# run made. Azurite is installed the way the tests install it.
# Usage: bash benches/cloud.sh [WORK_DIR]   (about 5 minutes on 2 cores, dev build)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$(mktemp -d)}"
rounds="${ROUNDS:-3}"
cargo build --quiet
retrohunt="$PWD/${CARGO_TARGET_DIR:-target}/debug/retrohunt"
storage="python3 $PWD/tests/emulators/storage.py"
emulators="$HOME/.cache/retrohunt/emulators"
[ -x "$emulators/node_modules/.bin/azurite-blob" ] ||
    npm install --no-audit --no-fund --prefix "$emulators" azurite@3.35.0
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -rf "$work/azurite"
"$emulators/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$port" \
    --location "$work/azurite" --silent --skipApiVersionCheck --loose --disableTelemetry &
azurite=$!
trap 'kill $azurite' EXIT
sleep 3
export AZURE_STORAGE_USE_EMULATOR=true AZURITE_BLOB_STORAGE_URL="http://127.0.0.1:$port"

[ -d "$work/archive" ] || "$retrohunt" generate --format diagnostic --users 200 --days 7 --seed 5 --out "$work/archive"
[ -d "$work/lake" ] || "$retrohunt" generate --format lake --users 1000 --days 30 --seed 5 --out "$work/lake"
echo "archive: $(du -sh "$work/archive" | cut -f1), lake: $(du -sh "$work/lake" | cut -f1)"
for container in insights-logs-signinlogs insights-logs-noninteractiveusersigninlogs; do
    $storage azure "$port" container "$container"
    $storage azure "$port" tree "$container" "$work/archive/$container"
done
$storage azure "$port" container lakes
$storage azure "$port" tree lakes/bench "$work/lake"

timed() { /usr/bin/time -f "%e s, %M KB" "$@"; }
for round in $(seq "$rounds"); do
    for where in local azurite; do
        rm -rf "$work/ingested"
        if [ "$where" = local ]; then
            inputs=("$work/archive/insights-logs-signinlogs" "$work/archive/insights-logs-noninteractiveusersigninlogs")
        else
            inputs=(az://insights-logs-signinlogs az://insights-logs-noninteractiveusersigninlogs)
        fi
        echo "== ingest $where, round $round"
        timed "$retrohunt" ingest --lake "$work/ingested" "${inputs[@]}" | grep -E "^read|^store|^records"
    done
    for where in local azurite; do
        lake="$work/lake"
        [ "$where" = azurite ] && lake=az://lakes/bench
        echo "== hunt $where, round $round"
        timed "$retrohunt" hunt --lake "$lake" --format csv > /dev/null
    done
done
