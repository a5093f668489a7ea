//! The `modprobe` module: load or unload a kernel module with parameters,
//! and with `persistent` keep it loaded at boot (`/etc/modules-load.d`,
//! `/etc/modprobe.d`). One probe; one run to load or unload, plus one
//! atomic write per persistent file that changes.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::{SECTION_PRELUDE, choice, probe_sections, run_checked, sh};
use crate::cmd::Cmd;
use crate::files::common::Stash;
use crate::fs::{Content, WriteOpts};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `modprobe` module.
pub struct Modprobe;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    name: String,
    #[serde(default, deserialize_with = "params::opt_string")]
    params: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    persistent: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "modprobe",
    short: "Load or unload kernel modules",
    description: "Loads a kernel module with `modprobe` (with its parameters) or \
        unloads it with `modprobe -r`, after checking `/proc/modules` and the \
        kernel's built-in modules, so nothing runs when the module is already \
        in the asked state. With `persistent`, also keeps the module loaded at \
        boot through `/etc/modules-load.d/NAME.conf` and its parameters in \
        `/etc/modprobe.d/NAME.conf`, written atomically only when they \
        differ.",
    params: &[
        param(
            "name",
            Kind::Str,
            "The kernel module's name (`-` and `_` are treated alike when \
            looking for it among the loaded modules).",
        )
        .required(),
        param(
            "params",
            Kind::Str,
            "Module parameters, blank-separated (`numdummies=2`), passed to \
            `modprobe` when loading and written to the `options` line with \
            `persistent: present`. A module that is already loaded is not reloaded when \
            they change.",
        ),
        param(
            "persistent",
            Kind::Str,
            "`present` writes the boot-time files, `absent` removes them, \
            `disabled` leaves them alone.",
        )
        .default("disabled")
        .choices(&["absent", "disabled", "present"]),
        param("state", Kind::Str, "Whether the module should be loaded.")
            .default("present")
            .choices(&["absent", "present"]),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Load br_netfilter now and at boot
  ansible.builtin.modprobe:
    name: br_netfilter
    persistent: present

- name: Load the dummy module with two interfaces
  ansible.builtin.modprobe:
    name: dummy
    params: numdummies=2

- name: Unload a module and forget it at boot
  ansible.builtin.modprobe:
    name: floppy
    state: absent
    persistent: absent
",
    open: false,
    fields: params::fields::<Params>,
};

struct Task {
    name: String,
    params: String,
    present: bool,
    persistent: String,
    stash: Stash<Planned>,
}

#[derive(Debug, Clone, Default)]
struct Planned {
    load: Option<bool>,
    /// `(path, Some(content))` to write, `(path, None)` to remove.
    files: Vec<(String, Option<Vec<u8>>)>,
}

/// `$1` module name.
pub const PROBE: &str = r#"n=$1
s modules cat /proc/modules
s builtin cat "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null
[ -f "/etc/modules-load.d/$n.conf" ] && s load cat -- "/etc/modules-load.d/$n.conf"
[ -f "/etc/modprobe.d/$n.conf" ] && s options cat -- "/etc/modprobe.d/$n.conf"
"#;

impl Module for Modprobe {
    fn name(&self) -> &'static str {
        "modprobe"
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
        let persistent = choice(
            "persistent",
            p.persistent.as_deref(),
            "disabled",
            &["absent", "disabled", "present"],
        )?;
        if p.name.is_empty() || p.name.contains('/') || p.name.contains(char::is_whitespace) {
            return Err(ParamError::at(
                "name",
                format!("invalid module name {:?}", p.name),
            ));
        }
        Ok(Box::new(Task {
            name: p.name,
            params: p.params.unwrap_or_default().trim().to_string(),
            present: state == "present",
            persistent,
            stash: Stash::default(),
        }))
    }
}

fn norm(n: &str) -> String {
    n.replace('-', "_")
}

impl Task {
    fn load_file(&self) -> String {
        format!("/etc/modules-load.d/{}.conf", self.name)
    }

    fn options_file(&self) -> String {
        format!("/etc/modprobe.d/{}.conf", self.name)
    }

    fn result(&self) -> Facts {
        let mut r = Facts::new();
        r.insert("name".into(), json!(self.name));
        r.insert("params".into(), json!(self.params));
        r.insert(
            "state".into(),
            json!(if self.present { "present" } else { "absent" }),
        );
        r
    }
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let s = probe_sections(
            host,
            &sh(&format!("{SECTION_PRELUDE}{PROBE}"), [self.name.clone()]),
        )
        .await?;
        let want = norm(&self.name);
        let loaded = s
            .get("modules")
            .body
            .lines()
            .any(|l| l.split_whitespace().next().map(norm) == Some(want.clone()))
            || s.get("builtin").body.lines().any(|l| {
                let file = l.rsplit('/').next().unwrap_or_default();
                norm(file.strip_suffix(".ko").unwrap_or(file)) == want
            });
        let mut p = Planned::default();
        let mut changes = Vec::new();
        if self.present && !loaded {
            p.load = Some(true);
            changes.push(format!("load {}", self.name));
        } else if !self.present && loaded {
            p.load = Some(false);
            changes.push(format!("unload {}", self.name));
        }
        let load_now = s.ok("load");
        let opts_now = s.ok("options");
        match self.persistent.as_str() {
            "present" => {
                let want_load = format!("{}\n", self.name);
                if load_now.as_deref() != Some(want_load.as_str()) {
                    p.files
                        .push((self.load_file(), Some(want_load.into_bytes())));
                    changes.push(format!("write {}", self.load_file()));
                }
                if !self.params.is_empty() {
                    let want_opts = format!("options {} {}\n", self.name, self.params);
                    if opts_now.as_deref() != Some(want_opts.as_str()) {
                        p.files
                            .push((self.options_file(), Some(want_opts.into_bytes())));
                        changes.push(format!("write {}", self.options_file()));
                    }
                }
            }
            "absent" => {
                for (file, now) in [
                    (self.load_file(), load_now),
                    (self.options_file(), opts_now),
                ] {
                    if now.is_some() {
                        changes.push(format!("remove {file}"));
                        p.files.push((file, None));
                    }
                }
            }
            _ => {}
        }
        let r = self.result();
        if changes.is_empty() {
            return Ok(Plan::InSync { result: r });
        }
        self.stash.put(p);
        Ok(Plan::Change {
            changes,
            diff: Vec::new(),
            result: r,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change { mut result, .. } = plan else {
            return Ok(Applied::default());
        };
        let Some(p) = self.stash.get() else {
            return Err(ModuleError::failed("modprobe: apply without a check"));
        };
        if let Some(load) = p.load {
            let cmd = if load {
                Cmd::new("modprobe")
                    .arg(&self.name)
                    .args(self.params.split_whitespace())
            } else {
                Cmd::new("modprobe").arg("-r").arg(&self.name)
            };
            let out = run_checked(host, &cmd, "modprobe failed").await?;
            super::output_keys(&out, &mut result);
        }
        for (file, content) in p.files {
            match content {
                Some(c) => {
                    host.write_atomic(&file, Content::Bytes(c), &WriteOpts::default())
                        .await?;
                }
                None => {
                    host.remove(&file).await?;
                }
            }
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
