#!/usr/bin/env bash
# Blob push throughput of two Portcullis builds, with several pushes per server after a
# warm-up (bench/ab.sh times one push per round, right after start, which also counts
# the server's start-up work). Servers alternate old, new, new, old per block.
#
#   OLD_BIN=/path/to/old/portcullis NEW_BIN=target/release/portcullis bash bench/blob_ab.sh
#   BLOCKS=3 PUSHES=3 BLOB_MIB=96 …
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_apt curl

: "${OLD_BIN:?OLD_BIN= the baseline binary}" "${NEW_BIN:?NEW_BIN= the binary under test}"
BLOCKS=${BLOCKS:-3}
PUSHES=${PUSHES:-3}
BLOB_MIB=${BLOB_MIB:-96}
PORT=${PORT:-15200}
PW=Bench-Password-1
AUTH="admin:$PW"
BASE="http://127.0.0.1:$PORT"
WORK=$(mktemp -d /var/tmp/portcullis-blob-ab.XXXXXX)
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

for i in $(seq 1 "$PUSHES"); do
  head -c "$((BLOB_MIB * 1024 * 1024))" /dev/urandom >"$WORK/blob$i"
done

one_server() { # binary → MiB/s of each push, space-separated
  local dir="$WORK/data.$RANDOM" out="" i digest loc sep secs
  mkdir -p "$dir"
  PORTCULLIS_ADMIN_PASSWORD=$PW PORTCULLIS_LOG=error "$1" serve --data-dir "$dir" --listen "127.0.0.1:$PORT" 2>"$dir.log" &
  PID=$!
  for _ in $(seq 1 100); do curl -fs -o /dev/null -u "$AUTH" "$BASE/v2/" && break; sleep 0.1; done
  sleep 3 # let start-up work settle
  for i in $(seq 1 "$PUSHES"); do
    digest="sha256:$(sha256sum "$WORK/blob$i" | cut -d' ' -f1)"
    loc=$(curl -fsS -u "$AUTH" -X POST -D - -o /dev/null "$BASE/v2/library/blob$i/blobs/uploads/" \
      | awk 'tolower($1)=="location:" {print $2}' | tr -d '\r')
    case $loc in http*) ;; *) loc="$BASE$loc";; esac
    case $loc in *\?*) sep='&';; *) sep='?';; esac
    secs=$(curl -fsS -u "$AUTH" -o /dev/null -w '%{time_total}' -X PUT \
      -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/blob$i" "$loc${sep}digest=$digest")
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
printf '\n%-28s %10s %10s %8s\n' "blob push ${BLOB_MIB} MiB (MiB/s)" old new "new/old"
printf '%-28s %10s %10s %8s\n' "mean of ${#OLD[@]} pushes" "$om" "$nm" "$(awk -v a="$om" -v b="$nm" 'BEGIN { printf "%.3f", b / a }')"
printf '%-28s %10s %10s %8s\n' "median" "$omed" "$nmed" "$(awk -v a="$omed" -v b="$nmed" 'BEGIN { printf "%.3f", b / a }')"
echo "machine: $(nproc) cores; date: $(date -u +%F)"
