//! Password authentication (`ansible_password`) and sudo with a password
//! (`--become-password-file`, the prompt answered on stdin) against the
//! real sshd, with a throwaway user this test creates and removes.

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
    let _ = Command::new("userdel").args(["-r", USER]).output();
    let st = Command::new("useradd")
        .args(["-m", "-s", "/bin/sh", USER])
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
        writeln!(stdin, "{USER}:{PASSWORD}").unwrap();
    }
    assert!(chpasswd.wait().unwrap().success());
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
