//! Version comparison for the `version` / `version_compare` test: Python's
//! LooseVersion (the default), StrictVersion and SemVer orderings.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Num(u64),
    Str(String),
}

impl PartialOrd for Part {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Part {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Part::Num(a), Part::Num(b)) => a.cmp(b),
            (Part::Str(a), Part::Str(b)) => a.cmp(b),
            // Python 3 cannot compare these; a number sorting after text
            // (`1.0a` < `1.0.1`) is what users mean in practice.
            (Part::Num(_), Part::Str(_)) => Ordering::Greater,
            (Part::Str(_), Part::Num(_)) => Ordering::Less,
        }
    }
}

/// LooseVersion: runs of digits and of letters, dots dropped.
fn loose(v: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut digit = false;
    let flush = |cur: &mut String, digit: bool, parts: &mut Vec<Part>| {
        if !cur.is_empty() {
            parts.push(if digit {
                cur.parse().map(Part::Num).unwrap_or(Part::Str(cur.clone()))
            } else {
                Part::Str(cur.clone())
            });
            cur.clear();
        }
    };
    for c in v.chars() {
        if c == '.' {
            flush(&mut cur, digit, &mut parts);
            continue;
        }
        let d = c.is_ascii_digit();
        if !cur.is_empty() && d != digit {
            flush(&mut cur, digit, &mut parts);
        }
        digit = d;
        cur.push(c);
    }
    flush(&mut cur, digit, &mut parts);
    parts
}

/// A parsed StrictVersion: numbers and an optional `a`/`b` pre-release.
type Strict = (Vec<u64>, Option<(char, u64)>);

/// StrictVersion: `N.N[.N][(a|b)N]`.
fn strict(v: &str) -> Result<Strict, String> {
    let bad = || format!("invalid version number '{v}'");
    let (nums, pre) = match v.find(['a', 'b']) {
        Some(i) => {
            let tag = v[i..].chars().next().unwrap_or('a');
            let n: u64 = v[i + 1..].parse().map_err(|_| bad())?;
            (&v[..i], Some((tag, n)))
        }
        None => (v, None),
    };
    let mut parts: Vec<u64> = nums
        .split('.')
        .map(|p| p.parse::<u64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    parts.resize(3, 0);
    Ok((parts, pre))
}

fn semver(v: &str) -> Result<(Vec<u64>, Vec<Part>), String> {
    let bad = || format!("invalid semantic version '{v}'");
    let v = v.split('+').next().unwrap_or_default();
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let nums: Vec<u64> = core
        .split('.')
        .map(|p| p.parse::<u64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    if nums.len() != 3 {
        return Err(bad());
    }
    let pre = pre
        .map(|p| {
            p.split('.')
                .map(|x| match x.parse() {
                    Ok(n) => Part::Num(n),
                    Err(_) => Part::Str(x.to_string()),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((nums, pre))
}

/// Compares two versions of the given type (`loose`, `strict`, `semver`).
pub fn compare(a: &str, b: &str, kind: &str) -> Result<Ordering, String> {
    match kind {
        "strict" => {
            let (an, ap) = strict(a)?;
            let (bn, bp) = strict(b)?;
            Ok(an.cmp(&bn).then_with(|| match (ap, bp) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => x.cmp(&y),
            }))
        }
        "semver" | "semantic" => {
            let (an, ap) = semver(a)?;
            let (bn, bp) = semver(b)?;
            Ok(an
                .cmp(&bn)
                .then_with(|| match (ap.is_empty(), bp.is_empty()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ => ap.cmp(&bp),
                }))
        }
        "loose" | "" => Ok(loose(a).cmp(&loose(b))),
        other => Err(format!(
            "Invalid version type ({other}). Must be one of loose, strict, semver, semantic, pep440"
        )),
    }
}

/// Applies an operator name to an ordering.
pub fn apply_op(ord: Ordering, op: &str) -> Result<bool, String> {
    Ok(match op {
        "<" | "lt" => ord == Ordering::Less,
        "<=" | "le" => ord != Ordering::Greater,
        ">" | "gt" => ord == Ordering::Greater,
        ">=" | "ge" => ord != Ordering::Less,
        "==" | "=" | "eq" => ord == Ordering::Equal,
        "!=" | "<>" | "ne" => ord != Ordering::Equal,
        other => return Err(format!("Invalid operator type ({other})")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders() {
        assert_eq!(compare("1.10", "1.9", "loose"), Ok(Ordering::Greater));
        assert_eq!(compare("2.0", "2.0.0", "loose"), Ok(Ordering::Less));
        assert_eq!(compare("1.0a1", "1.0", "strict"), Ok(Ordering::Less));
        assert_eq!(compare("1.0.0-rc.1", "1.0.0", "semver"), Ok(Ordering::Less));
        assert!(compare("x.y", "1.0", "strict").is_err());
    }
}
