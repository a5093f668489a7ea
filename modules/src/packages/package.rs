//! The `package` module: installs or removes packages with the host's
//! package manager, passing its arguments on to `apt` or `dnf`. Ansible
//! picks the manager from the `pkg_mgr` fact; a module cannot see facts,
//! so `use: auto` asks the host (`command -v apt-get dnf yum`) in one
//! extra probe, then the chosen module checks and applies as usual.

use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use super::common;
use super::{apt::Apt, dnf::Dnf};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `package` module.
pub struct Package;

/// Prints the first of `apt-get`, `dnf`, `yum` the host has.
pub const DETECT_SCRIPT: &str = "for m in apt-get dnf yum; do if command -v \"$m\" >/dev/null 2>&1; then echo \"$m\"; exit 0; fi; done; exit 1";

const SPEC: ModuleSpec = ModuleSpec {
    name: "package",
    short: "Manage packages with the host's package manager",
    description: "A front for `apt` and `dnf`: it picks the package manager \
        (`use`), then hands every argument on to that module, which checks and \
        applies as it always does. With `use: auto` one extra probe asks the host \
        which of `apt-get`, `dnf` and `yum` it has, since a module cannot read \
        the `pkg_mgr` fact. Arguments other than `name`, `state` and `use` are \
        passed through unchecked here and checked by the chosen module. \
        `installed`/`removed` are translated to `present`/`absent` for apt.",
    params: &[
        param(
            "name",
            Kind::List,
            "Packages to manage, as the chosen package manager's module \
            reads them (names, versions, wildcards).",
        )
        .required(),
        param(
            "state",
            Kind::Str,
            "The wanted state, passed on: `present`, `latest` and \
            `absent` work with every manager; `installed` and `removed` are \
            translated for apt.",
        )
        .required(),
        param(
            "use",
            Kind::Str,
            "Which module to run: `apt`, `dnf` (`yum` and `dnf5` mean \
            dnf too), or `auto` to ask the host.",
        )
        .default("auto")
        .choices(&["auto", "apt", "dnf", "yum", "dnf5"]),
    ],
    check: Support::Partial("as supported by the chosen module (apt or dnf)"),
    diff: Support::Partial("apt's simulated output; dnf shows none"),
    example: "- name: Install common tools on any distribution
  ansible.builtin.package:
    name:
      - git
      - curl
    state: present

- name: Remove an editor, forcing dnf
  ansible.builtin.package:
    name: nano
    state: absent
    use: dnf
",
    open: true,
    fields: spec_names,
};

/// The parameter names of [`SPEC`] (the module does not deserialize into
/// a struct: everything else is passed on).
fn spec_names() -> Vec<&'static str> {
    SPEC.params.iter().map(|p| p.name).collect()
}

type Backend = Result<Box<dyn Prepared>, ParamError>;

struct Prep {
    /// `apt`, or `dnf` (also for yum), or `None` for auto.
    forced: Option<&'static str>,
    apt: Option<Backend>,
    dnf: Option<Backend>,
    chosen: Mutex<Option<&'static str>>,
}

impl Module for Package {
    fn name(&self) -> &'static str {
        "package"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let mut args = params::check(&SPEC, args)?;
        let use_ = match args.remove("use") {
            None | Some(Value::Null) => "auto".to_string(),
            Some(Value::String(s)) => s,
            Some(other) => return Err(ParamError::at("use", format!("{other} is not a string"))),
        };
        if !args.contains_key("name") {
            return Err(ParamError::at("name", "missing required arguments: name"));
        }
        if !args.contains_key("state") {
            return Err(ParamError::at("state", "missing required arguments: state"));
        }
        let forced = match use_.as_str() {
            "auto" => None,
            "apt" => Some("apt"),
            "dnf" | "yum" | "dnf5" => Some("dnf"),
            other => {
                return Err(ParamError::at(
                    "use",
                    format!("tutti's package module can use apt, dnf or yum, not '{other}'"),
                ));
            }
        };
        // Ansible's `present`/`absent`/`latest` mean the same everywhere;
        // `installed`/`removed` are dnf's spellings, apt does not take them.
        let mut apt_args = args.clone();
        if let Some(Value::String(s)) = apt_args.get("state") {
            let s = match s.as_str() {
                "installed" => Some("present"),
                "removed" => Some("absent"),
                _ => None,
            };
            if let Some(s) = s {
                apt_args.insert("state".into(), Value::String(s.into()));
            }
        }
        let apt = (forced != Some("dnf")).then(|| Apt.prepare(apt_args));
        let dnf = (forced != Some("apt")).then(|| Dnf.prepare(args));
        match (forced, &apt, &dnf) {
            (Some("apt"), Some(Err(e)), _) | (Some("dnf"), _, Some(Err(e))) => {
                return Err(e.clone());
            }
            (None, Some(Err(e)), Some(Err(_))) => return Err(e.clone()),
            _ => {}
        }
        Ok(Box::new(Prep {
            forced,
            apt,
            dnf,
            chosen: Mutex::new(None),
        }))
    }
}

impl Prep {
    fn backend(&self, which: &str) -> Result<&dyn Prepared, ModuleError> {
        let b = if which == "apt" { &self.apt } else { &self.dnf };
        match b {
            Some(Ok(p)) => Ok(p.as_ref()),
            Some(Err(e)) => Err(ModuleError::failed(e.msg.clone())),
            None => Err(ModuleError::failed(format!("no {which} backend prepared"))),
        }
    }

    async fn detect(&self, host: &dyn HostRead) -> Result<&'static str, ModuleError> {
        if let Some(f) = self.forced {
            return Ok(f);
        }
        let out = host
            .probe(&common::script(DETECT_SCRIPT, Vec::<String>::new()))
            .await?;
        match text::decode(&out.stdout).trim() {
            "apt-get" => Ok("apt"),
            "dnf" | "yum" => Ok("dnf"),
            _ => Err(ModuleError::failed(
                "Could not detect which package manager to use. Try gathering facts or setting the \"use\" option.",
            )),
        }
    }
}

#[async_trait]
impl Prepared for Prep {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let which = self.detect(host).await?;
        *self.chosen.lock().unwrap_or_else(|e| e.into_inner()) = Some(which);
        self.backend(which)?.check(host).await
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let chosen = *self.chosen.lock().unwrap_or_else(|e| e.into_inner());
        let which = match chosen {
            Some(w) => w,
            None => self.detect(host).await?,
        };
        self.backend(which)?.apply(plan, host).await
    }
}
