//! Flow locks (one run of a flow at a time), person leases (one HR fact about a person at a
//! time) and daily quotas (containment caps).

use super::*;

impl Store {
    // ----- flow locks and person leases -----
    /// Take the flow's lock for `ttl_ms` (≥ the function timeout). `None` when another run holds it.
    pub async fn acquire_lock(
        &self,
        flow: Flow,
        owner: &str,
        ttl_ms: i64,
        now: i64,
    ) -> Result<Option<Lease>> {
        self.acquire_lease(format!("lock#{}", flow.as_str()), owner, ttl_ms, now)
            .await
    }

    /// Take the lease that serialises the HR facts about one person (`lock#person#<email>` /
    /// `lease`) for `ttl_ms`. `None` when another worker holds it: the caller leaves its fact
    /// pending for a later run. Released with [`Store::release_lock`].
    pub async fn acquire_person_lease(
        &self,
        email: &str,
        owner: &str,
        ttl_ms: i64,
        now: i64,
    ) -> Result<Option<Lease>> {
        let pk = format!("lock#{}", person_pk(email));
        self.acquire_lease(pk, owner, ttl_ms, now).await
    }

    /// Take the lease of the lock item `pk` / `lease`, unless a live lease holds it.
    async fn acquire_lease(
        &self,
        pk: String,
        owner: &str,
        ttl_ms: i64,
        now: i64,
    ) -> Result<Option<Lease>> {
        let current = self.backend.get(&pk, "lease").await?;
        if let Some(c) = &current
            && c.lease_until.is_some_and(|u| u > now)
        {
            return Ok(None);
        }
        let expected = current.as_ref().map_or(0, |c| c.version);
        let token = uuid::Uuid::new_v4().to_string();
        let mut raw = Self::encode(
            pk.clone(),
            "lease".into(),
            expected + 1,
            &serde_json::json!({"owner": owner, "acquired_at": now}),
        )?;
        raw.lease_until = Some(now + ttl_ms);
        raw.lease_token = Some(token.clone());
        // Version-conditional, and the lock item is never deleted (release clears the lease),
        // so versions only grow and two takers of a passed lease cannot both win.
        let cond = Cond::Version { expected, now };
        match self.put_confirmed(raw, cond).await {
            Ok(()) => Ok(Some(Lease {
                pk,
                sk: "lease".into(),
                token,
                until: now + ttl_ms,
            })),
            Err(BackendError::ConditionFailed { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Release a flow lock or a person lease (only if still held under this lease). The item
    /// stays, with no lease, so its version keeps growing.
    pub async fn release_lock(&self, lease: &Lease, now: i64) -> Result<()> {
        let current = match self.backend.get(&lease.pk, &lease.sk).await? {
            Some(c) if c.lease_token.as_deref() == Some(lease.token.as_str()) => c,
            _ => return Ok(()),
        };
        let mut raw = current.clone();
        raw.version = current.version + 1;
        raw.lease_until = None;
        raw.lease_token = None;
        raw.body = serde_json::json!({"released_at": now}).to_string();
        match self
            .backend
            .put(raw, Cond::Token(lease.token.clone()))
            .await
        {
            Ok(()) | Err(BackendError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    // ----- quotas and documents -----
    /// Take one unit of a daily quota (`quota#<name>#<day>`); false when `limit` is reached.
    pub async fn take_quota(&self, name: &str, day: Date, limit: u64, now: i64) -> Result<bool> {
        let pk = format!("quota#{name}#{day}");
        for _ in 0..5 {
            let current = self.get_live(&pk, "count", now).await?;
            let (used, version) = match &current {
                Some(raw) => (
                    Self::decode::<serde_json::Value>(raw)?["used"]
                        .as_u64()
                        .unwrap_or(0),
                    raw.version,
                ),
                None => (0, 0),
            };
            if used >= limit {
                return Ok(false);
            }
            let mut raw = Self::encode(
                pk.clone(),
                "count".into(),
                version + 1,
                &serde_json::json!({"used": used + 1}),
            )?;
            raw.expires_at = Some(now + 7 * DAY_MS);
            match self
                .backend
                .put(
                    raw,
                    Cond::Version {
                        expected: version,
                        now,
                    },
                )
                .await
            {
                Ok(()) => return Ok(true),
                Err(BackendError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict {
            what: format!("quota {name}"),
        })
    }
}
