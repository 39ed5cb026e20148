//! What only runs on AWS: the SDK configuration (loaded once at cold start), and starting runs by
//! invoking a flow's function (feature `invoke`: only connections-api starts runs, so only it
//! links the Lambda SDK).

#[cfg(feature = "invoke")]
use {
    super::App, crate::api::connections::RunStarter, crate::domain::Flow, serde_json::json,
    std::sync::Arc,
};

/// The AWS SDK configuration of a function: the SDK's defaults, with an HTTPS client that
/// trusts the system's CA bundle read from one file (`SSL_CERT_FILE`, or where Amazon Linux and
/// Debian keep it) rather than every file of the certificate directory, a scan that was a third
/// of a cold start. Without a bundle file the SDK's own client is used.
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(client) = bundle_https_client() {
        loader = loader.http_client(client);
    }
    loader.load().await
}

fn bundle_https_client() -> Option<aws_smithy_runtime_api::client::http::SharedHttpClient> {
    use aws_smithy_http_client::tls::{
        Provider, TlsContext, TrustStore, rustls_provider::CryptoMode,
    };
    let path = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(
            [
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/certs/ca-certificates.crt",
            ]
            .map(std::path::PathBuf::from),
        )
        .find(|p| p.is_file())?;
    let pem = std::fs::read(&path).ok()?;
    let tls = TlsContext::builder()
        .with_trust_store(
            TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(pem),
        )
        .build()
        .ok()?;
    Some(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(tls)
            .build_https(),
    )
}

/// Starts runs by invoking the flow's function asynchronously.
#[cfg(feature = "invoke")]
pub struct LambdaInvoker {
    pub client: aws_sdk_lambda::Client,
    /// flow name → function name.
    pub functions: std::collections::BTreeMap<String, String>,
}

#[cfg(feature = "invoke")]
#[async_trait::async_trait]
impl RunStarter for LambdaInvoker {
    async fn start(&self, flow: Flow, dry_run: bool) -> Result<String, String> {
        let name = self.functions.get(flow.as_str()).ok_or_else(|| {
            format!("no function is configured for {flow} (RISKFLOW_FUNCTION_NAMES)")
        })?;
        self.client
            .invoke()
            .function_name(name)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_smithy_types::Blob::new(json!({"dry_run": dry_run}).to_string()))
            .send()
            .await
            .map_err(|e| {
                tracing::error!(error = %aws_smithy_types::error::display::DisplayErrorContext(&e), "invoke failed");
                format!("{flow} could not be started")
            })?;
        Ok(format!(
            "{flow} started{}",
            if dry_run { " (dry run)" } else { "" }
        ))
    }
}

/// Build the connections API for Lambda, from the SDK configuration the environment was
/// built with (loaded once at cold start).
#[cfg(feature = "invoke")]
pub fn aws_connections_api(
    app: &App,
    cfg: &crate::config::Config,
    sdk: &aws_config::SdkConfig,
) -> crate::api::connections::ConnectionsApi {
    let invoker = LambdaInvoker {
        client: aws_sdk_lambda::Client::new(sdk),
        functions: cfg.function_names.clone(),
    };
    app.connections_api(Arc::new(invoker))
}
