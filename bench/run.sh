#!/usr/bin/env bash
# Side-by-side benchmark of Portcullis and the CNCF Distribution registry (Debian package
# `docker-registry`) on loopback, in one run. Prints a table with ratios; the figures
# go into docs/benchmarks.md by hand, with the date and the machine.
#
#   bash bench/run.sh            # 512 MiB blob, 10 s wrk runs
#   BLOB_MIB=128 WRK_SECONDS=5 bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_apt docker-registry wrk curl

BLOB_MIB=${BLOB_MIB:-512}
CHUNK_MIB=${CHUNK_MIB:-8}
WRK_SECONDS=${WRK_SECONDS:-10}
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/portcullis-bench.XXXXXX)}
PC_PORT=${PC_PORT:-15000}
DR_PORT=${DR_PORT:-15001}
PW=Bench-Password-1
AUTH="admin:$PW"

cargo build --release --locked -p portcullis >/dev/null
BIN=${CARGO_TARGET_DIR:-target}/release/portcullis

cleanup() { kill "${PC_PID:-}" "${DR_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

mkdir -p "$WORK/pc" "$WORK/dr"
PORTCULLIS_ADMIN_PASSWORD=$PW PORTCULLIS_LOG=warn "$BIN" serve --data-dir "$WORK/pc" --listen "127.0.0.1:$PC_PORT" 2>"$WORK/pc.log" &
PC_PID=$!
cat >"$WORK/dr.yml" <<YML
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage:
  filesystem: { rootdirectory: $WORK/dr }
  delete: { enabled: true }
http: { addr: 127.0.0.1:$DR_PORT }
YML
/usr/bin/docker-registry serve "$WORK/dr.yml" >"$WORK/dr.log" 2>&1 &
DR_PID=$!
for i in $(seq 1 100); do
  curl -fs -o /dev/null -u "$AUTH" "http://127.0.0.1:$PC_PORT/v2/" && curl -fs -o /dev/null "http://127.0.0.1:$DR_PORT/v2/" && break
  sleep 0.1
done
sleep 1

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
PC_IDLE=$(rss_kb $PC_PID); DR_IDLE=$(rss_kb $DR_PID)

echo "generating a ${BLOB_MIB} MiB blob"
head -c "$((BLOB_MIB * 1024 * 1024))" /dev/urandom >"$WORK/blob"
DIGEST="sha256:$(sha256sum "$WORK/blob" | cut -d' ' -f1)"
BYTES=$(stat -c %s "$WORK/blob")
split -b "${CHUNK_MIB}M" -d -a 4 "$WORK/blob" "$WORK/chunk."

# Disk baseline: what dd writes with fdatasync to the same filesystem, same size.
DD_SECONDS=$( { /usr/bin/time -f %e dd if="$WORK/blob" of="$WORK/dd.out" bs=8M conv=fdatasync status=none; } 2>&1 )
rm -f "$WORK/dd.out"

mibs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }

# Monolithic: POST, then one PUT carrying the whole blob (works on both registries).
push_mono() { # base auth repo
  local base=$1 auth=$2 repo=$3 loc
  loc=$(curl -fsS $auth -X POST -D - -o /dev/null "$base/v2/$repo/blobs/uploads/" | awk 'tolower($1)=="location:" {print $2}' | tr -d '\r')
  case $loc in http*) ;; *) loc="$base$loc";; esac
  case $loc in *\?*) sep='&';; *) sep='?';; esac
  curl -fsS $auth -o /dev/null -w '%{time_total}' -X PUT -H 'Content-Type: application/octet-stream' \
    --data-binary @"$WORK/blob" "$loc${sep}digest=$DIGEST"
}

push_chunked() { # base auth repo
  local base=$1 auth=$2 repo=$3 loc start=0 t0 t1 f size end
  t0=$(date +%s.%N)
  loc=$(curl -fsS $auth -X POST -D - -o /dev/null "$base/v2/$repo/blobs/uploads/" | awk 'tolower($1)=="location:" {print $2}' | tr -d '\r')
  for f in "$WORK"/chunk.*; do
    case $loc in http*) ;; *) loc="$base$loc";; esac
    size=$(stat -c %s "$f"); end=$((start + size - 1))
    loc=$(curl -fsS $auth -X PATCH -D - -o /dev/null -H 'Content-Type: application/octet-stream' -H "Content-Range: $start-$end" \
      --data-binary @"$f" "$loc" | awk 'tolower($1)=="location:" {print $2}' | tr -d '\r')
    start=$((end + 1))
  done
  case $loc in http*) ;; *) loc="$base$loc";; esac
  case $loc in *\?*) sep='&';; *) sep='?';; esac
  curl -fsS $auth -o /dev/null -X PUT "$loc${sep}digest=$DIGEST"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

pull_once() { curl -fsS $2 -o /dev/null -w '%{time_total}\n' "$1/v2/$3/blobs/$DIGEST"; }
# Best of five: one pull of 512 MiB from the page cache lasts a fraction of a second.
pull_blob() { for _ in 1 2 3 4 5; do pull_once "$@"; done | sort -n | head -n1; }

PC="http://127.0.0.1:$PC_PORT"; DR="http://127.0.0.1:$DR_PORT"
PCA="-u $AUTH"; DRA=""

echo "blob push (monolithic)"
PC_MONO=$(push_mono "$PC" "$PCA" library/mono); DR_MONO=$(push_mono "$DR" "$DRA" library/mono)
echo "blob push (${CHUNK_MIB} MiB chunks)"
PC_CHUNK=$(push_chunked "$PC" "$PCA" library/chunked); DR_CHUNK=$(push_chunked "$DR" "$DRA" library/chunked)
echo "blob pull"
pull_blob "$PC" "" library/mono >/dev/null; pull_blob "$DR" "" library/mono >/dev/null  # warm the page cache alike
PC_PULL=$(pull_blob "$PC" "" library/mono); DR_PULL=$(pull_blob "$DR" "" library/mono)

# A small image manifest to GET.
CFG='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
CFG_D="sha256:$(printf '%s' "$CFG" | sha256sum | cut -d' ' -f1)"
for base in "$PC" "$DR"; do
  a=""; [ "$base" = "$PC" ] && a="$PCA"
  loc=$(curl -fsS $a -X POST -D - -o /dev/null "$base/v2/library/mono/blobs/uploads/" | awk 'tolower($1)=="location:" {print $2}' | tr -d '\r')
  case $loc in http*) ;; *) loc="$base$loc";; esac
  case $loc in *\?*) sep='&';; *) sep='?';; esac
  curl -fsS $a -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary "$CFG" "$loc${sep}digest=$CFG_D"
done
MANIFEST=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' "$CFG_D" "${#CFG}" "$DIGEST" "$BYTES")
MD="sha256:$(printf '%s' "$MANIFEST" | sha256sum | cut -d' ' -f1)"
for base in "$PC" "$DR"; do
  a=""; [ "$base" = "$PC" ] && a="$PCA"
  curl -fsS $a -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "$MANIFEST" "$base/v2/library/mono/manifests/latest"
done

wrk_rps() { # url
  wrk -t2 -c64 -d"${WRK_SECONDS}s" -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$1" | awk '/Requests\/sec/ {printf "%.0f", $2}'
}
echo "manifest GET (wrk, 64 connections, ${WRK_SECONDS}s each)"
PC_TAG=$(wrk_rps "$PC/v2/library/mono/manifests/latest"); DR_TAG=$(wrk_rps "$DR/v2/library/mono/manifests/latest")
PC_DIG=$(wrk_rps "$PC/v2/library/mono/manifests/$MD"); DR_DIG=$(wrk_rps "$DR/v2/library/mono/manifests/$MD")
PC_LOAD=$(hwm_kb $PC_PID); DR_LOAD=$(hwm_kb $DR_PID)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }
DD=$(mibs "$BYTES" "$DD_SECONDS")
PM=$(mibs "$BYTES" "$PC_MONO"); DM=$(mibs "$BYTES" "$DR_MONO")
PCH=$(mibs "$BYTES" "$PC_CHUNK"); DCH=$(mibs "$BYTES" "$DR_CHUNK")
PP=$(mibs "$BYTES" "$PC_PULL"); DP=$(mibs "$BYTES" "$DR_PULL")
printf '\n%-40s %14s %14s %8s\n' "measure" "Portcullis" "Distribution" "ratio"
printf '%-40s %14s %14s %8s\n' "disk: dd conv=fdatasync (MiB/s)" "$DD" "$DD" "-"
printf '%-40s %14s %14s %8s\n' "push ${BLOB_MIB} MiB monolithic (MiB/s)" "$PM" "$DM" "$(ratio "$PM" "$DM")"
printf '%-40s %14s %14s %8s\n' "  as share of dd" "$(ratio "$PM" "$DD")" "$(ratio "$DM" "$DD")" ""
printf '%-40s %14s %14s %8s\n' "push ${BLOB_MIB} MiB, ${CHUNK_MIB} MiB chunks (MiB/s)" "$PCH" "$DCH" "$(ratio "$PCH" "$DCH")"
printf '%-40s %14s %14s %8s\n' "pull ${BLOB_MIB} MiB (MiB/s)" "$PP" "$DP" "$(ratio "$PP" "$DP")"
printf '%-40s %14s %14s %8s\n' "manifest GET by tag (req/s)" "$PC_TAG" "$DR_TAG" "$(ratio "$PC_TAG" "$DR_TAG")"
printf '%-40s %14s %14s %8s\n' "manifest GET by digest (req/s)" "$PC_DIG" "$DR_DIG" "$(ratio "$PC_DIG" "$DR_DIG")"
printf '%-40s %14s %14s %8s\n' "RSS idle (MiB)" "$((PC_IDLE / 1024))" "$((DR_IDLE / 1024))" "$(ratio "$PC_IDLE" "$DR_IDLE")"
printf '%-40s %14s %14s %8s\n' "RSS peak under load (MiB)" "$((PC_LOAD / 1024))" "$((DR_LOAD / 1024))" "$(ratio "$PC_LOAD" "$DR_LOAD")"
echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -srm); date: $(date -u +%F)"
