#!/usr/bin/env python3
"""CPU and memory of processes, sampled from /proc once a second.

  procstat.py sample OUT.csv --pid NAME=PID ... [--max-s 300]
      Appends one row a second until SIGTERM/SIGINT, --max-s, or every
      process has exited. Columns: t (s since start), machine_busy_pct
      (all cores; 100 = one core), then per process NAME_cpu_pct (100 = one
      full core) and NAME_rss_kb, then other_pct: CPU used by everything
      else (kernel softirq, tcpdump, a background compile...), in % of one
      core. A high other_pct means the machine was shared and the figures
      are less reliable.
  procstat.py window OUT.csv --from T0 --to T1
      Mean of every column over rows with T0 < t <= T1, as NAME=value
      lines (for the shell), plus NAME_max for RSS.

Why one-second samples: a benchmark window is tens of seconds, so the mean
of per-second CPU deltas equals the CPU used over the window, while the
series shows warm-up and stalls.
"""
import argparse
import os
import signal
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def machine_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v), idle


def proc_ticks_rss(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return int(fields[11]) + int(fields[12]), int(fields[21]) * PAGE_KB
    except (OSError, ValueError, IndexError):
        return None, None


def sample(a):
    procs = []
    for spec in a.pid:
        name, _, pid = spec.partition("=")
        procs.append((name, int(pid)))
    ncpu = os.cpu_count() or 1
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    t0 = time.monotonic()
    prev_m = machine_ticks()
    prev_p = {pid: proc_ticks_rss(pid)[0] for _, pid in procs}
    with open(a.out, "w") as f:
        cols = ["t", "machine_busy_pct"]
        for name, _ in procs:
            cols += [f"{name}_cpu_pct", f"{name}_rss_kb"]
        f.write(",".join(cols + ["other_pct"]) + "\n")
        f.flush()
        nxt = t0 + 1
        while not stop and time.monotonic() - t0 < a.max_s:
            time.sleep(max(0.0, nxt - time.monotonic()))
            nxt += 1
            m = machine_ticks()
            dt = (m[0] - prev_m[0]) or 1
            busy = 100.0 * ncpu * (1 - (m[1] - prev_m[1]) / dt)
            # Wall seconds of this period, measured in machine ticks.
            period_s = dt / HZ / ncpu
            row = [f"{time.monotonic() - t0:.1f}", f"{busy:.1f}"]
            tracked, alive = 0.0, 0
            for name, pid in procs:
                ticks, rss = proc_ticks_rss(pid)
                if ticks is None or prev_p[pid] is None:
                    row += ["", ""]
                else:
                    alive += 1
                    pct = 100.0 * (ticks - prev_p[pid]) / HZ / period_s
                    tracked += pct
                    row += [f"{pct:.1f}", str(rss)]
                prev_p[pid] = ticks
            row.append(f"{max(0.0, busy - tracked):.1f}")
            f.write(",".join(row) + "\n")
            f.flush()
            prev_m = m
            if procs and alive == 0:
                break


def window(a):
    with open(a.out) as f:
        header = f.readline().strip().split(",")
        rows = []
        for line in f:
            vals = line.strip().split(",")
            if len(vals) != len(header):
                continue
            try:
                t = float(vals[0])
            except ValueError:
                continue
            if a.t_from < t <= a.t_to:
                rows.append(vals)
    print(f"samples={len(rows)}")
    for i, name in enumerate(header[1:], start=1):
        nums = [float(r[i]) for r in rows if r[i] != ""]
        if not nums:
            print(f"{name}=")
            continue
        print(f"{name}={sum(nums) / len(nums):.2f}")
        if name.endswith("_rss_kb"):
            print(f"{name}_max={max(nums):.0f}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("out")
    s.add_argument("--pid", action="append", default=[], help="NAME=PID")
    s.add_argument("--max-s", type=float, default=300)
    w = sub.add_parser("window")
    w.add_argument("out")
    w.add_argument("--from", dest="t_from", type=float, default=0)
    w.add_argument("--to", dest="t_to", type=float, default=1e9)
    a = ap.parse_args()
    sample(a) if a.cmd == "sample" else window(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
