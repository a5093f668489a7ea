//! Errors about user input, pointing at file:line:col with the offending
//! line and a caret, in the shape ansible-core 2.19 prints:
//!
//! ```text
//! [ERROR]: Syntax Error while loading YAML: did not find expected key
//! Origin: /srv/inventory/hosts.yml:4:9
//!
//! 2 web:
//! 3   hosts:
//! 4     a: {x: 1
//!           ^ column 9
//! ```

use std::fmt;
use std::sync::Arc;

/// A loaded text, kept so errors can quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file's path as the user gave it (or a label like `<extra vars>`).
    pub name: Arc<str>,
    pub text: Arc<str>,
}

impl Source {
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// A position in a [`Source`], 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub source: Source,
    pub line: usize,
    pub col: usize,
}

impl Span {
    pub fn new(source: &Source, line: usize, col: usize) -> Self {
        Span {
            source: source.clone(),
            line: line.max(1),
            col: col.max(1),
        }
    }
}

/// What kind of mistake, which decides the exit code (Ansible's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad YAML, a bad playbook or inventory: exit 4.
    Parse,
    /// A file the playbook names is missing: exit 4 while loading; at run
    /// time (an include) it fails the host instead of stopping the run.
    NotFound,
    /// Bad command-line options: exit 5.
    Options,
    /// Anything else that stops the run before it starts: exit 1.
    Error,
}

/// An error about the user's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub kind: Kind,
    pub msg: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn parse(msg: impl Into<String>, span: Option<Span>) -> Self {
        Diagnostic {
            kind: Kind::Parse,
            msg: msg.into(),
            span,
            help: None,
        }
    }

    pub fn error(msg: impl Into<String>) -> Self {
        Diagnostic {
            kind: Kind::Error,
            msg: msg.into(),
            span: None,
            help: None,
        }
    }

    pub fn options(msg: impl Into<String>) -> Self {
        Diagnostic {
            kind: Kind::Options,
            msg: msg.into(),
            span: None,
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The process exit code Ansible uses for this kind of error.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Parse | Kind::NotFound => 4,
            Kind::Options => 5,
            Kind::Error => 1,
        }
    }
}

impl std::error::Error for Diagnostic {}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "[ERROR]: {}", self.msg)?;
        if let Some(span) = &self.span {
            writeln!(f, "Origin: {}:{}:{}", span.source.name, span.line, span.col)?;
            let snippet = snippet(span);
            if !snippet.is_empty() {
                writeln!(f)?;
                f.write_str(&snippet)?;
            }
        }
        if let Some(help) = &self.help {
            writeln!(f)?;
            writeln!(f, "{help}")?;
        }
        Ok(())
    }
}

/// Up to two lines of context before the offending line, then the line and
/// a caret under the column.
fn snippet(span: &Span) -> String {
    let lines: Vec<&str> = span.source.text.lines().collect();
    if span.line == 0 || span.line > lines.len() {
        return String::new();
    }
    let first = span.line.saturating_sub(2).max(1);
    let width = span.line.to_string().len();
    let mut out = String::new();
    for n in first..=span.line {
        let text = lines[n - 1];
        out.push_str(&format!("{n:<width$} {text}\n"));
    }
    let pad = width + 1 + span.col.saturating_sub(1);
    out.push_str(&format!("{}^ column {}\n", " ".repeat(pad), span.col));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_origin_snippet_and_caret() {
        let src = Source::new("hosts.yml", "all:\n  hosts:\n    a: {x: 1\n");
        let d = Diagnostic::parse("bad flow mapping", Some(Span::new(&src, 3, 8)));
        assert_eq!(
            d.to_string(),
            "[ERROR]: bad flow mapping\nOrigin: hosts.yml:3:8\n\n1 all:\n2   hosts:\n3     a: {x: 1\n         ^ column 8\n"
        );
        assert_eq!(d.exit_code(), 4);
    }
}
