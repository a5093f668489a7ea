//! `tutti doc` and `ansible-doc`: module pages and the module list, printed
//! from the argument specs the modules check their arguments against.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn run(bin: &std::path::Path, args: &[&str]) -> Output {
    Command::new(bin)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap()
}

fn tutti() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_tutti").into()
}

#[test]
fn module_page_shows_parameters_types_defaults_aliases_and_modes() {
    let out = run(&tutti(), &["doc", "ansible.builtin.copy"]);
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with("> ANSIBLE.BUILTIN.COPY  (copy)\n"),
        "{page}"
    );
    // `=` marks the required parameter; internal `_` parameters are hidden.
    assert!(page.contains("\n= dest\n"), "{page}");
    assert!(page.contains("\n- force\n"), "{page}");
    assert!(!page.contains("_original_basename"));
    let force = page.split("\n- force\n").nth(1).unwrap();
    let force = force.split("\n\n").next().unwrap();
    assert!(force.contains("aliases: [thirsty]"), "{force}");
    assert!(force.contains("default: true"), "{force}");
    assert!(force.contains("type: bool"), "{force}");
    assert!(page.contains("check_mode: full") && page.contains("diff_mode: full"));
    assert!(page.contains("EXAMPLES:\n\n- name:"), "{page}");
}

#[test]
fn list_names_every_documented_module_once() {
    let out = run(&tutti(), &["doc", "--list"]);
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = list
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert!(names.contains(&"ansible.builtin.copy"), "{list}");
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted);
    assert!(list.lines().all(|l| l.split_whitespace().count() > 1));
}

#[test]
fn unknown_module_is_an_error_with_a_suggestion() {
    let out = run(&tutti(), &["doc", "copyy"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("module copyy not found"), "{err}");
    assert!(err.contains("did you mean `copy`?"), "{err}");
}

#[test]
fn answers_as_ansible_doc() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ansible-doc");
    std::os::unix::fs::symlink(tutti(), &link).unwrap();
    let list = run(&link, &["-l"]);
    assert!(list.status.success());
    assert!(
        String::from_utf8(list.stdout)
            .unwrap()
            .contains("ansible.builtin.copy")
    );
    let snippet = run(&link, &["-s", "copy"]);
    let text = String::from_utf8(snippet.stdout).unwrap();
    assert!(
        text.contains("  ansible.builtin.copy:\n    dest:"),
        "{text}"
    );
}
