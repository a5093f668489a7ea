//! The package modules against FakeHost through the shared harness, with
//! replies recorded on this Debian 12 machine (fixtures/packages/): apt
//! install/remove/latest/cache/unknown packages, package (auto → apt),
//! dnf/yum from rpm's documented formats, pip in a virtualenv,
//! package_facts, apt_repository, deb822_repository and apt_key. Each case
//! also counts round trips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use tutti_modules::packages::{apt, dnf, package, package_facts, pip};
use tutti_modules::testing::{
    Expect, FakeHost, Matcher, Reply, args, check_only, check_then_apply, check_then_apply_with,
    prepare_err,
};
use tutti_modules::{Cmd, ModuleError, Plan, find};

fn fx(name: &str) -> String {
    let p = format!(
        "{}/tests/fixtures/packages/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn argv(c: &Cmd) -> Vec<String> {
    c.argv_parts().map(<[String]>::to_vec).unwrap_or_default()
}

/// `sh -c SCRIPT sh ...` with this script.
fn is_script(c: &Cmd, script: &str) -> bool {
    argv(c).get(2).is_some_and(|s| s == script)
}

fn is_apt_get(c: &Cmd, verb: &str, simulate: bool) -> bool {
    let a = argv(c);
    a.first().is_some_and(|p| p == "apt-get")
        && a.iter().any(|w| w == verb)
        && a.iter().any(|w| w == "--simulate") == simulate
}

fn flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

/// A Debian host on which `hello` is installed when `installed` is set,
/// and `apt-get install`/`remove` flip it, as the real machine did.
fn debian(installed: Arc<AtomicBool>) -> FakeHost {
    let (i1, i2, i3) = (installed.clone(), installed.clone(), installed);
    FakeHost::new()
        .on(
            Matcher::custom(move |c| {
                let hit = is_apt_get(c, "install", false);
                if hit {
                    i1.store(true, Ordering::SeqCst);
                }
                hit
            }),
            Reply::output(0, fx("install_hello.out"), fx("install_hello.err")),
        )
        .on(
            Matcher::custom(move |c| {
                let hit = is_apt_get(c, "remove", false);
                if hit {
                    i2.store(false, Ordering::SeqCst);
                }
                hit
            }),
            Reply::ok(fx("remove_hello.out")),
        )
        .on(
            Matcher::custom(|c| is_apt_get(c, "install", true)),
            Reply::ok(fx("sim_install_hello.txt")),
        )
        .on(
            Matcher::custom(|c| is_apt_get(c, "remove", true)),
            Reply::ok(fx("sim_remove_hello.txt")),
        )
        .on(
            Matcher::custom(move |c| is_script(c, apt::STATE_SCRIPT) && i3.load(Ordering::SeqCst)),
            Reply::ok(format!("@dpkg\n{}", fx("dpkg_hello_installed.txt"))),
        )
        .on(
            Matcher::custom(|c| is_script(c, apt::STATE_SCRIPT)),
            Reply::ok("@dpkg\n"),
        )
}

#[tokio::test]
async fn apt_installs_in_two_probes_and_one_run_then_is_in_sync_in_one() {
    let installed = flag();
    let host = debian(installed.clone());
    let m = find("apt").unwrap();
    let r = check_then_apply(m, args(json!({"name": "hello"})), &host).await;
    let Plan::Change { result, .. } = &r.plan else {
        panic!("{:?}", r.plan)
    };
    // The diff is apt-get's simulation, as Ansible's `prepared`.
    let prepared = result["diff"]["prepared"].as_str().unwrap();
    assert!(prepared.contains("The following NEW packages will be installed:\n  hello"));
    assert_eq!(r.check_calls.len(), 2, "state probe + simulation");
    assert_eq!(r.apply_calls.len(), 1, "one apt-get install");
    let install = &r.apply_calls[0];
    let a = argv(&install.cmd);
    assert_eq!(a[..2], ["apt-get", "-y"]);
    assert!(a.contains(&"Dpkg::Options::=--force-confdef".to_string()));
    assert!(a.contains(&"Dpkg::Options::=--force-confold".to_string()));
    assert!(a.contains(&"DPkg::Lock::Timeout=60".to_string()));
    assert_eq!(a.last().unwrap(), "hello");
    assert!(
        install
            .rendered
            .contains("export DEBIAN_FRONTEND=noninteractive")
    );
    let applied = r.applied.as_ref().unwrap();
    assert!(applied.changed);
    assert_eq!(applied.result["cache_updated"], false);
    assert!(
        applied.result["stdout"]
            .as_str()
            .unwrap()
            .contains("Setting up hello (2.10-3)")
    );
    assert!(applied.result["stdout_lines"].is_array());
    assert!(
        applied.result["stderr"]
            .as_str()
            .unwrap()
            .contains("debconf")
    );
    assert!(installed.load(Ordering::SeqCst));

    // In sync: exactly one probe, no simulation.
    host.clear_calls();
    let again = check_then_apply(
        m,
        args(json!({"name": ["hello"], "state": "present"})),
        &host,
    )
    .await;
    assert!(matches!(again.plan, Plan::InSync { .. }));
    assert_eq!(again.check_calls.len(), 1);
    assert_eq!(again.plan_result_changed(), None);
}

trait PlanResult {
    fn plan_result_changed(&self) -> Option<bool>;
}

impl PlanResult for tutti_modules::testing::HarnessReport {
    fn plan_result_changed(&self) -> Option<bool> {
        self.result().get("changed").and_then(Value::as_bool)
    }
}

#[tokio::test]
async fn apt_removes_and_purges() {
    let installed = flag();
    installed.store(true, Ordering::SeqCst);
    let host = debian(installed.clone());
    let m = find("apt").unwrap();
    let r = check_then_apply(
        m,
        args(json!({"name": "hello", "state": "absent", "purge": true})),
        &host,
    )
    .await;
    assert!(r.plan.is_change());
    let a = argv(&r.apply_calls[0].cmd);
    assert!(a.ends_with(&["remove".into(), "--purge".into(), "hello".into()]));
    assert!(!installed.load(Ordering::SeqCst));
    // Absent and gone: one probe.
    host.clear_calls();
    let again = check_then_apply(m, args(json!({"name": "hello", "state": "absent"})), &host).await;
    assert!(matches!(again.plan, Plan::InSync { .. }));
    assert_eq!(again.check_calls.len(), 1);
}

#[tokio::test]
async fn apt_config_files_only_are_purged_but_not_removed() {
    let host = FakeHost::new().on(
        Matcher::custom(|c| is_script(c, apt::STATE_SCRIPT)),
        Reply::ok("@dpkg\nfoo\tdeinstall ok config-files\t1.0-1\tamd64\n"),
    );
    let m = find("apt").unwrap();
    let plan = check_only(m, args(json!({"name": "foo", "state": "absent"})), &host)
        .await
        .unwrap();
    assert!(matches!(plan, Plan::InSync { .. }));
}

#[tokio::test]
async fn apt_unknown_package_fails_in_check_mode_like_ansible() {
    let host = FakeHost::new()
        .on(Matcher::custom(|c| is_script(c, apt::STATE_SCRIPT)), Reply::ok("@dpkg\n"))
        .on(
            Matcher::custom(|c| is_apt_get(c, "install", true)),
            Reply::output(
                100,
                "Reading package lists...\nBuilding dependency tree...\nReading state information...\n",
                "E: Unable to locate package nosuchpkg\n",
            ),
        );
    let err = check_only(
        find("apt").unwrap(),
        args(json!({"name": "nosuchpkg"})),
        &host,
    )
    .await
    .unwrap_err();
    let ModuleError::Failed { msg, result } = err else {
        panic!()
    };
    assert_eq!(msg, "No package matching 'nosuchpkg' is available");
    assert_eq!(result["rc"], 100);
}

#[tokio::test]
async fn apt_cache_valid_time_skips_or_runs_the_update() {
    let stamp = |age: i64| {
        let now = 1_795_313_000_i64;
        format!(
            "@stamp\nnow\t{now}\nmtime\t/var/lib/apt/lists\t{}\n@dpkg\n{}",
            now - age,
            fx("dpkg_hello_installed.txt")
        )
    };
    let m = find("apt").unwrap();
    let a = json!({"name": "hello", "update_cache": true, "cache_valid_time": 3600});
    // Fresh lists: nothing to do, one probe.
    let fresh = FakeHost::new().on(
        Matcher::custom(|c| is_script(c, apt::STATE_SCRIPT)),
        Reply::ok(stamp(60)),
    );
    let r = check_then_apply(m, args(a.clone()), &fresh).await;
    assert!(matches!(r.plan, Plan::InSync { .. }));
    assert_eq!(r.check_calls.len(), 1);
    assert_eq!(r.result()["cache_updated"], false);
    assert_eq!(r.result()["cache_update_time"], 1_795_313_000_i64 - 60);

    // Stale lists: apt-get update, then the state again (hello is there).
    let updated = flag();
    let (u1, u2) = (updated.clone(), updated.clone());
    let stale = FakeHost::new()
        .on(
            Matcher::custom(move |c| {
                let hit = is_script(c, apt::UPDATE_SCRIPT);
                if hit {
                    u1.store(true, Ordering::SeqCst);
                }
                hit
            }),
            Reply::ok(fx("update.out")),
        )
        .on(
            Matcher::custom(move |c| is_script(c, apt::STATE_SCRIPT) && u2.load(Ordering::SeqCst)),
            Reply::ok(stamp(1)),
        )
        .on(
            Matcher::custom(|c| is_script(c, apt::STATE_SCRIPT)),
            Reply::ok(stamp(7200)),
        );
    let r = check_then_apply(m, args(a), &stale).await;
    assert!(r.plan.is_change());
    assert_eq!(r.check_calls.len(), 1);
    let applied = r.applied.unwrap();
    assert_eq!(applied.result["cache_updated"], true);
    assert!(applied.result["cache_update_time"].as_i64().unwrap() > 0);
    // update + re-probe; hello was already installed, so no install.
    assert_eq!(r.apply_calls.len(), 2);
    assert!(r.apply_calls[0].rendered.contains("apt-get update"));
}

#[tokio::test]
async fn apt_latest_and_versions_use_apt_cache_policy() {
    // hello 2.9-1 installed, candidate 2.10-3 (policy recorded, then the
    // installed line edited to the older version).
    let policy = fx("policy_hello_sl.txt");
    let host = FakeHost::new()
        .on(
            Matcher::custom(|c| is_script(c, apt::STATE_SCRIPT)),
            Reply::ok(format!(
                "@dpkg\nhello\tinstall ok installed\t2.9-1\tamd64\n@policy\n{policy}"
            )),
        )
        .on(
            Matcher::custom(|c| is_apt_get(c, "install", true)),
            Reply::ok(fx("sim_install_hello.txt")),
        );
    let m = find("apt").unwrap();
    let plan = check_only(m, args(json!({"name": "hello", "state": "latest"})), &host)
        .await
        .unwrap();
    assert!(plan.is_change());
    let probes = host.probes();
    assert_eq!(argv(&probes[0].cmd)[4..], ["0", "1", "0", "hello"]);
    assert_eq!(argv(&probes[1].cmd).last().unwrap(), "hello");
    // A version wildcard resolves to the candidate it matches.
    host.clear_calls();
    let plan = check_only(m, args(json!({"name": "hello=2.10*"})), &host)
        .await
        .unwrap();
    assert!(plan.is_change());
    assert_eq!(argv(&host.probes()[1].cmd).last().unwrap(), "hello=2.10-3");
    // `>=` already satisfied by... nothing older: 2.9-1 < 2.10; 2.0 is fine.
    host.clear_calls();
    let plan = check_only(m, args(json!({"name": "hello>=2.0"})), &host)
        .await
        .unwrap();
    assert!(matches!(plan, Plan::InSync { .. }));
    // Present with a plain name: no policy needed.
    host.clear_calls();
    let plan = check_only(m, args(json!({"name": "hello"})), &host)
        .await
        .unwrap();
    assert!(matches!(plan, Plan::InSync { .. }));
    assert_eq!(argv(&host.probes()[0].cmd)[5], "0");
}

#[tokio::test]
async fn apt_upgrade_is_in_sync_when_the_simulation_does_nothing() {
    let host = FakeHost::new()
        .on(
            Matcher::custom(|c| is_script(c, apt::STATE_SCRIPT)),
            Reply::ok(""),
        )
        .on(
            Matcher::custom(|c| is_apt_get(c, "upgrade", true)),
            Reply::ok("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"),
        );
    let m = find("apt").unwrap();
    let r = check_then_apply(
        m,
        args(json!({"upgrade": "dist"})),
        &FakeHost::new()
            .on(
                Matcher::custom(|c| is_script(c, apt::STATE_SCRIPT)),
                Reply::ok(""),
            )
            .on(
                Matcher::custom(|c| is_apt_get(c, "dist-upgrade", true)),
                Reply::ok("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"),
            ),
    )
    .await;
    assert!(matches!(r.plan, Plan::InSync { .. }));
    // The recorded simulation of this machine has 131 upgrades.
    let busy = FakeHost::new()
        .on(
            Matcher::custom(|c| is_script(c, apt::STATE_SCRIPT)),
            Reply::ok(""),
        )
        .on(
            Matcher::custom(|c| is_apt_get(c, "upgrade", true)),
            Reply::ok(fx("sim_upgrade.txt")),
        );
    let plan = check_only(m, args(json!({"upgrade": "yes"})), &busy)
        .await
        .unwrap();
    assert!(plan.is_change());
    let a = argv(&busy.probes()[1].cmd);
    assert!(a.ends_with(&["upgrade".into(), "--with-new-pkgs".into()]));
    let _ = host;
}

#[tokio::test]
async fn apt_parameters_are_checked_before_any_io() {
    let m = find("apt").unwrap();
    let e = prepare_err(m, args(json!({"name": "x", "state": "installed"})));
    assert!(e.msg.contains("value of state must be one of"), "{}", e.msg);
    let e = prepare_err(m, args(json!({"name": "x", "upgrade": "yes"})));
    assert!(e.msg.contains("mutually exclusive"));
    let e = prepare_err(m, args(json!({"state": "present"})));
    assert!(e.msg.contains("one of the following is required"));
    let e = prepare_err(m, args(json!({"name": "x", "bogus": 1})));
    assert!(
        e.msg
            .starts_with("Unsupported parameters for (apt) module: bogus.")
    );
    let e = prepare_err(m, args(json!({"name": "--x"})));
    assert!(e.msg.contains("invalid package name"));
    // Aliases.
    let _ = tutti_modules::testing::prepare(
        m,
        args(
            json!({"pkg": ["a", "b"], "update-cache": "yes", "install-recommends": false, "allow_downgrades": true}),
        ),
    );
}

#[tokio::test]
async fn apt_options_reach_the_command_line() {
    let host = debian(flag());
    let m = find("apt").unwrap();
    let r = check_then_apply(
        m,
        args(json!({
            "name": "hello", "install_recommends": false, "default_release": "bookworm-backports",
            "allow_downgrade": true, "allow_unauthenticated": true, "dpkg_options": "force-confnew",
            "lock_timeout": 5, "autoremove": true
        })),
        &host,
    )
    .await;
    let a = argv(&r.apply_calls[0].cmd);
    for want in [
        "--no-install-recommends",
        "bookworm-backports",
        "--allow-downgrades",
        "--allow-unauthenticated",
        "Dpkg::Options::=--force-confnew",
        "DPkg::Lock::Timeout=5",
        "--auto-remove",
    ] {
        assert!(a.iter().any(|w| w == want), "{want} missing from {a:?}");
    }
    assert!(!a.iter().any(|w| w == "Dpkg::Options::=--force-confold"));
}

#[tokio::test]
async fn package_detects_apt_with_one_extra_probe() {
    let installed = flag();
    let host = debian(installed.clone()).on(
        Matcher::custom(|c| is_script(c, package::DETECT_SCRIPT)),
        Reply::ok("apt-get\n"),
    );
    let r = check_then_apply(
        find("package").unwrap(),
        args(json!({"name": "hello", "state": "present"})),
        &host,
    )
    .await;
    assert!(r.plan.is_change());
    assert_eq!(r.check_calls.len(), 3, "detect + state + simulation");
    assert!(installed.load(Ordering::SeqCst));
    let e = prepare_err(find("package").unwrap(), args(json!({"name": "x"})));
    assert!(e.msg.contains("state"));
    let e = prepare_err(
        find("package").unwrap(),
        args(json!({"name": "x", "state": "present", "use": "portage"})),
    );
    assert!(e.msg.contains("portage"));
}

/// An RPM host: `sl` is installed once `dnf install` ran. Replies follow
/// rpm's `--qf` output and dnf's documented transaction summary.
fn fedora(installed: Arc<AtomicBool>, mgr: &'static str) -> FakeHost {
    let (i1, i2, i3) = (installed.clone(), installed.clone(), installed);
    FakeHost::new()
        .on(
            Matcher::custom(move |c| {
                let a = argv(c);
                let hit = a.first().is_some_and(|p| p == "dnf" || p == "yum") && a.iter().any(|w| w == "install");
                if hit {
                    i1.store(true, Ordering::SeqCst);
                }
                hit
            }),
            Reply::ok("Dependencies resolved.\n================\n Package  Arch    Version        Repository  Size\n================\nInstalling:\n sl       x86_64  5.02-1.fc39    fedora      24 k\n\nTransaction Summary\n================\nInstall  1 Package\n\nInstalled:\n  sl-5.02-1.fc39.x86_64\n\nComplete!\n"),
        )
        .on(
            Matcher::custom(move |c| {
                let a = argv(c);
                let hit = a.first().is_some_and(|p| p == "dnf" || p == "yum") && a.iter().any(|w| w == "remove");
                if hit {
                    i2.store(false, Ordering::SeqCst);
                }
                hit
            }),
            Reply::ok("Removed:\n  sl-5.02-1.fc39.x86_64\n\nComplete!\n"),
        )
        .on(
            Matcher::custom(move |c| is_script(c, dnf::PROBE_SCRIPT) && i3.load(Ordering::SeqCst)),
            Reply::ok(format!("@mgr\n{mgr}\n@spec\nsl\ninst\tsl\t(none)\t5.02\t1.fc39\tx86_64\n")),
        )
        .on(
            Matcher::custom(|c| is_script(c, dnf::PROBE_SCRIPT)),
            Reply::ok(format!("@mgr\n{mgr}\n@spec\nsl\n")),
        )
}

#[tokio::test]
async fn dnf_and_yum_install_and_remove() {
    for (module, mgr) in [("dnf", "dnf"), ("yum", "yum")] {
        let installed = flag();
        let host = fedora(installed.clone(), mgr);
        let m = find(module).unwrap();
        let r = check_then_apply(
            m,
            args(json!({"name": "sl", "enablerepo": ["updates", "extras"], "disable_gpg_check": true})),
            &host,
        )
        .await;
        assert!(r.plan.is_change());
        assert_eq!(r.check_calls.len(), 1);
        let Plan::Change { result, .. } = &r.plan else {
            panic!()
        };
        assert_eq!(result["results"], json!(["Installed: sl"]));
        let run = r
            .apply_calls
            .iter()
            .find(|c| c.via == tutti_modules::testing::Via::Run)
            .unwrap();
        let a = argv(&run.cmd);
        assert_eq!(a[..2], [mgr, "-y"]);
        assert!(a.contains(&"--enablerepo=updates,extras".to_string()));
        assert!(a.contains(&"--nogpgcheck".to_string()));
        assert_eq!(a.last().unwrap(), "sl");
        let applied = r.applied.unwrap();
        assert_eq!(
            applied.result["results"],
            json!(["Installed: sl-5.02-1.fc39.x86_64"])
        );
        assert!(installed.load(Ordering::SeqCst));

        let r = check_then_apply(m, args(json!({"name": "sl", "state": "removed"})), &host).await;
        assert!(r.plan.is_change());
        assert!(!installed.load(Ordering::SeqCst));
        assert_eq!(
            r.applied.unwrap().result["results"],
            json!(["Removed: sl-5.02-1.fc39.x86_64"])
        );
    }
}

#[tokio::test]
async fn dnf_latest_reads_check_update() {
    let host = FakeHost::new().on(
        Matcher::custom(|c| is_script(c, dnf::PROBE_SCRIPT)),
        Reply::ok("@mgr\ndnf\n@spec\nsl\ninst\tsl\t(none)\t5.01\t1.fc39\tx86_64\n@updates\n\nsl.x86_64    5.02-1.fc39    updates\n\n@rc\n100\n"),
    );
    let plan = check_only(
        find("dnf").unwrap(),
        args(json!({"name": "sl", "state": "latest"})),
        &host,
    )
    .await
    .unwrap();
    let Plan::Change { changes, .. } = plan else {
        panic!()
    };
    assert_eq!(changes, vec!["upgrade: sl"]);
    let quiet = FakeHost::new().on(
        Matcher::custom(|c| is_script(c, dnf::PROBE_SCRIPT)),
        Reply::ok(
            "@mgr\ndnf\n@spec\nsl\ninst\tsl\t(none)\t5.02\t1.fc39\tx86_64\n@updates\n\n@rc\n0\n",
        ),
    );
    let plan = check_only(
        find("dnf").unwrap(),
        args(json!({"name": "sl", "state": "latest"})),
        &quiet,
    )
    .await
    .unwrap();
    assert!(matches!(plan, Plan::InSync { .. }));
    let e = prepare_err(
        find("dnf").unwrap(),
        args(json!({"name": "sl", "state": "fixed"})),
    );
    assert!(e.msg.contains("value of state"));
}

/// A host with a virtualenv at /srv/venv once it was created, and `six`
/// in it once pip installed it (outputs recorded from pip 23.0.1).
fn venv_host() -> (FakeHost, Arc<AtomicBool>) {
    let created = flag();
    let six = flag();
    let (c1, c2, s1, s2, s3) = (
        created.clone(),
        created.clone(),
        six.clone(),
        six.clone(),
        six.clone(),
    );
    let host = FakeHost::new()
        .on(
            Matcher::custom(move |c| {
                let hit = argv(c).windows(2).any(|w| w == ["-m", "venv"]);
                if hit {
                    c1.store(true, Ordering::SeqCst);
                }
                hit
            }),
            Reply::ok(""),
        )
        .on(
            Matcher::custom(move |c| {
                let a = argv(c);
                let hit = a.first().is_some_and(|p| p.ends_with("/bin/pip"))
                    && a.get(1).is_some_and(|v| v == "install");
                if hit {
                    s1.store(true, Ordering::SeqCst);
                }
                hit
            }),
            Reply::ok(fx("pip_install_six.txt")),
        )
        .on(
            Matcher::custom(move |c| {
                let a = argv(c);
                let hit = a.get(1).is_some_and(|v| v == "uninstall");
                if hit {
                    s2.store(false, Ordering::SeqCst);
                }
                hit
            }),
            Reply::ok(fx("pip_uninstall_six.txt")),
        )
        .on(
            Matcher::custom(move |c| is_script(c, pip::PROBE_SCRIPT) && !c2.load(Ordering::SeqCst)),
            Reply::ok("@venv\nmissing\n"),
        )
        .on(
            Matcher::custom(move |c| is_script(c, pip::PROBE_SCRIPT) && s3.load(Ordering::SeqCst)),
            Reply::ok(format!(
                "@pip\n/srv/venv/bin/pip\n@freeze\n{}\n@rc\n0\n",
                fx("pip_freeze_six.txt")
            )),
        )
        .on(
            Matcher::custom(|c| is_script(c, pip::PROBE_SCRIPT)),
            Reply::ok(format!(
                "@pip\n/srv/venv/bin/pip\n@freeze\n{}\n@rc\n0\n",
                fx("pip_freeze_fresh.txt")
            )),
        );
    (host, six)
}

#[tokio::test]
async fn pip_creates_the_venv_installs_then_removes() {
    let (host, six) = venv_host();
    let m = find("pip").unwrap();
    let a = json!({"name": "six", "version": "1.16.0", "virtualenv": "/srv/venv", "virtualenv_command": "python3 -m venv"});
    let r = check_then_apply(m, args(a.clone()), &host).await;
    let Plan::Change { changes, .. } = &r.plan else {
        panic!("{:?}", r.plan)
    };
    assert_eq!(changes[0], "create the virtualenv /srv/venv");
    assert_eq!(r.check_calls.len(), 1);
    assert_eq!(r.apply_calls.len(), 2, "venv + pip install");
    assert_eq!(
        argv(&r.apply_calls[0].cmd),
        ["python3", "-m", "venv", "/srv/venv"]
    );
    let pip_argv = argv(&r.apply_calls[1].cmd);
    assert_eq!(pip_argv[0], "/srv/venv/bin/pip");
    assert_eq!(pip_argv.last().unwrap(), "six==1.16.0");
    let applied = r.applied.unwrap();
    assert!(
        applied.result["stdout"]
            .as_str()
            .unwrap()
            .contains("Successfully installed six-1.16.0")
    );
    assert_eq!(applied.result["virtualenv"], "/srv/venv");
    assert_eq!(applied.result["version"], "1.16.0");
    assert!(six.load(Ordering::SeqCst));

    // A different version is a change; the same one is one probe.
    host.clear_calls();
    let r = check_then_apply(m, args(a), &host).await;
    assert!(matches!(r.plan, Plan::InSync { .. }));
    assert_eq!(r.check_calls.len(), 1);
    let plan = check_only(
        m,
        args(json!({"name": "six==1.17.0", "virtualenv": "/srv/venv"})),
        &host,
    )
    .await
    .unwrap();
    assert!(plan.is_change());

    let r = check_then_apply(
        m,
        args(json!({"name": "Six", "state": "absent", "virtualenv": "/srv/venv"})),
        &host,
    )
    .await;
    assert!(r.plan.is_change());
    assert_eq!(
        argv(&r.apply_calls[0].cmd)[..3],
        ["/srv/venv/bin/pip", "uninstall", "-y"]
    );
    assert!(!six.load(Ordering::SeqCst));
}

#[tokio::test]
async fn pip_latest_uses_a_dry_run_in_the_same_probe() {
    let host = FakeHost::new().on(
        Matcher::custom(|c| is_script(c, pip::PROBE_SCRIPT)),
        Reply::ok(format!(
            "@pip\n/srv/venv/bin/pip\n@freeze\n{}\n@rc\n0\n@dry\n{}\n@dryrc\n0\n",
            fx("pip_freeze_six.txt"),
            fx("pip_dryrun_latest.txt")
        )),
    );
    let m = find("pip").unwrap();
    let plan = check_only(
        m,
        args(json!({"name": "six", "state": "latest", "virtualenv": "/srv/venv"})),
        &host,
    )
    .await
    .unwrap();
    let Plan::Change { changes, .. } = plan else {
        panic!()
    };
    assert_eq!(changes, vec!["pip install: six-1.17.0"]);
    let a = argv(&host.probes()[0].cmd);
    assert_eq!(a[4..8], ["", "/srv/venv", "", "1"]);
    assert!(a.ends_with(&["-U".into(), "six".into()]));
    let e = prepare_err(m, args(json!({"name": ["a", "b"], "version": "1"})));
    assert!(e.msg.contains("ambiguous"));
    let e = prepare_err(m, args(json!({"name": "a", "requirements": "r.txt"})));
    assert!(e.msg.contains("mutually exclusive"));
    let e = prepare_err(
        m,
        args(
            json!({"name": "a", "virtualenv_python": "python3", "virtualenv_command": "python3 -m venv", "virtualenv": "/v"}),
        ),
    );
    assert!(e.msg.contains("virtualenv_python"));
}

#[tokio::test]
async fn package_facts_from_recorded_dpkg_query() {
    let host = FakeHost::new().on(
        Matcher::custom(|c| is_script(c, package_facts::PROBE_SCRIPT)),
        Reply::ok(format!("@apt\n{}", fx("dpkg_query_all.txt"))),
    );
    let r = check_then_apply(find("package_facts").unwrap(), args(json!({})), &host).await;
    assert!(matches!(r.plan, Plan::InSync { .. }));
    assert_eq!(r.check_calls.len(), 1);
    let pk = &r.result()["ansible_facts"]["packages"];
    assert_eq!(
        pk["adduser"],
        json!([{"name": "adduser", "version": "3.134", "arch": "all", "category": "admin", "origin": "", "source": "apt"}])
    );
    assert_eq!(pk.as_object().unwrap().len(), 200);
    let rpm = FakeHost::new().on(
        Matcher::custom(|c| is_script(c, package_facts::PROBE_SCRIPT)),
        Reply::ok("@rpm\nbash\t(none)\t5.2.26\t1.fc39\tx86_64\nkernel\t(none)\t6.5.6\t300.fc39\tx86_64\nkernel\t(none)\t6.5.7\t300.fc39\tx86_64\n"),
    );
    let r = check_then_apply(
        find("package_facts").unwrap(),
        args(json!({"manager": "rpm"})),
        &rpm,
    )
    .await;
    let pk = &r.result()["ansible_facts"]["packages"];
    assert_eq!(pk["kernel"].as_array().unwrap().len(), 2);
    assert_eq!(pk["bash"][0]["epoch"], Value::Null);
    assert_eq!(pk["bash"][0]["release"], "1.fc39");
    let none = FakeHost::new();
    assert!(
        check_only(find("package_facts").unwrap(), args(json!({})), &none)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn apt_repository_adds_a_line_once() {
    use tutti_modules::packages::apt_repository::LIST_SCRIPT;
    let repo = "deb http://deb.debian.org/debian bookworm-backports main";
    let sources = "\0/etc/apt/sources.list\0deb http://deb.debian.org/debian bookworm main\n";
    let host = FakeHost::new().with_dir("/etc/apt/sources.list.d").on(
        Matcher::custom(|c| is_script(c, LIST_SCRIPT)),
        Reply::ok(sources),
    );
    let m = find("apt_repository").unwrap();
    let r = check_then_apply_with(
        m,
        args(json!({"repo": repo, "update_cache": false})),
        &host,
        Expect { idempotent: false },
    )
    .await;
    assert!(r.plan.is_change());
    let dest = "/etc/apt/sources.list.d/deb_debian_org_debian.list";
    assert_eq!(
        String::from_utf8(host.file(dest).unwrap()).unwrap(),
        format!("{repo}\n")
    );
    assert_eq!(host.node(dest).unwrap().mode, 0o644);
    assert_eq!(r.result()["sources_added"], json!([dest]));
    // On the host as it now is, the same task is in sync.
    let after = FakeHost::new().on(
        Matcher::custom(|c| is_script(c, LIST_SCRIPT)),
        Reply::ok(format!("{sources}\0{dest}\0{repo}\n")),
    );
    let r = check_then_apply(
        m,
        args(
            json!({"repo": format!("deb  http://deb.debian.org/debian bookworm-backports   main")}),
        ),
        &after,
    )
    .await;
    assert!(matches!(r.plan, Plan::InSync { .. }));
    assert_eq!(r.check_calls.len(), 1);
    // Absent removes the line, deleting the emptied file.
    let after = after.with_file(dest, format!("{repo}\n"));
    let r = check_then_apply_with(
        m,
        args(json!({"repo": repo, "state": "absent", "update_cache": false})),
        &after,
        Expect { idempotent: false },
    )
    .await;
    assert!(r.plan.is_change());
    assert!(after.file(dest).is_none());
}

#[tokio::test]
async fn deb822_repository_writes_the_sources_file() {
    let host = FakeHost::new().with_dir("/etc/apt/sources.list.d");
    let m = find("deb822_repository").unwrap();
    let a = json!({
        "name": "Example", "uris": "https://example.org/debian", "suites": ["bookworm"],
        "components": "main contrib", "signed_by": "/etc/apt/keyrings/example.asc", "enabled": true
    });
    let r = check_then_apply(m, args(a.clone()), &host).await;
    assert!(r.plan.is_change());
    assert_eq!(r.check_calls.len(), 1);
    assert_eq!(
        String::from_utf8(
            host.file("/etc/apt/sources.list.d/example.sources")
                .unwrap()
        )
        .unwrap(),
        "X-Repolib-Name: Example\nTypes: deb\nURIs: https://example.org/debian\nSuites: bookworm\nComponents: main contrib\nEnabled: yes\nSigned-By: /etc/apt/keyrings/example.asc\n"
    );
    let r = check_then_apply(
        m,
        args(json!({"name": "Example", "state": "absent"})),
        &host,
    )
    .await;
    assert!(r.plan.is_change());
    assert!(
        host.file("/etc/apt/sources.list.d/example.sources")
            .is_none()
    );
    let e = prepare_err(m, args(json!({"name": "x", "uris": "http://a"})));
    assert!(e.msg.contains("suites"));
}

#[tokio::test]
async fn apt_key_keeps_the_key_in_its_own_file() {
    let key =
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\n-----END PGP PUBLIC KEY BLOCK-----\n";
    let host = FakeHost::new().with_dir("/etc/apt/trusted.gpg.d");
    let m = find("apt_key").unwrap();
    let r = check_then_apply(m, args(json!({"id": "0xabcd1234", "data": key})), &host).await;
    assert!(r.plan.is_change());
    assert_eq!(
        host.file("/etc/apt/trusted.gpg.d/ABCD1234.asc").unwrap(),
        key.as_bytes()
    );
    let r = check_then_apply(m, args(json!({"id": "ABCD1234", "state": "absent"})), &host).await;
    assert!(r.plan.is_change());
    assert!(host.file("/etc/apt/trusted.gpg.d/ABCD1234.asc").is_none());
    let e = prepare_err(m, args(json!({"state": "absent"})));
    assert!(e.msg.contains("id"));
}
