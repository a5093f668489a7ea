//! `copy` against FakeHost through the shared harness: content, controller
//! files and directories (trailing-slash semantics), remote_src, force,
//! modes incl. preserve, checksum, backup, validate, and the errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod files_support;

use files_support::*;
use serde_json::json;
use tutti_modules::Plan;
use tutti_modules::fs::{ChecksumAlgo, checksum};
use tutti_modules::testing::{FakeHost, FakeNode, Matcher, Reply};

fn fx(p: &str) -> String {
    format!("{}/tests/fixtures/copy/{p}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn content_creates_then_is_in_sync_with_one_probe() {
    let host = FakeHost::new().with_dir("/etc");
    let r = converge(
        "copy",
        json!({"content": "key=1\n", "dest": "/etc/app.conf", "mode": "0640"}),
        &host,
    )
    .await;
    assert!(changed(&r));
    assert_eq!(text(&host, "/etc/app.conf"), "key=1\n");
    assert_eq!(host.node("/etc/app.conf").unwrap().mode, 0o640);
    assert_eq!(
        r.result()["checksum"],
        checksum(ChecksumAlgo::Sha1, b"key=1\n")
    );
    assert_eq!(r.result()["dest"], "/etc/app.conf");
    assert_eq!(runs(&r), 1);
    // The second check (in sync) is exactly one probe.
    let again = converge(
        "copy",
        json!({"content": "key=1\n", "dest": "/etc/app.conf", "mode": "0640"}),
        &host,
    )
    .await;
    assert!(!changed(&again));
    assert_eq!(probes(&again), 1);
    let Plan::Change { diff, .. } = &r.plan else {
        panic!()
    };
    assert_eq!(diff[0].after, "key=1\n");
    // A new file has no "before" path (Ansible prints a bare `--- before`).
    assert_eq!(diff[0].before_header, None);
    assert_eq!(diff[0].after_header.as_deref(), Some("/etc/app.conf"));
}

#[tokio::test]
async fn update_shows_old_content_in_the_diff_and_keeps_attrs() {
    let host = FakeHost::new().with_node(
        "/etc/app.conf",
        FakeNode::file("old\n").mode(0o600).owned(33, 33),
    );
    let r = converge(
        "copy",
        json!({"content": "new\n", "dest": "/etc/app.conf"}),
        &host,
    )
    .await;
    let Plan::Change { diff, .. } = &r.plan else {
        panic!()
    };
    assert_eq!(
        (diff[0].before.as_str(), diff[0].after.as_str()),
        ("old\n", "new\n")
    );
    let n = host.node("/etc/app.conf").unwrap();
    assert_eq!(
        (n.mode, n.uid, n.gid),
        (0o600, 33, 33),
        "keeps the destination's attributes"
    );
}

#[tokio::test]
async fn controller_file_into_a_directory_and_preserve_mode() {
    let host = FakeHost::new().with_dir("/srv");
    let r = converge(
        "copy",
        json!({"src": fx("hello.txt"), "dest": "/srv/", "mode": "preserve"}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/srv/hello.txt"), "hello\n");
    assert_eq!(r.result()["dest"], "/srv/hello.txt");
    let local = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(fx("hello.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(host.node("/srv/hello.txt").unwrap().mode, local);
    // An existing directory without the slash works the same.
    let host = FakeHost::new().with_dir("/srv");
    converge(
        "copy",
        json!({"src": fx("hello.txt"), "dest": "/srv"}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/srv/hello.txt"), "hello\n");
}

#[tokio::test]
async fn directory_trailing_slash_semantics() {
    let host = FakeHost::new().with_dir("/dst");
    converge(
        "copy",
        json!({"src": fx("tree"), "dest": "/dst/", "directory_mode": "0750"}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/dst/tree/top.txt"), "top\n");
    assert_eq!(text(&host, "/dst/tree/sub/inner.txt"), "nested\n");
    assert_eq!(host.node("/dst/tree/sub").unwrap().mode, 0o750);
    let host = FakeHost::new().with_dir("/dst");
    converge(
        "copy",
        json!({"src": format!("{}/", fx("tree")), "dest": "/dst"}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/dst/top.txt"), "top\n");
    assert_eq!(text(&host, "/dst/sub/inner.txt"), "nested\n");
    assert!(!host.exists("/dst/tree"));
}

#[tokio::test]
async fn remote_src_force_false_and_checksum() {
    let host = FakeHost::new()
        .with_file("/opt/dist.conf", "dist\n")
        .with_file("/etc/x.conf", "mine\n");
    let r = converge(
        "copy",
        json!({"src": "/opt/dist.conf", "dest": "/etc/x.conf", "remote_src": true, "force": false}),
        &host,
    )
    .await;
    assert!(!changed(&r));
    assert_eq!(text(&host, "/etc/x.conf"), "mine\n");
    converge(
        "copy",
        json!({"src": "/opt/dist.conf", "dest": "/etc/y.conf", "remote_src": true}),
        &host,
    )
    .await;
    assert_eq!(text(&host, "/etc/y.conf"), "dist\n");
    let e = fails(
        "copy",
        json!({"content": "a", "dest": "/etc/z", "checksum": "0000"}),
        &host,
    )
    .await;
    assert!(msg(&e).starts_with("Copied file does not match the expected checksum"));
}

#[tokio::test]
async fn backup_validate_and_errors() {
    let host = FakeHost::new().with_file("/etc/sudoers", "old\n").on(
        Matcher::prefix("visudo -cf"),
        Reply::output(1, "parse error", ""),
    );
    let e = fails("copy", json!({"content": "bad\n", "dest": "/etc/sudoers", "validate": "visudo -cf %s", "backup": true}), &host).await;
    assert_eq!(msg(&e), "failed to validate");
    assert_eq!(text(&host, "/etc/sudoers"), "old\n");
    assert_eq!(
        host.fs_paths().len(),
        3,
        "no temp file or backup left: {:?}",
        host.fs_paths()
    );

    let host = FakeHost::new().with_file("/etc/motd", "old\n");
    let r = converge(
        "copy",
        json!({"content": "new\n", "dest": "/etc/motd", "backup": true}),
        &host,
    )
    .await;
    let b = r.result()["backup_file"].as_str().unwrap().to_string();
    assert_eq!(text(&host, &b), "old\n");

    let e = fails(
        "copy",
        json!({"content": "x", "dest": "/missing/dir/f"}),
        &FakeHost::new(),
    )
    .await;
    assert_eq!(msg(&e), "Destination directory /missing/dir does not exist");
    let host = FakeHost::new().with_dir("/ro").with_read_only_dir("/ro");
    let e = fails("copy", json!({"content": "x", "dest": "/ro/f"}), &host).await;
    assert!(
        msg(&e).contains("not writable by the current user")
            && msg(&e).contains("Permission denied"),
        "{}",
        msg(&e)
    );
    let host = FakeHost::new().with_file("/etc/f", "old").with_disk_full();
    let e = fails("copy", json!({"content": "new", "dest": "/etc/f"}), &host).await;
    assert!(msg(&e).contains("No space left on device"), "{}", msg(&e));
    assert!(matches!(
        e,
        tutti_modules::ModuleError::Host(tutti_modules::HostError::Failed(_))
    ));
    assert_eq!(text(&host, "/etc/f"), "old");
    let host = FakeHost::new().with_file("/etc/f", "x");
    let e = fails("copy", json!({"content": "x", "dest": "/etc/f/g"}), &host).await;
    assert_eq!(msg(&e), "Destination /etc/f is not a directory");
}

#[tokio::test]
async fn symbolic_mode_and_yaml_int_on_existing_file() {
    let host = FakeHost::new().with_file("/f", "same");
    converge(
        "copy",
        json!({"content": "same", "dest": "/f", "mode": "u+x"}),
        &host,
    )
    .await;
    assert_eq!(host.node("/f").unwrap().mode, 0o744);
    let r = converge(
        "copy",
        json!({"content": "same", "dest": "/f", "mode": 484}),
        &host,
    )
    .await;
    assert!(!changed(&r), "484 == 0o744");
}
