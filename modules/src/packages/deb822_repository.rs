//! The `deb822_repository` module: an APT source in deb822 form,
//! `/etc/apt/sources.list.d/NAME.sources`, rendered from the parameters
//! and written atomically when its content differs (one read to check,
//! one write to apply). `signed_by` may be a key file path or an inline
//! ASCII-armored key, which is embedded as a multi-line field.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common;
use crate::files::attrs::Mode;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Diff, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `deb822_repository` module.
pub struct Deb822Repository;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_bool")]
    allow_downgrade_to_insecure: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    allow_insecure: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    allow_weak: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_list")]
    architectures: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    by_hash: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    check_date: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    check_valid_until: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_list")]
    components: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    date_max_future: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    inrelease_path: Option<String>,
    #[serde(default, deserialize_with = "params::opt_list")]
    languages: Option<Vec<String>>,
    #[serde(default)]
    mode: Option<Value>,
    name: String,
    #[serde(default, deserialize_with = "params::opt_bool")]
    pdiffs: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    signed_by: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, alias = "suite", deserialize_with = "params::opt_list")]
    suites: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_list")]
    targets: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    trusted: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_list")]
    types: Option<Vec<String>>,
    #[serde(default, alias = "uri", deserialize_with = "params::opt_list")]
    uris: Option<Vec<String>>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "deb822_repository",
    short: "Manage an APT source in deb822 format",
    description: "Renders an APT source in deb822 form from the parameters and keeps it \
        in `/etc/apt/sources.list.d/NAME.sources` (the name lowercased, other \
        characters than letters, digits, `_`, `.` and `-` turned into `_`). The \
        file is written atomically only when its content differs; `state: absent` \
        deletes it. `signed_by` may name a key file or hold an ASCII-armored key, \
        which is embedded in the file. The package lists are not updated: follow \
        with `apt` and `update_cache` when needed.",
    params: &[
        param(
            "allow_downgrade_to_insecure",
            Kind::Bool,
            "Writes `Allow-Downgrade-To-Insecure` (allow a signed source to become unsigned); when absent the field is \
            left out and apt's default applies.",
        ),
        param(
            "allow_insecure",
            Kind::Bool,
            "Writes `Allow-Insecure` (allow an unsigned source); when absent the field is \
            left out and apt's default applies.",
        ),
        param(
            "allow_weak",
            Kind::Bool,
            "Writes `Allow-Weak` (allow weak signatures); when absent the field is \
            left out and apt's default applies.",
        ),
        param(
            "architectures",
            Kind::List,
            "Architectures to fetch from this source (`Architectures`).",
        ),
        param(
            "by_hash",
            Kind::Bool,
            "Writes `By-Hash` (fetch index files by their hash); when absent the field is \
            left out and apt's default applies.",
        ),
        param(
            "check_date",
            Kind::Bool,
            "Writes `Check-Date` (check the Release file's date); when absent the field is \
            left out and apt's default applies.",
        ),
        param(
            "check_valid_until",
            Kind::Bool,
            "Writes `Check-Valid-Until` (check the Release file's expiry); when absent the field is \
            left out and apt's default applies.",
        ),
        param(
            "components",
            Kind::List,
            "Components such as `main contrib`; required unless the single \
            suite is an exact path ending in `/`.",
        ),
        param(
            "date_max_future",
            Kind::Int,
            "Seconds a Release file's date may lie in the future \
            (`Date-Max-Future`).",
        ),
        param(
            "enabled",
            Kind::Bool,
            "Writes `Enabled` (whether apt uses this source); when absent the field is \
            left out and apt's default applies.",
        ),
        param(
            "inrelease_path",
            Kind::Str,
            "Path of the InRelease file relative to the suite \
            (`InRelease-Path`).",
        ),
        param(
            "languages",
            Kind::List,
            "Translation languages to fetch (`Languages`).",
        ),
        param(
            "mode",
            Kind::Raw,
            "Permissions of the `.sources` file, octal (`'0644'`) or \
            symbolic.",
        )
        .default("0644"),
        param(
            "name",
            Kind::Str,
            "Name of the source: the file name and the `X-Repolib-Name` field.",
        )
        .required(),
        param(
            "pdiffs",
            Kind::Bool,
            "Writes `PDiffs` (download index changes as diffs); when absent the field is \
            left out and apt's default applies.",
        ),
        param(
            "signed_by",
            Kind::Str,
            "Path of the keyring that signs this source, or the \
            ASCII-armored key itself. URLs are not supported.",
        ),
        param(
            "state",
            Kind::Str,
            "`present` writes the file, `absent` deletes it.",
        )
        .default("present")
        .choices(&["absent", "present"]),
        param(
            "suites",
            Kind::List,
            "Suites such as `bookworm`, or an exact path ending in `/`; \
            required with `state: present`.",
        )
        .aliases(&["suite"]),
        param(
            "targets",
            Kind::List,
            "Index targets to download (`Targets`).",
        ),
        param(
            "trusted",
            Kind::Bool,
            "Writes `Trusted` (trust the source even without a valid signature); when absent the field is \
            left out and apt's default applies.",
        ),
        param(
            "types",
            Kind::List,
            "Source types: `deb`, `deb-src` or both.",
        )
        .default("deb"),
        param(
            "uris",
            Kind::List,
            "Base URIs of the repository; required with `state: present`.",
        )
        .aliases(&["uri"]),
    ],
    check: Support::Full,
    diff: Support::Full,
    example: "- name: Add the Docker repository
  ansible.builtin.deb822_repository:
    name: docker
    types: deb
    uris: https://download.docker.com/linux/debian
    suites: bookworm
    components: stable
    architectures: amd64
    signed_by: /etc/apt/keyrings/docker.asc

- name: Remove it again
  ansible.builtin.deb822_repository:
    name: docker
    state: absent
",
    open: false,
    fields: params::fields::<Params>,
};

struct Prep {
    dest: String,
    /// The file's content when present, `None` for `state: absent`.
    content: Option<String>,
    mode: Mode,
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A multi-line deb822 value: continuation lines start with a space, and
/// empty lines become ` .`.
fn multiline(v: &str) -> String {
    let mut out = String::new();
    for (i, line) in v.trim_end().lines().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push(' ');
            if line.trim().is_empty() {
                out.push('.');
                continue;
            }
        }
        out.push_str(line.trim_end());
    }
    out
}

impl Module for Deb822Repository {
    fn name(&self) -> &'static str {
        "deb822_repository"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let present = match p.state.as_deref().unwrap_or("present") {
            "present" => true,
            "absent" => false,
            other => {
                return Err(ParamError::at(
                    "state",
                    format!("value of state must be one of: absent, present, got: {other}"),
                ));
            }
        };
        if p.name.trim().is_empty() {
            return Err(ParamError::at("name", "name must not be empty"));
        }
        let file: String = p
            .name
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
            .to_lowercase();
        let dest = format!("/etc/apt/sources.list.d/{file}.sources");
        let mode = common::mode_param(p.mode.as_ref(), 0o644)?;
        if !present {
            return Ok(Box::new(Prep {
                dest,
                content: None,
                mode,
            }));
        }
        let list = |v: Option<Vec<String>>| v.filter(|v| !v.is_empty()).map(|v| v.join(" "));
        let uris = list(p.uris).ok_or_else(|| {
            ParamError::at(
                "uris",
                "state is present but all of the following are missing: uris, suites",
            )
        })?;
        let suites = list(p.suites).ok_or_else(|| {
            ParamError::at(
                "suites",
                "state is present but all of the following are missing: suites",
            )
        })?;
        let mut fields: Vec<(&str, String)> = vec![("X-Repolib-Name", p.name.trim().to_string())];
        fields.push(("Types", list(p.types).unwrap_or_else(|| "deb".into())));
        fields.push(("URIs", uris));
        fields.push(("Suites", suites));
        let components = list(p.components);
        let flat = fields[3].1.ends_with('/');
        match (&components, flat) {
            (Some(c), _) => fields.push(("Components", c.clone())),
            (None, false) => {
                return Err(ParamError::at(
                    "components",
                    "components is required unless suites is an exact path ending in /",
                ));
            }
            (None, true) => {}
        }
        let opt = |fields: &mut Vec<(&str, String)>, k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                fields.push((k, v));
            }
        };
        opt(&mut fields, "Architectures", list(p.architectures));
        opt(&mut fields, "Languages", list(p.languages));
        opt(&mut fields, "Targets", list(p.targets));
        opt(&mut fields, "Enabled", p.enabled.map(|b| yes_no(b).into()));
        opt(&mut fields, "PDiffs", p.pdiffs.map(|b| yes_no(b).into()));
        opt(&mut fields, "By-Hash", p.by_hash.map(|b| yes_no(b).into()));
        opt(
            &mut fields,
            "Allow-Insecure",
            p.allow_insecure.map(|b| yes_no(b).into()),
        );
        opt(
            &mut fields,
            "Allow-Weak",
            p.allow_weak.map(|b| yes_no(b).into()),
        );
        opt(
            &mut fields,
            "Allow-Downgrade-To-Insecure",
            p.allow_downgrade_to_insecure.map(|b| yes_no(b).into()),
        );
        opt(&mut fields, "Trusted", p.trusted.map(|b| yes_no(b).into()));
        opt(
            &mut fields,
            "Check-Valid-Until",
            p.check_valid_until.map(|b| yes_no(b).into()),
        );
        opt(
            &mut fields,
            "Check-Date",
            p.check_date.map(|b| yes_no(b).into()),
        );
        opt(
            &mut fields,
            "Date-Max-Future",
            p.date_max_future.filter(|s| !s.is_empty()),
        );
        opt(
            &mut fields,
            "InRelease-Path",
            p.inrelease_path.filter(|s| !s.is_empty()),
        );
        if let Some(key) = p.signed_by.filter(|s| !s.trim().is_empty()) {
            if key.contains("://") {
                return Err(ParamError::at(
                    "signed_by",
                    "a signed_by URL is not supported by tutti yet: download the key with get_url and give its path",
                ));
            }
            fields.push(("Signed-By", multiline(&key)));
        }
        let content: String = fields.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        Ok(Box::new(Prep {
            dest,
            content: Some(content),
            mode,
        }))
    }
}

impl Prep {
    fn result(&self) -> Facts {
        let mut r = Facts::new();
        r.insert("dest".into(), json!(self.dest));
        r.insert("repo".into(), json!(self.content));
        r.insert("key_filename".into(), Value::Null);
        r
    }
}

#[async_trait]
impl Prepared for Prep {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let current = common::read_text(host, &self.dest).await?;
        let result = self.result();
        if current == self.content {
            return Ok(Plan::InSync { result });
        }
        let change = match &self.content {
            Some(_) if current.is_some() => format!("update {}", self.dest),
            Some(_) => format!("create {}", self.dest),
            None => format!("remove {}", self.dest),
        };
        Ok(Plan::Change {
            changes: vec![change],
            diff: vec![Diff {
                data: None,
                before_header: Some(self.dest.clone()),
                after_header: Some(self.dest.clone()),
                before: current.unwrap_or_default(),
                after: self.content.clone().unwrap_or_default(),
            }],
            result,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let (result, diff) = match plan {
            Plan::InSync { result } => {
                return Ok(Applied {
                    result,
                    ..Applied::default()
                });
            }
            Plan::Change { result, diff, .. } => (result, diff),
            Plan::Unpredictable { .. } => (self.result(), Vec::new()),
        };
        match &self.content {
            Some(c) => common::write_file(host, &self.dest, c, &self.mode).await?,
            None => {
                host.remove(&self.dest).await?;
            }
        }
        Ok(Applied {
            changed: true,
            result,
            diff,
            ..Applied::default()
        })
    }
}
