//! The seam between modules and the machines they manage.
//!
//! A module's `check` sees only [`HostRead`], whose methods must not change
//! the host; `apply` gets [`Host`]. The engine implements these traits for
//! SSH and local connections; [`crate::testing::FakeHost`] implements them
//! for tests.

use std::time::Duration;

use async_trait::async_trait;

use crate::cmd::Cmd;
use crate::fs::{self, Attrs, Content, FileStat, StatOpts, TimeSpec, WriteOpts, WriteResult};

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

    /// Stats `path` (and checksums, types, reads it, as `opts` asks) in
    /// one probe. `None` when it does not exist.
    async fn stat(&self, path: &str, opts: &StatOpts) -> Result<Option<FileStat>, HostError> {
        fs::stat_via(self, path, opts).await
    }

    /// The content of `path`, `None` when it does not exist.
    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        fs::read_via(self, path).await
    }
}

/// Full access to a host, for `apply`.
#[async_trait]
pub trait Host: HostRead {
    /// Runs a command that may change the host.
    async fn run(&self, cmd: &Cmd) -> Result<Output, HostError>;

    /// Replaces `dest` atomically (temp file in its directory, fsync,
    /// attributes, validate, backup, rename, fsync of the directory).
    async fn write_atomic(
        &self,
        dest: &str,
        content: Content,
        opts: &WriteOpts,
    ) -> Result<WriteResult, HostError> {
        fs::write_via(self, dest, content, opts).await
    }

    /// Sets mode/owner/group; whether anything changed.
    async fn set_attrs(
        &self,
        path: &str,
        attrs: &Attrs,
        follow: bool,
        recurse: bool,
    ) -> Result<bool, HostError> {
        fs::set_attrs_via(self, path, attrs, follow, recurse).await
    }

    /// Creates `path` and its missing parents, setting `attrs` on each
    /// directory it creates; how many it created.
    async fn mkdir_p(&self, path: &str, attrs: &Attrs) -> Result<usize, HostError> {
        fs::mkdir_via(self, path, attrs).await
    }

    /// Removes `path`, recursively; whether it existed.
    async fn remove(&self, path: &str) -> Result<bool, HostError> {
        fs::remove_via(self, path).await
    }

    /// Makes `dest` a symlink to `src` (replacing a file, or an empty
    /// directory when `force`).
    async fn symlink(&self, src: &str, dest: &str, force: bool) -> Result<(), HostError> {
        fs::link_via(self, true, src, dest, force).await
    }

    /// Makes `dest` a hard link to `src`.
    async fn hardlink(&self, src: &str, dest: &str, force: bool) -> Result<(), HostError> {
        fs::link_via(self, false, src, dest, force).await
    }

    /// Sets the times of `path`, creating it empty first when `create`.
    async fn touch(
        &self,
        path: &str,
        mtime: TimeSpec,
        atime: TimeSpec,
        follow: bool,
        create: bool,
    ) -> Result<(), HostError> {
        fs::touch_via(self, path, mtime, atime, follow, create).await
    }
}
