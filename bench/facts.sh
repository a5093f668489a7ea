#!/usr/bin/env bash
# bench/facts.sh — fact gathering on a loopback fleet: `tutti adhoc all -m setup`
# against `ansible all -m setup`, both with forks = N, wall time and peak tree PSS
# (bench/measure.py). Not a test.
#
# usage: bash bench/facts.sh [-n HOSTS=50] [--no-build]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
hosts=50 build=1
while [ $# -gt 0 ]; do
  case $1 in
    -n) hosts=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) sed -n '2,7p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
  esac
done
[ "$build" = 1 ] && cargo build --release
tutti_bin=${TUTTI_BIN:-$repo/target/release/tutti}
venv=$repo/bench/.venv
if ! "$venv/bin/ansible" --version >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "ansible-core==${ANSIBLE_CORE_VERSION:-2.19.14}"
fi
# shellcheck source=bench/fleet.sh
source "$repo/bench/fleet.sh"
work=$(mktemp -d)
trap 'fleet_stop; rm -rf "$work"' EXIT
fleet_start "$hosts" "$work"
py=/usr/bin/python3; [ -x "$py" ] || py=python3

run() { # label, command...
  local label=$1; shift
  "$py" "$repo/bench/measure.py" --out "$work/$label.json" --match "$work" -- "$@" >/dev/null 2>&1 || true
  echo "$label $(cat "$work/$label.json")"
}

export HOME=$FLEET_HOME
run tutti env NO_COLOR=1 "$tutti_bin" adhoc all -i "$FLEET_INVENTORY" -m setup -f "$hosts" -o
run ansible env ANSIBLE_PIPELINING=1 ANSIBLE_HOST_KEY_CHECKING=True \
  ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=$FLEET_KNOWN_HOSTS" \
  "$venv/bin/ansible" all -i "$FLEET_INVENTORY" -m setup -f "$hosts" -o \
  -e ansible_python_interpreter=/usr/bin/python3
