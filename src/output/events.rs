//! The events a playbook run emits, in the order they happen. Renderers
//! (`human.rs`, `json.rs`) turn them into text; the runner never prints.

use serde_json::{Map, Value};

/// What a task reported for one host (or one loop item).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStatus {
    Ok,
    Changed,
    Failed,
    Skipped,
    Unreachable,
}

impl ResultStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Ok => "ok",
            ResultStatus::Changed => "changed",
            ResultStatus::Failed => "failed",
            ResultStatus::Skipped => "skipped",
            ResultStatus::Unreachable => "unreachable",
        }
    }
}

/// Whether a banner is for a task or a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    Task,
    Handler,
}

/// One host's result for one task, or for one item of a looped task.
#[derive(Debug, Clone)]
pub struct TaskResult {
    pub host: String,
    /// `delegate_to` target, shown as `host -> delegate`.
    pub delegate: Option<String>,
    pub status: ResultStatus,
    /// The module or action name (`debug`, `command`, ...).
    pub action: String,
    /// Ansible's result keys. `failed`, `changed`, `skipped` are included
    /// as Ansible registers them; renderers drop what Ansible hides.
    pub result: Map<String, Value>,
    /// For a loop item: the label (`loop_control.label` or the item).
    pub item: Option<Value>,
    /// The final result of a looped task, after its items were reported.
    pub loop_summary: bool,
    /// `ignore_errors`/`ignore_unreachable` applied: print `...ignoring`.
    pub ignored: bool,
    /// `no_log`: the result was already censored by the runner.
    pub no_log: bool,
    /// `--diff` (or the `diff` keyword) is on for this task.
    pub show_diff: bool,
    /// `debug` results are always shown with their body; `verbosity` is
    /// the minimum -v level to show them at all.
    pub verbosity: u8,
    /// Where the task was defined, for 2.19's `[ERROR]: Task failed` block
    /// (file, line, column), when the failure should point at it.
    pub origin: Option<(String, usize, usize)>,
}

/// Per-host counters for PLAY RECAP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostStats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// Everything a playbook run reports.
#[derive(Debug, Clone)]
pub enum PlaybookEvent {
    /// The playbook file (shown as `PLAYBOOK: x.yml` at -vv).
    Playbook {
        path: String,
        /// How many plays the file holds (`N plays in FILE` at `-vv`).
        plays: usize,
    },
    /// `PLAY [name]` (an empty name prints `PLAY`).
    PlayStart {
        name: String,
        check_mode: bool,
    },
    /// `skipping: no hosts matched` for a play.
    NoHostsMatched,
    /// A task or handler is starting; its banner is printed lazily, before
    /// the first result shown for it. `path` is `file:line` (`-vv`).
    TaskStart {
        name: String,
        kind: TaskKind,
        path: String,
        check_mode: bool,
    },
    /// The hosts a task was released to, in inventory order (follows
    /// `TaskStart`); the printer uses it to report hosts in that order.
    TaskHosts(Vec<String>),
    Result(Box<TaskResult>),
    /// `FAILED - RETRYING: [host]: name (N retries left).`
    Retrying {
        host: String,
        task: String,
        retries_left: u32,
        result: Map<String, Value>,
    },
    /// `included: /path/file.yml for host1, host2`
    Included {
        file: String,
        hosts: Vec<String>,
    },
    /// `NOTIFIED HANDLER name for host` (shown at -vv).
    HandlerNotified {
        handler: String,
        host: String,
    },
    /// What a `meta` task did (`META: noop`, shown at `-vv`).
    Meta(String),
    /// A line of Ansible's debug log (shown when `ANSIBLE_DEBUG` is set).
    Debug(String),
    /// `NO MORE HOSTS LEFT`
    NoMoreHosts,
    Warning(String),
    Deprecation(String),
    /// An error not tied to a host result (printed as `[ERROR]: ...`).
    Error(String),
    /// `PLAY RECAP`, hosts sorted by name.
    Recap(Vec<(String, HostStats)>),
}
