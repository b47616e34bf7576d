#!/usr/bin/env bash
# run-rate.sh RATE [N] - N short IVR calls at RATE calls/s against a fresh
# hotline server on loopback (default N = 15 s worth of calls).
#
# Each call (short_call.xml): INVITE, answer, the caller streams audio and
# hears the greeting for HOLD_MS (2000), then hangs up. Reported:
#   - SIPp: successful / failed calls (with reasons), retransmissions, the
#     INVITE->200 and BYE->200 response times (mean, p50, p99, max);
#   - CPU (% of one core) and RSS of the server and of SIPp over the steady
#     part of the run (all calls at full rate, capture not running);
#   - the media check: CAPTURE_S seconds of the RTP the server sends to
#     SIPp, later in the steady part: packets/s per call (expect 50),
#     losses, inter-arrival gaps and RFC 3550 jitter (rtp_check.py);
#   - the inquiry check: one inquiry per call in the database, counted once
#     the calls are over and again after a graceful stop.
# Verdict line: PASS only with zero failed calls, full media and one inquiry
# per call.
#
# Environment: HOLD_MS (2000), CAPTURE_S (4), OUT (result directory,
# default /tmp/hotline-bench/rate-RATE-TIME), RESULTS (a file to append a
# one-line summary to), HOTLINE_BIN, SIP_PORT, HTTP_PORT, SIPP_PORT,
# MEDIA_PORT, RTP_PORTS (see common.sh). Needs root or CAP_NET_RAW for
# tcpdump. Bounded: SIPp is killed after the calling time + 40 s.
set -euo pipefail
. "$(dirname "$0")/common.sh"

RATE=${1:?usage: run-rate.sh RATE [N]}
N=${2:-$((RATE * 15))}
HOLD_MS=${HOLD_MS:-2000}
OUT=${OUT:-/tmp/hotline-bench/rate-$RATE-$(date +%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
check_tools

SEND_S=$(((N + RATE - 1) / RATE))
HOLD_S=$(((HOLD_MS + 999) / 1000))
# Steady part: from when the first calls end (concurrency is flat) to the
# last INVITE. The capture takes its end so it does not inflate the CPU
# figures (a tap on lo costs the sending process too).
STEADY_FROM=$((HOLD_S + 1))
CAP_AT=$((SEND_S - CAPTURE_S - 1))
[ "$CAP_AT" -ge $((STEADY_FROM + 3)) ] ||
    die "N=$N at $RATE calls/s is too short: need >= $(((STEADY_FROM + 4 + CAPTURE_S) * RATE)) calls"

make_caller_audio "$OUT/caller.ul"
start_server "$OUT"
sleep 1

# Enough simultaneous calls for the rate; a stalled server then shows as
# failures and response times, not as SIPp silently throttling.
LIMIT=$((RATE * (HOLD_S + 2) * 3 + 50))
cd "$OUT"
timeout -k 5 $((SEND_S + HOLD_S + 40)) sipp "127.0.0.1:$SIP_PORT" \
    -sf "$HERE/short_call.xml" -s hotline -t u1 \
    -i 127.0.0.1 -p "$SIPP_PORT" -mi 127.0.0.1 -mp "$MEDIA_PORT" \
    -key caller_audio "$OUT/caller.ul,-1,0" -set hold_ms "$HOLD_MS" \
    -r "$RATE" -m "$N" -l "$LIMIT" -recv_timeout 10000 -nostdin \
    -trace_err -trace_stat -fd 1 -trace_rtt -rtt_freq 1 -trace_counts \
    >"$OUT/sipp.out" 2>&1 &
SIPP_WRAPPER_PID=$!
measure_sipp_run

sleep 1
INQ_LIVE=$(inquiry_total "$OUT/hotline.db")
stop_server
INQ_TOTAL=$(inquiry_total "$OUT/hotline.db")
INQ_STATUS=$(inquiry_statuses "$OUT/hotline.db")

S=$OUT/sipp.kv C=$OUT/cpu.kv R=$OUT/rtp.kv
created=$(kv created "$S") ok=$(kv successful "$S") failed=$(kv failed "$S")
srv_cpu=$(kv server_cpu_pct "$C") sipp_cpu=$(kv sipp_cpu_pct "$C")
cpu_ms_per_call=$(python3 -c "print(f'{float(\"$srv_cpu\" or 0) * 10 / $RATE:.3f}')")
verdict=PASS
[ "$SIPP_RC" = 0 ] && [ "$failed" = 0 ] && [ "$ok" = "$N" ] || verdict=FAIL
[ "$(kv verdict "$R")" = ok ] || verdict=FAIL
[ "$INQ_TOTAL" = "$created" ] || verdict=FAIL

{
    echo "== short IVR calls: $N at $RATE calls/s, ${HOLD_MS} ms each (out: $OUT)"
    echo "sipp: exit=$SIPP_RC created=$created successful=$ok failed=$failed reasons=[$(kv fail_reasons "$S")]" \
        "retrans=$(kv retransmissions "$S") peak_concurrent=$(kv peak_concurrent "$S") sent=$(kv send_rate_cps "$S") calls/s (median per second)"
    echo "response: INVITE->200 mean=$(kv rtd_invite_mean_ms "$S") p50=$(kv rtd_invite_p50_ms "$S")" \
        "p99=$(kv rtd_invite_p99_ms "$S") max=$(kv rtd_invite_max_ms "$S") ms;" \
        "BYE->200 p50=$(kv rtd_bye_p50_ms "$S") p99=$(kv rtd_bye_p99_ms "$S") ms"
    echo "cpu (steady ${STEADY_FROM}-${CAP_T0} s, % of one core): server=$srv_cpu (${cpu_ms_per_call} ms CPU per call)" \
        "sipp=$sipp_cpu other=$(kv other_pct "$C") machine=$(kv machine_busy_pct "$C") of 200"
    echo "rss: server mean=$(kv server_rss_kb "$C") max=$(kv server_rss_kb_max "$C") KB; sipp=$(kv sipp_rss_kb "$C") KB"
    echo "media (${CAPTURE_S} s capture: $CAPTURE_INFO): streams=$(kv streams "$R") rated=$(kv rated_streams "$R")" \
        "pps/call median=$(kv pps_per_stream_median "$R") p1=$(kv pps_per_stream_p1 "$R") min=$(kv pps_per_stream_min "$R")" \
        "below95%=$(kv streams_below_95pct "$R") lost=$(kv seq_lost "$R") ($(kv seq_lost_pct "$R") %)" \
        "gap p50/p99/p99.9/max=$(kv gap_p50_ms "$R")/$(kv gap_p99_ms "$R")/$(kv gap_p999_ms "$R")/$(kv gap_max_ms "$R") ms" \
        ">30ms=$(kv gaps_over_30ms "$R") jitter mean/max=$(kv jitter_mean_ms "$R")/$(kv jitter_max_ms "$R") ms" \
        "verdict=$(kv verdict "$R") $(kv fail "$R")"
    echo "inquiries: $INQ_TOTAL for $created calls (1 s after the last call: $INQ_LIVE) status: $INQ_STATUS"
    echo "server log warnings/errors: $(grep -cE 'WARN|ERROR' "$OUT/server.log" || true)"
    echo "verdict: $verdict"
} | tee "$OUT/result.txt"

if [ -n "${RESULTS:-}" ]; then
    printf '%s\n' "rate=$RATE sent=$(kv send_rate_cps "$S") n=$N ok=$ok failed=$failed srv_cpu=$srv_cpu cpu_ms_call=$cpu_ms_per_call sipp_cpu=$sipp_cpu other=$(kv other_pct "$C") rss_kb=$(kv server_rss_kb_max "$C") inv_p50=$(kv rtd_invite_p50_ms "$S") inv_p99=$(kv rtd_invite_p99_ms "$S") inv_max=$(kv rtd_invite_max_ms "$S") pps_med=$(kv pps_per_stream_median "$R") pps_p1=$(kv pps_per_stream_p1 "$R") lost=$(kv seq_lost "$R") gap_p99=$(kv gap_p99_ms "$R") media=$(kv verdict "$R") gap_max=$(kv gap_max_ms "$R") jitter=$(kv jitter_mean_ms "$R") inq=$INQ_TOTAL verdict=$verdict out=$OUT" >>"$RESULTS"
fi
[ "$verdict" = PASS ]
