#!/usr/bin/env bash
# tests/run.sh — the README's test command: installs what the fleet tests need on a fresh
# Debian machine (openssh-server, sudo, git, time, acl; apt-get update only when needed), creates
# /run/sshd, then runs `cargo test --workspace --all-targets` and prints a summary.
# Idempotent and quick when everything is already installed.
# Usage: bash tests/run.sh [extra `cargo test` arguments, e.g. -- --nocapture]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
export DEBIAN_FRONTEND=noninteractive

# package -> the files that prove it is installed
missing=()
have() { for f in "$@"; do [ -e "$f" ] || command -v "$f" >/dev/null 2>&1 || return 1; done; }
have /usr/sbin/sshd /usr/bin/ssh /usr/bin/ssh-keygen || missing+=(openssh-server openssh-client)
have sudo || missing+=(sudo)
have git || missing+=(git)
have crontab || missing+=(cron)
have unzip || missing+=(unzip)
have zip || missing+=(zip)
have xz || missing+=(xz-utils)
have bzip2 || missing+=(bzip2)
have ss || missing+=(iproute2)
have curl || missing+=(curl)
have /usr/bin/time || missing+=(time)
have setfacl getfacl || missing+=(acl)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "tests/run.sh: installing ${missing[*]}"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "tests/run.sh: apt-get not found; install ${missing[*]} by hand (the fleet tests need /usr/sbin/sshd)" >&2
    exit 1
  fi
  apt_install() { "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null; }
  # Update the package lists first only when there are none; retry once after an update.
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    "${SUDO[@]}" apt-get update -q </dev/null
  fi
  if ! apt_install; then
    "${SUDO[@]}" apt-get update -q </dev/null
    apt_install
  fi
fi

# Debian's sshd refuses to start without its privilege-separation directory.
[ -d /run/sshd ] || "${SUDO[@]}" mkdir -p /run/sshd

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

log_dir=target
mkdir -p "$log_dir"
log="$log_dir/test-run.log"
start=$(date +%s)
set +e
cargo test --workspace --all-targets "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))

# Sum the "test result:" lines of every test binary.
read -r passed failed ignored < <(awk '
  /^test result:/ {
    for (i = 1; i <= NF; i++) {
      if ($(i+1) ~ /^passed/)  p += $i
      if ($(i+1) ~ /^failed/)  f += $i
      if ($(i+1) ~ /^ignored/) g += $i
    }
  }
  END { printf "%d %d %d\n", p, f, g }' "$log")

echo
echo "==================== tests/run.sh summary ===================="
echo "passed: $passed   failed: $failed   ignored: $ignored   (${elapsed}s, full log: $log)"
if [ "$status" -ne 0 ]; then
  failing=$(grep -E '^test .* \.\.\. FAILED$' "$log" | sed -e 's/^test /  /' -e 's/ \.\.\. FAILED$//' || true)
  if [ -n "$failing" ]; then
    echo "failing tests:"
    echo "$failing"
  else
    echo "cargo test failed before running the tests (build error?): see above"
  fi
  echo "RESULT: FAIL (cargo test exit $status)"
  exit "$status"
fi
echo "RESULT: OK"
