//! Issue 5's service, git, archive and wait modules, black-box: real `tutti playbook` runs
//! over SSH against the loopback sshd fleet (whose hosts are this machine). Each playbook
//! runs in `--check` first (nothing changes), then for real (changes), then again
//! (`changed=0`).
//!
//! - `git`: clone of a bare repository the test creates, then an update to a new commit;
//! - `unarchive`: a tarball and a zip from the controller, and a tarball with `remote_src`;
//! - `wait_for`: a port the test opens, and a closed port that times out;
//! - `service` through SysV init: a tiny `/etc/init.d/tutti-test-svc` the test installs
//!   (and removes), started, restarted, stopped, enabled and disabled with `update-rc.d`;
//! - `systemd_service`: this machine has no systemd, so its live part is skipped (said
//!   and asserted); the module is proven on fixtures in modules/tests/services.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::fleet::{Fleet, closed_port};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn both(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    fn recap(&self) -> BTreeMap<String, BTreeMap<String, i64>> {
        let mut out = BTreeMap::new();
        let Some(at) = self.stdout.rfind("PLAY RECAP") else {
            return out;
        };
        for line in self.stdout[at..].lines().skip(1) {
            let Some((host, counters)) = line.split_once(" : ") else {
                continue;
            };
            let mut m = BTreeMap::new();
            for kv in counters.split_whitespace() {
                if let Some((k, v)) = kv.split_once('=') {
                    m.insert(k.to_string(), v.parse().unwrap_or(-1));
                }
            }
            out.insert(host.trim().to_string(), m);
        }
        out
    }

    /// Exit 0, no failure, and `changed` for every host as `want` says.
    fn assert_changed(&self, fleet: &Fleet, want: impl Fn(i64) -> bool, what: &str) {
        assert_eq!(self.code, Some(0), "{what}: {}", self.both());
        assert!(!self.stdout.contains("panicked") && !self.stderr.contains("panicked"));
        let recap = self.recap();
        for h in &fleet.hosts {
            let r = recap
                .get(&h.name)
                .unwrap_or_else(|| panic!("{what}: no recap for {}: {}", h.name, self.both()));
            assert_eq!(r["failed"], 0, "{what}: {}", self.both());
            assert_eq!(r["unreachable"], 0, "{what}: {}", self.both());
            assert!(
                want(r["changed"]),
                "{what}: {} changed={}: {}",
                h.name,
                r["changed"],
                self.both()
            );
        }
    }
}

fn run(fleet: &Fleet, playbook: &Path, extra: &[&str]) -> Run {
    let out = fleet
        .tutti()
        .args(["playbook", "-i"])
        .arg(&fleet.inventory)
        .arg(playbook)
        .args(extra)
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes `- hosts: fleet` with the given tasks (already indented by four spaces).
fn playbook(fleet: &Fleet, name: &str, tasks: &str) -> PathBuf {
    let p = fleet.dir.path().join(name);
    fs::write(
        &p,
        format!("- hosts: fleet\n  gather_facts: false\n  tasks:\n{tasks}"),
    )
    .unwrap();
    p
}

fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// check, run, run again: nothing / changed / changed=0.
fn converge(fleet: &Fleet, pb: &Path, what: &str, before_check: impl Fn(), after_check: impl Fn()) {
    before_check();
    run(fleet, pb, &["--check"]).assert_changed(fleet, |c| c >= 1, &format!("{what} --check"));
    after_check();
    run(fleet, pb, &[]).assert_changed(fleet, |c| c >= 1, &format!("{what} first run"));
    run(fleet, pb, &[]).assert_changed(fleet, |c| c == 0, &format!("{what} second run"));
}

#[test]
fn git_clone_and_update_over_ssh() {
    let fleet = Fleet::start(2);
    let root = fleet.dir.path();
    let first = sh(
        root,
        "git init -q -b main work && cd work && echo one > f && git add f && git commit -qm one \
         && git clone -q --bare . ../repo.git && git rev-parse HEAD",
    );
    let pb = playbook(
        &fleet,
        "git.yml",
        &format!(
            "    - git:\n        repo: {repo}\n        dest: {root}/co/{{{{ inventory_hostname }}}}\n",
            repo = root.join("repo.git").display(),
            root = root.display()
        ),
    );
    let co = |h: &str| root.join("co").join(h);
    let head = |h: &str| sh(&co(h), "git rev-parse HEAD");
    converge(
        &fleet,
        &pb,
        "git clone",
        || {},
        || {
            assert!(!root.join("co").exists(), "--check cloned something");
        },
    );
    assert_eq!(head("h01"), first);
    let next = sh(
        root,
        "cd work && echo two > f && git commit -qam two && git push -q ../repo.git main && git rev-parse HEAD",
    );
    converge(
        &fleet,
        &pb,
        "git update",
        || {},
        || {
            assert_eq!(head("h01"), first, "--check moved HEAD");
        },
    );
    assert_eq!(head("h01"), next);
    assert_eq!(head("h02"), next);
    assert_eq!(fs::read_to_string(co("h02").join("f")).unwrap(), "two\n");
}

#[test]
fn unarchive_tarball_and_zip_over_ssh() {
    let fleet = Fleet::start(2);
    let root = fleet.dir.path();
    sh(
        root,
        "mkdir -p src/app/sub && echo hello > src/app/a.txt && echo x > src/app/sub/b && tar -czf app.tgz -C src app",
    );
    let have_zip = Command::new("sh")
        .arg("-c")
        .arg("command -v zip && command -v unzip")
        .output()
        .unwrap()
        .status
        .success();
    if have_zip {
        sh(root, "cd src && zip -qr ../app.zip app");
    } else {
        println!("unarchive: zip/unzip are not installed on this machine: the zip case is skipped");
    }
    for h in &fleet.hosts {
        for d in ["tgz", "zip", "remote"] {
            fs::create_dir_all(root.join("out").join(d).join(&h.name)).unwrap();
        }
    }
    let out = |d: &str| format!("{}/out/{d}/{{{{ inventory_hostname }}}}", root.display());
    let mut tasks = format!(
        "    - unarchive:\n        src: {}/app.tgz\n        dest: {}\n    - unarchive:\n        src: {}/app.tgz\n        dest: {}\n        remote_src: true\n",
        root.display(),
        out("tgz"),
        root.display(),
        out("remote")
    );
    if have_zip {
        tasks.push_str(&format!(
            "    - unarchive:\n        src: {}/app.zip\n        dest: {}\n",
            root.display(),
            out("zip")
        ));
    }
    let pb = playbook(&fleet, "unarchive.yml", &tasks);
    converge(
        &fleet,
        &pb,
        "unarchive",
        || {},
        || {
            assert!(
                !root.join("out/tgz/h01/app").exists(),
                "--check extracted something"
            );
        },
    );
    for h in ["h01", "h02"] {
        assert_eq!(
            fs::read_to_string(root.join(format!("out/tgz/{h}/app/a.txt"))).unwrap(),
            "hello\n"
        );
        assert_eq!(
            fs::read_to_string(root.join(format!("out/remote/{h}/app/sub/b"))).unwrap(),
            "x\n"
        );
        if have_zip {
            assert_eq!(
                fs::read_to_string(root.join(format!("out/zip/{h}/app/a.txt"))).unwrap(),
                "hello\n"
            );
        }
    }
}

#[test]
fn wait_for_a_port_and_a_timeout_over_ssh() {
    let fleet = Fleet::start(2);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let pb = playbook(
        &fleet,
        "wait.yml",
        &format!(
            "    - wait_for:\n        port: {port}\n        timeout: 10\n      register: w\n    - assert:\n        that: w.elapsed < 5 and w.port == {port}\n"
        ),
    );
    for extra in [&[][..], &["--check"][..]] {
        run(&fleet, &pb, extra).assert_changed(&fleet, |c| c == 0, "wait_for an open port");
    }
    let closed = closed_port();
    let pb = playbook(
        &fleet,
        "timeout.yml",
        &format!("    - wait_for:\n        port: {closed}\n        timeout: 2\n"),
    );
    let r = run(&fleet, &pb, &[]);
    assert_ne!(r.code, Some(0), "{}", r.both());
    assert!(
        r.stdout
            .contains(&format!("Timeout when waiting for 127.0.0.1:{closed}")),
        "{}",
        r.both()
    );
    assert!(!r.stdout.contains("UNREACHABLE"), "{}", r.both());
    drop(listener);
}

const INIT_SCRIPT: &str = r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          tutti-test-svc
# Required-Start:    $local_fs
# Required-Stop:     $local_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: tutti fleet test service
### END INIT INFO
PIDFILE=/run/tutti-test-svc.pid
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
case "$1" in
  start) running && exit 0
         sleep 100000 </dev/null >/dev/null 2>&1 &
         echo $! > "$PIDFILE"; echo "started tutti-test-svc" ;;
  stop) if running; then kill "$(cat "$PIDFILE")"; fi; rm -f "$PIDFILE" ;;
  restart) "$0" stop; "$0" start ;;
  status) running ;;
  *) echo "usage: $0 start|stop|restart|status"; exit 3 ;;
esac
"#;

/// Removes the test service (stopped, links and script gone) however the test ends.
struct SvcCleanup;

impl Drop for SvcCleanup {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg("-c")
            .arg("/etc/init.d/tutti-test-svc stop >/dev/null 2>&1; \
                  command -v update-rc.d >/dev/null && update-rc.d -f tutti-test-svc remove >/dev/null 2>&1; \
                  rm -f /etc/init.d/tutti-test-svc /run/tutti-test-svc.pid")
            .status();
    }
}

#[test]
fn sysvinit_service_over_ssh_and_systemd_skipped() {
    // The systemd part cannot run here: say so, and make sure the reason is real.
    let systemd = Path::new("/run/systemd/system").exists();
    println!(
        "systemd_service: live test SKIPPED: /run/systemd/system is absent (systemd is not PID 1 \
         on this machine); the module is proven on fixtures in modules/tests/services.rs"
    );
    assert!(
        !systemd,
        "this machine runs systemd: add a live systemd_service test"
    );

    let unix_root = nix_is_root();
    if !unix_root {
        println!("service: live SysV test SKIPPED: not root, cannot write /etc/init.d");
        return;
    }
    let _cleanup = SvcCleanup;
    fs::write("/etc/init.d/tutti-test-svc", INIT_SCRIPT).unwrap();
    sh(Path::new("/"), "chmod 755 /etc/init.d/tutti-test-svc");
    // One host: every fleet host is this machine, and there is one service.
    let fleet = Fleet::start(1);
    let has_update_rc_d = Command::new("sh")
        .arg("-c")
        .arg("command -v update-rc.d")
        .output()
        .unwrap()
        .status
        .success();
    let running = || {
        sh(
            Path::new("/"),
            "/etc/init.d/tutti-test-svc status && echo yes || echo no",
        ) == "yes"
    };

    let enabled = if has_update_rc_d {
        "        enabled: true\n"
    } else {
        ""
    };
    if !has_update_rc_d {
        println!("service: update-rc.d is not installed: `enabled` is not tested live");
    }
    let pb = playbook(
        &fleet,
        "svc-start.yml",
        &format!("    - service:\n        name: tutti-test-svc\n        state: started\n{enabled}"),
    );
    converge(
        &fleet,
        &pb,
        "service started",
        || assert!(!running()),
        || {
            assert!(!running(), "--check started the service");
        },
    );
    assert!(running());
    if has_update_rc_d {
        assert!(
            Path::new("/etc/rc2.d/S01tutti-test-svc").exists()
                || sh(Path::new("/"), "ls /etc/rc2.d").contains("tutti-test-svc")
        );
    }
    let pid = fs::read_to_string("/run/tutti-test-svc.pid").unwrap();

    // restarted always changes, and gives a new process.
    let pb = playbook(
        &fleet,
        "svc-restart.yml",
        "    - service:\n        name: tutti-test-svc\n        state: restarted\n",
    );
    run(&fleet, &pb, &[]).assert_changed(&fleet, |c| c == 1, "service restarted");
    assert!(running());
    assert_ne!(fs::read_to_string("/run/tutti-test-svc.pid").unwrap(), pid);

    let disabled = if has_update_rc_d {
        "        enabled: false\n"
    } else {
        ""
    };
    let pb = playbook(
        &fleet,
        "svc-stop.yml",
        &format!(
            "    - service:\n        name: tutti-test-svc\n        state: stopped\n{disabled}"
        ),
    );
    converge(
        &fleet,
        &pb,
        "service stopped",
        || {},
        || {
            assert!(running(), "--check stopped the service");
        },
    );
    assert!(!running());
    if has_update_rc_d {
        assert!(!sh(Path::new("/"), "ls /etc/rc2.d").contains("S01tutti-test-svc"));
    }
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
