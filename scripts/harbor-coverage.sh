#!/usr/bin/env bash
# Measures Harbor API v2.0 coverage: starts a throwaway server (PORTCULLIS_BIN, default
# target/debug/portcullis) on a free port with a fresh data directory, waits for
# /api/v2.0/ping, runs `scripts/harbor-coverage.py check` against it with the given
# arguments (e.g. --missing, --min N, --verbose), and stops the server on exit.
set -euo pipefail
# A PORTCULLIS_BIN relative to the caller's directory still names the same file after cd.
if [ -n "${PORTCULLIS_BIN:-}" ] && [ "${PORTCULLIS_BIN#/}" = "$PORTCULLIS_BIN" ]; then
  PORTCULLIS_BIN="$PWD/$PORTCULLIS_BIN"
fi
cd "$(dirname "$0")/.."
source scripts/lib/throwaway-server.sh

BIN="${PORTCULLIS_BIN:-target/debug/portcullis}"
PASSWORD="Coverage-Password-1"
if [ ! -x "$BIN" ]; then
  echo "no server binary at $BIN (build it, or set PORTCULLIS_BIN)" >&2
  exit 2
fi

DIR="$(mktemp -d "${TMPDIR:-/tmp}/harbor-coverage.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SERVER_ENV=()
start_throwaway_server

status=0
python3 scripts/harbor-coverage.py check "$BASE" --user admin --password "$PASSWORD" "$@" || status=$?
if [ "$status" -ne 0 ] && [ -s "$DIR/server.log" ]; then
  echo "server log:" >&2
  tail -n 50 "$DIR/server.log" >&2
fi
exit "$status"
