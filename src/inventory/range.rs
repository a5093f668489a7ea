//! Host names as inventories write them: `host:port` / `[v6]:port`
//! addresses and `web[01:20].example.com` / `db-[a:f]` / `[1:9:2]` ranges.

use std::net::Ipv6Addr;

/// A single host pattern may not expand to more hosts than this; a typo
/// like `[0:99999999]` should fail, not eat the controller's memory.
const MAX_EXPANSION: usize = 100_000;

/// Split an optional `:port` off a host (pattern). Bare IPv6 addresses keep
/// their colons; `[v6]:port` is unbracketed. A port that is not all digits
/// is not a port, so the whole text is the host.
pub fn parse_address(text: &str) -> (String, Option<i64>) {
    if text.parse::<Ipv6Addr>().is_ok() {
        return (text.to_owned(), None);
    }
    if let Some(rest) = text.strip_prefix('[')
        && let Some((inner, port)) = rest.rsplit_once("]:")
        && inner.parse::<Ipv6Addr>().is_ok()
        && let Some(port) = parse_port(port)
    {
        return (inner.to_owned(), Some(port));
    }
    if let Some((head, port)) = text.rsplit_once(':')
        && let Some(port) = parse_port(port)
        && !has_colon_outside_brackets(head)
        && !head.is_empty()
    {
        return (head.to_owned(), Some(port));
    }
    (text.to_owned(), None)
}

fn parse_port(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn has_colon_outside_brackets(text: &str) -> bool {
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// Whether `text` holds a `[x:y]` range (first `[` before first `:` before
/// first `]`, as Ansible checks it).
pub fn has_range(text: &str) -> bool {
    match (text.find('['), text.find(':'), text.find(']')) {
        (Some(open), Some(colon), Some(close)) => open < colon && colon < close,
        _ => false,
    }
}

/// Expand every range in `pattern`, left to right; a name without ranges
/// expands to itself.
pub fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    expand_into(pattern, &mut out)?;
    Ok(out)
}

fn expand_into(pattern: &str, out: &mut Vec<String>) -> Result<(), String> {
    if !has_range(pattern) {
        out.push(pattern.to_owned());
        return Ok(());
    }
    let (head, rest) = pattern.split_once('[').ok_or("host range needs '['")?;
    let (range, tail) = rest.split_once(']').ok_or("host range needs ']'")?;
    let bounds: Vec<&str> = range.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err("host range must be begin:end or begin:end:step".to_owned());
    }
    let begin = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err("host range must specify end value".to_owned());
    }
    let step: usize = match bounds.get(2) {
        None => 1,
        Some(s) => match s.parse() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("host range step must be a positive integer: {s}")),
        },
    };
    // A leading zero asks for zero-padding to the width of `begin`.
    let width = if begin.starts_with('0') && begin.len() > 1 {
        if begin.len() != end.len() {
            return Err("host range must specify equal-length begin and end formats".to_owned());
        }
        begin.len()
    } else {
        0
    };
    let items: Vec<String> = match (letter_index(begin), letter_index(end)) {
        (Some(b), Some(e)) => {
            if b > e {
                return Err("host range must have begin <= end".to_owned());
            }
            LETTERS[b..=e]
                .chars()
                .step_by(step)
                .map(String::from)
                .collect()
        }
        _ => {
            let b: u64 = begin
                .parse()
                .map_err(|_| format!("host range bounds must be numbers or letters: [{range}]"))?;
            let e: u64 = end
                .parse()
                .map_err(|_| format!("host range bounds must be numbers or letters: [{range}]"))?;
            if e >= b && (e - b) / step as u64 > MAX_EXPANSION as u64 {
                return Err(format!(
                    "host range [{range}] expands to more than {MAX_EXPANSION} hosts"
                ));
            }
            (b..=e)
                .step_by(step)
                .map(|n| format!("{n:0width$}"))
                .collect()
        }
    };
    for item in items {
        expand_into(&format!("{head}{item}{tail}"), out)?;
        if out.len() > MAX_EXPANSION {
            return Err(format!(
                "host pattern {pattern} expands to more than {MAX_EXPANSION} hosts"
            ));
        }
    }
    Ok(())
}

/// Python's `string.ascii_letters`, the alphabet of letter ranges.
const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn letter_index(text: &str) -> Option<usize> {
    if text.len() != 1 {
        return None;
    }
    LETTERS.find(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_address("web1"), ("web1".into(), None));
        assert_eq!(parse_address("web1:2222"), ("web1".into(), Some(2222)));
        assert_eq!(parse_address("10.0.0.1:22"), ("10.0.0.1".into(), Some(22)));
        assert_eq!(parse_address("::1"), ("::1".into(), None));
        assert_eq!(parse_address("fe80::1"), ("fe80::1".into(), None));
        assert_eq!(
            parse_address("[fe80::1]:2022"),
            ("fe80::1".into(), Some(2022))
        );
        assert_eq!(
            parse_address("web[01:03]:2222"),
            ("web[01:03]".into(), Some(2222))
        );
        assert_eq!(parse_address("web[01:03]"), ("web[01:03]".into(), None));
        assert_eq!(parse_address("a:b"), ("a:b".into(), None));
    }

    #[test]
    fn numeric_ranges_keep_padding() {
        assert_eq!(
            expand("web[01:03].example.com").unwrap(),
            vec![
                "web01.example.com",
                "web02.example.com",
                "web03.example.com"
            ]
        );
        assert_eq!(expand("h[8:10]").unwrap(), vec!["h8", "h9", "h10"]);
        assert_eq!(expand("h[:2]").unwrap(), vec!["h0", "h1", "h2"]);
    }

    #[test]
    fn strides_letters_and_several_ranges() {
        assert_eq!(expand("n[01:07:3]").unwrap(), vec!["n01", "n04", "n07"]);
        assert_eq!(expand("db-[a:c]").unwrap(), vec!["db-a", "db-b", "db-c"]);
        assert_eq!(
            expand("r[1:2]c[a:b]").unwrap(),
            vec!["r1ca", "r1cb", "r2ca", "r2cb"]
        );
        assert_eq!(expand("plain").unwrap(), vec!["plain"]);
        assert_eq!(expand("x[1]").unwrap(), vec!["x[1]"]);
    }

    #[test]
    fn bad_ranges() {
        assert!(expand("h[01:100]").unwrap_err().contains("equal-length"));
        assert!(expand("h[1:]").unwrap_err().contains("end value"));
        assert!(expand("h[c:a]").unwrap_err().contains("begin <= end"));
        assert!(expand("h[1:2:3:4]").unwrap_err().contains("begin:end"));
        assert!(expand("h[0:99999999]").unwrap_err().contains("more than"));
    }
}
