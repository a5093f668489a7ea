//! The `tempfile` module: creates a uniquely named temporary file or
//! directory on the host (`mkdir`, or `set -C` for an exclusive create,
//! with a random name), mode 0600/0700, and returns its `path`. It always
//! changes the host, so check mode skips it, as Ansible does.

use serde::Deserialize;
use serde_json::json;

use crate::cmd::Cmd;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::net;
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `tempfile` module.
pub struct Tempfile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_string")]
    path: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    prefix: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    suffix: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "tempfile",
    short: "Create a temporary file or directory on the target",
    description: "Creates a new, uniquely named file (mode 0600) or directory \
        (mode 0700) on the target and returns its `path`. Each run creates a \
        new one and reports a change; nothing removes it afterwards, so \
        delete it with `file` when done.",
    params: &[
        param(
            "path",
            Kind::Path,
            "Directory to create it in; without it, `$TMPDIR` on the target, \
            or `/tmp`.",
        ),
        param("prefix", Kind::Str, "Start of the name (no `/`).").default("ansible."),
        param(
            "state",
            Kind::Str,
            "Whether to create a file or a directory.",
        )
        .default("file")
        .choices(&["file", "directory"]),
        param(
            "suffix",
            Kind::Str,
            "End of the name (no `/`); none without it.",
        ),
    ],
    check: Support::None,
    diff: Support::None,
    example: "- name: Make a scratch directory for the build
  ansible.builtin.tempfile:
    state: directory
    suffix: .build
  register: build_dir

- name: Unpack the sources into it
  ansible.builtin.unarchive:
    src: app-src.tar.gz
    dest: \"{{ build_dir.path }}\"
",
    open: false,
    fields: params::fields::<Params>,
};

struct Prepped {
    dir: String,
    prefix: String,
    suffix: String,
    directory: bool,
}

/// `$1` directory (empty: `$TMPDIR` or `/tmp`), `$2` prefix, `$3` suffix,
/// `$4` `directory` or `file`. Prints `path=` and the attributes.
const SCRIPT: &str = r#"dir=${1:-${TMPDIR:-/tmp}} prefix=$2 suffix=$3 kind=$4
case $dir in "~"|"~/"*) dir="$HOME${dir#?}";; esac
[ -d "$dir" ] || { printf '[Errno 2] No such file or directory: %s\n' "$dir" >&2; exit 1; }
umask 077
i=0
while [ "$i" -lt 100 ]; do
  r=$(od -An -N6 -tx1 /dev/urandom 2>/dev/null | tr -d ' \n')
  [ -n "$r" ] || r="$$$i"
  p="${dir%/}/$prefix$r$suffix"
  if [ "$kind" = directory ]; then
    if mkdir -- "$p" 2>/dev/null; then break; fi
  elif (set -C; : > "$p") 2>/dev/null; then break; fi
  [ -w "$dir" ] || { printf '[Errno 13] Permission denied: %s\n' "$p" >&2; exit 1; }
  i=$((i + 1)); p=
done
[ -n "$p" ] || { echo "cannot create a temporary $kind in $dir" >&2; exit 1; }
printf 'path=%s\n' "$p"
tutti_stat "$p"
"#;

impl Module for Tempfile {
    fn name(&self) -> &'static str {
        "tempfile"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let directory = match p.state.as_deref().unwrap_or("file") {
            "file" => false,
            "directory" => true,
            other => {
                return Err(ParamError::at(
                    "state",
                    format!("value of state must be one of: file, directory, got: {other}"),
                ));
            }
        };
        let prefix = p.prefix.unwrap_or_else(|| "ansible.".into());
        let suffix = p.suffix.unwrap_or_default();
        if prefix.contains('/') || suffix.contains('/') {
            return Err(ParamError::new("prefix and suffix must not contain '/'"));
        }
        Ok(Box::new(Prepped {
            dir: p.path.unwrap_or_default(),
            prefix,
            suffix,
            directory,
        }))
    }
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, _host: &dyn HostRead) -> Result<Plan, ModuleError> {
        Ok(Plan::Unpredictable {
            reason: "remote module (tempfile) does not support check mode".into(),
        })
    }

    async fn apply(&self, _plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let kind = if self.directory { "directory" } else { "file" };
        let cmd: Cmd = net::script(SCRIPT)
            .arg(self.dir.clone())
            .arg(self.prefix.clone())
            .arg(self.suffix.clone())
            .arg(kind);
        let out = host.run(&cmd).await?;
        if !out.success() {
            let e = text::decode(&out.stderr);
            return Err(ModuleError::failed(format!(
                "failed to create temporary {kind}: {}",
                e.trim()
            )));
        }
        let keys = net::kv(&out.stdout);
        let Some(path) = keys.get("path") else {
            return Err(ModuleError::failed("tempfile: no path reported"));
        };
        let mut r = Facts::new();
        r.insert("changed".into(), json!(true));
        r.insert("path".into(), json!(path));
        net::path_info(&mut r, &keys, kind);
        Ok(Applied {
            changed: true,
            result: r,
            ..Applied::default()
        })
    }
}
