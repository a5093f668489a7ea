//! The `getent` module: reads a name-service database (`passwd`, `group`,
//! `hosts`, `services`, ...) into `ansible_facts.getent_<database>`, keyed
//! by the first field, as Ansible does. Read-only: one probe, never a change.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::output_keys;
use crate::cmd::Cmd;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `getent` module.
pub struct Getent;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    database: String,
    #[serde(default, deserialize_with = "params::opt_bool")]
    fail_key: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    service: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    split: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "getent",
    short: "Read a name service database into facts",
    description: "Runs `getent` on the target and stores the result as the fact \
        `getent_DATABASE`: a mapping from each entry's first field to its \
        other fields (a list of such lists when the first field repeats). \
        `passwd`, `shadow`, `group` and `gshadow` are split on `:`, other \
        databases on blanks unless `split` says otherwise. It only reads, so \
        it never reports a change.",
    params: &[
        param(
            "database",
            Kind::Str,
            "The database to read, as `getent` names it (`passwd`, `group`, \
            `hosts`, `services`, ...).",
        )
        .required(),
        param(
            "fail_key",
            Kind::Bool,
            "Fail when a `key` is not found; with `false` the missing keys are \
            set to null and a message is returned instead.",
        )
        .default("true"),
        param(
            "key",
            Kind::Str,
            "Look up only these keys (comma-separated); without it, the whole \
            database is enumerated.",
        ),
        param(
            "service",
            Kind::Str,
            "Name service to ask (`getent -s`), such as `files` or `sss`.",
        ),
        param(
            "split",
            Kind::Str,
            "Field separator to use instead of the database's usual one.",
        ),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Read the passwd database
  ansible.builtin.getent:
    database: passwd

- name: Look up one user, without failing when absent
  ansible.builtin.getent:
    database: passwd
    key: deploy
    fail_key: false

- name: Look up the HTTP ports in the services database
  ansible.builtin.getent:
    database: services
    key: http,https
",
    open: false,
    fields: params::fields::<Params>,
};

struct Task {
    database: String,
    key: Option<String>,
    service: Option<String>,
    split: Option<String>,
    fail_key: bool,
}

impl Module for Getent {
    fn name(&self) -> &'static str {
        "getent"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        if p.database.is_empty() {
            return Err(ParamError::at("database", "database cannot be empty"));
        }
        Ok(Box::new(Task {
            database: p.database,
            key: p.key.filter(|k| !k.is_empty()),
            service: p.service,
            split: p.split,
            fail_key: p.fail_key.unwrap_or(true),
        }))
    }
}

const COLON: &[&str] = &["passwd", "shadow", "group", "gshadow"];

impl Task {
    fn cmd(&self) -> Cmd {
        let mut c = Cmd::new("getent");
        if let Some(s) = &self.service {
            c = c.arg("-s").arg(s);
        }
        c = c.arg(&self.database);
        if let Some(k) = &self.key {
            c = c.args(k.split(',').map(str::trim).filter(|s| !s.is_empty()));
        }
        c
    }

    fn fields(&self, line: &str) -> Vec<String> {
        let sep = match &self.split {
            Some(s) if !s.is_empty() => Some(s.as_str()),
            _ if COLON.contains(&self.database.as_str()) => Some(":"),
            _ => None,
        };
        match sep {
            Some(s) => line.split(s).map(str::to_string).collect(),
            None => line.split_whitespace().map(str::to_string).collect(),
        }
    }

    /// The database as Ansible keys it: the first field to the rest (a
    /// list of lists when a key repeats).
    fn parse(&self, stdout: &str) -> Map<String, Value> {
        let mut out = Map::new();
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        for line in stdout.lines() {
            let mut f = self.fields(line);
            if f.is_empty() {
                continue;
            }
            let k = f.remove(0);
            let rest = json!(f);
            match seen.get(&k).copied() {
                None => {
                    seen.insert(k.clone(), 1);
                    out.insert(k, rest);
                }
                Some(n) => {
                    if let Some(v) = out.get_mut(&k) {
                        if n == 1 {
                            *v = json!([v.clone()]);
                        }
                        if let Value::Array(a) = v {
                            a.push(rest);
                        }
                    }
                    seen.insert(k, n + 1);
                }
            }
        }
        out
    }
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let out = host.probe(&self.cmd()).await?;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let mut r = Facts::new();
        let fact = format!("getent_{}", self.database);
        let fail = |msg: &str| {
            let mut res = Facts::new();
            output_keys(&out, &mut res);
            Err(ModuleError::Failed {
                msg: msg.to_string(),
                result: res,
            })
        };
        let data = match out.rc {
            0 => self.parse(&stdout),
            1 => return fail("Missing arguments, or database unknown."),
            2 => {
                if self.fail_key {
                    return fail("One or more supplied key could not be found in the database.");
                }
                let mut m = self.parse(&stdout);
                for k in self.key.iter().flat_map(|k| k.split(',')) {
                    let k = k.trim();
                    if !k.is_empty() && !m.contains_key(k) {
                        m.insert(k.to_string(), Value::Null);
                    }
                }
                r.insert(
                    "msg".into(),
                    json!("One or more supplied key could not be found in the database."),
                );
                m
            }
            3 => return fail("Enumeration not supported on this database."),
            127 => return fail("getent not found on the host"),
            _ => return fail(&format!("Unexpected failure! ({})", out.rc)),
        };
        let mut facts = Map::new();
        facts.insert(fact, Value::Object(data));
        r.insert("ansible_facts".into(), Value::Object(facts));
        Ok(Plan::InSync { result: r })
    }

    async fn apply(&self, _plan: Plan, _host: &dyn Host) -> Result<Applied, ModuleError> {
        Ok(Applied::default())
    }
}
