//! The `mount` module: an `fstab` entry and the mount itself, with the
//! states `present`, `absent`, `mounted`, `unmounted`, `remounted` and
//! `ephemeral`. `fstab` may point at another file (`mount -T FILE`).
//!
//! One probe (the fstab, `/proc/self/mountinfo`, whether the mount point
//! exists); apply is one atomic write of the fstab and one run of the
//! mount commands, each only when needed.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::{SECTION_PRELUDE, choice, probe_sections, run_checked, sh};
use crate::files::common::Stash;
use crate::fs::{Content, WriteOpts};
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Diff, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `mount` module.
pub struct Mount;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_bool")]
    backup: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    boot: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    dump: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    fstab: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    fstype: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    opts: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    passno: Option<String>,
    #[serde(alias = "name")]
    path: String,
    #[serde(default, deserialize_with = "params::opt_string")]
    src: Option<String>,
    state: String,
    #[serde(default, deserialize_with = "params::opt_string")]
    opts_no_log: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "mount",
    short: "Manage fstab entries and mounted filesystems",
    description: "Keeps a mount point's line in `fstab` and its mount in the \
        asked state: `present` only edits `fstab`, `mounted` also mounts \
        (creating the mount point) and remounts when the line changed, \
        `unmounted` unmounts and keeps the line, `absent` removes the line, \
        unmounts and removes the mount point, `absent_from_fstab` only \
        removes the line, `remounted` always remounts, and `ephemeral` \
        mounts without touching `fstab`. The current mounts come from \
        `/proc/self/mountinfo`; `fstab` is rewritten atomically and only when \
        the line differs.",
    params: &[
        param(
            "backup",
            Kind::Bool,
            "Keep a timestamped copy of `fstab` before changing it.",
        )
        .default("false"),
        param(
            "boot",
            Kind::Bool,
            "Mount at boot; `false` adds `noauto` to the options.",
        )
        .default("true"),
        param("dump", Kind::Str, "The fstab dump field.").default("0"),
        param(
            "fstab",
            Kind::Path,
            "The fstab file to edit; another file is passed to `mount -T`.",
        )
        .default("/etc/fstab"),
        param(
            "fstype",
            Kind::Str,
            "Filesystem type; needed for `present`, `mounted` and `ephemeral`.",
        ),
        param("opts", Kind::Str, "Mount options, comma-separated.").default("defaults"),
        param("passno", Kind::Str, "The fstab pass number field.").default("0"),
        param(
            "path",
            Kind::Path,
            "The mount point (a trailing `/` is dropped).",
        )
        .required()
        .aliases(&["name"]),
        param(
            "src",
            Kind::Str,
            "The device, `UUID=`/`LABEL=` spec or remote share to mount; \
            needed for `present`, `mounted` and `ephemeral`.",
        ),
        param(
            "state",
            Kind::Str,
            "The state of the fstab line and of the mount (see the \
            description).",
        )
        .required()
        .choices(&[
            "absent",
            "absent_from_fstab",
            "ephemeral",
            "mounted",
            "present",
            "remounted",
            "unmounted",
        ]),
        param(
            "opts_no_log",
            Kind::Bool,
            "Accepted for compatibility; has no effect.",
        ),
    ],
    check: Support::Full,
    diff: Support::Partial("shows the fstab edit; mounting and unmounting have no diff"),
    example: "- name: Mount the data volume now and at boot
  ansible.builtin.mount:
    path: /srv/data
    src: UUID=3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f
    fstype: ext4
    opts: noatime
    state: mounted

- name: Mount an NFS share only when asked
  ansible.builtin.mount:
    path: /mnt/backup
    src: nas.example.com:/backup
    fstype: nfs
    boot: false
    state: present

- name: Unmount and forget an old disk
  ansible.builtin.mount:
    path: /mnt/old
    state: absent
",
    open: false,
    fields: params::fields::<Params>,
};

struct Task {
    path: String,
    src: Option<String>,
    fstype: Option<String>,
    opts: String,
    dump: String,
    passno: String,
    state: String,
    fstab: String,
    boot: bool,
    backup: bool,
    result: Facts,
    stash: Stash<Planned>,
}

#[derive(Debug, Clone, Default)]
struct Planned {
    fstab: Option<Vec<u8>>,
    /// Arguments for [`APPLY`] after the first four.
    action: Option<&'static str>,
}

/// `$1` fstab, `$2` mount point.
pub const PROBE: &str = r#"f=$1 p=$2
[ -f "$f" ] && s fstab cat -- "$f"
s mountinfo cat /proc/self/mountinfo
s exists test -e "$p"
"#;

/// `$1` action (mount, umount, remount, ephemeral, absent), `$2` mount
/// point, `$3` fstab (empty: the default), `$4` src, `$5` fstype, `$6`
/// opts.
pub const APPLY: &str = r#"a=$1 p=$2 f=$3 src=$4 t=$5 o=$6
set --
[ -n "$f" ] && set -- -T "$f"
case $a in
mount) mkdir -p -- "$p" && mount "$@" -- "$p" ;;
umount) umount -- "$p" ;;
remount) mount "$@" -o remount -- "$p" || { umount -- "$p" && mount "$@" -- "$p"; } ;;
ephemeral) mkdir -p -- "$p" && mount -t "$t" -o "$o" -- "$src" "$p" ;;
ephemeral_remount) mount -o "remount,$o" -- "$p" ;;
absent) if mountpoint -q -- "$p" 2>/dev/null || grep -q " $p " /proc/self/mountinfo; then umount -- "$p" || exit 1; fi
  if [ -e "$p" ]; then rmdir -- "$p" || exit 1; fi ;;
*) echo "unknown action $a" >&2; exit 2 ;;
esac
"#;

/// fstab's escaping of blanks and backslashes.
fn escape(s: &str) -> String {
    s.replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('\t', "\\011")
        .replace('\n', "\\012")
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// `(src, fstype, opts)` of what is mounted at `path`, from mountinfo.
fn mounted(mountinfo: &str, path: &str) -> Option<(String, String, String)> {
    let want = path.trim_end_matches('/');
    let want = if want.is_empty() { "/" } else { want };
    mountinfo.lines().rev().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let lf: Vec<&str> = left.split(' ').collect();
        let rf: Vec<&str> = right.split(' ').collect();
        if unescape(lf.get(4)?) != want {
            return None;
        }
        Some((
            unescape(rf.get(1)?),
            rf.first()?.to_string(),
            lf.get(5).map(|s| s.to_string()).unwrap_or_default(),
        ))
    })
}

impl Module for Mount {
    fn name(&self) -> &'static str {
        "mount"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let state = choice(
            "state",
            Some(&p.state),
            "",
            &[
                "absent",
                "absent_from_fstab",
                "ephemeral",
                "mounted",
                "present",
                "remounted",
                "unmounted",
            ],
        )?;
        if matches!(state.as_str(), "present" | "mounted" | "ephemeral")
            && (p.src.is_none() || p.fstype.is_none())
        {
            return Err(ParamError::new(format!(
                "state is {state} but all of the following are missing: src, fstype"
            )));
        }
        let path = if p.path.len() > 1 {
            p.path.trim_end_matches('/').to_string()
        } else {
            p.path.clone()
        };
        let boot = p.boot.unwrap_or(true);
        let mut opts = p
            .opts
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| "defaults".into());
        if !boot && !opts.split(',').any(|o| o == "noauto") {
            opts = if opts == "defaults" {
                "noauto".into()
            } else {
                format!("{opts},noauto")
            };
        }
        let fstab = p
            .fstab
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| "/etc/fstab".into());
        let dump = p.dump.unwrap_or_else(|| "0".into());
        let passno = p.passno.unwrap_or_else(|| "0".into());
        let _ = p.opts_no_log;
        let mut result = Facts::new();
        result.insert("name".into(), json!(path));
        result.insert("src".into(), json!(p.src));
        result.insert("fstype".into(), json!(p.fstype));
        result.insert("opts".into(), json!(opts));
        result.insert("dump".into(), json!(dump));
        result.insert("passno".into(), json!(passno));
        result.insert("fstab".into(), json!(fstab));
        result.insert("boot".into(), json!(boot));
        Ok(Box::new(Task {
            path,
            src: p.src,
            fstype: p.fstype,
            opts,
            dump,
            passno,
            state,
            fstab,
            boot,
            backup: p.backup.unwrap_or(false),
            result,
            stash: Stash::default(),
        }))
    }
}

impl Task {
    fn line(&self) -> String {
        format!(
            "{} {} {} {} {} {}",
            escape(self.src.as_deref().unwrap_or_default()),
            escape(&self.path),
            self.fstype.as_deref().unwrap_or_default(),
            self.opts,
            self.dump,
            self.passno
        )
    }

    /// The fstab with our entry set (`present`) or removed.
    fn edit_fstab(&self, before: &str, present: bool) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut found = false;
        let want: Vec<String> = self.line().split(' ').map(str::to_string).collect();
        for l in before.lines() {
            let t = l.trim();
            let f: Vec<&str> = t.split_whitespace().collect();
            let ours = !t.starts_with('#') && f.len() >= 4 && unescape(f[1]) == self.path;
            if !ours {
                out.push(l.to_string());
                continue;
            }
            if !present || found {
                continue;
            }
            found = true;
            let mut have: Vec<String> = f.iter().map(|s| s.to_string()).collect();
            have.resize(6, "0".into());
            out.push(if have == want {
                l.to_string()
            } else {
                self.line()
            });
        }
        if present && !found {
            out.push(self.line());
        }
        if out.is_empty() {
            String::new()
        } else {
            format!("{}\n", out.join("\n"))
        }
    }
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let s = probe_sections(
            host,
            &sh(
                &format!("{SECTION_PRELUDE}{PROBE}"),
                [self.fstab.clone(), self.path.clone()],
            ),
        )
        .await?;
        let before = s.get("fstab").body;
        let mountinfo = s.get("mountinfo").body;
        let now = mounted(&mountinfo, &self.path);
        let mut changes = Vec::new();
        let mut planned = Planned::default();
        let fstab_want = match self.state.as_str() {
            "present" | "mounted" => Some(true),
            "absent" | "absent_from_fstab" => Some(false),
            _ => None,
        };
        let mut fstab_changed = false;
        if let Some(present) = fstab_want {
            let after = self.edit_fstab(&before, present);
            if after != before {
                fstab_changed = true;
                changes.push(format!(
                    "{} {} in {}",
                    if present { "set" } else { "remove" },
                    self.path,
                    self.fstab
                ));
                planned.fstab = Some(after.into_bytes());
            }
        }
        match self.state.as_str() {
            "mounted" if now.is_none() => {
                planned.action = Some("mount");
                changes.push(format!("mount {}", self.path));
            }
            "mounted" if fstab_changed => {
                planned.action = Some("remount");
                changes.push(format!("remount {}", self.path));
            }
            "unmounted" if now.is_some() => {
                planned.action = Some("umount");
                changes.push(format!("unmount {}", self.path));
            }
            "absent" if now.is_some() || s.success("exists") => {
                planned.action = Some("absent");
                changes.push(format!("unmount and remove {}", self.path));
            }
            "remounted" => {
                planned.action = Some("remount");
                changes.push(format!("remount {}", self.path));
            }
            "ephemeral" => match &now {
                None => {
                    planned.action = Some("ephemeral");
                    changes.push(format!("mount {} (not in fstab)", self.path));
                }
                Some((src, fstype, _)) => {
                    let want_src = self.src.clone().unwrap_or_default();
                    if *src != want_src || Some(fstype.as_str()) != self.fstype.as_deref() {
                        return Err(ModuleError::failed(format!(
                            "Ephemeral mount point is already mounted with a different device or filesystem type: {src} ({fstype})"
                        )));
                    }
                }
            },
            _ => {}
        }
        let r = self.result.clone();
        if changes.is_empty() {
            return Ok(Plan::InSync { result: r });
        }
        let diff = match &planned.fstab {
            Some(after) => vec![Diff {
                data: None,
                before_header: Some(self.fstab.clone()),
                after_header: Some(self.fstab.clone()),
                before,
                after: String::from_utf8_lossy(after).to_string(),
            }],
            None => Vec::new(),
        };
        self.stash.put(planned);
        Ok(Plan::Change {
            changes,
            diff,
            result: r,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change { result, diff, .. } = plan else {
            return Ok(Applied::default());
        };
        let Some(p) = self.stash.get() else {
            return Err(ModuleError::failed("mount: apply without a check"));
        };
        if let Some(c) = p.fstab {
            let opts = WriteOpts {
                backup: self.backup,
                ..WriteOpts::default()
            };
            host.write_atomic(&self.fstab, Content::Bytes(c), &opts)
                .await?;
        }
        if let Some(action) = p.action {
            let custom = if self.fstab == "/etc/fstab" {
                String::new()
            } else {
                self.fstab.clone()
            };
            let cmd = sh(
                APPLY,
                [
                    action.to_string(),
                    self.path.clone(),
                    custom,
                    self.src.clone().unwrap_or_default(),
                    self.fstype.clone().unwrap_or_default(),
                    self.opts.clone(),
                ],
            );
            run_checked(host, &cmd, &format!("Error {action} {}", self.path)).await?;
        }
        let _ = self.boot;
        Ok(Applied {
            changed: true,
            failed: false,
            msg: None,
            result,
            diff,
        })
    }
}
