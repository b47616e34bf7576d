#!/usr/bin/env python3
"""Ask a running hotline, over its HTTP API, what the interop suite checks.

  api.py --http 127.0.0.1:8080 health
      exit 0 when GET /healthz answers 200
  api.py --http ... registered LOGIN [--contact-port N] [--after EPOCH] [--timeout S]
      wait until GET /api/v1/agents/LOGIN lists a registration (whose Contact
      has port N, if given) that expires in the future (and later than EPOCH,
      to see a refresh); prints that expiry as Unix seconds
  api.py --http ... unregistered LOGIN [--contact-port N] [--timeout S]
      wait until no such registration is listed any more
  api.py --http ... inquiry --call-id ID [--expect FIELD=VALUE ...] [--timeout S]
      wait until GET /api/v1/inquiries lists the inquiry of that SIP call
      with every FIELD equal to VALUE (null for JSON null, * for any value
      but null); prints it

The admin token comes from POST /api/v1/auth/login with user "admin" and the
password in HOTLINE_ADMIN_PASSWORD. Registrations are read from the agent's
"registrations" list; the expiry from "expires_at" (RFC 3339 or Unix s/ms),
"expires_at_ms", or "expires_in"/"expires" (seconds left).
Exit status: 0 ok, 1 condition not met before the timeout, 2 usage/API error.
"""
import argparse
import datetime
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request


def request(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def login(base):
    password = os.environ.get("HOTLINE_ADMIN_PASSWORD")
    if not password:
        sys.exit("api.py: HOTLINE_ADMIN_PASSWORD is not set")
    status, body = request(base, "POST", "/api/v1/auth/login",
                           {"username": "admin", "password": password})
    if status != 200 or not isinstance(body, dict) or "token" not in body:
        print(f"api.py: login failed: {status} {body}", file=sys.stderr)
        sys.exit(2)
    return body["token"]


def expiry(reg, now):
    """Absolute expiry of one registration, Unix seconds, or None."""
    for key in ("expires_at", "expires_at_ms"):
        v = reg.get(key)
        if isinstance(v, (int, float)):
            return v / 1000.0 if (key.endswith("_ms") or v > 1e11) else float(v)
        if isinstance(v, str):
            try:
                return datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
            except ValueError:
                pass
    for key in ("expires_in", "expires"):
        v = reg.get(key)
        if isinstance(v, (int, float)):
            return now + v
    return None


def contact_port(reg):
    m = re.search(r"@[^;>]*:(\d+)", str(reg.get("contact", "")))
    return int(m.group(1)) if m else None


def live_registrations(base, token, login_name, port):
    status, body = request(base, "GET", f"/api/v1/agents/{login_name}", token=token)
    if status != 200 or not isinstance(body, dict):
        print(f"api.py: GET agent {login_name}: {status} {body}", file=sys.stderr)
        sys.exit(2)
    now = time.time()
    found = []
    for reg in body.get("registrations") or []:
        if port is not None and contact_port(reg) != port:
            continue
        exp = expiry(reg, now)
        if exp is not None and exp > now:
            found.append((exp, reg))
    return found, body


def parse_expectations(pairs):
    out = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field:
            sys.exit(f"api.py: --expect wants FIELD=VALUE, got {pair!r}")
        out[field] = None if value == "null" else value
    return out


def inquiry_of_call(base, token, call_id):
    """The newest inquiry whose call_id is call_id, or None. The call is
    recent, so the first page (newest first) is enough."""
    status, body = request(base, "GET", "/api/v1/inquiries?limit=100", token=token)
    if status != 200 or not isinstance(body, dict):
        print(f"api.py: GET inquiries: {status} {body}", file=sys.stderr)
        sys.exit(2)
    for item in body.get("items") or []:
        if item.get("call_id") == call_id:
            return item
    return None


def matches(actual, wanted):
    """An inquiry field against an --expect value: None = JSON null,
    "*" = present with any value, otherwise the same text."""
    if wanted == "*":
        return actual is not None
    return (None if actual is None else str(actual)) == wanted


def wait_inquiry(base, token, call_id, expected, timeout):
    deadline = time.monotonic() + timeout
    while True:
        item = inquiry_of_call(base, token, call_id)
        if item is not None:
            differ = {k: item.get(k) for k, v in expected.items()
                      if not matches(item.get(k), v)}
            if not differ:
                print(json.dumps(item))
                return 0
        if time.monotonic() >= deadline:
            if item is None:
                print(f"api.py: no inquiry with call_id {call_id!r} within {timeout}s",
                      file=sys.stderr)
            else:
                print(f"api.py: inquiry of {call_id!r} not as expected within {timeout}s: "
                      f"wanted {expected}, differs in {differ}; inquiry is {json.dumps(item)}",
                      file=sys.stderr)
            return 1
        time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--http", required=True, help="HOST:PORT of the HTTP API")
    ap.add_argument("op", choices=["health", "registered", "unregistered", "inquiry"])
    ap.add_argument("login", nargs="?")
    ap.add_argument("--contact-port", type=int)
    ap.add_argument("--after", type=float, default=0.0)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--call-id")
    ap.add_argument("--expect", action="append", default=[], metavar="FIELD=VALUE")
    a = ap.parse_args()
    base = "http://" + a.http

    if a.op == "health":
        try:
            status, _ = request(base, "GET", "/healthz")
        except OSError:
            return 1
        return 0 if status == 200 else 1

    if a.op == "inquiry":
        if not a.call_id:
            ap.error("inquiry needs --call-id")
        expected = parse_expectations(a.expect)
        return wait_inquiry(base, login(base), a.call_id, expected, a.timeout)

    if not a.login:
        ap.error("LOGIN is required")
    token = login(base)
    deadline = time.monotonic() + a.timeout
    while True:
        found, body = live_registrations(base, token, a.login, a.contact_port)
        if a.op == "registered":
            later = [exp for exp, _ in found if exp > a.after]
            if later:
                print(f"{max(later):.3f}")
                return 0
        elif not found:
            return 0
        if time.monotonic() >= deadline:
            print(f"api.py: {a.op} {a.login}: not reached within {a.timeout}s; agent is {json.dumps(body)}",
                  file=sys.stderr)
            return 1
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
