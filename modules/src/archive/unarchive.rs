//! The `unarchive` module: unpacks a tar (plain, gzip, bzip2, xz, zstd,
//! by the host's `tar`) or zip (by the host's `unzip`) archive into an
//! existing directory. `src` is a controller file (an absolute path: the
//! engine resolves relative ones) streamed to the host, or a host file
//! with `remote_src`.
//!
//! Idempotent by listing, in one probe: for tar, `tar --diff` of the
//! archive (streamed on stdin for a controller file) against `dest`; for
//! zip, the archive's listing (`unzip -Z -T`) against a `stat` of every
//! member under `dest` (type, size, mtime). The task changes only when
//! something differs. `apply` streams the archive into a temp file on the
//! host and extracts it in the same command.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::archive::{Magic, glob_match};
use crate::cmd::Cmd;
use crate::host::{Host, HostRead, Output};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::services::split_section;
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `unarchive` module.
pub struct Unarchive;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_bool")]
    copy: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    creates: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    decrypt: Option<Value>,
    #[serde(deserialize_with = "params::opt_string")]
    dest: Option<String>,
    #[serde(default, deserialize_with = "params::opt_list")]
    exclude: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_list")]
    extra_opts: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    group: Option<String>,
    #[serde(default, deserialize_with = "params::opt_list")]
    include: Option<Vec<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    io_buffer_size: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    keep_newer: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    list_files: Option<bool>,
    #[serde(default, deserialize_with = "crate::files::attrs::opt_mode")]
    mode: Option<crate::files::attrs::ModeParam>,
    #[serde(default, deserialize_with = "params::opt_string")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    remote_src: Option<bool>,
    #[serde(deserialize_with = "params::opt_string")]
    src: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    #[allow(dead_code)]
    unsafe_writes: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    validate_certs: Option<Value>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "unarchive",
    short: "Unpack a tar or zip archive into a directory on the target",
    description: "Unpacks a tar archive (plain or compressed with gzip, bzip2, xz \
        or zstd, by the target's `tar`) or a zip archive (by the target's `unzip`) \
        into an existing directory. The archive is a controller file streamed to \
        the target, or with `remote_src` a file already there. Before extracting, \
        the archive's members are compared with what is under `dest` (`tar \
        --diff`, or for zip each member's type, size and modification time), and \
        nothing is extracted when they already match.",
    params: &[
        param(
            "copy",
            Kind::Bool,
            "The older spelling of `remote_src`, inverted: `false` reads `src` on \
            the target. Cannot be combined with `remote_src`.",
        ),
        param(
            "creates",
            Kind::Path,
            "A path on the target; when it exists, nothing is extracted.",
        ),
        param(
            "decrypt",
            Kind::Bool,
            "Accepted for compatibility; has no effect (a vault-encrypted \
            archive is not decrypted).",
        ),
        param(
            "dest",
            Kind::Path,
            "The existing directory on the target to unpack into.",
        )
        .required(),
        param(
            "exclude",
            Kind::List,
            "Member names or globs not to extract (nor compare).",
        ),
        param(
            "extra_opts",
            Kind::List,
            "Extra arguments for `tar` or `unzip`, passed as given.",
        ),
        param("group", Kind::Str, "Group given to every extracted member."),
        param(
            "include",
            Kind::List,
            "Extract (and compare) only these members.",
        ),
        param(
            "io_buffer_size",
            Kind::Int,
            "Accepted for compatibility; has no effect.",
        ),
        param(
            "keep_newer",
            Kind::Bool,
            "Do not overwrite files that are newer than their archive members, \
            and ignore modification time differences when comparing.",
        )
        .default("false"),
        param(
            "list_files",
            Kind::Bool,
            "Return the archive's member names as `files`.",
        )
        .default("false"),
        param(
            "mode",
            Kind::Raw,
            "Permissions applied with `chmod` to every extracted member (except \
            symlinks), octal (`0644` or `'0644'`) or symbolic (`u=rwX,g=rX`).",
        ),
        param("owner", Kind::Str, "User given to every extracted member."),
        param(
            "remote_src",
            Kind::Bool,
            "Read `src` on the target instead of the controller. When absent, \
            `copy: false` means the same; otherwise the controller is used.",
        ),
        param(
            "src",
            Kind::Path,
            "The archive: a controller path (relative paths are looked up in the \
            role's or playbook's `files/`), or with `remote_src` a path on the \
            target. URLs are not supported.",
        )
        .required(),
        param(
            "unsafe_writes",
            Kind::Bool,
            "Accepted for compatibility; has no effect.",
        ),
        param(
            "validate_certs",
            Kind::Bool,
            "Accepted for compatibility; has no effect, as `src` cannot be a URL.",
        ),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Unpack a release shipped with the role
  ansible.builtin.unarchive:
    src: app-2.1.0.tar.gz
    dest: /opt/app
    owner: app
    group: app

- name: Unpack a zip already on the host, once
  ansible.builtin.unarchive:
    src: /tmp/site.zip
    dest: /var/www/site
    remote_src: true
    creates: /var/www/site/index.html
",
    open: false,
    fields: params::fields::<Params>,
};

#[derive(Debug)]
struct Prepped {
    src: String,
    dest: String,
    remote_src: bool,
    creates: Option<String>,
    list_files: bool,
    exclude: Vec<String>,
    include: Vec<String>,
    keep_newer: bool,
    extra_opts: Vec<String>,
    mode: Option<String>,
    owner: Option<String>,
    group: Option<String>,
}

/// The shared start of every probe: `$1` dest, `$2` src, `$3` creates,
/// `$4` list (1/0). Reads away stdin before an early exit, so a streamed
/// archive never meets a closed pipe.
const PROLOGUE: &str = r#"LC_ALL=C; export LC_ALL
dest=$1 src=$2 creates=$3 list=$4; shift 4
early() { [ "$src" = - ] && cat >/dev/null; echo "tutti=$1"; exit 0; }
if [ -n "$creates" ] && [ -e "$creates" ]; then early creates; fi
[ -d "$dest" ] || early nodest
[ "$src" = - ] || [ -f "$src" ] || early nosrc
"#;

/// `tar --diff` against dest; the remaining arguments are tar's.
const TAR_PART: &str = r#"tar_diff() {
  cd "$dest" || exit 2
  echo "uid=$(id -u)"
  if [ "$list" = 1 ] && [ "$src" != - ]; then
    echo '--tutti-section list--'; tar -t -f "$src" "$@" 2>/dev/null
  fi
  echo '--tutti-section diff--'
  tar -d -f "$src" "$@" 2>&1
  echo "tar_rc=$?"
}
"#;

/// The zip listing and a stat of every member under dest.
const ZIP_PART: &str = r#"zip_list() {
  TZ=UTC; export TZ
  echo '--tutti-section zip--'
  unzip -Z -T "$src" || { echo "zip_rc=$?"; exit 0; }
  echo '--tutti-section stat--'
  unzip -Z1 "$src" | (cd "$dest" && tr '\n' '\0' | xargs -0 -r stat -c '%f %s %Y %n' 2>/dev/null)
  exit 0
}
"#;

/// Extraction: `$1` kind (tar|zip), `$2` dest, `$3` src (`-`: stdin),
/// `$4` mode, `$5` owner, `$6` group, then the extractor's argv with
/// `@SRC@` where the archive goes.
const EXTRACT_SCRIPT: &str = r#"kind=$1 dest=$2 src=$3 mode=$4 owner=$5 group=$6; shift 6
if [ "$src" = - ]; then
  t=$(mktemp "${TMPDIR:-/tmp}/tutti-unarchive.XXXXXX") || exit 1
  trap 'rm -f "$t"' EXIT
  cat >"$t" || exit 1
  src=$t
fi
for a do
  shift
  if [ "$a" = @SRC@ ]; then set -- "$@" "$src"; else set -- "$@" "$a"; fi
done
[ "$kind" = zip ] && { TZ=UTC; export TZ; }
cd "$dest" || exit 1
"$@" || exit $?
if [ -n "$mode$owner$group" ]; then
  if [ "$kind" = zip ]; then unzip -Z1 "$src"; else tar -t -f "$src"; fi | while IFS= read -r m; do
    m=${m%/}
    [ -e "$m" ] || [ -L "$m" ] || continue
    if [ -n "$owner" ]; then chown -h "$owner" "$m" || exit 1; fi
    if [ -n "$group" ]; then chgrp -h "$group" "$m" || exit 1; fi
    if [ -n "$mode" ] && [ ! -L "$m" ]; then chmod "$mode" "$m" || exit 1; fi
  done || exit 1
fi
exit 0
"#;

/// `stat` of names read from stdin, relative to `$1`.
const STAT_SCRIPT: &str = r#"cd "$1" || exit 2
tr '\n' '\0' | xargs -0 -r stat -c '%f %s %Y %n' 2>/dev/null
exit 0
"#;

/// One member of a zip listing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ZipEntry {
    kind: char,
    size: u64,
    /// `YYYYMMDD.HHMMSS`, UTC.
    mtime: String,
    name: String,
}

/// Parses `unzip -Z -T` (zipinfo) member lines.
fn parse_zipinfo(out: &str) -> Vec<ZipEntry> {
    let mut v = Vec::new();
    for line in out.lines() {
        let Some(kind) = line.chars().next().filter(|c| "-dl".contains(*c)) else {
            continue;
        };
        let mut rest = line;
        let mut fields = Vec::new();
        for _ in 0..7 {
            rest = rest.trim_start();
            let end = rest.find(' ').unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = &rest[end..];
        }
        let name = rest.strip_prefix(' ').unwrap_or(rest);
        let (Some(size), Some(mtime)) = (fields.get(3), fields.get(6)) else {
            continue;
        };
        let Ok(size) = size.parse::<u64>() else {
            continue;
        };
        if name.is_empty() || fields[0].len() < 10 {
            continue;
        }
        v.push(ZipEntry {
            kind,
            size,
            mtime: mtime.to_string(),
            name: name.to_string(),
        });
    }
    v
}

/// `name -> (raw mode, size, mtime UTC as YYYYMMDD.HHMMSS)` from `stat -c '%f %s %Y %n'`.
fn parse_stats(out: &str) -> HashMap<String, (u32, u64, String)> {
    let mut m = HashMap::new();
    for line in out.lines() {
        let mut it = line.splitn(4, ' ');
        let (Some(f), Some(s), Some(t), Some(n)) = (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        let (Ok(raw), Ok(size), Ok(secs)) =
            (u32::from_str_radix(f, 16), s.parse(), t.parse::<i64>())
        else {
            continue;
        };
        let stamp = chrono::DateTime::from_timestamp(secs, 0)
            .map(|d| d.format("%Y%m%d.%H%M%S").to_string())
            .unwrap_or_default();
        m.insert(n.to_string(), (raw, size, stamp));
    }
    m
}

impl Prepped {
    fn wanted(&self, name: &str) -> bool {
        let trimmed = name.trim_end_matches('/');
        let hit = |pats: &[String]| {
            pats.iter().any(|p| {
                glob_match(p, name)
                    || glob_match(p, trimmed)
                    || glob_match(p.trim_end_matches('/'), trimmed)
            })
        };
        (self.include.is_empty() || hit(&self.include)) && !hit(&self.exclude)
    }

    /// Differences between zip members and what `stat` saw under dest.
    fn zip_differences(
        &self,
        entries: &[ZipEntry],
        stats: &HashMap<String, (u32, u64, String)>,
    ) -> Vec<String> {
        let mut diffs = Vec::new();
        for e in entries.iter().filter(|e| self.wanted(&e.name)) {
            let Some((raw, size, mtime)) = stats.get(&e.name) else {
                diffs.push(format!("{}: missing", e.name));
                continue;
            };
            let kind = crate::fs::FileKind::from_raw(*raw);
            match e.kind {
                'd' if kind != crate::fs::FileKind::Directory => {
                    diffs.push(format!("{}: not a directory", e.name))
                }
                'l' if kind != crate::fs::FileKind::Link => {
                    diffs.push(format!("{}: not a symlink", e.name))
                }
                '-' if kind != crate::fs::FileKind::File => {
                    diffs.push(format!("{}: not a regular file", e.name))
                }
                '-' if *size != e.size => diffs.push(format!("{}: size differs", e.name)),
                '-' if *mtime != e.mtime && !self.keep_newer => {
                    diffs.push(format!("{}: mod time differs", e.name))
                }
                _ => {}
            }
        }
        diffs
    }

    /// `tar --diff` lines that mean a change, given mode/owner and our uid.
    fn tar_differences(&self, diff: &str, root: bool) -> Vec<String> {
        diff.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("tar_rc="))
            .filter(|l| !(l.ends_with(": Mode differs") && self.mode.is_some()))
            .filter(|l| {
                !((l.ends_with(": Uid differs") || l.ends_with(": Gid differs"))
                    && (!root || self.owner.is_some() || self.group.is_some()))
            })
            .filter(|l| !(l.ends_with(": Mod time differs") && self.keep_newer))
            .filter(|l| !l.starts_with("tar: Exiting with failure status"))
            .map(str::to_string)
            .collect()
    }

    fn tar_args(&self, magic: Magic) -> Vec<String> {
        let mut a = Vec::new();
        if !self.remote_src
            && let Some(f) = magic.tar_flag()
        {
            a.push(f.to_string());
        }
        a.extend(self.exclude.iter().map(|e| format!("--exclude={e}")));
        a.extend(self.extra_opts.iter().cloned());
        a.extend(self.include.iter().cloned());
        a
    }

    fn extract_argv(&self, magic: Magic) -> Vec<String> {
        if magic == Magic::Zip {
            let mut a = vec!["unzip".to_string(), "-o".into()];
            a.extend(self.extra_opts.iter().cloned());
            a.push("@SRC@".into());
            a.extend(self.include.iter().cloned());
            if !self.exclude.is_empty() {
                a.push("-x".into());
                a.extend(self.exclude.iter().cloned());
            }
            a.push("-d".into());
            a.push(self.dest.clone());
            return a;
        }
        let mut a = vec!["tar".to_string(), "-x".into()];
        if let Some(f) = magic.tar_flag() {
            a.push(f.into());
        }
        a.push("-f".into());
        a.push("@SRC@".into());
        if self.keep_newer {
            a.push("--keep-newer-files".into());
        }
        a.extend(self.exclude.iter().map(|e| format!("--exclude={e}")));
        a.extend(self.extra_opts.iter().cloned());
        a.extend(self.include.iter().cloned());
        a
    }

    fn base(&self, handler: &str) -> Facts {
        let mut r = Facts::new();
        r.insert("dest".into(), json!(self.dest));
        r.insert("src".into(), json!(self.src));
        r.insert("handler".into(), json!(handler));
        r.insert("state".into(), json!("directory"));
        r
    }

    fn probe_head(&self, src: &str) -> Vec<String> {
        vec![
            self.dest.clone(),
            src.to_string(),
            self.creates.clone().unwrap_or_default(),
            if self.list_files { "1" } else { "0" }.into(),
        ]
    }

    /// The magic of the controller file.
    fn local_magic(&self) -> Result<Magic, ModuleError> {
        use std::io::Read;
        let mut f = std::fs::File::open(&self.src)
            .map_err(|e| ModuleError::failed(format!("Source '{}' not found: {e}", self.src)))?;
        let mut head = [0u8; 6];
        let n = f
            .read(&mut head)
            .map_err(|e| ModuleError::failed(format!("cannot read {}: {e}", self.src)))?;
        Ok(Magic::of(&head[..n]))
    }

    /// Runs a listing tool on the controller.
    fn local_list(&self, argv: &[&str]) -> Result<String, ModuleError> {
        let out = std::process::Command::new(argv[0])
            .args(&argv[1..])
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| {
                ModuleError::failed(format!(
                    "cannot run {} on the controller to list {}: {e}",
                    argv[0], self.src
                ))
            })?;
        if !out.status.success() {
            return Err(ModuleError::failed(format!(
                "{} could not list {}: {}",
                argv[0],
                self.src,
                text::decode(&out.stderr).trim()
            )));
        }
        Ok(text::decode(&out.stdout))
    }

    fn early(&self, out: &str, handler: &str) -> Option<Result<Plan, ModuleError>> {
        let first = out.lines().find_map(|l| l.strip_prefix("tutti="))?;
        Some(match first {
            "creates" => {
                let mut r = self.base(handler);
                r.insert(
                    "msg".into(),
                    json!(format!(
                        "skipped, since {} exists",
                        self.creates.clone().unwrap_or_default()
                    )),
                );
                Ok(Plan::InSync { result: r })
            }
            "nodest" => Err(ModuleError::failed(format!(
                "dest '{}' must be an existing dir",
                self.dest
            ))),
            _ => Err(ModuleError::failed(format!(
                "Source '{}' does not exist",
                self.src
            ))),
        })
    }

    fn finish(&self, handler: &str, diffs: Vec<String>, files: Option<Vec<String>>) -> Plan {
        let mut r = self.base(handler);
        if let Some(f) = files {
            r.insert("files".into(), json!(f));
        }
        if diffs.is_empty() {
            return Plan::InSync { result: r };
        }
        let mut changes = vec![format!("extract {} into {}", self.src, self.dest)];
        changes.extend(diffs.into_iter().take(20));
        Plan::Change {
            changes,
            diff: Vec::new(),
            result: r,
        }
    }

    fn zip_plan(&self, zipinfo: &str, stats: &str) -> Plan {
        let entries = parse_zipinfo(zipinfo);
        let diffs = self.zip_differences(&entries, &parse_stats(stats));
        let files = self.list_files.then(|| {
            entries
                .iter()
                .filter(|e| self.wanted(&e.name))
                .map(|e| e.name.clone())
                .collect()
        });
        self.finish("ZipArchive", diffs, files)
    }

    fn tar_plan(&self, out: &str, files: Option<Vec<String>>) -> Result<Plan, ModuleError> {
        let root = out.lines().any(|l| l == "uid=0");
        let (before, diff) = split_section(out, "diff");
        let files = files.or_else(|| {
            self.list_files.then(|| {
                split_section(before, "list")
                    .1
                    .lines()
                    .map(str::to_string)
                    .collect()
            })
        });
        let rc = diff
            .lines()
            .filter_map(|l| l.strip_prefix("tar_rc="))
            .next_back()
            .unwrap_or("2")
            .trim()
            .to_string();
        if rc == "2" {
            return Err(ModuleError::failed(format!(
                "Failed to find handler for \"{}\". Make sure the required command to extract the file is installed.\n{}",
                self.src,
                diff.trim()
            )));
        }
        Ok(self.finish("TgzArchive", self.tar_differences(diff, root), files))
    }

    async fn check_remote(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let script = format!(
            "{PROLOGUE}{TAR_PART}{ZIP_PART}magic=$(head -c 4 \"$src\" | od -An -tx1 | tr -d ' \\n')\n\
             case $magic in 504b0304|504b0506) zip_list ;; *) tar_diff \"$@\" ;; esac\n"
        );
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .args(self.probe_head(&self.src))
            .args(self.tar_args(Magic::Other));
        let out = text::decode(&host.probe(&cmd).await?.stdout);
        if let Some(p) = self.early(&out, "TgzArchive") {
            return p;
        }
        if out.contains("--tutti-section zip--") {
            let (_, rest) = split_section(&out, "zip");
            let (zipinfo, stats) = split_section(rest, "stat");
            if let Some(rc) = zipinfo.lines().find_map(|l| l.strip_prefix("zip_rc=")) {
                return Err(ModuleError::failed(format!(
                    "unzip could not list {} (rc {rc}); is unzip installed on the host?",
                    self.src
                )));
            }
            return Ok(self.zip_plan(zipinfo, stats));
        }
        self.tar_plan(&out, None)
    }

    async fn check_local(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let magic = self.local_magic()?;
        if magic == Magic::Zip {
            let zipinfo = self.local_list(&["unzip", "-Z", "-T", &self.src])?;
            let entries = parse_zipinfo(&zipinfo);
            let names: String = entries.iter().map(|e| format!("{}\n", e.name)).collect();
            let script = format!("{PROLOGUE}{STAT_SCRIPT}");
            let cmd = Cmd::new("sh")
                .arg("-c")
                .arg(script.replace("cd \"$1\" || exit 2", "cd \"$dest\" || exit 2"))
                .arg("sh")
                .args(self.probe_head("-"))
                .stdin(names);
            let out = host.probe(&cmd).await?;
            let stdout = text::decode(&out.stdout);
            if let Some(p) = self.early(&stdout, "ZipArchive") {
                return p;
            }
            return Ok(self.zip_plan(&zipinfo, &stdout));
        }
        let files = if self.list_files {
            Some(
                self.local_list(&["tar", "-t", "-f", &self.src])?
                    .lines()
                    .map(str::to_string)
                    .collect(),
            )
        } else {
            None
        };
        let script = format!("{PROLOGUE}{TAR_PART}tar_diff \"$@\"\n");
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .args(self.probe_head("-"))
            .args(self.tar_args(magic))
            .stdin_file(&self.src);
        let out = text::decode(&host.probe(&cmd).await?.stdout);
        if let Some(p) = self.early(&out, "TgzArchive") {
            return p;
        }
        self.tar_plan(&out, files)
    }
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        if self.remote_src {
            self.check_remote(host).await
        } else {
            self.check_local(host).await
        }
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let result = match plan {
            Plan::InSync { result } => {
                return Ok(Applied {
                    result,
                    ..Applied::default()
                });
            }
            Plan::Change { result, .. } => result,
            Plan::Unpredictable { .. } => Facts::new(),
        };
        let zip = result.get("handler").and_then(Value::as_str) == Some("ZipArchive");
        let magic = if zip {
            Magic::Zip
        } else if self.remote_src {
            Magic::Other
        } else {
            self.local_magic()?
        };
        let argv = self.extract_argv(magic);
        let mut cmd = Cmd::new("sh")
            .arg("-c")
            .arg(EXTRACT_SCRIPT)
            .arg("sh")
            .arg(if zip { "zip" } else { "tar" })
            .arg(&self.dest)
            .arg(if self.remote_src {
                self.src.as_str()
            } else {
                "-"
            })
            .arg(self.mode.clone().unwrap_or_default())
            .arg(self.owner.clone().unwrap_or_default())
            .arg(self.group.clone().unwrap_or_default())
            .args(argv.iter().cloned());
        if !self.remote_src {
            cmd = cmd.stdin_file(&self.src);
        }
        let out: Output = host.run(&cmd).await?;
        let mut r = result;
        let shown: Vec<String> = argv
            .iter()
            .map(|a| {
                if a == "@SRC@" {
                    self.src.clone()
                } else {
                    a.clone()
                }
            })
            .collect();
        r.insert(
            "extract_results".into(),
            json!({
                "cmd": shown,
                "rc": out.rc,
                "out": text::decode(&out.stdout),
                "err": text::decode(&out.stderr),
            }),
        );
        if !out.success() {
            return Err(ModuleError::Failed {
                msg: format!(
                    "failed to unpack {} to {}: {}",
                    self.src,
                    self.dest,
                    text::decode(&out.stderr).trim()
                ),
                result: r,
            });
        }
        Ok(Applied {
            changed: true,
            result: r,
            ..Applied::default()
        })
    }
}

impl Module for Unarchive {
    fn name(&self) -> &'static str {
        "unarchive"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let Some(src) = p.src.filter(|s| !s.is_empty()) else {
            return Err(ParamError::at("src", "missing required arguments: src"));
        };
        let Some(dest) = p.dest.filter(|s| !s.is_empty()) else {
            return Err(ParamError::at("dest", "missing required arguments: dest"));
        };
        if p.copy.is_some() && p.remote_src.is_some() {
            return Err(ParamError::new(
                "parameters are mutually exclusive: copy|remote_src",
            ));
        }
        let remote_src = p.remote_src.unwrap_or(p.copy == Some(false));
        if src.contains("://") {
            return Err(ParamError::at(
                "src",
                "downloading src from a URL is not supported yet; use get_url first",
            ));
        }
        if !remote_src && !Path::new(&src).is_absolute() {
            return Err(ParamError::at(
                "src",
                format!(
                    "src must be an absolute controller path (the engine resolves relative ones), got: {src}"
                ),
            ));
        }
        Ok(Box::new(Prepped {
            src,
            dest: dest.trim_end_matches('/').to_string(),
            remote_src,
            creates: p.creates.filter(|s| !s.is_empty()),
            list_files: p.list_files.unwrap_or(false),
            exclude: p.exclude.unwrap_or_default(),
            include: p.include.unwrap_or_default(),
            keep_newer: p.keep_newer.unwrap_or(false),
            extra_opts: p.extra_opts.unwrap_or_default(),
            // An unquoted `0644` is the YAML integer 420: read as Ansible does.
            mode: match p.mode {
                Some(crate::files::attrs::ModeParam::Mode(m)) => Some(m.chmod_arg()),
                Some(crate::files::attrs::ModeParam::Preserve) => {
                    return Err(ParamError::at("mode", "mode: preserve needs a source file"));
                }
                None => None,
            },
            owner: p.owner.filter(|s| !s.is_empty()),
            group: p.group.filter(|s| !s.is_empty()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zipinfo() {
        let out = "Archive:  x.zip\nZip file size: 291 bytes, number of entries: 2\n\
                   drwxr-xr-x  3.0 unx        0 bx stor 20261122.021543 d/\n\
                   -rw-r--r--  3.0 unx        3 tx stor 20261122.021543 d/a b\n\
                   2 files, 3 bytes uncompressed, 3 bytes compressed:  0.0%\n";
        let e = parse_zipinfo(out);
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].name, "d/a b");
        assert_eq!(e[1].size, 3);
        assert_eq!(e[0].kind, 'd');
    }
}
