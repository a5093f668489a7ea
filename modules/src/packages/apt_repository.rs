//! The `apt_repository` module: a one-line APT source (`deb URI suite
//! components`) in `/etc/apt/sources.list.d/NAME.list`, idempotent by
//! content. Check reads `/etc/apt/sources.list` and every `*.list` in
//! `sources.list.d` in one probe; apply rewrites only the files that
//! change, atomically, then runs `apt-get update` when `update_cache`.
//! The file name, unless given, is made from the URI's host and path with
//! every run of other characters turned into `_`.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common;
use crate::files::attrs::Mode;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Diff, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;

/// The `apt_repository` module.
pub struct AptRepository;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_string")]
    codename: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    filename: Option<String>,
    // Nothing to install: tutti needs no Python on the target.
    #[serde(default, deserialize_with = "params::opt_bool")]
    #[allow(dead_code)]
    install_python_apt: Option<bool>,
    #[serde(default)]
    mode: Option<Value>,
    repo: String,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, alias = "update-cache", deserialize_with = "params::opt_bool")]
    update_cache: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    #[allow(dead_code)]
    update_cache_retries: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    #[allow(dead_code)]
    update_cache_retry_max_delay: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    #[allow(dead_code)]
    validate_certs: Option<bool>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "apt_repository",
    short: "Add or remove a one-line APT source",
    description: "Adds a `deb` or `deb-src` line to \
        `/etc/apt/sources.list.d/FILENAME.list`, or removes it from every source \
        list where it is active. Lines are compared with runs of blanks \
        collapsed, so a source already present anywhere is left alone. Changed \
        files are rewritten atomically, a list left empty by a removal is \
        deleted, and `apt-get update` runs after a change when `update_cache` \
        is on. Launchpad `ppa:` shortcuts are not supported.",
    params: &[
        param(
            "codename",
            Kind::Str,
            "Replaces `$(lsb_release -cs)` in `repo` with this release \
            codename.",
        ),
        param(
            "filename",
            Kind::Str,
            "Name of the list file, without directory or `.list`. When \
            absent it is made from the URI's host and path (`deb.debian.org/debian` \
            gives `deb_debian_org_debian`).",
        ),
        param(
            "install_python_apt",
            Kind::Bool,
            "Accepted for compatibility; has no effect (tutti needs no \
            Python on the target).",
        ),
        param(
            "mode",
            Kind::Raw,
            "Permissions of a list file this task writes, octal \
            (`'0644'`) or symbolic.",
        )
        .default("0644"),
        param(
            "repo",
            Kind::Str,
            "The source line, for example \
            `deb [signed-by=/etc/apt/keyrings/x.asc] https://example.org/debian bookworm main`.",
        )
        .required(),
        param(
            "state",
            Kind::Str,
            "`present` adds the line unless some source list already has \
            it, `absent` removes it from every source list.",
        )
        .default("present")
        .choices(&["absent", "present"]),
        param(
            "update_cache",
            Kind::Bool,
            "Run `apt-get update` after changing a source list.",
        )
        .default("true")
        .aliases(&["update-cache"]),
        param(
            "update_cache_retries",
            Kind::Int,
            "Accepted for compatibility; has no effect.",
        ),
        param(
            "update_cache_retry_max_delay",
            Kind::Int,
            "Accepted for compatibility; has no effect.",
        ),
        param(
            "validate_certs",
            Kind::Bool,
            "Accepted for compatibility; has no effect (nothing is \
            downloaded).",
        ),
    ],
    check: Support::Full,
    diff: Support::Full,
    example: "- name: Add the PostgreSQL repository
  ansible.builtin.apt_repository:
    repo: deb [signed-by=/etc/apt/keyrings/pgdg.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main
    filename: pgdg
    state: present

- name: Drop an old backports line
  ansible.builtin.apt_repository:
    repo: deb http://deb.debian.org/debian buster-backports main
    state: absent
    update_cache: false
",
    open: false,
    fields: params::fields::<Params>,
};

/// Prints, for each source list, NUL, its path, NUL, its content.
pub const LIST_SCRIPT: &str = r#"for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  printf '\0%s\0' "$f"
  cat -- "$f"
done
exit 0
"#;

struct Prep {
    repo: String,
    present: bool,
    dest: String,
    mode: Mode,
    update_cache: bool,
}

/// The source line with runs of blanks collapsed, for comparison.
fn canonical(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `deb [opts] http://user:pw@host/path suite c` → `host_path`.
pub fn suggest_filename(repo: &str) -> String {
    let mut words = repo
        .split_whitespace()
        .filter(|w| *w != "deb" && *w != "deb-src")
        .filter(|w| !(w.starts_with('[') || w.ends_with(']') || w.contains('=')));
    let uri = words.next().unwrap_or_default();
    let uri = uri.split_once("://").map(|(_, r)| r).unwrap_or(uri);
    let uri = uri.rsplit_once('@').map(|(_, r)| r).unwrap_or(uri);
    let mut out = String::new();
    for part in uri.split(|c: char| !c.is_ascii_alphanumeric()) {
        if part.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(part);
    }
    out
}

impl Module for AptRepository {
    fn name(&self) -> &'static str {
        "apt_repository"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let present = match p.state.as_deref().unwrap_or("present") {
            "present" => true,
            "absent" => false,
            other => {
                return Err(ParamError::at(
                    "state",
                    format!("value of state must be one of: absent, present, got: {other}"),
                ));
            }
        };
        let mut repo = canonical(&p.repo);
        if repo.starts_with("ppa:") {
            return Err(ParamError::at(
                "repo",
                "ppa: repositories (Ubuntu Launchpad) are not supported by tutti; give the deb line",
            ));
        }
        if let Some(c) = p.codename.filter(|c| !c.is_empty()) {
            repo = repo.replace("$(lsb_release -cs)", &c);
        }
        if !(repo.starts_with("deb ") || repo.starts_with("deb-src ")) {
            return Err(ParamError::at(
                "repo",
                format!("Invalid repository string: {repo}"),
            ));
        }
        let file = match p.filename.filter(|f| !f.is_empty()) {
            Some(f) => f,
            None => suggest_filename(&repo),
        };
        if file.contains('/') || file.is_empty() {
            return Err(ParamError::at(
                "filename",
                format!("invalid filename '{file}'"),
            ));
        }
        let dest = format!(
            "/etc/apt/sources.list.d/{}.list",
            file.trim_end_matches(".list")
        );
        Ok(Box::new(Prep {
            repo,
            present,
            dest,
            mode: common::mode_param(p.mode.as_ref(), 0o644)?,
            update_cache: p.update_cache.unwrap_or(true),
        }))
    }
}

/// The files as the probe printed them.
fn parse_files(stdout: &str) -> Vec<(String, String)> {
    let mut parts = stdout.split('\0').skip(1);
    let mut out = Vec::new();
    while let (Some(path), Some(body)) = (parts.next(), parts.next()) {
        out.push((path.to_string(), body.to_string()));
    }
    out
}

/// Whether `line` is an active copy of `repo`.
fn is_repo_line(line: &str, repo: &str) -> bool {
    let t = line.trim();
    !t.starts_with('#') && canonical(t) == repo
}

impl Prep {
    /// `(path, before, after)` for each file that changes.
    fn edits(&self, files: &[(String, String)]) -> Vec<(String, Option<String>, String)> {
        let mut out = Vec::new();
        if self.present {
            if files
                .iter()
                .any(|(_, body)| body.lines().any(|l| is_repo_line(l, &self.repo)))
            {
                return out;
            }
            let before = files
                .iter()
                .find(|(p, _)| *p == self.dest)
                .map(|(_, b)| b.clone());
            let mut after = before.clone().unwrap_or_default();
            if !after.is_empty() && !after.ends_with('\n') {
                after.push('\n');
            }
            after.push_str(&self.repo);
            after.push('\n');
            out.push((self.dest.clone(), before, after));
        } else {
            for (path, body) in files {
                if !body.lines().any(|l| is_repo_line(l, &self.repo)) {
                    continue;
                }
                let after: String = body
                    .lines()
                    .filter(|l| !is_repo_line(l, &self.repo))
                    .map(|l| format!("{l}\n"))
                    .collect();
                out.push((path.clone(), Some(body.clone()), after));
            }
        }
        out
    }

    fn result(&self) -> Facts {
        let mut r = Facts::new();
        r.insert("repo".into(), json!(self.repo));
        r.insert(
            "state".into(),
            json!(if self.present { "present" } else { "absent" }),
        );
        r
    }
}

#[async_trait]
impl Prepared for Prep {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let out = host
            .probe(&common::script(LIST_SCRIPT, Vec::<String>::new()))
            .await?;
        let files = parse_files(&text::decode(&out.stdout));
        let edits = self.edits(&files);
        let mut result = self.result();
        if edits.is_empty() {
            result.insert("sources_added".into(), json!([]));
            result.insert("sources_removed".into(), json!([]));
            return Ok(Plan::InSync { result });
        }
        let paths: Vec<&str> = edits.iter().map(|(p, _, _)| p.as_str()).collect();
        let (added, removed) = if self.present {
            (paths, vec![])
        } else {
            (vec![], paths)
        };
        result.insert("sources_added".into(), json!(added));
        result.insert("sources_removed".into(), json!(removed));
        let diff = edits
            .iter()
            .map(|(p, before, after)| Diff {
                data: None,
                before_header: Some(p.clone()),
                after_header: Some(p.clone()),
                before: before.clone().unwrap_or_default(),
                after: after.clone(),
            })
            .collect();
        Ok(Plan::Change {
            changes: edits
                .iter()
                .map(|(p, _, _)| {
                    format!(
                        "{} {} in {p}",
                        if self.present { "add" } else { "remove" },
                        self.repo
                    )
                })
                .collect(),
            diff,
            result,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let (result, diff) = match plan {
            Plan::InSync { result } => {
                return Ok(Applied {
                    result,
                    ..Applied::default()
                });
            }
            Plan::Change { result, diff, .. } => (result, diff),
            Plan::Unpredictable { .. } => (self.result(), Vec::new()),
        };
        for d in &diff {
            let path = d.after_header.clone().unwrap_or_default();
            if !self.present && d.after.trim().is_empty() {
                // Like Ansible, a source list left empty is deleted.
                host.remove(&path).await?;
            } else {
                common::write_file(host, &path, &d.after, &self.mode).await?;
            }
        }
        if self.update_cache {
            common::apt_update(host).await?;
        }
        Ok(Applied {
            changed: true,
            result,
            diff,
            ..Applied::default()
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_uris() {
        assert_eq!(
            suggest_filename(
                "deb [arch=amd64 signed-by=/k.gpg] https://u:p@dl.google.com/linux/chrome/deb/ stable main"
            ),
            "dl_google_com_linux_chrome_deb"
        );
        assert_eq!(
            suggest_filename("deb http://deb.debian.org/debian bookworm main"),
            "deb_debian_org_debian"
        );
    }

    #[test]
    fn parses_probe_files() {
        let out = "\0/etc/apt/sources.list\0deb a b c\n# x\n\0/etc/apt/sources.list.d/e.list\0";
        let f = parse_files(out);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].1, "deb a b c\n# x\n");
        assert_eq!(f[1].1, "");
    }
}
