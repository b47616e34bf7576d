#!/usr/bin/env bash
# run-routed.sh RATE [N] - N callers at RATE calls/s through IVR -> queue ->
# agent against a fresh hotline server on loopback (default N = 15 s worth).
#
# Setup: N_AGENTS (300) contact managers in the `general` queue (wrap_up_s
# 0), each registered with MD5 digest by one SIPp run (register_agents.xml)
# with the same Contact: one SIPp process (agent_call.xml) is every agent's
# phone. It answers after RING_MS (100), streams a tone back and never hangs
# up itself.
# Each call (held_call.xml): INVITE, answer, the caller streams a tone, after
# 1 s presses 0 by SIP INFO (greeting -> main menu -> operator queue), the
# server rings the longest-idle agent, bridges, and the caller hangs up
# TALK_MS (1000) after its key; the server ends the agent's leg.
# Reported:
#   - SIPp callers and agents: successful / failed calls (with reasons),
#     retransmissions, response times;
#   - CPU (% of one core) and RSS of the server and both SIPp processes
#     over the steady part of the run;
#   - the media check: CAPTURE_S seconds of the RTP the server sends to the
#     callers and to the agents (both legs of every bridged call), rate and
#     pacing per stream (rtp_check.py), and the RTP SIPp sends (the source
#     of relayed audio, whose pacing the relay keeps);
#   - queue entry -> agent INVITE (queue_latency.py): from the server's log
#     lines, and to the INVITE on the wire (SIP captured during the same
#     window), and the caller's key (INFO) -> INVITE;
#   - inquiries: one per call, every one resolved with an agent.
# Verdict: PASS only with zero failed calls on both sides, full media and
# every inquiry resolved with an agent.
#
# Environment: N_AGENTS, RING_MS, TALK_MS, CAPTURE_S (4), CAPTURE_WHOLE (0;
# 1: capture the whole calling period, attached before the first call; the
# CPU window then includes tcpdump's cost under "other"), OUT (default
# /tmp/hotline-bench/routed-RATE-TIME), RESULTS (append a one-line summary),
# AGENT_SIP_PORT (15080), AGENT_MEDIA_PORT (17000), REG_PORT (15090), and
# common.sh's. Logs at RUST_LOG=warn,hotline::call::routed=info (three lines
# per call) for the latency. Needs root or CAP_NET_RAW for tcpdump.
set -euo pipefail
. "$(dirname "$0")/common.sh"

RATE=${1:?usage: run-routed.sh RATE [N]}
N=${2:-$((RATE * 15))}
N_AGENTS=${N_AGENTS:-300}
RING_MS=${RING_MS:-100}
TALK_MS=${TALK_MS:-1000}
CAPTURE_WHOLE=${CAPTURE_WHOLE:-0}
KEY_MS=1000
AGENT_SIP_PORT=${AGENT_SIP_PORT:-15080}
AGENT_MEDIA_PORT=${AGENT_MEDIA_PORT:-17000}
REG_PORT=${REG_PORT:-15090}
export RUST_LOG=${RUST_LOG:-warn,hotline::call::routed=info}
OUT=${OUT:-/tmp/hotline-bench/routed-$RATE-$(date +%H%M%S)}
mkdir -p "$OUT/agents" "$OUT/register"
OUT=$(cd "$OUT" && pwd)
check_tools

SEND_S=$(((N + RATE - 1) / RATE))
CALL_S=$(((KEY_MS + TALK_MS + 999) / 1000))
STEADY_FROM=$((CALL_S + 1))
CAP_AT=$((SEND_S - CAPTURE_S - 1))
[ "$CAP_AT" -ge $((STEADY_FROM + 3)) ] ||
    die "N=$N at $RATE calls/s is too short: need >= $(((STEADY_FROM + 4 + CAPTURE_S) * RATE)) calls"

# Agents and queues appended to common.sh's config.
python3 - "$OUT/agents.toml" "$OUT/agents.csv" "$N_AGENTS" "$AGENT_SIP_PORT" <<'PY'
import sys
toml, csv, n, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with open(toml, "w") as t, open(csv, "w") as c:
    for q in ("general", "admission", "education"):
        t.write(f'[[queues]]\nname = "{q}"\nwrap_up_s = 0\nring_timeout_s = 5\n\n')
    c.write("SEQUENTIAL\n")
    for i in range(n):
        login = str(6000 + i)
        t.write(f'[[agents]]\nlogin = "{login}"\nrole = "contact_manager"\n'
                f'password = "bench-{login}"\nqueues = ["general"]\n\n')
        c.write(f"{login};bench-{login};{port}\n")
PY
make_caller_audio "$OUT/caller.ul"
cp "$OUT/caller.ul" "$OUT/agent.ul"
EXTRA_TOML=$OUT/agents.toml READY_S=${READY_S:-180} start_server "$OUT"

# Every agent's phone: one SIPp, exactly one call per caller.
cd "$OUT/agents"
timeout -k 5 $((SEND_S + CALL_S + 120)) sipp -sf "$HERE/agent_call.xml" \
    -i 127.0.0.1 -p "$AGENT_SIP_PORT" -mi 127.0.0.1 -mp "$AGENT_MEDIA_PORT" \
    -key agent_audio "$OUT/agent.ul,-1,0" -set ring_ms "$RING_MS" -set talk_ms 3600000 \
    -m "$N" -nostdin -trace_err -trace_stat -fd 1 -trace_counts \
    >"$OUT/agents/sipp.out" 2>&1 &
AGENTS_WRAPPER_PID=$!
cd "$OUT/register"
timeout 60 sipp "127.0.0.1:$SIP_PORT" -sf "$HERE/register_agents.xml" -inf "$OUT/agents.csv" \
    -i 127.0.0.1 -p "$REG_PORT" -m "$N_AGENTS" -r 200 -l 100 -nostdin -trace_err \
    >"$OUT/register/sipp.out" 2>&1 || die "registering $N_AGENTS agents failed: $(tail -n 5 "$OUT/register/sipp.out")"
sleep 1

# start_captures SECONDS: both captures in the background, returning once
# they listen. Attaching a capture to lo stalls the loopback traffic for a
# moment; with CAPTURE_WHOLE=1 that happens before the first call and the
# captures cover the whole calling period instead of a 4 s window.
RTP_FILTER="udp and (dst port $MEDIA_PORT or dst port $AGENT_MEDIA_PORT)"
# what SIPp's rtp_stream sends: the source of every relayed frame
SRC_FILTER="udp and (src port $MEDIA_PORT or src port $AGENT_MEDIA_PORT)"
SIP_FILTER="udp and (dst port $AGENT_SIP_PORT or (dst port $SIP_PORT and src port $SIPP_PORT))"
CAP_PIDS=()
start_captures() {
    timeout -s INT "$1" tcpdump -i lo -n -s 2048 -B 65536 -w "$OUT/sip.pcap" \
        "$SIP_FILTER" 2>"$OUT/sip.pcap.log" &
    CAP_PIDS+=("$!")
    timeout -s INT "$1" tcpdump -i lo -n -s "$SNAPLEN" -B 65536 -w "$OUT/rtp.pcap" \
        "$RTP_FILTER" 2>"$OUT/rtp.pcap.log" &
    CAP_PIDS+=("$!")
    timeout -s INT "$1" tcpdump -i lo -n -s "$SNAPLEN" -B 65536 -w "$OUT/src.pcap" \
        "$SRC_FILTER" 2>"$OUT/src.pcap.log" &
    CAP_PIDS+=("$!")
    local deadline=$((SECONDS + 10))
    until grep -q 'listening on' "$OUT/sip.pcap.log" 2>/dev/null &&
        grep -q 'listening on' "$OUT/rtp.pcap.log" 2>/dev/null &&
        grep -q 'listening on' "$OUT/src.pcap.log" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || die "tcpdump did not start"
        sleep 0.05
    done
}
wait_captures() {
    local pid
    for pid in "${CAP_PIDS[@]}"; do wait "$pid" || true; done
    CAP_PIDS=()
}
CAP_T0=$SEND_S
if [ "$CAPTURE_WHOLE" = 1 ]; then
    start_captures $((SEND_S + CALL_S + 2))
fi

LIMIT=$((RATE * (CALL_S + 2) * 3 + 50))
cd "$OUT"
timeout -k 5 $((SEND_S + CALL_S + 40)) sipp "127.0.0.1:$SIP_PORT" \
    -sf "$HERE/held_call.xml" -s hotline -t u1 \
    -i 127.0.0.1 -p "$SIPP_PORT" -mi 127.0.0.1 -mp "$MEDIA_PORT" \
    -key caller_audio "$OUT/caller.ul,-1,0" -set key_ms "$KEY_MS" -set hold_ms "$TALK_MS" \
    -r "$RATE" -m "$N" -l "$LIMIT" -recv_timeout 10000 -nostdin \
    -trace_err -trace_stat -fd 1 -trace_rtt -rtt_freq 1 -trace_counts \
    >"$OUT/sipp.out" 2>&1 &
SIPP_WRAPPER_PID=$!

SIPP_PID=""
AGENTS_PID=""
for _ in $(seq 50); do
    SIPP_PID=$(pgrep -P "$SIPP_WRAPPER_PID" -x sipp || true)
    AGENTS_PID=$(pgrep -P "$AGENTS_WRAPPER_PID" -x sipp || true)
    [ -n "$SIPP_PID" ] && [ -n "$AGENTS_PID" ] && break
    sleep 0.05
done
[ -n "$SIPP_PID" ] && [ -n "$AGENTS_PID" ] || die "sipp did not start: $(cat "$OUT/sipp.out")"
start_sampler "$OUT/procstat.csv" "server=$SERVER_PID" "sipp=$SIPP_PID" "agents=$AGENTS_PID"

if [ "$CAPTURE_WHOLE" = 0 ]; then
    # Steady part: capture the RTP towards both sides (headers only) and
    # the SIP towards the agents plus the callers' INFOs (whole messages).
    sleep "$CAP_AT"
    CAP_T0=$(sampler_t "$OUT/procstat.csv")
    start_captures "$CAPTURE_S"
fi
wait_captures
CAPTURE_INFO=$(grep -hE "captured|dropped" "$OUT/rtp.pcap.log" "$OUT/src.pcap.log" "$OUT/sip.pcap.log" | tr '\n' ' ')

set +e
wait "$SIPP_WRAPPER_PID"
SIPP_RC=$?
SIPP_WRAPPER_PID=""
# the agents' SIPp ends after its N-th call; a call that never reached an
# agent would keep it waiting, so it is bounded by the callers' end + 15 s
for _ in $(seq 150); do kill -0 "$AGENTS_WRAPPER_PID" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$AGENTS_WRAPPER_PID" 2>/dev/null
wait "$AGENTS_WRAPPER_PID"
AGENTS_RC=$?
AGENTS_WRAPPER_PID=""
set -e
stop_sampler

python3 "$HERE/sipp_stats.py" "$OUT" >"$OUT/sipp.kv"
python3 "$HERE/sipp_stats.py" "$OUT/agents" >"$OUT/agents.kv"
python3 "$HERE/procstat.py" window "$OUT/procstat.csv" --from "$STEADY_FROM" \
    --to "$(python3 -c "print($CAP_T0 - 0.5)")" >"$OUT/cpu.kv"
python3 "$HERE/rtp_check.py" "$OUT/rtp.pcap" >"$OUT/rtp.kv" || true
python3 "$HERE/rtp_check.py" "$OUT/src.pcap" >"$OUT/src.kv" || true

sleep 1
stop_server
python3 "$HERE/queue_latency.py" "$OUT/server.log" --pcap "$OUT/sip.pcap" \
    --server-port "$SIP_PORT" >"$OUT/latency.kv"
INQ_TOTAL=$(inquiry_total "$OUT/hotline.db")
INQ_STATUS=$(inquiry_statuses "$OUT/hotline.db")
INQ_ANSWERED=$(sqlite3 "$OUT/hotline.db" \
    "SELECT count(*) FROM inquiries WHERE status = 'resolved' AND agent IS NOT NULL;")
INQ_AGENTS=$(sqlite3 "$OUT/hotline.db" "SELECT count(DISTINCT agent) FROM inquiries;")

S=$OUT/sipp.kv A=$OUT/agents.kv C=$OUT/cpu.kv R=$OUT/rtp.kv RS=$OUT/src.kv L=$OUT/latency.kv
created=$(kv created "$S") ok=$(kv successful "$S") failed=$(kv failed "$S")
a_ok=$(kv successful "$A") a_failed=$(kv failed "$A")
srv_cpu=$(kv server_cpu_pct "$C")
cpu_ms_per_call=$(python3 -c "print(f'{float(\"$srv_cpu\" or 0) * 10 / $RATE:.3f}')")
verdict=PASS
[ "$SIPP_RC" = 0 ] && [ "$failed" = 0 ] && [ "$ok" = "$N" ] || verdict=FAIL
[ "$a_failed" = 0 ] && [ "$a_ok" = "$N" ] || verdict=FAIL
# Relayed audio leaves when it arrives: its pacing is the source's. SIPp's
# rtp_stream itself slips ~16 ms about once a second (p99 inter-arrival
# ~36 ms at any load), so pacing alone may fail on what SIPp sent; that
# passes when the server's streams are no worse than SIPp's (p99 within
# 2 ms) and rate and losses pass.
MEDIA=$(kv verdict "$R")
if [ "$MEDIA" != ok ] && [ "$(kv fail "$R")" = pacing ] &&
    python3 -c "import sys; sys.exit(0 if float('$(kv gap_p99_ms "$R")') <= float('$(kv gap_p99_ms "$RS")') + 2 else 1)"; then
    MEDIA="ok (p99 as SIPp's own)"
fi
case "$MEDIA" in ok*) ;; *) verdict=FAIL ;; esac
[ "$INQ_TOTAL" = "$created" ] && [ "$INQ_ANSWERED" = "$N" ] || verdict=FAIL

{
    echo "== IVR -> queue -> agent: $N calls at $RATE calls/s, $N_AGENTS agents, ring ${RING_MS} ms, talk ~${TALK_MS} ms (out: $OUT)"
    echo "callers: exit=$SIPP_RC created=$created successful=$ok failed=$failed reasons=[$(kv fail_reasons "$S")]" \
        "retrans=$(kv retransmissions "$S") peak_concurrent=$(kv peak_concurrent "$S") sent=$(kv send_rate_cps "$S") calls/s (median per second)"
    echo "agents: exit=$AGENTS_RC successful=$a_ok failed=$a_failed reasons=[$(kv fail_reasons "$A")] retrans=$(kv retransmissions "$A") peak_concurrent=$(kv peak_concurrent "$A")"
    echo "response: INVITE->200 p50=$(kv rtd_invite_p50_ms "$S") p99=$(kv rtd_invite_p99_ms "$S") max=$(kv rtd_invite_max_ms "$S") ms;" \
        "INFO->200 p50=$(kv rtd_info_p50_ms "$S") p99=$(kv rtd_info_p99_ms "$S") ms; BYE->200 p50=$(kv rtd_bye_p50_ms "$S") p99=$(kv rtd_bye_p99_ms "$S") ms"
    echo "queue entry -> agent INVITE: log n=$(kv log_count "$L") p50=$(kv log_p50_ms "$L") p90=$(kv log_p90_ms "$L") p99=$(kv log_p99_ms "$L") max=$(kv log_max_ms "$L") ms;" \
        "on the wire n=$(kv wire_count "$L") p50=$(kv wire_p50_ms "$L") p90=$(kv wire_p90_ms "$L") p99=$(kv wire_p99_ms "$L") max=$(kv wire_max_ms "$L") ms;" \
        "key (INFO in) -> INVITE out n=$(kv key_count "$L") p50=$(kv key_p50_ms "$L") p99=$(kv key_p99_ms "$L") max=$(kv key_max_ms "$L") ms"
    echo "cpu (steady ${STEADY_FROM}-${CAP_T0} s, % of one core): server=$srv_cpu (${cpu_ms_per_call} ms CPU per call)" \
        "callers=$(kv sipp_cpu_pct "$C") agents=$(kv agents_cpu_pct "$C") other=$(kv other_pct "$C") machine=$(kv machine_busy_pct "$C") of 200"
    echo "rss: server mean=$(kv server_rss_kb "$C") max=$(kv server_rss_kb_max "$C") KB"
    echo "media ($([ "$CAPTURE_WHOLE" = 1 ] && echo "whole run" || echo "${CAPTURE_S} s") capture: $CAPTURE_INFO): streams=$(kv streams "$R") rated=$(kv rated_streams "$R")" \
        "pps/stream median=$(kv pps_per_stream_median "$R") p1=$(kv pps_per_stream_p1 "$R") min=$(kv pps_per_stream_min "$R")" \
        "below95%=$(kv streams_below_95pct "$R") lost=$(kv seq_lost "$R") ($(kv seq_lost_pct "$R") %)" \
        "gap p50/p99/p99.9/max=$(kv gap_p50_ms "$R")/$(kv gap_p99_ms "$R")/$(kv gap_p999_ms "$R")/$(kv gap_max_ms "$R") ms" \
        "jitter mean/max=$(kv jitter_mean_ms "$R")/$(kv jitter_max_ms "$R") ms verdict=$(kv verdict "$R") $(kv fail "$R")"
    echo "media sent by SIPp (the relayed source): streams=$(kv streams "$RS") pps/stream median=$(kv pps_per_stream_median "$RS")" \
        "gap p50/p99/p99.9/max=$(kv gap_p50_ms "$RS")/$(kv gap_p99_ms "$RS")/$(kv gap_p999_ms "$RS")/$(kv gap_max_ms "$RS") ms" \
        "verdict=$(kv verdict "$RS") $(kv fail "$RS"); media verdict: $MEDIA"
    echo "inquiries: $INQ_TOTAL for $created calls, resolved with an agent: $INQ_ANSWERED, distinct agents: $INQ_AGENTS, status: $INQ_STATUS"
    echo "server log warnings/errors: $(grep -cE ' (WARN|ERROR) ' "$OUT/server.log" || true)"
    echo "verdict: $verdict"
} | tee "$OUT/result.txt"

if [ -n "${RESULTS:-}" ]; then
    printf '%s\n' "rate=$RATE n=$N agents=$N_AGENTS ok=$ok failed=$failed a_ok=$a_ok a_failed=$a_failed srv_cpu=$srv_cpu cpu_ms_call=$cpu_ms_per_call lat_log_p50=$(kv log_p50_ms "$L") lat_log_p99=$(kv log_p99_ms "$L") lat_wire_p50=$(kv wire_p50_ms "$L") lat_wire_p99=$(kv wire_p99_ms "$L") lat_wire_max=$(kv wire_max_ms "$L") pps_med=$(kv pps_per_stream_median "$R") gap_p99=$(kv gap_p99_ms "$R") src_gap_p99=$(kv gap_p99_ms "$RS") media=\"$MEDIA\" inq=$INQ_TOTAL answered=$INQ_ANSWERED verdict=$verdict out=$OUT" >>"$RESULTS"
fi
[ "$verdict" = PASS ]
