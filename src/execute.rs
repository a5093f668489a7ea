//! One module on one host: validate, check, and apply only when the plan
//! says so and check mode is off. Shared by ad-hoc runs and playbooks.

use serde_json::{Map, Value};
use tutti_modules::{Args, Host, HostError, Module, ModuleError, Plan, Prepared};

use crate::output::Status;

/// How a module run ended, with Ansible's result keys.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub result: Map<String, Value>,
}

fn failed(msg: impl Into<String>, mut result: Map<String, Value>) -> Outcome {
    result.entry("changed").or_insert(Value::Bool(false));
    result.insert("failed".into(), Value::Bool(true));
    result.insert("msg".into(), Value::String(msg.into()));
    Outcome {
        status: Status::Failed,
        result,
    }
}

fn from_host_error(e: HostError) -> Outcome {
    match e {
        HostError::Unreachable(msg) => {
            let mut r = Map::new();
            r.insert("changed".into(), Value::Bool(false));
            r.insert("msg".into(), Value::String(msg));
            r.insert("unreachable".into(), Value::Bool(true));
            Outcome {
                status: Status::Unreachable,
                result: r,
            }
        }
        other => failed(other.to_string(), Map::new()),
    }
}

fn from_module_error(e: ModuleError) -> Outcome {
    match e {
        ModuleError::Host(h) => from_host_error(h),
        ModuleError::Failed { msg, result } => failed(msg, result),
    }
}

/// The registered `diff`: a module's single structured diff is the dict
/// Ansible's module returns (`{before: {path, state}, after: {...}}`);
/// otherwise the list of before/after texts the action plugins return.
fn diff_value(diffs: &[tutti_modules::Diff]) -> Value {
    if let [d] = diffs
        && let Some((before, after)) = &d.data
    {
        let mut m = Map::new();
        m.insert("before".into(), Value::Object(before.clone()));
        m.insert("after".into(), Value::Object(after.clone()));
        return Value::Object(m);
    }
    serde_json::to_value(diffs).unwrap_or(Value::Null)
}

/// Runs `module` with `args` on `host`. In check mode nothing that could
/// change the host is called: `apply` is reached only outside check mode.
pub async fn run(
    module: &dyn Module,
    mut args: Args,
    host: &dyn Host,
    check_mode: bool,
) -> Outcome {
    if let Err(e) = crate::expand_path::expand(module, &mut args, host).await {
        return from_host_error(e);
    }
    // Ansible's internal argument, for the modules that ask for it.
    if check_mode && module.spec().param("_ansible_check_mode").is_some() {
        args.insert("_ansible_check_mode".into(), Value::Bool(true));
    }
    let prepared = match module.prepare(args) {
        Ok(p) => p,
        Err(e) => return failed(e.msg, Map::new()),
    };
    let mut out = run_prepared(prepared.as_ref(), host, check_mode).await;
    // Asked after the run: checking may have found more to warn about.
    let warnings = prepared.warnings();
    if !warnings.is_empty() {
        out.result.insert(
            "warnings".into(),
            Value::Array(warnings.into_iter().map(Value::String).collect()),
        );
    }
    out
}

async fn run_prepared(prepared: &dyn Prepared, host: &dyn Host, check_mode: bool) -> Outcome {
    let plan = match prepared.check(host).await {
        Ok(p) => p,
        Err(e) => return from_module_error(e),
    };
    match plan {
        Plan::InSync { mut result } => {
            result.insert("changed".into(), Value::Bool(false));
            Outcome {
                status: Status::Ok,
                result,
            }
        }
        Plan::Change {
            mut result, diff, ..
        } if check_mode => {
            result.insert("changed".into(), Value::Bool(true));
            if !diff.is_empty() {
                result.insert("diff".into(), diff_value(&diff));
            }
            Outcome {
                status: Status::Changed,
                result,
            }
        }
        Plan::Unpredictable { reason } if check_mode => {
            let mut r = Map::new();
            r.insert("changed".into(), Value::Bool(false));
            r.insert("msg".into(), Value::String(reason));
            r.insert("skipped".into(), Value::Bool(true));
            Outcome {
                status: Status::Skipped,
                result: r,
            }
        }
        plan => match prepared.apply(plan, host).await {
            Err(e) => from_module_error(e),
            Ok(applied) => {
                let mut r = applied.result;
                r.insert("changed".into(), Value::Bool(applied.changed));
                if let Some(msg) = applied.msg {
                    r.insert("msg".into(), Value::String(msg));
                }
                if !applied.diff.is_empty() {
                    r.insert("diff".into(), diff_value(&applied.diff));
                }
                let status = if applied.failed {
                    r.insert("failed".into(), Value::Bool(true));
                    Status::Failed
                } else if applied.changed {
                    Status::Changed
                } else {
                    Status::Ok
                };
                Outcome { status, result: r }
            }
        },
    }
}
