//! What every command that talks to hosts sets up first: the config file,
//! the inventory, extra vars and connection options.

use serde_json::{Map, Value};

use crate::cli::ConnectArgs;
use crate::config::Config;
use crate::connection::ConnOptions;
use crate::diagnostic::Diagnostic;
use crate::inventory::{Inventory, Selection};

/// Ansible's default for ad-hoc runs is 5; tutti's hosts are cheap tasks.
pub const DEFAULT_FORKS: usize = 50;

pub struct Session {
    pub config: Config,
    pub inventory: Inventory,
    pub extra_vars: Map<String, Value>,
    pub conn: ConnOptions,
    pub forks: usize,
    /// Warnings to show before any result.
    pub warnings: Vec<String>,
}

impl Session {
    pub fn open(a: &ConnectArgs) -> Result<Session, Diagnostic> {
        let config = Config::load();
        let mut warnings = config.warnings.clone();
        if a.verbose > 0 {
            match &config.path {
                Some(p) => eprintln!("Using {} as config file", p.display()),
                None => eprintln!("No config file found; using defaults"),
            }
        }
        let sources = if a.inventory.is_empty() {
            let from_cfg = config.inventory();
            if from_cfg.is_empty() {
                vec!["/etc/ansible/hosts".to_string()]
            } else {
                from_cfg
            }
        } else {
            a.inventory.clone()
        };
        // Vault secrets first: inventories and vars files may be vaulted.
        let vault_opts = crate::vault::vault_options_from_env(&a.vault, &config);
        let secrets = crate::vault::load_secrets(&vault_opts)?;
        warnings.extend(secrets.warnings.iter().cloned());
        crate::vault::set_global(secrets);
        let loaded = Inventory::load(&sources)?;
        warnings.extend(loaded.warnings);
        let extra_vars = crate::extra_vars::parse_all(&a.extra_vars)?;
        let conn = crate::adhoc::conn_options(a, &config)?;
        let forks = a.forks.or_else(|| config.forks()).unwrap_or(DEFAULT_FORKS);
        Ok(Session {
            config,
            inventory: loaded.inventory,
            extra_vars,
            conn,
            forks,
            warnings,
        })
    }

    /// Hosts matching `pattern`, narrowed by `--limit`.
    pub fn select(&self, pattern: &str, limit: Option<&str>) -> Result<Selection, Diagnostic> {
        let mut sel = self.inventory.select(pattern)?;
        if let Some(limit) = limit {
            let lim = self.inventory.select(limit)?;
            sel.hosts.retain(|h| lim.hosts.contains(h));
            sel.warnings.extend(lim.warnings);
        }
        Ok(sel)
    }

    /// A host's variables: inventory vars, then extra vars on top.
    pub fn host_vars(&self, host: &str) -> Map<String, Value> {
        let mut vars = self.inventory.host_vars(host);
        for (k, v) in &self.extra_vars {
            vars.insert(k.clone(), v.clone());
        }
        vars
    }

    pub fn is_implicit_localhost(&self, host: &str) -> bool {
        self.inventory.is_implicit_localhost(host)
    }
}
