//! The `find` module: lists files on the host with one probe running
//! `find` (GNU `-printf`, or `stat -c` where `-printf` is missing), and
//! filters in Rust the way Ansible's module does: `patterns`/`excludes`
//! (shell globs, or Python-style regexes with `use_regex`, matched on the
//! base name), `age`, `size`, `file_type`, `hidden`, `depth`, `mode`.
//! `contains` and `get_checksum` need the files' content: a second probe
//! greps and checksums only the candidates left after those filters.
//! Read-only: it never changes the host.

use indexmap::IndexMap;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::cmd::Cmd;
use crate::files::attrs::Mode;
use crate::files2::normpath;
use crate::host::{Host, HostRead, Output};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::net;
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `find` module.
pub struct Find;

/// Parameters, sorted by name. `encoding` is accepted and has no effect
/// (`contains` matches bytes).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_string")]
    age: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    age_stamp: Option<String>,
    #[serde(
        default,
        alias = "checksum_algo",
        deserialize_with = "params::opt_string"
    )]
    checksum_algorithm: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    contains: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    depth: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    encoding: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    exact_mode: Option<bool>,
    #[serde(default, alias = "exclude", deserialize_with = "params::opt_list")]
    excludes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    file_type: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    follow: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    get_checksum: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    hidden: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    limit: Option<String>,
    #[serde(default)]
    mode: Option<Value>,
    #[serde(
        default,
        alias = "name",
        alias = "path",
        deserialize_with = "params::opt_list"
    )]
    paths: Option<Vec<String>>,
    #[serde(default, alias = "pattern", deserialize_with = "params::opt_list")]
    patterns: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    read_whole_file: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    recurse: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    size: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    use_regex: Option<bool>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "find",
    short: "Find files on the target by name, age, size, type or content",
    description: "Lists what is under one or more directories on the target \
        and keeps the entries that pass every filter given: name patterns and \
        exclusions, type, age, size, permissions and content. The matches are \
        returned in `files`, one dict of stat-like keys per entry, with \
        `matched` and `examined` counts. It only reads, and never reports a \
        change.",
    params: &[
        param(
            "age",
            Kind::Str,
            "Keep entries at least this old, or with a leading `-` at most \
            this old; a number with an optional unit `s`, `m`, `h`, `d` or `w` \
            (seconds without one).",
        ),
        param("age_stamp", Kind::Str, "Which time `age` is measured on.")
            .default("mtime")
            .choices(&["atime", "ctime", "mtime"]),
        param(
            "checksum_algorithm",
            Kind::Str,
            "Hash used for `checksum` with `get_checksum`.",
        )
        .default("sha1")
        .aliases(&["checksum_algo"])
        .choices(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]),
        param(
            "contains",
            Kind::Str,
            "Regular expression a file's content must match: at the start of \
            some line, or anywhere with `read_whole_file`. Only used with \
            `file_type: file`.",
        ),
        param(
            "depth",
            Kind::Int,
            "With `recurse`, how many directory levels to go down (1 is only \
            the given directories' own entries); unlimited without it.",
        ),
        param(
            "encoding",
            Kind::Str,
            "Accepted for compatibility; has no effect (`contains` matches the \
            bytes of the files).",
        ),
        param(
            "exact_mode",
            Kind::Bool,
            "With `mode`, keep only entries whose permissions equal it; with \
            `false`, entries sharing any permission bit with it.",
        )
        .default("true"),
        param(
            "excludes",
            Kind::List,
            "Patterns (globs, or regular expressions with `use_regex`) of base \
            names to leave out.",
        )
        .aliases(&["exclude"]),
        param("file_type", Kind::Str, "The type of entry to keep.")
            .default("file")
            .choices(&["any", "directory", "file", "link"]),
        param(
            "follow",
            Kind::Bool,
            "Follow symlinks while walking, and report what they point at.",
        )
        .default("false"),
        param(
            "get_checksum",
            Kind::Bool,
            "Add a `checksum` of each matching regular file.",
        )
        .default("false"),
        param(
            "hidden",
            Kind::Bool,
            "Also keep entries whose names start with a dot.",
        )
        .default("false"),
        param(
            "limit",
            Kind::Int,
            "Stop after this many matches; all of them without it.",
        ),
        param(
            "mode",
            Kind::Raw,
            "Permissions to look for, octal (`'0644'`) or symbolic \
            (`u=rw,g=r`); see `exact_mode`.",
        ),
        param(
            "paths",
            Kind::List,
            "The directories on the target to search (a leading `~` is the \
            remote user's home).",
        )
        .required()
        .aliases(&["name", "path"]),
        param(
            "patterns",
            Kind::List,
            "Patterns the base name must match, shell globs or with \
            `use_regex` regular expressions matched at the start of the name; \
            every name matches when none is given.",
        )
        .aliases(&["pattern"]),
        param(
            "read_whole_file",
            Kind::Bool,
            "Match `contains` against the whole file instead of line by line.",
        )
        .default("false"),
        param("recurse", Kind::Bool, "Descend into subdirectories.").default("false"),
        param(
            "size",
            Kind::Str,
            "Keep files at least this large, or with a leading `-` at most \
            this large; a number with an optional unit `b`, `k`, `m`, `g` or \
            `t` (bytes without one).",
        ),
        param(
            "use_regex",
            Kind::Bool,
            "Read `patterns` and `excludes` as regular expressions instead of \
            globs.",
        )
        .default("false"),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Find log files older than two weeks
  ansible.builtin.find:
    paths: /var/log/app
    patterns: '*.log,*.log.gz'
    age: 2w
    recurse: true
  register: old_logs

- name: Remove them
  ansible.builtin.file:
    path: \"{{ item.path }}\"
    state: absent
  loop: \"{{ old_logs.files }}\"

- name: Find configuration files that still mention the old host
  ansible.builtin.find:
    paths: /etc/app
    contains: '.*db1\\.example\\.com'
    file_type: file
",
    open: false,
    fields: params::fields::<Params>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileType {
    Any,
    Directory,
    File,
    Link,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    Mtime,
    Atime,
    Ctime,
}

enum Matcher {
    Glob(Vec<Regex>),
    Regex(Vec<Regex>),
}

impl Matcher {
    /// Python's `fnmatch.fnmatch` or `re.match` (anchored at the start).
    fn any(&self, name: &str) -> bool {
        match self {
            Matcher::Glob(v) | Matcher::Regex(v) => v.iter().any(|r| r.is_match(name)),
        }
    }
}

struct Prepped {
    paths: Vec<String>,
    patterns: Matcher,
    excludes: Option<Matcher>,
    contains: Option<String>,
    read_whole_file: bool,
    file_type: FileType,
    age: Option<i64>,
    stamp: Stamp,
    size: Option<i64>,
    recurse: bool,
    depth: Option<u32>,
    hidden: bool,
    follow: bool,
    checksum: Option<String>,
    mode: Option<Mode>,
    exact_mode: bool,
    limit: Option<usize>,
}

/// Python's `fnmatch.translate`, anchored at both ends.
fn glob_regex(glob: &str) -> Result<Regex, regex::Error> {
    let chars: Vec<char> = glob.chars().collect();
    let mut re = String::from("^(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    re.push_str("\\[");
                } else {
                    let inner: String = chars[i..j].iter().collect();
                    i = j + 1;
                    let (neg, body) = match inner.strip_prefix('!') {
                        Some(b) => (true, b.to_string()),
                        None => (false, inner.clone()),
                    };
                    let body = body.replace('\\', "\\\\").replace('[', "\\[");
                    re.push('[');
                    if neg {
                        re.push('^');
                    } else if body.starts_with('^') {
                        re.push('\\');
                    }
                    re.push_str(&body);
                    re.push(']');
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(")$");
    Regex::new(&re)
}

fn matcher(list: &[String], use_regex: bool, param: &str) -> Result<Matcher, ParamError> {
    let bad =
        |p: &str, e: regex::Error| ParamError::at(param, format!("invalid pattern {p:?}: {e}"));
    if use_regex {
        let v = list
            .iter()
            .map(|p| Regex::new(&format!("^(?:{p})")).map_err(|e| bad(p, e)))
            .collect::<Result<_, _>>()?;
        Ok(Matcher::Regex(v))
    } else {
        let v = list
            .iter()
            .map(|p| glob_regex(p).map_err(|e| bad(p, e)))
            .collect::<Result<_, _>>()?;
        Ok(Matcher::Glob(v))
    }
}

/// `"-2d"`, `"1w"`, `"30"` (seconds) as Ansible's `age`.
fn parse_age(s: &str) -> Option<i64> {
    parse_unit(
        s,
        &[
            ('s', 1),
            ('m', 60),
            ('h', 3600),
            ('d', 86400),
            ('w', 604_800),
        ],
    )
}

/// `"10k"`, `"-1m"`, `"512"` (bytes) as Ansible's `size`.
fn parse_size(s: &str) -> Option<i64> {
    parse_unit(
        s,
        &[
            ('b', 1),
            ('k', 1 << 10),
            ('m', 1 << 20),
            ('g', 1 << 30),
            ('t', 1 << 40),
        ],
    )
}

fn parse_unit(s: &str, units: &[(char, i64)]) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let (num, mult) = match s.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let m = units.iter().find(|(u, _)| *u == c)?.1;
            (&s[..s.len() - 1], m)
        }
        _ => (s.as_str(), 1),
    };
    let digits = num.strip_prefix('-').unwrap_or(num);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse::<i64>().ok()?.checked_mul(mult)
}

impl Module for Find {
    fn name(&self) -> &'static str {
        "find"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let paths = p
            .paths
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ParamError::at("paths", "missing required arguments: paths"))?;
        let use_regex = p.use_regex.unwrap_or(false);
        let mut patterns = p.patterns.unwrap_or_default();
        if patterns.is_empty() {
            patterns.push(if use_regex { ".*" } else { "*" }.to_string());
        }
        let patterns = matcher(&patterns, use_regex, "patterns")?;
        let excludes = match p.excludes.filter(|e| !e.is_empty()) {
            Some(e) => Some(matcher(&e, use_regex, "excludes")?),
            None => None,
        };
        if let Some(c) = &p.contains {
            Regex::new(c).map_err(|e| ParamError::at("contains", format!("invalid regex: {e}")))?;
        }
        let file_type = match p.file_type.as_deref().unwrap_or("file") {
            "any" => FileType::Any,
            "directory" => FileType::Directory,
            "file" => FileType::File,
            "link" => FileType::Link,
            other => {
                return Err(ParamError::at(
                    "file_type",
                    format!(
                        "value of file_type must be one of: any, directory, file, link, got: {other}"
                    ),
                ));
            }
        };
        let stamp = match p.age_stamp.as_deref().unwrap_or("mtime") {
            "mtime" => Stamp::Mtime,
            "atime" => Stamp::Atime,
            "ctime" => Stamp::Ctime,
            other => {
                return Err(ParamError::at(
                    "age_stamp",
                    format!("value of age_stamp must be one of: atime, ctime, mtime, got: {other}"),
                ));
            }
        };
        let age = match &p.age {
            Some(a) => {
                Some(parse_age(a).ok_or_else(|| ParamError::at("age", "failed to process age"))?)
            }
            None => None,
        };
        let size = match &p.size {
            Some(s) => Some(
                parse_size(s).ok_or_else(|| ParamError::at("size", "failed to process size"))?,
            ),
            None => None,
        };
        let depth = match p.depth.as_deref() {
            None | Some("") => None,
            Some(d) => Some(
                d.parse::<u32>()
                    .map_err(|_| ParamError::at("depth", format!("invalid depth '{d}'")))?,
            ),
        };
        let limit = match p.limit.as_deref() {
            None | Some("") => None,
            Some(l) => Some(
                l.parse::<usize>()
                    .map_err(|_| ParamError::at("limit", format!("invalid limit '{l}'")))?,
            ),
        };
        let checksum = if p.get_checksum.unwrap_or(false) {
            let algo = p.checksum_algorithm.unwrap_or_else(|| "sha1".into());
            crate::fs::ChecksumAlgo::parse(&algo).ok_or_else(|| {
                ParamError::at(
                    "checksum_algorithm",
                    format!("unsupported algorithm '{algo}'"),
                )
            })?;
            Some(algo.to_ascii_lowercase())
        } else {
            None
        };
        let mode = match &p.mode {
            None | Some(Value::Null) => None,
            Some(v) => match Mode::from_value(v).map_err(|e| ParamError::at("mode", e))? {
                Some(crate::files::attrs::ModeParam::Mode(m)) => Some(m),
                _ => return Err(ParamError::at("mode", "mode cannot be 'preserve' here")),
            },
        };
        Ok(Box::new(Prepped {
            paths,
            patterns,
            excludes,
            contains: p.contains,
            read_whole_file: p.read_whole_file.unwrap_or(false),
            file_type,
            age,
            stamp,
            size,
            recurse: p.recurse.unwrap_or(false),
            depth,
            hidden: p.hidden.unwrap_or(false),
            follow: p.follow.unwrap_or(false),
            checksum,
            mode,
            exact_mode: p.exact_mode.unwrap_or(true),
            limit,
        }))
    }
}

/// `$1` follow (1/0), `$2` maxdepth, then the paths. Output, NUL
/// separated: `N now`, then per path `P given expanded`, then `E msg` or
/// one `F fields path` per entry.
const LIST_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
follow=$1 maxd=$2; shift 2
printf 'N\0%s\0' "$(date +%s)"
H=-H; [ "$follow" = 1 ] && H=-L
if find / -maxdepth 0 -printf '' >/dev/null 2>&1; then gnu=1; else gnu=0; fi
for p; do
  case $p in "~"|"~/"*) q="$HOME${p#?}";; *) q=$p;; esac
  printf 'P\0%s\0%s\0' "$p" "$q"
  if ! [ -d "$q" ]; then printf "E\0'%s' is not a directory\0" "$q"; continue; fi
  if [ "$gnu" = 1 ]; then
    find $H "$q" -mindepth 1 -maxdepth "$maxd" -printf 'F\0%y|%m|%s|%T@|%A@|%C@|%U|%G|%i|%D|%n|%u|%g\0%p\0'
  else
    find $H "$q" -mindepth 1 -maxdepth "$maxd" -exec stat -c 'S|%f|%s|%Y|%X|%Z|%u|%g|%i|%d|%h|%U|%G|%n' {} +
    printf '\0'
  fi
done
"#;

/// `$1` regex (or empty), `$2` whole file (1/0), `$3` checksum algorithm
/// (or empty), then the candidate files. Prints `C path` for files whose
/// content matches and `S path digest` for checksums, NUL separated.
const CONTENT_SCRIPT: &str = r#"pat=$1 whole=$2 algo=$3; shift 3
if printf 'a\n' | grep -qP 'a' 2>/dev/null; then m=-P re="^(?:$pat)"; else m=-E re="^($pat)"; fi
z=
if [ "$whole" = 1 ]; then z=-z; re=$pat; fi
for f; do
  if [ -n "$pat" ]; then
    grep -q $m $z -e "$re" -- "$f" 2>/dev/null || continue
    printf 'C\0%s\0' "$f"
  fi
  if [ -n "$algo" ] && [ -f "$f" ] && h=$(tutti_digest "$algo" < "$f" 2>/dev/null); then
    printf 'S\0%s\0%s\0' "$f" "$h"
  fi
done
"#;

#[derive(Debug, Clone)]
struct Entry {
    kind: char,
    mode: u32,
    size: u64,
    mtime: f64,
    atime: f64,
    ctime: f64,
    uid: u64,
    gid: u64,
    inode: u64,
    dev: u64,
    nlink: u64,
    owner: String,
    group: String,
    path: String,
}

impl Entry {
    fn from_gnu(fields: &str, path: String) -> Option<Entry> {
        let f: Vec<&str> = fields.split('|').collect();
        if f.len() != 13 {
            return None;
        }
        Some(Entry {
            kind: f[0].chars().next()?,
            mode: u32::from_str_radix(f[1], 8).ok()?,
            size: f[2].parse().ok()?,
            mtime: f[3].parse().ok()?,
            atime: f[4].parse().ok()?,
            ctime: f[5].parse().ok()?,
            uid: f[6].parse().ok()?,
            gid: f[7].parse().ok()?,
            inode: f[8].parse().ok()?,
            dev: f[9].parse().ok()?,
            nlink: f[10].parse().ok()?,
            owner: f[11].to_string(),
            group: f[12].to_string(),
            path,
        })
    }

    /// `stat -c 'S|%f|...|%n'`: the raw mode in hex carries the type.
    fn from_stat(line: &str) -> Option<Entry> {
        let f: Vec<&str> = line.splitn(14, '|').collect();
        if f.len() != 14 || f[0] != "S" {
            return None;
        }
        let raw = u32::from_str_radix(f[1], 16).ok()?;
        let kind = match raw & 0o170000 {
            0o040000 => 'd',
            0o120000 => 'l',
            0o010000 => 'p',
            0o140000 => 's',
            0o020000 => 'c',
            0o060000 => 'b',
            _ => 'f',
        };
        Some(Entry {
            kind,
            mode: raw & 0o7777,
            size: f[2].parse().ok()?,
            mtime: f[3].parse().ok()?,
            atime: f[4].parse().ok()?,
            ctime: f[5].parse().ok()?,
            uid: f[6].parse().ok()?,
            gid: f[7].parse().ok()?,
            inode: f[8].parse().ok()?,
            dev: f[9].parse().ok()?,
            nlink: f[10].parse().ok()?,
            owner: f[11].to_string(),
            group: f[12].to_string(),
            path: f[13].to_string(),
        })
    }

    fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// Ansible's `statinfo` keys, after `path`.
    fn to_json(&self) -> Map<String, Value> {
        let m = self.mode;
        let mut r = Map::new();
        r.insert("path".into(), json!(self.path));
        r.insert("mode".into(), json!(format!("{:04o}", m & 0o7777)));
        r.insert("isdir".into(), json!(self.kind == 'd'));
        r.insert("ischr".into(), json!(self.kind == 'c'));
        r.insert("isblk".into(), json!(self.kind == 'b'));
        r.insert("isreg".into(), json!(self.kind == 'f'));
        r.insert("isfifo".into(), json!(self.kind == 'p'));
        r.insert("islnk".into(), json!(self.kind == 'l'));
        r.insert("issock".into(), json!(self.kind == 's'));
        r.insert("uid".into(), json!(self.uid));
        r.insert("gid".into(), json!(self.gid));
        r.insert("size".into(), json!(self.size));
        r.insert("inode".into(), json!(self.inode));
        r.insert("dev".into(), json!(self.dev));
        r.insert("nlink".into(), json!(self.nlink));
        r.insert("atime".into(), json!(self.atime));
        r.insert("mtime".into(), json!(self.mtime));
        r.insert("ctime".into(), json!(self.ctime));
        r.insert("gr_name".into(), json!(self.group));
        r.insert("pw_name".into(), json!(self.owner));
        for (key, bit) in [
            ("wusr", 0o200),
            ("rusr", 0o400),
            ("xusr", 0o100),
            ("wgrp", 0o020),
            ("rgrp", 0o040),
            ("xgrp", 0o010),
            ("woth", 0o002),
            ("roth", 0o004),
            ("xoth", 0o001),
            ("isuid", 0o4000),
            ("isgid", 0o2000),
        ] {
            r.insert(key.into(), json!(m & bit != 0));
        }
        r
    }
}

/// What the listing probe returned for one path.
struct Listed {
    root: String,
    error: Option<String>,
    entries: Vec<Entry>,
}

fn parse_listing(out: &[u8]) -> (f64, Vec<Listed>) {
    let mut now = 0.0;
    let mut listed: Vec<Listed> = Vec::new();
    let mut fields = out.split(|&b| b == 0);
    while let Some(tag) = fields.next() {
        match tag {
            b"N" => {
                now = fields
                    .next()
                    .map(text::decode)
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0.0);
            }
            b"P" => {
                let _given = fields.next();
                let root = fields.next().map(text::decode).unwrap_or_default();
                listed.push(Listed {
                    root,
                    error: None,
                    entries: Vec::new(),
                });
            }
            b"E" => {
                let msg = fields.next().map(text::decode).unwrap_or_default();
                if let Some(l) = listed.last_mut() {
                    l.error = Some(msg);
                }
            }
            b"F" => {
                let (Some(f), Some(p)) = (fields.next(), fields.next()) else {
                    break;
                };
                if let (Some(e), Some(l)) = (
                    Entry::from_gnu(&text::decode(f), text::decode(p)),
                    listed.last_mut(),
                ) {
                    l.entries.push(e);
                }
            }
            other => {
                // The stat fallback prints lines; they may follow a tag.
                for line in text::decode(other).lines() {
                    if let (Some(e), Some(l)) = (Entry::from_stat(line), listed.last_mut()) {
                        l.entries.push(e);
                    }
                }
            }
        }
    }
    (now, listed)
}

/// `find: 'PATH': message` lines from the listing's stderr.
fn walk_errors(stderr: &[u8]) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    for line in text::decode(stderr).lines() {
        let Some(rest) = line.strip_prefix("find: ") else {
            continue;
        };
        let rest = rest.trim_start_matches(['\'', '‘']);
        if let Some(i) = rest.find(['\'', '’']) {
            let path = rest[..i].to_string();
            let msg = rest[i..]
                .trim_start_matches(['\'', '’'])
                .trim_start_matches(':')
                .trim()
                .to_string();
            out.insert(path, msg);
        }
    }
    out
}

impl Prepped {
    fn maxdepth(&self) -> u32 {
        match (self.recurse, self.depth) {
            (false, _) => 1,
            (true, Some(d)) => d.saturating_add(1).max(1),
            (true, None) => u32::MAX / 2,
        }
    }

    fn names_match(&self, name: &str) -> bool {
        if !self.patterns.any(name) {
            return false;
        }
        !self.excludes.as_ref().is_some_and(|e| e.any(name))
    }

    fn age_ok(&self, e: &Entry, now: f64) -> bool {
        let Some(age) = self.age else {
            return true;
        };
        let t = match self.stamp {
            Stamp::Mtime => e.mtime,
            Stamp::Atime => e.atime,
            Stamp::Ctime => e.ctime,
        };
        let delta = now - t;
        if age >= 0 {
            delta >= age as f64
        } else {
            delta <= age.unsigned_abs() as f64
        }
    }

    fn size_ok(&self, e: &Entry) -> bool {
        match self.size {
            None => true,
            Some(s) if s >= 0 => e.size >= s as u64,
            Some(s) => e.size <= s.unsigned_abs(),
        }
    }

    fn mode_ok(&self, e: &Entry) -> bool {
        let Some(mode) = &self.mode else {
            return true;
        };
        let have = e.mode & 0o7777;
        let want = mode.resolve(have, e.kind == 'd', 0o022) & 0o7777;
        if self.exact_mode {
            have == want
        } else {
            have & want != 0
        }
    }

    /// Whether the entry passes every filter except `contains`.
    fn candidate(&self, e: &Entry, now: f64) -> bool {
        let names = self.names_match(e.name()) && self.age_ok(e, now) && self.mode_ok(e);
        match self.file_type {
            FileType::Any => names && (e.kind != 'f' || self.size_ok(e)),
            FileType::Directory => e.kind == 'd' && names,
            FileType::File => e.kind == 'f' && names && self.size_ok(e),
            FileType::Link => e.kind == 'l' && names,
        }
    }

    async fn run(&self, host: &dyn HostRead) -> Result<Facts, ModuleError> {
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(LIST_SCRIPT)
            .arg("sh")
            .arg(if self.follow { "1" } else { "0" })
            .arg(self.maxdepth().to_string())
            .args(self.paths.iter().cloned());
        let out: Output = host.probe(&cmd).await?;
        let (now, listed) = parse_listing(&out.stdout);
        let mut skipped: IndexMap<String, String> = walk_errors(&out.stderr);
        let mut examined = 0usize;
        let mut candidates: Vec<Entry> = Vec::new();
        for l in listed {
            if let Some(err) = l.error {
                skipped.insert(l.root.clone(), err);
                continue;
            }
            let base_depth = normpath(&l.root).trim_end_matches('/').matches('/').count();
            for mut e in l.entries {
                examined += 1;
                e.path = normpath(&e.path);
                let depth = e.path.matches('/').count().saturating_sub(base_depth);
                if self.recurse && self.depth.is_some_and(|d| depth as u32 > d) {
                    continue;
                }
                if !self.hidden && e.name().starts_with('.') {
                    continue;
                }
                if self.candidate(&e, now) {
                    candidates.push(e);
                }
            }
        }
        let needs_content = self.contains.is_some() && self.file_type == FileType::File;
        let (matched_content, sums) = if needs_content || self.checksum.is_some() {
            self.content_probe(host, &candidates, needs_content).await?
        } else {
            (None, IndexMap::new())
        };
        let mut files = Vec::new();
        for e in candidates {
            if let Some(set) = &matched_content
                && !set.contains(&e.path)
            {
                continue;
            }
            let mut j = e.to_json();
            if let Some(s) = sums.get(&e.path) {
                j.insert("checksum".into(), json!(s));
            }
            files.push(Value::Object(j));
            if self.limit.is_some_and(|l| files.len() >= l) {
                break;
            }
        }
        let mut r = Facts::new();
        r.insert("changed".into(), json!(false));
        r.insert("matched".into(), json!(files.len()));
        r.insert("files".into(), Value::Array(files));
        r.insert("examined".into(), json!(examined));
        let msg = if skipped.is_empty() {
            ""
        } else {
            "Not all paths examined, check warnings for details"
        };
        r.insert("msg".into(), json!(msg));
        r.insert("skipped_paths".into(), json!(skipped));
        Ok(r)
    }

    /// Greps and checksums the candidates on the host (a second probe).
    async fn content_probe(
        &self,
        host: &dyn HostRead,
        candidates: &[Entry],
        grep: bool,
    ) -> Result<
        (
            Option<std::collections::HashSet<String>>,
            IndexMap<String, String>,
        ),
        ModuleError,
    > {
        let mut matched = std::collections::HashSet::new();
        let mut sums = IndexMap::new();
        let files: Vec<String> = candidates
            .iter()
            .filter(|e| e.kind == 'f' || (grep && e.kind != 'd'))
            .map(|e| e.path.clone())
            .collect();
        // Batches keep each command line well under ARG_MAX.
        for batch in files.chunks(2000) {
            let cmd = net::script(CONTENT_SCRIPT)
                .arg(if grep {
                    self.contains.clone().unwrap_or_default()
                } else {
                    String::new()
                })
                .arg(if self.read_whole_file { "1" } else { "0" })
                .arg(self.checksum.clone().unwrap_or_default())
                .args(batch.iter().cloned());
            let out = host.probe(&cmd).await?;
            let mut it = out.stdout.split(|&b| b == 0);
            while let Some(tag) = it.next() {
                match tag {
                    b"C" => {
                        if let Some(p) = it.next() {
                            matched.insert(text::decode(p));
                        }
                    }
                    b"S" => {
                        if let (Some(p), Some(h)) = (it.next(), it.next()) {
                            sums.insert(text::decode(p), text::decode(h));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok((grep.then_some(matched), sums))
    }
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        Ok(Plan::InSync {
            result: self.run(host).await?,
        })
    }

    async fn apply(&self, plan: Plan, _host: &dyn Host) -> Result<Applied, ModuleError> {
        let result = match plan {
            Plan::InSync { result } | Plan::Change { result, .. } => result,
            Plan::Unpredictable { .. } => Facts::new(),
        };
        Ok(Applied {
            result,
            ..Applied::default()
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_fnmatch() {
        let m = |g: &str, n: &str| glob_regex(g).unwrap().is_match(n);
        assert!(m("*.log", "a.log"));
        assert!(m("*.log", ".hidden.log"));
        assert!(!m("*.log", "a.log.1"));
        assert!(m("a?c", "abc"));
        assert!(m("[!x]*", "abc"));
        assert!(!m("[!a]*", "abc"));
        assert!(m("[a-c]x", "bx"));
        assert!(m("a[", "a["));
        assert!(m("a.b", "a.b") && !m("a.b", "axb"));
    }

    #[test]
    fn ages_and_sizes_parse_like_ansible() {
        assert_eq!(parse_age("2d"), Some(172_800));
        assert_eq!(parse_age("-1w"), Some(-604_800));
        assert_eq!(parse_age("30"), Some(30));
        assert_eq!(parse_age("3x"), None);
        assert_eq!(parse_size("10k"), Some(10_240));
        assert_eq!(parse_size("-1M"), Some(-1_048_576));
        assert_eq!(parse_size("k"), None);
    }

    #[test]
    fn parses_both_listing_formats() {
        let out = b"N\x00100\x00P\x00/d\x00/d\x00F\x00f|644|5|1.5|2|3|0|0|7|8|1|root|root\x00/d/a\x00P\x00/x\x00/x\x00E\x00'/x' is not a directory\x00P\x00/s\x00/s\x00S|81a4|5|1|2|3|0|0|7|8|1|root|wheel|/s/b c\n";
        let (now, l) = parse_listing(out);
        assert_eq!(now, 100.0);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].entries[0].path, "/d/a");
        assert_eq!(l[0].entries[0].mtime, 1.5);
        assert!(l[1].error.is_some());
        assert_eq!(l[2].entries[0].path, "/s/b c");
        assert_eq!(l[2].entries[0].mode, 0o644);
        assert_eq!(l[2].entries[0].kind, 'f');
    }

    #[test]
    fn reads_walk_errors() {
        let e = walk_errors(b"find: '/d/secret': Permission denied\n");
        assert_eq!(e["/d/secret"], "Permission denied");
    }
}
