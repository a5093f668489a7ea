//! Streaming transfers through the real connections: a controller file
//! into a command's stdin and a command's stdout into a controller file,
//! byte-exact and without holding the file in memory, over the local
//! connection and over SSH to a loopback sshd.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tutti::connection::known_hosts::{KnownHosts, Policy};
use tutti::connection::local::LocalHost;
use tutti::connection::ssh::{Endpoint, SshHost, SshTarget};
use tutti_modules::{Cmd, Host};

/// 8 MiB of every byte value, so any mangling shows.
fn payload(path: &Path) -> Vec<u8> {
    let data: Vec<u8> = (0..8 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(path, &data).unwrap();
    data
}

async fn round_trip(host: &dyn Host, dir: &Path) {
    let src = dir.join("src.bin");
    let data = payload(&src);
    let remote = dir.join("remote.bin");
    let up = Cmd::new("sh")
        .arg("-c")
        .arg("cat > \"$1\"")
        .arg("sh")
        .arg(remote.to_string_lossy())
        .stdin_file(&src);
    let out = host.run(&up).await.unwrap();
    assert_eq!(out.rc, 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        fs::read(&remote).unwrap() == data,
        "upload changed the bytes"
    );

    let back = dir.join("back.bin");
    let down = Cmd::new("cat")
        .arg(remote.to_string_lossy())
        .stdout_file(&back);
    let out = host.probe(&down).await.unwrap();
    assert_eq!(out.rc, 0);
    assert!(
        out.stdout.is_empty(),
        "stdout went to the file, not to memory"
    );
    assert!(
        fs::read(&back).unwrap() == data,
        "download changed the bytes"
    );
}

#[tokio::test]
async fn local_connection_streams_files_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let host = LocalHost {
        become_: None,
        become_timeout: Duration::from_secs(5),
        command_timeout: None,
    };
    round_trip(&host, dir.path()).await;
}

/// Root on the fleet's one host, with `command_timeout` per command.
fn fleet_target(fleet: &common::Fleet, command_timeout: Duration) -> SshTarget {
    let h = &fleet.hosts[0];
    SshTarget {
        endpoint: Endpoint {
            host: h.addr.clone(),
            port: fleet.port,
            user: "root".into(),
            identity_files: vec![fleet.client_key.clone()],
            identities_only: true,
            password: None,
            policy: Policy::Strict,
            known_hosts: Arc::new(KnownHosts::new(vec![fleet.known_hosts.clone()], vec![])),
        },
        jumps: vec![],
        connect_timeout: Duration::from_secs(10),
        command_timeout: Some(command_timeout),
        keepalive: Duration::from_secs(15),
        become_: None,
        become_timeout: Duration::from_secs(12),
    }
}

#[tokio::test]
async fn ssh_connection_streams_files_both_ways() {
    let fleet = common::Fleet::start(1);
    let host = SshHost::new(fleet_target(&fleet, Duration::from_secs(60)));
    round_trip(&host, fleet.dir.path()).await;
    host.close().await;
}

/// Probes (no stdin) share one long-lived shell per session: their output,
/// stderr and status come back exactly, a probe that outlives its deadline
/// is cut off without harming the next, and commands with stdin still get
/// channels of their own.
#[tokio::test]
async fn probes_share_a_long_lived_shell_and_survive_a_timeout() {
    use tutti_modules::HostRead;
    let fleet = common::Fleet::start(1);
    let host = SshHost::new(fleet_target(&fleet, Duration::from_secs(2)));
    let before = tutti::connection::shell_probes();
    let out = host
        .probe(&Cmd::script(
            "printf 'no newline'; echo err >&2; cd /tmp && pwd >&2; exit 3",
        ))
        .await
        .unwrap();
    assert_eq!(out.rc, 3);
    assert_eq!(out.stdout, b"no newline");
    assert_eq!(out.stderr, b"err\n/tmp\n");
    // A subshell each: the `cd` above did not stick.
    let pwd = host.probe(&Cmd::new("pwd")).await.unwrap();
    assert_ne!(pwd.stdout, b"/tmp\n");
    // Quoting survives the trip, bytes included.
    let echo = host
        .probe(&Cmd::new("printf").arg("%s|").arg("it's \"$HOME\" `x` \\"))
        .await
        .unwrap();
    assert_eq!(echo.stdout, "it's \"$HOME\" `x` \\|".as_bytes());
    let slow = host.probe(&Cmd::script("sleep 30")).await;
    assert!(
        matches!(slow, Err(tutti_modules::HostError::Timeout(_))),
        "{slow:?}"
    );
    let after = host
        .probe(&Cmd::new("echo").arg("still here"))
        .await
        .unwrap();
    assert_eq!(after.stdout, b"still here\n");
    assert!(tutti::connection::shell_probes() >= before + 4);
    // A light command's stdin is passed exactly, bytes and all, and what
    // follows it is a command line again.
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let shared = tutti::connection::shell_probes();
    let fed = host
        .run(&Cmd::new("cat").stdin(data.clone()).light())
        .await
        .unwrap();
    assert_eq!(fed.stdout, data);
    assert!(tutti::connection::shell_probes() > shared);
    let next = host.probe(&Cmd::new("echo").arg("next")).await.unwrap();
    assert_eq!(next.stdout, b"next\n");
    // Other commands with stdin get a channel of their own, as before.
    let fed = host
        .run(&Cmd::new("cat").stdin(b"fed".to_vec()))
        .await
        .unwrap();
    assert_eq!(fed.stdout, b"fed");
    host.close().await;
}
