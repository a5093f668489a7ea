//! Package modules on the real machine over the loopback sshd fleet: the
//! `tutti` binary installs and removes Debian's `hello` with `apt`
//! (cache refreshed only through `update_cache` + `cache_valid_time`),
//! and installs `six==1.16.0` from PyPI into a fresh virtualenv with
//! `pip`. Each playbook runs in `--check` first (which must not change
//! the package state), then twice (the second run reports changed=0).
//! If Debian's archive or PyPI cannot be reached, the test fails and says
//! so rather than passing silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::net::{TcpStream, ToSocketAddrs};
use std::process::Command;
use std::time::Duration;

use common::fleet::Fleet;
use serde_json::Value;

const APT: &str = r#"- hosts: h01
  gather_facts: false
  tasks:
    - name: hello is {{ want }}
      apt:
        name: hello
        state: "{{ want }}"
        update_cache: true
        cache_valid_time: 3600
        lock_timeout: 300
      register: r
    - name: facts
      package_facts:
    - name: facts agree
      when: not ansible_check_mode
      assert:
        that:
          - ('hello' in ansible_facts.packages) == (want == 'present')
"#;

const PIP: &str = r#"- hosts: h01
  gather_facts: false
  tasks:
    - name: six in a venv
      pip:
        name: six
        version: "1.16.0"
        virtualenv: "{{ venv }}"
        virtualenv_command: python3 -m venv
        state: "{{ want }}"
"#;

fn events(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn recap(out: &std::process::Output) -> Value {
    let ev = events(out);
    ev.iter()
        .rev()
        .find(|e| e["event"] == "recap")
        .map(|e| e["hosts"]["h01"].clone())
        .unwrap_or(Value::Null)
}

fn hello_installed() -> bool {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "hello"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).ends_with(" installed")
}

fn reachable(host: &str, port: u16) -> bool {
    let Ok(addrs) = (host, port).to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(10)).is_ok())
}

struct Runner<'a> {
    fleet: &'a Fleet,
    playbook: std::path::PathBuf,
}

impl Runner<'_> {
    fn run(&self, vars: &[(&str, &str)], extra: &[&str]) -> std::process::Output {
        let mut cmd = self.fleet.tutti();
        cmd.args(["playbook", "-i"])
            .arg(&self.fleet.inventory)
            .arg(&self.playbook)
            .args(["--output", "json"]);
        for (k, v) in vars {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        cmd.args(extra);
        cmd.output().unwrap()
    }

    /// Runs and asserts success and the number of changed tasks.
    fn expect(&self, vars: &[(&str, &str)], extra: &[&str], changed: u64, what: &str) {
        let out = self.run(vars, extra);
        let rc = recap(&out);
        assert!(
            out.status.code() == Some(0) && rc["changed"] == changed,
            "{what}: exit {:?}, recap {rc}, expected changed={changed}\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn apt_installs_and_removes_hello_twice_each_and_check_changes_nothing() {
    assert!(
        reachable("deb.debian.org", 80),
        "Debian's archive (deb.debian.org:80) is unreachable: this test installs a real \
         package with apt-get and needs network access to the mirror"
    );
    let fleet = Fleet::start(1);
    let pb = fleet.dir.path().join("apt.yml");
    fs::write(&pb, APT).unwrap();
    let r = Runner {
        fleet: &fleet,
        playbook: pb,
    };
    // Start from "absent" whatever an earlier run left behind.
    if hello_installed() {
        r.expect(&[("want", "absent")], &[], 1, "initial removal");
    }
    assert!(!hello_installed());

    // --check predicts the install but changes nothing.
    r.expect(
        &[("want", "present")],
        &["--check"],
        1,
        "install in --check",
    );
    assert!(!hello_installed(), "--check installed hello");

    let first = r.run(&[("want", "present")], &[]);
    assert!(
        first.status.code() == Some(0),
        "installing hello failed (is the Debian archive reachable?):\n{}",
        String::from_utf8_lossy(&first.stdout)
    );
    assert_eq!(
        recap(&first)["changed"],
        1,
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    assert!(hello_installed());
    let ev = events(&first);
    let res = ev
        .iter()
        .find(|e| e["event"] == "result" && e["action"] == "apt")
        .unwrap();
    let text = res.to_string();
    assert!(text.contains("Setting up hello"), "{text}");
    r.expect(&[("want", "present")], &[], 0, "second install run");

    r.expect(&[("want", "absent")], &["--check"], 1, "removal in --check");
    assert!(hello_installed(), "--check removed hello");
    r.expect(&[("want", "absent")], &[], 1, "removal");
    assert!(!hello_installed());
    r.expect(&[("want", "absent")], &[], 0, "second removal run");
}

#[test]
fn pip_installs_six_into_a_fresh_venv_twice_and_check_changes_nothing() {
    assert!(
        reachable("pypi.org", 443),
        "PyPI (pypi.org:443) is unreachable: this test installs six from PyPI"
    );
    let fleet = Fleet::start(1);
    let pb = fleet.dir.path().join("pip.yml");
    fs::write(&pb, PIP).unwrap();
    let venv = fleet.dir.path().join("venv");
    let v = venv.to_str().unwrap();
    let r = Runner {
        fleet: &fleet,
        playbook: pb,
    };
    r.expect(
        &[("venv", v), ("want", "present")],
        &["--check"],
        1,
        "pip in --check",
    );
    assert!(!venv.exists(), "--check created the virtualenv");
    r.expect(&[("venv", v), ("want", "present")], &[], 1, "pip install");
    let freeze = Command::new(venv.join("bin/pip"))
        .args(["list", "--format=freeze"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&freeze.stdout).contains("six==1.16.0"));
    r.expect(
        &[("venv", v), ("want", "present")],
        &[],
        0,
        "second pip run",
    );
    r.expect(
        &[("venv", v), ("want", "absent")],
        &["--check"],
        1,
        "pip removal in --check",
    );
    r.expect(&[("venv", v), ("want", "absent")], &[], 1, "pip uninstall");
    r.expect(
        &[("venv", v), ("want", "absent")],
        &[],
        0,
        "second uninstall run",
    );
    let freeze = Command::new(venv.join("bin/pip"))
        .args(["list", "--format=freeze"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&freeze.stdout).contains("six=="));
}
