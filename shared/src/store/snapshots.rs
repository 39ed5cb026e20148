//! Report snapshots: the rows of the last pull of a report (Workday's RaaS report, which has
//! no cancellation event and is compared pull to pull), kept in pages of a bounded size under
//! one small head item, so a report of any size fits DynamoDB's 400 KB item limit.
//!
//! - `snapshot#<source>` / `page#<generation>#<nnnnn>`: a JSON list of rows, at most
//!   [`SNAPSHOT_PAGE_BYTES`] (a single larger row gets a page of its own).
//! - `snapshot#<source>` / `head`: which generation is current, its page and row counts.
//!
//! A new snapshot is a new generation: its pages are written first (batched), then one
//! transaction flips the head to it (conditional on the head the caller read) and deletes the
//! previous generation's pages and the single-item snapshot older versions wrote
//! (`snapshot#<source>` / `last`, read once as the previous snapshot). A crash before the flip
//! leaves the previous snapshot whole; the pages of a generation never flipped to expire with
//! their retention ([`SNAPSHOT_RETENTION_MS`], renewed by every pull).

use super::*;
use serde::Deserialize;
use serde_json::Value;

/// The most bytes of rows one page holds: half of DynamoDB's item limit, so the page item with
/// its key and attributes stays well inside it.
pub const SNAPSHOT_PAGE_BYTES: usize = 200_000;
/// How long a snapshot is kept after the pull that wrote it. Every pull writes a new one, so
/// only a source not pulled for this long loses its snapshot (its next pull is then a first).
pub const SNAPSHOT_RETENTION_MS: i64 = 400 * DAY_MS;
const HEAD_SK: &str = "head";
/// The single-item snapshot of older versions.
const LEGACY_SK: &str = "last";

fn snapshot_pk(source: &str) -> String {
    format!("snapshot#{source}")
}

fn page_sk(generation: &str, n: u32) -> String {
    format!("page#{generation}#{n:05}")
}

#[derive(Debug, Serialize, Deserialize)]
struct Head {
    generation: String,
    pages: u32,
    rows: u64,
    written_at: i64,
}

/// A stored snapshot as read: its rows, and where they came from (what the next write replaces).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub rows: Vec<Value>,
    /// How many page items it was read from (0 for the single item of older versions).
    pub pages: u32,
    origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
enum Origin {
    Head {
        version: u64,
        generation: String,
        pages: u32,
    },
    Legacy,
}

impl Store {
    /// The snapshot last stored for `source`: the head and its pages (one read and one batched
    /// read per 100 pages), or else the single-item snapshot older versions wrote.
    pub async fn report_snapshot(&self, source: &str, now: i64) -> Result<Option<Snapshot>> {
        let pk = snapshot_pk(source);
        let Some(raw) = self.get_live(&pk, HEAD_SK, now).await? else {
            return match self.get_live(&pk, LEGACY_SK, now).await? {
                Some(raw) => Ok(Some(Snapshot {
                    rows: Self::decode(&raw)?,
                    pages: 0,
                    origin: Origin::Legacy,
                })),
                None => Ok(None),
            };
        };
        let head: Head = Self::decode(&raw)?;
        let keys: Vec<(String, String)> = (0..head.pages)
            .map(|n| (pk.clone(), page_sk(&head.generation, n)))
            .collect();
        let mut pages: Vec<RawItem> = self
            .backend
            .batch_get(&keys)
            .await?
            .into_iter()
            .filter(|it| it.expires_at.is_none_or(|e| e >= now))
            .collect();
        if pages.len() != keys.len() {
            return Err(StoreError::Corrupt {
                pk,
                sk: HEAD_SK.into(),
                reason: format!(
                    "the snapshot names {} pages of generation {} and {} are stored",
                    head.pages,
                    head.generation,
                    pages.len()
                ),
            });
        }
        pages.sort_by(|a, b| a.sk.cmp(&b.sk));
        let mut rows = Vec::with_capacity(usize::try_from(head.rows).unwrap_or(0));
        for page in &pages {
            rows.extend(Self::decode::<Vec<Value>>(page)?);
        }
        Ok(Some(Snapshot {
            rows,
            pages: head.pages,
            origin: Origin::Head {
                version: raw.version,
                generation: head.generation,
                pages: head.pages,
            },
        }))
    }

    /// Store `rows` (in the order given) as `source`'s snapshot, replacing `replacing`, the
    /// snapshot read before (`None`: there was none). Answers how many pages were written.
    /// Requests: one batched write per 25 pages, then one transaction (the head, and the
    /// deletion of up to 98 pages of the replaced generation; more take one more transaction
    /// per 100). A snapshot stored by someone else since `replacing` was read is a
    /// [`StoreError::Conflict`], and this one is not stored.
    pub async fn put_report_snapshot(
        &self,
        source: &str,
        replacing: Option<&Snapshot>,
        rows: &[Value],
        now: i64,
    ) -> Result<u32> {
        let pk = snapshot_pk(source);
        let generation = format!("{}-{}", ts_key(now), short_id());
        let expires_at = Some(now + SNAPSHOT_RETENTION_MS);
        let pages: Vec<RawItem> = paginate(rows)
            .into_iter()
            .enumerate()
            .map(|(n, body)| RawItem {
                pk: pk.clone(),
                sk: page_sk(&generation, n as u32),
                version: 1,
                expires_at,
                lease_until: None,
                lease_token: None,
                body,
            })
            .collect();
        let page_count = pages.len() as u32;
        self.backend.put_many(pages).await?;

        let (expected, old) = match replacing.map(|s| &s.origin) {
            None => (0, Vec::new()),
            Some(Origin::Legacy) => (0, vec![LEGACY_SK.to_string()]),
            Some(Origin::Head {
                version,
                generation,
                pages,
            }) => (
                *version,
                (0..*pages).map(|n| page_sk(generation, n)).collect(),
            ),
        };
        let mut head = Self::encode(
            pk.clone(),
            HEAD_SK.into(),
            expected + 1,
            &Head {
                generation: generation.clone(),
                pages: page_count,
                rows: rows.len() as u64,
                written_at: now,
            },
        )?;
        head.expires_at = expires_at;
        let delete = |sk: &String| Op::Delete {
            pk: pk.clone(),
            sk: sk.clone(),
            cond: Cond::Always,
        };
        let first = old.len().min(backend::MAX_TRANSACT_OPS - 2);
        let mut ops = vec![Op::Put(head, Cond::Version { expected, now })];
        ops.extend(old[..first].iter().map(delete));
        match self.backend.transact(ops).await {
            Ok(()) => {}
            Err(BackendError::ConditionFailed { .. }) => {
                // A repeat of a flip whose answer was lost fails against the flip itself.
                let ours = match self.get_live(&pk, HEAD_SK, now).await? {
                    Some(raw) => Self::decode::<Head>(&raw)?.generation == generation,
                    None => false,
                };
                if !ours {
                    return Err(StoreError::Conflict {
                        what: format!("{source} report snapshot"),
                    });
                }
            }
            Err(e) => return Err(e.into()),
        }
        for chunk in old[first..].chunks(backend::MAX_TRANSACT_OPS) {
            if let Err(e) = self
                .backend
                .transact(chunk.iter().map(delete).collect())
                .await
            {
                // Not an error of the snapshot: the pages expire with their retention.
                tracing::warn!(%pk, error = %e, "pages of a replaced snapshot left to expire");
                break;
            }
        }
        Ok(page_count)
    }
}

/// Rows as JSON lists of at most [`SNAPSHOT_PAGE_BYTES`] each (a larger row alone).
fn paginate(rows: &[Value]) -> Vec<String> {
    let mut pages = Vec::new();
    let mut page = String::from("[");
    for row in rows {
        let text = row.to_string();
        if page.len() > 1 && page.len() + text.len() + 2 > SNAPSHOT_PAGE_BYTES {
            page.push(']');
            pages.push(std::mem::replace(&mut page, String::from("[")));
        }
        if page.len() > 1 {
            page.push(',');
        }
        page.push_str(&text);
    }
    if page.len() > 1 {
        page.push(']');
        pages.push(page);
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryItemStore;
    use async_trait::async_trait;
    use serde_json::json;
    use std::sync::Mutex;

    /// A memory backend that notes each call and its size (items, keys or operations).
    #[derive(Default)]
    struct Counting {
        inner: MemoryItemStore,
        calls: Mutex<Vec<(&'static str, usize)>>,
    }

    impl Counting {
        fn note(&self, call: &'static str, n: usize) {
            self.calls.lock().unwrap().push((call, n));
        }
        fn take(&self) -> Vec<(&'static str, usize)> {
            std::mem::take(&mut *self.calls.lock().unwrap())
        }
    }

    #[async_trait]
    impl ItemStore for Counting {
        async fn get(&self, pk: &str, sk: &str) -> Result<Option<RawItem>, BackendError> {
            self.note("get", 1);
            self.inner.get(pk, sk).await
        }
        async fn batch_get(&self, keys: &[(String, String)]) -> Result<Vec<RawItem>, BackendError> {
            self.note("batch_get", keys.len());
            self.inner.batch_get(keys).await
        }
        async fn put(&self, item: RawItem, cond: Cond) -> Result<(), BackendError> {
            self.note("put", 1);
            self.inner.put(item, cond).await
        }
        async fn put_many(&self, items: Vec<RawItem>) -> Result<(), BackendError> {
            self.note("put_many", items.len());
            self.inner.put_many(items).await
        }
        async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), BackendError> {
            self.note("delete", 1);
            self.inner.delete(pk, sk, cond).await
        }
        async fn transact(&self, ops: Vec<Op>) -> Result<(), BackendError> {
            self.note("transact", ops.len());
            self.inner.transact(ops).await
        }
        async fn query(&self, q: &Query) -> Result<(Vec<RawItem>, Option<String>), BackendError> {
            self.note("query", 1);
            self.inner.query(q).await
        }
        async fn delete_expired(&self, now: i64) -> Result<u64, BackendError> {
            self.inner.delete_expired(now).await
        }
    }

    #[tokio::test]
    async fn a_20000_row_snapshot_is_read_with_two_requests_and_replaced_with_two() {
        let backend = Arc::new(Counting::default());
        let store = Store::new(backend.clone());
        let rows: Vec<Value> = (0..20_000)
            .map(|i| {
                json!({"employee_id": format!("{i:06}"), "email": format!("p{i}@example.com"),
                "termination_date": "2030-01-31", "event_id": format!("9f1c6a2b1e3d-{i}")})
            })
            .collect();
        let pages = store
            .put_report_snapshot("workday", None, &rows, 1_000)
            .await
            .unwrap() as usize;
        assert!((5..=25).contains(&pages), "{pages} pages");
        // One batched write (BatchWriteItem takes 25 items), one transaction with the head.
        assert_eq!(backend.take(), [("put_many", pages), ("transact", 1)]);
        let read = store
            .report_snapshot("workday", 2_000)
            .await
            .unwrap()
            .unwrap();
        // The head, then every page in one batched read (BatchGetItem takes 100 keys).
        assert_eq!(backend.take(), [("get", 1), ("batch_get", pages)]);
        store
            .put_report_snapshot("workday", Some(&read), &rows, 3_000)
            .await
            .unwrap();
        // The flip deletes the replaced generation's pages in the same transaction.
        assert_eq!(
            backend.take(),
            [("put_many", pages), ("transact", 1 + pages)]
        );
    }

    #[test]
    fn pages_stay_within_the_budget_and_keep_every_row_in_order() {
        let rows: Vec<Value> = (0..5_000)
            .map(|i| json!({"employee_id": format!("{i:06}"), "pad": "x".repeat(i % 300)}))
            .collect();
        let pages = paginate(&rows);
        assert!(pages.len() > 1, "{}", pages.len());
        assert!(pages.iter().all(|p| p.len() <= SNAPSHOT_PAGE_BYTES));
        let back: Vec<Value> = pages
            .iter()
            .flat_map(|p| serde_json::from_str::<Vec<Value>>(p).unwrap())
            .collect();
        assert_eq!(back, rows);
        assert!(paginate(&[]).is_empty());
    }
}
