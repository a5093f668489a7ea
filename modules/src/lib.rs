//! The contract between tutti's engine and the modules that manage hosts,
//! and the built-in modules themselves.
//!
//! A module validates its parameters in [`Module::prepare`], looks at the
//! host through the read-only [`HostRead`] in [`Prepared::check`], and only
//! in [`Prepared::apply`] gets a [`Host`] that can change anything. The
//! engine never calls `apply` in check mode, so check mode cannot write.

pub mod archive;
pub mod cmd;
pub mod commands;
pub mod expand;
pub mod facts;
pub mod files;
pub mod files2;
pub mod fs;
pub mod host;
pub mod module;
pub mod net;
pub mod packages;
pub mod params;
pub mod plan;
pub mod scm;
pub mod services;
pub mod spec;
pub mod system;
pub mod text;
pub mod wait;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use cmd::{Cmd, quote};
pub use host::{Host, HostError, HostRead, Output};
pub use module::{Args, Module, ModuleError, ParamError, Prepared};
pub use plan::{Applied, Diff, Facts, Plan};

/// Every built-in module, sorted by name (a test keeps it sorted).
static BUILTINS: &[&dyn Module] = &[
    &packages::apt::Apt,
    &packages::apt_key::AptKey,
    &packages::apt_repository::AptRepository,
    &archive::archive::Archive,
    &files2::assemble::Assemble,
    &system::authorized_key::AuthorizedKey,
    &files::blockinfile::BlockInFile,
    &commands::command::Command,
    &files::copy::Copy,
    &system::cron::Cron,
    &packages::deb822_repository::Deb822Repository,
    &packages::dnf::Dnf,
    &files2::fetch::Fetch,
    &files::file::File,
    &files2::find::Find,
    &net::get_url::GetUrl,
    &system::getent::Getent,
    &scm::git::Git,
    &system::group::Group,
    &system::hostname::Hostname,
    &system::known_hosts::KnownHosts,
    &files::lineinfile::LineInFile,
    &system::modprobe::Modprobe,
    &system::mount::Mount,
    &packages::package::Package,
    &packages::package_facts::PackageFacts,
    &commands::ping::Ping,
    &packages::pip::Pip,
    &commands::raw::Raw,
    &wait::reboot::Reboot,
    &files::replace::Replace,
    &files2::script::Script,
    &services::service::Service,
    &services::service_facts::ServiceFacts,
    &facts::setup::Setup,
    &commands::shell::Shell,
    &files2::slurp::Slurp,
    &files::stat::Stat,
    &system::sysctl::Sysctl,
    &services::systemd::Systemd,
    &services::systemd::SystemdService,
    &services::sysvinit::SysVInit,
    &files2::tempfile::Tempfile,
    &system::timezone::Timezone,
    &archive::unarchive::Unarchive,
    &net::uri::Uri,
    &system::user::User,
    &wait::wait_for::WaitFor,
    &wait::wait_for_connection::WaitForConnection,
    &packages::dnf::Yum,
];

/// Every built-in module, sorted by name.
pub fn builtins() -> &'static [&'static dyn Module] {
    BUILTINS
}

/// The built-in module with this short name.
pub fn find(name: &str) -> Option<&'static dyn Module> {
    BUILTINS
        .binary_search_by(|m| m.name().cmp(name))
        .ok()
        .map(|i| BUILTINS[i])
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_is_sorted_and_unique() {
        let names: Vec<&str> = super::builtins().iter().map(|m| m.name()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert!(super::find("command").is_some());
        assert!(super::find("nope").is_none());
    }

    /// Each spec names exactly the fields its module deserializes, so
    /// nothing the module reads is undocumented or unreachable.
    #[test]
    fn specs_match_what_modules_parse() {
        for m in super::builtins() {
            let spec = m.spec();
            assert_eq!(spec.name, m.name());
            assert!(!spec.short.is_empty() && !spec.description.is_empty());
            assert!(!spec.example.trim().is_empty(), "{}: no example", spec.name);
            // serde lists aliases among the fields; the spec renames them
            // before serde sees them, so serde may or may not know them.
            let parsed = (spec.fields)();
            for p in spec.params {
                assert!(
                    parsed.contains(&p.name),
                    "{}.{}: not parsed",
                    spec.name,
                    p.name
                );
            }
            for f in &parsed {
                assert!(
                    spec.param(f).is_some(),
                    "{}.{f}: not in the spec",
                    spec.name
                );
            }
            for p in spec.params {
                assert!(!p.help.is_empty(), "{}.{}: no help", spec.name, p.name);
                if let Some(d) = p.default {
                    let v = crate::params::default_value(p.kind, d);
                    assert!(!v.is_null(), "{}.{}: bad default {d}", spec.name, p.name);
                    if !p.choices.is_empty() {
                        assert!(
                            p.choices.contains(&d),
                            "{}.{}: default not a choice",
                            spec.name,
                            p.name
                        );
                    }
                }
                assert!(
                    !(p.required && p.default.is_some()),
                    "{}.{}",
                    spec.name,
                    p.name
                );
            }
        }
    }
}
