//! A vaulted password used in a template, a command and a failing task,
//! at -vvvv, with --diff and --output json: the plaintext appears nowhere
//! in stdout or stderr, only in the template's destination.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::project::Project;

const SECRET: &str = "Sup3rS3cret!value";

#[test]
fn vaulted_values_decrypt_and_never_leak() {
    let p = Project::new();
    p.write("pw", "correct horse\n")
        .write("inv.ini", "localhost ansible_connection=local\n")
        .write("t.j2", "pw={{ db_password }}\n");
    let enc = p
        .tutti()
        .args([
            "vault",
            "encrypt_string",
            "--vault-password-file",
            "pw",
            "-n",
            "db_password",
            SECRET,
        ])
        .output()
        .unwrap();
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    p.write("vars.yml", &String::from_utf8_lossy(&enc.stdout));
    // A whole vaulted vars file too.
    p.write("plain.yml", &format!("other_secret: {SECRET}-2\n"));
    let enc = p
        .tutti()
        .args([
            "vault",
            "encrypt",
            "--vault-password-file",
            "pw",
            "plain.yml",
        ])
        .output()
        .unwrap();
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    p.write(
        "site.yml",
        &format!(
            "- hosts: localhost\n  gather_facts: false\n  vars_files: [vars.yml, plain.yml]\n  tasks:\n    - template: src=t.j2 dest={}\n    - command: echo {{{{ db_password }}}} {{{{ other_secret }}}}\n    - debug: var=db_password\n    - fail: msg=\"bad {{{{ db_password }}}}\"\n",
            p.path("out.txt").display()
        ),
    );
    for extra in [
        &["-vvvv", "--diff"][..],
        &["--output", "json", "--diff"][..],
    ] {
        let mut args = vec!["--vault-password-file", "pw"];
        args.extend_from_slice(extra);
        let r = p.playbook("inv.ini", "site.yml", &args);
        assert_eq!(r.code, Some(2), "{}", r.both());
        assert!(!r.stdout.contains(SECRET), "leaked to stdout: {}", r.stdout);
        assert!(!r.stderr.contains(SECRET), "leaked to stderr: {}", r.stderr);
        assert!(r.stdout.contains("********"), "{}", r.stdout);
    }
    assert_eq!(
        std::fs::read_to_string(p.path("out.txt")).unwrap(),
        format!("pw={SECRET}\n")
    );
    // No file tutti wrote (fact cache, ~/.ansible, retry files...) holds the
    // plaintext, except the template's destination.
    let mut stack = vec![p.path("")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path != p.path("out.txt") {
                let bytes = std::fs::read(&path).unwrap_or_default();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(SECRET),
                    "plaintext in {}",
                    path.display()
                );
            }
        }
    }

    // Wrong password: a clear error, exit 1.
    p.write("bad", "nope\n");
    let r = p.playbook("inv.ini", "site.yml", &["--vault-password-file", "bad"]);
    assert_eq!(r.code, Some(1), "{}", r.both());
    assert!(r.stderr.contains("Decryption failed"), "{}", r.stderr);
}

#[test]
fn vaulted_files_copy_decrypted_and_log_is_scrubbed() {
    let p = Project::new();
    p.write("pw", "correct horse\n")
        .write("inv.ini", "localhost ansible_connection=local\n")
        .write("cert.pem", &format!("BEGIN {SECRET} END\n"));
    let enc = p
        .tutti()
        .args([
            "vault",
            "encrypt",
            "--vault-password-file",
            "pw",
            "cert.pem",
        ])
        .output()
        .unwrap();
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    assert!(common::project::read(&p.path("cert.pem")).starts_with("$ANSIBLE_VAULT;1.1;AES256"));
    p.write(
        "site.yml",
        &format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - copy: src=cert.pem dest={out}/plain.pem\n    - copy: src=cert.pem dest={out}/still-vaulted.pem decrypt=false\n    - copy:\n        content: \"{{{{ lookup('unvault', 'cert.pem') }}}}\"\n        dest: {out}/unvaulted.pem\n",
            out = p.path("").display()
        ),
    );
    let mut cmd = p.tutti();
    cmd.env("ANSIBLE_LOG_PATH", p.path("run.log")).args([
        "playbook",
        "-i",
        "inv.ini",
        "site.yml",
        "--vault-password-file",
        "pw",
        "--diff",
        "-vvv",
    ]);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("changed=3"), "{stdout}");
    let want = format!("BEGIN {SECRET} END\n");
    assert_eq!(common::project::read(&p.path("plain.pem")), want);
    assert_eq!(common::project::read(&p.path("unvaulted.pem")), want);
    assert!(common::project::read(&p.path("still-vaulted.pem")).starts_with("$ANSIBLE_VAULT;"));
    // The log has the run, in Ansible's line format, and no plaintext.
    let log = common::project::read(&p.path("run.log"));
    assert!(log.contains("n=ansible INFO| TASK [copy]"), "{log}");
    assert!(log.contains("PLAY RECAP"), "{log}");
    assert!(!log.contains(SECRET), "leaked to log: {log}");
}

/// A directory holding a vaulted file is copied decrypted; without a
/// password the copy fails naming the file, and nothing is copied.
#[test]
fn copying_a_directory_decrypts_its_vaulted_files() {
    let p = Project::new();
    p.write("pw", "correct horse\n")
        .write("inv.ini", "localhost ansible_connection=local\n")
        .write("files/tree/plain.txt", "plain\n")
        .write("files/tree/secret.txt", "the secret\n");
    let enc = p
        .tutti()
        .args([
            "vault",
            "encrypt",
            "--vault-password-file",
            "pw",
            "files/tree/secret.txt",
        ])
        .output()
        .unwrap();
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    p.write(
        "site.yml",
        &format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - copy: src=tree dest={}/\n",
            p.path("out").display()
        ),
    );
    let r = p.playbook("inv.ini", "site.yml", &[]);
    assert_eq!(r.code, Some(2), "{}", r.both());
    assert!(
        r.stdout
            .contains("A vault password or secret must be specified to decrypt"),
        "{}",
        r.stdout
    );
    assert!(!p.path("out/tree").exists());
    let r = p.playbook("inv.ini", "site.yml", &["--vault-password-file", "pw"]);
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(
        std::fs::read_to_string(p.path("out/tree/secret.txt")).unwrap(),
        "the secret\n"
    );
    assert_eq!(
        std::fs::read_to_string(p.path("out/tree/plain.txt")).unwrap(),
        "plain\n"
    );
}
