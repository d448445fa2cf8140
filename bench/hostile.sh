#!/usr/bin/env bash
# Stalled downloads and slowloris connections against a Portcullis server while a normal
# client pushes and pulls; prints the normal client's times and the server's memory.
#
#   bash bench/hostile.sh                      # builds target/release/portcullis
#   BIN=/path/to/portcullis STALLED=1000 SLOWLORIS=300 HOLD=20 bash bench/hostile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_apt curl

if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p portcullis
  BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/portcullis"
fi
PORT=${PORT:-15300}
PW=Bench-Password-1
AUTH="admin:$PW"
BASE="http://127.0.0.1:$PORT"
WORK=$(mktemp -d /var/tmp/portcullis-hostile.XXXXXX)
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

PORTCULLIS_ADMIN_PASSWORD=$PW PORTCULLIS_LOG=error "$BIN" serve --data-dir "$WORK/data" \
  --listen "127.0.0.1:$PORT" 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 1 100); do curl -fs -o /dev/null -u "$AUTH" "$BASE/v2/" && break; sleep 0.1; done

# A public project with one 16 MiB layer in an image, so that anyone may pull it.
curl -fsS -u "$AUTH" -H 'content-type: application/json' -o /dev/null \
  -d '{"project_name":"pub","metadata":{"public":"true"}}' "$BASE/api/v2.0/projects"
head -c $((16 << 20)) /dev/urandom >"$WORK/layer"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$WORK/config"
push() { # file → digest
  local d="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
  curl -fsS -u "$AUTH" -o /dev/null --data-binary "@$1" \
    -H 'content-type: application/octet-stream' "$BASE/v2/pub/big/blobs/uploads/?digest=$d"
  echo "$d"
}
LAYER=$(push "$WORK/layer")
CONFIG=$(push "$WORK/config")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
  "$CONFIG" "$(stat -c %s "$WORK/config")" "$LAYER" "$(stat -c %s "$WORK/layer")" >"$WORK/manifest"
curl -fsS -u "$AUTH" -o /dev/null -X PUT -H 'content-type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary "@$WORK/manifest" "$BASE/v2/pub/big/manifests/v1"

echo "server: $BIN (pid $PID); stalled ${STALLED:-1000}, slowloris ${SLOWLORIS:-300}"
python3 bench/hostile.py --base "$BASE" --pid "$PID" --blob "$LAYER" --repo pub/big \
  --auth "Basic $(printf '%s' "$AUTH" | base64 -w0)" \
  --stalled "${STALLED:-1000}" --slowloris "${SLOWLORIS:-300}" --hold "${HOLD:-20}"
