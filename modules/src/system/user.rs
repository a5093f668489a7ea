//! The `user` module: ensure a user account exists with the given
//! attributes (or does not), with Ansible's rules for `groups`/`append`,
//! `password`/`update_password`, `password_lock`, `expires`, home
//! directories and SSH key generation.
//!
//! Check is one probe: the passwd and shadow entries, every group, whether
//! the home directory exists, and the SSH key when one is asked for. Apply
//! is one run of `useradd`, `usermod` or `userdel` (which also reads back
//! the new entry), plus one run each, only when needed, to create a
//! missing home directory, set password ageing (`chage`) or generate the
//! SSH key. The password hash travels on stdin, never in a command line,
//! and is reported as `NOT_LOGGING_PASSWORD`.

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::passwd::{self, GroupEntry, PasswdEntry, ShadowEntry};
use super::{
    SECTION_PRELUDE, Sections, choice, command_failed, output_keys, parse_sections, probe_sections,
    run_checked, run_then_ent, sh,
};
use crate::cmd::Cmd;
use crate::files::common::Stash;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `user` module.
pub struct User;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_bool")]
    append: Option<bool>,
    #[serde(default)]
    authorization: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_string")]
    comment: Option<String>,
    #[serde(default, alias = "createhome", deserialize_with = "params::opt_bool")]
    create_home: Option<bool>,
    #[serde(default)]
    expires: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    generate_ssh_key: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    group: Option<String>,
    #[serde(default, deserialize_with = "params::opt_list")]
    groups: Option<Vec<String>>,
    #[serde(default)]
    hidden: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_string")]
    home: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    local: Option<bool>,
    #[serde(default)]
    login_class: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    move_home: Option<bool>,
    #[serde(alias = "user")]
    name: String,
    #[serde(default, deserialize_with = "params::opt_bool")]
    non_unique: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    password: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    password_expire_max: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    password_expire_min: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    password_expire_warn: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    password_lock: Option<bool>,
    #[serde(default)]
    profile: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    remove: Option<bool>,
    #[serde(default)]
    role: Option<Value>,
    #[serde(default)]
    seuser: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_string")]
    shell: Option<String>,
    #[serde(default, alias = "skel", deserialize_with = "params::opt_string")]
    skeleton: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    ssh_key_bits: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    ssh_key_comment: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    ssh_key_file: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    ssh_key_passphrase: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    ssh_key_type: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    system: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    uid: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    uid_max: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    uid_min: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    umask: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    update_password: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "user",
    short: "Manage user accounts",
    description: "Makes sure a user account exists with the given attributes, or \
        does not exist. One probe reads the account's passwd and shadow \
        entries, every group, whether the home directory exists and, when \
        asked, the SSH key; `useradd`, `usermod` or `userdel` then runs only \
        with the attributes that differ, followed when needed by `chage` for \
        password ageing, the creation of a missing home directory and \
        `ssh-keygen`. The password hash is passed on standard input, never \
        on a command line, and is reported as `NOT_LOGGING_PASSWORD`.",
    params: &[
        param(
            "append",
            Kind::Bool,
            "Add the user to `groups` without removing it from its other \
            supplementary groups.",
        )
        .default("false"),
        param(
            "authorization",
            Kind::Str,
            "Accepted for compatibility (Solaris only); has no effect.",
        ),
        param(
            "comment",
            Kind::Str,
            "The account's description (GECOS field).",
        ),
        param(
            "create_home",
            Kind::Bool,
            "Create the home directory (from the skeleton) for a new user, or \
            when an existing user's home directory is missing.",
        )
        .default("true")
        .aliases(&["createhome"]),
        param(
            "expires",
            Kind::Float,
            "When the account expires, in seconds since the epoch (stored as \
            a day); a negative number removes the expiry.",
        ),
        param(
            "force",
            Kind::Bool,
            "With `state: absent`, remove the user even while logged in \
            (`userdel -f`).",
        )
        .default("false"),
        param(
            "generate_ssh_key",
            Kind::Bool,
            "Generate an SSH key pair for the user when `ssh_key_file` does \
            not exist; an existing key is never replaced.",
        )
        .default("false"),
        param(
            "group",
            Kind::Str,
            "Primary group (name or gid); it must exist. Without it, a new \
            user gets the system's default.",
        ),
        param(
            "groups",
            Kind::List,
            "Supplementary groups, which must exist. Without `append` they \
            replace the user's current ones; an empty list removes them all.",
        ),
        param(
            "hidden",
            Kind::Bool,
            "Accepted for compatibility (macOS only); has no effect.",
        ),
        param(
            "home",
            Kind::Path,
            "The home directory; an existing user's is changed to it (moved \
            only with `move_home`).",
        ),
        param(
            "local",
            Kind::Bool,
            "Read the account and the groups from `/etc/passwd`, `/etc/shadow` \
            and `/etc/group` instead of through the name service.",
        )
        .default("false"),
        param(
            "login_class",
            Kind::Str,
            "Accepted for compatibility (BSD only); has no effect.",
        ),
        param(
            "move_home",
            Kind::Bool,
            "When `home` changes, move the old home directory's content there \
            (`usermod -m`).",
        )
        .default("false"),
        param("name", Kind::Str, "The account's login name.")
            .required()
            .aliases(&["user"]),
        param(
            "non_unique",
            Kind::Bool,
            "Allow a uid another user already has (`-o`); needs `uid`.",
        )
        .default("false"),
        param(
            "password",
            Kind::Str,
            "The password as a crypt hash (as `password_hash` makes it), \
            written to the shadow entry.",
        ),
        param(
            "password_expire_max",
            Kind::Int,
            "Maximum number of days a password stays valid (`chage -M`).",
        ),
        param(
            "password_expire_min",
            Kind::Int,
            "Minimum number of days between password changes (`chage -m`).",
        ),
        param(
            "password_expire_warn",
            Kind::Int,
            "Days of warning before the password expires (`chage -W`).",
        ),
        param(
            "password_lock",
            Kind::Bool,
            "`true` locks the password (`usermod -L`), `false` unlocks it; \
            without it the lock is left as it is.",
        ),
        param(
            "profile",
            Kind::Str,
            "Accepted for compatibility (Solaris only); has no effect.",
        ),
        param(
            "remove",
            Kind::Bool,
            "With `state: absent`, also remove the home directory and mail \
            spool (`userdel -r`).",
        )
        .default("false"),
        param(
            "role",
            Kind::Str,
            "Accepted for compatibility (Solaris only); has no effect.",
        ),
        param(
            "seuser",
            Kind::Str,
            "Accepted for compatibility (SELinux is not managed).",
        ),
        param("shell", Kind::Str, "The login shell."),
        param(
            "skeleton",
            Kind::Path,
            "Directory whose content is copied into a new home directory.",
        )
        .aliases(&["skel"]),
        param(
            "ssh_key_bits",
            Kind::Int,
            "Key size for `generate_ssh_key`; without it (or with 0), \
            `ssh-keygen` picks the type's default.",
        ),
        param(
            "ssh_key_comment",
            Kind::Str,
            "Comment of a generated key; without it, `ansible-generated on` \
            and the host's name.",
        ),
        param(
            "ssh_key_file",
            Kind::Path,
            "Private key file for `generate_ssh_key`, relative to the home \
            directory unless absolute; without it, `.ssh/id_TYPE`.",
        ),
        param(
            "ssh_key_passphrase",
            Kind::Str,
            "Passphrase of a generated key; without it the key is not \
            encrypted.",
        ),
        param(
            "ssh_key_type",
            Kind::Str,
            "Key type for `generate_ssh_key` (`rsa`, `ed25519`, `ecdsa`, ...).",
        )
        .default("rsa"),
        param("state", Kind::Str, "Whether the account should exist.")
            .default("present")
            .choices(&["absent", "present"]),
        param(
            "system",
            Kind::Bool,
            "Create the user as a system account (`useradd -r`); has no effect \
            on an account that exists.",
        )
        .default("false"),
        param(
            "uid",
            Kind::Int,
            "The user id; without it a new user gets the next free one and an \
            existing user keeps its own.",
        ),
        param(
            "uid_max",
            Kind::Int,
            "Highest id `useradd` may pick for a new user (`UID_MAX`).",
        ),
        param(
            "uid_min",
            Kind::Int,
            "Lowest id `useradd` may pick for a new user (`UID_MIN`).",
        ),
        param(
            "umask",
            Kind::Str,
            "Umask `useradd` uses for a new home directory.",
        ),
        param(
            "update_password",
            Kind::Str,
            "`always` sets `password` whenever it differs; `on_create` only \
            sets it on a new account.",
        )
        .default("always")
        .choices(&["always", "on_create"]),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Create the deploy user
  ansible.builtin.user:
    name: deploy
    comment: Deployment account
    shell: /bin/bash
    groups: [docker, www-data]
    append: true
    generate_ssh_key: true
    ssh_key_type: ed25519

- name: Set a password only when the account is created
  ansible.builtin.user:
    name: alice
    password: \"{{ alice_password | password_hash('sha512') }}\"
    update_password: on_create

- name: Remove a user and its home directory
  ansible.builtin.user:
    name: olduser
    state: absent
    remove: true
",
    open: false,
    fields: params::fields::<Params>,
};

/// What the ssh key generation needs.
#[derive(Debug, Clone)]
struct SshKey {
    file: String,
    kind: String,
    bits: Option<u32>,
    comment: Option<String>,
    passphrase: Option<String>,
}

struct Task {
    name: String,
    present: bool,
    uid: Option<u32>,
    non_unique: bool,
    group: Option<String>,
    groups: Option<Vec<String>>,
    append: bool,
    shell: Option<String>,
    home: Option<String>,
    create_home: bool,
    move_home: bool,
    skeleton: Option<String>,
    umask: Option<String>,
    system: bool,
    password: Option<String>,
    update_always: bool,
    comment: Option<String>,
    remove: bool,
    force: bool,
    ssh: Option<SshKey>,
    /// Days since the epoch; negative: never expires.
    expires: Option<i64>,
    password_lock: Option<bool>,
    expire_max: Option<i64>,
    expire_min: Option<i64>,
    expire_warn: Option<i64>,
    uid_min: Option<u32>,
    uid_max: Option<u32>,
    local: bool,
    stash: Stash<Steps>,
}

/// What apply runs, decided by check.
#[derive(Debug, Clone, Default)]
struct Steps {
    /// `useradd`/`usermod`/`userdel` argv, and the password hash that
    /// goes with it on stdin.
    main: Option<(Vec<String>, Option<String>)>,
    /// The home directory to create.
    mkhome: Option<String>,
    /// `chage` arguments.
    chage: Vec<String>,
    /// Generate the SSH key.
    keygen: bool,
}

/// `$1` name, `$2` local (1/0), `$3` wanted home (empty: the current
/// one), `$4` SSH key file (empty: no key asked for).
pub const PROBE: &str = r#"name=$1 local=$2 home=$3 key=$4
ent() {
  if [ "$local" = 1 ]; then
    if [ $# -eq 1 ]; then cat "/etc/$1"; else awk -F: -v k="$2" '$1==k{print;f=1} END{exit f?0:2}' "/etc/$1"; fi
  else getent "$@"; fi
}
s passwd ent passwd "$name"
s shadow ent shadow "$name" 2>/dev/null
s groups ent group
h=$home
[ -n "$h" ] || h=$(ent passwd "$name" | cut -d: -f6)
[ -n "$h" ] && s home test -e "$h"
if [ -n "$key" ] && [ -n "$h" ]; then
  case $key in /*) ;; *) key=$h/$key;; esac
  s keyfile printf %s "$key"
  s key test -e "$key"
  s pub cat -- "$key.pub" 2>/dev/null
  s fp ssh-keygen -l -f "$key.pub" 2>/dev/null
fi
"#;

/// `$1` home, `$2` user: creates the home directory from the skeleton
/// with the mode `login.defs` asks for (`HOME_MODE`, else from `UMASK`).
pub const MKHOME: &str = r#"h=$1 u=$2 skel=${3:-/etc/skel}
[ -e "$h" ] && exit 0
g=$(id -g -- "$u") || exit 1
m=$(awk '$1=="HOME_MODE"{print $2}' /etc/login.defs 2>/dev/null)
if [ -z "$m" ]; then
  um=$(awk '$1=="UMASK"{print $2}' /etc/login.defs 2>/dev/null)
  m=$(printf '%o' $(( 0777 & ~0${um:-22} )))
fi
mkdir -p -- "$h" || exit 1
[ -d "$skel" ] && cp -R -- "$skel/." "$h/"
chown -R -- "$u:$g" "$h" && chmod -- "$m" "$h"
"#;

/// `$1` user, `$2` key file (relative: to the home), `$3` type, `$4`
/// bits (empty: ssh-keygen's default), `$5` comment (empty: Ansible's);
/// the passphrase on stdin. Prints the file, fingerprint and public key.
pub const KEYGEN: &str = r#"u=$1 k=$2 t=$3 b=$4 c=$5
IFS= read -r pp || true
h=$(getent passwd "$u" | cut -d: -f6)
case $k in /*) ;; *) k=$h/$k;; esac
[ -n "$c" ] || c="ansible-generated on $(hostname)"
g=$(id -g -- "$u") || exit 1
d=$(dirname -- "$k")
if ! [ -d "$d" ]; then mkdir -p -- "$d" && chmod 0700 "$d" && chown -- "$u:$g" "$d" || exit 1; fi
set -- -q -t "$t" -C "$c" -f "$k"
[ -n "$b" ] && set -- "$@" -b "$b"
ssh-keygen "$@" -N "$pp" </dev/null >&2 || exit 1
chown -- "$u:$g" "$k" "$k.pub" || exit 1
s keyfile printf %s "$k"
s fp ssh-keygen -l -f "$k.pub"
s pub cat -- "$k.pub"
"#;

fn int<T: std::str::FromStr>(param: &str, v: Option<String>) -> Result<Option<T>, ParamError> {
    v.map(|s| {
        s.trim()
            .parse::<T>()
            .map_err(|_| ParamError::at(param, format!("{param}: {s} is not a valid integer")))
    })
    .transpose()
}

/// `expires` (seconds since the epoch, a float) as days since the epoch;
/// negative stays negative (never expires).
fn expires_days(v: &Value) -> Result<Option<i64>, ParamError> {
    let f = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| ParamError::at("expires", format!("expires: {v} is not a valid float")))?;
    if f < 0.0 {
        return Ok(Some(-1));
    }
    Ok(Some((f / 86400.0).floor() as i64))
}

fn ymd(days: i64) -> String {
    chrono::DateTime::from_timestamp(days * 86400, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

impl Module for User {
    fn name(&self) -> &'static str {
        "user"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let _ = (
            &p.authorization,
            &p.hidden,
            &p.login_class,
            &p.profile,
            &p.role,
            &p.seuser,
        );
        let state = choice(
            "state",
            p.state.as_deref(),
            "present",
            &["absent", "present"],
        )?;
        let update = choice(
            "update_password",
            p.update_password.as_deref(),
            "always",
            &["always", "on_create"],
        )?;
        let uid = int("uid", p.uid)?;
        let non_unique = p.non_unique.unwrap_or(false);
        if non_unique && uid.is_none() {
            return Err(ParamError::at(
                "non_unique",
                "missing parameter(s) required by 'non_unique': uid",
            ));
        }
        if p.name.is_empty() || p.name.contains(':') || p.name.contains('\n') {
            return Err(ParamError::at(
                "name",
                format!("Invalid user name {:?}", p.name),
            ));
        }
        let expires = match &p.expires {
            Some(v) => expires_days(v)?,
            None => None,
        };
        let ssh = if p.generate_ssh_key.unwrap_or(false) {
            let kind = p.ssh_key_type.unwrap_or_else(|| "rsa".into());
            Some(SshKey {
                file: p.ssh_key_file.unwrap_or_else(|| format!(".ssh/id_{kind}")),
                kind,
                bits: int::<u32>("ssh_key_bits", p.ssh_key_bits)?.filter(|b| *b > 0),
                comment: p.ssh_key_comment,
                passphrase: p.ssh_key_passphrase,
            })
        } else {
            None
        };
        if let Some(pw) = &p.password
            && (pw.contains('\n') || pw.contains(':'))
        {
            return Err(ParamError::at(
                "password",
                "password: the hash cannot contain ':' or a newline",
            ));
        }
        Ok(Box::new(Task {
            name: p.name,
            present: state == "present",
            uid,
            non_unique,
            group: p.group.filter(|g| !g.is_empty()),
            groups: p
                .groups
                .map(|g| g.into_iter().filter(|x| !x.is_empty()).collect()),
            append: p.append.unwrap_or(false),
            shell: p.shell,
            home: p.home.filter(|h| !h.is_empty()),
            create_home: p.create_home.unwrap_or(true),
            move_home: p.move_home.unwrap_or(false),
            skeleton: p.skeleton,
            umask: p.umask,
            system: p.system.unwrap_or(false),
            password: p.password,
            update_always: update == "always",
            comment: p.comment,
            remove: p.remove.unwrap_or(false),
            force: p.force.unwrap_or(false),
            ssh,
            expires,
            password_lock: p.password_lock,
            expire_max: int("password_expire_max", p.password_expire_max)?,
            expire_min: int("password_expire_min", p.password_expire_min)?,
            expire_warn: int("password_expire_warn", p.password_expire_warn)?,
            uid_min: int("uid_min", p.uid_min)?,
            uid_max: int("uid_max", p.uid_max)?,
            local: p.local.unwrap_or(false),
            stash: Stash::default(),
        }))
    }
}

/// What the probe saw.
struct Seen {
    user: Option<PasswdEntry>,
    shadow: Option<ShadowEntry>,
    /// The raw shadow fields (for password ageing).
    shadow_fields: Vec<String>,
    groups: Vec<GroupEntry>,
    home_exists: Option<bool>,
    key: KeyInfo,
}

#[derive(Debug, Clone, Default)]
struct KeyInfo {
    exists: bool,
    file: Option<String>,
    public: Option<String>,
    fingerprint: Option<String>,
}

impl KeyInfo {
    fn from_sections(s: &Sections) -> Self {
        KeyInfo {
            exists: s.success("key"),
            file: s.ok("keyfile"),
            public: s.ok("pub").map(|p| p.trim_end().to_string()),
            fingerprint: s.ok("fp").map(|p| p.trim_end().to_string()),
        }
    }

    fn put(&self, r: &mut Facts) {
        if let Some(f) = &self.file {
            r.insert("ssh_key_file".into(), json!(f));
        }
        if let Some(f) = &self.fingerprint {
            r.insert("ssh_fingerprint".into(), json!(f));
        }
        if let Some(p) = &self.public {
            r.insert("ssh_public_key".into(), json!(p));
        }
    }
}

/// Whether a shadow hash is locked in a way `usermod -U` can undo.
fn unlockable(hash: &str) -> bool {
    hash.strip_prefix('!')
        .is_some_and(|rest| !rest.is_empty() && rest != "*" && !rest.starts_with('!'))
}

impl Task {
    fn probe_cmd(&self) -> Cmd {
        sh(
            &format!("{SECTION_PRELUDE}{PROBE}"),
            [
                self.name.clone(),
                if self.local { "1" } else { "0" }.into(),
                self.home.clone().unwrap_or_default(),
                self.ssh
                    .as_ref()
                    .map(|k| k.file.clone())
                    .unwrap_or_default(),
            ],
        )
    }

    async fn look(&self, host: &dyn HostRead) -> Result<Seen, ModuleError> {
        let s = probe_sections(host, &self.probe_cmd()).await?;
        let shadow_text = s.ok("shadow").unwrap_or_default();
        Ok(Seen {
            user: s.ok("passwd").and_then(|t| passwd::parse_passwd(&t)),
            shadow: passwd::parse_shadow(&shadow_text),
            shadow_fields: shadow_text
                .lines()
                .next()
                .map(|l| l.split(':').map(str::to_string).collect())
                .unwrap_or_default(),
            groups: s
                .ok("groups")
                .map(|t| passwd::parse_groups(&t))
                .unwrap_or_default(),
            home_exists: s.0.get("home").map(|h| h.rc == 0),
            key: KeyInfo::from_sections(&s),
        })
    }

    fn group_exists(&self, seen: &Seen, g: &str) -> Result<GroupEntry, ModuleError> {
        passwd::find_group(&seen.groups, g)
            .cloned()
            .ok_or_else(|| ModuleError::failed(format!("Group {g} does not exist")))
    }

    /// The wanted supplementary groups, as names, without the primary one.
    fn wanted_groups(
        &self,
        seen: &Seen,
        primary: Option<u32>,
    ) -> Result<Option<Vec<String>>, ModuleError> {
        let Some(list) = &self.groups else {
            return Ok(None);
        };
        let mut out: Vec<String> = Vec::new();
        for g in list {
            let e = self.group_exists(seen, g)?;
            if Some(e.gid) == primary || out.contains(&e.name) {
                continue;
            }
            out.push(e.name);
        }
        Ok(Some(out))
    }

    /// The password hash the account should end up with, if it changes.
    fn new_hash(&self, current: Option<&str>, creating: bool) -> Option<String> {
        let cur = current.unwrap_or("");
        let cur_locked = cur.starts_with('!');
        let cur_base = cur.strip_prefix('!').unwrap_or(cur);
        let base = match &self.password {
            Some(p) if creating || self.update_always => p.as_str(),
            _ => cur_base,
        };
        let base = base.strip_prefix('!').unwrap_or(base);
        let locked = match self.password_lock {
            Some(true) => true,
            Some(false) => false,
            None => cur_locked && !(self.password.is_some() && (creating || self.update_always)),
        };
        let want = if locked {
            format!("!{base}")
        } else {
            base.to_string()
        };
        if creating {
            return (self.password.is_some() || locked).then_some(want);
        }
        (want != cur).then_some(want)
    }

    fn base_result(&self) -> Facts {
        let mut r = Facts::new();
        r.insert("name".into(), json!(self.name));
        r.insert(
            "state".into(),
            json!(if self.present { "present" } else { "absent" }),
        );
        r
    }

    fn entry_keys(&self, e: &PasswdEntry, r: &mut Facts) {
        r.insert("uid".into(), json!(e.uid));
        r.insert("group".into(), json!(e.gid));
        r.insert("comment".into(), json!(e.gecos));
        r.insert("home".into(), json!(e.home));
        r.insert("shell".into(), json!(e.shell));
        if let Some(g) = &self.groups {
            r.insert("groups".into(), json!(g.join(",")));
        }
    }

    fn plan(&self, seen: &Seen) -> Result<(Steps, Vec<String>, Facts), ModuleError> {
        let mut steps = Steps::default();
        let mut changes = Vec::new();
        let mut r = self.base_result();
        if !self.present {
            if seen.user.is_some() {
                let mut argv = vec!["userdel".to_string()];
                if self.force {
                    argv.push("-f".into());
                }
                if self.remove {
                    argv.push("-r".into());
                }
                argv.push(self.name.clone());
                steps.main = Some((argv, None));
                changes.push(format!("remove user {}", self.name));
                r.insert("force".into(), json!(self.force));
                r.insert("remove".into(), json!(self.remove));
            }
            return Ok((steps, changes, r));
        }
        if self.password.is_some() {
            r.insert("password".into(), json!("NOT_LOGGING_PASSWORD"));
        }
        let creating = seen.user.is_none();
        let mut argv: Vec<String> = Vec::new();
        fn add(argv: &mut Vec<String>, a: &str, v: String) {
            argv.push(a.to_string());
            argv.push(v);
        }
        match &seen.user {
            None => {
                if let Some(u) = self.uid {
                    add(&mut argv, "-u", u.to_string());
                    if self.non_unique {
                        argv.push("-o".into());
                    }
                }
                if let Some(g) = &self.group {
                    self.group_exists(seen, g)?;
                    add(&mut argv, "-g", g.clone());
                } else if passwd::find_group(&seen.groups, &self.name).is_some() {
                    argv.push("-N".into());
                }
                let primary = self
                    .group
                    .as_deref()
                    .and_then(|g| passwd::find_group(&seen.groups, g))
                    .map(|g| g.gid);
                if let Some(g) = self.wanted_groups(seen, primary)?
                    && !g.is_empty()
                {
                    add(&mut argv, "-G", g.join(","));
                }
                if let Some(c) = &self.comment {
                    add(&mut argv, "-c", c.clone());
                }
                if let Some(h) = &self.home {
                    add(&mut argv, "-d", h.clone());
                }
                if let Some(s) = &self.shell {
                    add(&mut argv, "-s", s.clone());
                }
                if let Some(e) = self.expires {
                    add(&mut argv, "-e", if e < 0 { String::new() } else { ymd(e) });
                }
                if self.create_home {
                    argv.push("-m".into());
                    if let Some(k) = &self.skeleton {
                        add(&mut argv, "-k", k.clone());
                    }
                    if let Some(u) = &self.umask {
                        add(&mut argv, "-K", format!("UMASK={u}"));
                    }
                } else {
                    argv.push("-M".into());
                }
                if self.system {
                    argv.push("-r".into());
                }
                if let Some(m) = self.uid_min {
                    add(&mut argv, "-K", format!("UID_MIN={m}"));
                }
                if let Some(m) = self.uid_max {
                    add(&mut argv, "-K", format!("UID_MAX={m}"));
                }
                let hash = self.new_hash(None, true);
                argv.insert(0, "useradd".into());
                argv.push(self.name.clone());
                steps.main = Some((argv, hash));
                changes.push(format!("create user {}", self.name));
                r.insert("system".into(), json!(self.system));
                r.insert("create_home".into(), json!(self.create_home));
                if let Some(h) = &self.home {
                    r.insert("home".into(), json!(h));
                }
                if let Some(g) = &self.groups {
                    r.insert("groups".into(), json!(g.join(",")));
                }
            }
            Some(u) => {
                let mut what: Vec<String> = Vec::new();
                if let Some(id) = self.uid
                    && id != u.uid
                {
                    add(&mut argv, "-u", id.to_string());
                    if self.non_unique {
                        argv.push("-o".into());
                    }
                    what.push(format!("uid {} -> {id}", u.uid));
                }
                if let Some(g) = &self.group {
                    let e = self.group_exists(seen, g)?;
                    if e.gid != u.gid {
                        add(&mut argv, "-g", g.clone());
                        what.push(format!("group {} -> {g}", u.gid));
                    }
                }
                if let Some(wanted) = self.wanted_groups(seen, Some(u.gid))? {
                    let current: BTreeSet<String> = seen
                        .groups
                        .iter()
                        .filter(|g| g.gid != u.gid && g.members.contains(&u.name))
                        .map(|g| g.name.clone())
                        .collect();
                    let want: BTreeSet<String> = wanted.iter().cloned().collect();
                    let differs = if self.append {
                        !want.is_subset(&current)
                    } else {
                        want != current
                    };
                    if differs {
                        if self.append {
                            argv.push("-a".into());
                        }
                        add(&mut argv, "-G", wanted.join(","));
                        what.push(format!(
                            "groups [{}] -> [{}]",
                            current.into_iter().collect::<Vec<_>>().join(","),
                            wanted.join(",")
                        ));
                    }
                }
                if let Some(c) = &self.comment
                    && *c != u.gecos
                {
                    add(&mut argv, "-c", c.clone());
                    what.push(format!("comment {:?} -> {c:?}", u.gecos));
                }
                if let Some(h) = &self.home
                    && *h != u.home
                {
                    add(&mut argv, "-d", h.clone());
                    if self.move_home {
                        argv.push("-m".into());
                    }
                    what.push(format!("home {} -> {h}", u.home));
                }
                if let Some(s) = &self.shell
                    && *s != u.shell
                {
                    add(&mut argv, "-s", s.clone());
                    what.push(format!("shell {} -> {s}", u.shell));
                }
                if let Some(e) = self.expires {
                    let cur = seen.shadow.as_ref().and_then(|s| s.expire);
                    if e < 0 {
                        if cur.is_some_and(|c| c >= 0) {
                            add(&mut argv, "-e", String::new());
                            what.push("expires -> never".into());
                        }
                    } else if cur != Some(e) {
                        add(&mut argv, "-e", ymd(e));
                        what.push(format!("expires -> {}", ymd(e)));
                    }
                }
                let cur_hash = seen.shadow.as_ref().map(|s| s.hash.as_str());
                let mut pw = None;
                if let Some(h) = self.new_hash(cur_hash, false) {
                    let cur = cur_hash.unwrap_or("");
                    let same_base = h.trim_start_matches('!') == cur.trim_start_matches('!');
                    if same_base && h.starts_with('!') {
                        argv.push("-L".into());
                        what.push("password locked".into());
                    } else if same_base && unlockable(cur) {
                        argv.push("-U".into());
                        what.push("password unlocked".into());
                    } else if !same_base {
                        pw = Some(h.clone());
                        what.push("password".into());
                    }
                }
                if !argv.is_empty() || pw.is_some() {
                    argv.insert(0, "usermod".into());
                    argv.push(self.name.clone());
                    steps.main = Some((argv, pw));
                    changes.push(format!("user {}: {}", self.name, what.join(", ")));
                }
                self.entry_keys(u, &mut r);
                for (k, v) in [
                    ("uid", self.uid.map(|x| json!(x))),
                    ("comment", self.comment.as_ref().map(|x| json!(x))),
                    ("home", self.home.as_ref().map(|x| json!(x))),
                    ("shell", self.shell.as_ref().map(|x| json!(x))),
                ] {
                    if let Some(v) = v {
                        r.insert(k.into(), v);
                    }
                }
                r.insert("append".into(), json!(self.append));
                r.insert("move_home".into(), json!(self.move_home));
                // Password ageing, with chage.
                let field = |i: usize| -> Option<i64> {
                    seen.shadow_fields.get(i).and_then(|f| f.parse().ok())
                };
                for (flag, want, idx) in [
                    ("-m", self.expire_min, 3),
                    ("-M", self.expire_max, 4),
                    ("-W", self.expire_warn, 5),
                ] {
                    if let Some(w) = want
                        && field(idx) != Some(w)
                    {
                        steps.chage.push(flag.into());
                        steps.chage.push(w.to_string());
                    }
                }
            }
        }
        if creating {
            for (flag, want) in [
                ("-m", self.expire_min),
                ("-M", self.expire_max),
                ("-W", self.expire_warn),
            ] {
                if let Some(w) = want {
                    steps.chage.push(flag.into());
                    steps.chage.push(w.to_string());
                }
            }
        }
        if !steps.chage.is_empty() {
            changes.push(format!("password ageing of {}", self.name));
        }
        if !creating && self.create_home && seen.home_exists == Some(false) {
            let home = self
                .home
                .clone()
                .or_else(|| seen.user.as_ref().map(|u| u.home.clone()))
                .unwrap_or_default();
            changes.push(format!("create home directory {home}"));
            steps.mkhome = Some(home);
        }
        if self.ssh.is_some() {
            if creating || !seen.key.exists {
                steps.keygen = true;
                changes.push(format!("generate an SSH key for {}", self.name));
            } else {
                seen.key.put(&mut r);
            }
        }
        Ok((steps, changes, r))
    }
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let seen = self.look(host).await?;
        let (steps, changes, result) = self.plan(&seen)?;
        if changes.is_empty() {
            return Ok(Plan::InSync { result });
        }
        self.stash.put(steps);
        Ok(Plan::Change {
            changes,
            diff: Vec::new(),
            result,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change { mut result, .. } = plan else {
            return Ok(Applied::default());
        };
        let Some(steps) = self.stash.get() else {
            return Err(ModuleError::failed("user: apply without a check"));
        };
        if let Some((argv, hash)) = &steps.main {
            let (out, entry) = run_then_ent(
                host,
                argv,
                "passwd",
                &self.name,
                self.local,
                hash.as_deref(),
            )
            .await?;
            let program = argv.first().cloned().unwrap_or_default();
            if !out.success() {
                return Err(command_failed(&format!("{program} failed"), &out));
            }
            output_keys(&out, &mut result);
            if self.present
                && let Some(e) = entry.and_then(|t| passwd::parse_passwd(&t))
            {
                self.entry_keys(&e, &mut result);
            }
        }
        if !steps.chage.is_empty() {
            let cmd = Cmd::new("chage").args(steps.chage.clone()).arg(&self.name);
            run_checked(host, &cmd, "chage failed").await?;
        }
        if let Some(home) = &steps.mkhome {
            let mut args = vec![home.clone(), self.name.clone()];
            if let Some(k) = &self.skeleton {
                args.push(k.clone());
            }
            run_checked(host, &sh(MKHOME, args), &format!("cannot create {home}")).await?;
        }
        if steps.keygen
            && let Some(k) = &self.ssh
        {
            let cmd = sh(
                &format!("{SECTION_PRELUDE}{KEYGEN}"),
                [
                    self.name.clone(),
                    k.file.clone(),
                    k.kind.clone(),
                    k.bits.map(|b| b.to_string()).unwrap_or_default(),
                    k.comment.clone().unwrap_or_default(),
                ],
            )
            .stdin(format!("{}\n", k.passphrase.clone().unwrap_or_default()));
            let out = host.run(&cmd).await?;
            if !out.success() {
                return Err(command_failed("Failed to generate the SSH key", &out));
            }
            KeyInfo::from_sections(&parse_sections(&out.stdout)).put(&mut result);
        }
        Ok(Applied {
            changed: true,
            failed: false,
            msg: None,
            result,
            diff: Vec::new(),
        })
    }
}
