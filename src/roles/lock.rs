//! `roles.lock`: the commit and content hash each role from git was
//! installed at, so every checkout of a project gets exactly the same
//! roles (a tutti extension; Ansible has no lock file).
//!
//! The file sits next to the requirements file and is YAML (so it reads
//! like `requirements.yml`), written by tutti with every string in double
//! quotes and entries sorted by name, so diffs stay small:
//!
//! ```yaml
//! # roles.lock: written by `tutti roles install` / `tutti roles update`.
//! # Commit it with requirements.yml; don't edit it by hand.
//! lock_version: 1
//! roles:
//!   - name: "web"
//!     src: "git+https://git.example.com/team/web.git"
//!     version: "v1.0.0"
//!     commit: "9fceb02d0ae598e95dc970b74767f19372d61af8"
//!     sha256: "5d41402abc4b2a76b9719d911017c592..."
//! ```
//!
//! `src` is the source with its scm prefix, `version` the version asked
//! for (`""` for the default branch), `commit` the full SHA it resolved to
//! and `sha256` the [`content_hash`] of the installed tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostic, Source};

/// The lock file's name, next to the requirements file.
pub const FILE_NAME: &str = "roles.lock";

/// One pinned role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub src: String,
    pub version: String,
    pub commit: String,
    pub sha256: String,
}

/// The whole lock file, keyed by role name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    pub roles: BTreeMap<String, Entry>,
}

/// The lock file that belongs to a requirements file.
pub fn path_for(requirements: &Path) -> PathBuf {
    match requirements.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(FILE_NAME),
        _ => PathBuf::from(FILE_NAME),
    }
}

impl Lock {
    /// Reads a lock file; a missing file is an empty lock.
    pub fn read(path: &Path) -> Result<Lock, Diagnostic> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lock::default()),
            Err(e) => {
                return Err(Diagnostic::error(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let src = Source::new(path.to_string_lossy().as_ref(), text);
        let doc = crate::yaml::load(&src)?.node.to_json();
        let bad = |why: &str| {
            Diagnostic::error(format!(
                "{} is not a valid roles.lock ({why}); delete it and run `tutti roles update`",
                path.display()
            ))
        };
        let mut lock = Lock::default();
        if doc.is_null() {
            return Ok(lock);
        }
        match doc.get("lock_version").and_then(serde_json::Value::as_i64) {
            Some(1) => {}
            _ => return Err(bad("lock_version must be 1")),
        }
        let roles = match doc.get("roles") {
            Some(serde_json::Value::Array(a)) => a.clone(),
            Some(serde_json::Value::Null) | None => Vec::new(),
            Some(_) => return Err(bad("roles must be a list")),
        };
        for r in roles {
            let field = |k: &str| -> Result<String, Diagnostic> {
                match r.get(k) {
                    Some(serde_json::Value::String(s)) => Ok(s.clone()),
                    Some(serde_json::Value::Null) | None if k == "version" => Ok(String::new()),
                    _ => Err(bad(&format!("an entry has no '{k}'"))),
                }
            };
            let e = Entry {
                name: field("name")?,
                src: field("src")?,
                version: field("version")?,
                commit: field("commit")?,
                sha256: field("sha256")?,
            };
            lock.roles.insert(e.name.clone(), e);
        }
        Ok(lock)
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let mut out = String::from(
            "# roles.lock: written by `tutti roles install` / `tutti roles update`.\n\
             # Commit it with requirements.yml; don't edit it by hand.\n\
             lock_version: 1\n",
        );
        if self.roles.is_empty() {
            out.push_str("roles: []\n");
            return out;
        }
        out.push_str("roles:\n");
        for e in self.roles.values() {
            out.push_str(&format!("  - name: {}\n", q(&e.name)));
            out.push_str(&format!("    src: {}\n", q(&e.src)));
            out.push_str(&format!("    version: {}\n", q(&e.version)));
            out.push_str(&format!("    commit: {}\n", q(&e.commit)));
            out.push_str(&format!("    sha256: {}\n", q(&e.sha256)));
        }
        out
    }

    /// Writes the lock file (through a temporary file, so a crash never
    /// leaves half a lock).
    pub fn write(&self, path: &Path) -> Result<(), Diagnostic> {
        let tmp = path.with_extension(format!("lock.tmp{}", std::process::id()));
        let err =
            |e: std::io::Error| Diagnostic::error(format!("cannot write {}: {e}", path.display()));
        std::fs::write(&tmp, self.render()).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })
    }
}

/// SHA-256 over a role's tree, hex-encoded: for every regular file and
/// symlink in byte order of its `/`-separated relative path, the path, a
/// NUL, a type byte (`f` file, `x` executable file, `l` symlink), the
/// length of the content as 8 little-endian bytes, and the content (the
/// link target for a symlink). `.git` at the top and
/// `meta/.galaxy_install_info` (written at install time) are left out;
/// directories only count through what they contain.
pub fn content_hash(root: &Path) -> Result<String, Diagnostic> {
    let mut files = Vec::new();
    walk(root, root, &mut files)
        .map_err(|e| Diagnostic::error(format!("cannot read {}: {e}", root.display())))?;
    files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut h = Sha256::new();
    for (rel, path) in files {
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| Diagnostic::error(format!("cannot read {}: {e}", path.display())))?;
        let (kind, content): (u8, Vec<u8>) = if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)
                .map_err(|e| Diagnostic::error(format!("cannot read {}: {e}", path.display())))?;
            (b'l', target.as_os_str().as_encoded_bytes().to_vec())
        } else {
            use std::os::unix::fs::PermissionsExt;
            let data = std::fs::read(&path)
                .map_err(|e| Diagnostic::error(format!("cannot read {}: {e}", path.display())))?;
            let kind = if meta.permissions().mode() & 0o111 != 0 {
                b'x'
            } else {
                b'f'
            };
            (kind, data)
        };
        h.update(rel.as_bytes());
        h.update([0u8, kind]);
        h.update((content.len() as u64).to_le_bytes());
        h.update(&content);
    }
    Ok(h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .map(|r| {
                r.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default();
        if rel == ".git" || rel == "meta/.galaxy_install_info" {
            continue;
        }
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(root, &path, out)?;
        } else if ft.is_file() || ft.is_symlink() {
            out.push((rel, path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_reads_back() {
        let mut lock = Lock::default();
        lock.roles.insert(
            "b".into(),
            Entry {
                name: "b".into(),
                src: "git+file:///tmp/b \"x\".git".into(),
                version: String::new(),
                commit: "0123".into(),
                sha256: "abcd".into(),
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        lock.write(&p).unwrap();
        assert_eq!(Lock::read(&p).unwrap(), lock);
    }

    #[test]
    fn hash_ignores_git_and_install_info_but_sees_content() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("tasks")).unwrap();
        std::fs::create_dir_all(r.join("meta")).unwrap();
        std::fs::write(r.join("tasks/main.yml"), "- debug: msg=hi\n").unwrap();
        let h1 = content_hash(r).unwrap();
        std::fs::create_dir_all(r.join(".git")).unwrap();
        std::fs::write(r.join(".git/HEAD"), "x").unwrap();
        std::fs::write(r.join("meta/.galaxy_install_info"), "version: x\n").unwrap();
        assert_eq!(content_hash(r).unwrap(), h1);
        std::fs::write(r.join("tasks/main.yml"), "- debug: msg=ho\n").unwrap();
        assert_ne!(content_hash(r).unwrap(), h1);
    }
}
