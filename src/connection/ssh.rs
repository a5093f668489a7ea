//! The SSH connection: one russh session per host, opened on the first
//! command, reused by every later one, with host keys verified against
//! known_hosts and at most [`MAX_CHANNELS`] commands in flight at once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use russh::client::{self, Handle};
use russh::keys::{self, PrivateKeyWithHashAlg, PublicKey};
use russh::{ChannelMsg, Disconnect, Preferred, Sig, kex};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{OnceCell, Semaphore, mpsc};
use tutti_modules::{Cmd, Host, HostError, HostRead, Output, quote};

use super::r#become::{self, Become, Watcher};
use super::exec::{self, BecomeRun, Event, Process};
use super::known_hosts::{self, KnownHosts, Policy, Verdict};
use crate::secret::Secret;

/// sshd's MaxSessions defaults to 10; stay below it.
pub const MAX_CHANNELS: usize = 8;

/// Handshakes in flight to one address, so sshd's MaxStartups (10:30:100
/// by default) never drops us when many inventory hosts share a machine.
const HANDSHAKES_PER_ADDRESS: usize = 8;

/// How to reach and authenticate to one SSH server (a target or a jump).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The address to connect to (also the name looked up in known_hosts).
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Keys named explicitly (`--private-key`, IdentityFile...).
    pub identity_files: Vec<PathBuf>,
    /// Offer only `identity_files`, not agent keys or default keys.
    pub identities_only: bool,
    pub password: Option<Secret>,
    pub policy: Policy,
    pub known_hosts: Arc<KnownHosts>,
}

/// Everything needed to run commands on one inventory host over SSH.
#[derive(Debug, Clone)]
pub struct SshTarget {
    pub endpoint: Endpoint,
    /// Jump hosts, outermost first (ProxyJump).
    pub jumps: Vec<Endpoint>,
    pub connect_timeout: Duration,
    pub command_timeout: Option<Duration>,
    pub keepalive: Duration,
    pub become_: Option<Become>,
    pub become_timeout: Duration,
}

/// A lazily opened session, shared by every `SshHost` that reaches the
/// same user@host:port the same way.
type SessionCell = Arc<OnceCell<Result<Arc<Session>, HostError>>>;

/// One SSH session per destination for the whole run: plays and tasks
/// that resolve the same endpoint reuse the connection.
#[derive(Default)]
pub struct Pool {
    sessions: Mutex<HashMap<String, SessionCell>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pool")
    }
}

impl Pool {
    fn cell(&self, key: String) -> SessionCell {
        let mut map = match self.sessions.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(key).or_default().clone()
    }

    /// Disconnects every open session.
    pub async fn close_all(&self) {
        let cells: Vec<SessionCell> = match self.sessions.lock() {
            Ok(mut m) => m.drain().map(|(_, c)| c).collect(),
            Err(poisoned) => poisoned.into_inner().drain().map(|(_, c)| c).collect(),
        };
        for cell in cells {
            if let Some(Ok(s)) = cell.get() {
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    s.handle.disconnect(Disconnect::ByApplication, "", "en"),
                )
                .await;
            }
        }
    }
}

/// A host reached over SSH. The connection opens on the first command.
pub struct SshHost {
    target: SshTarget,
    session: SessionCell,
}

struct Session {
    handle: Handle<Client>,
    channels: Semaphore,
    /// Long-lived shells for probes, by become setting (at most
    /// [`MAX_SHELLS`]; each holds a channel beyond [`MAX_CHANNELS`]).
    shells: tokio::sync::Mutex<Vec<(String, ShellCell)>>,
    /// Shells started by `su` with a password, by become setting: every
    /// command of that setting runs in one (see [`su`]).
    su_shells: tokio::sync::Mutex<Vec<(String, SuCell)>>,
    /// The server refused a channel while shells were open: no more shells.
    no_shells: std::sync::atomic::AtomicBool,
    /// Sessions of jump hosts, kept alive as long as this one.
    _jumps: Vec<Handle<Client>>,
}

impl Session {
    /// A channel for one command. A server that allows fewer sessions than
    /// tutti keeps shells for (sshd's `MaxSessions 1`, say) refuses it: the
    /// idle shells are closed, none are started again on this connection,
    /// and the command gets its channel.
    async fn open_channel(&self, t: &SshTarget) -> Result<russh::Channel<client::Msg>, HostError> {
        let mut tries = 0;
        loop {
            match self.handle.channel_open_session().await {
                Ok(c) => return Ok(c),
                Err(russh::Error::ChannelOpenFailure(_)) if tries < 20 => {
                    tries += 1;
                    self.no_shells
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    for (_, cell) in self.shells.lock().await.iter() {
                        if let Ok(mut g) = cell.try_lock()
                            && let Some(sh) = g.take()
                        {
                            sh.close().await;
                        }
                    }
                    // sshd frees the session once it has seen the close.
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Err(e) => return Err(lost(t, e)),
            }
        }
    }
}

type ShellCell = Arc<tokio::sync::Mutex<Option<shell::ProbeShell>>>;
type SuCell = Arc<tokio::sync::Mutex<Option<su::SuShell>>>;

/// Stdin larger than this gets a channel of its own (streamed), not the
/// shared shell (staged in a file).
const SHELL_STDIN_MAX: usize = 1 << 20;

/// Probe shells per session: one plain and one escalated fit within
/// sshd's default MaxSessions (10) next to [`MAX_CHANNELS`].
const MAX_SHELLS: usize = 2;

mod shell;
mod su;

impl SshHost {
    /// A host with its own session (not shared).
    pub fn new(target: SshTarget) -> Self {
        SshHost {
            target,
            session: SessionCell::default(),
        }
    }

    /// A host whose session is shared through `pool`.
    pub fn pooled(target: SshTarget, pool: &Pool) -> Self {
        let jumps: Vec<String> = target
            .jumps
            .iter()
            .map(|j| format!("{}@{}:{}", j.user, j.host, j.port))
            .collect();
        let key = format!(
            "{}@{}:{} via {}",
            target.endpoint.user,
            target.endpoint.host,
            target.endpoint.port,
            jumps.join(",")
        );
        let session = pool.cell(key);
        SshHost { target, session }
    }

    async fn session(&self) -> Result<Arc<Session>, HostError> {
        self.session
            .get_or_init(|| async { open(&self.target).await.map(Arc::new) })
            .await
            .clone()
    }

    async fn exec(&self, cmd: &Cmd) -> Result<Output, HostError> {
        if let Some(b) = self.su_with_password() {
            return self.exec_su(cmd, b).await;
        }
        let session = self.session().await?;
        let _permit = session
            .channels
            .acquire()
            .await
            .map_err(|_| HostError::Unreachable("connection closed".into()))?;
        let key = r#become::new_key();
        let script = cmd.render();
        let command = match (&self.target.become_, cmd.is_raw()) {
            (Some(b), _) => r#become::wrap(&script, b, &key),
            (None, true) => script,
            (None, false) => format!("/bin/sh -c {}", quote(&script)),
        };
        let channel = session.open_channel(&self.target).await?;
        channel
            // Paths that came from the host as non-UTF-8 bytes travel in
            // strings losslessly escaped; send the original bytes back.
            .exec(true, tutti_modules::text::encode(&command))
            .await
            .map_err(|e| lost(&self.target, e))?;
        let mut proc = SshProcess::new(channel);
        let become_run = self.target.become_.as_ref().map(|b| BecomeRun {
            watcher: Watcher::new(&key, b.password.is_some()),
            password: b.password.as_ref(),
            timeout: self.target.become_timeout,
        });
        let result = exec::drive(
            &mut proc,
            exec::Input::of(cmd),
            cmd.stdout_path(),
            become_run,
            self.target.command_timeout,
        )
        .await;
        proc.finish().await;
        result
    }

    /// The become setting when it is su with a password (which needs a
    /// terminal, so a shell of its own).
    fn su_with_password(&self) -> Option<&Become> {
        self.target
            .become_
            .as_ref()
            .filter(|b| b.method == r#become::Method::Su && b.password.is_some())
    }

    /// A command in the session's su shell for this become setting.
    async fn exec_su(&self, cmd: &Cmd, b: &Become) -> Result<Output, HostError> {
        let session = self.session().await?;
        let key = format!("{}|{}", b.user, b.flags.as_deref().unwrap_or(""));
        let cell = {
            let mut shells = session.su_shells.lock().await;
            match shells.iter().find(|(k, _)| *k == key) {
                Some((_, c)) => c.clone(),
                None => {
                    let c = SuCell::default();
                    shells.push((key, c.clone()));
                    c
                }
            }
        };
        let mut guard = cell.lock().await;
        if guard.is_none() {
            let channel = session
                .handle
                .channel_open_session()
                .await
                .map_err(|e| lost(&self.target, e))?;
            *guard = Some(su::SuShell::start(channel, b, self.target.become_timeout).await?);
        }
        let Some(sh) = guard.as_mut() else {
            return Err(HostError::Unreachable("the su shell is gone".into()));
        };
        let result = sh
            .run(
                &cmd.render(),
                exec::Input::of(cmd),
                cmd.stdout_path(),
                self.target.command_timeout,
            )
            .await;
        if result.is_err()
            && let Some(sh) = guard.take()
        {
            sh.close().await;
        }
        result
    }

    /// A probe (or a [`Cmd::light`] command) through the session's
    /// long-lived shell for this become setting; `None` when the command
    /// must have a channel of its own (stdin over [`SHELL_STDIN_MAX`], a
    /// download, raw) or no shell can be had.
    async fn in_shared_shell(&self, cmd: &Cmd) -> Option<Result<Output, HostError>> {
        if cmd.stdin_data().is_some_and(|d| d.len() > SHELL_STDIN_MAX)
            || cmd.stdout_path().is_some()
            || cmd.is_raw()
            || self.su_with_password().is_some()
            || std::env::var_os("TUTTI_NO_PROBE_SHELL").is_some()
        {
            return None;
        }
        // A small controller file (an upload) travels like stdin data; a
        // large one streams through a channel of its own.
        let file_data = match cmd.stdin_path() {
            None => None,
            Some(p) => match tokio::fs::metadata(p).await {
                Ok(m) if m.len() <= SHELL_STDIN_MAX as u64 => Some(tokio::fs::read(p).await.ok()?),
                _ => return None,
            },
        };
        let stdin = file_data.as_deref().or(cmd.stdin_data());
        let session = self.session().await.ok()?;
        if session.no_shells.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let key = match &self.target.become_ {
            None => String::new(),
            Some(b) => format!(
                "{:?}|{}|{}|{}",
                b.method,
                b.user,
                b.flags.as_deref().unwrap_or(""),
                b.password.is_some()
            ),
        };
        let cell = {
            let mut shells = session.shells.lock().await;
            match shells.iter().find(|(k, _)| *k == key) {
                Some((_, c)) => c.clone(),
                None if shells.len() < MAX_SHELLS => {
                    let c = ShellCell::default();
                    shells.push((key, c.clone()));
                    c
                }
                None => return None,
            }
        };
        let mut guard = cell.lock().await;
        if guard.is_none() {
            let channel = session.handle.channel_open_session().await.ok()?;
            match shell::ProbeShell::start(
                channel,
                self.target.become_.as_ref(),
                self.target.become_timeout,
            )
            .await
            {
                Ok(sh) => *guard = Some(sh),
                // Escalation refused: the same error a command would get.
                Err(e @ HostError::Become(_)) => return Some(Err(e)),
                Err(_) => return None,
            }
        }
        let sh = guard.as_mut()?;
        if stdin.is_some() && !sh.takes_stdin() {
            return None;
        }
        // Already in a shell: `sh -c SCRIPT` need not start another.
        let script = cmd.render_inline();
        match sh
            .run(
                &script,
                stdin,
                cmd.takes_stdin_variable(),
                self.target.command_timeout,
            )
            .await
        {
            Ok(out) => {
                super::SHELL_PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(Ok(out))
            }
            Err(e) => {
                if let Some(sh) = guard.take() {
                    sh.close().await;
                }
                match e {
                    HostError::Timeout(_) => Some(Err(e)),
                    // The shell died: this probe gets a channel of its own.
                    _ => None,
                }
            }
        }
    }

    /// The resolved connection parameters.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// Closes the connection politely, if it was opened.
    pub async fn close(&self) {
        if let Some(Ok(s)) = self.session.get() {
            let _ = s
                .handle
                .disconnect(Disconnect::ByApplication, "", "en")
                .await;
        }
    }
}

fn lost(t: &SshTarget, e: russh::Error) -> HostError {
    HostError::Unreachable(format!(
        "Failed to connect to the host via ssh: connection to {} port {} lost: {e}",
        t.endpoint.host, t.endpoint.port
    ))
}

#[async_trait]
impl HostRead for SshHost {
    async fn probe(&self, cmd: &Cmd) -> Result<Output, HostError> {
        if let Some(result) = self.in_shared_shell(cmd).await {
            return result;
        }
        self.exec(cmd).await
    }
}

#[async_trait]
impl Host for SshHost {
    async fn run(&self, cmd: &Cmd) -> Result<Output, HostError> {
        if cmd.is_light()
            && let Some(result) = self.in_shared_shell(cmd).await
        {
            return result;
        }
        self.exec(cmd).await
    }
}

// ---------------------------------------------------------------- connect

async fn open(t: &SshTarget) -> Result<Session, HostError> {
    let fail = |msg: String| {
        HostError::Unreachable(format!("Failed to connect to the host via ssh: {msg}"))
    };
    let mut jumps = Vec::new();
    let mut previous: Option<&Handle<Client>> = None;
    // Each hop is connected through the previous one and verified under
    // its own name and port, as OpenSSH's ProxyJump does.
    for hop in &t.jumps {
        let h = connect_endpoint(hop, previous, t).await.map_err(fail)?;
        jumps.push(h);
        previous = jumps.last();
    }
    let handle = connect_endpoint(&t.endpoint, previous, t)
        .await
        .map_err(fail)?;
    super::SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(Session {
        handle,
        channels: Semaphore::new(MAX_CHANNELS),
        shells: tokio::sync::Mutex::new(Vec::new()),
        su_shells: tokio::sync::Mutex::new(Vec::new()),
        no_shells: std::sync::atomic::AtomicBool::new(false),
        _jumps: jumps,
    })
}

fn config(e: &Endpoint, t: &SshTarget) -> Arc<client::Config> {
    // curve25519 first (cheap and universal), group-exchange last: russh's
    // DH-GEX is very slow, and sntrup/mlkem hybrids cost more CPU.
    let kex = std::borrow::Cow::Owned(vec![
        kex::CURVE25519,
        kex::CURVE25519_PRE_RFC_8731,
        kex::MLKEM768X25519_SHA256,
        kex::DH_G16_SHA512,
        kex::DH_G14_SHA256,
        kex::DH_GEX_SHA256,
        kex::EXTENSION_SUPPORT_AS_CLIENT,
        kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
    ]);
    // Ask only for host key types we already trust for this host, so a
    // server cannot dodge verification by offering another algorithm.
    let known = e.known_hosts.known_algorithms(&e.host, e.port);
    let mut keys: Vec<keys::Algorithm> = Preferred::default()
        .key
        .iter()
        .filter(|a| **a != keys::Algorithm::Rsa { hash: None })
        .cloned()
        .collect();
    if !known.is_empty() && e.policy != Policy::Off {
        keys.retain(|a| known.iter().any(|k| same_family(k, a)));
        if keys.is_empty() {
            keys = known;
        }
    }
    let preferred = Preferred {
        kex,
        key: std::borrow::Cow::Owned(keys),
        ..Preferred::default()
    };
    Arc::new(client::Config {
        preferred,
        nodelay: true,
        keepalive_interval: Some(t.keepalive),
        keepalive_max: 3,
        inactivity_timeout: None,
        ..Default::default()
    })
}

/// RSA keys are one family whatever the signature hash.
fn same_family(a: &keys::Algorithm, b: &keys::Algorithm) -> bool {
    match (a, b) {
        (keys::Algorithm::Rsa { .. }, keys::Algorithm::Rsa { .. }) => true,
        _ => a == b,
    }
}

fn address_gate(addr: &str) -> Arc<Semaphore> {
    static GATES: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
    let gates = GATES.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = match gates.lock() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    map.entry(addr.to_string())
        .or_insert_with(|| Arc::new(Semaphore::new(HANDSHAKES_PER_ADDRESS)))
        .clone()
}

async fn connect_endpoint(
    e: &Endpoint,
    via: Option<&Handle<Client>>,
    t: &SshTarget,
) -> Result<Handle<Client>, String> {
    let gate = address_gate(&e.host);
    let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = tokio::time::timeout(t.connect_timeout, handshake(e, via, t)).await;
        match result {
            Err(_) => {
                return Err(format!(
                    "connect to host {} port {}: Connection timed out during banner exchange",
                    e.host, e.port
                ));
            }
            Ok(Ok(handle)) => return Ok(handle),
            // A reset before authentication is how sshd sheds load
            // (MaxStartups): retrying is safe because nothing has run yet.
            Ok(Err(Failure::Transient(msg))) if attempt < 4 => {
                tracing_retry(&msg);
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            Ok(Err(Failure::Transient(msg) | Failure::Fatal(msg))) => return Err(msg),
        }
    }
}

fn tracing_retry(_msg: &str) {
    // Retries are silent at normal verbosity; kept as a hook for -vvv.
}

enum Failure {
    Transient(String),
    Fatal(String),
}

async fn handshake(
    e: &Endpoint,
    via: Option<&Handle<Client>>,
    t: &SshTarget,
) -> Result<Handle<Client>, Failure> {
    let verdict = Arc::new(Mutex::new(None));
    let client = Client {
        host: e.host.clone(),
        port: e.port,
        policy: e.policy,
        known_hosts: e.known_hosts.clone(),
        verdict: verdict.clone(),
    };
    let cfg = config(e, t);
    let connected = match via {
        None => {
            let sock = TcpStream::connect((e.host.as_str(), e.port))
                .await
                .map_err(|err| {
                    Failure::Fatal(format!(
                        "connect to host {} port {}: {}",
                        e.host,
                        e.port,
                        io_reason(&err)
                    ))
                })?;
            let _ = sock.set_nodelay(true);
            client::connect_stream(cfg, sock, client).await
        }
        Some(jump) => {
            let ch = jump
                .channel_open_direct_tcpip(e.host.clone(), u32::from(e.port), "127.0.0.1", 0)
                .await
                .map_err(|err| {
                    Failure::Fatal(format!(
                        "jump host could not open a channel to {} port {}: {err}",
                        e.host, e.port
                    ))
                })?;
            client::connect_stream(cfg, ch.into_stream(), client).await
        }
    };
    let mut handle = match connected {
        Ok(h) => h,
        Err(err) => {
            let rejected = verdict.lock().map(|mut v| v.take()).unwrap_or(None);
            if let Some(msg) = rejected {
                return Err(Failure::Fatal(msg));
            }
            let msg = format!(
                "kex_exchange_identification: connection to {} port {}: {err}",
                e.host, e.port
            );
            return Err(match err {
                russh::Error::IO(_) | russh::Error::Disconnect | russh::Error::HUP => {
                    Failure::Transient(msg)
                }
                _ => Failure::Fatal(msg),
            });
        }
    };
    authenticate(&mut handle, e).await.map_err(Failure::Fatal)?;
    Ok(handle)
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => "Connection refused".to_string(),
        std::io::ErrorKind::TimedOut => "Connection timed out".to_string(),
        _ => err.to_string(),
    }
}

async fn authenticate(handle: &mut Handle<Client>, e: &Endpoint) -> Result<(), String> {
    let mut notes: Vec<String> = Vec::new();
    let denied = |notes: &[String]| {
        let mut msg = format!(
            "{}@{}: Permission denied (publickey,password).",
            e.user, e.host
        );
        for n in notes {
            msg.push(' ');
            msg.push_str(n);
        }
        msg
    };
    let rsa_hash = handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten();

    // 1. Keys from the agent, unless only configured identities may be used.
    if !e.identities_only
        && let Ok(mut agent) = keys::agent::client::AgentClient::connect_env().await
        && let Ok(ids) = agent.request_identities().await
    {
        for id in ids {
            let key = id.public_key().into_owned();
            let hash = if key.algorithm().is_rsa() {
                rsa_hash
            } else {
                None
            };
            match handle
                .authenticate_publickey_with(e.user.clone(), key, hash, &mut agent)
                .await
            {
                Ok(r) if r.success() => return Ok(()),
                _ => {}
            }
        }
    }

    // 2. Key files: the configured ones, else OpenSSH's defaults.
    let mut files = e.identity_files.clone();
    if files.is_empty()
        && !e.identities_only
        && let Some(home) = dirs::home_dir()
    {
        for name in [
            "id_rsa",
            "id_ecdsa",
            "id_ecdsa_sk",
            "id_ed25519",
            "id_ed25519_sk",
        ] {
            let p = home.join(".ssh").join(name);
            if p.exists() {
                files.push(p);
            }
        }
    }
    for path in &files {
        let key = match keys::load_secret_key(path, None) {
            Ok(k) => k,
            Err(keys::Error::KeyIsEncrypted) => {
                notes.push(format!(
                    "The private key {} is encrypted and no passphrase was given; load it into ssh-agent.",
                    path.display()
                ));
                continue;
            }
            Err(err) => {
                if e.identity_files.contains(path) {
                    notes.push(format!(
                        "Could not load private key {}: {err}.",
                        path.display()
                    ));
                }
                continue;
            }
        };
        let hash = if key.algorithm().is_rsa() {
            rsa_hash
        } else {
            None
        };
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
        match handle.authenticate_publickey(e.user.clone(), key).await {
            Ok(r) if r.success() => return Ok(()),
            Ok(_) => {}
            Err(err) => return Err(format!("authentication failed: {err}")),
        }
    }

    // 3. A password, when one was given.
    if let Some(pw) = &e.password {
        match handle
            .authenticate_password(e.user.clone(), pw.expose())
            .await
        {
            Ok(r) if r.success() => return Ok(()),
            Ok(_) => {}
            Err(err) => return Err(format!("authentication failed: {err}")),
        }
    }
    Err(denied(&notes))
}

/// russh's callbacks: only host key verification matters to us.
struct Client {
    host: String,
    port: u16,
    policy: Policy,
    known_hosts: Arc<KnownHosts>,
    /// Why the key was rejected, for the error message.
    verdict: Arc<Mutex<Option<String>>>,
}

impl Client {
    fn reject(&self, msg: String) -> Result<bool, russh::Error> {
        if let Ok(mut v) = self.verdict.lock() {
            *v = Some(msg);
        }
        Ok(false)
    }

    fn label(&self) -> String {
        if self.port == 22 {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key: &PublicKey = match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key,
            russh::keys::PublicKeyOrCertificate::Certificate(_) => {
                return self.reject(format!(
                    "Host key verification failed: {} presented a certificate, which tutti does not verify yet.",
                    self.label()
                ));
            }
        };
        let fp = known_hosts::fingerprint(key);
        match self.known_hosts.check(&self.host, self.port, key) {
            Verdict::Known => Ok(true),
            Verdict::Revoked { file, line } => self.reject(format!(
                "Host key verification failed: the {} key {fp} presented by {} is marked as revoked in {}:{line}.",
                key.algorithm(),
                self.label(),
                file.display()
            )),
            Verdict::Changed { file, line } if self.policy != Policy::Off => self.reject(format!(
                "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! The {} host key for {} is {fp}, which does not match the offending key in {}:{line}. Host key verification failed.",
                key.algorithm(),
                self.label(),
                file.display()
            )),
            Verdict::Changed { .. } => Ok(true),
            Verdict::Unknown => match self.policy {
                Policy::Strict => self.reject(format!(
                    "Host key verification failed: no {} host key is known for {} ({fp}). Add it to ~/.ssh/known_hosts (ssh-keyscan -p {} {}), or set host_key_checking = accept-new to trust new hosts on first use.",
                    key.algorithm(),
                    self.label(),
                    self.port,
                    self.host
                )),
                Policy::AcceptNew | Policy::Off => {
                    if let Err(err) = self.known_hosts.learn(&self.host, self.port, key) {
                        return self.reject(format!(
                            "could not record the host key of {} in known_hosts: {err}",
                            self.label()
                        ));
                    }
                    Ok(true)
                }
            },
        }
    }
}

// ---------------------------------------------------------------- exec

struct SshProcess {
    channel: russh::Channel<client::Msg>,
    stdin: Option<mpsc::Sender<Vec<u8>>>,
    writer: Option<tokio::task::JoinHandle<()>>,
}

impl SshProcess {
    fn new(channel: russh::Channel<client::Msg>) -> Self {
        // stdin is written by its own task, so a command that prints while
        // we feed it cannot stall the reads (and the connection) behind it.
        let mut w = channel.make_writer();
        // Bounded: a large upload waits for the network instead of
        // queueing the whole file in memory.
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(8);
        let writer = tokio::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                if w.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            let _ = w.shutdown().await;
        });
        SshProcess {
            channel,
            stdin: Some(tx),
            writer: Some(writer),
        }
    }

    /// Closes the channel explicitly: russh does not on drop, and leaked
    /// channels fill sshd's MaxSessions.
    async fn finish(&mut self) {
        self.stdin = None;
        let _ = self.channel.close().await;
        if let Some(w) = self.writer.take() {
            w.abort();
        }
    }
}

#[async_trait]
impl Process for SshProcess {
    async fn next_event(&mut self) -> Result<Event, HostError> {
        loop {
            let Some(msg) = self.channel.wait().await else {
                return Ok(Event::Closed);
            };
            return Ok(match msg {
                ChannelMsg::Data { data } => Event::Stdout(data.to_vec()),
                ChannelMsg::ExtendedData { data, ext: 1 } => Event::Stderr(data.to_vec()),
                ChannelMsg::ExitStatus { exit_status } => {
                    Event::Exit(i32::try_from(exit_status).unwrap_or(i32::MAX))
                }
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    Event::Exit(-signal_number(&signal_name))
                }
                ChannelMsg::Close => Event::Closed,
                _ => continue,
            });
        }
    }

    async fn write_stdin(&mut self, data: &[u8]) -> Result<(), HostError> {
        if let Some(tx) = &self.stdin {
            for chunk in data.chunks(32 * 1024) {
                if tx.send(chunk.to_vec()).await.is_err() {
                    break;
                }
            }
        }
        Ok(())
    }

    async fn feed_file(&mut self, path: &std::path::Path) -> Result<(), HostError> {
        let Some(tx) = self.stdin.take() else {
            return Ok(());
        };
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| HostError::Failed(format!("cannot read {}: {e}", path.display())))?;
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match file.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).await.is_err() {
                            break;
                        }
                    }
                }
            }
            // Dropping the last sender ends the writer, which sends EOF.
        });
        Ok(())
    }

    async fn close_stdin(&mut self) -> Result<(), HostError> {
        // Dropping the sender ends the writer task, which sends EOF.
        self.stdin = None;
        Ok(())
    }

    async fn kill(&mut self) {
        let _ = self.channel.signal(Sig::KILL).await;
        self.finish().await;
    }
}

fn signal_number(sig: &Sig) -> i32 {
    match sig {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::Custom(_) => 1,
    }
}
