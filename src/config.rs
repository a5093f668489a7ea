//! ansible.cfg and `ANSIBLE_*` environment variables.
//!
//! The first file found wins and files are never merged: `$ANSIBLE_CONFIG`,
//! `./ansible.cfg` (ignored in a world-writable directory, as Ansible
//! does), `~/.ansible.cfg`, `/etc/ansible/ansible.cfg`. An environment
//! variable beats the file; command-line flags beat both.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::connection::known_hosts::Policy;

/// The settings tutti reads, from one config file plus the environment.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file in use, if any (`-v` prints it).
    pub path: Option<PathBuf>,
    values: HashMap<(String, String), String>,
    pub warnings: Vec<String>,
}

impl Config {
    /// Finds and reads the config file the way Ansible does.
    pub fn load() -> Config {
        let mut warnings = Vec::new();
        let path = find(&mut warnings);
        let mut cfg = match &path {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(text) => parse(&text),
                Err(e) => {
                    warnings.push(format!("Error reading config file ({}): {e}", p.display()));
                    Config::default()
                }
            },
            None => Config::default(),
        };
        cfg.path = path;
        cfg.warnings.extend(warnings);
        // A setting tutti does not act on gets one warning naming it,
        // never silence.
        let mut unknown: Vec<String> = cfg
            .values
            .keys()
            .filter(|(section, key)| !is_supported(section, key))
            .map(|(section, key)| format!("[{section}] {key}"))
            .collect();
        unknown.sort();
        for u in unknown {
            cfg.warnings.push(format!(
                "{u} in {} is not supported by tutti and is ignored",
                cfg.path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
        cfg
    }

    /// A value from the environment variable `env`, else `[section] key`.
    pub fn get(&self, section: &str, key: &str, env: &str) -> Option<String> {
        if let Ok(v) = std::env::var(env) {
            return Some(v);
        }
        self.values
            .get(&(section.to_string(), key.to_string()))
            .cloned()
    }

    /// The value and where it came from (`env: NAME` or the file's path),
    /// as `ansible-config dump` shows them.
    pub fn origin_of(&self, section: &str, key: &str, env: &str) -> Option<(String, String)> {
        if let Ok(v) = std::env::var(env) {
            return Some((v, format!("env: {env}")));
        }
        let v = self.values.get(&(section.to_string(), key.to_string()))?;
        let file = self
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Some((v.clone(), file))
    }

    pub fn get_bool(&self, section: &str, key: &str, env: &str) -> Option<bool> {
        self.get(section, key, env)
            .and_then(|v| tutti_modules::params::to_bool(&serde_json::Value::String(v)))
    }

    /// `[defaults] inventory` / `ANSIBLE_INVENTORY`, comma-separated.
    pub fn inventory(&self) -> Vec<String> {
        let Some(v) = self.get("defaults", "inventory", "ANSIBLE_INVENTORY") else {
            return Vec::new();
        };
        // A single inline host list ("a,b,") stays whole; otherwise each
        // comma-separated entry is a source path.
        if v.ends_with(',') {
            return vec![v];
        }
        v.split(',')
            .map(|s| expand_home(s.trim()))
            .filter(|s| !s.is_empty())
            .collect()
    }

    pub fn forks(&self) -> Option<usize> {
        self.get("defaults", "forks", "ANSIBLE_FORKS")
            .and_then(|v| v.trim().parse().ok())
    }

    pub fn remote_user(&self) -> Option<String> {
        self.get("defaults", "remote_user", "ANSIBLE_REMOTE_USER")
    }

    pub fn private_key_file(&self) -> Option<PathBuf> {
        self.get("defaults", "private_key_file", "ANSIBLE_PRIVATE_KEY_FILE")
            .map(|p| PathBuf::from(expand_home(&p)))
    }

    pub fn timeout(&self) -> Option<u64> {
        self.get("defaults", "timeout", "ANSIBLE_TIMEOUT")
            .and_then(|v| v.trim().parse().ok())
    }

    pub fn task_timeout(&self) -> Option<u64> {
        self.get("defaults", "task_timeout", "ANSIBLE_TASK_TIMEOUT")
            .and_then(|v| v.trim().parse().ok())
            .filter(|t| *t > 0)
    }

    /// `host_key_checking`: False turns checking off; `accept-new` (a
    /// tutti extension) trusts new hosts on first use; True defers to
    /// `~/.ssh/config`, strict by default.
    pub fn host_key_checking(&self) -> Option<Policy> {
        let v = self
            .get("defaults", "host_key_checking", "ANSIBLE_HOST_KEY_CHECKING")
            .or_else(|| {
                self.get(
                    "ssh_connection",
                    "host_key_checking",
                    "ANSIBLE_SSH_HOST_KEY_CHECKING",
                )
            })?;
        Policy::parse(&v)
    }

    pub fn become_(&self) -> bool {
        self.get_bool("privilege_escalation", "become", "ANSIBLE_BECOME")
            .unwrap_or(false)
    }

    pub fn become_user(&self) -> Option<String> {
        self.get("privilege_escalation", "become_user", "ANSIBLE_BECOME_USER")
    }

    pub fn become_ask_pass(&self) -> bool {
        self.get_bool(
            "privilege_escalation",
            "become_ask_pass",
            "ANSIBLE_BECOME_ASK_PASS",
        )
        .unwrap_or(false)
    }

    pub fn become_flags(&self) -> Option<String> {
        self.get(
            "privilege_escalation",
            "become_flags",
            "ANSIBLE_BECOME_FLAGS",
        )
    }
}

/// Settings tutti reads, or accepts because they change nothing here
/// (`pipelining` is always on, there is no remote Python, no cowsay).
pub(crate) fn is_supported(section: &str, key: &str) -> bool {
    const DEFAULTS: &[&str] = &[
        "inventory",
        "library",
        "forks",
        "remote_user",
        "remote_port",
        "private_key_file",
        "timeout",
        "task_timeout",
        "host_key_checking",
        "roles_path",
        "gathering",
        "fact_caching",
        "fact_caching_connection",
        "fact_caching_timeout",
        "ansible_managed",
        "log_path",
        "force_handlers",
        "error_on_missing_handler",
        "nocows",
        "nocolor",
        "force_color",
        "retry_files_enabled",
        "interpreter_python",
        "vault_password_file",
        "vault_identity_list",
        "vault_id_match",
        "vault_encrypt_identity",
        "display_skipped_hosts",
        "display_ok_hosts",
        "deprecation_warnings",
        "localhost_warning",
        "host_pattern_mismatch",
        "hash_behaviour",
        "error_on_undefined_vars",
        "stdout_callback",
        "bin_ansible_callbacks",
        "become",
        "become_user",
        "become_method",
        "become_ask_pass",
        "become_flags",
    ];
    match section {
        "defaults" => DEFAULTS.contains(&key),
        "privilege_escalation" => {
            matches!(
                key,
                "become" | "become_user" | "become_method" | "become_ask_pass" | "become_flags"
            )
        }
        "ssh_connection" => matches!(
            key,
            "pipelining"
                | "host_key_checking"
                | "control_path_dir"
                | "control_path"
                | "scp_if_ssh"
                | "transfer_method"
        ),
        "diff" => matches!(key, "always" | "context"),
        "colors" => true,
        _ => false,
    }
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest).to_string_lossy().into_owned(),
        _ => p.to_string(),
    }
}

fn find(warnings: &mut Vec<String>) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ANSIBLE_CONFIG") {
        let p = PathBuf::from(p);
        // Ansible accepts a directory here and looks for ansible.cfg in it.
        let p = if p.is_dir() { p.join("ansible.cfg") } else { p };
        if p.is_file() {
            return Some(p);
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        let p = cwd.join("ansible.cfg");
        if p.is_file() {
            if world_writable(&cwd) {
                warnings.push(format!(
                    "Ansible is being run in a world writable directory ({}), ignoring it as an ansible.cfg source.",
                    cwd.display()
                ));
            } else {
                return Some(p);
            }
        }
    }
    if let Some(home) = dirs::home_dir() {
        let p = home.join(".ansible.cfg");
        if p.is_file() {
            return Some(p);
        }
    }
    let p = PathBuf::from("/etc/ansible/ansible.cfg");
    p.is_file().then_some(p)
}

fn world_writable(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(dir)
        .map(|m| m.permissions().mode() & 0o002 != 0)
        .unwrap_or(false)
}

/// Python configparser's rules: `[section]`, `key = value` or `key: value`,
/// `#`/`;` comment lines, `;` inline comments after whitespace, and
/// indented continuation lines.
fn parse(text: &str) -> Config {
    let mut cfg = Config::default();
    let mut section = String::from("defaults");
    let mut last: Option<(String, String)> = None;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if raw.starts_with([' ', '\t'])
            && let Some(k) = &last
        {
            if let Some(v) = cfg.values.get_mut(k) {
                v.push('\n');
                v.push_str(trimmed);
            }
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            section = name.trim().to_string();
            last = None;
            continue;
        }
        let Some(i) = trimmed.find(['=', ':']) else {
            continue;
        };
        let key = trimmed[..i].trim().to_lowercase();
        let mut value = trimmed[i + 1..].trim().to_string();
        if let Some(j) = value.find(" ;").or_else(|| value.find("\t;")) {
            value.truncate(j);
            value = value.trim_end().to_string();
        }
        let k = (section.clone(), key);
        cfg.values.insert(k.clone(), value);
        last = Some(k);
    }
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_unsupported_setting() {
        assert!(is_supported("defaults", "forks"));
        assert!(is_supported("ssh_connection", "pipelining"));
        assert!(!is_supported("defaults", "strategy_plugins"));
        assert!(!is_supported("galaxy", "server_list"));
    }

    #[test]
    fn parses_like_configparser() {
        let c = parse(
            "# comment\n[defaults]\ninventory = ./hosts ; inline\nforks: 20\n[ssh_connection]\nssh_args = -C\n  -o X=1\n",
        );
        assert_eq!(
            c.values
                .get(&("defaults".into(), "inventory".into()))
                .map(String::as_str),
            Some("./hosts")
        );
        assert_eq!(
            c.values
                .get(&("defaults".into(), "forks".into()))
                .map(String::as_str),
            Some("20")
        );
        assert_eq!(
            c.values
                .get(&("ssh_connection".into(), "ssh_args".into()))
                .map(String::as_str),
            Some("-C\n-o X=1")
        );
    }
}
