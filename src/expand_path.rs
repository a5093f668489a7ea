//! `$VAR` and `~` in path arguments, expanded on the target the way
//! Ansible expands `type='path'` module arguments there (Python's
//! `expandvars`, then `expanduser`, in the environment of the user the
//! module runs as): `dest: ~/.bashrc`, `src: $HOME/.ssh/authorized_keys`.

use serde_json::Value;
use tutti_modules::spec::{Kind, ModuleSpec};
use tutti_modules::{Args, HostError, HostRead, Module};

/// Rewrites the path arguments of `module` that hold `~` or `$`, asking the
/// host once for what they need. Arguments that are controller paths
/// (`src` without `remote_src`) are left alone.
pub async fn expand(
    module: &dyn Module,
    args: &mut Args,
    host: &dyn HostRead,
) -> Result<(), HostError> {
    let spec = module.spec();
    let keys = path_keys(spec, args);
    let mut values: Vec<(String, String)> = keys
        .into_iter()
        .filter_map(|k| match args.get(&k) {
            Some(Value::String(s)) if tutti_modules::expand::may_expand(s) => Some((k, s.clone())),
            _ => None,
        })
        .collect();
    if values.is_empty() {
        return Ok(());
    }
    let mut refs: Vec<&mut String> = values.iter_mut().map(|(_, v)| v).collect();
    tutti_modules::expand::expand_all(host, &mut refs).await?;
    for (k, v) in values {
        args.insert(k, Value::String(v));
    }
    Ok(())
}

/// The argument keys (names or aliases) whose parameter is a target path.
fn path_keys(spec: &ModuleSpec, args: &Args) -> Vec<String> {
    let remote_src = match (args.get("remote_src"), spec.param("remote_src")) {
        (Some(v), _) => tutti_modules::params::to_bool(v).unwrap_or(false),
        (None, Some(p)) => p.default == Some("true"),
        (None, None) => true,
    };
    args.keys()
        .filter(|k| {
            spec.param(k)
                .is_some_and(|p| p.kind == Kind::Path && (p.name != "src" || remote_src))
        })
        .cloned()
        .collect()
}
