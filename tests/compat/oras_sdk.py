"""ORAS's Python SDK (the `oras` package, pinned by scripts/compat-python.sh) pushes and
pulls artifacts with plain credentials, with both of its auth backends:

- `basic` sends the credentials with every request;
- `token` follows the registry's challenges and fetches tokens itself, for pulls. Its
  pushes cannot work against Distribution, Harbor or Portcullis: it checks blobs first
  (a pull token), and on the 401 an upload then gets it retries with the token it holds,
  fetching a new one only after a 403. So pushes go through `basic` here, and both
  backends pull.

Usage: oras_sdk.py --base http://127.0.0.1:PORT --password P
Exits 1 with the reason when a step fails."""

import argparse
import base64
import json
import os
import sys
import tempfile
import urllib.request

import oras.client


def api(base, password, method, path, body=None, user="admin"):
    req = urllib.request.Request(base + path, method=method)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, data=data, timeout=30) as r:
        return r.status, r.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--password", required=True)
    a = ap.parse_args()
    host = a.base.split("://", 1)[1]
    api(a.base, a.password, "POST", "/api/v2.0/projects", {"project_name": "orasteam"})
    api(a.base, a.password, "POST", "/api/v2.0/users",
        {"username": "orasdev", "password": "Oras-Password-1", "email": "o@x.io", "realname": "o"})
    api(a.base, a.password, "POST", "/api/v2.0/projects/orasteam/members",
        {"role_id": 2, "member_user": {"username": "orasdev"}})

    failures = []
    with tempfile.TemporaryDirectory() as work:
        src = os.path.join(work, "notes.txt")
        with open(src, "w") as f:
            f.write("pushed by the ORAS SDK\n")
        os.chdir(work)

        def client_for(backend):
            c = oras.client.OrasClient(hostname=host, insecure=True, auth_backend=backend)
            c.login(username="orasdev", password="Oras-Password-1", hostname=host,
                    config_path=os.path.join(work, f"config-{backend}.json"))
            return c

        target = f"{host}/orasteam/notes:v1"
        resp = client_for("basic").push(files=["notes.txt"], target=target)
        if resp.status_code not in (200, 201):
            failures.append(f"push: HTTP {resp.status_code} {resp.text[:200]}")
        for backend in ("basic", "token"):
            try:
                out = os.path.join(work, f"out-{backend}")
                pulled = client_for(backend).pull(target=target, outdir=out)
                got = [open(p).read() for p in pulled if p.endswith("notes.txt")]
                if got != ["pushed by the ORAS SDK\n"]:
                    failures.append(f"{backend} pull: got {pulled!r} {got!r}")
            except Exception as e:  # noqa: BLE001 - any SDK error is the failure reported
                failures.append(f"{backend}: {type(e).__name__}: {e}")
        client = client_for("basic")
        # A developer may not push to a project they are not a member of.
        api(a.base, a.password, "POST", "/api/v2.0/projects", {"project_name": "orasother"})
        try:
            r = client.push(files=["notes.txt"], target=f"{host}/orasother/notes:v1")
            if r.status_code < 400:
                failures.append(f"push to a project without access answered {r.status_code}")
        except Exception:  # noqa: BLE001 - refusal surfaces as an exception in the SDK
            pass
    for f in failures:
        print(f"ORAS SDK: FAIL {f}")
    if failures:
        sys.exit(1)
    print("ORAS SDK: push and pull with plain credentials OK")


if __name__ == "__main__":
    main()
