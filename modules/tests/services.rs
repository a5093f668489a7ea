//! `systemd_service`/`systemd`, `sysvinit`, `service` and `service_facts`
//! against FakeHost through the shared harness. The `systemctl show`
//! replies are hand-made from systemd's documented format (this machine
//! has no systemd; see fixtures/services/README); the SysV replies are
//! recorded from this machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use serde_json::json;
use tutti_modules::testing::{
    Expect, FakeHost, Matcher, Reply, args, check_only, check_then_apply, check_then_apply_with,
    prepare_err,
};
use tutti_modules::{Module, ModuleError, Plan, find};

fn fixture(name: &str) -> String {
    let p = format!(
        "{}/tests/fixtures/services/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn module(name: &str) -> &'static dyn Module {
    find(name).unwrap_or_else(|| panic!("{name} is not registered"))
}

/// A host whose unit `cron` moves between fixture states as `systemctl`
/// actions run: `show` answers from the current state.
fn systemd_host(initial: &'static str) -> (FakeHost, Arc<Mutex<&'static str>>) {
    let state = Arc::new(Mutex::new(initial));
    let mut host = FakeHost::new();
    for fx in [
        "systemctl-show-cron-running-enabled.txt",
        "systemctl-show-cron-stopped-disabled.txt",
        "systemctl-show-cron-masked.txt",
    ] {
        let s = state.clone();
        host = host.on(
            Matcher::custom(move |c| {
                c.render() == "systemctl show cron --no-pager" && *s.lock().unwrap() == fx
            }),
            Reply::ok(fixture(fx)),
        );
    }
    // Actions move the fake unit (the running/enabled pair move together
    // in these fixtures, which is all the tests below need).
    for (action, next) in [
        ("start", "systemctl-show-cron-running-enabled.txt"),
        ("enable", "systemctl-show-cron-running-enabled.txt"),
        ("stop", "systemctl-show-cron-stopped-disabled.txt"),
        ("disable", "systemctl-show-cron-stopped-disabled.txt"),
        ("mask", "systemctl-show-cron-masked.txt"),
        ("unmask", "systemctl-show-cron-stopped-disabled.txt"),
        ("restart", "systemctl-show-cron-running-enabled.txt"),
    ] {
        let s = state.clone();
        let want = format!(" {action} cron");
        host = host.on(
            Matcher::custom(move |c| {
                let r = c.render();
                let hit = r.starts_with("systemctl ") && r.ends_with(&want);
                if hit {
                    *s.lock().unwrap() = next;
                }
                hit
            }),
            Reply::ok(""),
        );
    }
    host = host.on(
        Matcher::exact("systemctl show nosuch --no-pager"),
        Reply::ok(fixture("systemctl-show-missing.txt")),
    );
    (host, state)
}

#[tokio::test]
async fn systemd_starts_a_stopped_unit_in_one_probe() {
    let (host, _) = systemd_host("systemctl-show-cron-stopped-disabled.txt");
    let r = check_then_apply(
        module("systemd_service"),
        args(json!({"name": "cron", "state": "started"})),
        &host,
    )
    .await;
    assert!(r.plan.is_change());
    assert_eq!(r.check_calls.len(), 1, "one probe: {:?}", r.check_calls);
    let runs: Vec<String> = r.apply_calls.iter().map(|c| c.rendered.clone()).collect();
    assert_eq!(runs, vec!["systemctl start cron"]);
    let res = r.result();
    assert_eq!(res["name"], "cron");
    assert_eq!(res["state"], "started");
    assert_eq!(res["status"]["ActiveState"], "inactive");
    assert_eq!(res["status"]["UnitFileState"], "disabled");
    assert!(
        res["status"]["ExecStart"]
            .as_str()
            .unwrap()
            .starts_with("{ path=/usr/sbin/cron")
    );
}

#[tokio::test]
async fn systemd_in_sync_when_running_and_enabled() {
    let (host, _) = systemd_host("systemctl-show-cron-running-enabled.txt");
    let r = check_then_apply(
        module("systemd"),
        args(json!({"name": "cron", "state": "started", "enabled": true})),
        &host,
    )
    .await;
    assert!(matches!(r.plan, Plan::InSync { .. }));
    assert!(host.runs().is_empty());
    assert_eq!(r.result()["enabled"], true);
}

#[tokio::test]
async fn systemd_stops_and_disables_in_ansible_order() {
    let (host, _) = systemd_host("systemctl-show-cron-running-enabled.txt");
    let r = check_then_apply(
        module("systemd_service"),
        args(json!({"name": "cron", "state": "stopped", "enabled": false, "no_block": true})),
        &host,
    )
    .await;
    let runs: Vec<String> = r.apply_calls.iter().map(|c| c.rendered.clone()).collect();
    assert_eq!(
        runs,
        vec![
            "systemctl --no-block disable cron",
            "systemctl --no-block stop cron"
        ]
    );
}

#[tokio::test]
async fn systemd_masks_and_unmasks() {
    let (host, _) = systemd_host("systemctl-show-cron-stopped-disabled.txt");
    let r = check_then_apply(
        module("systemd_service"),
        args(json!({"name": "cron", "masked": true})),
        &host,
    )
    .await;
    assert!(r.plan.is_change());
    let (host, _) = systemd_host("systemctl-show-cron-masked.txt");
    let r = check_then_apply(
        module("systemd_service"),
        args(json!({"name": "cron", "masked": "no"})),
        &host,
    )
    .await;
    assert_eq!(r.apply_calls[0].rendered, "systemctl unmask cron");
}

#[tokio::test]
async fn systemd_restart_always_changes() {
    let (host, _) = systemd_host("systemctl-show-cron-running-enabled.txt");
    let r = check_then_apply_with(
        module("systemd_service"),
        args(json!({"name": "cron", "state": "restarted", "scope": "system"})),
        &host,
        Expect { idempotent: false },
    )
    .await;
    assert!(r.plan.is_change());
    assert_eq!(r.apply_calls[0].rendered, "systemctl restart cron");
    assert_eq!(r.result()["state"], "started");
}

#[tokio::test]
async fn systemd_missing_unit_fails_like_ansible() {
    let (host, _) = systemd_host("systemctl-show-cron-running-enabled.txt");
    let e = check_only(
        module("systemd_service"),
        args(json!({"name": "nosuch", "state": "started"})),
        &host,
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("Could not find the requested service nosuch"),
        "{e}"
    );
}

#[tokio::test]
async fn systemd_without_systemd_fails_with_its_message() {
    let host = FakeHost::new().on(
        Matcher::prefix("systemctl show"),
        Reply::output(1, "", fixture("systemctl-no-systemd.txt")),
    );
    let e = check_only(
        module("systemd"),
        args(json!({"name": "cron", "state": "started"})),
        &host,
    )
    .await
    .unwrap_err();
    let ModuleError::Failed { msg, result } = e else {
        panic!("expected a module failure")
    };
    assert!(msg.contains("not been booted with systemd"), "{msg}");
    assert_eq!(result["rc"], 1);
}

#[tokio::test]
async fn systemd_daemon_reload_is_unpredictable_then_reloads() {
    let (host, _) = systemd_host("systemctl-show-cron-stopped-disabled.txt");
    let r = check_then_apply(
        module("systemd_service"),
        args(json!({"name": "cron", "state": "started", "daemon_reload": true})),
        &host,
    )
    .await;
    assert!(matches!(r.plan, Plan::Unpredictable { .. }));
    assert!(r.check_calls.is_empty());
    let runs: Vec<String> = r
        .apply_calls
        .iter()
        .filter(|c| c.via == tutti_modules::testing::Via::Run)
        .map(|c| c.rendered.clone())
        .collect();
    assert_eq!(
        runs,
        vec!["systemctl daemon-reload", "systemctl start cron"]
    );
    assert!(r.applied.unwrap().changed);
}

#[test]
fn systemd_parameter_rules() {
    let m = module("systemd_service");
    let e = prepare_err(m, args(json!({"name": "cron"})));
    assert!(
        e.msg.contains("one of the following is required"),
        "{}",
        e.msg
    );
    let e = prepare_err(m, args(json!({"state": "started"})));
    assert_eq!(e.param.as_deref(), Some("name"));
    let e = prepare_err(m, args(json!({"name": "cron", "state": "bogus"})));
    assert_eq!(e.param.as_deref(), Some("state"));
    let e = prepare_err(
        m,
        args(json!({"name": "cron", "state": "started", "scope": "global"})),
    );
    assert_eq!(e.param.as_deref(), Some("state"));
    let e = prepare_err(m, args(json!({"name": "cron", "bogus": 1})));
    assert_eq!(e.param.as_deref(), Some("bogus"));
    // Ansible's aliases.
    assert!(
        m.prepare(args(json!({"unit": "cron", "daemon-reload": "yes"})))
            .is_ok()
    );
}

/// A host whose `/etc/init.d/cron` status follows start/stop runs.
fn sysv_host() -> FakeHost {
    let running = Arc::new(Mutex::new(false));
    let stopped = fixture("sysv-probe-cron-stopped.txt");
    let started = stopped.replace("running_rc=3", "running_rc=0");
    let (r1, r2, r3) = (running.clone(), running.clone(), running.clone());
    FakeHost::new()
        .on(
            Matcher::custom(move |c| c.render().contains("tutti-svc-probe") && *r1.lock().unwrap()),
            Reply::ok(format!("--tutti-section sysvinit--\n{started}")),
        )
        .on(
            Matcher::custom(move |c| {
                c.render().contains("tutti-svc-probe") && !*r2.lock().unwrap()
            }),
            Reply::ok(format!("--tutti-section sysvinit--\n{stopped}")),
        )
        .on(
            Matcher::custom(move |c| {
                let argv = c.argv_parts().unwrap_or_default();
                let hit = argv.iter().any(|a| a == "/etc/init.d/cron");
                if hit {
                    *r3.lock().unwrap() = argv.iter().any(|a| a == "start" || a == "restart");
                }
                hit
            }),
            Reply::ok("Starting periodic command scheduler: cron.\n"),
        )
}

#[tokio::test]
async fn service_uses_sysvinit_without_systemd() {
    let host = sysv_host();
    let r = check_then_apply(
        module("service"),
        args(json!({"name": "cron", "state": "started", "enabled": true})),
        &host,
    )
    .await;
    assert!(r.plan.is_change());
    assert_eq!(r.check_calls.len(), 1, "one probe");
    let probe = &r.check_calls[0].rendered;
    assert!(probe.contains("/run/systemd/system"), "{probe}");
    let runs: Vec<&[String]> = r
        .apply_calls
        .iter()
        .filter(|c| c.via == tutti_modules::testing::Via::Run)
        .map(|c| c.cmd.argv_parts().unwrap())
        .collect();
    assert_eq!(runs.len(), 1, "enabled already (rc2-5 links): only start");
    assert_eq!(&runs[0][4..], ["/etc/init.d/cron", "start"]);
    let res = r.result();
    assert_eq!(res["name"], "cron");
    assert_eq!(res["state"], "started");
    assert_eq!(res["enabled"], true);
}

#[tokio::test]
async fn sysvinit_disable_uses_update_rc_d() {
    let host = FakeHost::new()
        .on(
            Matcher::contains("tutti-svc-probe"),
            Reply::ok(fixture("sysv-probe-cron-stopped.txt")),
        )
        .on(Matcher::prefix("update-rc.d"), Reply::ok(""));
    let r = check_then_apply_with(
        module("sysvinit"),
        args(json!({"name": "cron", "enabled": false})),
        &host,
        Expect { idempotent: false },
    )
    .await;
    let runs: Vec<String> = r
        .apply_calls
        .iter()
        .filter(|c| c.via == tutti_modules::testing::Via::Run)
        .map(|c| c.rendered.clone())
        .collect();
    assert_eq!(runs, vec!["update-rc.d cron disable"]);
}

#[tokio::test]
async fn service_facts_from_sysv() {
    let host = FakeHost::new().on(
        Matcher::contains("list-unit-files"),
        Reply::ok(fixture("service-facts-sysv.txt")),
    );
    let r = check_then_apply(module("service_facts"), args(json!({})), &host).await;
    let s = &r.result()["ansible_facts"]["services"];
    assert_eq!(
        s["cron"],
        json!({"name": "cron", "state": "stopped", "status": "enabled", "source": "sysv"})
    );
    assert_eq!(s["procps"]["state"], "running");
    assert_eq!(s["hwclock.sh"]["state"], "unknown");
    assert_eq!(r.check_calls.len(), 1);
}

#[test]
fn service_facts_from_systemd_listing() {
    let out = "--tutti-section units--\n\
               cron.service loaded active running Regular background program processing daemon\n\
               ssh.service loaded inactive dead OpenBSD Secure Shell server\n\
               --tutti-section files--\n\
               cron.service enabled enabled\n\
               ssh.service disabled enabled\n\
               rsync.service disabled enabled\n";
    let s = tutti_modules::services::service_facts::parse(out);
    assert_eq!(
        s["cron.service"],
        json!({"name": "cron.service", "state": "running", "status": "enabled", "source": "systemd"})
    );
    assert_eq!(s["ssh.service"]["state"], "stopped");
    assert_eq!(s["rsync.service"]["state"], "inactive");
}
