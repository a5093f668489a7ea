//! `get_url` and `uri` through the shared harness on `FakeHost`, with
//! scripted replies standing in for the probe, curl and install scripts.

// Test code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use tutti_modules::testing::{
    Expect, FakeHost, Matcher, Reply, args, check_only, check_then_apply, check_then_apply_with,
    prepare_err,
};
use tutti_modules::{Plan, find};

const PROBE: &str = "kind=";
const SHA: &str = "22596363b3de40b06f981fb85d82312e8c0ed511";

fn probe_file(extra: &str) -> String {
    format!(
        "kind=file\nsha1={SHA}\n{extra}mode=644\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=12\n"
    )
}

/// The probe script contains `echo kind=`; the download script `tutti-get_url`.
fn probe_matcher() -> Matcher {
    Matcher::contains("echo kind=directory")
}

#[tokio::test]
async fn get_url_existing_file_is_in_sync_without_a_request() {
    let host = FakeHost::new().on(probe_matcher(), Reply::ok(probe_file("")));
    let a = args(json!({"url": "https://example.com/f", "dest": "/srv/f"}));
    let rep = check_then_apply(find("get_url").unwrap(), a, &host).await;
    let Plan::InSync { result } = &rep.plan else {
        panic!("{:?}", rep.plan)
    };
    assert_eq!(result["msg"], "file already exists");
    assert_eq!(result["mode"], "0644");
    assert!(host.runs().is_empty());
    assert!(host.probes().iter().all(|c| !c.rendered.contains("curl")));
    let _ = PROBE;
}

#[tokio::test]
async fn get_url_downloads_a_missing_file_and_hides_the_password() {
    let host = FakeHost::new()
        .on(probe_matcher(), Reply::ok("kind=absent\n"))
        // The install script's arguments name the temp file: match it first.
        .on(
            Matcher::contains("checksum_src="),
            Reply::ok(format!("checksum_src={SHA}\nchanged=1\nmode=644\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=12\n")),
        )
        .on(
            Matcher::contains("tutti-get_url"),
            Reply::ok(
                "tmp=/srv/.tutti-get_url.X\n--\nHTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n\ntutti-http:200:0:12:https://example.com/f",
            ),
        );
    let a = args(json!({"url": "https://example.com/f", "dest": "/srv/f",
                        "url_username": "u", "url_password": "hunter2", "headers": {"X-A": "b"}}));
    let rep = check_then_apply_with(
        find("get_url").unwrap(),
        a,
        &host,
        // The fake's probe keeps saying "absent": only the apply is checked here.
        Expect { idempotent: false },
    )
    .await;
    assert!(rep.plan.is_change());
    let applied = rep.applied.unwrap();
    assert!(applied.changed && !applied.failed, "{applied:?}");
    assert_eq!(applied.result["msg"], "OK (12 bytes)");
    assert_eq!(applied.result["checksum_src"], SHA);
    for call in host.calls() {
        assert!(!call.rendered.contains("hunter2"), "{}", call.rendered);
    }
    let download = host
        .runs()
        .into_iter()
        .find(|c| c.rendered.contains("tutti-get_url"))
        .unwrap();
    let config = String::from_utf8(download.cmd.stdin_data().unwrap().to_vec()).unwrap();
    assert!(config.contains("user = \"u:hunter2\""));
    assert!(config.contains("header = \"X-A: b\""));
    assert!(!format!("{:?}", applied.result).contains("hunter2"));
}

#[tokio::test]
async fn get_url_checksum_mismatch_plans_a_download() {
    let host = FakeHost::new().on(probe_matcher(), Reply::ok(probe_file("digest=abcd\n")));
    let a =
        args(json!({"url": "https://example.com/f", "dest": "/srv/f", "checksum": "sha256:ffff"}));
    let plan = check_only(find("get_url").unwrap(), a, &host)
        .await
        .unwrap();
    assert!(plan.is_change());
    let a =
        args(json!({"url": "https://example.com/f", "dest": "/srv/f", "checksum": "sha256:ABCD"}));
    let plan = check_only(find("get_url").unwrap(), a, &host)
        .await
        .unwrap();
    assert!(matches!(plan, Plan::InSync { .. }), "{plan:?}");
    let a = args(json!({"url": "https://example.com/f", "dest": "/srv/f", "mode": "0600"}));
    let plan = check_only(find("get_url").unwrap(), a, &host)
        .await
        .unwrap();
    assert!(plan.is_change(), "mode differs: {plan:?}");
}

#[tokio::test]
async fn uri_is_unpredictable_unless_guarded() {
    let host = FakeHost::new().with_path("/srv/done").on(
        Matcher::prefix("curl"),
        Reply::ok("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"a\": 1}\ntutti-http:200:0:8:https://api/x"),
    );
    let a = args(json!({"url": "https://api/x", "creates": "/srv/done"}));
    let rep = check_then_apply(find("uri").unwrap(), a, &host).await;
    assert!(rep.applied.is_none());
    let a = args(
        json!({"url": "https://api/x", "method": "post", "body": {"k": "v"},
                        "body_format": "json"}),
    );
    let rep = check_then_apply(find("uri").unwrap(), a, &host).await;
    assert!(matches!(rep.plan, Plan::Unpredictable { .. }));
    let applied = rep.applied.unwrap();
    assert!(!applied.changed && !applied.failed);
    assert_eq!(applied.result["json"], json!({"a": 1}));
    assert_eq!(applied.result["content_length"], "8");
    let call = &rep.apply_calls[0];
    assert!(
        !call.rendered.contains("https://api/x"),
        "URL goes on stdin"
    );
    let config = String::from_utf8(call.cmd.stdin_data().unwrap().to_vec()).unwrap();
    assert!(config.contains("request = \"POST\""));
    assert!(
        config.contains("data-raw = \"{\\\"k\\\": \\\"v\\\"}\""),
        "{config}"
    );
    assert!(config.contains("header = \"Content-Type: application/json\""));
}

#[test]
fn bad_parameters() {
    let e = prepare_err(
        find("get_url").unwrap(),
        args(json!({"url": "u", "dest": "d", "checksum": "nope"})),
    );
    assert!(e.msg.contains("<algorithm>:<checksum>"));
    let e = prepare_err(
        find("uri").unwrap(),
        args(json!({"url": "u", "body_format": "xml", "body": "x"})),
    );
    assert!(e.msg.contains("body_format"));
    let e = prepare_err(
        find("uri").unwrap(),
        args(json!({"url": "u", "status_code": ["x"]})),
    );
    assert_eq!(e.param.as_deref(), Some("status_code"));
    let e = prepare_err(find("get_url").unwrap(), args(json!({"dest": "d"})));
    assert!(e.msg.contains("url"));
}
