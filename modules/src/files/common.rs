//! What the file modules share: wanted attributes compared with a stat,
//! Ansible's path-info result keys, dict diffs rendered the way Ansible's
//! callback renders them, and turning write results into module errors.

use std::sync::Mutex;

use serde_json::{Map, Value, json};

use super::attrs::{Mode, ModeParam, mode_str};
use crate::fs::{Attrs, FileKind, FileStat, ValidateFailure, WriteResult};
use crate::module::{ModuleError, ParamError};
use crate::plan::{Diff, Facts};
use crate::text;

/// The umask assumed when predicting the mode of a file check mode cannot
/// see (a new file); apply uses the host's own.
pub const ASSUMED_UMASK: u32 = 0o022;

/// `mode`/`owner`/`group` as asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Want {
    pub mode: Option<Mode>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

/// Attribute differences: the keys that change, before and after.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    pub before: Map<String, Value>,
    pub after: Map<String, Value>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.after.is_empty()
    }

    /// One line per changed attribute, for `Plan::Change::changes`.
    pub fn lines(&self, path: &str) -> Vec<String> {
        self.after
            .iter()
            .map(|(k, v)| {
                let b = self.before.get(k).cloned().unwrap_or(Value::Null);
                format!("{k} of {path}: {} -> {}", plain(&b), plain(v))
            })
            .collect()
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Want {
    /// From parameters where `preserve` is not allowed.
    pub fn new(
        mode: Option<ModeParam>,
        owner: Option<String>,
        group: Option<String>,
    ) -> Result<Self, ParamError> {
        let mode = match mode {
            None => None,
            Some(ModeParam::Mode(m)) => Some(m),
            Some(ModeParam::Preserve) => {
                return Err(ParamError::at(
                    "mode",
                    "mode 'preserve' is only supported by the copy and template modules",
                ));
            }
        };
        Ok(Want {
            mode,
            owner: owner.filter(|s| !s.is_empty()),
            group: group.filter(|s| !s.is_empty()),
        })
    }

    pub fn attrs(&self) -> Attrs {
        Attrs {
            mode: self.mode.clone(),
            owner: self.owner.clone(),
            group: self.group.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none()
    }

    /// What would change on an existing file (`st`), as Ansible's
    /// `set_*_if_different` would report it.
    pub fn delta(&self, st: &FileStat) -> Delta {
        let mut d = Delta::default();
        if let Some(o) = &self.owner
            && !names(o, &st.owner, st.uid)
        {
            d.before.insert("owner".into(), json!(st.uid));
            d.after.insert("owner".into(), json!(o));
        }
        if let Some(g) = &self.group
            && !names(g, &st.group, st.gid)
        {
            d.before.insert("group".into(), json!(st.gid));
            d.after.insert("group".into(), json!(g));
        }
        if let Some(m) = &self.mode
            && !st.is_link()
        {
            let new = m.resolve(st.mode, st.is_dir(), ASSUMED_UMASK);
            if new != st.mode {
                d.before.insert("mode".into(), json!(mode_str(st.mode)));
                d.after.insert("mode".into(), json!(mode_str(new)));
            }
        }
        d
    }

    /// The mode a new file would get.
    pub fn new_file_mode(&self, is_dir: bool) -> u32 {
        let base = if is_dir { 0o777 } else { 0o666 } & !ASSUMED_UMASK;
        self.mode
            .as_ref()
            .map_or(base, |m| m.resolve(base, is_dir, ASSUMED_UMASK))
    }
}

/// Whether the name or number `want` is the file's `name`/`id`.
pub fn names(want: &str, name: &str, id: u32) -> bool {
    want == name || want.parse::<u32>().is_ok_and(|n| n == id)
}

/// The `state` Ansible reports for an existing path.
pub fn state_of(st: &FileStat) -> &'static str {
    match st.kind() {
        FileKind::Link => "link",
        FileKind::Directory => "directory",
        _ if st.nlink > 1 => "hard",
        _ => "file",
    }
}

/// Ansible's `add_path_info` keys for an existing path (`None`: absent).
pub fn path_info(r: &mut Facts, st: Option<&FileStat>) {
    match st {
        Some(st) => {
            r.insert("uid".into(), json!(st.uid));
            r.insert("gid".into(), json!(st.gid));
            r.insert("owner".into(), json!(st.owner));
            r.insert("group".into(), json!(st.group));
            r.insert("mode".into(), json!(mode_str(st.mode)));
            r.insert("state".into(), json!(state_of(st)));
            r.insert("size".into(), json!(st.size));
        }
        None => {
            r.insert("state".into(), json!("absent"));
        }
    }
}

/// Predicted path-info keys after a change: the stat with the delta applied.
pub fn predicted_info(r: &mut Facts, st: &FileStat, delta: &Delta) {
    path_info(r, Some(st));
    for (k, v) in &delta.after {
        r.insert(k.clone(), v.clone());
    }
}

/// JSON the way Ansible's callback shows dict diffs: sorted keys, four
/// spaces, and a final newline.
pub fn json_text(m: &Map<String, Value>) -> String {
    use serde::Serialize;
    let sorted: std::collections::BTreeMap<&String, &Value> = m.iter().collect();
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if sorted.serialize(&mut ser).is_err() {
        return String::new();
    }
    let mut s = String::from_utf8_lossy(&buf).into_owned();
    s.push('\n');
    s
}

/// A dict diff (`file` module style): `--- before` / `+++ after`.
pub fn dict_diff(before: &Map<String, Value>, after: &Map<String, Value>) -> Diff {
    Diff {
        data: Some((before.clone(), after.clone())),
        before_header: None,
        after_header: None,
        before: json_text(before),
        after: json_text(after),
    }
}

/// An attribute diff with headers (`lineinfile` style), or nothing.
pub fn attr_diff(path: &str, delta: &Delta) -> Option<Diff> {
    (!delta.is_empty()).then(|| Diff {
        data: None,
        before_header: Some(format!("{path} (file attributes)")),
        after_header: Some(format!("{path} (file attributes)")),
        before: json_text(&delta.before),
        after: json_text(&delta.after),
    })
}

/// A content diff with `before_header`/`after_header`.
pub fn content_diff(header: &str, before: &[u8], after: &[u8]) -> Diff {
    Diff {
        data: None,
        before_header: Some(header.to_string()),
        after_header: Some(header.to_string()),
        before: text::decode(before),
        after: text::decode(after),
    }
}

/// The `failed to validate` error Ansible reports.
pub fn validate_failed(v: ValidateFailure) -> ModuleError {
    let mut result = Facts::new();
    result.insert("exit_status".into(), json!(v.exit_status));
    result.insert("stdout".into(), json!(text::decode(&v.stdout)));
    result.insert("stderr".into(), json!(text::decode(&v.stderr)));
    ModuleError::Failed {
        msg: "failed to validate".into(),
        result,
    }
}

/// The backup file of a successful write, or the validate failure.
pub fn written(r: WriteResult) -> Result<Option<String>, ModuleError> {
    match r {
        WriteResult::Written { backup_file, .. } => Ok(backup_file),
        WriteResult::Invalid(v) => Err(validate_failed(v)),
    }
}

/// Checks `validate` at prepare time, as Ansible does before any I/O.
pub fn check_validate(v: &Option<String>) -> Result<(), ParamError> {
    match v {
        Some(v) => crate::fs::validate_argv(v)
            .map(|_| ())
            .map_err(|e| ParamError::at("validate", e)),
        None => Ok(()),
    }
}

/// What `check` worked out, kept for `apply` (a prepared task belongs to
/// one host, so the last check is the one being applied).
#[derive(Debug)]
pub struct Stash<T>(Mutex<Option<T>>);

impl<T> Default for Stash<T> {
    fn default() -> Self {
        Stash(Mutex::new(None))
    }
}

impl<T: Clone> Stash<T> {
    pub fn put(&self, v: T) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
    }

    pub fn get(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The parent directory of a path, as `dirname` gives it.
pub fn parent(path: &str) -> &str {
    match path.trim_end_matches('/').rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

/// A `Plan::Change` result's `msg` joined with the attributes note.
pub fn attrs_msg(msg: &str, attrs_changed: bool) -> String {
    match (msg.is_empty(), attrs_changed) {
        (_, false) => msg.to_string(),
        (true, true) => "ownership, perms or SE linux context changed".into(),
        (false, true) => format!("{msg} and ownership, perms or SE linux context changed"),
    }
}
