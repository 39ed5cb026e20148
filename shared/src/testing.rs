//! Helpers for tests of this crate and of the end-to-end test crate: the AWS SDK pointed at the
//! local emulator (`moto_server`), stores over fresh tables and secrets, unique names and
//! temporary directories.
//!
//! The emulator is required, never optional: a test that needs it and does not find
//! `AWS_ENDPOINT_URL` panics with instructions instead of skipping. The endpoint must be a
//! loopback address, so a stray environment can never point tests at real AWS, and the
//! credentials are always the emulator's dummy ones.

use crate::secrets::secrets_manager::SecretsManagerStore;
use crate::store::Store;
use crate::store::dynamodb::DynamoItemStore;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What to do when the emulator is not configured.
pub const EMULATOR_HELP: &str = "this test needs the AWS emulator: run `make test` (it starts moto_server), or start `moto_server -H 127.0.0.1 -p 5055` and export AWS_ENDPOINT_URL=http://127.0.0.1:5055 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1";

/// Whether `endpoint` is an http(s) URL on a loopback host.
pub fn is_loopback_url(endpoint: &str) -> bool {
    let Ok(url) = url::Url::parse(endpoint) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The emulator endpoint from `AWS_ENDPOINT_URL`. Panics with instructions when it is
/// missing, and refuses anything but a loopback URL.
pub fn emulator_endpoint() -> String {
    let endpoint = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(e) if !e.trim().is_empty() => e.trim().to_string(),
        _ => panic!("{EMULATOR_HELP}"),
    };
    assert!(
        is_loopback_url(&endpoint),
        "AWS_ENDPOINT_URL={endpoint} is not a loopback URL; tests only ever talk to a local emulator. {EMULATOR_HELP}"
    );
    endpoint
}

/// SDK configuration for the local emulator: the endpoint from `AWS_ENDPOINT_URL` (required,
/// loopback only), dummy credentials, and `AWS_REGION` (default `us-east-1`).
pub async fn aws_test_config() -> aws_config::SdkConfig {
    let endpoint = emulator_endpoint();
    let region = std::env::var("AWS_REGION")
        .ok()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "us-east-1".to_string());
    let creds =
        aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "riskflow-test");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region))
        .credentials_provider(creds)
        .load()
        .await
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test (in this or another process) uses: `<prefix>-<pid>-<n>-<random>`.
/// Valid as a DynamoDB table name and a Secrets Manager secret name.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}-{n}-{}", std::process::id(), &rand[..8])
}

/// A DynamoDB item store over a new, uniquely named table in the emulator.
pub async fn dynamo_test_backend() -> (Arc<DynamoItemStore>, String) {
    let config = aws_test_config().await;
    let table = unique_name("riskflow-test");
    let backend = DynamoItemStore::new(aws_sdk_dynamodb::Client::new(&config), table.clone());
    backend.create_table().await.unwrap_or_else(|e| {
        panic!("cannot create table {table} in the emulator: {e}. {EMULATOR_HELP}")
    });
    (Arc::new(backend), table)
}

/// A [`Store`] over a new, uniquely named DynamoDB table in the emulator, and the table's name.
pub async fn dynamo_test_store() -> (Store, String) {
    let (backend, table) = dynamo_test_backend().await;
    (Store::new(backend), table)
}

/// A [`Store`] over an existing table in the emulator (e.g. one made by [`dynamo_test_store`]
/// in another process).
pub async fn dynamo_store_for_table(table: &str) -> Store {
    let config = aws_test_config().await;
    Store::new(Arc::new(DynamoItemStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
    )))
}

/// A Secrets Manager store against the emulator. Use [`unique_name`] for secret names.
pub async fn secrets_manager_test_store() -> SecretsManagerStore {
    let config = aws_test_config().await;
    SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&config))
}

/// A temporary directory, removed (with its contents) when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A new empty directory under the system temp dir (mode 0700).
    pub fn new(prefix: &str) -> TempDir {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(unique_name(prefix));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .unwrap_or_else(|e| panic!("cannot create temp dir {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints_are_accepted() {
        assert!(is_loopback_url("http://127.0.0.1:5055"));
        assert!(is_loopback_url("http://127.9.0.1:5055/"));
        assert!(is_loopback_url("http://localhost:5055"));
        assert!(is_loopback_url("http://[::1]:5055"));
        assert!(!is_loopback_url("https://dynamodb.us-east-1.amazonaws.com"));
        assert!(!is_loopback_url("http://10.0.0.5:5055"));
        assert!(!is_loopback_url("http://127.0.0.1.evil.example:5055"));
        assert!(!is_loopback_url("file:///tmp/x"));
        assert!(!is_loopback_url("not a url"));
    }

    #[test]
    fn unique_names_differ_and_are_valid_table_names() {
        let a = unique_name("t");
        let b = unique_name("t");
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert!((3..=255).contains(&a.len()));
    }
}
