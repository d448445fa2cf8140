#!/usr/bin/env bash
# Coverage-guided fuzzing of one harness with libFuzzer, on the stable toolchain
# (docs/fuzzing.md):
#
#   scripts/fuzz.sh run    <crate> <target> [seconds]   # default 60
#   scripts/fuzz.sh reduce <crate> <target>             # minimise the corpus
#
# e.g. scripts/fuzz.sh run portcullis-scan dpkg 300. This does what `cargo bolero test`
# does, but builds only the crate's unit tests (`--lib`): cargo-bolero builds every test
# target of the package, and integration tests and examples, which do not link the
# fuzzer's runtime, then fail to link (undefined `__sancov_lowest_stack`).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:?run or reduce}" crate="${2:?crate, e.g. portcullis-types}" target="${3:?target, e.g. manifest}"
seconds="${4:-60}"
test_name="fuzz_targets::$target"
workdir="crates/$crate/src/__fuzz__/fuzz_targets__$target"
target_dir="${CARGO_TARGET_DIR:-target}/bolero"

# cargo-bolero's libFuzzer flags without -Zsanitizer=address, the one nightly-only part.
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module --cfg fuzzing_libfuzzer \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares \
 -Cllvm-args=-sanitizer-coverage-stack-depth"
export BOLERO_FUZZER=libfuzzer
# --target keeps RUSTFLAGS off build scripts and proc macros.
build=(cargo test --locked -p "$crate" --lib --profile fuzz --target "$(rustc -vV | sed -n 's/^host: //p')"
  --target-dir "$target_dir")
"${build[@]}" --no-run
exe="$("${build[@]}" --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["lib"]:
        print(m["executable"])')"

mkdir -p "$workdir/corpus" "$workdir/crashes"
export BOLERO_TEST_NAME="$test_name" BOLERO_LIBTEST_HARNESS=1
case "$mode" in
  run)
    # Split on single spaces by the harness: one space between arguments, no newlines.
    args=("$workdir/corpus" "$workdir/crashes" "-artifact_prefix=$workdir/crashes/" -timeout=10
      "-max_total_time=$seconds" -rss_limit_mb=4096)
    export BOLERO_LIBFUZZER_ARGS="${args[*]}"
    "$exe" "$test_name" --exact --nocapture --quiet --test-threads 1
    ;;
  reduce)
    # The hand-written seeds and regression inputs stay under their names; of the rest,
    # libFuzzer keeps a small set of inputs that covers the edges they add (hit counts
    # ignored, or every loop length found would be kept).
    reduced="$(mktemp -d "$workdir/reduce.XXXXXX")"
    find "$workdir/corpus" -maxdepth 1 -type f \( -name 'seed-*' -o -name 'regress-*' \) \
      -exec cp {} "$reduced/" \;
    export BOLERO_LIBFUZZER_ARGS="-set_cover_merge=1 -use_counters=0 $reduced $workdir/corpus"
    "$exe" "$test_name" --exact --nocapture --quiet --test-threads 1
    rm -rf "$workdir/corpus"
    mv "$reduced" "$workdir/corpus"
    chmod 755 "$workdir/corpus"
    ;;
  *) echo "unknown mode $mode: run or reduce" >&2; exit 2 ;;
esac
