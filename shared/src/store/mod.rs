//! The state store: every item riskflow keeps (schema version, connections and their history,
//! scans, work items, locks, people, the departure index, runs, webhook deliveries, audit
//! entries), with the semantics that make outside effects exactly-once (README.md, "How
//! exactly-once works": claims with lease tokens, token-conditional writes, retention treated
//! as absence, all-or-nothing delivery + work item records).
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
mod locks;
mod people;
mod records;

pub use backend::{BackendError, Cond, ItemStore, Op, Query, RawItem};

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
}

/// A short random id for sort keys that need uniqueness within a millisecond.
pub fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}
