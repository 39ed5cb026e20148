//! Connections: each system's settings, status and secret reference, and their history.

use super::*;

impl Store {
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
}
