//! The seam between modules and the machines they manage.
//!
//! A module's `check` sees only [`HostRead`], whose methods must not change
//! the host; `apply` gets [`Host`]. The engine implements these traits for
//! SSH and local connections; [`crate::testing::FakeHost`] implements them
//! for tests.

use std::time::Duration;

use async_trait::async_trait;

use crate::cmd::Cmd;

/// What a finished command left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit status; a command killed by a signal reports `-signal`.
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.rc == 0
    }
}

/// Why a command could not be run to completion.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HostError {
    /// The connection failed or was lost: the host is UNREACHABLE.
    #[error("{0}")]
    Unreachable(String),
    /// The command outlived its deadline and was abandoned.
    #[error("the command did not finish within {} seconds", .0.as_secs())]
    Timeout(Duration),
    /// Privilege escalation failed (wrong or missing password, timeout).
    #[error("{0}")]
    Become(String),
    /// Any other per-command failure that is not about the connection.
    #[error("{0}")]
    Failed(String),
}

/// Read-only access to a host, for `check`.
#[async_trait]
pub trait HostRead: Send + Sync {
    /// Runs a command that must not change the host (a query).
    async fn probe(&self, cmd: &Cmd) -> Result<Output, HostError>;
}

/// Full access to a host, for `apply`.
#[async_trait]
pub trait Host: HostRead {
    /// Runs a command that may change the host.
    async fn run(&self, cmd: &Cmd) -> Result<Output, HostError>;
}
