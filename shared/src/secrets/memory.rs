//! In-memory [`SecretStore`], for tests. Counts reads so cache tests can assert on them.

use super::{SecretError, SecretStore, SecretValue};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Versions of one secret, oldest first (version id, value); `None` once deleted.
type Versions = Option<Vec<(String, String)>>;

#[derive(Default)]
pub struct MemorySecretStore {
    secrets: Mutex<HashMap<String, Versions>>,
    gets: AtomicU64,
}

impl MemorySecretStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many `get` calls reached this store.
    pub fn get_count(&self) -> u64 {
        self.gets.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SecretStore for MemorySecretStore {
    async fn put(&self, name: &str, value: &SecretString) -> Result<String, SecretError> {
        let mut map = self
            .secrets
            .lock()
            .map_err(|_| SecretError::Other("lock poisoned".into()))?;
        let version = uuid::Uuid::new_v4().to_string();
        let entry = map.entry(name.to_string()).or_insert(None);
        entry
            .get_or_insert_with(Vec::new)
            .push((version.clone(), value.expose_secret().to_string()));
        Ok(version)
    }

    async fn get(&self, name: &str, version_id: Option<&str>) -> Result<SecretValue, SecretError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let map = self
            .secrets
            .lock()
            .map_err(|_| SecretError::Other("lock poisoned".into()))?;
        let versions =
            map.get(name)
                .and_then(|v| v.as_ref())
                .ok_or_else(|| SecretError::NotFound {
                    name: name.to_string(),
                })?;
        let found = match version_id {
            Some(id) => versions.iter().find(|(v, _)| v == id),
            None => versions.last(),
        };
        found
            .map(|(v, s)| SecretValue {
                version_id: v.clone(),
                value: SecretString::from(s.clone()),
            })
            .ok_or_else(|| SecretError::NotFound {
                name: name.to_string(),
            })
    }

    async fn delete(&self, name: &str) -> Result<(), SecretError> {
        let mut map = self
            .secrets
            .lock()
            .map_err(|_| SecretError::Other("lock poisoned".into()))?;
        map.insert(name.to_string(), None);
        Ok(())
    }
}
