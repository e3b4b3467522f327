//! The binary itself: `esg-sync emulator` serves, takes its flags and config file, keeps
//! secrets out of its output, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::Api;

struct Running {
    child: Child,
    base: String,
    /// Everything it printed on stdout so far.
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
}

fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esg-sync"));
    cmd.arg("emulator")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the binary starts");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("first line");
    let base = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|u| u.starts_with("http://"))
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    // Keep draining stdout so the child never blocks on a full pipe.
    let stdout = std::sync::Arc::new(std::sync::Mutex::new(line));
    let kept = stdout.clone();
    std::thread::spawn(move || {
        let mut l = String::new();
        while out.read_line(&mut l).unwrap_or(0) > 0 {
            kept.lock().unwrap().push_str(&l);
            l.clear();
        }
    });
    Running {
        child,
        base,
        stdout,
    }
}

fn sigterm(r: &mut Running) -> (std::process::ExitStatus, String) {
    Command::new("kill")
        .args(["-TERM", &r.child.id().to_string()])
        .status()
        .expect("kill");
    for _ in 0..100 {
        if let Some(status) = r.child.try_wait().expect("wait") {
            let mut err = String::new();
            r.child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut err)
                .expect("stderr text");
            return (status, err);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = r.child.kill();
    panic!("the emulator did not stop on SIGTERM");
}

#[tokio::test]
async fn serves_the_demo_and_stops_on_sigterm() {
    let mut r = spawn(&["--demo", "--admin"], &[]);
    let mut api = Api::new(&r.base);
    api.login("demo", "demo-secret").await;
    let programs = api.list_all("/programs").await;
    assert_eq!(programs[0]["name"], "Demo Sustainability Program");
    let pid = programs[0]["id"].as_str().unwrap();
    assert_eq!(
        api.list_all(&format!("/programs/{pid}/metrics"))
            .await
            .len(),
        9
    );
    assert_eq!(api.list_all("/tasks").await.len(), 1);
    let (status, _) = sigterm(&mut r);
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn client_flags_replace_the_default_client_and_secrets_stay_out_of_logs() {
    let mut r = spawn(
        &["--client-id", "ops", "--client-secret", "s3cr3t-value-123"],
        &[("RUST_LOG", "trace")],
    );
    let mut api = Api::new(&r.base);
    api.login("ops", "s3cr3t-value-123").await;
    assert_eq!(api.get("/programs").await.status, 200);
    let refused = api
        .http
        .post(format!("{}/oauth2/token", r.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "demo"),
            ("client_secret", "demo-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let token = api.token.clone().unwrap();
    let banner = r.stdout.lock().unwrap().clone();
    assert!(
        banner.contains("client_id=ops -d client_secret=$CLIENT_SECRET")
            && !banner.contains("demo-secret")
            && !banner.contains("s3cr3t-value-123"),
        "the banner suggests only the configured client, never a secret: {banner}"
    );
    let (status, stderr) = sigterm(&mut r);
    assert!(status.success());
    assert!(
        !stderr.contains("s3cr3t-value-123"),
        "the client secret leaked into the logs"
    );
    assert!(
        !stderr.contains(&token),
        "the access token leaked into the logs"
    );
}

#[tokio::test]
async fn config_file_sets_clients_ttl_and_faults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emulator.toml");
    std::fs::write(
        &path,
        r#"
token_ttl_secs = 120
[[clients]]
id = "pipeline"
secret = "pipeline-secret"
scopes = ["file:read"]
[settings.faults]
error_503 = 1.0
"#,
    )
    .unwrap();
    let mut r = spawn(&["--config", path.to_str().unwrap()], &[]);
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth2/token", r.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "pipeline"),
            ("client_secret", "pipeline-secret"),
        ])
        .send()
        .await
        .unwrap();
    let tok: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(tok["expires_in"], 120);
    assert_eq!(tok["scope"], "file:read");
    let mut api = Api::new(&r.base);
    api.token = tok["access_token"].as_str().map(str::to_string);
    assert_eq!(api.get("/programs").await.status, 503);
    sigterm(&mut r);

    std::fs::write(&path, "token_ttl_secs = 0\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_esg-sync"))
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--config",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("emulator.toml") && err.contains("token_ttl_secs"),
        "{err}"
    );
}

async fn inspect(args: Vec<String>, envs: Vec<(&'static str, String)>) -> (i32, String, String) {
    let r = crate::support::run_esg([vec!["inspect".to_string()], args].concat(), envs).await;
    (r.code.unwrap_or(-1), r.stdout, r.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_lists_every_resource_from_config_and_environment() {
    let env = crate::support::start().await;
    let ids = &env.ids;
    env.api
        .upsert(
            &ids.program,
            &ids.num,
            serde_json::json!([crate::support::val(
                2025,
                serde_json::json!({&ids.facility: "A"}),
                "42.5"
            )]),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("esg-sync.toml");
    std::fs::write(&cfg, format!("[workiva]\nbase_url = \"{}\"\nclient_id = \"wrong-id\"\nclient_secret_env = \"MY_SECRET\"\n", env.emu.base_url())).unwrap();
    let base = |what: &str| {
        vec![
            what.to_string(),
            "--config".into(),
            cfg.to_str().unwrap().into(),
        ]
    };
    let envs = || {
        vec![
            ("MY_SECRET", "demo-secret".to_string()),
            ("ESG_SYNC__WORKIVA__CLIENT_ID", "demo".to_string()),
        ]
    };

    let (code, out, err) = inspect(base("programs"), envs()).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Test Program") && out.contains(&ids.program),
        "{out}"
    );
    let mut a = base("dimensions");
    a.extend(["--program".into(), "Test Program".into()]);
    let (code, out, _) = inspect(a, envs()).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("Site C") && out.contains("OLD") && out.contains("false"),
        "values with their ids and state: {out}"
    );
    let mut a = base("metrics");
    a.extend([
        "--program".into(),
        ids.program.clone(),
        "--filter".into(),
        "dataType eq \"number\"".into(),
    ]);
    let (_, out, _) = inspect(a, envs()).await;
    assert!(
        out.contains("M1") && out.contains("Num") && out.contains("(1 rows)"),
        "{out}"
    );
    let mut a = base("values");
    a.extend([
        "--program".into(),
        "Test Program".into(),
        "--metric".into(),
        "Num".into(),
        "--output".into(),
        "json".into(),
    ]);
    let (code, out, err) = inspect(a, envs()).await;
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["value"], "42.5");
    for what in ["topics", "tasks", "permissions"] {
        let mut a = base(what);
        a.extend(["--program".into(), "Test Program".into()]);
        let (code, out, err) = inspect(a, envs()).await;
        assert_eq!(code, 0, "{what}: {err}");
        assert!(out.contains("rows)"), "{what}: {out}");
    }
    let (_, out, _) = inspect(base("permissions"), envs()).await;
    assert!(out.contains("Owner") && out.contains("Editor"), "{out}");

    // Problems are reported with what to do, and exit 1.
    let (code, _, err) = inspect(base("values"), envs()).await;
    assert_eq!(code, 1);
    assert!(err.contains("needs --program"), "{err}");
    let (code, _, err) = inspect(
        base("programs"),
        vec![("ESG_SYNC__WORKIVA__CLIENT_ID", "demo".to_string())],
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("MY_SECRET"),
        "names the variable to set: {err}"
    );
    let (code, _, err) = inspect(
        base("programs"),
        vec![("MY_SECRET", "demo-secret".to_string())],
    )
    .await;
    assert_eq!(
        code, 1,
        "the file's wrong id is refused when no override is given"
    );
    assert!(
        err.contains("invalid_client") && !err.contains("demo-secret"),
        "{err}"
    );
    let mut a = base("metrics");
    a.extend(["--program".into(), "No Such Program".into()]);
    let (code, _, err) = inspect(a, envs()).await;
    assert_eq!(code, 1);
    assert!(err.contains("no program named `No Such Program`"), "{err}");
}

#[tokio::test]
async fn seed_file_flag_loads_a_tenant_next_to_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(&seed, r#"{"programs": [{"name": "From File", "dimensions": [{"name": "Site", "values": [{"id": "S1"}]}]}]}"#).unwrap();
    let mut r = spawn(&["--demo", "--seed", seed.to_str().unwrap()], &[]);
    let mut api = Api::new(&r.base);
    api.login("demo", "demo-secret").await;
    let names: Vec<String> = api
        .list_all("/programs")
        .await
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["Demo Sustainability Program", "From File"]);
    sigterm(&mut r);

    std::fs::write(&seed, r#"{"programs": [{"name": "Bad", "metrics": [{"name": "M", "allowedDimensions": ["Nope"]}]}]}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_esg-sync"))
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--seed",
            seed.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("metric `M`"),
        "a bad seed names what is wrong: {err}"
    );
}

#[tokio::test]
async fn logs_are_text_or_json_and_rust_log_filters_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("esg-sync.toml");
    std::fs::write(
        &cfg,
        format!(
            "[emulator]\nembedded = true\ndemo = true\n\n[store]\nurl = \"sqlite://{}/s.db\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let run = |format: Option<&'static str>, level: &'static str| {
        let mut args = vec![
            "validate".to_string(),
            "--config".into(),
            cfg.display().to_string(),
        ];
        if let Some(f) = format {
            args.extend(["--log-format".to_string(), f.to_string()]);
        }
        crate::support::run_esg(args, vec![("RUST_LOG", level.to_string())])
    };
    // Not a terminal here, so `auto` means JSON: one object per line.
    let out = run(None, "info").await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("Started the embedded Workiva emulator"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["level"], "INFO");
    assert_eq!(
        v["fields"]["message"],
        "Started the embedded Workiva emulator."
    );
    assert!(
        v["fields"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(v["timestamp"].is_string());
    let out = run(Some("json"), "info").await;
    assert!(
        out.stderr
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );
    let out = run(Some("text"), "info").await;
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("Started the embedded Workiva emulator"))
        .unwrap();
    assert!(line.contains("INFO") && !line.starts_with('{'), "{line}");
    // RUST_LOG filters.
    let out = run(Some("text"), "warn").await;
    assert!(
        !out.stderr.contains("Started the embedded"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_fatal_error_is_a_json_line_under_json_logs() {
    let out = Command::new(env!("CARGO_BIN_EXE_esg-sync"))
        .args([
            "runs",
            "--config",
            "/no/such/esg-sync.toml",
            "--log-format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line: serde_json::Value = serde_json::from_str(err.trim())
        .unwrap_or_else(|e| panic!("not one JSON line ({e}): {err}"));
    assert_eq!(line["level"], "ERROR");
    assert!(
        line["fields"]["error"]
            .as_str()
            .unwrap()
            .contains("/no/such/esg-sync.toml")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_esg-sync"))
        .args([
            "runs",
            "--config",
            "/no/such/esg-sync.toml",
            "--log-format",
            "text",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: config file /no/such/esg-sync.toml")
    );
}
