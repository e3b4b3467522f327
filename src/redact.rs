//! Secrets out of text: one redaction for every message, log line, stored run message, page
//! and alert that names a URL.
//!
//! A database driver takes a password in more places than `user:pass@host`: sqlx and libpq
//! read `?password=`, `sslpassword=` and key paths from the query, object stores take
//! signatures and tokens there (`sig=`, `X-Amz-Security-Token=`). So a URL is shown with its
//! password masked and every query parameter whose name carries a secret masked too
//! ([`is_secret_name`]); free text (a driver's error) has each URL in it redacted and every
//! `name=value` pair with a secret name masked.

/// What a secret is replaced with.
pub use crate::workiva::sensitive::MASK;

/// The parts of a parameter name that mark it as carrying a secret (compared without case):
/// `password`, `sslpassword`, `passwd`, `pwd`, `token`, `key` (`sslkey`, `api_key`),
/// `secret`, `sig` (`signature`), `credential`.
const SECRET_NAME_PARTS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "token",
    "key",
    "secret",
    "sig",
    "credential",
];

/// Whether a query parameter (or a `name=value` pair) of this name carries a secret.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|p| n.contains(p))
}

/// Whether a URL holds a secret: a password in its userinfo or a query parameter named like
/// one. The config check refuses such a URL written in the file.
pub fn holds_secret(u: &str) -> bool {
    url(u) != url_unchanged(u)
}

/// The URL as [`url`] would print it if it held no secret (so the two can be compared).
fn url_unchanged(u: &str) -> String {
    match parse(u) {
        Some(parsed) => parsed.to_string(),
        None => u.to_string(),
    }
}

fn parse(u: &str) -> Option<url::Url> {
    let parsed = url::Url::parse(u).ok()?;
    // `scheme:rest` without `//` parses as an opaque path; text such as `error: x` is no URL.
    u.contains("://").then_some(parsed)
}

/// A URL without its password and without the values of query parameters that carry a
/// secret. Text that does not parse as a URL is masked by hand the same way, so a URL with
/// a raw `/` or `#` in its password still loses it.
pub fn url(u: &str) -> String {
    match parse(u) {
        Some(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some(MASK));
            }
            if parsed.query().is_some_and(query_has_secret) {
                let masked = mask_pairs(parsed.query().unwrap_or_default(), '&');
                parsed.set_query(Some(&masked));
            }
            parsed.to_string()
        }
        None => by_hand(u),
    }
}

fn query_has_secret(q: &str) -> bool {
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .any(|(k, _)| is_secret_name(&decode(k)))
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("{s}=").as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// `a=1&password=x` -> `a=1&password=***`, pair by pair, leaving names and order as written.
fn mask_pairs(q: &str, sep: char) -> String {
    q.split(sep)
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret_name(&decode(k)) => format!("{k}={MASK}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join(&sep.to_string())
}

/// For text that `url::Url` refuses: the userinfo's password (up to the last `@` before the
/// path's query) and secret query values.
fn by_hand(u: &str) -> String {
    let Some((scheme, rest)) = u.split_once("://") else {
        return u.to_string();
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = match before_query.rfind('@') {
        Some(at) => {
            let (cred, host) = before_query.split_at(at);
            match cred.split_once(':') {
                Some((user, _)) => format!("{user}:{MASK}{host}"),
                None => before_query.to_string(),
            }
        }
        None => before_query.to_string(),
    };
    match query {
        Some(q) => format!("{scheme}://{authority}?{}", mask_pairs(q, '&')),
        None => format!("{scheme}://{authority}"),
    }
}

/// Free text (an error from a driver, a run's message) with every URL in it redacted by
/// [`url`] and every `name=value` pair whose name carries a secret masked.
pub fn text(s: &str) -> String {
    if !s.contains('=') && !s.contains("://") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    for c in s.chars() {
        if is_boundary(c) {
            out.push_str(&word_redacted(&word));
            word.clear();
            out.push(c);
        } else {
            word.push(c);
        }
    }
    out.push_str(&word_redacted(&word));
    out
}

/// What ends a URL or a `name=value` pair in prose.
fn is_boundary(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | ',' | ';' | '(' | ')')
}

fn word_redacted(word: &str) -> String {
    // Prose punctuation after a URL or pair (`…/lake: refused`) stays as written.
    let w = word.trim_end_matches([':', '.', '!', '?']);
    let tail = &word[w.len()..];
    format!("{}{tail}", redacted_core(w))
}

fn redacted_core(w: &str) -> String {
    if let Some(i) = w.find("://") {
        // The scheme starts after any leading punctuation (`[postgres://…`).
        // After that character, whatever its width (`é://` must not split it).
        let start = w[..i]
            .char_indices()
            .rfind(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(j, c)| j + c.len_utf8());
        return format!("{}{}", &w[..start], url(&w[start..]));
    }
    if w.contains('=') {
        return mask_pairs(w, '&');
    }
    w.to_string()
}

/// One type for every secret-bearing field, the client's; this module adds the kinds of the
/// application's URLs.
pub use crate::workiva::sensitive::{Hidden, Sensitive, Shown};

/// A database or object-store URL: with its password and secret parameters masked ([`url`]).
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl;
/// A URL whose path may be the secret (a Slack webhook's): scheme and host only.
#[derive(Clone, PartialEq, Eq)]
pub struct HostOnly;

impl<T: AsRef<str>> Shown<T> for DbUrl {
    fn shown(value: &T) -> String {
        url(value.as_ref())
    }
}
impl<T: AsRef<str>> Shown<T> for HostOnly {
    fn shown(value: &T) -> String {
        match ::url::Url::parse(value.as_ref()) {
            Ok(u) => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("?")),
            Err(_) => "(not a URL)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A struct that derives `Debug` shows its sensitive fields only as their kind allows:
    /// the store's URL with its passwords masked (in the userinfo and the query), an alert's
    /// URL as its host, a plain secret not at all.
    #[test]
    fn sensitive_fields_keep_their_secret_out_of_debug() {
        let store = crate::config::StoreConfig {
            url: Sensitive::new("postgres://etl:pw1@db/lake?password=hunter2".into()),
            ..Default::default()
        };
        let alert: crate::config::alert::AlertConfig = toml::from_str(
            "name = \"slack\"\nurl = \"https://hooks.slack.com/services/T0/B0/XSECRETX\"\nformat = \"slack\"",
        )
        .unwrap();
        let token: Sensitive<String> = Sensitive::new("tok-very-secret".into());
        let shown = format!("{store:?} {alert:?} {token:?}");
        for secret in ["pw1", "hunter2", "XSECRETX", "T0/B0", "tok-very-secret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("postgres://etl:***@db/lake"), "{shown}");
        assert!(shown.contains("https://hooks.slack.com/…"), "{shown}");
        assert_eq!(
            store.url.expose(),
            "postgres://etl:pw1@db/lake?password=hunter2"
        );
    }

    #[test]
    fn userinfo_and_query_secrets_are_masked() {
        assert_eq!(
            url("postgres://app:hunter2@db:5432/esg"),
            "postgres://app:***@db:5432/esg"
        );
        assert_eq!(
            url("postgres://etl@db/lake?password=hunter2&sslmode=verify-full"),
            "postgres://etl@db/lake?password=***&sslmode=verify-full"
        );
        assert_eq!(
            url("postgres://etl@db/lake?SSLPassword=x&sslkey=/k.pem"),
            "postgres://etl@db/lake?SSLPassword=***&sslkey=***"
        );
        assert_eq!(url("sqlite://state.db"), "sqlite://state.db");
        assert_eq!(
            url("sqlite://state.db?mode=rwc"),
            "sqlite://state.db?mode=rwc"
        );
        // A raw `/` in the password: not a URL to `url::Url`, masked by hand.
        assert_eq!(
            url("postgres://app:a/b#c@db/esg?x=1"),
            "postgres://app:***@db/esg?x=1"
        );
        assert!(holds_secret("mysql://root@db/x?password=p"));
        assert!(holds_secret("postgres://a:b@db/x"));
        assert!(!holds_secret("postgres://a@db/x?sslmode=require"));
        assert!(!holds_secret("sqlite://x.db"));
    }

    #[test]
    fn urls_and_pairs_in_prose_are_masked() {
        assert_eq!(
            text("cannot connect to postgres://etl@db/lake?password=hunter2: refused"),
            "cannot connect to postgres://etl@db/lake?password=***: refused"
        );
        assert_eq!(
            text("bad option (host=db password=hunter2 user=x)"),
            "bad option (host=db password=*** user=x)"
        );
        assert_eq!(text("no secret here: a = b"), "no secret here: a = b");
        assert_eq!(text("[mysql://r:pw@h/d]"), "[mysql://r:***@h/d]");
    }

    fn secret() -> impl Strategy<Value = String> {
        // Starts with `zq` and is longer than any host or user generated below, so it can be
        // found in output only if it leaked.
        "zq[A-Za-z0-9._~!$*+=:-]{10,24}"
    }

    fn secret_name() -> impl Strategy<Value = String> {
        (
            prop::sample::select(SECRET_NAME_PARTS),
            "[a-z_]{0,3}",
            "[a-z_]{0,3}",
            any::<bool>(),
        )
            .prop_map(|(part, pre, post, upper)| {
                let n = format!("{pre}{part}{post}");
                if upper { n.to_ascii_uppercase() } else { n }
            })
    }

    fn enc(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    proptest! {
        /// No generated secret survives: in the userinfo, in a query parameter among others,
        /// as a URL alone or inside a message, or as a `name=value` pair in prose.
        #[test]
        fn no_secret_survives_any_printing(
            secret in secret(),
            name in secret_name(),
            scheme in prop::sample::select(vec!["postgres", "postgresql", "mysql", "mariadb", "sqlite", "https", "s3"]),
            host in "[a-z]{3,8}",
            user in "[a-z]{3,8}",
            other in prop::collection::vec(("[a-z]{1,6}", "[a-z0-9]{0,6}"), 0..3),
            in_userinfo in any::<bool>(),
            raw in any::<bool>(),
        ) {
            let mut q: Vec<String> = other
                .iter()
                .filter(|(k, _)| !is_secret_name(k))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let shown_secret = if raw { secret.clone() } else { enc(&secret) };
            let u = if in_userinfo {
                format!("{scheme}://{user}:{shown_secret}@{host}/db?{}", q.join("&"))
            } else {
                q.insert(q.len() / 2, format!("{name}={}", enc(&secret)));
                format!("{scheme}://{user}@{host}:5432/db?{}", q.join("&"))
            };
            for printed in [
                url(&u),
                text(&u),
                text(&format!("cannot connect to {u}: connection refused")),
                text(&format!("error (`{u}`)")),
                text(&format!("host={host} {name}={shown_secret} user={user}")),
            ] {
                prop_assert!(!printed.contains(&secret), "{u} -> {printed}");
                prop_assert!(!printed.contains(&enc(&secret)), "{u} -> {printed}");
            }
            prop_assert!(holds_secret(&u), "{u}");
        }

        /// Redaction never panics, and text without a URL or pair comes back as it was.
        #[test]
        fn redaction_never_panics(s in "\\PC{0,80}") {
            let _ = url(&s);
            let t = text(&s);
            if !s.contains('=') && !s.contains("://") {
                prop_assert_eq!(t, s);
            }
        }
    }
}
