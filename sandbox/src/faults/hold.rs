//! Holds: a request kept waiting in the fake until the test lets it go, for deterministic
//! interleavings of concurrent workers (hold one worker's call, run the other to the end,
//! then release the first) without sleeps or luck. In-process only (tests hold the
//! [`SandboxHandle`](crate::SandboxHandle)); not part of the fault-rule JSON.

use std::sync::Arc;
use tokio::sync::watch;

/// Which request a hold catches: the first one matching after it was set (then it is spent).
#[derive(Clone, Debug)]
pub(crate) struct HoldSpec {
    system: String,
    method: String,
    path_prefix: String,
}

pub(crate) struct HoldShared {
    arrived: watch::Sender<bool>,
    released: watch::Sender<bool>,
}

/// The test's end of a hold. Dropping it releases the request.
pub struct Hold {
    shared: Arc<HoldShared>,
}

impl Hold {
    /// Wait until the held request has arrived (and is waiting).
    pub async fn arrived(&self) {
        let mut rx = self.shared.arrived.subscribe();
        // The sender lives as long as `self`, so this only ends when it arrived.
        let _ = rx.wait_for(|a| *a).await;
    }

    /// Whether the held request has arrived.
    pub fn has_arrived(&self) -> bool {
        *self.shared.arrived.borrow()
    }

    /// Let the held request go on (also before it arrived: it is then not held at all).
    pub fn release(&self) {
        self.shared.released.send_replace(true);
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.release();
    }
}

/// The armed holds of a sandbox.
#[derive(Default)]
pub(crate) struct Holds {
    armed: Vec<(HoldSpec, Arc<HoldShared>)>,
}

impl Holds {
    /// Arm a hold for the next `method` request to `system` whose system-relative path starts
    /// with `path_prefix`.
    pub(crate) fn arm(&mut self, system: &str, method: &str, path_prefix: &str) -> Hold {
        let (arrived, _) = watch::channel(false);
        let (released, _) = watch::channel(false);
        let shared = Arc::new(HoldShared { arrived, released });
        let spec = HoldSpec {
            system: system.to_string(),
            method: method.to_ascii_uppercase(),
            path_prefix: path_prefix.to_string(),
        };
        self.armed.push((spec, shared.clone()));
        Hold { shared }
    }

    /// The hold this request is caught by (spent by it), if any.
    pub(crate) fn take(
        &mut self,
        system: &str,
        method: &str,
        rel: &str,
    ) -> Option<Arc<HoldShared>> {
        let i = self.armed.iter().position(|(s, _)| {
            s.system == system && s.method == method && rel.starts_with(s.path_prefix.as_str())
        })?;
        Some(self.armed.remove(i).1)
    }
}

/// Keep a caught request waiting until its hold is released.
pub(crate) async fn wait(hold: Arc<HoldShared>) {
    let mut rx = hold.released.subscribe();
    hold.arrived.send_replace(true);
    let _ = rx.wait_for(|r| *r).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hold_catches_the_first_matching_request_only_and_keeps_it_until_released() {
        let mut holds = Holds::default();
        let hold = holds.arm("incydr", "post", "/v2/watchlists");
        assert!(holds.take("incydr", "GET", "/v2/watchlists/1").is_none());
        assert!(holds.take("okta", "POST", "/v2/watchlists/1").is_none());
        let caught = holds.take("incydr", "POST", "/v2/watchlists/1/included-actors/add");
        assert!(caught.is_some());
        assert!(
            holds.take("incydr", "POST", "/v2/watchlists/1").is_none(),
            "spent"
        );
        let waiting = tokio::spawn(wait(caught.unwrap()));
        hold.arrived().await;
        assert!(hold.has_arrived());
        assert!(!waiting.is_finished());
        hold.release();
        waiting.await.unwrap();
    }
}
