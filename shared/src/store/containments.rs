//! Containments: `containment#<id>` / `record` (durable while open), the index of open ones by
//! membership (`containments#open` / `<idp>#<group>#<user>`, one per membership, so two sessions
//! of one person share one containment), and the index of closed ones by when they closed
//! (`containments#closed` / `<ts>#<id>`). Closing writes the record, both indexes and the audit
//! entry of what was done in one transaction: the undo is recorded, and audited, exactly once.

use super::*;
use crate::domain::{CLOSED_RETENTION_MS, Containment};

const OPEN: &str = "containments#open";
const CLOSED: &str = "containments#closed";

fn record_pk(id: &str) -> String {
    format!("containment#{id}")
}

#[derive(Serialize, serde::Deserialize)]
struct IndexEntry {
    id: String,
}

impl Store {
    /// A containment by id.
    pub async fn containment(&self, id: &str, now: i64) -> Result<Option<Containment>> {
        match self.get_live(&record_pk(id), "record", now).await? {
            Some(raw) => Ok(Some(Self::decode_containment(&raw)?)),
            None => Ok(None),
        }
    }

    fn decode_containment(raw: &RawItem) -> Result<Containment> {
        let mut c: Containment = Self::decode(raw)?;
        c.version = raw.version;
        Ok(c)
    }

    /// The open containment of this membership, if any.
    pub async fn open_containment_for(
        &self,
        idp: ConnectionKind,
        group_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<Containment>> {
        let key = Containment::membership_key(idp, group_id, user_id);
        let Some(raw) = self.get_live(OPEN, &key, now).await? else {
            return Ok(None);
        };
        let entry: IndexEntry = Self::decode(&raw)?;
        self.containment(&entry.id, now).await
    }

    /// Open containments (a page, by membership key), read with one batched read per page.
    pub async fn open_containments(
        &self,
        cursor: Option<String>,
        limit: usize,
        now: i64,
    ) -> Result<Page<Containment>> {
        self.containments_in(OPEN, false, cursor, limit, now).await
    }

    /// Closed containments, the most recently closed first.
    pub async fn closed_containments(
        &self,
        cursor: Option<String>,
        limit: usize,
        now: i64,
    ) -> Result<Page<Containment>> {
        self.containments_in(CLOSED, true, cursor, limit, now).await
    }

    async fn containments_in(
        &self,
        pk: &str,
        descending: bool,
        cursor: Option<String>,
        limit: usize,
        now: i64,
    ) -> Result<Page<Containment>> {
        let q = Query {
            pk: pk.into(),
            sk_prefix: None,
            after: cursor,
            descending,
            limit: limit.max(1),
        };
        let (entries, next) = self.query_filled(q, now).await?;
        let ids = entries
            .iter()
            .map(|raw| Self::decode::<IndexEntry>(raw).map(|e| e.id))
            .collect::<Result<Vec<_>>>()?;
        let keys: Vec<(String, String)> = ids
            .iter()
            .map(|id| (record_pk(id), "record".to_string()))
            .collect();
        let mut found: HashMap<String, Containment> = HashMap::new();
        for raw in self.backend.batch_get(&keys).await? {
            if raw.expires_at.is_none_or(|e| e >= now) {
                let c = Self::decode_containment(&raw)?;
                found.insert(c.id.clone(), c);
            }
        }
        Ok(Page {
            items: ids.iter().filter_map(|id| found.remove(id)).collect(),
            next,
        })
    }

    /// Record a new containment. An open one takes its membership's index entry: when another
    /// worker recorded one for the same membership first, this answers `Conflict` (read that one
    /// with [`Store::open_containment_for`] and add the session to it). One that is closed from
    /// the start (the person was already a member) goes straight to the closed index.
    pub async fn create_containment(&self, c: &Containment, now: i64) -> Result<Containment> {
        let mut saved = c.clone();
        saved.version = 1;
        let (record, entry) = if c.status.is_open() {
            let entry = Self::encode(OPEN.into(), c.key(), 1, &IndexEntry { id: c.id.clone() })?;
            (Self::containment_item(&saved)?, entry)
        } else {
            Self::closed_items(&saved, now)?
        };
        let ops = vec![
            Op::Put(record, Cond::Absent { now }),
            Op::Put(entry, Cond::Absent { now }),
        ];
        match self.backend.transact(ops).await {
            Ok(()) => Ok(saved),
            Err(BackendError::ConditionFailed { .. }) => Err(StoreError::Conflict {
                what: format!("containment of {} in group {}", c.login, c.group_id),
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn containment_item(c: &Containment) -> Result<RawItem> {
        Self::encode(record_pk(&c.id), "record".into(), c.version, c)
    }

    /// A closed containment's record and its closed-index entry, both kept for
    /// [`CLOSED_RETENTION_MS`] from when it closed.
    fn closed_items(c: &Containment, now: i64) -> Result<(RawItem, RawItem)> {
        let at = c.closed.as_ref().map_or(now, |x| x.at);
        let expires_at = Some(at + CLOSED_RETENTION_MS);
        let mut record = Self::containment_item(c)?;
        record.expires_at = expires_at;
        let mut entry = Self::encode(
            CLOSED.into(),
            format!("{}#{}", ts_key(at), c.id),
            1,
            &IndexEntry { id: c.id.clone() },
        )?;
        entry.expires_at = expires_at;
        Ok((record, entry))
    }

    fn conflict(c: &Containment) -> StoreError {
        StoreError::Conflict {
            what: format!("containment {}", c.id),
        }
    }

    /// Save an open containment read at `c.version`.
    pub async fn save_containment(&self, c: &Containment, now: i64) -> Result<Containment> {
        self.save_containment_audited(c, None, 0, now).await
    }

    /// [`Store::save_containment`] with an audit entry written in the same transaction (who
    /// asked for an undo).
    pub async fn save_containment_audited(
        &self,
        c: &Containment,
        audit: Option<&AuditEntry>,
        audit_retention_ms: i64,
        now: i64,
    ) -> Result<Containment> {
        let mut saved = c.clone();
        saved.version = c.version + 1;
        let record = Self::containment_item(&saved)?;
        let cond = Cond::Version {
            expected: c.version,
            now,
        };
        let written = match audit {
            None => self.backend.put(record, cond).await,
            Some(e) => {
                let entry = Self::audit_item(e, audit_retention_ms)?;
                self.backend
                    .transact(vec![Op::Put(record, cond), Op::Put(entry, Cond::Always)])
                    .await
            }
        };
        match written {
            Ok(()) => Ok(saved),
            Err(BackendError::ConditionFailed { .. }) => Err(Self::conflict(c)),
            Err(e) => Err(e.into()),
        }
    }

    /// Close an open containment read at `c.version` (its `closed` set by the caller): the
    /// record, both indexes and `audit` (what was done, if anything) in one transaction.
    pub async fn close_containment(
        &self,
        c: &Containment,
        audit: Option<&AuditEntry>,
        audit_retention_ms: i64,
        now: i64,
    ) -> Result<Containment> {
        let mut saved = c.clone();
        saved.version = c.version + 1;
        let (record, closed) = Self::closed_items(&saved, now)?;
        let mut ops = vec![
            Op::Put(
                record,
                Cond::Version {
                    expected: c.version,
                    now,
                },
            ),
            Op::Delete {
                pk: OPEN.into(),
                sk: c.key(),
                cond: Cond::Always,
            },
            Op::Put(closed, Cond::Always),
        ];
        if let Some(e) = audit {
            ops.push(Op::Put(
                Self::audit_item(e, audit_retention_ms)?,
                Cond::Always,
            ));
        }
        match self.backend.transact(ops).await {
            Ok(()) => Ok(saved),
            Err(BackendError::ConditionFailed { .. }) => Err(Self::conflict(c)),
            Err(e) => Err(e.into()),
        }
    }
}
