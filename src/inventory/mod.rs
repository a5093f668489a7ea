//! Ansible-compatible inventory: loading sources (INI, YAML/JSON, scripts,
//! directories, inline host lists, group_vars/host_vars), the host/group
//! graph, variable layering, host patterns and `ansible-inventory` output.

mod ini;
pub mod literal;
pub mod output;
pub mod pattern;
pub mod range;
mod script;
pub mod vars_dirs;
mod yaml_inv;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Source};

pub use pattern::Selection;
pub use vars_dirs::{LoadedVarsDir, VarsKind, load_vars_dir};

/// JSON object type used for every variable map.
pub type Vars = Map<String, Value>;

/// Names that select the implicit localhost when the inventory lacks them.
pub const LOCALHOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Files in an inventory directory that are never inventory sources
/// (Ansible's default `inventory_ignore_extensions`).
const IGNORED_EXTENSIONS: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

#[derive(Debug, Clone, Default)]
struct Group {
    vars: Vars,
    /// Direct child groups, in the order they were added.
    children: Vec<String>,
    parents: Vec<String>,
    /// Direct member hosts, in the order they were added.
    hosts: Vec<String>,
    priority: i64,
}

#[derive(Debug, Clone, Default)]
struct Host {
    vars: Vars,
    /// Direct groups.
    groups: Vec<String>,
    /// The first source that named this host (`inventory_file`).
    source: Option<String>,
}

/// The loaded inventory: hosts, groups, and their variables.
#[derive(Debug, Clone)]
pub struct Inventory {
    hosts: IndexMap<String, Host>,
    groups: IndexMap<String, Group>,
    /// group_vars/ files per group, all sources merged in source order.
    group_vars_files: IndexMap<String, Vars>,
    /// host_vars/ files per host, all sources merged in source order.
    host_vars_files: IndexMap<String, Vars>,
    /// Where each source's group_vars/ and host_vars/ live.
    vars_bases: Vec<PathBuf>,
    depth: HashMap<String, usize>,
}

/// What [`Inventory::load`] produced, plus warnings for the user.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub inventory: Inventory,
    pub warnings: Vec<String>,
}

/// Inventory-level variables of one host, by precedence layer (lowest
/// first), so the play-level precedence engine can interleave playbook
/// group_vars/host_vars between them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VarLayers {
    /// Group vars from inventory files/scripts (all first, then groups by
    /// depth, priority, name).
    pub group_inventory: Vars,
    /// `group_vars/all*` next to the inventory sources.
    pub group_vars_all: Vars,
    /// Other `group_vars/*` next to the inventory sources, same group order.
    pub group_vars: Vars,
    /// Host vars from inventory files/scripts.
    pub host_inventory: Vars,
    /// `host_vars/*` next to the inventory sources.
    pub host_vars: Vars,
}

impl VarLayers {
    /// All layers merged, later layers replacing top-level keys.
    pub fn merged(&self) -> Vars {
        let mut out = Vars::new();
        for layer in [
            &self.group_inventory,
            &self.group_vars_all,
            &self.group_vars,
            &self.host_inventory,
            &self.host_vars,
        ] {
            merge_into(&mut out, layer);
        }
        out
    }
}

/// `hash_behaviour = replace`: top-level keys of `new` replace `into`'s.
pub fn merge_into(into: &mut Vars, new: &Vars) {
    for (k, v) in new {
        into.insert(k.clone(), v.clone());
    }
}

impl Default for Inventory {
    fn default() -> Self {
        Self::new()
    }
}

impl Inventory {
    /// An empty inventory: just `all` with its child `ungrouped`.
    pub fn new() -> Self {
        let mut inv = Inventory {
            hosts: IndexMap::new(),
            groups: IndexMap::new(),
            group_vars_files: IndexMap::new(),
            host_vars_files: IndexMap::new(),
            vars_bases: Vec::new(),
            depth: HashMap::new(),
        };
        inv.add_group("all");
        inv.add_group("ungrouped");
        // Cannot loop: both groups are fresh.
        let _ = inv.add_child("all", "ungrouped");
        inv
    }

    /// Load every source (values of `-i`). See the module docs for formats.
    pub fn load(sources: &[String]) -> Result<Loaded, Diagnostic> {
        let mut inv = Inventory::new();
        let mut warnings = Vec::new();
        let mut parsed_any = false;
        for source in sources {
            let path = Path::new(source);
            if path.exists() {
                inv.load_path(path, &mut warnings)?;
                inv.vars_bases.push(if path.is_dir() {
                    path.to_path_buf()
                } else {
                    path.parent()
                        .map(Path::to_path_buf)
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or_else(|| PathBuf::from("."))
                });
                parsed_any = true;
            } else if source.contains(',') {
                inv.load_host_list(source);
                parsed_any = true;
            } else {
                warnings.push(format!("Unable to parse {source} as an inventory source"));
            }
        }
        if !parsed_any {
            warnings.push("No inventory was parsed, only implicit localhost is available".into());
        }
        inv.reconcile(&mut warnings);
        inv.load_vars_files(&mut warnings)?;
        Ok(Loaded {
            inventory: inv,
            warnings,
        })
    }

    /// Parse inventory text of a known format, for tests and for callers
    /// that already hold the text. `name` is used in messages.
    pub fn from_ini(name: &str, text: &str) -> Result<Loaded, Diagnostic> {
        let mut inv = Inventory::new();
        let mut warnings = Vec::new();
        ini::parse(&mut inv, &Source::new(name, text))?;
        inv.reconcile(&mut warnings);
        Ok(Loaded {
            inventory: inv,
            warnings,
        })
    }

    /// Like [`Inventory::from_ini`] for the YAML (or JSON) format.
    pub fn from_yaml(name: &str, text: &str) -> Result<Loaded, Diagnostic> {
        let mut inv = Inventory::new();
        let mut warnings = Vec::new();
        let loaded = crate::yaml::load(&Source::new(name, text))?;
        warnings.extend(loaded.warnings.iter().cloned());
        yaml_inv::parse(&mut inv, &loaded, &mut warnings)?;
        inv.reconcile(&mut warnings);
        Ok(Loaded {
            inventory: inv,
            warnings,
        })
    }

    fn load_path(&mut self, path: &Path, warnings: &mut Vec<String>) -> Result<(), Diagnostic> {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| io_error(path, &e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for entry in entries {
                let Some(name) = entry.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if name.starts_with('.')
                    || matches!(name, "group_vars" | "host_vars" | "vars_plugins")
                    || IGNORED_EXTENSIONS.iter().any(|ext| name.ends_with(ext))
                {
                    continue;
                }
                self.load_path(&entry, warnings)?;
            }
            return Ok(());
        }
        let name = path.to_string_lossy().into_owned();
        if script::is_executable(path) {
            match script::run(self, path)? {
                script::Outcome::Parsed => return Ok(()),
                // Not runnable (no shebang, wrong format): a static file
                // that happens to have the x bit.
                script::Outcome::NotAScript => {}
            }
        }
        let bytes = std::fs::read(path).map_err(|e| io_error(path, &e))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Diagnostic::parse(format!("Inventory file {name} is not valid UTF-8"), None)
        })?;
        let source = Source::new(name.as_str(), text);
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("yml" | "yaml" | "json") => {
                let loaded = crate::yaml::load(&source)?;
                warnings.extend(loaded.warnings.iter().cloned());
                yaml_inv::parse(self, &loaded, warnings)
            }
            Some("ini") => ini::parse(self, &source),
            _ => {
                // Ansible tries the YAML plugin before the INI one for
                // other names; YAML wins only if it reads as a mapping.
                if let Ok(loaded) = crate::yaml::load(&source)
                    && loaded.node.as_map().is_some_and(|m| !m.is_empty())
                {
                    let mut trial = self.clone();
                    let mut trial_warnings = loaded.warnings.clone();
                    if yaml_inv::parse(&mut trial, &loaded, &mut trial_warnings).is_ok() {
                        *self = trial;
                        warnings.extend(trial_warnings);
                        return Ok(());
                    }
                }
                ini::parse(self, &source)
            }
        }
    }

    /// `-i 'h1,h2,'`: hosts separated by commas, each optionally `:port`.
    fn load_host_list(&mut self, list: &str) {
        for item in list.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, port) = range::parse_address(item);
            if !self.hosts.contains_key(&name) {
                self.add_host(&name, Some("ungrouped"), port, None);
            }
        }
    }

    // ---- building -------------------------------------------------------

    pub(crate) fn has_group(&self, name: &str) -> bool {
        self.groups.contains_key(name)
    }

    pub(crate) fn add_group(&mut self, name: &str) {
        if !self.groups.contains_key(name) {
            self.groups.insert(
                name.to_owned(),
                Group {
                    priority: 1,
                    ..Group::default()
                },
            );
        }
    }

    /// Add (or find) a host, put it in `group`, record its port.
    pub(crate) fn add_host(
        &mut self,
        name: &str,
        group: Option<&str>,
        port: Option<i64>,
        source: Option<&str>,
    ) {
        let host = self.hosts.entry(name.to_owned()).or_default();
        if host.source.is_none() {
            host.source = source.map(str::to_owned);
        }
        if let Some(port) = port {
            host.vars.insert("ansible_port".into(), Value::from(port));
        }
        if let Some(group) = group {
            self.add_group(group);
            let host = self.hosts.entry(name.to_owned()).or_default();
            if !host.groups.iter().any(|g| g == group) {
                host.groups.push(group.to_owned());
            }
            if let Some(g) = self.groups.get_mut(group)
                && !g.hosts.iter().any(|h| h == name)
            {
                g.hosts.push(name.to_owned());
            }
        }
    }

    /// Make `child` a child group of `parent`; refuses loops.
    pub(crate) fn add_child(&mut self, parent: &str, child: &str) -> Result<(), String> {
        self.add_group(parent);
        self.add_group(child);
        if parent == child || self.ancestors_of_group(parent).contains(child) {
            return Err(format!(
                "Adding group '{child}' as child to '{parent}' creates a recursive dependency loop."
            ));
        }
        if let Some(p) = self.groups.get_mut(parent)
            && !p.children.iter().any(|c| c == child)
        {
            p.children.push(child.to_owned());
        }
        if let Some(c) = self.groups.get_mut(child)
            && !c.parents.iter().any(|p| p == parent)
        {
            c.parents.push(parent.to_owned());
        }
        Ok(())
    }

    pub(crate) fn set_group_var(
        &mut self,
        group: &str,
        key: &str,
        value: Value,
    ) -> Result<(), String> {
        self.add_group(group);
        let Some(g) = self.groups.get_mut(group) else {
            return Ok(());
        };
        if key == "ansible_group_priority" {
            // Ansible keeps the priority on the group, not among its vars.
            g.priority = match &value {
                Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
                Value::String(s) => s.trim().parse().ok(),
                Value::Bool(b) => Some(i64::from(*b)),
                _ => None,
            }
            .ok_or_else(|| format!("ansible_group_priority must be an integer, got {value}"))?;
            return Ok(());
        }
        g.vars.insert(key.to_owned(), value);
        Ok(())
    }

    pub(crate) fn set_host_var(&mut self, host: &str, key: &str, value: Value) {
        self.hosts
            .entry(host.to_owned())
            .or_default()
            .vars
            .insert(key.to_owned(), value);
    }

    fn ancestors_of_group(&self, name: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut todo = vec![name.to_owned()];
        while let Some(g) = todo.pop() {
            if let Some(group) = self.groups.get(&g) {
                for p in &group.parents {
                    if seen.insert(p.clone()) {
                        todo.push(p.clone());
                    }
                }
            }
        }
        seen
    }

    /// Ansible's `reconcile_inventory`: every group hangs under `all`,
    /// hosts in no group are `ungrouped`, hosts in other groups are not.
    fn reconcile(&mut self, warnings: &mut Vec<String>) {
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in &names {
            if name != "all" && self.groups.get(name).is_some_and(|g| g.parents.is_empty()) {
                let _ = self.add_child("all", name);
            }
        }
        let host_names: Vec<String> = self.hosts.keys().cloned().collect();
        for name in &host_names {
            let groups = self.host_groups(name);
            let in_ungrouped = groups.iter().any(|g| g == "ungrouped");
            let others = groups.iter().any(|g| g != "all" && g != "ungrouped");
            if in_ungrouped && others {
                if let Some(g) = self.groups.get_mut("ungrouped") {
                    g.hosts.retain(|h| h != name);
                }
                if let Some(h) = self.hosts.get_mut(name) {
                    h.groups.retain(|g| g != "ungrouped");
                }
            } else if !others && !in_ungrouped {
                self.add_host(name, Some("ungrouped"), None, None);
            }
        }
        for name in &names {
            if self.hosts.contains_key(name) {
                warnings.push(format!("Found both group and host with same name: {name}"));
            }
        }
        self.depth.clear();
        for name in &names {
            self.compute_depth(name);
        }
    }

    fn compute_depth(&mut self, name: &str) -> usize {
        if let Some(d) = self.depth.get(name) {
            return *d;
        }
        let parents = self
            .groups
            .get(name)
            .map(|g| g.parents.clone())
            .unwrap_or_default();
        let d = parents
            .iter()
            .map(|p| self.compute_depth(p) + 1)
            .max()
            .unwrap_or(0);
        self.depth.insert(name.to_owned(), d);
        d
    }

    fn load_vars_files(&mut self, warnings: &mut Vec<String>) -> Result<(), Diagnostic> {
        let group_names: Vec<String> = self.groups.keys().cloned().collect();
        let mut host_names: Vec<String> = self.hosts.keys().cloned().collect();
        // The implicit localhost can have host_vars too.
        for name in LOCALHOST_NAMES {
            if !self.hosts.contains_key(name) {
                host_names.push(name.to_owned());
            }
        }
        let group_refs: Vec<&str> = group_names.iter().map(String::as_str).collect();
        let host_refs: Vec<&str> = host_names.iter().map(String::as_str).collect();
        for base in self.vars_bases.clone() {
            let groups = load_vars_dir(&base, VarsKind::Group, &group_refs)?;
            warnings.extend(groups.warnings);
            for (name, vars) in groups.vars {
                merge_into(self.group_vars_files.entry(name).or_default(), &vars);
            }
            let hosts = load_vars_dir(&base, VarsKind::Host, &host_refs)?;
            warnings.extend(hosts.warnings);
            for (name, vars) in hosts.vars {
                merge_into(self.host_vars_files.entry(name).or_default(), &vars);
            }
        }
        Ok(())
    }

    // ---- queries --------------------------------------------------------

    /// Every host in inventory order (the order `all` yields them).
    pub fn hosts(&self) -> Vec<&str> {
        self.group_hosts("all")
    }

    /// Whether `name` is a host of the inventory (not the implicit one).
    pub fn has_host(&self, name: &str) -> bool {
        self.hosts.contains_key(name)
    }

    /// Whether `host` would be the implicit localhost: a localhost name
    /// the inventory does not define.
    pub fn is_implicit_localhost(&self, host: &str) -> bool {
        LOCALHOST_NAMES.contains(&host) && !self.hosts.contains_key(host)
    }

    /// The source file that first named `host` (Ansible's `inventory_file`).
    pub fn inventory_file(&self, host: &str) -> Option<&str> {
        self.hosts.get(host)?.source.as_deref()
    }

    /// Hosts of a group including its descendants' hosts, in Ansible's
    /// order: the group's own hosts, then its children level by level.
    pub fn group_hosts(&self, group: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for g in self.descendants(group) {
            if let Some(grp) = self.groups.get(g) {
                for h in &grp.hosts {
                    if seen.insert(h.as_str()) {
                        out.push(h.as_str());
                    }
                }
            }
        }
        out
    }

    /// `group` then its descendants, breadth first, each once.
    fn descendants<'a>(&'a self, group: &'a str) -> Vec<&'a str> {
        let Some((name, _)) = self.groups.get_key_value(group) else {
            return Vec::new();
        };
        let mut out = vec![name.as_str()];
        let mut seen: HashSet<&str> = HashSet::from([name.as_str()]);
        let mut level = vec![name.as_str()];
        while !level.is_empty() {
            let mut next = Vec::new();
            for g in level {
                if let Some(grp) = self.groups.get(g) {
                    for c in &grp.children {
                        if seen.insert(c.as_str()) {
                            out.push(c.as_str());
                            next.push(c.as_str());
                        }
                    }
                }
            }
            level = next;
        }
        out
    }

    /// Every group `host` belongs to, directly or through ancestry,
    /// including `all` and (if so) `ungrouped`.
    fn host_groups(&self, host: &str) -> Vec<String> {
        let Some(h) = self.hosts.get(host) else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for g in &h.groups {
            if !out.contains(g) {
                out.push(g.clone());
            }
            let mut anc: Vec<String> = self.ancestors_of_group(g).into_iter().collect();
            anc.sort();
            for a in anc {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        out
    }

    /// The host's groups without `all`, sorted by (depth, priority, name):
    /// the order in which their variables apply.
    fn sorted_groups(&self, host: &str) -> Vec<String> {
        let mut groups: Vec<String> = self
            .host_groups(host)
            .into_iter()
            .filter(|g| g != "all")
            .collect();
        groups.sort_by(|a, b| {
            let key = |g: &String| {
                (
                    self.depth.get(g).copied().unwrap_or(0),
                    self.groups.get(g).map_or(1, |x| x.priority),
                )
            };
            key(a).cmp(&key(b)).then_with(|| a.cmp(b))
        });
        groups
    }

    /// Ansible's `group_names`: the host's groups, sorted, without `all`
    /// (an ungrouped host gets `["ungrouped"]`, as in Ansible).
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .host_groups(host)
            .into_iter()
            .filter(|g| g != "all")
            .collect();
        names.sort();
        names
    }

    /// Ansible's `groups` magic variable: every group (with `all` and
    /// `ungrouped`) mapped to its hosts, descendants included.
    pub fn groups(&self) -> IndexMap<String, Vec<String>> {
        self.groups
            .keys()
            .map(|g| {
                (
                    g.clone(),
                    self.group_hosts(g).into_iter().map(str::to_owned).collect(),
                )
            })
            .collect()
    }

    /// Names of all groups in creation order (`all` and `ungrouped` first).
    pub fn group_list(&self) -> Vec<&str> {
        self.groups.keys().map(String::as_str).collect()
    }

    /// Whether a group of this name exists.
    pub fn is_group(&self, name: &str) -> bool {
        self.groups.contains_key(name)
    }

    /// The inventory-level variables of `host`, by layer.
    pub fn var_layers(&self, host: &str) -> VarLayers {
        let mut layers = VarLayers::default();
        if let Some(all) = self.groups.get("all") {
            merge_into(&mut layers.group_inventory, &all.vars);
        }
        if let Some(files) = self.group_vars_files.get("all") {
            merge_into(&mut layers.group_vars_all, files);
        }
        if self.is_implicit_localhost(host) {
            layers
                .host_inventory
                .insert("ansible_connection".into(), Value::from("local"));
        } else {
            for g in self.sorted_groups(host) {
                if let Some(group) = self.groups.get(&g) {
                    merge_into(&mut layers.group_inventory, &group.vars);
                }
                if let Some(files) = self.group_vars_files.get(&g) {
                    merge_into(&mut layers.group_vars, files);
                }
            }
            if let Some(h) = self.hosts.get(host) {
                merge_into(&mut layers.host_inventory, &h.vars);
            }
        }
        if let Some(files) = self.host_vars_files.get(host) {
            merge_into(&mut layers.host_vars, files);
        }
        layers
    }

    /// All inventory-level variables of `host`, merged.
    pub fn host_vars(&self, host: &str) -> Vars {
        self.var_layers(host).merged()
    }

    /// The group's own inventory variables plus its group_vars/ files.
    pub fn group_vars(&self, group: &str) -> Vars {
        let mut out = Vars::new();
        if let Some(g) = self.groups.get(group) {
            merge_into(&mut out, &g.vars);
        }
        if let Some(files) = self.group_vars_files.get(group) {
            merge_into(&mut out, files);
        }
        out
    }

    /// Select hosts by an Ansible host pattern.
    pub fn select(&self, pattern: &str) -> Result<Selection, Diagnostic> {
        pattern::select(self, pattern)
    }

    /// Select by `pattern`, then keep only hosts that `limit` (`--limit`,
    /// may hold `@file` entries) also selects.
    pub fn select_with_limit(
        &self,
        pattern: &str,
        limit: Option<&str>,
    ) -> Result<Selection, Diagnostic> {
        let mut sel = pattern::select(self, pattern)?;
        if let Some(limit) = limit {
            let lim = pattern::select(self, limit)?;
            sel.warnings.extend(lim.warnings);
            let keep: HashSet<&String> = lim.hosts.iter().collect();
            sel.hosts.retain(|h| keep.contains(h));
        }
        Ok(sel)
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::parse(format!("Unable to read {}: {e}", path.display()), None)
}
