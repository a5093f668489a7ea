//! `wait_for` against this machine's real `sh` (a port the test opens, a
//! closed port that times out, a file and its regex groups), and
//! `wait_for_connection` and `reboot` against FakeHost (never rebooting
//! anything real).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/local_host.rs"]
mod local_host;

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use local_host::{LocalSh, scratch};
use serde_json::json;
use tutti_modules::testing::{
    Expect, FakeHost, Matcher, Reply, args, check_only, check_then_apply_with,
};
use tutti_modules::{HostError, Module, ModuleError, Plan, Prepared, find};

fn module(name: &str) -> &'static dyn Module {
    find(name).unwrap()
}

async fn wait_local(a: serde_json::Value) -> Result<Plan, ModuleError> {
    let p: Box<dyn Prepared> = module("wait_for").prepare(args(a)).unwrap();
    p.check(&LocalSh).await
}

#[tokio::test]
async fn wait_for_an_open_port() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let plan = wait_local(json!({"port": port, "timeout": 5}))
        .await
        .unwrap();
    let Plan::InSync { result } = plan else {
        panic!("{plan:?}")
    };
    assert_eq!(result["port"], port);
    assert_eq!(result["state"], "started");
    // Whole seconds waited; how many depends on the machine's load.
    assert!(result["elapsed"].is_u64(), "{result:?}");
    assert_eq!(result["path"], serde_json::Value::Null);
}

#[tokio::test]
async fn wait_for_a_closed_port_times_out() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let start = std::time::Instant::now();
    let e = wait_local(json!({"host": "127.0.0.1", "port": port, "timeout": 2}))
        .await
        .unwrap_err();
    let ModuleError::Failed { msg, result } = e else {
        panic!()
    };
    assert_eq!(msg, format!("Timeout when waiting for 127.0.0.1:{port}"));
    assert!(result["elapsed"].as_i64().unwrap() >= 2);
    assert!(start.elapsed().as_secs() < 10);
    // ...and state=stopped on the same closed port is immediately true.
    let plan = wait_local(json!({"port": port, "state": "stopped", "timeout": 2}))
        .await
        .unwrap();
    assert!(matches!(plan, Plan::InSync { .. }));
}

#[tokio::test]
async fn wait_for_a_file_and_regex_groups() {
    let dir = scratch("wait-file");
    let f = dir.join("app.log");
    let writer = {
        let f = f.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(1200));
            std::fs::write(&f, "booting\nready: version=42 port=8080\n").unwrap();
        })
    };
    let plan = wait_local(json!({
        "path": f.to_str().unwrap(),
        "search_regex": r"ready: version=(?P<version>\d+) port=(\d+)",
        "timeout": 10,
    }))
    .await
    .unwrap();
    writer.join().unwrap();
    let Plan::InSync { result } = plan else {
        panic!()
    };
    assert_eq!(result["match_groups"], json!(["42", "8080"]));
    assert_eq!(result["match_groupdict"], json!({"version": "42"}));
    assert!(result["elapsed"].as_i64().unwrap() >= 1);
    let e = wait_local(json!({"path": f.to_str().unwrap(), "search_regex": "never", "timeout": 1}))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Timeout when waiting for search string never in"),
        "{e}"
    );
    let gone = dir.join("gone");
    let plan = wait_local(json!({"path": gone.to_str().unwrap(), "state": "absent"}))
        .await
        .unwrap();
    assert!(matches!(plan, Plan::InSync { .. }));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn wait_for_drained_counts_connections() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let plan = wait_local(json!({"port": port, "state": "drained", "timeout": 3}))
        .await
        .unwrap();
    assert!(matches!(plan, Plan::InSync { .. }));
}

#[test]
fn wait_for_parameter_rules() {
    let m = module("wait_for");
    assert!(m.prepare(args(json!({"port": 1, "path": "/x"}))).is_err());
    assert!(m.prepare(args(json!({"state": "drained"}))).is_err());
    assert!(
        m.prepare(args(json!({"port": 22, "state": "sideways"})))
            .is_err()
    );
    assert!(
        m.prepare(args(json!({"path": "/x", "search_regex": "("})))
            .is_err()
    );
    assert!(
        m.prepare(args(json!({"port": "22", "timeout": "3", "delay": 0})))
            .is_ok()
    );
}

#[tokio::test]
async fn wait_for_connection_retries_until_the_host_answers() {
    let tries = Arc::new(AtomicUsize::new(0));
    let t = tries.clone();
    let host = FakeHost::new().on(
        Matcher::custom(move |c| c.render() == "true" && t.fetch_add(1, Ordering::SeqCst) < 2),
        Reply::error(HostError::Unreachable("connection refused".into())),
    );
    let r = check_then_apply_with(
        module("wait_for_connection"),
        args(json!({"sleep": 1, "timeout": 10})),
        &host,
        Expect::default(),
    )
    .await;
    let Plan::InSync { result } = &r.plan else {
        panic!()
    };
    assert_eq!(
        tries.load(Ordering::SeqCst),
        4,
        "3 tries, then 1 in the second check"
    );
    assert!(result["elapsed"].as_u64().unwrap() >= 2);
    assert!(host.runs().is_empty());
}

#[tokio::test]
async fn wait_for_connection_gives_up_after_timeout() {
    let host = FakeHost::new().down(HostError::Unreachable("no route to host".into()));
    let e = check_only(
        module("wait_for_connection"),
        args(json!({"sleep": 1, "timeout": 2})),
        &host,
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("timed out waiting for connection"),
        "{e}"
    );
    assert!(e.to_string().contains("no route to host"), "{e}");
}

/// A host that reboots: the boot id changes once the reboot command ran,
/// and the command itself loses the connection.
fn rebooting_host() -> FakeHost {
    let booted = Arc::new(Mutex::new(false));
    let (b1, b2) = (booted.clone(), booted.clone());
    FakeHost::new()
        .on(
            Matcher::custom(move |c| {
                c.render() == "cat /proc/sys/kernel/random/boot_id" && !*b1.lock().unwrap()
            }),
            Reply::ok("2b5e6c43-8d0b-4b1f-9b35-0b2d1f6f2f11\n"),
        )
        .on(
            "cat /proc/sys/kernel/random/boot_id",
            Reply::ok("7f0f35a4-1c5c-4ad6-a2b8-5bb3b3f3f1a0\n"),
        )
        .on(
            Matcher::custom(move |c| {
                let hit = c.render().starts_with("shutdown -r");
                if hit {
                    *b2.lock().unwrap() = true;
                }
                hit
            }),
            Reply::error(HostError::Unreachable(
                "Connection closed by remote host".into(),
            )),
        )
        .on("whoami", Reply::ok("root\n"))
}

#[tokio::test]
async fn reboot_waits_for_a_new_boot_id() {
    let host = rebooting_host();
    let r = check_then_apply_with(
        module("reboot"),
        args(json!({"reboot_timeout": 30})),
        &host,
        Expect { idempotent: false },
    )
    .await;
    assert!(r.plan.is_change());
    assert!(
        r.check_calls.is_empty(),
        "check mode does nothing: {:?}",
        r.check_calls
    );
    let rendered: Vec<String> = r.apply_calls.iter().map(|c| c.rendered.clone()).collect();
    assert_eq!(
        rendered,
        vec![
            "cat /proc/sys/kernel/random/boot_id",
            "shutdown -r 0 'Reboot initiated by Ansible'",
            "cat /proc/sys/kernel/random/boot_id",
            "whoami",
        ]
    );
    let a = r.applied.unwrap();
    assert!(a.changed);
    assert_eq!(a.result["rebooted"], true);
}

#[tokio::test]
async fn reboot_times_out_when_the_boot_id_never_changes() {
    let host = FakeHost::new()
        .on("cat /proc/sys/kernel/random/boot_id", Reply::ok("same\n"))
        .on(Matcher::prefix("shutdown"), Reply::ok(""));
    let p = module("reboot")
        .prepare(args(json!({"reboot_timeout": 2, "msg": "maintenance"})))
        .unwrap();
    let plan = p.check(&host).await.unwrap();
    let e = p.apply(plan, &host).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("Timed out waiting for last boot time check"),
        "{e}"
    );
    assert!(
        host.runs()
            .iter()
            .any(|c| c.rendered == "shutdown -r 0 maintenance")
    );
}

#[tokio::test]
async fn wait_for_through_the_harness() {
    // The loop script's own output, as the host prints it.
    let host = FakeHost::new().on(Matcher::contains("port_up"), Reply::ok("elapsed=3\n"));
    let r = tutti_modules::testing::check_then_apply(
        module("wait_for"),
        args(json!({"port": 8080, "delay": 1})),
        &host,
    )
    .await;
    let Plan::InSync { result } = &r.plan else {
        panic!()
    };
    assert_eq!(result["elapsed"], 3);
    assert_eq!(r.check_calls.len(), 1, "the whole wait is one probe");
    let argv = r.check_calls[0].cmd.argv_parts().unwrap().to_vec();
    assert_eq!(
        &argv[4..13],
        ["port_up", "127.0.0.1", "8080", "", "", "1", "300", "1", "5"]
    );
    let host = FakeHost::new().on(
        Matcher::contains("port_down"),
        Reply::output(124, "elapsed=300\n", ""),
    );
    let e = check_only(
        module("wait_for"),
        args(json!({"port": 8080, "state": "stopped", "msg": "still up"})),
        &host,
    )
    .await
    .unwrap_err();
    let ModuleError::Failed { msg, result } = e else {
        panic!()
    };
    assert_eq!(msg, "still up");
    assert_eq!(result["elapsed"], 300);
}
