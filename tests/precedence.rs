//! Ansible's variable precedence, one table, one test: variable `pK` is
//! defined at level K and at every level below it, with the value `LJ` at
//! level J; the task must see `LK` for every K. Levels follow Ansible's
//! documented order (role levels join with roles; facts are only
//! `ansible_*` names and are covered by the fact tests).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

/// (level number, where it is defined)
const LEVELS: &[(u32, &str)] = &[
    (1, "inventory file group vars"),
    (2, "inventory group_vars/all"),
    (3, "playbook group_vars/all"),
    (4, "inventory group_vars/web"),
    (5, "playbook group_vars/web"),
    (6, "inventory file host vars"),
    (7, "inventory host_vars/h1"),
    (8, "playbook host_vars/h1"),
    (10, "play vars"),
    (11, "play vars_prompt"),
    (12, "play vars_files"),
    (13, "block vars"),
    (14, "task vars"),
    (15, "include_vars"),
    (16, "set_fact"),
    (17, "include params"),
    (18, "extra vars"),
];

/// The variables defined at `level`: every pK with K >= level.
fn vars_at(level: u32) -> Vec<(String, String)> {
    LEVELS
        .iter()
        .filter(|(k, _)| *k >= level)
        .map(|(k, _)| (format!("p{k}"), format!("L{level}")))
        .collect()
}

fn yaml_map(level: u32, indent: &str) -> String {
    let mut s = String::new();
    for (k, v) in vars_at(level) {
        let _ = writeln!(s, "{indent}{k}: {v}");
    }
    s
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn every_precedence_level_beats_the_ones_below() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inv = d.join("inv");
    let pb = d.join("pb");

    let kv = |level: u32| -> String {
        vars_at(level)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    write(
        &inv.join("hosts.ini"),
        &format!(
            "[web]\nh1 ansible_connection=local {}\n\n[web:vars]\n{}\n",
            kv(6),
            vars_at(1)
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    );
    write(&inv.join("group_vars/all.yml"), &yaml_map(2, ""));
    write(&pb.join("group_vars/all.yml"), &yaml_map(3, ""));
    write(&inv.join("group_vars/web.yml"), &yaml_map(4, ""));
    write(&pb.join("group_vars/web/main.yml"), &yaml_map(5, ""));
    write(&inv.join("host_vars/h1.yml"), &yaml_map(7, ""));
    write(&pb.join("host_vars/h1"), &yaml_map(8, ""));
    write(&pb.join("vf.yml"), &yaml_map(12, ""));
    write(&pb.join("vars/iv.yml"), &yaml_map(15, ""));

    let all: Vec<String> = LEVELS
        .iter()
        .map(|(k, _)| format!("{{{{ p{k} }}}}"))
        .collect();
    write(
        &pb.join("inc.yml"),
        &format!(
            "- block:\n    - name: show\n      debug:\n        msg: \"{}\"\n      vars:\n{}  vars:\n{}",
            all.join(","),
            yaml_map(14, "        "),
            yaml_map(13, "    ")
        ),
    );
    let mut prompts = String::new();
    for (k, v) in vars_at(11) {
        let _ = writeln!(
            prompts,
            "    - name: {k}\n      prompt: {k}?\n      default: {v}\n      private: false"
        );
    }
    let set_fact: String = vars_at(16)
        .iter()
        .map(|(k, v)| format!("        {k}: {v}\n"))
        .collect();
    write(
        &pb.join("site.yml"),
        &format!(
            "- hosts: h1\n  gather_facts: false\n  vars:\n{}  vars_prompt:\n{prompts}  vars_files:\n    - vf.yml\n  tasks:\n    - include_vars: iv.yml\n    - set_fact:\n{set_fact}    - include_tasks: inc.yml\n      vars:\n{}",
            yaml_map(10, "    "),
            yaml_map(17, "        ")
        ),
    );

    let out = Command::new(env!("CARGO_BIN_EXE_tutti"))
        .args(["playbook", "-i"])
        .arg(inv.join("hosts.ini"))
        .arg(pb.join("site.yml"))
        .args(["-e", &kv(18), "--output", "json"])
        .env("HOME", d)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msg = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "result" && e["action"] == "debug")
        .and_then(|e| e["result"]["msg"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no debug result in:\n{stdout}"));
    let got: Vec<&str> = msg.split(',').collect();
    for ((k, what), value) in LEVELS.iter().zip(&got) {
        assert_eq!(
            *value,
            format!("L{k}"),
            "p{k} should come from level {k} ({what}); got {value}"
        );
    }
    assert_eq!(got.len(), LEVELS.len());
}
