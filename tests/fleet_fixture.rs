//! Proves the loopback fleet fixture (`tests/common/fleet.rs`) works with the system `ssh`
//! client: host keys verify strictly, the client key logs in on several 127.0.0.x hosts,
//! the wrong key is refused, and the unreachable-host helpers behave.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fleet, closed_port, silent_listener};
use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn twenty_host_fleet_accepts_the_client_key_and_refuses_the_wrong_one() {
    let fleet = Fleet::start(20);
    assert_eq!(fleet.hosts.len(), 20);
    assert_eq!(fleet.hosts[0].name, "h01");
    assert_eq!(fleet.hosts[0].addr, "127.0.0.2");
    assert_eq!(fleet.hosts[19].name, "h20");
    assert_eq!(fleet.hosts[19].addr, "127.0.0.21");

    let inventory = std::fs::read_to_string(&fleet.inventory).unwrap();
    let expected_h01 = format!(
        "h01 ansible_host=127.0.0.2 ansible_port={} ansible_user=root ansible_ssh_private_key_file={}\n",
        fleet.port,
        fleet.client_key.display()
    );
    assert!(
        inventory.starts_with(&format!("[fleet]\n{expected_h01}")),
        "{inventory}"
    );
    assert!(inventory.contains("\n[web]\nh01\n"), "{inventory}");
    assert!(inventory.contains("h10\n\n[db]\nh11\n"), "{inventory}");
    assert!(
        fleet
            .ini_inventory("x=1")
            .contains("ansible_ssh_private_key_file")
    );
    assert!(
        fleet
            .ini_inventory("x=1")
            .lines()
            .nth(1)
            .unwrap()
            .ends_with(" x=1")
    );

    let known = std::fs::read_to_string(fleet.home.join(".ssh/known_hosts")).unwrap();
    assert_eq!(known.lines().count(), 20);
    assert_eq!(
        known.lines().nth(2).unwrap(),
        format!("[127.0.0.4]:{} {}", fleet.port, fleet.host_pubkey_line)
    );

    for idx in [0, 9, 19] {
        let host = &fleet.hosts[idx];
        let out = fleet
            .ssh_command(host, &fleet.client_key)
            .args(["echo", "ok", "$HOME"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("ok "),
            "ssh to {} ({}) failed: {}\nstdout: {stdout}\nstderr: {}\n--- sshd log ---\n{}",
            host.name,
            host.addr,
            out.status,
            String::from_utf8_lossy(&out.stderr),
            fleet.sshd_log()
        );
        // Sessions get the clean HOME from sshd's SetEnv, not /root.
        assert_eq!(
            stdout.trim_end(),
            format!("ok {}", fleet.remote_home.display())
        );
    }

    let refused = fleet
        .ssh_command(&fleet.hosts[4], &fleet.wrong_key)
        .args(["echo", "ok"])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "the wrong key was accepted");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("Permission denied"),
        "unexpected ssh error: {err}"
    );

    let log = fleet.sshd_log();
    assert!(log.contains("Accepted publickey for root"), "{log}");
}

#[test]
fn unreachable_helpers() {
    let port = closed_port();
    let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);

    let (_listener, port) = silent_listener();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    let err = stream.read(&mut buf).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
}
