#!/usr/bin/env bash
# Runs Ansible's integration targets against tutti (see run.py).
#   bash tests/conformance/run.sh             # tutti; fails on a new failure or unexpected pass
#   bash tests/conformance/run.sh --ansible   # ansible-core 2.19.14 itself (harness validation)
#   bash tests/conformance/run.sh --targets copy,file --show
set -euo pipefail
cd "$(dirname "$0")/../.."
# Tools the targets call on the test host.
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
if ! command -v setfacl >/dev/null; then
    $SUDO apt-get install -y -q acl >/dev/null
fi
# Remote targets reach `testhost` through a throwaway sshd on loopback.
if [ ! -x /usr/sbin/sshd ]; then
    $SUDO apt-get install -y -q openssh-server openssh-client >/dev/null
fi
# ansible-core itself needs the locale the `tags` target sets (tutti does not).
if [[ " $* " == *" --ansible "* ]] && ! locale -a 2>/dev/null | grep -qi '^en_US\.utf-\?8$'; then
    $SUDO apt-get install -y -q locales >/dev/null
    $SUDO sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen
    $SUDO locale-gen >/dev/null
fi
exec python3 tests/conformance/run.py "$@"
