//! The `uri` module: one HTTP request from the target with `curl`, the
//! status checked against `status_code`, and the response reported with
//! Ansible's keys (`status`, `msg`, `content`, `json`, and every response
//! header lowercased with `-` turned into `_`). A request is not
//! idempotent, so check mode skips it unless `creates`/`removes` decide;
//! `changed` is true only when `dest` was written.

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::commands::run::glob_probe;
use crate::host::{Host, HostRead};
use crate::module::{Args, Module, ModuleError, ParamError, Prepared};
use crate::net::get_url::timeout;
use crate::net::http::{self, Request, Response};
use crate::net::{self, FileAttrs, InstallError, Kind};
use crate::params;
use crate::plan::{Applied, Facts, Plan};
use crate::spec::{self, ModuleSpec, Support, param};
use crate::text;

/// The `uri` module.
pub struct Uri;

/// Parameters, sorted by name. Some are accepted for compatibility and
/// have no effect (SELinux context, `ciphers`, `use_gssapi`, ...).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Params {
    #[serde(default)]
    body: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_string")]
    body_format: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    ca_path: Option<String>,
    #[serde(default, deserialize_with = "params::opt_list")]
    ciphers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_string")]
    client_cert: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    client_key: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    creates: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    decompress: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    dest: Option<String>,
    #[serde(default)]
    follow_redirects: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    force_basic_auth: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_string")]
    group: Option<String>,
    #[serde(default, deserialize_with = "net::opt_headers")]
    headers: Vec<(String, String)>,
    #[serde(default, deserialize_with = "params::opt_string")]
    http_agent: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    method: Option<String>,
    #[serde(default, deserialize_with = "net::opt_mode")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "params::opt_string")]
    removes: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    return_content: Option<bool>,
    #[serde(default)]
    status_code: Option<Value>,
    #[serde(default)]
    timeout: Option<Value>,
    #[serde(default, deserialize_with = "params::opt_string")]
    unix_socket: Option<String>,
    #[serde(default, deserialize_with = "params::opt_list")]
    unredirected_headers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    unsafe_writes: Option<bool>,
    #[serde(deserialize_with = "params::opt_string")]
    url: Option<String>,
    #[serde(default, alias = "password", deserialize_with = "params::opt_string")]
    url_password: Option<String>,
    #[serde(default, alias = "user", deserialize_with = "params::opt_string")]
    url_username: Option<String>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    use_gssapi: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    use_netrc: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    use_proxy: Option<bool>,
    #[serde(default, deserialize_with = "params::opt_bool")]
    validate_certs: Option<bool>,
}

const SPEC: ModuleSpec = ModuleSpec {
    name: "uri",
    short: "Send an HTTP request from the target",
    description: "Sends one HTTP(S) request from the target with `curl` and \
        reports the response: `status`, `msg`, every response header (lowercased, \
        `-` turned into `_`), cookies, `json` for a JSON response, and `content` \
        when asked. The task fails when the status is not in `status_code`. A \
        request is never assumed idempotent: it reports a change only when \
        `dest` was written, and `creates`/`removes` skip it depending on paths \
        on the target.",
    params: &[
        param(
            "body",
            spec::Kind::Raw,
            "The request body: a string sent as is, or with `body_format: json` \
            any value (serialized like Python's `json.dumps`), or with \
            `form-urlencoded` a mapping or a list of key/value pairs.",
        ),
        param(
            "body_format",
            spec::Kind::Str,
            "How `body` is encoded; `json` and `form-urlencoded` also set a \
            `Content-Type` header unless one is given. `form-multipart` is not \
            supported and fails when a body is given.",
        )
        .choices(&["form-urlencoded", "json", "raw", "form-multipart"])
        .default("raw"),
        param(
            "ca_path",
            spec::Kind::Path,
            "CA certificate bundle on the target used to verify the server.",
        ),
        param(
            "ciphers",
            spec::Kind::List,
            "Accepted for compatibility; has no effect (curl's defaults are used).",
        ),
        param(
            "client_cert",
            spec::Kind::Path,
            "Client certificate (PEM) on the target, for TLS client authentication.",
        ),
        param(
            "client_key",
            spec::Kind::Path,
            "Private key on the target for `client_cert`, when the certificate \
            file does not contain it.",
        ),
        param(
            "creates",
            spec::Kind::Path,
            "A path or glob pattern on the target; when something matches it, \
            the request is not sent.",
        ),
        param(
            "decompress",
            spec::Kind::Bool,
            "Accepted for compatibility; has no effect (compression is not \
            requested, the body is read as received).",
        ),
        param(
            "dest",
            spec::Kind::Path,
            "Save the response body to this file on the target (replaced only \
            when the content differs, and only for an accepted status); an \
            existing directory receives a file named after the response.",
        ),
        param(
            "follow_redirects",
            spec::Kind::Raw,
            "Which redirects to follow: `all` (or `yes`/`true`), `none` (or \
            `no`/`false`), or `safe`/`urllib2` for GET and HEAD requests only.",
        )
        .default("safe"),
        param(
            "force",
            spec::Kind::Bool,
            "Accepted for compatibility; has no effect (no cache is used).",
        ),
        param(
            "force_basic_auth",
            spec::Kind::Bool,
            "Accepted for compatibility; credentials are always sent with the \
            first request.",
        ),
        param("group", spec::Kind::Str, "Group that should own `dest`."),
        param(
            "headers",
            spec::Kind::Dict,
            "Extra request headers, as a mapping of name to value; an empty \
            value sends the header empty.",
        ),
        param(
            "http_agent",
            spec::Kind::Str,
            "The `User-Agent` header sent.",
        )
        .default("ansible-httpget"),
        param(
            "method",
            spec::Kind::Str,
            "The HTTP method (any token, upper-cased), such as `GET`, `POST`, \
            `PUT`, `DELETE` or `HEAD`.",
        )
        .default("GET"),
        param(
            "mode",
            spec::Kind::Raw,
            "Permissions of `dest`: octal (`'0644'`) or symbolic (`u=rw,g=r`).",
        ),
        param("owner", spec::Kind::Str, "User that should own `dest`."),
        param(
            "removes",
            spec::Kind::Path,
            "A path or glob pattern on the target; when nothing matches it, the \
            request is not sent.",
        ),
        param(
            "return_content",
            spec::Kind::Bool,
            "Return the response body as `content` (not when it was saved to \
            `dest`). A JSON response is parsed into `json` either way.",
        )
        .default("false"),
        param(
            "status_code",
            spec::Kind::List,
            "The status codes that count as success; any other fails the task.",
        )
        .default("200"),
        param(
            "timeout",
            spec::Kind::Float,
            "Seconds the whole request may take (rounded up to whole seconds).",
        )
        .default("30"),
        param(
            "unix_socket",
            spec::Kind::Path,
            "Connect through this Unix domain socket on the target instead of \
            over TCP.",
        ),
        param(
            "unredirected_headers",
            spec::Kind::List,
            "Accepted for compatibility; has no effect (`headers` are sent on \
            redirects too).",
        ),
        param(
            "unsafe_writes",
            spec::Kind::Bool,
            "Accepted for compatibility; `dest` is always replaced atomically.",
        ),
        param(
            "url",
            spec::Kind::Str,
            "The URL to request (HTTP or HTTPS).",
        )
        .required(),
        param(
            "url_password",
            spec::Kind::Str,
            "Password for HTTP basic authentication.",
        )
        .aliases(&["password"]),
        param(
            "url_username",
            spec::Kind::Str,
            "User name for HTTP basic authentication.",
        )
        .aliases(&["user"]),
        param(
            "use_gssapi",
            spec::Kind::Bool,
            "Accepted for compatibility; GSSAPI authentication is not supported.",
        ),
        param(
            "use_netrc",
            spec::Kind::Bool,
            "Accepted for compatibility; `~/.netrc` is not read.",
        ),
        param(
            "use_proxy",
            spec::Kind::Bool,
            "Honour the proxy environment variables on the target; with `false` \
            every host is reached directly.",
        )
        .default("true"),
        param(
            "validate_certs",
            spec::Kind::Bool,
            "Verify the server's TLS certificate.",
        )
        .default("true"),
    ],
    check: Support::Partial(
        "the request is not sent; unless `creates` or `removes` skip it, the \
        outcome is reported as unknown",
    ),
    diff: Support::None,
    example: "- name: Check that the service is healthy
  ansible.builtin.uri:
    url: http://localhost:8080/health
    return_content: true
  register: health

- name: Create a user through the API
  ansible.builtin.uri:
    url: https://api.example.com/v1/users
    method: POST
    body_format: json
    body:
      name: alice
      groups: [admin]
    headers:
      Authorization: \"Bearer {{ api_token }}\"
    status_code: [200, 201]
",
    open: false,
    fields: params::fields::<Params>,
};

struct Prepped {
    req: Request,
    /// The URL as given (the `redirected` test compares with it).
    url: String,
    status_codes: Vec<i64>,
    return_content: bool,
    dest: Option<String>,
    creates: Option<String>,
    removes: Option<String>,
    attrs: FileAttrs,
}

fn status_codes(v: Option<Value>) -> Result<Vec<i64>, ParamError> {
    let bad = |v: &dyn std::fmt::Display| {
        ParamError::at("status_code", format!("invalid status code {v}"))
    };
    let one = |v: &Value| -> Result<i64, ParamError> {
        match v {
            Value::Number(n) => n.as_i64().ok_or_else(|| bad(n)),
            Value::String(s) => s.trim().parse().map_err(|_| bad(s)),
            other => Err(bad(other)),
        }
    };
    match v {
        None | Some(Value::Null) => Ok(vec![200]),
        Some(Value::Array(a)) => a.iter().map(one).collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|p| one(&Value::String(p.to_string())))
            .collect(),
        Some(other) => Ok(vec![one(&other)?]),
    }
}

/// Python's `json.dumps` layout: `", "` and `": "` separators, non-ASCII
/// escaped, so bodies match what Ansible sends byte for byte.
pub(crate) fn python_json(v: &Value) -> String {
    let mut out = String::new();
    write_py(v, &mut out);
    out
}

fn write_py(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => py_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_str(k, out);
                out.push_str(": ");
                write_py(x, out);
            }
            out.push('}');
        }
    }
}

fn py_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `str()` of a scalar, for form fields.
fn py_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Value::Null => "None".to_string(),
        other => other.to_string(),
    }
}

fn form_body(body: &Value) -> Result<String, ParamError> {
    let mut pairs = Vec::new();
    let mut push = |k: String, v: &Value| match v {
        Value::Array(items) => {
            for i in items {
                pairs.push((k.clone(), py_scalar(i)));
            }
        }
        other => pairs.push((k, py_scalar(other))),
    };
    match body {
        Value::Object(m) => {
            for (k, v) in m {
                push(k.clone(), v);
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Array(kv) if kv.len() == 2 => push(py_scalar(&kv[0]), &kv[1]),
                    _ => {
                        return Err(ParamError::at(
                            "body",
                            "failed to parse body as form_urlencoded: need key/value pairs",
                        ));
                    }
                }
            }
        }
        _ => {
            return Err(ParamError::at(
                "body",
                "failed to parse body as form_urlencoded: need a dictionary",
            ));
        }
    }
    Ok(http::form_urlencode(&pairs))
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
}

impl Module for Uri {
    fn name(&self) -> &'static str {
        "uri"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: Args) -> Result<Box<dyn Prepared>, ParamError> {
        let p: Params = params::parse(&SPEC, args)?;
        let url = p
            .url
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ParamError::at("url", "missing required arguments: url"))?;
        let method = p
            .method
            .unwrap_or_else(|| "GET".into())
            .trim()
            .to_ascii_uppercase();
        if method.is_empty()
            || !method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ParamError::at(
                "method",
                format!("invalid method '{method}'"),
            ));
        }
        let mut headers = p.headers;
        let format = p.body_format.unwrap_or_else(|| "raw".into());
        let body = match (p.body, format.as_str()) {
            (None | Some(Value::Null), _) => None,
            (Some(b), "json") => {
                if !has_header(&headers, "content-type") {
                    headers.push(("Content-Type".into(), "application/json".into()));
                }
                Some(match b {
                    Value::String(s) => s,
                    other => python_json(&other),
                })
            }
            (Some(b), "form-urlencoded") => {
                if !has_header(&headers, "content-type") {
                    headers.push((
                        "Content-Type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ));
                }
                Some(match b {
                    Value::String(s) => s,
                    other => form_body(&other)?,
                })
            }
            (Some(_), "form-multipart") => {
                return Err(ParamError::at(
                    "body_format",
                    "body_format form-multipart is not supported",
                ));
            }
            (Some(b), "raw") => Some(match b {
                Value::String(s) => s,
                other => py_scalar(&other),
            }),
            (Some(_), other) => {
                return Err(ParamError::at(
                    "body_format",
                    format!(
                        "value of body_format must be one of: form-urlencoded, json, raw, \
                         form-multipart, got: {other}"
                    ),
                ));
            }
        };
        let follow = match p.follow_redirects {
            None | Some(Value::Null) => "safe".to_string(),
            Some(Value::Bool(b)) => if b { "all" } else { "none" }.to_string(),
            Some(Value::String(s)) => s.to_ascii_lowercase(),
            Some(other) => other.to_string(),
        };
        let follow_redirects = match follow.as_str() {
            "all" | "yes" | "true" => true,
            "safe" | "urllib2" => matches!(method.as_str(), "GET" | "HEAD"),
            "none" | "no" | "false" => false,
            other => {
                return Err(ParamError::at(
                    "follow_redirects",
                    format!(
                        "value of follow_redirects must be one of: all, none, safe, urllib2, \
                         got: {other}"
                    ),
                ));
            }
        };
        let req = Request {
            url: url.clone(),
            method,
            headers,
            body: body.map(String::into_bytes),
            username: p.url_username.filter(|u| !u.is_empty()),
            password: p.url_password,
            validate_certs: p.validate_certs.unwrap_or(true),
            use_proxy: p.use_proxy.unwrap_or(true),
            timeout: timeout(p.timeout, 30)?,
            total_timeout: true,
            follow_redirects,
            agent: p
                .http_agent
                .unwrap_or_else(|| http::DEFAULT_AGENT.to_string()),
            ca_path: p.ca_path,
            client_cert: p.client_cert,
            client_key: p.client_key,
            unix_socket: p.unix_socket,
        };
        Ok(Box::new(Prepped {
            req,
            url,
            status_codes: status_codes(p.status_code)?,
            return_content: p.return_content.unwrap_or(false),
            dest: p.dest.filter(|d| !d.is_empty()),
            creates: p.creates.filter(|c| !c.is_empty()),
            removes: p.removes.filter(|r| !r.is_empty()),
            attrs: FileAttrs {
                mode: p.mode,
                owner: p.owner.filter(|o| !o.is_empty()),
                group: p.group.filter(|g| !g.is_empty()),
            },
        }))
    }
}

fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let main = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let sub = main.split('/').nth(1).unwrap_or("");
    sub.contains("json") || sub.contains("javascript")
}

impl Prepped {
    async fn guard(&self, host: &dyn HostRead, pattern: &str) -> Result<bool, ModuleError> {
        let out = host.probe(&glob_probe(pattern, None)).await?;
        match out.rc {
            0 => Ok(true),
            1 => Ok(false),
            rc => Err(ModuleError::failed(format!(
                "could not check whether '{pattern}' exists (rc {rc}): {}",
                text::decode(&out.stderr).trim_end()
            ))),
        }
    }

    /// The result keys for a response, as Ansible's `uri` builds them.
    fn response_keys(&self, resp: &Response, elapsed: u64) -> Facts {
        let mut r = Facts::new();
        for (k, v) in resp.header_keys() {
            r.insert(k, v);
        }
        if let Some(loc) = resp.header("location") {
            r.insert("location".into(), json!(absolute_location(&resp.url, &loc)));
        }
        let cookies = resp.cookies();
        let cookies_string = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        r.insert("cookies".into(), json!(cookies));
        r.insert("cookies_string".into(), json!(cookies_string));
        r.insert("status".into(), json!(resp.status));
        r.insert("url".into(), json!(resp.url));
        r.insert("msg".into(), json!(resp.msg()));
        r.insert("redirected".into(), json!(resp.redirects > 0));
        r.insert("elapsed".into(), json!(elapsed));
        r
    }

    fn status_list(&self) -> String {
        let codes: Vec<String> = self.status_codes.iter().map(i64::to_string).collect();
        format!("[{}]", codes.join(", "))
    }
}

/// A `Location` made absolute against the URL it came from.
fn absolute_location(base: &str, loc: &str) -> String {
    if loc.contains("://") {
        return loc.to_string();
    }
    let Some(i) = base.find("://") else {
        return loc.to_string();
    };
    let after = &base[i + 3..];
    let host_end = after.find('/').map(|j| i + 3 + j).unwrap_or(base.len());
    if loc.starts_with('/') {
        format!("{}{loc}", &base[..host_end])
    } else {
        let path = &base[..base
            .rfind('/')
            .filter(|&j| j >= host_end)
            .unwrap_or(host_end)];
        format!("{path}/{loc}")
    }
}

fn skipped(msg: String) -> Plan {
    let mut r = Facts::new();
    r.insert("changed".into(), json!(false));
    r.insert("stdout".into(), json!(msg));
    r.insert("msg".into(), json!(msg));
    Plan::InSync { result: r }
}

#[async_trait::async_trait]
impl Prepared for Prepped {
    async fn check(&self, host: &dyn HostRead) -> Result<Plan, ModuleError> {
        if let Some(c) = &self.creates
            && self.guard(host, c).await?
        {
            return Ok(skipped(format!("skipped, since '{c}' exists")));
        }
        if let Some(rm) = &self.removes
            && !self.guard(host, rm).await?
        {
            return Ok(skipped(format!("skipped, since '{rm}' does not exist")));
        }
        Ok(Plan::Unpredictable {
            reason: format!("would send {} {}", self.req.method, self.url),
        })
    }

    async fn apply(&self, plan: Plan, host: &dyn Host) -> Result<Applied, ModuleError> {
        if let Plan::InSync { result } = plan {
            return Ok(Applied {
                result,
                ..Applied::default()
            });
        }
        let started = Instant::now();
        let (resp, tmp) = match &self.dest {
            None => {
                let out = host.run(&self.req.curl_cmd(None)).await?;
                (http::parse_curl(&out, true), None)
            }
            Some(dest) => {
                let probed = net::probe_path(host, dest, None).await?;
                let dir = if probed.kind == Kind::Directory {
                    dest.clone()
                } else {
                    net::dirname(dest)
                };
                let cmd = net::script(http::DOWNLOAD_SCRIPT)
                    .arg(dir)
                    .arg(self.url.clone())
                    .arg(self.req.timeout.to_string())
                    .arg("0")
                    .arg(self.req.agent.clone())
                    .arg("1")
                    .stdin(self.req.curl_config());
                let out = host.run(&cmd).await?;
                let (tmp, curl_out) = http::split_download(&out);
                if tmp.is_none() {
                    return Err(net::failed_output(&out, dest));
                }
                (http::parse_curl(&curl_out, false), tmp.map(|t| (t, probed)))
            }
        };
        let elapsed = started.elapsed().as_secs();
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                if let Some((t, _)) = &tmp {
                    net::remove_quietly(host, t).await;
                }
                let mut r = Facts::new();
                r.insert("status".into(), json!(-1));
                r.insert("url".into(), json!(self.url));
                r.insert("elapsed".into(), json!(elapsed));
                let msg = format!(
                    "Status code was -1 and not {}: {}",
                    self.status_list(),
                    e.msg
                );
                r.insert("msg".into(), json!(msg));
                r.insert("changed".into(), json!(false));
                return Ok(Applied {
                    changed: false,
                    failed: true,
                    msg: Some(msg),
                    result: r,
                    diff: Vec::new(),
                });
            }
        };
        let mut r = self.response_keys(&resp, elapsed);
        let content = text::decode(&resp.body);
        if tmp.is_none()
            && is_json(resp.header("content-type").as_deref())
            && let Ok(js) = serde_json::from_str::<Value>(&content)
        {
            r.insert("json".into(), js);
        }
        let ok = self.status_codes.contains(&i64::from(resp.status));
        let mut changed = false;
        if let (Some((t, probed)), Some(dest)) = (&tmp, &self.dest) {
            if ok {
                let target = if probed.kind == Kind::Directory {
                    let name = resp
                        .header("content-disposition")
                        .and_then(|v| http::disposition_filename(&v))
                        .unwrap_or_else(|| http::url_filename(&resp.url));
                    net::join(dest, &name)
                } else {
                    dest.clone()
                };
                match net::install(host, t, &target, None, &self.attrs, false).await {
                    Ok(i) => {
                        changed = i.changed;
                        r.insert("path".into(), json!(target));
                        net::path_info(&mut r, &i.keys, "file");
                    }
                    Err(InstallError::Mismatch { .. }) => {}
                    Err(InstallError::Module(e)) => {
                        net::remove_quietly(host, t).await;
                        return Err(e);
                    }
                }
            } else {
                net::remove_quietly(host, t).await;
            }
        }
        r.insert("changed".into(), json!(changed));
        if !ok {
            let msg = format!(
                "Status code was {} and not {}: {}",
                resp.status,
                self.status_list(),
                resp.msg()
            );
            r.insert("msg".into(), json!(msg));
            if self.return_content {
                r.insert("content".into(), json!(content));
            }
            return Ok(Applied {
                changed,
                failed: true,
                msg: Some(msg),
                result: r,
                diff: Vec::new(),
            });
        }
        if self.return_content && tmp.is_none() {
            r.insert("content".into(), json!(content));
        }
        Ok(Applied {
            changed,
            failed: false,
            msg: Some(resp.msg()),
            result: r,
            diff: Vec::new(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn json_bodies_look_like_pythons() {
        let v = json!({"a": 1, "b": [true, null, "é\n"]});
        assert_eq!(
            python_json(&v),
            r#"{"a": 1, "b": [true, null, "\u00e9\n"]}"#
        );
    }

    #[test]
    fn status_codes_accept_lists_and_strings() {
        assert_eq!(status_codes(None).unwrap(), vec![200]);
        assert_eq!(
            status_codes(Some(json!("200, 201"))).unwrap(),
            vec![200, 201]
        );
        assert_eq!(
            status_codes(Some(json!([200, "204"]))).unwrap(),
            vec![200, 204]
        );
        assert!(status_codes(Some(json!(["x"]))).is_err());
    }

    #[test]
    fn locations_become_absolute() {
        assert_eq!(absolute_location("http://h:1/a/b", "/c"), "http://h:1/c");
        assert_eq!(absolute_location("http://h/a/b", "c"), "http://h/a/c");
        assert_eq!(absolute_location("http://h/a", "https://x/"), "https://x/");
    }

    #[test]
    fn forms_encode_dicts_and_lists() {
        assert_eq!(
            form_body(&json!({"a": "x y", "b": [1, true]})).unwrap(),
            "a=x+y&b=1&b=True"
        );
    }
}
