//! Every example playbook runs on the local connection twice (the second
//! run must change nothing) and in `--check`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn tutti(args: &[&str], home: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tutti"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn recap_line(out: &str) -> &str {
    out.lines()
        .find(|l| l.starts_with("localhost "))
        .unwrap_or("")
}

#[test]
fn hello_runs_twice_and_in_check_mode() {
    let home = tempfile::tempdir().unwrap();
    let workdir = home.path().join("hello");
    let wd = format!("workdir={}", workdir.display());
    let args = [
        "playbook",
        "-i",
        "inventories/local/hosts.ini",
        "playbooks-examples/hello.yml",
        "-e",
        &wd,
    ];
    let (code, out) = tutti(&[&args[..], &["--check"]].concat(), home.path());
    assert_eq!(code, 0, "{out}");
    assert!(!workdir.exists(), "--check created {}", workdir.display());

    let (code, out) = tutti(&args, home.path());
    assert_eq!(code, 0, "{out}");
    assert!(recap_line(&out).contains("changed=2"), "{out}");
    let (code, out) = tutti(&args, home.path());
    assert_eq!(code, 0, "{out}");
    assert!(recap_line(&out).contains("changed=0"), "{out}");
}
