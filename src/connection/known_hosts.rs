//! OpenSSH-compatible host key verification: reading known_hosts files
//! (plain, wildcard, negated and hashed host fields, `@revoked` and
//! `@cert-authority` markers), deciding a [`Verdict`] for a presented key,
//! and appending newly learned keys safely under concurrency.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{Algorithm, HashAlg, PublicKey};
use sha1::Sha1;

/// What to do with unknown or changed host keys (StrictHostKeyChecking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Never add keys; refuse unknown and changed keys.
    Strict,
    /// Add keys of new hosts automatically; refuse changed keys.
    AcceptNew,
    /// No verification at all (OpenSSH `no`/`off`). Revoked keys are still
    /// refused by callers that honour [`Verdict::Revoked`].
    Off,
}

impl Policy {
    /// Parses ssh_config `StrictHostKeyChecking` values and Ansible
    /// `host_key_checking` values. `ask` maps to [`Policy::Strict`] because
    /// a fan-out tool runs as if `BatchMode yes` were set, and OpenSSH in
    /// batch mode treats `ask` as refusal of unknown keys.
    pub fn parse(value: &str) -> Option<Policy> {
        match value.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "strict" | "1" | "on" | "ask" => Some(Policy::Strict),
            "accept-new" | "accept_new" | "acceptnew" => Some(Policy::AcceptNew),
            "no" | "false" | "off" | "0" => Some(Policy::Off),
            _ => None,
        }
    }
}

/// Outcome of checking a presented host key against the known_hosts files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A matching line holds exactly this key.
    Known,
    /// No line matches the host at all.
    Unknown,
    /// The host is on record, but with a different key (same algorithm) or
    /// only with other algorithms. `file`/`line` point at the offending
    /// entry (1-based line number).
    Changed { file: PathBuf, line: usize },
    /// The presented key is marked `@revoked` for this host.
    Revoked { file: PathBuf, line: usize },
}

/// The set of known_hosts files consulted for verification.
#[derive(Debug, Clone)]
pub struct KnownHosts {
    user_files: Vec<PathBuf>,
    global_files: Vec<PathBuf>,
    hash_new: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

/// One parsed, usable known_hosts line.
struct Entry {
    marker: Marker,
    hosts: String,
    key: PublicKey,
    line: usize,
}

impl KnownHosts {
    pub fn new(user_files: Vec<PathBuf>, global_files: Vec<PathBuf>) -> Self {
        KnownHosts {
            user_files,
            global_files,
            hash_new: false,
        }
    }

    /// OpenSSH's defaults: `~/.ssh/known_hosts{,2}` and
    /// `/etc/ssh/ssh_known_hosts{,2}`.
    pub fn default_files() -> Self {
        let mut user = Vec::new();
        if let Some(home) = dirs::home_dir() {
            user.push(home.join(".ssh").join("known_hosts"));
            user.push(home.join(".ssh").join("known_hosts2"));
        }
        let global = vec![
            PathBuf::from("/etc/ssh/ssh_known_hosts"),
            PathBuf::from("/etc/ssh/ssh_known_hosts2"),
        ];
        KnownHosts::new(user, global)
    }

    /// Whether [`KnownHosts::learn`] writes hashed host names
    /// (`HashKnownHosts yes`).
    pub fn hash_new_entries(mut self, yes: bool) -> Self {
        self.hash_new = yes;
        self
    }

    pub fn user_files(&self) -> &[PathBuf] {
        &self.user_files
    }

    pub fn global_files(&self) -> &[PathBuf] {
        &self.global_files
    }

    fn all_files(&self) -> impl Iterator<Item = &PathBuf> {
        self.user_files.iter().chain(self.global_files.iter())
    }

    /// Decides whether `key` is acceptable for `host:port`.
    ///
    /// Unreadable files and unparseable lines are skipped: one corrupt line
    /// must not make every host unverifiable.
    pub fn check(&self, host: &str, port: u16, key: &PublicKey) -> Verdict {
        let name = lookup_name(host, port);
        let mut known = false;
        let mut same_alg_mismatch: Option<(PathBuf, usize)> = None;
        let mut other_alg: Option<(PathBuf, usize)> = None;
        for file in self.all_files() {
            for entry in read_entries(file) {
                if !host_field_matches(&entry.hosts, &name) {
                    continue;
                }
                match entry.marker {
                    // Revocation wins over anything else, so return at once.
                    Marker::Revoked if entry.key.key_data() == key.key_data() => {
                        return Verdict::Revoked {
                            file: file.clone(),
                            line: entry.line,
                        };
                    }
                    Marker::Revoked | Marker::CertAuthority => {}
                    Marker::None => {
                        if entry.key.key_data() == key.key_data() {
                            known = true;
                        } else if same_family(&entry.key.algorithm(), &key.algorithm()) {
                            same_alg_mismatch.get_or_insert((file.clone(), entry.line));
                        } else {
                            other_alg.get_or_insert((file.clone(), entry.line));
                        }
                    }
                }
            }
        }
        if known {
            return Verdict::Known;
        }
        // A same-algorithm mismatch is the more telling report; otherwise the
        // host is known only under other algorithms, which we also refuse
        // (stricter than OpenSSH, which would call the key unknown and might
        // let accept-new add it next to the existing ones).
        match same_alg_mismatch.or(other_alg) {
            Some((file, line)) => Verdict::Changed { file, line },
            None => Verdict::Unknown,
        }
    }

    /// Host key algorithms on record for `host:port`, in file order without
    /// duplicates, suitable for restricting the host-key preference list so
    /// the server presents a key we can actually verify. RSA keys expand to
    /// the three signature variants (rsa-sha2-512, rsa-sha2-256, ssh-rsa)
    /// because any of them verifies against the same key.
    pub fn known_algorithms(&self, host: &str, port: u16) -> Vec<Algorithm> {
        let name = lookup_name(host, port);
        let mut out: Vec<Algorithm> = Vec::new();
        for file in self.all_files() {
            for entry in read_entries(file) {
                if entry.marker != Marker::None || !host_field_matches(&entry.hosts, &name) {
                    continue;
                }
                let algs = match entry.key.algorithm() {
                    Algorithm::Rsa { .. } => vec![
                        Algorithm::Rsa {
                            hash: Some(HashAlg::Sha512),
                        },
                        Algorithm::Rsa {
                            hash: Some(HashAlg::Sha256),
                        },
                        Algorithm::Rsa { hash: None },
                    ],
                    other => vec![other],
                };
                for a in algs {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
            }
        }
        out
    }

    /// Appends `key` for `host:port` to the first user file, creating the
    /// directory (0700) and file (0600) if needed. An exclusive file lock
    /// serialises parallel connections so lines never interleave, and the
    /// file is re-read under the lock so two connections learning the same
    /// host don't write duplicate lines.
    pub fn learn(&self, host: &str, port: u16, key: &PublicKey) -> std::io::Result<()> {
        let Some(path) = self.user_files.first() else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no user known_hosts file configured",
            ));
        };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            create_private_dir(dir)?;
        }
        let mut file = open_private_append(path)?;
        file.lock()?;
        let result = append_locked(&mut file, host, port, key, self.hash_new);
        // Closing the file releases the lock too; unlocking explicitly just
        // makes the critical section obvious.
        let _ = file.unlock();
        result
    }
}

fn append_locked(
    file: &mut File,
    host: &str,
    port: u16,
    key: &PublicKey,
    hash: bool,
) -> std::io::Result<()> {
    let name = lookup_name(host, port);
    file.seek(SeekFrom::Start(0))?;
    // Non-UTF-8 content is tolerated: we only need it for the duplicate check
    // and the trailing-newline check.
    let mut raw = Vec::new();
    file.read_to_end(&mut raw)?;
    let existing = String::from_utf8_lossy(&raw);
    let already = parse_entries(&existing).any(|e| {
        e.marker == Marker::None
            && e.key.key_data() == key.key_data()
            && host_field_matches(&e.hosts, &name)
    });
    if already {
        return Ok(());
    }
    let host_field = if hash { hash_host(&name) } else { name };
    let key_text = PublicKey::new(key.key_data().clone(), "")
        .to_openssh()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    let mut line = String::new();
    // Never glue our entry onto a previous line that lacks its newline.
    if !raw.is_empty() && raw.last() != Some(&b'\n') {
        line.push('\n');
    }
    line.push_str(&host_field);
    line.push(' ');
    line.push_str(key_text.trim());
    line.push('\n');
    // One write call for the whole line; the lock already excludes other
    // writers that follow this protocol, and O_APPEND positions it at EOF.
    file.write_all(line.as_bytes())?;
    file.flush()?;
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

fn open_private_append(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// OpenSSH looks up `host` for port 22 and `[host]:port` otherwise; host
/// names are compared in lower case.
fn lookup_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// RSA keys share one family whatever signature hash was negotiated.
fn same_family(a: &Algorithm, b: &Algorithm) -> bool {
    match (a, b) {
        (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }) => true,
        _ => a == b,
    }
}

/// `SHA256:<unpadded base64>`, exactly as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

fn read_entries(path: &Path) -> Vec<Entry> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    parse_entries(&String::from_utf8_lossy(&bytes)).collect()
}

fn parse_entries(text: &str) -> impl Iterator<Item = Entry> + '_ {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| parse_line(line, i + 1))
}

/// Parses one line; `None` for blanks, comments and anything malformed.
fn parse_line(line: &str, lineno: usize) -> Option<Entry> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_ascii_whitespace();
    let mut first = fields.next()?;
    let marker = if let Some(m) = first.strip_prefix('@') {
        let marker = match m {
            "revoked" => Marker::Revoked,
            "cert-authority" => Marker::CertAuthority,
            // Unknown markers: OpenSSH skips such lines, so do we.
            _ => return None,
        };
        first = fields.next()?;
        marker
    } else {
        Marker::None
    };
    let key_type = fields.next()?;
    let blob = fields.next()?;
    let key = PublicKey::from_openssh(&format!("{key_type} {blob}")).ok()?;
    Some(Entry {
        marker,
        hosts: first.to_string(),
        key,
        line: lineno,
    })
}

/// Whether a known_hosts host field matches `name` (already lower-cased,
/// already in `[host]:port` form when needed).
fn host_field_matches(field: &str, name: &str) -> bool {
    if field.starts_with('|') {
        return hashed_matches(field, name);
    }
    match_pattern_list(name, field)
}

/// OpenSSH pattern-list semantics: comma-separated patterns, `!pattern`
/// negates, and any matching negation rejects the whole list even if a
/// positive pattern also matches. Case-insensitive.
pub(crate) fn match_pattern_list(name: &str, list: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let mut positive = false;
    for pat in list.split(',') {
        let pat = pat.trim();
        if pat.is_empty() {
            continue;
        }
        if let Some(neg) = pat.strip_prefix('!') {
            if wildcard_match(&neg.to_ascii_lowercase(), &name) {
                return false;
            }
        } else if wildcard_match(&pat.to_ascii_lowercase(), &name) {
            positive = true;
        }
    }
    positive
}

/// Glob with `*` (any run, including empty) and `?` (one character); every
/// other character, including `[` and `]`, is literal as in OpenSSH.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Backtracking point: position after the last `*` and the text index it
    // is currently assumed to have consumed up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi + 1, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// `|1|base64(salt)|base64(HMAC-SHA1(key=salt, msg=name))`.
fn hashed_matches(field: &str, name: &str) -> bool {
    let Some(rest) = field.strip_prefix("|1|") else {
        return false;
    };
    let Some((salt_b64, hash_b64)) = rest.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(expected)) = (B64.decode(salt_b64), B64.decode(hash_b64)) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&expected).is_ok()
}

fn hash_with_salt(name: &str, salt: &[u8]) -> Option<String> {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(salt).ok()?;
    mac.update(name.as_bytes());
    let digest = mac.finalize().into_bytes();
    Some(format!("|1|{}|{}", B64.encode(salt), B64.encode(digest)))
}

fn hash_host(name: &str) -> String {
    // 20 bytes of salt, the SHA-1 output size, as ssh-keygen uses.
    let salt: [u8; 20] = rand::random();
    // HMAC accepts keys of any length, so this cannot fail; fall back to the
    // plain name rather than panicking if it somehow did.
    hash_with_salt(name, &salt).unwrap_or_else(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIjHFYVeuFxxfdzvr/GITIgcTuL2SZwIKU7J+xQBfhG4";
    const ED2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEVx2brqejskPhDpGHBuauuRUzI5Gcxv/yBHlPU+njvl";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBH1VVUkSZQXjEolQYoHGn7iyRXRxMLUk23F8SeaJuYTN6EVX61LymIffWQmmCvNQ26wdrJLTFD84M0j6njeFhpc=";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDJF4EKohdWQ0E39X73+WaiI5rZwxMvt6BA0pVAGNfWNBHbCVIl0mpi/2otIPq1bX2TLj3FWXXXlF4Op2KeoTKpagC0zTdb7q2737suS1erxnzhEQMTMZEWu0A48OmWArbG2Q5rRB53O5U+IZ7w3daJ/Dg/0UgvXbKtyraac1Ydv+JnFX3rp8pMtoXk6cI/Ysxw+teYv3edPSpi5YVRu3MBET6KutnKI2bhtIXUpBQ3ZFNYPD48nh4rtxVGx+aezT6fxUfbt9Dc3j+8pcSsQt9JbZh+QpbEiqr0q9p3LfKm/QVgQhko2KzSXcg/Hkhti/LI/eAICrWUU7kqGqNf01iQvvoCkrejSIBfhCaubjmmptyZfOS9s6jpL72sNQ7AvP6bk5X439DP4dENSXgbO/GAnOuNKsss277Rn1Hj9AXgL30erDKE9BREmu8l6Wl2MUKwN+1m7vLO4QZxoI1oVEtNjWT7E7x2GB1MhqkvJ0GOQ0fWxA065QE6kobdblWhIa0=";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    fn kh_with(text: &str) -> (tempfile::TempDir, KnownHosts, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, text).unwrap();
        let kh = KnownHosts::new(vec![path.clone()], vec![]);
        (dir, kh, path)
    }

    #[test]
    fn policy_parse() {
        assert_eq!(Policy::parse("yes"), Some(Policy::Strict));
        assert_eq!(Policy::parse("True"), Some(Policy::Strict));
        assert_eq!(Policy::parse("accept-new"), Some(Policy::AcceptNew));
        assert_eq!(Policy::parse("no"), Some(Policy::Off));
        assert_eq!(Policy::parse("False"), Some(Policy::Off));
        assert_eq!(Policy::parse("off"), Some(Policy::Off));
        assert_eq!(Policy::parse("maybe"), None);
    }

    #[test]
    fn fingerprint_matches_ssh_keygen() {
        assert_eq!(
            fingerprint(&key(ED1)),
            "SHA256:rwS+V+pg6/4AtBTzfqB6CTysFQKKX6j7azvcaeOHyBo"
        );
        assert_eq!(
            fingerprint(&key(ECDSA)),
            "SHA256:/yBVvVzo+pUi3p99WapbLrBMZbtekf+9HqdvikkSWLI"
        );
    }

    #[test]
    fn wildcard_basics() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*.example.com", "a.b.example.com"));
        assert!(!wildcard_match("*.example.com", "example.com"));
        assert!(wildcard_match("web?", "web1"));
        assert!(!wildcard_match("web?", "web10"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(wildcard_match("[*.x]:2222", "[h.x]:2222"));
    }

    #[test]
    fn plain_known_unknown_and_case() {
        let (_d, kh, _) = kh_with(&format!("Example.COM,10.0.0.1 {ED1} comment here\n"));
        assert_eq!(kh.check("example.com", 22, &key(ED1)), Verdict::Known);
        assert_eq!(kh.check("EXAMPLE.com", 22, &key(ED1)), Verdict::Known);
        assert_eq!(kh.check("10.0.0.1", 22, &key(ED1)), Verdict::Known);
        assert_eq!(kh.check("other.com", 22, &key(ED1)), Verdict::Unknown);
        // Same host on another port is a different entry.
        assert_eq!(kh.check("example.com", 2222, &key(ED1)), Verdict::Unknown);
    }

    #[test]
    fn bracketed_port() {
        let (_d, kh, _) = kh_with(&format!("[h.example]:2222 {ED1}\n"));
        assert_eq!(kh.check("h.example", 2222, &key(ED1)), Verdict::Known);
        assert_eq!(kh.check("h.example", 22, &key(ED1)), Verdict::Unknown);
        assert_eq!(kh.check("h.example", 2223, &key(ED1)), Verdict::Unknown);
    }

    #[test]
    fn wildcard_and_negation() {
        let (_d, kh, _) = kh_with(&format!("*.lab,!bad.lab {ED1}\n[*.lab]:2200 {ED1}\n"));
        assert_eq!(kh.check("a.lab", 22, &key(ED1)), Verdict::Known);
        assert_eq!(kh.check("bad.lab", 22, &key(ED1)), Verdict::Unknown);
        assert_eq!(kh.check("x.lab", 2200, &key(ED1)), Verdict::Known);
        assert_eq!(kh.check("lab", 22, &key(ED1)), Verdict::Unknown);
    }

    #[test]
    fn hashed_fixed_vector_from_ssh_keygen() {
        // Produced with `ssh-keygen -H` from lines for `example.com` and
        // `[alt.example.com]:2222`.
        let text = format!(
            "|1|W5oqEH/UzR1s0jv7e2juPNu+rRs=|HnZo4KIcQ9dBE5Y/zmYOuxqv0JM= {ED1}\n\
             |1|GR5bs3KHYy5BvxUEfB0QgXXBJxM=|Wx2YVnt/fJ3lOO0pIZ+cNlg2nys= {ECDSA}\n"
        );
        let (_d, kh, _) = kh_with(&text);
        assert_eq!(kh.check("example.com", 22, &key(ED1)), Verdict::Known);
        assert_eq!(
            kh.check("alt.example.com", 2222, &key(ECDSA)),
            Verdict::Known
        );
        assert_eq!(
            kh.check("alt.example.com", 22, &key(ECDSA)),
            Verdict::Unknown
        );
        assert_eq!(
            kh.check("nope.example.com", 22, &key(ED1)),
            Verdict::Unknown
        );
    }

    #[test]
    fn hashed_own_hmac_roundtrip() {
        let h = hash_with_salt("[db]:2022", &[7u8; 20]).unwrap();
        assert!(h.starts_with("|1|"));
        assert!(hashed_matches(&h, "[db]:2022"));
        assert!(!hashed_matches(&h, "db"));
        assert!(!hashed_matches("|1|garbage", "db"));
        assert!(!hashed_matches("|2|a|b", "db"));
    }

    #[test]
    fn revoked_wins() {
        let (_d, kh, path) = kh_with(&format!("h {ED1}\n@revoked * {ED1}\n"));
        assert_eq!(
            kh.check("h", 22, &key(ED1)),
            Verdict::Revoked {
                file: path.clone(),
                line: 2
            }
        );
        // The revocation concerns that key only.
        assert_eq!(kh.check("other", 22, &key(ED2)), Verdict::Unknown);
    }

    #[test]
    fn changed_same_algorithm() {
        let (_d, kh, path) = kh_with(&format!("# comment\n\nh {ED1}\n"));
        assert_eq!(
            kh.check("h", 22, &key(ED2)),
            Verdict::Changed {
                file: path,
                line: 3
            }
        );
    }

    #[test]
    fn known_when_one_of_several_matches() {
        let (_d, kh, _) = kh_with(&format!("h {ED2}\nh {ED1}\nh {ECDSA}\n"));
        assert_eq!(kh.check("h", 22, &key(ED1)), Verdict::Known);
    }

    #[test]
    fn other_algorithm_is_changed() {
        let (_d, kh, path) = kh_with(&format!("h {ECDSA}\nh {RSA}\n"));
        assert_eq!(
            kh.check("h", 22, &key(ED1)),
            Verdict::Changed {
                file: path,
                line: 1
            }
        );
        let algs = kh.known_algorithms("h", 22);
        assert_eq!(
            algs[0],
            Algorithm::Ecdsa {
                curve: russh::keys::EcdsaCurve::NistP256
            }
        );
        assert!(algs.contains(&Algorithm::Rsa {
            hash: Some(HashAlg::Sha512)
        }));
        assert!(algs.contains(&Algorithm::Rsa { hash: None }));
        assert_eq!(algs.len(), 4);
        assert!(kh.known_algorithms("nobody", 22).is_empty());
    }

    #[test]
    fn malformed_lines_and_markers_are_skipped() {
        let text = format!(
            "garbage\n\
             h ssh-ed25519 !!notbase64!!\n\
             h ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIIjHFYVeuFxxfdzvr/GITIgcTuL2SZwIKU7J+xQBfhG4\n\
             h 1024 35 1234567\n\
             @weird h {ED2}\n\
             @cert-authority *.lab {ED2}\n\
             h\t\t{ED1}   trailing comment\n"
        );
        let (_d, kh, _) = kh_with(&text);
        assert_eq!(kh.check("h", 22, &key(ED1)), Verdict::Known);
        // The cert-authority line is not a host key for a.lab.
        assert_eq!(kh.check("a.lab", 22, &key(ED2)), Verdict::Unknown);
    }

    #[test]
    fn missing_files_and_global_files() {
        let dir = tempfile::tempdir().unwrap();
        let global = dir.path().join("global");
        std::fs::write(&global, format!("g {ED1}\n")).unwrap();
        let kh = KnownHosts::new(vec![dir.path().join("missing")], vec![global]);
        assert_eq!(kh.check("g", 22, &key(ED1)), Verdict::Known);
        assert_eq!(kh.check("x", 22, &key(ED1)), Verdict::Unknown);
    }

    #[test]
    fn learn_plain_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(".ssh").join("known_hosts");
        let kh = KnownHosts::new(vec![path.clone()], vec![]);
        kh.learn("Web1", 22, &key(ED1)).unwrap();
        kh.learn("web1", 2222, &key(ECDSA)).unwrap();
        // Learning the same thing twice writes one line.
        kh.learn("web1", 22, &key(ED1)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("web1 {ED1}\n[web1]:2222 {ECDSA}\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(kh.check("web1", 22, &key(ED1)), Verdict::Known);

        let kh = kh.hash_new_entries(true);
        kh.learn("db", 22, &key(RSA)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let last = text.lines().last().unwrap();
        assert!(last.starts_with("|1|"), "{last}");
        assert!(!last.contains("db "));
        assert_eq!(kh.check("db", 22, &key(RSA)), Verdict::Known);
    }

    #[test]
    fn learn_after_file_without_trailing_newline() {
        let (_d, kh, path) = kh_with(&format!("a {ED1}"));
        kh.learn("b", 22, &key(ED2)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("a {ED1}\nb {ED2}\n"));
    }

    #[test]
    fn learn_without_user_file_errors() {
        let kh = KnownHosts::new(vec![], vec![]);
        assert!(kh.learn("a", 22, &key(ED1)).is_err());
    }

    #[test]
    fn concurrent_learn_20_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let kh = std::sync::Arc::new(KnownHosts::new(vec![path.clone()], vec![]));
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let kh = kh.clone();
                std::thread::spawn(move || {
                    let k = if i % 2 == 0 { RSA } else { ECDSA };
                    kh.learn(&format!("host{i}"), 22, &key(k)).unwrap();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20);
        for i in 0..20 {
            let k = if i % 2 == 0 { RSA } else { ECDSA };
            assert!(lines.contains(&format!("host{i} {k}").as_str()));
            assert_eq!(kh.check(&format!("host{i}"), 22, &key(k)), Verdict::Known);
        }
    }
}
