//! The `systemd_service` module (also registered as `systemd`): starts,
//! stops, restarts and reloads units, enables, disables, masks and
//! unmasks them, and runs `daemon-reload`/`daemon-reexec`.
//!
//! `check` learns everything from one `systemctl show NAME` (every
//! property, returned as `status` like Ansible does); `apply` runs one
//! `systemctl` per action, in Ansible's order: mask, enable, state.
//! `daemon_reload`/`daemon_reexec` make the plan unpredictable (the
//! reload can change what `show` says), so check mode skips those tasks.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::cmd::Cmd;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::services::{command_failed, parse_properties};
use crate::spec::{Kind, ModuleSpec, Param, Support, param};
use crate::text;

/// The `systemd_service` module.
pub struct SystemdService;

/// The same module under its older name, `systemd`.
pub struct Systemd;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(
        default,
        alias = "daemon-reexec",
        deserialize_with = "params::opt_bool"
    )]
    daemon_reexec: Option<bool>,
    #[serde(
        default,
        alias = "daemon-reload",
        deserialize_with = "params::opt_bool"
    )]
    daemon_reload: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    masked: Option<bool>,
    #[serde(
        default,
        alias = "service",
        alias = "unit",
        deserialize_with = "params::opt_string"
    )]
    name: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    no_block: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    scope: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
}

const PARAMS: &[Param] = &[
    param(
        "daemon_reexec",
        Kind::Bool,
        "Run `systemctl daemon-reexec` (systemd re-executes itself) \
        before anything else.",
    )
    .default("false")
    .aliases(&["daemon-reexec"]),
    param(
        "daemon_reload",
        Kind::Bool,
        "Run `systemctl daemon-reload` before anything else, so changed \
        unit files are read.",
    )
    .default("false")
    .aliases(&["daemon-reload"]),
    param(
        "enabled",
        Kind::Bool,
        "Whether the unit starts at boot; `static`, `generated` and \
        similar unit file states count as enabled.",
    ),
    param(
        "force",
        Kind::Bool,
        "Pass `--force` to the `systemctl` actions (enable replaces \
        conflicting symlinks).",
    )
    .default("false"),
    param(
        "masked",
        Kind::Bool,
        "Whether the unit is masked, so that it cannot be started at all.",
    ),
    param(
        "name",
        Kind::Str,
        "Name of the unit (`nginx` or `nginx.service`, `backup.timer`); \
        required with `state`, `enabled` or `masked`.",
    )
    .aliases(&["service", "unit"]),
    param(
        "no_block",
        Kind::Bool,
        "Do not wait for the action to finish (`--no-block`).",
    )
    .default("false"),
    param(
        "scope",
        Kind::Str,
        "Which systemd instance: `system`, the calling `user`'s, or \
        `global` (every user's; only `enabled` and `masked` apply there).",
    )
    .default("system")
    .choices(&["system", "user", "global"]),
    param(
        "state",
        Kind::Str,
        "`started` and `stopped` act only when needed; `restarted` \
        and `reloaded` always act (starting a stopped unit).",
    )
    .choices(&["reloaded", "restarted", "started", "stopped"]),
];

const DESCRIPTION: &str = "Starts, stops, restarts and reloads systemd units, enables, \
    disables, masks and unmasks them, and runs `daemon-reload` or \
    `daemon-reexec`. One `systemctl show` reads every property of the unit \
    (returned as `status`); only the `systemctl` actions that the unit's \
    state calls for are run, in the order mask, enable, state.";

const CHECK: Support = Support::Partial(
    "tasks with daemon_reload or daemon_reexec are skipped, since the \
    reload can change what systemd reports",
);

const SPEC: ModuleSpec = ModuleSpec {
    name: "systemd_service",
    short: "Manage systemd units",
    description: DESCRIPTION,
    params: PARAMS,
    check: CHECK,
    diff: Support::None,
    example: "- name: Reload unit files, then restart the application
  ansible.builtin.systemd_service:
    name: myapp.service
    state: restarted
    daemon_reload: true

- name: Enable and start a timer
  ansible.builtin.systemd_service:
    name: backup.timer
    state: started
    enabled: true
",
    open: false,
    fields: params::fields::<Params>,
};

const SYSTEMD_SPEC: ModuleSpec = ModuleSpec {
    name: "systemd",
    short: "Manage systemd units (the same module as systemd_service)",
    description: "The same module as `systemd_service`, under its older name. \
        Starts, stops, restarts and reloads units, enables, disables, masks and \
        unmasks them, and runs `daemon-reload`; only the `systemctl` actions the \
        unit's current state calls for are run.",
    params: PARAMS,
    check: CHECK,
    diff: Support::None,
    example: "- name: Mask a service nobody should start
  ansible.builtin.systemd:
    name: bluetooth
    masked: true

- name: Stop and disable cups
  ansible.builtin.systemd:
    name: cups
    state: stopped
    enabled: false
",
    open: false,
    fields: params::fields::<Params>,
};

/// A requested unit state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Started,
    Stopped,
    Restarted,
    Reloaded,
}

impl State {
    /// Parses Ansible's `state` values.
    pub(crate) fn parse(s: &str) -> Result<State, ParamError> {
        match s {
            "started" => Ok(State::Started),
            "stopped" => Ok(State::Stopped),
            "restarted" => Ok(State::Restarted),
            "reloaded" => Ok(State::Reloaded),
            other => Err(ParamError::at(
                "state",
                format!(
                    "value of state must be one of: reloaded, restarted, started, stopped, got: {other}"
                ),
            )),
        }
    }

    /// What Ansible reports as `state` after the task.
    pub(crate) fn reported(self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            _ => "started",
        }
    }
}

/// The validated request for one unit, shared with `service`.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub name: Option<String>,
    pub state: Option<State>,
    pub enabled: Option<bool>,
    pub masked: Option<bool>,
    pub daemon_reload: bool,
    pub daemon_reexec: bool,
    pub scope: String,
    pub no_block: bool,
    pub force: bool,
}

/// Unit file states for which `systemctl is-enabled` succeeds and
/// Ansible counts the unit as enabled.
const ENABLED_STATES: &[&str] = &[
    "enabled",
    "enabled-runtime",
    "static",
    "generated",
    "transient",
];

impl Unit {
    fn from_params(p: Params) -> Result<Unit, ParamError> {
        let state = p.state.as_deref().map(State::parse).transpose()?;
        let scope = p.scope.unwrap_or_else(|| "system".into());
        if !matches!(scope.as_str(), "system" | "user" | "global") {
            return Err(ParamError::at(
                "scope",
                format!("value of scope must be one of: system, user, global, got: {scope}"),
            ));
        }
        let unit = Unit {
            name: p.name.filter(|n| !n.is_empty()),
            state,
            enabled: p.enabled,
            masked: p.masked,
            daemon_reload: p.daemon_reload.unwrap_or(false),
            daemon_reexec: p.daemon_reexec.unwrap_or(false),
            scope,
            no_block: p.no_block.unwrap_or(false),
            force: p.force.unwrap_or(false),
        };
        unit.validate()?;
        Ok(unit)
    }

    /// Ansible's `required_one_of` and `required_by` rules.
    pub(crate) fn validate(&self) -> Result<(), ParamError> {
        let wants_unit = self.state.is_some() || self.enabled.is_some() || self.masked.is_some();
        if !wants_unit && !self.daemon_reload && !self.daemon_reexec {
            return Err(ParamError::new(
                "one of the following is required: state, enabled, masked, daemon_reload, daemon_reexec",
            ));
        }
        if wants_unit && self.name.is_none() {
            return Err(ParamError::at(
                "name",
                "missing parameter(s) required by 'state', 'enabled' or 'masked': name",
            ));
        }
        if self.scope == "global" && self.state.is_some() {
            return Err(ParamError::at(
                "state",
                "state cannot be used with scope=global (only enabled and masked can)",
            ));
        }
        Ok(())
    }

    /// `systemctl` with the scope and the flags every action gets.
    fn systemctl(&self) -> Cmd {
        let mut c = Cmd::new("systemctl");
        if self.scope != "system" {
            c = c.arg(format!("--{}", self.scope));
        }
        c
    }

    fn action_cmd(&self, action: &str, name: &str) -> Cmd {
        let mut c = self.systemctl();
        if self.no_block {
            c = c.arg("--no-block");
        }
        if self.force {
            c = c.arg("--force");
        }
        c.arg(action).arg(name)
    }

    /// The one probe: every property of the unit.
    pub(crate) fn probe_cmd(&self, name: &str) -> Cmd {
        self.systemctl().arg("show").arg(name).arg("--no-pager")
    }

    /// Reads the unit's properties with one `systemctl show`.
    pub(crate) async fn status(
        &self,
        host: &dyn HostRead,
        name: &str,
    ) -> Result<Map<String, Value>, ModuleError> {
        let out = host.probe(&self.probe_cmd(name)).await?;
        if !out.success() {
            return Err(command_failed(
                &format!("failure {} running systemctl show for '{name}'", out.rc),
                &out,
            ));
        }
        let props = parse_properties(&text::decode(&out.stdout));
        if props.is_empty() {
            return Err(command_failed(
                &format!("systemctl show for '{name}' printed no properties"),
                &out,
            ));
        }
        Ok(props)
    }

    /// The actions (`mask`, `enable`, `start`, ...) that bring the unit
    /// from `status` to the request, in Ansible's order, and the result
    /// keys.
    pub(crate) fn evaluate(
        &self,
        name: &str,
        status: &Map<String, Value>,
    ) -> Result<(Vec<&'static str>, Facts), ModuleError> {
        let prop = |k: &str| status.get(k).and_then(Value::as_str).unwrap_or("");
        let unit_file = prop("UnitFileState");
        let found = prop("LoadState") != "not-found" || !unit_file.is_empty();
        let mut result = Facts::new();
        result.insert("name".into(), json!(name));
        result.insert("status".into(), Value::Object(status.clone()));
        let mut actions = Vec::new();
        if let Some(masked) = self.masked {
            let is_masked = unit_file == "masked" || prop("LoadState") == "masked";
            if masked != is_masked {
                actions.push(if masked { "mask" } else { "unmask" });
            }
        }
        if let Some(enabled) = self.enabled {
            if !found {
                return Err(not_found(name, result));
            }
            let is_enabled = ENABLED_STATES.contains(&unit_file);
            if enabled != is_enabled {
                actions.push(if enabled { "enable" } else { "disable" });
            }
            result.insert("enabled".into(), json!(enabled));
        }
        if let Some(state) = self.state {
            if !found {
                return Err(not_found(name, result));
            }
            let active = prop("ActiveState");
            let running = matches!(active, "active" | "activating");
            let action = match state {
                State::Started => (!running).then_some("start"),
                State::Stopped => (running || active == "deactivating").then_some("stop"),
                State::Restarted if running => Some("restart"),
                State::Reloaded if running => Some("reload"),
                State::Restarted | State::Reloaded => Some("start"),
            };
            actions.extend(action);
            result.insert("state".into(), json!(state.reported()));
        }
        Ok((actions, result))
    }

    /// The plan for `status`.
    pub(crate) fn plan(
        &self,
        name: &str,
        status: &Map<String, Value>,
    ) -> Result<Plan, ModuleError> {
        let (actions, result) = self.evaluate(name, status)?;
        if actions.is_empty() {
            return Ok(Plan::InSync { result });
        }
        Ok(Plan::Change {
            changes: actions
                .iter()
                .map(|a| self.action_cmd(a, name).render())
                .collect(),
            diff: Vec::new(),
            result,
        })
    }

    /// Runs `daemon-reload`/`daemon-reexec` when asked.
    async fn daemon(&self, host: &dyn Host) -> Result<(), ModuleError> {
        for (wanted, action) in [
            (self.daemon_reload, "daemon-reload"),
            (self.daemon_reexec, "daemon-reexec"),
        ] {
            if wanted {
                let mut c = self.systemctl();
                if self.no_block {
                    c = c.arg("--no-block");
                }
                let out = host.run(&c.arg(action)).await?;
                if !out.success() {
                    return Err(command_failed(
                        &format!("failure {} during {action}", out.rc),
                        &out,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Carries out `plan` (re-reading the unit first when it was
    /// unpredictable because of a daemon reload).
    pub(crate) async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let status = match plan {
            Plan::InSync { result } => {
                return Ok(Applied {
                    result,
                    ..Applied::default()
                });
            }
            Plan::Change { result, .. } => match result.get("status") {
                Some(Value::Object(s)) => s.clone(),
                _ => {
                    return Err(ModuleError::failed(
                        "systemd: apply without a plan from check",
                    ));
                }
            },
            Plan::Unpredictable { .. } => {
                self.daemon(host).await?;
                match &self.name {
                    Some(name) => self.status(host, name).await?,
                    None => Map::new(),
                }
            }
        };
        let Some(name) = self.name.as_deref() else {
            return Ok(Applied::default());
        };
        let (actions, result) = self.evaluate(name, &status)?;
        for action in &actions {
            let out = host.run(&self.action_cmd(action, name)).await?;
            if !out.success() {
                let mut e = command_failed(&format!("Unable to {action} service {name}"), &out);
                if let ModuleError::Failed { result: r, .. } = &mut e {
                    r.extend(result.clone());
                }
                return Err(e);
            }
        }
        Ok(Applied {
            changed: !actions.is_empty(),
            result,
            ..Applied::default()
        })
    }

    /// The whole check: one probe (none for a bare daemon reload).
    pub(crate) async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        if self.daemon_reload || self.daemon_reexec {
            return Ok(Plan::Unpredictable {
                reason: "daemon_reload/daemon_reexec change what systemd reports; \
                         skipped in check mode"
                    .into(),
            });
        }
        let Some(name) = self.name.as_deref() else {
            return Ok(Plan::in_sync());
        };
        let status = self.status(host, name).await?;
        self.plan(name, &status)
    }
}

fn not_found(name: &str, result: Facts) -> ModuleError {
    ModuleError::Failed {
        msg: format!("Could not find the requested service {name}: host"),
        result,
    }
}

struct Prepped(Unit);

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        self.0.check(host).await
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        self.0.apply(plan, host).await
    }
}

fn prepare(spec: &ModuleSpec, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
    let p: Params = params::parse(spec, args)?;
    Ok(Box::new(Prepped(Unit::from_params(p)?)))
}

impl Module for SystemdService {
    fn name(&self) -> &'static str {
        "systemd_service"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        prepare(&SPEC, args)
    }
}

impl Module for Systemd {
    fn name(&self) -> &'static str {
        "systemd"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SYSTEMD_SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        prepare(&SYSTEMD_SPEC, args)
    }
}
