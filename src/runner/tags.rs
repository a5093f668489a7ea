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
