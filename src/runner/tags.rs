//! `--tags` / `--skip-tags` selection with Ansible's special tags:
//! `always` runs unless skipped by name, `never` runs only when asked for,
//! `tagged`, `untagged` and `all` select by presence.

/// Whether a task with `task_tags` runs under the given selection.
pub fn selected(task_tags: &[String], run: &[String], skip: &[String]) -> bool {
    let has = |t: &str| task_tags.iter().any(|x| x == t);
    let tagged = !task_tags.is_empty();
    let matches = |list: &[String]| {
        list.iter().any(|s| match s.as_str() {
            "all" => true,
            "tagged" => tagged,
            "untagged" => !tagged,
            other => has(other),
        })
    };
    if !skip.is_empty() {
        let skip_hit = skip.iter().any(|s| match s.as_str() {
            "all" => !has("always"),
            "tagged" => tagged && !has("always"),
            "untagged" => !tagged,
            other => has(other),
        });
        if skip_hit {
            return false;
        }
    }
    if has("never")
        && !run
            .iter()
            .any(|r| r == "never" || (has(r) && r != "all" && r != "tagged"))
    {
        return false;
    }
    if has("always") {
        return true;
    }
    run.is_empty() || matches(run)
}

/// Renders templated tags (`tags: "{{ the_tags }}"`) in `scope`, as Ansible
/// does before selecting: a list result gives several tags, a string is
/// split on commas. A tag that fails to render stays as written.
pub fn render(
    tags: &[String],
    templar: &crate::template::Templar,
    scope: &crate::template::Scope,
) -> Vec<String> {
    if !tags.iter().any(|t| crate::template::is_template(t)) {
        return tags.to_vec();
    }
    let mut out = Vec::new();
    for t in tags {
        if !crate::template::is_template(t) {
            out.push(t.clone());
            continue;
        }
        match templar.render_str(t, scope) {
            Ok(serde_json::Value::Array(items)) => {
                out.extend(items.iter().map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                }));
            }
            Ok(serde_json::Value::String(s)) => {
                out.extend(parse_list(std::slice::from_ref(&s)));
            }
            Ok(other) => out.push(other.to_string()),
            Err(_) => out.push(t.clone()),
        }
    }
    out
}

/// Splits `-t a,b -t c` into a list.
pub fn parse_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn selection_rules() {
        assert!(selected(&[], &[], &[]));
        assert!(selected(&s(&["a"]), &s(&["a"]), &[]));
        assert!(!selected(&s(&["b"]), &s(&["a"]), &[]));
        assert!(selected(&s(&["always"]), &s(&["a"]), &[]));
        assert!(!selected(&s(&["always"]), &s(&["a"]), &s(&["always"])));
        assert!(!selected(&s(&["never"]), &[], &[]));
        assert!(selected(&s(&["never", "debug"]), &s(&["debug"]), &[]));
        assert!(selected(&s(&["x"]), &s(&["tagged"]), &[]));
        assert!(!selected(&[], &s(&["tagged"]), &[]));
        assert!(selected(&[], &s(&["untagged"]), &[]));
        assert!(!selected(&s(&["a"]), &[], &s(&["a"])));
        assert!(!selected(&s(&["a"]), &[], &s(&["tagged"])));
    }
}
