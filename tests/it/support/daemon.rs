//! The `esg-sync` binary as a child process with its log collected.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::eventually;

/// A running `esg-sync daemon` with its log lines collected (the other daemon tests, in
/// `alerts`, `browser` and `replicas`, use it too).
pub(crate) struct Daemon {
    pub(crate) child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    pub(crate) fn start(cfg: &std::path::Path) -> Self {
        Self::spawn("daemon", cfg, "demo-secret")
    }

    /// The daemon with this secret, logging everything (`RUST_LOG=trace`).
    pub(crate) fn start_tracing(cfg: &std::path::Path, secret: &str) -> Self {
        Self::spawn_logging("daemon", cfg, secret, "trace")
    }

    pub(crate) fn spawn(command: &str, cfg: &std::path::Path, secret: &str) -> Self {
        Self::spawn_logging(command, cfg, secret, "info")
    }

    pub(crate) fn spawn_logging(
        command: &str,
        cfg: &std::path::Path,
        secret: &str,
        level: &str,
    ) -> Self {
        Self::spawn_with(command, cfg, level, &[("ESG_SYNC_TEST_SECRET", secret)])
    }

    /// `esg-sync COMMAND --config CFG` at log level `level`, with these variables set.
    pub(crate) fn spawn_with(
        command: &str,
        cfg: &std::path::Path,
        level: &str,
        env: &[(&str, &str)],
    ) -> Self {
        Self::spawn_prefixed(&[], command, cfg, level, env)
    }

    /// As [`Daemon::spawn_with`], run through `prefix` (`unshare --pid --kill-child`, say).
    pub(crate) fn spawn_prefixed(
        prefix: &[&str],
        command: &str,
        cfg: &std::path::Path,
        level: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let bin = env!("CARGO_BIN_EXE_esg-sync");
        let (program, before) = match prefix.split_first() {
            Some((p, rest)) => (*p, [rest, &[bin]].concat()),
            None => (bin, Vec::new()),
        };
        let mut child = Command::new(program)
            .args(before)
            .args([command, "--config", cfg.to_str().unwrap()])
            .envs(env.iter().copied())
            .env("RUST_LOG", level)
            .env_remove("ESG_SYNC_LOG_FORMAT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (l, err) = (log.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                match line {
                    Ok(line) => l.lock().unwrap().push(line),
                    Err(_) => break,
                }
            }
        });
        Self { child, log }
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The address of the HTTP endpoints, from the start-up log line (JSON: stderr is a pipe).
    pub(crate) async fn addr(&self) -> String {
        let found = Mutex::new(None);
        let seen = eventually(|| async {
            for line in self.log.lock().unwrap().iter() {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
                if let Some(a) = v["fields"]["addr"].as_str() {
                    *found.lock().unwrap() = Some(a.to_string());
                    return true;
                }
            }
            false
        })
        .await;
        assert!(seen, "no address in the log:\n{}", self.log());
        found.into_inner().unwrap().unwrap()
    }

    pub(crate) fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Waits for the exit, at most `limit`.
    /// The exit code once it exited (`None`: a signal ended it), within `limit`.
    pub(crate) async fn exit(&mut self, limit: Duration) -> Option<i32> {
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            if t.elapsed() > limit {
                let _ = self.child.kill();
                panic!("the daemon did not exit within {limit:?}:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
