//! The `wait_for` module: waits for a TCP port to open, close or drain,
//! for a file to appear (optionally containing `search_regex`) or go
//! away, or simply for `timeout` seconds. The whole wait is one loop
//! script run on the target (a probe: it changes nothing), so a
//! five-minute wait costs one round trip; ports are tested with bash's
//! `/dev/tcp` (under `timeout`) or `nc -z`, connections counted with `ss`.
//! Check mode waits too, as Ansible's does.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::cmd::Cmd;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{Kind, ModuleSpec, Support, param};
use crate::text;
use crate::wait::seconds;

/// The `wait_for` module.
pub struct WaitFor;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, deserialize_with = "params::opt_list")]
    active_connection_states: Option<Vec<String>>,
    #[serde(default)]
    connect_timeout: Option<Value>,
    #[serde(default)]
    delay: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_list")]
    exclude_hosts: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    host: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    msg: Option<String>,
    #[serde(default, alias = "dest", deserialize_with = "params::opt_string")]
    path: Option<String>,
    #[serde(default)]
    port: Option<Value>,
    #[serde(default, alias = "regex", deserialize_with = "params::opt_string")]
    search_regex: Option<String>,
    #[serde(default)]
    sleep: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_string")]
    state: Option<String>,
    #[serde(default)]
    timeout: Option<Value>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "wait_for",
    short: "Wait for a port, a file or some time",
    description: "Waits until a TCP port on the target (or reachable from it) \
        accepts connections, stops accepting them or has no active \
        connections left, until a file exists (optionally containing \
        `search_regex`) or is gone, or, with neither `port` nor `path`, \
        simply for `timeout` seconds. The whole wait runs as one script on \
        the target, which tests ports with bash's `/dev/tcp` or `nc` and \
        counts connections with `ss`. It changes nothing and waits in check \
        mode too.",
    params: &[
        param(
            "active_connection_states",
            Kind::List,
            "TCP states that count as active connections for `state: \
            drained`.",
        )
        .default("ESTABLISHED,FIN_WAIT1,FIN_WAIT2,SYN_RECV,SYN_SENT,TIME_WAIT"),
        param(
            "connect_timeout",
            Kind::Int,
            "Seconds one connection attempt to the port may take (at least 1).",
        )
        .default("5"),
        param(
            "delay",
            Kind::Int,
            "Seconds to wait before the first check.",
        )
        .default("0"),
        param(
            "exclude_hosts",
            Kind::List,
            "Remote addresses whose connections are not counted for `state: \
            drained`.",
        ),
        param(
            "host",
            Kind::Str,
            "Address or name to test the port on, as seen from the target.",
        )
        .default("127.0.0.1"),
        param(
            "msg",
            Kind::Str,
            "Message to fail with instead of the default one when the wait \
            times out.",
        ),
        param(
            "path",
            Kind::Path,
            "File on the target to wait for; not together with `port`.",
        )
        .aliases(&["dest"]),
        param(
            "port",
            Kind::Int,
            "TCP port to wait for; not together with `path`.",
        ),
        param(
            "search_regex",
            Kind::Str,
            "With `path` and `state: present`/`started`, wait until the file \
            has a match of this regular expression; its groups are returned \
            as `match_groups` and `match_groupdict`.",
        )
        .aliases(&["regex"]),
        param("sleep", Kind::Int, "Seconds between checks (at least 1).").default("1"),
        param(
            "state",
            Kind::Str,
            "`started`/`present`: the port is open or the file exists; \
            `stopped`/`absent`: the port is closed or the file is gone; \
            `drained`: the port has no active connections.",
        )
        .default("started")
        .choices(&["absent", "drained", "present", "started", "stopped"]),
        param(
            "timeout",
            Kind::Int,
            "Seconds to wait before failing (or, with neither `port` nor \
            `path`, simply to wait).",
        )
        .default("300"),
    ],
    check: Support::Full,
    diff: Support::None,
    example: "- name: Wait for the web server to listen
  ansible.builtin.wait_for:
    port: 8080
    timeout: 60

- name: Wait until the application logs that it is ready
  ansible.builtin.wait_for:
    path: /var/log/app/app.log
    search_regex: ready to accept connections

- name: Wait for connections to port 443 to drain
  ansible.builtin.wait_for:
    port: 443
    state: drained
    exclude_hosts: [10.0.0.5]
",
    open: false,
    fields: params::fields::<Params>,
};

/// What to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    PortUp,
    PortDown,
    PathUp,
    PathDown,
    Drained,
    Sleep,
}

impl Mode {
    fn word(self) -> &'static str {
        match self {
            Mode::PortUp => "port_up",
            Mode::PortDown => "port_down",
            Mode::PathUp => "path_up",
            Mode::PathDown => "path_down",
            Mode::Drained => "drained",
            Mode::Sleep => "sleep",
        }
    }
}

/// The loop. Arguments: mode host port path regex delay timeout sleep
/// connect_timeout exclude_hosts ss_states. Prints `elapsed=N`; exits 0
/// when the condition holds, 124 on timeout, 3 when it cannot test.
pub const WAIT_SCRIPT: &str = r#"mode=$1 host=$2 port=$3 path=$4 re=$5 delay=$6 timeout=$7 nap=$8 ct=$9
shift 9
excl=$1 states=$2
start=$(date +%s)
elapsed() { echo "elapsed=$(( $(date +%s) - start ))"; }
port_open() {
  if command -v bash >/dev/null 2>&1; then
    if command -v timeout >/dev/null 2>&1; then
      timeout "$ct" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" >/dev/null 2>&1
    else
      bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" >/dev/null 2>&1
    fi
    return $?
  fi
  if command -v nc >/dev/null 2>&1; then
    nc -z -w "$ct" "$host" "$port" >/dev/null 2>&1
    return $?
  fi
  echo "wait_for: neither bash nor nc is available on the host to test ports" >&2
  elapsed; exit 3
}
if echo x | grep -q -P 'x' 2>/dev/null; then gflag=-P; else gflag=-E; fi
path_ok() {
  [ -e "$path" ] || return 1
  [ -z "$re" ] && return 0
  grep -q $gflag -e "$re" -- "$path" 2>/dev/null
}
active() {
  if command -v ss >/dev/null 2>&1; then
    ss -Htna 2>/dev/null | awk -v port="$port" -v states="$states" -v excl="$excl" '
      BEGIN { ns = split(states, s, " "); for (i = 1; i <= ns; i++) want[s[i]] = 1
              ne = split(excl, e, " "); for (i = 1; i <= ne; i++) skip[e[i]] = 1 }
      { l = $4; sub(/.*:/, "", l); p = $5; sub(/:[^:]*$/, "", p); gsub(/[][]/, "", p)
        if (l == port && ($1 in want) && !(p in skip)) n++ }
      END { print n + 0 }'
  elif command -v netstat >/dev/null 2>&1; then
    netstat -tn 2>/dev/null | awk -v port="$port" '$4 ~ ":" port "$" { n++ } END { print n + 0 }'
  else
    echo "wait_for: neither ss nor netstat is available on the host" >&2
    elapsed; exit 3
  fi
}
check() {
  case $mode in
    port_up) port_open ;;
    port_down) ! port_open ;;
    path_up) path_ok ;;
    path_down) [ ! -e "$path" ] ;;
    drained) [ "$(active)" = 0 ] ;;
    sleep) false ;;
  esac
}
[ "$delay" != 0 ] && sleep "$delay"
while :; do
  if check; then elapsed; exit 0; fi
  now=$(date +%s)
  if [ $(( now - start )) -ge "$timeout" ]; then
    [ "$mode" = sleep ] && { elapsed; exit 0; }
    elapsed; exit 124
  fi
  if [ "$mode" = sleep ]; then
    left=$(( timeout - (now - start) )); sleep "$left"
  else
    sleep "$nap"
  fi
done
"#;

#[derive(Debug)]
struct Prepped {
    mode: Mode,
    host: String,
    port: Option<u64>,
    path: Option<String>,
    search_regex: Option<String>,
    state: String,
    delay: u64,
    timeout: u64,
    sleep: u64,
    connect_timeout: u64,
    exclude_hosts: Vec<String>,
    states: Vec<String>,
    msg: Option<String>,
}

/// Ansible's TCP state names as `ss` prints them.
fn ss_state(s: &str) -> String {
    match s.to_ascii_uppercase().as_str() {
        "ESTABLISHED" => "ESTAB".into(),
        "FIN_WAIT1" => "FIN-WAIT-1".into(),
        "FIN_WAIT2" => "FIN-WAIT-2".into(),
        "SYN_RECV" => "SYN-RECV".into(),
        "SYN_SENT" => "SYN-SENT".into(),
        "TIME_WAIT" => "TIME-WAIT".into(),
        "CLOSE_WAIT" => "CLOSE-WAIT".into(),
        "LAST_ACK" => "LAST-ACK".into(),
        other => other.replace('_', "-"),
    }
}

impl Prepped {
    fn cmd(&self) -> Cmd {
        Cmd::new("sh").arg("-c").arg(WAIT_SCRIPT).arg("sh").args([
            self.mode.word().to_string(),
            self.host.clone(),
            self.port.map(|p| p.to_string()).unwrap_or_default(),
            self.path.clone().unwrap_or_default(),
            self.search_regex.clone().unwrap_or_default(),
            self.delay.to_string(),
            self.timeout.to_string(),
            self.sleep.to_string(),
            self.connect_timeout.to_string(),
            self.exclude_hosts.join(" "),
            self.states.join(" "),
        ])
    }

    fn timeout_msg(&self) -> String {
        if let Some(m) = &self.msg {
            return m.clone();
        }
        let hp = format!("{}:{}", self.host, self.port.unwrap_or(0));
        let path = self.path.clone().unwrap_or_default();
        match self.mode {
            Mode::PortUp => format!("Timeout when waiting for {hp}"),
            Mode::PortDown => format!("Timeout when waiting for {hp} to stop."),
            Mode::PathUp => match &self.search_regex {
                Some(re) => format!("Timeout when waiting for search string {re} in {path}"),
                None => format!("Timeout when waiting for file {path}"),
            },
            Mode::PathDown => format!("Timeout when waiting for {path} to be absent."),
            Mode::Drained => format!("Timeout when waiting for {hp} to drain"),
            Mode::Sleep => "Timeout".into(),
        }
    }

    fn result(&self, elapsed: i64) -> Facts {
        let mut r = Facts::new();
        r.insert("elapsed".into(), json!(elapsed));
        r.insert("state".into(), json!(self.state));
        r.insert("port".into(), json!(self.port));
        r.insert("path".into(), json!(self.path));
        r.insert("search_regex".into(), json!(self.search_regex));
        r.insert("match_groups".into(), json!([]));
        r.insert("match_groupdict".into(), json!({}));
        r
    }
}

/// `match_groups`/`match_groupdict` of the first match of `re` in `content`
/// (Python `re.search` with `re.MULTILINE`, as Ansible does).
fn groups(re: &str, content: &str) -> Option<(Vec<Value>, Map<String, Value>)> {
    let compiled = fancy_regex::Regex::new(&format!("(?m){re}")).ok()?;
    let caps = compiled.captures(content).ok()??;
    let list = (1..caps.len())
        .map(|i| {
            caps.get(i)
                .map(|m| json!(m.as_str()))
                .unwrap_or(Value::Null)
        })
        .collect();
    let mut dict = Map::new();
    for name in compiled.capture_names().flatten() {
        dict.insert(
            name.to_string(),
            caps.name(name)
                .map(|m| json!(m.as_str()))
                .unwrap_or(Value::Null),
        );
    }
    Some((list, dict))
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        let out = host.probe(&self.cmd()).await?;
        let stdout = text::decode(&out.stdout);
        let elapsed = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("elapsed="))
            .filter_map(|v| v.trim().parse::<i64>().ok())
            .next_back()
            .unwrap_or(0);
        let mut result = self.result(elapsed);
        match out.rc {
            0 => {}
            124 => {
                return Err(ModuleError::Failed {
                    msg: self.timeout_msg(),
                    result,
                });
            }
            rc => {
                let err = text::decode(&out.stderr);
                return Err(ModuleError::Failed {
                    msg: format!(
                        "wait_for could not test the condition (rc {rc}): {}",
                        err.trim()
                    ),
                    result,
                });
            }
        }
        if let (Mode::PathUp, Some(re), Some(path)) = (self.mode, &self.search_regex, &self.path)
            && let Some(content) = host.read(path).await?
            && let Some((list, dict)) = groups(re, &text::decode(&content))
        {
            result.insert("match_groups".into(), Value::Array(list));
            result.insert("match_groupdict".into(), Value::Object(dict));
        }
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

impl Module for WaitFor {
    fn name(&self) -> &'static str {
        "wait_for"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let port = match &p.port {
            None | Some(Value::Null) => None,
            v => Some(seconds("port", v.as_ref(), 0)?),
        };
        let path = p.path.filter(|s| !s.is_empty());
        let state = p.state.unwrap_or_else(|| "started".into());
        if port.is_some() && path.is_some() {
            return Err(ParamError::new(
                "parameters are mutually exclusive: port|path",
            ));
        }
        if port.is_some() && p.search_regex.is_some() {
            return Err(ParamError::at(
                "search_regex",
                "search_regex is supported with path only (reading from a port is not implemented)",
            ));
        }
        let mode = match (state.as_str(), port.is_some(), path.is_some()) {
            ("started" | "present", true, _) => Mode::PortUp,
            ("stopped" | "absent", true, _) => Mode::PortDown,
            ("started" | "present", _, true) => Mode::PathUp,
            ("stopped" | "absent", _, true) => Mode::PathDown,
            ("drained", true, _) => Mode::Drained,
            ("drained", false, _) => {
                return Err(ParamError::at("state", "state=drained needs a port"));
            }
            ("started" | "present" | "stopped" | "absent", false, false) => Mode::Sleep,
            (other, _, _) => {
                return Err(ParamError::at(
                    "state",
                    format!(
                        "value of state must be one of: absent, drained, present, started, stopped, got: {other}"
                    ),
                ));
            }
        };
        if p.search_regex.is_some() && mode != Mode::PathUp {
            return Err(ParamError::at(
                "search_regex",
                "search_regex needs path and state present/started",
            ));
        }
        if let Some(re) = &p.search_regex
            && fancy_regex::Regex::new(re).is_err()
        {
            return Err(ParamError::at(
                "search_regex",
                format!("invalid regular expression: {re}"),
            ));
        }
        let states = p.active_connection_states.unwrap_or_else(|| {
            [
                "ESTABLISHED",
                "FIN_WAIT1",
                "FIN_WAIT2",
                "SYN_RECV",
                "SYN_SENT",
                "TIME_WAIT",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        });
        Ok(Box::new(Prepped {
            mode,
            host: p.host.unwrap_or_else(|| "127.0.0.1".into()),
            port,
            path,
            search_regex: p.search_regex,
            state,
            delay: seconds("delay", p.delay.as_ref(), 0)?,
            timeout: seconds("timeout", p.timeout.as_ref(), 300)?,
            sleep: seconds("sleep", p.sleep.as_ref(), 1)?.max(1),
            connect_timeout: seconds("connect_timeout", p.connect_timeout.as_ref(), 5)?.max(1),
            exclude_hosts: p.exclude_hosts.unwrap_or_default(),
            states: states.iter().map(|s| ss_state(s)).collect(),
            msg: p.msg,
        }))
    }
}
