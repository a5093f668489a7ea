//! Modules that talk HTTP from the target: `get_url` and `uri`. Both run
//! `curl` on the host (`get_url` falls back to `wget`), with the request
//! fed to curl as a config on stdin ([`http`]), and install downloads with
//! one script that checks, backs up, sets attributes and renames.

pub mod get_url;
pub mod http;
pub mod uri;

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::cmd::Cmd;
use crate::host::{Host, HostRead, Output};
use crate::module::ModuleError;
use crate::plan::Facts;
use crate::text;

/// `tutti_digest ALGO < FILE` prints the hex digest: coreutils' `*sum`,
/// else `shasum`, else `openssl dgst`.
pub(crate) const DIGEST_FN: &str = r#"tutti_digest() {
  if command -v "${1}sum" >/dev/null 2>&1; then "${1}sum"
  elif [ "$1" != md5 ] && command -v shasum >/dev/null 2>&1; then shasum -a "${1#sha}"
  else openssl dgst -"$1" -r; fi | { read -r h _ && printf '%s' "$h"; }
}
tutti_stat() {
  stat -c 'mode=%a
uid=%u
gid=%g
owner=%U
group=%G
size=%s' -- "$1"
}
"#;

/// `$1` path, `$2` extra digest algorithm (or empty). Prints `kind=`
/// (`absent`, `directory`, `file`), and for a file `sha1=`, `digest=`
/// and its attributes, one `key=value` a line.
pub(crate) const PROBE_SCRIPT: &str = r#"d=$1
if [ -d "$d" ]; then echo kind=directory; exit 0; fi
if ! [ -e "$d" ]; then echo kind=absent; exit 0; fi
echo kind=file
if ! [ -r "$d" ]; then echo readable=0; tutti_stat "$d"; exit 0; fi
printf 'sha1=%s\n' "$(tutti_digest sha1 < "$d")"
[ -n "$2" ] && printf 'digest=%s\n' "$(tutti_digest "$2" < "$d")"
tutti_stat "$d"
"#;

/// `$1` temp file, `$2` dest, `$3` algorithm, `$4` expected digest (or
/// empty), `$5` mode, `$6` owner, `$7` group, `$8` backup (1/0).
/// Verifies the expected digest (exit 30 on a mismatch, leaving `dest`
/// untouched), then replaces `dest` when the SHA-1s differ (keeping its
/// mode and owner unless told otherwise), or removes the temp file; then
/// sets the attributes. Prints `key=value` lines.
pub(crate) const INSTALL_SCRIPT: &str = r#"t=$1 d=$2 algo=$3 want=$4 mode=$5 owner=$6 group=$7 backup=$8
fail() { rm -f -- "$t"; printf '%s\n' "$2" >&2; exit "$1"; }
src=$(tutti_digest sha1 < "$t") || fail 31 "cannot read $t"
printf 'checksum_src=%s\n' "$src"
if [ -n "$want" ]; then
  got=$(tutti_digest "$algo" < "$t") || fail 31 "cannot read $t"
  [ "$got" = "$want" ] || { printf 'digest=%s\n' "$got"; fail 30 "checksum mismatch"; }
fi
dst=
if [ -e "$d" ]; then dst=$(tutti_digest sha1 < "$d") || fail 32 "Destination $d is not readable"; printf 'checksum_dest=%s\n' "$dst"; fi
changed=0
attrs() { [ -e "$1" ] && stat -c '%a %u %g' -- "$1"; }
if [ "$src" != "$dst" ]; then
  if [ -e "$d" ]; then
    a=$(stat -c '%a %u:%g' -- "$d") || fail 33 "cannot stat $d"
    chmod -- "${a%% *}" "$t" || fail 33 "cannot set the mode of $t"
    chown -- "${a#* }" "$t" >/dev/null 2>&1 || :
    if [ "$backup" = 1 ]; then
      b="$d.$$.$(date +%Y-%m-%d@%H:%M:%S)~"
      e=$(cp -p -- "$d" "$b" 2>&1) || fail 34 "Could not make backup of $d to $b: $e"
      printf 'backup_file=%s\n' "$b"
    fi
  else
    chmod -- "$(printf '%o' $(( 0666 & ~$(umask) )))" "$t" || fail 33 "cannot set the mode of $t"
  fi
  target=$t
else
  rm -f -- "$t"
  target=$d
fi
before=$(attrs "$target")
if [ -n "$mode" ]; then e=$(chmod -- "$mode" "$target" 2>&1) || fail 35 "chmod failed: $e"; fi
if [ -n "$owner" ]; then e=$(chown -- "$owner" "$target" 2>&1) || fail 35 "chown failed: $e"; fi
if [ -n "$group" ]; then e=$(chgrp -- "$group" "$target" 2>&1) || fail 35 "chgrp failed: $e"; fi
[ "$before" = "$(attrs "$target")" ] || changed=1
if [ "$target" = "$t" ]; then
  e=$(mv -f -- "$t" "$d" 2>&1) || fail 36 "failed to copy $t to $d: $e"
  changed=1
fi
printf 'changed=%s\n' "$changed"
tutti_stat "$d"
"#;

/// `sh -c SCRIPT sh ARGS...`, with the digest and stat helpers first.
pub(crate) fn script(body: &str) -> Cmd {
    Cmd::new("sh")
        .arg("-c")
        .arg(format!("{DIGEST_FN}{body}"))
        .arg("sh")
}

/// `key=value` lines.
pub(crate) fn kv(bytes: &[u8]) -> IndexMap<String, String> {
    text::decode(bytes)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What [`PROBE_SCRIPT`] saw at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Absent,
    Directory,
    File,
}

/// A path on the host, as [`PROBE_SCRIPT`] reports it.
#[derive(Debug, Clone)]
pub(crate) struct Probed {
    pub kind: Kind,
    pub keys: IndexMap<String, String>,
}

impl Probed {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(String::as_str)
    }
}

/// Looks at `path` on the host (one read-only probe).
pub(crate) async fn probe_path(
    host: &dyn HostRead,
    path: &str,
    algo: Option<&str>,
) -> Result<Probed, ModuleError> {
    let out = host
        .probe(&script(PROBE_SCRIPT).arg(path).arg(algo.unwrap_or("")))
        .await?;
    if !out.success() {
        return Err(ModuleError::failed(format!(
            "cannot examine {path}: {}",
            text::decode(&out.stderr).trim()
        )));
    }
    let keys = kv(&out.stdout);
    let kind = match keys.get("kind").map(String::as_str) {
        Some("directory") => Kind::Directory,
        Some("file") => Kind::File,
        _ => Kind::Absent,
    };
    Ok(Probed { kind, keys })
}

/// File attributes for a download, as the module parameters give them.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileAttrs {
    /// What `chmod` takes (octal digits or symbolic).
    pub mode: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl FileAttrs {
    /// Whether the probed file's attributes differ from the ones asked
    /// for. A symbolic mode counts as different (apply finds out).
    pub(crate) fn differ(&self, p: &Probed) -> bool {
        let mode_differs = self.mode.as_ref().is_some_and(|m| {
            let have = p.get("mode").and_then(|s| u32::from_str_radix(s, 8).ok());
            match u32::from_str_radix(m, 8) {
                Ok(want) => have != Some(want),
                Err(_) => true,
            }
        });
        let owner_differs = self
            .owner
            .as_ref()
            .is_some_and(|o| p.get("owner") != Some(o) && p.get("uid") != Some(o));
        let group_differs = self
            .group
            .as_ref()
            .is_some_and(|g| p.get("group") != Some(g) && p.get("gid") != Some(g));
        mode_differs || owner_differs || group_differs
    }
}

/// A `mode` parameter as `chmod` takes it: a YAML integer is the mode
/// itself (YAML 1.1 reads `0644` as 420), a string is passed on.
pub(crate) fn opt_mode<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::Deserialize;
    use serde::de::Error as _;
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_u64() {
            Some(m) if m <= 0o7777 => Ok(Some(format!("{m:04o}"))),
            _ => Err(D::Error::custom(format!("invalid mode {n}"))),
        },
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => {
            let ok = s.bytes().all(|b| b"01234567".contains(&b))
                || s.bytes().all(|b| b"ugoa+-=rwxXst,".contains(&b));
            if ok {
                Ok(Some(s))
            } else {
                Err(D::Error::custom(format!(
                    "mode must be in octal or symbolic form: '{s}'"
                )))
            }
        }
        other => Err(D::Error::custom(format!("invalid mode {other}"))),
    }
}

/// Adds Ansible's path keys (`state`, `mode`, `owner`, ...) from
/// `key=value` lines printed by `tutti_stat`.
pub(crate) fn path_info(r: &mut Facts, keys: &IndexMap<String, String>, state: &str) {
    if !keys.contains_key("mode") {
        return;
    }
    r.insert("state".into(), json!(state));
    for k in ["uid", "gid", "size"] {
        if let Some(n) = keys.get(k).and_then(|v| v.parse::<u64>().ok()) {
            r.insert(k.into(), json!(n));
        }
    }
    for k in ["owner", "group"] {
        if let Some(v) = keys.get(k) {
            r.insert(k.into(), json!(v));
        }
    }
    if let Some(m) = keys
        .get("mode")
        .and_then(|m| u32::from_str_radix(m, 8).ok())
    {
        r.insert("mode".into(), json!(format!("{m:04o}")));
    }
}

/// What [`install`] did.
pub(crate) struct Installed {
    pub changed: bool,
    pub keys: IndexMap<String, String>,
}

/// Why [`install`] refused.
pub(crate) enum InstallError {
    /// The download's digest is not the expected one; dest untouched.
    Mismatch {
        actual: String,
    },
    Module(ModuleError),
}

impl From<crate::host::HostError> for InstallError {
    fn from(e: crate::host::HostError) -> Self {
        InstallError::Module(e.into())
    }
}

/// Moves the downloaded temp file `tmp` over `dest` when its content
/// differs, verifying `expect` (`(algo, hex)`) first, then sets `attrs`.
pub(crate) async fn install(
    host: &dyn Host,
    tmp: &str,
    dest: &str,
    expect: Option<(&str, &str)>,
    attrs: &FileAttrs,
    backup: bool,
) -> Result<Installed, InstallError> {
    let (algo, want) = expect.unwrap_or(("sha1", ""));
    let cmd = script(INSTALL_SCRIPT)
        .arg(tmp)
        .arg(dest)
        .arg(algo)
        .arg(want)
        .arg(attrs.mode.clone().unwrap_or_default())
        .arg(attrs.owner.clone().unwrap_or_default())
        .arg(attrs.group.clone().unwrap_or_default())
        .arg(if backup { "1" } else { "0" });
    let out = host.run(&cmd).await?;
    let keys = kv(&out.stdout);
    match out.rc {
        0 => Ok(Installed {
            changed: keys.get("changed").is_some_and(|c| c == "1"),
            keys,
        }),
        30 => Err(InstallError::Mismatch {
            actual: keys.get("digest").cloned().unwrap_or_default(),
        }),
        _ => Err(InstallError::Module(failed_output(&out, dest))),
    }
}

/// A failure with the script's stderr as the message.
pub(crate) fn failed_output(out: &Output, what: &str) -> ModuleError {
    let e = text::decode(&out.stderr);
    let e = e.trim();
    if e.is_empty() {
        ModuleError::failed(format!("{what}: failed with exit status {}", out.rc))
    } else {
        ModuleError::failed(e.to_string())
    }
}

/// Removes a temp file, ignoring failures (best effort cleanup).
pub(crate) async fn remove_quietly(host: &dyn Host, path: &str) {
    let _ = host
        .run(&Cmd::new("rm").arg("-f").arg("--").arg(path))
        .await;
}

/// The directory part of a path (`.` for a bare name).
pub(crate) fn dirname(path: &str) -> String {
    match path.trim_end_matches('/').rfind('/') {
        Some(0) => "/".into(),
        Some(i) => path[..i].to_string(),
        None => ".".into(),
    }
}

/// Joins a directory and a file name.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Headers from a `headers` dict (or a list of `Name: value` strings).
pub(crate) fn opt_headers<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, String)>, D::Error> {
    use serde::Deserialize;
    use serde::de::Error as _;
    let scalar = |v: Value| match v {
        Value::String(s) => Ok(s),
        Value::Null => Ok(String::new()),
        Value::Bool(b) => Ok(if b { "True" } else { "False" }.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(D::Error::custom(format!(
            "header value {other} is not a string"
        ))),
    };
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) => m.into_iter().map(|(k, v)| Ok((k, scalar(v)?))).collect(),
        other => Err(D::Error::custom(format!(
            "headers must be a dictionary, not {other}"
        ))),
    }
}
