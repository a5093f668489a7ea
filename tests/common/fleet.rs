//! The loopback fleet fixture: one real OpenSSH `sshd` on a free port with throwaway keys,
//! reached as hosts h01.. on 127.0.0.2.., plus the inventory, known_hosts, clean HOME and
//! `tutti` command that fleet tests run against it, and helpers for unreachable-host tests.
//!
//! Lessons baked in (DESIGN.md §9): sshd by absolute path with `/run/sshd` present,
//! `StrictModes no` for keys under /tmp, `ListenAddress 0.0.0.0` so every 127.0.0.x reaches
//! it (the key is restricted with `from="127.0.0.0/8"`), raised `MaxStartups`/`MaxSessions`,
//! and a clean remote HOME so no ~/.bashrc runs on each command.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Where the fixture expects the OpenSSH server (Debian/Ubuntu `openssh-server`).
pub const SSHD: &str = "/usr/sbin/sshd";

const SSHD_MISSING: &str = "sshd not found at /usr/sbin/sshd: install it with \
     `apt-get install openssh-server` (the README's test command does this)";

/// How long to wait for sshd to print its banner before giving up.
const BANNER_TIMEOUT: Duration = Duration::from_secs(10);
/// How many fresh ports to try when sshd exits early (e.g. the port was taken meanwhile).
const PORT_ATTEMPTS: usize = 5;

/// One inventory host: a name and the loopback address that reaches the fleet's sshd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetHost {
    /// `h01`, `h02`, ... (zero-padded to at least two digits).
    pub name: String,
    /// `127.0.0.2`, `127.0.0.3`, ...
    pub addr: String,
}

/// What `Fleet::start_with` can change.
#[derive(Clone, Debug)]
pub struct FleetOptions {
    /// Number of inventory hosts (all served by the one sshd).
    pub hosts: usize,
    /// Extra sshd_config lines. A line whose keyword the fixture also sets replaces the
    /// fixture's line(s) for that keyword; a line starting with `Match` and everything after
    /// it go at the end of the file. To change one host only, match the address it was
    /// reached on: `Match LocalAddress 127.0.0.3` (the client side is always 127.0.0.1).
    pub sshd_config: Vec<String>,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            hosts: 2,
            sshd_config: Vec::new(),
        }
    }
}

impl FleetOptions {
    /// Options for `n` hosts and the default sshd_config.
    pub fn hosts(n: usize) -> Self {
        FleetOptions {
            hosts: n,
            ..FleetOptions::default()
        }
    }

    /// Adds one sshd_config line (see `sshd_config`).
    pub fn sshd_line(mut self, line: impl Into<String>) -> Self {
        self.sshd_config.push(line.into());
        self
    }
}

/// A running loopback fleet. Dropping it kills sshd and deletes the temp dir.
pub struct Fleet {
    /// Temp dir holding keys, config, logs, inventory, HOME; also the `tutti()` working dir.
    pub dir: tempfile::TempDir,
    /// The port sshd listens on (on 0.0.0.0).
    pub port: u16,
    /// h01 → 127.0.0.2, h02 → 127.0.0.3, ...
    pub hosts: Vec<FleetHost>,
    /// Private key authorized for root on every host.
    pub client_key: PathBuf,
    /// A second private key that is NOT authorized (wrong-key tests).
    pub wrong_key: PathBuf,
    /// The host public key as `ssh-ed25519 AAAA...` (no comment).
    pub host_pubkey_line: String,
    /// known_hosts with `[127.0.0.X]:PORT <host key>` for every host.
    pub known_hosts: PathBuf,
    /// The default INI inventory (`ini_inventory("")`).
    pub inventory: PathBuf,
    /// A fresh HOME for the controller; `.ssh/known_hosts` is the fleet's known hosts.
    pub home: PathBuf,
    /// HOME of the remote sessions (set by sshd's `SetEnv`).
    pub remote_home: PathBuf,
    /// The sshd_config in use.
    pub sshd_config: PathBuf,
    /// sshd's log (`-E`), at LogLevel VERBOSE.
    pub sshd_log_path: PathBuf,
    child: Child,
}

impl Fleet {
    /// Starts sshd with `n` hosts and the default options. Panics with an actionable message
    /// (including the sshd log) when it cannot.
    pub fn start(n: usize) -> Fleet {
        Fleet::start_with(FleetOptions::hosts(n))
    }

    /// Starts sshd with the given options. Panics with an actionable message on failure.
    pub fn start_with(opts: FleetOptions) -> Fleet {
        if !Path::new(SSHD).is_file() {
            panic!("{SSHD_MISSING}");
        }
        // Debian's sshd refuses to start without its privilege-separation directory.
        let _ = fs::create_dir_all("/run/sshd");

        let dir = tempfile::Builder::new()
            .prefix("tutti-fleet-")
            .tempdir()
            .unwrap_or_else(|e| panic!("fleet: cannot create a temp dir: {e}"));
        let root = dir.path().to_path_buf();

        let host_key = root.join("ssh_host_ed25519_key");
        let client_key = root.join("client_key");
        let wrong_key = root.join("wrong_key");
        for key in [&host_key, &client_key, &wrong_key] {
            keygen(key);
        }
        let host_pubkey_line = pubkey_line(&host_key);
        let client_pub = pubkey_line(&client_key);

        let authorized_keys = root.join("authorized_keys");
        write(
            &authorized_keys,
            &format!("from=\"127.0.0.0/8\" {client_pub} tutti-fleet-client\n"),
        );
        let remote_home = root.join("remote-home");
        let home = root.join("home");
        mkdir(&remote_home);
        mkdir(&home.join(".ssh"));

        let hosts = host_list(opts.hosts);
        let sshd_config = root.join("sshd_config");
        let sshd_log_path = root.join("sshd.log");
        let stderr_path = root.join("sshd.stderr");

        let mut failures = String::new();
        let mut started = None;
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port();
            let config = render_sshd_config(
                port,
                &root,
                &host_key,
                &authorized_keys,
                &remote_home,
                &opts.sshd_config,
            );
            write(&sshd_config, &config);
            check_config(&sshd_config, &config);
            let _ = fs::remove_file(&sshd_log_path);
            match spawn_sshd(&sshd_config, &sshd_log_path, &stderr_path, port) {
                Ok(child) => {
                    started = Some((child, port));
                    break;
                }
                Err(why) => {
                    let log = fs::read_to_string(&sshd_log_path).unwrap_or_default();
                    let err = fs::read_to_string(&stderr_path).unwrap_or_default();
                    let _ = writeln!(
                        failures,
                        "attempt {attempt} on port {port}: {why}\n--- sshd log ---\n{log}\
                         --- sshd stderr ---\n{err}"
                    );
                }
            }
        }
        let Some((child, port)) = started else {
            panic!(
                "fleet: sshd did not come up after {PORT_ATTEMPTS} attempts \
                 (command: {SSHD} -D -f {} -E {}; is /run/sshd present and are we root?)\n{failures}",
                sshd_config.display(),
                sshd_log_path.display()
            );
        };

        let fleet = Fleet {
            known_hosts: root.join("known_hosts"),
            inventory: root.join("inventory.ini"),
            dir,
            port,
            hosts,
            client_key,
            wrong_key,
            host_pubkey_line,
            home,
            remote_home,
            sshd_config,
            sshd_log_path,
            child,
        };
        fleet.write_known_hosts(&fleet.known_hosts.clone());
        fleet.write_known_hosts(&fleet.home.join(".ssh").join("known_hosts"));
        let inventory = fleet.ini_inventory("");
        write(&fleet.inventory, &inventory);
        fleet
    }

    /// Text of an INI inventory: every host in `[fleet]` with its connection vars (plus
    /// `extra_host_vars`, appended verbatim to each host line), then `[web]` with the first
    /// half of the hosts and `[db]` with the rest.
    pub fn ini_inventory(&self, extra_host_vars: &str) -> String {
        let extra = extra_host_vars.trim();
        let mut out = String::from("[fleet]\n");
        for h in &self.hosts {
            let _ = write!(
                out,
                "{} ansible_host={} ansible_port={} ansible_user=root ansible_ssh_private_key_file={}",
                h.name,
                h.addr,
                self.port,
                self.client_key.display()
            );
            if !extra.is_empty() {
                out.push(' ');
                out.push_str(extra);
            }
            out.push('\n');
        }
        let half = self.hosts.len().div_ceil(2);
        out.push_str("\n[web]\n");
        for h in &self.hosts[..half] {
            out.push_str(&h.name);
            out.push('\n');
        }
        out.push_str("\n[db]\n");
        for h in &self.hosts[half..] {
            out.push_str(&h.name);
            out.push('\n');
        }
        out
    }

    /// Writes `[127.0.0.X]:PORT <host key>` for every host to `path`.
    pub fn write_known_hosts(&self, path: &Path) {
        let mut text = String::new();
        for h in &self.hosts {
            let _ = writeln!(text, "[{}]:{} {}", h.addr, self.port, self.host_pubkey_line);
        }
        write(path, &text);
    }

    /// The sshd log so far (empty if unreadable).
    pub fn sshd_log(&self) -> String {
        fs::read_to_string(&self.sshd_log_path).unwrap_or_default()
    }

    /// A `tutti` command: HOME is the fleet's fresh home, SSH_AUTH_SOCK, ANSIBLE_*, TUTTI_*
    /// and XDG_CONFIG_HOME are removed, NO_COLOR=1, and the working dir is `self.dir`.
    pub fn tutti(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tutti"));
        cmd.current_dir(self.dir.path())
            .env("HOME", &self.home)
            .env("NO_COLOR", "1")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("XDG_CONFIG_HOME")
            .stdin(Stdio::null());
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("ANSIBLE_") || k.starts_with("TUTTI_") {
                cmd.env_remove(&key);
            }
        }
        cmd
    }

    /// The system `ssh` client aimed at `host` with `key`, strict host-key checking against
    /// the fleet's known_hosts and no agent or user config; append the remote command.
    pub fn ssh_command(&self, host: &FleetHost, key: &Path) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.env("HOME", &self.home)
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .args(["-F", "/dev/null", "-o"])
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "ConnectTimeout=10",
                "-i",
            ])
            .arg(key)
            .arg("-p")
            .arg(self.port.to_string())
            .arg(format!("root@{}", host.addr));
        cmd
    }

    /// Runs `remote_cmd` on `host` with the authorized key through the system `ssh` client.
    pub fn ssh(&self, host: &FleetHost, remote_cmd: &str) -> Output {
        self.ssh_command(host, &self.client_key)
            .arg(remote_cmd)
            .output()
            .unwrap_or_else(|e| {
                panic!("fleet: cannot run ssh (apt-get install openssh-client): {e}")
            })
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on (connecting gets "refused").
pub fn closed_port() -> u16 {
    // Bound but never listening: a connection is refused, and while the
    // socket lives (it is kept for the rest of the test process) the kernel
    // gives the port to no one else, such as an sshd another test starts.
    let socket = tokio::net::TcpSocket::new_v4()
        .unwrap_or_else(|e| panic!("closed_port: cannot create a socket: {e}"));
    socket
        .bind("127.0.0.1:0".parse().expect("a socket address"))
        .unwrap_or_else(|e| panic!("closed_port: cannot bind 127.0.0.1:0: {e}"));
    let port = socket
        .local_addr()
        .unwrap_or_else(|e| panic!("closed_port: no local addr: {e}"))
        .port();
    std::mem::forget(socket);
    port
}

/// A listener on 127.0.0.1 that accepts connections and never says anything (for
/// banner/handshake timeout tests). A background thread keeps accepting and holds every
/// connection open until the test process exits.
pub fn silent_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("silent_listener: cannot bind 127.0.0.1:0: {e}"));
    let port = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("silent_listener: no local addr: {e}"))
        .port();
    let acceptor = listener
        .try_clone()
        .unwrap_or_else(|e| panic!("silent_listener: cannot clone the listener: {e}"));
    thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in acceptor.incoming() {
            match stream {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
    });
    (listener, port)
}

fn host_list(n: usize) -> Vec<FleetHost> {
    let width = n.to_string().len().max(2);
    (0..n)
        .map(|i| FleetHost {
            name: format!("h{:0width$}", i + 1),
            // 127.0.0.2 ..= 127.0.0.254, then 127.0.1.2 ..
            addr: format!("127.0.{}.{}", i / 253, i % 253 + 2),
        })
        .collect()
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "tutti-fleet", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("fleet: cannot run ssh-keygen (install it with `apt-get install openssh-client`): {e}")
        });
    if !out.status.success() {
        panic!(
            "fleet: ssh-keygen failed for {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `ssh-ed25519 AAAA...` from `<key>.pub`, without the comment.
fn pubkey_line(private_key: &Path) -> String {
    let mut pub_path = private_key.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = PathBuf::from(pub_path);
    let text = fs::read_to_string(&pub_path)
        .unwrap_or_else(|e| panic!("fleet: cannot read {}: {e}", pub_path.display()));
    let fields: Vec<&str> = text.split_whitespace().take(2).collect();
    if fields.len() != 2 {
        panic!(
            "fleet: malformed public key in {}: {text:?}",
            pub_path.display()
        );
    }
    fields.join(" ")
}

fn render_sshd_config(
    port: u16,
    root: &Path,
    host_key: &Path,
    authorized_keys: &Path,
    remote_home: &Path,
    extra: &[String],
) -> String {
    let sftp = if Path::new("/usr/lib/openssh/sftp-server").is_file() {
        "/usr/lib/openssh/sftp-server"
    } else {
        "internal-sftp"
    };
    let defaults = [
        format!("Port {port}"),
        "ListenAddress 0.0.0.0".to_string(),
        format!("HostKey {}", host_key.display()),
        format!("PidFile {}", root.join("sshd.pid").display()),
        format!("AuthorizedKeysFile {}", authorized_keys.display()),
        "StrictModes no".to_string(),
        "UsePAM no".to_string(),
        "PermitRootLogin yes".to_string(),
        "PubkeyAuthentication yes".to_string(),
        "PasswordAuthentication no".to_string(),
        "KbdInteractiveAuthentication no".to_string(),
        "MaxStartups 2000".to_string(),
        "MaxSessions 100".to_string(),
        "MaxAuthTries 20".to_string(),
        // OpenSSH >= 9.8 penalizes sources that fail auth; wrong-key tests would then lock
        // out 127.0.0.x. Dropped by `check_config` on versions that do not know it.
        "PerSourcePenalties no".to_string(),
        format!("SetEnv HOME={}", remote_home.display()),
        format!("Subsystem sftp {sftp}"),
        "LogLevel VERBOSE".to_string(),
        "PrintMotd no".to_string(),
        "PrintLastLog no".to_string(),
        "UseDNS no".to_string(),
        "AcceptEnv LANG LC_*".to_string(),
    ];
    let keyword = |line: &str| {
        line.split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let match_at = extra
        .iter()
        .position(|l| keyword(l) == "match")
        .unwrap_or(extra.len());
    let (plain, matches) = extra.split_at(match_at);
    let overridden: HashSet<String> = plain.iter().map(|l| keyword(l)).collect();
    let mut out = String::from("# tutti test fleet\n");
    for line in defaults
        .iter()
        .filter(|l| !overridden.contains(&keyword(l)))
    {
        out.push_str(line);
        out.push('\n');
    }
    for line in plain.iter().chain(matches) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Validates the config with `sshd -t`; drops options this sshd does not know
/// (`PerSourcePenalties` before 9.8) and panics with sshd's message on other errors.
fn check_config(path: &Path, config: &str) {
    let test = || {
        Command::new(SSHD)
            .arg("-t")
            .arg("-f")
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("fleet: cannot run {SSHD} -t: {e}"))
    };
    let out = test();
    if out.status.success() {
        return;
    }
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if err.contains("PerSourcePenalties") {
        let trimmed: String = config
            .lines()
            .filter(|l| !l.starts_with("PerSourcePenalties"))
            .map(|l| format!("{l}\n"))
            .collect();
        write(path, &trimmed);
        let again = test();
        if again.status.success() {
            return;
        }
        panic!(
            "fleet: sshd rejects the generated config {}:\n{}\n--- config ---\n{trimmed}",
            path.display(),
            String::from_utf8_lossy(&again.stderr)
        );
    }
    panic!(
        "fleet: sshd rejects the generated config {} (is /run/sshd present?):\n{err}\n--- config ---\n{config}",
        path.display()
    );
}

fn spawn_sshd(config: &Path, log: &Path, stderr_path: &Path, port: u16) -> Result<Child, String> {
    let stderr = fs::File::create(stderr_path)
        .map_err(|e| format!("cannot create {}: {e}", stderr_path.display()))?;
    let mut child = Command::new(SSHD)
        .arg("-D")
        .arg("-f")
        .arg(config)
        .arg("-E")
        .arg(log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot spawn {SSHD}: {e}"))?;
    let deadline = Instant::now() + BANNER_TIMEOUT;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut last = String::from("no attempt");
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("sshd exited early with {status}"));
        }
        match read_banner(&addr) {
            Ok(()) => return Ok(child),
            Err(e) => last = e,
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!(
        "no SSH-2.0 banner on {addr} within {BANNER_TIMEOUT:?} (last: {last})"
    ))
}

fn read_banner(addr: &SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect_timeout(addr, Duration::from_millis(500))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| format!("set_read_timeout: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    while buf.len() < 1024 {
        let n = stream
            .read(&mut chunk)
            .map_err(|e| format!("read banner: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if String::from_utf8_lossy(&buf).contains("SSH-2.0") {
            return Ok(());
        }
    }
    Err(format!(
        "unexpected banner {:?}",
        String::from_utf8_lossy(&buf)
    ))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("0.0.0.0:0")
        .unwrap_or_else(|e| panic!("fleet: cannot bind 0.0.0.0:0 to find a free port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("fleet: no local addr: {e}"))
        .port()
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("fleet: cannot write {}: {e}", path.display()));
}

fn mkdir(path: &Path) {
    fs::create_dir_all(path)
        .unwrap_or_else(|e| panic!("fleet: cannot create {}: {e}", path.display()));
}
