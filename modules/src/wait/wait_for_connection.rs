//! The `wait_for_connection` module (an action in Ansible): after
//! `delay`, runs `true` on the host until it answers, each try bounded by
//! `connect_timeout`, `sleep` seconds apart, for at most `timeout`
//! seconds. The engine opens connections lazily and again after a
//! failure, so each try is a fresh attempt to reach the host.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::cmd::Cmd;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::wait::seconds;

/// The `wait_for_connection` module.
pub struct WaitForConnection;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    connect_timeout: Option<Value>,
    #[serde(default)]
    delay: Option<Value>,
    #[serde(default)]
    sleep: Option<Value>,
    #[serde(default)]
    timeout: Option<Value>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "wait_for_connection",
    short: "Wait until the target can be reached",
    description: "After `delay`, runs a no-op command on the target until it \
        succeeds, each attempt bounded by `connect_timeout` and attempts \
        `sleep` seconds apart, and fails when `timeout` passes first. Every \
        attempt opens the connection anew when the previous one failed. It \
        changes nothing and waits in check mode too.",
    params: &[
        param(
            "connect_timeout",
            Kind::Int,
            "Seconds one attempt may take (at least 1).",
        )
        .default("5"),
        param(
            "delay",
            Kind::Int,
            "Seconds to wait before the first attempt.",
        )
        .default("0"),
        param("sleep", Kind::Int, "Seconds between attempts (at least 1).").default("1"),
        param(
            "timeout",
            Kind::Int,
            "Seconds to keep trying before failing.",
        )
        .default("600"),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Wait for the new machines to accept connections
  ansible.builtin.wait_for_connection:
    delay: 10
    timeout: 300
",
    open: false,
    fields: params::fields::<Params>,
};

#[derive(Debug)]
struct Prepped {
    delay: Duration,
    sleep: Duration,
    timeout: Duration,
    connect_timeout: Duration,
}

/// Tries `true` until it succeeds or `timeout` passes; the seconds it took.
pub(crate) async fn wait_until_up(
    host: &dyn HostRead,
    delay: Duration,
    sleep: Duration,
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<u64, String> {
    let start = Instant::now();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let probe = Cmd::new("true");
    loop {
        let err = match tokio::time::timeout(connect_timeout, host.probe(&probe)).await {
            Ok(Ok(out)) if out.success() => return Ok(start.elapsed().as_secs()),
            Ok(Ok(out)) => format!("the test command exited with {}", out.rc),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} seconds", connect_timeout.as_secs()),
        };
        if start.elapsed() + sleep >= timeout {
            return Err(err);
        }
        tokio::time::sleep(sleep).await;
    }
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let start = Instant::now();
        match wait_until_up(
            host,
            self.delay,
            self.sleep,
            self.timeout,
            self.connect_timeout,
        )
        .await
        {
            Ok(elapsed) => {
                let mut r = Facts::new();
                r.insert("elapsed".into(), json!(elapsed));
                Ok(Plan::InSync { result: r })
            }
            Err(e) => {
                let mut r = Facts::new();
                r.insert("elapsed".into(), json!(start.elapsed().as_secs()));
                Err(ModuleError::Failed {
                    msg: format!(
                        "timed out waiting for connection test: {e} (after {} seconds)",
                        self.timeout.as_secs()
                    ),
                    result: r,
                })
            }
        }
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

impl Module for WaitForConnection {
    fn name(&self) -> &'static str {
        "wait_for_connection"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let secs =
            |n: &str, v: &Option<Value>, d: u64| seconds(n, v.as_ref(), d).map(Duration::from_secs);
        Ok(Box::new(Prepped {
            delay: secs("delay", &p.delay, 0)?,
            sleep: secs("sleep", &p.sleep, 1)?.max(Duration::from_secs(1)),
            timeout: secs("timeout", &p.timeout, 600)?,
            connect_timeout: secs("connect_timeout", &p.connect_timeout, 5)?
                .max(Duration::from_secs(1)),
        }))
    }
}
