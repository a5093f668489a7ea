//! Fixture tests for `command`, `shell`, `raw` and `ping` on a FakeHost,
//! each through the shared check-then-apply harness where it applies.

// Test code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use tutti_modules::commands::command::Command;
use tutti_modules::commands::ping::Ping;
use tutti_modules::commands::raw::Raw;
use tutti_modules::commands::shell::Shell;
use tutti_modules::testing::{
    Expect, FakeHost, Matcher, Reply, Via, args, check_only, check_then_apply,
    check_then_apply_with, prepare, prepare_err,
};
use tutti_modules::{HostError, ModuleError, Plan, text};

const WOULD_RUN: &str = "Command would have run if not in check mode";

fn keys(v: &serde_json::Map<String, Value>) -> Vec<&str> {
    let mut k: Vec<&str> = v.keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]`, as Python's `str(datetime)`.
fn is_python_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (s.len() == 19 || (s.len() == 26 && b[19] == b'.' && digits(20..26)))
        && digits(0..4)
        && b[4] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && digits(17..19)
}

/// `H:MM:SS[.ffffff]`, as Python's `str(timedelta)` for under a day.
fn is_python_timedelta(s: &str) -> bool {
    let (hms, frac) = s.split_once('.').unwrap_or((s, "000000"));
    let parts: Vec<&str> = hms.split(':').collect();
    parts.len() == 3
        && parts[1].len() == 2
        && parts[2].len() == 2
        && frac.len() == 6
        && s.chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '.')
}

// ---------------------------------------------------------------- command

#[tokio::test]
async fn command_free_form_runs_argv_without_a_shell() {
    let host = FakeHost::new().on("ls -l /tmp", Reply::ok("total 0\nfile\n"));
    let rep = check_then_apply(&Command, args(json!({"_raw_params": "ls -l /tmp"})), &host).await;
    assert_eq!(
        rep.plan,
        Plan::Unpredictable {
            reason: WOULD_RUN.into()
        }
    );
    assert!(rep.check_calls.is_empty(), "no guard, so no probe");
    let runs = host.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].cmd.argv_parts().unwrap(),
        ["ls", "-l", "/tmp"].map(String::from)
    );
    assert!(!runs[0].cmd.is_raw());

    let a = rep.applied.unwrap();
    assert!(a.changed && !a.failed && a.msg.is_none());
    let r = &a.result;
    assert_eq!(
        keys(r),
        [
            "changed",
            "cmd",
            "delta",
            "end",
            "msg",
            "rc",
            "start",
            "stderr",
            "stderr_lines",
            "stdout",
            "stdout_lines"
        ]
    );
    assert_eq!(r["cmd"], json!(["ls", "-l", "/tmp"]));
    assert_eq!(r["rc"], 0);
    assert_eq!(r["stdout"], "total 0\nfile");
    assert_eq!(r["stdout_lines"], json!(["total 0", "file"]));
    assert_eq!(r["stderr"], "");
    assert_eq!(r["stderr_lines"], json!([]));
    assert_eq!(r["msg"], "");
    assert_eq!(r["changed"], true);
    assert!(
        is_python_datetime(r["start"].as_str().unwrap()),
        "{}",
        r["start"]
    );
    assert!(
        is_python_datetime(r["end"].as_str().unwrap()),
        "{}",
        r["end"]
    );
    assert!(
        is_python_timedelta(r["delta"].as_str().unwrap()),
        "{}",
        r["delta"]
    );
}

#[tokio::test]
async fn command_cmd_and_argv_are_the_same_command() {
    for a in [
        json!({"cmd": "echo 'a b'"}),
        json!({"argv": ["echo", "a b"]}),
        json!({"_raw_params": "echo \"a b\""}),
        json!({"_raw_params": "", "cmd": "echo a\\ b"}),
    ] {
        let host = FakeHost::new();
        let rep = check_then_apply(&Command, args(a.clone()), &host).await;
        assert_eq!(host.runs()[0].rendered, "echo 'a b'", "{a}");
        assert_eq!(rep.result()["cmd"], json!(["echo", "a b"]), "{a}");
    }
}

#[tokio::test]
async fn command_quotes_weird_arguments_and_without_expansion_keeps_them() {
    let host = FakeHost::new();
    let line = r#"printf "%s|" "a b" 'it'"'"'s' $HOME '*' "; rm -rf /" "" "\"q\"""#;
    let a = args(json!({ "_raw_params": line, "expand_argument_vars": false }));
    check_then_apply(&Command, a, &host).await;
    let run = &host.runs()[0];
    assert_eq!(
        run.cmd.argv_parts().unwrap(),
        [
            "printf",
            "%s|",
            "a b",
            "it's",
            "$HOME",
            "*",
            "; rm -rf /",
            "",
            "\"q\""
        ]
        .map(String::from)
    );
    assert_eq!(
        run.rendered,
        r#"printf '%s|' 'a b' 'it'"'"'s' '$HOME' '*' '; rm -rf /' '' '"q"'"#
    );
}

#[tokio::test]
async fn command_chdir_is_part_of_the_command() {
    let host = FakeHost::new();
    check_then_apply(
        &Command,
        args(json!({"cmd": "make", "chdir": "/srv/my app"})),
        &host,
    )
    .await;
    assert_eq!(
        host.runs()[0].rendered,
        "cd -P '/srv/my app' || exit 1; make"
    );
}

#[tokio::test]
async fn command_creates_existing_path_is_in_sync_without_running() {
    let host = FakeHost::new().with_path("/etc/done");
    let rep = check_then_apply(
        &Command,
        args(json!({"cmd": "touch /etc/done", "creates": "/etc/done"})),
        &host,
    )
    .await;
    let Plan::InSync { result: r } = &rep.plan else {
        panic!("{:?}", rep.plan)
    };
    assert!(rep.applied.is_none());
    assert!(host.runs().is_empty());
    assert_eq!(rep.check_calls.len(), 1);
    assert_eq!(rep.check_calls[0].via, Via::Probe);
    assert_eq!(r["msg"], "Did not run command since '/etc/done' exists");
    assert_eq!(r["stdout"], "skipped, since /etc/done exists");
    assert_eq!(
        r["stdout_lines"],
        json!(["skipped, since /etc/done exists"])
    );
    assert_eq!(r["rc"], 0);
    assert_eq!(r["changed"], false);
    assert_eq!(r["cmd"], json!(["touch", "/etc/done"]));
    assert_eq!(r["start"], Value::Null);
    assert_eq!(r["delta"], Value::Null);
    assert_eq!(r["stderr_lines"], json!([]));
}

#[tokio::test]
async fn command_creates_missing_path_plans_a_change_then_converges() {
    let host = FakeHost::new().on(
        Matcher::prefix("tar"),
        Reply::ok("").adds("/opt/app/bin/app"),
    );
    let rep = check_then_apply(
        &Command,
        args(json!({"cmd": "tar xf app.tgz -C /opt/app", "creates": "/opt/app/bin/*"})),
        &host,
    )
    .await;
    let Plan::Change {
        changes, result, ..
    } = &rep.plan
    else {
        panic!("{:?}", rep.plan)
    };
    assert_eq!(changes, &[WOULD_RUN.to_string()]);
    // What check mode reports: changed, rc 0, and Ansible's message.
    assert_eq!(result["msg"], WOULD_RUN);
    assert_eq!(result["changed"], true);
    assert_eq!(result["rc"], 0);
    assert!(rep.applied.unwrap().changed);
    assert!(matches!(rep.second_plan, Plan::InSync { .. }));
}

#[tokio::test]
async fn command_creates_is_relative_to_chdir_and_globs() {
    let host = FakeHost::new().with_path("/srv/app/build/out-1.2.tar");
    let rep = check_then_apply(
        &Command,
        args(json!({"cmd": "make dist", "chdir": "/srv/app", "creates": "build/out-*.tar"})),
        &host,
    )
    .await;
    assert!(matches!(rep.plan, Plan::InSync { .. }), "{:?}", rep.plan);
    let rep = check_then_apply_with(
        &Command,
        args(json!({"cmd": "make dist", "chdir": "/srv/app", "creates": "build/*.zip"})),
        &host,
        Expect { idempotent: false },
    )
    .await;
    assert!(rep.plan.is_change());
    assert!(!matches!(rep.second_plan, Plan::InSync { .. }));
}

#[tokio::test]
async fn command_missing_chdir_fails_check_like_ansible() {
    let host = FakeHost::new();
    let err = check_only(
        &Command,
        args(json!({"cmd": "ls", "chdir": "/nope", "creates": "x"})),
        &host,
    )
    .await
    .unwrap_err();
    let ModuleError::Failed { msg, result } = err else {
        panic!("{err:?}")
    };
    assert_eq!(msg, "Unable to change directory before execution.");
    assert!(result["stderr"].as_str().unwrap().contains("/nope"));
}

#[tokio::test]
async fn command_removes() {
    // Present: run, and the run removes it.
    let host = FakeHost::new()
        .with_path("/tmp/lock")
        .on(Matcher::prefix("rm"), Reply::ok("").removes("/tmp/lock"));
    let rep = check_then_apply(
        &Command,
        args(json!({"cmd": "rm /tmp/lock", "removes": "/tmp/lo*"})),
        &host,
    )
    .await;
    assert!(rep.plan.is_change());
    assert!(!host.exists("/tmp/lock"));
    let Plan::InSync { result } = &rep.second_plan else {
        panic!("{:?}", rep.second_plan)
    };
    assert_eq!(
        result["msg"],
        "Did not run command since '/tmp/lo*' does not exist"
    );
    assert_eq!(result["stdout"], "skipped, since /tmp/lo* does not exist");
}

#[tokio::test]
async fn command_creates_wins_over_removes() {
    let host = FakeHost::new().with_path("/a");
    let rep = check_then_apply(
        &Command,
        args(json!({"cmd": "x", "creates": "/a", "removes": "/a"})),
        &host,
    )
    .await;
    let Plan::InSync { result } = &rep.plan else {
        panic!()
    };
    assert_eq!(result["msg"], "Did not run command since '/a' exists");
}

#[tokio::test]
async fn command_stdin_gets_a_newline_unless_told_not_to() {
    let host = FakeHost::new();
    check_then_apply(
        &Command,
        args(json!({"cmd": "cat", "stdin": "hello"})),
        &host,
    )
    .await;
    check_then_apply(
        &Command,
        args(json!({"cmd": "cat", "stdin": "hello", "stdin_add_newline": "no"})),
        &host,
    )
    .await;
    check_then_apply(&Command, args(json!({"cmd": "cat"})), &host).await;
    let runs = host.runs();
    assert_eq!(runs[0].cmd.stdin_data(), Some(&b"hello\n"[..]));
    assert_eq!(runs[1].cmd.stdin_data(), Some(&b"hello"[..]));
    assert_eq!(runs[2].cmd.stdin_data(), None);
}

#[tokio::test]
async fn command_non_zero_rc_fails_with_all_keys() {
    let host = FakeHost::new().on("false", Reply::output(2, "partial\n", "oops\n"));
    let rep = check_then_apply(&Command, args(json!({"cmd": "false"})), &host).await;
    let a = rep.applied.unwrap();
    assert!(a.failed && a.changed);
    assert_eq!(a.msg.as_deref(), Some("non-zero return code"));
    assert_eq!(a.result["msg"], "non-zero return code");
    assert_eq!(a.result["rc"], 2);
    assert_eq!(a.result["stdout"], "partial");
    assert_eq!(a.result["stderr"], "oops");
    assert_eq!(a.result["stderr_lines"], json!(["oops"]));
    assert!(a.result.contains_key("delta"));
}

#[tokio::test]
async fn command_output_that_is_not_utf8_round_trips() {
    let bytes = b"caf\xc3\xa9 \xff\xfe\x80 end".to_vec();
    let mut with_nl = bytes.clone();
    with_nl.extend_from_slice(b"\r\n\n");
    let host = FakeHost::new().on("cat blob", Reply::ok(with_nl.clone()));
    let rep = check_then_apply(&Command, args(json!({"cmd": "cat blob"})), &host).await;
    let r = rep.result();
    assert_eq!(text::encode(r["stdout"].as_str().unwrap()), bytes);
    assert_eq!(text::encode(r["stdout_lines"][0].as_str().unwrap()), bytes);
    // Without stripping, the trailing line ends survive too.
    let rep = check_then_apply(
        &Command,
        args(json!({"cmd": "cat blob", "strip_empty_ends": false})),
        &host,
    )
    .await;
    assert_eq!(
        text::encode(rep.result()["stdout"].as_str().unwrap()),
        with_nl
    );
}

#[tokio::test]
async fn command_unreachable_host_is_a_host_error() {
    let down = HostError::Unreachable("ssh: connection refused".into());
    let host = FakeHost::new().down(down.clone());
    let p = prepare(&Command, args(json!({"cmd": "true"})));
    let plan = p.check(&host).await.unwrap();
    assert_eq!(
        p.apply(plan, &host).await.unwrap_err(),
        ModuleError::Host(down.clone())
    );
    let err = check_only(
        &Command,
        args(json!({"cmd": "true", "creates": "/x"})),
        &host,
    )
    .await
    .unwrap_err();
    assert_eq!(err, ModuleError::Host(down));
    let timeout = HostError::Timeout(std::time::Duration::from_secs(5));
    let host = FakeHost::new().on("sleep 9", Reply::error(timeout.clone()));
    let p = prepare(&Command, args(json!({"cmd": "sleep 9"})));
    let plan = p.check(&host).await.unwrap();
    assert_eq!(
        p.apply(plan, &host).await.unwrap_err(),
        ModuleError::Host(timeout)
    );
}

#[test]
fn command_parameter_errors() {
    let e = prepare_err(&Command, args(json!({"cmd": "ls", "bogus": 1})));
    assert_eq!(e.param.as_deref(), Some("bogus"));
    assert_eq!(
        e.msg,
        "Unsupported parameters for (command) module: bogus. Supported parameters include: \
         _raw_params, argv, chdir, cmd, creates, executable, expand_argument_vars, removes, \
         stdin, stdin_add_newline, strip_empty_ends."
    );
    let e = prepare_err(&Command, args(json!({"cmd": "ls", "argv": ["ls"]})));
    assert_eq!(
        e.msg,
        "parameters are mutually exclusive: _raw_params|cmd|argv"
    );
    let e = prepare_err(&Command, args(json!({"_raw_params": "ls", "argv": ["ls"]})));
    assert_eq!(
        e.msg,
        "parameters are mutually exclusive: _raw_params|cmd|argv"
    );
    let e = prepare_err(&Command, args(json!({"_raw_params": "ls", "cmd": "ls"})));
    assert!(
        e.msg.starts_with("The 'cmd' argument cannot be used"),
        "{}",
        e.msg
    );
    // No command parameter at all is Ansible's required_one_of message;
    // an empty one is "no command given".
    for a in [json!({}), json!({"chdir": "/"})] {
        assert_eq!(
            prepare_err(&Command, args(a)).msg,
            "one of the following is required: _raw_params, cmd, argv"
        );
    }
    for a in [json!({"_raw_params": "  "}), json!({"argv": []})] {
        assert_eq!(prepare_err(&Command, args(a)).msg, "no command given");
    }
    let e = prepare_err(&Command, args(json!({"cmd": "echo 'unclosed"})));
    assert!(e.msg.contains("No closing quotation"), "{}", e.msg);
    let e = prepare_err(
        &Command,
        args(json!({"cmd": "ls", "strip_empty_ends": "maybe"})),
    );
    assert!(e.msg.contains("not a valid boolean"), "{}", e.msg);
    // Accepted for compatibility.
    prepare(
        &Command,
        args(json!({"cmd": "ls", "expand_argument_vars": true, "executable": "/bin/bash"})),
    );
}

// ------------------------------------------------------------------ shell

#[tokio::test]
async fn shell_runs_the_script_verbatim() {
    let script = "cat /etc/passwd | grep -c $USER > /tmp/n; echo *";
    let host = FakeHost::new();
    let rep = check_then_apply(&Shell, args(json!({ "_raw_params": script })), &host).await;
    assert_eq!(
        rep.plan,
        Plan::Unpredictable {
            reason: WOULD_RUN.into()
        }
    );
    let run = &host.runs()[0];
    assert_eq!(run.rendered, script);
    assert!(run.cmd.argv_parts().is_none());
    assert!(!run.cmd.is_raw(), "the connection wraps shell scripts");
    assert_eq!(rep.result()["cmd"], script);
}

#[tokio::test]
async fn shell_executable_gets_the_script_as_one_argument() {
    let host = FakeHost::new();
    check_then_apply(
        &Shell,
        args(
            json!({"cmd": "echo ${BASH_VERSION} 'x'", "executable": "/bin/bash", "chdir": "/tmp"}),
        ),
        &host,
    )
    .await;
    let run = &host.runs()[0];
    assert_eq!(
        run.cmd.argv_parts().unwrap(),
        ["/bin/bash", "-c", "echo ${BASH_VERSION} 'x'"].map(String::from)
    );
    assert_eq!(
        run.rendered,
        r#"cd -P /tmp || exit 1; /bin/bash -c 'echo ${BASH_VERSION} '"'"'x'"'"''"#
    );
}

#[tokio::test]
async fn shell_creates_removes_and_stdin() {
    let host = FakeHost::new().with_path("/var/lib/app/.installed").on(
        Matcher::contains("install.sh"),
        Reply::ok("done\n").adds("/opt/x"),
    );
    let rep = check_then_apply(
        &Shell,
        args(json!({"cmd": "./install.sh", "creates": "/var/lib/app/.installed"})),
        &host,
    )
    .await;
    assert!(matches!(rep.plan, Plan::InSync { .. }));
    assert_eq!(rep.result()["cmd"], "./install.sh");
    let rep = check_then_apply(
        &Shell,
        args(json!({"cmd": "./install.sh | tee log", "creates": "/opt/x", "stdin": "y"})),
        &host,
    )
    .await;
    assert!(rep.plan.is_change());
    assert_eq!(rep.result()["stdout"], "done");
    assert_eq!(host.runs()[0].cmd.stdin_data(), Some(&b"y\n"[..]));
}

#[tokio::test]
async fn shell_non_zero_rc() {
    let host = FakeHost::new().default_reply(Reply::output(1, "", "boom\n"));
    let rep = check_then_apply(&Shell, args(json!({"cmd": "exit 1"})), &host).await;
    let a = rep.applied.unwrap();
    assert!(a.failed);
    assert_eq!(a.result["msg"], "non-zero return code");
    assert_eq!(a.result["rc"], 1);
}

#[test]
fn shell_parameter_errors() {
    let e = prepare_err(&Shell, args(json!({"cmd": "ls", "argv": ["ls"]})));
    assert_eq!(
        e.msg,
        "Unsupported parameters for (shell) module: argv. Supported parameters include: \
         _raw_params, chdir, cmd, creates, executable, removes, stdin, stdin_add_newline, \
         strip_empty_ends."
    );
    assert_eq!(prepare_err(&Shell, args(json!({}))).msg, "no command given");
    let e = prepare_err(
        &Shell,
        args(json!({"cmd": "ls", "expand_argument_vars": false})),
    );
    assert_eq!(
        e.msg,
        "Unsupported parameters for (shell) module: expand_argument_vars"
    );
    let e = prepare_err(&Shell, args(json!({"_raw_params": "a", "cmd": "b"})));
    assert_eq!(e.param.as_deref(), Some("cmd"));
}

// -------------------------------------------------------------------- raw

#[tokio::test]
async fn raw_is_not_wrapped_and_not_checked() {
    let host = FakeHost::new().on(Matcher::custom(|c| c.is_raw()), Reply::ok("Python 3.12\n"));
    let rep = check_then_apply(
        &Raw,
        args(json!({"_raw_params": "python3 --version || apt-get install -y python3"})),
        &host,
    )
    .await;
    assert!(matches!(rep.plan, Plan::Unpredictable { .. }));
    assert!(rep.check_calls.is_empty());
    let run = &host.runs()[0];
    assert!(run.cmd.is_raw());
    assert_eq!(
        run.rendered,
        "python3 --version || apt-get install -y python3"
    );
    let a = rep.applied.unwrap();
    assert!(a.changed && !a.failed);
    assert_eq!(
        keys(&a.result),
        [
            "changed",
            "rc",
            "stderr",
            "stderr_lines",
            "stdout",
            "stdout_lines"
        ]
    );
    // raw reports output exactly as received.
    assert_eq!(a.result["stdout"], "Python 3.12\n");
    assert_eq!(a.result["stdout_lines"], json!(["Python 3.12"]));
}

#[tokio::test]
async fn raw_executable_and_failure() {
    let host = FakeHost::new().default_reply(Reply::output(127, "", "not found\n"));
    let rep = check_then_apply(
        &Raw,
        args(json!({"_raw_params": "echo $0", "executable": "/bin/bash"})),
        &host,
    )
    .await;
    let run = &host.runs()[0];
    assert!(run.cmd.is_raw());
    assert_eq!(run.rendered, "/bin/bash -c 'echo $0'");
    let a = rep.applied.unwrap();
    assert!(a.failed && a.changed);
    assert_eq!(a.msg.as_deref(), Some("non-zero return code"));
    assert_eq!(a.result["msg"], "non-zero return code");
    assert_eq!(a.result["rc"], 127);
}

#[test]
fn raw_parameter_errors() {
    assert_eq!(prepare_err(&Raw, args(json!({}))).msg, "no command given");
    let e = prepare_err(&Raw, args(json!({"_raw_params": "x", "chdir": "/"})));
    assert_eq!(
        e.msg,
        "Unsupported parameters for (raw) module: chdir. Supported parameters include: \
         _raw_params, executable."
    );
}

// ------------------------------------------------------------------- ping

#[tokio::test]
async fn ping_answers_pong_after_proving_the_host_runs_commands() {
    let host = FakeHost::new();
    let rep = check_then_apply(&Ping, args(json!({})), &host).await;
    let Plan::InSync { result } = &rep.plan else {
        panic!("{:?}", rep.plan)
    };
    assert_eq!(result, json!({"ping": "pong"}).as_object().unwrap());
    assert_eq!(rep.check_calls.len(), 1);
    assert_eq!(rep.check_calls[0].via, Via::Probe);
    assert!(host.runs().is_empty());

    let rep = check_then_apply(&Ping, args(json!({"data": 42})), &host).await;
    assert_eq!(rep.result()["ping"], "42");
}

#[tokio::test]
async fn ping_failures() {
    let host = FakeHost::new();
    let err = check_only(&Ping, args(json!({"data": "crash"})), &host)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "boom");

    let host = FakeHost::new().down(HostError::Unreachable("no route to host".into()));
    let err = check_only(&Ping, args(json!({})), &host).await.unwrap_err();
    assert_eq!(
        err,
        ModuleError::Host(HostError::Unreachable("no route to host".into()))
    );

    let host = FakeHost::new().default_reply(Reply::output(126, "", "permission denied\n"));
    let err = check_only(&Ping, args(json!({})), &host).await.unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[test]
fn ping_parameter_errors() {
    let e = prepare_err(&Ping, args(json!({"date": "x"})));
    assert_eq!(
        e.msg,
        "Unsupported parameters for (ping) module: date. Supported parameters include: data."
    );
}

// ----------------------------------------------------------------- harness

#[tokio::test]
async fn every_builtin_passes_the_harness_on_a_quiet_host() {
    // The modules of this file; other modules have their own harness cases.
    let cases = [
        ("command", json!({"_raw_params": "true"})),
        ("ping", json!({})),
        ("raw", json!({"_raw_params": "true"})),
        ("shell", json!({"_raw_params": "true"})),
    ];
    for (name, a) in cases {
        let m = tutti_modules::find(name).expect("registered");
        let host = FakeHost::new();
        check_then_apply(m, args(a), &host).await;
    }
}

#[tokio::test]
async fn command_failing_because_chdir_is_missing_says_so() {
    let host = FakeHost::new().on(
        Matcher::contains("echo"),
        Reply::output(1, "", "sh: 1: cd: can't cd to /nope\n"),
    );
    let p = prepare(&Command, args(json!({"cmd": "echo", "chdir": "/nope"})));
    let plan = p.check(&host).await.unwrap();
    let err = p.apply(plan, &host).await.unwrap_err();
    let ModuleError::Failed { msg, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        msg,
        "Unable to change directory before execution: [Errno 2] No such file or directory: '/nope'"
    );
}
