//! One long-lived `/bin/sh` per SSH session and become setting, running
//! probes and tutti's own short commands ([`tutti_modules::Cmd::light`])
//! one after another. Such a command then costs the target a subshell
//! instead of a new sshd session process and login shell, which is most of
//! what a task costs there.
//!
//! Each command is sent as one line: the script, quoted by construction,
//! is `eval`ed in a subshell, then a line with a random key and the exit
//! status ends its stdout and a line with the key ends its stderr. The key
//! is new for each shell, so no output can fake the end of a command.
//! Stdin is /dev/null, or data staged in the shell's private directory:
//! the shell says when `head -c` is reading, and only then is exactly that
//! many bytes sent, so none can be taken for the next command line.

use std::time::Duration;

use tokio::time::Instant;
use tutti_modules::{HostError, Output, quote};

use super::SshProcess;
use crate::connection::r#become::{self, Become, Step, Watcher};
use crate::connection::exec::{Event, Process, next_event_within};

/// The most stdin handed over as a variable: the shell parses the whole
/// line before it runs any of it.
const VARIABLE_STDIN_MAX: usize = 256 * 1024;

/// Run once by the shell: its own private directory `$T` (removed when it
/// ends), and `tutti_self`, which sets `TUTTI_SELF` to who the shell runs
/// as, in `stat -c '%u %g %U %G'`'s format, from one `id` per shell. The
/// write script reports a file's owner with it when the file is its own,
/// instead of starting `stat` ([`tutti_modules::fs::WRITE_SCRIPT`]); when
/// `id` says anything unexpected (no names, a distinct effective id) it
/// fails and the script asks `stat`.
const SETUP: &str = r#"T=$(mktemp -d 2>/dev/null || mktemp -d "$HOME/.tutti.XXXXXX") &&
  trap 'rm -rf "$T"' EXIT && trap 'rm -rf "$T"; exit 1' HUP TERM &&
  tutti_self() {
    [ -s "$T/id" ] || {
      _i=$(id) &&
      case $_i in *euid=*|*egid=*) false;; uid=*\(*\)\ gid=*\(*\)\ groups=*) ;; *) false;; esac &&
      _u=${_i#uid=} && _g=${_u#*) gid=} && _u=${_u%%) gid=*} && _g=${_g%%) groups=*} &&
      printf '%s %s %s %s\n' "${_u%%(*}" "${_g%%(*}" "${_u#*(}" "${_g#*(}" >"$T/id"
    } || return 1
    IFS= read -r TUTTI_SELF <"$T/id"
  }"#;

pub(super) struct ProbeShell {
    proc: SshProcess,
    key: String,
    /// Whether the shell has its private directory `$T`, where a command's
    /// stdin is staged.
    has_tmp: bool,
}

impl ProbeShell {
    /// Starts `sh` on an open channel (escalating first when `become_` is
    /// set, answering the password prompt as a single command would).
    pub(super) async fn start(
        channel: russh::Channel<russh::client::Msg>,
        become_: Option<&Become>,
        become_timeout: Duration,
    ) -> Result<Self, HostError> {
        let key = r#become::new_key();
        let command = match become_ {
            Some(b) => r#become::wrap("exec /bin/sh", b, &key),
            None => "exec /bin/sh".to_string(),
        };
        channel
            .exec(true, command.into_bytes())
            .await
            .map_err(|e| HostError::Unreachable(format!("cannot start a shell: {e}")))?;
        let mut proc = SshProcess::new(channel);
        if let Some(b) = become_ {
            escalate(&mut proc, b, &key, become_timeout).await?;
        }
        let mut sh = ProbeShell {
            proc,
            key: r#become::new_key(),
            has_tmp: false,
        };
        let out = sh.send(SETUP, None, Some(become_timeout)).await?;
        sh.has_tmp = out.rc == 0;
        Ok(sh)
    }

    /// Whether commands with stdin can run here.
    pub(super) fn takes_stdin(&self) -> bool {
        self.has_tmp
    }

    /// Runs one script in a subshell, its stdin `stdin` (staged in `$T`)
    /// or /dev/null; `deadline` bounds the whole command. With
    /// `stdin_as_variable` (the script's promise,
    /// [`tutti_modules::Cmd::stdin_as_variable`])
    /// small text goes in the line itself, as `tutti_in`: this line travels
    /// on the shell's stdin, so the data never shows in a process listing.
    pub(super) async fn run(
        &mut self,
        script: &str,
        stdin: Option<&[u8]>,
        stdin_as_variable: bool,
        deadline: Option<Duration>,
    ) -> Result<Output, HostError> {
        let q = quote(script);
        let text = stdin
            .filter(|d| stdin_as_variable && d.len() <= VARIABLE_STDIN_MAX && !d.contains(&0))
            .and_then(|d| std::str::from_utf8(d).ok())
            // The line is sent through `text::encode`, which would turn the
            // characters standing for escaped bytes back into bytes.
            .filter(|t| tutti_modules::text::encode(t) == t.as_bytes());
        if let Some(text) = text {
            let line = format!("( tutti_in={}; eval {q} ) </dev/null", quote(text));
            return self.send(&line, None, deadline).await;
        }
        let line = match stdin {
            None => format!("( eval {q} ) </dev/null"),
            Some(d) => format!(
                "printf '%s\\n' {k}-go; head -c {n} >\"$T/i\"; ( eval {q} ) <\"$T/i\"",
                k = self.key,
                n = d.len()
            ),
        };
        self.send(&line, stdin, deadline).await
    }

    /// Sends one command line to the shell itself and reads its result.
    async fn send(
        &mut self,
        line: &str,
        stdin: Option<&[u8]>,
        deadline: Option<Duration>,
    ) -> Result<Output, HostError> {
        let k = self.key.clone();
        let line = format!("{line}; printf '\\n%s %d\\n' {k} \"$?\"; printf '\\n%s\\n' {k} >&2\n");
        self.proc
            .write_stdin(&tutti_modules::text::encode(&line))
            .await?;
        let started = Instant::now();
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        // With stdin, the data follows once the shell says it is reading.
        let go = format!("{k}-go\n");
        let mut waiting_for_go = stdin.is_some();
        loop {
            if waiting_for_go && stdout.starts_with(go.as_bytes()) {
                stdout.drain(..go.len());
                waiting_for_go = false;
                if let Some(d) = stdin {
                    self.proc.write_stdin(d).await?;
                }
            }
            if let (Some((body, rc)), Some(err)) =
                (split_status(&stdout, &k), split_end(&stderr, &k))
            {
                return Ok(Output {
                    rc,
                    stdout: body.to_vec(),
                    stderr: err.to_vec(),
                });
            }
            let left = deadline.map(|l| l.saturating_sub(started.elapsed()));
            let Some(event) = next_event_within(&mut self.proc, left).await? else {
                return Err(HostError::Timeout(deadline.unwrap_or_default()));
            };
            match event {
                Event::Stdout(d) => stdout.extend_from_slice(&d),
                Event::Stderr(d) => stderr.extend_from_slice(&d),
                Event::Exit(_) | Event::Closed => {
                    return Err(HostError::Unreachable("the probe shell ended".into()));
                }
            }
        }
    }

    /// Ends the shell (closing its channel).
    pub(super) async fn close(mut self) {
        self.proc.finish().await;
    }
}

/// Waits for the become wrapper's marker, sending the password when asked.
async fn escalate(
    proc: &mut SshProcess,
    b: &Become,
    key: &str,
    limit: Duration,
) -> Result<(), HostError> {
    let mut watcher = Watcher::new(key, b.password.is_some());
    let started = Instant::now();
    loop {
        let left = limit.saturating_sub(started.elapsed());
        let Some(event) = next_event_within(proc, Some(left)).await? else {
            return Err(HostError::Become(format!(
                "Timeout ({}s) waiting for privilege escalation prompt: {}",
                limit.as_secs(),
                watcher.seen().trim()
            )));
        };
        let (o, e): (&[u8], &[u8]) = match &event {
            Event::Stdout(d) => (d, &[]),
            Event::Stderr(d) => (&[], d),
            Event::Exit(_) | Event::Closed => {
                let seen = watcher.seen();
                return Err(HostError::Become(if seen.trim().is_empty() {
                    "privilege escalation failed".into()
                } else {
                    format!("privilege escalation failed: {}", seen.trim())
                }));
            }
        };
        match watcher.feed(o, e) {
            Step::Wait => {}
            Step::SendPassword => {
                let pw = b
                    .password
                    .as_ref()
                    .map(crate::secret::Secret::expose)
                    .unwrap_or_default();
                proc.write_stdin(format!("{pw}\n").as_bytes()).await?;
            }
            Step::Escalated => return Ok(()),
            Step::Failed(msg) => {
                proc.kill().await;
                return Err(HostError::Become(msg));
            }
        }
    }
}

/// Stdout up to the status line `\n<key> <rc>\n`, and the status.
fn split_status<'a>(stdout: &'a [u8], key: &str) -> Option<(&'a [u8], i32)> {
    let needle = format!("\n{key} ");
    let at = find_last(stdout, needle.as_bytes())?;
    let rest = &stdout[at + needle.len()..];
    let end = rest.iter().position(|b| *b == b'\n')?;
    let rc = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
    Some((&stdout[..at], rc))
}

/// Stderr up to the end line `\n<key>\n`.
fn split_end<'a>(stderr: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let needle = format!("\n{key}\n");
    let at = find_last(stderr, needle.as_bytes())?;
    Some(&stderr[..at])
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_end_lines_split_off_exactly() {
        assert_eq!(
            split_status(b"out\n\nkey 3\n", "key"),
            Some((&b"out\n"[..], 3))
        );
        assert_eq!(
            split_status(b"no newline\nkey 0\n", "key"),
            Some((&b"no newline"[..], 0))
        );
        assert_eq!(split_status(b"partial\nkey 1", "key"), None);
        assert_eq!(split_end(b"err\n\nkey\n", "key"), Some(&b"err\n"[..]));
        assert_eq!(split_end(b"\nkey\n", "key"), Some(&b""[..]));
        assert_eq!(split_end(b"\nke", "key"), None);
    }
}
