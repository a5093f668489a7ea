//! JSON text the way Ansible's callbacks print results: Python's
//! `json.dumps(..., indent=N, sort_keys=True, ensure_ascii=False)`.

use serde_json::Value;

/// Keys sorted at every level, 4-space indentation, `": "` separators.
pub fn pretty(v: &Value) -> String {
    let mut out = String::new();
    write(v, Some(4), 0, &mut out);
    out
}

/// One line: `{"a": 1, "b": [1, 2]}`.
pub fn compact(v: &Value) -> String {
    let mut out = String::new();
    write(v, None, 0, &mut out);
    out
}

fn write(v: &Value, indent: Option<usize>, level: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                sep(i, indent, level + 1, out);
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(": ");
                if let Some(val) = m.get(*k) {
                    write(val, indent, level + 1, out);
                }
            }
            close(indent, level, out);
            out.push('}');
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                sep(i, indent, level + 1, out);
                write(item, indent, level + 1, out);
            }
            close(indent, level, out);
            out.push(']');
        }
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        other => out.push_str(&other.to_string()),
    }
}

fn sep(i: usize, indent: Option<usize>, level: usize, out: &mut String) {
    match indent {
        Some(n) => {
            if i > 0 {
                out.push(',');
            }
            out.push('\n');
            out.push_str(&" ".repeat(n * level));
        }
        None => {
            if i > 0 {
                out.push_str(", ");
            }
        }
    }
}

fn close(indent: Option<usize>, level: usize, out: &mut String) {
    if let Some(n) = indent {
        out.push('\n');
        out.push_str(&" ".repeat(n * level));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_json_dumps() {
        let v = json!({"ping": "pong", "changed": false, "l": [1, {"b": 2, "a": []}], "e": {}});
        assert_eq!(
            pretty(&v),
            "{\n    \"changed\": false,\n    \"e\": {},\n    \"l\": [\n        1,\n        {\n            \"a\": [],\n            \"b\": 2\n        }\n    ],\n    \"ping\": \"pong\"\n}"
        );
        assert_eq!(
            compact(&v),
            "{\"changed\": false, \"e\": {}, \"l\": [1, {\"a\": [], \"b\": 2}], \"ping\": \"pong\"}"
        );
    }
}
