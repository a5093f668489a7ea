//! Variable scopes and the lazy root context templates are rendered in.
//!
//! A [`Scope`] is a stack of variable layers (the caller orders them by
//! precedence) plus top-most overrides. Templates never see the scope
//! directly: they see a [`Ctx`], a minijinja object that resolves a name only
//! when the template asks for it, renders trusted template strings on the
//! way (Ansible's lazy variables), and detects cycles between variables.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Error, ErrorKind, Value};

use super::{Templar, UNSAFE_KEY, is_template, omit_token};

/// One variable: its value and whether it may be templated.
#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    pub value: serde_json::Value,
    /// `false` for data that came from hosts (registered results, facts) and
    /// for `!unsafe` values: such data is never templated again, so a host
    /// cannot make the controller run `lookup('pipe', ...)`.
    pub trusted: bool,
}

impl Var {
    pub fn trusted(value: serde_json::Value) -> Self {
        Var {
            value,
            trusted: true,
        }
    }
    pub fn untrusted(value: serde_json::Value) -> Self {
        Var {
            value,
            trusted: false,
        }
    }
}

/// One precedence level of variables.
pub type Layer = IndexMap<String, Var>;

#[derive(Debug, Clone)]
enum Entry {
    Var(Var),
    Obj(Value),
}

/// The variables visible to a template. Cloning is cheap: everything is
/// behind `Arc`s and copied on write.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    layers: Vec<Arc<Layer>>,
    top: Arc<IndexMap<String, Entry>>,
    search_paths: Arc<Vec<PathBuf>>,
}

impl Scope {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a layer; later layers win over earlier ones.
    pub fn push_layer(&mut self, layer: Arc<Layer>) {
        self.layers.push(layer);
    }

    /// Sets a top-most variable (wins over every layer), e.g. `item`.
    pub fn set(&mut self, name: &str, var: Var) {
        Arc::make_mut(&mut self.top).insert(name.to_string(), Entry::Var(var));
    }

    /// Sets a top-most variable to a minijinja value, typically a lazy
    /// object built by the engine such as `hostvars`.
    pub fn set_object(&mut self, name: &str, obj: Value) {
        Arc::make_mut(&mut self.top).insert(name.to_string(), Entry::Obj(obj));
    }

    /// The variable as stored, without templating it.
    pub fn get_raw(&self, name: &str) -> Option<Var> {
        if let Some(e) = self.top.get(name) {
            return match e {
                Entry::Var(v) => Some(v.clone()),
                Entry::Obj(o) => Some(Var::untrusted(
                    serde_json::to_value(o).unwrap_or(serde_json::Value::Null),
                )),
            };
        }
        self.layers.iter().rev().find_map(|l| l.get(name)).cloned()
    }

    fn get_entry(&self, name: &str) -> Option<Entry> {
        if let Some(e) = self.top.get(name) {
            return Some(e.clone());
        }
        self.layers
            .iter()
            .rev()
            .find_map(|l| l.get(name))
            .map(|v| Entry::Var(v.clone()))
    }

    /// Whether a name is defined in any layer.
    pub fn contains(&self, name: &str) -> bool {
        self.top.contains_key(name) || self.layers.iter().any(|l| l.contains_key(name))
    }

    /// Every visible name, in first-definition order.
    pub fn names(&self) -> Vec<String> {
        let mut seen = indexmap::IndexSet::new();
        for l in &self.layers {
            for k in l.keys() {
                seen.insert(k.clone());
            }
        }
        for k in self.top.keys() {
            seen.insert(k.clone());
        }
        seen.into_iter().collect()
    }

    /// Directories that relative paths of file lookups resolve against.
    pub fn set_search_paths(&mut self, paths: Vec<PathBuf>) {
        self.search_paths = Arc::new(paths);
    }

    pub fn search_paths(&self) -> &[PathBuf] {
        &self.search_paths
    }

    /// This scope as a lazy template value (e.g. one host's entry in
    /// `hostvars`): names resolve and render on access, like the root.
    pub fn into_value(self) -> Value {
        Value::from_dyn_object(Ctx::new(super::shared_templar(), &self))
    }

    /// Like [`Scope::into_value`] with a specific templar.
    pub fn to_value_with(&self, templar: &Templar) -> Value {
        Value::from_dyn_object(Ctx::new(templar, self))
    }
}

/// Converts JSON to a minijinja value, turning `!unsafe` markers into the
/// plain text they wrap. Used for untrusted data and for rendered output.
pub fn json_to_value(v: &serde_json::Value) -> Value {
    if has_marker(v) {
        crate::template::jv(strip_markers(v))
    } else {
        crate::template::jv(v)
    }
}

fn has_marker(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Array(a) => a.iter().any(has_marker),
        serde_json::Value::Object(m) => {
            (m.len() == 1 && m.contains_key(UNSAFE_KEY)) || m.values().any(has_marker)
        }
        _ => false,
    }
}

/// Replaces every `{"__tutti_unsafe__": text}` marker by its text.
pub fn strip_markers(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.iter().map(strip_markers).collect())
        }
        serde_json::Value::Object(m) => {
            if m.len() == 1
                && let Some(t) = m.get(UNSAFE_KEY)
            {
                return t.clone();
            }
            serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), strip_markers(v)))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// The root object a template is rendered against: resolves names lazily.
#[derive(Debug)]
pub struct Ctx {
    pub(crate) templar: Templar,
    pub(crate) scope: Scope,
    /// Names being resolved right now, for cycle detection.
    stack: Mutex<Vec<String>>,
    /// Resolved values: the scope cannot change during one render call, so
    /// a name is converted (and templated) at most once.
    cache: Mutex<HashMap<String, Value>>,
    /// Print undefined values as "" (see `Templar::render_top`).
    pub(crate) lenient: std::sync::atomic::AtomicBool,
    /// Set by the `mandatory` filter so its undefined error is worded as
    /// "Mandatory variable 'x' not defined."
    pub(crate) mandatory: std::sync::atomic::AtomicBool,
}

/// The hidden name under which templates' functions find the context.
pub(crate) const CTX_NAME: &str = "__tutti_ctx__";

impl Ctx {
    pub(crate) fn new(templar: &Templar, scope: &Scope) -> Arc<Ctx> {
        Arc::new(Ctx {
            templar: templar.clone(),
            scope: scope.clone(),
            stack: Mutex::new(Vec::new()),
            cache: Mutex::new(HashMap::new()),
            lenient: std::sync::atomic::AtomicBool::new(false),
            mandatory: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Finds the context from inside a filter or function.
    pub(crate) fn from_state(state: &minijinja::State) -> Option<Arc<Ctx>> {
        state
            .lookup(CTX_NAME)
            .and_then(|v| v.downcast_object::<Ctx>())
    }

    fn resolve(self: &Arc<Self>, name: &str) -> Option<Value> {
        if let Ok(cache) = self.cache.lock()
            && let Some(v) = cache.get(name)
        {
            return Some(v.clone());
        }
        let entry = self.scope.get_entry(name)?;
        let value = match entry {
            Entry::Obj(o) => o,
            Entry::Var(var) if !var.trusted => json_to_value(&var.value),
            Entry::Var(var) => {
                if !needs_render(&var.value) {
                    json_to_value(&var.value)
                } else {
                    {
                        let Ok(mut stack) = self.stack.lock() else {
                            return None;
                        };
                        if stack.iter().any(|n| n == name) {
                            let shown = match &var.value {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            return Some(Value::from(Error::new(
                                ErrorKind::InvalidOperation,
                                format!("recursive loop detected in template string: {shown}"),
                            )));
                        }
                        stack.push(name.to_string());
                    }
                    let rendered = self.render_json(&var.value);
                    if let Ok(mut stack) = self.stack.lock() {
                        stack.pop();
                    }
                    match rendered {
                        Ok(v) => v,
                        Err(e) => Value::from(e),
                    }
                }
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(name.to_string(), value.clone());
        }
        Some(value)
    }

    /// Renders every template string inside a trusted JSON value.
    pub(crate) fn render_json(self: &Arc<Self>, v: &serde_json::Value) -> Result<Value, Error> {
        Ok(match v {
            serde_json::Value::String(s) if is_template(s) => {
                self.templar.render_value_in(s, self)?
            }
            serde_json::Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for x in a {
                    out.push(self.render_json(x)?);
                }
                Value::from(out)
            }
            serde_json::Value::Object(m) => {
                if m.len() == 1
                    && let Some(t) = m.get(UNSAFE_KEY)
                {
                    return Ok(crate::template::jv(t));
                }
                let mut out = indexmap::IndexMap::<Value, Value>::new();
                for (k, x) in m {
                    let key = if is_template(k) {
                        self.templar.render_value_in(k, self)?
                    } else {
                        Value::from(k.as_str())
                    };
                    out.insert(key, self.render_json(x)?);
                }
                Value::from_pairs(out)
            }
            other => crate::template::jv(other),
        })
    }
}

/// Whether a trusted value holds anything to template.
fn needs_render(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => is_template(s),
        serde_json::Value::Array(a) => a.iter().any(needs_render),
        serde_json::Value::Object(m) => m
            .iter()
            .any(|(k, v)| is_template(k) || (k == UNSAFE_KEY && m.len() == 1) || needs_render(v)),
        _ => false,
    }
}

impl Object for Ctx {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if let Some(v) = self.resolve(name) {
            return Some(v);
        }
        match name {
            CTX_NAME => Some(Value::from_dyn_object(self.clone())),
            // Ansible's `vars` is every variable, resolved lazily too.
            "vars" => Some(Value::from_dyn_object(self.clone())),
            "omit" => Some(Value::from(omit_token())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.scope.names().into_iter().map(Value::from).collect())
    }
}
