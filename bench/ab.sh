#!/usr/bin/env bash
# Two Portcullis builds side by side, in one run, on the hot paths a refactor can slow:
# manifest GET (wrk), manifest PUT (wrk re-pushing one manifest, so each request is a full
# push: transaction, durable event, audit entry) and a monolithic blob push. Rounds
# alternate A and B so that the machine's drift hits both alike.
#
#   OLD_BIN=/path/to/old/portcullis NEW_BIN=target/release/portcullis bash bench/ab.sh
#   ROUNDS=3 WRK_SECONDS=10 BLOB_MIB=256 …
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_apt wrk curl

: "${OLD_BIN:?OLD_BIN= the baseline binary}" "${NEW_BIN:?NEW_BIN= the binary under test}"
ROUNDS=${ROUNDS:-3}
WRK_SECONDS=${WRK_SECONDS:-8}
BLOB_MIB=${BLOB_MIB:-128}
PORT=${PORT:-15100}
PW=Bench-Password-1
AUTH="admin:$PW"
WORK=$(mktemp -d /var/tmp/portcullis-ab.XXXXXX)
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

head -c "$((BLOB_MIB * 1024 * 1024))" /dev/urandom >"$WORK/blob"
DIGEST="sha256:$(sha256sum "$WORK/blob" | cut -d' ' -f1)"
CFG='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
CFG_D="sha256:$(printf '%s' "$CFG" | sha256sum | cut -d' ' -f1)"
MANIFEST=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' "$CFG_D" "${#CFG}" "$DIGEST" "$(stat -c %s "$WORK/blob")")
B64=$(printf '%s' "$AUTH" | base64 -w0)
cat >"$WORK/put.lua" <<LUA
wrk.method = "PUT"
wrk.body = '$MANIFEST'
wrk.headers["Content-Type"] = "application/vnd.oci.image.manifest.v1+json"
wrk.headers["Authorization"] = "Basic $B64"
LUA

push_blob() { # base repo → seconds
  local loc
  loc=$(curl -fsS -u "$AUTH" -X POST -D - -o /dev/null "$1/v2/$2/blobs/uploads/" | awk 'tolower($1)=="location:" {print $2}' | tr -d '\r')
  case $loc in http*) ;; *) loc="$1$loc";; esac
  case $loc in *\?*) sep='&';; *) sep='?';; esac
  curl -fsS -u "$AUTH" -o /dev/null -w '%{time_total}' -X PUT -H 'Content-Type: application/octet-stream' \
    --data-binary "$3" "$loc${sep}digest=$4"
}

one_round() { # binary → "get put mibs"
  local dir="$WORK/data.$RANDOM" base="http://127.0.0.1:$PORT" secs get put
  mkdir -p "$dir"
  PORTCULLIS_ADMIN_PASSWORD=$PW PORTCULLIS_LOG=error "$1" serve --data-dir "$dir" --listen "127.0.0.1:$PORT" 2>"$dir.log" &
  PID=$!
  for _ in $(seq 1 100); do curl -fs -o /dev/null -u "$AUTH" "$base/v2/" && break; sleep 0.1; done
  secs=$(push_blob "$base" library/ab "@$WORK/blob" "$DIGEST")
  push_blob "$base" library/ab "$CFG" "$CFG_D" >/dev/null
  curl -fsS -u "$AUTH" -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "$MANIFEST" "$base/v2/library/ab/manifests/latest"
  get=$(wrk -t2 -c64 -d"${WRK_SECONDS}s" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "$base/v2/library/ab/manifests/latest" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  put=$(wrk -t2 -c8 -d"${WRK_SECONDS}s" -s "$WORK/put.lua" "$base/v2/library/ab/manifests/latest" \
    | awk '/Requests\/sec/ {printf "%.0f", $2}')
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  rm -rf "$dir"
  echo "$get $put $(awk -v s="$secs" -v m="$BLOB_MIB" 'BEGIN { printf "%.0f", m / s }')"
}

declare -a A_GET A_PUT A_BLOB B_GET B_PUT B_BLOB
for r in $(seq 1 "$ROUNDS"); do
  order="A B"; [ $((r % 2)) -eq 0 ] && order="B A"
  for side in $order; do
    bin=$OLD_BIN; [ "$side" = B ] && bin=$NEW_BIN
    read -r g p b < <(one_round "$bin")
    echo "round $r $side: manifest GET $g req/s, manifest PUT $p req/s, blob push $b MiB/s"
    if [ "$side" = A ]; then A_GET+=("$g"); A_PUT+=("$p"); A_BLOB+=("$b"); else B_GET+=("$g"); B_PUT+=("$p"); B_BLOB+=("$b"); fi
  done
done
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.0f", s / NR }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
printf '\n%-32s %12s %12s %8s\n' "mean of $ROUNDS rounds" "old (A)" "new (B)" "B / A"
for m in GET PUT BLOB; do
  a=$(eval mean "\${A_$m[@]}"); b=$(eval mean "\${B_$m[@]}")
  case $m in GET) label="manifest GET (req/s)";; PUT) label="manifest PUT (req/s)";; BLOB) label="blob push ${BLOB_MIB} MiB (MiB/s)";; esac
  printf '%-32s %12s %12s %8s\n' "$label" "$a" "$b" "$(ratio "$b" "$a")"
done
echo "machine: $(nproc) cores; date: $(date -u +%F)"
