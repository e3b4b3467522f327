//! One run of a pipeline at a time, across processes: a run holds its pipeline's lease in the
//! state store and renews it while it goes. A second daemon on the same store, or a `run-now`
//! started while the daemon runs the pipeline, finds the lease held and does not start. A
//! holder that died without giving the lease back loses it when it expires, or at once when it
//! was on this host and its process is gone.

use std::sync::{Arc, OnceLock};
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

/// Where this process's pid means something: the boot (`/proc/sys/kernel/random/boot_id`)
/// and the pid namespace (`/proc/self/ns/pid`), hashed to 8 hex digits. Two containers that
/// share a hostname (host networking, compose `hostname:`) have separate pid namespaces, so
/// neither takes the other's pid for one of its own.
fn locality() -> &'static str {
    static LOC: OnceLock<String> = OnceLock::new();
    LOC.get_or_init(|| {
        use sha2::Digest;
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
        let ns = std::fs::read_link("/proc/self/ns/pid")
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if boot.is_empty() || ns.is_empty() {
            // Nothing to tell namespaces apart by: a fresh value, so no other process is
            // ever taken for one of ours (leases then pass by expiry alone).
            return uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        }
        let d = sha2::Sha256::digest(format!("{}|{ns}", boot.trim()).as_bytes());
        d[..4].iter().map(|b| format!("{b:02x}")).collect()
    })
}

/// This process: `host/pid/tag-locality`, the tag telling apart two processes that had one
/// pid, the locality saying where that pid can be looked up ([`locality`]).
pub fn holder_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        format!(
            "{}/{}/{}-{}",
            host(),
            std::process::id(),
            &tag[..8],
            locality()
        )
    })
}

/// Whether `holder` is known to be gone: in this pid namespace of this boot, with its process
/// no longer running (or with our pid: an earlier life of a process that always gets one pid,
/// such as a service restarted by systemd). A holder elsewhere, or of an older format, is
/// never taken for dead: its lease passes when it expires.
pub fn is_dead(holder: &str) -> bool {
    let mut parts = holder.rsplitn(3, '/');
    let (Some(tag), Some(pid), Some(_host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let here = tag
        .rsplit_once('-')
        .is_some_and(|(_, loc)| loc == locality());
    if !here || holder == holder_id() {
        return false;
    }
    match pid.parse::<u32>() {
        Ok(p) if p == std::process::id() => true,
        Ok(p) => cfg!(target_os = "linux") && !std::path::Path::new(&format!("/proc/{p}")).exists(),
        Err(_) => false,
    }
}

/// A held lease; renewed in the background until released or dropped. When it turns out to be
/// lost (taken over by another process, or not renewed for a third of its TTL), `on_loss` is
/// cancelled: the run holding it sends nothing more to Workiva.
pub struct Lease {
    state: Arc<Held>,
    renew: tokio::task::JoinHandle<()>,
}

/// What a lease's holder, its renewer and its gate share.
struct Held {
    store: Store,
    pipeline: String,
    /// The fencing token this acquisition raised the lease to.
    token: i64,
    ttl: Duration,
    lost: Lost,
    /// When the store last confirmed the lease.
    renewed: std::sync::Mutex<tokio::time::Instant>,
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
    pub until: chrono::DateTime<chrono::Utc>,
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
            let state = Arc::new(Held {
                store: store.clone(),
                pipeline: pipeline.to_string(),
                token,
                ttl,
                lost,
                renewed: std::sync::Mutex::new(tokio::time::Instant::now()),
            });
            let renewer = state.clone();
            let renew = tokio::spawn(async move {
                while !renewer.is_lost() {
                    tokio::time::sleep(ttl / 8).await;
                    renewer.renew().await;
                }
            });
            Ok(Ok(Lease { state, renew }))
        }
    }
}

impl Held {
    fn is_lost(&self) -> bool {
        self.lost.flag.is_cancelled()
    }

    /// Renews the lease; false once it is lost: taken over, or not confirmed by the store for
    /// a third of the TTL (so this process stops writing well before the lease expires and
    /// another may take it).
    async fn renew(&self) -> bool {
        if self.is_lost() {
            return false;
        }
        match self
            .store
            .lease_renew(&self.pipeline, holder_id(), self.ttl)
            .await
        {
            Ok(true) => {
                *self.renewed.lock().unwrap_or_else(|p| p.into_inner()) =
                    tokio::time::Instant::now();
                true
            }
            Ok(false) => {
                tracing::error!(pipeline = %self.pipeline, "The pipeline's lease was taken over by another process; sending nothing more to Workiva.");
                self.lost.cancel();
                false
            }
            Err(e) => {
                let since = self
                    .renewed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .elapsed();
                if since >= self.ttl / 3 {
                    tracing::error!(pipeline = %self.pipeline, error = %e, unconfirmed_secs = since.as_secs(), "The pipeline's lease could not be renewed for a third of its TTL; giving it up and sending nothing more to Workiva.");
                    self.lost.cancel();
                    return false;
                }
                tracing::warn!(pipeline = %self.pipeline, error = %e, "Cannot renew the pipeline's lease; trying again.");
                true
            }
        }
    }
}

/// A run's gate on Workiva writes: each attempt goes only while the run is not stopping and
/// its lease is confirmed.
struct RunGate {
    lease: Arc<Held>,
    stop: CancellationToken,
}

impl crate::workiva::gate::Gate for RunGate {
    fn check(&self) -> futures_util::future::BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            if !self.lease.renew().await {
                return Some("the pipeline's lease was lost".into());
            }
            self.stop
                .is_cancelled()
                .then(|| "the run is stopping".to_string())
        })
    }
}

impl Lease {
    /// The store as the run holding this lease writes to it: every write checked against the
    /// lease's fencing token, so once another process has taken the lease, nothing this run
    /// still tries to record lands.
    pub fn fenced_store(&self) -> Store {
        self.state.store.fenced(crate::store::Fence {
            pipeline: self.state.pipeline.clone(),
            token: self.state.token,
            holder: holder_id().to_string(),
        })
    }

    /// The gate the run's Workiva writes go through ([`crate::workiva::gate`]): a write
    /// attempt, first or retry, goes only while `stop` is not cancelled and the lease is
    /// confirmed now.
    pub fn gate(&self, stop: CancellationToken) -> Arc<dyn crate::workiva::gate::Gate> {
        Arc::new(RunGate {
            lease: self.state.clone(),
            stop,
        })
    }

    /// Renews the lease now and says whether it is still this process's; called before each
    /// batch is sent, so a batch never goes out under a lease another process holds.
    pub async fn confirm(&self) -> bool {
        self.state.renew().await
    }

    /// Whether the lease was lost while held.
    pub fn is_lost(&self) -> bool {
        self.state.is_lost()
    }

    /// Gives the lease back.
    pub async fn release(self) {
        self.renew.abort();
        if self.is_lost() {
            return;
        }
        let s = &self.state;
        if let Err(e) = s.store.lease_release(&s.pipeline, holder_id()).await {
            tracing::warn!(pipeline = %s.pipeline, error = %e, "Cannot give the pipeline's lease back; it expires on its own.");
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
        let (h, loc) = (host(), locality());
        assert!(
            is_dead(&format!("{h}/{}/deadbeef-{loc}", std::process::id())),
            "our pid with another tag is an earlier life"
        );
        if cfg!(target_os = "linux") {
            assert!(
                is_dead(&format!("{h}/4294967/deadbeef-{loc}")),
                "no such process"
            );
            assert!(!is_dead(&format!("{h}/1/deadbeef-{loc}")), "pid 1 runs");
        }
        assert!(
            !is_dead(&format!("{h}/4294967/deadbeef-0badf00d")),
            "the same hostname in another pid namespace (a sibling container) cannot be checked"
        );
        assert!(
            !is_dead(&format!("{h}/{}/deadbeef", std::process::id())),
            "an older holder format says nothing of where its pid lives"
        );
        assert!(!is_dead("garbage"));
    }
}
