//! tutti: agentless configuration management over SSH that speaks Ansible.
//!
//! The binary in `main.rs` is thin; this library holds the engine so tests
//! can drive it. Data flows one way: command line → config → inventory →
//! runner → connections → output (see DESIGN.md §1).

pub mod adhoc;
pub mod args;
pub mod cli;
pub mod config;
pub mod config_cmd;
pub mod connection;
pub mod custom_module;
pub mod diagnostic;
pub mod doc_cmd;
pub mod execute;
pub mod expand_path;
pub mod extra_vars;
pub mod inventory;
pub mod inventory_cmd;
pub mod library;
pub mod output;
pub mod playbook;
pub mod playbook_cmd;
pub mod roles;
pub mod runner;
pub mod secret;
pub mod session;
pub mod template;
pub mod vault;
pub mod yaml;
pub mod zipstore;
