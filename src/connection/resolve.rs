//! From a host's variables, the command line, ansible.cfg and
//! `~/.ssh/config` to a [`Connection`], with Ansible's precedence: host
//! variables (`ansible_user`...) beat command-line flags, which beat the
//! config file, which beats `~/.ssh/config`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::Connection;
use super::r#become::Become;
use super::known_hosts::{KnownHosts, Policy};
use super::local::LocalHost;
use super::ssh::{Endpoint, SshHost, SshTarget};
use super::ssh_config::{HostConfig, SshConfig};
use crate::secret::Secret;

/// Connection settings that come from the command line and config.
#[derive(Debug, Clone)]
pub struct ConnOptions {
    /// `-c`: `ssh` or `local`.
    pub connection: Option<String>,
    /// `-u` or `remote_user`.
    pub remote_user: Option<String>,
    /// `--private-key` or `private_key_file`.
    pub private_key: Option<PathBuf>,
    /// `-k`.
    pub password: Option<Secret>,
    /// `-T` / `timeout`: connect timeout.
    pub timeout: Duration,
    /// Per-command deadline (`--task-timeout`), none by default as in Ansible.
    pub command_timeout: Option<Duration>,
    /// `host_key_checking` from config or environment, if set.
    pub host_key_checking: Option<Policy>,
    /// `-b`, `--become-user`, `-K`.
    pub become_: bool,
    pub become_user: Option<String>,
    pub become_password: Option<Secret>,
    pub become_flags: Option<String>,
    /// `--become-method` (`sudo` or `su`).
    pub become_method: Option<String>,
    pub ssh_config: Arc<SshConfig>,
    /// `--ssh-common-args` / `--ssh-extra-args` as ssh_config options.
    pub ssh_options: Vec<(String, String)>,
    /// Sessions shared for the whole run.
    pub pool: Arc<super::ssh::Pool>,
}

impl Default for ConnOptions {
    fn default() -> Self {
        ConnOptions {
            connection: None,
            remote_user: None,
            private_key: None,
            password: None,
            timeout: Duration::from_secs(10),
            command_timeout: None,
            host_key_checking: None,
            become_: false,
            become_user: None,
            become_password: None,
            become_flags: None,
            become_method: None,
            ssh_config: Arc::new(SshConfig::default()),
            ssh_options: Vec::new(),
            pool: Arc::default(),
        }
    }
}

fn var_str(vars: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match vars.get(*n)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(m) => m
            .get(crate::yaml::UNSAFE_MARKER)
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    })
}

fn var_bool(vars: &Map<String, Value>, names: &[&str]) -> Option<bool> {
    names
        .iter()
        .find_map(|n| vars.get(*n).and_then(tutti_modules::params::to_bool))
}

/// Builds the connection for one host. `implicit_local` marks Ansible's
/// implicit `localhost`, which always uses the local connection.
pub fn resolve(
    name: &str,
    vars: &Map<String, Value>,
    opts: &ConnOptions,
    implicit_local: bool,
) -> Result<Connection, String> {
    let become_ = resolve_become(vars, opts);
    let become_timeout = opts.timeout + Duration::from_secs(2);
    let kind = var_str(vars, &["ansible_connection"])
        .or_else(|| opts.connection.clone())
        .unwrap_or_else(|| {
            if implicit_local {
                "local".into()
            } else {
                "ssh".into()
            }
        });
    match kind.as_str() {
        "local" => Ok(Connection::Local(LocalHost {
            become_,
            become_timeout,
            command_timeout: opts.command_timeout,
        })),
        "ssh" | "smart" | "paramiko" | "paramiko_ssh" | "ansible.builtin.ssh" => {
            let target = ssh_target(name, vars, opts, become_, become_timeout)?;
            Ok(Connection::Ssh(Box::new(SshHost::pooled(
                target, &opts.pool,
            ))))
        }
        other => Err(format!(
            "the connection plugin '{other}' was not found (tutti supports ssh and local)"
        )),
    }
}

fn resolve_become(vars: &Map<String, Value>, opts: &ConnOptions) -> Option<Become> {
    let on = var_bool(vars, &["ansible_become"]).unwrap_or(opts.become_);
    if !on {
        return None;
    }
    let user = var_str(vars, &["ansible_become_user"])
        .or_else(|| opts.become_user.clone())
        .unwrap_or_else(|| "root".into());
    let mut b = Become::sudo(user);
    b.method = var_str(vars, &["ansible_become_method"])
        .or_else(|| opts.become_method.clone())
        .and_then(|m| super::r#become::Method::parse(&m))
        .unwrap_or(super::r#become::Method::Sudo);
    b.flags = var_str(vars, &["ansible_become_flags"]).or_else(|| opts.become_flags.clone());
    b.password = var_str(
        vars,
        &[
            "ansible_become_password",
            "ansible_become_pass",
            "ansible_sudo_pass",
        ],
    )
    .map(Secret::new)
    .or_else(|| opts.become_password.clone());
    Some(b)
}

/// `-o Key=Value`, `-J`, `-i`, `-p`, `-l` from ansible_ssh_common_args and
/// ansible_ssh_extra_args, as (keyword, value) pairs for ssh_config.
pub fn parse_ssh_args(args: &str) -> Result<Vec<(String, String)>, String> {
    let words = shlex::split(args).ok_or_else(|| format!("cannot parse ssh arguments: {args}"))?;
    let mut out = Vec::new();
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        let (flag, inline) = if w.len() > 2 && w.starts_with('-') && !w.starts_with("--") {
            (w[..2].to_string(), Some(w[2..].to_string()))
        } else {
            (w.clone(), None)
        };
        let mut value = || inline.clone().or_else(|| it.next());
        match flag.as_str() {
            "-o" => {
                let v = value().ok_or("-o needs a value")?;
                let (k, val) = v
                    .split_once('=')
                    .or_else(|| v.split_once(' '))
                    .ok_or_else(|| format!("bad ssh option: {v}"))?;
                out.push((k.trim().to_string(), val.trim().to_string()));
            }
            "-J" => out.push(("ProxyJump".into(), value().ok_or("-J needs a value")?)),
            "-i" => out.push(("IdentityFile".into(), value().ok_or("-i needs a value")?)),
            "-p" => out.push(("Port".into(), value().ok_or("-p needs a value")?)),
            "-l" => out.push(("User".into(), value().ok_or("-l needs a value")?)),
            // Options that only tune OpenSSH's own process (compression,
            // multiplexing, verbosity) have no meaning here.
            "-C" | "-q" | "-v" | "-4" | "-6" | "-T" | "-t" | "-n" | "-N" | "-A" | "-a" | "-x" => {}
            _ => {}
        }
    }
    Ok(out)
}

fn ssh_target(
    name: &str,
    vars: &Map<String, Value>,
    opts: &ConnOptions,
    become_: Option<Become>,
    become_timeout: Duration,
) -> Result<SshTarget, String> {
    let address =
        var_str(vars, &["ansible_host", "ansible_ssh_host"]).unwrap_or_else(|| name.to_string());
    let mut extra = Vec::new();
    for key in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        if let Some(a) = var_str(vars, &[key]) {
            extra.extend(parse_ssh_args(&a)?);
        }
    }
    let user_hint =
        var_str(vars, &["ansible_user", "ansible_ssh_user"]).or_else(|| opts.remote_user.clone());
    let mut hc: HostConfig = opts.ssh_config.resolve(&address, user_hint.as_deref());
    // Command-line ssh arguments, then the host's own: vars win.
    hc.apply_options(&opts.ssh_options);
    hc.apply_options(&extra);

    let port = match var_str(vars, &["ansible_port", "ansible_ssh_port"]) {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("invalid ansible_port '{p}'"))?,
        None => hc.port.unwrap_or(22),
    };
    let user = user_hint
        .or_else(|| hc.user.clone())
        .unwrap_or_else(local_user);
    let host = hc.hostname.clone().unwrap_or(address);

    let mut identity_files: Vec<PathBuf> = Vec::new();
    if let Some(k) = var_str(
        vars,
        &["ansible_ssh_private_key_file", "ansible_private_key_file"],
    ) {
        identity_files.push(expand_tilde(&k));
    } else if let Some(k) = &opts.private_key {
        identity_files.push(k.clone());
    }
    identity_files.extend(hc.identity_files.iter().cloned());
    let password = var_str(
        vars,
        &[
            "ansible_password",
            "ansible_ssh_pass",
            "ansible_ssh_password",
        ],
    )
    .map(Secret::new)
    .or_else(|| opts.password.clone());

    let policy = host_key_policy(vars, opts, &hc);
    let known_hosts = Arc::new(known_hosts_for(&hc));
    let connect_timeout = var_str(vars, &["ansible_ssh_timeout", "ansible_timeout"])
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .or_else(|| hc.connect_timeout.map(Duration::from_secs))
        .unwrap_or(opts.timeout);
    let keepalive = hc
        .server_alive_interval
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(15));

    let mut jumps = Vec::new();
    if let Some(pj) = hc.proxy_jump.clone().filter(|p| p != "none") {
        for hop in pj.split(',') {
            jumps.push(jump_endpoint(hop.trim(), opts, policy)?);
        }
    }
    Ok(SshTarget {
        endpoint: Endpoint {
            host,
            port,
            user,
            identity_files,
            identities_only: hc.identities_only.unwrap_or(false),
            password,
            policy,
            known_hosts,
        },
        jumps,
        connect_timeout,
        command_timeout: opts.command_timeout,
        keepalive,
        become_,
        become_timeout,
    })
}

/// A ProxyJump hop `[user@]host[:port]`, resolved through ssh_config under
/// its own name and verified against known_hosts under that name.
fn jump_endpoint(spec: &str, opts: &ConnOptions, policy: Policy) -> Result<Endpoint, String> {
    let (user, rest) = match spec.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, spec),
    };
    let (name, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (
            h.to_string(),
            Some(
                p.parse::<u16>()
                    .map_err(|_| format!("bad ProxyJump port in '{spec}'"))?,
            ),
        ),
        _ => (
            rest.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            None,
        ),
    };
    let hc = opts.ssh_config.resolve(&name, user.as_deref());
    let mut identity_files = hc.identity_files.clone();
    if identity_files.is_empty()
        && let Some(k) = &opts.private_key
    {
        identity_files.push(k.clone());
    }
    Ok(Endpoint {
        host: hc.hostname.clone().unwrap_or(name),
        port: port.or(hc.port).unwrap_or(22),
        user: user.or(hc.user.clone()).unwrap_or_else(local_user),
        identity_files,
        identities_only: hc.identities_only.unwrap_or(false),
        password: None,
        policy,
        known_hosts: Arc::new(known_hosts_for(&hc)),
    })
}

fn host_key_policy(vars: &Map<String, Value>, opts: &ConnOptions, hc: &HostConfig) -> Policy {
    let from_var = var_str(
        vars,
        &["ansible_host_key_checking", "ansible_ssh_host_key_checking"],
    )
    .and_then(|v| Policy::parse(&v));
    let ansible = from_var.or(opts.host_key_checking);
    match ansible {
        // host_key_checking=False (or accept-new) is an explicit choice.
        Some(Policy::Off) => Policy::Off,
        Some(Policy::AcceptNew) => Policy::AcceptNew,
        // True, the default, defers to ssh_config as OpenSSH would.
        _ => hc
            .strict_host_key_checking
            .as_deref()
            .and_then(Policy::parse)
            .unwrap_or(Policy::Strict),
    }
}

fn known_hosts_for(hc: &HostConfig) -> KnownHosts {
    // OpenSSH's defaults when ssh_config names no files.
    let user = if hc.user_known_hosts_files.is_empty() {
        let ssh = dirs::home_dir().unwrap_or_default().join(".ssh");
        vec![ssh.join("known_hosts"), ssh.join("known_hosts2")]
    } else {
        hc.user_known_hosts_files.clone()
    };
    let global = if hc.global_known_hosts_files.is_empty() {
        vec![
            PathBuf::from("/etc/ssh/ssh_known_hosts"),
            PathBuf::from("/etc/ssh/ssh_known_hosts2"),
        ]
    } else {
        hc.global_known_hosts_files.clone()
    };
    KnownHosts::new(user, global).hash_new_entries(hc.hash_known_hosts.unwrap_or(false))
}

fn expand_tilde(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(p),
    }
}

/// The controller's user name, OpenSSH's default remote user.
pub fn local_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ansible_ssh_args() {
        let got =
            parse_ssh_args("-o StrictHostKeyChecking=accept-new -J bastion -p2222 -i '/k ey' -C")
                .unwrap();
        assert_eq!(
            got,
            vec![
                (
                    "StrictHostKeyChecking".to_string(),
                    "accept-new".to_string()
                ),
                ("ProxyJump".to_string(), "bastion".to_string()),
                ("Port".to_string(), "2222".to_string()),
                ("IdentityFile".to_string(), "/k ey".to_string()),
            ]
        );
    }

    #[test]
    fn host_vars_beat_flags() {
        let mut vars = Map::new();
        vars.insert("ansible_user".into(), Value::from("deploy"));
        vars.insert("ansible_host".into(), Value::from("10.0.0.5"));
        vars.insert("ansible_port".into(), Value::from(2222));
        let opts = ConnOptions {
            remote_user: Some("flaguser".into()),
            ..ConnOptions::default()
        };
        let Connection::Ssh(h) = resolve("web1", &vars, &opts, false).unwrap() else {
            panic!("expected ssh");
        };
        let t = h.target();
        assert_eq!(t.endpoint.user, "deploy");
        assert_eq!(t.endpoint.host, "10.0.0.5");
        assert_eq!(t.endpoint.port, 2222);
    }

    #[test]
    fn local_connection_and_become() {
        let mut vars = Map::new();
        vars.insert("ansible_connection".into(), Value::from("local"));
        vars.insert("ansible_become".into(), Value::from("yes"));
        let c = resolve("x", &vars, &ConnOptions::default(), false).unwrap();
        let Connection::Local(l) = c else {
            panic!("expected local")
        };
        assert_eq!(l.become_.map(|b| b.user), Some("root".to_string()));
    }
}
