//! `--output json`: one JSON object per line, a stable schema for tools.
//!
//! Schema (version 1), one object per line with an `event` field:
//! - `{"event": "result", "host": H, "status": "ok|changed|failed|unreachable|skipped", "module": M, "result": {...}}`
//! - `{"event": "warning", "msg": S}`
//! - `{"event": "recap", "hosts": {H: "ok|changed|failed|unreachable|skipped", ...}}`

use serde_json::{Map, Value, json};

use super::Event;

pub fn render(event: &Event) -> Vec<u8> {
    let v = match event {
        Event::Result(r) => json!({
            "event": "result",
            "host": r.host,
            "status": r.status.as_str(),
            "module": r.module,
            "result": Value::Object(r.result.clone()),
        }),
        Event::Warning(w) => json!({"event": "warning", "msg": w}),
        Event::Done { stats } => {
            let hosts: Map<String, Value> = stats
                .iter()
                .map(|(h, s)| (h.clone(), Value::from(s.as_str())))
                .collect();
            json!({"event": "recap", "hosts": hosts})
        }
    };
    // Kept as UTF-8 text (undecodable bytes stay escaped) so every line
    // is valid JSON.
    let mut line = v.to_string().into_bytes();
    line.push(b'\n');
    line
}
