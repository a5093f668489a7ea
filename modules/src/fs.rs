//! The file-system layer every file module uses: `stat`/`read` (read-only,
//! through [`HostRead::probe`]) and `write_atomic`, `set_attrs`, `mkdir_p`,
//! `remove`, `symlink`, `hardlink`, `touch` (through [`Host::run`]).
//!
//! Each operation is one constant POSIX `sh` script run as
//! `sh -c SCRIPT sh ARG...`, so every path and value reaches the host as a
//! positional argument, quoted by construction, and each costs exactly one
//! round trip. Output that carries paths is NUL-delimited; file content
//! comes last and runs to the end of the output, so any bytes survive.
//!
//! The traits in [`crate::host`] expose these as default methods built on
//! `probe`/`run` (so SSH and local connections get them for free);
//! [`crate::testing::FakeHost`] overrides them with an in-memory filesystem.

use std::path::PathBuf;

use crate::cmd::Cmd;
use crate::files::attrs::Mode;
use crate::host::{Host, HostError, HostRead, Output};
use crate::text;

/// A checksum algorithm for `stat`; `sha1` is Ansible's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumAlgo {
    Md5,
    #[default]
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl ChecksumAlgo {
    /// Parses Ansible's `checksum_algorithm` names.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "md5" => ChecksumAlgo::Md5,
            "sha1" => ChecksumAlgo::Sha1,
            "sha224" => ChecksumAlgo::Sha224,
            "sha256" => ChecksumAlgo::Sha256,
            "sha384" => ChecksumAlgo::Sha384,
            "sha512" => ChecksumAlgo::Sha512,
            _ => return None,
        })
    }

    /// The name, also the stem of the coreutils tool (`sha1` + `sum`).
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgo::Md5 => "md5",
            ChecksumAlgo::Sha1 => "sha1",
            ChecksumAlgo::Sha224 => "sha224",
            ChecksumAlgo::Sha256 => "sha256",
            ChecksumAlgo::Sha384 => "sha384",
            ChecksumAlgo::Sha512 => "sha512",
        }
    }
}

/// What [`HostRead::stat`] should gather besides the inode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatOpts {
    /// Follow a final symlink (`stat -L`); a dangling one is then missing.
    pub follow: bool,
    /// Checksum a regular file with this algorithm.
    pub checksum: Option<ChecksumAlgo>,
    /// Ask `file` for the MIME type and charset, when it is installed.
    pub mime: bool,
    /// Also return the content of a regular file of at most this many
    /// bytes (`u64::MAX`: any size), in the same round trip.
    pub content_limit: Option<u64>,
}

impl StatOpts {
    /// Just the inode, not following a final symlink.
    pub fn lstat() -> Self {
        StatOpts::default()
    }

    /// Just the inode of what a final symlink points to.
    pub fn follow() -> Self {
        StatOpts {
            follow: true,
            ..StatOpts::default()
        }
    }

    pub fn with_checksum(mut self, algo: ChecksumAlgo) -> Self {
        self.checksum = Some(algo);
        self
    }

    pub fn with_content(mut self, limit: u64) -> Self {
        self.content_limit = Some(limit);
        self
    }
}

/// The type of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Directory,
    Link,
    Fifo,
    Socket,
    Char,
    Block,
}

impl FileKind {
    /// From the `S_IFMT` bits of a raw mode.
    pub fn from_raw(raw: u32) -> Self {
        match raw & 0o170000 {
            0o040000 => FileKind::Directory,
            0o120000 => FileKind::Link,
            0o010000 => FileKind::Fifo,
            0o140000 => FileKind::Socket,
            0o020000 => FileKind::Char,
            0o060000 => FileKind::Block,
            _ => FileKind::File,
        }
    }

    /// The `state` the `file` module reports for this kind.
    pub fn state(self) -> &'static str {
        match self {
            FileKind::Directory => "directory",
            FileKind::Link => "link",
            _ => "file",
        }
    }
}

/// What `stat` saw. A missing path is `None`, not a `FileStat`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileStat {
    pub kind: Option<FileKind>,
    /// Permission bits including suid/sgid/sticky (`& 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The owner's name (`pw_name`), or the uid when it has none.
    pub owner: String,
    /// The group's name (`gr_name`), or the gid when it has none.
    pub group: String,
    pub size: u64,
    pub mtime: f64,
    pub atime: f64,
    pub ctime: f64,
    pub inode: u64,
    pub dev: u64,
    pub nlink: u64,
    /// For a symlink (not followed): the absolute path it resolves to.
    pub lnk_source: Option<String>,
    /// For a symlink (not followed): the target as written.
    pub lnk_target: Option<String>,
    /// Hex digest, for a readable regular file when asked.
    pub checksum: Option<String>,
    pub mimetype: Option<String>,
    pub charset: Option<String>,
    pub readable: bool,
    pub writeable: bool,
    pub executable: bool,
    /// The content, when asked and within the limit.
    pub content: Option<Vec<u8>>,
}

impl FileStat {
    pub fn kind(&self) -> FileKind {
        self.kind.unwrap_or(FileKind::File)
    }

    pub fn is_dir(&self) -> bool {
        self.kind() == FileKind::Directory
    }

    pub fn is_file(&self) -> bool {
        self.kind() == FileKind::File
    }

    pub fn is_link(&self) -> bool {
        self.kind() == FileKind::Link
    }
}

/// What to write: bytes from the controller's memory, a controller file
/// (streamed with bounded memory), or a file already on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Bytes(Vec<u8>),
    LocalFile(PathBuf),
    Remote(String),
}

/// How [`Host::write_atomic`] writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOpts {
    /// The mode; absent: keep the destination's, or `0666 & ~umask` when
    /// creating.
    pub mode: Option<Mode>,
    /// Absent: keep the destination's owner (when permitted).
    pub owner: Option<String>,
    pub group: Option<String>,
    /// A command containing `%s`, run on the temp file without a shell.
    pub validate: Option<String>,
    /// Keep `<dest>.<pid>.<YYYY-MM-DD@HH:MM:SS~>` before replacing.
    pub backup: bool,
    /// When `dest` is a symlink, write the file it points to.
    pub follow: bool,
    /// Fall back to writing in place when the rename fails.
    pub unsafe_writes: bool,
}

/// A `validate` command that failed: the destination was not touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidateFailure {
    pub exit_status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// What [`Host::write_atomic`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteResult {
    /// The file is in place; `dest` is the path written (after `follow`).
    Written {
        dest: String,
        backup_file: Option<String>,
        /// Who owns the file now (Ansible reports it with the result).
        owner: Option<Ownership>,
    },
    /// `validate` rejected the new content; nothing changed.
    Invalid(ValidateFailure),
}

/// The owner and group of a file, by id and by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    pub uid: u32,
    pub gid: u32,
    pub owner: String,
    pub group: String,
}

impl Ownership {
    /// Reads `stat -c '%u %g %U %G'` output.
    pub fn parse(text: &str) -> Option<Ownership> {
        let mut w = text.split_whitespace();
        Some(Ownership {
            uid: w.next()?.parse().ok()?,
            gid: w.next()?.parse().ok()?,
            owner: w.next()?.to_string(),
            group: w.next()?.to_string(),
        })
    }
}

/// Times for [`Host::touch`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeSpec {
    Preserve,
    Now,
    /// Seconds since the epoch.
    At(f64),
}

/// Attributes for [`Host::set_attrs`] and [`Host::mkdir_p`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    pub mode: Option<Mode>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Attrs {
    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none()
    }
}

mod scripts;

use scripts::PRELUDE;
pub use scripts::{
    ATTRS_SCRIPT, LINK_SCRIPT, MKDIR_SCRIPT, READ_SCRIPT, REMOVE_SCRIPT, STAT_SCRIPT, TOUCH_SCRIPT,
    WRITE_SCRIPT,
};

fn script(body: &str) -> String {
    format!("{PRELUDE}{body}")
}

/// Our own scripts: short, so they may share the host's shell.
fn sh(script_text: String) -> Cmd {
    Cmd::new("sh").arg("-c").arg(script_text).arg("sh").light()
}

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

/// The message after the last `\0TUTTI:` marker, or the whole stderr.
fn script_error(out: &Output, what: &str) -> HostError {
    let (raw, msg) = split_marker(&out.stderr);
    let msg = match msg {
        Some(m) => text::decode(m),
        None => {
            let e = text::decode(raw);
            let e = e.trim();
            if e.is_empty() {
                format!("{what} failed (rc {})", out.rc)
            } else {
                format!("{what} failed (rc {}): {e}", out.rc)
            }
        }
    };
    HostError::Failed(msg)
}

fn split_marker(buf: &[u8]) -> (&[u8], Option<&[u8]>) {
    const MARK: &[u8] = b"\0TUTTI:";
    match buf.windows(MARK.len()).rposition(|w| w == MARK) {
        Some(i) => (&buf[..i], Some(&buf[i + MARK.len()..])),
        None => (buf, None),
    }
}

/// The read-only command behind [`HostRead::stat`].
pub fn stat_cmd(path: &str, opts: &StatOpts) -> Cmd {
    let limit = match opts.content_limit {
        None => String::new(),
        Some(u64::MAX) => "all".into(),
        Some(n) => n.to_string(),
    };
    Cmd::new("sh")
        .arg("-c")
        .arg(STAT_SCRIPT)
        .arg("sh")
        .arg(path)
        .arg(flag(opts.follow))
        .arg(opts.checksum.map(ChecksumAlgo::name).unwrap_or(""))
        .arg(flag(opts.mime))
        .arg(limit)
}

/// Parses the output of [`STAT_SCRIPT`].
pub fn parse_stat(out: &[u8], opts: &StatOpts) -> Result<Option<FileStat>, String> {
    let mut st = FileStat::default();
    let mut rest = out;
    let mut saw_stat = false;
    while !rest.is_empty() {
        let Some(i) = rest.iter().position(|&b| b == 0) else {
            return Err("truncated stat output".into());
        };
        let key = &rest[..i];
        rest = &rest[i + 1..];
        if key == b"missing" {
            return Ok(None);
        }
        if key == b"content" {
            st.content = Some(rest.to_vec());
            break;
        }
        let j = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or("truncated stat output")?;
        let val = text::decode(&rest[..j]);
        rest = &rest[j + 1..];
        match key {
            b"stat" => {
                parse_stat_line(&val, &mut st)?;
                saw_stat = true;
            }
            b"access" => {
                let b = val.as_bytes();
                st.readable = b.first() == Some(&b'1');
                st.writeable = b.get(1) == Some(&b'1');
                st.executable = b.get(2) == Some(&b'1');
            }
            b"lnk_target" => st.lnk_target = Some(val),
            b"lnk_source" => st.lnk_source = Some(val),
            b"checksum" => st.checksum = Some(val.trim().to_string()),
            b"mime" => {
                let mut parts = val.trim().splitn(2, ';');
                st.mimetype = parts.next().map(|s| s.trim().to_string());
                st.charset = parts
                    .next()
                    .and_then(|c| c.trim().strip_prefix("charset="))
                    .map(str::to_string);
            }
            _ => {}
        }
    }
    if !saw_stat {
        return Err("no stat output".into());
    }
    if let (Some(c), Some(limit)) = (&st.content, opts.content_limit)
        && (st.size > limit || (c.len() as u64) < st.size.min(limit))
    {
        st.content = None;
    }
    Ok(Some(st))
}

fn parse_stat_line(s: &str, st: &mut FileStat) -> Result<(), String> {
    let mut lines = s.splitn(3, '\n');
    let nums: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
    if nums.len() != 10 {
        return Err(format!("unexpected stat output: {s:?}"));
    }
    let int = |i: usize| nums[i].parse::<u64>().map_err(|e| format!("stat: {e}"));
    let raw = u32::from_str_radix(nums[0], 16).map_err(|e| format!("stat: {e}"))?;
    st.kind = Some(FileKind::from_raw(raw));
    st.mode = raw & 0o7777;
    st.uid = int(1)? as u32;
    st.gid = int(2)? as u32;
    st.size = int(3)?;
    st.inode = int(4)?;
    st.dev = int(5)?;
    st.nlink = int(6)?;
    let f = |i: usize| nums[i].parse::<f64>().map_err(|e| format!("stat: {e}"));
    st.atime = f(7)?;
    st.mtime = f(8)?;
    st.ctime = f(9)?;
    st.owner = lines.next().unwrap_or("").to_string();
    st.group = lines.next().unwrap_or("").to_string();
    Ok(())
}

/// [`HostRead::stat`] through `probe`.
pub async fn stat_via<H: HostRead + ?Sized>(
    host: &H,
    path: &str,
    opts: &StatOpts,
) -> Result<Option<FileStat>, HostError> {
    let out = host.probe(&stat_cmd(path, opts)).await?;
    if !out.success() {
        let e = text::decode(&out.stderr);
        return Err(HostError::Failed(format!(
            "cannot stat {path}: {}",
            e.trim().rsplit(": ").next().unwrap_or("")
        )));
    }
    parse_stat(&out.stdout, opts).map_err(|e| HostError::Failed(format!("stat {path}: {e}")))
}

/// [`HostRead::read`] through `probe`.
pub async fn read_via<H: HostRead + ?Sized>(
    host: &H,
    path: &str,
) -> Result<Option<Vec<u8>>, HostError> {
    let cmd = Cmd::new("sh")
        .arg("-c")
        .arg(READ_SCRIPT)
        .arg("sh")
        .arg(path);
    let out = host.probe(&cmd).await?;
    match out.rc {
        0 => Ok(Some(out.stdout)),
        100 => Ok(None),
        _ => {
            let e = text::decode(&out.stderr);
            let why = e.trim().rsplit(": ").next().unwrap_or("").to_string();
            Err(HostError::Failed(format!("cannot read {path}: {why}")))
        }
    }
}

/// Splits a `validate` command into argv, checking it has `%s`.
pub fn validate_argv(validate: &str) -> Result<Vec<String>, String> {
    if !validate.contains("%s") {
        return Err(format!("validate must contain %s: {validate}"));
    }
    crate::commands::run::split(validate)
        .map_err(|e| format!("cannot parse validate command {validate:?}: {e}"))
}

/// The command behind [`Host::write_atomic`].
pub fn write_cmd(dest: &str, content: &Content, opts: &WriteOpts) -> Result<Cmd, HostError> {
    let argv = match &opts.validate {
        Some(v) => validate_argv(v).map_err(HostError::Failed)?,
        None => Vec::new(),
    };
    let (how, src) = match content {
        Content::Remote(p) => ("remote", p.as_str()),
        _ => ("stdin", ""),
    };
    let mut cmd = sh(script(WRITE_SCRIPT))
        .arg(dest)
        .arg(how)
        .arg(src)
        .arg(opts.mode.as_ref().map(Mode::chmod_arg).unwrap_or_default())
        .arg(opts.owner.clone().unwrap_or_default())
        .arg(opts.group.clone().unwrap_or_default())
        .arg(flag(opts.backup))
        .arg(flag(opts.follow))
        .arg(flag(opts.unsafe_writes))
        // The expected size: a transfer cut short (a killed controller, a
        // dropped connection) ends stdin early, and `cat` cannot tell.
        .arg(match content {
            Content::Bytes(b) => b.len().to_string(),
            Content::LocalFile(p) => std::fs::metadata(p)
                .map(|m| m.len().to_string())
                .unwrap_or_default(),
            Content::Remote(_) => String::new(),
        })
        .arg(temp_suffix())
        .args(argv);
    match content {
        Content::Bytes(b) => cmd = cmd.stdin(b.clone()).stdin_as_variable(),
        Content::LocalFile(p) => cmd = cmd.stdin_file(p.clone()).stdin_as_variable(),
        Content::Remote(_) => {}
    }
    Ok(cmd)
}

/// A fresh suffix for a temp file's name; the script creates the file
/// exclusively, so a collision fails instead of clobbering.
fn temp_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..12)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
        .collect()
}

/// [`Host::write_atomic`] through `run`.
pub async fn write_via<H: Host + ?Sized>(
    host: &H,
    dest: &str,
    content: Content,
    opts: &WriteOpts,
) -> Result<WriteResult, HostError> {
    let out = host.run(&write_cmd(dest, &content, opts)?).await?;
    if out.rc == 16 {
        let (stderr, msg) = split_marker(&out.stderr);
        let exit_status = msg
            .map(|m| text::decode(m).trim().parse().unwrap_or(1))
            .unwrap_or(1);
        return Ok(WriteResult::Invalid(ValidateFailure {
            exit_status,
            stdout: out.stdout,
            stderr: stderr.to_vec(),
        }));
    }
    if !out.success() {
        return Err(script_error(&out, &format!("writing {dest}")));
    }
    let (_, rec) = split_marker(&out.stdout);
    let fields: Vec<String> = rec
        .unwrap_or_default()
        .split(|&b| b == 0)
        .map(text::decode)
        .collect();
    let dest = fields.get(1).cloned().unwrap_or_else(|| dest.to_string());
    let backup_file = fields.get(2).filter(|b| !b.is_empty()).cloned();
    let owner = fields.get(3).and_then(|o| Ownership::parse(o));
    Ok(WriteResult::Written {
        dest,
        backup_file,
        owner,
    })
}

/// [`Host::set_attrs`] through `run`.
pub async fn set_attrs_via<H: Host + ?Sized>(
    host: &H,
    path: &str,
    attrs: &Attrs,
    follow: bool,
    recurse: bool,
) -> Result<bool, HostError> {
    if attrs.is_empty() {
        return Ok(false);
    }
    let cmd = sh(script(ATTRS_SCRIPT))
        .arg(path)
        .arg(attrs.mode.as_ref().map(Mode::chmod_arg).unwrap_or_default())
        .arg(attrs.owner.clone().unwrap_or_default())
        .arg(attrs.group.clone().unwrap_or_default())
        .arg(flag(follow))
        .arg(flag(recurse));
    let out = host.run(&cmd).await?;
    if !out.success() {
        return Err(script_error(&out, &format!("setting attributes of {path}")));
    }
    Ok(out.stdout.starts_with(b"changed"))
}

/// [`Host::mkdir_p`] through `run`; returns how many directories it made.
pub async fn mkdir_via<H: Host + ?Sized>(
    host: &H,
    path: &str,
    attrs: &Attrs,
) -> Result<usize, HostError> {
    let cmd = sh(script(MKDIR_SCRIPT))
        .arg(path)
        .arg(attrs.mode.as_ref().map(Mode::chmod_arg).unwrap_or_default())
        .arg(attrs.owner.clone().unwrap_or_default())
        .arg(attrs.group.clone().unwrap_or_default());
    let out = host.run(&cmd).await?;
    if !out.success() {
        return Err(script_error(&out, &format!("creating {path}")));
    }
    Ok(text::decode(&out.stdout).trim().parse().unwrap_or(0))
}

/// [`Host::remove`] through `run`; whether something was removed.
pub async fn remove_via<H: Host + ?Sized>(host: &H, path: &str) -> Result<bool, HostError> {
    let out = host.run(&sh(script(REMOVE_SCRIPT)).arg(path)).await?;
    if !out.success() {
        return Err(script_error(&out, &format!("removing {path}")));
    }
    Ok(out.stdout.starts_with(b"removed"))
}

/// [`Host::symlink`] / [`Host::hardlink`] through `run`.
pub async fn link_via<H: Host + ?Sized>(
    host: &H,
    soft: bool,
    src: &str,
    dest: &str,
    force: bool,
) -> Result<(), HostError> {
    let cmd = sh(script(LINK_SCRIPT))
        .arg(if soft { "-s" } else { "" })
        .arg(src)
        .arg(dest)
        .arg(flag(force));
    let out = host.run(&cmd).await?;
    if !out.success() {
        return Err(script_error(&out, &format!("linking {dest}")));
    }
    Ok(())
}

/// `touch -t` syntax for a time in seconds since the epoch (local time).
pub fn touch_stamp(t: &TimeSpec) -> String {
    match t {
        TimeSpec::Preserve => "preserve".into(),
        TimeSpec::Now => "now".into(),
        TimeSpec::At(secs) => {
            use chrono::TimeZone;
            match chrono::Local.timestamp_opt(*secs as i64, 0) {
                chrono::LocalResult::Single(d) | chrono::LocalResult::Ambiguous(d, _) => {
                    d.format("%Y%m%d%H%M.%S").to_string()
                }
                chrono::LocalResult::None => "now".into(),
            }
        }
    }
}

/// [`Host::touch`] through `run`.
pub async fn touch_via<H: Host + ?Sized>(
    host: &H,
    path: &str,
    mtime: TimeSpec,
    atime: TimeSpec,
    follow: bool,
    create: bool,
) -> Result<(), HostError> {
    let cmd = sh(script(TOUCH_SCRIPT))
        .arg(path)
        .arg(touch_stamp(&mtime))
        .arg(touch_stamp(&atime))
        .arg(flag(follow))
        .arg(flag(create));
    let out = host.run(&cmd).await?;
    if !out.success() {
        return Err(script_error(&out, &format!("touching {path}")));
    }
    Ok(())
}

/// Hex digest of `data` (the controller side of a checksum comparison).
pub fn checksum(algo: ChecksumAlgo, data: &[u8]) -> String {
    use sha1::Digest;
    match algo {
        ChecksumAlgo::Md5 => hex(&md5::Md5::digest(data)),
        ChecksumAlgo::Sha1 => hex(&sha1::Sha1::digest(data)),
        ChecksumAlgo::Sha224 => hex(&sha2::Sha224::digest(data)),
        ChecksumAlgo::Sha256 => hex(&sha2::Sha256::digest(data)),
        ChecksumAlgo::Sha384 => hex(&sha2::Sha384::digest(data)),
        ChecksumAlgo::Sha512 => hex(&sha2::Sha512::digest(data)),
    }
}

/// SHA-1 of a controller file, streamed (bounded memory) on a blocking
/// thread.
pub async fn sha1_local_file(path: &std::path::Path) -> Result<String, String> {
    digests_local_file(path).await.map(|(sha1, _)| sha1)
}

/// SHA-1 and MD5 (Ansible's legacy `md5sum`) of a controller file, in one
/// streamed pass on a blocking thread.
pub async fn digests_local_file(path: &std::path::Path) -> Result<(String, String), String> {
    let p = path.to_path_buf();
    let job = tokio::task::spawn_blocking(move || -> Result<(String, String), String> {
        use sha1::Digest;
        use std::io::Read;
        let mut f = std::fs::File::open(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let mut h = sha1::Sha1::new();
        let mut m = md5::Md5::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| format!("{}: {e}", p.display()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            m.update(&buf[..n]);
        }
        Ok((hex(&h.finalize()), hex(&m.finalize())))
    });
    job.await.map_err(|e| e.to_string())?
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Ansible's backup name for `dest`: `<dest>.<pid>.<YYYY-MM-DD@HH:MM:SS~>`.
pub fn backup_name(dest: &str, pid: u32, local: chrono::DateTime<chrono::Local>) -> String {
    format!("{dest}.{pid}.{}", local.format("%Y-%m-%d@%H:%M:%S~"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_output() {
        let out = b"stat\x0081a4 0 0 10 34 2049 1 1.5 2.25 3\nroot\nwheel\x00access\x00110\x00checksum\x00abc\x00mime\x00text/plain; charset=us-ascii\x00content\x00hello\n\xffxx\x00";
        let opts = StatOpts::default().with_content(100);
        let st = parse_stat(out, &opts)
            .unwrap_or_default()
            .unwrap_or_default();
        assert_eq!(st.kind, Some(FileKind::File));
        assert_eq!(st.mode, 0o644);
        assert_eq!(st.size, 10);
        assert_eq!(st.mtime, 2.25);
        assert_eq!(st.group, "wheel");
        assert!(st.readable && st.writeable && !st.executable);
        assert_eq!(st.mimetype.as_deref(), Some("text/plain"));
        assert_eq!(st.charset.as_deref(), Some("us-ascii"));
        assert_eq!(st.content.as_deref(), Some(&b"hello\n\xffxx\x00"[..]));
        assert_eq!(parse_stat(b"missing\x00", &opts), Ok(None));
    }

    #[test]
    fn marker_splits_stderr() {
        let (raw, msg) = split_marker(b"oops\n\0TUTTI:no way");
        assert_eq!(raw, b"oops\n");
        assert_eq!(msg, Some(&b"no way"[..]));
    }
}
