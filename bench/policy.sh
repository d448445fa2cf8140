#!/usr/bin/env bash
# Pull-gate cost: manifest GET throughput of the same image in a project with no
# policies and in one with every pull policy on (prevent_vul with severity high over a
# successful scan, cosign content trust with a trusted key and a verified signature,
# CVE allowlist). Both projects are public and pulled anonymously; the runs alternate.
# Figures go into docs/benchmarks.md by hand.
#
#   bash bench/policy.sh                   # 6 rounds of 8 s wrk runs each
#   ROUNDS=5 WRK_SECONDS=10 bash bench/policy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_apt wrk curl python3 openssl

ROUNDS=${ROUNDS:-6}
WRK_SECONDS=${WRK_SECONDS:-8}
PC_PORT=${PC_PORT:-15020}
PW=Bench-Password-1
WORK=$(mktemp -d /var/tmp/portcullis-policy-bench.XXXXXX)
TARGET=${CARGO_TARGET_DIR:-target}

# BIN=path/to/portcullis measures a given build (to compare two builds in one session).
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p portcullis >/dev/null
  BIN=$TARGET/release/portcullis
fi
cleanup() { kill "${PC_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# A tiny vulnerability database that knows openssl advisories the image does not match.
mkdir -p "$WORK/osv"
cat >"$WORK/osv/a.json" <<'JSON'
{"id":"DSA-0000-1","modified":"2023-01-01T00:00:00Z","aliases":["CVE-2000-0001"],
 "affected":[{"package":{"ecosystem":"Debian:11","name":"openssl"},
   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}
JSON
"$BIN" --data-dir "$WORK/pc" vulndb import "$WORK/osv" >/dev/null
PORTCULLIS_ADMIN_PASSWORD=$PW PORTCULLIS_LOG=warn "$BIN" serve --data-dir "$WORK/pc" \
  --listen "127.0.0.1:$PC_PORT" 2>"$WORK/pc.log" &
PC_PID=$!
PC="http://127.0.0.1:$PC_PORT"
for _ in $(seq 1 100); do curl -fs -o /dev/null -u "admin:$PW" "$PC/v2/" && break; sleep 0.1; done

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/cosign.key" 2>/dev/null
openssl pkey -in "$WORK/cosign.key" -pubout -out "$WORK/cosign.pub"

# Projects, the image in both, its scan and its signature, through the HTTP APIs.
python3 - "$PC" "admin:$PW" "$WORK" <<'PY'
import base64, gzip, hashlib, io, json, subprocess, sys, tarfile, time, urllib.request
pc, auth, work = sys.argv[1:4]
hdr = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
def call(method, path, body=None, ctype="application/json", extra=None):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    h = dict(hdr, **({"Content-Type": ctype} if data is not None else {}), **(extra or {}))
    req = urllib.request.Request(pc + path, data=data, method=method, headers=h)
    with urllib.request.urlopen(req) as r:
        return r.status, r.read()
def blob(repo, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    call("POST", f"/v2/{repo}/blobs/uploads/?digest={d}", data, "application/octet-stream")
    return d, len(data)
def manifest(repo, ref, m):
    b = json.dumps(m).encode()
    call("PUT", f"/v2/{repo}/manifests/{ref}", b, "application/vnd.oci.image.manifest.v1+json")
    return "sha256:" + hashlib.sha256(b).hexdigest(), len(b)
def layer():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for name, text in [("etc/os-release", 'ID=debian\nVERSION_ID="11"\n'),
                           ("var/lib/dpkg/status", "Package: libssl1.1\nStatus: install ok installed\nSource: openssl\nVersion: 1.1.1n-0+deb11u5\nArchitecture: amd64\n\n")]:
            info = tarfile.TarInfo(name); info.size = len(text); t.addfile(info, io.BytesIO(text.encode()))
    return gzip.compress(raw.getvalue())
for name, meta in [("open", {"public": "true"}),
                   ("gated", {"public": "true", "prevent_vul": "true", "severity": "high",
                              "enable_content_trust_cosign": "true"})]:
    call("POST", "/api/v2.0/projects", {"project_name": name, "metadata": meta})
    repo = f"{name}/app"
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    cd, cs = blob(repo, cfg); ld, ls = blob(repo, layer())
    digest, size = manifest(repo, "v1", {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}]})
    if name != "gated":
        continue
    pem = open(f"{work}/cosign.pub").read()
    call("POST", "/api/v2.0/projects/gated/trusted-keys", {"name": "release", "kind": "cosign", "pem": pem})
    call("PUT", "/api/v2.0/projects/gated", {"cve_allowlist": {"items": [{"cve_id": "CVE-2000-0002"}]}})
    payload = json.dumps({"critical": {"identity": {"docker-reference": repo}, "image": {"docker-manifest-digest": digest},
                          "type": "cosign container image signature"}, "optional": None}).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", f"{work}/cosign.key"], input=payload,
                         capture_output=True, check=True).stdout
    pd, ps = blob(repo, payload)
    cd2, cs2 = blob(repo, b"{}")
    manifest(repo, "sha256-" + digest.split(":")[1] + ".sig", {"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": pd, "size": ps,
                    "annotations": {"dev.cosignproject.cosign/signature": base64.b64encode(sig).decode()}}]})
    call("POST", f"/api/v2.0/projects/gated/repositories/app/artifacts/v1/scan", {"scan_type": "vulnerability"})
    for _ in range(600):
        _, body = call("GET", "/api/v2.0/projects/gated/repositories/app/artifacts/v1?with_scan_overview=true&with_signature=true")
        a = json.loads(body)
        o = next(iter((a.get("scan_overview") or {}).values()), {})
        if o.get("scan_status") in ("Success", "Error"):
            break
        time.sleep(0.2)
    assert o.get("scan_status") == "Success", o
    assert a["signatures"]["cosign"]["status"] == "verified", a["signatures"]
PY
for p in open gated; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$PC/v2/$p/app/manifests/v1")
  [ "$code" = 200 ] || { echo "pull of $p/app:v1 answered $code" >&2; exit 1; }
done

wrk_rps() { wrk -t2 -c64 -d"${WRK_SECONDS}s" -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$1" | awk '/Requests\/sec/ {printf "%.0f", $2}'; }
echo "manifest GET by tag (wrk, 64 connections, ${WRK_SECONDS}s each)"
echo "round  policies off  every policy on  ratio"
total_off=0; total_on=0
for r in $(seq 1 "$ROUNDS"); do
  # The order alternates so that drift over the run (heat, page cache) hits both alike.
  if [ $((r % 2)) = 1 ]; then
    off=$(wrk_rps "$PC/v2/open/app/manifests/v1"); on=$(wrk_rps "$PC/v2/gated/app/manifests/v1")
  else
    on=$(wrk_rps "$PC/v2/gated/app/manifests/v1"); off=$(wrk_rps "$PC/v2/open/app/manifests/v1")
  fi
  total_off=$((total_off + off)); total_on=$((total_on + on))
  echo "$r      $off         $on            $(python3 -c "print(f'{$on/$off:.3f}')")"
done
echo "all    $((total_off / ROUNDS))         $((total_on / ROUNDS))            $(python3 -c "print(f'{$total_on/$total_off:.3f}')")"
