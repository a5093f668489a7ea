//! Waiting modules: `wait_for` (a port, a file or a regex, waited for in
//! one loop script on the host), `wait_for_connection` (retries a no-op
//! command until the connection works) and `reboot`.

pub mod reboot;
pub mod wait_for;
pub mod wait_for_connection;

use crate::module::ParamError;

/// Seconds as Ansible's `type='int'` (numbers or numeric strings).
pub(crate) fn seconds(
    name: &str,
    v: Option<&serde_json::Value>,
    default: u64,
) -> Result<u64, ParamError> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(default),
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or_else(|| ParamError::at(name, format!("{name} must be a non-negative integer"))),
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0)
            .map(|f| f as u64)
            .ok_or_else(|| {
                ParamError::at(
                    name,
                    format!("{name} must be a non-negative integer, got: {s}"),
                )
            }),
        Some(other) => Err(ParamError::at(
            name,
            format!("{name} must be an integer, got: {other}"),
        )),
    }
}
