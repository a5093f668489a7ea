//! One task on one host: variables, `when`, loops, arguments, the action,
//! `changed_when`/`failed_when`, `until` retries, `register`, `notify`,
//! the recap counters and the events that report it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::actions;
use super::conn::{self, WithEnv};
use super::scope;
use super::walk::{Flow, HostCtx};
use crate::output::events::{PlaybookEvent, ResultStatus, TaskKind, TaskResult};
use crate::playbook::model::{Cond, Step, Task};
use crate::template::{Scope, TemplateError, Var};

/// How a task ended on a host.
#[derive(Debug, Clone)]
pub struct Finished {
    pub flow: Flow,
    pub status: ResultStatus,
    /// The result, registered and reported (shared by `run_once`).
    pub result: Map<String, Value>,
}

impl Finished {
    pub fn stop() -> Self {
        Finished {
            flow: Flow::Stop,
            status: ResultStatus::Skipped,
            result: Map::new(),
        }
    }
}

/// One action's result before it is reported.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: ResultStatus,
    pub result: Map<String, Value>,
}

impl Outcome {
    pub fn ok(result: Map<String, Value>) -> Self {
        Outcome::with(ResultStatus::Ok, result)
    }

    pub fn with(status: ResultStatus, mut result: Map<String, Value>) -> Self {
        result
            .entry("changed")
            .or_insert(Value::Bool(status == ResultStatus::Changed));
        match status {
            ResultStatus::Failed => {
                result.insert("failed".into(), Value::Bool(true));
            }
            ResultStatus::Skipped => {
                result.insert("skipped".into(), Value::Bool(true));
            }
            ResultStatus::Unreachable => {
                result.insert("unreachable".into(), Value::Bool(true));
            }
            _ => {}
        }
        Outcome { status, result }
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        let mut r = Map::new();
        r.insert("msg".into(), Value::String(msg.into()));
        Outcome::with(ResultStatus::Failed, r)
    }
}

const CENSORED: &str =
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

impl HostCtx {
    /// The variables task `t` sees on this host, in precedence order.
    pub fn scope_for(&self, t: &Task) -> Scope {
        let run = &self.pc.run;
        let state = run.states.get(&self.host);
        let layers = self.pc.layers.get(&self.host).cloned().unwrap_or_default();
        let mut s = Scope::new();
        let exposed = match self.pc.exposed.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        // Role defaults are the lowest precedence of all: the play's public
        // roles', then the task's own role's.
        for e in exposed.iter() {
            s.push_layer(e.defaults.clone());
        }
        for d in &t.kw.role_defaults {
            s.push_layer(scope::layer(d, true));
        }
        for l in layers.below_facts {
            s.push_layer(l);
        }
        s.push_layer(scope::facts_layer(&state.facts, &state.plain_facts));
        for l in layers.above_facts {
            s.push_layer(l);
        }
        for e in exposed.iter() {
            s.push_layer(e.vars.clone());
        }
        for rv in &t.kw.role_vars {
            s.push_layer(scope::layer(rv, true));
        }
        for bv in &t.kw.block_vars {
            s.push_layer(scope::layer(bv, true));
        }
        s.push_layer(scope::layer(&t.vars, true));
        s.push_layer(scope::layer(&state.include_vars, true));
        // set_fact results were rendered when set; registered data came
        // from the host: neither is templated again.
        s.push_layer(scope::layer(&state.host_facts, false));
        for rp in &t.kw.role_params {
            s.push_layer(scope::layer(rp, true));
        }
        for ip in &t.kw.include_params {
            s.push_layer(scope::layer(ip, true));
        }
        s.push_layer(self.magic());
        if !state.failure_vars.is_empty() {
            s.push_layer(scope::layer(&state.failure_vars, false));
        }
        s.push_layer(scope::layer(&run.session.extra_vars, true));
        // A role's files and templates live beside its tasks/ directory.
        let mut paths = Vec::new();
        if t.base_dir.ends_with("tasks")
            && let Some(role) = t.base_dir.parent()
        {
            paths.push(role.to_path_buf());
        }
        paths.push(t.base_dir.clone());
        paths.push(self.pc.play.dir.clone());
        paths.dedup();
        // Ansible exposes the same list as `ansible_search_path`.
        s.set(
            "ansible_search_path",
            Var {
                value: Value::from(
                    paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>(),
                ),
                trusted: false,
            },
        );
        s.set_search_paths(paths);
        s.set_object("hostvars", super::actions::hostvars_object(self));
        s
    }

    /// Ansible's magic variables for this host.
    fn magic(&self) -> Arc<crate::template::Layer> {
        let run = &self.pc.run;
        let inv = &run.session.inventory;
        let mut m = Map::new();
        let host = self.host.clone();
        let short = host.split('.').next().unwrap_or(&host).to_string();
        m.insert("inventory_hostname".into(), Value::String(host.clone()));
        m.insert("inventory_hostname_short".into(), Value::String(short));
        let dynamic = run.states.dynamic();
        let mut group_names = inv.group_names(&host);
        group_names
            .retain(|g| g != "ungrouped" || !dynamic.groups.values().any(|h| h.contains(&host)));
        for (g, members) in &dynamic.groups {
            if members.contains(&host) && !group_names.contains(g) {
                group_names.push(g.clone());
            }
        }
        group_names.sort();
        m.insert("group_names".into(), Value::from(group_names));
        let mut groups: Map<String, Value> = inv
            .groups()
            .into_iter()
            .map(|(g, hs)| (g, Value::from(hs)))
            .collect();
        for (g, members) in &dynamic.groups {
            let entry = groups
                .entry(g.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = entry {
                for h in members {
                    if !a.iter().any(|x| x.as_str() == Some(h)) {
                        a.push(Value::String(h.clone()));
                    }
                }
            }
        }
        if let Some(Value::Array(all)) = groups.get_mut("all") {
            for h in dynamic.hosts.keys() {
                if !all.iter().any(|x| x.as_str() == Some(h)) {
                    all.push(Value::String(h.clone()));
                }
            }
        }
        m.insert("groups".into(), Value::Object(groups));
        let active: Vec<Value> = self
            .pc
            .hosts_all
            .iter()
            .filter(|h| !run.states.with(h, |s| s.failed || s.unreachable))
            .map(|h| Value::String(h.clone()))
            .collect();
        let batch: Vec<Value> = self
            .pc
            .batch
            .iter()
            .filter(|h| !run.states.with(h, |s| s.failed || s.unreachable))
            .map(|h| Value::String(h.clone()))
            .collect();
        m.insert("ansible_play_hosts".into(), Value::Array(active.clone()));
        m.insert("play_hosts".into(), Value::Array(batch.clone()));
        m.insert("ansible_play_batch".into(), Value::Array(batch));
        m.insert(
            "ansible_play_hosts_all".into(),
            Value::from(self.pc.hosts_all.clone()),
        );
        m.insert("ansible_check_mode".into(), Value::Bool(self.pc.check_mode));
        m.insert("ansible_diff_mode".into(), Value::Bool(run.opts.diff));
        m.insert("ansible_verbosity".into(), Value::from(run.opts.verbosity));
        m.insert(
            "playbook_dir".into(),
            Value::String(self.pc.play.dir.to_string_lossy().into_owned()),
        );
        if let Some(f) = inv.inventory_file(&host) {
            m.insert("inventory_file".into(), Value::String(f.to_string()));
            let dir = std::path::Path::new(f)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            m.insert("inventory_dir".into(), Value::String(dir));
        } else {
            m.insert("inventory_file".into(), Value::Null);
            m.insert("inventory_dir".into(), Value::Null);
        }
        m.insert(
            "ansible_run_tags".into(),
            Value::from(if run.opts.tags.is_empty() {
                vec!["all".to_string()]
            } else {
                run.opts.tags.clone()
            }),
        );
        m.insert(
            "ansible_skip_tags".into(),
            Value::from(run.opts.skip_tags.clone()),
        );
        m.insert("omit".into(), Value::String(omit_token().to_string()));
        m.insert(
            "ansible_version".into(),
            serde_json::json!({"full": "2.19.14", "major": 2, "minor": 19, "revision": 14, "string": "2.19.14"}),
        );
        let name = match &self.pc.play.name {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        m.insert("ansible_play_name".into(), Value::String(name));
        scope::layer(&m, false)
    }
}

/// The per-run random `omit` placeholder.
pub fn omit_token() -> &'static str {
    crate::template::omit_token()
}

/// Drops arguments whose value is the `omit` placeholder.
fn drop_omitted(args: &mut Map<String, Value>) {
    let token = omit_token();
    args.retain(|_, v| v.as_str() != Some(token));
    for v in args.values_mut() {
        if let Value::Object(m) = v {
            drop_omitted(m);
        }
    }
}

fn render_bool(
    hc: &HostCtx,
    v: &Option<Value>,
    scope: &Scope,
    default: bool,
) -> Result<bool, TemplateError> {
    match v {
        None => Ok(default),
        Some(v) => {
            let r = hc.pc.run.templar.render(v, scope)?;
            Ok(tutti_modules::params::to_bool(&r).unwrap_or(default))
        }
    }
}

fn render_int(hc: &HostCtx, v: &Option<Value>, scope: &Scope) -> Option<i64> {
    let v = v.as_ref()?;
    let r = hc.pc.run.templar.render(v, scope).ok()?;
    match r {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Evaluates conditions (all must hold). Literal booleans need no engine.
pub fn eval_conds(hc: &HostCtx, conds: &[Cond], scope: &Scope) -> Result<Option<String>, String> {
    for c in conds {
        let ok =
            match &c.expr {
                Value::Bool(b) => *b,
                Value::String(s) => hc.pc.run.templar.eval_bool(s, scope).map_err(|e| {
                    format!("The conditional check '{s}' failed. The error was: {e}")
                })?,
                // `!unsafe` text is never evaluated: Ansible 2.19 fails.
                Value::Object(m) if m.contains_key(crate::template::UNSAFE_KEY) => {
                    let text = m
                        .get(crate::template::UNSAFE_KEY)
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .unwrap_or_default();
                    return Err(format!(
                        "The conditional check '{text}' failed. The error was: {}",
                        crate::template::UNTRUSTED
                    ));
                }
                other => tutti_modules::params::to_bool(other).unwrap_or(false),
            };
        if !ok {
            return Ok(Some(match &c.expr {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }));
        }
    }
    Ok(None)
}

/// Runs task `t` on this host (after the scheduler released it).
pub async fn run(hc: &HostCtx, t: &Arc<Task>, kind: TaskKind) -> Finished {
    let run_once = {
        let scope = hc.scope_for(t);
        render_bool(hc, &t.kw.run_once, &scope, false).unwrap_or(false) || t.action == "add_host"
    };
    if run_once {
        let cell = {
            let mut map = match hc.pc.run_once.lock() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            map.entry(t.id).or_default().clone()
        };
        let mut leader = false;
        let finished = cell
            .get_or_init(|| async {
                leader = true;
                run_throttled(hc, t, kind).await
            })
            .await
            .clone();
        if !leader {
            // Others share the leader's result without reporting it.
            if let Some(name) = &t.register {
                let r = finished.result.clone();
                hc.pc.run.states.with(&hc.host, |s| {
                    s.host_facts.insert(name.clone(), Value::Object(r));
                    s.registered.insert(name.clone());
                });
            }
            return Finished {
                flow: Flow::Continue,
                ..finished
            };
        }
        share_facts(hc, t, &finished.result);
        return finished;
    }
    run_throttled(hc, t, kind).await
}

/// Facts a `run_once` task sets or returns belong to every host of the
/// batch, as in Ansible (even hosts that never reach the task, such as
/// those a `run_once` include skipped).
fn share_facts(hc: &HostCtx, t: &Task, result: &Map<String, Value>) {
    let Some(facts) = result.get("ansible_facts").and_then(Value::as_object) else {
        return;
    };
    if result.get("failed").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let states = &hc.pc.run.states;
    for h in hc.pc.batch.iter().filter(|h| **h != hc.host) {
        states.with(h, |s| {
            if s.failed || s.unreachable {
                return;
            }
            for (k, v) in facts {
                if t.action == "set_fact" {
                    s.host_facts.insert(k.clone(), v.clone());
                    s.registered.remove(k);
                } else {
                    s.facts.insert(k.clone(), v.clone());
                }
            }
        });
    }
}

/// Whether this host is the one a `run_once` include is processed for:
/// the first host of the batch still in play.
pub fn is_run_once_leader(hc: &HostCtx) -> bool {
    let states = &hc.pc.run.states;
    hc.pc
        .batch
        .iter()
        .find(|h| !states.with(h, |s| s.failed || s.unreachable))
        .is_none_or(|h| *h == hc.host)
}

/// Whether task `t` has `run_once` set (rendered for this host).
pub fn runs_once(hc: &HostCtx, t: &Task) -> bool {
    t.kw.run_once.is_some() && {
        let scope = hc.scope_for(t);
        render_bool(hc, &t.kw.run_once, &scope, false).unwrap_or(false)
    }
}

async fn run_throttled(hc: &HostCtx, t: &Arc<Task>, kind: TaskKind) -> Finished {
    let scope = hc.scope_for(t);
    let throttle = render_int(hc, &t.kw.throttle, &scope).filter(|n| *n > 0);
    let sem = throttle.map(|n| {
        let mut map = match hc.pc.throttles.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.entry(t.id)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(n as usize)))
            .clone()
    });
    let _permit = match &sem {
        Some(s) => s.acquire().await.ok(),
        None => None,
    };
    run_inner(hc, t, kind, scope).await
}

pub(super) struct Modes {
    check: bool,
    diff: bool,
    no_log: bool,
    ignore_errors: bool,
    ignore_unreachable: bool,
    delegate: Option<String>,
}

async fn run_inner(hc: &HostCtx, t: &Arc<Task>, kind: TaskKind, mut scope: Scope) -> Finished {
    let run = &hc.pc.run;
    let modes = match modes(hc, t, &scope) {
        Ok(m) => m,
        Err(e) => {
            let o = Outcome::failed(e.to_string());
            return report(hc, t, kind, &default_modes(hc), o, None);
        }
    };
    if let Some(d) = modes.delegate.as_deref().filter(|d| *d != hc.host) {
        scope.set("ansible_delegated_vars", delegated_vars(hc, d));
    }
    let outcome = match &t.loop_spec {
        None => match eval_conds(hc, &t.kw.when, &scope) {
            Err(e) => Outcome::failed(e),
            Ok(Some(false_cond)) => skipped(&false_cond),
            Ok(None) => attempt_with_retries(hc, t, &scope, &modes).await,
        },
        Some(spec) => super::loops::run_loop(hc, t, kind, &scope, &modes, spec).await,
    };
    // Items already reported themselves; a loop that failed before any
    // item (its list would not render) reports like a plain task.
    let is_loop = t.loop_spec.is_some() && outcome.result.contains_key("results");
    let _ = run;
    report(
        hc,
        t,
        kind,
        &modes,
        outcome,
        if is_loop { Some(()) } else { None },
    )
}

fn default_modes(hc: &HostCtx) -> Modes {
    Modes {
        check: hc.pc.check_mode,
        diff: hc.pc.run.opts.diff,
        no_log: false,
        ignore_errors: false,
        ignore_unreachable: false,
        delegate: None,
    }
}

fn modes(hc: &HostCtx, t: &Task, scope: &Scope) -> Result<Modes, TemplateError> {
    let run = &hc.pc.run;
    let delegate = match &t.kw.delegate_to {
        Some(v) => {
            let r = run.templar.render(v, scope)?;
            match r {
                Value::String(s) if !s.is_empty() => Some(s),
                Value::Null => None,
                other => Some(other.to_string()),
            }
        }
        None => None,
    };
    Ok(Modes {
        check: render_bool(hc, &t.kw.check_mode, scope, hc.pc.check_mode)?,
        diff: render_bool(hc, &t.kw.diff, scope, run.opts.diff)?,
        no_log: render_bool(hc, &t.kw.no_log, scope, false)?,
        ignore_errors: render_bool(hc, &t.kw.ignore_errors, scope, false)?,
        ignore_unreachable: render_bool(hc, &t.kw.ignore_unreachable, scope, false)?,
        delegate,
    })
}

pub fn skipped(false_cond: &str) -> Outcome {
    let mut r = Map::new();
    r.insert(
        "skip_reason".into(),
        Value::String("Conditional result was False".into()),
    );
    r.insert(
        "false_condition".into(),
        Value::String(false_cond.to_string()),
    );
    Outcome::with(ResultStatus::Skipped, r)
}

/// Runs the action, applying `until`/`retries`, `changed_when` and
/// `failed_when`.
pub(super) async fn attempt_with_retries(
    hc: &HostCtx,
    t: &Arc<Task>,
    scope: &Scope,
    modes: &Modes,
) -> Outcome {
    let run = &hc.pc.run;
    if t.until.is_empty() {
        return attempt(hc, t, scope, modes).await;
    }
    let retries = render_int(hc, &t.retries, scope).unwrap_or(3).max(0) as u32 + 1;
    let delay = render_int(hc, &t.delay, scope).unwrap_or(5).max(0) as u64;
    let mut last = Outcome::failed("no attempt made");
    for n in 1..=retries {
        let mut o = attempt(hc, t, scope, modes).await;
        o.result.insert("attempts".into(), Value::from(n));
        if o.status == ResultStatus::Unreachable {
            return o;
        }
        let mut s = scope.clone();
        bind_result(&mut s, t, &o.result);
        match eval_conds(hc, &t.until, &s) {
            Ok(None) => {
                o.result.remove("failed");
                if o.status == ResultStatus::Failed {
                    o.status = if o.result.get("changed") == Some(&Value::Bool(true)) {
                        ResultStatus::Changed
                    } else {
                        ResultStatus::Ok
                    };
                }
                return o;
            }
            Ok(Some(_)) => {}
            Err(e) => return Outcome::failed(e),
        }
        if n < retries {
            run.emit(PlaybookEvent::Retrying {
                host: hc.host.clone(),
                task: t.display_name(),
                retries_left: retries - n,
                result: if modes.no_log {
                    censored(&o.result)
                } else {
                    o.result.clone()
                },
            });
            tokio::time::sleep(Duration::from_secs(delay)).await;
        }
        last = o;
    }
    last.status = ResultStatus::Failed;
    last.result.insert("failed".into(), Value::Bool(true));
    last
}

/// Makes the result visible under the `register` name (for
/// `changed_when`, `failed_when`, `until`).
pub(super) fn bind_result(scope: &mut Scope, t: &Task, result: &Map<String, Value>) {
    if let Some(name) = &t.register {
        scope.set(
            name,
            Var {
                value: Value::Object(result.clone()),
                trusted: false,
            },
        );
    }
}

/// One try of the action, with `changed_when` / `failed_when` applied.
async fn attempt(hc: &HostCtx, t: &Arc<Task>, scope: &Scope, modes: &Modes) -> Outcome {
    let mut o = actions::dispatch(
        hc,
        t,
        scope,
        modes.check,
        modes.diff,
        modes.delegate.as_deref(),
    )
    .await;
    // Modules return their diff; it is part of the result only in diff
    // mode, as with Ansible.
    if !modes.diff {
        o.result.remove("diff");
    }
    if o.status == ResultStatus::Unreachable || o.status == ResultStatus::Skipped {
        return o;
    }
    if !t.changed_when.is_empty() {
        let mut s = scope.clone();
        bind_result(&mut s, t, &o.result);
        match eval_conds(hc, &t.changed_when, &s) {
            Ok(None) => {
                o.result.insert("changed".into(), Value::Bool(true));
                if o.status == ResultStatus::Ok {
                    o.status = ResultStatus::Changed;
                }
            }
            Ok(Some(_)) => {
                o.result.insert("changed".into(), Value::Bool(false));
                if o.status == ResultStatus::Changed {
                    o.status = ResultStatus::Ok;
                }
            }
            Err(e) => return Outcome::failed(e),
        }
    }
    if !t.failed_when.is_empty() {
        let mut s = scope.clone();
        bind_result(&mut s, t, &o.result);
        match eval_conds(hc, &t.failed_when, &s) {
            Ok(None) => {
                o.result
                    .insert("failed_when_result".into(), Value::Bool(true));
                o.result.insert("failed".into(), Value::Bool(true));
                o.status = ResultStatus::Failed;
            }
            Ok(Some(_)) => {
                o.result
                    .insert("failed_when_result".into(), Value::Bool(false));
                o.result.remove("failed");
                if o.status == ResultStatus::Failed {
                    o.status = if o.result.get("changed") == Some(&Value::Bool(true)) {
                        ResultStatus::Changed
                    } else {
                        ResultStatus::Ok
                    };
                }
            }
            Err(e) => return Outcome::failed(e),
        }
    }
    o
}

fn censored(result: &Map<String, Value>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("censored".into(), Value::String(CENSORED.into()));
    if let Some(c) = result.get("changed") {
        m.insert("changed".into(), c.clone());
    }
    m
}

#[allow(clippy::too_many_arguments)]
pub(super) fn emit_result(
    hc: &HostCtx,
    t: &Task,
    _kind: TaskKind,
    modes: &Modes,
    status: ResultStatus,
    result: &Map<String, Value>,
    item: Option<Value>,
    loop_summary: bool,
) {
    let ignored = match status {
        ResultStatus::Failed => modes.ignore_errors,
        ResultStatus::Unreachable => modes.ignore_unreachable,
        _ => false,
    };
    let shown = if modes.no_log {
        censored(result)
    } else {
        result.clone()
    };
    let verbosity = if t.action == "debug" {
        t.args
            .get("verbosity")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(0) as u8
    } else {
        0
    };
    let origin = (status == ResultStatus::Failed && item.is_none())
        .then(|| (t.origin.file.to_string(), t.origin.line, t.origin.col));
    hc.pc.run.emit(PlaybookEvent::Result(Box::new(TaskResult {
        host: hc.host.clone(),
        delegate: modes.delegate.clone().filter(|d| d != &hc.host),
        status,
        action: t.action.clone(),
        result: shown,
        item,
        loop_summary,
        ignored,
        no_log: modes.no_log,
        show_diff: modes.diff,
        verbosity,
        origin,
    })));
}

/// Registers, notifies, counts and reports a finished task.
fn report(
    hc: &HostCtx,
    t: &Arc<Task>,
    kind: TaskKind,
    modes: &Modes,
    o: Outcome,
    is_loop: Option<()>,
) -> Finished {
    let run = &hc.pc.run;
    let changed = o.result.get("changed") == Some(&Value::Bool(true));
    if t.action == "meta" && o.status != ResultStatus::Failed {
        // meta tasks act on the play; Ansible neither shows nor counts them.
        return Finished {
            flow: Flow::Continue,
            status: o.status,
            result: o.result,
        };
    }
    emit_result(
        hc,
        t,
        kind,
        modes,
        o.status,
        &o.result,
        None,
        is_loop.is_some(),
    );
    let ignored = match o.status {
        ResultStatus::Failed => modes.ignore_errors,
        ResultStatus::Unreachable => modes.ignore_unreachable,
        _ => false,
    };
    // Handlers are notified only by a change that stuck.
    let handler_ids = if changed && matches!(o.status, ResultStatus::Changed | ResultStatus::Ok) {
        super::notify::notified_handlers(hc, t)
    } else {
        Vec::new()
    };
    let delegate_facts =
        t.kw.delegate_facts
            .as_ref()
            .and_then(tutti_modules::params::to_bool)
            .unwrap_or(false);
    let fact_host = match (&modes.delegate, delegate_facts) {
        (Some(d), true) => d.clone(),
        _ => hc.host.clone(),
    };
    let facts = o
        .result
        .get("ansible_facts")
        .and_then(Value::as_object)
        .cloned();
    if let Some(f) = facts.filter(|_| t.action != "set_fact" && o.status != ResultStatus::Failed) {
        let gathered = matches!(t.action.as_str(), "gather_facts" | "setup");
        let all = run.states.with(&fact_host, |s| {
            for (k, v) in f {
                if !gathered {
                    s.plain_facts.insert(k.clone());
                }
                s.facts.insert(k, v);
            }
            s.facts.clone()
        });
        if matches!(t.action.as_str(), "gather_facts" | "setup") {
            run.fact_cache.store(&fact_host, &all);
        }
    }
    let fatal =
        t.kw.any_errors_fatal
            .as_ref()
            .or(hc.pc.play.kw.any_errors_fatal.as_ref())
            .and_then(tutti_modules::params::to_bool)
            .unwrap_or(false);
    let flow = run.states.with(&hc.host, |s| {
        if let Some(name) = &t.register {
            // Callback hints (`_ansible_*`) are not part of the data.
            let mut data = o.result.clone();
            data.retain(|k, _| !k.starts_with("_ansible_"));
            s.host_facts.insert(name.clone(), Value::Object(data));
            s.registered.insert(name.clone());
        }
        for (id, _) in &handler_ids {
            if !s.notified.contains(id) {
                s.notified.push(*id);
            }
        }
        let st = &mut s.stats;
        match o.status {
            ResultStatus::Ok => st.ok += 1,
            ResultStatus::Changed => {
                st.ok += 1;
                st.changed += 1;
            }
            ResultStatus::Skipped => st.skipped += 1,
            ResultStatus::Failed if ignored => {
                st.ok += 1;
                st.ignored += 1;
                if changed {
                    st.changed += 1;
                }
            }
            ResultStatus::Failed => st.failed += 1,
            ResultStatus::Unreachable if ignored => {
                st.ok += 1;
                st.ignored += 1;
            }
            ResultStatus::Unreachable => st.unreachable += 1,
        }
        match o.status {
            ResultStatus::Failed if !ignored => {
                s.failed = true;
                s.fatal = fatal;
                // The task's own name, without the `role : ` prefix of
                // the banner (Ansible serializes the task's attribute).
                let name = match &t.name {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let task_info = serde_json::json!({
                    "name": name,
                    "action": t.action,
                    "args": Value::Object(t.args.clone()),
                });
                s.last_failure = Some((task_info, Value::Object(o.result.clone())));
                Flow::Failed
            }
            ResultStatus::Unreachable if !ignored => {
                s.unreachable = true;
                s.fatal = fatal;
                Flow::Unreachable
            }
            _ => Flow::Continue,
        }
    });
    if run.opts.verbosity >= 2 {
        for (_, name) in &handler_ids {
            run.emit(PlaybookEvent::HandlerNotified {
                handler: name.clone(),
                host: hc.host.clone(),
            });
        }
    }
    Finished {
        flow,
        status: o.status,
        result: o.result,
    }
}

/// `gather_facts`: runs the `setup` module as the implicit first task.
pub async fn gather_facts(hc: &HostCtx, key: super::scheduler::Key) -> Flow {
    let play = &hc.pc.play;
    let mut args = Map::new();
    if let Some(s) = &play.gather_subset {
        args.insert("gather_subset".into(), s.clone());
    }
    if let Some(s) = &play.gather_timeout {
        args.insert("gather_timeout".into(), s.clone());
    }
    let task = Arc::new(Task {
        id: 0,
        origin: play.origin.clone(),
        name: Some(Value::String("Gathering Facts".into())),
        action: "gather_facts".into(),
        action_as_written: "gather_facts".into(),
        args,
        kw: play.kw.clone(),
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
        base_dir: play.dir.clone(),
        role: None,
    });
    // Facts are always gathered, even in check mode, and `when` of an
    // imported playbook does not apply to them.
    let mut t = (*task).clone();
    t.kw.when.clear();
    t.kw.check_mode = Some(Value::Bool(false));
    let t = Arc::new(t);
    super::walk::run_task(hc, &t, key, TaskKind::Task)
        .await
        .flow
}

/// The keywords the tasks of dynamic include `t` inherit: what encloses
/// the include, not the include's own (its `when` and tags chose the
/// include; `run_once` chose the host; `ignore_errors`, `no_log` and
/// `timeout` act on the include alone), then its `apply:` keywords.
fn included_keywords(t: &Task, apply: Option<&Value>) -> crate::playbook::model::Keywords {
    let mut kw = t.kw.clone();
    match &t.kw.outer {
        Some(outer) => outer.restore(&mut kw),
        None => kw.when.clear(),
    }
    kw.tags.truncate(t.kw.inherited_tags);
    kw.run_once = None;
    if let Some(Value::Object(apply)) = apply {
        crate::roles::apply_keywords(&mut kw, apply);
    }
    kw
}

/// What `include_tasks` found for this host.
pub enum Include {
    Skipped,
    Failed(Flow),
    Loaded { steps: Vec<Step>, file: String },
}

/// The part every include shares: its scope and modes, and its `when`
/// (reported as skipped or failed here).
/// Reports a task that failed before it could run (a loop that would not
/// render, say) and says how the host goes on.
pub fn report_failure(hc: &HostCtx, t: &Arc<Task>, msg: String) -> Flow {
    report_outcome(hc, t, Outcome::failed(msg))
}

/// Reports an outcome decided before the task could run (registered too).
pub fn report_outcome(hc: &HostCtx, t: &Arc<Task>, o: Outcome) -> Flow {
    report(hc, t, TaskKind::Task, &default_modes(hc), o, None).flow
}

fn include_preamble(hc: &HostCtx, t: &Arc<Task>) -> Result<(Scope, Modes), Include> {
    let scope = hc.scope_for(t);
    let modes = match modes(hc, t, &scope) {
        Ok(m) => m,
        Err(e) => {
            let f = report(
                hc,
                t,
                TaskKind::Task,
                &default_modes(hc),
                Outcome::failed(e.to_string()),
                None,
            );
            return Err(Include::Failed(f.flow));
        }
    };
    match eval_conds(hc, &t.kw.when, &scope) {
        Err(e) => {
            let f = report(hc, t, TaskKind::Task, &modes, Outcome::failed(e), None);
            Err(Include::Failed(f.flow))
        }
        Ok(Some(c)) => {
            report(hc, t, TaskKind::Task, &modes, skipped(&c), None);
            Err(Include::Skipped)
        }
        Ok(None) => Ok((scope, modes)),
    }
}

/// Renders the file name of an `include_tasks`, checks `when`, and loads it.
pub async fn load_include(hc: &HostCtx, t: &Arc<Task>) -> Include {
    let (scope, modes) = match include_preamble(hc, t) {
        Ok(x) => x,
        Err(done) => return done,
    };
    let raw = t
        .args
        .get("file")
        .or_else(|| t.args.get("_raw_params"))
        .cloned()
        .unwrap_or(Value::Null);
    let name = match hc.pc.run.templar.render(&raw, &scope) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => {
            let f = report(
                hc,
                t,
                TaskKind::Task,
                &modes,
                Outcome::failed(e.to_string()),
                None,
            );
            return Include::Failed(f.flow);
        }
    };
    let path = {
        let p = std::path::Path::new(&name);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            // Beside the including file, then (from a role's handlers/ or
            // a subdirectory) the role's tasks/ and the role itself, then
            // the playbook's directory, as Ansible searches.
            let role_dirs = t
                .base_dir
                .parent()
                .filter(|_| t.role.is_some())
                .map(|r| [r.join("tasks").join(p), r.join(p)])
                .into_iter()
                .flatten();
            std::iter::once(t.base_dir.join(p))
                .chain(role_dirs)
                .find(|c| c.exists())
                .unwrap_or_else(|| hc.pc.play.dir.join(p))
        }
    };
    let mut kw = included_keywords(t, t.args.get("apply"));
    if !t.vars.is_empty() {
        kw.include_params.push(t.vars.clone());
    }
    match crate::playbook::load::load_task_file(&path, &kw, t.role.as_deref()) {
        Ok((steps, warnings)) => {
            for w in warnings {
                hc.pc.run.warn(w);
            }
            Include::Loaded {
                steps,
                file: path.to_string_lossy().into_owned(),
            }
        }
        // A file that exists but will not parse stops the run, as in
        // Ansible (a `rescue` cannot catch it); a missing one fails the host.
        Err(d) if d.kind != crate::diagnostic::Kind::NotFound => {
            super::scheduler::LOAD_FAILED.store(true, std::sync::atomic::Ordering::SeqCst);
            hc.pc.run.emit(crate::output::events::PlaybookEvent::Error(
                d.to_string()
                    .trim_start_matches("[ERROR]: ")
                    .trim_end()
                    .to_string(),
            ));
            Include::Failed(Flow::Stop)
        }
        Err(d) => {
            let f = report(
                hc,
                t,
                TaskKind::Task,
                &modes,
                Outcome::failed(d.to_string().trim_end().to_string()),
                None,
            );
            Include::Failed(f.flow)
        }
    }
}

/// Renders module arguments for a host, dropping `omit`.
pub fn render_args(hc: &HostCtx, t: &Task, scope: &Scope) -> Result<Map<String, Value>, String> {
    let rendered = hc
        .pc
        .run
        .templar
        .render(&Value::Object(t.args.clone()), scope)
        .map_err(|e| {
            format!("The task includes an option with an undefined variable. The error was: {e}")
        })?;
    let mut args = match rendered {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    // The whole argument dict as one template (`assert: '{{ my_args }}'`).
    if let Some(whole) = whole_args(t, &args) {
        args = whole;
    }
    drop_omitted(&mut args);
    Ok(args)
}

/// When a task's only argument is a free form that rendered to a mapping
/// and the action takes no free form: that mapping is the arguments.
pub fn whole_args(t: &Task, rendered: &Map<String, Value>) -> Option<Map<String, Value>> {
    if rendered.len() != 1 || crate::args::is_free_form_command(&t.action) {
        return None;
    }
    match rendered.get("_raw_params") {
        Some(Value::Object(m)) => Some(m.clone()),
        _ => None,
    }
}

/// `ansible_delegated_vars`: the delegate's own variables, under its name,
/// so a delegated task can see where it runs.
fn delegated_vars(hc: &HostCtx, d: &str) -> Var {
    let mut vars = host_vars_of(hc, d);
    vars.insert("inventory_hostname".into(), Value::String(d.to_string()));
    vars.entry("ansible_host")
        .or_insert_with(|| Value::String(d.to_string()));
    let mut outer = Map::new();
    outer.insert(d.to_string(), Value::Object(vars));
    Var {
        value: Value::Object(outer),
        trusted: false,
    }
}

/// Host `d`'s inventory variables and those `add_host` gave it.
fn host_vars_of(hc: &HostCtx, d: &str) -> Map<String, Value> {
    let run = &hc.pc.run;
    let inv = &run.session.inventory;
    let mut vars = if inv.has_host(d) {
        inv.host_vars(d)
    } else {
        Map::new()
    };
    if let Some(dv) = run.states.dynamic().hosts.get(d) {
        for (k, v) in dv {
            vars.insert(k.clone(), v.clone());
        }
    }
    vars
}

/// The host a task's commands run on, and its connection.
pub fn connection(
    hc: &HostCtx,
    t: &Task,
    scope: &Scope,
    delegate: Option<&str>,
) -> Result<crate::connection::Connection, String> {
    let run = &hc.pc.run;
    let (name, vars, implicit) = match delegate {
        Some(d) if d != hc.host => {
            let inv = &run.session.inventory;
            let implicit = !inv.has_host(d) && crate::inventory::LOCALHOST_NAMES.contains(&d);
            let vars = host_vars_of(hc, d);
            // Become and remote_user keywords still apply to a delegated task.
            let mut kv =
                conn::connection_vars(&run.templar, &Scope::new(), &t.kw).unwrap_or_default();
            for (k, v) in vars {
                kv.insert(k, v);
            }
            (d.to_string(), kv, implicit)
        }
        _ => {
            let vars = conn::connection_vars(&run.templar, scope, &t.kw)?;
            let implicit = run.session.is_implicit_localhost(&hc.host);
            (hc.host.clone(), vars, implicit)
        }
    };
    conn::open(&name, &vars, &run.session.conn, implicit)
}

/// Runs a module from `tutti-modules` on the task's host.
pub async fn run_module(
    hc: &HostCtx,
    t: &Task,
    scope: &Scope,
    check: bool,
    delegate: Option<&str>,
) -> Outcome {
    let Some(module) = tutti_modules::find(&t.action) else {
        return run_custom_module(hc, t, scope, check, delegate).await;
    };
    let args = match render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    run_module_with(hc, t, module, args, scope, check, delegate).await
}

/// A module from a `library/` directory (see [`crate::custom_module`]).
async fn run_custom_module(
    hc: &HostCtx,
    t: &Task,
    scope: &Scope,
    check: bool,
    delegate: Option<&str>,
) -> Outcome {
    let Some(path) = crate::library::find(&t.action_as_written, &t.base_dir) else {
        return Outcome::failed(format!(
            "couldn't resolve module/action '{}'",
            t.action_as_written
        ));
    };
    let python = scope
        .get_raw("ansible_python_interpreter")
        .and_then(|v| v.value.as_str().map(str::to_string))
        .filter(|p| !p.is_empty() && !p.starts_with("auto"));
    let module = match crate::custom_module::CustomModule::load(&t.action, &path, python) {
        Ok(m) => m,
        Err(e) => return Outcome::failed(e),
    };
    let mut args = match render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let run = &hc.pc.run;
    args.insert("_ansible_diff".into(), Value::Bool(run.opts.diff));
    args.insert(
        "_ansible_verbosity".into(),
        Value::from(run.opts.verbosity as u64),
    );
    run_module_with(hc, t, &module, args, scope, check, delegate).await
}

/// Runs `module` with arguments that are already rendered (and, for
/// actions like `template`, prepared on the controller).
pub async fn run_module_with(
    hc: &HostCtx,
    t: &Task,
    module: &dyn tutti_modules::Module,
    args: Map<String, Value>,
    scope: &Scope,
    check: bool,
    delegate: Option<&str>,
) -> Outcome {
    let run = &hc.pc.run;
    // Resolving the connection only reads settings (connecting happens
    // on the first command), so an error here is a failed task.
    let conn = match connection(hc, t, scope, delegate) {
        Ok(c) => c,
        Err(e) => return Outcome::failed(e),
    };
    let env = match conn::environment(&run.templar, scope, &t.kw) {
        Ok(e) => e,
        Err(e) => return Outcome::failed(e),
    };
    let timeout = render_int(hc, &t.kw.timeout, scope).filter(|n| *n > 0);
    let _permit = run.forks.acquire().await.ok();
    let exec = async {
        if env.is_empty() {
            crate::execute::run(module, args, &conn, check).await
        } else {
            let h = WithEnv { inner: &conn, env };
            crate::execute::run(module, args, &h, check).await
        }
    };
    let out = match timeout {
        Some(secs) => match tokio::time::timeout(Duration::from_secs(secs as u64), exec).await {
            Ok(o) => o,
            Err(_) => {
                return Outcome::failed(format!(
                    "The {} action failed to execute in the expected time frame ({secs}) and was terminated",
                    t.action
                ));
            }
        },
        None => exec.await,
    };
    let status = match out.status {
        crate::output::Status::Ok => ResultStatus::Ok,
        crate::output::Status::Changed => ResultStatus::Changed,
        crate::output::Status::Failed => ResultStatus::Failed,
        crate::output::Status::Unreachable => ResultStatus::Unreachable,
        crate::output::Status::Skipped => ResultStatus::Skipped,
    };
    Outcome::with(status, out.result)
}

/// `include_role`: checks `when`, renders the arguments and loads the role
/// for this host.
pub async fn load_role_include(hc: &HostCtx, t: &Arc<Task>) -> Include {
    let (scope, modes) = match include_preamble(hc, t) {
        Ok(x) => x,
        Err(done) => return done,
    };
    let args = match render_args(hc, t, &scope) {
        Ok(a) => a,
        Err(e) => {
            let f = report(hc, t, TaskKind::Task, &modes, Outcome::failed(e), None);
            return Include::Failed(f.flow);
        }
    };
    let (mut spec, _) = match crate::roles::spec_from(&Value::Object(args.clone())) {
        Ok(s) => s,
        Err(e) => {
            let f = report(hc, t, TaskKind::Task, &modes, Outcome::failed(e), None);
            return Include::Failed(f.flow);
        }
    };
    let mut kw = included_keywords(t, args.get("apply"));
    if !t.vars.is_empty() {
        kw.role_params.push(t.vars.clone());
    }
    // An included role repeats on a host unless the include says
    // `allow_duplicates: false` and the role already ran there.
    let once = !spec.allow_duplicates.unwrap_or(true);
    spec.allow_duplicates = Some(true);
    if let Some(id) = crate::roles::identity_of(&spec, &hc.pc.play.dir) {
        let again = hc
            .pc
            .run
            .states
            .with(&hc.host, |s| !s.roles_included.insert(id));
        if again && once {
            return Include::Skipped;
        }
    }
    let mut warnings = Vec::new();
    let loaded = crate::roles::load(
        &spec,
        &kw,
        &hc.pc.play.dir,
        &hc.pc.play.roles_seen,
        &mut warnings,
        0,
    );
    for w in warnings {
        hc.pc.run.warn(w);
    }
    if let Ok(l) = &loaded
        && args
            .get("public")
            .and_then(tutti_modules::params::to_bool)
            .unwrap_or(false)
    {
        let mut g = match hc.pc.exposed.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        Arc::make_mut(&mut g).extend(l.exposed.iter().cloned());
    }
    match loaded {
        Ok(l) => Include::Loaded {
            steps: l.steps,
            file: spec.name,
        },
        Err(d) => {
            let f = report(hc, t, TaskKind::Task, &modes, Outcome::failed(d.msg), None);
            Include::Failed(f.flow)
        }
    }
}
