#!/usr/bin/env bash
# Crash consistency on both backend pairs: concurrent pushes while the server is killed
# with SIGKILL and restarted; then every acknowledged push is read back and checked.
# Prints acknowledged / lost / corrupt per pair; fails if anything was lost or corrupt.
#
#   bash bench/crash.sh                          # builds target/release/portcullis
#   BIN=/path/to/portcullis KILLS=14 PUSHERS=8 bash bench/crash.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_apt curl
ensure_moto
ensure_postgres

if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p portcullis
  BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/portcullis"
fi
PORT=${PORT:-15500}
S3_PORT=${S3_PORT:-15501}
PW=Bench-Password-1
WORK=$(mktemp -d /var/tmp/portcullis-crash.XXXXXX)
DB="portcullis_crash_$$"
cleanup() {
  [ -n "${MOTO:-}" ] && kill "$MOTO" 2>/dev/null
  pkill -f "$WORK/" 2>/dev/null || true
  psql "$PORTCULLIS_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export PORTCULLIS_ADMIN_PASSWORD=$PW PORTCULLIS_LOG=error
AUTH="Basic $(printf 'admin:%s' "$PW" | base64 -w0)"

run() { # label, extra serve arguments…
  local label=$1; shift
  echo "== $label"
  python3 bench/crash.py --base "http://127.0.0.1:$PORT" --auth "$AUTH" \
    --pushers "${PUSHERS:-8}" --kills "${KILLS:-14}" \
    --start "$BIN serve --data-dir $WORK/$label --listen 127.0.0.1:$PORT $*"
}

run embedded
moto_server -p "$S3_PORT" >"$WORK/moto.log" 2>&1 &
MOTO=$!
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$S3_PORT/" && break; sleep 0.1; done
curl -fsS -X PUT -o /dev/null "http://127.0.0.1:$S3_PORT/crash"
psql "$PORTCULLIS_TEST_PG_URL" -qc "CREATE DATABASE $DB" >/dev/null
PG_URL="${PORTCULLIS_TEST_PG_URL%/*}/$DB"
run scale-out --database-url "$PG_URL" --storage s3 --s3-endpoint "http://127.0.0.1:$S3_PORT" \
  --s3-bucket crash --s3-access-key test --s3-secret-key test --s3-region us-east-1
