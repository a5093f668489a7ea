//! `tutti config` / `ansible-config`: the settings tutti reads, by their
//! Ansible names, with the value in effect and where it came from.

use crate::cli::{ConfigAction, ConfigCli};
use crate::config::Config;
use crate::diagnostic::Diagnostic;

/// One setting: Ansible's name, its ansible.cfg section and key, its
/// environment variable and its default as ansible-config prints it.
struct Setting {
    name: &'static str,
    section: &'static str,
    key: &'static str,
    env: &'static str,
    default: &'static str,
}

const fn s(
    name: &'static str,
    section: &'static str,
    key: &'static str,
    env: &'static str,
    default: &'static str,
) -> Setting {
    Setting {
        name,
        section,
        key,
        env,
        default,
    }
}

/// Sorted by name, as ansible-config lists them.
const SETTINGS: &[Setting] = &[
    s(
        "ANSIBLE_FORCE_COLOR",
        "defaults",
        "force_color",
        "ANSIBLE_FORCE_COLOR",
        "False",
    ),
    s(
        "ANSIBLE_NOCOLOR",
        "defaults",
        "nocolor",
        "ANSIBLE_NOCOLOR",
        "False",
    ),
    s(
        "ANSIBLE_NOCOWS",
        "defaults",
        "nocows",
        "ANSIBLE_NOCOWS",
        "False",
    ),
    s(
        "ANSIBLE_PIPELINING",
        "ssh_connection",
        "pipelining",
        "ANSIBLE_PIPELINING",
        "False",
    ),
    s(
        "CACHE_PLUGIN",
        "defaults",
        "fact_caching",
        "ANSIBLE_CACHE_PLUGIN",
        "memory",
    ),
    s(
        "CACHE_PLUGIN_CONNECTION",
        "defaults",
        "fact_caching_connection",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION",
        "None",
    ),
    s(
        "CACHE_PLUGIN_TIMEOUT",
        "defaults",
        "fact_caching_timeout",
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT",
        "86400",
    ),
    s(
        "DEFAULT_BECOME",
        "privilege_escalation",
        "become",
        "ANSIBLE_BECOME",
        "False",
    ),
    s(
        "DEFAULT_BECOME_ASK_PASS",
        "privilege_escalation",
        "become_ask_pass",
        "ANSIBLE_BECOME_ASK_PASS",
        "False",
    ),
    s(
        "DEFAULT_BECOME_FLAGS",
        "privilege_escalation",
        "become_flags",
        "ANSIBLE_BECOME_FLAGS",
        "",
    ),
    s(
        "DEFAULT_BECOME_METHOD",
        "privilege_escalation",
        "become_method",
        "ANSIBLE_BECOME_METHOD",
        "sudo",
    ),
    s(
        "DEFAULT_BECOME_USER",
        "privilege_escalation",
        "become_user",
        "ANSIBLE_BECOME_USER",
        "root",
    ),
    s(
        "DEFAULT_FORCE_HANDLERS",
        "defaults",
        "force_handlers",
        "ANSIBLE_FORCE_HANDLERS",
        "False",
    ),
    s("DEFAULT_FORKS", "defaults", "forks", "ANSIBLE_FORKS", "5"),
    s(
        "DEFAULT_GATHERING",
        "defaults",
        "gathering",
        "ANSIBLE_GATHERING",
        "implicit",
    ),
    s(
        "DEFAULT_HASH_BEHAVIOUR",
        "defaults",
        "hash_behaviour",
        "ANSIBLE_HASH_BEHAVIOUR",
        "replace",
    ),
    s(
        "DEFAULT_HOST_LIST",
        "defaults",
        "inventory",
        "ANSIBLE_INVENTORY",
        "['/etc/ansible/hosts']",
    ),
    s(
        "DEFAULT_LOAD_CALLBACK_PLUGINS",
        "defaults",
        "bin_ansible_callbacks",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS",
        "False",
    ),
    s(
        "DEFAULT_LOG_PATH",
        "defaults",
        "log_path",
        "ANSIBLE_LOG_PATH",
        "None",
    ),
    s(
        "DEFAULT_MANAGED_STR",
        "defaults",
        "ansible_managed",
        "ANSIBLE_MANAGED",
        "Ansible managed",
    ),
    s(
        "DEFAULT_MODULE_PATH",
        "defaults",
        "library",
        "ANSIBLE_LIBRARY",
        "['~/.ansible/plugins/modules', '/usr/share/ansible/plugins/modules']",
    ),
    s(
        "DEFAULT_PRIVATE_KEY_FILE",
        "defaults",
        "private_key_file",
        "ANSIBLE_PRIVATE_KEY_FILE",
        "None",
    ),
    s(
        "DEFAULT_REMOTE_PORT",
        "defaults",
        "remote_port",
        "ANSIBLE_REMOTE_PORT",
        "None",
    ),
    s(
        "DEFAULT_REMOTE_USER",
        "defaults",
        "remote_user",
        "ANSIBLE_REMOTE_USER",
        "None",
    ),
    s(
        "DEFAULT_ROLES_PATH",
        "defaults",
        "roles_path",
        "ANSIBLE_ROLES_PATH",
        "['~/.ansible/roles', '/usr/share/ansible/roles', '/etc/ansible/roles']",
    ),
    s(
        "DEFAULT_STDOUT_CALLBACK",
        "defaults",
        "stdout_callback",
        "ANSIBLE_STDOUT_CALLBACK",
        "default",
    ),
    s(
        "DEFAULT_TIMEOUT",
        "defaults",
        "timeout",
        "ANSIBLE_TIMEOUT",
        "10",
    ),
    s(
        "DEFAULT_UNDEFINED_VAR_BEHAVIOR",
        "defaults",
        "error_on_undefined_vars",
        "ANSIBLE_ERROR_ON_UNDEFINED_VARS",
        "True",
    ),
    s(
        "DEFAULT_VAULT_ENCRYPT_IDENTITY",
        "defaults",
        "vault_encrypt_identity",
        "ANSIBLE_VAULT_ENCRYPT_IDENTITY",
        "None",
    ),
    s(
        "DEFAULT_VAULT_IDENTITY_LIST",
        "defaults",
        "vault_identity_list",
        "ANSIBLE_VAULT_IDENTITY_LIST",
        "[]",
    ),
    s(
        "DEFAULT_VAULT_ID_MATCH",
        "defaults",
        "vault_id_match",
        "ANSIBLE_VAULT_ID_MATCH",
        "False",
    ),
    s(
        "DEFAULT_VAULT_PASSWORD_FILE",
        "defaults",
        "vault_password_file",
        "ANSIBLE_VAULT_PASSWORD_FILE",
        "None",
    ),
    s(
        "DEPRECATION_WARNINGS",
        "defaults",
        "deprecation_warnings",
        "ANSIBLE_DEPRECATION_WARNINGS",
        "True",
    ),
    s(
        "DIFF_ALWAYS",
        "diff",
        "always",
        "ANSIBLE_DIFF_ALWAYS",
        "False",
    ),
    s(
        "DIFF_CONTEXT",
        "diff",
        "context",
        "ANSIBLE_DIFF_CONTEXT",
        "3",
    ),
    s(
        "DISPLAY_OK_HOSTS",
        "defaults",
        "display_ok_hosts",
        "ANSIBLE_DISPLAY_OK_HOSTS",
        "True",
    ),
    s(
        "DISPLAY_SKIPPED_HOSTS",
        "defaults",
        "display_skipped_hosts",
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS",
        "True",
    ),
    s(
        "ERROR_ON_MISSING_HANDLER",
        "defaults",
        "error_on_missing_handler",
        "ANSIBLE_ERROR_ON_MISSING_HANDLER",
        "True",
    ),
    s(
        "HOST_KEY_CHECKING",
        "defaults",
        "host_key_checking",
        "ANSIBLE_HOST_KEY_CHECKING",
        "True",
    ),
    s(
        "HOST_PATTERN_MISMATCH",
        "defaults",
        "host_pattern_mismatch",
        "ANSIBLE_HOST_PATTERN_MISMATCH",
        "warning",
    ),
    s(
        "INTERPRETER_PYTHON",
        "defaults",
        "interpreter_python",
        "ANSIBLE_PYTHON_INTERPRETER",
        "auto",
    ),
    s(
        "LOCALHOST_WARNING",
        "defaults",
        "localhost_warning",
        "ANSIBLE_LOCALHOST_WARNING",
        "True",
    ),
    s(
        "RETRY_FILES_ENABLED",
        "defaults",
        "retry_files_enabled",
        "ANSIBLE_RETRY_FILES_ENABLED",
        "False",
    ),
    s(
        "TASK_TIMEOUT",
        "defaults",
        "task_timeout",
        "ANSIBLE_TASK_TIMEOUT",
        "0",
    ),
];

pub fn run(cli: &ConfigCli) -> Result<u8, Diagnostic> {
    let config = Config::load();
    for w in &config.warnings {
        eprintln!("[WARNING]: {w}");
    }
    print!("{}", render(&config, &cli.action)?);
    Ok(0)
}

fn render(config: &Config, action: &ConfigAction) -> Result<String, Diagnostic> {
    let mut out = String::new();
    match action {
        ConfigAction::List => {
            for st in SETTINGS {
                out.push_str(&format!(
                    "{}:\n  default: {}\n  ini: [{}] {}\n  env: {}\n",
                    st.name, st.default, st.section, st.key, st.env
                ));
            }
        }
        ConfigAction::Dump {
            only_changed,
            kind,
            format,
        } => {
            if kind != "base" && kind != "all" {
                return Err(Diagnostic::options(format!(
                    "tutti has no settings for plugin type '{kind}'"
                )));
            }
            if format != "display" {
                return Err(Diagnostic::options(format!(
                    "only the 'display' format is supported, not '{format}'"
                )));
            }
            if let Some(p) = &config.path {
                out.push_str(&format!("CONFIG_FILE() = {}\n", p.display()));
            }
            for st in SETTINGS {
                match config.origin_of(st.section, st.key, st.env) {
                    Some((value, origin)) => {
                        out.push_str(&format!("{}({origin}) = {value}\n", st.name));
                    }
                    None if !only_changed => {
                        out.push_str(&format!("{}(default) = {}\n", st.name, st.default));
                    }
                    None => {}
                }
            }
        }
        ConfigAction::View => match &config.path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    Diagnostic::error(format!("could not read {}: {e}", p.display()))
                })?;
                out.push_str(&text);
            }
            None => return Err(Diagnostic::error("No config file found")),
        },
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_sorted_and_all_read_by_tutti() {
        let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for st in SETTINGS {
            assert!(
                crate::config::is_supported(st.section, st.key),
                "{} is listed but tutti does not read [{}] {}",
                st.name,
                st.section,
                st.key
            );
        }
    }

    #[test]
    fn dump_shows_defaults_and_only_changed_hides_them() {
        let config = Config::default();
        let all = render(
            &config,
            &ConfigAction::Dump {
                only_changed: false,
                kind: "base".into(),
                format: "display".into(),
            },
        )
        .unwrap();
        assert!(all.contains("DEFAULT_FORKS(default) = 5\n"), "{all}");
        let changed = render(
            &config,
            &ConfigAction::Dump {
                only_changed: true,
                kind: "base".into(),
                format: "display".into(),
            },
        )
        .unwrap();
        // Whatever ANSIBLE_* the test environment has set, no default shows.
        assert!(!changed.contains("(default)"), "{changed}");
    }
}
