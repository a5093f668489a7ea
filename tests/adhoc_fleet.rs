//! The real `tutti` binary against a real OpenSSH sshd on loopback: ad-hoc
//! commands over a 20-host fleet, host key checking, authentication,
//! unreachable hosts, ProxyJump, output formats and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use common::fleet::{Fleet, closed_port, silent_listener};

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run tutti")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Splits minimal-callback output into per-host blocks, sorted by host.
fn blocks(out: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for line in out.lines() {
        let starts = line.contains(" | ") && !line.starts_with(' ');
        if starts || blocks.is_empty() {
            blocks.push(line.to_string());
        } else if let Some(b) = blocks.last_mut() {
            b.push('\n');
            b.push_str(line);
        }
    }
    blocks.sort();
    blocks
}

#[test]
fn adhoc_over_twenty_hosts_gives_exact_per_host_results() {
    let fleet = Fleet::start(20);
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "fleet", "-i"])
        .arg(&fleet.inventory)
        .args([
            "-m",
            "shell",
            "-a",
            "echo $SSH_CONNECTION | cut -d' ' -f3; whoami",
        ]);
    let o = run(cmd);
    assert_eq!(
        o.status.code(),
        Some(0),
        "stderr: {}\nstdout: {}",
        stderr(&o),
        stdout(&o)
    );
    let expected: Vec<String> = fleet
        .hosts
        .iter()
        .map(|h| format!("{} | CHANGED | rc=0 >>\n{}\nroot", h.name, h.addr))
        .collect();
    assert_eq!(blocks(&stdout(&o)), expected);

    // The default module is `command`, and the pattern selects a group.
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "web", "-i"])
        .arg(&fleet.inventory)
        .args(["-a", "echo hi"]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(blocks(&stdout(&o)).len(), 10);
    assert!(stdout(&o).contains("h01 | CHANGED | rc=0 >>\nhi\n"));
    assert!(!stdout(&o).contains("h11 |"));

    // One connection per host, however many commands run on it: sshd
    // logs one accepted login per address for the 20-host run above plus
    // the 10-host run.
    let log = fleet.sshd_log();
    assert_eq!(log.matches("Accepted publickey").count(), 30, "{log}");
}

#[test]
fn ping_limit_one_line_and_json_output() {
    let fleet = Fleet::start(4);
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "all", "-i"])
        .arg(&fleet.inventory)
        .args(["-m", "ansible.builtin.ping", "-l", "h02"]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "h02 | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}\n"
    );

    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "h01:h03", "-i"])
        .arg(&fleet.inventory)
        .args(["-m", "command", "-a", "echo a b", "-o"]);
    let o = run(cmd);
    let mut lines: Vec<&str> = std::str::from_utf8(&o.stdout).unwrap().lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "h01 | CHANGED | rc=0 | (stdout) a b",
            "h03 | CHANGED | rc=0 | (stdout) a b"
        ]
    );

    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "h04", "-i"])
        .arg(&fleet.inventory)
        .args(["-m", "ping", "--output", "json"]);
    let o = run(cmd);
    let events: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(events.len(), 2, "{}", stdout(&o));
    assert_eq!(events[0]["event"], "result");
    assert_eq!(events[0]["host"], "h04");
    assert_eq!(events[0]["status"], "ok");
    assert_eq!(events[0]["result"]["ping"], "pong");
    assert_eq!(events[1]["event"], "recap");
    assert_eq!(events[1]["hosts"]["h04"], "ok");
}

#[test]
fn failures_unreachable_hosts_and_exit_codes() {
    let fleet = Fleet::start(3);
    let (_listener, silent_port) = silent_listener();
    let inv = fleet.dir.path().join("mixed.ini");
    let key = fleet.client_key.display().to_string();
    fs::write(
        &inv,
        format!(
            "good ansible_host=127.0.0.2 ansible_port={p} ansible_user=root ansible_ssh_private_key_file={key}\n\
             refused ansible_host=127.0.0.3 ansible_port={closed} ansible_user=root\n\
             silent ansible_host=127.0.0.1 ansible_port={silent_port} ansible_user=root\n",
            p = fleet.port,
            closed = closed_port(),
        ),
    )
    .unwrap();

    // A failing command: FAILED in the command layout, exit code 2.
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "good", "-i"]).arg(&inv).args([
        "-m",
        "shell",
        "-a",
        "echo out; echo err >&2; exit 3",
    ]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stdout(&o),
        "good | FAILED | rc=3 >>\nouterrnon-zero return code\n"
    );

    // Refused and silent hosts are UNREACHABLE; the good one still runs;
    // unreachable (4) wins the exit code; the silent one is caught by -T.
    let started = std::time::Instant::now();
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "all", "-i"])
        .arg(&inv)
        .args(["-m", "ping", "-T", "2"]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(4), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("good | SUCCESS => {"), "{out}");
    assert!(out.contains("refused | UNREACHABLE! => {"), "{out}");
    assert!(out.contains(&"Connection refused".to_string()), "{out}");
    assert!(out.contains("silent | UNREACHABLE! => {"), "{out}");
    assert!(out.contains("\"unreachable\": true"), "{out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    // No host matches: Ansible's warning and exit 0; with --limit, exit 1.
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "nosuch", "-i"])
        .arg(&inv)
        .args(["-m", "ping"]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("[WARNING]: Could not match supplied host pattern, ignoring: nosuch"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("[WARNING]: No hosts matched, nothing to do"));
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "all", "-i"])
        .arg(&inv)
        .args(["-m", "ping", "-l", "nosuch"]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(1));

    // An unknown module is a parse error (4) before anything connects.
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "good", "-i"])
        .arg(&inv)
        .args(["-m", "nosuchmodule"]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).contains("couldn't resolve module/action 'nosuchmodule'"));

    // A bad module argument fails the host, naming the parameter.
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "good", "-i"])
        .arg(&inv)
        .args(["-m", "ping", "-a", "bogus=1"]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("Unsupported parameters for (ping) module: bogus"),
        "{}",
        stdout(&o)
    );
}

fn known_hosts_of(fleet: &Fleet) -> std::path::PathBuf {
    fleet.home.join(".ssh").join("known_hosts")
}

#[test]
fn host_keys_unknown_accept_new_changed_revoked_hashed() {
    let fleet = Fleet::start(2);
    let kh = known_hosts_of(&fleet);
    let ping = |envs: &[(&str, &str)]| {
        let mut cmd = fleet.tutti();
        cmd.args(["adhoc", "h01", "-i"])
            .arg(&fleet.inventory)
            .args(["-m", "ping"]);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        run(cmd)
    };

    // Unknown host: strict by default, with an actionable message.
    fs::write(&kh, "").unwrap();
    let o = ping(&[]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stdout(&o).contains("Host key verification failed"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("accept-new"), "{}", stdout(&o));

    // accept-new records the key, then it is known.
    let o = ping(&[("ANSIBLE_HOST_KEY_CHECKING", "accept-new")]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // Recorded as OpenSSH would (hashed when ssh_config says
    // HashKnownHosts, as Debian's does): ssh-keygen finds it.
    let found = Command::new("ssh-keygen")
        .arg("-F")
        .arg(format!("[127.0.0.2]:{}", fleet.port))
        .arg("-f")
        .arg(&kh)
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{}",
        fs::read_to_string(&kh).unwrap()
    );
    let o = ping(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // A changed key always fails, even with accept-new.
    let other = fs::read_to_string(format!("{}.pub", fleet.wrong_key.display())).unwrap();
    fs::write(&kh, format!("[127.0.0.2]:{} {}", fleet.port, other)).unwrap();
    let o = ping(&[("ANSIBLE_HOST_KEY_CHECKING", "accept-new")]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stdout(&o).contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains(&format!("{}:1", kh.display())),
        "{}",
        stdout(&o)
    );

    // A revoked key fails whatever else says it is known.
    fleet.write_known_hosts(&kh);
    let mut text = fs::read_to_string(&kh).unwrap();
    text.push_str(&format!("@revoked * {}\n", fleet.host_pubkey_line));
    fs::write(&kh, text).unwrap();
    let o = ping(&[]);
    assert_eq!(o.status.code(), Some(4));
    assert!(stdout(&o).contains("revoked"), "{}", stdout(&o));

    // Hashed entries (ssh-keygen -H) are matched.
    fleet.write_known_hosts(&kh);
    let st = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&kh)
        .output()
        .unwrap();
    assert!(st.status.success());
    assert!(fs::read_to_string(&kh).unwrap().starts_with("|1|"));
    let o = ping(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // host_key_checking = False accepts anything.
    fs::write(&kh, format!("[127.0.0.2]:{} {}", fleet.port, other)).unwrap();
    let o = ping(&[("ANSIBLE_HOST_KEY_CHECKING", "False")]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn authentication_by_key_agent_wrong_key_and_encrypted_key() {
    let fleet = Fleet::start(2);
    let inv = fleet.dir.path().join("bare.ini");
    fs::write(
        &inv,
        format!(
            "h01 ansible_host=127.0.0.2 ansible_port={} ansible_user=root\n",
            fleet.port
        ),
    )
    .unwrap();

    // --private-key
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "h01", "-i"])
        .arg(&inv)
        .args(["-m", "ping", "--private-key"])
        .arg(&fleet.client_key);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // The wrong key: UNREACHABLE, permission denied.
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "h01", "-i"])
        .arg(&inv)
        .args(["-m", "ping", "--private-key"])
        .arg(&fleet.wrong_key);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(4));
    assert!(stdout(&o).contains("Permission denied"), "{}", stdout(&o));

    // The default key ~/.ssh/id_ed25519.
    let ssh_dir = fleet.home.join(".ssh");
    fs::copy(&fleet.client_key, ssh_dir.join("id_ed25519")).unwrap();
    fs::set_permissions(
        ssh_dir.join("id_ed25519"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "h01", "-i"])
        .arg(&inv)
        .args(["-m", "ping"]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    fs::remove_file(ssh_dir.join("id_ed25519")).unwrap();

    // An ssh-agent holding the key.
    let sock = fleet.dir.path().join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let added = Command::new("ssh-add")
        .arg(&fleet.client_key)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "h01", "-i"])
        .arg(&inv)
        .args(["-m", "ping"])
        .env("SSH_AUTH_SOCK", &sock);
    let o = run(cmd);
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // An encrypted key with no passphrase: a clear error, not a hang.
    let enc = fleet.dir.path().join("enc_key");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "sekrit", "-f"])
        .arg(&enc)
        .status()
        .unwrap();
    assert!(st.success());
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "h01", "-i"])
        .arg(&inv)
        .args(["-m", "ping", "--private-key"])
        .arg(&enc);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stdout(&o).contains("is encrypted and no passphrase was given"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn proxy_jump_through_the_same_sshd() {
    let fleet = Fleet::start(3);
    let inv = fleet.dir.path().join("jump.ini");
    fs::write(
        &inv,
        format!(
            "inner ansible_host=127.0.0.4 ansible_port={p} ansible_user=root ansible_ssh_common_args='-J root@127.0.0.2:{p}'\n",
            p = fleet.port
        ),
    )
    .unwrap();
    let mut cmd = fleet.tutti();
    cmd.args(["adhoc", "inner", "-i"])
        .arg(&inv)
        .args([
            "-m",
            "shell",
            "-a",
            "echo $SSH_CONNECTION | cut -d' ' -f1,3",
            "--private-key",
        ])
        .arg(&fleet.client_key);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(
        stdout(&o),
        "inner | CHANGED | rc=0 >>\n127.0.0.1 127.0.0.4\n"
    );
    // Two logins: the jump host, then the target through it. Connecting
    // straight to the target would log one.
    let log = fleet.sshd_log();
    assert_eq!(log.matches("Accepted publickey").count(), 2, "{log}");
}

#[test]
fn local_connection_become_and_raw_bytes() {
    let fleet = Fleet::start(1);
    // Implicit localhost uses the local connection, no inventory needed.
    let mut cmd = fleet.tutti();
    cmd.args([
        "adhoc",
        "localhost",
        "-m",
        "shell",
        "-a",
        "printf 'a\\377\\376b'",
    ]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        o.stdout,
        b"localhost | CHANGED | rc=0 >>\na\xff\xfeb\n".to_vec()
    );

    // Become via sudo on the local machine.
    if Command::new("sudo")
        .arg("-n")
        .arg("true")
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
    {
        let mut cmd = fleet.tutti();
        cmd.args([
            "adhoc",
            "localhost",
            "-b",
            "--become-user",
            "nobody",
            "-m",
            "command",
            "-a",
            "id -un",
        ]);
        let o = run(cmd);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        assert_eq!(stdout(&o), "localhost | CHANGED | rc=0 >>\nnobody\n");
        // Over SSH too.
        let mut cmd = fleet.tutti();
        cmd.args(["adhoc", "h01", "-i"])
            .arg(&fleet.inventory)
            .args(["-b", "--become-user", "nobody", "-a", "whoami"]);
        let o = run(cmd);
        assert_eq!(stdout(&o), "h01 | CHANGED | rc=0 >>\nnobody\n");
    } else {
        panic!(
            "sudo is not usable without a password here: install sudo (tests/run.sh does) and run the tests as root"
        );
    }
}

#[test]
fn answers_as_ansible_under_that_name() {
    let fleet = Fleet::start(2);
    let link = fleet.dir.path().join("ansible");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tutti"), &link).unwrap();
    let cmd = fleet.tutti();
    let program = cmd.get_program().to_owned();
    assert!(program.to_string_lossy().ends_with("tutti"));
    let mut cmd = Command::new(&link);
    cmd.current_dir(fleet.dir.path())
        .env("HOME", &fleet.home)
        .env_remove("SSH_AUTH_SOCK")
        .env("NO_COLOR", "1");
    cmd.args(["h02", "-i"])
        .arg(&fleet.inventory)
        .args(["-m", "ping", "-o"]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "h02 | SUCCESS => {\"changed\": false, \"ping\": \"pong\"}\n"
    );
}
