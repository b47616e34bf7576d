#!/usr/bin/env python3
"""Summarises one SIPp run directory as NAME=value lines.

  sipp_stats.py DIR

Reads <scenario>_<pid>_.csv (-trace_stat; the last row holds the cumulative
"(C)" totals) and <scenario>_<pid>_rtt.csv (-trace_rtt: one row per
response-time sample) and prints: created, successful, failed (+ every
non-zero Failed<Reason>), retransmissions, unexpected messages, peak
concurrent calls, the achieved call rate, and per RTD the mean, median, p99
and max in ms (from the per-sample file, so the tail is visible, not only
the mean SIPp keeps).
"""
import csv
import glob
import os
import re
import statistics
import sys


def hms_s(v):
    parts = (v or "").strip().split(":")
    try:
        if len(parts) == 4:
            h, m, s, us = map(int, parts)
            return h * 3600 + m * 60 + s + us / 1e6
        if len(parts) == 3:
            h, m, s = map(int, parts)
            return h * 3600 + m * 60 + s
    except ValueError:
        pass
    return 0.0


def pct(vals, p):
    if not vals:
        return 0.0
    k = min(len(vals) - 1, max(0, int(round(p / 100.0 * (len(vals) - 1)))))
    return vals[k]


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    stats = [p for p in glob.glob(os.path.join(d, "*_.csv")) if not p.endswith("_rtt.csv")]
    if not stats:
        print("sipp_stats=missing")
        return 1
    with open(stats[0], newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    hdr = rows[0]
    data = [dict(zip(hdr, r)) for r in rows[1:] if len(r) >= len(hdr) - 1]
    last = data[-1]

    def num(k, row=last):
        try:
            return float(row.get(k, "0") or 0)
        except ValueError:
            return 0.0

    print(f"created={int(num('TotalCallCreated'))}")
    print(f"successful={int(num('SuccessfulCall(C)'))}")
    print(f"failed={int(num('FailedCall(C)'))}")
    reasons = []
    for k in hdr:
        m = re.match(r"Failed(\w+)\(C\)$", k)
        if m and m.group(1) != "Call" and num(k):
            reasons.append(f"{m.group(1)}:{int(num(k))}")
    print(f"fail_reasons={','.join(reasons)}")
    print(f"retransmissions={int(num('Retransmissions(C)'))}")
    print(f"out_of_call_msgs={int(num('OutOfCallMsgs(C)'))}")
    print(f"dead_call_msgs={int(num('DeadCallMsgs(C)'))}")
    print(f"peak_concurrent={int(max(num('CurrentCall', r) for r in data))}")
    print(f"elapsed_s={hms_s(last.get('ElapsedTime(C)')):.1f}")
    print(f"call_rate_cps={num('CallRate(C)'):.1f}")
    # Calls started per period while SIPp was sending at full rate (the
    # first and last periods are partial): shows whether SIPp kept up.
    started = [int(num("OutgoingCall(P)", r)) for r in data]
    busy = [i for i, v in enumerate(started) if v > 0]
    inner = started[busy[0] + 1:busy[-1]] if len(busy) > 2 else []
    print(f"send_rate_cps={statistics.median(inner):.0f}" if inner else "send_rate_cps=")

    samples = {}
    for rtt in glob.glob(os.path.join(d, "*_rtt.csv")):
        with open(rtt, newline="") as f:
            for r in csv.reader(f, delimiter=";"):
                # Date_ms;response_time_ms;rtd_no
                if len(r) < 3:
                    continue
                try:
                    value = float(r[1])
                except ValueError:
                    continue  # the header row
                samples.setdefault(r[2].strip(), []).append(value)
    for name, vals in sorted(samples.items()):
        vals.sort()
        key = re.sub(r"\W", "_", name)
        print(f"rtd_{key}_n={len(vals)}")
        print(f"rtd_{key}_mean_ms={sum(vals) / len(vals):.2f}")
        print(f"rtd_{key}_p50_ms={pct(vals, 50):.2f}")
        print(f"rtd_{key}_p99_ms={pct(vals, 99):.2f}")
        print(f"rtd_{key}_max_ms={vals[-1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
