#!/usr/bin/env bash
# bench/adhoc.sh — side-by-side ad-hoc benchmark: `ansible all -m command -a true` versus
# `tutti adhoc all -m command -a true` against the same loopback sshd fleet (bench/fleet.sh),
# alternating runs, measuring wall time and the peak PSS of each tool's whole process tree
# (bench/measure.py). Not a test: see bench/README.md.
#
# usage: bash bench/adhoc.sh [-n HOSTS=50] [-r REPS=3] [-f FORKS=HOSTS] [--no-build]
#                            [--skip-ansible] [--skip-tutti]
# env:   TUTTI_BIN (default target/release/tutti), ANSIBLE_CORE_VERSION (default 2.19.14)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
bench=$repo/bench

hosts=50 reps=3 forks="" build=1 do_ansible=1 do_tutti=1
while [ $# -gt 0 ]; do
  case $1 in
    -n) hosts=$2; shift 2 ;;
    -r) reps=$2; shift 2 ;;
    -f) forks=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --skip-ansible) do_ansible=0; shift ;;
    --skip-tutti) do_tutti=0; shift ;;
    *) sed -n '2,12p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
  esac
done
forks=${forks:-$hosts}
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
  if [ "$do_tutti" = 1 ] && ! "$tutti_bin" adhoc --help >/dev/null 2>&1; then
    notes+=("\`$tutti_bin adhoc --help\` fails: the adhoc subcommand is not available yet; tutti runs skipped")
    do_tutti=0
  fi
fi

# --- ansible (venv, installed once) --------------------------------------------------------
venv=$bench/.venv
if [ "$do_ansible" = 1 ]; then
  if ! "$venv/bin/ansible" --version 2>/dev/null | grep -q "core $ansible_version"; then
    echo "== installing ansible-core==$ansible_version into $venv"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$ansible_version"
  fi
fi

# --- fleet ---------------------------------------------------------------------------------
# shellcheck source=bench/fleet.sh
source "$bench/fleet.sh"
stamp=$(date +%Y%m%d-%H%M%S)
out=$bench/results/adhoc-$stamp
mkdir -p "$out"
work=$(mktemp -d /tmp/tutti-bench-adhoc.XXXXXX)
cleanup() {
  # stop any ControlMaster a run left behind, then sshd
  local s
  for s in "$work"/run-*/cp/*; do
    [ -S "$s" ] && ssh -O exit -o ControlPath="$s" bench-host >/dev/null 2>&1 || true
  done
  fleet_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting a $hosts-host fleet in $work"
fleet_start "$hosts" "$work/fleet"
fleet_print "$hosts"
: >"$work/ansible.cfg"
mkdir -p "$work/home-ansible/.ssh" "$work/home-tutti/.ssh"
cp "$FLEET_KNOWN_HOSTS" "$work/home-ansible/.ssh/known_hosts"
cp "$FLEET_KNOWN_HOSTS" "$work/home-tutti/.ssh/known_hosts"
cp "$FLEET_INVENTORY" "$out/inventory.ini"

tsv=$out/runs.tsv
printf 'tool\trun\twall_s\tpeak_pss_mb\tmax_rss_mb\tpeak_procs\tcpu_s\tok_hosts\texit\tload1\n' >"$tsv"

# run_one TOOL REP
run_one() {
  local tool=$1 rep=$2 rundir="$work/run-$1-$2" load1
  mkdir -p "$rundir/cp" "$rundir/tmp"
  load1=$(cut -d' ' -f1 /proc/loadavg)
  local -a cmd
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
      "$venv/bin/ansible" all -i "$FLEET_INVENTORY" -m command -a true -f "$forks")
  else
    cmd=(env -i
      PATH="/usr/bin:/bin" HOME="$work/home-tutti" LANG=C.UTF-8 NO_COLOR=1
      "$tutti_bin" adhoc all -i "$FLEET_INVENTORY" -m command -a true -f "$forks")
  fi
  printf '%s\n' "${cmd[*]}" >"$out/$tool-$rep.cmd"
  (cd "$rundir" && "$py" "$bench/measure.py" --out "$out/$tool-$rep.json" --match "$rundir/cp" -- "${cmd[@]}") \
    >"$out/$tool-$rep.log" 2>&1 || true
  # Ansible's ControlMasters outlive the command: stop them so the next run starts cold.
  local s
  for s in "$rundir"/cp/*; do
    [ -S "$s" ] && ssh -O exit -o ControlPath="$s" bench-host >/dev/null 2>&1 || true
  done
  local ok
  ok=$(grep -cE '\| (CHANGED|SUCCESS) \|' "$out/$tool-$rep.log" || true)
  "$py" - "$out/$tool-$rep.json" "$tool" "$rep" "$ok" "$load1" >>"$tsv" <<'PY'
import json, sys
path, tool, rep, ok, load1 = sys.argv[1:]
try:
    r = json.load(open(path))
except (OSError, ValueError):
    r = {"wall_s": "", "peak_pss_mb": "", "max_rss_mb": "", "peak_procs": "", "cpu_s": "", "exit": "no-result"}
print("\t".join(str(x) for x in (tool, rep, r["wall_s"], r["peak_pss_mb"], r["max_rss_mb"], r["peak_procs"], r["cpu_s"], ok, r["exit"], load1)))
PY
  tail -n 1 "$tsv" | awk -F'\t' '{printf "   %-8s run %s: wall %6s s  peak tree PSS %7s MB  max RSS %6s MB  procs %4s  cpu %6s s  ok %3s  exit %s  (load1 %s)\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}'
}

for ((rep = 1; rep <= reps; rep++)); do
  if [ "$do_ansible" = 1 ]; then echo "== ansible run $rep/$reps"; run_one ansible "$rep"; fi
  if [ "$do_tutti" = 1 ]; then echo "== tutti run $rep/$reps"; run_one tutti "$rep"; fi
done

# --- report --------------------------------------------------------------------------------
{
  echo "# adhoc benchmark $stamp"
  echo
  echo "\`-m command -a true\` on $hosts loopback hosts, forks $forks, $reps runs each, alternating."
  echo "ansible-core $ansible_version (pipelining, ControlPersist=60s, cold ControlMasters per run);"
  echo "tutti: $tutti_bin. Machine: $(nproc) cores, $(uname -r)."
  echo
  "$py" - "$tsv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print("| tool | run | wall s | peak tree PSS MB | max RSS MB (1 proc) | peak procs | CPU s | ok hosts | exit | load1 |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['tool']} | {r['run']} | {r['wall_s']} | {r['peak_pss_mb']} | {r['max_rss_mb']} | {r['peak_procs']} | {r['cpu_s']} | {r['ok_hosts']} | {r['exit']} | {r['load1']} |")
def med(tool, key):
    vals = [float(r[key]) for r in rows if r["tool"] == tool and r[key] not in ("", None)]
    return statistics.median(vals) if vals else None
print()
print("| tool | median wall s | median peak PSS MB |")
print("|---|---|---|")
for tool in ("ansible", "tutti"):
    w, m = med(tool, "wall_s"), med(tool, "peak_pss_mb")
    if w is not None:
        print(f"| {tool} | {w:.2f} | {m:.1f} |")
aw, at = med("ansible", "wall_s"), med("tutti", "wall_s")
am, tm = med("ansible", "peak_pss_mb"), med("tutti", "peak_pss_mb")
print()
if aw and at and am and tm:
    print(f"ratio ansible/tutti (medians): wall {aw / at:.1f}x, peak tree PSS {am / tm:.1f}x")
else:
    print("ratio ansible/tutti: n/a (one side did not run)")
PY
  for n in "${notes[@]+"${notes[@]}"}"; do echo; echo "NOTE: $n"; done
} >"$out/results.md"
cp "$out/results.md" "$bench/results/adhoc-latest.md"
echo
cat "$out/results.md"
echo
echo "results: $out (per-run logs, JSON, runs.tsv, results.md)"
