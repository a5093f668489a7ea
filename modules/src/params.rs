//! Turning module arguments into typed parameters, with Ansible's rules:
//! unknown parameters are errors, booleans accept YAML 1.1 spellings given
//! as strings (`yes`, `on`, `1`), and strings accept numbers.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::Value;

use crate::module::{Args, ParamError};

/// Deserializes `args` into `T`, turning serde's errors into messages that
/// name the module and the parameter, as Ansible's do.
pub fn parse<T: DeserializeOwned>(module: &str, args: Args) -> Result<T, ParamError> {
    serde_json::from_value(Value::Object(args)).map_err(|e| param_error(module, &e.to_string()))
}

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
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct P {
        #[serde(default, deserialize_with = "opt_bool")]
        flag: Option<bool>,
        #[allow(dead_code)]
        name: String,
    }

    fn args(v: Value) -> Args {
        match v {
            Value::Object(m) => m,
            _ => Args::new(),
        }
    }

    #[test]
    fn names_unknown_parameters() {
        let e = parse::<P>("demo", args(json!({"name": "x", "bogus": 1}))).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("bogus"));
        assert_eq!(
            e.msg,
            "Unsupported parameters for (demo) module: bogus. Supported parameters include: flag, name."
        );
    }

    #[test]
    fn booleans_accept_yaml11_strings() {
        let p: P = parse("demo", args(json!({"name": "x", "flag": "yes"}))).unwrap();
        assert_eq!(p.flag, Some(true));
        let p: P = parse("demo", args(json!({"name": "x", "flag": "off"}))).unwrap();
        assert_eq!(p.flag, Some(false));
        assert!(parse::<P>("demo", args(json!({"name": "x", "flag": "maybe"}))).is_err());
    }

    #[test]
    fn names_missing_parameters() {
        let e = parse::<P>("demo", args(json!({}))).unwrap_err();
        assert_eq!(e.msg, "missing required arguments: name");
    }
}
