//! Data-shaping filters: dict/list transforms, set operations, JSON and
//! YAML (de)serialisation, combinatorics, randomness and maths.

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Environment, Error, Value};
use serde_json::Value as J;

use super::{Args, err, from_j, items, py_str, to_int, to_j};
use crate::template::pyrandom::PyRandom;
use crate::template::pyrepr::py_float;
use crate::template::yaml_emit::{YamlOpts, to_yaml};

fn dict_arg(v: &Value) -> Result<serde_json::Map<String, J>, Error> {
    match to_j(v) {
        J::Object(m) => Ok(m),
        J::Null => Ok(serde_json::Map::new()),
        other => Err(err(format!(
            "failed to combine variables, expected dicts but got a '{}'",
            json_type(&other)
        ))),
    }
}

fn json_type(j: &J) -> &'static str {
    match j {
        J::Null => "NoneType",
        J::Bool(_) => "bool",
        J::Number(n) if n.is_f64() => "float",
        J::Number(_) => "int",
        J::String(_) => "str",
        J::Array(_) => "list",
        J::Object(_) => "dict",
    }
}

fn merge_lists(old: &[J], new: &[J], how: &str) -> Result<Vec<J>, Error> {
    Ok(match how {
        "replace" => new.to_vec(),
        "keep" => old.to_vec(),
        "append" => old.iter().chain(new).cloned().collect(),
        "prepend" => new.iter().chain(old).cloned().collect(),
        "append_rp" => old
            .iter()
            .filter(|x| !new.contains(x))
            .chain(new)
            .cloned()
            .collect(),
        "prepend_rp" => new
            .iter()
            .chain(old.iter().filter(|x| !new.contains(x)))
            .cloned()
            .collect(),
        other => {
            return Err(err(format!(
                "'{other}' is not a valid list_merge value, it must be one of replace, keep, append, prepend, append_rp, prepend_rp"
            )));
        }
    })
}

fn merge(
    a: &mut serde_json::Map<String, J>,
    b: &serde_json::Map<String, J>,
    recursive: bool,
    list_merge: &str,
) -> Result<(), Error> {
    for (k, bv) in b {
        match (a.get_mut(k), bv) {
            (Some(J::Object(am)), J::Object(bm)) if recursive => {
                merge(am, bm, recursive, list_merge)?;
            }
            (Some(J::Array(al)), J::Array(bl)) => {
                let merged = merge_lists(al, bl, list_merge)?;
                *al = merged;
            }
            _ => {
                a.insert(k.clone(), bv.clone());
            }
        }
    }
    Ok(())
}

fn f_combine(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let recursive = kw
        .get::<Option<Value>>("recursive")?
        .map(|x| x.is_true())
        .unwrap_or(false);
    let list_merge = kw
        .get::<Option<String>>("list_merge")?
        .unwrap_or_else(|| "replace".into());
    // Each term may be a dict or a list of dicts.
    let mut dicts = Vec::new();
    for t in std::iter::once(v).chain(args.0) {
        if t.kind() == ValueKind::Seq {
            for x in items(&t)? {
                dicts.push(dict_arg(&x)?);
            }
        } else {
            dicts.push(dict_arg(&t)?);
        }
    }
    let mut out = serde_json::Map::new();
    for d in &dicts {
        merge(&mut out, d, recursive, &list_merge)?;
    }
    Ok(from_j(&J::Object(out)))
}

fn f_dict2items(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let kn = a.string(0, "key_name").unwrap_or_else(|| "key".into());
    let vn = a.string(1, "value_name").unwrap_or_else(|| "value".into());
    if v.kind() != ValueKind::Map {
        return Err(err(format!(
            "dict2items requires a dictionary, got {} instead.",
            super::type_name(&v)
        )));
    }
    let mut out = Vec::new();
    for k in v.try_iter()? {
        let val = v.get_item(&k)?;
        let mut m = indexmap::IndexMap::<Value, Value>::new();
        m.insert(Value::from(kn.as_str()), k);
        m.insert(Value::from(vn.as_str()), val);
        out.push(Value::from_pairs(m));
    }
    Ok(Value::from(out))
}

fn f_items2dict(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let kn = a.string(0, "key_name").unwrap_or_else(|| "key".into());
    let vn = a.string(1, "value_name").unwrap_or_else(|| "value".into());
    let mut m = indexmap::IndexMap::<Value, Value>::new();
    for item in items(&v)? {
        let k = item.get_attr(&kn)?;
        if k.is_undefined() {
            return Err(err(format!(
                "items2dict requires each item to have a '{kn}' key"
            )));
        }
        m.insert(k, item.get_attr(&vn)?);
    }
    Ok(Value::from_pairs(m))
}

/// Ansible's `flatten`: lists are spliced, nulls skipped by default.
pub(crate) fn flatten_value(
    v: &Value,
    levels: Option<i64>,
    skip_nulls: bool,
) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for x in items(v)? {
        let is_null =
            x.is_none() || x.is_undefined() || matches!(x.as_str(), Some("None") | Some("null"));
        if is_null && skip_nulls {
            continue;
        }
        if matches!(x.kind(), ValueKind::Seq | ValueKind::Iterable) {
            match levels {
                None => out.extend(flatten_value(&x, None, skip_nulls)?),
                Some(l) if l >= 1 => out.extend(flatten_value(&x, Some(l - 1), skip_nulls)?),
                Some(_) => out.push(x),
            }
        } else {
            out.push(x);
        }
    }
    Ok(out)
}

fn f_flatten(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let levels = a.int(0, "levels");
    let skip = a.bool(1, "skip_nulls", true);
    Ok(Value::from(flatten_value(&v, levels, skip)?))
}

fn dedup(v: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn f_unique(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let case_sensitive = a.bool(0, "case_sensitive", false);
    let attr = a.string(1, "attribute");
    let mut seen: Vec<Value> = Vec::new();
    let mut out = Vec::new();
    for x in items(&v)? {
        let mut key = match &attr {
            Some(at) => x.get_attr(at)?,
            None => x.clone(),
        };
        if !case_sensitive && let Some(s) = key.as_str() {
            key = Value::from(s.to_lowercase());
        }
        if !seen.contains(&key) {
            seen.push(key);
            out.push(x);
        }
    }
    Ok(Value::from(out))
}

fn f_union(a: Value, b: Value) -> Result<Value, Error> {
    let mut v = items(&a)?;
    v.extend(items(&b)?);
    Ok(Value::from(dedup(v)))
}

fn f_intersect(a: Value, b: Value) -> Result<Value, Error> {
    let bi = items(&b)?;
    Ok(Value::from(dedup(
        items(&a)?.into_iter().filter(|x| bi.contains(x)).collect(),
    )))
}

fn f_difference(a: Value, b: Value) -> Result<Value, Error> {
    let bi = items(&b)?;
    Ok(Value::from(dedup(
        items(&a)?.into_iter().filter(|x| !bi.contains(x)).collect(),
    )))
}

fn f_symmetric_difference(a: Value, b: Value) -> Result<Value, Error> {
    let ai = items(&a)?;
    let bi = items(&b)?;
    let mut out: Vec<Value> = ai.iter().filter(|x| !bi.contains(x)).cloned().collect();
    out.extend(bi.iter().filter(|x| !ai.contains(x)).cloned());
    Ok(Value::from(dedup(out)))
}

fn f_sum(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let attr = a.string(0, "attribute");
    let mut total = a.get(1, "start").unwrap_or(Value::from(0));
    for x in items(&v)? {
        let x = match &attr {
            Some(at) => x.get_attr(at)?,
            None => x,
        };
        total = if total.kind() == ValueKind::Seq {
            let mut l = items(&total)?;
            l.extend(items(&x)?);
            Value::from(l)
        } else {
            add(&total, &x)?
        };
    }
    Ok(total)
}

/// `a + b` for numbers and strings.
fn add(a: &Value, b: &Value) -> Result<Value, Error> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64())
        && !crate::template::pyrepr::is_float(a)
        && !crate::template::pyrepr::is_float(b)
    {
        return Ok(Value::from(x + y));
    }
    if let (Some(x), Some(y)) = (super::as_f64(a), super::as_f64(b)) {
        return Ok(Value::from(x + y));
    }
    if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
        return Ok(Value::from(format!("{x}{y}")));
    }
    Err(err(format!(
        "unsupported operand type(s) for +: '{}' and '{}'",
        super::type_name(a),
        super::type_name(b)
    )))
}

/// Python's `json.dumps`, including its separators and `ensure_ascii`.
pub(crate) fn py_json(v: &J, indent: Option<usize>, sort_keys: bool, ascii: bool) -> String {
    let mut out = String::new();
    write_json(&mut out, v, indent, sort_keys, ascii, 0);
    out
}

fn write_json_str(out: &mut String, s: &str, ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if ascii && (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json(
    out: &mut String,
    v: &J,
    indent: Option<usize>,
    sort: bool,
    ascii: bool,
    level: usize,
) {
    let nl = |out: &mut String, level: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * level));
        }
    };
    let item_sep = if indent.is_some() { "," } else { ", " };
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => match n.as_f64().filter(|_| n.is_f64()) {
            Some(f) if f.is_nan() => out.push_str("NaN"),
            Some(f) if f.is_infinite() => {
                out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" })
            }
            Some(f) => out.push_str(&py_float(f)),
            None => out.push_str(&n.to_string()),
        },
        J::String(s) => write_json_str(out, s, ascii),
        J::Array(a) => {
            if a.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                nl(out, level + 1);
                write_json(out, x, indent, sort, ascii, level + 1);
            }
            nl(out, level);
            out.push(']');
        }
        J::Object(m) => {
            if m.is_empty() {
                out.push_str("{}");
                return;
            }
            let mut entries: Vec<_> = m.iter().collect();
            if sort {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                nl(out, level + 1);
                write_json_str(out, k, ascii);
                out.push_str(": ");
                write_json(out, x, indent, sort, ascii, level + 1);
            }
            nl(out, level);
            out.push('}');
        }
    }
}

fn f_to_json(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let indent = a.int(usize::MAX, "indent").map(|n| n.max(0) as usize);
    let sort = a.bool(usize::MAX, "sort_keys", false);
    let ascii = a.bool(usize::MAX, "ensure_ascii", true);
    Ok(Value::from(py_json(&to_j(&v), indent, sort, ascii)))
}

fn f_to_nice_json(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let indent = a.int(0, "indent").unwrap_or(4).max(0) as usize;
    let sort = a.bool(1, "sort_keys", true);
    let ascii = a.bool(usize::MAX, "ensure_ascii", true);
    Ok(Value::from(py_json(&to_j(&v), Some(indent), sort, ascii)))
}

fn f_from_json(v: String) -> Result<Value, Error> {
    let j: J = serde_json::from_str(&v).map_err(|e| err(format!("from_json: {e}")))?;
    Ok(from_j(&j))
}

fn yaml_opts(a: &Args, nice: bool) -> YamlOpts {
    YamlOpts {
        indent: a
            .int(0, "indent")
            .map(|n| n.max(1) as usize)
            .unwrap_or(if nice { 4 } else { 2 }),
        width: a
            .int(usize::MAX, "width")
            .map(|n| n.max(1) as usize)
            .unwrap_or(80),
        flow: if nice {
            Some(false)
        } else {
            a.get(usize::MAX, "default_flow_style")
                .and_then(|v| if v.is_none() { None } else { Some(v.is_true()) })
        },
        sort_keys: a.bool(usize::MAX, "sort_keys", true),
    }
}

fn f_to_yaml(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    Ok(Value::from(to_yaml(&to_j(&v), &yaml_opts(&a, false))))
}

fn f_to_nice_yaml(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    Ok(Value::from(to_yaml(&to_j(&v), &yaml_opts(&a, true))))
}

fn load_yaml(text: &str) -> Result<J, Error> {
    let src = crate::diagnostic::Source::new("<from_yaml>", text.to_string());
    let loaded = crate::yaml::load(&src).map_err(|d| err(format!("from_yaml: {}", d.msg)))?;
    Ok(crate::template::strip_markers(&loaded.node.to_json()))
}

fn f_from_yaml(v: Value) -> Result<Value, Error> {
    match v.as_str() {
        Some(s) => Ok(from_j(&load_yaml(s)?)),
        // Ansible passes non-strings through unchanged.
        None => Ok(v),
    }
}

fn f_from_yaml_all(v: String) -> Result<Value, Error> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut started = false;
    for line in v.split_inclusive('\n') {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            if started || !cur.trim().is_empty() {
                docs.push(std::mem::take(&mut cur));
            }
            started = true;
            if let Some(rest) = line.strip_prefix("--- ") {
                cur.push_str(rest);
            }
            continue;
        }
        if line.trim_end() == "..." {
            continue;
        }
        cur.push_str(line);
    }
    if started || !cur.trim().is_empty() {
        docs.push(cur);
    }
    let mut out = Vec::new();
    for d in docs {
        out.push(from_j(&load_yaml(&d)?));
    }
    Ok(Value::from(out))
}

fn f_extract(item: Value, container: Value, morekeys: Option<Value>) -> Result<Value, Error> {
    let mut v = container.get_item(&item)?;
    if let Some(mk) = morekeys {
        let keys = if mk.kind() == ValueKind::Seq {
            items(&mk)?
        } else {
            vec![mk]
        };
        for k in keys {
            v = v.get_item(&k)?;
        }
    }
    Ok(v)
}

fn f_zip(v: Value, others: Rest<Value>) -> Result<Value, Error> {
    let mut lists = vec![items(&v)?];
    for o in others.0 {
        lists.push(items(&o)?);
    }
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

fn f_zip_longest(v: Value, others: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let fill = kw
        .get::<Option<Value>>("fillvalue")?
        .unwrap_or(Value::from(()));
    let mut lists = vec![items(&v)?];
    for o in others.0 {
        lists.push(items(&o)?);
    }
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| {
                Value::from(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or(fill.clone()))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

/// `subelements`: pairs of (item, one element of item[path]).
pub(crate) fn subelements(v: &Value, path: &str, skip_missing: bool) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    let list = if v.kind() == ValueKind::Map {
        v.try_iter()?
            .map(|k| v.get_item(&k).unwrap_or_default())
            .collect()
    } else {
        items(v)?
    };
    for item in list {
        let mut sub = item.clone();
        let mut missing = false;
        for part in path.split('.') {
            let next = sub.get_attr(part).unwrap_or_default();
            if next.is_undefined() {
                missing = true;
                break;
            }
            sub = next;
        }
        if missing {
            if skip_missing {
                continue;
            }
            return Err(err(format!(
                "could not find '{path}' key in iterated item '{}'",
                crate::template::py_repr(&item)
            )));
        }
        if !matches!(sub.kind(), ValueKind::Seq | ValueKind::Iterable) {
            return Err(err(format!(
                "the key {path} should point to a list, got '{}'",
                py_str(&sub)
            )));
        }
        for s in items(&sub)? {
            out.push(Value::from(vec![item.clone(), s]));
        }
    }
    Ok(out)
}

fn f_subelements(v: Value, path: String, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let skip = a.bool(0, "skip_missing", false);
    Ok(Value::from(subelements(&v, &path, skip)?))
}

pub(crate) fn product(lists: &[Vec<Value>]) -> Vec<Value> {
    let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
    for l in lists {
        let mut next = Vec::new();
        for prefix in &acc {
            for x in l {
                let mut p = prefix.clone();
                p.push(x.clone());
                next.push(p);
            }
        }
        acc = next;
    }
    acc.into_iter().map(Value::from).collect()
}

fn f_product(v: Value, others: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let repeat = kw.get::<Option<i64>>("repeat")?.unwrap_or(1).max(0) as usize;
    let mut lists = vec![items(&v)?];
    for o in others.0 {
        lists.push(items(&o)?);
    }
    let mut all = Vec::new();
    for _ in 0..repeat {
        all.extend(lists.iter().cloned());
    }
    Ok(Value::from(product(&all)))
}

fn permutations_of(pool: &[Value], r: usize) -> Vec<Vec<Value>> {
    if r == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for i in 0..pool.len() {
        let mut rest = pool.to_vec();
        let x = rest.remove(i);
        for mut p in permutations_of(&rest, r - 1) {
            p.insert(0, x.clone());
            out.push(p);
        }
    }
    out
}

fn combinations_of(pool: &[Value], r: usize) -> Vec<Vec<Value>> {
    if r == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for i in 0..pool.len() {
        for mut c in combinations_of(&pool[i + 1..], r - 1) {
            c.insert(0, pool[i].clone());
            out.push(c);
        }
    }
    out
}

fn f_permutations(v: Value, r: Option<i64>) -> Result<Value, Error> {
    let pool = items(&v)?;
    let r = r.map(|r| r.max(0) as usize).unwrap_or(pool.len());
    if r > pool.len() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    Ok(Value::from(
        permutations_of(&pool, r)
            .into_iter()
            .map(Value::from)
            .collect::<Vec<_>>(),
    ))
}

fn f_combinations(v: Value, r: i64) -> Result<Value, Error> {
    let pool = items(&v)?;
    Ok(Value::from(
        combinations_of(&pool, r.max(0) as usize)
            .into_iter()
            .map(Value::from)
            .collect::<Vec<_>>(),
    ))
}

/// A seeded Python RNG from a seed value (ints seed as ints, the rest as
/// their string form, like `random.Random(seed)`).
pub(crate) fn rng_for(seed: &Value) -> PyRandom {
    match seed.as_i64() {
        Some(n) if seed.kind() == ValueKind::Number => PyRandom::from_int_seed(i128::from(n)),
        _ => PyRandom::from_str_seed(&py_str(seed)),
    }
}

fn f_random(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let seed = a.get(usize::MAX, "seed").filter(|s| !s.is_none());
    let mut rng = seed.as_ref().map(rng_for);
    if v.kind() == ValueKind::Number {
        let end = to_int(&v).unwrap_or(0);
        let start = a.int(0, "start").unwrap_or(0);
        let step = a.int(1, "step").filter(|s| *s != 0).unwrap_or(1);
        let r = match &mut rng {
            Some(r) => r.randrange(start, end, step),
            None => {
                let mut r = PyRandom::from_int_seed(i128::from(rand::random::<u64>()));
                r.randrange(start, end, step)
            }
        };
        return r
            .map(Value::from)
            .ok_or_else(|| err(format!("empty range for randrange() ({start}, {end})")));
    }
    let list = items(&v)?;
    if list.is_empty() {
        return Err(err("Cannot choose from an empty sequence"));
    }
    let i = match &mut rng {
        Some(r) => r.below(list.len() as u64) as usize,
        None => rand::random_range(0..list.len()),
    };
    Ok(list[i].clone())
}

fn f_shuffle(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let mut list = items(&v)?;
    match a.get(0, "seed").filter(|s| !s.is_none()) {
        Some(seed) => rng_for(&seed).shuffle(&mut list),
        None => PyRandom::from_int_seed(i128::from(rand::random::<u64>())).shuffle(&mut list),
    }
    Ok(Value::from(list))
}

const SUFFIXES: [&str; 9] = ["Y", "Z", "E", "P", "T", "G", "M", "K", "B"];

fn size_limit(s: &str) -> f64 {
    match s {
        "Y" => 2f64.powi(80),
        "Z" => 2f64.powi(70),
        "E" => 2f64.powi(60),
        "P" => 2f64.powi(50),
        "T" => 2f64.powi(40),
        "G" => 2f64.powi(30),
        "M" => 2f64.powi(20),
        "K" => 2f64.powi(10),
        _ => 1.0,
    }
}

fn f_human_readable(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let isbits = a.bool(0, "isbits", false);
    let unit = a.string(1, "unit");
    let size = super::as_f64(&v)
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| {
            err(format!(
                "human_readable() can't interpret following string: {}",
                py_str(&v)
            ))
        })?;
    let base = if isbits { "bits" } else { "Bytes" };
    let mut chosen = "B";
    for suffix in SUFFIXES {
        let limit = size_limit(suffix);
        let hit = match &unit {
            None => size >= limit,
            Some(u) => u.to_uppercase().starts_with(suffix),
        };
        chosen = suffix;
        if hit {
            break;
        }
    }
    let limit = size_limit(chosen);
    let suffix = if limit != 1.0 {
        format!("{chosen}{}", &base[..1])
    } else {
        base.to_string()
    };
    Ok(Value::from(format!("{:.2} {suffix}", size / limit)))
}

fn f_human_to_bytes(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let default_unit = a.string(0, "default_unit");
    let isbits = a.bool(1, "isbits", false);
    let s = py_str(&v);
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| {
        err(format!(
            "human_to_bytes() can't interpret following string: {s}"
        ))
    })?;
    let unit = unit.trim();
    let unit = if unit.is_empty() {
        default_unit.unwrap_or_default()
    } else {
        unit.to_string()
    };
    if unit.is_empty() {
        return Ok(Value::from(num.round() as i64));
    }
    let first = unit[..1].to_uppercase();
    if !"BKMGTPEZY".contains(first.as_str()) {
        return Err(err(format!(
            "human_to_bytes() failed to convert {s}. Value is not a valid string ({unit})"
        )));
    }
    let last = unit.chars().last().unwrap_or('B');
    if unit.len() > 1 && ((isbits && last != 'b') || (!isbits && last != 'B')) {
        return Err(err(format!(
            "human_to_bytes() failed to convert {s}. Value is not a valid string ({unit})"
        )));
    }
    Ok(Value::from((num * size_limit(&first)).round() as i64))
}

fn num(v: &Value) -> Result<f64, Error> {
    super::as_f64(v)
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| err(format!("can only do math on numbers, not {}", py_str(v))))
}

fn f_log(v: Value, base: Option<Value>) -> Result<Value, Error> {
    let x = num(&v)?;
    Ok(Value::from(match base {
        Some(b) => x.ln() / num(&b)?.ln(),
        None => x.ln(),
    }))
}

fn f_pow(v: Value, e: Value) -> Result<Value, Error> {
    Ok(Value::from(num(&v)?.powf(num(&e)?)))
}

fn f_root(v: Value, base: Option<Value>) -> Result<Value, Error> {
    let x = num(&v)?;
    Ok(Value::from(match base {
        None => x.sqrt(),
        Some(b) => {
            let b = num(&b)?;
            if b == 2.0 { x.sqrt() } else { x.powf(1.0 / b) }
        }
    }))
}

fn f_rekey_on_member(v: Value, key: String, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let dup = a.string(0, "duplicates").unwrap_or_else(|| "error".into());
    let list: Vec<Value> = if v.kind() == ValueKind::Map {
        v.try_iter()?
            .map(|k| v.get_item(&k).unwrap_or_default())
            .collect()
    } else {
        items(&v)?
    };
    let mut m = indexmap::IndexMap::<Value, Value>::new();
    for item in list {
        let k = item.get_attr(&key)?;
        if k.is_undefined() {
            return Err(err(format!("Key {key} was not found")));
        }
        if m.contains_key(&k) && dup == "error" {
            return Err(err(format!(
                "Key {} is not unique, cannot correctly turn into dict",
                py_str(&k)
            )));
        }
        m.insert(k, item);
    }
    Ok(Value::from_pairs(m))
}

fn f_min_max(v: Value, args: Rest<Value>, kw: Kwargs, want_max: bool) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let attr = a.string(usize::MAX, "attribute");
    let list = items(&v)?;
    let key = |x: &Value| match &attr {
        Some(at) => x.get_attr(at).unwrap_or_default(),
        None => x.clone(),
    };
    let mut best: Option<Value> = None;
    for x in list {
        best = Some(match best {
            None => x,
            Some(b) => {
                let ord = key(&x)
                    .partial_cmp(&key(&b))
                    .unwrap_or(std::cmp::Ordering::Equal);
                if (want_max && ord.is_gt()) || (!want_max && ord.is_lt()) {
                    x
                } else {
                    b
                }
            }
        });
    }
    Ok(best.unwrap_or_default())
}

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("combine", f_combine);
    env.add_filter("dict2items", f_dict2items);
    env.add_filter("items2dict", f_items2dict);
    env.add_filter("flatten", f_flatten);
    env.add_filter("unique", f_unique);
    env.add_filter("union", f_union);
    env.add_filter("intersect", f_intersect);
    env.add_filter("difference", f_difference);
    env.add_filter("symmetric_difference", f_symmetric_difference);
    env.add_filter("sum", f_sum);
    env.add_filter("to_json", f_to_json);
    env.add_filter("to_nice_json", f_to_nice_json);
    env.add_filter("from_json", f_from_json);
    env.add_filter("to_yaml", f_to_yaml);
    env.add_filter("to_nice_yaml", f_to_nice_yaml);
    env.add_filter("from_yaml", f_from_yaml);
    env.add_filter("from_yaml_all", f_from_yaml_all);
    env.add_filter("extract", f_extract);
    env.add_filter("zip", f_zip);
    env.add_filter("zip_longest", f_zip_longest);
    env.add_filter("subelements", f_subelements);
    env.add_filter("product", f_product);
    env.add_filter("permutations", f_permutations);
    env.add_filter("combinations", f_combinations);
    env.add_filter("random", f_random);
    env.add_filter("shuffle", f_shuffle);
    env.add_filter("human_readable", f_human_readable);
    env.add_filter("human_to_bytes", f_human_to_bytes);
    env.add_filter("log", f_log);
    env.add_filter("pow", f_pow);
    env.add_filter("root", f_root);
    env.add_filter("rekey_on_member", f_rekey_on_member);
    env.add_filter("min", |v: Value, a: Rest<Value>, k: Kwargs| {
        f_min_max(v, a, k, false)
    });
    env.add_filter("max", |v: Value, a: Rest<Value>, k: Kwargs| {
        f_min_max(v, a, k, true)
    });
}
