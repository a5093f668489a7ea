//! Connections to hosts: SSH (russh) and local processes, behind the
//! modules' `Host` trait. [`resolve`] turns a host's variables, the
//! command line and `~/.ssh/config` into a [`Connection`].

pub mod r#become;
pub mod exec;
pub mod known_hosts;
pub mod local;
pub mod resolve;
pub mod ssh;
pub mod ssh_config;

use async_trait::async_trait;
use tutti_modules::{Cmd, Host, HostError, HostRead, Output};

pub use resolve::{ConnOptions, resolve};

use std::sync::atomic::{AtomicUsize, Ordering};

/// Commands run and SSH sessions opened in this process, for
/// `TUTTI_STATS=1` (round trips are the currency of performance).
static COMMANDS: AtomicUsize = AtomicUsize::new(0);
pub(crate) static SESSIONS: AtomicUsize = AtomicUsize::new(0);
/// Of the commands, those that ran in a long-lived probe shell.
pub(crate) static SHELL_PROBES: AtomicUsize = AtomicUsize::new(0);

/// Commands that ran in a long-lived probe shell so far.
pub fn shell_probes() -> usize {
    SHELL_PROBES.load(Ordering::Relaxed)
}

/// (commands run, SSH sessions opened) so far.
pub fn stats() -> (usize, usize) {
    (
        COMMANDS.load(Ordering::Relaxed),
        SESSIONS.load(Ordering::Relaxed),
    )
}

/// One host's connection, opened lazily on the first command.
pub enum Connection {
    Local(local::LocalHost),
    Ssh(Box<ssh::SshHost>),
}

impl Connection {
    /// Closes the connection if it was opened.
    pub async fn close(&self) {
        if let Connection::Ssh(s) = self {
            s.close().await;
        }
    }

    /// `ssh` or `local`, as Ansible names connection plugins.
    pub fn kind(&self) -> &'static str {
        match self {
            Connection::Local(_) => "local",
            Connection::Ssh(_) => "ssh",
        }
    }
}

#[async_trait]
impl HostRead for Connection {
    async fn probe(&self, cmd: &Cmd) -> Result<Output, HostError> {
        COMMANDS.fetch_add(1, Ordering::Relaxed);
        match self {
            Connection::Local(h) => h.probe(cmd).await,
            Connection::Ssh(h) => h.probe(cmd).await,
        }
    }
}

#[async_trait]
impl Host for Connection {
    async fn run(&self, cmd: &Cmd) -> Result<Output, HostError> {
        COMMANDS.fetch_add(1, Ordering::Relaxed);
        match self {
            Connection::Local(h) => h.run(cmd).await,
            Connection::Ssh(h) => h.run(cmd).await,
        }
    }
}
