//! Custom modules from a `library/` directory, run on the target as
//! Ansible runs them: a Python module gets its arguments as
//! `{"ANSIBLE_MODULE_ARGS": ...}` on stdin, any other script or binary gets
//! the path of an arguments file; either prints its result as JSON.
//!
//! A Python module that imports `ansible.module_utils` needs that package
//! on the target. tutti takes it from the controller's ansible-core
//! installation (or `TUTTI_MODULE_UTILS`), zips it once, and keeps it in
//! `~/.ansible/tmp` on the target under its content hash, so it is sent
//! once per host, not once per task.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::Digest as _;
use tutti_modules::spec::{Kind, ModuleSpec, Support, param};
use tutti_modules::{
    Applied, Args, Cmd, Host, HostRead, Module, ModuleError, ParamError, Plan, Prepared,
};

/// Exit status the launcher uses when the module_utils archive is not on
/// the target yet.
const MISSING_UTILS: i32 = 219;

/// Finds a Python and runs the bootstrap with it; $1 is the archive name
/// ("" when none is needed), $2 the bootstrap, $3 the module name, $4 the
/// interpreter (`ansible_python_interpreter`, "" to discover one).
const LAUNCH_PY: &str = r#"zip=""
if [ -n "$1" ]; then
  zip="${HOME:-/tmp}/.ansible/tmp/$1"
  [ -f "$zip" ] || { echo "tutti: module_utils archive missing" >&2; exit 219; }
fi
if [ -n "$4" ]; then exec "$4" -c "$2" "$zip" "$3"; fi
for py in python3 /usr/bin/python3 /usr/libexec/platform-python python /usr/bin/python; do
  if command -v "$py" >/dev/null 2>&1; then exec "$py" -c "$2" "$zip" "$3"; fi
done
echo "/bin/sh: python: command not found" >&2
exit 127
"#;

/// Runs the module's source (first stdin line, base64) as `__main__`, with
/// the rest of stdin as the module's own stdin.
const BOOT_PY: &str = r#"import sys, io, base64
zp, name = sys.argv[1], sys.argv[2]
if zp:
    sys.path.insert(0, zp)
data = sys.stdin.buffer.read()
nl = data.index(b"\n")
src = base64.b64decode(data[:nl])
sys.stdin = io.TextIOWrapper(io.BytesIO(data[nl + 1:]))
sys.argv = [name]
g = {"__name__": "__main__", "__file__": name, "__builtins__": __builtins__}
exec(compile(src, name, "exec"), g)
"#;

/// Stores the archive (stdin) under $1 in ~/.ansible/tmp, atomically.
const UPLOAD: &str = r#"d="${HOME:-/tmp}/.ansible/tmp"
mkdir -p "$d" && chmod 700 "$d" || exit 1
umask 077
cat > "$d/$1.$$" && mv -f "$d/$1.$$" "$d/$1"
"#;

/// Runs a non-Python module (stdin) with the path of its arguments file
/// ($1 holds the arguments).
const LAUNCH_SCRIPT: &str = r#"t=$(mktemp -d "${TMPDIR:-/tmp}/tutti-module.XXXXXX") || exit 1
trap 'rm -rf "$t"' EXIT
cat > "$t/module" && chmod 700 "$t/module" || exit 1
printf '%s' "$1" > "$t/args"
"$t/module" "$t/args"
"#;

static SPEC: ModuleSpec = ModuleSpec {
    name: "custom",
    short: "A module from a library/ directory.",
    description: "Runs a custom module found in library/ beside the playbook or a role, \
        the configured library path, or a collection's plugins/modules.",
    params: &[
        param("_ansible_check_mode", Kind::Bool, "Set by the engine."),
        param("_ansible_diff", Kind::Bool, "Set by the engine."),
        param("_ansible_verbosity", Kind::Int, "Set by the engine."),
    ],
    check: Support::Partial("as the module itself supports it"),
    diff: Support::Partial("as the module itself supports it"),
    example: "",
    open: true,
    fields: no_fields,
};

fn no_fields() -> Vec<&'static str> {
    Vec::new()
}

/// A custom module file, ready to be prepared with arguments.
pub struct CustomModule {
    name: &'static str,
    source: Arc<Vec<u8>>,
    python: Option<String>,
}

impl CustomModule {
    /// Reads the module at `path`; `python` is `ansible_python_interpreter`.
    pub fn load(name: &str, path: &Path, python: Option<String>) -> Result<Self, String> {
        let source = std::fs::read(path)
            .map_err(|e| format!("could not read module {}: {e}", path.display()))?;
        Ok(CustomModule {
            name: intern(name),
            source: Arc::new(source),
            python,
        })
    }
}

/// Module names live as long as the run; each distinct name is leaked once.
fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = match NAMES.lock() {
        Ok(n) => n,
        Err(p) => p.into_inner(),
    };
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(leaked);
    leaked
}

impl Module for CustomModule {
    fn name(&self) -> &'static str {
        self.name
    }

    fn prepare(&self, mut args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let check_mode = args
            .remove("_ansible_check_mode")
            .as_ref()
            .and_then(tutti_modules::params::to_bool)
            .unwrap_or(false);
        let diff = args
            .remove("_ansible_diff")
            .as_ref()
            .and_then(tutti_modules::params::to_bool)
            .unwrap_or(false);
        let verbosity = args
            .remove("_ansible_verbosity")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        Ok(Box::new(Ready {
            name: self.name,
            source: self.source.clone(),
            python: self.python.clone(),
            args,
            check_mode,
            diff,
            verbosity,
        }))
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
}

struct Ready {
    name: &'static str,
    source: Arc<Vec<u8>>,
    python: Option<String>,
    args: Args,
    check_mode: bool,
    diff: bool,
    verbosity: u64,
}

#[async_trait]
impl Prepared for Ready {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        if !self.check_mode {
            // The module decides what changes: it runs in `apply`.
            return Ok(Plan::Unpredictable {
                reason: format!("remote module ({}) does not support check mode", self.name),
            });
        }
        // In check mode the module itself promises to change nothing.
        let result = self.execute(host).await?;
        if result.get("skipped").and_then(Value::as_bool) == Some(true) {
            let reason = result
                .get("msg")
                .and_then(Value::as_str)
                .unwrap_or("skipped")
                .to_string();
            return Ok(Plan::Unpredictable { reason });
        }
        if truthy(&result, "failed") {
            let mut result = result;
            let msg = match result.remove("msg") {
                Some(Value::String(s)) => s,
                _ => format!("{} failed", self.name),
            };
            return Err(ModuleError::Failed { msg, result });
        }
        if truthy(&result, "changed") {
            Ok(Plan::Change {
                changes: Vec::new(),
                diff: Vec::new(),
                result,
            })
        } else {
            Ok(Plan::InSync { result })
        }
    }

    async fn apply(&self, _plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let mut result = self.execute(host).await?;
        let changed = truthy(&result, "changed");
        let failed = truthy(&result, "failed");
        result.remove("changed");
        result.remove("failed");
        let msg = match result.remove("msg") {
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                result.insert("msg".into(), other);
                None
            }
            None => None,
        };
        Ok(Applied {
            changed,
            failed,
            msg,
            result,
            diff: Vec::new(),
        })
    }
}

fn truthy(m: &Map<String, Value>, key: &str) -> bool {
    m.get(key)
        .and_then(tutti_modules::params::to_bool)
        .unwrap_or(false)
}

impl Ready {
    fn is_python(&self) -> bool {
        let first = self.source.split(|b| *b == b'\n').next().unwrap_or(&[]);
        let first = String::from_utf8_lossy(first);
        (first.starts_with("#!") && first.contains("python"))
            || contains(&self.source, b"AnsibleModule")
    }

    /// The arguments as the module reads them, with Ansible's internal
    /// settings.
    fn module_args(&self) -> Map<String, Value> {
        let mut a = self.args.clone();
        a.insert("_ansible_check_mode".into(), Value::Bool(self.check_mode));
        a.insert("_ansible_diff".into(), Value::Bool(self.diff));
        a.insert("_ansible_verbosity".into(), Value::from(self.verbosity));
        a.insert(
            "_ansible_module_name".into(),
            Value::String(self.name.into()),
        );
        a.insert("_ansible_no_log".into(), Value::Bool(false));
        a.insert("_ansible_debug".into(), Value::Bool(false));
        a.insert("_ansible_version".into(), Value::String("2.19.14".into()));
        a
    }

    /// Runs the module on the host and returns its JSON result (failures
    /// of the module itself are results too; a crash is `MODULE FAILURE`).
    async fn execute(&self, host: &dyn HostRead) -> Result<Map<String, Value>, ModuleError> {
        let out = if self.is_python() {
            self.run_python(host).await?
        } else {
            self.run_script(host).await?
        };
        parse_result(&out)
    }

    async fn run_python(&self, host: &dyn HostRead) -> Result<tutti_modules::Output, ModuleError> {
        let utils = if contains(&self.source, b"module_utils") {
            Some(module_utils_zip().map_err(|msg| ModuleError::Failed {
                msg,
                result: Map::new(),
            })?)
        } else {
            None
        };
        let mut stdin = base64::engine::general_purpose::STANDARD
            .encode(self.source.as_slice())
            .into_bytes();
        stdin.push(b'\n');
        let mut wrapped = Map::new();
        wrapped.insert(
            "ANSIBLE_MODULE_ARGS".into(),
            Value::Object(self.module_args()),
        );
        stdin.extend(Value::Object(wrapped).to_string().into_bytes());
        let zip_name = utils.as_ref().map(|u| u.name.clone()).unwrap_or_default();
        let cmd = Cmd::argv([
            "sh",
            "-c",
            LAUNCH_PY,
            "tutti-module",
            zip_name.as_str(),
            BOOT_PY,
            self.name,
            self.python.as_deref().unwrap_or(""),
        ])
        .stdin(stdin);
        let out = host.probe(&cmd).await?;
        match (&utils, out.rc) {
            (Some(u), MISSING_UTILS) => {
                let up = Cmd::argv(["sh", "-c", UPLOAD, "tutti-upload", u.name.as_str()])
                    .stdin(u.bytes.as_slice());
                let o = host.probe(&up).await?;
                if !o.success() {
                    return Err(ModuleError::Failed {
                        msg: format!(
                            "could not store module_utils on the target: {}",
                            String::from_utf8_lossy(&o.stderr).trim()
                        ),
                        result: Map::new(),
                    });
                }
                Ok(host.probe(&cmd).await?)
            }
            _ => Ok(out),
        }
    }

    async fn run_script(&self, host: &dyn HostRead) -> Result<tutti_modules::Output, ModuleError> {
        let args = self.module_args();
        // Ansible's old-style modules read `k=v` pairs; those that say
        // WANT_JSON (and binaries) read JSON.
        let text = if contains(&self.source, b"WANT_JSON") || !self.source.starts_with(b"#!") {
            Value::Object(args).to_string()
        } else {
            args.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    format!("{k}={}", tutti_modules::cmd::quote(&v))
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let cmd = Cmd::argv(["sh", "-c", LAUNCH_SCRIPT, "tutti-module", text.as_str()])
            .stdin(self.source.as_slice());
        Ok(host.probe(&cmd).await?)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The module's JSON result: from the first line that starts an object to
/// the last that ends one (modules may print noise around it).
fn parse_result(out: &tutti_modules::Output) -> Result<Map<String, Value>, ModuleError> {
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.trim_start().starts_with('{'));
    let end = lines.iter().rposition(|l| l.trim_end().ends_with('}'));
    if let (Some(s), Some(e)) = (start, end)
        && s <= e
        && let Ok(Value::Object(m)) = serde_json::from_str(&lines[s..=e].join("\n"))
    {
        return Ok(m);
    }
    let mut result = Map::new();
    result.insert("module_stdout".into(), Value::String(text.into_owned()));
    result.insert(
        "module_stderr".into(),
        Value::String(String::from_utf8_lossy(&out.stderr).into_owned()),
    );
    result.insert("rc".into(), Value::from(out.rc));
    Err(ModuleError::Failed {
        msg: "MODULE FAILURE\nSee stdout/stderr for the exact error".into(),
        result,
    })
}

/// The zipped `ansible/module_utils` package and the name it is kept
/// under on targets.
struct Utils {
    name: String,
    bytes: Vec<u8>,
}

fn module_utils_zip() -> Result<Arc<Utils>, String> {
    static ZIP: OnceLock<Result<Arc<Utils>, String>> = OnceLock::new();
    ZIP.get_or_init(|| {
        let dir = locate_module_utils().ok_or_else(|| {
            "this module imports ansible.module_utils, which tutti takes from an \
             ansible-core installation on the controller, and none was found: install \
             ansible-core (pip install ansible-core) or set TUTTI_MODULE_UTILS to its \
             ansible/module_utils directory"
                .to_string()
        })?;
        let mut entries = vec![("ansible/__init__.py".to_string(), Vec::new())];
        collect_py(&dir, "ansible/module_utils", &mut entries)
            .map_err(|e| format!("could not read {}: {e}", dir.display()))?;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let bytes = crate::zipstore::build(&entries);
        let hash = hex::encode(sha2::Sha256::digest(&bytes));
        Ok(Arc::new(Utils {
            name: format!("tutti-module_utils-{}.zip", &hash[..16]),
            bytes,
        }))
    })
    .clone()
}

fn collect_py(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            if name != "__pycache__" {
                collect_py(&path, &format!("{prefix}/{name}"), out)?;
            }
        } else if name.ends_with(".py") {
            out.push((format!("{prefix}/{name}"), std::fs::read(&path)?));
        }
    }
    Ok(())
}

/// `TUTTI_MODULE_UTILS`, else the `ansible.module_utils` package the
/// controller's Python imports.
fn locate_module_utils() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("TUTTI_MODULE_UTILS") {
        let d = PathBuf::from(d);
        return d.is_dir().then_some(d);
    }
    for py in ["python3", "python"] {
        let out = std::process::Command::new(py)
            .args([
                "-c",
                "import os, ansible.module_utils as m; print(os.path.dirname(m.__file__))",
            ])
            .stderr(std::process::Stdio::null())
            .output();
        if let Ok(o) = out
            && o.status.success()
        {
            let d = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if d.is_dir() {
                return Some(d);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_found_among_noise_and_crashes_are_module_failures() {
        let out = tutti_modules::Output {
            rc: 0,
            stdout: b"warming up\n{\"changed\": true,\n \"msg\": \"hi\"}\n".to_vec(),
            stderr: Vec::new(),
        };
        let r = parse_result(&out).unwrap();
        assert_eq!(r["msg"], "hi");
        let crash = tutti_modules::Output {
            rc: 1,
            stdout: b"Traceback".to_vec(),
            stderr: b"boom".to_vec(),
        };
        match parse_result(&crash) {
            Err(ModuleError::Failed { msg, result }) => {
                assert!(msg.starts_with("MODULE FAILURE"));
                assert_eq!(result["module_stderr"], "boom");
                assert_eq!(result["rc"], 1);
            }
            other => panic!("{other:?}"),
        }
    }
}
