//! `log_path` (`ANSIBLE_LOG_PATH`): every line tutti shows is also appended
//! to a file, in Ansible's format
//! `2026-11-21 22:31:22,068 p=PID u=USER n=ansible INFO| message`, without
//! colours and with secrets scrubbed (the printer scrubs before writing).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

pub struct Log {
    file: File,
    prefix_tail: String,
}

impl Log {
    /// Opens (appends to) the log file; None when it cannot be opened,
    /// after a warning on stderr (as Ansible warns and goes on).
    pub fn open(path: &Path) -> Option<Log> {
        match OpenOptions::new().create(true).append(true).open(path) {
            Ok(file) => Some(Log {
                file,
                prefix_tail: format!(
                    " p={} u={} n=ansible",
                    std::process::id(),
                    crate::connection::resolve::local_user()
                ),
            }),
            Err(e) => {
                eprintln!(
                    "[WARNING]: log file at '{}' is not writeable: {e}",
                    path.display()
                );
                None
            }
        }
    }

    /// Appends the lines of `text` (stderr output is logged as WARNING or
    /// ERROR by its own prefix; everything else as INFO).
    pub fn write(&mut self, text: &[u8], stderr: bool) {
        let plain = console::strip_ansi_codes(&String::from_utf8_lossy(text)).into_owned();
        let now = chrono::Local::now();
        let stamp = format!(
            "{},{:03}",
            now.format("%Y-%m-%d %H:%M:%S"),
            now.timestamp_subsec_millis()
        );
        for line in plain.lines() {
            if line.is_empty() {
                continue;
            }
            let level = if !stderr {
                "INFO"
            } else if line.starts_with("[ERROR]") {
                "ERROR"
            } else {
                "WARNING"
            };
            let _ = writeln!(self.file, "{stamp}{} {level}| {line}", self.prefix_tail);
        }
    }
}
