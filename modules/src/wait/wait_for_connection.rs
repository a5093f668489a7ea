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

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::legacy(self.name(), args)?;
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
