//! Ansible's filters that minijinja lacks or gets subtly different, and the
//! helpers they share. Data shaping lives in `data.rs`, text, paths and
//! hashing in `text.rs`.

mod data;
mod text;

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value};

pub(crate) use super::pyrepr::as_f64;
use super::pyrepr::{is_float, py_str};

pub(crate) use data::flatten_value;
pub(crate) use data::product as product_pub;
pub(crate) use data::subelements as subelements_pub;
pub(crate) use text::expanduser as expanduser_pub;
pub(crate) use text::regex_compile;
pub(crate) use to_int as to_int_pub;

/// An Ansible-worded filter error.
pub(crate) fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Value to JSON (undefined becomes null).
pub(crate) fn to_j(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

pub(crate) fn from_j(j: &serde_json::Value) -> Value {
    crate::template::jv(j)
}

/// The items of a sequence-like value (map keys for maps, chars for
/// strings), as Python's `list()` would give them.
pub(crate) fn items(v: &Value) -> Result<Vec<Value>, Error> {
    if v.is_undefined() || v.is_none() {
        return Ok(Vec::new());
    }
    if let Some(s) = v.as_str() {
        return Ok(s.chars().map(|c| Value::from(c.to_string())).collect());
    }
    Ok(v.try_iter()?.collect())
}

/// Python's type name of a value, for `type_debug` and error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if is_float(v) => "float",
        ValueKind::Number => "int",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

/// Positional-or-keyword argument access, since Ansible filters accept
/// both (`regex_replace('a', 'b', True)` and `ignorecase=True`).
pub(crate) struct Args {
    pub pos: Vec<Value>,
    pub kw: Kwargs,
}

impl Args {
    pub fn new(pos: Rest<Value>, kw: Kwargs) -> Self {
        Args { pos: pos.0, kw }
    }

    pub fn get(&self, i: usize, name: &str) -> Option<Value> {
        if let Ok(Some(v)) = self.kw.get::<Option<Value>>(name) {
            return Some(v);
        }
        self.pos.get(i).filter(|v| !v.is_undefined()).cloned()
    }

    pub fn bool(&self, i: usize, name: &str, default: bool) -> bool {
        self.get(i, name).map(|v| truthy(&v)).unwrap_or(default)
    }

    pub fn string(&self, i: usize, name: &str) -> Option<String> {
        self.get(i, name)
            .filter(|v| !v.is_none())
            .map(|v| py_str(&v))
    }

    pub fn int(&self, i: usize, name: &str) -> Option<i64> {
        self.get(i, name).and_then(|v| to_int(&v))
    }
}

/// Ansible's `bool` filter conversion.
pub(crate) fn truthy(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Bool => v.is_true(),
        ValueKind::String => matches!(
            v.as_str()
                .unwrap_or_default()
                .trim()
                .to_lowercase()
                .as_str(),
            "yes" | "on" | "1" | "true" | "y" | "t"
        ),
        ValueKind::Number => as_f64(v).is_some_and(|f| f == 1.0),
        _ => false,
    }
}

/// Integer conversion the way Jinja's `int` does it.
pub(crate) fn to_int(v: &Value) -> Option<i64> {
    match v.kind() {
        ValueKind::Bool => Some(i64::from(v.is_true())),
        ValueKind::Number => v.as_i64().or_else(|| as_f64(v).map(|f| f.trunc() as i64)),
        ValueKind::String => parse_int(v.as_str().unwrap_or_default(), 10),
        _ => None,
    }
}

fn parse_int(s: &str, base: u32) -> Option<i64> {
    let t = s.trim().replace('_', "");
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, t.trim_start_matches('+').to_string()),
    };
    let lower = t.to_lowercase();
    let (base, digits) = match base {
        16 => (16, lower.trim_start_matches("0x").to_string()),
        8 => (8, lower.trim_start_matches("0o").to_string()),
        2 => (2, lower.trim_start_matches("0b").to_string()),
        0 => {
            if let Some(r) = lower.strip_prefix("0x") {
                (16, r.to_string())
            } else if let Some(r) = lower.strip_prefix("0o") {
                (8, r.to_string())
            } else if let Some(r) = lower.strip_prefix("0b") {
                (2, r.to_string())
            } else {
                (10, lower)
            }
        }
        b => (b, lower),
    };
    let n = i64::from_str_radix(&digits, base).ok().or_else(|| {
        // Jinja falls back to float parsing: int('1.5') is 1.
        if base == 10 {
            digits.parse::<f64>().ok().map(|f| f.trunc() as i64)
        } else {
            None
        }
    })?;
    Some(if neg { -n } else { n })
}

fn f_bool(v: Value) -> Value {
    if v.is_none() || v.is_undefined() {
        return Value::from(false);
    }
    Value::from(truthy(&v))
}

fn f_int(v: Value, args: Rest<Value>, kw: Kwargs) -> Value {
    let a = Args::new(args, kw);
    let default = a.get(0, "default").unwrap_or(Value::from(0));
    let base = a.int(1, "base").unwrap_or(10) as u32;
    let r = match v.kind() {
        ValueKind::String => parse_int(v.as_str().unwrap_or_default(), base),
        _ => to_int(&v),
    };
    r.map(Value::from).unwrap_or(default)
}

fn f_float(v: Value, args: Rest<Value>, kw: Kwargs) -> Value {
    let a = Args::new(args, kw);
    let default = a.get(0, "default").unwrap_or(Value::from(0.0));
    let r = match v.kind() {
        ValueKind::String => v.as_str().unwrap_or_default().trim().parse::<f64>().ok(),
        ValueKind::Bool => Some(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => as_f64(&v),
        _ => None,
    };
    r.map(Value::from).unwrap_or(default)
}

fn f_string(v: Value) -> Value {
    Value::from(py_str(&v))
}

fn f_list(v: Value) -> Result<Value, Error> {
    Ok(Value::from(items(&v)?))
}

fn f_length(v: Value) -> Result<Value, Error> {
    if let Some(s) = v.as_str() {
        return Ok(Value::from(s.chars().count()));
    }
    if let Some(n) = v.len() {
        return Ok(Value::from(n));
    }
    Ok(Value::from(items(&v)?.len()))
}

fn f_join(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let sep = a.string(0, "d").unwrap_or_default();
    let attr = a.string(1, "attribute");
    let parts: Vec<String> = items(&v)?
        .iter()
        .map(|x| match &attr {
            Some(at) => py_str(&x.get_attr(at).unwrap_or_default()),
            None => py_str(x),
        })
        .collect();
    Ok(Value::from(parts.join(&sep)))
}

fn f_type_debug(v: Value) -> Value {
    Value::from(type_name(&v))
}

fn f_mandatory(state: &State, v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    if v.is_undefined() {
        if let Some(msg) = a.string(0, "msg") {
            return Err(err(msg));
        }
        // The engine's undefined error names the variable; the flag tells
        // the error conversion to word it as Ansible's mandatory does.
        if let Some(ctx) = super::scope::Ctx::from_state(state) {
            ctx.mandatory
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        return Err(v
            .get_attr("__tutti__")
            .err()
            .unwrap_or_else(|| err("Mandatory variable not defined.")));
    }
    Ok(v)
}

fn f_ternary(v: Value, args: Rest<Value>, kw: Kwargs) -> Value {
    let a = Args::new(args, kw);
    let t = a.get(0, "true_val").unwrap_or(Value::from(true));
    let f = a.get(1, "false_val").unwrap_or(Value::from(false));
    if v.is_none()
        && let Some(n) = a.get(2, "none_val")
    {
        return n;
    }
    if v.is_true() { t } else { f }
}

fn f_default(v: Value, args: Rest<Value>, kw: Kwargs) -> Value {
    let a = Args::new(args, kw);
    let other = a.get(0, "default_value").unwrap_or(Value::from(""));
    let boolean = a.bool(1, "boolean", false);
    if v.is_undefined() || (boolean && !v.is_true()) {
        other
    } else {
        v
    }
}

/// Registers every filter of this module.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("bool", f_bool);
    env.add_filter("int", f_int);
    env.add_filter("float", f_float);
    env.add_filter("string", f_string);
    env.add_filter("list", f_list);
    env.add_filter("length", f_length);
    env.add_filter("count", f_length);
    env.add_filter("join", f_join);
    env.add_filter("type_debug", f_type_debug);
    env.add_filter("mandatory", f_mandatory);
    env.add_filter("ternary", f_ternary);
    env.add_filter("default", f_default);
    env.add_filter("d", f_default);
    data::register(env);
    text::register(env);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_parsing() {
        assert_eq!(parse_int("0x1F", 16), Some(31));
        assert_eq!(parse_int("1F", 16), Some(31));
        assert_eq!(parse_int("12", 10), Some(12));
        assert_eq!(parse_int("1.9", 10), Some(1));
        assert_eq!(parse_int("x", 10), None);
    }
}
