//! The `apt` module: Debian packages through `apt-get`, with Ansible's
//! parameters and result keys.
//!
//! Check learns the state in one probe (`dpkg-query -W` for the named
//! packages, plus `apt-cache policy` only when a version or `latest` needs
//! candidates, `apt-cache pkgnames` only for wildcard names, and the cache
//! stamp only for `update_cache`). When something is to change, a second
//! read-only probe runs the very same `apt-get` command with `--simulate`:
//! its output is the diff (`{"prepared": ...}`, as Ansible shows it), its
//! summary line settles virtual packages, and an unknown package fails in
//! check mode too. Apply is one `apt-get` run (plus `apt-get update` when
//! the cache is stale, after which the package state is probed again).

use std::sync::Mutex;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::common::{self, compare_deb_versions, fnmatch, has_wildcard};
use crate::cmd::Cmd;
use crate::host::{Host, HostRead, Output};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `apt` module.
pub struct Apt;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(
        default,
        alias = "allow-change-held-packages",
        deserialize_with = "params::opt_bool"
    )]
    allow_change_held_packages: Option<bool>,
    #[serde(
        default,
        alias = "allow-downgrade",
        alias = "allow_downgrades",
        alias = "allow-downgrades",
        deserialize_with = "params::opt_bool"
    )]
    allow_downgrade: Option<bool>,
    #[serde(
        default,
        alias = "allow-unauthenticated",
        deserialize_with = "params::opt_bool"
    )]
    allow_unauthenticated: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    autoclean: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    autoremove: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    cache_valid_time: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    deb: Option<String>,
    #[serde(
        default,
        alias = "default-release",
        deserialize_with = "params::opt_string"
    )]
    default_release: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    dpkg_options: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    fail_on_autoremove: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    force: Option<bool>,
    // tutti always uses apt-get (never aptitude), as this asks.
    #[serde(default, deserialize_with = "params::opt_bool")]
    #[allow(dead_code)]
    force_apt_get: Option<bool>,
    #[serde(
        default,
        alias = "install-recommends",
        deserialize_with = "params::opt_bool"
    )]
    install_recommends: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    lock_timeout: Option<String>,
    #[serde(
        default,
        alias = "package",
        alias = "pkg",
        deserialize_with = "params::opt_list"
    )]
    name: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    only_upgrade: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    purge: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, alias = "update-cache", deserialize_with = "params::opt_bool")]
    update_cache: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    update_cache_retries: Option<String>,
    // Accepted for compatibility: apt-get retries on its own schedule.
    #[serde(default, deserialize_with = "params::opt_string")]
    #[allow(dead_code)]
    update_cache_retry_max_delay: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    upgrade: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "apt",
    short: "Manage Debian packages with apt-get",
    description: "Installs, upgrades, removes or purges Debian packages, installs a \
        local or downloaded `.deb`, upgrades the whole system, and refreshes the \
        package lists. The installed state is read with `dpkg-query` (and \
        `apt-cache policy` when versions or `latest` matter); when something is \
        to change, the same `apt-get` command is first run with `--simulate`, \
        and the task is in sync when apt-get would change nothing. Commands run \
        non-interactively, keeping existing configuration files by default.",
    params: &[
        param(
            "allow_change_held_packages",
            Kind::Bool,
            "Let apt-get install or remove packages that are on hold \
            (`--allow-change-held-packages`).",
        )
        .default("false")
        .aliases(&["allow-change-held-packages"]),
        param(
            "allow_downgrade",
            Kind::Bool,
            "Let apt-get install a version older than the installed one \
            (`--allow-downgrades`).",
        )
        .default("false")
        .aliases(&["allow-downgrade", "allow_downgrades", "allow-downgrades"]),
        param(
            "allow_unauthenticated",
            Kind::Bool,
            "Install packages whose origin cannot be verified \
            (`--allow-unauthenticated`).",
        )
        .default("false")
        .aliases(&["allow-unauthenticated"]),
        param(
            "autoclean",
            Kind::Bool,
            "Remove downloaded package files that can no longer be \
            downloaded (`apt-get autoclean`); may be used alone.",
        )
        .default("false"),
        param(
            "autoremove",
            Kind::Bool,
            "Also remove packages that were installed as dependencies \
            and are no longer needed; alone it runs `apt-get autoremove`.",
        )
        .default("false"),
        param(
            "cache_valid_time",
            Kind::Int,
            "With `update_cache`, skip the update when the package lists \
            were refreshed less than this many seconds ago; `0` always updates.",
        )
        .default("0"),
        param(
            "deb",
            Kind::Str,
            "Path on the target, or an http(s)/ftp URL, of a `.deb` file to \
            install; it is skipped when that exact version is installed.",
        ),
        param(
            "default_release",
            Kind::Str,
            "Release to prefer when picking versions (`apt-get -t`).",
        )
        .aliases(&["default-release"]),
        param(
            "dpkg_options",
            Kind::Str,
            "Comma-separated dpkg options, each passed as \
            `-o Dpkg::Options::=--OPTION`.",
        )
        .default("force-confdef,force-confold"),
        param(
            "fail_on_autoremove",
            Kind::Bool,
            "Fail rather than let apt-get remove packages to \
            complete the operation (`--no-remove`).",
        )
        .default("false"),
        param(
            "force",
            Kind::Bool,
            "Allow unauthenticated packages, downgrades, removal of \
            essential packages and changes to held packages all at once; with \
            `deb`, reinstall the file even when its version is installed.",
        )
        .default("false"),
        param(
            "force_apt_get",
            Kind::Bool,
            "Accepted for compatibility; tutti always uses apt-get.",
        )
        .default("false"),
        param(
            "install_recommends",
            Kind::Bool,
            "`true` installs recommended packages, `false` skips them \
            (`--no-install-recommends`); when absent apt's own configuration \
            decides.",
        )
        .aliases(&["install-recommends"]),
        param(
            "lock_timeout",
            Kind::Int,
            "Seconds apt-get waits for the dpkg lock held by another \
            process before failing.",
        )
        .default("60"),
        param(
            "name",
            Kind::List,
            "Packages to manage. Each may carry an architecture \
            (`libc6:amd64`), a version (`nginx=1.22*`, `foo>=2.0`) or shell \
            wildcards (`python3-*`).",
        )
        .aliases(&["package", "pkg"]),
        param(
            "only_upgrade",
            Kind::Bool,
            "Only upgrade packages that are already installed; \
            missing ones are left out.",
        )
        .default("false"),
        param(
            "purge",
            Kind::Bool,
            "With `state: absent`, also delete configuration files \
            (and purge packages that left only their configuration behind).",
        )
        .default("false"),
        param(
            "state",
            Kind::Str,
            "`present` installs missing packages, `latest` also \
            upgrades them to the candidate version, `absent` removes them, \
            `build-dep` installs their build dependencies and `fixed` repairs \
            broken dependencies (`apt-get install --fix-broken`).",
        )
        .default("present")
        .choices(&["absent", "build-dep", "fixed", "latest", "present"]),
        param(
            "update_cache",
            Kind::Bool,
            "Run `apt-get update` first (see `cache_valid_time`); may \
            be used alone.",
        )
        .default("false")
        .aliases(&["update-cache"]),
        param(
            "update_cache_retries",
            Kind::Int,
            "How many times apt retries a failed download during the \
            cache update (`Acquire::Retries`); when absent apt's setting applies.",
        ),
        param(
            "update_cache_retry_max_delay",
            Kind::Int,
            "Accepted for compatibility; has no effect (apt schedules \
            its own retries).",
        ),
        param(
            "upgrade",
            Kind::Str,
            "Upgrade the whole system: `yes` or `safe` runs \
            `apt-get upgrade --with-new-pkgs`, `full` and `dist` run \
            `apt-get dist-upgrade`, `no` does nothing. Booleans are read as \
            `yes`/`no`.",
        )
        .default("no"),
    ],
    check: Support::Partial(
        "when the package lists are to be updated first, the simulation \
        runs against the old lists",
    ),
    diff: Support::Partial(
        "the diff is apt-get's simulated output (`prepared`), not a \
        before/after comparison",
    ),
    example: "- name: Install nginx and curl, refreshing the lists at most hourly
  ansible.builtin.apt:
    name:
      - nginx
      - curl
    state: present
    update_cache: true
    cache_valid_time: 3600

- name: Remove telnet and its configuration
  ansible.builtin.apt:
    name: telnet
    state: absent
    purge: true

- name: Upgrade every package
  ansible.builtin.apt:
    upgrade: dist
",
    open: false,
    fields: params::fields::<Params>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Present,
    Absent,
    Latest,
    Fixed,
    BuildDep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    Safe,
    Full,
    Dist,
}

/// How a version was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum VersionReq {
    Any,
    /// `foo=1.0` or `foo=1.0*`.
    Eq(String),
    /// `foo>=1.0`.
    AtLeast(String),
}

/// One entry of `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    /// As written (for messages).
    raw: String,
    /// The name, possibly with `:arch`, possibly a wildcard.
    name: String,
    version: VersionReq,
}

impl Spec {
    fn parse(raw: &str) -> Result<Spec, ParamError> {
        let raw = raw.trim().to_string();
        common::check_name("apt", &raw)?;
        let (name, version) = if let Some((n, v)) = raw.split_once(">=") {
            (n.to_string(), VersionReq::AtLeast(v.to_string()))
        } else if let Some((n, v)) = raw.split_once('=') {
            (n.to_string(), VersionReq::Eq(v.to_string()))
        } else {
            (raw.clone(), VersionReq::Any)
        };
        if name.is_empty() {
            return Err(ParamError::at(
                "name",
                format!("apt: invalid package '{raw}'"),
            ));
        }
        Ok(Spec { raw, name, version })
    }

    /// The name without `:arch`.
    fn bare(&self) -> &str {
        self.name.split(':').next().unwrap_or(&self.name)
    }
}

/// Validated parameters.
#[derive(Debug)]
struct Apt2 {
    specs: Vec<Spec>,
    state: State,
    update_cache: bool,
    cache_valid_time: Option<u64>,
    upgrade: Option<Upgrade>,
    deb: Option<String>,
    install_recommends: Option<bool>,
    purge: bool,
    autoremove: bool,
    autoclean: bool,
    default_release: Option<String>,
    allow_downgrade: bool,
    allow_unauthenticated: bool,
    allow_change_held_packages: bool,
    dpkg_options: Vec<String>,
    lock_timeout: i64,
    force: bool,
    only_upgrade: bool,
    fail_on_autoremove: bool,
    retries: Option<u64>,
    /// What the last check decided, for apply (one prepared module runs
    /// on one host, so this is per host).
    decision: Mutex<Option<Decision>>,
}

fn int_param(name: &str, v: Option<String>) -> Result<Option<i64>, ParamError> {
    match v {
        None => Ok(None),
        Some(s) => s.trim().parse::<i64>().map(Some).map_err(|_| {
            ParamError::at(
                name,
                format!(
                    "argument '{name}' is of type str and we were unable to convert to int: '{s}'"
                ),
            )
        }),
    }
}

impl Module for Apt {
    fn name(&self) -> &'static str {
        "apt"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        Ok(Box::new(validate(p)?))
    }
}

fn validate(p: Params) -> Result<Apt2, ParamError> {
    let names: Vec<String> = p
        .name
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !n.trim().is_empty())
        .collect();
    let upgrade = match p.upgrade.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("no") | Some("false") | Some("off") | Some("0") => None,
        Some("yes") | Some("true") | Some("on") | Some("1") | Some("safe") => Some(Upgrade::Safe),
        Some("full") => Some(Upgrade::Full),
        Some("dist") => Some(Upgrade::Dist),
        Some(other) => {
            return Err(ParamError::at(
                "upgrade",
                format!("value of upgrade must be one of: dist, full, no, safe, yes, got: {other}"),
            ));
        }
    };
    let state = match p.state.as_deref().unwrap_or("present") {
        "present" => State::Present,
        "absent" => State::Absent,
        "latest" => State::Latest,
        "fixed" => State::Fixed,
        "build-dep" => State::BuildDep,
        other => {
            return Err(ParamError::at(
                "state",
                format!(
                    "value of state must be one of: absent, build-dep, fixed, latest, present, got: {other}"
                ),
            ));
        }
    };
    let deb = p.deb.filter(|d| !d.is_empty());
    let exclusive = [!names.is_empty(), deb.is_some(), upgrade.is_some()];
    if exclusive.iter().filter(|b| **b).count() > 1 {
        return Err(ParamError::new(
            "parameters are mutually exclusive: deb|package|upgrade",
        ));
    }
    let update_cache = p.update_cache.unwrap_or(false);
    let autoremove = p.autoremove.unwrap_or(false);
    let autoclean = p.autoclean.unwrap_or(false);
    if names.is_empty()
        && deb.is_none()
        && upgrade.is_none()
        && !update_cache
        && !autoremove
        && !autoclean
    {
        return Err(ParamError::new(
            "one of the following is required: autoclean, autoremove, deb, package, update_cache, upgrade",
        ));
    }
    if let Some(d) = &deb
        && d.starts_with('-')
    {
        return Err(ParamError::at("deb", format!("apt: invalid deb '{d}'")));
    }
    let specs = names
        .iter()
        .map(|n| Spec::parse(n))
        .collect::<Result<Vec<_>, _>>()?;
    let cache_valid_time = int_param("cache_valid_time", p.cache_valid_time)?
        .filter(|n| *n > 0)
        .map(|n| n as u64);
    let lock_timeout = int_param("lock_timeout", p.lock_timeout)?.unwrap_or(60);
    let retries =
        int_param("update_cache_retries", p.update_cache_retries)?.map(|n| n.max(0) as u64);
    let dpkg_options = p
        .dpkg_options
        .unwrap_or_else(|| "force-confdef,force-confold".into())
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| format!("Dpkg::Options::=--{}", o.trim_start_matches('-')))
        .collect();
    Ok(Apt2 {
        specs,
        state,
        update_cache,
        cache_valid_time,
        upgrade,
        deb,
        install_recommends: p.install_recommends,
        purge: p.purge.unwrap_or(false),
        autoremove,
        autoclean,
        default_release: p.default_release.filter(|s| !s.is_empty()),
        allow_downgrade: p.allow_downgrade.unwrap_or(false),
        allow_unauthenticated: p.allow_unauthenticated.unwrap_or(false),
        allow_change_held_packages: p.allow_change_held_packages.unwrap_or(false),
        dpkg_options,
        lock_timeout,
        force: p.force.unwrap_or(false),
        only_upgrade: p.only_upgrade.unwrap_or(false),
        fail_on_autoremove: p.fail_on_autoremove.unwrap_or(false),
        retries,
        decision: Mutex::new(None),
    })
}

/// The state probe. `$1` stamp (1/0), `$2` policy (1/0), `$3` pkgnames
/// (1/0), then the names (globs allowed for `dpkg-query`). Sections start
/// with `@name` lines.
pub const STATE_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
stamp=$1 policy=$2 names=$3; shift 3
if [ "$stamp" = 1 ]; then
  printf '@stamp\nnow\t%s\n' "$(date +%s)"
  for f in /var/lib/apt/periodic/update-success-stamp /var/lib/apt/lists; do
    [ -e "$f" ] && printf 'mtime\t%s\t%s\n' "$f" "$(stat -c %Y "$f")"
  done
fi
if [ "$names" = 1 ]; then printf '@pkgnames\n'; apt-cache pkgnames 2>/dev/null; fi
if [ $# -gt 0 ]; then
  printf '@dpkg\n'
  dpkg-query -W -f='${Package}\t${Status}\t${Version}\t${Architecture}\n' "$@" 2>/dev/null
  if [ "$policy" = 1 ]; then
    printf '@policy\n'
    for n in "$@"; do case $n in *[*?[]*) ;; *) apt-cache policy "$n" 2>/dev/null;; esac; done
  fi
fi
exit 0
"#;

/// `apt-get update` with the options in `"$@"`; on success it touches
/// the stamp `cache_valid_time` reads (as Ubuntu's update-notifier hook
/// does), since the lists directory's mtime does not move when nothing
/// changed upstream.
pub const UPDATE_SCRIPT: &str = r#"apt-get update "$@" || exit $?
mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp
"#;

/// `$1` the .deb path or URL. Prints `@deb` with its `Package`, `Version`
/// and `Architecture`, then `@dpkg` with the installed state. A URL is
/// downloaded to a temporary directory that is removed on exit.
pub const DEB_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
deb=$1 tmp=
case $deb in
  http://*|https://*|ftp://*)
    tmp=$(mktemp -d) || exit 3
    trap 'rm -rf "$tmp"' EXIT
    if command -v curl >/dev/null 2>&1; then curl -fsSL -o "$tmp/p.deb" "$deb" || exit 4
    elif command -v wget >/dev/null 2>&1; then wget -q -O "$tmp/p.deb" "$deb" || exit 4
    else echo "neither curl nor wget is installed to download $deb" >&2; exit 4; fi
    deb=$tmp/p.deb;;
esac
[ -f "$deb" ] || { echo "Unable to install package: $deb does not exist" >&2; exit 5; }
f=$(dpkg-deb -f "$deb" Package Version Architecture) || exit 6
printf '@deb\n%s\n' "$f"
pkg=$(printf '%s\n' "$f" | sed -n 's/^Package: //p')
printf '@dpkg\n'
dpkg-query -W -f='${Package}\t${Status}\t${Version}\t${Architecture}\n' "$pkg" 2>/dev/null
exit 0
"#;

/// Runs `$2...` on the .deb in `$1`, downloaded first when it is a URL:
/// `%DEB%` in the arguments is replaced by the local path.
pub const DEB_RUN_SCRIPT: &str = r#"deb=$1; shift
case $deb in
  http://*|https://*|ftp://*)
    tmp=$(mktemp -d) || exit 3
    trap 'rm -rf "$tmp"' EXIT
    if command -v curl >/dev/null 2>&1; then curl -fsSL -o "$tmp/p.deb" "$deb" || exit 4
    else wget -q -O "$tmp/p.deb" "$deb" || exit 4; fi
    deb=$tmp/p.deb;;
  /*|./*|../*) ;;
  *) deb=./$deb;;
esac
n=$#
while [ "$n" -gt 0 ]; do
  a=$1; shift; n=$((n - 1))
  [ "$a" = %DEB% ] && a=$deb
  set -- "$@" "$a"
done
"$@"
"#;

/// One package as `dpkg-query` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Installed {
    name: String,
    /// `install ok installed`, `deinstall ok config-files`, ...
    status: String,
    version: String,
}

impl Installed {
    fn is_installed(&self) -> bool {
        self.status.ends_with(" installed")
    }

    fn has_config(&self) -> bool {
        self.status.ends_with(" config-files")
    }
}

fn parse_dpkg(lines: &[&str]) -> Vec<Installed> {
    lines
        .iter()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let name = f.next()?.to_string();
            let status = f.next()?.to_string();
            let version = f.next().unwrap_or("").to_string();
            (!name.is_empty()).then_some(Installed {
                name,
                status,
                version,
            })
        })
        .collect()
}

/// `apt-cache policy` for one package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Policy {
    candidate: Option<String>,
    /// Every version in the version table, in apt's order (newest first).
    versions: Vec<String>,
}

fn parse_policy(lines: &[&str]) -> Vec<(String, Policy)> {
    let mut out: Vec<(String, Policy)> = Vec::new();
    let mut in_table = false;
    for line in lines {
        if !line.starts_with(' ') && line.ends_with(':') {
            let name = line.trim_end_matches(':');
            let name = name.split(':').next().unwrap_or(name);
            out.push((name.to_string(), Policy::default()));
            in_table = false;
            continue;
        }
        let Some((_, pol)) = out.last_mut() else {
            continue;
        };
        let t = line.trim();
        if let Some(c) = t.strip_prefix("Candidate:") {
            let c = c.trim();
            pol.candidate = (c != "(none)" && !c.is_empty()).then(|| c.to_string());
        } else if t.starts_with("Version table:") {
            in_table = true;
        } else if in_table {
            // `     2.10-3 500` or ` *** 2.10-3 100`; origin lines are
            // indented further and start with a priority number.
            let indent = line.len() - line.trim_start().len();
            let t = t.trim_start_matches("*** ");
            let mut words = t.split_whitespace();
            if let (Some(v), Some(prio)) = (words.next(), words.next())
                && indent <= 5
                && prio.parse::<i64>().is_ok()
                && words.next().is_none()
            {
                pol.versions.push(v.to_string());
            }
        }
    }
    out
}

/// What the state probe saw.
#[derive(Debug, Default)]
struct Seen {
    now: Option<i64>,
    cache_mtime: Option<i64>,
    installed: Vec<Installed>,
    policy: Vec<(String, Policy)>,
    pkgnames: Vec<String>,
}

fn parse_seen(stdout: &str) -> Seen {
    let secs = common::sections(stdout);
    let mut seen = Seen::default();
    let mut stamp: Option<i64> = None;
    let mut lists: Option<i64> = None;
    for line in common::section(&secs, "stamp") {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["now", n] => seen.now = n.trim().parse().ok(),
            ["mtime", path, t] if path.ends_with("update-success-stamp") => {
                stamp = t.trim().parse().ok()
            }
            ["mtime", _, t] => lists = t.trim().parse().ok(),
            _ => {}
        }
    }
    seen.cache_mtime = stamp.or(lists);
    seen.installed = parse_dpkg(common::section(&secs, "dpkg"));
    seen.policy = parse_policy(common::section(&secs, "policy"));
    seen.pkgnames = common::section(&secs, "pkgnames")
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    seen
}

impl Seen {
    fn installed(&self, name: &str) -> Option<&Installed> {
        self.installed.iter().find(|i| i.name == name)
    }

    fn policy(&self, name: &str) -> Option<&Policy> {
        self.policy.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }
}

/// What check decided, carried from check to apply in the plan's result.
#[derive(Debug, Default, Clone)]
struct Decision {
    update_cache: bool,
    /// The cache's mtime as check saw it.
    cache_time: i64,
    /// Arguments after the `apt-get` options: `install a b=1`, `remove x`,
    /// `upgrade --with-new-pkgs`, ...
    action: Vec<String>,
}

impl Apt2 {
    fn env(cmd: Cmd) -> Cmd {
        cmd.env("DEBIAN_FRONTEND", "noninteractive")
            .env("DEBCONF_NONINTERACTIVE_SEEN", "true")
            .env("LC_ALL", "C")
            .env("LANG", "C")
    }

    /// `apt-get -y` with the options every changing command gets.
    fn apt_get(&self, simulate: bool) -> Vec<String> {
        let mut a: Vec<String> = vec!["apt-get".into(), "-y".into()];
        if simulate {
            a.push("--simulate".into());
        }
        for o in &self.dpkg_options {
            a.push("-o".into());
            a.push(o.clone());
        }
        a.push("-o".into());
        a.push(format!("DPkg::Lock::Timeout={}", self.lock_timeout));
        match self.install_recommends {
            Some(true) => a.extend(["-o".into(), "APT::Install-Recommends=yes".into()]),
            Some(false) => a.push("--no-install-recommends".into()),
            None => {}
        }
        if let Some(r) = &self.default_release {
            a.push("-t".into());
            a.push(r.clone());
        }
        if self.force {
            a.extend(
                [
                    "--allow-unauthenticated",
                    "--allow-downgrades",
                    "--allow-remove-essential",
                    "--allow-change-held-packages",
                ]
                .map(String::from),
            );
        } else {
            if self.allow_unauthenticated {
                a.push("--allow-unauthenticated".into());
            }
            if self.allow_downgrade {
                a.push("--allow-downgrades".into());
            }
            if self.allow_change_held_packages {
                a.push("--allow-change-held-packages".into());
            }
        }
        if self.fail_on_autoremove {
            a.push("--no-remove".into());
        }
        a
    }

    fn needs_policy(&self) -> bool {
        self.state == State::Latest
            || self.specs.iter().any(|s| {
                matches!(&s.version, VersionReq::AtLeast(_))
                    || matches!(&s.version, VersionReq::Eq(v) if has_wildcard(v))
            })
    }

    fn state_probe(&self, names: &[String], policy: bool, pkgnames: bool) -> Cmd {
        let flag = |b: bool| if b { "1" } else { "0" }.to_string();
        let mut args = vec![flag(self.update_cache), flag(policy), flag(pkgnames)];
        args.extend(names.iter().cloned());
        common::script(STATE_SCRIPT, args)
    }

    async fn probe_state(&self, host: &dyn HostRead) -> Result<Seen, ModuleError> {
        let names: Vec<String> = self.specs.iter().map(|s| s.name.clone()).collect();
        let wild = self.specs.iter().any(|s| has_wildcard(&s.name));
        let needs_policy = self.needs_policy();
        let out = host
            .probe(&self.state_probe(&names, needs_policy, wild && self.state != State::Absent))
            .await?;
        let mut seen = parse_seen(&text::decode(&out.stdout));
        if wild && needs_policy {
            // Candidates of what the wildcards matched: a second probe.
            let expanded: Vec<String> = self.expand(&seen).into_iter().map(|s| s.name).collect();
            if !expanded.is_empty() {
                let out = host
                    .probe(&self.state_probe(&expanded, true, false))
                    .await?;
                let more = parse_seen(&text::decode(&out.stdout));
                seen.policy = more.policy;
            }
        }
        Ok(seen)
    }

    /// The specs with wildcards replaced by the names they match (in the
    /// apt cache for installs, among installed packages for removals).
    fn expand(&self, seen: &Seen) -> Vec<Spec> {
        let mut out = Vec::new();
        for s in &self.specs {
            if !has_wildcard(&s.name) {
                out.push(s.clone());
                continue;
            }
            let mut names: Vec<&str> = seen.installed.iter().map(|i| i.name.as_str()).collect();
            if self.state != State::Absent {
                names.extend(seen.pkgnames.iter().map(String::as_str));
            }
            names.sort_unstable();
            names.dedup();
            for n in names.into_iter().filter(|n| fnmatch(&s.name, n)) {
                out.push(Spec {
                    raw: n.to_string(),
                    name: n.to_string(),
                    version: s.version.clone(),
                });
            }
        }
        out
    }

    /// The `apt-get` action for the packages, or `None` when in sync.
    fn decide_packages(&self, seen: &Seen) -> Result<Option<Vec<String>>, ModuleError> {
        let specs = self.expand(seen);
        let mut targets: Vec<String> = Vec::new();
        for s in &specs {
            let inst = seen.installed(s.bare());
            let installed = inst.filter(|i| i.is_installed());
            let matches = |v: &str| match &s.version {
                VersionReq::Any => true,
                VersionReq::Eq(want) => fnmatch(want, v),
                VersionReq::AtLeast(min) => {
                    compare_deb_versions(v, min) != std::cmp::Ordering::Less
                }
            };
            match self.state {
                State::Absent => {
                    let remove = match inst {
                        Some(i) if i.is_installed() => matches(&i.version),
                        Some(i) if i.has_config() => self.purge,
                        _ => false,
                    };
                    if remove {
                        targets.push(s.name.clone());
                    }
                }
                State::Present | State::Latest => {
                    if self.only_upgrade && installed.is_none() {
                        continue;
                    }
                    let ok = match installed {
                        None => false,
                        Some(i) if self.state == State::Present => matches(&i.version),
                        Some(i) => {
                            let cand = seen
                                .policy(s.bare())
                                .and_then(|p| self.wanted_version(s, p));
                            match cand {
                                Some(c) => c == i.version,
                                None => matches(&i.version),
                            }
                        }
                    };
                    if ok {
                        continue;
                    }
                    targets.push(self.install_arg(s, seen)?);
                }
                State::Fixed | State::BuildDep => targets.push(s.name.clone()),
            }
        }
        let verb = match self.state {
            State::Absent if targets.is_empty() => return Ok(None),
            State::Absent => "remove",
            State::BuildDep => "build-dep",
            State::Fixed => "install",
            _ if targets.is_empty() => return Ok(None),
            _ => "install",
        };
        let mut action = vec![verb.to_string()];
        if self.state == State::Fixed {
            action.push("--fix-broken".into());
        }
        if self.state == State::Absent && self.purge {
            action.push("--purge".into());
        }
        if self.autoremove && matches!(self.state, State::Absent | State::Present | State::Latest) {
            action.push("--auto-remove".into());
        }
        if self.only_upgrade && verb == "install" {
            action.push("--only-upgrade".into());
        }
        action.extend(targets);
        Ok(Some(action))
    }

    /// The version to install for `s` among `p`'s versions, if one fits.
    fn wanted_version(&self, s: &Spec, p: &Policy) -> Option<String> {
        match &s.version {
            VersionReq::Any => p.candidate.clone(),
            VersionReq::Eq(want) => {
                if p.candidate.as_deref().is_some_and(|c| fnmatch(want, c)) {
                    p.candidate.clone()
                } else {
                    p.versions.iter().find(|v| fnmatch(want, v)).cloned()
                }
            }
            VersionReq::AtLeast(min) => p
                .candidate
                .clone()
                .filter(|c| compare_deb_versions(c, min) != std::cmp::Ordering::Less),
        }
    }

    /// `name` or `name=version` for `apt-get install`.
    fn install_arg(&self, s: &Spec, seen: &Seen) -> Result<String, ModuleError> {
        match &s.version {
            VersionReq::Any => Ok(s.name.clone()),
            VersionReq::Eq(v) if !has_wildcard(v) => Ok(format!("{}={v}", s.name)),
            _ => {
                let v = seen
                    .policy(s.bare())
                    .and_then(|p| self.wanted_version(s, p))
                    .ok_or_else(|| {
                        ModuleError::failed(format!("No package matching '{}' is available", s.raw))
                    })?;
                Ok(format!("{}={v}", s.name))
            }
        }
    }

    fn cache_stale(&self, seen: &Seen) -> bool {
        if !self.update_cache {
            return false;
        }
        match (self.cache_valid_time, seen.cache_mtime, seen.now) {
            (Some(valid), Some(mtime), Some(now)) => mtime + valid as i64 <= now,
            _ => true,
        }
    }

    fn base_result(&self, cache_updated: bool, cache_time: i64) -> Facts {
        let mut r = Facts::new();
        r.insert("cache_updated".into(), json!(cache_updated));
        r.insert("cache_update_time".into(), json!(cache_time));
        r
    }

    fn update_cmd(&self) -> Cmd {
        let mut a: Vec<String> = Vec::new();
        a.push("-o".into());
        a.push(format!("DPkg::Lock::Timeout={}", self.lock_timeout));
        if let Some(n) = self.retries {
            a.push("-o".into());
            a.push(format!("Acquire::Retries={n}"));
        }
        Self::env(common::script(UPDATE_SCRIPT, a))
    }

    /// The command carrying out `action` (simulated in check).
    fn action_cmd(&self, action: &[String], simulate: bool) -> Cmd {
        let mut argv = self.apt_get(simulate);
        argv.extend(action.iter().cloned());
        match &self.deb {
            Some(deb) => {
                let mut args = vec![deb.clone()];
                args.extend(argv);
                Self::env(common::script(DEB_RUN_SCRIPT, args))
            }
            None => Self::env(Cmd::argv(argv)),
        }
    }

    /// Decides the action for `deb`, `upgrade`, `autoremove`/`autoclean`
    /// alone, or the named packages.
    async fn decide(
        &self,
        host: &dyn HostRead,
        seen: &Seen,
    ) -> Result<Option<Vec<String>>, ModuleError> {
        if let Some(deb) = &self.deb {
            return self.decide_deb(host, deb).await;
        }
        if let Some(u) = self.upgrade {
            let mut a: Vec<String> = match u {
                Upgrade::Safe => vec!["upgrade".into(), "--with-new-pkgs".into()],
                Upgrade::Full | Upgrade::Dist => vec!["dist-upgrade".into()],
            };
            if self.autoremove {
                a.push("--auto-remove".into());
            }
            return Ok(Some(a));
        }
        if !self.specs.is_empty() {
            return self.decide_packages(seen);
        }
        if self.autoremove {
            let mut a = vec!["autoremove".to_string()];
            if self.purge {
                a.push("--purge".into());
            }
            return Ok(Some(a));
        }
        if self.autoclean {
            return Ok(Some(vec!["autoclean".into()]));
        }
        Ok(None)
    }

    async fn decide_deb(
        &self,
        host: &dyn HostRead,
        deb: &str,
    ) -> Result<Option<Vec<String>>, ModuleError> {
        let out = host.probe(&common::script(DEB_SCRIPT, [deb])).await?;
        if !out.success() {
            return Err(common::failed_with(
                format!("Unable to install package: {}", common::error_text(&out)),
                &out,
                Facts::new(),
            ));
        }
        let stdout = text::decode(&out.stdout);
        let secs = common::sections(&stdout);
        let field = |k: &str| {
            common::section(&secs, "deb")
                .iter()
                .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
        };
        let (Some(pkg), Some(version)) = (field("Package:"), field("Version:")) else {
            return Err(ModuleError::failed(format!(
                "Unable to read the control fields of {deb}"
            )));
        };
        let installed = parse_dpkg(common::section(&secs, "dpkg"));
        let same = installed
            .iter()
            .any(|i| i.name == pkg && i.is_installed() && i.version == version);
        if same && !self.force {
            return Ok(None);
        }
        Ok(Some(vec!["install".into(), "%DEB%".into()]))
    }

    fn simulate_is_noop(&self, action: &[String], stdout: &str) -> bool {
        if action.first().map(String::as_str) == Some("autoclean") {
            return !stdout.lines().any(|l| l.starts_with("Del "));
        }
        common::apt_summary_changes(stdout) == Some(0)
    }
}

/// The message Ansible gives when apt-get cannot find a package.
fn failure_msg(cmd: &Cmd, out: &Output) -> String {
    let err = text::decode(&out.stderr);
    for line in err.lines() {
        if let Some(p) = line.strip_prefix("E: Unable to locate package ") {
            return format!("No package matching '{}' is available", p.trim());
        }
        if let Some(rest) = line.strip_prefix("E: Version '")
            && let Some((v, tail)) = rest.split_once("' for '")
        {
            let pkg = tail.split('\'').next().unwrap_or_default();
            return format!("No package matching '{pkg}={v}' is available");
        }
    }
    format!("'{}' failed: {}", cmd.render(), common::error_text(out))
}

#[async_trait]
impl Prepared for Apt2 {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let seen = self.probe_state(host).await?;
        let stale = self.cache_stale(&seen);
        let cache_time = seen.cache_mtime.unwrap_or(0);
        let action = self.decide(host, &seen).await?;
        let mut changes = Vec::new();
        if stale {
            changes.push("update the apt cache (apt-get update)".to_string());
        }
        let mut result = self.base_result(false, cache_time);
        let mut decision = Decision {
            update_cache: stale,
            cache_time,
            action: Vec::new(),
        };
        if let Some(action) = action {
            let cmd = self.action_cmd(&action, true);
            let out = host.probe(&cmd).await?;
            if !out.success() {
                return Err(common::failed_with(failure_msg(&cmd, &out), &out, result));
            }
            let stdout = text::decode(&out.stdout);
            // With a stale cache the simulation may not know what the update
            // brings; keep the action so apply decides again after updating.
            if !self.simulate_is_noop(&action, &stdout) || stale {
                if !self.simulate_is_noop(&action, &stdout) {
                    changes.push(format!("apt-get {}", action.join(" ")));
                    result.insert("diff".into(), json!({ "prepared": stdout }));
                    result.insert("stdout".into(), json!(stdout));
                    result.insert("stdout_lines".into(), json!(text::lines(&stdout)));
                }
                decision.action = action;
            }
        }
        if changes.is_empty() {
            return Ok(Plan::InSync { result });
        }
        *self.decision.lock().unwrap_or_else(|e| e.into_inner()) = Some(decision);
        Ok(Plan::Change {
            changes,
            diff: Vec::new(),
            result,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        if let Plan::InSync { result } = plan {
            return Ok(Applied {
                result,
                ..Applied::default()
            });
        }
        let stored = self
            .decision
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let decision = match stored {
            Some(d) => d,
            // A plan that did not come from this object's check: decide again.
            None => {
                let seen = self.probe_state(host).await?;
                Decision {
                    update_cache: self.cache_stale(&seen),
                    cache_time: seen.cache_mtime.unwrap_or(0),
                    action: self.decide(host, &seen).await?.unwrap_or_default(),
                }
            }
        };
        let update = decision.update_cache;
        let mut out_result = self.base_result(false, decision.cache_time);
        let mut action = decision.action;
        let mut changed = false;
        if update {
            let cmd = self.update_cmd();
            let out = host.run(&cmd).await?;
            if !out.success() {
                return Err(common::failed_with(
                    format!("Failed to update apt cache: {}", common::error_text(&out)),
                    &out,
                    out_result,
                ));
            }
            changed = true;
            out_result = self.base_result(true, chrono::Utc::now().timestamp());
            common::insert_output(&mut out_result, &out);
            if !self.specs.is_empty() && self.deb.is_none() {
                // The cache changed under the plan: decide again.
                let seen = self.probe_state(host).await?;
                action = self.decide_packages(&seen)?.unwrap_or_default();
            }
        }
        if !action.is_empty() {
            let cmd = self.action_cmd(&action, false);
            let out = host.run(&cmd).await?;
            let cache = out_result.clone();
            if !out.success() {
                return Err(common::failed_with(failure_msg(&cmd, &out), &out, cache));
            }
            let stdout = text::decode(&out.stdout);
            let did = match action.first().map(String::as_str) {
                Some("autoclean") => stdout.lines().any(|l| l.starts_with("Del ")),
                _ => common::apt_summary_changes(&stdout) != Some(0),
            };
            changed |= did;
            common::insert_output(&mut out_result, &out);
            out_result.insert("diff".into(), json!({ "prepared": stdout }));
            if self.upgrade.is_some() || self.specs.is_empty() {
                out_result.insert("msg".into(), json!(stdout));
            }
        }
        Ok(Applied {
            changed,
            result: out_result,
            ..Applied::default()
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const POLICY: &str = "hello:\n  Installed: (none)\n  Candidate: 2.10-3\n  Version table:\n     2.10-3 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n *** 2.9-1 100\n        100 /var/lib/dpkg/status\n";

    #[test]
    fn parses_policy_tables() {
        let lines: Vec<&str> = POLICY.lines().collect();
        let p = parse_policy(&lines);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, "hello");
        assert_eq!(p[0].1.candidate.as_deref(), Some("2.10-3"));
        assert_eq!(p[0].1.versions, vec!["2.10-3", "2.9-1"]);
    }

    #[test]
    fn parses_specs() {
        let s = Spec::parse("hello=2.10*").unwrap();
        assert_eq!(s.name, "hello");
        assert_eq!(s.version, VersionReq::Eq("2.10*".into()));
        let s = Spec::parse("hello>=2.0").unwrap();
        assert_eq!(s.version, VersionReq::AtLeast("2.0".into()));
        assert_eq!(Spec::parse("libc6:amd64").unwrap().bare(), "libc6");
        assert!(Spec::parse("-o").is_err());
    }
}
