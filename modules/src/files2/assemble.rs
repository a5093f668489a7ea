//! The `assemble` module: concatenates the fragments in a directory (on
//! the host with `remote_src: true`, the default; on the controller
//! otherwise), in name order, optionally filtered by `regexp`, with a
//! `delimiter` between fragments, and writes the result to `dest` through
//! the atomic write of [`crate::fs`] (validate, backup, attributes).
//! `check` reads the fragments (one probe) and compares SHA-1s with `dest`.

use std::path::Path;
use std::sync::Mutex;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cmd::Cmd;
use crate::files::attrs::{Mode, ModeParam, mode_str};
use crate::files2::sha1_hex;
use crate::fs::{Attrs, ChecksumAlgo, Content, FileStat, StatOpts, WriteOpts, WriteResult};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `assemble` module.
pub struct Assemble;

/// Parameters, sorted by name. SELinux and `attributes` parameters are
/// accepted and have no effect.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_string")]
    attributes: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    backup: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    decrypt: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    delimiter: Option<String>,
    #[serde(deserialize_with = "params::opt_string")]
    dest: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    group: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    ignore_hidden: Option<bool>,
    #[serde(default)]
    mode: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_string")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    regexp: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    remote_src: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    selevel: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    serole: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    setype: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    seuser: Option<String>,
    #[serde(deserialize_with = "params::opt_string")]
    src: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    unsafe_writes: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    validate: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "assemble",
    short: "Build a file from the fragments in a directory",
    description: "Concatenates the regular files of a directory, in the order \
        of their names, into one file on the target, optionally keeping only \
        the names `regexp` matches and putting `delimiter` between fragments. \
        The fragments are read from the target (or with `remote_src: false` \
        from the controller), and the result is compared by SHA-1 with `dest`, \
        which is written atomically only when it differs.",
    params: &[
        param(
            "attributes",
            Kind::Str,
            "Accepted for compatibility (file attributes are not managed).",
        ),
        param(
            "backup",
            Kind::Bool,
            "Keep a timestamped copy of the file being replaced beside it.",
        )
        .default("false"),
        param(
            "decrypt",
            Kind::Bool,
            "Accepted for compatibility; has no effect (fragments are never \
            decrypted).",
        ),
        param(
            "delimiter",
            Kind::Str,
            "Text put between fragments, with Python escapes (`\\n`, `\\t`, \
            `\\x41`) decoded; a newline is added after it unless it ends with \
            one.",
        ),
        param("dest", Kind::Path, "The file on the target to write.").required(),
        param("group", Kind::Str, "Group that should own `dest`."),
        param(
            "ignore_hidden",
            Kind::Bool,
            "Leave out fragments whose names start with a dot.",
        )
        .default("false"),
        param(
            "mode",
            Kind::Raw,
            "Permissions of `dest`: octal (`'0644'`) or symbolic (`u=rw,g=r`).",
        ),
        param("owner", Kind::Str, "User that should own `dest`."),
        param(
            "regexp",
            Kind::Str,
            "Only use fragments whose names this regular expression matches \
            (anywhere in the name).",
        ),
        param(
            "remote_src",
            Kind::Bool,
            "Read the fragments on the target; `false` reads them on the \
            controller (relative paths resolve in the role's or playbook's \
            `files/`).",
        )
        .default("true"),
        param(
            "selevel",
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
            "seuser",
            Kind::Str,
            "Accepted for compatibility (SELinux is not managed).",
        ),
        param("src", Kind::Path, "The directory holding the fragments.").required(),
        param(
            "unsafe_writes",
            Kind::Bool,
            "Accepted for compatibility; writes are always atomic.",
        )
        .default("false"),
        param(
            "validate",
            Kind::Str,
            "Command run on the assembled file before it replaces `dest`; \
            `%s` stands for the temporary file's path. A non-zero exit fails \
            the task and leaves `dest` alone.",
        ),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Build the HAProxy configuration from its parts
  ansible.builtin.assemble:
    src: /etc/haproxy/conf.d
    dest: /etc/haproxy/haproxy.cfg
    regexp: '\\.cfg$'
    owner: root
    mode: '0644'
    validate: haproxy -c -f %s

- name: Join the authorized keys kept in the role
  ansible.builtin.assemble:
    src: keys
    remote_src: false
    dest: /home/deploy/.ssh/authorized_keys
    delimiter: '# ---'
    mode: '0600'
",
    open: false,
    fields: params::fields::<Params>,
};

struct Prepped {
    src: String,
    dest: String,
    remote_src: bool,
    delimiter: Option<Vec<u8>>,
    regexp: Option<Regex>,
    ignore_hidden: bool,
    backup: bool,
    validate: Option<String>,
    unsafe_writes: bool,
    attrs: Attrs,
    /// The content `check` assembled, for `apply`.
    content: Mutex<Option<Vec<u8>>>,
}

/// Python's `codecs.escape_decode`: `\n`, `\t`, `\\`, `\xhh`, octal...;
/// an unknown escape stays as written.
fn escape_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        match c {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'v' => out.push(0x0b),
            b'\\' | b'\'' | b'"' => out.push(c),
            b'\n' => {}
            b'x' if i + 2 <= b.len() => {
                match std::str::from_utf8(&b[i..i + 2])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.extend_from_slice(b"\\x"),
                }
            }
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                let mut n = 1;
                while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push((v & 0xff) as u8);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    out
}

/// Joins fragments as Ansible does: a newline after a fragment that does
/// not end with one, and the delimiter (plus a newline unless it ends
/// with one) between fragments.
fn assemble(fragments: &[Vec<u8>], delimiter: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut add_newline = false;
    for (i, f) in fragments.iter().enumerate() {
        if add_newline {
            out.push(b'\n');
        }
        if i > 0
            && let Some(d) = delimiter.filter(|d| !d.is_empty())
        {
            out.extend_from_slice(d);
            if d.last() != Some(&b'\n') {
                out.push(b'\n');
            }
        }
        out.extend_from_slice(f);
        add_newline = !f.ends_with(b"\n");
    }
    out
}

/// `$1` directory, `$2` ignore hidden (1/0). For each regular file (after
/// following symlinks): `name NUL size NUL bytes`.
const FRAGMENTS_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
if ! [ -e "$1" ]; then printf 'Source (%s) does not exist\n' "$1" >&2; exit 3; fi
if ! [ -d "$1" ]; then printf 'Source (%s) is not a directory\n' "$1" >&2; exit 3; fi
cd -- "$1" || exit 3
if [ "$2" = 1 ]; then set -- *; else set -- * .[!.]* ..?*; fi
for f; do
  [ -f "$f" ] || continue
  n=$(wc -c < "$f") || exit 4
  printf '%s\0%s\0' "$f" $n
  cat < "$f" || exit 4
done
"#;

fn parse_fragments(out: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut rest = out;
    let mut frags = Vec::new();
    while !rest.is_empty() {
        let i = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or("truncated listing")?;
        let name = text::decode(&rest[..i]);
        rest = &rest[i + 1..];
        let j = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or("truncated listing")?;
        let n: usize = text::decode(&rest[..j])
            .trim()
            .parse()
            .map_err(|_| "bad fragment size")?;
        rest = &rest[j + 1..];
        if rest.len() < n {
            return Err(format!("fragment {name} changed while being read"));
        }
        frags.push((name, rest[..n].to_vec()));
        rest = &rest[n..];
    }
    Ok(frags)
}

impl Module for Assemble {
    fn name(&self) -> &'static str {
        "assemble"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let (Some(src), Some(dest)) = (
            p.src.filter(|s| !s.is_empty()),
            p.dest.filter(|d| !d.is_empty()),
        ) else {
            return Err(ParamError::new("missing required arguments: src, dest"));
        };
        let regexp = match p.regexp.filter(|r| !r.is_empty()) {
            Some(r) => Some(
                Regex::new(&r)
                    .map_err(|e| ParamError::at("regexp", format!("invalid regexp: {e}")))?,
            ),
            None => None,
        };
        let validate = p.validate.filter(|v| !v.is_empty());
        if let Some(v) = &validate
            && !v.contains("%s")
        {
            return Err(ParamError::at(
                "validate",
                format!("validate must contain %s: {v}"),
            ));
        }
        let mode = match &p.mode {
            None => None,
            Some(v) => match Mode::from_value(v).map_err(|e| ParamError::at("mode", e))? {
                Some(ModeParam::Mode(m)) => Some(m),
                Some(ModeParam::Preserve) => {
                    return Err(ParamError::at(
                        "mode",
                        "mode 'preserve' needs a source file",
                    ));
                }
                None => None,
            },
        };
        Ok(Box::new(Prepped {
            src,
            dest,
            remote_src: p.remote_src.unwrap_or(true),
            delimiter: p
                .delimiter
                .filter(|d| !d.is_empty())
                .map(|d| escape_decode(&d)),
            regexp,
            ignore_hidden: p.ignore_hidden.unwrap_or(false),
            backup: p.backup.unwrap_or(false),
            validate,
            unsafe_writes: p.unsafe_writes.unwrap_or(false),
            attrs: Attrs {
                mode,
                owner: p.owner.filter(|o| !o.is_empty()),
                group: p.group.filter(|g| !g.is_empty()),
            },
            content: Mutex::new(None),
        }))
    }
}

impl Prepped {
    async fn fragments(&self, host: &dyn HostRead) -> Result<Vec<(String, Vec<u8>)>, ModuleError> {
        let mut frags = if self.remote_src {
            let cmd = Cmd::new("sh")
                .arg("-c")
                .arg(FRAGMENTS_SCRIPT)
                .arg("sh")
                .arg(self.src.clone())
                .arg(if self.ignore_hidden { "1" } else { "0" });
            let out = host.probe(&cmd).await?;
            if !out.success() {
                return Err(ModuleError::failed(
                    text::decode(&out.stderr).trim().to_string(),
                ));
            }
            parse_fragments(&out.stdout).map_err(ModuleError::failed)?
        } else {
            local_fragments(Path::new(&self.src), self.ignore_hidden)?
        };
        frags.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(re) = &self.regexp {
            frags.retain(|(name, _)| re.is_match(name));
        }
        Ok(frags)
    }

    fn attrs_differ(&self, st: &FileStat) -> bool {
        let mode = self
            .attrs
            .mode
            .as_ref()
            .is_some_and(|m| m.resolve(st.mode, false, 0o022) != st.mode);
        let owner = self
            .attrs
            .owner
            .as_ref()
            .is_some_and(|o| *o != st.owner && *o != st.uid.to_string());
        let group = self
            .attrs
            .group
            .as_ref()
            .is_some_and(|g| *g != st.group && *g != st.gid.to_string());
        mode || owner || group
    }

    fn result(&self, checksum: &str, st: Option<&FileStat>) -> Facts {
        let mut r = Facts::new();
        r.insert("src".into(), json!(self.src));
        r.insert("dest".into(), json!(self.dest));
        r.insert("checksum".into(), json!(checksum));
        r.insert("msg".into(), json!("OK"));
        if let Some(st) = st {
            r.insert("state".into(), json!("file"));
            r.insert("mode".into(), json!(mode_str(st.mode)));
            r.insert("owner".into(), json!(st.owner));
            r.insert("group".into(), json!(st.group));
            r.insert("uid".into(), json!(st.uid));
            r.insert("gid".into(), json!(st.gid));
            r.insert("size".into(), json!(st.size));
        }
        r
    }
}

fn local_fragments(dir: &Path, ignore_hidden: bool) -> Result<Vec<(String, Vec<u8>)>, ModuleError> {
    let shown = dir.display();
    if !dir.exists() {
        return Err(ModuleError::failed(format!(
            "Source ({shown}) does not exist"
        )));
    }
    if !dir.is_dir() {
        return Err(ModuleError::failed(format!(
            "Source ({shown}) is not a directory"
        )));
    }
    let rd = std::fs::read_dir(dir)
        .map_err(|e| ModuleError::failed(format!("cannot read {shown}: {e}")))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| ModuleError::failed(format!("cannot read {shown}: {e}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !path.is_file() || (ignore_hidden && name.starts_with('.')) {
            continue;
        }
        let data = std::fs::read(&path)
            .map_err(|e| ModuleError::failed(format!("cannot read {}: {e}", path.display())))?;
        out.push((name, data));
    }
    Ok(out)
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let frags = self.fragments(host).await?;
        let parts: Vec<Vec<u8>> = frags.into_iter().map(|(_, d)| d).collect();
        let content = assemble(&parts, self.delimiter.as_deref());
        let checksum = sha1_hex(&content);
        let opts = StatOpts::follow().with_checksum(ChecksumAlgo::Sha1);
        let st = host.stat(&self.dest, &opts).await?;
        if let Some(st) = &st
            && st.is_dir()
        {
            return Err(ModuleError::failed(format!(
                "Destination {} is a directory",
                self.dest
            )));
        }
        let same = st
            .as_ref()
            .is_some_and(|s| s.checksum.as_deref() == Some(checksum.as_str()));
        let attrs = st.as_ref().is_some_and(|s| self.attrs_differ(s));
        let mut r = self.result(&checksum, st.as_ref());
        if let Ok(mut c) = self.content.lock() {
            *c = Some(content);
        }
        if same && !attrs {
            r.insert("changed".into(), json!(false));
            return Ok(Plan::InSync { result: r });
        }
        r.insert("changed".into(), json!(true));
        let change = if same {
            format!("set attributes of {}", self.dest)
        } else {
            format!("assemble {} into {}", self.src, self.dest)
        };
        Ok(Plan::Change {
            changes: vec![change],
            diff: Vec::new(),
            result: r,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let planned = match plan {
            Plan::InSync { result } => {
                return Ok(Applied {
                    result,
                    ..Applied::default()
                });
            }
            Plan::Change {
                result, changes, ..
            } => (result, changes),
            Plan::Unpredictable { .. } => (Facts::new(), Vec::new()),
        };
        let (planned, changes) = planned;
        let cached = self.content.lock().ok().and_then(|mut c| c.take());
        let content = match cached {
            Some(c) => c,
            None => {
                let frags = self.fragments(host).await?;
                let parts: Vec<Vec<u8>> = frags.into_iter().map(|(_, d)| d).collect();
                assemble(&parts, self.delimiter.as_deref())
            }
        };
        let checksum = sha1_hex(&content);
        let mut backup_file = None;
        let attrs_only = changes
            .first()
            .is_some_and(|c| c.starts_with("set attributes"));
        let changed = if attrs_only {
            host.set_attrs(&self.dest, &self.attrs, true, false).await?
        } else {
            let opts = WriteOpts {
                mode: self.attrs.mode.clone(),
                owner: self.attrs.owner.clone(),
                group: self.attrs.group.clone(),
                validate: self.validate.clone(),
                backup: self.backup,
                follow: true,
                unsafe_writes: self.unsafe_writes,
            };
            match host
                .write_atomic(&self.dest, Content::Bytes(content), &opts)
                .await?
            {
                WriteResult::Written { backup_file: b, .. } => {
                    backup_file = b;
                    true
                }
                WriteResult::Invalid(v) => {
                    let mut r = planned;
                    let err = text::decode(&v.stderr);
                    let msg = format!("failed to validate: rc:{} error:{err}", v.exit_status);
                    r.insert(
                        "validation".into(),
                        json!({"rc": v.exit_status, "stdout": text::decode(&v.stdout), "stderr": err}),
                    );
                    r.insert("msg".into(), json!(msg));
                    r.insert("changed".into(), json!(false));
                    return Ok(Applied {
                        changed: false,
                        failed: true,
                        msg: Some(msg),
                        result: r,
                        diff: Vec::new(),
                    });
                }
            }
        };
        let st = host.stat(&self.dest, &StatOpts::follow()).await?;
        let mut r = self.result(&checksum, st.as_ref());
        r.insert("changed".into(), json!(changed));
        if let Some(b) = backup_file {
            r.insert("backup_file".into(), json!(b));
        }
        Ok(Applied {
            changed,
            failed: false,
            msg: Some("OK".into()),
            result: r,
            diff: Vec::new(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn joins_like_ansible() {
        let f = |s: &str| s.as_bytes().to_vec();
        assert_eq!(assemble(&[f("a\n"), f("b")], None), b"a\nb");
        assert_eq!(assemble(&[f("a"), f("b\n")], None), b"a\nb\n");
        assert_eq!(
            assemble(&[f("a\n"), f("b\n")], Some(b"#--")),
            b"a\n#--\nb\n"
        );
        assert_eq!(assemble(&[f("a"), f("b")], Some(b"#--\n")), b"a\n#--\nb");
        assert_eq!(escape_decode("x\\n\\t\\\\\\x41\\101\\q"), b"x\n\t\\AA\\q");
    }

    #[test]
    fn parses_fragment_stream() {
        let out = b"a\x002\x00x\nb c\x000\x00";
        let f = parse_fragments(out).unwrap();
        assert_eq!(
            f,
            vec![("a".into(), b"x\n".to_vec()), ("b c".into(), Vec::new())]
        );
        assert!(parse_fragments(b"a\x005\x00xy").is_err());
    }
}
