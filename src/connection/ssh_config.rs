//! The subset of OpenSSH client configuration (`~/.ssh/config`,
//! `/etc/ssh/ssh_config`, `-o Key=Value`) that users rely on: parsing with
//! `Host`/`Match`/`Include`, first-value-wins resolution for one host,
//! `%` token and `~` expansion, and the resulting [`HostConfig`].
//!
//! We write our own parser because russh-config understands neither
//! `Include` nor `Match`, and silently applies options after an unknown
//! `Match` line to the preceding `Host` block (see reliability.md §3).

use std::path::{Path, PathBuf};

use super::known_hosts::{match_pattern_list, wildcard_match};

/// OpenSSH's READCONF_MAX_DEPTH: nesting limit for `Include`.
const MAX_INCLUDE_DEPTH: usize = 16;

/// A parsed set of configuration files, in precedence order.
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    /// One item list per top-level file; each file starts "active", like
    /// OpenSSH reading `~/.ssh/config` and then `/etc/ssh/ssh_config`.
    files: Vec<Vec<Item>>,
}

/// The resolved options for one host. `None`/empty means "not configured":
/// callers apply their own defaults (port 22, local user, default identity
/// and known_hosts files).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostConfig {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
    pub identities_only: Option<bool>,
    /// `[user@]host[:port][,next...]`; `ProxyJump none` resolves to `None`.
    pub proxy_jump: Option<String>,
    /// Raw value as written (`yes`, `accept-new`, ...); see
    /// `known_hosts::Policy::parse`.
    pub strict_host_key_checking: Option<String>,
    /// `UserKnownHostsFile none` resolves to `/dev/null`, the idiom most
    /// configs use for "no user file", so that empty keeps meaning "unset".
    pub user_known_hosts_files: Vec<PathBuf>,
    pub global_known_hosts_files: Vec<PathBuf>,
    /// Seconds.
    pub connect_timeout: Option<u64>,
    /// Seconds; 0 disables.
    pub server_alive_interval: Option<u64>,
    pub server_alive_count_max: Option<u32>,
    pub hash_known_hosts: Option<bool>,
    pub forward_agent: Option<bool>,
    pub batch_mode: Option<bool>,
    /// `ProxyCommand none` resolves to `None`.
    pub proxy_command: Option<String>,
}

#[derive(Debug, Clone)]
enum Item {
    /// `Host` line: whitespace-separated patterns.
    Host(Vec<String>),
    /// `Match` line; `None` when it uses criteria we don't support, so the
    /// block never matches.
    Match(Option<Vec<Criterion>>),
    Opt(Opt),
    /// `Include`: one item list per included file, in glob order.
    Include(Vec<Vec<Item>>),
}

#[derive(Debug, Clone)]
struct Opt {
    /// Lower-cased keyword.
    key: String,
    args: Vec<String>,
}

#[derive(Debug, Clone)]
struct Criterion {
    negate: bool,
    kind: CritKind,
}

#[derive(Debug, Clone)]
enum CritKind {
    All,
    Host(String),
    OriginalHost(String),
    User(String),
    LocalUser(String),
}

/// Where relative `Include` paths are resolved and what `~` means.
struct ParseCtx {
    include_base: PathBuf,
    home: Option<PathBuf>,
}

impl ParseCtx {
    /// User configs resolve relative includes against `~/.ssh`, the system
    /// config against `/etc/ssh`, as ssh_config(5) specifies.
    fn for_origin(origin: &Path) -> Self {
        let home = dirs::home_dir();
        let include_base = if origin.starts_with("/etc/ssh") {
            PathBuf::from("/etc/ssh")
        } else {
            home.as_ref()
                .map(|h| h.join(".ssh"))
                .unwrap_or_else(|| PathBuf::from(".ssh"))
        };
        ParseCtx { include_base, home }
    }
}

/// Keywords we model in [`HostConfig`].
const MODELED: &[&str] = &[
    "hostname",
    "user",
    "port",
    "identityfile",
    "identitiesonly",
    "proxyjump",
    "proxycommand",
    "stricthostkeychecking",
    "userknownhostsfile",
    "globalknownhostsfile",
    "connecttimeout",
    "serveraliveinterval",
    "serveralivecountmax",
    "hashknownhosts",
    "forwardagent",
    "batchmode",
];

/// Valid OpenSSH keywords we accept and ignore without a warning; anything
/// else is most likely a typo and gets one.
const KNOWN_IGNORED: &[&str] = &[
    "addkeystoagent",
    "addressfamily",
    "bindaddress",
    "bindinterface",
    "canonicaldomains",
    "canonicalizefallbacklocal",
    "canonicalizehostname",
    "canonicalizemaxdots",
    "canonicalizepermittedcnames",
    "casignaturealgorithms",
    "certificatefile",
    "challengeresponseauthentication",
    "channeltimeout",
    "checkhostip",
    "ciphers",
    "clearallforwardings",
    "compression",
    "connectionattempts",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "dynamicforward",
    "enableescapecommandline",
    "enablesshkeysign",
    "escapechar",
    "exitonforwardfailure",
    "fingerprinthash",
    "forkafterauthentication",
    "forwardx11",
    "forwardx11timeout",
    "forwardx11trusted",
    "gatewayports",
    "gssapiauthentication",
    "gssapidelegatecredentials",
    "hostbasedacceptedalgorithms",
    "hostbasedauthentication",
    "hostbasedkeytypes",
    "hostkeyalgorithms",
    "hostkeyalias",
    "identityagent",
    "ignoreunknown",
    "ipqos",
    "kbdinteractiveauthentication",
    "kbdinteractivedevices",
    "kexalgorithms",
    "knownhostscommand",
    "localcommand",
    "localforward",
    "loglevel",
    "logverbose",
    "macs",
    "nohostauthenticationforlocalhost",
    "numberofpasswordprompts",
    "obscurekeystroketiming",
    "passwordauthentication",
    "permitlocalcommand",
    "permitremoteopen",
    "pkcs11provider",
    "preferredauthentications",
    "protocol",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "pubkeyauthentication",
    "rekeylimit",
    "remotecommand",
    "remoteforward",
    "requesttty",
    "requiredrsasize",
    "revokedhostkeys",
    "securitykeyprovider",
    "sendenv",
    "sessiontype",
    "setenv",
    "stdinnull",
    "streamlocalbindmask",
    "streamlocalbindunlink",
    "tag",
    "tcpkeepalive",
    "tunnel",
    "tunneldevice",
    "updatehostkeys",
    "usekeychain",
    "useprivilegedport",
    "verifyhostkeydns",
    "visualhostkey",
    "xauthlocation",
];

/// Keywords whose values accumulate instead of first-wins.
const ACCUMULATE: &[&str] = &["identityfile"];

impl SshConfig {
    /// `~/.ssh/config`, then `/etc/ssh/ssh_config`. Missing files are fine.
    pub fn load_default() -> (Self, Vec<String>) {
        let mut paths = Vec::new();
        if let Some(home) = dirs::home_dir() {
            paths.push(home.join(".ssh").join("config"));
        }
        paths.push(PathBuf::from("/etc/ssh/ssh_config"));
        Self::load(&paths)
    }

    /// Reads `paths` in precedence order (earlier files win). Missing
    /// files are skipped silently; unreadable ones produce a warning.
    pub fn load(paths: &[PathBuf]) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let mut files = Vec::new();
        for path in paths {
            let ctx = ParseCtx::for_origin(path);
            match std::fs::read(path) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    files.push(parse_text(&text, path, &ctx, 0, &mut warnings));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => warnings.push(format!("{}: cannot read: {e}", path.display())),
            }
        }
        (SshConfig { files }, warnings)
    }

    /// Parses one configuration text; `origin` names it in warnings and
    /// decides where relative `Include`s are looked up.
    pub fn parse_str(text: &str, origin: &Path) -> (Self, Vec<String>) {
        let ctx = ParseCtx::for_origin(origin);
        let mut warnings = Vec::new();
        let items = parse_text(text, origin, &ctx, 0, &mut warnings);
        (SshConfig { files: vec![items] }, warnings)
    }

    /// Resolves the options for `host` (the name as given, like the
    /// argument of `ssh`). `user_hint` is a user given on the command line
    /// (Ansible's `remote_user`); like `ssh -l`, it takes precedence over
    /// the config and is what `Match user` and `%r` see.
    pub fn resolve(&self, host: &str, user_hint: Option<&str>) -> HostConfig {
        self.resolve_with_options(host, user_hint, &[])
    }

    /// Like [`SshConfig::resolve`], with `-o Key=Value` options applied
    /// first so they win over the files exactly as on the ssh command line
    /// (including their effect on `Match host` and token expansion).
    pub fn resolve_with_options(
        &self,
        host: &str,
        user_hint: Option<&str>,
        opts: &[(String, String)],
    ) -> HostConfig {
        let mut raw = Raw::default();
        for (k, v) in opts {
            let key = k.to_ascii_lowercase();
            let args = option_args(&key, v);
            raw.offer(&key, args);
        }
        if let Some(u) = user_hint {
            raw.offer("user", vec![u.to_string()]);
        }
        let env = Env::current();
        let st = EvalState {
            original: host,
            env: &env,
        };
        for items in &self.files {
            eval_items(items, &st, true, false, &mut raw);
        }
        raw.finalize(host, &env)
    }
}

/// Splits one `-o` argument (`Key=Value` or `Key Value`) into its parts.
pub fn split_option_arg(arg: &str) -> Option<(String, String)> {
    let (key, rest) = split_keyword(arg.trim())?;
    Some((key.to_string(), rest.to_string()))
}

/// Applies one `-o Key=Value` option to an already resolved config with
/// highest precedence. Tokens are expanded from `cfg`'s own hostname, port
/// and user (`%n` falls back to the hostname). Returns an error message for
/// bad values and for keywords we don't model, so callers can warn.
pub fn parse_option(cfg: &mut HostConfig, key: &str, value: &str) -> Result<(), String> {
    let key = key.to_ascii_lowercase();
    let args = option_args(&key, value);
    validate(&key, &args)?;
    if !MODELED.contains(&key.as_str()) {
        return Err(format!("unsupported option `{key}` ignored"));
    }
    let env = Env::current();
    let hostname = cfg.hostname.clone().unwrap_or_default();
    let ruser = cfg.user.clone().unwrap_or_else(|| env.local_user.clone());
    let tokens = Tokens {
        original: &hostname,
        hostname: &hostname,
        port: cfg.port.unwrap_or(22),
        ruser: &ruser,
        env: &env,
    };
    match key.as_str() {
        // `-o` identities come first, before configured ones, as in ssh.
        "identityfile" => {
            let mut tmp = HostConfig::default();
            apply_typed(&mut tmp, &key, &args, &tokens);
            let mut ids = tmp.identity_files;
            for p in cfg.identity_files.drain(..) {
                if !ids.contains(&p) {
                    ids.push(p);
                }
            }
            cfg.identity_files = ids;
        }
        "proxyjump" => {
            apply_typed(cfg, &key, &args, &tokens);
            // A command-line ProxyJump makes ssh ignore ProxyCommand.
            cfg.proxy_command = None;
        }
        "proxycommand" => {
            apply_typed(cfg, &key, &args, &tokens);
            cfg.proxy_jump = None;
        }
        _ => apply_typed(cfg, &key, &args, &tokens),
    }
    Ok(())
}

impl HostConfig {
    /// Applies `-o` options (e.g. from `ansible_ssh_common_args`) with
    /// highest precedence; returns one warning per rejected option.
    pub fn apply_options(&mut self, opts: &[(String, String)]) -> Vec<String> {
        let mut warnings = Vec::new();
        for (k, v) in opts {
            if let Err(e) = parse_option(self, k, v) {
                warnings.push(format!("-o {k}={v}: {e}"));
            }
        }
        warnings
    }
}

/// Values of one `-o` option: ProxyCommand keeps its text verbatim (it goes
/// to a shell); everything else is tokenised like a config line.
fn option_args(key: &str, value: &str) -> Vec<String> {
    if key == "proxycommand" {
        vec![value.trim().to_string()]
    } else {
        let (args, _) = tokenize(value);
        args
    }
}

// ---------------------------------------------------------------------------
// Parsing

fn parse_text(
    text: &str,
    origin: &Path,
    ctx: &ParseCtx,
    depth: usize,
    warnings: &mut Vec<String>,
) -> Vec<Item> {
    let mut items = Vec::new();
    // IgnoreUnknown suppresses unknown-keyword warnings; honoured for the
    // lines after it in the same file (approximation of OpenSSH, which
    // applies it per resolved host).
    let mut ignore_unknown: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let at = || format!("{}:{lineno}", origin.display());
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((keyword, rest)) = split_keyword(trimmed) else {
            warnings.push(format!("{}: cannot parse line", at()));
            continue;
        };
        let key = keyword.to_ascii_lowercase();
        if key == "proxycommand" {
            // The command is the rest of the line, verbatim, for the shell.
            if rest.is_empty() {
                warnings.push(format!("{}: ProxyCommand needs an argument", at()));
                continue;
            }
            items.push(Item::Opt(Opt {
                key,
                args: vec![rest.to_string()],
            }));
            continue;
        }
        let (args, unbalanced) = tokenize(rest);
        if unbalanced {
            warnings.push(format!("{}: unbalanced quotes; line ignored", at()));
            continue;
        }
        match key.as_str() {
            "host" => {
                if args.is_empty() {
                    warnings.push(format!("{}: Host without patterns matches nothing", at()));
                }
                items.push(Item::Host(args));
            }
            "match" => {
                let cond = match parse_match(&args) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        warnings.push(format!("{}: {e}; this Match block never applies", at()));
                        None
                    }
                };
                items.push(Item::Match(cond));
            }
            "include" => {
                if args.is_empty() {
                    warnings.push(format!("{}: Include needs an argument", at()));
                    continue;
                }
                if depth >= MAX_INCLUDE_DEPTH {
                    warnings.push(format!(
                        "{}: Include nested deeper than {MAX_INCLUDE_DEPTH} levels; ignored",
                        at()
                    ));
                    continue;
                }
                let mut files = Vec::new();
                for arg in &args {
                    let mut path = PathBuf::from(tilde_expand(arg, ctx.home.as_deref()));
                    if path.is_relative() {
                        path = ctx.include_base.join(path);
                    }
                    for file in glob_files(&path) {
                        match std::fs::read(&file) {
                            Ok(bytes) => {
                                let text = String::from_utf8_lossy(&bytes);
                                files.push(parse_text(&text, &file, ctx, depth + 1, warnings));
                            }
                            Err(e) => warnings.push(format!(
                                "{}: cannot read {}: {e}",
                                at(),
                                file.display()
                            )),
                        }
                    }
                }
                items.push(Item::Include(files));
            }
            _ => {
                if key == "ignoreunknown" {
                    ignore_unknown.extend(args.iter().cloned());
                }
                let known =
                    MODELED.contains(&key.as_str()) || KNOWN_IGNORED.contains(&key.as_str());
                if !known {
                    let suppressed = ignore_unknown
                        .iter()
                        .any(|p| match_pattern_list(&key, &p.to_ascii_lowercase()));
                    if !suppressed {
                        warnings.push(format!("{}: unknown option `{keyword}` ignored", at()));
                    }
                    continue;
                }
                if MODELED.contains(&key.as_str())
                    && let Err(e) = validate(&key, &args)
                {
                    warnings.push(format!("{}: {keyword}: {e}", at()));
                    continue;
                }
                items.push(Item::Opt(Opt { key, args }));
            }
        }
    }
    items
}

/// Splits `Keyword value...`, `Keyword=value` and `Keyword = value`.
fn split_keyword(line: &str) -> Option<(&str, &str)> {
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = &line[..end];
    if keyword.is_empty() {
        return None;
    }
    let mut rest = line[end..].trim_start();
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start();
    }
    Some((keyword, rest.trim_end()))
}

/// Splits arguments like OpenSSH's argv_split: whitespace separates,
/// single and double quotes group (and may be empty), backslash escapes a
/// quote, backslash or whitespace, and a token starting with `#` ends the
/// line. Returns the arguments and whether a quote was left open.
fn tokenize(s: &str) -> (Vec<String>, bool) {
    let mut args = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None => return (args, false),
            Some('#') => return (args, false),
            _ => {}
        }
        let mut cur = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            match quote {
                None if c.is_whitespace() => break,
                None if c == '"' || c == '\'' => {
                    quote = Some(c);
                    chars.next();
                }
                Some(q) if c == q => {
                    quote = None;
                    chars.next();
                }
                _ if c == '\\' => {
                    chars.next();
                    match chars.peek() {
                        Some(&n) if n == '\\' || n == '"' || n == '\'' || n.is_whitespace() => {
                            cur.push(n);
                            chars.next();
                        }
                        _ => cur.push('\\'),
                    }
                }
                _ => {
                    cur.push(c);
                    chars.next();
                }
            }
        }
        if quote.is_some() {
            return (args, true);
        }
        args.push(cur);
    }
}

fn parse_match(args: &[String]) -> Result<Vec<Criterion>, String> {
    if args.is_empty() {
        return Err("Match without criteria".to_string());
    }
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(word) = it.next() {
        let (negate, name) = match word.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, word.as_str()),
        };
        let lname = name.to_ascii_lowercase();
        if lname == "all" {
            out.push(Criterion {
                negate,
                kind: CritKind::All,
            });
            continue;
        }
        let ctor: fn(String) -> CritKind = match lname.as_str() {
            "host" => CritKind::Host,
            "originalhost" => CritKind::OriginalHost,
            "user" => CritKind::User,
            "localuser" => CritKind::LocalUser,
            _ => return Err(format!("unsupported Match criterion `{name}`")),
        };
        let Some(arg) = it.next() else {
            return Err(format!("Match {name} needs an argument"));
        };
        out.push(Criterion {
            negate,
            kind: ctor(arg.clone()),
        });
    }
    Ok(out)
}

/// Typed validation shared by config lines and `-o` options.
fn validate(key: &str, args: &[String]) -> Result<(), String> {
    let first = || args.first().ok_or_else(|| "missing argument".to_string());
    match key {
        "port" => parse_port(first()?).map(|_| ()),
        "identitiesonly" | "hashknownhosts" | "batchmode" => parse_bool(first()?)
            .map(|_| ())
            .ok_or_else(|| "expected yes or no".to_string()),
        "forwardagent" => first().map(|_| ()),
        "connecttimeout" | "serveraliveinterval" => {
            let v = first()?;
            if v.eq_ignore_ascii_case("none") || parse_time(v).is_some() {
                Ok(())
            } else {
                Err(format!("invalid time `{v}`"))
            }
        }
        "serveralivecountmax" => {
            let v = first()?;
            v.parse::<u32>()
                .map(|_| ())
                .map_err(|_| format!("invalid number `{v}`"))
        }
        "stricthostkeychecking" => {
            let v = first()?.to_ascii_lowercase();
            match v.as_str() {
                "yes" | "no" | "ask" | "accept-new" | "off" | "true" | "false" => Ok(()),
                _ => Err(format!("invalid value `{v}`")),
            }
        }
        "hostname"
        | "user"
        | "identityfile"
        | "proxyjump"
        | "proxycommand"
        | "userknownhostsfile"
        | "globalknownhostsfile" => first().map(|_| ()),
        _ => Ok(()),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

fn parse_port(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("invalid port `{v}`")),
    }
}

/// OpenSSH time format: `90`, `90s`, `1m30s`, `1h`, `2d`, `1w`.
fn parse_time(v: &str) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in v.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let mult = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604800,
            _ => return None,
        };
        let n: u64 = num.parse().ok()?;
        total = total.checked_add(n.checked_mul(mult)?)?;
        num.clear();
    }
    if !num.is_empty() {
        total = total.checked_add(num.parse().ok()?)?;
    }
    Some(total)
}

// ---------------------------------------------------------------------------
// Evaluation

/// Environment facts used for `Match localuser`, `%u`, `%d`, `%i`, `~`.
#[derive(Clone)]
struct Env {
    local_user: String,
    home: Option<PathBuf>,
    uid: Option<u32>,
}

impl Env {
    /// The controller's user, read once: a host's connection is resolved
    /// again for every task, and the lookup can mean reading /etc/passwd.
    fn current() -> Self {
        static CURRENT: std::sync::OnceLock<Env> = std::sync::OnceLock::new();
        CURRENT
            .get_or_init(|| {
                let uid = current_uid();
                Env {
                    local_user: local_user(uid),
                    home: dirs::home_dir(),
                    uid,
                }
            })
            .clone()
    }
}

#[cfg(unix)]
fn current_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is the process's uid; avoids needing libc.
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

#[cfg(not(unix))]
fn current_uid() -> Option<u32> {
    None
}

fn local_user(uid: Option<u32>) -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(var)
            && !u.is_empty()
        {
            return u;
        }
    }
    if let Some(uid) = uid
        && let Some(name) = passwd_lookup(|fields| fields.get(2) == Some(&uid.to_string().as_str()))
            .and_then(|f| f.first().map(|s| s.to_string()))
    {
        return name;
    }
    "root".to_string()
}

/// First /etc/passwd entry satisfying `pred`, split into fields.
fn passwd_lookup(pred: impl Fn(&[&str]) -> bool) -> Option<Vec<String>> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let fields: Vec<&str> = l.split(':').collect();
        pred(&fields).then(|| fields.iter().map(|s| s.to_string()).collect())
    })
}

struct EvalState<'a> {
    original: &'a str,
    env: &'a Env,
}

/// First-wins store of raw option values, in the order obtained.
#[derive(Default)]
struct Raw {
    entries: Vec<(String, Vec<String>)>,
}

impl Raw {
    fn get(&self, key: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    fn offer(&mut self, key: &str, args: Vec<String>) {
        if ACCUMULATE.contains(&key) {
            self.entries.push((key.to_string(), args));
            return;
        }
        // ProxyJump and ProxyCommand exclude each other: whichever is
        // obtained first wins, including an explicit `none`.
        let blocked = match key {
            "proxyjump" => self.get("proxycommand").is_some(),
            "proxycommand" => self.get("proxyjump").is_some(),
            _ => false,
        };
        if !blocked && self.get(key).is_none() {
            self.entries.push((key.to_string(), args));
        }
    }

    /// HostName obtained so far, with `%h` expanded; what `Match host`
    /// compares against.
    fn current_hostname(&self, original: &str) -> String {
        match self.get("hostname").and_then(|a| a.first()) {
            Some(h) => expand_hostname(h, original),
            None => original.to_string(),
        }
    }

    fn finalize(self, original: &str, env: &Env) -> HostConfig {
        let mut cfg = HostConfig::default();
        let hostname = self.current_hostname(original);
        if self.get("hostname").is_some() {
            cfg.hostname = Some(hostname.clone());
        }
        cfg.user = self.get("user").and_then(|a| a.first()).cloned();
        cfg.port = self
            .get("port")
            .and_then(|a| a.first())
            .and_then(|p| parse_port(p).ok());
        let ruser = cfg.user.clone().unwrap_or_else(|| env.local_user.clone());
        let tokens = Tokens {
            original,
            hostname: &hostname,
            port: cfg.port.unwrap_or(22),
            ruser: &ruser,
            env,
        };
        for (key, args) in &self.entries {
            if matches!(key.as_str(), "hostname" | "user" | "port") {
                continue;
            }
            apply_typed(&mut cfg, key, args, &tokens);
        }
        cfg
    }
}

fn eval_items(items: &[Item], st: &EvalState, start_active: bool, never: bool, raw: &mut Raw) {
    let mut active = start_active;
    for item in items {
        match item {
            Item::Host(patterns) => active = !never && host_matches(patterns, st.original),
            Item::Match(cond) => {
                active = !never
                    && match cond {
                        Some(c) => match_matches(c, st, raw),
                        None => false,
                    }
            }
            Item::Opt(opt) => {
                if active {
                    raw.offer(&opt.key, opt.args.clone());
                }
            }
            Item::Include(files) => {
                // An Include inside an inactive block includes nothing
                // effective: OpenSSH parses the files with "never match".
                for file in files {
                    eval_items(file, st, active, never || !active, raw);
                }
            }
        }
    }
}

/// `Host` semantics: some positive pattern matches and no negated one does.
fn host_matches(patterns: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let mut positive = false;
    for p in patterns {
        let p = p.to_ascii_lowercase();
        if let Some(neg) = p.strip_prefix('!') {
            if wildcard_match(neg, &host) {
                return false;
            }
        } else if wildcard_match(&p, &host) {
            positive = true;
        }
    }
    positive
}

fn match_matches(criteria: &[Criterion], st: &EvalState, raw: &Raw) -> bool {
    criteria.iter().all(|c| {
        let hit = match &c.kind {
            CritKind::All => true,
            CritKind::Host(list) => match_pattern_list(&raw.current_hostname(st.original), list),
            CritKind::OriginalHost(list) => match_pattern_list(st.original, list),
            CritKind::User(list) => {
                let user = raw
                    .get("user")
                    .and_then(|a| a.first())
                    .cloned()
                    .unwrap_or_else(|| st.env.local_user.clone());
                match_pattern_list(&user, list)
            }
            CritKind::LocalUser(list) => match_pattern_list(&st.env.local_user, list),
        };
        hit != c.negate
    })
}

// ---------------------------------------------------------------------------
// Conversion and expansion

struct Tokens<'a> {
    original: &'a str,
    hostname: &'a str,
    port: u16,
    ruser: &'a str,
    env: &'a Env,
}

impl Tokens<'_> {
    fn expand(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some('h') => out.push_str(self.hostname),
                Some('p') => out.push_str(&self.port.to_string()),
                Some('r') => out.push_str(self.ruser),
                Some('u') => out.push_str(&self.env.local_user),
                Some('n') => out.push_str(self.original),
                Some('d') => {
                    if let Some(h) = &self.env.home {
                        out.push_str(&h.to_string_lossy());
                    }
                }
                Some('i') => {
                    if let Some(uid) = self.env.uid {
                        out.push_str(&uid.to_string());
                    }
                }
                // Unsupported tokens stay literal rather than failing the
                // whole resolution.
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        out
    }

    fn path(&self, s: &str) -> PathBuf {
        PathBuf::from(self.expand(&tilde_expand(s, self.env.home.as_deref())))
    }
}

/// HostName only understands `%h` (the original name) and `%%`.
fn expand_hostname(s: &str, original: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(original),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Sets one modeled option on `cfg`, overwriting (identity files append).
/// Invalid values are skipped; they were warned about while parsing.
fn apply_typed(cfg: &mut HostConfig, key: &str, args: &[String], t: &Tokens) {
    let Some(first) = args.first() else {
        return;
    };
    let is_none = first.eq_ignore_ascii_case("none");
    match key {
        "hostname" => cfg.hostname = Some(expand_hostname(first, t.original)),
        "user" => cfg.user = Some(first.clone()),
        "port" => {
            if let Ok(p) = parse_port(first) {
                cfg.port = Some(p);
            }
        }
        // `IdentityFile none` adds nothing.
        "identityfile" if !is_none => {
            let p = t.path(first);
            if !cfg.identity_files.contains(&p) {
                cfg.identity_files.push(p);
            }
        }
        "identitiesonly" => cfg.identities_only = parse_bool(first),
        "hashknownhosts" => cfg.hash_known_hosts = parse_bool(first),
        "batchmode" => cfg.batch_mode = parse_bool(first),
        // Anything but no/false (a socket path or `$VAR`) enables forwarding.
        "forwardagent" => cfg.forward_agent = Some(parse_bool(first).unwrap_or(true)),
        "proxyjump" => cfg.proxy_jump = (!is_none).then(|| first.clone()),
        "proxycommand" => cfg.proxy_command = (!is_none).then(|| t.expand(first)),
        "stricthostkeychecking" => cfg.strict_host_key_checking = Some(first.clone()),
        "userknownhostsfile" => {
            cfg.user_known_hosts_files = if is_none {
                vec![PathBuf::from("/dev/null")]
            } else {
                args.iter().map(|a| t.path(a)).collect()
            }
        }
        "globalknownhostsfile" => {
            cfg.global_known_hosts_files = if is_none {
                vec![PathBuf::from("/dev/null")]
            } else {
                args.iter().map(|a| t.path(a)).collect()
            }
        }
        "connecttimeout" => cfg.connect_timeout = if is_none { None } else { parse_time(first) },
        "serveraliveinterval" => cfg.server_alive_interval = parse_time(first),
        "serveralivecountmax" => cfg.server_alive_count_max = first.parse().ok(),
        _ => {}
    }
}

/// `~` and `~/x` use `home`; `~user/x` looks the user up in /etc/passwd.
fn tilde_expand(s: &str, home: Option<&Path>) -> String {
    let Some(rest) = s.strip_prefix('~') else {
        return s.to_string();
    };
    let (user, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let base = if user.is_empty() {
        home.map(|h| h.to_string_lossy().into_owned())
    } else {
        passwd_lookup(|f| f.first() == Some(&user)).and_then(|f| f.get(5).cloned())
    };
    match base {
        Some(b) => format!("{}{tail}", b.trim_end_matches('/')),
        None => s.to_string(),
    }
}

/// Expands `*` and `?` in any path component (glob(3) style: wildcards
/// don't match a leading dot unless the pattern has one), returning
/// existing files in sorted order.
fn glob_files(pattern: &Path) -> Vec<PathBuf> {
    let has_wild = |s: &str| s.contains('*') || s.contains('?');
    let mut current: Vec<PathBuf> = vec![PathBuf::new()];
    for comp in pattern.components() {
        let comp_str = comp.as_os_str().to_string_lossy();
        if !has_wild(&comp_str) {
            for p in &mut current {
                p.push(comp.as_os_str());
            }
            continue;
        }
        let mut next = Vec::new();
        for dir in &current {
            let read_from = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir.as_path()
            };
            let Ok(rd) = std::fs::read_dir(read_from) else {
                continue;
            };
            for entry in rd.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && !comp_str.starts_with('.') {
                    continue;
                }
                if wildcard_match(&comp_str, &name) {
                    next.push(dir.join(&name));
                }
            }
        }
        current = next;
    }
    let mut files: Vec<PathBuf> = current.into_iter().filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn parse(text: &str) -> (SshConfig, Vec<String>) {
        SshConfig::parse_str(text, Path::new("/tmp/test_config"))
    }

    #[test]
    fn keyword_forms_and_quotes() {
        let (c, w) = parse(
            "# comment\n\
             Host web1\n\
             \tHostName=web1.example.com\n\
             \tUSER = deploy   # trailing comment\n\
             \tport\t2222\n\
             \tIdentityFile \"/keys/my key\"\n\
             \tIdentityFile='/keys/other'\n\
             \tIdentitiesOnly yes\n",
        );
        assert!(w.is_empty(), "{w:?}");
        let h = c.resolve("web1", None);
        assert_eq!(h.hostname.as_deref(), Some("web1.example.com"));
        assert_eq!(h.user.as_deref(), Some("deploy"));
        assert_eq!(h.port, Some(2222));
        assert_eq!(
            h.identity_files,
            vec![PathBuf::from("/keys/my key"), PathBuf::from("/keys/other")]
        );
        assert_eq!(h.identities_only, Some(true));
        assert_eq!(c.resolve("web2", None), HostConfig::default());
    }

    #[test]
    fn first_value_wins_and_identity_accumulates() {
        let (c, _) = parse(
            "Host db\n  User first\n  IdentityFile /a\n\
             Host d*\n  User second\n  Port 2200\n  IdentityFile /b\n\
             Host *\n  Port 22\n  IdentityFile /a\n  ConnectTimeout 1m30s\n",
        );
        let h = c.resolve("db", None);
        assert_eq!(h.user.as_deref(), Some("first"));
        assert_eq!(h.port, Some(2200));
        assert_eq!(
            h.identity_files,
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(h.connect_timeout, Some(90));
    }

    #[test]
    fn negation_excludes_block() {
        let (c, _) = parse("Host *.lab !secret.lab\n  User labuser\nHost *\n  User other\n");
        assert_eq!(c.resolve("a.lab", None).user.as_deref(), Some("labuser"));
        assert_eq!(c.resolve("secret.lab", None).user.as_deref(), Some("other"));
        // A lone negation matches nothing.
        let (c, _) = parse("Host !a\n  User x\n");
        assert_eq!(c.resolve("b", None).user, None);
    }

    #[test]
    fn user_hint_wins_and_drives_match_user_and_tokens() {
        let (c, _) = parse(
            "Match user admin\n  IdentityFile /keys/%r-%h-%p\n\
             Host h\n  User configured\n  HostName h.example\n",
        );
        let h = c.resolve("h", Some("admin"));
        assert_eq!(h.user.as_deref(), Some("admin"));
        assert_eq!(
            h.identity_files,
            vec![PathBuf::from("/keys/admin-h.example-22")]
        );
        let h = c.resolve("h", None);
        assert_eq!(h.user.as_deref(), Some("configured"));
        assert!(h.identity_files.is_empty());
    }

    #[test]
    fn match_host_uses_hostname_so_far() {
        let (c, w) = parse(
            "Host alias\n  HostName real.example\n\
             Match host real.example\n  User viahost\n\
             Match originalhost alias\n  Port 2022\n\
             Match all\n  ServerAliveInterval 15\n",
        );
        assert!(w.is_empty(), "{w:?}");
        let h = c.resolve("alias", None);
        assert_eq!(h.hostname.as_deref(), Some("real.example"));
        assert_eq!(h.user.as_deref(), Some("viahost"));
        assert_eq!(h.port, Some(2022));
        assert_eq!(h.server_alive_interval, Some(15));
        let h = c.resolve("real.example", None);
        assert_eq!(h.user.as_deref(), Some("viahost"));
        assert_eq!(h.port, None);
    }

    #[test]
    fn negated_match_criterion() {
        let (c, _) = parse("Match !host *.internal\n  ProxyJump bastion\n");
        assert_eq!(c.resolve("x.internal", None).proxy_jump, None);
        assert_eq!(
            c.resolve("x.com", None).proxy_jump.as_deref(),
            Some("bastion")
        );
    }

    #[test]
    fn unknown_match_never_applies_and_does_not_leak_into_host() {
        let (c, w) = parse(
            "Host web\n  User web\n\
             Match exec \"true\"\n  User leaked\n  Port 1\n\
             Host other\n  User o\n",
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("exec"), "{w:?}");
        let h = c.resolve("web", None);
        assert_eq!(h.user.as_deref(), Some("web"));
        assert_eq!(h.port, None);
    }

    #[test]
    fn warnings_for_bad_values_and_unknown_keywords() {
        let (c, w) = parse(
            "Port notaport\nFooBar 1\nIgnoreUnknown Quux*\nQuuxOption 2\nStrictHostKeyChecking maybe\nControlMaster auto\n",
        );
        assert_eq!(w.len(), 3, "{w:?}");
        assert_eq!(c.resolve("x", None).port, None);
    }

    #[test]
    fn proxy_jump_and_command_first_wins() {
        let (c, _) = parse("Host a\n  ProxyCommand ssh -W %h:%p gw\nHost *\n  ProxyJump j1,j2\n");
        let h = c.resolve("a", Some("u"));
        assert_eq!(h.proxy_command.as_deref(), Some("ssh -W a:22 gw"));
        assert_eq!(h.proxy_jump, None);
        let h = c.resolve("b", None);
        assert_eq!(h.proxy_jump.as_deref(), Some("j1,j2"));
        assert_eq!(h.proxy_command, None);
        let (c, _) =
            parse("Host a\n  ProxyJump none\nHost *\n  ProxyJump j\n  ProxyCommand nc %h %p\n");
        let h = c.resolve("a", None);
        assert_eq!(h.proxy_jump, None);
        assert_eq!(h.proxy_command, None);
    }

    #[test]
    fn tokens_and_tilde() {
        let (c, _) = parse(
            "Host t\n  HostName %h.x\n  User u\n  Port 2200\n\
             IdentityFile ~/.ssh/id_%n_%h_%r_%p_%%\n\
             UserKnownHostsFile %d/kh ~/kh2\n\
             GlobalKnownHostsFile /etc/kh\n",
        );
        let h = c.resolve("t", None);
        let home = dirs::home_dir().unwrap();
        assert_eq!(h.hostname.as_deref(), Some("t.x"));
        assert_eq!(h.identity_files, vec![home.join(".ssh/id_t_t.x_u_2200_%")]);
        assert_eq!(
            h.user_known_hosts_files,
            vec![home.join("kh"), home.join("kh2")]
        );
        assert_eq!(h.global_known_hosts_files, vec![PathBuf::from("/etc/kh")]);
        let (c, _) = parse("UserKnownHostsFile none\n");
        assert_eq!(
            c.resolve("x", None).user_known_hosts_files,
            vec![PathBuf::from("/dev/null")]
        );
    }

    #[test]
    fn typed_options() {
        let (c, w) = parse(
            "StrictHostKeyChecking accept-new\nServerAliveInterval 30\nServerAliveCountMax 5\n\
             HashKnownHosts yes\nForwardAgent no\nBatchMode yes\nConnectTimeout 10\n",
        );
        assert!(w.is_empty(), "{w:?}");
        let h = c.resolve("x", None);
        assert_eq!(h.strict_host_key_checking.as_deref(), Some("accept-new"));
        assert_eq!(h.server_alive_interval, Some(30));
        assert_eq!(h.server_alive_count_max, Some(5));
        assert_eq!(h.hash_known_hosts, Some(true));
        assert_eq!(h.forward_agent, Some(false));
        assert_eq!(h.batch_mode, Some(true));
        assert_eq!(h.connect_timeout, Some(10));
    }

    #[test]
    fn include_globs_relative_and_scoping() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).unwrap();
        std::fs::write(d.join("conf.d/20-b.conf"), "Host b\n  User from-b\n").unwrap();
        std::fs::write(
            d.join("conf.d/10-a.conf"),
            "Host a\n  User from-a\nHost b\n  User b-in-a\n",
        )
        .unwrap();
        // Starts active again in the next included file.
        std::fs::write(d.join("conf.d/30-c.conf"), "Port 2022\n").unwrap();
        std::fs::write(d.join("conf.d/.hidden.conf"), "Port 1\n").unwrap();
        std::fs::write(d.join("conf.d/ignored.txt"), "Port 2\n").unwrap();
        std::fs::write(d.join("scoped"), "User scoped\n").unwrap();
        let main = format!(
            "Host only\n  Include {}/scoped\n\
             Host *\nInclude {}/conf.d/*.conf\n",
            d.display(),
            d.display()
        );
        let (c, w) = SshConfig::parse_str(&main, &d.join("config"));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.resolve("a", None).user.as_deref(), Some("from-a"));
        // 10-a.conf comes before 20-b.conf, so its value wins.
        assert_eq!(c.resolve("b", None).user.as_deref(), Some("b-in-a"));
        assert_eq!(c.resolve("a", None).port, Some(2022));
        assert_eq!(c.resolve("only", None).user.as_deref(), Some("scoped"));
        assert_eq!(c.resolve("zzz", None).user, None);

        // Relative includes resolve against the include base.
        let ctx = ParseCtx {
            include_base: d.to_path_buf(),
            home: None,
        };
        let mut w = Vec::new();
        let items = parse_text(
            "Include conf.d/2?-*.conf\n",
            Path::new("x"),
            &ctx,
            0,
            &mut w,
        );
        let c = SshConfig { files: vec![items] };
        assert_eq!(c.resolve("b", None).user.as_deref(), Some("from-b"));
    }

    #[test]
    fn include_recursion_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("loop");
        std::fs::write(&p, format!("Include {}\nUser looped\n", p.display())).unwrap();
        let (c, w) = SshConfig::load(&[p]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("deeper"));
        assert_eq!(c.resolve("x", None).user.as_deref(), Some("looped"));
    }

    #[test]
    fn load_multiple_files_first_wins_and_missing_ok() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, "Host x\n  Port 1000\n").unwrap();
        std::fs::write(&b, "Port 2000\nUser sys\n").unwrap();
        let (c, w) = SshConfig::load(&[a, dir.path().join("missing"), b]);
        assert!(w.is_empty());
        let h = c.resolve("x", None);
        assert_eq!(h.port, Some(1000));
        assert_eq!(h.user.as_deref(), Some("sys"));
        assert_eq!(c.resolve("y", None).port, Some(2000));
    }

    #[test]
    fn options_override() {
        let (c, _) = parse(
            "Host h\n  User cfg\n  Port 2200\n  IdentityFile /cfg\n  ProxyCommand nc %h %p\n",
        );
        let opts = vec![
            ("Port".to_string(), "2300".to_string()),
            ("IdentityFile".to_string(), "/cli_%p".to_string()),
            ("StrictHostKeyChecking".to_string(), "no".to_string()),
            ("ProxyJump".to_string(), "gw".to_string()),
        ];
        let h = c.resolve_with_options("h", None, &opts);
        assert_eq!(h.port, Some(2300));
        assert_eq!(
            h.identity_files,
            vec![PathBuf::from("/cli_2300"), PathBuf::from("/cfg")]
        );
        assert_eq!(h.proxy_jump.as_deref(), Some("gw"));
        assert_eq!(h.proxy_command, None);

        let mut h = c.resolve("h", None);
        let w = h.apply_options(&opts);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(h.port, Some(2300));
        assert_eq!(
            h.identity_files,
            vec![PathBuf::from("/cli_2300"), PathBuf::from("/cfg")]
        );
        assert_eq!(h.strict_host_key_checking.as_deref(), Some("no"));
        assert_eq!(h.proxy_jump.as_deref(), Some("gw"));
        assert_eq!(h.proxy_command, None);
        let w = h.apply_options(&[
            ("Port".to_string(), "x".to_string()),
            ("ControlMaster".to_string(), "auto".to_string()),
        ]);
        assert_eq!(w.len(), 2);
        assert_eq!(
            split_option_arg("StrictHostKeyChecking=accept-new"),
            Some((
                "StrictHostKeyChecking".to_string(),
                "accept-new".to_string()
            ))
        );
        assert_eq!(
            split_option_arg("User bob"),
            Some(("User".to_string(), "bob".to_string()))
        );
    }

    #[test]
    fn tokenizer() {
        assert_eq!(
            tokenize("a  \"b c\" 'd' e\\ f"),
            (
                vec!["a".into(), "b c".into(), "d".into(), "e f".into()],
                false
            )
        );
        assert_eq!(
            tokenize("\"\" x # comment"),
            (vec!["".into(), "x".into()], false)
        );
        assert!(tokenize("\"open").1);
        assert_eq!(parse_time("1h2m3s"), Some(3723));
        assert_eq!(parse_time("x"), None);
    }

    /// Golden comparison with `ssh -G` on this machine. Skipped (passes)
    /// when ssh is unavailable or refuses to run.
    #[test]
    fn matches_ssh_dash_g() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("extra.conf"),
            "Host inc*\n  User incuser\n  Port 2201\n  IdentityFile /keys/inc\n",
        )
        .unwrap();
        let cfg_path = d.join("config");
        let mut f = std::fs::File::create(&cfg_path).unwrap();
        write!(
            f,
            "Include {d}/*.conf\n\
             Host web* !web3\n\
             \tHostName %h.example.com\n\
             \tUser=deploy\n\
             \tIdentityFile /keys/web\n\
             Host alias\n\
             \tHostName real.example\n\
             Match host real.example\n\
             \tPort 2022\n\
             \tProxyJump jump1,admin@jump2:2200\n\
             Match originalhost db* user dba\n\
             \tIdentityFile /keys/dba\n\
             Match exec \"false\"\n\
             \tUser never\n\
             Host *\n\
             \tPort 2200\n\
             \tIdentityFile \"/keys/default key\"\n",
            d = d.display()
        )
        .unwrap();
        drop(f);
        let (c, _) = SshConfig::load(std::slice::from_ref(&cfg_path));
        let env = Env::current();
        let cases: &[(&str, Option<&str>)] = &[
            ("web1", None),
            ("web3", None),
            ("alias", None),
            ("real.example", None),
            ("db1", Some("dba")),
            ("db1", Some("other")),
            ("inc1", None),
            ("plain", None),
        ];
        for (host, user) in cases {
            let mut cmd = std::process::Command::new("ssh");
            cmd.arg("-G").arg("-F").arg(&cfg_path);
            if let Some(u) = user {
                cmd.arg("-l").arg(u);
            }
            cmd.arg(host).stdin(std::process::Stdio::null());
            let Ok(out) = cmd.output() else {
                eprintln!("ssh not available; skipping golden test");
                return;
            };
            if !out.status.success() {
                eprintln!(
                    "ssh -G failed ({}); skipping golden test",
                    String::from_utf8_lossy(&out.stderr)
                );
                return;
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let get = |k: &str| -> Vec<String> {
                text.lines()
                    .filter_map(|l| l.split_once(' '))
                    .filter(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
                    .collect()
            };
            let ours = c.resolve(host, *user);
            let ctx = format!("host {host} user {user:?}: ours {ours:?}\nssh -G:\n{text}");
            assert_eq!(
                vec![ours.hostname.clone().unwrap_or_else(|| host.to_string())],
                get("hostname"),
                "{ctx}"
            );
            assert_eq!(
                vec![ours.user.clone().unwrap_or_else(|| env.local_user.clone())],
                get("user"),
                "{ctx}"
            );
            assert_eq!(
                vec![ours.port.unwrap_or(22).to_string()],
                get("port"),
                "{ctx}"
            );
            assert_eq!(
                ours.proxy_jump.into_iter().collect::<Vec<_>>(),
                get("proxyjump"),
                "{ctx}"
            );
            let ids: Vec<String> = ours
                .identity_files
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            assert_eq!(ids, get("identityfile"), "{ctx}");
        }
    }
}
