//! Helpers shared by the `files_*` tests: run a file module through the
//! shared harness against a FakeHost, and read back what it wrote.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use tutti_modules::testing::{self, Expect, FakeHost, HarnessReport, Via};
use tutti_modules::{ModuleError, Plan, find};

/// check, apply, check again, with the harness's invariants, plus: check
/// made no filesystem write (the fs snapshot is unchanged by check).
pub async fn converge(module: &str, args: Value, host: &FakeHost) -> HarnessReport {
    converge_with(module, args, host, Expect::default()).await
}

pub async fn converge_with(
    module: &str,
    args: Value,
    host: &FakeHost,
    expect: Expect,
) -> HarnessReport {
    let m = find(module).expect("module is registered");
    let before = host.fs_paths();
    let before_files: Vec<_> = before.iter().map(|p| host.node(p)).collect();
    // A check on its own must leave the filesystem exactly as it was.
    let plan = testing::check_only(m, testing::args(args.clone()), host)
        .await
        .unwrap_or_else(|e| panic!("{module}: check failed: {e:?}"));
    let after: Vec<_> = host.fs_paths().iter().map(|p| host.node(p)).collect();
    assert_eq!(
        before_files, after,
        "{module}: check changed the filesystem"
    );
    let _ = plan;
    testing::check_then_apply_with(m, testing::args(args), host, expect).await
}

/// Runs check then apply and returns apply's error (or check's).
pub async fn fails(module: &str, args: Value, host: &FakeHost) -> ModuleError {
    let m = find(module).expect("module is registered");
    let prepared = testing::prepare(m, testing::args(args));
    let start = host.calls().len();
    let plan = match prepared.check(host).await {
        Ok(p) => p,
        Err(e) => return e,
    };
    assert!(
        host.calls()[start..].iter().all(|c| c.via == Via::Probe),
        "check ran writes"
    );
    match plan {
        Plan::InSync { .. } => panic!("{module}: expected a failure, got in sync"),
        p => match prepared.apply(p, host).await {
            Ok(a) => panic!("{module}: expected a failure, got {a:?}"),
            Err(e) => e,
        },
    }
}

pub fn content(host: &FakeHost, path: &str) -> Vec<u8> {
    host.file(path)
        .unwrap_or_else(|| panic!("{path} is not a file"))
}

pub fn text(host: &FakeHost, path: &str) -> String {
    String::from_utf8(content(host, path)).expect("utf-8")
}

pub fn msg(e: &ModuleError) -> String {
    e.to_string()
}

pub fn runs(r: &HarnessReport) -> usize {
    r.apply_calls.iter().filter(|c| c.via == Via::Run).count()
}

pub fn probes(r: &HarnessReport) -> usize {
    r.check_calls.len()
}

pub fn fixture(module: &str, name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(module)
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn changed(r: &HarnessReport) -> bool {
    r.plan.is_change()
}

pub fn result_str(r: &HarnessReport, key: &str) -> Value {
    r.result().get(key).cloned().unwrap_or(Value::Null)
}
