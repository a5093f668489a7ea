//! The `copy` module: put controller content (`content`, or a file or
//! directory at `src`) or a host file (`remote_src`) at `dest`,
//! idempotently by SHA-1 (the controller file is hashed streaming; the
//! host's checksum comes from the same probe as its stat), atomically,
//! with `mode`/`owner`/`group`, `backup`, `validate` and `force`.
//!
//! Round trips for one file: check is one probe when in sync (two when the
//! file changes and the diff needs the old content, one more when `dest`
//! is a directory); apply is one run.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::attrs::{self, Mode, ModeParam, mode_str};
use super::common::{self, Stash, Want};
use crate::fs::{self, ChecksumAlgo, Content, FileStat, StatOpts, WriteOpts, WriteResult};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Diff, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// Ansible's `MAX_FILE_SIZE_FOR_DIFF`.
pub const MAX_DIFF: u64 = 104_448;

/// The `copy` module.
pub struct Copy;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_string")]
    src: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    content: Option<String>,
    dest: String,
    #[serde(default, deserialize_with = "params::opt_bool")]
    backup: Option<bool>,
    #[serde(default, alias = "thirsty", deserialize_with = "params::opt_bool")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "attrs::opt_mode")]
    mode: Option<ModeParam>,
    #[serde(default, deserialize_with = "attrs::opt_mode")]
    directory_mode: Option<ModeParam>,
    #[serde(default, deserialize_with = "params::opt_string")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    group: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    remote_src: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    follow: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    local_follow: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    checksum: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    validate: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    decrypt: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    unsafe_writes: Option<bool>,
    #[serde(default)]
    _original_basename: Option<Value>,
    #[serde(default)]
    seuser: Option<Value>,
    #[serde(default)]
    serole: Option<Value>,
    #[serde(default)]
    setype: Option<Value>,
    #[serde(default)]
    selevel: Option<Value>,
    #[serde(default, alias = "attr")]
    attributes: Option<Value>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "copy",
    short: "Copy files or inline content to the target",
    description: "Puts a controller file, a controller directory (recursively), \
        inline `content`, or with `remote_src` a file already on the target, at \
        `dest`. Files are compared by SHA-1 first and written only when they \
        differ, through a temporary file renamed into place, so a reader never \
        sees half a file. Vault-encrypted sources are decrypted unless \
        `decrypt: false`.",
    params: &[
        param(
            "src",
            Kind::Path,
            "Controller path of a file or directory to copy \
            (relative paths resolve in the role's or playbook's `files/`). A \
            directory ending in `/` copies its contents, otherwise the directory \
            itself. With `remote_src`, a path on the target.",
        ),
        param(
            "content",
            Kind::Str,
            "Text to write to `dest` instead of `src`.",
        ),
        param(
            "dest",
            Kind::Path,
            "Where to put the file on the target. A path \
            ending in `/`, or an existing directory, receives the file under its \
            source name.",
        )
        .required(),
        param(
            "backup",
            Kind::Bool,
            "Keep a timestamped copy of the file being \
            replaced beside it.",
        )
        .default("false"),
        param(
            "force",
            Kind::Bool,
            "Replace `dest` when its content differs; \
            with `false` only a missing file is written.",
        )
        .default("true")
        .aliases(&["thirsty"]),
        param(
            "mode",
            Kind::Raw,
            "Permissions: octal (`'0644'`), symbolic \
            (`u=rw,g=r`), or `preserve` to keep the source's mode.",
        ),
        param(
            "directory_mode",
            Kind::Raw,
            "Permissions of directories created \
            while copying a directory.",
        ),
        param("owner", Kind::Str, "User that should own the file."),
        param("group", Kind::Str, "Group that should own the file."),
        param(
            "remote_src",
            Kind::Bool,
            "Read `src` on the target instead of \
            the controller.",
        )
        .default("false"),
        param(
            "follow",
            Kind::Bool,
            "Follow a symlink at `dest` and write its \
            target.",
        )
        .default("false"),
        param(
            "local_follow",
            Kind::Bool,
            "Follow symlinks found in the \
            controller source.",
        )
        .default("true"),
        param(
            "checksum",
            Kind::Str,
            "Expected SHA-1 of the source; the task \
            fails when it does not match.",
        ),
        param(
            "validate",
            Kind::Str,
            "Command run on the new content before it \
            replaces `dest`; `%s` stands for the temporary file's path. A \
            non-zero exit fails the task and leaves `dest` alone.",
        ),
        param("decrypt", Kind::Bool, "Decrypt a vault-encrypted source.").default("true"),
        param(
            "unsafe_writes",
            Kind::Bool,
            "Accepted for compatibility; writes \
            are always atomic.",
        )
        .default("false"),
        param("_original_basename", Kind::Str, "Set by the engine."),
        param(
            "seuser",
            Kind::Str,
            "Accepted for compatibility (SELinux is not managed).",
        ),
        param(
            "serole",
            Kind::Str,
            "Accepted for compatibility (SELinux is not managed).",
        ),
        param(
            "setype",
            Kind::Str,
            "Accepted for compatibility (SELinux is not managed).",
        ),
        param(
            "selevel",
            Kind::Str,
            "Accepted for compatibility (SELinux is not managed).",
        ),
        param(
            "attributes",
            Kind::Str,
            "Accepted for compatibility (file \
            attributes are not managed).",
        )
        .aliases(&["attr"]),
    ],
    check: Support::Full,
    diff: Support::Full,
    example: "- name: Install the site configuration
  ansible.builtin.copy:
    src: nginx.conf
    dest: /etc/nginx/nginx.conf
    owner: root
    mode: '0644'
    backup: true
    validate: nginx -t -c %s

- name: Write a file from inline content
  ansible.builtin.copy:
    content: \"{{ motd_text }}\\n\"
    dest: /etc/motd
",
    open: false,
    fields: params::fields::<Params>,
};

#[derive(Debug, Clone)]
enum Source {
    Content(Vec<u8>),
    Local(PathBuf),
    LocalDir { root: PathBuf, contents_only: bool },
    Remote(String),
}

struct Task {
    source: Source,
    /// For content: its name in a directory `dest` (`_original_basename`).
    content_name: Option<String>,
    src_key: Option<String>,
    dest: String,
    backup: bool,
    force: bool,
    mode: Option<ModeParam>,
    dir_mode: Option<Mode>,
    owner: Option<String>,
    group: Option<String>,
    follow: bool,
    local_follow: bool,
    checksum: Option<String>,
    validate: Option<String>,
    unsafe_writes: bool,
    stash: Stash<Vec<Step>>,
}

/// One thing apply does.
#[derive(Debug, Clone)]
enum Step {
    Mkdir(String),
    Write {
        dest: String,
        content: Content,
        want: Want,
        backup: bool,
    },
    Attrs {
        dest: String,
        want: Want,
    },
    /// A symlink copied as a symlink (`local_follow: false`).
    Link {
        dest: String,
        target: String,
    },
}

fn bad(param: &str, msg: impl Into<String>) -> ParamError {
    ParamError::at(param, msg)
}

impl Module for Copy {
    fn name(&self) -> &'static str {
        "copy"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        // The file name content goes under when `dest` is a directory (the
        // template action passes the template's name).
        let content_name = match &p._original_basename {
            Some(Value::String(n)) if !n.is_empty() && !n.contains('/') => Some(n.clone()),
            _ => None,
        };
        let _ = (
            &p.seuser,
            &p.serole,
            &p.setype,
            &p.selevel,
            &p.attributes,
            p.decrypt,
        );
        let remote_src = p.remote_src.unwrap_or(false);
        let local_follow = p.local_follow.unwrap_or(true);
        let src = p.src.clone().filter(|s| !s.is_empty());
        let source = match (&src, &p.content) {
            (Some(_), Some(_)) => return Err(bad("src", "src and content are mutually exclusive")),
            (None, None) => return Err(bad("src", "src (or content) is required")),
            (None, Some(c)) => {
                if p.dest.ends_with('/') && content_name.is_none() {
                    return Err(bad("dest", "can not use content with a dir as dest"));
                }
                Source::Content(text::encode(c))
            }
            (Some(s), None) if remote_src => Source::Remote(s.clone()),
            (Some(s), None) => {
                let path = PathBuf::from(s);
                if !path.is_absolute() {
                    return Err(bad(
                        "src",
                        format!("src must be an absolute controller path, got {s}"),
                    ));
                }
                if path.is_dir() {
                    Source::LocalDir {
                        root: path,
                        contents_only: s.ends_with('/'),
                    }
                } else {
                    Source::Local(path)
                }
            }
        };
        common::check_validate(&p.validate)?;
        let dir_mode = match p.directory_mode {
            Some(ModeParam::Mode(m)) => Some(m),
            Some(ModeParam::Preserve) => {
                return Err(bad("directory_mode", "directory_mode cannot be 'preserve'"));
            }
            None => None,
        };
        Ok(Box::new(Task {
            source,
            content_name,
            src_key: p.src,
            dest: p.dest,
            backup: p.backup.unwrap_or(false),
            force: p.force.unwrap_or(true),
            mode: p.mode,
            dir_mode,
            owner: p.owner.filter(|s| !s.is_empty()),
            group: p.group.filter(|s| !s.is_empty()),
            follow: p.follow.unwrap_or(false),
            local_follow,
            checksum: p.checksum.map(|c| c.to_ascii_lowercase()),
            validate: p.validate,
            unsafe_writes: p.unsafe_writes.unwrap_or(false),
            stash: Stash::default(),
        }))
    }
}

fn basename(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p)
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

#[cfg(unix)]
fn local_mode(p: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn local_mode(_p: &Path) -> Option<u32> {
    None
}

/// Files and directories under `root` (relative paths), sorted.
/// A controller tree: files, directories, and (when not following them)
/// symlinks with their targets, all relative to the root.
type Walked = (Vec<String>, Vec<String>, Vec<(String, String)>);

fn walk(root: &Path, follow: bool) -> Result<Walked, String> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut links = Vec::new();
    // Each directory to walk carries the real paths of the directories
    // it is inside: a link back to one of them is a cycle.
    let start = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut todo = vec![(root.to_path_buf(), String::new(), vec![start])];
    while let Some((dir, rel, ancestors)) = todo.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let path = e.path();
            let lmeta =
                std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            // Following links, as Ansible's copy does, except those that
            // cannot be followed: a dangling link, or one back into a
            // directory being copied (a cycle), stays a link.
            let real = std::fs::canonicalize(&path).ok();
            let meta = if follow && lmeta.is_symlink() {
                match std::fs::metadata(&path) {
                    Ok(m) if m.is_dir() && real.as_ref().is_some_and(|r| ancestors.contains(r)) => {
                        lmeta
                    }
                    Ok(m) => m,
                    Err(_) => lmeta,
                }
            } else {
                lmeta
            };
            if meta.is_dir() {
                dirs.push(r.clone());
                let mut inside = ancestors.clone();
                inside.extend(real);
                todo.push((path, r, inside));
            } else if meta.is_file() {
                files.push(r);
            } else if meta.is_symlink()
                && let Ok(target) = std::fs::read_link(&path)
            {
                links.push((r, target.to_string_lossy().into_owned()));
            }
        }
    }
    files.sort();
    dirs.sort();
    links.sort();
    Ok((files, dirs, links))
}

/// What check found out about one file to copy.
struct FilePlan {
    step: Option<Step>,
    changes: Vec<String>,
    diff: Vec<Diff>,
    result: Facts,
}

impl Task {
    fn want_for(&self, src_mode: Option<u32>) -> Want {
        let mode = match &self.mode {
            Some(ModeParam::Mode(m)) => Some(m.clone()),
            Some(ModeParam::Preserve) => src_mode.map(Mode::Octal),
            None => None,
        };
        Want {
            mode,
            owner: self.owner.clone(),
            group: self.group.clone(),
        }
    }

    fn stat_opts(&self) -> StatOpts {
        StatOpts {
            follow: self.follow,
            checksum: Some(ChecksumAlgo::Sha1),
            ..StatOpts::default()
        }
    }

    /// Plans one file: `content` goes to `dest` (already resolved).
    #[allow(clippy::too_many_arguments)]
    async fn plan_file(
        &self,
        host: &dyn HostRead,
        dest: &str,
        st: Option<FileStat>,
        content: Content,
        checksum: String,
        size: u64,
        small: Option<Vec<u8>>,
        src_mode: Option<u32>,
    ) -> Result<FilePlan, ModuleError> {
        let want = self.want_for(src_mode);
        let mut result = Facts::new();
        result.insert("dest".into(), json!(dest));
        result.insert("checksum".into(), json!(checksum));
        result.insert("size".into(), json!(size));
        if let Some(s) = &self.src_key {
            result.insert("src".into(), json!(s));
        }
        if let Some(s) = &st
            && s.is_dir()
        {
            if matches!(self.source, Source::Content(_)) && self.content_name.is_none() {
                return Err(ModuleError::failed(
                    "can not use content with a dir as dest",
                ));
            }
            return Err(ModuleError::failed(format!(
                "Destination {dest} is a directory"
            )));
        }
        let Some(cur) = st else {
            let mut info = Facts::new();
            info.insert("state".into(), json!("file"));
            info.insert("mode".into(), json!(mode_str(want.new_file_mode(false))));
            if let Some(o) = &want.owner {
                info.insert("owner".into(), json!(o));
            }
            if let Some(g) = &want.group {
                info.insert("group".into(), json!(g));
            }
            result.extend(info);
            let after = match &small {
                Some(b) => text::decode(b),
                None => {
                    format!("[[ diff skipped: source file size is greater than {MAX_DIFF} ]]\n")
                }
            };
            return Ok(FilePlan {
                step: Some(Step::Write {
                    dest: dest.into(),
                    content,
                    want,
                    backup: false,
                }),
                changes: vec![format!("create {dest}")],
                // A new file has no "before" path, as in Ansible's diff.
                diff: vec![Diff {
                    data: None,
                    before_header: None,
                    after_header: Some(dest.into()),
                    before: String::new(),
                    after,
                }],
                result,
            });
        };
        let same = cur.checksum.as_deref() == Some(checksum.as_str());
        if !same && !self.force {
            common::path_info(&mut result, Some(&cur));
            return Ok(FilePlan {
                step: None,
                changes: Vec::new(),
                diff: Vec::new(),
                result,
            });
        }
        let delta = want.delta(&cur);
        common::predicted_info(&mut result, &cur, &delta);
        result.insert("state".into(), json!("file"));
        if same {
            let changes = delta.lines(dest);
            let step = (!delta.is_empty()).then(|| Step::Attrs {
                dest: dest.into(),
                want: want.clone(),
            });
            let diff = common::attr_diff(dest, &delta).into_iter().collect();
            return Ok(FilePlan {
                step,
                changes,
                diff,
                result,
            });
        }
        let before = if cur.size <= MAX_DIFF && cur.is_file() {
            let s = host
                .stat(dest, &StatOpts::follow().with_content(MAX_DIFF))
                .await?;
            match s.and_then(|s| s.content) {
                Some(c) => text::decode(&c),
                None => String::new(),
            }
        } else {
            format!("[[ diff skipped: destination file size is greater than {MAX_DIFF} ]]\n")
        };
        let after = match &small {
            Some(b) => text::decode(b),
            None => format!("[[ diff skipped: source file size is greater than {MAX_DIFF} ]]\n"),
        };
        let mut changes = vec![format!("update {dest}")];
        changes.extend(delta.lines(dest));
        Ok(FilePlan {
            step: Some(Step::Write {
                dest: dest.into(),
                content,
                want,
                backup: self.backup,
            }),
            changes,
            diff: vec![Diff {
                data: None,
                before_header: Some(dest.into()),
                after_header: Some(dest.into()),
                before,
                after,
            }],
            result,
        })
    }

    /// Where a file named `name` goes: `dest`, or inside it when `dest`
    /// ends with `/` or is a directory. Returns the path and its stat.
    async fn resolve_dest(
        &self,
        host: &dyn HostRead,
        name: &str,
    ) -> Result<(String, Option<FileStat>, bool), ModuleError> {
        let opts = self.stat_opts();
        let into_dir = self.dest.ends_with('/');
        if !into_dir {
            let st = host.stat(&self.dest, &opts).await?;
            match &st {
                Some(s) if s.is_dir() && !name.is_empty() => {}
                Some(s) if s.is_link() && !self.follow => {
                    // A symlink to a directory is a directory here.
                    let t = host.stat(&self.dest, &StatOpts::follow()).await?;
                    if !t.as_ref().is_some_and(FileStat::is_dir) || name.is_empty() {
                        return Ok((self.dest.clone(), st, false));
                    }
                }
                _ => return Ok((self.dest.clone(), st, false)),
            }
        }
        if name.is_empty() {
            return Err(ModuleError::failed(format!(
                "Destination {} is a directory",
                self.dest
            )));
        }
        let d = join(&self.dest, name);
        let st = host.stat(&d, &opts).await?;
        Ok((d, st, into_dir))
    }

    async fn parent_missing(&self, host: &dyn HostRead, dest: &str) -> Result<bool, ModuleError> {
        let parent = common::parent(dest);
        match host.stat(parent, &StatOpts::follow()).await? {
            Some(s) if s.is_dir() => Ok(false),
            Some(_) => Err(ModuleError::failed(format!(
                "Destination {parent} is not a directory"
            ))),
            None => Ok(true),
        }
    }

    async fn check_single(
        &self,
        host: &dyn HostRead,
    ) -> Result<(Vec<Step>, FilePlan), ModuleError> {
        // Ansible's legacy `md5sum` of the content, when the controller
        // has it (a remote source is not read twice for it).
        let mut md5sum = None;
        let (content, checksum, size, small, src_mode, name) = match &self.source {
            Source::Content(b) => (
                Content::Bytes(b.clone()),
                {
                    md5sum = Some(fs::checksum(ChecksumAlgo::Md5, b));
                    fs::checksum(ChecksumAlgo::Sha1, b)
                },
                b.len() as u64,
                (b.len() as u64 <= MAX_DIFF).then(|| b.clone()),
                None,
                self.content_name.clone().unwrap_or_default(),
            ),
            Source::Local(p) => {
                let meta = std::fs::metadata(p).map_err(|e| {
                    ModuleError::failed(format!("could not find src={}, {e}", p.display()))
                })?;
                let (sum, md5) = fs::digests_local_file(p)
                    .await
                    .map_err(|e| ModuleError::failed(format!("could not read src: {e}")))?;
                md5sum = Some(md5);
                let small = if meta.len() <= MAX_DIFF {
                    std::fs::read(p).ok()
                } else {
                    None
                };
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (
                    Content::LocalFile(p.clone()),
                    sum,
                    meta.len(),
                    small,
                    local_mode(p),
                    name,
                )
            }
            Source::Remote(src) => {
                let st = host
                    .stat(src, &StatOpts::follow().with_checksum(ChecksumAlgo::Sha1))
                    .await?
                    .ok_or_else(|| ModuleError::failed(format!("Source {src} not found")))?;
                if !st.is_file() {
                    // Directories were planned as trees before this.
                    return Err(ModuleError::failed(format!("Source {src} is not a file")));
                }
                let sum = st
                    .checksum
                    .clone()
                    .ok_or_else(|| ModuleError::failed(format!("Source {src} not readable")))?;
                (
                    Content::Remote(src.clone()),
                    sum,
                    st.size,
                    None,
                    Some(st.mode),
                    basename(src).to_string(),
                )
            }
            Source::LocalDir { .. } => {
                return Err(ModuleError::failed("copy: internal error (directory)"));
            }
        };
        if let Some(want) = &self.checksum
            && want != &checksum
        {
            return Err(ModuleError::failed(format!(
                "Copied file does not match the expected checksum. Transfer failed. \
                 (expected {want}, got {checksum})"
            )));
        }
        let (dest, st, into_dir) = self.resolve_dest(host, &name).await?;
        let mut steps = Vec::new();
        // Without `into_dir` the parent is not probed: the write itself
        // fails with "Destination directory X does not exist" or "... is not
        // a directory", and `--check` on a fresh host (where an earlier task
        // would create the directory) stays a prediction, as in Ansible.
        if into_dir && st.is_none() && self.parent_missing(host, &dest).await? {
            steps.push(Step::Mkdir(common::parent(&dest).to_string()));
        }
        let mut plan = self
            .plan_file(host, &dest, st, content, checksum, size, small, src_mode)
            .await?;
        if let Some(m) = md5sum {
            plan.result.insert("md5sum".into(), json!(m));
        }
        Ok((steps, plan))
    }

    async fn check_dir(
        &self,
        host: &dyn HostRead,
        root: &Path,
        contents_only: bool,
    ) -> Result<(Vec<Step>, Vec<String>, Vec<Diff>), ModuleError> {
        let (files, dirs, links) =
            walk(root, self.local_follow).map_err(|e| ModuleError::failed(e.to_string()))?;
        let mut entries = Vec::new();
        for f in &files {
            let local = root.join(f);
            let meta = std::fs::metadata(&local)
                .map_err(|e| ModuleError::failed(format!("{}: {e}", local.display())))?;
            let sum = fs::sha1_local_file(&local)
                .await
                .map_err(|e| ModuleError::failed(format!("could not read src: {e}")))?;
            let small = if meta.len() <= MAX_DIFF {
                std::fs::read(&local).ok()
            } else {
                None
            };
            entries.push(TreeFile {
                rel: f.clone(),
                content: Content::LocalFile(local.clone()),
                sum,
                size: meta.len(),
                small,
                mode: local_mode(&local),
            });
        }
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.check_tree(host, &name, contents_only, &dirs, entries, links)
            .await
    }

    /// A directory on the target (`remote_src`): its tree, listed with
    /// checksums in one probe, copied file by file on the target.
    async fn check_remote_dir(
        &self,
        host: &dyn HostRead,
        src: &str,
    ) -> Result<(Vec<Step>, Vec<String>, Vec<Diff>), ModuleError> {
        let cmd = crate::cmd::Cmd::new("sh")
            .arg("-c")
            .arg(REMOTE_TREE_SCRIPT)
            .arg("sh")
            .arg(src.trim_end_matches('/'))
            .arg(if self.local_follow { "1" } else { "0" });
        let out = host.probe(&cmd).await?;
        if !out.success() {
            return Err(ModuleError::failed(format!(
                "Cannot read the source directory {src}: {}",
                text::decode(&out.stderr).trim()
            )));
        }
        let mut dirs = Vec::new();
        let mut entries = Vec::new();
        let mut links = Vec::new();
        let fields: Vec<String> = out.stdout.split(|b| *b == 0).map(text::decode).collect();
        let mut i = 0;
        while i < fields.len() {
            let f = &fields[i];
            let rel = |p: &str| p.strip_prefix("./").unwrap_or(p).to_string();
            if let Some(d) = f.strip_prefix('d') {
                dirs.push(rel(d));
                i += 1;
            } else if let Some(path) = f.strip_prefix('f') {
                let sum = fields.get(i + 1).cloned().unwrap_or_default();
                let (size, mode) = fields
                    .get(i + 2)
                    .and_then(|sm| sm.split_once('.'))
                    .map(|(s, m)| (s.parse().unwrap_or(0), u32::from_str_radix(m, 8).ok()))
                    .unwrap_or((0, None));
                let rel = rel(path);
                entries.push(TreeFile {
                    content: Content::Remote(join(src.trim_end_matches('/'), &rel)),
                    rel,
                    sum,
                    size,
                    small: None,
                    mode,
                });
                i += 3;
            } else if let Some(path) = f.strip_prefix('l') {
                links.push((rel(path), fields.get(i + 1).cloned().unwrap_or_default()));
                i += 2;
            } else {
                i += 1;
            }
        }
        dirs.sort();
        let name = basename(src.trim_end_matches('/')).to_string();
        let contents_only = src.ends_with('/');
        self.check_tree(host, &name, contents_only, &dirs, entries, links)
            .await
    }

    /// Plans a copied tree: the directories to create, then each file, then
    /// each symlink kept as a symlink (`(path, target)`).
    async fn check_tree(
        &self,
        host: &dyn HostRead,
        name: &str,
        contents_only: bool,
        dirs: &[String],
        files: Vec<TreeFile>,
        links: Vec<(String, String)>,
    ) -> Result<(Vec<Step>, Vec<String>, Vec<Diff>), ModuleError> {
        let base = if contents_only {
            self.dest.trim_end_matches('/').to_string()
        } else {
            join(&self.dest, name)
        };
        let mut steps = Vec::new();
        let mut changes = Vec::new();
        let mut diff = Vec::new();
        let mut all_dirs = vec![base.clone()];
        all_dirs.extend(dirs.iter().map(|d| join(&base, d)));
        let mut missing: Vec<String> = Vec::new();
        for d in &all_dirs {
            let gone = missing.iter().any(|m| d.starts_with(&format!("{m}/")));
            let st = if gone {
                None
            } else {
                host.stat(d, &StatOpts::follow()).await?
            };
            match st {
                Some(s) if s.is_dir() => {}
                Some(_) => {
                    return Err(ModuleError::failed(format!(
                        "Destination {d} exists and is not a directory"
                    )));
                }
                None => {
                    changes.push(format!("create directory {d}"));
                    steps.push(Step::Mkdir(d.clone()));
                    missing.push(d.clone());
                }
            }
        }
        // Nothing needs looking at under a directory that is not there yet.
        let under_missing = |p: &str| missing.iter().any(|m| p.starts_with(&format!("{m}/")));
        for f in files {
            let dest = join(&base, &f.rel);
            let st = if under_missing(&dest) {
                None
            } else {
                host.stat(&dest, &self.stat_opts()).await?
            };
            let p = self
                .plan_file(host, &dest, st, f.content, f.sum, f.size, f.small, f.mode)
                .await?;
            steps.extend(p.step);
            changes.extend(p.changes);
            diff.extend(p.diff);
        }
        for (rel, target) in links {
            let dest = join(&base, &rel);
            let same = !under_missing(&dest)
                && host
                    .stat(&dest, &StatOpts::lstat())
                    .await?
                    .is_some_and(|c| {
                        c.is_link() && c.lnk_target.as_deref() == Some(target.as_str())
                    });
            if !same {
                changes.push(format!("link {dest} -> {target}"));
                steps.push(Step::Link { dest, target });
            }
        }
        Ok((steps, changes, diff))
    }
}

/// One file of a copied tree.
struct TreeFile {
    rel: String,
    content: Content,
    sum: String,
    size: u64,
    small: Option<Vec<u8>>,
    mode: Option<u32>,
}

/// Lists the tree under `$1`: `d<dir>\0` for each directory, then
/// `f<file>\0<sha1>\0<size>.<octal mode>\0` for each regular file, and
/// `l<link>\0<target>\0` for each symlink unless `$2` is `1` (follow
/// them: `find -L`); paths relative (`./a/b`).
const REMOTE_TREE_SCRIPT: &str = r#"cd -- "$1" || exit 3
L=; [ "$2" = 1 ] && L=-L
find $L . -mindepth 1 -type d -exec printf 'd%s\0' {} +
find $L . -mindepth 1 -type f -exec sh -c 'for f do s=$(sha1sum < "$f") || exit 4; printf "f%s\0%s\0%s\0" "$f" "${s%% *}" "$(stat -L -c %s.%a -- "$f")"; done' sh {} +
[ -n "$L" ] || find . -mindepth 1 -type l -exec sh -c 'for f do printf "l%s\0%s\0" "$f" "$(readlink -- "$f")"; done' sh {} +
"#;

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        if let Source::LocalDir {
            root,
            contents_only,
        } = &self.source
        {
            let (steps, changes, diff) = self.check_dir(host, root, *contents_only).await?;
            let mut result = Facts::new();
            result.insert("dest".into(), json!(self.dest));
            if let Some(s) = &self.src_key {
                result.insert("src".into(), json!(s));
            }
            if steps.is_empty() {
                return Ok(Plan::InSync { result });
            }
            self.stash.put(steps);
            return Ok(Plan::Change {
                changes,
                diff,
                result,
            });
        }
        if let Source::Remote(src) = &self.source
            && host
                .stat(src, &StatOpts::follow())
                .await?
                .is_some_and(|st| st.is_dir())
        {
            let (steps, changes, diff) = self.check_remote_dir(host, src).await?;
            let mut result = Facts::new();
            result.insert("dest".into(), json!(self.dest));
            result.insert("src".into(), json!(src));
            if steps.is_empty() {
                return Ok(Plan::InSync { result });
            }
            self.stash.put(steps);
            return Ok(Plan::Change {
                changes,
                diff,
                result,
            });
        }
        let (mut steps, plan) = self.check_single(host).await?;
        steps.extend(plan.step);
        if steps.is_empty() {
            return Ok(Plan::InSync {
                result: plan.result,
            });
        }
        let mut changes = plan.changes;
        if changes.is_empty() {
            changes.push(format!("update {}", self.dest));
        }
        self.stash.put(steps);
        Ok(Plan::Change {
            changes,
            diff: plan.diff,
            result: plan.result,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change {
            mut result, diff, ..
        } = plan
        else {
            return Ok(Applied::default());
        };
        let steps = self
            .stash
            .get()
            .ok_or_else(|| ModuleError::failed("copy: apply without a check"))?;
        let dir_attrs = crate::fs::Attrs {
            mode: self.dir_mode.clone(),
            owner: self.owner.clone(),
            group: self.group.clone(),
        };
        for step in steps {
            match step {
                Step::Mkdir(d) => {
                    host.mkdir_p(&d, &dir_attrs).await?;
                }
                Step::Write {
                    dest,
                    content,
                    want,
                    backup,
                } => {
                    let opts = WriteOpts {
                        mode: want.mode.clone(),
                        owner: want.owner.clone(),
                        group: want.group.clone(),
                        validate: self.validate.clone(),
                        backup,
                        follow: self.follow,
                        unsafe_writes: self.unsafe_writes,
                    };
                    let r = host.write_atomic(&dest, content, &opts).await?;
                    if let WriteResult::Written { owner: Some(o), .. } = &r {
                        result.insert("uid".into(), json!(o.uid));
                        result.insert("gid".into(), json!(o.gid));
                        result.insert("owner".into(), json!(o.owner));
                        result.insert("group".into(), json!(o.group));
                    }
                    if let Some(b) = common::written(r)? {
                        result.insert("backup_file".into(), json!(b));
                    }
                }
                Step::Attrs { dest, want } => {
                    host.set_attrs(&dest, &want.attrs(), self.follow, false)
                        .await?;
                }
                Step::Link { dest, target } => {
                    host.symlink(&target, &dest, true).await?;
                }
            }
        }
        Ok(Applied {
            changed: true,
            failed: false,
            msg: None,
            result,
            diff,
        })
    }
}
