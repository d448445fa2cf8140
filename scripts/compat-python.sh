#!/usr/bin/env bash
# Compatibility with Harbor's Python client and ORAS's Python SDK: creates a virtualenv under
# ${CARGO_TARGET_DIR:-target}/compat-venv (reused when present), installs the pinned,
# unmodified `harbor-api-client` and `oras` there, starts a throwaway server
# (PORTCULLIS_BIN, default target/debug/portcullis) on a free port with a fresh data
# directory, runs tests/compat/harbor_client_compat.py (extra arguments go to it, e.g.
# --verbose) and tests/compat/oras_sdk.py against it, and stops the server on exit.
# Exits non-zero when any check fails.
set -euo pipefail
# A PORTCULLIS_BIN or CARGO_TARGET_DIR relative to the caller's directory still names
# the same place after cd.
if [ -n "${PORTCULLIS_BIN:-}" ] && [ "${PORTCULLIS_BIN#/}" = "$PORTCULLIS_BIN" ]; then
  PORTCULLIS_BIN="$PWD/$PORTCULLIS_BIN"
fi
if [ -n "${CARGO_TARGET_DIR:-}" ] && [ "${CARGO_TARGET_DIR#/}" = "$CARGO_TARGET_DIR" ]; then
  CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR"
fi
cd "$(dirname "$0")/.."
source scripts/lib/throwaway-server.sh

CLIENT_VERSION="2.12.2"
ORAS_VERSION="0.2.43"
BIN="${PORTCULLIS_BIN:-target/debug/portcullis}"
VENV="${CARGO_TARGET_DIR:-target}/compat-venv"
PASSWORD="Compat-Password-1"
ADAPTER_KEY="compat-adapter-key-$$-$RANDOM$RANDOM"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$BIN" ]; then
  echo "no server binary at $BIN (build it, or set PORTCULLIS_BIN)" >&2
  exit 2
fi

# The virtualenv, with the client pinned (reinstalled when another version is there).
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating the virtualenv $VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi
# The clients, pinned (reinstalled when another version is there): Harbor's API client
# and ORAS's Python SDK.
for pkg in "harbor-api-client==$CLIENT_VERSION" "oras==$ORAS_VERSION"; do
  installed="$("$VENV/bin/python" -c 'import sys; from importlib.metadata import version; print(version(sys.argv[1]))' "${pkg%%==*}" 2>/dev/null || true)"
  if [ "$installed" != "${pkg##*==}" ]; then
    echo "installing $pkg into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$pkg"
  fi
done

DIR="$(mktemp -d "${TMPDIR:-/tmp}/compat-python.XXXXXX")"
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

# A one-advisory vulnerability database (CVE-2023-0286 in Debian 11's openssl), so that
# scans find something and reports, summaries and exports have content.
mkdir -p "$DIR/osv"
cat >"$DIR/osv/DSA-5343-1.json" <<'EOF_OSV'
{"id": "DSA-5343-1", "modified": "2023-02-07T00:00:00Z", "published": "2023-02-07T00:00:00Z",
 "aliases": ["CVE-2023-0286"], "summary": "openssl - security update",
 "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H"}],
 "affected": [{"package": {"ecosystem": "Debian:11", "name": "openssl"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.1n-0+deb11u9"}]}]}]}
EOF_OSV
"$BIN" --data-dir "$DIR/data" vulndb import "$DIR/osv" >"$DIR/vulndb.log" 2>&1 || {
  echo "importing the compat advisory failed:" >&2
  cat "$DIR/vulndb.log" >&2
  exit 2
}

# The scanner adapter API is on so that the test can register the server itself as an
# external scanner (create/ping/metadata of a real adapter).
SERVER_ENV=(PORTCULLIS_SCANNER_ADAPTER_API_KEY="$ADAPTER_KEY")
start_throwaway_server

status=0
"$VENV/bin/python" tests/compat/harbor_client_compat.py \
  --base "$BASE" --user admin --password "$PASSWORD" --adapter-key "$ADAPTER_KEY" --vulndb "$@" || status=$?
"$VENV/bin/python" tests/compat/oras_sdk.py --base "$BASE" --password "$PASSWORD" || status=$?
if [ "$status" -ne 0 ]; then
  echo "compat-python: FAILED (exit $status)" >&2
  if [ -s "$DIR/server.log" ]; then
    echo "server log (last 50 lines):" >&2
    tail -n 50 "$DIR/server.log" >&2
  fi
fi
exit "$status"
