# Shared by run-rate.sh and run-concurrent.sh (sourced, not run).
#
# Starts one hotline server on loopback with a throw-away config and
# database, and gives the helpers both benchmarks need: caller audio,
# a CPU/RSS sampler, an RTP capture of what the server sends to SIPp, and
# the inquiry count in the database. Everything is bounded in time and
# stays on 127.0.0.1. Ports can be moved with the variables below when
# something else on the machine uses them.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HOTLINE_BIN=${HOTLINE_BIN:-$ROOT/target/release/hotline}
SIP_PORT=${SIP_PORT:-15060}
HTTP_PORT=${HTTP_PORT:-18080}
SIPP_PORT=${SIPP_PORT:-15070}
MEDIA_PORT=${MEDIA_PORT:-16000}
RTP_PORTS=${RTP_PORTS:-20000-39999}
# Seconds of RTP captured for the media check, and its packet snaplen
# (Ethernet 14 + IPv4 20 + UDP 8 + RTP 12 = 54 bytes are all we read).
CAPTURE_S=${CAPTURE_S:-4}
SNAPLEN=64

SERVER_PID=""
SAMPLER_PID=""

die() { echo "error: $*" >&2; exit 2; }

check_tools() {
    [ -x "$HOTLINE_BIN" ] || die "$HOTLINE_BIN missing: run 'cargo build --release' (or set HOTLINE_BIN)"
    for t in sipp tcpdump sqlite3 python3; do
        command -v "$t" >/dev/null || die "$t not found (apt-get install sip-tester tcpdump sqlite3 python3)"
    done
    # SIPp keeps one socket per call for RTP streams; the server one per call.
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
}

# A 10 s, 440 Hz, -20 dBFS tone as headerless u-law: the caller's voice.
make_caller_audio() {
    python3 - "$1" <<'PY'
import math, sys
def ulaw(s):
    sign = 0x80 if s < 0 else 0
    s = min(abs(s), 32635) + 0x84
    exp = max(0, s.bit_length() - 8)
    mant = (s >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF
amp = 32767 * 10 ** (-20 / 20)
data = bytes(ulaw(int(amp * math.sin(2 * math.pi * 440 * n / 8000))) for n in range(80000))
open(sys.argv[1], "wb").write(data)
PY
}

# start_server OUTDIR: config, database and log under OUTDIR. EXTRA_TOML,
# when set, is a file appended to the config (run-routed.sh: agents and
# queues); READY_S (20) bounds the start-up (config agents are hashed
# with argon2 at every start, which takes a while for hundreds of them).
start_server() {
    local dir=$1
    cat >"$dir/hotline.toml" <<TOML
[sip]
listen = "127.0.0.1:$SIP_PORT"

[http]
listen = "127.0.0.1:$HTTP_PORT"

[database]
url = "sqlite://$dir/hotline.db"

[media]
rtp_ports = "$RTP_PORTS"
rtp_timeout_s = 60

[paths]
ivr_dir = "$ROOT/ivr-scripts"
prompts_dir = "$ROOT/prompts"
recordings_dir = "$dir/recordings"

[calendar]
utc_offset = "+00:00"

[calendar.hours]
mon = "00:00-24:00"
tue = "00:00-24:00"
wed = "00:00-24:00"
thu = "00:00-24:00"
fri = "00:00-24:00"
sat = "00:00-24:00"
sun = "00:00-24:00"

[ivr]
reload_interval_ms = 0
TOML
    if [ -n "${EXTRA_TOML:-}" ]; then
        cat "$EXTRA_TOML" >>"$dir/hotline.toml"
    fi
    RUST_LOG=${RUST_LOG:-warn} "$HOTLINE_BIN" serve --config "$dir/hotline.toml" \
        >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    trap cleanup EXIT
    # Ready when /healthz answers (the SIP socket is bound before HTTP).
    local deadline=$((SECONDS + ${READY_S:-20}))
    until python3 - "$HTTP_PORT" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1).read()
PY
    do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$dir/server.log" >&2; die "server exited at start"; }
        [ $SECONDS -lt $deadline ] || die "server not ready after ${READY_S:-20} s"
        sleep 0.2
    done
}

# Graceful stop (SIGTERM): the server hangs up the calls still up and
# flushes pending inquiry writes. A BYE to a caller that is gone is
# retransmitted for 32 s (RFC 3261 timer F), hence the 60 s allowance.
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            echo "server did not stop within 60 s: killing it" >&2
            kill -KILL "$SERVER_PID" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

cleanup() {
    [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
    [ -n "${SIPP_WRAPPER_PID:-}" ] && kill "$SIPP_WRAPPER_PID" 2>/dev/null
    [ -n "${AGENTS_WRAPPER_PID:-}" ] && kill "$AGENTS_WRAPPER_PID" 2>/dev/null
    stop_server
}

# start_sampler OUT.csv NAME=PID...: one row a second until stop_sampler.
start_sampler() {
    local out=$1; shift
    local args=()
    for p in "$@"; do args+=(--pid "$p"); done
    python3 "$HERE/procstat.py" sample "$out" "${args[@]}" --max-s 900 &
    SAMPLER_PID=$!
}

stop_sampler() {
    [ -n "$SAMPLER_PID" ] || return 0
    kill -TERM "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
}

# Seconds since the sampler started, as its CSV counts them.
sampler_t() { tail -n 1 "$1" | cut -d, -f1; }

# capture_rtp OUT.pcap SECONDS: what the server sends to SIPp's media port.
capture_rtp() {
    local pcap=$1 secs=$2
    timeout -s INT "$secs" tcpdump -i lo -n -s "$SNAPLEN" -B 65536 -w "$pcap" \
        "udp and dst port $MEDIA_PORT" 2>"$pcap.log" || true
    grep -E "captured|dropped" "$pcap.log" | tr '\n' ' '
    echo
}

# inquiry_total DB: how many inquiries the calls left.
inquiry_total() { sqlite3 "$1" "SELECT count(*) FROM inquiries;"; }

# inquiry_statuses DB: "status=count ..." on one line.
inquiry_statuses() {
    sqlite3 -separator '=' "$1" \
        "SELECT status, count(*) FROM inquiries GROUP BY status ORDER BY status;" | tr '\n' ' '
}

# The value of NAME in a NAME=value listing.
kv() { awk -v k="$1" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }' "$2"; }

# Call right after `sipp ... &` with SIPP_WRAPPER_PID=$!. Samples the server's
# and SIPp's CPU/RSS, captures the RTP sent to SIPp for CAPTURE_S seconds
# from CAP_AT seconds on, waits for SIPp, then writes $OUT/sipp.kv, cpu.kv
# (steady window STEADY_FROM .. capture start) and rtp.kv. Sets SIPP_RC,
# CAP_T0 and CAPTURE_INFO for the report.
measure_sipp_run() {
    SIPP_PID=""
    for _ in $(seq 50); do
        SIPP_PID=$(pgrep -P "$SIPP_WRAPPER_PID" -x sipp || true)
        [ -n "$SIPP_PID" ] && break
        sleep 0.05
    done
    [ -n "$SIPP_PID" ] || die "sipp did not start: $(cat "$OUT/sipp.out")"
    start_sampler "$OUT/procstat.csv" "server=$SERVER_PID" "sipp=$SIPP_PID"

    sleep "$CAP_AT"
    CAP_T0=$(sampler_t "$OUT/procstat.csv")
    CAPTURE_INFO=$(capture_rtp "$OUT/rtp.pcap" "$CAPTURE_S")

    set +e
    wait "$SIPP_WRAPPER_PID"
    SIPP_RC=$?
    set -e
    SIPP_WRAPPER_PID=""
    stop_sampler

    python3 "$HERE/sipp_stats.py" "$OUT" >"$OUT/sipp.kv"
    python3 "$HERE/procstat.py" window "$OUT/procstat.csv" --from "$STEADY_FROM" \
        --to "$(python3 -c "print($CAP_T0 - 0.5)")" >"$OUT/cpu.kv"
    python3 "$HERE/rtp_check.py" "$OUT/rtp.pcap" >"$OUT/rtp.kv" || true
}
