//! Looped tasks: the items (`loop`, `with_<lookup>`), the loop variable
//! and `loop_control` (`index_var`, `label`, `pause`, `extended`,
//! `break_when`), each item run and reported, and the loop's own result.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::task::{
    Modes, Outcome, attempt_with_retries, bind_result, emit_result, eval_conds, skipped,
};
use super::walk::HostCtx;
use crate::output::events::{ResultStatus, TaskKind};
use crate::playbook::model::{LoopSpec, Task};
use crate::template::{Scope, Var};

/// `loop_control.loop_var`, rendered when it is a template (`item` when
/// unset or when it renders to nothing).
pub fn loop_var_name(hc: &HostCtx, t: &Task, scope: &Scope) -> String {
    let raw = t.loop_control.loop_var.clone().unwrap_or_default();
    let name = if crate::template::is_template(&raw) {
        match hc.pc.run.templar.render_str(&raw, scope) {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(_) => raw,
        }
    } else {
        raw
    };
    if name.trim().is_empty() {
        "item".into()
    } else {
        name.trim().to_string()
    }
}

/// The items a loop runs over.
pub fn loop_items(hc: &HostCtx, spec: &LoopSpec, scope: &Scope) -> Result<Vec<Value>, String> {
    let templar = &hc.pc.run.templar;
    match spec {
        LoopSpec::Loop(v) => match templar.render(v, scope).map_err(|e| e.to_string())? {
            Value::Array(a) => Ok(a),
            other => Err(format!(
                "Invalid data passed to 'loop', it requires a list, got this instead: {}. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup.",
                crate::output::pyjson::compact(&other)
            )),
        },
        LoopSpec::With { lookup, terms } => {
            let rendered = templar.render(terms, scope).map_err(|e| e.to_string())?;
            crate::template::lookup_loop(templar, lookup, rendered, scope)
                .map_err(|e| e.to_string())
        }
    }
}

pub(super) async fn run_loop(
    hc: &HostCtx,
    t: &Arc<Task>,
    kind: TaskKind,
    scope: &Scope,
    modes: &Modes,
    spec: &LoopSpec,
) -> Outcome {
    let run = &hc.pc.run;
    let items = match loop_items(hc, spec, scope) {
        Ok(i) => i,
        Err(e) => {
            // As Ansible: when the list will not render, a `when` that is
            // false without the item skips the task instead of failing.
            if let Ok(Some(false_cond)) = eval_conds(hc, &t.kw.when, scope) {
                return skipped(&false_cond);
            }
            return Outcome::failed(e);
        }
    };
    if items.is_empty() {
        let mut r = Map::new();
        r.insert(
            "skipped_reason".into(),
            Value::String("No items in the list".into()),
        );
        r.insert("results".into(), Value::Array(Vec::new()));
        return Outcome::with(ResultStatus::Skipped, r);
    }
    let lc = &t.loop_control;
    let loop_var = loop_var_name(hc, t, scope);
    let extended = lc
        .extended
        .as_ref()
        .and_then(tutti_modules::params::to_bool)
        .unwrap_or(false);
    let pause = lc
        .pause
        .as_ref()
        .and_then(|p| {
            p.as_f64()
                .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0.0);
    let n = items.len();
    let mut results = Vec::with_capacity(n);
    let (mut any_changed, mut any_failed, mut all_skipped, mut any_unreachable) =
        (false, false, true, false);
    // Facts set by earlier items (set_fact, include_vars) are visible to
    // later ones, as in Ansible, so a loop can accumulate into a variable.
    let mut base = scope.clone();
    for (i, item) in items.iter().enumerate() {
        let mut s = base.clone();
        s.set(
            &loop_var,
            Var {
                value: item.clone(),
                trusted: false,
            },
        );
        s.set(
            "ansible_loop_var",
            Var {
                value: Value::String(loop_var.clone()),
                trusted: false,
            },
        );
        if let Some(iv) = &lc.index_var {
            s.set(
                iv,
                Var {
                    value: Value::from(i),
                    trusted: false,
                },
            );
        }
        if extended {
            let mut l = Map::new();
            l.insert("index".into(), Value::from(i + 1));
            l.insert("index0".into(), Value::from(i));
            l.insert("revindex".into(), Value::from(n - i));
            l.insert("revindex0".into(), Value::from(n - i - 1));
            l.insert("first".into(), Value::Bool(i == 0));
            l.insert("last".into(), Value::Bool(i + 1 == n));
            l.insert("length".into(), Value::from(n));
            l.insert("allitems".into(), Value::Array(items.clone()));
            if i > 0 {
                l.insert("previtem".into(), items[i - 1].clone());
            }
            if i + 1 < n {
                l.insert("nextitem".into(), items[i + 1].clone());
            }
            s.set(
                "ansible_loop",
                Var {
                    value: Value::Object(l),
                    trusted: false,
                },
            );
        }
        let o = match eval_conds(hc, &t.kw.when, &s) {
            Err(e) => Outcome::failed(e),
            Ok(Some(false_cond)) => skipped(&false_cond),
            Ok(None) => attempt_with_retries(hc, t, &s, modes).await,
        };
        let mut r = o.result;
        r.insert(loop_var.clone(), item.clone());
        r.insert("ansible_loop_var".into(), Value::String(loop_var.clone()));
        if let Some(iv) = &lc.index_var {
            r.insert(iv.clone(), Value::from(i));
            r.insert("ansible_index_var".into(), Value::String(iv.clone()));
        }
        let mut status = o.status;
        // The label sees this item's result under the register name (as
        // in Ansible since 2.18); a label that cannot render fails the item.
        let label = match &lc.label {
            Some(l) => {
                let mut ls = s.clone();
                if let Some(reg) = &t.register {
                    ls.set(
                        reg,
                        Var {
                            value: Value::Object(r.clone()),
                            trusted: false,
                        },
                    );
                }
                match run.templar.render(l, &ls) {
                    Ok(v) => v,
                    Err(e) => {
                        r.insert("failed".into(), Value::Bool(true));
                        r.insert(
                            "msg".into(),
                            Value::String(format!("Failed to template loop_control.label: {e}")),
                        );
                        status = ResultStatus::Failed;
                        item.clone()
                    }
                }
            }
            None => item.clone(),
        };
        any_changed |= r.get("changed") == Some(&Value::Bool(true));
        any_failed |= status == ResultStatus::Failed;
        any_unreachable |= status == ResultStatus::Unreachable;
        all_skipped &= status == ResultStatus::Skipped;
        if matches!(t.action.as_str(), "set_fact" | "include_vars")
            && status != ResultStatus::Failed
            && let Some(Value::Object(facts)) = r.get("ansible_facts")
        {
            for (k, v) in facts {
                base.set(
                    k,
                    Var {
                        value: v.clone(),
                        trusted: false,
                    },
                );
            }
        }
        emit_result(hc, t, kind, modes, status, &r, Some(label), false);
        results.push(Value::Object(r));
        if pause > 0.0 && i + 1 < n {
            tokio::time::sleep(Duration::from_secs_f64(pause)).await;
        }
        if !lc.break_when.is_empty() {
            let mut bs = s.clone();
            bind_result(
                &mut bs,
                t,
                &results
                    .last()
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            );
            if let Ok(None) = eval_conds(hc, &lc.break_when, &bs) {
                break;
            }
        }
    }
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(any_changed));
    r.insert("results".into(), Value::Array(results));
    let status = if any_unreachable {
        r.insert(
            "msg".into(),
            Value::String("One or more items failed".into()),
        );
        ResultStatus::Unreachable
    } else if any_failed {
        r.insert(
            "msg".into(),
            Value::String("One or more items failed".into()),
        );
        ResultStatus::Failed
    } else if all_skipped {
        r.insert("msg".into(), Value::String("All items skipped".into()));
        ResultStatus::Skipped
    } else {
        r.insert("msg".into(), Value::String("All items completed".into()));
        if any_changed {
            ResultStatus::Changed
        } else {
            ResultStatus::Ok
        }
    };
    Outcome::with(status, r)
}
