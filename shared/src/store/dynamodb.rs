//! DynamoDB [`ItemStore`]: the state backend on AWS (one table, `pk`/`sk` strings).
//!
//! Attributes: `pk` S, `sk` S, `version` N, `expires_at` N (the table's TTL attribute, in epoch
//! seconds as DynamoDB's TTL requires, rounded up from the store's milliseconds; absent
//! when the item is kept forever), `lease_until` N, `lease_token` S, `body` S.
//!
//! Conditions become condition expressions with the meaning of [`super::backend::cond_holds`]:
//!
//! | condition | expression |
//! |---|---|
//! | `Absent`, `Version{0}` | `attribute_not_exists(pk) OR expires_at < :now` |
//! | `Version{v}` | `version = :v AND (attribute_not_exists(expires_at) OR expires_at >= :now)` |
//! | `Token(t)` | `lease_token = :t` |
//!
//! Reads are strongly consistent. Throttling, 5xx answers, timeouts and dispatch failures are
//! [`BackendError::Unavailable`]; a failed condition is [`BackendError::ConditionFailed`]. Error
//! messages carry the operation, the error code and DynamoDB's message (cut before anything
//! that looks like a JSON document), never an item body.

use super::backend::{BackendError, Cond, ItemStore, Op, Query, RawItem, check_transaction};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType,
    KeysAndAttributes, Put, PutRequest, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TransactWriteItem, WriteRequest,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use std::collections::HashMap;
use std::time::Duration;

/// DynamoDB's limits.
const BATCH_GET_MAX: usize = 100;
const BATCH_WRITE_MAX: usize = 25;
/// How many times unprocessed keys/items of a batch call are retried before giving up.
const BATCH_RETRIES: u32 = 8;

type Attrs = HashMap<String, AttributeValue>;

/// The DynamoDB item store over one table.
#[derive(Clone, Debug)]
pub struct DynamoItemStore {
    client: Client,
    table: String,
}

impl DynamoItemStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoItemStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Create the table (on-demand, `pk`/`sk` strings, TTL on `expires_at`) and wait until it
    /// is active. An existing table is fine. Used by tests and local setups; Terraform creates
    /// the real one.
    pub async fn create_table(&self) -> Result<(), BackendError> {
        let key = |name: &str, kt: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kt)
                .build()
                .map_err(|e| BackendError::Other(format!("CreateTable: {e}")))
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| BackendError::Other(format!("CreateTable: {e}")))
        };
        let res = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .send()
            .await;
        match res {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => return Err(classify("CreateTable", &e)),
        }
        // Wait until the table is active (immediate under the emulator, seconds on AWS).
        let mut delay = Duration::from_millis(50);
        for _ in 0..60 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| classify("DescribeTable", &e))?;
            if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                break;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name("expires_at")
            .enabled(true)
            .build()
            .map_err(|e| BackendError::Other(format!("UpdateTimeToLive: {e}")))?;
        match self
            .client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // "TimeToLive is already enabled": someone created the table before us.
            Err(e) if e.code() == Some("ValidationException") => Ok(()),
            Err(e) => Err(classify("UpdateTimeToLive", &e)),
        }
    }

    fn key(pk: &str, sk: &str) -> Attrs {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S(pk.to_string())),
            ("sk".to_string(), AttributeValue::S(sk.to_string())),
        ])
    }
}

/// Cut a service message before anything that may echo data (JSON documents, attribute
/// maps) and bound its length.
fn clean_message(msg: &str) -> String {
    let cut = msg.split(['{', '[']).next().unwrap_or("").trim();
    let mut out: String = cut.chars().take(300).collect();
    if out.len() < cut.len() {
        out.push('…');
    }
    out
}

const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "TransactionConflictException",
    "LimitExceededException",
];

/// Map an SDK error to a backend error (without any request data in the message).
fn classify<E: ProvideErrorMetadata>(op: &str, err: &SdkError<E, HttpResponse>) -> BackendError {
    match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let code = e.code().unwrap_or("Unknown");
            let status = ctx.raw().status().as_u16();
            let msg = clean_message(e.message().unwrap_or(""));
            if code == "ConditionalCheckFailedException" {
                BackendError::ConditionFailed { index: 0 }
            } else if TRANSIENT_CODES.contains(&code) || status >= 500 {
                BackendError::Unavailable(format!("DynamoDB {op}: {code}: {msg}"))
            } else {
                BackendError::Other(format!("DynamoDB {op}: {code}: {msg}"))
            }
        }
        SdkError::TimeoutError(_) => BackendError::Unavailable(format!("DynamoDB {op}: timed out")),
        SdkError::DispatchFailure(d) => BackendError::Unavailable(format!(
            "DynamoDB {op}: request could not be sent ({})",
            if d.is_timeout() {
                "timeout"
            } else if d.is_io() {
                "connection error"
            } else {
                "dispatch failure"
            }
        )),
        SdkError::ResponseError(_) => {
            BackendError::Unavailable(format!("DynamoDB {op}: the response could not be read"))
        }
        _ => BackendError::Other(format!("DynamoDB {op}: the request could not be built")),
    }
}

fn to_attrs(it: &RawItem) -> Attrs {
    let mut m = Attrs::with_capacity(7);
    m.insert("pk".into(), AttributeValue::S(it.pk.clone()));
    m.insert("sk".into(), AttributeValue::S(it.sk.clone()));
    m.insert("version".into(), AttributeValue::N(it.version.to_string()));
    if let Some(e) = it.expires_at {
        // DynamoDB's TTL reads epoch seconds; the store works in milliseconds.
        m.insert(
            "expires_at".into(),
            AttributeValue::N(ttl_seconds(e).to_string()),
        );
    }
    if let Some(l) = it.lease_until {
        m.insert("lease_until".into(), AttributeValue::N(l.to_string()));
    }
    if let Some(t) = &it.lease_token {
        m.insert("lease_token".into(), AttributeValue::S(t.clone()));
    }
    m.insert("body".into(), AttributeValue::S(it.body.clone()));
    m
}

fn from_attrs(m: &Attrs) -> Result<RawItem, BackendError> {
    let s = |name: &str| -> Result<Option<String>, BackendError> {
        match m.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(_) => Err(BackendError::Other(format!(
                "stored item has attribute {name} of the wrong type (expected a string)"
            ))),
        }
    };
    let n = |name: &str| -> Result<Option<i64>, BackendError> {
        match m.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| BackendError::Other(format!("stored item has a non-integer {name}"))),
            Some(_) => Err(BackendError::Other(format!(
                "stored item has attribute {name} of the wrong type (expected a number)"
            ))),
        }
    };
    let pk = s("pk")?.ok_or_else(|| BackendError::Other("stored item has no pk".into()))?;
    let sk = s("sk")?.ok_or_else(|| BackendError::Other(format!("stored item {pk} has no sk")))?;
    let version = n("version")?.unwrap_or(0);
    Ok(RawItem {
        version: u64::try_from(version).map_err(|_| {
            BackendError::Other(format!("stored item {pk}/{sk} has a negative version"))
        })?,
        expires_at: n("expires_at")?.map(|secs| secs.saturating_mul(1000)),
        lease_until: n("lease_until")?,
        lease_token: s("lease_token")?,
        body: s("body")?.unwrap_or_default(),
        pk,
        sk,
    })
}

/// A condition as a DynamoDB condition expression with its names and values.
struct CondExpr {
    expr: String,
    names: HashMap<String, String>,
    values: Attrs,
}

/// A millisecond time as the TTL attribute's epoch seconds, rounded up, so that "expired"
/// (`expires_at < ceil(now / 1000)` in conditions) agrees exactly with reads, which compare the
/// stored seconds × 1000 with `now` in milliseconds.
fn ttl_seconds(ms: i64) -> i64 {
    ms.saturating_add(999).div_euclid(1000)
}

fn cond_expr(cond: &Cond) -> Option<CondExpr> {
    let names = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    match cond {
        Cond::Always => None,
        Cond::Absent { now } | Cond::Version { expected: 0, now } => Some(CondExpr {
            expr: "attribute_not_exists(#pk) OR #exp < :now".into(),
            names: names(&[("#pk", "pk"), ("#exp", "expires_at")]),
            values: HashMap::from([(
                ":now".into(),
                AttributeValue::N(ttl_seconds(*now).to_string()),
            )]),
        }),
        Cond::Version { expected, now } => Some(CondExpr {
            expr: "#ver = :ver AND (attribute_not_exists(#exp) OR #exp >= :now)".into(),
            names: names(&[("#ver", "version"), ("#exp", "expires_at")]),
            values: HashMap::from([
                (":ver".into(), AttributeValue::N(expected.to_string())),
                (
                    ":now".into(),
                    AttributeValue::N(ttl_seconds(*now).to_string()),
                ),
            ]),
        }),
        Cond::Token(t) => Some(CondExpr {
            expr: "#tok = :tok".into(),
            names: names(&[("#tok", "lease_token")]),
            values: HashMap::from([(":tok".into(), AttributeValue::S(t.clone()))]),
        }),
    }
}

/// Exponential backoff with jitter for retrying unprocessed batch entries.
async fn backoff(attempt: u32) {
    let base = 25u64.saturating_mul(1 << attempt.min(6)).min(1_500);
    let jitter = rand::random::<u64>() % (base / 2 + 1);
    tokio::time::sleep(Duration::from_millis(base / 2 + jitter)).await;
}

/// What the `after` cursor of a query means for DynamoDB, which refuses an
/// `ExclusiveStartKey` outside the key condition's range.
enum Start {
    /// Start at the beginning of the (prefix) range.
    Beginning,
    /// Continue after this sort key.
    After(String),
    /// Nothing can follow: the page is empty.
    Nothing,
}

fn start_of(q: &Query, prefix: Option<&str>) -> Start {
    let Some(after) = q.after.as_deref() else {
        return Start::Beginning;
    };
    // Everything sorts after "", nothing before it.
    if after.is_empty() {
        return if q.descending {
            Start::Nothing
        } else {
            Start::Beginning
        };
    }
    match prefix {
        Some(p) if !after.starts_with(p) => {
            // `after` lies wholly before or wholly after every key with the prefix.
            let before_range = after < p;
            if before_range != q.descending {
                Start::Beginning
            } else {
                Start::Nothing
            }
        }
        _ => Start::After(after.to_string()),
    }
}

#[async_trait]
impl ItemStore for DynamoItemStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<RawItem>, BackendError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", &e))?;
        out.item().map(from_attrs).transpose()
    }

    async fn batch_get(&self, keys: &[(String, String)]) -> Result<Vec<RawItem>, BackendError> {
        // BatchGetItem refuses duplicate keys in one request.
        let mut keys = keys.to_vec();
        keys.sort();
        keys.dedup();
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending: Vec<Attrs> = chunk.iter().map(|(pk, sk)| Self::key(pk, sk)).collect();
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt > 0 {
                    if attempt > BATCH_RETRIES {
                        return Err(BackendError::Unavailable(format!(
                            "DynamoDB BatchGetItem: {} keys still unprocessed after {BATCH_RETRIES} retries",
                            pending.len()
                        )));
                    }
                    backoff(attempt).await;
                }
                attempt += 1;
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| BackendError::Other(format!("DynamoDB BatchGetItem: {e}")))?;
                let res = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, ka)
                    .send()
                    .await
                    .map_err(|e| classify("BatchGetItem", &e))?;
                if let Some(items) = res.responses().and_then(|r| r.get(&self.table)) {
                    for it in items {
                        out.push(from_attrs(it)?);
                    }
                }
                if let Some(left) = res.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    pending = left.keys().to_vec();
                }
            }
        }
        Ok(out)
    }

    async fn put(&self, item: RawItem, cond: Cond) -> Result<(), BackendError> {
        let ce = cond_expr(&cond);
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attrs(&item)));
        if let Some(c) = ce {
            req = req
                .condition_expression(c.expr)
                .set_expression_attribute_names(Some(c.names))
                .set_expression_attribute_values(Some(c.values));
        }
        req.send().await.map_err(|e| classify("PutItem", &e))?;
        Ok(())
    }

    async fn put_many(&self, items: Vec<RawItem>) -> Result<(), BackendError> {
        // BatchWriteItem refuses two requests for one key in a call: the last write wins,
        // as it would with sequential puts.
        let mut by_key: Vec<RawItem> = Vec::with_capacity(items.len());
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        for it in items {
            match seen.get(&(it.pk.clone(), it.sk.clone())) {
                Some(&i) => by_key[i] = it,
                None => {
                    seen.insert((it.pk.clone(), it.sk.clone()), by_key.len());
                    by_key.push(it);
                }
            }
        }
        for chunk in by_key.chunks(BATCH_WRITE_MAX) {
            let mut pending = chunk
                .iter()
                .map(|it| {
                    PutRequest::builder()
                        .set_item(Some(to_attrs(it)))
                        .build()
                        .map(|p| WriteRequest::builder().put_request(p).build())
                        .map_err(|e| BackendError::Other(format!("DynamoDB BatchWriteItem: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt > 0 {
                    if attempt > BATCH_RETRIES {
                        return Err(BackendError::Unavailable(format!(
                            "DynamoDB BatchWriteItem: {} items still unprocessed after {BATCH_RETRIES} retries",
                            pending.len()
                        )));
                    }
                    backoff(attempt).await;
                }
                attempt += 1;
                let res = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut pending))
                    .send()
                    .await
                    .map_err(|e| classify("BatchWriteItem", &e))?;
                if let Some(left) = res.unprocessed_items().and_then(|u| u.get(&self.table)) {
                    pending = left.clone();
                }
            }
        }
        Ok(())
    }

    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), BackendError> {
        let mut req = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)));
        if let Some(c) = cond_expr(&cond) {
            req = req
                .condition_expression(c.expr)
                .set_expression_attribute_names(Some(c.names))
                .set_expression_attribute_values(Some(c.values));
        }
        req.send().await.map_err(|e| classify("DeleteItem", &e))?;
        Ok(())
    }

    async fn transact(&self, ops: Vec<Op>) -> Result<(), BackendError> {
        if ops.is_empty() {
            return Ok(());
        }
        // Refused here with a clear message rather than by DynamoDB's ValidationException.
        check_transaction(&ops)?;
        let mut twis = Vec::with_capacity(ops.len());
        for op in &ops {
            let twi = match op {
                Op::Put(it, cond) => {
                    let mut b = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(to_attrs(it)));
                    if let Some(c) = cond_expr(cond) {
                        b = b
                            .condition_expression(c.expr)
                            .set_expression_attribute_names(Some(c.names))
                            .set_expression_attribute_values(Some(c.values));
                    }
                    let p = b.build().map_err(|e| {
                        BackendError::Other(format!("DynamoDB TransactWriteItems: {e}"))
                    })?;
                    TransactWriteItem::builder().put(p).build()
                }
                Op::Delete { pk, sk, cond } => {
                    let mut b = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::key(pk, sk)));
                    if let Some(c) = cond_expr(cond) {
                        b = b
                            .condition_expression(c.expr)
                            .set_expression_attribute_names(Some(c.names))
                            .set_expression_attribute_values(Some(c.values));
                    }
                    let d = b.build().map_err(|e| {
                        BackendError::Other(format!("DynamoDB TransactWriteItems: {e}"))
                    })?;
                    TransactWriteItem::builder().delete(d).build()
                }
            };
            twis.push(twi);
        }
        // The SDK fills in a ClientRequestToken, so its own retries are idempotent.
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(twis))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => {
                if let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(tc)) =
                    e.as_service_error()
                {
                    let codes: Vec<&str> = tc
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None"))
                        .collect();
                    if let Some(index) = codes.iter().position(|c| *c == "ConditionalCheckFailed") {
                        return Err(BackendError::ConditionFailed { index });
                    }
                    let summary = codes.join(",");
                    let transient = codes.iter().any(|c| {
                        matches!(
                            *c,
                            "TransactionConflict"
                                | "ThrottlingError"
                                | "ProvisionedThroughputExceeded"
                                | "RequestLimitExceeded"
                                | "InternalServerError"
                        )
                    });
                    return Err(if transient {
                        BackendError::Unavailable(format!(
                            "DynamoDB TransactWriteItems: transaction cancelled (reasons {summary})"
                        ))
                    } else {
                        BackendError::Other(format!(
                            "DynamoDB TransactWriteItems: transaction cancelled (reasons {summary})"
                        ))
                    });
                }
                Err(classify("TransactWriteItems", &e))
            }
        }
    }

    async fn query(&self, q: &Query) -> Result<(Vec<RawItem>, Option<String>), BackendError> {
        // DynamoDB refuses an empty string as a key condition value; "" prefixes everything.
        let prefix = q.sk_prefix.as_deref().filter(|p| !p.is_empty());
        let start = match start_of(q, prefix) {
            Start::Nothing => return Ok((Vec::new(), None)),
            Start::Beginning => None,
            Start::After(sk) => Some(Self::key(&q.pk, &sk)),
        };
        let mut names = HashMap::from([("#pk".to_string(), "pk".to_string())]);
        let mut values = HashMap::from([(":pk".to_string(), AttributeValue::S(q.pk.clone()))]);
        let mut kce = "#pk = :pk".to_string();
        if let Some(p) = prefix {
            kce.push_str(" AND begins_with(#sk, :prefix)");
            names.insert("#sk".into(), "sk".into());
            values.insert(":prefix".into(), AttributeValue::S(p.to_string()));
        }
        let limit = i32::try_from(q.limit.max(1)).unwrap_or(i32::MAX);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(kce)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(!q.descending)
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("Query", &e))?;
        let items = out
            .items()
            .iter()
            .map(from_attrs)
            .collect::<Result<Vec<_>, _>>()?;
        let next = match out.last_evaluated_key().and_then(|k| k.get("sk")) {
            Some(AttributeValue::S(sk)) => Some(sk.clone()),
            _ => None,
        };
        Ok((items, next))
    }

    async fn delete_expired(&self, now: i64) -> Result<u64, BackendError> {
        // What TTL does: find the expired items (a Scan, which only tests make), then delete
        // each one on the condition that it is still expired, so an item whose retention was
        // refreshed in between is kept.
        let now_s = ttl_seconds(now);
        let expired = || CondExpr {
            expr: "#exp < :now".into(),
            names: HashMap::from([("#exp".to_string(), "expires_at".to_string())]),
            values: HashMap::from([(":now".to_string(), AttributeValue::N(now_s.to_string()))]),
        };
        let mut start: Option<Attrs> = None;
        let mut keys: Vec<(String, String)> = Vec::new();
        loop {
            let mut c = expired();
            c.names.insert("#pk".into(), "pk".into());
            c.names.insert("#sk".into(), "sk".into());
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(c.expr)
                .projection_expression("#pk, #sk")
                .set_expression_attribute_names(Some(c.names))
                .set_expression_attribute_values(Some(c.values))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Scan", &e))?;
            for it in out.items() {
                if let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                    (it.get("pk"), it.get("sk"))
                {
                    keys.push((pk.clone(), sk.clone()));
                }
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        let mut deleted = 0;
        for (pk, sk) in keys {
            let c = expired();
            let res = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(Self::key(&pk, &sk)))
                .condition_expression(c.expr)
                .set_expression_attribute_names(Some(c.names))
                .set_expression_attribute_values(Some(c.values))
                .send()
                .await;
            match res.map_err(|e| classify("DeleteItem", &e)) {
                Ok(_) => deleted += 1,
                Err(BackendError::ConditionFailed { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(after: Option<&str>, descending: bool) -> Query {
        Query {
            pk: "p".into(),
            sk_prefix: Some("history#".into()),
            after: after.map(str::to_string),
            descending,
            limit: 10,
        }
    }

    #[test]
    fn a_cursor_outside_the_prefix_range_starts_at_the_right_end() {
        let p = Some("history#");
        assert!(matches!(start_of(&q(None, false), p), Start::Beginning));
        assert!(matches!(
            start_of(&q(Some("config"), false), p),
            Start::Beginning
        ));
        assert!(matches!(
            start_of(&q(Some("config"), true), p),
            Start::Nothing
        ));
        assert!(matches!(
            start_of(&q(Some("zzz"), false), p),
            Start::Nothing
        ));
        assert!(matches!(
            start_of(&q(Some("zzz"), true), p),
            Start::Beginning
        ));
        assert!(matches!(start_of(&q(Some(""), false), p), Start::Beginning));
        assert!(matches!(start_of(&q(Some(""), true), p), Start::Nothing));
        assert!(
            matches!(start_of(&q(Some("history#5"), true), p), Start::After(ref s) if s == "history#5")
        );
    }

    #[test]
    fn conditions_become_the_documented_expressions() {
        let c = cond_expr(&Cond::Absent { now: 5 }).unwrap();
        assert_eq!(c.expr, "attribute_not_exists(#pk) OR #exp < :now");
        let c = cond_expr(&Cond::Version {
            expected: 0,
            now: 5,
        })
        .unwrap();
        assert_eq!(c.expr, "attribute_not_exists(#pk) OR #exp < :now");
        let c = cond_expr(&Cond::Version {
            expected: 3,
            now: 5,
        })
        .unwrap();
        assert_eq!(
            c.expr,
            "#ver = :ver AND (attribute_not_exists(#exp) OR #exp >= :now)"
        );
        assert_eq!(c.values.get(":ver"), Some(&AttributeValue::N("3".into())));
        let c = cond_expr(&Cond::Token("t".into())).unwrap();
        assert_eq!(c.expr, "#tok = :tok");
        assert!(cond_expr(&Cond::Always).is_none());
    }

    #[test]
    fn service_messages_are_cut_before_echoed_data() {
        assert_eq!(
            clean_message("One or more parameter values were invalid: {\"body\":\"secret\"}"),
            "One or more parameter values were invalid:"
        );
    }

    #[test]
    fn items_round_trip_through_attributes() {
        let it = RawItem {
            pk: "a".into(),
            sk: "b".into(),
            version: 7,
            expires_at: Some(-3000),
            lease_until: None,
            lease_token: Some("t".into()),
            body: "{\"x\":1}".into(),
        };
        let m = to_attrs(&it);
        assert!(!m.contains_key("lease_until"));
        assert_eq!(from_attrs(&m).unwrap(), it);
    }

    #[test]
    fn the_ttl_attribute_is_in_epoch_seconds_and_agrees_with_reads_at_the_boundary() {
        let it = |ms: i64| RawItem {
            pk: "a".into(),
            sk: "b".into(),
            version: 1,
            expires_at: Some(ms),
            lease_until: None,
            lease_token: None,
            body: String::new(),
        };
        // DynamoDB TTL wants seconds: 1_700_000_000_500 ms is stored as 1_700_000_001 s.
        let m = to_attrs(&it(1_700_000_000_500));
        assert_eq!(m["expires_at"], AttributeValue::N("1700000001".into()));
        let back = from_attrs(&m).unwrap().expires_at.unwrap();
        assert_eq!(back, 1_700_000_001_000);
        // The condition's `:now` is rounded up too, so "expired" means the same as for reads:
        // stored seconds × 1000 < now.
        for now in [1_700_000_000_999, 1_700_000_001_000, 1_700_000_001_001] {
            let read_expired = back < now;
            let cond_expired = 1_700_000_001 < ttl_seconds(now);
            assert_eq!(read_expired, cond_expired, "now = {now}");
        }
    }
}
