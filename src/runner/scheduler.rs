//! Lock-step for the `linear` strategy: every host runs its own walk
//! through the play (blocks, rescue, includes, handlers), but waits at each
//! task until the scheduler releases it. The scheduler releases one task at
//! a time, when no host is busy, choosing the earliest task in play order
//! among those hosts are waiting at — so all hosts finish task N before any
//! starts N+1, and a host in `rescue` waits for the others' block tasks,
//! as in Ansible. The `free` strategy releases every arrival at once.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{mpsc, oneshot};

use crate::output::events::{PlaybookEvent, TaskKind};

/// Set on Ctrl-C: no host starts another task.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A file included at run time would not parse: like a playbook that
/// would not load, the run stops (nothing new starts) and exits 4.
pub static LOAD_FAILED: AtomicBool = AtomicBool::new(false);

/// A task's position in play order: section, then indices down the tree.
pub type Key = Vec<u32>;

/// What a host is told when it may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    Go,
    /// `--step` answered "no": skip this task.
    Skip,
    /// The play was aborted (`any_errors_fatal`, `max_fail_percentage`).
    Abort,
}

/// The banner for a task, sent with the arrival so the scheduler can print
/// it before any host reports.
#[derive(Debug, Clone)]
pub struct Banner {
    pub name: String,
    pub kind: TaskKind,
    pub path: String,
    pub check_mode: bool,
    /// Whether to print a banner (`meta` tasks have none).
    pub shown: bool,
    /// A handler under `force_handlers`: it still runs after every host
    /// failed (Ansible moves failed hosts on to their handlers), though
    /// not after an interrupt.
    pub forced: bool,
}

/// A host waiting at a task: the banner it brought and how to wake it.
type Waiter = (String, Banner, oneshot::Sender<Release>);

enum Msg {
    Arrive {
        host: String,
        key: Key,
        id: usize,
        banner: Banner,
        reply: oneshot::Sender<Release>,
    },
    Done,
}

/// A handle hosts use to wait their turn.
#[derive(Clone)]
pub struct Gate {
    tx: mpsc::UnboundedSender<Msg>,
    abort: Arc<AtomicBool>,
    /// Some host was turned away by the abort (so tasks were left undone:
    /// Ansible's `NO MORE HOSTS LEFT`).
    refused: Arc<AtomicBool>,
}

impl Gate {
    /// Waits until this host may run the task at `key`.
    pub async fn arrive(&self, host: &str, key: Key, id: usize, banner: Banner) -> Release {
        if INTERRUPTED.load(Ordering::SeqCst) || LOAD_FAILED.load(Ordering::SeqCst) {
            return Release::Abort;
        }
        if self.abort.load(Ordering::SeqCst) && !banner.forced {
            self.refused.store(true, Ordering::SeqCst);
            return Release::Abort;
        }
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send(Msg::Arrive {
                host: host.to_string(),
                key,
                id,
                banner,
                reply,
            })
            .is_err()
        {
            return Release::Abort;
        }
        rx.await.unwrap_or(Release::Abort)
    }

    /// This host has nothing more to run in this batch.
    pub fn done(&self) {
        let _ = self.tx.send(Msg::Done);
    }

    /// Ends the play for every host at their next task.
    pub fn abort(&self) {
        self.abort.store(true, Ordering::SeqCst);
    }

    pub fn is_aborted(&self) -> bool {
        self.abort.load(Ordering::SeqCst)
    }

    /// Whether the abort turned any host away from a task.
    pub fn refused_any(&self) -> bool {
        self.refused.load(Ordering::SeqCst)
    }
}

/// Starts a scheduler for `hosts` hosts. `between` runs whenever a group of
/// hosts finished a task and before the next is released (for
/// `any_errors_fatal` and `max_fail_percentage`).
pub fn start(
    order: Vec<String>,
    linear: bool,
    step: bool,
    events: mpsc::UnboundedSender<PlaybookEvent>,
    between: Arc<dyn Fn(&Gate) + Send + Sync>,
) -> (Gate, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let gate = Gate {
        tx,
        abort: Arc::new(AtomicBool::new(false)),
        refused: Arc::new(AtomicBool::new(false)),
    };
    let g = gate.clone();
    let handle = tokio::spawn(async move {
        let mut busy = order.len();
        let rank = |h: &str| order.iter().position(|x| x == h).unwrap_or(usize::MAX);
        let mut waiting: BTreeMap<(Key, usize), Vec<Waiter>> = BTreeMap::new();
        let mut announced: HashSet<usize> = HashSet::new();
        let mut asking = step && std::io::IsTerminal::is_terminal(&std::io::stdin());
        while busy > 0 || !waiting.is_empty() {
            if busy == 0 {
                between(&g);
                let Some(((_, id), mut group)) = waiting.pop_first() else {
                    break;
                };
                group.sort_by_key(|(h, _, _)| rank(h));
                // Forced handlers run even when the play was aborted.
                let forced = group.iter().all(|(_, b, _)| b.forced);
                let mut release = if g.is_aborted() && !forced {
                    g.refused.store(true, Ordering::SeqCst);
                    Release::Abort
                } else {
                    Release::Go
                };
                if release == Release::Go
                    && asking
                    && let Some((_, banner, _)) = group.first()
                    && banner.shown
                {
                    match ask_step(&banner.name).await {
                        StepAnswer::Yes => {}
                        StepAnswer::No => release = Release::Skip,
                        StepAnswer::Continue => asking = false,
                    }
                }
                if release == Release::Go
                    && let Some((_, banner, _)) = group.first()
                {
                    announce(&events, banner);
                    let hosts = group.iter().map(|(h, _, _)| h.clone()).collect();
                    let _ = events.send(PlaybookEvent::TaskHosts(hosts));
                    announced.insert(id);
                }
                busy += group.len();
                for (_, _, reply) in group {
                    let _ = reply.send(release);
                }
                continue;
            }
            let Some(msg) = rx.recv().await else { break };
            match msg {
                Msg::Arrive {
                    host,
                    key,
                    id,
                    banner,
                    reply,
                } => {
                    if linear {
                        busy -= 1;
                        waiting
                            .entry((key, id))
                            .or_default()
                            .push((host, banner, reply));
                    } else {
                        // Free: announce a task the first time any host
                        // reaches it, and let the host go at once.
                        if announced.insert(id) {
                            announce(&events, &banner);
                        }
                        let release = if g.is_aborted() && !banner.forced {
                            g.refused.store(true, Ordering::SeqCst);
                            Release::Abort
                        } else {
                            Release::Go
                        };
                        let _ = reply.send(release);
                    }
                }
                Msg::Done => busy = busy.saturating_sub(1),
            }
        }
    });
    (gate, handle)
}

enum StepAnswer {
    Yes,
    No,
    Continue,
}

/// `--step`: Ansible's "Perform task" question, on the terminal.
async fn ask_step(name: &str) -> StepAnswer {
    let prompt = format!("Perform task: TASK: {name} (N)o/(y)es/(c)ontinue: ");
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut err = std::io::stderr();
        let _ = write!(err, "{prompt}");
        let _ = err.flush();
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        line
    })
    .await
    .unwrap_or_default();
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => StepAnswer::Yes,
        "c" | "continue" => StepAnswer::Continue,
        _ => StepAnswer::No,
    }
}

fn announce(events: &mpsc::UnboundedSender<PlaybookEvent>, b: &Banner) {
    if !b.shown {
        return;
    }
    let _ = events.send(PlaybookEvent::TaskStart {
        name: b.name.clone(),
        kind: b.kind,
        path: b.path.clone(),
        check_mode: b.check_mode,
    });
}
