//! The state store: every item of DESIGN.md's state table, with the semantics that make
//! outside effects exactly-once (claims with lease tokens, token-conditional writes,
//! retention treated as absence, all-or-nothing delivery + work item records).
//!
//! [`Store`] implements those semantics once, over an [`ItemStore`] backend:
//! [`dynamodb::DynamoItemStore`] on AWS, [`sqlite::SqliteItemStore`] locally (the embedded
//! default) and [`memory::MemoryItemStore`] in unit tests. One contract suite runs against all
//! three (`shared/tests/store_contract.rs`).

pub mod backend;
pub mod dynamodb;
pub mod memory;
pub mod sqlite;

pub use backend::{BackendError, Cond, ItemStore, Op, Query, RawItem};

use crate::domain::{
    AuditEntry, ConnectionKind, ConnectionRecord, Delivery, Flow, HistoryEntry, ItemStatus, Lease,
    PersonRecord, RunRecord, ScanMark, WorkItem,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;

/// The state schema version this code writes. Readers tolerate older items.
pub const SCHEMA_VERSION: u32 = 1;

const DAY_MS: i64 = 86_400_000;
/// Retention of run records.
pub const RUN_RETENTION_MS: i64 = 30 * DAY_MS;
/// Default retention of audit entries (configurable per deployment).
pub const AUDIT_RETENTION_MS: i64 = 400 * DAY_MS;
/// Retention of work items once finished: far longer than any lookback window, so a session
/// still inside the window always finds its item.
pub const ITEM_RETENTION_MS: i64 = 180 * DAY_MS;

/// Errors of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else changed the item since it was read (optimistic concurrency).
    #[error("the {what} was changed concurrently")]
    Conflict { what: String },
    /// The caller's lease was taken over: its writes are refused.
    #[error("the lease on {pk} is no longer held by this worker")]
    StaleLease { pk: String },
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("stored item {pk}/{sk} cannot be read: {reason}")]
    Corrupt {
        pk: String,
        sk: String,
        reason: String,
    },
}

impl StoreError {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Backend(BackendError::Unavailable(_)) | StoreError::Conflict { .. }
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One page of a listing, and the cursor to the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The caller now holds the item.
    Acquired { lease: Lease, item: WorkItem },
    /// The item is finished; its stored outcome is in the item.
    Done(WorkItem),
    /// Another worker holds a live lease.
    Busy { lease_until: i64 },
}

/// Whether a new webhook delivery was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Recorded,
    Duplicate,
}

/// The state store: every read and write riskflow makes to its state.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn ItemStore>,
}

fn item_pk(flow: Flow, key: &str) -> String {
    format!("item#{}#{}", flow.as_str(), key)
}
fn index_pk(flow: Flow, status: ItemStatus) -> String {
    format!("index#{}#{}", flow.as_str(), status.as_str())
}
fn conn_pk(kind: ConnectionKind) -> String {
    format!("connection#{}", kind.as_str())
}
fn person_pk(email: &str) -> String {
    format!("person#{}", email.to_ascii_lowercase())
}
fn run_pk(flow: Flow) -> String {
    format!("run#{}", flow.as_str())
}
/// Fixed-width millisecond timestamps sort as strings.
fn ts_key(ms: i64) -> String {
    format!("{:015}", ms.max(0))
}

impl Store {
    pub fn new(backend: Arc<dyn ItemStore>) -> Self {
        Store { backend }
    }

    /// A store over a fresh in-memory backend.
    pub fn in_memory() -> Self {
        Store::new(Arc::new(memory::MemoryItemStore::new()))
    }

    pub fn backend(&self) -> &Arc<dyn ItemStore> {
        &self.backend
    }

    fn encode<T: Serialize>(pk: String, sk: String, version: u64, body: &T) -> Result<RawItem> {
        let body = serde_json::to_string(body).map_err(|e| StoreError::Corrupt {
            pk: pk.clone(),
            sk: sk.clone(),
            reason: e.to_string(),
        })?;
        Ok(RawItem {
            pk,
            sk,
            version,
            expires_at: None,
            lease_until: None,
            lease_token: None,
            body,
        })
    }

    fn decode<T: DeserializeOwned>(raw: &RawItem) -> Result<T> {
        serde_json::from_str(&raw.body).map_err(|e| StoreError::Corrupt {
            pk: raw.pk.clone(),
            sk: raw.sk.clone(),
            reason: e.to_string(),
        })
    }

    /// A live item (expired ones are absent).
    async fn get_live(&self, pk: &str, sk: &str, now: i64) -> Result<Option<RawItem>> {
        Ok(self
            .backend
            .get(pk, sk)
            .await?
            .filter(|it| it.expires_at.is_none_or(|e| e >= now)))
    }

    async fn query_live(&self, q: &Query, now: i64) -> Result<(Vec<RawItem>, Option<String>)> {
        let (items, next) = self.backend.query(q).await?;
        let live = items
            .into_iter()
            .filter(|it| it.expires_at.is_none_or(|e| e >= now))
            .collect();
        Ok((live, next))
    }

    /// Query until `limit` live items are found or the partition ends, so pages stay full
    /// across backend page limits (DynamoDB's 1 MB) and skipped expired items.
    async fn query_filled(&self, mut q: Query, now: i64) -> Result<(Vec<RawItem>, Option<String>)> {
        let want = q.limit.max(1);
        let mut out = Vec::new();
        loop {
            q.limit = want - out.len();
            let (items, next) = self.query_live(&q, now).await?;
            out.extend(items);
            match next {
                Some(n) if out.len() < want => q.after = Some(n),
                Some(n) => return Ok((out, Some(n))),
                None => return Ok((out, None)),
            }
        }
    }

    // ----- schema -----

    /// The stored schema version, writing the current one when none is stored.
    pub async fn ensure_schema(&self, now: i64) -> Result<u32> {
        #[derive(Serialize, serde::Deserialize)]
        struct Schema {
            version: u32,
            written_at: i64,
        }
        if let Some(raw) = self.get_live("meta#schema", "version", now).await? {
            return Ok(Self::decode::<Schema>(&raw)?.version);
        }
        let item = Self::encode(
            "meta#schema".into(),
            "version".into(),
            1,
            &Schema {
                version: SCHEMA_VERSION,
                written_at: now,
            },
        )?;
        match self.backend.put(item, Cond::Absent { now }).await {
            Ok(()) | Err(BackendError::ConditionFailed { .. }) => Ok(SCHEMA_VERSION),
            Err(e) => Err(e.into()),
        }
    }

    // ----- connections -----

    /// The connection of a kind (`never_connected` when nothing is stored).
    pub async fn connection(&self, kind: ConnectionKind, now: i64) -> Result<ConnectionRecord> {
        match self.get_live(&conn_pk(kind), "config", now).await? {
            Some(raw) => {
                let mut rec: ConnectionRecord = Self::decode(&raw)?;
                rec.version = raw.version;
                Ok(rec)
            }
            None => Ok(ConnectionRecord::never_connected(kind)),
        }
    }

    /// Every kind's connection, in display order.
    pub async fn connections(&self, now: i64) -> Result<Vec<ConnectionRecord>> {
        let keys: Vec<(String, String)> = ConnectionKind::ALL
            .iter()
            .map(|k| (conn_pk(*k), "config".to_string()))
            .collect();
        let raws = self.backend.batch_get(&keys).await?;
        let mut by_pk: HashMap<String, RawItem> = raws
            .into_iter()
            .filter(|it| it.expires_at.is_none_or(|e| e >= now))
            .map(|it| (it.pk.clone(), it))
            .collect();
        ConnectionKind::ALL
            .iter()
            .map(|k| match by_pk.remove(&conn_pk(*k)) {
                Some(raw) => {
                    let mut rec: ConnectionRecord = Self::decode(&raw)?;
                    rec.version = raw.version;
                    Ok(rec)
                }
                None => Ok(ConnectionRecord::never_connected(*k)),
            })
            .collect()
    }

    /// Save a connection read at `rec.version`, with a history entry, in one transaction.
    /// Fails with [`StoreError::Conflict`] if it changed since it was read.
    pub async fn save_connection(
        &self,
        rec: &ConnectionRecord,
        history: &HistoryEntry,
        now: i64,
    ) -> Result<ConnectionRecord> {
        let mut saved = rec.clone();
        saved.version = rec.version + 1;
        let item = Self::encode(conn_pk(rec.kind), "config".into(), saved.version, &saved)?;
        let hist = Self::encode(
            conn_pk(rec.kind),
            format!("history#{}#{}", ts_key(history.at), short_id()),
            1,
            history,
        )?;
        let ops = vec![
            Op::Put(
                item,
                Cond::Version {
                    expected: rec.version,
                    now,
                },
            ),
            Op::Put(hist, Cond::Always),
        ];
        match self.backend.transact(ops).await {
            Ok(()) => Ok(saved),
            Err(BackendError::ConditionFailed { .. }) => Err(StoreError::Conflict {
                what: format!("{} connection", rec.kind),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The newest history entries of a connection, newest first.
    pub async fn connection_history(
        &self,
        kind: ConnectionKind,
        limit: usize,
        now: i64,
    ) -> Result<Vec<HistoryEntry>> {
        let q = Query {
            pk: conn_pk(kind),
            sk_prefix: Some("history#".into()),
            after: None,
            descending: true,
            limit,
        };
        let (items, _) = self.query_filled(q, now).await?;
        items.iter().map(Self::decode).collect()
    }

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

    // ----- work items -----

    fn item_to_raw(item: &WorkItem) -> Result<RawItem> {
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

    fn raw_to_item(raw: &RawItem) -> Result<WorkItem> {
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
            match self.backend.put(raw, Cond::Version { expected, now }).await {
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
        match self.backend.put(raw, Cond::Absent { now }).await {
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

    async fn put_under_lease(&self, lease: &Lease, ops: Vec<Op>) -> Result<()> {
        // A single put is one PutItem; anything else one transaction.
        let res = match ops.as_slice() {
            [Op::Put(raw, cond)] => self.backend.put(raw.clone(), cond.clone()).await,
            _ => self.backend.transact(ops).await,
        };
        match res {
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

    async fn finish(
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

    /// Keep the pending and failed indexes in step with an item's status. Deletes are issued
    /// only when the item `was_indexed` (its `indexed` flag), so finishing an item that never
    /// was pending or failed is one conditional put, with no read and no transaction. Safe
    /// against races: an index entry is only added together with a write to the item itself,
    /// which the finishing worker's token-conditional write would then fail on.
    fn index_ops(
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

    // ----- flow locks -----

    /// Take the flow's lock for `ttl_ms` (≥ the function timeout). `None` when another run holds it.
    pub async fn acquire_lock(
        &self,
        flow: Flow,
        owner: &str,
        ttl_ms: i64,
        now: i64,
    ) -> Result<Option<Lease>> {
        let pk = format!("lock#{}", flow.as_str());
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
        match self.backend.put(raw, cond).await {
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

    /// Release a flow lock (only if still held under this lease). The item stays, with no
    /// lease, so its version keeps growing.
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

    // ----- people and the departure index -----

    pub async fn person(&self, email: &str, now: i64) -> Result<Option<PersonRecord>> {
        match self.get_live(&person_pk(email), "departure", now).await? {
            Some(raw) => {
                let mut rec: PersonRecord = Self::decode(&raw)?;
                rec.version = raw.version;
                Ok(Some(rec))
            }
            None => Ok(None),
        }
    }

    /// Save a person read at `rec.version` (0 = new) and move their departure-index entry to
    /// `rec.indexed_date`, in one transaction.
    pub async fn save_person(
        &self,
        rec: &PersonRecord,
        previous_date: Option<&str>,
        now: i64,
    ) -> Result<PersonRecord> {
        let mut saved = rec.clone();
        saved.email = rec.email.to_ascii_lowercase();
        saved.version = rec.version + 1;
        saved.updated_at = now;
        let item = Self::encode(
            person_pk(&saved.email),
            "departure".into(),
            saved.version,
            &saved,
        )?;
        let mut ops = vec![Op::Put(
            item,
            Cond::Version {
                expected: rec.version,
                now,
            },
        )];
        if let Some(old) = previous_date
            && Some(old) != saved.indexed_date.as_deref()
        {
            ops.push(Op::Delete {
                pk: format!("departure#{old}"),
                sk: saved.email.clone(),
                cond: Cond::Always,
            });
        }
        if let Some(date) = &saved.indexed_date {
            let entry = Self::encode(
                format!("departure#{date}"),
                saved.email.clone(),
                1,
                &serde_json::json!({"email": saved.email}),
            )?;
            ops.push(Op::Put(entry, Cond::Always));
        }
        match self.backend.transact(ops).await {
            Ok(()) => Ok(saved),
            Err(BackendError::ConditionFailed { .. }) => Err(StoreError::Conflict {
                what: format!("person {}", saved.email),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Emails of people whose indexed departure date is `date` (`YYYY-MM-DD`).
    pub async fn departures_on(&self, date: &str, now: i64) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let q = Query {
                pk: format!("departure#{date}"),
                sk_prefix: None,
                after,
                descending: false,
                limit: 500,
            };
            let (items, next) = self.query_live(&q, now).await?;
            out.extend(items.into_iter().map(|it| it.sk));
            match next {
                Some(n) => after = Some(n),
                None => return Ok(out),
            }
        }
    }

    // ----- quotas and documents -----

    /// Take one unit of a daily quota (`quota#<name>#<day>`); false when `limit` is reached.
    pub async fn take_quota(&self, name: &str, day: &str, limit: u64, now: i64) -> Result<bool> {
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
        match self.backend.transact(ops).await {
            Ok(()) => Ok(DeliveryOutcome::Recorded),
            Err(BackendError::ConditionFailed { .. }) => Ok(DeliveryOutcome::Duplicate),
            Err(e) => Err(e.into()),
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
            .map(|e| {
                let mut raw = Self::encode(
                    format!("audit#{}", crate::clock::date_of_ms(e.at)),
                    format!("{}#{}", ts_key(e.at), e.id),
                    1,
                    e,
                )?;
                raw.expires_at = Some(e.at + retention_ms);
                Ok(raw)
            })
            .collect::<Result<Vec<_>>>()?;
        self.backend.put_many(raws).await?;
        Ok(())
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

/// A short random id for sort keys that need uniqueness within a millisecond.
pub fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}
