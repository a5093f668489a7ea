//! The in-memory filesystem behind [`super::FakeHost`]'s `stat`, `read`,
//! `write_atomic` and the other file operations of [`crate::fs`]: inodes
//! (files with bytes, directories, symlinks, fifos, sockets) with mode,
//! uid/gid, times and hard links; users and groups; a umask and a clock;
//! and faults to inject (a read-only directory, a full disk).
//!
//! The semantics follow the real scripts in [`crate::fs`], error messages
//! included, so a module tested here behaves the same on a real host.

use std::collections::{BTreeMap, BTreeSet};

use crate::fs::{
    Attrs, Content, FileKind, FileStat, StatOpts, TimeSpec, WriteOpts, WriteResult, checksum,
};
use crate::host::HostError;

/// What an inode holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeKind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Fifo,
    Socket,
}

/// One inode of the fake filesystem.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeNode {
    pub kind: FakeKind,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: f64,
    pub atime: f64,
    pub ctime: f64,
}

impl FakeNode {
    pub fn file(content: impl Into<Vec<u8>>) -> Self {
        FakeNode::new(FakeKind::File(content.into()), 0o644)
    }

    pub fn dir() -> Self {
        FakeNode::new(FakeKind::Dir, 0o755)
    }

    pub fn symlink(target: impl Into<String>) -> Self {
        FakeNode::new(FakeKind::Symlink(target.into()), 0o777)
    }

    pub fn new(kind: FakeKind, mode: u32) -> Self {
        FakeNode {
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 1_700_000_000.0,
            atime: 1_700_000_000.0,
            ctime: 1_700_000_000.0,
        }
    }

    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    pub fn owned(mut self, uid: u32, gid: u32) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    pub fn file_kind(&self) -> FileKind {
        match self.kind {
            FakeKind::File(_) => FileKind::File,
            FakeKind::Dir => FileKind::Directory,
            FakeKind::Symlink(_) => FileKind::Link,
            FakeKind::Fifo => FileKind::Fifo,
            FakeKind::Socket => FileKind::Socket,
        }
    }

    fn size(&self) -> u64 {
        match &self.kind {
            FakeKind::File(b) => b.len() as u64,
            FakeKind::Dir => 4096,
            FakeKind::Symlink(t) => t.len() as u64,
            _ => 0,
        }
    }
}

/// The filesystem state.
#[derive(Debug, Clone)]
pub struct FakeFs {
    entries: BTreeMap<String, u64>,
    inodes: BTreeMap<u64, FakeNode>,
    next_ino: u64,
    pub users: BTreeMap<String, u32>,
    pub groups: BTreeMap<String, u32>,
    pub umask: u32,
    pub now: f64,
    pub pid: u32,
    /// Directories in which creating files is denied.
    pub read_only: BTreeSet<String>,
    /// Paths whose content cannot be read.
    pub unreadable: BTreeSet<String>,
    /// Writing file content fails with ENOSPC.
    pub disk_full: bool,
}

/// An errno-like failure while walking a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errno {
    NoEnt,
    NotDir,
    Loop,
}

impl Errno {
    fn text(self) -> &'static str {
        match self {
            Errno::NoEnt => "No such file or directory",
            Errno::NotDir => "Not a directory",
            Errno::Loop => "Too many levels of symbolic links",
        }
    }
}

fn failed(msg: impl Into<String>) -> HostError {
    HostError::Failed(msg.into())
}

/// `dirname` the way the scripts' `dirof` computes it.
pub fn dir_of(path: &str) -> String {
    match path.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => path[..i].into(),
        None => ".".into(),
    }
}

impl Default for FakeFs {
    fn default() -> Self {
        let mut fs = FakeFs {
            entries: BTreeMap::new(),
            inodes: BTreeMap::new(),
            next_ino: 2,
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            umask: 0o022,
            now: 1_700_000_000.0,
            pid: 4242,
            read_only: BTreeSet::new(),
            unreadable: BTreeSet::new(),
            disk_full: false,
        };
        for (name, id) in [
            ("root", 0),
            ("daemon", 1),
            ("bin", 2),
            ("www-data", 33),
            ("nobody", 65534),
        ] {
            fs.users.insert(name.into(), id);
        }
        for (name, id) in [
            ("root", 0),
            ("daemon", 1),
            ("bin", 2),
            ("wheel", 10),
            ("www-data", 33),
            ("nogroup", 65534),
        ] {
            fs.groups.insert(name.into(), id);
        }
        fs.entries.insert("/".into(), 1);
        fs.inodes.insert(1, FakeNode::dir());
        fs
    }
}

/// Collapses `//` and `.` (not `..`, which needs symlink resolution).
fn components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

impl FakeFs {
    fn node_at(&self, canon: &str) -> Option<&FakeNode> {
        self.entries.get(canon).and_then(|i| self.inodes.get(i))
    }

    fn node_at_mut(&mut self, canon: &str) -> Option<&mut FakeNode> {
        let ino = *self.entries.get(canon)?;
        self.inodes.get_mut(&ino)
    }

    /// The canonical path of `path` (relative to `cwd`), resolving
    /// symlinks in every directory component and, when `follow`, the last.
    pub fn resolve(&self, path: &str, cwd: &str, follow: bool) -> Result<String, Errno> {
        let full = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{cwd}/{path}")
        };
        let mut todo: Vec<String> = components(&full)
            .into_iter()
            .rev()
            .map(String::from)
            .collect();
        let mut cur = "/".to_string();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match self.node_at(&cur).map(|n| &n.kind) {
                Some(FakeKind::Dir) => {}
                Some(_) => return Err(Errno::NotDir),
                None => return Err(Errno::NoEnt),
            }
            if c == ".." {
                cur = dir_of(&cur);
                continue;
            }
            let next = join(&cur, &c);
            let last = todo.is_empty();
            match self.node_at(&next).map(|n| &n.kind) {
                Some(FakeKind::Symlink(target)) if !last || follow => {
                    hops += 1;
                    if hops > 40 {
                        return Err(Errno::Loop);
                    }
                    for t in components(target).into_iter().rev() {
                        todo.push(t.to_string());
                    }
                    if target.starts_with('/') {
                        cur = "/".into();
                    }
                }
                _ => cur = next,
            }
        }
        Ok(cur)
    }

    /// Like `realpath -m`-ish `readlink -f`: the canonical path even when
    /// the last component is missing.
    fn realpath(&self, path: &str, cwd: &str) -> Option<String> {
        self.resolve(path, cwd, true).ok()
    }

    pub fn lookup(&self, path: &str, cwd: &str, follow: bool) -> Option<&FakeNode> {
        self.resolve(path, cwd, follow)
            .ok()
            .and_then(|c| self.node_at(&c))
    }

    fn owner_name(&self, uid: u32) -> String {
        self.users
            .iter()
            .find(|(_, v)| **v == uid)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| uid.to_string())
    }

    fn group_name(&self, gid: u32) -> String {
        self.groups
            .iter()
            .find(|(_, v)| **v == gid)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| gid.to_string())
    }

    fn uid_of(&self, name: &str) -> Result<u32, HostError> {
        self.users
            .get(name)
            .copied()
            .or_else(|| name.parse().ok())
            .ok_or_else(|| failed(format!("chown failed: chown: invalid user: '{name}'")))
    }

    fn gid_of(&self, name: &str) -> Result<u32, HostError> {
        self.groups
            .get(name)
            .copied()
            .or_else(|| name.parse().ok())
            .ok_or_else(|| failed(format!("chgrp failed: chgrp: invalid group: '{name}'")))
    }

    fn nlink(&self, ino: u64) -> u64 {
        self.entries.values().filter(|i| **i == ino).count() as u64
    }

    /// Adds or replaces an entry, creating missing parent directories.
    pub fn put(&mut self, path: &str, node: FakeNode) {
        let comps = components(path);
        let mut cur = "/".to_string();
        for (i, c) in comps.iter().enumerate() {
            let next = join(&cur, c);
            if i + 1 == comps.len() {
                self.link_new(&next, node);
                return;
            }
            if self.node_at(&next).is_none() {
                let mut d = FakeNode::dir();
                d.mtime = self.now;
                self.link_new(&next, d);
            }
            cur = next;
        }
    }

    fn link_new(&mut self, canon: &str, node: FakeNode) {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(ino, node);
        self.entries.insert(canon.to_string(), ino);
    }

    fn unlink_tree(&mut self, canon: &str) {
        let under = format!("{}/", canon.trim_end_matches('/'));
        self.entries
            .retain(|p, _| p != canon && !(canon != "/" && p.starts_with(&under)));
        let live: BTreeSet<u64> = self.entries.values().copied().collect();
        self.inodes.retain(|i, _| live.contains(i));
    }

    /// Every entry, sorted (for assertions).
    pub fn paths(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// The inode at `path`, not following a final symlink.
    pub fn get(&self, path: &str) -> Option<FakeNode> {
        self.lookup(path, "/", false).cloned()
    }

    /// Changes an existing inode.
    pub fn modify(&mut self, path: &str, f: impl FnOnce(&mut FakeNode)) {
        if let Ok(c) = self.resolve(path, "/", false)
            && let Some(n) = self.node_at_mut(&c)
        {
            f(n);
        }
    }

    pub fn remove_path(&mut self, path: &str, cwd: &str) {
        if let Ok(c) = self.resolve(path, cwd, false) {
            self.unlink_tree(&c);
        }
    }

    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    fn dir_checks(&self, dir: &str, cwd: &str) -> Result<String, HostError> {
        match self.resolve(dir, cwd, true) {
            Ok(c) => match self.node_at(&c).map(|n| &n.kind) {
                Some(FakeKind::Dir) => Ok(c),
                Some(_) => Err(failed(format!("Destination {dir} is not a directory"))),
                None => Err(failed(format!(
                    "Destination directory {dir} does not exist"
                ))),
            },
            Err(Errno::NotDir) => Err(failed(format!("Destination {dir} is not a directory"))),
            Err(_) => Err(failed(format!(
                "Destination directory {dir} does not exist"
            ))),
        }
    }

    fn writable(&self, canon_dir: &str, what: &str) -> Result<(), HostError> {
        if self.read_only.contains(canon_dir) {
            return Err(failed(format!(
                "The destination directory ({canon_dir}) is not writable by the current user. \
                 Error was: {what}: Permission denied"
            )));
        }
        Ok(())
    }

    pub fn stat(
        &self,
        path: &str,
        cwd: &str,
        opts: &StatOpts,
    ) -> Result<Option<FileStat>, HostError> {
        let canon = match self.resolve(path, cwd, opts.follow) {
            Ok(c) => c,
            Err(Errno::NoEnt | Errno::NotDir) => return Ok(None),
            Err(e) => return Err(failed(format!("cannot stat {path}: {}", e.text()))),
        };
        let Some(&ino) = self.entries.get(&canon) else {
            return Ok(None);
        };
        let Some(node) = self.inodes.get(&ino) else {
            return Ok(None);
        };
        let readable = !self.unreadable.contains(&canon);
        let mut st = FileStat {
            kind: Some(node.file_kind()),
            mode: node.mode & 0o7777,
            uid: node.uid,
            gid: node.gid,
            owner: self.owner_name(node.uid),
            group: self.group_name(node.gid),
            size: node.size(),
            mtime: node.mtime,
            atime: node.atime,
            ctime: node.ctime,
            inode: ino,
            dev: 2049,
            nlink: self.nlink(ino),
            readable,
            writeable: true,
            executable: node.mode & 0o111 != 0,
            ..FileStat::default()
        };
        if let FakeKind::Symlink(t) = &node.kind {
            st.lnk_target = Some(t.clone());
            st.lnk_source = self.realpath(path, cwd);
            // What `test -r/-w/-x` say: about the target.
            if let Some(target) = self.lookup(path, cwd, true) {
                st.executable = target.mode & 0o111 != 0;
            } else {
                st.readable = false;
                st.writeable = false;
                st.executable = false;
            }
        }
        if let FakeKind::File(bytes) = &node.kind
            && readable
        {
            if let Some(algo) = opts.checksum {
                st.checksum = Some(checksum(algo, bytes));
            }
            if let Some(limit) = opts.content_limit
                && bytes.len() as u64 <= limit
            {
                st.content = Some(bytes.clone());
            }
        }
        if opts.mime {
            let (m, c) = match &node.kind {
                FakeKind::Dir => ("inode/directory", "binary"),
                FakeKind::Symlink(_) => ("inode/symlink", "binary"),
                FakeKind::File(b) if b.is_empty() => ("inode/x-empty", "binary"),
                FakeKind::File(b) if b.is_ascii() && !b.contains(&0) => ("text/plain", "us-ascii"),
                FakeKind::File(b) if std::str::from_utf8(b).is_ok() && !b.contains(&0) => {
                    ("text/plain", "utf-8")
                }
                FakeKind::File(_) => ("application/octet-stream", "binary"),
                FakeKind::Fifo => ("inode/fifo", "binary"),
                FakeKind::Socket => ("inode/socket", "binary"),
            };
            st.mimetype = Some(m.into());
            st.charset = Some(c.into());
        }
        Ok(Some(st))
    }

    pub fn read(&self, path: &str, cwd: &str) -> Result<Option<Vec<u8>>, HostError> {
        let canon = match self.resolve(path, cwd, true) {
            Ok(c) => c,
            Err(Errno::NoEnt) => return Ok(None),
            Err(e) => return Err(failed(format!("cannot read {path}: {}", e.text()))),
        };
        if self.unreadable.contains(&canon) {
            return Err(failed(format!("cannot read {path}: Permission denied")));
        }
        match self.node_at(&canon).map(|n| &n.kind) {
            None => Ok(None),
            Some(FakeKind::File(b)) => Ok(Some(b.clone())),
            Some(FakeKind::Dir) => Err(failed(format!("cannot read {path}: Is a directory"))),
            Some(_) => Ok(Some(Vec::new())),
        }
    }

    /// The steps of [`crate::fs::WRITE_SCRIPT`] up to validation: the
    /// final path and the new inode (not yet linked).
    pub fn prepare_write(
        &self,
        dest: &str,
        cwd: &str,
        content: &Content,
        opts: &WriteOpts,
    ) -> Result<(String, FakeNode), HostError> {
        let mut d = dest.to_string();
        if opts.follow
            && matches!(
                self.get_rel(&d, cwd).map(|n| n.kind),
                Some(FakeKind::Symlink(_))
            )
        {
            d = self.realpath(&d, cwd).ok_or_else(|| {
                failed(format!(
                    "cannot follow the symlink {d} (its directory does not exist)"
                ))
            })?;
        }
        let dir = dir_of(&d);
        let canon_dir = self.dir_checks(&dir, cwd)?;
        let existing = self.lookup(&d, cwd, true).cloned();
        if matches!(existing.as_ref().map(|n| &n.kind), Some(FakeKind::Dir))
            && !matches!(
                self.get_rel(&d, cwd).map(|n| n.kind),
                Some(FakeKind::Symlink(_))
            )
        {
            return Err(failed(format!("Destination {d} is a directory")));
        }
        self.writable(&canon_dir, "mktemp: failed to create file via template")?;
        let bytes = match content {
            Content::Bytes(b) => b.clone(),
            Content::LocalFile(p) => std::fs::read(p)
                .map_err(|e| failed(format!("failed to copy: {}: {e}", p.display())))?,
            Content::Remote(src) => match self.read(src, cwd)? {
                Some(b) => b,
                None => {
                    return Err(failed(format!(
                        "failed to copy: cat: {src}: No such file or directory"
                    )));
                }
            },
        };
        if self.disk_full && !bytes.is_empty() {
            return Err(failed(
                "failed to copy: cat: write error: No space left on device",
            ));
        }
        let mut node = FakeNode::file(bytes);
        node.mtime = self.now;
        node.atime = self.now;
        node.ctime = self.now;
        let keep = existing.filter(|n| matches!(n.kind, FakeKind::File(_)));
        node.mode = keep.as_ref().map_or(0o666 & !self.umask, |n| n.mode);
        if let Some(k) = &keep
            && opts.owner.is_none()
            && opts.group.is_none()
        {
            node.uid = k.uid;
            node.gid = k.gid;
        }
        if let Some(m) = &opts.mode {
            node.mode = m.resolve(node.mode, false, self.umask);
        }
        if let Some(o) = &opts.owner {
            node.uid = self.uid_of(o)?;
        }
        if let Some(g) = &opts.group {
            node.gid = self.gid_of(g)?;
        }
        Ok((d, node))
    }

    fn get_rel(&self, path: &str, cwd: &str) -> Option<FakeNode> {
        self.lookup(path, cwd, false).cloned()
    }

    /// A temp name in `dir`, as `mktemp` would make.
    pub fn temp_name(&self, dir: &str) -> String {
        join(dir, &format!(".tutti.{:06}", self.next_ino))
    }

    pub fn insert_temp(&mut self, path: &str, node: FakeNode) {
        self.link_new(path, node);
    }

    pub fn remove_temp(&mut self, path: &str) {
        self.unlink_tree(path);
    }

    /// The rest of the write after validation: backup, then rename.
    pub fn finish_write(
        &mut self,
        d: &str,
        cwd: &str,
        node: FakeNode,
        opts: &WriteOpts,
    ) -> Result<WriteResult, HostError> {
        let mut backup_file = None;
        if opts.backup
            && let Some(old) = self.lookup(d, cwd, true).cloned()
            && matches!(old.kind, FakeKind::File(_))
        {
            let when = local_time(self.now);
            let b = crate::fs::backup_name(d, self.pid, when);
            let canon = self.resolve(&b, cwd, false).map_err(|e| {
                failed(format!("Could not make backup of {d} to {b}: {}", e.text()))
            })?;
            self.link_new(&canon, old);
            backup_file = Some(b);
        }
        let canon = self
            .resolve(d, cwd, false)
            .map_err(|e| failed(format!("Could not replace file: {d}: {}", e.text())))?;
        if let Some(&ino) = self.entries.get(&canon) {
            // A symlink to a directory is replaced, never written through.
            let _ = ino;
            self.entries.remove(&canon);
            let live: BTreeSet<u64> = self.entries.values().copied().collect();
            self.inodes.retain(|i, _| live.contains(i));
        }
        self.link_new(&canon, node);
        Ok(WriteResult::Written {
            dest: d.to_string(),
            backup_file,
            owner: None,
        })
    }

    pub fn set_attrs(
        &mut self,
        path: &str,
        cwd: &str,
        attrs: &Attrs,
        follow: bool,
        recurse: bool,
    ) -> Result<bool, HostError> {
        let canon = self
            .resolve(path, cwd, follow)
            .map_err(|e| failed(format!("cannot stat {path}: {}", e.text())))?;
        if self.node_at(&canon).is_none() {
            return Err(failed(format!(
                "stat: cannot statx '{path}': No such file or directory"
            )));
        }
        let uid = attrs.owner.as_deref().map(|o| self.uid_of(o)).transpose()?;
        let gid = attrs.group.as_deref().map(|g| self.gid_of(g)).transpose()?;
        let mut targets = vec![canon.clone()];
        if recurse {
            let under = format!("{}/", canon.trim_end_matches('/'));
            targets.extend(
                self.entries
                    .keys()
                    .filter(|p| p.starts_with(&under))
                    .cloned(),
            );
        }
        let umask = self.umask;
        let mut changed = false;
        for t in targets {
            if let Some(n) = self.node_at_mut(&t) {
                let before = (n.mode, n.uid, n.gid);
                if let Some(u) = uid {
                    n.uid = u;
                }
                if let Some(g) = gid {
                    n.gid = g;
                }
                let is_link = matches!(n.kind, FakeKind::Symlink(_));
                if let Some(m) = &attrs.mode
                    && !is_link
                {
                    n.mode = m.resolve(n.mode, matches!(n.kind, FakeKind::Dir), umask);
                }
                changed |= before != (n.mode, n.uid, n.gid);
            }
        }
        Ok(changed)
    }

    pub fn mkdir_p(&mut self, path: &str, cwd: &str, attrs: &Attrs) -> Result<usize, HostError> {
        let full = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{cwd}/{path}")
        };
        let comps = components(&full);
        let mut created = 0;
        let mut prefix = String::new();
        let umask = self.umask;
        let uid = attrs.owner.as_deref().map(|o| self.uid_of(o)).transpose()?;
        let gid = attrs.group.as_deref().map(|g| self.gid_of(g)).transpose()?;
        for c in comps {
            prefix = join(if prefix.is_empty() { "/" } else { &prefix }, c);
            match self.resolve(&prefix, "/", true) {
                Ok(canon) => match self.node_at(&canon).map(|n| &n.kind) {
                    Some(FakeKind::Dir) => continue,
                    Some(_) => {
                        return Err(failed(format!(
                            "Destination directory {prefix} is not a directory"
                        )));
                    }
                    None => {
                        let parent = dir_of(&canon);
                        self.writable(&parent, "mkdir")
                            .map_err(|_| failed(format!("There was an issue creating {prefix} as requested: mkdir: cannot create directory '{prefix}': Permission denied")))?;
                        let mut d = FakeNode::dir();
                        d.mode = 0o777 & !umask;
                        if let Some(m) = &attrs.mode {
                            d.mode = m.resolve(d.mode, true, umask);
                        }
                        d.uid = uid.unwrap_or(0);
                        d.gid = gid.unwrap_or(0);
                        d.mtime = self.now;
                        self.link_new(&canon, d);
                        created += 1;
                    }
                },
                Err(e) => {
                    return Err(failed(format!(
                        "There was an issue creating {prefix} as requested: {}",
                        e.text()
                    )));
                }
            }
        }
        Ok(created)
    }

    pub fn remove(&mut self, path: &str, cwd: &str) -> Result<bool, HostError> {
        match self.resolve(path, cwd, false) {
            Ok(c) if self.entries.contains_key(&c) => {
                self.writable(&dir_of(&c), "rm").map_err(|_| {
                    failed(format!(
                        "rmtree failed: rm: cannot remove '{path}': Permission denied"
                    ))
                })?;
                self.unlink_tree(&c);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub fn link(
        &mut self,
        soft: bool,
        src: &str,
        dest: &str,
        cwd: &str,
        force: bool,
    ) -> Result<(), HostError> {
        let dir = dir_of(dest);
        let canon_dir = self.dir_checks(&dir, cwd)?;
        self.writable(&canon_dir, "ln")?;
        let canon = self
            .resolve(dest, cwd, false)
            .map_err(|e| failed(format!("Error while linking: {}", e.text())))?;
        if let Some(n) = self.node_at(&canon)
            && n.kind == FakeKind::Dir
        {
            if !force {
                return Err(failed(format!(
                    "refusing to convert from directory to link for {dest}"
                )));
            }
            let under = format!("{canon}/");
            if self.entries.keys().any(|p| p.starts_with(&under)) {
                return Err(failed(format!(
                    "the directory {dest} is not empty, refusing to convert it"
                )));
            }
        }
        let node = if soft {
            let mut l = FakeNode::symlink(src);
            l.mtime = self.now;
            Some(l)
        } else {
            None
        };
        let src_ino = if soft {
            None
        } else {
            let s = self
                .resolve(src, cwd, false)
                .map_err(|e| failed(format!("Error while linking: ln: {src}: {}", e.text())))?;
            Some(*self.entries.get(&s).ok_or_else(|| {
                failed(format!(
                    "Error while linking: ln: failed to access '{src}': No such file or directory"
                ))
            })?)
        };
        self.unlink_tree(&canon);
        match (node, src_ino) {
            (Some(n), _) => self.link_new(&canon, n),
            (None, Some(ino)) => {
                self.entries.insert(canon, ino);
            }
            (None, None) => {}
        }
        Ok(())
    }

    pub fn touch(
        &mut self,
        path: &str,
        cwd: &str,
        mtime: TimeSpec,
        atime: TimeSpec,
        follow: bool,
        create: bool,
    ) -> Result<(), HostError> {
        if self.lookup(path, cwd, false).is_none() {
            if !create {
                return Err(failed(format!("file ({path}) is absent, cannot continue")));
            }
            let dir = dir_of(path);
            let canon_dir = self.dir_checks(&dir, cwd)?;
            self.writable(&canon_dir, "touch")?;
            let canon = self
                .resolve(path, cwd, true)
                .map_err(|e| failed(format!("Error, could not touch target: {}", e.text())))?;
            let mut n = FakeNode::file(Vec::new()).mode(0o666 & !self.umask);
            n.mtime = self.now;
            n.atime = self.now;
            self.link_new(&canon, n);
        }
        let now = self.now;
        let canon = self
            .resolve(path, cwd, follow)
            .map_err(|e| failed(format!("Error while touching {path}: {}", e.text())))?;
        if let Some(n) = self.node_at_mut(&canon) {
            match mtime {
                TimeSpec::Preserve => {}
                TimeSpec::Now => n.mtime = now,
                TimeSpec::At(t) => n.mtime = t.trunc(),
            }
            match atime {
                TimeSpec::Preserve => {}
                TimeSpec::Now => n.atime = now,
                TimeSpec::At(t) => n.atime = t.trunc(),
            }
        }
        Ok(())
    }
}

/// The host's local time for a fake clock value.
pub fn local_time(secs: f64) -> chrono::DateTime<chrono::Local> {
    use chrono::TimeZone;
    match chrono::Local.timestamp_opt(secs as i64, 0) {
        chrono::LocalResult::Single(d) | chrono::LocalResult::Ambiguous(d, _) => d,
        chrono::LocalResult::None => chrono::Local::now(),
    }
}

/// `validate`'s argv with `%s` replaced by `tmp`.
pub fn substitute(argv: &[String], tmp: &str) -> Vec<String> {
    argv.iter().map(|a| a.replace("%s", tmp)).collect()
}
