//! Executable inventory scripts: `SCRIPT --list` prints JSON groups (and
//! usually `_meta.hostvars`); without `_meta`, `SCRIPT --host NAME` is asked
//! for each host's variables.

use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value};

use super::Inventory;
use crate::diagnostic::Diagnostic;

pub(super) enum Outcome {
    Parsed,
    /// The file could not be executed at all; treat it as a static file.
    NotAScript,
}

#[cfg(unix)]
pub(super) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
pub(super) fn is_executable(_path: &Path) -> bool {
    false
}

/// Run `path` with `args`; None when it cannot be executed at all.
fn run_script(path: &Path, args: &[&str]) -> Result<Option<String>, Diagnostic> {
    let shown = path.display();
    // ETXTBSY: a script written moments ago may still be open for writing
    // in a child forked by another thread; it clears within milliseconds.
    let mut attempt = Command::new(path).args(args).output();
    for _ in 0..20 {
        match &attempt {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(25));
                attempt = Command::new(path).args(args).output();
            }
            _ => break,
        }
    }
    let output = match attempt {
        Ok(o) => o,
        // ENOEXEC and friends: not a script, whatever its mode says.
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            if e.raw_os_error() == Some(8) || e.kind() == std::io::ErrorKind::PermissionDenied {
                return Ok(None);
            }
            return Err(Diagnostic::parse(
                format!("Problem running inventory script {shown}: {e}"),
                None,
            ));
        }
        Err(e) => {
            return Err(Diagnostic::parse(
                format!("Problem running inventory script {shown}: {e}"),
                None,
            ));
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(Diagnostic::parse(
            format!(
                "Inventory script ({shown}) had an execution error: {}",
                stderr.trim_end()
            ),
            None,
        ));
    }
    String::from_utf8(output.stdout).map(Some).map_err(|_| {
        Diagnostic::parse(
            format!("Inventory script ({shown}) printed output that is not UTF-8"),
            None,
        )
    })
}

fn parse_json(path: &Path, text: &str, stderr_hint: &str) -> Result<Value, Diagnostic> {
    serde_json::from_str(text).map_err(|e| {
        Diagnostic::parse(
            format!(
                "failed to parse executable inventory script results from {}: {e}{stderr_hint}",
                path.display()
            ),
            None,
        )
    })
}

pub(super) fn run(inv: &mut Inventory, path: &Path) -> Result<Outcome, Diagnostic> {
    let Some(stdout) = run_script(path, &["--list"])? else {
        return Ok(Outcome::NotAScript);
    };
    let data = parse_json(path, &stdout, "")?;
    let Value::Object(groups) = data else {
        return Err(Diagnostic::parse(
            format!(
                "failed to parse executable inventory script results from {}: needs to be a json dict",
                path.display()
            ),
            None,
        ));
    };
    let source = path.to_string_lossy().into_owned();
    let mut meta: Option<Map<String, Value>> = None;
    let mut hosts: Vec<String> = Vec::new();
    for (name, data) in &groups {
        if name == "_meta" {
            if let Some(Value::Object(hv)) = data.get("hostvars") {
                meta = Some(hv.clone());
            }
            continue;
        }
        group(inv, &source, name, data, &mut hosts)?;
    }
    for host in hosts {
        let vars = match &meta {
            Some(meta) => match meta.get(&host) {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(v)) => v.clone(),
                Some(other) => {
                    return Err(Diagnostic::parse(
                        format!("Improperly formatted host information for {host}: {other}"),
                        None,
                    ));
                }
            },
            None => {
                let out = run_script(path, &["--host", &host])?.unwrap_or_default();
                if out.trim().is_empty() {
                    Map::new()
                } else {
                    match parse_json(path, &out, "")? {
                        Value::Object(v) => v,
                        other => {
                            return Err(Diagnostic::parse(
                                format!(
                                    "Improperly formatted host information for {host}: {other}"
                                ),
                                None,
                            ));
                        }
                    }
                }
            }
        };
        for (k, v) in vars {
            inv.set_host_var(&host, &k, v);
        }
    }
    Ok(Outcome::Parsed)
}

/// One group: `{"hosts": [...], "vars": {...}, "children": [...]}`, a bare
/// list of hosts, or (no known key) a host of the same name with vars.
fn group(
    inv: &mut Inventory,
    source: &str,
    name: &str,
    data: &Value,
    hosts: &mut Vec<String>,
) -> Result<(), Diagnostic> {
    inv.add_group(name);
    let bad = |what: &str| {
        Diagnostic::parse(
            format!("You defined a group '{name}' with bad data for the {what}:\n {data}"),
            None,
        )
    };
    let (host_list, vars, children) = match data {
        Value::Object(map)
            if ["hosts", "vars", "children"]
                .iter()
                .any(|k| map.contains_key(*k)) =>
        {
            (map.get("hosts"), map.get("vars"), map.get("children"))
        }
        Value::Object(_) => {
            // Simplified syntax: the group's vars, with a host of its name.
            let own = Value::Array(vec![Value::from(name)]);
            return group(
                inv,
                source,
                name,
                &serde_json::json!({"hosts": own, "vars": data}),
                hosts,
            );
        }
        other => (Some(other), None, None),
    };
    if let Some(list) = host_list {
        let Value::Array(list) = list else {
            return Err(bad("host list"));
        };
        for h in list {
            let h = match h {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            inv.add_host(&h, Some(name), None, Some(source));
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
    }
    if let Some(vars) = vars {
        let Value::Object(vars) = vars else {
            return Err(bad("variables"));
        };
        for (k, v) in vars {
            inv.set_group_var(name, k, v.clone())
                .map_err(|m| Diagnostic::parse(m, None))?;
        }
    }
    if let Some(children) = children {
        let list: Vec<String> = match children {
            Value::Array(a) => a
                .iter()
                .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned))
                .collect(),
            Value::Object(m) => m.keys().cloned().collect(),
            _ => return Err(bad("children")),
        };
        for child in list {
            inv.add_child(name, &child)
                .map_err(|m| Diagnostic::parse(m, None))?;
        }
    }
    Ok(())
}
