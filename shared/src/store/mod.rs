//! The state store: every item riskflow keeps (schema version, connections and their history,
//! scans, work items, locks, people, the departure index, containments, runs, webhook
//! deliveries, audit entries, report snapshots), with the semantics that make outside effects
//! exactly-once (README.md, "How exactly-once works": claims with lease tokens,
//! token-conditional writes, retention treated as absence, all-or-nothing delivery + work item
//! records).
//!
//! [`Store`] implements those semantics once, over an [`ItemStore`] backend:
//! [`dynamodb::DynamoItemStore`] on AWS, [`sqlite::SqliteItemStore`] locally (the embedded
//! default) and [`memory::MemoryItemStore`] in unit tests. One contract suite runs against all
//! three (`shared/tests/store_contract.rs`).

pub mod backend;
pub mod dynamodb;
pub mod memory;
#[cfg(feature = "local")]
pub mod sqlite;

mod claims;
mod connections;
mod containments;
mod locks;
mod people;
mod records;
mod snapshots;

pub use backend::{BackendError, Cond, ItemStore, MAX_ITEM_BYTES, Op, Query, RawItem};
pub use snapshots::{SNAPSHOT_PAGE_BYTES, SNAPSHOT_RETENTION_MS, Snapshot};

use crate::domain::{
    AuditEntry, ConnectionKind, ConnectionRecord, Date, Delivery, Flow, HistoryEntry, ItemStatus,
    Lease, PersonRecord, RunRecord, ScanMark, WorkItem,
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
/// Retention of work items once finished. A scan that still sees a finished item's session
/// renews it once less than half is left ([`Store::refresh_item`]), so an item never expires
/// while its session is visible; a session whose item may have expired (it began before
/// `now − ITEM_RETENTION_MS`) is searched for in the ticket system before anything is created.
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
/// Whether `got` is the item `wrote` was, as the backend keeps it: retention is kept to the
/// second (DynamoDB's TTL attribute is epoch seconds, rounded up).
fn reads_back_as(got: &RawItem, wrote: &RawItem) -> bool {
    let secs =
        |e: Option<i64>| e.map(|ms| ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0));
    RawItem {
        expires_at: got.expires_at,
        ..wrote.clone()
    } == *got
        && secs(got.expires_at) == secs(wrote.expires_at)
}

/// The partition of a write's first operation, for a log line.
fn ops_pk(ops: &[Op]) -> &str {
    match ops.first() {
        Some(Op::Put(raw, _)) => &raw.pk,
        Some(Op::Delete { pk, .. }) => pk,
        None => "",
    }
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

    /// A conditional put that answers a failed condition only after checking that the write
    /// was not in fact applied: the SDK repeats a write whose answer was lost (a timeout, a
    /// 5xx after DynamoDB applied it), and the repeat's condition then fails against the
    /// write itself. Only writes that name their writer are confirmed this way (a lease token
    /// in the item, or a lease-token condition): the item read back equal to the one written
    /// can then only be this writer's.
    async fn put_confirmed(
        &self,
        item: RawItem,
        cond: Cond,
    ) -> std::result::Result<(), BackendError> {
        self.transact_confirmed(vec![Op::Put(item, cond)]).await
    }

    /// [`Store::put_confirmed`] for one write or a transaction (one operation is one put).
    async fn transact_confirmed(&self, ops: Vec<Op>) -> std::result::Result<(), BackendError> {
        let res = match ops.as_slice() {
            [Op::Put(raw, cond)] => self.backend.put(raw.clone(), cond.clone()).await,
            _ => self.backend.transact(ops.clone()).await,
        };
        match res {
            Err(BackendError::ConditionFailed { index }) => {
                if self.applied_anyway(&ops).await? {
                    tracing::info!(
                        pk = ops_pk(&ops),
                        "a write answered as refused had been applied (a repeated request after a lost answer)"
                    );
                    Ok(())
                } else {
                    Err(BackendError::ConditionFailed { index })
                }
            }
            other => other,
        }
    }

    /// Whether every operation of `ops` reads back as applied: each put's item equal to the one
    /// written, each delete's item gone. False when a put does not name its writer.
    async fn applied_anyway(&self, ops: &[Op]) -> std::result::Result<bool, BackendError> {
        let names_writer = |raw: &RawItem, cond: &Cond| {
            raw.lease_token.is_some() || matches!(cond, Cond::Token(_))
        };
        if !ops
            .iter()
            .any(|op| matches!(op, Op::Put(raw, cond) if names_writer(raw, cond)))
            || ops
                .iter()
                .any(|op| matches!(op, Op::Put(raw, cond) if !names_writer(raw, cond)))
        {
            return Ok(false);
        }
        for op in ops {
            let ok = match op {
                Op::Put(raw, _) => {
                    let got = self.backend.get(&raw.pk, &raw.sk).await?;
                    got.is_some_and(|got| reads_back_as(&got, raw))
                }
                Op::Delete { pk, sk, .. } => self.backend.get(pk, sk).await?.is_none(),
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
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
}

/// A short random id for sort keys that need uniqueness within a millisecond.
pub fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}
