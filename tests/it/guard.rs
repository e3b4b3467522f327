//! The daemon guards itself: off loopback every page needs the token (probes stay open), a
//! `Host` that is not the daemon's is refused (no DNS rebinding), pages carry their security
//! headers, a half-sent request is cut at the header timeout and holds neither a connection
//! slot nor the shutdown, the emulator's admin API off loopback needs its token and takes no
//! oversized body, and a database URL that does not verify TLS is warned about.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::support::daemon::Daemon;
use crate::support::env::{SyncEnv, sync_env, write_rows};
use crate::support::pipeline::config_with;

const TOKEN: &str = "0123456789abcdef0123456789abcdef-test-token";

/// The daemon's port, reached on loopback whatever it listens on.
async fn local(d: &Daemon) -> String {
    let addr = d.addr().await;
    let port = addr.rsplit(':').next().unwrap().to_string();
    format!("127.0.0.1:{port}")
}

/// One request over a fresh connection, written as given; the whole answer as text.
fn raw(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn get(addr: &str, path: &str, host: &str, auth: Option<&str>) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"),
    )
}

fn status(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

fn header<'a>(answer: &'a str, name: &str) -> Vec<&'a str> {
    let head = answer.split("\r\n\r\n").next().unwrap_or("");
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

fn guarded_config(e: &SyncEnv, daemon: &str) -> std::path::PathBuf {
    write_rows(&e.file("data.parquet"), crate::support::env::ROWS);
    config_with(e, daemon, "schedule = \"0 3 1 1 *\"")
}

fn start(cfg: &std::path::Path) -> Daemon {
    Daemon::spawn_with(
        "daemon",
        cfg,
        "info",
        &[
            ("ESG_SYNC_TEST_SECRET", "demo-secret"),
            ("ESG_SYNC_TEST_API_TOKEN", TOKEN),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_the_pages_need_the_token_a_foreign_host_is_refused_and_probes_stay_open() {
    let e = sync_env().await;
    // Off loopback without a key, the daemon does not start.
    let bare = guarded_config(&e, "[daemon]\nlisten = \"0.0.0.0:0\"");
    let mut d = start(&bare);
    assert_eq!(d.exit(Duration::from_secs(20)).await, Some(1));
    assert!(
        d.log().contains("need a key: add [daemon.auth]"),
        "{}",
        d.log()
    );

    let cfg = guarded_config(
        &e,
        "[daemon]\nlisten = \"0.0.0.0:0\"\nallowed_hosts = [\"esg-sync.example.com\"]\n[daemon.auth]\ntoken_env = \"ESG_SYNC_TEST_API_TOKEN\"",
    );
    let mut d = start(&cfg);
    let addr = local(&d).await;
    let bearer = format!("Bearer {TOKEN}");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ops:{TOKEN}"))
    );
    for path in ["/", "/status", "/runs/1/rejects.csv", "/runs/1/ledger.csv"] {
        let no = get(&addr, path, "127.0.0.1", None);
        assert_eq!(status(&no), 401, "{path}: {no}");
        let challenges = header(&no, "www-authenticate").join(", ");
        assert!(challenges.contains("Basic realm=\"esg-sync\""), "{no}");
        let wrong = get(&addr, path, "127.0.0.1", Some("Bearer not-the-token"));
        assert_eq!(status(&wrong), 401, "{path}");
    }
    let page = get(&addr, "/", "127.0.0.1", Some(&bearer));
    assert_eq!(status(&page), 200, "{page}");
    assert!(page.contains("esg-sync status"));
    let csp = header(&page, "content-security-policy").join("");
    for part in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "style-src 'sha256-",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(
        !csp.contains("script-src") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(header(&page, "x-content-type-options"), vec!["nosniff"]);
    assert_eq!(
        status(&get(&addr, "/", "esg-sync.example.com:9184", Some(&basic))),
        200,
        "a browser's Basic prompt, by an allowed name"
    );
    let csv = get(&addr, "/runs/999/rejects.csv", "localhost", Some(&bearer));
    assert_eq!(status(&csv), 404);
    assert_eq!(header(&csv, "cache-control"), vec!["no-store"]);
    let st = get(&addr, "/status", "127.0.0.1", Some(&bearer));
    assert_eq!(status(&st), 200, "{st}");
    // Probes and metrics stay open; a pod's IP names the daemon on 0.0.0.0.
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            status(&get(&addr, path, "10.1.2.3:9184", None)),
            200,
            "{path}"
        );
    }
    // DNS rebinding: a page on attacker.example that resolves to us is refused, token or not.
    for (path, auth) in [
        ("/", Some(bearer.as_str())),
        ("/healthz", None),
        ("/status", None),
    ] {
        let r = get(&addr, path, "attacker.example", auth);
        assert_eq!(status(&r), 421, "{path}: {r}");
    }
    assert!(!d.log().contains(TOKEN), "the token is in no log line");
    d.signal("-TERM");
    assert_eq!(d.exit(Duration::from_secs(10)).await, Some(0));
}

/// Opens a connection and sends half a request head; the socket is left open.
fn half_sent(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    s
}

/// Whether the server closed the connection within `limit` (read sees the end).
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            // 408 or nothing: either way the server ends it.
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_cut_at_the_header_timeout_and_hold_no_slot_for_long() {
    let e = sync_env().await;
    let cfg = guarded_config(
        &e,
        "[daemon]\nlisten = \"127.0.0.1:0\"\nheader_read_timeout_secs = 2\nmax_connections = 2",
    );
    let mut d = start(&cfg);
    let addr = local(&d).await;
    let (mut a, mut b) = (half_sent(&addr), half_sent(&addr));
    std::thread::sleep(Duration::from_millis(300));
    // Both slots are held: a third connection waits in the backlog, unanswered.
    let mut c = TcpStream::connect(&addr).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    c.set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        c.read(&mut buf).is_err(),
        "a third connection was served while two were held"
    );
    // The header timeout cuts the half-sent ones; then the third is served.
    assert!(closed_within(&mut a, Duration::from_secs(8)), "still open");
    assert!(closed_within(&mut b, Duration::from_secs(8)), "still open");
    c.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert_eq!(status(&answer), 200, "{answer}");
    d.signal("-TERM");
    assert_eq!(d.exit(Duration::from_secs(10)).await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_does_not_hold_the_shutdown_past_the_grace_period() {
    let e = sync_env().await;
    let cfg = guarded_config(
        &e,
        "[daemon]\nlisten = \"127.0.0.1:0\"\ngrace_period_secs = 1\nheader_read_timeout_secs = 120\nidle_timeout_secs = 120",
    );
    let mut d = start(&cfg);
    let addr = local(&d).await;
    let mut held = half_sent(&addr);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    d.signal("-TERM");
    // Before, axum waited on the connection for as long as the client liked.
    assert_eq!(
        d.exit(Duration::from_secs(15)).await,
        Some(0),
        "{}",
        d.log()
    );
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "the stop took {took:?} with a 1 s grace"
    );
    assert!(closed_within(&mut held, Duration::from_secs(2)));
    // It stopped accepting at once: nothing listens any more.
    assert!(TcpStream::connect(&addr).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_the_emulators_admin_api_needs_its_token_and_a_large_body_is_refused() {
    use esg_sync::emulator::{Emulator, StartOptions};
    let open = Emulator::start(
        crate::support::test_config(),
        StartOptions {
            listen: "0.0.0.0:0".parse().unwrap(),
            admin: true,
            admin_token: None,
            seed: None,
        },
    )
    .await;
    assert!(open.is_err(), "an open admin API off loopback is refused");

    let token = "emulator-admin-token-0123456789";
    let emu = Emulator::start(
        crate::support::test_config(),
        StartOptions {
            listen: "0.0.0.0:0".parse().unwrap(),
            admin: true,
            admin_token: Some(token.into()),
            seed: None,
        },
    )
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", emu.addr().port());
    let http = reqwest::Client::new();
    let reset = |auth: Option<&str>| {
        let mut r = http.post(format!("{base}/_emulator/reset"));
        if let Some(a) = auth {
            r = r.bearer_auth(a);
        }
        r.send()
    };
    assert_eq!(reset(None).await.unwrap().status(), 401);
    assert_eq!(reset(Some("wrong")).await.unwrap().status(), 401);
    assert_eq!(reset(Some(token)).await.unwrap().status(), 204);
    // A 60 MB seed is not buffered: refused at the 10 MB limit.
    let big = vec![b' '; 11 * 1024 * 1024];
    let r = http
        .post(format!("{base}/_emulator/seed"))
        .bearer_auth(token)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    emu.shutdown().await;

    // The command: warns that it is a test double and makes and prints a token.
    let mut child = Command::new(env!("CARGO_BIN_EXE_esg-sync"))
        .args(["emulator", "--listen", "0.0.0.0:0", "--admin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (mut port, mut printed) = (None, None);
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0 {
        if let Some(u) = line
            .trim()
            .strip_prefix("Workiva API emulator listening on ")
        {
            port = u.rsplit(':').next().map(str::to_string);
        }
        if let Some(t) = line
            .trim()
            .strip_prefix("admin token (Authorization: Bearer): ")
        {
            printed = Some(t.to_string());
        }
        if line.starts_with("Press Ctrl-C") {
            break;
        }
        line.clear();
    }
    let (port, printed) = (port.unwrap(), printed.expect("an admin token is printed"));
    let base = format!("http://127.0.0.1:{port}");
    let no = http.post(format!("{base}/_emulator/reset")).send().await;
    assert_eq!(no.unwrap().status(), 401);
    let yes = http
        .post(format!("{base}/_emulator/reset"))
        .bearer_auth(&printed)
        .send()
        .await;
    assert_eq!(yes.unwrap().status(), 204);
    let _ = child.kill();
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    let _ = child.wait();
    assert!(
        err.contains("test double") && err.contains("not for production"),
        "{err}"
    );
    let help = Command::new(env!("CARGO_BIN_EXE_esg-sync"))
        .args(["emulator", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("not for production") && help.contains("--admin-token-file"),
        "{help}"
    );
}

#[tokio::test]
async fn a_database_url_off_loopback_that_does_not_verify_tls_is_warned_about() {
    let e = sync_env().await;
    let cfg = e.file("tls.toml");
    std::fs::write(
        &cfg,
        "[store]\nurl = \"postgres://etl@db.invalid:5432/state?sslmode=prefer\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_esg-sync"))
        .args(["validate", "--config", cfg.to_str().unwrap()])
        .env_remove("ESG_SYNC_LOG_FORMAT")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("asks for TLS mode `prefer`, which does not verify the server"),
        "{text}"
    );
    // Without a mode, the same host gets full verification and no warning.
    std::fs::write(
        &cfg,
        "[store]\nurl = \"postgres://etl@db.invalid:5432/state\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_esg-sync"))
        .args(["validate", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("does not verify"), "{text}");
}
