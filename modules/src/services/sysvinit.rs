//! The `sysvinit` module, and the SysV half of `service`: init scripts in
//! `/etc/init.d`, started and stopped through the script itself, enabled
//! with `update-rc.d` (Debian) or `chkconfig` (Red Hat).
//!
//! `check` is one probe script: does the script exist, is the service
//! running (`pattern` in the process list, else `NAME status`), which
//! runlevels have start links, and which enable tool is there. `apply`
//! probes again and runs the init script with its output captured in a
//! temp file, so a daemon that keeps stdout open cannot hold the
//! connection.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::cmd::Cmd;
use crate::host::{Host, HostRead, Output};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::services::command_failed;
use crate::services::systemd::State;
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `sysvinit` module.
pub struct SysVInit;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, alias = "args", deserialize_with = "params::opt_string")]
    arguments: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    daemonize: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    enabled: Option<bool>,
    #[serde(alias = "service", deserialize_with = "params::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    pattern: Option<String>,
    #[serde(default, deserialize_with = "params::opt_list")]
    runlevels: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    sleep: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "sysvinit",
    short: "Manage SysV init script services",
    description: "Starts, stops, restarts or reloads a service through its \
        `/etc/init.d` script and enables or disables it at boot with \
        `update-rc.d` (Debian) or `chkconfig` (Red Hat). One probe reads whether \
        the script exists, whether the service runs (its `status`, or `pattern` \
        in the process list) and which runlevels have start links; only the \
        needed actions run. The script's output goes through a temporary file, \
        so a daemon that keeps its output open cannot hang the task.",
    params: &[
        param(
            "arguments",
            Kind::Str,
            "Extra arguments passed to the init script after the action, \
            split like a shell would.",
        )
        .aliases(&["args"]),
        param(
            "daemonize",
            Kind::Bool,
            "Accepted for compatibility; has no effect (the script's output \
            is always detached from the connection).",
        ),
        param(
            "enabled",
            Kind::Bool,
            "Whether the service starts at boot (has start links). At least \
            one of `state` and `enabled` is required.",
        ),
        param(
            "name",
            Kind::Str,
            "Name of the init script in `/etc/init.d`.",
        )
        .required()
        .aliases(&["service"]),
        param(
            "pattern",
            Kind::Str,
            "Text to look for in the process list to tell whether the \
            service runs, instead of calling the script's `status`.",
        ),
        param(
            "runlevels",
            Kind::List,
            "Runlevels to enable or disable the service in; when absent, \
            the tool's defaults (links are looked for in 2 3 4 5).",
        ),
        param(
            "sleep",
            Kind::Int,
            "Seconds to wait between stop and start when restarting.",
        ),
        param(
            "state",
            Kind::Str,
            "`started` and `stopped` act only when needed; `restarted` \
            and `reloaded` always act (starting a stopped service).",
        )
        .choices(&["reloaded", "restarted", "started", "stopped"]),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Start and enable an init-script service
  ansible.builtin.sysvinit:
    name: apache2
    state: started
    enabled: true

- name: Restart a daemon found by its process name
  ansible.builtin.sysvinit:
    name: legacyd
    state: restarted
    pattern: /usr/sbin/legacyd
    sleep: 3
",
    open: false,
    fields: params::fields::<Params>,
};

/// The probe: `$1` name, `$2` pattern, `$3` runlevels (space-separated).
/// It prints `key=value` lines; its text contains `tutti-svc-probe` so the
/// pattern search can leave this very script out of the process list.
pub(crate) const PROBE_SCRIPT: &str = r#"name=$1 pattern=$2 levels=$3 # tutti-svc-probe
s=/etc/init.d/$name
if [ -f "$s" ] && [ -x "$s" ]; then echo script=1; else echo script=0; fi
if [ -n "$pattern" ]; then
  ps -eo args= 2>/dev/null | PAT=$pattern awk 'index($0, ENVIRON["PAT"]) && index($0, "tutti-svc-" "probe") == 0 { f = 1 } END { exit !f }'
  echo "running_rc=$?"
elif [ -x "$s" ]; then
  "$s" status >/dev/null 2>&1 </dev/null
  echo "running_rc=$?"
fi
for l in $levels; do
  for f in /etc/rc$l.d/S[0-9][0-9]"$name" /etc/rc.d/rc$l.d/S[0-9][0-9]"$name"; do
    [ -e "$f" ] && echo "start=$l"
  done
  for f in /etc/rc$l.d/K[0-9][0-9]"$name" /etc/rc.d/rc$l.d/K[0-9][0-9]"$name"; do
    [ -e "$f" ] && echo "kill=$l"
  done
done
if command -v update-rc.d >/dev/null 2>&1; then echo tool=update-rc.d
elif command -v chkconfig >/dev/null 2>&1; then echo tool=chkconfig
else echo tool=
fi
"#;

/// Runs the init script (`$1`) with the action and arguments that follow,
/// its output in a temp file rather than the connection's pipe.
const RUN_SCRIPT: &str = r#"s=$1; shift
o=$(mktemp) || exit 1
"$s" "$@" >"$o" 2>&1 </dev/null
rc=$?
cat "$o"; rm -f "$o"
exit $rc
"#;

/// What the probe found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Probed {
    pub script: bool,
    /// `None` when there was no way to tell (no script, no pattern).
    pub running: Option<bool>,
    pub start_links: Vec<String>,
    pub kill_links: Vec<String>,
    pub tool: String,
}

/// Parses [`PROBE_SCRIPT`]'s output.
pub(crate) fn parse_probe(out: &str) -> Probed {
    let mut p = Probed::default();
    for line in out.lines() {
        match line.split_once('=') {
            Some(("script", v)) => p.script = v == "1",
            Some(("running_rc", v)) => p.running = Some(v.trim() == "0"),
            Some(("start", v)) => p.start_links.push(v.to_string()),
            Some(("kill", v)) => p.kill_links.push(v.to_string()),
            Some(("tool", v)) => p.tool = v.to_string(),
            _ => {}
        }
    }
    p
}

/// One SysV request, shared with `service`.
#[derive(Debug, Clone)]
pub(crate) struct SysV {
    pub name: String,
    pub state: Option<State>,
    pub enabled: Option<bool>,
    pub sleep: Option<u64>,
    pub pattern: Option<String>,
    pub runlevels: Vec<String>,
    pub arguments: Option<String>,
}

/// One step of `apply`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Enable(bool),
    Script(&'static str),
}

impl SysV {
    pub(crate) fn script_path(&self) -> String {
        format!("/etc/init.d/{}", self.name)
    }

    fn levels(&self) -> String {
        if self.runlevels.is_empty() {
            "2 3 4 5".into()
        } else {
            self.runlevels.join(" ")
        }
    }

    /// The probe command.
    pub(crate) fn probe_cmd(&self) -> Cmd {
        Cmd::new("sh")
            .arg("-c")
            .arg(PROBE_SCRIPT)
            .arg("sh")
            .arg(&self.name)
            .arg(self.pattern.clone().unwrap_or_default())
            .arg(self.levels())
    }

    pub(crate) fn parse(out: &Output) -> Probed {
        parse_probe(&text::decode(&out.stdout))
    }

    fn steps(&self, p: &Probed) -> Result<(Vec<Step>, Facts), ModuleError> {
        let mut result = Facts::new();
        result.insert("name".into(), json!(self.name));
        if !p.script && self.pattern.is_none() {
            return Err(ModuleError::Failed {
                msg: format!(
                    "Could not find the requested service {}: no init script at {}",
                    self.name,
                    self.script_path()
                ),
                result,
            });
        }
        let mut steps = Vec::new();
        if let Some(enabled) = self.enabled {
            let is_enabled = !p.start_links.is_empty();
            if enabled != is_enabled {
                steps.push(Step::Enable(enabled));
            }
            result.insert("enabled".into(), json!(enabled));
        }
        if let Some(state) = self.state {
            let running = p.running.unwrap_or(false);
            let step = match state {
                State::Started => (!running).then_some("start"),
                State::Stopped => running.then_some("stop"),
                State::Restarted if running => Some("restart"),
                State::Reloaded if running => Some("reload"),
                State::Restarted | State::Reloaded => Some("start"),
            };
            steps.extend(step.map(Step::Script));
            result.insert("state".into(), json!(state.reported()));
        }
        Ok((steps, result))
    }

    fn describe(&self, step: &Step, tool: &str) -> String {
        match step {
            Step::Enable(on) => format!(
                "{} {} {}",
                if tool.is_empty() { "update-rc.d" } else { tool },
                self.name,
                if *on { "enable" } else { "disable" }
            ),
            Step::Script(a) => format!("{} {a}", self.script_path()),
        }
    }

    /// The plan from a probe's output.
    pub(crate) fn plan(&self, out: &Output) -> Result<Plan, ModuleError> {
        let p = SysV::parse(out);
        let (steps, result) = self.steps(&p)?;
        if steps.is_empty() {
            return Ok(Plan::InSync { result });
        }
        Ok(Plan::Change {
            changes: steps.iter().map(|s| self.describe(s, &p.tool)).collect(),
            diff: Vec::new(),
            result,
        })
    }

    pub(crate) async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let out = host.probe(&self.probe_cmd()).await?;
        self.plan(&out)
    }

    fn script_cmd(&self, action: &str) -> Cmd {
        let mut c = Cmd::new("sh")
            .arg("-c")
            .arg(RUN_SCRIPT)
            .arg("sh")
            .arg(self.script_path())
            .arg(action);
        if let Some(a) = &self.arguments {
            match crate::commands::run::split(a) {
                Ok(words) => c = c.args(words),
                Err(_) => c = c.arg(a.clone()),
            }
        }
        c
    }

    fn enable_cmds(&self, on: bool, p: &Probed) -> Result<Vec<Cmd>, ModuleError> {
        let levels: Vec<String> = self.runlevels.clone();
        match p.tool.as_str() {
            "update-rc.d" => {
                let verb = if on { "enable" } else { "disable" };
                let mut cmds = Vec::new();
                if p.start_links.is_empty() && p.kill_links.is_empty() {
                    cmds.push(Cmd::new("update-rc.d").arg(&self.name).arg(if on {
                        "defaults"
                    } else {
                        "defaults-disabled"
                    }));
                }
                if on || !p.start_links.is_empty() {
                    cmds.push(
                        Cmd::new("update-rc.d")
                            .arg(&self.name)
                            .arg(verb)
                            .args(levels),
                    );
                }
                Ok(cmds)
            }
            "chkconfig" => {
                let mut c = Cmd::new("chkconfig");
                if !levels.is_empty() {
                    c = c.arg("--level").arg(levels.join(""));
                }
                Ok(vec![c.arg(&self.name).arg(if on { "on" } else { "off" })])
            }
            _ => Err(ModuleError::failed(format!(
                "cannot {} service {}: neither update-rc.d nor chkconfig was found",
                if on { "enable" } else { "disable" },
                self.name
            ))),
        }
    }

    pub(crate) async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        if let Plan::InSync { result } = plan {
            return Ok(Applied {
                result,
                ..Applied::default()
            });
        }
        let p = SysV::parse(&host.probe(&self.probe_cmd()).await?);
        let (steps, result) = self.steps(&p)?;
        let mut outputs = Vec::new();
        for step in &steps {
            let cmds = match step {
                Step::Enable(on) => self.enable_cmds(*on, &p)?,
                Step::Script("restart") if self.sleep.is_some() => {
                    vec![self.script_cmd("stop")]
                }
                Step::Script(a) => vec![self.script_cmd(a)],
            };
            for c in cmds {
                let out = host.run(&c).await?;
                if !out.success() {
                    return Err(command_failed(
                        &format!("Unable to {}", self.describe(step, &p.tool)),
                        &out,
                    ));
                }
                outputs.push(text::decode(&out.stdout));
            }
            if let (Step::Script("restart"), Some(secs)) = (step, self.sleep) {
                tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
                let out = host.run(&self.script_cmd("start")).await?;
                if !out.success() {
                    return Err(command_failed(
                        &format!("Unable to start service {}", self.name),
                        &out,
                    ));
                }
                outputs.push(text::decode(&out.stdout));
            }
        }
        let mut result = result;
        if !outputs.is_empty() {
            result.insert("stdout".into(), Value::String(outputs.concat()));
        }
        Ok(Applied {
            changed: !steps.is_empty(),
            result,
            ..Applied::default()
        })
    }
}

/// Reads `sleep` (seconds) as Ansible's `type='int'`.
pub(crate) fn parse_sleep(s: Option<String>) -> Result<Option<u64>, ParamError> {
    s.map(|v| {
        v.trim()
            .parse::<u64>()
            .map_err(|_| ParamError::at("sleep", format!("sleep must be an integer, got: {v}")))
    })
    .transpose()
}

struct Prepped(SysV);

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        self.0.check(host).await
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        self.0.apply(plan, host).await
    }
}

impl Module for SysVInit {
    fn name(&self) -> &'static str {
        "sysvinit"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let _ = p.daemonize;
        let Some(name) = p.name.filter(|n| !n.is_empty()) else {
            return Err(ParamError::at("name", "missing required arguments: name"));
        };
        if p.state.is_none() && p.enabled.is_none() {
            return Err(ParamError::new(
                "one of the following is required: state, enabled",
            ));
        }
        Ok(Box::new(Prepped(SysV {
            name,
            state: p.state.as_deref().map(State::parse).transpose()?,
            enabled: p.enabled,
            sleep: parse_sleep(p.sleep)?,
            pattern: p.pattern.filter(|s| !s.is_empty()),
            runlevels: p.runlevels.unwrap_or_default(),
            arguments: p.arguments.filter(|s| !s.is_empty()),
        })))
    }
}
