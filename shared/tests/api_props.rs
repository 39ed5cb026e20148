//! Property tests of the connections API's body handling: any body, any content type, any
//! field values — no panic, and every rejection is a 4xx with a message a person can read.

use bytes::Bytes;
use proptest::prelude::*;
use riskflow::api::connections::validate;
use riskflow::api::{ApiRequest, json_body};
use riskflow::domain::{ConnectionKind, ConnectionRecord};
use std::collections::BTreeMap;

fn request(content_type: &str, body: Vec<u8>) -> ApiRequest {
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    ApiRequest {
        method: http::Method::PUT,
        path: "/connections/jira".into(),
        query: BTreeMap::new(),
        headers,
        body: Bytes::from(body),
        principal: "test".into(),
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>().prop_map(|n| serde_json::json!(n)),
        ".{0,40}".prop_map(serde_json::Value::String),
        "https?://[a-z0-9.:-]{0,30}(/[a-z]{0,8})?".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_body_and_content_type_is_parsed_or_refused_with_a_message(
        ct in prop_oneof![Just("application/json".to_string()), ".{0,30}"],
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        match json_body(&request(&ct, body)) {
            Ok(map) => prop_assert!(map.len() < 10_000),
            Err(resp) => {
                prop_assert!(resp.status.is_client_error());
                prop_assert!(resp.message().is_some_and(|m| !m.is_empty()));
            }
        }
    }

    #[test]
    fn any_field_values_are_validated_or_refused_naming_the_problem(
        kind in prop::sample::select(ConnectionKind::ALL.to_vec()),
        fields in prop::collection::btree_map(
            prop_oneof![
                Just("url".to_string()), Just("email".to_string()), Just("api_token".to_string()),
                Just("project_key".to_string()), Just("min_severity".to_string()),
                Just("states".to_string()), Just("sink".to_string()), Just("group_id".to_string()),
                Just("write_back_note".to_string()), ".{0,10}"
            ],
            json_value(),
            0..8,
        ),
        allow_private in any::<bool>(),
    ) {
        let body: serde_json::Map<String, serde_json::Value> = fields.into_iter().collect();
        let existing = ConnectionRecord::never_connected(kind);
        match validate(kind, &body, &existing, allow_private) {
            Ok((settings, secrets, _)) => {
                // Secrets never land in settings.
                for f in riskflow::connectors::fields(kind).iter().filter(|f| f.secret) {
                    prop_assert!(!settings.contains_key(f.name));
                }
                for k in secrets.keys() {
                    prop_assert!(riskflow::connectors::fields(kind).iter().any(|f| f.name == k && f.secret));
                }
            }
            Err(resp) => {
                prop_assert_eq!(resp.status.as_u16(), 400);
                let msg = resp.message().unwrap_or_default();
                prop_assert!(!msg.is_empty());
                prop_assert!(resp.body["problems"].as_array().is_some_and(|p| !p.is_empty()));
            }
        }
    }
}

#[test]
fn the_incydr_form_suggests_the_documented_api_hosts_and_accepts_any_other_https_one() {
    let kind = ConnectionKind::Incydr;
    let url = riskflow::connectors::fields(kind)
        .iter()
        .find(|f| f.name == "url")
        .expect("the url field");
    assert_eq!(
        url.suggestions,
        riskflow::connectors::incydr::settings::API_HOSTS
    );
    let shown = serde_json::to_value(url).unwrap();
    assert_eq!(shown["suggestions"][1], "https://api.us2.code42.com");
    let existing = ConnectionRecord::never_connected(kind);
    // A region the SDK does not document, pasted from the console's API-client screen.
    for (given, accepted) in [
        ("https://api.eu5.code42.com", true),
        ("https://incydr-gateway.corp.example.com/", true),
        ("http://api.us.code42.com", false),
    ] {
        let body = serde_json::json!({"url": given, "client_id": "key-1", "client_secret": "s"});
        let got = validate(kind, body.as_object().unwrap(), &existing, false);
        assert_eq!(
            got.is_ok(),
            accepted,
            "{given}: {:?}",
            got.err().map(|r| r.body)
        );
    }
}
