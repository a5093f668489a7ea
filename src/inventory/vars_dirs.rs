//! `group_vars/` and `host_vars/` directories (Ansible's host_group_vars
//! plugin), next to inventory sources and, later, next to playbooks.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::{Vars, merge_into};
use crate::diagnostic::{Diagnostic, Source};

/// Which of the two directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarsKind {
    Group,
    Host,
}

impl VarsKind {
    pub fn dir_name(self) -> &'static str {
        match self {
            VarsKind::Group => "group_vars",
            VarsKind::Host => "host_vars",
        }
    }
}

/// Variables found for each entity that had any files.
#[derive(Debug, Clone, Default)]
pub struct LoadedVarsDir {
    pub vars: IndexMap<String, Vars>,
    pub warnings: Vec<String>,
}

/// Extensions a vars file may have (besides none).
const EXTENSIONS: [&str; 3] = [".yml", ".yaml", ".json"];

/// Load `base/group_vars/<name>` (or `host_vars`) for each of `names`: the
/// first of `<name>`, `<name>.yml`, `<name>.yaml`, `<name>.json` that
/// exists; when that is a directory, every file in it (recursively, in
/// sorted order, skipping hidden files and `~` backups).
pub fn load_vars_dir(
    base: &Path,
    kind: VarsKind,
    names: &[&str],
) -> Result<LoadedVarsDir, Diagnostic> {
    let mut out = LoadedVarsDir::default();
    let dir = base.join(kind.dir_name());
    if !dir.is_dir() {
        return Ok(out);
    }
    for name in names {
        let mut files = Vec::new();
        for ext in std::iter::once("").chain(EXTENSIONS) {
            let candidate = dir.join(format!("{name}{ext}"));
            if candidate.is_dir() {
                collect_dir(&candidate, &mut files)?;
                break;
            }
            if candidate.is_file() {
                files.push(candidate);
                break;
            }
        }
        if files.is_empty() {
            continue;
        }
        let mut vars = Vars::new();
        for file in files {
            let loaded = load_vars_file(&file)?;
            out.warnings.extend(loaded.1);
            merge_into(&mut vars, &loaded.0);
        }
        out.vars.insert((*name).to_owned(), vars);
    }
    Ok(out)
}

fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Diagnostic> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Diagnostic::parse(format!("Unable to read {}: {e}", dir.display()), None))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let Some(name) = entry.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let ext = entry.extension().and_then(|e| e.to_str());
        if entry.is_dir() && ext.is_none() {
            collect_dir(&entry, files)?;
        } else if entry.is_file()
            && ext.is_none_or(|e| EXTENSIONS.contains(&format!(".{e}").as_str()))
        {
            files.push(entry);
        }
    }
    Ok(())
}

/// One vars file: a YAML/JSON mapping (or empty). Returns vars + warnings.
pub fn load_vars_file(path: &Path) -> Result<(Vars, Vec<String>), Diagnostic> {
    let name = path.to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::parse(format!("Unable to read {name}: {e}"), None))?;
    let source = Source::new(name.as_str(), text);
    // A vaulted file is decrypted by the YAML loader with the run's secrets.
    let loaded = crate::yaml::load(&source)?;
    match loaded.node.to_json() {
        serde_json::Value::Object(map) => Ok((map, loaded.warnings)),
        serde_json::Value::Null => Ok((Vars::new(), loaded.warnings)),
        _ => Err(Diagnostic::parse(
            format!(
                "Invalid vars in {name}: expected a dictionary, got a {}",
                loaded.node.kind_name()
            ),
            Some(loaded.node.span(&source)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_and_directories() {
        let d = tempfile::tempdir().unwrap();
        let gv = d.path().join("group_vars");
        std::fs::create_dir_all(gv.join("web/sub")).unwrap();
        std::fs::write(gv.join("all.yml"), "a: 1\nb: 1\n").unwrap();
        // Only the first match counts: `all` (no extension) is absent, so
        // all.yml wins over all.json.
        std::fs::write(gv.join("all.json"), "{\"a\": 2}").unwrap();
        std::fs::write(gv.join("web/10.yml"), "x: 1\ny: 1\n").unwrap();
        std::fs::write(gv.join("web/20.yml"), "x: 2\n").unwrap();
        std::fs::write(gv.join("web/sub/30"), "z: 3\n").unwrap();
        std::fs::write(gv.join("web/.hidden.yml"), "x: 99\n").unwrap();
        std::fs::write(gv.join("web/old.yml~"), "x: 98\n").unwrap();
        std::fs::write(gv.join("web/notes.txt"), "x: 97\n").unwrap();
        let l = load_vars_dir(d.path(), VarsKind::Group, &["all", "web", "db"]).unwrap();
        assert_eq!(l.vars["all"], *json!({"a": 1, "b": 1}).as_object().unwrap());
        assert_eq!(
            l.vars["web"],
            *json!({"x": 2, "y": 1, "z": 3}).as_object().unwrap()
        );
        assert!(!l.vars.contains_key("db"));
    }

    #[test]
    fn non_mapping_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("host_vars")).unwrap();
        std::fs::write(d.path().join("host_vars/h1.yml"), "- a\n").unwrap();
        let e = load_vars_dir(d.path(), VarsKind::Host, &["h1"]).unwrap_err();
        assert!(e.msg.contains("expected a dictionary"), "{}", e.msg);
    }
}
