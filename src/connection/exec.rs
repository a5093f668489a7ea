//! Driving one running command to completion, the same way for SSH
//! channels and local processes: feed stdin, collect stdout and stderr
//! separately, handle the become prompt, and enforce the deadline.

use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use tutti_modules::{HostError, Output};

use super::r#become::{Step, Watcher};
use crate::secret::Secret;

/// Something a running command reports.
#[derive(Debug)]
pub enum Event {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The exit status (or `-signal`); more output may still follow.
    Exit(i32),
    /// The command is gone and nothing more will arrive.
    Closed,
}

/// A running command, as the driver sees it.
#[async_trait]
pub trait Process: Send {
    async fn next_event(&mut self) -> Result<Event, HostError>;
    async fn write_stdin(&mut self, data: &[u8]) -> Result<(), HostError>;
    async fn close_stdin(&mut self) -> Result<(), HostError>;
    /// Streams a controller file to stdin in the background, then closes
    /// stdin; reading the command's output goes on meanwhile.
    async fn feed_file(&mut self, path: &std::path::Path) -> Result<(), HostError>;
    /// Stops the command (on timeout or become failure).
    async fn kill(&mut self);
}

/// The command's next event, waiting at most `wait` (`None`: no limit).
/// `Ok(None)` means the time ran out; the command has then been killed,
/// and the caller says what timed out.
pub async fn next_event_within<P: Process + ?Sized>(
    p: &mut P,
    wait: Option<Duration>,
) -> Result<Option<Event>, HostError> {
    let Some(wait) = wait else {
        return p.next_event().await.map(Some);
    };
    match tokio::time::timeout(wait, p.next_event()).await {
        Ok(e) => e.map(Some),
        Err(_) => {
            p.kill().await;
            Ok(None)
        }
    }
}

/// Escalation state for one command.
pub struct BecomeRun<'a> {
    pub watcher: Watcher,
    pub password: Option<&'a Secret>,
    /// How long to wait for the prompt or the success marker.
    pub timeout: Duration,
}

/// Where a command's stdin comes from.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    None,
    Bytes(&'a [u8]),
    File(&'a std::path::Path),
}

impl<'a> Input<'a> {
    pub fn of(cmd: &'a tutti_modules::Cmd) -> Self {
        match (cmd.stdin_path(), cmd.stdin_data()) {
            (Some(p), _) => Input::File(p),
            (None, Some(b)) => Input::Bytes(b),
            (None, None) => Input::None,
        }
    }
}

/// How long output may trickle in after the exit status before the
/// command counts as done.
const DRAIN: Duration = Duration::from_millis(200);

/// Runs `p` to completion and returns what it printed and its status.
/// With `stdout_to`, stdout is streamed into that controller file.
pub async fn drive(
    p: &mut dyn Process,
    stdin: Input<'_>,
    stdout_to: Option<&std::path::Path>,
    mut become_run: Option<BecomeRun<'_>>,
    deadline: Option<Duration>,
) -> Result<Output, HostError> {
    let mut sink = match stdout_to {
        Some(path) => Some(
            tokio::fs::File::create(path)
                .await
                .map_err(|e| HostError::Failed(format!("cannot write {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let started = Instant::now();
    let mut out = Output::default();
    let mut exit: Option<i32> = None;
    let mut stdin_sent = false;
    if become_run.is_none() {
        send_stdin(p, stdin).await?;
        stdin_sent = true;
    }
    loop {
        // Once the command has exited, what it left in the pipes arrives at
        // once; a background child still holding them must not keep the
        // task waiting (Ansible's run_command stops when the process is
        // gone and nothing is ready to read).
        if exit.is_some() {
            match tokio::time::timeout(DRAIN, p.next_event()).await {
                Ok(Ok(Event::Stdout(d))) => keep_stdout(&mut out, &mut sink, &d).await?,
                Ok(Ok(Event::Stderr(d))) => out.stderr.extend_from_slice(&d),
                Ok(Ok(Event::Exit(_))) => {}
                Ok(Ok(Event::Closed)) | Ok(Err(_)) | Err(_) => break,
            }
            continue;
        }
        let limit = match (&become_run, deadline) {
            (Some(b), _) if !b.watcher.is_done() => Some(b.timeout),
            (_, d) => d,
        };
        let left = limit.map(|l| l.saturating_sub(started.elapsed()));
        let Some(event) = next_event_within(p, left).await? else {
            if let Some(b) = &become_run
                && !b.watcher.is_done()
            {
                return Err(HostError::Become(format!(
                    "Timeout ({}s) waiting for privilege escalation prompt: {}",
                    b.timeout.as_secs(),
                    b.watcher.seen().trim()
                )));
            }
            return Err(HostError::Timeout(limit.unwrap_or_default()));
        };
        let (o, e): (&[u8], &[u8]) = match &event {
            Event::Stdout(d) => (d, &[]),
            Event::Stderr(d) => (&[], d),
            _ => (&[], &[]),
        };
        match become_run.as_mut() {
            Some(b) if !b.watcher.is_done() => match b.watcher.feed(o, e) {
                Step::Wait => {}
                Step::SendPassword => {
                    let pw = b.password.map(Secret::expose).unwrap_or_default();
                    p.write_stdin(format!("{pw}\n").as_bytes()).await?;
                }
                Step::Escalated => {
                    let (so, se) = b.watcher.take_output();
                    keep_stdout(&mut out, &mut sink, &so).await?;
                    out.stderr.extend_from_slice(&se);
                    send_stdin(p, stdin).await?;
                    stdin_sent = true;
                }
                Step::Failed(msg) => {
                    p.kill().await;
                    return Err(HostError::Become(msg));
                }
            },
            _ => {
                keep_stdout(&mut out, &mut sink, o).await?;
                out.stderr.extend_from_slice(e);
            }
        }
        match event {
            Event::Exit(rc) => exit = Some(rc),
            Event::Closed => break,
            _ => {}
        }
    }
    if let Some(b) = become_run.as_mut()
        && !b.watcher.is_done()
    {
        // The wrapper ended before escalating: sudo refused.
        let seen = b.watcher.seen();
        let msg = seen.trim();
        return Err(HostError::Become(if msg.is_empty() {
            "privilege escalation failed".to_string()
        } else {
            format!("privilege escalation failed: {msg}")
        }));
    }
    let _ = stdin_sent;
    if let Some(mut f) = sink {
        use tokio::io::AsyncWriteExt;
        f.flush()
            .await
            .map_err(|e| HostError::Failed(format!("cannot write the downloaded file: {e}")))?;
    }
    out.rc = exit.unwrap_or(-1);
    Ok(out)
}

async fn keep_stdout(
    out: &mut Output,
    sink: &mut Option<tokio::fs::File>,
    data: &[u8],
) -> Result<(), HostError> {
    use tokio::io::AsyncWriteExt;
    match sink {
        Some(f) if !data.is_empty() => f
            .write_all(data)
            .await
            .map_err(|e| HostError::Failed(format!("cannot write the downloaded file: {e}"))),
        Some(_) => Ok(()),
        None => {
            out.stdout.extend_from_slice(data);
            Ok(())
        }
    }
}

async fn send_stdin(p: &mut dyn Process, stdin: Input<'_>) -> Result<(), HostError> {
    match stdin {
        Input::File(path) => p.feed_file(path).await,
        Input::Bytes(data) => {
            if !data.is_empty() {
                p.write_stdin(data).await?;
            }
            p.close_stdin().await
        }
        Input::None => p.close_stdin().await,
    }
}
