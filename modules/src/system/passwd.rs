//! Parsing the colon-separated user databases (`/etc/passwd`, `group`,
//! `shadow`) as `getent` prints them.

/// One `passwd` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

/// One `group` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// One `shadow` entry (the fields the modules use).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShadowEntry {
    pub name: String,
    /// The password hash, `!`-prefixed when locked.
    pub hash: String,
    /// The account expiry in days since the epoch; `None` when it never expires.
    pub expire: Option<i64>,
}

/// The first `passwd` entry in `text`.
pub fn parse_passwd(text: &str) -> Option<PasswdEntry> {
    text.lines().find_map(passwd_line)
}

fn passwd_line(line: &str) -> Option<PasswdEntry> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 7 {
        return None;
    }
    Some(PasswdEntry {
        name: f[0].into(),
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        gecos: f[4].into(),
        home: f[5].into(),
        shell: f[6..].join(":"),
    })
}

/// Every `group` entry in `text`.
pub fn parse_groups(text: &str) -> Vec<GroupEntry> {
    text.lines().filter_map(group_line).collect()
}

fn group_line(line: &str) -> Option<GroupEntry> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 4 {
        return None;
    }
    Some(GroupEntry {
        name: f[0].into(),
        gid: f[2].parse().ok()?,
        members: f[3]
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// The first `shadow` entry in `text`.
pub fn parse_shadow(text: &str) -> Option<ShadowEntry> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 2 {
            return None;
        }
        Some(ShadowEntry {
            name: f[0].into(),
            hash: f[1].into(),
            expire: f.get(7).and_then(|e| e.parse().ok()),
        })
    })
}

/// The group whose name is `key`, or whose gid is `key` when it is a number.
pub fn find_group<'a>(groups: &'a [GroupEntry], key: &str) -> Option<&'a GroupEntry> {
    groups.iter().find(|g| g.name == key).or_else(|| {
        let gid: u32 = key.parse().ok()?;
        groups.iter().find(|g| g.gid == gid)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_databases() {
        let p = parse_passwd("alice:x:1001:1002:Alice A,,,:/home/alice:/bin/bash\n").unwrap();
        assert_eq!((p.uid, p.gid, p.shell.as_str()), (1001, 1002, "/bin/bash"));
        let g = parse_groups("sudo:x:27:alice,bob\nusers:x:100:\n");
        assert_eq!(g[0].members, vec!["alice", "bob"]);
        assert!(g[1].members.is_empty());
        assert_eq!(find_group(&g, "100").unwrap().name, "users");
        let s = parse_shadow("alice:!$6$x$y:19000:0:99999:7:::\n").unwrap();
        assert_eq!((s.hash.as_str(), s.expire), ("!$6$x$y", None));
        let s = parse_shadow("bob:*:19000:0:99999:7::20000:\n").unwrap();
        assert_eq!(s.expire, Some(20000));
    }
}
