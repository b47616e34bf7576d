#!/usr/bin/env python3
"""Checks the RTP the server sent during a benchmark: full rate and pacing.

  rtp_check.py CAPTURE.pcap [--expect-pps 50] [--min-span-s 0.5]

Reads a classic pcap (tcpdump -w on lo: Ethernet framing; Linux cooked
captures are accepted too); only the first 54 bytes of a packet are needed
(headers up to the RTP timestamp and SSRC), so capture with a small snaplen.
Every UDP packet carrying RTP version 2 is grouped into a stream by
(source address, source port, SSRC): one stream = one call leg of the
server. Prints, as NAME=value lines for the benchmark scripts:

  streams, packets, capture_s, aggregate_pps   what the window held
  rated_streams       streams seen for at least --min-span-s (others are too
                      short to judge a rate from, e.g. a call that ended as
                      the capture started)
  pps_per_stream_{median,min,p1}   (packets-1)/(last-first) per rated stream;
                      50 for 20 ms PCMU. A stream sending half its audio
                      shows 25 here, whatever SIP said.
  streams_below_95pct rated streams whose rate is under 95 % of expected
  seq_lost            packets missing by RTP sequence number (lost on the
                      way or never sent)
  gap_{p50,p99,p999,max}_ms   inter-arrival times within streams, pooled
  gaps_over_30ms      inter-arrival times of more than 1.5 frames (a
                      missed or late slot)
  jitter_{mean,max}_ms        RFC 3550 interarrival jitter per stream (the
                      estimate at the end of the stream; mean over streams)
  clock_drift_max_ppm         worst |wall span - RTP timestamp span| /
                      span over streams seen for 3 s or more: pacing that drifts
                      from the 8 kHz clock shows here
  verdict             ok when the median and p1 rates are within 5 % of the
                      expected rate, fewer than 1 % of the rated streams are
                      below 95 %, losses are under 0.1 %, and 99 % of the
                      inter-arrival times are at most 30 ms (20 ms pacing
                      held: a packet late by more than half a frame is rare);
                      else FAIL, with the reasons in fail=
"""
import argparse
import statistics
import struct
import sys


def packets(path):
    """Yields (time_s, src_ip, src_port, udp_payload_prefix) per UDP/IPv4 packet."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            raise SystemExit(f"{path}: not a classic pcap (write it with tcpdump -w)")
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        linktype = struct.unpack(endian + "I", head[20:24])[0]
        link_len = {1: 14, 113: 16, 276: 20}.get(linktype)
        if link_len is None:
            raise SystemExit(f"{path}: unsupported link type {linktype}")
        rec = struct.Struct(endian + "IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, frac, caplen, _ = rec.unpack(h)
            data = f.read(caplen)
            if len(data) < caplen:
                return
            t = sec + frac / (1e9 if nano else 1e6)
            ip = data[link_len:]
            if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            ihl = (ip[0] & 0x0F) * 4
            udp = ip[ihl:]
            if len(udp) < 8:
                continue
            src_port = struct.unpack("!H", udp[0:2])[0]
            yield t, ip[12:16], src_port, udp[8:]


def percentile(sorted_vals, p):
    if not sorted_vals:
        return 0.0
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--expect-pps", type=float, default=50.0)
    ap.add_argument("--min-span-s", type=float, default=0.5)
    a = ap.parse_args()

    streams = {}
    first_t = last_t = None
    total = 0
    for t, ip, port, rtp in packets(a.pcap):
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        seq, ts, ssrc = struct.unpack("!HII", rtp[2:12])
        total += 1
        first_t = t if first_t is None else first_t
        last_t = t
        s = streams.setdefault((ip, port, ssrc), {"t": [], "seq": [], "ts": []})
        s["t"].append(t)
        s["seq"].append(seq)
        s["ts"].append(ts)

    capture_s = (last_t - first_t) if total else 0.0
    rates, gaps, jitters, drifts = [], [], [], []
    lost = expected_total = 0
    for s in streams.values():
        times, seqs, tss = s["t"], s["seq"], s["ts"]
        n = len(times)
        # Sequence numbers: count the packets that should have arrived.
        ext, prev = 0, seqs[0]
        unwrapped = [seqs[0]]
        for q in seqs[1:]:
            d = (q - prev) & 0xFFFF
            ext += d if d < 0x8000 else d - 0x10000
            prev = q
            unwrapped.append(seqs[0] + ext)
        span_seq = max(unwrapped) - min(unwrapped) + 1
        expected_total += span_seq
        lost += max(0, span_seq - n)
        jitter = 0.0
        for i in range(1, n):
            dt = times[i] - times[i - 1]
            gaps.append(dt * 1000.0)
            dts = ((tss[i] - tss[i - 1]) & 0xFFFFFFFF) / 8000.0
            jitter += (abs(dt - dts) - jitter) / 16.0
        span = times[-1] - times[0]
        if span >= a.min_span_s and n > 1:
            rates.append((n - 1) / span)
            jitters.append(jitter * 1000.0)
            if span >= 3.0:
                ts_span = ((tss[-1] - tss[0]) & 0xFFFFFFFF) / 8000.0
                drifts.append(abs(span - ts_span) / span * 1e6)

    rates.sort()
    gaps.sort()
    below = sum(1 for r in rates if r < 0.95 * a.expect_pps)
    out = {
        "streams": len(streams),
        "packets": total,
        "capture_s": f"{capture_s:.2f}",
        "aggregate_pps": f"{total / capture_s:.0f}" if capture_s > 0 else "0",
        "rated_streams": len(rates),
        "pps_per_stream_median": f"{statistics.median(rates):.2f}" if rates else "",
        "pps_per_stream_min": f"{rates[0]:.2f}" if rates else "",
        "pps_per_stream_p1": f"{percentile(rates, 1):.2f}" if rates else "",
        "streams_below_95pct": below,
        "seq_lost": lost,
        "seq_lost_pct": f"{100.0 * lost / expected_total:.3f}" if expected_total else "0",
        "gap_p50_ms": f"{percentile(gaps, 50):.2f}",
        "gap_p99_ms": f"{percentile(gaps, 99):.2f}",
        "gap_p999_ms": f"{percentile(gaps, 99.9):.2f}",
        "gap_max_ms": f"{gaps[-1]:.2f}" if gaps else "",
        "gaps_over_30ms": sum(1 for g in gaps if g > 30.0),
        "jitter_mean_ms": f"{statistics.mean(jitters):.3f}" if jitters else "",
        "jitter_max_ms": f"{max(jitters):.3f}" if jitters else "",
        "clock_drift_max_ppm": f"{max(drifts):.0f}" if drifts else "",
    }
    frame_ms = 1000.0 / a.expect_pps
    checks = {
        "no_streams": bool(rates),
        "median_rate": bool(rates)
        and abs(statistics.median(rates) - a.expect_pps) <= 0.05 * a.expect_pps,
        "p1_rate": bool(rates) and percentile(rates, 1) >= 0.95 * a.expect_pps,
        "slow_streams": below <= 0.01 * len(rates),
        "loss": lost <= 0.001 * expected_total,
        "pacing": percentile(gaps, 99) <= 1.5 * frame_ms,
    }
    failed = [k for k, passed in checks.items() if not passed]
    ok = not failed
    out["verdict"] = "ok" if ok else "FAIL"
    out["fail"] = ",".join(failed)
    for k, v in out.items():
        print(f"{k}={v}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
