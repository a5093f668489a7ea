//! Unified diffs byte-identical to Python's `difflib.unified_diff`, which
//! is what Ansible's callbacks print for `--diff`.
//!
//! difflib does not use Myers' algorithm: its `SequenceMatcher` finds the
//! longest matching block (earliest in `a`, then earliest in `b`, on ties),
//! recurses on both sides of it, and with 200 or more lines in `b` treats
//! lines occurring more than `len(b) / 100 + 1` times as "popular" (they
//! never start a match but may extend one). Hunks are then grouped with
//! `n` lines of context. This module reimplements those documented rules,
//! so the hunks chosen match difflib's even where several minimal diffs
//! exist.

use std::collections::HashMap;

/// What an opcode does to turn `a[i1..i2]` into `b[j1..j2]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Equal,
    Replace,
    Delete,
    Insert,
}

/// One of difflib's `get_opcodes()` tuples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opcode {
    pub tag: Tag,
    pub i1: usize,
    pub i2: usize,
    pub j1: usize,
    pub j2: usize,
}

/// Python's `str.splitlines(keepends=True)`: splits after `\n`, `\r\n`,
/// `\r`, `\v`, `\f`, `\x1c`-`\x1e`, `\x85`, U+2028 and U+2029.
pub fn splitlines_keepends(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let is_break = matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if !is_break {
            continue;
        }
        let mut end = i + c.len_utf8();
        if c == '\r'
            && let Some(&(j, '\n')) = iter.peek()
        {
            end = j + 1;
            iter.next();
        }
        out.push(&s[start..end]);
        start = end;
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// difflib's `SequenceMatcher(None, a, b)` with `autojunk=True`.
struct Matcher<'a> {
    a: &'a [&'a str],
    b: &'a [&'a str],
    /// Positions of each non-popular line of `b`, ascending.
    b2j: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Matcher<'a> {
    fn new(a: &'a [&'a str], b: &'a [&'a str]) -> Self {
        let mut b2j: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (j, line) in b.iter().enumerate() {
            b2j.entry(line).or_default().push(j);
        }
        if b.len() >= 200 {
            let ntest = b.len() / 100 + 1;
            b2j.retain(|_, idxs| idxs.len() <= ntest);
        }
        Matcher { a, b, b2j }
    }

    /// The longest block `a[i..i+k] == b[j..j+k]` inside the ranges, the
    /// earliest in `a` (then in `b`) among equally long ones.
    fn longest_match(
        &self,
        alo: usize,
        ahi: usize,
        blo: usize,
        bhi: usize,
    ) -> (usize, usize, usize) {
        let (a, b) = (self.a, self.b);
        let (mut besti, mut bestj, mut bestsize) = (alo, blo, 0usize);
        let mut j2len: HashMap<usize, usize> = HashMap::new();
        for (i, line) in a.iter().enumerate().take(ahi).skip(alo) {
            let mut next: HashMap<usize, usize> = HashMap::new();
            if let Some(js) = self.b2j.get(line) {
                for &j in js {
                    if j < blo {
                        continue;
                    }
                    if j >= bhi {
                        break;
                    }
                    let prev = if j == 0 {
                        0
                    } else {
                        j2len.get(&(j - 1)).copied().unwrap_or(0)
                    };
                    let k = prev + 1;
                    next.insert(j, k);
                    if k > bestsize {
                        besti = i + 1 - k;
                        bestj = j + 1 - k;
                        bestsize = k;
                    }
                }
            }
            j2len = next;
        }
        // Extend with equal lines on both ends: popular lines are not in
        // b2j, so the block found so far never contains them.
        while besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1] {
            besti -= 1;
            bestj -= 1;
            bestsize += 1;
        }
        while besti + bestsize < ahi
            && bestj + bestsize < bhi
            && a[besti + bestsize] == b[bestj + bestsize]
        {
            bestsize += 1;
        }
        (besti, bestj, bestsize)
    }

    /// `get_matching_blocks()`, adjacent blocks merged, with the final
    /// `(len(a), len(b), 0)` sentinel.
    fn matching_blocks(&self) -> Vec<(usize, usize, usize)> {
        let (la, lb) = (self.a.len(), self.b.len());
        let mut queue = vec![(0, la, 0, lb)];
        let mut blocks = Vec::new();
        while let Some((alo, ahi, blo, bhi)) = queue.pop() {
            let (i, j, k) = self.longest_match(alo, ahi, blo, bhi);
            if k > 0 {
                blocks.push((i, j, k));
                if alo < i && blo < j {
                    queue.push((alo, i, blo, j));
                }
                if i + k < ahi && j + k < bhi {
                    queue.push((i + k, ahi, j + k, bhi));
                }
            }
        }
        blocks.sort_unstable();
        let mut merged = Vec::new();
        let (mut i1, mut j1, mut k1) = (0, 0, 0);
        for (i2, j2, k2) in blocks {
            if i1 + k1 == i2 && j1 + k1 == j2 {
                k1 += k2;
            } else {
                if k1 > 0 {
                    merged.push((i1, j1, k1));
                }
                (i1, j1, k1) = (i2, j2, k2);
            }
        }
        if k1 > 0 {
            merged.push((i1, j1, k1));
        }
        merged.push((la, lb, 0));
        merged
    }
}

/// difflib's `SequenceMatcher(None, a, b).get_opcodes()`.
pub fn opcodes(a: &[&str], b: &[&str]) -> Vec<Opcode> {
    let m = Matcher::new(a, b);
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    for (ai, bj, size) in m.matching_blocks() {
        let tag = if i < ai && j < bj {
            Some(Tag::Replace)
        } else if i < ai {
            Some(Tag::Delete)
        } else if j < bj {
            Some(Tag::Insert)
        } else {
            None
        };
        if let Some(tag) = tag {
            out.push(Opcode {
                tag,
                i1: i,
                i2: ai,
                j1: j,
                j2: bj,
            });
        }
        i = ai + size;
        j = bj + size;
        if size > 0 {
            out.push(Opcode {
                tag: Tag::Equal,
                i1: ai,
                i2: i,
                j1: bj,
                j2: j,
            });
        }
    }
    out
}

/// difflib's `get_grouped_opcodes(n)`: hunks with `n` lines of context.
pub fn grouped_opcodes(a: &[&str], b: &[&str], n: usize) -> Vec<Vec<Opcode>> {
    let mut codes = opcodes(a, b);
    if codes.is_empty() {
        codes.push(Opcode {
            tag: Tag::Equal,
            i1: 0,
            i2: 1,
            j1: 0,
            j2: 1,
        });
    }
    if let Some(first) = codes.first_mut()
        && first.tag == Tag::Equal
    {
        first.i1 = first.i1.max(first.i2.saturating_sub(n));
        first.j1 = first.j1.max(first.j2.saturating_sub(n));
    }
    if let Some(last) = codes.last_mut()
        && last.tag == Tag::Equal
    {
        last.i2 = last.i2.min(last.i1 + n);
        last.j2 = last.j2.min(last.j1 + n);
    }
    let mut groups = Vec::new();
    let mut group: Vec<Opcode> = Vec::new();
    for mut c in codes {
        if c.tag == Tag::Equal && c.i2 - c.i1 > 2 * n {
            group.push(Opcode {
                tag: Tag::Equal,
                i1: c.i1,
                i2: c.i2.min(c.i1 + n),
                j1: c.j1,
                j2: c.j2.min(c.j1 + n),
            });
            groups.push(std::mem::take(&mut group));
            c.i1 = c.i1.max(c.i2.saturating_sub(n));
            c.j1 = c.j1.max(c.j2.saturating_sub(n));
        }
        group.push(c);
    }
    let only_context = matches!(group.as_slice(), [only] if only.tag == Tag::Equal);
    if !group.is_empty() && !only_context {
        groups.push(group);
    }
    groups
}

/// `_format_range_unified`: `start,length`, or `start` when one line long.
fn range(start: usize, stop: usize) -> String {
    let length = stop - start;
    match length {
        1 => format!("{}", start + 1),
        0 => format!("{start},0"),
        _ => format!("{},{length}", start + 1),
    }
}

/// `difflib.unified_diff(a, b, fromfile, tofile, n=n)` with empty dates
/// and `lineterm="\n"`: the lines it yields, in order. Lines of `a` and
/// `b` keep their own endings, as from [`splitlines_keepends`]. Empty when
/// the inputs are equal.
pub fn unified_diff(a: &[&str], b: &[&str], fromfile: &str, tofile: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for group in grouped_opcodes(a, b, n) {
        if out.is_empty() {
            out.push(format!("--- {fromfile}\n"));
            out.push(format!("+++ {tofile}\n"));
        }
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        out.push(format!(
            "@@ -{} +{} @@\n",
            range(first.i1, last.i2),
            range(first.j1, last.j2)
        ));
        for c in &group {
            if c.tag == Tag::Equal {
                out.extend(a[c.i1..c.i2].iter().map(|l| format!(" {l}")));
                continue;
            }
            if matches!(c.tag, Tag::Replace | Tag::Delete) {
                out.extend(a[c.i1..c.i2].iter().map(|l| format!("-{l}")));
            }
            if matches!(c.tag, Tag::Replace | Tag::Insert) {
                out.extend(b[c.j1..c.j2].iter().map(|l| format!("+{l}")));
            }
        }
    }
    out
}

/// Splits text the way Ansible prepares it for difflib: lines with their
/// endings, and a last line without `\n` followed by difflib's marker
/// `\ No newline at end of file` (Ansible adds it itself; difflib alone
/// never prints it).
pub fn ansible_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = splitlines_keepends(text)
        .into_iter()
        .map(str::to_owned)
        .collect();
    if let Some(last) = lines.last_mut()
        && !last.ends_with('\n')
    {
        last.push_str("\n\\ No newline at end of file\n");
    }
    lines
}

/// The unified diff Ansible prints for one `{before, after}` pair (headers
/// `before[: h]` / `after[: h]`), uncoloured; empty when nothing differs.
pub fn ansible_unified(
    before: &str,
    after: &str,
    from: &str,
    to: &str,
    context: usize,
) -> Vec<String> {
    let a = ansible_lines(before);
    let b = ansible_lines(after);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    unified_diff(&a, &b, from, to, context)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udiff(a: &str, b: &str) -> String {
        let a = splitlines_keepends(a);
        let b = splitlines_keepends(b);
        unified_diff(&a, &b, "before", "after", 3).concat()
    }

    #[test]
    fn splitlines_matches_python() {
        assert_eq!(splitlines_keepends(""), Vec::<&str>::new());
        assert_eq!(splitlines_keepends("a"), vec!["a"]);
        assert_eq!(splitlines_keepends("a\n"), vec!["a\n"]);
        assert_eq!(
            splitlines_keepends("a\r\nb\rc\n\nd"),
            vec!["a\r\n", "b\r", "c\n", "\n", "d"]
        );
        assert_eq!(
            splitlines_keepends("x\u{2028}y\x0cz"),
            vec!["x\u{2028}", "y\x0c", "z"]
        );
    }

    #[test]
    fn equal_inputs_give_nothing() {
        assert_eq!(udiff("a\nb\n", "a\nb\n"), "");
        assert_eq!(udiff("", ""), "");
    }

    #[test]
    fn new_file() {
        // difflib.unified_diff([], ['value=7\n'], 'before', 'after')
        assert_eq!(
            udiff("", "value=7\n"),
            "--- before\n+++ after\n@@ -0,0 +1 @@\n+value=7\n"
        );
    }

    #[test]
    fn removed_file() {
        assert_eq!(
            udiff("a\nb\n", ""),
            "--- before\n+++ after\n@@ -1,2 +0,0 @@\n-a\n-b\n"
        );
    }

    #[test]
    fn one_line_changed() {
        assert_eq!(
            udiff("value=1\n", "value=42\n"),
            "--- before\n+++ after\n@@ -1 +1 @@\n-value=1\n+value=42\n"
        );
    }

    #[test]
    fn change_in_the_middle_with_context() {
        let a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            udiff(a, b),
            "--- before\n+++ after\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn distant_changes_make_two_hunks() {
        let a: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let b = a.replace("2\n", "two\n").replace("19\n", "nineteen\n");
        // "2\n" also matches the end of "12\n": only whole lines count.
        assert_eq!(
            udiff(&a, &b),
            "--- before\n+++ after\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n@@ -9,12 +9,12 @@\n 9\n 10\n 11\n-12\n+1two\n 13\n 14\n 15\n 16\n 17\n 18\n-19\n+nineteen\n 20\n"
        );
    }

    #[test]
    fn close_changes_share_a_hunk() {
        let a: String = (1..=12).map(|i| format!("{i}\n")).collect();
        let b = a.replace("3\n", "x\n").replace("9\n", "y\n");
        assert_eq!(
            udiff(&a, &b),
            "--- before\n+++ after\n@@ -1,12 +1,12 @@\n 1\n 2\n-3\n+x\n 4\n 5\n 6\n 7\n 8\n-9\n+y\n 10\n 11\n 12\n"
        );
    }

    #[test]
    fn insertion_at_start_and_end() {
        assert_eq!(
            udiff("b\nc\n", "a\nb\nc\nd\n"),
            "--- before\n+++ after\n@@ -1,2 +1,4 @@\n+a\n b\n c\n+d\n"
        );
    }

    #[test]
    fn difflib_choice_among_equal_diffs() {
        // difflib.unified_diff(['a\n','b\n','a\n'], ['a\n'], ...) keeps the
        // first 'a' (longest match earliest in a).
        assert_eq!(
            udiff("a\nb\na\n", "a\n"),
            "--- before\n+++ after\n@@ -1,3 +1 @@\n a\n-b\n-a\n"
        );
        // ['x\n','a\n','b\n'] -> ['a\n','b\n','x\n']: the block 'a b' wins.
        assert_eq!(
            udiff("x\na\nb\n", "a\nb\nx\n"),
            "--- before\n+++ after\n@@ -1,3 +1,3 @@\n-x\n a\n b\n+x\n"
        );
    }

    #[test]
    fn replace_block_lists_removals_then_additions() {
        assert_eq!(
            udiff("k\na\nb\nk\n", "k\nc\nd\ne\nk\n"),
            "--- before\n+++ after\n@@ -1,4 +1,5 @@\n k\n-a\n-b\n+c\n+d\n+e\n k\n"
        );
    }

    #[test]
    fn missing_final_newline_marker_as_ansible_adds_it() {
        let d = ansible_unified("value=1", "value=1\n", "before", "after", 3).concat();
        assert_eq!(
            d,
            "--- before\n+++ after\n@@ -1 +1 @@\n-value=1\n\\ No newline at end of file\n+value=1\n"
        );
        let d = ansible_unified("a\n", "a\nb", "before", "after", 3).concat();
        assert_eq!(
            d,
            "--- before\n+++ after\n@@ -1 +1,2 @@\n a\n+b\n\\ No newline at end of file\n"
        );
    }

    #[test]
    fn popular_lines_are_junk_for_large_b() {
        // 250 lines of "x" in b: "x" is popular, so it cannot seed a match,
        // yet difflib still extends the "a" match over neighbouring x's.
        let b: String = std::iter::once("a\n".to_string())
            .chain((0..250).map(|_| "x\n".to_string()))
            .collect();
        let a = "a\nx\n";
        let out = udiff(a, &b);
        assert!(
            out.starts_with("--- before\n+++ after\n@@ -1,2 +1,251 @@\n a\n x\n+x\n"),
            "{out}"
        );
        assert_eq!(out.lines().filter(|l| *l == "+x").count(), 249);
    }

    #[test]
    fn zero_context() {
        let a = splitlines_keepends("1\n2\n3\n");
        let b = splitlines_keepends("1\nx\n3\n");
        assert_eq!(
            unified_diff(&a, &b, "a", "b", 0).concat(),
            "--- a\n+++ b\n@@ -2 +2 @@\n-2\n+x\n"
        );
    }
}
