#!/usr/bin/env python3
"""Check the RTP a caller received, from a capture: what a listener on the
phone would notice (choppy timing, gaps, silence, the wrong prompt).

  rtp_check.py CAP.pcap --dst-port N [--prompt P.wav [--loop]] [--min-corr 0.9]
               [--tail-s 2] [--min-dbfs -40] [--min-packets 100]
               [--wav-out heard.wav]

Takes the PCMU/PCMA packets sent to UDP port N (the caller's media port)
and checks:
  - one stream (one SSRC), at least --min-packets packets;
  - pacing: median inter-arrival 20 ms ± 2, 95th percentile under 30 ms;
  - sequence numbers continuous (+1 per packet, no loss, no duplicates);
  - timestamps: +160 per packet while packets flow back to back, a whole
    number of 160-sample frames across pauses, and no drift from the wall
    clock of more than 60 ms between the first and the last second (the
    sender paces by deadline);
  - not silence: RMS of the decoded audio above --min-dbfs;
  - with --prompt: the last --tail-s seconds heard are a stretch of that
    prompt (normalised cross-correlation at 20 ms frame offsets ≥ --min-corr);
    with --loop the prompt was played in a loop (a SIPp rtp_stream relayed
    from the other side of a bridge): the stretch may wrap round its end.
    A looped file must be a whole number of 20 ms frames long, so that the
    frames stay aligned with the reference after each wrap.
  --bridged: the stream switches between the server's own audio (prompts,
    hold music) and audio relayed from the other leg; at such a switch the
    server starts a talk-spurt that catches its timestamp up with the wall
    clock, never going back: there the timestamp may advance by any
    amount up to the time that passed (plus one frame) rather than by
    whole frames. At most two such catch-ups are accepted (the switch to
    the first agent, and to a second after a transfer); the drift check
    still bounds the stream as a whole.
Prints one line per check; exit 0 when all pass, 1 otherwise.

Reads classic libpcap (tcpdump -w; tshark/dumpcap need -F pcap), link
types Ethernet (tcpdump -i lo), Linux cooked SLL/SLL2 (-i any), raw IP.
Adapted from the shared harness's rtp_analyze.py; stdlib only.
"""
import argparse
import os
import statistics
import struct
import sys
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio  # noqa: E402  (next to this script)

FRAME = 160  # samples per 20 ms at 8 kHz
PCMU, PCMA = 0, 8


def read_pcap(path):
    """Yield (time_s, linktype, frame bytes)."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            raise SystemExit(f"{path}: not a pcap file (too short)")
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            raise SystemExit(f"{path}: not a classic pcap (magic {magic:#x}; pcapng? use -F pcap)")
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        linktype = struct.unpack(endian + "I", hdr[20:24])[0]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _orig = struct.unpack(endian + "IIII", rec)
            data = f.read(incl)
            yield sec + (frac / 1e9 if nano else frac / 1e6), linktype, data


def udp_payload(linktype, d):
    """(dst_port, payload) of an IPv4/IPv6 UDP frame, or None."""
    if linktype == 1:  # Ethernet
        off, ethertype = 14, struct.unpack("!H", d[12:14])[0]
    elif linktype == 113:  # Linux SLL
        off, ethertype = 16, struct.unpack("!H", d[14:16])[0]
    elif linktype == 276:  # Linux SLL2
        off, ethertype = 20, struct.unpack("!H", d[0:2])[0]
    elif linktype in (101, 228, 12, 14):  # raw IP
        off, ethertype = 0, 0x0800 if d and (d[0] >> 4) == 4 else 0x86DD
    else:
        return None
    ip = d[off:]
    if ethertype == 0x0800 and len(ip) >= 20 and ip[9] == 17:
        u = ip[(ip[0] & 0x0F) * 4:]
    elif ethertype == 0x86DD and len(ip) >= 40 and ip[6] == 17:
        u = ip[40:]
    else:
        return None
    if len(u) < 8:
        return None
    _sport, dport, ulen = struct.unpack("!HHH", u[:6])
    return dport, u[8:ulen] if ulen >= 8 else u[8:]


def rtp_packets(path, dst_port):
    """Audio RTP packets to dst_port in arrival order:
    (time_s, seq, timestamp, ssrc, payload_type, marker, payload)."""
    out = []
    for t, linktype, frame in read_pcap(path):
        u = udp_payload(linktype, frame)
        if not u or u[0] != dst_port:
            continue
        p = u[1]
        if len(p) < 12 or (p[0] & 0xC0) != 0x80:
            continue
        b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", p[:12])
        pt = b1 & 0x7F
        if pt not in (PCMU, PCMA):
            continue
        off = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10 and len(p) >= off + 4:
            off += 4 + 4 * struct.unpack("!H", p[off + 2:off + 4])[0]
        payload = p[off:]
        if b0 & 0x20 and payload:
            payload = payload[:-payload[-1]]
        out.append((t, seq, ts, ssrc, pt, b1 >> 7, payload))
    return out


def decode(pkts):
    if pkts and pkts[0][4] == PCMA:
        raise SystemExit("PCMA stream: decoding is only implemented for PCMU here")
    pcm = []
    for p in pkts:
        pcm.extend(audio.ulaw_decode(p[6]))
    return pcm


class Report:
    def __init__(self):
        self.failed = 0

    def check(self, ok, name, detail):
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        if not ok:
            self.failed += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pcap")
    ap.add_argument("--dst-port", type=int, required=True)
    ap.add_argument("--prompt")
    ap.add_argument("--loop", action="store_true",
                    help="the prompt was played in a loop: match across its end")
    ap.add_argument("--bridged", action="store_true",
                    help="across a pause the timestamp may follow the wall clock")
    ap.add_argument("--min-corr", type=float, default=0.9)
    ap.add_argument("--tail-s", type=float, default=2.0)
    ap.add_argument("--min-dbfs", type=float, default=-40.0)
    ap.add_argument("--min-packets", type=int, default=100)
    ap.add_argument("--wav-out")
    a = ap.parse_args()

    pkts = rtp_packets(a.pcap, a.dst_port)
    r = Report()
    ssrcs = sorted({p[3] for p in pkts})
    r.check(len(ssrcs) == 1, "one stream",
            f"{len(pkts)} audio packets, SSRC {', '.join(f'{s:#010x}' for s in ssrcs) or 'none'}")
    if len(ssrcs) != 1:
        return 1
    r.check(len(pkts) >= a.min_packets, "enough audio",
            f"{len(pkts)} packets = {len(pkts) * 0.02:.2f} s (need {a.min_packets})")
    if len(pkts) < 2:
        return 1

    gaps_ms = sorted((b[0] - a_[0]) * 1000 for a_, b in zip(pkts, pkts[1:]))
    median = statistics.median(gaps_ms)
    p95 = gaps_ms[min(len(gaps_ms) - 1, int(0.95 * len(gaps_ms)))]
    r.check(abs(median - 20) <= 2 and p95 < 30, "20 ms pacing",
            f"inter-arrival median {median:.2f} ms, p95 {p95:.2f} ms, max {gaps_ms[-1]:.2f} ms")

    seq_breaks = [(x[1], y[1]) for x, y in zip(pkts, pkts[1:]) if (y[1] - x[1]) & 0xFFFF != 1]
    r.check(not seq_breaks, "sequence continuous",
            f"{len(seq_breaks)} breaks" + (f", first {seq_breaks[:3]}" if seq_breaks else ""))

    ts_breaks = []
    catch_ups = []
    for x, y in zip(pkts, pkts[1:]):
        step = (y[2] - x[2]) & 0xFFFFFFFF
        arrival_ms = (y[0] - x[0]) * 1000
        back_to_back = arrival_ms < 30
        if step == 0 or step % FRAME or (back_to_back and step != FRAME):
            if a.bridged and step / 8 <= arrival_ms + FRAME / 8 and len(catch_ups) < 2:
                catch_ups.append((x[1], y[1], step, round(arrival_ms, 1)))
            else:
                ts_breaks.append((x[1], y[1], step, round(arrival_ms, 1)))
    clock_s = pkts[-1][0] - pkts[0][0]
    media_s = ((pkts[-1][2] - pkts[0][2]) & 0xFFFFFFFF) / 8000.0
    # Drift: how far the wall clock ran ahead of the media clock between
    # the first and the last second, each taken as a median so that one
    # late packet (a busy machine) does not count as drift.
    lag = [t - ((ts - pkts[0][2]) & 0xFFFFFFFF) / 8000.0 for t, _, ts, *_ in pkts]
    window = min(50, len(lag))
    drift_ms = (statistics.median(lag[-window:]) - statistics.median(lag[:window])) * 1000
    r.check(not ts_breaks and abs(drift_ms) <= 60, "timestamps continuous",
            f"{len(ts_breaks)} bad steps" + (f" (seq, seq, step, ms) {ts_breaks[:3]}" if ts_breaks else "")
            + (f", {len(catch_ups)} catch-ups to the clock {catch_ups}" if catch_ups else "")
            + f"; {media_s:.3f} s of media in {clock_s:.3f} s, drift {drift_ms:+.1f} ms"
            " (median lag, last second vs first)")

    pcm = decode(pkts)
    level = audio.dbfs(audio.rms(pcm))
    r.check(level > a.min_dbfs, "not silent", f"RMS {level:.1f} dBFS (need > {a.min_dbfs})")

    if a.wav_out:
        with wave.open(a.wav_out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(struct.pack(f"<{len(pcm)}h", *pcm))

    if a.prompt:
        reference, rate = audio.read_wav(a.prompt)
        if rate != 8000:
            raise SystemExit(f"{a.prompt}: {rate} Hz, expected 8000")
        frames = max(1, int(a.tail_s * 50))
        if a.loop and reference:
            # enough periods that any stretch of the tail's length, wrapped
            # or not, lies whole inside the tiled reference
            reference = reference * (frames * FRAME // len(reference) + 2)
        tail = decode(pkts[-frames:])
        corr, off = audio.best_match(tail, reference, step=FRAME)
        where = (f"{off / 8000:.2f}-{(off + len(tail)) / 8000:.2f} s of the prompt"
                 if off is not None else "no match")
        r.check(corr >= a.min_corr, "heard the prompt",
                f"last {len(tail) / 8000:.2f} s vs {os.path.basename(a.prompt)}: "
                f"correlation {corr:.3f} (need {a.min_corr}) at {where}")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
