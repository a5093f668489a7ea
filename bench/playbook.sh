#!/usr/bin/env bash
# bench/playbook.sh — side-by-side playbook benchmark: the 20-task workload of
# shared/reference/performance.md §2.2 (bench/playbook/bench.yml) run by ansible-playbook and by
# `tutti playbook` against the same loopback sshd fleet (bench/fleet.sh). For each fleet size N and
# each tool: a "first" run on empty per-host data dirs, then an "idem" run straight after (must
# report changed=0). Measures wall time, peak PSS of the tool's process tree, controller CPU
# seconds, target (sshd) CPU seconds and the changed count from the recap. tutti is then run once
# more (first + idem, on a fresh data dir) with TUTTI_STATS=1 to read its
# `[tutti] <C> commands over <S> connections` line. Not a test: see bench/README.md.
#
# usage: bash bench/playbook.sh [-n "1 10 50"] [-r REPS=1] [--no-build] [--skip-ansible] [--skip-tutti]
# env:   TUTTI_BIN (default target/release/tutti), ANSIBLE_CORE_VERSION (default 2.19.14),
#        TUTTI_NO_PROBE_SHELL=1 (every probe on a channel of its own, to compare)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
bench=$repo/bench
playbook=$bench/playbook/bench.yml
# Tasks in bench.yml (the handler not counted): the denominator of "round trips per host-task".
tasks=20

sizes="1 10 50" reps=1 build=1 do_ansible=1 do_tutti=1
while [ $# -gt 0 ]; do
  case $1 in
    -n) sizes=$2; shift 2 ;;
    -r) reps=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --skip-ansible) do_ansible=0; shift ;;
    --skip-tutti) do_tutti=0; shift ;;
    *) sed -n '2,12p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
  esac
done
ansible_version=${ANSIBLE_CORE_VERSION:-2.19.14}
tutti_bin=${TUTTI_BIN:-$repo/target/release/tutti}
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
notes=()

# --- tutti -------------------------------------------------------------------------------
if [ "$do_tutti" = 1 ]; then
  if [ "$build" = 1 ]; then
    echo "== cargo build --release"
    if ! cargo build --release; then
      notes+=("cargo build --release failed: tutti runs skipped")
      do_tutti=0
    fi
  fi
  if [ "$do_tutti" = 1 ] && [ ! -x "$tutti_bin" ]; then
    notes+=("no tutti binary at $tutti_bin: tutti runs skipped")
    do_tutti=0
  fi
  if [ "$do_tutti" = 1 ] && ! "$tutti_bin" playbook --help >/dev/null 2>&1; then
    notes+=("\`$tutti_bin playbook --help\` fails: tutti runs skipped")
    do_tutti=0
  fi
fi

# --- ansible (venv, installed once) --------------------------------------------------------
venv=$bench/.venv
if [ "$do_ansible" = 1 ]; then
  if ! "$venv/bin/ansible-playbook" --version 2>/dev/null | grep -q "core $ansible_version"; then
    echo "== installing ansible-core==$ansible_version into $venv"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$ansible_version"
  fi
fi

# --- helpers -------------------------------------------------------------------------------
# shellcheck source=bench/fleet.sh
source "$bench/fleet.sh"
stamp=$(date +%Y%m%d-%H%M%S)
out=$bench/results/playbook-$stamp
mkdir -p "$out"
work=$(mktemp -d /tmp/tutti-bench-playbook.XXXXXX)

stop_masters() { # stop the ssh ControlMasters Ansible left in a run's control path dir
  local s
  for s in "$1"/cp/*; do
    [ -S "$s" ] && ssh -O exit -o ControlPath="$s" bench-host >/dev/null 2>&1 || true
  done
  return 0
}
cleanup() {
  local d
  for d in "$work"/run-*; do [ -d "$d" ] && stop_masters "$d"; done
  fleet_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cpu_of PID...: user+sys seconds of the processes, including their reaped children
# (fields utime stime cutime cstime of /proc/PID/stat). Missing processes count 0.
cpu_of() {
  "$py" - "$@" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
total = 0
for pid in sys.argv[1:]:
    try:
        stat = open(f"/proc/{pid}/stat", "rb").read()
    except OSError:
        continue
    f = stat[stat.rindex(b")") + 2:].split()
    total += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
print(f"{total / tick:.2f}")
PY
}
# pids_matching STR: processes whose command line contains STR (daemonized ControlMasters).
pids_matching() {
  "$py" - "$1" <<'PY'
import os, sys
needle = sys.argv[1].encode()
for e in os.listdir("/proc"):
    if e.isdigit() and e != str(os.getpid()):
        try:
            if needle in open(f"/proc/{e}/cmdline", "rb").read():
                print(e)
        except OSError:
            pass
PY
}
# sshd_quiet: wait (up to 10 s) until the fleet's sshd has no session children left, so that
# their CPU has been reaped into its cutime/cstime.
sshd_quiet() {
  local i
  for ((i = 0; i < 100; i++)); do
    [ -z "$(ps -o pid= --ppid "$FLEET_SSHD_PID" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  return 0
}

# cpu_settle: waits (at most 60 s) until the machine is at least 90% idle over one second, so a
# run does not pay for the teardown of the one before it (Ansible's 50 ControlMasters and forks
# exiting, the kernel reclaiming their memory); both tools get the same wait.
cpu_settle() {
  local i j a b idle total
  for ((i = 0; i < 60; i++)); do
    read -r -a a </proc/stat
    sleep 1
    read -r -a b </proc/stat
    idle=$(((b[4] + b[5]) - (a[4] + a[5])))
    total=0
    for j in 1 2 3 4 5 6 7 8; do total=$((total + b[j] - a[j])); done
    [ "$total" -gt 0 ] && [ $((idle * 100 / total)) -ge 90 ] && return 0
  done
  notes+=("a run started after 60 s without the machine settling to 90% idle")
  return 0
}

tsv=$out/runs.tsv
printf 'tool\tN\trep\trun\twall_s\tpeak_pss_mb\tcpu_s\ttarget_cpu_s\tchanged\tok\tfailed\tunreachable\texit\tload1\n' >"$tsv"

# recap LOG: "changed ok failed unreachable" summed over the PLAY RECAP lines ("-" if none).
recap() {
  "$py" - "$1" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
i = text.rfind("PLAY RECAP")
tot = {"changed": 0, "ok": 0, "failed": 0, "unreachable": 0}
seen = False
if i >= 0:
    for line in text[i:].splitlines()[1:]:
        m = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", line))
        if "changed" in m:
            seen = True
            for k in tot:
                tot[k] += m.get(k, 0)
print(" ".join(str(tot[k]) if seen else "-" for k in ("changed", "ok", "failed", "unreachable")))
PY
}

# tool_cmd TOOL RUNDIR DATAROOT N: sets the array `cmd`.
tool_cmd() {
  local tool=$1 rundir=$2 data=$3 n=$4
  if [ "$tool" = ansible ]; then
    cmd=(env -i
      PATH="$venv/bin:/usr/bin:/bin" HOME="$work/home-ansible" LANG=C.UTF-8
      ANSIBLE_CONFIG="$work/ansible.cfg"
      ANSIBLE_HOST_KEY_CHECKING=True
      ANSIBLE_PIPELINING=1
      ANSIBLE_SSH_ARGS="-C -o ControlMaster=auto -o ControlPersist=60s"
      ANSIBLE_SSH_CONTROL_PATH_DIR="$rundir/cp"
      ANSIBLE_LOCAL_TEMP="$rundir/tmp"
      ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3
      ANSIBLE_NOCOLOR=1
      "$venv/bin/ansible-playbook" -i "$FLEET_INVENTORY" -f "$n" -e "data_root=$data" "$playbook")
  else
    cmd=(env -i
      PATH="/usr/bin:/bin" HOME="$work/home-tutti" LANG=C.UTF-8 NO_COLOR=1
      ${TUTTI_STATS_RUN:+TUTTI_STATS=1}
      ${TUTTI_NO_PROBE_SHELL:+TUTTI_NO_PROBE_SHELL=1}
      "$tutti_bin" playbook -i "$FLEET_INVENTORY" -f "$n" -e "data_root=$data" "$playbook")
  fi
}

# run_one TOOL N REP RUN(first|idem) DATAROOT
run_one() {
  local tool=$1 n=$2 rep=$3 run=$4 data=$5
  local tag="$tool-n$n-r$rep-$run" rundir="$work/run-$tool-n$n-r$rep-$run" load1
  mkdir -p "$rundir/cp" "$rundir/tmp"
  local -a cmd
  tool_cmd "$tool" "$rundir" "$data" "$n"
  printf '%s\n' "${cmd[*]}" >"$out/$tag.cmd"
  sshd_quiet
  cpu_settle
  load1=$(cut -d' ' -f1 /proc/loadavg)
  local t0 t1 ctl
  t0=$(cpu_of "$FLEET_SSHD_PID")
  (cd "$rundir" && "$py" "$bench/measure.py" --out "$out/$tag.json" --match "$rundir/cp" -- "${cmd[@]}") \
    >"$out/$tag.log" 2>&1 || true
  # CPU of daemonized ControlMasters (not in the waited-for tree), then stop them: every run starts cold.
  # shellcheck disable=SC2046
  ctl=$(cpu_of $(pids_matching "$rundir/cp"))
  stop_masters "$rundir"
  sshd_quiet
  t1=$(cpu_of "$FLEET_SSHD_PID")
  local rc
  rc=$(recap "$out/$tag.log")
  "$py" - "$out/$tag.json" "$tool" "$n" "$rep" "$run" "$ctl" "$t0" "$t1" "$rc" "$load1" >>"$tsv" <<'PY'
import json, sys
path, tool, n, rep, run, ctl, t0, t1, rc, load1 = sys.argv[1:]
try:
    r = json.load(open(path))
    cpu = f"{r['cpu_s'] + float(ctl):.2f}"
except (OSError, ValueError):
    r = {"wall_s": "", "peak_pss_mb": "", "exit": "no-result"}
    cpu = ""
changed, ok, failed, unreach = rc.split()
print("\t".join(str(x) for x in (tool, n, rep, run, r["wall_s"], r["peak_pss_mb"], cpu,
                                 f"{float(t1) - float(t0):.2f}", changed, ok, failed, unreach, r["exit"], load1)))
PY
  tail -n 1 "$tsv" | awk -F'\t' '{printf "   %-7s N=%-3s rep %s %-5s wall %7s s  PSS %6s MB  cpu %6s s  target cpu %6s s  changed %4s  failed %s  unreach %s  exit %s  (load1 %s)\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $12, $13, $14}'
  rm -rf "$rundir"
}

# stats_run N RUN DATAROOT: tutti with TUTTI_STATS=1, appends "N run C S changed" to stats.tsv.
stats_tsv=$out/stats.tsv
printf 'N\trun\tcommands\tconnections\tchanged\n' >"$stats_tsv"
stats_run() {
  local n=$1 run=$2 data=$3 tag="tutti-stats-n$1-$2" rundir="$work/run-tutti-stats-n$1-$2"
  mkdir -p "$rundir"
  local -a cmd
  TUTTI_STATS_RUN=1 tool_cmd tutti "$rundir" "$data" "$n"
  printf '%s\n' "${cmd[*]}" >"$out/$tag.cmd"
  (cd "$rundir" && "${cmd[@]}") >"$out/$tag.log" 2>&1 || true
  local line c="" s=""
  line=$(grep -E '^\[tutti\] [0-9]+ commands over [0-9]+ connections' "$out/$tag.log" | tail -n 1 || true)
  if [ -n "$line" ]; then
    c=$(sed -E 's/^\[tutti\] ([0-9]+) commands over ([0-9]+) connections.*/\1/' <<<"$line")
    s=$(sed -E 's/^\[tutti\] ([0-9]+) commands over ([0-9]+) connections.*/\2/' <<<"$line")
  fi
  local rc
  rc=$(recap "$out/$tag.log")
  printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$run" "$c" "$s" "${rc%% *}" >>"$stats_tsv"
  echo "   tutti   N=$n stats $run: ${line:-no [tutti] stats line (n/a)}"
  rm -rf "$rundir"
}

mkdir -p "$work/home-ansible/.ssh" "$work/home-tutti/.ssh"
: >"$work/ansible.cfg"
for n in $sizes; do
  echo "== starting a $n-host fleet"
  fleet_start "$n" "$work/fleet-$n"
  cp "$FLEET_KNOWN_HOSTS" "$work/home-ansible/.ssh/known_hosts"
  cp "$FLEET_KNOWN_HOSTS" "$work/home-tutti/.ssh/known_hosts"
  cp "$FLEET_INVENTORY" "$out/inventory-$n.ini"
  for ((rep = 1; rep <= reps; rep++)); do
    tools=()
    [ "$do_ansible" = 1 ] && tools+=(ansible)
    [ "$do_tutti" = 1 ] && tools+=(tutti)
    for tool in "${tools[@]+"${tools[@]}"}"; do
      data="$work/data-$tool-n$n-r$rep"
      rm -rf "$data"
      mkdir -p "$data"
      echo "== $tool N=$n rep $rep/$reps"
      run_one "$tool" "$n" "$rep" first "$data"
      run_one "$tool" "$n" "$rep" idem "$data"
      rm -rf "$data"
    done
  done
  if [ "$do_tutti" = 1 ]; then
    data="$work/data-tutti-stats-n$n"
    rm -rf "$data"
    mkdir -p "$data"
    stats_run "$n" first "$data"
    stats_run "$n" idem "$data"
    rm -rf "$data"
  fi
  fleet_stop
  rm -rf "$work/fleet-$n"
done

# --- report --------------------------------------------------------------------------------
{
  echo "# playbook benchmark $stamp"
  echo
  echo "\`bench/playbook/bench.yml\` ($tasks tasks + 1 handler, gather_facts: false) on loopback fleets of"
  echo "N = $sizes hosts, forks = N, $reps rep(s) per tool; per tool and rep a \"first\" run on empty data"
  echo "dirs then an \"idem\" run. ansible-core $ansible_version (pipelining, ControlPersist=60s, ControlMasters"
  echo "stopped after every run, so each run starts cold as tutti does); tutti: $tutti_bin."
  echo "Machine: $(nproc) cores, $(uname -r)."
  echo
  "$py" - "$tsv" "$stats_tsv" "$tasks" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
stats = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
tasks = int(sys.argv[3])

def rt(n, run):
    for s in stats:
        if s["N"] == n and s["run"] == run and s["commands"]:
            c, conns = int(s["commands"]), int(s["connections"])
            return f"{c / int(n) / tasks:.2f} ({c} cmds / {conns} conns)"
    return "n/a"

print("CPU s = the tool's process tree user+sys (plus Ansible's daemonized ControlMasters); target CPU s =")
print("the fleet sshd and everything it ran (sessions, shells, remote Python). Round trips per host-task =")
print(f"commands / N / {tasks} from tutti's TUTTI_STATS=1 line (a separate run; n/a when tutti does not print it).")
print()
print("| tool | N | rep | run | wall s | peak PSS MB | CPU s | target CPU s | changed | failed | unreach. | exit | round trips per host-task | load1 |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    trip = rt(r["N"], r["run"]) if r["tool"] == "tutti" else "n/a"
    print(f"| {r['tool']} | {r['N']} | {r['rep']} | {r['run']} | {r['wall_s']} | {r['peak_pss_mb']} | {r['cpu_s']} | "
          f"{r['target_cpu_s']} | {r['changed']} | {r['failed']} | {r['unreachable']} | {r['exit']} | {trip} | {r['load1']} |")

def med(tool, n, run, key):
    vals = [float(r[key]) for r in rows if r["tool"] == tool and r["N"] == n and r["run"] == run and r[key] not in ("", None)]
    return statistics.median(vals) if vals else None

def ratio(a, b):
    return f"{a / b:.1f}x" if a and b else "n/a"

print()
print("Ratios ansible/tutti (medians over reps):")
print()
print("| N | run | wall | peak PSS | CPU | target CPU | controller+target CPU |")
print("|---|---|---|---|---|---|---|")
sizes = []
for r in rows:
    if r["N"] not in sizes:
        sizes.append(r["N"])
for n in sizes:
    for run in ("first", "idem"):
        a = {k: med("ansible", n, run, k) for k in ("wall_s", "peak_pss_mb", "cpu_s", "target_cpu_s")}
        t = {k: med("tutti", n, run, k) for k in ("wall_s", "peak_pss_mb", "cpu_s", "target_cpu_s")}
        at = (a["cpu_s"] or 0) + (a["target_cpu_s"] or 0)
        tt = (t["cpu_s"] or 0) + (t["target_cpu_s"] or 0)
        print(f"| {n} | {run} | {ratio(a['wall_s'], t['wall_s'])} | {ratio(a['peak_pss_mb'], t['peak_pss_mb'])} | "
              f"{ratio(a['cpu_s'], t['cpu_s'])} | {ratio(a['target_cpu_s'], t['target_cpu_s'])} | {ratio(at, tt)} |")

bad = [r for r in rows if r["run"] == "idem" and r["changed"] not in ("0",)]
bad += [r for r in rows if r["failed"] not in ("0",) or r["unreachable"] not in ("0",) or r["exit"] != "0"]
if bad:
    print()
    for r in bad:
        print(f"WARNING: {r['tool']} N={r['N']} rep {r['rep']} {r['run']}: changed={r['changed']} failed={r['failed']} "
              f"unreachable={r['unreachable']} exit={r['exit']} (an idem run must be changed=0, every run exit 0)")
PY
  for n in "${notes[@]+"${notes[@]}"}"; do echo; echo "NOTE: $n"; done
} >"$out/results.md"
cp "$out/results.md" "$bench/results/playbook-latest.md"
echo
cat "$out/results.md"
echo
echo "results: $out (per-run commands, logs, JSON, runs.tsv, stats.tsv, results.md)"
