//! Shared fixtures for the integration tests: each test file does `mod common;`.
//! Owns nothing but the module tree; the loopback sshd fleet lives in `fleet`.

// Every integration test compiles this module on its own and uses only part of it.
#![allow(dead_code, unused_imports)]
// Test scaffolding: a failed setup step should stop the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fleet;

pub use fleet::{Fleet, FleetHost, FleetOptions, closed_port, silent_listener};
pub mod project;
