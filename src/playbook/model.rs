//! A playbook after loading: plain data with origins, no YAML types. Values
//! that may hold templates stay `serde_json::Value` until the runner
//! renders them for a host.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

/// Where something was written: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: usize,
    pub col: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: PathBuf,
    pub plays: Vec<Arc<Play>>,
}

/// A `vars_prompt` entry.
#[derive(Debug, Clone)]
pub struct VarsPrompt {
    pub name: String,
    pub prompt: String,
    pub default: Option<Value>,
    pub private: bool,
    pub confirm: bool,
}

#[derive(Debug, Clone)]
pub struct Play {
    pub origin: Origin,
    /// The directory of the playbook file this play came from.
    pub dir: PathBuf,
    pub name: Option<Value>,
    pub hosts: Value,
    pub gather_facts: Option<Value>,
    pub gather_subset: Option<Value>,
    pub gather_timeout: Option<Value>,
    pub vars: Arc<Map<String, Value>>,
    /// Each entry: a file name, or a list of alternatives (first found).
    pub vars_files: Vec<Value>,
    pub vars_prompt: Vec<VarsPrompt>,
    pub pre_tasks: Vec<Step>,
    pub tasks: Vec<Step>,
    pub post_tasks: Vec<Step>,
    pub handlers: Vec<Arc<Task>>,
    pub serial: Option<Value>,
    pub max_fail_percentage: Option<Value>,
    pub strategy: Option<String>,
    pub order: Option<String>,
    pub force_handlers: Option<Value>,
    pub kw: Keywords,
    /// Roles this play has loaded, so a dependency runs once per play.
    pub roles_seen: Arc<crate::roles::Seen>,
    /// Defaults and vars of the play's static roles (`roles:` and
    /// `import_role`), which all its tasks see.
    pub exposed: Vec<crate::roles::Exposure>,
    /// A notify naming no handler. Ansible finds it only when the play
    /// runs, so earlier plays still run; tutti reports it as the play
    /// starts, before the play contacts any host (and `--syntax-check`
    /// reports it at once).
    pub missing_handler: Option<crate::diagnostic::Diagnostic>,
}

/// What the tasks of a dynamic include inherit in place of the include's
/// own `ignore_errors`, `no_log`, `timeout` and `when`: ansible-core
/// applies those to the include itself (and `apply:` hands keywords on).
#[derive(Debug, Clone, Default)]
pub struct OuterKeywords {
    pub ignore_errors: Option<Value>,
    pub no_log: Option<Value>,
    pub timeout: Option<Value>,
    /// How many of the include's `when` conditions it inherited: those
    /// (an enclosing block's) still hold its tasks back, its own do not.
    pub inherited_when: usize,
}

impl OuterKeywords {
    /// Puts the enclosing level's values back into an include's copy, and
    /// drops the include's own `when` (evaluated for the include itself).
    pub fn restore(&self, kw: &mut Keywords) {
        kw.ignore_errors = self.ignore_errors.clone();
        kw.no_log = self.no_log.clone();
        kw.timeout = self.timeout.clone();
        kw.when.truncate(self.inherited_when);
        kw.outer = None;
    }
}

/// Keywords inherited from play to block to task. A task's copy already
/// holds what it inherited: scalars from the nearest level that set them,
/// conditions and tags accumulated.
#[derive(Debug, Clone, Default)]
pub struct Keywords {
    pub become_: Option<Value>,
    pub become_user: Option<Value>,
    pub become_method: Option<Value>,
    pub become_flags: Option<Value>,
    pub become_exe: Option<Value>,
    pub remote_user: Option<Value>,
    pub connection: Option<Value>,
    pub port: Option<Value>,
    /// Outer first; later maps override earlier keys.
    pub environment: Vec<Value>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub no_log: Option<Value>,
    pub ignore_errors: Option<Value>,
    pub ignore_unreachable: Option<Value>,
    pub any_errors_fatal: Option<Value>,
    pub run_once: Option<Value>,
    pub throttle: Option<Value>,
    pub timeout: Option<Value>,
    pub delegate_to: Option<Value>,
    pub delegate_facts: Option<Value>,
    /// Union of the tags of every level.
    pub tags: Vec<String>,
    /// How many of `tags` came from enclosing levels (the rest are this
    /// level's own): an `include_*`'s own tags stay off its contents.
    pub inherited_tags: usize,
    /// Every level's `when`, outermost first; all must hold.
    pub when: Vec<Cond>,
    /// On a dynamic include: the enclosing level's values of the keywords
    /// that act on the include alone, for its tasks to inherit instead.
    pub outer: Option<Arc<OuterKeywords>>,
    /// Block `vars`, outermost first (precedence level "block vars").
    pub block_vars: Vec<Arc<Map<String, Value>>>,
    /// Parameters of the `include_*`/`import_*` that brought a task in.
    pub include_params: Vec<Arc<Map<String, Value>>>,
    /// Role `defaults` of the roles this task belongs to (lowest precedence).
    pub role_defaults: Vec<Arc<Map<String, Value>>>,
    /// Role `vars` (with `role_name`/`role_path`), above play vars files.
    pub role_vars: Vec<Arc<Map<String, Value>>>,
    /// Role parameters (`roles: [{role: x, param: 1}]`), above set_fact.
    pub role_params: Vec<Arc<Map<String, Value>>>,
    /// Handler names notified by a block apply to its tasks.
    pub notify: Vec<String>,
}

/// A condition (`when`, `changed_when`, `failed_when`, `until`, `that`).
#[derive(Debug, Clone)]
pub struct Cond {
    /// A bare expression, or a literal boolean.
    pub expr: Value,
    pub origin: Origin,
}

/// One entry of a task list.
#[derive(Debug, Clone)]
pub enum Step {
    Task(Arc<Task>),
    Block(Arc<Block>),
}

#[derive(Debug, Clone)]
pub struct Block {
    pub id: usize,
    pub origin: Origin,
    pub name: Option<Value>,
    pub block: Vec<Step>,
    pub rescue: Vec<Step>,
    pub always: Vec<Step>,
    /// The block's own effective keywords (for `when`/`tags` reporting).
    pub kw: Keywords,
}

/// How a task loops.
#[derive(Debug, Clone)]
pub enum LoopSpec {
    /// `loop: <list or template>`
    Loop(Value),
    /// `with_<lookup>: <terms>`
    With { lookup: String, terms: Value },
}

#[derive(Debug, Clone, Default)]
pub struct LoopControl {
    pub loop_var: Option<String>,
    pub index_var: Option<String>,
    pub label: Option<Value>,
    pub pause: Option<Value>,
    pub extended: Option<Value>,
    pub break_when: Vec<Cond>,
}

#[derive(Debug, Clone)]
pub struct Task {
    /// Unique within the run; orders tasks for the lock-step scheduler.
    pub id: usize,
    pub origin: Origin,
    pub name: Option<Value>,
    /// The short action or module name (`command`, `debug`, ...).
    pub action: String,
    /// The name as written (FQCN kept), for messages.
    pub action_as_written: String,
    pub args: Map<String, Value>,
    pub kw: Keywords,
    /// The task's own `vars` (precedence level "task vars").
    pub vars: Arc<Map<String, Value>>,
    pub loop_spec: Option<LoopSpec>,
    pub loop_control: LoopControl,
    pub register: Option<String>,
    pub notify: Vec<String>,
    pub changed_when: Vec<Cond>,
    pub failed_when: Vec<Cond>,
    pub until: Vec<Cond>,
    pub retries: Option<Value>,
    pub delay: Option<Value>,
    /// Handler topics (`listen`).
    pub listen: Vec<String>,
    /// For `import_tasks`/`include_tasks`: the file is in `args`; the
    /// directory the relative path is resolved against.
    pub base_dir: PathBuf,
    /// The role this task belongs to, for `TASK [role : name]`.
    pub role: Option<String>,
}

impl Task {
    /// The name shown in banners: the task's name, else the action.
    pub fn display_name(&self) -> String {
        let base = match &self.name {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            // Ansible names an unnamed include_role after its role.
            None if self.action == "include_role" => {
                let role = self
                    .args
                    .get("name")
                    .or_else(|| self.args.get("role"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                format!("{} : {role}", self.action_as_written)
            }
            None => self.action_as_written.clone(),
        };
        match &self.role {
            Some(r) => format!("{r} : {base}"),
            None => base,
        }
    }
}
