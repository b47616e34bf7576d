#!/usr/bin/env bash
# run-concurrent.sh N - N callers on hold at once, each receiving a
# continuous prompt / hold-music stream, against a fresh hotline server on
# loopback.
#
# Each call (held_call.xml): INVITE, answer, the caller streams audio, after
# 1 s presses 0 (SIP INFO) and so reaches the operator queue: "please hold",
# then looped hold music, 50 RTP packets/s, until the caller hangs up after
# HOLD_S. Calls start at RAMP_CPS (100/s). Over the steady window (every
# call up, capture not running) it reports:
#   - CPU of the server in % of one core, in total and per call (goal
#     <= 0.04 %), and SIPp's own CPU (it must stay well under one core for
#     the figures to mean anything);
#   - RSS of the server minus its idle RSS (measured before the first call),
#     per call (goal <= 30 KB);
#   - the media check: CAPTURE_S seconds of the RTP the server sends:
#     packets/s per call (expect 50), losses, gaps, jitter, clock drift;
#   - SIPp's successful/failed calls and one inquiry per call in the DB.
#
# Environment: RAMP_CPS (100), HOLD_S (default N/RAMP_CPS + 30, at least 40),
# CAPTURE_S (5 here), OUT, RESULTS, and the ports of common.sh. Bounded:
# SIPp is killed after ramp + HOLD_S + 40 s.
set -euo pipefail
CAPTURE_S=${CAPTURE_S:-5}
. "$(dirname "$0")/common.sh"

N=${1:?usage: run-concurrent.sh N}
RAMP_CPS=${RAMP_CPS:-100}
RAMP_S=$(((N + RAMP_CPS - 1) / RAMP_CPS))
HOLD_S=${HOLD_S:-$((RAMP_S + 30 > 40 ? RAMP_S + 30 : 40))}
KEY_MS=1000
OUT=${OUT:-/tmp/hotline-bench/concurrent-$N-$(date +%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
check_tools

# All calls are up from RAMP_S until the first one ends (~HOLD_S + 1);
# leave 3 s after the ramp for the last callers to reach the queue.
STEADY_FROM=$((RAMP_S + 3))
CAP_AT=$((HOLD_S - CAPTURE_S - 1))
[ "$CAP_AT" -ge $((STEADY_FROM + 10)) ] ||
    die "HOLD_S=$HOLD_S leaves no steady window for N=$N at $RAMP_CPS calls/s"

make_caller_audio "$OUT/caller.ul"
start_server "$OUT"
sleep 2
IDLE_RSS_KB=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status")

cd "$OUT"
timeout -k 5 $((RAMP_S + HOLD_S + 40)) sipp "127.0.0.1:$SIP_PORT" \
    -sf "$HERE/held_call.xml" -s hotline -t u1 \
    -i 127.0.0.1 -p "$SIPP_PORT" -mi 127.0.0.1 -mp "$MEDIA_PORT" \
    -key caller_audio "$OUT/caller.ul,-1,0" \
    -set key_ms "$KEY_MS" -set hold_ms $((HOLD_S * 1000)) \
    -r "$RAMP_CPS" -m "$N" -l "$N" -recv_timeout 10000 -nostdin \
    -trace_err -trace_stat -fd 1 -trace_rtt -rtt_freq 1 -trace_counts \
    >"$OUT/sipp.out" 2>&1 &
SIPP_WRAPPER_PID=$!
measure_sipp_run

sleep 1
stop_server
INQ_TOTAL=$(inquiry_total "$OUT/hotline.db")
INQ_STATUS=$(inquiry_statuses "$OUT/hotline.db")

S=$OUT/sipp.kv C=$OUT/cpu.kv R=$OUT/rtp.kv
created=$(kv created "$S") ok=$(kv successful "$S") failed=$(kv failed "$S")
srv_cpu=$(kv server_cpu_pct "$C") sipp_cpu=$(kv sipp_cpu_pct "$C")
srv_rss=$(kv server_rss_kb "$C")
per_call=$(python3 -c "
n=$N; cpu=float('$srv_cpu' or 0); rss=float('$srv_rss' or 0)
print(f'{cpu / n:.4f} {(rss - $IDLE_RSS_KB) / n:.1f}')")
cpu_per_call=${per_call% *} rss_per_call=${per_call#* }
streams_ok=$(kv rated_streams "$R")
verdict=PASS
[ "$SIPP_RC" = 0 ] && [ "$failed" = 0 ] && [ "$ok" = "$N" ] || verdict=FAIL
[ "$(kv verdict "$R")" = ok ] || verdict=FAIL
[ "${streams_ok:-0}" -ge "$N" ] || verdict=FAIL
[ "$INQ_TOTAL" = "$created" ] || verdict=FAIL

{
    echo "== $N concurrent held calls, ramp $RAMP_CPS calls/s, ${HOLD_S} s on hold (out: $OUT)"
    echo "sipp: exit=$SIPP_RC created=$created successful=$ok failed=$failed reasons=[$(kv fail_reasons "$S")]" \
        "retrans=$(kv retransmissions "$S") peak_concurrent=$(kv peak_concurrent "$S")"
    echo "response: INVITE->200 p50=$(kv rtd_invite_p50_ms "$S") p99=$(kv rtd_invite_p99_ms "$S") max=$(kv rtd_invite_max_ms "$S") ms;" \
        "INFO->200 p99=$(kv rtd_info_p99_ms "$S") ms; BYE->200 p99=$(kv rtd_bye_p99_ms "$S") max=$(kv rtd_bye_max_ms "$S") ms"
    echo "cpu (steady ${STEADY_FROM}-${CAP_T0} s, % of one core): server=$srv_cpu -> $cpu_per_call per call;" \
        "sipp=$sipp_cpu other=$(kv other_pct "$C") machine=$(kv machine_busy_pct "$C") of 200"
    echo "rss: server idle=$IDLE_RSS_KB KB, steady mean=$srv_rss max=$(kv server_rss_kb_max "$C") KB -> $rss_per_call KB per call; sipp=$(kv sipp_rss_kb "$C") KB"
    echo "media (${CAPTURE_S} s capture: $CAPTURE_INFO): streams=$(kv streams "$R") rated=$streams_ok aggregate=$(kv aggregate_pps "$R") pps" \
        "pps/call median=$(kv pps_per_stream_median "$R") p1=$(kv pps_per_stream_p1 "$R") min=$(kv pps_per_stream_min "$R")" \
        "below95%=$(kv streams_below_95pct "$R") lost=$(kv seq_lost "$R") ($(kv seq_lost_pct "$R") %)" \
        "gap p50/p99/p99.9/max=$(kv gap_p50_ms "$R")/$(kv gap_p99_ms "$R")/$(kv gap_p999_ms "$R")/$(kv gap_max_ms "$R") ms" \
        ">30ms=$(kv gaps_over_30ms "$R") jitter mean/max=$(kv jitter_mean_ms "$R")/$(kv jitter_max_ms "$R") ms" \
        "verdict=$(kv verdict "$R") $(kv fail "$R")"
    echo "inquiries: $INQ_TOTAL for $created calls, status: $INQ_STATUS"
    echo "server log warnings/errors: $(grep -cE 'WARN|ERROR' "$OUT/server.log" || true)"
    echo "verdict: $verdict"
} | tee "$OUT/result.txt"

if [ -n "${RESULTS:-}" ]; then
    printf '%s\n' "concurrent=$N ok=$ok failed=$failed srv_cpu=$srv_cpu cpu_per_call=$cpu_per_call sipp_cpu=$sipp_cpu other=$(kv other_pct "$C") idle_rss=$IDLE_RSS_KB rss=$srv_rss rss_per_call=$rss_per_call pps_med=$(kv pps_per_stream_median "$R") pps_p1=$(kv pps_per_stream_p1 "$R") rated=$streams_ok lost=$(kv seq_lost "$R") gap_p99=$(kv gap_p99_ms "$R") media=$(kv verdict "$R") gap_max=$(kv gap_max_ms "$R") jitter=$(kv jitter_mean_ms "$R") drift_ppm=$(kv clock_drift_max_ppm "$R") inq=$INQ_TOTAL verdict=$verdict out=$OUT" >>"$RESULTS"
fi
[ "$verdict" = PASS ]
