//! Commands built from parts and quoted once, when rendered for a POSIX shell.
//!
//! Nothing in tutti formats a shell string by hand: a module says
//! `Cmd::new("chmod").arg(mode).arg(path)` and the quoting happens in
//! [`Cmd::render`]. The one way to put shell syntax in verbatim is
//! [`Cmd::script`], for the `shell`/`raw` modules (where the user wrote the
//! script) and for probe scripts that are constants in our own source.

use std::fmt;
use std::path::{Path, PathBuf};

/// A command to run on a host: a program with arguments, or a shell script,
/// plus its environment, working directory and stdin.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Cmd {
    body: Body,
    env: Vec<(String, String)>,
    chdir: Option<String>,
    stdin: Option<Vec<u8>>,
    stdin_file: Option<PathBuf>,
    stdout_file: Option<PathBuf>,
    raw: bool,
    light: bool,
    stdin_var: bool,
}

#[derive(Clone, PartialEq, Eq)]
enum Body {
    Argv(Vec<String>),
    Script(String),
}

impl Default for Body {
    fn default() -> Self {
        Body::Argv(Vec::new())
    }
}

impl Cmd {
    /// A program to run with arguments added by [`Cmd::arg`].
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            body: Body::Argv(vec![program.into()]),
            ..Cmd::default()
        }
    }

    /// A command from a complete argument vector (the first element is the program).
    pub fn argv<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            body: Body::Argv(argv.into_iter().map(Into::into).collect()),
            ..Cmd::default()
        }
    }

    /// The same command with another argument vector (environment,
    /// directory and stdin kept).
    pub fn with_argv(mut self, argv: Vec<String>) -> Self {
        self.body = Body::Argv(argv);
        self
    }

    /// A shell script, inserted verbatim. Only for scripts the user wrote
    /// (`shell`, `raw`) or that are constants in tutti's source.
    pub fn script(script: impl Into<String>) -> Self {
        Cmd {
            body: Body::Script(script.into()),
            ..Cmd::default()
        }
    }

    /// Adds one argument; it is quoted when rendered.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        if let Body::Argv(v) = &mut self.body {
            v.push(arg.into());
        }
        self
    }

    /// Adds arguments; each is quoted when rendered.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Body::Argv(v) = &mut self.body {
            v.extend(args.into_iter().map(Into::into));
        }
        self
    }

    /// Sets an environment variable for the command.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the command in this directory (fails if it cannot `cd` there).
    pub fn chdir(mut self, dir: impl Into<String>) -> Self {
        self.chdir = Some(dir.into());
        self
    }

    /// Bytes written to the command's stdin, which is then closed.
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    /// Streams a controller file to the command's stdin (bounded memory,
    /// for uploads of any size).
    pub fn stdin_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.stdin_file = Some(path.into());
        self
    }

    /// Streams the command's stdout into a controller file instead of
    /// keeping it in memory (for downloads of any size).
    pub fn stdout_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.stdout_file = Some(path.into());
        self
    }

    /// The controller file to stream to stdin, if any.
    pub fn stdin_path(&self) -> Option<&Path> {
        self.stdin_file.as_deref()
    }

    /// The controller file stdout goes to, if any.
    pub fn stdout_path(&self) -> Option<&Path> {
        self.stdout_file.as_deref()
    }

    /// Marks the command as `raw`: the connection runs it exactly as rendered,
    /// without wrapping it in `/bin/sh -c` (Ansible's `raw` module).
    pub fn raw(mut self) -> Self {
        self.raw = true;
        self
    }

    /// The data for stdin, if any.
    pub fn stdin_data(&self) -> Option<&[u8]> {
        self.stdin.as_deref()
    }

    /// Whether the command is to be run without a `/bin/sh -c` wrapper.
    pub fn is_raw(&self) -> bool {
        self.raw
    }

    /// Marks a short command of tutti's own (no daemons, no terminal, no
    /// user-written script) that may run in the host's shared shell instead
    /// of a session of its own, as probes do.
    pub fn light(mut self) -> Self {
        self.light = true;
        self
    }

    /// Says the script also takes its stdin from the shell variable
    /// `tutti_in` when that is set. A runner whose command line never
    /// shows in an argv (the shared shell reads it from its own stdin) may
    /// then hand small text over that way: one `printf` builtin on the
    /// target instead of staging the data and starting `cat` to read it.
    pub fn stdin_as_variable(mut self) -> Self {
        self.stdin_var = true;
        self
    }

    /// Whether stdin may come as the variable `tutti_in`
    /// ([`Cmd::stdin_as_variable`]).
    pub fn takes_stdin_variable(&self) -> bool {
        self.stdin_var
    }

    /// Whether the command may share the host's shell ([`Cmd::light`]).
    pub fn is_light(&self) -> bool {
        self.light
    }

    /// The argument vector, when the command is not a script.
    pub fn argv_parts(&self) -> Option<&[String]> {
        match &self.body {
            Body::Argv(v) => Some(v),
            Body::Script(_) => None,
        }
    }

    /// The command as one POSIX `sh` script: `cd -P` (the physical
    /// directory, as Python's `os.chdir` gives Ansible's modules), exported
    /// environment, then the command with every argument quoted.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(dir) = &self.chdir {
            out.push_str("cd -P ");
            out.push_str(&quote(dir));
            out.push_str(" || exit 1; ");
        }
        for (k, v) in &self.env {
            out.push_str("export ");
            out.push_str(&quote_env_name(k));
            out.push('=');
            out.push_str(&quote(v));
            out.push_str("; ");
        }
        match &self.body {
            Body::Argv(argv) => {
                let quoted: Vec<String> = argv.iter().map(|a| quote(a)).collect();
                out.push_str(&quoted.join(" "));
            }
            Body::Script(s) => out.push_str(s),
        }
        out
    }
}

impl Cmd {
    /// The command as code for a shell that is already running (tutti's
    /// shared shell runs it in a subshell): `sh -c SCRIPT NAME ARGS...`
    /// becomes `set -- ARGS...; SCRIPT`, saving the start of another shell;
    /// anything else renders as [`Cmd::render`] does.
    pub fn render_inline(&self) -> String {
        let Body::Argv(argv) = &self.body else {
            return self.render();
        };
        let [sh, dash_c, script, _name, args @ ..] = argv.as_slice() else {
            return self.render();
        };
        if sh != "sh" || dash_c != "-c" {
            return self.render();
        }
        let mut inline = Cmd {
            body: Body::Script(String::new()),
            ..self.clone()
        };
        let mut body = String::from("set --");
        for a in args {
            body.push(' ');
            body.push_str(&quote(a));
        }
        body.push('\n');
        body.push_str(script);
        inline.body = Body::Script(body);
        inline.render()
    }
}

impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // stdin may hold file contents or secrets: show its size only.
        f.debug_struct("Cmd")
            .field("render", &self.render())
            .field("stdin_bytes", &self.stdin.as_ref().map(Vec::len))
            .field("stdin_file", &self.stdin_file)
            .field("stdout_file", &self.stdout_file)
            .finish()
    }
}

/// Quotes one word for a POSIX shell. Words made only of characters that
/// are never special are left bare, so rendered commands stay readable.
pub fn quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        if c == '\'' {
            out.push_str("'\"'\"'");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Environment variable names cannot be quoted; anything that is not a
/// valid name is replaced so it cannot inject syntax.
fn quote_env_name(name: &str) -> String {
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        name.to_string()
    } else {
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("abc/def-1.2"), "abc/def-1.2");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\"'\"'s'");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(quote("a\nb"), "'a\nb'");
    }

    #[test]
    fn inline_rendering_runs_sh_c_scripts_in_the_current_shell() {
        let c = Cmd::new("sh")
            .arg("-c")
            .arg("echo \"$1|$2\"")
            .arg("sh")
            .arg("a b")
            .arg("it's")
            .env("X", "1");
        assert_eq!(
            c.render_inline(),
            "export X=1; set -- 'a b' 'it'\"'\"'s'\necho \"$1|$2\""
        );
        // Same output as the command run on its own.
        let run = |script: String| {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("( {script} )"))
                .output()
                .map(|o| o.stdout)
                .ok()
        };
        assert_eq!(run(c.render_inline()), run(c.render()));
        // Anything else renders as usual.
        let plain = Cmd::new("ls").arg("-l");
        assert_eq!(plain.render_inline(), plain.render());
    }

    #[test]
    fn renders_argv_with_env_and_chdir() {
        let c = Cmd::new("chmod")
            .arg("0644")
            .arg("/tmp/a b")
            .env("LANG", "C")
            .chdir("/srv/x y");
        assert_eq!(
            c.render(),
            "cd -P '/srv/x y' || exit 1; export LANG=C; chmod 0644 '/tmp/a b'"
        );
    }

    #[test]
    fn env_names_cannot_inject() {
        let c = Cmd::new("true").env("A;rm -rf /", "v");
        assert_eq!(c.render(), "export A_rm__rf__=v; true");
    }

    #[test]
    fn scripts_are_verbatim() {
        assert_eq!(
            Cmd::script("echo $HOME | wc -c").render(),
            "echo $HOME | wc -c"
        );
    }
}
