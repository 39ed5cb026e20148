//! The composition root: [`App`] builds a flow's dependencies from the stored connections and
//! their secrets for every entry point (the Lambda functions, `riskflow dev` and the CLI), runs
//! flows and backfills, processes webhook deliveries, and builds the connections API and the
//! webhook receiver. [`aws`] holds what only runs on AWS (the SDK configuration, the Lambda
//! invoker).
//!
//! Each run reads the connection items it needs (their settings and status are needed anyway);
//! the secret is read through the version-keyed cache, so a warm invocation makes no Secrets
//! Manager call and a reconnect or disconnect takes effect on the next run. Each system's client
//! is built [`rotation::Rotating`]: a 401 reads the secret again (a rotation outside riskflow)
//! and makes the refused call once more.

pub mod aws;
pub mod connection;
pub mod rotation;
pub mod webhooks;

use crate::api::connections::{ConnectionsApi, RunStarter, Verified, Verifier, VerifyFailure};
use crate::clock::Clock;
use crate::connectors::adp::settings::Settings as AdpSettings;
use crate::connectors::bamboohr::settings::Settings as BambooSettings;
use crate::connectors::form::VendorSettings;
use crate::connectors::incydr::{self, settings::Settings as IncydrSettings};
use crate::connectors::jira::settings::Settings as JiraSettings;
use crate::connectors::okta::settings::Settings as OktaSettings;
use crate::connectors::servicenow::settings::Settings as ServiceNowSettings;
use crate::connectors::workday::settings::Settings as WorkdaySettings;
use crate::domain::{ConnectionKind, Flow, HrSource, RunRecord, RunStatus};
use crate::flows::alert_tickets::{self, AlertDeps, AlertSettings};
use crate::flows::departing_response::{self, DepartingDeps, DepartingSettings};
use crate::flows::hr_departures::{self, HrDeps, HrSettings};
use crate::flows::state_sync::{self, SyncDeps, SyncSink};
use crate::flows::{RunCtx, Timing};
use crate::http::ClientOptions;
use crate::ports::{HrDirectory, HrQueue, HrReport, TicketSink};
use crate::secrets::{CachedSecrets, SecretStore};
use crate::store::{ItemStore, Store};
use async_trait::async_trait;
pub use connection::{BuildError, Connected};
use rotation::Rotating;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use webhooks::WebhookReceiver;

/// How long a webhook delivery's items may be processed before it is answered.
pub const WEBHOOK_PROCESS_BUDGET: Duration = Duration::from_secs(10);

/// A system's typed settings and its client in the roles it plays.
type Built<S> = (S, Arc<Rotating<<S as VendorSettings>::Built>>);

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

    fn client_options(&self) -> ClientOptions {
        let mut opts = ClientOptions::new(self.allow_private_urls);
        opts.extra_root_pem = self.extra_root_pem.clone();
        opts.timeout = self.http_timeout;
        opts
    }

    /// A connection's settings and secret; [`BuildError::NotConnected`] when it is not
    /// connected.
    pub async fn load(&self, kind: ConnectionKind) -> Result<Connected, BuildError> {
        connection::load(&self.store, &self.secrets, kind, (self.clock)()).await
    }

    /// Like [`App::load`], with a system that is not connected as `None`.
    pub async fn load_optional(
        &self,
        kind: ConnectionKind,
    ) -> Result<Option<Connected>, BuildError> {
        match self.load(kind).await {
            Ok(c) => Ok(Some(c)),
            Err(BuildError::NotConnected(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A loaded connection's typed settings and the client its vendor builds from them.
    fn connect<S: VendorSettings>(&self, c: &Connected) -> Result<(S, S::Built), BuildError> {
        let settings: S = c.read()?;
        let built = connection::client(c.kind, settings.connect(&self.client_options()))?;
        Ok((settings, built))
    }

    /// [`App::connect`], with the client rebuilt from the secret's newer version when the
    /// system refuses the credentials ([`rotation::Rotating`]).
    fn build<S>(&self, c: &Connected) -> Result<Built<S>, BuildError>
    where
        S: VendorSettings + 'static,
        S::Built: Clone + Send + Sync + 'static,
    {
        let (settings, built) = self.connect::<S>(c)?;
        let (app, kind) = (self.clone(), c.kind);
        let reload: rotation::Reload<S::Built> = Box::new(move |refused: String| {
            let app = app.clone();
            Box::pin(async move {
                let now = (app.clock)();
                let Some(c) =
                    connection::reload_after_refusal(&app.store, &app.secrets, kind, &refused, now)
                        .await?
                else {
                    return Ok(None);
                };
                let (_, built) = app.connect::<S>(&c)?;
                Ok(Some((built, c.secret_version)))
            })
        });
        let rotating = Rotating::new(built, c.secret_version.clone(), reload);
        Ok((settings, Arc::new(rotating)))
    }

    fn alert_settings(s: &incydr::settings::Settings) -> AlertSettings {
        AlertSettings {
            lookback_ms: s.lookback_days.clamp(1, 365) as i64 * 86_400_000,
            min_severity: s.min_severity.min(4) as u8,
            states: s.states.clone(),
            rule_ids: s.rule_ids.clone(),
            write_back_note: s.write_back_note,
            concurrency: s.concurrency.clamp(1, 64) as usize,
            ..AlertSettings::default()
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
        let r: Result<RunRecord, BuildError> = async {
            let inc = self.load(ConnectionKind::Incydr).await?;
            let (inc, source) = self.build::<IncydrSettings>(&inc)?;
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
        finish_built(&ctx, r).await
    }

    async fn sinks(&self, inc: &IncydrSettings) -> Result<Vec<Arc<dyn TicketSink>>, BuildError> {
        let mut sinks: Vec<Arc<dyn TicketSink>> = Vec::new();
        if inc.sink.jira() {
            let c = self.load(ConnectionKind::Jira).await?;
            sinks.push(self.build::<JiraSettings>(&c)?.1);
        }
        if inc.sink.servicenow() {
            let c = self.load(ConnectionKind::Servicenow).await?;
            sinks.push(self.build::<ServiceNowSettings>(&c)?.1);
        }
        Ok(sinks)
    }

    /// Run a flow once. A connection it needs that is not connected ends the run at once with
    /// a `skipped` record naming it, and no outside call.
    pub async fn run_flow(&self, flow: Flow, dry_run: bool, deadline: Instant) -> RunRecord {
        match flow {
            Flow::AlertTickets => self.run_job::<AlertTicketsJob>(dry_run, deadline).await,
            Flow::DepartingResponse => {
                self.run_job::<DepartingResponseJob>(dry_run, deadline)
                    .await
            }
            Flow::HrDepartures => self.run_job::<HrDeparturesJob>(dry_run, deadline).await,
            Flow::StateSync => self.run_job::<StateSyncJob>(dry_run, deadline).await,
        }
    }

    /// Run one job, chosen by type: a function that runs one flow names it so, and links that
    /// flow's code and connectors only (not every flow's, as a `Flow` value would).
    pub async fn run_job<J: Job>(&self, dry_run: bool, deadline: Instant) -> RunRecord {
        let mut ctx = RunCtx::new(
            self.store.clone(),
            J::FLOW,
            deadline,
            dry_run || self.dry_run,
            self.clock.clone(),
        );
        ctx.audit_retention_ms = self.audit_retention_ms;
        ctx.metrics = self.metrics.clone();
        let r = J::run(self, &ctx).await;
        finish_built(&ctx, r).await
    }

    async fn run_alert_tickets(&self, ctx: &RunCtx) -> Result<RunRecord, BuildError> {
        let inc = self.load(ConnectionKind::Incydr).await?;
        let (inc, source) = self.build::<IncydrSettings>(&inc)?;
        let sinks = self.sinks(&inc).await?;
        let deps = AlertDeps {
            source,
            sinks,
            settings: Self::alert_settings(&inc),
            timing: self.timing.clone(),
        };
        Ok(alert_tickets::run(ctx, &deps).await)
    }

    async fn run_departing_response(&self, ctx: &RunCtx) -> Result<RunRecord, BuildError> {
        // Every system is loaded before any is built, so a system that is not connected skips
        // the run before a broken one fails it.
        let inc = self.load(ConnectionKind::Incydr).await?;
        let okta = self.load(ConnectionKind::Okta).await?;
        let jira = self.load(ConnectionKind::Jira).await?;
        let (inc, adapter) = self.build::<IncydrSettings>(&inc)?;
        let (okta, idp) = self.build::<OktaSettings>(&okta)?;
        let deps = DepartingDeps {
            source: adapter.clone(),
            watchlists: adapter,
            idp,
            sink: self.build::<JiraSettings>(&jira)?.1,
            settings: DepartingSettings {
                scan: Self::alert_settings(&inc),
                group_id: okta.group_id,
                cap_per_run: okta.cap_per_run,
                cap_per_day: okta.cap_per_day,
                protected_users: okta.protected_users,
                protected_groups: okta.protected_groups,
                contain_for_days: okta.contain_for_days,
            },
            timing: self.timing.clone(),
        };
        Ok(departing_response::run(ctx, &deps).await)
    }

    async fn run_state_sync(&self, ctx: &RunCtx) -> Result<RunRecord, BuildError> {
        let inc = self.load(ConnectionKind::Incydr).await?;
        let (inc, sessions) = self.build::<IncydrSettings>(&inc)?;
        let mut sinks = Vec::new();
        if inc.sink.jira() {
            let c = self.load(ConnectionKind::Jira).await?;
            let (jira, changes) = self.build::<JiraSettings>(&c)?;
            sinks.push(SyncSink {
                changes,
                mapping: jira.session_states().map_err(|error| BuildError::Client {
                    kind: ConnectionKind::Jira,
                    error,
                })?,
            });
        }
        if inc.sink.servicenow() {
            let c = self.load(ConnectionKind::Servicenow).await?;
            let (snow, changes) = self.build::<ServiceNowSettings>(&c)?;
            sinks.push(SyncSink {
                changes,
                mapping: snow.session_states().map_err(|error| BuildError::Client {
                    kind: ConnectionKind::Servicenow,
                    error,
                })?,
            });
        }
        let deps = SyncDeps {
            sessions,
            sinks,
            timing: self.timing.clone(),
        };
        Ok(state_sync::run(ctx, &deps).await)
    }

    async fn run_hr_departures(&self, ctx: &RunCtx) -> Result<RunRecord, BuildError> {
        let deps = self.hr_deps().await?;
        Ok(hr_departures::run(ctx, &deps).await)
    }

    async fn hr_deps(&self) -> Result<HrDeps, BuildError> {
        let inc = self.load(ConnectionKind::Incydr).await?;
        let (inc, watchlists) = self.build::<IncydrSettings>(&inc)?;
        // Each connected HR source, in the role(s) it plays.
        let mut directories: BTreeMap<HrSource, Arc<dyn HrDirectory>> = BTreeMap::new();
        let mut queues: Vec<(HrSource, Arc<dyn HrQueue>)> = Vec::new();
        let mut reports: Vec<(HrSource, Arc<dyn HrReport>)> = Vec::new();
        if let Some(c) = self.load_optional(ConnectionKind::Bamboohr).await? {
            let bamboohr = self.build::<BambooSettings>(&c)?.1;
            directories.insert(HrSource::Bamboohr, bamboohr);
        }
        if let Some(c) = self.load_optional(ConnectionKind::Adp).await? {
            let adp = self.build::<AdpSettings>(&c)?.1;
            directories.insert(HrSource::Adp, adp.clone());
            queues.push((HrSource::Adp, adp));
        }
        if let Some(c) = self.load_optional(ConnectionKind::Workday).await? {
            reports.push((HrSource::Workday, self.build::<WorkdaySettings>(&c)?.1));
        }
        Ok(HrDeps {
            watchlists,
            directories,
            queues,
            reports,
            settings: HrSettings {
                cleanup_after_days: inc.cleanup_after_days,
                ..HrSettings::default()
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
            Err(e) => {
                let m = e.to_string();
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
        hr_departures::process_items(&ctx, &deps, keys).await;
        Some(ctx.finish(None, Some("webhook delivery".into())).await)
    }

    /// One HR webhook delivery, as every HTTP entry point serves it (the hr-departures Lambda,
    /// `riskflow dev`): checked and recorded, answered, and its new items processed at once
    /// within `budget` — before the answer, because a Lambda is frozen after it. What does not
    /// finish stays pending for the next scheduled run.
    pub async fn deliver_webhook(
        &self,
        source: &str,
        headers: &http::HeaderMap,
        body: &[u8],
        budget: Instant,
    ) -> (crate::api::ApiResponse, Option<RunRecord>) {
        let accepted = self.webhook_receiver().receive(source, headers, body).await;
        let budget = budget.min(Instant::now() + WEBHOOK_PROCESS_BUDGET);
        let run = self.process_hr_items(&accepted.new_items, budget).await;
        (accepted.response, run)
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
            audit_retention_ms: self.audit_retention_ms,
        }
    }
}

/// One flow as a type, so each Lambda function instantiates only the job it runs.
pub trait Job {
    const FLOW: Flow;
    fn run(
        app: &App,
        ctx: &RunCtx,
    ) -> impl std::future::Future<Output = Result<RunRecord, BuildError>> + Send;
}

/// The alert-tickets job.
pub struct AlertTicketsJob;
/// The departing-response job.
pub struct DepartingResponseJob;
/// The hr-departures job.
pub struct HrDeparturesJob;
/// The state-sync job.
pub struct StateSyncJob;

impl Job for StateSyncJob {
    const FLOW: Flow = Flow::StateSync;
    async fn run(app: &App, ctx: &RunCtx) -> Result<RunRecord, BuildError> {
        app.run_state_sync(ctx).await
    }
}

impl Job for AlertTicketsJob {
    const FLOW: Flow = Flow::AlertTickets;
    async fn run(app: &App, ctx: &RunCtx) -> Result<RunRecord, BuildError> {
        app.run_alert_tickets(ctx).await
    }
}

impl Job for DepartingResponseJob {
    const FLOW: Flow = Flow::DepartingResponse;
    async fn run(app: &App, ctx: &RunCtx) -> Result<RunRecord, BuildError> {
        app.run_departing_response(ctx).await
    }
}

impl Job for HrDeparturesJob {
    const FLOW: Flow = Flow::HrDepartures;
    async fn run(app: &App, ctx: &RunCtx) -> Result<RunRecord, BuildError> {
        app.run_hr_departures(ctx).await
    }
}

/// A run's record when its systems could not be built: skipped when one is not connected,
/// failed when one is broken.
async fn finish_built(ctx: &RunCtx, r: Result<RunRecord, BuildError>) -> RunRecord {
    match r {
        Ok(rec) => rec,
        Err(e) if e.is_not_connected() => {
            ctx.finish(Some(RunStatus::Skipped), Some(e.to_string()))
                .await
        }
        Err(e) => {
            ctx.error(e.to_string());
            ctx.finish(Some(RunStatus::Failed), None).await
        }
    }
}

/// Verifies connections against the live systems with the real clients.
pub struct LiveVerifier {
    pub env: App,
}

#[async_trait]
impl Verifier for LiveVerifier {
    /// Builds the system's client from the settings and secret as a run would, then asks the
    /// connector to check it live (the registry, [`crate::connectors::verify`]), within the
    /// API's budget.
    async fn verify(
        &self,
        kind: ConnectionKind,
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<Verified, VerifyFailure> {
        // The client's own deadline comes first, so a slow system answers with its own
        // timeout; the API's budget is the backstop.
        let deadline = Some(
            Instant::now()
                + crate::api::connections::VERIFY_BUDGET.saturating_sub(Duration::from_secs(1)),
        );
        crate::connectors::verify(
            kind,
            settings,
            secrets,
            &self.env.client_options(),
            deadline,
        )
        .await
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
        // A skipped run each, and no success that would keep the flows looking alive.
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
        assert_eq!(got, vec!["runs_skipped"; Flow::ALL.len()]);
    }
}
