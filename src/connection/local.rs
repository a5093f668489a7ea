//! The local connection: commands run as processes on the controller
//! through `/bin/sh -c`, behind the same `Host` trait as SSH.

use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tutti_modules::{Cmd, Host, HostError, HostRead, Output};

use super::r#become::{self, Become, Watcher};
use super::exec::{self, BecomeRun, Event, Process};

/// Commands on the controller itself.
#[derive(Debug, Clone, Default)]
pub struct LocalHost {
    pub become_: Option<Become>,
    pub become_timeout: Duration,
    pub command_timeout: Option<Duration>,
}

impl LocalHost {
    async fn exec(&self, cmd: &Cmd) -> Result<Output, HostError> {
        if let Some(b) = &self.become_
            && b.method == r#become::Method::Su
            && b.password.is_some()
        {
            // Over SSH su gets a terminal; here there is none to give it.
            return Err(HostError::Become(
                "become_method su with a password needs a terminal, which the local connection                  does not have; use sudo, or connect over ssh"
                    .into(),
            ));
        }
        let script = cmd.render();
        let key = r#become::new_key();
        let script = match &self.become_ {
            Some(b) => r#become::wrap(&script, b, &key),
            None => script,
        };
        // Non-UTF-8 paths travel losslessly escaped; pass the real bytes.
        let script = {
            use std::os::unix::ffi::OsStringExt;
            std::ffi::OsString::from_vec(tutti_modules::text::encode(&script))
        };
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| HostError::Failed(format!("cannot start /bin/sh: {e}")))?;
        let (mut proc, events) = LocalProcess::new(&mut child)?;
        // The exit status is an event too, so a background child holding
        // the pipes open cannot keep the command from finishing.
        let (status_tx, status_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let status = child.wait().await;
            if let Ok(s) = &status {
                let _ = events.send(Event::Exit(exit_code(*s))).await;
            }
            let _ = status_tx.send(status);
        });
        let become_run = self.become_.as_ref().map(|b| BecomeRun {
            watcher: Watcher::new(&key, b.password.is_some()),
            password: b.password.as_ref(),
            timeout: self.become_timeout,
        });
        let result = exec::drive(
            &mut proc,
            exec::Input::of(cmd),
            cmd.stdout_path(),
            become_run,
            self.command_timeout,
        )
        .await;
        drop(proc);
        let mut out = result?;
        if out.rc == -1 {
            out.rc = match status_rx.await {
                Ok(Ok(s)) => exit_code(s),
                Ok(Err(e)) => return Err(HostError::Failed(format!("lost the process: {e}"))),
                Err(_) => return Err(HostError::Failed("lost the process".into())),
            };
        }
        Ok(out)
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => -sig,
        (None, None) => -1,
    }
}

#[async_trait]
impl HostRead for LocalHost {
    async fn probe(&self, cmd: &Cmd) -> Result<Output, HostError> {
        self.exec(cmd).await
    }
}

#[async_trait]
impl Host for LocalHost {
    async fn run(&self, cmd: &Cmd) -> Result<Output, HostError> {
        self.exec(cmd).await
    }
}

struct LocalProcess {
    stdin: Option<ChildStdin>,
    events: mpsc::Receiver<Event>,
    pid: Option<u32>,
}

impl LocalProcess {
    /// Takes the child's pipes; also returns a sender for more events.
    fn new(child: &mut Child) -> Result<(Self, mpsc::Sender<Event>), HostError> {
        let missing = || HostError::Failed("child process has no pipes".to_string());
        let stdout = child.stdout.take().ok_or_else(missing)?;
        let stderr = child.stderr.take().ok_or_else(missing)?;
        let (tx, rx) = mpsc::channel(64);
        let more = tx.clone();
        // Two readers and a counter: `Closed` is sent once both pipes end,
        // so no output is lost after the process exits.
        let (done_tx, mut done_rx) = mpsc::channel::<()>(2);
        spawn_reader(stdout, tx.clone(), done_tx.clone(), Event::Stdout);
        spawn_reader(stderr, tx.clone(), done_tx, Event::Stderr);
        tokio::spawn(async move {
            let mut n = 0;
            while done_rx.recv().await.is_some() {
                n += 1;
                if n == 2 {
                    break;
                }
            }
            let _ = tx.send(Event::Closed).await;
        });
        Ok((
            LocalProcess {
                stdin: child.stdin.take(),
                events: rx,
                pid: child.id(),
            },
            more,
        ))
    }
}

fn spawn_reader<R>(
    mut pipe: R,
    tx: mpsc::Sender<Event>,
    done: mpsc::Sender<()>,
    wrap: fn(Vec<u8>) -> Event,
) where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match pipe.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(wrap(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = done.send(()).await;
    });
}

#[async_trait]
impl Process for LocalProcess {
    async fn next_event(&mut self) -> Result<Event, HostError> {
        Ok(self.events.recv().await.unwrap_or(Event::Closed))
    }

    async fn write_stdin(&mut self, data: &[u8]) -> Result<(), HostError> {
        if let Some(stdin) = self.stdin.as_mut() {
            // A command that exits without reading its stdin is not an error.
            let _ = stdin.write_all(data).await;
        }
        Ok(())
    }

    async fn close_stdin(&mut self) -> Result<(), HostError> {
        self.stdin = None;
        Ok(())
    }

    async fn feed_file(&mut self, path: &std::path::Path) -> Result<(), HostError> {
        let Some(mut stdin) = self.stdin.take() else {
            return Ok(());
        };
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| HostError::Failed(format!("cannot read {}: {e}", path.display())))?;
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut file, &mut stdin).await;
        });
        Ok(())
    }

    async fn kill(&mut self) {
        self.stdin = None;
        if let Some(pid) = self.pid {
            // The shell may have children; ask the whole group nicely via
            // `kill`, the child itself is killed on drop.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
    }
}
