//! File attributes as the file modules take them: `mode` (an octal number,
//! an octal string, or a symbolic mode like `u+rwx,g-w,o=r`), `owner` and
//! `group`, with Ansible's parsing rules and its symbolic-mode arithmetic
//! (the same as `chmod(1)`: a clause without `ugoa` means `a` with the
//! umask applied).

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde_json::Value;

/// A `mode` parameter, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Permission bits, `0o7777` at most.
    Octal(u32),
    /// A symbolic mode (`u+rwx,g-w,o=r`), checked to be well formed.
    Symbolic(String),
}

/// A `mode` parameter that may also be `preserve` (`copy`, `template`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeParam {
    Mode(Mode),
    Preserve,
}

const BAD_MODE: &str = "mode must be in octal or symbolic form";

impl Mode {
    /// Parses a mode given as a string: octal digits (`644`, `0644`,
    /// `0o644`) or a symbolic mode.
    pub fn parse_str(s: &str) -> Result<Mode, String> {
        let t = s.trim();
        let digits = t
            .strip_prefix("0o")
            .or_else(|| t.strip_prefix("0O"))
            .unwrap_or(t);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return match u32::from_str_radix(digits, 8) {
                Ok(m) if m <= 0o7777 => Ok(Mode::Octal(m)),
                _ => Err(format!("{BAD_MODE}: invalid mode '{s}'")),
            };
        }
        if parse_symbolic(t).is_some() {
            return Ok(Mode::Symbolic(t.to_string()));
        }
        Err(format!("{BAD_MODE}: '{s}'"))
    }

    /// Parses a mode from a parameter value. A YAML integer is taken as is
    /// (YAML 1.1 reads `0644` as the octal number 420), as Ansible does.
    pub fn from_value(v: &Value) -> Result<Option<ModeParam>, String> {
        match v {
            Value::Null => Ok(None),
            Value::Number(n) => match n.as_u64() {
                Some(m) if m <= 0o7777 => Ok(Some(ModeParam::Mode(Mode::Octal(m as u32)))),
                _ => Err(format!("{BAD_MODE}: invalid mode {n}")),
            },
            Value::String(s) if s == "preserve" => Ok(Some(ModeParam::Preserve)),
            Value::String(s) => Mode::parse_str(s).map(|m| Some(ModeParam::Mode(m))),
            other => Err(format!("{BAD_MODE}: {other}")),
        }
    }

    /// The mode after applying this one to a file whose mode is `current`.
    pub fn resolve(&self, current: u32, is_dir: bool, umask: u32) -> u32 {
        match self {
            Mode::Octal(m) => *m,
            Mode::Symbolic(s) => apply_symbolic(s, current, is_dir, umask).unwrap_or(current),
        }
    }

    /// The argument `chmod` takes for this mode.
    pub fn chmod_arg(&self) -> String {
        match self {
            Mode::Octal(m) => format!("{m:04o}"),
            Mode::Symbolic(s) => s.clone(),
        }
    }
}

/// `#[serde(default, deserialize_with = "attrs::opt_mode")]`
pub fn opt_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ModeParam>, D::Error> {
    let v = Value::deserialize(d)?;
    Mode::from_value(&v).map_err(D::Error::custom)
}

/// The mode as Ansible's results show it: `"0644"`.
pub fn mode_str(mode: u32) -> String {
    // Python's `'0%03o'`: `0644`, and `01444` with a sticky bit.
    format!("0{:03o}", mode & 0o7777)
}

struct Clause {
    who: u32, // bitmask: 4 = u, 2 = g, 1 = o
    implicit: bool,
    op: u8,
    perms: Perms,
}

enum Perms {
    Bits(String),
    Copy(u8),
}

fn parse_symbolic(s: &str) -> Option<Vec<Clause>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let b = part.as_bytes();
        let mut i = 0;
        let mut who = 0;
        while i < b.len() && matches!(b[i], b'u' | b'g' | b'o' | b'a') {
            who |= match b[i] {
                b'u' => 4,
                b'g' => 2,
                b'o' => 1,
                _ => 7,
            };
            i += 1;
        }
        let implicit = who == 0;
        if implicit {
            who = 7;
        }
        if i >= b.len() {
            return None;
        }
        while i < b.len() {
            let op = b[i];
            if !matches!(op, b'+' | b'-' | b'=') {
                return None;
            }
            i += 1;
            let start = i;
            while i < b.len() && !matches!(b[i], b'+' | b'-' | b'=') {
                i += 1;
            }
            let p = &part[start..i];
            let perms = match p {
                "u" | "g" | "o" => Perms::Copy(p.as_bytes()[0]),
                _ if p.bytes().all(|c| b"rwxXst".contains(&c)) => Perms::Bits(p.to_string()),
                _ => return None,
            };
            out.push(Clause {
                who,
                implicit,
                op,
                perms,
            });
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Applies a symbolic mode to `current` the way `chmod(1)` and Ansible do.
pub fn apply_symbolic(s: &str, current: u32, is_dir: bool, umask: u32) -> Option<u32> {
    let mut mode = current & 0o7777;
    for c in parse_symbolic(s)? {
        let mut bits = 0u32;
        for (cls, shift, special, sticky) in
            [(4, 6, 0o4000, 0), (2, 3, 0o2000, 0), (1, 0, 0, 0o1000)]
        {
            if c.who & cls == 0 {
                continue;
            }
            let rwx = match &c.perms {
                Perms::Copy(from) => {
                    let from_shift = match from {
                        b'u' => 6,
                        b'g' => 3,
                        _ => 0,
                    };
                    (mode >> from_shift) & 7
                }
                Perms::Bits(p) => {
                    let mut v = 0;
                    for ch in p.chars() {
                        match ch {
                            'r' => v |= 4,
                            'w' => v |= 2,
                            'x' => v |= 1,
                            'X' if is_dir || mode & 0o111 != 0 => v |= 1,
                            's' => bits |= special,
                            't' => bits |= sticky,
                            _ => {}
                        }
                    }
                    v
                }
            };
            bits |= rwx << shift;
        }
        if c.implicit {
            bits &= !umask | 0o7000;
        }
        let who_mask = {
            let mut m = 0;
            if c.who & 4 != 0 {
                m |= 0o4700;
            }
            if c.who & 2 != 0 {
                m |= 0o2070;
            }
            if c.who & 1 != 0 {
                m |= 0o1007;
            }
            m
        };
        match c.op {
            b'+' => mode |= bits,
            b'-' => mode &= !bits,
            _ => {
                // `=` clears the class's bits (keeping what the umask
                // protects when no class was named), then sets.
                let clear = if c.implicit {
                    who_mask & (!umask | 0o7000)
                } else {
                    who_mask
                };
                mode = (mode & !clear) | bits;
            }
        }
    }
    Some(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes_like_ansible() {
        assert_eq!(Mode::parse_str("0644"), Ok(Mode::Octal(0o644)));
        assert_eq!(Mode::parse_str("644"), Ok(Mode::Octal(0o644)));
        assert_eq!(Mode::parse_str("0o755"), Ok(Mode::Octal(0o755)));
        assert_eq!(
            Mode::from_value(&serde_json::json!(420)),
            Ok(Some(ModeParam::Mode(Mode::Octal(0o644))))
        );
        assert!(Mode::parse_str("u+q").is_err());
        assert!(Mode::parse_str("999").is_err());
        assert!(Mode::parse_str("rwx").is_err());
        assert_eq!(
            Mode::from_value(&serde_json::json!("preserve")),
            Ok(Some(ModeParam::Preserve))
        );
    }

    #[test]
    fn symbolic_arithmetic_matches_chmod() {
        let f = |s, cur| apply_symbolic(s, cur, false, 0o022);
        assert_eq!(f("u+rwx,g-w,o=r", 0o666), Some(0o744));
        assert_eq!(f("u=rw,g=r,o=r", 0o777), Some(0o644));
        assert_eq!(f("a+x", 0o644), Some(0o755));
        assert_eq!(f("+x", 0o644), Some(0o755));
        assert_eq!(f("+w", 0o444), Some(0o644)); // umask protects g/o
        assert_eq!(f("go-rwx", 0o755), Some(0o700));
        assert_eq!(f("u+s,g+s,o+t", 0o755), Some(0o7755));
        assert_eq!(f("a+X", 0o644), Some(0o644));
        assert_eq!(f("a+X", 0o744), Some(0o755));
        assert_eq!(apply_symbolic("a+X", 0o644, true, 0o022), Some(0o755));
        assert_eq!(f("g=u", 0o640), Some(0o660));
        assert_eq!(f("u-x+w", 0o500), Some(0o600));
    }
}
