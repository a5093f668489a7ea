//! `file` against FakeHost through the shared harness: every state, modes
//! (octal, YAML int, symbolic), owners, recurse, links, touch, times, and
//! Ansible's dict diffs and errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod files_support;

use files_support::*;
use serde_json::json;
use tutti_modules::Plan;
use tutti_modules::testing::{Expect, FakeHost, FakeKind, FakeNode};

#[tokio::test]
async fn directory_created_with_parents_and_mode() {
    let host = FakeHost::new();
    let r = converge(
        "file",
        json!({"path": "/srv/app/data", "state": "directory", "mode": "0750"}),
        &host,
    )
    .await;
    assert!(changed(&r));
    assert_eq!(host.node("/srv/app/data").unwrap().mode, 0o750);
    assert_eq!(
        host.node("/srv/app").unwrap().mode,
        0o750,
        "Ansible sets mode on each created dir"
    );
    assert_eq!((probes(&r), runs(&r)), (1, 1));
    let Plan::Change { diff, .. } = &r.plan else {
        panic!()
    };
    assert_eq!(
        diff[0].before,
        "{\n    \"path\": \"/srv/app/data\",\n    \"state\": \"absent\"\n}\n"
    );
    assert!(diff[0].after.contains("\"state\": \"directory\""));
    assert_eq!(r.result()["mode"], "0750");
}

#[tokio::test]
async fn yaml_int_mode_and_symbolic_mode_on_a_file() {
    let host = FakeHost::new().with_file("/f", "x");
    host.modify("/f", |n| n.mode = 0o600);
    let r = converge("file", json!({"path": "/f", "mode": 420}), &host).await;
    assert_eq!(host.node("/f").unwrap().mode, 0o644);
    assert_eq!(r.result()["mode"], "0644");
    let Plan::Change { diff, .. } = &r.plan else {
        panic!()
    };
    assert!(diff[0].before.contains("\"mode\": \"0600\""));
    assert!(diff[0].after.contains("\"mode\": \"0644\""));
    converge("file", json!({"path": "/f", "mode": "u+x,g-r,o="}), &host).await;
    assert_eq!(host.node("/f").unwrap().mode, 0o700);
    let r = converge("file", json!({"path": "/f", "mode": "0700"}), &host).await;
    assert!(!changed(&r));
}

#[tokio::test]
async fn owner_group_and_recurse() {
    let host = FakeHost::new()
        .with_file("/srv/a/x", "1")
        .with_file("/srv/a/sub/y", "2")
        .with_user("deploy", 1001)
        .with_group("deploy", 1001);
    converge(
        "file",
        json!({"path": "/srv/a", "state": "directory", "owner": "deploy", "group": "deploy", "recurse": true}),
        &host,
    )
    .await;
    for p in ["/srv/a", "/srv/a/x", "/srv/a/sub", "/srv/a/sub/y"] {
        let n = host.node(p).unwrap();
        assert_eq!((n.uid, n.gid), (1001, 1001), "{p}");
    }
    let e = fails("file", json!({"path": "/srv/a/x", "owner": "ghost"}), &host).await;
    assert!(msg(&e).contains("invalid user: 'ghost'"), "{}", msg(&e));
}

#[tokio::test]
async fn absent_removes_trees_and_is_idempotent() {
    let host = FakeHost::new().with_file("/srv/old/a/b", "x");
    let r = converge(
        "file",
        json!({"path": "/srv/old", "state": "absent"}),
        &host,
    )
    .await;
    assert!(changed(&r));
    assert!(!host.exists("/srv/old"));
    assert!(host.exists("/srv"));
    let Plan::Change { diff, .. } = &r.plan else {
        panic!()
    };
    assert!(diff[0].before.contains("\"state\": \"directory\""));
    assert!(diff[0].after.contains("\"state\": \"absent\""));
}

#[tokio::test]
async fn symlinks_and_hard_links() {
    let host = FakeHost::new()
        .with_file("/etc/app/v1.conf", "1")
        .with_file("/etc/app/v2.conf", "2");
    let r = converge(
        "file",
        json!({"path": "/etc/app/current", "src": "v1.conf", "state": "link"}),
        &host,
    )
    .await;
    assert_eq!(
        host.node("/etc/app/current").unwrap().kind,
        FakeKind::Symlink("v1.conf".into())
    );
    assert_eq!(r.result()["dest"], "/etc/app/current");
    converge(
        "file",
        json!({"path": "/etc/app/current", "src": "v2.conf", "state": "link"}),
        &host,
    )
    .await;
    assert_eq!(host.file("/etc/app/current").unwrap(), b"2");
    // A missing src needs force.
    let e = fails(
        "file",
        json!({"path": "/etc/app/x", "src": "/missing", "state": "link"}),
        &host,
    )
    .await;
    assert!(
        msg(&e).starts_with("src file does not exist"),
        "{}",
        msg(&e)
    );
    converge(
        "file",
        json!({"path": "/etc/app/x", "src": "/missing", "state": "link", "force": true}),
        &host,
    )
    .await;
    // Converting a file needs force.
    let e = fails(
        "file",
        json!({"path": "/etc/app/v1.conf", "src": "v2.conf", "state": "link"}),
        &host,
    )
    .await;
    assert_eq!(
        msg(&e),
        "refusing to convert from file to symlink for /etc/app/v1.conf"
    );
    // Hard link.
    converge(
        "file",
        json!({"path": "/etc/app/hard", "src": "/etc/app/v1.conf", "state": "hard"}),
        &host,
    )
    .await;
    assert_eq!(
        host.node("/etc/app/hard").unwrap().kind,
        FakeKind::File(b"1".to_vec())
    );
}

#[tokio::test]
async fn touch_is_always_changed_and_times_can_be_set() {
    let host = FakeHost::new().with_dir("/tmp");
    let r = converge_with(
        "file",
        json!({"path": "/tmp/stamp", "state": "touch", "mode": "0600"}),
        &host,
        Expect { idempotent: false },
    )
    .await;
    assert!(changed(&r));
    assert_eq!(host.node("/tmp/stamp").unwrap().mode, 0o600);
    let r = converge_with(
        "file",
        json!({"path": "/tmp/stamp", "state": "touch"}),
        &host,
        Expect { idempotent: false },
    )
    .await;
    assert!(changed(&r));
    let r = converge(
        "file",
        json!({"path": "/tmp/stamp", "state": "touch", "modification_time": "preserve", "access_time": "preserve"}),
        &host,
    )
    .await;
    assert!(!changed(&r));
    converge(
        "file",
        json!({"path": "/tmp/stamp", "modification_time": "202401021530.45"}),
        &host,
    )
    .await;
    let n = host.node("/tmp/stamp").unwrap();
    let local = chrono::NaiveDate::from_ymd_opt(2024, 1, 2)
        .unwrap()
        .and_hms_opt(15, 30, 45)
        .unwrap();
    use chrono::TimeZone;
    let want = chrono::Local
        .from_local_datetime(&local)
        .unwrap()
        .timestamp() as f64;
    assert_eq!(n.mtime, want);
}

#[tokio::test]
async fn errors_match_ansible() {
    let host = FakeHost::new().with_file("/f", "x").with_dir("/d");
    let e = fails("file", json!({"path": "/nope", "state": "file"}), &host).await;
    assert_eq!(msg(&e), "file (/nope) is absent, cannot continue");
    let e = fails("file", json!({"path": "/f", "state": "directory"}), &host).await;
    assert_eq!(msg(&e), "/f already exists as a file");
    let e = fails(
        "file",
        json!({"path": "/d", "state": "file", "mode": "0600"}),
        &host,
    )
    .await;
    assert_eq!(msg(&e), "file (/d) is directory, cannot continue");
    let e = fails(
        "file",
        json!({"path": "/f/sub", "state": "directory"}),
        &host,
    )
    .await;
    assert!(msg(&e).contains("not a directory"), "{}", msg(&e));
    let m = tutti_modules::find("file").unwrap();
    let e = tutti_modules::testing::prepare_err(
        m,
        tutti_modules::testing::args(json!({"path": "/f", "mode": "u+z"})),
    );
    assert!(
        e.msg
            .starts_with("file: mode must be in octal or symbolic form"),
        "{}",
        e.msg
    );
    // Known only on the host: `/f` is a file, not a link to keep.
    let e = fails("file", json!({"path": "/f", "state": "link"}), &host).await;
    assert_eq!(msg(&e), "src is required for creating new symlinks");
    let e = fails("file", json!({"path": "/f", "state": "hard"}), &host).await;
    assert_eq!(msg(&e), "src is required for creating new hardlinks");
}

#[tokio::test]
async fn default_state_is_the_current_type_and_follow_reaches_the_target() {
    let host = FakeHost::new()
        .with_node("/data", FakeNode::dir().mode(0o700))
        .with_symlink("/link", "/data");
    converge("file", json!({"path": "/link", "mode": "0755"}), &host).await;
    assert_eq!(host.node("/data").unwrap().mode, 0o755);
}
