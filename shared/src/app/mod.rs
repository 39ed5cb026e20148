//! The composition root: [`App`] builds a flow's dependencies from the stored connections and
//! their secrets for every entry point (the Lambda functions, `riskflow dev` and the CLI), runs
//! flows and backfills, processes webhook deliveries, and builds the connections API and the
//! webhook receiver. [`aws`] holds what only runs on AWS (the SDK configuration, the Lambda
//! invoker).
//!
//! Each run reads the connection items it needs (their settings and status are needed anyway);
//! the secret is read through the version-keyed cache, so a warm invocation makes no Secrets
//! Manager call and a reconnect or disconnect takes effect on the next run.

pub mod aws;

use crate::api::connections::{ConnectionsApi, RunStarter, Verifier, VerifyFailure};
use crate::api::webhooks::WebhookReceiver;
use crate::clock::Clock;
use crate::connectors::adp::AdpSource;
use crate::connectors::adp::{AdpClient, AdpCredentials};
use crate::connectors::bamboohr::BambooClient;
use crate::connectors::bamboohr::BambooDirectory;
use crate::connectors::incydr::IncydrAdapter;
use crate::connectors::incydr::IncydrClient;
use crate::connectors::jira::JiraClient;
use crate::connectors::jira::JiraSink;
use crate::connectors::okta::OktaClient;
use crate::connectors::okta::OktaIdp;
use crate::connectors::servicenow::ServiceNowClient;
use crate::connectors::servicenow::ServiceNowSink;
use crate::connectors::workday::WorkdayReport;
use crate::connectors::workday::{FieldMapping, WorkdayClient};
use crate::domain::{ConnectionKind, ConnectionStatus, Flow, RunRecord, RunStatus};
use crate::flows::alert_tickets::{self, AlertDeps, AlertSettings};
use crate::flows::departing_response::{self, DepartingDeps, DepartingSettings};
use crate::flows::hr_departures::{self, HrDeps, HrSettings};
use crate::flows::{RunCtx, Timing};
use crate::http::{ClientOptions, Http};
use crate::ports::TicketSink;
use crate::secrets::{CachedSecrets, SecretStore};
use crate::store::{ItemStore, Store};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// Everything a run needs besides the connections.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub secrets: CachedSecrets,
    pub secret_prefix: String,
    pub allow_private_urls: bool,
    pub dry_run: bool,
    pub clock: Clock,
    pub audit_retention_ms: i64,
    pub timing: Timing,
    /// Extra root certificates to trust (the sandbox's CA, for ADP's mutual TLS in demos).
    pub extra_root_pem: Option<Vec<u8>>,
    /// How long one outbound request may take, first byte to last (30 s).
    pub http_timeout: Duration,
    /// Where runs and webhook rejections report their metrics.
    pub metrics: crate::metrics::MetricsSink,
}

/// A connected system: its settings and its secret fields.
pub struct Conn {
    pub settings: Map<String, Value>,
    pub secrets: Map<String, Value>,
}

impl Conn {
    fn text(&self, k: &str) -> Option<String> {
        self.settings
            .get(k)
            .or_else(|| self.secrets.get(k))
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty())
    }

    fn need(&self, k: &str) -> Result<String, String> {
        self.text(k)
            .ok_or_else(|| format!("the setting '{k}' is missing"))
    }

    fn secret(&self, k: &str) -> Result<SecretString, String> {
        self.secrets
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(|s| SecretString::from(s.to_string()))
            .ok_or_else(|| format!("the credential '{k}' is missing"))
    }

    fn url(&self, k: &str) -> Result<Url, String> {
        Url::parse(&self.need(k)?).map_err(|_| format!("the setting '{k}' is not a URL"))
    }

    fn int(&self, k: &str, default: u64) -> u64 {
        self.text(k).and_then(|v| v.parse().ok()).unwrap_or(default)
    }

    fn flag(&self, k: &str) -> bool {
        self.text(k).is_some_and(|v| v == "true")
    }

    fn list(&self, k: &str) -> Vec<String> {
        match self.settings.get(k) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            Some(Value::String(s)) => s
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl App {
    /// The embedded default: SQLite state and file secrets in `data_dir` (created 0700).
    #[cfg(feature = "local")]
    pub fn local(data_dir: &std::path::Path, allow_private_urls: bool) -> Result<App, String> {
        let secrets = crate::secrets::file::FileSecretStore::open(data_dir)
            .map_err(|e| format!("cannot open the secret file in {}: {e}", data_dir.display()))?;
        let items = crate::store::sqlite::SqliteItemStore::open(data_dir.join("state.db"))
            .map_err(|e| {
                format!(
                    "cannot open the state database in {}: {e}",
                    data_dir.display()
                )
            })?;
        Ok(App::new(
            Store::new(Arc::new(items)),
            Arc::new(secrets),
            "riskflow/".into(),
            allow_private_urls,
        ))
    }

    /// On AWS: DynamoDB and Secrets Manager from the configuration.
    pub async fn aws(cfg: &crate::config::Config) -> App {
        App::aws_with(cfg, &aws::aws_sdk_config().await, None)
    }

    /// On AWS with a given SDK configuration, optionally recording every AWS call.
    pub fn aws_with(
        cfg: &crate::config::Config,
        sdk: &aws_config::SdkConfig,
        recorder: Option<crate::aws_calls::CallRecorder>,
    ) -> App {
        let mut ddb = aws_sdk_dynamodb::config::Builder::from(sdk);
        let mut sm = aws_sdk_secretsmanager::config::Builder::from(sdk);
        if let Some(r) = recorder {
            ddb = ddb.interceptor(r.clone());
            sm = sm.interceptor(r);
        }
        let items: Arc<dyn ItemStore> = Arc::new(crate::store::dynamodb::DynamoItemStore::new(
            aws_sdk_dynamodb::Client::from_conf(ddb.build()),
            cfg.table.clone(),
        ));
        let secrets = Arc::new(
            crate::secrets::secrets_manager::SecretsManagerStore::new(
                aws_sdk_secretsmanager::Client::from_conf(sm.build()),
            )
            .with_kms_key(cfg.kms_key_arn.clone()),
        );
        let mut env = App::new(
            Store::new(items),
            secrets,
            cfg.secret_prefix.clone(),
            cfg.allow_private_urls,
        );
        env.dry_run = cfg.dry_run;
        env.audit_retention_ms = i64::from(cfg.audit_retention_days) * 86_400_000;
        env.metrics = crate::metrics::MetricsSink::Stdout {
            deployment: cfg.deployment.clone(),
        };
        env
    }

    pub fn new(
        store: Store,
        secrets: Arc<dyn SecretStore>,
        secret_prefix: String,
        allow_private_urls: bool,
    ) -> App {
        App {
            store,
            secrets: CachedSecrets::new(secrets),
            secret_prefix,
            allow_private_urls,
            dry_run: false,
            clock: crate::clock::system_clock(),
            audit_retention_ms: crate::store::AUDIT_RETENTION_MS,
            timing: Timing::default(),
            extra_root_pem: None,
            http_timeout: ClientOptions::new(false).timeout,
            metrics: crate::metrics::MetricsSink::Off,
        }
    }

    fn http(&self) -> Result<Http, String> {
        crate::http::build_client(&self.client_options())
            .map(Http::new)
            .map_err(|e| e.to_string())
    }

    fn client_options(&self) -> ClientOptions {
        let mut opts = ClientOptions::new(self.allow_private_urls);
        opts.extra_root_pem = self.extra_root_pem.clone();
        opts.timeout = self.http_timeout;
        opts
    }

    /// A connection's settings and secret, when it is connected.
    pub async fn load(&self, kind: ConnectionKind) -> Result<Option<Conn>, String> {
        let rec = self
            .store
            .connection(kind, (self.clock)())
            .await
            .map_err(|e| format!("state store: {e}"))?;
        let (ConnectionStatus::Connected, Some(id), Some(version)) =
            (rec.status, &rec.secret_id, &rec.secret_version)
        else {
            return Ok(None);
        };
        let secret = self
            .secrets
            .get(id, version)
            .await
            .map_err(|e| format!("the {kind} credentials could not be read: {e}"))?;
        let secrets: Map<String, Value> = serde_json::from_str(secret.expose_secret())
            .map_err(|_| format!("the stored {kind} credentials are not a JSON object"))?;
        Ok(Some(Conn {
            settings: rec.settings.into_iter().collect(),
            secrets,
        }))
    }

    fn incydr(&self, c: &Conn) -> Result<Arc<IncydrAdapter>, String> {
        let client = IncydrClient::new(
            c.url("url")?,
            c.need("client_id")?,
            c.secret("client_secret")?,
            self.http()?,
        );
        let console_url = c.text("console_url").and_then(|u| Url::parse(&u).ok());
        Ok(Arc::new(IncydrAdapter {
            client: Arc::new(client),
            console_url,
        }))
    }

    fn jira(&self, c: &Conn) -> Result<Arc<JiraSink>, String> {
        let site = c.url("url")?;
        let client = JiraClient::new(
            site.clone(),
            c.need("email")?,
            c.secret("api_token")?,
            self.http()?,
        );
        Ok(Arc::new(JiraSink {
            client: Arc::new(client),
            site,
            project_key: c.need("project_key")?,
            issue_type: c.text("issue_type").unwrap_or_else(|| "Task".into()),
        }))
    }

    fn servicenow(&self, c: &Conn) -> Result<Arc<ServiceNowSink>, String> {
        let client = ServiceNowClient::new(
            c.url("url")?,
            c.need("username")?,
            c.secret("password")?,
            self.http()?,
        );
        Ok(Arc::new(ServiceNowSink {
            client: Arc::new(client),
            assignment_group: c.text("assignment_group"),
            caller_id: c.text("caller_id"),
        }))
    }

    fn okta(&self, c: &Conn) -> Result<Arc<OktaClient>, String> {
        Ok(Arc::new(OktaClient::new(
            c.url("url")?,
            c.secret("api_token")?,
            self.http()?,
        )))
    }

    fn workday(&self, c: &Conn) -> Result<WorkdayReport, String> {
        let client = WorkdayClient::new(
            c.url("report_url")?,
            c.need("username")?,
            c.secret("password")?,
            self.http()?,
        );
        let mut mapping = FieldMapping::default();
        if let Some(v) = c.text("email_field") {
            mapping.email = v;
        }
        if let Some(v) = c.text("termination_date_field") {
            mapping.termination_date = v;
        }
        if let Some(v) = c.text("employee_id_field") {
            mapping.employee_id = v;
        }
        if let Some(v) = c.text("last_day_field") {
            mapping.last_day = Some(v);
        }
        if let Some(v) = c.text("event_id_field") {
            mapping.event_id = Some(v);
        }
        Ok(WorkdayReport {
            client: Arc::new(client),
            mapping,
        })
    }

    fn adp(&self, c: &Conn) -> Result<Arc<AdpSource>, String> {
        let creds = AdpCredentials {
            client_id: c.need("client_id")?,
            client_secret: c.secret("client_secret")?,
            cert_pem: c.secret("certificate_pem")?.expose_secret().to_string(),
            key_pem: c.secret("private_key_pem")?,
        };
        let client = AdpClient::new(
            c.url("api_url")?,
            c.url("token_url")?,
            creds,
            self.client_options(),
        )
        .map_err(|e| e.to_string())?;
        Ok(Arc::new(AdpSource {
            client: Arc::new(client),
        }))
    }

    fn bamboohr(&self, c: &Conn) -> Result<Arc<BambooDirectory>, String> {
        let client = BambooClient::new(c.url("url")?, c.secret("api_key")?, self.http()?);
        Ok(Arc::new(BambooDirectory {
            client: Arc::new(client),
        }))
    }

    fn alert_settings(c: &Conn) -> AlertSettings {
        let d = AlertSettings::default();
        AlertSettings {
            lookback_ms: c.int("lookback_days", 7).clamp(1, 365) as i64 * 86_400_000,
            min_severity: c.int("min_severity", 1).min(4) as u8,
            states: c.list("states"),
            rule_ids: c.list("rule_ids"),
            write_back_note: c.flag("write_back_note"),
            concurrency: c.int("concurrency", 8).clamp(1, 64) as usize,
            ..d
        }
    }

    /// Backfill: run alert-tickets over exactly `[from, to)`.
    pub async fn backfill(
        &self,
        from: i64,
        to: i64,
        dry_run: bool,
        deadline: Instant,
    ) -> RunRecord {
        let mut ctx = RunCtx::new(
            self.store.clone(),
            Flow::AlertTickets,
            deadline,
            dry_run || self.dry_run,
            self.clock.clone(),
        );
        ctx.audit_retention_ms = self.audit_retention_ms;
        ctx.metrics = self.metrics.clone();
        ctx.trigger = crate::flows::Trigger::Backfill;
        let r: Result<RunRecord, Skip> = async {
            let inc = self.need_conn(ConnectionKind::Incydr).await?;
            let source = self.incydr(&inc).map_err(Skip::Broken)?;
            let sinks = self.sinks(&inc).await?;
            let mut settings = Self::alert_settings(&inc);
            settings.window = Some((from, to));
            let deps = AlertDeps {
                source,
                sinks,
                settings,
                timing: self.timing.clone(),
            };
            Ok(alert_tickets::run(&ctx, &deps).await)
        }
        .await;
        match r {
            Ok(rec) => rec,
            Err(Skip::NotConnected(m)) => ctx.finish(Some(RunStatus::Skipped), Some(m)).await,
            Err(Skip::Broken(m)) => {
                ctx.error(m);
                ctx.finish(Some(RunStatus::Failed), None).await
            }
        }
    }

    async fn sinks(&self, inc: &Conn) -> Result<Vec<Arc<dyn TicketSink>>, Skip> {
        let sink = inc.text("sink").unwrap_or_else(|| "jira".into());
        let mut sinks: Vec<Arc<dyn TicketSink>> = Vec::new();
        if sink == "jira" || sink == "both" {
            let c = self.need_conn(ConnectionKind::Jira).await?;
            sinks.push(self.jira(&c).map_err(Skip::Broken)?);
        }
        if sink == "servicenow" || sink == "both" {
            let c = self.need_conn(ConnectionKind::Servicenow).await?;
            sinks.push(self.servicenow(&c).map_err(Skip::Broken)?);
        }
        Ok(sinks)
    }

    /// Run a flow once. A connection it needs that is not connected ends the run at once with
    /// a `skipped` record naming it, and no outside call.
    pub async fn run_flow(&self, flow: Flow, dry_run: bool, deadline: Instant) -> RunRecord {
        let mut ctx = RunCtx::new(
            self.store.clone(),
            flow,
            deadline,
            dry_run || self.dry_run,
            self.clock.clone(),
        );
        ctx.audit_retention_ms = self.audit_retention_ms;
        ctx.metrics = self.metrics.clone();
        match self.run_inner(&ctx, flow).await {
            Ok(rec) => rec,
            Err(Skip::NotConnected(msg)) => ctx.finish(Some(RunStatus::Skipped), Some(msg)).await,
            Err(Skip::Broken(msg)) => {
                ctx.error(msg);
                ctx.finish(Some(RunStatus::Failed), None).await
            }
        }
    }

    async fn need_conn(&self, kind: ConnectionKind) -> Result<Conn, Skip> {
        match self.load(kind).await {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(Skip::NotConnected(format!(
                "{} is not connected",
                kind.display_name()
            ))),
            Err(e) => Err(Skip::Broken(e)),
        }
    }

    async fn run_inner(&self, ctx: &RunCtx, flow: Flow) -> Result<RunRecord, Skip> {
        match flow {
            Flow::AlertTickets => {
                let inc = self.need_conn(ConnectionKind::Incydr).await?;
                let source = self.incydr(&inc).map_err(Skip::Broken)?;
                let sinks = self.sinks(&inc).await?;
                let deps = AlertDeps {
                    source,
                    sinks,
                    settings: Self::alert_settings(&inc),
                    timing: self.timing.clone(),
                };
                Ok(alert_tickets::run(ctx, &deps).await)
            }
            Flow::DepartingResponse => {
                let inc = self.need_conn(ConnectionKind::Incydr).await?;
                let okta = self.need_conn(ConnectionKind::Okta).await?;
                let jira = self.need_conn(ConnectionKind::Jira).await?;
                let adapter = self.incydr(&inc).map_err(Skip::Broken)?;
                let deps = DepartingDeps {
                    source: adapter.clone(),
                    watchlists: adapter,
                    idp: Arc::new(OktaIdp {
                        client: self.okta(&okta).map_err(Skip::Broken)?,
                    }),
                    jira: self.jira(&jira).map_err(Skip::Broken)?,
                    settings: DepartingSettings {
                        scan: Self::alert_settings(&inc),
                        group_id: okta.need("group_id").map_err(Skip::Broken)?,
                        cap_per_run: okta.int("cap_per_run", 10),
                        cap_per_day: okta.int("cap_per_day", 25),
                        protected_users: okta.list("protected_users"),
                        protected_groups: okta.list("protected_groups"),
                    },
                    timing: self.timing.clone(),
                };
                Ok(departing_response::run(ctx, &deps).await)
            }
            Flow::HrDepartures => {
                let deps = self.hr_deps().await?;
                Ok(hr_departures::run(ctx, &deps).await)
            }
        }
    }

    async fn hr_deps(&self) -> Result<HrDeps, Skip> {
        let inc = self.need_conn(ConnectionKind::Incydr).await?;
        let watchlists = self.incydr(&inc).map_err(Skip::Broken)?;
        let opt = |r: Result<Option<Conn>, String>| r.map_err(Skip::Broken);
        let bamboohr = match opt(self.load(ConnectionKind::Bamboohr).await)? {
            Some(c) => {
                Some(self.bamboohr(&c).map_err(Skip::Broken)? as Arc<dyn crate::ports::HrDirectory>)
            }
            None => None,
        };
        let adp = match opt(self.load(ConnectionKind::Adp).await)? {
            Some(c) => Some(self.adp(&c).map_err(Skip::Broken)?),
            None => None,
        };
        let workday = match opt(self.load(ConnectionKind::Workday).await)? {
            Some(c) => Some(Arc::new(self.workday(&c).map_err(Skip::Broken)?)
                as Arc<dyn crate::ports::HrReport>),
            None => None,
        };
        let cleanup = inc
            .text("cleanup_after_days")
            .and_then(|v| v.parse::<u32>().ok());
        Ok(HrDeps {
            watchlists,
            bamboohr,
            adp_directory: adp.clone().map(|a| a as Arc<dyn crate::ports::HrDirectory>),
            adp_queue: adp.map(|a| a as Arc<dyn crate::ports::HrQueue>),
            workday,
            settings: HrSettings {
                cleanup_after_days: cleanup,
            },
            timing: self.timing.clone(),
        })
    }

    /// Process HR work items recorded by a webhook delivery, now (within `deadline`).
    pub async fn process_hr_items(&self, keys: &[String], deadline: Instant) -> Option<RunRecord> {
        if keys.is_empty() {
            return None;
        }
        let mut ctx = RunCtx::new(
            self.store.clone(),
            Flow::HrDepartures,
            deadline,
            self.dry_run,
            self.clock.clone(),
        );
        ctx.audit_retention_ms = self.audit_retention_ms;
        ctx.metrics = self.metrics.clone();
        ctx.trigger = crate::flows::Trigger::Webhook;
        let deps = match self.hr_deps().await {
            Ok(d) => d,
            Err(Skip::NotConnected(m) | Skip::Broken(m)) => {
                return Some(
                    ctx.finish(
                        Some(RunStatus::Skipped),
                        Some(format!(
                            "{m}; the delivery waits for the next scheduled run"
                        )),
                    )
                    .await,
                );
            }
        };
        for k in keys {
            hr_departures::process_item(&ctx, &deps, k).await;
        }
        Some(ctx.finish(None, Some("webhook delivery".into())).await)
    }

    pub fn webhook_receiver(&self) -> WebhookReceiver {
        WebhookReceiver {
            store: self.store.clone(),
            secrets: self.secrets.clone(),
            clock: self.clock.clone(),
            window_ms: crate::connectors::generic::DEFAULT_WINDOW_MS,
            metrics: self.metrics.clone(),
        }
    }

    pub fn connections_api(&self, runner: Arc<dyn RunStarter>) -> ConnectionsApi {
        ConnectionsApi {
            store: self.store.clone(),
            secrets: self.secrets.clone(),
            secret_prefix: self.secret_prefix.clone(),
            allow_private_urls: self.allow_private_urls,
            verifier: Arc::new(LiveVerifier { env: self.clone() }),
            runner,
            clock: self.clock.clone(),
            verify_budget: crate::api::connections::VERIFY_BUDGET,
        }
    }
}

enum Skip {
    NotConnected(String),
    Broken(String),
}

/// Verifies connections against the live systems with the real clients.
pub struct LiveVerifier {
    pub env: App,
}

#[async_trait]
impl Verifier for LiveVerifier {
    /// Builds the system's client from the settings and secret as a run would, then asks the
    /// connector to check it live (each connector's `verify.rs`), within the API's budget.
    async fn verify(
        &self,
        kind: ConnectionKind,
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<String, VerifyFailure> {
        let c = Conn {
            settings: settings.clone(),
            secrets: secrets.clone(),
        };
        let bad = VerifyFailure::bad;
        // The client's own deadline comes first, so a slow system answers with its own
        // timeout; the API's budget is the backstop.
        let deadline = Some(
            Instant::now()
                + crate::api::connections::VERIFY_BUDGET.saturating_sub(Duration::from_secs(1)),
        );
        let env = &self.env;
        match kind {
            ConnectionKind::Incydr => {
                env.incydr(&c)
                    .map_err(bad)?
                    .verify_connection(deadline)
                    .await
            }
            ConnectionKind::Jira => env.jira(&c).map_err(bad)?.verify_connection(deadline).await,
            ConnectionKind::Servicenow => {
                env.servicenow(&c)
                    .map_err(bad)?
                    .verify_connection(deadline)
                    .await
            }
            ConnectionKind::Okta => {
                let idp = OktaIdp {
                    client: env.okta(&c).map_err(bad)?,
                };
                let group = c.need("group_id").map_err(bad)?;
                idp.verify_connection(&group, &c.list("protected_groups"), deadline)
                    .await
            }
            ConnectionKind::Workday => {
                env.workday(&c)
                    .map_err(bad)?
                    .verify_connection(deadline)
                    .await
            }
            ConnectionKind::Adp => env.adp(&c).map_err(bad)?.verify_connection(deadline).await,
            ConnectionKind::Bamboohr => {
                let b = env.bamboohr(&c).map_err(bad)?;
                c.secret("webhook_key").map_err(bad)?;
                b.verify_connection(deadline).await
            }
            ConnectionKind::Generic => crate::connectors::generic::verify_signing_secret(
                &c.secret("signing_secret").map_err(bad)?,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::MetricsSink;
    use crate::secrets::memory::MemorySecretStore;

    #[tokio::test]
    async fn a_flow_whose_system_is_not_connected_reports_a_skipped_run_and_no_success() {
        let mut env = App::new(
            Store::in_memory(),
            std::sync::Arc::new(MemorySecretStore::new()),
            "rf/".into(),
            true,
        );
        env.metrics = MetricsSink::memory("rf-prod");
        for flow in Flow::ALL {
            let rec = env
                .run_flow(flow, false, Instant::now() + Duration::from_secs(30))
                .await;
            assert_eq!(rec.status, RunStatus::Skipped, "{flow}");
            assert!(
                rec.message
                    .as_deref()
                    .is_some_and(|m| m.contains(ConnectionKind::Incydr.display_name())),
                "{:?}",
                rec.message
            );
        }
        // Three skipped runs, and no success that would keep the flows looking alive.
        let got: Vec<String> = env
            .metrics
            .lines()
            .iter()
            .flat_map(|l| {
                l.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| k.starts_with("runs_"))
                    .map(|(k, _)| k.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(got, ["runs_skipped", "runs_skipped", "runs_skipped"]);
    }
}
