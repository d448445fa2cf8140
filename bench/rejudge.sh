#!/usr/bin/env bash
# Re-judging benchmark: N artifacts (default 10000) with cached layer inventories in a
# SQLite metadata store are matched again against a new vulnerability database, reading
# no layer. Prints the time taken; figures are recorded in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked -q -p portcullis-core --example rejudge_bench -- "${1:-10000}"
