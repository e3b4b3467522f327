//! `workiva-emulator` on its own: it starts with the demo tenant, hands out a token, and
//! stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

/// One HTTP/1.1 request over a plain socket; the answer's status line and body.
fn request(addr: &str, head: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn the_binary_serves_the_demo_tenant_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_workiva-emulator"))
        .args(["--listen", "127.0.0.1:0", "--demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .strip_prefix("Workiva API emulator listening on http://")
        .unwrap_or_else(|| panic!("the banner names the address: {first}"))
        .to_string();
    let banner: Vec<String> = lines
        .by_ref()
        .take_while(|l| l.as_ref().is_ok_and(|l| !l.starts_with("Press")))
        .map(Result::unwrap)
        .collect();
    assert!(
        banner.iter().any(|l| l.contains("program: ")),
        "the demo program is loaded: {banner:?}"
    );
    let token = request(
        &base,
        "POST /oauth2/token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        "grant_type=client_credentials&client_id=demo&client_secret=demo-secret",
    );
    assert!(token.starts_with("HTTP/1.1 200"), "{token}");
    assert!(token.contains("access_token"), "{token}");
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let status = child.wait().unwrap();
    assert!(status.success(), "stopped cleanly: {status:?}");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("not for production"), "{err}");
}
