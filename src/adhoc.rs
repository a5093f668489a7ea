//! `tutti adhoc PATTERN -m MODULE -a ARGS` (and `ansible` under that
//! name): one module on every selected host, `forks` hosts at a time.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Map, Value};
use tutti_modules::Module;

use crate::cli::{AdhocCli, OutputFormat};
use crate::connection::{self, ConnOptions};
use crate::diagnostic::Diagnostic;
use crate::output::{self, Event, Format, HostResult, Status};
use crate::session::Session;

/// Strips Ansible's collection prefixes from a module name.
pub fn short_module_name(name: &str) -> &str {
    name.strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name)
}

/// Runs the ad-hoc command and returns the process exit code.
pub async fn run(cli: &AdhocCli) -> Result<u8, Diagnostic> {
    let session = Session::open(&cli.connect)?;
    let module_name = short_module_name(&cli.module).to_string();
    let known_action = crate::playbook::keywords::CONTROLLER_ACTIONS
        .iter()
        .any(|a| *a == module_name && *a != "import_playbook");
    if tutti_modules::find(&module_name).is_none() && known_action {
        return run_action(cli, session, &module_name).await;
    }
    let module: &'static dyn Module = tutti_modules::find(&module_name).ok_or_else(|| {
        Diagnostic::parse(
            format!(
                "couldn't resolve module/action '{}'. This often indicates a misspelling, missing collection, or incorrect module path.",
                cli.module
            ),
            None,
        )
    })?;
    let args = match &cli.args {
        Some(a) => crate::args::parse_module_args(&module_name, a).map_err(Diagnostic::options)?,
        None => Map::new(),
    };
    if matches!(module_name.as_str(), "command" | "shell" | "raw")
        && !args.contains_key("_raw_params")
        && !args.contains_key("cmd")
        && !args.contains_key("argv")
    {
        return Err(Diagnostic::options(format!(
            "No argument passed to {module_name} module"
        )));
    }

    let format = match (cli.connect.output, cli.one_line) {
        (OutputFormat::Json, _) => Format::Json,
        (_, true) => Format::OneLine,
        _ => Format::Minimal,
    };
    let (events, printer) = output::spawn(format);
    for w in &session.warnings {
        let _ = events.send(Event::Warning(w.clone()));
    }

    let hosts = match session.select(&cli.pattern, cli.connect.limit.as_deref()) {
        Ok(sel) => {
            for w in &sel.warnings {
                let _ = events.send(Event::Warning(w.clone()));
            }
            sel.hosts
        }
        Err(e) => {
            drop(events);
            let _ = printer.await;
            return Err(e);
        }
    };
    if hosts.is_empty() {
        let code = if cli.connect.limit.is_some() {
            drop(events);
            let _ = printer.await;
            return Err(Diagnostic::error(
                "Specified inventory, host pattern and/or --limit leaves us with no hosts to target.",
            ));
        } else {
            let _ = events.send(Event::Warning("No hosts matched, nothing to do".into()));
            0
        };
        drop(events);
        let _ = printer.await;
        return Ok(code);
    }

    let session = Arc::new(session);
    let forks = session.forks.max(1);
    let check = cli.connect.check;
    let results: Vec<(String, Status)> = futures::stream::iter(hosts)
        .map(|host| {
            let session = session.clone();
            let args = args.clone();
            let events = events.clone();
            let module_name = module_name.clone();
            // Each host runs in its own task: a panic or a hostile server
            // can fail that host only.
            let join = tokio::spawn(async move {
                let outcome = run_on_host(&session, &host, module, args, check).await;
                let mut result = outcome.result;
                // Ansible's callbacks never show the `failed` flag itself.
                result.remove("failed");
                let _ = events.send(Event::Result(HostResult {
                    host: host.clone(),
                    status: outcome.status,
                    module: module_name,
                    result,
                }));
                (host, outcome.status)
            });
            async move {
                join.await
                    .unwrap_or_else(|e| (format!("<task failed: {e}>"), Status::Failed))
            }
        })
        .buffer_unordered(forks)
        .collect()
        .await;

    let _ = events.send(Event::Done {
        stats: results.clone(),
    });
    drop(events);
    let _ = printer.await;
    Ok(exit_code(results.iter().map(|(_, s)| *s)))
}

/// An engine action (`debug`, `include_role`, `set_fact`, ...) run ad hoc:
/// like Ansible, a one-task play on the selected hosts, run by the
/// playbook engine and printed in the ad-hoc shape. The working directory
/// stands in for the playbook directory (roles, files, templates).
async fn run_action(cli: &AdhocCli, session: Session, action: &str) -> Result<u8, Diagnostic> {
    let args = match &cli.args {
        Some(a) => crate::args::parse_module_args(action, a).map_err(Diagnostic::options)?,
        None => Map::new(),
    };
    let mut task = Map::new();
    task.insert(action.to_string(), Value::Object(args));
    let play = serde_json::json!([{
        "name": "Ansible Ad-Hoc",
        "hosts": cli.pattern,
        "gather_facts": false,
        "tasks": [Value::Object(task)],
    }]);
    let cwd = std::env::current_dir()
        .map_err(|e| Diagnostic::error(format!("cannot read the working directory: {e}")))?;
    let mut warnings = session.warnings.clone();
    crate::playbook_cmd::apply_roles_path(&session);
    crate::playbook_cmd::apply_library_path(&session);
    // The play stands in the working directory (never written there): roles,
    // files and templates are found from it, as Ansible's ad-hoc does.
    let book = crate::playbook::load::load_playbook_text(
        &cwd.join("ansible-adhoc.yml"),
        &play.to_string(),
        &mut warnings,
    )?;
    let opts = crate::runner::RunOptions {
        check: cli.connect.check,
        diff: cli.connect.diff,
        verbosity: cli.connect.verbose,
        tags: Vec::new(),
        skip_tags: Vec::new(),
        start_at_task: None,
        step: false,
        force_handlers: false,
        flush_cache: false,
        limit: cli.connect.limit.clone(),
    };
    let format = match cli.connect.output {
        OutputFormat::Json => output::PlaybookFormat::Json,
        OutputFormat::Human => output::PlaybookFormat::AdHoc {
            one_line: cli.one_line,
        },
    };
    crate::playbook_cmd::execute(session, vec![book], opts, format, warnings).await
}

/// Ansible's exit code for a set of host outcomes: unreachable (4) wins
/// over failed (2).
pub fn exit_code(statuses: impl Iterator<Item = Status>) -> u8 {
    let mut code = 0;
    for s in statuses {
        match s {
            Status::Unreachable => return 4,
            Status::Failed => code = 2,
            _ => {}
        }
    }
    code
}

async fn run_on_host(
    session: &Session,
    host: &str,
    module: &dyn Module,
    args: Map<String, Value>,
    check: bool,
) -> crate::execute::Outcome {
    let vars = session.host_vars(host);
    let conn = match connection::resolve(
        host,
        &vars,
        &session.conn,
        session.is_implicit_localhost(host),
    ) {
        Ok(c) => c,
        Err(msg) => {
            let mut r = Map::new();
            r.insert("changed".into(), Value::Bool(false));
            r.insert("msg".into(), Value::String(msg));
            r.insert("unreachable".into(), Value::Bool(true));
            return crate::execute::Outcome {
                status: Status::Unreachable,
                result: r,
            };
        }
    };
    let outcome = crate::execute::run(module, args, &conn, check).await;
    // Closing can hang on a dead peer; it is a courtesy, so bound it.
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.close()).await;
    outcome
}

/// Connection options from flags and config, shared by every host.
pub fn conn_options(
    a: &crate::cli::ConnectArgs,
    cfg: &crate::config::Config,
) -> Result<ConnOptions, Diagnostic> {
    let (ssh_config, _warnings) = connection::ssh_config::SshConfig::load_default();
    let mut ssh_args = String::new();
    for extra in [&a.ssh_common_args, &a.ssh_extra_args]
        .into_iter()
        .flatten()
    {
        ssh_args.push(' ');
        ssh_args.push_str(extra);
    }
    let ssh_options = if ssh_args.trim().is_empty() {
        Vec::new()
    } else {
        connection::resolve::parse_ssh_args(&ssh_args).map_err(Diagnostic::options)?
    };
    let become_password = match (
        &a.become_password_file,
        a.ask_become_pass || cfg.become_ask_pass(),
    ) {
        (Some(path), _) => Some(crate::secret::Secret::new(read_password_file(path)?)),
        (None, true) => Some(prompt_password("BECOME password: ")?),
        (None, false) => None,
    };
    let password = match (&a.connection_password_file, a.ask_pass) {
        (Some(path), _) => Some(crate::secret::Secret::new(read_password_file(path)?)),
        (None, true) => Some(prompt_password("SSH password: ")?),
        (None, false) => None,
    };
    let become_method = a.become_method.clone().or_else(|| {
        cfg.get(
            "privilege_escalation",
            "become_method",
            "ANSIBLE_BECOME_METHOD",
        )
    });
    if let Some(m) = &become_method
        && connection::r#become::Method::parse(m).is_none()
    {
        return Err(Diagnostic::options(format!(
            "become method '{m}' is not supported yet (tutti supports sudo and su)"
        )));
    }
    Ok(ConnOptions {
        connection: a.connection.clone(),
        remote_user: a.user.clone().or_else(|| cfg.remote_user()),
        private_key: a.private_key.clone().or_else(|| cfg.private_key_file()),
        password,
        timeout: Duration::from_secs(a.timeout.or_else(|| cfg.timeout()).unwrap_or(10)),
        command_timeout: a
            .task_timeout
            .or_else(|| cfg.task_timeout())
            .filter(|t| *t > 0)
            .map(Duration::from_secs),
        host_key_checking: cfg.host_key_checking(),
        become_: a.become_ || cfg.become_(),
        become_user: a.become_user.clone().or_else(|| cfg.become_user()),
        become_password,
        become_flags: cfg.become_flags(),
        become_method,
        ssh_config: Arc::new(ssh_config),
        ssh_options,
        pool: Arc::default(),
    })
}

fn read_password_file(path: &std::path::Path) -> Result<String, Diagnostic> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
        .map_err(|e| {
            Diagnostic::error(format!("cannot read password file {}: {e}", path.display()))
        })
}

fn prompt_password(prompt: &str) -> Result<crate::secret::Secret, Diagnostic> {
    rpassword::prompt_password(prompt)
        .map(crate::secret::Secret::new)
        .map_err(|e| Diagnostic::error(format!("cannot read the password: {e}")))
}
