//! `git` against this machine's real `git` and `sh`: a bare repository
//! made by the test, cloned, updated to a new commit, pinned to a tag,
//! with local modifications refused unless `force`, and a changed remote
//! URL noticed. Each step checks first, applies, and checks again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/local_host.rs"]
mod local_host;

use std::path::Path;
use std::process::Command;

use local_host::{LocalSh, scratch};
use serde_json::{Value, json};
use tutti_modules::{Applied, Module, ModuleError, Plan, find};

fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A bare repo at `dir/repo.git` with one commit on `main`; its sha.
fn bare_repo(dir: &Path) -> String {
    sh(
        dir,
        "git init -q -b main work && cd work && echo one > f && git add f && git commit -qm one \
         && git tag v1 && git clone -q --bare . ../repo.git && git rev-parse HEAD",
    )
}

fn new_commit(dir: &Path, text: &str) -> String {
    sh(
        dir,
        &format!(
            "cd work && echo {text} > f && git commit -qam {text} && git push -q ../repo.git main \
             && git rev-parse HEAD"
        ),
    )
}

async fn converge(a: Value) -> (Plan, Option<Applied>, Plan) {
    let p = find("git")
        .unwrap()
        .prepare(tutti_modules::testing::args(a))
        .unwrap();
    let plan = p.check(&LocalSh).await.unwrap();
    let applied = match &plan {
        Plan::InSync { .. } => None,
        _ => Some(p.apply(plan.clone(), &LocalSh).await.unwrap()),
    };
    let second = p.check(&LocalSh).await.unwrap();
    (plan, applied, second)
}

#[tokio::test]
async fn clone_update_and_pin() {
    let dir = scratch("git");
    let first = bare_repo(&dir);
    let repo = dir.join("repo.git").to_string_lossy().into_owned();
    let dest = dir.join("checkout").to_string_lossy().into_owned();
    let a = json!({"repo": repo, "dest": dest});

    // Clone: check predicts the remote sha, apply clones, second check in sync.
    let (plan, applied, second) = converge(a.clone()).await;
    let Plan::Change { result, diff, .. } = &plan else {
        panic!("{plan:?}")
    };
    assert_eq!(result["before"], Value::Null);
    assert_eq!(result["after"], first);
    assert_eq!(diff[0].after, format!("{first}\n"));
    assert_eq!(applied.unwrap().result["after"], first);
    let Plan::InSync { result } = second else {
        panic!("{second:?}")
    };
    assert_eq!(result["before"], first);
    assert_eq!(result["remote_url_changed"], false);

    // A new commit upstream: a change from `first` to `second`.
    let next = new_commit(&dir, "two");
    let (plan, applied, second) = converge(a.clone()).await;
    let Plan::Change { result, .. } = &plan else {
        panic!("{plan:?}")
    };
    assert_eq!(
        (result["before"].as_str(), result["after"].as_str()),
        (Some(&first[..]), Some(&next[..]))
    );
    assert!(applied.unwrap().changed);
    assert!(matches!(second, Plan::InSync { .. }));
    assert_eq!(
        std::fs::read_to_string(dir.join("checkout/f")).unwrap(),
        "two\n"
    );

    // Pin to the tag, then to a short sha.
    let (_, applied, second) = converge(json!({"repo": repo, "dest": dest, "version": "v1"})).await;
    assert_eq!(applied.unwrap().result["after"], first);
    assert!(matches!(second, Plan::InSync { .. }));
    let (plan, _, _) = converge(json!({"repo": repo, "dest": dest, "version": &first[..10]})).await;
    assert!(matches!(plan, Plan::InSync { .. }), "{plan:?}");

    // Back to the branch.
    let (_, applied, second) =
        converge(json!({"repo": repo, "dest": dest, "version": "main"})).await;
    assert_eq!(applied.unwrap().result["after"], next);
    assert!(matches!(second, Plan::InSync { .. }));

    // Local modifications: refused without force (even in check), reset with it.
    std::fs::write(dir.join("checkout/f"), "local edit\n").unwrap();
    let p = find("git")
        .unwrap()
        .prepare(tutti_modules::testing::args(
            json!({"repo": repo, "dest": dest, "version": "main"}),
        ))
        .unwrap();
    let e = p.check(&LocalSh).await.unwrap_err();
    let ModuleError::Failed { msg, .. } = e else {
        panic!()
    };
    assert_eq!(
        msg,
        format!("Local modifications exist in the destination: {dest} (force=no).")
    );
    let (plan, _, second) =
        converge(json!({"repo": repo, "dest": dest, "version": "main", "force": true})).await;
    assert!(plan.is_change());
    assert!(matches!(second, Plan::InSync { .. }));
    assert_eq!(
        std::fs::read_to_string(dir.join("checkout/f")).unwrap(),
        "two\n"
    );

    // update: no leaves an outdated checkout alone.
    new_commit(&dir, "three");
    let (plan, _, _) = converge(json!({"repo": repo, "dest": dest, "update": false})).await;
    assert!(matches!(plan, Plan::InSync { .. }));

    // A different URL for the same repository is a change (set-url).
    let other = format!("file://{repo}");
    let (plan, _, second) = converge(json!({"repo": other, "dest": dest})).await;
    let Plan::Change { result, .. } = &plan else {
        panic!()
    };
    assert_eq!(result["remote_url_changed"], true);
    assert!(matches!(second, Plan::InSync { .. }));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bare_clone_and_missing_version() {
    let dir = scratch("git-bare");
    let first = bare_repo(&dir);
    let repo = dir.join("repo.git").to_string_lossy().into_owned();
    let dest = dir.join("mirror.git").to_string_lossy().into_owned();
    let (plan, _, second) = converge(json!({"repo": repo, "dest": dest, "bare": true})).await;
    assert!(plan.is_change());
    let Plan::InSync { result } = second else {
        panic!()
    };
    assert_eq!(result["before"], first);
    let p = find("git")
        .unwrap()
        .prepare(tutti_modules::testing::args(
            json!({"repo": repo, "dest": dir.join("x").to_str().unwrap(), "version": "nope"}),
        ))
        .unwrap();
    let e = p.check(&LocalSh).await.unwrap_err();
    assert!(e.to_string().contains("Cannot find version nope"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn git_parameters() {
    let m: &dyn Module = find("git").unwrap();
    let e =
        tutti_modules::testing::prepare_err(m, tutti_modules::testing::args(json!({"dest": "/x"})));
    assert_eq!(e.param.as_deref(), Some("repo"));
    assert!(
        m.prepare(tutti_modules::testing::args(
            json!({"name": "r", "dest": "/x", "accept_hostkey": true, "accept_newhostkey": true})
        ))
        .is_err()
    );
    assert!(
        m.prepare(tutti_modules::testing::args(
            json!({"repo": "r", "dest": "/x", "depth": 0})
        ))
        .is_err()
    );
    assert!(m
        .prepare(tutti_modules::testing::args(json!({"repo": "r", "dest": "/x", "umask": "022", "accept_newhostkey": "yes", "key_file": "/k"})))
        .is_ok());
}

mod fake {
    //! `git` through the shared harness on FakeHost, replaying probe output
    //! recorded from this machine (fixtures/scm/README).

    use std::sync::{Arc, Mutex};

    use serde_json::json;
    use tutti_modules::testing::{FakeHost, Matcher, Reply, Via, args, check_then_apply};
    use tutti_modules::{Plan, find};

    fn fixture(name: &str) -> String {
        let p = format!("{}/tests/fixtures/scm/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&p).unwrap()
    }

    const REPO: &str = "/tmp/gfx/repo.git";
    const FIRST: &str = "8d755e66e800709ad55776e890039e2c326add78";
    const SECOND: &str = "f81d78f0d1acbeeb2e2f10047d35abc3d639ead6";

    /// The probe answers from `state`; clone and reset move it on.
    fn host(initial: &'static str) -> FakeHost {
        let state = Arc::new(Mutex::new(initial));
        let mut h = FakeHost::new();
        for fx in ["probe-absent.txt", "probe-in-sync.txt", "probe-behind.txt"] {
            let s = state.clone();
            h = h.on(
                Matcher::custom(move |c| {
                    c.argv_parts()
                        .is_some_and(|a| a.iter().any(|x| x.contains("ls-remote")))
                        && *s.lock().unwrap() == fx
                }),
                Reply::ok(fixture(fx)),
            );
        }
        let (s1, s2, s3) = (state.clone(), state.clone(), state.clone());
        h.on(
            Matcher::custom(move |c| {
                let hit = c.render().contains("git clone");
                if hit {
                    *s1.lock().unwrap() = "probe-in-sync.txt";
                }
                hit
            }),
            Reply::ok(""),
        )
        .on(
            Matcher::custom(move |c| {
                let hit = c.render().contains("reset --hard");
                if hit {
                    *s2.lock().unwrap() = "probe-after-update";
                }
                hit
            }),
            Reply::ok(""),
        )
        .on(
            Matcher::custom(move |c| {
                c.render().contains("rev-parse HEAD") && *s3.lock().unwrap() == "probe-after-update"
            }),
            Reply::ok(format!("{SECOND}\n")),
        )
        .on(
            Matcher::contains("rev-parse HEAD"),
            Reply::ok(format!("{FIRST}\n")),
        )
    }

    #[tokio::test]
    async fn clone_through_the_harness() {
        let h = host("probe-absent.txt");
        let r = check_then_apply(
            find("git").unwrap(),
            args(json!({"repo": REPO, "dest": "/tmp/gfx/co"})),
            &h,
        )
        .await;
        assert_eq!(r.check_calls.len(), 1, "one probe");
        assert!(r.plan.is_change());
        let runs: Vec<String> = r
            .apply_calls
            .iter()
            .filter(|c| c.via == Via::Run)
            .map(|c| c.rendered.clone())
            .collect();
        assert!(
            runs.iter()
                .any(|c| c.ends_with("git clone --origin origin -- /tmp/gfx/repo.git /tmp/gfx/co")),
            "{runs:?}"
        );
        assert_eq!(r.result()["after"], FIRST);
        assert_eq!(r.result()["before"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn in_sync_and_behind() {
        let h = host("probe-in-sync.txt");
        let r = check_then_apply(
            find("git").unwrap(),
            args(json!({"repo": REPO, "dest": "/tmp/gfx/co"})),
            &h,
        )
        .await;
        assert!(matches!(r.plan, Plan::InSync { .. }));
        assert!(h.runs().is_empty());
        let h = host("probe-behind.txt");
        let p = find("git")
            .unwrap()
            .prepare(args(json!({"repo": REPO, "dest": "/tmp/gfx/co"})))
            .unwrap();
        let plan = p.check(&h).await.unwrap();
        let Plan::Change { result, diff, .. } = &plan else {
            panic!()
        };
        assert_eq!(result["before"], FIRST);
        assert_eq!(result["after"], SECOND);
        assert_eq!(diff[0].before, format!("{FIRST}\n"));
        assert!(h.runs().is_empty(), "check ran nothing");
    }
}
