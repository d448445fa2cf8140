#!/usr/bin/env bash
# A hostile dpkg layer (1.56 M package entries) pushed twice at once into an auto-scan
# project; prints the scans' outcome and the server's peak RSS against the scanner's
# memory budget (--scan-memory-budget-mb, default 512).
#
#   bash bench/scan_bomb.sh                      # builds target/release/portcullis
#   BIN=/path/to/portcullis ENTRIES=1560000 COPIES=2 bash bench/scan_bomb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_apt curl

if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p portcullis
  BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/portcullis"
fi
PORT=${PORT:-15600}
PW=Bench-Password-1
WORK=$(mktemp -d /var/tmp/portcullis-scan-bomb.XXXXXX)
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
# One made-up Debian advisory: scans need a vulnerability database to start at all.
mkdir -p "$WORK/osv"
cat >"$WORK/osv/BENCH-0001.json" <<'JSON'
{"schema_version": "1.6.0", "id": "BENCH-0001", "modified": "2026-01-01T00:00:00Z",
 "summary": "an advisory for the benchmark", "affected": [{"package": {"ecosystem": "Debian:12",
 "name": "p1"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9"}]}]}]}
JSON
"$BIN" vulndb import --data-dir "$WORK/data" "$WORK/osv" >/dev/null
PORTCULLIS_ADMIN_PASSWORD=$PW PORTCULLIS_LOG=error "$BIN" serve --data-dir "$WORK/data" \
  --listen "127.0.0.1:$PORT" "$@" 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 1 100); do curl -fs -o /dev/null -u "admin:$PW" "http://127.0.0.1:$PORT/v2/" && break; sleep 0.1; done
python3 bench/scan_bomb.py --base "http://127.0.0.1:$PORT" --pid "$PID" \
  --auth "Basic $(printf 'admin:%s' "$PW" | base64 -w0)" \
  --entries "${ENTRIES:-1560000}" --copies "${COPIES:-2}"
