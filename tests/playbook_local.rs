//! The playbook language on the local connection: each test writes a small
//! project (inventory + playbook), runs the real binary and checks the
//! results, the recap, the exit code and, where it matters, the exact
//! output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::project::{Project, recap, results};
use serde_json::Value;

const INV: &str = "alpha ansible_connection=local\nbeta ansible_connection=local\n";

fn project(playbook: &str) -> Project {
    let p = Project::new();
    p.write("inv.ini", INV).write("site.yml", playbook);
    p
}

/// The `msg` of each debug/fail/assert result (and of failures) of a host.
fn msgs(events: &[Value], host: &str) -> Vec<String> {
    results(events, host)
        .iter()
        .filter(|e| {
            matches!(e["action"].as_str(), Some("debug" | "fail" | "assert"))
                || e["status"] == "failed"
        })
        .filter_map(|e| match &e["result"]["msg"] {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
        .collect()
}

#[test]
fn golden_output_matches_ansibles_default_callback() {
    let p = project(
        r#"- name: Demo play
  hosts: all
  gather_facts: false
  tasks:
    - name: Say hi
      debug:
        msg: "hello from {{ inventory_hostname }}"
    - name: Skip on beta
      command: "true"
      when: inventory_hostname == 'alpha'
      changed_when: false
    - name: Change on alpha
      command: "true"
      when: inventory_hostname == 'alpha'
      notify: Restart thing
  handlers:
    - name: Restart thing
      debug:
        msg: restarted
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &["-f", "1"]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    let expected = "
PLAY [Demo play] ***************************************************************

TASK [Say hi] ******************************************************************
ok: [alpha] => {
    \"msg\": \"hello from alpha\"
}
ok: [beta] => {
    \"msg\": \"hello from beta\"
}

TASK [Skip on beta] ************************************************************
ok: [alpha]
skipping: [beta]

TASK [Change on alpha] *********************************************************
changed: [alpha]
skipping: [beta]

RUNNING HANDLER [Restart thing] ************************************************
ok: [alpha] => {
    \"msg\": \"restarted\"
}

PLAY RECAP *********************************************************************
alpha                      : ok=4    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   
beta                       : ok=1    changed=0    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0   

";
    assert_eq!(r.stdout, expected);
}

#[test]
fn failed_host_leaves_the_play_and_exit_code_is_2() {
    let p = project(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: Fail on beta
      command: /bin/false
      when: inventory_hostname == 'beta'
    - name: After
      debug: msg=after
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(2), "{}", r.both());
    assert_eq!(msgs(&ev, "alpha"), vec!["after"]);
    assert!(msgs(&ev, "beta").contains(&"non-zero return code".to_string()));
    assert_eq!(recap(&ev, "beta")["failed"], 1);
    assert_eq!(recap(&ev, "alpha")["failed"], 0);
    // The human output points at the task with 2.19's error block.
    let h = p.playbook("inv.ini", "site.yml", &[]);
    assert!(
        h.stdout
            .contains("[ERROR]: Task failed: Module failed: non-zero return code"),
        "{}",
        h.both()
    );
    assert!(
        h.stdout
            .contains(&format!("Origin: {}:4:7", p.path("site.yml").display())),
        "{}",
        h.both()
    );
}

#[test]
fn loops_and_loop_control() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  vars:
    users: [{name: ann, groups: [a, b]}, {name: bob, groups: [c]}]
  tasks:
    - debug: msg="{{ item }}"
      loop: [1, 2]
    - debug: msg="{{ item }}"
      with_items: [a, [b, c]]
    - debug: msg="{{ item.key }}={{ item.value }}"
      with_dict: {x: 1, y: 2}
    - debug: msg="{{ item }}"
      with_sequence: start=1 end=3 format=web%02d
    - debug: msg="{{ item.0 }}-{{ item.1 }}"
      with_nested: [[a, b], [1]]
    - debug: msg="{{ item.0 }}-{{ item.1 }}"
      with_together: [[a, b], [1, 2]]
    - debug: msg="{{ item.0.name }}:{{ item.1 }}"
      with_subelements: [ "{{ users }}", groups ]
    - debug: msg="{{ i }}:{{ u.name }}:{{ ansible_loop.first }}:{{ ansible_loop.length }}"
      loop: "{{ users }}"
      loop_control: {loop_var: u, index_var: i, label: "{{ u.name }}", extended: true}
    - command: echo {{ item }}
      loop: [x, y]
      register: out
    - debug: msg="{{ out.results | map(attribute='stdout') | join(',') }}"
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    let items: Vec<String> = ev
        .iter()
        .filter(|e| e["event"] == "result" && !e["item"].is_null() && e["action"] == "debug")
        .map(|e| match &e["result"]["msg"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(
        items,
        vec![
            "1",
            "2",
            "a",
            "b",
            "c",
            "x=1",
            "y=2",
            "web01",
            "web02",
            "web03",
            "a-1",
            "b-1",
            "a-1",
            "b-2",
            "ann:a",
            "ann:b",
            "bob:c",
            "0:ann:True:2",
            "1:bob:False:2"
        ]
    );
    let labels: Vec<Value> = ev
        .iter()
        .filter(|e| e["event"] == "result" && e["result"]["u"].is_object())
        .map(|e| e["item"].clone())
        .collect();
    assert_eq!(labels, vec![Value::from("ann"), Value::from("bob")]);
    assert_eq!(msgs(&ev, "alpha").last().unwrap(), "x,y");
}

#[test]
fn when_register_changed_when_failed_when_ignore_errors_until() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: echo hello
      register: r
      changed_when: false
    - debug: msg="said {{ r.stdout }}"
      when: r.stdout == 'hello' and r is not changed
    - debug: msg=never
      when: r.rc != 0
    - command: /bin/false
      ignore_errors: true
      register: f
    - assert:
        that: [f is failed, "f.rc == 1"]
    - command: echo ok
      register: o
      failed_when: "'ok' not in o.stdout"
    - shell: c=$(cat counter 2>/dev/null || echo 0); c=$((c+1)); echo $c > counter; echo $c
      args: {chdir: "{{ playbook_dir }}"}
      register: n
      until: n.stdout | int >= 3
      retries: 5
      delay: 0
    - debug: msg="attempts={{ n.attempts }}"
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    let m = msgs(&ev, "alpha");
    assert!(m.contains(&"said hello".to_string()), "{m:?}");
    assert!(!m.contains(&"never".to_string()));
    assert!(m.contains(&"attempts=3".to_string()), "{m:?}");
    let retries = ev.iter().filter(|e| e["event"] == "retrying").count();
    assert_eq!(retries, 2);
    let rc = recap(&ev, "alpha");
    assert_eq!(rc["ignored"], 1);
    assert_eq!(rc["skipped"], 1);
    assert_eq!(rc["failed"], 0);
}

#[test]
fn blocks_rescue_always_and_failed_task_vars() {
    let p = project(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - block:
        - name: Might fail
          command: /bin/false
          when: inventory_hostname == 'beta'
        - debug: msg=block-end
      rescue:
        - debug: msg="rescued {{ ansible_failed_task.name }} rc={{ ansible_failed_result.rc }}"
      always:
        - debug: msg=always
    - debug: msg=after
    - block:
        - fail: msg=boom
      always:
        - debug: msg=cleanup
      when: inventory_hostname == 'alpha'
    - debug: msg=unreached
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(2), "{}", r.both());
    let a = msgs(&ev, "alpha");
    let b = msgs(&ev, "beta");
    assert_eq!(a, vec!["block-end", "always", "after", "boom", "cleanup"]);
    assert_eq!(b[0], "non-zero return code");
    assert_eq!(
        &b[1..],
        &["rescued Might fail rc=1", "always", "after", "unreached"]
    );
    assert_eq!(recap(&ev, "beta")["rescued"], 1);
    assert_eq!(recap(&ev, "beta")["failed"], 0);
    assert_eq!(recap(&ev, "alpha")["failed"], 1);
}

#[test]
fn handlers_by_name_listen_flush_and_force() {
    let p = project(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - command: "true"
      notify: [first, topic]
    - meta: flush_handlers
    - debug: msg=between
    - command: "true"
      notify: second
    - fail: msg=stop
      when: inventory_hostname == 'beta'
  handlers:
    - name: second
      debug: msg=h-second
    - name: first
      debug: msg=h-first
    - name: listener
      debug: msg=h-listen
      listen: topic
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(2));
    // Handlers run in definition order at each flush point.
    assert_eq!(
        msgs(&ev, "alpha"),
        vec!["h-first", "h-listen", "between", "h-second"]
    );
    // A failed host does not run its pending handlers...
    assert_eq!(
        msgs(&ev, "beta"),
        vec!["h-first", "h-listen", "between", "stop"]
    );
    // ...unless --force-handlers.
    let (_, ev) = p.playbook_json("inv.ini", "site.yml", &["--force-handlers"]);
    assert_eq!(
        msgs(&ev, "beta"),
        vec!["h-first", "h-listen", "between", "stop", "h-second"]
    );
}

#[test]
fn imports_includes_and_tags() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - import_tasks: imported.yml
      tags: [imp]
    - include_tasks: included.yml
      tags: [inc]
    - debug: msg=plain
    - debug: msg=always-runs
      tags: [always]
    - debug: msg=never-runs
      tags: [never, dbg]
"#,
    );
    p.write("imported.yml", "- debug: msg=imported\n")
        .write("included.yml", "- debug: msg=included\n  tags: [inner]\n");
    let (_, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(
        msgs(&ev, "alpha"),
        vec!["imported", "included", "plain", "always-runs"]
    );
    // Tags on an import apply to the imported tasks.
    let (_, ev) = p.playbook_json("inv.ini", "site.yml", &["--tags", "imp"]);
    assert_eq!(msgs(&ev, "alpha"), vec!["imported", "always-runs"]);
    // Tags on a dynamic include select the include, not its tasks.
    let (_, ev) = p.playbook_json("inv.ini", "site.yml", &["--tags", "inner"]);
    assert_eq!(msgs(&ev, "alpha"), vec!["always-runs"]);
    let (_, ev) = p.playbook_json("inv.ini", "site.yml", &["--tags", "dbg"]);
    assert_eq!(msgs(&ev, "alpha"), vec!["always-runs", "never-runs"]);
    let (_, ev) = p.playbook_json("inv.ini", "site.yml", &["--skip-tags", "always,imp"]);
    assert_eq!(msgs(&ev, "alpha"), vec!["included", "plain"]);
    let listed = p.playbook("inv.ini", "site.yml", &["--list-tags"]);
    assert!(
        listed
            .stdout
            .contains("TASK TAGS: [always, dbg, imp, inc, never]"),
        "{}",
        listed.stdout
    );
}

#[test]
fn set_fact_include_vars_vars_files_and_extra_vars() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  vars_files:
    - [missing.yml, "{{ flavour }}.yml"]
  vars:
    flavour: blue
    derived: "{{ base }}-x"
    base: b
  tasks:
    - set_fact: {computed: "{{ 40 + 2 }}", listy: [1, 2]}
    - include_vars: more.yml
    - debug: msg="{{ color }} {{ derived }} {{ computed + 1 }} {{ listy | length }} {{ extra }} {{ from_file }} {{ from_json }}"
"#,
    );
    p.write("blue.yml", "color: azure\n")
        .write("vars/more.yml", "from_file: loaded\n")
        .write("extra.json", "{\"from_json\": \"j\"}");
    let (r, ev) = p.playbook_json(
        "inv.ini",
        "site.yml",
        &[
            "-e",
            "extra=e1",
            "-e",
            "@extra.json",
            "-e",
            "{\"base\": \"B\"}",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(msgs(&ev, "alpha"), vec!["azure B-x 43 2 e1 loaded j"]);
}

#[test]
fn check_mode_keyword_overrides_both_ways() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - name: predicted only
      command: touch made-by-check
      args: {chdir: "{{ playbook_dir }}"}
    - name: forced real run
      command: touch made-anyway
      args: {chdir: "{{ playbook_dir }}"}
      check_mode: false
    - debug: msg="check={{ ansible_check_mode }}"
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &["--check"]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(!p.path("made-by-check").exists());
    assert!(p.path("made-anyway").exists());
    let st: Vec<&str> = results(&ev, "alpha")
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(st, vec!["skipped", "changed", "ok"]);
    assert_eq!(msgs(&ev, "alpha").last().unwrap(), "check=True");
}

#[test]
fn serial_run_once_delegate_and_strategies() {
    let p = project(
        r#"- hosts: all
  gather_facts: false
  serial: 1
  tasks:
    - command: echo once
      run_once: true
      register: o
    - debug: msg="{{ inventory_hostname }} sees {{ o.stdout }}"
    - command: hostname
      delegate_to: localhost
      changed_when: false
- hosts: all
  gather_facts: false
  strategy: free
  tasks:
    - debug: msg="free {{ inventory_hostname }}"
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(msgs(&ev, "alpha").contains(&"alpha sees once".to_string()));
    assert!(msgs(&ev, "beta").contains(&"beta sees once".to_string()));
    // serial 1: alpha finishes the play's tasks before beta starts.
    let order: Vec<&str> = ev
        .iter()
        .filter(|e| {
            e["event"] == "result"
                && e["action"] == "debug"
                && !e["result"]["msg"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("free")
        })
        .map(|e| e["host"].as_str().unwrap())
        .collect();
    assert_eq!(order, vec!["alpha", "beta"]);
    let delegated = ev
        .iter()
        .find(|e| e["event"] == "result" && e["delegate"] == "localhost");
    assert!(delegated.is_some());
    assert!(msgs(&ev, "beta").contains(&"free beta".to_string()));
}

#[test]
fn any_errors_fatal_and_max_fail_percentage_stop_the_play() {
    let p = project(
        r#"- hosts: all
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - fail: msg=bad
      when: inventory_hostname == 'beta'
    - debug: msg=next
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(2));
    assert!(!msgs(&ev, "alpha").contains(&"next".to_string()));
    assert!(ev.iter().any(|e| e["event"] == "no_more_hosts"));
    let p = project(
        r#"- hosts: all
  gather_facts: false
  max_fail_percentage: 0
  tasks:
    - fail: msg=bad
      when: inventory_hostname == 'beta'
    - debug: msg=next
"#,
    );
    let (_, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert!(!msgs(&ev, "alpha").contains(&"next".to_string()));
}

#[test]
fn add_host_group_by_and_meta() {
    let p = project(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - group_by: key=kind_{{ inventory_hostname }}
    - add_host: name=gamma groups=late ansible_connection=local
    - meta: end_host
      when: inventory_hostname == 'beta'
    - debug: msg="still {{ inventory_hostname }}"
- hosts: kind_beta:late
  gather_facts: false
  tasks:
    - debug: msg="second {{ inventory_hostname }}"
    - meta: end_play
    - debug: msg=unreached
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(msgs(&ev, "alpha"), vec!["still alpha"]);
    assert_eq!(msgs(&ev, "beta"), vec!["second beta"]);
    assert_eq!(msgs(&ev, "gamma"), vec!["second gamma"]);
}

#[test]
fn undefined_variables_fail_the_host_with_the_name() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - debug: msg="{{ nope }}"
    - debug: msg=unreached
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(2));
    let m = msgs(&ev, "alpha");
    assert_eq!(m.len(), 1);
    assert!(m[0].contains("'nope' is undefined"), "{m:?}");
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - debug: msg=x
      when: "'a'"
"#,
    );
    let (_, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert!(
        msgs(&ev, "alpha")[0].contains("Conditionals must have a boolean result"),
        "{:?}",
        msgs(&ev, "alpha")
    );
}

#[test]
fn gather_facts_gives_ansible_variables() {
    let p = project(
        r#"- hosts: alpha
  tasks:
    - debug: msg="{{ ansible_system }} {{ ansible_facts.os_family }} {{ ansible_hostname | length > 0 }} {{ ansible_env.HOME is defined }}"
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(msgs(&ev, "alpha"), vec!["Linux Debian True True"]);
}

#[test]
fn syntax_check_list_tasks_and_list_hosts() {
    let p = project(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: one\n      debug: msg=1\n      tags: [t1]\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &["--syntax-check"]);
    assert_eq!(r.code, Some(0));
    assert_eq!(
        r.stdout,
        format!("\nplaybook: {}\n", p.path("site.yml").display())
    );
    let r = p.playbook("inv.ini", "site.yml", &["--list-tasks", "--list-hosts"]);
    assert!(
        r.stdout
            .contains("    hosts (2):\n      alpha\n      beta\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("      one\tTAGS: [t1]"), "{}", r.stdout);
}

#[test]
fn load_errors_point_at_file_line_and_column() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "    - whne: x\n      debug: msg=hi\n",
            "'whne' is not a valid attribute for a Task",
            "Did you mean 'when'?",
        ),
        (
            "    - comand: ls\n",
            "couldn't resolve module/action 'comand'",
            "Did you mean 'command'?",
        ),
        (
            "    - debug: msg=hi\n      command: ls\n",
            "conflicting action statements: debug, command",
            "",
        ),
        (
            "    - name: nothing\n",
            "no module/action detected in task.",
            "",
        ),
        (
            "    - debug: msg=hi\n      notify: nothere\n",
            "The requested handler 'nothere' was not found",
            "",
        ),
        (
            "    - debug: msg=\"{{ foo\"\n",
            "failed at splitting arguments, either an unbalanced jinja2 block or quotes",
            "",
        ),
        (
            "    - debug: msg=x\n    bad indent: [\n",
            "Syntax Error while loading YAML",
            "",
        ),
    ];
    for (tasks, msg, help) in cases {
        let p = project(&format!("- hosts: alpha\n  tasks:\n{tasks}"));
        let r = p.playbook("inv.ini", "site.yml", &[]);
        assert_eq!(r.code, Some(4), "{tasks}: {}", r.both());
        assert!(r.stderr.contains(msg), "{tasks}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("Origin: {}:", p.path("site.yml").display())),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("^ column"), "{}", r.stderr);
        assert!(r.stderr.contains(help), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "nothing runs: {}", r.stdout);
    }
}

#[test]
fn answers_as_ansible_playbook_under_that_name() {
    let p = project("- hosts: alpha\n  gather_facts: false\n  tasks:\n    - ping:\n");
    let link = p.path("ansible-playbook");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tutti"), &link).unwrap();
    let out = std::process::Command::new(&link)
        .current_dir(p.dir.path())
        .env("HOME", p.dir.path())
        .args(["-i", "inv.ini", "site.yml"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: [alpha]"));
}

#[test]
fn no_log_timeout_throttle_order_pause_and_prompts() {
    let p = project(
        r#"- hosts: all
  gather_facts: false
  order: reverse_inventory
  vars_prompt:
    - name: answer
      prompt: Answer?
      default: fortytwo
      private: false
  tasks:
    - name: secret
      command: echo hunter2
      no_log: true
      register: s
    - debug: msg="{{ s.stdout | length }} {{ answer }}"
    - name: slow
      command: sleep 5
      timeout: 1
      ignore_errors: true
      register: slow
    - debug: msg="{{ slow.msg }}"
      when: inventory_hostname == 'beta'
    - pause: seconds=0
    - command: "true"
      throttle: 1
      changed_when: false
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(!r.stdout.contains("hunter2"), "no_log leaked: {}", r.stdout);
    assert!(r.stdout.contains("the output has been hidden due to the fact that 'no_log: true' was specified for this result"));
    assert_eq!(msgs(&ev, "alpha")[0], "7 fortytwo");
    assert!(
        msgs(&ev, "beta")
            .iter()
            .any(|m| m.contains("failed to execute in the expected time frame (1)")),
        "{:?}",
        msgs(&ev, "beta")
    );
    // order: reverse_inventory reports beta first.
    let first = ev.iter().find(|e| e["event"] == "result").unwrap();
    assert_eq!(first["host"], "beta");
}

#[test]
fn interrupt_prints_the_recap_and_exits_99() {
    let p = project(
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - debug: msg=before\n    - command: sleep 3\n    - debug: msg=never\n",
    );
    let child = p
        .tutti()
        .args(["playbook", "-i", "inv.ini", "site.yml"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = std::process::Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(99), "{stdout}");
    assert!(stdout.contains("PLAY RECAP"), "{stdout}");
    // The command in flight finished; nothing new started.
    assert!(
        stdout.contains("alpha                      : ok=2 "),
        "{stdout}"
    );
    assert!(!stdout.contains("never"), "{stdout}");
}

#[test]
fn fact_cache_with_smart_gathering_and_flush() {
    let p = project("- hosts: alpha\n  tasks:\n    - debug: msg=\"{{ ansible_system }}\"\n");
    p.write(
        "ansible.cfg",
        "[defaults]\ngathering = smart\nfact_caching = jsonfile\nfact_caching_connection = ./facts\n",
    );
    let gathered = |ev: &[Value]| {
        ev.iter()
            .any(|e| e["event"] == "task_start" && e["name"] == "Gathering Facts")
    };
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(gathered(&ev));
    assert!(p.path("facts/alpha").exists());
    let (_, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert!(!gathered(&ev), "smart gathering used the cache");
    assert_eq!(msgs(&ev, "alpha"), vec!["Linux"]);
    let (_, ev) = p.playbook_json("inv.ini", "site.yml", &["--flush-cache"]);
    assert!(gathered(&ev));
}

#[test]
fn become_with_sudo_and_su() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  become: true
  tasks:
    - command: id -un
      become_user: nobody
      register: by_sudo
      changed_when: false
    - command: id -un
      become_method: su
      become_user: nobody
      become_flags: -s /bin/sh
      register: by_su
      changed_when: false
    - debug: msg="{{ by_sudo.stdout }} {{ by_su.stdout }}"
    - command: id -un
      become_method: doas
      ignore_errors: true
      register: bad
    - debug: msg="{{ bad.msg }}"
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    let m = msgs(&ev, "alpha");
    assert!(m.contains(&"nobody nobody".to_string()), "{m:?}");
    assert!(
        m.iter()
            .any(|x| x.contains("become method 'doas' is not supported")),
        "{m:?}"
    );
}

/// Module arguments are checked per host when the task runs, as in Ansible,
/// so a bad argument is a task failure that `register` and `ignore_errors`
/// (and `rescue`) see — Ansible's own integration targets rely on it.
#[test]
fn bad_module_arguments_fail_the_task_not_the_load() {
    let p = project(
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - file:\n        state: hard\n      register: r\n      ignore_errors: true\n    - assert:\n        that:\n          - r is failed\n          - \"'missing required arguments: path' in r.msg\"\n    - block:\n        - ping: {bogus: 1}\n      rescue:\n        - debug: msg=\"rescued {{ ansible_failed_result.msg }}\"\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(r.stdout.contains("...ignoring"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("rescued Unsupported parameters for (ping) module: bogus"),
        "{}",
        r.stdout
    );
}

/// Module warnings about their arguments reach `warnings` in the
/// registered result and a `[WARNING]` line, as Ansible's `module.warn`.
#[test]
fn module_argument_warnings_are_registered_and_shown() {
    let p = project(
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - command: echo hi\n      args:\n        executable: /bogus\n      register: r\n    - assert:\n        that:\n          - r.stdout == 'hi'\n          - r.warnings | length == 1\n          - \"'no longer supported' in r.warnings[0]\"\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(
        r.both().contains(
            "[WARNING]: As of Ansible 2.4, the parameter 'executable' is no longer supported"
        ),
        "{}",
        r.both()
    );
}

/// `--force-handlers`: hosts that all failed still run the handlers they
/// were notified of, and no `NO MORE HOSTS LEFT` banner follows when
/// nothing else was left to run (as ansible-playbook 2.19 prints it).
#[test]
fn force_handlers_run_after_every_host_failed() {
    let p = project(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n      notify: h\n    - fail: msg=x\n  handlers:\n    - name: h\n      debug: msg=CALLED_HANDLER\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &["--force-handlers"]);
    assert_eq!(r.code, Some(2), "{}", r.both());
    assert_eq!(
        r.stdout.matches("\"msg\": \"CALLED_HANDLER\"").count(),
        2,
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("NO MORE HOSTS LEFT"), "{}", r.stdout);
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert!(!r.stdout.contains("CALLED_HANDLER"), "{}", r.stdout);
    // The same from the environment (or ansible.cfg's force_handlers).
    let mut cmd = p.tutti();
    cmd.env("ANSIBLE_FORCE_HANDLERS", "true")
        .args(["playbook", "-i", "inv.ini", "site.yml"]);
    let out = String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned();
    assert_eq!(out.matches("CALLED_HANDLER").count(), 2, "{out}");
    // A play's `force_handlers: false` overrides the command line.
    p.write(
        "site.yml",
        &std::fs::read_to_string(p.path("site.yml"))
            .unwrap()
            .replace(
                "gather_facts: false",
                "gather_facts: false\n  force_handlers: false",
            ),
    );
    let r = p.playbook("inv.ini", "site.yml", &["--force-handlers"]);
    assert!(!r.stdout.contains("CALLED_HANDLER"), "{}", r.stdout);
}

/// Templated tags are rendered before selection and in `--list-tasks`.
#[test]
fn templated_tags_render_with_play_vars() {
    let p = project(
        "- hosts: alpha\n  gather_facts: false\n  vars:\n    the_tags: [tag3]\n  tasks:\n    - name: templated\n      debug: msg=RAN_TEMPLATED\n      tags: '{{ the_tags }}'\n    - name: plain\n      debug: msg=RAN_PLAIN\n      tags: other\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &["--list-tasks"]);
    assert!(
        r.stdout.contains("      templated\tTAGS: [tag3]"),
        "{}",
        r.stdout
    );
    let r = p.playbook("inv.ini", "site.yml", &["--tags", "tag3"]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(r.stdout.contains("RAN_TEMPLATED"), "{}", r.stdout);
    assert!(!r.stdout.contains("RAN_PLAIN"), "{}", r.stdout);
}

/// `meta: clear_host_errors` in an `always` section lets a host whose block
/// and rescue failed carry on with the play.
#[test]
fn clear_host_errors_in_always_resumes_the_host() {
    let p = project(
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - block:\n        - fail:\n      rescue:\n        - fail:\n      always:\n        - meta: clear_host_errors\n    - debug: msg=AFTER_BLOCK\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &["-vv"]);
    assert!(r.stdout.contains("AFTER_BLOCK"), "{}", r.stdout);
    assert!(r.stdout.contains("\n1 plays in "), "{}", r.stdout);
}

/// Each loop item sees the facts earlier items set, so set_fact can
/// accumulate (Ansible's loops target relies on it).
#[test]
fn set_fact_in_a_loop_accumulates() {
    let p = project(
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - set_fact:\n        acc: \"{{ acc | default([]) + [item] }}\"\n      loop: [a, b, c]\n    - assert:\n        that: acc == ['a', 'b', 'c']\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

/// `include_tasks` and `include_role` with a loop include once per item,
/// with the loop variable visible to every included task.
#[test]
fn looped_includes_bind_the_item() {
    let p = project(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - include_tasks: inner.yml\n      loop: [one, two]\n      loop_control:\n        loop_var: word\n        index_var: n\n    - include_role:\n        name: '{{ item }}'\n      loop: [r1]\n",
    );
    p.write("inner.yml", "- debug: msg=\"INNER {{ n }} {{ word }}\"\n")
        .write(
            "roles/r1/tasks/main.yml",
            "- debug: msg=\"ROLE {{ item }}\"\n",
        );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    for want in ["INNER 0 one", "INNER 1 two", "ROLE r1"] {
        assert_eq!(r.stdout.matches(want).count(), 2, "{want}: {}", r.stdout);
    }
}

/// A role that imports another by name finds it in the playbook's roles/,
/// not only beside its own task file.
#[test]
fn roles_imported_from_roles_are_found_beside_the_playbook() {
    let p = project("- hosts: alpha\n  gather_facts: false\n  roles: [a]\n");
    p.write("roles/a/tasks/main.yml", "- import_role: name=b\n")
        .write("roles/b/tasks/main.yml", "- debug: msg=FROM_B\n");
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(r.stdout.contains("FROM_B"), "{}", r.stdout);
}

/// `import_tasks` in a role's handlers finds a file that is not beside it
/// in the playbook's directory, as Ansible's search path does.
#[test]
fn role_handler_imports_fall_back_to_the_playbook_dir() {
    let p = project("- hosts: alpha\n  gather_facts: false\n  roles: [r]\n");
    p.write(
        "roles/r/tasks/main.yml",
        "- debug: msg=main\n  changed_when: true\n  notify: test handler\n",
    )
    .write("roles/r/handlers/main.yml", "- import_tasks: shared.yml\n")
    .write(
        "shared.yml",
        "- name: test handler\n  debug: msg=SHARED_HANDLER\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(
        r.stdout.contains("RUNNING HANDLER [r : test handler]"),
        "{}",
        r.stdout
    );
}

/// A collection role (`ns.col.role`) is found under `collections/` beside
/// the playbook and is known by its FQCN.
#[test]
fn collection_roles_are_found_beside_the_playbook() {
    let p = project("- hosts: alpha\n  gather_facts: false\n  roles: [ns.col.thing]\n");
    p.write(
        "collections/ansible_collections/ns/col/roles/thing/tasks/main.yml",
        "- name: hello\n  debug: msg=FROM_COLLECTION\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(
        r.stdout.contains("TASK [ns.col.thing : hello]"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("FROM_COLLECTION"), "{}", r.stdout);
}

/// A loop whose list cannot be built fails like a plain task: a `fatal:`
/// line with the message (then `...ignoring` under ignore_errors).
#[test]
fn a_loop_that_cannot_start_reports_fatal() {
    let p = project(
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - debug: var=item\n      with_dict: [1, 2]\n      ignore_errors: true\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(
        r.stdout.contains(
            "fatal: [alpha]: FAILED! => {\"msg\": \"the 'dict' lookup plugin expects a dictionary, got '[1, 2]'\"}\n...ignoring"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn ansible_search_path_lists_the_playbook_dir() {
    let p = project(
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - assert:\n        that: playbook_dir in ansible_search_path\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

/// A false `when` skips a task whose loop list would not render.
#[test]
fn false_when_skips_a_loop_that_would_not_render() {
    let p = project(
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - debug: msg=loop\n      when: false\n      loop: '{{ fake_var }}'\n      register: r\n    - assert:\n        that: r is skipped\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

/// `loop_control.loop_var` may itself be a template.
#[test]
fn templated_loop_var_name() {
    let p = project(
        "- hosts: alpha\n  gather_facts: false\n  vars:\n    var_name: thing\n  tasks:\n    - debug: msg=\"GOT {{ thing }}\"\n      loop: [x]\n      loop_control:\n        loop_var: '{{ var_name }}'\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(r.stdout.contains("GOT x"), "{}", r.stdout);
}

#[test]
fn path_arguments_expand_tilde_and_variables_on_the_target() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - copy: {content: "hi\n", dest: "~/tilde.txt"}
      register: copied
    - lineinfile: {path: "$HOME/var.txt", line: "x", create: true}
    - file: {path: "${HOME}/dir", state: directory}
    - stat: {path: "~root"}
      register: root_home
    - file: {path: "~/lit-$TUTTI_SURELY_UNSET", state: touch, modification_time: preserve, access_time: preserve}
    - assert:
        that:
          - root_home.stat.isdir
          - root_home.stat.path == '/root' or root_home.stat.path.startswith('/')
          # The written file's ownership is reported, as Ansible's copy does.
          - copied is not changed or (copied.uid is number and copied.owner is string and copied.gid is number and copied.group is string)
          - copied.md5sum == ('hi\n' | hash('md5'))
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(common::project::read(&p.path("tilde.txt")), "hi\n");
    assert_eq!(common::project::read(&p.path("var.txt")), "x\n");
    assert!(p.path("dir").is_dir());
    // An unset variable stays as written, as Python's expandvars leaves it.
    assert!(p.path("lit-$TUTTI_SURELY_UNSET").is_file());
    let again = p.playbook("inv.ini", "site.yml", &[]);
    assert!(again.stdout.contains("changed=0"), "{}", again.both());
}

#[test]
fn template_prefers_an_ansible_managed_variable_to_the_config() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - template: {src: t.j2, dest: "{{ playbook_dir }}/default.txt"}
      register: t1
    - assert:
        that: "{{ ['src', 'dest', 'checksum', 'md5sum', 'owner', 'group', 'uid', 'gid', 'size', 'state'] | difference(t1.keys()) == [] }}"
    - template: {src: t.j2, dest: "{{ playbook_dir }}/custom.txt"}
      vars:
        ansible_managed: '{{ "made " ~ "here" }}'
"#,
    );
    p.write("templates/t.j2", "# {{ ansible_managed }}\n");
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(
        common::project::read(&p.path("default.txt")),
        "# Ansible managed\n"
    );
    assert_eq!(
        common::project::read(&p.path("custom.txt")),
        "# made here\n"
    );
}

#[test]
fn loop_label_sees_the_items_result_and_a_label_that_fails_fails_the_item() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: "echo {{ item }}"
      register: r
      loop: [changed, skipped]
      loop_control:
        label: "{{ r.stdout }}"
      when: item == "changed"
      ignore_errors: true
    - assert:
        that:
          - r.results[0].stdout == 'changed'
          - r.results[0] is not failed
          - r.results[1] is failed
          - "r.results[1].msg is contains(\"no attribute 'stdout'\")"
          - r.results[1].msg.startswith('Failed to template loop_control.label')
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(
        r.stdout.contains("changed: [alpha] => (item=changed)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("ignored=1"), "{}", r.stdout);
}

#[test]
fn failed_task_name_is_the_tasks_own_name_inside_a_looped_role() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - block:
        - include_role:
            name: '{{ item }}'
          loop: [boom]
      rescue:
        - assert:
            that:
              - ansible_failed_task.name == "Fail here"
              - ansible_failed_result.msg == "fail"
"#,
    );
    p.write(
        "roles/boom/tasks/main.yml",
        "- name: Fail here\n  fail: msg=fail\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(r.stdout.contains("TASK [boom : Fail here]"), "{}", r.stdout);
}

#[test]
fn role_listeners_answer_to_the_role_prefix_and_a_collection_roles_fqcn() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  roles:
    - plain
    - ns.col.coll
  tasks:
    - command: "true"
      notify:
        - "plain : topic_a"
        - "coll : topic_b"
    - meta: flush_handlers
    - assert: {that: [a_ran is defined, b_ran is defined, c_ran is undefined]}
    - command: "true"
      notify: "ns.col.coll : topic_c"
    - meta: flush_handlers
    - assert: {that: [c_ran is defined]}
"#,
    );
    p.write("roles/plain/tasks/main.yml", "- debug: msg=plain\n")
        .write(
            "roles/plain/handlers/main.yml",
            "- name: A\n  set_fact: {a_ran: true}\n  listen: topic_a\n",
        )
        .write(
            "collections/ansible_collections/ns/col/roles/coll/tasks/main.yml",
            "- debug: msg=coll\n",
        )
        .write(
            "collections/ansible_collections/ns/col/roles/coll/handlers/main.yml",
            "- name: B\n  set_fact: {b_ran: true}\n  listen: topic_b\n\
             - name: C\n  set_fact: {c_ran: true}\n  listen: topic_c\n",
        );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn adhoc_runs_engine_actions_like_debug_and_include_role() {
    let p = project("");
    p.write(
        "roles/r1/tasks/main.yml",
        "- debug: msg=from-r1\n- set_fact: {x: 1}\n- debug: msg=\"x={{ x }}\"\n",
    );
    let adhoc = |args: &[&str]| {
        let out = p
            .tutti()
            .arg("adhoc")
            .arg("alpha")
            .arg("-i")
            .arg(p.path("inv.ini"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = adhoc(&["-m", "debug", "-a", "msg=hello"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, "alpha | SUCCESS => {\n    \"msg\": \"hello\"\n}\n");
    let (code, out) = adhoc(&["-m", "ansible.builtin.include_role", "-a", "name=r1"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("\"msg\": \"from-r1\""), "{out}");
    assert!(out.contains("\"msg\": \"x=1\""), "{out}");
    let (code, out) = adhoc(&["-m", "fail", "-a", "msg=boom"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.starts_with("alpha | FAILED! => {"), "{out}");
}

#[test]
fn copy_with_an_empty_src_fails_as_missing_source() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - copy: {src: "", dest: "{{ playbook_dir }}/out"}
      register: r
      ignore_errors: true
    - copy: {content: "x"}
      register: nodest
      ignore_errors: true
    - assert:
        that:
          - r is failed
          - "'src (or content) is required' in r.msg"
          - nodest.msg == 'dest is required'
    - copy: {content: "x", dest: "{{ playbook_dir }}/files"}
      register: intodir
      ignore_errors: true
    - assert:
        that: intodir.msg == 'can not use content with a dir as dest'
"#,
    );
    p.write("files/keep.txt", "x\n");
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(!p.path("out").exists());
}

#[test]
fn import_playbook_names_may_be_templated_with_extra_vars() {
    let p = project(
        r#"- import_playbook: '{{ "other.yml" }}'
- ansible.legacy.import_playbook: "{{ which }}"
- import_playbook: needs_vars.yml
  vars:
    role_to_use: greet
"#,
    );
    p.write(
        "needs_vars.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - import_role:\n        name: \"{{ role_to_use }}\"\n",
    )
    .write("roles/greet/tasks/main.yml", "- debug: msg=greeted\n");
    p.write(
        "other.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - debug: msg=in-other\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &["-e", "which=other.yml"]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(r.stdout.matches("in-other").count(), 2, "{}", r.stdout);
    assert!(r.stdout.contains("TASK [greet : debug]"), "{}", r.stdout);
}

#[test]
fn cleared_host_errors_leave_the_recap_but_not_the_exit_code() {
    let p = project(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - block:
        - block:
            - fail:
              when: inventory_hostname == 'alpha'
            - set_fact: {beta_only: true}
        - fail:
          when: beta_only is not defined
      always:
        - block:
            - meta: clear_host_errors
    - assert: {that: [beta_only is defined]}
      when: inventory_hostname == 'beta'
"#,
    );
    let (r, ev) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(recap(&ev, "alpha")["failed"], 1);
    assert_eq!(recap(&ev, "beta")["failed"], 0);
}

#[test]
fn a_name_calls_the_first_handler_so_named_and_a_topic_every_listener() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: "true"
      notify: shared
    - meta: flush_handlers
    - assert:
        that:
          - first_ran is defined
          - second_ran is undefined
          - listener_a is defined
          - listener_b is defined
  handlers:
    - name: shared
      set_fact: {first_ran: true}
    - name: shared
      set_fact: {second_ran: true}
    - name: A
      set_fact: {listener_a: true}
      listen: shared
    - name: B
      set_fact: {listener_b: true}
      listen: shared
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn a_missing_handler_is_a_warning_when_error_on_missing_handler_is_off() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: "true"
      notify: nobody_home
"#,
    );
    let strict = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(strict.code, Some(4), "{}", strict.both());
    let out = p
        .tutti()
        .env("ANSIBLE_ERROR_ON_MISSING_HANDLER", "false")
        .args(["playbook", "-i", "inv.ini", "site.yml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("[WARNING]: The requested handler 'nobody_home' was not found"),
        "{err}"
    );
}

#[test]
fn templated_handler_names_and_notify_lists() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  vars:
    hname: real_name
    both: [real_name, plain]
  tasks:
    - command: "true"
      notify: "{{ both }}"
    - meta: flush_handlers
    - assert: {that: [templated_ran is defined, plain_ran is defined]}
  handlers:
    - name: "{{ hname }}"
      set_fact: {templated_ran: true}
    - name: plain
      set_fact: {plain_ran: true}
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn an_included_roles_handler_wins_over_the_plays_of_the_same_name() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - include_role: {name: r}
    - assert: {that: [role_ran is defined, play_ran is undefined]}
  handlers:
    - name: shared
      set_fact: {play_ran: true}
"#,
    );
    p.write(
        "roles/r/tasks/main.yml",
        "- command: \"true\"\n  notify: shared\n- meta: flush_handlers\n",
    )
    .write(
        "roles/r/handlers/main.yml",
        "- name: shared\n  set_fact: {role_ran: true}\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn handlers_may_include_tasks() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: "true"
      notify: [plain include, looped include]
  handlers:
    - name: plain include
      include_tasks: more.yml
    - name: looped include
      include_tasks: "{{ item }}"
      with_first_found: [missing.yml, more.yml]
"#,
    );
    p.write("more.yml", "- debug: msg=from-more\n");
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(r.stdout.matches("from-more").count(), 2, "{}", r.stdout);
    assert!(
        r.stdout.contains("RUNNING HANDLER [plain include]"),
        "{}",
        r.stdout
    );
    // What a handler includes runs as handlers.
    assert!(r.stdout.contains("RUNNING HANDLER [debug]"), "{}", r.stdout);
    assert!(!r.stdout.contains("TASK [debug]"), "{}", r.stdout);
}

#[test]
fn a_role_handler_includes_from_the_roles_tasks_directory() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  roles: [r]
"#,
    );
    p.write(
        "roles/r/tasks/main.yml",
        "- command: \"true\"\n  notify: inc\n",
    )
    .write("roles/r/tasks/b.yml", "- debug: msg=from-b\n")
    .write(
        "roles/r/handlers/main.yml",
        "- name: inc\n  include_tasks: b.yml\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(r.stdout.contains("from-b"), "{}", r.stdout);
}

#[test]
fn an_includes_own_tags_select_the_include_not_its_tasks() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - include_role: {name: outer}
      tags: [t1]
    - include_role: {name: outer}
"#,
    );
    p.write(
        "roles/outer/tasks/main.yml",
        "- debug: msg=untagged-inner\n- debug: msg=t2-inner\n  tags: [t2]\n",
    );
    // --tags t1 runs the first include, whose untagged tasks don't match.
    let r = p.playbook("inv.ini", "site.yml", &["--tags", "t1"]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(r.stdout.contains("included: outer"), "{}", r.stdout);
    assert!(!r.stdout.contains("-inner"), "{}", r.stdout);
    // --tags t2 skips both includes: neither is tagged t2.
    let r = p.playbook("inv.ini", "site.yml", &["--tags", "t2"]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(!r.stdout.contains("included"), "{}", r.stdout);
    // Without tags everything runs.
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.stdout.matches("t2-inner").count(), 2, "{}", r.stdout);
}

#[test]
fn command_expands_variables_and_tilde_in_arguments_like_ansible() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: /bin/sh -c 'echo "\$TEST"'
      environment: {TEST: z}
      register: expanded
    - command: /bin/sh -c 'echo "\$TEST"'
      args: {expand_argument_vars: false}
      environment: {TEST: z}
      register: literal
    - command: echo ~ $HOME ${HOME} $TUTTI_NOT_SET_X '*'
      register: words
    - assert:
        that:
          - expanded.stdout == '\\z'
          - literal.stdout == '$TEST'
          - words.stdout == [playbook_dir, playbook_dir, playbook_dir, '$TUTTI_NOT_SET_X', '*'] | join(' ')
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn chdir_through_a_symlink_lands_in_the_physical_directory() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - file: {path: "{{ playbook_dir }}/real/site", state: directory}
    - file: {path: "{{ playbook_dir }}/link", src: "{{ playbook_dir }}/real", state: link}
    - shell: dirname "$PWD"
      args: {chdir: "{{ playbook_dir }}/link/site"}
      register: r
    - assert: {that: ["r.stdout.endswith('/real')"]}
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn command_with_a_missing_program_fails_like_pythons_exec() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: commandthatdoesnotexist --would-be-awkward
      register: res
      failed_when: res.stdout != '' or res.stderr != ''
    - assert:
        that:
          - res.rc == 2
          - res.msg == 'Error executing command.'
          - res is not changed
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn templates_include_and_import_templates_beside_them() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  vars:
    who: world
  tasks:
    - template: {src: main.j2, dest: "{{ playbook_dir }}/out.txt"}
    - file: {path: "{{ playbook_dir }}/into", state: directory}
    - template: {src: part.j2, dest: "{{ playbook_dir }}/into/", mode: "0600"}
    - template: {src: part.j2, dest: "{{ playbook_dir }}/into"}
      register: again
    - assert: {that: [again is not changed]}
    - template: {src: main.j2, dest: "{{ playbook_dir }}/kept.txt", mode: preserve}
      register: kept
    - assert: {that: ["kept.mode == '0640'"]}
"#,
    );
    p.write(
        "templates/main.j2",
        "{% import 'macros' as m with context %}{{ m.greet() }}\n{% include 'part.j2' %}\n",
    )
    .write(
        "templates/macros",
        "{% macro greet() %}hello {{ who }}{% endmacro %}",
    )
    .write("templates/part.j2", "part for {{ who }}");
    std::fs::set_permissions(
        p.path("templates/main.j2"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(
        common::project::read(&p.path("out.txt")),
        // trim_blocks eats the newline after `%}`; Ansible puts the
        // template's trailing newline back.
        "hello world\npart for world\n"
    );
    // A directory `dest` gets the file under the template's name.
    assert_eq!(
        common::project::read(&p.path("into/part.j2")),
        "part for world"
    );
}

#[test]
fn a_relative_roles_path_still_finds_role_files() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  roles: [r]
"#,
    );
    p.write("elsewhere/r/files/f.txt", "from role\n").write(
        "elsewhere/r/tasks/main.yml",
        "- copy: {src: f.txt, dest: \"{{ playbook_dir }}/out.txt\"}\n",
    );
    let out = p
        .tutti()
        .env("ANSIBLE_ROLES_PATH", "elsewhere")
        .args(["playbook", "-i", "inv.ini", "site.yml"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(common::project::read(&p.path("out.txt")), "from role\n");
}

#[test]
fn template_output_encoding_writes_those_bytes() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - template: {src: t.j2, dest: "{{ playbook_dir }}/cp.txt", output_encoding: windows-1252}
    - template: {src: t.j2, dest: "{{ playbook_dir }}/cp.txt", output_encoding: windows-1252}
      register: again
    - assert: {that: [again is not changed]}
"#,
    );
    p.write("templates/t.j2", "é€\n");
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(
        std::fs::read(p.path("cp.txt")).unwrap(),
        [0xe9, 0x80, b'\n']
    );
}

#[test]
fn the_file_modules_registered_diff_is_a_dict() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - copy: {content: "x", dest: "{{ playbook_dir }}/f"}
    - file: {path: "{{ playbook_dir }}/l", src: "{{ playbook_dir }}/f", state: link}
      register: r
    - file: {path: "{{ playbook_dir }}/l", src: "f", state: link}
      register: relinked
    - assert:
        that:
          - r.diff.before.state == 'absent'
          - r.diff.after.state == 'link'
          - r.diff.before.path == playbook_dir ~ '/l'
          - relinked.diff.before.src == playbook_dir ~ '/f'
          - relinked.diff.after.src == 'f'
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &["--diff"]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    // The dict is still shown as a diff.
    assert!(
        r.stdout.contains("-    \"state\": \"absent\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("+    \"state\": \"link\""),
        "{}",
        r.stdout
    );
}

#[test]
fn a_links_mode_goes_to_its_target_when_following() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - file: {path: "{{ playbook_dir }}/t", state: touch, mode: "0644"}
    - file: {src: "{{ playbook_dir }}/t", dest: "{{ playbook_dir }}/l", state: link, mode: "0700"}
    - file: {dest: "{{ playbook_dir }}/l", state: link, mode: "0700"}
      register: again
    - stat: {path: "{{ playbook_dir }}/t"}
      register: st
    - assert: {that: ["st.stat.mode == '0700'", again is not changed]}
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn a_time_change_shows_in_the_file_diff() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - copy: {content: "x", dest: "{{ playbook_dir }}/f"}
    - file:
        path: "{{ playbook_dir }}/f"
        modification_time: "202202081414.00"
        modification_time_format: "%Y%m%d%H%M.%S"
      check_mode: true
      diff: true
      register: r
    - file: {path: "{{ playbook_dir }}/touched", state: touch}
      register: touched
    - assert: {that: ["touched.dest == playbook_dir ~ '/touched'", "'path' not in touched"]}
    - file: {path: "{{ playbook_dir }}/f"}
      diff: true
      register: same
    - assert:
        that:
          - same is not changed
          - "same.diff.after == {'path': playbook_dir ~ '/f'}"
    - assert:
        that:
          - r is changed
          - r.diff.after.mtime is number
          - r.diff.before.mtime != r.diff.after.mtime
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn a_touch_that_cannot_set_its_owner_leaves_no_file() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - file: {path: "{{ playbook_dir }}/new.txt", state: touch, owner: tutti-no-such-user}
      register: r
      ignore_errors: true
    - assert: {that: [r is failed]}
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(!p.path("new.txt").exists());
}

#[test]
fn an_existing_hard_link_takes_attributes_without_src() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - copy: {content: "x", dest: "{{ playbook_dir }}/orig"}
    - file: {src: "{{ playbook_dir }}/orig", dest: "{{ playbook_dir }}/hard", state: hard}
    - file: {dest: "{{ playbook_dir }}/hard", mode: "0701"}
      register: moded
    - stat: {path: "{{ playbook_dir }}/orig"}
      register: st
    - file: {path: "{{ playbook_dir }}/sticky", state: touch, mode: "u=r,g=r,o=r,+t"}
      register: sticky
    - stat: {path: "{{ playbook_dir }}/sticky"}
      register: sticky_stat
    - file: {dest: "{{ playbook_dir }}/new-hard", state: hard}
      register: nosrc
      ignore_errors: true
    - file: {src: no-such-file, dest: "{{ playbook_dir }}/h2", state: hard}
      register: badsrc
      ignore_errors: true
    - assert:
        that:
          - moded is changed
          - "st.stat.mode == '0701'"
          - nosrc.msg == 'src is required for creating new hardlinks'
          - badsrc.msg == 'src does not exist'
          - badsrc.src == 'no-such-file'
          - badsrc.dest == playbook_dir ~ '/h2'
          # The file modules say '0%03o', stat '%04o', as in Ansible.
          - "sticky.mode == '01444'"
          - "sticky_stat.stat.mode == '1444'"
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn removing_a_directory_lists_its_content_in_the_diff() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - file: {path: "{{ playbook_dir }}/tree/sub", state: directory}
    - copy: {content: "x", dest: "{{ playbook_dir }}/tree/sub/f"}
    - file: {path: "{{ playbook_dir }}/tree", state: absent}
      check_mode: true
      diff: true
      register: r
    - assert:
        that:
          - (playbook_dir ~ '/tree/sub') in r.diff.before.path_content.directories
          - (playbook_dir ~ '/tree/sub/f') in r.diff.before.path_content.files
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(p.path("tree/sub/f").exists());
}

#[test]
fn assert_takes_a_list_variable_and_refuses_its_unsafe_items() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  vars:
    good: [1 == 1, '{{ 2 > 1 }}']
    tainted: [true, !unsafe 1 == 0]
  tasks:
    - assert: {that: '{{ good }}'}
    - assert: {that: '{{ tainted }}'}
      register: r
      ignore_errors: true
    - debug: msg=never
      when: !unsafe 1 == 1
      register: w
      ignore_errors: true
    - assert:
        that:
          - r is failed
          - r.msg is contains 'untrusted template or expression'
          - w is failed
          - w.msg is contains 'untrusted template or expression'
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn template_lookup_turns_a_dict_literal_into_data() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  vars:
    data: "{{ lookup('template', 'dict.j2') }}"
    text: "{{ lookup('template', 'dict.j2', convert_data=False) }}"
  tasks:
    - assert:
        that:
          - data['foo'] == 'bar'
          - text is string
"#,
    );
    p.write(
        "templates/dict.j2",
        "{% macro m() %}{{ {\"foo\": \"bar\"} }}{% endmacro %}\n{{ m() }}\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn a_handler_name_that_cannot_render_is_unusable_and_said_so() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - include_role: {name: r}
"#,
    );
    p.write(
        "roles/r/tasks/main.yml",
        "- command: \"true\"\n  notify: handler with myvar\n",
    )
    .write(
        "roles/r/handlers/main.yml",
        "- name: handler with {{ nope_var }}\n  debug: msg=never\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(1), "{}", r.both());
    assert!(
        r.stderr
            .contains("[WARNING]: Handler 'handler with {{ nope_var }}' is unusable"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("The requested handler 'handler with myvar' was not found"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("never"), "{}", r.stdout);
}

#[test]
fn roles_cannot_be_handlers() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: "true"
      notify: h
  handlers:
    - name: h
      include_role: {name: whatever}
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(4), "{}", r.both());
    assert!(
        r.stderr
            .contains("Using 'include_role' as a handler is not supported."),
        "{}",
        r.stderr
    );
}

#[test]
fn tasks_a_handler_includes_are_not_handlers_themselves() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: "true"
      notify: inc
    - meta: flush_handlers
    - command: "true"
      notify: from_include
  handlers:
    - name: inc
      include_tasks: h.yml
"#,
    );
    p.write(
        "h.yml",
        "- name: from_include\n  debug: msg=I-was-included\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(1), "{}", r.both());
    assert_eq!(
        r.stdout.matches("I-was-included").count(),
        1,
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("The requested handler 'from_include' was not found"),
        "{}",
        r.stderr
    );
}

#[test]
fn meta_tasks_show_their_banner_and_say_what_they_did_at_vv() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - meta: noop
    - command: "true"
      notify: noop_handler
    - meta: flush_handlers
  handlers:
    - name: noop_handler
      meta: noop
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(
        r.stdout.matches("\nTASK [meta] *").count(),
        2,
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\nRUNNING HANDLER [noop_handler] *"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("META:"), "{}", r.stdout);
    let r = p.playbook("inv.ini", "site.yml", &["-vv"]);
    assert_eq!(r.stdout.matches("META: noop").count(), 2, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("META: triggered running handlers for alpha"),
        "{}",
        r.stdout
    );
}

#[test]
fn force_handlers_runs_what_a_handler_includes() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: "true"
      notify: h
    - fail: msg=expected
  handlers:
    - name: h
      include_tasks: h.yml
"#,
    );
    p.write("h.yml", "- debug: msg=included-handler-ran\n");
    let r = p.playbook("inv.ini", "site.yml", &["--force-handlers"]);
    assert_eq!(r.code, Some(2), "{}", r.both());
    assert_eq!(
        r.stdout.matches("included-handler-ran").count(),
        1,
        "{}",
        r.stdout
    );
}

#[test]
fn flush_handlers_cannot_be_a_handler() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: "true"
      notify: h
  handlers:
    - name: h
      meta: flush_handlers
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(1), "{}", r.both());
    assert!(
        r.stderr
            .contains("[ERROR]: flush_handlers cannot be used as a handler"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_false_when_skips_a_flush() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: "true"
      notify: h
    - meta: flush_handlers
      when: false
    - debug: msg=after-skipped-flush
  handlers:
    - name: h
      debug: msg=handler-ran
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    let after = r.stdout.find("after-skipped-flush").unwrap();
    let ran = r.stdout.find("handler-ran").unwrap();
    assert!(ran > after, "{}", r.stdout);
}

#[test]
fn blocks_inside_handlers_are_refused() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - debug: msg=x
  handlers:
    - name: h
      block:
        - debug: msg=fine
        - block:
            - debug: msg=nested
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(4), "{}", r.both());
    assert!(
        r.stderr
            .contains("Using a block as a handler is not supported."),
        "{}",
        r.stderr
    );

    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: "true"
      notify: h
  handlers:
    - name: h
      include_tasks: hb.yml
"#,
    );
    p.write("hb.yml", "- block:\n    - debug: msg=in-block\n");
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(2), "{}", r.both());
    assert!(
        r.stdout
            .contains("Using a block as a handler is not supported."),
        "{}",
        r.stdout
    );
    // Imported, it is refused when loading.
    p.write(
        "site.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - debug: msg=x\n  handlers:\n    - import_tasks: hb.yml\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(4), "{}", r.both());
    assert!(
        r.stderr
            .contains("Using a block as a handler is not supported."),
        "{}",
        r.stderr
    );
}

#[test]
fn adhoc_include_role_runs_the_handlers_of_roles_it_includes() {
    let p = project("");
    p.write("roles/r1/tasks/main.yml", "- include_role:\n    name: r2\n")
        .write("roles/r1/defaults/main.yml", "v: foo\n")
        .write(
            "roles/r2/tasks/main.yml",
            "- command: \"true\"\n  notify: h\n",
        )
        .write(
            "roles/r2/handlers/main.yml",
            "- name: h\n  debug: msg=\"handler saw {{ v }}\"\n",
        );
    let out = p
        .tutti()
        .args([
            "adhoc",
            "alpha",
            "-i",
            "inv.ini",
            "-m",
            "include_role",
            "-a",
            "name=r1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("\"msg\": \"handler saw foo\""), "{stdout}");
    assert!(!p.path("ansible-adhoc.yml").exists());
}

#[test]
fn copy_a_directory_on_the_target_with_remote_src() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - file: {path: "{{ playbook_dir }}/src/sub", state: directory}
    - file: {path: "{{ playbook_dir }}/src/empty", state: directory}
    - copy: {content: "one\n", dest: "{{ playbook_dir }}/src/a.txt"}
    - copy: {content: "two\n", dest: "{{ playbook_dir }}/src/sub/b.txt"}
    - file: {src: a.txt, dest: "{{ playbook_dir }}/src/link.txt", state: link}
    - copy: {src: "{{ playbook_dir }}/src/", dest: "{{ playbook_dir }}/contents/", remote_src: true}
      register: contents
    - copy: {src: "{{ playbook_dir }}/src/", dest: "{{ playbook_dir }}/links/", remote_src: true, local_follow: false}
    - copy: {src: "{{ playbook_dir }}/src", dest: "{{ playbook_dir }}/whole/", remote_src: true}
    - assert: {that: [contents is changed]}
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(common::project::read(&p.path("contents/a.txt")), "one\n");
    assert_eq!(
        common::project::read(&p.path("contents/sub/b.txt")),
        "two\n"
    );
    assert!(p.path("contents/empty").is_dir());
    // Symlinks are followed (copied as files) unless local_follow: false.
    assert_eq!(common::project::read(&p.path("contents/link.txt")), "one\n");
    assert!(!p.path("contents/link.txt").is_symlink());
    assert_eq!(
        std::fs::read_link(p.path("links/link.txt"))
            .unwrap()
            .to_str(),
        Some("a.txt")
    );
    assert_eq!(
        common::project::read(&p.path("whole/src/sub/b.txt")),
        "two\n"
    );
    // In sync the second time.
    std::fs::write(
        p.path("site.yml"),
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - copy: {src: "{{ playbook_dir }}/src/", dest: "{{ playbook_dir }}/contents/", remote_src: true}
      register: again
    - assert: {that: [again is not changed]}
"#,
    )
    .unwrap();
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn copy_keeps_symlinks_with_local_follow_false() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - copy: {src: tree, dest: "{{ playbook_dir }}/out/", local_follow: false}
      register: first
    - copy: {src: tree, dest: "{{ playbook_dir }}/out/", local_follow: false}
      register: second
    - assert: {that: [first is changed, second is not changed]}
"#,
    );
    p.write("files/tree/real.txt", "real\n");
    std::os::unix::fs::symlink("real.txt", p.path("files/tree/link.txt")).unwrap();
    // Followed by default, except a dangling link and one that loops.
    p.write("files/followed/sub/f.txt", "f\n");
    std::os::unix::fs::symlink("nowhere", p.path("files/followed/dangling")).unwrap();
    std::os::unix::fs::symlink("..", p.path("files/followed/sub/loop")).unwrap();
    std::os::unix::fs::symlink("sub/f.txt", p.path("files/followed/tofile")).unwrap();
    p.write(
        "follow.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - copy: {src: followed, dest: \"{{ playbook_dir }}/out2/\"}\n",
    );
    let r = p.playbook("inv.ini", "follow.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(
        common::project::read(&p.path("out2/followed/tofile")),
        "f\n"
    );
    assert!(!p.path("out2/followed/tofile").is_symlink());
    assert_eq!(
        std::fs::read_link(p.path("out2/followed/dangling"))
            .unwrap()
            .to_str(),
        Some("nowhere")
    );
    assert_eq!(
        std::fs::read_link(p.path("out2/followed/sub/loop"))
            .unwrap()
            .to_str(),
        Some("..")
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    let link = p.path("out/tree/link.txt");
    assert_eq!(
        std::fs::read_link(&link).unwrap().to_str(),
        Some("real.txt")
    );
    assert_eq!(
        common::project::read(&p.path("out/tree/real.txt")),
        "real\n"
    );
}

#[test]
fn copying_a_vaulted_file_without_a_password_says_so() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - copy: {src: secret.txt, dest: "{{ playbook_dir }}/out.txt"}
      register: r
      ignore_errors: true
    - assert:
        that:
          - r is failed
          - r.msg.endswith('A vault password or secret must be specified to decrypt ' ~ playbook_dir ~ '/files/secret.txt')
"#,
    );
    p.write(
        "files/secret.txt",
        "$ANSIBLE_VAULT;1.1;AES256\n6162636465\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn copy_refuses_a_remote_source_that_is_not_a_file() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - copy: {src: /dev/null, dest: "{{ playbook_dir }}/x", remote_src: true}
      register: r
      ignore_errors: true
    - assert: {that: ["'not a file' in r.msg"]}
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn action_mappings_take_args_under_args() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - action:
        module: ansible.legacy.assert
        args:
          that: '{{ 1 + 1 == 2 }}'
    - action:
        module: debug
        msg: inline-arg
    - assert: '{{ my_args }}'
      vars:
        my_args: {that: 1 == 1}
    - debug: '{{ dargs }}'
      vars:
        dargs: {msg: whole-dict-args}
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(r.stdout.contains("inline-arg"), "{}", r.stdout);
    assert!(r.stdout.contains("whole-dict-args"), "{}", r.stdout);
}

#[test]
fn allow_broken_conditionals_and_the_config_lookup() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  vars:
    allowed: "{{ lookup('config', 'ALLOW_BROKEN_CONDITIONALS') }}"
  tasks:
    - assert: {that: "'non-empty string'"}
      register: r
      ignore_errors: true
    - assert: {that: [r.failed != allowed]}
"#,
    );
    let strict = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(strict.code, Some(0), "{}", strict.both());
    let out = p
        .tutti()
        .env("ANSIBLE_ALLOW_BROKEN_CONDITIONALS", "1")
        .args(["playbook", "-i", "inv.ini", "site.yml"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("DEPRECATION WARNING"));
}

#[test]
fn check_mode_warns_about_owners_that_do_not_exist_yet() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - file: {path: "{{ playbook_dir }}/f", state: touch, owner: tutti-nobody-yet, group: '4242424'}
      check_mode: true
      register: missing
    - file: {path: "{{ playbook_dir }}/f", state: touch, owner: root}
      check_mode: true
      register: present
    - assert:
        that:
          - missing.warnings[0] is search('failed to look up user tutti-nobody-yet')
          - missing.warnings[1] is search('failed to look up group with gid 4242424')
          - present.warnings is not defined
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert!(!p.path("f").exists());
}

#[test]
fn recursive_modes_follow_links_when_asked() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - file: {path: "{{ playbook_dir }}/target", state: touch, mode: "0700"}
    - file: {path: "{{ playbook_dir }}/tree", state: directory, mode: "0700"}
    - file: {path: "{{ playbook_dir }}/tree/link", src: ../target, state: link}
    - file: {path: "{{ playbook_dir }}/tree/dangling", src: nowhere, state: link, force: true}
    - file: {path: "{{ playbook_dir }}/tree", recurse: true, follow: false, mode: a-x}
    - stat: {path: "{{ playbook_dir }}/target"}
      register: untouched
    # The top directory is now right; what lies under it still differs.
    - file: {path: "{{ playbook_dir }}/tree", recurse: true, follow: true, mode: a-x}
      register: second
    - stat: {path: "{{ playbook_dir }}/target"}
      register: followed
    - file: {path: "{{ playbook_dir }}/tree", recurse: true, follow: true, mode: a-x}
      register: third
    - assert:
        that:
          - "untouched.stat.mode == '0700'"
          - second is changed
          - "followed.stat.mode == '0600'"
          - third is not changed
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn ansible_debug_logs_implicit_flushes_that_run_handlers() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - command: "true"
      notify: h
      tags: t
    - debug: msg=untagged
  handlers:
    - name: h
      debug: msg=handler-ran
"#,
    );
    let run = |args: &[&str]| {
        let out = p
            .tutti()
            .env("ANSIBLE_DEBUG", "1")
            .args(["playbook", "-i", "inv.ini", "site.yml"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = run(&["--tags", "t"]);
    assert_eq!(
        out.matches("META: triggered running handlers").count(),
        1,
        "{out}"
    );
    let out = run(&["--skip-tags", "t"]);
    assert_eq!(
        out.matches("META: triggered running handlers").count(),
        0,
        "{out}"
    );
}

#[test]
fn archive_modes_given_as_yaml_octal_integers() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - file: {path: "{{ playbook_dir }}/in", state: directory}
    - copy: {content: "x\n", dest: "{{ playbook_dir }}/in/a.txt"}
    - archive: {path: "{{ playbook_dir }}/in", dest: "{{ playbook_dir }}/a.tgz", mode: 0600}
    - stat: {path: "{{ playbook_dir }}/a.tgz"}
      register: st
    - file: {path: "{{ playbook_dir }}/out", state: directory}
    - unarchive: {src: "{{ playbook_dir }}/a.tgz", dest: "{{ playbook_dir }}/out", remote_src: true, mode: 0640}
    - stat: {path: "{{ playbook_dir }}/out/in/a.txt"}
      register: member
    - assert:
        that:
          - "st.stat.mode == '0600'"
          - "member.stat.mode == '0640'"
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

#[test]
fn known_hosts_keeps_a_cert_authority_line_once() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - known_hosts:
        path: "{{ playbook_dir }}/kh"
        name: "*.example.com"
        key: "@cert-authority *.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKZfbMlrLwKlzqZeDmTOfAUozhwh38pjb+1cS2CaShnX"
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    let again = p.playbook("inv.ini", "site.yml", &[]);
    assert!(again.stdout.contains("changed=0"), "{}", again.both());
    let text = common::project::read(&p.path("kh"));
    assert_eq!(text.matches("@cert-authority").count(), 1, "{text}");
}

#[test]
fn a_macro_that_includes_sees_the_templates_imports_and_errors_name_the_variable() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - set_fact:
        out: "{{ lookup('template', 'main.j2') }}"
    - assert:
        that:
          - out == 'A T|1 B T|1\n'
    - debug:
        msg: "{{ lookup('template', 'broken.j2') }}"
      register: broken
      ignore_errors: true
    - assert:
        that:
          - broken is failed
          - broken.msg is contains("'undefined_variable' is undefined")
"#,
    );
    p.write("templates/v.j2", "{% set test = 'T' %}\n")
        // Jinja drops an included template's last newline.
        .write("templates/inc.j2", "{{ vv.test }}|{{ x }}\n")
        .write(
            "templates/main.j2",
            "{% import 'v.j2' as vv with context %}{% set x = 1 %}{% macro m() %}{% include 'inc.j2' %}{% endmacro %}A {{ m() }} B {% include 'inc.j2' %}\n",
        )
        .write("templates/bad-import.j2", "{{ undefined_variable }}\n")
        .write(
            "templates/broken.j2",
            "{% import 'bad-import.j2' as t %}\n{{ t }}\n",
        );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

/// Static role imports: play vars name the role, its defaults and vars are
/// seen by the whole play (before the import too), `allow_duplicates` and
/// `public` on the import and include are honoured, options that belong to
/// dynamic includes are refused while loading.
#[test]
fn role_imports_expose_their_vars_and_honour_duplicates_and_public() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  vars:
    which: shared
  tasks:
    - assert:
        that:
          - shared_default == 'from defaults'
          - shared_var == 'from vars'
    - import_role:
        name: "{{ which }}"
    - import_role:
        name: shared
        allow_duplicates: false
    - include_role:
        name: private
    - assert:
        that:
          - private_default is undefined
    - include_role:
        name: private
        public: true
    - assert:
        that:
          - private_default == 'now public'
    - include_role:
        name: private
        allow_duplicates: false
    - debug:
        var: private_runs
"#,
    );
    p.write(
        "roles/shared/defaults/main.yml",
        "shared_default: from defaults\n",
    )
    .write("roles/shared/vars/main.yml", "shared_var: from vars\n")
    .write(
        "roles/shared/tasks/main.yml",
        "- debug: {msg: shared ran}\n",
    )
    .write(
        "roles/private/defaults/main.yml",
        "private_default: now public\n",
    )
    .write(
        "roles/private/tasks/main.yml",
        "- set_fact:\n    private_runs: \"{{ (private_runs | default(0)) + 1 }}\"\n",
    );
    let (r, events) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    let m = msgs(&events, "alpha");
    // The second import is a duplicate the import refuses.
    assert_eq!(m.iter().filter(|x| *x == "shared ran").count(), 1, "{m:?}");
    // Two includes ran the role; the third (allow_duplicates: false) not.
    let last = results(&events, "alpha");
    let runs = &last.last().unwrap()["result"]["private_runs"];
    assert_eq!(*runs, 2, "{runs}");

    let bad = project(
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - import_tasks:\n        file: x.yml\n        apply: {tags: [t]}\n",
    );
    let r = bad.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(4), "{}", r.both());
    assert!(
        r.stderr.contains("Invalid options for import_tasks: apply"),
        "{}",
        r.stderr
    );
}

/// `run_once` on a dynamic include: only the first host processes it (its
/// tasks run there alone), and facts a `run_once` task sets reach every
/// host; a pattern's `!group` also excludes hosts added at run time.
#[test]
fn run_once_includes_and_facts_and_exclusions_of_added_groups() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - add_host: {name: extra, groups: [later], ansible_connection: local}
- hosts: all:!later
  gather_facts: false
  vars:
    lola: untouched
  tasks:
    - include_tasks: set.yml
      run_once: true
    - assert:
        that:
          - (lola == 'set') == (inventory_hostname == ansible_play_hosts[0])
    - include_tasks:
        file: set.yml
        apply: {run_once: true}
      run_once: true
    - assert:
        that:
          - lola == 'set'
          - "'extra' not in ansible_play_hosts"
"#,
    );
    p.write("set.yml", "- set_fact: {lola: set}\n");
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

/// A delegated task sees its delegate's variables in
/// `ansible_delegated_vars`.
#[test]
fn delegated_tasks_see_ansible_delegated_vars() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - assert:
        that:
          - ansible_delegated_vars['beta'].inventory_hostname == 'beta'
          - ansible_delegated_vars['beta'].ansible_connection == 'local'
      delegate_to: beta
    - assert:
        that:
          - ansible_delegated_vars is undefined
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
}

/// An included file that will not parse stops the run (a rescue cannot
/// catch it) with the file's line, an include naming no file is refused
/// while loading, and a missing file fails the host with Ansible's words.
#[test]
fn include_files_that_fail_to_load() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - block:
        - include_tasks: broken.yml
      rescue:
        - debug: {msg: SHOULD_NOT_RUN}
"#,
    );
    p.write("broken.yml", "- no.such.module:\n");
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(4), "{}", r.both());
    assert!(!r.stdout.contains("SHOULD_NOT_RUN"), "{}", r.both());
    assert!(r.both().contains("broken.yml:1:3"), "{}", r.both());

    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - block:
        - include_tasks: missing.yml
      rescue:
        - debug: {msg: rescued}
    - include_tasks: nofile.yml
"#,
    );
    p.write(
        "nofile.yml",
        "- name: no file\n  ansible.builtin.include_tasks:\n",
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert!(r.stdout.contains("rescued"), "{}", r.both());
    assert!(
        r.both().contains("Could not find or access"),
        "{}",
        r.both()
    );
    assert!(
        r.both()
            .contains("No file specified for ansible.builtin.include_tasks"),
        "{}",
        r.both()
    );
    assert_eq!(r.code, Some(4), "{}", r.both());
}

/// A notify that names no handler is reported when its play starts, so
/// the plays before it run (Ansible finds it only while running);
/// `--syntax-check` reports it at once.
#[test]
fn a_missing_handler_stops_its_play_not_the_ones_before() {
    let p = project(
        r#"- hosts: alpha
  gather_facts: false
  tasks:
    - debug: {msg: first play ran}
- hosts: alpha
  gather_facts: false
  tasks:
    - command: "true"
      notify: nowhere
"#,
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(4), "{}", r.both());
    assert!(r.stdout.contains("first play ran"), "{}", r.both());
    assert!(
        r.both()
            .contains("The requested handler 'nowhere' was not found"),
        "{}",
        r.both()
    );
    let r = p.playbook("inv.ini", "site.yml", &["--syntax-check"]);
    assert_eq!(r.code, Some(4), "{}", r.both());
}

/// A dynamic include takes only the keywords that act on the include
/// itself: `become`, `environment`, `delegate_to`... are load errors, as in
/// ansible-core, and its own `ignore_errors` and `no_log` stay off its
/// tasks (a block's, or `apply:`, reach them).
#[test]
fn dynamic_includes_keep_their_keywords_to_themselves() {
    for (action, kind) in [
        ("include_tasks: inner.yml", "TaskInclude"),
        ("include_role: {name: r}", "IncludeRole"),
    ] {
        for kw in ["become: true", "environment: {A: b}", "delegate_to: beta"] {
            let p = project(&format!(
                "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - {action}\n      {kw}\n"
            ));
            p.write("inner.yml", "- debug: {msg: in}\n")
                .write("roles/r/tasks/main.yml", "- debug: {msg: in}\n");
            let r = p.playbook("inv.ini", "site.yml", &[]);
            assert_eq!(r.code, Some(4), "{}", r.both());
            let key = kw.split(':').next().unwrap();
            let want = format!("'{key}' is not a valid attribute for a {kind}");
            assert!(r.stderr.contains(&want), "{}", r.both());
            assert!(r.stderr.contains("site.yml:4:7"), "{}", r.both());
        }
    }

    let p = project(
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - include_tasks: inner.yml\n      ignore_errors: true\n      no_log: true\n      vars: {word: shown}\n    - debug: {msg: not reached}\n",
    );
    p.write(
        "inner.yml",
        "- debug: {msg: \"{{ word }}\"}\n- fail: {msg: boom}\n- debug: {msg: after}\n",
    );
    let (r, events) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(2), "{}", r.both());
    assert_eq!(msgs(&events, "alpha"), ["shown", "boom"]);

    let p = project(
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - block:\n        - include_tasks: inner.yml\n      ignore_errors: true\n    - include_tasks:\n        file: inner.yml\n        apply: {ignore_errors: true}\n    - debug: {msg: end}\n",
    );
    p.write("inner.yml", "- fail: {msg: boom}\n");
    let (r, events) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(msgs(&events, "alpha"), ["boom", "boom", "end"]);
    assert_eq!(recap(&events, "alpha")["ignored"], 2);

    // An enclosing block's `when` holds each included task back again; the
    // include's own `when` was for the include alone.
    let p = project(
        "- hosts: alpha
  gather_facts: false
  vars: {flag: true, go: true}
  tasks:
    - block:
        - include_tasks: inner.yml
          when: go
        - include_role: {name: r}
      when: flag
    - debug: {msg: end}
",
    );
    p.write(
        "inner.yml",
        "- set_fact: {go: false}
- debug: {msg: still go}
- set_fact: {flag: false}
- debug: {msg: after flip}
",
    )
    .write(
        "roles/r/tasks/main.yml",
        "- debug: {msg: role ran}
",
    );
    let (r, events) = p.playbook_json("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(msgs(&events, "alpha"), ["still go", "end"]);
}
