//! Python literals as INI inventories type their values (Ansible runs
//! `ast.literal_eval` on them): numbers, quoted strings, True/False/None,
//! lists, tuples, dicts and sets. Anything else stays the raw string.

use serde_json::{Map, Number, Value};

/// The value Ansible would get for `text`: a typed literal when `text` is
/// one, otherwise the text itself.
pub fn typed(text: &str) -> Value {
    eval(text).unwrap_or_else(|| Value::String(text.to_owned()))
}

/// `ast.literal_eval`, or None where Python would raise.
pub fn eval(text: &str) -> Option<Value> {
    // literal_eval strips leading blanks before parsing.
    let chars: Vec<char> = text.trim_start_matches([' ', '\t']).chars().collect();
    let mut p = P { s: chars, i: 0 };
    p.ws(false);
    let first = p.expr()?;
    p.ws(false);
    // A bare `1, 2` at the top level is a tuple.
    let value = if p.peek() == Some(',') {
        let mut items = vec![first];
        while p.eat(',') {
            p.ws(false);
            if p.at_end() {
                break;
            }
            items.push(p.expr()?);
            p.ws(false);
        }
        Value::Array(items)
    } else {
        first
    };
    p.ws(false);
    p.at_end().then_some(value)
}

struct P {
    s: Vec<char>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.s.get(self.i + n).copied()
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Skip blanks and `#` comments; newlines only inside brackets.
    fn ws(&mut self, newlines: bool) {
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r')) {
                self.i += 1;
            } else if c == '#' {
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.i += 1;
                }
            } else {
                break;
            }
        }
    }

    fn expr(&mut self) -> Option<Value> {
        match self.peek()? {
            '[' => {
                self.i += 1;
                Some(Value::Array(self.items(']')?))
            }
            '(' => {
                self.i += 1;
                self.ws(true);
                if self.eat(')') {
                    return Some(Value::Array(Vec::new()));
                }
                let first = self.expr()?;
                self.ws(true);
                if self.eat(')') {
                    // Parentheses around one value group, they make no tuple.
                    return Some(first);
                }
                if !self.eat(',') {
                    return None;
                }
                let mut items = vec![first];
                items.extend(self.items(')')?);
                Some(Value::Array(items))
            }
            '{' => {
                self.i += 1;
                self.braces()
            }
            '-' | '+' => {
                let negative = self.peek() == Some('-');
                self.i += 1;
                self.ws(false);
                let n = self.number()?;
                Some(if negative { negate(n)? } else { n })
            }
            c if c.is_ascii_digit() || c == '.' => self.number(),
            c if c == '\'' || c == '"' => self.strings(),
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                let word: String = self.s[start..self.i].iter().collect();
                match word.as_str() {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    _ if matches!(self.peek(), Some('\'' | '"'))
                        && word.len() <= 2
                        && word
                            .chars()
                            .all(|c| matches!(c.to_ascii_lowercase(), 'r' | 'u' | 'b')) =>
                    {
                        self.i = start;
                        self.strings()
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Comma-separated values up to `close` (trailing comma allowed).
    fn items(&mut self, close: char) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            self.ws(true);
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.expr()?);
            self.ws(true);
            if self.eat(close) {
                return Some(items);
            }
            if !self.eat(',') {
                return None;
            }
        }
    }

    /// `{}` dict, `{k: v, ...}` dict or `{a, b}` set (a JSON list).
    fn braces(&mut self) -> Option<Value> {
        self.ws(true);
        if self.eat('}') {
            return Some(Value::Object(Map::new()));
        }
        let first = self.expr()?;
        self.ws(true);
        if self.eat(':') {
            let mut map = Map::new();
            let mut key = first;
            loop {
                self.ws(true);
                let value = self.expr()?;
                map.insert(key_string(&key)?, value);
                self.ws(true);
                if self.eat('}') {
                    return Some(Value::Object(map));
                }
                if !self.eat(',') {
                    return None;
                }
                self.ws(true);
                if self.eat('}') {
                    return Some(Value::Object(map));
                }
                key = self.expr()?;
                self.ws(true);
                if !self.eat(':') {
                    return None;
                }
            }
        }
        let mut items = vec![first];
        if self.eat('}') {
            return Some(Value::Array(items));
        }
        if !self.eat(',') {
            return None;
        }
        for item in self.items('}')? {
            if !items.contains(&item) {
                items.push(item);
            }
        }
        Some(Value::Array(items))
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        while let Some(c) = self.peek() {
            let exponent_sign = (c == '+' || c == '-')
                && self.i > start
                && matches!(self.s[self.i - 1], 'e' | 'E')
                && !is_prefixed(&self.s[start..self.i]);
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || exponent_sign {
                self.i += 1;
            } else {
                break;
            }
        }
        let text: String = self.s[start..self.i].iter().collect();
        parse_number(&text)
    }

    /// One or more adjacent string literals (Python concatenates them).
    fn strings(&mut self) -> Option<Value> {
        let mut out = String::new();
        let mut any = false;
        loop {
            let save = self.i;
            let mut raw = false;
            let mut prefix_len = 0;
            while let Some(c) = self.peek_at(prefix_len) {
                match c.to_ascii_lowercase() {
                    'r' => raw = true,
                    'u' | 'b' => {}
                    _ => break,
                }
                prefix_len += 1;
                if prefix_len > 2 {
                    break;
                }
            }
            match self.peek_at(prefix_len) {
                Some(q @ ('\'' | '"')) => {
                    self.i += prefix_len;
                    out.push_str(&self.string(q, raw)?);
                    any = true;
                }
                _ => {
                    self.i = save;
                    break;
                }
            }
            let before_ws = self.i;
            self.ws(false);
            if !matches!(
                self.peek(),
                Some('\'' | '"' | 'r' | 'R' | 'u' | 'U' | 'b' | 'B')
            ) {
                self.i = before_ws;
                break;
            }
        }
        any.then_some(Value::String(out))
    }

    fn string(&mut self, quote: char, raw: bool) -> Option<String> {
        let triple = self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote);
        self.i += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            if c == quote {
                if !triple {
                    self.i += 1;
                    return Some(out);
                }
                if self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote) {
                    self.i += 3;
                    return Some(out);
                }
            }
            if c == '\n' && !triple {
                return None;
            }
            self.i += 1;
            if c != '\\' {
                out.push(c);
                continue;
            }
            let e = self.peek()?;
            self.i += 1;
            if raw {
                out.push('\\');
                out.push(e);
                continue;
            }
            match e {
                '\n' => {}
                '\\' | '\'' | '"' => out.push(e),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                'x' => out.push(self.hex(2)?),
                'u' => out.push(self.hex(4)?),
                'U' => out.push(self.hex(8)?),
                '0'..='7' => {
                    let mut n = e.to_digit(8)?;
                    for _ in 0..2 {
                        match self.peek().and_then(|c| c.to_digit(8)) {
                            Some(d) => {
                                n = n * 8 + d;
                                self.i += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(n)?);
                }
                other => {
                    // Python keeps unknown escapes as written.
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    fn hex(&mut self, n: usize) -> Option<char> {
        let digits: String = self.s.get(self.i..self.i + n)?.iter().collect();
        self.i += n;
        char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
    }
}

fn is_prefixed(s: &[char]) -> bool {
    s.len() >= 2 && s[0] == '0' && matches!(s[1], 'x' | 'X' | 'o' | 'O' | 'b' | 'B')
}

fn negate(v: Value) -> Option<Value> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Value::from(i.checked_neg()?))
            } else if let Some(u) = n.as_u64() {
                // -(2**63) fits only once negated.
                let i = i64::try_from(i128::from(u).checked_neg()?).ok()?;
                Some(Value::from(i))
            } else {
                Some(Value::Number(Number::from_f64(-n.as_f64()?)?))
            }
        }
        _ => None,
    }
}

/// Underscores are allowed only between digits.
fn strip_underscores(digits: &str) -> Option<String> {
    if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    Some(digits.replace('_', ""))
}

fn int_value(n: u128) -> Option<Value> {
    u64::try_from(n).ok().map(Value::from)
}

fn parse_number(text: &str) -> Option<Value> {
    let lower = text.to_ascii_lowercase();
    if lower.ends_with('j') {
        // Complex numbers have no JSON form; keep the text.
        return None;
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            let rest = rest.strip_prefix('_').unwrap_or(rest);
            let digits = strip_underscores(rest)?;
            if digits.is_empty() {
                return None;
            }
            return int_value(u128::from_str_radix(&digits, radix).ok()?);
        }
    }
    let is_float = lower.contains('.') || lower.contains('e');
    if !lower.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if is_float {
        let (mantissa, exponent) = match lower.split_once('e') {
            Some((m, e)) => (m, Some(e)),
            None => (lower.as_str(), None),
        };
        let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && frac.is_empty() {
            return None;
        }
        let ok_digits = |s: &str| s.is_empty() || s.chars().all(|c| c.is_ascii_digit() || c == '_');
        if !ok_digits(whole) || !ok_digits(frac) {
            return None;
        }
        let whole = if whole.is_empty() {
            String::new()
        } else {
            strip_underscores(whole)?
        };
        let frac = if frac.is_empty() {
            String::new()
        } else {
            strip_underscores(frac)?
        };
        let mut cleaned = format!(
            "{}.{}",
            if whole.is_empty() { "0" } else { &whole },
            if frac.is_empty() { "0" } else { &frac }
        );
        if let Some(e) = exponent {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '_') {
                return None;
            }
            let sign = if e.starts_with('-') { "-" } else { "" };
            cleaned.push_str(&format!("e{sign}{}", strip_underscores(digits)?));
        }
        let f: f64 = cleaned.parse().ok()?;
        // inf has no JSON form; Python would give inf, we keep the text.
        return Number::from_f64(f).map(Value::Number);
    }
    if !lower.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    let digits = strip_underscores(&lower)?;
    // `0644` is a SyntaxError in Python 3; only all-zero may lead with 0.
    if digits.starts_with('0') && digits.chars().any(|c| c != '0') {
        return None;
    }
    int_value(digits.parse().ok()?)
}

/// How `json.dumps` turns a dict key into a string.
fn key_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars() {
        assert_eq!(typed("222"), json!(222));
        assert_eq!(typed("-5"), json!(-5));
        assert_eq!(typed("1_000"), json!(1000));
        assert_eq!(typed("0x1f"), json!(31));
        assert_eq!(typed("0o17"), json!(15));
        assert_eq!(typed("1.5"), json!(1.5));
        assert_eq!(typed("1e3"), json!(1000.0));
        assert_eq!(typed(".5"), json!(0.5));
        assert_eq!(typed("True"), json!(true));
        assert_eq!(typed("False"), json!(false));
        assert_eq!(typed("None"), json!(null));
        assert_eq!(typed("'x y'"), json!("x y"));
        assert_eq!(typed(r#""a\tb""#), json!("a\tb"));
        assert_eq!(typed("'a' 'b'"), json!("ab"));
    }

    #[test]
    fn things_that_stay_strings() {
        for t in [
            "yes",
            "true",
            "0644",
            "10-5",
            "1.2.3",
            "web01",
            "56L",
            "inf",
            "1j",
            "a b",
            "foo # bar",
            "'unterminated",
            "[1,",
            "{'a'}x",
            "--1",
        ] {
            assert_eq!(typed(t), json!(t), "{t}");
        }
    }

    #[test]
    fn containers() {
        assert_eq!(typed("[1, 'a', None]"), json!([1, "a", null]));
        assert_eq!(typed("(1, 2)"), json!([1, 2]));
        assert_eq!(typed("(1)"), json!(1));
        assert_eq!(typed("1,2"), json!([1, 2]));
        assert_eq!(
            typed("{'a': 1, 'b': [True], 3: 'c'}"),
            json!({"a": 1, "b": [true], "3": "c"})
        );
        assert_eq!(typed("{1, 2, 1}"), json!([1, 2]));
        assert_eq!(typed("{}"), json!({}));
        assert_eq!(typed("[]"), json!([]));
    }

    #[test]
    fn trailing_comments_are_python_comments() {
        assert_eq!(typed("8080   # the port"), json!(8080));
    }
}
