#!/usr/bin/env python3
"""bench/measure.py — runs one command and measures its wall time and the PEAK memory of its
whole process tree: every 100 ms it sums PSS (/proc/<pid>/smaps_rollup) over the command and
all its descendants, plus any process whose command line contains a --match string (e.g. the
ssh ControlMasters Ansible daemonizes out of the tree). The first second is sampled every 20 ms
so that short runs are caught too. Also reports the CPU time of the waited-for tree
(user+sys), the largest single process's max RSS, and the peak process count.

usage: measure.py --out RESULT.json [--match STR]... [--interval 0.1] -- CMD ARGS...
The command's stdout/stderr are inherited; RESULT.json gets
{"wall_s", "peak_pss_mb", "max_rss_mb", "peak_procs", "cpu_s", "exit", "samples"}.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time


def proc_table():
    """pid -> (ppid, cmdline) for every process we can see."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            # comm may contain spaces and parens: the fields after the last ')' are fixed.
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ")
        except (OSError, ValueError, IndexError):
            continue
        table[pid] = (ppid, cmd)
    return table


def tree(root, table, matches):
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.add(pid)
        stack.extend(children.get(pid, ()))
    for m in matches:
        for pid, (_, cmd) in table.items():
            if m in cmd and pid not in found:
                found.add(pid)
                stack = [pid]
                while stack:
                    p = stack.pop()
                    for c in children.get(p, ()):
                        if c not in found:
                            found.add(c)
                            stack.append(c)
    found.discard(os.getpid())
    return found


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--match", action="append", default=[])
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--fast-interval", type=float, default=0.02)
    ap.add_argument("--fast-for", type=float, default=1.0, help="seconds of fast sampling")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if not cmd:
        ap.error("no command given")
    matches = [m.encode() for m in args.match]

    start = time.monotonic()
    child = subprocess.Popen(cmd)
    peak_kb, peak_procs, samples = 0, 0, 0
    status = None
    while True:
        pids = tree(child.pid, proc_table(), matches)
        total = sum(pss_kb(p) for p in pids)
        samples += 1
        peak_kb = max(peak_kb, total)
        peak_procs = max(peak_procs, len(pids))
        now = time.monotonic()
        fast = now - start < args.fast_for
        deadline = now + (args.fast_interval if fast else args.interval)
        while time.monotonic() < deadline:
            status = child.poll()
            if status is not None:
                break
            time.sleep(0.01)
        if status is not None:
            break
    wall = time.monotonic() - start
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "wall_s": round(wall, 3),
        "peak_pss_mb": round(peak_kb / 1024, 1),
        "max_rss_mb": round(ru.ru_maxrss / 1024, 1),
        "peak_procs": peak_procs,
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "exit": status,
        "samples": samples,
        "cmd": cmd,
    }
    with open(args.out, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
