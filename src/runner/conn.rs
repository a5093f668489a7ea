//! The connection a task uses on a host: host variables beat play/task
//! keywords, which beat the command line, as in Ansible. Also the
//! `environment` keyword, applied to every command of a task.

use async_trait::async_trait;
use serde_json::{Map, Value};
use tutti_modules::{Cmd, Host, HostError, HostRead, Output};

use crate::connection::{self, Connection};
use crate::playbook::model::Keywords;
use crate::template::{Scope, Templar};

/// Variables that decide how to connect; only these are rendered.
const CONNECTION_VARS: &[&str] = &[
    "ansible_connection",
    "ansible_host",
    "ansible_ssh_host",
    "ansible_port",
    "ansible_ssh_port",
    "ansible_user",
    "ansible_ssh_user",
    "ansible_ssh_private_key_file",
    "ansible_private_key_file",
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_ssh_password",
    "ansible_ssh_common_args",
    "ansible_ssh_extra_args",
    "ansible_ssh_timeout",
    "ansible_timeout",
    "ansible_host_key_checking",
    "ansible_ssh_host_key_checking",
    "ansible_become",
    "ansible_become_user",
    "ansible_become_method",
    "ansible_become_flags",
    "ansible_become_password",
    "ansible_become_pass",
    "ansible_sudo_pass",
];

/// Renders the connection variables visible in `scope` and fills the
/// gaps from the task's keywords.
pub fn connection_vars(
    templar: &Templar,
    scope: &Scope,
    kw: &Keywords,
) -> Result<Map<String, Value>, String> {
    let mut vars = Map::new();
    for name in CONNECTION_VARS {
        if scope.get_raw(name).is_some() {
            let v = templar
                .eval(name, scope)
                .map_err(|e| format!("{name}: {e}"))?;
            vars.insert((*name).to_string(), v);
        }
    }
    let mut from_kw = |var: &str, kw_value: &Option<Value>| -> Result<(), String> {
        if let Some(v) = kw_value
            && !vars.contains_key(var)
        {
            let v = templar.render(v, scope).map_err(|e| e.to_string())?;
            vars.insert(var.to_string(), v);
        }
        Ok(())
    };
    from_kw("ansible_user", &kw.remote_user)?;
    from_kw("ansible_port", &kw.port)?;
    from_kw("ansible_connection", &kw.connection)?;
    from_kw("ansible_become", &kw.become_)?;
    from_kw("ansible_become_user", &kw.become_user)?;
    from_kw("ansible_become_method", &kw.become_method)?;
    from_kw("ansible_become_flags", &kw.become_flags)?;
    Ok(vars)
}

/// Opens (lazily) the connection for `host` with these variables.
pub fn open(
    host: &str,
    vars: &Map<String, Value>,
    opts: &connection::ConnOptions,
    implicit_local: bool,
) -> Result<Connection, String> {
    let becomes = vars
        .get("ansible_become")
        .and_then(tutti_modules::params::to_bool)
        .unwrap_or(opts.become_);
    if let Some(Value::String(m)) = vars.get("ansible_become_method")
        && becomes
        && crate::connection::r#become::Method::parse(m).is_none()
    {
        return Err(format!(
            "become method '{m}' is not supported yet (tutti supports sudo and su)"
        ));
    }
    connection::resolve(host, vars, opts, implicit_local)
}

/// A host whose every command runs with extra environment variables.
pub struct WithEnv<'a> {
    pub inner: &'a dyn Host,
    pub env: Vec<(String, String)>,
}

impl WithEnv<'_> {
    fn apply(&self, cmd: &Cmd) -> Cmd {
        let mut c = cmd.clone();
        for (k, v) in &self.env {
            c = c.env(k.clone(), v.clone());
        }
        c
    }
}

#[async_trait]
impl HostRead for WithEnv<'_> {
    async fn probe(&self, cmd: &Cmd) -> Result<Output, HostError> {
        self.inner.probe(&self.apply(cmd)).await
    }
}

#[async_trait]
impl Host for WithEnv<'_> {
    async fn run(&self, cmd: &Cmd) -> Result<Output, HostError> {
        self.inner.run(&self.apply(cmd)).await
    }
}

/// The `environment` keyword rendered to name/value pairs, outer levels
/// first so inner ones override.
pub fn environment(
    templar: &Templar,
    scope: &Scope,
    kw: &Keywords,
) -> Result<Vec<(String, String)>, String> {
    let mut merged: indexmap::IndexMap<String, String> = indexmap::IndexMap::new();
    for env in &kw.environment {
        let rendered = templar.render(env, scope).map_err(|e| e.to_string())?;
        match rendered {
            Value::Object(m) => {
                for (k, v) in m {
                    let text = match v {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    merged.insert(k, text);
                }
            }
            Value::Null => {}
            other => return Err(format!("environment must be a mapping, got {other}")),
        }
    }
    Ok(merged.into_iter().collect())
}
