//! Package managers: `apt`, `dnf`/`yum`, `pip`, the manager-picking
//! `package`, apt's sources and keys (`apt_repository`,
//! `deb822_repository`, `apt_key`), and `package_facts`. Each learns the
//! state it needs in one read-only probe and changes it in one command.

pub mod apt;
pub mod apt_key;
pub mod apt_repository;
pub mod common;
pub mod deb822_repository;
pub mod dnf;
pub mod package;
pub mod package_facts;
pub mod pip;
