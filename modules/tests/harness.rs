//! The harness itself: it must catch modules that break DESIGN.md §3's
//! invariants, or the fixture tests that rely on it prove nothing.

// Test code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use serde_json::json;
use tutti_modules::commands::run::glob_probe;
use tutti_modules::spec::{ModuleSpec, Support};
use tutti_modules::testing::{FakeHost, Reply, args, check_then_apply};
use tutti_modules::{
    Applied, Args, Cmd, Host, HostRead, Module, ModuleError, ParamError, Plan, Prepared,
};

/// A `file`-like module that ensures `/flag` exists, with switchable bugs.
#[derive(Clone, Copy, Default)]
struct Flag {
    /// apply says "not changed" after doing the change.
    lies_about_change: bool,
    /// apply does not actually create the flag.
    forgets_to_write: bool,
}

#[async_trait]
impl Prepared for Flag {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        // FakeHost answers the shared glob probe from its path set.
        if host.probe(&glob_probe("/flag", None)).await?.success() {
            Ok(Plan::in_sync())
        } else {
            Ok(Plan::Change {
                changes: vec!["create /flag".into()],
                diff: Vec::new(),
                result: Default::default(),
            })
        }
    }

    async fn apply(&self, _plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let cmd = if self.forgets_to_write {
            "true"
        } else {
            "touch /flag"
        };
        host.run(&Cmd::script(cmd)).await?;
        Ok(Applied {
            changed: !self.lies_about_change,
            ..Applied::default()
        })
    }
}

impl Module for Flag {
    fn name(&self) -> &'static str {
        "flag"
    }

    fn prepare(&self, _args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        Ok(Box::new(*self))
    }

    fn spec(&self) -> &'static ModuleSpec {
        &FLAG_SPEC
    }
}

const FLAG_SPEC: ModuleSpec = ModuleSpec {
    name: "flag",
    short: "A test module",
    description: "Touches /flag.",
    params: &[],
    check: Support::Full,
    diff: Support::None,
    example: "- flag:\n",
    open: false,
    fields: Vec::new,
};

fn host() -> FakeHost {
    FakeHost::new().on("touch /flag", Reply::ok("").adds("/flag"))
}

#[tokio::test]
async fn accepts_a_correct_module() {
    let host = host();
    let rep = check_then_apply(&Flag::default(), args(json!({})), &host).await;
    assert!(rep.plan.is_change());
    assert!(host.exists("/flag"));
    assert_eq!(rep.apply_calls.len(), 1);
    // Once converged, the next round is in sync and applies nothing.
    let rep = check_then_apply(&Flag::default(), args(json!({})), &host).await;
    assert!(rep.applied.is_none());
}

#[tokio::test]
#[should_panic(expected = "apply reported changed=false")]
async fn catches_apply_that_hides_a_change() {
    let m = Flag {
        lies_about_change: true,
        ..Flag::default()
    };
    check_then_apply(&m, args(json!({})), &host()).await;
}

#[tokio::test]
#[should_panic(expected = "not idempotent")]
async fn catches_a_module_that_does_not_converge() {
    let m = Flag {
        forgets_to_write: true,
        ..Flag::default()
    };
    check_then_apply(&m, args(json!({})), &host()).await;
}
