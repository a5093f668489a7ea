//! The fact cache: `fact_caching = jsonfile` keeps each host's facts in
//! `<fact_caching_connection>/<host>` as JSON for `fact_caching_timeout`
//! seconds (86400 by default), so `gathering = smart` can skip gathering
//! on the next run. `--flush-cache` empties it. The default `memory`
//! cache lives only as long as the run.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::config::Config;

#[derive(Debug, Clone)]
pub struct FactCache {
    dir: Option<PathBuf>,
    timeout: Duration,
}

impl FactCache {
    pub fn from_config(cfg: &Config) -> FactCache {
        let plugin = cfg
            .get("defaults", "fact_caching", "ANSIBLE_CACHE_PLUGIN")
            .unwrap_or_else(|| "memory".into());
        let dir = match plugin.as_str() {
            "jsonfile" | "ansible.builtin.jsonfile" => cfg
                .get(
                    "defaults",
                    "fact_caching_connection",
                    "ANSIBLE_CACHE_PLUGIN_CONNECTION",
                )
                .map(|d| expand_home(&d)),
            _ => None,
        };
        let timeout = cfg
            .get(
                "defaults",
                "fact_caching_timeout",
                "ANSIBLE_CACHE_PLUGIN_TIMEOUT",
            )
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(86400);
        FactCache {
            dir,
            timeout: Duration::from_secs(timeout),
        }
    }

    fn path(&self, host: &str) -> Option<PathBuf> {
        // A host name never contains '/', but a hostile inventory might.
        let safe: String = host
            .chars()
            .map(|c| if c == '/' { '_' } else { c })
            .collect();
        self.dir.as_ref().map(|d| d.join(safe))
    }

    /// Cached facts for a host, if present and fresh (0 = never expire).
    pub fn load(&self, host: &str) -> Option<Map<String, Value>> {
        let path = self.path(host)?;
        let meta = std::fs::metadata(&path).ok()?;
        if !self.timeout.is_zero() {
            let age = SystemTime::now()
                .duration_since(meta.modified().ok()?)
                .ok()?;
            if age > self.timeout {
                return None;
            }
        }
        let text = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str(&text).ok()? {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// Stores a host's facts (atomically: a reader never sees half a file).
    pub fn store(&self, host: &str, facts: &Map<String, Value>) {
        let Some(path) = self.path(host) else { return };
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let tmp = dir.join(format!(
            ".{}.tmp{}",
            host.replace('/', "_"),
            std::process::id()
        ));
        let text = Value::Object(facts.clone()).to_string();
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }

    /// `--flush-cache`.
    pub fn flush(&self) {
        if let Some(dir) = &self.dir
            && let Ok(rd) = std::fs::read_dir(dir)
        {
            for e in rd.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => Path::new(p).to_path_buf(),
    }
}
