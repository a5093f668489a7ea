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

/// Writes go through the shared shell: small text content travels inside
/// the command line (the shell's stdin, never an argv) as `tutti_in`, other
/// content is staged; either way the bytes, the mode and the reported owner
/// are exact and no temp file is left.
#[tokio::test]
async fn writes_share_the_shell_and_hand_text_over_as_a_variable() {
    use std::os::unix::fs::PermissionsExt;
    use tutti_modules::files::attrs::Mode;
    use tutti_modules::fs::{Content, WriteOpts, WriteResult};
    let fleet = common::Fleet::start(1);
    let host = SshHost::new(fleet_target(&fleet, Duration::from_secs(20)));
    let dir = fleet.dir.path().join("writes");
    fs::create_dir(&dir).unwrap();

    // The variable is offered only to a script that says it reads it.
    let show = "printf '%s' \"${tutti_in-unset}\"";
    let text = "it's \"$HOME\" `x` \\ ünï\n".as_bytes().to_vec();
    let cmd = |opt_in: bool| {
        let c = Cmd::new("sh")
            .arg("-c")
            .arg(show)
            .arg("sh")
            .stdin(text.clone())
            .light();
        if opt_in { c.stdin_as_variable() } else { c }
    };
    assert_eq!(host.run(&cmd(true)).await.unwrap().stdout, text);
    assert_eq!(host.run(&cmd(false)).await.unwrap().stdout, b"unset");

    let before = tutti::connection::shell_probes();
    let f = dir.join("text.conf");
    let opts = WriteOpts {
        mode: Some(Mode::Octal(0o640)),
        ..WriteOpts::default()
    };
    let written = host
        .write_atomic(&f.to_string_lossy(), Content::Bytes(text.clone()), &opts)
        .await
        .unwrap();
    let WriteResult::Written { owner, .. } = written else {
        panic!("{written:?}")
    };
    let owner = owner.expect("the owner is reported");
    assert_eq!((owner.uid, owner.owner.as_str()), (0, "root"));
    assert_eq!((owner.gid, owner.group.as_str()), (0, "root"));
    assert_eq!(fs::read(&f).unwrap(), text);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&f), 0o640);

    // Bytes that are not text (a NUL, invalid UTF-8) are staged instead;
    // a rewrite without a mode keeps the file's.
    let binary = vec![0u8, 0xff, b'\n', 0xc3];
    fs::set_permissions(&f, fs::Permissions::from_mode(0o604)).unwrap();
    host.write_atomic(
        &f.to_string_lossy(),
        Content::Bytes(binary.clone()),
        &WriteOpts::default(),
    )
    .await
    .unwrap();
    assert_eq!(fs::read(&f).unwrap(), binary);
    assert_eq!(mode(&f), 0o604);
    // Text with a character tutti uses to stand for an undecodable byte
    // arrives as itself too.
    let odd = "plane 16: \u{10FF41}\n".as_bytes().to_vec();
    host.write_atomic(
        &f.to_string_lossy(),
        Content::Bytes(odd.clone()),
        &WriteOpts::default(),
    )
    .await
    .unwrap();
    assert_eq!(fs::read(&f).unwrap(), odd);
    assert!(tutti::connection::shell_probes() >= before + 2);
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["text.conf"]);
    host.close().await;
}

/// A full disk during a write through the shared shell (text handed over
/// as `tutti_in`) fails with the system's reason and leaves the old file
/// and no temp file.
#[tokio::test]
async fn a_full_disk_fails_a_shared_shell_write_cleanly() {
    use std::process::{Command, Stdio};
    use tutti_modules::fs::{Content, WriteOpts};
    let fleet = common::Fleet::start(1);
    let dir = fleet.dir.path().join("full");
    fs::create_dir(&dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("cannot mount a tmpfs here: ENOSPC not exercised");
        return;
    }
    let dest = dir.join("f");
    fs::write(&dest, "old").unwrap();
    let host = SshHost::new(fleet_target(&fleet, Duration::from_secs(20)));
    let before = tutti::connection::shell_probes();
    let e = host
        .write_atomic(
            &dest.to_string_lossy(),
            Content::Bytes(vec![b'x'; 200 * 1024]),
            &WriteOpts::default(),
        )
        .await
        .unwrap_err();
    let shared = tutti::connection::shell_probes() > before;
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let content = fs::read(&dest).unwrap();
    host.close().await;
    let _ = Command::new("umount").arg(&dir).status();
    assert!(shared, "the write went through the shared shell");
    assert!(e.to_string().contains("No space left on device"), "{e}");
    assert_eq!(content, b"old");
    assert_eq!(names, ["f"]);
}
