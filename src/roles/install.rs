//! `tutti roles install|update|list` (and `ansible-galaxy role ...`):
//! roles from git, as `requirements.yml` describes them, pinned in
//! `roles.lock` (see [`super::lock`]).
//!
//! Installing a role shells out to `git`: clone the source into a scratch
//! directory next to the destination, resolve the version (a tag, then a
//! branch, then a commit; the default branch when none is given), export
//! that commit with `git archive` (or keep the clone with `-g`), hash the
//! tree, and move it into place. With a lock entry the locked commit is
//! installed; a tag that now points elsewhere, or an installed tree that no
//! longer matches its hash, is an error rather than a silent change.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::lock::{self, Entry, Lock};
use crate::cli::{RolesAction, RolesInstallArgs, RolesListArgs, RolesUpdateArgs};
use crate::diagnostic::{Diagnostic, Kind, Source};

/// Runs a roles action; blocking work happens off the async runtime.
pub async fn run(action: &RolesAction) -> Result<u8, Diagnostic> {
    let action = action.clone();
    tokio::task::spawn_blocking(move || match &action {
        RolesAction::Install(a) => install(&Options::from_install(a)),
        RolesAction::Update(a) => install(&Options::from_update(a)),
        RolesAction::List(a) => list(a),
    })
    .await
    .map_err(|e| Diagnostic::error(format!("the roles command stopped: {e}")))?
}

/// One role as a requirements file asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The install directory's name.
    pub name: String,
    /// The source without its scm prefix.
    pub src: String,
    /// `git`, or `None` for a Galaxy name / tarball (not supported).
    pub scm: Option<String>,
    /// Tag, branch or commit; empty for the default branch.
    pub version: String,
}

impl Requirement {
    /// The source as the lock records it, `git+URL`.
    pub fn locked_src(&self) -> String {
        match &self.scm {
            Some(scm) => format!("{scm}+{}", self.src),
            None => self.src.clone(),
        }
    }

    fn label(&self) -> String {
        if self.version.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.version)
        }
    }
}

/// The role name a source implies: its last path segment without `.git`
/// or an archive suffix.
pub fn name_from_src(src: &str) -> String {
    let tail = src.trim_end_matches('/');
    let tail = tail.rsplit('/').next().unwrap_or(tail);
    let tail = tail.rsplit(':').next().unwrap_or(tail);
    let mut name = tail.to_string();
    for suffix in [".git", ".tar.gz", ".tgz", ".tar"] {
        if let Some(s) = name.strip_suffix(suffix) {
            name = s.to_string();
            break;
        }
    }
    name
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses one entry of a requirements file: the legacy string
/// `src[,version[,name]]` or a mapping with `src`, `scm`, `version`,
/// `name` (legacy `role`); unknown keys are ignored.
pub fn parse_requirement(v: &Value) -> Result<Requirement, String> {
    let (mut src, mut scm, version, name) = match v {
        Value::String(s) => {
            let mut parts = s.split(',').map(str::trim);
            (
                parts.next().unwrap_or_default().to_string(),
                None,
                parts.next().unwrap_or_default().to_string(),
                parts.next().filter(|n| !n.is_empty()).map(str::to_string),
            )
        }
        Value::Object(m) => {
            let role = m.get("role").and_then(scalar);
            // `role: src,version,name` is the legacy string inside a map.
            if let Some(r) = role.as_deref().filter(|r| r.contains(','))
                && !m.contains_key("src")
            {
                return parse_requirement(&Value::String(r.to_string()));
            }
            (
                m.get("src")
                    .and_then(scalar)
                    .or(role.clone())
                    .unwrap_or_default(),
                m.get("scm").and_then(scalar).filter(|s| !s.is_empty()),
                m.get("version").and_then(scalar).unwrap_or_default(),
                m.get("name").and_then(scalar).or(role),
            )
        }
        other => {
            return Err(format!(
                "a role requirement must be a string or a mapping, got {other}"
            ));
        }
    };
    if src.is_empty() {
        return Err(format!("a role requirement needs a 'src': {v}"));
    }
    // `http…github.com…` is git even without saying so.
    if !src.contains('+')
        && src.contains("://")
        && src.starts_with("http")
        && src.contains("github.com/")
        && !src.ends_with(".tar.gz")
        && scm.is_none()
    {
        src = format!("git+{src}");
    }
    if let Some((prefix, rest)) = src.split_once('+')
        && scm.is_none()
        && matches!(prefix, "git" | "hg")
    {
        scm = Some(prefix.to_string());
        src = rest.to_string();
    }
    let name = name.unwrap_or_else(|| name_from_src(&src));
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("cannot use '{name}' as a role name (src {src})"));
    }
    Ok(Requirement {
        name,
        src,
        scm,
        version,
    })
}

/// The roles of a requirements document: a bare list or `roles:`;
/// `collections:` is reported in `warnings` and skipped.
pub fn parse_requirements(
    doc: &Value,
    origin: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<Requirement>, String> {
    let list = match doc {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a.clone(),
        Value::Object(m) => {
            if let Some(c) = m.get("collections")
                && c.as_array().is_some_and(|a| !a.is_empty())
            {
                warnings.push(format!(
                    "{origin}: collections are not supported by tutti; skipping the 'collections' section"
                ));
            }
            match m.get("roles") {
                Some(Value::Array(a)) => a.clone(),
                Some(Value::Null) | None => Vec::new(),
                Some(_) => return Err(format!("{origin}: 'roles' must be a list")),
            }
        }
        _ => {
            return Err(format!(
                "{origin}: expected a list of roles or a mapping with 'roles'"
            ));
        }
    };
    list.iter()
        .map(|v| parse_requirement(v).map_err(|e| format!("{origin}: {e}")))
        .collect()
}

fn load_yaml(path: &Path) -> Result<Value, Diagnostic> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::error(format!("cannot read {}: {e}", path.display())))?;
    let src = Source::new(path.to_string_lossy().as_ref(), text);
    crate::yaml::load(&src)
        .map(|l| l.node.to_json())
        // ansible-galaxy exits 1 for every error.
        .map_err(|mut d| {
            d.kind = Kind::Error;
            d
        })
}

/// The dependencies a role declares for installing: all of
/// `meta/requirements.yml`, and the `meta/main.yml` dependencies that name
/// a source (`src:` maps or scm strings); plain role names are left to the
/// role search path.
fn role_dependencies(
    dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<Requirement>, Diagnostic> {
    let mut deps = Vec::new();
    for f in ["requirements.yml", "requirements.yaml"] {
        let p = dir.join("meta").join(f);
        if p.is_file() {
            let doc = load_yaml(&p)?;
            deps.extend(
                parse_requirements(&doc, &p.display().to_string(), warnings)
                    .map_err(Diagnostic::error)?,
            );
            break;
        }
    }
    for f in ["main.yml", "main.yaml", "main"] {
        let p = dir.join("meta").join(f);
        if !p.is_file() {
            continue;
        }
        let doc = load_yaml(&p)?;
        if let Some(Value::Array(list)) = doc.get("dependencies") {
            for d in list {
                let installable = match d {
                    Value::Object(m) => m.contains_key("src"),
                    Value::String(s) => s.contains("://") || s.contains('+') || s.contains(','),
                    _ => false,
                };
                if installable {
                    deps.push(
                        parse_requirement(d)
                            .map_err(|e| Diagnostic::error(format!("{}: {e}", p.display())))?,
                    );
                }
            }
        }
        break;
    }
    Ok(deps)
}

/// What `install` and `update` were asked.
struct Options {
    roles: Vec<String>,
    role_file: Option<PathBuf>,
    roles_path: Option<PathBuf>,
    force: bool,
    no_deps: bool,
    keep_scm_meta: bool,
    /// `Some` for `update`: the roles to re-resolve (empty: all).
    update: Option<Vec<String>>,
}

impl Options {
    fn from_install(a: &RolesInstallArgs) -> Options {
        Options {
            roles: a.roles.clone(),
            role_file: a.role_file.clone(),
            roles_path: a.roles_path.clone(),
            force: a.force,
            no_deps: a.no_deps,
            keep_scm_meta: a.keep_scm_meta,
            update: None,
        }
    }

    fn from_update(a: &RolesUpdateArgs) -> Options {
        Options {
            roles: Vec::new(),
            role_file: a.install.role_file.clone(),
            roles_path: a.install.roles_path.clone(),
            force: a.install.force,
            no_deps: a.install.no_deps,
            keep_scm_meta: a.install.keep_scm_meta,
            update: Some(a.names.clone()),
        }
    }

    fn updating(&self, name: &str) -> bool {
        match &self.update {
            Some(names) => names.is_empty() || names.iter().any(|n| n == name),
            None => false,
        }
    }
}

fn warn(msg: &str) {
    eprintln!("[WARNING]: {msg}");
}

/// `roles_path` from ansible.cfg / `ANSIBLE_ROLES_PATH` (relative entries
/// relative to the config file, as `tutti playbook` reads them), else the
/// default.
fn configured_roles_path() -> Vec<PathBuf> {
    let cfg = crate::config::Config::load();
    let Some(rp) = cfg.get("defaults", "roles_path", "ANSIBLE_ROLES_PATH") else {
        return super::default_roles_path();
    };
    let base = cfg
        .path
        .as_ref()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    rp.split(':')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let p = p.trim();
            let p = match (p.strip_prefix("~/"), dirs::home_dir()) {
                (Some(rest), Some(home)) => home.join(rest),
                _ => PathBuf::from(p),
            };
            if p.is_relative() { base.join(p) } else { p }
        })
        .collect()
}

/// Whether files can be created in `dir` (or `dir` can be created).
fn writable(dir: &Path) -> bool {
    let mut d = dir;
    loop {
        if d.is_dir() {
            let probe = d.join(format!(".tutti-probe-{}", std::process::id()));
            let ok = std::fs::write(&probe, b"").is_ok();
            let _ = std::fs::remove_file(&probe);
            return ok;
        }
        if d.exists() {
            return false;
        }
        match d.parent() {
            Some(p) if !p.as_os_str().is_empty() => d = p,
            _ => return std::env::current_dir().is_ok_and(|c| writable(&c)),
        }
    }
}

/// `-p DIR`, else the first writable `roles_path` entry, else
/// `~/.ansible/roles`.
fn install_dir(opt: Option<&Path>) -> PathBuf {
    if let Some(p) = opt {
        return p.to_path_buf();
    }
    let paths = configured_roles_path();
    if let Some(p) = paths.iter().find(|p| p.is_dir() && writable(p)) {
        return p.clone();
    }
    if let Some(p) = paths.iter().find(|p| writable(p)) {
        return p.clone();
    }
    dirs::home_dir()
        .map(|h| h.join(".ansible/roles"))
        .unwrap_or_else(|| PathBuf::from("roles"))
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn git(dir: Option<&Path>, args: &[&str]) -> Result<String, Diagnostic> {
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .stdin(std::process::Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| Diagnostic::error(format!("cannot run git (is it installed?): {e}")))?;
    if !out.status.success() {
        return Err(Diagnostic::error(format!(
            "- command git {} failed in directory {} (rc={}) - {}",
            args.join(" "),
            dir.map(|d| d.display().to_string())
                .unwrap_or_else(|| ".".into()),
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit `rev` names in a repository, if any.
fn rev_parse(repo: &Path, rev: &str) -> Option<String> {
    git(
        Some(repo),
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .ok()
    .filter(|s| !s.is_empty())
}

/// How a version resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefKind {
    Default,
    Tag,
    Branch,
    Commit,
}

/// Resolves a version the way `git checkout VERSION` would after a clone:
/// a tag, then a branch, then a commit (or an abbreviation of one).
fn resolve(repo: &Path, req: &Requirement) -> Result<(RefKind, String), Diagnostic> {
    let v = req.version.as_str();
    if v.is_empty() || v == "HEAD" {
        return rev_parse(repo, "HEAD")
            .map(|c| (RefKind::Default, c))
            .ok_or_else(|| Diagnostic::error(format!("{}: {} has no commits", req.name, req.src)));
    }
    if let Some(c) = rev_parse(repo, &format!("refs/tags/{v}")) {
        return Ok((RefKind::Tag, c));
    }
    if let Some(c) = rev_parse(repo, &format!("refs/remotes/origin/{v}")) {
        return Ok((RefKind::Branch, c));
    }
    if v.len() >= 4
        && v.chars().all(|c| c.is_ascii_hexdigit())
        && let Some(c) = rev_parse(repo, v)
    {
        return Ok((RefKind::Commit, c));
    }
    Err(Diagnostic::error(format!(
        "- the specified version ({v}) of {} was not found in {}: no such tag, branch or commit",
        req.name, req.src
    )))
}

/// A role exported into a scratch directory, ready to move into place.
struct Staged {
    _scratch: Scratch,
    tree: PathBuf,
    commit: String,
    sha256: String,
}

/// Clones `req`, picks the commit (the locked one if `pinned`), checks a
/// tag didn't move, and exports the tree.
fn stage(
    req: &Requirement,
    pinned: Option<&Entry>,
    into: &Path,
    keep_scm_meta: bool,
) -> Result<Staged, Diagnostic> {
    if req.scm.as_deref() != Some("git") {
        return Err(Diagnostic::error(format!(
            "- {}: only git sources are supported (src: {}); use 'scm: git' or a 'git+' URL \
             (Galaxy server roles and tarballs are not supported by tutti)",
            req.name,
            req.locked_src()
        )));
    }
    std::fs::create_dir_all(into)
        .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", into.display())))?;
    let scratch = Scratch(into.join(format!(".tutti-{}-{}", req.name, std::process::id())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    std::fs::create_dir_all(&scratch.0)
        .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", scratch.0.display())))?;
    let clone = scratch.0.join("clone");
    let clone_s = clone.to_string_lossy().into_owned();
    git(None, &["clone", "--quiet", &req.src, &clone_s])?;
    let (kind, resolved) = resolve(&clone, req)?;
    let commit = match pinned {
        Some(p) => {
            if kind == RefKind::Tag && resolved != p.commit {
                return Err(Diagnostic::error(format!(
                    "- {}: tag {} moved from {} to {} (roles.lock pins {}); \
                     run `tutti roles update {}` to accept the new commit",
                    req.name, req.version, p.commit, resolved, p.commit, req.name
                )));
            }
            if kind == RefKind::Commit && resolved != p.commit {
                return Err(Diagnostic::error(format!(
                    "- {}: version {} is commit {} but roles.lock pins {}; run `tutti roles update {}`",
                    req.name, req.version, resolved, p.commit, req.name
                )));
            }
            rev_parse(&clone, &p.commit)
                .filter(|c| *c == p.commit)
                .ok_or_else(|| {
                    Diagnostic::error(format!(
                        "- {}: the locked commit {} is no longer in {}; run `tutti roles update {}`",
                        req.name, p.commit, req.src, req.name
                    ))
                })?
        }
        None => resolved,
    };
    let tree = if keep_scm_meta {
        git(Some(&clone), &["checkout", "--quiet", "--detach", &commit])?;
        clone
    } else {
        let tar = scratch.0.join("role.tar");
        let tree = scratch.0.join("tree");
        std::fs::create_dir_all(&tree)
            .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", tree.display())))?;
        git(
            Some(&clone),
            &[
                "archive",
                "--format=tar",
                &format!("--output={}", tar.display()),
                &commit,
            ],
        )?;
        let out = Command::new("tar")
            .arg("-xf")
            .arg(&tar)
            .arg("-C")
            .arg(&tree)
            .output()
            .map_err(|e| Diagnostic::error(format!("cannot run tar: {e}")))?;
        if !out.status.success() {
            return Err(Diagnostic::error(format!(
                "- {}: extracting the archive failed: {}",
                req.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        tree
    };
    let sha256 = lock::content_hash(&tree)?;
    if let Some(p) = pinned
        && p.sha256 != sha256
    {
        return Err(Diagnostic::error(format!(
            "- {}: the content of commit {} (sha256 {sha256}) differs from roles.lock (sha256 {})",
            req.name, p.commit, p.sha256
        )));
    }
    Ok(Staged {
        _scratch: scratch,
        tree,
        commit,
        sha256,
    })
}

/// `meta/.galaxy_install_info`'s `version`, if the role has one.
fn installed_version(dir: &Path) -> Option<String> {
    let p = dir.join("meta/.galaxy_install_info");
    let text = std::fs::read_to_string(&p).ok()?;
    let src = Source::new(p.to_string_lossy().as_ref(), text);
    let doc = crate::yaml::load(&src).ok()?.node.to_json();
    doc.get("version").and_then(scalar)
}

fn write_install_info(dir: &Path, version: &str) -> Result<(), Diagnostic> {
    let meta = dir.join("meta");
    std::fs::create_dir_all(&meta)
        .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", meta.display())))?;
    let date = chrono::Utc::now().format("%a %b %e %H:%M:%S %Y");
    let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let text = format!(
        "install_date: {}\nversion: {}\n",
        q(&date.to_string()),
        q(version)
    );
    let p = meta.join(".galaxy_install_info");
    std::fs::write(&p, text)
        .map_err(|e| Diagnostic::error(format!("cannot write {}: {e}", p.display())))
}

/// Moves a staged tree to `dest`, replacing what is there.
fn put_in_place(staged: &Staged, dest: &Path, req: &Requirement) -> Result<(), Diagnostic> {
    println!("- extracting {} to {}", req.name, dest.display());
    if dest.exists() || dest.is_symlink() {
        let r = if dest.is_dir() && !dest.is_symlink() {
            std::fs::remove_dir_all(dest)
        } else {
            std::fs::remove_file(dest)
        };
        r.map_err(|e| Diagnostic::error(format!("cannot remove {}: {e}", dest.display())))?;
    }
    std::fs::rename(&staged.tree, dest).map_err(|e| {
        Diagnostic::error(format!("cannot move the role into {}: {e}", dest.display()))
    })?;
    write_install_info(dest, &req.version)?;
    println!("- {} was installed successfully", req.label());
    Ok(())
}

fn entry_for(req: &Requirement, commit: String, sha256: String) -> Entry {
    Entry {
        name: req.name.clone(),
        src: req.locked_src(),
        version: req.version.clone(),
        commit,
        sha256,
    }
}

/// Installs one role; returns its lock entry.
fn install_one(
    req: &Requirement,
    dir: &Path,
    old: Option<&Lock>,
    opts: &Options,
) -> Result<Entry, Diagnostic> {
    let dest = dir.join(&req.name);
    let installed = dest.is_dir();
    let Some(old) = old else {
        // No lock (roles given on the command line): Ansible's behaviour.
        if installed && !opts.force {
            skip_message(req, &dest);
            let sha = lock::content_hash(&dest)?;
            return Ok(entry_for(req, String::new(), sha));
        }
        let staged = stage(req, None, dir, opts.keep_scm_meta)?;
        put_in_place(&staged, &dest, req)?;
        return Ok(entry_for(req, staged.commit.clone(), staged.sha256.clone()));
    };
    let previous = old.roles.get(&req.name);
    let updating = opts.updating(&req.name);
    // The lock entry applies while the requirement still says the same.
    let pinned = previous
        .filter(|p| p.src == req.locked_src() && p.version == req.version)
        .filter(|_| !updating);
    let installed_sha = if installed {
        Some(lock::content_hash(&dest)?)
    } else {
        None
    };
    // An installed tree that no longer matches its lock entry was changed
    // by hand: say so rather than skip or overwrite it.
    let pristine = match (&installed_sha, previous) {
        (Some(h), Some(p)) => *h == p.sha256,
        _ => false,
    };
    if let (Some(h), Some(p)) = (&installed_sha, previous)
        && !pristine
        && !opts.force
    {
        return Err(Diagnostic::error(format!(
            "- {} at {} was modified: its content (sha256 {h}) differs from roles.lock (sha256 {}); \
             use --force to reinstall it",
            req.name,
            dest.display(),
            p.sha256
        )));
    }
    if let (true, Some(p)) = (installed && pristine, pinned)
        && !opts.force
    {
        skip_message(req, &dest);
        return Ok(p.clone());
    }
    let staged = stage(req, pinned, dir, opts.keep_scm_meta)?;
    if let Some(p) = previous
        && p.commit != staged.commit
        && updating
    {
        println!(
            "- updating {} ({}): {} -> {}",
            req.name,
            if req.version.is_empty() {
                "HEAD"
            } else {
                &req.version
            },
            short(&p.commit),
            short(&staged.commit)
        );
    }
    if let Some(h) = &installed_sha
        && !opts.force
    {
        if *h == staged.sha256 {
            skip_message(req, &dest);
            return Ok(entry_for(req, staged.commit.clone(), staged.sha256.clone()));
        }
        if !pristine {
            return Err(Diagnostic::error(format!(
                "- {} is already installed at {} but is not in roles.lock and differs from {} \
                 at {}; use --force to replace it",
                req.name,
                dest.display(),
                req.locked_src(),
                short(&staged.commit)
            )));
        }
    }
    put_in_place(&staged, &dest, req)?;
    Ok(entry_for(req, staged.commit.clone(), staged.sha256.clone()))
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn skip_message(req: &Requirement, dest: &Path) {
    let have = installed_version(dest).unwrap_or_default();
    if have != req.version && !req.version.is_empty() {
        warn(&format!(
            "- {} ({}) is already installed - use --force to change version to {}",
            req.name,
            if have.is_empty() {
                "unknown version"
            } else {
                &have
            },
            req.version
        ));
    } else {
        println!("- {} is already installed, skipping.", req.label());
    }
}

fn install(opts: &Options) -> Result<u8, Diagnostic> {
    let mut warnings = Vec::new();
    let cfg_warnings = crate::config::Config::load().warnings;
    for w in &cfg_warnings {
        warn(w);
    }
    let role_file = opts.role_file.clone().or_else(|| {
        let d = PathBuf::from("requirements.yml");
        (opts.roles.is_empty() && d.is_file()).then_some(d)
    });
    let mut reqs = Vec::new();
    if let Some(f) = &role_file {
        if !f.is_file() {
            return Err(Diagnostic::error(format!(
                "the requirements file '{}' does not exist",
                f.display()
            )));
        }
        let doc = load_yaml(f)?;
        reqs = parse_requirements(&doc, &f.display().to_string(), &mut warnings)
            .map_err(Diagnostic::error)?;
    }
    for r in &opts.roles {
        reqs.push(parse_requirement(&Value::String(r.clone())).map_err(Diagnostic::error)?);
    }
    if role_file.is_none() && reqs.is_empty() {
        return Err(Diagnostic::error(
            "- you must specify a user/role name or a roles file",
        ));
    }
    if let Some(names) = &opts.update {
        if role_file.is_none() {
            return Err(Diagnostic::error(
                "`tutti roles update` needs a requirements file (-r FILE or ./requirements.yml)",
            ));
        }
        for n in names {
            if !reqs.iter().any(|r| &r.name == n) {
                return Err(Diagnostic::error(format!(
                    "- {n} is not in {}",
                    role_file
                        .as_ref()
                        .map(|f| f.display().to_string())
                        .unwrap_or_default()
                )));
            }
        }
    }
    for w in warnings.drain(..) {
        warn(&w);
    }
    // The lock applies to requirements files; sources given on the command
    // line are installed the way ansible-galaxy does.
    let lock_path = role_file.as_deref().map(lock::path_for);
    let old = match &lock_path {
        Some(p) => Some(Lock::read(p)?),
        None => None,
    };
    let dir = install_dir(opts.roles_path.as_deref());
    // git runs in other directories: work with an absolute path, as
    // ansible-galaxy shows it.
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    println!("Starting galaxy role install process");
    let mut queue: VecDeque<Requirement> = reqs.into();
    let mut done: HashSet<String> = HashSet::new();
    let mut new_lock = Lock::default();
    while let Some(req) = queue.pop_front() {
        if !done.insert(req.name.clone()) {
            continue;
        }
        let entry = install_one(&req, &dir, old.as_ref(), opts)?;
        if !opts.no_deps {
            let deps = role_dependencies(&dir.join(&req.name), &mut warnings)?;
            for w in warnings.drain(..) {
                warn(&w);
            }
            for d in deps {
                if !done.contains(&d.name) && !queue.iter().any(|q| q.name == d.name) {
                    println!("- adding dependency: {}", d.name);
                    queue.push_back(d);
                }
            }
        }
        if lock_path.is_some() {
            new_lock.roles.insert(entry.name.clone(), entry);
        }
    }
    if let (Some(p), Some(old)) = (&lock_path, &old)
        && (new_lock != *old || !p.exists())
    {
        new_lock.write(p)?;
        println!("- wrote {}", p.display());
    }
    Ok(0)
}

/// `tutti roles list`: `# DIR` then `- name, version` per role, with the
/// lock status when a `roles.lock` is found.
fn list(args: &RolesListArgs) -> Result<u8, Diagnostic> {
    let dirs = match &args.roles_path {
        Some(p) => vec![p.clone()],
        None => configured_roles_path(),
    };
    let lock_path = match &args.role_file {
        Some(f) => Some(lock::path_for(f)),
        None => [
            PathBuf::from(lock::FILE_NAME),
            PathBuf::from("roles").join(lock::FILE_NAME),
        ]
        .into_iter()
        .find(|p| p.is_file()),
    };
    let lock = match &lock_path {
        Some(p) => Some(Lock::read(p)?),
        None => None,
    };
    let mut found = false;
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            warn(&format!(
                "- the configured path {} does not exist.",
                dir.display()
            ));
            continue;
        };
        let mut names: Vec<String> = rd
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .filter(|n| args.name.as_deref().is_none_or(|want| want == n))
            .collect();
        names.sort();
        let abs = std::path::absolute(&dir).unwrap_or(dir.clone());
        if names.is_empty() {
            continue;
        }
        println!("# {}", abs.display());
        for n in names {
            found = true;
            let role = dir.join(&n);
            let version = installed_version(&role)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "(unknown version)".into());
            let status = match lock.as_ref().map(|l| l.roles.get(&n)) {
                None => String::new(),
                Some(None) => " (not locked)".into(),
                Some(Some(e)) => match lock::content_hash(&role) {
                    Ok(h) if h == e.sha256 => format!(" (locked {})", short(&e.commit)),
                    Ok(_) => format!(" (modified; locked {})", short(&e.commit)),
                    Err(_) => " (unreadable)".into(),
                },
            };
            println!("- {n}, {version}{status}");
        }
    }
    if let (Some(want), false) = (&args.name, found) {
        warn(&format!("- the role {want} was not found"));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_requirement_forms() {
        let r = parse_requirement(&json!("git+https://h/team/web.git,v1.0,site")).unwrap();
        assert_eq!(
            r,
            Requirement {
                name: "site".into(),
                src: "https://h/team/web.git".into(),
                scm: Some("git".into()),
                version: "v1.0".into()
            }
        );
        let r =
            parse_requirement(&json!({"src": "https://github.com/a/ansible-role-x.git"})).unwrap();
        assert_eq!(r.scm.as_deref(), Some("git"));
        assert_eq!(r.name, "ansible-role-x");
        let r = parse_requirement(
            &json!({"src": "git@h:team/private.git", "scm": "git", "role": "p", "version": 1.5}),
        )
        .unwrap();
        assert_eq!((r.name.as_str(), r.version.as_str()), ("p", "1.5"));
        let r = parse_requirement(&json!({"role": "git+file:///x/y.git,main"})).unwrap();
        assert_eq!((r.name.as_str(), r.version.as_str()), ("y", "main"));
        let mut w = Vec::new();
        let rs = parse_requirements(
            &json!({"roles": ["git+file:///a.git"], "collections": [{"name": "c.d"}]}),
            "req.yml",
            &mut w,
        )
        .unwrap();
        assert_eq!(rs.len(), 1);
        assert_eq!(w.len(), 1);
    }
}
