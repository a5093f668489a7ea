//! `become_method: su` with a password, over SSH. su reads the password
//! from a terminal only, so this runs su once per session on a channel
//! with a pseudo-terminal, answers its prompt, and keeps the shell it
//! starts: every command of that become setting then runs in it.
//!
//! Once su succeeded the terminal is switched to raw mode (bytes pass
//! unchanged, nothing is echoed) and the shell runs with `+i` (no prompts
//! or job control although its stdin is a terminal). A terminal merges stdout and stderr, so
//! each command writes them to files in a private temporary directory;
//! a header line with a random key, the status and both lengths precedes
//! their contents. Stdin data is sent after the shell acknowledges the
//! command, and `head -c` passes exactly that many bytes to it.

use std::time::Duration;

use russh::Pty;
use tokio::time::Instant;
use tutti_modules::{HostError, Output, quote};

use super::SshProcess;
use crate::connection::r#become::{self, Become};
use crate::connection::exec::{Event, Input, Process, next_event_within};

pub(super) struct SuShell {
    proc: SshProcess,
    key: String,
    /// Output received but not consumed yet.
    buf: Vec<u8>,
}

impl SuShell {
    pub(super) async fn start(
        channel: russh::Channel<russh::client::Msg>,
        b: &Become,
        limit: Duration,
    ) -> Result<Self, HostError> {
        let lost = |e: russh::Error| HostError::Unreachable(format!("cannot start su: {e}"));
        channel
            .request_pty(false, "dumb", 200, 24, 0, 0, &[(Pty::ECHO, 0)])
            .await
            .map_err(lost)?;
        let marker = r#become::marker(&r#become::new_key());
        let inner = format!(
            "stty raw -echo; printf '%s\\n' {marker}; exec /bin/sh +i 2>/dev/null",
            marker = quote(&marker)
        );
        let mut command = String::from("su ");
        if let Some(f) = b.flags.as_deref().filter(|f| !f.trim().is_empty()) {
            command.push_str(f.trim());
            command.push(' ');
        }
        command.push_str(&quote(&b.user));
        command.push_str(" -c ");
        command.push_str(&quote(&inner));
        channel
            .exec(true, command.into_bytes())
            .await
            .map_err(lost)?;
        let mut sh = SuShell {
            proc: SshProcess::new(channel),
            key: r#become::new_key(),
            buf: Vec::new(),
        };
        sh.authenticate(b, &marker, limit).await?;
        // A private directory for each command's stdin, stdout and stderr.
        let setup = format!(
            "T=$(mktemp -d 2>/dev/null || mktemp -d \"$HOME/.tutti.XXXXXX\") && \
             trap 'rm -rf \"$T\"' EXIT && trap 'rm -rf \"$T\"; exit 1' HUP TERM && \
             printf '%s\\n' {}-ready || exit 1\n",
            sh.key
        );
        sh.proc.write_stdin(setup.as_bytes()).await?;
        let ready = format!("{}-ready\n", sh.key);
        sh.read_until(ready.as_bytes(), Some(limit)).await?;
        Ok(sh)
    }

    /// Answers su's password prompt and waits for the shell's marker.
    async fn authenticate(
        &mut self,
        b: &Become,
        marker: &str,
        limit: Duration,
    ) -> Result<(), HostError> {
        let started = Instant::now();
        let mut sent = false;
        loop {
            let text = String::from_utf8_lossy(&self.buf).into_owned();
            if let Some(at) = text.find(&format!("{marker}\n")) {
                self.buf.drain(..at + marker.len() + 1);
                return Ok(());
            }
            let lower = text.to_lowercase();
            if sent && (lower.contains("failure") || lower.contains("incorrect")) {
                self.proc.kill().await;
                return Err(HostError::Become("Incorrect su password".into()));
            }
            if !sent && text.trim_end().ends_with(':') {
                let pw = b
                    .password
                    .as_ref()
                    .map(crate::secret::Secret::expose)
                    .unwrap_or_default();
                self.proc.write_stdin(format!("{pw}\n").as_bytes()).await?;
                sent = true;
                self.buf.clear();
            }
            let left = limit.saturating_sub(started.elapsed());
            match next_event_within(&mut self.proc, Some(left)).await? {
                None => {
                    return Err(HostError::Become(format!(
                        "Timeout ({}s) waiting for privilege escalation prompt: {}",
                        limit.as_secs(),
                        text.trim()
                    )));
                }
                Some(Event::Stdout(d) | Event::Stderr(d)) => self.buf.extend_from_slice(&d),
                Some(Event::Exit(_) | Event::Closed) => {
                    let msg = if sent {
                        "Incorrect su password".to_string()
                    } else {
                        format!("privilege escalation failed: {}", text.trim())
                    };
                    return Err(HostError::Become(msg));
                }
            }
        }
    }

    /// Runs one command; its stdout goes to `sink` when given.
    pub(super) async fn run(
        &mut self,
        script: &str,
        stdin: Input<'_>,
        sink: Option<&std::path::Path>,
        deadline: Option<Duration>,
    ) -> Result<Output, HostError> {
        let len = match stdin {
            Input::None => 0,
            Input::Bytes(b) => b.len() as u64,
            Input::File(p) => std::fs::metadata(p)
                .map_err(|e| HostError::Failed(format!("cannot read {}: {e}", p.display())))?
                .len(),
        };
        let k = self.key.clone();
        let line = format!(
            "printf '%s\\n' {k}-go; head -c {len} >\"$T/i\"; ( eval {q} ) <\"$T/i\" >\"$T/o\" 2>\"$T/e\"; rc=$?; \
             printf '%s %d %d %d\\n' {k} \"$rc\" \"$(($(wc -c <\"$T/o\")))\" \"$(($(wc -c <\"$T/e\")))\"; \
             cat \"$T/o\" \"$T/e\"\n",
            q = quote(script)
        );
        self.proc
            .write_stdin(&tutti_modules::text::encode(&line))
            .await?;
        let started = Instant::now();
        let left = |limit: Option<Duration>| limit.map(|l| l.saturating_sub(started.elapsed()));
        self.read_until(format!("{k}-go\n").as_bytes(), left(deadline))
            .await?;
        match stdin {
            Input::None => {}
            Input::Bytes(b) => self.proc.write_stdin(b).await?,
            Input::File(p) => {
                let data = tokio::fs::read(p)
                    .await
                    .map_err(|e| HostError::Failed(format!("cannot read {}: {e}", p.display())))?;
                self.proc.write_stdin(&data).await?;
            }
        }
        let header = self.read_until(b"\n", left(deadline)).await?;
        let header = String::from_utf8_lossy(&header).into_owned();
        let fields: Vec<&str> = header.trim_end().rsplit(' ').collect();
        let bad = || HostError::Failed(format!("unexpected output from the su shell: {header}"));
        let (rc, olen, elen) = match fields.as_slice() {
            [e, o, rc, key, ..] if key.ends_with(k.as_str()) => (
                rc.parse::<i32>().map_err(|_| bad())?,
                o.parse::<usize>().map_err(|_| bad())?,
                e.parse::<usize>().map_err(|_| bad())?,
            ),
            _ => return Err(bad()),
        };
        let body = self.read_exact(olen + elen, left(deadline)).await?;
        let (o, e) = body.split_at(olen);
        let mut out = Output {
            rc,
            stdout: Vec::new(),
            stderr: e.to_vec(),
        };
        match sink {
            Some(path) => tokio::fs::write(path, o).await.map_err(|err| {
                HostError::Failed(format!("cannot write {}: {err}", path.display()))
            })?,
            None => out.stdout = o.to_vec(),
        }
        Ok(out)
    }

    /// Reads up to and including `end`; returns what came before it.
    async fn read_until(
        &mut self,
        end: &[u8],
        limit: Option<Duration>,
    ) -> Result<Vec<u8>, HostError> {
        let started = Instant::now();
        loop {
            if let Some(at) = self.buf.windows(end.len()).position(|w| w == end) {
                let before = self.buf[..at].to_vec();
                self.buf.drain(..at + end.len());
                return Ok(before);
            }
            self.more(limit.map(|l| l.saturating_sub(started.elapsed())))
                .await?;
        }
    }

    async fn read_exact(
        &mut self,
        n: usize,
        limit: Option<Duration>,
    ) -> Result<Vec<u8>, HostError> {
        let started = Instant::now();
        while self.buf.len() < n {
            self.more(limit.map(|l| l.saturating_sub(started.elapsed())))
                .await?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn more(&mut self, limit: Option<Duration>) -> Result<(), HostError> {
        let Some(event) = next_event_within(&mut self.proc, limit).await? else {
            return Err(HostError::Timeout(limit.unwrap_or_default()));
        };
        match event {
            Event::Stdout(d) | Event::Stderr(d) => {
                self.buf.extend_from_slice(&d);
                Ok(())
            }
            Event::Exit(_) | Event::Closed => Err(HostError::Unreachable(format!(
                "the su shell ended: {}",
                String::from_utf8_lossy(&self.buf)
            ))),
        }
    }

    pub(super) async fn close(mut self) {
        self.proc.finish().await;
    }
}
