//! System modules: users and groups, SSH keys and known hosts, cron,
//! hostname, sysctl, mounts, kernel modules, time zone and `getent`.
//!
//! Each module learns the host's state in one probe: a constant POSIX `sh`
//! script run as `sh -c SCRIPT sh ARG...` (values arrive as positional
//! arguments, quoted by construction) whose output is split into named
//! sections by [`parse_sections`]. Changes are one command each.

pub mod authorized_key;
pub mod cron;
pub mod getent;
pub mod group;
pub mod hostname;
pub mod known_hosts;
pub mod modprobe;
pub mod mount;
pub mod passwd;
pub mod sysctl;
pub mod timezone;
pub mod user;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::cmd::Cmd;
use crate::host::{Host, HostRead, Output};
use crate::module::{ModuleError, ParamError};
use crate::plan::Facts;

/// Shell prologue for probe scripts: `s NAME CMD...` runs `CMD`, then ends
/// its section with a line `\x1eNAME RC` (after a newline, so the body is
/// kept byte for byte).
pub const SECTION_PRELUDE: &str = r#"LC_ALL=C; export LC_ALL
s() { n=$1; shift; "$@"; r=$?; printf '\n\036%s %s\n' "$n" "$r"; }
"#;

/// One section of a probe's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub rc: i32,
    pub body: String,
}

impl Section {
    /// The body when the command succeeded, else `None`.
    pub fn ok(&self) -> Option<&str> {
        (self.rc == 0).then_some(self.body.as_str())
    }
}

/// The sections of a probe's output, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sections(pub BTreeMap<String, Section>);

impl Sections {
    /// The section `name`; a missing one reads as failed and empty.
    pub fn get(&self, name: &str) -> Section {
        self.0.get(name).cloned().unwrap_or(Section {
            rc: 127,
            body: String::new(),
        })
    }

    /// The body of `name` when its command succeeded.
    pub fn ok(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(|s| s.ok().map(str::to_string))
    }

    /// Whether `name` is there and succeeded.
    pub fn success(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|s| s.rc == 0)
    }
}

/// Splits probe output written with [`SECTION_PRELUDE`]'s `s`.
pub fn parse_sections(out: &[u8]) -> Sections {
    let text = String::from_utf8_lossy(out);
    let mut map = BTreeMap::new();
    let mut rest: &str = &text;
    while let Some(i) = rest.find("\n\u{1e}") {
        let body = &rest[..i];
        let after = &rest[i + 2..];
        let (header, next) = match after.find('\n') {
            Some(j) => (&after[..j], &after[j + 1..]),
            None => (after, ""),
        };
        let mut parts = header.splitn(2, ' ');
        let name = parts.next().unwrap_or_default().to_string();
        let rc = parts
            .next()
            .and_then(|r| r.trim().parse().ok())
            .unwrap_or(-1);
        map.insert(
            name,
            Section {
                rc,
                body: body.to_string(),
            },
        );
        rest = next;
    }
    Sections(map)
}

/// `sh -c SCRIPT sh ARGS...`: a constant script with quoted arguments.
pub fn sh<I, S>(script: &str, args: I) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Cmd::new("sh").arg("-c").arg(script).arg("sh").args(args)
}

/// Runs a probe script and splits its output into sections.
pub async fn probe_sections(host: &dyn HostRead, cmd: &Cmd) -> Result<Sections, ModuleError> {
    let out = host.probe(cmd).await?;
    Ok(parse_sections(&out.stdout))
}

/// Ansible's `rc`/`stdout`/`stderr` result keys for a command.
pub fn output_keys(out: &Output, r: &mut Facts) {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    r.insert("rc".into(), json!(out.rc));
    r.insert("stdout".into(), json!(stdout));
    r.insert("stderr".into(), json!(stderr));
}

/// A failed command as a module error: `msg` plus `rc`/`stdout`/`stderr`.
pub fn command_failed(msg: &str, out: &Output) -> ModuleError {
    let mut result = Facts::new();
    output_keys(out, &mut result);
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let text = if err.is_empty() {
        msg.to_string()
    } else {
        format!("{msg}: {err}")
    };
    ModuleError::Failed { msg: text, result }
}

/// Runs `cmd`; a non-zero exit is a module error with `msg`.
pub async fn run_checked(host: &dyn Host, cmd: &Cmd, msg: &str) -> Result<Output, ModuleError> {
    let out = host.run(cmd).await?;
    if out.success() {
        Ok(out)
    } else {
        Err(command_failed(msg, &out))
    }
}

/// `$1` database, `$2` key, `$3` local (1/0), `$4` password on stdin
/// (1/0), then the command's argv. Runs the command (with `-p PASSWORD`
/// after the program when `$4` is 1, so the hash never appears in the
/// command line we log), then prints the database entry for `$2`.
/// Sections: `cmd` (stdout, rc), `err` (stderr), `entry`.
pub const RUN_THEN_ENT: &str = r#"db=$1 key=$2 local=$3 pw=$4; shift 4
ent() {
  if [ "$local" = 1 ]; then
    if [ $# -eq 1 ]; then cat "/etc/$1"; else awk -F: -v k="$2" '$1==k{print;f=1} END{exit f?0:2}' "/etc/$1"; fi
  else getent "$@"; fi
}
if [ "$pw" = 1 ]; then IFS= read -r p; c=$1; shift; set -- "$c" -p "$p" "$@"; fi
e=$(mktemp) || exit 1
s cmd "$@" 2>"$e"
s err cat -- "$e"
rm -f -- "$e"
s entry ent "$db" "$key"
"#;

/// Runs `argv` through [`RUN_THEN_ENT`]: its output (rc, stdout, stderr)
/// and the entry of `key` in `db` afterwards, in one round trip.
pub async fn run_then_ent(
    host: &dyn Host,
    argv: &[String],
    db: &str,
    key: &str,
    local: bool,
    password: Option<&str>,
) -> Result<(Output, Option<String>), ModuleError> {
    let mut args = vec![
        db.to_string(),
        key.to_string(),
        if local { "1" } else { "0" }.to_string(),
        if password.is_some() { "1" } else { "0" }.to_string(),
    ];
    args.extend(argv.iter().cloned());
    let mut cmd = sh(&format!("{SECTION_PRELUDE}{RUN_THEN_ENT}"), args);
    if let Some(p) = password {
        cmd = cmd.stdin(format!("{p}\n"));
    }
    let out = host.run(&cmd).await?;
    let s = parse_sections(&out.stdout);
    let c = s.get("cmd");
    let o = Output {
        rc: if s.0.contains_key("cmd") {
            c.rc
        } else {
            out.rc
        },
        stdout: c.body.into_bytes(),
        stderr: if s.0.contains_key("err") {
            s.get("err").body.into_bytes()
        } else {
            out.stderr
        },
    };
    Ok((o, s.ok("entry")))
}

/// A `choices` parameter: `value` (or `default`) must be one of `choices`.
pub fn choice(
    param: &str,
    value: Option<&str>,
    default: &str,
    choices: &[&str],
) -> Result<String, ParamError> {
    let v = value.unwrap_or(default);
    if choices.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(ParamError::at(
            param,
            format!(
                "value of {param} must be one of: {}, got: {v}",
                choices.join(", ")
            ),
        ))
    }
}

/// Adds `key: value` to `r` when the value is there.
pub fn put_opt(r: &mut Facts, key: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        r.insert(key.into(), v.into());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sections_keep_bodies_exactly() {
        let out = b"a:b\n\n\x1eone 0\nno newline\n\x1etwo 2\n\n\x1eempty 0\n";
        let s = parse_sections(out);
        assert_eq!(s.get("one").body, "a:b\n");
        assert_eq!(s.get("two").body, "no newline");
        assert_eq!(s.get("two").rc, 2);
        assert_eq!(s.ok("empty").unwrap(), "");
        assert_eq!(s.get("missing").rc, 127);
        assert!(!s.success("two"));
    }
}
