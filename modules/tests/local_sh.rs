//! End-to-end checks against a real local `/bin/sh`: the glob probe behind
//! `creates`/`removes`, and that rendered argv and scripts reach the
//! program intact (quoting of spaces, quotes, `$`, globs).

// Test code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command as Proc, Stdio};

use async_trait::async_trait;
use serde_json::json;
use tutti_modules::commands::run::glob_probe;
use tutti_modules::testing::args;
use tutti_modules::{Cmd, Host, HostError, HostRead, Output, find};

/// Runs commands the way an SSH connection does: `sh -c <rendered>`, or
/// the rendered string itself through `sh -c` for raw (there is no other
/// way to run a string locally).
struct LocalSh;

fn run_local(cmd: &Cmd) -> Result<Output, HostError> {
    let mut child = Proc::new("sh")
        .arg("-c")
        .arg(cmd.render())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HostError::Failed(e.to_string()))?;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(cmd.stdin_data().unwrap_or_default())
        .unwrap();
    drop(stdin);
    let out = child
        .wait_with_output()
        .map_err(|e| HostError::Failed(e.to_string()))?;
    Ok(Output {
        rc: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

#[async_trait]
impl HostRead for LocalSh {
    async fn probe(&self, cmd: &Cmd) -> Result<Output, HostError> {
        run_local(cmd)
    }
}

#[async_trait]
impl Host for LocalSh {
    async fn run(&self, cmd: &Cmd) -> Result<Output, HostError> {
        run_local(cmd)
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tutti-modules-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn probe_rc(pattern: &str, dir: Option<&str>) -> i32 {
    LocalSh.probe(&glob_probe(pattern, dir)).await.unwrap().rc
}

#[tokio::test]
async fn glob_probe_expands_globs_and_nothing_else() {
    let dir = scratch("glob");
    let d = dir.to_str().unwrap();
    std::fs::write(dir.join("a b.log"), "").unwrap();
    std::fs::write(dir.join("$(touch pwned)"), "").unwrap();
    std::os::unix::fs::symlink(dir.join("missing"), dir.join("dangling")).unwrap();

    assert_eq!(probe_rc(&format!("{d}/a b.log"), None).await, 0);
    assert_eq!(probe_rc(&format!("{d}/*.log"), None).await, 0);
    assert_eq!(probe_rc(&format!("{d}/a ?.log"), None).await, 0);
    assert_eq!(probe_rc(&format!("{d}/*.txt"), None).await, 1);
    // Spaces do not split the pattern into two words.
    assert_eq!(probe_rc(&format!("{d}/nothing {d}/a b.log"), None).await, 1);
    // Command substitution in the pattern is not run, but matches literally.
    assert_eq!(probe_rc(&format!("{d}/$(touch pwned)"), None).await, 0);
    assert_eq!(probe_rc("$(touch pwned)", Some(d)).await, 0);
    assert!(!dir.join("pwned").exists());
    assert!(!std::path::Path::new("pwned").exists());
    // A dangling symlink counts, as with Python's glob.
    assert_eq!(probe_rc("dangl*", Some(d)).await, 0);
    // Relative to chdir; a missing chdir is rc 2.
    assert_eq!(probe_rc("*.log", Some(d)).await, 0);
    assert_eq!(probe_rc("x", Some(&format!("{d}/nope"))).await, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn command_passes_weird_arguments_literally() {
    let weird = [
        "a b",
        "it's",
        "\"q\"",
        "$HOME",
        "*",
        "; rm -rf /",
        "",
        "back\\slash",
    ];
    let module = find("command").unwrap();
    let argv: Vec<&str> = ["printf", "[%s]\\n"].into_iter().chain(weird).collect();
    // `expand_argument_vars: false`: not even `$HOME` is expanded.
    let prepared = module
        .prepare(args(json!({ "argv": argv, "expand_argument_vars": false })))
        .unwrap();
    let plan = prepared.check(&LocalSh).await.unwrap();
    let applied = prepared.apply(plan, &LocalSh).await.unwrap();
    let expected: Vec<String> = weird.iter().map(|w| format!("[{w}]")).collect();
    assert_eq!(applied.result["stdout_lines"], json!(expected));
}

#[tokio::test]
async fn command_free_form_and_creates_on_a_real_shell() {
    let dir = scratch("creates");
    let d = dir.to_str().unwrap();
    let module = find("command").unwrap();
    let a = args(json!({"_raw_params": "touch 'made it'", "chdir": d, "creates": "made*"}));
    let prepared = module.prepare(a).unwrap();
    let plan = prepared.check(&LocalSh).await.unwrap();
    assert!(plan.is_change());
    let applied = prepared.apply(plan, &LocalSh).await.unwrap();
    assert!(applied.changed && !applied.failed, "{applied:?}");
    assert!(dir.join("made it").exists());
    let again = prepared.check(&LocalSh).await.unwrap();
    assert!(
        matches!(again, tutti_modules::Plan::InSync { .. }),
        "{again:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn shell_stdin_and_executable_on_a_real_shell() {
    let module = find("shell").unwrap();
    let prepared = module
        .prepare(args(
            json!({"cmd": "read x; echo \"got $x\" | tr a-z A-Z", "stdin": "abc"}),
        ))
        .unwrap();
    let applied = prepared
        .apply(prepared.check(&LocalSh).await.unwrap(), &LocalSh)
        .await
        .unwrap();
    assert_eq!(applied.result["stdout"], "GOT ABC");

    let prepared = module
        .prepare(args(json!({"cmd": "echo \"$0\"", "executable": "sh"})))
        .unwrap();
    let applied = prepared
        .apply(prepared.check(&LocalSh).await.unwrap(), &LocalSh)
        .await
        .unwrap();
    assert_eq!(applied.result["stdout"], "sh");
}
