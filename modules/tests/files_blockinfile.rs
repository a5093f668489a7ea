//! `blockinfile` against FakeHost through the shared harness.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod files_support;

use files_support::*;
use serde_json::json;
use tutti_modules::testing::{FakeHost, Matcher, Reply};

fn hosts() -> FakeHost {
    FakeHost::new().with_file("/etc/hosts", fixture("blockinfile", "hosts"))
}

#[tokio::test]
async fn replaces_an_existing_block_in_place() {
    let host = hosts();
    let r = converge(
        "blockinfile",
        json!({"path": "/etc/hosts", "block": "10.0.0.2 new\n10.0.0.3 other"}),
        &host,
    )
    .await;
    assert_eq!(
        text(&host, "/etc/hosts"),
        "127.0.0.1 localhost\n\n# BEGIN ANSIBLE MANAGED BLOCK\n10.0.0.2 new\n10.0.0.3 other\n# END ANSIBLE MANAGED BLOCK\n::1 localhost\n"
    );
    assert_eq!(r.applied.unwrap().msg.as_deref(), Some("Block inserted"));
    assert_eq!(
        (
            probes(
                &converge(
                    "blockinfile",
                    json!({"path": "/etc/hosts", "block": "10.0.0.2 new\n10.0.0.3 other"}),
                    &host
                )
                .await
            ),
            0
        ),
        (1, 0)
    );
}

#[tokio::test]
async fn inserts_at_eof_bof_and_after_a_regex() {
    let host = FakeHost::new().with_file("/f", "a\nb\na\nc");
    converge("blockinfile", json!({"path": "/f", "block": "X"}), &host).await;
    assert_eq!(
        text(&host, "/f"),
        "a\nb\na\nc\n# BEGIN ANSIBLE MANAGED BLOCK\nX\n# END ANSIBLE MANAGED BLOCK\n"
    );

    let host = FakeHost::new().with_file("/f", "a\nb\n");
    converge(
        "blockinfile",
        json!({"path": "/f", "block": "X", "insertbefore": "BOF", "marker": "// {mark}"}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/f"), "// BEGIN\nX\n// END\na\nb\n");

    let host = FakeHost::new().with_file("/f", "a\nb\na\nc\n");
    converge("blockinfile", json!({"path": "/f", "block": "X", "insertafter": "^a", "marker_begin": "START", "marker_end": "STOP"}), &host).await;
    assert_eq!(
        text(&host, "/f"),
        "a\nb\na\n# START ANSIBLE MANAGED BLOCK\nX\n# STOP ANSIBLE MANAGED BLOCK\nc\n"
    );

    let host = FakeHost::new().with_file("/f", "a\nb\n");
    converge("blockinfile", json!({"path": "/f", "block": "X", "insertbefore": "^b", "prepend_newline": true, "append_newline": true}), &host).await;
    assert_eq!(
        text(&host, "/f"),
        "a\n\n# BEGIN ANSIBLE MANAGED BLOCK\nX\n# END ANSIBLE MANAGED BLOCK\n\nb\n"
    );
}

#[tokio::test]
async fn absent_and_empty_block_remove_it() {
    let host = hosts();
    let r = converge(
        "blockinfile",
        json!({"path": "/etc/hosts", "state": "absent"}),
        &host,
    )
    .await;
    assert_eq!(r.applied.unwrap().msg.as_deref(), Some("Block removed"));
    assert_eq!(
        text(&host, "/etc/hosts"),
        "127.0.0.1 localhost\n\n::1 localhost\n"
    );
    let host = hosts();
    converge(
        "blockinfile",
        json!({"path": "/etc/hosts", "block": ""}),
        &host,
    )
    .await;
    assert_eq!(
        text(&host, "/etc/hosts"),
        "127.0.0.1 localhost\n\n::1 localhost\n"
    );
}

#[tokio::test]
async fn create_missing_file_and_error_without_create() {
    let host = FakeHost::new().with_dir("/etc");
    let r = converge(
        "blockinfile",
        json!({"path": "/etc/new", "block": "x", "create": true, "mode": "u=rw,go=r"}),
        &host,
    )
    .await;
    assert_eq!(r.applied.unwrap().msg.as_deref(), Some("File created"));
    assert_eq!(host.node("/etc/new").unwrap().mode, 0o644);
    let e = fails(
        "blockinfile",
        json!({"path": "/etc/none", "block": "x"}),
        &host,
    )
    .await;
    assert_eq!(msg(&e), "Path /etc/none does not exist !");
}

#[tokio::test]
async fn non_utf8_outside_the_block_survives() {
    let host = FakeHost::new().with_file("/f", b"\xff\xfe head\n".to_vec());
    converge(
        "blockinfile",
        json!({"path": "/f", "block": "caf\u{e9}"}),
        &host,
    )
    .await;
    assert_eq!(
        content(&host, "/f"),
        b"\xff\xfe head\n# BEGIN ANSIBLE MANAGED BLOCK\ncaf\xc3\xa9\n# END ANSIBLE MANAGED BLOCK\n"
            .to_vec()
    );
}

#[tokio::test]
async fn validate_and_backup() {
    let host = hosts().on(Matcher::prefix("false"), Reply::output(1, "out", "err"));
    let e = fails(
        "blockinfile",
        json!({"path": "/etc/hosts", "block": "x", "validate": "false %s"}),
        &host,
    )
    .await;
    assert_eq!(msg(&e), "failed to validate");
    assert_eq!(
        content(&host, "/etc/hosts"),
        fixture("blockinfile", "hosts")
    );
    let host = hosts();
    let r = converge(
        "blockinfile",
        json!({"path": "/etc/hosts", "block": "x", "backup": true}),
        &host,
    )
    .await;
    let b = r.result()["backup_file"].as_str().unwrap().to_string();
    assert!(b.starts_with("/etc/hosts.4242.") && b.ends_with('~'), "{b}");
}

/// `(?m)` makes insertafter/insertbefore search the whole file, so a
/// pattern may span lines; without it the same pattern never matches a
/// single line and the block goes to the end.
#[tokio::test]
async fn multiline_flag_searches_across_lines() {
    let start = "SID_LIST_LISTENER_DG =\n  (SID_LIST =\n    (SID_DESC =\n";
    let host = FakeHost::new().with_file("/f", start);
    converge(
        "blockinfile",
        json!({"path": "/f", "block": "X", "insertafter": "(?m)SID_LIST_LISTENER_DG =\\n.*\\(SID_LIST =", "marker": "# {mark} 1"}),
        &host,
    )
    .await;
    assert_eq!(
        text(&host, "/f"),
        "SID_LIST_LISTENER_DG =\n  (SID_LIST =\n# BEGIN 1\nX\n# END 1\n    (SID_DESC =\n"
    );
    let host = FakeHost::new().with_file("/f", start);
    converge(
        "blockinfile",
        json!({"path": "/f", "block": "X", "insertbefore": "(?m)LISTENER_DG =\\n.*\\(SID_LIST =", "marker": "# {mark} 1"}),
        &host,
    )
    .await;
    assert!(text(&host, "/f").starts_with("# BEGIN 1\nX\n# END 1\nSID_LIST"));
    let host = FakeHost::new().with_file("/f", start);
    converge(
        "blockinfile",
        json!({"path": "/f", "block": "X", "insertafter": "SID_LIST_LISTENER_DG =\\n.*\\(SID_LIST =", "marker": "# {mark} 2"}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/f"), format!("{start}# BEGIN 2\nX\n# END 2\n"));
}
