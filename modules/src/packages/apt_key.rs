//! The `apt_key` module, without the deprecated `apt-key` tool: the key
//! (from `data`, a `file` on the host, or a `url`) is kept as its own
//! file, `keyring` when given, else `/etc/apt/trusted.gpg.d/ID.asc`
//! (apt reads ASCII-armored `.asc` keys there), idempotent by content.
//! Check is one read (plus one fetch for `file`/`url`); apply one write.
//! `state: absent` removes that file.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::common;
use crate::cmd::Cmd;
use crate::files::attrs::Mode;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `apt_key` module.
pub struct AptKey;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_string")]
    data: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    file: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    keyring: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    keyserver: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    url: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    validate_certs: Option<bool>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "apt_key",
    short: "Add or remove an APT signing key as its own keyring file",
    description: "Keeps one APT signing key in its own file, without the deprecated \
        `apt-key` tool: the key given inline (`data`), read from a file on the \
        target (`file`) or downloaded on the target (`url`) is written to \
        `keyring`, or else to `/etc/apt/trusted.gpg.d/ID.asc`, where apt reads \
        ASCII-armored keys. The file is rewritten only when its content differs. \
        `state: absent` deletes that file. Key servers are not supported.",
    params: &[
        param(
            "data",
            Kind::Str,
            "The key itself, ASCII-armored, given inline.",
        ),
        param(
            "file",
            Kind::Path,
            "Path on the target of a file holding the key.",
        ),
        param(
            "id",
            Kind::Str,
            "Key ID (hexadecimal, an `0x` prefix is dropped); it names \
            the file under `/etc/apt/trusted.gpg.d`. Without it the name comes \
            from `file` or `url`, or from a hash of `data`. Needed for \
            `state: absent` unless `keyring` is given.",
        ),
        param(
            "keyring",
            Kind::Path,
            "The file to keep the key in, instead of \
            `/etc/apt/trusted.gpg.d/ID.asc`.",
        ),
        param(
            "keyserver",
            Kind::Str,
            "Not supported: a non-empty value fails the task (use `url` \
            or `data` instead).",
        ),
        param(
            "state",
            Kind::Str,
            "`present` writes the key file, `absent` removes it.",
        )
        .default("present")
        .choices(&["absent", "present"]),
        param(
            "url",
            Kind::Str,
            "URL the target downloads the key from (with curl or wget), \
            on every run, to compare it with the stored copy.",
        ),
        param(
            "validate_certs",
            Kind::Bool,
            "Verify the TLS certificate when downloading from `url`.",
        )
        .default("true"),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Trust the Docker repository key
  ansible.builtin.apt_key:
    url: https://download.docker.com/linux/debian/gpg
    keyring: /etc/apt/keyrings/docker.asc

- name: Remove an old key
  ansible.builtin.apt_key:
    id: ABCD1234
    state: absent
",
    open: false,
    fields: params::fields::<Params>,
};

/// `$1` URL, `$2` insecure (1/0): the body on stdout.
pub const FETCH_SCRIPT: &str = r#"k=
[ "$2" = 1 ] && k=-k
if command -v curl >/dev/null 2>&1; then exec curl -fsSL $k "$1"; fi
[ "$2" = 1 ] && k=--no-check-certificate
exec wget -q $k -O - "$1"
"#;

enum Source {
    Data(String),
    File(String),
    Url(String, bool),
}

struct Prep {
    dest: String,
    id: Option<String>,
    /// `None` for `state: absent`.
    source: Option<Source>,
}

impl Module for AptKey {
    fn name(&self) -> &'static str {
        "apt_key"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let present = match p.state.as_deref().unwrap_or("present") {
            "present" => true,
            "absent" => false,
            other => {
                return Err(ParamError::at(
                    "state",
                    format!("value of state must be one of: absent, present, got: {other}"),
                ));
            }
        };
        if p.keyserver.is_some_and(|k| !k.is_empty()) {
            return Err(ParamError::at(
                "keyserver",
                "keyserver needs gpg on the target and is not supported by tutti; use url or data",
            ));
        }
        let id =
            p.id.filter(|i| !i.is_empty())
                .map(|i| i.trim_start_matches("0x").to_ascii_uppercase());
        if let Some(i) = &id
            && !i.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(ParamError::at("id", format!("invalid key id '{i}'")));
        }
        let sources = [p.data.is_some(), p.file.is_some(), p.url.is_some()];
        if sources.iter().filter(|b| **b).count() > 1 {
            return Err(ParamError::new(
                "parameters are mutually exclusive: data|file|url",
            ));
        }
        let source = if !present {
            None
        } else if let Some(d) = p.data {
            Some(Source::Data(d))
        } else if let Some(f) = p.file {
            Some(Source::File(f))
        } else if let Some(u) = p.url {
            Some(Source::Url(u, !p.validate_certs.unwrap_or(true)))
        } else {
            return Err(ParamError::new(
                "one of the following is required: data, file, url (keyserver is not supported)",
            ));
        };
        let name = match (&id, &source) {
            (Some(i), _) => i.clone(),
            (None, Some(Source::Data(d))) => {
                let digest = Sha256::digest(d.as_bytes());
                let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
                format!("tutti-{hex}")
            }
            (None, Some(Source::File(f))) => f
                .rsplit('/')
                .next()
                .unwrap_or(f)
                .trim_end_matches(".asc")
                .trim_end_matches(".gpg")
                .to_string(),
            (None, Some(Source::Url(u, _))) => u
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(u)
                .trim_end_matches(".asc")
                .trim_end_matches(".gpg")
                .to_string(),
            (None, None) if p.keyring.is_none() => {
                return Err(ParamError::at(
                    "id",
                    "state is absent but all of the following are missing: id",
                ));
            }
            (None, None) => String::new(),
        };
        let dest = match p.keyring.filter(|k| !k.is_empty()) {
            Some(k) => k,
            None => format!("/etc/apt/trusted.gpg.d/{name}.asc"),
        };
        Ok(Box::new(Prep { dest, id, source }))
    }
}

impl Prep {
    fn result(&self) -> Facts {
        let mut r = Facts::new();
        r.insert("id".into(), json!(self.id));
        r.insert("key_id".into(), json!(self.id));
        r.insert("keyring".into(), json!(self.dest));
        r
    }

    async fn key(&self, host: &dyn HostRead) -> Result<Option<Vec<u8>>, ModuleError> {
        match &self.source {
            None => Ok(None),
            Some(Source::Data(d)) => Ok(Some(d.as_bytes().to_vec())),
            Some(Source::File(f)) => host
                .read(f)
                .await?
                .map(Some)
                .ok_or_else(|| ModuleError::failed(format!("Unable to read key file {f}"))),
            Some(Source::Url(u, insecure)) => {
                let cmd: Cmd = common::script(
                    FETCH_SCRIPT,
                    [u.clone(), if *insecure { "1" } else { "0" }.to_string()],
                );
                let out = host.probe(&cmd).await?;
                if !out.success() || out.stdout.is_empty() {
                    return Err(common::failed_with(
                        format!(
                            "Failed to download key at {u}: {}",
                            common::error_text(&out)
                        ),
                        &out,
                        self.result(),
                    ));
                }
                Ok(Some(out.stdout))
            }
        }
    }
}

#[async_trait]
impl Prepared for Prep {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let want = self.key(host).await?;
        let have = host.read(&self.dest).await?;
        let result = self.result();
        if want == have {
            return Ok(Plan::InSync { result });
        }
        let change = match &want {
            Some(_) => format!("write the key to {}", self.dest),
            None => format!("remove {}", self.dest),
        };
        Ok(Plan::Change {
            changes: vec![change],
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
            Plan::Unpredictable { .. } => self.result(),
        };
        match self.key(host).await? {
            Some(k) => {
                let opts = crate::fs::WriteOpts {
                    mode: Some(Mode::Octal(0o644)),
                    ..Default::default()
                };
                host.write_atomic(&self.dest, crate::fs::Content::Bytes(k), &opts)
                    .await?;
            }
            None => {
                host.remove(&self.dest).await?;
            }
        }
        Ok(Applied {
            changed: true,
            result,
            ..Applied::default()
        })
    }
}
