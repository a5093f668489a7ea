//! Everything tutti prints about a run goes through one printer task fed
//! by a channel, so lines from concurrent hosts never interleave.

pub mod diff;
pub mod events;
pub mod human;
pub mod json;
pub mod log;
pub mod minimal;
pub mod order;
pub mod pyjson;

use std::io::Write;

use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How a host's task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Changed,
    Failed,
    Unreachable,
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Failed => "failed",
            Status::Unreachable => "unreachable",
            Status::Skipped => "skipped",
        }
    }
}

/// One host's result for one task.
#[derive(Debug, Clone)]
pub struct HostResult {
    pub host: String,
    pub status: Status,
    /// The module's short name (decides the ad-hoc layout).
    pub module: String,
    /// Result keys in Ansible's names, `changed` and `failed` included.
    pub result: Map<String, Value>,
}

/// Something to print.
#[derive(Debug, Clone)]
pub enum Event {
    Result(HostResult),
    Warning(String),
    /// Per-host counts at the end of an ad-hoc run.
    Done {
        stats: Vec<(String, Status)>,
    },
}

/// The output format chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Ansible's `minimal` callback (ad-hoc's default).
    Minimal,
    /// Ansible's `oneline` callback (`-o`).
    OneLine,
    /// One JSON object per line.
    Json,
}

/// Whether to colour human output: only on a terminal, unless forced.
pub fn use_color() -> bool {
    let env_true = |k: &str| {
        std::env::var(k)
            .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
            .unwrap_or(false)
    };
    if std::env::var_os("NO_COLOR").is_some() || env_true("ANSIBLE_NOCOLOR") {
        return false;
    }
    if env_true("ANSIBLE_FORCE_COLOR") {
        return true;
    }
    console::Term::stdout().is_term()
}

/// Starts the printer; send events, drop the sender, await the handle.
pub fn spawn(format: Format) -> (mpsc::UnboundedSender<Event>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let color = format != Format::Json && use_color();
    let handle = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            let (out, err) = match format {
                Format::Minimal => minimal::render(&event, color, false),
                Format::OneLine => minimal::render(&event, color, true),
                Format::Json => (json::render(&event), Vec::new()),
            };
            // A closed pipe (`| head`) must not panic the printer.
            if !out.is_empty() {
                let mut so = std::io::stdout().lock();
                let _ = so.write_all(&crate::secret::scrub_bytes(&out));
                let _ = so.flush();
            }
            if !err.is_empty() {
                let mut se = std::io::stderr().lock();
                let _ = se.write_all(&crate::secret::scrub_bytes(&err));
            }
        }
    });
    (tx, handle)
}

/// Output formats for playbook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybookFormat {
    /// Ansible's default callback.
    Human,
    /// One JSON event per line.
    Json,
    /// Ad-hoc runs of engine actions (`ansible -m include_role`): each
    /// task result in the `minimal` (or `oneline`) shape, no banners.
    AdHoc { one_line: bool },
}

/// Starts the playbook printer: one task owns stdout and stderr, so
/// concurrent hosts never interleave lines.
pub fn spawn_playbook(
    format: PlaybookFormat,
    verbosity: u8,
    diff: bool,
    log_path: Option<std::path::PathBuf>,
) -> (mpsc::UnboundedSender<events::PlaybookEvent>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<events::PlaybookEvent>();
    let env_bool = |k: &str, default: bool| {
        std::env::var(k)
            .ok()
            .and_then(|v| tutti_modules::params::to_bool(&serde_json::Value::String(v)))
            .unwrap_or(default)
    };
    let opts = human::HumanOptions {
        color: use_color(),
        verbosity,
        diff,
        display_skipped_hosts: env_bool("ANSIBLE_DISPLAY_SKIPPED_HOSTS", true),
        display_ok_hosts: env_bool("ANSIBLE_DISPLAY_OK_HOSTS", true),
        columns: human::HumanOptions::columns_for(
            console::Term::stdout()
                .size_checked()
                .map(|(_, w)| usize::from(w)),
        ),
        check_mode_markers: env_bool("ANSIBLE_CHECK_MODE_MARKERS", false),
    };
    let handle = tokio::spawn(async move {
        let mut human = human::Human::new(opts);
        let mut orderer = order::Orderer::default();
        // The log gets the human lines whatever the screen format is.
        let mut log = log_path.as_deref().and_then(log::Log::open);
        let mut log_human = human::Human::new(human::HumanOptions {
            color: false,
            ..opts
        });
        let mut emit = |ev: &events::PlaybookEvent| {
            emit_playbook(format, &mut human, ev);
            if let Some(l) = log.as_mut() {
                let r = log_human.render(ev);
                for (stream, chunk) in &r.chunks {
                    let chunk = crate::secret::scrub_bytes(chunk);
                    l.write(&chunk, *stream == human::Stream::Stderr);
                }
            }
        };
        while let Some(incoming) = rx.recv().await {
            for ev in orderer.push(incoming) {
                emit(&ev);
            }
        }
        let mut rest = Vec::new();
        orderer.flush(&mut rest);
        for ev in rest {
            emit(&ev);
        }
    });
    (tx, handle)
}

fn emit_playbook(format: PlaybookFormat, human: &mut human::Human, ev: &events::PlaybookEvent) {
    match format {
        PlaybookFormat::Human => {
            let mut r = human.render(ev);
            // Secrets are scrubbed at the one place everything is printed.
            for (_, chunk) in r.chunks.iter_mut() {
                if let std::borrow::Cow::Owned(clean) = crate::secret::scrub_bytes(chunk) {
                    *chunk = clean;
                }
            }
            let so = std::io::stdout();
            let se = std::io::stderr();
            let _ = r.write_to(&mut so.lock(), &mut se.lock());
        }
        PlaybookFormat::AdHoc { one_line } => {
            let event = match ev {
                events::PlaybookEvent::Result(r) if r.item.is_none() || r.loop_summary => {
                    let mut result = r.result.clone();
                    result.remove("failed");
                    result.retain(|k, _| !k.starts_with("_ansible_"));
                    // Like Ansible, `debug` shows only what it was asked to.
                    if r.action == "debug" && r.status == events::ResultStatus::Ok {
                        result.remove("changed");
                    }
                    Event::Result(HostResult {
                        host: r.host.clone(),
                        status: match r.status {
                            events::ResultStatus::Ok => Status::Ok,
                            events::ResultStatus::Changed => Status::Changed,
                            events::ResultStatus::Failed => Status::Failed,
                            events::ResultStatus::Skipped => Status::Skipped,
                            events::ResultStatus::Unreachable => Status::Unreachable,
                        },
                        module: r.action.clone(),
                        result,
                    })
                }
                events::PlaybookEvent::Warning(w) => Event::Warning(w.clone()),
                events::PlaybookEvent::Error(e) => {
                    let _ = writeln!(std::io::stderr(), "[ERROR]: {e}");
                    return;
                }
                _ => return,
            };
            let (out, err) = minimal::render(&event, use_color(), one_line);
            let _ = std::io::stdout().write_all(&crate::secret::scrub_bytes(&out));
            let _ = std::io::stderr().write_all(&crate::secret::scrub_bytes(&err));
        }
        PlaybookFormat::Json => {
            let line = json::render_playbook(ev);
            let line = crate::secret::scrub_bytes(&line);
            let mut so = std::io::stdout().lock();
            let _ = so.write_all(&line);
            let _ = so.flush();
        }
    }
}
