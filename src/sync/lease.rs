//! One run of a pipeline at a time, across processes: a run holds its pipeline's lease in the
//! state store and renews it while it goes. A second daemon on the same store, or a `run-now`
//! started while the daemon runs the pipeline, finds the lease held and does not start. A
//! holder that died without giving the lease back loses it when it expires, or at once when it
//! was on this host and its process is gone.

use std::sync::OnceLock;
use std::time::Duration;

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

/// A held lease; renewed in the background until released or dropped.
pub struct Lease {
    store: Store,
    pipeline: String,
    renew: tokio::task::JoinHandle<()>,
}

/// Who holds a lease this process could not take, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBy {
    pub holder: String,
    pub until: String,
}

/// Takes the lease of `pipeline`, or says who holds it.
pub async fn acquire(store: &Store, pipeline: &str) -> Result<Result<Lease, HeldBy>, StoreError> {
    let me = holder_id();
    match store.lease_acquire(pipeline, me, TTL, is_dead).await? {
        Err((holder, until)) => Ok(Err(HeldBy { holder, until })),
        Ok(()) => {
            let (s, p) = (store.clone(), pipeline.to_string());
            let renew = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(TTL / 4).await;
                    match s.lease_renew(&p, me, TTL).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::error!(pipeline = %p, "The pipeline's lease was taken over by another process.");
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
                renew,
            }))
        }
    }
}

impl Lease {
    /// Gives the lease back.
    pub async fn release(self) {
        self.renew.abort();
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
