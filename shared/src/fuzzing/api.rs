//! The connections API's `PUT /connections/{kind}` body: content type, JSON, the form
//! validation and the typed settings a run reads back.

use super::{assert_says_something, split_lines};
use crate::api::connections::validate;
use crate::api::{ApiRequest, json_body, parse_kind};
use crate::connectors::form::{SettingsError, VendorSettings};
use crate::connectors::{adp, bamboohr, fields, generic, incydr, jira, okta, servicenow, workday};
use crate::domain::{ConnectionKind, ConnectionRecord};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A connect request: line 1 the kind (the path segment), line 2 the `Content-Type`, then the
/// body.
///
/// - An unknown kind is a 404 with a message (the body is then tried as another kind's).
/// - The body is parsed or refused with a 4xx and a message.
/// - A body the form accepts puts no secret among the settings and nothing but secrets among
///   the secrets, changes no host of a connection never made, and its normalised values
///   validate to themselves (what the connect route stores is what a later connect with the
///   stored values would store); a run reads the stored values into the vendor's typed
///   settings or says why not.
/// - A body the form refuses is a 400 listing every problem.
pub fn connections_body(data: &[u8]) {
    let (head, body) = split_lines(data, 2);
    let kind = match parse_kind(String::from_utf8_lossy(head[0]).trim()) {
        Ok(kind) => kind,
        Err(resp) => {
            assert_eq!(resp.status, StatusCode::NOT_FOUND);
            assert!(resp.message().is_some_and(|m| !m.trim().is_empty()));
            ConnectionKind::ALL[data.len() % ConnectionKind::ALL.len()]
        }
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(head[1]) {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    let req = ApiRequest {
        method: http::Method::PUT,
        path: format!("/connections/{kind}"),
        query: BTreeMap::new(),
        headers,
        body: Bytes::copy_from_slice(body),
        principal: "arn:aws:iam::123456789012:user/fuzz".into(),
    };
    let body = match json_body(&req) {
        Ok(body) => body,
        Err(resp) => {
            assert!(resp.status.is_client_error(), "{resp:?}");
            assert!(resp.message().is_some_and(|m| !m.trim().is_empty()));
            return;
        }
    };

    let existing = ConnectionRecord::never_connected(kind);
    match validate(kind, &body, &existing, false) {
        Ok((settings, secrets, host_changed)) => {
            assert!(!host_changed, "a first connection moved host");
            let form = fields(kind);
            for name in settings.keys() {
                assert!(form.iter().any(|f| f.name == name && !f.secret));
            }
            for name in secrets.keys() {
                assert!(form.iter().any(|f| f.name == name && f.secret));
            }
            let mut stored = settings.clone();
            stored.extend(secrets.clone());
            let again = validate(kind, &stored, &existing, false)
                .unwrap_or_else(|e| panic!("stored values refused: {:?}", e.body));
            assert_eq!(
                (&again.0, &again.1),
                (&settings, &secrets),
                "normalising the stored values changed them"
            );
            if let Err(e) = read_settings(kind, &settings, &secrets) {
                assert_says_something(&e);
            }
        }
        Err(resp) => {
            assert_eq!(resp.status, StatusCode::BAD_REQUEST);
            assert!(resp.message().is_some_and(|m| !m.trim().is_empty()));
            assert!(
                resp.body["problems"]
                    .as_array()
                    .is_some_and(|p| !p.is_empty())
            );
        }
    }
}

/// The stored settings and secret fields read as a run reads them: the vendor's typed settings.
fn read_settings(
    kind: ConnectionKind,
    settings: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Result<(), SettingsError> {
    fn read<S: VendorSettings>(
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<(), SettingsError> {
        S::read(settings, secrets).map(drop)
    }
    match kind {
        ConnectionKind::Incydr => read::<incydr::settings::Settings>(settings, secrets),
        ConnectionKind::Jira => read::<jira::settings::Settings>(settings, secrets),
        ConnectionKind::Servicenow => read::<servicenow::settings::Settings>(settings, secrets),
        ConnectionKind::Okta => read::<okta::settings::Settings>(settings, secrets),
        ConnectionKind::Workday => read::<workday::settings::Settings>(settings, secrets),
        ConnectionKind::Adp => read::<adp::settings::Settings>(settings, secrets),
        ConnectionKind::Bamboohr => read::<bamboohr::settings::Settings>(settings, secrets),
        ConnectionKind::Generic => read::<generic::settings::Settings>(settings, secrets),
    }
}
