//! `unarchive` and `archive` against this machine's real `sh`, `tar`,
//! `unzip` and `zip`: extract twice (the second check in sync), notice a
//! changed or missing member, honour `creates`, `exclude`, `list_files`,
//! `remote_src`; pack directories and single files, in sync until a
//! source changes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/local_host.rs"]
mod local_host;

use std::path::Path;
use std::process::Command;

use local_host::{LocalSh, scratch};
use serde_json::{Value, json};
use tutti_modules::testing::args;
use tutti_modules::{Applied, Plan, find};

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn converge(module: &str, a: Value) -> (Plan, Option<Applied>, Plan) {
    let p = find(module).unwrap().prepare(args(a)).unwrap();
    let plan = p.check(&LocalSh).await.unwrap();
    let applied = match &plan {
        Plan::InSync { .. } => None,
        _ => Some(p.apply(plan.clone(), &LocalSh).await.unwrap()),
    };
    let second = p.check(&LocalSh).await.unwrap();
    (plan, applied, second)
}

fn tree(dir: &Path) {
    sh(
        dir,
        "mkdir -p src/app/sub && printf 'hello\\n' > src/app/a.txt && printf 'x' > src/app/sub/b.bin \
             && printf 'skip' > src/app/skip.log && ln -s a.txt src/app/link && touch -d '2024-01-02 03:04:05' src/app/a.txt",
    );
}

#[tokio::test]
async fn unarchive_tarballs_from_the_controller() {
    let dir = scratch("unarchive-tar");
    tree(&dir);
    for (name, flag) in [
        ("a.tgz", "z"),
        ("a.tar.bz2", "j"),
        ("a.tar.xz", "J"),
        ("a.tar", ""),
    ] {
        sh(&dir, &format!("tar -c{flag}f {name} -C src app"));
        let out = dir.join(format!("out-{name}"));
        std::fs::create_dir_all(&out).unwrap();
        let a = json!({"src": dir.join(name).to_str().unwrap(), "dest": out.to_str().unwrap(), "list_files": true});
        let (plan, applied, second) = converge("unarchive", a.clone()).await;
        assert!(plan.is_change(), "{name}: {plan:?}");
        let applied = applied.unwrap();
        assert_eq!(applied.result["extract_results"]["rc"], 0);
        assert!(matches!(second, Plan::InSync { .. }), "{name}: {second:?}");
        assert_eq!(
            std::fs::read_to_string(out.join("app/a.txt")).unwrap(),
            "hello\n"
        );
        let Plan::InSync { result } = second else {
            panic!()
        };
        assert_eq!(result["handler"], "TgzArchive");
        let files: Vec<&str> = result["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(files.contains(&"app/sub/b.bin"), "{files:?}");
    }
    // A changed member is noticed and restored.
    let out = dir.join("out-a.tgz");
    std::fs::write(out.join("app/a.txt"), "changed\n").unwrap();
    let (plan, _, second) = converge(
        "unarchive",
        json!({"src": dir.join("a.tgz").to_str().unwrap(), "dest": out.to_str().unwrap()}),
    )
    .await;
    assert!(plan.is_change());
    assert!(matches!(second, Plan::InSync { .. }));
    assert_eq!(
        std::fs::read_to_string(out.join("app/a.txt")).unwrap(),
        "hello\n"
    );
    // exclude, and mode applied to every member (then in sync).
    let ex = dir.join("out-ex");
    std::fs::create_dir_all(&ex).unwrap();
    let (plan, _, second) = converge(
        "unarchive",
        json!({"src": dir.join("a.tgz").to_str().unwrap(), "dest": ex.to_str().unwrap(), "exclude": ["*.log"], "mode": "u+rwX,go-rwx"}),
    )
    .await;
    assert!(plan.is_change());
    assert!(matches!(second, Plan::InSync { .. }), "{second:?}");
    assert!(!ex.join("app/skip.log").exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(ex.join("app/a.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // creates skips.
    let (plan, _, _) = converge(
        "unarchive",
        json!({"src": dir.join("a.tgz").to_str().unwrap(), "dest": ex.to_str().unwrap(), "creates": ex.join("app").to_str().unwrap()}),
    )
    .await;
    let Plan::InSync { result } = plan else {
        panic!()
    };
    assert!(
        result["msg"]
            .as_str()
            .unwrap()
            .starts_with("skipped, since")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn unarchive_zip_and_remote_src() {
    let dir = scratch("unarchive-zip");
    tree(&dir);
    sh(
        &dir,
        "cd src && zip -qry ../a.zip app && cd .. && tar -czf r.tgz -C src app && mkdir out-zip out-rzip out-rtar",
    );
    for (src, out, remote) in [
        ("a.zip", "out-zip", false),
        ("a.zip", "out-rzip", true),
        ("r.tgz", "out-rtar", true),
    ] {
        let a = json!({"src": dir.join(src).to_str().unwrap(), "dest": dir.join(out).to_str().unwrap(), "remote_src": remote});
        let (plan, _, second) = converge("unarchive", a).await;
        assert!(plan.is_change(), "{src} {remote}: {plan:?}");
        assert!(
            matches!(second, Plan::InSync { .. }),
            "{src} {remote}: {second:?}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join(out).join("app/a.txt")).unwrap(),
            "hello\n"
        );
    }
    std::fs::write(dir.join("out-zip/app/sub/b.bin"), "yy").unwrap();
    let (plan, _, second) = converge("unarchive", json!({"src": dir.join("a.zip").to_str().unwrap(), "dest": dir.join("out-zip").to_str().unwrap()})).await;
    let Plan::Change { changes, .. } = &plan else {
        panic!()
    };
    assert!(
        changes
            .iter()
            .any(|c| c.contains("app/sub/b.bin: size differs")),
        "{changes:?}"
    );
    assert!(matches!(second, Plan::InSync { .. }));
    // A missing dest fails like Ansible.
    let p = find("unarchive")
        .unwrap()
        .prepare(args(
            json!({"src": dir.join("a.zip").to_str().unwrap(), "dest": "/nonexistent/x"}),
        ))
        .unwrap();
    let e = p.check(&LocalSh).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "dest '/nonexistent/x' must be an existing dir"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unarchive_parameters() {
    let m = find("unarchive").unwrap();
    assert!(
        m.prepare(args(json!({"src": "rel.tgz", "dest": "/d"})))
            .is_err(),
        "controller src must be absolute"
    );
    assert!(
        m.prepare(args(
            json!({"src": "rel.tgz", "dest": "/d", "remote_src": true})
        ))
        .is_ok()
    );
    assert!(
        m.prepare(args(
            json!({"src": "/a.tgz", "dest": "/d", "copy": false, "remote_src": true})
        ))
        .is_err()
    );
    assert!(
        m.prepare(args(
            json!({"src": "https://x/a.tgz", "dest": "/d", "remote_src": true})
        ))
        .is_err()
    );
}

#[tokio::test]
async fn archive_directories_and_single_files() {
    let dir = scratch("archive");
    tree(&dir);
    let d = |p: &str| dir.join(p).to_string_lossy().into_owned();
    for format in ["gz", "bz2", "xz", "tar", "zip"] {
        let dest = d(&format!("app.{format}.out"));
        let a = json!({"path": d("src/app"), "dest": dest, "format": format, "exclusion_patterns": ["*.log"]});
        let (plan, _, second) = converge("archive", a).await;
        let Plan::Change { result, .. } = &plan else {
            panic!("{format}: {plan:?}")
        };
        assert_eq!(result["arcroot"], format!("{}/", d("src")));
        assert_eq!(result["state"], "archive");
        assert!(
            result["archived"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v.as_str().unwrap().ends_with("a.txt"))
        );
        assert!(
            matches!(second, Plan::InSync { .. }),
            "{format}: {second:?}"
        );
    }
    // Listing check: the gz archive holds app/ without the excluded log.
    let out = Command::new("tar")
        .args(["-tzf", &d("app.gz.out")])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        names.contains("app/sub/b.bin") && !names.contains("skip.log"),
        "{names}"
    );
    // A source change makes it a change again.
    sh(&dir, "printf 'bigger content' > src/app/sub/b.bin");
    let (plan, _, second) = converge(
        "archive",
        json!({"path": d("src/app"), "dest": d("app.gz.out"), "exclusion_patterns": ["*.log"]}),
    )
    .await;
    assert!(plan.is_change());
    assert!(matches!(second, Plan::InSync { .. }));
    // One file: compressed, not tarred; globs and missing paths.
    let (plan, _, second) = converge("archive", json!({"path": d("src/app/a.txt")})).await;
    let Plan::Change { result, .. } = &plan else {
        panic!()
    };
    assert_eq!(result["state"], "compress");
    assert_eq!(result["dest"], format!("{}.gz", d("src/app/a.txt")));
    assert!(matches!(second, Plan::InSync { .. }));
    let (plan, _, _) = converge(
        "archive",
        json!({"path": [d("src/app/*.txt"), d("nope")], "dest": d("globs.tgz")}),
    )
    .await;
    let Plan::Change { result, .. } = &plan else {
        panic!()
    };
    assert_eq!(result["missing"], json!([d("nope")]));
    assert_eq!(result["state"], "incomplete");
    let _ = std::fs::remove_dir_all(&dir);
}

mod fake {
    //! `unarchive` through the shared harness on FakeHost, replaying the
    //! tar probe output recorded on this machine (fixtures/archive/README).

    use std::sync::{Arc, Mutex};

    use serde_json::json;
    use tutti_modules::testing::{FakeHost, Matcher, Reply, args, check_then_apply};
    use tutti_modules::{Plan, find};

    fn fixture(name: &str) -> String {
        let p = format!(
            "{}/tests/fixtures/archive/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&p).unwrap()
    }

    #[tokio::test]
    async fn tarball_streams_once_and_converges() {
        let dir = super::scratch("unarchive-fake");
        super::sh(
            &dir,
            "mkdir -p src/app && echo hi > src/app/a.txt && tar czf a.tgz -C src app",
        );
        let src = dir.join("a.tgz").to_string_lossy().into_owned();
        let extracted = Arc::new(Mutex::new(false));
        let (e1, e2) = (extracted.clone(), extracted.clone());
        let host = FakeHost::new()
            .on(
                Matcher::custom(move |c| c.render().contains("tar_diff") && !*e1.lock().unwrap()),
                Reply::ok(fixture("tar-diff-absent.txt")),
            )
            .on(
                Matcher::contains("tar_diff"),
                Reply::ok(fixture("tar-diff-in-sync.txt")),
            )
            .on(
                Matcher::custom(move |c| {
                    let hit = c.render().contains("tutti-unarchive.XXXXXX");
                    if hit {
                        *e2.lock().unwrap() = true;
                    }
                    hit
                }),
                Reply::ok(""),
            );
        let r = check_then_apply(
            find("unarchive").unwrap(),
            args(json!({"src": src, "dest": "/srv/out"})),
            &host,
        )
        .await;
        let Plan::Change { changes, .. } = &r.plan else {
            panic!()
        };
        assert!(
            changes
                .iter()
                .any(|c| c.contains("app/a.txt: Warning: Cannot stat")),
            "{changes:?}"
        );
        assert_eq!(r.check_calls.len(), 1, "one probe");
        let probe = &r.check_calls[0].cmd;
        assert_eq!(
            probe.stdin_path().unwrap().to_string_lossy(),
            src,
            "the archive is streamed"
        );
        assert!(probe.argv_parts().unwrap().contains(&"-z".to_string()));
        let run = &r.apply_calls.last().unwrap().cmd;
        assert_eq!(run.stdin_path().unwrap().to_string_lossy(), src);
        let argv = run.argv_parts().unwrap();
        assert!(
            argv.ends_with(&[
                "tar".into(),
                "-x".into(),
                "-z".into(),
                "-f".into(),
                "@SRC@".into()
            ]),
            "{argv:?}"
        );
        assert_eq!(r.result()["handler"], "TgzArchive");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
