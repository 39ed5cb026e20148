//! `GET /items` and `POST /items/{flow}/retry`: work items that wait for a person (failed) or for
//! a run (pending), and putting a failed one back (`riskflow items`, locally or against a
//! deployment).

use super::ApiRequest;
use super::ApiResponse;
use super::connections::{ConnectionsApi, store_error};
use super::json_body;
use crate::domain::{Flow, ItemStatus};
use http::StatusCode;
use serde_json::json;

impl ConnectionsApi {
    /// `GET /items?flow=&status=failed|pending&limit=&cursor=`: work items waiting for a person
    /// (failed) or for a run (pending), with their last error.
    pub(super) async fn items(&self, req: &ApiRequest) -> Result<ApiResponse, ApiResponse> {
        let status = match req.query.get("status").map(String::as_str) {
            None | Some("failed") => ItemStatus::Failed,
            Some("pending") => ItemStatus::Pending,
            Some(other) => {
                return Err(ApiResponse::error(
                    StatusCode::BAD_REQUEST,
                    format!("'status' must be failed or pending, got '{other}'"),
                ));
            }
        };
        let limit = page_limit(req, 100, 500)?;
        let flows: Vec<Flow> = match req.query.get("flow").filter(|f| !f.is_empty()) {
            Some(f) => vec![f.parse().map_err(|e: crate::domain::UnknownFlow| {
                ApiResponse::error(StatusCode::BAD_REQUEST, e.to_string())
            })?],
            None if req.query.contains_key("cursor") => {
                return Err(ApiResponse::error(
                    StatusCode::BAD_REQUEST,
                    "'cursor' needs 'flow' (the cursor of one flow's list)",
                ));
            }
            None => Flow::ALL.to_vec(),
        };
        let now = self.now();
        let mut rows = Vec::new();
        let mut next = None;
        for flow in flows {
            let left = limit.saturating_sub(rows.len());
            if left == 0 {
                break;
            }
            let page = self
                .store
                .item_keys(flow, status, req.query.get("cursor").cloned(), left, now)
                .await
                .map_err(store_error)?;
            for key in &page.items {
                if let Some(it) = self.store.item(flow, key, now).await.map_err(store_error)? {
                    rows.push(json!({
                        "flow": flow.as_str(), "key": key, "status": it.status.as_str(),
                        "attempts": it.attempts, "last_error": it.last_error,
                        "updated_at": crate::clock::rfc3339_of_ms(it.updated_at),
                    }));
                }
            }
            next = page.next;
        }
        Ok(ApiResponse::ok(json!({ "items": rows, "next": next })))
    }

    /// `POST /items/{flow}/retry` with `{"key": "…"}`: a failed item becomes pending again and
    /// the next run of its flow processes it (its recorded intents are checked first, so a
    /// retry never repeats an outside action that happened).
    pub(super) async fn retry_item(
        &self,
        flow: &str,
        req: &ApiRequest,
    ) -> Result<ApiResponse, ApiResponse> {
        let flow: Flow = flow.parse().map_err(|e: crate::domain::UnknownFlow| {
            ApiResponse::error(StatusCode::NOT_FOUND, e.to_string())
        })?;
        let body = json_body(req)?;
        let key = body
            .get("key")
            .and_then(|k| k.as_str())
            .filter(|k| !k.is_empty() && k.len() <= 1024)
            .ok_or_else(|| {
                ApiResponse::error(
                    StatusCode::BAD_REQUEST,
                    "the body must be {\"key\": \"<item key>\"} (from GET /items)",
                )
            })?;
        let now = self.now();
        let item = self
            .store
            .item(flow, key, now)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                ApiResponse::error(StatusCode::NOT_FOUND, format!("no work item {flow}/{key}"))
            })?;
        if item.status != ItemStatus::Failed {
            return Err(ApiResponse::error(
                StatusCode::CONFLICT,
                format!("{flow}/{key} is {}, not failed", item.status.as_str()),
            ));
        }
        let mut fresh = item.clone();
        fresh.attempts = 0;
        if self
            .store
            .put_pending(&fresh, now)
            .await
            .map_err(store_error)?
        {
            tracing::info!(flow = %flow, key, by = %req.principal, "failed item put back to pending");
            Ok(ApiResponse::ok(json!({
                "message": format!("{flow}/{key} is pending again; the next run of {flow} processes it")
            })))
        } else {
            Err(ApiResponse::error(
                StatusCode::CONFLICT,
                format!("{flow}/{key} changed meanwhile; list the items again"),
            ))
        }
    }
}

/// The `limit` query parameter of a listing: 1 to `max`, `default` when absent.
pub(super) fn page_limit(
    req: &ApiRequest,
    default: usize,
    max: usize,
) -> Result<usize, ApiResponse> {
    match req.query.get("limit") {
        None => Ok(default),
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiResponse::error(
                    StatusCode::BAD_REQUEST,
                    format!("'limit' must be a number from 1 to {max}, got '{l}'"),
                )
            }),
    }
}
