//! What every request to the daemon passes before a route sees it, and what every answer
//! carries: the `Host` check (no DNS rebinding), the key (`[daemon.auth]`), the body limit,
//! and the security headers.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::redact::Sensitive;

/// The largest request body any route takes; a larger one is refused with 413 unread.
pub const MAX_BODY_BYTES: u64 = 64 * 1024;

/// Who may call, and by which names. Its `Debug` shows no token, not even its digest.
#[derive(Clone, Debug)]
pub struct Guard {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// SHA-256 of the token, compared in constant time with that of the one presented.
    token: Option<Sensitive<[u8; 32]>>,
    metrics_auth: bool,
    /// Lower-case host names and addresses a `Host` header may carry.
    hosts: Vec<String>,
    /// Listening on every address: any IP literal names this daemon.
    any_ip: bool,
}

fn digest(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

impl Guard {
    /// A guard for a daemon listening on `listen`, answering to `allowed_hosts` besides its
    /// own address and the loopback names, and asking for `token` when there is one.
    pub fn new(
        listen: SocketAddr,
        allowed_hosts: &[String],
        token: Option<&SecretString>,
        metrics_auth: bool,
    ) -> Self {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        hosts.push(listen.ip().to_string());
        hosts.extend(allowed_hosts.iter().map(|h| normal_host(h)));
        Self {
            inner: Arc::new(Inner {
                token: token.map(|t| Sensitive::new(digest(t.expose_secret().as_bytes()))),
                metrics_auth,
                hosts,
                any_ip: listen.ip().is_unspecified(),
            }),
        }
    }

    /// Whether a request naming `host` (a `Host` header's value) is for this daemon.
    pub fn host_allowed(&self, host: &str) -> bool {
        let h = normal_host(host);
        if self.inner.hosts.contains(&h) {
            return true;
        }
        // A page served from an attacker's name can reach us only by that name; an address
        // typed as such is no rebinding, and on 0.0.0.0 every address of the host is ours
        // (a pod's IP, as kubelet's probes and Prometheus use it).
        self.inner.any_ip && h.parse::<IpAddr>().is_ok()
    }

    /// Whether `path` needs the key.
    pub fn needs_key(&self, path: &str) -> bool {
        if self.inner.token.is_none() {
            return false;
        }
        let probe = matches!(path, "/healthz" | "/readyz" | "/metrics");
        !probe || self.inner.metrics_auth
    }

    /// Whether the headers carry the token: `Authorization: Bearer TOKEN`, or HTTP Basic
    /// with the token as the password (a browser's prompt; the user name is not checked).
    pub fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(want) = &self.inner.token else {
            return true;
        };
        let Some(given) = presented(headers) else {
            return false;
        };
        bool::from(digest(&given)[..].ct_eq(&want.expose()[..]))
    }
}

/// The token a request presents, if any.
fn presented(headers: &HeaderMap) -> Option<Vec<u8>> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.as_bytes().to_vec());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let colon = decoded.iter().position(|b| *b == b':')?;
        return Some(decoded[colon + 1..].to_vec());
    }
    None
}

/// `Host: Example.COM.:9184` -> `example.com`; `[::1]:9184` -> `::1`.
fn normal_host(host: &str) -> String {
    let h = host.trim();
    let bare = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match h.rsplit_once(':') {
            Some((name, port))
                if !name.contains(':') && port.chars().all(|c| c.is_ascii_digit()) =>
            {
                name
            }
            _ => h,
        }
    };
    bare.trim_end_matches('.').to_ascii_lowercase()
}

/// The middleware: `Host`, body size, key; then the route; then the headers.
pub async fn check(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    let refused = match host {
        None => Some(plain(
            StatusCode::BAD_REQUEST,
            "a Host header is required\n",
        )),
        Some(h) if !g.host_allowed(&h) => Some(plain(
            StatusCode::MISDIRECTED_REQUEST,
            "this daemon does not answer to that Host; add the name to daemon.allowed_hosts\n",
        )),
        Some(_) => None,
    };
    let too_big = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES);
    let mut resp = if let Some(r) = refused {
        r
    } else if too_big {
        plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is larger than the daemon takes\n",
        )
    } else if g.needs_key(req.uri().path()) && !g.authorized(req.headers()) {
        unauthorized()
    } else {
        next.run(req).await
    };
    secure_headers(resp.headers_mut());
    resp
}

fn plain(code: StatusCode, body: &'static str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn unauthorized() -> Response {
    let mut r = plain(
        StatusCode::UNAUTHORIZED,
        "this endpoint needs the daemon's token: Authorization: Bearer TOKEN (or the token as the password of HTTP Basic)\n",
    );
    let h = r.headers_mut();
    h.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"esg-sync\""),
    );
    h.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"esg-sync\", charset=\"UTF-8\""),
    );
    r
}

/// No framing, no sniffing, no caching of figures, no referrer, and a page that may run no
/// script and load nothing but its own inline style (by its hash).
fn secure_headers(h: &mut HeaderMap) {
    static CSP: std::sync::OnceLock<HeaderValue> = std::sync::OnceLock::new();
    let csp = CSP.get_or_init(|| {
        HeaderValue::from_str(&format!(
            "default-src 'none'; style-src {}; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            crate::status_page::style_source()
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"))
    });
    h.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(listen: &str, token: Option<&str>) -> Guard {
        let t = token.map(|t| SecretString::from(t.to_string()));
        Guard::new(
            listen.parse().unwrap(),
            &["esg-sync.example.com".into()],
            t.as_ref(),
            false,
        )
    }

    #[test]
    fn debug_shows_neither_the_token_nor_its_digest() {
        let g = guard("127.0.0.1:9000", Some("tok-0123456789abcdef-secret"));
        let shown = format!("{g:?}");
        assert!(shown.contains("**REDACTED**"), "{shown}");
        assert!(!shown.contains("tok-0123456789abcdef-secret"), "{shown}");
        let hex: String = digest(b"tok-0123456789abcdef-secret")
            .iter()
            .map(|b| format!("{b}"))
            .collect::<Vec<_>>()
            .join(", ");
        assert!(!shown.contains(&hex), "{shown}");
    }

    #[test]
    fn hosts_other_than_ours_are_refused() {
        let g = guard("127.0.0.1:9184", None);
        for ok in [
            "127.0.0.1:9184",
            "localhost:9184",
            "LOCALHOST",
            "[::1]:9184",
            "esg-sync.example.com",
            "ESG-SYNC.example.com.:443",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for no in [
            "attacker.example",
            "attacker.example:9184",
            "10.0.0.5:9184",
            "",
        ] {
            assert!(!g.host_allowed(no), "{no}");
        }
        let any = guard("0.0.0.0:9184", None);
        assert!(any.host_allowed("10.1.2.3:9184") && any.host_allowed("[fd00::1]:9184"));
        assert!(!any.host_allowed("attacker.example"));
    }

    #[test]
    fn the_token_opens_pages_by_bearer_or_basic_and_probes_stay_open() {
        let token = "t".repeat(40);
        let g = guard("0.0.0.0:9184", Some(&token));
        assert!(g.needs_key("/") && g.needs_key("/runs/1/rejects.csv") && g.needs_key("/status"));
        assert!(g.needs_key("/runs/1/ledger.csv"));
        assert!(!g.needs_key("/healthz") && !g.needs_key("/readyz") && !g.needs_key("/metrics"));
        let with = |v: String| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(&v).unwrap());
            g.authorized(&h)
        };
        assert!(with(format!("Bearer {token}")));
        assert!(with(format!("bearer  {token} ")));
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("ops:{token}"));
        assert!(with(format!("Basic {basic}")));
        assert!(!with(format!("Bearer {token}x")));
        assert!(!with("Bearer ".to_string()));
        assert!(!with("Basic !!!".to_string()));
        assert!(!g.authorized(&HeaderMap::new()));
        let open = guard("127.0.0.1:9184", None);
        assert!(!open.needs_key("/") && open.authorized(&HeaderMap::new()));
    }
}
