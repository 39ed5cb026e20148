//! The event-notification queue: `GET /core/v1/event-notification-messages` (head message or
//! 204) and `DELETE .../{msgid}` (acknowledge), plus the terminate event the demo queues.

use axum::extract::{OriginalUri, Path, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AdpHost;
use super::errors::adp_error;
use crate::util;

/// A worker-terminate event notification in the classic envelope (the official sample).
pub fn terminate_event(
    event_id: &str,
    aoid: &str,
    worker_id: &str,
    termination_date: &str,
) -> Value {
    json!({"events": [{
        "eventID": event_id,
        "serviceCategoryCode": {"codeValue": "HR"},
        "eventNameCode": {"codeValue": "worker.terminate"},
        "eventReasonCode": {"codeValue": "D", "shortName": "Attendance"},
        "eventStatusCode": {"codeValue": "COMPLETED", "shortName": "Completed"},
        "recordDateTime": "2026-01-05T11:51:23.122+0000",
        "creationDateTime": "2026-01-05T11:51:23.122+0000",
        "effectiveDateTime": format!("{termination_date}T04:00:00.000+0000"),
        "originator": {"associateOID": "G3E82PE9GT1QM4MP"},
        "actor": {"associateOID": "G3E82PE9GT1QM4MP"},
        "data": {
            "eventContext": {"worker": {"associateOID": aoid}},
            "output": {"worker": {
                "associateOID": aoid,
                "workerID": {"idValue": worker_id},
                "workerDates": {"originalHireDate": "2019-05-20", "terminationDate": termination_date},
                "workerStatus": {"statusCode": {"codeValue": "T", "shortName": "Terminated"},
                                 "effectiveDate": termination_date}
            }}
        },
        "links": []
    }]})
}

pub(super) async fn next_message<H: AdpHost>(State(h): State<H>) -> Response {
    h.with_adp(|s| match s.adp.queue.front() {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(m) => {
            let mut resp = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
                m.body.clone(),
            )
                .into_response();
            util::set_header(&mut resp, "adp-msg-msgid", &m.id);
            resp
        }
    })
}

pub(super) async fn ack_message<H: AdpHost>(
    State(h): State<H>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    Path(msg_id): Path<String>,
) -> Response {
    h.with_adp(|s| match s.adp.queue.iter().position(|m| m.id == msg_id) {
        Some(i) => {
            s.adp.queue.remove(i);
            s.adp.acks.push(msg_id);
            StatusCode::OK.into_response()
        }
        None => adp_error(
            StatusCode::NOT_FOUND,
            &method,
            uri.path(),
            "Message not found",
        ),
    })
}
