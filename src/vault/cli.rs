//! `tutti vault create|edit|view|encrypt|decrypt|encrypt_string|rekey`
//! (and `ansible-vault ...` under that name), plus [`VaultArgs`], the vault
//! password options other commands flatten into their own.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::secret::Secret;

use super::{VaultError, VaultOptions, VaultSecrets, load_secrets, vault_options_from_env};

/// Vault password options, for any command that reads vaulted data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct VaultArgs {
    /// The vault identity to use: `label@source`, the source a password
    /// file, an executable printing the password, or `prompt` (repeatable).
    #[arg(long = "vault-id", value_name = "ID", action = clap::ArgAction::Append)]
    pub vault_id: Vec<String>,
    /// Vault password file, or an executable printing the password (repeatable).
    #[arg(
        long = "vault-password-file",
        visible_alias = "vault-pass-file",
        value_name = "FILE",
        action = clap::ArgAction::Append
    )]
    pub vault_password_file: Vec<PathBuf>,
    /// Ask for the vault password.
    #[arg(
        short = 'J',
        long = "ask-vault-password",
        visible_alias = "ask-vault-pass"
    )]
    pub ask_vault_pass: bool,
}

/// `tutti vault <action>`.
#[derive(Debug, Clone, Args)]
pub struct VaultCli {
    #[command(subcommand)]
    pub action: VaultAction,
}

/// The same binary called `ansible-vault`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ansible-vault",
    version,
    about = "Encryption/decryption utility for Ansible data files (tutti's `vault`)"
)]
pub struct AnsibleVaultCli {
    #[command(flatten)]
    pub vault: VaultCli,
}

#[derive(Debug, Clone, Subcommand)]
pub enum VaultAction {
    /// Create a new encrypted file with $EDITOR.
    Create(CreateArgs),
    /// Decrypt files in place (or to --output).
    Decrypt(DecryptArgs),
    /// Edit an encrypted file with $EDITOR.
    Edit(EditArgs),
    /// Show the plaintext of encrypted files.
    View(ViewArgs),
    /// Encrypt files in place (or to --output).
    Encrypt(EncryptArgs),
    /// Encrypt strings into `!vault |` YAML values.
    #[command(name = "encrypt_string")]
    EncryptString(EncryptStringArgs),
    /// Re-encrypt files with a new password.
    Rekey(RekeyArgs),
}

/// Options every action takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// More output (accepted for compatibility).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The vault id to encrypt with (when several are known).
    #[arg(long = "encrypt-vault-id", value_name = "ID")]
    pub encrypt_vault_id: Option<String>,
    /// Accepted for compatibility (tutti never checks for a terminal).
    #[arg(long = "skip-tty-check")]
    pub skip_tty_check: bool,
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct DecryptArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Write here instead of in place (`-` is stdout).
    #[arg(long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Files (none or `-`: stdin).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct EditArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Accepted for compatibility; the file keeps the secret it was encrypted with.
    #[arg(long = "encrypt-vault-id", value_name = "ID")]
    pub encrypt_vault_id: Option<String>,
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ViewArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Files (none or `-`: stdin).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct EncryptArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Write here instead of in place (`-` is stdout).
    #[arg(long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The vault id to encrypt with (when several are known).
    #[arg(long = "encrypt-vault-id", value_name = "ID")]
    pub encrypt_vault_id: Option<String>,
    /// Files (none or `-`: stdin).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct EncryptStringArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Prompt for the string to encrypt.
    #[arg(short = 'p', long = "prompt")]
    pub prompt: bool,
    /// Don't hide the string typed at the prompt.
    #[arg(long = "show-input")]
    pub show_input: bool,
    /// The variable name for each string, in order (repeatable).
    #[arg(short = 'n', long = "name", value_name = "NAME", action = clap::ArgAction::Append)]
    pub names: Vec<String>,
    /// Read the string from stdin and name it NAME.
    #[arg(long = "stdin-name", value_name = "NAME")]
    pub stdin_name: Option<String>,
    /// Write here instead of stdout.
    #[arg(long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The vault id to encrypt with (when several are known).
    #[arg(long = "encrypt-vault-id", value_name = "ID")]
    pub encrypt_vault_id: Option<String>,
    /// Strings to encrypt (`-`: stdin).
    #[arg(value_name = "STRING", allow_hyphen_values = true)]
    pub strings: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RekeyArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The new vault identity, `label@source`.
    #[arg(long = "new-vault-id", value_name = "ID")]
    pub new_vault_id: Option<String>,
    /// The new vault password file.
    #[arg(
        long = "new-vault-password-file",
        visible_alias = "new-vault-pass-file",
        value_name = "FILE"
    )]
    pub new_vault_password_file: Option<PathBuf>,
    /// The vault id to encrypt with (when several new ones are known).
    #[arg(long = "encrypt-vault-id", value_name = "ID")]
    pub encrypt_vault_id: Option<String>,
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Runs a vault action; 0 on success, errors as diagnostics (exit 1, or 5
/// for bad options).
pub fn run(cli: &VaultCli) -> Result<u8, Diagnostic> {
    let config = Config::load();
    let ctx = Ctx { config: &config };
    match &cli.action {
        VaultAction::Create(a) => ctx.create(a),
        VaultAction::Decrypt(a) => ctx.decrypt(a),
        VaultAction::Edit(a) => ctx.edit(a),
        VaultAction::View(a) => ctx.view(a),
        VaultAction::Encrypt(a) => ctx.encrypt(a),
        VaultAction::EncryptString(a) => ctx.encrypt_string(a),
        VaultAction::Rekey(a) => ctx.rekey(a),
    }?;
    Ok(0)
}

struct Ctx<'a> {
    config: &'a Config,
}

/// The secret chosen to encrypt with, and its label.
struct EncryptKey {
    id: String,
    secret: Secret,
}

impl Ctx<'_> {
    fn options(&self, common: &CommonArgs, new_password: bool) -> VaultOptions {
        let mut opts = vault_options_from_env(&common.vault, self.config);
        opts.auto_prompt = true;
        opts.new_password = new_password;
        opts
    }

    fn secrets(&self, opts: &VaultOptions) -> Result<VaultSecrets, Diagnostic> {
        let secrets = load_secrets(opts)?;
        for w in &secrets.warnings {
            eprintln!("[WARNING]: {w}");
        }
        if secrets.is_empty() {
            return Err(Diagnostic::options(
                "A vault password is required to use Ansible's Vault",
            ));
        }
        Ok(secrets)
    }

    /// Secrets for decrypting (view, decrypt, edit, rekey).
    fn decrypt_secrets(&self, common: &CommonArgs) -> Result<VaultSecrets, Diagnostic> {
        self.secrets(&self.options(common, false))
    }

    /// The secret for encrypting (create, encrypt, encrypt_string).
    fn encrypt_key(
        &self,
        common: &CommonArgs,
        encrypt_vault_id: Option<&str>,
    ) -> Result<EncryptKey, Diagnostic> {
        let opts = self.options(common, true);
        let secrets = self.secrets(&opts)?;
        let want = encrypt_vault_id.or(opts.encrypt_vault_id.as_deref());
        let (id, secret) = secrets.encrypt_secret(want)?;
        Ok(EncryptKey {
            id: id.to_string(),
            secret: secret.clone(),
        })
    }

    /// The salt: `ANSIBLE_VAULT_ENCRYPT_SALT` / `[defaults] vault_encrypt_salt`.
    fn salt(&self) -> Option<Vec<u8>> {
        self.config
            .get(
                "defaults",
                "vault_encrypt_salt",
                "ANSIBLE_VAULT_ENCRYPT_SALT",
            )
            .filter(|s| !s.is_empty())
            .map(String::into_bytes)
    }

    fn seal(&self, plaintext: &[u8], key: &EncryptKey) -> String {
        super::encrypt_with_salt(
            plaintext,
            &key.secret,
            Some(&key.id),
            self.salt().as_deref(),
        )
    }

    fn encrypt(&self, a: &EncryptArgs) -> Result<(), Diagnostic> {
        check_output(&a.files, a.output.as_deref())?;
        let key = self.encrypt_key(&a.common, a.encrypt_vault_id.as_deref())?;
        for input in inputs(&a.files) {
            let data = read_input(&input)?;
            if let Ok(text) = std::str::from_utf8(&data)
                && super::is_vault(text)
            {
                return Err(Diagnostic::error("input is already encrypted"));
            }
            let sealed = self.seal(&data, &key);
            let dest = destination(&input, a.output.as_deref());
            write_output(&dest, sealed.as_bytes(), None)?;
        }
        if std::io::stdout().is_terminal() {
            eprintln!("Encryption successful");
        }
        Ok(())
    }

    fn decrypt(&self, a: &DecryptArgs) -> Result<(), Diagnostic> {
        check_output(&a.files, a.output.as_deref())?;
        let secrets = self.decrypt_secrets(&a.common)?;
        for input in inputs(&a.files) {
            let plain = open_vault(&input, &secrets)?.plaintext;
            let dest = destination(&input, a.output.as_deref());
            write_output(&dest, &plain, None)?;
        }
        if std::io::stdout().is_terminal() {
            eprintln!("Decryption successful");
        }
        Ok(())
    }

    fn view(&self, a: &ViewArgs) -> Result<(), Diagnostic> {
        let secrets = self.decrypt_secrets(&a.common)?;
        for input in inputs(&a.files) {
            let plain = open_vault(&input, &secrets)?.plaintext;
            write_output(&Dest::Stdout, &plain, None)?;
        }
        Ok(())
    }

    fn create(&self, a: &CreateArgs) -> Result<(), Diagnostic> {
        let [file] = a.files.as_slice() else {
            return Err(Diagnostic::options(
                "ansible-vault create can take only one filename argument",
            ));
        };
        if file.exists() {
            return Err(Diagnostic::error(format!(
                "{} exists, please use 'edit' instead",
                file.display()
            )));
        }
        let key = self.encrypt_key(&a.common, a.encrypt_vault_id.as_deref())?;
        let plain = edit_in_private_file(file, b"")?;
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", dir.display())))?;
        }
        let sealed = self.seal(&plain, &key);
        write_output(&Dest::File(file.clone()), sealed.as_bytes(), None)
    }

    fn edit(&self, a: &EditArgs) -> Result<(), Diagnostic> {
        let [file] = a.files.as_slice() else {
            return Err(Diagnostic::options(
                "ansible-vault edit can take only one filename argument",
            ));
        };
        let secrets = self.decrypt_secrets(&a.common)?;
        let input = Input::File(file.clone());
        let opened = open_vault(&input, &secrets)?;
        let edited = edit_in_private_file(file, &opened.plaintext)?;
        if edited == opened.plaintext {
            return Ok(());
        }
        // Re-encrypt with the secret that opened it, keeping the header's id.
        let secret = secrets
            .get(&opened.secret_id)
            .cloned()
            .ok_or_else(|| Diagnostic::error("the vault secret disappeared"))?;
        let key = EncryptKey {
            id: opened
                .header_id
                .clone()
                .unwrap_or_else(|| super::DEFAULT_VAULT_ID.to_string()),
            secret,
        };
        let sealed = self.seal(&edited, &key);
        let real = std::fs::canonicalize(file).unwrap_or_else(|_| file.clone());
        write_output(&Dest::File(real.clone()), sealed.as_bytes(), mode_of(&real))
    }

    fn rekey(&self, a: &RekeyArgs) -> Result<(), Diagnostic> {
        let secrets = self.decrypt_secrets(&a.common)?;
        let mut new_opts = VaultOptions {
            auto_prompt: true,
            new_password: true,
            ..self.options(&a.common, true)
        };
        new_opts.vault_ids = a.new_vault_id.iter().cloned().collect();
        new_opts.password_files = a.new_vault_password_file.iter().cloned().collect();
        new_opts.ask_vault_pass = false;
        let new_secrets = self.secrets(&new_opts)?;
        let want = a
            .encrypt_vault_id
            .as_deref()
            .or(new_opts.encrypt_vault_id.as_deref())
            .filter(|id| new_secrets.get(id).is_some());
        let (id, secret) = new_secrets.encrypt_secret(want)?;
        let key = EncryptKey {
            id: id.to_string(),
            secret: secret.clone(),
        };
        for file in &a.files {
            let input = Input::File(file.clone());
            let plain = open_vault(&input, &secrets)?.plaintext;
            let sealed = self.seal(&plain, &key);
            let real = std::fs::canonicalize(file).unwrap_or_else(|_| file.clone());
            write_output(&Dest::File(real.clone()), sealed.as_bytes(), mode_of(&real))?;
        }
        eprintln!("Rekey successful");
        Ok(())
    }

    fn encrypt_string(&self, a: &EncryptStringArgs) -> Result<(), Diagnostic> {
        // (plaintext, name, where it came from)
        let mut items: Vec<(Vec<u8>, Option<String>, &str)> = Vec::new();
        let key = self.encrypt_key(&a.common, a.encrypt_vault_id.as_deref())?;
        if a.prompt {
            let name = match a.names.first() {
                Some(n) => Some(n.clone()),
                None => {
                    let n = prompt_line("Variable name (enter for no name): ")?;
                    Some(n).filter(|n| !n.is_empty())
                }
            };
            let text = if a.show_input {
                prompt_line("String to encrypt: ")?
            } else {
                rpassword::prompt_password("String to encrypt (hidden): ")
                    .map_err(|e| Diagnostic::error(format!("cannot prompt: {e}")))?
            };
            if text.is_empty() {
                return Err(Diagnostic::options(
                    "The plaintext provided from the prompt was empty, not encrypting",
                ));
            }
            items.push((text.into_bytes(), name, "the prompt"));
        }
        let from_stdin = a.stdin_name.is_some()
            || a.strings.iter().any(|s| s == "-")
            || (a.strings.is_empty() && !a.prompt);
        if from_stdin {
            if std::io::stdin().is_terminal() {
                eprintln!(
                    "Reading plaintext input from stdin. (ctrl-d to end input, twice if your content does not already have a newline)"
                );
            }
            let mut data = Vec::new();
            std::io::stdin()
                .read_to_end(&mut data)
                .map_err(|e| Diagnostic::error(format!("cannot read stdin: {e}")))?;
            if data.is_empty() {
                return Err(Diagnostic::options("stdin was empty, not encrypting"));
            }
            items.push((data, a.stdin_name.clone(), "stdin"));
        }
        let args: Vec<&String> = a.strings.iter().filter(|s| *s != "-").collect();
        if !a.prompt {
            if !a.names.is_empty() && a.names.len() != args.len() {
                eprintln!("The number of --name options do not match the number of args.");
                if let Some(last) = a.names.last() {
                    eprintln!(
                        "The last named variable will be \"{last}\". The rest will not have names."
                    );
                }
            }
            for (i, s) in args.iter().enumerate() {
                if s.is_empty() {
                    return Err(Diagnostic::options(
                        "The plaintext provided from the command line args was empty, not encrypting",
                    ));
                }
                items.push((
                    s.as_bytes().to_vec(),
                    a.names.get(i).cloned(),
                    "the command line args",
                ));
            }
        }
        let mut outs = Vec::new();
        for (n, (plain, name, origin)) in items.iter().enumerate() {
            if items.len() > 1 {
                match name {
                    Some(name) => eprintln!(
                        "# The encrypted version of variable (\"{name}\", the string #{} from {origin}).",
                        n + 1
                    ),
                    None => eprintln!(
                        "# The encrypted version of the string #{} from {origin}.",
                        n + 1
                    ),
                }
            }
            let sealed = self.seal(plain, &key);
            outs.push(super::yaml_block(name.as_deref(), &sealed));
        }
        let mut text = outs.join("\n");
        text.push('\n');
        let dest = match &a.output {
            Some(p) if p.as_os_str() != "-" => Dest::File(p.clone()),
            _ => Dest::Stdout,
        };
        write_output(&dest, text.as_bytes(), None)?;
        if std::io::stdout().is_terminal() {
            eprintln!("Encryption successful");
        }
        Ok(())
    }
}

/// Where data is read from.
#[derive(Debug, Clone)]
enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::Stdin => "-".to_string(),
            Input::File(p) => p.display().to_string(),
        }
    }
}

/// Where data is written.
#[derive(Debug, Clone)]
enum Dest {
    Stdout,
    File(PathBuf),
}

fn inputs(files: &[PathBuf]) -> Vec<Input> {
    if files.is_empty() {
        return vec![Input::Stdin];
    }
    files
        .iter()
        .map(|f| {
            if f.as_os_str() == "-" {
                Input::Stdin
            } else {
                Input::File(f.clone())
            }
        })
        .collect()
}

fn check_output(files: &[PathBuf], output: Option<&Path>) -> Result<(), Diagnostic> {
    if output.is_some() && files.len() > 1 {
        return Err(Diagnostic::options(
            "At most one input file may be used with the --output option",
        ));
    }
    Ok(())
}

/// In place for a file, stdout for stdin, unless `--output` says otherwise.
fn destination(input: &Input, output: Option<&Path>) -> Dest {
    match (output, input) {
        (Some(p), _) if p.as_os_str() == "-" => Dest::Stdout,
        (Some(p), _) => Dest::File(p.to_path_buf()),
        (None, Input::Stdin) => Dest::Stdout,
        (None, Input::File(f)) => Dest::File(f.clone()),
    }
}

fn read_input(input: &Input) -> Result<Vec<u8>, Diagnostic> {
    match input {
        Input::Stdin => {
            if std::io::stdin().is_terminal() {
                eprintln!(
                    "Reading plaintext input from stdin. (ctrl-d to end input, twice if your content does not already have a newline)"
                );
            }
            let mut data = Vec::new();
            std::io::stdin()
                .read_to_end(&mut data)
                .map_err(|e| Diagnostic::error(format!("Unable to read from stdin: {e}")))?;
            Ok(data)
        }
        Input::File(p) => std::fs::read(p).map_err(|e| {
            Diagnostic::error(format!("Unable to read source file ({}): {e}", p.display()))
        }),
    }
}

/// Reads and decrypts; errors name the input the way `ansible-vault` does.
fn open_vault(input: &Input, secrets: &VaultSecrets) -> Result<super::Decrypted, Diagnostic> {
    let data = read_input(input)?;
    let text = String::from_utf8_lossy(&data);
    super::decrypt_detailed(&text, secrets).map_err(|e| {
        let msg = match e {
            VaultError::NotVault | VaultError::DecryptionFailed => {
                format!("{} for {}", with_period(&e.to_string()), input.name())
            }
            other => format!("{other} (in {})", input.name()),
        };
        Diagnostic::error(msg)
    })
}

fn with_period(s: &str) -> String {
    if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode_of(_path: &Path) -> Option<u32> {
    None
}

/// Writes `data` to stdout, or replaces a file atomically (a sibling
/// temporary file renamed over it) with `mode` (default 0600, as
/// `ansible-vault` creates its outputs).
fn write_output(dest: &Dest, data: &[u8], mode: Option<u32>) -> Result<(), Diagnostic> {
    let path = match dest {
        Dest::Stdout => {
            let mut out = std::io::stdout().lock();
            return out
                .write_all(data)
                .and_then(|()| out.flush())
                .map_err(|e| Diagnostic::error(format!("cannot write to stdout: {e}")));
        }
        Dest::File(p) => p,
    };
    let fail =
        |e: std::io::Error| Diagnostic::error(format!("cannot write {}: {e}", path.display()));
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vault".to_string());
    let tmp = dir.join(format!(
        ".{file_name}.tutti-{}.tmp",
        hex::encode(rand::random::<[u8; 6]>())
    ));
    let result = (|| {
        let mut f = create_private(&tmp, mode.unwrap_or(0o600))?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

#[cfg(unix)]
fn create_private(path: &Path, mode: u32) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    if mode != 0o600 {
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(f)
}

#[cfg(not(unix))]
fn create_private(path: &Path, _mode: u32) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// A private directory (0700) holding the plaintext being edited; the
/// file is overwritten with zeros and everything removed when dropped,
/// whatever happened.
struct PrivateDir {
    dir: PathBuf,
    file: PathBuf,
}

impl PrivateDir {
    fn new(extension: Option<&std::ffi::OsStr>) -> std::io::Result<PrivateDir> {
        let base = std::env::temp_dir();
        let mut last = None;
        for _ in 0..8 {
            let dir = base.join(format!(
                "tutti-vault-{}",
                hex::encode(rand::random::<[u8; 8]>())
            ));
            match make_private_dir(&dir) {
                Ok(()) => {
                    let mut file = dir.join("vault-edit");
                    if let Some(ext) = extension {
                        file.set_extension(ext);
                    }
                    return Ok(PrivateDir { dir, file });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("cannot create a temporary directory")))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if let Ok(meta) = std::fs::metadata(&self.file)
            && let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&self.file)
        {
            let zeros = vec![0u8; usize::try_from(meta.len()).unwrap_or(0)];
            let _ = f.write_all(&zeros);
            let _ = f.sync_all();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(unix)]
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir(dir)
}

/// Writes `initial` to a private temporary file, runs `$EDITOR` (default
/// `vi`, split like a shell would) on it, and returns what it then holds.
fn edit_in_private_file(original: &Path, initial: &[u8]) -> Result<Vec<u8>, Diagnostic> {
    let tmp = PrivateDir::new(original.extension())
        .map_err(|e| Diagnostic::error(format!("cannot create a private temporary file: {e}")))?;
    let fail =
        |e: std::io::Error| Diagnostic::error(format!("cannot write the temporary file: {e}"));
    let mut f = create_private(&tmp.file, 0o600).map_err(fail)?;
    f.write_all(initial).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    drop(f);

    let editor = std::env::var("EDITOR")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string());
    let words = shlex::split(&editor)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| Diagnostic::error(format!("cannot parse EDITOR={editor:?}")))?;
    let (program, args) = words
        .split_first()
        .ok_or_else(|| Diagnostic::error("EDITOR is empty"))?;
    // While the editor runs, Ctrl-C is the editor's business: with tokio's
    // handler installed it no longer kills tutti, so the plaintext copy is
    // always wiped and removed (`PrivateDir::drop`).
    #[cfg(unix)]
    let _sigint = tokio::runtime::Handle::try_current().ok().and_then(|h| {
        let _entered = h.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok()
    });
    let status = std::process::Command::new(program)
        .args(args)
        .arg(&tmp.file)
        .status()
        .map_err(|e| Diagnostic::error(format!("cannot run the editor {program}: {e}")))?;
    if !status.success() {
        return Err(Diagnostic::error(format!(
            "The editor {program} exited with {status}; {} was not changed",
            original.display()
        )));
    }
    std::fs::read(&tmp.file)
        .map_err(|e| Diagnostic::error(format!("cannot read the temporary file back: {e}")))
}

fn prompt_line(prompt: &str) -> Result<String, Diagnostic> {
    eprint!("{prompt}");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Diagnostic::error(format!("cannot read the answer: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
