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
exec python3 tests/conformance/run.py "$@"
