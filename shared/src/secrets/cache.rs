//! A cache in front of any [`SecretStore`], keyed on (name, version id).
//!
//! The connection item names the version its settings were verified with, so a lookup by
//! that version can be served from memory for as long as the process lives: a new version id
//! (reconnect) misses the cache and reads once; a disconnect removes the connection (no
//! lookup happens at all). After an outside system refused the credentials (401),
//! [`CachedSecrets::refresh`] drops what is cached for the name and reads its newest version,
//! so a secret rotated in the store outside riskflow is picked up by a warm process.

use super::{SecretError, SecretStore, SecretValue};
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct CachedSecrets {
    inner: Arc<dyn SecretStore>,
    entries: Arc<Mutex<HashMap<(String, String), SecretValue>>>,
}

impl CachedSecrets {
    pub fn new(inner: Arc<dyn SecretStore>) -> Self {
        CachedSecrets {
            inner,
            entries: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The store behind the cache (for writes).
    pub fn inner(&self) -> &Arc<dyn SecretStore> {
        &self.inner
    }

    /// The secret `name` at `version_id`, from memory when it was read before.
    pub async fn get(&self, name: &str, version_id: &str) -> Result<SecretString, SecretError> {
        let key = (name.to_string(), version_id.to_string());
        if let Some(v) = self.entries.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(v.value);
        }
        let value = self.inner.get(name, Some(version_id)).await?;
        if let Ok(mut m) = self.entries.lock() {
            m.retain(|(n, _), _| n != name);
            m.insert(key, value.clone());
        }
        Ok(value.value)
    }

    /// Forget what is cached for `name` and read its current version from the store (after the
    /// outside system answered 401): the value and the version id it was read at, cached.
    pub async fn refresh(&self, name: &str) -> Result<SecretValue, SecretError> {
        self.invalidate(name);
        let value = self.inner.get(name, None).await?;
        if let Ok(mut m) = self.entries.lock() {
            m.retain(|(n, _), _| n != name);
            m.insert((name.to_string(), value.version_id.clone()), value.clone());
        }
        Ok(value)
    }

    /// Forget what is cached for `name` (after a disconnect).
    pub fn invalidate(&self, name: &str) {
        if let Ok(mut m) = self.entries.lock() {
            m.retain(|(n, _), _| n != name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::memory::MemorySecretStore;
    use secrecy::ExposeSecret;

    #[tokio::test]
    async fn a_warm_lookup_of_the_same_version_makes_no_store_call() {
        let store = Arc::new(MemorySecretStore::new());
        let v1 = store
            .put("p-jira", &SecretString::from("one"))
            .await
            .unwrap();
        let cache = CachedSecrets::new(store.clone());
        assert_eq!(
            cache.get("p-jira", &v1).await.unwrap().expose_secret(),
            "one"
        );
        assert_eq!(
            cache.get("p-jira", &v1).await.unwrap().expose_secret(),
            "one"
        );
        assert_eq!(store.get_count(), 1);
        let v2 = store
            .put("p-jira", &SecretString::from("two"))
            .await
            .unwrap();
        assert_eq!(
            cache.get("p-jira", &v2).await.unwrap().expose_secret(),
            "two"
        );
        assert_eq!(store.get_count(), 2);
        cache.invalidate("p-jira");
        assert_eq!(
            cache.get("p-jira", &v2).await.unwrap().expose_secret(),
            "two"
        );
        assert_eq!(store.get_count(), 3);
    }
}
