//! Ansible's Jinja tests (`x is failed`, `v is version('2.0', '>=')`, ...)
//! that minijinja lacks or defines differently from Jinja2.

use std::path::Path;

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Environment, Error, Value};

use super::filters::{Args, err, items, regex_compile, truthy};
use super::pyrepr::{as_f64, is_float, py_str};
use super::version;

fn result_flag(v: &Value, test: &str, key: &str, default: bool) -> Result<bool, Error> {
    if v.kind() != ValueKind::Map {
        return Err(err(format!(
            "The '{test}' test expects a dictionary, but got '{}'",
            py_str(v)
        )));
    }
    let f = v.get_attr(key)?;
    Ok(if f.is_undefined() || f.is_none() {
        default
    } else {
        if f.kind() == ValueKind::String {
            truthy(&f)
        } else {
            f.is_true()
        }
    })
}

fn t_failed(v: &Value) -> Result<bool, Error> {
    result_flag(v, "failed", "failed", false)
}

fn t_succeeded(v: &Value) -> Result<bool, Error> {
    result_flag(v, "succeeded", "failed", false).map(|f| !f)
}

fn t_changed(v: &Value) -> Result<bool, Error> {
    if v.kind() != ValueKind::Map {
        return result_flag(v, "changed", "changed", false);
    }
    if result_flag(v, "changed", "changed", false)? {
        return Ok(true);
    }
    // A loop result is changed if any of its items is.
    let results = v.get_attr("results")?;
    if results.kind() == ValueKind::Seq {
        for r in items(&results)? {
            if r.kind() == ValueKind::Map && result_flag(&r, "changed", "changed", false)? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn t_skipped(v: &Value) -> Result<bool, Error> {
    result_flag(v, "skipped", "skipped", false)
}

fn t_unreachable(v: &Value) -> Result<bool, Error> {
    result_flag(v, "unreachable", "unreachable", false)
}

fn t_reachable(v: &Value) -> Result<bool, Error> {
    t_unreachable(v).map(|u| !u)
}

fn t_timedout(v: &Value) -> Result<bool, Error> {
    if v.kind() != ValueKind::Map {
        return result_flag(v, "timedout", "timedout", false);
    }
    let t = v.get_attr("timedout")?;
    Ok(t.kind() == ValueKind::Map && t.get_attr("period").is_ok_and(|p| !p.is_undefined()))
}

fn t_finished(v: &Value) -> Result<bool, Error> {
    if v.kind() != ValueKind::Map {
        return result_flag(v, "finished", "finished", true);
    }
    let f = v.get_attr("finished")?;
    Ok(f.is_undefined() || super::filters::to_int_pub(&f) == Some(1))
}

fn t_started(v: &Value) -> Result<bool, Error> {
    if v.kind() != ValueKind::Map {
        return result_flag(v, "started", "started", false);
    }
    let f = v.get_attr("started")?;
    Ok(!f.is_undefined() && super::filters::to_int_pub(&f) == Some(1))
}

fn regex_test(v: &Value, args: Args, mode: &str) -> Result<bool, Error> {
    let pattern = args.string(0, "pattern").unwrap_or_default();
    let ignorecase = args.bool(1, "ignorecase", false);
    let multiline = args.bool(2, "multiline", false);
    let mode = args
        .string(3, "match_type")
        .unwrap_or_else(|| mode.to_string());
    let text = py_str(v);
    let re = regex_compile(&pattern, ignorecase, multiline)?;
    match mode.as_str() {
        "match" => re.is_match_at_start(&text),
        "fullmatch" => regex_compile(&format!("(?:{pattern})\\z"), ignorecase, multiline)?
            .is_match_at_start(&text),
        _ => re.is_match(&text),
    }
}

fn t_match(v: &Value, a: Rest<Value>, kw: Kwargs) -> Result<bool, Error> {
    regex_test(v, Args::new(a, kw), "match")
}

fn t_search(v: &Value, a: Rest<Value>, kw: Kwargs) -> Result<bool, Error> {
    regex_test(v, Args::new(a, kw), "search")
}

fn t_regex(v: &Value, a: Rest<Value>, kw: Kwargs) -> Result<bool, Error> {
    regex_test(v, Args::new(a, kw), "search")
}

fn t_version(v: &Value, a: Rest<Value>, kw: Kwargs) -> Result<bool, Error> {
    let a = Args::new(a, kw);
    let other = a
        .string(0, "version")
        .ok_or_else(|| err("Version parameter to compare against is required"))?;
    let op = a.string(1, "operator").unwrap_or_else(|| "eq".into());
    let strict = a.bool(2, "strict", false);
    let kind = a.string(3, "version_type").unwrap_or_else(|| {
        if strict {
            "strict".into()
        } else {
            "loose".into()
        }
    });
    let me = py_str(v);
    if me.is_empty() {
        return Err(err("Input version value cannot be empty"));
    }
    let ord = version::compare(&me, &other, &kind)
        .map_err(|e| err(format!("Version comparison failed: {e}")))?;
    version::apply_op(ord, &op).map_err(err)
}

fn t_subset(a: &Value, b: &Value) -> Result<bool, Error> {
    let bi = items(b)?;
    Ok(items(a)?.iter().all(|x| bi.contains(x)))
}

fn t_superset(a: &Value, b: &Value) -> Result<bool, Error> {
    t_subset(b, a)
}

fn t_contains(seq: &Value, x: &Value) -> Result<bool, Error> {
    if let (Some(s), Some(n)) = (seq.as_str(), x.as_str()) {
        return Ok(s.contains(n));
    }
    Ok(items(seq)?.contains(x))
}

fn t_any(v: &Value) -> Result<bool, Error> {
    Ok(items(v)?.iter().any(Value::is_true))
}

fn t_all(v: &Value) -> Result<bool, Error> {
    Ok(items(v)?.iter().all(Value::is_true))
}

fn path_of(v: &Value) -> String {
    super::filters::expanduser_pub(&py_str(v))
}

fn t_truthy(v: &Value, kw: Kwargs) -> Result<bool, Error> {
    let convert = kw.get::<Option<bool>>("convert_bool")?.unwrap_or(false);
    if convert && (v.kind() == ValueKind::String || v.kind() == ValueKind::Number) {
        let s = py_str(v).to_lowercase();
        if matches!(s.as_str(), "yes" | "on" | "1" | "true" | "y" | "t") {
            return Ok(true);
        }
        if matches!(s.as_str(), "no" | "off" | "0" | "false" | "n" | "f" | "") {
            return Ok(false);
        }
    }
    Ok(v.is_true())
}

fn t_falsy(v: &Value, kw: Kwargs) -> Result<bool, Error> {
    t_truthy(v, kw).map(|t| !t)
}

fn schemes_arg(a: Rest<Value>, kw: Kwargs) -> Result<Option<Vec<String>>, Error> {
    let a = Args::new(a, kw);
    Ok(match a.get(0, "schemes") {
        Some(v) if !v.is_none() => Some(items(&v)?.iter().map(py_str).collect()),
        _ => None,
    })
}

fn t_uri_test(v: &Value, a: Rest<Value>, kw: Kwargs) -> Result<bool, Error> {
    Ok(t_uri(v, schemes_arg(a, kw)?))
}

fn t_url_test(v: &Value, a: Rest<Value>, kw: Kwargs) -> Result<bool, Error> {
    Ok(t_url(v, schemes_arg(a, kw)?))
}

fn t_uri(v: &Value, schemes: Option<Vec<String>>) -> bool {
    let s = py_str(v);
    let Some((scheme, _)) = s.split_once(':') else {
        return false;
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return false;
    }
    schemes.is_none_or(|l| l.iter().any(|x| x == scheme))
}

fn t_url(v: &Value, schemes: Option<Vec<String>>) -> bool {
    let s = py_str(v);
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    !rest.is_empty() && t_uri(&Value::from(format!("{scheme}:")), schemes)
}

fn t_urn(v: &Value) -> bool {
    let s = py_str(v);
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() >= 3 && parts[0].eq_ignore_ascii_case("urn") && !parts[1].is_empty()
}

fn t_same_file(a: &Value, b: &Value) -> bool {
    let (a, b) = (path_of(a), path_of(b));
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn t_mount(v: &Value) -> bool {
    use std::os::unix::fs::MetadataExt;
    let p = path_of(v);
    let path = Path::new(&p);
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let parent = path.join("..");
    match std::fs::metadata(&parent) {
        Ok(pm) => pm.dev() != meta.dev() || pm.ino() == meta.ino(),
        Err(_) => false,
    }
}

pub fn register(env: &mut Environment<'static>) {
    env.add_test("failed", t_failed);
    env.add_test("failure", t_failed);
    env.add_test("succeeded", t_succeeded);
    env.add_test("success", t_succeeded);
    env.add_test("successful", t_succeeded);
    env.add_test("changed", t_changed);
    env.add_test("change", t_changed);
    env.add_test("skipped", t_skipped);
    env.add_test("skip", t_skipped);
    env.add_test("reachable", t_reachable);
    env.add_test("unreachable", t_unreachable);
    env.add_test("timedout", t_timedout);
    env.add_test("finished", t_finished);
    env.add_test("started", t_started);
    env.add_test("match", t_match);
    env.add_test("search", t_search);
    env.add_test("regex", t_regex);
    env.add_test("version", t_version);
    env.add_test("version_compare", t_version);
    env.add_test("subset", t_subset);
    env.add_test("issubset", t_subset);
    env.add_test("superset", t_superset);
    env.add_test("issuperset", t_superset);
    env.add_test("contains", t_contains);
    env.add_test("any", t_any);
    env.add_test("all", t_all);
    env.add_test("truthy", t_truthy);
    env.add_test("falsy", t_falsy);
    env.add_test("file", |v: &Value| Path::new(&path_of(v)).is_file());
    env.add_test("is_file", |v: &Value| Path::new(&path_of(v)).is_file());
    env.add_test("directory", |v: &Value| Path::new(&path_of(v)).is_dir());
    env.add_test("is_dir", |v: &Value| Path::new(&path_of(v)).is_dir());
    env.add_test("link", |v: &Value| Path::new(&path_of(v)).is_symlink());
    env.add_test("is_link", |v: &Value| Path::new(&path_of(v)).is_symlink());
    env.add_test("exists", |v: &Value| {
        let p = path_of(v);
        Path::new(&p).exists() || Path::new(&p).is_symlink()
    });
    env.add_test("abs", |v: &Value| path_of(v).starts_with('/'));
    env.add_test("is_abs", |v: &Value| path_of(v).starts_with('/'));
    env.add_test("same_file", t_same_file);
    env.add_test("is_same_file", t_same_file);
    env.add_test("mount", t_mount);
    env.add_test("is_mount", t_mount);
    env.add_test("nan", |v: &Value| as_f64(v).is_some_and(f64::is_nan));
    env.add_test("isnan", |v: &Value| as_f64(v).is_some_and(f64::is_nan));
    env.add_test("vault_encrypted", |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.trim_start().starts_with("$ANSIBLE_VAULT"))
    });
    env.add_test("uri", t_uri_test);
    env.add_test("url", t_url_test);
    env.add_test("urn", t_urn);
    // Jinja2's definitions, which differ from minijinja's in places.
    env.add_test("none", |v: &Value| v.is_none());
    env.add_test("string", |v: &Value| v.kind() == ValueKind::String);
    env.add_test("mapping", |v: &Value| v.kind() == ValueKind::Map);
    env.add_test("sequence", |v: &Value| {
        matches!(
            v.kind(),
            ValueKind::Seq | ValueKind::String | ValueKind::Map | ValueKind::Bytes
        )
    });
    env.add_test("iterable", |v: &Value| {
        matches!(
            v.kind(),
            ValueKind::Seq
                | ValueKind::String
                | ValueKind::Map
                | ValueKind::Iterable
                | ValueKind::Bytes
        )
    });
    env.add_test("boolean", |v: &Value| v.kind() == ValueKind::Bool);
    env.add_test("number", |v: &Value| {
        matches!(v.kind(), ValueKind::Number | ValueKind::Bool)
    });
    env.add_test("integer", |v: &Value| {
        v.kind() == ValueKind::Number && !is_float(v)
    });
    env.add_test("float", |v: &Value| is_float(v));
}
