//! Fact gathering: the `setup` module (Ansible's `setup`/`gather_facts`).
//!
//! One constant POSIX `sh` probe ([`probe`]) reads everything in a single
//! round trip; [`parse`] turns its raw sections into Ansible's fact names
//! and value types, without the `ansible_` prefix (the engine injects the
//! prefixed variables).

pub mod parse;
pub mod setup;

/// The probe script, run read-only with [`crate::Cmd::script`].
pub const PROBE: &str = include_str!("probe.sh");
