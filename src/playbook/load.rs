//! Loading playbooks and task files: YAML → [`model`] types, with every
//! mistake reported at file:line:col before any host is contacted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value};

use super::keywords::{self, BLOCK, PLAY, TASK};
use super::model::*;
use crate::diagnostic::{Diagnostic, Source};
use crate::yaml::{self, Node, Value as Y};

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

fn next_id() -> usize {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A fresh task id (for tasks made by the loader, e.g. argument checks).
pub fn next_task_id() -> usize {
    next_id()
}

/// Nested `import_playbook`/`import_tasks` deeper than this is a cycle.
const MAX_IMPORT_DEPTH: usize = 64;

/// One loaded file: its source (for spans) and where it lives.
#[derive(Clone)]
pub struct File {
    pub src: Source,
    pub dir: PathBuf,
}

impl File {
    fn origin(&self, n: &Node) -> Origin {
        Origin {
            file: self.src.name.clone(),
            line: n.line,
            col: n.col,
        }
    }

    fn err(&self, n: &Node, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::parse(msg, Some(n.span(&self.src)))
    }
}

/// Playbooks that exist only in memory (the one-task play of an ad-hoc
/// engine action), by the path they stand at.
static IN_MEMORY: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());

/// Loads playbook `text` as if it were the file at `path` (which need not
/// exist): its directory is where roles, files and templates are found.
pub fn load_playbook_text(
    path: &Path,
    text: &str,
    warnings: &mut Vec<String>,
) -> Result<Playbook, Diagnostic> {
    if let Ok(mut m) = IN_MEMORY.lock() {
        m.push((path.to_path_buf(), text.to_string()));
    }
    load_playbook(path, warnings)
}

/// Reads and parses a YAML file.
pub fn read_yaml(path: &Path) -> Result<(File, Node, Vec<String>), Diagnostic> {
    let in_memory = IN_MEMORY
        .lock()
        .ok()
        .and_then(|m| m.iter().find(|(p, _)| p == path).map(|(_, t)| t.clone()));
    let text = in_memory
        .map(Ok)
        .unwrap_or_else(|| std::fs::read_to_string(path))
        .map_err(|e| {
            let mut d = Diagnostic::parse(
                format!(
                    "Could not find or access '{p}' on the Ansible Controller: Unable to retrieve file contents.\nCould not find or access '{p}' on the Ansible Controller.\n{e}",
                    p = path.display()
                ),
                None,
            );
            d.kind = crate::diagnostic::Kind::NotFound;
            d
        })?;
    let src = Source::new(path.to_string_lossy().into_owned(), text);
    let loaded = yaml::load(&src)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((File { src, dir }, loaded.node, loaded.warnings))
}

/// Loads a playbook and everything it imports statically.
pub fn load_playbook(path: &Path, warnings: &mut Vec<String>) -> Result<Playbook, Diagnostic> {
    let mut plays = Vec::new();
    if let Some(dir) = path.parent() {
        crate::roles::set_playbook_dir(dir);
    }
    load_plays(path, 0, &Keywords::default(), warnings, &mut plays)?;
    Ok(Playbook {
        path: path.to_path_buf(),
        plays,
    })
}

fn load_plays(
    path: &Path,
    depth: usize,
    inherited: &Keywords,
    warnings: &mut Vec<String>,
    out: &mut Vec<Arc<Play>>,
) -> Result<(), Diagnostic> {
    if depth > MAX_IMPORT_DEPTH {
        return Err(Diagnostic::parse(
            format!(
                "import_playbook nests too deep (a cycle?) at {}",
                path.display()
            ),
            None,
        ));
    }
    let (file, root, w) = read_yaml(path)?;
    warnings.extend(w);
    let Some(items) = root.as_seq() else {
        return Err(file.err(
            &root,
            "A playbook must be a list of plays, got a ".to_string()
                + root.kind_name()
                + " instead",
        ));
    };
    for item in items {
        if item.as_map().is_none() {
            return Err(file.err(
                item,
                format!(
                    "A play must be a mapping, got a {} instead",
                    item.kind_name()
                ),
            ));
        }
        if let Some(target) = item
            .get("import_playbook")
            .or_else(|| item.get("ansible.builtin.import_playbook"))
            .or_else(|| item.get("ansible.legacy.import_playbook"))
        {
            let Some(name) = target.as_str() else {
                return Err(file.err(target, "import_playbook needs a file name"));
            };
            for (k, v) in item.as_map().into_iter().flatten() {
                let key = k.key_string();
                if !matches!(
                    key.as_str(),
                    "import_playbook"
                        | "ansible.builtin.import_playbook"
                        | "ansible.legacy.import_playbook"
                        | "when"
                        | "tags"
                        | "vars"
                        | "name"
                ) {
                    return Err(file.err(
                        k,
                        format!("'{key}' is not a valid attribute for a PlaybookInclude"),
                    ));
                }
                let _ = v;
            }
            let mut kw = inherited.clone();
            kw.when.extend(conds(&file, item.get("when"))?);
            kw.tags.extend(tags(&file, item.get("tags"))?);
            if let Some(vars) = item.get("vars") {
                kw.include_params
                    .push(Arc::new(map_of(&file, vars, "vars")?));
            }
            let name = if has_template(name) {
                render_import_name(&file, target, name, item.get("vars"))?
            } else {
                name.to_string()
            };
            let target_path = file.dir.join(name);
            load_plays(&target_path, depth + 1, &kw, warnings, out)?;
            continue;
        }
        out.push(Arc::new(parse_play(&file, item, inherited, warnings)?));
    }
    Ok(())
}

/// Extra vars, for templated `import_playbook` names (the only template
/// rendered while loading: play and host variables do not exist yet).
static LOAD_VARS: std::sync::Mutex<Option<Map<String, Value>>> = std::sync::Mutex::new(None);

/// The play being loaded's `vars`, which templated `import_role` names may
/// use (Ansible renders static imports with play and extra vars, never
/// host vars).
static PLAY_VARS: std::sync::Mutex<Option<Arc<Map<String, Value>>>> = std::sync::Mutex::new(None);

fn set_play_vars(vars: Option<Arc<Map<String, Value>>>) {
    *locked(&PLAY_VARS) = vars;
}

/// A loader static's lock; a panic elsewhere does not make its data unusable.
fn locked<T>(m: &'static std::sync::Mutex<T>) -> std::sync::MutexGuard<'static, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Forgets the play's vars when its parsing ends, however it ends.
struct PlayVarsGuard;

impl Drop for PlayVarsGuard {
    fn drop(&mut self) {
        set_play_vars(None);
    }
}

/// Sets the variables templated `import_playbook` names may use.
pub fn set_load_vars(vars: Map<String, Value>) {
    if let Ok(mut v) = LOAD_VARS.lock() {
        *v = Some(vars);
    }
}

fn render_import_name(
    file: &File,
    at: &Node,
    name: &str,
    vars: Option<&Node>,
) -> Result<String, Diagnostic> {
    let vars = match vars.map(Node::to_json) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    render_static(file, at, name, &[&vars])
}

/// Renders a value needed while loading (an `import_playbook` file, an
/// `import_role` name or option) with the play's vars, `vars` (lowest
/// first) and the extra vars.
fn render_value_static(
    file: &File,
    at: &Node,
    text: &str,
    vars: &[&Map<String, Value>],
) -> Result<Value, Diagnostic> {
    let play = locked(&PLAY_VARS).clone();
    let mut layers: Vec<_> = play
        .as_deref()
        .into_iter()
        .chain(vars.iter().copied())
        .map(|m| crate::runner::scope::layer(m, true))
        .collect();
    if let Ok(Some(extra)) = LOAD_VARS.lock().as_deref() {
        layers.push(crate::runner::scope::layer(extra, true));
    }
    let scope = crate::runner::scope::scope_of(layers);
    crate::template::Templar::new()
        .render_str(text, &scope)
        .map_err(|e| file.err(at, format!("Error templating '{text}': {e}")))
}

/// [`render_value_static`] for a name, which must render to a string.
fn render_static(
    file: &File,
    at: &Node,
    text: &str,
    vars: &[&Map<String, Value>],
) -> Result<String, Diagnostic> {
    match render_value_static(file, at, text, vars)? {
        Value::String(s) => Ok(s),
        other => Err(file.err(at, format!("expected a name, got {other}"))),
    }
}

fn check_keys(file: &File, n: &Node, allowed: &[&str], what: &str) -> Result<(), Diagnostic> {
    for (k, _) in n.as_map().into_iter().flatten() {
        let key = k.key_string();
        if !allowed.contains(&key.as_str()) {
            let mut d = file.err(k, format!("'{key}' is not a valid attribute for a {what}"));
            if let Some(s) = keywords::suggest(&key, allowed.iter().copied()) {
                d = d.with_help(format!("Did you mean '{s}'?"));
            }
            return Err(d);
        }
    }
    Ok(())
}

fn map_of(file: &File, n: &Node, what: &str) -> Result<Map<String, Value>, Diagnostic> {
    match n.to_json() {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(file.err(
            n,
            format!("'{what}' must be a mapping, got a {}", n.kind_name()),
        )),
    }
}

/// `when`-like values: a string, a boolean, or a list of them.
fn conds(file: &File, n: Option<&Node>) -> Result<Vec<Cond>, Diagnostic> {
    let Some(n) = n else { return Ok(Vec::new()) };
    let one = |n: &Node| -> Result<Cond, Diagnostic> {
        match &n.value {
            Y::Str(_) | Y::Bool(_) | Y::Int(_) | Y::Float(_) | Y::Tagged { .. } => Ok(Cond {
                expr: n.to_json(),
                origin: file.origin(n),
            }),
            Y::Null => Ok(Cond {
                expr: Value::Bool(true),
                origin: file.origin(n),
            }),
            _ => Err(file.err(
                n,
                format!(
                    "a condition must be a string or a boolean, got a {}",
                    n.kind_name()
                ),
            )),
        }
    };
    match n.as_seq() {
        Some(items) => items.iter().map(one).collect(),
        None => Ok(vec![one(n)?]),
    }
}

/// Tags: a list, or a comma-separated string.
fn tags(file: &File, n: Option<&Node>) -> Result<Vec<String>, Diagnostic> {
    let Some(n) = n else { return Ok(Vec::new()) };
    let split = |s: &str| -> Vec<String> {
        s.split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()
    };
    match &n.value {
        Y::Seq(items) => {
            let mut out = Vec::new();
            for i in items {
                match i.as_text() {
                    Some(s) => out.extend(split(s)),
                    None => match &i.value {
                        Y::Int(_) | Y::Float(_) | Y::Bool(_) => out.push(i.python_str()),
                        _ => return Err(file.err(i, "tags must be strings")),
                    },
                }
            }
            Ok(out)
        }
        Y::Null => Ok(Vec::new()),
        Y::Int(_) | Y::Float(_) => Ok(vec![n.python_str()]),
        _ => n
            .as_text()
            .map(split)
            .ok_or_else(|| file.err(n, "tags must be a list or a comma-separated string")),
    }
}

fn strings(file: &File, n: Option<&Node>, what: &str) -> Result<Vec<String>, Diagnostic> {
    let Some(n) = n else { return Ok(Vec::new()) };
    match &n.value {
        Y::Seq(items) => items
            .iter()
            .map(|i| {
                i.as_text()
                    .map(str::to_string)
                    .ok_or_else(|| file.err(i, format!("{what} entries must be strings")))
            })
            .collect(),
        Y::Null => Ok(Vec::new()),
        _ => n
            .as_text()
            .map(|s| vec![s.to_string()])
            .ok_or_else(|| file.err(n, format!("{what} must be a string or a list of strings"))),
    }
}

/// Applies one level's keywords on top of what it inherited.
fn merge_kw(file: &File, n: &Node, parent: &Keywords) -> Result<Keywords, Diagnostic> {
    let mut kw = parent.clone();
    let set = |slot: &mut Option<Value>, key: &str| {
        if let Some(v) = n.get(key) {
            *slot = Some(v.to_json());
        }
    };
    set(&mut kw.become_, "become");
    set(&mut kw.become_user, "become_user");
    set(&mut kw.become_method, "become_method");
    set(&mut kw.become_flags, "become_flags");
    set(&mut kw.become_exe, "become_exe");
    set(&mut kw.remote_user, "remote_user");
    set(&mut kw.connection, "connection");
    set(&mut kw.port, "port");
    set(&mut kw.check_mode, "check_mode");
    set(&mut kw.diff, "diff");
    set(&mut kw.no_log, "no_log");
    set(&mut kw.ignore_errors, "ignore_errors");
    set(&mut kw.ignore_unreachable, "ignore_unreachable");
    set(&mut kw.any_errors_fatal, "any_errors_fatal");
    set(&mut kw.run_once, "run_once");
    set(&mut kw.throttle, "throttle");
    set(&mut kw.timeout, "timeout");
    set(&mut kw.delegate_to, "delegate_to");
    set(&mut kw.delegate_facts, "delegate_facts");
    if let Some(env) = n.get("environment") {
        kw.environment.push(env.to_json());
    }
    kw.inherited_tags = kw.tags.len();
    kw.tags.extend(tags(file, n.get("tags"))?);
    kw.when.extend(conds(file, n.get("when"))?);
    Ok(kw)
}

fn parse_play(
    file: &File,
    n: &Node,
    inherited: &Keywords,
    warnings: &mut Vec<String>,
) -> Result<Play, Diagnostic> {
    check_keys(file, n, PLAY, "Play")?;
    reset_seen();
    pending_exposed().clear();
    let Some(hosts) = n.get("hosts") else {
        return Err(file.err(n, "the field 'hosts' is required but was not set"));
    };
    let mut kw = merge_kw(file, n, inherited)?;
    // `when` is not a play keyword; what an import_playbook carried applies
    // to every task.
    kw.when = inherited.when.clone();
    let vars = match n.get("vars") {
        Some(v) => map_of(file, v, "vars")?,
        None => Map::new(),
    };
    let vars_files = match n.get("vars_files") {
        None => Vec::new(),
        Some(v) => match v.to_json() {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            other => vec![other],
        },
    };
    let vars_prompt = parse_vars_prompt(file, n.get("vars_prompt"))?;
    set_play_vars(Some(Arc::new(vars.clone())));
    let _clear = PlayVarsGuard;
    let section = |key: &str| -> Result<Vec<Step>, Diagnostic> {
        match n.get(key) {
            Some(list) => parse_steps(file, list, &kw, None, &mut Vec::new()),
            None => Ok(Vec::new()),
        }
    };
    // `roles:` run after pre_tasks and before tasks; their handlers join
    // the play's.
    let seen = current_seen();
    let mut role_steps = Vec::new();
    let mut role_handlers = Vec::new();
    if let Some(roles) = n.get("roles") {
        for r in roles.as_seq().unwrap_or(&[]) {
            let (spec, rkw) = crate::roles::spec_from(&r.to_json()).map_err(|e| file.err(r, e))?;
            let mut rk = kw.clone();
            crate::roles::apply_keywords(&mut rk, &rkw);
            let loaded =
                crate::roles::load(&spec, &rk, &file.dir, &seen, warnings, 0).map_err(|d| {
                    if d.span.is_none() {
                        file.err(r, d.msg)
                    } else {
                        d
                    }
                })?;
            role_steps.extend(loaded.steps);
            role_handlers.extend(loaded.handlers);
            pending_exposed().extend(loaded.exposed);
        }
    }
    let pre_tasks = section("pre_tasks")?;
    let tasks = section("tasks")?;
    let post_tasks = section("post_tasks")?;
    let handlers = match n.get("handlers") {
        Some(list) => {
            refuse_role_handlers(file, list)?;
            flatten_handlers(parse_steps(file, list, &kw, None, warnings)?)
        }
        None => Vec::new(),
    };
    let mut handlers = handlers;
    handlers.extend(role_handlers);
    let mut tasks = tasks;
    if !role_steps.is_empty() {
        role_steps.extend(tasks);
        tasks = role_steps;
    }
    handlers.extend(pending_handlers().drain(..));
    handlers.extend(static_role_handlers(&pre_tasks, &file.dir, warnings));
    handlers.extend(static_role_handlers(&tasks, &file.dir, warnings));
    handlers.extend(static_role_handlers(&post_tasks, &file.dir, warnings));
    let text = |key: &str| n.get(key).and_then(|v| v.as_text().map(str::to_string));
    let play = Play {
        origin: file.origin(n),
        dir: file.dir.clone(),
        name: n.get("name").map(Node::to_json),
        hosts: hosts.to_json(),
        gather_facts: n.get("gather_facts").map(Node::to_json),
        gather_subset: n.get("gather_subset").map(Node::to_json),
        gather_timeout: n.get("gather_timeout").map(Node::to_json),
        vars: Arc::new(vars),
        vars_files,
        vars_prompt,
        pre_tasks,
        tasks,
        post_tasks,
        handlers,
        serial: n.get("serial").map(Node::to_json),
        max_fail_percentage: n.get("max_fail_percentage").map(Node::to_json),
        strategy: text("strategy"),
        order: text("order"),
        force_handlers: n.get("force_handlers").map(Node::to_json),
        kw,
        roles_seen: current_seen(),
        exposed: std::mem::take(&mut *pending_exposed()),
        missing_handler: None,
    };
    let mut play = play;
    play.missing_handler = check_notify(file, &play, warnings).err();
    Ok(play)
}

/// Handlers of roles brought in by `import_role` while a play's sections
/// are parsed; the play takes them when it is done.
static PENDING_HANDLERS: std::sync::Mutex<Vec<Arc<Task>>> = std::sync::Mutex::new(Vec::new());

/// The roles loaded by the play being parsed (shared with its run).
static CURRENT_SEEN: std::sync::Mutex<Option<Arc<crate::roles::Seen>>> =
    std::sync::Mutex::new(None);

fn current_seen() -> Arc<crate::roles::Seen> {
    locked(&CURRENT_SEEN)
        .get_or_insert_with(Arc::default)
        .clone()
}

fn reset_seen() {
    *locked(&CURRENT_SEEN) = None;
}

/// Public roles loaded while a play's sections are parsed, in load order.
static PENDING_EXPOSED: std::sync::Mutex<Vec<crate::roles::Exposure>> =
    std::sync::Mutex::new(Vec::new());

fn pending_exposed() -> std::sync::MutexGuard<'static, Vec<crate::roles::Exposure>> {
    locked(&PENDING_EXPOSED)
}

fn pending_handlers() -> std::sync::MutexGuard<'static, Vec<Arc<Task>>> {
    locked(&PENDING_HANDLERS)
}

/// Handlers of roles named literally by `include_role` are known at load
/// time, so `notify` can reach them like Ansible's public handlers.
fn static_role_handlers(steps: &[Step], dir: &Path, warnings: &mut Vec<String>) -> Vec<Arc<Task>> {
    role_handlers_within(steps, dir, warnings, 0)
}

/// Handlers of the roles `include_role` names in `steps`, and of the roles
/// those include in turn (to a depth that stops a role including itself).
fn role_handlers_within(
    steps: &[Step],
    dir: &Path,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Vec<Arc<Task>> {
    let mut out = Vec::new();
    if depth > MAX_IMPORT_DEPTH {
        return out;
    }
    for s in steps {
        match s {
            Step::Task(t) if t.action == "include_role" => {
                let Ok((spec, _)) = crate::roles::spec_from(&Value::Object(t.args.clone())) else {
                    continue;
                };
                if has_template(&spec.name) {
                    continue;
                }
                let seen = crate::roles::Seen::default();
                if let Ok(l) = crate::roles::load(&spec, &t.kw, dir, &seen, warnings, 0) {
                    // Roles the included role imports bring handlers too.
                    out.extend(pending_handlers().drain(..));
                    out.extend(l.handlers);
                    out.extend(role_handlers_within(&l.steps, dir, warnings, depth + 1));
                }
            }
            Step::Task(_) => {}
            Step::Block(b) => {
                for part in [&b.block, &b.rescue, &b.always] {
                    out.extend(role_handlers_within(part, dir, warnings, depth));
                }
            }
        }
    }
    out
}

fn parse_vars_prompt(file: &File, n: Option<&Node>) -> Result<Vec<VarsPrompt>, Diagnostic> {
    let Some(n) = n else { return Ok(Vec::new()) };
    let Some(items) = n.as_seq() else {
        return Err(file.err(n, "vars_prompt must be a list"));
    };
    let mut out = Vec::new();
    for i in items {
        let name = i
            .get("name")
            .and_then(|v| v.as_text())
            .ok_or_else(|| file.err(i, "each vars_prompt entry needs a name"))?;
        out.push(VarsPrompt {
            name: name.to_string(),
            prompt: i
                .get("prompt")
                .and_then(Node::as_text)
                .unwrap_or(name)
                .to_string(),
            default: i.get("default").map(Node::to_json),
            private: i.get("private").and_then(Node::as_bool).unwrap_or(true),
            confirm: i.get("confirm").and_then(Node::as_bool).unwrap_or(false),
        });
    }
    Ok(out)
}

/// `include_role`/`import_role` cannot be handlers (Ansible refuses them
/// when loading).
fn refuse_role_handlers(file: &File, list: &Node) -> Result<(), Diagnostic> {
    refuse_in_handlers(file, list, false)
}

/// Also a block inside a handler block: a handler's `block` is only the
/// implicit block every handler is.
fn refuse_in_handlers(file: &File, list: &Node, nested: bool) -> Result<(), Diagnostic> {
    for item in list.as_seq().unwrap_or_default() {
        if nested && item.get("block").is_some() {
            return Err(file.err(item, "Using a block as a handler is not supported."));
        }
        // An imported file's tasks are handlers too.
        if let Some(name) = ["import_tasks", "ansible.builtin.import_tasks"]
            .iter()
            .find_map(|k| item.get(k))
            .and_then(Node::as_str)
            .filter(|n| !has_template(n))
            && let Ok((imported, root, _)) = read_yaml(&file.dir.join(name))
        {
            refuse_in_handlers(&imported, &root, true)?;
        }
        for (k, _) in item.as_map().into_iter().flatten() {
            let key = k.key_string();
            let short = keywords::short_name(&key);
            if matches!(short, "include_role" | "import_role") {
                return Err(file.err(
                    item,
                    format!("Using '{short}' as a handler is not supported."),
                ));
            }
            if matches!(key.as_str(), "block" | "rescue" | "always")
                && let Some(inner) = item.get(&key)
            {
                refuse_in_handlers(file, inner, true)?;
            }
        }
    }
    Ok(())
}

/// Handlers may be written inside blocks; they run as a flat list.
fn flatten_handlers(steps: Vec<Step>) -> Vec<Arc<Task>> {
    let mut out = Vec::new();
    for s in steps {
        match s {
            Step::Task(t) => out.push(t),
            Step::Block(b) => {
                let inner: Vec<Step> = b
                    .block
                    .iter()
                    .chain(&b.rescue)
                    .chain(&b.always)
                    .cloned()
                    .collect();
                out.extend(flatten_handlers(inner));
            }
        }
    }
    out
}

/// Every static `notify` must name a handler or a `listen` topic.
/// `error_on_missing_handler` (default true): false makes a `notify` of
/// an unknown handler a warning.
static ERROR_ON_MISSING_HANDLER: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(true);

pub fn set_error_on_missing_handler(on: bool) {
    ERROR_ON_MISSING_HANDLER.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub fn error_on_missing_handler() -> bool {
    ERROR_ON_MISSING_HANDLER.load(std::sync::atomic::Ordering::Relaxed)
}

fn check_notify(file: &File, play: &Play, warnings: &mut Vec<String>) -> Result<(), Diagnostic> {
    // With a handler that includes tasks, whether a name is missing shows
    // only when it is notified (the run reports it then, as Ansible does).
    if play.handlers.iter().any(|h| h.action == "include_tasks") {
        return Ok(());
    }
    let known = |name: &str| play.handlers.iter().any(|h| handler_answers_to(h, name));
    let mut stack: Vec<&Step> = play
        .pre_tasks
        .iter()
        .chain(&play.tasks)
        .chain(&play.post_tasks)
        .collect();
    let handler_steps: Vec<Step> = play.handlers.iter().cloned().map(Step::Task).collect();
    stack.extend(handler_steps.iter());
    while let Some(s) = stack.pop() {
        match s {
            Step::Task(t) => {
                for n in &t.notify {
                    if !has_template(n) && !known(n) {
                        let msg = format!(
                            "The requested handler '{n}' was not found in either the main handlers list nor in the listening handlers list"
                        );
                        if !ERROR_ON_MISSING_HANDLER.load(std::sync::atomic::Ordering::Relaxed) {
                            warnings.push(msg);
                            continue;
                        }
                        return Err(Diagnostic::parse(
                            msg,
                            Some(crate::diagnostic::Span::new(
                                &file_source(file, &t.origin),
                                t.origin.line,
                                t.origin.col,
                            )),
                        ));
                    }
                }
            }
            Step::Block(b) => stack.extend(b.block.iter().chain(&b.rescue).chain(&b.always)),
        }
    }
    Ok(())
}

/// The source for an origin: this file, or the file a task was imported from.
fn file_source(file: &File, origin: &Origin) -> Source {
    if origin.file == file.src.name {
        return file.src.clone();
    }
    let text = std::fs::read_to_string(&*origin.file).unwrap_or_default();
    Source::new(origin.file.clone(), text)
}

/// The names a handler answers to: its name (also with the role prefix).
pub fn handler_names(h: &Task) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(Value::String(n)) = &h.name {
        v.push(n.clone());
        for r in role_prefixes(h) {
            v.push(format!("{r} : {n}"));
        }
    }
    v
}

/// Whether notifying `name` runs handler `h`: its name or a `listen`
/// topic, bare or after its role's name (`role : topic`); a collection
/// role answers to its short name and its FQCN (`ns.col.role : topic`).
pub fn handler_answers_to(h: &Task, name: &str) -> bool {
    handler_named(h, name) || handler_listens(h, name)
}

/// Whether `h` is called `name` (bare or role-prefixed). When several
/// handlers share a name, only the first one runs.
pub fn handler_named(h: &Task, name: &str) -> bool {
    handler_names(h).iter().any(|n| n == name)
}

/// Whether `h` listens to `topic` (bare or role-prefixed); every listener
/// of a notified topic runs.
pub fn handler_listens(h: &Task, topic: &str) -> bool {
    h.listen.iter().any(|l| l == topic)
        || role_prefixes(h).iter().any(|r| {
            topic
                .strip_prefix(r.as_str())
                .and_then(|rest| rest.strip_prefix(" : "))
                .is_some_and(|t| h.listen.iter().any(|l| l == t))
        })
}

/// The names a handler's role goes by in `notify`.
fn role_prefixes(h: &Task) -> Vec<String> {
    match &h.role {
        None => Vec::new(),
        Some(r) => match r.rsplit_once('.') {
            Some((_, short)) => vec![r.clone(), short.to_string()],
            None => vec![r.clone()],
        },
    }
}

/// Parses a list of tasks and blocks.
pub fn parse_steps(
    file: &File,
    list: &Node,
    parent: &Keywords,
    role: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Step>, Diagnostic> {
    parse_steps_depth(file, list, parent, role, warnings, 0)
}

fn parse_steps_depth(
    file: &File,
    list: &Node,
    parent: &Keywords,
    role: Option<&str>,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Result<Vec<Step>, Diagnostic> {
    if list.is_null() {
        return Ok(Vec::new());
    }
    let Some(items) = list.as_seq() else {
        return Err(file.err(
            list,
            format!(
                "A list of tasks was expected, got a {} instead",
                list.kind_name()
            ),
        ));
    };
    let mut out = Vec::new();
    for item in items {
        if item.as_map().is_none() {
            return Err(file.err(
                item,
                format!(
                    "A task must be a mapping, got a {} instead",
                    item.kind_name()
                ),
            ));
        }
        if item.get("block").is_some() {
            out.push(Step::Block(Arc::new(parse_block(
                file, item, parent, role, warnings, depth,
            )?)));
            continue;
        }
        for k in ["rescue", "always"] {
            if let Some(n) = item.get(k) {
                return Err(file.err(
                    n,
                    format!("'{k}' is only valid in a block that has a 'block' section"),
                ));
            }
        }
        let task = parse_task(file, item, parent, role)?;
        if matches!(task.action.as_str(), "include_tasks" | "include_role") {
            check_include_keywords(file, item, &task)?;
        }
        if matches!(task.action.as_str(), "include_role" | "import_role") {
            check_role_from_args(file, item, &task.args)?;
        }
        if matches!(task.action.as_str(), "include_tasks" | "import_tasks") {
            let named = |k: &str| match task.args.get(k) {
                Some(Value::String(s)) => !s.is_empty(),
                Some(Value::Null) | None => false,
                Some(_) => true,
            };
            if !named("file") && !named("_raw_params") {
                return Err(file.err(
                    item,
                    format!("No file specified for {}", task.action_as_written),
                ));
            }
        }
        if task.action == "import_tasks" {
            check_import_options(file, item, &task, &["file", "_raw_params"])?;
            out.extend(import_tasks(file, item, &task, warnings, depth)?);
        } else if task.action == "import_role" {
            check_import_options(
                file,
                item,
                &task,
                &[
                    "name",
                    "role",
                    "tasks_from",
                    "vars_from",
                    "defaults_from",
                    "handlers_from",
                    "public",
                    "allow_duplicates",
                    "rolespec_validate",
                ],
            )?;
            let mut args = task.args.clone();
            // A templated role name is rendered now, from the variables
            // that exist while loading (play vars, import vars, extra vars).
            for key in [
                "name",
                "role",
                "tasks_from",
                "vars_from",
                "defaults_from",
                "handlers_from",
            ] {
                if let Some(Value::String(n)) = args.get(key)
                    && has_template(n)
                {
                    let rendered = render_static(file, item, n, &static_vars(&task))?;
                    args.insert(key.into(), Value::String(rendered));
                }
            }
            for key in ["allow_duplicates", "public", "rolespec_validate"] {
                if let Some(Value::String(n)) = args.get(key)
                    && has_template(n)
                {
                    let rendered = render_value_static(file, item, n, &static_vars(&task))?;
                    args.insert(key.into(), rendered);
                }
            }
            let (mut spec, _) = crate::roles::spec_from(&Value::Object(args.clone()))
                .map_err(|e| file.err(item, e))?;
            // An imported role may repeat unless the import says otherwise.
            spec.allow_duplicates.get_or_insert(true);
            let mut kw = task.kw.clone();
            if !task.vars.is_empty() {
                kw.role_params.push(task.vars.clone());
            }
            let seen = current_seen();
            let loaded =
                crate::roles::load(&spec, &kw, &file.dir, &seen, warnings, 0).map_err(|d| {
                    if d.span.is_none() {
                        file.err(item, d.msg)
                    } else {
                        d
                    }
                })?;
            out.extend(loaded.steps);
            pending_handlers().extend(loaded.handlers);
            // An imported role is public unless it says otherwise.
            if args.get("public").and_then(tutti_modules::params::to_bool) != Some(false) {
                pending_exposed().extend(loaded.exposed);
            }
        } else {
            out.push(Step::Task(Arc::new(task)));
        }
    }
    Ok(out)
}

/// `tasks_from` and its siblings name one file: anything but a string is
/// refused while loading, as Ansible does.
fn check_role_from_args(
    file: &File,
    at: &Node,
    args: &Map<String, Value>,
) -> Result<(), Diagnostic> {
    for key in ["tasks_from", "vars_from", "defaults_from", "handlers_from"] {
        let class = match args.get(key) {
            None | Some(Value::String(_)) => continue,
            Some(Value::Array(_)) => "list",
            Some(Value::Object(_)) => "dict",
            Some(Value::Bool(_)) => "bool",
            Some(Value::Number(n)) if n.is_f64() => "float",
            Some(Value::Number(_)) => "int",
            Some(Value::Null) => "NoneType",
        };
        return Err(file.err(
            at,
            format!("Expected a string for {key} but got <class '{class}'> instead"),
        ));
    }
    Ok(())
}

fn parse_block(
    file: &File,
    n: &Node,
    parent: &Keywords,
    role: Option<&str>,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Result<Block, Diagnostic> {
    check_keys(file, n, BLOCK, "Block")?;
    let mut kw = merge_kw(file, n, parent)?;
    if let Some(v) = n.get("vars") {
        kw.block_vars.push(Arc::new(map_of(file, v, "vars")?));
    }
    kw.notify.extend(strings(file, n.get("notify"), "notify")?);
    let part = |key: &str, warnings: &mut Vec<String>| -> Result<Vec<Step>, Diagnostic> {
        match n.get(key) {
            Some(list) => parse_steps_depth(file, list, &kw, role, warnings, depth),
            None => Ok(Vec::new()),
        }
    };
    Ok(Block {
        id: next_id(),
        origin: file.origin(n),
        name: n.get("name").map(Node::to_json),
        block: part("block", warnings)?,
        rescue: part("rescue", warnings)?,
        always: part("always", warnings)?,
        kw,
    })
}

/// The variables a static import's names may use, lowest first (the play's
/// vars and the extra vars come from `render_static`).
fn static_vars(task: &Task) -> Vec<&Map<String, Value>> {
    task.kw
        .include_params
        .iter()
        .chain(&task.kw.block_vars)
        .map(|m| m.as_ref())
        .chain(std::iter::once(&*task.vars))
        .collect()
}

/// A dynamic include takes only the keywords that act on the include
/// itself ([`keywords::DYNAMIC_INCLUDE`]); ansible-core names the first
/// other one.
fn check_include_keywords(file: &File, at: &Node, task: &Task) -> Result<(), Diagnostic> {
    let kind = if task.action == "include_role" {
        "IncludeRole"
    } else {
        "TaskInclude"
    };
    for (k, _) in at.as_map().unwrap_or(&[]) {
        let key = k.key_string();
        if keywords::TASK.contains(&key.as_str())
            && !keywords::DYNAMIC_INCLUDE.contains(&key.as_str())
        {
            return Err(file.err(at, format!("'{key}' is not a valid attribute for a {kind}")));
        }
    }
    Ok(())
}

/// Static imports take only their own options (`apply` belongs to the
/// dynamic includes); anything else is refused while loading.
fn check_import_options(
    file: &File,
    at: &Node,
    task: &Task,
    valid: &[&str],
) -> Result<(), Diagnostic> {
    let bad: Vec<&str> = task
        .args
        .keys()
        .map(String::as_str)
        .filter(|k| !valid.contains(k))
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(file.err(
        at,
        format!("Invalid options for {}: {}", task.action, bad.join(",")),
    ))
}

/// Inlines an `import_tasks` file: its tasks inherit the import's keywords.
fn import_tasks(
    file: &File,
    at: &Node,
    task: &Task,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Result<Vec<Step>, Diagnostic> {
    if depth > MAX_IMPORT_DEPTH {
        return Err(Diagnostic::parse(
            format!("import_tasks nests too deep (a cycle?) at {}", task.origin),
            None,
        ));
    }
    let name = task
        .args
        .get("file")
        .or_else(|| task.args.get("_raw_params"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Diagnostic::parse(
                format!("import_tasks needs a file name at {}", task.origin),
                None,
            )
        })?;
    let rendered;
    let name = if has_template(name) {
        rendered = render_static(file, at, name, &static_vars(task))?;
        rendered.as_str()
    } else {
        name
    };
    // Beside the importing file, then (from a role's handlers/) the role's
    // tasks/ and the role itself, then the playbook's directory, as Ansible
    // searches.
    let mut candidates = vec![task.base_dir.join(name)];
    if let Some(role_dir) = task.base_dir.parent().filter(|_| task.role.is_some()) {
        candidates.push(role_dir.join("tasks").join(name));
        candidates.push(role_dir.join(name));
    }
    candidates.extend(crate::roles::playbook_dir().map(|d| d.join(name)));
    let path = candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| task.base_dir.join(name));
    let mut kw = task.kw.clone();
    if !task.vars.is_empty() {
        kw.include_params.push(task.vars.clone());
    }
    let (file, root, w) = read_yaml(&path)?;
    warnings.extend(w);
    parse_steps_depth(&file, &root, &kw, task.role.as_deref(), warnings, depth + 1)
}

/// Loads a task file for `include_tasks` at run time.
pub fn load_task_file(
    path: &Path,
    parent: &Keywords,
    role: Option<&str>,
) -> Result<(Vec<Step>, Vec<String>), Diagnostic> {
    let (file, root, mut warnings) = read_yaml(path)?;
    let steps = parse_steps(&file, &root, parent, role, &mut warnings)?;
    Ok((steps, warnings))
}

/// Splits a task mapping into keywords and exactly one action.
fn parse_task(
    file: &File,
    n: &Node,
    parent: &Keywords,
    role: Option<&str>,
) -> Result<Task, Diagnostic> {
    let pairs = n.as_map().unwrap_or(&[]);
    let mut action: Option<(&Node, &Node)> = None;
    let mut loop_spec: Option<LoopSpec> = None;
    let mut extra_keys: Vec<&Node> = Vec::new();
    for (k, v) in pairs {
        let key = k.key_string();
        if TASK.contains(&key.as_str()) || key == "listen" {
            continue;
        }
        if let Some(lookup) = key.strip_prefix("with_") {
            if loop_spec.is_some() || n.get("loop").is_some() {
                return Err(file.err(k, "a task can have only one loop (loop or with_*)"));
            }
            loop_spec = Some(LoopSpec::With {
                lookup: lookup.to_string(),
                terms: v.to_json(),
            });
            continue;
        }
        if keywords::is_known_action(keywords::short_name(&key))
            || crate::library::find(&key, &file.dir).is_some()
        {
            if let Some((first, _)) = action {
                return Err(file.err(
                    k,
                    format!(
                        "conflicting action statements: {}, {key}",
                        first.key_string()
                    ),
                ));
            }
            action = Some((k, v));
        } else {
            extra_keys.push(k);
        }
    }
    // `action:` and `local_action:` name the module inside their value.
    let mut delegate_local = false;
    let mut from_action: Option<(String, Map<String, Value>)> = None;
    for key in ["action", "local_action"] {
        if let Some(v) = n.get(key) {
            if action.is_some() || from_action.is_some() {
                return Err(file.err(
                    v,
                    format!("conflicting action statements: {key} and another action"),
                ));
            }
            from_action = Some(parse_action_value(file, v)?);
            delegate_local = key == "local_action";
        }
    }
    if let Some(k) = extra_keys.first() {
        let key = k.key_string();
        if action.is_some() || from_action.is_some() || extra_keys.len() > 1 {
            let mut d = file.err(k, format!("'{key}' is not a valid attribute for a Task"));
            if let Some(s) = keywords::suggest(&key, TASK.iter().copied()) {
                d = d.with_help(format!("Did you mean '{s}'?"));
            }
            return Err(d);
        }
        let mut d = file.err(
            k,
            format!("couldn't resolve module/action '{key}'. This often indicates a misspelling, missing collection, or incorrect module path."),
        );
        if let Some(s) = keywords::suggest(keywords::short_name(&key), keywords::all_actions()) {
            d = d.with_help(format!("Did you mean '{s}'?"));
        } else if let Some(s) = keywords::suggest(&key, TASK.iter().copied()) {
            d = d.with_help(format!("Did you mean the task keyword '{s}'?"));
        }
        return Err(d);
    }
    let (written, mut args) = match (action, from_action) {
        (Some((k, v)), None) => {
            let written = k.key_string();
            let short = keywords::short_name(&written).to_string();
            (written, action_args(file, &short, v)?)
        }
        (None, Some((name, args))) => (name, args),
        _ => return Err(file.err(n, "no module/action detected in task.")),
    };
    let short = keywords::short_name(&written).to_string();
    // A templated action name is not resolved while loading (Ansible lets
    // such a task load and fails it only if it runs).
    if !keywords::is_known_action(&short)
        && !has_template(&written)
        && crate::library::find(&written, &file.dir).is_none()
    {
        let mut d = file.err(
            n,
            format!("couldn't resolve module/action '{written}'. This often indicates a misspelling, missing collection, or incorrect module path."),
        );
        if let Some(s) = keywords::suggest(&short, keywords::all_actions()) {
            d = d.with_help(format!("Did you mean '{s}'?"));
        }
        return Err(d);
    }
    if let Some(extra) = n.get("args") {
        match extra.to_json() {
            Value::Object(m) => {
                for (k, v) in m {
                    args.entry(k).or_insert(v);
                }
            }
            Value::Null => {}
            _ => return Err(file.err(extra, "'args' must be a mapping")),
        }
    }
    if n.get("loop").is_some() && loop_spec.is_none() {
        loop_spec = n.get("loop").map(|v| LoopSpec::Loop(v.to_json()));
    }
    let mut kw = merge_kw(file, n, parent)?;
    if delegate_local {
        kw.delegate_to = Some(Value::String("localhost".into()));
    }
    kw.outer = matches!(short.as_str(), "include_tasks" | "include_role").then(|| {
        Arc::new(OuterKeywords {
            ignore_errors: parent.ignore_errors.clone(),
            no_log: parent.no_log.clone(),
            timeout: parent.timeout.clone(),
            inherited_when: parent.when.len(),
        })
    });
    let loop_control = parse_loop_control(file, n.get("loop_control"))?;
    let mut notify = parent.notify.clone();
    notify.extend(strings(file, n.get("notify"), "notify")?);
    let vars = match n.get("vars") {
        Some(v) => map_of(file, v, "vars")?,
        None => Map::new(),
    };
    let register = match n.get("register") {
        Some(r) => Some(
            r.as_text()
                .filter(|s| is_identifier(s))
                .ok_or_else(|| file.err(r, "register must be a valid variable name"))?
                .to_string(),
        ),
        None => None,
    };
    let task = Task {
        id: next_id(),
        origin: file.origin(n),
        name: n.get("name").map(Node::to_json),
        action: short.clone(),
        action_as_written: written,
        args,
        kw,
        vars: Arc::new(vars),
        loop_spec,
        loop_control,
        register,
        notify,
        changed_when: conds(file, n.get("changed_when"))?,
        failed_when: conds(file, n.get("failed_when"))?,
        until: conds(file, n.get("until"))?,
        retries: n.get("retries").map(Node::to_json),
        delay: n.get("delay").map(Node::to_json),
        listen: strings(file, n.get("listen"), "listen")?,
        base_dir: file.dir.clone(),
        role: role.map(str::to_string),
    };
    Ok(task)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `action: shell echo hi` or `action: {module: shell, cmd: echo hi}`.
fn parse_action_value(file: &File, v: &Node) -> Result<(String, Map<String, Value>), Diagnostic> {
    match v.to_json() {
        Value::String(s) => {
            let s = s.trim_start();
            let (name, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
            let short = keywords::short_name(name);
            let args = crate::args::parse_kv(short, rest).map_err(|e| file.err(v, e))?;
            Ok((name.to_string(), args))
        }
        Value::Object(mut m) => {
            let name = m
                .remove("module")
                .and_then(|x| x.as_str().map(str::to_string))
                .ok_or_else(|| file.err(v, "an action mapping needs a 'module' key"))?;
            // `args:` inside the mapping holds the arguments too.
            if let Some(Value::Object(args)) = m.remove("args") {
                for (k, a) in args {
                    m.entry(k).or_insert(a);
                }
            }
            Ok((name, m))
        }
        _ => Err(file.err(v, "action must be a string or a mapping")),
    }
}

/// The arguments written after the module name.
fn action_args(file: &File, short: &str, v: &Node) -> Result<Map<String, Value>, Diagnostic> {
    match v.to_json() {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        Value::String(s) => crate::args::parse_kv(short, &s).map_err(|e| file.err(v, e)),
        other if crate::args::takes_raw_params(short) => {
            let mut m = Map::new();
            m.insert("_raw_params".into(), other);
            Ok(m)
        }
        _ => Err(file.err(
            v,
            format!("the arguments of '{short}' must be a mapping or a string"),
        )),
    }
}

fn parse_loop_control(file: &File, n: Option<&Node>) -> Result<LoopControl, Diagnostic> {
    let Some(n) = n else {
        return Ok(LoopControl::default());
    };
    check_keys(
        file,
        n,
        &[
            "loop_var",
            "index_var",
            "label",
            "pause",
            "extended",
            "extended_allitems",
            "break_when",
        ],
        "LoopControl",
    )?;
    let text = |k: &str| n.get(k).and_then(Node::as_text).map(str::to_string);
    Ok(LoopControl {
        loop_var: text("loop_var"),
        index_var: text("index_var"),
        label: n.get("label").map(Node::to_json),
        pause: n.get("pause").map(Node::to_json),
        extended: n.get("extended").map(Node::to_json),
        break_when: conds(file, n.get("break_when"))?,
    })
}

/// Whether a string holds template syntax (a name that can only be known
/// at run time).
pub fn has_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}
