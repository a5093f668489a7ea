//! The `file` module: make a path a file (attributes only), a directory
//! (`mkdir -p`), a symlink, a hard link, touch it, or remove it, with
//! `mode` (octal or symbolic), `owner`, `group`, `recurse`, and
//! `modification_time`/`access_time`. Diffs are Ansible's dicts
//! (`path`, `state`, `mode`, `owner`, `group`), rendered as JSON.
//!
//! Check is one probe (two for links whose `src` must exist, and for hard
//! links); apply is one run per step (usually one).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::attrs::{self, ModeParam, mode_str};
use super::common::{self, Delta, Stash, Want};
use crate::fs::{FileStat, StatOpts, TimeSpec};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `file` module.
pub struct File;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(alias = "dest", alias = "name")]
    path: String,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "attrs::opt_mode")]
    mode: Option<ModeParam>,
    #[serde(default, deserialize_with = "params::opt_string")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    group: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    src: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    recurse: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    follow: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    modification_time: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    modification_time_format: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    access_time: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    access_time_format: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    unsafe_writes: Option<bool>,
    #[serde(default)]
    _original_basename: Option<Value>,
    #[serde(default)]
    _diff_peek: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    _ansible_check_mode: Option<bool>,
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
    name: "file",
    short: "Manage files, directories, links and their attributes",
    description: "Makes a path on the target what `state` says: an existing \
        file whose attributes are set, a directory (created with its parents), \
        a symbolic or hard link, a touched file, or nothing at all. The path is \
        looked at first and only what differs is changed (a directory that \
        exists, a link that already points at `src`, a mode that is already \
        set), so the task can run again without changing anything; `touch` \
        with the default times is the exception and reports a change each \
        time.",
    params: &[
        param("path", Kind::Path, "The path on the target to manage.")
            .required()
            .aliases(&["dest", "name"]),
        param(
            "state",
            Kind::Str,
            "`file` only sets attributes of an existing file (it fails when \
            the path is missing); `directory` creates the directory and its \
            parents; `link` and `hard` make a symbolic or hard link to `src`; \
            `touch` creates an empty file or updates its times; `absent` \
            removes the path (a directory recursively). Without it the \
            current type of the path is kept (`file` when it is missing, \
            `directory` with `recurse`).",
        )
        .choices(&["absent", "directory", "file", "hard", "link", "touch"]),
        param(
            "mode",
            Kind::Raw,
            "Permissions: octal (`'0755'`) or symbolic (`u=rwx,g=rx,o=rx`).",
        ),
        param("owner", Kind::Str, "User that should own the path."),
        param("group", Kind::Str, "Group that should own the path."),
        param(
            "src",
            Kind::Path,
            "What the link points at, for `state: link` or `hard`; a relative \
            symlink target is taken relative to the link's directory.",
        ),
        param(
            "recurse",
            Kind::Bool,
            "With `state: directory`, also set `mode`, `owner` and `group` on \
            everything inside the directory.",
        )
        .default("false"),
        param(
            "force",
            Kind::Bool,
            "For links: replace what is already at `path` (a file, or an \
            empty directory), and make a symlink even when `src` does not \
            exist.",
        )
        .default("false"),
        param(
            "follow",
            Kind::Bool,
            "When `path` is a symlink, set attributes (and times) on what it \
            points at rather than on the link.",
        )
        .default("true"),
        param(
            "modification_time",
            Kind::Str,
            "Modification time to set: `now`, `preserve`, or a time written \
            in `modification_time_format`. Without it, `touch` sets the \
            current time and the other states leave the time alone.",
        ),
        param(
            "modification_time_format",
            Kind::Str,
            "strftime format of `modification_time`.",
        )
        .default("%Y%m%d%H%M.%S"),
        param(
            "access_time",
            Kind::Str,
            "Access time to set: `now`, `preserve`, or a time written in \
            `access_time_format`. Without it, `touch` sets the current time \
            and the other states leave the time alone.",
        ),
        param(
            "access_time_format",
            Kind::Str,
            "strftime format of `access_time`.",
        )
        .default("%Y%m%d%H%M.%S"),
        param(
            "unsafe_writes",
            Kind::Bool,
            "Accepted for compatibility; has no effect.",
        )
        .default("false"),
        param("_original_basename", Kind::Str, "Set by the engine."),
        param("_diff_peek", Kind::Raw, "Set by the engine."),
        param(
            "_ansible_check_mode",
            Kind::Bool,
            "Set by the engine in check mode: owners and groups that do not \
            exist yet are warned about instead of failing the prediction.",
        ),
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
            "Accepted for compatibility (file attributes are not managed).",
        )
        .aliases(&["attr"]),
    ],
    check: Support::Full,
    diff: Support::Full,
    example: "- name: Create the application directory
  ansible.builtin.file:
    path: /srv/app
    state: directory
    owner: app
    group: app
    mode: '0750'

- name: Point the current release at the new build
  ansible.builtin.file:
    src: /srv/app/releases/2024-05-01
    dest: /srv/app/current
    state: link

- name: Remove the old lock file
  ansible.builtin.file:
    path: /var/run/app.lock
    state: absent
",
    open: false,
    fields: params::fields::<Params>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    File,
    Directory,
    Link,
    Hard,
    Touch,
    Absent,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::File => "file",
            State::Directory => "directory",
            State::Link => "link",
            State::Hard => "hard",
            State::Touch => "touch",
            State::Absent => "absent",
        }
    }
}

struct Task {
    path: String,
    state: Option<State>,
    want: Want,
    src: Option<String>,
    recurse: bool,
    force: bool,
    follow: bool,
    mtime: Option<TimeSpec>,
    atime: Option<TimeSpec>,
    stash: Stash<Vec<Step>>,
    /// Check mode (`_ansible_check_mode`): look up owner and group.
    check_mode: bool,
    /// Warnings found while checking.
    warned: Stash<Vec<String>>,
}

#[derive(Debug, Clone)]
enum Step {
    Remove,
    Mkdir,
    Touch {
        create: bool,
        m: TimeSpec,
        a: TimeSpec,
    },
    Attrs {
        follow: bool,
    },
    Symlink,
    Hardlink,
    /// The link's source must exist when the change is applied (it may be
    /// created by an earlier task, which check mode only predicted).
    RequireSrc(String),
}

fn time_param(
    name: &str,
    v: Option<String>,
    fmt: Option<String>,
) -> Result<Option<TimeSpec>, ParamError> {
    let Some(v) = v else { return Ok(None) };
    match v.as_str() {
        "preserve" => Ok(Some(TimeSpec::Preserve)),
        "now" => Ok(Some(TimeSpec::Now)),
        s => {
            let fmt = fmt.unwrap_or_else(|| "%Y%m%d%H%M.%S".into());
            let dt = chrono::NaiveDateTime::parse_from_str(s, &fmt).map_err(|e| {
                ParamError::at(
                    name,
                    format!("Error while obtaining timestamp for time {s} using format {fmt}: {e}"),
                )
            })?;
            use chrono::TimeZone;
            let secs = match chrono::Local.from_local_datetime(&dt) {
                chrono::LocalResult::Single(d) | chrono::LocalResult::Ambiguous(d, _) => {
                    d.timestamp()
                }
                chrono::LocalResult::None => dt.and_utc().timestamp(),
            };
            Ok(Some(TimeSpec::At(secs as f64)))
        }
    }
}

impl Module for File {
    fn name(&self) -> &'static str {
        "file"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let _ = (
            &p._original_basename,
            &p._diff_peek,
            &p.seuser,
            &p.serole,
            &p.setype,
            &p.selevel,
            &p.attributes,
            p.unsafe_writes,
        );
        let state = match p.state.as_deref() {
            None => None,
            Some("file") => Some(State::File),
            Some("directory") => Some(State::Directory),
            Some("link") => Some(State::Link),
            Some("hard") => Some(State::Hard),
            Some("touch") => Some(State::Touch),
            Some("absent") => Some(State::Absent),
            Some(s) => {
                return Err(ParamError::at(
                    "state",
                    format!(
                        "value of state must be one of: absent, directory, file, hard, link, touch, got: {s}"
                    ),
                ));
            }
        };
        let recurse = p.recurse.unwrap_or(false);
        if recurse && !matches!(state, None | Some(State::Directory)) {
            return Err(ParamError::at(
                "recurse",
                "recurse option requires state to be 'directory'",
            ));
        }
        // A link that exists keeps its target without `src`; whether it
        // exists is known only on the host.
        if p.src.is_some() && !matches!(state, Some(State::Link | State::Hard)) {
            return Err(ParamError::at(
                "src",
                "src option requires state to be 'link' or 'hard'",
            ));
        }
        Ok(Box::new(Task {
            path: match p.path.trim_end_matches('/') {
                "" => p.path.clone(),
                t => t.to_string(),
            },
            state,
            want: Want::new(p.mode, p.owner, p.group)?,
            src: p.src,
            recurse,
            force: p.force.unwrap_or(false),
            follow: p.follow.unwrap_or(true),
            mtime: time_param(
                "modification_time",
                p.modification_time,
                p.modification_time_format,
            )?,
            atime: time_param("access_time", p.access_time, p.access_time_format)?,
            stash: Stash::default(),
            check_mode: p._ansible_check_mode.unwrap_or(false),
            warned: Stash::default(),
        }))
    }
}

fn prev_state(st: Option<&FileStat>) -> &'static str {
    st.map_or("absent", common::state_of)
}

fn base_diff(path: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut b = Map::new();
    b.insert("path".into(), json!(path));
    (b.clone(), b)
}

fn fail(msg: String, path: &str, extra: &[(&str, Value)]) -> ModuleError {
    let mut result = Facts::new();
    result.insert("path".into(), json!(path));
    for (k, v) in extra {
        result.insert((*k).into(), v.clone());
    }
    ModuleError::Failed { msg, result }
}

/// Lists a directory's tree: `d<path>\0` for directories, `f<path>\0`
/// for everything else.
const TREE_SCRIPT: &str = "find \"$1\" -mindepth 1 -type d -exec printf 'd%s\\0' {} + ; \
     find \"$1\" -mindepth 1 ! -type d -exec printf 'f%s\\0' {} +";

/// `{directories: [...], files: [...]}` under `path`.
async fn path_content(host: &dyn HostRead, path: &str) -> Result<Value, ModuleError> {
    let cmd = crate::cmd::Cmd::new("sh")
        .arg("-c")
        .arg(TREE_SCRIPT)
        .arg("sh")
        .arg(path);
    let out = host.probe(&cmd).await?;
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    for entry in out.stdout.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let name = crate::text::decode(&entry[1..]);
        if entry[0] == b'd' {
            dirs.push(name);
        } else {
            files.push(name);
        }
    }
    Ok(json!({"directories": dirs, "files": files}))
}

impl Task {
    fn times_change(&self, st: &FileStat) -> bool {
        let differs = |t: Option<TimeSpec>, cur: f64| match t {
            None | Some(TimeSpec::Preserve) => false,
            Some(TimeSpec::Now) => true,
            Some(TimeSpec::At(x)) => (x - cur).abs() >= 1.0,
        };
        differs(self.mtime, st.mtime) || differs(self.atime, st.atime)
    }

    fn link_target_dir(&self) -> &str {
        common::parent(&self.path)
    }

    /// The plan: steps, changes, the diff dicts, and the result.
    async fn plan(
        &self,
        host: &dyn HostRead,
    ) -> Result<(Vec<Step>, Vec<String>, Delta, Facts), ModuleError> {
        let path = &self.path;
        let lst = host.stat(path, &StatOpts::lstat()).await?;
        let prev = prev_state(lst.as_ref());
        let followed = if self.state.is_none() && self.follow && prev == "link" {
            host.stat(path, &StatOpts::follow()).await?
        } else {
            None
        };
        let state = self.state.unwrap_or(match prev {
            "absent" if self.recurse => State::Directory,
            "absent" => State::File,
            "directory" => State::Directory,
            "link" if followed.as_ref().is_some_and(FileStat::is_dir) => State::Directory,
            "link" if followed.is_some() => State::File,
            "link" => State::Link,
            "hard" => State::Hard,
            _ => State::File,
        });
        // Following a symlink for the states that act on its target.
        let st = if followed.is_some() {
            followed.clone()
        } else if self.follow
            && lst.as_ref().is_some_and(FileStat::is_link)
            && matches!(state, State::File | State::Directory | State::Touch)
        {
            host.stat(path, &StatOpts::follow()).await?
        } else {
            lst.clone()
        };
        let (mut before, mut after) = base_diff(path);
        let mut result = Facts::new();
        let mut steps = Vec::new();
        let mut changes = Vec::new();
        let state_change = |before: &mut Map<String, Value>,
                            after: &mut Map<String, Value>,
                            from: &str,
                            to: &str| {
            before.insert("state".into(), json!(from));
            after.insert("state".into(), json!(to));
        };
        let mut delta = Delta::default();
        match state {
            State::Absent => {
                result.insert("path".into(), json!(path));
                if lst.is_some() {
                    state_change(&mut before, &mut after, prev, "absent");
                    // What removing a directory takes with it, as
                    // Ansible's diff lists it.
                    if prev == "directory" {
                        before.insert("path_content".into(), path_content(host, path).await?);
                    }
                    steps.push(Step::Remove);
                    changes.push(format!("remove {path}"));
                }
                result.insert("state".into(), json!("absent"));
            }
            State::File => {
                let Some(cur) = &st else {
                    return Err(fail(
                        format!("file ({path}) is absent, cannot continue"),
                        path,
                        &[("state", json!("absent"))],
                    ));
                };
                if !cur.is_file() {
                    let p = prev_state(Some(cur));
                    return Err(fail(
                        format!("file ({path}) is {p}, cannot continue"),
                        path,
                        &[("state", json!(p))],
                    ));
                }
                delta = self.want.delta(cur);
                if !delta.is_empty() {
                    steps.push(Step::Attrs {
                        follow: self.follow,
                    });
                    changes.extend(delta.lines(path));
                }
                if self.times_change(cur) {
                    steps.push(self.touch_step(false));
                    changes.push(format!("update times of {path}"));
                }
                result.insert("path".into(), json!(path));
                common::predicted_info(&mut result, cur, &delta);
            }
            State::Directory => match &st {
                None => {
                    state_change(&mut before, &mut after, "absent", "directory");
                    steps.push(Step::Mkdir);
                    changes.push(format!("create directory {path}"));
                    result.insert("path".into(), json!(path));
                    result.insert("state".into(), json!("directory"));
                    result.insert(
                        "mode".into(),
                        json!(mode_str(self.want.new_file_mode(true))),
                    );
                    if let Some(o) = &self.want.owner {
                        result.insert("owner".into(), json!(o));
                    }
                    if let Some(g) = &self.want.group {
                        result.insert("group".into(), json!(g));
                    }
                }
                Some(cur) if cur.is_dir() => {
                    delta = self.want.delta(cur);
                    if !delta.is_empty() {
                        steps.push(Step::Attrs {
                            follow: self.follow,
                        });
                        changes.extend(delta.lines(path));
                    } else if self.recurse
                        && !self.want.is_empty()
                        && self.tree_differs(host).await?
                    {
                        steps.push(Step::Attrs {
                            follow: self.follow,
                        });
                        changes.push(format!("attributes of what is under {path}"));
                    }
                    if self.times_change(cur) {
                        steps.push(self.touch_step(false));
                        changes.push(format!("update times of {path}"));
                    }
                    result.insert("path".into(), json!(path));
                    common::predicted_info(&mut result, cur, &delta);
                }
                Some(cur) => {
                    let p = prev_state(Some(cur));
                    return Err(fail(
                        format!("{path} already exists as a {p}"),
                        path,
                        &[("state", json!(p))],
                    ));
                }
            },
            State::Touch => {
                let create = st.is_none() && lst.is_none();
                let m = self.mtime.unwrap_or(TimeSpec::Now);
                let a = self.atime.unwrap_or(TimeSpec::Now);
                // A fixed timestamp that is already set is no change (as
                // Ansible's update_timestamp_for_file); `now` always is.
                let differs = |t: TimeSpec, cur: f64| match t {
                    TimeSpec::Preserve => false,
                    TimeSpec::Now => true,
                    TimeSpec::At(x) => (x - cur).abs() >= 1.0,
                };
                let times_differ = match &st {
                    Some(cur) => differs(m, cur.mtime) || differs(a, cur.atime),
                    None => true,
                };
                if create || times_differ {
                    if prev != "touch" {
                        state_change(&mut before, &mut after, prev, "touch");
                    }
                    steps.push(Step::Touch { create, m, a });
                    changes.push(format!("touch {path}"));
                }
                match &st {
                    Some(cur) => {
                        delta = self.want.delta(cur);
                        common::predicted_info(&mut result, cur, &delta);
                    }
                    None => {
                        result.insert("state".into(), json!("file"));
                        result.insert(
                            "mode".into(),
                            json!(mode_str(self.want.new_file_mode(false))),
                        );
                    }
                }
                if create || !delta.is_empty() {
                    if !self.want.is_empty() {
                        steps.push(Step::Attrs {
                            follow: self.follow,
                        });
                    }
                    changes.extend(delta.lines(path));
                }
                // Ansible's touch reports `dest`, not `path`.
                result.insert("dest".into(), json!(path));
            }
            State::Hard if self.src.is_none() && prev == "hard" => {
                // An existing hard link without `src`: only its attributes.
                if let Some(cur) = &lst {
                    delta = self.want.delta(cur);
                    if !delta.is_empty() {
                        steps.push(Step::Attrs { follow: false });
                        changes.extend(delta.lines(path));
                    }
                    common::predicted_info(&mut result, cur, &delta);
                }
                result.insert("path".into(), json!(path));
                result.insert("state".into(), json!("hard"));
            }
            State::Hard if self.src.is_none() => {
                return Err(fail(
                    "src is required for creating new hardlinks".to_string(),
                    path,
                    &[],
                ));
            }
            State::Link | State::Hard => {
                if self.src.is_none() && !lst.as_ref().is_some_and(|c| c.is_link()) {
                    return Err(fail(
                        "src is required for creating new symlinks".to_string(),
                        path,
                        &[],
                    ));
                }
                let src = match (&self.src, &lst) {
                    (Some(s), _) => s.clone(),
                    (None, Some(cur)) => cur.lnk_target.clone().unwrap_or_default(),
                    (None, None) => String::new(),
                };
                result.insert("dest".into(), json!(path));
                result.insert("src".into(), json!(src));
                let abs_src = if src.starts_with('/') {
                    src.clone()
                } else {
                    format!("{}/{src}", self.link_target_dir())
                };
                let src_st = if state == State::Hard || !self.force {
                    host.stat(&abs_src, &StatOpts::lstat()).await?
                } else {
                    None
                };
                if state == State::Hard && src_st.is_none() {
                    // Ansible's words and keys: `dest` and `src` beside.
                    return Err(fail(
                        "src does not exist".to_string(),
                        path,
                        &[("src", json!(src)), ("dest", json!(path))],
                    ));
                }
                let require_src = state == State::Link && !self.force && src_st.is_none();
                let in_sync = match (&lst, state) {
                    (Some(cur), State::Link) => {
                        cur.is_link() && cur.lnk_target.as_deref() == Some(src.as_str())
                    }
                    (Some(cur), State::Hard) => src_st
                        .as_ref()
                        .is_some_and(|s| s.inode == cur.inode && s.dev == cur.dev),
                    _ => false,
                };
                if !in_sync {
                    if let Some(cur) = &lst {
                        let p = prev_state(Some(cur));
                        let convertible = match state {
                            State::Link => p == "link",
                            _ => false,
                        };
                        if !convertible && !self.force {
                            return Err(fail(
                                format!(
                                    "refusing to convert from {p} to {} for {path}",
                                    if state == State::Link {
                                        "symlink"
                                    } else {
                                        "hard link"
                                    }
                                ),
                                path,
                                &[("src", json!(src))],
                            ));
                        }
                    }
                    state_change(&mut before, &mut after, prev, state.name());
                    // A link pointed elsewhere: the diff says from where.
                    if let Some(old) = lst
                        .as_ref()
                        .filter(|c| c.is_link())
                        .and_then(|c| c.lnk_target.clone())
                        .filter(|old| *old != src)
                    {
                        before.insert("src".into(), json!(old));
                        after.insert("src".into(), json!(src));
                    }
                    if require_src {
                        steps.push(Step::RequireSrc(abs_src.clone()));
                    }
                    steps.push(if state == State::Link {
                        Step::Symlink
                    } else {
                        Step::Hardlink
                    });
                    changes.push(format!("link {path} -> {src}"));
                    // With `follow` (the default) the attributes go to
                    // what the link points at, as Ansible's chmod follows.
                    if !self.want.is_empty() {
                        steps.push(Step::Attrs {
                            follow: self.follow && state == State::Link,
                        });
                    }
                } else if let Some(cur) = &lst {
                    let target = if state == State::Link && self.follow {
                        host.stat(path, &StatOpts::follow()).await?
                    } else {
                        None
                    };
                    let target_delta = if state == State::Hard {
                        self.want.delta(cur)
                    } else if let Some(t) = &target {
                        self.want.delta(t)
                    } else {
                        // owner/group of the link itself (lchown)
                        Want {
                            mode: None,
                            ..self.want.clone()
                        }
                        .delta(cur)
                    };
                    if !target_delta.is_empty() {
                        steps.push(Step::Attrs {
                            follow: target.is_some(),
                        });
                        changes.extend(target_delta.lines(path));
                    }
                    delta = target_delta;
                }
                result.insert("state".into(), json!(state.name()));
            }
        }
        for (k, v) in &delta.before {
            before.insert(k.clone(), v.clone());
        }
        for (k, v) in &delta.after {
            after.insert(k.clone(), v.clone());
        }
        // Times that will be set show in the diff, as Ansible's does.
        if let Some(cur) = &st
            && steps.iter().any(|s| matches!(s, Step::Touch { .. }))
        {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default();
            for (key, want, cur) in [
                ("mtime", self.mtime, cur.mtime),
                ("atime", self.atime, cur.atime),
            ] {
                let new = match want {
                    Some(TimeSpec::At(x)) if (x - cur).abs() >= 1.0 => x,
                    Some(TimeSpec::Now) => now,
                    _ => continue,
                };
                before.insert(key.into(), json!(cur));
                after.insert(key.into(), json!(new));
            }
        }
        let diff = Delta { before, after };
        Ok((steps, changes, diff, result))
    }

    fn touch_step(&self, create: bool) -> Step {
        Step::Touch {
            create,
            m: self.mtime.unwrap_or(TimeSpec::Preserve),
            a: self.atime.unwrap_or(TimeSpec::Preserve),
        }
    }
}

/// `<mode> <uid> <gid> <user> <group> <type>` for everything under `$1`
/// (following links when `$2` is `-L`; links themselves are skipped).
const TREE_ATTRS_SCRIPT: &str =
    "find $2 \"$1\" -mindepth 1 ! -type l -exec stat $2 -c '%a %u %g %U %G %F' {} +";

impl Task {
    /// With `recurse`, whether anything under the directory has other
    /// attributes than wanted (the directory itself is compared apart).
    async fn tree_differs(&self, host: &dyn HostRead) -> Result<bool, ModuleError> {
        let cmd = crate::cmd::Cmd::new("sh")
            .arg("-c")
            .arg(TREE_ATTRS_SCRIPT)
            .arg("sh")
            .arg(self.path.clone())
            .arg(if self.follow { "-L" } else { "" });
        let out = host.probe(&cmd).await?;
        let listing = crate::text::decode(&out.stdout);
        for line in listing.lines() {
            let mut w = line.splitn(6, ' ');
            let (Some(mode), Some(uid), Some(gid), Some(owner), Some(group), Some(kind)) =
                (w.next(), w.next(), w.next(), w.next(), w.next(), w.next())
            else {
                continue;
            };
            let st = FileStat {
                kind: Some(if kind == "directory" {
                    crate::fs::FileKind::Directory
                } else {
                    crate::fs::FileKind::File
                }),
                mode: u32::from_str_radix(mode, 8).unwrap_or(0),
                uid: uid.parse().unwrap_or(0),
                gid: gid.parse().unwrap_or(0),
                owner: owner.to_string(),
                group: group.to_string(),
                ..FileStat::default()
            };
            if !self.want.delta(&st).is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Exit status 0/1 for whether `$1` is a user and `$2` a group (either
/// may be empty: then 0), on two lines.
const WHO_EXISTS: &str = "if [ -n \"$1\" ]; then getent passwd \"$1\" >/dev/null 2>&1; echo $?; else echo 0; fi; \
     if [ -n \"$2\" ]; then getent group \"$2\" >/dev/null 2>&1; echo $?; else echo 0; fi";

impl Task {
    /// In check mode, Ansible warns about an owner or group that does not
    /// exist yet (an earlier task would create it in a real run).
    async fn look_up_owners(&self, host: &dyn HostRead) -> Result<(), ModuleError> {
        let owner = self.want.owner.clone().unwrap_or_default();
        let group = self.want.group.clone().unwrap_or_default();
        if !self.check_mode || (owner.is_empty() && group.is_empty()) {
            return Ok(());
        }
        let cmd = crate::cmd::Cmd::new("sh")
            .arg("-c")
            .arg(WHO_EXISTS)
            .arg("sh")
            .arg(owner.clone())
            .arg(group.clone());
        let out = host.probe(&cmd).await?;
        let text = crate::text::decode(&out.stdout);
        let mut lines = text.lines();
        let mut warned = Vec::new();
        let numeric = |s: &str| s.parse::<u32>().is_ok();
        if lines.next().is_some_and(|l| l.trim() != "0") {
            warned.push(if numeric(&owner) {
                format!("failed to look up user with uid {owner}. Create user up to this point in real play")
            } else {
                format!("failed to look up user {owner}. Create user up to this point in real play")
            });
        }
        if lines.next().is_some_and(|l| l.trim() != "0") {
            warned.push(if numeric(&group) {
                format!("failed to look up group with gid {group}. Create group up to this point in real play")
            } else {
                format!("failed to look up group {group}. Create group up to this point in real play")
            });
        }
        self.warned.put(warned);
        Ok(())
    }
}

#[async_trait]
impl Prepared for Task {
    fn warnings(&self) -> Vec<String> {
        self.warned.get().unwrap_or_default()
    }

    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        self.look_up_owners(host).await?;
        let (steps, changes, diff, mut result) = self.plan(host).await?;
        if steps.is_empty() {
            // Ansible's file module reports its diff dicts (at least the
            // path) even when nothing changes.
            result.insert(
                "diff".into(),
                json!({"before": diff.before, "after": diff.after}),
            );
            return Ok(Plan::InSync { result });
        }
        self.stash.put(steps);
        Ok(Plan::Change {
            changes,
            diff: vec![common::dict_diff(&diff.before, &diff.after)],
            result,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change { result, diff, .. } = plan else {
            return Ok(Applied::default());
        };
        let steps = self
            .stash
            .get()
            .ok_or_else(|| ModuleError::failed("file: apply without a check"))?;
        let attrs = self.want.attrs();
        let src = self.src.clone().unwrap_or_default();
        let mut created = false;
        for step in steps {
            match step {
                Step::Remove => {
                    host.remove(&self.path).await?;
                }
                Step::Mkdir => {
                    host.mkdir_p(&self.path, &attrs).await?;
                }
                Step::Touch { create, m, a } => {
                    host.touch(&self.path, m, a, self.follow, create).await?;
                    created = create;
                }
                Step::Attrs { follow } => {
                    let set = host
                        .set_attrs(&self.path, &attrs, follow, self.recurse)
                        .await;
                    // A file this task just created is removed again when
                    // its attributes cannot be set, as Ansible's touch does.
                    if set.is_err() && created {
                        let _ = host.remove(&self.path).await;
                    }
                    set?;
                }
                Step::RequireSrc(abs_src) => {
                    if host.stat(&abs_src, &StatOpts::follow()).await?.is_none() {
                        return Err(fail(
                            format!(
                                "src file does not exist, use \"force=yes\" if you really want to create the link: {abs_src}"
                            ),
                            &self.path,
                            &[("src", json!(src))],
                        ));
                    }
                }
                Step::Symlink => host.symlink(&src, &self.path, self.force).await?,
                Step::Hardlink => host.hardlink(&src, &self.path, self.force).await?,
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
