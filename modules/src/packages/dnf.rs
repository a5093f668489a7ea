//! The `dnf` module, also registered as `yum` (Ansible 2.17+ redirects
//! `yum` to `dnf`): RPM packages through `dnf` (or `yum` where dnf is
//! missing), with Ansible's main parameters and result keys.
//!
//! Check is one probe: `rpm -q --qf` for each spec as written (rpm itself
//! understands `name`, `name-version[-release]`, `name.arch`; a `.rpm`
//! path or URL is read with `rpm -qp` first), plus `dnf check-update`
//! (exit 100 when updates exist) only for `latest`. Apply is one
//! `dnf -y install|remove|upgrade` run per verb (usually one).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common;
use crate::cmd::Cmd;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Param, Support, param};
use crate::text;

/// The `dnf` module.
pub struct Dnf;

/// The `yum` module: the same as `dnf`, as in Ansible 2.19.
pub struct Yum;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_bool")]
    allow_downgrade: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    allowerasing: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    autoremove: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    best: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    bugfix: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    cacheonly: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    conf_file: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    disable_gpg_check: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_list")]
    disablerepo: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_list")]
    enablerepo: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_list")]
    exclude: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    install_weak_deps: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    installroot: Option<String>,
    // dnf waits for its own lock; accepted for compatibility.
    #[serde(default, deserialize_with = "params::opt_string")]
    #[allow(dead_code)]
    lock_timeout: Option<String>,
    #[serde(
        default,
        alias = "pkg",
        alias = "package",
        deserialize_with = "params::opt_list"
    )]
    name: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    nobest: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    releasever: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    security: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    skip_broken: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    sslverify: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, alias = "expire-cache", deserialize_with = "params::opt_bool")]
    update_cache: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    update_only: Option<bool>,
    // tutti runs the dnf (or yum) command line whatever the backend.
    #[serde(default, deserialize_with = "params::opt_string")]
    #[allow(dead_code)]
    use_backend: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    validate_certs: Option<bool>,
}

const PARAMS: &[Param] = &[
    param(
        "allow_downgrade",
        Kind::Bool,
        "`false` stops dnf from installing an older version than the \
        installed one (`allow_downgrade=False`); when absent dnf's own setting \
        applies.",
    ),
    param(
        "allowerasing",
        Kind::Bool,
        "Let dnf remove installed packages to resolve conflicts \
        (`--allowerasing`).",
    )
    .default("false"),
    param(
        "autoremove",
        Kind::Bool,
        "Remove packages installed as dependencies that nothing needs \
        any more; only alone or with `state: absent` (it implies `absent` when \
        `state` is not given).",
    )
    .default("false"),
    param(
        "best",
        Kind::Bool,
        "Insist on the newest available version (`--best`); ignored \
        when `nobest` is set.",
    )
    .default("false"),
    param(
        "bugfix",
        Kind::Bool,
        "With `state: latest`, only apply bugfix updates (`--bugfix`).",
    )
    .default("false"),
    param(
        "cacheonly",
        Kind::Bool,
        "Use only the local metadata cache (`--cacheonly`).",
    )
    .default("false"),
    param(
        "conf_file",
        Kind::Path,
        "Configuration file dnf reads instead of its default \
        (`--config`).",
    ),
    param(
        "disable_gpg_check",
        Kind::Bool,
        "Skip signature checks on packages (`--nogpgcheck`).",
    )
    .default("false"),
    param(
        "disablerepo",
        Kind::List,
        "Repository IDs (globs allowed) to disable for this task.",
    ),
    param(
        "enablerepo",
        Kind::List,
        "Repository IDs (globs allowed) to enable for this task.",
    ),
    param(
        "exclude",
        Kind::List,
        "Packages dnf must not install or upgrade (`--exclude`).",
    ),
    param(
        "install_weak_deps",
        Kind::Bool,
        "`false` leaves out weak dependencies (Recommends); `true` \
        keeps dnf's configured behaviour.",
    )
    .default("true"),
    param(
        "installroot",
        Kind::Path,
        "Alternative root directory to install packages into \
        (`--installroot`).",
    )
    .default("/"),
    param(
        "lock_timeout",
        Kind::Int,
        "Accepted for compatibility; has no effect (dnf waits for its \
        own lock).",
    ),
    param(
        "name",
        Kind::List,
        "Packages to manage: names, `name-version[-release]`, \
        `name.arch`, paths or URLs of `.rpm` files, or `*` with \
        `state: latest` to upgrade everything. Groups and modules (`@...`) are \
        not supported.",
    )
    .aliases(&["pkg", "package"]),
    param(
        "nobest",
        Kind::Bool,
        "Accept versions other than the newest when the newest cannot \
        be installed (`--nobest`).",
    )
    .default("false"),
    param(
        "releasever",
        Kind::Str,
        "Release version dnf substitutes in repository URLs \
        (`--releasever`).",
    ),
    param(
        "security",
        Kind::Bool,
        "With `state: latest`, only apply security updates \
        (`--security`).",
    )
    .default("false"),
    param(
        "skip_broken",
        Kind::Bool,
        "Skip packages whose dependencies cannot be satisfied \
        (`--skip-broken`).",
    )
    .default("false"),
    param(
        "sslverify",
        Kind::Bool,
        "`false` turns off TLS certificate checks for the repositories.",
    )
    .default("true"),
    param(
        "state",
        Kind::Str,
        "`present`/`installed` installs missing packages, `latest` \
        also upgrades installed ones, `absent`/`removed` removes them. When \
        absent: `absent` with `autoremove`, else `present`.",
    )
    .choices(&["absent", "installed", "latest", "present", "removed"]),
    param(
        "update_cache",
        Kind::Bool,
        "Refresh the repository metadata (`--refresh`, or \
        `dnf makecache` when used alone).",
    )
    .default("false")
    .aliases(&["expire-cache"]),
    param(
        "update_only",
        Kind::Bool,
        "With `state: latest`, upgrade installed packages only and do \
        not install missing ones.",
    )
    .default("false"),
    param(
        "use_backend",
        Kind::Str,
        "Accepted for compatibility; tutti always runs the `dnf` (or \
        `yum`) command.",
    ),
    param(
        "validate_certs",
        Kind::Bool,
        "`false` turns off TLS certificate checks, like `sslverify`.",
    )
    .default("true"),
];

const DESCRIPTION: &str = "Installs, upgrades and removes RPM packages with `dnf`, or \
    `yum` on hosts without dnf. The installed state is read with `rpm -q` for \
    each name as written (and `dnf check-update` for `state: latest`), and only \
    the packages that need it are passed to one `dnf install`, `upgrade` or \
    `remove` run, so a task whose packages are already in the wanted state \
    changes nothing.";

const CHECK: Support = Support::Partial(
    "check does not resolve dependencies, so a package missing from every \
    repository only fails when applying",
);

const SPEC: ModuleSpec = ModuleSpec {
    name: "dnf",
    short: "Manage RPM packages with dnf",
    description: DESCRIPTION,
    params: PARAMS,
    check: CHECK,
    diff: Support::None,
    example: "- name: Install the web server
  ansible.builtin.dnf:
    name:
      - httpd
      - mod_ssl
    state: present

- name: Apply security updates only
  ansible.builtin.dnf:
    name: '*'
    state: latest
    security: true
",
    open: false,
    fields: params::fields::<Params>,
};

const YUM_SPEC: ModuleSpec = ModuleSpec {
    name: "yum",
    short: "Manage RPM packages (the same module as dnf)",
    description: "The same module as `dnf`, under the name older playbooks use. \
        Installs, upgrades and removes RPM packages with `dnf`, or `yum` on hosts \
        without dnf, changing only the packages that are not yet in the wanted \
        state.",
    params: PARAMS,
    check: CHECK,
    diff: Support::None,
    example: "- name: Install git
  ansible.builtin.yum:
    name: git
    state: present

- name: Remove telnet
  ansible.builtin.yum:
    name: telnet
    state: absent
",
    open: false,
    fields: params::fields::<Params>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Present,
    Absent,
    Latest,
}

struct Prep {
    module: &'static str,
    specs: Vec<String>,
    state: State,
    autoremove: bool,
    update_cache: bool,
    update_only: bool,
    security: bool,
    bugfix: bool,
    /// Options for every dnf command (repos, gpg, root, ...).
    opts: Vec<String>,
}

impl Module for Dnf {
    fn name(&self) -> &'static str {
        "dnf"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        prepare(&SPEC, args)
    }
}

impl Module for Yum {
    fn name(&self) -> &'static str {
        "yum"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &YUM_SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        prepare(&YUM_SPEC, args)
    }
}

fn prepare(spec: &'static ModuleSpec, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
    let module = spec.name;
    let p: Params = params::parse(spec, args)?;
    let specs: Vec<String> = p
        .name
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    for s in &specs {
        common::check_name(module, s)?;
        if s.starts_with('@') {
            return Err(ParamError::at(
                "name",
                format!(
                    "{module}: package groups and modules ('{s}') are not supported by tutti yet"
                ),
            ));
        }
    }
    let autoremove = p.autoremove.unwrap_or(false);
    let state = match p.state.as_deref() {
        None if autoremove => State::Absent,
        None | Some("present") | Some("installed") => State::Present,
        Some("absent") | Some("removed") => State::Absent,
        Some("latest") => State::Latest,
        Some(other) => {
            return Err(ParamError::at(
                "state",
                format!(
                    "value of state must be one of: absent, installed, latest, present, removed, got: {other}"
                ),
            ));
        }
    };
    let update_cache = p.update_cache.unwrap_or(false);
    if specs.is_empty() && !update_cache && !autoremove {
        return Err(ParamError::new(
            "one of the following is required: name, list, update_cache, autoremove",
        ));
    }
    if autoremove && state != State::Absent {
        return Err(ParamError::at(
            "autoremove",
            "Autoremove should be used alone or with state=absent",
        ));
    }
    let mut opts = Vec::new();
    let joined = |v: Option<Vec<String>>| v.filter(|v| !v.is_empty()).map(|v| v.join(","));
    if let Some(r) = joined(p.disablerepo) {
        opts.push(format!("--disablerepo={r}"));
    }
    if let Some(r) = joined(p.enablerepo) {
        opts.push(format!("--enablerepo={r}"));
    }
    if let Some(r) = joined(p.exclude) {
        opts.push(format!("--exclude={r}"));
    }
    if p.disable_gpg_check.unwrap_or(false) {
        opts.push("--nogpgcheck".into());
    }
    if let Some(c) = p.conf_file.filter(|c| !c.is_empty()) {
        opts.push(format!("--config={c}"));
    }
    if let Some(r) = p.installroot.filter(|r| !r.is_empty() && r != "/") {
        opts.push(format!("--installroot={r}"));
    }
    if let Some(r) = p.releasever.filter(|r| !r.is_empty()) {
        opts.push(format!("--releasever={r}"));
    }
    if p.skip_broken.unwrap_or(false) {
        opts.push("--skip-broken".into());
    }
    if p.allowerasing.unwrap_or(false) {
        opts.push("--allowerasing".into());
    }
    if p.nobest.unwrap_or(false) {
        opts.push("--nobest".into());
    } else if p.best.unwrap_or(false) {
        opts.push("--best".into());
    }
    if p.cacheonly.unwrap_or(false) {
        opts.push("--cacheonly".into());
    }
    if p.install_weak_deps == Some(false) {
        opts.push("--setopt=install_weak_deps=False".into());
    }
    if p.sslverify == Some(false) || p.validate_certs == Some(false) {
        opts.push("--setopt=sslverify=False".into());
    }
    // dnf installs an older version asked for by name-version only when
    // allowed, as Ansible's allow_downgrade says.
    if p.allow_downgrade == Some(false) {
        opts.push("--setopt=allow_downgrade=False".into());
    }
    Ok(Box::new(Prep {
        module,
        specs,
        state,
        autoremove,
        update_cache,
        update_only: p.update_only.unwrap_or(false),
        security: p.security.unwrap_or(false),
        bugfix: p.bugfix.unwrap_or(false),
        opts,
    }))
}

/// `$1` latest (1/0), then the specs, `--`, then the dnf options. Prints
/// `@mgr`, one `@spec` section per spec (`inst\tNAME\tEPOCH\tVERSION\t
/// RELEASE\tARCH` lines when installed, `file\tNEVRA` for a package
/// file), and for latest `@updates` (`dnf check-update`) and `@rc`.
pub const PROBE_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
latest=$1; shift
if command -v dnf >/dev/null 2>&1; then mgr=dnf
elif command -v yum >/dev/null 2>&1; then mgr=yum
else echo "neither dnf nor yum is installed" >&2; exit 127; fi
printf '@mgr\n%s\n' "$mgr"
F='inst\t%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n'
n=0
for s in "$@"; do
  n=$((n + 1))
  [ "$s" = -- ] && break
  printf '@spec\n%s\n' "$s"
  case $s in
    *.rpm) v=$(rpm -qp --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}' "$s" 2>/dev/null) || { printf 'unreadable\n'; continue; }
      printf 'file\t%s\n' "$v"; s=$v;;
  esac
  rpm -q --qf "$F" "$s" 2>/dev/null | grep '^inst' || true
done
shift "$n"
if [ "$latest" = 1 ]; then
  printf '@updates\n'
  "$mgr" -q check-update "$@" 2>/dev/null
  printf '\n@rc\n%s\n' "$?"
fi
exit 0
"#;

#[derive(Debug, Default)]
struct SpecState {
    spec: String,
    /// `name-version-release.arch` of a package file.
    file: Option<String>,
    unreadable: bool,
    /// Installed names.
    installed: Vec<String>,
}

#[derive(Debug, Default)]
struct Seen {
    mgr: String,
    specs: Vec<SpecState>,
    /// Names with an update available.
    updates: Vec<String>,
    updates_rc: Option<i32>,
}

fn parse(stdout: &str) -> Seen {
    let mut seen = Seen::default();
    for (name, lines) in common::sections(stdout) {
        match name {
            "mgr" => {
                seen.mgr = lines
                    .first()
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default()
            }
            "spec" => {
                let mut st = SpecState {
                    spec: lines.first().map(|s| s.to_string()).unwrap_or_default(),
                    ..SpecState::default()
                };
                for l in lines.iter().skip(1) {
                    let f: Vec<&str> = l.split('\t').collect();
                    match f.as_slice() {
                        ["inst", n, ..] => st.installed.push(n.to_string()),
                        ["file", nevra] => st.file = Some(nevra.to_string()),
                        ["unreadable"] => st.unreadable = true,
                        _ => {}
                    }
                }
                seen.specs.push(st);
            }
            "updates" => {
                for l in lines {
                    let mut w = l.split_whitespace();
                    let (Some(na), Some(_ver), Some(_repo)) = (w.next(), w.next(), w.next()) else {
                        continue;
                    };
                    if l.starts_with(' ') || na.ends_with(':') {
                        continue;
                    }
                    if na == "Obsoleting" || na == "Security:" {
                        break;
                    }
                    let name = na.rsplit_once('.').map(|(n, _)| n).unwrap_or(na);
                    seen.updates.push(name.to_string());
                }
            }
            "rc" => seen.updates_rc = lines.iter().find_map(|l| l.trim().parse().ok()),
            _ => {}
        }
    }
    seen
}

/// The verbs to run and their specs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Work {
    install: Vec<String>,
    remove: Vec<String>,
    upgrade: Vec<String>,
    /// `dnf upgrade` of everything (`name: '*'`, `state: latest`).
    upgrade_all: bool,
    autoremove: bool,
    makecache: bool,
}

impl Work {
    fn is_empty(&self) -> bool {
        *self == Work::default()
    }
}

impl Prep {
    fn probe(&self) -> Cmd {
        let latest = self.state == State::Latest;
        let mut args = vec![if latest { "1" } else { "0" }.to_string()];
        args.extend(self.specs.iter().filter(|s| s.as_str() != "*").cloned());
        args.push("--".into());
        args.extend(self.opts.iter().cloned());
        common::script(PROBE_SCRIPT, args)
    }

    fn decide(&self, seen: &Seen) -> Result<Work, ModuleError> {
        let mut w = Work::default();
        if self.specs.is_empty() && self.autoremove {
            w.autoremove = true;
        }
        if self.specs.is_empty() && !self.autoremove && self.update_cache {
            w.makecache = true;
        }
        if self.specs.iter().any(|s| s == "*") && self.state == State::Latest {
            if seen.updates_rc == Some(1) {
                return Err(ModuleError::failed("Failed to check for updates"));
            }
            w.upgrade_all = !seen.updates.is_empty() || seen.updates_rc == Some(100);
        }
        for st in &seen.specs {
            if st.unreadable {
                return Err(ModuleError::failed(format!(
                    "Unable to read the package file {}",
                    st.spec
                )));
            }
            let installed = !st.installed.is_empty();
            match self.state {
                State::Absent => {
                    if installed {
                        w.remove.push(st.spec.clone());
                    }
                }
                State::Present => {
                    if !installed {
                        w.install.push(st.spec.clone());
                    }
                }
                State::Latest => {
                    if !installed {
                        if !self.update_only {
                            w.install.push(st.spec.clone());
                        }
                    } else if st.installed.iter().any(|n| seen.updates.contains(n)) {
                        w.upgrade.push(st.spec.clone());
                    }
                }
            }
        }
        Ok(w)
    }

    fn changes(&self, w: &Work) -> Vec<String> {
        let mut c = Vec::new();
        let mut add = |verb: &str, v: &[String]| {
            if !v.is_empty() {
                c.push(format!("{verb}: {}", v.join(" ")));
            }
        };
        add("install", &w.install);
        add("upgrade", &w.upgrade);
        add("remove", &w.remove);
        if w.upgrade_all {
            c.push("upgrade: all packages".into());
        }
        if w.autoremove {
            c.push("autoremove unneeded packages".into());
        }
        if w.makecache {
            c.push("update the package cache".into());
        }
        c
    }

    fn results(w: &Work) -> Vec<String> {
        let mut r: Vec<String> = Vec::new();
        r.extend(w.install.iter().map(|s| format!("Installed: {s}")));
        r.extend(w.upgrade.iter().map(|s| format!("Installed: {s}")));
        r.extend(w.remove.iter().map(|s| format!("Removed: {s}")));
        r
    }

    fn dnf(&self, mgr: &str, verb: &str, specs: &[String]) -> Cmd {
        let mut a: Vec<String> = vec![mgr.to_string(), "-y".into()];
        a.extend(self.opts.iter().cloned());
        if self.update_cache && verb != "makecache" {
            a.push("--refresh".into());
        }
        a.push(verb.to_string());
        if verb == "upgrade" {
            if self.security {
                a.push("--security".into());
            }
            if self.bugfix {
                a.push("--bugfix".into());
            }
        }
        a.extend(specs.iter().cloned());
        Cmd::argv(a).env("LC_ALL", "C")
    }
}

/// `Installed: nevra` lines from dnf's transaction output.
fn transaction_results(stdout: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut section: Option<&str> = None;
    for line in stdout.lines() {
        let t = line.trim();
        if !line.starts_with(' ') {
            section = match t {
                "Installed:" | "Upgraded:" | "Downgraded:" | "Reinstalled:" => Some("Installed"),
                "Removed:" | "Erased:" => Some("Removed"),
                _ => None,
            };
            continue;
        }
        if let Some(s) = section {
            out.extend(t.split_whitespace().map(|p| format!("{s}: {p}")));
        }
    }
    out
}

#[async_trait]
impl Prepared for Prep {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let out = host.probe(&self.probe()).await?;
        if out.rc == 127 {
            return Err(common::failed_with(
                format!("{}: {}", self.module, common::error_text(&out)),
                &out,
                Facts::new(),
            ));
        }
        let seen = parse(&text::decode(&out.stdout));
        let w = self.decide(&seen)?;
        let mut result = Facts::new();
        result.insert("rc".into(), json!(0));
        if w.is_empty() {
            result.insert("msg".into(), json!("Nothing to do"));
            result.insert("results".into(), json!([]));
            return Ok(Plan::InSync { result });
        }
        result.insert(
            "msg".into(),
            json!("Check mode: No changes made, but would have if not for check mode"),
        );
        result.insert("results".into(), json!(Self::results(&w)));
        Ok(Plan::Change {
            changes: self.changes(&w),
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
        // Decide again from a fresh probe: the plan's text is for people.
        let out = host.probe(&self.probe()).await?;
        let seen = parse(&text::decode(&out.stdout));
        let mgr = if seen.mgr.is_empty() {
            "dnf"
        } else {
            seen.mgr.as_str()
        };
        let w = self.decide(&seen)?;
        let mut cmds: Vec<Cmd> = Vec::new();
        if w.makecache {
            cmds.push(self.dnf(mgr, "makecache", &[]));
        }
        if !w.install.is_empty() {
            cmds.push(self.dnf(mgr, "install", &w.install));
        }
        if !w.upgrade.is_empty() {
            cmds.push(self.dnf(mgr, "upgrade", &w.upgrade));
        }
        if w.upgrade_all {
            cmds.push(self.dnf(mgr, "upgrade", &[]));
        }
        if !w.remove.is_empty() {
            cmds.push(self.dnf(mgr, "remove", &w.remove));
        }
        if w.autoremove {
            cmds.push(self.dnf(mgr, "autoremove", &[]));
        }
        let mut results: Vec<String> = Vec::new();
        let mut stdout_all = String::new();
        let mut stderr_all = String::new();
        for cmd in &cmds {
            let out = host.run(cmd).await?;
            let stdout = text::decode(&out.stdout);
            stdout_all.push_str(&stdout);
            stderr_all.push_str(&text::decode(&out.stderr));
            if !out.success() {
                let mut base = Facts::new();
                base.insert("results".into(), json!(results));
                return Err(common::failed_with(
                    format!("'{}' failed: {}", cmd.render(), common::error_text(&out)),
                    &out,
                    base,
                ));
            }
            results.extend(transaction_results(&stdout));
        }
        if results.is_empty() {
            results = Self::results(&w);
        }
        let mut r = Facts::new();
        r.insert("rc".into(), json!(0));
        r.insert(
            "msg".into(),
            json!(if w.makecache && cmds.len() == 1 {
                "Cache updated"
            } else {
                ""
            }),
        );
        r.insert("results".into(), Value::from(results));
        r.insert("stdout".into(), json!(stdout_all));
        r.insert("stderr".into(), json!(stderr_all));
        Ok(Applied {
            changed: true,
            result: r,
            ..Applied::default()
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_transaction_output() {
        let out = "Installed:\n  sl-5.02-1.el9.x86_64\n\nComplete!\n";
        assert_eq!(
            transaction_results(out),
            vec!["Installed: sl-5.02-1.el9.x86_64"]
        );
    }
}
