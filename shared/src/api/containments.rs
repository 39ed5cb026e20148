//! `GET /containments` and `POST /containments/{id}/undo`: what riskflow changed to restrict
//! people, and a person's request to undo one. The request is only recorded here (this function
//! holds no identity-provider secret); departing-response, the job that owns containments,
//! carries it out on its next run, under its lock.

use super::connections::{ConnectionsApi, store_error};
use super::items::page_limit;
use super::{ApiRequest, ApiResponse, json_body};
use crate::domain::Containment;
use crate::flows::containment::{UndoRequestError, request_undo};
use http::StatusCode;
use serde_json::{Value, json};

/// The longest note an undo request keeps.
const MAX_NOTE: usize = 1000;

/// A containment as the API shows it (times in RFC 3339 beside the stored epoch milliseconds).
pub fn containment_view(c: &Containment) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    v["contained"] = json!(crate::clock::rfc3339_of_ms(c.contained_at));
    if let Some(until) = c.until {
        v["contained_until"] = json!(crate::clock::rfc3339_of_ms(until));
    }
    v
}

/// Whether `id` has the shape of a containment id (what riskflow makes: short, letters and
/// digits), so nothing else reaches a state key.
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl ConnectionsApi {
    /// `GET /containments?status=open|closed&limit=&cursor=`: open ones by membership, closed
    /// ones the most recently closed first.
    pub(super) async fn containments(&self, req: &ApiRequest) -> Result<ApiResponse, ApiResponse> {
        let limit = page_limit(req, 100, 500)?;
        let cursor = req.query.get("cursor").cloned();
        let now = self.now();
        let page = match req.query.get("status").map(String::as_str) {
            None | Some("open") => self.store.open_containments(cursor, limit, now).await,
            Some("closed") => self.store.closed_containments(cursor, limit, now).await,
            Some(other) => {
                return Err(ApiResponse::error(
                    StatusCode::BAD_REQUEST,
                    format!("'status' must be open or closed, got '{other}'"),
                ));
            }
        }
        .map_err(store_error)?;
        Ok(ApiResponse::ok(json!({
            "containments": page.items.iter().map(containment_view).collect::<Vec<_>>(),
            "next": page.next,
        })))
    }

    /// `POST /containments/{id}/undo` with an optional `{"note": "…"}`: 202 once recorded.
    pub(super) async fn undo_containment(
        &self,
        id: &str,
        req: &ApiRequest,
    ) -> Result<ApiResponse, ApiResponse> {
        if !valid_id(id) {
            return Err(ApiResponse::error(
                StatusCode::NOT_FOUND,
                format!("no containment {id:?} (ids come from GET /containments)"),
            ));
        }
        let note = if req.body.is_empty() {
            None
        } else {
            match json_body(req)?.get("note") {
                None | Some(Value::Null) => None,
                Some(Value::String(n)) if n.chars().count() <= MAX_NOTE => Some(n.clone()),
                Some(_) => {
                    return Err(ApiResponse::error(
                        StatusCode::BAD_REQUEST,
                        format!("'note' must be text of at most {MAX_NOTE} characters"),
                    ));
                }
            }
        };
        let now = self.now();
        let retention = self.audit_retention_ms;
        match request_undo(&self.store, id, &req.principal, note, retention, now).await {
            Ok(c) => {
                tracing::info!(containment = %c.id, by = %req.principal, "undo requested");
                Ok(ApiResponse::json(
                    StatusCode::ACCEPTED,
                    json!({
                        "message": format!(
                            "undo of containment {} recorded: the next departing-response run removes {} from {} group {}",
                            c.id, c.login, c.idp.short_name(), c.group_id
                        ),
                        "containment": containment_view(&c),
                    }),
                ))
            }
            Err(UndoRequestError::NotFound(_)) => Err(ApiResponse::error(
                StatusCode::NOT_FOUND,
                format!("no containment {id} (ids come from GET /containments)"),
            )),
            Err(UndoRequestError::Refused(why)) => {
                Err(ApiResponse::error(StatusCode::CONFLICT, why))
            }
            Err(UndoRequestError::Store(e)) => Err(store_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_id;

    #[test]
    fn only_ids_of_riskflows_shape_reach_the_store() {
        assert!(valid_id("3f9a2b1c4d5e"));
        for bad in ["", "a/b", "a#b", "x y", &"a".repeat(65)] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }
}
