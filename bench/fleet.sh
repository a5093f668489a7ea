#!/usr/bin/env bash
# bench/fleet.sh — a loopback sshd fleet for benchmarks, built exactly like the test fixture
# (tests/common/fleet.rs): one /usr/sbin/sshd on a free port listening on 0.0.0.0, throwaway
# ed25519 keys, hosts h01.. on 127.0.0.2.., a clean remote HOME, and an Ansible-compatible INI
# inventory + known_hosts + clean controller HOME in a work dir.
#
# Run it:    bash bench/fleet.sh [-n HOSTS] [-d WORKDIR]    (prints the paths, Ctrl-C stops sshd)
# Source it: source bench/fleet.sh; fleet_start N WORKDIR; ...; fleet_stop
#   fleet_start sets FLEET_DIR FLEET_PORT FLEET_INVENTORY FLEET_KNOWN_HOSTS FLEET_HOME
#   FLEET_CLIENT_KEY FLEET_SSHD_PID FLEET_SSHD_LOG FLEET_REMOTE_HOME.

FLEET_SSHD=/usr/sbin/sshd

fleet__die() { echo "fleet.sh: $*" >&2; return 1; }

fleet__python() {
  if [ -x /usr/bin/python3 ]; then /usr/bin/python3 "$@"; else python3 "$@"; fi
}

fleet__free_port() {
  fleet__python -c 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])'
}

# fleet__banner PORT: succeeds once sshd answers with an SSH-2.0 banner.
fleet__banner() {
  local line=""
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  IFS= read -r -t 2 line <&3 || true
  exec 3<&- 3>&-
  [[ "$line" == SSH-2.0* ]]
}

# fleet_start N WORKDIR
fleet_start() {
  local n=${1:-10} dir=${2:-}
  [ -x "$FLEET_SSHD" ] || fleet__die "sshd not found at $FLEET_SSHD: install it with \`apt-get install openssh-server\`" || return 1
  command -v ssh-keygen >/dev/null || fleet__die "ssh-keygen not found: apt-get install openssh-client" || return 1
  [ -n "$dir" ] || dir=$(mktemp -d /tmp/tutti-bench-fleet.XXXXXX)
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
  mkdir -p /run/sshd 2>/dev/null || true

  FLEET_DIR=$dir
  FLEET_CLIENT_KEY=$dir/client_key
  FLEET_KNOWN_HOSTS=$dir/known_hosts
  FLEET_INVENTORY=$dir/inventory.ini
  FLEET_HOME=$dir/home
  FLEET_REMOTE_HOME=$dir/remote-home
  FLEET_SSHD_LOG=$dir/sshd.log
  local host_key=$dir/ssh_host_ed25519_key config=$dir/sshd_config
  rm -f "$host_key" "$host_key.pub" "$FLEET_CLIENT_KEY" "$FLEET_CLIENT_KEY.pub"
  ssh-keygen -q -t ed25519 -N '' -C tutti-bench -f "$host_key" </dev/null || return 1
  ssh-keygen -q -t ed25519 -N '' -C tutti-bench -f "$FLEET_CLIENT_KEY" </dev/null || return 1
  local host_pub client_pub
  host_pub=$(cut -d' ' -f1,2 "$host_key.pub")
  client_pub=$(cut -d' ' -f1,2 "$FLEET_CLIENT_KEY.pub")
  printf 'from="127.0.0.0/8" %s tutti-bench-client\n' "$client_pub" >"$dir/authorized_keys"
  mkdir -p "$FLEET_REMOTE_HOME" "$FLEET_HOME/.ssh"
  local sftp=internal-sftp
  [ -x /usr/lib/openssh/sftp-server ] && sftp=/usr/lib/openssh/sftp-server

  local attempt port=""
  FLEET_SSHD_PID=""
  for attempt in 1 2 3 4 5; do
    port=$(fleet__free_port) || return 1
    cat >"$config" <<CFG
# tutti bench fleet
Port $port
ListenAddress 0.0.0.0
HostKey $host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 2000
MaxSessions 100
MaxAuthTries 20
PerSourcePenalties no
SetEnv HOME=$FLEET_REMOTE_HOME
Subsystem sftp $sftp
LogLevel VERBOSE
PrintMotd no
PrintLastLog no
UseDNS no
AcceptEnv LANG LC_*
CFG
    # PerSourcePenalties exists from OpenSSH 9.8 on; drop it where sshd does not know it.
    if ! "$FLEET_SSHD" -t -f "$config" 2>/dev/null; then
      sed -i '/^PerSourcePenalties/d' "$config"
      "$FLEET_SSHD" -t -f "$config" || fleet__die "sshd rejects $config" || return 1
    fi
    rm -f "$FLEET_SSHD_LOG"
    "$FLEET_SSHD" -D -f "$config" -E "$FLEET_SSHD_LOG" </dev/null >/dev/null 2>"$dir/sshd.stderr" &
    FLEET_SSHD_PID=$!
    local deadline=$((SECONDS + 10)) up=0
    while [ "$SECONDS" -lt "$deadline" ]; do
      if ! kill -0 "$FLEET_SSHD_PID" 2>/dev/null; then break; fi
      if fleet__banner "$port"; then up=1; break; fi
      sleep 0.05
    done
    if [ "$up" = 1 ]; then break; fi
    kill "$FLEET_SSHD_PID" 2>/dev/null; wait "$FLEET_SSHD_PID" 2>/dev/null
    echo "fleet.sh: sshd attempt $attempt on port $port failed:" >&2
    cat "$FLEET_SSHD_LOG" "$dir/sshd.stderr" >&2 2>/dev/null
    FLEET_SSHD_PID=""
  done
  [ -n "$FLEET_SSHD_PID" ] || fleet__die "sshd did not come up after 5 attempts (see $FLEET_SSHD_LOG)" || return 1
  FLEET_PORT=$port

  local i width=${#n} name addr
  [ "$width" -lt 2 ] && width=2
  local hosts_block="" names=() kh=""
  for ((i = 0; i < n; i++)); do
    printf -v name 'h%0*d' "$width" $((i + 1))
    addr="127.0.$((i / 253)).$((i % 253 + 2))"
    names+=("$name")
    hosts_block+="$name ansible_host=$addr ansible_port=$port ansible_user=root ansible_ssh_private_key_file=$FLEET_CLIENT_KEY"$'\n'
    kh+="[$addr]:$port $host_pub"$'\n'
  done
  printf '%s' "$kh" >"$FLEET_KNOWN_HOSTS"
  cp "$FLEET_KNOWN_HOSTS" "$FLEET_HOME/.ssh/known_hosts"
  local half=$(((n + 1) / 2))
  {
    printf '[fleet]\n%s\n[web]\n' "$hosts_block"
    printf '%s\n' "${names[@]:0:half}"
    printf '\n[db]\n'
    [ "$n" -gt "$half" ] && printf '%s\n' "${names[@]:half}"
    printf '\n[all:vars]\n'
    printf "ansible_ssh_common_args='-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes'\n" "$FLEET_KNOWN_HOSTS"
  } >"$FLEET_INVENTORY"
  export FLEET_DIR FLEET_PORT FLEET_INVENTORY FLEET_KNOWN_HOSTS FLEET_HOME FLEET_CLIENT_KEY \
    FLEET_SSHD_PID FLEET_SSHD_LOG FLEET_REMOTE_HOME
}

fleet_stop() {
  if [ -n "${FLEET_SSHD_PID:-}" ]; then
    kill "$FLEET_SSHD_PID" 2>/dev/null || true
    wait "$FLEET_SSHD_PID" 2>/dev/null || true
    FLEET_SSHD_PID=""
  fi
}

fleet_print() {
  cat <<INFO
fleet: $1 hosts on 127.0.0.2.. port $FLEET_PORT (sshd pid $FLEET_SSHD_PID)
  work dir:    $FLEET_DIR
  inventory:   $FLEET_INVENTORY
  known_hosts: $FLEET_KNOWN_HOSTS
  client key:  $FLEET_CLIENT_KEY
  clean HOME:  $FLEET_HOME   (its .ssh/known_hosts = the fleet's)
  sshd log:    $FLEET_SSHD_LOG
  try: ssh -F /dev/null -o UserKnownHostsFile=$FLEET_KNOWN_HOSTS -o StrictHostKeyChecking=yes -i $FLEET_CLIENT_KEY -p $FLEET_PORT root@127.0.0.2 echo ok
INFO
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  hosts=10 workdir=""
  while getopts "n:d:h" opt; do
    case $opt in
      n) hosts=$OPTARG ;;
      d) workdir=$OPTARG ;;
      *) echo "usage: bash bench/fleet.sh [-n HOSTS] [-d WORKDIR]" >&2; exit 2 ;;
    esac
  done
  trap 'fleet_stop' EXIT
  trap 'exit 130' INT TERM
  fleet_start "$hosts" "$workdir"
  fleet_print "$hosts"
  echo "running; Ctrl-C (or kill $$) stops sshd"
  wait "$FLEET_SSHD_PID" || true
fi
