//! Roles: finding a role on the search path, loading its tasks, handlers,
//! defaults, vars and meta (dependencies first, deduplicated), and the
//! argument-spec check of `meta/argument_specs.yml`.
//!
//! Search order for `roles: [name]`: `<playbook>/roles/name`, each
//! `roles_path` entry, then `<playbook>/name`; a path is used as given.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::playbook::load::{self, parse_steps};
use crate::playbook::model::{Keywords, Step, Task};

pub mod install;
pub mod lock;

/// `roles_path` from ansible.cfg / `ANSIBLE_ROLES_PATH` (set once at start).
static ROLES_PATH: OnceLock<Vec<PathBuf>> = OnceLock::new();

/// Sets the configured role search path (colon-separated entries).
pub fn set_roles_path(paths: Vec<PathBuf>) {
    let _ = ROLES_PATH.set(paths);
}

/// The default when nothing is configured, as Ansible's.
pub fn default_roles_path() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(home) = dirs::home_dir() {
        v.push(home.join(".ansible/roles"));
    }
    v.push(PathBuf::from("/usr/share/ansible/roles"));
    v.push(PathBuf::from("/etc/ansible/roles"));
    v
}

fn roles_path() -> Vec<PathBuf> {
    ROLES_PATH.get().cloned().unwrap_or_else(default_roles_path)
}

/// The directory of the playbook being loaded: roles named from inside a
/// role's task files are looked up in its `roles/` too, as Ansible does.
static PLAYBOOK_DIR: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

pub fn set_playbook_dir(dir: &Path) {
    if let Ok(mut g) = PLAYBOOK_DIR.lock() {
        *g = Some(dir.to_path_buf());
    }
}

/// Where a collection role `ns.col.role` may live: `collections/` beside
/// the including file and the playbook, `ANSIBLE_COLLECTIONS_PATH`, then
/// Ansible's default collection directories.
fn collection_candidates(name: &str, here: &Path, top: Option<&Path>) -> Vec<PathBuf> {
    let parts: Vec<&str> = name.split('.').collect();
    let [ns, col, role] = parts[..] else {
        return Vec::new();
    };
    if parts.iter().any(|p| p.is_empty() || p.contains('/')) {
        return Vec::new();
    }
    let mut roots = vec![here.join("collections")];
    roots.extend(top.map(|d| d.join("collections")));
    let configured = std::env::var("ANSIBLE_COLLECTIONS_PATH")
        .or_else(|_| std::env::var("ANSIBLE_COLLECTIONS_PATHS"))
        .ok();
    match configured {
        Some(v) => roots.extend(v.split(':').filter(|p| !p.is_empty()).map(PathBuf::from)),
        None => {
            if let Some(home) = dirs::home_dir() {
                roots.push(home.join(".ansible/collections"));
            }
            roots.push(PathBuf::from("/usr/share/ansible/collections"));
        }
    }
    roots
        .into_iter()
        .map(|r| {
            // A path entry may name ansible_collections itself or its parent.
            let base = if r.ends_with("ansible_collections") {
                r
            } else {
                r.join("ansible_collections")
            };
            base.join(ns).join(col).join("roles").join(role)
        })
        .collect()
}

/// The directory of the playbook being loaded, once set.
pub fn playbook_dir() -> Option<PathBuf> {
    PLAYBOOK_DIR.lock().ok().and_then(|g| g.clone())
}

/// Finds a role directory: `roles/` beside the including file, beside the
/// playbook, the roles path, then the including and playbook directories.
pub fn find(name: &str, playbook_dir: &Path) -> Result<PathBuf, String> {
    let p = Path::new(name);
    if name.contains('/') && p.is_dir() {
        return Ok(p.to_path_buf());
    }
    let top = PLAYBOOK_DIR
        .lock()
        .ok()
        .and_then(|g| g.clone())
        .filter(|d| d != playbook_dir);
    let mut tried = Vec::new();
    let mut candidates = collection_candidates(name, playbook_dir, top.as_deref());
    candidates.push(playbook_dir.join("roles").join(name));
    candidates.extend(top.iter().map(|d| d.join("roles").join(name)));
    candidates.extend(roles_path().into_iter().map(|d| d.join(name)));
    candidates.push(playbook_dir.join(name));
    candidates.extend(top.iter().map(|d| d.join(name)));
    for c in candidates {
        if c.is_dir() {
            return Ok(c);
        }
        tried.push(c.display().to_string());
    }
    Err(format!(
        "the role '{name}' was not found in {}",
        tried.join(":")
    ))
}

/// `main.yml`, `main.yaml` or `main` (or `<name>.yml`...) in a role dir.
fn entry(dir: &Path, name: &str) -> Option<PathBuf> {
    [
        format!("{name}.yml"),
        format!("{name}.yaml"),
        name.to_string(),
    ]
    .into_iter()
    .map(|f| dir.join(f))
    .find(|p| p.is_file())
}

fn vars_file(role: &Path, sub: &str, name: &str) -> Result<Map<String, Value>, Diagnostic> {
    match entry(&role.join(sub), name) {
        Some(p) => crate::inventory::vars_dirs::load_vars_file(&p).map(|(v, _)| v),
        None => Ok(Map::new()),
    }
}

/// How a role is asked for.
#[derive(Debug, Clone, Default)]
pub struct RoleSpec {
    pub name: String,
    pub params: Map<String, Value>,
    pub tasks_from: Option<String>,
    pub vars_from: Option<String>,
    pub defaults_from: Option<String>,
    pub handlers_from: Option<String>,
    /// `allow_duplicates` given where the role is named (import_role and
    /// include_role; it overrides the role's meta).
    pub allow_duplicates: Option<bool>,
    /// `rolespec_validate: false` skips the argument-spec check.
    pub skip_validation: bool,
}

/// What loading a role produced.
pub struct LoadedRole {
    pub steps: Vec<Step>,
    pub handlers: Vec<Arc<Task>>,
    /// The defaults and vars the role (its dependencies first) shows the
    /// whole play when it is public.
    pub exposed: Vec<Exposure>,
}

/// A public role's defaults and `vars/`, which every task of the play sees
/// (defaults below everything, vars at the role-vars level), as Ansible's
/// imported and `public: true` roles do.
#[derive(Clone, Debug)]
pub struct Exposure {
    pub defaults: Arc<crate::template::Layer>,
    pub vars: Arc<crate::template::Layer>,
}

/// Roles already loaded in a play, for dependency de-duplication.
#[derive(Default, Debug)]
pub struct Seen(Mutex<HashSet<String>>);

/// Parses a `roles:` entry or the arguments of `import_role`/`include_role`.
pub fn spec_from(v: &Value) -> Result<(RoleSpec, Map<String, Value>), String> {
    let mut spec = RoleSpec::default();
    let mut keywords = Map::new();
    match v {
        Value::String(s) => spec.name = s.clone(),
        Value::Object(m) => {
            for (k, val) in m {
                match k.as_str() {
                    "role" | "name" => spec.name = val.as_str().unwrap_or_default().to_string(),
                    "tasks_from" => spec.tasks_from = val.as_str().map(str::to_string),
                    "vars_from" => spec.vars_from = val.as_str().map(str::to_string),
                    "defaults_from" => spec.defaults_from = val.as_str().map(str::to_string),
                    "handlers_from" => spec.handlers_from = val.as_str().map(str::to_string),
                    "when" | "tags" | "become" | "become_user" | "become_method"
                    | "environment" | "ignore_errors" | "delegate_to" | "no_log" | "check_mode"
                    | "diff" | "remote_user" | "connection" | "any_errors_fatal" | "run_once" => {
                        keywords.insert(k.clone(), val.clone());
                    }
                    "vars" => {
                        if let Value::Object(vm) = val {
                            for (vk, vv) in vm {
                                spec.params.insert(vk.clone(), vv.clone());
                            }
                        }
                    }
                    "allow_duplicates" => {
                        spec.allow_duplicates = tutti_modules::params::to_bool(val);
                    }
                    "rolespec_validate" => {
                        spec.skip_validation = tutti_modules::params::to_bool(val) == Some(false);
                    }
                    "public" | "apply" => {}
                    _ => {
                        spec.params.insert(k.clone(), val.clone());
                    }
                }
            }
        }
        other => return Err(format!("a role must be a name or a mapping, got {other}")),
    }
    if spec.name.is_empty() {
        return Err("a role needs a name ('role:')".into());
    }
    Ok((spec, keywords))
}

/// What makes two invocations of a role the same one (its directory and
/// parameters), for `allow_duplicates`.
fn identity(dir: &Path, spec: &RoleSpec) -> String {
    format!("{}|{}", dir.display(), Value::Object(spec.params.clone()))
}

/// The identity of the role `spec` names, if it can be found.
pub fn identity_of(spec: &RoleSpec, playbook_dir: &Path) -> Option<String> {
    find(&spec.name, playbook_dir)
        .ok()
        .map(|dir| identity(&dir, spec))
}

/// Loads a role (its dependencies first) as steps inheriting `parent`.
pub fn load(
    spec: &RoleSpec,
    parent: &Keywords,
    playbook_dir: &Path,
    seen: &Seen,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Result<LoadedRole, Diagnostic> {
    if depth > 32 {
        return Err(Diagnostic::parse(
            format!(
                "role dependencies nest too deep at '{}' (a cycle?)",
                spec.name
            ),
            None,
        ));
    }
    let dir = find(&spec.name, playbook_dir).map_err(|e| Diagnostic::parse(e, None))?;
    // A collection role is known by its FQCN (in banners and handler names).
    let from_collection = dir
        .components()
        .any(|c| c.as_os_str() == "ansible_collections");
    let role_name = if from_collection {
        spec.name.clone()
    } else {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| spec.name.clone())
    };
    let meta = match entry(&dir.join("meta"), "main") {
        Some(p) => crate::inventory::vars_dirs::load_vars_file(&p)
            .map(|(v, _)| v)
            .unwrap_or_default(),
        None => Map::new(),
    };
    // A role runs once per play with the same parameters.
    let allow_dup = spec.allow_duplicates.unwrap_or_else(|| {
        meta.get("allow_duplicates")
            .and_then(tutti_modules::params::to_bool)
            .unwrap_or(false)
    });
    let identity = identity(&dir, spec);
    if !allow_dup {
        let mut s = match seen.0.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        if !s.insert(identity) {
            return Ok(LoadedRole {
                steps: Vec::new(),
                handlers: Vec::new(),
                exposed: Vec::new(),
            });
        }
    } else if let Ok(mut s) = seen.0.lock() {
        s.insert(identity);
    }

    let mut steps = Vec::new();
    let mut handlers = Vec::new();
    let mut exposed = Vec::new();
    if let Some(Value::Array(deps)) = meta.get("dependencies") {
        for d in deps {
            let (dspec, dkw) = spec_from(d)
                .map_err(|e| Diagnostic::parse(format!("{}/meta: {e}", dir.display()), None))?;
            let mut kw = parent.clone();
            apply_keywords(&mut kw, &dkw);
            let loaded = load(&dspec, &kw, playbook_dir, seen, warnings, depth + 1)?;
            steps.extend(loaded.steps);
            handlers.extend(loaded.handlers);
            exposed.extend(loaded.exposed);
        }
    }

    let defaults = vars_file(
        &dir,
        "defaults",
        spec.defaults_from.as_deref().unwrap_or("main"),
    )?;
    let mut vars = vars_file(&dir, "vars", spec.vars_from.as_deref().unwrap_or("main"))?;
    // `role_name`/`role_path` below are the role's own, never exported.
    exposed.push(Exposure {
        defaults: crate::runner::scope::layer(&defaults, true),
        vars: crate::runner::scope::layer(&vars, true),
    });
    vars.insert("role_name".into(), Value::String(role_name.clone()));
    vars.insert(
        "role_path".into(),
        Value::String(dir.to_string_lossy().into_owned()),
    );
    let mut kw = parent.clone();
    kw.role_defaults.push(Arc::new(defaults));
    kw.role_vars.push(Arc::new(vars));
    if !spec.params.is_empty() {
        kw.role_params.push(Arc::new(spec.params.clone()));
    }
    let tasks_name = spec.tasks_from.as_deref().unwrap_or("main");
    if let Some(argspec) = argument_spec(&dir, tasks_name).filter(|_| !spec.skip_validation) {
        steps.push(Step::Task(Arc::new(validate_task(
            &dir, &role_name, argspec, &kw,
        ))));
    }
    if let Some(path) = entry(&dir.join("tasks"), tasks_name) {
        let (file, root, w) = load::read_yaml(&path)?;
        warnings.extend(w);
        steps.extend(parse_steps(&file, &root, &kw, Some(&role_name), warnings)?);
    } else if spec.tasks_from.is_some() {
        return Err(Diagnostic::parse(
            format!(
                "tasks file '{tasks_name}' not found in role {}",
                dir.display()
            ),
            None,
        ));
    }
    if let Some(path) = entry(
        &dir.join("handlers"),
        spec.handlers_from.as_deref().unwrap_or("main"),
    ) {
        let (file, root, w) = load::read_yaml(&path)?;
        warnings.extend(w);
        let mut hkw = kw.clone();
        hkw.when.clear();
        for s in parse_steps(&file, &root, &hkw, Some(&role_name), warnings)? {
            flatten(s, &mut handlers);
        }
    }
    Ok(LoadedRole {
        steps,
        handlers,
        exposed,
    })
}

fn flatten(s: Step, out: &mut Vec<Arc<Task>>) {
    match s {
        Step::Task(t) => out.push(t),
        Step::Block(b) => {
            for x in b.block.iter().chain(&b.rescue).chain(&b.always) {
                flatten(x.clone(), out);
            }
        }
    }
}

/// Keywords on a `roles:` entry or a dependency apply to all its tasks.
pub fn apply_keywords(kw: &mut Keywords, m: &Map<String, Value>) {
    for (k, v) in m {
        match k.as_str() {
            "when" => {
                let conds: Vec<Value> = match v {
                    Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                for c in conds {
                    kw.when.push(crate::playbook::model::Cond {
                        expr: c,
                        origin: crate::playbook::model::Origin {
                            file: Arc::from("<role>"),
                            line: 0,
                            col: 0,
                        },
                    });
                }
            }
            "tags" => match v {
                Value::Array(a) => kw
                    .tags
                    .extend(a.iter().filter_map(|t| t.as_str().map(str::to_string))),
                Value::String(s) => kw.tags.extend(s.split(',').map(|t| t.trim().to_string())),
                _ => {}
            },
            "become" => kw.become_ = Some(v.clone()),
            "become_user" => kw.become_user = Some(v.clone()),
            "become_method" => kw.become_method = Some(v.clone()),
            "environment" => kw.environment.push(v.clone()),
            "ignore_errors" => kw.ignore_errors = Some(v.clone()),
            "delegate_to" => kw.delegate_to = Some(v.clone()),
            "no_log" => kw.no_log = Some(v.clone()),
            "check_mode" => kw.check_mode = Some(v.clone()),
            "diff" => kw.diff = Some(v.clone()),
            "remote_user" => kw.remote_user = Some(v.clone()),
            "connection" => kw.connection = Some(v.clone()),
            "any_errors_fatal" => kw.any_errors_fatal = Some(v.clone()),
            "run_once" => kw.run_once = Some(v.clone()),
            _ => {}
        }
    }
}

/// The options of an entry point in `meta/argument_specs.yml`.
fn argument_spec(dir: &Path, entry_point: &str) -> Option<Value> {
    let path = entry(&dir.join("meta"), "argument_specs")?;
    let (v, _) = crate::inventory::vars_dirs::load_vars_file(&path).ok()?;
    let specs = v.get("argument_specs")?;
    specs.get(entry_point).cloned()
}

/// Ansible inserts a `validate_argument_spec` task before a role's tasks.
fn validate_task(dir: &Path, role: &str, spec: Value, kw: &Keywords) -> Task {
    let mut args = Map::new();
    args.insert(
        "argument_spec".into(),
        spec.get("options")
            .cloned()
            .unwrap_or(Value::Object(Map::new())),
    );
    Task {
        id: crate::playbook::load::next_task_id(),
        origin: crate::playbook::model::Origin {
            file: Arc::from(
                dir.join("meta/argument_specs.yml")
                    .to_string_lossy()
                    .as_ref(),
            ),
            line: 1,
            col: 1,
        },
        name: Some(Value::String(
            match spec.get("short_description").and_then(Value::as_str) {
                Some(d) => format!("Validating arguments against arg spec 'main' - {d}"),
                None => "Validating arguments against arg spec 'main'".to_string(),
            },
        )),
        action: "validate_argument_spec".into(),
        action_as_written: "validate_argument_spec".into(),
        args,
        kw: kw.clone(),
        vars: Arc::default(),
        loop_spec: None,
        loop_control: Default::default(),
        register: None,
        notify: Vec::new(),
        changed_when: Vec::new(),
        failed_when: Vec::new(),
        until: Vec::new(),
        retries: None,
        delay: None,
        listen: Vec::new(),
        base_dir: dir.join("tasks"),
        role: Some(role.to_string()),
    }
}
