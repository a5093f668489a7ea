//! The `service_facts` module: `ansible_facts.services`, one entry per
//! service with `name`, `state`, `status` and `source`, from one probe:
//! `systemctl list-units` and `list-unit-files` where systemd runs, else
//! every `/etc/init.d` script's `status` and its `rc?.d` start links (what
//! `service --status-all` does).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::cmd::Cmd;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::services::{command_failed, split_section};
use crate::spec::{ModuleSpec, Support};
use crate::text;

/// The `service_facts` module.
pub struct ServiceFacts;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {}

const SPEC: ModuleSpec = ModuleSpec {
    name: "service_facts",
    short: "Gather the services' states as facts",
    description: "Returns `ansible_facts.services`, one entry per service with \
        `name`, `state`, `status` and `source`, read in one probe: \
        `systemctl list-units` and `list-unit-files` where systemd runs, \
        otherwise each `/etc/init.d` script's `status` and its start links in \
        runlevels 2 to 5. It takes no parameters and never changes the host.",
    params: &[],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Gather the services
  ansible.builtin.service_facts:

- name: Report whether nginx runs
  ansible.builtin.debug:
    msg: \"{{ ansible_facts.services['nginx.service'].state }}\"
  when: \"'nginx.service' in ansible_facts.services\"
",
    open: false,
    fields: params::fields::<Params>,
};

/// The probe; sections are `units` and `files` (systemd) or `sysv`.
pub(crate) const PROBE_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo '--tutti-section units--'
  systemctl list-units --no-pager --type service --all --plain --no-legend || exit $?
  echo '--tutti-section files--'
  systemctl list-unit-files --no-pager --type service --plain --no-legend
  exit 0
fi
echo '--tutti-section sysv--'
for s in /etc/init.d/*; do
  [ -f "$s" ] && [ -x "$s" ] || continue
  n=${s##*/}
  case $n in README|skeleton|rc|rcS|functions|*.dpkg-*) continue ;; esac
  if grep -q status "$s" 2>/dev/null; then
    "$s" status >/dev/null 2>&1 </dev/null; rc=$?
  else
    rc=unknown
  fi
  en=disabled
  for f in /etc/rc[2345].d/S[0-9][0-9]"$n" /etc/rc.d/rc[2345].d/S[0-9][0-9]"$n"; do
    [ -e "$f" ] && en=enabled
  done
  echo "$rc $en $n"
done
"#;

/// `ansible_facts.services` from the probe's output.
pub fn parse(out: &str) -> Map<String, Value> {
    let mut services = Map::new();
    let (_, rest) = split_section(out, "units");
    if out.contains("--tutti-section units--") {
        let (units, files) = split_section(rest, "files");
        for line in units.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 {
                continue;
            }
            let state = match f[3] {
                "running" => "running",
                "failed" => "failed",
                _ if f[2] == "failed" => "failed",
                _ => "stopped",
            };
            services.insert(
                f[0].to_string(),
                json!({"name": f[0], "state": state, "status": "unknown", "source": "systemd"}),
            );
        }
        for line in files.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 2 || !f[0].ends_with(".service") {
                continue;
            }
            match services.get_mut(f[0]) {
                Some(Value::Object(e)) => {
                    e.insert("status".into(), json!(f[1]));
                }
                _ => {
                    services.insert(
                        f[0].to_string(),
                        json!({"name": f[0], "state": "inactive", "status": f[1], "source": "systemd"}),
                    );
                }
            }
        }
        return services;
    }
    let (_, sysv) = split_section(out, "sysv");
    for line in sysv.lines() {
        let mut it = line.splitn(3, ' ');
        let (Some(rc), Some(en), Some(name)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let state = match rc {
            "0" => "running",
            "unknown" | "4" => "unknown",
            _ => "stopped",
        };
        services.insert(
            name.to_string(),
            json!({"name": name, "state": state, "status": en, "source": "sysv"}),
        );
    }
    services
}

struct Prepped;

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let cmd = Cmd::new("sh").arg("-c").arg(PROBE_SCRIPT);
        let out = host.probe(&cmd).await?;
        if !out.success() {
            return Err(command_failed("Failed to list services", &out));
        }
        let services = parse(&text::decode(&out.stdout));
        let mut facts = Map::new();
        facts.insert("services".into(), Value::Object(services));
        let mut result = Facts::new();
        result.insert("ansible_facts".into(), Value::Object(facts));
        Ok(Plan::InSync { result })
    }

    async fn apply(&self, plan: Plan, _host: &dyn Host) -> Result<Applied, ModuleError> {
        let result = match plan {
            Plan::InSync { result } | Plan::Change { result, .. } => result,
            Plan::Unpredictable { .. } => Facts::new(),
        };
        Ok(Applied {
            result,
            ..Applied::default()
        })
    }
}

impl Module for ServiceFacts {
    fn name(&self) -> &'static str {
        "service_facts"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let _: Params = params::parse(&SPEC, args)?;
        Ok(Box::new(Prepped))
    }
}
