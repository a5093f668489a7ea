//! Golden tests for the `default`-callback renderer: event sequences in,
//! exact bytes out, starting with the ansible-core 2.19 sample from the
//! reference (two hosts, a diff, a skipped task, a failure with its
//! `[ERROR]` origin block, a handler and the recap).

use serde_json::{Map, Value, json};
use tutti::output::events::{HostStats, PlaybookEvent, ResultStatus, TaskKind, TaskResult};
use tutti::output::human::{Human, HumanOptions, Stream};

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn res(host: &str, status: ResultStatus, action: &str, result: Value) -> TaskResult {
    TaskResult {
        host: host.into(),
        delegate: None,
        status,
        action: action.into(),
        result: obj(result),
        item: None,
        loop_summary: false,
        ignored: false,
        no_log: false,
        show_diff: false,
        verbosity: 0,
        origin: None,
    }
}

fn ev(r: TaskResult) -> PlaybookEvent {
    PlaybookEvent::Result(Box::new(r))
}

fn task(name: &str) -> PlaybookEvent {
    PlaybookEvent::TaskStart {
        name: name.into(),
        kind: TaskKind::Task,
        path: format!("/srv/demo/site.yml:{}", name.len()),
        check_mode: false,
    }
}

fn play(name: &str) -> PlaybookEvent {
    PlaybookEvent::PlayStart {
        name: name.into(),
        check_mode: false,
    }
}

fn stats(ok: u32, changed: u32, failed: u32, skipped: u32) -> HostStats {
    HostStats {
        ok,
        changed,
        failed,
        skipped,
        ..HostStats::default()
    }
}

/// Renders all events; returns (stdout, stderr, both in order).
fn run(opts: HumanOptions, events: &[PlaybookEvent]) -> (String, String, String) {
    let mut h = Human::new(opts);
    let (mut out, mut err, mut all) = (Vec::new(), Vec::new(), Vec::new());
    for e in events {
        let r = h.render(e);
        out.extend_from_slice(&r.stdout);
        err.extend_from_slice(&r.stderr);
        all.extend_from_slice(&r.combined());
    }
    let s = |b: Vec<u8>| String::from_utf8(b).unwrap_or_else(|e| panic!("not UTF-8: {e}"));
    (s(out), s(err), s(all))
}

fn all(opts: HumanOptions, events: &[PlaybookEvent]) -> String {
    run(opts, events).2
}

fn plain() -> HumanOptions {
    HumanOptions::default()
}

fn stars(prefix: &str) -> String {
    format!("\n{prefix} {}\n", "*".repeat(79 - prefix.chars().count()))
}

const GOLDEN: &str = r#"
PLAY [Demo play] ***************************************************************

TASK [Say hi] ******************************************************************
ok: [alpha] => {
    "msg": "hello from alpha"
}
ok: [beta] => {
    "msg": "hello from beta"
}

TASK [Write a file] ************************************************************
--- before
+++ after: /srv/demo/out-beta.txt
@@ -0,0 +1 @@
+value=7

changed: [beta]
--- before: /srv/demo/out-alpha.txt
+++ after: /srv/demo/out-alpha.txt
@@ -1 +1 @@
-value=1
+value=42

changed: [alpha]

TASK [Skip on beta] ************************************************************
skipping: [beta]
ok: [alpha]

TASK [Fail on beta] ************************************************************
skipping: [alpha]
[ERROR]: Task failed: Module failed: non-zero return code
Origin: /srv/demo/site.yml:17:7

15       when: inventory_hostname == 'alpha'
16       changed_when: false
17     - name: Fail on beta
         ^ column 7

fatal: [beta]: FAILED! => {"changed": true, "cmd": ["/bin/false"], "delta": "0:00:00.004883", "end": "…", "msg": "non-zero return code", "rc": 1, "start": "…", "stderr": "", "stderr_lines": [], "stdout": "", "stdout_lines": []}

RUNNING HANDLER [Restart thing] ************************************************
ok: [alpha] => {
    "msg": "restarted"
}

PLAY RECAP *********************************************************************
alpha                      : ok=4    changed=1    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0   
beta                       : ok=2    changed=1    unreachable=0    failed=1    skipped=1    rescued=0    ignored=0   
"#;

fn golden_events(site: &str) -> Vec<PlaybookEvent> {
    let diffed = |host: &str, diff: Value| {
        let mut r = res(
            host,
            ResultStatus::Changed,
            "copy",
            json!({"changed": true, "diff": diff, "dest": "x"}),
        );
        r.show_diff = true;
        ev(r)
    };
    let mut fail = res(
        "beta",
        ResultStatus::Failed,
        "command",
        json!({
            "changed": true, "cmd": ["/bin/false"], "delta": "0:00:00.004883", "end": "…",
            "failed": true, "msg": "non-zero return code", "rc": 1, "start": "…",
            "stderr": "", "stderr_lines": [], "stdout": "", "stdout_lines": [],
            "invocation": {"module_args": {"cmd": "/bin/false"}},
            "_ansible_no_log": false
        }),
    );
    fail.origin = Some((site.to_string(), 17, 7));
    vec![
        PlaybookEvent::Playbook {
            path: site.into(),
            plays: 1,
        },
        play("Demo play"),
        task("Say hi"),
        ev(res(
            "alpha",
            ResultStatus::Ok,
            "ansible.builtin.debug",
            json!({"msg": "hello from alpha", "changed": false, "failed": false}),
        )),
        ev(res(
            "beta",
            ResultStatus::Ok,
            "debug",
            json!({"msg": "hello from beta", "changed": false, "_ansible_verbose_always": true}),
        )),
        task("Write a file"),
        diffed(
            "beta",
            json!({"before": "", "after": "value=7\n", "after_header": "/srv/demo/out-beta.txt"}),
        ),
        diffed(
            "alpha",
            json!([{"before": "value=1\n", "after": "value=42\n",
                    "before_header": "/srv/demo/out-alpha.txt", "after_header": "/srv/demo/out-alpha.txt"}]),
        ),
        task("Skip on beta"),
        ev(res(
            "beta",
            ResultStatus::Skipped,
            "command",
            json!({"changed": false, "skipped": true, "skip_reason": "Conditional result was False"}),
        )),
        ev(res(
            "alpha",
            ResultStatus::Ok,
            "command",
            json!({"changed": false, "rc": 0}),
        )),
        task("Fail on beta"),
        ev(res(
            "alpha",
            ResultStatus::Skipped,
            "command",
            json!({"changed": false, "skipped": true}),
        )),
        ev(fail),
        PlaybookEvent::TaskStart {
            name: "Restart thing".into(),
            kind: TaskKind::Handler,
            path: String::new(),
            check_mode: false,
        },
        ev(res(
            "alpha",
            ResultStatus::Ok,
            "debug",
            json!({"msg": "restarted"}),
        )),
        PlaybookEvent::Recap(vec![
            ("beta".into(), stats(2, 1, 1, 1)),
            ("alpha".into(), stats(4, 1, 0, 1)),
        ]),
    ]
}

fn write_site() -> tempfile::NamedTempFile {
    let mut body = String::new();
    for i in 1..=14 {
        body.push_str(&format!("# line {i}\n"));
    }
    body.push_str("      when: inventory_hostname == 'alpha'\n");
    body.push_str("      changed_when: false\n");
    body.push_str("    - name: Fail on beta\n");
    body.push_str("      command: /bin/false\n");
    let f = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(f.path(), body).unwrap_or_else(|e| panic!("{e}"));
    f
}

#[test]
fn golden_sample_from_ansible_core_2_19() {
    let site = write_site();
    let path = site.path().to_string_lossy().into_owned();
    let (out, err, both) = run(plain(), &golden_events(&path));
    // Ansible ends the recap with an empty line (not visible in the sample).
    let expected = GOLDEN.replace("/srv/demo/site.yml:17:7", &format!("{path}:17:7")) + "\n";
    assert_eq!(both, expected);
    // 2.19 prints the `[ERROR]` block on stdout with the `fatal:` line.
    assert_eq!(out, expected);
    assert_eq!(err, "");
}

#[test]
fn golden_sample_error_block_without_readable_file() {
    let (out, _, _) = run(plain(), &golden_events("/nonexistent/site.yml"));
    assert!(
        out.contains(
            "skipping: [alpha]\n[ERROR]: Task failed: Module failed: non-zero return code\nOrigin: /nonexistent/site.yml:17:7\n\nfatal: [beta]"
        ),
        "{out}"
    );
}

#[test]
fn error_block_wording_for_actions_and_short_files() {
    let mut f = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
    std::io::Write::write_all(&mut f, b"- fail:\n    msg: boom\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let path = f.path().to_string_lossy().into_owned();
    let mut r = res(
        "h",
        ResultStatus::Failed,
        "fail",
        json!({"changed": false, "failed": true, "msg": "boom"}),
    );
    r.origin = Some((path.clone(), 1, 3));
    r.ignored = true;
    let text = all(plain(), &[task("t"), ev(r)]);
    assert_eq!(
        text,
        format!(
            "{}[ERROR]: Task failed: Action failed: boom\nOrigin: {path}:1:3\n\n1 - fail:\n    ^ column 3\n\nfatal: [h]: FAILED! => {{\"changed\": false, \"msg\": \"boom\"}}\n...ignoring\n",
            stars("TASK [t]")
        )
    );
}

#[test]
fn recap_in_colour() {
    let opts = HumanOptions {
        color: true,
        ..plain()
    };
    let text = all(
        opts,
        &[PlaybookEvent::Recap(vec![
            ("web1".into(), stats(3, 0, 0, 0)),
            ("db1".into(), stats(2, 1, 0, 4)),
            (
                "bad".into(),
                HostStats {
                    unreachable: 1,
                    rescued: 1,
                    ignored: 2,
                    failed: 1,
                    ..HostStats::default()
                },
            ),
        ])],
    );
    // Python pads the coloured name to 37 characters, escapes included:
    // 26 visible, as without colour.
    let expected = format!(
        "{}{}{}{}\n",
        stars("PLAY RECAP"),
        "\x1b[0;31mbad\x1b[0m                        : ok=0    changed=0    \x1b[1;31munreachable=1   \x1b[0m \x1b[0;31mfailed=1   \x1b[0m skipped=0    \x1b[0;32mrescued=1   \x1b[0m \x1b[1;35mignored=2   \x1b[0m\n",
        "\x1b[0;33mdb1\x1b[0m                        : \x1b[0;32mok=2   \x1b[0m \x1b[0;33mchanged=1   \x1b[0m unreachable=0    failed=0    \x1b[0;36mskipped=4   \x1b[0m rescued=0    ignored=0   \n",
        "\x1b[0;32mweb1\x1b[0m                       : \x1b[0;32mok=3   \x1b[0m changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   \n",
    );
    assert_eq!(text, expected);
}

#[test]
fn result_lines_in_colour() {
    let opts = HumanOptions {
        color: true,
        ..plain()
    };
    let text = all(
        opts,
        &[
            task("t"),
            ev(res(
                "a",
                ResultStatus::Ok,
                "ping",
                json!({"changed": false}),
            )),
            ev(res(
                "b",
                ResultStatus::Changed,
                "file",
                json!({"changed": true}),
            )),
            ev(res(
                "c",
                ResultStatus::Skipped,
                "file",
                json!({"changed": false}),
            )),
            ev(res(
                "d",
                ResultStatus::Unreachable,
                "file",
                json!({"msg": "no route", "unreachable": true}),
            )),
            PlaybookEvent::Warning("careful".into()),
        ],
    );
    assert_eq!(
        text,
        format!(
            "{}\x1b[0;32mok: [a]\x1b[0m\n\x1b[0;33mchanged: [b]\x1b[0m\n\x1b[0;36mskipping: [c]\x1b[0m\n\x1b[1;31mfatal: [d]: UNREACHABLE! => {{\"msg\": \"no route\", \"unreachable\": true}}\x1b[0m\n\x1b[1;35m[WARNING]: careful\x1b[0m\n",
            stars("TASK [t]")
        )
    );
}

#[test]
fn loop_items() {
    let item = |status, item: Value, result: Value| {
        let mut r = res("web1", status, "file", result);
        r.item = Some(item);
        ev(r)
    };
    let summary = |status, ignored| {
        let mut r = res(
            "web1",
            status,
            "file",
            json!({"changed": true, "msg": "One or more items failed", "results": []}),
        );
        r.loop_summary = true;
        r.ignored = ignored;
        ev(r)
    };
    let text = all(
        plain(),
        &[
            task("loop"),
            item(
                ResultStatus::Ok,
                json!("a"),
                json!({"changed": false, "item": "a"}),
            ),
            item(
                ResultStatus::Changed,
                json!({"name": "b", "mode": "0644"}),
                json!({"changed": true}),
            ),
            item(
                ResultStatus::Skipped,
                json!(["x", 1, null]),
                json!({"changed": false}),
            ),
            item(
                ResultStatus::Failed,
                json!(3),
                json!({"ansible_loop_var": "item", "changed": false, "failed": true, "item": 3, "msg": "bad"}),
            ),
            summary(ResultStatus::Failed, true),
        ],
    );
    assert_eq!(
        text,
        format!(
            "{}ok: [web1] => (item=a)\nchanged: [web1] => (item={{'name': 'b', 'mode': '0644'}})\nskipping: [web1] => (item=['x', 1, None]) \nfailed: [web1] (item=3) => {{\"ansible_loop_var\": \"item\", \"changed\": false, \"item\": 3, \"msg\": \"bad\"}}\n...ignoring\n",
            stars("TASK [loop]")
        )
    );

    // An ok/changed loop's final result prints nothing; an all-skipped one
    // prints `skipping: [host]` after its items.
    let mut ok_sum = res(
        "h",
        ResultStatus::Changed,
        "file",
        json!({"changed": true, "results": []}),
    );
    ok_sum.loop_summary = true;
    let mut skip_sum = res(
        "h",
        ResultStatus::Skipped,
        "file",
        json!({"changed": false, "msg": "All items skipped", "results": [], "skipped": true}),
    );
    skip_sum.loop_summary = true;
    assert_eq!(all(plain(), &[task("t"), ev(ok_sum)]), stars("TASK [t]"));
    assert_eq!(
        all(plain(), &[task("t"), ev(skip_sum.clone())]),
        format!("{}skipping: [h]\n", stars("TASK [t]"))
    );
    let v = HumanOptions {
        verbosity: 1,
        ..plain()
    };
    assert_eq!(
        all(v, &[task("t"), ev(skip_sum)]),
        format!(
            "{}skipping: [h] => {{\"changed\": false, \"msg\": \"All items skipped\"}}\n",
            stars("TASK [t]")
        )
    );
}

#[test]
fn no_log_items_are_censored() {
    let mut r = res(
        "h",
        ResultStatus::Ok,
        "user",
        json!({"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result", "changed": false}),
    );
    r.item = Some(json!("secret"));
    r.no_log = true;
    let v = HumanOptions {
        verbosity: 1,
        ..plain()
    };
    assert_eq!(
        all(v, &[task("t"), ev(r)]),
        format!(
            "{}ok: [h] => (item=(censored due to no_log)) => {{\"censored\": \"the output has been hidden due to the fact that 'no_log: true' was specified for this result\", \"changed\": false}}\n",
            stars("TASK [t]")
        )
    );
}

#[test]
fn retries() {
    let retry = |left| PlaybookEvent::Retrying {
        host: "web1".into(),
        task: "Wait for port".into(),
        retries_left: left,
        result: obj(
            json!({"attempts": 1, "changed": false, "failed": true, "msg": "timeout", "retries": 3}),
        ),
    };
    let text = all(plain(), &[task("Wait for port"), retry(2), retry(1)]);
    assert_eq!(
        text,
        format!(
            "{}FAILED - RETRYING: [web1]: Wait for port (2 retries left).\nFAILED - RETRYING: [web1]: Wait for port (1 retries left).\n",
            stars("TASK [Wait for port]")
        )
    );
    let vvv = HumanOptions {
        verbosity: 3,
        ..plain()
    };
    let text = all(vvv, &[retry(2)]);
    assert_eq!(
        text,
        "FAILED - RETRYING: [web1]: Wait for port (2 retries left).Result was: {\n    \"attempts\": 1,\n    \"changed\": false,\n    \"msg\": \"timeout\",\n    \"retries\": 3\n}\n"
    );
}

fn diff_result(diff: Value) -> TaskResult {
    let mut r = res(
        "h",
        ResultStatus::Changed,
        "template",
        json!({"changed": true, "diff": diff}),
    );
    r.show_diff = true;
    r
}

#[test]
fn diff_new_and_changed_files() {
    let text = all(
        plain(),
        &[
            task("t"),
            ev(diff_result(
                json!({"before": "", "after": "a\nb\n", "after_header": "/etc/new"}),
            )),
            ev(diff_result(json!({
                "before": "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
                "after": "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10",
                "before_header": "/etc/x", "after_header": "/etc/x"
            }))),
        ],
    );
    assert_eq!(
        text,
        format!(
            "{}--- before\n+++ after: /etc/new\n@@ -0,0 +1,2 @@\n+a\n+b\n\nchanged: [h]\n--- before: /etc/x\n+++ after: /etc/x\n@@ -2,9 +2,9 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n 9\n-10\n+10\n\\ No newline at end of file\n\nchanged: [h]\n",
            stars("TASK [t]")
        )
    );
}

#[test]
fn diff_shown_only_when_changed_and_asked() {
    let mut not_changed = diff_result(json!({"before": "a\n", "after": "b\n"}));
    not_changed.status = ResultStatus::Ok;
    not_changed
        .result
        .insert("changed".into(), Value::Bool(false));
    let mut not_asked = diff_result(json!({"before": "a\n", "after": "b\n"}));
    not_asked.show_diff = false;
    let same = diff_result(json!({"before": "a\n", "after": "a\n"}));
    let text = all(
        plain(),
        &[task("t"), ev(not_changed), ev(not_asked), ev(same)],
    );
    assert_eq!(
        text,
        format!("{}ok: [h]\nchanged: [h]\nchanged: [h]\n", stars("TASK [t]"))
    );
}

/// Under `no_log` 2.19 prints no diff at all (the censored result has no
/// `diff` key by the time the callback sees it).
#[test]
fn diff_no_log_binary_large_prepared() {
    let mut hidden = diff_result(json!({"before": "pw=1\n", "after": "pw=2\n"}));
    hidden.no_log = true;
    let big = "x".repeat(104_449);
    let text = all(
        plain(),
        &[
            task("t"),
            ev(hidden),
            ev(diff_result(json!({"before": "a\u{0}b", "after": "ab\n"}))),
            ev(diff_result(json!({"before": "", "after": big}))),
            ev(diff_result(
                json!({"before": "x".repeat(104_448), "after": "y"}),
            )),
            ev(diff_result(
                json!({"prepared": "changed: /etc/foo mode 0644 -> 0600"}),
            )),
            ev(diff_result(json!([{"dst_binary": 1}, {"prepared": "p\n"}]))),
        ],
    );
    assert_eq!(
        text,
        format!(
            "{}changed: [h]\ndiff skipped: destination file appears to be binary\nchanged: [h]\ndiff skipped: source file size is greater than 104448\nchanged: [h]\n--- before\n+++ after\n@@ -1 +1 @@\n-{}\n\\ No newline at end of file\n+y\n\\ No newline at end of file\n\nchanged: [h]\nchanged: /etc/foo mode 0644 -> 0600\nchanged: [h]\ndiff skipped: destination file appears to be binary\np\nchanged: [h]\n",
            stars("TASK [t]"),
            "x".repeat(104_448)
        )
    );
}

#[test]
fn diff_of_structured_values_and_loop_items() {
    let mut item = diff_result(json!({"before": {"b": 1, "a": [1]}, "after": {"a": [1], "b": 2}}));
    item.item = Some(json!("k"));
    let text = all(plain(), &[task("t"), ev(item)]);
    assert_eq!(
        text,
        format!(
            "{}--- before\n+++ after\n@@ -2,5 +2,5 @@\n     \"a\": [\n         1\n     ],\n-    \"b\": 1\n+    \"b\": 2\n }}\n\nchanged: [h] => (item=k)\n",
            stars("TASK [t]")
        )
    );
}

#[test]
fn diff_in_colour() {
    let opts = HumanOptions {
        color: true,
        ..plain()
    };
    let text = all(
        opts,
        &[ev(diff_result(
            json!({"before": "a\nb\n", "after": "a\nc\n"}),
        ))],
    );
    let r = |s: &str| format!("\x1b[0;31m{s}\x1b[0m\n\x1b[0;31m\x1b[0m");
    let g = |s: &str| format!("\x1b[0;32m{s}\x1b[0m\n\x1b[0;32m\x1b[0m");
    let c = |s: &str| format!("\x1b[0;36m{s}\x1b[0m\n\x1b[0;36m\x1b[0m");
    assert_eq!(
        text,
        format!(
            "{}{}{} a\n{}{}\n\x1b[0;33mchanged: [h]\x1b[0m\n",
            r("--- before") + &g("+++ after"),
            c("@@ -1,2 +1,2 @@"),
            "",
            r("-b"),
            g("+c"),
        )
    );
}

#[test]
fn verbose_result_bodies() {
    let events = |_: ()| {
        vec![
            task("t"),
            ev(res(
                "h",
                ResultStatus::Changed,
                "command",
                json!({"changed": true, "failed": false, "rc": 0, "stdout": "hi",
                       "invocation": {"module_args": {"cmd": "echo hi"}},
                       "diff": {"before": "", "after": ""},
                       "_ansible_no_log": false, "warnings": []}),
            )),
            ev(res(
                "h",
                ResultStatus::Ok,
                "setup",
                json!({"ansible_facts": {"x": 1}, "changed": false, "_ansible_verbose_override": true}),
            )),
            ev(res(
                "h",
                ResultStatus::Skipped,
                "command",
                json!({"changed": false, "skipped": true, "false_condition": "x", "skip_reason": "Conditional result was False"}),
            )),
        ]
    };
    assert_eq!(
        all(plain(), &events(())),
        format!(
            "{}changed: [h]\nok: [h]\nskipping: [h]\n",
            stars("TASK [t]")
        )
    );
    let v1 = HumanOptions {
        verbosity: 1,
        ..plain()
    };
    assert_eq!(
        all(v1, &events(())),
        format!(
            "{}changed: [h] => {{\"changed\": true, \"rc\": 0, \"stdout\": \"hi\", \"warnings\": []}}\nok: [h]\nskipping: [h] => {{\"changed\": false, \"false_condition\": \"x\", \"skip_reason\": \"Conditional result was False\"}}\n",
            stars("TASK [t]")
        )
    );
    let v3 = HumanOptions {
        verbosity: 3,
        ..plain()
    };
    let text = all(v3, &events(()));
    assert!(
        text.contains(
            "changed: [h] => {\n    \"changed\": true,\n    \"diff\": {\n        \"after\": \"\",\n        \"before\": \"\"\n    },\n    \"invocation\": {\n        \"module_args\": {\n            \"cmd\": \"echo hi\"\n        }\n    },\n    \"rc\": 0,\n"
        ),
        "{text}"
    );
}

#[test]
fn debug_results_and_their_verbosity() {
    let mut quiet = res(
        "h",
        ResultStatus::Ok,
        "debug",
        json!({"msg": "only at -vv"}),
    );
    quiet.verbosity = 2;
    let var = res(
        "h",
        ResultStatus::Ok,
        "debug",
        json!({"changed": false, "failed": false, "my_var": {"a": [1, 2]}}),
    );
    let text = all(plain(), &[task("t"), ev(quiet.clone()), ev(var)]);
    assert_eq!(
        text,
        format!(
            "{}skipping: [h]\nok: [h] => {{\n    \"my_var\": {{\n        \"a\": [\n            1,\n            2\n        ]\n    }}\n}}\n",
            stars("TASK [t]")
        )
    );
    let vv = HumanOptions {
        verbosity: 2,
        ..plain()
    };
    assert_eq!(
        all(vv, &[ev(quiet)]),
        "ok: [h] => {\n    \"msg\": \"only at -vv\"\n}\n"
    );
}

#[test]
fn vv_shows_playbook_task_path_and_notifications() {
    let vv = HumanOptions {
        verbosity: 2,
        ..plain()
    };
    let text = all(
        vv,
        &[
            PlaybookEvent::Playbook {
                path: "/srv/demo/site.yml".into(),
                plays: 1,
            },
            play(""),
            PlaybookEvent::TaskStart {
                name: "Copy".into(),
                kind: TaskKind::Task,
                path: "/srv/demo/site.yml:12".into(),
                check_mode: false,
            },
            ev(res(
                "h",
                ResultStatus::Ok,
                "copy",
                json!({"changed": false}),
            )),
            PlaybookEvent::HandlerNotified {
                handler: "Restart".into(),
                host: "h".into(),
            },
        ],
    );
    assert_eq!(
        text,
        format!(
            "{}1 plays in /srv/demo/site.yml\n{}{}task path: /srv/demo/site.yml:12\nok: [h] => {{\"changed\": false}}\nNOTIFIED HANDLER Restart for h\n",
            stars("PLAYBOOK: site.yml"),
            stars("PLAY"),
            stars("TASK [Copy]")
        )
    );
    // Below -vv none of these show.
    let text = all(
        plain(),
        &[
            PlaybookEvent::Playbook {
                path: "/srv/demo/site.yml".into(),
                plays: 1,
            },
            PlaybookEvent::HandlerNotified {
                handler: "Restart".into(),
                host: "h".into(),
            },
        ],
    );
    assert_eq!(text, "");
}

#[test]
fn skipped_hosts_hidden_and_lazy_banners() {
    let opts = HumanOptions {
        display_skipped_hosts: false,
        ..plain()
    };
    let text = all(
        opts,
        &[
            play("p"),
            task("all skipped"),
            ev(res(
                "a",
                ResultStatus::Skipped,
                "command",
                json!({"changed": false}),
            )),
            ev(res(
                "b",
                ResultStatus::Skipped,
                "command",
                json!({"changed": false}),
            )),
            task("mixed"),
            ev(res(
                "a",
                ResultStatus::Skipped,
                "command",
                json!({"changed": false}),
            )),
            ev(res(
                "b",
                ResultStatus::Ok,
                "command",
                json!({"changed": false}),
            )),
            ev(res(
                "c",
                ResultStatus::Ok,
                "command",
                json!({"changed": false}),
            )),
            task("never shown"),
            PlaybookEvent::NoMoreHosts,
        ],
    );
    assert_eq!(
        text,
        format!(
            "{}{}ok: [b]\nok: [c]\n{}",
            stars("PLAY [p]"),
            stars("TASK [mixed]"),
            stars("NO MORE HOSTS LEFT")
        )
    );
}

#[test]
fn ok_hosts_hidden() {
    let opts = HumanOptions {
        display_ok_hosts: false,
        ..plain()
    };
    let text = all(
        opts,
        &[
            task("quiet"),
            ev(res("a", ResultStatus::Ok, "debug", json!({"msg": "hi"}))),
            task("loud"),
            ev(res(
                "a",
                ResultStatus::Ok,
                "file",
                json!({"changed": false}),
            )),
            ev(res(
                "b",
                ResultStatus::Changed,
                "file",
                json!({"changed": true}),
            )),
            ev(res(
                "c",
                ResultStatus::Skipped,
                "file",
                json!({"changed": false}),
            )),
        ],
    );
    assert_eq!(
        text,
        format!("{}changed: [b]\nskipping: [c]\n", stars("TASK [loud]"))
    );
}

#[test]
fn delegate_labels() {
    let mut ok = res(
        "web1",
        ResultStatus::Changed,
        "command",
        json!({"changed": true}),
    );
    ok.delegate = Some("lb1".into());
    let mut failed = res(
        "web2",
        ResultStatus::Failed,
        "command",
        json!({"changed": false, "msg": "x"}),
    );
    failed.delegate = Some("lb1".into());
    let mut item = res(
        "web3",
        ResultStatus::Ok,
        "command",
        json!({"changed": false}),
    );
    item.delegate = Some("lb1".into());
    item.item = Some(json!("i"));
    let mut skipped = res(
        "web4",
        ResultStatus::Skipped,
        "command",
        json!({"changed": false}),
    );
    skipped.delegate = Some("lb1".into());
    let text = all(
        plain(),
        &[task("t"), ev(ok), ev(failed), ev(item), ev(skipped)],
    );
    assert_eq!(
        text,
        format!(
            "{}changed: [web1 -> lb1]\nfatal: [web2 -> lb1]: FAILED! => {{\"changed\": false, \"msg\": \"x\"}}\nok: [web3 -> lb1] => (item=i)\nskipping: [web4]\n",
            stars("TASK [t]")
        )
    );
}

#[test]
fn warnings_errors_and_includes() {
    let r = res(
        "h",
        ResultStatus::Ok,
        "command",
        json!({"changed": false, "warnings": ["w1", "w1"], "deprecations": [{"msg": "old", "version": "2.0"}]}),
    );
    let (out, err, both) = run(
        plain(),
        &[
            PlaybookEvent::Warning("w0".into()),
            PlaybookEvent::Warning("w0".into()),
            PlaybookEvent::Deprecation("d0".into()),
            PlaybookEvent::Error("bad thing".into()),
            task("inc"),
            PlaybookEvent::Included {
                file: "/srv/tasks/x.yml".into(),
                hosts: vec!["a".into(), "b".into()],
            },
            ev(r),
            PlaybookEvent::NoHostsMatched,
        ],
    );
    assert_eq!(
        err,
        "[WARNING]: w0\n[DEPRECATION WARNING]: d0\n[ERROR]: bad thing\n[WARNING]: w1\n[DEPRECATION WARNING]: old This feature will be removed in version 2.0.\n"
    );
    assert_eq!(
        out,
        format!(
            "{}included: /srv/tasks/x.yml for a, b\nok: [h]\nskipping: no hosts matched\n",
            stars("TASK [inc]")
        )
    );
    assert!(both.contains("for a, b\n[WARNING]: w1\n"), "{both}");
}

#[test]
fn check_mode_markers_and_long_banners() {
    let opts = HumanOptions {
        check_mode_markers: true,
        columns: 30,
        ..plain()
    };
    let text = all(
        opts,
        &[
            PlaybookEvent::PlayStart {
                name: "p".into(),
                check_mode: true,
            },
            PlaybookEvent::TaskStart {
                name: "a rather long task name indeed".into(),
                kind: TaskKind::Task,
                path: String::new(),
                check_mode: true,
            },
        ],
    );
    assert_eq!(
        text,
        "\nPLAY [p] [CHECK MODE] *********\n\nTASK [a rather long task name indeed] [CHECK MODE] ***\n"
    );
}

#[test]
fn rendered_chunks_keep_stream_order() {
    let opts = HumanOptions {
        display_skipped_hosts: false,
        ..plain()
    };
    let mut h = Human::new(opts);
    let _ = h.render(&task("t"));
    let mut r = res(
        "h",
        ResultStatus::Failed,
        "command",
        json!({"changed": false, "msg": "m", "warnings": ["w"]}),
    );
    r.origin = Some(("/nonexistent".into(), 1, 1));
    let out = h.render(&ev(r));
    let streams: Vec<Stream> = out.chunks.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        streams,
        vec![Stream::Stdout, Stream::Stderr, Stream::Stdout]
    );
    let mut so = Vec::new();
    let mut se = Vec::new();
    out.write_to(&mut so, &mut se)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(so, out.stdout);
    assert_eq!(se, out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "[WARNING]: w\n");
    assert_eq!(
        String::from_utf8_lossy(&out.combined()),
        format!(
            "{}[ERROR]: Task failed: Module failed: m\nOrigin: /nonexistent:1:1\n\n[WARNING]: w\nfatal: [h]: FAILED! => {{\"changed\": false, \"msg\": \"m\"}}\n",
            stars("TASK [t]")
        )
    );
}

#[test]
fn error_block_once_per_text_and_in_colour() {
    let mut f = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
    let body: String =
        (1..=9).map(|i| format!("l{i}\n")).collect::<String>() + "\n    - name: boom\n";
    std::io::Write::write_all(&mut f, body.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let path = f.path().to_string_lossy().into_owned();
    let failed = |host: &str| {
        let mut r = res(
            host,
            ResultStatus::Failed,
            "command",
            json!({"changed": true, "msg": "non-zero return code", "rc": 1}),
        );
        r.origin = Some((path.clone(), 11, 7));
        ev(r)
    };
    // Line numbers are right-aligned; an empty line gets no trailing space.
    let block = format!(
        "[ERROR]: Task failed: Module failed: non-zero return code\nOrigin: {path}:11:7\n\n 9 l9\n10\n11     - name: boom\n         ^ column 7\n\n"
    );
    let text = all(plain(), &[task("t"), failed("h1"), failed("h2")]);
    assert_eq!(
        text,
        format!(
            "{}{block}fatal: [h1]: FAILED! => {{\"changed\": true, \"msg\": \"non-zero return code\", \"rc\": 1}}\nfatal: [h2]: FAILED! => {{\"changed\": true, \"msg\": \"non-zero return code\", \"rc\": 1}}\n",
            stars("TASK [t]")
        )
    );
    let opts = HumanOptions {
        color: true,
        ..plain()
    };
    let text = all(opts, &[failed("h1")]);
    let red: String = block
        .trim_end_matches('\n')
        .split('\n')
        .chain([""])
        .map(|l| format!("\x1b[0;31m{l}\x1b[0m\n"))
        .collect();
    assert_eq!(
        text,
        format!(
            "{red}\x1b[0;31mfatal: [h1]: FAILED! => {{\"changed\": true, \"msg\": \"non-zero return code\", \"rc\": 1}}\x1b[0m\n"
        )
    );
}

#[test]
fn unreachable_error_block_keeps_one_prefix() {
    let mut r = res(
        "bad",
        ResultStatus::Unreachable,
        "ping",
        json!({"changed": false, "msg": "Task failed: Failed to connect to the host via ssh: no route", "unreachable": true}),
    );
    r.origin = Some(("/nonexistent.yml".into(), 3, 7));
    let text = all(plain(), &[ev(r)]);
    assert_eq!(
        text,
        "[ERROR]: Task failed: Failed to connect to the host via ssh: no route\nOrigin: /nonexistent.yml:3:7\n\nfatal: [bad]: UNREACHABLE! => {\"changed\": false, \"msg\": \"Task failed: Failed to connect to the host via ssh: no route\", \"unreachable\": true}\n"
    );
}
