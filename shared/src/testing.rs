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
pub const EMULATOR_HELP: &str = "this test needs the AWS emulator: run `make test` (it starts moto_server), or start `.venv/bin/python scripts/moto_serial.py -H 127.0.0.1 -p 5055` (moto with its DynamoDB requests serialised) and export AWS_ENDPOINT_URL=http://127.0.0.1:5055 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1";

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
    dynamo_test_backend_with(&aws_test_config().await).await
}

/// [`dynamo_test_store`] through a given SDK configuration (e.g. with [`aws_faults`]).
pub async fn dynamo_test_store_with(config: &aws_config::SdkConfig) -> (Store, String) {
    let (backend, table) = dynamo_test_backend_with(config).await;
    (Store::new(backend), table)
}

async fn dynamo_test_backend_with(
    config: &aws_config::SdkConfig,
) -> (Arc<DynamoItemStore>, String) {
    let table = unique_name("riskflow-test");
    let backend = DynamoItemStore::new(aws_sdk_dynamodb::Client::new(config), table.clone());
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

/// Faults in front of the AWS emulator, at the SDK's HTTP layer: a share of the calls to a
/// service is answered with that service's throttling error (HTTP 400, not sent on, as AWS
/// does when it throttles) or with a 500 after the call was sent and applied (the answer is
/// lost, not the write). The SDK's own retries see them as they would see AWS's.
pub mod aws_faults {
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
        SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_types::body::SdkBody;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::sync::{Arc, Mutex};

    /// What a faulty call gets.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum AwsFault {
        /// Refused before it is applied: `ProvisionedThroughputExceededException` (DynamoDB) or
        /// `ThrottlingException` (Secrets Manager), HTTP 400.
        Throttle,
        /// Sent and applied, then answered `InternalServerError` 500.
        AppliedThen500,
    }

    #[derive(Debug, Default)]
    struct Plan {
        /// (x-amz-target prefix, e.g. `DynamoDB_20120810.` or `secretsmanager.`, share, fault)
        rules: Vec<(String, f64, AwsFault)>,
        rng: Option<StdRng>,
        /// Faults injected, by target prefix.
        injected: std::collections::BTreeMap<String, u64>,
    }

    /// The fault plan, shared by the SDK clients built with [`AwsFaults::http_client`].
    #[derive(Debug, Clone, Default)]
    pub struct AwsFaults {
        plan: Arc<Mutex<Plan>>,
    }

    /// The `x-amz-target` prefix of DynamoDB calls.
    pub const DYNAMODB: &str = "DynamoDB_20120810.";
    /// The `x-amz-target` prefix of Secrets Manager calls.
    pub const SECRETS_MANAGER: &str = "secretsmanager.";

    impl AwsFaults {
        pub fn new(seed: u64) -> Self {
            let f = AwsFaults::default();
            f.plan.lock().expect("plan").rng = Some(StdRng::seed_from_u64(seed));
            f
        }

        /// Fail `share` (0..=1) of the calls whose target starts with `target_prefix`.
        pub fn add(&self, target_prefix: &str, share: f64, fault: AwsFault) {
            self.plan
                .lock()
                .expect("plan")
                .rules
                .push((target_prefix.to_string(), share, fault));
        }

        /// Stop injecting.
        pub fn clear(&self) {
            self.plan.lock().expect("plan").rules.clear();
        }

        /// Faults injected so far into calls with this target prefix.
        pub fn injected(&self, target_prefix: &str) -> u64 {
            let p = self.plan.lock().expect("plan");
            p.injected
                .iter()
                .filter(|(k, _)| k.starts_with(target_prefix))
                .map(|(_, n)| *n)
                .sum()
        }

        fn roll(&self, target: &str) -> Option<AwsFault> {
            let mut p = self.plan.lock().ok()?;
            let Plan { rules, rng, .. } = &mut *p;
            let rng = rng.get_or_insert_with(|| StdRng::seed_from_u64(0));
            let hit = rules
                .iter()
                .filter(|(prefix, _, _)| target.starts_with(prefix.as_str()))
                .find(|(_, share, _)| rng.random_bool(share.clamp(0.0, 1.0)))
                .map(|(_, _, f)| *f);
            if hit.is_some() {
                *p.injected.entry(target.to_string()).or_default() += 1;
            }
            hit
        }

        /// An SDK HTTP client that injects this plan's faults in front of `inner`.
        pub fn http_client(&self, inner: SharedHttpClient) -> SharedHttpClient {
            SharedHttpClient::new(FaultyClient {
                inner,
                faults: self.clone(),
            })
        }

        /// `config` with this plan's faults in front of the SDK's default HTTP client.
        pub fn config(&self, config: &aws_config::SdkConfig) -> aws_config::SdkConfig {
            use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
            // The SDK's default client, made here: the loaded configuration leaves the choice
            // to each service client.
            let inner = config.http_client().unwrap_or_else(|| {
                aws_smithy_http_client::Builder::new()
                    .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                    .build_https()
            });
            config
                .to_builder()
                .http_client(self.http_client(inner))
                .build()
        }
    }

    #[derive(Debug)]
    struct FaultyClient {
        inner: SharedHttpClient,
        faults: AwsFaults,
    }

    impl HttpClient for FaultyClient {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(FaultyConnector {
                inner: self.inner.http_connector(settings, components),
                faults: self.faults.clone(),
            })
        }
    }

    #[derive(Debug)]
    struct FaultyConnector {
        inner: SharedHttpConnector,
        faults: AwsFaults,
    }

    fn error_response(status: u16, error_type: &str, message: &str) -> HttpResponse {
        let body = serde_json::json!({"__type": error_type, "message": message}).to_string();
        let mut resp = HttpResponse::new(
            status.try_into().expect("a valid status"),
            SdkBody::from(body),
        );
        resp.headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        resp.headers_mut()
            .insert("x-amzn-errortype", error_type.to_string());
        resp
    }

    impl HttpConnector for FaultyConnector {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let target = request
                .headers()
                .get("x-amz-target")
                .unwrap_or_default()
                .to_string();
            let throttle_type = if target.starts_with(DYNAMODB) {
                "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
            } else {
                "ThrottlingException"
            };
            match self.faults.roll(&target) {
                None => self.inner.call(request),
                Some(AwsFault::Throttle) => HttpConnectorFuture::ready(Ok(error_response(
                    400,
                    throttle_type,
                    "Rate exceeded (injected by the test)",
                ))),
                Some(AwsFault::AppliedThen500) => {
                    let sent = self.inner.call(request);
                    HttpConnectorFuture::new(async move {
                        let _applied = sent.await?;
                        Ok(error_response(
                            500,
                            "InternalServerError",
                            "Internal server error (injected by the test after the call was applied)",
                        ))
                    })
                }
            }
        }
    }
}

/// Every tracing event and span field of a test binary, as text, for tests that check what
/// the logs hold (a secret must never appear in them). Installs itself as the global
/// subscriber on first use.
pub mod log_capture {
    use std::fmt::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, OnceLock};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    struct Capture {
        buf: Arc<Mutex<String>>,
        next: AtomicU64,
    }

    struct Writer<'a>(&'a mut String);

    impl Visit for Writer<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            let _ = write!(self.0, " {}={}", field.name(), value);
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
            Some(tracing::level_filters::LevelFilter::TRACE)
        }
        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let mut buf = self.buf.lock().unwrap();
            let _ = write!(buf, "\nspan {}", attrs.metadata().name());
            attrs.record(&mut Writer(&mut buf));
            Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed))
        }
        fn record(&self, _: &Id, values: &Record<'_>) {
            let mut buf = self.buf.lock().unwrap();
            values.record(&mut Writer(&mut buf));
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut buf = self.buf.lock().unwrap();
            let _ = write!(
                buf,
                "\n{} {}",
                event.metadata().level(),
                event.metadata().target()
            );
            event.record(&mut Writer(&mut buf));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// The log of the whole process since the first call.
    pub fn log() -> Arc<Mutex<String>> {
        static BUF: OnceLock<Arc<Mutex<String>>> = OnceLock::new();
        BUF.get_or_init(|| {
            let buf = Arc::new(Mutex::new(String::new()));
            tracing::subscriber::set_global_default(Capture {
                buf: buf.clone(),
                next: AtomicU64::new(1),
            })
            .expect("no other global subscriber");
            buf
        })
        .clone()
    }
}
