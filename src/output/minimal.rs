//! Ad-hoc output in the shape of Ansible's `minimal` and `oneline`
//! callbacks: `host | CHANGED | rc=0 >>` for commands, `host | SUCCESS =>
//! {json}` for other modules.

use console::Style;
use serde_json::{Map, Value};
use tutti_modules::text;

use super::{Event, HostResult, Status, pyjson};

/// Modules whose output is shown as text rather than JSON.
fn is_command(module: &str) -> bool {
    matches!(module, "command" | "shell" | "raw" | "script")
}

fn style(status: Status, color: bool) -> Style {
    let s = Style::new();
    if !color {
        return s;
    }
    match status {
        Status::Ok => s.green(),
        Status::Changed => s.yellow(),
        Status::Failed => s.red(),
        Status::Unreachable => s.red().bright(),
        Status::Skipped => s.cyan(),
    }
    .force_styling(true)
}

fn text_of(m: &Map<String, Value>, key: &str) -> String {
    match m.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Renders one event to (stdout bytes, stderr bytes).
pub fn render(event: &Event, color: bool, one_line: bool) -> (Vec<u8>, Vec<u8>) {
    match event {
        Event::Result(r) => {
            let line = if one_line { oneline(r) } else { minimal(r) };
            let styled = style(r.status, color).apply_to(line).to_string();
            // Command output may hold bytes that are not UTF-8: give the
            // terminal back exactly what the host printed.
            let mut out = text::encode(&styled);
            out.push(b'\n');
            (out, Vec::new())
        }
        Event::Warning(w) => {
            let s = if color {
                Style::new().magenta().bright().force_styling(true)
            } else {
                Style::new()
            };
            (
                Vec::new(),
                format!("{}\n", s.apply_to(format!("[WARNING]: {w}"))).into_bytes(),
            )
        }
        Event::Done { .. } => (Vec::new(), Vec::new()),
    }
}

fn caption(status: Status) -> &'static str {
    match status {
        Status::Ok => "SUCCESS",
        Status::Changed => "CHANGED",
        Status::Failed => "FAILED",
        Status::Unreachable => "UNREACHABLE",
        Status::Skipped => "SKIPPED",
    }
}

fn rc(m: &Map<String, Value>) -> String {
    m.get("rc")
        .map(Value::to_string)
        .unwrap_or_else(|| "-1".into())
}

fn minimal(r: &HostResult) -> String {
    let m = &r.result;
    match r.status {
        Status::Skipped => format!("{} | SKIPPED", r.host),
        Status::Unreachable => format!(
            "{} | UNREACHABLE! => {}",
            r.host,
            pyjson::pretty(&Value::Object(m.clone()))
        ),
        Status::Failed
            if !is_command(&r.module)
                || m.contains_key("module_stderr")
                || !m.contains_key("rc") =>
        {
            format!(
                "{} | FAILED! => {}",
                r.host,
                pyjson::pretty(&Value::Object(m.clone()))
            )
        }
        status if is_command(&r.module) && m.contains_key("rc") => {
            // Ansible appends stdout, stderr and msg with no separator.
            let mut body = text_of(m, "stdout");
            body.push_str(&text_of(m, "stderr"));
            body.push_str(&text_of(m, "msg"));
            format!(
                "{} | {} | rc={} >>\n{}",
                r.host,
                caption(status),
                rc(m),
                body
            )
        }
        status => format!(
            "{} | {} => {}",
            r.host,
            caption(status),
            pyjson::pretty(&Value::Object(m.clone()))
        ),
    }
}

fn oneline(r: &HostResult) -> String {
    let m = &r.result;
    let flat = |s: String| s.replace('\n', "\\n").replace('\r', "\\r");
    match r.status {
        Status::Skipped => format!("{} | SKIPPED", r.host),
        Status::Unreachable => format!("{} | UNREACHABLE!: {}", r.host, text_of(m, "msg")),
        status if is_command(&r.module) && m.contains_key("rc") => {
            let stdout = flat(text_of(m, "stdout"));
            let stderr = flat(text_of(m, "stderr"));
            let cap = if status == Status::Failed {
                "FAILED"
            } else {
                caption(status)
            };
            if stderr.is_empty() {
                format!("{} | {} | rc={} | (stdout) {}", r.host, cap, rc(m), stdout)
            } else {
                format!(
                    "{} | {} | rc={} | (stdout) {} (stderr) {}",
                    r.host,
                    cap,
                    rc(m),
                    stdout,
                    stderr
                )
            }
        }
        Status::Failed => format!(
            "{} | FAILED! => {}",
            r.host,
            pyjson::compact(&Value::Object(m.clone()))
        ),
        status => format!(
            "{} | {} => {}",
            r.host,
            caption(status),
            pyjson::compact(&Value::Object(m.clone()))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(module: &str, status: Status, v: Value) -> HostResult {
        HostResult {
            host: "alpha".into(),
            status,
            module: module.into(),
            result: v.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn command_layout() {
        let r = result(
            "command",
            Status::Changed,
            json!({"rc": 0, "stdout": "hi", "stderr": "", "msg": "", "changed": true}),
        );
        assert_eq!(minimal(&r), "alpha | CHANGED | rc=0 >>\nhi");
        let r = result(
            "shell",
            Status::Failed,
            json!({"rc": 2, "stdout": "", "stderr": "boom", "msg": "non-zero return code", "changed": true, "failed": true}),
        );
        assert_eq!(
            minimal(&r),
            "alpha | FAILED | rc=2 >>\nboomnon-zero return code"
        );
        assert_eq!(
            oneline(&r),
            "alpha | FAILED | rc=2 | (stdout)  (stderr) boom"
        );
    }

    #[test]
    fn module_layout() {
        let r = result(
            "ping",
            Status::Ok,
            json!({"ping": "pong", "changed": false}),
        );
        assert_eq!(
            minimal(&r),
            "alpha | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}"
        );
        assert_eq!(
            oneline(&r),
            "alpha | SUCCESS => {\"changed\": false, \"ping\": \"pong\"}"
        );
        let r = result(
            "ping",
            Status::Unreachable,
            json!({"changed": false, "msg": "Failed to connect", "unreachable": true}),
        );
        assert_eq!(oneline(&r), "alpha | UNREACHABLE!: Failed to connect");
        assert!(minimal(&r).starts_with("alpha | UNREACHABLE! => {\n"));
    }
}
