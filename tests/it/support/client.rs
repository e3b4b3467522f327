//! A Workiva client for the emulator, and the log lines it writes.

use std::io::Write;
use std::sync::{Arc, Mutex};

use esg_sync::workiva::{WorkivaClient, WorkivaConfig};

use crate::support::Env;

/// A client for the emulator, tuned for fast tests.
pub fn client_config(env: &Env) -> WorkivaConfig {
    WorkivaConfig {
        base_url: Some(env.emu.base_url()),
        client_id: "demo".into(),
        client_secret: Some("demo-secret".into()),
        requests_per_second: 0.0,
        backoff_base_ms: 5,
        backoff_max_ms: 50,
        poll_min_ms: 5,
        poll_max_ms: 200,
        max_attempts: 10,
        max_retry_secs: 60,
        ..WorkivaConfig::default()
    }
}

pub fn client(env: &Env) -> WorkivaClient {
    WorkivaClient::new(client_config(env)).expect("client builds")
}

#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).to_string()
    }
}

/// Captures every log event of this thread at TRACE level.
pub fn capture_logs() -> (Capture, tracing::subscriber::DefaultGuard) {
    let c = Capture::default();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(c.clone())
        .finish();
    let guard = tracing::subscriber::set_default(sub);
    // Another test's thread may have cached a call site's interest while no subscriber
    // wanted it: ask every call site again, now that this one does.
    tracing::callsite::rebuild_interest_cache();
    (c, guard)
}
