//! Ansible Vault compatibility: known-answer vectors made by the real
//! `ansible-vault` (tests/fixtures/vault, see its README) decrypt, and our
//! encryption with the same fixed salt is byte-identical; files tutti writes
//! decrypt with `ansible-vault` when it is installed; and the `tutti vault`
//! commands end to end (create/edit with `$EDITOR`, view, encrypt, decrypt,
//! rekey, encrypt_string, wrong password → exit 1).

// Test scaffolding: a failed setup step should stop the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tutti::secret::Secret;
use tutti::vault::{self, VaultOptions, VaultSecrets};

const FIX: &str = "tests/fixtures/vault";
/// The `ANSIBLE_VAULT_ENCRYPT_SALT` the vectors were made with.
const SALT: &str = "tutti-known-answer-salt";

fn fix(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIX).join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fix(name)).unwrap()
}

fn read_text(name: &str) -> String {
    String::from_utf8(read(name)).unwrap()
}

/// The password as `--vault-password-file` reads it (stripped).
fn password(file: &str) -> Secret {
    Secret::new(read_text(file).trim())
}

fn secrets_from(file: &str, label: &str) -> VaultSecrets {
    let opts = VaultOptions {
        vault_ids: vec![format!("{label}@{}", fix(file).display())],
        ..VaultOptions::default()
    };
    vault::load_secrets(&opts).unwrap()
}

/// (vault file, password file, vault id, plaintext file)
const VECTORS: &[(&str, &str, Option<&str>, &str)] = &[
    ("v11-hello.vault", "password.txt", None, "hello.txt"),
    (
        "v12-prod-hello.vault",
        "prod-password.txt",
        Some("prod"),
        "hello.txt",
    ),
    ("v11-empty.vault", "password.txt", None, "empty.txt"),
    ("v11-block16.vault", "password.txt", None, "block16.txt"),
    ("v11-block32.vault", "password.txt", None, "block32.txt"),
    (
        "v11-utf8pw-hello.vault",
        "utf8-password.txt",
        None,
        "hello.txt",
    ),
];

#[test]
fn vectors_decrypt() {
    for (vaulted, pw, id, plain) in VECTORS {
        let text = read_text(vaulted);
        assert!(vault::is_vault(&text), "{vaulted}");
        let secrets = secrets_from(pw, id.unwrap_or("default"));
        let got = vault::decrypt(&text, &secrets).unwrap_or_else(|e| panic!("{vaulted}: {e}"));
        assert_eq!(got, read(plain), "{vaulted}");
    }
    assert!(!vault::is_vault(&read_text("hello.txt")));
}

#[test]
fn vectors_encrypt_byte_identical() {
    for (vaulted, pw, id, plain) in VECTORS {
        let ours =
            vault::encrypt_with_salt(&read(plain), &password(pw), *id, Some(SALT.as_bytes()));
        assert_eq!(ours, read_text(vaulted), "{vaulted}");
    }
}

#[test]
fn vectors_encrypt_string_byte_identical() {
    let cases = [
        (
            "encrypt_string-v11.yml",
            "password.txt",
            None,
            Some("db_password"),
        ),
        (
            "encrypt_string-v12.yml",
            "prod-password.txt",
            Some("prod"),
            Some("db_password"),
        ),
        ("encrypt_string-noname.yml", "password.txt", None, None),
    ];
    for (file, pw, id, name) in cases {
        let sealed =
            vault::encrypt_with_salt(b"secret value", &password(pw), id, Some(SALT.as_bytes()));
        let block = format!("{}\n", vault::yaml_block(name, &sealed));
        assert_eq!(block, read_text(file), "{file}");
        // And the indented value decrypts as the engine will see it.
        let value: String = block
            .lines()
            .skip(1)
            .map(|l| format!("{}\n", l.trim_start()))
            .collect();
        let secrets = secrets_from(pw, id.unwrap_or("default"));
        assert_eq!(vault::decrypt(&value, &secrets).unwrap(), b"secret value");
    }
}

#[test]
fn wrong_password_is_a_clear_error() {
    let secrets = secrets_from("prod-password.txt", "default");
    let err = vault::decrypt(&read_text("v11-hello.vault"), &secrets).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Decryption failed (no vault secrets were found that could decrypt)"
    );
    // A tampered body fails the HMAC check the same way.
    let mut text = read_text("v11-hello.vault");
    let i = text.find('\n').unwrap() + 90;
    let flipped = if &text[i..=i] == "3" { "4" } else { "3" };
    text.replace_range(i..=i, flipped);
    let secrets = secrets_from("password.txt", "default");
    assert!(vault::decrypt(&text, &secrets).is_err());
}

// ---- the command line ----

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "password.txt",
            "prod-password.txt",
            "utf8-password.txt",
            "hello.txt",
            "v11-hello.vault",
            "v12-prod-hello.vault",
        ] {
            std::fs::copy(fix(f), dir.path().join(f)).unwrap();
        }
        Sandbox { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, data: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.write(name, &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_as(env!("CARGO_BIN_EXE_tutti"), &["vault"], args)
    }

    fn cmd_as(&self, program: &str, prefix: &[&str], args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(prefix)
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("TMPDIR", self.path("tmp"))
            .env_remove("ANSIBLE_CONFIG")
            .env_remove("ANSIBLE_VAULT_PASSWORD_FILE")
            .env_remove("ANSIBLE_VAULT_IDENTITY_LIST")
            .env_remove("ANSIBLE_VAULT_ENCRYPT_SALT")
            .env_remove("ANSIBLE_VAULT_IDENTITY")
            .env_remove("ANSIBLE_VAULT_ENCRYPT_IDENTITY")
            .env_remove("ANSIBLE_VAULT_ID_MATCH")
            .env_remove("EDITOR")
            .stdin(Stdio::null());
        std::fs::create_dir_all(self.path("tmp")).unwrap();
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tutti vault {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn cli_view_decrypt_encrypt_and_fixed_salt() {
    let sb = Sandbox::new();
    assert_eq!(
        sb.ok(&[
            "view",
            "--vault-password-file",
            "password.txt",
            "v11-hello.vault"
        ]),
        "hello world\n"
    );
    assert_eq!(
        sb.ok(&[
            "view",
            "--vault-id",
            "prod@prod-password.txt",
            "v12-prod-hello.vault"
        ]),
        "hello world\n"
    );
    // Every secret is tried; the id in the header is a hint only.
    assert_eq!(
        sb.ok(&[
            "view",
            "--vault-id",
            "dev@password.txt",
            "--vault-id",
            "other@prod-password.txt",
            "v12-prod-hello.vault",
            "v11-hello.vault"
        ]),
        "hello world\nhello world\n"
    );
    // Byte-identical to ansible-vault with the same fixed salt.
    let out = sb
        .cmd(&[
            "encrypt",
            "--vault-id",
            "prod@prod-password.txt",
            "--output",
            "-",
            "hello.txt",
        ])
        .env("ANSIBLE_VAULT_ENCRYPT_SALT", SALT)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, read("v12-prod-hello.vault"));

    // In place and back.
    sb.write("plain.yml", "a: 1\n");
    sb.ok(&[
        "encrypt",
        "--vault-password-file",
        "password.txt",
        "plain.yml",
    ]);
    let sealed = std::fs::read_to_string(sb.path("plain.yml")).unwrap();
    assert!(sealed.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
    assert_eq!(mode(&sb.path("plain.yml")), 0o600);
    let again = sb.run(&[
        "encrypt",
        "--vault-password-file",
        "password.txt",
        "plain.yml",
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("input is already encrypted"));
    sb.ok(&[
        "decrypt",
        "--vault-password-file",
        "password.txt",
        "plain.yml",
    ]);
    assert_eq!(
        std::fs::read_to_string(sb.path("plain.yml")).unwrap(),
        "a: 1\n"
    );

    // stdin to stdout.
    let out = sb.with_stdin(
        &["encrypt", "--vault-password-file", "password.txt"],
        b"piped\n",
    );
    assert!(out.status.success());
    let out = sb.with_stdin(
        &[
            "decrypt",
            "--vault-password-file",
            "password.txt",
            "--output",
            "-",
            "-",
        ],
        &out.stdout,
    );
    assert!(out.status.success());
    assert_eq!(out.stdout, b"piped\n");

    // Several ids and no --encrypt-vault-id: options error (exit 5).
    let out = sb.run(&[
        "encrypt",
        "--vault-id",
        "a@password.txt",
        "--vault-id",
        "b@prod-password.txt",
        "hello.txt",
    ]);
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--encrypt-vault-id"));
    sb.ok(&[
        "encrypt",
        "--vault-id",
        "a@password.txt",
        "--vault-id",
        "b@prod-password.txt",
        "--encrypt-vault-id",
        "b",
        "--output",
        "b.vault",
        "hello.txt",
    ]);
    assert!(
        std::fs::read_to_string(sb.path("b.vault"))
            .unwrap()
            .starts_with("$ANSIBLE_VAULT;1.2;AES256;b\n")
    );
}

#[test]
fn cli_wrong_password_exits_1() {
    let sb = Sandbox::new();
    let out = sb.run(&[
        "view",
        "--vault-password-file",
        "prod-password.txt",
        "v11-hello.vault",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "[ERROR]: Decryption failed (no vault secrets were found that could decrypt). for v11-hello.vault\n"
    );
    let out = sb.run(&[
        "decrypt",
        "--vault-password-file",
        "prod-password.txt",
        "v11-hello.vault",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read(sb.path("v11-hello.vault")).unwrap(),
        read("v11-hello.vault"),
        "a failed decrypt leaves the file alone"
    );
    // Empty password file: rejected.
    sb.write("empty-pw", "\n");
    let out = sb.run(&[
        "view",
        "--vault-password-file",
        "empty-pw",
        "v11-hello.vault",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid vault password"));
    // Not vaulted.
    let out = sb.run(&["view", "--vault-password-file", "password.txt", "hello.txt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Input is not vault encrypted data"));
}

#[test]
fn cli_password_sources() {
    let sb = Sandbox::new();
    // An executable: stdout stripped of \r\n only.
    sb.script("pw.sh", "printf 'password\\r\\n'");
    assert_eq!(
        sb.ok(&["view", "--vault-password-file", "pw.sh", "v11-hello.vault"]),
        "hello world\n"
    );
    sb.script("prod-client.sh", "[ \"$2\" = prod ] && echo prod-secret");
    assert_eq!(
        sb.ok(&[
            "view",
            "--vault-id",
            "prod@prod-client.sh",
            "v12-prod-hello.vault"
        ]),
        "hello world\n"
    );
    // The environment and ansible.cfg.
    let out = sb
        .cmd(&["view", "v11-hello.vault"])
        .env("ANSIBLE_VAULT_PASSWORD_FILE", sb.path("password.txt"))
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"hello world\n");
    let out = sb
        .cmd(&["view", "v12-prod-hello.vault"])
        .env(
            "ANSIBLE_VAULT_IDENTITY_LIST",
            "x@password.txt, prod@prod-password.txt",
        )
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"hello world\n");
    sb.write(
        "ansible.cfg",
        "[defaults]\nvault_password_file = prod-password.txt\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_eq!(sb.ok(&["view", "v12-prod-hello.vault"]), "hello world\n");
}

#[test]
fn cli_create_view_edit_rekey() {
    let sb = Sandbox::new();
    // The editor records what it was given: the path, the file's and the
    // directory's modes; then writes content.
    let editor = sb.script(
        "write.sh",
        "echo \"$1\" > \"$(dirname \"$0\")/seen\"\nstat -c '%a %U' \"$1\" \"$(dirname \"$1\")\" >> \"$(dirname \"$0\")/seen\"\nprintf 'db_password: s3cret\\n' > \"$1\"",
    );
    let out = sb
        .cmd(&[
            "create",
            "--vault-password-file",
            "password.txt",
            "sub/secrets.yml",
        ])
        .env("EDITOR", &editor)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created = std::fs::read_to_string(sb.path("sub/secrets.yml")).unwrap();
    assert!(created.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
    assert!(!created.contains("s3cret"));
    assert_eq!(mode(&sb.path("sub/secrets.yml")), 0o600);
    let seen = std::fs::read_to_string(sb.path("seen")).unwrap();
    let mut lines = seen.lines();
    let tmp_file = PathBuf::from(lines.next().unwrap());
    assert!(tmp_file.starts_with(sb.path("tmp")), "{seen}");
    assert_eq!(tmp_file.extension().unwrap(), "yml");
    assert!(lines.next().unwrap().starts_with("600 "), "{seen}");
    assert!(lines.next().unwrap().starts_with("700 "), "{seen}");
    assert!(!tmp_file.exists());
    assert!(!tmp_file.parent().unwrap().exists());
    assert_eq!(
        sb.ok(&[
            "view",
            "--vault-password-file",
            "password.txt",
            "sub/secrets.yml"
        ]),
        "db_password: s3cret\n"
    );

    // create refuses an existing file.
    let out = sb
        .cmd(&[
            "create",
            "--vault-password-file",
            "password.txt",
            "sub/secrets.yml",
        ])
        .env("EDITOR", &editor)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    // edit: the editor appends a line (EDITOR with arguments, split like a shell).
    sb.script("append.sh", "printf \"$1\\n\" >> \"$2\"");
    let out = sb
        .cmd(&[
            "edit",
            "--vault-password-file",
            "password.txt",
            "sub/secrets.yml",
        ])
        .env(
            "EDITOR",
            format!("{} 'user: admin'", sb.path("append.sh").display()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sb.ok(&[
            "view",
            "--vault-password-file",
            "password.txt",
            "sub/secrets.yml"
        ]),
        "db_password: s3cret\nuser: admin\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(sb.path("tmp")).unwrap().collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

    // edit with a failing editor: error, file unchanged, temp removed.
    let before = std::fs::read(sb.path("sub/secrets.yml")).unwrap();
    let out = sb
        .cmd(&[
            "edit",
            "--vault-password-file",
            "password.txt",
            "sub/secrets.yml",
        ])
        .env("EDITOR", sb.script("fail.sh", "echo junk > \"$1\"; exit 3"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(sb.path("sub/secrets.yml")).unwrap(), before);
    assert!(std::fs::read_dir(sb.path("tmp")).unwrap().next().is_none());

    // edit with an unchanged result leaves the file byte-identical.
    let out = sb
        .cmd(&[
            "edit",
            "--vault-password-file",
            "password.txt",
            "sub/secrets.yml",
        ])
        .env("EDITOR", "true")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read(sb.path("sub/secrets.yml")).unwrap(), before);

    // rekey to a labelled id.
    let out = sb.run(&[
        "rekey",
        "--vault-password-file",
        "password.txt",
        "--new-vault-id",
        "prod@prod-password.txt",
        "sub/secrets.yml",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "Rekey successful\n");
    let rekeyed = std::fs::read_to_string(sb.path("sub/secrets.yml")).unwrap();
    assert!(rekeyed.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
    assert_eq!(
        sb.ok(&[
            "view",
            "--vault-id",
            "prod@prod-password.txt",
            "sub/secrets.yml"
        ]),
        "db_password: s3cret\nuser: admin\n"
    );
    let old = sb.run(&[
        "view",
        "--vault-password-file",
        "password.txt",
        "sub/secrets.yml",
    ]);
    assert_eq!(old.status.code(), Some(1));
    // And back with --new-vault-password-file: 1.1 again.
    sb.ok(&[
        "rekey",
        "--vault-id",
        "prod@prod-password.txt",
        "--new-vault-password-file",
        "utf8-password.txt",
        "sub/secrets.yml",
    ]);
    assert!(
        std::fs::read_to_string(sb.path("sub/secrets.yml"))
            .unwrap()
            .starts_with("$ANSIBLE_VAULT;1.1;AES256\n")
    );
    assert_eq!(
        sb.ok(&[
            "view",
            "--vault-password-file",
            "utf8-password.txt",
            "sub/secrets.yml"
        ]),
        "db_password: s3cret\nuser: admin\n"
    );
}

/// Pulls the vaulted text out of an `encrypt_string` block.
fn unindent_block(block: &str) -> String {
    block
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("          "))
        .map(|l| format!("{}\n", l.trim_start()))
        .collect()
}

#[test]
fn cli_encrypt_string() {
    let sb = Sandbox::new();
    let out = sb
        .cmd(&[
            "encrypt_string",
            "--vault-password-file",
            "password.txt",
            "-n",
            "db_password",
            "secret value",
        ])
        .env("ANSIBLE_VAULT_ENCRYPT_SALT", SALT)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, read("encrypt_string-v11.yml"));
    assert!(out.stderr.is_empty());

    // --stdin-name plus two args; the stdin value first, then the args.
    let out = sb.with_stdin(
        &[
            "encrypt_string",
            "--vault-id",
            "prod@prod-password.txt",
            "--stdin-name",
            "from_stdin",
            "-n",
            "a",
            "-n",
            "b",
            "one",
            "two",
        ],
        b"piped secret",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let starts: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        starts,
        ["from_stdin: !vault |", "a: !vault |", "b: !vault |"]
    );
    let blocks: Vec<String> =
        text.split_inclusive('\n')
            .fold(Vec::<String>::new(), |mut acc, line| {
                if line.starts_with(' ') {
                    if let Some(last) = acc.last_mut() {
                        last.push_str(line);
                    }
                } else {
                    acc.push(line.to_string());
                }
                acc
            });
    let expected: [&[u8]; 3] = [b"piped secret", b"one", b"two"];
    for (block, want) in blocks.iter().zip(expected) {
        let vaulted = unindent_block(block);
        assert!(vaulted.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        sb.write("value.vault", &vaulted);
        let out = sb.run(&[
            "decrypt",
            "--vault-id",
            "prod@prod-password.txt",
            "--output",
            "-",
            "value.vault",
        ]);
        assert!(out.status.success());
        assert_eq!(out.stdout, want);
    }

    // Empty input is refused (exit 5, as ansible-vault).
    let out = sb.run(&[
        "encrypt_string",
        "--vault-password-file",
        "password.txt",
        "",
    ]);
    assert_eq!(out.status.code(), Some(5));
}

#[test]
fn ansible_vault_program_name() {
    let sb = Sandbox::new();
    let link = sb.path("ansible-vault");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tutti"), &link).unwrap();
    let out = sb
        .cmd_as(
            link.to_str().unwrap(),
            &[],
            &[
                "view",
                "--vault-pass-file",
                "password.txt",
                "v11-hello.vault",
            ],
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"hello world\n");
}

// ---- against the real ansible-vault ----

fn ansible_vault() -> Option<PathBuf> {
    let fixed = PathBuf::from("/tmp/ans/bin/ansible-vault");
    if fixed.is_file() {
        return Some(fixed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("ansible-vault"))
        .find(|p| p.is_file() && std::fs::read(p).is_ok_and(|b| b.starts_with(b"#!")))
}

#[test]
fn interop_with_ansible_vault() {
    let Some(ansible) = ansible_vault() else {
        eprintln!(
            "SKIP interop_with_ansible_vault: ansible-vault is not installed (the vectors tests still ran)"
        );
        return;
    };
    let ansible = ansible.to_str().unwrap().to_string();
    let sb = Sandbox::new();
    sb.write("empty.txt", "");
    sb.write("block32.txt", "0123456789abcdef0123456789ABCDEF");
    sb.write("utf8.txt", "grüße ✓\n");
    let cases: &[(&str, &[&str])] = &[
        ("hello.txt", &["--vault-password-file", "password.txt"]),
        ("hello.txt", &["--vault-id", "prod@prod-password.txt"]),
        ("empty.txt", &["--vault-password-file", "password.txt"]),
        ("block32.txt", &["--vault-password-file", "password.txt"]),
        ("utf8.txt", &["--vault-password-file", "utf8-password.txt"]),
    ];
    for (n, (plain, pw)) in cases.iter().enumerate() {
        // tutti encrypts (random salt) → ansible-vault decrypts.
        let ours = format!("ours{n}.vault");
        let mut args = vec!["encrypt", "--output", &ours];
        args.extend_from_slice(pw);
        args.push(plain);
        sb.ok(&args);
        let mut args = vec!["decrypt", "--output", "-"];
        args.extend_from_slice(pw);
        args.push(&ours);
        let out = sb.cmd_as(&ansible, &[], &args).output().unwrap();
        assert!(
            out.status.success(),
            "ansible-vault could not decrypt {ours}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, std::fs::read(sb.path(plain)).unwrap(), "{ours}");

        // ansible-vault encrypts (random salt) → tutti decrypts.
        let theirs = format!("theirs{n}.vault");
        let mut args = vec!["encrypt", "--output", &theirs];
        args.extend_from_slice(pw);
        args.push(plain);
        let out = sb.cmd_as(&ansible, &[], &args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut args = vec!["view"];
        args.extend_from_slice(pw);
        args.push(&theirs);
        assert_eq!(
            sb.ok(&args).as_bytes(),
            std::fs::read(sb.path(plain)).unwrap(),
            "{theirs}"
        );
    }

    // An encrypt_string value from tutti, read by ansible-vault's YAML side.
    let block = sb.ok(&[
        "encrypt_string",
        "--vault-id",
        "prod@prod-password.txt",
        "-n",
        "token",
        "s3cret value",
    ]);
    sb.write("vars.vault", &unindent_block(&block));
    let out = sb
        .cmd_as(
            &ansible,
            &[],
            &[
                "decrypt",
                "--vault-id",
                "prod@prod-password.txt",
                "--output",
                "-",
                "vars.vault",
            ],
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"s3cret value");
}
