//! In-memory [`ItemStore`], for unit tests of flows. Same semantics as the durable backends.

use super::backend::{
    BackendError, Cond, ItemStore, Op, Query, RawItem, check_item_size, check_transaction,
    cond_holds,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Items in a sorted map, behind one lock (so every operation is atomic).
#[derive(Default)]
pub struct MemoryItemStore {
    items: Mutex<BTreeMap<(String, String), RawItem>>,
}

impl MemoryItemStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), RawItem>> {
        // A panic while holding the lock leaves the map consistent (every mutation is one
        // insert or remove), so a poisoned lock is safe to keep using.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key(pk: &str, sk: &str) -> (String, String) {
    (pk.to_string(), sk.to_string())
}

#[async_trait]
impl ItemStore for MemoryItemStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<RawItem>, BackendError> {
        Ok(self.lock().get(&key(pk, sk)).cloned())
    }

    async fn batch_get(&self, keys: &[(String, String)]) -> Result<Vec<RawItem>, BackendError> {
        let map = self.lock();
        Ok(keys.iter().filter_map(|k| map.get(k).cloned()).collect())
    }

    async fn put(&self, item: RawItem, cond: Cond) -> Result<(), BackendError> {
        self.transact(vec![Op::Put(item, cond)]).await
    }

    async fn put_many(&self, items: Vec<RawItem>) -> Result<(), BackendError> {
        items.iter().try_for_each(check_item_size)?;
        let mut map = self.lock();
        for it in items {
            map.insert(key(&it.pk, &it.sk), it);
        }
        Ok(())
    }

    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), BackendError> {
        self.transact(vec![Op::Delete {
            pk: pk.to_string(),
            sk: sk.to_string(),
            cond,
        }])
        .await
    }

    async fn transact(&self, ops: Vec<Op>) -> Result<(), BackendError> {
        // Refuse what DynamoDB refuses, so code tested here does not fail there.
        check_transaction(&ops)?;
        let mut map = self.lock();
        for (index, op) in ops.iter().enumerate() {
            let (k, cond) = match op {
                Op::Put(it, c) => (key(&it.pk, &it.sk), c),
                Op::Delete { pk, sk, cond } => (key(pk, sk), cond),
            };
            if !cond_holds(cond, map.get(&k)) {
                return Err(BackendError::ConditionFailed { index });
            }
        }
        for op in ops {
            match op {
                Op::Put(it, _) => {
                    map.insert(key(&it.pk, &it.sk), it);
                }
                Op::Delete { pk, sk, .. } => {
                    map.remove(&key(&pk, &sk));
                }
            }
        }
        Ok(())
    }

    async fn query(&self, q: &Query) -> Result<(Vec<RawItem>, Option<String>), BackendError> {
        let map = self.lock();
        let in_partition = map
            .range(key(&q.pk, "")..)
            .take_while(|((pk, _), _)| *pk == q.pk)
            .map(|(_, it)| it)
            .filter(|it| q.sk_prefix.as_deref().is_none_or(|p| it.sk.starts_with(p)));
        let ordered: Vec<&RawItem> = if q.descending {
            in_partition
                .filter(|it| q.after.as_deref().is_none_or(|a| it.sk.as_str() < a))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect()
        } else {
            in_partition
                .filter(|it| q.after.as_deref().is_none_or(|a| it.sk.as_str() > a))
                .collect()
        };
        let limit = q.limit.max(1);
        let more = ordered.len() > limit;
        let page: Vec<RawItem> = ordered.into_iter().take(limit).cloned().collect();
        let next = if more {
            page.last().map(|it| it.sk.clone())
        } else {
            None
        };
        Ok((page, next))
    }

    async fn delete_expired(&self, now: i64) -> Result<u64, BackendError> {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, it| it.expires_at.is_none_or(|e| e >= now));
        Ok((before - map.len()) as u64)
    }
}
