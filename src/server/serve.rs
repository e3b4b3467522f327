//! Serving the daemon's endpoints with limits axum's own `serve` lacks: a cap on connections
//! served at once, a time limit on reading a request head (and on a kept-alive connection's
//! wait for its next request), an idle limit on any connection on which no byte moves, and a
//! shutdown that stops accepting at once and drops what is left at the grace deadline, so a
//! half-sent request can neither hold the process open nor use up its file descriptors.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The server's limits (`[daemon]` keys of the same names).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// How long connections still open at the grace deadline get to finish the answer they are
/// writing before they are dropped.
const LAST_WORDS: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `stopping` (no new connections from then on) and
/// `closing` (connections still open are asked to finish, then dropped).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stopping: CancellationToken,
    closing: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut conns = JoinSet::new();
    loop {
        // A free slot first: beyond the cap, connections wait in the kernel's backlog.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stopping.cancelled() => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(error = %e, "Cannot accept a connection; trying again shortly.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopping.cancelled() => break,
        };
        while conns.try_join_next().is_some() {}
        let (app, closing) = (app.clone(), closing.clone());
        conns.spawn(async move {
            let _permit = permit;
            connection(stream, app, limits, closing).await;
        });
    }
    drop(listener);
    tokio::select! {
        _ = async { while conns.join_next().await.is_some() {} } => return,
        _ = closing.cancelled() => {}
    }
    let _ = tokio::time::timeout(LAST_WORDS, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
}

/// One connection, HTTP/1.1, until it ends, idles past the limit, or the server closes.
async fn connection(stream: TcpStream, app: Router, limits: Limits, closing: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let start = Instant::now();
    let moved = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Watched {
        inner: stream,
        start,
        moved: moved.clone(),
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, TowerToHyperService::new(app));
    tokio::pin!(conn);
    let mut asked_to_close = false;
    loop {
        let last = start + Duration::from_millis(moved.load(Ordering::Relaxed));
        let idle_deadline = last + limits.idle_timeout;
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = closing.cancelled(), if !asked_to_close => {
                // Idle keep-alive connections end at once; one mid-answer finishes it.
                conn.as_mut().graceful_shutdown();
                asked_to_close = true;
            }
            _ = tokio::time::sleep_until(idle_deadline) => {
                let now_last = start + Duration::from_millis(moved.load(Ordering::Relaxed));
                if now_last + limits.idle_timeout <= Instant::now() {
                    tracing::debug!(idle_secs = limits.idle_timeout.as_secs(), "Closed a connection on which nothing moved.");
                    return;
                }
            }
        }
    }
}

/// A socket that notes when a byte last moved either way (milliseconds since `start`).
struct Watched {
    inner: TcpStream,
    start: Instant,
    moved: Arc<AtomicU64>,
}

impl Watched {
    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.moved.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
