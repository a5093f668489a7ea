//! Modules that run commands: `command`, `shell`, `raw`, and `ping`, plus
//! what they share (`run`: the `creates`/`removes` probe, result keys, and
//! the `shlex`-compatible splitter).

pub mod command;
pub mod ping;
pub mod raw;
pub mod run;
pub mod shell;
