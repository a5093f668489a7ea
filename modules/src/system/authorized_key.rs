//! The `authorized_key` module: add or remove SSH public keys in a user's
//! `authorized_keys`, matched by the key itself, with `key_options`,
//! `comment`, `exclusive` and `manage_dir` as Ansible has them. Lines the
//! module does not touch are kept byte for byte.
//!
//! One probe (the user's entry, the file and its directory's attributes);
//! apply writes the file atomically (0600, owned by the user), after
//! creating `~/.ssh` (0700) when `manage_dir` and it is missing.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{SECTION_PRELUDE, choice, passwd, probe_sections, sh};
use crate::files::attrs::Mode;
use crate::files::common::Stash;
use crate::fs::{Attrs, Content, WriteOpts};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Diff, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `authorized_key` module.
pub struct AuthorizedKey;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_string")]
    comment: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    exclusive: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    follow: Option<bool>,
    #[serde(deserialize_with = "req_string")]
    key: String,
    #[serde(default, deserialize_with = "params::opt_string")]
    key_options: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    manage_dir: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    path: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    user: String,
    #[serde(default, deserialize_with = "params::opt_bool")]
    validate_certs: Option<bool>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "authorized_key",
    short: "Add or remove SSH public keys in a user's authorized_keys",
    description: "Adds or removes public keys in a user's `authorized_keys` file \
        (by default `~USER/.ssh/authorized_keys`). Keys are matched by their \
        key material, so a key already there is rewritten only when its \
        options or comment differ; lines the task does not concern are kept \
        as they are. The file is written atomically with mode 0600 and owned \
        by the user, and nothing is written when it already holds what is \
        asked.",
    params: &[
        param(
            "comment",
            Kind::Str,
            "Comment written after the key, replacing the one in `key`; an \
            empty string drops it.",
        ),
        param(
            "exclusive",
            Kind::Bool,
            "Remove every key of the file that is not in `key`.",
        )
        .default("false"),
        param(
            "follow",
            Kind::Bool,
            "When the key file is a symlink, edit the file it points to.",
        )
        .default("false"),
        param(
            "key",
            Kind::Str,
            "The public key, or several, one per line (blank lines and `#` \
            comments are skipped). URLs are not fetched: download the key \
            first and pass its text.",
        )
        .required(),
        param(
            "key_options",
            Kind::Str,
            "Comma-separated `authorized_keys` options (such as \
            `no-pty,from=\"10.0.0.0/8\"`) put before the key, replacing any \
            options given in `key`.",
        ),
        param(
            "manage_dir",
            Kind::Bool,
            "Create the key file's directory (mode 0700, owned by the user) \
            when missing, fix that directory's mode and owner, and keep the \
            file at mode 0600 owned by the user.",
        )
        .default("true"),
        param(
            "path",
            Kind::Path,
            "The key file to edit; without it, \
            `.ssh/authorized_keys` in the user's home directory.",
        ),
        param(
            "state",
            Kind::Str,
            "Whether the keys should be in the file or not.",
        )
        .default("present")
        .choices(&["absent", "present"]),
        param(
            "user",
            Kind::Str,
            "The account whose keys are managed; it must exist on the target.",
        )
        .required(),
        param(
            "validate_certs",
            Kind::Bool,
            "Accepted for compatibility; has no effect since keys are never \
            fetched from URLs.",
        )
        .default("true"),
    ],
    check: Support::Full,
    diff: Support::Partial("shows content changes; mode or owner fixes have no diff"),
    example: "- name: Let the deploy key log in as deploy
  ansible.builtin.authorized_key:
    user: deploy
    key: \"{{ lookup('file', 'files/deploy.pub') }}\"
    key_options: no-port-forwarding,no-agent-forwarding

- name: Keep only the admins' keys for root
  ansible.builtin.authorized_key:
    user: root
    key: |
      ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVzZXJhbGljZWtleWV4YW1wbGUx alice
      ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVzZXJib2JrZXlleGFtcGxlMTIz bob
    exclusive: true

- name: Remove an old key
  ansible.builtin.authorized_key:
    user: alice
    key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0bGF0ZXN0a2V5b2xkYWxpY2U old-laptop
    state: absent
",
    open: false,
    fields: params::fields::<Params>,
};

fn req_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    params::opt_string(d).map(Option::unwrap_or_default)
}

/// A parsed `authorized_keys` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLine {
    pub options: Option<String>,
    pub kind: String,
    pub blob: String,
    pub comment: Option<String>,
}

impl KeyLine {
    /// Ansible's serialization: options, type, key, comment, by spaces.
    pub fn render(&self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        if let Some(o) = self.options.as_deref().filter(|o| !o.is_empty()) {
            parts.push(o);
        }
        parts.push(&self.kind);
        parts.push(&self.blob);
        if let Some(c) = self.comment.as_deref().filter(|c| !c.is_empty()) {
            parts.push(c);
        }
        parts.join(" ")
    }
}

fn is_key_type(t: &str) -> bool {
    t.starts_with("ssh-")
        || t.starts_with("ecdsa-sha2-")
        || t.starts_with("sk-ecdsa-sha2-")
        || t.starts_with("sk-ssh-")
}

/// Splits on blanks outside double quotes (options may quote spaces).
fn split_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                cur.push(c);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses one key line; `None` for comments, blank and invalid lines.
pub fn parse_key(line: &str) -> Option<KeyLine> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let f = split_fields(t);
    let i = f.iter().position(|x| is_key_type(x))?;
    let blob = f.get(i + 1)?.clone();
    let options = (i > 0).then(|| f[..i].join(" "));
    let comment = (f.len() > i + 2).then(|| f[i + 2..].join(" "));
    Some(KeyLine {
        options,
        kind: f[i].clone(),
        blob,
        comment,
    })
}

/// `key_options` normalized as Ansible's parser does: split on commas
/// outside quotes, joined back with commas.
fn normalize_options(s: &str) -> String {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

struct Task {
    user: String,
    keys: Vec<KeyLine>,
    present: bool,
    path: Option<String>,
    manage_dir: bool,
    exclusive: bool,
    follow: bool,
    result: Facts,
    stash: Stash<Planned>,
}

#[derive(Debug, Clone)]
struct Planned {
    path: String,
    content: Option<Vec<u8>>,
    mkdir: Option<String>,
    fix_dir: Option<String>,
    fix_file: bool,
    owner: String,
    group: String,
}

/// `$1` user, `$2` path (empty: `~USER/.ssh/authorized_keys`), `$3` follow.
pub const PROBE: &str = r#"u=$1 p=$2 follow=$3
s passwd getent passwd "$u"
h=$(getent passwd "$u" | cut -d: -f6)
[ -n "$p" ] || p=$h/.ssh/authorized_keys
if [ "$follow" = 1 ] && [ -L "$p" ]; then p=$(readlink -f -- "$p"); fi
s path printf %s "$p"
d=$(dirname -- "$p")
s dir stat -c '%a %u %g' -- "$d" 2>/dev/null
s attrs stat -c '%a %u %g' -- "$p" 2>/dev/null
[ -f "$p" ] && s file cat -- "$p"
"#;

impl Module for AuthorizedKey {
    fn name(&self) -> &'static str {
        "authorized_key"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let state = choice(
            "state",
            p.state.as_deref(),
            "present",
            &["absent", "present"],
        )?;
        if p.key.starts_with("http://") || p.key.starts_with("https://") {
            return Err(ParamError::at(
                "key",
                "authorized_key: keys from URLs are not supported; fetch the key first (uri/get_url) and pass its content",
            ));
        }
        let exclusive = p.exclusive.unwrap_or(false);
        let mut keys = Vec::new();
        for line in p.key.lines() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let Some(mut k) = parse_key(t) else {
                return Err(ParamError::at("key", format!("invalid key specified: {t}")));
            };
            if let Some(o) = &p.key_options {
                k.options = Some(normalize_options(o)).filter(|o| !o.is_empty());
            } else if let Some(o) = &k.options {
                k.options = Some(normalize_options(o));
            }
            if let Some(c) = &p.comment {
                k.comment = Some(c.clone()).filter(|c| !c.is_empty());
            }
            keys.push(k);
        }
        let mut result = Facts::new();
        result.insert("user".into(), json!(p.user));
        result.insert("key".into(), json!(p.key));
        result.insert("key_options".into(), json!(p.key_options));
        result.insert("state".into(), json!(state));
        result.insert("manage_dir".into(), json!(p.manage_dir.unwrap_or(true)));
        result.insert("exclusive".into(), json!(exclusive));
        result.insert("follow".into(), json!(p.follow.unwrap_or(false)));
        result.insert("comment".into(), json!(p.comment));
        result.insert(
            "validate_certs".into(),
            json!(p.validate_certs.unwrap_or(true)),
        );
        result.insert("path".into(), json!(p.path));
        Ok(Box::new(Task {
            user: p.user,
            keys,
            present: state == "present",
            path: p.path.filter(|x| !x.is_empty()),
            manage_dir: p.manage_dir.unwrap_or(true),
            exclusive,
            follow: p.follow.unwrap_or(false),
            result,
            stash: Stash::default(),
        }))
    }
}

/// `mode uid gid` from the probe's `stat`.
fn attrs(s: &str) -> Option<(u32, u32, u32)> {
    let f: Vec<&str> = s.split_whitespace().collect();
    Some((
        u32::from_str_radix(f.first()?, 8).ok()?,
        f.get(1)?.parse().ok()?,
        f.get(2)?.parse().ok()?,
    ))
}

impl Task {
    fn edit(&self, before: &str) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut placed: Vec<bool> = vec![false; self.keys.len()];
        for line in before.lines() {
            let parsed = parse_key(line);
            let hit = parsed
                .as_ref()
                .and_then(|k| self.keys.iter().position(|w| w.blob == k.blob));
            match (hit, self.present) {
                (Some(i), true) => {
                    if placed[i] {
                        continue; // a duplicate of a key already written
                    }
                    placed[i] = true;
                    let same = parsed.as_ref() == Some(&self.keys[i]);
                    out.push(if same {
                        line.to_string()
                    } else {
                        self.keys[i].render()
                    });
                }
                (Some(_), false) => {}
                (None, _) if self.exclusive => {}
                (None, _) => out.push(line.to_string()),
            }
        }
        if self.present {
            for (i, k) in self.keys.iter().enumerate() {
                if !placed[i] {
                    out.push(k.render());
                }
            }
        }
        if out.is_empty() {
            String::new()
        } else {
            format!("{}\n", out.join("\n"))
        }
    }
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let s = probe_sections(
            host,
            &sh(
                &format!("{SECTION_PRELUDE}{PROBE}"),
                [
                    self.user.clone(),
                    self.path.clone().unwrap_or_default(),
                    if self.follow { "1" } else { "0" }.to_string(),
                ],
            ),
        )
        .await?;
        let Some(pw) = s.ok("passwd").and_then(|t| passwd::parse_passwd(&t)) else {
            return Err(ModuleError::failed(format!(
                "Failed to lookup user {}: user does not exist",
                self.user
            )));
        };
        let path = s.get("path").body;
        let dir = super::super::files::common::parent(&path).to_string();
        let before = s.get("file").body;
        let exists = s.success("file");
        let mut after = self.edit(&before);
        if after == before || (!exists && after.is_empty()) {
            after = before.clone();
        }
        let mut r = self.result.clone();
        r.insert("keyfile".into(), json!(path));
        if self.path.is_none() {
            r.insert("path".into(), Value::Null);
        }
        let dir_attrs = s.ok("dir").and_then(|a| attrs(&a));
        let file_attrs = s.ok("attrs").and_then(|a| attrs(&a));
        let content_change = after != before;
        let mut planned = Planned {
            path: path.clone(),
            content: content_change.then(|| after.clone().into_bytes()),
            mkdir: None,
            fix_dir: None,
            fix_file: false,
            owner: pw.uid.to_string(),
            group: pw.gid.to_string(),
        };
        let mut changes = Vec::new();
        if content_change {
            if self.manage_dir {
                match dir_attrs {
                    None => {
                        planned.mkdir = Some(dir.clone());
                        changes.push(format!("create {dir} (0700)"));
                    }
                    Some(a) if a != (0o700, pw.uid, pw.gid) => {
                        planned.fix_dir = Some(dir.clone());
                        changes.push(format!("{dir}: mode 0700, owner {}", self.user));
                    }
                    Some(_) => {}
                }
            }
            changes.push(format!(
                "{} key(s) in {path}",
                if self.present { "add" } else { "remove" }
            ));
        } else if self.manage_dir
            && exists
            && file_attrs.is_some_and(|a| a != (0o600, pw.uid, pw.gid))
        {
            planned.fix_file = true;
            changes.push(format!("{path}: mode 0600, owner {}", self.user));
        }
        if changes.is_empty() {
            return Ok(Plan::InSync { result: r });
        }
        let diff = if content_change {
            vec![Diff {
                data: None,
                before_header: Some(path.clone()),
                after_header: Some(path.clone()),
                before,
                after,
            }]
        } else {
            Vec::new()
        };
        self.stash.put(planned);
        Ok(Plan::Change {
            changes,
            diff,
            result: r,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change { result, diff, .. } = plan else {
            return Ok(Applied::default());
        };
        let Some(p) = self.stash.get() else {
            return Err(ModuleError::failed("authorized_key: apply without a check"));
        };
        let dir_attrs = Attrs {
            mode: Some(Mode::Octal(0o700)),
            owner: Some(p.owner.clone()),
            group: Some(p.group.clone()),
        };
        if let Some(d) = &p.mkdir {
            host.mkdir_p(d, &dir_attrs).await?;
        }
        if let Some(d) = &p.fix_dir {
            host.set_attrs(d, &dir_attrs, true, false).await?;
        }
        let (owner, group, mode) = if self.manage_dir {
            (
                Some(p.owner.clone()),
                Some(p.group.clone()),
                Some(Mode::Octal(0o600)),
            )
        } else {
            (None, None, None)
        };
        if let Some(c) = &p.content {
            let opts = WriteOpts {
                mode: mode.or(Some(Mode::Octal(0o600))),
                owner: owner.or(Some(p.owner.clone())),
                group: group.or(Some(p.group.clone())),
                follow: true,
                ..WriteOpts::default()
            };
            host.write_atomic(&p.path, Content::Bytes(c.clone()), &opts)
                .await?;
        } else if p.fix_file {
            let a = Attrs {
                mode: Some(Mode::Octal(0o600)),
                owner: Some(p.owner.clone()),
                group: Some(p.group.clone()),
            };
            host.set_attrs(&p.path, &a, true, false).await?;
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
