//! Work slots: the ceiling on sessions a run acts on at once, with a session that is only
//! waiting out a rate limit (`Retry-After`, a held resource) giving its slot to another while
//! it waits. The wait is the vendor's, not ours to spend: with a few percent of calls answered
//! 429 at random, holding the slot through each wait made the whole run several times slower
//! although the vendor's rate was never reached. The pacer still bounds the request rate.
//!
//! A run wraps each session's work in [`WorkSlots::run`]; [`Http::execute`](super::Http)
//! waits through [`sleep_released`], which is a plain sleep outside a slot.

use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// At most `n` sessions working at once.
#[derive(Clone)]
pub struct WorkSlots {
    sem: Arc<Semaphore>,
}

/// The slot a task holds, as the waits inside it see it.
struct Held {
    sem: Arc<Semaphore>,
    permit: Mutex<Option<OwnedSemaphorePermit>>,
}

tokio::task_local! {
    static SLOT: Arc<Held>;
}

impl WorkSlots {
    pub fn new(n: usize) -> WorkSlots {
        WorkSlots {
            sem: Arc::new(Semaphore::new(n.max(1))),
        }
    }

    /// Run `work` holding a slot (waiting for one first).
    pub async fn run<F: Future>(&self, work: F) -> F::Output {
        let permit = self.sem.clone().acquire_owned().await.ok();
        let held = Arc::new(Held {
            sem: self.sem.clone(),
            permit: Mutex::new(permit),
        });
        SLOT.scope(held, work).await
    }

    /// Slots free now.
    pub fn available(&self) -> usize {
        self.sem.available_permits()
    }
}

/// Sleep until `until`, giving the caller's work slot (if it holds one) to another session
/// meanwhile, and taking a slot again before returning.
pub async fn sleep_released(until: tokio::time::Instant) {
    let held = SLOT.try_with(Arc::clone).ok();
    if let Some(h) = &held {
        h.permit.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
    tokio::time::sleep_until(until).await;
    if let Some(h) = held {
        let permit = h.sem.clone().acquire_owned().await.ok();
        *h.permit.lock().unwrap_or_else(|e| e.into_inner()) = permit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_session_waiting_out_a_rate_limit_lets_another_work_in_its_slot() {
        let slots = WorkSlots::new(1);
        let t0 = tokio::time::Instant::now();
        let waiting = slots.run(async {
            sleep_released(t0 + Duration::from_secs(1)).await;
            tokio::time::Instant::now() - t0
        });
        let working = slots.run(async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tokio::time::Instant::now() - t0
        });
        let (w, k) = tokio::join!(waiting, working);
        // The second session worked during the first one's wait, not after it.
        assert!(k < Duration::from_millis(200), "{k:?}");
        assert!(w >= Duration::from_secs(1), "{w:?}");
        assert_eq!(slots.available(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_plain_sleep_holds_the_slot() {
        let slots = WorkSlots::new(1);
        let t0 = tokio::time::Instant::now();
        let first = slots.run(async {
            tokio::time::sleep(Duration::from_secs(1)).await;
        });
        let second = slots.run(async { tokio::time::Instant::now() - t0 });
        let ((), k) = tokio::join!(first, second);
        assert!(k >= Duration::from_secs(1), "{k:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn outside_a_slot_it_is_a_sleep() {
        let t0 = tokio::time::Instant::now();
        sleep_released(t0 + Duration::from_millis(300)).await;
        assert!(tokio::time::Instant::now() - t0 >= Duration::from_millis(300));
    }
}
