#!/usr/bin/env bash
# Interop suite: real SIP clients (SIPp 3.6.1, baresip 1.0) against the real
# `hotline` binary on 127.0.0.1. Run by .ci/run after `cargo test`.
#
#   bash tests/interop/run.sh
#
# Environment:
#   HOTLINE_BIN   use this binary instead of building target/release/hotline
#   KEEP_WORK=1   keep the temp directory (config, DB, logs) after the run
#   REGINT        baresip's registration interval in s (default 30; the
#                 refresh check waits about this long)
#
# What it checks (each is one line "ok"/"FAIL" in the output):
#   the generated config passes `hotline check`; the server answers /healthz;
#   OPTIONS over UDP and TCP -> 200 with Allow; SIPp REGISTER with digest:
#   right password -> 200 over UDP and TCP, wrong password -> 403 after the
#   challenge, unknown login -> the same 403; the API lists the SIPp
#   binding; baresip registers, the API lists its binding with an expiry in
#   the future, baresip refreshes it (the expiry moves forward), baresip's
#   unregister on exit removes it; SIGTERM stops the server with status 0.
#   Calls to the IVR (default flow ivr-scripts/hotline.toml, calendar open
#   around the clock so the result does not depend on the time of day):
#   a SIPp caller presses 1, 1 (RFC 4733 from a pcap) and its inquiry is
#   resolved_in_ivr with path 1,1, applicant / admission_rules; the RTP it
#   received (captured with tcpdump) is paced every 20 ms, continuous, not
#   silent and ends with the admission_info prompt; a SIPp caller pressing 0
#   waits in queue general hearing "please hold", then its inquiry is
#   abandoned; baresip dials, navigates 1, 1 with DTMF and heard
#   admission_info (its recording);
#   OPTIONS and REGISTER still work after the calls.
#   Routed calls (IVR -> queue -> operator phone): SIPp operator phones 3001
#   and 3002, registered with MD5 digest, each answer one of two SIPp
#   callers who press 0 together; 3001 hangs up first, 3002's caller hangs
#   up first; both inquiries end resolved in queue general with their
#   operator, whose INVITE showed the caller's number, "category · topic"
#   and a Call-Info with the inquiry's URL; the RTP each caller received
#   (captured) is paced, continuous and ends with the operator's voice,
#   the RTP each operator received ends with its caller's voice. A baresip
#   operator (2101, admission, auto-answer) answers a caller who pressed
#   1, 2 and transfers it blind by REFER (its `transfer` command) to the
#   login of SIPp operator 3003, who answers and hangs up: the inquiry ends
#   resolved with transfers 1 and agent 3003; the caller then heard 3003,
#   3003 heard the caller, and baresip heard the caller before.
# Installs sip-tester / baresip / tcpdump with apt-get when missing. Capturing
# and SIPp's play_pcap_audio need root (or CAP_NET_RAW): run as root, or with
# passwordless sudo.
# Ends with "interop: N passed, M failed"; exit status 1 on any failure (the
# server log tail is printed), 0 otherwise.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# the helper scripts import each other: keep the source tree free of .pyc
export PYTHONDONTWRITEBYTECODE=1
ROOT=$(cd "$HERE/../.." && pwd)
REGINT=${REGINT:-30}

say() { printf 'interop: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- tools -----------------------------------------------------------------
install_missing_tools() {
  local pkgs=()
  command -v sipp >/dev/null 2>&1 || pkgs+=(sip-tester)
  command -v baresip >/dev/null 2>&1 || pkgs+=(baresip baresip-core)
  command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
  command -v tcpdump >/dev/null 2>&1 || pkgs+=(tcpdump)
  [ ${#pkgs[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${pkgs[@]}"
}
install_missing_tools
command -v sipp >/dev/null || die "sipp is not installed"
command -v baresip >/dev/null || die "baresip is not installed"
command -v tcpdump >/dev/null || die "tcpdump is not installed"
# raw sockets (SIPp's play_pcap_audio) and capturing need root
AS_ROOT=()
[ "$(id -u)" -eq 0 ] || AS_ROOT=(sudo -n)

# --- binary ----------------------------------------------------------------
if [ -n "${HOTLINE_BIN:-}" ]; then
  BIN=$HOTLINE_BIN
else
  (cd "$ROOT" && cargo build --release --locked)
  BIN=$ROOT/target/release/hotline
fi
[ -x "$BIN" ] || die "no executable at $BIN"

# --- scratch space and cleanup ---------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hotline-interop.XXXXXX")
mkdir -p "$WORK/sipp"
SERVER_PID=""
BARESIP_PROFILE=""
CALLER_PROFILE=""
OPERATOR_PROFILE=""
CAPTURE_PID=""
# background SIPp operator phones (their `timeout` wrappers), stopped at exit
AGENT_PIDS=()

cleanup() {
  local rc=$?
  local profile
  local pid
  for pid in "${AGENT_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for profile in "$BARESIP_PROFILE" "$CALLER_PROFILE" "$OPERATOR_PROFILE"; do
    if [ -n "$profile" ] && [ -x "$profile/stop.sh" ]; then
      "$profile/stop.sh" || true
    fi
  done
  if [ -n "$CAPTURE_PID" ]; then
    kill -INT "$CAPTURE_PID" 2>/dev/null || true
  fi
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
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

# A port free for UDP and TCP on 127.0.0.1 (with --pair, the next one too:
# baresip also listens for TLS on SIP port + 1; with --media, the next
# three: SIPp binds its -mp port and -mp + 2 for video), below the
# ephemeral range so outgoing sockets do not take it meanwhile, never
# handed out twice, and below the server's RTP range (30000-30999).
#   free_port VAR --one|--pair|--media   sets VAR (not $(...): a subshell
#   would forget USED_PORTS, and the same port could be handed out twice)
USED_PORTS=""
free_port() {
  local -n _free_port_var=$1
  local _free_port
  _free_port=$(python3 - "$2" "$USED_PORTS" <<'PY'
import random, socket, sys
span = {"--one": 1, "--pair": 2, "--media": 4}[sys.argv[1]]
used = {int(x) for x in sys.argv[2].split()}
def free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True
for _ in range(1000):
    p = random.randrange(21000, 29900, 4)
    ports = set(range(p, p + span))
    if ports & used:
        continue
    if all(free(q) for q in ports):
        print(p)
        sys.exit(0)
sys.exit("no free port")
PY
  )
  USED_PORTS="$USED_PORTS $(seq -s ' ' "$_free_port" $((_free_port + 3)))"
  # shellcheck disable=SC2034  # a nameref: sets the caller's variable
  _free_port_var=$_free_port
}

free_port SIP_PORT --one
free_port HTTP_PORT --one
export HOTLINE_ADMIN_PASSWORD="interop-admin-$RANDOM$RANDOM"
API=(python3 "$HERE/api.py" --http "127.0.0.1:$HTTP_PORT")

cat >"$WORK/hotline.toml" <<EOF
# generated by tests/interop/run.sh
[sip]
listen = "127.0.0.1:$SIP_PORT"
# low enough that baresip's refresh can be observed within the run
min_expires = 20

[http]
listen = "127.0.0.1:$HTTP_PORT"

[database]
url = "sqlite://$WORK/hotline.db"

[media]
# above every port free_port hands out (SIPp media, baresip RTP)
rtp_ports = "30000-30999"

[paths]
recordings_dir = "$WORK/recordings"

# Open around the clock: calls take the working-hours branch whatever the
# time and day the suite runs.
[calendar]
utc_offset = "+00:00"
holidays = []

[calendar.hours]
mon = "00:00-24:00"
tue = "00:00-24:00"
wed = "00:00-24:00"
thu = "00:00-24:00"
fri = "00:00-24:00"
sat = "00:00-24:00"
sun = "00:00-24:00"

# Routing: no wrap-up, so an operator phone takes its next call at once.
[[queues]]
name = "general"
wrap_up_s = 0

[[queues]]
name = "admission"
wrap_up_s = 0

[[queues]]
name = "education"
wrap_up_s = 0

# 1001 and 1002 only test registration (SIPp's binding is left behind when
# SIPp exits, baresip 1002 answers nothing): they serve a queue no call of
# the suite reaches, so they are never rung.
[[agents]]
login = "1001"
role = "contact_manager"
password = "secret-1001-pw"
queues = ["education"]

[[agents]]
login = "1002"
role = "contact_manager"
password = "secret-1002-pw"
queues = ["education"]
digest_algorithms = ["MD5"]

# Operator phones that answer routed calls: SIPp 3001, 3002 in the general
# queue; baresip 2101 in admission, who transfers to SIPp 3003 (a login
# in no queue the calls reach: it rings only by that transfer).
[[agents]]
login = "3001"
role = "contact_manager"
password = "secret-3001-pw"
queues = ["general"]

[[agents]]
login = "3002"
role = "contact_manager"
password = "secret-3002-pw"
queues = ["general"]

[[agents]]
login = "3003"
role = "contact_manager"
password = "secret-3003-pw"
queues = ["education"]

[[agents]]
login = "2101"
role = "admission_manager"
password = "secret-2101-pw"
queues = ["admission"]

[[agents]]
login = "2001"
role = "admission_manager"
password = "secret-2001-pw"
queues = ["admission"]
digest_algorithms = ["SHA-256", "MD5"]
EOF

# --- test bookkeeping --------------------------------------------------------
PASSED=0
FAILED=0
# run_test NAME COMMAND...: one check; its output goes to $WORK/NAME.out and
# is shown only when it fails. Test functions return non-zero on failure
# (errexit does not apply inside an `if`, so they check each step).
run_test() {
  local name=$1
  shift
  if "$@" >"$WORK/$name.out" 2>&1; then
    PASSED=$((PASSED + 1))
    say "ok   $name"
  else
    FAILED=$((FAILED + 1))
    say "FAIL $name"
    tail -n 25 "$WORK/$name.out" | sed 's/^/    /' >&2
  fi
}

# sipp_call SCENARIO ARGS...: one SIPp call against the server; exit 0 only
# when the scenario ran to its end. On failure prints SIPp's error log.
sipp_call() {
  local scenario=$1
  shift
  local port rc=0
  free_port port --one
  # SIPp's statistics screen goes to a file; its error log is what explains
  # a failure (timeout 124 = SIPp itself hung, e.g. no answer at all).
  (cd "$WORK/sipp" && timeout 30 sipp "127.0.0.1:$SIP_PORT" -sf "$HERE/sipp/$scenario" \
    -i 127.0.0.1 -p "$port" -m 1 -nostdin -timeout 15s -trace_err "$@" \
    >"${scenario%.xml}.$port.screen" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "sipp $scenario $* exited $rc"
    cat "$WORK/sipp/${scenario%.xml}"_*_errors.log 2>/dev/null | tail -n 20 || true
    echo
    rm -f "$WORK/sipp/${scenario%.xml}"_*_errors.log
  fi
  return "$rc"
}

# --- the server --------------------------------------------------------------
wait_healthy() {
  local deadline=$((SECONDS + 30))
  until "${API[@]}" health; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "the server exited during start-up"
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "no 200 from /healthz within 30 s"
      return 1
    fi
    sleep 0.2
  done
}

server_log_tail() {
  say "server log (last 40 lines):"
  tail -n 40 "$WORK/server.log" | sed 's/^/    /' >&2 || true
}

run_test config_passes_check "$BIN" check "$WORK/hotline.toml"

(cd "$ROOT" && RUST_LOG=${RUST_LOG:-info} exec "$BIN" serve --config "$WORK/hotline.toml") \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
say "hotline (pid $SERVER_PID): SIP 127.0.0.1:$SIP_PORT, HTTP 127.0.0.1:$HTTP_PORT, work dir $WORK"

run_test server_becomes_healthy wait_healthy
if [ "$FAILED" -ne 0 ]; then
  server_log_tail
  say "$PASSED passed, $FAILED failed (server did not start, nothing else tried)"
  exit 1
fi

# --- SIPp: OPTIONS and REGISTER with digest ----------------------------------
run_test sipp_options_udp sipp_call options.xml -s hotline
run_test sipp_options_tcp sipp_call options.xml -s hotline -t t1
run_test sipp_register_1001_udp sipp_call register.xml -s 1001 -au 1001 -ap secret-1001-pw
run_test sipp_register_1001_tcp sipp_call register.xml -s 1001 -au 1001 -ap secret-1001-pw -t t1
run_test sipp_wrong_password_gets_403 sipp_call register_403.xml -s 1001 -au 1001 -ap not-the-password
run_test sipp_unknown_login_gets_403 sipp_call register_403.xml -s 9999 -au 9999 -ap whatever
run_test api_lists_sipp_binding_of_1001 "${API[@]}" registered 1001 --timeout 5

# --- baresip: a real softphone registers and stays registered ----------------
free_port BARESIP_SIP_PORT --pair
free_port BARESIP_CTRL_PORT --one
CTL=(python3 "$HERE/baresip/ctl.py" --port "$BARESIP_CTRL_PORT")

baresip_registers() {
  BARESIP_PROFILE=$(PROFILE_DIR="$WORK/baresip-1002" SIP_PORT=$BARESIP_SIP_PORT \
    CTRL_PORT=$BARESIP_CTRL_PORT REGINT=$REGINT RTP_PORTS=31100-31199 \
    bash "$HERE/baresip/mkprofile.sh" 1002 secret-1002-pw "$SIP_PORT" 0) || return 1
  LIFETIME=300 "$BARESIP_PROFILE/run.sh" || return 1
  # REGISTER_OK may fire before we connect (ctrl_tcp does not replay events),
  # so poll baresip's own registration table with a deadline instead.
  local deadline=$((SECONDS + 20)) info
  while :; do
    info=$("${CTL[@]}" reginfo 2>&1 || true)
    if grep -q 'OK' <<<"$info"; then
      echo "$info"
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "baresip did not register within 20 s:"
      echo "$info"
      tail -n 20 "$BARESIP_PROFILE/baresip.log"
      return 1
    fi
    sleep 0.3
  done
}

FIRST_EXPIRY=""
api_lists_baresip_binding() {
  FIRST_EXPIRY=$("${API[@]}" registered 1002 --contact-port "$BARESIP_SIP_PORT" --timeout 5) || return 1
  echo "1002 registered until $FIRST_EXPIRY (now $(date +%s))"
}

baresip_refreshes_before_expiry() {
  [ -n "$FIRST_EXPIRY" ] || { echo "no first registration to compare with"; return 1; }
  local later
  later=$("${API[@]}" registered 1002 --contact-port "$BARESIP_SIP_PORT" \
    --after "$FIRST_EXPIRY" --timeout $((REGINT + 15))) || return 1
  echo "refreshed: expiry moved from $FIRST_EXPIRY to $later"
  "${CTL[@]}" reginfo | grep -q OK || { echo "baresip no longer shows OK"; return 1; }
}

baresip_unregisters_on_exit() {
  "$BARESIP_PROFILE/stop.sh" || return 1
  "${API[@]}" unregistered 1002 --contact-port "$BARESIP_SIP_PORT" --timeout 10
}

run_test baresip_registers_1002 baresip_registers
run_test api_lists_baresip_binding_of_1002 api_lists_baresip_binding

# --- calls to the IVR ----------------------------------------------------------
# (run while baresip 1002 waits for its registration refresh, to save time)
CALLER_AUDIO=$WORK/caller.ul
ADMISSION_INFO=$ROOT/prompts/ru/admission_info.wav
# what the SIPp callers say: any speech will do (telephone-event is
# negotiated, so the server does not look for in-band tones in it)
python3 "$HERE/tools/audio.py" ulaw "$ROOT/prompts/en/goodbye.wav" "$CALLER_AUDIO"

# start_capture FILE PORT...: tcpdump the UDP sent to any of the PORTs on lo
# into FILE (SIPp does not read the RTP it is sent), returning once it
# listens.
# --immediate-mode: without it libpcap hands packets over in blocks up to
# 1 s late, and the last second of the call is lost when tcpdump is stopped.
start_capture() {
  local file=$1 filter="" port
  shift
  for port in "$@"; do
    filter="${filter:+$filter or }dst port $port"
  done
  "${AS_ROOT[@]}" tcpdump -i lo -n -U --immediate-mode -w "$file" "udp and ($filter)" 2>"$file.log" &
  CAPTURE_PID=$!
  local deadline=$((SECONDS + 10))
  until grep -q 'listening on' "$file.log" 2>/dev/null; do
    if ! kill -0 "$CAPTURE_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "tcpdump did not start:"
      cat "$file.log"
      CAPTURE_PID=""
      return 1
    fi
    sleep 0.05
  done
}

stop_capture() {
  [ -n "$CAPTURE_PID" ] || return 0
  kill -INT "$CAPTURE_PID" 2>/dev/null || true
  wait "$CAPTURE_PID" 2>/dev/null || true
  CAPTURE_PID=""
}

# sipp_ivr_call NAME DIGITS AFTER_MS SIP_PORT MEDIA_PORT [AUDIO.ul]: a SIPp
# caller on SIP_PORT/MEDIA_PORT dials "hotline", speaking AUDIO (looped;
# default $CALLER_AUDIO), listens 1 s (the greeting; a key interrupts it
# and goes to the main menu), presses DIGITS (RFC 4733 events replayed
# from a pcap), listens AFTER_MS more and hangs up (or answers the server's
# BYE). Its Call-ID is interop-NAME-1@127.0.0.1.
sipp_ivr_call() {
  local name=$1 digits=$2 after_ms=$3 local_port=$4 media_port=$5 audio=${6:-$CALLER_AUDIO}
  local dtmf_ms rc=0
  dtmf_ms=$(python3 "$HERE/tools/mkdtmf.py" "$digits" "$WORK/sipp/$name.pcap") || return 1
  (cd "$WORK/sipp" && timeout 60 "${AS_ROOT[@]}" sipp "127.0.0.1:$SIP_PORT" \
    -sf "$HERE/sipp/caller_ivr.xml" -s hotline -cid_str "interop-$name-%u@%s" \
    -i 127.0.0.1 -p "$local_port" -mi 127.0.0.1 -mp "$media_port" \
    -key dtmf_pcap "$WORK/sipp/$name.pcap" -key caller_audio "$audio,-1,0" \
    -set wait_ms 1000 -set dtmf_ms $((dtmf_ms + 200)) -set after_ms "$after_ms" \
    -m 1 -nostdin -timeout 30s -trace_err >"$name.screen" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "sipp caller $name (keys $digits) exited $rc"
    cat "$WORK/sipp/caller_ivr"_*_errors.log 2>/dev/null | tail -n 20 || true
    rm -f "$WORK/sipp/caller_ivr"_*_errors.log
  fi
  return "$rc"
}

ADMISSION_CAPTURE=""
ADMISSION_MEDIA_PORT=""
sipp_caller_admission_self_service() {
  local sip media rc=0
  free_port sip --one
  free_port media --media
  start_capture "$WORK/admission.pcap" "$media" || return 1
  sipp_ivr_call admission 11 6000 "$sip" "$media" || rc=$?
  stop_capture
  [ "$rc" -eq 0 ] || return 1
  ADMISSION_CAPTURE=$WORK/admission.pcap
  ADMISSION_MEDIA_PORT=$media
  "${API[@]}" inquiry --call-id interop-admission-1@127.0.0.1 --timeout 10 \
    --expect status=resolved_in_ivr --expect ivr_path=1,1 \
    --expect category=applicant --expect topic=admission_rules
}

# The RTP the admission caller received, as a listener would judge it.
sipp_caller_hears_admission_info() {
  [ -n "$ADMISSION_CAPTURE" ] || { echo "no capture (the call failed)"; return 1; }
  python3 "$HERE/tools/rtp_check.py" "$ADMISSION_CAPTURE" --dst-port "$ADMISSION_MEDIA_PORT" \
    --prompt "$ADMISSION_INFO" --tail-s 2 --min-corr 0.9 --wav-out "$WORK/admission-heard.wav"
}

ZERO_CAPTURE=""
ZERO_MEDIA_PORT=""
sipp_caller_zero_waits_in_general_queue() {
  local sip media pid rc=0
  free_port sip --one
  free_port media --media
  start_capture "$WORK/zero.pcap" "$media" || return 1
  sipp_ivr_call zero 0 5000 "$sip" "$media" &
  pid=$!
  # while the caller is still on hold
  "${API[@]}" inquiry --call-id interop-zero-1@127.0.0.1 --timeout 5 \
    --expect status=waiting --expect queue=general --expect ivr_path=0 || rc=1
  wait "$pid" || rc=1
  stop_capture
  [ "$rc" -eq 0 ] || return 1
  ZERO_CAPTURE=$WORK/zero.pcap
  ZERO_MEDIA_PORT=$media
  "${API[@]}" inquiry --call-id interop-zero-1@127.0.0.1 --timeout 10 \
    --expect status=abandoned --expect queue=general --expect ivr_path=0 \
    --expect category=other --expect topic=general
}

# Until agents can answer, a waiting caller hears "please hold" (5.6 s, so
# the caller hangs up before the music starts).
sipp_caller_zero_hears_please_hold() {
  [ -n "$ZERO_CAPTURE" ] || { echo "no capture (the call failed)"; return 1; }
  python3 "$HERE/tools/rtp_check.py" "$ZERO_CAPTURE" --dst-port "$ZERO_MEDIA_PORT" \
    --prompt "$ROOT/prompts/ru/please_hold.wav" --tail-s 2 --min-corr 0.9
}

# baresip as a caller: no registration, dials the hotline by URI.
baresip_calls_and_navigates() {
  local sip ctrl events call_id recording
  free_port sip --pair
  free_port ctrl --one
  CALLER_PROFILE=$(PROFILE_DIR="$WORK/baresip-caller" SIP_PORT=$sip CTRL_PORT=$ctrl \
    RTP_PORTS=31000-31099 bash "$HERE/baresip/mkprofile.sh" 7001 unused 0 0) || return 1
  LIFETIME=60 "$CALLER_PROFILE/run.sh" || return 1
  if ! events=$(python3 "$HERE/baresip/ctl.py" --port "$ctrl" do \
    "dial sip:hotline@127.0.0.1:$SIP_PORT" "wait CALL_ESTABLISHED 10" \
    "sleep 1" "dtmf 1" "sleep 0.5" "dtmf 1" "sleep 5" "hangup" "wait CALL_CLOSED 5"); then
    echo "$events"
    tail -n 20 "$CALLER_PROFILE/baresip.log"
    return 1
  fi
  echo "$events"
  # the event's id is the SIP Call-ID, which the inquiry records
  call_id=$(python3 -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        ev = json.loads(line)
        if ev.get("type") == "CALL_ESTABLISHED":
            print(ev.get("id", ""))
            break
' <<<"$events")
  [ -n "$call_id" ] || { echo "no CALL_ESTABLISHED event with a call id"; return 1; }
  "$CALLER_PROFILE/stop.sh"
  CALLER_PROFILE=""
  "${API[@]}" inquiry --call-id "$call_id" --timeout 10 \
    --expect status=resolved_in_ivr --expect ivr_path=1,1 \
    --expect category=applicant --expect topic=admission_rules || return 1
  recording=$(ls "$WORK"/baresip-caller/rec/dump-*-dec.wav 2>/dev/null | head -n 1)
  [ -n "$recording" ] || { echo "baresip recorded nothing"; return 1; }
  python3 "$HERE/tools/audio.py" level "$recording" --min-dbfs -40 \
    --prompt "$ADMISSION_INFO" --tail-s 1 --min-corr 0.9
}

# Calls did not disturb signalling: OPTIONS and REGISTER still answered.
sipp_options_and_register_still_ok() {
  sipp_call options.xml -s hotline &&
    sipp_call register.xml -s 1001 -au 1001 -ap secret-1001-pw
}

run_test sipp_caller_admission_self_service sipp_caller_admission_self_service
run_test sipp_caller_hears_admission_info sipp_caller_hears_admission_info
run_test sipp_caller_zero_waits_in_general_queue sipp_caller_zero_waits_in_general_queue
run_test sipp_caller_zero_hears_please_hold sipp_caller_zero_hears_please_hold
run_test baresip_calls_and_navigates baresip_calls_and_navigates
run_test sipp_options_and_register_still_ok sipp_options_and_register_still_ok

# --- routed calls: IVR -> queue -> operator phones ------------------------------
# Operators' and callers' voices for the routed calls: speech, cut to whole
# 20 ms frames so that SIPp's looped stream stays frame-aligned and the far
# end's audio can be matched against it (rtp_check.py --loop).
AGENT_VOICE=$WORK/agent-voice.wav
AGENT_AUDIO=$WORK/agent-voice.ul
CALLER_VOICE=$WORK/caller-voice.wav
CALLER_LOOP_AUDIO=$WORK/caller-voice.ul
python3 "$HERE/tools/audio.py" ulaw "$ROOT/prompts/en/study_info.wav" "$AGENT_AUDIO" \
  --whole-frames "$AGENT_VOICE"
python3 "$HERE/tools/audio.py" ulaw "$ROOT/prompts/en/goodbye.wav" "$CALLER_LOOP_AUDIO" \
  --whole-frames "$CALLER_VOICE"

# start_sipp_agent LOGIN RING_MS TALK_MS CALLS: a SIPp operator phone
# (agent_uas.xml) for LOGIN, registered with digest (MD5) from a separate
# SIPp run whose Contact points at it; it answers after RING_MS, talks
# TALK_MS (3600000: never hangs up itself) and exits after CALLS calls.
# Sets AGENT_SIP_<LOGIN>, AGENT_MEDIA_<LOGIN> (its ports) and
# AGENT_PID_<LOGIN> (its `timeout` wrapper).
start_sipp_agent() {
  local login=$1 ring_ms=$2 talk_ms=$3 calls=$4 sip media
  free_port sip --one
  free_port media --media
  mkdir -p "$WORK/agent-$login"
  (cd "$WORK/agent-$login" && exec timeout 60 sipp -sf "$HERE/sipp/agent_uas.xml" \
    -i 127.0.0.1 -p "$sip" -mi 127.0.0.1 -mp "$media" \
    -key agent_audio "$AGENT_AUDIO,-1,0" -set ring_ms "$ring_ms" -set talk_ms "$talk_ms" \
    -m "$calls" -nostdin -timeout 50s -trace_err -trace_logs >screen 2>&1) &
  printf -v "AGENT_PID_$login" '%s' "$!"
  AGENT_PIDS+=("$!")
  printf -v "AGENT_SIP_$login" '%s' "$sip"
  printf -v "AGENT_MEDIA_$login" '%s' "$media"
  sipp_call register.xml -s "$login" -au "$login" -ap "secret-$login-pw" \
    -set contact_port "$sip" || return 1
  "${API[@]}" registered "$login" --contact-port "$sip" --timeout 5 >/dev/null
}

# wait_sipp_agent LOGIN: the phone took all its calls and exited 0.
wait_sipp_agent() {
  local pid_var="AGENT_PID_$1" rc=0
  wait "${!pid_var}" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "SIPp operator $1 exited $rc"
    tail -n 20 "$WORK/agent-$1/screen"
    cat "$WORK/agent-$1"/agent_uas_*_errors.log 2>/dev/null | tail -n 20
  fi
  return "$rc"
}

# agent_saw_invite LOGIN INQUIRY_ID DISPLAY: the INVITE that rang LOGIN's
# phone showed the caller's number, DISPLAY as the name, and a Call-Info
# with the inquiry's URL (the operator's screen pop).
agent_saw_invite() {
  local line
  line=$(grep -h ' invite from=' "$WORK/agent-$1"/agent_uas_*_logs.log 2>/dev/null | head -n 1)
  echo "$1's phone: $line"
  grep -qF "\"$3\" <sip:caller1@" <<<"$line" || { echo "no \"$3\" <sip:caller1@...> in From"; return 1; }
  grep -qF "/api/v1/inquiries/$2>" <<<"$line" || { echo "Call-Info does not point at inquiry $2"; return 1; }
}

# json_field FIELD: FIELD of the JSON object on stdin
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$1"; }

ROUTED_CAPTURE=""
declare -A ROUTED_MEDIA=()
# Two SIPp callers press 0 at the same moment; SIPp operators 3001 (hangs
# up after 2.5 s of talk) and 3002 (waits for the caller's BYE) each
# answer one. Both calls complete, both inquiries end resolved with their
# operator, each operator's INVITE showed who calls.
sipp_operators_answer_callers() {
  local rc=0 sip_a sip_b media_a media_b pid_a pid_b inq_a inq_b agents
  start_sipp_agent 3001 500 2500 1 || return 1
  start_sipp_agent 3002 500 3600000 1 || return 1
  free_port sip_a --one
  free_port sip_b --one
  free_port media_a --media
  free_port media_b --media
  ROUTED_MEDIA=([caller_a]=$media_a [caller_b]=$media_b
    [3001]=$AGENT_MEDIA_3001 [3002]=$AGENT_MEDIA_3002)
  start_capture "$WORK/routed.pcap" "${ROUTED_MEDIA[@]}" || return 1
  sipp_ivr_call routed_a 0 6000 "$sip_a" "$media_a" "$CALLER_LOOP_AUDIO" &
  pid_a=$!
  sipp_ivr_call routed_b 0 6000 "$sip_b" "$media_b" "$CALLER_LOOP_AUDIO" &
  pid_b=$!
  wait "$pid_a" || rc=1
  wait "$pid_b" || rc=1
  wait_sipp_agent 3001 || rc=1
  wait_sipp_agent 3002 || rc=1
  stop_capture
  [ "$rc" -eq 0 ] || return 1
  ROUTED_CAPTURE=$WORK/routed.pcap
  inq_a=$("${API[@]}" inquiry --call-id interop-routed_a-1@127.0.0.1 --timeout 10 \
    --expect status=resolved --expect queue=general --expect agent='*' \
    --expect category=other --expect topic=general) || return 1
  inq_b=$("${API[@]}" inquiry --call-id interop-routed_b-1@127.0.0.1 --timeout 10 \
    --expect status=resolved --expect queue=general --expect agent='*' \
    --expect category=other --expect topic=general) || return 1
  echo "$inq_a"
  echo "$inq_b"
  agents=$( (json_field agent <<<"$inq_a"; json_field agent <<<"$inq_b") | sort | tr '\n' ' ')
  [ "$agents" = "3001 3002 " ] || { echo "operators of the two calls: $agents (want 3001 and 3002)"; return 1; }
  for inq in "$inq_a" "$inq_b"; do
    agent_saw_invite "$(json_field agent <<<"$inq")" "$(json_field id <<<"$inq")" \
      "Другое · общий вопрос" || return 1
  done
}

# routed_audio_arrives WHO REF.wav: the RTP sent to WHO's media port in the
# routed calls is paced, not silent, and ends with REF (looped) — the
# voice of the other side of the bridge.
routed_audio_arrives() {
  [ -n "$ROUTED_CAPTURE" ] || { echo "no capture (the calls failed)"; return 1; }
  python3 "$HERE/tools/rtp_check.py" "$ROUTED_CAPTURE" --dst-port "${ROUTED_MEDIA[$1]}" \
    --prompt "$2" --loop --bridged --tail-s 1 --min-corr 0.9 --wav-out "$WORK/heard-by-$1.wav"
}

run_test sipp_operators_answer_callers sipp_operators_answer_callers
run_test caller_a_hears_operator routed_audio_arrives caller_a "$AGENT_VOICE"
run_test caller_b_hears_operator routed_audio_arrives caller_b "$AGENT_VOICE"
run_test operator_3001_hears_caller routed_audio_arrives 3001 "$CALLER_VOICE"
run_test operator_3002_hears_caller routed_audio_arrives 3002 "$CALLER_VOICE"

# --- blind transfer by REFER from a real softphone ------------------------------
XFER_CAPTURE=""
XFER_MEDIA=""
XFER_RECORDING_DIR=""
# A SIPp caller presses 1, 2 (applicant, talk to an admission manager):
# baresip operator 2101 answers by itself, and once the inquiry shows it
# talking, its `transfer` command sends a REFER to sip:3003@hotline; SIPp
# operator 3003 rings, answers, talks 3 s and hangs up, which ends the
# caller's call too. One inquiry: transfers 1, agent 3003, resolved.
# (2101's ctrl_tcp port is its own: CTL stays baresip 1002's.)
baresip_operator_transfers_by_refer() {
  local op_sip op_ctrl sip media caller_pid rc=0 inq ctl
  start_sipp_agent 3003 300 3000 1 || return 1
  free_port op_sip --pair
  free_port op_ctrl --one
  OPERATOR_PROFILE=$(PROFILE_DIR="$WORK/baresip-2101" SIP_PORT=$op_sip CTRL_PORT=$op_ctrl \
    REGINT=300 RTP_PORTS=31200-31299 CALL_TRANSFER=yes \
    bash "$HERE/baresip/mkprofile.sh" 2101 secret-2101-pw "$SIP_PORT" 1) || return 1
  XFER_RECORDING_DIR=$OPERATOR_PROFILE/rec
  LIFETIME=120 "$OPERATOR_PROFILE/run.sh" || return 1
  "${API[@]}" registered 2101 --contact-port "$op_sip" --timeout 10 >/dev/null || return 1
  free_port sip --one
  free_port media --media
  start_capture "$WORK/xfer.pcap" "$media" "$AGENT_MEDIA_3003" || return 1
  # the caller stays until the server hangs up (after_ms is a backstop)
  sipp_ivr_call xfer 12 20000 "$sip" "$media" "$CALLER_LOOP_AUDIO" &
  caller_pid=$!
  # the operator talks 2 s (baresip records what it hears), then transfers
  if "${API[@]}" inquiry --call-id interop-xfer-1@127.0.0.1 --timeout 15 \
    --expect status=in_progress --expect agent=2101 --expect queue=admission; then
    ctl=$(python3 "$HERE/baresip/ctl.py" --port "$op_ctrl" do "sleep 2" \
      "transfer sip:3003@127.0.0.1:$SIP_PORT" "wait CALL_CLOSED 10" 2>&1) || rc=1
    echo "$ctl"
  else
    rc=1
    tail -n 20 "$OPERATOR_PROFILE/baresip.log"
  fi
  wait "$caller_pid" || rc=1
  wait_sipp_agent 3003 || rc=1
  stop_capture
  "$OPERATOR_PROFILE/stop.sh"
  [ "$rc" -eq 0 ] || { tail -n 20 "$OPERATOR_PROFILE/baresip.log"; return 1; }
  XFER_CAPTURE=$WORK/xfer.pcap
  XFER_MEDIA=$media
  inq=$("${API[@]}" inquiry --call-id interop-xfer-1@127.0.0.1 --timeout 10 \
    --expect status=resolved --expect transfers=1 --expect agent=3003 \
    --expect category=applicant --expect topic=admission) || return 1
  echo "$inq"
  agent_saw_invite 3003 "$(json_field id <<<"$inq")" "Абитуриент · приём"
}

# After the transfer the caller hears 3003, 3003 hears the caller, and
# baresip heard the caller before it transferred.
transferred_audio_arrives() {
  [ -n "$XFER_CAPTURE" ] || { echo "no capture (the call failed)"; return 1; }
  python3 "$HERE/tools/rtp_check.py" "$XFER_CAPTURE" --dst-port "$XFER_MEDIA" \
    --prompt "$AGENT_VOICE" --loop --bridged --tail-s 1 --min-corr 0.9 || return 1
  python3 "$HERE/tools/rtp_check.py" "$XFER_CAPTURE" --dst-port "$AGENT_MEDIA_3003" \
    --prompt "$CALLER_VOICE" --loop --bridged --tail-s 1 --min-corr 0.9 || return 1
  local recording
  recording=$(ls "$XFER_RECORDING_DIR"/dump-*-dec.wav 2>/dev/null | head -n 1)
  [ -n "$recording" ] || { echo "baresip 2101 recorded nothing"; return 1; }
  python3 "$HERE/tools/audio.py" level "$recording" --min-dbfs -40
}

run_test baresip_operator_transfers_by_refer baresip_operator_transfers_by_refer
run_test transferred_call_audio_both_ways transferred_audio_arrives

# --- baresip 1002 again: refresh and unregister ---------------------------------
run_test baresip_stays_registered baresip_refreshes_before_expiry
run_test baresip_unregisters_on_exit baresip_unregisters_on_exit

# --- graceful stop -------------------------------------------------------------
server_stops_on_sigterm() {
  kill -TERM "$SERVER_PID" || return 1
  local deadline=$((SECONDS + 20)) rc=0
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "still running 20 s after SIGTERM"
      return 1
    fi
    sleep 0.1
  done
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  echo "exit status $rc"
  [ "$rc" -eq 0 ]
}
run_test server_stops_on_sigterm server_stops_on_sigterm

if [ "$FAILED" -ne 0 ]; then
  server_log_tail
fi
echo "interop: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
