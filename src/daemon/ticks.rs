//! The daemon's schedule ticks: kept in the store, with a `tick_missed` alert for a tick
//! whose claim could not be recorded.

use chrono::{DateTime, Utc};

use crate::alerts::{Alerter, Event};
use crate::config::alert::AlertEvent;
use crate::scheduler;
use crate::store::Store;

/// The store's tick records, and the alerter a missed tick is told to.
pub struct AlertedTicks {
    pub store: Store,
    pub alerter: Alerter,
}

impl scheduler::TickStore for AlertedTicks {
    async fn last_tick(&self, pipeline: &str) -> Option<DateTime<Utc>> {
        scheduler::TickStore::last_tick(&self.store, pipeline).await
    }

    async fn set_last_tick(&self, pipeline: &str, tick: DateTime<Utc>) {
        scheduler::TickStore::set_last_tick(&self.store, pipeline, tick).await
    }

    async fn claim(&self, pipeline: &str, tick: DateTime<Utc>) -> bool {
        let me = crate::sync::lease::holder_id();
        match self.store.claim_tick(pipeline, tick, me).await {
            Ok(claimed) => claimed,
            Err(e) => {
                scheduler::missed(pipeline, tick, &e);
                self.alerter.emit(Event::new(
                    AlertEvent::TickMissed,
                    Some(pipeline),
                    format!(
                        "the {} run of pipeline `{pipeline}` was missed: the state store could not record its claim ({e}); the next tick runs as usual",
                        tick.to_rfc3339()
                    ),
                ));
                false
            }
        }
    }
}
