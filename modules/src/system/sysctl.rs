//! The `sysctl` module: a kernel parameter in a sysctl file (rewritten
//! the way Ansible does: `key=value` lines, later duplicates dropped) and,
//! with `sysctl_set`, in the running kernel; `reload` runs `sysctl -p FILE`
//! after a change.
//!
//! One probe (the file and `sysctl -n KEY`); apply is one atomic write
//! plus one run of `sysctl -w`/`sysctl -p` when those are needed.

use async_trait::async_trait;
use serde::Deserialize;

use super::{SECTION_PRELUDE, choice, command_failed, probe_sections, sh};
use crate::files::common::Stash;
use crate::fs::{Content, WriteOpts};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Diff, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `sysctl` module.
pub struct Sysctl;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_bool")]
    ignoreerrors: Option<bool>,
    #[serde(alias = "key")]
    name: String,
    #[serde(default, deserialize_with = "params::opt_bool")]
    reload: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    sysctl_file: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    sysctl_set: Option<bool>,
    #[serde(default, alias = "val", deserialize_with = "value")]
    value: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "sysctl",
    short: "Manage kernel parameters in sysctl.conf and the running kernel",
    description: "Sets a kernel parameter as a `key=value` line in a sysctl \
        file (or removes it), and with `sysctl_set` also in the running \
        kernel. The file is rewritten in a normalized form (one `key=value` \
        per line, later duplicates of a key dropped) and written atomically, \
        only when the key's value differs; values are compared word by word. \
        After a change, `reload` runs `sysctl -p` on the file.",
    params: &[
        param(
            "ignoreerrors",
            Kind::Bool,
            "Ignore unknown keys when reloading the file (`sysctl -e -p`).",
        )
        .default("false"),
        param(
            "name",
            Kind::Str,
            "The kernel parameter, such as `net.ipv4.ip_forward`.",
        )
        .required()
        .aliases(&["key"]),
        param(
            "reload",
            Kind::Bool,
            "Run `sysctl -p FILE` after changing anything, so the file's \
            settings apply.",
        )
        .default("true"),
        param("state", Kind::Str, "Whether the key should be in the file.")
            .default("present")
            .choices(&["absent", "present"]),
        param("sysctl_file", Kind::Path, "The file holding the setting.")
            .default("/etc/sysctl.conf"),
        param(
            "sysctl_set",
            Kind::Bool,
            "Also compare the value in the running kernel and set it with \
            `sysctl -w` when it differs; the key must exist there.",
        )
        .default("false"),
        param(
            "value",
            Kind::Str,
            "The value; needed with `state: present`. Booleans (`yes`, `true`, \
            `off`, ...) become `1` or `0` and blanks around it are trimmed.",
        )
        .aliases(&["val"]),
    ],
    check: Support::Full,
    diff: Support::Partial("shows the file edit; setting the running kernel has no diff"),
    example: "- name: Turn on IPv4 forwarding now and at boot
  ansible.builtin.sysctl:
    name: net.ipv4.ip_forward
    value: \"1\"
    sysctl_set: true

- name: Raise the inotify watch limit in a drop-in file
  ansible.builtin.sysctl:
    name: fs.inotify.max_user_watches
    value: \"524288\"
    sysctl_file: /etc/sysctl.d/90-inotify.conf

- name: Remove a setting from sysctl.conf
  ansible.builtin.sysctl:
    name: vm.swappiness
    state: absent
",
    open: false,
    fields: params::fields::<Params>,
};

/// Ansible's value normalization: booleans become `1`/`0`, strings are
/// trimmed.
fn value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Null => None,
        serde_json::Value::Bool(b) => Some(if b { "1" } else { "0" }.into()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) => Some(match s.to_ascii_lowercase().as_str() {
            "yes" | "on" | "true" | "y" | "t" => "1".into(),
            "no" | "off" | "false" | "n" | "f" => "0".into(),
            _ => s.trim().to_string(),
        }),
        other => Some(other.to_string()),
    })
}

/// Values compare by their whitespace-separated words (tabs in `/proc`).
fn same_value(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

struct Task {
    name: String,
    value: Option<String>,
    present: bool,
    file: String,
    reload: bool,
    set: bool,
    ignoreerrors: bool,
    stash: Stash<Planned>,
}

#[derive(Debug, Clone)]
struct Planned {
    content: Option<Vec<u8>>,
    set_proc: bool,
}

/// `$1` key, `$2` file.
pub const PROBE: &str = r#"k=$1 f=$2
[ -f "$f" ] && s file cat -- "$f"
if command -v sysctl >/dev/null 2>&1; then s proc sysctl -n -e "$k" 2>&1; else s nosysctl true; fi
"#;

/// `$1` key, `$2` value (empty: do not set), `$3` file to reload (empty:
/// none), `$4` ignoreerrors (1/0).
pub const APPLY: &str = r#"k=$1 v=$2 f=$3 e=$4
if [ -n "$v" ]; then sysctl -w "$k=$v" >/dev/null || { echo "setsysctl failed" >&2; exit 1; }; fi
if [ -n "$f" ]; then
  if [ "$e" = 1 ]; then out=$(sysctl -e -p "$f" 2>&1); else out=$(sysctl -p "$f" 2>&1); fi
  r=$?
  [ $r -eq 0 ] || { printf 'Failed to reload sysctl: %s\n' "$out" >&2; exit 1; }
fi
exit 0
"#;

impl Module for Sysctl {
    fn name(&self) -> &'static str {
        "sysctl"
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
        let present = state == "present";
        let name = p.name.trim().to_string();
        if name.is_empty() {
            return Err(ParamError::at("name", "name cannot be empty"));
        }
        if present && p.value.as_deref().is_none_or(str::is_empty) {
            return Err(ParamError::at("value", "value cannot be None"));
        }
        Ok(Box::new(Task {
            name,
            value: p.value,
            present,
            file: p
                .sysctl_file
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| "/etc/sysctl.conf".into()),
            reload: p.reload.unwrap_or(true),
            set: p.sysctl_set.unwrap_or(false),
            ignoreerrors: p.ignoreerrors.unwrap_or(false),
            stash: Stash::default(),
        }))
    }
}

/// `(key, value)` of a setting line, `None` for blanks and comments.
fn setting(line: &str) -> Option<(String, String)> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
        return None;
    }
    let (k, v) = t.split_once('=')?;
    Some((k.trim().to_string(), v.trim().to_string()))
}

impl Task {
    /// Ansible's rewrite of the file.
    fn rewrite(&self, before: &str) -> String {
        let value = self.value.clone().unwrap_or_default();
        let mut seen: Vec<String> = Vec::new();
        let mut out = String::new();
        for line in before.lines() {
            match setting(line) {
                None => {
                    out.push_str(line.trim());
                    out.push('\n');
                }
                Some((k, v)) => {
                    if seen.contains(&k) {
                        continue;
                    }
                    seen.push(k.clone());
                    if k == self.name {
                        if self.present {
                            out.push_str(&format!("{k}={value}\n"));
                        }
                    } else {
                        out.push_str(&format!("{k}={v}\n"));
                    }
                }
            }
        }
        if self.present && !seen.contains(&self.name) {
            out.push_str(&format!("{}={value}\n", self.name));
        }
        out
    }
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let s = probe_sections(
            host,
            &sh(
                &format!("{SECTION_PRELUDE}{PROBE}"),
                [self.name.clone(), self.file.clone()],
            ),
        )
        .await?;
        if s.0.contains_key("nosysctl") {
            return Err(ModuleError::failed(
                "Failed to find required executable \"sysctl\"",
            ));
        }
        let before = s.get("file").body;
        let file_value = before
            .lines()
            .filter_map(setting)
            .find(|(k, _)| *k == self.name)
            .map(|(_, v)| v);
        let value = self.value.clone().unwrap_or_default();
        let write_file = if self.present {
            file_value.as_deref().is_none_or(|v| !same_value(v, &value))
        } else {
            file_value.is_some()
        };
        let proc = s.ok("proc").map(|p| p.trim_end().to_string());
        let mut set_proc = false;
        let mut changes = Vec::new();
        if write_file {
            changes.push(format!(
                "{} {} in {}",
                if self.present { "set" } else { "remove" },
                self.name,
                self.file
            ));
        }
        if self.present && self.set {
            match proc.as_deref() {
                Some(p) if !p.is_empty() && same_value(p, &value) => {}
                Some(p) if !p.is_empty() => {
                    set_proc = true;
                    changes.push(format!("{}: {p} -> {value} (running kernel)", self.name));
                }
                _ => {
                    return Err(ModuleError::failed(format!(
                        "the key {} does not exist in the running kernel",
                        self.name
                    )));
                }
            }
        }
        let r = Facts::new();
        if changes.is_empty() {
            return Ok(Plan::InSync { result: r });
        }
        let after = if write_file {
            self.rewrite(&before)
        } else {
            before.clone()
        };
        self.stash.put(Planned {
            content: write_file.then(|| after.clone().into_bytes()),
            set_proc,
        });
        let diff = if write_file {
            vec![Diff {
                data: None,
                before_header: Some(self.file.clone()),
                after_header: Some(self.file.clone()),
                before,
                after,
            }]
        } else {
            Vec::new()
        };
        Ok(Plan::Change {
            changes,
            diff,
            result: r,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change { result, diff, .. } = plan else {
            return Ok(Applied::default());
        };
        let Some(p) = self.stash.get() else {
            return Err(ModuleError::failed("sysctl: apply without a check"));
        };
        if let Some(c) = p.content {
            host.write_atomic(&self.file, Content::Bytes(c), &WriteOpts::default())
                .await?;
        }
        if p.set_proc || self.reload {
            let cmd = sh(
                APPLY,
                [
                    self.name.clone(),
                    if p.set_proc {
                        self.value.clone().unwrap_or_default()
                    } else {
                        String::new()
                    },
                    if self.reload {
                        self.file.clone()
                    } else {
                        String::new()
                    },
                    if self.ignoreerrors { "1" } else { "0" }.to_string(),
                ],
            );
            let out = host.run(&cmd).await?;
            if !out.success() {
                let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
                let mut e = command_failed("sysctl failed", &out);
                if let ModuleError::Failed { msg: m, .. } = &mut e {
                    *m = msg;
                }
                return Err(e);
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
