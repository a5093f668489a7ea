//! The `blockinfile` module: insert, update or remove a block of lines
//! between marker lines (`# BEGIN ANSIBLE MANAGED BLOCK` ... `# END ...`),
//! with Ansible's placement rules (`insertafter`/`insertbefore`: `EOF`,
//! `BOF` or the last line a regex matches). Bytes outside the block are
//! kept as they are. One probe to check, one run to apply.

use async_trait::async_trait;
use fancy_regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};

use super::attrs::{self, ModeParam};
use super::common::{self, Stash, Want};
use super::lineinfile::{WriteExtras, split_lines, write_content};
use super::pyre;
use crate::fs::StatOpts;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `blockinfile` module.
pub struct BlockInFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    path: String,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    marker: Option<String>,
    #[serde(default, alias = "content", deserialize_with = "params::opt_string")]
    block: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    insertafter: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    insertbefore: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    create: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    backup: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    marker_begin: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    marker_end: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    append_newline: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    prepend_newline: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    encoding: Option<String>,
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
    name: "blockinfile",
    short: "Insert, update or remove a block of lines between marker lines",
    description: "Keeps a block of text in a file on the target between a \
        begin and an end marker line. When both markers are found the lines \
        between them are replaced; otherwise the block is placed according to \
        `insertafter`/`insertbefore`. The new content is computed and compared \
        with the file, and the file is written (atomically) only when it \
        differs, so running the task again changes nothing. Bytes outside the \
        block are left as they are.",
    params: &[
        param("path", Kind::Path, "The file on the target to edit.")
            .required()
            .aliases(&["dest", "destfile", "name"]),
        param(
            "state",
            Kind::Str,
            "`present` puts the block in the file; `absent` removes the \
            markers and everything between them.",
        )
        .default("present")
        .choices(&["absent", "present"]),
        param(
            "marker",
            Kind::Str,
            "Template of the marker lines; `{mark}` is replaced by \
            `marker_begin` or `marker_end`. Use a comment syntax the file \
            understands.",
        )
        .default("# {mark} ANSIBLE MANAGED BLOCK"),
        param(
            "block",
            Kind::Str,
            "The lines to put between the markers. Without it, or empty, the \
            markers and what is between them are removed, as with `state: \
            absent`.",
        )
        .aliases(&["content"]),
        param(
            "insertafter",
            Kind::Str,
            "Where a new block goes when the markers are not found: `EOF`, or \
            a regular expression, the block going after the last matching line \
            (at the end of the file when nothing matches). Without this and \
            `insertbefore` the block goes at the end.",
        ),
        param(
            "insertbefore",
            Kind::Str,
            "Where a new block goes when the markers are not found: `BOF`, or \
            a regular expression, the block going before the last matching \
            line (at the end of the file when nothing matches).",
        ),
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
            "marker_begin",
            Kind::Str,
            "What replaces `{mark}` in the first marker line.",
        )
        .default("BEGIN"),
        param(
            "marker_end",
            Kind::Str,
            "What replaces `{mark}` in the last marker line.",
        )
        .default("END"),
        param(
            "append_newline",
            Kind::Bool,
            "Add an empty line after the block unless one is already there.",
        )
        .default("false"),
        param(
            "prepend_newline",
            Kind::Bool,
            "Add an empty line before the block unless one is already there.",
        )
        .default("false"),
        param(
            "encoding",
            Kind::Str,
            "Accepted for compatibility; has no effect (the file is edited as \
            bytes, text arguments are UTF-8).",
        ),
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
    example: "- name: Allow the backup host in sshd_config
  ansible.builtin.blockinfile:
    path: /etc/ssh/sshd_config
    insertbefore: '^Match '
    block: |
      Match Address 192.0.2.10
        PermitRootLogin prohibit-password
    validate: /usr/sbin/sshd -t -f %s
    backup: true

- name: Remove the block added by the old role
  ansible.builtin.blockinfile:
    path: /etc/hosts
    marker: '# {mark} OLD ROLE HOSTS'
    state: absent
",
    open: false,
    fields: params::fields::<Params>,
};

enum Place {
    Bof,
    Eof,
    After(Regex),
    Before(Regex),
}

struct Task {
    path: String,
    present: bool,
    marker0: Vec<u8>,
    marker1: Vec<u8>,
    block: Vec<u8>,
    place: Place,
    create: bool,
    backup: bool,
    append_newline: bool,
    prepend_newline: bool,
    validate: Option<String>,
    want: Want,
    unsafe_writes: bool,
    stash: Stash<Planned>,
}

#[derive(Debug, Clone)]
struct Planned {
    content: Option<Vec<u8>>,
    exists: bool,
    attrs_change: bool,
    msg: String,
}

impl Module for BlockInFile {
    fn name(&self) -> &'static str {
        "blockinfile"
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
            &p.encoding,
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
            return Err(ParamError::new(
                "parameters are mutually exclusive: insertbefore|insertafter",
            ));
        }
        common::check_validate(&p.validate)?;
        let marker = p
            .marker
            .unwrap_or_else(|| "# {mark} ANSIBLE MANAGED BLOCK".into());
        let begin = p.marker_begin.unwrap_or_else(|| "BEGIN".into());
        let end = p.marker_end.unwrap_or_else(|| "END".into());
        let place = match (&p.insertafter, &p.insertbefore) {
            (Some(a), _) if a == "EOF" => Place::Eof,
            (Some(a), _) => {
                Place::After(pyre::compile(a, "").map_err(|e| ParamError::at("insertafter", e))?)
            }
            (None, Some(b)) if b == "BOF" => Place::Bof,
            (None, Some(b)) => {
                Place::Before(pyre::compile(b, "").map_err(|e| ParamError::at("insertbefore", e))?)
            }
            (None, None) => Place::Eof,
        };
        Ok(Box::new(Task {
            path: p.path,
            present,
            marker0: text::encode(&marker.replace("{mark}", &begin)),
            marker1: text::encode(&marker.replace("{mark}", &end)),
            block: text::encode(&p.block.unwrap_or_default()),
            place,
            create: p.create.unwrap_or(false),
            backup: p.backup.unwrap_or(false),
            append_newline: p.append_newline.unwrap_or(false),
            prepend_newline: p.prepend_newline.unwrap_or(false),
            validate: p.validate,
            want: Want::new(p.mode, p.owner, p.group)?,
            unsafe_writes: p.unsafe_writes.unwrap_or(false),
            stash: Stash::default(),
        }))
    }
}

fn strip_eol(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\n").unwrap_or(l)
}

impl Task {
    /// The new content (Ansible's algorithm, marker lines compared without
    /// their line end).
    fn edit(&self, original: &[u8]) -> (Vec<u8>, bool) {
        let mut lines = split_lines(original);
        let nl = b"\n".to_vec();
        let with_nl = |m: &[u8]| {
            let mut v = m.to_vec();
            v.push(b'\n');
            v
        };
        let blocklines: Vec<Vec<u8>> = if self.present && !self.block.is_empty() {
            let mut b = self.block.clone();
            if !b.ends_with(b"\n") {
                b.push(b'\n');
            }
            let mut v = vec![with_nl(&self.marker0)];
            v.extend(split_lines(&b));
            v.push(with_nl(&self.marker1));
            v
        } else {
            Vec::new()
        };
        let mut n0 = None;
        let mut n1 = None;
        for (i, l) in lines.iter().enumerate() {
            if strip_eol(l) == self.marker0.as_slice() {
                n0 = Some(i);
            }
            if strip_eol(l) == self.marker1.as_slice() {
                n1 = Some(i);
            }
        }
        let mut at = match (n0, n1) {
            (Some(a), Some(b)) if a < b => {
                lines.drain(a..=b);
                a
            }
            (Some(a), Some(b)) => {
                lines.drain(b..=a);
                b
            }
            _ => match &self.place {
                Place::Bof => 0,
                Place::Eof => lines.len(),
                Place::After(re) | Place::Before(re) if multiline(re.as_str()) => {
                    // With the (?m) flag the pattern searches the whole
                    // file; the block goes after the line holding the
                    // match's end (before the line holding its start).
                    let whole = text::decode(&lines.concat());
                    let after = matches!(self.place, Place::After(_));
                    match re.find(&whole).ok().flatten() {
                        None => lines.len(),
                        Some(m) if after => whole[..m.end()].matches('\n').count() + 1,
                        Some(m) => whole[..m.start()].matches('\n').count(),
                    }
                }
                Place::After(re) | Place::Before(re) => {
                    let mut hit = None;
                    for (i, l) in lines.iter().enumerate() {
                        let s = text::decode(strip_eol(l));
                        if re.is_match(&s).unwrap_or(false) {
                            hit = Some(i);
                        }
                    }
                    match (hit, &self.place) {
                        (None, _) => lines.len(),
                        (Some(i), Place::After(_)) => i + 1,
                        (Some(i), _) => i,
                    }
                }
            },
        };
        if at > 0 && !lines[at - 1].ends_with(b"\n") {
            lines[at - 1].push(b'\n');
        }
        if self.prepend_newline && self.present && at != 0 && lines[at - 1] != nl {
            lines.insert(at, nl.clone());
            at += 1;
        }
        let count = blocklines.len();
        lines.splice(at..at, blocklines);
        if self.append_newline && self.present {
            let after = at + count;
            if after < lines.len() && lines[after] != nl {
                lines.insert(after, nl);
            }
        }
        (lines.concat(), count == 0)
    }
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let st = host
            .stat(&self.path, &StatOpts::follow().with_content(u64::MAX))
            .await?;
        if let Some(s) = &st
            && s.is_dir()
        {
            return Err(ModuleError::Failed {
                msg: format!("Path {} is a directory !", self.path),
                result: [("rc".to_string(), json!(256))].into_iter().collect(),
            });
        }
        let original = match &st {
            Some(s) => s.content.clone().ok_or_else(|| {
                ModuleError::failed(format!("cannot read {}: Permission denied", self.path))
            })?,
            None if !self.create => {
                return Err(ModuleError::Failed {
                    msg: format!("Path {} does not exist !", self.path),
                    result: [("rc".to_string(), json!(257))].into_iter().collect(),
                });
            }
            None => Vec::new(),
        };
        let (new, removed) = self.edit(&original);
        let content_changed = new != original;
        let mut msg = if !content_changed {
            String::new()
        } else if st.is_none() {
            "File created".into()
        } else if removed {
            "Block removed".into()
        } else {
            "Block inserted".into()
        };
        let delta = st.as_ref().map(|s| self.want.delta(s)).unwrap_or_default();
        msg = common::attrs_msg(&msg, !delta.is_empty());
        let mut r = Facts::new();
        r.insert("msg".into(), json!(msg));
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
        let Plan::Change { diff, .. } = plan else {
            return Ok(Applied::default());
        };
        let Some(p) = self.stash.get() else {
            return Err(ModuleError::failed("blockinfile: apply without a check"));
        };
        let mut r = Facts::new();
        r.insert("msg".into(), json!(p.msg));
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
            if let Some(b) = b {
                r.insert("backup_file".into(), json!(b));
            }
        } else if p.attrs_change {
            host.set_attrs(&self.path, &self.want.attrs(), true, false)
                .await?;
        }
        Ok(Applied {
            changed: true,
            failed: false,
            msg: Some(p.msg),
            result: r,
            diff,
        })
    }
}

/// Whether a pattern turns on multi-line matching with a leading inline
/// flag group such as `(?m)` or `(?im)`, as Python's `re.MULTILINE`.
fn multiline(pattern: &str) -> bool {
    pattern
        .strip_prefix("(?")
        .and_then(|rest| rest.split([')', ':']).next())
        .is_some_and(|flags| flags.chars().all(|c| c.is_ascii_alphabetic()) && flags.contains('m'))
}
