//! The `shell` module: runs a script through a shell (`/bin/sh` unless
//! `executable` names another), so pipes, globs and variables work.

use serde::Deserialize;
use serde_json::Value;

use crate::cmd::Cmd;
use crate::commands::command::free_form;
use crate::commands::run::{RunCommand, non_empty, with_stdin};
use crate::module::{Args, Module, ParamError, Prepared};
use crate::params;

/// The `shell` module.
pub struct Shell;

/// Parameters, sorted by name so the "Supported parameters" list is too.
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
    chdir: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    cmd: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    creates: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    executable: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    removes: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    stdin: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    stdin_add_newline: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    strip_empty_ends: Option<bool>,
}

impl Module for Shell {
    fn name(&self) -> &'static str {
        "shell"
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::legacy(self.name(), args)?;
        let Some(script) = free_form(p.raw_params, p.cmd)?.filter(|s| !s.trim().is_empty()) else {
            return Err(ParamError::new("no command given"));
        };
        // Without `executable` the connection wraps the script in
        // `/bin/sh -c`; with it, the named shell gets the script as one
        // quoted argument.
        let mut to_run = match non_empty(p.executable) {
            Some(shell) => Cmd::new(shell).arg("-c").arg(script.clone()),
            None => Cmd::script(script.clone()),
        };
        let chdir = non_empty(p.chdir);
        if let Some(dir) = &chdir {
            to_run = to_run.chdir(dir.clone());
        }
        let to_run = with_stdin(to_run, p.stdin, p.stdin_add_newline.unwrap_or(true));
        Ok(Box::new(RunCommand {
            cmd_key: Value::from(script),
            to_run,
            chdir,
            creates: non_empty(p.creates),
            removes: non_empty(p.removes),
            strip_empty_ends: p.strip_empty_ends.unwrap_or(true),
            warnings: Vec::new(),
        }))
    }
}
