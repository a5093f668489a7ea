//! The system modules on this real machine over the sshd fleet, through
//! the `tutti playbook` binary: create a group, a user (with an SSH key),
//! cron entries, an authorized key, known_hosts entries, a sysctl file
//! entry and an fstab entry; modify them; remove them. Each phase runs in
//! `--check` first (which must change nothing), then twice (the second
//! run `changed=0`). The host name and time zone are only predicted in
//! `--check`. Runs as root; the user `tuttitest1` and group `tuttitest1g`
//! are removed at the end, even on failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::fleet::Fleet;
use serde_json::Value;

const USER: &str = "tuttitest1";
const GROUP: &str = "tuttitest1g";

/// Removes the test user and group, whatever happened.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = sh(&format!(
            "crontab -r -u {USER} 2>/dev/null; rm -f /var/spool/cron/crontabs/{USER}; \
             userdel -r {USER} 2>/dev/null; groupdel {GROUP} 2>/dev/null; true"
        ));
    }
}

fn sh(script: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn is_root() -> bool {
    sh("id -u").trim() == "0"
}

const CREATE: &str = r#"- hosts: fleet
  gather_facts: false
  tasks:
    - group: {name: tuttitest1g, gid: 47101}
    # In --check the group is only predicted, and the user module (as
    # Ansible's) fails on a group that does not exist: leave it out there.
    - user:
        name: tuttitest1
        group: "{{ omit if ansible_check_mode else 'tuttitest1g' }}"
        groups: [users]
        shell: /bin/sh
        comment: Tutti Test
        password: "$6$tutti$notarealhash"
        generate_ssh_key: true
        ssh_key_type: ed25519
    - cron: {name: tutti job, user: tuttitest1, minute: "*/10", job: /bin/true}
    - cron: {name: TUTTI_ENV, env: true, user: tuttitest1, job: "1"}
    - authorized_key:
        user: tuttitest1
        key: "{{ pubkey }}"
        key_options: 'from="127.0.0.1"'
      when: not ansible_check_mode
    - known_hosts: {path: "{{ tmp }}/known_hosts", name: example.test, key: "example.test {{ pubkey }}"}
    - known_hosts: {path: "{{ tmp }}/known_hosts", name: hashed.test, key: "hashed.test {{ pubkey }}", hash_host: true}
    - sysctl: {name: vm.swappiness, value: "{{ swap }}", sysctl_file: "{{ tmp }}/sysctl.conf", sysctl_set: true, reload: true}
    - mount: {path: "{{ tmp }}/mnt", src: tmpfs, fstype: tmpfs, opts: "size=1m", state: present, fstab: "{{ tmp }}/fstab"}
    - getent: {database: passwd, key: tuttitest1}
      when: not ansible_check_mode
    - assert:
        that:
          - ansible_facts.getent_passwd.tuttitest1[3] == 'Tutti Test'
          - ansible_facts.getent_passwd.tuttitest1[4] == '/home/tuttitest1'
      when: not ansible_check_mode
"#;

const MODIFY: &str = r#"- hosts: fleet
  gather_facts: false
  tasks:
    - group: {name: tuttitest1g, gid: 47102}
    - user: {name: tuttitest1, shell: /bin/bash, groups: [], password_lock: true}
    - cron: {name: tutti job, user: tuttitest1, state: absent}
    - cron: {name: TUTTI_ENV, env: true, user: tuttitest1, state: absent}
    - authorized_key: {user: tuttitest1, key: "{{ pubkey }}", state: absent}
    - known_hosts: {path: "{{ tmp }}/known_hosts", name: hashed.test, state: absent}
    - sysctl: {name: vm.swappiness, sysctl_file: "{{ tmp }}/sysctl.conf", state: absent, reload: false}
    - mount: {path: "{{ tmp }}/mnt", state: absent, fstab: "{{ tmp }}/fstab"}
"#;

const REMOVE: &str = r#"- hosts: fleet
  gather_facts: false
  tasks:
    - user: {name: tuttitest1, state: absent, remove: true}
    - group: {name: tuttitest1g, state: absent}
"#;

const PREDICT: &str = r#"- hosts: fleet
  gather_facts: false
  tasks:
    - hostname: {name: tutti-never-applied}
    - timezone: {name: Europe/Paris}
"#;

struct Run {
    code: Option<i32>,
    changed: u64,
    failed: u64,
    out: String,
}

fn play(fleet: &Fleet, name: &str, text: &str, vars: &[(&str, String)], check: bool) -> Run {
    let pb = fleet.dir.path().join(name);
    fs::write(&pb, text).unwrap();
    let mut cmd = fleet.tutti();
    cmd.args(["playbook", "-i"])
        .arg(&fleet.inventory)
        .arg(&pb)
        .args(["--output", "json", "--limit", "h01"]);
    let extra: serde_json::Map<String, Value> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
        .collect();
    cmd.arg("-e").arg(Value::Object(extra).to_string());
    if check {
        cmd.arg("--check");
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let recap = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|e| e["event"] == "recap")
        .map(|e| e["hosts"]["h01"].clone())
        .unwrap_or(Value::Null);
    Run {
        code: out.status.code(),
        changed: recap["changed"].as_u64().unwrap_or(u64::MAX),
        failed: recap["failed"].as_u64().unwrap_or(u64::MAX),
        out: format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// A snapshot of everything the playbooks touch.
fn state(tmp: &Path) -> String {
    sh(&format!(
        "getent passwd {USER}; getent group {GROUP}; getent shadow {USER}; crontab -l -u {USER} 2>&1; \
         ls -la /home/{USER} /home/{USER}/.ssh 2>&1; cat /home/{USER}/.ssh/authorized_keys 2>&1; \
         cd {} && for f in known_hosts sysctl.conf fstab; do echo \"== $f\"; cat $f 2>&1; done; ls mnt 2>&1",
        tmp.display()
    ))
}

#[test]
fn users_groups_cron_keys_sysctl_mount_over_ssh() {
    if !is_root() {
        eprintln!("system_fleet: skipped, needs root (useradd, crontab -u, sysctl)");
        return;
    }
    if sh("command -v crontab").trim().is_empty() {
        panic!(
            "system_fleet: crontab not found: install cron (apt-get install cron; tests/run.sh does)"
        );
    }
    let _cleanup = Cleanup;
    drop(Cleanup); // start clean, too
    let fleet = Fleet::start(1);
    let tmp = fleet.dir.path().join("sys");
    fs::create_dir_all(&tmp).unwrap();
    let swap = fs::read_to_string("/proc/sys/vm/swappiness")
        .unwrap()
        .trim()
        .to_string();
    let pubkey = fleet.host_pubkey_line.clone();
    let vars = [
        ("tmp", tmp.display().to_string()),
        ("swap", swap.clone()),
        ("pubkey", pubkey.clone()),
    ];

    // Phase 1: create. --check first, on a machine without any of it.
    let before = state(&tmp);
    let r = play(&fleet, "create.yml", CREATE, &vars, true);
    assert_eq!((r.code, r.failed), (Some(0), 0), "{}", r.out);
    assert_eq!(r.changed, 8, "check predicts every change: {}", r.out);
    assert_eq!(state(&tmp), before, "--check changed the machine");
    let r = play(&fleet, "create.yml", CREATE, &vars, false);
    assert_eq!((r.code, r.failed), (Some(0), 0), "{}", r.out);
    assert_eq!(r.changed, 9, "{}", r.out);
    let pw = sh(&format!("getent passwd {USER}"));
    assert!(pw.starts_with(&format!("{USER}:x:")), "{pw}");
    assert!(
        pw.contains(":47101:Tutti Test:/home/tuttitest1:/bin/sh"),
        "{pw}"
    );
    assert!(sh(&format!("id -Gn {USER}")).contains("users"));
    assert!(sh(&format!("getent shadow {USER}")).contains(":$6$tutti$notarealhash:"));
    assert_eq!(
        sh(&format!("crontab -l -u {USER}")),
        "TUTTI_ENV=\"1\"\n#Ansible: tutti job\n*/10 * * * * /bin/true\n"
    );
    let ak = format!("/home/{USER}/.ssh/authorized_keys");
    assert_eq!(
        fs::read_to_string(&ak).unwrap(),
        format!("from=\"127.0.0.1\" {pubkey}\n")
    );
    assert_eq!(
        sh(&format!("stat -c '%a %U %G' {ak} /home/{USER}/.ssh")),
        format!("600 {USER} {GROUP}\n700 {USER} {GROUP}\n")
    );
    assert!(fs::metadata(format!("/home/{USER}/.ssh/id_ed25519")).is_ok());
    let kh = fs::read_to_string(tmp.join("known_hosts")).unwrap();
    let lines: Vec<&str> = kh.lines().collect();
    assert_eq!(lines[0], format!("example.test {pubkey}"));
    assert!(lines[1].starts_with("|1|"), "{kh}");
    // ssh-keygen agrees with our hashing.
    let found = sh(&format!(
        "ssh-keygen -F hashed.test -f {}/known_hosts",
        tmp.display()
    ));
    assert!(found.contains("|1|"), "{found}");
    assert_eq!(
        fs::read_to_string(tmp.join("sysctl.conf")).unwrap(),
        format!("vm.swappiness={swap}\n")
    );
    assert_eq!(
        fs::read_to_string(tmp.join("fstab")).unwrap(),
        format!("tmpfs {}/mnt tmpfs size=1m 0 0\n", tmp.display())
    );
    let r = play(&fleet, "create.yml", CREATE, &vars, false);
    assert_eq!((r.code, r.changed), (Some(0), 0), "second run: {}", r.out);
    let r = play(&fleet, "create.yml", CREATE, &vars, true);
    assert_eq!((r.code, r.changed), (Some(0), 0), "check after: {}", r.out);

    // Phase 2: modify and remove entries.
    let before = state(&tmp);
    let r = play(&fleet, "modify.yml", MODIFY, &vars, true);
    assert_eq!((r.code, r.failed), (Some(0), 0), "{}", r.out);
    assert_eq!(r.changed, 8, "{}", r.out);
    assert_eq!(state(&tmp), before, "--check changed the machine");
    let r = play(&fleet, "modify.yml", MODIFY, &vars, false);
    assert_eq!((r.code, r.changed), (Some(0), 8), "{}", r.out);
    assert!(
        sh(&format!("getent passwd {USER}"))
            .contains(":47102:Tutti Test:/home/tuttitest1:/bin/bash")
    );
    assert!(!sh(&format!("id -Gn {USER}")).contains("users"));
    assert!(sh(&format!("getent shadow {USER}")).contains(":!$6$tutti$notarealhash:"));
    assert_eq!(sh(&format!("crontab -l -u {USER}")), "");
    assert_eq!(fs::read_to_string(&ak).unwrap(), "");
    assert_eq!(
        fs::read_to_string(tmp.join("known_hosts")).unwrap(),
        format!("example.test {pubkey}\n")
    );
    assert_eq!(fs::read_to_string(tmp.join("sysctl.conf")).unwrap(), "");
    assert_eq!(fs::read_to_string(tmp.join("fstab")).unwrap(), "");
    let r = play(&fleet, "modify.yml", MODIFY, &vars, false);
    assert_eq!((r.code, r.changed), (Some(0), 0), "second run: {}", r.out);

    // Phase 3: remove the user and the group.
    let before = state(&tmp);
    let r = play(&fleet, "remove.yml", REMOVE, &vars, true);
    assert_eq!((r.code, r.changed), (Some(0), 2), "{}", r.out);
    assert_eq!(state(&tmp), before, "--check changed the machine");
    let r = play(&fleet, "remove.yml", REMOVE, &vars, false);
    assert_eq!((r.code, r.changed), (Some(0), 2), "{}", r.out);
    assert_eq!(
        sh(&format!("getent passwd {USER}; getent group {GROUP}")),
        ""
    );
    assert!(!Path::new("/home/tuttitest1").exists());
    let r = play(&fleet, "remove.yml", REMOVE, &vars, false);
    assert_eq!((r.code, r.changed), (Some(0), 0), "second run: {}", r.out);
}

#[test]
fn hostname_and_timezone_are_predicted_in_check_mode_only() {
    let fleet = Fleet::start(1);
    let before = sh("hostname; cat /etc/hostname /etc/timezone; readlink /etc/localtime");
    let r = play(&fleet, "predict.yml", PREDICT, &[], true);
    assert_eq!((r.code, r.failed), (Some(0), 0), "{}", r.out);
    assert_eq!(r.changed, 2, "{}", r.out);
    assert_eq!(
        sh("hostname; cat /etc/hostname /etc/timezone; readlink /etc/localtime"),
        before
    );
}
