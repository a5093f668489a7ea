//! The `get_url` module: downloads a URL to a file on the target with
//! `curl` (or `wget`), into a temp file next to the destination, verifies
//! an optional `checksum`, and replaces the destination only when the
//! content differs. With `force: false` an existing file is left alone
//! (unless a given checksum does not match), so repeated runs do not
//! download again.

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::net::http::{self, Request};
use crate::net::{self, FileAttrs, InstallError, Kind};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{self, ModuleSpec, Support, param};

/// The `get_url` module.
pub struct GetUrl;

/// Parameters, sorted by name. Some are accepted for compatibility and
/// have no effect (SELinux context, `ciphers`, `use_gssapi`, ...).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_string")]
    attributes: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    backup: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    checksum: Option<String>,
    #[serde(default, deserialize_with = "params::opt_list")]
    ciphers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    client_cert: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    client_key: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    decompress: Option<bool>,
    #[serde(deserialize_with = "params::opt_string")]
    dest: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    force_basic_auth: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    group: Option<String>,
    #[serde(default, deserialize_with = "net::opt_headers")]
    headers: Vec<(String, String)>,
    #[serde(default, deserialize_with = "params::opt_string")]
    http_agent: Option<String>,
    #[serde(default, deserialize_with = "net::opt_mode")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    selevel: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    serole: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    setype: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    seuser: Option<String>,
    #[serde(default)]
    timeout: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_string")]
    tmp_dest: Option<String>,
    #[serde(default, deserialize_with = "params::opt_list")]
    unredirected_headers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    unsafe_writes: Option<bool>,
    #[serde(deserialize_with = "params::opt_string")]
    url: Option<String>,
    #[serde(default, alias = "password", deserialize_with = "params::opt_string")]
    url_password: Option<String>,
    #[serde(default, alias = "username", deserialize_with = "params::opt_string")]
    url_username: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    use_gssapi: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    use_netrc: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    use_proxy: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    validate_certs: Option<bool>,
}

const SELINUX: &str = "Accepted for compatibility; SELinux contexts are not managed.";

const SPEC: ModuleSpec = ModuleSpec {
    name: "get_url",
    short: "Download a file from a URL onto the target",
    description: "Downloads a URL on the target itself (with `curl`, or `wget` when \
        curl is missing) into a temporary file beside `dest`, verifies `checksum` \
        when given, and moves the file into place only when its content differs \
        from what is there. An existing `dest` is not downloaded again unless \
        `force` is set or it fails the given checksum, so repeated runs are cheap; \
        `mode`, `owner` and `group` are still corrected on an existing file.",
    params: &[
        param(
            "attributes",
            spec::Kind::Str,
            "Accepted for compatibility; file attributes are not managed.",
        ),
        param(
            "backup",
            spec::Kind::Bool,
            "Keep a timestamped copy of the file being replaced beside it.",
        )
        .default("false"),
        param(
            "checksum",
            spec::Kind::Str,
            "Expected digest as `<algorithm>:<hex>` (md5, sha1, sha224, sha256, \
            sha384 or sha512). An existing `dest` with this digest is left alone; \
            a download that does not match fails the task and is discarded.",
        ),
        param(
            "ciphers",
            spec::Kind::List,
            "Accepted for compatibility; has no effect (curl's defaults are used).",
        ),
        param(
            "client_cert",
            spec::Kind::Path,
            "Client certificate (PEM) on the target, for TLS client authentication.",
        ),
        param(
            "client_key",
            spec::Kind::Path,
            "Private key on the target for `client_cert`, when the certificate \
            file does not contain it.",
        ),
        param(
            "decompress",
            spec::Kind::Bool,
            "Accepted for compatibility; has no effect (compression is not \
            requested, the body is saved as received).",
        ),
        param(
            "dest",
            spec::Kind::Path,
            "Where to save the file on the target. When it is an existing \
            directory, the file is named after the server's `Content-Disposition` \
            or the URL, and is downloaded every time to compare.",
        )
        .required(),
        param(
            "force",
            spec::Kind::Bool,
            "Download again even when `dest` exists, replacing it if the content \
            differs; with `false` an existing file is only replaced when it fails \
            `checksum`.",
        )
        .default("false"),
        param(
            "force_basic_auth",
            spec::Kind::Bool,
            "Accepted for compatibility; credentials are always sent with the \
            first request.",
        ),
        param("group", spec::Kind::Str, "Group that should own the file."),
        param(
            "headers",
            spec::Kind::Dict,
            "Extra request headers, as a mapping of name to value.",
        ),
        param(
            "http_agent",
            spec::Kind::Str,
            "The `User-Agent` header sent.",
        )
        .default("ansible-httpget"),
        param(
            "mode",
            spec::Kind::Raw,
            "Permissions of the file: octal (`'0644'`) or symbolic (`u=rw,g=r`).",
        ),
        param("owner", spec::Kind::Str, "User that should own the file."),
        param("selevel", spec::Kind::Str, SELINUX),
        param("serole", spec::Kind::Str, SELINUX),
        param("setype", spec::Kind::Str, SELINUX),
        param("seuser", spec::Kind::Str, SELINUX),
        param(
            "timeout",
            spec::Kind::Float,
            "Seconds allowed to connect, and without receiving data, before \
            the download is abandoned (rounded up to whole seconds).",
        )
        .default("10"),
        param(
            "tmp_dest",
            spec::Kind::Path,
            "Directory on the target for the temporary download, instead of \
            `dest`'s directory.",
        ),
        param(
            "unredirected_headers",
            spec::Kind::List,
            "Accepted for compatibility; has no effect (`headers` are sent on \
            redirects too).",
        ),
        param(
            "unsafe_writes",
            spec::Kind::Bool,
            "Accepted for compatibility; the file is always replaced atomically.",
        ),
        param(
            "url",
            spec::Kind::Str,
            "The URL to download (HTTP or HTTPS).",
        )
        .required(),
        param(
            "url_password",
            spec::Kind::Str,
            "Password for HTTP basic authentication (needs curl on the target).",
        )
        .aliases(&["password"]),
        param(
            "url_username",
            spec::Kind::Str,
            "User name for HTTP basic authentication (needs curl on the target).",
        )
        .aliases(&["username"]),
        param(
            "use_gssapi",
            spec::Kind::Bool,
            "Accepted for compatibility; GSSAPI authentication is not supported.",
        ),
        param(
            "use_netrc",
            spec::Kind::Bool,
            "Accepted for compatibility; `~/.netrc` is not read.",
        ),
        param(
            "use_proxy",
            spec::Kind::Bool,
            "Honour the proxy environment variables on the target; with `false` \
            every host is reached directly.",
        )
        .default("true"),
        param(
            "validate_certs",
            spec::Kind::Bool,
            "Verify the server's TLS certificate.",
        )
        .default("true"),
    ],
    check: Support::Partial(
        "when `dest` is a directory or `force` is set, whether the content \
        would change cannot be known without downloading",
    ),
    diff: Support::None,
    example: "- name: Fetch a release tarball, verified
  ansible.builtin.get_url:
    url: https://example.com/releases/app-1.4.2.tar.gz
    dest: /opt/downloads/app-1.4.2.tar.gz
    checksum: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    mode: '0644'

- name: Download a configuration file behind basic auth, every run
  ansible.builtin.get_url:
    url: https://config.example.com/app.conf
    dest: /etc/app/app.conf
    url_username: deploy
    url_password: \"{{ config_password }}\"
    force: true
    headers:
      Accept: text/plain
",
    open: false,
    fields: params::fields::<Params>,
};

/// Algorithms `checksum` may name.
const ALGOS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

struct Prepped {
    req: Request,
    dest: String,
    tmp_dest: Option<String>,
    force: bool,
    backup: bool,
    /// `(algorithm, lowercase hex)`, and the parameter as given.
    checksum: Option<(String, String, String)>,
    attrs: FileAttrs,
}

/// Parses a timeout that may arrive as a number or a string.
pub(crate) fn timeout(v: Option<Value>, default: u64) -> Result<u64, ParamError> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| *f >= 0.0)
            .map(|f| f.ceil() as u64)
            .ok_or_else(|| ParamError::at("timeout", format!("invalid timeout {n}"))),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0)
            .map(|f| f.ceil() as u64)
            .ok_or_else(|| ParamError::at("timeout", format!("invalid timeout '{s}'"))),
        Some(other) => Err(ParamError::at(
            "timeout",
            format!("invalid timeout {other}"),
        )),
    }
}

fn parse_checksum(s: &str) -> Result<(String, String), ParamError> {
    let Some((algo, hex)) = s.split_once(':') else {
        return Err(ParamError::at(
            "checksum",
            "The checksum parameter has to be in format <algorithm>:<checksum>",
        ));
    };
    let algo = algo.trim().to_ascii_lowercase();
    if hex.contains("://") {
        return Err(ParamError::at(
            "checksum",
            "a checksum given as a URL is not supported; give <algorithm>:<hex digest>",
        ));
    }
    if !ALGOS.contains(&algo.as_str()) {
        return Err(ParamError::at(
            "checksum",
            format!(
                "unsupported checksum algorithm '{algo}' (one of {})",
                ALGOS.join(", ")
            ),
        ));
    }
    // Ansible drops anything that is not a word character (a stray
    // zero-width space), then requires hex.
    let hex: String = hex
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ParamError::at("checksum", "The checksum format is invalid"));
    }
    Ok((algo, hex))
}

impl Module for GetUrl {
    fn name(&self) -> &'static str {
        "get_url"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let url = p
            .url
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ParamError::at("url", "missing required arguments: url"))?;
        let dest = p
            .dest
            .filter(|d| !d.is_empty())
            .ok_or_else(|| ParamError::at("dest", "missing required arguments: dest"))?;
        let checksum = match p.checksum.filter(|c| !c.is_empty()) {
            Some(c) => {
                let (a, h) = parse_checksum(&c)?;
                Some((a, h, c))
            }
            None => None,
        };
        let req = Request {
            url,
            method: "GET".into(),
            headers: p.headers,
            body: None,
            username: p.url_username.filter(|u| !u.is_empty()),
            password: p.url_password,
            validate_certs: p.validate_certs.unwrap_or(true),
            use_proxy: p.use_proxy.unwrap_or(true),
            timeout: timeout(p.timeout, 10)?,
            total_timeout: false,
            follow_redirects: true,
            agent: p
                .http_agent
                .unwrap_or_else(|| http::DEFAULT_AGENT.to_string()),
            ca_path: None,
            client_cert: p.client_cert,
            client_key: p.client_key,
            unix_socket: None,
        };
        Ok(Box::new(Prepped {
            req,
            dest,
            tmp_dest: p.tmp_dest.filter(|t| !t.is_empty()),
            force: p.force.unwrap_or(false),
            backup: p.backup.unwrap_or(false),
            checksum,
            attrs: FileAttrs {
                mode: p.mode,
                owner: p.owner.filter(|o| !o.is_empty()),
                group: p.group.filter(|g| !g.is_empty()),
            },
        }))
    }
}

const DOWNLOAD: &str = "download";
const ATTRS: &str = "set attributes";

impl Prepped {
    fn base(&self) -> Facts {
        let mut r = Facts::new();
        r.insert("url".into(), json!(self.req.url));
        r.insert("dest".into(), json!(self.dest));
        r.insert("elapsed".into(), json!(0));
        r
    }

    fn in_sync(&self, probed: &net::Probed) -> Plan {
        let mut r = self.base();
        r.insert("changed".into(), json!(false));
        r.insert("msg".into(), json!("file already exists"));
        if let Some(s) = probed.get("sha1") {
            r.insert("checksum_dest".into(), json!(s));
        }
        net::path_info(&mut r, &probed.keys, "file");
        Plan::InSync { result: r }
    }

    async fn download(&self, host: &dyn Host) -> Result<Applied, ModuleError> {
        let dest_probe = net::probe_path(host, &self.dest, None).await?;
        let dest_dir = if dest_probe.kind == Kind::Directory {
            self.dest.clone()
        } else {
            net::dirname(&self.dest)
        };
        let tmp_dir = self.tmp_dest.clone().unwrap_or_else(|| dest_dir.clone());
        let mut cmd = net::script(http::DOWNLOAD_SCRIPT)
            .arg(tmp_dir)
            .arg(self.req.url.clone())
            .arg(self.req.timeout.to_string())
            .arg(if self.req.validate_certs { "0" } else { "1" })
            .arg(self.req.agent.clone())
            .arg(if self.req.username.is_some() {
                "1"
            } else {
                "0"
            });
        for (k, v) in &self.req.headers {
            cmd = cmd.arg(format!("--header={k}: {v}"));
        }
        let cmd = cmd.stdin(self.req.curl_config());
        let started = Instant::now();
        let out = host.run(&cmd).await?;
        let elapsed = started.elapsed().as_secs();
        let (tmp, curl_out) = http::split_download(&out);
        let mut r = self.base();
        r.insert("elapsed".into(), json!(elapsed));
        let Some(tmp) = tmp else {
            return Err(net::failed_output(&out, &self.dest));
        };
        let resp = match http::parse_curl(&curl_out, false) {
            Ok(resp) => resp,
            Err(e) => {
                net::remove_quietly(host, &tmp).await;
                r.insert("status_code".into(), json!(-1));
                return Ok(failed(r, e.msg));
            }
        };
        if resp.status != 200 {
            net::remove_quietly(host, &tmp).await;
            r.insert("status_code".into(), json!(resp.status));
            r.insert("response".into(), json!(resp.msg()));
            return Ok(failed(r, "Request failed".into()));
        }
        let dest = if dest_probe.kind == Kind::Directory {
            let name = resp
                .header("content-disposition")
                .and_then(|v| http::disposition_filename(&v))
                .unwrap_or_else(|| http::url_filename(&resp.url));
            net::join(&self.dest, &name)
        } else {
            self.dest.clone()
        };
        r.insert("dest".into(), json!(dest));
        r.insert("src".into(), json!(tmp));
        let expect = self
            .checksum
            .as_ref()
            .map(|(a, h, _)| (a.as_str(), h.as_str()));
        let installed =
            match net::install(host, &tmp, &dest, expect, &self.attrs, self.backup).await {
                Ok(i) => i,
                Err(InstallError::Mismatch { actual }) => {
                    let given = self.checksum.as_ref().map(|c| c.2.as_str()).unwrap_or("");
                    let given = given.split_once(':').map(|(_, h)| h).unwrap_or(given);
                    return Ok(failed(
                        r,
                        format!("The checksum for {dest} did not match {given}; it was {actual}."),
                    ));
                }
                Err(InstallError::Module(e)) => {
                    net::remove_quietly(host, &tmp).await;
                    return Err(e);
                }
            };
        let k = &installed.keys;
        r.insert(
            "checksum_src".into(),
            json!(k.get("checksum_src").cloned().unwrap_or_default()),
        );
        r.insert(
            "checksum_dest".into(),
            k.get("checksum_dest")
                .map(|s| json!(s))
                .unwrap_or(Value::Null),
        );
        if let Some(b) = k.get("backup_file") {
            r.insert("backup_file".into(), json!(b));
        }
        net::path_info(&mut r, k, "file");
        r.insert("status_code".into(), json!(resp.status));
        r.insert("msg".into(), json!(resp.msg()));
        r.insert("changed".into(), json!(installed.changed));
        Ok(Applied {
            changed: installed.changed,
            failed: false,
            msg: Some(resp.msg()),
            result: r,
            diff: Vec::new(),
        })
    }

    async fn set_attrs(&self, host: &dyn Host) -> Result<Applied, ModuleError> {
        let cmd = net::script(ATTRS_SCRIPT)
            .arg(self.dest.clone())
            .arg(self.attrs.mode.clone().unwrap_or_default())
            .arg(self.attrs.owner.clone().unwrap_or_default())
            .arg(self.attrs.group.clone().unwrap_or_default());
        let out = host.run(&cmd).await?;
        if !out.success() {
            return Err(net::failed_output(&out, &self.dest));
        }
        let keys = net::kv(&out.stdout);
        let changed = keys.get("changed").is_some_and(|c| c == "1");
        let mut r = self.base();
        r.insert("changed".into(), json!(changed));
        let msg = "file already exists but file attributes changed";
        r.insert("msg".into(), json!(msg));
        net::path_info(&mut r, &keys, "file");
        Ok(Applied {
            changed,
            failed: false,
            msg: Some(msg.into()),
            result: r,
            diff: Vec::new(),
        })
    }
}

/// `$1` path, `$2` mode, `$3` owner, `$4` group: sets what is given and
/// prints `changed=1` when something changed, then the attributes.
const ATTRS_SCRIPT: &str = r#"d=$1 mode=$2 owner=$3 group=$4
before=$(stat -c '%a %u %g' -- "$d") || exit 1
if [ -n "$mode" ]; then chmod -- "$mode" "$d" || exit 1; fi
if [ -n "$owner" ]; then chown -- "$owner" "$d" || exit 1; fi
if [ -n "$group" ]; then chgrp -- "$group" "$d" || exit 1; fi
[ "$before" = "$(stat -c '%a %u %g' -- "$d")" ] || echo changed=1
tutti_stat "$d"
"#;

fn failed(mut r: Facts, msg: String) -> Applied {
    r.insert("msg".into(), json!(msg));
    r.insert("changed".into(), json!(false));
    Applied {
        changed: false,
        failed: true,
        msg: Some(msg),
        result: r,
        diff: Vec::new(),
    }
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let algo = self.checksum.as_ref().map(|(a, _, _)| a.as_str());
        let probed = net::probe_path(host, &self.dest, algo).await?;
        let download = |why: String| Plan::Change {
            changes: vec![format!(
                "{DOWNLOAD} {} to {}: {why}",
                self.req.url, self.dest
            )],
            diff: Vec::new(),
            result: {
                let mut r = self.base();
                r.insert("changed".into(), json!(true));
                r
            },
        };
        match probed.kind {
            Kind::Absent => Ok(download("the file does not exist".into())),
            Kind::Directory => Ok(Plan::Unpredictable {
                reason: format!(
                    "would download {} into the directory {} and compare",
                    self.req.url, self.dest
                ),
            }),
            Kind::File => {
                if probed.get("readable") == Some("0") {
                    return Err(ModuleError::failed(format!(
                        "Destination {} is not readable",
                        self.dest
                    )));
                }
                let mismatch = self
                    .checksum
                    .as_ref()
                    .is_some_and(|(_, want, _)| probed.get("digest") != Some(want.as_str()));
                if mismatch {
                    return Ok(download("the checksum does not match".into()));
                }
                if self.force {
                    return Ok(Plan::Unpredictable {
                        reason: format!(
                            "would download {} again (force) and compare",
                            self.req.url
                        ),
                    });
                }
                if self.attrs.differ(&probed) {
                    let mut r = self.base();
                    r.insert("changed".into(), json!(true));
                    r.insert(
                        "msg".into(),
                        json!("file already exists but file attributes changed"),
                    );
                    return Ok(Plan::Change {
                        changes: vec![format!("{ATTRS} of {}", self.dest)],
                        diff: Vec::new(),
                        result: r,
                    });
                }
                Ok(self.in_sync(&probed))
            }
        }
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        match plan {
            Plan::InSync { result } => Ok(Applied {
                result,
                ..Applied::default()
            }),
            Plan::Change { changes, .. }
                if changes.first().is_some_and(|c| c.starts_with(ATTRS)) =>
            {
                self.set_attrs(host).await
            }
            _ => self.download(host).await,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn checksums_parse_like_ansible() {
        assert_eq!(
            parse_checksum("SHA256:AB\u{200b}CD").unwrap(),
            ("sha256".into(), "abcd".into())
        );
        assert!(parse_checksum("abcd").is_err());
        assert!(parse_checksum("sha256:xyz").is_err());
        assert!(parse_checksum("crc:00").is_err());
        assert!(parse_checksum("sha256:http://h/SUMS").is_err());
    }
}
