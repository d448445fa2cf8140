"""Hostile clients against a running Portcullis, while a normal client works.

Opens STALLED downloads of a large public blob that are never read (spread over several
loopback addresses, as a botnet would be) and SLOWLORIS connections that send headers
one byte at a time, then times a normal client's push and pull and samples the server's
resident memory. Prints one line per phase; exits non-zero if the normal client failed.

    python3 bench/hostile.py --base http://127.0.0.1:15300 --pid PID --blob DIGEST \
        --repo pub/big --stalled 1000 --slowloris 300
"""

import argparse
import asyncio
import hashlib
import os
import time
import urllib.request
from urllib.parse import urlparse


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def open_from(host, port, source):
    return await asyncio.open_connection(host, port, local_addr=(source, 0))


async def stalled_download(host, port, source, path, opened):
    try:
        r, w = await open_from(host, port, source)
    except OSError:
        return
    w.write(f"GET {path} HTTP/1.1\r\nHost: registry\r\n\r\n".encode())
    await w.drain()
    opened.append((r, w))


async def slowloris(host, port, source, opened, stop):
    try:
        r, w = await open_from(host, port, source)
    except OSError:
        return
    opened.append((r, w))
    head = b"GET /v2/ HTTP/1.1\r\nHost: registry\r\nX-Pad: " + b"a" * 10000
    for b in head:
        if stop.is_set() or w.is_closing():
            return
        try:
            w.write(bytes([b]))
            await w.drain()
        except OSError:
            return
        await asyncio.sleep(5)


def normal_client(base, auth, repo, blob_digest):
    """Push a fresh 4 MiB blob and pull the big one; returns (push s, pull s, error)."""
    data = os.urandom(4 << 20)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    opener = urllib.request.build_opener()
    hdr = {"Authorization": auth}
    try:
        t0 = time.monotonic()
        req = urllib.request.Request(
            f"{base}/v2/{repo}-normal/blobs/uploads/?digest={digest}",
            data=data, method="POST", headers=hdr)
        with opener.open(req, timeout=60) as resp:
            assert resp.status == 201, resp.status
        t1 = time.monotonic()
        req = urllib.request.Request(f"{base}/v2/{repo}/blobs/{blob_digest}", headers=hdr)
        with opener.open(req, timeout=60) as resp:
            got = resp.read()
        t2 = time.monotonic()
        return t1 - t0, t2 - t1, None if got else "empty pull"
    except Exception as e:  # the point is to report it, whatever it is
        return None, None, repr(e)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--blob", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--auth", required=True, help="the Authorization header value")
    ap.add_argument("--stalled", type=int, default=1000)
    ap.add_argument("--slowloris", type=int, default=300)
    ap.add_argument("--sources", type=int, default=8, help="loopback addresses to spread over")
    ap.add_argument("--hold", type=float, default=20, help="seconds to hold them open")
    a = ap.parse_args()
    u = urlparse(a.base)
    host, port = u.hostname, u.port
    sources = [f"127.0.1.{i + 1}" for i in range(a.sources)]
    loop = asyncio.get_running_loop()
    failed = False

    def report(phase):
        nonlocal failed
        push, pull, err = normal_client(a.base, a.auth, a.repo, a.blob)
        if err:
            failed = True
            print(f"{phase:<28} rss {rss_mib(a.pid):7.1f} MiB  normal client FAILED: {err}", flush=True)
        else:
            print(f"{phase:<28} rss {rss_mib(a.pid):7.1f} MiB  normal push 4 MiB {push:6.2f} s,"
                  f" pull {pull:6.2f} s", flush=True)

    await loop.run_in_executor(None, report, "idle")
    downloads, lorises, stop = [], [], asyncio.Event()
    path = f"/v2/{a.repo}/blobs/{a.blob}"
    await asyncio.gather(*(stalled_download(host, port, sources[i % len(sources)], path, downloads)
                           for i in range(a.stalled)))
    tasks = [asyncio.create_task(slowloris(host, port, sources[i % len(sources)], lorises, stop))
             for i in range(a.slowloris)]
    await asyncio.sleep(2)
    print(f"opened {len(downloads)} stalled downloads, {len(lorises)} slowloris connections", flush=True)
    await loop.run_in_executor(None, report, "under attack")
    peak = rss_mib(a.pid)
    deadline = time.monotonic() + a.hold
    while time.monotonic() < deadline:
        peak = max(peak, rss_mib(a.pid))
        await asyncio.sleep(0.5)
    await loop.run_in_executor(None, report, f"after {a.hold:.0f} s of attack")
    closed = sum(1 for r, w in downloads if r.at_eof() or w.is_closing())
    print(f"peak rss {peak:.1f} MiB; stalled downloads the server had closed: {closed}/{len(downloads)}")
    stop.set()
    for t in tasks:
        t.cancel()
    for r, w in downloads + lorises:
        w.close()
    await asyncio.sleep(1)
    await loop.run_in_executor(None, report, "after the attack")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
