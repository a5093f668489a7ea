//! Password authentication (`ansible_password`), sudo with a password
//! (`--become-password-file`, the prompt answered on stdin) and su with a
//! password (answered on a terminal) against the real sshd, with throwaway
//! users these tests create and remove.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::process::Command;

use common::fleet::{Fleet, FleetOptions};

const USER: &str = "tuttipwtest";
const PASSWORD: &str = "Pw-for-tutti-tests-42";

struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("userdel").args(["-r", USER]).output();
        let _ = fs::remove_file("/etc/sudoers.d/tutti-pw-test");
    }
}

#[test]
fn password_login_and_sudo_with_a_password() {
    let _cleanup = Cleanup;
    add_user(USER, PASSWORD);
    fs::write(
        "/etc/sudoers.d/tutti-pw-test",
        format!("{USER} ALL=(ALL) ALL\n"),
    )
    .unwrap();

    let fleet = Fleet::start_with(FleetOptions::hosts(1).sshd_line("PasswordAuthentication yes"));
    let inv = fleet.dir.path().join("pw.ini");
    fs::write(
        &inv,
        format!(
            "h01 ansible_host=127.0.0.2 ansible_port={} ansible_user={USER} ansible_password={PASSWORD}\n",
            fleet.port
        ),
    )
    .unwrap();
    let pwfile = fleet.dir.path().join("become_pw");
    fs::write(&pwfile, format!("{PASSWORD}\n")).unwrap();

    // Log in with the password; then become root with sudo's password.
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "h01", "-i"])
        .arg(&inv)
        .args(["-m", "command", "-a", "id -un"]);
    let o = cmd.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert_eq!(out, format!("h01 | CHANGED | rc=0 >>\n{USER}\n"));

    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "h01", "-i"])
        .arg(&inv)
        .args(["-b", "--become-password-file"])
        .arg(&pwfile)
        .args(["-m", "shell", "-a", "id -un; cat"]);
    let o = cmd.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    // The password went to sudo, not to the command's stdin, and it is
    // printed nowhere.
    assert_eq!(out, "h01 | CHANGED | rc=0 >>\nroot\n");
    assert!(!String::from_utf8_lossy(&o.stderr).contains(PASSWORD));

    // Probes and tutti's own file scripts run in a shell escalated once,
    // with the same password: a stat of root's home and a file written
    // there, as root.
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "h01", "-i"])
        .arg(&inv)
        .args(["-b", "--become-password-file"])
        .arg(&pwfile)
        .args([
            "-m",
            "copy",
            "-a",
            "content=escalated dest=/root/tutti-pw-test.txt mode=0600",
        ]);
    let o = cmd.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("\"owner\": \"root\""), "{out}");
    assert_eq!(
        fs::read_to_string("/root/tutti-pw-test.txt").unwrap(),
        "escalated"
    );
    let _ = fs::remove_file("/root/tutti-pw-test.txt");

    // A wrong sudo password is a clear failure, not a hang.
    fs::write(&pwfile, "wrong-password\n").unwrap();
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "h01", "-i"])
        .arg(&inv)
        .args(["-b", "--become-password-file"])
        .arg(&pwfile)
        .args(["-a", "true", "-T", "5"]);
    let o = cmd.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("Incorrect sudo password"), "{out}");
}

const SU_FROM: &str = "tuttisufrom";
const SU_TO: &str = "tuttisuto";
const SU_TO_PASSWORD: &str = "Su-target-pw-17";

struct SuCleanup;

impl Drop for SuCleanup {
    fn drop(&mut self) {
        for u in [SU_FROM, SU_TO] {
            let _ = Command::new("userdel").args(["-r", u]).output();
        }
    }
}

fn add_user(name: &str, password: &str) {
    let _ = Command::new("userdel").args(["-r", name]).output();
    let st = Command::new("useradd")
        .args(["-m", "-s", "/bin/sh", name])
        .status()
        .unwrap();
    assert!(st.success(), "useradd failed (the tests run as root)");
    let mut chpasswd = Command::new("chpasswd")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = chpasswd.stdin.take().unwrap();
        writeln!(stdin, "{name}:{password}").unwrap();
    }
    assert!(chpasswd.wait().unwrap().success());
}

/// `become_method: su` with a password: su gets it on a terminal, and
/// commands, probes and file writes then run as the target user, with
/// stdout, stderr and status kept apart; a second run changes nothing; a
/// wrong password is a clear failure, not a hang.
#[test]
fn su_with_a_password_runs_commands_probes_and_writes() {
    let _cleanup = SuCleanup;
    add_user(SU_FROM, PASSWORD);
    add_user(SU_TO, SU_TO_PASSWORD);
    let fleet = Fleet::start_with(FleetOptions::hosts(1).sshd_line("PasswordAuthentication yes"));
    let inv = fleet.dir.path().join("su.ini");
    fs::write(
        &inv,
        format!(
            "h01 ansible_host=127.0.0.2 ansible_port={} ansible_user={SU_FROM} ansible_password={PASSWORD}\n",
            fleet.port
        ),
    )
    .unwrap();
    let pb = fleet.dir.path().join("su.yml");
    fs::write(
        &pb,
        format!(
            r#"- hosts: h01
  gather_facts: false
  become: true
  become_method: su
  become_user: {SU_TO}
  tasks:
    - command: id -un
      register: who
      changed_when: false
    - copy:
        content: "written by su\n"
        dest: /home/{SU_TO}/note.txt
        mode: "0600"
    - stat:
        path: /home/{SU_TO}/note.txt
      register: st
    - shell: "cat /home/{SU_TO}/note.txt; echo err >&2; exit 3"
      register: out
      failed_when: false
      changed_when: false
    - assert:
        that:
          - who.stdout == '{SU_TO}'
          - st.stat.pw_name == '{SU_TO}'
          - st.stat.mode == '0600'
          - out.stdout == 'written by su'
          - out.stderr == 'err'
          - out.rc == 3
"#
        ),
    )
    .unwrap();
    let pwfile = fleet.dir.path().join("su_pw");
    fs::write(&pwfile, format!("{SU_TO_PASSWORD}\n")).unwrap();
    let run = |pw: &std::path::Path| {
        let mut cmd = fleet.tutti();
        cmd.args(["playbook", "-i"])
            .arg(&inv)
            .arg(&pb)
            .arg("--become-password-file")
            .arg(pw)
            .args(["-T", "10"]);
        cmd.output().unwrap()
    };
    for expected_changed in ["changed=1", "changed=0"] {
        let o = run(&pwfile);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains(expected_changed), "{out}");
        assert!(!out.contains(SU_TO_PASSWORD));
    }
    assert_eq!(
        fs::read_to_string(format!("/home/{SU_TO}/note.txt")).unwrap(),
        "written by su\n"
    );

    fs::write(&pwfile, "wrong-password\n").unwrap();
    let o = run(&pwfile);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("Incorrect su password"), "{out}");
}
