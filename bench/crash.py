"""Crash consistency: concurrent pushes while the server is killed with SIGKILL and
restarted, then a check of every push the server acknowledged.

A push is acknowledged when its manifest PUT answered 201. Afterwards each acknowledged
image must resolve by tag to its digest, and its manifest and blobs must read back with
the digests they were pushed under. Prints acknowledged / lost / corrupt and exits
non-zero unless both of the last two are zero.

    python3 bench/crash.py --start 'portcullis serve …' --base http://127.0.0.1:PORT \
        --auth 'Basic …' --pushers 8 --kills 10
"""

import argparse
import hashlib
import http.client
import json
import os
import random
import shlex
import signal
import subprocess
import threading
import time
from urllib.parse import urlparse


class Client:
    def __init__(self, base, auth):
        u = urlparse(base)
        self.host, self.port, self.auth = u.hostname, u.port, auth

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        h = {"Authorization": self.auth}
        h.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            return resp.status, resp.read(), resp
        finally:
            conn.close()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push(c, repo, tag):
    """One image: config + two layers + manifest. Returns (digest, blobs) on 201."""
    layers = [os.urandom(random.randint(1, 300_000)) for _ in range(2)]
    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag,
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    blobs = {}
    for data in [config, *layers]:
        d = sha(data)
        status, _, _ = c.request("POST", f"/v2/{repo}/blobs/uploads/?digest={d}", data,
                                 {"Content-Type": "application/octet-stream"})
        if status != 201:
            return None
        blobs[d] = len(data)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha(l), "size": len(l)} for l in layers],
    }).encode()
    status, _, _ = c.request("PUT", f"/v2/{repo}/manifests/{tag}", manifest,
                             {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    return (sha(manifest), blobs) if status == 201 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--start", required=True, help="the command that starts the server")
    ap.add_argument("--base", required=True)
    ap.add_argument("--auth", required=True)
    ap.add_argument("--pushers", type=int, default=8)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--interval", type=float, default=1.5, help="mean seconds between kills")
    a = ap.parse_args()
    c = Client(a.base, a.auth)
    acked, lock, stop = [], threading.Lock(), threading.Event()
    attempted = [0]

    def start():
        p = subprocess.Popen(shlex.split(a.start), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                if c.request("GET", "/v2/")[0] in (200, 401):
                    return p
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("the server did not come up")

    def pusher(n):
        i = 0
        while not stop.is_set():
            i += 1
            tag = f"p{n}-{i}"
            with lock:
                attempted[0] += 1
            try:
                got = push(c, f"library/crash{n % 3}", tag)
            except OSError:
                got = None
                time.sleep(0.05)
            if got:
                with lock:
                    acked.append((f"library/crash{n % 3}", tag, *got))

    server = start()
    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(a.pushers)]
    for t in threads:
        t.start()
    for k in range(a.kills):
        time.sleep(random.expovariate(1 / a.interval))
        server.send_signal(signal.SIGKILL)
        server.wait()
        server = start()
    time.sleep(a.interval)
    stop.set()
    for t in threads:
        t.join()

    lost = corrupt = 0
    for repo, tag, digest, blobs in acked:
        status, body, resp = c.request(
            "GET", f"/v2/{repo}/manifests/{tag}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        if status != 200:
            lost += 1
            continue
        if sha(body) != digest or resp.getheader("Docker-Content-Digest") != digest:
            corrupt += 1
            continue
        for d, size in blobs.items():
            status, data, _ = c.request("GET", f"/v2/{repo}/blobs/{d}")
            if status != 200:
                lost += 1
                break
            if sha(data) != d or len(data) != size:
                corrupt += 1
                break
    server.send_signal(signal.SIGTERM)
    server.wait()
    print(f"kills {a.kills}; pushes attempted {attempted[0]}, acknowledged {len(acked)}, "
          f"lost {lost}, corrupt {corrupt}")
    return 0 if lost == 0 and corrupt == 0 and acked else 1


if __name__ == "__main__":
    raise SystemExit(main())
