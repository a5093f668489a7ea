//! `tutti inventory --list|--graph|--host` (and `ansible-inventory`).

use crate::cli::InventoryCli;
use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::inventory::Inventory;
use crate::output::pyjson;

pub fn run(cli: &InventoryCli) -> Result<u8, Diagnostic> {
    let config = Config::load();
    if cli.verbose > 0 {
        match &config.path {
            Some(p) => eprintln!("Using {} as config file", p.display()),
            None => eprintln!("No config file found; using defaults"),
        }
    }
    let sources = if cli.inventory.is_empty() {
        let c = config.inventory();
        if c.is_empty() {
            vec!["/etc/ansible/hosts".to_string()]
        } else {
            c
        }
    } else {
        cli.inventory.clone()
    };
    let loaded = Inventory::load(&sources)?;
    for w in config.warnings.iter().chain(&loaded.warnings) {
        eprintln!("[WARNING]: {w}");
    }
    let inv = loaded.inventory;
    if let Some(host) = &cli.host {
        let v = inv.host_json(host).ok_or_else(|| {
            Diagnostic::error(format!(
                "You must pass a single valid host to --host parameter: {host}"
            ))
        })?;
        println!("{}", pyjson::pretty(&v));
        return Ok(0);
    }
    if let Some(group) = &cli.graph {
        print!("{}", inv.graph(Some(group)));
        return Ok(0);
    }
    if cli.list {
        println!("{}", pyjson::pretty(&inv.list_json()));
        return Ok(0);
    }
    Err(Diagnostic::options(
        "No action selected, at least one of --host, --graph or --list needs to be specified.",
    ))
}
