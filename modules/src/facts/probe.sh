# tutti `setup` probe: read-only, one round trip. Prints sections, each
# introduced by a line `@@tutti NAME`; facts/parse.rs reads them.
# Flags come in as environment variables and are removed before `env`.
_min=${TUTTI_SETUP_MIN-1}
_hw=${TUTTI_SETUP_HW-1}
_net=${TUTTI_SETUP_NET-1}
_virt=${TUTTI_SETUP_VIRT-1}
_gt=${TUTTI_SETUP_TIMEOUT-10}
_fp=${TUTTI_SETUP_FACT_PATH-/etc/ansible/facts.d}
unset TUTTI_SETUP_MIN TUTTI_SETUP_HW TUTTI_SETUP_NET TUTTI_SETUP_VIRT TUTTI_SETUP_TIMEOUT TUTTI_SETUP_FACT_PATH
_s() { printf '\n@@tutti %s\n' "$*"; }
if command -v timeout >/dev/null 2>&1; then
  _t() { timeout "$_gt" "$@"; }
else
  # No `timeout`: a background sleeper kills the command (its output goes
  # to /dev/null so a leftover sleep cannot hold our stdout open).
  _t() {
    "$@" &
    _pid=$!
    (sleep "$_gt" && kill "$_pid") >/dev/null 2>&1 &
    _k=$!
    wait "$_pid"
    _rc=$?
    kill "$_k" 2>/dev/null
    return $_rc
  }
fi
_s uname
uname -s -n -r -m
uname -v
if [ "$_min" = 1 ]; then
  _s env
  env
fi
LC_ALL=C
export LC_ALL
# Platform facts (and the distribution files) come with every subset.
_f="/etc/os-release /usr/lib/os-release /etc/lsb-release /etc/debian_version
  /etc/redhat-release /etc/alpine-release /etc/system-release /etc/gentoo-release
  /etc/SuSE-release /etc/machine-id /var/lib/dbus/machine-id"
_s fqdn
_t hostname -f 2>/dev/null
_s which
for _p in /usr/bin/python3 /usr/local/bin/python3 /usr/libexec/platform-python \
  /usr/bin/python /usr/bin/python2 /usr/local/bin/python; do
  if [ -x "$_p" ]; then
    echo "$_p"
    "$_p" -V 2>&1
    break
  fi
done
if [ "$_min" = 1 ]; then
  _s id
  _id=$(id)
  echo "$_id"
  _u=${_id#*uid=}
  _u=${_u%%[!0-9]*}
  getent passwd "$_u" 2>/dev/null || grep "^[^:]*:[^:]*:$_u:" /etc/passwd
  _s date
  date '+%s %N %z %Z'
  _f="$_f /etc/resolv.conf /proc/sys/crypto/fips_enabled /proc/cmdline /proc/1/comm
    /sys/fs/selinux/enforce /sys/fs/selinux/policyvers /etc/selinux/config
    /etc/ssh/ssh_host_*_key.pub"
  _s lsb_release
  command -v lsb_release 2>/dev/null
fi
if [ "$_hw" = 1 ]; then
  _f="$_f /proc/meminfo /proc/uptime /proc/loadavg /proc/mounts"
  for _p in bios_date bios_vendor bios_version board_asset_tag board_name board_serial \
    board_vendor board_version chassis_asset_tag chassis_serial chassis_vendor \
    chassis_version chassis_type product_name product_serial product_uuid \
    product_version sys_vendor; do
    _f="$_f /sys/devices/virtual/dmi/id/$_p"
  done
  _s cpuinfo
  grep -E '^(processor|vendor_id|model name|physical id|core id|cpu cores|siblings|Processor|cpu model|vendor|model)[[:space:]]*:' /proc/cpuinfo 2>/dev/null
  grep -m1 -E '^(flags|Features)[[:space:]]*:' /proc/cpuinfo 2>/dev/null
  _s nproc
  nproc 2>/dev/null
  _s statfs
  set --
  while read -r _d _m _y _r; do
    case $_d in /* | *:/*) ;; *) continue ;; esac
    [ "$_y" = none ] && continue
    case $_m in *\\*) _m=$(printf '%b' "$_m") ;; esac
    set -- "$@" "$_m"
  done </proc/mounts
  [ $# -gt 0 ] && _t stat -f -c '%s %S %b %f %a %c %d %n' -- "$@" 2>/dev/null
  if [ -d /dev/disk/by-uuid ]; then
    _s uuids
    ls -l /dev/disk/by-uuid 2>/dev/null
  fi
fi
if [ "$_virt" = 1 ]; then
  _f="$_f /proc/1/cgroup /run/systemd/container"
  case $_f in *dmi/id*) ;; *) _f="$_f /sys/devices/virtual/dmi/id/product_name /sys/devices/virtual/dmi/id/sys_vendor /sys/devices/virtual/dmi/id/bios_vendor" ;; esac
fi
if [ "$_net" = 1 ]; then
  _f="$_f /proc/net/route /proc/net/if_inet6 /proc/net/ipv6_route"
  for _p in /sys/class/net/*; do
    _f="$_f $_p/address $_p/mtu $_p/operstate $_p/type $_p/flags $_p/speed"
    [ -d "$_p/bridge" ] && _f="$_f $_p/bridge/bridge_id"
    [ -d "$_p/bonding" ] && _f="$_f $_p/bonding/mode"
  done
  if command -v ip >/dev/null 2>&1; then
    _s ip_addr
    ip -o addr show 2>/dev/null
  elif command -v ifconfig >/dev/null 2>&1; then
    _s ifconfig
    ifconfig -a 2>/dev/null
  else
    _f="$_f /proc/net/fib_trie"
  fi
fi
_s exists
for _p in /etc/arch-release /.dockerenv /.dockerinit /run/.containerenv /proc/vz /proc/bc \
  /proc/xen /dev/kvm /run/systemd/system /dev/.run/systemd /dev/.systemd \
  /sys/kernel/security/apparmor /usr/bin/rpm-ostree /usr/bin/dnf5 /usr/bin/dnf /usr/bin/yum \
  /usr/bin/apt-get /usr/bin/zypper /usr/bin/pacman /sbin/apk /usr/bin/emerge /bin/opkg \
  /usr/bin/xbps-install /usr/bin/swupd /usr/sbin/urpmi /sbin/openrc /etc/init /sbin/initctl /etc/init.d \
  /usr/bin/systemctl /bin/systemctl; do
  [ -e "$_p" ] && echo "$_p"
done
_s files
# shellcheck disable=SC2086
grep -Hs '' $_f
if [ "$_min" = 1 ] && [ -d "$_fp" ]; then
  for _p in "$_fp"/*.fact; do
    [ -f "$_p" ] || continue
    if [ -x "$_p" ]; then
      _s fact_exec "$_p"
      _t "$_p" 2>/dev/null
      _s fact_rc $?
    else
      _s fact_file "$_p"
      cat "$_p"
    fi
  done
fi
_s end
