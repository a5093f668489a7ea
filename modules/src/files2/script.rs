//! The `script` module: uploads a controller script to a temp file on the
//! host and runs it there, in one round trip: the script's bytes stream
//! in on stdin, a wrapper saves them with `mktemp`, makes the file
//! executable, runs it (through `executable` when given) with the
//! arguments, and removes it. As in Ansible, the arguments after the
//! script path are passed to the host's shell as written.
//!
//! `creates`/`removes` decide in check mode; otherwise the outcome is
//! unpredictable and check mode skips the task. The engine resolves the
//! script path (the first word) to an absolute controller path.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::cmd::{Cmd, quote};
use crate::commands::command::free_form;
use crate::commands::run::{self, glob_probe, insert_output};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `script` module.
pub struct Script;

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
    // Vault-encrypted scripts are decrypted by the engine, if at all.
    #[serde(default, deserialize_with = "params::opt_bool")]
    #[allow(dead_code)]
    decrypt: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    executable: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    removes: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "script",
    short: "Run a controller script on the target",
    description: "Sends a script from the controller to a temporary file on \
        the target, runs it there with the arguments written after its path, \
        and removes it, all in one round trip. The first word of the command \
        line is the script (relative paths resolve in the role's or \
        playbook's `files/`); the rest is passed to the target's shell as \
        written. Running the script always reports a change; `creates` and \
        `removes` make the task idempotent by skipping it.",
    params: &[
        param(
            "_raw_params",
            Kind::Str,
            "The script's path and its arguments (the free form).",
        ),
        param(
            "chdir",
            Kind::Path,
            "Directory on the target to change into before running the script \
            (and in which relative `creates`/`removes` patterns are looked up).",
        ),
        param(
            "cmd",
            Kind::Str,
            "The script's path and its arguments, as an alternative to the \
            free form; giving both is an error.",
        ),
        param(
            "creates",
            Kind::Path,
            "A path or glob pattern on the target; when something matches it, \
            the script is not run.",
        ),
        param(
            "decrypt",
            Kind::Bool,
            "Accepted for compatibility; has no effect (the script is sent as \
            it is on the controller).",
        ),
        param(
            "executable",
            Kind::Str,
            "Program (with its own arguments) that runs the script, e.g. \
            `python3`; without it the script runs directly and needs a `#!` \
            line.",
        ),
        param(
            "removes",
            Kind::Path,
            "A path or glob pattern on the target; when nothing matches it, \
            the script is not run.",
        ),
    ],
    check: Support::Partial(
        "only with `creates` or `removes`, which decide whether the script \
        would run; otherwise the task is skipped in check mode",
    ),
    diff: Support::None,
    example: "- name: Prepare the data disk once
  ansible.builtin.script: prepare_disk.sh /dev/sdb
  args:
    creates: /srv/data/.prepared

- name: Run a Python report script from the role
  ansible.builtin.script:
    cmd: report.py --since yesterday
    executable: python3
    chdir: /var/tmp
",
    open: false,
    fields: params::fields::<Params>,
};

struct Prepped {
    script: PathBuf,
    /// The arguments as written, passed to the host's shell.
    rest: String,
    executable: Vec<String>,
    chdir: Option<String>,
    creates: Option<String>,
    removes: Option<String>,
}

/// Splits a command line into its first shell word (unquoted) and the
/// rest as written.
fn first_word(line: &str) -> Result<(String, String), String> {
    let line = line.trim_start();
    let mut end = line.len();
    let mut quote_char: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote_char, c) {
            (None, '\\') | (Some('"'), '\\') => escaped = true,
            (None, '\'' | '"') => quote_char = Some(c),
            (Some(q), c) if c == q => quote_char = None,
            (None, c) if c.is_whitespace() => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let words = run::split(&line[..end])?;
    let word = words.into_iter().next().unwrap_or_default();
    Ok((word, line[end..].trim().to_string()))
}

/// `$1`..: the wrapper saves stdin to a temp file, runs it, removes it.
/// The user's arguments follow `"$t"` verbatim.
const WRAPPER_HEAD: &str = r#"t=$(mktemp "${TMPDIR:-/tmp}/tutti-script.XXXXXXXX") || { echo "cannot create a temp file for the script" >&2; exit 126; }
cat > "$t" && chmod 700 "$t" || { rm -f -- "$t"; echo "cannot upload the script" >&2; exit 126; }
"#;

impl Module for Script {
    fn name(&self) -> &'static str {
        "script"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let line = free_form(p.raw_params, p.cmd)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ParamError::new("no script given"))?;
        let (script, rest) = first_word(&line)
            .map_err(|e| ParamError::at("_raw_params", format!("cannot split the command: {e}")))?;
        let executable = match p.executable.filter(|e| !e.trim().is_empty()) {
            Some(e) => run::split(&e)
                .map_err(|err| ParamError::at("executable", format!("cannot split: {err}")))?,
            None => Vec::new(),
        };
        Ok(Box::new(Prepped {
            script: PathBuf::from(script),
            rest,
            executable,
            chdir: p.chdir.filter(|c| !c.is_empty()),
            creates: p.creates.filter(|c| !c.is_empty()),
            removes: p.removes.filter(|r| !r.is_empty()),
        }))
    }
}

impl Prepped {
    fn cmd(&self) -> Cmd {
        let mut s = String::from(WRAPPER_HEAD);
        for w in &self.executable {
            s.push_str(&quote(w));
            s.push(' ');
        }
        s.push_str("\"$t\"");
        if !self.rest.is_empty() {
            s.push(' ');
            s.push_str(&self.rest);
        }
        s.push_str(" </dev/null\nrc=$?\nrm -f -- \"$t\"\nexit $rc\n");
        let mut cmd = Cmd::script(s).stdin_file(self.script.clone());
        if let Some(dir) = &self.chdir {
            cmd = cmd.chdir(dir.clone());
        }
        cmd
    }

    async fn matches(&self, host: &dyn HostRead, pattern: &str) -> Result<bool, ModuleError> {
        let out = host
            .probe(&glob_probe(pattern, self.chdir.as_deref()))
            .await?;
        match out.rc {
            0 => Ok(true),
            1 => Ok(false),
            rc => Err(ModuleError::failed(format!(
                "could not check whether '{pattern}' exists (rc {rc}): {}",
                text::decode(&out.stderr).trim_end()
            ))),
        }
    }
}

fn skipped(msg: String) -> Plan {
    let mut r = Facts::new();
    r.insert("changed".into(), json!(false));
    r.insert("msg".into(), json!(msg));
    r.insert("rc".into(), json!(0));
    r.insert("stdout".into(), json!(msg));
    r.insert("stdout_lines".into(), json!([msg]));
    r.insert("stderr".into(), json!(""));
    r.insert("stderr_lines".into(), json!([]));
    Plan::InSync { result: r }
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        if !self.script.is_file() {
            return Err(ModuleError::failed(format!(
                "Could not find or access '{}' on the Ansible Controller.",
                self.script.display()
            )));
        }
        if let Some(c) = &self.creates
            && self.matches(host, c).await?
        {
            return Ok(skipped(format!("skipped, since {c} exists")));
        }
        if let Some(r) = &self.removes
            && !self.matches(host, r).await?
        {
            return Ok(skipped(format!("skipped, since {r} does not exist")));
        }
        if self.creates.is_some() || self.removes.is_some() {
            let mut r = Facts::new();
            r.insert("changed".into(), json!(true));
            return Ok(Plan::Change {
                changes: vec![format!("run {}", self.script.display())],
                diff: Vec::new(),
                result: r,
            });
        }
        Ok(Plan::Unpredictable {
            reason: "Check mode is not supported for this task".into(),
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        if let Plan::InSync { result } = plan {
            return Ok(Applied {
                result,
                ..Applied::default()
            });
        }
        let out = host.run(&self.cmd()).await?;
        let mut r = Facts::new();
        r.insert("changed".into(), json!(true));
        r.insert("rc".into(), json!(out.rc));
        insert_output(&mut r, &out, false);
        let failed = out.rc != 0;
        let msg = failed.then(|| "non-zero return code".to_string());
        if let Some(m) = &msg {
            r.insert("msg".into(), Value::String(m.clone()));
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn splits_the_script_from_its_arguments() {
        assert_eq!(
            first_word("  '/a b/s.sh' x \"$HOME\" | y").unwrap(),
            ("/a b/s.sh".into(), "x \"$HOME\" | y".into())
        );
        assert_eq!(first_word("/s.sh").unwrap(), ("/s.sh".into(), "".into()));
        assert_eq!(
            first_word("/a\\ b.sh c").unwrap(),
            ("/a b.sh".into(), "c".into())
        );
    }
}
