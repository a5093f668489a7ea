//! A small YAML emitter that writes what PyYAML's `yaml.dump` writes, for
//! the `to_yaml` and `to_nice_yaml` filters.
//!
//! Users diff the files Ansible generated with these filters, so the output
//! follows PyYAML's choices: keys sorted, sequences inside mappings not
//! indented, `-` padded to the indent width, strings quoted when they would
//! read back as something else, long plain lines folded at the width, and
//! (for `to_yaml`) collections of plain scalars written in flow style.

use serde_json::Value as J;

/// Emitter settings (PyYAML's `indent`, `width`, `default_flow_style`,
/// `sort_keys`).
#[derive(Debug, Clone)]
pub struct YamlOpts {
    pub indent: usize,
    pub width: usize,
    /// `None`: flow style for collections of plain scalars (PyYAML's
    /// default); `Some(false)`: always block style.
    pub flow: Option<bool>,
    pub sort_keys: bool,
}

impl Default for YamlOpts {
    fn default() -> Self {
        YamlOpts {
            indent: 2,
            width: 80,
            flow: None,
            sort_keys: true,
        }
    }
}

/// Dumps a value as one YAML document (with the trailing newline).
pub fn to_yaml(v: &J, opts: &YamlOpts) -> String {
    let mut e = Emitter {
        out: String::new(),
        opts: opts.clone(),
        column: 0,
        after_dash: false,
    };
    let indent = opts.indent.clamp(2, 9);
    e.opts.indent = indent;
    match v {
        J::Array(a) if e.is_block(v) => e.block_seq(a, 0),
        J::Object(m) if e.is_block(v) => e.block_map(m, 0),
        _ => {
            if is_scalar(v) {
                let s = e.scalar(v, false, 0);
                e.write(&s);
                if matches!(v, J::String(_)) || matches!(v, J::Null) {
                    // PyYAML ends a document holding only a plain scalar
                    // with an explicit document end marker.
                    if !s.starts_with(['\'', '"']) {
                        e.write("\n...");
                    }
                }
            } else {
                e.flow(v, 0);
            }
        }
    }
    e.out.push('\n');
    e.out
}

struct Emitter {
    out: String,
    opts: YamlOpts,
    column: usize,
    /// Just wrote a `-` whose item may start on the same line.
    after_dash: bool,
}

fn is_scalar(v: &J) -> bool {
    !matches!(v, J::Array(_) | J::Object(_))
}

impl Emitter {
    fn write(&mut self, s: &str) {
        match s.rfind('\n') {
            Some(i) => self.column = s.len() - i - 1,
            None => self.column += s.chars().count(),
        }
        self.out.push_str(s);
    }

    fn newline_indent(&mut self, indent: usize) {
        self.out.push('\n');
        self.out.push_str(&" ".repeat(indent));
        self.column = indent;
    }

    fn entries<'a>(&self, m: &'a serde_json::Map<String, J>) -> Vec<(&'a String, &'a J)> {
        let mut v: Vec<_> = m.iter().collect();
        if self.opts.sort_keys {
            v.sort_by(|a, b| a.0.cmp(b.0));
        }
        v
    }

    /// PyYAML's default_flow_style=None: flow style for collections whose
    /// items are all scalars.
    fn use_flow(&self, v: &J) -> bool {
        match self.opts.flow {
            Some(f) => f,
            None => match v {
                J::Array(a) => a.iter().all(is_scalar),
                J::Object(m) => m.values().all(is_scalar),
                _ => true,
            },
        }
    }

    fn is_block(&self, v: &J) -> bool {
        match v {
            J::Array(a) => !a.is_empty() && !self.use_flow(v),
            J::Object(m) => !m.is_empty() && !self.use_flow(v),
            _ => false,
        }
    }

    /// Moves to where the next block item starts at `indent`: on the same
    /// line right after a `-` indicator if that line is not past it,
    /// otherwise on a new line.
    fn item_start(&mut self, indent: usize) {
        if self.after_dash && self.column <= indent {
            self.out.push_str(&" ".repeat(indent - self.column));
            self.column = indent;
        } else if !self.out.is_empty() {
            self.newline_indent(indent);
        }
        self.after_dash = false;
    }

    fn block_map(&mut self, m: &serde_json::Map<String, J>, indent: usize) {
        for (k, v) in self.entries(m) {
            self.item_start(indent);
            let key = self.scalar(&J::String(k.clone()), false, indent);
            self.write(&key);
            self.write(":");
            match v {
                J::Object(x) if self.is_block(v) => self.block_map(x, indent + self.opts.indent),
                // Sequences in a mapping are not indented.
                J::Array(x) if self.is_block(v) => self.block_seq(x, indent),
                _ => {
                    self.write(" ");
                    self.inline_value(v, indent + self.opts.indent);
                }
            }
        }
    }

    fn block_seq(&mut self, a: &[J], indent: usize) {
        let step = self.opts.indent;
        for v in a {
            self.item_start(indent);
            self.write("-");
            self.after_dash = true;
            match v {
                J::Object(x) if self.is_block(v) => self.block_map(x, indent + step),
                J::Array(x) if self.is_block(v) => self.block_seq(x, indent + step),
                _ => {
                    self.after_dash = false;
                    self.write(" ");
                    self.inline_value(v, indent + step);
                }
            }
        }
    }

    fn inline_value(&mut self, v: &J, indent: usize) {
        if is_scalar(v) {
            let s = self.scalar(v, false, indent);
            self.write_folded(&s, indent);
        } else {
            self.flow(v, indent);
        }
    }

    /// Writes a scalar, folding plain and single-quoted text at spaces once
    /// the line is past the width, as PyYAML does.
    fn write_folded(&mut self, s: &str, indent: usize) {
        let foldable = !s.starts_with('"') && !s.contains('\n');
        if !foldable || self.column + s.chars().count() <= self.opts.width {
            self.write(s);
            return;
        }
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let single_space = c == ' '
                && i > 0
                && chars[i - 1] != ' '
                && i + 1 < chars.len()
                && chars[i + 1] != ' ';
            if single_space && self.column > self.opts.width {
                self.newline_indent(indent);
            } else {
                let mut b = [0u8; 4];
                self.write(c.encode_utf8(&mut b));
            }
            i += 1;
        }
    }

    fn flow(&mut self, v: &J, indent: usize) {
        match v {
            J::Array(a) => {
                self.write("[");
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        self.write(", ");
                    }
                    self.flow(x, indent);
                }
                self.write("]");
            }
            J::Object(m) => {
                self.write("{");
                for (i, (k, x)) in self.entries(m).into_iter().enumerate() {
                    if i > 0 {
                        self.write(", ");
                    }
                    let key = self.scalar(&J::String(k.clone()), true, indent);
                    self.write(&key);
                    self.write(": ");
                    self.flow(x, indent);
                }
                self.write("}");
            }
            _ => {
                let s = self.scalar(v, true, indent);
                self.write_folded(&s, indent + self.opts.indent);
            }
        }
    }

    fn scalar(&self, v: &J, in_flow: bool, indent: usize) -> String {
        match v {
            J::Null => "null".into(),
            J::Bool(b) => if *b { "true" } else { "false" }.into(),
            J::Number(n) => {
                if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                    if f.is_nan() {
                        ".nan".into()
                    } else if f.is_infinite() {
                        if f > 0.0 { ".inf" } else { "-.inf" }.into()
                    } else {
                        super::pyrepr::py_float(f)
                    }
                } else {
                    n.to_string()
                }
            }
            J::String(s) => quote_str(s, in_flow, indent),
            _ => String::new(),
        }
    }
}

/// Chooses plain, single-quoted or double-quoted style like PyYAML.
fn quote_str(s: &str, in_flow: bool, indent: usize) -> String {
    if s.chars().any(|c| {
        (c < ' ' && c != '\n' && c != '\t') || c == '\u{7f}' || c == '\u{feff}' || c == '\u{85}'
    }) {
        return double_quoted(s);
    }
    if is_plain_ok(s, in_flow) {
        return s.to_string();
    }
    if s.starts_with(' ') && s.contains('\n') || s.ends_with(' ') && s.contains('\n') {
        return double_quoted(s);
    }
    // Single-quoted: quotes doubled, each line break written twice.
    let mut out = String::from("'");
    let pad = " ".repeat(indent);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => out.push_str("''"),
            '\n' => {
                out.push('\n');
                while chars.peek() == Some(&'\n') {
                    chars.next();
                    out.push('\n');
                }
                out.push('\n');
                out.push_str(&pad);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{feff}' => out.push_str("\\uFEFF"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether PyYAML would write the string as a plain scalar.
fn is_plain_ok(s: &str, in_flow: bool) -> bool {
    if s.is_empty() || s.contains('\n') {
        return false;
    }
    // A string that would read back as another type must be quoted.
    if !matches!(crate::yaml::resolve_plain(s), crate::yaml::Value::Str(_)) {
        return false;
    }
    if s.starts_with(' ') || s.ends_with(' ') || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    let first = chars[0];
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    let followed_by_space = |i: usize| chars.get(i + 1).is_none_or(|c| *c == ' ');
    if "?:-".contains(first) && followed_by_space(0) {
        return false;
    }
    for (i, &c) in chars.iter().enumerate() {
        if c == ':' && followed_by_space(i) {
            return false;
        }
        if c == ':' && in_flow {
            return false;
        }
        if c == '#' && i > 0 && chars[i - 1] == ' ' {
            return false;
        }
        if in_flow && ",[]{}?".contains(c) {
            return false;
        }
        if c == '\t' {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nice(v: &J) -> String {
        to_yaml(
            v,
            &YamlOpts {
                indent: 4,
                flow: Some(false),
                ..Default::default()
            },
        )
    }

    #[test]
    fn pyyaml_shapes() {
        let v = json!({"b": [1, 2], "a": {"c": "d"}});
        assert_eq!(to_yaml(&v, &YamlOpts::default()), "a: {c: d}\nb: [1, 2]\n");
        assert_eq!(nice(&v), "a:\n    c: d\nb:\n- 1\n- 2\n");
        let v = json!({"k": [{"a": [1, 2], "b": {"c": 1}}]});
        assert_eq!(
            nice(&v),
            "k:\n-   a:\n    - 1\n    - 2\n    b:\n        c: 1\n"
        );
        let v = json!({"m": "line1\nline2", "long": "word ".repeat(30)});
        assert_eq!(
            nice(&v),
            "long: 'word word word word word word word word word word word word word word word\n    word word word word word word word word word word word word word word word '\nm: 'line1\n\n    line2'\n"
        );
        let v = json!({"l": [{"x": 1, "y": "yes"}], "nested": [[1, 2], [3]]});
        assert_eq!(
            to_yaml(&v, &YamlOpts::default()),
            "l:\n- {x: 1, y: 'yes'}\nnested:\n- [1, 2]\n- [3]\n"
        );
        let v = json!({"l": [{"x": 1, "y": "yes"}]});
        assert_eq!(nice(&v), "l:\n-   x: 1\n    y: 'yes'\n");
        assert_eq!(to_yaml(&json!("a"), &YamlOpts::default()), "a\n...\n");
        assert_eq!(
            to_yaml(&json!(["a: b", ""]), &YamlOpts::default()),
            "['a: b', '']\n"
        );
    }
}
