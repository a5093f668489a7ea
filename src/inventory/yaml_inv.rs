//! The YAML (and JSON) inventory format: top-level groups, each with
//! optional `hosts`, `vars` and `children`.

use serde_json::Value;

use super::{Inventory, range};
use crate::diagnostic::{Diagnostic, Source};
use crate::yaml::{Loaded, Node};

pub(super) fn parse(
    inv: &mut Inventory,
    loaded: &Loaded,
    warnings: &mut Vec<String>,
) -> Result<(), Diagnostic> {
    let src = &loaded.source;
    let root = &loaded.node;
    let Some(groups) = root.as_map() else {
        if root.is_null() {
            return Err(Diagnostic::parse(
                "Parsed empty YAML file",
                Some(root.span(src)),
            ));
        }
        return Err(Diagnostic::parse(
            format!(
                "YAML inventory has invalid structure, it should be a dictionary, got: {}",
                root.kind_name()
            ),
            Some(root.span(src)),
        ));
    };
    if root.get("plugin").is_some() {
        return Err(Diagnostic::parse(
            "Plugin configuration YAML file, not YAML inventory",
            Some(root.span(src)),
        ));
    }
    for (name, data) in groups {
        group(inv, src, name, data, warnings, 0)?;
    }
    Ok(())
}

fn group(
    inv: &mut Inventory,
    src: &Source,
    name_node: &Node,
    data: &Node,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Result<String, Diagnostic> {
    let name = name_node.key_string();
    if depth > 200 {
        return Err(Diagnostic::parse(
            "YAML inventory groups nest too deeply",
            Some(name_node.span(src)),
        ));
    }
    if data.as_map().is_none() && !data.is_null() {
        warnings.push(format!(
            "Skipping '{name}' as this is not a valid group definition"
        ));
        return Ok(name);
    }
    inv.add_group(&name);
    let Some(entries) = data.as_map() else {
        return Ok(name);
    };
    for (key_node, value) in entries {
        let key = key_node.key_string();
        // A bare string is shorthand for a one-entry mapping.
        let single;
        let value: &Node = if let Some(s) = value.as_str()
            && matches!(key.as_str(), "vars" | "children" | "hosts")
        {
            single = Node {
                value: crate::yaml::Value::Map(vec![(
                    Node {
                        value: crate::yaml::Value::Str(s.to_owned()),
                        line: value.line,
                        col: value.col,
                    },
                    Node {
                        value: crate::yaml::Value::Null,
                        line: value.line,
                        col: value.col,
                    },
                )]),
                line: value.line,
                col: value.col,
            };
            &single
        } else {
            value
        };
        let Some(items) = value.as_map() else {
            if value.is_null() {
                continue;
            }
            if matches!(key.as_str(), "vars" | "children" | "hosts") {
                return Err(Diagnostic::parse(
                    format!(
                        "Invalid \"{key}\" entry for \"{name}\" group, requires a dictionary, \
                         found \"{}\" instead.",
                        value.kind_name()
                    ),
                    Some(value.span(src)),
                ));
            }
            warnings.push(format!(
                "Skipping key ({key}) in group ({name}) as it is not a mapping, it is a {}",
                value.kind_name()
            ));
            continue;
        };
        match key.as_str() {
            "vars" => {
                for (k, v) in items {
                    inv.set_group_var(&name, &k.key_string(), v.to_json())
                        .map_err(|m| Diagnostic::parse(m, Some(v.span(src))))?;
                }
            }
            "children" => {
                for (child_name, child_data) in items {
                    let child = group(inv, src, child_name, child_data, warnings, depth + 1)?;
                    inv.add_child(&name, &child)
                        .map_err(|m| Diagnostic::parse(m, Some(child_name.span(src))))?;
                }
            }
            "hosts" => {
                for (pattern_node, host_data) in items {
                    let pattern = pattern_node.key_string();
                    let (host, port) = range::parse_address(&pattern);
                    let hosts = range::expand(&host)
                        .map_err(|m| Diagnostic::parse(m, Some(pattern_node.span(src))))?;
                    let vars = match host_data.as_map() {
                        Some(vars) => vars,
                        None if host_data.is_null() => &[][..],
                        None => {
                            return Err(Diagnostic::parse(
                                format!(
                                    "Invalid host entry \"{pattern}\" in group \"{name}\": host \
                                     variables must be a dictionary, found \"{}\" instead.",
                                    host_data.kind_name()
                                ),
                                Some(host_data.span(src)),
                            ));
                        }
                    };
                    for h in hosts {
                        inv.add_host(&h, Some(&name), port, Some(&src.name));
                        for (k, v) in vars {
                            inv.set_host_var(&h, &k.key_string(), Value::clone(&v.to_json()));
                        }
                    }
                }
            }
            _ => warnings.push(format!(
                "Skipping unexpected key ({key}) in group ({name}), only \"vars\", \"children\" \
                 and \"hosts\" are valid"
            )),
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use crate::inventory::Inventory;
    use serde_json::json;

    #[test]
    fn groups_hosts_vars_children() {
        let l = Inventory::from_yaml(
            "hosts.yml",
            "all:\n  vars: { ntp: time.example.com }\n  children:\n    web:\n      hosts:\n        \
             web1: { ansible_host: 10.0.0.5 }\n        web2:\n    db:\n      hosts: { db1: }\n",
        )
        .unwrap();
        let inv = l.inventory;
        assert_eq!(inv.hosts(), vec!["web1", "web2", "db1"]);
        assert_eq!(inv.host_vars("web1")["ansible_host"], json!("10.0.0.5"));
        assert_eq!(inv.host_vars("db1")["ntp"], json!("time.example.com"));
        assert_eq!(inv.group_names("web2"), vec!["web"]);
    }

    #[test]
    fn hosts_directly_under_all_are_ungrouped() {
        let inv = Inventory::from_yaml("h.yml", "all:\n  hosts:\n    h1:\n      x: yes\n")
            .unwrap()
            .inventory;
        assert_eq!(inv.group_names("h1"), vec!["ungrouped"]);
        assert_eq!(inv.host_vars("h1")["x"], json!(true));
    }

    #[test]
    fn structure_errors() {
        let e = Inventory::from_yaml("h.yml", "- a\n- b\n").unwrap_err();
        assert_eq!(
            e.msg,
            "YAML inventory has invalid structure, it should be a dictionary, got: list"
        );
        let e = Inventory::from_yaml("h.yml", "web:\n  hosts:\n    - h1\n").unwrap_err();
        assert_eq!(
            e.msg,
            "Invalid \"hosts\" entry for \"web\" group, requires a dictionary, found \"list\" instead."
        );
        let e = Inventory::from_yaml("h.yml", "").unwrap_err();
        assert_eq!(e.msg, "Parsed empty YAML file");
    }

    #[test]
    fn warnings_for_odd_keys() {
        let l = Inventory::from_yaml("h.yml", "web:\n  hostz:\n    a:\n  hosts: h1\n").unwrap();
        assert_eq!(l.inventory.hosts(), vec!["h1"]);
        assert_eq!(
            l.warnings,
            vec![
                "Skipping unexpected key (hostz) in group (web), only \"vars\", \"children\" and \
                 \"hosts\" are valid"
            ]
        );
    }
}
