//! The file-system layer's real scripts on a real `/bin/sh` in a temp
//! directory, through a tiny local Host (like an SSH connection would run
//! them: `sh -c <rendered>`, stdin streamed from a controller file):
//! write_atomic (bytes and a 64 MiB file), validate, backup, stat of every
//! kind of path, the error messages, and modules end to end.
//!
//! Runs as root here, so "permission denied" cannot be provoked with
//! modes; an immutable directory (`chattr +i`) and a tiny tmpfs (ENOSPC)
//! are tried and the test says so when the sandbox does not allow them.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};

use async_trait::async_trait;
use serde_json::json;
use tutti_modules::files::attrs::Mode;
use tutti_modules::fs::{
    Attrs, ChecksumAlgo, Content, FileKind, StatOpts, TimeSpec, WriteOpts, WriteResult,
    sha1_local_file,
};
use tutti_modules::testing::args;
use tutti_modules::{Cmd, Host, HostError, HostRead, Output, Plan, find};

struct LocalSh;

fn run_local(cmd: &Cmd) -> Result<Output, HostError> {
    let stdin = match cmd.stdin_path() {
        Some(p) => {
            Stdio::from(std::fs::File::open(p).map_err(|e| HostError::Failed(e.to_string()))?)
        }
        None => Stdio::piped(),
    };
    let mut child = Proc::new("sh")
        .arg("-c")
        .arg(cmd.render())
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HostError::Failed(e.to_string()))?;
    if let Some(mut s) = child.stdin.take() {
        let data = cmd.stdin_data().unwrap_or_default().to_vec();
        std::thread::spawn(move || {
            let _ = s.write_all(&data);
        });
    }
    let out = child
        .wait_with_output()
        .map_err(|e| HostError::Failed(e.to_string()))?;
    Ok(Output {
        rc: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

#[async_trait]
impl HostRead for LocalSh {
    async fn probe(&self, cmd: &Cmd) -> Result<Output, HostError> {
        run_local(cmd)
    }
}

#[async_trait]
impl Host for LocalSh {
    async fn run(&self, cmd: &Cmd) -> Result<Output, HostError> {
        run_local(cmd)
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tutti-files-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tutti"))
        .collect()
}

#[tokio::test]
async fn write_atomic_bytes_mode_backup_and_keep_attrs() {
    let dir = scratch("write");
    let dest = dir.join("a file with spaces");
    let r = LocalSh
        .write_atomic(
            &s(&dest),
            Content::Bytes(b"one\n\xff".to_vec()),
            &WriteOpts::default(),
        )
        .await
        .unwrap();
    assert!(matches!(
        r,
        WriteResult::Written {
            backup_file: None,
            ..
        }
    ));
    assert_eq!(std::fs::read(&dest).unwrap(), b"one\n\xff");
    let umask_mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        umask_mode & 0o600,
        0o600,
        "0666 & ~umask, not mktemp's 0600 only"
    );

    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o640)).unwrap();
    let opts = WriteOpts {
        backup: true,
        ..WriteOpts::default()
    };
    let r = LocalSh
        .write_atomic(&s(&dest), Content::Bytes(b"two\n".to_vec()), &opts)
        .await
        .unwrap();
    let WriteResult::Written {
        backup_file: Some(b),
        ..
    } = r
    else {
        panic!("{r:?}")
    };
    let re = regex::Regex::new(r"\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$").unwrap();
    assert!(re.is_match(&b), "{b}");
    assert_eq!(std::fs::read(&b).unwrap(), b"one\n\xff");
    assert_eq!(std::fs::read(&dest).unwrap(), b"two\n");
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777,
        0o640,
        "kept"
    );

    let opts = WriteOpts {
        mode: Some(Mode::Symbolic("u+x,o-r".into())),
        ..WriteOpts::default()
    };
    LocalSh
        .write_atomic(&s(&dest), Content::Bytes(b"3".to_vec()), &opts)
        .await
        .unwrap();
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777,
        0o740
    );
    assert!(leftovers(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Replacing a file keeps its POSIX ACL, as Ansible's atomic_move does
/// (`shutil.copystat` copies the ACL's extended attribute).
#[tokio::test]
async fn write_atomic_keeps_the_files_acl() {
    let dir = scratch("acl");
    let dest = dir.join("f");
    std::fs::write(&dest, "old\n").unwrap();
    let set = Proc::new("setfacl")
        .args(["-m", "nobody:rwx"])
        .arg(&dest)
        .status()
        .expect("setfacl (tests/run.sh installs the acl package)");
    assert!(set.success(), "this file system does not take ACLs");
    LocalSh
        .write_atomic(
            &s(&dest),
            Content::Bytes(b"new\n".to_vec()),
            &WriteOpts::default(),
        )
        .await
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"new\n");
    let acl = Proc::new("getfacl").arg("-p").arg(&dest).output().unwrap();
    let acl = String::from_utf8_lossy(&acl.stdout).into_owned();
    assert!(acl.contains("user:nobody:rwx"), "{acl}");
    assert!(leftovers(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A directory's default ACL overrides the umask for what is created in
/// it; a requested mode is still exactly what a new file or directory gets.
#[tokio::test]
async fn modes_are_exact_under_a_default_acl() {
    let dir = scratch("dacl");
    let set = Proc::new("setfacl")
        .args(["-d", "-m", "u::rwx,g::rwx,o::rwx"])
        .arg(&dir)
        .status()
        .expect("setfacl (tests/run.sh installs the acl package)");
    assert!(set.success(), "this file system does not take ACLs");
    let mode_of = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let attrs = Attrs {
        mode: Some(Mode::Octal(0o750)),
        ..Attrs::default()
    };
    assert_eq!(
        LocalSh.mkdir_p(&s(&dir.join("d/e")), &attrs).await.unwrap(),
        2
    );
    assert_eq!(mode_of(&dir.join("d")), 0o750);
    assert_eq!(mode_of(&dir.join("d/e")), 0o750);
    let opts = WriteOpts {
        mode: Some(Mode::Octal(0o640)),
        ..WriteOpts::default()
    };
    let f = dir.join("f");
    LocalSh
        .write_atomic(&s(&f), Content::Bytes(b"x\n".to_vec()), &opts)
        .await
        .unwrap();
    assert_eq!(mode_of(&f), 0o640);
    // Without a mode, a rewrite keeps the file's own.
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o604)).unwrap();
    LocalSh
        .write_atomic(
            &s(&f),
            Content::Bytes(b"y\n".to_vec()),
            &WriteOpts::default(),
        )
        .await
        .unwrap();
    assert_eq!(mode_of(&f), 0o604);
    assert_eq!(std::fs::read(&f).unwrap(), b"y\n");
    assert!(leftovers(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The owner is set before the mode: a chown drops set-id bits.
#[tokio::test]
async fn write_atomic_keeps_set_id_bits_with_an_owner() {
    let dir = scratch("setid");
    let f = dir.join("tool");
    let opts = WriteOpts {
        mode: Some(Mode::Octal(0o4755)),
        owner: Some("root".into()),
        group: Some("root".into()),
        ..WriteOpts::default()
    };
    LocalSh
        .write_atomic(&s(&f), Content::Bytes(b"#!/bin/sh\n".to_vec()), &opts)
        .await
        .unwrap();
    let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o4755);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn write_atomic_streams_a_64_mib_local_file() {
    let dir = scratch("big");
    let src = dir.join("src.bin");
    {
        let mut f = std::fs::File::create(&src).unwrap();
        let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        for _ in 0..64 {
            f.write_all(&chunk).unwrap();
        }
    }
    let dest = dir.join("dest.bin");
    LocalSh
        .write_atomic(
            &s(&dest),
            Content::LocalFile(src.clone()),
            &WriteOpts::default(),
        )
        .await
        .unwrap();
    let st = LocalSh
        .stat(
            &s(&dest),
            &StatOpts::lstat().with_checksum(ChecksumAlgo::Sha1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st.size, 64 * 1024 * 1024);
    assert_eq!(st.checksum.unwrap(), sha1_local_file(&src).await.unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn validate_runs_without_a_shell_and_failure_leaves_dest_untouched() {
    let dir = scratch("validate");
    let dest = dir.join("conf");
    std::fs::write(&dest, "good\n").unwrap();
    let opts = WriteOpts {
        validate: Some("grep -q MAGIC %s".into()),
        backup: true,
        ..WriteOpts::default()
    };
    let r = LocalSh
        .write_atomic(&s(&dest), Content::Bytes(b"bad\n".to_vec()), &opts)
        .await
        .unwrap();
    let WriteResult::Invalid(v) = r else {
        panic!("{r:?}")
    };
    assert_eq!(v.exit_status, 1);
    assert_eq!(std::fs::read(&dest).unwrap(), b"good\n");
    assert!(leftovers(&dir).is_empty());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no backup either"
    );
    // Shell syntax in validate is not interpreted; %s may be inside a word.
    let opts = WriteOpts {
        validate: Some("sh -c 'grep -q MAGIC \"$1\" && echo ok' x --file=%s".into()),
        ..WriteOpts::default()
    };
    let r = LocalSh
        .write_atomic(&s(&dest), Content::Bytes(b"MAGIC\n".to_vec()), &opts)
        .await
        .unwrap();
    assert!(
        matches!(r, WriteResult::Invalid(_)),
        "--file=<tmp> is not a file: {r:?}"
    );
    let opts = WriteOpts {
        validate: Some("sh -c 'grep -q MAGIC \"$1\"' x %s".into()),
        ..WriteOpts::default()
    };
    let r = LocalSh
        .write_atomic(
            &s(&dest),
            Content::Bytes(b"MAGIC; $(touch pwned)\n".to_vec()),
            &opts,
        )
        .await
        .unwrap();
    assert!(matches!(r, WriteResult::Written { .. }), "{r:?}");
    assert!(!dir.join("pwned").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn write_errors_name_the_path() {
    let dir = scratch("errs");
    let e = LocalSh
        .write_atomic(
            &format!("{}/nope/f", s(&dir)),
            Content::Bytes(b"x".to_vec()),
            &WriteOpts::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e,
        HostError::Failed(format!(
            "Destination directory {}/nope does not exist",
            s(&dir)
        ))
    );
    std::fs::write(dir.join("file"), "x").unwrap();
    let e = LocalSh
        .write_atomic(
            &format!("{}/file/f", s(&dir)),
            Content::Bytes(b"x".to_vec()),
            &WriteOpts::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e,
        HostError::Failed(format!("Destination {}/file is not a directory", s(&dir)))
    );
    let e = LocalSh
        .write_atomic(
            &s(&dir),
            Content::Bytes(b"x".to_vec()),
            &WriteOpts::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e,
        HostError::Failed(format!("Destination {} is a directory", s(&dir)))
    );
    let opts = WriteOpts {
        owner: Some("no-such-user-xyz".into()),
        ..WriteOpts::default()
    };
    let e = LocalSh
        .write_atomic(
            &format!("{}/g", s(&dir)),
            Content::Bytes(b"x".to_vec()),
            &opts,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("chown failed:"), "{e}");
    assert!(leftovers(&dir).is_empty());

    // Permission denied: root ignores modes, so try an immutable directory.
    let ro = dir.join("ro");
    std::fs::create_dir(&ro).unwrap();
    let immutable = Proc::new("chattr")
        .arg("+i")
        .arg(&ro)
        .status()
        .is_ok_and(|s| s.success());
    if immutable {
        let e = LocalSh
            .write_atomic(
                &format!("{}/f", s(&ro)),
                Content::Bytes(b"x".to_vec()),
                &WriteOpts::default(),
            )
            .await
            .unwrap_err();
        let _ = Proc::new("chattr").arg("-i").arg(&ro).status();
        assert!(
            e.to_string()
                .contains("is not writable by the current user"),
            "{e}"
        );
    } else {
        eprintln!("chattr +i not permitted here: permission-denied path not exercised");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn disk_full_is_a_failure_and_keeps_the_old_file() {
    let dir = scratch("full");
    let mounted = Proc::new("mount")
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
    std::fs::write(&dest, "old").unwrap();
    let e = LocalSh
        .write_atomic(
            &s(&dest),
            Content::Bytes(vec![7u8; 1 << 20]),
            &WriteOpts::default(),
        )
        .await
        .unwrap_err();
    let left = leftovers(&dir);
    let content = std::fs::read(&dest).unwrap();
    let _ = Proc::new("umount").arg(&dir).status();
    assert!(
        matches!(&e, HostError::Failed(m) if m.contains("No space left on device")),
        "{e:?}"
    );
    assert_eq!(content, b"old");
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn stat_every_kind_of_path() {
    let dir = scratch("stat");
    let weird = dir.join("sp ace\nnew'line");
    std::fs::write(&weird, "hello\n").unwrap();
    std::fs::set_permissions(&weird, std::fs::Permissions::from_mode(0o4751)).unwrap();
    std::os::unix::fs::symlink(&weird, dir.join("link")).unwrap();
    std::os::unix::fs::symlink("missing\ntarget", dir.join("dangling")).unwrap();

    let opts = StatOpts {
        checksum: Some(ChecksumAlgo::Sha1),
        mime: true,
        ..StatOpts::default()
    };
    let st = LocalSh.stat(&s(&weird), &opts).await.unwrap().unwrap();
    assert_eq!(st.kind, Some(FileKind::File));
    assert_eq!(st.mode, 0o4751);
    assert_eq!(st.size, 6);
    assert_eq!(st.owner, "root");
    assert_eq!(
        st.checksum.as_deref(),
        Some("f572d396fae9206628714fb2ce00f72e94f2258f")
    );
    assert!(st.mtime > 1e9 && st.readable && st.writeable && st.executable);
    if Proc::new("file").arg("--version").output().is_ok() {
        assert_eq!(st.mimetype.as_deref(), Some("text/plain"));
    }

    let st = LocalSh.stat(&s(&dir), &opts).await.unwrap().unwrap();
    assert_eq!(st.kind, Some(FileKind::Directory));
    assert!(st.checksum.is_none());

    let st = LocalSh
        .stat(&s(&dir.join("link")), &opts)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st.kind, Some(FileKind::Link));
    assert_eq!(st.lnk_target.as_deref(), Some(s(&weird).as_str()));
    assert_eq!(st.lnk_source.as_deref(), Some(s(&weird).as_str()));
    let st = LocalSh
        .stat(
            &s(&dir.join("link")),
            &StatOpts {
                follow: true,
                ..opts.clone()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st.kind, Some(FileKind::File));

    let st = LocalSh
        .stat(&s(&dir.join("dangling")), &opts)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st.lnk_target.as_deref(), Some("missing\ntarget"));
    assert!(
        LocalSh
            .stat(&s(&dir.join("dangling")), &StatOpts::follow())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        LocalSh
            .stat(&s(&dir.join("nope")), &opts)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        LocalSh
            .stat(&format!("{}/x", s(&weird)), &opts)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        LocalSh
            .stat(&s(&dir.join("no/such")), &opts)
            .await
            .unwrap()
            .is_none()
    );

    // Content in the same round trip, bounded.
    let st = LocalSh
        .stat(&s(&weird), &StatOpts::lstat().with_content(100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st.content.as_deref(), Some(&b"hello\n"[..]));
    let st = LocalSh
        .stat(&s(&weird), &StatOpts::lstat().with_content(3))
        .await
        .unwrap()
        .unwrap();
    assert!(st.content.is_none());

    assert_eq!(LocalSh.read(&s(&weird)).await.unwrap().unwrap(), b"hello\n");
    assert!(LocalSh.read(&s(&dir.join("nope"))).await.unwrap().is_none());
    let e = LocalSh.read(&s(&dir)).await.unwrap_err();
    assert!(e.to_string().ends_with("Is a directory"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn attrs_mkdir_links_touch_remove() {
    let dir = scratch("ops");
    let d = dir.join("a/b c/d");
    let attrs = Attrs {
        mode: Some(Mode::Octal(0o750)),
        ..Attrs::default()
    };
    assert_eq!(LocalSh.mkdir_p(&s(&d), &attrs).await.unwrap(), 3);
    assert_eq!(
        std::fs::metadata(dir.join("a"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o750
    );
    assert_eq!(LocalSh.mkdir_p(&s(&d), &attrs).await.unwrap(), 0);

    let f = dir.join("f");
    std::fs::write(&f, "x").unwrap();
    let a = Attrs {
        mode: Some(Mode::Symbolic("a+x".into())),
        ..Attrs::default()
    };
    assert!(LocalSh.set_attrs(&s(&f), &a, true, false).await.unwrap());
    assert!(!LocalSh.set_attrs(&s(&f), &a, true, false).await.unwrap());
    let a = Attrs {
        mode: Some(Mode::Octal(0o700)),
        owner: Some("root".into()),
        ..Attrs::default()
    };
    assert!(
        LocalSh
            .set_attrs(&s(&dir.join("a")), &a, true, true)
            .await
            .unwrap()
    );
    assert_eq!(
        std::fs::metadata(&d).unwrap().permissions().mode() & 0o7777,
        0o700
    );

    let l = dir.join("l");
    LocalSh.symlink("f", &s(&l), false).await.unwrap();
    assert_eq!(std::fs::read_link(&l).unwrap(), Path::new("f"));
    LocalSh.symlink("a", &s(&l), false).await.unwrap();
    assert_eq!(
        std::fs::read_link(&l).unwrap(),
        Path::new("a"),
        "replaced, not followed into a/"
    );
    LocalSh
        .hardlink(&s(&f), &s(&dir.join("h")), false)
        .await
        .unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(dir.join("h")).unwrap().ino(),
        std::fs::metadata(&f).unwrap().ino()
    );

    let t = dir.join("t");
    LocalSh
        .touch(&s(&t), TimeSpec::Now, TimeSpec::Now, true, true)
        .await
        .unwrap();
    assert!(t.exists());
    LocalSh
        .touch(
            &s(&t),
            TimeSpec::At(1_000_000_000.0),
            TimeSpec::Preserve,
            true,
            false,
        )
        .await
        .unwrap();
    assert_eq!(std::fs::metadata(&t).unwrap().mtime(), 1_000_000_000);

    assert!(LocalSh.remove(&s(&dir.join("a"))).await.unwrap());
    assert!(!LocalSh.remove(&s(&dir.join("a"))).await.unwrap());
    assert!(!dir.join("a").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn modules_end_to_end_on_a_real_shell() {
    let dir = scratch("modules");
    let conf = dir.join("app.conf");
    std::fs::write(&conf, b"a=1\n\xff\xfe\nb=2\n").unwrap();
    let p = s(&conf);
    for (module, a) in [
        (
            "lineinfile",
            json!({"path": p, "regexp": "^a=", "line": "a=9", "backup": true}),
        ),
        ("blockinfile", json!({"path": p, "block": "x=1"})),
        (
            "replace",
            json!({"path": p, "regexp": "^b=(\\d)$", "replace": "b=\\1\\1"}),
        ),
        (
            "copy",
            json!({"content": "c\n", "dest": s(&dir.join("c.txt")), "mode": "0600"}),
        ),
        (
            "file",
            json!({"path": s(&dir.join("d/e")), "state": "directory", "mode": "u=rwx,go=rx"}),
        ),
    ] {
        let m = find(module).unwrap();
        let prepared = m.prepare(args(a.clone())).unwrap();
        let plan = prepared.check(&LocalSh).await.unwrap();
        assert!(plan.is_change(), "{module}: {plan:?}");
        let applied = prepared.apply(plan, &LocalSh).await.unwrap();
        assert!(applied.changed, "{module}");
        let again = prepared.check(&LocalSh).await.unwrap();
        assert!(matches!(again, Plan::InSync { .. }), "{module}: {again:?}");
    }
    let got = std::fs::read(&conf).unwrap();
    assert_eq!(
        got,
        b"a=9\n\xff\xfe\nb=22\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\n# END ANSIBLE MANAGED BLOCK\n"
            .to_vec()
    );
    assert_eq!(
        std::fs::metadata(dir.join("c.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(dir.join("d/e"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o755
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
