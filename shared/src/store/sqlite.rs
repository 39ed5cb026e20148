//! SQLite [`ItemStore`]: the embedded default (`riskflow dev`, one machine).
//!
//! One table, `items(pk, sk, version, expires_at, lease_until, lease_token, body)`, in WAL
//! mode with a busy timeout. Every conditional write and every transaction runs inside
//! `BEGIN IMMEDIATE`, which takes the database's write lock before the condition is read, so
//! writers in two OS processes on one file serialize: the condition a writer checks is the
//! state it writes over. Conditions are evaluated with [`cond_holds`], exactly as the memory
//! backend does. A writer that cannot get the lock within the busy timeout gets
//! [`BackendError::Unavailable`].
//!
//! The blocking calls run on tokio's blocking pool (`spawn_blocking`) over one connection
//! behind a mutex.

use super::backend::{
    BackendError, Cond, ItemStore, Op, Query, RawItem, check_item_size, check_transaction,
    cond_holds,
};
use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a writer waits for another writer's lock before answering `Unavailable`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Rows per write transaction of [`ItemStore::put_many`], so one call never holds the write
/// lock for long.
const PUT_MANY_CHUNK: usize = 500;

const COLUMNS: &str = "pk, sk, version, expires_at, lease_until, lease_token, body";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    version INTEGER NOT NULL,
    expires_at INTEGER NULL,
    lease_until INTEGER NULL,
    lease_token TEXT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID";

/// The SQLite item store. Cheap to clone (clones share the connection).
#[derive(Clone)]
pub struct SqliteItemStore {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteItemStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteItemStore").finish_non_exhaustive()
    }
}

fn map_err(e: rusqlite::Error) -> BackendError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
        {
            BackendError::Unavailable(format!(
                "sqlite is busy (another writer holds the lock): {e}"
            ))
        }
        _ => BackendError::Other(format!("sqlite: {e}")),
    }
}

fn to_i64(v: u64) -> Result<i64, BackendError> {
    i64::try_from(v).map_err(|_| BackendError::Other(format!("version {v} out of range")))
}

fn row_to_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawItem> {
    let version: i64 = row.get(2)?;
    Ok(RawItem {
        pk: row.get(0)?,
        sk: row.get(1)?,
        version: u64::try_from(version).unwrap_or(0),
        expires_at: row.get(3)?,
        lease_until: row.get(4)?,
        lease_token: row.get(5)?,
        body: row.get(6)?,
    })
}

fn read_one(conn: &Connection, pk: &str, sk: &str) -> rusqlite::Result<Option<RawItem>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"
    ))?
    .query_row(params![pk, sk], row_to_item)
    .optional()
}

fn write_one(conn: &Connection, it: &RawItem) -> Result<(), BackendError> {
    let version = to_i64(it.version)?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO items (pk, sk, version, expires_at, lease_until, lease_token, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut st| {
        st.execute(params![
            it.pk,
            it.sk,
            version,
            it.expires_at,
            it.lease_until,
            it.lease_token,
            it.body
        ])
    })
    .map(|_| ())
    .map_err(map_err)
}

fn delete_one(conn: &Connection, pk: &str, sk: &str) -> Result<(), BackendError> {
    conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut st| st.execute(params![pk, sk]))
        .map(|_| ())
        .map_err(map_err)
}

fn configure(conn: &Connection) -> Result<(), BackendError> {
    // The busy timeout first: switching to WAL and creating the table both take locks
    // another process may be holding at the same moment.
    conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(map_err)?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(BackendError::Other(format!(
            "sqlite: could not switch to WAL mode (journal mode is {mode})"
        )));
    }
    // Every commit reaches the disk: a recorded intent must survive a power loss, or the
    // next claim could act a second time.
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;")
        .map_err(map_err)?;
    conn.execute_batch(SCHEMA).map_err(map_err)?;
    Ok(())
}

impl SqliteItemStore {
    /// Open (creating when absent) the database file at `path`. A new file is created with
    /// mode 0600 (SQLite gives its `-wal` and `-shm` files the same mode).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, BackendError> {
        let path = path.as_ref();
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            // Create the empty file with owner-only permissions before SQLite writes to it.
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(BackendError::Other(format!(
                        "cannot create database file {}: {e}",
                        path.display()
                    )));
                }
            }
        }
        let conn = Connection::open(path).map_err(map_err)?;
        configure(&conn)?;
        Ok(Self::from_connection(conn))
    }

    /// A private database in memory (gone when the store is dropped).
    pub fn open_in_memory() -> Result<Self, BackendError> {
        let conn = Connection::open_in_memory().map_err(map_err)?;
        configure(&conn)?;
        Ok(Self::from_connection(conn))
    }

    fn from_connection(conn: Connection) -> Self {
        SqliteItemStore {
            conn: Arc::new(Mutex::new(conn)),
        }
    }

    /// Run `f` with the connection on the blocking pool.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, BackendError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside `f` drops its transaction (rolled back), so the connection is
            // still usable after a poisoned lock.
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| BackendError::Other(format!("sqlite worker failed: {e}")))?
    }
}

/// Apply `ops` in one `BEGIN IMMEDIATE` transaction: every condition is checked against the
/// state before any operation (as in a DynamoDB transaction), then all are applied.
fn apply_ops(conn: &mut Connection, ops: &[Op]) -> Result<(), BackendError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    for (index, op) in ops.iter().enumerate() {
        let (pk, sk, cond) = match op {
            Op::Put(it, c) => (it.pk.as_str(), it.sk.as_str(), c),
            Op::Delete { pk, sk, cond } => (pk.as_str(), sk.as_str(), cond),
        };
        if matches!(cond, Cond::Always) {
            continue;
        }
        let current = read_one(&tx, pk, sk).map_err(map_err)?;
        if !cond_holds(cond, current.as_ref()) {
            // Dropping the transaction rolls it back (nothing was written yet anyway).
            return Err(BackendError::ConditionFailed { index });
        }
    }
    for op in ops {
        match op {
            Op::Put(it, _) => write_one(&tx, it)?,
            Op::Delete { pk, sk, .. } => delete_one(&tx, pk, sk)?,
        }
    }
    tx.commit().map_err(map_err)
}

#[async_trait]
impl ItemStore for SqliteItemStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<RawItem>, BackendError> {
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.with_conn(move |c| read_one(c, &pk, &sk).map_err(map_err))
            .await
    }

    async fn batch_get(&self, keys: &[(String, String)]) -> Result<Vec<RawItem>, BackendError> {
        let mut keys = keys.to_vec();
        keys.sort();
        keys.dedup();
        self.with_conn(move |c| {
            // One read transaction: every item comes from the same snapshot.
            let tx = c.transaction().map_err(map_err)?;
            let mut out = Vec::with_capacity(keys.len());
            for (pk, sk) in &keys {
                if let Some(it) = read_one(&tx, pk, sk).map_err(map_err)? {
                    out.push(it);
                }
            }
            tx.commit().map_err(map_err)?;
            Ok(out)
        })
        .await
    }

    async fn put(&self, item: RawItem, cond: Cond) -> Result<(), BackendError> {
        self.transact(vec![Op::Put(item, cond)]).await
    }

    async fn put_many(&self, items: Vec<RawItem>) -> Result<(), BackendError> {
        if items.is_empty() {
            return Ok(());
        }
        items.iter().try_for_each(check_item_size)?;
        self.with_conn(move |c| {
            for chunk in items.chunks(PUT_MANY_CHUNK) {
                let tx = c
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                for it in chunk {
                    write_one(&tx, it)?;
                }
                tx.commit().map_err(map_err)?;
            }
            Ok(())
        })
        .await
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
        if ops.is_empty() {
            return Ok(());
        }
        check_transaction(&ops)?;
        self.with_conn(move |c| apply_ops(c, &ops)).await
    }

    async fn query(&self, q: &Query) -> Result<(Vec<RawItem>, Option<String>), BackendError> {
        let q = q.clone();
        self.with_conn(move |c| {
            let limit = q.limit.max(1);
            let mut sql = format!("SELECT {COLUMNS} FROM items WHERE pk = ?1");
            let mut args: Vec<rusqlite::types::Value> = vec![q.pk.clone().into()];
            if let Some(p) = &q.sk_prefix {
                args.push(p.clone().into());
                let n = args.len();
                // `sk >= p` lets the primary key bound the scan; `substr` keeps the prefix.
                sql.push_str(&format!(
                    " AND sk >= ?{n} AND substr(sk, 1, length(?{n})) = ?{n}"
                ));
            }
            if let Some(a) = &q.after {
                args.push(a.clone().into());
                let op = if q.descending { "<" } else { ">" };
                sql.push_str(&format!(" AND sk {op} ?{}", args.len()));
            }
            let dir = if q.descending { "DESC" } else { "ASC" };
            // One more than asked for tells whether there is a next page.
            args.push(rusqlite::types::Value::Integer(
                i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1,
            ));
            sql.push_str(&format!(" ORDER BY sk {dir} LIMIT ?{}", args.len()));
            let mut st = c.prepare_cached(&sql).map_err(map_err)?;
            let mut items: Vec<RawItem> = st
                .query_map(rusqlite::params_from_iter(args), row_to_item)
                .map_err(map_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(map_err)?;
            let next = if items.len() > limit {
                items.truncate(limit);
                items.last().map(|it| it.sk.clone())
            } else {
                None
            };
            Ok((items, next))
        })
        .await
    }

    async fn delete_expired(&self, now: i64) -> Result<u64, BackendError> {
        self.with_conn(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let n = tx
                .execute(
                    "DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at < ?1",
                    params![now],
                )
                .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(n as u64)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pk: &str, sk: &str, version: u64) -> RawItem {
        RawItem {
            pk: pk.into(),
            sk: sk.into(),
            version,
            expires_at: None,
            lease_until: None,
            lease_token: None,
            body: "{}".into(),
        }
    }

    #[tokio::test]
    async fn a_prefix_query_with_like_metacharacters_matches_literally() {
        let s = SqliteItemStore::open_in_memory().unwrap();
        for sk in ["a%b#1", "a%b#2", "axb#1", "a_b#1"] {
            s.put(item("p", sk, 1), Cond::Always).await.unwrap();
        }
        let q = Query {
            pk: "p".into(),
            sk_prefix: Some("a%b#".into()),
            limit: 10,
            ..Query::default()
        };
        let (items, next) = s.query(&q).await.unwrap();
        let sks: Vec<_> = items.iter().map(|i| i.sk.as_str()).collect();
        assert_eq!(sks, ["a%b#1", "a%b#2"]);
        assert_eq!(next, None);
    }

    #[tokio::test]
    async fn a_writer_that_cannot_get_the_lock_is_told_the_store_is_unavailable() {
        let dir =
            std::env::temp_dir().join(format!("riskflow-sqlite-busy-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.db");
        let s = SqliteItemStore::open(&path).unwrap();
        // Another connection holds the write lock.
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        {
            let c = s.conn.lock().unwrap();
            c.busy_timeout(Duration::from_millis(50)).unwrap();
        }
        let err = s.put(item("p", "s", 1), Cond::Always).await.unwrap_err();
        assert!(matches!(err, BackendError::Unavailable(_)), "{err:?}");
        other.execute_batch("ROLLBACK").unwrap();
        s.put(item("p", "s", 1), Cond::Always).await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
