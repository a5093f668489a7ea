//! The `service` module: one front for systemd and SysV init. With
//! `use: auto` (the default) the single probe script looks for
//! `/run/systemd/system` and prints either `systemctl show NAME` or the
//! SysV probe, so the manager is learned in the same round trip as the
//! service's state.

use serde::Deserialize;
use serde_json::json;

use crate::cmd::Cmd;
use crate::host::{Host, HostRead, Output};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Plan};
use crate::services::systemd::{State, Unit};
use crate::services::sysvinit::{self, SysV};
use crate::services::{command_failed, parse_properties, split_section};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `service` module.
pub struct Service;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, alias = "args", deserialize_with = "params::opt_string")]
    arguments: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    enabled: Option<bool>,
    #[serde(deserialize_with = "params::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    pattern: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    runlevel: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    sleep: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, rename = "use", deserialize_with = "params::opt_string")]
    use_: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "service",
    short: "Manage services through systemd or SysV init",
    description: "Starts, stops, restarts or reloads a service and enables or disables \
        it at boot, through systemd where the host runs it and through \
        `/etc/init.d` scripts otherwise. One probe both finds out which manager \
        the host uses (`/run/systemd/system`) and reads the service's state, and \
        only the actions needed to reach the wanted state are run, so a started \
        and enabled service is left alone.",
    params: &[
        param(
            "arguments",
            Kind::Str,
            "Extra arguments for the init script (SysV only; ignored \
            under systemd).",
        )
        .aliases(&["args"]),
        param(
            "enabled",
            Kind::Bool,
            "Whether the service starts at boot. At least one of `state` \
            and `enabled` is required.",
        ),
        param("name", Kind::Str, "Name of the service (or unit).").required(),
        param(
            "pattern",
            Kind::Str,
            "Under SysV, text to look for in the process list to tell \
            whether the service runs, instead of the script's `status`.",
        ),
        param(
            "runlevel",
            Kind::Str,
            "Under SysV, space-separated runlevels to enable or disable \
            in (`default` is ignored); when absent, 2 3 4 5.",
        ),
        param(
            "sleep",
            Kind::Int,
            "Under SysV, seconds to wait between stop and start when \
            restarting.",
        ),
        param(
            "state",
            Kind::Str,
            "`started` and `stopped` act only when needed; `restarted` \
            and `reloaded` always act (starting a stopped service).",
        )
        .choices(&["reloaded", "restarted", "started", "stopped"]),
        param(
            "use",
            Kind::Str,
            "The service manager: `auto` detects it, `systemd` forces \
            systemd, `sysvinit` (also `sysv`, `service`) forces init scripts.",
        )
        .default("auto")
        .choices(&["auto", "systemd", "sysvinit", "sysv", "service"]),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Start nginx and enable it at boot
  ansible.builtin.service:
    name: nginx
    state: started
    enabled: true

- name: Restart an init-script service with a pause
  ansible.builtin.service:
    name: legacyd
    state: restarted
    sleep: 2
    use: sysvinit
",
    open: false,
    fields: params::fields::<Params>,
};

/// Which manager `use` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Auto,
    Systemd,
    SysV,
}

struct Prepped {
    use_: Use,
    unit: Unit,
    sysv: SysV,
}

/// `$1` name, `$2` pattern, `$3` runlevels, `$4` use (auto|systemd|sysvinit).
fn probe_script() -> String {
    format!(
        "if [ \"$4\" = systemd ] || {{ [ \"$4\" = auto ] && [ -d /run/systemd/system ]; }}; then\n\
         echo '--tutti-section systemd--'\n\
         exec systemctl show \"$1\" --no-pager\n\
         fi\n\
         echo '--tutti-section sysvinit--'\n{}",
        sysvinit::PROBE_SCRIPT
    )
}

impl Prepped {
    fn probe_cmd(&self) -> Cmd {
        Cmd::new("sh")
            .arg("-c")
            .arg(probe_script())
            .arg("sh")
            .arg(&self.sysv.name)
            .arg(self.sysv.pattern.clone().unwrap_or_default())
            .arg(if self.sysv.runlevels.is_empty() {
                "2 3 4 5".to_string()
            } else {
                self.sysv.runlevels.join(" ")
            })
            .arg(match self.use_ {
                Use::Auto => "auto",
                Use::Systemd => "systemd",
                Use::SysV => "sysvinit",
            })
    }

    /// The manager the probe chose and the plan for it.
    fn plan(&self, out: &Output) -> Result<(bool, Plan), ModuleError> {
        let all = text::decode(&out.stdout);
        let (_, systemd) = split_section(&all, "systemd");
        if !systemd.is_empty() || all.contains("--tutti-section systemd--") {
            if !out.success() {
                return Err(command_failed(
                    &format!(
                        "failure {} running systemctl show for '{}'",
                        out.rc, self.sysv.name
                    ),
                    out,
                ));
            }
            let status = parse_properties(systemd);
            return Ok((true, self.unit.plan(&self.sysv.name, &status)?));
        }
        let (_, sysv) = split_section(&all, "sysvinit");
        let sub = Output {
            rc: out.rc,
            stdout: sysv.as_bytes().to_vec(),
            stderr: out.stderr.clone(),
        };
        Ok((false, self.sysv.plan(&sub)?))
    }
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let out = host.probe(&self.probe_cmd()).await?;
        Ok(self.plan(&out)?.1)
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let systemd = matches!(&plan, Plan::Change { result, .. } if result.contains_key("status"));
        let mut applied = if systemd {
            self.unit.apply(plan, host).await?
        } else {
            self.sysv.apply(plan, host).await?
        };
        applied
            .result
            .entry("name")
            .or_insert_with(|| json!(self.sysv.name));
        Ok(applied)
    }
}

impl Module for Service {
    fn name(&self) -> &'static str {
        "service"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let Some(name) = p.name.filter(|n| !n.is_empty()) else {
            return Err(ParamError::at("name", "missing required arguments: name"));
        };
        if p.state.is_none() && p.enabled.is_none() {
            return Err(ParamError::new(
                "one of the following is required: state, enabled",
            ));
        }
        let use_ = match p.use_.as_deref().unwrap_or("auto") {
            "auto" => Use::Auto,
            "systemd" => Use::Systemd,
            "sysvinit" | "sysv" | "service" => Use::SysV,
            other => {
                return Err(ParamError::at(
                    "use",
                    format!(
                        "the service manager '{other}' is not supported (auto, systemd, sysvinit)"
                    ),
                ));
            }
        };
        let state = p.state.as_deref().map(State::parse).transpose()?;
        let unit = Unit {
            name: Some(name.clone()),
            state,
            enabled: p.enabled,
            masked: None,
            daemon_reload: false,
            daemon_reexec: false,
            scope: "system".into(),
            no_block: false,
            force: false,
        };
        let sysv = SysV {
            name,
            state,
            enabled: p.enabled,
            sleep: sysvinit::parse_sleep(p.sleep)?,
            pattern: p.pattern.filter(|s| !s.is_empty()),
            runlevels: p
                .runlevel
                .map(|r| {
                    r.split_whitespace()
                        .filter(|l| *l != "default")
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            arguments: p.arguments.filter(|s| !s.is_empty()),
        };
        Ok(Box::new(Prepped { use_, unit, sysv }))
    }
}
