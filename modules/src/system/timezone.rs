//! The `timezone` module: the system time zone and whether the hardware
//! clock keeps UTC or local time. With systemd running: `timedatectl`;
//! else `/etc/timezone`, the `/etc/localtime` symlink and `/etc/adjtime`.
//! One probe; one run to apply.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::{SECTION_PRELUDE, probe_sections, run_checked, sh};
use crate::files::common::Stash;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Diff, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};

/// The `timezone` module.
pub struct Timezone;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_string")]
    hwclock: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    name: Option<String>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "timezone",
    short: "Set the system time zone and the hardware clock's time scale",
    description: "Sets the time zone and whether the hardware clock keeps UTC or \
        local time. When systemd runs, both are read and set with \
        `timedatectl`; otherwise the zone is written to `/etc/timezone` and \
        the `/etc/localtime` symlink, and the clock's scale to the third line \
        of `/etc/adjtime`. The zone must exist under `/usr/share/zoneinfo`. \
        Nothing is changed when the current values already match.",
    params: &[
        param(
            "hwclock",
            Kind::Str,
            "Whether the hardware clock keeps `UTC` or `local` time (either \
            spelling in any case).",
        ),
        param(
            "name",
            Kind::Str,
            "The time zone, such as `Europe/Paris` or `UTC`. At least one of \
            `name` and `hwclock` must be given.",
        ),
    ],
    check: Support::Full,
    diff: Support::Full,
    example: "- name: Run the servers on UTC
  ansible.builtin.timezone:
    name: Etc/UTC

- name: Set the zone and keep the hardware clock in UTC
  ansible.builtin.timezone:
    name: America/New_York
    hwclock: UTC
",
    open: false,
    fields: params::fields::<Params>,
};

struct Task {
    name: Option<String>,
    /// `local` or `UTC`.
    hwclock: Option<String>,
    stash: Stash<(bool, bool, bool)>,
}

/// `$1` zone name (empty: none asked).
pub const PROBE: &str = r#"z=$1
if [ -d /run/systemd/system ] && command -v timedatectl >/dev/null 2>&1; then
  s systemd true
  s tz timedatectl show -p Timezone --value
  s rtc timedatectl show -p LocalRTC --value
fi
[ -f /etc/timezone ] && s etc cat /etc/timezone
[ -L /etc/localtime ] && s link readlink /etc/localtime
[ -f /etc/adjtime ] && s adjtime cat /etc/adjtime
[ -n "$z" ] && s zone test -f "/usr/share/zoneinfo/$z"
"#;

/// `$1` systemd (1/0), `$2` zone (empty: keep), `$3` hwclock (empty:
/// keep, `local` or `UTC`).
pub const APPLY: &str = r#"sd=$1 z=$2 hw=$3
if [ "$sd" = 1 ]; then
  [ -n "$z" ] && { timedatectl set-timezone "$z" || exit 1; }
  if [ -n "$hw" ]; then
    if [ "$hw" = local ]; then timedatectl set-local-rtc 1 || exit 1; else timedatectl set-local-rtc 0 || exit 1; fi
  fi
  exit 0
fi
if [ -n "$z" ]; then
  printf '%s\n' "$z" > /etc/timezone.tutti && mv -f /etc/timezone.tutti /etc/timezone || exit 1
  ln -sfn "/usr/share/zoneinfo/$z" /etc/localtime.tutti && mv -f /etc/localtime.tutti /etc/localtime || exit 1
fi
if [ -n "$hw" ]; then
  w=UTC; [ "$hw" = local ] && w=LOCAL
  if [ -f /etc/adjtime ]; then
    awk -v w="$w" 'NR==3{print w; next} {print} END{if (NR<2) print "0"; if (NR<3) print w}' /etc/adjtime > /etc/adjtime.tutti
  else
    printf '0.0 0 0.0\n0\n%s\n' "$w" > /etc/adjtime.tutti
  fi && mv -f /etc/adjtime.tutti /etc/adjtime || exit 1
fi
"#;

impl Module for Timezone {
    fn name(&self) -> &'static str {
        "timezone"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let hwclock = match p.hwclock.as_deref() {
            None => None,
            Some(h) => match h.to_ascii_lowercase().as_str() {
                "local" => Some("local".to_string()),
                "utc" => Some("UTC".to_string()),
                _ => {
                    return Err(ParamError::at(
                        "hwclock",
                        format!("value of hwclock must be one of: local, UTC, got: {h}"),
                    ));
                }
            },
        };
        let name = p.name.filter(|n| !n.is_empty());
        if name.is_none() && hwclock.is_none() {
            return Err(ParamError::new(
                "one of the following is required: name, hwclock",
            ));
        }
        if let Some(n) = &name
            && (n.contains("..") || n.starts_with('/'))
        {
            return Err(ParamError::at(
                "name",
                format!("invalid timezone name {n:?}"),
            ));
        }
        Ok(Box::new(Task {
            name,
            hwclock,
            stash: Stash::default(),
        }))
    }
}

#[async_trait]
impl Prepared for Task {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let s = probe_sections(
            host,
            &sh(
                &format!("{SECTION_PRELUDE}{PROBE}"),
                [self.name.clone().unwrap_or_default()],
            ),
        )
        .await?;
        let systemd = s.success("systemd");
        if let Some(n) = &self.name
            && !s.success("zone")
        {
            return Err(ModuleError::failed(format!(
                "given timezone \"{n}\" is not available"
            )));
        }
        let link_zone = s
            .ok("link")
            .and_then(|l| l.trim().split_once("zoneinfo/").map(|(_, z)| z.to_string()));
        let current = if systemd {
            s.ok("tz").map(|t| t.trim().to_string())
        } else {
            s.ok("etc")
                .map(|t| t.trim().to_string())
                .or(link_zone.clone())
        }
        .unwrap_or_default();
        let hw_now = if systemd {
            if s.ok("rtc").is_some_and(|r| r.trim() == "yes") {
                "local"
            } else {
                "UTC"
            }
        } else if s
            .ok("adjtime")
            .and_then(|a| a.lines().nth(2).map(|l| l.trim() == "LOCAL"))
            .unwrap_or(false)
        {
            "local"
        } else {
            "UTC"
        };
        let tz_change = self.name.as_ref().is_some_and(|n| {
            *n != current || (!systemd && link_zone.as_deref() != Some(n.as_str()))
        });
        let hw_change = self.hwclock.as_deref().is_some_and(|h| h != hw_now);
        let mut r = Facts::new();
        if !tz_change && !hw_change {
            return Ok(Plan::InSync { result: r });
        }
        let mut changes = Vec::new();
        let mut before = String::new();
        let mut after = String::new();
        if let Some(n) = &self.name {
            before.push_str(&format!("name: {current}\n"));
            after.push_str(&format!("name: {n}\n"));
            if tz_change {
                changes.push(format!("timezone: {current} -> {n}"));
            }
        }
        if let Some(h) = &self.hwclock {
            before.push_str(&format!("hwclock: {hw_now}\n"));
            after.push_str(&format!("hwclock: {h}\n"));
            if hw_change {
                changes.push(format!("hwclock: {hw_now} -> {h}"));
            }
        }
        r.insert("msg".into(), json!(changes.join(", ")));
        self.stash.put((systemd, tz_change, hw_change));
        Ok(Plan::Change {
            changes,
            diff: vec![Diff {
                data: None,
                before_header: None,
                after_header: None,
                before,
                after,
            }],
            result: r,
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        let Plan::Change { result, diff, .. } = plan else {
            return Ok(Applied::default());
        };
        let Some((systemd, tz, hw)) = self.stash.get() else {
            return Err(ModuleError::failed("timezone: apply without a check"));
        };
        let cmd = sh(
            APPLY,
            [
                if systemd { "1" } else { "0" }.to_string(),
                if tz {
                    self.name.clone().unwrap_or_default()
                } else {
                    String::new()
                },
                if hw {
                    self.hwclock.clone().unwrap_or_default()
                } else {
                    String::new()
                },
            ],
        );
        run_checked(host, &cmd, "Failed to set the time zone").await?;
        Ok(Applied {
            changed: true,
            failed: false,
            msg: None,
            result,
            diff,
        })
    }
}
