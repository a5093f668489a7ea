//! The `replace` module: replace every match of a Python-style regexp
//! (multiline mode) in a file, optionally only between `after` and
//! `before`, with `\1`/`\g<name>` backreferences in `replace`. Text that
//! is not UTF-8 passes through untouched. One probe to check, one run to
//! apply.

use async_trait::async_trait;
use fancy_regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};

use super::attrs::{self, ModeParam};
use super::common::{self, Stash, Want};
use super::lineinfile::{WriteExtras, write_content};
use super::pyre::{self, Template};
use crate::fs::StatOpts;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `replace` module.
pub struct Replace;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    path: String,
    regexp: String,
    #[serde(default, deserialize_with = "params::opt_string")]
    replace: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    after: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    before: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    backup: Option<bool>,
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
    name: "replace",
    short: "Replace every match of a regular expression in a file",
    description: "Replaces all matches of a Python-style regular expression in \
        a file on the target, optionally only in the part between `after` and \
        `before`. The pattern runs in multi-line mode, so `^` and `$` match at \
        each line. The new content is computed from the file and written \
        atomically only when it differs; write the replacement so that it no \
        longer matches `regexp`, or the task changes the file every time. Text \
        that is not UTF-8 passes through untouched.",
    params: &[
        param("path", Kind::Path, "The file on the target to edit.")
            .required()
            .aliases(&["dest", "destfile", "name"]),
        param(
            "regexp",
            Kind::Str,
            "Python-style regular expression to look for (multi-line mode).",
        )
        .required(),
        param(
            "replace",
            Kind::Str,
            "Replacement for each match; `\\1` or `\\g<name>` insert what the \
            groups captured. Without it, or empty, the matches are removed.",
        ),
        param(
            "after",
            Kind::Str,
            "Only replace in the text after the first match of this pattern.",
        ),
        param(
            "before",
            Kind::Str,
            "Only replace in the text before this pattern: before its last \
            match, or with `after`, before its first match following `after`. \
            When `after`/`before` do not match, nothing is replaced.",
        ),
        param(
            "backup",
            Kind::Bool,
            "Keep a timestamped copy of the file being changed beside it.",
        )
        .default("false"),
        param(
            "encoding",
            Kind::Str,
            "Encoding of the file; only UTF-8 and ASCII are accepted.",
        )
        .default("utf-8"),
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
    example: "- name: Point the application at the new database host
  ansible.builtin.replace:
    path: /etc/app/app.conf
    regexp: '^(\\s*db_host\\s*=\\s*).*$'
    replace: '\\g<1>db2.example.com'
    backup: true

- name: Comment out the mirrors, only in the [main] section
  ansible.builtin.replace:
    path: /etc/app/sources.ini
    after: '\\[main\\]'
    before: '\\['
    regexp: '^(mirror=.*)$'
    replace: '# \\1'
",
    open: false,
    fields: params::fields::<Params>,
};

struct Task {
    path: String,
    re: Regex,
    tpl: Template,
    section: Option<(Regex, String)>,
    backup: bool,
    validate: Option<String>,
    want: Want,
    unsafe_writes: bool,
    stash: Stash<Planned>,
}

#[derive(Debug, Clone)]
struct Planned {
    content: Option<Vec<u8>>,
    attrs_change: bool,
    msg: String,
}

impl Module for Replace {
    fn name(&self) -> &'static str {
        "replace"
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
        if let Some(e) = &p.encoding
            && !matches!(
                e.to_ascii_lowercase().replace('_', "-").as_str(),
                "utf-8" | "utf8" | "ascii"
            )
        {
            return Err(ParamError::at(
                "encoding",
                format!("replace: only UTF-8 (and ASCII) files are supported, not {e}"),
            ));
        }
        common::check_validate(&p.validate)?;
        let re = pyre::compile(&p.regexp, "m").map_err(|e| ParamError::at("regexp", e))?;
        let tpl = Template::parse(&p.replace.unwrap_or_default()).map_err(|e| {
            ParamError::at(
                "replace",
                format!("Unable to process replace due to error: {e}"),
            )
        })?;
        let after = p.after.filter(|s| !s.is_empty());
        let before = p.before.filter(|s| !s.is_empty());
        let pattern = match (&after, &before) {
            (Some(a), Some(b)) => Some(format!("{a}(?P<subsection>.*?){b}")),
            (Some(a), None) => Some(format!("{a}(?P<subsection>.*)")),
            (None, Some(b)) => Some(format!("(?P<subsection>.*){b}")),
            (None, None) => None,
        };
        let section = match pattern {
            Some(pat) => Some((
                pyre::compile(&pat, "s").map_err(|e| ParamError::at("after", e))?,
                pat,
            )),
            None => None,
        };
        Ok(Box::new(Task {
            path: p.path,
            re,
            tpl,
            section,
            backup: p.backup.unwrap_or(false),
            validate: p.validate,
            want: Want::new(p.mode, p.owner, p.group)?,
            unsafe_writes: p.unsafe_writes.unwrap_or(false),
            stash: Stash::default(),
        }))
    }
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let st = host
            .stat(&self.path, &StatOpts::follow().with_content(u64::MAX))
            .await?;
        let Some(st) = st else {
            return Err(ModuleError::Failed {
                msg: format!("Path {} does not exist !", self.path),
                result: [("rc".to_string(), json!(257))].into_iter().collect(),
            });
        };
        if st.is_dir() {
            return Err(ModuleError::Failed {
                msg: format!("Path {} is a directory !", self.path),
                result: [("rc".to_string(), json!(256))].into_iter().collect(),
            });
        }
        // A character device such as /dev/null reads as empty, as in Python.
        let original = (!st.is_file() && st.content.is_none())
            .then(Vec::new)
            .or_else(|| st.content.clone())
            .ok_or_else(|| {
                ModuleError::failed(format!("cannot read {}: Permission denied", self.path))
            })?;
        let contents = text::decode(&original);
        let (start, end) = match &self.section {
            None => (0, contents.len()),
            Some((re, pat)) => match re.captures(&contents) {
                Ok(Some(c)) => match c.name("subsection") {
                    Some(m) => (m.start(), m.end()),
                    None => (0, 0),
                },
                _ => {
                    let mut r = Facts::new();
                    r.insert(
                        "msg".into(),
                        json!(format!(
                            "Pattern for before/after params did not match the given file: {pat}"
                        )),
                    );
                    return Ok(Plan::InSync { result: r });
                }
            },
        };
        let section = &contents[start..end];
        let (new_section, n) = pyre::subn(&self.re, &self.tpl, section)
            .map_err(|e| ModuleError::failed(format!("replace: {e}")))?;
        let content_changed = n > 0 && new_section != section;
        let mut msg = if content_changed {
            format!("{n} replacements made")
        } else {
            String::new()
        };
        let delta = self.want.delta(&st);
        msg = common::attrs_msg(&msg, !delta.is_empty());
        let mut r = Facts::new();
        r.insert("msg".into(), json!(msg));
        if !content_changed && delta.is_empty() {
            return Ok(Plan::InSync { result: r });
        }
        let mut changes = Vec::new();
        let mut diff = Vec::new();
        let mut new_bytes = None;
        if content_changed {
            let new_text = format!("{}{new_section}{}", &contents[..start], &contents[end..]);
            let bytes = text::encode(&new_text);
            changes.push(format!("{n} replacements in {}", self.path));
            diff.push(common::content_diff(&self.path, &original, &bytes));
            new_bytes = Some(bytes);
        }
        changes.extend(delta.lines(&self.path));
        diff.extend(common::attr_diff(&self.path, &delta));
        self.stash.put(Planned {
            content: new_bytes,
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
            return Err(ModuleError::failed("replace: apply without a check"));
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
                    backup: self.backup,
                    unsafe_writes: self.unsafe_writes,
                    create_parent: false,
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
