//! The status page in a real headless browser (Chromium through chromedriver, which
//! `.ci/run` installs from Debian and names in `ESG_SYNC_TEST_CHROMEDRIVER`). A daemon runs a
//! pipeline whose runs reject a row; the browser loads `/`, finds the pipeline, its runs, its
//! chart and its rejects, and downloads the rejects CSV through the page's link.

use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::support::env::{sync_env, write_rows};
use crate::support::eventually;
use crate::support::pipeline::{ConfigToml, PipelineToml};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The browser's own profile folder; when dropped (the test ended, passed or not), every
/// process started with it ends too, so no Chromium outlives a failed test.
struct Profile(tempfile::TempDir);

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-f", &self.0.path().display().to_string()])
            .status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A WebDriver session (the W3C protocol is plain HTTP and JSON).
struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if !body.is_null() {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        let v: Value = r.json().await.unwrap();
        assert!(v["value"]["error"].is_null(), "webdriver {path}: {v}");
        v["value"].clone()
    }

    /// The id of the element `css` selects.
    async fn find(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        let id = found.as_object().and_then(|o| o.values().next());
        id.and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_the_pipelines_and_downloads_the_rejects_in_a_browser() {
    let Some(driver) = crate::support::outside(
        "ESG_SYNC_TEST_CHROMEDRIVER",
        ".ci/run installs chromium and chromedriver and sets it",
    ) else {
        return;
    };
    let e = sync_env().await;
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2025-01", "A", "", "10", ""),
            ("ghg", "2025-02", "A", "", "12,5", ""),
        ],
    );
    let cfg = ConfigToml::new(
        &e.env.emu.base_url(),
        &format!("sqlite://{}/page-state.db", e.dir.path().display()),
    )
    .workiva("poll_min_ms", "5")
    .workiva("poll_max_ms", "100")
    .table("[daemon]\nlisten = \"127.0.0.1:0\"")
    .pipeline(
        PipelineToml::new("emissions", "Test Program", &e.file("data.parquet"))
            .schedule("*/2 * * * * *"),
    )
    .write(e.file("page.toml"));
    let _daemon = crate::support::daemon::Daemon::spawn_with(
        "daemon",
        &cfg,
        "info",
        &[("ESG_SYNC_TEST_SECRET", "demo-secret")],
    );
    let addr = _daemon.addr().await;
    // Two runs, so the page has a history.
    let store_url = format!("sqlite://{}/page-state.db", e.dir.path().display());
    let two_runs = eventually(|| async {
        let Ok(s) = esg_sync::store::Store::connect(&store_url).await else {
            return false;
        };
        let n = s
            .runs_of("emissions", 10)
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.finished_at.is_some())
            .count();
        s.close().await;
        n >= 2
    })
    .await;
    assert!(two_runs);

    let port = free_port();
    let _driver = Killed(
        Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        eventually(|| async { http.get(format!("{base}/status")).send().await.is_ok() }).await,
        "chromedriver did not start"
    );
    let downloads = tempfile::tempdir().unwrap();
    let profile = Profile(tempfile::tempdir().unwrap());
    let profile_arg = format!("--user-data-dir={}", profile.0.path().display());
    let chromium = std::env::var("ESG_SYNC_TEST_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
    let session: Value = http
        .post(format!("{base}/session"))
        .json(&json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", profile_arg],
                "prefs": {
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false
                }
            }
        }}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = session["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {session}"))
        .to_string();
    let b = Browser {
        http: http.clone(),
        base: format!("{base}/session/{id}"),
    };
    use reqwest::Method;
    b.call(
        Method::POST,
        "/url",
        json!({"url": format!("http://{addr}/")}),
    )
    .await;
    let title = b.call(Method::GET, "/title", Value::Null).await;
    assert_eq!(title, "esg-sync status");
    let section = b.find("section#pipeline-emissions").await;
    let shown = b
        .call(
            Method::GET,
            &format!("/element/{section}/text"),
            Value::Null,
        )
        .await;
    let shown = shown.as_str().unwrap();
    assert!(shown.contains("emissions"), "{shown}");
    assert!(
        shown.contains("partial"),
        "the runs and their status: {shown}"
    );
    assert!(
        shown.contains("Next run: 20"),
        "a time, from the schedule: {shown}"
    );
    assert!(
        shown.contains("is not a number"),
        "the last run's rejects: {shown}"
    );
    let source = b.call(Method::GET, "/source", Value::Null).await;
    let source = source.as_str().unwrap();
    assert!(source.contains("<svg"), "the chart");
    assert!(!source.contains("<script"), "no JavaScript");
    assert!(!source.contains("demo-secret"), "never a secret");
    // A screenshot for people who look at the test's output folder.
    let png = b.call(Method::GET, "/screenshot", Value::Null).await;
    assert!(png.as_str().is_some_and(|s| s.len() > 1000));
    if let Ok(dir) = std::env::var("ESG_SYNC_TEST_SCREENSHOT_DIR") {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(std::path::Path::new(&dir).join("status-page.png"), bytes).unwrap();
    }
    // The rejects CSV downloads through the page's link.
    let link = b.find("a.rejects-csv").await;
    b.call(Method::POST, &format!("/element/{link}/click"), json!({}))
        .await;
    let downloaded = eventually(|| async {
        std::fs::read_dir(downloads.path())
            .unwrap()
            .filter_map(Result::ok)
            .any(|f| f.file_name().to_string_lossy().ends_with("-rejects.csv"))
    })
    .await;
    assert!(downloaded, "the CSV was downloaded");
    let file = std::fs::read_dir(downloads.path())
        .unwrap()
        .filter_map(Result::ok)
        .find(|f| f.file_name().to_string_lossy().ends_with("-rejects.csv"))
        .unwrap();
    let csv = std::fs::read_to_string(file.path()).unwrap();
    assert!(
        csv.starts_with("run,source_file,source_row,field,reason,metric_key,period,value\n"),
        "{csv}"
    );
    assert!(csv.contains(",2,value,"), "the rejected row: {csv}");
    assert!(csv.contains("\"12,5\""), "its value, quoted: {csv}");
    let _ = http.delete(format!("{base}/session/{id}")).send().await;
    // A run this daemon does not serve, or no run at all, has no rejects to download.
    for path in ["/runs/999999/rejects.csv", "/runs/x/rejects.csv"] {
        let r = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}
