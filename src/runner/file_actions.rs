//! Controller-side halves of the file modules (Ansible's action plugins):
//! `template` renders on the controller and hands the text to `copy`;
//! `copy`, `script`, `fetch` and `assemble` get their controller paths
//! resolved the way Ansible searches them (the task's `files/` or
//! `templates/` first, then next to the task file, then the playbook's).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::task::{self, Outcome};
use super::walk::HostCtx;
use crate::playbook::model::Task;
use crate::template::{FileOptions, Scope, Var};

/// Finds a controller file for a task: absolute paths as they are; else
/// `<dir>/<subdir>/<name>` then `<dir>/<name>` for the task's directory and
/// the playbook's.
pub fn find(hc: &HostCtx, t: &Task, name: &str, subdir: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    let mut dirs = vec![t.base_dir.clone()];
    // A role's tasks live in <role>/tasks; its files are in <role>/files.
    if t.base_dir.ends_with("tasks")
        && let Some(role) = t.base_dir.parent()
    {
        dirs.insert(0, role.to_path_buf());
    }
    dirs.push(hc.pc.play.dir.clone());
    for d in dirs {
        for candidate in [d.join(subdir).join(p), d.join(p)] {
            if candidate.exists() {
                return Some(candidate);
            }
        }
    }
    None
}

fn text(args: &Map<String, Value>, key: &str) -> Option<String> {
    args.get(key).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

fn truthy(args: &Map<String, Value>, key: &str) -> bool {
    args.get(key)
        .and_then(tutti_modules::params::to_bool)
        .unwrap_or(false)
}

/// Hands the prepared arguments to the module `name` on the host.
async fn hand_to(
    hc: &HostCtx,
    t: &Arc<Task>,
    name: &str,
    args: Map<String, Value>,
    scope: &Scope,
    check: bool,
    delegate: Option<&str>,
) -> Outcome {
    match tutti_modules::find(name) {
        Some(m) => task::run_module_with(hc, t, m, args, scope, check, delegate).await,
        None => Outcome::failed(format!("the {name} module is not available")),
    }
}

/// Resolves `src` of `copy` (unless `remote_src`), keeping a trailing `/`.
pub async fn copy(
    hc: &HostCtx,
    t: &Arc<Task>,
    scope: &Scope,
    check: bool,
    delegate: Option<&str>,
) -> Outcome {
    let mut args = match task::render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let given = |k: &str| args.get(k).is_some_and(|v| !v.is_null());
    if (given("src") || given("content")) && !given("dest") {
        // Ansible's copy action says it before the module would.
        return Outcome::failed("dest is required");
    }
    // An empty `src` is no source at all: the module says so.
    if !truthy(&args, "remote_src")
        && let Some(src) = text(&args, "src").filter(|s| !s.is_empty())
    {
        let trailing = src.ends_with('/') && src.len() > 1;
        let Some(found) = find(hc, t, src.trim_end_matches('/'), "files") else {
            return Outcome::failed(format!(
                "Could not find or access '{src}' on the Ansible Controller."
            ));
        };
        let mut s = found.to_string_lossy().into_owned();
        if trailing {
            s.push('/');
        }
        // `decrypt` (default true): a vaulted source file is copied as its
        // plaintext.
        let decrypt = args
            .get("decrypt")
            .and_then(tutti_modules::params::to_bool)
            .unwrap_or(true);
        args.remove("decrypt");
        if decrypt && found.is_file() {
            match decrypted_copy(&found) {
                Ok(Some(plain)) => {
                    args.remove("src");
                    args.insert("content".into(), Value::String(plain));
                    return hand_to(hc, t, "copy", args, scope, check, delegate).await;
                }
                Ok(None) => {}
                Err(e) => return Outcome::failed(e),
            }
        }
        // A directory holding vaulted files is sent as a decrypted mirror
        // (a temporary tree removed afterwards), so no ciphertext lands.
        let mut mirror = None;
        if decrypt && found.is_dir() {
            match decrypted_mirror(&found) {
                Ok(Some(m)) => {
                    let mut p = m
                        .join(found.file_name().unwrap_or_default())
                        .to_string_lossy()
                        .into_owned();
                    if trailing {
                        p.push('/');
                    }
                    s = p;
                    mirror = Some(m);
                }
                Ok(None) => {}
                Err(e) => return Outcome::failed(e),
            }
        }
        args.insert("src".into(), Value::String(s));
        let out = hand_to(hc, t, "copy", args, scope, check, delegate).await;
        if let Some(m) = mirror {
            let _ = std::fs::remove_dir_all(m);
        }
        return out;
    }
    hand_to(hc, t, "copy", args, scope, check, delegate).await
}

/// Whether the file begins with the vault header (only its first bytes
/// are read: a tree may hold large files).
fn starts_vaulted(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 14];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"$ANSIBLE_VAULT")
}

/// When the tree under `dir` holds vaulted files: a temporary directory
/// with a copy of the tree (under the same name), those files decrypted.
fn decrypted_mirror(dir: &Path) -> Result<Option<std::path::PathBuf>, String> {
    fn vaulted(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                vaulted(&p, out);
            } else if p.is_file() && starts_vaulted(&p) {
                out.push(p);
            }
        }
    }
    let mut found = Vec::new();
    vaulted(dir, &mut found);
    if found.is_empty() {
        return Ok(None);
    }
    // Decrypt first: a missing password fails before anything is copied.
    let mut plain = Vec::new();
    for f in &found {
        let bytes = std::fs::read(f).map_err(|e| format!("Could not read {}: {e}", f.display()))?;
        plain.push((f.clone(), plaintext(bytes, f)?));
    }
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = std::env::temp_dir().join(format!("tutti-copy-{}-{n}", std::process::id()));
    let top = root.join(dir.file_name().unwrap_or_default());
    // Private: the mirror holds plaintext for the moment of the copy.
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&root)
            .map_err(|e| format!("Could not stage {}: {e}", dir.display()))?;
    }
    let copy = std::process::Command::new("cp")
        .arg("-a")
        .arg(dir)
        .arg(&top)
        .status();
    if !copy.is_ok_and(|s| s.success()) {
        let _ = std::fs::remove_dir_all(&root);
        return Err(format!("Could not stage {} for decryption", dir.display()));
    }
    for (f, bytes) in plain {
        let rel = f.strip_prefix(dir).unwrap_or(&f);
        if let Err(e) = std::fs::write(top.join(rel), bytes) {
            let _ = std::fs::remove_dir_all(&root);
            return Err(format!("Could not stage {}: {e}", f.display()));
        }
    }
    Ok(Some(root))
}

/// `template`: render on the controller, then `copy` the text.
pub async fn template(
    hc: &HostCtx,
    t: &Arc<Task>,
    scope: &Scope,
    check: bool,
    delegate: Option<&str>,
) -> Outcome {
    let run = &hc.pc.run;
    let mut args = match task::render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let Some(src) = text(&args, "src") else {
        return Outcome::failed("src is required");
    };
    if text(&args, "dest").is_none() {
        return Outcome::failed("dest is required");
    }
    let Some(path) = find(hc, t, &src, "templates") else {
        return Outcome::failed(format!("Could not find or access '{src}'"));
    };
    let source = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => return Outcome::failed(format!("Could not read '{}': {e}", path.display())),
    };
    // A vaulted template is decrypted first, as in Ansible.
    let source = match plaintext(source, &path) {
        Ok(s) => s,
        Err(e) => return Outcome::failed(e),
    };
    let source = match String::from_utf8(source) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::failed(format!(
                "template {} is not valid UTF-8 (invalid byte at offset {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ));
        }
    };
    let mut opts = FileOptions::default();
    if let Some(v) = args
        .get("trim_blocks")
        .and_then(tutti_modules::params::to_bool)
    {
        opts.trim_blocks = v;
    }
    if let Some(v) = args
        .get("lstrip_blocks")
        .and_then(tutti_modules::params::to_bool)
    {
        opts.lstrip_blocks = v;
    }
    if let Some(v) = text(&args, "newline_sequence") {
        opts.newline_sequence = v.replace("\\r", "\r").replace("\\n", "\n");
    }
    opts.block_start_string = text(&args, "block_start_string");
    opts.block_end_string = text(&args, "block_end_string");
    opts.variable_start_string = text(&args, "variable_start_string");
    opts.variable_end_string = text(&args, "variable_end_string");
    opts.comment_start_string = text(&args, "comment_start_string");
    opts.comment_end_string = text(&args, "comment_end_string");

    // Ansible's template variables.
    let mut s = scope.clone();
    let abs = path.canonicalize().unwrap_or_else(|_| path.clone());
    let set = |s: &mut Scope, k: &str, v: Value| {
        s.set(
            k,
            Var {
                value: v,
                trusted: false,
            },
        )
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    set(&mut s, "template_host", Value::String(host.clone()));
    set(&mut s, "template_path", Value::String(src.clone()));
    set(
        &mut s,
        "template_fullpath",
        Value::String(abs.to_string_lossy().into_owned()),
    );
    set(
        &mut s,
        "template_destpath",
        Value::String(text(&args, "dest").unwrap_or_default()),
    );
    set(
        &mut s,
        "template_run_date",
        Value::String(
            chrono::Local::now()
                .format("%Y-%m-%d %H:%M:%S%.6f")
                .to_string(),
        ),
    );
    set(
        &mut s,
        "template_uid",
        Value::String(crate::connection::resolve::local_user()),
    );
    // A play, task or host variable `ansible_managed` wins over the
    // configured string, as in Ansible.
    if s.get_raw("ansible_managed").is_none() {
        let configured = run
            .session
            .config
            .get("defaults", "ansible_managed", "ANSIBLE_MANAGED")
            .unwrap_or_else(|| "Ansible managed".into());
        let mtime = std::fs::metadata(&abs)
            .and_then(|m| m.modified())
            .map(chrono::DateTime::<chrono::Local>::from)
            .unwrap_or_else(|_| chrono::Local::now());
        let managed = ansible_managed(&configured, mtime);
        // Configuration is trusted: a template in it renders when the
        // variable is used, as in Ansible.
        s.set(
            "ansible_managed",
            Var {
                value: Value::String(managed),
                trusted: true,
            },
        );
    }
    let name = abs.to_string_lossy().into_owned();
    let rendered = match run.templar.render_file(&source, &name, &s, &opts) {
        Ok(r) => r,
        Err(e) => {
            return Outcome::failed(format!(
                "AnsibleError: template error while templating {name}: {e}"
            ));
        }
    };
    let out_encoding = text(&args, "output_encoding");
    for k in [
        "src",
        "trim_blocks",
        "lstrip_blocks",
        "newline_sequence",
        "block_start_string",
        "block_end_string",
        "variable_start_string",
        "variable_end_string",
        "comment_start_string",
        "comment_end_string",
        "output_encoding",
    ] {
        args.remove(k);
    }
    // `output_encoding`: the bytes travel as lossless text (see
    // `tutti_modules::text`), so the module writes exactly them.
    let rendered = match out_encoding.filter(|e| !e.is_empty()) {
        Some(enc) => match super::encoding::encode(&rendered, &enc) {
            Ok(bytes) => tutti_modules::text::decode(&bytes),
            Err(e) => return Outcome::failed(format!("output_encoding: {e}")),
        },
        None => rendered,
    };
    args.insert("content".into(), Value::String(rendered));
    // `mode: preserve` is the template file's own mode.
    if args.get("mode").and_then(Value::as_str) == Some("preserve") {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(&path) {
            let mode = meta.permissions().mode() & 0o7777;
            args.insert("mode".into(), Value::String(format!("0{mode:o}")));
        }
    }
    // A directory `dest` receives the file under the template's name.
    if let Some(base) = path.file_name() {
        args.insert(
            "_original_basename".into(),
            Value::String(base.to_string_lossy().into_owned()),
        );
    }
    let mut out = hand_to(hc, t, "copy", args, scope, check, delegate).await;
    // Ansible reports the rendered file's source (a temporary file it
    // uploaded); the template itself is the closest true answer.
    if out.result.contains_key("dest") && !out.result.contains_key("src") {
        out.result.insert("src".into(), Value::String(name));
    }
    out
}

/// `script`: the first word is a controller file.
pub async fn script(
    hc: &HostCtx,
    t: &Arc<Task>,
    scope: &Scope,
    check: bool,
    delegate: Option<&str>,
) -> Outcome {
    let mut args = match task::render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let key = if args.contains_key("cmd") {
        "cmd"
    } else {
        "_raw_params"
    };
    if let Some(line) = text(&args, key) {
        let line = line.trim_start().to_string();
        let (first, rest) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let Some(found) = find(hc, t, first, "files") else {
            return Outcome::failed(format!(
                "Could not find or access '{first}' on the Ansible Controller."
            ));
        };
        let quoted = tutti_modules::quote(&found.to_string_lossy());
        let joined = if rest.is_empty() {
            quoted
        } else {
            format!("{quoted} {rest}")
        };
        args.insert(key.into(), Value::String(joined));
    }
    hand_to(hc, t, "script", args, scope, check, delegate).await
}

/// `fetch`: `dest` is relative to the playbook; the host name sets the layout.
pub async fn fetch(
    hc: &HostCtx,
    t: &Arc<Task>,
    scope: &Scope,
    check: bool,
    delegate: Option<&str>,
) -> Outcome {
    let mut args = match task::render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    if let Some(dest) = text(&args, "dest") {
        let p = Path::new(&dest);
        if !p.is_absolute() {
            let mut abs = hc.pc.play.dir.join(p).to_string_lossy().into_owned();
            if dest.ends_with('/') && !abs.ends_with('/') {
                abs.push('/');
            }
            args.insert("dest".into(), Value::String(abs));
        }
    }
    args.insert("_inventory_hostname".into(), Value::String(hc.host.clone()));
    hand_to(hc, t, "fetch", args, scope, check, delegate).await
}

/// `assemble` with `remote_src: false`: fragments on the controller.
pub async fn assemble(
    hc: &HostCtx,
    t: &Arc<Task>,
    scope: &Scope,
    check: bool,
    delegate: Option<&str>,
) -> Outcome {
    let mut args = match task::render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let remote = args
        .get("remote_src")
        .and_then(tutti_modules::params::to_bool)
        .unwrap_or(true);
    if !remote && let Some(src) = text(&args, "src") {
        let Some(found) = find(hc, t, &src, "files") else {
            return Outcome::failed(format!(
                "Could not find or access '{src}' on the Ansible Controller."
            ));
        };
        args.insert(
            "src".into(),
            Value::String(found.to_string_lossy().into_owned()),
        );
    }
    hand_to(hc, t, "assemble", args, scope, check, delegate).await
}

/// Resolves `src` of `unarchive` (unless `remote_src` or a URL).
pub async fn unarchive(
    hc: &HostCtx,
    t: &Arc<Task>,
    scope: &Scope,
    check: bool,
    delegate: Option<&str>,
) -> Outcome {
    let mut args = match task::render_args(hc, t, scope) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let remote = truthy(&args, "remote_src")
        || args.get("copy").and_then(tutti_modules::params::to_bool) == Some(false);
    if !remote
        && let Some(src) = text(&args, "src")
        && !src.contains("://")
    {
        let Some(found) = find(hc, t, &src, "files") else {
            return Outcome::failed(format!(
                "Could not find or access '{src}' on the Ansible Controller."
            ));
        };
        args.insert(
            "src".into(),
            Value::String(found.to_string_lossy().into_owned()),
        );
    }
    hand_to(hc, t, "unarchive", args, scope, check, delegate).await
}

/// The plaintext of a vaulted controller file (None when it is not vaulted);
/// only the header is read to tell.
fn decrypted_copy(path: &Path) -> Result<Option<String>, String> {
    if !starts_vaulted(path) {
        return Ok(None);
    }
    let bytes =
        std::fs::read(path).map_err(|e| format!("Could not read {}: {e}", path.display()))?;
    let plain = plaintext(bytes, path)?;
    Ok(Some(String::from_utf8_lossy(&plain).into_owned()))
}

/// Controller file bytes, decrypted when they are vault data.
fn plaintext(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>, String> {
    if !bytes.starts_with(b"$ANSIBLE_VAULT") {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| format!("{e} for {}", path.display()))?;
    match crate::vault::decrypt_global(text) {
        Ok(plain) => Ok(plain.into_bytes()),
        // Ansible's loader says it this way for a file.
        Err(crate::vault::VaultError::NoSecrets) => Err(format!(
            "A vault password or secret must be specified to decrypt {}",
            path.display()
        )),
        Err(e) => Err(format!("{e} for {}", path.display())),
    }
}

/// Ansible's `ansible_managed` string: `{file}`, `{host}`, `{uid}` become
/// the expressions `{{ template_path }}`, `{{ template_host }}`,
/// `{{ template_uid }}` (Python's `str.format`, so `{{` is a literal
/// brace), never the values themselves, so a file name cannot inject a
/// template; then the template file's modification time goes through
/// `strftime`.
fn ansible_managed(configured: &str, mtime: chrono::DateTime<chrono::Local>) -> String {
    let mut out = String::new();
    let mut rest = configured;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        let field = [
            ("{file}", "{{ template_path }}"),
            ("{host}", "{{ template_host }}"),
            ("{uid}", "{{ template_uid }}"),
        ]
        .into_iter()
        .find(|(f, _)| tail.starts_with(f));
        match field {
            Some((f, expr)) => {
                out.push_str(expr);
                rest = &tail[f.len()..];
            }
            None => {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    // An unknown `%` directive would make chrono's formatter fail: then
    // the text stays as it is.
    let mut timed = String::new();
    use std::fmt::Write as _;
    match write!(timed, "{}", mtime.format(&out)) {
        Ok(()) => timed,
        Err(_) => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansible_managed_formats_like_python() {
        let t = chrono::TimeZone::with_ymd_and_hms(&chrono::Local, 2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(
            ansible_managed("m: {file} %Y by {uid} on {host} {{x}}", t),
            "m: {{ template_path }} 2024 by {{ template_uid }} on {{ template_host }} {x}"
        );
    }
}
