//! Where custom modules live: `library/` beside the playbook or a role's
//! tasks, the configured library path (`ANSIBLE_LIBRARY`, `[defaults]
//! library`), and a collection's `plugins/modules/` for an FQCN.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static LIBRARY_PATH: OnceLock<Vec<PathBuf>> = OnceLock::new();

/// Sets the configured library directories (once, at startup).
pub fn set_library_path(paths: Vec<PathBuf>) {
    let _ = LIBRARY_PATH.set(paths);
}

/// The file of custom module `name` (short, or `ns.collection.name`) for a
/// task whose file is in `task_dir`, if there is one.
pub fn find(name: &str, task_dir: &Path) -> Option<PathBuf> {
    if name.is_empty() || name.contains('/') || name.contains("{{") {
        return None;
    }
    let mut dirs = Vec::new();
    let parts: Vec<&str> = name.split('.').collect();
    let short = match parts.as_slice() {
        [ns, col, short] => {
            for base in collection_roots(task_dir) {
                dirs.push(
                    base.join("ansible_collections")
                        .join(ns)
                        .join(col)
                        .join("plugins/modules"),
                );
            }
            *short
        }
        [_] => name,
        _ => return None,
    };
    if parts.len() == 1 {
        dirs.push(task_dir.join("library"));
        // A role's tasks/ sits beside the role's library/.
        if let Some(role) = task_dir.parent() {
            dirs.push(role.join("library"));
        }
        if let Some(pb) = crate::roles::playbook_dir() {
            dirs.push(pb.join("library"));
        }
        dirs.extend(LIBRARY_PATH.get().into_iter().flatten().cloned());
        if let Some(home) = dirs::home_dir() {
            dirs.push(home.join(".ansible/plugins/modules"));
        }
        dirs.push(PathBuf::from("/usr/share/ansible/plugins/modules"));
    }
    dirs.iter().find_map(|d| module_in(d, short))
}

/// `name` in `dir`: the bare file, or one with a script extension.
fn module_in(dir: &Path, name: &str) -> Option<PathBuf> {
    ["", ".py", ".sh", ".ps1"]
        .iter()
        .map(|ext| dir.join(format!("{name}{ext}")))
        .find(|p| p.is_file() && !p.ends_with("__init__.py"))
}

/// Directories holding `ansible_collections/`: beside the playbook, then
/// `ANSIBLE_COLLECTIONS_PATH`, then the user's default.
fn collection_roots(task_dir: &Path) -> Vec<PathBuf> {
    let mut v = vec![task_dir.join("collections")];
    if let Some(pb) = crate::roles::playbook_dir() {
        v.push(pb.join("collections"));
    }
    if let Some(paths) = std::env::var_os("ANSIBLE_COLLECTIONS_PATH")
        .or_else(|| std::env::var_os("ANSIBLE_COLLECTIONS_PATHS"))
    {
        v.extend(std::env::split_paths(&paths));
    }
    if let Some(home) = dirs::home_dir() {
        v.push(home.join(".ansible/collections"));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_module_beside_the_tasks_and_in_a_collection() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("library")).unwrap();
        std::fs::write(d.path().join("library/hello.py"), "#!/usr/bin/python\n").unwrap();
        let coll = d
            .path()
            .join("collections/ansible_collections/acme/tools/plugins/modules");
        std::fs::create_dir_all(&coll).unwrap();
        std::fs::write(coll.join("probe.py"), "#!/usr/bin/python\n").unwrap();
        assert_eq!(
            find("hello", d.path()),
            Some(d.path().join("library/hello.py"))
        );
        assert_eq!(
            find("acme.tools.probe", d.path()),
            Some(coll.join("probe.py"))
        );
        assert_eq!(find("missing", d.path()), None);
        assert_eq!(find("{{ x }}", d.path()), None);
    }
}
