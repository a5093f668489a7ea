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

    // Wrong password: a clear error, exit 1.
    p.write("bad", "nope\n");
    let r = p.playbook("inv.ini", "site.yml", &["--vault-password-file", "bad"]);
    assert_eq!(r.code, Some(1), "{}", r.both());
    assert!(r.stderr.contains("Decryption failed"), "{}", r.stderr);
}
