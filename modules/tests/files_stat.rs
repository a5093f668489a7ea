//! `stat` against FakeHost: Ansible's `stat` keys for files, directories,
//! symlinks (followed or not), missing paths, checksums and MIME types.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod files_support;

use files_support::*;
use serde_json::json;
use tutti_modules::testing::{FakeHost, FakeNode};

fn host() -> FakeHost {
    FakeHost::new()
        .with_node(
            "/etc/app.conf",
            FakeNode::file("hello\n").mode(0o4750).owned(33, 33),
        )
        .with_dir("/srv/data")
        .with_symlink("/etc/link", "app.conf")
        .with_symlink("/etc/dangling", "/nowhere")
        .with_file("/bin.dat", b"\x00\x01\xff".to_vec())
}

async fn stat(
    args: serde_json::Value,
    host: &FakeHost,
) -> serde_json::Map<String, serde_json::Value> {
    let r = converge("stat", args, host).await;
    assert!(!changed(&r));
    assert_eq!(probes(&r), 1, "one probe");
    r.result()["stat"].as_object().unwrap().clone()
}

#[tokio::test]
async fn regular_file_keys() {
    let h = host();
    let s = stat(json!({"path": "/etc/app.conf"}), &h).await;
    assert_eq!(s["exists"], true);
    assert_eq!(s["mode"], "4750");
    assert_eq!(s["isreg"], true);
    assert_eq!(s["isdir"], false);
    assert_eq!(s["isuid"], true);
    assert_eq!(s["xoth"], false);
    assert_eq!(s["rgrp"], true);
    assert_eq!(s["pw_name"], "www-data");
    assert_eq!(s["gr_name"], "www-data");
    assert_eq!(s["size"], 6);
    assert_eq!(s["checksum"], "f572d396fae9206628714fb2ce00f72e94f2258f");
    assert_eq!(s["mimetype"], "text/plain");
    assert_eq!(s["charset"], "us-ascii");
}

#[tokio::test]
async fn missing_is_exists_false_only() {
    let s = stat(json!({"path": "/nope"}), &host()).await;
    assert_eq!(serde_json::Value::Object(s), json!({"exists": false}));
}

#[tokio::test]
async fn symlinks_followed_or_not() {
    let h = host();
    let s = stat(json!({"path": "/etc/link"}), &h).await;
    assert_eq!(s["islnk"], true);
    assert_eq!(s["lnk_target"], "app.conf");
    assert_eq!(s["lnk_source"], "/etc/app.conf");
    assert!(s.get("checksum").is_none());
    let s = stat(json!({"path": "/etc/link", "follow": true}), &h).await;
    assert_eq!(s["islnk"], false);
    assert_eq!(s["isreg"], true);
    let s = stat(json!({"path": "/etc/dangling", "follow": true}), &h).await;
    assert_eq!(s["exists"], false);
    let s = stat(json!({"path": "/etc/dangling"}), &h).await;
    assert_eq!(s["islnk"], true);
}

#[tokio::test]
async fn directory_and_options() {
    let h = host();
    let s = stat(json!({"path": "/srv/data", "get_mime": false}), &h).await;
    assert_eq!(s["isdir"], true);
    assert_eq!(s["mode"], "0755");
    assert!(s.get("mimetype").is_none());
    let s = stat(
        json!({"path": "/etc/app.conf", "checksum_algorithm": "sha256", "get_checksum": true}),
        &h,
    )
    .await;
    assert_eq!(
        s["checksum"],
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    );
    let s = stat(json!({"path": "/etc/app.conf", "get_checksum": false}), &h).await;
    assert!(s.get("checksum").is_none());
}

#[tokio::test]
async fn binary_mime_and_bad_algorithm() {
    let s = stat(json!({"path": "/bin.dat"}), &host()).await;
    assert_eq!(s["mimetype"], "application/octet-stream");
    let m = tutti_modules::find("stat").unwrap();
    let e = tutti_modules::testing::prepare_err(
        m,
        tutti_modules::testing::args(json!({"path": "/x", "checksum_algorithm": "crc32"})),
    );
    assert!(e.msg.contains("checksum_algorithm must be one of"));
}

#[tokio::test]
async fn path_below_a_file_is_missing() {
    let s = stat(json!({"path": "/etc/app.conf/x"}), &host()).await;
    assert_eq!(s["exists"], false);
}
