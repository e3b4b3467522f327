//! Database URLs as they are connected to: TLS with the certificate and host name verified,
//! by default, for a PostgreSQL or MySQL/MariaDB server off loopback.
//!
//! The drivers' own default is `prefer`: TLS if the server offers it, no certificate check,
//! and a silent fall back to plain text, so anyone on the path can read the figures and the
//! password. Here a URL that names no mode gets `sslmode=verify-full` (PostgreSQL) or
//! `ssl-mode=VERIFY_IDENTITY` (MySQL); a URL that asks for less keeps it and is warned about
//! at load. A private CA is given in the URL: `sslrootcert=/path/ca.pem` (PostgreSQL) or
//! `ssl-ca=/path/ca.pem` (MySQL). Loopback, a Unix socket and SQLite are left alone.

/// Which family of server a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Postgres,
    Mysql,
}

fn family(url: &url::Url) -> Option<Family> {
    match url.scheme() {
        "postgres" | "postgresql" => Some(Family::Postgres),
        "mysql" | "mariadb" => Some(Family::Mysql),
        _ => None,
    }
}

/// The server's host is another machine (not loopback, not a Unix socket).
fn off_loopback(url: &url::Url) -> bool {
    if url
        .query_pairs()
        .any(|(k, v)| k == "host" && v.starts_with('/'))
    {
        return false;
    }
    match url.host() {
        // A URL of a scheme url::Url does not know keeps an address as text.
        Some(url::Host::Domain(d)) => match d.parse::<std::net::IpAddr>() {
            Ok(ip) => !ip.is_loopback(),
            Err(_) => !d.eq_ignore_ascii_case("localhost") && !d.is_empty(),
        },
        Some(url::Host::Ipv4(ip)) => !ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => !ip.is_loopback(),
        None => false,
    }
}

/// The TLS mode the URL asks for, as written, if any.
fn mode(url: &url::Url) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| matches!(k.as_ref(), "sslmode" | "ssl-mode"))
        .map(|(_, v)| v.into_owned())
}

/// The URL to connect with: a verifying TLS mode added when an off-loopback PostgreSQL or
/// MySQL URL names none; any other URL as it was.
pub fn secure(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return raw.to_string();
    };
    let Some(fam) = family(&url) else {
        return raw.to_string();
    };
    if !off_loopback(&url) || mode(&url).is_some() {
        return raw.to_string();
    }
    let (key, value) = match fam {
        Family::Postgres => ("sslmode", "verify-full"),
        Family::Mysql => ("ssl-mode", "VERIFY_IDENTITY"),
    };
    url.query_pairs_mut().append_pair(key, value);
    url.to_string()
}

/// A warning for an off-loopback URL whose TLS mode does not verify the server (`disable`,
/// `allow`, `prefer`, `require`; MySQL's `DISABLED`, `PREFERRED`, `REQUIRED`). `what` names
/// the URL's place (`[store] url`, ``pipeline `energy` source``).
pub fn weak_tls(what: &str, raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    family(&url)?;
    if !off_loopback(&url) {
        return None;
    }
    let m = mode(&url)?;
    let weak = matches!(
        m.to_ascii_lowercase().as_str(),
        "disable" | "disabled" | "allow" | "prefer" | "preferred" | "require" | "required"
    );
    weak.then(|| {
        format!(
            "{what} ({}) asks for TLS mode `{m}`, which does not verify the server's certificate: anyone on the network path can read or change what is sent. Remove it to get full verification (give a private CA with sslrootcert= or ssl-ca=)",
            crate::redact::url(raw)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_loopback_verifies_by_default_and_a_weak_mode_is_kept_and_warned_about() {
        assert_eq!(
            secure("postgres://etl@db.example/lake"),
            "postgres://etl@db.example/lake?sslmode=verify-full"
        );
        assert_eq!(
            secure("mysql://etl@10.0.0.9:3306/lake?charset=utf8mb4"),
            "mysql://etl@10.0.0.9:3306/lake?charset=utf8mb4&ssl-mode=VERIFY_IDENTITY"
        );
        for same in [
            "postgres://postgres@127.0.0.1:5432/x",
            "postgres://postgres@localhost/x",
            "postgres://postgres@[::1]/x",
            "postgres:///x?host=/var/run/postgresql",
            "postgres://u@db.example/x?sslmode=prefer",
            "sqlite://state.db",
        ] {
            assert_eq!(secure(same), same);
        }
        let w = weak_tls("[store] url", "postgres://u:pw@db.example/x?sslmode=prefer").unwrap();
        assert!(w.contains("TLS mode `prefer`") && !w.contains("pw@"), "{w}");
        assert!(weak_tls("s", "mysql://u@db.example/x?ssl-mode=DISABLED").is_some());
        assert!(weak_tls("s", "postgres://u@db.example/x?sslmode=verify-ca").is_none());
        assert!(weak_tls("s", "postgres://u@db.example/x").is_none());
        assert!(weak_tls("s", "postgres://u@127.0.0.1/x?sslmode=disable").is_none());
    }
}
