//! Every example playbook runs on the local connection twice (the second
//! run must change nothing) and in `--check`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

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

/// Vars that keep the stack inside `root` and off the real system.
fn stack_vars(root: &std::path::Path) -> String {
    serde_json::json!({
        "stack_root": format!("{}/{{{{ inventory_hostname }}}}", root.display()),
        "stack_become": false,
        "web_install": false,
        "web_manage_service": false,
        "baseline_reload_sshd": false,
        "app_create_user": false,
        "app_manage_service": false,
        "baseline_users": [],
    })
    .to_string()
}

fn files_under(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                let p = e.path();
                out.push(p.display().to_string());
                if p.is_dir() && !p.is_symlink() {
                    stack.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn site_rolling_update_and_drift_report_on_the_local_connection() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("stack");
    let vars = stack_vars(&root);
    let run = |book: &str, extra: &[&str]| {
        let mut args = vec![
            "playbook",
            "-i",
            "inventories/local/hosts.ini",
            book,
            "-e",
            &vars,
        ];
        args.extend_from_slice(extra);
        tutti(&args, home.path())
    };

    // --check on a fresh machine writes nothing.
    let (code, out) = run("playbooks-examples/site.yml", &["--check"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        files_under(&root).is_empty(),
        "--check wrote {:?}",
        files_under(&root)
    );

    let (code, out) = run("playbooks-examples/site.yml", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(!recap_line(&out).contains("changed=0"), "{out}");
    let conf =
        std::fs::read_to_string(root.join("localhost/etc/nginx/sites-available/localhost.conf"))
            .unwrap();
    assert!(conf.contains("server_name localhost;"), "{conf}");
    let ini =
        std::fs::read_to_string(root.join("localhost/opt/demo/shared/config/app.ini")).unwrap();
    assert!(
        ini.contains("log_level = info") && ini.contains("workers = 4"),
        "{ini}"
    );
    let sshd = std::fs::read_to_string(root.join("localhost/etc/ssh/sshd_config")).unwrap();
    assert!(sshd.contains("PasswordAuthentication no"), "{sshd}");

    let (code, out) = run("playbooks-examples/site.yml", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(recap_line(&out).contains("changed=0"), "second run: {out}");

    // The drift report sees no drift now, then sees a hand edit.
    let (code, out) = run("playbooks-examples/drift_report.yml", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(recap_line(&out).contains("changed=0"), "{out}");
    std::fs::write(root.join("localhost/etc/motd"), "edited by hand\n").unwrap();
    let (code, out) = run("playbooks-examples/drift_report.yml", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("-edited by hand"),
        "the diff shows the drift: {out}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("localhost/etc/motd")).unwrap(),
        "edited by hand\n"
    );

    // A rolling update to a new release, then idempotent.
    let (code, out) = run(
        "playbooks-examples/rolling_update.yml",
        &["-e", "app_version=1.1.0"],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(
        "playbooks-examples/rolling_update.yml",
        &["-e", "app_version=1.1.0"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(recap_line(&out).contains("changed=0"), "{out}");
    let link = std::fs::read_link(root.join("localhost/opt/demo/current")).unwrap();
    assert!(link.ends_with("releases/1.1.0"), "{}", link.display());
}

#[test]
fn site_on_the_sshd_fleet_twice_and_in_check_mode() {
    let fleet = common::Fleet::start(3);
    let root = fleet.dir.path().join("stack");
    let vars = stack_vars(&root);
    let repo = env!("CARGO_MANIFEST_DIR");
    let run = |extra: &[&str]| {
        let mut cmd = fleet.tutti();
        cmd.args(["playbook", "-i"])
            .arg(&fleet.inventory)
            .arg(format!("{repo}/playbooks-examples/site.yml"))
            .args(["-e", &vars])
            .args(extra);
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&["--check"]);
    assert_eq!(code, 0, "{out}");
    assert!(files_under(&root).is_empty(), "--check wrote files");
    let (code, out) = run(&[]);
    assert_eq!(code, 0, "{out}");
    for h in &fleet.hosts {
        assert!(
            root.join(&h.name).join("opt/demo/current").exists(),
            "{}",
            h.name
        );
    }
    let (code, out) = run(&[]);
    assert_eq!(code, 0, "{out}");
    for h in &fleet.hosts {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{} ", h.name)))
            .unwrap_or("");
        assert!(
            line.contains("changed=0"),
            "second run on {}: {line}",
            h.name
        );
    }
}
