//! `tutti config` and `ansible-config`: the settings in effect, from
//! ansible.cfg and `ANSIBLE_*` variables, with where each came from.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn tutti() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_tutti").into()
}

fn clean(cmd: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ANSIBLE_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("NO_COLOR", "1")
}

#[test]
fn dump_names_the_file_and_the_variable_a_value_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("site.cfg");
    std::fs::write(
        &cfg,
        "[defaults]\nforks = 20\nnull_representation = null\n[privilege_escalation]\nbecome_user = admin\n",
    )
    .unwrap();
    let out = clean(&mut Command::new(tutti()))
        .current_dir(dir.path())
        .env("ANSIBLE_CONFIG", &cfg)
        .env("ANSIBLE_TIMEOUT", "42")
        .args(["config", "dump", "--only-changed"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let c = cfg.display();
    assert_eq!(
        text,
        format!(
            "CONFIG_FILE() = {c}\nDEFAULT_BECOME_USER({c}) = admin\nDEFAULT_FORKS({c}) = 20\nDEFAULT_TIMEOUT(env: ANSIBLE_TIMEOUT) = 42\n"
        )
    );
    // A setting tutti does not act on is named in a warning, not dropped
    // silently.
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("[defaults] null_representation"), "{err}");
}

#[test]
fn answers_as_ansible_config() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ansible-config");
    std::os::unix::fs::symlink(tutti(), &link).unwrap();
    let out = clean(&mut Command::new(&link))
        .current_dir(dir.path())
        .args(["dump"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("DEFAULT_FORKS(default) = 5\n"), "{text}");
    let list = clean(&mut Command::new(&link))
        .current_dir(dir.path())
        .arg("list")
        .output()
        .unwrap();
    let text = String::from_utf8(list.stdout).unwrap();
    assert!(
        text.contains(
            "DEFAULT_FORKS:\n  default: 5\n  ini: [defaults] forks\n  env: ANSIBLE_FORKS\n"
        ),
        "{text}"
    );
}
