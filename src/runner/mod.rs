//! Running playbooks: plays in order, hosts in batches, tasks in lock-step
//! (or free), handlers at flush points, and the recap at the end.

pub mod actions;
pub mod conn;
pub mod encoding;
pub mod fact_cache;
pub mod file_actions;
pub mod loops;
pub mod notify;
pub mod play;
pub mod scheduler;
pub mod scope;
pub mod state;
pub mod tags;
pub mod task;
pub mod walk;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::{Semaphore, mpsc};

use crate::output::events::{HostStats, PlaybookEvent};
use crate::session::Session;
use crate::template::Templar;
use state::States;

/// Options from the `playbook` command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub check: bool,
    pub diff: bool,
    pub verbosity: u8,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub start_at_task: Option<String>,
    pub step: bool,
    pub force_handlers: bool,
    pub flush_cache: bool,
    pub limit: Option<String>,
}

/// Everything shared by the plays of one run.
pub struct Run {
    pub session: Session,
    pub templar: Templar,
    pub events: mpsc::UnboundedSender<PlaybookEvent>,
    pub opts: RunOptions,
    pub states: States,
    /// At most `forks` module executions in flight.
    pub forks: Semaphore,
    /// `--start-at-task`: set once the named task was reached.
    pub started: AtomicBool,
    /// A play could not start ([`Run::fail`]).
    pub errored: AtomicBool,
    /// Facts kept between runs (`fact_caching = jsonfile`).
    pub fact_cache: fact_cache::FactCache,
    /// The playbook file being run (for `playbook_dir`).
    pub playbook_dir: std::sync::Mutex<PathBuf>,
    /// Warnings already given, for those Ansible gives once per run.
    warned: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Run {
    pub fn new(
        session: Session,
        opts: RunOptions,
        events: mpsc::UnboundedSender<PlaybookEvent>,
    ) -> Arc<Run> {
        let forks = session.forks.max(1);
        let started = opts.start_at_task.is_none();
        let fact_cache = fact_cache::FactCache::from_config(&session.config);
        if opts.flush_cache {
            fact_cache.flush();
        }
        Arc::new(Run {
            session,
            templar: Templar::new(),
            events,
            opts,
            states: States::default(),
            forks: Semaphore::new(forks),
            started: AtomicBool::new(started),
            errored: AtomicBool::new(false),
            fact_cache,
            playbook_dir: std::sync::Mutex::new(PathBuf::new()),
            warned: std::sync::Mutex::new(std::collections::HashSet::new()),
        })
    }

    /// Warns once per run about the same thing.
    pub fn warn_once(&self, msg: impl Into<String>) {
        let msg = msg.into();
        let first = match self.warned.lock() {
            Ok(mut w) => w.insert(msg.clone()),
            Err(p) => p.into_inner().insert(msg.clone()),
        };
        if first {
            self.warn(msg);
        }
    }

    pub fn emit(&self, ev: PlaybookEvent) {
        let _ = self.events.send(ev);
    }

    /// An error that stops the play before it runs (a vars file that
    /// cannot be read, a prompt without an answer): exit code 1.
    pub fn fail(&self, msg: impl Into<String>) {
        self.errored
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.emit(PlaybookEvent::Error(msg.into()));
    }

    pub fn warn(&self, msg: impl Into<String>) {
        self.emit(PlaybookEvent::Warning(msg.into()));
    }
}

/// Ansible's exit code: unreachable (4) beats failed (2); `failed` says
/// whether some host failed without `meta: clear_host_errors` forgiving it.
pub fn exit_code(recap: &[(String, HostStats)], failed: bool) -> u8 {
    if recap.iter().any(|(_, s)| s.unreachable > 0) {
        4
    } else if failed {
        2
    } else {
        0
    }
}
