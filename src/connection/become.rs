//! Privilege escalation with sudo: wrapping a command, and watching its
//! output for the password prompt and the success marker.
//!
//! The password never appears on a command line: sudo is told to read it
//! from stdin (`-S`) after printing a prompt that carries a random key, and
//! we send it only when that prompt is seen. A marker line with the same
//! key, echoed by the wrapped shell, proves the escalation worked and is
//! removed from the output.

use crate::secret::Secret;
use tutti_modules::quote;

/// How to escalate for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Become {
    pub user: String,
    pub method: Method,
    /// Extra flags; Ansible's default for sudo is `-H -S -n`.
    pub flags: Option<String>,
    pub password: Option<Secret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Sudo,
    /// `su USER -c ...`. su reads a password from a terminal only, so with
    /// a password SSH runs it once on a pseudo-terminal and keeps the shell
    /// it gives (`connection::ssh::su`); without one it wraps each command
    /// like sudo.
    Su,
}

impl Method {
    /// Parses `become_method` (`sudo`, `su`, and their FQCNs).
    pub fn parse(name: &str) -> Option<Method> {
        match name.trim() {
            "sudo" | "ansible.builtin.sudo" => Some(Method::Sudo),
            "su" | "ansible.builtin.su" => Some(Method::Su),
            _ => None,
        }
    }
}

impl Become {
    pub fn sudo(user: impl Into<String>) -> Self {
        Become {
            user: user.into(),
            method: Method::Sudo,
            flags: None,
            password: None,
        }
    }
}

/// The random key shared by the prompt and the success marker.
pub fn new_key() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..24)
        .map(|_| {
            let n: u8 = rng.random_range(0..26);
            char::from(b'a' + n)
        })
        .collect()
}

/// The prompt sudo prints before reading the password.
pub fn prompt(key: &str) -> String {
    format!("[sudo via tutti, key={key}] password:")
}

/// The line the wrapped shell prints once escalation succeeded.
pub fn marker(key: &str) -> String {
    format!("BECOME-SUCCESS-{key}")
}

/// Wraps a rendered command (a POSIX script) so it runs as `b.user`.
pub fn wrap(script: &str, b: &Become, key: &str) -> String {
    let inner = format!("echo {}; {}", marker(key), script);
    if b.method == Method::Su {
        // Ansible's su: `su [flags] USER -c '/bin/sh -c ...'`.
        let mut out = String::from("su ");
        if let Some(f) = b.flags.as_deref().filter(|f| !f.trim().is_empty()) {
            out.push_str(f.trim());
            out.push(' ');
        }
        out.push_str(&quote(&b.user));
        out.push_str(" -c ");
        out.push_str(&quote(&format!("/bin/sh -c {}", quote(&inner))));
        return out;
    }
    let mut flags = b.flags.clone().unwrap_or_else(|| "-H -S -n".to_string());
    if b.password.is_some() {
        // `-n` forbids prompting; with a password we must let sudo prompt.
        flags = flags
            .split_whitespace()
            .filter(|f| *f != "-n")
            .collect::<Vec<_>>()
            .join(" ");
    }
    let mut out = String::from("sudo ");
    if !flags.is_empty() {
        out.push_str(&flags);
        out.push(' ');
    }
    if b.password.is_some() {
        out.push_str("-p ");
        out.push_str(&quote(&prompt(key)));
        out.push(' ');
    }
    out.push_str("-u ");
    out.push_str(&quote(&b.user));
    out.push_str(" /bin/sh -c ");
    out.push_str(&quote(&inner));
    out
}

/// What the watcher wants the caller to do after new output arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Keep reading.
    Wait,
    /// Write the password line to stdin, then keep reading.
    SendPassword,
    /// Escalation succeeded: send the command's own stdin now.
    Escalated,
    /// Escalation failed with this message.
    Failed(String),
}

/// Watches the first output of a wrapped command.
#[derive(Debug)]
pub struct Watcher {
    prompt: String,
    marker: String,
    has_password: bool,
    sent_password: bool,
    done: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Watcher {
    pub fn new(key: &str, has_password: bool) -> Self {
        Watcher {
            prompt: prompt(key),
            marker: marker(key),
            has_password,
            sent_password: false,
            done: false,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// Whether the marker has been seen (the rest is the command's output).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Feeds output seen before escalation finished; returns what to do.
    pub fn feed(&mut self, stdout: &[u8], stderr: &[u8]) -> Step {
        self.stdout.extend_from_slice(stdout);
        self.stderr.extend_from_slice(stderr);
        let out = String::from_utf8_lossy(&self.stdout);
        if out.contains(&self.marker) {
            self.done = true;
            return Step::Escalated;
        }
        let err = String::from_utf8_lossy(&self.stderr);
        if err.contains("Sorry, try again") || err.contains("incorrect password attempt") {
            return Step::Failed("Incorrect sudo password".to_string());
        }
        if err.contains("a password is required") {
            return Step::Failed("Missing sudo password".to_string());
        }
        let prompts = err.matches(self.prompt.as_str()).count();
        if prompts > 0 && !self.sent_password {
            if !self.has_password {
                return Step::Failed("Missing sudo password".to_string());
            }
            self.sent_password = true;
            return Step::SendPassword;
        }
        if prompts > 1 {
            return Step::Failed("Incorrect sudo password".to_string());
        }
        Step::Wait
    }

    /// The output the command itself produced after the marker, with the
    /// marker line and any prompt removed. Call once escalation is done.
    pub fn take_output(&mut self) -> (Vec<u8>, Vec<u8>) {
        let stdout = std::mem::take(&mut self.stdout);
        let stderr = std::mem::take(&mut self.stderr);
        let marker_line = format!("{}\n", self.marker);
        let stdout = match find(&stdout, marker_line.as_bytes()) {
            Some(i) => stdout[i + marker_line.len()..].to_vec(),
            None => stdout,
        };
        let stderr = match find(&stderr, self.prompt.as_bytes()) {
            Some(i) => {
                let rest = &stderr[i + self.prompt.len()..];
                let rest = rest.strip_prefix(b"\n").unwrap_or(rest);
                let mut kept = stderr[..i].to_vec();
                kept.extend_from_slice(rest);
                kept
            }
            None => stderr,
        };
        (stdout, stderr)
    }

    /// Everything seen so far, for an error message.
    pub fn seen(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&self.stderr));
        s
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_with_su() {
        let mut b = Become::sudo("app");
        b.method = Method::Su;
        b.flags = Some("-s /bin/sh".into());
        assert_eq!(
            wrap("id -un", &b, "k"),
            "su -s /bin/sh app -c '/bin/sh -c '\"'\"'echo BECOME-SUCCESS-k; id -un'\"'\"''"
        );
    }

    #[test]
    fn wraps_without_password() {
        let b = Become::sudo("root");
        assert_eq!(
            wrap("id -u", &b, "abc"),
            "sudo -H -S -n -u root /bin/sh -c 'echo BECOME-SUCCESS-abc; id -u'"
        );
    }

    #[test]
    fn wraps_with_password_and_never_shows_it() {
        let mut b = Become::sudo("app user");
        b.password = Some(Secret::new("s3cret"));
        let w = wrap("echo 'x'", &b, "k");
        assert_eq!(
            w,
            "sudo -H -S -p '[sudo via tutti, key=k] password:' -u 'app user' /bin/sh -c 'echo BECOME-SUCCESS-k; echo '\"'\"'x'\"'\"''"
        );
        assert!(!w.contains("s3cret"));
    }

    #[test]
    fn watcher_sends_password_on_prompt_then_sees_marker() {
        let mut w = Watcher::new("k", true);
        assert_eq!(
            w.feed(b"", b"[sudo via tutti, key=k] password:"),
            Step::SendPassword
        );
        assert_eq!(w.feed(b"", b""), Step::Wait);
        assert_eq!(w.feed(b"BECOME-SUCCESS-k\nhello\n", b""), Step::Escalated);
        let (out, err) = w.take_output();
        assert_eq!(out, b"hello\n");
        assert_eq!(err, b"");
    }

    #[test]
    fn watcher_reports_wrong_and_missing_passwords() {
        let mut w = Watcher::new("k", true);
        w.feed(b"", b"[sudo via tutti, key=k] password:");
        assert_eq!(
            w.feed(b"", b"Sorry, try again.\n"),
            Step::Failed("Incorrect sudo password".into())
        );
        let mut w = Watcher::new("k", false);
        assert_eq!(
            w.feed(b"", b"sudo: a password is required\n"),
            Step::Failed("Missing sudo password".into())
        );
    }
}
