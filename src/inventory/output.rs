//! What `ansible-inventory` prints: `--list` JSON, `--graph` (optionally
//! with `--vars`) and `--host NAME`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::Inventory;

/// `json.dumps(value, sort_keys=True, indent=4, ensure_ascii=False)`, the
/// way `ansible-inventory` writes JSON (no trailing newline).
pub fn to_json_string(value: &Value) -> String {
    use serde::Serialize;
    let sorted = sort_keys(value);
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    if sorted.serialize(&mut ser).is_err() {
        return sorted.to_string();
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// A copy of `value` with every object's keys in sorted order.
pub fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                if let Some(v) = map.get(k) {
                    out.insert(k.clone(), sort_keys(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// Python's `str()` of a JSON-like value, as `--graph --vars` shows it.
fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            if s.contains('\'') && !s.contains('"') {
                format!("\"{s}\"")
            } else {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!(
                    "{}: {}",
                    python_repr(&Value::from(k.as_str())),
                    python_repr(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn graph_name(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_owned()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

impl Inventory {
    /// `ansible-inventory --list` as data (keys sorted, as it prints them;
    /// see [`to_json_string`] for the exact text).
    pub fn list_json(&self) -> Value {
        let hosts = self.hosts();
        let available: HashSet<&str> = hosts.iter().copied().collect();
        let mut results = Map::new();
        let mut seen: HashSet<String> = HashSet::new();
        self.format_group("all", &available, &mut seen, &mut results);
        let mut hostvars = Map::new();
        for h in &hosts {
            let vars = self.host_vars(h);
            if !vars.is_empty() {
                hostvars.insert((*h).to_owned(), Value::Object(vars));
            }
        }
        let mut meta = Map::new();
        meta.insert("hostvars".into(), Value::Object(hostvars));
        results.insert("_meta".into(), Value::Object(meta));
        sort_keys(&Value::Object(results))
    }

    fn format_group(
        &self,
        name: &str,
        available: &HashSet<&str>,
        seen: &mut HashSet<String>,
        results: &mut Map<String, Value>,
    ) {
        let Some(group) = self.groups.get(name) else {
            return;
        };
        let mut entry = Map::new();
        if name != "all" {
            let hosts: Vec<Value> = group
                .hosts
                .iter()
                .filter(|h| available.contains(h.as_str()))
                .map(|h| Value::from(h.as_str()))
                .collect();
            if !hosts.is_empty() {
                entry.insert("hosts".into(), Value::Array(hosts));
            }
        }
        let mut children = Vec::new();
        for child in &group.children {
            children.push(Value::from(child.as_str()));
            if seen.insert(child.clone()) {
                self.format_group(child, available, seen, results);
            }
        }
        if !children.is_empty() {
            entry.insert("children".into(), Value::Array(children));
        }
        // Ansible drops groups with neither hosts nor children.
        if !entry.is_empty() {
            results.insert(name.to_owned(), Value::Object(entry));
        } else {
            results.remove(name);
        }
    }

    /// `ansible-inventory --graph [GROUP]`, with a trailing newline. Empty
    /// when `group` does not exist (Ansible: "Pattern must be valid group
    /// name when using --graph"; check with [`Inventory::is_group`]).
    pub fn graph(&self, group: Option<&str>) -> String {
        self.graph_impl(group.unwrap_or("all"), false)
    }

    /// `ansible-inventory --graph --vars [GROUP]`.
    pub fn graph_with_vars(&self, group: Option<&str>) -> String {
        self.graph_impl(group.unwrap_or("all"), true)
    }

    fn graph_impl(&self, group: &str, vars: bool) -> String {
        if !self.groups.contains_key(group) {
            return String::new();
        }
        let mut lines = Vec::new();
        self.graph_group(group, 0, vars, &mut lines);
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    fn graph_group(&self, name: &str, depth: usize, vars: bool, lines: &mut Vec<String>) {
        let Some(group) = self.groups.get(name) else {
            return;
        };
        lines.push(graph_name(&format!("@{name}:"), depth));
        for child in &group.children {
            self.graph_group(child, depth + 1, vars, lines);
        }
        if name != "all" {
            for h in &group.hosts {
                lines.push(graph_name(h, depth + 1));
                if vars {
                    show_vars(&self.host_vars(h), depth + 2, lines);
                }
            }
        }
        if vars {
            let mut gv = self.group_vars(name);
            if group.priority != 1 {
                gv.insert("ansible_group_priority".into(), Value::from(group.priority));
            }
            show_vars(&gv, depth + 1, lines);
        }
    }

    /// `ansible-inventory --host NAME` as data (keys sorted); None for an
    /// unknown host.
    pub fn host_json(&self, host: &str) -> Option<Value> {
        if !self.has_host(host) && !self.is_implicit_localhost(host) {
            return None;
        }
        Some(sort_keys(&Value::Object(self.host_vars(host))))
    }
}

fn show_vars(vars: &Map<String, Value>, depth: usize, lines: &mut Vec<String>) {
    let mut keys: Vec<&String> = vars.keys().collect();
    keys.sort();
    for k in keys {
        if let Some(v) = vars.get(k) {
            lines.push(graph_name(&format!("{{{k} = {}}}", python_str(v)), depth));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inv() -> Inventory {
        Inventory::from_ini(
            "hosts",
            "mail\n[web]\nweb1 http_port=80\nweb2\n[db]\ndb1\n[prod:children]\nweb\ndb\n[empty]\n",
        )
        .unwrap()
        .inventory
    }

    #[test]
    fn list_matches_ansible_inventory() {
        let text = to_json_string(&inv().list_json());
        assert_eq!(
            text,
            r#"{
    "_meta": {
        "hostvars": {
            "web1": {
                "http_port": 80
            }
        }
    },
    "all": {
        "children": [
            "ungrouped",
            "prod",
            "empty"
        ]
    },
    "db": {
        "hosts": [
            "db1"
        ]
    },
    "prod": {
        "children": [
            "web",
            "db"
        ]
    },
    "ungrouped": {
        "hosts": [
            "mail"
        ]
    },
    "web": {
        "hosts": [
            "web1",
            "web2"
        ]
    }
}"#
        );
    }

    #[test]
    fn empty_group_is_listed_under_all_only() {
        let i = Inventory::from_ini("h", "[web]\nw1\n").unwrap().inventory;
        assert_eq!(
            i.list_json(),
            json!({"_meta": {"hostvars": {}}, "all": {"children": ["ungrouped", "web"]},
                   "web": {"hosts": ["w1"]}})
        );
    }

    #[test]
    fn graph_matches_ansible_inventory() {
        let i = inv();
        assert_eq!(
            i.graph(None),
            "@all:\n  |--@ungrouped:\n  |  |--mail\n  |--@prod:\n  |  |--@web:\n  |  |  |--web1\n  \
             |  |  |--web2\n  |  |--@db:\n  |  |  |--db1\n  |--@empty:\n"
        );
        assert_eq!(i.graph(Some("web")), "@web:\n  |--web1\n  |--web2\n");
        assert_eq!(i.graph(Some("nope")), "");
    }

    #[test]
    fn graph_with_vars() {
        let i = Inventory::from_ini(
            "h",
            "[web]\nw1 a=1 b=\"x y\" c=\"[1,'s']\"\n[web:vars]\ng=True\n",
        )
        .unwrap()
        .inventory;
        assert_eq!(
            i.graph_with_vars(Some("web")),
            "@web:\n  |--w1\n  |  |--{a = 1}\n  |  |--{b = x y}\n  |  |--{c = [1, 's']}\n  \
             |  |--{g = True}\n  |--{g = True}\n"
        );
    }

    #[test]
    fn host_output() {
        let i = inv();
        assert_eq!(i.host_json("web1"), Some(json!({"http_port": 80})));
        assert_eq!(i.host_json("nope"), None);
        assert_eq!(
            i.host_json("localhost"),
            Some(json!({"ansible_connection": "local"}))
        );
    }
}
