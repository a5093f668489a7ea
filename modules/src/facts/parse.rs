//! Turns the raw output of the `setup` probe (`probe.sh`) into facts with
//! Ansible's names (without the `ansible_` prefix) and value types.
//!
//! The probe prints sections introduced by `@@tutti NAME [ARG]` lines; the
//! `files` section holds `path:line` pairs from one `grep -H`. Every
//! section is optional: a host without `ip`, `hostname -f` or
//! `/etc/os-release` still gets sensible defaults, never a panic.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, FixedOffset, Timelike};
use serde_json::{Map, Value, json};

use crate::plan::Facts;

/// Which parts of the probe ran (the probe skips the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subsets {
    /// Ansible's minimal set (platform, distribution, user, env, ...).
    pub min: bool,
    pub hardware: bool,
    pub network: bool,
    pub virtual_: bool,
    /// Collectors only `all` brings in (`loadavg`, `chroot`, ...).
    pub extra: bool,
}

impl Subsets {
    /// Nothing at all (`!all,!min`): the probe need not run.
    pub fn none() -> Self {
        Subsets {
            min: false,
            hardware: false,
            network: false,
            virtual_: false,
            extra: false,
        }
    }
}

impl Default for Subsets {
    fn default() -> Self {
        Subsets {
            min: true,
            hardware: true,
            network: true,
            virtual_: true,
            extra: true,
        }
    }
}

/// The probe's output, split into sections.
#[derive(Debug, Default)]
pub struct Probe {
    /// Sections in order: (name, argument, body lines).
    sections: Vec<(String, String, Vec<String>)>,
    /// `files` section: path → lines.
    files: BTreeMap<String, Vec<String>>,
    /// `exists` section: paths that exist.
    exists: Vec<String>,
}

impl Probe {
    /// Splits raw probe output into sections.
    pub fn new(out: &str) -> Probe {
        let mut p = Probe::default();
        for line in out.split('\n') {
            if let Some(head) = line.strip_prefix("@@tutti ") {
                let (name, arg) = head.split_once(' ').unwrap_or((head, ""));
                p.sections
                    .push((name.to_string(), arg.to_string(), Vec::new()));
            } else if let Some((_, _, body)) = p.sections.last_mut() {
                body.push(line.to_string());
            }
        }
        // `_s` starts each header on a fresh line: drop that blank line.
        for (_, _, body) in &mut p.sections {
            if body.last().is_some_and(|l| l.is_empty()) {
                body.pop();
            }
        }
        let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in p.section("files").unwrap_or_default() {
            if let Some((path, rest)) = line.split_once(':') {
                files
                    .entry(path.to_string())
                    .or_default()
                    .push(rest.to_string());
            }
        }
        p.files = files;
        p.exists = p
            .section("exists")
            .map(<[String]>::to_vec)
            .unwrap_or_default();
        p
    }

    fn section(&self, name: &str) -> Option<&[String]> {
        self.sections
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, b)| b.as_slice())
    }

    fn file(&self, path: &str) -> Option<&[String]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// The first line of a file, trimmed.
    fn first(&self, path: &str) -> Option<&str> {
        self.file(path).and_then(|l| l.first()).map(|s| s.trim())
    }

    fn exists(&self, path: &str) -> bool {
        self.exists.iter().any(|p| p == path)
    }

    /// Files whose path starts with `prefix`, in path order.
    fn files_under<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a [String])> + 'a {
        self.files
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

/// All facts the probe output supports, for the subsets that ran.
pub fn facts(out: &str, subsets: Subsets) -> Facts {
    let p = Probe::new(out);
    let mut f = Facts::new();
    // Ansible's other collectors depend on `platform` (and `network` on
    // `distribution`), so those facts come with every subset.
    platform(&p, &mut f);
    if subsets.min || subsets.network {
        distribution(&p, &mut f);
    }
    if subsets.min {
        env(&p, &mut f);
        user(&p, &mut f);
        date_time(&p, &mut f);
        python(&p, &mut f);
        lsb(&p, &mut f);
        dns(&p, &mut f);
        security(&p, &mut f);
        cmdline(&p, &mut f);
        ssh_keys(&p, &mut f);
        service_mgr(&p, &mut f);
        pkg_mgr(&p, &mut f);
        local(&p, &mut f);
    }
    if subsets.hardware {
        hardware(&p, &mut f);
    }
    if subsets.network {
        network(&p, &mut f);
    }
    if subsets.virtual_ {
        virtualization(&p, &mut f);
    }
    if subsets.extra {
        extra(&p, &mut f);
    }
    f.sort_keys();
    f
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

/// `KEY=value` lines (os-release, lsb-release), quotes removed.
fn key_values(lines: &[String]) -> BTreeMap<String, String> {
    lines
        .iter()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.replace("\\\"", "\""))
        })
        .collect()
}

fn platform(p: &Probe, f: &mut Facts) {
    let uname = p.section("uname").unwrap_or_default();
    let mut words = uname
        .first()
        .map(|l| l.split_whitespace())
        .into_iter()
        .flatten();
    let system = words.next().unwrap_or("Linux");
    let node = words.next().unwrap_or("");
    let kernel = words.next().unwrap_or("");
    let machine = words.next().unwrap_or("");
    let version = uname.get(1).map(|s| s.trim()).unwrap_or("");
    f.insert("system".into(), s(system));
    f.insert("kernel".into(), s(kernel));
    f.insert("kernel_version".into(), s(version));
    f.insert("machine".into(), s(machine));
    f.insert("nodename".into(), s(node));
    let short = node.split('.').next().unwrap_or(node);
    f.insert("hostname".into(), s(short));
    let fqdn = p
        .section("fqdn")
        .and_then(|l| l.first())
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .unwrap_or(node);
    f.insert("fqdn".into(), s(fqdn));
    let domain = fqdn.split_once('.').map(|(_, d)| d).unwrap_or("");
    f.insert("domain".into(), s(domain));
    let arch = match machine {
        "i386" | "i486" | "i586" | "i686" => "i386",
        m => m,
    };
    f.insert("architecture".into(), s(arch));
    let bits = match machine {
        "x86_64" | "amd64" | "aarch64" | "arm64" | "ppc64" | "ppc64le" | "s390x" | "riscv64"
        | "mips64" | "loongarch64" | "sparc64" => "64",
        _ => "32",
    };
    f.insert("userspace_bits".into(), s(bits));
    f.insert("userspace_architecture".into(), s(arch));
    if let Some((_, ver)) = python_version(p) {
        f.insert("python_version".into(), s(&ver));
    }
    if let Some(id) = p
        .first("/etc/machine-id")
        .or_else(|| p.first("/var/lib/dbus/machine-id"))
        .filter(|s| !s.is_empty())
    {
        f.insert("machine_id".into(), s(id));
    }
}

fn env_map(p: &Probe) -> Map<String, Value> {
    let mut env = Map::new();
    let mut last: Option<String> = None;
    for line in p.section("env").unwrap_or_default() {
        match line.split_once('=') {
            Some((k, v))
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                env.insert(k.to_string(), s(v));
                last = Some(k.to_string());
            }
            _ => {
                // A value spanning lines.
                if let Some(Value::String(v)) = last.as_ref().and_then(|k| env.get_mut(k)) {
                    v.push('\n');
                    v.push_str(line);
                }
            }
        }
    }
    env.sort_keys();
    env
}

fn env(p: &Probe, f: &mut Facts) {
    f.insert("env".into(), Value::Object(env_map(p)));
}

fn user(p: &Probe, f: &mut Facts) {
    let id = p.section("id").unwrap_or_default();
    // `id`: "uid=1000(ann) gid=1000(ann) euid=0(root) groups=...".
    let id_line = id.first().map(String::as_str).unwrap_or("");
    let field = |key: &str| {
        id_line
            .split_whitespace()
            .find_map(|t| t.strip_prefix(key))
            .map(|v| {
                v.split_once('(')
                    .map(|(n, rest)| (n, rest.trim_end_matches(')')))
                    .unwrap_or((v, ""))
            })
    };
    let num = |key: &str| field(key).and_then(|(n, _)| n.parse::<i64>().ok());
    let uid = num("uid=").unwrap_or(-1);
    let gid = num("gid=").unwrap_or(-1);
    let euid = num("euid=").unwrap_or(uid);
    let egid = num("egid=").unwrap_or(gid);
    let id_name = field("uid=")
        .map(|(_, name)| name)
        .filter(|n| !n.is_empty());
    let pw: Vec<&str> = id
        .get(1)
        .map(|l| l.split(':').collect())
        .unwrap_or_default();
    let env = env_map(p);
    let env_user = ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|k| env.get(*k).and_then(Value::as_str));
    let name = pw
        .first()
        .copied()
        .filter(|n| !n.is_empty())
        .or(id_name)
        .or(env_user)
        .map(str::to_string)
        .unwrap_or_else(|| uid.to_string());
    f.insert("user_id".into(), s(&name));
    f.insert("user_uid".into(), json!(uid));
    let pw_gid = pw.get(3).and_then(|g| g.parse::<i64>().ok()).unwrap_or(gid);
    f.insert("user_gid".into(), json!(pw_gid));
    f.insert("user_gecos".into(), s(pw.get(4).copied().unwrap_or("")));
    let home = pw
        .get(5)
        .copied()
        .or_else(|| env.get("HOME").and_then(Value::as_str))
        .unwrap_or("");
    f.insert("user_dir".into(), s(home));
    let shell = pw
        .get(6)
        .copied()
        .or_else(|| env.get("SHELL").and_then(Value::as_str))
        .unwrap_or("");
    f.insert("user_shell".into(), s(shell));
    f.insert("real_user_id".into(), json!(uid));
    f.insert("effective_user_id".into(), json!(euid));
    f.insert("real_group_id".into(), json!(gid));
    f.insert("effective_group_id".into(), json!(egid));
}

fn date_time(p: &Probe, f: &mut Facts) {
    let line = p
        .section("date")
        .and_then(|l| l.first())
        .cloned()
        .unwrap_or_default();
    let mut w = line.split_whitespace();
    let epoch = w.next().and_then(|e| e.parse::<i64>().ok());
    let nanos = w
        .next()
        .filter(|n| n.chars().all(|c| c.is_ascii_digit()))
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    let offset = w.next().unwrap_or("+0000");
    let tz = w.next().unwrap_or("UTC");
    let Some(epoch) = epoch else {
        f.insert("date_time".into(), json!({}));
        return;
    };
    let secs = offset_seconds(offset);
    let Some(off) = FixedOffset::east_opt(secs) else {
        return;
    };
    let Some(utc) = DateTime::from_timestamp(epoch, nanos.min(999_999_999)) else {
        f.insert("date_time".into(), json!({}));
        return;
    };
    let local = utc.with_timezone(&off);
    let micro = local.nanosecond() / 1000;
    let mut d = Map::new();
    let mut put = |k: &str, v: String| {
        d.insert(k.into(), Value::String(v));
    };
    put("year", local.format("%Y").to_string());
    put("month", local.format("%m").to_string());
    put("weekday", local.format("%A").to_string());
    put("weekday_number", local.format("%w").to_string());
    put("weeknumber", local.format("%W").to_string());
    put("day", local.format("%d").to_string());
    put("hour", local.format("%H").to_string());
    put("minute", local.format("%M").to_string());
    put("second", local.format("%S").to_string());
    put("epoch", epoch.to_string());
    put("epoch_int", epoch.to_string());
    put("date", local.format("%Y-%m-%d").to_string());
    put("time", local.format("%H:%M:%S").to_string());
    put(
        "iso8601_micro",
        format!("{}.{micro:06}Z", utc.format("%Y-%m-%dT%H:%M:%S")),
    );
    put("iso8601", utc.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    put(
        "iso8601_basic",
        format!("{}{micro:06}", local.format("%Y%m%dT%H%M%S")),
    );
    put(
        "iso8601_basic_short",
        local.format("%Y%m%dT%H%M%S").to_string(),
    );
    put("tz", tz.to_string());
    put("tz_dst", tz.to_string());
    put("tz_offset", offset.to_string());
    d.sort_keys();
    f.insert("date_time".into(), Value::Object(d));
}

/// `+0530` → 19800.
fn offset_seconds(off: &str) -> i32 {
    let (sign, digits) = match off.as_bytes().first() {
        Some(b'-') => (-1, &off[1..]),
        Some(b'+') => (1, &off[1..]),
        _ => (1, off),
    };
    let h = digits
        .get(..2)
        .and_then(|h| h.parse::<i32>().ok())
        .unwrap_or(0);
    let m = digits
        .get(2..4)
        .and_then(|m| m.parse::<i32>().ok())
        .unwrap_or(0);
    sign * (h * 3600 + m * 60)
}

/// The interpreter's path and `[major, minor, micro]` with its release level.
fn python_parts(p: &Probe) -> Option<(String, [i64; 3], &'static str)> {
    let which = p.section("which")?;
    let exe = which.first()?;
    let ver = which.get(1)?.trim().strip_prefix("Python ")?;
    let mut parts = [0i64; 3];
    for (slot, piece) in parts.iter_mut().zip(ver.split('.')) {
        let digits: String = piece.chars().take_while(char::is_ascii_digit).collect();
        *slot = digits.parse().unwrap_or(0);
    }
    let level = if ver.contains("rc") {
        "candidate"
    } else if ver.contains('a') {
        "alpha"
    } else if ver.contains('b') {
        "beta"
    } else {
        "final"
    };
    Some((exe.clone(), parts, level))
}

/// `python_version` (a `platform` fact): "3.11.2".
fn python_version(p: &Probe) -> Option<(String, String)> {
    let (exe, [a, b, c], _) = python_parts(p)?;
    Some((exe, format!("{a}.{b}.{c}")))
}

fn python(p: &Probe, f: &mut Facts) {
    let Some((exe, [major, minor, micro], level)) = python_parts(p) else {
        return;
    };
    f.insert(
        "python".into(),
        json!({
            "executable": exe,
            "has_sslcontext": true,
            "type": "cpython",
            "version": {
                "major": major, "micro": micro, "minor": minor,
                "releaselevel": level, "serial": 0
            },
            "version_info": [major, minor, micro, level, 0],
        }),
    );
}

/// Ansible's `os_family` for a `distribution` (the same names as its
/// conditionals documentation lists).
fn os_family(dist: &str) -> &str {
    const FAMILIES: &[(&str, &[&str])] = &[
        (
            "RedHat",
            &[
                "RedHat",
                "RHEL",
                "Fedora",
                "CentOS",
                "Scientific",
                "SLC",
                "Ascendos",
                "CloudLinux",
                "PSBM",
                "OracleLinux",
                "OVS",
                "OEL",
                "Amazon",
                "Amzn",
                "Virtuozzo",
                "XenServer",
                "Alibaba",
                "EulerOS",
                "openEuler",
                "AlmaLinux",
                "Rocky",
                "TencentOS",
                "EuroLinux",
                "Kylin Linux Advanced Server",
                "MIRACLE",
            ],
        ),
        (
            "Debian",
            &[
                "Debian",
                "Ubuntu",
                "Raspbian",
                "Neon",
                "KDE neon",
                "Linux Mint",
                "SteamOS",
                "Devuan",
                "Kali",
                "Cumulus Linux",
                "Pop!_OS",
                "Parrot",
                "Pardus GNU/Linux",
                "Uos",
                "Deepin",
                "OSMC",
                "Linux Mint Debian Edition",
            ],
        ),
        (
            "Suse",
            &[
                "SuSE",
                "SLES",
                "SLED",
                "openSUSE",
                "openSUSE Tumbleweed",
                "SLES_SAP",
                "SUSE_LINUX",
                "openSUSE Leap",
                "ALP-Dolomite",
                "SL-Micro",
                "openSUSE MicroOS",
            ],
        ),
        ("Archlinux", &["Archlinux", "Antergos", "Manjaro"]),
        ("Mandrake", &["Mandrake", "Mandriva"]),
        ("Slackware", &["Slackware"]),
        ("Altlinux", &["Altlinux"]),
        ("Gentoo", &["Gentoo", "Funtoo"]),
        ("Alpine", &["Alpine"]),
        ("ClearLinux", &["Clear Linux OS", "Clear Linux Mix"]),
    ];
    FAMILIES
        .iter()
        .find(|(_, names)| names.contains(&dist))
        .map(|(fam, _)| *fam)
        .unwrap_or(dist)
}

/// Ansible's `distribution` for an os-release `ID`.
fn dist_name(id: &str) -> String {
    let known = [
        ("debian", "Debian"),
        ("ubuntu", "Ubuntu"),
        ("raspbian", "Raspbian"),
        ("linuxmint", "Linux Mint"),
        ("kali", "Kali"),
        ("devuan", "Devuan"),
        ("pop", "Pop!_OS"),
        ("neon", "KDE neon"),
        ("centos", "CentOS"),
        ("rhel", "RedHat"),
        ("fedora", "Fedora"),
        ("rocky", "Rocky"),
        ("almalinux", "AlmaLinux"),
        ("ol", "OracleLinux"),
        ("amzn", "Amazon"),
        ("sles", "SLES"),
        ("sles_sap", "SLES_SAP"),
        ("sled", "SLED"),
        ("opensuse", "openSUSE"),
        ("opensuse-leap", "openSUSE Leap"),
        ("opensuse-tumbleweed", "openSUSE Tumbleweed"),
        ("opensuse-microos", "openSUSE MicroOS"),
        ("arch", "Archlinux"),
        ("archarm", "Archlinux"),
        ("manjaro", "Manjaro"),
        ("alpine", "Alpine"),
        ("gentoo", "Gentoo"),
        ("clear-linux-os", "Clear Linux OS"),
        ("nixos", "NixOS"),
        ("void", "Void"),
        ("flatcar", "Flatcar"),
        ("openeuler", "openEuler"),
        ("cloudlinux", "CloudLinux"),
        ("eurolinux", "EuroLinux"),
        ("virtuozzo", "Virtuozzo"),
        ("xenenterprise", "XenServer"),
        ("steamos", "SteamOS"),
        ("parrot", "Parrot"),
    ];
    known
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| {
            let mut c = id.chars();
            c.next()
                .map(|first| first.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        })
}

fn distribution(p: &Probe, f: &mut Facts) {
    let (path, lines) = match p.file("/etc/os-release") {
        Some(l) => ("/etc/os-release", l),
        None => (
            "/usr/lib/os-release",
            p.file("/usr/lib/os-release").unwrap_or_default(),
        ),
    };
    let osr = key_values(lines);
    let mut version = osr.get("VERSION_ID").cloned().unwrap_or_default();
    let mut release = osr
        .get("VERSION_CODENAME")
        .or_else(|| osr.get("UBUNTU_CODENAME"))
        .cloned()
        .unwrap_or_default();
    let mut dist = osr.get("ID").map(|id| dist_name(id)).unwrap_or_default();
    let mut variety = String::new();
    let mut file_path = String::new();
    let mut minor: Option<String> = None;
    if !dist.is_empty() {
        file_path = path.to_string();
        variety = match os_family(&dist) {
            "Debian" => "Debian",
            "Suse" => "SUSE",
            "Archlinux" => "Archlinux",
            "Alpine" => "Alpine",
            "Gentoo" => "Gentoo",
            "ClearLinux" => "ClearLinux",
            _ if dist == "Amazon" => "Amazon",
            "RedHat" => "RedHat",
            _ => "NA",
        }
        .to_string();
    }
    // Files more precise than os-release.
    if dist == "Debian" {
        if let Some(dv) = p.first("/etc/debian_version")
            && let Some((maj, min)) = dv.split_once('.')
            && maj.chars().all(|c| c.is_ascii_digit())
        {
            let min: String = min.chars().take_while(char::is_ascii_digit).collect();
            if !min.is_empty() {
                version = format!("{maj}.{min}");
                minor = Some(min);
            }
        }
    } else if dist == "Alpine" {
        if let Some(v) = p.first("/etc/alpine-release") {
            version = v.to_string();
            file_path = "/etc/alpine-release".into();
        }
        if release.is_empty() {
            release = "NA".into();
        }
    } else if variety == "RedHat"
        && let Some(rel) = p.first("/etc/redhat-release")
    {
        file_path = "/etc/redhat-release".into();
        if release.is_empty()
            && let Some(code) = rel.split_once('(').and_then(|(_, r)| r.split(')').next())
        {
            release = code.to_string();
        }
    }
    if dist.is_empty() {
        // No os-release: older distribution files, else the kernel's name.
        if let Some(rel) = p.first("/etc/alpine-release") {
            dist = "Alpine".into();
            version = rel.to_string();
            file_path = "/etc/alpine-release".into();
            variety = "Alpine".into();
        } else if p.exists("/etc/arch-release") {
            dist = "Archlinux".into();
            file_path = "/etc/arch-release".into();
            variety = "Archlinux".into();
        } else if let Some(dv) = p.first("/etc/debian_version") {
            dist = "Debian".into();
            version = dv.to_string();
            file_path = "/etc/debian_version".into();
            variety = "Debian".into();
        } else {
            dist = p
                .section("uname")
                .and_then(|l| l.first())
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or("Linux")
                .to_string();
        }
    }
    if version.is_empty() {
        version = "NA".into();
    }
    if release.is_empty() {
        release = "NA".into();
    }
    let major = version.split('.').next().unwrap_or(&version).to_string();
    if minor.is_none() {
        minor = version.split('.').nth(1).map(str::to_string);
    }
    f.insert("os_family".into(), s(os_family(&dist)));
    f.insert("distribution".into(), s(&dist));
    f.insert("distribution_version".into(), s(&version));
    f.insert("distribution_major_version".into(), s(&major));
    if let Some(m) = minor {
        f.insert("distribution_minor_version".into(), s(&m));
    }
    f.insert("distribution_release".into(), s(&release));
    if !file_path.is_empty() {
        f.insert("distribution_file_path".into(), s(&file_path));
        f.insert("distribution_file_variety".into(), s(&variety));
        f.insert("distribution_file_parsed".into(), json!(true));
    }
}

fn lsb(p: &Probe, f: &mut Facts) {
    let mut m = Map::new();
    if let Some(lines) = p.file("/etc/lsb-release") {
        let kv = key_values(lines);
        for (src, dst) in [
            ("DISTRIB_ID", "id"),
            ("DISTRIB_RELEASE", "release"),
            ("DISTRIB_DESCRIPTION", "description"),
            ("DISTRIB_CODENAME", "codename"),
        ] {
            if let Some(v) = kv.get(src) {
                m.insert(dst.into(), s(v));
            }
        }
    } else if p
        .section("lsb_release")
        .is_some_and(|l| l.iter().any(|l| !l.trim().is_empty()))
    {
        // `lsb_release` derives its answers from os-release: do the same
        // without running it.
        let osr = key_values(
            p.file("/etc/os-release")
                .or_else(|| p.file("/usr/lib/os-release"))
                .unwrap_or_default(),
        );
        let id = osr
            .get("NAME")
            .and_then(|n| n.split_whitespace().next())
            .map(str::to_string)
            .or_else(|| osr.get("ID").cloned());
        for (dst, v) in [
            ("id", id),
            ("description", osr.get("PRETTY_NAME").cloned()),
            ("release", osr.get("VERSION_ID").cloned()),
            ("codename", osr.get("VERSION_CODENAME").cloned()),
        ] {
            if let Some(v) = v {
                m.insert(dst.into(), s(&v));
            }
        }
    }
    if let Some(rel) = m.get("release").and_then(Value::as_str) {
        let major = rel.split('.').next().unwrap_or(rel).to_string();
        m.insert("major_release".into(), s(&major));
    }
    m.sort_keys();
    f.insert("lsb".into(), Value::Object(m));
}

fn dns(p: &Probe, f: &mut Facts) {
    let mut d = Map::new();
    for line in p.file("/etc/resolv.conf").unwrap_or_default() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let mut w = line.split_whitespace();
        let (Some(key), rest) = (w.next(), w.collect::<Vec<_>>()) else {
            continue;
        };
        match key {
            "nameserver" => {
                if let Some(ns) = rest.first() {
                    push(&mut d, "nameservers", s(ns));
                }
            }
            "domain" => {
                if let Some(dom) = rest.first() {
                    d.insert("domain".into(), s(dom));
                }
            }
            "search" | "sortlist" => {
                d.insert(key.into(), json!(rest));
            }
            "options" => {
                let mut opts = Map::new();
                for o in rest {
                    match o.split_once(':') {
                        Some((k, v)) => opts.insert(k.into(), s(v)),
                        None => opts.insert(o.into(), json!(true)),
                    };
                }
                d.insert("options".into(), Value::Object(opts));
            }
            _ => {}
        }
    }
    f.insert("dns".into(), Value::Object(d));
}

fn push(m: &mut Map<String, Value>, key: &str, v: Value) {
    if let Value::Array(a) = m.entry(key).or_insert_with(|| json!([])) {
        a.push(v);
    }
}

fn security(p: &Probe, f: &mut Facts) {
    f.insert(
        "fips".into(),
        json!(p.first("/proc/sys/crypto/fips_enabled") == Some("1")),
    );
    let apparmor = if p.exists("/sys/kernel/security/apparmor") {
        "enabled"
    } else {
        "disabled"
    };
    f.insert("apparmor".into(), json!({ "status": apparmor }));
    let selinux = match p.first("/sys/fs/selinux/enforce") {
        None => json!({ "status": "disabled" }),
        Some(enforce) => {
            let cfg = key_values(p.file("/etc/selinux/config").unwrap_or_default());
            let mode = if enforce == "1" {
                "enforcing"
            } else {
                "permissive"
            };
            let mut m = Map::new();
            m.insert("status".into(), s("enabled"));
            m.insert("mode".into(), s(mode));
            if let Some(c) = cfg.get("SELINUX") {
                m.insert("config_mode".into(), s(c));
            }
            if let Some(t) = cfg.get("SELINUXTYPE") {
                m.insert("type".into(), s(t));
            }
            if let Some(v) = p
                .first("/sys/fs/selinux/policyvers")
                .and_then(|v| v.parse::<i64>().ok())
            {
                m.insert("policyvers".into(), json!(v));
            }
            m.sort_keys();
            Value::Object(m)
        }
    };
    f.insert("selinux".into(), selinux);
    f.insert("selinux_python_present".into(), json!(true));
}

/// Splits a command line the way Python's `shlex.split` does for the
/// simple cases a kernel command line has (quotes, backslashes).
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

fn cmdline(p: &Probe, f: &mut Facts) {
    let Some(line) = p.first("/proc/cmdline") else {
        return;
    };
    let mut last = Map::new();
    let mut all = Map::new();
    for word in split_words(line) {
        let (k, v) = match word.split_once('=') {
            Some((k, v)) => (k.to_string(), s(v)),
            None => (word.clone(), json!(true)),
        };
        last.insert(k.clone(), v.clone());
        match all.get_mut(&k) {
            None => {
                all.insert(k, v);
            }
            Some(Value::Array(a)) => a.push(v),
            Some(old) => *old = json!([old.clone(), v]),
        }
    }
    last.sort_keys();
    all.sort_keys();
    f.insert("cmdline".into(), Value::Object(last));
    f.insert("proc_cmdline".into(), Value::Object(all));
}

fn ssh_keys(p: &Probe, f: &mut Facts) {
    for (path, lines) in p.files_under("/etc/ssh/ssh_host_") {
        let Some(kind) = path
            .strip_prefix("/etc/ssh/ssh_host_")
            .and_then(|k| k.strip_suffix("_key.pub"))
        else {
            continue;
        };
        let mut w = lines
            .first()
            .map(|l| l.split_whitespace())
            .into_iter()
            .flatten();
        if let (Some(t), Some(key)) = (w.next(), w.next()) {
            f.insert(format!("ssh_host_key_{kind}_public"), s(key));
            f.insert(format!("ssh_host_key_{kind}_public_keytype"), s(t));
        }
    }
}

fn service_mgr(p: &Probe, f: &mut Facts) {
    let proc1 = p
        .first("/proc/1/comm")
        .map(|c| c.rsplit('/').next().unwrap_or(c).trim())
        .filter(|c| !c.is_empty() && *c != "init" && !c.ends_with("sh"));
    let name = match proc1 {
        Some("procd") => "openwrt_init".to_string(),
        Some("runit-init") => "runit".to_string(),
        Some("svscan") => "svc".to_string(),
        Some("openrc-init") => "openrc".to_string(),
        Some(other) => other.to_string(),
        None => {
            let systemctl = p.exists("/usr/bin/systemctl") || p.exists("/bin/systemctl");
            let booted = ["/run/systemd/system", "/dev/.run/systemd", "/dev/.systemd"]
                .iter()
                .any(|d| p.exists(d));
            if systemctl && booted {
                "systemd"
            } else if p.exists("/sbin/initctl") && p.exists("/etc/init") {
                "upstart"
            } else if p.exists("/sbin/openrc") {
                "openrc"
            } else if p.exists("/etc/init.d") {
                "sysvinit"
            } else {
                "service"
            }
            .to_string()
        }
    };
    f.insert("service_mgr".into(), s(&name));
}

fn pkg_mgr(p: &Probe, f: &mut Facts) {
    let order = [
        ("/usr/bin/rpm-ostree", "atomic_container"),
        ("/usr/bin/dnf5", "dnf5"),
        ("/usr/bin/dnf", "dnf"),
        ("/usr/bin/yum", "yum"),
        ("/usr/bin/apt-get", "apt"),
        ("/usr/bin/zypper", "zypper"),
        ("/usr/sbin/urpmi", "urpmi"),
        ("/usr/bin/pacman", "pacman"),
        ("/bin/opkg", "opkg"),
        ("/sbin/apk", "apk"),
        ("/usr/bin/emerge", "portage"),
        ("/usr/bin/xbps-install", "xbps"),
        ("/usr/bin/swupd", "swupd"),
    ];
    let mgr = order
        .iter()
        .find(|(path, _)| p.exists(path))
        .map(|(_, n)| *n)
        .unwrap_or("unknown");
    f.insert("pkg_mgr".into(), s(mgr));
}

fn local(p: &Probe, f: &mut Facts) {
    let mut local = Map::new();
    let mut i = 0;
    while i < p.sections.len() {
        let (kind, path, body) = &p.sections[i];
        i += 1;
        let exec = kind == "fact_exec";
        if !exec && kind != "fact_file" {
            continue;
        }
        let name = path
            .rsplit('/')
            .next()
            .unwrap_or(path)
            .trim_end_matches(".fact")
            .to_string();
        let text = body.join("\n");
        if exec {
            let rc = p
                .sections
                .get(i)
                .filter(|(k, _, _)| k == "fact_rc")
                .and_then(|(_, rc, _)| rc.trim().parse::<i32>().ok())
                .unwrap_or(0);
            if rc != 0 {
                local.insert(
                    name,
                    s(&format!(
                        "Failure executing fact script ({path}), rc: {rc}, err: "
                    )),
                );
                continue;
            }
        }
        let value = serde_json::from_str::<Value>(&text)
            .ok()
            .or_else(|| parse_ini(&text))
            .unwrap_or_else(|| {
                s(&format!(
                    "error loading facts as JSON or ini - please check content: {path}"
                ))
            });
        local.insert(name, value);
    }
    local.sort_keys();
    f.insert("local".into(), Value::Object(local));
}

/// INI as Python's `configparser` reads it: `{section: {key: value}}`
/// with keys lowercased; `None` when the text is not INI.
fn parse_ini(text: &str) -> Option<Value> {
    let mut out = Map::new();
    let mut section: Option<String> = None;
    let mut last_key: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.entry(name.to_string()).or_insert_with(|| json!({}));
            section = Some(name.to_string());
            last_key = None;
            continue;
        }
        let sec = section.as_ref()?;
        let table = out.get_mut(sec).and_then(Value::as_object_mut)?;
        if raw.starts_with([' ', '\t'])
            && let Some(Value::String(v)) = last_key.as_ref().and_then(|k| table.get_mut(k))
        {
            v.push('\n');
            v.push_str(line);
            continue;
        }
        let cut = line.find(['=', ':'])?;
        let key = line[..cut].trim().to_lowercase();
        let value = line[cut + 1..].trim();
        table.insert(key.clone(), s(value));
        last_key = Some(key);
    }
    for v in out.values_mut() {
        if let Value::Object(m) = v {
            m.sort_keys();
        }
    }
    Some(Value::Object(out))
}

const DMI: &str = "/sys/devices/virtual/dmi/id/";

fn dmi(p: &Probe, name: &str) -> String {
    p.first(&format!("{DMI}{name}"))
        .filter(|v| !v.is_empty())
        .unwrap_or("NA")
        .to_string()
}

/// SMBIOS chassis types (DMTF DSP0134, 7.4.1).
const CHASSIS: &[&str] = &[
    "Unknown",
    "Other",
    "Unknown",
    "Desktop",
    "Low Profile Desktop",
    "Pizza Box",
    "Mini Tower",
    "Tower",
    "Portable",
    "Laptop",
    "Notebook",
    "Hand Held",
    "Docking Station",
    "All In One",
    "Sub Notebook",
    "Space-saving",
    "Lunch Box",
    "Main Server Chassis",
    "Expansion Chassis",
    "Sub Chassis",
    "Bus Expansion Chassis",
    "Peripheral Chassis",
    "RAID Chassis",
    "Rack Mount Chassis",
    "Sealed-case PC",
    "Multi-system",
    "CompactPCI",
    "AdvancedTCA",
    "Blade",
    "Blade Enclosure",
    "Tablet",
    "Convertible",
    "Detachable",
    "IoT Gateway",
    "Embedded PC",
    "Mini PC",
    "Stick PC",
];

fn hardware(p: &Probe, f: &mut Facts) {
    memory(p, f);
    processor(p, f);
    mounts(p, f);
    if let Some(up) = p
        .first("/proc/uptime")
        .and_then(|u| u.split_whitespace().next())
        .and_then(|u| u.parse::<f64>().ok())
    {
        f.insert("uptime_seconds".into(), json!(up as i64));
    }
    for (fact, file) in [
        ("bios_date", "bios_date"),
        ("bios_vendor", "bios_vendor"),
        ("bios_version", "bios_version"),
        ("board_asset_tag", "board_asset_tag"),
        ("board_name", "board_name"),
        ("board_serial", "board_serial"),
        ("board_vendor", "board_vendor"),
        ("board_version", "board_version"),
        ("chassis_asset_tag", "chassis_asset_tag"),
        ("chassis_serial", "chassis_serial"),
        ("chassis_vendor", "chassis_vendor"),
        ("chassis_version", "chassis_version"),
        ("product_name", "product_name"),
        ("product_serial", "product_serial"),
        ("product_uuid", "product_uuid"),
        ("product_version", "product_version"),
        ("system_vendor", "sys_vendor"),
    ] {
        f.insert(fact.into(), s(&dmi(p, file)));
    }
    let form = dmi(p, "chassis_type")
        .parse::<usize>()
        .ok()
        .and_then(|i| CHASSIS.get(i))
        .copied()
        .unwrap_or("NA");
    f.insert("form_factor".into(), s(form));
}

fn memory(p: &Probe, f: &mut Facts) {
    let Some(lines) = p.file("/proc/meminfo") else {
        return;
    };
    let mut mi = BTreeMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':')
            && let Some(kb) = v
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<i64>().ok())
        {
            mi.insert(k.trim().to_string(), kb / 1024);
        }
    }
    let g = |k: &str| mi.get(k).copied().unwrap_or(0);
    let (total, free) = (g("MemTotal"), g("MemFree"));
    let (swap_total, swap_free) = (g("SwapTotal"), g("SwapFree"));
    let nocache_free = free + g("Buffers") + g("Cached");
    f.insert("memtotal_mb".into(), json!(total));
    f.insert("memfree_mb".into(), json!(free));
    f.insert("swaptotal_mb".into(), json!(swap_total));
    f.insert("swapfree_mb".into(), json!(swap_free));
    f.insert(
        "memory_mb".into(),
        json!({
            "nocache": {"free": nocache_free, "used": total - nocache_free},
            "real": {"free": free, "total": total, "used": total - free},
            "swap": {
                "cached": g("SwapCached"), "free": swap_free,
                "total": swap_total, "used": swap_total - swap_free
            },
        }),
    );
}

fn processor(p: &Probe, f: &mut Facts) {
    let Some(lines) = p.section("cpuinfo") else {
        return;
    };
    let mut list: Vec<Value> = Vec::new();
    let mut count = 0i64;
    let mut sockets = std::collections::BTreeSet::new();
    let (mut cores, mut siblings) = (None::<i64>, None::<i64>);
    let mut flags: Vec<Value> = Vec::new();
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => {
                count += 1;
                list.push(s(v));
            }
            "vendor_id" | "model name" | "Processor" | "cpu model" => list.push(s(v)),
            "physical id" => {
                sockets.insert(v.to_string());
            }
            "cpu cores" => cores = v.parse().ok(),
            "siblings" => siblings = v.parse().ok(),
            "flags" | "Features" => flags = v.split_whitespace().map(s).collect(),
            _ => {}
        }
    }
    let (sockets_n, cores_n, threads) = if sockets.is_empty() {
        (count.max(1), 1, 1)
    } else {
        let c = cores.unwrap_or(1).max(1);
        let t = siblings.map(|sib| (sib / c).max(1)).unwrap_or(1);
        (sockets.len() as i64, c, t)
    };
    let nproc = p
        .section("nproc")
        .and_then(|l| l.first())
        .and_then(|n| n.trim().parse::<i64>().ok())
        .unwrap_or(count);
    f.insert("processor".into(), Value::Array(list));
    f.insert("processor_count".into(), json!(sockets_n));
    f.insert("processor_cores".into(), json!(cores_n));
    f.insert("processor_threads_per_core".into(), json!(threads));
    f.insert(
        "processor_vcpus".into(),
        json!(if sockets.is_empty() {
            count
        } else {
            threads * cores_n * sockets_n
        }),
    );
    f.insert("processor_nproc".into(), json!(nproc));
    if !flags.is_empty() {
        f.insert("flags".into(), Value::Array(flags));
    }
}

/// `/proc/mounts` escapes blanks and backslashes as `\ooo`.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn mounts(p: &Probe, f: &mut Facts) {
    let Some(lines) = p.file("/proc/mounts") else {
        return;
    };
    // statfs: "bsize frsize blocks bfree bavail files ffree NAME".
    let mut stats: BTreeMap<String, [i64; 7]> = BTreeMap::new();
    for line in p.section("statfs").unwrap_or_default() {
        let mut parts = line.splitn(8, ' ');
        let mut nums = [0i64; 7];
        let ok = nums.iter_mut().all(|n| {
            parts
                .next()
                .and_then(|v| v.parse().ok())
                .map(|v| *n = v)
                .is_some()
        });
        if let (true, Some(name)) = (ok, parts.next()) {
            stats.insert(name.to_string(), nums);
        }
    }
    // uuids: `ls -l` lines "... UUID -> ../../vda1".
    let mut uuids: BTreeMap<String, String> = BTreeMap::new();
    for line in p.section("uuids").unwrap_or_default() {
        if let Some((left, target)) = line.split_once(" -> ")
            && let Some(uuid) = left.split_whitespace().last()
        {
            let dev = target.rsplit('/').next().unwrap_or(target);
            uuids.insert(dev.to_string(), uuid.to_string());
        }
    }
    let mut out = Vec::new();
    for line in lines {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 4 {
            continue;
        }
        let device = unescape_octal(w[0]);
        let mount = unescape_octal(w[1]);
        let fstype = unescape_octal(w[2]);
        if (!device.starts_with('/') && !device.contains(":/")) || fstype == "none" {
            continue;
        }
        let num = |i: usize| w.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        let mut m = Map::new();
        m.insert("device".into(), s(&device));
        m.insert("dump".into(), json!(num(4)));
        m.insert("fstype".into(), s(&fstype));
        m.insert("mount".into(), s(&mount));
        m.insert("options".into(), s(&unescape_octal(w[3])));
        m.insert("passno".into(), json!(num(5)));
        let dev_name = device.rsplit('/').next().unwrap_or(&device);
        m.insert(
            "uuid".into(),
            s(uuids.get(dev_name).map(String::as_str).unwrap_or("N/A")),
        );
        if let Some([bsize, frsize, blocks, bfree, bavail, files, ffree]) =
            stats.get(&mount).copied()
        {
            m.insert("block_available".into(), json!(bavail));
            m.insert("block_size".into(), json!(bsize));
            m.insert("block_total".into(), json!(blocks));
            m.insert("block_used".into(), json!(blocks - bfree));
            m.insert("inode_available".into(), json!(ffree));
            m.insert("inode_total".into(), json!(files));
            m.insert("inode_used".into(), json!(files - ffree));
            m.insert("size_available".into(), json!(frsize * bavail));
            m.insert("size_total".into(), json!(frsize * blocks));
        }
        m.sort_keys();
        out.push(Value::Object(m));
    }
    f.insert("mounts".into(), Value::Array(out));
}

/// One IPv4 address of an interface.
#[derive(Debug, Clone)]
struct V4 {
    address: Ipv4Addr,
    prefix: u8,
    broadcast: Option<String>,
}

impl V4 {
    fn netmask(&self) -> Ipv4Addr {
        let bits = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix.min(32)))
        };
        Ipv4Addr::from(bits)
    }

    fn to_json(&self) -> Value {
        let network = Ipv4Addr::from(u32::from(self.address) & u32::from(self.netmask()));
        json!({
            "address": self.address.to_string(),
            "broadcast": self.broadcast.clone().unwrap_or_default(),
            "netmask": self.netmask().to_string(),
            "network": network.to_string(),
            "prefix": self.prefix.to_string(),
        })
    }
}

#[derive(Debug, Clone)]
struct V6 {
    address: String,
    prefix: u8,
    scope: String,
}

#[derive(Debug, Default)]
struct Iface {
    v4: Vec<V4>,
    v6: Vec<V6>,
}

fn netmask_prefix(mask: Ipv4Addr) -> u8 {
    u32::from(mask).count_ones() as u8
}

/// Addresses from `ip -o addr`, `ifconfig -a`, or `/proc` as a last resort.
fn addresses(p: &Probe) -> BTreeMap<String, Iface> {
    let mut ifs: BTreeMap<String, Iface> = BTreeMap::new();
    if let Some(lines) = p.section("ip_addr") {
        for line in lines {
            let w: Vec<&str> = line.split_whitespace().collect();
            let (Some(name), Some(fam), Some(cidr)) = (w.get(1), w.get(2), w.get(3)) else {
                continue;
            };
            let name = name.split('@').next().unwrap_or(name).to_string();
            let (addr, prefix) = cidr.split_once('/').unwrap_or((cidr, "0"));
            let prefix = prefix.parse::<u8>().unwrap_or(0);
            let after = |key: &str| {
                w.iter()
                    .position(|x| *x == key)
                    .and_then(|i| w.get(i + 1))
                    .map(|v| v.to_string())
            };
            let entry = ifs.entry(name).or_default();
            match *fam {
                "inet" => {
                    if let Ok(address) = addr.parse() {
                        entry.v4.push(V4 {
                            address,
                            prefix,
                            broadcast: after("brd"),
                        });
                    }
                }
                "inet6" => entry.v6.push(V6 {
                    address: addr.to_string(),
                    prefix,
                    scope: after("scope").unwrap_or_else(|| "global".into()),
                }),
                _ => {}
            }
        }
        return ifs;
    }
    if let Some(lines) = p.section("ifconfig") {
        let mut cur: Option<String> = None;
        for line in lines {
            if !line.starts_with([' ', '\t']) && !line.trim().is_empty() {
                cur = line
                    .split_whitespace()
                    .next()
                    .map(|n| n.trim_end_matches(':').to_string());
                if let Some(n) = &cur {
                    ifs.entry(n.clone()).or_default();
                }
            }
            let Some(name) = &cur else { continue };
            let w: Vec<&str> = line.split_whitespace().collect();
            // busybox: `addr:1.2.3.4 Bcast:.. Mask:..`; net-tools 2: `netmask ..`.
            let find = |prefix: &str, word: &str| -> Option<String> {
                w.iter().enumerate().find_map(|(i, x)| {
                    x.strip_prefix(prefix)
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                        .or_else(|| {
                            (*x == word)
                                .then(|| w.get(i + 1).map(|v| v.to_string()))
                                .flatten()
                        })
                })
            };
            let entry = ifs.entry(name.clone()).or_default();
            if w.first() == Some(&"inet") {
                let addr = find("addr:", "\0").or_else(|| w.get(1).map(|v| v.to_string()));
                let mask = find("Mask:", "netmask");
                if let Some(address) = addr.and_then(|a| a.parse::<Ipv4Addr>().ok()) {
                    let prefix = mask
                        .and_then(|m| m.parse::<Ipv4Addr>().ok())
                        .map(netmask_prefix)
                        .unwrap_or(32);
                    entry.v4.push(V4 {
                        address,
                        prefix,
                        broadcast: find("Bcast:", "broadcast"),
                    });
                }
            }
        }
    } else if let Some(trie) = p.file("/proc/net/fib_trie") {
        // Local addresses are leaves followed by "/32 host LOCAL"; the
        // interface and prefix come from the link routes in /proc/net/route.
        let routes = route_table(p);
        let mut prev: Option<Ipv4Addr> = None;
        let mut seen = std::collections::BTreeSet::new();
        for line in trie {
            let t = line.trim();
            if let Some(a) = t.strip_prefix("|-- ") {
                prev = a.parse().ok();
            } else if t.starts_with("/32 host LOCAL")
                && let Some(addr) = prev
                && seen.insert(addr)
            {
                let found = routes.iter().find(|r| {
                    r.gateway.is_unspecified()
                        && u32::from(r.mask) != 0
                        && u32::from(addr) & u32::from(r.mask) == u32::from(r.dest)
                });
                let (name, prefix) = match found {
                    Some(r) => (r.iface.clone(), netmask_prefix(r.mask)),
                    None if addr.is_loopback() => ("lo".to_string(), 8),
                    None => continue,
                };
                ifs.entry(name).or_default().v4.push(V4 {
                    address: addr,
                    prefix,
                    broadcast: None,
                });
            }
        }
    }
    // IPv6 from the kernel's table when `ip` was not there.
    for line in p.file("/proc/net/if_inet6").unwrap_or_default() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 6 {
            continue;
        }
        let Ok(bits) = u128::from_str_radix(w[0], 16) else {
            continue;
        };
        let scope = match u8::from_str_radix(w[3], 16).unwrap_or(0) {
            0x10 => "host",
            0x20 => "link",
            0x40 => "site",
            _ => "global",
        };
        ifs.entry(w[5].to_string()).or_default().v6.push(V6 {
            address: Ipv6Addr::from(bits).to_string(),
            prefix: u8::from_str_radix(w[2], 16).unwrap_or(0),
            scope: scope.into(),
        });
    }
    // `ip` lists global addresses before link-local ones: do the same.
    let rank = |s: &str| match s {
        "global" => 0,
        "site" => 1,
        "link" => 2,
        _ => 3,
    };
    for i in ifs.values_mut() {
        i.v6.sort_by_key(|v| rank(&v.scope));
    }
    ifs
}

struct Route {
    iface: String,
    dest: Ipv4Addr,
    gateway: Ipv4Addr,
    mask: Ipv4Addr,
}

/// `/proc/net/route`: little-endian hex addresses.
fn route_table(p: &Probe) -> Vec<Route> {
    let hex = |h: &str| {
        u32::from_str_radix(h, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.swap_bytes()))
    };
    p.file("/proc/net/route")
        .unwrap_or_default()
        .iter()
        .filter_map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            Some(Route {
                iface: w.first()?.to_string(),
                dest: hex(w.get(1)?)?,
                gateway: hex(w.get(2)?)?,
                mask: hex(w.get(7)?)?,
            })
        })
        .collect()
}

fn network(p: &Probe, f: &mut Facts) {
    let addrs = addresses(p);
    let mut names: Vec<String> = Vec::new();
    for (path, _) in p.files_under("/sys/class/net/") {
        if let Some(name) = path
            .strip_prefix("/sys/class/net/")
            .and_then(|r| r.split('/').next())
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_string());
        }
    }
    for name in addrs.keys() {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names.sort();
    let mut all4 = Vec::new();
    let mut all6 = Vec::new();
    let mut per: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for name in &names {
        let sys = |file: &str| p.first(&format!("/sys/class/net/{name}/{file}"));
        let mut m = Map::new();
        m.insert("device".into(), s(name));
        m.insert(
            "active".into(),
            json!(sys("operstate").map(|o| o != "down").unwrap_or(true)),
        );
        if let Some(mac) = sys("address").filter(|a| !a.is_empty() && *a != "00:00:00:00:00:00") {
            m.insert("macaddress".into(), s(mac));
        }
        if let Some(mtu) = sys("mtu").and_then(|v| v.parse::<i64>().ok()) {
            m.insert("mtu".into(), json!(mtu));
        }
        if let Some(flags) =
            sys("flags").and_then(|v| i64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        {
            m.insert("promisc".into(), json!(flags & 0x100 != 0));
        }
        if let Some(speed) = sys("speed").and_then(|v| v.parse::<i64>().ok()) {
            m.insert("speed".into(), json!(speed));
        }
        let kind = if sys("bridge/bridge_id").is_some() {
            "bridge"
        } else if sys("bonding/mode").is_some() {
            "bonding"
        } else {
            match sys("type") {
                Some("1") => "ether",
                Some("772") => "loopback",
                Some("512") => "ppp",
                Some(_) => "unknown",
                None if name == "lo" => "loopback",
                None => "unknown",
            }
        };
        m.insert("type".into(), s(kind));
        if let Some(a) = addrs.get(name) {
            if let Some((first, rest)) = a.v4.split_first() {
                m.insert("ipv4".into(), first.to_json());
                if !rest.is_empty() {
                    m.insert(
                        "ipv4_secondaries".into(),
                        Value::Array(rest.iter().map(V4::to_json).collect()),
                    );
                }
            }
            if !a.v6.is_empty() {
                let v6: Vec<Value> = a
                    .v6
                    .iter()
                    .map(|v| {
                        json!({"address": v.address, "prefix": v.prefix.to_string(), "scope": v.scope})
                    })
                    .collect();
                m.insert("ipv6".into(), Value::Array(v6));
            }
            if kind != "loopback" {
                all4.extend(
                    a.v4.iter()
                        .filter(|v| !v.address.is_loopback())
                        .map(|v| s(&v.address.to_string())),
                );
                all6.extend(
                    a.v6.iter()
                        .filter(|v| v.address != "::1")
                        .map(|v| s(&v.address)),
                );
            }
        }
        m.sort_keys();
        per.insert(name.clone(), m);
    }
    // Default IPv4 route.
    let mut d4 = Map::new();
    if let Some(r) = route_table(p)
        .into_iter()
        .find(|r| r.dest.is_unspecified() && r.mask.is_unspecified())
    {
        d4.insert("gateway".into(), s(&r.gateway.to_string()));
        d4.insert("interface".into(), s(&r.iface));
        d4.insert("alias".into(), s(&r.iface));
        if let Some(i) = per.get(&r.iface) {
            if let Some(Value::Object(v4)) = i.get("ipv4") {
                for (k, v) in v4 {
                    d4.insert(k.clone(), v.clone());
                }
            }
            for k in ["macaddress", "mtu", "type"] {
                if let Some(v) = i.get(k) {
                    d4.insert(k.into(), v.clone());
                }
            }
        }
        d4.sort_keys();
    }
    // Default IPv6 route: ::/0 with a next hop.
    let mut d6 = Map::new();
    for line in p.file("/proc/net/ipv6_route").unwrap_or_default() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 10 || w[1] != "00" || w[0].chars().any(|c| c != '0') || w[9] == "lo" {
            continue;
        }
        let Ok(gw) = u128::from_str_radix(w[4], 16) else {
            continue;
        };
        if gw == 0 {
            continue;
        }
        d6.insert("gateway".into(), s(&Ipv6Addr::from(gw).to_string()));
        d6.insert("interface".into(), s(w[9]));
        if let Some(a) = addrs.get(w[9])
            && let Some(v) = a.v6.iter().find(|v| v.scope == "global").or(a.v6.first())
        {
            d6.insert("address".into(), s(&v.address));
            d6.insert("prefix".into(), s(&v.prefix.to_string()));
            d6.insert("scope".into(), s(&v.scope));
        }
        if let Some(i) = per.get(w[9]) {
            for k in ["macaddress", "mtu", "type"] {
                if let Some(v) = i.get(k) {
                    d6.insert(k.into(), v.clone());
                }
            }
        }
        d6.sort_keys();
        break;
    }
    f.insert("interfaces".into(), json!(names));
    f.insert("all_ipv4_addresses".into(), Value::Array(all4));
    f.insert("all_ipv6_addresses".into(), Value::Array(all6));
    f.insert("default_ipv4".into(), Value::Object(d4));
    f.insert("default_ipv6".into(), Value::Object(d6));
    for (name, m) in per {
        f.insert(name.replace('-', "_"), Value::Object(m));
    }
}

fn virtualization(p: &Probe, f: &mut Facts) {
    let mut guest: Vec<&str> = Vec::new();
    let mut host: Vec<&str> = Vec::new();
    let mut found: Option<(&str, &str)> = None;
    let mut container = |tech: &'static str, guest: &mut Vec<&str>| {
        if !guest.contains(&tech) {
            guest.push(tech);
        }
        if found.is_none() {
            found = Some((tech, "guest"));
        }
    };
    if p.exists("/.dockerenv") || p.exists("/.dockerinit") {
        container("docker", &mut guest);
    }
    if p.exists("/run/.containerenv") {
        container("podman", &mut guest);
    }
    let cgroup = p.file("/proc/1/cgroup").unwrap_or_default().join("\n");
    if cgroup.contains("/docker/") || cgroup.contains("docker-") {
        container("docker", &mut guest);
    } else if cgroup.contains("/lxc/") || cgroup.contains("lxc.payload") {
        container("lxc", &mut guest);
    } else if cgroup.contains("kubepods") {
        container("container", &mut guest);
    }
    if let Some(c) = p.first("/run/systemd/container").filter(|c| !c.is_empty()) {
        let tech = match c {
            "docker" => "docker",
            "podman" => "podman",
            "lxc" | "lxc-libvirt" => "lxc",
            "systemd-nspawn" => "systemd-nspawn",
            "wsl" => "wsl",
            _ => "container",
        };
        container(tech, &mut guest);
    }
    if p.exists("/proc/vz") && !p.exists("/proc/bc") {
        container("openvz", &mut guest);
    }
    if !guest.is_empty() && !guest.contains(&"container") {
        guest.push("container");
    }
    let product = dmi(p, "product_name");
    let vendor = dmi(p, "sys_vendor");
    let bios = dmi(p, "bios_vendor");
    let vm = match (vendor.as_str(), product.as_str(), bios.as_str()) {
        (_, prod, _) if prod.contains("KVM") || prod.contains("Bochs") => Some("kvm"),
        ("QEMU", _, _) | ("Google", _, _) => Some("kvm"),
        ("NA", _, "SeaBIOS") => Some("kvm"),
        (v, prod, _) if v.contains("Amazon EC2") || prod.contains("Amazon EC2") => Some("kvm"),
        (_, prod, _) if prod.contains("VMware") => Some("VMware"),
        (_, prod, _) if prod.contains("VirtualBox") => Some("virtualbox"),
        (_, prod, _) if prod.contains("HVM domU") => Some("xen"),
        ("Microsoft Corporation", "Virtual Machine", _) => Some("VirtualPC"),
        (_, prod, _) if prod.contains("OpenStack") => Some("openstack"),
        (_, prod, _) if prod.contains("RHEV Hypervisor") => Some("RHEV"),
        (v, _, _) if v.contains("Parallels") => Some("parallels"),
        (_, prod, _) if prod.contains("BHYVE") => Some("bhyve"),
        _ => None,
    };
    if let Some(t) = vm {
        guest.push(t);
        found = found.or(Some((t, "guest")));
    } else if p.exists("/proc/xen") {
        guest.push("xen");
        found = found.or(Some(("xen", "guest")));
    }
    if p.exists("/dev/kvm") {
        host.push("kvm");
        found = found.or(Some(("kvm", "host")));
    }
    let (t, r) = found.unwrap_or(("NA", "NA"));
    f.insert("virtualization_type".into(), s(t));
    f.insert("virtualization_role".into(), s(r));
    f.insert("virtualization_tech_guest".into(), json!(guest));
    f.insert("virtualization_tech_host".into(), json!(host));
}

fn extra(p: &Probe, f: &mut Facts) {
    if let Some(line) = p.first("/proc/loadavg") {
        let w: Vec<f64> = line
            .split_whitespace()
            .take(3)
            .filter_map(|v| v.parse().ok())
            .collect();
        if let [a, b, c] = w[..] {
            f.insert("loadavg".into(), json!({"1m": a, "5m": b, "15m": c}));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_shlex() {
        assert_eq!(
            split_words(r#"a=1 b="x y" c\ d 'e'"#),
            vec!["a=1", "b=x y", "c d", "e"]
        );
    }

    #[test]
    fn unescapes_mount_names() {
        assert_eq!(unescape_octal(r"/mnt/a\040b"), "/mnt/a b");
        assert_eq!(unescape_octal(r"/x\"), r"/x\");
    }

    #[test]
    fn ini_like_configparser() {
        let v = parse_ini("[sec]\nKey=Val\nb = 2\n").unwrap();
        assert_eq!(v, json!({"sec": {"b": "2", "key": "Val"}}));
        assert!(parse_ini("garbage").is_none());
    }

    #[test]
    fn offsets() {
        assert_eq!(offset_seconds("+0530"), 19800);
        assert_eq!(offset_seconds("-0100"), -3600);
    }
}
