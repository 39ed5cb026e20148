//! Records: scan marks, documents, run records, webhook deliveries and the audit trail.

use super::*;

/// How often a delivery's transaction is tried again after a transient refusal (50, 100,
/// 200 ms: well inside a webhook's answer budget).
const DELIVERY_RETRIES: u32 = 3;

impl Store {
    // ----- scan marks -----
    pub async fn scan_mark(&self, flow: Flow, now: i64) -> Result<Option<ScanMark>> {
        match self
            .get_live(&format!("scan#{}", flow.as_str()), "last", now)
            .await?
        {
            Some(raw) => Ok(Some(Self::decode(&raw)?)),
            None => Ok(None),
        }
    }

    pub async fn put_scan_mark(&self, mark: &ScanMark) -> Result<()> {
        let item = Self::encode(
            format!("scan#{}", mark.flow.as_str()),
            "last".into(),
            1,
            mark,
        )?;
        self.backend.put(item, Cond::Always).await?;
        Ok(())
    }

    /// A stored JSON document (e.g. the previous Workday report snapshot).
    pub async fn get_doc(&self, pk: &str, sk: &str, now: i64) -> Result<Option<serde_json::Value>> {
        match self.get_live(pk, sk, now).await? {
            Some(raw) => Ok(Some(Self::decode(&raw)?)),
            None => Ok(None),
        }
    }

    /// Store a JSON document, replacing any.
    pub async fn put_doc(&self, pk: &str, sk: &str, doc: &serde_json::Value) -> Result<()> {
        let raw = Self::encode(pk.to_string(), sk.to_string(), 1, doc)?;
        self.backend.put(raw, Cond::Always).await?;
        Ok(())
    }

    // ----- runs -----
    pub async fn put_run(&self, run: &RunRecord) -> Result<()> {
        let mut raw = Self::encode(
            run_pk(run.flow),
            format!("{}#{}", ts_key(run.started_at), run.id),
            1,
            run,
        )?;
        raw.expires_at = Some(run.started_at + RUN_RETENTION_MS);
        self.backend.put(raw, Cond::Always).await?;
        Ok(())
    }

    /// A flow's runs, newest first, `limit` a page, continuing after `cursor`.
    pub async fn list_runs(
        &self,
        flow: Flow,
        limit: usize,
        cursor: Option<String>,
        now: i64,
    ) -> Result<Page<RunRecord>> {
        let q = Query {
            pk: run_pk(flow),
            sk_prefix: None,
            after: cursor,
            descending: true,
            limit,
        };
        let (items, next) = self.query_filled(q, now).await?;
        Ok(Page {
            items: items.iter().map(Self::decode).collect::<Result<_>>()?,
            next,
        })
    }

    /// The newest runs of every flow, merged newest first.
    pub async fn recent_runs(&self, limit: usize, now: i64) -> Result<Vec<RunRecord>> {
        let mut all = Vec::new();
        for flow in Flow::ALL {
            all.extend(self.list_runs(flow, limit, None, now).await?.items);
        }
        all.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        all.truncate(limit);
        Ok(all)
    }

    // ----- webhook deliveries -----
    /// Record a delivery together with its pending work item, all or nothing. A delivery
    /// seen before (within retention) changes nothing and answers `Duplicate`.
    pub async fn record_delivery(
        &self,
        delivery: &Delivery,
        item: &WorkItem,
        now: i64,
    ) -> Result<DeliveryOutcome> {
        let mut d = Self::encode(
            format!("delivery#{}#{}", delivery.source, delivery.id),
            "seen".into(),
            1,
            delivery,
        )?;
        d.expires_at = Some(delivery.expires_at);
        // A delivery recorded as already handled (an ignored ADP message) stays done;
        // anything else waits as pending work.
        let mut pending = item.clone();
        if pending.status != ItemStatus::Done {
            pending.status = ItemStatus::Pending;
        }
        pending.version = 1;
        pending.created_at = now;
        pending.updated_at = now;
        pending.indexed = pending.status == ItemStatus::Pending;
        let raw_item = Self::item_to_raw(&pending)?;
        let mut ops = vec![
            Op::Put(d, Cond::Absent { now }),
            Op::Put(raw_item, Cond::Absent { now }),
        ];
        if pending.status == ItemStatus::Pending {
            ops.extend(self.index_ops(item.flow, &item.key, ItemStatus::Pending, false, now)?);
        }
        // A transient refusal (DynamoDB's TransactionConflict when the same message arrives
        // twice at once, throttling) is tried again shortly: the transaction is conditional on
        // absence, so a repeat after an attempt that was in fact applied answers `Duplicate`,
        // and the sender gets its 2xx once the delivery exists instead of a 503.
        let mut attempt = 0;
        loop {
            match self.backend.transact(ops.clone()).await {
                Ok(()) => return Ok(DeliveryOutcome::Recorded),
                Err(BackendError::ConditionFailed { .. }) => return Ok(DeliveryOutcome::Duplicate),
                Err(BackendError::Unavailable(_)) if attempt < DELIVERY_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Whether a delivery was seen (within retention).
    pub async fn delivery_seen(&self, source: &str, id: &str, now: i64) -> Result<bool> {
        Ok(self
            .get_live(&format!("delivery#{source}#{id}"), "seen", now)
            .await?
            .is_some())
    }

    // ----- audit -----
    /// Append audit entries (batched writes), each kept for `retention_ms`.
    pub async fn append_audit(&self, entries: &[AuditEntry], retention_ms: i64) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let raws = entries
            .iter()
            .map(|e| Self::audit_item(e, retention_ms))
            .collect::<Result<Vec<_>>>()?;
        self.backend.put_many(raws).await?;
        Ok(())
    }

    /// The stored form of one audit entry, kept for `retention_ms`.
    pub(super) fn audit_item(e: &AuditEntry, retention_ms: i64) -> Result<RawItem> {
        let mut raw = Self::encode(
            format!("audit#{}", crate::clock::date_of_ms(e.at)),
            format!("{}#{}", ts_key(e.at), e.id),
            1,
            e,
        )?;
        raw.expires_at = Some(e.at + retention_ms);
        Ok(raw)
    }

    /// Audit entries with `from <= at < to`, oldest first, `limit` a page. The cursor is
    /// opaque to callers (`<day>|<sk>`).
    pub async fn list_audit(
        &self,
        from: i64,
        to: i64,
        limit: usize,
        cursor: Option<String>,
        now: i64,
    ) -> Result<Page<AuditEntry>> {
        let limit = limit.max(1);
        let (mut day_ms, mut after) = match cursor.as_deref().and_then(|c| c.split_once('|')) {
            Some((day, sk)) => (
                day.parse::<i64>().unwrap_or(from),
                Some(sk.to_string()).filter(|s| !s.is_empty()),
            ),
            None => (
                from - from.rem_euclid(DAY_MS),
                Some(ts_key(from - 1) + "#~"),
            ),
        };
        let mut out: Vec<AuditEntry> = Vec::new();
        while day_ms < to {
            let q = Query {
                pk: format!("audit#{}", crate::clock::date_of_ms(day_ms)),
                sk_prefix: None,
                after: after.take(),
                descending: false,
                limit: limit - out.len(),
            };
            let (items, next) = self.query_filled(q, now).await?;
            for raw in &items {
                let e: AuditEntry = Self::decode(raw)?;
                if e.at >= to {
                    return Ok(Page {
                        items: out,
                        next: None,
                    });
                }
                if e.at >= from {
                    out.push(e);
                }
            }
            if out.len() >= limit {
                let next = match (next, items.last()) {
                    (Some(_), Some(last)) => Some(format!("{day_ms}|{}", last.sk)),
                    _ => Some(format!("{}|", day_ms + DAY_MS)),
                };
                return Ok(Page { items: out, next });
            }
            day_ms += DAY_MS;
        }
        Ok(Page {
            items: out,
            next: None,
        })
    }
}
