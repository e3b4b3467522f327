//! One run of a pipeline at a time, across processes: a run holds its pipeline's lease in the
//! state store and renews it while it goes. A second daemon on the same store, or a `run-now`
//! started while the daemon runs the pipeline, finds the lease held and does not start. A
//! holder that died without giving the lease back loses it when it expires, or at once when it
//! was on this host and its process is gone.

use std::sync::OnceLock;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::{Store, StoreError};

/// How long a lease lasts without renewal.
pub const TTL: Duration = Duration::from_secs(120);

/// This host's name, read once.
fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|| "unknown-host".into())
    })
}

/// This process: `host/pid/tag`, the tag telling apart two processes that had one pid.
pub fn holder_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        format!("{}/{}/{}", host(), std::process::id(), &tag[..8])
    })
}

/// Whether `holder` is known to be gone: on this host, with its process no longer running
/// (or with our pid: an earlier life of a container whose process is always pid 1).
pub fn is_dead(holder: &str) -> bool {
    let mut parts = holder.rsplitn(3, '/');
    let (Some(_tag), Some(pid), Some(h)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if h != host() || holder == holder_id() {
        return false;
    }
    match pid.parse::<u32>() {
        Ok(p) if p == std::process::id() => true,
        Ok(p) => cfg!(target_os = "linux") && !std::path::Path::new(&format!("/proc/{p}")).exists(),
        Err(_) => false,
    }
}

/// A held lease; renewed in the background until released or dropped. When it turns out to be
/// lost (taken over by another process, or not renewed before it expired), `on_loss` is
/// cancelled: the run holding it sends no new batch.
pub struct Lease {
    store: Store,
    pipeline: String,
    /// The fencing token this acquisition raised the lease to.
    token: i64,
    ttl: Duration,
    lost: Lost,
    renew: tokio::task::JoinHandle<()>,
}

/// The loss of a lease: its own flag, and the run's stop token.
#[derive(Clone)]
struct Lost {
    flag: CancellationToken,
    on_loss: CancellationToken,
}

impl Lost {
    fn cancel(&self) {
        self.flag.cancel();
        self.on_loss.cancel();
    }
}

/// Who holds a lease this process could not take, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBy {
    pub holder: String,
    pub until: String,
}

/// Takes the lease of `pipeline` for `ttl`, or says who holds it. `on_loss` is cancelled if
/// the lease is lost while held.
pub async fn acquire(
    store: &Store,
    pipeline: &str,
    ttl: Duration,
    on_loss: CancellationToken,
) -> Result<Result<Lease, HeldBy>, StoreError> {
    let lost = Lost {
        flag: CancellationToken::new(),
        on_loss,
    };
    let me = holder_id();
    match store.lease_acquire(pipeline, me, ttl, is_dead).await? {
        Err((holder, until)) => Ok(Err(HeldBy { holder, until })),
        Ok(token) => {
            let (s, p, gone) = (store.clone(), pipeline.to_string(), lost.clone());
            let renew = tokio::spawn(async move {
                let mut renewed = tokio::time::Instant::now();
                loop {
                    tokio::time::sleep(ttl / 4).await;
                    match s.lease_renew(&p, me, ttl).await {
                        Ok(true) => renewed = tokio::time::Instant::now(),
                        Ok(false) => {
                            tracing::error!(pipeline = %p, "The pipeline's lease was taken over by another process; sending no new batch.");
                            gone.cancel();
                            return;
                        }
                        Err(e) if renewed.elapsed() >= ttl => {
                            tracing::error!(pipeline = %p, error = %e, "The pipeline's lease could not be renewed before it expired; sending no new batch.");
                            gone.cancel();
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(pipeline = %p, error = %e, "Cannot renew the pipeline's lease; trying again.")
                        }
                    }
                }
            });
            Ok(Ok(Lease {
                store: store.clone(),
                pipeline: pipeline.to_string(),
                token,
                ttl,
                lost,
                renew,
            }))
        }
    }
}

impl Lease {
    /// The store as the run holding this lease writes to it: every write checked against the
    /// lease's fencing token, so once another process has taken the lease, nothing this run
    /// still tries to record lands.
    pub fn fenced_store(&self) -> Store {
        self.store.fenced(crate::store::Fence {
            pipeline: self.pipeline.clone(),
            token: self.token,
            holder: holder_id().to_string(),
        })
    }

    /// Renews the lease now and says whether it is still this process's; called before each
    /// batch is sent, so a batch never goes out under a lease another process holds. A store
    /// that cannot answer is not taken as a loss here: recording the batch fails first.
    pub async fn confirm(&self) -> bool {
        if self.is_lost() {
            return false;
        }
        match self
            .store
            .lease_renew(&self.pipeline, holder_id(), self.ttl)
            .await
        {
            Ok(false) => {
                tracing::error!(pipeline = %self.pipeline, "The pipeline's lease was taken over by another process; sending no new batch.");
                self.lost.cancel();
                false
            }
            Ok(true) | Err(_) => true,
        }
    }

    /// Whether the lease was lost while held.
    pub fn is_lost(&self) -> bool {
        self.lost.flag.is_cancelled()
    }

    /// Gives the lease back.
    pub async fn release(self) {
        self.renew.abort();
        if self.is_lost() {
            return;
        }
        if let Err(e) = self.store.lease_release(&self.pipeline, holder_id()).await {
            tracing::warn!(pipeline = %self.pipeline, error = %e, "Cannot give the pipeline's lease back; it expires on its own.");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_and_the_dead() {
        let me = holder_id();
        assert!(!is_dead(me), "never ourselves");
        let h = host();
        assert!(
            is_dead(&format!("{h}/{}/deadbeef", std::process::id())),
            "our pid with another tag is an earlier life"
        );
        if cfg!(target_os = "linux") {
            assert!(is_dead(&format!("{h}/4294967/deadbeef")), "no such process");
            assert!(!is_dead(&format!("{h}/1/deadbeef")), "pid 1 runs");
        }
        assert!(
            !is_dead("another-host/4294967/deadbeef"),
            "another host's process cannot be checked"
        );
        assert!(!is_dead("garbage"));
    }
}
