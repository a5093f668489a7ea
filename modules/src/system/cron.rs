//! The `cron` module: manage a job (or an environment variable) in a
//! user's crontab or in a `/etc/cron.d` file, identified by Ansible's
//! `#Ansible: <name>` marker line, in exactly Ansible's format.
//!
//! One probe reads the crontab (`crontab -l -u USER`) or the file; one run
//! installs the new crontab (`crontab -u USER -`, content on stdin) or
//! writes the file atomically. A host without `crontab` gets a clear error.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::{SECTION_PRELUDE, choice, probe_sections, sh};
use crate::files::attrs::Mode;
use crate::files::common::Stash;
use crate::fs::{Content, WriteOpts};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Diff, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `cron` module.
pub struct Cron;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_bool")]
    backup: Option<bool>,
    #[serde(default, alias = "dest", deserialize_with = "params::opt_string")]
    cron_file: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    day: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    disabled: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    env: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    hour: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    insertafter: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    insertbefore: Option<String>,
    #[serde(default, alias = "value", deserialize_with = "params::opt_string")]
    job: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    minute: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    month: Option<String>,
    name: String,
    #[serde(default, deserialize_with = "params::opt_string")]
    special_time: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    user: Option<String>,
    #[serde(default, alias = "dow", deserialize_with = "params::opt_string")]
    weekday: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "cron",
    short: "Manage cron jobs and crontab variables",
    description: "Adds, updates or removes one job in a user's crontab or in a \
        file under `/etc/cron.d`, identified by a `#Ansible: NAME` comment \
        line above it (a matching unmarked job line gets the marker added). \
        With `env`, manages a `NAME=\"value\"` variable line instead. The \
        crontab is read with `crontab -l` and installed again with `crontab \
        -` only when the edited text differs; a cron file is written \
        atomically (mode 0644, owned by root) and deleted when removing the \
        job leaves it empty.",
    params: &[
        param(
            "backup",
            Kind::Bool,
            "Keep the previous version before changing it (a crontab in a \
            temporary file, a cron file as a timestamped copy beside it); its \
            path is returned as `backup_file`.",
        )
        .default("false"),
        param(
            "cron_file",
            Kind::Str,
            "Manage the job in this file instead of a user's crontab; a \
            relative name is taken under `/etc/cron.d`. Lines in it carry the \
            user (`user`, or root) before the command.",
        )
        .aliases(&["dest"]),
        param(
            "day",
            Kind::Str,
            "Day of the month field (1-31, `*`, `*/2`, ...).",
        )
        .default("*"),
        param(
            "disabled",
            Kind::Bool,
            "Write the job commented out with `#`.",
        )
        .default("false"),
        param(
            "env",
            Kind::Bool,
            "Manage the crontab variable `name`, set to `job`, instead of a \
            job; a new variable goes at the top unless `insertafter` or \
            `insertbefore` names another variable.",
        )
        .default("false"),
        param("hour", Kind::Str, "Hour field (0-23, `*`, `*/2`, ...).").default("*"),
        param(
            "insertafter",
            Kind::Str,
            "With `env`, put a new variable after the variable of this name.",
        ),
        param(
            "insertbefore",
            Kind::Str,
            "With `env`, put a new variable before the variable of this name.",
        ),
        param(
            "job",
            Kind::Str,
            "The command to run, or with `env` the variable's value. Needed \
            when `state` is `present`.",
        )
        .aliases(&["value"]),
        param("minute", Kind::Str, "Minute field (0-59, `*`, `*/5`, ...).").default("*"),
        param("month", Kind::Str, "Month field (1-12, `*`, ...).").default("*"),
        param(
            "name",
            Kind::Str,
            "The job's description, written in its `#Ansible:` marker line, \
            or with `env` the variable's name.",
        )
        .required(),
        param(
            "special_time",
            Kind::Str,
            "Run at a special time (`@reboot`, `@daily`, ...) instead of the \
            five time fields, which must then be left at `*`.",
        )
        .choices(&[
            "annually", "daily", "hourly", "monthly", "reboot", "weekly", "yearly",
        ]),
        param(
            "state",
            Kind::Str,
            "Whether the job or variable should exist.",
        )
        .default("present")
        .choices(&["absent", "present"]),
        param(
            "user",
            Kind::Str,
            "Whose crontab to edit (`crontab -u`); without it, the connecting \
            user's. In a `cron_file`, the user the job runs as (root when \
            absent).",
        ),
        param(
            "weekday",
            Kind::Str,
            "Day of the week field (0-6 for Sunday-Saturday, `*`, ...).",
        )
        .default("*")
        .aliases(&["dow"]),
    ],
    check: Support::Full,
    diff: Support::Full,
    example: "- name: Rotate the application's logs every night
  ansible.builtin.cron:
    name: rotate app logs
    minute: \"15\"
    hour: \"3\"
    job: /usr/local/bin/rotate-app-logs

- name: Run a cleanup at boot from a cron.d file
  ansible.builtin.cron:
    name: cleanup at boot
    special_time: reboot
    user: app
    cron_file: app-cleanup
    job: /opt/app/bin/cleanup

- name: Set PATH for the jobs in the crontab
  ansible.builtin.cron:
    name: PATH
    env: true
    job: /usr/local/bin:/usr/bin:/bin

- name: Remove a job
  ansible.builtin.cron:
    name: rotate app logs
    state: absent
",
    open: false,
    fields: params::fields::<Params>,
};

struct Task {
    name: String,
    present: bool,
    env: bool,
    /// The job line (or `NAME="value"` for `env`).
    line: Option<String>,
    user: Option<String>,
    cron_file: Option<String>,
    insertafter: Option<String>,
    insertbefore: Option<String>,
    backup: bool,
    stash: Stash<Vec<String>>,
}

/// The marker line before each job.
pub const MARKER: &str = "#Ansible: ";

/// `$1` user (empty: the connecting user). (A cron file is read with
/// [`HostRead::read`] instead.)
pub const PROBE: &str = r#"u=$1
if ! command -v crontab >/dev/null 2>&1; then
  s nocrontab true
elif [ -n "$u" ]; then
  s tab crontab -l -u "$u" 2>&1
else
  s tab crontab -l 2>&1
fi
"#;

/// `$1` user (empty: the connecting user), `$2` backup (1/0); the new
/// crontab on stdin. Prints the backup file, if any.
pub const INSTALL: &str = r#"u=$1 backup=$2
if [ "$backup" = 1 ]; then
  b=$(mktemp "${TMPDIR:-/tmp}/crontab.XXXXXXXX") || exit 1
  crontab ${u:+-u "$u"} -l > "$b" 2>/dev/null
  printf '%s' "$b"
fi
exec crontab ${u:+-u "$u"} -
"#;

impl Module for Cron {
    fn name(&self) -> &'static str {
        "cron"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let state = choice(
            "state",
            p.state.as_deref(),
            "present",
            &["absent", "present"],
        )?;
        let present = state == "present";
        let env = p.env.unwrap_or(false);
        let special = match p.special_time.as_deref() {
            None => None,
            Some(s) => Some(choice(
                "special_time",
                Some(s),
                "",
                &[
                    "annually", "daily", "hourly", "monthly", "reboot", "weekly", "yearly",
                ],
            )?),
        };
        let fields: Vec<String> = [&p.minute, &p.hour, &p.day, &p.month, &p.weekday]
            .iter()
            .map(|f| (*f).clone().unwrap_or_else(|| "*".into()))
            .collect();
        if special.is_some() && fields.iter().any(|f| f != "*") {
            return Err(ParamError::new(
                "You must specify time and date fields or special time.",
            ));
        }
        if p.insertafter.is_some() && p.insertbefore.is_some() {
            return Err(ParamError::new(
                "parameters are mutually exclusive: insertafter|insertbefore",
            ));
        }
        if present && p.job.is_none() {
            return Err(ParamError::at(
                "job",
                "You must specify 'job' to install a new cron job or variable",
            ));
        }
        if env && p.name.contains(' ') {
            return Err(ParamError::at(
                "name",
                "Invalid name for environment variable",
            ));
        }
        let cron_file = p.cron_file.filter(|f| !f.is_empty()).map(|f| {
            if f.starts_with('/') {
                f
            } else {
                format!("/etc/cron.d/{f}")
            }
        });
        let user = p.user.filter(|u| !u.is_empty());
        let file_user = user.clone().unwrap_or_else(|| "root".into());
        let line = p.job.as_ref().map(|job| {
            if env {
                return format!("{}=\"{job}\"", p.name);
            }
            let prefix = if p.disabled.unwrap_or(false) { "#" } else { "" };
            let who = if cron_file.is_some() {
                format!("{file_user} ")
            } else {
                String::new()
            };
            match &special {
                Some(s) => format!("{prefix}@{s} {who}{job}"),
                None => format!("{prefix}{} {who}{job}", fields.join(" ")),
            }
        });
        Ok(Box::new(Task {
            name: p.name,
            present,
            env,
            line,
            user,
            cron_file,
            insertafter: p.insertafter,
            insertbefore: p.insertbefore,
            backup: p.backup.unwrap_or(false),
            stash: Stash::default(),
        }))
    }
}

/// The header lines `crontab -l` of some versions prints, which Ansible
/// drops (only among the first three lines).
fn is_header(l: &str) -> bool {
    l.starts_with("# DO NOT EDIT THIS FILE - edit the master and reinstall.")
        || (l.starts_with("# (/tmp/") && l.contains("installed on"))
        || (l.starts_with("# (") && l.contains("version"))
}

/// The crontab as lines, without the headers.
pub fn lines_of(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if i < 3 && is_header(l) {
            continue;
        }
        out.push(l.to_string());
    }
    out
}

/// Ansible's rendering: lines joined, one final newline, empty when empty.
pub fn render(lines: &[String]) -> String {
    let s = lines.join("\n");
    let s = s.trim_end_matches(['\r', '\n']);
    if s.is_empty() {
        String::new()
    } else {
        format!("{s}\n")
    }
}

/// Names from the `#Ansible:` markers.
pub fn job_names(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(MARKER).map(str::to_string))
        .collect()
}

/// Names of `NAME=value` lines.
pub fn env_names(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| {
            let name = l.split('=').next().unwrap_or_default();
            l.contains('=') && !name.is_empty() && !name.chars().any(char::is_whitespace)
        })
        .filter_map(|l| l.split('=').next().map(str::to_string))
        .collect()
}

fn find_env(lines: &[String], name: &str) -> Option<usize> {
    let prefix = format!("{name}=");
    lines.iter().position(|l| l.starts_with(&prefix))
}

impl Task {
    fn marker(&self) -> String {
        format!("{MARKER}{}", self.name)
    }

    /// The new lines, or an error message.
    fn edit(&self, mut lines: Vec<String>) -> Result<Vec<String>, ModuleError> {
        if self.env {
            let at = find_env(&lines, &self.name);
            match (self.present, at, &self.line) {
                (true, Some(i), Some(decl)) => lines[i] = decl.clone(),
                (true, None, Some(decl)) => {
                    let other = self.insertafter.as_ref().or(self.insertbefore.as_ref());
                    match other {
                        None => lines.insert(0, decl.clone()),
                        Some(o) => {
                            let Some(mut i) = find_env(&lines, o) else {
                                return Err(ModuleError::failed(format!(
                                    "Variable named '{o}' not found."
                                )));
                            };
                            if self.insertafter.is_some() {
                                i += 1;
                            }
                            lines.insert(i, decl.clone());
                        }
                    }
                }
                (false, Some(i), _) => {
                    lines.remove(i);
                }
                _ => {}
            }
            return Ok(lines);
        }
        let marker = self.marker();
        // By marker: the line after `#Ansible: NAME`.
        let by_marker = lines
            .iter()
            .enumerate()
            .find(|(i, l)| **l == marker && *i + 1 < lines.len())
            .map(|(i, _)| i);
        match (self.present, by_marker) {
            (true, Some(i)) => {
                if let Some(job) = &self.line {
                    lines[i + 1] = job.clone();
                }
                return Ok(lines);
            }
            (false, Some(i)) => {
                lines.drain(i..i + 2);
                return Ok(lines);
            }
            _ => {}
        }
        // Else by the exact job line, adding its marker (Ansible's
        // find_job: only a line without a named marker above it).
        if let Some(job) = &self.line {
            let blank = MARKER.trim_end();
            let hit = (0..lines.len()).find_map(|i| {
                if lines[i] != *job {
                    return None;
                }
                let prev = i.checked_sub(1).map(|p| lines[p].as_str());
                match prev {
                    Some(p) if p == blank || p == MARKER => Some((i, true)),
                    Some(p) if p.starts_with(MARKER) => None,
                    _ => Some((i, false)),
                }
            });
            if let Some((i, rename)) = hit {
                let m = if rename {
                    lines[i - 1] = marker.clone();
                    i - 1
                } else {
                    lines.insert(i, marker.clone());
                    i
                };
                if !self.present {
                    lines.drain(m..(m + 2).min(lines.len()));
                }
                return Ok(lines);
            }
        }
        if self.present
            && let Some(job) = &self.line
        {
            lines.push(marker);
            lines.push(job.clone());
        }
        Ok(lines)
    }

    fn header(&self) -> String {
        match (&self.cron_file, &self.user) {
            (Some(f), _) => f.clone(),
            (None, Some(u)) => format!("crontab for user \"{u}\""),
            (None, None) => "crontab".into(),
        }
    }
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        if let Some(f) = &self.cron_file {
            let content = host.read(f).await?;
            let exists = content.is_some();
            let before = String::from_utf8_lossy(&content.unwrap_or_default()).to_string();
            return self.plan(before, exists);
        }
        let s = probe_sections(
            host,
            &sh(
                &format!("{SECTION_PRELUDE}{PROBE}"),
                [self.user.clone().unwrap_or_default()],
            ),
        )
        .await?;
        if s.0.contains_key("nocrontab") {
            return Err(ModuleError::failed(
                "Failed to find required executable \"crontab\" in paths: install cron (Debian: apt-get install cron)",
            ));
        }
        let t = s.get("tab");
        let (before, exists) = if t.rc == 0 {
            (t.body, true)
        } else if t.rc == 1 {
            // "no crontab for USER" (and, as Ansible reads it, any exit 1:
            // an unknown user in check mode before the user task ran).
            (String::new(), false)
        } else {
            return Err(ModuleError::failed(format!(
                "Unable to read crontab: {}",
                t.body.trim()
            )));
        };
        self.plan(before, exists)
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        self.install(plan, host).await
    }
}

impl Task {
    fn plan(&self, before: String, exists: bool) -> Result<Plan, ModuleError> {
        let old = lines_of(&before);
        let new = self.edit(old.clone())?;
        let mut r = Facts::new();
        r.insert("jobs".into(), json!(job_names(&new)));
        r.insert("envs".into(), json!(env_names(&new)));
        let changed = new != old || (self.cron_file.is_some() && !exists && self.present);
        if !changed {
            return Ok(Plan::InSync { result: r });
        }
        let after = render(&new);
        let header = self.header();
        self.stash.put(new);
        Ok(Plan::Change {
            changes: vec![format!(
                "{} {} in {header}",
                if self.present { "set" } else { "remove" },
                if self.env { "variable" } else { "job" },
            )],
            diff: vec![Diff {
                data: None,
                before_header: Some(header.clone()),
                after_header: Some(header),
                before,
                after,
            }],
            result: r,
        })
    }

    async fn install(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change {
            mut result, diff, ..
        } = plan
        else {
            return Ok(Applied::default());
        };
        let Some(lines) = self.stash.get() else {
            return Err(ModuleError::failed("cron: apply without a check"));
        };
        let content = render(&lines);
        match &self.cron_file {
            Some(f) if content.is_empty() && !self.present => {
                host.remove(f).await?;
            }
            Some(f) => {
                let opts = WriteOpts {
                    mode: Some(Mode::Octal(0o644)),
                    owner: Some("root".into()),
                    group: Some("root".into()),
                    backup: self.backup,
                    ..WriteOpts::default()
                };
                let w = host
                    .write_atomic(f, Content::Bytes(content.into_bytes()), &opts)
                    .await?;
                if let crate::fs::WriteResult::Written {
                    backup_file: Some(b),
                    ..
                } = w
                {
                    result.insert("backup_file".into(), json!(b));
                }
            }
            None => {
                let cmd = sh(
                    INSTALL,
                    [
                        self.user.clone().unwrap_or_default(),
                        if self.backup { "1" } else { "0" }.to_string(),
                    ],
                )
                .stdin(content.into_bytes());
                let out = host.run(&cmd).await?;
                if !out.success() {
                    return Err(super::command_failed("Unable to install the crontab", &out));
                }
                if self.backup {
                    result.insert(
                        "backup_file".into(),
                        json!(String::from_utf8_lossy(&out.stdout).trim()),
                    );
                }
            }
        }
        Ok(Applied {
            changed: true,
            failed: false,
            msg: None,
            result,
            diff,
        })
    }
}
