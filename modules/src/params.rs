//! Turning module arguments into typed parameters, with Ansible's rules:
//! unknown parameters are errors, booleans accept YAML 1.1 spellings given
//! as strings (`yes`, `on`, `1`), and strings accept numbers.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::Value;

use crate::module::{Args, ParamError};
use crate::spec::{Kind, ModuleSpec, Param};

/// Checks `args` against the module's spec (unknown names, aliases,
/// required, types, choices, defaults — Ansible's argument spec rules and
/// messages), then deserializes them into `T`.
pub fn parse<T: DeserializeOwned>(spec: &ModuleSpec, args: Args) -> Result<T, ParamError> {
    let args = check(spec, args)?;
    serde_json::from_value(Value::Object(args)).map_err(|e| param_error(spec.name, &e.to_string()))
}

/// Applies the spec to `args` and returns them normalized: aliases renamed
/// to the parameter's name, values converted to the parameter's type, and
/// defaults filled in.
pub fn check(spec: &ModuleSpec, args: Args) -> Result<Args, ParamError> {
    let mut out = Args::new();
    let mut unsupported = Vec::new();
    for (key, value) in args {
        match spec.param(&key) {
            // The parameter's own name wins over an alias given too.
            Some(p) if p.name != key && out.contains_key(p.name) => {}
            Some(p) => {
                out.insert(p.name.to_string(), value);
            }
            None if spec.open => {
                out.insert(key, value);
            }
            None => unsupported.push(key),
        }
    }
    if let Some(first) = unsupported.first().cloned() {
        unsupported.sort();
        return Err(ParamError::at(
            first,
            format!(
                "Unsupported parameters for ({}) module: {}. Supported parameters include: {}.",
                spec.name,
                unsupported.join(", "),
                spec.supported()
            ),
        ));
    }
    let mut missing: Vec<&str> = spec
        .params
        .iter()
        .filter(|p| p.required && out.get(p.name).is_none_or(Value::is_null))
        .map(|p| p.name)
        .collect();
    if let Some(first) = missing.first().copied() {
        missing.sort_unstable();
        return Err(ParamError::at(
            first,
            format!("missing required arguments: {}", missing.join(", ")),
        ));
    }
    for p in spec.params {
        match out.get_mut(p.name) {
            Some(v) if !v.is_null() => {
                *v = convert(p, std::mem::take(v))?;
                check_choices(p, v)?;
            }
            Some(_) => {}
            None => {
                if let Some(d) = p.default {
                    out.insert(p.name.to_string(), default_value(p.kind, d));
                }
            }
        }
    }
    Ok(out)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn convert(p: &Param, v: Value) -> Result<Value, ParamError> {
    let fail = |why: String| {
        ParamError::at(
            p.name,
            format!(
                "argument '{}' is of type {} and we were unable to convert to {}: {why}",
                p.name,
                type_name(&v),
                p.kind.name()
            ),
        )
    };
    match p.kind {
        Kind::Raw | Kind::List => Ok(v),
        // Ansible reads scalars as their text: `name: 1000` is "1000".
        Kind::Str | Kind::Path => match v {
            Value::Array(_) | Value::Object(_) => Err(fail("it is not a scalar".into())),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(if b { "True" } else { "False" }.into())),
            v => Ok(v),
        },
        Kind::Bool => to_bool(&v)
            .map(Value::Bool)
            .ok_or_else(|| fail(format!("The value {v} is not a valid boolean."))),
        Kind::Int => match &v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 => Ok(Value::from(f as i64)),
                _ => Err(fail(format!("{v} cannot be converted to an int"))),
            },
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| fail(format!("{v} cannot be converted to an int"))),
            _ => Err(fail(format!("{v} cannot be converted to an int"))),
        },
        Kind::Float => match &v {
            Value::Number(_) => Ok(v),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| fail(format!("{v} cannot be converted to a float"))),
            _ => Err(fail(format!("{v} cannot be converted to a float"))),
        },
        Kind::Dict => match v {
            Value::Object(_) | Value::String(_) => Ok(v),
            _ => Err(fail("dictionary requested".into())),
        },
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        _ => None,
    }
}

fn check_choices(p: &Param, v: &Value) -> Result<(), ParamError> {
    if p.choices.is_empty() {
        return Ok(());
    }
    let allowed = |s: &str| p.choices.contains(&s);
    let choices = p.choices.join(", ");
    if let Value::Array(items) = v {
        let bad: Vec<String> = items
            .iter()
            .filter_map(scalar_text)
            .filter(|s| !allowed(s))
            .collect();
        if !bad.is_empty() {
            return Err(ParamError::at(
                p.name,
                format!(
                    "value of {} must be one or more of: {choices}. Got no match for: {}",
                    p.name,
                    bad.join(", ")
                ),
            ));
        }
        return Ok(());
    }
    match scalar_text(v) {
        Some(s) if !allowed(&s) => Err(ParamError::at(
            p.name,
            format!("value of {} must be one of: {choices}, got: {s}", p.name),
        )),
        _ => Ok(()),
    }
}

/// Reads a spec's default literal with its kind's rules.
pub fn default_value(kind: Kind, text: &str) -> Value {
    match kind {
        Kind::Bool => to_bool(&Value::String(text.into())).map_or(Value::Null, Value::Bool),
        Kind::Int => text.parse::<i64>().map_or(Value::Null, Value::from),
        Kind::Float => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Kind::List if text == "[]" => Value::Array(Vec::new()),
        Kind::List => Value::Array(
            text.split(',')
                .map(|s| Value::String(s.trim().to_string()))
                .collect(),
        ),
        Kind::Dict => Value::Object(Args::new()),
        Kind::Str | Kind::Path | Kind::Raw => Value::String(text.to_string()),
    }
}

/// The field names `T` deserializes, as serde sees them; the test beside
/// the module registry compares them with each module's spec.
pub fn fields<T: DeserializeOwned>() -> Vec<&'static str> {
    match T::deserialize(FieldNames) {
        Err(FieldsError::Fields(f)) => f.to_vec(),
        _ => Vec::new(),
    }
}

/// A deserializer that only asks a struct for its field list.
struct FieldNames;

#[derive(Debug)]
enum FieldsError {
    Fields(&'static [&'static str]),
    Other(String),
}

impl std::fmt::Display for FieldsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldsError::Fields(names) => write!(f, "fields {names:?}"),
            FieldsError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for FieldsError {}

impl serde::de::Error for FieldsError {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        FieldsError::Other(msg.to_string())
    }
}

impl<'de> Deserializer<'de> for FieldNames {
    type Error = FieldsError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, FieldsError> {
        Err(FieldsError::Other("not a struct".into()))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, FieldsError> {
        Err(FieldsError::Fields(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// Turns serde's message into Ansible's, for what the spec did not catch.
fn param_error(module: &str, serde_msg: &str) -> ParamError {
    // serde_json says: unknown field `foo`, expected one of `a`, `b` at line..
    let msg = serde_msg.split(" at line ").next().unwrap_or(serde_msg);
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let supported: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let mut text = format!("Unsupported parameters for ({module}) module: {name}.");
        if !supported.is_empty() {
            text.push_str(&format!(
                " Supported parameters include: {}.",
                supported.join(", ")
            ));
        }
        return ParamError::at(name, text);
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return ParamError::at(name, format!("missing required arguments: {name}"));
    }
    ParamError::new(format!("{module}: {msg}"))
}

/// Reads a boolean the way Ansible's argument spec does.
pub fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "on" | "1" | "true" | "t" | "y" => Some(true),
            "no" | "off" | "0" | "false" | "f" | "n" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `#[serde(deserialize_with = "params::bool")]`
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    to_bool(&v).ok_or_else(|| D::Error::custom(format!("{v} is not a valid boolean")))
}

/// `#[serde(default, deserialize_with = "params::opt_bool")]`
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    to_bool(&v)
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("{v} is not a valid boolean")))
}

/// A string parameter that also accepts numbers and booleans, as Ansible's
/// `type='str'` does.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match v {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if b { "True" } else { "False" }.to_string()),
        other => return Err(D::Error::custom(format!("{other} is not a string"))),
    })
}

/// A list parameter that also accepts a single string (Ansible's
/// `type='list'` splits a comma-separated string).
pub fn opt_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let v = Value::deserialize(d)?;
    let item = |v: Value| match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(D::Error::custom(format!("{other} is not a string"))),
    };
    Ok(match v {
        Value::Null => None,
        Value::String(s) => Some(s.split(',').map(|p| p.trim().to_string()).collect()),
        Value::Array(a) => Some(a.into_iter().map(item).collect::<Result<_, _>>()?),
        other => Some(vec![item(other)?]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Support, param};
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct P {
        #[serde(default, deserialize_with = "opt_bool")]
        flag: Option<bool>,
        #[allow(dead_code)]
        name: String,
        #[serde(default)]
        count: Option<i64>,
        #[serde(default)]
        #[allow(dead_code)]
        state: Option<String>,
    }

    const SPEC: ModuleSpec = ModuleSpec {
        name: "demo",
        short: "A demo",
        description: "",
        params: &[
            param("flag", Kind::Bool, "A flag.").default("no"),
            param("name", Kind::Str, "The name.")
                .required()
                .aliases(&["n"]),
            param("count", Kind::Int, "How many."),
            param("state", Kind::Str, "What state.").choices(&["present", "absent"]),
        ],
        check: Support::Full,
        diff: Support::None,
        example: "",
        open: false,
        fields: fields::<P>,
    };

    fn args(v: Value) -> Args {
        match v {
            Value::Object(m) => m,
            _ => Args::new(),
        }
    }

    #[test]
    fn names_unknown_parameters() {
        let e = parse::<P>(&SPEC, args(json!({"name": "x", "bogus": 1}))).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("bogus"));
        assert_eq!(
            e.msg,
            "Unsupported parameters for (demo) module: bogus. Supported parameters include: count, flag, name (n), state."
        );
    }

    #[test]
    fn booleans_accept_yaml11_strings() {
        let p: P = parse(&SPEC, args(json!({"name": "x", "flag": "yes"}))).unwrap();
        assert_eq!(p.flag, Some(true));
        let p: P = parse(&SPEC, args(json!({"name": "x", "flag": "off"}))).unwrap();
        assert_eq!(p.flag, Some(false));
        let e = parse::<P>(&SPEC, args(json!({"name": "x", "flag": "maybe"}))).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("flag"));
        assert!(e.msg.contains("unable to convert to bool"), "{}", e.msg);
    }

    #[test]
    fn names_missing_parameters() {
        let e = parse::<P>(&SPEC, args(json!({}))).unwrap_err();
        assert_eq!(e.msg, "missing required arguments: name");
        let e = parse::<P>(&SPEC, args(json!({"name": null}))).unwrap_err();
        assert_eq!(e.msg, "missing required arguments: name");
    }

    #[test]
    fn aliases_defaults_types_and_choices() {
        let p: P = parse(&SPEC, args(json!({"n": "x", "count": "12"}))).unwrap();
        assert_eq!(
            (p.name.as_str(), p.count, p.flag),
            ("x", Some(12), Some(false))
        );
        let e = parse::<P>(&SPEC, args(json!({"n": "x", "count": "many"}))).unwrap_err();
        assert!(
            e.msg.starts_with(
                "argument 'count' is of type str and we were unable to convert to int"
            ),
            "{}",
            e.msg
        );
        let e = parse::<P>(&SPEC, args(json!({"name": "x", "state": "gone"}))).unwrap_err();
        assert_eq!(
            e.msg,
            "value of state must be one of: present, absent, got: gone"
        );
        // The name wins over its alias.
        let p: P = parse(&SPEC, args(json!({"n": "alias", "name": "real"}))).unwrap();
        assert_eq!(p.name, "real");
    }

    #[test]
    fn reads_field_names_from_serde() {
        assert_eq!(fields::<P>(), ["flag", "name", "count", "state"]);
    }
}
