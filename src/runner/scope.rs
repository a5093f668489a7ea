//! The variables a task sees on a host, layered in Ansible's precedence
//! order (lowest first):
//!
//! inventory file group vars < inventory `group_vars/all` < playbook
//! `group_vars/all` < inventory `group_vars/*` < playbook `group_vars/*` <
//! inventory file host vars < inventory `host_vars/*` < playbook
//! `host_vars/*` < facts < play `vars` < `vars_prompt` < `vars_files` <
//! block `vars` < task `vars` < `include_vars` < `set_fact` / `register` <
//! include params < magic variables < extra vars (`-e`), which always win.
//!
//! Role defaults and role vars join with the roles issue. One table-driven
//! test (tests/precedence.rs) covers every level.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::template::{Layer, Scope, Var};

/// Turns plain data into a layer; `trusted` says whether its strings may
/// be templated (data from hosts never is).
pub fn layer(map: &Map<String, Value>, trusted: bool) -> Arc<Layer> {
    let mut l: Layer = IndexMap::with_capacity(map.len());
    for (k, v) in map {
        l.insert(
            k.clone(),
            Var {
                value: v.clone(),
                trusted,
            },
        );
    }
    Arc::new(l)
}

/// The layers that stay the same for a host during a whole play
/// (precedence levels 1–8 and 10–12; facts change and are added per task).
#[derive(Clone, Default)]
pub struct PlayLayers {
    pub below_facts: Vec<Arc<Layer>>,
    pub above_facts: Vec<Arc<Layer>>,
}

/// Facts as Ansible exposes them: `ansible_facts` plus each fact injected
/// as `ansible_<name>`.
pub fn facts_layer(
    facts: &Map<String, Value>,
    plain: &std::collections::HashSet<String>,
) -> Arc<Layer> {
    let mut l: Layer = IndexMap::with_capacity(facts.len() + 1);
    for (k, v) in facts {
        let name = if k.starts_with("ansible_") || plain.contains(k) {
            k.clone()
        } else {
            format!("ansible_{k}")
        };
        l.insert(
            name,
            Var {
                value: v.clone(),
                trusted: false,
            },
        );
    }
    l.insert(
        "ansible_facts".into(),
        Var {
            value: Value::Object(facts.clone()),
            trusted: false,
        },
    );
    Arc::new(l)
}

/// Builds a scope from layers, lowest precedence first.
pub fn scope_of(layers: impl IntoIterator<Item = Arc<Layer>>) -> Scope {
    let mut s = Scope::new();
    for l in layers {
        s.push_layer(l);
    }
    s
}
