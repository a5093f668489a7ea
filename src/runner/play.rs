//! One play: choose its hosts, load `vars_files` and prompts, split the
//! hosts into `serial` batches and run each batch under the scheduler.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value};
use tokio::sync::{OnceCell, Semaphore};

use super::Run;
use super::scheduler::{self, Gate};
use super::scope::{self, PlayLayers};
use super::walk;
use crate::inventory::{VarsKind, load_vars_dir};
use crate::output::events::PlaybookEvent;
use crate::playbook::model::Play;
use crate::template::{Scope, Var};

/// A result shared by every host of a `run_once` task.
pub type Shared = Arc<OnceCell<super::task::Finished>>;

/// What the hosts of one batch share.
pub struct PlayCtx {
    pub run: Arc<Run>,
    pub play: Arc<Play>,
    pub layers: HashMap<String, PlayLayers>,
    /// Every host the play targets (`ansible_play_hosts_all`).
    pub hosts_all: Vec<String>,
    /// The hosts of this batch (`ansible_play_batch`).
    pub batch: Vec<String>,
    pub gate: Gate,
    pub check_mode: bool,
    pub run_once: std::sync::Mutex<HashMap<usize, Shared>>,
    pub throttles: std::sync::Mutex<HashMap<usize, Arc<Semaphore>>>,
    /// Hosts that failed or became unreachable in this batch.
    pub failed_in_batch: AtomicUsize,
    /// A task with `any_errors_fatal` failed on some host.
    pub fatal: std::sync::atomic::AtomicBool,
    /// `meta: end_play` ended the play (no `NO MORE HOSTS LEFT` banner).
    pub ended_by_meta: std::sync::atomic::AtomicBool,
    pub force_handlers: bool,
    /// Public roles every task sees: the play's static ones, then those a
    /// `public: true` include_role brought in at run time.
    pub exposed: std::sync::RwLock<Arc<Vec<crate::roles::Exposure>>>,
}

/// Extra vars and play vars only: for the play name and `hosts`.
fn play_scope(run: &Run, play: &Play) -> Scope {
    scope::scope_of([
        scope::layer(&play.vars, true),
        scope::layer(&run.session.extra_vars, true),
    ])
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Runs one play; returns false when the run must stop (all failed is
/// not a reason: the next play runs with the hosts that remain).
pub async fn run_play(run: &Arc<Run>, play: &Arc<Play>) {
    let pscope = play_scope(run, play);
    let name = match &play.name {
        Some(n) => match run.templar.render(n, &pscope) {
            Ok(v) => text_of(&v),
            Err(_) => text_of(n),
        },
        None => String::new(),
    };
    let pattern = match run.templar.render(&play.hosts, &pscope) {
        Ok(Value::Array(a)) => a.iter().map(text_of).collect::<Vec<_>>().join(","),
        Ok(v) => text_of(&v),
        Err(e) => {
            run.emit(PlaybookEvent::Error(format!(
                "The field 'hosts' has an invalid value: {e} (at {})",
                play.origin
            )));
            return;
        }
    };
    let check_mode = match &play.kw.check_mode {
        Some(v) => render_bool(run, v, &pscope).unwrap_or(run.opts.check),
        None => run.opts.check,
    };
    let banner_name = if name.is_empty() {
        pattern.clone()
    } else {
        name
    };
    run.emit(PlaybookEvent::PlayStart {
        name: banner_name.clone(),
        check_mode,
    });
    let mut hosts = select_hosts(run, &pattern);
    hosts.retain(|h| !run.states.with(h, |s| s.unreachable));
    if hosts.is_empty() {
        run.emit(PlaybookEvent::NoHostsMatched);
        return;
    }
    order_hosts(&mut hosts, play.order.as_deref());

    let prompts = match prompt_vars(run, play) {
        Ok(p) => p,
        Err(e) => {
            run.fail(e);
            return;
        }
    };
    let batches = batches(run, play, &pscope, &hosts);
    // The play's own setting, either way, overrides the command line.
    let force_handlers = play
        .force_handlers
        .as_ref()
        .and_then(|v| render_bool(run, v, &pscope))
        .unwrap_or(run.opts.force_handlers);
    for (i, batch) in batches.into_iter().enumerate() {
        // Ansible repeats the play banner for every serial batch.
        if i > 0 {
            run.emit(PlaybookEvent::PlayStart {
                name: banner_name.clone(),
                check_mode,
            });
        }
        // Hosts that failed in an earlier batch's play stay out.
        let batch: Vec<String> = batch
            .into_iter()
            .filter(|h| !run.states.with(h, |s| s.unreachable))
            .collect();
        if batch.is_empty() {
            continue;
        }
        let mut layers = HashMap::new();
        for h in &batch {
            match play_layers(run, play, h, &prompts) {
                Ok(l) => {
                    layers.insert(h.clone(), l);
                }
                Err(e) => {
                    run.fail(e);
                    return;
                }
            }
        }
        let aborted = run_batch(
            run,
            play,
            batch,
            hosts.clone(),
            layers,
            check_mode,
            force_handlers,
        )
        .await;
        if aborted {
            run.emit(PlaybookEvent::NoMoreHosts);
            break;
        }
    }
    // A failed host is out of this play only.
    for h in &hosts {
        run.states.with(h, |s| {
            s.failed = false;
            s.ended = false;
            s.notified.clear();
            s.roles_included.clear();
        });
    }
}

fn render_bool(run: &Run, v: &Value, scope: &Scope) -> Option<bool> {
    run.templar
        .render(v, scope)
        .ok()
        .and_then(|v| tutti_modules::params::to_bool(&v))
}

/// Inventory hosts for `pattern` and `--limit`, plus hosts and groups
/// added at run time.
pub fn select_hosts(run: &Run, pattern: &str) -> Vec<String> {
    let dynamic = run.states.dynamic();
    let mut hosts = match run.session.select(pattern, run.opts.limit.as_deref()) {
        Ok(sel) => {
            // A name only added at run time is not a mismatch.
            for w in sel.warnings {
                let about_dynamic = dynamic
                    .groups
                    .keys()
                    .chain(dynamic.hosts.keys())
                    .any(|n| w.ends_with(&format!(": {n}")));
                if !about_dynamic {
                    run.warn(w);
                }
            }
            sel.hosts
        }
        Err(e) => {
            run.emit(PlaybookEvent::Error(e.msg));
            Vec::new()
        }
    };
    // Run-time hosts and groups join the pattern's terms; `!` and `&`
    // terms then apply to them as to inventory hosts.
    let dynamic_members = |term: &str| -> Vec<String> {
        let mut m: Vec<String> = Vec::new();
        if term == "all" || term == "*" {
            m.extend(dynamic.hosts.keys().cloned());
        }
        if let Some(members) = dynamic.groups.get(term) {
            m.extend(members.iter().cloned());
        }
        if dynamic.hosts.contains_key(term) {
            m.push(term.to_string());
        }
        m
    };
    let terms: Vec<&str> = pattern
        .split([',', ':'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    for term in terms.iter().filter(|t| !t.starts_with(['&', '!'])) {
        for h in dynamic_members(term) {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
    }
    let has_dynamic = !dynamic.hosts.is_empty() || !dynamic.groups.is_empty();
    for term in terms.iter().filter(|_| has_dynamic) {
        let (exclude, name) = match (term.strip_prefix('!'), term.strip_prefix('&')) {
            (Some(n), _) => (true, n),
            (_, Some(n)) => (false, n),
            _ => continue,
        };
        let mut members = dynamic_members(name);
        if let Ok(sel) = run.session.select(name, None) {
            members.extend(sel.hosts);
        }
        hosts.retain(|h| members.contains(h) != exclude);
    }
    hosts
}

fn order_hosts(hosts: &mut [String], order: Option<&str>) {
    match order {
        Some("sorted") => hosts.sort(),
        Some("reverse_sorted") => {
            hosts.sort();
            hosts.reverse();
        }
        Some("reverse_inventory") => hosts.reverse(),
        Some("shuffle") => {
            use rand::seq::SliceRandom;
            hosts.shuffle(&mut rand::rng());
        }
        _ => {}
    }
}

/// `serial`: an int, a percentage, or a list of them (the last repeats).
fn batches(run: &Run, play: &Play, scope: &Scope, hosts: &[String]) -> Vec<Vec<String>> {
    let Some(serial) = &play.serial else {
        return vec![hosts.to_vec()];
    };
    let rendered = run.templar.render(serial, scope).unwrap_or(Value::Null);
    let sizes: Vec<Value> = match rendered {
        Value::Array(a) => a,
        Value::Null => return vec![hosts.to_vec()],
        other => vec![other],
    };
    let size_of = |v: &Value| -> usize {
        let n = hosts.len();
        let s = match v {
            Value::Number(x) => x.as_u64().unwrap_or(0) as usize,
            Value::String(t) => match t.trim().strip_suffix('%') {
                Some(p) => {
                    let pct: f64 = p.trim().parse().unwrap_or(100.0);
                    ((n as f64) * pct / 100.0) as usize
                }
                None => t.trim().parse().unwrap_or(0),
            },
            _ => 0,
        };
        if s == 0 {
            n.max(1)
                .min(if matches!(v, Value::String(_)) { 1 } else { n })
        } else {
            s
        }
    };
    let mut out = Vec::new();
    let mut i = 0;
    let mut idx = 0;
    while i < hosts.len() {
        let size = size_of(&sizes[idx.min(sizes.len() - 1)]).max(1);
        let end = (i + size).min(hosts.len());
        out.push(hosts[i..end].to_vec());
        i = end;
        idx += 1;
    }
    out
}

/// `vars_prompt`: extra vars answer first; otherwise ask on a terminal or
/// use the default.
fn prompt_vars(run: &Run, play: &Play) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for p in &play.vars_prompt {
        if let Some(v) = run.session.extra_vars.get(&p.name) {
            out.insert(p.name.clone(), v.clone());
            continue;
        }
        let interactive = console::Term::stdout().is_term()
            && std::io::IsTerminal::is_terminal(&std::io::stdin());
        if !interactive {
            match &p.default {
                Some(d) => {
                    out.insert(p.name.clone(), d.clone());
                    continue;
                }
                None => {
                    return Err(format!(
                        "vars_prompt '{}' needs an answer but there is no terminal; pass it with -e {}=...",
                        p.name, p.name
                    ));
                }
            }
        }
        let prompt = format!("{}: ", p.prompt);
        let answer = if p.private {
            rpassword::prompt_password(&prompt).map_err(|e| e.to_string())?
        } else {
            use std::io::Write;
            print!("{prompt}");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            line.trim_end_matches(['\r', '\n']).to_string()
        };
        let value = if answer.is_empty() {
            p.default.clone().unwrap_or(Value::String(String::new()))
        } else {
            Value::String(answer)
        };
        out.insert(p.name.clone(), value);
    }
    Ok(out)
}

/// Precedence levels 1–8 and 10–12 for one host in this play.
fn play_layers(
    run: &Run,
    play: &Play,
    host: &str,
    prompts: &Map<String, Value>,
) -> Result<PlayLayers, String> {
    let inv = &run.session.inventory;
    let l = inv.var_layers(host);
    let dynamic_vars = run
        .states
        .dynamic()
        .hosts
        .get(host)
        .cloned()
        .unwrap_or_default();
    let groups = inv.group_names(host);
    let mut names: Vec<&str> = vec!["all"];
    names.extend(groups.iter().map(String::as_str));
    let pb_groups = load_vars_dir(&play.dir, VarsKind::Group, &names).map_err(|d| d.msg)?;
    let pb_hosts = load_vars_dir(&play.dir, VarsKind::Host, &[host]).map_err(|d| d.msg)?;
    let mut pb_all = Map::new();
    let mut pb_group = Map::new();
    for (g, vars) in &pb_groups.vars {
        let target = if g == "all" {
            &mut pb_all
        } else {
            &mut pb_group
        };
        for (k, v) in vars {
            target.insert(k.clone(), v.clone());
        }
    }
    let mut pb_host = Map::new();
    for vars in pb_hosts.vars.values() {
        for (k, v) in vars {
            pb_host.insert(k.clone(), v.clone());
        }
    }
    let mut host_inventory = l.host_inventory.clone();
    for (k, v) in dynamic_vars {
        host_inventory.insert(k, v);
    }
    let below_facts = vec![
        scope::layer(&l.group_inventory, true),
        scope::layer(&l.group_vars_all, true),
        scope::layer(&pb_all, true),
        scope::layer(&l.group_vars, true),
        scope::layer(&pb_group, true),
        scope::layer(&host_inventory, true),
        scope::layer(&l.host_vars, true),
        scope::layer(&pb_host, true),
    ];
    let mut above_facts = vec![scope::layer(&play.vars, true), scope::layer(prompts, true)];
    // vars_files are templated per host (a path may use inventory vars).
    if !play.vars_files.is_empty() {
        let mut base = scope::scope_of(
            below_facts
                .iter()
                .cloned()
                .chain(above_facts.iter().cloned()),
        );
        base.push_layer(scope::layer(&run.session.extra_vars, true));
        base.set(
            "inventory_hostname",
            Var {
                value: Value::String(host.to_string()),
                trusted: false,
            },
        );
        let mut files_vars = Map::new();
        for entry in &play.vars_files {
            let candidates: Vec<Value> = match entry {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            let mut loaded = false;
            let mut tried = Vec::new();
            for c in &candidates {
                let name = run
                    .templar
                    .render(c, &base)
                    .map_err(|e| format!("vars_files: {e}"))?;
                let name = text_of(&name);
                let path = resolve_path(&play.dir, &name);
                if path.is_file() {
                    let (vars, warnings) = crate::inventory::vars_dirs::load_vars_file(&path)
                        .map_err(|d| d.to_string())?;
                    for w in warnings {
                        run.warn(w);
                    }
                    for (k, v) in vars {
                        files_vars.insert(k, v);
                    }
                    loaded = true;
                    break;
                }
                tried.push(path.display().to_string());
            }
            if !loaded {
                return Err(format!(
                    "vars file {} was not found (tried: {})",
                    candidates
                        .iter()
                        .map(text_of)
                        .collect::<Vec<_>>()
                        .join(", "),
                    tried.join(", ")
                ));
            }
        }
        above_facts.push(scope::layer(&files_vars, true));
    }
    Ok(PlayLayers {
        below_facts,
        above_facts,
    })
}

fn resolve_path(dir: &Path, name: &str) -> std::path::PathBuf {
    let p = Path::new(name);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

/// Runs one batch; returns true when the play was aborted.
async fn run_batch(
    run: &Arc<Run>,
    play: &Arc<Play>,
    batch: Vec<String>,
    hosts_all: Vec<String>,
    layers: HashMap<String, PlayLayers>,
    check_mode: bool,
    force_handlers: bool,
) -> bool {
    let linear = play.strategy.as_deref().unwrap_or("linear") != "free";
    let holder: Arc<std::sync::Mutex<Option<std::sync::Weak<PlayCtx>>>> = Arc::default();
    let h2 = holder.clone();
    let max_fail = play.max_fail_percentage.as_ref().and_then(|v| {
        v.as_f64().or_else(|| {
            v.as_str()
                .and_then(|s| s.trim_end_matches('%').parse().ok())
        })
    });
    let batch_len = batch.len();
    let between: Arc<dyn Fn(&Gate) + Send + Sync> = Arc::new(move |gate: &Gate| {
        let Some(pc) = h2
            .lock()
            .ok()
            .and_then(|g| g.as_ref().and_then(std::sync::Weak::upgrade))
        else {
            return;
        };
        let failed = pc.failed_in_batch.load(Ordering::SeqCst);
        let too_many = match max_fail {
            Some(pct) => (failed as f64) * 100.0 / (batch_len as f64) > pct,
            None => false,
        };
        if pc.fatal.load(Ordering::SeqCst) || too_many || (failed == batch_len && failed > 0) {
            gate.abort();
        }
    });
    let (gate, sched) = scheduler::start(
        batch.clone(),
        linear,
        run.opts.step,
        run.events.clone(),
        between,
    );
    let pc = Arc::new(PlayCtx {
        run: run.clone(),
        play: play.clone(),
        layers,
        hosts_all,
        batch: batch.clone(),
        gate,
        check_mode,
        run_once: Default::default(),
        throttles: Default::default(),
        failed_in_batch: AtomicUsize::new(0),
        fatal: std::sync::atomic::AtomicBool::new(false),
        ended_by_meta: std::sync::atomic::AtomicBool::new(false),
        force_handlers,
        exposed: std::sync::RwLock::new(Arc::new(play.exposed.clone())),
    });
    if let Ok(mut g) = holder.lock() {
        *g = Some(Arc::downgrade(&pc));
    }
    let mut joins = Vec::new();
    for h in batch {
        let pc = pc.clone();
        joins.push(tokio::spawn(async move {
            let host = h.clone();
            walk::host_main(pc.clone(), h).await;
            host
        }));
    }
    for j in joins {
        // A panic in one host's walk must not take the run down; the host
        // is counted as failed and the scheduler told it is done.
        if let Err(e) = j.await {
            pc.run.emit(PlaybookEvent::Error(format!(
                "internal error on a host: {e}"
            )));
            pc.gate.done();
        }
    }
    let _ = sched.await;
    pc.gate.refused_any() && !pc.ended_by_meta.load(Ordering::SeqCst)
}
