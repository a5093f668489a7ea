//! The `slurp` module: returns a remote file's content, base64 encoded.
//! Read-only: it never changes the host.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::json;

use crate::host::{Host, HostError, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `slurp` module.
pub struct Slurp;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(alias = "path", deserialize_with = "params::opt_string")]
    src: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "slurp",
    short: "Read a file from the target, base64 encoded",
    description: "Reads a whole file on the target and returns its bytes \
        base64 encoded in `content` (with `source` and `encoding`), to be \
        decoded with the `b64decode` filter. It only reads, and never reports \
        a change.",
    params: &[param("src", Kind::Path, "The file on the target to read.")
        .required()
        .aliases(&["path"])],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Read the cluster join token
  ansible.builtin.slurp:
    src: /etc/cluster/join-token
  register: join_token

- name: Show it
  ansible.builtin.debug:
    msg: \"{{ join_token.content | b64decode }}\"
",
    open: false,
    fields: params::fields::<Params>,
};

struct Prepped {
    src: String,
}

impl Module for Slurp {
    fn name(&self) -> &'static str {
        "slurp"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let src = p
            .src
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ParamError::at("src", "missing required arguments: src"))?;
        Ok(Box::new(Prepped { src }))
    }
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let src = &self.src;
        let data = match host.read(src).await {
            Ok(Some(d)) => d,
            Ok(None) => return Err(ModuleError::failed(format!("file not found: {src}"))),
            Err(HostError::Failed(e)) => {
                let msg = if e.contains("Is a directory") {
                    format!("source is a directory and must be a file: {src}")
                } else if e.contains("Permission denied") {
                    format!("file is not readable: {src}")
                } else {
                    format!("unable to slurp file: {e}")
                };
                return Err(ModuleError::failed(msg));
            }
            Err(e) => return Err(e.into()),
        };
        let mut r = Facts::new();
        r.insert("changed".into(), json!(false));
        r.insert("content".into(), json!(B64.encode(&data)));
        r.insert("source".into(), json!(src));
        r.insert("encoding".into(), json!("base64"));
        Ok(Plan::InSync { result: r })
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
