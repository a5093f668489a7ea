//! The command line: `tutti adhoc|inventory|roles ...`, and the same binary
//! answering as `ansible`, `ansible-inventory`, `ansible-galaxy`, `ansible-doc` and
//! `ansible-config` when
//! invoked under those names (a symlink), with their own argument shapes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tutti",
    version,
    about = "Agentless configuration management over SSH that speaks Ansible"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run playbooks (like `ansible-playbook`).
    Playbook(Box<PlaybookCli>),
    /// Run one module on the hosts matching a pattern (like `ansible`).
    Adhoc(Box<AdhocCli>),
    /// Show the inventory (like `ansible-inventory`).
    Inventory(InventoryCli),
    /// Install roles from git, pinned in `roles.lock` (like `ansible-galaxy role`).
    Roles(RolesCli),
    /// Encrypt and decrypt Ansible Vault data (like `ansible-vault`).
    Vault(crate::vault::VaultCli),
    /// Show a module's parameters, or list the modules (like `ansible-doc`).
    Doc(DocCli),
    /// Show the settings in effect and where they come from (like `ansible-config`).
    Config(ConfigCli),
}

/// `tutti config` / `ansible-config`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ansible-config",
    version,
    about = "The settings tutti reads (tutti's `config`)"
)]
pub struct ConfigCli {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ConfigAction {
    /// Every setting tutti reads: its ansible.cfg key, variable and default.
    List,
    /// The value of each setting and where it came from.
    Dump {
        /// Only the settings that differ from their defaults.
        #[arg(long = "only-changed", alias = "changed-only")]
        only_changed: bool,
        /// Plugin type; only the base settings exist.
        #[arg(short = 't', long = "type", default_value = "base")]
        kind: String,
        /// Output format; only `display` is produced.
        #[arg(short = 'f', long = "format", default_value = "display")]
        format: String,
    },
    /// The config file in use.
    View,
}

/// `tutti doc` / `ansible-doc`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ansible-doc",
    version,
    about = "Module documentation (tutti's `doc`)"
)]
pub struct DocCli {
    /// Modules to document, by short name or FQCN.
    #[arg(value_name = "MODULE")]
    pub modules: Vec<String>,
    /// List the available modules.
    #[arg(short = 'l', long = "list")]
    pub list: bool,
    /// Print a task skeleton instead of the full page.
    #[arg(short = 's', long = "snippet")]
    pub snippet: bool,
    /// Plugin type; only `module` is documented.
    #[arg(
        short = 't',
        long = "type",
        value_name = "TYPE",
        default_value = "module"
    )]
    pub kind: String,
}

/// Output format for results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Ansible's look.
    Human,
    /// One JSON event per line.
    Json,
}

/// Options shared by commands that connect to hosts.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Inventory source: a file, a directory, or a list `host1,host2,` (repeatable).
    #[arg(short = 'i', long = "inventory", value_name = "SOURCE", action = clap::ArgAction::Append)]
    pub inventory: Vec<String>,
    /// Further limit the selected hosts with a pattern.
    #[arg(short = 'l', long = "limit", value_name = "SUBSET")]
    pub limit: Option<String>,
    /// How many hosts to work on at once.
    #[arg(short = 'f', long = "forks", value_name = "N")]
    pub forks: Option<usize>,
    /// Connect as this user.
    #[arg(short = 'u', long = "user", value_name = "REMOTE_USER")]
    pub user: Option<String>,
    /// Extra variables: `k=v`, JSON, or `@file` (repeatable; they always win).
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS", action = clap::ArgAction::Append)]
    pub extra_vars: Vec<String>,
    /// Run operations with become (sudo).
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    /// Become this user (default root).
    #[arg(long = "become-user", value_name = "USER")]
    pub become_user: Option<String>,
    /// Privilege escalation method (only sudo for now).
    #[arg(long = "become-method", value_name = "METHOD")]
    pub become_method: Option<String>,
    /// Ask for the privilege escalation password.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// Read the privilege escalation password from a file.
    #[arg(long = "become-password-file", value_name = "FILE")]
    pub become_password_file: Option<PathBuf>,
    /// Ask for the connection password.
    #[arg(short = 'k', long = "ask-pass")]
    pub ask_pass: bool,
    /// Read the connection password from a file.
    #[arg(long = "connection-password-file", value_name = "FILE")]
    pub connection_password_file: Option<PathBuf>,
    /// Connection timeout in seconds (default 10).
    #[arg(short = 'T', long = "timeout", value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Give up on a command after this many seconds (default: never).
    #[arg(long = "task-timeout", value_name = "SECONDS")]
    pub task_timeout: Option<u64>,
    /// Connection type: ssh or local.
    #[arg(short = 'c', long = "connection", value_name = "TYPE")]
    pub connection: Option<String>,
    /// Private key file for SSH.
    #[arg(long = "private-key", visible_alias = "key-file", value_name = "FILE")]
    pub private_key: Option<PathBuf>,
    /// Extra arguments for SSH (`-o Key=Value`, `-J host`).
    #[arg(
        long = "ssh-common-args",
        value_name = "ARGS",
        allow_hyphen_values = true
    )]
    pub ssh_common_args: Option<String>,
    /// More extra arguments for SSH.
    #[arg(
        long = "ssh-extra-args",
        value_name = "ARGS",
        allow_hyphen_values = true
    )]
    pub ssh_extra_args: Option<String>,
    /// Don't change anything; predict what would change.
    #[arg(short = 'C', long = "check")]
    pub check: bool,
    /// Show differences in changed files.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,
    /// More output (repeat for more).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Output format.
    #[arg(
        long = "output",
        value_enum,
        env = "TUTTI_OUTPUT",
        default_value = "human"
    )]
    pub output: OutputFormat,
    #[command(flatten)]
    pub vault: crate::vault::VaultArgs,
}

#[derive(Debug, Clone, Args)]
pub struct AdhocCli {
    /// Host pattern (`all`, `web:&prod`, `~db\d+`, ...).
    pub pattern: String,
    /// Module to run.
    #[arg(short = 'm', long = "module-name", default_value = "command")]
    pub module: String,
    /// Module arguments: `k=v` words or JSON.
    #[arg(short = 'a', long = "args", allow_hyphen_values = true)]
    pub args: Option<String>,
    /// One line per host.
    #[arg(short = 'o', long = "one-line")]
    pub one_line: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PlaybookCli {
    /// Playbook files, run in order.
    #[arg(required = true, value_name = "PLAYBOOK")]
    pub playbooks: Vec<PathBuf>,
    /// Only run plays and tasks tagged with these (repeatable, comma-separated).
    #[arg(short = 't', long = "tags", action = clap::ArgAction::Append)]
    pub tags: Vec<String>,
    /// Skip plays and tasks tagged with these.
    #[arg(long = "skip-tags", action = clap::ArgAction::Append)]
    pub skip_tags: Vec<String>,
    /// Check the playbooks' syntax and exit.
    #[arg(long = "syntax-check")]
    pub syntax_check: bool,
    /// List the hosts each play would run on.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,
    /// List the tasks each play would run.
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,
    /// List the tags in the playbooks.
    #[arg(long = "list-tags")]
    pub list_tags: bool,
    /// Start at the task with this name.
    #[arg(long = "start-at-task", value_name = "NAME")]
    pub start_at_task: Option<String>,
    /// Confirm each task before running it.
    #[arg(long = "step")]
    pub step: bool,
    /// Run handlers even if a task failed.
    #[arg(long = "force-handlers")]
    pub force_handlers: bool,
    /// Clear the fact cache.
    #[arg(long = "flush-cache")]
    pub flush_cache: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "ansible-playbook",
    version,
    about = "Run playbooks (tutti's `playbook`)"
)]
pub struct AnsiblePlaybookCli {
    #[command(flatten)]
    pub playbook: PlaybookCli,
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "ansible",
    version,
    about = "Run one module on hosts (tutti's `adhoc`)"
)]
pub struct AnsibleCli {
    #[command(flatten)]
    pub adhoc: AdhocCli,
}

#[derive(Debug, Clone, Args)]
pub struct InventoryCli {
    /// Inventory source (repeatable).
    #[arg(short = 'i', long = "inventory", value_name = "SOURCE", action = clap::ArgAction::Append)]
    pub inventory: Vec<String>,
    /// Print all hosts and groups as JSON.
    #[arg(long = "list", conflicts_with_all = ["graph", "host"])]
    pub list: bool,
    /// Print the group tree, from GROUP (default all).
    #[arg(long = "graph", num_args = 0..=1, default_missing_value = "all", value_name = "GROUP")]
    pub graph: Option<String>,
    /// Print one host's variables.
    #[arg(long = "host", value_name = "NAME")]
    pub host: Option<String>,
    /// With --graph, show variables too.
    #[arg(long = "vars")]
    pub vars: bool,
    /// Limit to hosts matching a pattern.
    #[arg(short = 'l', long = "limit")]
    pub limit: Option<String>,
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "ansible-inventory",
    version,
    about = "Show the inventory (tutti's `inventory`)"
)]
pub struct AnsibleInventoryCli {
    #[command(flatten)]
    pub inventory: InventoryCli,
}

/// `tutti roles install|update|list`.
#[derive(Debug, Clone, Args)]
pub struct RolesCli {
    #[command(subcommand)]
    pub action: RolesAction,
}

/// What to do with roles.
#[derive(Debug, Clone, Subcommand)]
pub enum RolesAction {
    /// Install the roles of a requirements file (or given as sources), honouring `roles.lock`.
    Install(RolesInstallArgs),
    /// Re-resolve versions (all roles, or the NAMEs given), install them and rewrite `roles.lock`.
    Update(RolesUpdateArgs),
    /// List the installed roles with their version (and lock status).
    List(RolesListArgs),
}

/// Options of `roles install` (and `ansible-galaxy role install`).
#[derive(Debug, Clone, Args)]
pub struct RolesInstallArgs {
    /// Role sources (`git+URL[,version[,name]]`), besides or instead of `-r`.
    #[arg(value_name = "ROLE")]
    pub roles: Vec<String>,
    /// A requirements file (`requirements.yml`); its `roles.lock` sits next to it.
    #[arg(short = 'r', long = "role-file", value_name = "FILE")]
    pub role_file: Option<PathBuf>,
    /// Install into this directory (default: the first writable `roles_path` entry).
    #[arg(short = 'p', long = "roles-path", value_name = "DIR")]
    pub roles_path: Option<PathBuf>,
    /// Reinstall roles that are already installed (and overwrite local changes).
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Don't install the roles' dependencies.
    #[arg(short = 'n', long = "no-deps")]
    pub no_deps: bool,
    /// Keep the `.git` directory of installed roles.
    #[arg(short = 'g', long = "keep-scm-meta")]
    pub keep_scm_meta: bool,
    /// More output.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Options of `roles update`.
#[derive(Debug, Clone, Args)]
pub struct RolesUpdateArgs {
    /// Only re-resolve these roles (default: all).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    #[command(flatten)]
    pub install: RolesUpdateInstallArgs,
}

/// The install options `roles update` shares (no positional sources).
#[derive(Debug, Clone, Args)]
pub struct RolesUpdateInstallArgs {
    /// The requirements file (default `./requirements.yml`).
    #[arg(short = 'r', long = "role-file", value_name = "FILE")]
    pub role_file: Option<PathBuf>,
    /// Install into this directory (default: the first writable `roles_path` entry).
    #[arg(short = 'p', long = "roles-path", value_name = "DIR")]
    pub roles_path: Option<PathBuf>,
    /// Overwrite local changes to installed roles.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Don't install the roles' dependencies.
    #[arg(short = 'n', long = "no-deps")]
    pub no_deps: bool,
    /// Keep the `.git` directory of installed roles.
    #[arg(short = 'g', long = "keep-scm-meta")]
    pub keep_scm_meta: bool,
}

/// Options of `roles list`.
#[derive(Debug, Clone, Args)]
pub struct RolesListArgs {
    /// Only this role.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// List this directory instead of `roles_path`.
    #[arg(short = 'p', long = "roles-path", value_name = "DIR")]
    pub roles_path: Option<PathBuf>,
    /// The requirements file whose `roles.lock` gives the lock status.
    #[arg(short = 'r', long = "role-file", value_name = "FILE")]
    pub role_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "ansible-galaxy",
    version,
    about = "Install roles from git (tutti's `roles`)"
)]
pub struct AnsibleGalaxyCli {
    #[command(subcommand)]
    pub command: GalaxyCommand,
}

/// `ansible-galaxy role ACTION` or, for roles implicitly, `ansible-galaxy ACTION`.
#[derive(Debug, Clone, Subcommand)]
pub enum GalaxyCommand {
    /// Manage roles.
    Role(RolesCli),
    #[command(flatten)]
    Implicit(RolesAction),
}

impl AnsibleGalaxyCli {
    /// The roles action asked for, with or without the `role` word.
    pub fn action(&self) -> &RolesAction {
        match &self.command {
            GalaxyCommand::Role(r) => &r.action,
            GalaxyCommand::Implicit(a) => a,
        }
    }
}

/// What the process was asked to do, whatever name it was called by.
pub enum Invocation {
    Tutti(Cli),
    Ansible(Box<AnsibleCli>),
    AnsiblePlaybook(Box<AnsiblePlaybookCli>),
    AnsibleInventory(AnsibleInventoryCli),
    AnsibleGalaxy(Box<AnsibleGalaxyCli>),
    AnsibleVault(Box<crate::vault::AnsibleVaultCli>),
    AnsibleDoc(DocCli),
    AnsibleConfig(ConfigCli),
}

/// Parses the command line, choosing the grammar by the program name.
pub fn parse() -> Invocation {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.as_str() {
        "ansible" => Invocation::Ansible(Box::new(AnsibleCli::parse())),
        "ansible-playbook" => Invocation::AnsiblePlaybook(Box::new(AnsiblePlaybookCli::parse())),
        "ansible-inventory" => Invocation::AnsibleInventory(AnsibleInventoryCli::parse()),
        "ansible-galaxy" => Invocation::AnsibleGalaxy(Box::new(AnsibleGalaxyCli::parse())),
        "ansible-vault" => {
            Invocation::AnsibleVault(Box::new(crate::vault::AnsibleVaultCli::parse()))
        }
        "ansible-doc" => Invocation::AnsibleDoc(DocCli::parse()),
        "ansible-config" => Invocation::AnsibleConfig(ConfigCli::parse()),
        _ => Invocation::Tutti(Cli::parse()),
    }
}
