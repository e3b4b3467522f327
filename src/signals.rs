//! SIGTERM and SIGINT, for every command that stops on them: the daemon and `run-now` stop
//! cleanly on the first and exit at once on the second; the emulator stops on the first.

use tokio_util::sync::CancellationToken;

/// Exit status after a second signal.
pub const FORCED_EXIT: u8 = 130;

/// Waits for SIGTERM or SIGINT (Ctrl-C); names it.
pub async fn next() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (mut term, mut int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            _ => {
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            }
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// On the first signal: log `stopping` and cancel `stop`. On the second: exit at once with
/// [`FORCED_EXIT`]. Abort the task to stop listening.
pub fn stop_on_signals(
    stop: CancellationToken,
    stopping: &'static str,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let first = next().await;
        tracing::warn!(signal = first, "{stopping}");
        stop.cancel();
        let second = next().await;
        tracing::warn!(
            signal = second,
            "Second signal: exiting at once; the next start resumes what was in flight."
        );
        std::process::exit(FORCED_EXIT as i32);
    })
}
