//! The `pip` module: Python packages through a target's `pip`, optionally
//! in a virtualenv it creates, with Ansible's parameters and result keys.
//!
//! Check is one probe: whether the virtualenv exists, which `pip` runs,
//! and `pip list --format=freeze`; for `latest`, `requirements` and names
//! that are URLs or paths, the same probe also runs `pip install
//! --dry-run` (pip ≥ 22.2) and reads its `Would install ...` line, so
//! check mode is exact instead of always "changed". Apply is one run (two
//! when the virtualenv has to be created first).

use std::cmp::Ordering;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common;
use crate::cmd::Cmd;
use crate::commands::run;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `pip` module.
pub struct Pip;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_bool")]
    break_system_packages: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    chdir: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    editable: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    executable: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    extra_args: Option<String>,
    #[serde(default, deserialize_with = "params::opt_list")]
    name: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    requirements: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    umask: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    version: Option<String>,
    #[serde(default, alias = "env", deserialize_with = "params::opt_string")]
    virtualenv: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    virtualenv_command: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    virtualenv_python: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    virtualenv_site_packages: Option<bool>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "pip",
    short: "Manage Python packages with pip",
    description: "Installs, upgrades and removes Python packages with the target's \
        `pip`, optionally inside a virtualenv that it creates when missing. One \
        probe lists what is installed (`pip list --format=freeze`) and compares \
        names and version specifiers with it; for `latest`, `requirements` and \
        names that are URLs or paths the same probe runs \
        `pip install --dry-run` (pip 22.2 or newer), so the task is in sync when \
        pip would install nothing.",
    params: &[
        param(
            "break_system_packages",
            Kind::Bool,
            "Pass `--break-system-packages`, letting pip install \
            into a Python that the system's package manager owns.",
        )
        .default("false"),
        param(
            "chdir",
            Kind::Path,
            "Directory on the target to run pip (and the virtualenv \
            command) in; relative `requirements` and paths resolve there.",
        ),
        param(
            "editable",
            Kind::Bool,
            "Install each `name` in editable mode (`-e`).",
        )
        .default("false"),
        param(
            "executable",
            Kind::Str,
            "The pip to run, a name looked up in `PATH` or a path; when \
            absent `pip3` or else `pip`. Cannot be combined with `virtualenv`.",
        ),
        param(
            "extra_args",
            Kind::Str,
            "More arguments for `pip install`, split like a shell would.",
        ),
        param(
            "name",
            Kind::List,
            "Packages to manage, with optional version specifiers \
            (`Django>=4.2,<5`), extras, or as URLs/paths. Either this or \
            `requirements` is required.",
        ),
        param(
            "requirements",
            Kind::Path,
            "Path on the target of a requirements file to install \
            (`pip install -r`).",
        ),
        param(
            "state",
            Kind::Str,
            "`present` installs what is missing or does not satisfy its \
            specifier, `latest` upgrades to the newest version, \
            `forcereinstall` always reinstalls, `absent` uninstalls.",
        )
        .default("present")
        .choices(&["absent", "forcereinstall", "latest", "present"]),
        param(
            "umask",
            Kind::Str,
            "Octal umask to run pip (and the virtualenv command) with; \
            quote it (`'0022'`) so YAML keeps it a string.",
        ),
        param(
            "version",
            Kind::Str,
            "Exact version of the single package in `name` (the same as \
            `name==version`).",
        ),
        param(
            "virtualenv",
            Kind::Path,
            "Directory of a virtualenv to install into; it is created with \
            `virtualenv_command` when it has no `bin/pip`.",
        )
        .aliases(&["env"]),
        param(
            "virtualenv_command",
            Kind::Str,
            "Command that creates the virtualenv, given the directory as \
            its last argument (for example `python3 -m venv`).",
        )
        .default("virtualenv"),
        param(
            "virtualenv_python",
            Kind::Str,
            "Python interpreter for a new virtualenv (`-p`); not usable \
            when `virtualenv_command` is the venv module or pyvenv.",
        ),
        param(
            "virtualenv_site_packages",
            Kind::Bool,
            "Give a new virtualenv access to the system's site packages \
            (`--system-site-packages`).",
        )
        .default("false"),
    ],
    check: Support::Partial(
        "with pip older than 22.2 (no `--dry-run`), tasks using `latest`, \
        `requirements` or URL names always report a change",
    ),
    diff: Support::None,
    example: "- name: Install a pinned package into a virtualenv
  ansible.builtin.pip:
    name: requests==2.32.3
    virtualenv: /opt/app/venv
    virtualenv_command: python3 -m venv

- name: Install the application's requirements
  ansible.builtin.pip:
    requirements: /opt/app/requirements.txt
    virtualenv: /opt/app/venv
    virtualenv_command: python3 -m venv
",
    open: false,
    fields: params::fields::<Params>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Present,
    Absent,
    Latest,
    ForceReinstall,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Present => "present",
            State::Absent => "absent",
            State::Latest => "latest",
            State::ForceReinstall => "forcereinstall",
        }
    }
}

/// A requirement as written: `six`, `six==1.16.0`, `Foo[bar]>=1,<2`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Req {
    raw: String,
    /// Normalized (PEP 503) name, `None` for URLs and paths.
    name: Option<String>,
    specs: Vec<(String, String)>,
}

/// PEP 503: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

impl Req {
    fn parse(raw: &str) -> Req {
        let raw = raw.trim().to_string();
        let is_url = raw.contains("://")
            || raw.contains('/')
            || raw.starts_with("git+")
            || raw.starts_with('.');
        if is_url {
            return Req {
                raw,
                name: None,
                specs: Vec::new(),
            };
        }
        let body = raw.split(';').next().unwrap_or(&raw).trim();
        let end = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(body.len());
        let name = normalize(&body[..end]);
        let mut rest = body[end..].trim();
        if rest.starts_with('[')
            && let Some(i) = rest.find(']')
        {
            rest = rest[i + 1..].trim();
        }
        let rest = rest.trim_start_matches('(').trim_end_matches(')');
        let mut specs = Vec::new();
        for part in rest.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let op_len = part
                .find(|c: char| !matches!(c, '=' | '<' | '>' | '!' | '~'))
                .unwrap_or(part.len());
            specs.push((
                part[..op_len].to_string(),
                part[op_len..].trim().to_string(),
            ));
        }
        Req {
            raw,
            name: Some(name),
            specs,
        }
    }

    fn satisfied_by(&self, installed: &str) -> bool {
        self.specs.iter().all(|(op, v)| spec_ok(op, v, installed))
    }
}

/// Release numbers, then whether the version is a pre/dev release (sorts
/// before the release) or a post release (after).
fn py_key(v: &str) -> (Vec<u64>, i8, String) {
    let v = v.trim().trim_start_matches(['v', 'V']);
    let v = v.split('+').next().unwrap_or(v);
    let end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let mut rel: Vec<u64> = v[..end]
        .split('.')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(0))
        .collect();
    while rel.last() == Some(&0) {
        rel.pop();
    }
    let suffix = v[end..]
        .trim_start_matches(['.', '-', '_'])
        .to_ascii_lowercase();
    let rank = if suffix.is_empty() {
        0
    } else if suffix.starts_with("post") || suffix.starts_with('r') && !suffix.starts_with("rc") {
        1
    } else {
        -1
    };
    (rel, rank, suffix)
}

/// Compares two Python versions (PEP 440, the common forms).
pub fn compare_py_versions(a: &str, b: &str) -> Ordering {
    let (ra, ka, sa) = py_key(a);
    let (rb, kb, sb) = py_key(b);
    ra.cmp(&rb).then(ka.cmp(&kb)).then_with(|| sa.cmp(&sb))
}

fn spec_ok(op: &str, want: &str, have: &str) -> bool {
    use Ordering::*;
    if let Some(prefix) = want.strip_suffix(".*") {
        let pre = have == prefix || have.starts_with(&format!("{prefix}."));
        return match op {
            "==" => pre,
            "!=" => !pre,
            _ => false,
        };
    }
    let c = compare_py_versions(have, want);
    match op {
        "==" => c == Equal,
        "===" => have == want,
        "!=" => c != Equal,
        ">=" => c != Less,
        "<=" => c != Greater,
        ">" => c == Greater,
        "<" => c == Less,
        "~=" => {
            // ~=1.4.5 means >=1.4.5, ==1.4.*
            let mut parts: Vec<&str> = want.split('.').collect();
            if parts.len() > 1 {
                parts.pop();
            }
            let prefix = parts.join(".");
            c != Less && (have == prefix || have.starts_with(&format!("{prefix}.")))
        }
        _ => false,
    }
}

struct Prep {
    reqs: Vec<Req>,
    version: Option<String>,
    requirements: Option<String>,
    virtualenv: Option<String>,
    venv_cmd: Vec<String>,
    state: State,
    extra_args: Vec<String>,
    editable: bool,
    chdir: Option<String>,
    executable: Option<String>,
    umask: Option<String>,
    break_system_packages: bool,
    /// The pip the last check found, for apply.
    pip: Mutex<Option<String>>,
}

impl Module for Pip {
    fn name(&self) -> &'static str {
        "pip"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let names: Vec<String> = p
            .name
            .unwrap_or_default()
            .into_iter()
            .filter(|n| !n.trim().is_empty())
            .collect();
        let requirements = p.requirements.filter(|r| !r.is_empty());
        if names.is_empty() && requirements.is_none() {
            return Err(ParamError::new(
                "one of the following is required: name, requirements",
            ));
        }
        if !names.is_empty() && requirements.is_some() {
            return Err(ParamError::new(
                "parameters are mutually exclusive: name|requirements",
            ));
        }
        let virtualenv = p.virtualenv.filter(|v| !v.is_empty());
        let executable = p.executable.filter(|v| !v.is_empty());
        if virtualenv.is_some() && executable.is_some() {
            return Err(ParamError::new(
                "parameters are mutually exclusive: executable|virtualenv",
            ));
        }
        let state = match p.state.as_deref().unwrap_or("present") {
            "present" => State::Present,
            "absent" => State::Absent,
            "latest" => State::Latest,
            "forcereinstall" => State::ForceReinstall,
            other => {
                return Err(ParamError::at(
                    "state",
                    format!(
                        "value of state must be one of: absent, forcereinstall, latest, present, got: {other}"
                    ),
                ));
            }
        };
        let version = p.version.filter(|v| !v.is_empty());
        let mut reqs: Vec<Req> = names.iter().map(|n| Req::parse(n)).collect();
        for r in &reqs {
            common::check_name("pip", &r.raw)?;
        }
        if let Some(v) = &version {
            if reqs.len() != 1 {
                return Err(ParamError::at(
                    "version",
                    "'version' argument is ambiguous when installing multiple package distributions. Please specify version restrictions next to each package in 'name' argument.",
                ));
            }
            if !reqs[0].specs.is_empty() {
                return Err(ParamError::at(
                    "version",
                    "The 'version' argument conflicts with any version specifier provided along with a package name. Please keep the version specifier, but remove the 'version' argument.",
                ));
            }
            reqs[0].specs.push(("==".into(), v.clone()));
            reqs[0].raw = format!("{}=={v}", reqs[0].raw);
        }
        let venv_text = p
            .virtualenv_command
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| "virtualenv".into());
        let mut venv_cmd = run::split(&venv_text)
            .map_err(|e| ParamError::at("virtualenv_command", format!("cannot split: {e}")))?;
        let is_venv_module = venv_text.contains("-m venv") || venv_text.contains("pyvenv");
        if let Some(py) = p.virtualenv_python.filter(|s| !s.is_empty()) {
            if is_venv_module {
                return Err(ParamError::at(
                    "virtualenv_python",
                    "virtualenv_python should not be used when using the venv module or pyvenv as virtualenv_command",
                ));
            }
            venv_cmd.push(format!("-p{py}"));
        }
        if p.virtualenv_site_packages.unwrap_or(false) {
            venv_cmd.push("--system-site-packages".into());
        }
        let extra_args = match p.extra_args.filter(|s| !s.trim().is_empty()) {
            Some(s) => run::split(&s)
                .map_err(|e| ParamError::at("extra_args", format!("cannot split: {e}")))?,
            None => Vec::new(),
        };
        let umask = p.umask.filter(|u| !u.is_empty());
        if let Some(u) = &umask
            && !(u.chars().all(|c| ('0'..='7').contains(&c)) && u.len() <= 4)
        {
            return Err(ParamError::at(
                "umask",
                format!("umask must be an octal integer: {u}"),
            ));
        }
        Ok(Box::new(Prep {
            reqs,
            version,
            requirements,
            virtualenv,
            venv_cmd,
            state,
            extra_args,
            editable: p.editable.unwrap_or(false),
            chdir: p.chdir.filter(|c| !c.is_empty()),
            executable,
            umask,
            break_system_packages: p.break_system_packages.unwrap_or(false),
            pip: Mutex::new(None),
        }))
    }
}

/// `$1` chdir, `$2` virtualenv, `$3` executable, `$4` dry-run (1/0), then
/// the `pip install` arguments for the dry run. Prints `@venv missing`
/// (and stops) or `@pip PATH`, `@freeze` + `@rc`, and `@dry` + `@dryrc`.
pub const PROBE_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
chdir=$1 venv=$2 exe=$3 dry=$4; shift 4
if [ -n "$chdir" ]; then cd "$chdir" || exit 2; fi
if [ -n "$venv" ]; then
  if ! [ -x "$venv/bin/pip" ]; then printf '@venv\nmissing\n'; exit 0; fi
  pip=$venv/bin/pip
elif [ -n "$exe" ]; then
  pip=$(command -v "$exe") || { echo "Unable to find pip executable $exe" >&2; exit 3; }
else
  pip=$(command -v pip3 || command -v pip) || { echo "Unable to find any of pip3, pip to use. pip needs to be installed." >&2; exit 3; }
fi
printf '@pip\n%s\n@freeze\n' "$pip"
"$pip" list --format=freeze --disable-pip-version-check 2>/dev/null
printf '\n@rc\n%s\n' "$?"
if [ "$dry" = 1 ]; then
  printf '@dry\n'
  "$pip" install --dry-run --no-cache-dir --disable-pip-version-check "$@" 2>&1
  printf '\n@dryrc\n%s\n' "$?"
fi
exit 0
"#;

#[derive(Debug, Default)]
struct Seen {
    venv_missing: bool,
    pip: String,
    /// Normalized name → version.
    freeze: Vec<(String, String)>,
    dry: Option<(i32, String)>,
}

fn parse(stdout: &str) -> Seen {
    let secs = common::sections(stdout);
    let first = |n: &str| {
        common::section(&secs, n)
            .iter()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_string())
    };
    let mut seen = Seen {
        venv_missing: first("venv").as_deref() == Some("missing"),
        pip: first("pip").unwrap_or_default(),
        ..Seen::default()
    };
    seen.freeze = common::section(&secs, "freeze")
        .iter()
        .filter_map(|l| l.split_once("=="))
        .map(|(n, v)| (normalize(n), v.trim().to_string()))
        .collect();
    if let Some(rc) = first("dryrc").and_then(|s| s.parse().ok()) {
        seen.dry = Some((rc, common::section(&secs, "dry").join("\n")));
    }
    seen
}

/// The `Would install a-1 b-2` list of a dry run.
fn would_install(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("Would install "))
        .flat_map(|l| l.split_whitespace().map(String::from))
        .collect()
}

impl Prep {
    fn needs_dry_run(&self) -> bool {
        self.requirements.is_some()
            || self.state == State::Latest
            || (self.state == State::Present && self.reqs.iter().any(|r| r.name.is_none()))
    }

    fn install_args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        if self.state == State::Latest {
            a.push("-U".into());
        }
        if self.state == State::ForceReinstall {
            a.push("--force-reinstall".into());
        }
        if self.break_system_packages {
            a.push("--break-system-packages".into());
        }
        a.extend(self.extra_args.iter().cloned());
        if let Some(r) = &self.requirements {
            a.push("-r".into());
            a.push(r.clone());
        }
        for r in &self.reqs {
            if self.editable {
                a.push("-e".into());
            }
            a.push(r.raw.clone());
        }
        a
    }

    fn probe(&self) -> Cmd {
        let dry = self.needs_dry_run();
        let mut args = vec![
            self.chdir.clone().unwrap_or_default(),
            self.virtualenv.clone().unwrap_or_default(),
            self.executable.clone().unwrap_or_default(),
            if dry { "1" } else { "0" }.to_string(),
        ];
        if dry {
            args.extend(self.install_args());
        }
        common::script(PROBE_SCRIPT, args)
    }

    /// What would change, one line each; empty when in sync.
    fn decide(&self, seen: &Seen) -> Vec<String> {
        let installed = |n: &str| {
            seen.freeze
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        if seen.venv_missing {
            if self.state == State::Absent {
                return Vec::new();
            }
            let venv = self.virtualenv.clone().unwrap_or_default();
            return vec![
                format!("create the virtualenv {venv}"),
                format!("pip install {}", self.install_args().join(" ")),
            ];
        }
        match self.state {
            State::ForceReinstall => vec![format!("pip install {}", self.install_args().join(" "))],
            State::Absent => {
                let gone: Vec<String> = self
                    .reqs
                    .iter()
                    .filter_map(|r| r.name.as_ref())
                    .filter(|n| installed(n).is_some())
                    .cloned()
                    .collect();
                if gone.is_empty() {
                    Vec::new()
                } else {
                    vec![format!("pip uninstall {}", gone.join(" "))]
                }
            }
            State::Present | State::Latest => {
                if let Some((rc, out)) = &seen.dry {
                    let would = would_install(out);
                    if *rc != 0 {
                        // An old pip without --dry-run, or no index: assume a change.
                        return vec![format!("pip install {}", self.install_args().join(" "))];
                    }
                    return if would.is_empty() {
                        Vec::new()
                    } else {
                        vec![format!("pip install: {}", would.join(" "))]
                    };
                }
                let missing: Vec<&str> = self
                    .reqs
                    .iter()
                    .filter(|r| match &r.name {
                        Some(n) => !installed(n).is_some_and(|v| r.satisfied_by(v)),
                        None => true,
                    })
                    .map(|r| r.raw.as_str())
                    .collect();
                if missing.is_empty() {
                    Vec::new()
                } else {
                    vec![format!("pip install {}", missing.join(" "))]
                }
            }
        }
    }

    fn result(&self, cmd: Option<String>) -> Facts {
        let mut r = Facts::new();
        let names: Vec<&str> = self.reqs.iter().map(|r| r.raw.as_str()).collect();
        r.insert("name".into(), json!(names));
        r.insert("requirements".into(), json!(self.requirements));
        r.insert("version".into(), json!(self.version));
        r.insert("virtualenv".into(), json!(self.virtualenv));
        r.insert("state".into(), json!(self.state.name()));
        if let Some(c) = cmd {
            r.insert("cmd".into(), json!(c));
        }
        r
    }

    fn with_umask(&self, cmd: Cmd) -> Cmd {
        let cmd = match &self.chdir {
            Some(d) => cmd.chdir(d.clone()),
            None => cmd,
        };
        match &self.umask {
            // `umask` must be set in the same shell: a constant wrapper.
            Some(u) => {
                let mut argv = vec![
                    "sh".to_string(),
                    "-c".into(),
                    "umask \"$1\"; shift; exec \"$@\"".into(),
                    "sh".into(),
                    u.clone(),
                ];
                argv.extend(cmd.argv_parts().map(<[String]>::to_vec).unwrap_or_default());
                let wrapped = Cmd::argv(argv);
                match &self.chdir {
                    Some(d) => wrapped.chdir(d.clone()),
                    None => wrapped,
                }
            }
            None => cmd,
        }
    }
}

#[async_trait]
impl Prepared for Prep {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let out = host.probe(&self.probe()).await?;
        if !out.success() {
            let msg = match out.rc {
                2 => format!(
                    "Unable to change directory to {}",
                    self.chdir.clone().unwrap_or_default()
                ),
                _ => common::error_text(&out),
            };
            return Err(common::failed_with(msg, &out, self.result(None)));
        }
        let seen = parse(&text::decode(&out.stdout));
        *self.pip.lock().unwrap_or_else(|e| e.into_inner()) =
            (!seen.pip.is_empty()).then(|| seen.pip.clone());
        let changes = self.decide(&seen);
        let result = self.result(None);
        if changes.is_empty() {
            return Ok(Plan::InSync { result });
        }
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
        let mut stdout = String::new();
        let mut stderr = String::new();
        let found = self.pip.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let pip = match (&self.virtualenv, &found) {
            (Some(v), _) => format!("{}/bin/pip", v.trim_end_matches('/')),
            (None, Some(p)) => p.clone(),
            (None, None) => self.executable.clone().unwrap_or_else(|| "pip3".into()),
        };
        if let Some(venv) = &self.virtualenv
            && found.is_none()
        {
            let mut argv = self.venv_cmd.clone();
            argv.push(venv.clone());
            let cmd = self.with_umask(Cmd::argv(argv));
            let out = host.run(&cmd).await?;
            stdout.push_str(&text::decode(&out.stdout));
            stderr.push_str(&text::decode(&out.stderr));
            if !out.success() {
                return Err(common::failed_with(
                    format!(
                        "Failed to create the virtualenv: {}",
                        common::error_text(&out)
                    ),
                    &out,
                    self.result(Some(cmd.render())),
                ));
            }
        }
        let mut argv = vec![pip.clone()];
        let names: Vec<String> = self
            .reqs
            .iter()
            .map(|r| r.name.clone().unwrap_or_else(|| r.raw.clone()))
            .collect();
        if self.state == State::Absent {
            argv.extend(["uninstall".to_string(), "-y".into()]);
            argv.extend(self.extra_args.iter().cloned());
            if let Some(r) = &self.requirements {
                argv.push("-r".into());
                argv.push(r.clone());
            }
            argv.extend(names);
        } else {
            argv.push("install".into());
            argv.push("--disable-pip-version-check".into());
            argv.extend(self.install_args());
        }
        let cmd = self.with_umask(Cmd::argv(argv).env("LC_ALL", "C"));
        let out = host.run(&cmd).await?;
        stdout.push_str(&text::decode(&out.stdout));
        stderr.push_str(&text::decode(&out.stderr));
        let shown = format!(
            "{pip} {}",
            cmd.argv_parts()
                .map(|a| a[1..].join(" "))
                .unwrap_or_default()
        );
        let mut r = self.result(Some(shown.clone()));
        if !out.success() {
            r.insert("stdout".into(), json!(stdout));
            r.insert("stderr".into(), json!(stderr));
            r.insert("rc".into(), json!(out.rc));
            return Err(ModuleError::Failed {
                msg: format!("stdout: {stdout}\n:stderr: {stderr}"),
                result: r,
            });
        }
        // pip says so when nothing was to do.
        let changed = !(self.state != State::ForceReinstall
            && stdout.lines().all(|l| {
                l.trim().is_empty()
                    || l.starts_with("Requirement already satisfied")
                    || l.starts_with("Looking in")
                    || l.starts_with("WARNING: Skipping")
            }));
        r.insert("stdout".into(), Value::String(stdout));
        r.insert("stderr".into(), Value::String(stderr));
        Ok(Applied {
            changed: changed || self.state == State::ForceReinstall || found.is_none(),
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
    fn requirements_and_versions() {
        let r = Req::parse("Six>=1.10,<2");
        assert_eq!(r.name.as_deref(), Some("six"));
        assert!(r.satisfied_by("1.16.0"));
        assert!(!r.satisfied_by("2.0"));
        assert!(Req::parse("six==1.16.*").satisfied_by("1.16.0"));
        assert!(Req::parse("six~=1.15").satisfied_by("1.16.0"));
        assert!(!Req::parse("six==1.17.0").satisfied_by("1.16.0"));
        assert_eq!(normalize("Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(compare_py_versions("1.0rc1", "1.0"), Ordering::Less);
        assert_eq!(compare_py_versions("1.0.post1", "1.0"), Ordering::Greater);
        assert_eq!(compare_py_versions("1.10", "1.9"), Ordering::Greater);
        assert!(Req::parse("git+https://x/y.git").name.is_none());
    }
}
