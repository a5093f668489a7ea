//! The `shell` module: runs a script through a shell (`/bin/sh` unless
//! `executable` names another), so pipes, globs and variables work.

use serde::Deserialize;
use serde_json::Value;

use crate::cmd::Cmd;
use crate::commands::command::free_form;
use crate::commands::run::{RunCommand, non_empty, with_stdin};
use crate::module::{Args, Module, ParamError, Prepared};
use crate::params;
use crate::spec::{Kind, ModuleSpec, Support, param};

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

const SPEC: ModuleSpec = ModuleSpec {
    name: "shell",
    short: "Run a shell script on the target",
    description: "Runs the script given as the free form (or `cmd`) through a \
        shell (`/bin/sh` unless `executable` names another), so pipes, \
        redirections, globs and variable expansion work. A script always \
        reports a change when it runs; `creates` and `removes` make it \
        idempotent by skipping it when a path (a glob) exists or does not exist.",
    params: &[
        param(
            "_raw_params",
            Kind::Str,
            "The command line (the free form): the script handed to the shell.",
        ),
        param(
            "chdir",
            Kind::Path,
            "Directory to change into before running the script (and in which \
            relative `creates`/`removes` patterns are looked up).",
        ),
        param(
            "cmd",
            Kind::Str,
            "The script, as an alternative to the free form; giving both is an \
            error.",
        ),
        param(
            "creates",
            Kind::Path,
            "A path or glob pattern on the target; when something matches it, \
            the script is not run.",
        ),
        param(
            "executable",
            Kind::Str,
            "The shell to run the script with, called as `<executable> -c \
            <script>`; without it the connection's `/bin/sh` is used.",
        ),
        param(
            "removes",
            Kind::Path,
            "A path or glob pattern on the target; when nothing matches it, the \
            script is not run.",
        ),
        param(
            "stdin",
            Kind::Str,
            "Text fed to the script's standard input.",
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
        "the script is not run; with `creates` or `removes` the outcome is \
        predicted from the target, otherwise it is reported as unknown",
    ),
    diff: Support::None,
    example: "- name: Rotate the application logs
  ansible.builtin.shell: gzip /var/log/app/*.log && mv /var/log/app/*.gz /srv/archive/

- name: Build once, with bash
  ansible.builtin.shell:
    cmd: set -o pipefail && ./configure | tee configure.log && make
    chdir: /usr/src/app
    creates: /usr/src/app/app.bin
    executable: /bin/bash
",
    open: false,
    fields: params::fields::<Params>,
};

impl Module for Shell {
    fn name(&self) -> &'static str {
        "shell"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        // Ansible's shell action refuses this `command` option in so many
        // words (the shell expands variables itself).
        if args.contains_key("expand_argument_vars") {
            return Err(ParamError::at(
                "expand_argument_vars",
                "Unsupported parameters for (shell) module: expand_argument_vars",
            ));
        }
        let p: Params = params::parse(&SPEC, args)?;
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
            direct: false,
            expand: false,
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
