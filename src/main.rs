//! The `tutti` binary: parse the command line, run, map the outcome to
//! Ansible's exit codes (0 ok, 1 error, 2 host failed, 4 unreachable or
//! parse error, 5 bad options, 99 interrupted).

use std::process::ExitCode;

use tutti::cli::{self, Command, Invocation};
use tutti::diagnostic::Diagnostic;

fn main() -> ExitCode {
    let invocation = cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("[ERROR]: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async {
        // Playbook runs handle Ctrl-C themselves (they print the recap so
        // far); everything else just stops.
        let handles_interrupt = matches!(
            &invocation,
            Invocation::AnsiblePlaybook(_)
                | Invocation::Tutti(cli::Cli {
                    command: Command::Playbook(_)
                })
        );
        let outcome = if handles_interrupt {
            dispatch(&invocation).await
        } else {
            tokio::select! {
                r = dispatch(&invocation) => r,
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("[ERROR]: User interrupted execution");
                    return 99;
                }
            }
        };
        match outcome {
            Ok(code) => code,
            Err(d) => {
                eprint!("{}", tutti::secret::scrub(&d.to_string()));
                d.exit_code()
            }
        }
    });
    // In-flight commands are abandoned on interrupt; don't wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code)
}

async fn dispatch(inv: &Invocation) -> Result<u8, Diagnostic> {
    match inv {
        Invocation::Tutti(c) => match &c.command {
            Command::Playbook(p) => tutti::playbook_cmd::run(p).await,
            Command::Adhoc(a) => tutti::adhoc::run(a).await,
            Command::Inventory(i) => tutti::inventory_cmd::run(i),
            Command::Roles(r) => tutti::roles::install::run(&r.action).await,
            Command::Vault(v) => tutti::vault::cli::run(v),
            Command::Doc(d) => tutti::doc_cmd::run(d),
            Command::Config(c) => tutti::config_cmd::run(c),
        },
        Invocation::Ansible(a) => tutti::adhoc::run(&a.adhoc).await,
        Invocation::AnsiblePlaybook(p) => tutti::playbook_cmd::run(&p.playbook).await,
        Invocation::AnsibleInventory(i) => tutti::inventory_cmd::run(&i.inventory),
        Invocation::AnsibleGalaxy(g) => tutti::roles::install::run(g.action()).await,
        Invocation::AnsibleVault(v) => tutti::vault::cli::run(&v.vault),
        Invocation::AnsibleDoc(d) => tutti::doc_cmd::run(d),
        Invocation::AnsibleConfig(c) => tutti::config_cmd::run(c),
    }
}
