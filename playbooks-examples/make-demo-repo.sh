#!/usr/bin/env bash
# Makes a bare git repository holding roles/app, tagged v1.0.0, so that
# requirements.yml has something local to install from.
set -euo pipefail
dest=${1:-/tmp/tutti-demo-roles}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/../roles/app/." "$work/"
git -C "$work" init -q
git -C "$work" add -A
git -C "$work" -c user.name=tutti -c user.email=tutti@example.invalid commit -qm "app role"
git -C "$work" tag v1.0.0
mkdir -p "$dest"
rm -rf "$dest/app.git"
git clone -q --bare "$work" "$dest/app.git"
echo "$dest/app.git"
