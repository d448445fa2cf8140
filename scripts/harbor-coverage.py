#!/usr/bin/env python3
"""How much of Harbor's REST API v2.0 the server routes.

  harbor-coverage.py extract <swagger.yaml> [--out docs/harbor-operations.tsv]
      Lists the swagger's operations (method, path, operationId, tag) in a TSV, sorted
      by path then method. Uses PyYAML when it imports, else a minimal line scanner
      that reads the block-style YAML Harbor publishes.

  harbor-coverage.py check <base-url> [--user admin --password P] [--missing]
                          [--verbose] [--min N] [--ops FILE]
      Sends one request per operation to a running (throwaway!) server, with
      placeholder path parameters, and counts an operation as routed when the answer is
      not the router's fallback: a 404 with exactly
      {"errors":[{"code":"NOT_FOUND","message":"not found"}]} for an unknown path, or a
      405 for an unrouted method on a known path. Any other answer (a 400 for an empty
      body, a 404 naming a missing object, a 500...) means a handler exists.
      GET/HEAD run first, then POST/PUT/PATCH, then DELETE; DELETEs use ids and names
      that do not exist, and user, robot and member ids are always 999999, so the admin
      account is never touched. It is a measurement: exit 0 unless the server is
      unreachable (2) or --min N is given and fewer than N operations are routed (1).

Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import socket
import sys
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TSV = REPO / "docs" / "harbor-operations.tsv"
DEFAULT_PREFIX = "/api/v2.0"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
TSV_HEADER = ("method", "path", "operationId", "tag")

FALLBACK_BODY = {"errors": [{"code": "NOT_FOUND", "message": "not found"}]}
PROBE_PATH = "/portcullis-coverage-probe/unknown"

ZERO_DIGEST = "sha256:" + "0" * 64
ABSENT_ID = "999999"
ABSENT_NAME = "coverage-absent"


@dataclass(frozen=True)
class Op:
    method: str  # upper case
    path: str  # as in the swagger, relative to basePath
    operation_id: str
    tag: str


# ---------------------------------------------------------------------------- extract


def ops_from_swagger(text: str, use_yaml: bool = True) -> list[Op]:
    doc = None
    if use_yaml:
        try:
            import yaml  # type: ignore[import-not-found]
        except ImportError:
            yaml = None
        if yaml is not None:
            doc = yaml.safe_load(text)
    if doc is None:
        return sort_ops(scan_swagger_lines(text))
    ops = []
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if method not in METHODS or not isinstance(op, dict):
                continue
            tags = op.get("tags") or [""]
            ops.append(Op(method.upper(), path, op.get("operationId", ""), tags[0]))
    return sort_ops(ops)


def scan_swagger_lines(text: str) -> list[Op]:
    """Reads `paths:` of a block-style swagger without a YAML library: path keys at
    indent 2, methods at indent 4, and each operation's `operationId:` and first tag."""

    def unquote(s: str) -> str:
        s = s.strip()
        if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
            return s[1:-1]
        return s

    ops: list[Op] = []
    in_paths = False
    path = None
    cur: dict | None = None
    in_tags = False

    def flush() -> None:
        nonlocal cur
        if cur is not None:
            ops.append(Op(cur["method"], cur["path"], cur.get("id", ""), cur.get("tag", "")))
        cur = None

    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        if indent == 0:
            flush()
            in_paths = body == "paths:"
            continue
        if not in_paths:
            continue
        if indent == 2:
            flush()
            path = unquote(body[:-1]) if body.endswith(":") else None
            continue
        if indent == 4:
            flush()
            key = body.split(":", 1)[0].strip()
            if path is not None and key in METHODS:
                cur = {"method": key.upper(), "path": path}
            in_tags = False
            continue
        if cur is None:
            continue
        if indent == 6:
            in_tags = False
            key, _, value = body.partition(":")
            key = key.strip()
            value = value.strip()
            if key == "operationId":
                cur["id"] = unquote(value)
            elif key == "tags":
                if value.startswith("["):
                    first = value.strip("[]").split(",")[0]
                    cur.setdefault("tag", unquote(first))
                else:
                    in_tags = True
            continue
        if in_tags and body.startswith("- "):
            cur.setdefault("tag", unquote(body[2:]))
    flush()
    return ops


def sort_ops(ops: list[Op]) -> list[Op]:
    return sorted(ops, key=lambda o: (o.path, o.method))


def write_tsv(ops: list[Op], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(TSV_HEADER) + "\n")
        for o in ops:
            f.write(f"{o.method}\t{o.path}\t{o.operation_id}\t{o.tag}\n")


def read_tsv(path: Path) -> list[Op]:
    ops = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if n == 0 and tuple(cols) == TSV_HEADER:
                continue
            if len(cols) != 4:
                raise SystemExit(f"{path}:{n + 1}: expected 4 tab-separated columns")
            ops.append(Op(cols[0].upper(), cols[1], cols[2], cols[3]))
    return ops


def load_ops(path: Path) -> list[Op]:
    if path.suffix in (".yaml", ".yml", ".json"):
        return ops_from_swagger(path.read_text(encoding="utf-8"))
    return read_tsv(path)


def cmd_extract(args: argparse.Namespace) -> int:
    ops = ops_from_swagger(Path(args.swagger).read_text(encoding="utf-8"), not args.no_yaml)
    if not ops:
        print(f"no operations found in {args.swagger}", file=sys.stderr)
        return 1
    missing_ids = [o for o in ops if not o.operation_id or not o.tag]
    for o in missing_ids:
        print(f"warning: {o.method} {o.path} has no operationId or tag", file=sys.stderr)
    out = Path(args.out)
    write_tsv(ops, out)
    paths = len({o.path for o in ops})
    print(f"wrote {len(ops)} operations on {paths} paths to {out}")
    return 0


# ------------------------------------------------------------------------------ check


def placeholder(name: str, method: str) -> str:
    """A value for path parameter `name`; DELETEs only ever name things that do not
    exist."""
    n = name.lower()
    destructive = method == "DELETE"
    if n in ("reference", "digest"):
        return ZERO_DIGEST
    if n in ("project_name", "project_name_or_id"):
        return ABSENT_NAME if destructive else "library"
    if n == "addition":
        return "build_history"
    if n == "meta_name":
        return "public"
    # Accounts: never the admin (user 1), never an existing robot or membership.
    if n in ("user_id", "robot_id", "mid"):
        return ABSENT_ID
    if n == "id" or n.endswith("_id") or n in ("eid", "tid", "gid"):
        return ABSENT_ID if destructive else "1"
    return ABSENT_NAME if destructive else "x"


def fill_path(path: str, method: str) -> str:
    return re.sub(
        r"\{([^}]+)\}",
        lambda m: urllib.parse.quote(placeholder(m.group(1), method), safe=":"),
        path,
    )


def method_rank(method: str) -> int:
    return {"GET": 0, "HEAD": 0, "OPTIONS": 0, "DELETE": 2}.get(method, 1)


class Unreachable(Exception):
    pass


@dataclass
class Answer:
    status: int | None  # None: no answer (connection dropped, timeout)
    body: bytes = b""
    content_length: str | None = None
    error: str = ""


class Client:
    def __init__(self, base_url: str, prefix: str, auth: str | None, timeout: float):
        u = urllib.parse.urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise SystemExit(f"not an http(s) URL: {base_url}")
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        base_path = u.path.rstrip("/")
        if base_path.endswith(prefix):
            base_path = base_path[: -len(prefix)]
        self.root = base_path + prefix
        self.auth = auth
        self.timeout = timeout

    def request(self, method: str, path: str, body: bytes | None = None) -> Answer:
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=self.timeout)
        headers = {"Accept": "application/json", "User-Agent": "harbor-coverage"}
        if self.auth:
            headers["Authorization"] = self.auth
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            try:
                conn.request(method, self.root + path, body=body, headers=headers)
            except (ConnectionRefusedError, socket.gaierror) as e:
                raise Unreachable(str(e)) from e
            resp = conn.getresponse()
            data = resp.read()
            return Answer(resp.status, data, resp.getheader("Content-Length"))
        except Unreachable:
            raise
        except (OSError, http.client.HTTPException) as e:
            return Answer(None, error=f"{type(e).__name__}: {e}")
        finally:
            conn.close()


def is_fallback_body(body: bytes) -> bool:
    try:
        return json.loads(body) == FALLBACK_BODY
    except ValueError:
        return False


def classify(ans: Answer, method: str, fallback_head_length: str | None) -> str:
    """'routed', 'declined', 'fallback-404', 'fallback-405' or 'no-answer'."""
    if ans.status is None:
        return "no-answer"
    if ans.status == 405:
        return "fallback-405"
    if ans.status == 501:
        # Answered on purpose with "not supported" (P2P preheat): not an implementation.
        return "declined"
    if ans.status == 404:
        if method == "HEAD" and not ans.body:
            # A HEAD answer has no body: compare its declared length with the fallback's
            # (when neither declares one, count it as the fallback, not as a handler).
            if ans.content_length == fallback_head_length:
                return "fallback-404"
            return "routed"
        if is_fallback_body(ans.body):
            return "fallback-404"
    return "routed"


def cmd_check(args: argparse.Namespace) -> int:
    ops = load_ops(Path(args.ops))
    if not ops:
        print(f"no operations in {args.ops}", file=sys.stderr)
        return 2
    auth = None
    if args.password is not None:
        token = base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
        auth = "Basic " + token
    client = Client(args.base_url, args.prefix, auth, args.timeout)

    try:
        ping = client.request("GET", "/ping")
        if ping.status is None:
            raise Unreachable(ping.error)
        # Calibrate: what does the router answer for a path nobody routes?
        probe = client.request("GET", PROBE_PATH)
        probe_head = client.request("HEAD", PROBE_PATH)
    except Unreachable as e:
        print(f"server unreachable at {args.base_url}: {e}", file=sys.stderr)
        return 2
    if probe.status != 404 or not is_fallback_body(probe.body):
        print(
            f"warning: unknown path answered {probe.status} {probe.body[:200]!r}, not the "
            f"expected fallback; counts below may be wrong",
            file=sys.stderr,
        )
    head_len = probe_head.content_length if probe_head.status == 404 else None

    order = sorted(ops, key=lambda o: (method_rank(o.method), o.path, o.method))
    results: dict[Op, tuple[str, Answer]] = {}
    for o in order:
        body = b"{}" if o.method in ("POST", "PUT", "PATCH") else None
        url_path = fill_path(o.path, o.method)
        try:
            ans = client.request(o.method, url_path, body)
        except Unreachable as e:
            print(f"server became unreachable at {o.method} {url_path}: {e}", file=sys.stderr)
            return 2
        verdict = classify(ans, o.method, head_len)
        results[o] = (verdict, ans)
        if args.verbose:
            status = ans.status if ans.status is not None else ans.error
            snippet = ans.body[:120].decode("utf-8", "replace").replace("\n", " ")
            print(f"{verdict:12} {status!s:>4} {o.method:6} {url_path}  {snippet}")

    by_tag: dict[str, list[Op]] = defaultdict(list)
    for o in ops:
        by_tag[o.tag].append(o)
    routed_total = sum(1 for v, _ in results.values() if v == "routed")

    width = max(len("tag"), max(len(t) for t in by_tag))
    print(f"{'tag':<{width}}  routed  total")
    for tag in sorted(by_tag):
        r = sum(1 for o in by_tag[tag] if results[o][0] == "routed")
        mark = "" if r == len(by_tag[tag]) else ("  (none)" if r == 0 else "  (partial)")
        print(f"{tag:<{width}}  {r:>6}  {len(by_tag[tag]):>5}{mark}")

    no_answer = [o for o in ops if results[o][0] == "no-answer"]
    if args.missing:
        print()
        print("unrouted operations:")
        for tag in sorted(by_tag):
            missing = [o for o in by_tag[tag] if results[o][0] != "routed"]
            if not missing:
                continue
            print(f"  [{tag}]")
            for o in missing:
                verdict, ans = results[o]
                why = ans.error if verdict == "no-answer" else str(ans.status)
                print(f"    {o.method:6} {o.path}  {o.operation_id}  ({why})")
    if no_answer:
        print(
            f"warning: {len(no_answer)} operation(s) got no answer (dropped connection or "
            f"timeout), counted as unrouted",
            file=sys.stderr,
        )
        for o in no_answer:
            print(f"  {o.method} {o.path}: {results[o][1].error}", file=sys.stderr)

    declined = sum(1 for v, _ in results.values() if v == "declined")
    if declined:
        print(f"declined with 501 NOT_IMPLEMENTED: {declined}")
    print(f"routed {routed_total} of {len(ops)} operations")
    if args.min is not None and routed_total < args.min:
        print(f"fewer than --min {args.min} operations routed", file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Measure how much of Harbor's REST API v2.0 a server routes."
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    e = sub.add_parser("extract", help="write the operation list (TSV) from the swagger")
    e.add_argument("swagger", help="Harbor's swagger.yaml (API v2.0)")
    e.add_argument("--out", default=str(DEFAULT_TSV), help=f"default: {DEFAULT_TSV}")
    e.add_argument(
        "--no-yaml", action="store_true", help="use the built-in line scanner even if PyYAML imports"
    )
    e.set_defaults(func=cmd_extract)

    c = sub.add_parser("check", help="count the operations a running server routes")
    c.add_argument("base_url", help="e.g. http://127.0.0.1:5000")
    c.add_argument("--user", default="admin")
    c.add_argument(
        "--password",
        default=os.environ.get("PORTCULLIS_ADMIN_PASSWORD"),
        help="Basic auth password (default: $PORTCULLIS_ADMIN_PASSWORD; none: no auth)",
    )
    c.add_argument(
        "--ops",
        default=str(DEFAULT_TSV),
        help=f"operation list: a TSV from `extract` or a swagger .yaml (default: {DEFAULT_TSV})",
    )
    c.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"API base path (default {DEFAULT_PREFIX})")
    c.add_argument("--missing", action="store_true", help="list the unrouted operations")
    c.add_argument("--verbose", action="store_true", help="print every request and its answer")
    c.add_argument("--min", type=int, help="exit 1 when fewer than N operations are routed")
    c.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    c.set_defaults(func=cmd_check)

    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
