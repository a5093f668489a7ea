//! The `raw` module: sends the user's string to the connection as is, not
//! wrapped in `/bin/sh -c` (for hosts without a POSIX shell, or to
//! bootstrap one). Check mode cannot predict it, so it is skipped there.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cmd::Cmd;
use crate::commands::run::{insert_output, non_empty};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};

/// The `raw` module.
pub struct Raw;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(
        rename = "_raw_params",
        default,
        deserialize_with = "params::opt_string"
    )]
    raw_params: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    executable: Option<String>,
}

impl Module for Raw {
    fn name(&self) -> &'static str {
        "raw"
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::legacy(self.name(), args)?;
        let Some(line) = p.raw_params.filter(|s| !s.trim().is_empty()) else {
            return Err(ParamError::new("no command given"));
        };
        // With `executable`, Ansible runs `<executable> -c <quoted string>`;
        // still raw, as the connection must not add its own wrapper.
        let cmd = match non_empty(p.executable) {
            Some(shell) => Cmd::new(shell).arg("-c").arg(line),
            None => Cmd::script(line),
        };
        Ok(Box::new(RawCommand { cmd: cmd.raw() }))
    }
}

struct RawCommand {
    cmd: Cmd,
}

#[async_trait]
impl Prepared for RawCommand {
    async fn check(&self, _host: &dyn HostRead) -> Result<Plan, ModuleError> {
        Ok(Plan::Unpredictable {
            reason: "raw commands cannot be checked without running them".into(),
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        if let Plan::InSync { result } = plan {
            return Ok(Applied {
                result,
                ..Applied::default()
            });
        }
        let out = host.run(&self.cmd).await?;
        let mut r = Facts::new();
        r.insert("rc".into(), json!(out.rc));
        // Ansible's `raw` reports output exactly as received.
        insert_output(&mut r, &out, false);
        r.insert("changed".into(), Value::Bool(true));
        let failed = out.rc != 0;
        let msg = failed.then(|| "non-zero return code".to_string());
        if let Some(m) = &msg {
            r.insert("msg".into(), json!(m));
        }
        Ok(Applied {
            changed: true,
            failed,
            msg,
            result: r,
            diff: Vec::new(),
        })
    }
}
