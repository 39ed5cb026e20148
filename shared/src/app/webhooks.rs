//! `POST /webhooks/hr/{source}` for `bamboohr` and `generic` (Standard Webhooks).
//!
//! The signature is checked on the raw bytes before anything is parsed. A valid delivery is
//! recorded together with its pending work item in one transaction and answered 202; the caller
//! then processes the new items at once if it can (else the next scheduled run does). A delivery
//! seen before is answered 200 and changes nothing.

use super::connection::{self, BuildError};
use crate::api::{ApiResponse, MAX_BODY};
use crate::connectors::{bamboohr, form, generic};
use crate::domain::ConnectionKind;
use crate::flows::hr_intake::{HrWork, record_webhook};
use crate::secrets::CachedSecrets;
use crate::store::{DeliveryOutcome, Store};
use http::{HeaderMap, StatusCode};
use secrecy::SecretString;
use serde_json::json;
use sha2::Digest;

/// The webhook receiver.
#[derive(Clone)]
pub struct WebhookReceiver {
    pub store: Store,
    pub secrets: CachedSecrets,
    pub clock: crate::clock::Clock,
    /// Accepted clock difference of a delivery's timestamp (default 5 minutes).
    pub window_ms: i64,
    /// Where refused deliveries are counted (`webhook_rejected` by source and reason).
    pub metrics: crate::metrics::MetricsSink,
}

/// What a delivery produced: the answer, and the work items to process now.
pub struct Accepted {
    pub response: ApiResponse,
    pub new_items: Vec<String>,
    /// Why the delivery was refused (the `reason` of the `webhook_rejected` metric).
    pub rejected: Option<&'static str>,
}

impl WebhookReceiver {
    fn reject(reason: &'static str, status: StatusCode, message: impl Into<String>) -> Accepted {
        Accepted {
            response: ApiResponse::error(status, message),
            new_items: Vec::new(),
            rejected: Some(reason),
        }
    }

    /// Handle one delivery; a refused one is counted in the `webhook_rejected` metric.
    pub async fn receive(&self, source: &str, headers: &HeaderMap, body: &[u8]) -> Accepted {
        let accepted = self.receive_unmetered(source, headers, body).await;
        if let Some(reason) = accepted.rejected {
            tracing::warn!(source = %source.chars().take(40).collect::<String>(), reason, status = accepted.response.status.as_u16(), "webhook delivery refused");
            self.metrics
                .webhook_rejected(source, reason, (self.clock)());
        }
        accepted
    }

    async fn receive_unmetered(&self, source: &str, headers: &HeaderMap, body: &[u8]) -> Accepted {
        let kind = match source {
            "bamboohr" => ConnectionKind::Bamboohr,
            "generic" => ConnectionKind::Generic,
            other => {
                return Self::reject(
                    "unknown_source",
                    StatusCode::NOT_FOUND,
                    format!("unknown HR webhook source '{other}' (expected bamboohr or generic)"),
                );
            }
        };
        if body.len() > MAX_BODY {
            return Self::reject(
                "too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {} KiB", MAX_BODY / 1024),
            );
        }
        let now = (self.clock)();
        let conn = match connection::load_signing(&self.store, &self.secrets, kind, now).await {
            Ok(c) => c,
            Err(BuildError::NotConnected(_)) => {
                return Self::reject(
                    "not_connected",
                    StatusCode::NOT_FOUND,
                    format!("the {} webhook is not connected", kind.display_name()),
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "the webhook's connection cannot be read");
                return Self::reject(
                    "unavailable",
                    StatusCode::SERVICE_UNAVAILABLE,
                    "try again shortly",
                );
            }
        };
        let key_names = match kind {
            ConnectionKind::Bamboohr => bamboohr::settings::SIGNING_KEYS,
            _ => generic::settings::SIGNING_KEYS,
        };
        let keys: Vec<SecretString> = form::secrets_named(&conn.secrets, key_names);
        let sha = hex::encode(sha2::Sha256::digest(body));
        let mut works: Vec<(String, HrWork)> = Vec::new();
        match kind {
            ConnectionKind::Bamboohr => {
                if let Err(e) = bamboohr::verify_headers(headers, body, &keys, now, self.window_ms)
                {
                    return Self::reject(
                        "bad_signature",
                        StatusCode::UNAUTHORIZED,
                        format!("signature check failed: {e}"),
                    );
                }
                let changes = match bamboohr::parse_payload(body) {
                    Ok(c) => c,
                    Err(e) => {
                        return Self::reject("malformed", StatusCode::BAD_REQUEST, e.to_string());
                    }
                };
                let event_time = match bamboohr::event_time(headers, now) {
                    Ok(t) => t,
                    Err(e) => {
                        return Self::reject("malformed", StatusCode::BAD_REQUEST, e.to_string());
                    }
                };
                for c in changes.into_iter().filter(|c| c.may_concern_departure()) {
                    let id = c.dedup_key();
                    works.push((
                        id.clone(),
                        HrWork::BambooChange {
                            employee_id: c.employee_id.clone(),
                            event_type: c.event_type.clone(),
                            event_time,
                            fields: c.fields.clone(),
                            source_event_id: id,
                        },
                    ));
                }
            }
            _ => {
                let webhook_id = match generic::verify(headers, body, &keys, now, self.window_ms) {
                    Ok(id) => id,
                    Err(e) => {
                        return Self::reject(
                            "bad_signature",
                            StatusCode::UNAUTHORIZED,
                            format!("signature check failed: {e}"),
                        );
                    }
                };
                let ts = headers
                    .get(generic::TIMESTAMP_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .unwrap_or(now / 1000);
                match generic::parse(body, &webhook_id, ts, now) {
                    Ok(fact) => works.push((webhook_id, HrWork::Fact { fact })),
                    Err(e) => {
                        return Self::reject("malformed", StatusCode::BAD_REQUEST, e.to_string());
                    }
                }
            }
        }
        if works.is_empty() {
            return Accepted {
                response: ApiResponse::ok(
                    json!({"message": "received; nothing in it concerns a departure"}),
                ),
                new_items: Vec::new(),
                rejected: None,
            };
        }
        let mut new_items = Vec::new();
        for (id, work) in &works {
            match record_webhook(&self.store, source, id, sha.clone(), work, now).await {
                Ok((DeliveryOutcome::Recorded, key)) => new_items.push(key),
                Ok((DeliveryOutcome::Duplicate, _)) => {}
                Err(e) => {
                    tracing::error!(error = %e, "state store error");
                    // Nothing after the failure was recorded: the sender retries the delivery.
                    return Self::reject(
                        "unavailable",
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the delivery could not be recorded; retry it",
                    );
                }
            }
        }
        if new_items.is_empty() {
            return Accepted {
                response: ApiResponse::ok(json!({"message": "this delivery was already received"})),
                new_items,
                rejected: None,
            };
        }
        Accepted {
            response: ApiResponse::json(
                StatusCode::ACCEPTED,
                json!({"message": "accepted", "items": new_items}),
            ),
            new_items,
            rejected: None,
        }
    }
}
