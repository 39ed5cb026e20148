//! Pushing: the `X-BambooHR-Signature` signer and the signed webhooks the sandbox POSTs
//! (`POST /_control/bamboohr/webhook`).

use std::collections::BTreeMap;

use axum::http::header;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::BambooHost;
use crate::creds;
use crate::util;

/// Hex HMAC-SHA256 of `body ‖ timestamp`, keyed with the webhook's private key (the value of
/// `X-BambooHR-Signature`).
pub fn bamboohr_sign(key: &[u8], body: &[u8], timestamp: &str) -> String {
    hex::encode(util::hmac_sha256(key, &[body, timestamp.as_bytes()]))
}

/// What `POST /_control/bamboohr/webhook` sends.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct WebhookRequest {
    /// Where to POST.
    pub url: String,
    /// `event` (default, event-based payload) or `fields` (legacy field-based payload).
    pub format: Option<String>,
    /// Employee the event is about.
    pub employee_id: String,
    /// Event type (default `employee.updated`); for `fields` the action (default `Updated`).
    pub event_type: Option<String>,
    /// Changed fields (default `["status"]`).
    pub changed_fields: Option<Vec<String>>,
    /// Field values for the `fields` format (default: the employee's `workEmail`, `status`,
    /// `terminationDate`).
    pub fields: Option<BTreeMap<String, Value>>,
    /// Company id in event payloads (default `12345`).
    pub company_id: Option<String>,
    /// Signing key (default the demo webhook key).
    pub key: Option<String>,
    /// `X-BambooHR-Timestamp` value (default now, `YYYY-MM-DDTHH:MM:SSZ`).
    pub timestamp: Option<String>,
    /// Send this body instead (a JSON string is sent as raw text).
    pub payload: Option<Value>,
    /// Send a wrong signature.
    pub bad_signature: bool,
}

/// One webhook the sandbox sent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WebhookDelivery {
    /// Target.
    pub url: String,
    /// HTTP status of the answer (0 when the request failed).
    pub status: u16,
    /// Body of the answer.
    pub response_body: String,
    /// Transport error, if any.
    pub error: Option<String>,
    /// `X-BambooHR-Timestamp`.
    pub timestamp: String,
    /// `X-BambooHR-Signature`.
    pub signature: String,
    /// The body sent.
    pub body: String,
}

fn id_value(id: &str) -> Value {
    id.parse::<i64>()
        .map(|n| json!(n))
        .unwrap_or_else(|_| json!(id))
}

pub(crate) async fn send_webhook<H: BambooHost>(
    h: &H,
    req: WebhookRequest,
) -> Result<WebhookDelivery, String> {
    if req.url.is_empty() {
        return Err("url is required".into());
    }
    let now = Timestamp::now();
    let timestamp = req
        .timestamp
        .clone()
        .unwrap_or_else(|| now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    let payload_ts = now.strftime("%Y-%m-%dT%H:%M:%S+0000").to_string();
    let changed = req
        .changed_fields
        .clone()
        .unwrap_or_else(|| vec!["status".to_string()]);
    let body = match &req.payload {
        Some(Value::String(raw)) => raw.clone(),
        Some(other) => other.to_string(),
        None => match req.format.as_deref().unwrap_or("event") {
            "event" => json!({
                "type": req.event_type.clone().unwrap_or_else(|| "employee.updated".into()),
                "timestamp": payload_ts,
                "data": {
                    "companyId": req.company_id.clone().unwrap_or_else(|| "12345".into()),
                    "employeeId": req.employee_id,
                    "changedFields": changed,
                }
            })
            .to_string(),
            "fields" => {
                let values = req.fields.clone().unwrap_or_else(|| {
                    h.with_bamboo(|s| {
                        s.bamboo
                            .employees
                            .get(&req.employee_id)
                            .map(|e| {
                                ["workEmail", "status", "terminationDate"]
                                    .iter()
                                    .filter_map(|k| {
                                        e.fields.get(*k).map(|v| (k.to_string(), v.clone()))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                });
                let fields: Map<String, Value> = values
                    .into_iter()
                    .map(|(k, v)| (k, json!({"value": v})))
                    .collect();
                json!({"employees": [{
                    "id": id_value(&req.employee_id),
                    "action": req.event_type.clone().unwrap_or_else(|| "Updated".into()),
                    "timestamp": payload_ts,
                    "changedFields": changed,
                    "fields": fields,
                }]})
                .to_string()
            }
            other => return Err(format!("unknown format '{other}' (use event or fields)")),
        },
    };
    let key = req
        .key
        .clone()
        .unwrap_or_else(|| creds::BAMBOOHR_WEBHOOK_KEY.to_string());
    let mut signature = bamboohr_sign(key.as_bytes(), body.as_bytes(), &timestamp);
    if req.bad_signature {
        signature = bamboohr_sign(b"wrong-key", body.as_bytes(), &timestamp);
    }
    let sent = h
        .http()
        .post(&req.url)
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-BambooHR-Timestamp", &timestamp)
        .header("X-BambooHR-Signature", &signature)
        .body(body.clone())
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await;
    let mut delivery = WebhookDelivery {
        url: req.url.clone(),
        timestamp,
        signature,
        body,
        ..Default::default()
    };
    match sent {
        Ok(resp) => {
            delivery.status = resp.status().as_u16();
            delivery.response_body = resp.text().await.unwrap_or_default();
        }
        Err(e) => delivery.error = Some(e.to_string()),
    }
    h.with_bamboo(|s| s.bamboo.deliveries.push(delivery.clone()));
    Ok(delivery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hex_hmac_over_body_then_timestamp() {
        let sig = bamboohr_sign(b"k", b"{}", "2026-05-21T14:00:00Z");
        assert_eq!(sig.len(), 64);
        assert_eq!(
            sig,
            hex::encode(util::hmac_sha256(b"k", &[b"{}2026-05-21T14:00:00Z"]))
        );
        assert_ne!(sig, bamboohr_sign(b"k", b"{} ", "2026-05-21T14:00:00Z"));
    }
}
