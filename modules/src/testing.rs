//! Test support for modules: [`FakeHost`], an in-memory host with scripted
//! command replies and a set of existing paths, and [`check_then_apply`],
//! the shared harness that asserts DESIGN.md §3's invariants for any
//! module: check makes no writes, apply changes exactly when check planned
//! a change, and a second check after apply is in sync.
//!
//! The host also has an in-memory filesystem ([`FakeFs`]) behind the
//! file operations of [`crate::fs`] (`stat`, `read`, `write_atomic`, ...):
//! build it with [`FakeHost::with_file`], [`FakeHost::with_dir`],
//! [`FakeHost::with_symlink`], [`FakeHost::with_node`], inspect it with
//! [`FakeHost::file`] and [`FakeHost::node`]. Reads are logged as probes,
//! writes as runs (with the command the real connection would get), so
//! "check makes no writes" covers the filesystem too.
//!
//! Compiled for this crate's tests and, with the `testing` feature, for
//! other crates' tests. Panics are the point here: they fail the test.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde_json::Value;

use crate::cmd::Cmd;
use crate::commands::run::GLOB_PROBE_SCRIPT;
use crate::fs::{Attrs, Content, FileStat, StatOpts, TimeSpec, WriteOpts, WriteResult};
use crate::host::{Host, HostError, HostRead, Output};

mod fakefs;
use crate::module::{Args, Module, ModuleError, ParamError};
use crate::plan::{Applied, Plan};
pub use fakefs::{Errno, FakeFs, FakeKind, FakeNode, dir_of};

/// Module arguments from a JSON object literal (`json!({"cmd": "ls"})`);
/// anything else gives empty arguments.
pub fn args(v: Value) -> Args {
    match v {
        Value::Object(m) => m,
        _ => Args::new(),
    }
}

/// Which door a command came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// [`HostRead::probe`]: must not change the host.
    Probe,
    /// [`Host::run`]: may change the host.
    Run,
}

/// One command the host was asked to run.
#[derive(Debug, Clone)]
pub struct Call {
    pub via: Via,
    pub cmd: Cmd,
    /// `cmd.render()`, the string matchers see.
    pub rendered: String,
}

/// Which commands a scripted [`Reply`] answers.
#[derive(Clone)]
pub enum Matcher {
    /// The rendered command equals this string.
    Exact(String),
    /// The rendered command starts with this string.
    Prefix(String),
    /// The rendered command contains this string.
    Contains(String),
    /// Any test on the command itself (argv, stdin, `is_raw`, ...).
    Custom(Arc<dyn Fn(&Cmd) -> bool + Send + Sync>),
}

impl Matcher {
    pub fn exact(s: impl Into<String>) -> Self {
        Matcher::Exact(s.into())
    }

    pub fn prefix(s: impl Into<String>) -> Self {
        Matcher::Prefix(s.into())
    }

    pub fn contains(s: impl Into<String>) -> Self {
        Matcher::Contains(s.into())
    }

    pub fn custom(f: impl Fn(&Cmd) -> bool + Send + Sync + 'static) -> Self {
        Matcher::Custom(Arc::new(f))
    }

    /// Whether this matcher answers `cmd`, rendered as `rendered`.
    pub fn matches(&self, cmd: &Cmd, rendered: &str) -> bool {
        match self {
            Matcher::Exact(s) => rendered == s,
            Matcher::Prefix(s) => rendered.starts_with(s.as_str()),
            Matcher::Contains(s) => rendered.contains(s.as_str()),
            Matcher::Custom(f) => f(cmd),
        }
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "Exact({s:?})"),
            Matcher::Prefix(s) => write!(f, "Prefix({s:?})"),
            Matcher::Contains(s) => write!(f, "Contains({s:?})"),
            Matcher::Custom(_) => write!(f, "Custom(..)"),
        }
    }
}

/// A `&str` matches exactly.
impl From<&str> for Matcher {
    fn from(s: &str) -> Self {
        Matcher::exact(s)
    }
}

/// What the host answers, and how a `run` (never a probe) changes its
/// fake filesystem.
#[derive(Debug, Clone)]
pub struct Reply {
    pub result: Result<Output, HostError>,
    /// Paths that exist after a `run` matched this reply.
    pub adds: Vec<String>,
    /// Paths (and everything under them) gone after a `run`.
    pub removes: Vec<String>,
}

impl Reply {
    /// Exit status 0 with this stdout.
    pub fn ok(stdout: impl Into<Vec<u8>>) -> Self {
        Reply::output(0, stdout, Vec::new())
    }

    /// Any exit status and output.
    pub fn output(rc: i32, stdout: impl Into<Vec<u8>>, stderr: impl Into<Vec<u8>>) -> Self {
        Reply {
            result: Ok(Output {
                rc,
                stdout: stdout.into(),
                stderr: stderr.into(),
            }),
            adds: Vec::new(),
            removes: Vec::new(),
        }
    }

    /// The command could not be run (unreachable, timeout, ...).
    pub fn error(e: HostError) -> Self {
        Reply {
            result: Err(e),
            adds: Vec::new(),
            removes: Vec::new(),
        }
    }

    /// After a `run`, `path` exists.
    pub fn adds(mut self, path: impl Into<String>) -> Self {
        self.adds.push(path.into());
        self
    }

    /// After a `run`, `path` and everything under it no longer exist.
    pub fn removes(mut self, path: impl Into<String>) -> Self {
        self.removes.push(path.into());
        self
    }
}

struct State {
    replies: Vec<(Matcher, Reply)>,
    default: Reply,
    down: Option<HostError>,
    paths: BTreeSet<String>,
    home: String,
    cwd: String,
    calls: Vec<Call>,
    fs: FakeFs,
}

/// An in-memory host. Replies are tried in the order they were added; the
/// first match answers, else the default reply (rc 0, no output). The
/// `creates`/`removes` glob probe is answered from the set of paths,
/// unless a scripted reply matches it first.
pub struct FakeHost {
    state: Mutex<State>,
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost::new()
    }
}

impl FakeHost {
    /// A host with no paths but `/`, home and working directory `/root`.
    pub fn new() -> Self {
        FakeHost {
            state: Mutex::new(State {
                replies: Vec::new(),
                default: Reply::ok(Vec::new()),
                down: None,
                paths: BTreeSet::new(),
                home: "/root".into(),
                cwd: "/root".into(),
                calls: Vec::new(),
                fs: FakeFs::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread poisons the lock; the state is still fine.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a scripted reply.
    pub fn on(self, matcher: impl Into<Matcher>, reply: Reply) -> Self {
        self.lock().replies.push((matcher.into(), reply));
        self
    }

    /// Replaces the reply for commands no matcher answers.
    pub fn default_reply(self, reply: Reply) -> Self {
        self.lock().default = reply;
        self
    }

    /// Makes every call fail with `e`, as a host that went away.
    pub fn down(self, e: HostError) -> Self {
        self.lock().down = Some(e);
        self
    }

    /// Adds an existing path (its parent directories exist implicitly).
    pub fn with_path(self, path: impl Into<String>) -> Self {
        self.add_path(path);
        self
    }

    /// Sets `~` for the glob probe.
    pub fn with_home(self, home: impl Into<String>) -> Self {
        self.lock().home = home.into();
        self
    }

    /// Sets the directory relative paths start from when no `chdir` is given.
    pub fn with_cwd(self, cwd: impl Into<String>) -> Self {
        self.lock().cwd = cwd.into();
        self
    }

    pub fn add_path(&self, path: impl Into<String>) {
        let p = normalize(&path.into());
        self.lock().paths.insert(p);
    }

    /// Removes `path` and everything under it.
    pub fn remove_path(&self, path: &str) {
        remove_tree(&mut self.lock().paths, &normalize(path));
    }

    /// Whether `path` exists: added, or a parent directory of one added,
    /// or in the filesystem (a dangling symlink counts).
    pub fn exists(&self, path: &str) -> bool {
        let st = self.lock();
        let cwd = st.cwd.clone();
        exists_in(&st.paths, &normalize(&absolute(path, &cwd)))
            || st.fs.lookup(path, &cwd, false).is_some()
    }

    /// Adds a regular file (mode 0644, root:root), creating missing parent
    /// directories (0755).
    pub fn with_file(self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.with_node(path, FakeNode::file(content))
    }

    /// Adds a directory (0755), and its missing parents.
    pub fn with_dir(self, path: &str) -> Self {
        self.with_node(path, FakeNode::dir())
    }

    /// Adds a symlink to `target` (which need not exist).
    pub fn with_symlink(self, path: &str, target: &str) -> Self {
        self.with_node(path, FakeNode::symlink(target))
    }

    /// Adds any inode (see [`FakeNode`]'s builders for mode and owner).
    pub fn with_node(self, path: &str, node: FakeNode) -> Self {
        self.lock().fs.put(path, node);
        self
    }

    /// Adds a hard link `path` to the existing `target`.
    pub fn with_hardlink(self, path: &str, target: &str) -> Self {
        {
            let mut st = self.lock();
            let cwd = st.cwd.clone();
            let _ = st.fs.link(false, target, path, &cwd, true);
        }
        self
    }

    /// Adds a user for owner names.
    pub fn with_user(self, name: &str, uid: u32) -> Self {
        self.lock().fs.users.insert(name.into(), uid);
        self
    }

    /// Adds a group for group names.
    pub fn with_group(self, name: &str, gid: u32) -> Self {
        self.lock().fs.groups.insert(name.into(), gid);
        self
    }

    /// Sets the umask new files and directories get (default 0022).
    pub fn with_umask(self, umask: u32) -> Self {
        self.lock().fs.umask = umask;
        self
    }

    /// Sets the clock (seconds since the epoch) for new times and backups.
    pub fn with_now(self, now: f64) -> Self {
        self.lock().fs.now = now;
        self
    }

    /// Creating files in `dir` fails with permission denied.
    pub fn with_read_only_dir(self, dir: &str) -> Self {
        self.lock().fs.read_only.insert(normalize(dir));
        self
    }

    /// Reading `path` fails with permission denied.
    pub fn with_unreadable(self, path: &str) -> Self {
        self.lock().fs.unreadable.insert(normalize(path));
        self
    }

    /// Writing file content fails with "No space left on device".
    pub fn with_disk_full(self) -> Self {
        self.lock().fs.disk_full = true;
        self
    }

    /// Advances the clock.
    pub fn tick(&self, secs: f64) {
        self.lock().fs.now += secs;
    }

    /// The content of the regular file at `path` (following symlinks).
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        let st = self.lock();
        match st.fs.lookup(path, &st.cwd, true).map(|n| &n.kind) {
            Some(FakeKind::File(b)) => Some(b.clone()),
            _ => None,
        }
    }

    /// The inode at `path`, not following a final symlink.
    pub fn node(&self, path: &str) -> Option<FakeNode> {
        let st = self.lock();
        st.fs.lookup(path, &st.cwd, false).cloned()
    }

    /// Changes the inode at `path` (not following a final symlink).
    pub fn modify(&self, path: &str, f: impl FnOnce(&mut FakeNode)) {
        self.lock().fs.modify(path, f);
    }

    /// Every path in the filesystem, sorted.
    pub fn fs_paths(&self) -> Vec<String> {
        self.lock().fs.paths()
    }

    /// A copy of the whole filesystem, to compare before and after.
    pub fn fs_snapshot(&self) -> FakeFs {
        self.lock().fs.clone()
    }

    /// Logs a filesystem operation as the command the real connection
    /// would get, and fails when the host is down.
    fn record(&self, st: &mut State, via: Via, cmd: Cmd) -> Result<(), HostError> {
        let rendered = cmd.render();
        st.calls.push(Call { via, cmd, rendered });
        match &st.down {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// The paths added (not their implied parents).
    pub fn paths(&self) -> BTreeSet<String> {
        self.lock().paths.clone()
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The calls that came through `run`.
    pub fn runs(&self) -> Vec<Call> {
        self.calls_via(Via::Run)
    }

    /// The calls that came through `probe`.
    pub fn probes(&self) -> Vec<Call> {
        self.calls_via(Via::Probe)
    }

    fn calls_via(&self, via: Via) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.via == via)
            .cloned()
            .collect()
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    fn answer(&self, cmd: &Cmd, via: Via) -> Result<Output, HostError> {
        self.answer_logged(cmd, via, true)
    }

    fn answer_logged(&self, cmd: &Cmd, via: Via, log: bool) -> Result<Output, HostError> {
        let rendered = cmd.render();
        let mut st = self.lock();
        if log {
            st.calls.push(Call {
                via,
                cmd: cmd.clone(),
                rendered: rendered.clone(),
            });
        }
        if let Some(e) = &st.down {
            return Err(e.clone());
        }
        let scripted = st
            .replies
            .iter()
            .find(|(m, _)| m.matches(cmd, &rendered))
            .map(|(_, r)| r.clone());
        let reply = match scripted {
            Some(r) => r,
            None => match glob_probe_args(cmd) {
                Some((dir, pattern)) => return Ok(st.glob_probe(dir, pattern)),
                None => st.default.clone(),
            },
        };
        if via == Via::Run {
            for p in &reply.adds {
                st.paths.insert(normalize(p));
            }
            for p in &reply.removes {
                remove_tree(&mut st.paths, &normalize(p));
                let cwd = st.cwd.clone();
                st.fs.remove_path(p, &cwd);
            }
        }
        reply.result
    }
}

#[async_trait]
impl HostRead for FakeHost {
    async fn probe(&self, cmd: &Cmd) -> Result<Output, HostError> {
        self.answer(cmd, Via::Probe)
    }

    async fn stat(&self, path: &str, opts: &StatOpts) -> Result<Option<FileStat>, HostError> {
        let mut st = self.lock();
        self.record(&mut st, Via::Probe, crate::fs::stat_cmd(path, opts))?;
        st.fs.stat(path, &st.cwd, opts)
    }

    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        let mut st = self.lock();
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(crate::fs::READ_SCRIPT)
            .arg("sh")
            .arg(path);
        self.record(&mut st, Via::Probe, cmd)?;
        st.fs.read(path, &st.cwd)
    }
}

#[async_trait]
impl Host for FakeHost {
    async fn run(&self, cmd: &Cmd) -> Result<Output, HostError> {
        self.answer(cmd, Via::Run)
    }

    async fn write_atomic(
        &self,
        dest: &str,
        content: Content,
        opts: &WriteOpts,
    ) -> Result<WriteResult, HostError> {
        let (d, node, tmp, argv) = {
            let mut st = self.lock();
            let cmd = crate::fs::write_cmd(dest, &content, opts);
            let logged = match &cmd {
                Ok(c) => c.clone(),
                Err(_) => Cmd::new("write_atomic").arg(dest),
            };
            self.record(&mut st, Via::Run, logged)?;
            cmd?;
            let argv = match &opts.validate {
                Some(v) => crate::fs::validate_argv(v).map_err(HostError::Failed)?,
                None => Vec::new(),
            };
            let cwd = st.cwd.clone();
            let (d, node) = st.fs.prepare_write(dest, &cwd, &content, opts)?;
            let tmp = st.fs.temp_name(&dir_of(&d));
            if !argv.is_empty() {
                st.fs.insert_temp(&tmp, node.clone());
            }
            (d, node, tmp, argv)
        };
        if !argv.is_empty() {
            let validate = Cmd::argv(fakefs::substitute(&argv, &tmp));
            let out = self.answer_logged(&validate, Via::Run, false);
            self.lock().fs.remove_temp(&tmp);
            let out = out?;
            if !out.success() {
                return Ok(WriteResult::Invalid(crate::fs::ValidateFailure {
                    exit_status: out.rc,
                    stdout: out.stdout,
                    stderr: out.stderr,
                }));
            }
        }
        let mut st = self.lock();
        let cwd = st.cwd.clone();
        st.fs.finish_write(&d, &cwd, node, opts)
    }

    async fn set_attrs(
        &self,
        path: &str,
        attrs: &Attrs,
        follow: bool,
        recurse: bool,
    ) -> Result<bool, HostError> {
        if attrs.is_empty() {
            return Ok(false);
        }
        let mut st = self.lock();
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(crate::fs::ATTRS_SCRIPT)
            .arg("sh")
            .arg(path);
        self.record(&mut st, Via::Run, cmd)?;
        let cwd = st.cwd.clone();
        st.fs.set_attrs(path, &cwd, attrs, follow, recurse)
    }

    async fn mkdir_p(&self, path: &str, attrs: &Attrs) -> Result<usize, HostError> {
        let mut st = self.lock();
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(crate::fs::MKDIR_SCRIPT)
            .arg("sh")
            .arg(path);
        self.record(&mut st, Via::Run, cmd)?;
        let cwd = st.cwd.clone();
        st.fs.mkdir_p(path, &cwd, attrs)
    }

    async fn remove(&self, path: &str) -> Result<bool, HostError> {
        let mut st = self.lock();
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(crate::fs::REMOVE_SCRIPT)
            .arg("sh")
            .arg(path);
        self.record(&mut st, Via::Run, cmd)?;
        let cwd = st.cwd.clone();
        let fs_hit = st.fs.remove(path, &cwd)?;
        let p = normalize(&absolute(path, &cwd));
        let legacy = st.paths.contains(&p);
        remove_tree(&mut st.paths, &p);
        Ok(fs_hit || legacy)
    }

    async fn symlink(&self, src: &str, dest: &str, force: bool) -> Result<(), HostError> {
        let mut st = self.lock();
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(crate::fs::LINK_SCRIPT)
            .arg("sh")
            .arg("-s")
            .arg(src)
            .arg(dest);
        self.record(&mut st, Via::Run, cmd)?;
        let cwd = st.cwd.clone();
        st.fs.link(true, src, dest, &cwd, force)
    }

    async fn hardlink(&self, src: &str, dest: &str, force: bool) -> Result<(), HostError> {
        let mut st = self.lock();
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(crate::fs::LINK_SCRIPT)
            .arg("sh")
            .arg("")
            .arg(src)
            .arg(dest);
        self.record(&mut st, Via::Run, cmd)?;
        let cwd = st.cwd.clone();
        st.fs.link(false, src, dest, &cwd, force)
    }

    async fn touch(
        &self,
        path: &str,
        mtime: TimeSpec,
        atime: TimeSpec,
        follow: bool,
        create: bool,
    ) -> Result<(), HostError> {
        let mut st = self.lock();
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(crate::fs::TOUCH_SCRIPT)
            .arg("sh")
            .arg(path);
        self.record(&mut st, Via::Run, cmd)?;
        let cwd = st.cwd.clone();
        st.fs.touch(path, &cwd, mtime, atime, follow, create)
    }
}

/// `(chdir, pattern)` when `cmd` is [`crate::commands::run::glob_probe`].
fn glob_probe_args(cmd: &Cmd) -> Option<(&str, &str)> {
    match cmd.argv_parts()? {
        [sh, c, script, name, dir, pattern]
            if sh == "sh" && c == "-c" && script == GLOB_PROBE_SCRIPT && name == "sh" =>
        {
            Some((dir.as_str(), pattern.as_str()))
        }
        _ => None,
    }
}

impl State {
    /// What the real probe script would answer on this fake filesystem.
    fn glob_probe(&self, dir: &str, pattern: &str) -> Output {
        let mut base = self.cwd.clone();
        if !dir.is_empty() {
            let d = normalize(&absolute(dir, &self.cwd));
            if !exists_in(&self.paths, &d) && !self.fs.contains(&d) {
                return Output {
                    rc: 2,
                    stdout: Vec::new(),
                    stderr: format!("sh: 1: cd: can't cd to {dir}\n").into_bytes(),
                };
            }
            base = d;
        }
        let pattern = match pattern.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                format!("{}{rest}", self.home)
            }
            _ => pattern.to_string(),
        };
        let full = normalize(&absolute(&pattern, &base));
        let hit = all_paths(&self.paths)
            .iter()
            .chain(self.fs.paths().iter())
            .any(|p| path_matches(&full, p));
        Output {
            rc: if hit { 0 } else { 1 },
            ..Output::default()
        }
    }
}

fn absolute(path: &str, base: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{base}/{path}")
    }
}

/// Collapses `//`, `.` and `..`; the result starts with `/` and does not
/// end with one (except `/` itself).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn remove_tree(paths: &mut BTreeSet<String>, path: &str) {
    let under = format!("{}/", path.trim_end_matches('/'));
    paths.retain(|p| p != path && !p.starts_with(&under));
}

/// The added paths and all their parent directories.
fn all_paths(paths: &BTreeSet<String>) -> BTreeSet<String> {
    let mut all = BTreeSet::from(["/".to_string()]);
    for p in paths {
        let mut cur = p.as_str();
        all.insert(cur.to_string());
        while let Some(i) = cur.rfind('/') {
            cur = &cur[..i];
            all.insert(if cur.is_empty() {
                "/".into()
            } else {
                cur.into()
            });
        }
    }
    all
}

fn exists_in(paths: &BTreeSet<String>, path: &str) -> bool {
    all_paths(paths).contains(path)
}

/// Whether the normalized glob `pattern` matches the normalized `path`,
/// component by component, as `sh` pathname expansion does.
fn path_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let comps: Vec<&str> = path.split('/').collect();
    pat.len() == comps.len()
        && pat
            .iter()
            .zip(&comps)
            .all(|(p, c)| component_matches(&p.chars().collect::<Vec<_>>(), c))
}

fn component_matches(pat: &[char], name: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    // A leading dot must be matched explicitly, as in `sh` and Python.
    if name.first() == Some(&'.') && pat.first().is_some_and(|c| matches!(c, '*' | '?' | '[')) {
        return false;
    }
    wildcard(pat, &name)
}

fn wildcard(pat: &[char], name: &[char]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| wildcard(rest, &name[i..])),
        Some(('?', rest)) => !name.is_empty() && wildcard(rest, &name[1..]),
        Some(('[', rest)) => match (class(rest), name.split_first()) {
            (Some((matches, after)), Some((c, tail))) => matches(*c) && wildcard(after, tail),
            (Some(_), None) => false,
            // An unclosed `[` is an ordinary character.
            (None, _) => name.first() == Some(&'[') && wildcard(rest, &name[1..]),
        },
        Some(('\\', rest)) if !rest.is_empty() => {
            name.first() == rest.first() && wildcard(&rest[1..], &name[1..])
        }
        Some((c, rest)) => name.first() == Some(c) && wildcard(rest, &name[1..]),
    }
}

type ClassMatch = Box<dyn Fn(char) -> bool>;

/// Parses a bracket expression after its `[`: the test and what follows `]`.
fn class(pat: &[char]) -> Option<(ClassMatch, &[char])> {
    let (negate, mut i) = match pat.first() {
        Some('!' | '^') => (true, 1),
        _ => (false, 0),
    };
    let start = i;
    let mut ranges: Vec<(char, char)> = Vec::new();
    loop {
        let c = *pat.get(i)?;
        if c == ']' && i > start {
            break;
        }
        if pat.get(i + 1) == Some(&'-') && pat.get(i + 2).is_some_and(|&e| e != ']') {
            ranges.push((c, pat[i + 2]));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    let test = move |c: char| ranges.iter().any(|&(a, b)| a <= c && c <= b) != negate;
    Some((Box::new(test), &pat[i + 1..]))
}

/// How a harness case expects the module to behave.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// After a successful apply of a planned change, a second check must
    /// be in sync. Turn off for a case whose command does not do what its
    /// `creates`/`removes` promise.
    pub idempotent: bool,
}

impl Default for Expect {
    fn default() -> Self {
        Expect { idempotent: true }
    }
}

/// What [`check_then_apply`] saw.
#[derive(Debug, Clone)]
pub struct HarnessReport {
    pub plan: Plan,
    /// The calls `check` made (all probes: the harness asserted it).
    pub check_calls: Vec<Call>,
    /// `None` when the plan was in sync: the engine never applies those.
    pub applied: Option<Applied>,
    /// The calls `apply` made.
    pub apply_calls: Vec<Call>,
    /// The plan of the second check, after apply (or after the first
    /// check when there was nothing to apply).
    pub second_plan: Plan,
}

impl HarnessReport {
    /// The keys the engine would report: the applied result, or the
    /// plan's result when nothing was applied.
    pub fn result(&self) -> crate::plan::Facts {
        match (&self.applied, &self.plan) {
            (Some(a), _) => a.result.clone(),
            (None, Plan::InSync { result } | Plan::Change { result, .. }) => result.clone(),
            (None, Plan::Unpredictable { .. }) => crate::plan::Facts::new(),
        }
    }
}

/// Validates `args`, panicking with the parameter error if they are bad.
pub fn prepare(module: &dyn Module, args: Args) -> Box<dyn crate::module::Prepared> {
    match module.prepare(args) {
        Ok(p) => p,
        Err(e) => panic!("{}: unexpected parameter error: {e:?}", module.name()),
    }
}

/// The parameter error `args` must cause.
pub fn prepare_err(module: &dyn Module, args: Args) -> ParamError {
    match module.prepare(args) {
        Ok(_) => panic!("{}: parameters were accepted", module.name()),
        Err(e) => e,
    }
}

/// Runs only `check`, asserting it made no `run` calls; for cases where
/// check is expected to fail.
pub async fn check_only(
    module: &dyn Module,
    args: Args,
    host: &FakeHost,
) -> Result<Plan, ModuleError> {
    let prepared = prepare(module, args);
    let before = host.calls().len();
    let plan = prepared.check(host).await;
    assert_no_runs(module, "check", &host.calls()[before..]);
    plan
}

/// [`check_then_apply_with`] with the default [`Expect`].
pub async fn check_then_apply(module: &dyn Module, args: Args, host: &FakeHost) -> HarnessReport {
    check_then_apply_with(module, args, host, Expect::default()).await
}

/// Prepares, checks, applies (unless in sync) and checks again, asserting
/// DESIGN.md §3's invariants:
/// - `check` makes no `run` calls, only probes;
/// - a planned change lists at least one change;
/// - a successful apply reports `changed` exactly when check planned
///   [`Plan::Change`] ([`Plan::Unpredictable`] may report either);
/// - after a successful apply of a change, a second check is
///   [`Plan::InSync`] (when `expect.idempotent`), and an in-sync plan
///   stays in sync.
///
/// Panics on a parameter error or a module error from check or apply;
/// use [`prepare_err`] and [`check_only`] to test those.
pub async fn check_then_apply_with(
    module: &dyn Module,
    args: Args,
    host: &FakeHost,
    expect: Expect,
) -> HarnessReport {
    let name = module.name();
    let prepared = prepare(module, args);

    let start = host.calls().len();
    let plan = match prepared.check(host).await {
        Ok(p) => p,
        Err(e) => panic!("{name}: check failed: {e:?}"),
    };
    let check_calls = host.calls()[start..].to_vec();
    assert_no_runs(module, "check", &check_calls);
    if let Plan::Change { changes, .. } = &plan {
        assert!(
            !changes.is_empty(),
            "{name}: a Change plan lists no changes"
        );
    }

    let start = host.calls().len();
    let applied = match &plan {
        Plan::InSync { .. } => None,
        _ => match prepared.apply(plan.clone(), host).await {
            Ok(a) => Some(a),
            Err(e) => panic!("{name}: apply failed: {e:?}"),
        },
    };
    let apply_calls = host.calls()[start..].to_vec();
    if let Some(a) = &applied
        && !a.failed
        && !matches!(plan, Plan::Unpredictable { .. })
    {
        assert_eq!(
            a.changed,
            plan.is_change(),
            "{name}: apply reported changed={} but check planned {plan:?}",
            a.changed
        );
    }

    let start = host.calls().len();
    let second_plan = match prepared.check(host).await {
        Ok(p) => p,
        Err(e) => panic!("{name}: second check failed: {e:?}"),
    };
    assert_no_runs(module, "second check", &host.calls()[start..]);
    let applied_ok = applied.as_ref().is_some_and(|a| !a.failed);
    let must_be_in_sync = matches!(plan, Plan::InSync { .. })
        || (plan.is_change() && applied_ok && expect.idempotent);
    if must_be_in_sync {
        assert!(
            matches!(second_plan, Plan::InSync { .. }),
            "{name}: not idempotent: after {plan:?}, the second check planned {second_plan:?}"
        );
    }

    HarnessReport {
        plan,
        check_calls,
        applied,
        apply_calls,
        second_plan,
    }
}

fn assert_no_runs(module: &dyn Module, phase: &str, calls: &[Call]) {
    let runs: Vec<&str> = calls
        .iter()
        .filter(|c| c.via == Via::Run)
        .map(|c| c.rendered.as_str())
        .collect();
    assert!(
        runs.is_empty(),
        "{}: {phase} ran commands that may write: {runs:?}",
        module.name()
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::commands::run::glob_probe;

    async fn probe(host: &FakeHost, pattern: &str, dir: Option<&str>) -> i32 {
        host.probe(&glob_probe(pattern, dir)).await.unwrap().rc
    }

    #[tokio::test]
    async fn glob_probe_consults_paths() {
        let host = FakeHost::new()
            .with_path("/srv/app/build.log")
            .with_path("/srv/app/.hidden")
            .with_path("/root/done");
        assert_eq!(probe(&host, "/srv/app/build.log", None).await, 0);
        assert_eq!(probe(&host, "/srv/app", None).await, 0);
        assert_eq!(probe(&host, "/srv/app/*.log", None).await, 0);
        assert_eq!(probe(&host, "/srv/*/b?ild.[lx]og", None).await, 0);
        assert_eq!(probe(&host, "/srv/app/*.txt", None).await, 1);
        assert_eq!(probe(&host, "/srv/app/*hidden", None).await, 1);
        assert_eq!(probe(&host, "/srv/app/.h*", None).await, 0);
        assert_eq!(probe(&host, "/srv/app/[!b]*", None).await, 1);
        assert_eq!(probe(&host, "done", None).await, 0);
        assert_eq!(probe(&host, "~/done", None).await, 0);
        assert_eq!(probe(&host, "build.log", Some("/srv/app")).await, 0);
        assert_eq!(probe(&host, "../app/*.log", Some("/srv/app")).await, 0);
        assert_eq!(probe(&host, "x", Some("/nope")).await, 2);
        assert!(host.runs().is_empty());
    }

    #[tokio::test]
    async fn runs_change_paths_and_probes_do_not() {
        let host = FakeHost::new().with_path("/old/file").on(
            Matcher::prefix("make"),
            Reply::ok("").adds("/new").removes("/old"),
        );
        host.probe(&Cmd::new("make")).await.unwrap();
        assert!(host.exists("/old/file") && !host.exists("/new"));
        host.run(&Cmd::new("make")).await.unwrap();
        assert!(!host.exists("/old/file") && !host.exists("/old") && host.exists("/new"));
        let vias: Vec<Via> = host.calls().iter().map(|c| c.via).collect();
        assert_eq!(vias, vec![Via::Probe, Via::Run]);
    }

    #[tokio::test]
    async fn first_matching_reply_wins_then_default() {
        let host = FakeHost::new()
            .on("echo hi", Reply::ok("exact"))
            .on(Matcher::contains("hi"), Reply::ok("contains"))
            .on(Matcher::custom(|c| c.is_raw()), Reply::output(3, "", "raw"))
            .default_reply(Reply::output(9, "", ""));
        let out = |r: Result<Output, HostError>| r.unwrap();
        assert_eq!(
            out(host.run(&Cmd::new("echo").arg("hi")).await).stdout,
            b"exact"
        );
        assert_eq!(
            out(host.run(&Cmd::new("say").arg("hi")).await).stdout,
            b"contains"
        );
        assert_eq!(out(host.run(&Cmd::script("x").raw()).await).rc, 3);
        assert_eq!(out(host.run(&Cmd::new("x")).await).rc, 9);
        let down = FakeHost::new().down(HostError::Unreachable("gone".into()));
        assert!(down.probe(&glob_probe("/", None)).await.is_err());
    }
}
