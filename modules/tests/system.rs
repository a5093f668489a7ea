//! The system modules against FakeHost through the shared harness, with
//! host replies recorded on a real Debian 12 machine by `system_record.rs`
//! (`tests/fixtures/system/<case>.<n>.<probe|run>`): check makes no
//! writes, apply changes exactly when check planned, a second check (on
//! the "after" recording) is in sync; plus the commands each builds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use tutti_modules::testing::{self, FakeHost, HarnessReport, Matcher, Reply, Via, args};
use tutti_modules::{Cmd, Plan, find};

fn fixture(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/fixtures/system/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn argv_has(c: &Cmd, word: &str) -> bool {
    c.argv_parts().is_some_and(|a| a.iter().any(|x| x == word))
}

fn script_has(c: &Cmd, needle: &str) -> bool {
    c.argv_parts()
        .is_some_and(|a| a.get(2).is_some_and(|s| s.contains(needle)))
}

/// A host whose probe (the command whose script contains `probe`)
/// answers `before` until a run with the argument `trigger` (or, for
/// `script:TEXT`, whose script contains TEXT) happened,
/// then `after`; that run answers `run`.
fn phased(
    probe: &'static str,
    before: Vec<u8>,
    trigger: &'static str,
    run: Vec<u8>,
    after: Vec<u8>,
) -> FakeHost {
    let done = Arc::new(AtomicBool::new(false));
    let (d1, d2, d3) = (done.clone(), done.clone(), done);
    FakeHost::new()
        .on(
            Matcher::custom(move |c| {
                let hit = match trigger.strip_prefix("script:") {
                    Some(t) => script_has(c, t),
                    None => argv_has(c, trigger),
                };
                if hit {
                    d1.store(true, Ordering::SeqCst);
                }
                hit
            }),
            Reply::ok(run),
        )
        .on(
            Matcher::custom(move |c| script_has(c, probe) && !d2.load(Ordering::SeqCst)),
            Reply::ok(before),
        )
        .on(
            Matcher::custom(move |c| script_has(c, probe) && d3.load(Ordering::SeqCst)),
            Reply::ok(after),
        )
}

fn recorded(case: &str, probe: &'static str, trigger: &'static str) -> FakeHost {
    phased(
        probe,
        fixture(&format!("{case}.0.probe")),
        trigger,
        fixture(&format!("{case}.1.run")),
        fixture(&format!("{case}.2.probe")),
    )
}

async fn converge(module: &str, a: Value, host: &FakeHost) -> HarnessReport {
    testing::check_then_apply(find(module).unwrap(), args(a), host).await
}

fn runs(r: &HarnessReport) -> Vec<String> {
    r.apply_calls
        .iter()
        .filter(|c| c.via == Via::Run)
        .map(|c| c.rendered.clone())
        .collect()
}

fn run_argv(r: &HarnessReport, i: usize) -> Vec<String> {
    let c = r
        .apply_calls
        .iter()
        .filter(|c| c.via == Via::Run)
        .nth(i)
        .unwrap();
    c.cmd.argv_parts().unwrap().to_vec()
}

fn changes(p: &Plan) -> Vec<String> {
    match p {
        Plan::Change { changes, .. } => changes.clone(),
        _ => Vec::new(),
    }
}

const GROUP_PROBE: &str = "s group ent group";
const USER_PROBE: &str = "s passwd ent passwd";

#[tokio::test]
async fn group_create_modify_remove_one_probe_one_run() {
    let host = recorded("group_create", GROUP_PROBE, "groupadd");
    let r = converge("group", json!({"name": "tuttifixg", "gid": 4242}), &host).await;
    assert_eq!(r.check_calls.len(), 1);
    assert_eq!(
        run_argv(&r, 0)[8..],
        ["groupadd", "-g", "4242", "tuttifixg"]
    );
    assert_eq!(runs(&r).len(), 1);
    assert_eq!(r.result()["gid"], 4242);
    assert_eq!(r.result()["state"], "present");

    let host = recorded("group_modify", GROUP_PROBE, "groupmod");
    let r = converge("group", json!({"name": "tuttifixg", "gid": 4243}), &host).await;
    assert_eq!(changes(&r.plan), ["gid of group tuttifixg: 4242 -> 4243"]);
    assert_eq!(r.result()["gid"], 4243);

    let host = recorded("group_remove", GROUP_PROBE, "groupdel");
    let r = converge(
        "group",
        json!({"name": "tuttifixg", "state": "absent"}),
        &host,
    )
    .await;
    assert!(r.plan.is_change());
    assert_eq!(run_argv(&r, 0)[8..], ["groupdel", "tuttifixg"]);
}

#[tokio::test]
async fn group_params_are_checked_before_io() {
    let m = find("group").unwrap();
    let e = testing::prepare_err(m, args(json!({"name": "g", "non_unique": true})));
    assert!(e.msg.contains("gid"), "{e:?}");
    let e = testing::prepare_err(m, args(json!({"name": "g", "state": "gone"})));
    assert!(e.msg.contains("must be one of"), "{e:?}");
    let e = testing::prepare_err(m, args(json!({"name": "g", "bogus": 1})));
    assert!(
        e.msg
            .starts_with("Unsupported parameters for (group) module: bogus.")
    );
}

#[tokio::test]
async fn user_create_passes_the_hash_on_stdin_only() {
    let host = recorded("user_create", USER_PROBE, "useradd");
    let r = converge(
        "user",
        json!({"name": "tuttifix", "uid": 4242, "groups": ["tuttifixg"], "shell": "/bin/sh",
               "comment": "Tutti Fixture", "password": "$6$salt$hash", "expires": 1893456000}),
        &host,
    )
    .await;
    assert_eq!(r.check_calls.len(), 1, "one probe");
    let argv = run_argv(&r, 0);
    assert_eq!(
        argv[8..],
        [
            "useradd",
            "-u",
            "4242",
            "-G",
            "tuttifixg",
            "-c",
            "Tutti Fixture",
            "-s",
            "/bin/sh",
            "-e",
            "2030-01-01",
            "-m",
            "tuttifix"
        ]
    );
    assert_eq!(argv[7], "1", "the password comes on stdin");
    let run = &r.apply_calls.iter().find(|c| c.via == Via::Run).unwrap();
    assert!(!run.rendered.contains("$6$salt$hash"));
    assert_eq!(run.cmd.stdin_data().unwrap(), b"$6$salt$hash\n");
    let res = r.result();
    assert_eq!(res["password"], "NOT_LOGGING_PASSWORD");
    assert_eq!(res["uid"], 4242);
    assert_eq!(res["home"], "/home/tuttifix");
    assert_eq!(res["shell"], "/bin/sh");
    assert_eq!(res["create_home"], true);
    assert!(!format!("{res:?}").contains("$6$salt"));
}

#[tokio::test]
async fn user_modify_groups_shell_lock_and_expiry_in_one_usermod() {
    let host = recorded("user_modify", USER_PROBE, "usermod");
    let r = converge(
        "user",
        json!({"name": "tuttifix", "shell": "/bin/bash", "groups": [], "password_lock": true,
               "expires": -1}),
        &host,
    )
    .await;
    assert_eq!(runs(&r).len(), 1);
    assert_eq!(
        run_argv(&r, 0)[8..],
        [
            "usermod",
            "-G",
            "",
            "-s",
            "/bin/bash",
            "-e",
            "",
            "-L",
            "tuttifix"
        ]
    );
    assert_eq!(r.result()["shell"], "/bin/bash");
    assert_eq!(r.result()["groups"], "");
}

#[tokio::test]
async fn user_in_sync_on_the_recorded_state() {
    let host = FakeHost::new().on(
        Matcher::custom(|c| script_has(c, USER_PROBE)),
        Reply::ok(fixture("user_modify.2.probe")),
    );
    let r = converge(
        "user",
        json!({"name": "tuttifix", "shell": "/bin/bash", "uid": 4242, "comment": "Tutti Fixture",
               "password": "$6$salt$hash", "password_lock": true, "update_password": "always"}),
        &host,
    )
    .await;
    assert!(matches!(r.plan, Plan::InSync { .. }), "{:?}", r.plan);
    // on_create never touches an existing password.
    let r = converge(
        "user",
        json!({"name": "tuttifix", "password": "$6$other$x", "update_password": "on_create"}),
        &host,
    )
    .await;
    assert!(matches!(r.plan, Plan::InSync { .. }));
    // always does, and unlocks only when asked.
    let p = testing::check_only(
        find("user").unwrap(),
        args(json!({"name": "tuttifix", "password": "$6$other$x"})),
        &host,
    )
    .await
    .unwrap();
    assert_eq!(changes(&p), ["user tuttifix: password"]);
    // append adds without removing.
    let p = testing::check_only(
        find("user").unwrap(),
        args(json!({"name": "tuttifix", "groups": "tuttifixg", "append": true})),
        &host,
    )
    .await;
    assert_eq!(
        changes(&p.unwrap()),
        ["user tuttifix: groups [] -> [tuttifixg]"]
    );
    let e = testing::check_only(
        find("user").unwrap(),
        args(json!({"name": "tuttifix", "groups": "no-such-group"})),
        &host,
    )
    .await
    .unwrap_err();
    assert_eq!(e.to_string(), "Group no-such-group does not exist");
}

#[tokio::test]
async fn user_generates_an_ssh_key_once() {
    let host = recorded("user_sshkey", USER_PROBE, "ed25519");
    let r = converge(
        "user",
        json!({"name": "tuttifix", "generate_ssh_key": true, "ssh_key_type": "ed25519"}),
        &host,
    )
    .await;
    assert_eq!(changes(&r.plan), ["generate an SSH key for tuttifix"]);
    let res = r.result();
    assert_eq!(res["ssh_key_file"], "/home/tuttifix/.ssh/id_ed25519");
    assert!(
        res["ssh_public_key"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 ")
    );
    assert!(res["ssh_fingerprint"].as_str().unwrap().contains("SHA256:"));
    // The second check reports the existing key.
    let Plan::InSync { result } = &r.second_plan else {
        panic!()
    };
    assert_eq!(result["ssh_key_file"], "/home/tuttifix/.ssh/id_ed25519");
}

#[tokio::test]
async fn user_remove_with_userdel_r() {
    let host = recorded("user_remove", USER_PROBE, "userdel");
    let r = converge(
        "user",
        json!({"name": "tuttifix", "state": "absent", "remove": true}),
        &host,
    )
    .await;
    assert_eq!(run_argv(&r, 0)[8..], ["userdel", "-r", "tuttifix"]);
    assert_eq!(r.result()["remove"], true);
}

const CRON_PROBE: &str = "crontab -l -u";

#[tokio::test]
async fn cron_job_and_env_in_ansible_format() {
    let host = recorded("cron_user", CRON_PROBE, "script:exec crontab");
    let r = converge(
        "cron",
        json!({"name": "backup", "user": "tuttifix", "minute": "5", "hour": "2",
               "job": "/usr/local/bin/backup"}),
        &host,
    )
    .await;
    let run = r.apply_calls.iter().find(|c| c.via == Via::Run).unwrap();
    assert_eq!(
        run.cmd.stdin_data().unwrap(),
        b"#Ansible: backup\n5 2 * * * /usr/local/bin/backup\n"
    );
    assert_eq!(r.result()["jobs"], json!(["backup"]));
    let Plan::Change { diff, .. } = &r.plan else {
        panic!()
    };
    assert_eq!(
        diff[0].before_header.as_deref(),
        Some("crontab for user \"tuttifix\"")
    );

    let host = recorded("cron_env", CRON_PROBE, "script:exec crontab");
    let r = converge(
        "cron",
        json!({"name": "MAILTO", "env": true, "user": "tuttifix", "job": "ops@example.com"}),
        &host,
    )
    .await;
    let run = r.apply_calls.iter().find(|c| c.via == Via::Run).unwrap();
    assert_eq!(
        String::from_utf8_lossy(run.cmd.stdin_data().unwrap()),
        "MAILTO=\"ops@example.com\"\n#Ansible: backup\n5 2 * * * /usr/local/bin/backup\n"
    );
    assert_eq!(r.result()["envs"], json!(["MAILTO"]));
}

#[tokio::test]
async fn cron_edits_disable_remove_and_cron_d() {
    let tab = "MAILTO=\"ops@example.com\"\n#Ansible: backup\n5 2 * * * /usr/local/bin/backup\n";
    let host = FakeHost::new().on(
        Matcher::custom(|c| script_has(c, CRON_PROBE)),
        Reply::ok(format!("{tab}\n\x1etab 0\n")),
    );
    let m = find("cron").unwrap();
    let plan = |a: Value| {
        let host = &host;
        async move { testing::check_only(m, args(a), host).await.unwrap() }
    };
    let p = plan(
        json!({"name": "backup", "user": "u", "minute": "5", "hour": "2",
                        "job": "/usr/local/bin/backup", "disabled": true}),
    )
    .await;
    let Plan::Change { diff, .. } = &p else {
        panic!()
    };
    assert!(
        diff[0]
            .after
            .contains("#Ansible: backup\n#5 2 * * * /usr/local/bin/backup\n")
    );
    let p = plan(json!({"name": "backup", "user": "u", "state": "absent"})).await;
    let Plan::Change { diff, .. } = &p else {
        panic!()
    };
    assert_eq!(diff[0].after, "MAILTO=\"ops@example.com\"\n");
    let p =
        plan(json!({"name": "nightly", "user": "u", "special_time": "daily", "job": "x"})).await;
    let Plan::Change { diff, .. } = &p else {
        panic!()
    };
    assert!(diff[0].after.ends_with("#Ansible: nightly\n@daily x\n"));
    // An unnamed job that matches exactly gets its marker.
    let host = FakeHost::new().on(
        Matcher::custom(|c| script_has(c, CRON_PROBE)),
        Reply::ok("0 1 * * * /bin/true\n\n\x1etab 0\n"),
    );
    let p = testing::check_only(
        m,
        args(
            json!({"name": "adopted", "user": "u", "minute": "0", "hour": "1", "job": "/bin/true"}),
        ),
        &host,
    )
    .await
    .unwrap();
    let Plan::Change { diff, .. } = &p else {
        panic!()
    };
    assert_eq!(diff[0].after, "#Ansible: adopted\n0 1 * * * /bin/true\n");

    // /etc/cron.d files have a user column and are written atomically.
    let host = FakeHost::new().with_dir("/etc/cron.d");
    let r = converge(
        "cron",
        json!({"name": "sync", "cron_file": "tutti", "user": "www-data", "minute": "*/5", "job": "run-sync"}),
        &host,
    )
    .await;
    let _ = r;
    // FakeHost has no real shell: the probe's `cat` gets the default
    // (empty) reply, so only the write is checked here.
    let f = host.file("/etc/cron.d/tutti");
    assert_eq!(
        f.as_deref(),
        Some(&b"#Ansible: sync\n*/5 * * * * www-data run-sync\n"[..])
    );
}

#[tokio::test]
async fn cron_without_crontab_is_a_clear_error() {
    let host = FakeHost::new().on(
        Matcher::custom(|c| script_has(c, CRON_PROBE)),
        Reply::ok("\n\x1enocrontab 0\n"),
    );
    let e = testing::check_only(
        find("cron").unwrap(),
        args(json!({"name": "x", "job": "true"})),
        &host,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("crontab"), "{e}");
    let e = testing::prepare_err(
        find("cron").unwrap(),
        args(json!({"name": "x", "job": "y", "special_time": "daily", "hour": "1"})),
    );
    assert_eq!(
        e.msg,
        "You must specify time and date fields or special time."
    );
}

#[tokio::test]
async fn getent_reads_into_facts() {
    let host = FakeHost::new().on(
        Matcher::exact("getent passwd root"),
        Reply::ok(fixture("getent_passwd_root.0.probe")),
    );
    let r = converge(
        "getent",
        json!({"database": "passwd", "key": "root"}),
        &host,
    )
    .await;
    assert_eq!(
        r.result()["ansible_facts"]["getent_passwd"]["root"],
        json!(["x", "0", "0", "root", "/root", "/bin/bash"])
    );
    let host = FakeHost::new().on(
        Matcher::exact("getent hosts localhost"),
        Reply::ok(fixture("getent_hosts.0.probe")),
    );
    let r = converge(
        "getent",
        json!({"database": "hosts", "key": "localhost"}),
        &host,
    )
    .await;
    let hosts = &r.result()["ansible_facts"]["getent_hosts"];
    assert!(hosts.as_object().unwrap().values().next().unwrap()[0] == "localhost");
    let host = FakeHost::new().default_reply(Reply::output(2, "", ""));
    let e = testing::check_only(
        find("getent").unwrap(),
        args(json!({"database": "passwd", "key": "nobody-here"})),
        &host,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("could not be found"));
    let p = testing::check_only(
        find("getent").unwrap(),
        args(json!({"database": "passwd", "key": "nobody-here", "fail_key": false})),
        &host,
    )
    .await
    .unwrap();
    let Plan::InSync { result } = p else { panic!() };
    assert_eq!(
        result["ansible_facts"]["getent_passwd"]["nobody-here"],
        Value::Null
    );
}

#[tokio::test]
async fn hostname_without_systemd_writes_etc_hostname_and_runs_hostname() {
    let after = b"tutti-new-name\n\n\x1ecurrent 0\ntutti-new-name\n\n\x1eetc 0\n".to_vec();
    let host = phased(
        "s current hostname",
        fixture("hostname_probe.0.probe"),
        "tutti-new-name",
        Vec::new(),
        after,
    )
    .with_dir("/etc");
    let r = converge("hostname", json!({"name": "tutti-new-name"}), &host).await;
    assert_eq!(
        changes(&r.plan),
        [
            "hostname: vm -> tutti-new-name",
            "permanent hostname: vm -> tutti-new-name"
        ]
    );
    assert_eq!(host.file("/etc/hostname").unwrap(), b"tutti-new-name\n");
    assert!(runs(&r).iter().any(|c| c == "hostname tutti-new-name"));
    assert_eq!(
        r.result()["ansible_facts"]["ansible_hostname"],
        "tutti-new-name"
    );
    let Plan::Change { diff, .. } = &r.plan else {
        panic!()
    };
    assert_eq!(diff[0].before, "hostname = vm\n");
}

#[tokio::test]
async fn hostname_with_systemd_uses_hostnamectl() {
    let before = b"old\n\x1ecurrent 0\nold\n\x1eetc 0\n\n\x1esystemd 0\nold\n\x1estatic 0\nold\n\x1etransient 0\n";
    let after = b"web1\n\x1ecurrent 0\nweb1\n\x1eetc 0\n\n\x1esystemd 0\nweb1\n\x1estatic 0\nweb1\n\x1etransient 0\n";
    let host = phased(
        "s current hostname",
        before.to_vec(),
        "web1",
        Vec::new(),
        after.to_vec(),
    );
    let r = converge("hostname", json!({"name": "web1"}), &host).await;
    assert_eq!(runs(&r).len(), 1);
    assert!(runs(&r)[0].contains("hostnamectl --static set-hostname"));
}

#[tokio::test]
async fn timezone_without_systemd_writes_the_files() {
    let after = b"Europe/Paris\n\n\x1eetc 0\n/usr/share/zoneinfo/Europe/Paris\n\n\x1elink 0\n\n\x1ezone 0\n".to_vec();
    let host = phased(
        "timedatectl show",
        fixture("timezone_probe.0.probe"),
        "script:set-timezone",
        Vec::new(),
        after,
    );
    let r = converge("timezone", json!({"name": "Europe/Paris"}), &host).await;
    assert_eq!(changes(&r.plan), ["timezone: Etc/UTC -> Europe/Paris"]);
    assert_eq!(run_argv(&r, 0)[4..], ["0", "Europe/Paris", ""]);
    // Unknown zones fail in check.
    let host = FakeHost::new().on(
        Matcher::custom(|c| script_has(c, "timedatectl show")),
        Reply::ok("Etc/UTC\n\n\x1eetc 0\n\n\x1ezone 1\n"),
    );
    let e = testing::check_only(
        find("timezone").unwrap(),
        args(json!({"name": "Mars/Base"})),
        &host,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("not available"));
}

#[tokio::test]
async fn modprobe_loads_and_persists() {
    // Recorded in a container: no /proc/modules, no modules.builtin.
    let probe = fixture("modprobe_probe.0.probe");
    let after = b"dummy 16384 0 - Live 0x0\n\n\x1emodules 0\n\n\x1ebuiltin 1\n\
dummy\n\n\x1eload 0\noptions dummy numdummies=2\n\n\x1eoptions 0\n"
        .to_vec();
    let host = phased("/proc/modules", probe, "modprobe", Vec::new(), after)
        .with_dir("/etc/modules-load.d")
        .with_dir("/etc/modprobe.d");
    let r = converge(
        "modprobe",
        json!({"name": "dummy", "params": "numdummies=2", "persistent": "present"}),
        &host,
    )
    .await;
    assert_eq!(
        changes(&r.plan),
        [
            "load dummy",
            "write /etc/modules-load.d/dummy.conf",
            "write /etc/modprobe.d/dummy.conf"
        ]
    );
    assert_eq!(runs(&r)[0], "modprobe dummy numdummies=2");
    assert_eq!(
        host.file("/etc/modules-load.d/dummy.conf").unwrap(),
        b"dummy\n"
    );
}

#[tokio::test]
async fn mount_sees_proc_mounted_and_only_writes_fstab() {
    let probe = fixture("mount_probe.0.probe");
    let mut after = b"proc /proc proc defaults 0 0\n\n\x1efstab 0\n".to_vec();
    after.extend_from_slice(&probe);
    let host = FakeHost::new().with_dir("/nonexistent").on(
        Matcher::custom(|c| script_has(c, "s mountinfo")),
        Reply::ok(probe.clone()),
    );
    let m = find("mount").unwrap();
    let a = json!({"path": "/proc", "src": "proc", "fstype": "proc", "state": "mounted",
                   "fstab": "/nonexistent/fstab"});
    let p = testing::check_only(m, args(a.clone()), &host)
        .await
        .unwrap();
    // Already mounted: the changed entry is applied by a remount.
    assert_eq!(
        changes(&p),
        ["set /proc in /nonexistent/fstab", "remount /proc"]
    );
    let prepared = testing::prepare(m, args(a));
    let plan = prepared.check(&host).await.unwrap();
    prepared.apply(plan, &host).await.unwrap();
    assert_eq!(
        host.file("/nonexistent/fstab").unwrap(),
        b"proc /proc proc defaults 0 0\n"
    );
    let run = host
        .runs()
        .into_iter()
        .find(|c| c.rendered.contains("remount"))
        .unwrap();
    assert_eq!(
        run.cmd.argv_parts().unwrap()[4..],
        [
            "remount",
            "/proc",
            "/nonexistent/fstab",
            "proc",
            "proc",
            "defaults"
        ]
    );
    let host = FakeHost::new().on(
        Matcher::custom(|c| script_has(c, "s mountinfo")),
        Reply::ok(after),
    );
    let p = testing::check_only(
        m,
        args(
            json!({"path": "/proc", "src": "proc", "fstype": "proc", "state": "mounted",
                    "fstab": "/nonexistent/fstab"}),
        ),
        &host,
    )
    .await
    .unwrap();
    assert!(matches!(p, Plan::InSync { .. }), "{p:?}");
    let p = testing::check_only(
        m,
        args(json!({"path": "/proc", "state": "unmounted", "fstab": "/nonexistent/fstab"})),
        &host,
    )
    .await
    .unwrap();
    assert_eq!(changes(&p), ["unmount /proc"]);
}

#[tokio::test]
async fn sysctl_file_and_running_value() {
    let host = FakeHost::new().with_dir("/etc").on(
        Matcher::custom(|c| script_has(c, "sysctl -n -e")),
        Reply::ok(fixture("sysctl_probe.0.probe")),
    );
    let m = find("sysctl").unwrap();
    // The running value is already 60: only the file would change.
    let p = testing::check_only(
        m,
        args(json!({"name": "vm.swappiness", "value": "60", "sysctl_file": "/nonexistent/sysctl.conf",
                    "sysctl_set": true})),
        &host,
    )
    .await
    .unwrap();
    assert_eq!(
        changes(&p),
        ["set vm.swappiness in /nonexistent/sysctl.conf"]
    );
    let p = testing::check_only(
        m,
        args(json!({"name": "vm.swappiness", "value": "10", "sysctl_set": true})),
        &host,
    )
    .await
    .unwrap();
    assert!(changes(&p).contains(&"vm.swappiness: 60 -> 10 (running kernel)".to_string()));
    let Plan::Change { diff, .. } = &p else {
        panic!()
    };
    assert_eq!(diff[0].after, "vm.swappiness=10\n");
}
