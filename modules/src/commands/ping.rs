//! The `ping` module: proves the host can run a command and answers with
//! `data` (default `pong`). It changes nothing, so all work is in `check`.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use crate::cmd::Cmd;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `ping` module.
pub struct Ping;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_string")]
    data: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "ping",
    short: "Check that the target can be reached and run commands",
    description: "Connects to the host and runs a trivial command there, failing \
        when the host is unreachable or cannot run it; on success it answers \
        with `ping: <data>`. It never changes anything, so it behaves the same in \
        check mode.",
    params: &[param(
        "data",
        Kind::Str,
        "The value returned as `ping`. The value `crash` makes the task fail \
        after reaching the host, to test error handling.",
    )
    .default("pong")],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Make sure every host answers
  ansible.builtin.ping:

- name: Answer with a custom value
  ansible.builtin.ping:
    data: hello
",
    open: false,
    fields: params::fields::<Params>,
};

impl Module for Ping {
    fn name(&self) -> &'static str {
        "ping"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        Ok(Box::new(PingHost {
            data: p.data.unwrap_or_else(|| "pong".into()),
        }))
    }
}

struct PingHost {
    data: String,
}

/// The command whose success proves the host runs commands for us.
pub fn ping_probe() -> Cmd {
    Cmd::new("true")
}

#[async_trait]
impl Prepared for PingHost {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let out = host.probe(&ping_probe()).await?;
        if !out.success() {
            return Err(ModuleError::failed(format!(
                "the host could not run a command (rc {}): {}",
                out.rc,
                crate::text::decode(&out.stderr).trim_end()
            )));
        }
        // Ansible's ping raises on `data: crash`, to test failure handling;
        // it does so only after reaching the host, as here.
        if self.data == "crash" {
            return Err(ModuleError::failed("boom"));
        }
        let mut result = Facts::new();
        result.insert("ping".into(), json!(self.data));
        Ok(Plan::InSync { result })
    }

    async fn apply(&self, plan: Plan, _host: &dyn Host) -> Result<Applied, ModuleError> {
        // Never reached through the engine (check is always InSync); kept
        // harmless for direct callers.
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
