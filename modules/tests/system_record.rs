//! Records the system modules' probe and run outputs on this real Debian
//! machine into `tests/fixtures/system/`, for the FakeHost tests in
//! `system.rs`. Run as root with
//! `cargo test -p tutti-modules --test system_record -- --ignored`;
//! it creates and removes the user and group `tuttifix`, and only reads
//! the hostname, time zone and kernel modules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)] // `scratch` is for other tests
#[path = "support/local_host.rs"]
mod local_host;

use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use local_host::LocalSh;
use serde_json::{Value, json};
use tutti_modules::testing::args;
use tutti_modules::{Cmd, Host, HostError, HostRead, Output, Plan, find};

/// Runs commands locally and keeps every output, in order.
struct Rec {
    log: Mutex<Vec<(String, Output)>>,
}

#[async_trait]
impl HostRead for Rec {
    async fn probe(&self, cmd: &Cmd) -> Result<Output, HostError> {
        let out = LocalSh.probe(cmd).await?;
        self.log.lock().unwrap().push(("probe".into(), out.clone()));
        Ok(out)
    }
}

#[async_trait]
impl Host for Rec {
    async fn run(&self, cmd: &Cmd) -> Result<Output, HostError> {
        let out = LocalSh.run(cmd).await?;
        self.log.lock().unwrap().push(("run".into(), out.clone()));
        Ok(out)
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/system")
}

/// check, apply (unless in sync), check; saves `<case>.<n>.<via>` files.
async fn record(case: &str, module: &str, a: Value, apply: bool) {
    let host = Rec {
        log: Mutex::new(Vec::new()),
    };
    let m = find(module).unwrap();
    let p = m.prepare(args(a)).unwrap();
    let plan = p.check(&host).await.unwrap();
    if apply && !matches!(plan, Plan::InSync { .. }) {
        p.apply(plan, &host).await.unwrap();
        p.check(&host).await.unwrap();
    }
    for (i, (via, out)) in host.log.lock().unwrap().iter().enumerate() {
        std::fs::write(dir().join(format!("{case}.{i}.{via}")), &out.stdout).unwrap();
    }
}

fn sh(s: &str) {
    let _ = std::process::Command::new("sh").arg("-c").arg(s).status();
}

#[tokio::test]
#[ignore = "changes this machine (a throwaway user and group); run by hand as root"]
async fn record_fixtures() {
    std::fs::create_dir_all(dir()).unwrap();
    sh(
        "userdel -r tuttifix 2>/dev/null; groupdel tuttifix 2>/dev/null; groupdel tuttifixg 2>/dev/null; true",
    );
    record(
        "group_create",
        "group",
        json!({"name": "tuttifixg", "gid": 4242}),
        true,
    )
    .await;
    record(
        "group_modify",
        "group",
        json!({"name": "tuttifixg", "gid": 4243}),
        true,
    )
    .await;
    record(
        "user_create",
        "user",
        json!({"name": "tuttifix", "uid": 4242, "groups": ["tuttifixg"], "shell": "/bin/sh",
               "comment": "Tutti Fixture", "password": "$6$salt$hash", "expires": 1893456000}),
        true,
    )
    .await;
    record(
        "user_modify",
        "user",
        json!({"name": "tuttifix", "shell": "/bin/bash", "groups": [], "password_lock": true,
               "expires": -1}),
        true,
    )
    .await;
    record(
        "user_sshkey",
        "user",
        json!({"name": "tuttifix", "generate_ssh_key": true, "ssh_key_type": "ed25519"}),
        true,
    )
    .await;
    record(
        "cron_user",
        "cron",
        json!({"name": "backup", "user": "tuttifix", "minute": "5", "hour": "2", "job": "/usr/local/bin/backup"}),
        true,
    )
    .await;
    record(
        "cron_env",
        "cron",
        json!({"name": "MAILTO", "env": true, "user": "tuttifix", "job": "ops@example.com"}),
        true,
    )
    .await;
    record(
        "user_remove",
        "user",
        json!({"name": "tuttifix", "state": "absent", "remove": true}),
        true,
    )
    .await;
    record(
        "group_remove",
        "group",
        json!({"name": "tuttifixg", "state": "absent"}),
        true,
    )
    .await;
    record(
        "getent_passwd_root",
        "getent",
        json!({"database": "passwd", "key": "root"}),
        false,
    )
    .await;
    record(
        "getent_hosts",
        "getent",
        json!({"database": "hosts", "key": "localhost"}),
        false,
    )
    .await;
    record(
        "hostname_probe",
        "hostname",
        json!({"name": "tutti-new-name"}),
        false,
    )
    .await;
    record(
        "timezone_probe",
        "timezone",
        json!({"name": "Europe/Paris", "hwclock": "UTC"}),
        false,
    )
    .await;
    record(
        "modprobe_probe",
        "modprobe",
        json!({"name": "dummy", "params": "numdummies=2"}),
        false,
    )
    .await;
    record("mount_probe", "mount", json!({"path": "/proc", "src": "proc", "fstype": "proc", "state": "mounted", "fstab": "/nonexistent/fstab"}), false).await;
    record("sysctl_probe", "sysctl", json!({"name": "vm.swappiness", "value": "60", "sysctl_file": "/nonexistent/sysctl.conf", "sysctl_set": true}), false).await;
    sh(
        "crontab -r -u tuttifix 2>/dev/null; rm -f /var/spool/cron/crontabs/tuttifix; \
        userdel -r tuttifix 2>/dev/null; groupdel tuttifixg 2>/dev/null; true",
    );
}
