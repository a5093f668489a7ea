//! YAML loading with spans and Ansible's (PyYAML's) YAML 1.1 semantics:
//! the scalar resolver, `<<` merge keys, last-wins duplicate keys with a
//! warning, the `!vault` / `!unsafe` tags, and an alias-expansion budget.
//!
//! We drive `saphyr-parser` (the parser under saphyr) with our own tree
//! builder instead of saphyr's loader: its `MarkedYaml` stores mappings in a
//! hash map, which loses the position of duplicate keys, the order PyYAML's
//! merge semantics depend on, and the plain/quoted distinction of keys. The
//! events carry everything we need (raw text, style, tag, anchor, span).

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span as ParserSpan, StrInput};

use crate::diagnostic::{Diagnostic, Source, Span};

/// Nodes that alias expansion may create in one document. Real files stay
/// far below this; a "billion laughs" document hits it within microseconds.
const ALIAS_NODE_BUDGET: usize = 250_000;

/// Deeper nesting than this is not a configuration file; refusing it keeps
/// the recursive builder far from the stack limit.
const MAX_DEPTH: usize = 400;

/// The key of the one-entry object that carries an `!unsafe` string in
/// plain JSON data (see [`Node::to_json`]).
pub const UNSAFE_MARKER: &str = "__tutti_unsafe__";

/// A YAML node with its 1-based position in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: usize,
    pub col: usize,
}

/// A resolved YAML value (PyYAML's types, minus timestamps, which stay
/// strings as they do for Ansible's templating in practice).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A scalar carrying one of Ansible's tags; `text` is the raw scalar.
    Tagged {
        tag: Tag,
        text: String,
    },
    Seq(Vec<Node>),
    /// Keys are unique (duplicates were resolved last-wins while loading)
    /// and keep their first position, like a Python dict.
    Map(Vec<(Node, Node)>),
}

/// The Ansible-specific tags that survive loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// `!vault`: an inline Ansible Vault ciphertext.
    Vault,
    /// `!unsafe`: a string that must never be templated.
    Unsafe,
}

/// One loaded document plus what loading it had to say.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub node: Node,
    pub source: Source,
    pub warnings: Vec<String>,
}

impl Node {
    fn new(value: Value, line: usize, col: usize) -> Self {
        Node { value, line, col }
    }

    /// Plain data, as Ansible would hand it to Jinja or JSON output.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => J::Number(n),
                // JSON has no inf/nan; Python's json writes these names.
                None => J::String(python_float(*f)),
            },
            Value::Str(s) => J::String(s.clone()),
            // `!unsafe` text must never be templated: it travels as a marker
            // object the templating layer unwraps as literal text.
            Value::Tagged {
                tag: Tag::Unsafe,
                text,
            } => {
                let mut m = serde_json::Map::new();
                m.insert(UNSAFE_MARKER.to_string(), J::String(text.clone()));
                J::Object(m)
            }
            // `!vault |` values decrypt when the run has secrets; without
            // them the ciphertext stays (Ansible fails only on use).
            Value::Tagged {
                tag: Tag::Vault,
                text,
            } => J::String(crate::vault::decrypt_global(text).unwrap_or_else(|_| text.clone())),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(pairs) => {
                let mut map = serde_json::Map::new();
                for (k, v) in pairs {
                    map.insert(k.key_string(), v.to_json());
                }
                J::Object(map)
            }
        }
    }

    /// The position of this node, for diagnostics.
    pub fn span(&self, src: &Source) -> Span {
        Span::new(src, self.line, self.col)
    }

    /// The value of `key` if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.key_string() == key)
            .map(|(_, v)| v)
    }

    /// The string if this is a plain (untagged) string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a string, including tagged (`!unsafe`, `!vault`) ones.
    pub fn as_text(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            Value::Tagged { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(pairs) => Some(pairs),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The string a mapping key becomes in JSON (what `json.dumps` does to
    /// non-string keys: `1` → "1", `true` → "true", `null` → "null").
    pub fn key_string(&self) -> String {
        match &self.value {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => python_float(*f),
            Value::Str(s) => s.clone(),
            Value::Tagged { text, .. } => text.clone(),
            Value::Seq(_) | Value::Map(_) => self.to_json().to_string(),
        }
    }

    /// The key as Python's `str()` prints it, for messages that quote
    /// Ansible's (`True`, `None`, `1.5`).
    pub fn python_str(&self) -> String {
        match &self.value {
            Value::Null => "None".to_owned(),
            Value::Bool(true) => "True".to_owned(),
            Value::Bool(false) => "False".to_owned(),
            _ => self.key_string(),
        }
    }

    /// What kind of value this is, in the words Ansible's errors use.
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) | Value::Tagged { .. } => "str",
            Value::Seq(_) => "list",
            Value::Map(_) => "dict",
        }
    }
}

/// Python's `repr(float)` for the values we can meet.
fn python_float(f: f64) -> String {
    if f.is_nan() {
        "nan".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// Load one YAML document. An empty document (or only comments) is `Null`.
pub fn load(source: &Source) -> Result<Loaded, Diagnostic> {
    // A whole file encrypted with Ansible Vault (vars files, group_vars,
    // role vars...) is decrypted with the run's secrets first.
    if crate::vault::is_vault(&source.text) {
        let plain = crate::vault::decrypt_global(&source.text)
            .map_err(|e| Diagnostic::error(format!("{e} for {}", source.name)))?;
        let decrypted = Source::new(source.name.clone(), plain);
        let loaded = load(&decrypted)?;
        register_strings(&loaded.node);
        return Ok(loaded);
    }
    let mut builder = Builder {
        parser: Parser::new_from_str(&source.text),
        source,
        anchors: HashMap::new(),
        budget: ALIAS_NODE_BUDGET,
        warnings: Vec::new(),
    };
    let node = builder.document()?;
    Ok(Loaded {
        node,
        source: source.clone(),
        warnings: builder.warnings,
    })
}

/// Every string of a decrypted file is a secret for output purposes.
fn register_strings(n: &Node) {
    match &n.value {
        Value::Str(s) => crate::secret::register(s),
        Value::Tagged { text, .. } => crate::secret::register(text),
        Value::Seq(items) => items.iter().for_each(register_strings),
        Value::Map(pairs) => pairs.iter().for_each(|(_, v)| register_strings(v)),
        _ => {}
    }
}

struct Builder<'a> {
    parser: Parser<'a, StrInput<'a>>,
    source: &'a Source,
    anchors: HashMap<usize, Node>,
    budget: usize,
    warnings: Vec<String>,
}

/// How a mapping entry got there, so only real duplicates warn: keys that
/// override merged (`<<`) ones are YAML's intended use.
#[derive(Clone, Copy, PartialEq)]
enum Origin {
    Merged,
    Explicit,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, ParserSpan), Diagnostic> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(self.scan_error(&e)),
            None => Err(self.error_at("unexpected end of the stream", 0, 0)),
        }
    }

    fn scan_error(&self, e: &ScanError) -> Diagnostic {
        let m = e.marker();
        self.error_at(e.info(), m.line(), m.col() + 1)
    }

    fn error_at(&self, msg: &str, line: usize, col: usize) -> Diagnostic {
        Diagnostic::parse(
            format!("Syntax Error while loading YAML: {msg}"),
            Some(Span::new(self.source, line, col)),
        )
    }

    fn document(&mut self) -> Result<Node, Diagnostic> {
        let mut doc: Option<Node> = None;
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    if doc.is_some() {
                        // PyYAML's single-document loader refuses streams.
                        return Err(self.error_at(
                            "expected a single document in the stream, but found another document",
                            span.start.line(),
                            span.start.col() + 1,
                        ));
                    }
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::DocumentEnd) {
                        doc = Some(Node::new(Value::Null, 1, 1));
                        continue;
                    }
                    doc = Some(self.node(ev, span, 0)?);
                    self.anchors.clear();
                }
                other => {
                    let node = self.node(other, span, 0)?;
                    doc = Some(node);
                }
            }
        }
        Ok(doc.unwrap_or(Node::new(Value::Null, 1, 1)))
    }

    fn node(&mut self, ev: Event<'a>, span: ParserSpan, depth: usize) -> Result<Node, Diagnostic> {
        let line = span.start.line();
        let col = span.start.col() + 1;
        if depth > MAX_DEPTH {
            return Err(self.error_at("document nested too deeply", line, col));
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let value = self.scalar(text, style, tag.as_deref(), line, col)?;
                let node = Node::new(value, line, col);
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::SequenceStart(anchor, tag) => {
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, span, depth + 1)?);
                }
                let value =
                    self.collection_tag(Value::Seq(items), tag.as_deref(), "seq", line, col)?;
                let node = Node::new(value, line, col);
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, tag) => {
                let mut entries = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let is_merge = matches!(
                        &ev,
                        Event::Scalar(t, ScalarStyle::Plain, _, None) if t == "<<"
                    );
                    let key = self.node(ev, span, depth + 1)?;
                    let (ev, span) = self.next()?;
                    let value = self.node(ev, span, depth + 1)?;
                    entries.push((is_merge, key, value));
                }
                let map = self.mapping(entries, line, col)?;
                let value = self.collection_tag(map, tag.as_deref(), "map", line, col)?;
                let node = Node::new(value, line, col);
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(self.error_at("found undefined alias", line, col));
                };
                let size = count_nodes(target);
                if size > self.budget {
                    return Err(self.error_at(
                        &format!(
                            "aliases expand to more than {ALIAS_NODE_BUDGET} nodes \
                             (a \"billion laughs\" document?)"
                        ),
                        line,
                        col,
                    ));
                }
                self.budget -= size;
                Ok(target.clone())
            }
            other => Err(self.error_at(&format!("unexpected event {other:?}"), line, col)),
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        // Anchor ids start at 1; 0 means "no anchor".
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn scalar(
        &self,
        text: Cow<'a, str>,
        style: ScalarStyle,
        tag: Option<&saphyr_parser::Tag>,
        line: usize,
        col: usize,
    ) -> Result<Value, Diagnostic> {
        let Some(tag) = tag else {
            return Ok(if style == ScalarStyle::Plain {
                resolve_plain(&text)
            } else {
                Value::Str(text.into_owned())
            });
        };
        if tag.handle.is_empty() && tag.suffix == "!" {
            // The non-specific tag `!` forces a string.
            return Ok(Value::Str(text.into_owned()));
        }
        if tag.handle == "!" {
            return match tag.suffix.as_str() {
                "vault" => Ok(Value::Tagged {
                    tag: Tag::Vault,
                    text: text.into_owned(),
                }),
                "unsafe" => Ok(Value::Tagged {
                    tag: Tag::Unsafe,
                    text: text.into_owned(),
                }),
                _ => Err(self.unknown_tag(tag, line, col)),
            };
        }
        if tag.is_yaml_core_schema() {
            let resolved = resolve_plain(&text);
            let ok = match tag.suffix.as_str() {
                "str" | "binary" | "timestamp" => return Ok(Value::Str(text.into_owned())),
                "null" => matches!(resolved, Value::Null),
                "bool" => matches!(resolved, Value::Bool(_)),
                "int" => matches!(resolved, Value::Int(_)),
                "float" => match resolved {
                    Value::Float(_) => true,
                    Value::Int(i) => return Ok(Value::Float(i as f64)),
                    _ => false,
                },
                _ => return Err(self.unknown_tag(tag, line, col)),
            };
            if !ok {
                return Err(self.error_at(
                    &format!("invalid value for tag !!{}: '{text}'", tag.suffix),
                    line,
                    col,
                ));
            }
            return Ok(resolved);
        }
        Err(self.unknown_tag(tag, line, col))
    }

    fn unknown_tag(&self, tag: &saphyr_parser::Tag, line: usize, col: usize) -> Diagnostic {
        self.error_at(
            &format!("could not determine a constructor for the tag '{tag}'"),
            line,
            col,
        )
    }

    /// Tags on collections: core `!!seq`/`!!map` are no-ops, `!unsafe`
    /// marks every string inside (Ansible wraps the whole structure).
    fn collection_tag(
        &self,
        value: Value,
        tag: Option<&saphyr_parser::Tag>,
        core: &str,
        line: usize,
        col: usize,
    ) -> Result<Value, Diagnostic> {
        let Some(tag) = tag else { return Ok(value) };
        let non_specific = tag.handle.is_empty() && tag.suffix == "!";
        if non_specific || (tag.is_yaml_core_schema() && tag.suffix == core) {
            return Ok(value);
        }
        if tag.handle == "!" && tag.suffix == "unsafe" {
            return Ok(mark_unsafe(value));
        }
        if tag.handle == "!" && tag.suffix == "vault" {
            return Err(self.error_at("a !vault value must be a string", line, col));
        }
        Err(self.unknown_tag(tag, line, col))
    }

    /// Build a mapping the way PyYAML does: merged entries first (a list
    /// of maps is applied so that earlier maps win), then explicit ones;
    /// later keys replace earlier values in place, like a Python dict.
    fn mapping(
        &mut self,
        entries: Vec<(bool, Node, Node)>,
        line: usize,
        col: usize,
    ) -> Result<Value, Diagnostic> {
        let mut merged: Vec<(Node, Node)> = Vec::new();
        let mut explicit: Vec<(Node, Node)> = Vec::new();
        for (is_merge, key, value) in entries {
            if !is_merge {
                explicit.push((key, value));
                continue;
            }
            match value.value {
                Value::Map(pairs) => merged.extend(pairs),
                Value::Seq(items) => {
                    let mut maps = Vec::new();
                    for item in items {
                        match item.value {
                            Value::Map(pairs) => maps.push(pairs),
                            _ => {
                                return Err(self.error_at(
                                    "while constructing a mapping, expected a mapping for merging",
                                    item.line,
                                    item.col,
                                ));
                            }
                        }
                    }
                    for pairs in maps.into_iter().rev() {
                        merged.extend(pairs);
                    }
                }
                _ => {
                    return Err(self.error_at(
                        "while constructing a mapping, expected a mapping or list of mappings for merging",
                        value.line,
                        value.col,
                    ));
                }
            }
        }
        let mut out: Vec<(Node, Node, Origin)> = Vec::new();
        let mut index: HashMap<KeyId, usize> = HashMap::new();
        let tagged = merged
            .into_iter()
            .map(|(k, v)| (k, v, Origin::Merged))
            .chain(explicit.into_iter().map(|(k, v)| (k, v, Origin::Explicit)));
        for (key, value, origin) in tagged {
            let Some(id) = KeyId::of(&key) else {
                return Err(self.error_at(
                    "while constructing a mapping, found unhashable key",
                    key.line,
                    key.col,
                ));
            };
            match index.get(&id) {
                Some(&at) => {
                    if origin == Origin::Explicit && out[at].2 == Origin::Explicit {
                        self.warnings.push(format!(
                            "While constructing a mapping from {}, line {line}, column {col}, \
                             found a duplicate dict key ({}). Using last defined value only.",
                            self.source.name,
                            key.python_str()
                        ));
                    }
                    out[at].1 = value;
                    out[at].2 = origin;
                }
                None => {
                    index.insert(id, out.len());
                    out.push((key, value, origin));
                }
            }
        }
        Ok(Value::Map(
            out.into_iter().map(|(k, v, _)| (k, v)).collect(),
        ))
    }
}

/// Dict-key identity with Python's equalities (`1 == 1.0 == True`).
#[derive(Hash, PartialEq, Eq)]
enum KeyId {
    Null,
    Int(i64),
    Float(u64),
    Str(String),
    Tagged(String),
}

impl KeyId {
    fn of(node: &Node) -> Option<KeyId> {
        Some(match &node.value {
            Value::Null => KeyId::Null,
            Value::Bool(b) => KeyId::Int(i64::from(*b)),
            Value::Int(i) => KeyId::Int(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => KeyId::Int(*f as i64),
            Value::Float(f) => KeyId::Float(f.to_bits()),
            Value::Str(s) => KeyId::Str(s.clone()),
            // Ansible's unsafe strings compare equal to plain ones.
            Value::Tagged {
                tag: Tag::Unsafe,
                text,
            } => KeyId::Str(text.clone()),
            Value::Tagged { text, .. } => KeyId::Tagged(text.clone()),
            Value::Seq(_) | Value::Map(_) => return None,
        })
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(pairs) => {
            1 + pairs
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

fn mark_unsafe(value: Value) -> Value {
    match value {
        Value::Str(text) => Value::Tagged {
            tag: Tag::Unsafe,
            text,
        },
        Value::Seq(items) => Value::Seq(
            items
                .into_iter()
                .map(|n| Node::new(mark_unsafe(n.value), n.line, n.col))
                .collect(),
        ),
        Value::Map(pairs) => Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Node::new(mark_unsafe(v.value), v.line, v.col)))
                .collect(),
        ),
        other => other,
    }
}

/// PyYAML's implicit resolver (YAML 1.1) for a plain scalar.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        _ => {}
    }
    if let Some(v) = resolve_int(text) {
        return v;
    }
    if let Some(f) = resolve_float(text) {
        return Value::Float(f);
    }
    Value::Str(text.to_owned())
}

fn split_sign(text: &str) -> (bool, &str) {
    if let Some(rest) = text.strip_prefix('-') {
        (true, rest)
    } else if let Some(rest) = text.strip_prefix('+') {
        (false, rest)
    } else {
        (false, text)
    }
}

fn all_chars(s: &str, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(ok)
}

/// The int forms of YAML 1.1: `0b1_0`, `0o`-less octal `0644`, decimal,
/// `0x1F`, sexagesimal `1:30`. Values beyond i64 stay strings.
fn resolve_int(text: &str) -> Option<Value> {
    let (negative, body) = split_sign(text);
    let digits = |s: &str| s.replace('_', "");
    let magnitude: i128 = if let Some(bin) = body.strip_prefix("0b") {
        if !all_chars(bin, |c| c == '0' || c == '1' || c == '_') {
            return None;
        }
        parse_radix(&digits(bin), 2)?
    } else if let Some(hex) = body.strip_prefix("0x") {
        if !all_chars(hex, |c| c.is_ascii_hexdigit() || c == '_') {
            return None;
        }
        parse_radix(&digits(hex), 16)?
    } else if body == "0" {
        0
    } else if let Some(oct) = body.strip_prefix('0') {
        if !all_chars(oct, |c| ('0'..='7').contains(&c) || c == '_') {
            return None;
        }
        parse_radix(&digits(oct), 8)?
    } else if body.contains(':') {
        // `[1-9][0-9_]*(:[0-5]?[0-9])+`
        let mut parts = body.split(':');
        let head = parts.next()?;
        if !head.starts_with(|c: char| ('1'..='9').contains(&c))
            || !all_chars(head, |c| c.is_ascii_digit() || c == '_')
        {
            return None;
        }
        let mut total = parse_radix(&digits(head), 10)?;
        for part in parts {
            if !is_sexagesimal_part(part) {
                return None;
            }
            total = total
                .checked_mul(60)?
                .checked_add(part.parse::<i128>().ok()?)?;
        }
        total
    } else {
        if !body.starts_with(|c: char| ('1'..='9').contains(&c))
            || !all_chars(body, |c| c.is_ascii_digit() || c == '_')
        {
            return None;
        }
        parse_radix(&digits(body), 10)?
    };
    let signed = if negative { -magnitude } else { magnitude };
    match i64::try_from(signed) {
        Ok(i) => Some(Value::Int(i)),
        Err(_) => Some(Value::Str(text.to_owned())),
    }
}

/// `[0-5]?[0-9]`
fn is_sexagesimal_part(part: &str) -> bool {
    let b = part.as_bytes();
    match b.len() {
        1 => b[0].is_ascii_digit(),
        2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
        _ => false,
    }
}

fn parse_radix(digits: &str, radix: u32) -> Option<i128> {
    if digits.is_empty() {
        // `0b_` or `0_`: the regex matches, the value is zero.
        return Some(0);
    }
    i128::from_str_radix(digits, radix).ok()
}

/// YAML 1.1 floats as PyYAML resolves them: a `.` is required, an exponent
/// needs a sign (`1.0e+3`), and `.inf` / `.nan` are recognised.
fn resolve_float(text: &str) -> Option<f64> {
    let (negative, body) = split_sign(text);
    let sign = if negative { -1.0 } else { 1.0 };
    match body {
        ".inf" | ".Inf" | ".INF" => return Some(sign * f64::INFINITY),
        ".nan" | ".NaN" | ".NAN" if body.len() == text.len() => return Some(f64::NAN),
        _ => {}
    }
    if body.contains(':') {
        // `[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`
        let (int_part, frac) = body.rsplit_once('.')?;
        if !all_chars(frac, |c| c.is_ascii_digit() || c == '_') && !frac.is_empty() {
            return None;
        }
        let mut parts = int_part.split(':');
        let head = parts.next()?;
        if !head.starts_with(|c: char| c.is_ascii_digit())
            || !all_chars(head, |c| c.is_ascii_digit() || c == '_')
        {
            return None;
        }
        let mut total: f64 = head.replace('_', "").parse().ok()?;
        let mut any = false;
        for part in parts {
            if !is_sexagesimal_part(part) {
                return None;
            }
            any = true;
            total = total * 60.0 + part.parse::<f64>().ok()?;
        }
        if !any {
            return None;
        }
        let frac_digits = frac.replace('_', "");
        let fraction: f64 = format!("0.{frac_digits}").parse().ok()?;
        return Some(sign * (total + fraction));
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (whole, frac) = mantissa.split_once('.')?;
    let whole_ok = if whole.is_empty() {
        // `.5` form: the fraction must start with a digit.
        frac.starts_with(|c: char| c.is_ascii_digit())
    } else {
        whole.starts_with(|c: char| c.is_ascii_digit())
            && all_chars(whole, |c| c.is_ascii_digit() || c == '_')
    };
    if !whole_ok || !(frac.is_empty() || all_chars(frac, |c| c.is_ascii_digit() || c == '_')) {
        return None;
    }
    if let Some(exp) = exponent {
        let digits = exp.strip_prefix(['+', '-'])?;
        if !all_chars(digits, |c| c.is_ascii_digit()) {
            return None;
        }
    }
    let cleaned = format!(
        "{}.{}{}",
        if whole.is_empty() {
            "0".to_owned()
        } else {
            whole.replace('_', "")
        },
        if frac.is_empty() {
            "0".to_owned()
        } else {
            frac.replace('_', "")
        },
        exponent.map(|e| format!("e{e}")).unwrap_or_default()
    );
    cleaned.parse::<f64>().ok().map(|f| sign * f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> Loaded {
        load(&Source::new("t.yml", text)).unwrap()
    }

    fn scalar(text: &str) -> Value {
        load_str(&format!("k: {text}\n"))
            .node
            .get("k")
            .unwrap()
            .value
            .clone()
    }

    #[test]
    fn booleans_are_yaml_1_1() {
        for t in [
            "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
        ] {
            assert_eq!(scalar(t), Value::Bool(true), "{t}");
        }
        for t in [
            "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
        ] {
            assert_eq!(scalar(t), Value::Bool(false), "{t}");
        }
        for t in ["y", "n", "Y", "N", "yES", "tRUE"] {
            assert_eq!(scalar(t), Value::Str(t.into()), "{t}");
        }
        assert_eq!(scalar("'yes'"), Value::Str("yes".into()));
        assert_eq!(scalar("\"on\""), Value::Str("on".into()));
    }

    #[test]
    fn nulls() {
        for t in ["~", "null", "Null", "NULL", ""] {
            assert_eq!(scalar(t), Value::Null, "{t:?}");
        }
        assert_eq!(scalar("nULL"), Value::Str("nULL".into()));
        assert_eq!(scalar("''"), Value::Str(String::new()));
    }

    #[test]
    fn integers() {
        assert_eq!(scalar("0644"), Value::Int(420));
        assert_eq!(scalar("0"), Value::Int(0));
        assert_eq!(scalar("-12"), Value::Int(-12));
        assert_eq!(scalar("+7"), Value::Int(7));
        assert_eq!(scalar("0x1F"), Value::Int(31));
        assert_eq!(scalar("0b101"), Value::Int(5));
        assert_eq!(scalar("1_000"), Value::Int(1000));
        assert_eq!(scalar("1:30"), Value::Int(90));
        assert_eq!(scalar("1:00:00"), Value::Int(3600));
        assert_eq!(scalar("0o644"), Value::Str("0o644".into()));
        assert_eq!(scalar("0899"), Value::Str("0899".into()));
        assert_eq!(scalar("1:60"), Value::Str("1:60".into()));
        assert_eq!(scalar("'0644'"), Value::Str("0644".into()));
        assert_eq!(
            scalar("99999999999999999999"),
            Value::Str("99999999999999999999".into())
        );
    }

    #[test]
    fn floats() {
        assert_eq!(scalar("1.5"), Value::Float(1.5));
        assert_eq!(scalar("-0.25"), Value::Float(-0.25));
        assert_eq!(scalar("1."), Value::Float(1.0));
        assert_eq!(scalar(".5"), Value::Float(0.5));
        assert_eq!(scalar("1.0e+3"), Value::Float(1000.0));
        assert_eq!(scalar("1_0.5"), Value::Float(10.5));
        assert_eq!(scalar("1:30.5"), Value::Float(90.5));
        assert_eq!(scalar("1e3"), Value::Str("1e3".into()));
        assert_eq!(scalar("1.0e3"), Value::Str("1.0e3".into()));
        assert_eq!(scalar(".inf"), Value::Float(f64::INFINITY));
        assert_eq!(scalar("-.Inf"), Value::Float(f64::NEG_INFINITY));
        assert!(matches!(scalar(".nan"), Value::Float(f) if f.is_nan()));
        assert_eq!(scalar("1.2.3"), Value::Str("1.2.3".into()));
        assert_eq!(scalar("."), Value::Str(".".into()));
    }

    #[test]
    fn strings_and_block_scalars() {
        assert_eq!(scalar("hello world"), Value::Str("hello world".into()));
        assert_eq!(
            load_str("k: |\n  yes\n").node.get("k").unwrap().value,
            Value::Str("yes\n".into())
        );
        assert_eq!(scalar("2001-12-14"), Value::Str("2001-12-14".into()));
        assert_eq!(scalar("!!str 12"), Value::Str("12".into()));
        assert_eq!(scalar("!!int 12"), Value::Int(12));
        assert_eq!(scalar("! yes"), Value::Str("yes".into()));
    }

    #[test]
    fn positions_are_one_based() {
        let l = load_str("a:\n  b: [1, x]\n");
        let b = l.node.get("a").unwrap().get("b").unwrap();
        assert_eq!((b.line, b.col), (2, 6));
        let x = &b.as_seq().unwrap()[1];
        assert_eq!((x.line, x.col), (2, 10));
        assert_eq!((l.node.line, l.node.col), (1, 1));
    }

    #[test]
    fn merge_keys_follow_pyyaml() {
        let l = load_str(
            "base: &b {x: 1, y: 2}\nother: &o {y: 3, z: 4}\n\
             one:\n  <<: *b\n  y: 9\n\
             many:\n  <<: [*b, *o]\n  w: 0\n",
        );
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let j = l.node.to_json();
        assert_eq!(j["one"], serde_json::json!({"x": 1, "y": 9}));
        // Earlier maps in the list win: y comes from *b.
        assert_eq!(
            j["many"],
            serde_json::json!({"y": 2, "z": 4, "x": 1, "w": 0})
        );
        assert_eq!(
            serde_json::to_string(&j["one"]).unwrap(),
            r#"{"x":1,"y":9}"#
        );
    }

    #[test]
    fn quoted_merge_key_is_a_plain_key() {
        let l = load_str("a: &a {x: 1}\nb: {'<<': *a}\n");
        assert_eq!(l.node.to_json()["b"], serde_json::json!({"<<": {"x": 1}}));
    }

    #[test]
    fn bad_merge_value_is_an_error() {
        let e = load(&Source::new("t.yml", "a:\n  <<: 3\n")).unwrap_err();
        assert!(
            e.msg.contains("expected a mapping or list of mappings"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_keys_warn_and_last_wins() {
        let l = load_str("top:\n  a: 1\n  b: 2\n  a: 3\n");
        assert_eq!(
            l.node.to_json(),
            serde_json::json!({"top": {"a": 3, "b": 2}})
        );
        assert_eq!(
            l.warnings,
            vec![
                "While constructing a mapping from t.yml, line 2, column 3, found a duplicate \
                 dict key (a). Using last defined value only."
                    .to_owned()
            ]
        );
        let l = load_str("{yes: 1, on: 2}");
        assert_eq!(l.warnings.len(), 1);
        assert!(l.warnings[0].contains("(True)"));
    }

    #[test]
    fn tags_survive() {
        let l = load_str(
            "secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\nraw: !unsafe '{{ x }}'\n\
             list: !unsafe ['{{ a }}', 1]\n",
        );
        assert_eq!(
            l.node.get("secret").unwrap().value,
            Value::Tagged {
                tag: Tag::Vault,
                text: "$ANSIBLE_VAULT;1.1;AES256\n6162\n".into()
            }
        );
        assert_eq!(
            l.node.get("raw").unwrap().value,
            Value::Tagged {
                tag: Tag::Unsafe,
                text: "{{ x }}".into()
            }
        );
        let list = l.node.get("list").unwrap().as_seq().unwrap();
        assert!(matches!(
            list[0].value,
            Value::Tagged {
                tag: Tag::Unsafe,
                ..
            }
        ));
        assert_eq!(list[1].value, Value::Int(1));
        assert_eq!(
            l.node.to_json()["raw"],
            serde_json::json!({UNSAFE_MARKER: "{{ x }}"})
        );
    }

    #[test]
    fn unknown_tag_is_an_error() {
        let e = load(&Source::new("t.yml", "a: !foo x\n")).unwrap_err();
        assert_eq!(
            e.msg,
            "Syntax Error while loading YAML: could not determine a constructor for the tag '!foo'"
        );
    }

    #[test]
    fn non_string_keys_become_strings() {
        let l = load_str("2: a\ntrue: b\n~: c\n1.5: d\n");
        assert_eq!(
            l.node.to_json(),
            serde_json::json!({"2": "a", "true": "b", "null": "c", "1.5": "d"})
        );
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(load_str("").node.value, Value::Null);
        assert_eq!(load_str("# only a comment\n").node.value, Value::Null);
        assert_eq!(load_str("---\n...\n").node.value, Value::Null);
    }

    #[test]
    fn several_documents_are_refused() {
        let e = load(&Source::new("t.yml", "a: 1\n---\nb: 2\n")).unwrap_err();
        assert!(e.msg.contains("expected a single document"), "{e}");
    }

    #[test]
    fn syntax_error_points_at_the_problem() {
        let src = Source::new("hosts.yml", "all:\n  hosts:\n    a: {x: 1\n");
        let e = load(&src).unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert!(
            e.msg.starts_with("Syntax Error while loading YAML: "),
            "{e}"
        );
        let span = e.span.unwrap();
        assert_eq!(span.source.name.as_ref(), "hosts.yml");
        assert!(span.line >= 3, "{span:?}");
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = load(&Source::new("bomb.yml", text)).unwrap_err();
        assert!(e.msg.contains("billion laughs"), "{e}");
    }

    #[test]
    fn ordinary_aliases_work() {
        let l = load_str("a: &x [1, 2]\nb: *x\n");
        assert_eq!(l.node.to_json()["b"], serde_json::json!([1, 2]));
    }

    #[test]
    fn json_is_yaml() {
        let l = load_str(r#"{"all": {"hosts": {"h1": {"port": 22, "on": "yes"}}}}"#);
        assert_eq!(
            l.node.to_json(),
            serde_json::json!({"all": {"hosts": {"h1": {"port": 22, "on": "yes"}}}})
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_crashing() {
        let text = "[".repeat(2000);
        assert!(load(&Source::new("t.yml", text)).is_err());
    }
}
