//! Service modules: `systemd_service` (also registered as `systemd`),
//! `sysvinit`, `service` (picks systemd or SysV init from the host) and
//! `service_facts`, plus the probe parsing they share.

pub mod service;
pub mod service_facts;
pub mod systemd;
pub mod sysvinit;

use serde_json::{Map, Value};

use crate::host::Output;
use crate::module::ModuleError;
use crate::text;

/// `Key=Value` lines (as `systemctl show` prints them) into a map, in
/// order. Lines without `=` are ignored.
pub(crate) fn parse_properties(out: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for line in out.lines() {
        if let Some((k, v)) = line.split_once('=')
            && !k.is_empty()
            && !k.contains(' ')
        {
            m.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    m
}

/// A failure with the command's output in Ansible's keys.
pub(crate) fn command_failed(what: &str, out: &Output) -> ModuleError {
    let stderr = text::decode(&out.stderr);
    let stdout = text::decode(&out.stdout);
    let detail = if stderr.trim().is_empty() {
        stdout.trim().to_string()
    } else {
        stderr.trim().to_string()
    };
    let mut result = Map::new();
    result.insert("rc".into(), Value::from(out.rc));
    result.insert("stdout".into(), Value::String(stdout));
    result.insert("stderr".into(), Value::String(stderr));
    ModuleError::Failed {
        msg: format!("{what}: {detail}"),
        result,
    }
}

/// Splits probe output at a `--tutti-section NAME--` marker line:
/// `(before, after)`; `after` is empty when the marker is missing.
pub(crate) fn split_section<'a>(out: &'a str, name: &str) -> (&'a str, &'a str) {
    let marker = format!("--tutti-section {name}--\n");
    match out.find(&marker) {
        Some(i) => (&out[..i], &out[i + marker.len()..]),
        None => (out, ""),
    }
}
