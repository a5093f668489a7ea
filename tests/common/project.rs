//! A throwaway project directory (playbooks, inventories, files) and a way
//! to run the real `tutti` binary in it, isolated from the user's HOME and
//! environment.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (creating parent directories).
    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(&p, text).expect("write");
        self
    }

    /// `tutti ARGS` in the project directory.
    pub fn tutti(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tutti"));
        cmd.current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("ANSIBLE_") || k.starts_with("TUTTI_") {
                cmd.env_remove(&key);
            }
        }
        cmd
    }

    /// Runs `tutti playbook -i INVENTORY PLAYBOOK EXTRA...`.
    pub fn playbook(&self, inventory: &str, playbook: &str, extra: &[&str]) -> Run {
        let mut cmd = self.tutti();
        cmd.arg("playbook")
            .arg("-i")
            .arg(self.path(inventory))
            .arg(self.path(playbook));
        cmd.args(extra);
        Run::from(cmd.output().expect("run tutti"))
    }

    /// The same with `--output json`, parsed.
    pub fn playbook_json(
        &self,
        inventory: &str,
        playbook: &str,
        extra: &[&str],
    ) -> (Run, Vec<serde_json::Value>) {
        let mut args = vec!["--output", "json"];
        args.extend_from_slice(extra);
        let run = self.playbook(inventory, playbook, &args);
        let events = run
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        (run, events)
    }
}

/// A finished run.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// stdout with volatile values (times, durations) masked.
    pub fn masked(&self) -> String {
        mask(&self.stdout)
    }

    pub fn both(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// Replaces timestamps and durations with fixed text.
pub fn mask(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = find_any(rest, &["\"start\": \"", "\"end\": \"", "\"delta\": \""]) {
        let (pre, tail) = rest.split_at(i);
        out.push_str(pre);
        let q = tail.find(": \"").map(|q| q + 3).unwrap_or(tail.len());
        out.push_str(&tail[..q]);
        let after = &tail[q..];
        let end = after.find('"').unwrap_or(after.len());
        out.push_str("<masked>");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn find_any(s: &str, needles: &[&str]) -> Option<usize> {
    needles.iter().filter_map(|n| s.find(n)).min()
}

/// Results for one host in JSON events.
pub fn results<'a>(events: &'a [serde_json::Value], host: &str) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|e| e["event"] == "result" && e["host"] == host && e["item"].is_null())
        .collect()
}

/// The recap counters of a host.
pub fn recap<'a>(events: &'a [serde_json::Value], host: &str) -> &'a serde_json::Value {
    let last = events
        .iter()
        .rev()
        .find(|e| e["event"] == "recap")
        .expect("recap event");
    &last["hosts"][host]
}

#[allow(dead_code)]
pub fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}
