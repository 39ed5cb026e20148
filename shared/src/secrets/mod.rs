//! The secret store: one JSON secret per connection, named `<prefix><kind>`.
//!
//! [`SecretStore`] has three implementations: [`secrets_manager::SecretsManagerStore`] on AWS,
//! [`file::FileSecretStore`] locally (mode 0600 in a 0700 data dir) and
//! [`memory::MemorySecretStore`] in tests. [`cache::CachedSecrets`] wraps any of them and keys
//! its entries on (name, version id): the connection item records the version id, so a warm
//! invocation makes no call and a reconnect takes effect on the next run. Secret values are
//! [`secrecy::SecretString`]s and never appear in `Debug` or `Display` output.

pub mod cache;
#[cfg(feature = "local")]
pub mod file;
pub mod memory;
pub mod secrets_manager;

use async_trait::async_trait;
use secrecy::SecretString;

pub use cache::CachedSecrets;

/// Errors of the secret store. None of them carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {name} not found")]
    NotFound { name: String },
    #[error("secret store temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("secret store error: {0}")]
    Other(String),
}

/// A stored secret value and the version id it was read at.
#[derive(Clone)]
pub struct SecretValue {
    pub version_id: String,
    pub value: SecretString,
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValue")
            .field("version_id", &self.version_id)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

/// Where connection credentials live.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Store a new value under `name`, creating the secret (or restoring one scheduled for
    /// deletion) as needed. Returns the new version id.
    async fn put(&self, name: &str, value: &SecretString) -> Result<String, SecretError>;
    /// Read `name` at `version_id`, or the current version when `None`.
    async fn get(&self, name: &str, version_id: Option<&str>) -> Result<SecretValue, SecretError>;
    /// Delete `name` at once, without a recovery window. Deleting an absent secret is not an error.
    async fn delete(&self, name: &str) -> Result<(), SecretError>;
}
