//! The `command` module: runs a program with arguments, without a shell,
//! so `$HOME`, `*`, `|` and `;` in the arguments are passed on literally.
//! The free form is split with Python's `shlex` rules, as Ansible does.

use serde::Deserialize;
use serde_json::Value;

use crate::cmd::Cmd;
use crate::commands::run::{self, RunCommand, non_empty, with_stdin};
use crate::module::{Args, Module, ParamError, Prepared};
use crate::params;
use crate::spec::{Kind, ModuleSpec, Support, param};

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
    #[serde(default, deserialize_with = "params::opt_bool")]
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

const SPEC: ModuleSpec = ModuleSpec {
    name: "command",
    short: "Run a program on the target without a shell",
    description: "Runs a program with its arguments directly, not through a shell, so \
        `$HOME`, `*`, `|`, `;` and redirections reach the program literally. The \
        command line is given as the free form (or `cmd`), split into words with \
        Python's `shlex` rules, or as a ready-made list in `argv`. A command always \
        reports a change when it runs; `creates` and `removes` make it idempotent \
        by skipping it when a path (a glob) exists or does not exist.",
    params: &[
        param(
            "_raw_params",
            Kind::Str,
            "The command line (the free form), split into words as a POSIX shell \
            would quote them but without any expansion.",
        ),
        param(
            "argv",
            Kind::List,
            "The program and its arguments as a list, used as is; cannot be \
            combined with the free form or `cmd`.",
        ),
        param(
            "chdir",
            Kind::Path,
            "Directory to change into before running the command (and in which \
            relative `creates`/`removes` patterns are looked up).",
        ),
        param(
            "cmd",
            Kind::Str,
            "The command line, as an alternative to the free form; giving both \
            is an error.",
        ),
        param(
            "creates",
            Kind::Path,
            "A path or glob pattern on the target; when something matches it, \
            the command is not run.",
        ),
        param(
            "executable",
            Kind::Str,
            "Accepted for compatibility but ignored, with a warning: `command` \
            never uses a shell (use `shell` for that).",
        ),
        param(
            "expand_argument_vars",
            Kind::Bool,
            "Expand `$NAME`/`${NAME}` (set variables only) and a leading `~` in \
            each argument, in the target's environment, as Python's \
            `expandvars`/`expanduser` do; no other shell syntax is \
            interpreted. `false` passes the arguments on literally.",
        )
        .default("true"),
        param(
            "removes",
            Kind::Path,
            "A path or glob pattern on the target; when nothing matches it, the \
            command is not run.",
        ),
        param(
            "stdin",
            Kind::Str,
            "Text fed to the command's standard input.",
        ),
        param(
            "stdin_add_newline",
            Kind::Bool,
            "Append a newline to `stdin` before sending it.",
        )
        .default("true"),
        param(
            "strip_empty_ends",
            Kind::Bool,
            "Remove trailing line ends from the reported `stdout` and `stderr`.",
        )
        .default("true"),
    ],
    check: Support::Partial(
        "the command is not run; with `creates` or `removes` the outcome is \
        predicted from the target, otherwise it is reported as unknown",
    ),
    diff: Support::None,
    example: "- name: Initialise the database once
  ansible.builtin.command:
    cmd: /usr/local/bin/db-init --data /srv/db
    creates: /srv/db/PG_VERSION

- name: Run a program with arguments given as a list
  ansible.builtin.command:
    argv:
      - /usr/bin/git
      - clone
      - https://example.com/repo.git
    chdir: /opt
    creates: /opt/repo
",
    open: false,
    fields: params::fields::<Params>,
};

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

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
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
        let expand = p.expand_argument_vars.unwrap_or(true)
            && words.iter().any(|w| crate::expand::may_expand(w));
        Ok(Box::new(RunCommand {
            direct: true,
            cmd_key: Value::from(words),
            to_run,
            expand,
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
