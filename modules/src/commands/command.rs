//! The `command` module: runs a program with arguments, without a shell,
//! so `$HOME`, `*`, `|` and `;` in the arguments are passed on literally.
//! The free form is split with Python's `shlex` rules, as Ansible does.

use serde::Deserialize;
use serde_json::Value;

use crate::cmd::Cmd;
use crate::commands::run::{self, RunCommand, non_empty, with_stdin};
use crate::module::{Args, Module, ParamError, Prepared};
use crate::params;

/// The `command` module.
pub struct Command;

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
    #[serde(default, deserialize_with = "params::opt_list")]
    argv: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    chdir: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    cmd: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    creates: Option<String>,
    // Ignored, as Ansible ignores it for `command` (only `shell` uses it).
    #[serde(default, deserialize_with = "params::opt_string")]
    #[allow(dead_code)]
    executable: Option<String>,
    // Accepted for compatibility but without effect: arguments are passed
    // on literally, where Ansible would expand `~` and `$VAR` in them.
    #[serde(default, deserialize_with = "params::opt_bool")]
    #[allow(dead_code)]
    expand_argument_vars: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    removes: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    stdin: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    stdin_add_newline: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    strip_empty_ends: Option<bool>,
}

/// Ansible's task parser moves `cmd` into the free form; both at once is
/// an error with this message.
pub(crate) const CMD_AND_FREE_FORM: &str = "The 'cmd' argument cannot be used when other raw \
     parameters are specified. Please put everything in one or the other place.";

/// Merges `cmd` into the free form, as Ansible's task parser does.
pub(crate) fn free_form(
    raw_params: Option<String>,
    cmd: Option<String>,
) -> Result<Option<String>, ParamError> {
    match (raw_params, cmd) {
        (Some(raw), Some(_)) if !raw.is_empty() => Err(ParamError::at("cmd", CMD_AND_FREE_FORM)),
        (_, Some(cmd)) => Ok(Some(cmd)),
        (raw, None) => Ok(raw),
    }
}

impl Module for Command {
    fn name(&self) -> &'static str {
        "command"
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::legacy(self.name(), args)?;
        if p.raw_params.is_none() && p.cmd.is_none() && p.argv.is_none() {
            return Err(ParamError::new(
                "one of the following is required: _raw_params, cmd, argv",
            ));
        }
        let line = free_form(p.raw_params, p.cmd)?.filter(|s| !s.trim().is_empty());
        let argv = p.argv.filter(|a| !a.is_empty());
        let words = match (line, argv) {
            (None, None) => return Err(ParamError::new("no command given")),
            (Some(_), Some(_)) => {
                return Err(ParamError::at(
                    "argv",
                    "parameters are mutually exclusive: _raw_params|cmd|argv",
                ));
            }
            (Some(line), None) => run::split(&line).map_err(|e| {
                ParamError::at("_raw_params", format!("cannot split the command: {e}"))
            })?,
            (None, Some(argv)) => argv,
        };
        let chdir = non_empty(p.chdir);
        let mut to_run = Cmd::argv(words.iter().cloned());
        if let Some(dir) = &chdir {
            to_run = to_run.chdir(dir.clone());
        }
        let to_run = with_stdin(to_run, p.stdin, p.stdin_add_newline.unwrap_or(true));
        Ok(Box::new(RunCommand {
            cmd_key: Value::from(words),
            to_run,
            chdir,
            creates: non_empty(p.creates),
            removes: non_empty(p.removes),
            strip_empty_ends: p.strip_empty_ends.unwrap_or(true),
            warnings: p
                .executable
                .iter()
                .map(|e| {
                    format!(
                        "As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' module. Not using '{e}'."
                    )
                })
                .collect(),
        }))
    }
}
