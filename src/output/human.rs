//! Playbook output in the shape of ansible-core 2.19's `default` stdout
//! callback: banners, per-host result lines, diffs, the PLAY RECAP, and the
//! `[WARNING]`/`[ERROR]` lines it writes to stderr.
//!
//! [`Human`] is fed [`PlaybookEvent`]s one at a time, in the order the
//! runner emits them, and returns the bytes to write ([`Rendered`]). It is
//! stateful: it remembers the current task's banner (printed at task start
//! when every result is shown, or lazily before the first result shown
//! when `display_ok_hosts`/`display_skipped_hosts` filter some out) and
//! the warnings already shown (Ansible prints each distinct one once).
//!
//! Rules followed (Ansible's documented and observed behaviour):
//! - Banners are `"\n" + msg + " " + "*" * (columns - width(msg))`, at
//!   least 3 stars.
//! - Result bodies (` => {json}`) are Python `json.dumps(sort_keys=True)`:
//!   compact, or indented by 4 at `-vvv` and for results that are always
//!   verbose (`debug`, `_ansible_verbose_always`). ok/changed/skipped
//!   results show a body from `-v` on, failures always. Ansible's
//!   `TaskResult.clean_copy` hides `failed` and `skipped`; the callback
//!   hides `_ansible_*` keys, `exception`, and `invocation` and `diff`
//!   below `-vvv`; `debug` with `msg` shows only `msg`.
//! - The final result of a loop (`loop_summary`) prints no line of its own
//!   when ok, changed or failed (its items did), `skipping: [host]` when
//!   every item was skipped, and `...ignoring` after ignored failures.
//! - Diffs are printed before the result line they belong to (an item's
//!   before its item line), only for changed results. Under `no_log` no
//!   diff is printed at all (2.19 drops the `diff` key from censored
//!   results before the callback sees them).
//! - A failure with an origin gets 2.19's `[ERROR]: Task failed: ...` block
//!   (on stdout, like the `fatal:` line after it), printed once per
//!   distinct text: two hosts failing the same task the same way, or the
//!   items of one loop, show it once.
//! - `FAILED - RETRYING` lines do not print a pending task banner (as in
//!   Ansible, where they can precede it when hosts are filtered).
//!
//! These rules were checked against ansible-core 2.19.14's output.

use std::collections::HashSet;
use std::io::{self, Write};

use serde_json::{Map, Value};
use tutti_modules::text;

use super::diff;
use super::events::{HostStats, PlaybookEvent, ResultStatus, TaskKind, TaskResult};
use super::pyjson;

/// Ansible's `MAX_FILE_SIZE_FOR_DIFF` default, in bytes.
pub const MAX_DIFF_SIZE: usize = 104_448;

/// `DIFF_CONTEXT` default: lines of context around each hunk.
const DIFF_CONTEXT: usize = 3;

// Ansible's default colours (`utils/color.py` codes).
const C_OK: &str = "0;32";
const C_CHANGED: &str = "0;33";
const C_ERROR: &str = "0;31";
const C_SKIP: &str = "0;36";
const C_UNREACHABLE: &str = "1;31";
const C_WARN: &str = "1;35";
const C_VERBOSE: &str = "0;34";
const C_DEBUG: &str = "1;30";
const C_DEPRECATE: &str = "0;35";
const C_INCLUDED: &str = "0;36";
const C_DIFF_ADD: &str = "0;32";
const C_DIFF_REMOVE: &str = "0;31";
const C_DIFF_LINES: &str = "0;36";

/// How to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanOptions {
    /// ANSI colours (decided by the caller: TTY, `ANSIBLE_FORCE_COLOR`,
    /// `NO_COLOR`, `ANSIBLE_NOCOLOR`).
    pub color: bool,
    /// Number of `-v`.
    pub verbosity: u8,
    /// `--diff` was given. Informational: whether a result's diff is shown
    /// is [`TaskResult::show_diff`], which already folds in the task's
    /// `diff:` keyword.
    pub diff: bool,
    /// `display_skipped_hosts` (default true).
    pub display_skipped_hosts: bool,
    /// `display_ok_hosts` (default true).
    pub display_ok_hosts: bool,
    /// Banner width: see [`HumanOptions::columns_for`].
    pub columns: usize,
    /// `check_mode_markers`: ` [CHECK MODE]` after play and task banners
    /// in check mode.
    pub check_mode_markers: bool,
}

impl Default for HumanOptions {
    fn default() -> Self {
        HumanOptions {
            color: false,
            verbosity: 0,
            diff: false,
            display_skipped_hosts: true,
            display_ok_hosts: true,
            columns: 79,
            check_mode_markers: false,
        }
    }
}

impl HumanOptions {
    /// Ansible's `columns`: `max(79, width - 1)` for a terminal `width`
    /// columns wide, 79 when not a terminal (so banner lines are 80 long).
    pub fn columns_for(tty_width: Option<usize>) -> usize {
        tty_width.map_or(79, |w| w.saturating_sub(1).max(79))
    }
}

/// Which stream a chunk of output goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The output for one event. `stdout` and `stderr` hold each stream's
/// bytes; `chunks` holds the same bytes in the order they were produced
/// (a result's `[WARNING]` on stderr comes between the task banner and the
/// result line on stdout), which is the order to write them in when both
/// reach one terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub chunks: Vec<(Stream, Vec<u8>)>,
}

impl Rendered {
    fn push(&mut self, stream: Stream, s: &str) {
        if s.is_empty() {
            return;
        }
        let bytes = text::encode(s);
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(&bytes),
            Stream::Stderr => self.stderr.extend_from_slice(&bytes),
        }
        match self.chunks.last_mut() {
            Some((last, buf)) if *last == stream => buf.extend_from_slice(&bytes),
            _ => self.chunks.push((stream, bytes)),
        }
    }

    /// Nothing to print.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Both streams interleaved in production order.
    pub fn combined(&self) -> Vec<u8> {
        self.chunks
            .iter()
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }

    /// Writes the chunks in order, flushing stdout before each stderr chunk
    /// so a terminal shows them in that order.
    pub fn write_to(&self, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
        for (stream, bytes) in &self.chunks {
            match stream {
                Stream::Stdout => out.write_all(bytes)?,
                Stream::Stderr => {
                    out.flush()?;
                    err.write_all(bytes)?;
                    err.flush()?;
                }
            }
        }
        out.flush()
    }
}

/// A task whose banner has not been printed yet.
#[derive(Debug, Clone)]
struct PendingTask {
    title: String,
    path: String,
}

/// The default callback's state between events.
#[derive(Debug)]
pub struct Human {
    opts: HumanOptions,
    pending: Option<PendingTask>,
    /// Warnings, deprecations and error blocks already shown.
    warned: HashSet<String>,
}

impl Human {
    pub fn new(opts: HumanOptions) -> Self {
        Human {
            opts,
            pending: None,
            warned: HashSet::new(),
        }
    }

    /// Renders one event.
    pub fn render(&mut self, ev: &PlaybookEvent) -> Rendered {
        let mut out = Rendered::default();
        match ev {
            PlaybookEvent::Playbook { path, plays } => {
                if self.opts.verbosity > 1 {
                    let base = path.rsplit('/').next().unwrap_or(path);
                    self.banner(&mut out, &format!("PLAYBOOK: {base}"));
                    self.display(
                        &mut out,
                        Stream::Stdout,
                        &format!("{plays} plays in {path}"),
                        None,
                    );
                }
            }
            PlaybookEvent::PlayStart { name, check_mode } => {
                self.pending = None;
                let name = name.trim();
                let mut msg = if name.is_empty() {
                    "PLAY".to_string()
                } else {
                    format!("PLAY [{name}]")
                };
                if *check_mode && self.opts.check_mode_markers {
                    msg.push_str(" [CHECK MODE]");
                }
                self.banner(&mut out, &msg);
            }
            PlaybookEvent::TaskHosts(_) => {}
            PlaybookEvent::NoHostsMatched => {
                self.display(
                    &mut out,
                    Stream::Stdout,
                    "skipping: no hosts matched",
                    Some(C_SKIP),
                );
            }
            PlaybookEvent::TaskStart {
                name,
                kind,
                path,
                check_mode,
            } => {
                let prefix = match kind {
                    TaskKind::Task => "TASK",
                    TaskKind::Handler => "RUNNING HANDLER",
                };
                let check = if *check_mode && self.opts.check_mode_markers {
                    " [CHECK MODE]"
                } else {
                    ""
                };
                self.pending = Some(PendingTask {
                    title: format!("{prefix} [{}]{check}", name.trim()),
                    path: path.clone(),
                });
                if self.opts.display_ok_hosts && self.opts.display_skipped_hosts {
                    self.flush_banner(&mut out);
                }
            }
            PlaybookEvent::Result(r) => self.result(&mut out, r),
            PlaybookEvent::Retrying {
                host,
                task,
                retries_left,
                result,
            } => {
                let mut msg =
                    format!("FAILED - RETRYING: [{host}]: {task} ({retries_left} retries left).");
                let always = flag(result, "_ansible_verbose_always");
                if (self.opts.verbosity > 2 || always) && !flag(result, "_ansible_verbose_override")
                {
                    msg.push_str("Result was: ");
                    msg.push_str(&self.dump(result, always));
                }
                self.display(&mut out, Stream::Stdout, &msg, Some(C_DEBUG));
            }
            PlaybookEvent::Included { file, hosts } => {
                self.flush_banner(&mut out);
                let msg = format!("included: {file} for {}", hosts.join(", "));
                self.display(&mut out, Stream::Stdout, &msg, Some(C_INCLUDED));
            }
            PlaybookEvent::HandlerNotified { handler, host } => {
                if self.opts.verbosity > 1 {
                    let msg = format!("NOTIFIED HANDLER {handler} for {host}");
                    self.display(&mut out, Stream::Stdout, &msg, Some(C_VERBOSE));
                }
            }
            PlaybookEvent::Meta(msg) => {
                if self.opts.verbosity > 1 {
                    self.flush_banner(&mut out);
                    self.display(
                        &mut out,
                        Stream::Stdout,
                        &format!("META: {msg}"),
                        Some(C_VERBOSE),
                    );
                }
            }
            PlaybookEvent::Debug(msg) => {
                self.display(&mut out, Stream::Stdout, msg, Some(C_VERBOSE));
            }
            PlaybookEvent::NoMoreHosts => self.banner(&mut out, "NO MORE HOSTS LEFT"),
            PlaybookEvent::Warning(msg) => self.warning(&mut out, msg),
            PlaybookEvent::Deprecation(msg) => self.deprecation(&mut out, msg),
            PlaybookEvent::Error(msg) => {
                self.display(
                    &mut out,
                    Stream::Stderr,
                    &format!("[ERROR]: {msg}"),
                    Some(C_ERROR),
                );
            }
            PlaybookEvent::Recap(stats) => self.recap(&mut out, stats),
        }
        out
    }

    // ----- display primitives -------------------------------------------

    /// `Display.display`: colour each line, end with exactly one newline.
    fn display(&self, out: &mut Rendered, stream: Stream, msg: &str, color: Option<&str>) {
        let body = msg.strip_suffix('\n').unwrap_or(msg);
        let mut s = match color {
            Some(code) if self.opts.color => stringc(body, code),
            _ => body.to_string(),
        };
        s.push('\n');
        out.push(stream, &s);
    }

    fn colored(&self, text: &str, code: &str) -> String {
        if self.opts.color {
            stringc(text, code)
        } else {
            text.to_string()
        }
    }

    fn banner(&self, out: &mut Rendered, msg: &str) {
        let msg = msg.trim();
        let width = console::measure_text_width(msg);
        let stars = self.opts.columns.saturating_sub(width).max(3);
        self.display(
            out,
            Stream::Stdout,
            &format!("\n{msg} {}", "*".repeat(stars)),
            None,
        );
    }

    fn flush_banner(&mut self, out: &mut Rendered) {
        if let Some(task) = self.pending.take() {
            self.banner(out, &task.title);
            if self.opts.verbosity >= 2 && !task.path.is_empty() {
                self.display(
                    out,
                    Stream::Stdout,
                    &format!("task path: {}", task.path),
                    Some(C_DEBUG),
                );
            }
        }
    }

    fn warning(&mut self, out: &mut Rendered, msg: &str) {
        let line = format!("[WARNING]: {msg}");
        if self.warned.insert(line.clone()) {
            self.display(out, Stream::Stderr, &line, Some(C_WARN));
        }
    }

    fn deprecation(&mut self, out: &mut Rendered, msg: &str) {
        let line = format!("[DEPRECATION WARNING]: {msg}");
        if self.warned.insert(line.clone()) {
            self.display(out, Stream::Stderr, &line, Some(C_DEPRECATE));
        }
    }

    // ----- results ------------------------------------------------------

    fn result(&mut self, out: &mut Rendered, r: &TaskResult) {
        let mut res = r.result.clone();
        let mut status = r.status;
        let debug = is_debug(&r.action);
        if debug && status == ResultStatus::Ok && r.verbosity > self.opts.verbosity {
            // The debug action skips itself below its `verbosity`.
            status = ResultStatus::Skipped;
            res = Map::new();
            res.insert("changed".into(), Value::Bool(false));
            res.insert(
                "skipped_reason".into(),
                "Verbosity threshold not met.".into(),
            );
        }
        let always = flag(&res, "_ansible_verbose_always")
            || (debug && matches!(status, ResultStatus::Ok | ResultStatus::Changed));
        let verbose = (self.opts.verbosity > 0 || always) && !verbose_override(&res, &r.action);
        let item = if r.loop_summary {
            None
        } else {
            r.item.as_ref()
        };
        let item = item.map(|i| {
            if r.no_log {
                "(censored due to no_log)".to_string()
            } else {
                item_label(i)
            }
        });
        let label = match &r.delegate {
            Some(d) => format!("{} -> {d}", r.host),
            None => r.host.clone(),
        };
        if debug {
            clean_debug(&mut res);
        }

        match status {
            ResultStatus::Ok | ResultStatus::Changed => {
                let changed = status == ResultStatus::Changed;
                if changed && r.show_diff && !r.no_log && has_diff(&res) {
                    let text = self.render_diffs(res.get("diff").unwrap_or(&Value::Null));
                    if !text.is_empty() {
                        self.flush_banner(out);
                        self.display(out, Stream::Stdout, &text, None);
                    }
                }
                if !changed && !self.opts.display_ok_hosts {
                    return;
                }
                self.flush_banner(out);
                self.handle_warnings(out, &mut res);
                if r.loop_summary {
                    return;
                }
                let (word, color) = if changed {
                    ("changed", C_CHANGED)
                } else {
                    ("ok", C_OK)
                };
                let mut msg = format!("{word}: [{label}]");
                if let Some(item) = &item {
                    msg.push_str(&format!(" => (item={item})"));
                }
                if verbose {
                    msg.push_str(" => ");
                    msg.push_str(&self.dump(&res, always));
                }
                self.display(out, Stream::Stdout, &msg, Some(color));
            }
            ResultStatus::Skipped => {
                if !self.opts.display_skipped_hosts {
                    return;
                }
                self.flush_banner(out);
                self.handle_warnings(out, &mut res);
                let mut msg = format!("skipping: [{}]", r.host);
                if let Some(item) = &item {
                    // Ansible leaves a space after the item label.
                    msg.push_str(&format!(" => (item={item}) "));
                }
                if r.loop_summary {
                    res.remove("results");
                }
                if verbose {
                    msg.push_str(" => ");
                    msg.push_str(&self.dump(&res, always));
                }
                self.display(out, Stream::Stdout, &msg, Some(C_SKIP));
            }
            ResultStatus::Failed | ResultStatus::Unreachable => {
                self.flush_banner(out);
                if let Some(block) = self.origin_block(r, &res)
                    && self.warned.insert(block.clone())
                {
                    out.push(Stream::Stdout, &block);
                }
                self.handle_warnings(out, &mut res);
                let unreachable = status == ResultStatus::Unreachable;
                let line = if let Some(item) = &item {
                    Some(format!(
                        "failed: [{label}] (item={item}) => {}",
                        self.dump(&res, always)
                    ))
                } else if unreachable {
                    Some(format!(
                        "fatal: [{label}]: UNREACHABLE! => {}",
                        self.dump(&res, always)
                    ))
                } else if r.loop_summary {
                    None
                } else {
                    Some(format!(
                        "fatal: [{label}]: FAILED! => {}",
                        self.dump(&res, always)
                    ))
                };
                if let Some(line) = line {
                    let color = if unreachable && item.is_none() {
                        C_UNREACHABLE
                    } else {
                        C_ERROR
                    };
                    self.display(out, Stream::Stdout, &line, Some(color));
                }
                if r.ignored && item.is_none() {
                    self.display(out, Stream::Stdout, "...ignoring", Some(C_SKIP));
                }
            }
        }
    }

    /// `_dump_results`: the result as sorted JSON, minus what Ansible hides.
    fn dump(&self, res: &Map<String, Value>, always: bool) -> String {
        let mut m = res.clone();
        m.remove("failed");
        m.remove("skipped");
        m.remove("exception");
        if self.opts.verbosity < 3 {
            m.remove("invocation");
            m.remove("diff");
        }
        let mut v = Value::Object(m);
        strip_internal(&mut v);
        if always || self.opts.verbosity > 2 {
            pyjson::pretty(&v)
        } else {
            pyjson::compact(&v)
        }
    }

    /// Prints and removes the result's `warnings` and `deprecations`.
    fn handle_warnings(&mut self, out: &mut Rendered, res: &mut Map<String, Value>) {
        if let Some(Value::Array(ws)) = res.get("warnings")
            && !ws.is_empty()
        {
            let ws = ws.clone();
            res.remove("warnings");
            for w in &ws {
                self.warning(out, &plain(w));
            }
        }
        if let Some(Value::Array(ds)) = res.get("deprecations")
            && !ds.is_empty()
        {
            let ds = ds.clone();
            res.remove("deprecations");
            for d in &ds {
                let msg = match d {
                    Value::Object(o) => {
                        let mut msg = o.get("msg").map(plain).unwrap_or_default();
                        if let Some(v) = o.get("version").filter(|v| !v.is_null()) {
                            msg.push_str(&format!(
                                " This feature will be removed in version {}.",
                                plain(v)
                            ));
                        } else if let Some(v) = o.get("date").filter(|v| !v.is_null()) {
                            msg.push_str(&format!(
                                " This feature will be removed in a release after {}.",
                                plain(v)
                            ));
                        }
                        msg
                    }
                    other => plain(other),
                };
                self.deprecation(out, &msg);
            }
        }
    }

    /// 2.19's `[ERROR]: Task failed: ...` block with the task's origin and
    /// a snippet of the file around it, or `None` without an origin.
    fn origin_block(&self, r: &TaskResult, res: &Map<String, Value>) -> Option<String> {
        let (file, line, col) = r.origin.as_ref()?;
        let msg = res.get("msg").map(plain).filter(|m| !m.is_empty());
        let kind = if r.loop_summary || r.status == ResultStatus::Unreachable {
            ""
        } else if is_action_plugin(&r.action) {
            "Action failed"
        } else {
            "Module failed"
        };
        let head = match (kind, msg) {
            ("", Some(m)) if m.starts_with("Task failed: ") => m,
            ("", Some(m)) => format!("Task failed: {m}"),
            ("", None) => "Task failed".to_string(),
            (k, Some(m)) => format!("Task failed: {k}: {m}"),
            (k, None) => format!("Task failed: {k}"),
        };
        let mut lines = vec![format!("[ERROR]: {head}")];
        lines.push(if *col > 0 {
            format!("Origin: {file}:{line}:{col}")
        } else {
            format!("Origin: {file}:{line}")
        });
        let snippet = source_snippet(file, *line, *col);
        if !snippet.is_empty() {
            lines.push(String::new());
            lines.extend(snippet);
        }
        // A blank line (coloured like the rest) ends the block.
        lines.push(String::new());
        Some(self.colored(&lines.join("\n"), C_ERROR) + "\n")
    }

    /// `_get_diff`: every entry of a `diff` value as Ansible prints it.
    fn render_diffs(&self, diff: &Value) -> String {
        let entries: Vec<&Value> = match diff {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        let mut out = String::new();
        for entry in entries {
            let Value::Object(d) = entry else { continue };
            out.push_str(&self.render_one_diff(d));
        }
        out
    }

    fn render_one_diff(&self, d: &Map<String, Value>) -> String {
        let mut out = String::new();
        let before = d.get("before").map(diff_text);
        let after = d.get("after").map(diff_text);
        let dst_binary =
            d.contains_key("dst_binary") || before.as_ref().is_some_and(|b| b.contains('\0'));
        let src_binary =
            d.contains_key("src_binary") || after.as_ref().is_some_and(|a| a.contains('\0'));
        let dst_larger = d.get("dst_larger").map(plain).or_else(|| {
            before
                .as_ref()
                .filter(|b| b.len() > MAX_DIFF_SIZE)
                .map(|_| MAX_DIFF_SIZE.to_string())
        });
        let src_larger = d.get("src_larger").map(plain).or_else(|| {
            after
                .as_ref()
                .filter(|a| a.len() > MAX_DIFF_SIZE)
                .map(|_| MAX_DIFF_SIZE.to_string())
        });
        if dst_binary {
            out.push_str("diff skipped: destination file appears to be binary\n");
        }
        if src_binary {
            out.push_str("diff skipped: source file appears to be binary\n");
        }
        if let Some(n) = &dst_larger {
            out.push_str(&format!(
                "diff skipped: destination file size is greater than {n}\n"
            ));
        }
        if let Some(n) = &src_larger {
            out.push_str(&format!(
                "diff skipped: source file size is greater than {n}\n"
            ));
        }
        let skipped = dst_binary || src_binary || dst_larger.is_some() || src_larger.is_some();
        if let (Some(before), Some(after), false) = (&before, &after, skipped) {
            let header = |key: &str, name: &str| match d.get(key) {
                Some(Value::Null) | None => name.to_string(),
                Some(h) => format!("{name}: {}", plain(h)),
            };
            let lines = diff::ansible_unified(
                before,
                after,
                &header("before_header", "before"),
                &header("after_header", "after"),
                DIFF_CONTEXT,
            );
            for line in &lines {
                let color = if line.starts_with('+') {
                    Some(C_DIFF_ADD)
                } else if line.starts_with('-') {
                    Some(C_DIFF_REMOVE)
                } else if line.starts_with("@@") {
                    Some(C_DIFF_LINES)
                } else {
                    None
                };
                match color {
                    Some(c) => out.push_str(&self.colored(line, c)),
                    None => out.push_str(line),
                }
            }
            if !lines.is_empty() {
                out.push('\n');
            }
        }
        if let Some(p) = d.get("prepared") {
            out.push_str(&plain(p));
        }
        out
    }

    fn recap(&mut self, out: &mut Rendered, stats: &[(String, HostStats)]) {
        self.pending = None;
        self.banner(out, "PLAY RECAP");
        let mut stats: Vec<&(String, HostStats)> = stats.iter().collect();
        stats.sort_by(|a, b| a.0.cmp(&b.0));
        for (host, s) in stats {
            let host = if self.opts.color {
                let code = if s.failed != 0 || s.unreachable != 0 {
                    C_ERROR
                } else if s.changed != 0 {
                    C_CHANGED
                } else {
                    C_OK
                };
                format!("{:<37}", stringc(host, code))
            } else {
                format!("{host:<26}")
            };
            let fields = [
                ("ok", s.ok, C_OK),
                ("changed", s.changed, C_CHANGED),
                ("unreachable", s.unreachable, C_UNREACHABLE),
                ("failed", s.failed, C_ERROR),
                ("skipped", s.skipped, C_SKIP),
                ("rescued", s.rescued, C_OK),
                ("ignored", s.ignored, C_WARN),
            ];
            let fields: Vec<String> = fields
                .iter()
                .map(|(name, n, code)| {
                    let f = format!("{name}={n:<4}");
                    if *n != 0 { self.colored(&f, code) } else { f }
                })
                .collect();
            self.display(
                out,
                Stream::Stdout,
                &format!("{host} : {}", fields.join(" ")),
                None,
            );
        }
        self.display(out, Stream::Stdout, "", None);
    }
}

/// `stringc`: each line wrapped in the colour on its own.
fn stringc(text: &str, code: &str) -> String {
    text.split('\n')
        .map(|t| format!("\x1b[{code}m{t}\x1b[0m"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn flag(m: &Map<String, Value>, key: &str) -> bool {
    m.get(key) == Some(&Value::Bool(true))
}

fn short_action(action: &str) -> &str {
    action
        .strip_prefix("ansible.builtin.")
        .or_else(|| action.strip_prefix("ansible.legacy."))
        .unwrap_or(action)
}

fn is_debug(action: &str) -> bool {
    short_action(action) == "debug"
}

/// Fact gathering asks not to dump its (huge) result at `-v`.
fn verbose_override(res: &Map<String, Value>, action: &str) -> bool {
    flag(res, "_ansible_verbose_override")
        || matches!(short_action(action), "setup" | "gather_facts")
}

/// Actions that run on the controller only, whose failures 2.19 reports
/// as "Action failed" rather than "Module failed".
fn is_action_plugin(action: &str) -> bool {
    matches!(
        short_action(action),
        "fail"
            | "assert"
            | "debug"
            | "set_fact"
            | "include_vars"
            | "add_host"
            | "group_by"
            | "pause"
            | "wait_for_connection"
            | "set_stats"
            | "validate_argument_spec"
            | "meta"
            | "include_tasks"
            | "import_tasks"
            | "include_role"
            | "import_role"
    )
}

/// What the default callback's `_clean_results` does to `debug` results.
fn clean_debug(res: &mut Map<String, Value>) {
    if res.contains_key("msg") {
        res.retain(|k, _| {
            matches!(
                k.as_str(),
                "msg" | "exception" | "warnings" | "deprecations"
            ) || k.starts_with('_')
        });
    } else {
        for k in ["changed", "failed", "skipped", "invocation", "skip_reason"] {
            res.remove(k);
        }
    }
}

fn has_diff(res: &Map<String, Value>) -> bool {
    match res.get("diff") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// A `before`/`after` value as the text to diff: mappings as indented
/// JSON plus a newline (Ansible's `_serialize_diff`), null as empty.
fn diff_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => pyjson::pretty(v) + "\n",
        other => other.to_string(),
    }
}

/// A value as Python's `str()` shows it in a message.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Removes `_ansible_*` keys at every level (`strip_internal_keys`).
fn strip_internal(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with("_ansible_"));
            m.values_mut().for_each(strip_internal);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_internal),
        _ => {}
    }
}

/// Lines `line - 2 ..= line` of `file`, numbered, and a caret under
/// `col`, as 2.19 prints below `Origin:`. Empty if the file or line can't
/// be read.
fn source_snippet(file: &str, line: usize, col: usize) -> Vec<String> {
    let Ok(bytes) = std::fs::read(file) else {
        return Vec::new();
    };
    let content = text::decode(&bytes);
    let all: Vec<&str> = content.lines().collect();
    if line == 0 || line > all.len() {
        return Vec::new();
    }
    let width = line.to_string().len();
    let first = line.saturating_sub(2).max(1);
    let mut out: Vec<String> = (first..=line)
        .map(|n| format!("{n:>width$} {}", all[n - 1]).trim_end().to_string())
        .collect();
    if col > 0 {
        out.push(format!("{}^ column {col}", " ".repeat(width + col)));
    }
    out
}

/// How Ansible shows a loop item in `(item=...)`: Python's `str()`, so
/// strings as they are and containers as Python literals
/// (`{'k': 'v'}`, `['a', 1]`, `None`, `True`).
pub fn item_label(v: &Value) -> String {
    plain(v)
}

/// Python's `repr()` of a JSON value.
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    repr_into(v, &mut out);
    out
}

fn repr_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                out.push_str(&py_float(f));
            } else {
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => out.push_str(&py_str_repr(s)),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&py_str_repr(k));
                out.push_str(": ");
                repr_into(x, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(float)`: shortest round-trip digits, positional for
/// exponents in `-4..16`, otherwise `1e+16` / `1.5e-05` style.
fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{f:e}");
    let Some((mant, exp)) = sci.split_once('e') else {
        return sci;
    };
    let Ok(exp) = exp.parse::<i32>() else {
        return sci;
    };
    if (-4..16).contains(&exp) {
        let s = f.to_string();
        if s.contains('.') { s } else { s + ".0" }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    }
}

/// Python's `repr(str)`: single quotes unless the text has `'` and no `"`.
fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !py_printable(c) => {
                let cp = u32::from(c);
                if cp < 0x100 {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else if cp < 0x10000 {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// An approximation of Python's `str.isprintable()` for one character:
/// control, format, separator (other than space), surrogate and
/// private-use characters are not printable.
fn py_printable(c: char) -> bool {
    let cp = u32::from(c);
    !matches!(cp,
        0x00..=0x1f
        | 0x7f..=0xa0
        | 0xad
        | 0x600..=0x605
        | 0x61c
        | 0x6dd
        | 0x70f
        | 0x1680
        | 0x180e
        | 0x2000..=0x200f
        | 0x2028..=0x202f
        | 0x205f..=0x2064
        | 0x2066..=0x206f
        | 0x3000
        | 0xe000..=0xf8ff
        | 0xfeff
        | 0xfff9..=0xfffb
        | 0xf0000..=0x10ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn item_labels_match_python_str() {
        assert_eq!(item_label(&json!("x")), "x");
        assert_eq!(item_label(&json!({"k": "v", "n": 1})), "{'k': 'v', 'n': 1}");
        assert_eq!(
            item_label(&json!(["a", 1, null, true, 1.5])),
            "['a', 1, None, True, 1.5]"
        );
        assert_eq!(item_label(&json!(["it's"])), "[\"it's\"]");
        assert_eq!(item_label(&json!(["a'b\"c"])), "['a\\'b\"c']");
        assert_eq!(
            item_label(&json!(["tab\there\n", "é"])),
            "['tab\\there\\n', 'é']"
        );
        assert_eq!(
            item_label(&json!([1e16, 1e-5, 0.0001, 2.0])),
            "[1e+16, 1e-05, 0.0001, 2.0]"
        );
        assert_eq!(item_label(&json!(["\u{7}"])), "['\\x07']");
    }

    #[test]
    fn columns() {
        assert_eq!(HumanOptions::columns_for(None), 79);
        assert_eq!(HumanOptions::columns_for(Some(60)), 79);
        assert_eq!(HumanOptions::columns_for(Some(120)), 119);
    }

    #[test]
    fn stringc_wraps_each_line() {
        assert_eq!(
            stringc("a\nb", "0;32"),
            "\x1b[0;32ma\x1b[0m\n\x1b[0;32mb\x1b[0m"
        );
    }
}
