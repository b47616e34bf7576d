#!/usr/bin/env bash
# Property-based API test: schemathesis (PyPI) generates requests from the
# OpenAPI document the running server publishes and checks every answer.
# Run by .ci/run after the interop suite.
#
#   bash tests/interop/schemathesis.sh
#
# Environment:
#   HOTLINE_BIN        use this binary instead of building target/release/hotline
#   SCHEMATHESIS_VENV  virtualenv to use/create (default ~/.cache/hotline/schemathesis-VERSION)
#   MAX_EXAMPLES       test cases per operation and phase (default 25)
#   MAX_TIME           time budget of the whole run in s (default 120)
#   CHECKS             schemathesis checks (default: the four below; "all" to explore)
#   KEEP_WORK=1        keep the temp directory (DB, server log, report)
#
# What it checks: the server (fresh SQLite database, HOTLINE_ADMIN_PASSWORD
# set) publishes /api/v1/openapi.json; with the admin's bearer token,
# schemathesis runs its examples, coverage, fuzzing and stateful phases
# against every documented operation, and fails on
#   - any 5xx answer (not_a_server_error),
#   - an answer whose body does not match the schema documented for its
#     status (response_schema_conformance),
#   - a status the operation does not document (status_code_conformance),
#   - a Content-Type other than the documented one (content_type_conformance).
# Exit status: 0 when all pass, non-zero otherwise (the server log tail is
# printed).
set -euo pipefail

# Pinned: a new schemathesis release may add checks or change its CLI.
SCHEMATHESIS_VERSION=4.32.5
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MAX_EXAMPLES=${MAX_EXAMPLES:-25}
MAX_TIME=${MAX_TIME:-120}
CHECKS=${CHECKS:-not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance}

say() { printf 'schemathesis: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- schemathesis in its own virtualenv ----------------------------------------
VENV=${SCHEMATHESIS_VENV:-$HOME/.cache/hotline/schemathesis-$SCHEMATHESIS_VERSION}
ST="$VENV/bin/schemathesis"
if ! "$ST" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    say "installing python3-venv"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -q --no-install-recommends python3-venv
  fi
  say "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$ST" --version >&2

# --- binary ----------------------------------------------------------------
if [ -n "${HOTLINE_BIN:-}" ]; then
  BIN=$HOTLINE_BIN
else
  (cd "$ROOT" && cargo build --release --locked)
  BIN=$ROOT/target/release/hotline
fi
[ -x "$BIN" ] || die "no executable at $BIN"

# --- server ----------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hotline-schemathesis.XXXXXX")
SERVER_PID=""
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$WORK/server.log" ]; then
    say "server log (last 40 lines):"
    tail -n 40 "$WORK/server.log" >&2 || true
  fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then
    say "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export HOTLINE_ADMIN_PASSWORD="st-admin-$RANDOM$RANDOM"
# Port 0 everywhere: the kernel picks free ports and the server logs them,
# so nothing can take a port between choosing and binding it.
# The IVR script endpoints save what they are sent: give them a copy, so
# the run can never rewrite the repository's scripts.
cp -r "$ROOT/ivr-scripts" "$WORK/ivr-scripts"
(cd "$ROOT" && NO_COLOR=1 RUST_LOG=info exec "$BIN" serve \
  --sip 127.0.0.1:0 --http 127.0.0.1:0 --ivr-dir "$WORK/ivr-scripts" \
  --database "sqlite://$WORK/hotline.db" \
  --rtp-ports 31000-31099) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

HTTP_ADDR=""
for _ in $(seq 300); do
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited during start-up"
  HTTP_ADDR=$(sed -n 's/.*hotline is serving.*http=\([0-9.:]*\).*/\1/p; s/.*http=\([0-9.:]*\).*hotline is serving.*/\1/p' \
    "$WORK/server.log" | head -n 1)
  [ -n "$HTTP_ADDR" ] && break
  sleep 0.1
done
[ -n "$HTTP_ADDR" ] || die "the server did not report its HTTP address"
BASE="http://$HTTP_ADDR"
say "server at $BASE"

TOKEN=$(python3 - "$BASE" <<'PY'
import json, os, sys, urllib.request
body = json.dumps({"username": "admin", "password": os.environ["HOTLINE_ADMIN_PASSWORD"]}).encode()
request = urllib.request.Request(sys.argv[1] + "/api/v1/auth/login", data=body,
                                 headers={"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(request, timeout=10))["token"])
PY
) || die "admin login failed"

# --- seed data ---------------------------------------------------------------
# Random requests rarely make a valid e-mail or a full inquiry; a few real
# records make the lists, histories and timelines answer with content, so
# their schemas are checked against real answers, not empty pages.
python3 - "$BASE" "$TOKEN" "$ROOT/tests/data/email/plain.eml" <<'PY' || die "seeding failed"
import json, sys, urllib.request
base, token, eml = sys.argv[1], sys.argv[2], sys.argv[3]
def send(path, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers={
        "Content-Type": content_type, "Authorization": "Bearer " + token})
    return json.load(urllib.request.urlopen(request, timeout=10))
inquiry = send("/api/v1/inquiries", {"channel": "in_person", "from": "+7 916 123-45-67",
                                     "category": "applicant", "topic": "documents"})
send(f"/api/v1/inquiries/{inquiry['id']}/resolve", {"resolution": "explained the rules"})
send(f"/api/v1/inquiries/{inquiry['id']}/inform", {"how": "phone"})
send("/api/v1/clients", {"name": "Seed Client", "category": "parent",
                         "phones": ["+7 903 000-00-01"], "emails": ["seed@example.org"]})
with open(eml, "rb") as f:
    send("/api/v1/channels/email", f.read(), "message/rfc822")
PY

# --- the run ---------------------------------------------------------------
# Agent deletion is left out: once the run has created a second admin it
# deletes `admin`, whose token it runs with, and every later request is a
# 401 (a fifth of the run, measured). tests/api.rs covers that endpoint.
# Logout is left out for the same reason: it revokes the run's own token
# (28 operations saw only 401s after it); tests/api_auth.rs covers it.
# One worker: with two, hypothesis 6.170 under Python 3.11 sometimes dies
# describing a filter lambda ("AST constructor recursion depth mismatch"),
# an error of the tool, not of the server. The fixed seed makes a failure
# reproducible with the same command.
set +e
"$ST" run "$BASE/api/v1/openapi.json" \
  --url "$BASE" \
  --header "Authorization: Bearer $TOKEN" \
  --checks "$CHECKS" \
  --exclude-name 'DELETE /api/v1/agents/{login}' \
  --exclude-name 'POST /api/v1/auth/logout' \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_TIME" \
  --workers 1 \
  --seed 20250305 \
  --request-timeout 10 \
  --report junit --report-dir "$WORK/report" \
  --output-sanitize true
rc=$?
set -e
if [ "$rc" -eq 0 ]; then
  say "1 passed, 0 failed"
else
  say "0 passed, 1 failed (exit $rc)"
fi
exit "$rc"
