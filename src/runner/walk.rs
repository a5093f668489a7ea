//! One host's way through a play: sections, blocks with `rescue` and
//! `always`, `include_tasks`, `meta` and handler flushes. Each task waits
//! at the scheduler's gate before it runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;

use super::play::PlayCtx;
use super::scheduler::{Banner, Key, Release};
use super::tags;
use super::task::{self, Finished};
use crate::output::events::{PlaybookEvent, ResultStatus, TaskKind};
use crate::playbook::model::{Step, Task};

/// How a walk through a list of steps ended for the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// A task failed and was not rescued: the host leaves the play.
    Failed,
    Unreachable,
    /// `meta: end_host`, or the play was aborted / ended.
    Stop,
}

pub struct HostCtx {
    pub pc: Arc<PlayCtx>,
    pub host: String,
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs the whole play for one host.
pub async fn host_main(pc: Arc<PlayCtx>, host: String) {
    let hc = HostCtx {
        pc: pc.clone(),
        host,
    };
    let play = pc.play.clone();
    let mut flow = Flow::Continue;
    let mut counted = false;
    if gather_enabled(&hc) {
        flow = task::gather_facts(&hc, vec![0]).await;
    }
    let sections: [(u32, &Vec<Step>); 3] = [
        (1, &play.pre_tasks),
        (3, &play.tasks),
        (5, &play.post_tasks),
    ];
    for (n, steps) in sections {
        if flow == Flow::Continue {
            flow = walk_steps(&hc, steps, vec![n]).await;
        }
        if matches!(flow, Flow::Failed | Flow::Unreachable) && !counted {
            // The host leaves the play: it counts toward
            // max_fail_percentage, and any_errors_fatal ends the play.
            counted = true;
            pc.failed_in_batch.fetch_add(1, Ordering::SeqCst);
            let fatal = pc.run.states.with(&hc.host, |s| s.fatal);
            if fatal {
                pc.fatal.store(true, Ordering::SeqCst);
            }
        }
        if flow == Flow::Continue || (flow == Flow::Failed && pc.force_handlers) {
            // Ansible's debug log (ANSIBLE_DEBUG) shows the implicit flush
            // when it has handlers to run.
            if std::env::var_os("ANSIBLE_DEBUG").is_some_and(|v| v != "0" && !v.is_empty())
                && pc.run.states.with(&hc.host, |s| !s.notified.is_empty())
            {
                pc.run.emit(PlaybookEvent::Debug(format!(
                    "META: triggered running handlers for {}",
                    hc.host
                )));
            }
            let f = flush_handlers(&hc, vec![n + 1]).await;
            if flow == Flow::Continue {
                flow = f;
            }
        }
    }
    pc.gate.done();
}

fn gather_enabled(hc: &HostCtx) -> bool {
    let run = &hc.pc.run;
    // Facts cached by an earlier run are known before anything is gathered.
    if run.states.with(&hc.host, |s| s.facts.is_empty())
        && let Some(cached) = run.fact_cache.load(&hc.host)
    {
        run.states.with(&hc.host, |s| s.facts = cached);
    }
    let setting = hc
        .pc
        .play
        .gather_facts
        .as_ref()
        .and_then(tutti_modules::params::to_bool);
    let gathering = run
        .session
        .config
        .get("defaults", "gathering", "ANSIBLE_GATHERING")
        .unwrap_or_else(|| "implicit".into());
    match setting {
        Some(b) => b,
        None => match gathering.as_str() {
            "explicit" => false,
            "smart" => run.states.with(&hc.host, |s| s.facts.is_empty()),
            _ => true,
        },
    }
}

/// Walks a list of steps.
pub fn walk_steps<'a>(hc: &'a HostCtx, steps: &'a [Step], key: Key) -> BoxFut<'a, Flow> {
    Box::pin(async move {
        for (i, step) in steps.iter().enumerate() {
            let mut k = key.clone();
            k.push(i as u32);
            let flow = match step {
                Step::Task(t) => run_step_task(hc, t, k).await,
                Step::Block(b) => {
                    let flow = walk_steps(hc, &b.block, with(&k, 0)).await;
                    let flow = if flow == Flow::Failed && !b.rescue.is_empty() {
                        // The failure is rescued: Ansible counts it as
                        // `rescued`, not `failed`.
                        hc.pc.run.states.with(&hc.host, |s| {
                            s.stats.failed = s.stats.failed.saturating_sub(1);
                            s.stats.rescued += 1;
                            s.failed = false;
                            s.fatal = false;
                            if let Some((task, result)) = s.last_failure.take() {
                                s.failure_vars.insert("ansible_failed_task".into(), task);
                                s.failure_vars
                                    .insert("ansible_failed_result".into(), result);
                            }
                        });
                        walk_steps(hc, &b.rescue, with(&k, 1)).await
                    } else {
                        flow
                    };
                    if !b.always.is_empty() && matches!(flow, Flow::Continue | Flow::Failed) {
                        // `always` runs even for a host that just failed.
                        let was_failed = flow == Flow::Failed;
                        if was_failed {
                            hc.pc.run.states.with(&hc.host, |s| {
                                s.failed = false;
                                s.errors_cleared = false;
                            });
                        }
                        if was_failed {
                            hc.pc.run.states.with(&hc.host, |s| {
                                if let Some((task, result)) = s.last_failure.clone() {
                                    s.failure_vars.insert("ansible_failed_task".into(), task);
                                    s.failure_vars
                                        .insert("ansible_failed_result".into(), result);
                                }
                            });
                        }
                        let a = walk_steps(hc, &b.always, with(&k, 2)).await;
                        let cleared = hc.pc.run.states.with(&hc.host, |s| s.errors_cleared);
                        if was_failed && a == Flow::Continue && !cleared {
                            hc.pc.run.states.with(&hc.host, |s| s.failed = true);
                            Flow::Failed
                        } else {
                            a
                        }
                    } else {
                        flow
                    }
                }
            };
            if let Step::Block(b) = step
                && (!b.rescue.is_empty() || !b.always.is_empty())
            {
                hc.pc.run.states.with(&hc.host, |s| s.failure_vars.clear());
            }
            if flow != Flow::Continue {
                return flow;
            }
        }
        Flow::Continue
    })
}

fn with(key: &Key, n: u32) -> Key {
    let mut k = key.clone();
    k.push(n);
    k
}

/// Whether tag and `--start-at-task` selection let this task run.
fn selected(hc: &HostCtx, t: &Task) -> bool {
    let run = &hc.pc.run;
    let task_tags = tags::render(&t.kw.tags, &run.templar, &hc.scope_for(t));
    if !tags::selected(&task_tags, &run.opts.tags, &run.opts.skip_tags) {
        // An unselected include_* is skipped with everything in it, as in
        // Ansible; flush points still run.
        return t.action == "meta" && task_tags.is_empty();
    }
    if !run.started.load(Ordering::SeqCst) {
        let name = t.display_name();
        if run.opts.start_at_task.as_deref() == Some(name.as_str()) {
            run.started.store(true, Ordering::SeqCst);
        } else {
            return false;
        }
    }
    true
}

async fn run_step_task(hc: &HostCtx, t: &Arc<Task>, key: Key) -> Flow {
    if !selected(hc, t) {
        return Flow::Continue;
    }
    if hc.pc.run.states.with(&hc.host, |s| s.ended) {
        return Flow::Stop;
    }
    match t.action.as_str() {
        "include_tasks" | "include_role" => return include(hc, t, key, TaskKind::Task).await,
        "meta" => return meta(hc, t, key).await,
        _ => {}
    }
    run_task(hc, t, key, TaskKind::Task).await.flow
}

/// Tasks a handler included are handlers themselves.
fn handler_kind(hc: &HostCtx, kind: TaskKind) -> TaskKind {
    if hc.pc.run.states.with(&hc.host, |s| s.in_handler) {
        TaskKind::Handler
    } else {
        kind
    }
}

/// Waits for the scheduler, then runs the task.
pub async fn run_task(hc: &HostCtx, t: &Arc<Task>, key: Key, kind: TaskKind) -> Finished {
    let kind = handler_kind(hc, kind);
    let banner = Banner {
        name: t.display_name(),
        kind,
        path: format!("{}:{}", t.origin.file, t.origin.line),
        check_mode: hc.pc.check_mode,
        // Ansible shows explicit `meta` tasks' banners too.
        shown: true,
        forced: (kind == TaskKind::Handler && hc.pc.force_handlers)
            || hc.pc.run.states.with(&hc.host, |s| s.forcing_handlers),
    };
    match hc.pc.gate.arrive(&hc.host, key, t.id, banner).await {
        Release::Go => task::run(hc, t, kind).await,
        Release::Skip => Finished {
            flow: Flow::Continue,
            status: crate::output::events::ResultStatus::Skipped,
            result: serde_json::Map::new(),
        },
        Release::Abort => Finished::stop(),
    }
}

/// `include_tasks` / `include_role`: loads the file or role now, for this
/// host (once per loop item), and walks it.
async fn include(hc: &HostCtx, t: &Arc<Task>, key: Key, kind: TaskKind) -> Flow {
    let kind = handler_kind(hc, kind);
    let banner = Banner {
        name: t.display_name(),
        kind,
        path: format!("{}:{}", t.origin.file, t.origin.line),
        check_mode: hc.pc.check_mode,
        shown: true,
        forced: (kind == TaskKind::Handler && hc.pc.force_handlers)
            || hc.pc.run.states.with(&hc.host, |s| s.forcing_handlers),
    };
    match hc.pc.gate.arrive(&hc.host, key.clone(), t.id, banner).await {
        Release::Abort => return Flow::Stop,
        Release::Skip => return Flow::Continue,
        Release::Go => {}
    }
    // `run_once` on an include concerns the include itself: it is
    // processed for the first host only, so only that host runs its tasks.
    if task::runs_once(hc, t) && !task::is_run_once_leader(hc) {
        return Flow::Continue;
    }
    let per_item = match loop_tasks(hc, t) {
        Ok(v) => v,
        Err(flow) => return flow,
    };
    let looped = t.loop_spec.is_some();
    for (i, t) in per_item.iter().enumerate() {
        // Each item's tasks get their own keys, in item order, so hosts
        // meet at the same item in lock-step.
        let key = if looped {
            with(&key, i as u32)
        } else {
            key.clone()
        };
        let loaded = if t.action == "include_role" {
            task::load_role_include(hc, t).await
        } else {
            task::load_include(hc, t).await
        };
        let (steps, file) = match loaded {
            task::Include::Skipped => continue,
            task::Include::Failed(flow) => return flow,
            task::Include::Loaded { steps, file } => (steps, file),
        };
        // What a handler includes runs as handlers, and blocks cannot.
        if kind == TaskKind::Handler && steps.iter().any(|s| matches!(s, Step::Block(_))) {
            return task::report_failure(
                hc,
                t,
                "Using a block as a handler is not supported.".into(),
            );
        }
        hc.pc.run.emit(PlaybookEvent::Included {
            file,
            hosts: vec![hc.host.clone()],
        });
        // Ansible counts a successful include as ok.
        hc.pc.run.states.with(&hc.host, |s| s.stats.ok += 1);
        let flow = walk_steps(hc, &steps, key).await;
        if flow != Flow::Continue {
            return flow;
        }
    }
    Flow::Continue
}

/// An include with a loop is one include per item, each with the loop
/// variable (and `index_var`, `ansible_loop_var`) as include vars so every
/// included task sees it. Without a loop: the task itself.
fn loop_tasks(hc: &HostCtx, t: &Arc<Task>) -> Result<Vec<Arc<Task>>, Flow> {
    let Some(spec) = &t.loop_spec else {
        return Ok(vec![t.clone()]);
    };
    let scope = hc.scope_for(t);
    let items = match super::loops::loop_items(hc, spec, &scope) {
        Ok(items) => items,
        // A `when` that is false without the item skips the include
        // instead of failing on a list that will not render.
        Err(e) => {
            return Err(match task::eval_conds(hc, &t.kw.when, &scope) {
                Ok(Some(false_cond)) => task::report_outcome(hc, t, task::skipped(&false_cond)),
                _ => task::report_failure(hc, t, e),
            });
        }
    };
    let lc = &t.loop_control;
    let loop_var = super::loops::loop_var_name(hc, t, &scope);
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let mut one = (**t).clone();
            let mut vars = (*one.vars).clone();
            vars.insert(loop_var.clone(), item);
            vars.insert("ansible_loop_var".into(), Value::String(loop_var.clone()));
            if let Some(iv) = &lc.index_var {
                vars.insert(iv.clone(), Value::from(i));
                vars.insert("ansible_index_var".into(), Value::String(iv.clone()));
            }
            one.vars = Arc::new(vars);
            one.loop_spec = None;
            Arc::new(one)
        })
        .collect())
}

/// `meta`: control-flow actions that act on the play, not the host.
async fn meta(hc: &HostCtx, t: &Arc<Task>, key: Key) -> Flow {
    let what = t
        .args
        .get("_raw_params")
        .and_then(Value::as_str)
        .unwrap_or("noop")
        .trim()
        .to_string();
    match what.as_str() {
        "flush_handlers" => {
            // Every host meets here, then handlers run in order.
            let banner = Banner {
                name: t.display_name(),
                kind: TaskKind::Task,
                path: format!("{}:{}", t.origin.file, t.origin.line),
                check_mode: hc.pc.check_mode,
                shown: true,
                forced: false,
            };
            if hc.pc.gate.arrive(&hc.host, key.clone(), t.id, banner).await == Release::Abort {
                return Flow::Stop;
            }
            // A false `when` skips the flush for this host.
            match task::eval_conds(hc, &t.kw.when, &hc.scope_for(t)) {
                Ok(None) => {}
                Ok(Some(_)) => return Flow::Continue,
                Err(e) => return task::report_failure(hc, t, e),
            }
            hc.pc.run.emit(PlaybookEvent::Meta(format!(
                "triggered running handlers for {}",
                hc.host
            )));
            flush_handlers(hc, key).await
        }
        "end_play" | "end_batch" | "end_host" | "clear_host_errors" | "noop"
        | "refresh_inventory" | "clear_facts" | "reset_connection" | "end_role" => {
            let done = run_task(hc, t, key, TaskKind::Task).await;
            if done.flow != Flow::Continue {
                return done.flow;
            }
            if done.status == ResultStatus::Skipped {
                return Flow::Continue;
            }
            // Ansible's words for what happened, shown at -vv.
            let said = match what.as_str() {
                "noop" => "noop".to_string(),
                "clear_host_errors" => "cleared host errors".to_string(),
                "clear_facts" => "facts cleared".to_string(),
                "refresh_inventory" => "inventory successfully refreshed".to_string(),
                "reset_connection" => "reset connection".to_string(),
                "end_host" => format!("ending play for {}", hc.host),
                "end_play" => "ending play".to_string(),
                "end_batch" => "ending batch".to_string(),
                _ => format!("ending role {}", t.role.as_deref().unwrap_or_default()),
            };
            hc.pc.run.emit(PlaybookEvent::Meta(said));
            match what.as_str() {
                "end_play" | "end_batch" => {
                    hc.pc.ended_by_meta.store(true, Ordering::SeqCst);
                    hc.pc.gate.abort();
                    Flow::Stop
                }
                "end_host" => {
                    hc.pc.run.states.with(&hc.host, |s| s.ended = true);
                    Flow::Stop
                }
                "clear_host_errors" => {
                    for h in &hc.pc.batch {
                        hc.pc.run.states.with(h, |s| {
                            s.failed = false;
                            s.errors_cleared = true;
                            s.cleared_failures = s.stats.failed;
                        });
                    }
                    Flow::Continue
                }
                "clear_facts" => {
                    hc.pc.run.states.with(&hc.host, |s| s.facts.clear());
                    Flow::Continue
                }
                _ => Flow::Continue,
            }
        }
        other => {
            hc.pc.run.emit(PlaybookEvent::Error(format!(
                "invalid meta action requested: {other} (at {})",
                t.origin
            )));
            Flow::Failed
        }
    }
}

/// Runs the notified handlers, in the order they are defined.
pub async fn flush_handlers(hc: &HostCtx, key: Key) -> Flow {
    let handlers = hc.pc.play.handlers.clone();
    for (i, h) in handlers.iter().enumerate() {
        let notified = hc.pc.run.states.with(&hc.host, |s| {
            let hit = s.notified.contains(&h.id);
            s.notified.retain(|id| *id != h.id);
            hit
        });
        if !notified {
            continue;
        }
        let k = with(&key, i as u32);
        // A handler may include tasks or a role, as a task can; under
        // --force-handlers its tasks run as the handler itself does.
        let flow = if matches!(h.action.as_str(), "include_tasks" | "include_role") {
            let force = hc.pc.force_handlers;
            hc.pc.run.states.with(&hc.host, |s| {
                s.forcing_handlers = force;
                s.in_handler = true;
            });
            let flow = include(hc, h, k, TaskKind::Handler).await;
            hc.pc.run.states.with(&hc.host, |s| {
                s.forcing_handlers = false;
                s.in_handler = false;
            });
            flow
        } else if h.action == "meta"
            && h.args.get("_raw_params").and_then(Value::as_str) == Some("flush_handlers")
        {
            // Ansible refuses this one when it comes to run it.
            hc.pc.run.fail("flush_handlers cannot be used as a handler");
            Flow::Continue
        } else {
            let done = run_task(hc, h, k, TaskKind::Handler).await;
            if h.action == "meta" && done.status != ResultStatus::Skipped {
                let what = h.args.get("_raw_params").and_then(Value::as_str);
                hc.pc
                    .run
                    .emit(PlaybookEvent::Meta(what.unwrap_or("noop").to_string()));
            }
            done.flow
        };
        if flow != Flow::Continue {
            return flow;
        }
    }
    Flow::Continue
}
