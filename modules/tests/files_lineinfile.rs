//! `lineinfile` against FakeHost through the shared harness: Ansible's
//! placement rules, backrefs, firstmatch, absent, create, non-UTF-8 bytes,
//! validate, backup, and the errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod files_support;

use files_support::*;
use serde_json::json;
use tutti_modules::testing::{FakeHost, Matcher, Reply};

fn sshd() -> FakeHost {
    FakeHost::new().with_file("/etc/ssh/sshd_config", fixture("lineinfile", "sshd_config"))
}

const P: &str = "/etc/ssh/sshd_config";

#[tokio::test]
async fn regexp_replaces_the_last_match_and_is_one_probe_one_run() {
    let host = sshd();
    let r = converge(
        "lineinfile",
        json!({"path": P, "regexp": "^#?PermitRootLogin", "line": "PermitRootLogin no"}),
        &host,
    )
    .await;
    assert!(changed(&r));
    assert_eq!(
        text(&host, P),
        "# sshd\nPort 22\nPermitRootLogin no\nPasswordAuthentication yes\nListenAddress 0.0.0.0\nListenAddress ::\n"
    );
    assert_eq!(
        r.applied.as_ref().unwrap().msg.as_deref(),
        Some("line replaced")
    );
    assert_eq!((probes(&r), runs(&r)), (1, 1));
    // Ansible's diff headers.
    let tutti_modules::Plan::Change { diff, .. } = &r.plan else {
        panic!()
    };
    assert_eq!(
        diff[0].before_header.as_deref(),
        Some("/etc/ssh/sshd_config (content)")
    );
    assert!(diff[0].after.contains("PermitRootLogin no"));
}

#[tokio::test]
async fn last_match_wins_unless_firstmatch() {
    let host = sshd();
    converge(
        "lineinfile",
        json!({"path": P, "regexp": "^ListenAddress", "line": "ListenAddress 10.0.0.1"}),
        &host,
    )
    .await;
    assert!(text(&host, P).ends_with("ListenAddress 0.0.0.0\nListenAddress 10.0.0.1\n"));
    let host = sshd();
    converge(
        "lineinfile",
        json!({"path": P, "regexp": "^ListenAddress", "line": "ListenAddress 10.0.0.1", "firstmatch": true}),
        &host,
    )
    .await;
    assert!(text(&host, P).ends_with("ListenAddress 10.0.0.1\nListenAddress ::\n"));
}

#[tokio::test]
async fn insertafter_insertbefore_bof_eof() {
    let host = FakeHost::new().with_file("/f", "a\nb\na\nc\n");
    converge(
        "lineinfile",
        json!({"path": "/f", "line": "X", "insertafter": "^a"}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/f"), "a\nb\na\nX\nc\n");

    let host = FakeHost::new().with_file("/f", "a\nb\na\nc\n");
    converge(
        "lineinfile",
        json!({"path": "/f", "line": "X", "insertafter": "^a", "firstmatch": true}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/f"), "a\nX\nb\na\nc\n");

    let host = FakeHost::new().with_file("/f", "a\nb\na\nc\n");
    converge(
        "lineinfile",
        json!({"path": "/f", "line": "X", "insertbefore": "^a"}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/f"), "a\nb\nX\na\nc\n");

    let host = FakeHost::new().with_file("/f", "a\nb\n");
    converge(
        "lineinfile",
        json!({"path": "/f", "line": "X", "insertbefore": "BOF"}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/f"), "X\na\nb\n");

    // No match for insertafter: appended at EOF; missing final newline added.
    let host = FakeHost::new().with_file("/f", "a\nb");
    converge(
        "lineinfile",
        json!({"path": "/f", "line": "X", "insertafter": "^zzz"}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/f"), "a\nb\nX\n");

    // The line already present anywhere: nothing to do.
    let host = FakeHost::new().with_file("/f", "a\nX\nb\n");
    let r = converge(
        "lineinfile",
        json!({"path": "/f", "line": "X", "insertafter": "^b"}),
        &host,
    )
    .await;
    assert!(!changed(&r));
}

#[tokio::test]
async fn backrefs_expand_groups_and_no_match_changes_nothing() {
    let host = FakeHost::new().with_file("/f", "port = 80\nname = x\n");
    converge(
        "lineinfile",
        json!({"path": "/f", "regexp": r"^port = (?P<n>\d+)$", "line": r"port = \g<n>0 # was \1", "backrefs": true}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/f"), "port = 800 # was 80\nname = x\n");
    let r = converge(
        "lineinfile",
        json!({"path": "/f", "regexp": "^nomatch(.*)", "line": r"\1", "backrefs": true}),
        &host,
    )
    .await;
    assert!(!changed(&r));
}

#[tokio::test]
async fn absent_removes_every_match_with_ansibles_message() {
    let host = sshd();
    let r = converge(
        "lineinfile",
        json!({"path": P, "state": "absent", "regexp": "^ListenAddress"}),
        &host,
    )
    .await;
    assert_eq!(
        r.applied.as_ref().unwrap().msg.as_deref(),
        Some("2 line(s) removed")
    );
    assert_eq!(r.result()["found"], 2);
    assert!(!text(&host, P).contains("Listen"));
    let r = converge(
        "lineinfile",
        json!({"path": "/nope", "state": "absent", "line": "x"}),
        &host,
    )
    .await;
    assert_eq!(r.result()["msg"], "file not present");
}

#[tokio::test]
async fn non_utf8_bytes_survive_an_edit() {
    let host = FakeHost::new().with_file("/f", fixture("lineinfile", "latin1.txt"));
    converge(
        "lineinfile",
        json!({"path": "/f", "regexp": "^alpha", "line": "ALPHA"}),
        &host,
    )
    .await;
    assert_eq!(
        content(&host, "/f"),
        b"ALPHA\n\xff\xfe binary \xc3 line\nomega".to_vec()
    );
}

#[tokio::test]
async fn create_with_mode_and_missing_parent() {
    let host = FakeHost::new();
    let r = converge(
        "lineinfile",
        json!({"path": "/etc/new.d/x.conf", "line": "k=v", "create": true, "mode": "0600"}),
        &host,
    )
    .await;
    assert!(changed(&r));
    assert_eq!(text(&host, "/etc/new.d/x.conf"), "k=v\n");
    assert_eq!(host.node("/etc/new.d/x.conf").unwrap().mode, 0o600);
    let e = fails(
        "lineinfile",
        json!({"path": "/etc/none", "line": "x"}),
        &FakeHost::new(),
    )
    .await;
    assert_eq!(msg(&e), "Destination /etc/none does not exist !");
}

#[tokio::test]
async fn attributes_only_change_and_yaml_int_mode() {
    let host = FakeHost::new().with_file("/f", "x\n");
    host.modify("/f", |n| n.mode = 0o600);
    let r = converge(
        "lineinfile",
        json!({"path": "/f", "line": "x", "mode": 420}),
        &host,
    )
    .await;
    assert!(changed(&r));
    assert_eq!(host.node("/f").unwrap().mode, 0o644);
    assert_eq!(
        r.applied.as_ref().unwrap().msg.as_deref(),
        Some("ownership, perms or SE linux context changed")
    );
}

#[tokio::test]
async fn validate_failure_leaves_dest_untouched_and_backup_is_named_like_ansible() {
    let host = sshd().on(
        Matcher::prefix("sshd -t -f"),
        Reply::output(255, "", "bad config"),
    );
    let e = fails(
        "lineinfile",
        json!({"path": P, "line": "Bogus yes", "validate": "sshd -t -f %s"}),
        &host,
    )
    .await;
    assert_eq!(msg(&e), "failed to validate");
    let tutti_modules::ModuleError::Failed { result, .. } = &e else {
        panic!()
    };
    assert_eq!(result["exit_status"], 255);
    assert_eq!(result["stderr"], "bad config");
    assert_eq!(content(&host, P), fixture("lineinfile", "sshd_config"));
    assert!(!host.fs_paths().iter().any(|p| p.contains(".tutti.")));

    let host = sshd();
    let r = converge(
        "lineinfile",
        json!({"path": P, "line": "UseDNS no", "backup": true}),
        &host,
    )
    .await;
    let backup = r.result()["backup"].as_str().unwrap().to_string();
    let re =
        regex::Regex::new(r"^/etc/ssh/sshd_config\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$").unwrap();
    assert!(re.is_match(&backup), "{backup}");
    assert_eq!(
        content(&host, &backup),
        fixture("lineinfile", "sshd_config")
    );
}

#[tokio::test]
async fn bad_parameters_fail_before_io() {
    let m = tutti_modules::find("lineinfile").unwrap();
    let e =
        tutti_modules::testing::prepare_err(m, tutti_modules::testing::args(json!({"path": "/f"})));
    assert_eq!(e.msg, "line is required with state=present");
    let e = tutti_modules::testing::prepare_err(
        m,
        tutti_modules::testing::args(json!({"path": "/f", "line": "x", "backrefs": true})),
    );
    assert_eq!(e.msg, "regexp is required with backrefs=true");
    let e = tutti_modules::testing::prepare_err(
        m,
        tutti_modules::testing::args(json!({"path": "/f", "line": "x", "validate": "true"})),
    );
    assert_eq!(e.msg, "validate must contain %s: true");
    let e = fails(
        "lineinfile",
        json!({"path": "/", "line": "x"}),
        &FakeHost::new(),
    )
    .await;
    assert_eq!(msg(&e), "Path / is a directory !");
}

#[test]
fn empty_patterns_warn() {
    let m = tutti_modules::find("lineinfile").unwrap();
    let p = |args| m.prepare(tutti_modules::testing::args(args)).ok().unwrap();
    let w = p(json!({"path": "/f", "regexp": "", "line": "x"})).warnings();
    assert_eq!(w.len(), 1);
    assert!(
        w[0].starts_with("The regular expression is an empty string"),
        "{w:?}"
    );
    assert!(w[0].ends_with("avoid this warning."), "{w:?}");
    let w = p(json!({"path": "/f", "search_string": "", "line": "x"})).warnings();
    assert!(
        w[0].starts_with("The search string is an empty string"),
        "{w:?}"
    );
    assert!(
        p(json!({"path": "/f", "regexp": "^a", "line": "x"}))
            .warnings()
            .is_empty()
    );
}
