//! The `lineinfile` module: ensure a line is in a file (or is not),
//! replacing the last line a regexp or search string matches, with
//! Ansible's rules for `insertafter`/`insertbefore`, `firstmatch` and
//! `backrefs`. Works on lines of bytes: whatever is not edited is kept
//! byte for byte. One probe to check (stat + content); one run to apply.

use async_trait::async_trait;
use fancy_regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};

use super::attrs::{self, ModeParam};
use super::common::{self, Stash, Want};
use super::pyre::{self, Template};
use crate::fs::{Content, StatOpts, WriteOpts};
use crate::host::{Host, HostError, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `lineinfile` module.
pub struct LineInFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    path: String,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, alias = "regex", deserialize_with = "params::opt_string")]
    regexp: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    search_string: Option<String>,
    #[serde(default, alias = "value", deserialize_with = "params::opt_string")]
    line: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    insertafter: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    insertbefore: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    backrefs: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    create: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    backup: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    firstmatch: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    validate: Option<String>,
    #[serde(default, deserialize_with = "attrs::opt_mode")]
    mode: Option<ModeParam>,
    #[serde(default, deserialize_with = "params::opt_string")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    group: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    unsafe_writes: Option<bool>,
    #[serde(default)]
    others: Option<Value>,
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
    name: "lineinfile",
    short: "Ensure a single line is in a file, or is not",
    description: "Looks for a line in a file on the target, by `regexp`, by \
        `search_string` or by the exact text of `line`, and replaces it, adds \
        it (after or before an anchor line, or at the end) or removes it. The \
        edit is computed on the file's current content and written \
        atomically only when the result differs, so a second run changes \
        nothing. Lines that are not edited are kept byte for byte. For several \
        lines at once see `blockinfile`.",
    params: &[
        param("path", Kind::Path, "The file on the target to edit.")
            .required()
            .aliases(&["dest", "destfile", "name"]),
        param(
            "state",
            Kind::Str,
            "`present` puts `line` in the file; `absent` removes every line \
            that `regexp` or `search_string` matches (or that equals `line`).",
        )
        .default("present")
        .choices(&["absent", "present"]),
        param(
            "regexp",
            Kind::Str,
            "Python-style regular expression searched for in each line; with \
            `state: present` the last matching line is replaced by `line`.",
        )
        .aliases(&["regex"]),
        param(
            "search_string",
            Kind::Str,
            "Literal text searched for in each line, used like `regexp` but \
            without any pattern syntax.",
        ),
        param(
            "line",
            Kind::Str,
            "The line to have in the file (required with `state: present`). \
            With `backrefs`, `\\1` or `\\g<name>` are replaced by the groups \
            `regexp` captured.",
        )
        .aliases(&["value"]),
        param(
            "insertafter",
            Kind::Str,
            "Where to add `line` when nothing matched: `EOF`, `BOF`, or a \
            regular expression, the line going after the last line it matches \
            (at the end when none does). Without this and `insertbefore` the \
            line is added at the end.",
        ),
        param(
            "insertbefore",
            Kind::Str,
            "Where to add `line` when nothing matched: `BOF`, or a regular \
            expression, the line going before the last line it matches (at the \
            end when none does).",
        ),
        param(
            "backrefs",
            Kind::Bool,
            "Expand the backreferences of `regexp` in `line`; when `regexp` \
            matches no line, the file is left as it is instead of `line` \
            being added.",
        )
        .default("false"),
        param(
            "create",
            Kind::Bool,
            "Create the file (and its missing parent directories) when it \
            does not exist; otherwise a missing file fails the task.",
        )
        .default("false"),
        param(
            "backup",
            Kind::Bool,
            "Keep a timestamped copy of the file being changed beside it.",
        )
        .default("false"),
        param(
            "firstmatch",
            Kind::Bool,
            "Use the first line that `regexp`, `search_string`, `insertafter` \
            or `insertbefore` matches instead of the last.",
        )
        .default("false"),
        param(
            "validate",
            Kind::Str,
            "Command run on the new content before it replaces the file; `%s` \
            stands for the temporary file's path. A non-zero exit fails the \
            task and leaves the file alone.",
        ),
        param(
            "mode",
            Kind::Raw,
            "Permissions of the file: octal (`'0644'`) or symbolic \
            (`u=rw,g=r`).",
        ),
        param("owner", Kind::Str, "User that should own the file."),
        param("group", Kind::Str, "Group that should own the file."),
        param(
            "unsafe_writes",
            Kind::Bool,
            "Accepted for compatibility; writes are always atomic.",
        )
        .default("false"),
        param(
            "others",
            Kind::Raw,
            "Accepted for compatibility; has no effect.",
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
    example: "- name: Turn off password logins
  ansible.builtin.lineinfile:
    path: /etc/ssh/sshd_config
    regexp: '^#?PasswordAuthentication '
    line: PasswordAuthentication no
    validate: /usr/sbin/sshd -t -f %s

- name: Add the build host to /etc/hosts
  ansible.builtin.lineinfile:
    path: /etc/hosts
    line: 192.0.2.20 build.example.com build
    insertafter: '^127\\.0\\.0\\.1'

- name: Drop the old proxy setting
  ansible.builtin.lineinfile:
    path: /etc/environment
    regexp: '^http_proxy='
    state: absent
",
    open: false,
    fields: params::fields::<Params>,
};

/// Where to insert when nothing matched.
#[derive(Debug, Clone)]
enum Anchor {
    Bof,
    Eof,
    After(Regex),
    Before(Regex),
}

/// What to look for in existing lines.
#[derive(Debug, Clone)]
enum Search {
    None,
    Regex(Regex),
    Plain(Vec<u8>),
}

struct Task {
    path: String,
    present: bool,
    search: Search,
    line: Option<Vec<u8>>,
    backrefs: Option<Template>,
    anchor: Anchor,
    firstmatch: bool,
    create: bool,
    backup: bool,
    validate: Option<String>,
    want: Want,
    unsafe_writes: bool,
    stash: Stash<Planned>,
    warnings: Vec<String>,
}

#[derive(Debug, Clone)]
struct Planned {
    content: Option<Vec<u8>>,
    exists: bool,
    attrs_change: bool,
    msg: String,
}

fn bad(msg: impl Into<String>) -> ParamError {
    ParamError::new(msg)
}

impl Module for LineInFile {
    fn name(&self) -> &'static str {
        "lineinfile"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let _ = (
            &p.others,
            &p.seuser,
            &p.serole,
            &p.setype,
            &p.selevel,
            &p.attributes,
        );
        let present = match p.state.as_deref() {
            None | Some("present") => true,
            Some("absent") => false,
            Some(s) => {
                return Err(ParamError::at(
                    "state",
                    format!("value of state must be one of: absent, present, got: {s}"),
                ));
            }
        };
        if p.insertafter.is_some() && p.insertbefore.is_some() {
            return Err(bad(
                "parameters are mutually exclusive: insertbefore|insertafter",
            ));
        }
        if p.regexp.is_some() && p.search_string.is_some() {
            return Err(bad(
                "parameters are mutually exclusive: regexp|search_string",
            ));
        }
        let backrefs = p.backrefs.unwrap_or(false);
        if backrefs && p.search_string.is_some() {
            return Err(bad(
                "parameters are mutually exclusive: backrefs|search_string",
            ));
        }
        if present && p.line.is_none() {
            return Err(ParamError::at(
                "line",
                "line is required with state=present",
            ));
        }
        if backrefs && p.regexp.is_none() {
            return Err(ParamError::at(
                "regexp",
                "regexp is required with backrefs=true",
            ));
        }
        if !present && p.regexp.is_none() && p.search_string.is_none() && p.line.is_none() {
            return Err(bad(
                "one of line, search_string, or regexp is required with state=absent",
            ));
        }
        common::check_validate(&p.validate)?;
        let mut warnings = Vec::new();
        let empty_regexp = p.regexp.as_deref() == Some("");
        if empty_regexp || p.search_string.as_deref() == Some("") {
            // An empty pattern matches every line, so the last line is
            // replaced rather than the line appended; Ansible warns.
            let what = if empty_regexp {
                "regular expression"
            } else {
                "search string"
            };
            let mut w = format!(
                "The {what} is an empty string, which will match every line in the file. This may have unintended consequences, such as replacing the last line in the file rather than appending."
            );
            if empty_regexp {
                w.push_str(" If this is desired, use '^' to match every line in the file and avoid this warning.");
            }
            warnings.push(w);
        }
        let search = match (&p.regexp, &p.search_string) {
            (Some(r), _) => {
                Search::Regex(pyre::compile(r, "").map_err(|e| ParamError::at("regexp", e))?)
            }
            (None, Some(s)) => Search::Plain(text::encode(s)),
            _ => Search::None,
        };
        let anchor = match (&p.insertafter, &p.insertbefore) {
            (Some(a), _) if a == "BOF" => Anchor::Bof,
            (Some(a), _) if a == "EOF" => Anchor::Eof,
            (Some(a), _) => {
                Anchor::After(pyre::compile(a, "").map_err(|e| ParamError::at("insertafter", e))?)
            }
            (None, Some(b)) if b == "BOF" => Anchor::Bof,
            (None, Some(b)) => {
                Anchor::Before(pyre::compile(b, "").map_err(|e| ParamError::at("insertbefore", e))?)
            }
            (None, None) => Anchor::Eof,
        };
        let tpl = match (&p.line, backrefs) {
            (Some(l), true) => Some(Template::parse(l).map_err(|e| ParamError::at("line", e))?),
            _ => None,
        };
        Ok(Box::new(Task {
            path: p.path,
            present,
            search,
            line: p.line.as_deref().map(text::encode),
            backrefs: tpl,
            anchor,
            firstmatch: p.firstmatch.unwrap_or(false),
            create: p.create.unwrap_or(false),
            backup: p.backup.unwrap_or(false),
            validate: p.validate,
            want: Want::new(p.mode, p.owner, p.group)?,
            unsafe_writes: p.unsafe_writes.unwrap_or(false),
            stash: Stash::default(),
            warnings,
        }))
    }
}

/// Splits like Python's `readlines()`: each line keeps its `\n`.
pub fn split_lines(data: &[u8]) -> Vec<Vec<u8>> {
    data.split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn strip_eol(l: &[u8]) -> &[u8] {
    let mut end = l.len();
    while end > 0 && matches!(l[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &l[..end]
}

/// The line as a regex sees it: decoded, without its `\n` (Python's `$`
/// matches before a final newline).
fn subject(l: &[u8]) -> String {
    text::decode(l.strip_suffix(b"\n").unwrap_or(l))
}

fn search(re: &Regex, l: &[u8]) -> bool {
    re.is_match(&subject(l)).unwrap_or(false)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn ends_with_eol(lines: &[Vec<u8>]) -> bool {
    lines
        .last()
        .is_none_or(|l| matches!(l.last(), Some(b'\n' | b'\r')))
}

impl Task {
    /// Ansible's `present()`: the new lines and the message.
    fn present(&self, lines: &mut Vec<Vec<u8>>) -> String {
        let line = self.line.clone().unwrap_or_default();
        let mut index0: Option<usize> = None;
        let mut index1: Option<usize> = None;
        let mut matched: Option<Vec<u8>> = None;
        match &self.search {
            Search::Regex(re) => {
                for (i, l) in lines.iter().enumerate() {
                    let s = subject(l);
                    if let Ok(Some(caps)) = re.captures(&s) {
                        index0 = Some(i);
                        matched = Some(match &self.backrefs {
                            Some(t) => text::encode(&t.expand(&caps)),
                            None => line.clone(),
                        });
                        if self.firstmatch {
                            break;
                        }
                    }
                }
            }
            Search::Plain(needle) => {
                for (i, l) in lines.iter().enumerate() {
                    if contains(l, needle) {
                        index0 = Some(i);
                        matched = Some(line.clone());
                        if self.firstmatch {
                            break;
                        }
                    }
                }
            }
            Search::None => {}
        }
        if matched.is_none() {
            for (i, l) in lines.iter().enumerate() {
                if strip_eol(l) == line.as_slice() {
                    index0 = Some(i);
                } else {
                    match &self.anchor {
                        Anchor::After(re) if search(re, l) => {
                            index1 = Some(i + 1);
                            if self.firstmatch {
                                break;
                            }
                        }
                        Anchor::Before(re) if search(re, l) => {
                            index1 = Some(i);
                            if self.firstmatch {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        let with_eol = |l: &[u8]| {
            let mut v = l.to_vec();
            v.push(b'\n');
            v
        };
        if let Some(i0) = index0 {
            let mut new_line = matched.unwrap_or_else(|| line.clone());
            if !new_line.ends_with(b"\n") {
                new_line.push(b'\n');
            }
            if lines[i0] != new_line {
                lines[i0] = new_line;
                return "line replaced".into();
            }
            return String::new();
        }
        if self.backrefs.is_some() {
            // Without a match there is nothing to fill the backrefs with.
            return String::new();
        }
        match (&self.anchor, index1) {
            (Anchor::Bof, _) => {
                lines.insert(0, with_eol(&line));
                "line added".into()
            }
            (Anchor::Eof, _) | (_, None) => {
                if !ends_with_eol(lines) {
                    lines.push(b"\n".to_vec());
                }
                lines.push(with_eol(&line));
                "line added".into()
            }
            (Anchor::After(_), Some(i1)) => {
                if lines.len() == i1 {
                    if strip_eol(&lines[i1 - 1]) != line.as_slice() {
                        lines.push(with_eol(&line));
                        return "line added".into();
                    }
                } else if strip_eol(&lines[i1]) != line.as_slice() {
                    lines.insert(i1, with_eol(&line));
                    return "line added".into();
                }
                String::new()
            }
            (Anchor::Before(_), Some(i1)) => {
                lines.insert(i1, with_eol(&line));
                "line added".into()
            }
        }
    }

    /// Ansible's `absent()`: how many lines were removed.
    fn absent(&self, lines: &mut Vec<Vec<u8>>) -> usize {
        let line = self.line.clone().unwrap_or_default();
        let before = lines.len();
        lines.retain(|l| {
            let hit = match &self.search {
                Search::Regex(re) => search(re, l),
                Search::Plain(n) => contains(l, n),
                Search::None => strip_eol(l) == line.as_slice(),
            };
            !hit
        });
        before - lines.len()
    }

    fn result(&self, msg: &str, backup: &str) -> Facts {
        let mut r = Facts::new();
        r.insert("msg".into(), json!(msg));
        r.insert("backup".into(), json!(backup));
        r
    }
}

#[async_trait]
impl Prepared for Task {
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let opts = StatOpts::follow().with_content(u64::MAX);
        let st = host.stat(&self.path, &opts).await?;
        if let Some(s) = &st
            && s.is_dir()
        {
            let mut r = Facts::new();
            r.insert("rc".into(), json!(256));
            return Err(ModuleError::Failed {
                msg: format!("Path {} is a directory !", self.path),
                result: r,
            });
        }
        let original = match &st {
            Some(s) => match &s.content {
                Some(c) => c.clone(),
                None => {
                    return Err(ModuleError::failed(format!(
                        "cannot read {}: Permission denied",
                        self.path
                    )));
                }
            },
            None if !self.present => {
                let mut r = self.result("file not present", "");
                r.insert("found".into(), json!(0));
                return Ok(Plan::InSync { result: r });
            }
            None if !self.create => {
                let mut r = Facts::new();
                r.insert("rc".into(), json!(257));
                return Err(ModuleError::Failed {
                    msg: format!("Destination {} does not exist !", self.path),
                    result: r,
                });
            }
            None => Vec::new(),
        };
        let mut lines = split_lines(&original);
        let (mut msg, found) = if self.present {
            (self.present(&mut lines), None)
        } else {
            let n = self.absent(&mut lines);
            let m = if n > 0 {
                format!("{n} line(s) removed")
            } else {
                String::new()
            };
            (m, Some(n))
        };
        let new = lines.concat();
        let content_changed = new != original || (st.is_none() && self.present && !msg.is_empty());
        let delta = match &st {
            Some(s) => self.want.delta(s),
            None => Default::default(),
        };
        msg = common::attrs_msg(&msg, !delta.is_empty());
        let mut r = self.result(&msg, "");
        if let Some(n) = found {
            r.insert("found".into(), json!(n));
        }
        if !content_changed && delta.is_empty() {
            return Ok(Plan::InSync { result: r });
        }
        let mut changes = Vec::new();
        let mut diff = Vec::new();
        if content_changed {
            changes.push(format!("{msg} in {}", self.path));
            diff.push(common::content_diff(
                &format!("{} (content)", self.path),
                &original,
                &new,
            ));
        }
        changes.extend(delta.lines(&self.path));
        diff.extend(common::attr_diff(&self.path, &delta));
        self.stash.put(Planned {
            content: content_changed.then_some(new),
            exists: st.is_some(),
            attrs_change: !delta.is_empty(),
            msg,
        });
        Ok(Plan::Change {
            changes,
            diff,
            result: r,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change {
            diff, mut result, ..
        } = plan
        else {
            return Ok(Applied::default());
        };
        let Some(p) = self.stash.get() else {
            return Err(ModuleError::failed("lineinfile: apply without a check"));
        };
        let mut backup = String::new();
        if let Some(content) = &p.content {
            let b = write_content(
                host,
                &self.path,
                content,
                &self.want,
                WriteExtras {
                    validate: self.validate.clone(),
                    backup: self.backup && p.exists,
                    unsafe_writes: self.unsafe_writes,
                    create_parent: self.create,
                },
            )
            .await?;
            backup = b.unwrap_or_default();
        } else if p.attrs_change {
            host.set_attrs(&self.path, &self.want.attrs(), true, false)
                .await?;
        }
        result.insert("backup".into(), json!(backup));
        Ok(Applied {
            changed: true,
            failed: false,
            msg: Some(p.msg),
            result,
            diff,
        })
    }
}

/// Options of [`write_content`] besides the attributes.
pub struct WriteExtras {
    pub validate: Option<String>,
    pub backup: bool,
    pub unsafe_writes: bool,
    /// Create a missing parent directory (`create: true`) and retry.
    pub create_parent: bool,
}

/// Writes `content` over `path` (following symlinks) with the attributes
/// in one run; with `create_parent`, makes a missing parent directory
/// and tries again. Returns the backup file.
pub async fn write_content(
    host: &dyn Host,
    path: &str,
    content: &[u8],
    want: &Want,
    x: WriteExtras,
) -> Result<Option<String>, ModuleError> {
    let opts = WriteOpts {
        mode: want.mode.clone(),
        owner: want.owner.clone(),
        group: want.group.clone(),
        validate: x.validate,
        backup: x.backup,
        follow: true,
        unsafe_writes: x.unsafe_writes,
    };
    let first = host
        .write_atomic(path, Content::Bytes(content.to_vec()), &opts)
        .await;
    let r = match first {
        Err(HostError::Failed(m)) if x.create_parent && m.starts_with("Destination directory ") => {
            let dir = common::parent(path).to_string();
            host.mkdir_p(&dir, &Default::default())
                .await
                .map_err(|e| ModuleError::failed(format!("Error creating {dir} ({e})")))?;
            host.write_atomic(path, Content::Bytes(content.to_vec()), &opts)
                .await?
        }
        other => other?,
    };
    common::written(r)
}
