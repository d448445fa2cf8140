#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, and the end-to-end tests with real
# clients on both metadata backends (SQLite, PostgreSQL) and both blob backends
# (filesystem, S3 via moto_server). Installs whatever is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

ensure_apt skopeo umoci podman ca-certificates openssl
ensure_moto
ensure_postgres
ensure_venv

# A clean clone builds once: incremental state would only add gigabytes to the disk.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The fuzz harnesses (docs/fuzzing.md) run inside cargo test: their corpus, then random
# inputs for this long per target.
export BOLERO_RANDOM_TEST_TIME_MS="${BOLERO_RANDOM_TEST_TIME_MS:-1000}"
echo "== cargo test (SQLite + filesystem, PostgreSQL + S3)"
cargo test --workspace --locked -- --test-threads "${PORTCULLIS_TEST_THREADS:-4}"
# The server binary the end-to-end tests built, for the compatibility checks below.
BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/portcullis"
echo "== Harbor's Python client (harbor-api-client, pinned) over every implemented area"
PORTCULLIS_BIN="$BIN" bash scripts/compat-python.sh
echo "== Harbor API operations routed (fails below the floor)"
PORTCULLIS_BIN="$BIN" bash scripts/harbor-coverage.sh --min 128
