//! A pipeline's lease on a virtual clock (tokio's paused time): renewals every eighth of the
//! TTL, a lease the store stops confirming given up after a third of it, and a lease taken
//! over found lost at the next renewal. Minutes of lease time pass in milliseconds.
//!
//! When a lease expires is the database's clock, on purpose (replicas' clocks may disagree;
//! the store's does not), so a takeover after a real pause or a real kill is proven with real
//! processes in `fencing.rs` and `replicas.rs`.

use std::time::Duration;

use esg_sync::store::Store;
use esg_sync::sync::lease;
use tokio_util::sync::CancellationToken;

const TTL: Duration = Duration::from_secs(120);

/// A SQLite store in `dir`, opened before the clock is paused (its connection opens on a
/// thread of its own, which a paused clock would race).
async fn store(dir: &tempfile::TempDir) -> Store {
    let s = Store::connect(&format!("sqlite://{}/lease.db", dir.path().display()))
        .await
        .unwrap();
    // Warm the pool: every later statement finds a connection open.
    s.leases().await.unwrap();
    s
}

/// Pauses tokio's clock so that it moves only when [`pass`] moves it: a task that never
/// stops yielding keeps the runtime from ever being idle, which would let the paused clock
/// jump ahead on its own (to a pool's acquire timeout, say) while a statement runs on
/// SQLite's thread.
fn pause() -> tokio::task::JoinHandle<()> {
    tokio::time::pause();
    tokio::spawn(async {
        loop {
            tokio::task::yield_now().await;
        }
    })
}

/// Moves virtual time on by `d`, then lets what came due (a renewal and its statement,
/// which take real time on SQLite's thread) run for a few real milliseconds.
async fn pass(d: Duration) {
    tokio::time::advance(d).await;
    settle().await;
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits (in real time, at most `secs`) until `cond` holds.
async fn until(secs: u64, cond: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        settle().await;
    }
    cond()
}

/// A store in `dir`, the clock paused, and pipeline `p`'s lease taken for [`TTL`].
struct Setup {
    store: Store,
    spin: tokio::task::JoinHandle<()>,
    on_loss: CancellationToken,
    held: lease::Lease,
}

async fn setup(dir: &tempfile::TempDir) -> Setup {
    let store = store(dir).await;
    let spin = pause();
    let on_loss = CancellationToken::new();
    let held = lease::acquire(&store, "p", TTL, on_loss.clone())
        .await
        .unwrap()
        .expect("a free lease is taken");
    Setup {
        store,
        spin,
        on_loss,
        held,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_lease_the_store_stops_confirming_is_given_up_after_a_third_of_its_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let Setup {
        store: s,
        spin,
        on_loss,
        held,
    } = setup(&dir).await;
    // The store goes away: every renewal from now on fails.
    s.close().await;
    // Two renewals fail (at 15 s and 30 s) while the last confirmation is younger than 40 s:
    // the run keeps its lease and goes on.
    pass(TTL / 8).await;
    pass(TTL / 8).await;
    pass(Duration::from_secs(5)).await;
    assert!(
        !on_loss.is_cancelled() && !held.is_lost(),
        "35 s unconfirmed is under a third of the TTL"
    );
    // The third (at 45 s) is past a third of the TTL: the lease is given up and the run told.
    pass(TTL / 8).await;
    assert!(until(10, || on_loss.is_cancelled() && held.is_lost()).await);
    // And its gate refuses every write attempt from then on.
    let gate = held.gate(CancellationToken::new());
    assert_eq!(
        gate.check().await.as_deref(),
        Some("the pipeline's lease was lost")
    );
    spin.abort();
}

#[tokio::test(flavor = "current_thread")]
async fn a_lease_taken_over_is_found_lost_at_the_next_renewal_and_its_writes_are_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let Setup {
        store: s,
        spin,
        on_loss,
        held,
    } = setup(&dir).await;
    // Ten minutes of renewals: the lease stays ours, each renewal moving its expiry on.
    let before = s.leases().await.unwrap()[0].clone();
    for _ in 0..40 {
        pass(TTL / 8).await;
    }
    let after = s.leases().await.unwrap()[0].clone();
    assert!(!held.is_lost() && !on_loss.is_cancelled());
    assert_eq!(after.token, before.token, "a renewal keeps the token");
    assert!(after.expires_at > before.expires_at, "{before:?} {after:?}");
    // Another replica takes the lease (as it would once this one's had lapsed).
    s.lease_release("p", lease::holder_id()).await.unwrap();
    let taken = s
        .lease_acquire("p", "other-host/1/abcdef01-00000000", TTL, |_| false)
        .await
        .unwrap();
    assert_eq!(taken, Ok(before.token + 1));
    // Before the next renewal this replica does not know yet; at it (within two renewal
    // periods: one may have been under way at the takeover), the run is told, its gate
    // refuses, and its fenced store refuses every write.
    assert!(!held.is_lost());
    let mut periods = 0;
    while periods < 2 && !until(1, || held.is_lost()).await {
        pass(TTL / 8).await;
        periods += 1;
    }
    assert!(
        until(5, || on_loss.is_cancelled() && held.is_lost()).await,
        "{periods} periods"
    );
    let gate = held.gate(CancellationToken::new());
    assert_eq!(
        gate.check().await.as_deref(),
        Some("the pipeline's lease was lost")
    );
    let fenced = held.fenced_store();
    let run = fenced.run_start("p").await;
    assert!(
        run.as_ref().is_err_and(|e| e.is_fenced()),
        "a fenced write lands: {run:?}"
    );
    spin.abort();
}
