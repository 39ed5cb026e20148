//! Work items: claims under a lease token, writes under the lease, finishing, the pending and
//! failed indexes.

use super::*;

impl Store {
    // ----- work items -----
    pub(super) fn item_to_raw(item: &WorkItem) -> Result<RawItem> {
        let mut raw = Self::encode(
            item_pk(item.flow, &item.key),
            "state".into(),
            item.version,
            item,
        )?;
        raw.expires_at = item.expires_at;
        raw.lease_until = item.lease_until;
        raw.lease_token = item.lease_token.clone();
        Ok(raw)
    }

    pub(super) fn raw_to_item(raw: &RawItem) -> Result<WorkItem> {
        let mut item: WorkItem = Self::decode(raw)?;
        item.version = raw.version;
        Ok(item)
    }

    /// One work item (strongly consistent).
    pub async fn item(&self, flow: Flow, key: &str, now: i64) -> Result<Option<WorkItem>> {
        match self.get_live(&item_pk(flow, key), "state", now).await? {
            Some(raw) => Ok(Some(Self::raw_to_item(&raw)?)),
            None => Ok(None),
        }
    }

    /// Many work items in batched reads; absent keys are missing from the map.
    pub async fn items(
        &self,
        flow: Flow,
        keys: &[String],
        now: i64,
    ) -> Result<HashMap<String, WorkItem>> {
        let ks: Vec<(String, String)> = keys
            .iter()
            .map(|k| (item_pk(flow, k), "state".to_string()))
            .collect();
        let raws = self.backend.batch_get(&ks).await?;
        raws.iter()
            .filter(|it| it.expires_at.is_none_or(|e| e >= now))
            .map(|raw| Self::raw_to_item(raw).map(|it| (it.key.clone(), it)))
            .collect()
    }

    /// Claim a work item for `lease_ms`. `known` is the item as last read (saves a read);
    /// `reopen` allows claiming a `done` item (to comment on its ticket).
    pub async fn claim(
        &self,
        flow: Flow,
        key: &str,
        known: Option<&WorkItem>,
        reopen: bool,
        lease_ms: i64,
        now: i64,
    ) -> Result<Claim> {
        let mut current = match known {
            Some(it) => Some(it.clone()),
            None => self.item(flow, key, now).await?,
        };
        for _ in 0..2 {
            if let Some(it) = &current {
                if it.status == ItemStatus::Done && !reopen {
                    return Ok(Claim::Done(it.clone()));
                }
                if it.status == ItemStatus::InProgress && it.lease_until.is_some_and(|u| u > now) {
                    return Ok(Claim::Busy {
                        lease_until: it.lease_until.unwrap_or(now),
                    });
                }
            }
            let expected = current.as_ref().map_or(0, |it| it.version);
            let mut next = current
                .clone()
                .unwrap_or_else(|| WorkItem::new(flow, key, ItemStatus::InProgress, now));
            let token = uuid::Uuid::new_v4().to_string();
            next.status = ItemStatus::InProgress;
            next.lease_token = Some(token.clone());
            next.lease_until = Some(now + lease_ms);
            next.updated_at = now;
            next.expires_at = None;
            next.version = expected + 1;
            let raw = Self::item_to_raw(&next)?;
            match self
                .put_confirmed(raw, Cond::Version { expected, now })
                .await
            {
                Ok(()) => {
                    let lease = Lease {
                        pk: item_pk(flow, key),
                        sk: "state".into(),
                        token,
                        until: now + lease_ms,
                    };
                    return Ok(Claim::Acquired { lease, item: next });
                }
                Err(BackendError::ConditionFailed { .. }) => {
                    current = self.item(flow, key, now).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        match current {
            Some(it) if it.status == ItemStatus::Done && !reopen => Ok(Claim::Done(it)),
            Some(it) => Ok(Claim::Busy {
                lease_until: it.lease_until.unwrap_or(now),
            }),
            None => Err(StoreError::Conflict {
                what: format!("work item {flow}/{key}"),
            }),
        }
    }

    /// Claim an item the caller just saw absent (a batched read), without reading it again;
    /// `prepare` fills the new item before the write (e.g. records the intent of its first step,
    /// so claim and intent cost one write). When it is not absent after all, falls back to
    /// [`Store::claim`] (and `prepare` is not applied).
    pub async fn claim_new(
        &self,
        flow: Flow,
        key: &str,
        lease_ms: i64,
        now: i64,
        prepare: impl FnOnce(&mut WorkItem, &str),
    ) -> Result<Claim> {
        let token = uuid::Uuid::new_v4().to_string();
        let mut next = WorkItem::new(flow, key, ItemStatus::InProgress, now);
        next.lease_token = Some(token.clone());
        next.lease_until = Some(now + lease_ms);
        next.version = 1;
        prepare(&mut next, &token);
        let raw = Self::item_to_raw(&next)?;
        match self.put_confirmed(raw, Cond::Absent { now }).await {
            Ok(()) => Ok(Claim::Acquired {
                lease: Lease {
                    pk: item_pk(flow, key),
                    sk: "state".into(),
                    token,
                    until: now + lease_ms,
                },
                item: next,
            }),
            Err(BackendError::ConditionFailed { .. }) => {
                self.claim(flow, key, None, false, lease_ms, now).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Write an item held under `lease` (intent, step outcome, ...). Refused with
    /// [`StoreError::StaleLease`] when the lease was taken over.
    pub async fn save_item(&self, lease: &Lease, item: &WorkItem, now: i64) -> Result<WorkItem> {
        let mut next = item.clone();
        next.updated_at = now;
        next.version = item.version + 1;
        next.lease_token = Some(lease.token.clone());
        next.lease_until = Some(lease.until);
        let raw = Self::item_to_raw(&next)?;
        self.put_under_lease(lease, vec![Op::Put(raw, Cond::Token(lease.token.clone()))])
            .await?;
        Ok(next)
    }

    pub(super) async fn put_under_lease(&self, lease: &Lease, ops: Vec<Op>) -> Result<()> {
        // A single put is one PutItem; anything else one transaction.
        match self.transact_confirmed(ops).await {
            Ok(()) => Ok(()),
            Err(BackendError::ConditionFailed { .. }) => Err(StoreError::StaleLease {
                pk: lease.pk.clone(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Finish an item: `done`, lease cleared, retention set, out of the pending/failed indexes.
    pub async fn complete(&self, lease: &Lease, item: &WorkItem, now: i64) -> Result<WorkItem> {
        self.finish(lease, item, ItemStatus::Done, None, now).await
    }

    /// Record a failure: attempts + 1, the error, and the status `failed` (listed for
    /// `riskflow items`) or `pending` (retried by the next scheduled run).
    pub async fn fail(
        &self,
        lease: &Lease,
        item: &WorkItem,
        error: &str,
        retry: bool,
        now: i64,
    ) -> Result<WorkItem> {
        let status = if retry {
            ItemStatus::Pending
        } else {
            ItemStatus::Failed
        };
        self.finish(lease, item, status, Some(error), now).await
    }

    /// Give an item back unchanged in substance (lease cleared), e.g. when the run nears its deadline.
    pub async fn release(&self, lease: &Lease, item: &WorkItem, now: i64) -> Result<WorkItem> {
        let status = match item.status {
            ItemStatus::InProgress => ItemStatus::Pending,
            s => s,
        };
        self.finish(lease, item, status, None, now).await
    }

    pub(super) async fn finish(
        &self,
        lease: &Lease,
        item: &WorkItem,
        status: ItemStatus,
        error: Option<&str>,
        now: i64,
    ) -> Result<WorkItem> {
        let mut next = item.clone();
        next.status = status;
        next.lease_token = None;
        next.lease_until = None;
        next.updated_at = now;
        next.version = item.version + 1;
        if let Some(e) = error {
            next.attempts += 1;
            next.last_error = Some(e.to_string());
        } else if status == ItemStatus::Done {
            next.last_error = None;
        }
        next.expires_at = (status == ItemStatus::Done).then_some(now + ITEM_RETENTION_MS);
        next.indexed = matches!(status, ItemStatus::Pending | ItemStatus::Failed);
        let mut raw = Self::item_to_raw(&next)?;
        raw.lease_token = None;
        raw.lease_until = None;
        let mut ops = vec![Op::Put(raw, Cond::Token(lease.token.clone()))];
        ops.extend(self.index_ops(item.flow, &item.key, status, item.indexed, now)?);
        self.put_under_lease(lease, ops).await?;
        Ok(next)
    }

    /// Whether a finished item is past the first half of its retention, so a scan that sees its
    /// session renews it ([`Store::refresh_item`]). At most once per half retention per item:
    /// a scan every few minutes pays one write per tens of thousands of sessions read.
    pub fn needs_refresh(item: &WorkItem, now: i64) -> bool {
        item.status == ItemStatus::Done
            && item
                .expires_at
                .is_some_and(|e| e >= now && e - now < ITEM_RETENTION_MS / 2)
    }

    /// Renew a finished item's retention to a full [`ITEM_RETENTION_MS`] from `now`, on the
    /// condition that it is unchanged since `item` was read (same version, still live), so a
    /// concurrent claim, completion or refresh is never overwritten. Returns the renewed item,
    /// or `None` when the condition failed (someone else wrote it: their write set its
    /// retention) or the item is not a finished one.
    pub async fn refresh_item(&self, item: &WorkItem, now: i64) -> Result<Option<WorkItem>> {
        if item.status != ItemStatus::Done || item.expires_at.is_none() {
            return Ok(None);
        }
        let mut next = item.clone();
        next.version = item.version + 1;
        next.expires_at = Some(now + ITEM_RETENTION_MS);
        next.lease_token = None;
        next.lease_until = None;
        let raw = Self::item_to_raw(&next)?;
        let cond = Cond::Version {
            expected: item.version,
            now,
        };
        match self.backend.put(raw, cond).await {
            Ok(()) => Ok(Some(next)),
            Err(BackendError::ConditionFailed { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Keep the pending and failed indexes in step with an item's status. Deletes are issued
    /// only when the item `was_indexed` (its `indexed` flag), so finishing an item that never
    /// was pending or failed is one conditional put, with no read and no transaction. Safe
    /// against races: an index entry is only added together with a write to the item itself,
    /// which the finishing worker's token-conditional write would then fail on.
    pub(super) fn index_ops(
        &self,
        flow: Flow,
        key: &str,
        status: ItemStatus,
        was_indexed: bool,
        now: i64,
    ) -> Result<Vec<Op>> {
        let mut ops = Vec::new();
        for s in [ItemStatus::Pending, ItemStatus::Failed] {
            if s == status {
                let entry = Self::encode(
                    index_pk(flow, s),
                    key.to_string(),
                    1,
                    &serde_json::json!({"at": now}),
                )?;
                ops.push(Op::Put(entry, Cond::Always));
            } else if was_indexed {
                ops.push(Op::Delete {
                    pk: index_pk(flow, s),
                    sk: key.to_string(),
                    cond: Cond::Always,
                });
            }
        }
        Ok(ops)
    }

    /// Keys of a flow's items in a status (`pending` or `failed`), in key order.
    pub async fn item_keys(
        &self,
        flow: Flow,
        status: ItemStatus,
        after: Option<String>,
        limit: usize,
        now: i64,
    ) -> Result<Page<String>> {
        let q = Query {
            pk: index_pk(flow, status),
            sk_prefix: None,
            after,
            descending: false,
            limit,
        };
        let (items, next) = self.query_filled(q, now).await?;
        Ok(Page {
            items: items.into_iter().map(|it| it.sk).collect(),
            next,
        })
    }

    /// Create a pending item (not under a lease), e.g. for a retry asked for by a person.
    /// Returns false when an item with that key exists and is not finished.
    pub async fn put_pending(&self, item: &WorkItem, now: i64) -> Result<bool> {
        let mut next = item.clone();
        next.status = ItemStatus::Pending;
        next.lease_token = None;
        next.lease_until = None;
        next.expires_at = None;
        next.updated_at = now;
        next.version = item.version + 1;
        next.indexed = true;
        let raw = Self::item_to_raw(&next)?;
        let mut ops = vec![Op::Put(
            raw,
            Cond::Version {
                expected: item.version,
                now,
            },
        )];
        ops.extend(self.index_ops(item.flow, &item.key, ItemStatus::Pending, item.indexed, now)?);
        match self.backend.transact(ops).await {
            Ok(()) => Ok(true),
            Err(BackendError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
