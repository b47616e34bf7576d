#!/usr/bin/env python3
# The live board's cost (BENCHMARKS.md, "Web console"): seeds N in-person
# inquiries of today through the API of a release server on a temp database,
# then times GET /board/fragment right after a write (today's summary is
# recomputed) and with nothing written since (the shared figures are reused).
# Usage: cargo build --release && N=3000 python3 benches/console/board.py
import json, subprocess, time, urllib.request, os, re, statistics, tempfile
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
work = tempfile.mkdtemp(prefix="hotline-board-bench.")
env = dict(os.environ, HOTLINE_ADMIN_PASSWORD="bench-admin-pass", NO_COLOR="1", RUST_LOG="info")
log = open(os.path.join(work, "server.log"), "w")
srv = subprocess.Popen([f"{root}/target/release/hotline", "serve", "--sip", "127.0.0.1:0", "--http", "127.0.0.1:0",
                        "--database", "sqlite://" + os.path.join(work, "hotline.db"), "--rtp-ports", "32000-32099",
                        "--ivr-dir", f"{root}/ivr-scripts", "--prompts-dir", f"{root}/prompts"],
                       cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
base = None
for _ in range(200):
    time.sleep(0.05)
    m = re.search(r"http=([0-9.:]+)", open(os.path.join(work, "server.log")).read())
    if m: base = "http://" + m.group(1); break
assert base, open(os.path.join(work, "server.log")).read()
def req(method, path, body=None, token=None, cookie=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(base + path, data=data, method=method)
    if data: r.add_header("content-type", "application/json")
    if token: r.add_header("authorization", "Bearer " + token)
    if cookie: r.add_header("cookie", cookie)
    with urllib.request.urlopen(r) as resp: return resp.read()
token = json.loads(req("POST", "/api/v1/auth/login", {"username": "admin", "password": "bench-admin-pass"}))["token"]
N = int(os.environ.get("N", "3000"))
t0 = time.time()
for i in range(N):
    req("POST", "/api/v1/inquiries", {"channel": "in_person", "from": f"7916{i:07d}", "category": "applicant", "topic": "admission", "agent": "admin"}, token)
seed_s = time.time() - t0
cookie = "hotline_session=" + token
def timed(n, write_between):
    out = []
    for i in range(n):
        if write_between:
            req("POST", "/api/v1/inquiries", {"channel": "in_person", "from": f"7917{i:07d}", "agent": "admin"}, token)
        t = time.perf_counter(); req("GET", "/board/fragment", cookie=cookie); out.append((time.perf_counter() - t) * 1000)
    out.sort(); return statistics.median(out), out[int(len(out) * 0.99) - 1]
fresh = timed(100, True)
cached = timed(300, False)
print(f"inquiries today: {N + 100} (seeded in {seed_s:.1f} s)")
print(f"board fragment after a write (summary recomputed): p50 {fresh[0]:.2f} ms, p99 {fresh[1]:.2f} ms")
print(f"board fragment, nothing written since (shared figures): p50 {cached[0]:.2f} ms, p99 {cached[1]:.2f} ms")
srv.terminate(); srv.wait()
