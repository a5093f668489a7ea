//! The `known_hosts` module: add or remove a host's keys in an SSH
//! `known_hosts` file, matching plain and hashed (`|1|salt|hash`) host
//! names, and hashing new entries with `hash_host`. Its own small parser:
//! lines it does not touch are kept byte for byte.
//!
//! One probe (the file, with `~` resolved on the host); one atomic write.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::json;
use sha1::Digest as _;

use super::{SECTION_PRELUDE, choice, probe_sections, sh};
use crate::files::attrs::Mode;
use crate::files::common::Stash;
use crate::fs::{Attrs, Content, WriteOpts};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Diff, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `known_hosts` module.
pub struct KnownHosts;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_bool")]
    hash_host: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    key: Option<String>,
    #[serde(alias = "host")]
    name: String,
    #[serde(default, deserialize_with = "params::opt_string")]
    path: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "known_hosts",
    short: "Add or remove a host's keys in an SSH known_hosts file",
    description: "Adds a host key line to a `known_hosts` file, or removes \
        every key of a host. Host names are matched in plain and in hashed \
        (`|1|salt|hash`) entries; a key of the same type with other material \
        is replaced, keys of other types are kept, and so are all other \
        lines. The file (and its directory, mode 0700, when missing) is \
        written atomically, only when its content changes.",
    params: &[
        param(
            "hash_host",
            Kind::Bool,
            "Write a new entry with its host names hashed, as `ssh-keygen -H` \
            does; an existing plain entry with the same key is rewritten \
            hashed.",
        )
        .default("false"),
        param(
            "key",
            Kind::Str,
            "One key line, as `ssh-keyscan` prints it: host names, key type \
            and key. Its host field must name `name`. Needed with \
            `state: present`.",
        ),
        param(
            "name",
            Kind::Str,
            "The host whose keys are managed (compared case-insensitively; \
            `[host]:port` for another port).",
        )
        .required()
        .aliases(&["host"]),
        param(
            "path",
            Kind::Path,
            "The file to edit; a leading `~/` is the connecting user's home.",
        )
        .default("~/.ssh/known_hosts"),
        param(
            "state",
            Kind::Str,
            "Whether the key should be in the file (`present`) or all of the \
            host's keys gone (`absent`).",
        )
        .default("present")
        .choices(&["absent", "present"]),
    ],
    check: Support::Full,
    diff: Support::Full,
    example: "- name: Trust the Git server's host key
  ansible.builtin.known_hosts:
    name: git.example.com
    key: git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdpdHNlcnZlcmhvc3RrZXlleGFtcGxl
    path: /etc/ssh/ssh_known_hosts

- name: Forget an old host
  ansible.builtin.known_hosts:
    name: old.example.com
    state: absent
",
    open: false,
    fields: params::fields::<Params>,
};

/// One `known_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub marker: Option<String>,
    pub hosts: String,
    pub kind: String,
    pub blob: String,
}

/// Parses a line; `None` for comments, blanks and malformed lines.
pub fn parse_line(line: &str) -> Option<Entry> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let mut f = t.split_whitespace();
    let mut first = f.next()?;
    let mut marker = None;
    if first.starts_with('@') {
        marker = Some(first.to_string());
        first = f.next()?;
    }
    Some(Entry {
        marker,
        hosts: first.to_string(),
        kind: f.next()?.to_string(),
        blob: f.next()?.to_string(),
    })
}

fn hmac_sha1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        let d = sha1::Sha1::digest(key);
        k[..d.len()].copy_from_slice(&d);
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = sha1::Sha1::new();
    inner.update(k.iter().map(|b| b ^ 0x36).collect::<Vec<u8>>());
    inner.update(msg);
    let ih = inner.finalize();
    let mut outer = sha1::Sha1::new();
    outer.update(k.iter().map(|b| b ^ 0x5c).collect::<Vec<u8>>());
    outer.update(ih);
    outer.finalize().to_vec()
}

/// `|1|salt|hash` for `host` with this salt, as `ssh-keygen -H` writes it.
pub fn hash_host(host: &str, salt: &[u8]) -> String {
    format!(
        "|1|{}|{}",
        B64.encode(salt),
        B64.encode(hmac_sha1(salt, host.as_bytes()))
    )
}

/// Whether one host pattern names `host` (plain, or hashed).
fn pattern_matches(pattern: &str, host: &str) -> bool {
    if let Some(rest) = pattern.strip_prefix("|1|") {
        let mut p = rest.splitn(2, '|');
        let (Some(salt), Some(hash)) = (p.next(), p.next()) else {
            return false;
        };
        let (Ok(salt), Ok(hash)) = (B64.decode(salt), B64.decode(hash)) else {
            return false;
        };
        return hmac_sha1(&salt, host.as_bytes()) == hash;
    }
    pattern.eq_ignore_ascii_case(host)
}

/// Whether the entry's host field names `host`.
pub fn entry_matches(e: &Entry, host: &str) -> bool {
    e.hosts.split(',').any(|p| pattern_matches(p, host))
}

/// A salt that differs per call: hashing hides names, the salt need
/// only be unique.
fn salt(seed: &str) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut h = sha1::Sha1::new();
    h.update(seed.as_bytes());
    h.update(now.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.finalize().to_vec()
}

struct Task {
    name: String,
    key: Option<Entry>,
    /// The key line as given.
    key_line: Option<String>,
    path: Option<String>,
    present: bool,
    hash: bool,
    result: Facts,
    stash: Stash<Planned>,
}

#[derive(Debug, Clone)]
struct Planned {
    path: String,
    content: Vec<u8>,
    mkdir: Option<String>,
}

/// `$1` path (empty: `~/.ssh/known_hosts`; a leading `~/` is the
/// connecting user's home).
pub const PROBE: &str = r#"p=$1
case $p in "") p=$HOME/.ssh/known_hosts;; "~") p=$HOME;; "~/"*) p=$HOME/${p#"~/"};; esac
s path printf %s "$p"
[ -f "$p" ] && s file cat -- "$p"
s dir test -d "$(dirname -- "$p")"
"#;

impl Module for KnownHosts {
    fn name(&self) -> &'static str {
        "known_hosts"
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
        let present = state == "present";
        let name = p.name.to_lowercase();
        let key_line = p.key.filter(|k| !k.trim().is_empty());
        if present && key_line.is_none() {
            return Err(ParamError::at(
                "key",
                "state is present but all of the following are missing: key",
            ));
        }
        let key = match &key_line {
            None => None,
            Some(k) => {
                let lines: Vec<&str> = k.lines().filter(|l| !l.trim().is_empty()).collect();
                if lines.len() != 1 {
                    return Err(ParamError::at("key", "key must be exactly one line"));
                }
                let Some(e) = parse_line(lines[0]) else {
                    return Err(ParamError::at("key", format!("Invalid key specified: {k}")));
                };
                if !entry_matches(&e, &name) {
                    return Err(ParamError::at(
                        "key",
                        "Host parameter does not match hashed host field in supplied key",
                    ));
                }
                Some(e)
            }
        };
        let mut result = Facts::new();
        result.insert("name".into(), json!(name));
        result.insert("key".into(), json!(key_line));
        result.insert("state".into(), json!(state));
        result.insert("hash_host".into(), json!(p.hash_host.unwrap_or(false)));
        Ok(Box::new(Task {
            name,
            key,
            key_line,
            path: p.path.filter(|x| !x.is_empty()),
            present,
            hash: p.hash_host.unwrap_or(false),
            result,
            stash: Stash::default(),
        }))
    }
}

impl Task {
    /// The new content.
    fn edit(&self, before: &str) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut found = false;
        // A `@cert-authority`/`@revoked` key is matched among lines with
        // the same marker, so it is found again instead of appended again.
        let marker = self.key.as_ref().and_then(|k| k.marker.clone());
        for line in before.lines() {
            let e = parse_line(line);
            let ours = e
                .as_ref()
                .is_some_and(|e| e.marker == marker && entry_matches(e, &self.name));
            if !ours {
                out.push(line.to_string());
                continue;
            }
            let Some(e) = e else { continue };
            if !self.present {
                continue;
            }
            let Some(k) = &self.key else {
                out.push(line.to_string());
                continue;
            };
            if e.kind != k.kind {
                out.push(line.to_string());
                continue;
            }
            let hashed = e.hosts.starts_with("|1|");
            if e.blob == k.blob && !found && (hashed || !self.hash) {
                found = true;
                out.push(line.to_string());
            }
            // else: an old key of the same type, replaced below.
        }
        if self.present
            && !found
            && let (Some(k), Some(line)) = (&self.key, &self.key_line)
        {
            if self.hash && !k.hosts.starts_with("|1|") {
                let rest = line
                    .trim()
                    .split_once(char::is_whitespace)
                    .map(|(_, r)| r.trim_start().to_string())
                    .unwrap_or_default();
                for h in k.hosts.split(',') {
                    out.push(format!("{} {rest}", hash_host(h, &salt(h))));
                }
            } else {
                out.push(line.trim().to_string());
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
                [self.path.clone().unwrap_or_default()],
            ),
        )
        .await?;
        let path = s.get("path").body;
        let before = s.get("file").body;
        let after = self.edit(&before);
        let mut r = self.result.clone();
        r.insert("path".into(), json!(path));
        if before == after {
            return Ok(Plan::InSync { result: r });
        }
        let dir = crate::files::common::parent(&path).to_string();
        self.stash.put(Planned {
            path: path.clone(),
            content: after.clone().into_bytes(),
            mkdir: (!s.success("dir")).then_some(dir),
        });
        Ok(Plan::Change {
            changes: vec![format!(
                "{} {} in {path}",
                if self.present { "add" } else { "remove" },
                self.name
            )],
            diff: vec![Diff {
                data: None,
                before_header: Some(path.clone()),
                after_header: Some(path),
                before,
                after,
            }],
            result: r,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change { result, diff, .. } = plan else {
            return Ok(Applied::default());
        };
        let Some(p) = self.stash.get() else {
            return Err(ModuleError::failed("known_hosts: apply without a check"));
        };
        if let Some(d) = &p.mkdir {
            let a = Attrs {
                mode: Some(Mode::Octal(0o700)),
                ..Attrs::default()
            };
            host.mkdir_p(d, &a).await?;
        }
        host.write_atomic(&p.path, Content::Bytes(p.content), &WriteOpts::default())
            .await?;
        Ok(Applied {
            changed: true,
            failed: false,
            msg: None,
            result,
            diff,
        })
    }
}
