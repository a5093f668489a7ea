//! Actions that run on the controller (Ansible's action plugins): `debug`,
//! `assert`, `fail`, `set_fact`, `include_vars`, `pause`, `meta`,
//! `add_host`, `group_by`, `set_stats`, `gather_facts`; everything else is
//! a module from `tutti-modules` run on the host.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::play::PlayCtx;
use super::scope;
use super::task::{self, Outcome};
use super::walk::HostCtx;
use crate::output::events::ResultStatus;
use crate::playbook::model::Task;
use crate::template::{Scope, Var};

/// Runs the task's action once (one loop item, one retry).
pub async fn dispatch(
    hc: &HostCtx,
    t: &Arc<Task>,
    scope: &Scope,
    check: bool,
    _diff: bool,
    delegate: Option<&str>,
) -> Outcome {
    // The whole argument dict as one template (`debug: '{{ args }}'`).
    let whole;
    let t = match t.args.get("_raw_params") {
        Some(Value::String(s)) if crate::template::single_expr(s).is_some() => {
            let rendered = hc
                .pc
                .run
                .templar
                .render(&Value::Object(t.args.clone()), scope);
            match rendered.ok().as_ref().and_then(Value::as_object) {
                Some(r) => match task::whole_args(t, r) {
                    Some(m) => {
                        let mut one = (**t).clone();
                        one.args = m;
                        whole = Arc::new(one);
                        &whole
                    }
                    None => t,
                },
                None => t,
            }
        }
        _ => t,
    };
    match t.action.as_str() {
        "debug" => debug(hc, t, scope),
        "validate_argument_spec" => validate_argument_spec(hc, t, scope),
        "assert" => assert(hc, t, scope),
        "fail" => fail(hc, t, scope),
        "set_fact" => set_fact(hc, t, scope),
        "include_vars" => include_vars(hc, t, scope),
        "pause" => pause(hc, t, scope).await,
        "meta" => Outcome::ok(Map::new()),
        "add_host" => add_host(hc, t, scope),
        "group_by" => group_by(hc, t, scope),
        "set_stats" => match task::render_args(hc, t, scope) {
            Ok(a) => {
                let mut r = Map::new();
                r.insert("ansible_stats".into(), Value::Object(a));
                Outcome::ok(r)
            }
            Err(e) => Outcome::failed(e),
        },
        "gather_facts" | "setup" => {
            if tutti_modules::find("setup").is_some() {
                let mut tt = (**t).clone();
                tt.action = "setup".into();
                task::run_module(hc, &tt, scope, false, delegate).await
            } else {
                Outcome::ok(Map::new())
            }
        }
        "template" => super::file_actions::template(hc, t, scope, check, delegate).await,
        "copy" => super::file_actions::copy(hc, t, scope, check, delegate).await,
        "script" => super::file_actions::script(hc, t, scope, check, delegate).await,
        "fetch" => super::file_actions::fetch(hc, t, scope, check, delegate).await,
        "assemble" => super::file_actions::assemble(hc, t, scope, check, delegate).await,
        "unarchive" => super::file_actions::unarchive(hc, t, scope, check, delegate).await,
        "import_role" | "include_role" | "import_tasks" | "include_tasks" | "import_playbook" => {
            Outcome::failed(format!(
                "'{}' is handled by the play, not as an action",
                t.action
            ))
        }
        _ => task::run_module(hc, t, scope, check, delegate).await,
    }
}

fn arg_text(args: &Map<String, Value>, key: &str) -> Option<String> {
    args.get(key).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn debug(hc: &HostCtx, t: &Task, scope: &Scope) -> Outcome {
    let templar = &hc.pc.run.templar;
    let verbosity = t
        .args
        .get("verbosity")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0);
    if u64::from(hc.pc.run.opts.verbosity) < verbosity {
        let mut r = Map::new();
        r.insert(
            "skipped_reason".into(),
            Value::String("Verbosity threshold not met.".into()),
        );
        return Outcome::with(ResultStatus::Skipped, r);
    }
    let mut r = Map::new();
    if let Some(var) = t.args.get("var") {
        let name = match var {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let value = match templar.eval(&name, scope) {
            Ok(v) => v,
            Err(e) if e.undefined.is_some() => {
                // 2.19 reports the error in place of the value, with a warning.
                hc.pc
                    .run
                    .warn(format!("Encountered 1 template error.\nerror 1 - {e}"));
                Value::String(format!("<< error 1 - {e} >>"))
            }
            Err(e) => return Outcome::failed(e.to_string()),
        };
        r.insert(name, value);
        return Outcome::ok(r);
    }
    let msg = match t.args.get("msg") {
        Some(m) => match templar.render(m, scope) {
            Ok(v) => v,
            Err(e) => {
                return Outcome::failed(format!(
                    "The task includes an option with an undefined variable. The error was: {e}"
                ));
            }
        },
        None => Value::String("Hello world!".into()),
    };
    r.insert("msg".into(), msg);
    Outcome::ok(r)
}

fn assert(hc: &HostCtx, t: &Task, scope: &Scope) -> Outcome {
    let templar = &hc.pc.run.templar;
    let mut that: Vec<Value> = match t.args.get("that") {
        Some(Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
        None => return Outcome::failed("conditional required in \"that\" string"),
    };
    // `that: '{{ list_var }}'`: the list's items are the conditions, as in
    // Ansible; a `!unsafe` item stays marked and is refused below.
    if let [Value::String(s)] = that.as_slice()
        && let Some(name) = crate::template::single_expr(s).map(str::trim)
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && let Some(var) = scope.get_raw(name)
        && let Value::Array(items) = var.value
    {
        that = items;
    }
    let render_msg = |key: &str| -> Option<Value> {
        t.args
            .get(key)
            .map(|m| templar.render(m, scope).unwrap_or_else(|_| m.clone()))
    };
    let quiet = t
        .args
        .get("quiet")
        .and_then(tutti_modules::params::to_bool)
        .unwrap_or(false);
    for cond in &that {
        let (expr, ok) = match cond {
            Value::Bool(b) => (cond.to_string(), Ok(*b)),
            Value::String(s) => (s.clone(), templar.eval_bool(s, scope)),
            Value::Object(m) if m.contains_key(crate::template::UNSAFE_KEY) => (
                m.get(crate::template::UNSAFE_KEY)
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .unwrap_or_default(),
                Err(crate::template::TemplateError::new(
                    crate::template::UNTRUSTED.to_string(),
                )),
            ),
            other => (
                other.to_string(),
                Ok(tutti_modules::params::to_bool(other).unwrap_or(false)),
            ),
        };
        match ok {
            Ok(true) => {}
            Ok(false) => {
                let mut r = Map::new();
                r.insert("assertion".into(), Value::String(expr));
                r.insert("evaluated_to".into(), Value::Bool(false));
                r.insert(
                    "msg".into(),
                    render_msg("fail_msg")
                        .or_else(|| render_msg("msg"))
                        .unwrap_or_else(|| Value::String("Assertion failed".into())),
                );
                return Outcome::with(ResultStatus::Failed, r);
            }
            Err(e) => {
                return Outcome::failed(format!(
                    "The conditional check '{expr}' failed. The error was: {e}"
                ));
            }
        }
    }
    let mut r = Map::new();
    // Ansible shows a passing assert's result without -v.
    r.insert("_ansible_verbose_always".into(), Value::Bool(true));
    if !quiet {
        r.insert(
            "msg".into(),
            render_msg("success_msg")
                .unwrap_or_else(|| Value::String("All assertions passed".into())),
        );
    }
    Outcome::ok(r)
}

fn fail(hc: &HostCtx, t: &Task, scope: &Scope) -> Outcome {
    let msg = match t.args.get("msg") {
        Some(m) => match hc.pc.run.templar.render(m, scope) {
            Ok(v) => v,
            Err(e) => return Outcome::failed(e.to_string()),
        },
        None => Value::String("Failed as requested from task".into()),
    };
    let mut r = Map::new();
    r.insert("msg".into(), msg);
    Outcome::with(ResultStatus::Failed, r)
}

fn set_fact(hc: &HostCtx, t: &Task, scope: &Scope) -> Outcome {
    let mut args = match task::render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let cacheable = args
        .remove("cacheable")
        .as_ref()
        .and_then(tutti_modules::params::to_bool)
        .unwrap_or(false);
    if args.is_empty() {
        return Outcome::failed(
            "No key/value pairs provided, at least one is required for this action to succeed",
        );
    }
    hc.pc.run.states.with(&hc.host, |s| {
        for (k, v) in &args {
            s.host_facts.insert(k.clone(), v.clone());
            s.registered.remove(k);
            if cacheable {
                s.facts.insert(k.clone(), v.clone());
            }
        }
    });
    let mut r = Map::new();
    r.insert("ansible_facts".into(), Value::Object(args));
    Outcome::ok(r)
}

/// Where a relative `include_vars` file is looked up: the task file's
/// `vars/` and directory, then the playbook's.
fn find_vars_file(hc: &HostCtx, t: &Task, name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    let dirs = [t.base_dir.clone(), hc.pc.play.dir.clone()];
    for d in dirs {
        for candidate in [d.join("vars").join(p), d.join(p)] {
            if candidate.exists() {
                return Some(candidate);
            }
        }
    }
    None
}

fn include_vars(hc: &HostCtx, t: &Task, scope: &Scope) -> Outcome {
    let args = match task::render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let mut files = Vec::new();
    if let Some(dir) = arg_text(&args, "dir") {
        let Some(d) = find_vars_file(hc, t, &dir) else {
            return Outcome::failed(format!("{dir} directory does not exist"));
        };
        let exts: Vec<String> = match args.get("extensions") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => vec!["yaml".into(), "yml".into(), "json".into()],
        };
        let matching = arg_text(&args, "files_matching").and_then(|p| regex::Regex::new(&p).ok());
        let mut stack = vec![(d, 0usize)];
        let depth = args.get("depth").and_then(Value::as_u64).unwrap_or(0) as usize;
        while let Some((dir, level)) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            for e in entries {
                if e.is_dir() {
                    if depth == 0 || level + 1 < depth {
                        stack.push((e, level + 1));
                    }
                    continue;
                }
                let fname = e
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let ext_ok = e
                    .extension()
                    .map(|x| exts.iter().any(|want| want == &x.to_string_lossy()))
                    .unwrap_or(false);
                if ext_ok && matching.as_ref().is_none_or(|re| re.is_match(&fname)) {
                    files.push(e);
                }
            }
        }
    } else {
        let Some(name) = arg_text(&args, "file").or_else(|| arg_text(&args, "_raw_params")) else {
            return Outcome::failed("one of the following is required: file, dir, _raw_params");
        };
        match find_vars_file(hc, t, name.trim()) {
            Some(p) => files.push(p),
            None => return Outcome::failed(format!("Could not find or access '{}'", name.trim())),
        }
    }
    let mut vars = Map::new();
    let mut loaded = Vec::new();
    for f in &files {
        match crate::inventory::vars_dirs::load_vars_file(f) {
            Ok((v, warnings)) => {
                for w in warnings {
                    hc.pc.run.warn(w);
                }
                for (k, val) in v {
                    vars.insert(k, val);
                }
                loaded.push(Value::String(f.to_string_lossy().into_owned()));
            }
            Err(d) => return Outcome::failed(d.msg),
        }
    }
    let vars = match arg_text(&args, "name") {
        Some(n) => {
            let mut m = Map::new();
            m.insert(n, Value::Object(vars));
            m
        }
        None => vars,
    };
    hc.pc.run.states.with(&hc.host, |s| {
        for (k, v) in &vars {
            s.include_vars.insert(k.clone(), v.clone());
        }
    });
    let mut r = Map::new();
    r.insert("ansible_facts".into(), Value::Object(vars));
    r.insert("ansible_included_var_files".into(), Value::Array(loaded));
    // Included values are templated on use, like any file-defined vars;
    // they must not be treated as host facts.
    let mut out = Outcome::ok(r);
    out.result.insert("changed".into(), Value::Bool(false));
    out
}

async fn pause(hc: &HostCtx, t: &Task, scope: &Scope) -> Outcome {
    let args = match task::render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let num = |k: &str| {
        args.get(k).and_then(|v| {
            v.as_f64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
    };
    let secs = num("seconds").or_else(|| num("minutes").map(|m| m * 60.0));
    let start = chrono::Local::now();
    let mut r = Map::new();
    match secs {
        Some(s) => {
            tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await;
            r.insert(
                "stdout".into(),
                Value::String(format!("Paused for {} seconds", s)),
            );
        }
        None => {
            // Without a terminal there is nobody to press enter.
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                let prompt =
                    arg_text(&args, "prompt").unwrap_or_else(|| "Press enter to continue".into());
                eprintln!("[{}]\n{prompt}:", t.display_name());
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
                r.insert(
                    "user_input".into(),
                    Value::String(line.trim_end().to_string()),
                );
            } else {
                r.insert("user_input".into(), Value::String(String::new()));
            }
        }
    }
    let stop = chrono::Local::now();
    r.insert(
        "start".into(),
        Value::String(start.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
    );
    r.insert(
        "stop".into(),
        Value::String(stop.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
    );
    r.insert("delta".into(), Value::from((stop - start).num_seconds()));
    r.entry("user_input")
        .or_insert(Value::String(String::new()));
    Outcome::ok(r)
}

fn add_host(hc: &HostCtx, t: &Task, scope: &Scope) -> Outcome {
    let mut args = match task::render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let name = ["name", "host", "hostname"]
        .iter()
        .find_map(|k| args.remove(*k))
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        });
    let Some(name) = name else {
        return Outcome::failed("name is required for add_host");
    };
    let groups: Vec<String> = ["groups", "group", "groupname"]
        .iter()
        .find_map(|k| args.remove(*k))
        .map(|v| match v {
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            Value::String(s) => s
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default();
    // `host:port` sets ansible_port, as in Ansible.
    let (host, port) = match name.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() && !h.contains(':') => {
            (h.to_string(), Some(p.to_string()))
        }
        _ => (name.clone(), None),
    };
    if let Some(p) = port {
        args.insert("ansible_port".into(), Value::String(p));
    }
    let known = hc.pc.run.session.inventory.has_host(&host)
        || hc.pc.run.states.dynamic().hosts.contains_key(&host);
    hc.pc.run.states.with_dynamic(|d| {
        let entry = d.hosts.entry(host.clone()).or_default();
        for (k, v) in &args {
            entry.insert(k.clone(), v.clone());
        }
        for g in &groups {
            let members = d.groups.entry(g.clone()).or_default();
            if !members.contains(&host) {
                members.push(host.clone());
            }
        }
    });
    let mut r = Map::new();
    r.insert(
        "add_host".into(),
        serde_json::json!({"host_name": host, "groups": groups, "host_vars": args}),
    );
    r.insert("changed".into(), Value::Bool(!known));
    Outcome::with(
        if known {
            ResultStatus::Ok
        } else {
            ResultStatus::Changed
        },
        r,
    )
}

fn group_by(hc: &HostCtx, t: &Task, scope: &Scope) -> Outcome {
    let args = match task::render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let Some(key) = arg_text(&args, "key").or_else(|| arg_text(&args, "_raw_params")) else {
        return Outcome::failed("the 'key' param is required when using group_by");
    };
    let key = key.replace(' ', "-");
    let parents: Vec<String> = match args.get("parents") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => vec!["all".into()],
    };
    let host = hc.host.clone();
    let added = hc.pc.run.states.with_dynamic(|d| {
        let mut added = false;
        let members = d.groups.entry(key.clone()).or_default();
        if !members.contains(&host) {
            members.push(host.clone());
            added = true;
        }
        for p in &parents {
            if p != "all" {
                let m = d.groups.entry(p.clone()).or_default();
                if !m.contains(&host) {
                    m.push(host.clone());
                }
            }
        }
        added
    });
    let mut r = Map::new();
    r.insert("add_group".into(), Value::String(key));
    r.insert("parent_groups".into(), Value::from(parents));
    // Ansible reports a change when the host joined the group.
    r.insert("changed".into(), Value::Bool(added));
    Outcome::with(
        if added {
            ResultStatus::Changed
        } else {
            ResultStatus::Ok
        },
        r,
    )
}

/// `hostvars`: every host's variables, built on demand.
struct HostVars {
    pc: Arc<PlayCtx>,
}

impl std::fmt::Debug for HostVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hostvars")
    }
}

impl minijinja::value::Object for HostVars {
    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let host = key.as_str()?;
        let run = &self.pc.run;
        let inv = &run.session.inventory;
        let known = inv.has_host(host)
            || run.states.dynamic().hosts.contains_key(host)
            || inv.is_implicit_localhost(host);
        if !known {
            return None;
        }
        let state = run.states.get(host);
        let mut s = Scope::new();
        match self.pc.layers.get(host) {
            Some(l) => {
                for layer in &l.below_facts {
                    s.push_layer(layer.clone());
                }
                s.push_layer(scope::facts_layer(&state.facts, &state.plain_facts));
                for layer in &l.above_facts {
                    s.push_layer(layer.clone());
                }
            }
            None => {
                s.push_layer(scope::layer(&inv.host_vars(host), true));
                if let Some(dv) = run.states.dynamic().hosts.get(host) {
                    s.push_layer(scope::layer(dv, true));
                }
                s.push_layer(scope::facts_layer(&state.facts, &state.plain_facts));
            }
        }
        s.push_layer(scope::layer(&state.include_vars, true));
        s.push_layer(scope::layer(&state.host_facts, false));
        s.set(
            "inventory_hostname",
            Var {
                value: Value::String(host.to_string()),
                trusted: false,
            },
        );
        s.set(
            "inventory_hostname_short",
            Var {
                value: Value::String(host.split('.').next().unwrap_or(host).to_string()),
                trusted: false,
            },
        );
        s.set(
            "group_names",
            Var {
                value: Value::from(inv.group_names(host)),
                trusted: false,
            },
        );
        s.push_layer(scope::layer(&run.session.extra_vars, true));
        Some(s.into_value())
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let run = &self.pc.run;
        let mut names: Vec<minijinja::Value> = run
            .session
            .inventory
            .hosts()
            .into_iter()
            .map(minijinja::Value::from)
            .collect();
        for h in run.states.dynamic().hosts.keys() {
            names.push(minijinja::Value::from(h.clone()));
        }
        minijinja::value::Enumerator::Values(names)
    }
}

/// The `hostvars` magic variable for this play.
pub fn hostvars_object(hc: &HostCtx) -> minijinja::Value {
    minijinja::Value::from_object(HostVars { pc: hc.pc.clone() })
}

/// `validate_argument_spec` (inserted before a role's tasks when it has
/// `meta/argument_specs.yml`): every option must be present when
/// required, of its type, and one of its choices.
pub fn validate_argument_spec(hc: &HostCtx, t: &Task, scope: &Scope) -> Outcome {
    let templar = &hc.pc.run.templar;
    let Some(Value::Object(options)) = t.args.get("argument_spec") else {
        return Outcome::ok(Map::new());
    };
    let mut errors = Vec::new();
    let mut missing = Vec::new();
    for (name, spec) in options {
        let defined = scope.get_raw(name).is_some();
        let required = spec
            .get("required")
            .and_then(tutti_modules::params::to_bool)
            .unwrap_or(false);
        if !defined {
            if required {
                missing.push(name.clone());
            }
            continue;
        }
        let value = match templar.eval(name, scope) {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        let ty = spec.get("type").and_then(Value::as_str).unwrap_or("str");
        let ok = match (ty, &value) {
            ("str" | "path" | "raw", _) => true,
            ("int", Value::Number(n)) => n.is_i64() || n.is_u64(),
            ("int", Value::String(s)) => s.trim().parse::<i64>().is_ok(),
            ("float", Value::Number(_)) => true,
            ("float", Value::String(s)) => s.trim().parse::<f64>().is_ok(),
            ("bool", v) => tutti_modules::params::to_bool(v).is_some(),
            ("list", Value::Array(_)) => true,
            ("list", Value::String(_)) => true,
            ("dict", Value::Object(_)) => true,
            _ => false,
        };
        if !ok {
            let shown = match &value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let target = match ty {
                "int" => "an int",
                "float" => "a float",
                "bool" => "a bool",
                "list" => "a list",
                "dict" => "a dict",
                _ => "that type",
            };
            errors.push(format!(
                "argument '{name}' is of type {} and we were unable to convert to {ty}: \"'{shown}'\" cannot be converted to {target}",
                json_type(&value)
            ));
            continue;
        }
        if let Some(Value::Array(choices)) = spec.get("choices") {
            let in_choices = |v: &Value| {
                choices
                    .iter()
                    .any(|c| c == v || c.as_str().is_some_and(|cs| Some(cs) == v.as_str()))
            };
            let bad = match &value {
                Value::Array(items) => !items.iter().all(in_choices),
                v => !in_choices(v),
            };
            if bad {
                let list: Vec<String> = choices
                    .iter()
                    .map(|c| {
                        c.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| c.to_string())
                    })
                    .collect();
                errors.push(format!(
                    "value of {name} must be one of: {}, got: {}",
                    list.join(", "),
                    value
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| value.to_string())
                ));
            }
        }
    }
    if !missing.is_empty() {
        errors.insert(
            0,
            format!("missing required arguments: {}", missing.join(", ")),
        );
    }
    let mut r = Map::new();
    r.insert("argument_spec_data".into(), Value::Object(options.clone()));
    if errors.is_empty() {
        r.insert(
            "msg".into(),
            Value::String("The arg spec validation passed".into()),
        );
        return Outcome::ok(r);
    }
    r.insert("argument_errors".into(), Value::from(errors.clone()));
    r.insert(
        "msg".into(),
        Value::String(format!(
            "Validation of arguments failed:\n{}",
            errors.join("\n")
        )),
    );
    Outcome::with(ResultStatus::Failed, r)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "str",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Null => "NoneType",
    }
}
