//! Custom modules from `library/`: a Python module reading
//! `ANSIBLE_MODULE_ARGS` on stdin, an old-style shell module reading `k=v`
//! pairs, a WANT_JSON one, failures and crashes, check mode, and a module
//! importing `ansible.module_utils` (here a stand-in package of our own,
//! shipped to the target as a zip once), locally and over sshd.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::process::Command;

use common::fleet::Fleet;
use common::project::{Project, Run};

const INV: &str = "[local]\nlocalhost ansible_connection=local\n";

/// Writes `content` to `path` unless it is already there; honours check mode.
const ENSURE_PY: &str = r#"#!/usr/bin/python3
import json, sys
args = json.loads(sys.stdin.read())["ANSIBLE_MODULE_ARGS"]
path, content = args["path"], args["content"]
try:
    with open(path) as f:
        current = f.read()
except FileNotFoundError:
    current = None
changed = current != content
if changed and not args.get("_ansible_check_mode"):
    with open(path, "w") as f:
        f.write(content)
print(json.dumps({"changed": changed, "path": path, "msg": "written" if changed else "in place"}))
"#;

const OLDSTYLE_SH: &str = r#"#!/bin/sh
. "$1"
echo "{\"changed\": false, \"greeting\": \"$greeting\", \"count\": \"$count\"}"
"#;

const WANT_JSON_SH: &str = r#"#!/bin/sh
# WANT_JSON
printf '{"changed": false, "args": %s}\n' "$(cat "$1")"
"#;

/// Found through `ANSIBLE_LIBRARY`, not beside the playbook.
const FROM_PATH_PY: &str = r#"#!/usr/bin/python3
import json
print(json.dumps({"changed": False, "where": "library path"}))
"#;

const FAILS_PY: &str = r#"#!/usr/bin/python3
import json
print(json.dumps({"failed": True, "msg": "the widget is jammed"}))
"#;

const CRASH_PY: &str = r#"#!/usr/bin/python3
raise SystemExit("this module crashed")
"#;

/// Our stand-in for ansible-core's `module_utils.basic`: just enough of
/// the AnsibleModule interface for the module below.
const BASIC_STUB: &str = r#"import json, sys

class AnsibleModule:
    def __init__(self, argument_spec, supports_check_mode=False):
        self.params = json.loads(sys.stdin.read())["ANSIBLE_MODULE_ARGS"]
        self.check_mode = self.params.get("_ansible_check_mode", False)

    def exit_json(self, **kw):
        kw.setdefault("changed", False)
        print(json.dumps(kw))
        sys.exit(0)
"#;

const USES_UTILS_PY: &str = r#"#!/usr/bin/python3
from ansible.module_utils.basic import AnsibleModule

def main():
    m = AnsibleModule(argument_spec={"who": {}}, supports_check_mode=True)
    m.exit_json(msg="hello " + m.params["who"], check=m.check_mode)

if __name__ == "__main__":
    main()
"#;

fn library(p: &Project) {
    p.write("library/ensure_content.py", ENSURE_PY)
        .write("library/oldstyle", OLDSTYLE_SH)
        .write("library/wantjson.sh", WANT_JSON_SH)
        .write("library/jammed.py", FAILS_PY)
        .write("library/crashes.py", CRASH_PY)
        .write("library/greet.py", USES_UTILS_PY)
        .write("extra-lib/from_library_path.py", FROM_PATH_PY)
        .write("mu/ansible/module_utils/__init__.py", "")
        .write("mu/ansible/module_utils/basic.py", BASIC_STUB);
}

fn run(p: &Project, inventory: &str, extra: &[&str]) -> Run {
    let mut cmd: Command = p.tutti();
    cmd.env("TUTTI_MODULE_UTILS", p.path("mu/ansible/module_utils"))
        .env("ANSIBLE_LIBRARY", p.path("extra-lib"))
        .arg("playbook")
        .arg("-i")
        .arg(p.path(inventory))
        .arg(p.path("site.yml"))
        .args(extra);
    Run::from(cmd.output().expect("run tutti"))
}

#[test]
fn library_modules_run_check_and_report_like_ansibles() {
    let p = Project::new();
    library(&p);
    p.write("inv.ini", INV).write(
        "site.yml",
        r#"- hosts: local
  gather_facts: false
  tasks:
    - ensure_content:
        path: "{{ playbook_dir }}/out.txt"
        content: "hello\n"
      register: w
    - oldstyle: greeting="hi there" count=3
      register: o
    - wantjson:
        nested: {a: [1, 2]}
      register: j
    - greet: who=world
      register: g
    - from_library_path:
      register: lp
    - assert:
        that:
          - o.greeting == 'hi there'
          - o.count == '3'
          - j.args.nested.a == [1, 2]
          - j.args._ansible_check_mode == ansible_check_mode
          - g.msg == 'hello world'
          - g.check == ansible_check_mode
          - lp.where == 'library path'
    - jammed:
      register: jam
      ignore_errors: true
    - crashes:
      register: crash
      ignore_errors: true
    - assert:
        that:
          - jam is failed
          - jam.msg == 'the widget is jammed'
          - crash is failed
          - crash.msg.startswith('MODULE FAILURE')
          - "'this module crashed' in crash.module_stderr"
"#,
    );
    let out = p.path("out.txt");

    let check = run(&p, "inv.ini", &["--check"]);
    assert_eq!(check.code, Some(0), "{}{}", check.stdout, check.stderr);
    assert!(check.stdout.contains("changed=1"), "{}", check.stdout);
    assert!(!out.exists(), "--check wrote the file");

    let first = run(&p, "inv.ini", &[]);
    assert_eq!(first.code, Some(0), "{}{}", first.stdout, first.stderr);
    assert!(first.stdout.contains("changed=1"), "{}", first.stdout);
    assert!(first.stdout.contains("ignored=2"), "{}", first.stdout);
    assert_eq!(fs::read_to_string(&out).unwrap(), "hello\n");

    // The module_utils archive is kept on the target for later runs.
    let tmp = p.path(".ansible/tmp");
    let zips: Vec<_> = fs::read_dir(&tmp)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".zip"))
        .collect();
    assert_eq!(zips.len(), 1, "one archive in {}", tmp.display());
    let mtime = zips[0].metadata().unwrap().modified().unwrap();

    let second = run(&p, "inv.ini", &[]);
    assert_eq!(second.code, Some(0), "{}{}", second.stdout, second.stderr);
    assert!(second.stdout.contains("changed=0"), "{}", second.stdout);
    assert_eq!(zips[0].metadata().unwrap().modified().unwrap(), mtime);
}

#[test]
fn an_unknown_name_is_still_a_load_error_with_a_library() {
    let p = Project::new();
    library(&p);
    p.write("inv.ini", INV).write(
        "site.yml",
        "- hosts: local\n  gather_facts: false\n  tasks:\n    - ensure_contnet: {path: /x, content: y}\n",
    );
    let r = run(&p, "inv.ini", &[]);
    assert_eq!(r.code, Some(4), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("couldn't resolve module/action 'ensure_contnet'"),
        "{}",
        r.stderr
    );
}

#[test]
fn library_modules_run_over_ssh() {
    let fleet = Fleet::start(2);
    let dir = fleet.dir.path();
    fs::create_dir_all(dir.join("library")).unwrap();
    fs::create_dir_all(dir.join("mu/ansible/module_utils")).unwrap();
    fs::write(dir.join("library/greet.py"), USES_UTILS_PY).unwrap();
    fs::write(dir.join("library/oldstyle"), OLDSTYLE_SH).unwrap();
    fs::write(dir.join("mu/ansible/module_utils/__init__.py"), "").unwrap();
    fs::write(dir.join("mu/ansible/module_utils/basic.py"), BASIC_STUB).unwrap();
    let pb = dir.join("custom.yml");
    fs::write(
        &pb,
        r#"- hosts: fleet
  gather_facts: false
  tasks:
    - greet: who={{ inventory_hostname }}
      register: g
    - oldstyle: greeting=remote
      register: o
    - assert:
        that:
          - g.msg == 'hello ' ~ inventory_hostname
          - o.greeting == 'remote'
"#,
    )
    .unwrap();
    for _ in 0..2 {
        let mut cmd = fleet.tutti();
        cmd.env("TUTTI_MODULE_UTILS", dir.join("mu/ansible/module_utils"))
            .args(["playbook", "-i"])
            .arg(&fleet.inventory)
            .arg(&pb);
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("failed=0"), "{stdout}");
    }
}
