//! A `Host` that runs commands with the real local `sh`, the way the SSH
//! connection does (`sh -c <rendered>`), including `stdin_file` and
//! `stdout_file` streaming. Shared by `net_local.rs` and `files2.rs`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command as Proc, Stdio};

use async_trait::async_trait;
use tutti_modules::{Cmd, Host, HostError, HostRead, Output};

pub struct LocalSh;

fn run_local(cmd: &Cmd) -> Result<Output, HostError> {
    let mut child = Proc::new("sh")
        .arg("-c")
        .arg(cmd.render())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HostError::Failed(e.to_string()))?;
    let data = match (cmd.stdin_path(), cmd.stdin_data()) {
        (Some(p), _) => std::fs::read(p).map_err(|e| HostError::Failed(e.to_string()))?,
        (None, Some(d)) => d.to_vec(),
        (None, None) => Vec::new(),
    };
    let mut stdin = child
        .stdin
        .take()
        .ok_or(HostError::Failed("no stdin".into()))?;
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child
        .wait_with_output()
        .map_err(|e| HostError::Failed(e.to_string()))?;
    let _ = writer.join();
    let mut stdout = out.stdout;
    if let Some(p) = cmd.stdout_path() {
        std::fs::write(p, &stdout).map_err(|e| HostError::Failed(e.to_string()))?;
        stdout = Vec::new();
    }
    Ok(Output {
        rc: out.status.code().unwrap_or(-1),
        stdout,
        stderr: out.stderr,
    })
}

#[async_trait]
impl HostRead for LocalSh {
    async fn probe(&self, cmd: &Cmd) -> Result<Output, HostError> {
        run_local(cmd)
    }
}

#[async_trait]
impl Host for LocalSh {
    async fn run(&self, cmd: &Cmd) -> Result<Output, HostError> {
        run_local(cmd)
    }
}

/// A fresh scratch directory for one test (not every test file uses it).
#[allow(dead_code)]
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tutti-m2-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir
}
