//! `GET /connections`, `PUT`/`DELETE /connections/{kind}`, `POST /connections/{kind}/test`,
//! `GET /runs`, `POST /runs/{flow}`, `GET /health` (the items routes are in `items.rs`,
//! `GET /audit` in `audit.rs`).

use super::items::page_limit;
use super::{ApiRequest, ApiResponse, json_body, parse_kind};
use crate::connectors::fields;
use crate::connectors::form::{Field, FieldType};
use crate::domain::{ConnectionKind, ConnectionRecord, ConnectionStatus, Flow, HistoryEntry};
use crate::secrets::CachedSecrets;
use crate::store::{Store, StoreError};
use async_trait::async_trait;
use http::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub use crate::ports::{Verified, VerifyFailure};

/// Verifies settings and credentials against the live system.
#[async_trait]
pub trait Verifier: Send + Sync {
    /// A message such as "Connected to Jira as Jane Doe", and the facts the check read that
    /// runs need (stored with the connection).
    async fn verify(
        &self,
        kind: ConnectionKind,
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<Verified, VerifyFailure>;
}

/// Starts a run of a flow (an asynchronous Lambda invoke on AWS, a task locally).
#[async_trait]
pub trait RunStarter: Send + Sync {
    async fn start(&self, flow: Flow, dry_run: bool) -> Result<String, String>;
}

/// The connections API.
#[derive(Clone)]
pub struct ConnectionsApi {
    pub store: Store,
    pub secrets: CachedSecrets,
    pub secret_prefix: String,
    pub allow_private_urls: bool,
    pub verifier: Arc<dyn Verifier>,
    pub runner: Arc<dyn RunStarter>,
    pub clock: crate::clock::Clock,
    /// How long a live verification may take before it is answered as a failure: under API
    /// Gateway's 29 s integration timeout with room for the state writes (20 s).
    pub verify_budget: std::time::Duration,
    /// How long audit entries the API writes (undo requests) are kept.
    pub audit_retention_ms: i64,
}

/// The default [`ConnectionsApi::verify_budget`].
pub const VERIFY_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

pub(super) fn store_error(e: StoreError) -> ApiResponse {
    tracing::error!(error = %e, "state store error");
    match e {
        StoreError::Conflict { .. } => ApiResponse::error(
            StatusCode::CONFLICT,
            "the connection was changed at the same time by someone else; try again",
        ),
        _ => ApiResponse::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the state store is unavailable; try again shortly",
        ),
    }
}

impl ConnectionsApi {
    pub(super) fn now(&self) -> i64 {
        (self.clock)()
    }

    fn secret_name(&self, kind: ConnectionKind) -> String {
        format!("{}{}", self.secret_prefix, kind.as_str())
    }

    /// A live verification, answered as a failure when it outlasts [`Self::verify_budget`]
    /// (verification only reads, so abandoning it changes nothing outside).
    async fn verify_within_budget(
        &self,
        kind: ConnectionKind,
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<Verified, VerifyFailure> {
        match tokio::time::timeout(
            self.verify_budget,
            self.verifier.verify(kind, settings, secrets),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(VerifyFailure {
                status: StatusCode::GATEWAY_TIMEOUT,
                message: format!(
                    "{} did not answer within {} ms; try again (the stored settings and credentials were not changed)",
                    kind.display_name(),
                    self.verify_budget.as_millis()
                ),
            }),
        }
    }

    /// Route a request.
    pub async fn handle(&self, req: ApiRequest) -> ApiResponse {
        let segs: Vec<&str> = req
            .path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let r = match (&req.method, segs.as_slice()) {
            (&Method::GET, ["health"]) => Ok(ApiResponse::ok(json!({"status": "ok"}))),
            (&Method::GET, ["connections"]) => self.list().await,
            (&Method::GET, ["connections", kind]) => self.get_one(kind).await,
            (&Method::PUT, ["connections", kind]) => self.connect(kind, &req).await,
            (&Method::DELETE, ["connections", kind]) => self.disconnect(kind, &req).await,
            (&Method::POST, ["connections", kind, "test"]) => self.test(kind, &req).await,
            (&Method::GET, ["runs"]) => self.runs(&req).await,
            (&Method::POST, ["runs", flow]) => self.start_run(flow, &req).await,
            (&Method::GET, ["audit"]) => self.audit(&req).await,
            (&Method::GET, ["items"]) => self.items(&req).await,
            (&Method::POST, ["items", flow, "retry"]) => self.retry_item(flow, &req).await,
            (&Method::GET, ["containments"]) => self.containments(&req).await,
            (&Method::POST, ["containments", id, "undo"]) => self.undo_containment(id, &req).await,
            (
                _,
                [
                    "health" | "connections" | "runs" | "audit" | "items" | "containments",
                    ..,
                ],
            ) => Err(ApiResponse::error(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} is not allowed on {}", req.method, req.path),
            )),
            _ => Err(ApiResponse::error(
                StatusCode::NOT_FOUND,
                format!("no route {} {}", req.method, req.path),
            )),
        };
        r.unwrap_or_else(|e| e)
    }

    /// A connection as the API shows it: no secret, only which secret fields are set.
    async fn view(&self, rec: &ConnectionRecord) -> Result<Value, ApiResponse> {
        let now = self.now();
        let history = self
            .store
            .connection_history(rec.kind, 10, now)
            .await
            .map_err(store_error)?;
        let schema: Vec<&Field> = fields(rec.kind).iter().collect();
        let mut settings = Map::new();
        for (k, v) in &rec.settings {
            if fields(rec.kind).iter().any(|f| f.name == k && !f.secret) {
                settings.insert(k.clone(), v.clone());
            }
        }
        Ok(json!({
            "kind": rec.kind.as_str(),
            "display_name": rec.kind.display_name(),
            "status": rec.status.as_str(),
            "settings": settings,
            "secret_set": rec.secret_version.is_some(),
            "fields": schema,
            "verified_at": rec.verified_at.map(crate::clock::rfc3339_of_ms),
            "message": rec.message,
            // What the last successful verification read that runs use (no secret).
            "facts": rec.facts,
            "history": history.iter().map(|h| json!({
                "at": crate::clock::rfc3339_of_ms(h.at),
                "status": h.status.as_str(),
                "by": h.by,
                "message": h.message,
            })).collect::<Vec<_>>(),
        }))
    }

    async fn list(&self) -> Result<ApiResponse, ApiResponse> {
        let now = self.now();
        let recs = self.store.connections(now).await.map_err(store_error)?;
        let mut out = Vec::new();
        for r in &recs {
            out.push(self.view(r).await?);
        }
        // Each flow's newest run, read per flow: a merged "recent runs" page would lose a
        // flow that another flow has outrun since.
        let mut last_runs = Map::new();
        for flow in Flow::ALL {
            let page = self
                .store
                .list_runs(flow, 1, None, now)
                .await
                .map_err(store_error)?;
            if let Some(r) = page.items.first() {
                last_runs.insert(flow.as_str().into(), run_view(r));
            }
        }
        Ok(ApiResponse::ok(
            json!({"connections": out, "last_runs": last_runs}),
        ))
    }

    async fn get_one(&self, kind: &str) -> Result<ApiResponse, ApiResponse> {
        let kind = parse_kind(kind)?;
        let rec = self
            .store
            .connection(kind, self.now())
            .await
            .map_err(store_error)?;
        Ok(ApiResponse::ok(self.view(&rec).await?))
    }

    async fn connect(&self, kind: &str, req: &ApiRequest) -> Result<ApiResponse, ApiResponse> {
        let kind = parse_kind(kind)?;
        let body = json_body(req)?;
        let now = self.now();
        let existing = self
            .store
            .connection(kind, now)
            .await
            .map_err(store_error)?;
        let (settings, mut secrets, host_changed) =
            validate(kind, &body, &existing, self.allow_private_urls)?;
        let missing_secret: Vec<&str> = fields(kind)
            .iter()
            .filter(|f| f.secret && f.required && !secrets.contains_key(f.name))
            .map(|f| f.name)
            .collect();
        if !missing_secret.is_empty() {
            // Reuse the stored secret only for the same host.
            let stored = match (&existing.secret_id, &existing.secret_version) {
                (Some(id), Some(v)) if !host_changed => self.secrets.get(id, v).await.ok(),
                _ => None,
            };
            match stored {
                Some(s) => {
                    let old: Map<String, Value> =
                        serde_json::from_str(s.expose_secret()).unwrap_or_default();
                    for (k, v) in old {
                        secrets.entry(k).or_insert(v);
                    }
                }
                None if host_changed => {
                    return Err(ApiResponse::error(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "the connection moves to another host, so its secret is needed again: {}",
                            missing_secret.join(", ")
                        ),
                    ));
                }
                None => {
                    return Err(ApiResponse::error(
                        StatusCode::BAD_REQUEST,
                        format!("missing required field(s): {}", missing_secret.join(", ")),
                    ));
                }
            }
        }
        for (name, v) in &settings {
            // A default is a vendor's public host written in the code, not the user's: it is
            // not looked up here (the resolver still guards every connection to it).
            if let (Some(f), Some(s)) = (fields(kind).iter().find(|f| f.name == name), v.as_str())
                && f.ty == FieldType::Url
                && f.default != Some(s)
                && let Ok(url) = crate::http::check_user_url(s, self.allow_private_urls)
                && let Err(e) = crate::http::check_resolves(&url, self.allow_private_urls).await
            {
                return Err(ApiResponse::error(
                    StatusCode::BAD_REQUEST,
                    format!("{name}: {e}"),
                ));
            }
        }
        match self.verify_within_budget(kind, &settings, &secrets).await {
            Ok(Verified { message, facts }) => {
                let secret_json = SecretString::from(Value::Object(secrets).to_string());
                let name = self.secret_name(kind);
                let version = self
                    .secrets
                    .inner()
                    .put(&name, &secret_json)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "secret store error");
                        ApiResponse::error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "the secret store is unavailable; nothing was changed",
                        )
                    })?;
                let mut rec = existing.clone();
                rec.status = ConnectionStatus::Connected;
                rec.settings = settings.into_iter().collect();
                rec.secret_id = Some(name);
                rec.secret_version = Some(version);
                rec.verified_at = Some(now);
                rec.message = Some(message.clone());
                rec.facts = facts;
                rec.updated_at = now;
                let hist = HistoryEntry {
                    kind,
                    at: now,
                    status: ConnectionStatus::Connected,
                    by: req.principal.clone(),
                    message: message.clone(),
                };
                let saved = self
                    .store
                    .save_connection(&rec, &hist, now)
                    .await
                    .map_err(store_error)?;
                Ok(ApiResponse::ok(json!({
                    "message": message,
                    "connection": self.view(&saved).await?,
                })))
            }
            Err(fail) => {
                // A first connection that fails is recorded as such; a connected one keeps
                // its working settings and only gains a history entry.
                let mut rec = existing.clone();
                let status = if existing.status == ConnectionStatus::Connected {
                    ConnectionStatus::Connected
                } else {
                    ConnectionStatus::VerifyFailed
                };
                rec.status = status;
                rec.updated_at = now;
                if existing.status != ConnectionStatus::Connected {
                    rec.message = Some(fail.message.clone());
                }
                let hist = HistoryEntry {
                    kind,
                    at: now,
                    status: ConnectionStatus::VerifyFailed,
                    by: req.principal.clone(),
                    message: fail.message.clone(),
                };
                self.store
                    .save_connection(&rec, &hist, now)
                    .await
                    .map_err(store_error)?;
                Err(ApiResponse::error(fail.status, fail.message))
            }
        }
    }

    async fn disconnect(&self, kind: &str, req: &ApiRequest) -> Result<ApiResponse, ApiResponse> {
        let kind = parse_kind(kind)?;
        let now = self.now();
        let existing = self
            .store
            .connection(kind, now)
            .await
            .map_err(store_error)?;
        if existing.status == ConnectionStatus::NeverConnected {
            return Err(ApiResponse::error(
                StatusCode::CONFLICT,
                format!("{} was never connected", kind.display_name()),
            ));
        }
        self.secrets
            .inner()
            .delete(&self.secret_name(kind))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "secret store error");
                ApiResponse::error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the secret store is unavailable; nothing was changed",
                )
            })?;
        self.secrets.invalidate(&self.secret_name(kind));
        let mut rec = existing.clone();
        rec.status = ConnectionStatus::Disconnected;
        rec.secret_version = None;
        rec.updated_at = now;
        let message = format!(
            "Disconnected {}; its settings are kept and no data flows until it is connected again",
            kind.display_name()
        );
        rec.message = Some(message.clone());
        let hist = HistoryEntry {
            kind,
            at: now,
            status: ConnectionStatus::Disconnected,
            by: req.principal.clone(),
            message: message.clone(),
        };
        let saved = self
            .store
            .save_connection(&rec, &hist, now)
            .await
            .map_err(store_error)?;
        Ok(ApiResponse::ok(
            json!({"message": message, "connection": self.view(&saved).await?}),
        ))
    }

    async fn test(&self, kind: &str, req: &ApiRequest) -> Result<ApiResponse, ApiResponse> {
        let kind = parse_kind(kind)?;
        let now = self.now();
        let existing = self
            .store
            .connection(kind, now)
            .await
            .map_err(store_error)?;
        let (Some(id), Some(version), ConnectionStatus::Connected | ConnectionStatus::VerifyFailed) = (
            &existing.secret_id,
            &existing.secret_version,
            existing.status,
        ) else {
            return Err(ApiResponse::error(
                StatusCode::CONFLICT,
                format!("{} is not connected", kind.display_name()),
            ));
        };
        let secret = self.secrets.get(id, version).await.map_err(|e| {
            tracing::error!(error = %e, "secret store error");
            ApiResponse::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the stored credentials could not be read",
            )
        })?;
        let secrets: Map<String, Value> =
            serde_json::from_str(secret.expose_secret()).unwrap_or_default();
        let settings: Map<String, Value> = existing.settings.clone().into_iter().collect();
        let result = self.verify_within_budget(kind, &settings, &secrets).await;
        let mut rec = existing.clone();
        // A verification that ran out of time, or that the system answered with a 5xx, a 429
        // or not at all, says nothing about the credentials or the settings: the connection
        // keeps its status and message (a connected one stays connected, so one outage never
        // switches its flows off), and the attempt is in its history. Only a definitive answer
        // (401, 403, 404, a refused setting) changes the status.
        let transient = matches!(&result, Err(f) if f.is_transient());
        let (status, message, answer) = match result {
            Ok(Verified { message, facts }) => {
                // What the system looks like now: a run reads these instead of asking again.
                rec.facts = facts;
                (ConnectionStatus::Connected, message.clone(), Ok(message))
            }
            Err(f) => (ConnectionStatus::VerifyFailed, f.message.clone(), Err(f)),
        };
        if !transient {
            rec.status = status;
            rec.message = Some(message.clone());
        }
        rec.updated_at = now;
        if status == ConnectionStatus::Connected {
            rec.verified_at = Some(now);
        }
        let hist = HistoryEntry {
            kind,
            at: now,
            status,
            by: req.principal.clone(),
            message: message.clone(),
        };
        let saved = self
            .store
            .save_connection(&rec, &hist, now)
            .await
            .map_err(store_error)?;
        match answer {
            Ok(m) => Ok(ApiResponse::ok(
                json!({"message": m, "connection": self.view(&saved).await?}),
            )),
            Err(f) => Err(ApiResponse::error(f.status, f.message)),
        }
    }

    async fn runs(&self, req: &ApiRequest) -> Result<ApiResponse, ApiResponse> {
        let limit = page_limit(req, 20, 500)?;
        let now = self.now();
        let runs = match req.query.get("flow").filter(|f| !f.is_empty()) {
            Some(f) => {
                let flow: Flow = f.parse().map_err(|e: crate::domain::UnknownFlow| {
                    ApiResponse::error(StatusCode::BAD_REQUEST, e.to_string())
                })?;
                let page = self
                    .store
                    .list_runs(flow, limit, req.query.get("cursor").cloned(), now)
                    .await
                    .map_err(store_error)?;
                return Ok(ApiResponse::ok(json!({
                    "runs": page.items.iter().map(run_view).collect::<Vec<_>>(),
                    "next": page.next,
                })));
            }
            None => self
                .store
                .recent_runs(limit, now)
                .await
                .map_err(store_error)?,
        };
        Ok(ApiResponse::ok(
            json!({"runs": runs.iter().map(run_view).collect::<Vec<_>>()}),
        ))
    }

    async fn start_run(&self, flow: &str, req: &ApiRequest) -> Result<ApiResponse, ApiResponse> {
        let flow: Flow = flow.parse().map_err(|e: crate::domain::UnknownFlow| {
            ApiResponse::error(StatusCode::NOT_FOUND, e.to_string())
        })?;
        let dry_run = if req.body.is_empty() {
            false
        } else {
            let body = json_body(req)?;
            match body.get("dry_run") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(ApiResponse::error(
                        StatusCode::BAD_REQUEST,
                        "'dry_run' must be true or false",
                    ));
                }
            }
        };
        match self.runner.start(flow, dry_run).await {
            Ok(m) => Ok(ApiResponse::json(
                StatusCode::ACCEPTED,
                json!({"message": m}),
            )),
            Err(m) => Err(ApiResponse::error(StatusCode::BAD_GATEWAY, m)),
        }
    }
}

/// A run as the API shows it.
pub fn run_view(r: &crate::domain::RunRecord) -> Value {
    json!({
        "flow": r.flow.as_str(),
        "id": r.id,
        "started_at": crate::clock::rfc3339_of_ms(r.started_at),
        "finished_at": crate::clock::rfc3339_of_ms(r.finished_at),
        "duration_ms": r.finished_at - r.started_at,
        "status": r.status,
        "dry_run": r.dry_run,
        "counts": r.counts,
        "errors": r.errors,
        "message": r.message,
        "plan": r.plan,
    })
}

/// A validated connect body: settings (with defaults), the secret fields given, and whether any
/// URL's host differs from the stored one.
pub type Validated = (Map<String, Value>, Map<String, Value>, bool);

/// Validate a connect body against the kind's fields. Returns the settings (non-secret, with
/// defaults), the secret fields given, and whether any URL's host changed from the stored one.
pub fn validate(
    kind: ConnectionKind,
    body: &Map<String, Value>,
    existing: &ConnectionRecord,
    allow_private: bool,
) -> Result<Validated, ApiResponse> {
    let schema = fields(kind);
    let mut problems: Vec<String> = Vec::new();
    for k in body.keys() {
        if !schema.iter().any(|f| f.name == k) {
            problems.push(format!(
                "'{k}' is not a field of {} (expected: {})",
                kind.display_name(),
                schema.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let mut settings = Map::new();
    let mut secrets = Map::new();
    let mut host_changed = false;
    for f in schema {
        let raw = body
            .get(f.name)
            .filter(|v| !v.is_null() && v.as_str() != Some(""));
        let value = match raw {
            None => {
                if f.secret {
                    continue; // checked by the caller against the stored secret
                }
                if let Some(d) = f.default {
                    Value::String(d.to_string())
                } else if f.required {
                    problems.push(format!("'{}' is required ({})", f.name, f.label));
                    continue;
                } else {
                    continue;
                }
            }
            Some(v) => v.clone(),
        };
        match normalise(f, &value, allow_private) {
            Ok(v) => {
                // A URL field added after the connection was stored was at its default.
                let old = existing
                    .settings
                    .get(f.name)
                    .and_then(|o| o.as_str())
                    .or(f.default.filter(|_| !existing.settings.is_empty()));
                if f.ty == FieldType::Url
                    && let (Some(new), Some(old)) = (v.as_str(), old)
                {
                    let host = |s: &str| {
                        url::Url::parse(s).ok().map(|u| {
                            (
                                u.host_str().map(str::to_ascii_lowercase),
                                u.port_or_known_default(),
                            )
                        })
                    };
                    if host(new) != host(old) {
                        host_changed = true;
                    }
                }
                if f.secret {
                    secrets.insert(f.name.to_string(), v);
                } else {
                    settings.insert(f.name.to_string(), v);
                }
            }
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok((settings, secrets, host_changed))
    } else {
        Err(ApiResponse::json(
            StatusCode::BAD_REQUEST,
            json!({"message": problems.join("; "), "problems": problems}),
        ))
    }
}

fn normalise(f: &Field, v: &Value, allow_private: bool) -> Result<Value, String> {
    let as_text = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    match f.ty {
        FieldType::Url => {
            let s = v
                .as_str()
                .ok_or_else(|| format!("'{}' must be a URL", f.name))?;
            crate::http::check_user_url(s, allow_private)
                .map(|u| Value::String(u.as_str().trim_end_matches('/').to_string()))
                .map_err(|e| format!("'{}': {e}", f.name))
        }
        FieldType::Text | FieldType::Multiline => {
            let s = as_text(v).ok_or_else(|| format!("'{}' must be text", f.name))?;
            let s = if f.ty == FieldType::Text {
                s.trim().to_string()
            } else {
                s
            };
            if s.len() > 16 * 1024 {
                return Err(format!("'{}' is too long", f.name));
            }
            if f.ty == FieldType::Text && s.chars().any(|c| c.is_control()) {
                return Err(format!("'{}' must be one line of text", f.name));
            }
            Ok(Value::String(s))
        }
        FieldType::Integer => {
            let n = match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            };
            n.filter(|n| *n <= 1_000_000)
                .map(|n| json!(n))
                .ok_or_else(|| format!("'{}' must be a whole number", f.name))
        }
        FieldType::Boolean => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(format!("'{}' must be true or false", f.name)),
        },
        FieldType::List => {
            let items: Vec<String> = match v {
                Value::Array(a) => a.iter().filter_map(as_text).collect(),
                Value::String(s) => s.split(',').map(|x| x.trim().to_string()).collect(),
                _ => return Err(format!("'{}' must be a comma-separated list", f.name)),
            };
            Ok(json!(
                items
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            ))
        }
        FieldType::Choice => {
            let s = as_text(v).unwrap_or_default();
            if f.choices.contains(&s.as_str()) {
                Ok(Value::String(s))
            } else {
                Err(format!(
                    "'{}' must be one of {}",
                    f.name,
                    f.choices.join(", ")
                ))
            }
        }
    }
}
