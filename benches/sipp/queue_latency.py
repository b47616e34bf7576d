#!/usr/bin/env python3
"""Time from a caller's queue entry to the INVITE that rings an agent, for
run-routed.sh.

  queue_latency.py SERVER.log [--pcap SIP.pcap --server-port 15060]

Two measurements, printed as NAME=value lines:

  log_*    from the server's own log (RUST_LOG hotline::call::routed=info):
           "caller waiting in queue" (call=H inquiry=I, logged when the IVR
           hands the caller to routing) to "ringing agent" (call=H, logged
           right after the INVITEs were handed to the SIP layer), per call.
  wire_*   queue entry (the same log line, wall clock) to the INVITE leaving
           the server towards the agent's phone, from a capture of the SIP
           the agents receive: the INVITE's Call-Info names the inquiry, so
           each INVITE is matched to its caller's queue entry. Log and
           tcpdump both stamp with the system's real-time clock.
  key_*    the caller's key (the SIP INFO carrying "0" arriving at the
           server, captured) to that INVITE leaving, matched by the
           caller's number (From user): everything the server does for a
           key, IVR and database lookups included.

Each as count, mean, p50, p90, p99, max in milliseconds. Calls whose
queue entry or INVITE fall outside the capture window are not counted.
"""
import argparse
import datetime
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rtp_check import packets, percentile  # noqa: E402  (next to this script)

LOG_TIME = re.compile(r"^(\S+Z)\s")
CALL = re.compile(r"\bcall=(\d+)")
INQUIRY = re.compile(r"\binquiry=(\S+)")
CALL_INFO = re.compile(rb"\r\nCall-Info:[^\r]*/inquiries/([^>;\r]+)>", re.I)
FROM_USER = re.compile(rb"\r\n(?:From|f):[^\r]*<sips?:([^@>;]+)@", re.I)


def log_time(line):
    m = LOG_TIME.match(line)
    if not m:
        return None
    try:
        return datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def read_log(path):
    """(queue entry by call handle, queue entry by inquiry, first ring by call)."""
    entered, entered_inquiry, rung = {}, {}, {}
    with open(path, errors="replace") as f:
        for line in f:
            if "caller waiting in queue" in line:
                t, c, i = log_time(line), CALL.search(line), INQUIRY.search(line)
                if t is not None and c:
                    entered[c.group(1)] = t
                    if i:
                        entered_inquiry[i.group(1)] = t
            elif "ringing agent" in line:
                t, c = log_time(line), CALL.search(line)
                if t is not None and c and c.group(1) in entered:
                    rung.setdefault(c.group(1), t)
    return entered, entered_inquiry, rung


def read_pcap(path, server_port):
    """(INVITE to an agent: [(time, inquiry, caller)], INFO from a caller:
    {caller: time})."""
    invites, infos = [], {}
    for t, _ip, src_port, payload in packets(path):
        if src_port == server_port and payload.startswith(b"INVITE "):
            info, user = CALL_INFO.search(payload), FROM_USER.search(payload)
            if info:
                invites.append((t, info.group(1).decode(errors="replace"),
                                user.group(1) if user else None))
        elif src_port != server_port and payload.startswith(b"INFO "):
            user = FROM_USER.search(payload)
            if user:
                infos.setdefault(user.group(1), t)
    return invites, infos


def summary(prefix, deltas_s):
    ms = sorted(d * 1000 for d in deltas_s)
    out = {f"{prefix}_count": len(ms)}
    if ms:
        out.update({
            f"{prefix}_mean_ms": f"{statistics.fmean(ms):.3f}",
            f"{prefix}_p50_ms": f"{percentile(ms, 50):.3f}",
            f"{prefix}_p90_ms": f"{percentile(ms, 90):.3f}",
            f"{prefix}_p99_ms": f"{percentile(ms, 99):.3f}",
            f"{prefix}_max_ms": f"{ms[-1]:.3f}",
        })
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log")
    ap.add_argument("--pcap")
    ap.add_argument("--server-port", type=int, default=15060)
    a = ap.parse_args()

    entered, entered_inquiry, rung = read_log(a.log)
    result = summary("log", [rung[c] - entered[c] for c in rung])
    if a.pcap:
        invites, infos = read_pcap(a.pcap, a.server_port)
        wire, key = [], []
        seen = set()
        for t, inquiry, user in invites:
            if inquiry in seen:
                continue  # a retransmission or a second phone: the first counts
            seen.add(inquiry)
            if inquiry in entered_inquiry:
                wire.append(t - entered_inquiry[inquiry])
            if user is not None and user in infos:
                key.append(t - infos[user])
        result.update(summary("wire", wire))
        result.update(summary("key", key))
        result["pcap_invites"] = len(seen)
    for k, v in result.items():
        print(f"{k}={v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
