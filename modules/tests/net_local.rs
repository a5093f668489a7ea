//! `get_url` and `uri` end to end: a tiny HTTP server in this process
//! (127.0.0.1, a random port) and the real `curl` run by the real `sh`.

// Test code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

#[path = "support/local_host.rs"]
mod local_host;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use local_host::{LocalSh, scratch};
use serde_json::{Value, json};
use tutti_modules::testing::args;
use tutti_modules::{Applied, Plan, find};

const FILE: &[u8] = b"hello from the server\n";
// base64("user:s3cret")
const AUTH: &str = "Basic dXNlcjpzM2NyZXQ=";

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn handle(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    let _ = reader.read_exact(&mut body);
    match path.as_str() {
        "/file.txt" => respond(
            &mut stream,
            "200 OK",
            &[("Content-Type", "text/plain")],
            FILE,
        ),
        "/json" => {
            let reply = json!({
                "method": method,
                "body": String::from_utf8_lossy(&body),
                "content_type": header("content-type"),
                "x_token": header("x-token"),
            });
            respond(
                &mut stream,
                "200 OK",
                &[
                    ("Content-Type", "application/json"),
                    ("X-Custom-Header", "yes"),
                ],
                reply.to_string().as_bytes(),
            );
        }
        "/created" => respond(&mut stream, "201 Created", &[], b"made"),
        "/redirect" => respond(&mut stream, "302 Found", &[("Location", "/file.txt")], b""),
        "/auth" => {
            if header("authorization").as_deref() == Some(AUTH) {
                respond(&mut stream, "200 OK", &[], b"welcome")
            } else {
                respond(
                    &mut stream,
                    "401 Unauthorized",
                    &[("WWW-Authenticate", "Basic realm=\"t\"")],
                    b"no",
                )
            }
        }
        _ => respond(&mut stream, "404 Not Found", &[], b"nothing here"),
    }
}

/// Starts the server; returns its base URL.
fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || handle(stream));
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn have_curl() -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("command -v curl")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

async fn check(module: &str, a: Value) -> (Box<dyn tutti_modules::Prepared>, Plan) {
    let prepared = find(module).unwrap().prepare(args(a)).unwrap();
    let plan = prepared.check(&LocalSh).await.unwrap();
    (prepared, plan)
}

async fn run(module: &str, a: Value) -> (Plan, Option<Applied>) {
    let (prepared, plan) = check(module, a).await;
    if matches!(plan, Plan::InSync { .. }) {
        return (plan, None);
    }
    let applied = prepared.apply(plan.clone(), &LocalSh).await.unwrap();
    (plan, Some(applied))
}

fn sha1_of(data: &[u8]) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("sha1sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn get_url_downloads_once_then_is_in_sync() {
    assert!(
        have_curl(),
        "these tests need curl: apt-get install -y curl"
    );
    let base = server();
    let dir = scratch("get_url");
    let dest = dir.join("f.txt");
    let a = json!({"url": format!("{base}/file.txt"), "dest": dest, "mode": "0640"});
    let (plan, applied) = run("get_url", a.clone()).await;
    assert!(plan.is_change(), "{plan:?}");
    let applied = applied.unwrap();
    assert!(applied.changed && !applied.failed, "{applied:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), FILE);
    let r = &applied.result;
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["msg"], format!("OK ({} bytes)", FILE.len()));
    assert_eq!(r["checksum_src"], sha1_of(FILE));
    assert_eq!(r["checksum_dest"], Value::Null);
    assert_eq!(r["mode"], "0640");
    assert_eq!(r["size"], FILE.len());
    // No temp files left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    let (plan, _) = run("get_url", a).await;
    assert!(matches!(plan, Plan::InSync { .. }), "{plan:?}");

    // A matching checksum is in sync too; a wrong one downloads and fails
    // without touching the file.
    let good = json!({"url": format!("{base}/file.txt"), "dest": dest,
        "checksum": format!("sha1:{}", sha1_of(FILE))});
    let (plan, _) = run("get_url", good).await;
    assert!(matches!(plan, Plan::InSync { .. }), "{plan:?}");
    std::fs::write(&dest, b"local edit\n").unwrap();
    let bad = json!({"url": format!("{base}/file.txt"), "dest": dest,
        "checksum": "sha256:0000000000000000000000000000000000000000000000000000000000000000"});
    let (plan, applied) = run("get_url", bad).await;
    assert!(plan.is_change());
    let applied = applied.unwrap();
    assert!(applied.failed, "{applied:?}");
    assert!(
        applied
            .msg
            .as_deref()
            .unwrap()
            .starts_with("The checksum for"),
        "{applied:?}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"local edit\n");

    // force downloads again and replaces the edited file.
    let force = json!({"url": format!("{base}/file.txt"), "dest": dest, "force": true});
    let (plan, applied) = run("get_url", force.clone()).await;
    assert!(matches!(plan, Plan::Unpredictable { .. }));
    assert!(applied.unwrap().changed);
    assert_eq!(std::fs::read(&dest).unwrap(), FILE);
    let (_, applied) = run("get_url", force).await;
    assert!(!applied.unwrap().changed, "same content: not changed");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn get_url_into_a_directory_follows_redirects_and_fails_on_404() {
    let base = server();
    let dir = scratch("get_url_dir");
    let (_, applied) = run(
        "get_url",
        json!({"url": format!("{base}/redirect"), "dest": dir}),
    )
    .await;
    let applied = applied.unwrap();
    assert!(applied.changed, "{applied:?}");
    assert_eq!(std::fs::read(dir.join("file.txt")).unwrap(), FILE);

    let (_, applied) = run(
        "get_url",
        json!({"url": format!("{base}/missing"), "dest": dir.join("m")}),
    )
    .await;
    let applied = applied.unwrap();
    assert!(applied.failed);
    assert_eq!(applied.result["status_code"], 404);
    assert_eq!(applied.result["msg"], "Request failed");
    assert!(!dir.join("m").exists());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    let (_, applied) = run(
        "get_url",
        json!({"url": format!("{base}/auth"), "dest": dir.join("a"),
               "url_username": "user", "url_password": "s3cret"}),
    )
    .await;
    let applied = applied.unwrap();
    assert!(applied.changed && !applied.failed, "{applied:?}");
    assert!(!format!("{:?}", applied.result).contains("s3cret"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn uri_get_post_and_status_codes() {
    let base = server();
    let (plan, applied) = run("uri", json!({"url": format!("{base}/json")})).await;
    assert!(matches!(plan, Plan::Unpredictable { .. }));
    let a = applied.unwrap();
    assert!(!a.changed && !a.failed, "{a:?}");
    assert_eq!(a.result["status"], 200);
    assert_eq!(a.result["json"]["method"], "GET");
    assert_eq!(a.result["content_type"], "application/json");
    assert_eq!(a.result["x_custom_header"], "yes");
    assert!(a.result.get("content").is_none());
    assert_eq!(a.result["redirected"], false);

    let (_, applied) = run(
        "uri",
        json!({"url": format!("{base}/json"), "method": "POST", "body_format": "json",
               "body": {"name": "x", "n": 1}, "headers": {"X-Token": "abc"},
               "return_content": true}),
    )
    .await;
    let a = applied.unwrap();
    assert!(!a.failed, "{a:?}");
    assert_eq!(a.result["json"]["method"], "POST");
    assert_eq!(a.result["json"]["body"], "{\"name\": \"x\", \"n\": 1}");
    assert_eq!(a.result["json"]["content_type"], "application/json");
    assert_eq!(a.result["json"]["x_token"], "abc");
    assert!(a.result["content"].as_str().unwrap().contains("POST"));

    let (_, applied) = run(
        "uri",
        json!({"url": format!("{base}/created"), "method": "PUT", "body": "raw",
               "status_code": [200, 201], "return_content": true}),
    )
    .await;
    let a = applied.unwrap();
    assert!(!a.failed, "{a:?}");
    assert_eq!(a.result["status"], 201);
    assert_eq!(a.result["content"], "made");

    let (_, applied) = run("uri", json!({"url": format!("{base}/nope")})).await;
    let a = applied.unwrap();
    assert!(a.failed);
    assert_eq!(
        a.result["msg"],
        "Status code was 404 and not [200]: HTTP Error 404: Not Found"
    );

    let (_, applied) = run("uri", json!({"url": format!("{base}/redirect")})).await;
    let a = applied.unwrap();
    assert!(!a.failed, "{a:?}");
    assert_eq!(a.result["redirected"], true);
    assert!(a.result["url"].as_str().unwrap().ends_with("/file.txt"));

    let (_, applied) = run(
        "uri",
        json!({"url": format!("{base}/auth"), "user": "user", "password": "s3cret",
               "force_basic_auth": true, "return_content": true}),
    )
    .await;
    let a = applied.unwrap();
    assert!(!a.failed, "{a:?}");
    assert_eq!(a.result["content"], "welcome");
    assert!(!format!("{:?}", a.result).contains("s3cret"));

    // Nothing listening: status -1.
    let (_, applied) = run("uri", json!({"url": "http://127.0.0.1:9/", "timeout": 2})).await;
    let a = applied.unwrap();
    assert!(a.failed);
    assert_eq!(a.result["status"], -1);
}

#[tokio::test]
async fn uri_writes_dest_and_respects_creates() {
    let base = server();
    let dir = scratch("uri_dest");
    let dest = dir.join("out.txt");
    let a = json!({"url": format!("{base}/file.txt"), "dest": dest});
    let (_, applied) = run("uri", a.clone()).await;
    let ap = applied.unwrap();
    assert!(ap.changed && !ap.failed, "{ap:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), FILE);
    let (_, applied) = run("uri", a).await;
    assert!(!applied.unwrap().changed);
    let (plan, _) = run(
        "uri",
        json!({"url": format!("{base}/file.txt"), "creates": dest}),
    )
    .await;
    assert!(matches!(plan, Plan::InSync { .. }), "{plan:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
