//! `POST /auth/oauth/v2/token`: the client-credentials grant.
//!
//! As ADP's gateway answers: a parameter given twice (in the query, the form body, or both), or
//! the client authenticated twice (HTTP Basic and `client_id`/`client_secret` parameters), is
//! `400 {"error":"invalid_request","error_description":"Missing or duplicate parameters"}`
//! (ADP's own connection libraries, e.g. <https://github.com/adplabs/adp-connection-python>,
//! send Basic credentials and one form field, `grant_type=client_credentials`).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::AdpHost;
use super::errors::oauth_error;
use crate::creds;
use crate::util::{self, Query};

pub(super) async fn token<H: AdpHost>(
    State(h): State<H>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let form = Query::parse(std::str::from_utf8(&body).ok());
    let params: Vec<&str> = q.0.iter().chain(&form.0).map(|(k, _)| k.as_str()).collect();
    let repeated = params
        .iter()
        .enumerate()
        .any(|(i, k)| params[..i].contains(k));
    let basic = util::basic_auth(&headers).is_some();
    let two_methods = basic
        && params
            .iter()
            .any(|k| *k == "client_id" || *k == "client_secret");
    if repeated || two_methods {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing or duplicate parameters",
        );
    }
    let grant = q.get("grant_type").or_else(|| form.get("grant_type"));
    match grant {
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type '{other}' is not supported"),
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing grant_type parameter value",
            );
        }
    }
    let creds_given = util::basic_auth(&headers).or_else(|| {
        Some((
            form.get("client_id")?.to_string(),
            form.get("client_secret")?.to_string(),
        ))
    });
    let ok = creds_given.is_some_and(|(id, secret)| {
        util::ct_eq(&id, creds::ADP_CLIENT_ID) && util::ct_eq(&secret, creds::ADP_CLIENT_SECRET)
    });
    if !ok {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The given client credentials were not valid",
        );
    }
    h.with_adp(|s| {
        let tok = s.ids.uuid("adp-token");
        s.adp.add_token(tok.clone(), util::now_secs() + 3600);
        util::json(
            StatusCode::OK,
            &json!({"access_token": tok, "token_type": "Bearer", "expires_in": 3600, "scope": "api"}),
        )
    })
}
