//! What `check` predicts and what `apply` reports.

use serde::Serialize;
use serde_json::{Map, Value};

/// Result keys, in Ansible's names (`rc`, `stdout`, `stat`, ...).
pub type Facts = Map<String, Value>;

/// A module's verdict after looking at the host, before changing anything.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// The host is already as asked; `result` holds the keys to report.
    InSync { result: Facts },
    /// The host differs; `changes` says what would change (one line each)
    /// and `diff` shows it. `result` holds keys to report in check mode.
    Change {
        changes: Vec<String>,
        diff: Vec<Diff>,
        result: Facts,
    },
    /// The module cannot know without acting (`command`, `shell`, `raw`):
    /// skipped in check mode, always run otherwise.
    Unpredictable { reason: String },
}

impl Plan {
    /// A plan with nothing to change and nothing to report.
    pub fn in_sync() -> Self {
        Plan::InSync {
            result: Facts::new(),
        }
    }

    /// Whether applying this plan would change the host.
    pub fn is_change(&self) -> bool {
        matches!(self, Plan::Change { .. })
    }
}

/// One before/after pair, rendered by the engine as a unified diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_header: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_header: Option<String>,
    pub before: String,
    pub after: String,
    /// Structured sides (the `file` module's `{path, state, ...}` dicts):
    /// registered as a dict, as Ansible's module returns them; `before`
    /// and `after` hold their text for display.
    #[serde(skip)]
    pub data: Option<(Map<String, Value>, Map<String, Value>)>,
}

/// What `apply` did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    pub changed: bool,
    pub failed: bool,
    /// Ansible's `msg`, when the module has something to say.
    pub msg: Option<String>,
    pub result: Facts,
    pub diff: Vec<Diff>,
}
