#!/usr/bin/env python3
"""Audio helpers for the interop suite (stdlib only): G.711 µ-law, WAV
reading, loudness and "is this the prompt?" correlation.

Library (imported by rtp_check.py) and a small CLI:

  audio.py ulaw IN.wav OUT.ul [--whole-frames REF.wav]
      encode an 8 kHz mono 16-bit WAV as headerless µ-law, the format
      SIPp's rtp_stream sends as PCMU payload; with --whole-frames, cut
      to whole 20 ms frames first (a looped stream then stays aligned with
      its frames) and write what was encoded to REF.wav as the reference
      for rtp_check.py --prompt REF.wav --loop
  audio.py level IN.wav [--min-dbfs -40] [--prompt P.wav --tail-s 2 --min-corr 0.9]
      print the RMS level of a 16-bit WAV (any rate; channels are
      averaged); exit 1 when it is quieter than --min-dbfs (silence);
      with --prompt, also when its last --tail-s seconds are not a
      stretch of P.wav (normalised correlation at the best sample offset)

Why not sox: a fresh CI image has python3 but maybe not sox, and the
checks need the numbers, not sox's text output.
"""
import argparse
import math
import operator
import struct
import sys
import wave

# ---- G.711 µ-law ------------------------------------------------------------
_BIAS = 0x84
_CLIP = 32635


def _ulaw_decode(byte):
    b = ~byte & 0xFF
    sign = b & 0x80
    exponent = (b >> 4) & 0x07
    mantissa = b & 0x0F
    sample = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return -sample if sign else sample


ULAW_TO_LINEAR = [_ulaw_decode(i) for i in range(256)]


def ulaw_encode_sample(sample):
    """ITU-T G.711 µ-law of one 16-bit sample."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, _CLIP) + _BIAS
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ulaw_decode(data):
    return [ULAW_TO_LINEAR[b] for b in data]


# ---- WAV ----------------------------------------------------------------------
def read_wav(path):
    """(samples as a list of ints, rate); channels are averaged to mono."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise SystemExit(f"{path}: {8 * w.getsampwidth()}-bit samples, expected 16-bit")
        channels, rate = w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    count = len(raw) // 2
    samples = struct.unpack(f"<{count}h", raw[: 2 * count])
    if channels > 1:
        samples = [sum(samples[i:i + channels]) // channels
                   for i in range(0, len(samples) - channels + 1, channels)]
    return list(samples), rate


# ---- measurements -------------------------------------------------------------
def rms(samples):
    if not samples:
        return 0.0
    return math.sqrt(sum(map(operator.mul, samples, samples)) / len(samples))


def dbfs(level):
    return 20 * math.log10(level / 32768.0) if level > 0 else -120.0


def best_match(segment, reference, step=1):
    """Where in `reference` `segment` fits best: (correlation, offset).

    Normalised cross-correlation sum(a*b)/sqrt(sum(a²)·sum(b²)) at every
    `step`-th offset; 1.0 means the same waveform (up to gain). Prompts are
    sent in whole 20 ms frames from their first sample, so for RTP audio a
    step of 160 samples finds the exact alignment at 1/160 of the cost."""
    n = len(segment)
    if n == 0 or len(reference) < n:
        return 0.0, None
    seg_energy = sum(map(operator.mul, segment, segment))
    if seg_energy == 0:
        return 0.0, None
    # running energy of each reference window
    squares = [0]
    for v in reference:
        squares.append(squares[-1] + v * v)
    best = (-1.0, None)
    for off in range(0, len(reference) - n + 1, step):
        window_energy = squares[off + n] - squares[off]
        if window_energy == 0:
            continue
        dot = sum(map(operator.mul, segment, reference[off:off + n]))
        corr = dot / math.sqrt(seg_energy * window_energy)
        if corr > best[0]:
            best = (corr, off)
    return best


def find_stretch(segment, reference, block=40, candidates=3):
    """Like best_match at every sample offset, for audio with no known frame
    alignment (a softphone's recording), at a fraction of the cost: match
    the loudness envelopes (mean |x| per `block` samples) first, then
    refine the best few candidates sample by sample within ±block."""
    def envelope(x):
        return [sum(map(abs, x[i:i + block])) / block
                for i in range(0, len(x) - block + 1, block)]
    seg_env, ref_env = envelope(segment), envelope(reference)
    n = len(seg_env)
    if n == 0 or len(ref_env) < n:
        return 0.0, None
    seg_mean = sum(seg_env) / n
    seg_c = [v - seg_mean for v in seg_env]
    seg_norm = math.sqrt(sum(v * v for v in seg_c)) or 1.0
    scored = []
    for k in range(len(ref_env) - n + 1):
        win = ref_env[k:k + n]
        mean = sum(win) / n
        win_c = [v - mean for v in win]
        norm = math.sqrt(sum(v * v for v in win_c)) or 1.0
        scored.append((sum(map(operator.mul, seg_c, win_c)) / (seg_norm * norm), k))
    scored.sort(reverse=True)
    best = (0.0, None)
    for _, k in scored[:candidates]:
        lo = max(0, k * block - block)
        hi = min(len(reference), k * block + block + len(segment))
        corr, off = best_match(segment, reference[lo:hi])
        if off is not None and corr > best[0]:
            best = (corr, lo + off)
    return best


# ---- CLI ----------------------------------------------------------------------
def cmd_ulaw(a):
    samples, rate = read_wav(a.wav)
    if rate != 8000:
        raise SystemExit(f"{a.wav}: {rate} Hz, expected 8000 Hz")
    if a.whole_frames:
        samples = samples[:len(samples) - len(samples) % 160]
        with wave.open(a.whole_frames, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    with open(a.out, "wb") as f:
        f.write(bytes(ulaw_encode_sample(s) for s in samples))
    return 0


def cmd_level(a):
    samples, rate = read_wav(a.wav)
    level = dbfs(rms(samples))
    print(f"{a.wav}: {len(samples) / rate:.2f} s at {rate} Hz, RMS {level:.1f} dBFS")
    if level < a.min_dbfs:
        print(f"quieter than {a.min_dbfs} dBFS: silence")
        return 1
    if a.prompt:
        reference, ref_rate = read_wav(a.prompt)
        if ref_rate != rate:
            raise SystemExit(f"{a.prompt}: {ref_rate} Hz, but {a.wav} is {rate} Hz")
        tail = samples[-int(a.tail_s * rate):]
        corr, off = find_stretch(tail, reference)
        where = f"at {off / rate:.2f} s of the prompt" if off is not None else "no match"
        print(f"last {len(tail) / rate:.2f} s vs {a.prompt}: correlation {corr:.3f} "
              f"(need {a.min_corr}) {where}")
        if corr < a.min_corr:
            return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ulaw")
    p.add_argument("wav")
    p.add_argument("out")
    p.add_argument("--whole-frames", metavar="REF.wav",
                   help="cut to whole 20 ms frames; write the cut audio here")
    p.set_defaults(run=cmd_ulaw)
    p = sub.add_parser("level")
    p.add_argument("wav")
    p.add_argument("--min-dbfs", type=float, default=-40.0)
    p.add_argument("--prompt", help="the end of IN.wav must be a stretch of this WAV")
    p.add_argument("--tail-s", type=float, default=2.0)
    p.add_argument("--min-corr", type=float, default=0.9)
    p.set_defaults(run=cmd_level)
    a = ap.parse_args()
    return a.run(a)


if __name__ == "__main__":
    sys.exit(main())
