//! Templating: Ansible's Jinja2 dialect on top of minijinja.
//!
//! This module owns the [`Templar`] the playbook engine renders strings,
//! conditionals and `template` files with, the lazy variable [`Scope`], and
//! every Ansible filter, test and lookup minijinja lacks (DESIGN.md §5).
//! Behaviour follows Ansible 2.19: native types for single expressions,
//! boolean-only conditionals, errors when an undefined value is printed.

mod crypt;
mod filters;
mod jtests;
mod lookups;
mod pyrandom;
mod pyrepr;
mod pysyntax;
mod scope;
mod version;
mod yaml_emit;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};

pub use crypt::{sha256_crypt, sha512_crypt};
pub use lookups::lookup_loop;
pub use pyrepr::{py_repr, py_str};
pub use scope::{Layer, Scope, Var, json_to_value, strip_markers};
pub use yaml_emit::to_yaml;

use scope::Ctx;

/// Prefix of the `omit` placeholder; the engine drops module arguments whose
/// value starts with it.
pub const OMIT_PREFIX: &str = "__omit_place_holder__";

/// Key of the one-entry object the YAML loader uses to mark `!unsafe` text
/// nested inside otherwise trusted data.
pub const UNSAFE_KEY: &str = "__tutti_unsafe__";

/// The `#jinja2:` first line of a template file: the rest of the
/// template and the options it sets, as Ansible reads it.
fn jinja2_header<'t>(
    source: &'t str,
    base: &FileOptions,
) -> Result<Option<(&'t str, FileOptions)>, TemplateError> {
    const MARK: &str = "#jinja2:";
    let Some(after) = source.strip_prefix(MARK) else {
        return Ok(None);
    };
    let Some((line, rest)) = after.split_once('\n') else {
        return Err(TemplateError::new(format!(
            "Missing newline after '{MARK}' override."
        )));
    };
    let mut o = base.clone();
    for pair in line.split(',') {
        if pair.trim().is_empty() {
            return Err(TemplateError::new(format!(
                "Empty '{MARK}' override pair not allowed."
            )));
        }
        let Some((key, val)) = pair.split_once(':') else {
            return Err(TemplateError::new(format!(
                "Missing key-value separator `:` in '{MARK}' override pair '{pair}'."
            )));
        };
        let key = key.trim();
        let val = val.trim();
        let bad =
            || TemplateError::new(format!("Invalid '{MARK}' override value {val} for {key}."));
        let boolean = || match val {
            "True" | "true" => Ok(true),
            "False" | "false" => Ok(false),
            _ => Err(bad()),
        };
        let string = || {
            let b = val.as_bytes();
            if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
                Ok(val[1..val.len() - 1].to_string())
            } else {
                Err(bad())
            }
        };
        match key {
            "trim_blocks" => o.trim_blocks = boolean()?,
            "lstrip_blocks" => o.lstrip_blocks = boolean()?,
            "keep_trailing_newline" => o.keep_trailing_newline = boolean()?,
            "newline_sequence" => {
                o.newline_sequence = string()?.replace("\\r", "\r").replace("\\n", "\n")
            }
            "block_start_string" => o.block_start_string = Some(string()?),
            "block_end_string" => o.block_end_string = Some(string()?),
            "variable_start_string" => o.variable_start_string = Some(string()?),
            "variable_end_string" => o.variable_end_string = Some(string()?),
            "comment_start_string" => o.comment_start_string = Some(string()?),
            "comment_end_string" => o.comment_end_string = Some(string()?),
            "line_statement_prefix" => o.line_statement_prefix = Some(string()?),
            "line_comment_prefix" => o.line_comment_prefix = Some(string()?),
            _ => {
                return Err(TemplateError::new(format!(
                    "Invalid '{MARK}' override key '{key}'."
                )));
            }
        }
    }
    Ok(Some((rest, o)))
}

/// Splits `expr` at `and` outside brackets and quotes; an expression with
/// a top-level `or` (lower precedence) is returned whole.
fn split_top_level_and(expr: &str) -> Vec<&str> {
    let b = expr.as_bytes();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut cuts = Vec::new();
    let word_at = |i: usize, w: &[u8]| {
        b[i..].starts_with(w)
            && i > 0
            && b[i - 1].is_ascii_whitespace()
            && b.get(i + w.len()).is_some_and(u8::is_ascii_whitespace)
    };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth -= 1,
                _ if depth == 0 && word_at(i, b"or") => return vec![expr],
                _ if depth == 0 && word_at(i, b"and") => cuts.push(i),
                _ => {}
            },
        }
        i += 1;
    }
    let mut parts = Vec::new();
    let mut start = 0;
    for c in cuts {
        parts.push(expr[start..c].trim());
        start = c + 3;
    }
    parts.push(expr[start..].trim());
    parts
}

thread_local! {
    static TEMPLATE_DIRS: std::cell::RefCell<Vec<std::path::PathBuf>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The directories `{% include %}` searches while one template file
/// renders (rendering is synchronous, so a thread-local suffices); reset
/// when dropped.
struct TemplateDirs;

impl TemplateDirs {
    fn set(dirs: Vec<std::path::PathBuf>) -> TemplateDirs {
        TEMPLATE_DIRS.with(|d| *d.borrow_mut() = dirs);
        TemplateDirs
    }

    /// The first `dir/name` that exists, read.
    fn load(name: &str) -> Option<String> {
        if name.split('/').any(|c| c == "..") {
            return None;
        }
        TEMPLATE_DIRS.with(|d| {
            d.borrow()
                .iter()
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map(|t| t.replace("\r\n", "\n"))
        })
    }
}

impl Drop for TemplateDirs {
    fn drop(&mut self) {
        TEMPLATE_DIRS.with(|d| d.borrow_mut().clear());
    }
}

/// Ansible 2.19's refusal to evaluate text that did not come from the
/// playbook itself (`!unsafe`, or computed by a template).
pub const UNTRUSTED: &str = "Encountered untrusted template or expression. Templates and \
     expressions must be defined by trusted sources such as playbooks or roles, not untrusted \
     sources such as module results.";

/// The process-wide `omit` value: the prefix plus random hex, so that no
/// real value collides with it by accident.
pub fn omit_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let bytes: [u8; 20] = rand::random();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{OMIT_PREFIX}{hex}")
    })
}

/// Converts any serialisable value (JSON mostly) to a template value.
pub(crate) fn jv<T: serde::Serialize>(x: T) -> Value {
    Value::from(minijinja::value::Serde(x))
}

/// A shared templar for values that must render outside any call, such as
/// another host's variables reached through `hostvars`.
fn shared_templar() -> &'static Templar {
    static T: OnceLock<Templar> = OnceLock::new();
    T.get_or_init(Templar::new)
}

/// Whether a string contains template syntax at all. Strings without it are
/// used verbatim, which is both faster and what Ansible does.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// A templating failure, worded like Ansible's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub msg: String,
    /// The undefined variable (or `a.b` attribute path) when that is the
    /// cause, so callers can tell "undefined" apart from other failures.
    pub undefined: Option<String>,
    /// Line within the template string, when known.
    pub line: Option<usize>,
}

impl TemplateError {
    pub fn new(msg: impl Into<String>) -> Self {
        TemplateError {
            msg: msg.into(),
            undefined: None,
            line: None,
        }
    }
    fn undefined(name: &str) -> Self {
        TemplateError {
            msg: format!("'{name}' is undefined"),
            undefined: Some(name.to_string()),
            line: None,
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for TemplateError {}

/// Templar-wide settings.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Fallback search paths for file lookups when the scope sets none.
    pub search_paths: Vec<PathBuf>,
}

/// Settings of the `template` module.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileOptions {
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
    pub newline_sequence: String,
    pub block_start_string: Option<String>,
    pub block_end_string: Option<String>,
    pub variable_start_string: Option<String>,
    pub variable_end_string: Option<String>,
    pub comment_start_string: Option<String>,
    pub comment_end_string: Option<String>,
    pub keep_trailing_newline: bool,
    pub line_statement_prefix: Option<String>,
    pub line_comment_prefix: Option<String>,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            trim_blocks: true,
            lstrip_blocks: false,
            newline_sequence: "\n".into(),
            block_start_string: None,
            block_end_string: None,
            variable_start_string: None,
            variable_end_string: None,
            comment_start_string: None,
            comment_end_string: None,
            keep_trailing_newline: true,
            line_statement_prefix: None,
            line_comment_prefix: None,
        }
    }
}

struct Inner {
    env: Environment<'static>,
    /// Environments for `template` files with non-default syntax, by options.
    file_envs: Mutex<HashMap<FileOptions, Arc<Environment<'static>>>>,
    options: Options,
}

/// The templating engine. Cloning shares it.
#[derive(Clone)]
pub struct Templar {
    inner: Arc<Inner>,
}

impl fmt::Debug for Templar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templar").finish_non_exhaustive()
    }
}

impl Default for Templar {
    fn default() -> Self {
        Self::new()
    }
}

/// Builds an environment with Ansible's filters, tests and lookups.
fn build_env(syntax: SyntaxConfig) -> Environment<'static> {
    let mut env = Environment::new();
    // Debug mode records where undefined values came from, which is how
    // error messages can name the missing variable.
    env.set_debug(true);
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_syntax(syntax);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_unknown_method_callback(py_methods);
    env.set_formatter(|out, state, value| {
        if value.is_undefined() {
            if let Some(ctx) = Ctx::from_state(state)
                && ctx.lenient()
            {
                return Ok(());
            }
            // `get_attr` on an undefined value yields the engine's own
            // undefined error, which carries where the value came from.
            return Err(value
                .get_attr("__tutti__")
                .err()
                .unwrap_or_else(|| Error::from(ErrorKind::UndefinedError)));
        }
        if let Some(e) = value_error(value) {
            return Err(e);
        }
        out.write_str(&py_str(value))
            .map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))
    });
    minijinja_contrib::add_to_environment(&mut env);
    filters::register(&mut env);
    jtests::register(&mut env);
    lookups::register(&mut env);
    env
}

/// The error an invalid value holds, if any.
fn value_error(v: &Value) -> Option<Error> {
    if v.kind() == ValueKind::Invalid {
        // An invalid value's error comes out of any fallible access.
        return v.get_item(&Value::from(0)).err().or_else(|| {
            Some(Error::new(
                ErrorKind::InvalidOperation,
                v.to_string()
                    .trim_start_matches("<invalid value: ")
                    .trim_end_matches('>')
                    .to_string(),
            ))
        });
    }
    None
}

fn default_syntax() -> SyntaxConfig {
    // Ansible templates strings with trim_blocks on and keeps trailing
    // newlines of the input.
    SyntaxConfig::builder()
        .trim_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .unwrap_or_default()
}

/// If `s` is exactly one `{{ expr }}`, the expression inside. Whitespace
/// around it counts as text (`"{{ v }}\n"` renders to a string ending in a
/// newline, as in Ansible) unless `{{-`/`-}}` ask for it to be stripped.
/// The scan skips string literals and brackets, so `{{ {'a': {'b': 1}} }}`
/// counts as one expression.
pub fn single_expr(s: &str) -> Option<&str> {
    let mut t = s;
    let lead = t.trim_start();
    if lead.starts_with("{{-") {
        t = lead;
    }
    let tail = t.trim_end();
    if tail.ends_with("-}}") {
        t = tail;
    }
    let body = t.strip_prefix("{{")?;
    let bytes = body.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 1;
            } else if c == q {
                quote = None;
            }
        } else {
            match c {
                b'\'' | b'"' => quote = Some(c),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' => depth = depth.saturating_sub(1),
                b'}' if depth > 0 => depth -= 1,
                b'}' if bytes.get(i + 1) == Some(&b'}') => {
                    // The end of the first expression must be the end of
                    // the string.
                    if i + 2 != bytes.len() {
                        return None;
                    }
                    let inner = &body[..i];
                    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
                    let inner = inner.strip_suffix('-').unwrap_or(inner);
                    return Some(inner.trim());
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

impl Templar {
    pub fn new() -> Self {
        Self::with_options(Options::default())
    }

    pub fn with_options(options: Options) -> Self {
        Templar {
            inner: Arc::new(Inner {
                env: build_env(default_syntax()),
                file_envs: Mutex::new(HashMap::new()),
                options,
            }),
        }
    }

    pub(crate) fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Renders a string. A string that is exactly one `{{ expr }}` keeps the
    /// expression's native type; anything else renders to a string.
    pub fn render_str(&self, s: &str, scope: &Scope) -> Result<serde_json::Value, TemplateError> {
        if !is_template(s) {
            return Ok(serde_json::Value::String(s.to_string()));
        }
        let ctx = Ctx::new(self, scope);
        let v = self.render_top(s, &ctx)?;
        to_json(&v)
    }

    /// Renders `s` at the top level: an undefined result is an error.
    fn render_top(&self, s: &str, ctx: &Arc<Ctx>) -> Result<Value, TemplateError> {
        let result = self.render_value_in(s, ctx);
        let result = match result {
            Err(e) if is_unattributed_undefined(&e) && single_expr(s).is_none() => {
                // A lazily templated variable whose own template came out
                // undefined (`bar: "{{ foo[0] }}"`) is that template's error.
                if let Some(t) = self.undefined_lazy_var(s, ctx) {
                    return Err(t);
                }
                // The undefined value printed may have been the silent one
                // of `x if cond` without else, which Jinja prints as "".
                // Retry leniently; a real missing variable has a name and
                // would have been reported as such.
                ctx.set_lenient(true);
                let r = self.render_value_in(s, ctx);
                ctx.set_lenient(false);
                r.map_err(|_| e)
            }
            other => other,
        };
        match result {
            Ok(v) if v.is_undefined() => Err(self.describe_undefined_result(s, ctx)),
            // A test or comparison swallows an undefined operand into a
            // boolean (`{{ 'x' in missing }}`); Ansible reports it.
            Ok(v)
                if v.kind() == ValueKind::Bool
                    && let Some(expr) = single_expr(s)
                    && let Err(e) = self.check_undefined(expr, ctx) =>
            {
                Err(e)
            }
            Ok(v) => match value_error(&v) {
                Some(e) => Err(self.convert_err(&e, s, ctx)),
                None => Ok(v),
            },
            Err(e) => Err(self.convert_err(&e, s, ctx)),
        }
    }

    /// Renders in an existing context; single expressions keep their type.
    pub(crate) fn render_value_in(&self, s: &str, ctx: &Arc<Ctx>) -> Result<Value, Error> {
        let root = Value::from_dyn_object(ctx.clone());
        if let Some(expr) = single_expr(s) {
            let expr = pysyntax::adapt_expression(expr);
            let e = self.inner.env.compile_expression(&expr)?;
            return e.eval(root);
        }
        self.inner
            .env
            .render_str(&pysyntax::adapt_template(s), root)
            .map(Value::from)
    }

    /// Recursively renders every string in a JSON value (map keys too).
    pub fn render(
        &self,
        v: &serde_json::Value,
        scope: &Scope,
    ) -> Result<serde_json::Value, TemplateError> {
        let ctx = Ctx::new(self, scope);
        self.render_json_top(v, &ctx)
    }

    fn render_json_top(
        &self,
        v: &serde_json::Value,
        ctx: &Arc<Ctx>,
    ) -> Result<serde_json::Value, TemplateError> {
        Ok(match v {
            serde_json::Value::String(s) if is_template(s) => to_json(&self.render_top(s, ctx)?)?,
            serde_json::Value::Array(a) => serde_json::Value::Array(
                a.iter()
                    .map(|x| self.render_json_top(x, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(m) => {
                if m.len() == 1
                    && let Some(t) = m.get(UNSAFE_KEY)
                {
                    return Ok(t.clone());
                }
                let mut out = serde_json::Map::new();
                for (k, x) in m {
                    let key = if is_template(k) {
                        match self.render_top(k, ctx)? {
                            v if v.kind() == ValueKind::String => {
                                v.as_str().unwrap_or_default().to_string()
                            }
                            v => py_str(&v),
                        }
                    } else {
                        k.clone()
                    };
                    out.insert(key, self.render_json_top(x, ctx)?);
                }
                serde_json::Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// A bare conditional expression (`when`, `failed_when`, `until`,
    /// `assert that`): must produce a boolean, as in Ansible 2.19.
    pub fn eval_bool(&self, expr: &str, scope: &Scope) -> Result<bool, TemplateError> {
        let mut expr = expr.trim();
        let mut templated = false;
        if let Some(inner) = single_expr(expr) {
            eprintln!(
                "[WARNING]: conditional statements should not include jinja2 templating \
                 delimiters such as {{{{ }}}} or {{% %}}. Found: {expr}"
            );
            expr = inner;
            templated = true;
        }
        // A string constant holding a template (`"{{ 'hi' }}" == "hi"`) is
        // rendered first: it was written in the playbook, so it is trusted.
        let inlined = self.inline_literal_templates(expr, scope)?;
        if let Some(x) = &inlined {
            expr = x;
        }
        let ctx = Ctx::new(self, scope);
        let v = self.eval_in(expr, &ctx)?;
        if v.kind() == ValueKind::Bool {
            return Ok(v.is_true());
        }
        // A template that computes a string would have that string
        // evaluated as an expression; Ansible 2.19 refuses, since computed
        // text is not trusted like the playbook's own.
        let bare_variable = expr
            .trim()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if templated && v.kind() == ValueKind::String && !bare_variable {
            return Err(TemplateError::new(UNTRUSTED.to_string()));
        }
        let shown = match v.kind() {
            ValueKind::String => v.as_str().unwrap_or_default().to_string(),
            _ => py_str(&v),
        };
        // ALLOW_BROKEN_CONDITIONALS: the old truthiness, with a warning.
        let allowed = std::env::var("ANSIBLE_ALLOW_BROKEN_CONDITIONALS")
            .ok()
            .and_then(|v| tutti_modules::params::to_bool(&serde_json::Value::String(v)))
            .unwrap_or(false);
        if allowed {
            eprintln!(
                "[DEPRECATION WARNING]: Conditional result was '{shown}' of type '{}', which \
                 evaluates to {}. Conditionals must have a boolean result.",
                filters::type_name(&v),
                if v.is_true() { "True" } else { "False" }
            );
            return Ok(v.is_true());
        }
        Err(TemplateError::new(format!(
            "Conditional result was '{shown}' of type '{}', which evaluates to {}. \
             Conditionals must have a boolean result.",
            filters::type_name(&v),
            if v.is_true() { "True" } else { "False" }
        )))
    }

    /// `expr` with each string literal that holds `{{`/`{%` replaced by
    /// its rendering (as a double-quoted literal); `None` when there is
    /// none.
    fn inline_literal_templates(
        &self,
        expr: &str,
        scope: &Scope,
    ) -> Result<Option<String>, TemplateError> {
        if !expr.contains("{{") && !expr.contains("{%") {
            return Ok(None);
        }
        let mut out = String::new();
        let mut changed = false;
        let mut rest = expr;
        while let Some(start) = rest.find(['"', '\'']) {
            let q = rest.as_bytes()[start] as char;
            let body_start = start + 1;
            // The closing quote, skipping backslash escapes.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in rest[body_start..].char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    c if c == q => {
                        end = Some(body_start + i);
                        break;
                    }
                    _ => {}
                }
            }
            let Some(end) = end else { break };
            let body = &rest[body_start..end];
            out.push_str(&rest[..start]);
            if is_template(body) {
                let rendered = match self.render_str(body, scope)? {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                out.push_str(&serde_json::Value::String(rendered).to_string());
                changed = true;
            } else {
                out.push_str(&rest[start..=end]);
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(changed.then_some(out))
    }

    /// A bare expression returning any value.
    pub fn eval(&self, expr: &str, scope: &Scope) -> Result<serde_json::Value, TemplateError> {
        let ctx = Ctx::new(self, scope);
        let v = self.eval_in(expr.trim(), &ctx)?;
        to_json(&v)
    }

    fn eval_in(&self, expr: &str, ctx: &Arc<Ctx>) -> Result<Value, TemplateError> {
        let adapted = pysyntax::adapt_expression(expr);
        let compiled = self
            .inner
            .env
            .compile_expression(&adapted)
            .map_err(|e| self.convert_err(&e, expr, ctx))?;
        let v = compiled
            .eval(Value::from_dyn_object(ctx.clone()))
            .map_err(|e| self.convert_err(&e, expr, ctx))?;
        if v.is_undefined() {
            return Err(self.describe_undefined_result(&format!("{{{{ {expr} }}}}"), ctx));
        }
        if let Some(e) = value_error(&v) {
            return Err(self.convert_err(&e, expr, ctx));
        }
        self.check_undefined(expr, ctx)?;
        Ok(v)
    }

    /// Ansible errors on any use of an undefined variable, even where
    /// Jinja is lenient (`not missing`, `'x' in missing`), unless the
    /// expression guards it; in `a and b`, a false `a` means `b` was never
    /// looked at.
    fn check_undefined(&self, expr: &str, ctx: &Arc<Ctx>) -> Result<(), TemplateError> {
        let missing = |part: &str| -> Option<String> {
            let compiled = self.inner.env.compile_expression(part).ok()?;
            undeclared_in_order(&compiled.undeclared_variables(false), part)
                .into_iter()
                .find(|name| !self.is_known(name, ctx) && !is_guarded(expr, name))
        };
        // The usual case, every name known, costs one look at the whole;
        // only a missing name needs the short-circuit analysis.
        if missing(expr).is_none() {
            return Ok(());
        }
        match self
            .reached_conjuncts(expr, ctx)
            .into_iter()
            .find_map(missing)
        {
            Some(name) => Err(TemplateError::undefined(&name)),
            None => Ok(()),
        }
    }

    /// The top-level `and` operands of `expr` that evaluation reaches (up
    /// to the first false one); the whole expression when it is not a
    /// plain `and` chain.
    fn reached_conjuncts<'e>(&self, expr: &'e str, ctx: &Arc<Ctx>) -> Vec<&'e str> {
        let parts = split_top_level_and(expr);
        if parts.len() < 2 {
            return vec![expr];
        }
        let mut reached = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            reached.push(*part);
            if i + 1 == parts.len() {
                break;
            }
            let falsy = self
                .inner
                .env
                .compile_expression(part)
                .ok()
                .and_then(|c| c.eval(Value::from_dyn_object(ctx.clone())).ok())
                .is_some_and(|v| !v.is_true());
            if falsy {
                break;
            }
        }
        reached
    }

    /// Load-time syntax check (nothing is rendered).
    pub fn check_syntax(&self, s: &str) -> Result<(), TemplateError> {
        if !is_template(s) {
            return Ok(());
        }
        let result = match single_expr(s) {
            Some(expr) => self
                .inner
                .env
                .compile_expression(&pysyntax::adapt_expression(expr))
                .map(|_| ()),
            None => self
                .inner
                .env
                .template_from_str(&pysyntax::adapt_template(s))
                .map(|_| ()),
        };
        result.map_err(|e| syntax_error(&e, s))
    }

    /// The `template` module: renders a whole file.
    pub fn render_file(
        &self,
        text: &str,
        name: &str,
        scope: &Scope,
        opts: &FileOptions,
    ) -> Result<String, TemplateError> {
        let source = text.replace("\r\n", "\n");
        // A first line `#jinja2: key: value, ...` overrides the options.
        let (source, header_opts) = match jinja2_header(&source, opts)? {
            Some((rest, o)) => (rest.to_string(), o),
            None => (source, opts.clone()),
        };
        let opts = &header_opts;
        let default_syntax = opts.block_start_string.is_none()
            && opts.variable_start_string.is_none()
            && opts.comment_start_string.is_none()
            && opts.line_statement_prefix.is_none();
        let source = if default_syntax {
            let s = pysyntax::adapt_template(&source);
            pysyntax::macro_includes_see_template_names(&s).into_owned()
        } else {
            source
        };
        // A template that loads others gets an environment of its own:
        // minijinja caches loaded templates by name, and `bar` beside this
        // template is not `bar` beside the next.
        let loads_others = ["include", "import", "extends"]
            .iter()
            .any(|w| source.contains(w));
        let env = if loads_others {
            let mut env = (*self.file_env(opts)?).clone();
            // As Jinja's loader (keep_trailing_newline off): an included
            // template's last newline is not part of it.
            env.set_loader(|name| {
                Ok(TemplateDirs::load(name).map(|mut t| {
                    if t.ends_with('\n') {
                        t.pop();
                    }
                    t
                }))
            });
            Arc::new(env)
        } else {
            self.file_env(opts)?
        };
        let ctx = Ctx::new(self, scope);
        // `{% include %}`/`{% import %}` find their templates beside this
        // one and in the search path's `templates/` directories, as the
        // template action sets Jinja's search path.
        let mut dirs: Vec<std::path::PathBuf> = ctx.scope.search_paths().to_vec();
        if let Some(parent) = std::path::Path::new(name).parent() {
            dirs.push(parent.to_path_buf());
        }
        let dirs = dirs
            .into_iter()
            .flat_map(|p| [p.join("templates"), p])
            .collect();
        let _dirs = TemplateDirs::set(dirs);
        let root = Value::from_dyn_object(ctx.clone());
        let result = match env.render_named_str(name, &source, root.clone()) {
            Err(e) if is_unattributed_undefined(&e) => {
                ctx.set_lenient(true);
                let r = env.render_named_str(name, &source, root).map_err(|_| e);
                ctx.set_lenient(false);
                r
            }
            other => other,
        };
        let mut out = result.map_err(|e| self.convert_err(&e, &source, &ctx))?;
        // Ansible keeps as many trailing newlines as the template has,
        // even where trim_blocks ate one after a closing tag.
        let trailing = |t: &str| t.len() - t.trim_end_matches('\n').len();
        let want = trailing(&source);
        let have = trailing(&out);
        if opts.keep_trailing_newline && want > have {
            out.push_str(&"\n".repeat(want - have));
        }
        if opts.newline_sequence != "\n" {
            return Ok(out.replace('\n', &opts.newline_sequence));
        }
        Ok(out)
    }

    fn file_env(&self, opts: &FileOptions) -> Result<Arc<Environment<'static>>, TemplateError> {
        let mut envs = self
            .inner
            .file_envs
            .lock()
            .map_err(|_| TemplateError::new("template environment lock poisoned"))?;
        if let Some(env) = envs.get(opts) {
            return Ok(env.clone());
        }
        let pick = |o: &Option<String>, d: &str| o.clone().unwrap_or_else(|| d.to_string());
        let syntax = SyntaxConfig::builder()
            .block_delimiters(
                pick(&opts.block_start_string, "{%"),
                pick(&opts.block_end_string, "%}"),
            )
            .variable_delimiters(
                pick(&opts.variable_start_string, "{{"),
                pick(&opts.variable_end_string, "}}"),
            )
            .comment_delimiters(
                pick(&opts.comment_start_string, "{#"),
                pick(&opts.comment_end_string, "#}"),
            )
            .trim_blocks(opts.trim_blocks)
            .lstrip_blocks(opts.lstrip_blocks)
            .keep_trailing_newline(opts.keep_trailing_newline)
            .line_statement_prefix(opts.line_statement_prefix.clone().unwrap_or_default())
            .line_comment_prefix(opts.line_comment_prefix.clone().unwrap_or_default())
            .build()
            .map_err(|e| TemplateError::new(format!("invalid template delimiters: {e}")))?;
        let env = Arc::new(build_env(syntax));
        envs.insert(opts.clone(), env.clone());
        Ok(env)
    }

    /// Whether a top-level name resolves to something.
    fn is_known(&self, name: &str, ctx: &Arc<Ctx>) -> bool {
        ctx.scope.contains(name)
            || matches!(name, "vars" | "omit" | "true" | "false" | "none")
            || self.inner.env.globals().any(|(n, _)| n == name)
    }

    /// The error for a single expression whose value is undefined: printing
    /// it through the string renderer yields the engine's description of
    /// where the undefined value came from.
    fn describe_undefined_result(&self, s: &str, ctx: &Arc<Ctx>) -> TemplateError {
        let root = Value::from_dyn_object(ctx.clone());
        match self.inner.env.render_str(&format!("{s}\n"), root) {
            Err(e) => {
                let mut t = self.convert_err(&e, s, ctx);
                t.line = None;
                t
            }
            Ok(_) => self.undefined_error(s, ctx),
        }
    }

    /// The error of the first lazily templated variable `src` uses whose
    /// own template renders to an undefined value.
    fn undefined_lazy_var(&self, src: &str, ctx: &Arc<Ctx>) -> Option<TemplateError> {
        let names = self
            .inner
            .env
            .template_from_str(src)
            .ok()?
            .undeclared_variables(false);
        for name in undeclared_in_order(&names, src) {
            if let Some(var) = ctx.scope.get_raw(&name)
                && var.trusted
                && let serde_json::Value::String(t) = &var.value
                && single_expr(t).is_some()
                && t != src
                && let Err(e) = self.render_top(t, ctx)
                && e.undefined.is_some()
            {
                return Some(e);
            }
        }
        None
    }

    /// The error for an expression that produced an undefined value.
    fn undefined_error(&self, src: &str, ctx: &Arc<Ctx>) -> TemplateError {
        if let Some(t) = self.undefined_lazy_var(src, ctx) {
            return t;
        }
        match self.find_missing(src, ctx, 0) {
            Some(name) => TemplateError::undefined(&name),
            None => TemplateError {
                msg: "the template expression produced an undefined value".into(),
                undefined: Some(String::new()),
                line: None,
            },
        }
    }

    /// Finds a missing variable a template refers to, looking through
    /// lazily templated variables too.
    fn find_missing(&self, src: &str, ctx: &Arc<Ctx>, depth: usize) -> Option<String> {
        if depth > 20 {
            return None;
        }
        let names = match single_expr(src) {
            Some(e) => self
                .inner
                .env
                .compile_expression(e)
                .ok()?
                .undeclared_variables(false),
            None => self
                .inner
                .env
                .template_from_str(src)
                .ok()?
                .undeclared_variables(false),
        };
        let names = undeclared_in_order(&names, src);
        for name in &names {
            if !self.is_known(name, ctx) {
                return Some(name.clone());
            }
        }
        for name in &names {
            if let Some(var) = ctx.scope.get_raw(name)
                && var.trusted
                && let serde_json::Value::String(s) = &var.value
                && is_template(s)
                && let Some(m) = self.find_missing(s, ctx, depth + 1)
            {
                return Some(m);
            }
        }
        None
    }

    /// Turns a minijinja error into Ansible's wording.
    fn convert_err(&self, e: &Error, src: &str, ctx: &Arc<Ctx>) -> TemplateError {
        // An error inside an included or imported template is reported as
        // that template's own error (Ansible names the undefined variable,
        // not the template it happened in).
        let mut e = e;
        while let Some(inner) = std::error::Error::source(e).and_then(|s| s.downcast_ref::<Error>())
        {
            e = inner;
        }
        let line = e.line();
        let detail = e.detail().unwrap_or_default();
        match e.kind() {
            ErrorKind::SyntaxError => {
                let mut t = syntax_error(e, src);
                t.line = line;
                t
            }
            ErrorKind::UndefinedError => {
                if ctx
                    .mandatory
                    .swap(false, std::sync::atomic::Ordering::Relaxed)
                {
                    let name = undefined_expr(detail).unwrap_or_default();
                    return TemplateError {
                        msg: format!("Mandatory variable '{name}' not defined."),
                        undefined: Some(name),
                        line,
                    };
                }
                let mut t = match undefined_expr(detail) {
                    Some(expr) => self.describe_undefined(&expr, ctx),
                    None => self.undefined_error(src, ctx),
                };
                t.line = line;
                t
            }
            _ => {
                // Errors from lazily templated variables and from our own
                // filters already carry Ansible's wording in the detail.
                let msg = if detail.is_empty() {
                    e.kind().to_string()
                } else if let Some(expr) = undefined_expr(detail) {
                    let mut t = self.describe_undefined(&expr, ctx);
                    t.line = line;
                    return t;
                } else {
                    detail.to_string()
                };
                TemplateError {
                    msg,
                    undefined: None,
                    line,
                }
            }
        }
    }

    /// Words an undefined `expr` (`a`, `a.b`, `a["b"]`) like Ansible.
    fn describe_undefined(&self, expr: &str, ctx: &Arc<Ctx>) -> TemplateError {
        let (parent, attr) = match split_last_access(expr) {
            Some(x) => x,
            None => {
                if let Some(name) = self.find_missing(&format!("{{{{ {expr} }}}}"), ctx, 0)
                    && name != expr
                {
                    return TemplateError::undefined(&name);
                }
                return TemplateError::undefined(expr);
            }
        };
        let kind = self
            .inner
            .env
            .compile_expression(parent)
            .ok()
            .and_then(|c| c.eval(Value::from_dyn_object(ctx.clone())).ok());
        let tname = match &kind {
            Some(v) if !v.is_undefined() => filters::type_name(v),
            _ => return TemplateError::undefined(parent),
        };
        // A missing index of a list is worded as 2.19 words it.
        let msg = if kind.as_ref().is_some_and(|v| v.kind() == ValueKind::Seq)
            && attr.parse::<i64>().is_ok()
        {
            format!("{tname} object has no element {attr}")
        } else {
            format!("'{tname} object' has no attribute '{attr}'")
        };
        TemplateError {
            msg,
            undefined: Some(expr.to_string()),
            line: None,
        }
    }
}

/// Whether the error is an undefined error with no expression attached:
/// the silent undefined of `x if cond` or a filter's undefined result.
fn is_unattributed_undefined(e: &Error) -> bool {
    e.kind() == ErrorKind::UndefinedError
        && undefined_expr(e.detail().unwrap_or_default()).is_none()
}

/// Extracts `expr` from minijinja's "`expr` is undefined" detail.
fn undefined_expr(detail: &str) -> Option<String> {
    let start = detail.find('`')?;
    let rest = &detail[start + 1..];
    let end = rest.find("` is undefined")?;
    Some(rest[..end].to_string())
}

/// Splits `a.b.c` into (`a.b`, `c`) and `a["b"]` into (`a`, `b`).
fn split_last_access(expr: &str) -> Option<(&str, String)> {
    if let Some(stripped) = expr.strip_suffix(']') {
        let open = stripped.rfind('[')?;
        let key = stripped[open + 1..].trim_matches(['"', '\'']);
        return Some((&expr[..open], key.to_string()));
    }
    let dot = expr.rfind('.')?;
    Some((&expr[..dot], expr[dot + 1..].to_string()))
}

fn syntax_error(e: &Error, src: &str) -> TemplateError {
    TemplateError {
        msg: format!(
            "template error while templating string: {}. String: {src}",
            e.detail().unwrap_or("syntax error")
        ),
        undefined: None,
        line: e.line(),
    }
}

/// Orders a set of names by where they first appear in the source.
fn undeclared_in_order(names: &std::collections::HashSet<String>, src: &str) -> Vec<String> {
    let mut v: Vec<(usize, String)> = names
        .iter()
        .map(|n| (src.find(n.as_str()).unwrap_or(usize::MAX), n.clone()))
        .collect();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

/// Whether a missing name is guarded somewhere in the expression by
/// `is defined`, `is undefined`, `| default` or `| mandatory`, possibly
/// after attribute or index access.
fn is_guarded(expr: &str, name: &str) -> bool {
    let bytes = expr.as_bytes();
    let mut from = 0;
    while let Some(pos) = expr[from..].find(name) {
        let start = from + pos;
        let end = start + name.len();
        from = end;
        let before_ok = start == 0 || {
            let b = bytes[start - 1];
            !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        };
        let after_ok = end >= bytes.len() || {
            let b = bytes[end];
            !(b.is_ascii_alphanumeric() || b == b'_')
        };
        if !before_ok || !after_ok {
            continue;
        }
        // Skip attribute and index accesses after the name.
        let mut i = end;
        loop {
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == b'.' {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
            } else if i < bytes.len() && bytes[i] == b'[' {
                let mut depth = 0;
                while i < bytes.len() {
                    match bytes[i] {
                        b'[' => depth += 1,
                        b']' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            } else {
                break;
            }
        }
        let rest: String = expr[i..].split_whitespace().collect::<Vec<_>>().join(" ");
        if rest.starts_with("is defined")
            || rest.starts_with("is undefined")
            || rest.starts_with("is not defined")
            || rest.starts_with("is not undefined")
            || rest.starts_with("is none")
            || rest.starts_with("is not none")
            || rest.starts_with("is mapping")
            || rest.starts_with("is string")
            || rest.starts_with("is sequence")
            || rest.starts_with("is iterable")
            || rest.starts_with("is not mapping")
            || rest.starts_with("is not string")
        {
            return true;
        }
        let piped = rest.strip_prefix('|').map(str::trim_start);
        if let Some(p) = piped
            && (p.starts_with("default")
                || p.starts_with("d(")
                || p == "d"
                || p.starts_with("d ")
                || p.starts_with("mandatory"))
        {
            return true;
        }
    }
    false
}

/// Converts a rendered value to JSON, failing on values that hold errors.
fn to_json(v: &Value) -> Result<serde_json::Value, TemplateError> {
    if let Some(e) = value_error(v) {
        return Err(TemplateError::new(e.detail().unwrap_or_default()));
    }
    serde_json::to_value(v).map_err(|e| TemplateError::new(e.to_string()))
}

impl Ctx {
    fn lenient(&self) -> bool {
        self.lenient.load(std::sync::atomic::Ordering::Relaxed)
    }
    fn set_lenient(&self, yes: bool) {
        self.lenient
            .store(yes, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Python methods templates call on values: list `index`/`count` here,
/// the rest (str, dict methods) from minijinja's pycompat.
fn py_methods(
    state: &mut minijinja::State,
    value: &minijinja::Value,
    method: &str,
    args: &[minijinja::Value],
) -> Result<minijinja::Value, minijinja::Error> {
    if value.kind() == minijinja::value::ValueKind::Seq
        && let ([needle], "index" | "count") = (args, method)
    {
        let items: Vec<minijinja::Value> = value.try_iter()?.collect();
        if method == "count" {
            return Ok(minijinja::Value::from(
                items.iter().filter(|v| *v == needle).count(),
            ));
        }
        return match items.iter().position(|v| v == needle) {
            Some(i) => Ok(minijinja::Value::from(i)),
            None => Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("{needle} is not in list"),
            )),
        };
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn single_expression_detection() {
        assert_eq!(single_expr("{{ a }}"), Some("a"));
        assert_eq!(single_expr("  {{- a | b -}} "), Some("a | b"));
        assert_eq!(single_expr("{{ a }}{{ b }}"), None);
        assert_eq!(single_expr("x {{ a }}"), None);
        assert_eq!(
            single_expr("{{ {'a': {'b': '}}'}} }}"),
            Some("{'a': {'b': '}}'}}")
        );
        assert_eq!(single_expr("{{ a }} {{ b }}"), None);
    }

    #[test]
    fn guards() {
        assert!(is_guarded("foo is defined and foo == 1", "foo"));
        assert!(is_guarded("foo.bar | default(1)", "foo"));
        assert!(!is_guarded("not foo", "foo"));
        assert!(!is_guarded("foobar is defined", "foo"));
    }

    #[test]
    fn undefined_detail() {
        assert_eq!(undefined_expr("`a.b` is undefined").as_deref(), Some("a.b"));
        assert_eq!(split_last_access("a.b.c"), Some(("a.b", "c".to_string())));
        assert_eq!(split_last_access("a[\"b\"]"), Some(("a", "b".to_string())));
    }
}
