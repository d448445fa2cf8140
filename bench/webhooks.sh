#!/usr/bin/env bash
# Manifest GET throughput with and without a PULL_ARTIFACT webhook policy whose target is
# a local receiver: what pull events cost the pull path. Each measurement gets a fresh
# server (SQLite + filesystem, release build), so deliveries left over from one run do
# not load the next. The figures go into docs/benchmarks.md by hand.
#
#   bash bench/webhooks.sh                 # 2 rounds of 8 s wrk runs
#   ROUNDS=3 WRK_SECONDS=10 bash bench/webhooks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_apt wrk curl python3

ROUNDS=${ROUNDS:-2}
WRK_SECONDS=${WRK_SECONDS:-8}
SETTLE_SECONDS=${SETTLE_SECONDS:-10}
PC_PORT=${PC_PORT:-15010}
RX_PORT=${RX_PORT:-15011}
PW=Bench-Password-1
AUTH="admin:$PW"
WORK=$(mktemp -d /var/tmp/portcullis-webhook-bench.XXXXXX)
TARGET=${CARGO_TARGET_DIR:-target}

cargo build --release --locked -p portcullis >/dev/null
BIN=$TARGET/release/portcullis

cleanup() { kill "${PC_PID:-}" "${RX_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# The receiver: answers 200 to every POST and counts them (GET /count).
python3 - "$RX_PORT" >"$WORK/rx.log" 2>&1 <<'PY' &
import sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
count = 0
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            count += 1
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        body = str(count).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
RX_PID=$!
for _ in $(seq 1 50); do curl -fs -o /dev/null "http://127.0.0.1:$RX_PORT/count" && break; sleep 0.1; done

PC="http://127.0.0.1:$PC_PORT"
start_server() { # extra flags
  rm -rf "$WORK/pc"; mkdir -p "$WORK/pc"
  PORTCULLIS_ADMIN_PASSWORD=$PW PORTCULLIS_LOG=warn "$BIN" serve --data-dir "$WORK/pc" \
    --listen "127.0.0.1:$PC_PORT" "$@" 2>"$WORK/pc.log" &
  PC_PID=$!
  for _ in $(seq 1 100); do curl -fs -o /dev/null -u "$AUTH" "$PC/v2/" && break; sleep 0.1; done
}
stop_server() { kill "$PC_PID"; wait "$PC_PID" 2>/dev/null || true; }

put_blob() { # content
  local d="sha256:$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)"
  curl -fsS -u "$AUTH" -o /dev/null -X POST --data-binary "$1" "$PC/v2/library/bench/blobs/uploads/?digest=$d"
  echo "$d"
}
push_image() {
  local cfg='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' layer='bench layer'
  local cd ld
  cd=$(put_blob "$cfg"); ld=$(put_blob "$layer")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
    "$cd" "${#cfg}" "$ld" "${#layer}" >"$WORK/manifest"
  curl -fsS -u "$AUTH" -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$WORK/manifest" "$PC/v2/library/bench/manifests/latest"
}
add_policy() {
  curl -fsS -u "$AUTH" -o /dev/null -H 'Content-Type: application/json' "$PC/api/v2.0/projects/library/webhook/policies" \
    -d "{\"name\":\"pulls\",\"event_types\":[\"PULL_ARTIFACT\"],\"targets\":[{\"type\":\"http\",\"address\":\"http://127.0.0.1:$RX_PORT/hook\"}]}"
}
wrk_rps() {
  wrk -t2 -c64 -d"${WRK_SECONDS}s" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "$PC/v2/library/bench/manifests/latest" | awk '/Requests\/sec/ {printf "%.0f", $2}'
}
metric() { curl -fsS "$PC/metrics" | awk -v m="$1" '$1 ~ "^"m {print $2}' | head -n1; }
executions() {
  curl -fsS -u "$AUTH" -D - -o /dev/null "$PC/api/v2.0/projects/library/webhook/policies/1/executions?page_size=1" \
    | awk 'tolower($1)=="x-total-count:" {print $2}' | tr -d '\r'
}

printf '%-6s %-10s %10s %10s %10s %12s %12s\n' round policy "req/s" emitted dropped "deliveries" "received"
for round in $(seq 1 "$ROUNDS"); do
  # pull-q1: the same policy with a dispatch queue of one event, so that nearly every
  # event is dropped at once: what is left is the cost on the request path itself.
  for mode in none pull pull-q1; do
    case $mode in
      pull-q1) start_server --webhook-backlog 1 ;;
      *) start_server ;;
    esac
    push_image
    [ "$mode" != none ] && add_policy
    rx0=$(curl -fsS "http://127.0.0.1:$RX_PORT/count")
    rps=$(wrk_rps)
    emitted=$(metric 'portcullis_events_emitted_total')
    dropped=$(metric 'portcullis_events_dropped_total')
    delivered="-"; received="-"
    if [ "$mode" != none ]; then
      sleep "$SETTLE_SECONDS"
      delivered=$(executions)
      received=$(( $(curl -fsS "http://127.0.0.1:$RX_PORT/count") - rx0 ))
    fi
    printf '%-6s %-10s %10s %10s %10s %12s %12s\n' "$round" "$mode" "$rps" "$emitted" "$dropped" "$delivered" "$received"
    stop_server
  done
done
echo
echo "deliveries: executions written within ${SETTLE_SECONDS}s after the run; received: POSTs the receiver got by then"
echo "machine: $(nproc) cores, $(uname -srm), load $(cut -d' ' -f1-3 /proc/loadavg); date: $(date -u '+%F %H:%M UTC')"
