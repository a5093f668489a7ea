//! The `hostname` module: set the running and the permanent host name,
//! with `hostnamectl` when systemd runs (`use: systemd`), else by writing
//! `/etc/hostname` and running `hostname NAME` (`debian`, `generic`,
//! `alpine`, ...). One probe; one run (or one write and one run).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{SECTION_PRELUDE, probe_sections, run_checked, sh};
use crate::cmd::Cmd;
use crate::files::common::Stash;
use crate::fs::{Content, WriteOpts};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Diff, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `hostname` module.
pub struct Hostname;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    name: String,
    #[serde(default, rename = "use", deserialize_with = "params::opt_string")]
    strategy: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "hostname",
    short: "Set the system's host name",
    description: "Sets both the running and the permanent host name. When \
        systemd runs (or with `use: systemd`) the names are read and set with \
        `hostnamectl`; otherwise the permanent name is `/etc/hostname`, \
        written atomically, and the running one is set with `hostname`. \
        Nothing runs when both already match. The new name's \
        `ansible_hostname`, `ansible_nodename`, `ansible_fqdn` and \
        `ansible_domain` facts are returned.",
    params: &[
        param(
            "name",
            Kind::Str,
            "The host name to set (surrounding blanks are trimmed; blanks \
            inside are refused).",
        )
        .required(),
        param(
            "use",
            Kind::Str,
            "How to set the name; without it, `systemd` when systemd runs and \
            the `/etc/hostname` method otherwise. `systemd`, `alpine`, \
            `debian`, `generic`, `openrc` and `sles` work (all but `systemd` \
            mean `/etc/hostname`); the other choices are refused.",
        )
        .choices(ALL),
    ],
    check: Support::Full,
    diff: Support::Full,
    example: "- name: Name the host after its inventory name
  ansible.builtin.hostname:
    name: \"{{ inventory_hostname }}\"

- name: Set the name through /etc/hostname
  ansible.builtin.hostname:
    name: web01.example.com
    use: debian
",
    open: false,
    fields: params::fields::<Params>,
};

/// The strategies with `/etc/hostname` as the permanent name.
const FILE_STRATEGIES: &[&str] = &["alpine", "debian", "generic", "openrc", "sles"];
const ALL: &[&str] = &[
    "alpine", "debian", "freebsd", "generic", "macos", "macosx", "darwin", "openbsd", "openrc",
    "redhat", "sles", "solaris", "systemd",
];

struct Task {
    name: String,
    strategy: Option<String>,
    stash: Stash<(bool, bool, bool)>,
}

/// The probe: running name, `/etc/hostname`, whether systemd runs, and
/// hostnamectl's static and transient names.
pub const PROBE: &str = r#"s current hostname
[ -f /etc/hostname ] && s etc cat /etc/hostname
if [ -d /run/systemd/system ] && command -v hostnamectl >/dev/null 2>&1; then
  s systemd true
  s static hostnamectl --static
  s transient hostnamectl --transient
fi
"#;

impl Module for Hostname {
    fn name(&self) -> &'static str {
        "hostname"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let name = p.name.trim().to_string();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ParamError::at(
                "name",
                format!("invalid host name {:?}", p.name),
            ));
        }
        if let Some(u) = &p.strategy {
            if !ALL.contains(&u.as_str()) {
                return Err(ParamError::at(
                    "use",
                    format!("value of use must be one of: {}, got: {u}", ALL.join(", ")),
                ));
            }
            if u != "systemd" && !FILE_STRATEGIES.contains(&u.as_str()) {
                return Err(ParamError::at(
                    "use",
                    format!(
                        "hostname: use={u} is not supported by tutti (systemd, {})",
                        FILE_STRATEGIES.join(", ")
                    ),
                ));
            }
        }
        Ok(Box::new(Task {
            name,
            strategy: p.strategy,
            stash: Stash::default(),
        }))
    }
}

fn facts(name: &str) -> Value {
    let mut f = Map::new();
    let short = name.split('.').next().unwrap_or(name);
    let domain = name.split_once('.').map(|(_, d)| d).unwrap_or("");
    f.insert("ansible_hostname".into(), json!(short));
    f.insert("ansible_nodename".into(), json!(name));
    f.insert("ansible_fqdn".into(), json!(name));
    f.insert("ansible_domain".into(), json!(domain));
    Value::Object(f)
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let s = probe_sections(
            host,
            &sh(&format!("{SECTION_PRELUDE}{PROBE}"), Vec::<String>::new()),
        )
        .await?;
        let systemd = match self.strategy.as_deref() {
            Some(u) => u == "systemd",
            None => s.success("systemd"),
        };
        let (current, permanent) = if systemd {
            (
                s.ok("transient")
                    .or_else(|| s.ok("current"))
                    .unwrap_or_default(),
                s.ok("static").unwrap_or_default(),
            )
        } else {
            (
                s.ok("current").unwrap_or_default(),
                s.ok("etc").unwrap_or_default(),
            )
        };
        let (current, permanent) = (current.trim().to_string(), permanent.trim().to_string());
        let mut r = Facts::new();
        r.insert("name".into(), json!(self.name));
        r.insert("ansible_facts".into(), facts(&self.name));
        let set_current = current != self.name;
        let set_permanent = permanent != self.name;
        if !set_current && !set_permanent {
            return Ok(Plan::InSync { result: r });
        }
        self.stash.put((systemd, set_current, set_permanent));
        let mut changes = Vec::new();
        if set_current {
            changes.push(format!("hostname: {current} -> {}", self.name));
        }
        if set_permanent {
            changes.push(format!("permanent hostname: {permanent} -> {}", self.name));
        }
        Ok(Plan::Change {
            changes,
            diff: vec![Diff {
                data: None,
                before_header: None,
                after_header: None,
                before: format!("hostname = {current}\n"),
                after: format!("hostname = {}\n", self.name),
            }],
            result: r,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change { result, diff, .. } = plan else {
            return Ok(Applied::default());
        };
        let Some((systemd, cur, perm)) = self.stash.get() else {
            return Err(ModuleError::failed("hostname: apply without a check"));
        };
        if systemd {
            let script = r#"n=$1
if [ "$2" = 1 ]; then hostnamectl --transient set-hostname "$n" || exit 1; fi
if [ "$3" = 1 ]; then hostnamectl --static set-hostname "$n" || exit 1; fi
"#;
            let b = |x: bool| if x { "1" } else { "0" }.to_string();
            run_checked(
                host,
                &sh(script, [self.name.clone(), b(cur), b(perm)]),
                "Command failed",
            )
            .await?;
        } else {
            if perm {
                host.write_atomic(
                    "/etc/hostname",
                    Content::Bytes(format!("{}\n", self.name).into_bytes()),
                    &WriteOpts::default(),
                )
                .await?;
            }
            if cur {
                run_checked(
                    host,
                    &Cmd::new("hostname").arg(&self.name),
                    "Command failed",
                )
                .await?;
            }
        }
        Ok(Applied {
            changed: true,
            failed: false,
            msg: None,
            result,
            diff,
        })
    }
}
