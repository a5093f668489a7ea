//! The `package_facts` module: the installed packages as
//! `ansible_facts.packages` (`{name: [{name, version, arch, source, ...}]}`),
//! read in one probe from `dpkg-query -W` (apt) or `rpm -qa` (rpm). It
//! never changes anything, so check is always in sync.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `package_facts` module.
pub struct PackageFacts;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_list")]
    manager: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    strategy: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "package_facts",
    short: "Gather the installed packages as facts",
    description: "Reads the installed packages in one probe, from `dpkg-query` (apt) \
        and/or `rpm -qa` (rpm), and returns them as `ansible_facts.packages`: a \
        mapping from each package name to a list of entries with `name`, \
        `version`, `arch`, `source` and the manager's extra fields. It never \
        changes the host, so it runs the same in check mode.",
    params: &[
        param(
            "manager",
            Kind::List,
            "Package managers to read: `apt`, `rpm` (`dnf` and `yum` mean \
            rpm), or `auto` for both.",
        )
        .default("auto")
        .choices(&["auto", "apt", "rpm", "dnf", "yum"]),
        param(
            "strategy",
            Kind::Str,
            "`first` stops at the first manager found on the host, `all` \
            reads every one that is there.",
        )
        .default("first")
        .choices(&["first", "all"]),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Gather the package list
  ansible.builtin.package_facts:
    manager: auto

- name: Show the installed nginx version
  ansible.builtin.debug:
    msg: \"{{ ansible_facts.packages['nginx'][0].version }}\"
  when: \"'nginx' in ansible_facts.packages\"
",
    open: false,
    fields: params::fields::<Params>,
};

/// `$1` strategy (`first`/`all`), then managers (`apt`, `rpm`). Prints an
/// `@manager` section per manager found.
pub const PROBE_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
strategy=$1; shift
for m in "$@"; do
  case $m in
  apt) command -v dpkg-query >/dev/null 2>&1 || continue
    printf '@apt\n'
    dpkg-query -W -f='${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\t${Section}\t${Origin}\n' 2>/dev/null;;
  rpm) command -v rpm >/dev/null 2>&1 || continue
    printf '@rpm\n'
    rpm -qa --qf '%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n' 2>/dev/null;;
  *) continue;;
  esac
  [ "$strategy" = first ] && exit 0
done
exit 0
"#;

struct Prep {
    managers: Vec<String>,
    strategy: String,
    explicit: bool,
}

impl Module for PackageFacts {
    fn name(&self) -> &'static str {
        "package_facts"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let asked = p.manager.unwrap_or_else(|| vec!["auto".into()]);
        let mut managers = Vec::new();
        let mut explicit = true;
        for m in &asked {
            match m.as_str() {
                "auto" => {
                    explicit = false;
                    managers.extend(["apt".to_string(), "rpm".to_string()]);
                }
                "apt" => managers.push("apt".into()),
                "rpm" | "dnf" | "yum" => managers.push("rpm".into()),
                other => {
                    return Err(ParamError::at(
                        "manager",
                        format!(
                            "Unsupported package manager '{other}': tutti reads apt and rpm (auto, apt, rpm, dnf, yum)"
                        ),
                    ));
                }
            }
        }
        managers.dedup();
        let strategy = p.strategy.unwrap_or_else(|| "first".into());
        if strategy != "first" && strategy != "all" {
            return Err(ParamError::at(
                "strategy",
                format!("value of strategy must be one of: first, all, got: {strategy}"),
            ));
        }
        Ok(Box::new(Prep {
            managers,
            strategy,
            explicit,
        }))
    }
}

/// `ansible_facts.packages` from the probe's output.
pub fn parse_packages(stdout: &str) -> (Map<String, Value>, Vec<String>) {
    let mut packages: Map<String, Value> = Map::new();
    let mut found = Vec::new();
    for (name, lines) in common::sections(stdout) {
        if name.is_empty() {
            continue;
        }
        found.push(name.to_string());
        for line in lines {
            let f: Vec<&str> = line.split('\t').collect();
            let entry = match (name, f.as_slice()) {
                ("apt", [status, pkg, version, arch, section, origin]) => {
                    if *status != "installed" {
                        continue;
                    }
                    let mut e = Map::new();
                    e.insert("name".into(), json!(pkg));
                    e.insert("version".into(), json!(version));
                    e.insert("arch".into(), json!(arch));
                    e.insert("category".into(), json!(section));
                    e.insert("origin".into(), json!(origin));
                    e.insert("source".into(), json!("apt"));
                    e
                }
                ("rpm", [pkg, epoch, version, release, arch]) => {
                    let epoch = epoch.parse::<i64>().ok();
                    let mut e = Map::new();
                    e.insert("name".into(), json!(pkg));
                    e.insert("version".into(), json!(version));
                    e.insert("release".into(), json!(release));
                    e.insert("epoch".into(), json!(epoch));
                    e.insert("arch".into(), json!(arch));
                    e.insert("source".into(), json!("rpm"));
                    e
                }
                _ => continue,
            };
            let key = entry["name"].as_str().unwrap_or_default().to_string();
            if let Value::Array(list) = packages
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                list.push(Value::Object(entry));
            }
        }
    }
    (packages, found)
}

#[async_trait]
impl Prepared for Prep {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let mut args = vec![self.strategy.clone()];
        args.extend(self.managers.iter().cloned());
        let out = host.probe(&common::script(PROBE_SCRIPT, args)).await?;
        let (packages, found) = parse_packages(&text::decode(&out.stdout));
        if found.is_empty() {
            let msg = if self.explicit {
                format!(
                    "Could not detect a supported package manager from the following list: {:?}, or the required Python library is not installed. Check warnings for details.",
                    self.managers
                )
            } else {
                "Could not detect a supported package manager from the following list: ['apt', 'rpm'], or the required Python library is not installed. Check warnings for details.".to_string()
            };
            return Err(ModuleError::failed(msg));
        }
        let mut result = Facts::new();
        result.insert("ansible_facts".into(), json!({ "packages": packages }));
        Ok(Plan::InSync { result })
    }

    async fn apply(&self, plan: Plan, _host: &dyn Host) -> Result<Applied, ModuleError> {
        let result = match plan {
            Plan::InSync { result } | Plan::Change { result, .. } => result,
            Plan::Unpredictable { .. } => Facts::new(),
        };
        Ok(Applied {
            result,
            ..Applied::default()
        })
    }
}
