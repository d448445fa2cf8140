#!/usr/bin/env bash
# Blob pull throughput of two Portcullis builds (filesystem storage): one blob pushed per
# server, then pulled PULLS times with curl after a warm-up pull. Servers alternate old,
# new, new, old per block.
#
#   OLD_BIN=/path/to/old/portcullis NEW_BIN=target/release/portcullis bash bench/pull_ab.sh
#   BLOCKS=3 PULLS=5 BLOB_MIB=512 …
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_apt curl

: "${OLD_BIN:?OLD_BIN= the baseline binary}" "${NEW_BIN:?NEW_BIN= the binary under test}"
BLOCKS=${BLOCKS:-3}
PULLS=${PULLS:-5}
BLOB_MIB=${BLOB_MIB:-512}
PORT=${PORT:-15400}
PW=Bench-Password-1
AUTH="admin:$PW"
BASE="http://127.0.0.1:$PORT"
WORK=$(mktemp -d /var/tmp/portcullis-pull-ab.XXXXXX)
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

head -c "$((BLOB_MIB * 1024 * 1024))" /dev/urandom >"$WORK/blob"
DIGEST="sha256:$(sha256sum "$WORK/blob" | cut -d' ' -f1)"

one_server() { # binary → MiB/s of each pull, space-separated
  local dir="$WORK/data.$RANDOM" out="" i secs
  mkdir -p "$dir"
  PORTCULLIS_ADMIN_PASSWORD=$PW PORTCULLIS_LOG=error "$1" serve --data-dir "$dir" --listen "127.0.0.1:$PORT" 2>"$dir.log" &
  PID=$!
  for _ in $(seq 1 100); do curl -fs -o /dev/null -u "$AUTH" "$BASE/v2/" && break; sleep 0.1; done
  curl -fsS -u "$AUTH" -o /dev/null -H 'Content-Type: application/octet-stream' \
    --data-binary "@$WORK/blob" "$BASE/v2/library/pull/blobs/uploads/?digest=$DIGEST"
  curl -fsS -u "$AUTH" -o /dev/null "$BASE/v2/library/pull/blobs/$DIGEST" # warm-up
  for i in $(seq 1 "$PULLS"); do
    secs=$(curl -fsS -u "$AUTH" -o /dev/null -w '%{time_total}' "$BASE/v2/library/pull/blobs/$DIGEST")
    out="$out $(awk -v s="$secs" -v m="$BLOB_MIB" 'BEGIN { printf "%.0f", m / s }')"
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  rm -rf "$dir" "$dir.log"
  echo "$out"
}

OLD=() NEW=()
for b in $(seq 1 "$BLOCKS"); do
  for side in old new new old; do
    bin=$OLD_BIN; [ "$side" = new ] && bin=$NEW_BIN
    read -r -a got < <(one_server "$bin")
    echo "block $b $side: ${got[*]} MiB/s"
    if [ "$side" = old ]; then OLD+=("${got[@]}"); else NEW+=("${got[@]}"); fi
  done
done
stats() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1; s += $1 } END {
  m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f %.0f\n", s / NR, m }'; }
read -r om omed < <(stats "${OLD[@]}")
read -r nm nmed < <(stats "${NEW[@]}")
printf '\n%-28s %10s %10s %8s\n' "blob pull ${BLOB_MIB} MiB (MiB/s)" old new "new/old"
printf '%-28s %10s %10s %8s\n' "mean of ${#OLD[@]} pulls" "$om" "$nm" "$(awk -v a="$om" -v b="$nm" 'BEGIN { printf "%.3f", b / a }')"
printf '%-28s %10s %10s %8s\n' "median" "$omed" "$nmed" "$(awk -v a="$omed" -v b="$nmed" 'BEGIN { printf "%.3f", b / a }')"
echo "machine: $(nproc) cores; date: $(date -u +%F)"
