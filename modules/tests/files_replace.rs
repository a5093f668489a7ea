//! `replace` against FakeHost through the shared harness.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod files_support;

use files_support::*;
use serde_json::json;
use tutti_modules::testing::{FakeHost, Matcher, Reply};

fn nginx() -> FakeHost {
    FakeHost::new().with_file("/etc/nginx.conf", fixture("replace", "nginx.conf"))
}

#[tokio::test]
async fn replaces_all_with_python_backrefs() {
    let host = nginx();
    let r = converge(
        "replace",
        json!({"path": "/etc/nginx.conf", "regexp": r"old\.(?P<dom>example)\.com", "replace": r"new.\g<dom>.org"}),
        &host,
    )
    .await;
    assert_eq!(
        r.applied.as_ref().unwrap().msg.as_deref(),
        Some("2 replacements made")
    );
    assert!(!text(&host, "/etc/nginx.conf").contains("old."));
    assert_eq!(
        text(&host, "/etc/nginx.conf")
            .matches("new.example.org")
            .count(),
        2
    );
    let tutti_modules::Plan::Change { diff, .. } = &r.plan else {
        panic!()
    };
    assert_eq!(diff[0].before_header.as_deref(), Some("/etc/nginx.conf"));
}

#[tokio::test]
async fn after_and_before_limit_the_region() {
    let host = nginx();
    converge(
        "replace",
        json!({"path": "/etc/nginx.conf", "after": "upstream", "regexp": "old", "replace": "up"}),
        &host,
    )
    .await;
    let t = text(&host, "/etc/nginx.conf");
    assert!(
        t.contains("server_name old.example.com;") && t.contains("server up.example.com:8080;")
    );
    let host = nginx();
    converge(
        "replace",
        json!({"path": "/etc/nginx.conf", "before": "upstream", "regexp": r"^(\s+)listen 80;", "replace": r"\1listen 8080;"}),
        &host,
    )
    .await;
    assert!(text(&host, "/etc/nginx.conf").contains("    listen 8080;\n"));
    let r = converge(
        "replace",
        json!({"path": "/etc/nginx.conf", "after": "nomatch", "regexp": "x"}),
        &host,
    )
    .await;
    assert!(!changed(&r));
    assert!(
        r.result()["msg"]
            .as_str()
            .unwrap()
            .starts_with("Pattern for before/after params did not match")
    );
}

#[tokio::test]
async fn multiline_anchors_and_lookaround() {
    let host = FakeHost::new().with_file("/f", "a=1\nb=2\n#a=3\n");
    converge(
        "replace",
        json!({"path": "/f", "regexp": "^(?!#)(\\w)=\\d$", "replace": "\\1=0"}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/f"), "a=0\nb=0\n#a=3\n");
}

#[tokio::test]
async fn no_match_is_in_sync_and_non_utf8_is_kept() {
    let host = FakeHost::new().with_file("/f", b"k=\xff\nv=1\n".to_vec());
    let r = converge(
        "replace",
        json!({"path": "/f", "regexp": "zzz", "replace": "y"}),
        &host,
    )
    .await;
    assert!(!changed(&r));
    converge(
        "replace",
        json!({"path": "/f", "regexp": "v=1", "replace": "v=2"}),
        &host,
    )
    .await;
    assert_eq!(content(&host, "/f"), b"k=\xff\nv=2\n".to_vec());
}

#[tokio::test]
async fn errors_missing_file_and_validate() {
    let e = fails(
        "replace",
        json!({"path": "/nope", "regexp": "x"}),
        &FakeHost::new(),
    )
    .await;
    assert_eq!(msg(&e), "Path /nope does not exist !");
    let host = nginx().on(
        Matcher::prefix("nginx -t -c"),
        Reply::output(1, "", "emerg"),
    );
    let e = fails(
        "replace",
        json!({"path": "/etc/nginx.conf", "regexp": "80", "replace": "x", "validate": "nginx -t -c %s"}),
        &host,
    )
    .await;
    assert_eq!(msg(&e), "failed to validate");
    assert_eq!(
        content(&host, "/etc/nginx.conf"),
        fixture("replace", "nginx.conf")
    );
}

#[tokio::test]
async fn backup_and_symbolic_mode() {
    let host = nginx();
    let r = converge(
        "replace",
        json!({"path": "/etc/nginx.conf", "regexp": "80", "replace": "81", "backup": true, "mode": "go-r"}),
        &host,
    )
    .await;
    let b = r.result()["backup_file"].as_str().unwrap().to_string();
    assert_eq!(content(&host, &b), fixture("replace", "nginx.conf"));
    assert_eq!(host.node("/etc/nginx.conf").unwrap().mode, 0o600);
}

/// Python rejects a replacement that escapes an ASCII letter it does not
/// know (`\D`), and Ansible reports it with its own prefix; other escapes
/// keep their backslash, and `\a \f \v` are control characters.
#[test]
fn replacement_escapes_follow_python() {
    let m = tutti_modules::find("replace").unwrap();
    let e = m
        .prepare(tutti_modules::testing::args(
            json!({"path": "/f", "regexp": "\\.", "replace": "\\D"}),
        ))
        .err()
        .expect("bad escape is refused");
    assert_eq!(
        e.msg,
        "Unable to process replace due to error: bad escape \\D at position 0"
    );
}

#[tokio::test]
async fn known_escapes_in_the_replacement() {
    let host = FakeHost::new().with_file("/f", "a.b\n");
    converge(
        "replace",
        json!({"path": "/f", "regexp": "b$", "replace": "\\.\\t\\vB"}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/f"), "a.\\.\t\x0bB\n");
}
