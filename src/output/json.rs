//! `--output json`: one JSON object per line, a stable schema for tools.
//!
//! Ad-hoc runs ([`render`]), one object per line with an `event` field:
//! - `{"event": "result", "host": H, "status": "ok|changed|failed|unreachable|skipped", "module": M, "result": {...}}`
//! - `{"event": "warning", "msg": S}`
//! - `{"event": "recap", "hosts": {H: "ok|changed|failed|unreachable|skipped", ...}}`
//!
//! Playbook runs ([`render_playbook`]), schema version 1. Every line is an
//! object whose `event` names it; fields never change meaning within a
//! version, new fields may be added. The first line, `playbook`, carries
//! `"schema": 1`.
//! - `{"event": "playbook", "schema": 1, "path": P}`
//! - `{"event": "play_start", "name": N, "check_mode": B}`
//! - `{"event": "no_hosts_matched"}`
//! - `{"event": "task_start", "name": N, "kind": "task|handler", "path": "file:line", "check_mode": B}`
//! - `{"event": "result", "host": H, "delegate": D|null, "status": "ok|changed|failed|skipped|unreachable",
//!   "action": A, "item": V|null, "loop_summary": B, "ignored": B, "no_log": B, "result": {...},
//!   "origin": {"file": F, "line": L, "column": C}|null}` — `result` holds
//!   Ansible's result keys as registered (already censored under `no_log`);
//!   `item` is the loop item's label for an item result.
//! - `{"event": "retrying", "host": H, "task": N, "retries_left": R, "result": {...}}`
//! - `{"event": "included", "file": F, "hosts": [H, ...]}`
//! - `{"event": "handler_notified", "handler": N, "host": H}`
//! - `{"event": "no_more_hosts"}`
//! - `{"event": "warning"|"deprecation"|"error", "msg": S}`
//! - `{"event": "recap", "hosts": {H: {"ok": n, "changed": n, "unreachable": n, "failed": n,
//!   "skipped": n, "rescued": n, "ignored": n}, ...}}`, hosts sorted by name.

use serde_json::{Map, Value, json};

use super::Event;
use super::events::{PlaybookEvent, TaskKind};

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
    line(&v)
}

/// One line of JSON: kept as UTF-8 text (undecodable bytes stay escaped)
/// so every line is valid JSON.
fn line(v: &Value) -> Vec<u8> {
    let mut line = v.to_string().into_bytes();
    line.push(b'\n');
    line
}

/// Renders one playbook event as one line (schema in the module doc).
pub fn render_playbook(ev: &PlaybookEvent) -> Vec<u8> {
    let v = match ev {
        // Internal to the printer (ordering), not part of the schema.
        PlaybookEvent::TaskHosts(_) => return Vec::new(),
        PlaybookEvent::Playbook { path, plays } => {
            json!({"event": "playbook", "schema": 1, "path": path, "plays": plays})
        }
        PlaybookEvent::PlayStart { name, check_mode } => {
            json!({"event": "play_start", "name": name, "check_mode": check_mode})
        }
        PlaybookEvent::NoHostsMatched => json!({"event": "no_hosts_matched"}),
        PlaybookEvent::TaskStart {
            name,
            kind,
            path,
            check_mode,
        } => json!({
            "event": "task_start",
            "name": name,
            "kind": match kind {
                TaskKind::Task => "task",
                TaskKind::Handler => "handler",
            },
            "path": path,
            "check_mode": check_mode,
        }),
        PlaybookEvent::Result(r) => json!({
            "event": "result",
            "host": r.host,
            "delegate": r.delegate,
            "status": r.status.as_str(),
            "action": r.action,
            "item": r.item.clone().unwrap_or(Value::Null),
            "loop_summary": r.loop_summary,
            "ignored": r.ignored,
            "no_log": r.no_log,
            "result": Value::Object(r.result.clone()),
            "origin": r.origin.as_ref().map(|(file, line, column)| {
                json!({"file": file, "line": line, "column": column})
            }),
        }),
        PlaybookEvent::Retrying {
            host,
            task,
            retries_left,
            result,
        } => json!({
            "event": "retrying",
            "host": host,
            "task": task,
            "retries_left": retries_left,
            "result": Value::Object(result.clone()),
        }),
        PlaybookEvent::Included { file, hosts } => {
            json!({"event": "included", "file": file, "hosts": hosts})
        }
        PlaybookEvent::HandlerNotified { handler, host } => {
            json!({"event": "handler_notified", "handler": handler, "host": host})
        }
        PlaybookEvent::Meta(msg) => json!({"event": "meta", "msg": msg}),
        PlaybookEvent::Debug(msg) => json!({"event": "debug", "msg": msg}),
        PlaybookEvent::NoMoreHosts => json!({"event": "no_more_hosts"}),
        PlaybookEvent::Warning(msg) => json!({"event": "warning", "msg": msg}),
        PlaybookEvent::Deprecation(msg) => json!({"event": "deprecation", "msg": msg}),
        PlaybookEvent::Error(msg) => json!({"event": "error", "msg": msg}),
        PlaybookEvent::Recap(stats) => {
            let mut sorted: Vec<_> = stats.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            let hosts: Map<String, Value> = sorted
                .into_iter()
                .map(|(h, s)| {
                    let counts = json!({
                        "ok": s.ok,
                        "changed": s.changed,
                        "unreachable": s.unreachable,
                        "failed": s.failed,
                        "skipped": s.skipped,
                        "rescued": s.rescued,
                        "ignored": s.ignored,
                    });
                    (h.clone(), counts)
                })
                .collect();
            json!({"event": "recap", "hosts": hosts})
        }
    };
    line(&v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::events::{HostStats, ResultStatus, TaskResult};

    fn text(ev: &PlaybookEvent) -> String {
        String::from_utf8(render_playbook(ev)).unwrap_or_default()
    }

    #[test]
    fn playbook_events_are_single_json_lines() {
        assert_eq!(
            text(&PlaybookEvent::Playbook {
                path: "site.yml".into(),
                plays: 2
            }),
            "{\"event\":\"playbook\",\"schema\":1,\"path\":\"site.yml\",\"plays\":2}\n"
        );
        assert_eq!(
            text(&PlaybookEvent::TaskStart {
                name: "t".into(),
                kind: TaskKind::Handler,
                path: "a.yml:3".into(),
                check_mode: false
            }),
            "{\"event\":\"task_start\",\"name\":\"t\",\"kind\":\"handler\",\"path\":\"a.yml:3\",\"check_mode\":false}\n"
        );
        let mut result = Map::new();
        result.insert("changed".into(), Value::Bool(true));
        let r = TaskResult {
            host: "h\nx".into(),
            delegate: None,
            status: ResultStatus::Changed,
            action: "copy".into(),
            result,
            item: Some(json!({"a": 1})),
            loop_summary: false,
            ignored: false,
            no_log: false,
            show_diff: false,
            verbosity: 0,
            origin: Some(("s.yml".into(), 4, 7)),
        };
        let line = text(&PlaybookEvent::Result(Box::new(r)));
        assert_eq!(line.matches('\n').count(), 1);
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        assert_eq!(v["status"], "changed");
        assert_eq!(v["item"]["a"], 1);
        assert_eq!(v["origin"]["column"], 7);
        assert_eq!(v["delegate"], Value::Null);
        let recap = PlaybookEvent::Recap(vec![
            ("b".into(), HostStats::default()),
            (
                "a".into(),
                HostStats {
                    ok: 2,
                    ..HostStats::default()
                },
            ),
        ]);
        assert_eq!(
            text(&recap),
            "{\"event\":\"recap\",\"hosts\":{\"a\":{\"ok\":2,\"changed\":0,\"unreachable\":0,\"failed\":0,\"skipped\":0,\"rescued\":0,\"ignored\":0},\"b\":{\"ok\":0,\"changed\":0,\"unreachable\":0,\"failed\":0,\"skipped\":0,\"rescued\":0,\"ignored\":0}}}\n"
        );
    }
}
