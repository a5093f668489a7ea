//! The module contract: parameters are validated in `prepare`, the host is
//! read in `check`, and only `apply` may change it.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::host::{Host, HostError, HostRead};
use crate::plan::{Applied, Plan};
use crate::spec::ModuleSpec;

/// Module arguments after templating. A free-form argument string
/// (`command: ls -l`) arrives under the key `_raw_params`, as in Ansible.
pub type Args = Map<String, Value>;

/// A built-in module.
pub trait Module: Send + Sync {
    /// The short name (`command`); the engine maps FQCNs onto it.
    fn name(&self) -> &'static str;

    /// Validates arguments before any I/O. Bad arguments fail here, even in
    /// check mode.
    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError>;

    /// The argument spec `prepare` checks against, which is also what
    /// `tutti doc` prints.
    fn spec(&self) -> &'static ModuleSpec;
}

/// A module with validated parameters, ready to look at a host.
#[async_trait]
pub trait Prepared: Send + Sync {
    /// Looks at the host (read-only) and says what would change.
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError>;

    /// Carries out a plan that `check` returned. Never called in check mode,
    /// and never for [`Plan::InSync`].
    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError>;

    /// Warnings about the arguments themselves (Ansible's `module.warn`),
    /// reported in the result's `warnings` whatever the outcome.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A bad module argument, found before any I/O.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct ParamError {
    /// The offending parameter, when there is one (to point at its span).
    pub param: Option<String>,
    pub msg: String,
}

impl ParamError {
    pub fn new(msg: impl Into<String>) -> Self {
        ParamError {
            param: None,
            msg: msg.into(),
        }
    }

    pub fn at(param: impl Into<String>, msg: impl Into<String>) -> Self {
        ParamError {
            param: Some(param.into()),
            msg: msg.into(),
        }
    }
}

/// Why a module could not do its job on a host.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModuleError {
    /// The connection or command failed underneath the module.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The module ran and failed; `result` holds keys to report.
    #[error("{msg}")]
    Failed {
        msg: String,
        result: Map<String, Value>,
    },
}

impl ModuleError {
    pub fn failed(msg: impl Into<String>) -> Self {
        ModuleError::Failed {
            msg: msg.into(),
            result: Map::new(),
        }
    }
}
