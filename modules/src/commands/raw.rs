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
use crate::spec::{Kind, ModuleSpec, Support, param};

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

const SPEC: ModuleSpec = ModuleSpec {
    name: "raw",
    short: "Send a command line to the connection as is",
    description: "Sends the task's free-form string to the connection exactly as \
        written, without wrapping it in `/bin/sh -c` or any other helper, so it \
        works on hosts without a POSIX shell or Python (to bootstrap them, say). \
        It always reports a change, and its output is returned unaltered.",
    params: &[
        param(
            "_raw_params",
            Kind::Str,
            "The command line (the free form), sent to the connection unchanged.",
        ),
        param(
            "executable",
            Kind::Str,
            "A shell to run the string with, as `<executable> -c <string>`; \
            without it the string goes to the connection directly.",
        ),
    ],
    check: Support::None,
    diff: Support::None,
    example: "- name: Install Python on a bare host
  ansible.builtin.raw: test -e /usr/bin/python3 || (apt-get update && apt-get install -y python3)

- name: Run through bash
  ansible.builtin.raw: echo $BASH_VERSION
  args:
    executable: /bin/bash
",
    open: false,
    fields: params::fields::<Params>,
};

impl Module for Raw {
    fn name(&self) -> &'static str {
        "raw"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
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
