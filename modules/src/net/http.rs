//! What `get_url` and `uri` share: the curl command line and the curl
//! config they feed it on stdin (`curl -K -`), so URLs, headers, bodies
//! and credentials never appear on a command line visible in `ps`; the
//! `wget` fallback for downloads; and parsing what came back (status line,
//! headers of the final response, body, and a `-w` trailer).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::cmd::Cmd;
use crate::host::Output;
use crate::text;

/// Ansible's default `http_agent`.
pub(crate) const DEFAULT_AGENT: &str = "ansible-httpget";

/// The marker before the `-w` trailer curl prints last.
const TRAILER: &[u8] = b"\ntutti-http:";

/// The `-w` format: status, redirects, bytes, final URL (last: it is the
/// only field that could contain `:`).
const WRITE_OUT: &str =
    "\\ntutti-http:%{http_code}:%{num_redirects}:%{size_download}:%{url_effective}";

/// One HTTP request, as both modules describe it.
#[derive(Clone, Default)]
pub(crate) struct Request {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub validate_certs: bool,
    pub use_proxy: bool,
    /// Seconds to connect, and to wait while no data arrives.
    pub timeout: u64,
    /// Also a limit on the whole transfer (`uri`, whose responses are small).
    pub total_timeout: bool,
    pub follow_redirects: bool,
    pub agent: String,
    pub ca_path: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub unix_socket: Option<String>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password and body may be secret: never print them.
        f.debug_struct("Request")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

/// Quotes a value for a curl config file: double quotes, with `\\`, `\"`
/// and the control characters curl knows escaped (so a value is one line).
pub(crate) fn curl_quote(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    for &b in value {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x0b => out.extend_from_slice(b"\\v"),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn option(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b" = ");
    curl_quote(out, value);
    out.push(b'\n');
}

impl Request {
    /// The curl config for `-K -`: everything about the request.
    pub(crate) fn curl_config(&self) -> Vec<u8> {
        let mut c = Vec::new();
        option(&mut c, "url", self.url.as_bytes());
        let head = self.method.eq_ignore_ascii_case("HEAD");
        if head {
            c.extend_from_slice(b"head\n");
        } else if self.method != "GET" {
            option(&mut c, "request", self.method.as_bytes());
        }
        for (k, v) in &self.headers {
            // `Name;` sends a header with an empty value; `Name:` would
            // remove it.
            let h = if v.is_empty() {
                format!("{k};")
            } else {
                format!("{k}: {v}")
            };
            option(&mut c, "header", h.as_bytes());
        }
        if let Some(body) = &self.body {
            // `data-raw` does not treat a leading `@` as a file name.
            option(&mut c, "data-raw", body);
        }
        if let Some(user) = &self.username {
            let mut u = user.clone().into_bytes();
            u.push(b':');
            u.extend_from_slice(self.password.as_deref().unwrap_or("").as_bytes());
            option(&mut c, "user", &u);
        }
        if !self.validate_certs {
            c.extend_from_slice(b"insecure\n");
        }
        if !self.use_proxy {
            option(&mut c, "noproxy", b"*");
        }
        let t = self.timeout.max(1).to_string();
        option(&mut c, "connect-timeout", t.as_bytes());
        if self.total_timeout {
            option(&mut c, "max-time", t.as_bytes());
        } else {
            option(&mut c, "speed-limit", b"1");
            option(&mut c, "speed-time", t.as_bytes());
        }
        if self.follow_redirects {
            c.extend_from_slice(b"location\n");
            option(&mut c, "max-redirs", b"50");
        }
        option(&mut c, "user-agent", self.agent.as_bytes());
        for (name, v) in [
            ("cacert", &self.ca_path),
            ("cert", &self.client_cert),
            ("key", &self.client_key),
            ("unix-socket", &self.unix_socket),
        ] {
            if let Some(v) = v {
                option(&mut c, name, v.as_bytes());
            }
        }
        c
    }

    /// `curl` printing the final response's headers, then the body
    /// (unless `body_to` names a host file for it), then the trailer.
    pub(crate) fn curl_cmd(&self, body_to: Option<&str>) -> Cmd {
        let mut cmd = Cmd::new("curl").arg("-sS").arg("-K").arg("-");
        if !self.method.eq_ignore_ascii_case("HEAD") {
            cmd = cmd.arg("-D").arg("-");
        }
        cmd = cmd.arg("-o").arg(body_to.unwrap_or("-"));
        cmd.arg("-w").arg(WRITE_OUT).stdin(self.curl_config())
    }
}

/// A response as curl reported it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Response {
    /// 0 when there was no HTTP response at all.
    pub status: u16,
    pub reason: String,
    /// The final response's headers, in order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub url: String,
    pub redirects: u32,
    pub size: u64,
}

impl Response {
    /// A header of the final response, by case-insensitive name; repeated
    /// headers are joined with `, ` as Python's `http.client` does.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        let vals: Vec<&str> = self
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (!vals.is_empty()).then(|| vals.join(", "))
    }

    /// Ansible's `msg` for a response: `OK (N bytes)` from Content-Length
    /// (or `unknown`), or `HTTP Error N: Reason` for 4xx/5xx.
    pub(crate) fn msg(&self) -> String {
        if self.status >= 400 {
            return format!("HTTP Error {}: {}", self.status, self.reason);
        }
        let len = self
            .header("content-length")
            .unwrap_or_else(|| "unknown".into());
        format!("OK ({len} bytes)")
    }

    /// The response headers as Ansible's `uri` reports them: names
    /// lowercased with `-` turned into `_`.
    pub(crate) fn header_keys(&self) -> Map<String, Value> {
        let mut out = Map::new();
        let mut names: Vec<String> = Vec::new();
        for (k, _) in &self.headers {
            let key = k.to_ascii_lowercase();
            if !names.contains(&key) {
                names.push(key);
            }
        }
        for name in names {
            if let Some(v) = self.header(&name) {
                out.insert(name.replace('-', "_"), json!(v));
            }
        }
        out
    }

    /// The cookies the final response set: name to value.
    pub(crate) fn cookies(&self) -> BTreeMap<String, String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| {
                let pair = v.split(';').next()?;
                let (n, val) = pair.split_once('=')?;
                Some((n.trim().to_string(), val.trim().to_string()))
            })
            .collect()
    }
}

/// Why no response could be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpFailure {
    pub msg: String,
}

/// Parses curl's output from [`Request::curl_cmd`]. `body_in_stdout` is
/// false when the body went to a file.
pub(crate) fn parse_curl(out: &Output, body_in_stdout: bool) -> Result<Response, HttpFailure> {
    let stdout = &out.stdout;
    let Some(at) = stdout.windows(TRAILER.len()).rposition(|w| w == TRAILER) else {
        return Err(curl_failure(out));
    };
    let trailer = text::decode(&stdout[at + TRAILER.len()..]);
    let mut f = trailer.splitn(4, ':');
    let status: u16 = f.next().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let redirects: u32 = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let size: u64 = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let url = f.next().unwrap_or("").trim_end().to_string();
    if status == 0 {
        return Err(curl_failure(out));
    }
    let before = &stdout[..at];
    let body_len = if body_in_stdout {
        usize::try_from(size)
            .unwrap_or(usize::MAX)
            .min(before.len())
    } else {
        0
    };
    let (head, body) = before.split_at(before.len() - body_len);
    let (reason, headers) = parse_head(head);
    Ok(Response {
        status,
        reason: if reason.is_empty() {
            reason_phrase(status).to_string()
        } else {
            reason
        },
        headers,
        body: body.to_vec(),
        url,
        redirects,
        size,
    })
}

fn curl_failure(out: &Output) -> HttpFailure {
    let err = text::decode(&out.stderr);
    let err = err.trim();
    let msg =
        if out.rc == 127 || err.contains("curl: not found") || err.contains("command not found") {
            "curl is not installed on the target".to_string()
        } else if err.is_empty() {
            format!("Request failed: curl exited with {}", out.rc)
        } else {
            format!("Request failed: {}", err.trim_start_matches("curl: "))
        };
    HttpFailure { msg }
}

/// The reason phrase and headers of the last response block in `head`
/// (with redirects or `100 Continue`, curl prints one block per response).
fn parse_head(head: &[u8]) -> (String, Vec<(String, String)>) {
    let text = text::decode(head);
    let mut reason = String::new();
    let mut headers = Vec::new();
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.starts_with("HTTP/") {
            // A new response: forget the previous one's headers.
            headers.clear();
            let mut parts = line.splitn(3, ' ');
            parts.next();
            parts.next();
            reason = parts.next().unwrap_or("").trim().to_string();
        } else if let Some((k, v)) = line.split_once(':')
            && !k.is_empty()
            && !k.contains(' ')
        {
            headers.push((k.to_string(), v.trim().to_string()));
        }
    }
    (reason, headers)
}

/// Python's `http.HTTPStatus` phrases, for HTTP/2 responses that have none.
pub(crate) fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// The download script `get_url` runs: `$1` directory for the temp file,
/// `$2` URL (for wget), `$3` timeout, `$4` insecure (1/0), `$5` user
/// agent, `$6` has credentials (1/0), then `Name: value` headers (wget
/// only). curl reads the whole request from stdin. Prints `tmp=PATH`,
/// then a `--` line, then curl's headers and trailer.
pub(crate) const DOWNLOAD_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
dir=$1 url=$2 timeout=$3 insecure=$4 agent=$5 creds=$6
shift 6
if ! [ -d "$dir" ]; then printf 'Destination %s does not exist\n' "$dir" >&2; exit 20; fi
if command -v mktemp >/dev/null 2>&1; then
  tmp=$(mktemp -- "$dir/.tutti-get_url.XXXXXXXX") || exit 21
else
  tmp="$dir/.tutti-get_url.$$"; (set -C; : > "$tmp") || exit 21
fi
printf 'tmp=%s\n--\n' "$tmp"
if command -v curl >/dev/null 2>&1; then
  curl -sS -K - -D - -o "$tmp" -w '\ntutti-http:%{http_code}:%{num_redirects}:%{size_download}:%{url_effective}'
  exit $?
fi
if command -v wget >/dev/null 2>&1; then
  if [ "$creds" = 1 ]; then echo "url_username/url_password need curl on the target" >&2; exit 23; fi
  set -- -S -O "$tmp" -T "$timeout" -U "$agent" "$@"
  [ "$insecure" = 1 ] && set -- --no-check-certificate "$@"
  err=$(wget "$@" -- "$url" 2>&1); rc=$?
  code=$(printf '%s\n' "$err" | sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9]*\).*/\1/p' | tail -n 1)
  printf '%s\n' "$err" | sed -n 's/^  //p' | sed -n '/^HTTP\//,$p'
  size=$(wc -c < "$tmp" | tr -d ' ')
  printf '\ntutti-http:%s:0:%s:%s' "${code:-000}" "$size" "$url"
  [ -n "$code" ] || printf '%s\n' "$err" >&2
  exit 0
fi
echo "neither curl nor wget is installed on the target" >&2
exit 22
"#;

/// Splits [`DOWNLOAD_SCRIPT`]'s output into the temp path and curl's part.
pub(crate) fn split_download(out: &Output) -> (Option<String>, Output) {
    let s = &out.stdout;
    let Some(rest) = s.strip_prefix(b"tmp=") else {
        return (None, out.clone());
    };
    let Some(nl) = rest.windows(4).position(|w| w == b"\n--\n") else {
        return (None, out.clone());
    };
    let tmp = text::decode(&rest[..nl]);
    let curl = Output {
        rc: out.rc,
        stdout: rest[nl + 4..].to_vec(),
        stderr: out.stderr.clone(),
    };
    (Some(tmp), curl)
}

/// `key=value` form encoding as Python's `urlencode` (`quote_plus`).
pub(crate) fn form_urlencode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn quote_plus(s: &str) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The last path segment of a URL (for a `dest` that is a directory).
pub(crate) fn url_filename(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    let path = match no_query.find("://") {
        Some(i) => {
            let rest = &no_query[i + 3..];
            rest.find('/').map(|j| &rest[j..]).unwrap_or("")
        }
        None => no_query,
    };
    let name = path.rsplit('/').next().unwrap_or("");
    if name.is_empty() {
        "index.html".to_string()
    } else {
        percent_decode(name)
    }
}

/// The file name in a `Content-Disposition: attachment; filename=...`.
pub(crate) fn disposition_filename(value: &str) -> Option<String> {
    for part in value.split(';') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("filename=") {
            let v = v.trim().trim_matches('"');
            let base = v.rsplit(['/', '\\']).next().unwrap_or(v);
            if !base.is_empty() && base != "." && base != ".." {
                return Some(base.to_string());
            }
        }
    }
    None
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(hex) = std::str::from_utf8(&b[i + 1..i + 3])
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn config_quotes_and_hides_nothing_on_the_command_line() {
        let r = Request {
            url: "http://h/x?a=\"b\"".into(),
            method: "POST".into(),
            headers: vec![("X-A".into(), "1\n2".into()), ("X-Empty".into(), "".into())],
            body: Some(b"@/etc/passwd\\".to_vec()),
            username: Some("u".into()),
            password: Some("p\"w".into()),
            validate_certs: false,
            use_proxy: true,
            timeout: 5,
            agent: DEFAULT_AGENT.into(),
            ..Request::default()
        };
        let c = String::from_utf8(r.curl_config()).unwrap();
        assert!(c.contains("url = \"http://h/x?a=\\\"b\\\"\"\n"), "{c}");
        assert!(c.contains("request = \"POST\"\n"));
        assert!(c.contains("header = \"X-A: 1\\n2\"\n"));
        assert!(c.contains("header = \"X-Empty;\"\n"));
        assert!(c.contains("data-raw = \"@/etc/passwd\\\\\"\n"));
        assert!(c.contains("user = \"u:p\\\"w\"\n"));
        assert!(c.contains("insecure\n"));
        let cmd = r.curl_cmd(None);
        assert!(!cmd.render().contains("p\"w") && !cmd.render().contains("passwd"));
    }

    #[test]
    fn parses_the_final_response_after_redirects() {
        let stdout = b"HTTP/1.1 302 Found\r\nLocation: /b\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\nSet-Cookie: a=1; Path=/\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n{\"a\":1}\ntutti-http:200:1:7:http://h/b".to_vec();
        let out = Output {
            rc: 0,
            stdout,
            stderr: Vec::new(),
        };
        let r = parse_curl(&out, true).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.reason, "OK");
        assert_eq!(r.body, b"{\"a\":1}");
        assert_eq!(r.redirects, 1);
        assert_eq!(r.url, "http://h/b");
        assert_eq!(r.header("x-dup").unwrap(), "1, 2");
        assert!(r.header("location").is_none());
        let keys = r.header_keys();
        assert_eq!(keys["content_type"], "application/json");
        assert_eq!(r.msg(), "OK (7 bytes)");
        assert_eq!(r.cookies()["a"], "1");
    }

    #[test]
    fn reports_curl_failures() {
        let out = Output {
            rc: 7,
            stdout: b"\ntutti-http:000:0:0:http://h/".to_vec(),
            stderr: b"curl: (7) Failed to connect to h port 80: Connection refused\n".to_vec(),
        };
        let e = parse_curl(&out, true).unwrap_err();
        assert!(e.msg.contains("Connection refused"), "{}", e.msg);
    }

    #[test]
    fn names_files_like_ansible() {
        assert_eq!(url_filename("http://h/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(url_filename("http://h/"), "index.html");
        assert_eq!(url_filename("http://h/a%20b"), "a b");
        assert_eq!(
            disposition_filename("attachment; filename=\"../x.bin\"").unwrap(),
            "x.bin"
        );
        assert_eq!(
            form_urlencode(&[("a b".into(), "c&d=é".into())]),
            "a+b=c%26d%3D%C3%A9"
        );
    }
}
