//! What `command` and `shell` share: the `creates`/`removes` guards checked
//! on the host by a read-only glob probe, running the command, and building
//! Ansible's result keys (`cmd`, `rc`, `stdout`, `start`, `delta`, ...).
//! Also the output helpers `raw` uses, and the Python-compatible `shlex`
//! splitter for `command`'s free form.

use std::time::{Duration, Instant};

use chrono::{DateTime, Local, Timelike};
use serde_json::{Value, json};

use crate::cmd::Cmd;
use crate::host::{Host, HostRead, Output};
use crate::module::{ModuleError, Prepared};
use crate::plan::{Applied, Facts, Plan};
use crate::text;

/// The probe behind `creates`/`removes`: exit 0 when the glob in `$2`
/// matches an existing path (or a dangling symlink, as Python's
/// `glob.glob` does), 1 when it matches nothing, 2 when `cd` to `$1`
/// fails. `IFS=` turns off field splitting, so an unquoted `$2` undergoes
/// pathname expansion only; expansion results are never re-parsed, so
/// nothing else in the pattern is interpreted. A leading `~` is expanded
/// because Ansible's `type='path'` does so for these parameters.
pub const GLOB_PROBE_SCRIPT: &str = concat!(
    "IFS=; ",
    "if [ -n \"$1\" ]; then cd -- \"$1\" || exit 2; fi; ",
    "case $2 in \"~\"|\"~/\"*) set -- \"$1\" \"$HOME${2#?}\";; esac; ",
    "for f in $2; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then exit 0; fi; done; ",
    "exit 1"
);

/// The read-only command that asks whether `pattern` matches anything,
/// relative to `chdir` when given.
pub fn glob_probe(pattern: &str, chdir: Option<&str>) -> Cmd {
    Cmd::new("sh")
        .arg("-c")
        .arg(GLOB_PROBE_SCRIPT)
        .arg("sh")
        .arg(chdir.unwrap_or(""))
        .arg(pattern)
}

/// Why `command`/`shell` would not run, or would run, in check mode.
pub(crate) const WOULD_RUN: &str = "Command would have run if not in check mode";

/// A validated `command` or `shell` task.
pub(crate) struct RunCommand {
    /// The `cmd` result key: the argv list (`command`) or script (`shell`).
    pub cmd_key: Value,
    /// What to run, with chdir and stdin already attached.
    pub to_run: Cmd,
    /// Expand `$VAR` and `~` in the arguments on the host first
    /// (`command`'s `expand_argument_vars`, when an argument has either).
    pub expand: bool,
    /// The program is run directly (`command`), not by a shell (`shell`).
    pub direct: bool,
    pub chdir: Option<String>,
    pub creates: Option<String>,
    pub removes: Option<String>,
    pub strip_empty_ends: bool,
    /// Warnings about the arguments (an ignored `executable`, say).
    pub warnings: Vec<String>,
}

/// Treats an empty string like an absent parameter, as Python's `if x:` does.
pub(crate) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// Attaches `stdin` the way Ansible's `run_command` does: nothing for an
/// absent or empty value, and a trailing newline unless told otherwise.
pub(crate) fn with_stdin(cmd: Cmd, stdin: Option<String>, add_newline: bool) -> Cmd {
    match stdin {
        Some(s) if !s.is_empty() => {
            let mut data = s.into_bytes();
            if add_newline {
                data.push(b'\n');
            }
            cmd.stdin(data)
        }
        _ => cmd,
    }
}

impl RunCommand {
    /// The errno Python's exec would have raised, when the shell says it
    /// could not run `command`'s program (127 not found, 126 not
    /// executable, with its message naming the program).
    fn exec_error(&self, cmd: &Cmd, out: &Output) -> Option<i32> {
        if !self.direct {
            return None;
        }
        let prog = cmd.argv_parts()?.first()?;
        let stderr = text::decode(&out.stderr);
        let names = stderr.contains(&format!("{prog}: "));
        match out.rc {
            127 if names && (stderr.contains("not found") || stderr.contains("No such file")) => {
                Some(2)
            }
            126 if names && stderr.contains("Permission denied") => Some(13),
            _ => None,
        }
    }

    /// The keys Ansible reports when the command does not run.
    fn not_run(&self, msg: String, stdout: String, changed: bool) -> Facts {
        let mut r = Facts::new();
        r.insert("changed".into(), Value::Bool(changed));
        r.insert("stdout".into(), json!(stdout));
        r.insert("stderr".into(), json!(""));
        r.insert("rc".into(), json!(0));
        r.insert("cmd".into(), self.cmd_key.clone());
        r.insert("start".into(), Value::Null);
        r.insert("end".into(), Value::Null);
        r.insert("delta".into(), Value::Null);
        r.insert("msg".into(), json!(msg));
        r.insert("stdout_lines".into(), json!(text::lines(&stdout)));
        r.insert("stderr_lines".into(), json!([]));
        r
    }

    /// Whether `pattern` matches anything on the host.
    async fn matches(&self, host: &dyn HostRead, pattern: &str) -> Result<bool, ModuleError> {
        let out = host
            .probe(&glob_probe(pattern, self.chdir.as_deref()))
            .await?;
        match out.rc {
            0 => Ok(true),
            1 => Ok(false),
            2 => {
                let mut result = Facts::new();
                result.insert("cmd".into(), self.cmd_key.clone());
                result.insert("rc".into(), json!(None::<i32>));
                result.insert("stderr".into(), json!(text::decode(&out.stderr)));
                Err(ModuleError::Failed {
                    msg: "Unable to change directory before execution.".into(),
                    result,
                })
            }
            rc => Err(ModuleError::failed(format!(
                "could not check whether '{pattern}' exists (rc {rc}): {}",
                text::decode(&out.stderr).trim_end()
            ))),
        }
    }
}

#[async_trait::async_trait]
impl Prepared for RunCommand {
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        if let Some(creates) = &self.creates
            && self.matches(host, creates).await?
        {
            return Ok(Plan::InSync {
                result: self.not_run(
                    format!("Did not run command since '{creates}' exists"),
                    format!("skipped, since {creates} exists"),
                    false,
                ),
            });
        }
        if let Some(removes) = &self.removes
            && !self.matches(host, removes).await?
        {
            return Ok(Plan::InSync {
                result: self.not_run(
                    format!("Did not run command since '{removes}' does not exist"),
                    format!("skipped, since {removes} does not exist"),
                    false,
                ),
            });
        }
        if self.creates.is_some() || self.removes.is_some() {
            // A guard decided the command would run: Ansible reports
            // changed in check mode here, so this is a real change.
            return Ok(Plan::Change {
                changes: vec![WOULD_RUN.into()],
                diff: Vec::new(),
                result: self.not_run(WOULD_RUN.into(), String::new(), true),
            });
        }
        Ok(Plan::Unpredictable {
            reason: WOULD_RUN.into(),
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        if let Plan::InSync { result } = plan {
            return Ok(Applied {
                result,
                ..Applied::default()
            });
        }
        let to_run = if self.expand {
            let mut words: Vec<String> = self.to_run.argv_parts().unwrap_or_default().to_vec();
            let mut refs: Vec<&mut String> = words.iter_mut().collect();
            crate::expand::expand_all(host, &mut refs).await?;
            self.to_run.clone().with_argv(words)
        } else {
            self.to_run.clone()
        };
        let started = Clock::now();
        let out = host.run(&to_run).await?;
        let ended = Clock::now();
        // A failure may be the `cd` itself: say so as Ansible does (it
        // changes directory before running). Checked only on failure, so
        // the usual path costs no extra round trip.
        if out.rc != 0
            && let Some(dir) = &self.chdir
            && !host
                .stat(dir, &crate::fs::StatOpts::follow())
                .await?
                .is_some_and(|st| st.is_dir())
        {
            return Err(ModuleError::failed(format!(
                "Unable to change directory before execution: [Errno 2] No such file or directory: '{dir}'"
            )));
        }
        // `command` execs its program directly in Ansible: a program that
        // is missing or not executable is an OSError (errno 2 or 13), not
        // the shell's 127/126 and its message.
        if let Some(errno) = self.exec_error(&to_run, &out) {
            let mut r = Facts::new();
            r.insert("changed".into(), Value::Bool(false));
            insert_output(&mut r, &Output::default(), true);
            r.insert("rc".into(), json!(errno));
            r.insert("cmd".into(), self.cmd_key.clone());
            return Err(ModuleError::Failed {
                msg: "Error executing command.".into(),
                result: r,
            });
        }
        let mut r = Facts::new();
        r.insert("changed".into(), Value::Bool(true));
        insert_output(&mut r, &out, self.strip_empty_ends);
        r.insert("rc".into(), json!(out.rc));
        r.insert("cmd".into(), self.cmd_key.clone());
        r.insert("start".into(), json!(started.wall_text()));
        r.insert("end".into(), json!(ended.wall_text()));
        r.insert(
            "delta".into(),
            json!(timedelta_text(ended.mono.duration_since(started.mono))),
        );
        Ok(finish(r, out.rc))
    }
}

/// Adds `stdout`, `stderr` and their `_lines`, decoded losslessly and, when
/// `strip` is set, without trailing line ends (Python's `rstrip("\r\n")`).
pub(crate) fn insert_output(r: &mut Facts, out: &Output, strip: bool) {
    let tidy = |bytes: &[u8]| {
        let s = text::decode(bytes);
        if strip {
            s.trim_end_matches(['\r', '\n']).to_string()
        } else {
            s
        }
    };
    let stdout = tidy(&out.stdout);
    let stderr = tidy(&out.stderr);
    r.insert("stdout".into(), json!(stdout));
    r.insert("stderr".into(), json!(stderr));
    r.insert("stdout_lines".into(), json!(text::lines(&stdout)));
    r.insert("stderr_lines".into(), json!(text::lines(&stderr)));
}

/// Sets `msg` and `failed` from the exit status: a non-zero status fails
/// the task with Ansible's "non-zero return code".
pub(crate) fn finish(mut r: Facts, rc: i32) -> Applied {
    let failed = rc != 0;
    let msg = if failed { "non-zero return code" } else { "" };
    r.insert("msg".into(), json!(msg));
    Applied {
        changed: true,
        failed,
        msg: failed.then(|| msg.to_string()),
        result: r,
        diff: Vec::new(),
    }
}

/// A wall-clock time for `start`/`end` and a monotonic one for `delta`, so
/// clock adjustments during the command cannot make `delta` negative.
struct Clock {
    wall: DateTime<Local>,
    mono: Instant,
}

impl Clock {
    fn now() -> Self {
        Clock {
            wall: Local::now(),
            mono: Instant::now(),
        }
    }

    /// Python's `str(datetime)`: microseconds only when non-zero.
    fn wall_text(&self) -> String {
        if self.wall.nanosecond() / 1000 == 0 {
            self.wall.format("%Y-%m-%d %H:%M:%S").to_string()
        } else {
            self.wall.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
        }
    }
}

/// Python's `str(timedelta)`: `0:00:00.004883`, `1 day, 2:03:04`.
pub(crate) fn timedelta_text(d: Duration) -> String {
    let secs = d.as_secs();
    let micros = d.subsec_micros();
    let days = secs / 86_400;
    let (h, m, s) = ((secs % 86_400) / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if days > 0 {
        let unit = if days == 1 { "day" } else { "days" };
        out.push_str(&format!("{days} {unit}, "));
    }
    out.push_str(&format!("{h}:{m:02}:{s:02}"));
    if micros != 0 {
        out.push_str(&format!(".{micros:06}"));
    }
    out
}

/// Splits a command line into words as Python's `shlex.split` does (POSIX
/// mode, no comments), which is what Ansible's `command` uses: outside
/// quotes a backslash takes the next character literally; in single quotes
/// nothing is special; in double quotes a backslash escapes only `"` and
/// `\`. `$`, `*`, `;`, `|` and the like are ordinary characters.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word is in progress (possibly empty, after `''`).
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => {
                let next = chars.next().ok_or("No escaped character")?;
                word.push(next);
                in_word = true;
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next().ok_or("No closing quotation")? {
                        '\'' => break,
                        other => word.push(other),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next().ok_or("No closing quotation")? {
                        '"' => break,
                        '\\' => {
                            let next = chars.next().ok_or("No closing quotation")?;
                            if next != '"' && next != '\\' {
                                word.push('\\');
                            }
                            word.push(next);
                        }
                        other => word.push(other),
                    }
                }
            }
            other => {
                word.push(other);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_like_python_shlex() {
        assert_eq!(split("ls -l /tmp").unwrap(), s(&["ls", "-l", "/tmp"]));
        assert_eq!(split("  a\t b\n").unwrap(), s(&["a", "b"]));
        assert_eq!(
            split(r#"echo "a b" 'c d' e\ f"#).unwrap(),
            s(&["echo", "a b", "c d", "e f"])
        );
        assert_eq!(split(r#"a"b c"d"#).unwrap(), s(&["ab cd"]));
        assert_eq!(split("x '' \"\"").unwrap(), s(&["x", "", ""]));
        // Python keeps the backslash before `$` inside double quotes.
        assert_eq!(
            split(r#"echo "\$HOME \" \\ \n""#).unwrap(),
            s(&["echo", r#"\$HOME " \ \n"#])
        );
        assert_eq!(split(r"echo 'a\b'").unwrap(), s(&["echo", r"a\b"]));
        assert_eq!(
            split("echo $HOME; rm # x").unwrap(),
            s(&["echo", "$HOME;", "rm", "#", "x"])
        );
        assert_eq!(split("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn split_errors_match_python() {
        assert_eq!(split("echo 'abc").unwrap_err(), "No closing quotation");
        assert_eq!(split("echo \"abc").unwrap_err(), "No closing quotation");
        assert_eq!(split("echo abc\\").unwrap_err(), "No escaped character");
    }

    #[test]
    fn formats_timedelta_like_python() {
        assert_eq!(
            timedelta_text(Duration::from_micros(4883)),
            "0:00:00.004883"
        );
        assert_eq!(timedelta_text(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(
            timedelta_text(Duration::from_secs(86_400 + 61)),
            "1 day, 0:01:01"
        );
        assert_eq!(
            timedelta_text(Duration::from_secs(2 * 86_400)),
            "2 days, 0:00:00"
        );
    }

    #[test]
    fn strips_only_trailing_line_ends() {
        let mut r = Facts::new();
        let out = Output {
            rc: 0,
            stdout: b"\na\r\n\n".to_vec(),
            stderr: b"e\n".to_vec(),
        };
        insert_output(&mut r, &out, true);
        assert_eq!(r["stdout"], "\na");
        assert_eq!(r["stdout_lines"], json!(["", "a"]));
        assert_eq!(r["stderr"], "e");
        insert_output(&mut r, &out, false);
        assert_eq!(r["stdout"], "\na\r\n\n");
    }
}
