//! The `git` module: clones a repository to `dest` and keeps it at
//! `version` (a branch, a tag, a commit, or the remote's `HEAD`).
//!
//! `check` is one probe script: the checkout's `HEAD`, remote URL and
//! local modifications, and `git ls-remote REPO HEAD VERSION` for the
//! commit the remote has. The task is in sync when `HEAD` already is that
//! commit (or starts with a short sha `version`), the remote URL matches
//! and nothing is modified. `apply` runs `git clone` or `git fetch` and
//! checks the version out, one `git` command at a time.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::cmd::Cmd;
use crate::host::{Host, HostRead, Output};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Diff, Facts, Plan};
use crate::spec::{self, ModuleSpec, Support, param};
use crate::text;

/// The `git` module.
pub struct Git;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_bool")]
    accept_hostkey: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    accept_newhostkey: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    bare: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    clone: Option<bool>,
    #[serde(default)]
    depth: Option<Value>,
    #[serde(deserialize_with = "params::opt_string")]
    dest: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    executable: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    key_file: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    recursive: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    reference: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    refspec: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    remote: Option<String>,
    #[serde(alias = "name", deserialize_with = "params::opt_string")]
    repo: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    single_branch: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    ssh_opts: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    track_submodules: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    umask: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    update: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    version: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "git",
    short: "Clone a git repository and keep it at a version",
    description: "Clones `repo` into `dest` on the target and keeps the checkout at \
        `version`: a branch, a tag, a commit (full or abbreviated), or the \
        remote's `HEAD`. The check compares the checkout's `HEAD`, remote URL and \
        local modifications with what `git ls-remote` reports, so nothing is \
        fetched or checked out when the checkout is already at that commit. \
        Local modifications make the task fail unless `force` is set.",
    params: &[
        param(
            "accept_hostkey",
            spec::Kind::Bool,
            "Accept any SSH host key of the server (turns host key checking off \
            for git's SSH connections).",
        )
        .default("false"),
        param(
            "accept_newhostkey",
            spec::Kind::Bool,
            "Accept the server's SSH host key when it is not yet known, but \
            reject a changed one; cannot be combined with `accept_hostkey`.",
        )
        .default("false"),
        param(
            "bare",
            spec::Kind::Bool,
            "Make a bare repository (no working tree); `version` is then not \
            checked out.",
        )
        .default("false"),
        param(
            "clone",
            spec::Kind::Bool,
            "Clone when `dest` holds no repository; with `false` a missing \
            repository is left missing.",
        )
        .default("true"),
        param(
            "depth",
            spec::Kind::Int,
            "Make a shallow clone (and fetch) with this many commits of history.",
        ),
        param(
            "dest",
            spec::Kind::Path,
            "Directory on the target for the checkout; its parent is created \
            when missing.",
        )
        .required(),
        param(
            "executable",
            spec::Kind::Path,
            "The `git` program to run on the target.",
        )
        .default("git"),
        param(
            "force",
            spec::Kind::Bool,
            "Discard local modifications to tracked files instead of failing.",
        )
        .default("false"),
        param(
            "key_file",
            spec::Kind::Path,
            "SSH private key on the target to authenticate to the server with.",
        ),
        param(
            "recursive",
            spec::Kind::Bool,
            "Initialise and update submodules, recursively, after checking out.",
        )
        .default("true"),
        param(
            "reference",
            spec::Kind::Str,
            "A local repository to borrow objects from when cloning \
            (`git clone --reference`).",
        ),
        param(
            "refspec",
            spec::Kind::Str,
            "An additional refspec to fetch after cloning and when updating, \
            for refs outside branches and tags (pull request heads, say).",
        ),
        param("remote", spec::Kind::Str, "The name of the remote.").default("origin"),
        param(
            "repo",
            spec::Kind::Str,
            "URL or path of the repository to clone.",
        )
        .required()
        .aliases(&["name"]),
        param(
            "single_branch",
            spec::Kind::Bool,
            "Clone only the history of `version`'s branch or tag.",
        )
        .default("false"),
        param(
            "ssh_opts",
            spec::Kind::Str,
            "Extra options for the `ssh` command git uses.",
        ),
        param(
            "track_submodules",
            spec::Kind::Bool,
            "Update submodules to the latest commit of their tracked branch \
            rather than the commit recorded in the repository.",
        )
        .default("false"),
        param(
            "umask",
            spec::Kind::Str,
            "Octal umask (as a string, such as `'0022'`) for the git commands \
            run on the target.",
        ),
        param(
            "update",
            spec::Kind::Bool,
            "Fetch and move an existing checkout to `version`; with `false` an \
            existing repository is left as it is.",
        )
        .default("true"),
        param(
            "version",
            spec::Kind::Str,
            "What to check out: a branch, a tag, a commit SHA (at least 4 hex \
            digits), or `HEAD` for the remote's default branch.",
        )
        .default("HEAD"),
    ],
    check: Support::Full,
    diff: Support::Full,
    example: "- name: Deploy the application at a release tag
  ansible.builtin.git:
    repo: https://github.com/example/app.git
    dest: /srv/app
    version: v2.3.1
    depth: 1

- name: Keep a private checkout on its main branch
  ansible.builtin.git:
    repo: git@github.com:example/private.git
    dest: /opt/private
    version: main
    key_file: /root/.ssh/deploy_key
    accept_newhostkey: true
    force: true
",
    open: false,
    fields: params::fields::<Params>,
};

#[derive(Debug)]
struct Prepped {
    repo: String,
    dest: String,
    version: String,
    remote: String,
    git: String,
    force: bool,
    depth: Option<u64>,
    update: bool,
    clone: bool,
    bare: bool,
    refspec: Option<String>,
    reference: Option<String>,
    single_branch: bool,
    recursive: bool,
    track_submodules: bool,
    umask: Option<String>,
    ssh_command: Option<String>,
}

/// The probe: `$1` git, `$2` dest, `$3` repo, `$4` version, `$5` remote,
/// `$6` bare (1/0), `$7` umask.
const PROBE_SCRIPT: &str = r#"git=$1 dest=$2 repo=$3 version=$4 remote=$5 bare=$6
[ -n "$7" ] && umask "$7"
if [ "$bare" = 1 ]; then marker=$dest/HEAD; else marker=$dest/.git; fi
if [ -e "$marker" ]; then
  echo exists=1
  echo "head=$("$git" -C "$dest" rev-parse HEAD 2>/dev/null)"
  echo "url=$("$git" -C "$dest" config --get "remote.$remote.url" 2>/dev/null)"
  echo "local=$("$git" -C "$dest" rev-parse --verify -q "$version^{commit}" 2>/dev/null)"
  if [ "$bare" != 1 ]; then
    echo "mods=$("$git" -C "$dest" status --porcelain --untracked-files=no 2>/dev/null | wc -l | tr -d ' ')"
  fi
else
  echo exists=0
fi
echo '--tutti-section remote--'
"$git" ls-remote "$repo" HEAD "$version" 2>&1
echo "ls_rc=$?"
"#;

/// What the probe learned.
#[derive(Debug, Default)]
struct Probed {
    exists: bool,
    head: String,
    url: String,
    local: String,
    mods: u64,
    /// `(sha, ref)` lines of `ls-remote`.
    refs: Vec<(String, String)>,
    ls_ok: bool,
    ls_text: String,
}

fn parse_probe(out: &str) -> Probed {
    let mut p = Probed::default();
    let (local, remote) = crate::services::split_section(out, "remote");
    for line in local.lines() {
        match line.split_once('=') {
            Some(("exists", v)) => p.exists = v == "1",
            Some(("head", v)) => p.head = v.trim().to_string(),
            Some(("url", v)) => p.url = v.trim().to_string(),
            Some(("local", v)) => p.local = v.trim().to_string(),
            Some(("mods", v)) => p.mods = v.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut text = Vec::new();
    for line in remote.lines() {
        if let Some(rc) = line.strip_prefix("ls_rc=") {
            p.ls_ok = rc.trim() == "0";
            continue;
        }
        match line.split_once('\t') {
            Some((sha, r)) if sha.len() >= 40 && sha.chars().all(|c| c.is_ascii_hexdigit()) => {
                p.refs.push((sha.to_string(), r.to_string()));
            }
            _ => text.push(line),
        }
    }
    p.ls_text = text.join("\n");
    p
}

/// What `version` named on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Head,
    Branch,
    Tag,
    Sha,
}

fn is_hex(s: &str) -> bool {
    s.len() >= 4 && s.len() <= 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

impl Prepped {
    fn cmd(&self, c: Cmd) -> Cmd {
        let mut c = c.env("GIT_TERMINAL_PROMPT", "0");
        if let Some(ssh) = &self.ssh_command {
            c = c.env("GIT_SSH_COMMAND", ssh.clone());
        }
        c
    }

    fn git(&self, args: &[&str]) -> Cmd {
        self.cmd(
            Cmd::new(&self.git)
                .arg("-C")
                .arg(&self.dest)
                .args(args.iter().copied()),
        )
    }

    fn probe_cmd(&self) -> Cmd {
        self.cmd(Cmd::new("sh").arg("-c").arg(PROBE_SCRIPT).arg("sh").args([
            self.git.clone(),
            self.dest.clone(),
            self.repo.clone(),
            self.version.clone(),
            self.remote.clone(),
            if self.bare { "1" } else { "0" }.to_string(),
            self.umask.clone().unwrap_or_default(),
        ]))
    }

    /// The remote commit for `version`, and what kind of name it was.
    fn resolve(&self, p: &Probed) -> Result<(Option<String>, Kind), ModuleError> {
        if !p.ls_ok {
            return Err(ModuleError::failed(format!(
                "Failed to run git ls-remote for {}: {}",
                self.repo,
                p.ls_text.trim()
            )));
        }
        let find = |r: &str| {
            p.refs
                .iter()
                .find(|(_, name)| name == r)
                .map(|(s, _)| s.clone())
        };
        if self.version == "HEAD" {
            return Ok((find("HEAD"), Kind::Head));
        }
        if let Some(s) = find(&format!("refs/heads/{}", self.version)) {
            return Ok((Some(s), Kind::Branch));
        }
        if let Some(s) = find(&format!("refs/tags/{}^{{}}", self.version))
            .or_else(|| find(&format!("refs/tags/{}", self.version)))
        {
            return Ok((Some(s), Kind::Tag));
        }
        if is_hex(&self.version) {
            let sha = (self.version.len() == 40).then(|| self.version.clone());
            return Ok((sha, Kind::Sha));
        }
        Err(ModuleError::failed(format!(
            "Cannot find version {} in the remote repository {}",
            self.version, self.repo
        )))
    }

    fn result(&self, before: Option<&str>, after: Option<&str>) -> Facts {
        let mut r = Facts::new();
        r.insert("before".into(), json!(before));
        r.insert("after".into(), json!(after));
        r
    }

    fn plan(&self, out: &Output) -> Result<Plan, ModuleError> {
        let p = parse_probe(&text::decode(&out.stdout));
        if !p.exists {
            if !self.clone {
                let (sha, _) = self.resolve(&p)?;
                return Ok(Plan::InSync {
                    result: self.result(None, sha.as_deref()),
                });
            }
            let (sha, _) = self.resolve(&p)?;
            let after = sha.clone().unwrap_or_else(|| self.version.clone());
            return Ok(Plan::Change {
                changes: vec![format!("clone {} into {} at {after}", self.repo, self.dest)],
                diff: vec![Diff {
                    data: None,
                    before: String::new(),
                    after: format!("{after}\n"),
                    ..Diff::default()
                }],
                result: self.result(None, Some(&after)),
            });
        }
        let before = p.head.clone();
        if !self.update {
            return Ok(Plan::InSync {
                result: self.result(Some(&before), Some(&before)),
            });
        }
        let mut result = self.result(Some(&before), Some(&before));
        if p.mods > 0 && !self.force {
            return Err(ModuleError::Failed {
                msg: format!(
                    "Local modifications exist in the destination: {} (force=no).",
                    self.dest
                ),
                result,
            });
        }
        let (sha, kind) = self.resolve(&p)?;
        let at_version = match (&sha, kind) {
            (Some(s), _) => *s == before,
            (None, Kind::Sha) => {
                before.starts_with(&self.version) || (!p.local.is_empty() && p.local == before)
            }
            (None, _) => false,
        };
        let url_changed = p.url != self.repo;
        result.insert("remote_url_changed".into(), json!(url_changed));
        let after = sha.unwrap_or_else(|| self.version.clone());
        let mut changes = Vec::new();
        if url_changed {
            changes.push(format!("set remote {} to {}", self.remote, self.repo));
        }
        if p.mods > 0 {
            changes.push(format!("discard local modifications in {}", self.dest));
        }
        if !at_version {
            changes.push(format!("update {} from {before} to {after}", self.dest));
        }
        if changes.is_empty() {
            return Ok(Plan::InSync { result });
        }
        let after_shown = if at_version { before.clone() } else { after };
        result.insert("after".into(), json!(after_shown));
        Ok(Plan::Change {
            changes,
            diff: vec![Diff {
                data: None,
                before: format!("{before}\n"),
                after: format!("{after_shown}\n"),
                ..Diff::default()
            }],
            result,
        })
    }

    async fn run(&self, host: &dyn Host, c: Cmd, what: &str) -> Result<Output, ModuleError> {
        let c = match &self.umask {
            Some(u) => {
                let rendered = c.render();
                Cmd::script(format!("umask {} && {rendered}", crate::cmd::quote(u)))
            }
            None => c,
        };
        let out = host.run(&c).await?;
        if !out.success() {
            return Err(crate::services::command_failed(what, &out));
        }
        Ok(out)
    }

    async fn clone_repo(&self, host: &dyn Host, kind: &Kind) -> Result<(), ModuleError> {
        let parent = match self.dest.trim_end_matches('/').rsplit_once('/') {
            Some(("", _)) => "/".to_string(),
            Some((p, _)) => p.to_string(),
            None => ".".to_string(),
        };
        self.run(
            host,
            Cmd::new("mkdir").arg("-p").arg(&parent),
            "Failed to create the parent of dest",
        )
        .await?;
        let mut c = Cmd::new(&self.git).arg("clone");
        if self.bare {
            c = c.arg("--bare");
        }
        if let Some(d) = self.depth {
            c = c.arg("--depth").arg(d.to_string());
        }
        if let Some(r) = &self.reference {
            c = c.arg("--reference").arg(r);
        }
        let named = matches!(kind, Kind::Branch | Kind::Tag);
        if self.single_branch {
            c = c.arg("--single-branch");
        } else if self.depth.is_some() {
            c = c.arg("--no-single-branch");
        }
        if named && (self.depth.is_some() || self.single_branch) {
            c = c.arg("--branch").arg(&self.version);
        }
        if !self.bare {
            c = c.arg("--origin").arg(&self.remote);
        }
        c = c.arg("--").arg(&self.repo).arg(&self.dest);
        self.run(host, self.cmd(c), "Failed to clone").await?;
        if let Some(r) = &self.refspec {
            self.run(
                host,
                self.git(&["fetch", &self.remote, r]),
                "Failed to fetch the refspec",
            )
            .await?;
        }
        Ok(())
    }

    async fn switch(
        &self,
        host: &dyn Host,
        kind: &Kind,
        sha: Option<&str>,
    ) -> Result<(), ModuleError> {
        if self.bare {
            return Ok(());
        }
        let v = self.version.as_str();
        match kind {
            Kind::Head => {
                let on_branch = host
                    .run(&self.git(&["symbolic-ref", "-q", "HEAD"]))
                    .await?
                    .success();
                let target = sha.unwrap_or("FETCH_HEAD");
                let args: &[&str] = if on_branch {
                    &["reset", "--hard", target]
                } else {
                    &["checkout", "--force", target]
                };
                self.run(host, self.git(args), "Failed to check out HEAD")
                    .await?;
            }
            Kind::Branch => {
                let start = format!("{}/{v}", self.remote);
                self.run(
                    host,
                    self.git(&["checkout", "--force", "-B", v, &start]),
                    &format!("Failed to checkout branch {v}"),
                )
                .await?;
            }
            Kind::Tag | Kind::Sha => {
                self.run(
                    host,
                    self.git(&["checkout", "--force", v]),
                    &format!("Failed to checkout {v}"),
                )
                .await?;
            }
        }
        if self.recursive {
            let mut args = vec!["submodule", "update", "--init", "--recursive"];
            if self.track_submodules {
                args.push("--remote");
            }
            self.run(host, self.git(&args), "Failed to update submodules")
                .await?;
        }
        Ok(())
    }

    async fn fetch(&self, host: &dyn Host) -> Result<(), ModuleError> {
        let mut args: Vec<String> = vec!["fetch".into()];
        if let Some(d) = self.depth {
            args.push(format!("--depth={d}"));
        }
        args.push(self.remote.clone());
        if let Some(r) = &self.refspec {
            args.push(r.clone());
        }
        if self.bare {
            args.push("+refs/heads/*:refs/heads/*".into());
        } else {
            args.push(format!("+refs/heads/*:refs/remotes/{}/*", self.remote));
        }
        args.push("+refs/tags/*:refs/tags/*".into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(
            host,
            self.git(&refs),
            "Failed to download remote objects and refs",
        )
        .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let out = host.probe(&self.probe_cmd()).await?;
        self.plan(&out)
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let result = match plan {
            Plan::InSync { result } => {
                return Ok(Applied {
                    result,
                    ..Applied::default()
                });
            }
            Plan::Change { result, .. } => result,
            Plan::Unpredictable { .. } => Facts::new(),
        };
        // Probe again: apply acts on what is there now.
        let p = parse_probe(&text::decode(&host.probe(&self.probe_cmd()).await?.stdout));
        let (sha, kind) = self.resolve(&p)?;
        let before = result.get("before").cloned().unwrap_or(Value::Null);
        if !p.exists {
            self.clone_repo(host, &kind).await?;
            let default_head = kind == Kind::Head;
            if !default_head || self.refspec.is_some() {
                self.switch(host, &kind, sha.as_deref()).await?;
            } else if self.recursive && !self.bare {
                self.run(
                    host,
                    self.git(&["submodule", "update", "--init", "--recursive"]),
                    "Failed to update submodules",
                )
                .await?;
            }
        } else {
            if p.url != self.repo {
                self.run(
                    host,
                    self.git(&["remote", "set-url", &self.remote, &self.repo]),
                    "Failed to set the remote URL",
                )
                .await?;
            }
            if p.mods > 0 && self.force && !self.bare {
                self.run(
                    host,
                    self.git(&["reset", "--hard", "HEAD"]),
                    "Failed to reset",
                )
                .await?;
            }
            self.fetch(host).await?;
            self.switch(host, &kind, sha.as_deref()).await?;
        }
        let out = self
            .run(
                host,
                self.git(&["rev-parse", "HEAD"]),
                "Failed to read HEAD",
            )
            .await?;
        let after = text::decode(&out.stdout).trim().to_string();
        let mut r = result;
        r.insert("after".into(), json!(after));
        let before_s = before.as_str().unwrap_or("").to_string();
        Ok(Applied {
            changed: true,
            diff: vec![Diff {
                data: None,
                before: if before_s.is_empty() {
                    String::new()
                } else {
                    format!("{before_s}\n")
                },
                after: format!("{after}\n"),
                ..Diff::default()
            }],
            result: r,
            ..Applied::default()
        })
    }
}

fn ssh_command(p: &Params) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    if p.accept_hostkey == Some(true) {
        parts.push("-o StrictHostKeyChecking=no".into());
    } else if p.accept_newhostkey == Some(true) {
        parts.push("-o StrictHostKeyChecking=accept-new".into());
    }
    if let Some(k) = &p.key_file {
        parts.push(format!("-i {} -o IdentitiesOnly=yes", crate::cmd::quote(k)));
    }
    if let Some(o) = &p.ssh_opts {
        parts.push(o.clone());
    }
    if parts.is_empty() {
        return None;
    }
    Some(format!("ssh {}", parts.join(" ")))
}

impl Module for Git {
    fn name(&self) -> &'static str {
        "git"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let Some(repo) = p.repo.clone().filter(|s| !s.is_empty()) else {
            return Err(ParamError::at("repo", "missing required arguments: repo"));
        };
        let Some(dest) = p.dest.clone().filter(|s| !s.is_empty()) else {
            return Err(ParamError::at("dest", "missing required arguments: dest"));
        };
        if p.accept_hostkey == Some(true) && p.accept_newhostkey == Some(true) {
            return Err(ParamError::new(
                "parameters are mutually exclusive: accept_hostkey|accept_newhostkey",
            ));
        }
        let depth = match &p.depth {
            None | Some(Value::Null) => None,
            v => {
                let d = crate::wait::seconds("depth", v.as_ref(), 0)?;
                if d == 0 {
                    return Err(ParamError::at("depth", "depth must be a positive integer"));
                }
                Some(d)
            }
        };
        if let Some(u) = &p.umask
            && (u.is_empty() || !u.chars().all(|c| ('0'..='7').contains(&c)))
        {
            return Err(ParamError::at(
                "umask",
                format!("umask must be octal, got: {u}"),
            ));
        }
        let ssh = ssh_command(&p);
        Ok(Box::new(Prepped {
            repo,
            dest: dest.trim_end_matches('/').to_string(),
            version: p
                .version
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "HEAD".into()),
            remote: p
                .remote
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "origin".into()),
            git: p
                .executable
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "git".into()),
            force: p.force.unwrap_or(false),
            depth,
            update: p.update.unwrap_or(true),
            clone: p.clone.unwrap_or(true),
            bare: p.bare.unwrap_or(false),
            refspec: p.refspec.filter(|v| !v.is_empty()),
            reference: p.reference.filter(|v| !v.is_empty()),
            single_branch: p.single_branch.unwrap_or(false),
            recursive: p.recursive.unwrap_or(true),
            track_submodules: p.track_submodules.unwrap_or(false),
            umask: p.umask,
            ssh_command: ssh,
        }))
    }
}
