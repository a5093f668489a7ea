//! Issue 4's guarantees for the file, command and HTTP modules, black-box: real
//! `tutti playbook` runs over SSH against the loopback sshd fleet. The fleet hosts are this
//! machine, so every test gives each host its own directory (`<root>/<inventory_hostname>`)
//! under the fleet's temp dir and inspects the files there directly.
//!
//! - one playbook per module group runs twice: the first run changes, the second reports
//!   `changed=0` for every host;
//! - `--check` on a fresh target changes no byte and no mode; `--check --diff` prints the
//!   diff the real run then applies;
//! - writes are atomic: a failing `validate` and a SIGKILL in the middle of a large copy
//!   leave the old file (or the complete new one), `backup` names match Ansible's;
//! - binary content copies byte-exact, a large copy streams with bounded controller memory,
//!   non-UTF-8 content and names survive `lineinfile`/`replace`;
//! - failures are per-host `FAILED` with the path (never `UNREACHABLE`, never a panic);
//! - `get_url` and `uri` against an HTTP server the test runs on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::fleet::Fleet;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// A fleet plus a target root: host `hNN` works under `root/hNN`.
struct Env {
    fleet: Fleet,
    root: PathBuf,
}

/// A finished `tutti playbook` run.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from_output(o: &Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    fn both(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// `host -> counter -> value` from the PLAY RECAP.
    fn recap(&self) -> BTreeMap<String, BTreeMap<String, i64>> {
        let mut out = BTreeMap::new();
        let Some(at) = self.stdout.rfind("PLAY RECAP") else {
            return out;
        };
        for line in self.stdout[at..].lines().skip(1) {
            let Some((host, counters)) = line.split_once(" : ") else {
                continue;
            };
            let mut m = BTreeMap::new();
            for kv in counters.split_whitespace() {
                if let Some((k, v)) = kv.split_once('=') {
                    m.insert(k.to_string(), v.parse().unwrap_or(-1));
                }
            }
            out.insert(host.trim().to_string(), m);
        }
        out
    }

    /// Asserts exit 0, no failure and no unreachable host, and `changed` per host as given.
    fn assert_ok(&self, hosts: &[&str], changed: impl Fn(i64) -> bool, what: &str) {
        assert_eq!(self.code, Some(0), "{what}: {}", self.both());
        self.assert_sane();
        let recap = self.recap();
        for h in hosts {
            let r = recap
                .get(*h)
                .unwrap_or_else(|| panic!("{what}: no recap for {h}: {}", self.both()));
            assert_eq!(r["failed"], 0, "{what}: {h}: {}", self.both());
            assert_eq!(r["unreachable"], 0, "{what}: {h}: {}", self.both());
            assert!(
                changed(r["changed"]),
                "{what}: {h} changed={}: {}",
                r["changed"],
                self.both()
            );
        }
    }

    /// No panic and no unreachable host.
    fn assert_sane(&self) {
        assert!(
            !self.stderr.contains("panicked") && !self.stdout.contains("panicked"),
            "tutti panicked: {}",
            self.both()
        );
        assert!(
            !self.stdout.contains("UNREACHABLE!"),
            "a host became unreachable: {}",
            self.both()
        );
    }
}

impl Env {
    fn new(hosts: usize) -> Env {
        let fleet = Fleet::start(hosts);
        let root = fleet.dir.path().join("t");
        for h in &fleet.hosts {
            fs::create_dir_all(root.join(&h.name)).unwrap();
        }
        Env { fleet, root }
    }

    fn hosts(&self) -> Vec<&str> {
        self.fleet.hosts.iter().map(|h| h.name.as_str()).collect()
    }

    /// `root/<host>`.
    fn host_dir(&self, host: &str) -> PathBuf {
        self.root.join(host)
    }

    /// Writes a file relative to the fleet dir (the playbook dir), creating parents.
    fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.fleet.dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content).unwrap();
        p
    }

    /// Writes the same file into every host's dir.
    fn seed(&self, rel: &str, content: impl AsRef<[u8]>) {
        for h in self.hosts() {
            let p = self.host_dir(h).join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, content.as_ref()).unwrap();
        }
    }

    /// The command for `tutti playbook -i INV PB -e root=ROOT EXTRA...`.
    fn command(&self, playbook: &Path, extra: &[&str]) -> Command {
        let mut cmd = self.fleet.tutti();
        cmd.args(["playbook", "-i"])
            .arg(&self.fleet.inventory)
            .arg(playbook)
            .arg("-e")
            .arg(format!("root={}", self.root.display()))
            .args(extra);
        cmd
    }

    fn run(&self, playbook: &Path, extra: &[&str]) -> Run {
        let out = self.command(playbook, extra).output().unwrap();
        Run::from_output(&out)
    }
}

/// `- hosts: fleet` with `d` = this host's dir, no facts, and the given tasks (indented
/// by four spaces already).
fn play(tasks: &str) -> String {
    format!(
        "- hosts: fleet\n  gather_facts: false\n  vars:\n    d: \"{{{{ root }}}}/{{{{ inventory_hostname }}}}\"\n  tasks:\n{tasks}"
    )
}

fn sha256_file(p: &Path) -> String {
    let mut f = fs::File::open(p).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// `(relative path, kind+mode, size, sha256)` of every entry under `dir`, sorted.
fn manifest(dir: &Path) -> Vec<(PathBuf, u32, u64, String)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(PathBuf, u32, u64, String)>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let md = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(base).unwrap().to_path_buf();
            let sum = if md.file_type().is_file() {
                sha256_file(&p)
            } else if md.file_type().is_symlink() {
                format!("-> {}", fs::read_link(&p).unwrap().display())
            } else {
                String::new()
            };
            out.push((rel, md.mode(), md.len(), sum));
            if md.file_type().is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Names in `dir` that look like an abandoned atomic-write temp file.
fn temp_leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tutti."))
        .collect()
}

/// Ansible's backup name: `<name>.<pid>.<YYYY-MM-DD@HH:MM:SS~>`.
fn backups_of(dir: &Path, name: &str) -> Vec<PathBuf> {
    let re = regex::Regex::new(&format!(
        r"^{}\.\d+\.\d{{4}}-\d{{2}}-\d{{2}}@\d{{2}}:\d{{2}}:\d{{2}}~$",
        regex::escape(name)
    ))
    .unwrap();
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| re.is_match(&p.file_name().unwrap().to_string_lossy()))
        .collect();
    v.sort();
    v
}

/// Runs a playbook twice: the first run must change every host, the second none.
fn twice(env: &Env, pb: &Path) -> (Run, Run) {
    let hosts = env.hosts();
    let first = env.run(pb, &[]);
    first.assert_ok(&hosts, |c| c > 0, "first run");
    let second = env.run(pb, &[]);
    second.assert_ok(&hosts, |c| c == 0, "second run (idempotence)");
    (first, second)
}

// ---------------------------------------------------------------------------------------
// 1. A playbook per module group, run twice
// ---------------------------------------------------------------------------------------

#[test]
fn file_and_copy_converge_and_then_change_nothing() {
    let env = Env::new(2);
    env.seed("sym.txt", "s\n");
    env.seed("oct.txt", "o\n");
    env.seed("gone/inner", "x\n");
    env.seed("bk.txt", "old content\n");
    for h in env.hosts() {
        let d = env.host_dir(h);
        fs::set_permissions(d.join("sym.txt"), fs::Permissions::from_mode(0o666)).unwrap();
        fs::set_permissions(d.join("oct.txt"), fs::Permissions::from_mode(0o644)).unwrap();
        // A file whose times must survive `touch` with `preserve`.
        fs::write(d.join("kept"), "k").unwrap();
        Command::new("touch")
            .args(["-d", "2001-02-03 04:05:06"])
            .arg(d.join("kept"))
            .status()
            .unwrap();
    }
    env.write("files/a.conf", "alpha=1\n");
    env.write("files/tree/x.txt", "x\n");
    env.write("files/tree/sub/y.txt", "y\n");
    let pb = env.write(
        "site.yml",
        play(
            r#"    - file: path={{ d }}/dir state=directory mode=0750
    - file:
        path: "{{ d }}/dir/sub/deep"
        state: directory
        mode: "u=rwx,g=rx,o="
    - file: path={{ d }}/new-empty state=touch modification_time=preserve access_time=preserve
    - file: path={{ d }}/kept state=touch modification_time=preserve access_time=preserve
    - copy: content="hello\n" dest={{ d }}/dir/f.txt mode=0640
    - file: src={{ d }}/dir/f.txt dest={{ d }}/link state=link
    - file: src={{ d }}/dir/f.txt dest={{ d }}/hard state=hard
    - file: path={{ d }}/gone state=absent
    - file: path={{ d }}/sym.txt mode=u+x,g-w,o-rw
    - file: path={{ d }}/oct.txt mode="0600"
    - copy: src=a.conf dest={{ d }}/a.conf mode=u=rw,go=r
    - copy: src=tree/ dest={{ d }}/contents/
    - copy: src=tree dest={{ d }}/withdir/
    - copy: content="new content\n" dest={{ d }}/bk.txt backup=yes
      register: bk
    - assert:
        that:
          - bk.backup_file is defined
          - bk.backup_file.startswith(d ~ '/bk.txt.')
        quiet: true
      when: bk is changed
"#,
        ),
    );
    twice(&env, &pb);

    for h in env.hosts() {
        let d = env.host_dir(h);
        assert_eq!(mode(&d.join("dir")), 0o750);
        assert!(d.join("dir/sub/deep").is_dir());
        assert_eq!(mode(&d.join("dir/sub/deep")), 0o750);
        assert_eq!(fs::metadata(d.join("new-empty")).unwrap().len(), 0);
        let kept = fs::metadata(d.join("kept")).unwrap();
        let want = chrono_like_epoch("2001-02-03 04:05:06");
        assert_eq!(kept.mtime(), want, "{h}: touch preserve changed mtime");
        assert_eq!(kept.atime(), want, "{h}: touch preserve changed atime");
        assert_eq!(read(&d.join("dir/f.txt")), "hello\n");
        assert_eq!(mode(&d.join("dir/f.txt")), 0o640);
        assert_eq!(fs::read_link(d.join("link")).unwrap(), d.join("dir/f.txt"));
        assert_eq!(
            fs::metadata(d.join("hard")).unwrap().ino(),
            fs::metadata(d.join("dir/f.txt")).unwrap().ino()
        );
        assert!(!d.join("gone").exists());
        assert_eq!(mode(&d.join("sym.txt")), 0o740);
        assert_eq!(mode(&d.join("oct.txt")), 0o600);
        assert_eq!(read(&d.join("a.conf")), "alpha=1\n");
        assert_eq!(mode(&d.join("a.conf")), 0o644);
        assert_eq!(read(&d.join("contents/x.txt")), "x\n");
        assert_eq!(read(&d.join("contents/sub/y.txt")), "y\n");
        assert!(!d.join("contents/tree").exists());
        assert_eq!(read(&d.join("withdir/tree/x.txt")), "x\n");
        assert_eq!(read(&d.join("withdir/tree/sub/y.txt")), "y\n");
        assert_eq!(read(&d.join("bk.txt")), "new content\n");
        let backups = backups_of(&d, "bk.txt");
        assert_eq!(backups.len(), 1, "{h}: one backup, from the first run");
        assert_eq!(read(&backups[0]), "old content\n");
    }
}

#[test]
fn touch_with_a_fixed_timestamp_is_idempotent() {
    let env = Env::new(2);
    let pb = env.write(
        "site.yml",
        play(
            r#"    - file:
        path: "{{ d }}/stamped"
        state: touch
        modification_time: "202001021314.15"
        access_time: "202001021314.15"
"#,
        ),
    );
    twice(&env, &pb);
    for h in env.hosts() {
        let md = fs::metadata(env.host_dir(h).join("stamped")).unwrap();
        let want = chrono_like_epoch("2020-01-02 13:14:15");
        assert_eq!((md.mtime(), md.atime()), (want, want));
    }
}

/// Seconds since the epoch of a local time, through `date(1)` (no time crate needed).
fn chrono_like_epoch(local: &str) -> i64 {
    let out = Command::new("date")
        .args(["-d", local, "+%s"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn template_and_text_edits_converge_and_then_change_nothing() {
    let env = Env::new(2);
    env.seed(
        "sshd.cfg",
        "# header\nPermitRootLogin yes\nPort 22\n#ListenAddress 0.0.0.0\n",
    );
    env.seed("hosts", "127.0.0.1 localhost\n");
    env.seed("ini", "[a]\nkey=1\n[b]\nkey=2\n[c]\nkey=3\n");
    env.seed("names", "user=alice\nuser=bob\n");
    env.write(
        "templates/users.j2",
        "# {{ inventory_hostname }}\n{% for u in users %}\nuser {{ u }}\n{% endfor %}\nend\n",
    );
    env.write(
        "templates/custom.j2",
        "name=[[ app ]] literal={{ keep }}\n[% if true %]\nyes\n[% endif %]\n",
    );
    let pb = env.write(
        "site.yml",
        play(
            r#"    - template: src=users.j2 dest={{ d }}/users.txt mode=0644
      vars:
        users: [alice, bob, carol]
    - template:
        src: custom.j2
        dest: "{{ d }}/custom.txt"
        variable_start_string: "[["
        variable_end_string: "]]"
        block_start_string: "[%"
        block_end_string: "%]"
      vars:
        app: tutti
    - lineinfile: path={{ d }}/sshd.cfg regexp='^PermitRootLogin' line='PermitRootLogin no'
    - lineinfile: path={{ d }}/sshd.cfg line='AddressFamily inet' insertafter='^Port'
    - lineinfile: path={{ d }}/sshd.cfg line='# managed by tutti' insertbefore=BOF
    - lineinfile:
        path: "{{ d }}/sshd.cfg"
        regexp: '^#?ListenAddress (.*)$'
        line: 'ListenAddress \1'
        backrefs: true
    - lineinfile: path={{ d }}/sshd.cfg regexp='^# header' state=absent
    - lineinfile: path={{ d }}/created.cfg line='created=1' create=yes mode=0600
    - blockinfile:
        path: "{{ d }}/hosts"
        marker: "<!-- {mark} tutti -->"
        marker_begin: START
        marker_end: STOP
        block: |
          10.0.0.1 a
          10.0.0.2 b
    - replace:
        path: "{{ d }}/ini"
        regexp: '^key=(\d)$'
        replace: 'value=\1'
        after: '\[b\]'
        before: '\[c\]'
    - replace:
        path: "{{ d }}/names"
        regexp: '^user=(?P<name>[a-z]+)$'
        replace: 'login=\g<name>'
"#,
        ),
    );
    twice(&env, &pb);

    for h in env.hosts() {
        let d = env.host_dir(h);
        assert_eq!(
            read(&d.join("users.txt")),
            format!("# {h}\nuser alice\nuser bob\nuser carol\nend\n"),
            "{h}: trim_blocks leaves no blank lines"
        );
        assert_eq!(mode(&d.join("users.txt")), 0o644);
        assert_eq!(
            read(&d.join("custom.txt")),
            "name=tutti literal={{ keep }}\nyes\n"
        );
        assert_eq!(
            read(&d.join("sshd.cfg")),
            "# managed by tutti\nPermitRootLogin no\nPort 22\nAddressFamily inet\nListenAddress 0.0.0.0\n"
        );
        assert_eq!(read(&d.join("created.cfg")), "created=1\n");
        assert_eq!(mode(&d.join("created.cfg")), 0o600);
        assert_eq!(
            read(&d.join("hosts")),
            "127.0.0.1 localhost\n<!-- START tutti -->\n10.0.0.1 a\n10.0.0.2 b\n<!-- STOP tutti -->\n"
        );
        assert_eq!(
            read(&d.join("ini")),
            "[a]\nkey=1\n[b]\nvalue=2\n[c]\nkey=3\n"
        );
        assert_eq!(read(&d.join("names")), "login=alice\nlogin=bob\n");
    }
}

#[test]
fn stat_fetch_slurp_and_find_report_what_is_on_the_host() {
    let env = Env::new(2);
    env.seed("info.txt", "some info\n");
    env.seed("find/a.log", "old\n");
    env.seed("find/b.log", vec![b'b'; 4096]);
    env.seed("find/c.txt", "c\n");
    env.seed("find/sub/d.log", "d\n");
    for h in env.hosts() {
        let d = env.host_dir(h);
        fs::set_permissions(d.join("info.txt"), fs::Permissions::from_mode(0o640)).unwrap();
        Command::new("touch")
            .args(["-d", "3 days ago"])
            .arg(d.join("find/a.log"))
            .status()
            .unwrap();
    }
    let sha1 = {
        let out = Command::new("sha1sum")
            .arg(env.host_dir("h01").join("info.txt"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let fetched = env.fleet.dir.path().join("fetched");
    let pb = env.write(
        "site.yml",
        play(
            r#"    - stat: path={{ d }}/info.txt
      register: st
    - stat: path={{ d }}/nothing-here
      register: missing
    - debug: var=st.stat.exists
    - debug: var=st.stat.checksum
    - debug: var=st.stat.mode
    - debug: var=missing.stat.exists
    - fetch: src={{ d }}/info.txt dest={{ fetched }}/
    - fetch: src={{ d }}/info.txt dest={{ fetched }}/flat-{{ inventory_hostname }}.txt flat=yes
    - slurp: src={{ d }}/info.txt
      register: sl
    - find: paths={{ d }}/find patterns=*.log
      register: f_plain
    - find: paths={{ d }}/find patterns=*.log recurse=yes
      register: f_rec
    - find: paths={{ d }}/find age=1d recurse=yes
      register: f_age
    - find: paths={{ d }}/find size=1k recurse=yes
      register: f_size
    - assert:
        quiet: true
        that:
          - st.stat.isreg
          - not st.stat.isdir
          - st.stat.size == 10
          - (sl.content | b64decode) == "some info\n"
          - sl.encoding == 'base64'
          - f_plain.matched == 2
          - f_plain.files | map(attribute='path') | map('basename') | sort | list == ['a.log', 'b.log']
          - f_rec.matched == 3
          - f_rec.files | map(attribute='path') | map('basename') | sort | list == ['a.log', 'b.log', 'd.log']
          - f_age.files | map(attribute='path') | map('basename') | list == ['a.log']
          - f_size.files | map(attribute='path') | map('basename') | list == ['b.log']
"#,
        ),
    );
    let extra = format!("fetched={}", fetched.display());
    let hosts = env.hosts();
    let first = env.run(&pb, &["-e", &extra]);
    first.assert_ok(&hosts, |c| c == 2, "first run: the two fetches change");
    let second = env.run(&pb, &["-e", &extra]);
    second.assert_ok(&hosts, |c| c == 0, "second run");

    for h in &hosts {
        for key in [
            "\"st.stat.exists\": true".to_string(),
            format!("\"st.stat.checksum\": \"{sha1}\""),
            "\"st.stat.mode\": \"0640\"".to_string(),
            "\"missing.stat.exists\": false".to_string(),
        ] {
            let want = format!("ok: [{h}] => {{\n    {key}\n}}");
            assert!(second.stdout.contains(&want), "{want}\n{}", second.both());
        }
        let src = env.host_dir(h).join("info.txt");
        let layout = fetched.join(h).join(src.strip_prefix("/").unwrap_or(&src));
        assert_eq!(read(&layout), "some info\n", "dest/<host>/<path>");
        assert_eq!(read(&fetched.join(format!("flat-{h}.txt"))), "some info\n");
    }
}

#[test]
fn assemble_tempfile_script_and_commands_converge_and_then_change_nothing() {
    let env = Env::new(2);
    env.seed("frags/10-a", "A\n");
    env.seed("frags/20-b", "B\n");
    env.seed("old-1.bak", "x");
    env.seed("work/.keep", "");
    env.write(
        "files/mk.sh",
        "#!/bin/sh\nprintf '%s by %s\\n' \"$1\" \"$0\" > \"$2\"\n",
    );
    let pb = env.write(
        "site.yml",
        play(
            r#"    - assemble: src={{ d }}/frags dest={{ d }}/assembled mode=0600
    - tempfile: path={{ d }} suffix=.tmp state=file
      register: tf
      changed_when: false
    - assert:
        quiet: true
        that: [tf.path.startswith(d ~ '/'), tf.path.endswith('.tmp')]
    - script: mk.sh hello {{ d }}/script.out
      args:
        creates: "{{ d }}/script.out"
    - command: touch {{ d }}/gen-1.dat
      args:
        creates: "{{ d }}/gen-*.dat"
    - command: rm {{ d }}/old-1.bak
      args:
        removes: "{{ d }}/old-*.bak"
    - shell: pwd > {{ d }}/here.txt
      args:
        chdir: "{{ d }}/work"
        creates: "{{ d }}/here.txt"
    - command: cat
      args:
        stdin: "fed on stdin"
      register: cat
      changed_when: false
    - shell: echo "bash $BASH_VERSION"
      args:
        executable: /bin/bash
      register: bash
      changed_when: false
    - command:
        argv: [printf, "%s|", "a b", "c"]
      register: argv
      changed_when: false
    - raw: echo raw-{{ inventory_hostname }} > {{ d }}/raw.txt
      changed_when: false
    - assert:
        quiet: true
        that:
          - cat.stdout == 'fed on stdin'
          - bash.stdout is match('bash [0-9]')
          - argv.stdout == 'a b|c|'
"#,
        ),
    );
    let (_, second) = twice(&env, &pb);
    // `creates`/`removes` report why they skipped the command.
    assert!(second.stdout.contains("ok: [h01]"), "{}", second.both());

    for h in env.hosts() {
        let d = env.host_dir(h);
        assert_eq!(read(&d.join("assembled")), "A\nB\n");
        assert_eq!(mode(&d.join("assembled")), 0o600);
        let temps: Vec<PathBuf> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert_eq!(temps.len(), 2, "{h}: one tempfile per run: {temps:?}");
        for t in &temps {
            assert_eq!(mode(t), 0o600);
        }
        let out = read(&d.join("script.out"));
        assert!(out.starts_with("hello by "), "{out}");
        assert!(d.join("gen-1.dat").exists());
        assert!(!d.join("old-1.bak").exists());
        assert_eq!(
            read(&d.join("here.txt")),
            format!("{}\n", d.join("work").display())
        );
        assert_eq!(read(&d.join("raw.txt")), format!("raw-{h}\n"));
    }
}

// ---------------------------------------------------------------------------------------
// 2. Check mode and diffs
// ---------------------------------------------------------------------------------------

const EDITS: &str = r#"    - file: path={{ d }}/conf.d state=directory mode=0755
    - copy:
        dest: "{{ d }}/conf.d/new.conf"
        content: "first=1\nsecond=2\nthird=3\n"
        mode: "0600"
    - template: src=app.j2 dest={{ d }}/app.conf
    - lineinfile: path={{ d }}/main.conf regexp='^port=' line='port=8080'
    - blockinfile:
        path: "{{ d }}/block.conf"
        block: |
          extra=1
          extra=2
    - replace: path={{ d }}/rep.conf regexp='^debug=true$' replace='debug=false'
    - file: path={{ d }}/modes.conf mode=0640
    - copy: content="replaced\n" dest={{ d }}/old.txt
"#;

fn seed_edits(env: &Env) {
    // One file per task, so each diff in check mode is the one the real run shows.
    for f in ["main.conf", "block.conf", "rep.conf", "modes.conf"] {
        env.seed(f, "name=x\nport=80\ndebug=true\n");
    }
    env.seed("old.txt", "original\n");
    env.write(
        "templates/app.j2",
        "host={{ inventory_hostname }}\n{% for i in range(3) %}\nworker{{ i }}\n{% endfor %}\n",
    );
    for h in env.hosts() {
        let d = env.host_dir(h);
        fs::set_permissions(d.join("modes.conf"), fs::Permissions::from_mode(0o644)).unwrap();
    }
}

#[test]
fn check_mode_on_a_fresh_target_changes_no_byte_and_no_mode() {
    let env = Env::new(2);
    seed_edits(&env);
    let pb = env.write("site.yml", play(EDITS));
    let before = manifest(&env.root);
    let check = env.run(&pb, &["--check"]);
    check.assert_ok(&env.hosts(), |c| c == 8, "--check predicts every change");
    assert_eq!(
        manifest(&env.root),
        before,
        "--check changed the target tree: {}",
        check.both()
    );
    for h in env.hosts() {
        assert!(temp_leftovers(&env.host_dir(h)).is_empty());
    }
}

/// The `+`/`-` lines of each diff in a run's output, in order.
fn diff_lines(stdout: &str) -> (Vec<String>, Vec<String>) {
    let mut plus = Vec::new();
    let mut minus = Vec::new();
    for l in stdout.lines() {
        if l.starts_with("+++") || l.starts_with("---") {
            continue;
        }
        if let Some(p) = l.strip_prefix('+') {
            plus.push(p.to_string());
        } else if let Some(m) = l.strip_prefix('-') {
            minus.push(m.to_string());
        }
    }
    (plus, minus)
}

/// `(path, hunk lines)` of every file diff (`+++ after: PATH`) in a run's output.
fn file_diffs(stdout: &str) -> Vec<(PathBuf, Vec<String>)> {
    let mut out: Vec<(PathBuf, Vec<String>)> = Vec::new();
    let mut current: Option<(PathBuf, Vec<String>)> = None;
    for l in stdout.lines() {
        if let Some(rest) = l.strip_prefix("+++ after: ") {
            if let Some(c) = current.take() {
                out.push(c);
            }
            let path = rest.strip_suffix(" (content)").unwrap_or(rest);
            current = Some((PathBuf::from(path), Vec::new()));
        } else if let Some((_, hunks)) = current.as_mut() {
            if l.starts_with("@@")
                || l.starts_with(' ')
                || l.starts_with('+')
                || l.starts_with('-')
                || l.starts_with('\\')
            {
                hunks.push(l.to_string());
            } else {
                out.extend(current.take());
            }
        }
    }
    out.extend(current);
    out
}

/// Applies unified-diff hunks to `before` (whole lines, each ending in a newline).
fn patch(before: &str, hunks: &[String]) -> String {
    let old: Vec<&str> = before.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut pos = 0usize;
    for l in hunks {
        if let Some(spec) = l.strip_prefix("@@ -") {
            let range = spec.split_whitespace().next().unwrap();
            let (start, len) = match range.split_once(',') {
                Some((a, b)) => (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap()),
                None => (range.parse::<usize>().unwrap(), 1),
            };
            let at = if len == 0 { start } else { start - 1 };
            out.extend(old[pos..at].iter().map(|s| s.to_string()));
            pos = at;
        } else if let Some(ctx) = l.strip_prefix(' ') {
            assert_eq!(
                old.get(pos),
                Some(&ctx),
                "context line {l:?} does not match"
            );
            out.push(ctx.to_string());
            pos += 1;
        } else if let Some(gone) = l.strip_prefix('-') {
            assert_eq!(
                old.get(pos),
                Some(&gone),
                "removed line {l:?} does not match"
            );
            pos += 1;
        } else if let Some(new) = l.strip_prefix('+') {
            out.push(new.to_string());
        }
    }
    out.extend(old[pos..].iter().map(|s| s.to_string()));
    out.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn check_diff_prints_the_diff_the_real_run_applies() {
    let env = Env::new(1);
    seed_edits(&env);
    let pb = env.write("site.yml", play(EDITS));
    let d = env.host_dir("h01");
    let check = env.run(&pb, &["--check", "--diff"]);
    check.assert_ok(&["h01"], |c| c == 8, "--check --diff");
    assert_eq!(read(&d.join("main.conf")), "name=x\nport=80\ndebug=true\n");
    assert!(check.stdout.contains("@@ "), "no hunks: {}", check.both());

    let before: BTreeMap<PathBuf, String> = manifest(&d)
        .into_iter()
        .map(|(rel, ..)| d.join(rel))
        .filter(|p| p.is_file())
        .map(|p| {
            let text = read(&p);
            (p, text)
        })
        .collect();
    let real = env.run(&pb, &["--diff"]);
    real.assert_ok(&["h01"], |c| c == 8, "the real run");
    // The diff check mode predicted is exactly the diff the real run reports.
    let hunks = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with('+') || l.starts_with('-') || l.starts_with("@@"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        hunks(&check.stdout),
        hunks(&real.stdout),
        "check diff vs real diff:\n{}\n{}",
        check.both(),
        real.both()
    );

    // Each file diff of the check run, applied to the file as it was before the real run,
    // gives exactly the file the real run wrote.
    let (plus, minus) = diff_lines(&check.stdout);
    let diffs = file_diffs(&check.stdout);
    let paths: Vec<&PathBuf> = diffs.iter().map(|(p, _)| p).collect();
    assert_eq!(diffs.len(), 6, "file diffs: {paths:?}\n{}", check.both());
    for (path, hunks) in &diffs {
        let before = before.get(path).cloned().unwrap_or_default();
        let after = read(path);
        assert_eq!(
            patch(&before, hunks),
            after,
            "the check diff of {} is not what the real run applied",
            path.display()
        );
    }
    // The new file's diff is the whole file, and the template's too.
    for line in [
        "first=1", "second=2", "third=3", "host=h01", "worker0", "worker2",
    ] {
        assert!(
            plus.iter().any(|p| p == line),
            "+{line} missing: {}",
            check.both()
        );
    }
    for line in ["port=8080", "extra=1", "extra=2", "debug=false", "replaced"] {
        assert!(
            plus.iter().any(|p| p == line),
            "+{line} missing: {}",
            check.both()
        );
    }
    for line in ["port=80", "debug=true", "original"] {
        assert!(
            minus.iter().any(|m| m == line),
            "-{line} missing: {}",
            check.both()
        );
    }
    assert_eq!(
        read(&d.join("main.conf")),
        "name=x\nport=8080\ndebug=true\n"
    );
    assert_eq!(
        read(&d.join("block.conf")),
        "name=x\nport=80\ndebug=true\n# BEGIN ANSIBLE MANAGED BLOCK\nextra=1\nextra=2\n# END ANSIBLE MANAGED BLOCK\n"
    );
    assert_eq!(read(&d.join("rep.conf")), "name=x\nport=80\ndebug=false\n");
    assert_eq!(mode(&d.join("modes.conf")), 0o640);
}

// ---------------------------------------------------------------------------------------
// 3. Atomic writes
// ---------------------------------------------------------------------------------------

#[test]
fn failing_validate_leaves_the_destination_untouched() {
    let env = Env::new(2);
    env.seed("v1.conf", "old v1\n");
    env.seed("v2.conf", "old v2\n");
    env.seed("v3.conf", "keep=1\n");
    let pb = env.write(
        "site.yml",
        play(
            r#"    - copy: content="new v1\n" dest={{ d }}/v1.conf validate='/bin/false %s'
      ignore_errors: true
    - template: src=t.j2 dest={{ d }}/v2.conf validate='grep -q never %s'
      ignore_errors: true
    - lineinfile: path={{ d }}/v3.conf line='added=1' validate='grep -q never %s'
      ignore_errors: true
"#,
        ),
    );
    env.write("templates/t.j2", "new v2\n");
    let before = manifest(&env.root);
    let run = env.run(&pb, &[]);
    run.assert_sane();
    assert_eq!(run.code, Some(0), "ignored failures: {}", run.both());
    let recap = run.recap();
    for h in env.hosts() {
        assert_eq!(recap[h]["ignored"], 3, "{}", run.both());
        assert_eq!(recap[h]["changed"], 0, "{}", run.both());
        assert_eq!(
            run.stdout
                .matches(&format!("fatal: [{h}]: FAILED!"))
                .count(),
            3,
            "{}",
            run.both()
        );
        assert!(temp_leftovers(&env.host_dir(h)).is_empty());
    }
    assert_eq!(
        run.stdout
            .matches("\"msg\": \"failed to validate\"")
            .count(),
        6,
        "{}",
        run.both()
    );
    assert_eq!(
        manifest(&env.root),
        before,
        "validate failure wrote: {}",
        run.both()
    );
}

#[test]
fn backup_names_match_ansible_and_hold_the_old_content() {
    let env = Env::new(1);
    env.seed("b.conf", "one\n");
    env.seed("l.conf", "a=1\n");
    let pb = env.write(
        "site.yml",
        play(
            r#"    - copy: content="{{ body }}" dest={{ d }}/b.conf backup=yes
      register: c
    - lineinfile: path={{ d }}/l.conf regexp='^a=' line='a={{ body | trim }}' backup=yes
      register: l
    - debug: msg="{{ c.backup_file }} {{ l.backup }}"
"#,
        ),
    );
    let d = env.host_dir("h01");
    let r = env.run(&pb, &["-e", r#"{"body": "two\n"}"#]);
    r.assert_ok(&["h01"], |c| c == 2, "first backup");
    let b = backups_of(&d, "b.conf");
    assert_eq!(
        b.len(),
        1,
        "{:?}",
        fs::read_dir(&d).unwrap().collect::<Vec<_>>()
    );
    assert_eq!(read(&b[0]), "one\n");
    let l = backups_of(&d, "l.conf");
    assert_eq!(l.len(), 1);
    assert_eq!(read(&l[0]), "a=1\n");
    // The registered `backup_file` is the file on disk.
    assert!(
        r.stdout
            .contains(&format!("{} {}", b[0].display(), l[0].display())),
        "{}",
        r.both()
    );
    assert_eq!(read(&d.join("b.conf")), "two\n");

    // Different content a second later: a second backup with the intermediate content.
    thread::sleep(Duration::from_millis(1100));
    let r = env.run(&pb, &["-e", r#"{"body": "three\n"}"#]);
    r.assert_ok(&["h01"], |c| c == 2, "second backup");
    let b = backups_of(&d, "b.conf");
    assert_eq!(b.len(), 2);
    let mut contents: Vec<String> = b.iter().map(|p| read(p)).collect();
    contents.sort();
    assert_eq!(contents, ["one\n", "two\n"]);
}

/// Polls until a `.tutti.*` temp file in `dir` holds at least `min` bytes (or `limit`).
fn wait_for_temp(dir: &Path, min: u64, limit: Duration) -> Option<u64> {
    let start = Instant::now();
    while start.elapsed() < limit {
        for e in fs::read_dir(dir).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with(".tutti.")
                && let Ok(md) = e.metadata()
                && md.len() >= min
            {
                return Some(md.len());
            }
        }
        thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
fn sigkill_during_a_large_copy_leaves_the_old_file_or_the_new_one() {
    let env = Env::new(1);
    let d = env.host_dir("h01");
    let big = env.fleet.dir.path().join("big.bin");
    let st = Command::new("head")
        .args(["-c", "300M", "/dev/urandom"])
        .stdout(fs::File::create(&big).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    let dest = d.join("big.bin");
    fs::write(&dest, "the old content\n").unwrap();
    let old_sum = sha256_file(&dest);
    let new_sum = sha256_file(&big);
    let pb = env.write(
        "site.yml",
        play("    - copy: src={{ big }} dest={{ d }}/big.bin\n"),
    );
    let mut child = env
        .command(&pb, &["-e", &format!("big={}", big.display())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once some of the new content has reached the temp file next to dest.
    let seen = wait_for_temp(&d, 8 << 20, Duration::from_secs(20));
    if seen.is_none() {
        thread::sleep(Duration::from_millis(500));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.code().is_none(),
        "tutti finished before the kill ({status}); the copy was too fast to interrupt"
    );
    // The host side notices the dead connection; give it time to finish what it does then.
    thread::sleep(Duration::from_secs(2));
    let now = sha256_file(&dest);
    let size = fs::metadata(&dest).unwrap().len();
    assert!(
        now == old_sum || now == new_sum,
        "the destination is a mix: {size} bytes, neither the old (16 bytes) nor the new \
         (314572800 bytes) content (temp file had {seen:?} bytes when killed)"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Binary, large and non-UTF-8 content
// ---------------------------------------------------------------------------------------

#[test]
fn binary_content_copies_byte_exact() {
    let env = Env::new(2);
    let data: Vec<u8> = (0..64u32)
        .flat_map(|round| (0..=255u8).map(move |b| b.wrapping_add(round as u8)))
        .collect();
    env.write("files/all-bytes.bin", &data);
    let pb = env.write(
        "site.yml",
        play(
            r#"    - copy: src=all-bytes.bin dest={{ d }}/all-bytes.bin
    - fetch: src={{ d }}/all-bytes.bin dest={{ back }}/{{ inventory_hostname }}.bin flat=yes
"#,
        ),
    );
    let back = env.fleet.dir.path().join("back");
    let extra = format!("back={}", back.display());
    let hosts = env.hosts();
    let r = env.run(&pb, &["-e", &extra]);
    r.assert_ok(&hosts, |c| c == 2, "binary copy");
    for h in &hosts {
        assert!(fs::read(env.host_dir(h).join("all-bytes.bin")).unwrap() == data);
        assert!(fs::read(back.join(format!("{h}.bin"))).unwrap() == data);
    }
    let r = env.run(&pb, &["-e", &extra]);
    r.assert_ok(&hosts, |c| c == 0, "binary copy again");
}

/// Copies a sparse file of `size` bytes and returns tutti's peak RSS in KiB.
fn large_copy_peak_rss(size: &str) -> u64 {
    let env = Env::new(1);
    let big = env.fleet.dir.path().join("large.bin");
    let st = Command::new("truncate")
        .args(["-s", size])
        .arg(&big)
        .status()
        .unwrap();
    assert!(st.success());
    // A few non-zero bytes so a wrong offset shows in the checksum.
    {
        let mut f = fs::OpenOptions::new().write(true).open(&big).unwrap();
        f.write_all(b"start").unwrap();
    }
    let pb = env.write(
        "site.yml",
        play("    - copy: src={{ big }} dest={{ d }}/large.bin\n"),
    );
    let rss_file = env.fleet.dir.path().join("rss");
    let inner = env.command(&pb, &["-e", &format!("big={}", big.display())]);
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f").arg("%M").arg("-o").arg(&rss_file);
    cmd.arg(inner.get_program()).args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.current_dir(env.fleet.dir.path()).stdin(Stdio::null());
    let started = Instant::now();
    let out = cmd
        .output()
        .expect("/usr/bin/time (tests/run.sh installs it)");
    let run = Run::from_output(&out);
    run.assert_ok(&["h01"], |c| c == 1, "large copy");
    eprintln!("copy of {size} took {:?}", started.elapsed());
    let dest = env.host_dir("h01").join("large.bin");
    assert_eq!(
        fs::metadata(&dest).unwrap().len(),
        fs::metadata(&big).unwrap().len()
    );
    assert_eq!(sha256_file(&dest), sha256_file(&big));
    read(&rss_file)
        .trim()
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap()
}

/// About 10 s here (a sparse source, so the controller's disk is not the bottleneck); the
/// controller streams the file, so its peak RSS stays far below the file's size.
#[test]
fn a_1_gib_copy_runs_in_bounded_controller_memory() {
    let kib = large_copy_peak_rss("1G");
    eprintln!("peak RSS of tutti for a 1 GiB copy: {kib} KiB");
    assert!(kib < 200 * 1024, "peak RSS {kib} KiB for a 1 GiB copy");
}

/// Latin-1 and broken sequences on lines that are not edited, and on an edited line.
const NON_UTF8: &[u8] = b"caf\xe9=1\nport=80\n\xff\xfe raw \x80\nmode=\xe9t\xe9\n";
/// `NON_UTF8` after the edits of `NON_UTF8_EDITS`.
const NON_UTF8_EDITED: &[u8] = b"caf\xe9=1\nport=8080\n\xff\xfe raw \x80\n# mode=\xe9t\xe9\n";

fn assert_bytes(path: &Path, want: &[u8]) {
    let got = fs::read(path).unwrap();
    assert!(
        got == want,
        "{}: {:?}, want {:?}",
        path.display(),
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(want)
    );
}

#[test]
fn non_utf8_content_survives_line_edits() {
    let env = Env::new(1);
    let d = env.host_dir("h01");
    // A non-UTF-8 name next to the edited file must stay as it is.
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.conf");
    fs::write(d.join(name), NON_UTF8).unwrap();
    fs::write(d.join("plain.conf"), NON_UTF8).unwrap();
    let pb = env.write(
        "site.yml",
        play(
            r#"    - lineinfile: path={{ d }}/plain.conf regexp='^port=' line='port=8080'
    - replace: path={{ d }}/plain.conf regexp='^mode=(.*)$' replace='# mode=\1'
    - lineinfile: path={{ d }}/plain.conf regexp='^caf' line='never written' state=present
      check_mode: true
      diff: true
"#,
        ),
    );
    let r = env.run(&pb, &[]);
    r.assert_ok(&["h01"], |c| c == 3, "non-UTF-8 edits");
    assert_bytes(&d.join("plain.conf"), NON_UTF8_EDITED);
    assert_bytes(&d.join(name), NON_UTF8);
    let mut names: Vec<Vec<u8>> = fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().as_bytes().to_vec())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [b"caf\xe9.conf".to_vec(), b"plain.conf".to_vec()],
        "no stray files"
    );
    let r = env.run(&pb, &[]);
    r.assert_ok(
        &["h01"],
        |c| c == 1,
        "non-UTF-8 edits again (only the check_mode task)",
    );
    assert_bytes(&d.join("plain.conf"), NON_UTF8_EDITED);
}

#[test]
fn non_utf8_names_from_find_can_be_edited() {
    let env = Env::new(1);
    let d = env.host_dir("h01");
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.conf");
    fs::write(d.join(name), NON_UTF8).unwrap();
    let pb = env.write(
        "site.yml",
        play(
            r#"    - find: paths={{ d }} patterns='caf*.conf'
      register: found
    - lineinfile: path={{ found.files[0].path }} regexp='^port=' line='port=8080'
    - replace: path={{ found.files[0].path }} regexp='^mode=(.*)$' replace='# mode=\1'
"#,
        ),
    );
    let r = env.run(&pb, &[]);
    r.assert_ok(&["h01"], |c| c == 2, "edits of a non-UTF-8 name");
    assert_bytes(&d.join(name), NON_UTF8_EDITED);
    assert_eq!(fs::read_dir(&d).unwrap().count(), 1, "no stray files");
}

// ---------------------------------------------------------------------------------------
// 5. Failure modes
// ---------------------------------------------------------------------------------------

/// The `fatal: [host]: FAILED! => ...` block of the task named `name` for `host`.
fn fatal_for<'a>(stdout: &'a str, name: &str, host: &str) -> &'a str {
    let banner = format!("TASK [{name}]");
    let at = stdout
        .find(&banner)
        .unwrap_or_else(|| panic!("no task {name}: {stdout}"));
    let rest = &stdout[at..];
    let end = rest[banner.len()..]
        .find("TASK [")
        .or_else(|| rest.find("PLAY RECAP"))
        .map(|e| e + banner.len())
        .unwrap_or(rest.len());
    let block = &rest[..end];
    let marker = format!("fatal: [{host}]: FAILED! =>");
    let i = block
        .find(&marker)
        .unwrap_or_else(|| panic!("{name}: no FAILED for {host}: {block}"));
    &block[i..]
}

#[test]
fn failures_are_per_host_with_the_path() {
    let env = Env::new(2);
    for h in env.hosts() {
        let d = env.host_dir(h);
        fs::create_dir(d.join("rootonly")).unwrap();
        fs::set_permissions(d.join("rootonly"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::create_dir(d.join("rootro")).unwrap();
        fs::set_permissions(d.join("rootro"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(d.join("afile"), "f").unwrap();
    }
    // The fleet root and its host dirs must be traversable by nobody.
    for p in [env.fleet.dir.path(), env.root.as_path()] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    for h in env.hosts() {
        fs::set_permissions(env.host_dir(h), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dangling = env.fleet.dir.path().join("dangling");
    symlink(env.fleet.dir.path().join("no-such-target"), &dangling).unwrap();

    env.write("templates/t.j2", "t\n");
    let tasks = String::from(
        r#"    - name: permission denied
      copy: content="x\n" dest={{ d }}/rootro/f.txt
      become: true
      become_user: nobody
      ignore_errors: true
    - name: permission denied to stat
      copy: content="x\n" dest={{ d }}/rootonly/f.txt
      become: true
      become_user: nobody
      ignore_errors: true
    - name: missing parent
      copy: content="x\n" dest={{ d }}/no/such/dir/f.txt
      ignore_errors: true
    - name: not a directory
      copy: content="x\n" dest={{ d }}/afile/f.txt
      ignore_errors: true
    - name: dangling src
      copy: src={{ dangling }} dest={{ d }}/from-dangling
      ignore_errors: true
    - name: lineinfile under a file
      lineinfile: path={{ d }}/afile/sub/l.conf line=x create=yes
      ignore_errors: true
    - name: template into a missing parent
      template: src=t.j2 dest={{ d }}/no/such/dir/t.conf
      ignore_errors: true
"#,
    );
    let pb = env.write("site.yml", play(&tasks));
    let r = env.run(&pb, &["-e", &format!("dangling={}", dangling.display())]);
    r.assert_sane();
    assert_eq!(r.code, Some(0), "every failure is ignored: {}", r.both());
    let recap = r.recap();
    for h in env.hosts() {
        let d = env.host_dir(h);
        let rc = &recap[h];
        assert_eq!(rc["ignored"], 7, "{h}: {}", r.both());
        assert_eq!(rc["unreachable"], 0);
        let cases = [
            ("permission denied", d.join("rootro").display().to_string()),
            (
                "permission denied to stat",
                d.join("rootonly").display().to_string(),
            ),
            (
                "missing parent",
                d.join("no/such/dir").display().to_string(),
            ),
            ("not a directory", d.join("afile").display().to_string()),
            ("dangling src", dangling.display().to_string()),
            (
                "lineinfile under a file",
                d.join("afile").display().to_string(),
            ),
            (
                "template into a missing parent",
                d.join("no/such/dir").display().to_string(),
            ),
        ];
        for (task, path) in cases {
            let block = fatal_for(&r.stdout, task, h);
            assert!(block.contains(&path), "{task}: {path} not in: {block}");
        }
        assert!(!d.join("rootonly/f.txt").exists());
        assert!(!d.join("rootro/f.txt").exists());
        assert!(temp_leftovers(&d.join("rootro")).is_empty());
        assert!(!d.join("no").exists());
    }
}

/// Unmounts what the test mounted, even when it fails.
struct Unmount(Vec<PathBuf>);

impl Drop for Unmount {
    fn drop(&mut self) {
        for m in &self.0 {
            let _ = Command::new("umount").arg(m).status();
        }
    }
}

#[test]
fn disk_full_is_a_per_host_failure_with_the_path() {
    let env = Env::new(2);
    // A 1 MiB tmpfs per host, when mounting is allowed here.
    let mut mounted = Unmount(Vec::new());
    for h in env.hosts() {
        let m = env.host_dir(h).join("small");
        fs::create_dir(&m).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&m)
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!(
                "disk_full_is_a_per_host_failure_with_the_path: `mount -t tmpfs` is not \
                 permitted here ({}); the disk-full case is not checked",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return;
        }
        mounted.0.push(m);
    }
    env.seed("small/keep.conf", "kept\n");
    env.write("files/big.bin", vec![7u8; 3 << 20]);
    let pb = env.write(
        "site.yml",
        play(
            r#"    - name: disk full
      copy: src=big.bin dest={{ d }}/small/keep.conf
"#,
        ),
    );
    let r = env.run(&pb, &[]);
    r.assert_sane();
    assert_eq!(r.code, Some(2), "{}", r.both());
    for h in env.hosts() {
        let d = env.host_dir(h);
        assert_eq!(r.recap()[h]["failed"], 1, "{}", r.both());
        let block = fatal_for(&r.stdout, "disk full", h);
        let path = d.join("small").display().to_string();
        assert!(block.contains(&path), "disk full: {path} not in: {block}");
        assert!(block.contains("No space left on device"), "{block}");
        assert_eq!(read(&d.join("small/keep.conf")), "kept\n");
        assert!(
            temp_leftovers(&d.join("small")).is_empty(),
            "a temp file is left on the full disk"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 6. get_url and uri against a local HTTP server
// ---------------------------------------------------------------------------------------

/// One recorded request: method, path, body.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// A tiny HTTP/1.1 server on 127.0.0.1: `/file.txt`, `/api` (JSON), `POST /echo`,
/// anything else 404. Each connection serves one request.
fn http_server() -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let log = log.clone();
            thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let path = parts.next().unwrap_or("").to_string();
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; len];
                let _ = reader.read_exact(&mut body);
                let body = String::from_utf8_lossy(&body).into_owned();
                log.lock()
                    .unwrap()
                    .push((method.clone(), path.clone(), body.clone()));
                let (status, ctype, resp) = match (method.as_str(), path.as_str()) {
                    ("GET", "/file.txt") => ("200 OK", "text/plain", "downloaded\n".to_string()),
                    ("GET", "/api") => (
                        "200 OK",
                        "application/json",
                        r#"{"name": "tutti", "n": 3}"#.to_string(),
                    ),
                    ("POST", "/echo") => ("201 Created", "application/json", body),
                    _ => ("404 Not Found", "text/plain", "nope\n".to_string()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nX-Test: yes\r\nConnection: close\r\n\r\n{resp}",
                    resp.len()
                );
            });
        }
    });
    (port, seen)
}

#[test]
fn get_url_and_uri_against_a_local_server() {
    let env = Env::new(2);
    let (port, seen) = http_server();
    let pb = env.write(
        "site.yml",
        play(
            r#"    - get_url: url={{ base }}/file.txt dest={{ d }}/file.txt mode=0640
    - name: checksum mismatch
      get_url:
        url: "{{ base }}/file.txt"
        dest: "{{ d }}/bad.txt"
        checksum: "sha256:0000000000000000000000000000000000000000000000000000000000000000"
      ignore_errors: true
    - uri:
        url: "{{ base }}/api"
        return_content: true
        status_code: [200, 203]
      register: api
    - uri:
        url: "{{ base }}/echo"
        method: POST
        body_format: json
        body: {a: 1, who: "{{ inventory_hostname }}"}
        status_code: 201
      register: echo
    - name: not found
      uri: url={{ base }}/missing
      ignore_errors: true
    - assert:
        quiet: true
        that:
          - api.status == 200
          - api.json.name == 'tutti'
          - api.json.n == 3
          - "'tutti' in api.content"
          - api.x_test == 'yes'
          - api.content_type == 'application/json'
          - echo.status == 201
          - echo.json.who == inventory_hostname
"#,
        ),
    );
    let base = format!("base=http://127.0.0.1:{port}");
    let hosts = env.hosts();
    let first = env.run(&pb, &["-e", &base]);
    first.assert_sane();
    assert_eq!(first.code, Some(0), "{}", first.both());
    let second = env.run(&pb, &["-e", &base]);
    second.assert_sane();
    assert_eq!(second.code, Some(0), "{}", second.both());
    for h in &hosts {
        assert_eq!(
            first.recap()[*h]["changed"],
            1,
            "get_url downloads: {}",
            first.both()
        );
        assert_eq!(first.recap()[*h]["ignored"], 2, "{}", first.both());
        assert_eq!(
            second.recap()[*h]["changed"],
            0,
            "get_url does not download again: {}",
            second.both()
        );
        let d = env.host_dir(h);
        assert_eq!(read(&d.join("file.txt")), "downloaded\n");
        assert_eq!(mode(&d.join("file.txt")), 0o640);
        assert!(
            !d.join("bad.txt").exists(),
            "a mismatched download was kept"
        );
        assert!(temp_leftovers(&d).is_empty());
        for run in [&first, &second] {
            let block = fatal_for(&run.stdout, "checksum mismatch", h);
            assert!(block.to_lowercase().contains("checksum"), "{block}");
            let block = fatal_for(&run.stdout, "not found", h);
            assert!(block.contains("404"), "{block}");
        }
    }
    let seen = seen.lock().unwrap();
    let posts: Vec<serde_json::Value> = seen
        .iter()
        .filter(|(m, p, _)| m == "POST" && p == "/echo")
        .map(|(_, _, b)| serde_json::from_str(b).unwrap())
        .collect();
    assert_eq!(posts.len(), 4, "{seen:?}");
    assert!(posts.iter().all(|p| p["a"] == 1), "{posts:?}");
}
