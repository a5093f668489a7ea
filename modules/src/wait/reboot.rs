//! The `reboot` module (an action in Ansible): reads the boot id, runs
//! the reboot command, then waits until the host answers with a different
//! boot id and `test_command` succeeds. Check mode reports a change and
//! reboots nothing.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::cmd::Cmd;
use crate::host::{Host, HostError, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;
use crate::wait::seconds;

/// The `reboot` module.
pub struct Reboot;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_string")]
    boot_time_command: Option<String>,
    #[serde(default)]
    connect_timeout: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_string")]
    msg: Option<String>,
    #[serde(default, alias = "post_reboot_delay_sec")]
    post_reboot_delay: Option<Value>,
    #[serde(default, alias = "pre_reboot_delay_sec")]
    pre_reboot_delay: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_string")]
    reboot_command: Option<String>,
    #[serde(default, alias = "reboot_timeout_sec")]
    reboot_timeout: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_list")]
    search_paths: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    test_command: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "reboot",
    short: "Reboot the target and wait until it is back",
    description: "Reads the target's boot id, runs the reboot command, then \
        waits until the host answers with a different boot id and \
        `test_command` succeeds, so the next task runs on the rebooted \
        system. The connection dropping while the command runs counts as \
        success. Always reports a change; in check mode nothing is \
        rebooted.",
    params: &[
        param(
            "boot_time_command",
            Kind::Str,
            "Command whose output changes with every boot; the reboot is \
            detected when it prints something else.",
        )
        .default("cat /proc/sys/kernel/random/boot_id"),
        param(
            "connect_timeout",
            Kind::Int,
            "Seconds each attempt to reach the host may take while waiting.",
        )
        .default("10"),
        param(
            "msg",
            Kind::Str,
            "Message the default reboot command broadcasts to logged-in users.",
        )
        .default("Reboot initiated by Ansible"),
        param(
            "post_reboot_delay",
            Kind::Int,
            "Seconds to wait after the host is back, before the task ends.",
        )
        .default("0")
        .aliases(&["post_reboot_delay_sec"]),
        param(
            "pre_reboot_delay",
            Kind::Int,
            "Seconds to wait before rebooting: whole minutes go to \
            `shutdown -r`, the remaining seconds are waited before running it.",
        )
        .default("0")
        .aliases(&["pre_reboot_delay_sec"]),
        param(
            "reboot_command",
            Kind::Str,
            "Command that reboots the host; without it, `shutdown -r` with \
            the delay in minutes and `msg`.",
        ),
        param(
            "reboot_timeout",
            Kind::Int,
            "Seconds to wait for the host to come back and pass \
            `test_command` before failing.",
        )
        .default("600")
        .aliases(&["reboot_timeout_sec"]),
        param(
            "search_paths",
            Kind::List,
            "Accepted for compatibility; has no effect (the reboot command \
            is run through the shell's PATH).",
        ),
        param(
            "test_command",
            Kind::Str,
            "Command that must succeed after the reboot for the host to count \
            as ready.",
        )
        .default("whoami"),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Reboot after the kernel upgrade
  ansible.builtin.reboot:
    msg: Rebooting for a kernel upgrade
    reboot_timeout: 900

- name: Reboot and wait until the application answers
  ansible.builtin.reboot:
    test_command: systemctl is-active myapp
    post_reboot_delay: 10
",
    open: false,
    fields: params::fields::<Params>,
};

#[derive(Debug)]
struct Prepped {
    boot_time_command: String,
    reboot_command: String,
    test_command: String,
    /// Seconds below a minute, slept before the command (which gets the minutes).
    pre_reboot_delay: u64,
    post_reboot_delay: Duration,
    reboot_timeout: Duration,
    connect_timeout: Duration,
    /// How long to wait between tries while the host is down.
    retry: Duration,
}

/// The boot id (or whatever `boot_time_command` prints), trimmed.
async fn boot_id(host: &dyn HostRead, cmd: &str) -> Result<String, String> {
    match host.probe(&Cmd::script(cmd)).await {
        Ok(out) if out.success() => Ok(text::decode(&out.stdout).trim().to_string()),
        Ok(out) => Err(format!(
            "'{cmd}' exited with {}: {}",
            out.rc,
            text::decode(&out.stderr).trim()
        )),
        Err(e) => Err(e.to_string()),
    }
}

impl Prepped {
    fn failed(&self, msg: String, start: Instant) -> ModuleError {
        let mut r = Facts::new();
        r.insert("rebooted".into(), json!(false));
        r.insert("elapsed".into(), json!(start.elapsed().as_secs()));
        ModuleError::Failed { msg, result: r }
    }

    /// Waits for a new boot id, then for `test_command` to succeed.
    async fn wait_back(&self, host: &dyn Host, before: &str, start: Instant) -> Result<(), String> {
        let deadline = start + self.reboot_timeout;
        let mut last = String::from("the host did not come back");
        let mut booted = false;
        loop {
            if !booted {
                match tokio::time::timeout(
                    self.connect_timeout,
                    boot_id(host, &self.boot_time_command),
                )
                .await
                {
                    Ok(Ok(id)) if !id.is_empty() && id != before => booted = true,
                    Ok(Ok(_)) => last = "the boot id has not changed yet".into(),
                    Ok(Err(e)) => last = e,
                    Err(_) => last = "no answer from the host".into(),
                }
            }
            if booted {
                match tokio::time::timeout(
                    self.connect_timeout,
                    host.probe(&Cmd::script(&self.test_command)),
                )
                .await
                {
                    Ok(Ok(out)) if out.success() => return Ok(()),
                    Ok(Ok(out)) => {
                        last = format!(
                            "test command '{}' exited with {}",
                            self.test_command, out.rc
                        )
                    }
                    Ok(Err(e)) => last = e.to_string(),
                    Err(_) => last = "no answer to the test command".into(),
                }
            }
            if Instant::now() + self.retry >= deadline {
                return Err(last);
            }
            tokio::time::sleep(self.retry).await;
        }
    }
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, _host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let mut r = Facts::new();
        r.insert("rebooted".into(), json!(true));
        r.insert("elapsed".into(), json!(0));
        Ok(Plan::Change {
            changes: vec![format!("reboot the host ({})", self.reboot_command)],
            diff: Vec::new(),
            result: r,
        })
    }

    async fn apply(&self, _plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let start = Instant::now();
        let before = boot_id(host, &self.boot_time_command).await.map_err(|e| {
            self.failed(
                format!("Unable to read the boot id before rebooting: {e}"),
                start,
            )
        })?;
        if self.pre_reboot_delay > 0 {
            tokio::time::sleep(Duration::from_secs(self.pre_reboot_delay)).await;
        }
        // The connection may drop before the command returns: that is success.
        match host.run(&Cmd::script(&self.reboot_command)).await {
            Ok(out) if out.success() => {}
            Ok(out) if out.rc == -1 || out.rc == 255 => {}
            Ok(out) => {
                return Err(self.failed(
                    format!(
                        "Reboot command failed. Error was: '{}, {}'",
                        text::decode(&out.stdout).trim(),
                        text::decode(&out.stderr).trim()
                    ),
                    start,
                ));
            }
            Err(HostError::Unreachable(_) | HostError::Timeout(_)) => {}
            Err(e) => return Err(self.failed(format!("Reboot command failed: {e}"), start)),
        }
        if let Err(e) = self.wait_back(host, &before, start).await {
            return Err(self.failed(
                format!(
                    "Timed out waiting for last boot time check (timeout={}): {e}",
                    self.reboot_timeout.as_secs()
                ),
                start,
            ));
        }
        if !self.post_reboot_delay.is_zero() {
            tokio::time::sleep(self.post_reboot_delay).await;
        }
        let mut r = Facts::new();
        r.insert("rebooted".into(), json!(true));
        r.insert("elapsed".into(), json!(start.elapsed().as_secs()));
        Ok(Applied {
            changed: true,
            result: r,
            ..Applied::default()
        })
    }
}

impl Module for Reboot {
    fn name(&self) -> &'static str {
        "reboot"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let _ = p.search_paths;
        let pre = seconds("pre_reboot_delay", p.pre_reboot_delay.as_ref(), 0)?;
        let msg = p
            .msg
            .unwrap_or_else(|| "Reboot initiated by Ansible".into());
        // shutdown takes minutes; Ansible rounds the delay down the same way.
        let reboot_command = match p.reboot_command.filter(|c| !c.trim().is_empty()) {
            Some(c) => c,
            None => format!("{} -r {} {}", "shutdown", pre / 60, crate::cmd::quote(&msg)),
        };
        Ok(Box::new(Prepped {
            boot_time_command: p
                .boot_time_command
                .unwrap_or_else(|| "cat /proc/sys/kernel/random/boot_id".into()),
            reboot_command,
            test_command: p.test_command.unwrap_or_else(|| "whoami".into()),
            pre_reboot_delay: pre % 60,
            post_reboot_delay: Duration::from_secs(seconds(
                "post_reboot_delay",
                p.post_reboot_delay.as_ref(),
                0,
            )?),
            reboot_timeout: Duration::from_secs(seconds(
                "reboot_timeout",
                p.reboot_timeout.as_ref(),
                600,
            )?),
            connect_timeout: Duration::from_secs(
                seconds("connect_timeout", p.connect_timeout.as_ref(), 10)?.max(1),
            ),
            retry: Duration::from_secs(1),
        }))
    }
}
