//! The `fetch` module: copies a file from the host to the controller,
//! under `dest/<inventory_hostname>/<src>` (or `dest` itself with `flat`).
//! `check` compares the host's SHA-1 (one probe) with the controller
//! file's; `apply` streams the file with `cat` into a temp file next to
//! the destination, verifies the checksum, and renames it into place.
//!
//! The engine resolves `dest` to an absolute controller path and passes
//! the host's name as `_inventory_hostname`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::cmd::Cmd;
use crate::files2::{basename, normpath, rand_suffix, sha1_file};
use crate::fs::{ChecksumAlgo, StatOpts};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `fetch` module.
pub struct Fetch;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(
        rename = "_inventory_hostname",
        default,
        deserialize_with = "params::opt_string"
    )]
    inventory_hostname: Option<String>,
    #[serde(deserialize_with = "params::opt_string")]
    dest: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    fail_on_missing: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    flat: Option<bool>,
    #[serde(deserialize_with = "params::opt_string")]
    src: Option<String>,
    #[serde(default, alias = "validate_md5", deserialize_with = "params::opt_bool")]
    validate_checksum: Option<bool>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "fetch",
    short: "Copy a file from the target to the controller",
    description: "Downloads a file from the target into a directory on the \
        controller, by default under `dest/<inventory hostname>/<full source \
        path>` so that files from many hosts do not collide. The target's \
        SHA-1 is compared with the controller copy first and the file is only \
        transferred when they differ; it is written to a temporary file, \
        checked, and renamed into place.",
    params: &[
        param(
            "_inventory_hostname",
            Kind::Str,
            "Set by the engine: the host's inventory name.",
        ),
        param(
            "dest",
            Kind::Path,
            "Controller directory to store the file under (relative paths \
            resolve from the playbook's directory); with `flat`, the \
            destination file itself, or a directory when it ends in `/`.",
        )
        .required(),
        param(
            "fail_on_missing",
            Kind::Bool,
            "Fail when the source is missing, a directory or unreadable; with \
            `false` the task reports it and goes on.",
        )
        .default("true"),
        param(
            "flat",
            Kind::Bool,
            "Put the file at `dest` as given instead of under the host name \
            and source path.",
        )
        .default("false"),
        param(
            "src",
            Kind::Path,
            "The file on the target to fetch (a leading `~` is the remote \
            user's home); directories are not supported.",
        )
        .required(),
        param(
            "validate_checksum",
            Kind::Bool,
            "Check the downloaded file's SHA-1 against the target's and fail \
            on a mismatch.",
        )
        .default("true")
        .aliases(&["validate_md5"]),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Collect the nginx configuration of every web server
  ansible.builtin.fetch:
    src: /etc/nginx/nginx.conf
    dest: collected/

- name: Fetch the CA certificate to a fixed place
  ansible.builtin.fetch:
    src: /etc/pki/ca/ca.crt
    dest: files/ca.crt
    flat: true
",
    open: false,
    fields: params::fields::<Params>,
};

struct Prepped {
    src: String,
    dest: String,
    flat: bool,
    host_name: String,
    fail_on_missing: bool,
    validate_checksum: bool,
}

impl Module for Fetch {
    fn name(&self) -> &'static str {
        "fetch"
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
            return Err(ParamError::new("src and dest are required"));
        };
        let flat = p.flat.unwrap_or(false);
        let host_name = p.inventory_hostname.unwrap_or_default();
        if !flat && host_name.is_empty() {
            return Err(ParamError::at(
                "_inventory_hostname",
                "fetch needs the inventory hostname (passed by the engine)",
            ));
        }
        Ok(Box::new(Prepped {
            src,
            dest,
            flat,
            host_name,
            fail_on_missing: p.fail_on_missing.unwrap_or(true),
            validate_checksum: p.validate_checksum.unwrap_or(true),
        }))
    }
}

impl Prepped {
    /// The remote path with a leading `~` expanded (one extra probe, only
    /// then), normalized.
    async fn source(&self, host: &dyn HostRead) -> Result<String, ModuleError> {
        let src = &self.src;
        let expanded = match src.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                let out = host.probe(&Cmd::script("printf '%s' \"$HOME\"")).await?;
                format!("{}{rest}", text::decode(&out.stdout))
            }
            _ => src.clone(),
        };
        Ok(normpath(&expanded))
    }

    /// Where the file goes on the controller, as Ansible computes it.
    fn destination(&self, source: &str) -> Result<PathBuf, ModuleError> {
        if self.flat {
            if self.dest.ends_with('/') {
                return Ok(PathBuf::from(normpath(&format!(
                    "{}{}",
                    self.dest,
                    basename(source)
                ))));
            }
            if Path::new(&self.dest).is_dir() {
                return Err(ModuleError::failed(
                    "dest is an existing directory, use a trailing slash if you want to fetch \
                     src into that directory",
                ));
            }
            return Ok(PathBuf::from(normpath(&self.dest)));
        }
        Ok(PathBuf::from(normpath(&format!(
            "{}/{}/{}",
            self.dest, self.host_name, source
        ))))
    }

    fn not_fetched(&self, source: &str, msg: &str) -> Result<Plan, ModuleError> {
        let mut r = Facts::new();
        r.insert("file".into(), json!(source));
        if self.fail_on_missing {
            return Err(ModuleError::Failed {
                msg: msg.to_string(),
                result: r,
            });
        }
        let msg = format!("{msg}, not transferring, ignored");
        r.insert("changed".into(), json!(false));
        r.insert("msg".into(), json!(msg));
        Ok(Plan::InSync { result: r })
    }
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let source = self.source(host).await?;
        let opts = StatOpts::follow().with_checksum(ChecksumAlgo::Sha1);
        let Some(st) = host.stat(&source, &opts).await? else {
            return self.not_fetched(&source, "the remote file does not exist");
        };
        if st.is_dir() {
            return self.not_fetched(
                &source,
                "remote file is a directory, fetch cannot work on directories",
            );
        }
        let Some(remote) = st.checksum.clone() else {
            return self.not_fetched(&source, "no read permission on remote file");
        };
        let dest = self.destination(&source)?;
        let local = sha1_file(&dest)
            .map_err(|e| ModuleError::failed(format!("cannot read {}: {e}", dest.display())))?;
        let mut r = Facts::new();
        r.insert("file".into(), json!(source));
        r.insert("dest".into(), json!(dest.to_string_lossy()));
        if local.as_deref() == Some(remote.as_str()) {
            r.insert("changed".into(), json!(false));
            r.insert("checksum".into(), json!(remote));
            return Ok(Plan::InSync { result: r });
        }
        r.insert("changed".into(), json!(true));
        r.insert("remote_checksum".into(), json!(remote));
        r.insert("remote_md5sum".into(), Value::Null);
        Ok(Plan::Change {
            changes: vec![format!("fetch {source} to {}", dest.display())],
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
            Plan::Change { result, .. } => result,
            Plan::Unpredictable { .. } => Facts::new(),
        };
        let str_key = |k: &str| planned.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(source), Some(dest), Some(remote)) =
            (str_key("file"), str_key("dest"), str_key("remote_checksum"))
        else {
            return Err(ModuleError::failed(
                "fetch: apply without a plan from check",
            ));
        };
        let dest = PathBuf::from(dest);
        let dir = dest.parent().unwrap_or(Path::new("/")).to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| ModuleError::failed(format!("cannot create {}: {e}", dir.display())))?;
        let tmp = dir.join(format!(
            ".{}.tutti-fetch.{}",
            dest.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            rand_suffix()
        ));
        let result = download(host, &source, &tmp).await;
        let fail = |msg: String| {
            let _ = std::fs::remove_file(&tmp);
            ModuleError::failed(msg)
        };
        if let Err(e) = result {
            return Err(fail(e));
        }
        let new = match sha1_file(&tmp) {
            Ok(Some(s)) => s,
            Ok(None) => return Err(fail(format!("{} vanished", tmp.display()))),
            Err(e) => return Err(fail(format!("cannot read {}: {e}", tmp.display()))),
        };
        let mut r = Facts::new();
        if self.validate_checksum && new != remote {
            let _ = std::fs::remove_file(&tmp);
            r.insert("file".into(), json!(source));
            r.insert("dest".into(), json!(dest.to_string_lossy()));
            r.insert("remote_md5sum".into(), Value::Null);
            r.insert("checksum".into(), json!(new));
            r.insert("remote_checksum".into(), json!(remote));
            r.insert("msg".into(), json!("checksum mismatch"));
            return Ok(Applied {
                changed: false,
                failed: true,
                msg: Some("checksum mismatch".into()),
                result: r,
                diff: Vec::new(),
            });
        }
        std::fs::rename(&tmp, &dest).map_err(|e| {
            fail(format!(
                "cannot move {} to {}: {e}",
                tmp.display(),
                dest.display()
            ))
        })?;
        r.insert("changed".into(), json!(true));
        r.insert("dest".into(), json!(dest.to_string_lossy()));
        r.insert("remote_md5sum".into(), Value::Null);
        r.insert("checksum".into(), json!(new));
        r.insert("remote_checksum".into(), json!(remote));
        Ok(Applied {
            changed: true,
            result: r,
            ..Applied::default()
        })
    }
}

/// Streams the host file `source` into the controller file `tmp`.
async fn download(host: &dyn Host, source: &str, tmp: &Path) -> Result<(), String> {
    let cmd = Cmd::new("cat").arg("--").arg(source).stdout_file(tmp);
    let out = host.run(&cmd).await.map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!(
            "failed to fetch {source}: {}",
            text::decode(&out.stderr).trim()
        ));
    }
    // A connection that cannot stream hands the bytes back instead.
    if !out.stdout.is_empty() {
        std::fs::write(tmp, &out.stdout)
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    } else if !tmp.exists() {
        std::fs::write(tmp, b"").map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    }
    Ok(())
}
