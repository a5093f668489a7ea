//! Inventory loading end to end through the library API (`tutti::inventory`):
//! fixture files in every format, directory sources with group_vars/host_vars,
//! scripts, and the exact `ansible-inventory`-shaped output.

use serde_json::json;
use tutti::inventory::Inventory;
use tutti::inventory::output::to_json_string;

const FIX: &str = "tests/fixtures/inventory";

fn load(names: &[&str]) -> tutti::inventory::Loaded {
    let sources: Vec<String> = names.iter().map(|n| format!("{FIX}/{n}")).collect();
    match Inventory::load(&sources) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn ini_with_everything() {
    let l = load(&["everything.ini"]);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let inv = &l.inventory;
    assert_eq!(
        inv.hosts(),
        vec![
            "mail.example.com",
            "web01.example.com",
            "web02.example.com",
            "web03.example.com",
            "web-a",
            "web-b",
            "jump",
            "db1",
            "db3",
            "db5",
            "mon1"
        ]
    );
    // `jump` was ungrouped until [web] named it.
    assert_eq!(inv.group_names("jump"), vec!["prod", "web"]);
    assert_eq!(inv.group_names("mail.example.com"), vec!["ungrouped"]);
    let jump = inv.host_vars("jump");
    assert_eq!(jump["ansible_port"], json!(2222));
    assert_eq!(jump["ansible_host"], json!("192.0.2.50"));
    // web (deeper) beats prod; inline host vars beat both.
    assert_eq!(jump["http_port"], json!(8080));
    assert_eq!(inv.host_vars("web01.example.com")["http_port"], json!(80));
    assert_eq!(inv.host_vars("db3")["http_port"], json!(1));
    let a = inv.host_vars("web-a");
    assert_eq!(a["weight"], json!(1.5));
    assert_eq!(a["enabled"], json!(true));
    assert_eq!(a["label"], json!("front end"));
    assert_eq!(a["tags"], json!(["a", "b"]));
    // :vars values go through Python's literal_eval in ansible-core 2.19.
    assert_eq!(a["has_java"], json!(false));
    // ansible_group_priority configures the group; it is not a variable.
    assert!(!a.contains_key("ansible_group_priority"));
    assert_eq!(
        inv.graph(None),
        "@all:
  |--@ungrouped:
  |  |--mail.example.com
  |--@prod:
  |  |--@web:
  |  |  |--web01.example.com
  |  |  |--web02.example.com
  |  |  |--web03.example.com
  |  |  |--web-a
  |  |  |--web-b
  |  |  |--jump
  |  |--@db:
  |  |  |--db1
  |  |  |--db3
  |  |  |--db5
  |  |--@monitoring:
  |  |  |--mon1
"
    );
    let groups = inv.groups();
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        vec!["all", "ungrouped", "web", "db", "prod", "monitoring"]
    );
    assert_eq!(groups["prod"].len(), 10);
    assert_eq!(groups["ungrouped"], vec!["mail.example.com"]);
}

#[test]
fn yaml_list_output_is_ansible_inventory_list() {
    let l = load(&["hosts.yml"]);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let inv = &l.inventory;
    let db = json!({"enabled": true, "mode": 420, "ntp": "time.example.com"});
    let web = json!({"enabled": true, "http_port": 80, "mode": 420, "ntp": "time.example.com"});
    let expected = json!({
        "_meta": {"hostvars": {
            "db1": db,
            "db2": {"enabled": true, "mode": 420, "ntp": "time.example.com",
                    "secret": "$ANSIBLE_VAULT;1.1;AES256\n6162\n"},
            "lonely": db,
            "web1": {"ansible_host": "10.0.0.5", "enabled": true, "http_port": 80,
                     "mode": 420, "ntp": "time.example.com"},
            "web10": {"ansible_port": 2222, "enabled": true, "http_port": 80,
                      "mode": 420, "ntp": "time.example.com"},
            "web11": {"ansible_port": 2222, "enabled": true, "http_port": 80,
                      "mode": 420, "ntp": "time.example.com"},
            "web2": web,
        }},
        "all": {"children": ["ungrouped", "web", "db"]},
        "db": {"children": ["replicas"], "hosts": ["db1"]},
        "replicas": {"hosts": ["db2"]},
        "ungrouped": {"hosts": ["lonely"]},
        "web": {"hosts": ["web1", "web2", "web10", "web11"]},
    });
    assert_eq!(inv.list_json(), expected);
    // The exact text ansible-inventory --list prints: sorted keys, indent 4.
    let text = to_json_string(&inv.list_json());
    assert!(text.starts_with("{\n    \"_meta\": {\n        \"hostvars\": {\n            \"db1\": {\n                \"enabled\": true,\n"));
    assert!(text.ends_with("    \"web\": {\n        \"hosts\": [\n            \"web1\",\n            \"web2\",\n            \"web10\",\n            \"web11\"\n        ]\n    }\n}"));
    assert_eq!(
        inv.graph(None),
        "@all:\n  |--@ungrouped:\n  |  |--lonely\n  |--@web:\n  |  |--web1\n  |  |--web2\n  \
         |  |--web10\n  |  |--web11\n  |--@db:\n  |  |--@replicas:\n  |  |  |--db2\n  |  |--db1\n"
    );
    assert_eq!(inv.group_names("db2"), vec!["db", "replicas"]);
    assert_eq!(
        to_json_string(&inv.host_json("web10").unwrap()),
        "{\n    \"ansible_port\": 2222,\n    \"enabled\": true,\n    \"http_port\": 80,\n    \
         \"mode\": 420,\n    \"ntp\": \"time.example.com\"\n}"
    );
}

#[test]
fn json_inventory_uses_the_yaml_format() {
    let l = load(&["hosts.json"]);
    let inv = &l.inventory;
    assert_eq!(inv.hosts(), vec!["w1", "w2", "d1"]);
    // Quoted in JSON, so a string, not YAML 1.1's boolean.
    assert_eq!(inv.host_vars("w1")["on"], json!("yes"));
    assert_eq!(inv.host_vars("w1")["port"], json!(8080));
    assert_eq!(
        inv.graph(None),
        "@all:\n  |--@ungrouped:\n  |--@web:\n  |  |--w1\n  |  |--w2\n  |--@db:\n  |  |--d1\n"
    );
}

#[test]
fn directory_source_with_group_and_host_vars() {
    let l = load(&["dir"]);
    // README.md and old.bak are skipped, not parsed.
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let inv = &l.inventory;
    assert_eq!(inv.hosts(), vec!["web1", "web2", "db1", "web3"]);
    let layers = inv.var_layers("web1");
    assert_eq!(
        serde_json::Value::Object(layers.group_vars_all.clone()),
        json!({"ntp": "ntp.example.com", "tier": "from-all"})
    );
    // group_vars/web/ is a directory: files merge in sorted order.
    assert_eq!(
        serde_json::Value::Object(layers.group_vars.clone()),
        json!({"http_port": 8081, "tier": "web"})
    );
    assert_eq!(
        serde_json::Value::Object(layers.host_vars.clone()),
        json!({"http_port": 9090})
    );
    assert_eq!(inv.host_vars("web1")["http_port"], json!(9090));
    // Inline host var (81) beats group_vars/web (8081).
    assert_eq!(inv.host_vars("web2")["http_port"], json!(81));
    assert_eq!(inv.host_vars("db1")["db_engine"], json!("postgres"));
    assert_eq!(inv.host_vars("db1")["tier"], json!("from-all"));
    // Same depth: frontend (priority 10) applies after backend (1).
    let web3 = inv.var_layers("web3");
    assert_eq!(web3.group_inventory["tier"], json!("frontend-inventory"));
    // ...but group_vars/web beats inventory group vars of any depth.
    assert_eq!(inv.host_vars("web3")["tier"], json!("web"));
    assert_eq!(inv.host_vars("web3")["ansible_host"], json!("10.0.0.3"));
    assert_eq!(
        inv.graph(None),
        "@all:\n  |--@ungrouped:\n  |--@web:\n  |  |--@frontend:\n  |  |  |--web3\n  \
         |  |--@backend:\n  |  |  |--web3\n  |  |--web1\n  |  |--web2\n  |--@db:\n  |  |--db1\n"
    );
    assert_eq!(
        inv.list_json()["web"],
        json!({"children": ["frontend", "backend"], "hosts": ["web1", "web2"]})
    );
}

#[test]
fn group_vars_next_to_an_inventory_file() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("hosts"), "[web]\nw1\n").unwrap();
    std::fs::create_dir(d.path().join("group_vars")).unwrap();
    std::fs::write(d.path().join("group_vars/web"), "from_file: yes\n").unwrap();
    let l = Inventory::load(&[d.path().join("hosts").display().to_string()]).unwrap();
    assert_eq!(l.inventory.host_vars("w1")["from_file"], json!(true));
}

#[test]
fn broken_yaml_is_a_parse_error_with_a_caret() {
    let e = Inventory::load(&[format!("{FIX}/broken.yml")]).unwrap_err();
    assert_eq!(e.exit_code(), 4);
    assert_eq!(
        e.to_string(),
        "[ERROR]: Syntax Error while loading YAML: while parsing a flow mapping, did not find \
         expected ',' or '}'
Origin: tests/fixtures/inventory/broken.yml:4:6

2   hosts:
3     a: {x: 1
4     b:
       ^ column 6
"
    );
}

#[test]
fn broken_ini_line_is_a_parse_error_with_a_caret() {
    let e = Inventory::load(&[format!("{FIX}/broken.ini")]).unwrap_err();
    assert_eq!(e.exit_code(), 4);
    assert_eq!(
        e.to_string(),
        "[ERROR]: Expected key=value host variable assignment, got: ansible_port
Origin: tests/fixtures/inventory/broken.ini:3:6

1 [web]
2 web1 ansible_port=22
3 web2 ansible_port
       ^ column 6
"
    );
}

#[cfg(unix)]
fn write_script(dir: &std::path::Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let written = std::fs::write(&path, body)
        .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)));
    if let Err(e) = written {
        panic!("writing {}: {e}", path.display());
    }
    path.display().to_string()
}

#[cfg(unix)]
#[test]
fn script_with_meta() {
    let d = tempfile::tempdir().unwrap();
    let script = write_script(
        d.path(),
        "inv.sh",
        r#"#!/bin/sh
if [ "$1" = "--list" ]; then
cat <<'JSON'
{
  "web": {"hosts": ["w1", "w2"], "vars": {"http_port": 80}, "children": ["edge"]},
  "edge": ["e1"],
  "solo": {"only_var": 1},
  "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1"}}}
}
JSON
else
  echo "should not be called: $*" >&2; exit 3
fi
"#,
    );
    let l = Inventory::load(&[script]).unwrap();
    let inv = &l.inventory;
    // edge sits under web, one level below solo.
    assert_eq!(inv.hosts(), vec!["w1", "w2", "solo", "e1"]);
    assert_eq!(inv.host_vars("w1")["ansible_host"], json!("10.0.0.1"));
    assert_eq!(inv.host_vars("e1")["http_port"], json!(80));
    assert_eq!(inv.host_vars("solo")["only_var"], json!(1));
    assert_eq!(inv.group_names("e1"), vec!["edge", "web"]);
}

#[cfg(unix)]
#[test]
fn script_without_meta_is_asked_per_host() {
    let d = tempfile::tempdir().unwrap();
    let script = write_script(
        d.path(),
        "inv.sh",
        r#"#!/bin/sh
case "$1" in
  --list) echo '{"db": {"hosts": ["d1", "d2"]}}' ;;
  --host) echo "{\"me\": \"$2\"}" ;;
esac
"#,
    );
    let inv = Inventory::load(&[script]).unwrap().inventory;
    assert_eq!(inv.host_vars("d2")["me"], json!("d2"));
}

#[cfg(unix)]
#[test]
fn failing_script_reports_its_stderr() {
    let d = tempfile::tempdir().unwrap();
    let script = write_script(
        d.path(),
        "bad.sh",
        "#!/bin/sh\necho 'no cloud creds' >&2\nexit 1\n",
    );
    let e = Inventory::load(std::slice::from_ref(&script)).unwrap_err();
    assert_eq!(
        e.msg,
        format!("Inventory script ({script}) had an execution error: no cloud creds")
    );
    let script = write_script(d.path(), "junk.sh", "#!/bin/sh\necho 'not json'\n");
    let e = Inventory::load(&[script]).unwrap_err();
    assert!(
        e.msg
            .starts_with("failed to parse executable inventory script results"),
        "{}",
        e.msg
    );
}

#[test]
fn inline_list_missing_files_and_several_sources() {
    let l = Inventory::load(&["h1,h2:2200,".to_owned()]).unwrap();
    assert_eq!(l.inventory.hosts(), vec!["h1", "h2"]);
    assert_eq!(l.inventory.host_vars("h2")["ansible_port"], json!(2200));
    assert_eq!(l.inventory.group_names("h1"), vec!["ungrouped"]);

    let l = Inventory::load(&["/nonexistent/inventory".to_owned()]).unwrap();
    assert_eq!(
        l.warnings,
        vec![
            "Unable to parse /nonexistent/inventory as an inventory source",
            "No inventory was parsed, only implicit localhost is available"
        ]
    );
    assert!(l.inventory.hosts().is_empty());
    assert_eq!(
        l.inventory.select("localhost").unwrap().hosts,
        vec!["localhost"]
    );
    assert!(l.inventory.select("all").unwrap().hosts.is_empty());

    let l = load(&["hosts.json", "everything.ini"]);
    assert_eq!(l.inventory.hosts().len(), 3 + 11);
}

#[test]
fn patterns_against_fixtures() {
    let inv = load(&["everything.ini"]).inventory;
    let sel = |p: &str| inv.select(p).unwrap().hosts;
    assert_eq!(
        sel("web[0:2]"),
        vec![
            "web01.example.com",
            "web02.example.com",
            "web03.example.com"
        ]
    );
    assert_eq!(sel("db:&prod:!db3"), vec!["db1", "db5"]);
    assert_eq!(
        sel("*.example.com:!web02*"),
        vec!["mail.example.com", "web01.example.com", "web03.example.com"]
    );
    assert_eq!(sel("~web-[ab]"), vec!["web-a", "web-b"]);
    assert_eq!(sel("monitoring,jump"), vec!["mon1", "jump"]);
    let s = inv.select("web:nosuch").unwrap();
    assert_eq!(
        s.warnings,
        vec!["Could not match supplied host pattern, ignoring: nosuch"]
    );
}
