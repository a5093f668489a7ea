//! `fetch`, `slurp`, `tempfile`, `find`, `assemble` and `script`: against
//! the real local `sh` in a temp directory, and through the shared
//! harness on `FakeHost` (its in-memory filesystem and scripted replies).

// Test code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

#[path = "support/local_host.rs"]
mod local_host;

use std::os::unix::fs::PermissionsExt;

use local_host::{LocalSh, scratch};
use serde_json::{Value, json};
use tutti_modules::testing::{FakeHost, Matcher, Reply, args, check_only, check_then_apply};
use tutti_modules::{Applied, Plan, find};

async fn run(module: &str, a: Value) -> (Plan, Option<Applied>) {
    let prepared = find(module).unwrap().prepare(args(a)).unwrap();
    let plan = prepared.check(&LocalSh).await.unwrap();
    if matches!(plan, Plan::InSync { .. }) {
        return (plan, None);
    }
    let applied = prepared.apply(plan.clone(), &LocalSh).await.unwrap();
    (plan, Some(applied))
}

fn result(plan: &Plan, applied: &Option<Applied>) -> serde_json::Map<String, Value> {
    match (applied, plan) {
        (Some(a), _) => a.result.clone(),
        (None, Plan::InSync { result }) => result.clone(),
        _ => Default::default(),
    }
}

#[tokio::test]
async fn fetch_copies_once_into_the_host_layout() {
    let dir = scratch("fetch");
    let src = dir.join("remote/etc/app.conf");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::write(&src, b"key=value\n").unwrap();
    let dest = dir.join("fetched");
    let a = json!({"src": src, "dest": dest, "_inventory_hostname": "web1"});
    let (plan, applied) = run("fetch", a.clone()).await;
    assert!(plan.is_change(), "{plan:?}");
    let applied = applied.unwrap();
    assert!(applied.changed, "{applied:?}");
    let local = dest.join("web1").join(src.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(&local).unwrap(), b"key=value\n");
    assert_eq!(applied.result["dest"], local.to_str().unwrap());
    assert_eq!(
        applied.result["checksum"],
        applied.result["remote_checksum"]
    );
    let (plan, _) = run("fetch", a).await;
    assert!(matches!(plan, Plan::InSync { .. }), "{plan:?}");

    // flat, into a directory (trailing slash) and as a file name.
    let flat_dir = format!("{}/", dir.join("flat").display());
    let (_, applied) = run("fetch", json!({"src": src, "dest": flat_dir, "flat": true})).await;
    assert!(applied.unwrap().changed);
    assert!(dir.join("flat/app.conf").is_file());
    let (_, applied) = run(
        "fetch",
        json!({"src": src, "dest": dir.join("one.conf"), "flat": "yes"}),
    )
    .await;
    assert!(applied.unwrap().changed);
    assert!(dir.join("one.conf").is_file());

    // Missing: fails by default, ignored with fail_on_missing: false.
    let prepared = find("fetch")
        .unwrap()
        .prepare(args(
            json!({"src": dir.join("nope"), "dest": dest, "_inventory_hostname": "web1"}),
        ))
        .unwrap();
    let err = prepared.check(&LocalSh).await.unwrap_err();
    assert!(
        err.to_string().contains("the remote file does not exist"),
        "{err}"
    );
    let (plan, _) = run(
        "fetch",
        json!({"src": dir.join("nope"), "dest": dest, "_inventory_hostname": "web1",
               "fail_on_missing": false}),
    )
    .await;
    let Plan::InSync { result } = plan else {
        panic!()
    };
    assert_eq!(
        result["msg"],
        "the remote file does not exist, not transferring, ignored"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn slurp_and_tempfile() {
    let dir = scratch("slurp");
    std::fs::write(dir.join("bin"), b"\x00\xffhi").unwrap();
    let (plan, applied) = run("slurp", json!({"path": dir.join("bin")})).await;
    let r = result(&plan, &applied);
    assert_eq!(r["content"], "AP9oaQ==");
    assert_eq!(r["encoding"], "base64");
    let prepared = find("slurp")
        .unwrap()
        .prepare(args(json!({"src": dir})))
        .unwrap();
    let err = prepared.check(&LocalSh).await.unwrap_err();
    assert!(err.to_string().contains("source is a directory"), "{err}");

    let (plan, applied) = run(
        "tempfile",
        json!({"path": dir, "prefix": "x.", "suffix": ".tmp"}),
    )
    .await;
    assert!(matches!(plan, Plan::Unpredictable { .. }));
    let a = applied.unwrap();
    assert!(a.changed);
    let p = a.result["path"].as_str().unwrap().to_string();
    assert!(
        p.starts_with(&format!("{}/x.", dir.display())) && p.ends_with(".tmp"),
        "{p}"
    );
    assert!(std::path::Path::new(&p).is_file());
    assert_eq!(a.result["mode"], "0600");
    assert_eq!(a.result["state"], "file");
    let (_, applied) = run("tempfile", json!({"path": dir, "state": "directory"})).await;
    let a = applied.unwrap();
    let d = a.result["path"].as_str().unwrap();
    assert!(std::path::Path::new(d).is_dir());
    assert_eq!(a.result["mode"], "0700");
    assert_eq!(a.result["state"], "directory");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn find_filters_like_ansible() {
    let dir = scratch("find");
    let d = dir.to_str().unwrap();
    std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(dir.join(".hid")).unwrap();
    std::fs::write(dir.join("a.log"), b"ERROR one\nok\n").unwrap();
    std::fs::write(dir.join("b.log"), b"fine\n").unwrap();
    std::fs::write(dir.join("c.txt"), vec![b'x'; 3000]).unwrap();
    std::fs::write(dir.join(".h.log"), b"ERROR\n").unwrap();
    std::fs::write(dir.join("sub/d.log"), b"x ERROR\n").unwrap();
    std::fs::write(dir.join("sub/deeper/e.log"), b"ERROR\n").unwrap();
    std::fs::write(dir.join(".hid/f.log"), b"ERROR\n").unwrap();
    std::os::unix::fs::symlink(dir.join("a.log"), dir.join("link.log")).unwrap();

    let paths = |r: &serde_json::Map<String, Value>| {
        let mut v: Vec<String> = r["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                f["path"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches(d)
                    .to_string()
            })
            .collect();
        v.sort();
        v
    };
    let go = |a: Value| async move {
        let (plan, applied) = run("find", a).await;
        assert!(matches!(plan, Plan::InSync { .. }), "find is read-only");
        result(&plan, &applied)
    };

    let r = go(json!({"paths": d, "patterns": "*.log"})).await;
    assert_eq!(paths(&r), vec!["/a.log", "/b.log"]);
    assert_eq!(r["matched"], 2);
    assert_eq!(r["examined"], 7);
    let f = &r["files"][0];
    assert_eq!(f["isreg"], true);
    assert!(f["mtime"].is_f64() && f["inode"].is_u64() && f["pw_name"].is_string());

    let r = go(json!({"paths": [d], "patterns": ["*.log"], "recurse": true, "hidden": true})).await;
    assert_eq!(
        paths(&r),
        vec![
            "/.h.log",
            "/.hid/f.log",
            "/a.log",
            "/b.log",
            "/sub/d.log",
            "/sub/deeper/e.log"
        ]
    );
    let r = go(json!({"paths": d, "patterns": "*.log", "recurse": true, "depth": 2})).await;
    assert_eq!(
        paths(&r),
        vec!["/.hid/f.log", "/a.log", "/b.log", "/sub/d.log"]
    );
    let r = go(json!({"paths": d, "contains": "ERROR", "recurse": true})).await;
    assert_eq!(
        paths(&r),
        vec!["/.hid/f.log", "/a.log", "/sub/deeper/e.log"]
    );
    let r = go(json!({"paths": d, "contains": "x ERR", "read_whole_file": true, "recurse": true}))
        .await;
    assert_eq!(paths(&r), vec!["/sub/d.log"]);
    let r = go(json!({"paths": d, "patterns": "^[ab]\\.log$", "use_regex": true})).await;
    assert_eq!(paths(&r), vec!["/a.log", "/b.log"]);
    let r = go(json!({"paths": d, "excludes": "a*"})).await;
    assert_eq!(paths(&r), vec!["/b.log", "/c.txt"]);
    let r = go(json!({"paths": d, "size": "2k"})).await;
    assert_eq!(paths(&r), vec!["/c.txt"]);
    let r = go(json!({"paths": d, "age": "1d"})).await;
    assert_eq!(r["matched"], 0);
    let r = go(json!({"paths": d, "age": "-1d", "patterns": "c*"})).await;
    assert_eq!(r["matched"], 1);
    let r = go(json!({"paths": d, "file_type": "directory"})).await;
    assert_eq!(paths(&r), vec!["/sub"]);
    let r = go(json!({"paths": d, "file_type": "link"})).await;
    assert_eq!(paths(&r), vec!["/link.log"]);
    let r = go(json!({"paths": d, "patterns": "b.log", "get_checksum": true})).await;
    assert_eq!(
        r["files"][0]["checksum"],
        "a9e60c687da7d68a10a5e2d62ff1d01d2fee9f59"
    );
    let r = go(json!({"paths": [d, format!("{d}/nope")], "patterns": "b.log"})).await;
    assert_eq!(r["matched"], 1);
    assert!(r["skipped_paths"][format!("{d}/nope")].is_string(), "{r:?}");
    assert_eq!(
        r["msg"],
        "Not all paths examined, check warnings for details"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn assemble_on_the_host_and_from_the_controller() {
    let dir = scratch("assemble");
    let frags = dir.join("frags");
    std::fs::create_dir_all(&frags).unwrap();
    std::fs::write(frags.join("10-a"), b"alpha").unwrap();
    std::fs::write(frags.join("20-b"), b"beta\n").unwrap();
    std::fs::write(frags.join(".hidden"), b"secret\n").unwrap();
    let dest = dir.join("out.conf");
    let a = json!({"src": frags, "dest": dest, "delimiter": "### part", "ignore_hidden": true,
                   "mode": "0640"});
    let (plan, applied) = run("assemble", a.clone()).await;
    assert!(plan.is_change());
    let ap = applied.unwrap();
    assert!(ap.changed && !ap.failed, "{ap:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"alpha\n### part\nbeta\n");
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777,
        0o640
    );
    assert_eq!(ap.result["mode"], "0640");
    let (plan, _) = run("assemble", a).await;
    assert!(matches!(plan, Plan::InSync { .. }), "{plan:?}");

    // regexp, from the controller, with a backup of the old content.
    let b =
        json!({"src": frags, "dest": dest, "remote_src": false, "regexp": "^2", "backup": true});
    let (_, applied) = run("assemble", b).await;
    let ap = applied.unwrap();
    assert!(ap.changed, "{ap:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"beta\n");
    let backup = ap.result["backup_file"].as_str().unwrap();
    assert_eq!(std::fs::read(backup).unwrap(), b"alpha\n### part\nbeta\n");

    // validate failing leaves dest alone.
    let v = json!({"src": frags, "dest": dest, "validate": "false %s"});
    let (_, applied) = run("assemble", v).await;
    let ap = applied.unwrap();
    assert!(ap.failed, "{ap:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"beta\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn script_uploads_runs_and_cleans_up() {
    let dir = scratch("script");
    let s = dir.join("my script.sh");
    std::fs::write(
        &s,
        b"#!/bin/sh\necho \"args: $*\"\necho err >&2\npwd\nexit 3\n",
    )
    .unwrap();
    let raw = format!("'{}' one \"two words\"", s.display());
    let tmp_before = std::fs::read_dir(std::env::temp_dir()).unwrap().count();
    let (plan, applied) = run("script", json!({"_raw_params": raw, "chdir": dir})).await;
    assert!(matches!(plan, Plan::Unpredictable { .. }));
    let a = applied.unwrap();
    assert!(a.failed && a.changed);
    assert_eq!(a.result["rc"], 3);
    assert_eq!(
        a.result["stdout_lines"],
        json!(["args: one two words", dir.to_str().unwrap()])
    );
    assert_eq!(a.result["stderr"], "err\n");
    // The uploaded copy is gone (the count may only have gone down).
    assert!(std::fs::read_dir(std::env::temp_dir()).unwrap().count() <= tmp_before + 1);

    let marker = dir.join("done");
    let with_creates = json!({"cmd": format!("'{}'", s.display()), "creates": marker,
                              "executable": "sh"});
    let (plan, _) = run("script", with_creates.clone()).await;
    assert!(plan.is_change());
    std::fs::write(&marker, b"").unwrap();
    let (plan, _) = run("script", with_creates).await;
    let Plan::InSync { result } = plan else {
        panic!()
    };
    assert_eq!(
        result["msg"],
        format!("skipped, since {} exists", marker.display())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// --- FakeHost fixtures through the shared harness -------------------------

#[tokio::test]
async fn slurp_on_fake_host() {
    let host = FakeHost::new().with_file("/etc/motd", b"hi\n".to_vec());
    let rep = check_then_apply(
        find("slurp").unwrap(),
        args(json!({"src": "/etc/motd"})),
        &host,
    )
    .await;
    assert_eq!(rep.result()["content"], "aGkK");
    assert!(host.runs().is_empty());
    let err = check_only(find("slurp").unwrap(), args(json!({"src": "/nope"})), &host)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "file not found: /nope");
}

#[tokio::test]
async fn assemble_on_fake_host() {
    let dir = scratch("assemble_fake");
    std::fs::write(dir.join("a"), b"one\n").unwrap();
    std::fs::write(dir.join("b"), b"two\n").unwrap();
    let host = FakeHost::new().with_dir("/etc");
    let a = args(json!({"src": dir, "dest": "/etc/x.conf", "remote_src": false}));
    let rep = check_then_apply(find("assemble").unwrap(), a.clone(), &host).await;
    assert!(rep.plan.is_change());
    assert_eq!(host.file("/etc/x.conf").unwrap(), b"one\ntwo\n");
    let rep = check_then_apply(find("assemble").unwrap(), a, &host).await;
    assert!(rep.applied.is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn fetch_on_fake_host() {
    let dir = scratch("fetch_fake");
    let host = FakeHost::new()
        .with_file("/var/log/app.log", b"line\n".to_vec())
        .on(
            Matcher::custom(|c| {
                c.argv_parts()
                    .is_some_and(|a| a.first().is_some_and(|p| p == "cat"))
            }),
            Reply::ok(b"line\n".to_vec()),
        );
    let a = args(json!({"src": "/var/log/app.log", "dest": dir, "_inventory_hostname": "h"}));
    let rep = check_then_apply(find("fetch").unwrap(), a, &host).await;
    assert!(rep.plan.is_change());
    assert_eq!(
        std::fs::read(dir.join("h/var/log/app.log")).unwrap(),
        b"line\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn script_and_tempfile_on_fake_host() {
    let dir = scratch("script_fake");
    let s = dir.join("s.sh");
    std::fs::write(&s, b"echo hi\n").unwrap();
    let host = FakeHost::new()
        .with_path("/srv/done")
        .on(Matcher::contains("tutti-script"), Reply::ok("hi\n"));
    let a = args(json!({"_raw_params": format!("{} x", s.display()), "creates": "/srv/done"}));
    let rep = check_then_apply(find("script").unwrap(), a, &host).await;
    assert!(rep.applied.is_none());
    let a = args(json!({"_raw_params": format!("{} x", s.display())}));
    let rep = check_then_apply(find("script").unwrap(), a, &host).await;
    let applied = rep.applied.unwrap();
    assert_eq!(applied.result["stdout"], "hi\n");
    let run = &rep.apply_calls[0];
    assert_eq!(run.cmd.stdin_path(), Some(s.as_path()));
    assert!(
        run.rendered.contains("\"$t\" x </dev/null"),
        "{}",
        run.rendered
    );

    let host = FakeHost::new().on(
        Matcher::contains("tutti_stat"),
        Reply::ok(
            "path=/tmp/ansible.abc\nmode=600\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=0\n",
        ),
    );
    let rep = check_then_apply(find("tempfile").unwrap(), args(json!({})), &host).await;
    let applied = rep.applied.unwrap();
    assert_eq!(applied.result["path"], "/tmp/ansible.abc");
    assert_eq!(applied.result["mode"], "0600");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_parameters_fail_before_any_io() {
    use tutti_modules::testing::prepare_err;
    let e = prepare_err(
        find("find").unwrap(),
        args(json!({"paths": "/x", "age": "3y"})),
    );
    assert_eq!(e.msg, "failed to process age");
    let e = prepare_err(
        find("find").unwrap(),
        args(json!({"paths": "/x", "file_type": "sock"})),
    );
    assert!(e.msg.contains("file_type"));
    let e = prepare_err(
        find("assemble").unwrap(),
        args(json!({"src": "/a", "dest": "/b", "validate": "x"})),
    );
    assert_eq!(e.msg, "validate must contain %s: x");
    let e = prepare_err(find("tempfile").unwrap(), args(json!({"state": "link"})));
    assert!(e.msg.contains("state"));
    let e = prepare_err(
        find("fetch").unwrap(),
        args(json!({"src": "/a", "dest": "/b"})),
    );
    assert_eq!(e.param.as_deref(), Some("_inventory_hostname"));
    let e = prepare_err(
        find("slurp").unwrap(),
        args(json!({"src": "/a", "bogus": 1})),
    );
    assert!(
        e.msg
            .starts_with("Unsupported parameters for (slurp) module: bogus.")
    );
}
