//! The `stat` module: what is at a path, with Ansible's `stat` result keys
//! (`exists`, `mode`, `isdir`, `checksum`, `mimetype`, ...). One read-only
//! probe gathers the inode, the checksum and the MIME type; check is
//! always in sync.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::fs::{ChecksumAlgo, FileKind, FileStat, StatOpts};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `stat` module.
pub struct Stat;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(alias = "dest", alias = "name")]
    path: String,
    #[serde(default, deserialize_with = "params::opt_bool")]
    follow: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    get_checksum: Option<bool>,
    #[serde(
        default,
        alias = "checksum",
        alias = "checksum_algo",
        deserialize_with = "params::opt_string"
    )]
    checksum_algorithm: Option<String>,
    #[serde(
        default,
        alias = "mime",
        alias = "mime_type",
        alias = "mime-type",
        deserialize_with = "params::opt_bool"
    )]
    get_mime: Option<bool>,
    #[serde(
        default,
        alias = "attr",
        alias = "attributes",
        deserialize_with = "params::opt_bool"
    )]
    get_attributes: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    get_selinux_context: Option<bool>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "stat",
    short: "Report what is at a path on the target",
    description: "Looks at a path on the target and returns a `stat` dict: \
        `exists`, and for an existing path its type flags (`isreg`, `isdir`, \
        `islnk`, ...), mode, owner and group, size, times, inode, permission \
        bits, the checksum and the MIME type. It only reads, in one probe, and \
        never reports a change.",
    params: &[
        param("path", Kind::Path, "The path on the target to look at.")
            .required()
            .aliases(&["dest", "name"]),
        param(
            "follow",
            Kind::Bool,
            "When the path is a symlink, report on what it points at \
            instead of the link itself.",
        )
        .default("false"),
        param(
            "get_checksum",
            Kind::Bool,
            "Return the `checksum` of a regular file.",
        )
        .default("true"),
        param("checksum_algorithm", Kind::Str, "Hash used for `checksum`.")
            .default("sha1")
            .aliases(&["checksum", "checksum_algo"])
            .choices(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]),
        param(
            "get_mime",
            Kind::Bool,
            "Return `mimetype` and `charset`, as the `file` command reports \
            them.",
        )
        .default("true")
        .aliases(&["mime", "mime_type", "mime-type"]),
        param(
            "get_attributes",
            Kind::Bool,
            "Accepted for compatibility; file attributes are not reported.",
        )
        .aliases(&["attr", "attributes"]),
        param(
            "get_selinux_context",
            Kind::Bool,
            "Accepted for compatibility; the SELinux context is not reported.",
        ),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Look at the application's configuration
  ansible.builtin.stat:
    path: /etc/app/app.conf
    checksum_algorithm: sha256
  register: app_conf

- name: Create it from the example when it is missing
  ansible.builtin.copy:
    src: /etc/app/app.conf.example
    dest: /etc/app/app.conf
    remote_src: true
  when: not app_conf.stat.exists
",
    open: false,
    fields: params::fields::<Params>,
};

struct Task {
    path: String,
    opts: StatOpts,
}

impl Module for Stat {
    fn name(&self) -> &'static str {
        "stat"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let _ = (p.get_attributes, p.get_selinux_context);
        let algo = match p.checksum_algorithm.as_deref() {
            None => ChecksumAlgo::Sha1,
            Some(a) => ChecksumAlgo::parse(a).ok_or_else(|| {
                ParamError::at(
                    "checksum_algorithm",
                    format!(
                        "value of checksum_algorithm must be one of: md5, sha1, sha224, sha256, sha384, sha512, got: {a}"
                    ),
                )
            })?,
        };
        Ok(Box::new(Task {
            path: p.path,
            opts: StatOpts {
                follow: p.follow.unwrap_or(false),
                checksum: p.get_checksum.unwrap_or(true).then_some(algo),
                mime: p.get_mime.unwrap_or(true),
                content_limit: None,
            },
        }))
    }
}

/// Ansible's `stat` dict for an existing path.
pub fn stat_dict(path: &str, st: &FileStat) -> Map<String, Value> {
    let m = st.mode;
    let k = st.kind();
    let mut d = Map::new();
    d.insert("exists".into(), json!(true));
    d.insert("path".into(), json!(path));
    // stat's own `'%04o'` (`1444`), unlike the file modules' `'0%03o'`.
    d.insert("mode".into(), json!(format!("{:04o}", m & 0o7777)));
    d.insert("isdir".into(), json!(k == FileKind::Directory));
    d.insert("ischr".into(), json!(k == FileKind::Char));
    d.insert("isblk".into(), json!(k == FileKind::Block));
    d.insert("isreg".into(), json!(k == FileKind::File));
    d.insert("isfifo".into(), json!(k == FileKind::Fifo));
    d.insert("islnk".into(), json!(k == FileKind::Link));
    d.insert("issock".into(), json!(k == FileKind::Socket));
    d.insert("uid".into(), json!(st.uid));
    d.insert("gid".into(), json!(st.gid));
    d.insert("size".into(), json!(st.size));
    d.insert("inode".into(), json!(st.inode));
    d.insert("dev".into(), json!(st.dev));
    d.insert("nlink".into(), json!(st.nlink));
    d.insert("atime".into(), json!(st.atime));
    d.insert("mtime".into(), json!(st.mtime));
    d.insert("ctime".into(), json!(st.ctime));
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
        d.insert(key.into(), json!(m & bit != 0));
    }
    d.insert("blocks".into(), json!(st.size.div_ceil(512)));
    d.insert("block_size".into(), json!(4096));
    d.insert("device_type".into(), json!(0));
    d.insert("readable".into(), json!(st.readable));
    d.insert("writeable".into(), json!(st.writeable));
    d.insert("executable".into(), json!(st.executable));
    d.insert("pw_name".into(), json!(st.owner));
    d.insert("gr_name".into(), json!(st.group));
    if k == FileKind::Link {
        d.insert("lnk_source".into(), json!(st.lnk_source));
        d.insert("lnk_target".into(), json!(st.lnk_target));
    }
    if let Some(c) = &st.checksum {
        d.insert("checksum".into(), json!(c));
    }
    if let Some(mt) = &st.mimetype {
        d.insert("mimetype".into(), json!(mt));
        d.insert(
            "charset".into(),
            json!(st.charset.clone().unwrap_or_default()),
        );
    }
    d
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let st = host.stat(&self.path, &self.opts).await?;
        let dict = match &st {
            Some(s) => stat_dict(&self.path, s),
            None => {
                let mut d = Map::new();
                d.insert("exists".into(), json!(false));
                d
            }
        };
        let mut result = Facts::new();
        result.insert("stat".into(), Value::Object(dict));
        Ok(Plan::InSync { result })
    }

    async fn apply(&self, _plan: Plan, _host: &dyn Host) -> Result<Applied, ModuleError> {
        Ok(Applied::default())
    }
}
