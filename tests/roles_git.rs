//! Roles from git: `tutti roles install|update|list` (and the binary as
//! `ansible-galaxy`) against bare repositories each test creates — tags,
//! branches, commits and a dependency chain — with `roles.lock` pinning
//! commits and content, then a playbook that uses the installed roles. No
//! network: every source is a `file://` URL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::project::{Project, Run};

/// A git command with a fixed identity, isolated from the user's config.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A role's repository: a bare repo under `git/` and a work tree under
/// `work/` that pushes to it.
struct Repo {
    work: PathBuf,
    bare: PathBuf,
}

impl Repo {
    fn new(root: &Path, name: &str) -> Repo {
        let bare = root.join("git").join(format!("{name}.git"));
        let work = root.join("work").join(name);
        fs::create_dir_all(&bare).unwrap();
        fs::create_dir_all(&work).unwrap();
        git(&bare, &["init", "--quiet", "--bare", "-b", "main"]);
        git(&work, &["init", "--quiet", "-b", "main"]);
        git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        Repo { work, bare }
    }

    fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    /// Writes files, commits them on the current branch, pushes; returns the SHA.
    fn commit(&self, files: &[(&str, &str)], msg: &str) -> String {
        for (rel, text) in files {
            let p = self.work.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "--quiet", "-m", msg]);
        let branch = git(&self.work, &["rev-parse", "--abbrev-ref", "HEAD"]);
        git(&self.work, &["push", "--quiet", "origin", &branch]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    fn tag(&self, tag: &str, commit: &str) {
        git(&self.work, &["tag", "-f", tag, commit]);
        git(&self.work, &["push", "--quiet", "-f", "origin", tag]);
    }

    fn branch(&self, name: &str) {
        git(&self.work, &["checkout", "--quiet", "-B", name]);
    }
}

/// A role whose task prints `msg`.
fn role_files(msg: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "tasks/main.yml",
            "- name: Say\n  debug:\n    msg: \"{{ greeting }}\"\n".to_string(),
        ),
        ("defaults/main.yml", format!("greeting: \"{msg}\"\n")),
    ]
}

fn commit_role(repo: &Repo, msg: &str, extra: &[(&str, &str)]) -> String {
    let files = role_files(msg);
    let mut all: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    all.extend_from_slice(extra);
    repo.commit(&all, msg)
}

fn tutti(p: &Project, args: &[&str]) -> Run {
    Run::from(p.tutti().args(args).output().expect("run tutti"))
}

fn roles(p: &Project, args: &[&str]) -> Run {
    let mut all = vec!["roles"];
    all.extend_from_slice(args);
    tutti(p, &all)
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn ok(r: &Run) {
    assert_eq!(r.code, Some(0), "{}", r.both());
}

fn failed(r: &Run) {
    assert_eq!(r.code, Some(1), "{}", r.both());
}

/// The lock's `commit` for a role (the lock is YAML).
fn locked_commit(lock: &str, name: &str) -> String {
    let mut in_role = false;
    for line in lock.lines() {
        let l = line.trim();
        if let Some(n) = l.strip_prefix("- name: ") {
            in_role = n.trim_matches('"') == name;
        } else if in_role && let Some(c) = l.strip_prefix("commit: ") {
            return c.trim_matches('"').to_string();
        }
    }
    panic!("{name} not in lock:\n{lock}")
}

#[test]
fn installs_by_tag_branch_commit_legacy_string_and_dependencies() {
    let p = Project::new();
    let root = p.dir.path();
    // b is a dependency of a (meta/requirements.yml); e of d (meta/main.yml src map).
    let b = Repo::new(root, "b");
    commit_role(&b, "b one", &[]);
    let e = Repo::new(root, "e");
    commit_role(&e, "e one", &[]);
    let a = Repo::new(root, "a");
    let a_req = format!("- src: git+{}\n  name: b\n", b.url());
    let a1 = commit_role(&a, "a one", &[("meta/requirements.yml", &a_req)]);
    a.tag("v1.0.0", &a1);
    commit_role(&a, "a two", &[("meta/requirements.yml", &a_req)]);
    let c = Repo::new(root, "c");
    let c1 = commit_role(&c, "c one", &[]);
    commit_role(&c, "c two", &[]);
    c.branch("dev");
    commit_role(&c, "c dev", &[]);
    let d = Repo::new(root, "d");
    let d_meta = format!(
        "galaxy_info: {{author: t}}\ndependencies:\n  - src: git+{}\n    name: e\n  - some_local_role\n",
        e.url()
    );
    let d1 = commit_role(&d, "d one", &[("meta/main.yml", &d_meta)]);
    d.tag("v2", &d1);
    commit_role(&d, "d later", &[("meta/main.yml", &d_meta)]);

    p.write(
        "requirements.yml",
        &format!(
            "roles:\n  - name: a\n    src: git+{a}\n    version: v1.0.0\n  \
             - src: {c}\n    scm: git\n    version: dev\n  \
             - name: c_commit\n    src: git+{c}\n    version: {c1}\n  \
             - \"git+{d},v2,dlegacy\"\n\
             collections:\n  - name: community.general\n",
            a = a.url(),
            c = c.url(),
            d = d.url(),
        ),
    );
    let r = roles(&p, &["install", "-r", "requirements.yml", "-p", "roles"]);
    ok(&r);
    let dest = p.path("roles");
    for line in [
        "Starting galaxy role install process\n".to_string(),
        format!("- extracting a to {}\n", dest.join("a").display()),
        "- a (v1.0.0) was installed successfully\n".into(),
        "- adding dependency: b\n".into(),
        "- b was installed successfully\n".into(),
        "- c (dev) was installed successfully\n".into(),
        "- c_commit (".into(),
        "- dlegacy (v2) was installed successfully\n".into(),
        "- adding dependency: e\n".into(),
        "- e was installed successfully\n".into(),
    ] {
        assert!(r.stdout.contains(&line), "missing {line:?}\n{}", r.both());
    }
    assert!(
        r.stderr.contains("collections are not supported"),
        "{}",
        r.both()
    );
    // Each version's content, no .git, and the install info.
    assert!(read(&dest.join("a/defaults/main.yml")).contains("a one"));
    assert!(read(&dest.join("c/defaults/main.yml")).contains("c dev"));
    assert!(read(&dest.join("c_commit/defaults/main.yml")).contains("c one"));
    assert!(read(&dest.join("dlegacy/defaults/main.yml")).contains("d one"));
    assert!(read(&dest.join("b/defaults/main.yml")).contains("b one"));
    assert!(read(&dest.join("e/defaults/main.yml")).contains("e one"));
    assert!(!dest.join("some_local_role").exists());
    assert!(!dest.join("a/.git").exists());
    let info = read(&dest.join("a/meta/.galaxy_install_info"));
    assert!(
        info.contains("install_date: '") && info.contains("version: 'v1.0.0'"),
        "{info}"
    );
    // No scratch directories are left behind.
    let leftovers: Vec<_> = fs::read_dir(&dest)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The lock pins every role, dependencies included.
    let lock = read(&p.path("roles.lock"));
    assert_eq!(locked_commit(&lock, "a"), a1);
    assert_eq!(locked_commit(&lock, "c_commit"), c1);
    assert_eq!(locked_commit(&lock, "dlegacy"), d1);
    for n in ["b", "c", "e"] {
        assert_eq!(locked_commit(&lock, n).len(), 40);
    }

    // A second run changes nothing.
    let r = roles(&p, &["install", "-r", "requirements.yml", "-p", "roles"]);
    ok(&r);
    assert!(
        r.stdout
            .contains("- a (v1.0.0) is already installed, skipping.\n"),
        "{}",
        r.both()
    );
    assert!(r.stdout.contains("- b is already installed, skipping.\n"));
    assert!(!r.stdout.contains("extracting"), "{}", r.both());
    assert_eq!(read(&p.path("roles.lock")), lock);

    // --force reinstalls.
    let r = roles(
        &p,
        &[
            "install",
            "-r",
            "requirements.yml",
            "-p",
            "roles",
            "--force",
        ],
    );
    ok(&r);
    assert!(
        r.stdout
            .contains("- a (v1.0.0) was installed successfully\n")
    );
    assert_eq!(read(&p.path("roles.lock")), lock);

    // -g keeps the clone's metadata; --no-deps skips dependencies; a role
    // given on the command line in the legacy string form.
    let r = roles(
        &p,
        &[
            "install",
            "-p",
            "other",
            "-g",
            "--no-deps",
            &format!("git+{},v1.0.0", a.url()),
        ],
    );
    ok(&r);
    assert!(p.path("other/a/.git").is_dir());
    assert!(!p.path("other/b").exists());
    assert!(read(&p.path("other/a/defaults/main.yml")).contains("a one"));

    // A version that doesn't exist is an error, exit 1.
    p.write(
        "bad.yml",
        &format!("- src: git+{}\n  version: nope\n", a.url()),
    );
    let r = roles(&p, &["install", "-r", "bad.yml", "-p", "bad"]);
    failed(&r);
    assert!(
        r.stderr
            .contains("- the specified version (nope) of a was not found"),
        "{}",
        r.both()
    );
}

#[test]
fn lock_pins_commits_reports_moved_tags_and_modified_trees() {
    let p = Project::new();
    let root = p.dir.path();
    let a = Repo::new(root, "a");
    let a1 = commit_role(&a, "a one", &[]);
    a.tag("v1.0.0", &a1);
    let t = Repo::new(root, "t");
    let t1 = commit_role(&t, "t one", &[]);
    p.write(
        "requirements.yml",
        &format!(
            "- src: git+{}\n  version: main\n  name: a\n- src: git+{}\n  version: v1.0.0\n  name: t\n",
            a.url(),
            t.url()
        ),
    );
    t.tag("v1.0.0", &t1);
    let install = |extra: &[&str]| {
        let mut args = vec!["install", "-r", "requirements.yml", "-p", "roles"];
        args.extend_from_slice(extra);
        roles(&p, &args)
    };
    ok(&install(&[]));
    let lock = read(&p.path("roles.lock"));
    assert!(lock.starts_with("# roles.lock"), "{lock}");
    assert!(lock.contains("lock_version: 1\n"), "{lock}");
    assert!(lock.contains("    sha256: \""), "{lock}");
    assert_eq!(locked_commit(&lock, "a"), a1);

    // The branch moves on; a fresh checkout still gets the locked commit.
    let a2 = commit_role(&a, "a two", &[]);
    fs::remove_dir_all(p.path("roles")).unwrap();
    ok(&install(&[]));
    assert!(read(&p.path("roles/a/defaults/main.yml")).contains("a one"));
    assert_eq!(read(&p.path("roles.lock")), lock);

    // `roles list` shows versions and the lock status.
    let r = roles(&p, &["list", "-p", "roles"]);
    ok(&r);
    let abs = std::path::absolute(p.path("roles")).unwrap();
    assert!(
        r.stdout.starts_with(&format!("# {}\n", abs.display())),
        "{}",
        r.both()
    );
    assert!(
        r.stdout
            .contains(&format!("- a, main (locked {})\n", &a1[..12])),
        "{}",
        r.both()
    );

    // Editing an installed file is reported, not skipped or overwritten.
    fs::write(p.path("roles/a/tasks/main.yml"), "- debug: msg=local\n").unwrap();
    let r = install(&[]);
    failed(&r);
    assert!(r.stderr.contains("- a at "), "{}", r.both());
    assert!(r.stderr.contains("was modified"), "{}", r.both());
    assert_eq!(
        read(&p.path("roles/a/tasks/main.yml")),
        "- debug: msg=local\n"
    );
    let r = roles(&p, &["list", "-p", "roles"]);
    assert!(
        r.stdout.contains("- a, main (modified; locked"),
        "{}",
        r.both()
    );
    // --force puts the locked content back.
    ok(&install(&["--force"]));
    assert!(read(&p.path("roles/a/tasks/main.yml")).contains("{{ greeting }}"));
    assert!(read(&p.path("roles/a/defaults/main.yml")).contains("a one"));

    // `roles update a` moves the lock to the branch head and installs it.
    let r = roles(
        &p,
        &["update", "a", "-r", "requirements.yml", "-p", "roles"],
    );
    ok(&r);
    assert!(
        r.stdout.contains(&format!(
            "- updating a (main): {} -> {}",
            &a1[..12],
            &a2[..12]
        )),
        "{}",
        r.both()
    );
    let lock2 = read(&p.path("roles.lock"));
    assert_eq!(locked_commit(&lock2, "a"), a2);
    assert_eq!(locked_commit(&lock2, "t"), t1);
    assert!(read(&p.path("roles/a/defaults/main.yml")).contains("a two"));

    // Someone moves the tag: installing is an error naming both commits.
    let t2 = commit_role(&t, "t moved", &[]);
    t.tag("v1.0.0", &t2);
    fs::remove_dir_all(p.path("roles")).unwrap();
    let r = install(&[]);
    failed(&r);
    let msg = format!("tag v1.0.0 moved from {t1} to {t2}");
    assert!(r.stderr.contains(&msg), "{}", r.both());
    assert!(!p.path("roles/t").exists());
    // --force doesn't override a moved tag either.
    failed(&install(&["--force"]));
    assert_eq!(read(&p.path("roles.lock")), lock2);
    // Accepting it is explicit.
    ok(&roles(
        &p,
        &["update", "t", "-r", "requirements.yml", "-p", "roles"],
    ));
    assert_eq!(locked_commit(&read(&p.path("roles.lock")), "t"), t2);
    assert!(read(&p.path("roles/t/defaults/main.yml")).contains("t moved"));
    ok(&install(&[]));

    // Updating an unknown role is an error.
    failed(&roles(
        &p,
        &["update", "zzz", "-r", "requirements.yml", "-p", "roles"],
    ));
}

#[test]
fn answers_as_ansible_galaxy() {
    let p = Project::new();
    let root = p.dir.path();
    let a = Repo::new(root, "a");
    let a1 = commit_role(&a, "a one", &[]);
    a.tag("v1.0.0", &a1);
    p.write(
        "requirements.yml",
        &format!(
            "roles:\n  - name: demo.a\n    src: git+{}\n    version: v1.0.0\n",
            a.url()
        ),
    );
    let bin = p.path("bin");
    fs::create_dir_all(&bin).unwrap();
    let galaxy = bin.join("ansible-galaxy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tutti"), &galaxy).unwrap();
    let run = |args: &[&str]| {
        let mut c = Command::new(&galaxy);
        c.current_dir(root)
            .env("HOME", root)
            .env_remove("ANSIBLE_CONFIG")
            .env_remove("ANSIBLE_ROLES_PATH")
            .args(args);
        Run::from(c.output().unwrap())
    };
    let r = run(&["role", "install", "-r", "requirements.yml", "-p", "roles"]);
    ok(&r);
    assert_eq!(
        r.stdout,
        format!(
            "Starting galaxy role install process\n- extracting demo.a to {}\n\
             - demo.a (v1.0.0) was installed successfully\n- wrote roles.lock\n",
            p.path("roles/demo.a").display()
        )
    );
    let r = run(&["install", "-r", "requirements.yml", "-p", "roles"]);
    ok(&r);
    assert!(
        r.stdout
            .contains("- demo.a (v1.0.0) is already installed, skipping.\n")
    );
    // Without -p: the default ~/.ansible/roles.
    let r = run(&["install", "-r", "requirements.yml"]);
    ok(&r);
    assert!(p.path(".ansible/roles/demo.a/tasks/main.yml").is_file());
    let r = run(&["role", "list", "-p", "roles"]);
    ok(&r);
    assert!(r.stdout.contains("- demo.a, v1.0.0"), "{}", r.both());
    let r = run(&["list", "-p", "roles"]);
    ok(&r);
    assert!(r.stdout.contains("- demo.a, v1.0.0"), "{}", r.both());
    // Nothing to install is an error, exit 1.
    let empty = Project::new();
    let mut c = Command::new(&galaxy);
    c.current_dir(empty.dir.path())
        .env("HOME", empty.dir.path())
        .args(["role", "install"]);
    failed(&Run::from(c.output().unwrap()));
}

#[test]
fn a_playbook_uses_roles_installed_through_ansible_cfg_roles_path() {
    let p = Project::new();
    let root = p.dir.path();
    // web depends on base: installed through meta/requirements.yml, run
    // first through meta/main.yml.
    let base = Repo::new(root, "base");
    commit_role(&base, "base says hi", &[]);
    let web = Repo::new(root, "web");
    let w1 = commit_role(
        &web,
        "web v1",
        &[
            (
                "meta/requirements.yml",
                &format!("- name: base\n  src: git+{}\n", base.url()),
            ),
            ("meta/main.yml", "dependencies:\n  - base\n"),
        ],
    );
    web.tag("v1.0.0", &w1);
    p.write("ansible.cfg", "[defaults]\nroles_path = ./galaxy_roles\n")
        .write(
            "requirements.yml",
            &format!("roles:\n  - src: git+{}\n    version: v1.0.0\n", web.url()),
        )
        .write("inv.ini", "localhost ansible_connection=local\n")
        .write(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  roles:\n    - web\n",
        );
    let r = roles(&p, &["install", "-r", "requirements.yml"]);
    ok(&r);
    assert!(
        p.path("galaxy_roles/web/tasks/main.yml").is_file(),
        "{}",
        r.both()
    );
    assert!(p.path("galaxy_roles/base/tasks/main.yml").is_file());
    let r = roles(&p, &["list"]);
    ok(&r);
    assert!(r.stdout.contains("- web, v1.0.0 (locked"), "{}", r.both());
    assert!(
        r.stdout.contains("- base, (unknown version) (locked"),
        "{}",
        r.both()
    );

    let r = p.playbook("inv.ini", "site.yml", &[]);
    ok(&r);
    let base_at = r.stdout.find("\"msg\": \"base says hi\"");
    let web_at = r.stdout.find("\"msg\": \"web v1\"");
    assert!(
        base_at.is_some() && web_at.is_some() && base_at < web_at,
        "{}",
        r.both()
    );
    assert!(r.stdout.contains("TASK [web : Say]"), "{}", r.both());
    assert!(r.stdout.contains("ok=2"), "{}", r.both());
}
