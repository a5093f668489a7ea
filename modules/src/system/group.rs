//! The `group` module: ensure a group exists with a gid, or does not.
//! One probe (`getent group NAME`, or `/etc/group` itself with `local`);
//! one run (`groupadd`, `groupmod` or `groupdel`).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::passwd::{self, GroupEntry};
use super::{SECTION_PRELUDE, choice, command_failed, probe_sections, run_then_ent, sh};
use crate::cmd::Cmd;
use crate::files::common::Stash;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `group` module.
pub struct Group;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_bool")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    gid: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    gid_max: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    gid_min: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    local: Option<bool>,
    name: String,
    #[serde(default, deserialize_with = "params::opt_bool")]
    non_unique: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    system: Option<bool>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "group",
    short: "Add, change or remove groups",
    description: "Makes sure a group exists with the given gid, or does not \
        exist. The group is looked up with `getent group` (or in `/etc/group` \
        with `local`), and `groupadd`, `groupmod` or `groupdel` runs only when \
        the group is missing, has another gid, or should go.",
    params: &[
        param(
            "force",
            Kind::Bool,
            "With `state: absent`, remove the group even when it is a user's \
            primary group (`groupdel -f`).",
        )
        .default("false"),
        param(
            "gid",
            Kind::Int,
            "The group id to set; without it a new group gets the next free \
            id and an existing group keeps its own.",
        ),
        param(
            "gid_max",
            Kind::Int,
            "Highest id `groupadd` may pick for a new group (`GID_MAX`).",
        ),
        param(
            "gid_min",
            Kind::Int,
            "Lowest id `groupadd` may pick for a new group (`GID_MIN`).",
        ),
        param(
            "local",
            Kind::Bool,
            "Look the group up in `/etc/group` instead of through the name \
            service, for hosts with central directories.",
        )
        .default("false"),
        param("name", Kind::Str, "The group's name.").required(),
        param(
            "non_unique",
            Kind::Bool,
            "Allow a gid that another group already has (`-o`); needs `gid`.",
        )
        .default("false"),
        param("state", Kind::Str, "Whether the group should exist.")
            .default("present")
            .choices(&["absent", "present"]),
        param(
            "system",
            Kind::Bool,
            "Create the group as a system group (`groupadd -r`); has no effect \
            on a group that exists.",
        )
        .default("false"),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Create the application group
  ansible.builtin.group:
    name: app
    gid: 2001

- name: Create a system group
  ansible.builtin.group:
    name: backup-agents
    system: true

- name: Remove an old group
  ansible.builtin.group:
    name: legacy
    state: absent
",
    open: false,
    fields: params::fields::<Params>,
};

struct Task {
    name: String,
    present: bool,
    gid: Option<u32>,
    gid_min: Option<u32>,
    gid_max: Option<u32>,
    system: bool,
    non_unique: bool,
    local: bool,
    force: bool,
    stash: Stash<Vec<String>>,
}

/// `$1` name, `$2` local (1/0): the group's entry.
pub const PROBE: &str = r#"name=$1 local=$2
ent() {
  if [ "$local" = 1 ]; then awk -F: -v k="$2" '$1==k{print;f=1} END{exit f?0:2}' "/etc/$1"
  else getent "$@"; fi
}
s group ent group "$name"
"#;

/// The probe command for `name`.
pub fn probe_cmd(name: &str, local: bool) -> crate::cmd::Cmd {
    sh(
        &format!("{SECTION_PRELUDE}{PROBE}"),
        [name, if local { "1" } else { "0" }],
    )
}

fn num(param: &str, v: Option<String>) -> Result<Option<u32>, ParamError> {
    v.map(|s| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| ParamError::at(param, format!("{param}: {s} is not a valid integer")))
    })
    .transpose()
}

impl Module for Group {
    fn name(&self) -> &'static str {
        "group"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let state = choice(
            "state",
            p.state.as_deref(),
            "present",
            &["absent", "present"],
        )?;
        let gid = num("gid", p.gid)?;
        let non_unique = p.non_unique.unwrap_or(false);
        if non_unique && gid.is_none() {
            return Err(ParamError::at(
                "non_unique",
                "missing parameter(s) required by 'non_unique': gid",
            ));
        }
        Ok(Box::new(Task {
            name: p.name,
            present: state == "present",
            gid,
            gid_min: num("gid_min", p.gid_min)?,
            gid_max: num("gid_max", p.gid_max)?,
            system: p.system.unwrap_or(false),
            non_unique,
            local: p.local.unwrap_or(false),
            force: p.force.unwrap_or(false),
            stash: Stash::default(),
        }))
    }
}

impl Task {
    fn result(&self, entry: Option<&GroupEntry>) -> Facts {
        let mut r = Facts::new();
        r.insert("name".into(), json!(self.name));
        r.insert(
            "state".into(),
            json!(if self.present { "present" } else { "absent" }),
        );
        if self.present {
            r.insert("system".into(), json!(self.system));
            if let Some(g) = entry.map(|e| e.gid).or(self.gid) {
                r.insert("gid".into(), json!(g));
            }
        }
        r
    }

    fn command(&self, current: Option<&GroupEntry>) -> Option<(Cmd, String)> {
        match (self.present, current) {
            (false, None) => None,
            (false, Some(_)) => {
                let mut c = Cmd::new("groupdel");
                if self.force {
                    c = c.arg("-f");
                }
                Some((c.arg(&self.name), format!("remove group {}", self.name)))
            }
            (true, None) => {
                let mut c = Cmd::new("groupadd");
                if let Some(g) = self.gid {
                    c = c.arg("-g").arg(g.to_string());
                    if self.non_unique {
                        c = c.arg("-o");
                    }
                }
                if self.system {
                    c = c.arg("-r");
                }
                if let Some(m) = self.gid_min {
                    c = c.arg("-K").arg(format!("GID_MIN={m}"));
                }
                if let Some(m) = self.gid_max {
                    c = c.arg("-K").arg(format!("GID_MAX={m}"));
                }
                Some((c.arg(&self.name), format!("create group {}", self.name)))
            }
            (true, Some(cur)) => {
                let g = self.gid.filter(|g| *g != cur.gid)?;
                let mut c = Cmd::new("groupmod").arg("-g").arg(g.to_string());
                if self.non_unique {
                    c = c.arg("-o");
                }
                Some((
                    c.arg(&self.name),
                    format!("gid of group {}: {} -> {g}", self.name, cur.gid),
                ))
            }
        }
    }
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let s = probe_sections(host, &probe_cmd(&self.name, self.local)).await?;
        let current = s
            .ok("group")
            .and_then(|t| passwd::parse_groups(&t).into_iter().next());
        let result = self.result(current.as_ref());
        match self.command(current.as_ref()) {
            None => Ok(Plan::InSync { result }),
            Some((cmd, change)) => {
                self.stash
                    .put(cmd.argv_parts().map(<[String]>::to_vec).unwrap_or_default());
                Ok(Plan::Change {
                    changes: vec![change],
                    diff: Vec::new(),
                    result,
                })
            }
        }
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change { mut result, .. } = plan else {
            return Ok(Applied::default());
        };
        let Some(argv) = self.stash.get() else {
            return Err(ModuleError::failed("group: apply without a check"));
        };
        let (out, entry) = run_then_ent(host, &argv, "group", &self.name, self.local, None).await?;
        if !out.success() {
            let what = argv.first().cloned().unwrap_or_default();
            return Err(command_failed(&format!("{what} failed"), &out));
        }
        super::output_keys(&out, &mut result);
        if let Some(g) = entry.and_then(|t| passwd::parse_groups(&t).into_iter().next()) {
            result.insert("gid".into(), json!(g.gid));
        }
        Ok(Applied {
            changed: true,
            failed: false,
            msg: None,
            result,
            diff: Vec::new(),
        })
    }
}
