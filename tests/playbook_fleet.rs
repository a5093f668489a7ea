//! Playbooks over a real sshd on loopback: 20 hosts, facts, become,
//! environment, handlers; a second run changes nothing; `--check` on a
//! fresh fleet writes nothing; unreachable hosts give exit code 4 while
//! the others finish.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use common::fleet::{Fleet, closed_port};
use serde_json::Value;

const PLAYBOOK: &str = r#"- name: Fleet play
  hosts: fleet
  vars:
    base: "{{ data_root }}/{{ inventory_hostname }}"
  tasks:
    - name: data directory
      command: mkdir -p {{ base }}
      args:
        creates: "{{ base }}"
    - name: identity file
      shell: echo "{{ inventory_hostname }} {{ ansible_env.SSH_CONNECTION.split()[2] }}" > {{ base }}/id
      args:
        creates: "{{ base }}/id"
      notify: mark
    - name: read it
      command: cat {{ base }}/id
      register: idf
      changed_when: false
    - name: as nobody
      command: id -un
      become: true
      become_user: nobody
      register: who
      changed_when: false
    - name: with environment
      shell: echo "$GREETING from $(hostname)"
      environment:
        GREETING: hi
      register: greet
      changed_when: false
    - name: checks
      when: not ansible_check_mode
      assert:
        that:
          - idf.stdout.startswith(inventory_hostname ~ ' ')
          - who.stdout == 'nobody'
          - greet.stdout.startswith('hi from')
          - ansible_facts.system == 'Linux'
        quiet: true
  handlers:
    - name: mark
      command: touch {{ base }}/handled
"#;

fn events(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn recap(ev: &[Value]) -> Value {
    ev.iter().rev().find(|e| e["event"] == "recap").unwrap()["hosts"].clone()
}

#[test]
fn twenty_hosts_twice_then_check_mode_on_a_fresh_fleet() {
    let fleet = Fleet::start(20);
    let pb = fleet.dir.path().join("site.yml");
    fs::write(&pb, PLAYBOOK).unwrap();
    let data = fleet.dir.path().join("data");
    let run = |extra: &[&str]| {
        let mut cmd = fleet.tutti();
        cmd.args(["playbook", "-i"])
            .arg(&fleet.inventory)
            .arg(&pb)
            .args([
                "-e",
                &format!("data_root={}", data.display()),
                "--output",
                "json",
            ])
            .args(extra);
        cmd.output().unwrap()
    };

    let first = run(&[]);
    let ev = events(&first);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    let rc = recap(&ev);
    for h in &fleet.hosts {
        assert_eq!(rc[&h.name]["changed"], 3, "{}: {}", h.name, rc[&h.name]);
        assert_eq!(rc[&h.name]["failed"], 0);
        let id = fs::read_to_string(data.join(&h.name).join("id")).unwrap();
        assert_eq!(id, format!("{} {}\n", h.name, h.addr));
        assert!(data.join(&h.name).join("handled").exists());
    }

    let second = run(&[]);
    assert_eq!(second.status.code(), Some(0));
    let rc = recap(&events(&second));
    for h in &fleet.hosts {
        assert_eq!(
            rc[&h.name]["changed"], 0,
            "second run of {}: {}",
            h.name, rc[&h.name]
        );
    }

    // One SSH connection per host for a whole run: 20 logins per run.
    let log = fleet.sshd_log();
    assert_eq!(log.matches("Accepted publickey").count(), 40, "{log}");

    // --check on a fresh fleet writes nothing.
    fs::remove_dir_all(&data).unwrap();
    let check = run(&["--check"]);
    let tail: String = String::from_utf8_lossy(&check.stdout)
        .lines()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(check.status.code(), Some(0), "{tail}");
    assert!(!data.exists(), "--check created {}", data.display());
    let ev = events(&check);
    let skipped = ev
        .iter()
        .filter(|e| e["event"] == "result" && e["status"] == "changed" && e["action"] == "command")
        .count();
    // `command` with `creates` predicts a change without running.
    assert_eq!(skipped, 20);
}

#[test]
fn unreachable_hosts_leave_the_play_and_exit_4() {
    let fleet = Fleet::start(2);
    let inv = fleet.dir.path().join("mixed.ini");
    fs::write(
        &inv,
        format!(
            "[all:vars]\nansible_user=root\nansible_ssh_private_key_file={}\n[fleet]\nh01 ansible_host=127.0.0.2 ansible_port={}\ndown ansible_host=127.0.0.3 ansible_port={}\n",
            fleet.client_key.display(),
            fleet.port,
            closed_port()
        ),
    )
    .unwrap();
    let pb = fleet.dir.path().join("p.yml");
    fs::write(
        &pb,
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n    - debug: msg=after\n",
    )
    .unwrap();
    let mut cmd = fleet.tutti();
    cmd.args(["playbook", "-i"]).arg(&inv).arg(&pb);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(
        stdout.contains("fatal: [down]: UNREACHABLE! =>"),
        "{stdout}"
    );
    assert!(stdout.contains("Connection refused"), "{stdout}");
    assert!(
        stdout.contains("ok: [h01] => {\n    \"msg\": \"after\"\n}"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "down                       : ok=0    changed=0    unreachable=1    failed=0"
        ),
        "{stdout}"
    );

    // ignore_unreachable keeps the host in the play.
    fs::write(
        &pb,
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n      ignore_unreachable: true\n    - debug: msg=after\n",
    )
    .unwrap();
    let mut cmd = fleet.tutti();
    cmd.args(["playbook", "-i"]).arg(&inv).arg(&pb);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok: [down] => {\n    \"msg\": \"after\"\n}"),
        "{stdout}"
    );
}

/// A command that leaves a background child holding its output open is
/// done when it exits, over SSH and locally, as Ansible's run_command is
/// (the `timeout` fails the task if the run waits for the child).
#[test]
fn a_backgrounded_child_does_not_hold_the_task() {
    let fleet = Fleet::start(1);
    let pb = fleet.dir.path().join("bg.yml");
    fs::write(
        &pb,
        "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - shell: 'echo hi; sleep 30 &'\n      timeout: 10\n      register: r\n    - shell: 'sleep 30 &'\n      timeout: 10\n      delegate_to: localhost\n    - assert: {that: [r.stdout == 'hi', r.rc == 0]}\n",
    )
    .unwrap();
    let mut cmd = fleet.tutti();
    cmd.args(["playbook", "-i"]).arg(&fleet.inventory).arg(&pb);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
}

/// A server that allows one session per connection (`MaxSessions 1`): the
/// shared shell gives way to the commands that need channels of their own.
#[test]
fn a_server_allowing_one_session_still_runs_everything() {
    let fleet = common::fleet::Fleet::start_with(
        common::fleet::FleetOptions::hosts(1).sshd_line("MaxSessions 1"),
    );
    let pb = fleet.dir.path().join("one.yml");
    fs::write(
        &pb,
        r#"- hosts: fleet
  gather_facts: false
  tasks:
    - stat: {path: /etc/hostname}
      register: st
    - copy: {content: "one\n", dest: "{{ playbook_dir }}/one-{{ inventory_hostname }}.txt"}
    - command: cat {{ playbook_dir }}/one-{{ inventory_hostname }}.txt
      register: cat
      changed_when: false
    - stat: {path: "{{ playbook_dir }}/one-{{ inventory_hostname }}.txt"}
      register: again
    - assert:
        that:
          - st.stat.exists
          - cat.stdout == 'one'
          - again.stat.size == 4
"#,
    )
    .unwrap();
    for expected in ["changed=1", "changed=0"] {
        let mut cmd = fleet.tutti();
        cmd.args(["playbook", "-i"]).arg(&fleet.inventory).arg(&pb);
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(expected), "{stdout}");
    }
}
