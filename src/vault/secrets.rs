//! Where vault passwords come from: `--vault-id label@source` (a file, an
//! executable whose stdout is the password, or `prompt`),
//! `--vault-password-file`, `--ask-vault-pass`, and the configuration
//! (`ANSIBLE_VAULT_PASSWORD_FILE` / `[defaults] vault_password_file`,
//! `ANSIBLE_VAULT_IDENTITY_LIST` / `[defaults] vault_identity_list`).
//!
//! Normalisation follows Ansible: a password file's content is stripped of
//! surrounding whitespace, a script's stdout of `\r`/`\n` only, a prompted
//! password of surrounding whitespace; empty passwords are rejected.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::secret::Secret;

use super::DEFAULT_VAULT_ID;
use super::cli::VaultArgs;

/// The vault passwords known to a run, each with its label (vault id), in
/// the order they were given.
#[derive(Clone, Default)]
pub struct VaultSecrets {
    entries: Vec<(String, Secret)>,
    /// `vault_id_match`: only try secrets whose label matches the file's
    /// vault id (off by default, as in Ansible).
    pub id_match: bool,
    /// Sources that failed while others worked (Ansible warns about them):
    /// `Error in vault password file loading (label): ...`.
    pub warnings: Vec<String>,
}

impl fmt::Debug for VaultSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultSecrets")
            .field("ids", &self.ids())
            .field("id_match", &self.id_match)
            .finish()
    }
}

impl VaultSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret under `id` (`default` for an unlabelled one).
    pub fn push(&mut self, id: impl Into<String>, secret: Secret) {
        self.entries.push((id.into(), secret));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `(id, secret)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Secret)> {
        self.entries.iter().map(|(id, s)| (id.as_str(), s))
    }

    /// The labels, in order (duplicates kept).
    pub fn ids(&self) -> Vec<&str> {
        self.entries.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// The first secret labelled `id`.
    pub fn get(&self, id: &str) -> Option<&Secret> {
        self.iter().find(|(i, _)| *i == id).map(|(_, s)| s)
    }

    /// The secret to encrypt with, as `ansible-vault` picks it: the one
    /// labelled `encrypt_vault_id` if given, else the only one (several
    /// without `--encrypt-vault-id` is an options error, exit 5).
    pub fn encrypt_secret(
        &self,
        encrypt_vault_id: Option<&str>,
    ) -> Result<(&str, &Secret), Diagnostic> {
        if let Some(want) = encrypt_vault_id {
            return self.iter().find(|(id, _)| *id == want).ok_or_else(|| {
                let known: Vec<String> = self.ids().iter().map(|i| format!("'{i}'")).collect();
                Diagnostic::error(format!(
                    "Did not find a match for --encrypt-vault-id={want} in the known vault-ids [{}]",
                    known.join(", ")
                ))
            });
        }
        match self.entries.as_slice() {
            [] => Err(Diagnostic::options(
                "A vault password is required to use Ansible's Vault",
            )),
            [(id, s)] => Ok((id.as_str(), s)),
            _ => Err(Diagnostic::options(format!(
                "The vault-ids {} are available to encrypt. Specify the vault-id to encrypt with --encrypt-vault-id",
                self.ids().join(",")
            ))),
        }
    }
}

/// How to find the vault passwords; see [`vault_options_from_env`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VaultOptions {
    /// `label@source` or `source` slugs: configured identities first, then
    /// `--vault-id` ones.
    pub vault_ids: Vec<String>,
    /// `--vault-password-file`s, then the configured one (label `default`).
    pub password_files: Vec<PathBuf>,
    /// `--ask-vault-pass` / `-J`.
    pub ask_vault_pass: bool,
    /// Prompt when no source was given at all (the vault commands do; a
    /// playbook run does not).
    pub auto_prompt: bool,
    /// Prompts ask for a new password twice (encrypting commands).
    pub new_password: bool,
    /// `vault_id_match` / `ANSIBLE_VAULT_ID_MATCH`.
    pub id_match: bool,
    /// The label for unlabelled sources (`vault_identity`, default
    /// `default`).
    pub default_id: String,
    /// `--encrypt-vault-id`, else `vault_encrypt_identity`.
    pub encrypt_vault_id: Option<String>,
}

/// Options from the command line, completed from the environment and the
/// config file: `ANSIBLE_VAULT_IDENTITY_LIST`/`vault_identity_list`
/// (comma-separated slugs, before the `--vault-id`s),
/// `ANSIBLE_VAULT_PASSWORD_FILE`/`vault_password_file` (after the
/// `--vault-password-file`s), `vault_identity`, `vault_id_match`,
/// `vault_encrypt_identity`. `auto_prompt` and `new_password` are off; the
/// vault commands turn them on.
pub fn vault_options_from_env(args: &VaultArgs, config: &Config) -> VaultOptions {
    let mut vault_ids: Vec<String> = config
        .get(
            "defaults",
            "vault_identity_list",
            "ANSIBLE_VAULT_IDENTITY_LIST",
        )
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    vault_ids.extend(args.vault_id.iter().cloned());
    let mut password_files = args.vault_password_file.clone();
    if let Some(f) = config
        .get(
            "defaults",
            "vault_password_file",
            "ANSIBLE_VAULT_PASSWORD_FILE",
        )
        .filter(|f| !f.trim().is_empty())
    {
        password_files.push(expand_home(f.trim()));
    }
    let default_id = config
        .get("defaults", "vault_identity", "ANSIBLE_VAULT_IDENTITY")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_VAULT_ID.to_string());
    let id_match = config
        .get("defaults", "vault_id_match", "ANSIBLE_VAULT_ID_MATCH")
        .is_some_and(|v| is_true(&v));
    let encrypt_vault_id = config
        .get(
            "defaults",
            "vault_encrypt_identity",
            "ANSIBLE_VAULT_ENCRYPT_IDENTITY",
        )
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    VaultOptions {
        vault_ids,
        password_files,
        ask_vault_pass: args.ask_vault_pass,
        auto_prompt: false,
        new_password: false,
        id_match,
        default_id,
        encrypt_vault_id,
    }
}

fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "y" | "t"
    )
}

fn expand_home(p: &str) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/")
        && let Some(home) = dirs::home_dir()
    {
        return home.join(rest);
    }
    PathBuf::from(p)
}

/// Where one secret comes from.
enum Source {
    /// `--ask-vault-pass`, or nothing given with `auto_prompt`.
    AskVaultPass,
    /// `label@prompt`.
    Prompt,
    /// A file, or an executable.
    Path(PathBuf),
}

/// Loads every configured secret. A source that fails is skipped with a
/// warning (in [`VaultSecrets::warnings`]) if another one worked; if none
/// did, the last error is returned (exit 1).
pub fn load_secrets(opts: &VaultOptions) -> Result<VaultSecrets, Diagnostic> {
    let default_id = if opts.default_id.is_empty() {
        DEFAULT_VAULT_ID
    } else {
        opts.default_id.as_str()
    };
    let mut sources: Vec<(String, Source)> = Vec::new();
    for slug in &opts.vault_ids {
        let (label, source) = match slug.split_once('@') {
            Some((label, source)) => (label.to_string(), source),
            None => (default_id.to_string(), slug.as_str()),
        };
        let source = match source {
            "prompt" => Source::Prompt,
            "prompt_ask_vault_pass" => Source::AskVaultPass,
            path => Source::Path(expand_home(path)),
        };
        sources.push((label, source));
    }
    for file in &opts.password_files {
        sources.push((default_id.to_string(), Source::Path(file.clone())));
    }
    if opts.ask_vault_pass || (sources.is_empty() && opts.auto_prompt) {
        sources.push((default_id.to_string(), Source::AskVaultPass));
    }

    let mut secrets = VaultSecrets {
        id_match: opts.id_match,
        ..VaultSecrets::default()
    };
    let mut last_error = None;
    for (label, source) in sources {
        let loaded = match &source {
            Source::AskVaultPass | Source::Prompt => prompt(&label, &source, opts.new_password)
                .map_err(|e| (format!("Error in vault password prompt ({label})"), e)),
            Source::Path(path) => from_path(path, &label, &secrets)
                .map_err(|e| (format!("Error in vault password file loading ({label})"), e)),
        };
        match loaded {
            Ok(secret) => secrets.push(label, secret),
            Err((context, e)) => {
                secrets.warnings.push(format!("{context}: {e}"));
                last_error = Some(e);
            }
        }
    }
    if secrets.is_empty()
        && let Some(e) = last_error
    {
        return Err(Diagnostic::error(e));
    }
    Ok(secrets)
}

/// Asks on the terminal (twice for a new password).
fn prompt(label: &str, source: &Source, new_password: bool) -> Result<Secret, String> {
    let labelled = matches!(source, Source::Prompt);
    let (first, confirm) = match (labelled, new_password) {
        (false, false) => ("Vault password: ".to_string(), None),
        (false, true) => (
            "New Vault password: ".to_string(),
            Some("Confirm New Vault password: ".to_string()),
        ),
        (true, false) => (format!("Vault password ({label}): "), None),
        (true, true) => (
            format!("New vault password ({label}): "),
            Some(format!("Confirm new vault password ({label}): ")),
        ),
    };
    let ask = |p: &str| {
        rpassword::prompt_password(p).map_err(|e| format!("cannot prompt for ({label}): {e}"))
    };
    let password = ask(&first)?;
    if let Some(confirm) = confirm {
        let again = ask(&confirm)?;
        if again.trim() != password.trim() {
            return Err("Passwords do not match".to_string());
        }
    }
    let password = password.trim();
    if password.is_empty() {
        return Err("Invalid vault password was provided from prompt".to_string());
    }
    Ok(Secret::new(password))
}

/// A password file (stripped; may itself be vaulted) or an executable
/// (stdout stripped of `\r\n`).
fn from_path(path: &Path, label: &str, known: &VaultSecrets) -> Result<Secret, String> {
    let meta = std::fs::metadata(path)
        .map_err(|_| format!("The vault password file {} was not found", path.display()))?;
    if meta.is_file() && is_executable(&meta) {
        return from_script(path, label);
    }
    let bytes = std::fs::read(path)
        .map_err(|e| format!("Could not read vault password file {}: {e}", path.display()))?;
    let mut text = String::from_utf8(bytes.trim_ascii().to_vec()).map_err(|_| {
        format!(
            "The vault password file {} is not valid UTF-8",
            path.display()
        )
    })?;
    if super::is_vault(&text) {
        let plain = super::decrypt(&text, known).map_err(|e| {
            format!(
                "The vault password file {} is vault-encrypted: {e}",
                path.display()
            )
        })?;
        text = String::from_utf8(plain.trim_ascii().to_vec()).map_err(|_| {
            format!(
                "The vault password file {} is not valid UTF-8",
                path.display()
            )
        })?;
    }
    if text.is_empty() {
        return Err(format!(
            "Invalid vault password was provided from file ({})",
            path.display()
        ));
    }
    Ok(Secret::new(text))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

fn from_script(path: &Path, label: &str) -> Result<Secret, String> {
    // A "client" script (`*-client`, any extension) is told which vault id
    // is wanted.
    let client = path
        .file_stem()
        .is_some_and(|s| s.to_string_lossy().ends_with("-client"));
    // Never a PATH lookup: `pw.sh` means the file here.
    let program = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut cmd = Command::new(program);
    if client {
        cmd.arg("--vault-id").arg(label);
    }
    let out = cmd
        .stdin(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| {
            format!(
                "Problem running vault password script {} ({e}). If this is not a script, remove the executable bit from the file.",
                path.display()
            )
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code().unwrap_or(-1);
        if client && code == 2 {
            return Err(format!(
                "Vault password client script {} did not find a secret for vault-id={label}: {}",
                path.display(),
                stderr.trim()
            ));
        }
        return Err(format!(
            "Vault password script {} returned non-zero ({code}): {}",
            path.display(),
            stderr.trim()
        ));
    }
    let trimmed = trim_crlf(&out.stdout);
    let text = String::from_utf8(trimmed.to_vec()).map_err(|_| {
        format!(
            "The vault password script {} printed invalid UTF-8",
            path.display()
        )
    })?;
    if text.is_empty() {
        return Err(format!(
            "Invalid vault password was provided from script ({})",
            path.display()
        ));
    }
    Ok(Secret::new(text))
}

/// Python's `bytes.strip(b"\r\n")`: only CR and LF, at both ends.
fn trim_crlf(b: &[u8]) -> &[u8] {
    let is = |c: &u8| *c == b'\r' || *c == b'\n';
    let start = b.iter().position(|c| !is(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is(c)).map_or(start, |i| i + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_only_crlf() {
        assert_eq!(trim_crlf(b"\r\n  pw \n\r\n"), b"  pw ");
        assert_eq!(trim_crlf(b"\n\n"), b"");
    }

    #[test]
    fn files_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, "  alpha \n").unwrap();
        let b = dir.path().join("b");
        std::fs::write(&b, "beta").unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        let opts = VaultOptions {
            vault_ids: vec![format!("prod@{}", b.display())],
            password_files: vec![a.clone(), empty.clone()],
            ..VaultOptions::default()
        };
        let s = load_secrets(&opts).unwrap();
        assert_eq!(s.ids(), ["prod", "default"]);
        assert_eq!(s.get("default").unwrap().expose(), "alpha");
        assert_eq!(s.get("prod").unwrap().expose(), "beta");
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].contains("Invalid vault password"));

        let only_empty = VaultOptions {
            password_files: vec![empty],
            ..VaultOptions::default()
        };
        let err = load_secrets(&only_empty).unwrap_err();
        assert!(
            err.msg
                .starts_with("Invalid vault password was provided from file")
        );
        assert_eq!(err.exit_code(), 1);

        let missing = VaultOptions {
            vault_ids: vec!["x@/nonexistent/pw".into()],
            ..VaultOptions::default()
        };
        assert_eq!(
            load_secrets(&missing).unwrap_err().msg,
            "The vault password file /nonexistent/pw was not found"
        );
    }

    #[cfg(unix)]
    #[test]
    fn scripts() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("pw.sh");
        std::fs::write(&script, "#!/bin/sh\nprintf '  spaced pw  \\r\\n'\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
        let client = dir.path().join("vault-client.sh");
        std::fs::write(
            &client,
            "#!/bin/sh\n[ \"$1\" = --vault-id ] && echo \"pw-$2\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o700)).unwrap();
        let opts = VaultOptions {
            vault_ids: vec![
                format!("s@{}", script.display()),
                format!("dev@{}", client.display()),
            ],
            ..VaultOptions::default()
        };
        let s = load_secrets(&opts).unwrap();
        assert_eq!(s.get("s").unwrap().expose(), "  spaced pw  ");
        assert_eq!(s.get("dev").unwrap().expose(), "pw-dev");
    }

    #[test]
    fn encrypt_secret_choice() {
        let mut s = VaultSecrets::new();
        assert_eq!(s.encrypt_secret(None).unwrap_err().exit_code(), 5);
        s.push("a", Secret::new("1"));
        assert_eq!(s.encrypt_secret(None).unwrap().0, "a");
        s.push("b", Secret::new("2"));
        let err = s.encrypt_secret(None).unwrap_err();
        assert_eq!(err.exit_code(), 5);
        assert!(err.msg.starts_with("The vault-ids a,b are available"));
        assert_eq!(s.encrypt_secret(Some("b")).unwrap().1.expose(), "2");
        assert_eq!(
            s.encrypt_secret(Some("zz")).unwrap_err().msg,
            "Did not find a match for --encrypt-vault-id=zz in the known vault-ids ['a', 'b']"
        );
    }
}
