//! The `archive` module: packs files and directories on the host into a
//! tar (plain, gz, bz2, xz) or zip archive, or compresses a single file.
//!
//! `check` is one probe script that expands the `path` globs, walks them
//! (`find`: type, size, mtime, path) and lists the existing archive
//! (`tar -tv --full-time` or `unzip -Z -T`, in UTC). The task is in sync
//! when the archive holds exactly the same members with the same sizes
//! and mtimes (a single compressed file: the same content checksum).
//! `apply` builds the archive in a temp file next to `dest` and renames
//! it into place, then removes the sources when `remove` is set.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::archive::glob_match;
use crate::cmd::Cmd;
use crate::fs::Attrs;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::services::split_section;
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `archive` module.
pub struct Archive;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_string")]
    dest: Option<String>,
    #[serde(default, deserialize_with = "params::opt_list")]
    exclude_path: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_list")]
    exclusion_patterns: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    force_archive: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    format: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    group: Option<String>,
    #[serde(default, deserialize_with = "crate::files::attrs::opt_mode")]
    mode: Option<crate::files::attrs::ModeParam>,
    #[serde(default, deserialize_with = "params::opt_string")]
    owner: Option<String>,
    #[serde(deserialize_with = "params::opt_list")]
    path: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    remove: Option<bool>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "archive",
    short: "Pack files on the target into a tar or zip archive",
    description: "Packs files and directories already on the target into a tar \
        archive (plain, or compressed with gzip, bzip2 or xz) or a zip archive, or, \
        for a single file and a compressing format, just compresses that file. \
        The archive is built in a temporary file beside `dest` and renamed into \
        place. It is rebuilt only when its members differ from the sources (name, \
        type, size, modification time; for a compressed single file, its \
        content), so repeated runs change nothing.",
    params: &[
        param(
            "dest",
            Kind::Path,
            "The archive to create. Required when `path` matches several \
            files; without it, the single source's path plus the format's \
            extension is used.",
        ),
        param(
            "exclude_path",
            Kind::List,
            "Absolute paths or globs of sources to leave out, with everything \
            under them.",
        ),
        param(
            "exclusion_patterns",
            Kind::List,
            "Globs matched against member names (relative to the archive root) \
            and their base names; matching members are left out.",
        ),
        param(
            "force_archive",
            Kind::Bool,
            "Always make an archive, even of a single file; otherwise a single \
            file with `gz`, `bz2` or `xz` is compressed without a tar wrapper.",
        )
        .default("false"),
        param(
            "format",
            Kind::Str,
            "The archive type: a tar compressed with gzip (`gz`), bzip2 (`bz2`) \
            or xz (`xz`), a plain `tar`, or `zip`.",
        )
        .choices(&["bz2", "gz", "tar", "xz", "zip"])
        .default("gz"),
        param("group", Kind::Str, "Group that should own the archive."),
        param(
            "mode",
            Kind::Raw,
            "Permissions of the archive: octal (`0644` or `'0644'`) or symbolic \
            (`u=rw,g=r`).",
        ),
        param("owner", Kind::Str, "User that should own the archive."),
        param(
            "path",
            Kind::List,
            "Absolute paths or shell globs of the files and directories to pack \
            (directories recursively); members are stored relative to the \
            sources' common parent directory.",
        )
        .required(),
        param(
            "remove",
            Kind::Bool,
            "Delete the sources after the archive has been (re)built.",
        )
        .default("false"),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Pack the application's logs
  ansible.builtin.archive:
    path: /var/log/app
    dest: /srv/backup/app-logs.tar.gz
    exclusion_patterns:
      - '*.tmp'

- name: Zip several reports
  ansible.builtin.archive:
    path:
      - /srv/reports/*.csv
      - /srv/reports/summary.pdf
    dest: /srv/outgoing/reports.zip
    format: zip
    mode: '0640'
",
    open: false,
    fields: params::fields::<Params>,
};

#[derive(Debug)]
struct Prepped {
    paths: Vec<String>,
    dest: Option<String>,
    format: String,
    exclude_path: Vec<String>,
    exclusion_patterns: Vec<String>,
    force_archive: bool,
    remove: bool,
    attrs: Attrs,
}

/// `$1` dest (may be empty), `$2` format, then the path patterns.
const PROBE_SCRIPT: &str = r#"LC_ALL=C TZ=UTC; export LC_ALL TZ
dest=$1 format=$2; shift 2
echo '--tutti-section paths--'
for pat do
  found=0
  for f in $pat; do
    if [ -e "$f" ] || [ -L "$f" ]; then found=1; echo "E $f"; find "$f" -printf '%y %s %T@ %p\n' 2>/dev/null | sed 's/^/F /'; fi
  done
  [ $found = 1 ] || echo "M $pat"
done
echo '--tutti-section dest--'
[ -n "$dest" ] && [ -f "$dest" ] || exit 0
echo present
case $format in
  zip) unzip -Z -T "$dest" 2>/dev/null ;;
  tar|gz|bz2|xz) case $format in gz) z=-z ;; bz2) z=-j ;; xz) z=-J ;; *) z= ;; esac
     tar $z -tv --full-time -f "$dest" 2>/dev/null | sed 's/^/T /' ;;
esac
echo '--tutti-section single--'
exit 0
"#;

/// Compares the single-file compressed `dest` with its source: `$1` format, `$2` src, `$3` dest.
const SINGLE_SCRIPT: &str = r#"case $1 in gz) d='gzip -dc' ;; bz2) d='bzip2 -dc' ;; xz) d='xz -dc' ;; *) exit 3 ;; esac
[ -f "$3" ] || { echo absent; exit 0; }
a=$($d <"$3" 2>/dev/null | cksum) b=$(cksum <"$2")
[ "$a" = "$b" ] && echo same || echo differs
"#;

/// Builds the archive: `$1` kind, `$2` dest, `$3` arcroot, `$4` excludes
/// (newline-separated member patterns), then the member names.
const BUILD_SCRIPT: &str = r#"kind=$1 dest=$2 root=$3 excl=$4; shift 4
tmp="$dest.tutti-tmp.$$"
trap 'rm -f "$tmp"' EXIT
cd "$root" || exit 1
set -f
xs=
old_ifs=$IFS; IFS='
'
case $kind in
  zip) zip -q -r -y "$tmp" "$@" ${excl:+-x} $excl || exit 1 ;;
  single-gz) gzip -c <"$1" >"$tmp" || exit 1 ;;
  single-bz2) bzip2 -c <"$1" >"$tmp" || exit 1 ;;
  single-xz) xz -c <"$1" >"$tmp" || exit 1 ;;
  *) case $kind in gz) z=-z ;; bz2) z=-j ;; xz) z=-J ;; *) z= ;; esac
     for e in $excl; do xs="$xs--exclude=$e$IFS"; done
     tar $z -c -f "$tmp" $xs -- "$@" || exit 1 ;;
esac
IFS=$old_ifs
mv -f "$tmp" "$dest" || exit 1
trap - EXIT
"#;

/// One source entry from `find`.
#[derive(Debug, Clone)]
struct Entry {
    kind: char,
    size: u64,
    mtime: i64,
    path: String,
}

fn dirname(p: &str) -> String {
    match p.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) => "/".into(),
        Some((d, _)) => d.into(),
        None => ".".into(),
    }
}

/// The longest common directory of `paths` (Ansible's `arcroot`), with
/// a trailing `/`.
fn common_root(paths: &[String]) -> String {
    let mut common: Vec<String> = match paths.first() {
        Some(p) => dirname(p).split('/').map(str::to_string).collect(),
        None => return "/".into(),
    };
    for p in paths.iter().skip(1) {
        let parts: Vec<String> = dirname(p).split('/').map(str::to_string).collect();
        let n = common
            .iter()
            .zip(&parts)
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(n);
    }
    let joined = common.join("/");
    if joined.is_empty() {
        "/".into()
    } else {
        format!("{joined}/")
    }
}

impl Prepped {
    fn excluded(&self, full: &str, rel: &str) -> bool {
        self.exclude_path.iter().any(|e| {
            glob_match(e, full) || full.starts_with(&format!("{}/", e.trim_end_matches('/')))
        }) || self
            .exclusion_patterns
            .iter()
            .any(|p| glob_match(p, rel) || rel.rsplit('/').next().is_some_and(|b| glob_match(p, b)))
    }

    fn ext(&self) -> &'static str {
        match self.format.as_str() {
            "gz" => ".tar.gz",
            "bz2" => ".tar.bz2",
            "xz" => ".tar.xz",
            "zip" => ".zip",
            _ => ".tar",
        }
    }
}

/// The archive's members: `name -> (kind, size, mtime)`.
fn archive_members(listing: &str, zip: bool) -> BTreeMap<String, (char, u64, i64)> {
    let mut m = BTreeMap::new();
    for line in listing.lines() {
        if zip {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 || !"-dl".contains(f[0].chars().next().unwrap_or(' ')) || f[0].len() < 10
            {
                continue;
            }
            let Ok(size) = f[3].parse::<u64>() else {
                continue;
            };
            let mtime = chrono::NaiveDateTime::parse_from_str(f[6], "%Y%m%d.%H%M%S")
                .map(|t| t.and_utc().timestamp())
                .unwrap_or(0);
            let name = f[7..].join(" ");
            let kind = f[0].chars().next().unwrap_or('-');
            m.insert(name.trim_end_matches('/').to_string(), (kind, size, mtime));
            continue;
        }
        let Some(l) = line.strip_prefix("T ") else {
            continue;
        };
        let parts: Vec<&str> = l.split_whitespace().collect();
        if parts.len() < 6 {
            continue;
        }
        let Ok(size) = parts[2].parse::<u64>() else {
            continue;
        };
        let mtime = chrono::NaiveDateTime::parse_from_str(
            &format!("{} {}", parts[3], parts[4]),
            "%Y-%m-%d %H:%M:%S",
        )
        .map(|t| t.and_utc().timestamp())
        .unwrap_or(0);
        // The name is everything after the time; a symlink shows "-> target".
        let Some(at) = l.find(parts[4]).map(|i| i + parts[4].len() + 1) else {
            continue;
        };
        let mut name = l.get(at..).unwrap_or("").to_string();
        let kind = parts[0].chars().next().unwrap_or('-');
        if kind == 'l'
            && let Some(i) = name.find(" -> ")
        {
            name.truncate(i);
        }
        m.insert(name.trim_end_matches('/').to_string(), (kind, size, mtime));
    }
    m
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(PROBE_SCRIPT)
            .arg("sh")
            .arg(self.dest.clone().unwrap_or_default())
            .arg(&self.format)
            .args(self.paths.iter().cloned());
        let out = text::decode(&host.probe(&cmd).await?.stdout);
        let (_, rest) = split_section(&out, "paths");
        let (paths, rest) = split_section(rest, "dest");
        let (listing, _) = split_section(rest, "single");
        let mut expanded = Vec::new();
        let mut missing = Vec::new();
        let mut entries = Vec::new();
        for line in paths.lines() {
            if let Some(p) = line.strip_prefix("E ") {
                expanded.push(p.to_string());
            } else if let Some(p) = line.strip_prefix("M ") {
                missing.push(p.to_string());
            } else if let Some(l) = line.strip_prefix("F ") {
                let mut it = l.splitn(4, ' ');
                let (Some(k), Some(s), Some(t), Some(p)) =
                    (it.next(), it.next(), it.next(), it.next())
                else {
                    continue;
                };
                entries.push(Entry {
                    kind: k.chars().next().unwrap_or('f'),
                    size: s.parse().unwrap_or(0),
                    mtime: t
                        .split('.')
                        .next()
                        .and_then(|x| x.parse().ok())
                        .unwrap_or(0),
                    path: p.to_string(),
                });
            }
        }
        let expanded: Vec<String> = expanded
            .into_iter()
            .filter(|p| !self.excluded(p, p))
            .collect();
        let arcroot = common_root(&expanded);
        let single = !self.force_archive
            && expanded.len() == 1
            && self.paths.len() == 1
            && !["zip", "tar"].contains(&self.format.as_str())
            && entries.len() == 1
            && entries[0].kind == 'f';
        let dest = match &self.dest {
            Some(d) => d.clone(),
            None if single => format!("{}.{}", expanded[0], self.format),
            None if expanded.len() == 1 => {
                format!("{}{}", expanded[0].trim_end_matches('/'), self.ext())
            }
            None => {
                return Err(ModuleError::failed(
                    "Error, must specify \"dest\" when archiving multiple files or trees",
                ));
            }
        };
        let mut result = Facts::new();
        result.insert("dest".into(), json!(dest));
        result.insert("expanded_paths".into(), json!(expanded));
        result.insert("expanded_exclude_paths".into(), json!(self.exclude_path));
        result.insert("missing".into(), json!(missing));
        result.insert("arcroot".into(), json!(arcroot));
        if expanded.is_empty() {
            result.insert("state".into(), json!("absent"));
            result.insert("dest_state".into(), json!("absent"));
            result.insert("archived".into(), json!([]));
            return Err(ModuleError::Failed {
                msg: format!(
                    "Error, no source paths were found: {}",
                    self.paths.join(", ")
                ),
                result,
            });
        }
        let state = if single {
            "compress"
        } else if missing.is_empty() {
            "archive"
        } else {
            "incomplete"
        };
        result.insert("state".into(), json!(state));
        result.insert("dest_state".into(), json!(state));
        let members: Vec<(String, &Entry)> = entries
            .iter()
            .filter(|e| e.path != dest)
            .filter_map(|e| {
                let rel = e.path.strip_prefix(&arcroot).unwrap_or(&e.path).to_string();
                (!self.excluded(&e.path, &rel)).then_some((rel, e))
            })
            .collect();
        let archived: Vec<&str> = members
            .iter()
            .filter(|(_, e)| e.kind != 'd')
            .map(|(_, e)| e.path.as_str())
            .collect();
        result.insert("archived".into(), json!(archived));
        let in_sync = if single {
            let c = Cmd::new("sh")
                .arg("-c")
                .arg(SINGLE_SCRIPT)
                .arg("sh")
                .arg(&self.format)
                .arg(&expanded[0])
                .arg(&dest);
            text::decode(&host.probe(&c).await?.stdout).trim() == "same"
        } else {
            let have = archive_members(listing, self.format == "zip");
            let want: BTreeMap<String, (char, u64, i64)> = members
                .iter()
                .map(|(rel, e)| {
                    (
                        rel.trim_end_matches('/').to_string(),
                        (e.kind, e.size, e.mtime),
                    )
                })
                .collect();
            listing.lines().next() == Some("present")
                && have.len() == want.len()
                && want
                    .iter()
                    .all(|(name, (k, size, mtime))| match have.get(name) {
                        Some((hk, hs, ht)) => match k {
                            'f' => *hk == '-' && hs == size && (ht - mtime).abs() <= 1,
                            'd' => *hk == 'd',
                            _ => *hk == 'l',
                        },
                        None => false,
                    })
        };
        if in_sync {
            return Ok(Plan::InSync { result });
        }
        Ok(Plan::Change {
            changes: vec![format!("create {dest} ({} members)", members.len())],
            diff: Vec::new(),
            result,
        })
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
        let get = |k: &str| {
            result
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let dest = get("dest");
        let arcroot = get("arcroot");
        let expanded: Vec<String> = result
            .get("expanded_paths")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let single = get("state") == "compress";
        let kind = if single {
            format!("single-{}", self.format)
        } else {
            self.format.clone()
        };
        let members: Vec<String> = expanded
            .iter()
            .map(|p| {
                let rel = p.strip_prefix(&arcroot).unwrap_or(p).trim_end_matches('/');
                if rel.is_empty() {
                    ".".to_string()
                } else {
                    rel.to_string()
                }
            })
            .collect();
        let mut excl: Vec<String> = self.exclusion_patterns.clone();
        excl.extend(
            self.exclude_path
                .iter()
                .map(|e| e.strip_prefix(&arcroot).unwrap_or(e).to_string()),
        );
        let dest_rel = dest.strip_prefix(&arcroot).unwrap_or(&dest).to_string();
        excl.push(dest_rel);
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(BUILD_SCRIPT)
            .arg("sh")
            .arg(&kind)
            .arg(&dest)
            .arg(if single {
                "/".to_string()
            } else {
                arcroot.clone()
            })
            .arg(excl.join("\n"))
            .args(if single { expanded.clone() } else { members });
        let out = host.run(&cmd).await?;
        if !out.success() {
            return Err(crate::services::command_failed(
                &format!("Error creating archive {dest}"),
                &out,
            ));
        }
        if !self.attrs.is_empty() {
            host.set_attrs(&dest, &self.attrs, true, false).await?;
        }
        if self.remove {
            for p in &expanded {
                host.remove(p).await?;
            }
        }
        Ok(Applied {
            changed: true,
            result,
            ..Applied::default()
        })
    }
}

impl Module for Archive {
    fn name(&self) -> &'static str {
        "archive"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let paths = p.path.unwrap_or_default();
        if paths.is_empty() {
            return Err(ParamError::at("path", "missing required arguments: path"));
        }
        let format = p.format.unwrap_or_else(|| "gz".into());
        if !["gz", "bz2", "xz", "zip", "tar"].contains(&format.as_str()) {
            return Err(ParamError::at(
                "format",
                format!("value of format must be one of: bz2, gz, tar, xz, zip, got: {format}"),
            ));
        }
        // An unquoted `0644` is the YAML integer 420: read as Ansible does.
        let mode = match p.mode {
            Some(crate::files::attrs::ModeParam::Mode(m)) => Some(m),
            Some(crate::files::attrs::ModeParam::Preserve) => {
                return Err(ParamError::at("mode", "mode: preserve needs a source file"));
            }
            None => None,
        };
        Ok(Box::new(Prepped {
            paths,
            dest: p.dest.filter(|d| !d.is_empty()),
            format,
            exclude_path: p.exclude_path.unwrap_or_default(),
            exclusion_patterns: p.exclusion_patterns.unwrap_or_default(),
            force_archive: p.force_archive.unwrap_or(false),
            remove: p.remove.unwrap_or(false),
            attrs: Attrs {
                mode,
                owner: p.owner,
                group: p.group,
            },
        }))
    }
}
