//! `tutti playbook` (and `ansible-playbook`): load every playbook first
//! (all mistakes reported before any host is contacted), then run them.

use std::sync::Arc;

use crate::cli::{OutputFormat, PlaybookCli};
use crate::diagnostic::Diagnostic;
use crate::output::events::PlaybookEvent;
use crate::playbook::load::load_playbook;
use crate::playbook::model::{Playbook, Step};
use crate::runner::{self, Run, RunOptions};
use crate::session::Session;

pub async fn run(cli: &PlaybookCli) -> Result<u8, Diagnostic> {
    let session = Session::open(&cli.connect)?;
    apply_roles_path(&session);
    apply_library_path(&session);
    let mut warnings = session.warnings.clone();
    crate::playbook::load::set_load_vars(session.extra_vars.clone());
    crate::playbook::load::set_error_on_missing_handler(
        session
            .config
            .get_bool(
                "defaults",
                "error_on_missing_handler",
                "ANSIBLE_ERROR_ON_MISSING_HANDLER",
            )
            .unwrap_or(true),
    );
    let mut books = Vec::new();
    for path in &cli.playbooks {
        if !path.exists() {
            return Err(Diagnostic::error(format!(
                "the playbook: {} could not be found",
                path.display()
            )));
        }
        // Ansible works with absolute paths: playbook_dir and error
        // origins show them.
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        let book = load_playbook(&abs, &mut warnings)?;
        crate::playbook::validate::check_templates(&crate::template::Templar::new(), &book)?;
        books.push(book);
    }
    if cli.syntax_check {
        if let Some(d) = books
            .iter()
            .flat_map(|b| &b.plays)
            .find_map(|p| p.missing_handler.clone())
        {
            return Err(d);
        }
        for w in &warnings {
            eprintln!("[WARNING]: {w}");
        }
        for b in &books {
            println!("\nplaybook: {}", b.path.display());
        }
        return Ok(0);
    }
    let opts = RunOptions {
        check: cli.connect.check,
        diff: cli.connect.diff,
        verbosity: cli.connect.verbose,
        tags: runner::tags::parse_list(&cli.tags),
        skip_tags: runner::tags::parse_list(&cli.skip_tags),
        start_at_task: cli.start_at_task.clone(),
        step: cli.step,
        force_handlers: cli.force_handlers
            || session
                .config
                .get_bool("defaults", "force_handlers", "ANSIBLE_FORCE_HANDLERS")
                .unwrap_or(false),
        flush_cache: cli.flush_cache,
        limit: cli.connect.limit.clone(),
    };
    if cli.list_hosts || cli.list_tasks || cli.list_tags {
        list(&session, &books, cli, &opts);
        return Ok(0);
    }
    let format = match cli.connect.output {
        OutputFormat::Json => crate::output::PlaybookFormat::Json,
        OutputFormat::Human => crate::output::PlaybookFormat::Human,
    };
    execute(session, books, opts, format, warnings).await
}

/// Runs loaded playbooks with the printer for `format` and returns the
/// process exit code (also used by ad-hoc runs of engine actions).
pub async fn execute(
    session: Session,
    books: Vec<Playbook>,
    opts: RunOptions,
    format: crate::output::PlaybookFormat,
    warnings: Vec<String>,
) -> Result<u8, Diagnostic> {
    let (events, printer) = crate::output::spawn_playbook(
        format,
        opts.verbosity,
        opts.diff,
        session
            .config
            .get("defaults", "log_path", "ANSIBLE_LOG_PATH")
            .map(std::path::PathBuf::from),
    );
    for w in warnings {
        let _ = events.send(PlaybookEvent::Warning(w));
    }
    let pool = session.conn.pool.clone();
    let run = Run::new(session, opts, events.clone());
    let work = {
        let run = run.clone();
        async move {
            for b in &books {
                if let Some(dir) = b.path.parent()
                    && let Ok(mut d) = run.playbook_dir.lock()
                {
                    *d = dir.to_path_buf();
                }
                run.emit(PlaybookEvent::Playbook {
                    path: b.path.display().to_string(),
                    plays: b.plays.len(),
                });
                for play in &b.plays {
                    if runner::scheduler::LOAD_FAILED.load(std::sync::atomic::Ordering::SeqCst) {
                        return true;
                    }
                    if let Some(d) = &play.missing_handler {
                        run.emit(PlaybookEvent::Error(
                            d.to_string()
                                .trim_start_matches("[ERROR]: ")
                                .trim_end()
                                .to_string(),
                        ));
                        return true;
                    }
                    runner::play::run_play(&run, play).await;
                }
            }
            false
        }
    };
    let mut work = std::pin::pin!(work);
    let mut load_error = false;
    let interrupted = tokio::select! {
        e = &mut work => {
            load_error = e;
            false
        }
        _ = tokio::signal::ctrl_c() => true,
    };
    if interrupted {
        // Start nothing new; let commands in flight finish (a second
        // Ctrl-C stops waiting).
        runner::scheduler::INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::select! {
            _ = &mut work => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    let recap = run.states.recap();
    let failed = run.states.any_uncleared_failure();
    let run_errored = run.errored.load(std::sync::atomic::Ordering::SeqCst);
    if interrupted {
        run.emit(PlaybookEvent::Error("User interrupted execution".into()));
    }
    let load_error =
        load_error || runner::scheduler::LOAD_FAILED.load(std::sync::atomic::Ordering::SeqCst);
    // A run stopped by a file that would not load ends without a recap,
    // as ansible-playbook's does.
    if !load_error {
        run.emit(PlaybookEvent::Recap(recap.clone()));
    }
    drop(run);
    drop(events);
    let _ = printer.await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), pool.close_all()).await;
    if std::env::var_os("TUTTI_STATS").is_some() {
        let (commands, sessions) = crate::connection::stats();
        eprintln!(
            "[tutti] {commands} commands over {sessions} connections ({} in probe shells)",
            crate::connection::shell_probes()
        );
    }
    let errored = run_errored;
    Ok(if interrupted {
        99
    } else if load_error {
        4
    } else {
        match runner::exit_code(&recap, failed) {
            // A play that could not start is an error even if no host failed.
            0 if errored => 1,
            code => code,
        }
    })
}

/// `library`: ANSIBLE_LIBRARY or `[defaults] library`, colon-separated
/// directories of custom modules.
pub fn apply_library_path(session: &Session) {
    if let Some(paths) = config_paths(session, "library", "ANSIBLE_LIBRARY") {
        crate::library::set_library_path(paths);
    }
}

/// A colon-separated list of directories from `[defaults] key` or `env`:
/// `~/` expanded, relative entries from ansible.cfg taken relative to it,
/// all absolute (files found there are controller paths whatever the
/// working directory later is).
fn config_paths(session: &Session, key: &str, env: &str) -> Option<Vec<std::path::PathBuf>> {
    let list = session.config.get("defaults", key, env)?;
    let base = session
        .config
        .path
        .as_ref()
        .and_then(|p| p.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_default();
    Some(
        list.split(':')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let p = match (p.strip_prefix("~/"), dirs::home_dir()) {
                    (Some(rest), Some(home)) => home.join(rest),
                    _ => std::path::PathBuf::from(p),
                };
                let p = if p.is_relative() { base.join(p) } else { p };
                std::path::absolute(&p).unwrap_or(p)
            })
            .collect(),
    )
}

/// `roles_path`: ANSIBLE_ROLES_PATH or `[defaults] roles_path`,
/// colon-separated; relative entries in ansible.cfg are relative to it.
pub fn apply_roles_path(session: &Session) {
    if let Some(paths) = config_paths(session, "roles_path", "ANSIBLE_ROLES_PATH") {
        crate::roles::set_roles_path(paths);
    }
}

/// `--list-hosts`, `--list-tasks`, `--list-tags`, in Ansible's layout.
fn list(session: &Session, books: &[Playbook], cli: &PlaybookCli, opts: &RunOptions) {
    for b in books {
        println!("\nplaybook: {}", b.path.display());
        for (i, play) in b.plays.iter().enumerate() {
            let name = match &play.name {
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => String::new(),
            };
            let pattern = match &play.hosts {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            let mut play_tags = play.kw.tags.clone();
            play_tags.sort();
            println!(
                "\n  play #{} ({}): {}\tTAGS: [{}]",
                i + 1,
                pattern,
                name,
                play_tags.join(", ")
            );
            if cli.list_hosts {
                let hosts = session
                    .select(&pattern, opts.limit.as_deref())
                    .map(|s| s.hosts)
                    .unwrap_or_default();
                println!("    pattern: ['{pattern}']");
                println!("    hosts ({}):", hosts.len());
                for h in hosts {
                    println!("      {h}");
                }
            }
            let mut tasks = Vec::new();
            for section in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
                collect(section, &mut tasks);
            }
            // Templated tags are shown rendered with the play's vars and
            // the extra vars, as ansible-playbook lists them.
            let templar = crate::template::Templar::new();
            let mut scope = crate::template::Scope::new();
            scope.push_layer(runner::scope::layer(&play.vars, true));
            scope.push_layer(runner::scope::layer(&session.extra_vars, true));
            if cli.list_tasks {
                println!("    tasks:");
                for t in &tasks {
                    let task_tags = runner::tags::render(&t.kw.tags, &templar, &scope);
                    if runner::tags::selected(&task_tags, &opts.tags, &opts.skip_tags) {
                        let mut tags = task_tags;
                        tags.sort();
                        tags.dedup();
                        println!("      {}\tTAGS: [{}]", t.display_name(), tags.join(", "));
                    }
                }
            }
            if cli.list_tags {
                let mut all: Vec<String> = tasks
                    .iter()
                    .flat_map(|t| runner::tags::render(&t.kw.tags, &templar, &scope))
                    .collect();
                all.sort();
                all.dedup();
                println!("      TASK TAGS: [{}]", all.join(", "));
            }
        }
    }
}

fn collect(steps: &[Step], out: &mut Vec<Arc<crate::playbook::model::Task>>) {
    for s in steps {
        match s {
            Step::Task(t) => out.push(t.clone()),
            Step::Block(b) => {
                collect(&b.block, out);
                collect(&b.rescue, out);
                collect(&b.always, out);
            }
        }
    }
}
