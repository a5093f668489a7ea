//! What the run remembers about each host across tasks and plays: facts,
//! `set_fact` and registered values, `include_vars`, the recap counters,
//! and whether the host failed or became unreachable.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::output::events::HostStats;

#[derive(Debug, Default, Clone)]
pub struct HostState {
    /// `ansible_facts` (gathered, or set by modules and `set_fact: cacheable`).
    pub facts: Map<String, Value>,
    /// Facts that modules other than `setup` returned: injected as
    /// variables under their own names (`getent_passwd`), not `ansible_*`.
    pub plain_facts: HashSet<String>,
    /// `set_fact` and `register` values (one precedence level).
    pub host_facts: Map<String, Value>,
    /// Names in `host_facts` that came from `register` (never templated).
    pub registered: HashSet<String>,
    /// `include_vars` values.
    pub include_vars: Map<String, Value>,
    pub stats: HostStats,
    /// Failed in the current play (out of the play until it ends).
    pub failed: bool,
    /// Unreachable: out of the rest of the run.
    pub unreachable: bool,
    /// Handlers notified and not yet run (by handler task id).
    pub notified: Vec<usize>,
    /// `meta: end_host` was reached in the current play.
    pub ended: bool,
    /// `meta: clear_host_errors` ran since the flag was last reset: a host
    /// whose block failed goes on after its `always` section.
    pub errors_cleared: bool,
    /// Failures forgiven by `meta: clear_host_errors` (still in the recap,
    /// as in Ansible, but not in the exit code).
    pub cleared_failures: u32,
    /// Running notified handlers under `--force-handlers`: what they
    /// include runs even though the play was stopped.
    pub forcing_handlers: bool,
    /// Roles `include_role` ran on this host in the current play (by
    /// identity), for `allow_duplicates: false`.
    pub roles_included: HashSet<String>,
    /// Running what a handler included: its tasks are handlers too
    /// (`RUNNING HANDLER [...]`).
    pub in_handler: bool,
    /// The last failure happened in a task with `any_errors_fatal`.
    pub fatal: bool,
    /// The task and result of the last failure, for a `rescue` section.
    pub last_failure: Option<(Value, Value)>,
    /// `ansible_failed_task` / `ansible_failed_result` while in rescue and
    /// always sections.
    pub failure_vars: Map<String, Value>,
}

/// All hosts' state behind one lock; every critical section is short.
#[derive(Default)]
pub struct States {
    map: Mutex<HashMap<String, HostState>>,
    /// Hosts and groups added at run time (`add_host`, `group_by`).
    pub dynamic: Mutex<Dynamic>,
}

#[derive(Default, Debug, Clone)]
pub struct Dynamic {
    /// Hosts added with `add_host`, with their variables.
    pub hosts: IndexMap<String, Map<String, Value>>,
    /// Group → hosts added to it.
    pub groups: BTreeMap<String, Vec<String>>,
}

impl States {
    /// Runs `f` on a host's state (created on first use).
    pub fn with<R>(&self, host: &str, f: impl FnOnce(&mut HostState) -> R) -> R {
        let mut map = match self.map.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(map.entry(host.to_string()).or_default())
    }

    /// A copy of a host's state.
    pub fn get(&self, host: &str) -> HostState {
        self.with(host, |s| s.clone())
    }

    /// Every host seen so far with its counters, sorted by name.
    /// Whether some host failed without `meta: clear_host_errors`
    /// forgiving it (the exit code's "failed").
    pub fn any_uncleared_failure(&self) -> bool {
        let map = match self.map.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.values().any(|s| s.stats.failed > s.cleared_failures)
    }

    pub fn recap(&self) -> Vec<(String, HostStats)> {
        let map = match self.map.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut v: Vec<(String, HostStats)> = map
            .iter()
            .filter(|(_, s)| s.stats != HostStats::default() || s.failed || s.unreachable)
            .map(|(h, s)| (h.clone(), s.stats))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn dynamic(&self) -> Dynamic {
        match self.dynamic.lock() {
            Ok(d) => d.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn with_dynamic<R>(&self, f: impl FnOnce(&mut Dynamic) -> R) -> R {
        let mut d = match self.dynamic.lock() {
            Ok(d) => d,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut d)
    }
}
