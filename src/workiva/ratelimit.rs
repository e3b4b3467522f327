//! Client-side limits: a request rate (token bucket) and a cap on requests in flight.

use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Semaphore, SemaphorePermit};

pub struct Limiter {
    rate: f64,
    bucket: Mutex<(f64, Instant)>,
    in_flight: Semaphore,
}

impl Limiter {
    /// `rate` requests per second (0: no rate limit), `concurrency` requests at once.
    pub fn new(rate: f64, concurrency: usize) -> Self {
        Self {
            rate,
            bucket: Mutex::new((rate.max(1.0), Instant::now())),
            in_flight: Semaphore::new(concurrency.max(1)),
        }
    }

    /// Waits for a rate token and an in-flight slot; the slot frees when the permit drops.
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        if self.rate > 0.0 {
            loop {
                let wait = {
                    let mut b = self.bucket.lock().await;
                    let now = Instant::now();
                    let burst = self.rate.max(1.0);
                    b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * self.rate).min(burst);
                    b.1 = now;
                    if b.0 >= 1.0 {
                        b.0 -= 1.0;
                        None
                    } else {
                        Some(Duration::from_secs_f64((1.0 - b.0) / self.rate))
                    }
                };
                match wait {
                    None => break,
                    Some(w) => tokio::time::sleep(w).await,
                }
            }
        }
        self.in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrency_cap_holds() {
        let l = Limiter::new(0.0, 2);
        let a = l.acquire().await;
        let _b = l.acquire().await;
        assert!(
            tokio::time::timeout(Duration::from_millis(50), l.acquire())
                .await
                .is_err()
        );
        drop(a);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), l.acquire())
                .await
                .is_ok()
        );
    }
}
