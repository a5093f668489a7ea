//! `-e` extra variables: `k=v` words, a JSON/YAML document, or `@file`.
//! They are the highest-precedence variables and always win.

use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Source};

/// Merges every `-e` value in order (later ones win).
pub fn parse_all(values: &[String]) -> Result<Map<String, Value>, Diagnostic> {
    let mut out = Map::new();
    for v in values {
        for (k, val) in parse_one(v)? {
            out.insert(k, val);
        }
    }
    Ok(out)
}

fn parse_one(s: &str) -> Result<Map<String, Value>, Diagnostic> {
    if let Some(path) = s.strip_prefix('@') {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Diagnostic::error(format!(
                "Unable to retrieve file contents\nCould not find or access '{path}': {e}"
            ))
        })?;
        return document(&Source::new(path, text));
    }
    let t = s.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        return document(&Source::new("<extra vars>", s));
    }
    crate::args::parse_kv("", s).map_err(Diagnostic::options)
}

fn document(src: &Source) -> Result<Map<String, Value>, Diagnostic> {
    let loaded = crate::yaml::load(src)?;
    match loaded.node.to_json() {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(Diagnostic::parse(
            format!("extra vars from {} must be a mapping", src.name),
            None,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn later_values_win() {
        let v = parse_all(&["a=1 b=x".into(), "{\"a\": 2, \"c\": [1]}".into()]).unwrap();
        assert_eq!(Value::Object(v), json!({"a": 2, "b": "x", "c": [1]}));
    }
}
