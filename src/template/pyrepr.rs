//! Python-style printing of values.
//!
//! Ansible renders through Python, so a list printed inside a larger string
//! shows as `['a', 1]`, booleans as `True`, null as `None`. Users grep for
//! those strings in their configuration files, so we reproduce them.

use minijinja::Value;
use minijinja::value::ValueKind;

/// A number value as f64 (ints convert).
pub fn as_f64(v: &Value) -> Option<f64> {
    if v.kind() != ValueKind::Number {
        return None;
    }
    f64::try_from(v.clone()).ok()
}

/// `str(value)` in Python: strings print bare, containers as their repr.
pub fn py_str(v: &Value) -> String {
    match v.kind() {
        ValueKind::String => v.as_str().map(str::to_string).unwrap_or_default(),
        ValueKind::Undefined => String::new(),
        _ => py_repr(v),
    }
}

/// `repr(value)` in Python.
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, v, 0);
    out
}

/// Python's float repr: always shows a fractional part or an exponent.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f.fract() == 0.0 && f.abs() < 1e16 {
        return format!("{f:.1}");
    }
    let s = format!("{f}");
    if f.abs() >= 1e16 || (f != 0.0 && f.abs() < 1e-4) {
        // Python switches to exponent notation at these magnitudes.
        let e = format!("{f:e}");
        if let Some((m, exp)) = e.split_once('e') {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            return format!("{m}e{sign}{digits:0>2}");
        }
    }
    s
}

/// Quotes a string the way Python's `repr` does.
pub fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn write_repr(out: &mut String, v: &Value, depth: usize) {
    if depth > 100 {
        out.push_str("...");
        return;
    }
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number => {
            if let Some(f) = as_f64(v).filter(|_| is_float(v)) {
                out.push_str(&py_float(f));
            } else {
                out.push_str(&v.to_string());
            }
        }
        ValueKind::String => out.push_str(&py_str_repr(v.as_str().unwrap_or_default())),
        ValueKind::Bytes => {
            out.push('b');
            let s = v
                .as_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            out.push_str(&py_str_repr(&s));
        }
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            if let Ok(iter) = v.try_iter() {
                for (i, item) in iter.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &item, depth + 1);
                }
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(iter) = v.try_iter() {
                for (i, key) in iter.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &key, depth + 1);
                    out.push_str(": ");
                    let val = v.get_item(&key).unwrap_or_default();
                    write_repr(out, &val, depth + 1);
                }
            }
            out.push('}');
        }
        _ => out.push_str(&v.to_string()),
    }
}

/// Whether a number value is a float (Python prints `1.0`, not `1`).
/// minijinja prints floats with a fraction or exponent, integers without.
pub fn is_float(v: &Value) -> bool {
    v.kind() == ValueKind::Number && {
        let s = v.to_string();
        s.contains(['.', 'e', 'E', 'n', 'i'])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs() {
        assert_eq!(py_repr(&Value::from(vec!["a", "b"])), "['a', 'b']");
        assert_eq!(py_repr(&Value::from(true)), "True");
        assert_eq!(py_repr(&Value::from(())), "None");
        assert_eq!(py_repr(&Value::from(1.0)), "1.0");
        assert_eq!(py_repr(&Value::from(1.5)), "1.5");
        assert_eq!(py_repr(&Value::from(3)), "3");
        assert_eq!(py_str_repr("it's"), "\"it's\"");
        assert_eq!(py_str_repr("a\nb"), "'a\\nb'");
    }
}
