//! The storage primitive every state backend implements: items under (`pk`, `sk`) with a
//! version counter, retention and lease attributes, conditional puts, all-or-nothing
//! transactions and ordered queries within one `pk`. The semantics (claims, leases,
//! retention) live once, in [`super::Store`], above this trait.

use async_trait::async_trait;

/// One stored item. `body` is the JSON of the domain record; the other attributes are kept
/// beside it because conditions test them.
#[derive(Debug, Clone, PartialEq)]
pub struct RawItem {
    pub pk: String,
    pub sk: String,
    /// Incremented on every write by [`super::Store`]; conditions compare it.
    pub version: u64,
    /// Retention only (DynamoDB TTL attribute). Past it, the item is treated as absent. Kept to
    /// the second by DynamoDB (TTL is epoch seconds), so callers give it second precision.
    pub expires_at: Option<i64>,
    pub lease_until: Option<i64>,
    pub lease_token: Option<String>,
    pub body: String,
}

/// A condition a write must meet, evaluated atomically with the write.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// No condition.
    Always,
    /// No live item: absent, or `expires_at < now`.
    Absent { now: i64 },
    /// The live item has this version (`0` means: no live item, as [`Cond::Absent`]).
    Version { expected: u64, now: i64 },
    /// The item's `lease_token` equals this token.
    Token(String),
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Put(RawItem, Cond),
    Delete { pk: String, sk: String, cond: Cond },
}

/// A query within one partition, in `sk` order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    pub pk: String,
    /// Only items whose `sk` starts with this.
    pub sk_prefix: Option<String>,
    /// Exclusive start: only items after this `sk` in the direction of the query.
    pub after: Option<String>,
    pub descending: bool,
    /// The most items to return (a backend may return fewer and a `next` key).
    pub limit: usize,
}

/// Backend errors.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A condition failed; for a transaction, `index` names the first failing operation.
    #[error("condition failed (operation {index})")]
    ConditionFailed { index: usize },
    /// The backend was throttled or briefly unavailable; the caller may retry later.
    #[error("state store temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("state store error: {0}")]
    Other(String),
}

/// The storage primitive. Implemented by DynamoDB, SQLite and memory.
#[async_trait]
pub trait ItemStore: Send + Sync {
    /// Strongly consistent read of one item, expired or not.
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<RawItem>, BackendError>;
    /// Strongly consistent read of many items (any number of keys; the backend batches).
    async fn batch_get(&self, keys: &[(String, String)]) -> Result<Vec<RawItem>, BackendError>;
    /// One conditional put.
    async fn put(&self, item: RawItem, cond: Cond) -> Result<(), BackendError>;
    /// Unconditional puts of many items (not atomic as a whole; each is).
    async fn put_many(&self, items: Vec<RawItem>) -> Result<(), BackendError>;
    /// One conditional delete.
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), BackendError>;
    /// All operations or none (at most 100 operations).
    async fn transact(&self, ops: Vec<Op>) -> Result<(), BackendError>;
    /// Items of one partition in `sk` order, and the `sk` to continue after when there may be more.
    async fn query(&self, q: &Query) -> Result<(Vec<RawItem>, Option<String>), BackendError>;
    /// Delete every item whose retention has passed (`expires_at < now`), as DynamoDB's TTL does
    /// in the background at a time of its choosing, and say how many went. An item whose
    /// `expires_at` was moved into the future before its turn is kept (TTL checks again before
    /// it deletes). On AWS, DynamoDB does this itself; the emulator never does, so tests that
    /// span months call this to model it on every backend.
    async fn delete_expired(&self, now: i64) -> Result<u64, BackendError>;
}

/// The most operations one transaction may hold (DynamoDB's limit; every backend keeps it).
pub const MAX_TRANSACT_OPS: usize = 100;

/// Refuse a transaction DynamoDB would refuse: more than [`MAX_TRANSACT_OPS`] operations, two
/// operations on one item, or an item over [`MAX_ITEM_BYTES`]. Every backend calls this, so code tested against memory or
/// SQLite does not fail on DynamoDB.
pub fn check_transaction(ops: &[Op]) -> Result<(), BackendError> {
    if ops.len() > MAX_TRANSACT_OPS {
        return Err(BackendError::Other(format!(
            "a transaction may hold at most {MAX_TRANSACT_OPS} operations (got {})",
            ops.len()
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(ops.len());
    for op in ops {
        let key = match op {
            Op::Put(it, _) => {
                check_item_size(it)?;
                (it.pk.as_str(), it.sk.as_str())
            }
            Op::Delete { pk, sk, .. } => (pk.as_str(), sk.as_str()),
        };
        if !seen.insert(key) {
            return Err(BackendError::Other(
                "a transaction may not hold two operations on one item".into(),
            ));
        }
    }
    Ok(())
}

/// The largest item DynamoDB stores: 400 KB, attribute names and values together.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// An item's size as DynamoDB counts it: each attribute's name plus its value (a string's
/// UTF-8 bytes; a number about one byte per two digits, plus one), over the attributes the
/// DynamoDB backend writes (`pk`, `sk`, `version`, `expires_at`, `lease_until`, `lease_token`,
/// `body`). See "Item sizes" in the DynamoDB developer guide.
pub fn item_size(it: &RawItem) -> usize {
    let number = |name: &str, digits: usize| name.len() + digits.div_ceil(2) + 1;
    let digits = |v: i64| v.unsigned_abs().to_string().len();
    let mut size = "pk".len() + it.pk.len() + "sk".len() + it.sk.len() + "body".len();
    size += it.body.len();
    size += number("version", it.version.to_string().len());
    if let Some(e) = it.expires_at {
        size += number("expires_at", digits(e.div_euclid(1000)));
    }
    if let Some(l) = it.lease_until {
        size += number("lease_until", digits(l));
    }
    if let Some(t) = &it.lease_token {
        size += "lease_token".len() + t.len();
    }
    size
}

/// Refuse an item DynamoDB would refuse for its size ([`MAX_ITEM_BYTES`]), naming its key and
/// size (never its body). Memory and SQLite call this on every write, so code tested there
/// does not fail on DynamoDB.
pub fn check_item_size(it: &RawItem) -> Result<(), BackendError> {
    let size = item_size(it);
    if size > MAX_ITEM_BYTES {
        return Err(BackendError::Other(format!(
            "item {}/{} is {size} bytes; DynamoDB stores items of at most {MAX_ITEM_BYTES} bytes (400 KB)",
            it.pk, it.sk
        )));
    }
    Ok(())
}

/// Evaluate a condition against the current item, for backends that check conditions
/// themselves (memory, SQLite inside a transaction).
pub fn cond_holds(cond: &Cond, current: Option<&RawItem>) -> bool {
    let live = |now: i64| current.filter(|it| it.expires_at.is_none_or(|e| e >= now));
    match cond {
        Cond::Always => true,
        Cond::Absent { now } => live(*now).is_none(),
        Cond::Version { expected: 0, now } => live(*now).is_none(),
        Cond::Version { expected, now } => live(*now).is_some_and(|it| it.version == *expected),
        Cond::Token(t) => current.is_some_and(|it| it.lease_token.as_deref() == Some(t.as_str())),
    }
}
