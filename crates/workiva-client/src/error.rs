//! The client's errors. Each names the request (method and path) and says what to do;
//! [`WorkivaError::is_retriable`] is the one place the retry policy asks.

use std::time::Duration;

use serde::Deserialize;

/// One entry of an error's or an operation's `details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ErrorDetail {
    pub code: Option<String>,
    pub message: Option<String>,
    pub target: Option<String>,
}

impl std::fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.target, &self.message) {
            (Some(t), Some(m)) => write!(f, "{t}: {m}"),
            (None, Some(m)) => write!(f, "{m}"),
            (Some(t), None) => write!(f, "{t}: {}", self.code.as_deref().unwrap_or("error")),
            (None, None) => write!(f, "{}", self.code.as_deref().unwrap_or("error")),
        }
    }
}

/// Workiva's error body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub target: Option<String>,
    pub details: Vec<ErrorDetail>,
    // IAM errors use these instead.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// `2 attempts`, or `2 attempts and 3 more after waits the server asked for`.
fn tries(attempts: u32, server_waits: u32) -> String {
    let n = |k: u32| if k == 1 { "attempt" } else { "attempts" };
    match server_waits {
        0 => format!("{attempts} {}", n(attempts)),
        w => format!(
            "{attempts} {} and {w} more after waits the server asked for",
            n(attempts)
        ),
    }
}

impl ApiFailure {
    /// An error answer as the client reports it: Workiva's `code`/`message` (or IAM's
    /// `error`/`error_description`), else the status and the first 200 characters of the body.
    /// Any bytes at all: a body that is not JSON is quoted, never trusted.
    pub fn from_answer(
        status: u16,
        body: &[u8],
        method: &str,
        path: &str,
        retry_after: Option<std::time::Duration>,
    ) -> Self {
        let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        Self {
            status,
            code: parsed
                .code
                .or(parsed.error)
                .unwrap_or_else(|| status.to_string()),
            message: parsed
                .message
                .or(parsed.error_description)
                .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect()),
            target: parsed.target,
            details: parsed.details,
            method: method.to_string(),
            path: path.to_string(),
            retry_after,
        }
    }
}

fn join_details(details: &[ErrorDetail]) -> String {
    if details.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = details.iter().take(5).map(|d| d.to_string()).collect();
    let more = if details.len() > 5 {
        format!(" (and {} more)", details.len() - 5)
    } else {
        String::new()
    };
    format!(" [{}{more}]", shown.join("; "))
}

/// An error answer from Workiva.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method} {path} failed with HTTP {status} {code}: {message}{}{}", target.as_ref().map(|t| format!(" (field `{t}`)")).unwrap_or_default(), join_details(details))]
pub struct ApiFailure {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub target: Option<String>,
    pub details: Vec<ErrorDetail>,
    pub method: String,
    pub path: String,
    /// How long the server asked us to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkivaError {
    /// Workiva answered with an error status.
    #[error(transparent)]
    Api(Box<ApiFailure>),
    /// The token endpoint refused the credentials or the request.
    #[error(
        "Getting an access token from {url} failed with HTTP {status} {error}: {description}. Check workiva.client_id and the client secret, and that the client has the scopes it needs"
    )]
    Auth {
        status: u16,
        error: String,
        description: String,
        url: String,
    },
    /// The request did not get an answer: connection refused or reset, timeout, cut body.
    #[error("{method} {path} got no answer: {reason}{}", if *reached_server { " (the request may have reached Workiva)" } else { "" })]
    Transport {
        method: String,
        path: String,
        reason: String,
        /// False only when the request surely never reached the server (connect failed).
        reached_server: bool,
        timed_out: bool,
    },
    /// The answer was not the JSON we expected.
    #[error(
        "{method} {path} answered HTTP {status} with a body that is not the expected JSON: {reason}"
    )]
    Decode {
        method: String,
        path: String,
        status: u16,
        reason: String,
    },
    /// The body is larger than Workiva accepts; nothing was sent.
    #[error(
        "{method} {path}: the request body is {size} bytes, over Workiva's limit of {limit} bytes; split it into smaller requests (nothing was sent)"
    )]
    BodyTooLarge {
        method: String,
        path: String,
        size: usize,
        limit: usize,
    },
    /// An `@nextLink` came back a second time: following it would loop forever.
    #[error(
        "GET {path}: the server returned the @nextLink {link} twice; stopping instead of looping"
    )]
    PaginationLoop { path: String, link: String },
    /// A batch operation failed; nothing of that batch was stored.
    #[error("operation {url} failed{}", join_details(details))]
    OperationFailed {
        url: String,
        details: Vec<ErrorDetail>,
    },
    /// We stopped waiting; the operation may still finish. Poll `url` again to resume.
    #[error(
        "operation {url} was still `{status}` after {waited:?}; it may still finish: poll it again later"
    )]
    OperationTimeout {
        url: String,
        status: String,
        waited: Duration,
    },
    /// Retries ran out; the last error is kept.
    #[error("{last} (gave up after {}, in {:.1} s)", tries(*attempts, *server_waits), elapsed.as_secs_f64())]
    RetriesExhausted {
        /// Attempts that counted against `max_attempts`, the first included.
        attempts: u32,
        /// Further attempts after waits the server asked for (`Retry-After`), which count
        /// against `max_server_waits` instead.
        server_waits: u32,
        elapsed: Duration,
        last: Box<WorkivaError>,
        /// An earlier attempt failed in a way that may have reached the server: its answer
        /// was lost, and its work may have been done.
        earlier_may_have_reached: bool,
    },
    /// The server named a URL on another origin (or a relative one) for the client to follow:
    /// it is not followed, and the token never leaves the configured origin.
    #[error(
        "{what} `{url}` is not on {origin}, the configured workiva.base_url; esg-sync follows links only there (the bearer token goes nowhere else). Check workiva.base_url, or the proxy in between"
    )]
    ForeignUrl {
        what: String,
        url: String,
        origin: String,
    },
    /// A redirect that is not followed: to another origin, or for a request that is not a GET.
    #[error(
        "{method} {path} was redirected (HTTP {status}) to `{location}`; esg-sync follows redirects only for GET requests within {origin}. Check workiva.base_url"
    )]
    Redirect {
        method: String,
        path: String,
        status: u16,
        location: String,
        origin: String,
    },
    /// The answer was larger than `max_response_bytes`: it was not read further.
    #[error(
        "{method} {path}: the answer is larger than {limit} bytes (workiva.max_response_bytes); it was not read. No real page is that large: check workiva.base_url, or the proxy in between"
    )]
    ResponseTooLarge {
        method: String,
        path: String,
        limit: usize,
    },
    /// A list page held more items than the client asked for.
    #[error(
        "GET {path}: a page holds {items} items although $maxpagesize was {asked}; refused, as the server is not answering what was asked"
    )]
    PageTooLarge {
        path: String,
        items: usize,
        asked: u32,
    },
    /// A list went on for more pages, or longer, than allowed.
    #[error(
        "GET {path}: stopped after {pages} pages in {:.0} s (workiva.max_pages {max_pages}, workiva.max_list_secs {max_secs}); the next @nextLink was `{link}`",
        elapsed.as_secs_f64()
    )]
    ListTooLong {
        path: String,
        pages: u32,
        elapsed: Duration,
        max_pages: u32,
        max_secs: u64,
        link: String,
    },
    /// The server asked for a wait longer than the request's remaining time budget.
    #[error(
        "{method} {path}: Workiva asked to wait {:.0} s (Retry-After) but only {:.0} s of workiva.max_retry_secs are left; stopped now instead of waiting. Try again later, or raise workiva.max_retry_secs",
        wait.as_secs_f64(),
        left.as_secs_f64()
    )]
    WaitTooLong {
        method: String,
        path: String,
        wait: Duration,
        left: Duration,
    },
    /// The TLS connection could not be made: a certificate problem is not retried.
    #[error(
        "TLS with {host} failed: {reason}. Check workiva.base_url, and that this machine trusts the certificate authority of that host (a proxy that intercepts TLS needs its CA installed)"
    )]
    Tls { host: String, reason: String },
    /// The run's gate refused a write attempt before it was sent ([`super::gate`]).
    #[error("{method} {path} was not sent: {reason}")]
    Gated {
        method: String,
        path: String,
        reason: String,
    },
    /// The client's settings are wrong.
    #[error("workiva settings: {0}")]
    Config(String),
}

impl WorkivaError {
    /// Whether sending the same request again may succeed: 429, 408, 500, 502, 503, 504,
    /// connection failures and timeouts. Other 4xx are the caller's to fix.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Api(a) => matches!(a.status, 408 | 429 | 500 | 502 | 503 | 504),
            Self::Auth { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            Self::Transport { .. } => true,
            Self::Decode { status, .. } => *status >= 500,
            Self::RetriesExhausted { .. }
            | Self::ForeignUrl { .. }
            | Self::Redirect { .. }
            | Self::ResponseTooLarge { .. }
            | Self::PageTooLarge { .. }
            | Self::ListTooLong { .. }
            | Self::WaitTooLong { .. }
            | Self::Tls { .. }
            | Self::BodyTooLarge { .. }
            | Self::PaginationLoop { .. }
            | Self::OperationFailed { .. }
            | Self::OperationTimeout { .. }
            | Self::Gated { .. }
            | Self::Config(_) => false,
        }
    }

    /// The HTTP status, when Workiva answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(a) => Some(a.status),
            Self::Auth { status, .. } | Self::Decode { status, .. } => Some(*status),
            Self::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// Whether the request may have been processed by the server, so that a create must be
    /// looked for before it is sent again.
    pub fn may_have_reached_server(&self) -> bool {
        match self {
            Self::Transport { reached_server, .. } => *reached_server,
            // Rate limiting and authentication happen before any processing.
            Self::Api(a) => !matches!(a.status, 401 | 403 | 429),
            Self::Decode { .. } => true,
            _ => false,
        }
    }

    /// The error itself, without the retries that led to it.
    pub fn last(&self) -> &WorkivaError {
        match self {
            Self::RetriesExhausted { last, .. } => last,
            e => e,
        }
    }

    /// The server's `Retry-After`, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api(a) => a.retry_after,
            _ => None,
        }
    }
}

pub type Result<T, E = WorkivaError> = std::result::Result<T, E>;

/// The host a URL names, for messages (the URL itself, shortened, when it has none).
pub fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| url.chars().take(100).collect())
}

/// A short description of a transport failure that never includes headers or bodies.
pub fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else if e.is_request() {
        "the request failed"
    } else {
        "transport error"
    };
    let mut cause = String::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    if cause.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {cause}")
    }
}

/// The TLS problem behind a transport error, in words, when there is one.
pub fn tls_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(t) = s.downcast_ref::<rustls::Error>() {
            return Some(describe_tls(t));
        }
        // An I/O error's `source` skips the error it wraps: look inside it too.
        if let Some(t) = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(describe_tls(t));
        }
        src = s.source();
    }
    None
}

/// A rustls error as a person would say it.
fn describe_tls(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => {
                "its certificate is not signed by an authority this machine trusts".into()
            }
            C::Expired | C::ExpiredContext { .. } => "its certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "its certificate is not valid yet".into()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "its certificate is for another host name".into()
            }
            C::Revoked => "its certificate was revoked".into(),
            C::BadSignature => "its certificate's signature is wrong".into(),
            C::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
                "it presented a certificate authority's certificate as its own".into()
            }
            other => format!("its certificate was refused ({other:?})"),
        },
        other => format!("the TLS handshake failed ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> WorkivaError {
        WorkivaError::Api(Box::new(ApiFailure {
            status,
            code: format!("{status}X"),
            message: "m".into(),
            target: Some("data[3].value".into()),
            details: vec![ErrorDetail {
                code: Some("InvalidValue".into()),
                message: Some("`x` is not a number".into()),
                target: Some("data[3].value".into()),
            }],
            method: "POST".into(),
            path: "/programs/{programId}/metrics".into(),
            retry_after: None,
        }))
    }

    #[test]
    fn retriable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(api(s).is_retriable(), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 413, 422] {
            assert!(!api(s).is_retriable(), "{s}");
        }
    }

    #[test]
    fn display_names_request_field_and_details() {
        let s = api(400).to_string();
        assert!(
            s.contains("POST /programs/{programId}/metrics failed with HTTP 400"),
            "{s}"
        );
        assert!(s.contains("field `data[3].value`"), "{s}");
        assert!(s.contains("`x` is not a number"), "{s}");
    }
}

/// Property tests: any error or operation body, never a panic, and a message of bounded size.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn json_body() -> impl Strategy<Value = Vec<u8>> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "\\PC{0,30}".prop_map(serde_json::Value::from),
        ];
        let value = leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("code".to_string()),
                        Just("message".to_string()),
                        Just("details".to_string()),
                        Just("target".to_string()),
                        Just("error".to_string()),
                        Just("status".to_string()),
                        Just("@nextLink".to_string()),
                        Just("data".to_string()),
                        "[a-z]{1,8}",
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        });
        value.prop_map(|v| serde_json::to_vec(&v).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_bytes_are_an_error_answer(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..2048)) {
            let f = ApiFailure::from_answer(status, &body, "GET", "/programs", None);
            prop_assert!(f.message.chars().count() <= 200 || serde_json::from_slice::<ErrorBody>(&body).is_ok());
            let _ = WorkivaError::Api(Box::new(f)).to_string();
        }

        #[test]
        fn any_json_is_an_error_page_or_operation_or_a_decode_error(body in json_body()) {
            let f = ApiFailure::from_answer(400, &body, "POST", "/x", None);
            let _ = WorkivaError::Api(Box::new(f)).to_string();
            let _ = serde_json::from_slice::<crate::models::Operation>(&body);
            let _ = serde_json::from_slice::<crate::models::Page<serde_json::Value>>(&body);
        }
    }
}

#[cfg(test)]
mod tls_tests {
    #[test]
    fn tls_problems_are_said_in_words() {
        use rustls::CertificateError as C;
        for (e, want) in [
            (
                C::UnknownIssuer,
                "not signed by an authority this machine trusts",
            ),
            (C::Expired, "has expired"),
            (C::NotValidForName, "for another host name"),
        ] {
            // As reqwest hands it over: wrapped in an I/O error.
            let wrapped = std::io::Error::other(rustls::Error::InvalidCertificate(e));
            let said = super::tls_problem(&wrapped).expect("a TLS problem");
            assert!(said.contains(want), "{said}");
            assert!(
                !said.contains("Other(") && !said.contains("Error("),
                "{said}"
            );
        }
        assert_eq!(super::tls_problem(&std::io::Error::other("refused")), None);
    }
}
