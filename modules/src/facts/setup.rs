//! The `setup` module (Ansible's `setup`, behind `gather_facts`): one
//! read-only probe script gathers the host's facts in a single round trip,
//! and check returns them as `ansible_facts`. It never changes anything,
//! so `check` is always [`Plan::InSync`] and `apply` is never needed.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::PROBE;
use super::parse::{self, Subsets};
use crate::cmd::Cmd;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `setup` module.
pub struct Setup;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_list")]
    gather_subset: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    gather_timeout: Option<String>,
    #[serde(default, deserialize_with = "params::opt_list")]
    filter: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    fact_path: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "setup",
    short: "Gather facts about the target",
    description: "Collects facts about the host (distribution, kernel, users, \
        network interfaces and addresses, hardware, virtualization, local facts \
        from `fact_path`, ...) with one read-only script run in a single round \
        trip, and returns them as `ansible_facts`, named as Ansible names them. \
        This is what `gather_facts` runs. It never changes the host, so check \
        mode gathers the same facts.",
    params: &[
        param(
            "gather_subset",
            Kind::List,
            "Which groups of facts to collect: `all`, `min`, `hardware`, \
            `network` or `virtual`; `!name` leaves a group out. The minimal \
            facts are gathered unless `!min` is given. Ansible's finer names \
            are accepted too (`devices` and `dmi` mean `hardware`, \
            `interfaces` means `network`, the minimal ones add nothing).",
        )
        .default("all"),
        param(
            "gather_timeout",
            Kind::Int,
            "Seconds a command that may hang (a mount's `stat`, an executable \
            local fact, the host name lookup) may take before it is given up.",
        )
        .default("10"),
        param(
            "filter",
            Kind::List,
            "Shell-style patterns; only facts whose name (with or without the \
            `ansible_` prefix) matches one are returned. Without it, every \
            gathered fact is returned.",
        ),
        param(
            "fact_path",
            Kind::Path,
            "Directory on the target holding local facts (`*.fact` files, JSON \
            or INI, or executables printing JSON), returned under \
            `ansible_local`.",
        )
        .default("/etc/ansible/facts.d"),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Gather only network facts
  ansible.builtin.setup:
    gather_subset:
      - '!all'
      - network

- name: Read the distribution facts
  ansible.builtin.setup:
    filter:
      - ansible_distribution*
",
    open: false,
    fields: params::fields::<Params>,
};

/// Subset names accepted besides `all`, `min`, `hardware`, `network`,
/// `virtual`: Ansible's minimal collectors (always gathered with `min`),
/// the `all`-only extras, and the external fact sources tutti ignores.
const MIN_NAMES: &[&str] = &[
    "apparmor",
    "caps",
    "cmdline",
    "date_time",
    "distribution",
    "dns",
    "env",
    "fips",
    "local",
    "lsb",
    "pkg_mgr",
    "platform",
    "python",
    "selinux",
    "service_mgr",
    "ssh_pub_keys",
    "user",
];
const EXTRA_NAMES: &[&str] = &["loadavg", "chroot"];
const IGNORED_NAMES: &[&str] = &["facter", "ohai", "fibre_channel_wwn", "iscsi", "nvme"];

/// Resolves `gather_subset` the way Ansible does: `min` is gathered unless
/// `!min`; `all` adds every subset; `!all` drops what `all` would add but
/// keeps subsets named explicitly; `!name` drops one subset.
pub fn resolve_subsets(items: &[String]) -> Result<Subsets, ParamError> {
    let mut all = false;
    let mut no_all = false;
    let mut min = true;
    let mut inc = Subsets {
        min: false,
        hardware: false,
        network: false,
        virtual_: false,
        extra: false,
    };
    let mut exc = inc;
    for raw in items {
        let item = raw.trim();
        if item.is_empty() {
            continue;
        }
        let (neg, name) = match item.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, item),
        };
        let target = if neg { &mut exc } else { &mut inc };
        match name {
            "all" if neg => no_all = true,
            "all" => all = true,
            "min" if neg => min = false,
            "min" => {}
            "hardware" | "devices" | "dmi" => target.hardware = true,
            "network" | "interfaces" => target.network = true,
            "virtual" => target.virtual_ = true,
            n if EXTRA_NAMES.contains(&n) => target.extra = true,
            n if MIN_NAMES.contains(&n) || IGNORED_NAMES.contains(&n) => {}
            other => {
                return Err(ParamError::at(
                    "gather_subset",
                    format!(
                        "Bad subset '{other}' given to Ansible. gather_subset options allowed: \
                         all, min, hardware, network, virtual, {}, {}, {}",
                        MIN_NAMES.join(", "),
                        EXTRA_NAMES.join(", "),
                        IGNORED_NAMES.join(", ")
                    ),
                ));
            }
        }
    }
    let everything = all && !no_all;
    Ok(Subsets {
        min: min || everything,
        hardware: (everything || inc.hardware) && !exc.hardware,
        network: (everything || inc.network) && !exc.network,
        virtual_: (everything || inc.virtual_) && !exc.virtual_,
        extra: (everything || inc.extra) && !exc.extra,
    })
}

/// Whether `name` matches the shell-style `pattern` (`*`, `?`, `[...]`).
fn fnmatch(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| fnmatch(rest, &name[i..])),
        Some(('?', rest)) => !name.is_empty() && fnmatch(rest, &name[1..]),
        Some(('[', rest)) => {
            let Some(close) = rest.iter().skip(1).position(|c| *c == ']').map(|i| i + 1) else {
                return name.first() == Some(&'[') && fnmatch(rest, &name[1..]);
            };
            let Some((c, tail)) = name.split_first() else {
                return false;
            };
            let class = &rest[..close];
            let (negate, class) = match class.split_first() {
                Some(('!', r)) => (true, r),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= *c && *c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == *c;
                    i += 1;
                }
            }
            hit != negate && fnmatch(&rest[close + 1..], tail)
        }
        Some((p, rest)) => name.first() == Some(p) && fnmatch(rest, &name[1..]),
    }
}

/// Whether the fact `key` (stored without `ansible_`) passes `filter`;
/// patterns match the bare or the `ansible_`-prefixed name.
pub fn filter_matches(patterns: &[String], key: &str) -> bool {
    let bare: Vec<char> = key.chars().collect();
    let prefixed: Vec<char> = format!("ansible_{key}").chars().collect();
    patterns.iter().any(|p| {
        let p: Vec<char> = p.chars().collect();
        fnmatch(&p, &bare) || fnmatch(&p, &prefixed)
    })
}

impl Module for Setup {
    fn name(&self) -> &'static str {
        "setup"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let gather_subset = p.gather_subset.unwrap_or_else(|| vec!["all".into()]);
        let subsets = resolve_subsets(&gather_subset)?;
        let timeout = match p.gather_timeout.as_deref().map(str::trim) {
            None | Some("") => 10,
            Some(t) => t.parse::<u32>().map_err(|_| {
                ParamError::at(
                    "gather_timeout",
                    format!("argument 'gather_timeout' is of type str and we were unable to convert to int: '{t}'"),
                )
            })?,
        };
        let filter: Vec<String> = p
            .filter
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty() && f != "*")
            .collect();
        Ok(Box::new(SetupHost {
            gather_subset,
            subsets,
            timeout,
            filter,
            fact_path: p.fact_path.unwrap_or_else(|| "/etc/ansible/facts.d".into()),
        }))
    }
}

/// `setup` with validated parameters.
struct SetupHost {
    gather_subset: Vec<String>,
    subsets: Subsets,
    timeout: u32,
    filter: Vec<String>,
    fact_path: String,
}

/// The probe command for these subsets: the constant script, with its
/// flags passed as (quoted) environment variables.
pub fn setup_probe(subsets: Subsets, timeout: u32, fact_path: &str) -> Cmd {
    let flag = |b: bool| if b { "1" } else { "0" };
    Cmd::script(PROBE)
        .env("TUTTI_SETUP_MIN", flag(subsets.min))
        .env("TUTTI_SETUP_HW", flag(subsets.hardware))
        .env("TUTTI_SETUP_NET", flag(subsets.network))
        .env("TUTTI_SETUP_VIRT", flag(subsets.virtual_))
        .env("TUTTI_SETUP_TIMEOUT", timeout.max(1).to_string())
        .env("TUTTI_SETUP_FACT_PATH", fact_path)
}

/// Facts from the probe's output, with `gather_subset`/`module_setup`
/// unless a filter is given (as Ansible does).
pub fn facts_from_output(
    out: &str,
    subsets: Subsets,
    gather_subset: &[String],
    filter: &[String],
) -> Facts {
    let mut facts = if subsets == Subsets::none() {
        Facts::new()
    } else {
        parse::facts(out, subsets)
    };
    if filter.is_empty() {
        facts.insert("gather_subset".into(), json!(gather_subset));
        facts.insert("module_setup".into(), json!(true));
    } else {
        facts.retain(|k, _| filter_matches(filter, k));
    }
    facts
}

#[async_trait]
impl Prepared for SetupHost {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let mut out = String::new();
        if self.subsets != Subsets::none() {
            let cmd = setup_probe(self.subsets, self.timeout, &self.fact_path);
            let o = host.probe(&cmd).await?;
            if !o.success() && o.stdout.is_empty() {
                return Err(ModuleError::failed(format!(
                    "the fact-gathering probe failed (rc {}): {}",
                    o.rc,
                    crate::text::decode(&o.stderr).trim_end()
                )));
            }
            out = crate::text::decode(&o.stdout);
        }
        let facts = facts_from_output(&out, self.subsets, &self.gather_subset, &self.filter);
        let mut result = Facts::new();
        result.insert("ansible_facts".into(), Value::Object(facts));
        Ok(Plan::InSync { result })
    }

    async fn apply(&self, plan: Plan, _host: &dyn Host) -> Result<Applied, ModuleError> {
        // Never reached through the engine (check is always InSync).
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn subsets(items: &[&str]) -> Subsets {
        resolve_subsets(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn subsets_follow_ansible() {
        assert_eq!(subsets(&["all"]), Subsets::default());
        let min = subsets(&["min"]);
        assert!(min.min && !min.hardware && !min.network && !min.virtual_ && !min.extra);
        assert_eq!(subsets(&["!hardware"]), min);
        assert_eq!(subsets(&["!all"]), min);
        assert_eq!(subsets(&["!all", "!min"]), Subsets::none());
        assert_eq!(subsets(&["!min"]), Subsets::none());
        assert_eq!(subsets(&["all", "!min"]), Subsets::default());
        let net = subsets(&["network", "!all"]);
        assert!(net.min && net.network && !net.hardware);
        let no_hw = subsets(&["all", "!hardware"]);
        assert!(no_hw.network && !no_hw.hardware);
        assert!(resolve_subsets(&["bogus".into()]).is_err());
    }

    #[test]
    fn filters_match_both_names() {
        let f = vec!["ansible_distribution*".to_string(), "kernel".to_string()];
        assert!(filter_matches(&f, "distribution"));
        assert!(filter_matches(&f, "distribution_version"));
        assert!(filter_matches(&f, "kernel"));
        assert!(!filter_matches(&f, "kernel_version"));
        assert!(filter_matches(&["*_mb".into()], "memtotal_mb"));
        assert!(filter_matches(&["eth[0-9]".into()], "eth0"));
        assert!(!filter_matches(&["eth[!0-9]".into()], "eth0"));
    }
}
