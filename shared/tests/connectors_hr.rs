//! HR connectors: Workday RaaS, ADP, BambooHR and the generic signed webhook.
//!
//! Layers: signature checks against hand-computed HMACs; parsers against the reference
//! samples and every malformed case; property tests (no input panics, every refusal has a
//! message); request shapes against a recording server; clients against the sandbox
//! (`riskflow-sandbox`), including ADP over mutual TLS.

mod support_hr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use riskflow::connectors::ConnectorError;
use riskflow::connectors::adp::{self, AdpClient, AdpCredentials};
use riskflow::connectors::bamboohr::{self, BambooChange, BambooClient, Employee};
use riskflow::connectors::generic::{self, SignatureError};
use riskflow::connectors::workday::{self, FieldMapping, WorkdayClient, WorkdayRow};
use riskflow::domain::{Date, Departure, HrEventKind, HrSource};
use riskflow::http::ClientOptions;
use secrecy::SecretString;
use serde_json::json;
use sha2::Sha256;
use std::collections::BTreeMap;
use support_hr::*;
use url::Url;

/// 2026-03-01T12:00:00Z.
const NOW_MS: i64 = 1_772_366_400_000;

/// A calendar date written as `YYYY-MM-DD`.
fn day(s: &str) -> Date {
    s.parse().unwrap()
}
const NOW_SECS: i64 = NOW_MS / 1000;
const WINDOW: i64 = generic::DEFAULT_WINDOW_MS;

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

// =============================================================================================
// Generic webhook (Standard Webhooks) signatures

const WH_SECRET: &str = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM="; // base64("secret-key-for-tests")

fn wh_headers(id: &str, ts: &str, sig: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert("webhook-id", id.parse().unwrap());
    h.insert("webhook-timestamp", ts.parse().unwrap());
    h.insert("webhook-signature", sig.parse().unwrap());
    h
}

fn signed(body: &[u8], ts: i64, secret_text: &str) -> http::HeaderMap {
    let sig = generic::sign("msg_1", ts, body, &secret(secret_text)).unwrap();
    wh_headers("msg_1", &ts.to_string(), &sig)
}

#[test]
fn a_generic_delivery_signed_with_sign_verifies_and_yields_its_webhook_id() {
    let body = br#"{"event_type":"departure"}"#;
    let headers = signed(body, NOW_SECS, WH_SECRET);
    let id = generic::verify(&headers, body, &[secret(WH_SECRET)], NOW_MS, WINDOW).unwrap();
    assert_eq!(id, "msg_1");
}

#[test]
fn the_generic_signature_is_base64_hmac_over_id_dot_timestamp_dot_body_with_the_decoded_secret() {
    let body = br#"{"email":"a@b.co"}"#;
    let by_hand = hmac_sha256(b"secret-key-for-tests", &[b"msg_1.1772366400.", body]);
    let expected = format!("v1,{}", STANDARD.encode(by_hand));
    assert_eq!(
        generic::sign("msg_1", 1_772_366_400, body, &secret(WH_SECRET)).unwrap(),
        expected
    );
    let headers = wh_headers("msg_1", "1772366400", &expected);
    assert!(generic::verify(&headers, body, &[secret(WH_SECRET)], NOW_MS, WINDOW).is_ok());
}

#[test]
fn the_generic_signature_matches_the_published_standard_webhooks_test_vector() {
    // The vector the Standard Webhooks / Svix libraries test against.
    let body = br#"{"test": 2432232314}"#;
    let key = secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let sig = generic::sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body, &key).unwrap();
    assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[test]
fn a_generic_secret_without_the_whsec_prefix_is_used_as_raw_bytes() {
    let body = b"{}";
    let by_hand = hmac_sha256(b"plain shared secret", &[b"msg_1.1772366400.", body]);
    let header = format!("v1,{}", STANDARD.encode(by_hand));
    let headers = wh_headers("msg_1", "1772366400", &header);
    assert!(
        generic::verify(
            &headers,
            body,
            &[secret("plain shared secret")],
            NOW_MS,
            WINDOW
        )
        .is_ok()
    );
}

#[test]
fn a_tampered_generic_body_is_refused_as_a_mismatch() {
    let headers = signed(b"{\"a\":1}", NOW_SECS, WH_SECRET);
    let err =
        generic::verify(&headers, b"{\"a\":2}", &[secret(WH_SECRET)], NOW_MS, WINDOW).unwrap_err();
    assert_eq!(err, SignatureError::Mismatch);
    assert_eq!(err.to_string(), "the signature does not match the body");
}

#[test]
fn a_generic_delivery_signed_with_another_secret_is_refused() {
    let headers = signed(b"{}", NOW_SECS, "whsec_b3RoZXI=");
    let err = generic::verify(&headers, b"{}", &[secret(WH_SECRET)], NOW_MS, WINDOW).unwrap_err();
    assert_eq!(err, SignatureError::Mismatch);
}

#[test]
fn during_rotation_a_delivery_signed_with_the_second_secret_is_accepted() {
    let old = "whsec_b2xkLXNlY3JldA==";
    let headers = signed(b"{}", NOW_SECS, old);
    let secrets = [secret(WH_SECRET), secret(old)];
    assert!(generic::verify(&headers, b"{}", &secrets, NOW_MS, WINDOW).is_ok());
    // ...and only while it is still configured.
    assert_eq!(
        generic::verify(&headers, b"{}", &secrets[..1], NOW_MS, WINDOW).unwrap_err(),
        SignatureError::Mismatch
    );
}

#[test]
fn one_matching_signature_among_several_in_the_header_is_enough() {
    let good = generic::sign("msg_1", NOW_SECS, b"{}", &secret(WH_SECRET)).unwrap();
    let list = format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,ignored {good}");
    let headers = wh_headers("msg_1", &NOW_SECS.to_string(), &list);
    assert!(generic::verify(&headers, b"{}", &[secret(WH_SECRET)], NOW_MS, WINDOW).is_ok());
}

#[test]
fn a_generic_timestamp_older_than_the_window_is_refused_as_stale() {
    let ts = NOW_SECS - 301;
    let headers = signed(b"{}", ts, WH_SECRET);
    let err = generic::verify(&headers, b"{}", &[secret(WH_SECRET)], NOW_MS, WINDOW).unwrap_err();
    assert_eq!(
        err,
        SignatureError::Stale {
            age_secs: 301,
            window_secs: 300
        }
    );
    assert_eq!(
        err.to_string(),
        "the timestamp is 301 s old, outside the 300 s window"
    );
    // At the edge of the window it still passes.
    let headers = signed(b"{}", NOW_SECS - 300, WH_SECRET);
    assert!(generic::verify(&headers, b"{}", &[secret(WH_SECRET)], NOW_MS, WINDOW).is_ok());
}

#[test]
fn a_generic_timestamp_ahead_of_the_window_is_refused_as_future() {
    let headers = signed(b"{}", NOW_SECS + 600, WH_SECRET);
    let err = generic::verify(&headers, b"{}", &[secret(WH_SECRET)], NOW_MS, WINDOW).unwrap_err();
    assert_eq!(
        err,
        SignatureError::Future {
            ahead_secs: 600,
            window_secs: 300
        }
    );
    assert!(err.to_string().contains("in the future"));
}

#[test]
fn each_missing_generic_header_is_named() {
    let full = signed(b"{}", NOW_SECS, WH_SECRET);
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut h = full.clone();
        h.remove(name);
        let err = generic::verify(&h, b"{}", &[secret(WH_SECRET)], NOW_MS, WINDOW).unwrap_err();
        assert_eq!(err.to_string(), format!("the '{name}' header is missing"));
    }
}

#[test]
fn garbage_in_the_generic_headers_is_refused_with_what_was_expected() {
    let s = [secret(WH_SECRET)];
    let err = generic::verify(
        &wh_headers("m", "yesterday", "v1,abc"),
        b"{}",
        &s,
        NOW_MS,
        WINDOW,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the 'webhook-timestamp' header is not epoch seconds"
    );
    let ts = NOW_SECS.to_string();
    let err = generic::verify(
        &wh_headers("m", &ts, "v1,!!not base64!!"),
        b"{}",
        &s,
        NOW_MS,
        WINDOW,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the 'webhook-signature' header is not a list of v1,<base64> signatures"
    );
    let err =
        generic::verify(&wh_headers("m", &ts, "v2,abcd"), b"{}", &s, NOW_MS, WINDOW).unwrap_err();
    assert_eq!(err, SignatureError::NoSignature("webhook-signature"));
    let err =
        generic::verify(&wh_headers("m", &ts, "v1,AAAA"), b"{}", &s, NOW_MS, WINDOW).unwrap_err();
    assert_eq!(
        err,
        SignatureError::Mismatch,
        "a short but valid base64 signature is a mismatch"
    );
}

#[test]
fn an_unusable_generic_secret_configuration_is_reported_as_such() {
    let headers = signed(b"{}", NOW_SECS, WH_SECRET);
    assert_eq!(
        generic::verify(&headers, b"{}", &[], NOW_MS, WINDOW).unwrap_err(),
        SignatureError::NoSecret
    );
    let err = generic::verify(&headers, b"{}", &[secret("whsec_%%%")], NOW_MS, WINDOW).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a configured signing secret is not usable: the part after 'whsec_' is not base64"
    );
    assert!(generic::sign("m", 1, b"", &secret("whsec_%%%")).is_err());
}

// =============================================================================================
// BambooHR signatures

const BAMBOO_KEY: &str = "bamboo-webhook-demo";
const BAMBOO_TS: &str = "2026-03-01T12:00:00Z";

fn bamboo_sig(key: &str, body: &[u8], ts: &str) -> String {
    hex::encode(hmac_sha256(key.as_bytes(), &[body, ts.as_bytes()]))
}

#[test]
fn a_bamboohr_signature_over_body_then_timestamp_verifies() {
    let body = BAMBOO_EVENT_SAMPLE.as_bytes();
    let sig = bamboo_sig(BAMBOO_KEY, body, BAMBOO_TS);
    // The sandbox's signer agrees with the hand computation.
    assert_eq!(
        sig,
        riskflow_sandbox::bamboohr_sign(BAMBOO_KEY.as_bytes(), body, BAMBOO_TS)
    );
    bamboohr::verify_signature(&secret(BAMBOO_KEY), body, BAMBOO_TS, &sig, NOW_MS, WINDOW).unwrap();
    // Upper-case hex and a sha256= prefix are tolerated.
    let upper = sig.to_uppercase();
    bamboohr::verify_signature(&secret(BAMBOO_KEY), body, BAMBOO_TS, &upper, NOW_MS, WINDOW)
        .unwrap();
    let prefixed = format!("sha256={sig}");
    bamboohr::verify_signature(
        &secret(BAMBOO_KEY),
        body,
        BAMBOO_TS,
        &prefixed,
        NOW_MS,
        WINDOW,
    )
    .unwrap();
}

#[test]
fn bamboohr_timestamps_are_read_as_rfc3339_basic_offsets_or_epoch_seconds() {
    let body = b"{}";
    for ts in [
        "2026-03-01T12:00:00Z",
        "2026-03-01T12:00:00+0000",
        "2026-03-01T07:00:00-05:00",
        "1772366400",
    ] {
        let sig = bamboo_sig(BAMBOO_KEY, body, ts);
        bamboohr::verify_signature(&secret(BAMBOO_KEY), body, ts, &sig, NOW_MS, WINDOW)
            .unwrap_or_else(|e| panic!("{ts}: {e}"));
    }
}

#[test]
fn a_tampered_bamboohr_body_or_timestamp_is_a_mismatch() {
    let sig = bamboo_sig(BAMBOO_KEY, b"{\"a\":1}", BAMBOO_TS);
    let k = secret(BAMBOO_KEY);
    assert_eq!(
        bamboohr::verify_signature(&k, b"{\"a\":2}", BAMBOO_TS, &sig, NOW_MS, WINDOW).unwrap_err(),
        SignatureError::Mismatch
    );
    assert_eq!(
        bamboohr::verify_signature(
            &k,
            b"{\"a\":1}",
            "2026-03-01T12:00:01Z",
            &sig,
            NOW_MS,
            WINDOW
        )
        .unwrap_err(),
        SignatureError::Mismatch
    );
}

#[test]
fn a_bamboohr_delivery_signed_with_another_key_is_refused_unless_it_is_the_rotated_one() {
    let sig = bamboo_sig("old-key", b"{}", BAMBOO_TS);
    assert_eq!(
        bamboohr::verify_signature(&secret(BAMBOO_KEY), b"{}", BAMBOO_TS, &sig, NOW_MS, WINDOW)
            .unwrap_err(),
        SignatureError::Mismatch
    );
    let both = [secret(BAMBOO_KEY), secret("old-key")];
    bamboohr::verify_signature_any(&both, b"{}", BAMBOO_TS, &sig, NOW_MS, WINDOW).unwrap();
}

#[test]
fn stale_and_future_bamboohr_timestamps_are_refused_even_with_a_valid_signature() {
    let k = secret(BAMBOO_KEY);
    let old = "2026-03-01T11:54:00Z"; // 6 minutes before NOW
    let err = bamboohr::verify_signature(
        &k,
        b"{}",
        old,
        &bamboo_sig(BAMBOO_KEY, b"{}", old),
        NOW_MS,
        WINDOW,
    )
    .unwrap_err();
    assert_eq!(
        err,
        SignatureError::Stale {
            age_secs: 360,
            window_secs: 300
        }
    );
    let ahead = "2026-03-01T12:10:00Z";
    let err = bamboohr::verify_signature(
        &k,
        b"{}",
        ahead,
        &bamboo_sig(BAMBOO_KEY, b"{}", ahead),
        NOW_MS,
        WINDOW,
    )
    .unwrap_err();
    assert_eq!(
        err,
        SignatureError::Future {
            ahead_secs: 600,
            window_secs: 300
        }
    );
}

#[test]
fn missing_or_garbage_bamboohr_headers_say_what_is_wrong() {
    let k = secret(BAMBOO_KEY);
    let sig = bamboo_sig(BAMBOO_KEY, b"{}", BAMBOO_TS);
    assert_eq!(
        bamboohr::verify_signature(&k, b"{}", "", &sig, NOW_MS, WINDOW)
            .unwrap_err()
            .to_string(),
        "the 'X-BambooHR-Timestamp' header is missing"
    );
    assert_eq!(
        bamboohr::verify_signature(&k, b"{}", BAMBOO_TS, " ", NOW_MS, WINDOW)
            .unwrap_err()
            .to_string(),
        "the 'X-BambooHR-Signature' header is missing"
    );
    assert_eq!(
        bamboohr::verify_signature(&k, b"{}", BAMBOO_TS, "zz-not-hex", NOW_MS, WINDOW)
            .unwrap_err()
            .to_string(),
        "the 'X-BambooHR-Signature' header is not 64 hexadecimal characters"
    );
    assert!(matches!(
        bamboohr::verify_signature(&k, b"{}", BAMBOO_TS, "abcd", NOW_MS, WINDOW).unwrap_err(),
        SignatureError::Malformed { .. }
    ));
    assert_eq!(
        bamboohr::verify_signature(&k, b"{}", "last tuesday", &sig, NOW_MS, WINDOW)
            .unwrap_err()
            .to_string(),
        "the 'X-BambooHR-Timestamp' header is not a timestamp (RFC 3339 or epoch seconds)"
    );
}

#[test]
fn bamboohr_headers_are_read_from_the_request_and_named_when_missing() {
    let body = b"{}";
    let mut h = http::HeaderMap::new();
    h.insert("X-BambooHR-Timestamp", BAMBOO_TS.parse().unwrap());
    h.insert(
        "X-BambooHR-Signature",
        bamboo_sig(BAMBOO_KEY, body, BAMBOO_TS).parse().unwrap(),
    );
    bamboohr::verify_headers(&h, body, &[secret(BAMBOO_KEY)], NOW_MS, WINDOW).unwrap();
    h.remove("X-BambooHR-Signature");
    assert_eq!(
        bamboohr::verify_headers(&h, body, &[secret(BAMBOO_KEY)], NOW_MS, WINDOW).unwrap_err(),
        SignatureError::MissingHeader("X-BambooHR-Signature")
    );
}

// =============================================================================================
// Normalisation

#[test]
fn dates_are_normalised_to_the_written_calendar_day_and_anything_else_is_refused() {
    for (raw, want) in [
        ("2026-03-31", "2026-03-31"),
        (" 2026-03-31 ", "2026-03-31"),
        ("2019-05-27T04:00:00.000+0000", "2019-05-27"),
        ("2018-10-25T00:00:00.000Z", "2018-10-25"),
        ("2026-03-31T22:00:00-05:00", "2026-03-31"),
        ("2026-03-31T09:00:00", "2026-03-31"),
        ("2026-03-31-07:00", "2026-03-31"),
        ("2026-03-31Z", "2026-03-31"),
    ] {
        assert_eq!(
            generic::normalize_date(raw)
                .map(|d| d.to_string())
                .as_deref(),
            Ok(want),
            "{raw}"
        );
    }
    for raw in [
        "31/03/2026",
        "2026-02-30",
        "20260331",
        "2026-3-31",
        "",
        "2026-03-31T25:00:00Z",
        "2026-03-31 junk",
    ] {
        let err = generic::normalize_date(raw).unwrap_err();
        assert!(
            err.starts_with("expected a date as YYYY-MM-DD or an ISO 8601 date-time, got '"),
            "{raw}: {err}"
        );
    }
}

#[test]
fn emails_are_trimmed_lower_cased_and_must_look_like_addresses() {
    assert_eq!(
        generic::normalize_email("  Jane.Doe@Example.COM ").as_deref(),
        Some("jane.doe@example.com")
    );
    for bad in [
        "",
        "jane",
        "jane@",
        "@example.com",
        "jane@example",
        "a b@example.com",
        "a@b@c.com",
        "a@example..com",
        "<a@b.com>",
    ] {
        assert_eq!(generic::normalize_email(bad), None, "{bad}");
    }
}

// =============================================================================================
// Generic webhook body

#[test]
fn a_generic_departure_body_becomes_a_departure() {
    let body = br#"{"event_type":"departure","email":" Jane.Doe@Example.com","departure_date":"2026-03-31",
        "employee_id":21004,"occurred_at":"2026-03-01T09:30:00Z","reason":"Resignation","extra":{"ignored":true}}"#;
    let d = generic::parse(body, "msg_1", NOW_SECS, NOW_MS).unwrap();
    assert_eq!(
        d,
        Departure {
            source: HrSource::Generic,
            kind: HrEventKind::Departure,
            source_event_id: "msg_1".into(),
            event_time: 1_772_357_400_000,
            email: "jane.doe@example.com".into(),
            employee_id: Some("21004".into()),
            departure_date: Some(day("2026-03-31")),
            reason: Some("Resignation".into()),
        }
    );
}

#[test]
fn a_generic_cancellation_needs_no_date_and_is_dated_by_the_webhook_timestamp() {
    let d = generic::parse(
        br#"{"event_type":" Cancellation ","email":"a@b.co"}"#,
        "msg_2",
        NOW_SECS,
        NOW_MS,
    )
    .unwrap();
    assert_eq!(d.kind, HrEventKind::Cancellation);
    assert_eq!(d.departure_date, None);
    assert_eq!(d.event_time, NOW_MS);
    assert_eq!(d.employee_id, None);
}

#[test]
fn a_generic_fact_dated_past_the_clock_skew_allowance_is_refused_naming_the_field() {
    let body = |at: i64| {
        format!(
            r#"{{"event_type":"cancellation","email":"a@b.co","occurred_at":"{}"}}"#,
            riskflow::clock::rfc3339_of_ms(at)
        )
    };
    // Up to five minutes ahead is clock skew, and the time is kept as sent.
    let at = NOW_MS + 300_000;
    let d = generic::parse(body(at).as_bytes(), "m", NOW_SECS, NOW_MS).unwrap();
    assert_eq!(d.event_time, at);
    // Beyond it, the delivery is refused: a future time would outrank every later fact.
    let err = generic::parse(body(NOW_MS + 301_000).as_bytes(), "m", NOW_SECS, NOW_MS)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "'occurred_at' is 301 s in the future; an HR fact's time may be at most 300 s ahead of now"
    );
    let err = generic::parse(
        body(NOW_MS + 400 * 86_400_000).as_bytes(),
        "m",
        NOW_SECS,
        NOW_MS,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("'occurred_at' is 34560000 s in the future"),
        "{err}"
    );
    // Without occurred_at the event time is the webhook timestamp, under the same rule.
    let cancel = br#"{"event_type":"cancellation","email":"a@b.co"}"#;
    let err = generic::parse(cancel, "m", NOW_SECS + 3_600, NOW_MS)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("'webhook-timestamp' is 3600 s in the future"),
        "{err}"
    );
}

#[test]
fn every_malformed_generic_body_gets_a_message_naming_the_field() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"event_type":"departure","email":"a@b.co","departure_date":"31/03/2026"}"#,
            "'departure_date' must be YYYY-MM-DD, got '31/03/2026'",
        ),
        (
            r#"{"event_type":"hired","email":"a@b.co"}"#,
            "unknown event_type 'hired' (expected departure or cancellation)",
        ),
        (
            r#"{"event_type":"departure","email":"bob","departure_date":"2026-03-31"}"#,
            "'email' is not an email address, got 'bob'",
        ),
        (
            r#"{"event_type":"departure","departure_date":"2026-03-31"}"#,
            "'email' is missing",
        ),
        (r#"{"email":"a@b.co"}"#, "'event_type' is missing"),
        (
            r#"{"event_type":"departure","email":"a@b.co"}"#,
            "'departure_date' is required for a departure (YYYY-MM-DD)",
        ),
        (
            r#"{"event_type":"departure","email":"a@b.co","departure_date":"2026-03-31T00:00:00Z"}"#,
            "'departure_date' must be YYYY-MM-DD, got '2026-03-31T00:00:00Z'",
        ),
        (
            r#"{"event_type":"cancellation","email":"a@b.co","occurred_at":"yesterday"}"#,
            "'occurred_at' must be an RFC 3339 date-time such as 2026-03-01T09:30:00Z, got 'yesterday'",
        ),
        (
            r#"{"event_type":"cancellation","email":42}"#,
            "'email' must be a string",
        ),
        (
            r#"{"event_type":"cancellation","email":"a@b.co","employee_id":[1]}"#,
            "'employee_id' must be a string, got a list",
        ),
        (r#"[1,2]"#, "the body must be a JSON object"),
    ];
    for (body, want) in cases {
        let err = generic::parse(body.as_bytes(), "m", NOW_SECS, NOW_MS).unwrap_err();
        assert_eq!(err.to_string(), *want, "{body}");
    }
    let err = generic::parse(b"not json", "m", NOW_SECS, NOW_MS).unwrap_err();
    assert!(
        err.to_string().starts_with("the body is not JSON ("),
        "{err}"
    );
}

// =============================================================================================
// BambooHR payloads and the departure rule

#[test]
fn the_bamboohr_event_based_sample_parses_to_one_change() {
    let changes = bamboohr::parse_payload(BAMBOO_EVENT_SAMPLE.as_bytes()).unwrap();
    assert_eq!(
        changes,
        vec![BambooChange {
            employee_id: "67890".into(),
            event_type: "employee.updated".into(),
            timestamp: "2026-01-31T18:42:00+0000".into(),
            changed_fields: vec!["status".into()],
            fields: BTreeMap::new(),
        }]
    );
}

#[test]
fn a_form_encoded_bamboohr_event_parses_like_the_json_one() {
    let json = &bamboohr::parse_payload(BAMBOO_EVENT_SAMPLE.as_bytes()).unwrap()[0];
    for form in [
        "type=employee.updated&timestamp=2026-01-31T18%3A42%3A00%2B0000&data%5BcompanyId%5D=12345&data%5BemployeeId%5D=67890&data%5BchangedFields%5D%5B%5D=status",
        "type=employee.updated&timestamp=2026-01-31T18%3A42%3A00%2B0000&data[employeeId]=67890&data[changedFields][0]=status",
        "type=employee.updated&timestamp=2026-01-31T18%3A42%3A00%2B0000&employeeId=67890&changedFields=status",
    ] {
        let changes = bamboohr::parse_payload(form.as_bytes()).unwrap();
        assert_eq!(&changes[0], json, "{form}");
        assert_eq!(changes[0].dedup_key(), json.dedup_key());
    }
    let wrapped = format!(
        "payload={}",
        url::form_urlencoded::byte_serialize(BAMBOO_EVENT_SAMPLE.as_bytes()).collect::<String>()
    );
    assert_eq!(
        &bamboohr::parse_payload(wrapped.as_bytes()).unwrap()[0],
        json
    );
}

#[test]
fn the_bamboohr_field_based_sample_parses_with_its_values() {
    let changes = bamboohr::parse_payload(BAMBOO_FIELDS_SAMPLE.as_bytes()).unwrap();
    assert_eq!(changes.len(), 1);
    let c = &changes[0];
    assert_eq!(c.employee_id, "5");
    assert_eq!(c.event_type, "employee_with_fields.updated");
    assert_eq!(c.changed_fields, vec!["jobTitle".to_string()]);
    assert_eq!(
        c.fields.get("workEmail").map(String::as_str),
        Some("Jane.Doe@Example.com")
    );
    assert!(
        !c.may_concern_departure(),
        "a job-title change is not about leaving"
    );
}

#[test]
fn every_malformed_bamboohr_payload_gets_a_message_naming_the_field() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"type":"employee.updated","timestamp":"t","data":{"companyId":"1"}}"#,
            "BambooHR payload: 'data.employeeId' is missing",
        ),
        (
            r#"{"type":"employee.updated","timestamp":"t"}"#,
            "BambooHR payload: 'data' is missing",
        ),
        (
            r#"{"timestamp":"t","data":{"employeeId":"1"}}"#,
            "BambooHR payload: 'type' is missing",
        ),
        (
            r#"{"type":"employee.updated","data":{"employeeId":"1"}}"#,
            "BambooHR payload: 'timestamp' is missing",
        ),
        (
            r#"{"type":"employee.updated","timestamp":"t","data":{"employeeId":"1","changedFields":[1]}}"#,
            "BambooHR payload: 'data.changedFields' must be a list of field names",
        ),
        (
            r#"{"type":"employee.updated","timestamp":"t","data":{"employeeId":{"x":1}}}"#,
            "BambooHR payload: 'data.employeeId' must be an id, got an object",
        ),
        (
            r#"{"employees":{}}"#,
            "BambooHR payload: 'employees' must be a list",
        ),
        (
            r#"{"employees":[{"action":"Updated","timestamp":"t"}]}"#,
            "BambooHR payload: 'employees[0].id' is missing",
        ),
        (
            r#"{"employees":[{"id":1,"timestamp":"t","fields":{"workEmail":{"value":[1]}}}]}"#,
            "BambooHR payload: 'employees[0].fields.workEmail' must be a single value",
        ),
        (
            r#"{"hello":"world"}"#,
            "BambooHR payload: expected an event-based body ('type', 'timestamp', 'data') or a field-based body ('employees')",
        ),
        ("", "BambooHR payload: the body is empty"),
        (
            "a=b&c=d",
            "BambooHR payload: the body is neither JSON nor a form-encoded event (no 'type', 'timestamp' or 'data[employeeId]' field)",
        ),
    ];
    for (body, want) in cases {
        let err = bamboohr::parse_payload(body.as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), *want, "{body}");
    }
    let err = bamboohr::parse_payload(b"{not json").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("BambooHR payload: the body is not valid JSON ("),
        "{err}"
    );
}

#[test]
fn the_bamboohr_dedup_key_is_stable_and_changes_with_each_part() {
    let base = bamboohr::parse_payload(BAMBOO_EVENT_SAMPLE.as_bytes())
        .unwrap()
        .remove(0);
    let key = base.dedup_key();
    assert_eq!(key.len(), 64);
    let mut reordered = base.clone();
    reordered.changed_fields = vec!["status".into()];
    assert_eq!(reordered.dedup_key(), key);
    for change in [
        BambooChange {
            employee_id: "67891".into(),
            ..base.clone()
        },
        BambooChange {
            event_type: "employee.created".into(),
            ..base.clone()
        },
        BambooChange {
            timestamp: "2026-01-31T18:42:01+0000".into(),
            ..base.clone()
        },
        BambooChange {
            changed_fields: vec!["status".into(), "terminationDate".into()],
            ..base.clone()
        },
    ] {
        assert_ne!(change.dedup_key(), key, "{change:?}");
    }
}

fn employee(status: Option<&str>, date: Option<&str>) -> Employee {
    Employee::from_json(
        "67890",
        &json!({"id": 67890, "workEmail": "Jane.Doe@example.com", "status": status, "terminationDate": date}),
    )
    .unwrap()
}

#[test]
fn a_bamboohr_delivery_is_dated_by_its_timestamp_header_and_refused_when_it_is_in_the_future() {
    let headers = |ts: &str| {
        let mut h = http::HeaderMap::new();
        h.insert("X-BambooHR-Timestamp", ts.parse().unwrap());
        h
    };
    // The header, not the body's own timestamp, whatever the body says.
    assert_eq!(
        bamboohr::event_time(&headers("2026-03-01T11:59:00Z"), NOW_MS),
        Ok(NOW_MS - 60_000)
    );
    assert_eq!(
        bamboohr::event_time(&headers(&(NOW_SECS + 300).to_string()), NOW_MS),
        Ok(NOW_MS + 300_000),
        "five minutes ahead is clock skew"
    );
    assert_eq!(
        bamboohr::event_time(&headers("2026-03-01T13:00:00Z"), NOW_MS)
            .unwrap_err()
            .to_string(),
        "'X-BambooHR-Timestamp' is 3600 s in the future; an HR fact's time may be at most 300 s ahead of now"
    );
    assert_eq!(
        bamboohr::event_time(&http::HeaderMap::new(), NOW_MS)
            .unwrap_err()
            .to_string(),
        "'X-BambooHR-Timestamp' is missing"
    );
}

/// When the sample BambooHR delivery was sent (its `X-BambooHR-Timestamp`), 2026-01-31T18:42Z.
const SENT_MS: i64 = 1_769_884_920_000;

#[test]
fn bamboohr_inactive_or_a_pending_termination_date_is_a_departure_and_active_is_a_cancellation() {
    let change = bamboohr::parse_payload(BAMBOO_EVENT_SAMPLE.as_bytes())
        .unwrap()
        .remove(0);
    // NOW is 2026-03-01.
    let d = bamboohr::to_departure(
        &change,
        &employee(Some("Inactive"), Some("2026-02-27")),
        SENT_MS,
        NOW_MS,
    )
    .unwrap()
    .unwrap();
    assert_eq!(d.kind, HrEventKind::Departure);
    assert_eq!(d.source, HrSource::Bamboohr);
    assert_eq!(d.email, "jane.doe@example.com");
    assert_eq!(d.departure_date, Some(day("2026-02-27")));
    assert_eq!(d.source_event_id, change.dedup_key());
    assert_eq!(d.event_time, SENT_MS);
    assert_eq!(d.employee_id.as_deref(), Some("67890"));

    // Inactive with no date: the change's own date.
    let d = bamboohr::to_departure(
        &change,
        &employee(Some("Inactive"), Some("0000-00-00")),
        SENT_MS,
        NOW_MS,
    )
    .unwrap()
    .unwrap();
    assert_eq!(d.departure_date, Some(day("2026-01-31")));

    // Future-dated termination, still Active: a departure on that date.
    let d = bamboohr::to_departure(
        &change,
        &employee(Some("Active"), Some("2026-03-20")),
        SENT_MS,
        NOW_MS,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (d.kind, d.departure_date.map(|d| d.to_string()).as_deref()),
        (HrEventKind::Departure, Some("2026-03-20"))
    );

    // Active again with the date cleared, or only an old date: a cancellation.
    for date in [None, Some(""), Some("2020-01-01")] {
        let d = bamboohr::to_departure(&change, &employee(Some("Active"), date), SENT_MS, NOW_MS)
            .unwrap()
            .unwrap();
        assert_eq!(
            (d.kind, d.departure_date),
            (HrEventKind::Cancellation, None),
            "{date:?}"
        );
    }

    // No status and no date: nothing to say.
    assert_eq!(
        bamboohr::to_departure(&change, &employee(None, None), SENT_MS, NOW_MS).unwrap(),
        None
    );
}

#[test]
fn bamboohr_changes_to_unrelated_fields_and_deletions_are_not_departures() {
    let mut change = bamboohr::parse_payload(BAMBOO_EVENT_SAMPLE.as_bytes())
        .unwrap()
        .remove(0);
    change.changed_fields = vec!["jobTitle".into()];
    assert_eq!(
        bamboohr::to_departure(&change, &employee(Some("Inactive"), None), SENT_MS, NOW_MS)
            .unwrap(),
        None
    );
    change.changed_fields = vec!["employmentHistoryStatus".into()];
    assert!(
        bamboohr::to_departure(&change, &employee(Some("Inactive"), None), SENT_MS, NOW_MS)
            .unwrap()
            .is_some()
    );
    change.event_type = "employee.deleted".into();
    assert_eq!(
        bamboohr::to_departure(&change, &employee(Some("Inactive"), None), SENT_MS, NOW_MS)
            .unwrap(),
        None
    );
}

#[test]
fn a_bamboohr_departure_without_a_work_email_is_an_error_that_names_the_employee() {
    let change = bamboohr::parse_payload(BAMBOO_EVENT_SAMPLE.as_bytes())
        .unwrap()
        .remove(0);
    let e = Employee::from_json(
        "67890",
        &json!({"id":"67890","workEmail":null,"status":"Inactive"}),
    )
    .unwrap();
    let err = bamboohr::to_departure(&change, &e, SENT_MS, NOW_MS).unwrap_err();
    assert_eq!(
        err.to_string(),
        "BambooHR employee '67890' has no work email, so riskflow cannot act on them"
    );
}

#[test]
fn a_field_based_change_with_email_and_status_needs_no_api_call() {
    let body = br#"{"employees":[{"id":"7","action":"Updated","timestamp":"2026-02-01T00:00:00Z","changedFields":["status"],
        "fields":{"workEmail":{"value":"X@Example.com"},"status":{"value":"Inactive"},"terminationDate":{"value":"2026-02-01"}}}]}"#;
    let change = bamboohr::parse_payload(body).unwrap().remove(0);
    let e = change.employee_from_fields().unwrap();
    assert_eq!(e.work_email.as_deref(), Some("x@example.com"));
    let d = bamboohr::to_departure(&change, &e, SENT_MS, NOW_MS)
        .unwrap()
        .unwrap();
    assert_eq!(d.departure_date, Some(day("2026-02-01")));
    // Without a status or date the API must be asked.
    let sample = bamboohr::parse_payload(BAMBOO_FIELDS_SAMPLE.as_bytes())
        .unwrap()
        .remove(0);
    assert_eq!(sample.employee_from_fields(), None);
}

// =============================================================================================
// ADP events and workers

#[test]
fn the_adp_worker_terminate_sample_parses_to_a_termination() {
    let ev = adp::parse_event(ADP_TERMINATE_SAMPLE).unwrap();
    assert_eq!(ev.event_id, "f0be1d5b-1077-4f2f-ade9-e95a62165131");
    assert_eq!(ev.name, "worker.terminate");
    assert_eq!(ev.associate_oid, "G3KXNKXW8VT5Q5M0");
    assert_eq!(
        ev.termination_date.map(|d| d.to_string()).as_deref(),
        Some("2019-05-27")
    );
    assert_eq!(ev.event_time_ms, 1_559_303_483_122);
    assert!(ev.is_termination);
    assert_eq!(ev.reason.as_deref(), Some("Attendance"));
}

#[test]
fn the_adp_terminate_date_change_sample_reads_the_new_date_from_transform() {
    let ev = adp::parse_event(ADP_TERMINATE_DATE_CHANGE_SAMPLE).unwrap();
    assert!(ev.is_termination);
    assert_eq!(ev.associate_oid, "G4O73G9Z62SL2NFM");
    assert_eq!(
        ev.termination_date.map(|d| d.to_string()).as_deref(),
        Some("2014-01-15")
    );
    assert_eq!(ev.event_time_ms, 1_388_534_400_000);
}

#[test]
fn an_adp_termination_without_worker_dates_falls_back_to_the_status_and_event_dates() {
    // RUN's terminate sample: only workerStatus.effectiveDate (as a date-time).
    let run = r#"{"events":[{"eventID":"41f2","eventNameCode":{"codeValue":"worker.terminate"},
        "creationDateTime":"2020-08-25T19:56:10.000Z","effectiveDateTime":"2018-10-25T00:00:00.000Z",
        "data":{"output":{"worker":{"associateOID":"G318","workerStatus":{"statusCode":{"codeValue":"T"},
        "effectiveDate":"2018-10-25T00:00:00.000Z"}}}}}]}"#;
    let ev = adp::parse_event(run).unwrap();
    assert_eq!(
        ev.termination_date.map(|d| d.to_string()).as_deref(),
        Some("2018-10-25")
    );
    assert_eq!(ev.event_time_ms, 1_598_385_370_000);
    // Nothing but the event's effectiveDateTime.
    let bare = r#"{"events":[{"eventID":"e","eventNameCode":{"codeValue":"worker.work-assignment.terminate"},
        "recordDateTime":"2026-01-05T11:51:23Z","effectiveDateTime":"2026-02-27T04:00:00.000+0000",
        "data":{"eventContext":{"worker":{"associateOID":"AOID1"}}}}]}"#;
    let ev = adp::parse_event(bare).unwrap();
    assert_eq!(
        (
            ev.associate_oid.as_str(),
            ev.termination_date.map(|d| d.to_string()).as_deref()
        ),
        ("AOID1", Some("2026-02-27"))
    );
}

#[test]
fn the_underscore_prefixed_adp_envelope_is_read_too() {
    for wrap in [false, true] {
        let ev = json!({
            "_eventID": "ng-1",
            "_eventNameCode": {"codeValue": "worker.terminate"},
            "_recordDateTime": "2026-01-05T11:51:23.122Z",
            "_subjects": [{"associateOID": "G3NEXTGEN", "workerID": {"id": "W1"}, "workAssignmentID": "A1"}],
            "_output": {"worker": {"workerDates": {"terminationDate": "2026-02-28"}}}
        });
        let body = if wrap { json!({"events": [ev]}) } else { ev };
        let parsed = adp::parse_event(&body.to_string()).unwrap();
        assert_eq!(parsed.event_id, "ng-1");
        assert_eq!(parsed.associate_oid, "G3NEXTGEN");
        assert_eq!(
            parsed.termination_date.map(|d| d.to_string()).as_deref(),
            Some("2026-02-28")
        );
        assert_eq!(parsed.event_time_ms, 1_767_613_883_122);
        assert!(parsed.is_termination);
    }
}

#[test]
fn other_adp_events_parse_but_are_not_terminations() {
    let ev = adp::parse_event(
        r#"{"events":[{"eventID":"10045","eventNameCode":{"codeValue":"worker.work-assignment.additional-remuneration.add"},
        "recordDateTime":"2019-05-15T08:37:17Z","data":{"eventContext":{"worker":{"associateOID":""}},
        "output":{"worker":{"associateOID":"G5"}}}}]}"#,
    )
    .unwrap();
    assert!(!ev.is_termination);
    assert_eq!(ev.associate_oid, "G5", "an empty associateOID is skipped");
    assert_eq!(ev.termination_date, None);
    for name in adp::TERMINATION_EVENTS {
        let body = json!({"events":[{"eventID":"x","eventNameCode":{"codeValue":name.to_uppercase()},
            "recordDateTime":"2026-01-01T00:00:00Z","data":{"eventContext":{"worker":{"associateOID":"A"}}}}]});
        assert!(
            adp::parse_event(&body.to_string()).unwrap().is_termination,
            "{name}"
        );
    }
}

#[test]
fn every_malformed_adp_message_gets_a_message_naming_the_field() {
    let cases: &[(&str, &str)] = &[
        (r#"{"events":[]}"#, "ADP message: 'events' is empty"),
        (r#"{"events":{}}"#, "ADP message: 'events' is not a list"),
        (
            r#"{"events":[1]}"#,
            "ADP message: 'events[0]' is not an object",
        ),
        (
            r#"{"hello":1}"#,
            "ADP message: not an ADP event notification (no 'events' list and no '_eventID')",
        ),
        (
            r#"{"events":[{"eventNameCode":{"codeValue":"worker.terminate"}}]}"#,
            "ADP message: 'eventID' is missing",
        ),
        (
            r#"{"events":[{"eventID":"e1"}]}"#,
            "ADP message: event 'e1' has no 'eventNameCode.codeValue'",
        ),
        (
            r#"{"events":[{"eventID":"e1","eventNameCode":{"codeValue":"worker.terminate"},"recordDateTime":"2026-01-01T00:00:00Z"}]}"#,
            "ADP message: event 'e1' (worker.terminate) names no worker (no associateOID)",
        ),
        (
            r#"{"events":[{"eventID":"e1","eventNameCode":{"codeValue":"worker.terminate"},"data":{"output":{"worker":{"associateOID":"A","workerDates":{"terminationDate":"05/27/2019"}}}},"recordDateTime":"2026-01-01T00:00:00Z"}]}"#,
            "ADP message: event 'e1': 'workerDates.terminationDate': expected a date as YYYY-MM-DD or an ISO 8601 date-time, got '05/27/2019'",
        ),
        (
            r#"{"events":[{"eventID":"e1","eventNameCode":{"codeValue":"worker.hire"},"data":{"output":{"worker":{"associateOID":"A"}}}}]}"#,
            "ADP message: event 'e1' has no readable 'recordDateTime' or 'creationDateTime'",
        ),
        ("[]", "ADP message: the body is not a JSON object"),
    ];
    for (raw, want) in cases {
        assert_eq!(
            adp::parse_event(raw).unwrap_err().to_string(),
            *want,
            "{raw}"
        );
    }
    assert!(
        adp::parse_event("<xml/>")
            .unwrap_err()
            .to_string()
            .starts_with("ADP message: the body is not JSON (")
    );
}

#[test]
fn the_adp_worker_email_is_the_business_one_never_the_personal_one() {
    let v = json!({"workers":[{"associateOID":"G3WP",
        "person":{"communication":{"emails":[{"nameCode":{"codeValue":"Personal"},"emailUri":"me@home.example"}]}},
        "businessCommunication":{"emails":[
            {"nameCode":{"codeValue":"Other"},"emailUri":"other@corp.example"},
            {"nameCode":{"codeValue":"Business"},"emailUri":"Pocket.Pauline@Corp.Example"}]},
        "workerDates":{"terminationDate":"2020-07-06"},
        "workerStatus":{"statusCode":{"codeValue":"T"}}}]});
    let w = adp::Worker::from_response("G3WP", &v).unwrap();
    assert_eq!(
        w.business_email.as_deref(),
        Some("pocket.pauline@corp.example")
    );
    assert_eq!(
        w.termination_date.map(|d| d.to_string()).as_deref(),
        Some("2020-07-06")
    );
    assert!(w.is_terminated());

    let first_only = json!({"workers":[{"businessCommunication":{"emails":[{"emailUri":"first@corp.example"}]}}]});
    let w = adp::Worker::from_response("X", &first_only).unwrap();
    assert_eq!(
        (w.associate_oid.as_str(), w.business_email.as_deref()),
        ("X", Some("first@corp.example"))
    );

    let personal_only = json!({"workers":[{"person":{"communication":{"emails":[{"emailUri":"me@home.example"}]}}}]});
    assert_eq!(
        adp::Worker::from_response("X", &personal_only)
            .unwrap()
            .business_email,
        None
    );

    assert_eq!(
        adp::Worker::from_response("X", &json!({"workers":[]})).unwrap_err(),
        "ADP returned no worker for 'X'"
    );
}

#[test]
fn an_adp_termination_and_its_worker_make_a_departure() {
    let ev = adp::parse_event(ADP_TERMINATE_SAMPLE).unwrap();
    let worker = adp::Worker {
        associate_oid: "G3KXNKXW8VT5Q5M0".into(),
        business_email: Some("jdoe@example.com".into()),
        termination_date: None,
        status_code: Some("T".into()),
    };
    let d = ev.to_departure(&worker).unwrap();
    assert_eq!(
        d,
        Departure {
            source: HrSource::Adp,
            kind: HrEventKind::Departure,
            source_event_id: "f0be1d5b-1077-4f2f-ade9-e95a62165131".into(),
            event_time: 1_559_303_483_122,
            email: "jdoe@example.com".into(),
            employee_id: Some("G3KXNKXW8VT5Q5M0".into()),
            departure_date: Some(day("2019-05-27")),
            reason: Some("Attendance".into()),
        }
    );
    let no_email = adp::Worker {
        business_email: None,
        ..worker
    };
    assert_eq!(
        ev.to_departure(&no_email).unwrap_err().to_string(),
        "ADP message: worker 'G3KXNKXW8VT5Q5M0' has no business email, so riskflow cannot act on them"
    );
}

// =============================================================================================
// Workday rows, mapping and snapshots

fn row(id: &str, email: &str, date: &str) -> WorkdayRow {
    WorkdayRow {
        employee_id: id.into(),
        email: email.into(),
        termination_date: day(date),
        last_day: None,
        event_id: None,
        reason: None,
    }
}

#[test]
fn the_workday_sample_row_maps_with_the_default_columns() {
    let rows = workday::parse_report(WORKDAY_SAMPLE.as_bytes(), &FieldMapping::default()).unwrap();
    assert_eq!(
        rows,
        vec![WorkdayRow {
            employee_id: "21004".into(),
            email: "jdoe@example.com".into(),
            termination_date: day("2026-03-31"),
            last_day: Some(day("2026-03-28")),
            event_id: Some("9f1c...".into()),
            reason: Some("Resignation".into()),
        }]
    );
    let d = rows[0].to_departure(NOW_MS);
    assert_eq!(d.source, HrSource::Workday);
    assert_eq!(d.kind, HrEventKind::Departure);
    assert_eq!(d.source_event_id, "9f1c...");
    assert_eq!(d.departure_date, Some(day("2026-03-31")));
    assert_eq!(d.event_time, NOW_MS);
    assert_eq!(
        row("7", "a@b.co", "2026-04-01")
            .to_departure(1)
            .source_event_id,
        "7:2026-04-01"
    );
}

#[test]
fn a_missing_mapped_workday_column_names_the_column_the_mapping_and_the_row() {
    let body = json!({"Report_Entry":[
        {"Employee_ID":"1","Email_-_Work":"a@b.co","Termination_Date":"2026-03-31"},
        {"Employee_ID":"2","Email_-_Work":"c@d.co","Termination_Date":"2026-03-31"},
        {"Employee_ID":"3","Termination_Date":"2026-03-31"}]});
    let err =
        workday::parse_report(body.to_string().as_bytes(), &FieldMapping::default()).unwrap_err();
    assert!(matches!(
        err,
        ConnectorError::Invalid {
            system: "workday",
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "workday: Workday report row 3 has no column 'Email_-_Work' (mapped as email); check the field mapping"
    );
}

#[test]
fn bad_workday_values_are_refused_with_the_row_and_column() {
    let m = FieldMapping::default();
    let cases = [
        (
            json!({"Employee_ID":"1","Email_-_Work":"nobody","Termination_Date":"2026-03-31"}),
            "workday: Workday report row 1: column 'Email_-_Work' (mapped as email) is not an email address, got 'nobody'",
        ),
        (
            json!({"Employee_ID":"1","Email_-_Work":"a@b.co","Termination_Date":"03/31/2026"}),
            "workday: Workday report row 1: column 'Termination_Date' (mapped as termination_date): expected a date as YYYY-MM-DD or an ISO 8601 date-time, got '03/31/2026'",
        ),
        (
            json!({"Employee_ID":["1"],"Email_-_Work":"a@b.co","Termination_Date":"2026-03-31"}),
            "workday: Workday report row 1: column 'Employee_ID' (mapped as employee_id) is not a single value; make it a single-instance field in the report",
        ),
        (
            json!({"Employee_ID":"","Email_-_Work":"a@b.co","Termination_Date":"2026-03-31"}),
            "workday: Workday report row 1 has no column 'Employee_ID' (mapped as employee_id); check the field mapping",
        ),
    ];
    for (entry, want) in cases {
        let body = json!({"Report_Entry": [entry]}).to_string();
        assert_eq!(
            workday::parse_report(body.as_bytes(), &m)
                .unwrap_err()
                .to_string(),
            want
        );
    }
    assert_eq!(
        workday::parse_report(b"{\"Report_Data\":[]}", &m)
            .unwrap_err()
            .to_string(),
        "workday: the Workday answer has no 'Report_Entry' list; is the URL a RaaS report (customreport2) enabled as a web service?"
    );
}

#[test]
fn a_workday_answer_is_read_row_by_row_and_an_object_without_report_entry_reads_as_empty() {
    let m = FieldMapping::default();
    let body = json!({"Report_Entry":[
        {"Employee_ID":"1","Email_-_Work":"a@b.co","Termination_Date":"2026-03-31"},
        {"Employee_ID":"2","Email_-_Work":"nobody","Termination_Date":"2026-03-31"},
        "not a row",
        {"Email_-_Work":"c@d.co","Termination_Date":"2026-03-31"},
        {"Employee_ID":"5","Email_-_Work":"e@f.co","Termination_Date":"2026-04-30"}]});
    let read = workday::read_report(body.to_string().as_bytes(), &m).unwrap();
    let ids: Vec<&str> = read.rows.iter().map(|r| r.employee_id.as_str()).collect();
    assert_eq!(ids, ["1", "5"]);
    let problems: Vec<(usize, Option<&str>)> = read
        .problems
        .iter()
        .map(|p| (p.row, p.employee_id.as_deref()))
        .collect();
    assert_eq!(problems, [(2, Some("2")), (3, None), (4, None)]);
    assert_eq!(
        read.problems[0].problem,
        "Workday report row 2: column 'Email_-_Work' (mapped as email) is not an email address, got 'nobody'"
    );
    assert_eq!(read.without_report_entry, None);

    // Workday answers `{}` for a report without rows: empty, and said so.
    let read = workday::read_report(b"{}", &m).unwrap();
    assert!(read.rows.is_empty() && read.problems.is_empty());
    assert_eq!(read.without_report_entry, Some(vec![]));
    assert_eq!(workday::parse_report(b"{}", &m).unwrap(), vec![]);
    // Not an object, or a `Report_Entry` that is not a list: the answer as a whole is refused.
    for bad in [&b"[]"[..], b"\"x\"", b"{\"Report_Entry\":{}}"] {
        assert!(workday::read_report(bad, &m).is_err());
    }
}

#[test]
fn workday_numbers_and_iso_datetimes_are_accepted_and_optional_columns_may_be_absent() {
    let body = json!({"Report_Entry":[{"Employee_ID":21004,"Email_-_Work":" JDoe@Example.com ",
        "Termination_Date":"2026-03-31-07:00","Last_Day_of_Work":"2026-03-28T00:00:00.000Z"}]});
    let rows =
        workday::parse_report(body.to_string().as_bytes(), &FieldMapping::default()).unwrap();
    assert_eq!(rows[0].employee_id, "21004");
    assert_eq!(rows[0].email, "jdoe@example.com");
    assert_eq!(rows[0].termination_date, day("2026-03-31"));
    assert_eq!(
        rows[0].last_day.map(|d| d.to_string()).as_deref(),
        Some("2026-03-28")
    );
    assert_eq!(
        (rows[0].event_id.clone(), rows[0].reason.clone()),
        (None, None)
    );
}

#[test]
fn the_workday_field_mapping_comes_from_settings_with_defaults_and_refuses_typos() {
    let mut settings = BTreeMap::new();
    assert_eq!(
        FieldMapping::from_settings(&settings).unwrap(),
        FieldMapping::default()
    );
    settings.insert(
        "field_mapping".to_string(),
        json!({"email":"Work_Email","employee_id":"Worker_ID","event_id":null,"reason":""}),
    );
    let m = FieldMapping::from_settings(&settings).unwrap();
    assert_eq!(m.email, "Work_Email");
    assert_eq!(m.employee_id, "Worker_ID");
    assert_eq!(m.termination_date, "Termination_Date");
    assert_eq!(
        m.last_day.map(|d| d.to_string()).as_deref(),
        Some("Last_Day_of_Work")
    );
    assert_eq!((m.event_id, m.reason), (None, None));
    let body = json!({"Report_Entry":[{"Worker_ID":"9","Work_Email":"w@x.co","Termination_Date":"2026-04-01",
        "Business_Process_Event_WID":"ignored now"}]});
    let rows = workday::parse_report(
        body.to_string().as_bytes(),
        &FieldMapping::from_settings(&settings).unwrap(),
    )
    .unwrap();
    assert_eq!(rows[0].event_key(), "9:2026-04-01");

    settings.insert("field_mapping".to_string(), json!({"emial":"X"}));
    assert_eq!(
        FieldMapping::from_settings(&settings)
            .unwrap_err()
            .to_string(),
        "workday: setting 'field_mapping' has an unknown key 'emial' (expected email, termination_date, last_day, employee_id, event_id, reason)"
    );
    settings.insert("field_mapping".to_string(), json!({"email":""}));
    assert_eq!(
        FieldMapping::from_settings(&settings)
            .unwrap_err()
            .to_string(),
        "workday: setting 'field_mapping.email' is required and cannot be empty"
    );
    settings.insert("field_mapping".to_string(), json!({"email":3}));
    assert!(FieldMapping::from_settings(&settings).is_err());
}

#[test]
fn workday_snapshots_yield_new_and_changed_rows_as_departures_and_early_vanishing_as_cancellations()
{
    let today = day("2026-03-01");
    let previous = vec![
        row("1", "same@x.co", "2026-03-31"),
        row("2", "moved@x.co", "2026-03-15"),
        row("3", "rescinded@x.co", "2026-04-30"),
        row("4", "left@x.co", "2026-02-28"),
        row("5", "today@x.co", "2026-03-01"),
    ];
    let current = vec![
        row("1", "same@x.co", "2026-03-31"),
        row("2", "moved@x.co", "2026-03-20"),
        row("6", "new@x.co", "2026-05-01"),
    ];
    let out = workday::diff_snapshots(&previous, &current, today, NOW_MS);
    let summary: Vec<(HrEventKind, &str, Option<Date>, &str)> = out
        .iter()
        .map(|d| {
            (
                d.kind,
                d.email.as_str(),
                d.departure_date,
                d.source_event_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                HrEventKind::Departure,
                "moved@x.co",
                Some(day("2026-03-20")),
                "2:2026-03-20"
            ),
            (
                HrEventKind::Departure,
                "new@x.co",
                Some(day("2026-05-01")),
                "6:2026-05-01"
            ),
            (
                HrEventKind::Cancellation,
                "rescinded@x.co",
                None,
                "3:2026-04-30:cancelled"
            ),
        ]
    );
    assert!(
        out.iter()
            .all(|d| d.event_time == NOW_MS && d.source == HrSource::Workday)
    );
    // The first pull: everything is new; an identical pull: nothing.
    assert_eq!(
        workday::diff_snapshots(&[], &current, today, NOW_MS).len(),
        3
    );
    assert!(workday::diff_snapshots(&current, &current, today, NOW_MS).is_empty());
}

#[test]
fn workday_rows_round_trip_through_json_for_snapshot_storage() {
    let rows = workday::parse_report(WORKDAY_SAMPLE.as_bytes(), &FieldMapping::default()).unwrap();
    let stored = serde_json::to_value(&rows).unwrap();
    let back: Vec<WorkdayRow> = serde_json::from_value(stored).unwrap();
    assert_eq!(back, rows);
}

// =============================================================================================
// Property tests: nothing panics, every refusal says something

fn json_ish() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("type".to_string()),
        Just("timestamp".to_string()),
        Just("data".to_string()),
        Just("employeeId".to_string()),
        Just("changedFields".to_string()),
        Just("employees".to_string()),
        Just("id".to_string()),
        Just("fields".to_string()),
        Just("value".to_string()),
        Just("event_type".to_string()),
        Just("email".to_string()),
        Just("departure_date".to_string()),
        Just("occurred_at".to_string()),
        Just("employee_id".to_string()),
        Just("events".to_string()),
        Just("eventID".to_string()),
        Just("_eventID".to_string()),
        Just("eventNameCode".to_string()),
        Just("codeValue".to_string()),
        Just("output".to_string()),
        Just("worker".to_string()),
        Just("associateOID".to_string()),
        Just("workerDates".to_string()),
        Just("terminationDate".to_string()),
        Just("_subjects".to_string()),
        Just("recordDateTime".to_string()),
        Just("Report_Entry".to_string()),
        Just("Email_-_Work".to_string()),
        Just("Termination_Date".to_string()),
        Just("Employee_ID".to_string()),
        "[a-zA-Z_]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!("departure")),
        Just(json!("cancellation")),
        Just(json!("worker.terminate")),
        Just(json!("2026-03-31")),
        Just(json!("2019-05-27T04:00:00.000+0000")),
        Just(json!("a@b.co")),
        Just(json!("employee.updated")),
        Just(json!("")),
        ".{0,24}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn assert_refusal_says_something<T, E: std::fmt::Display>(
    r: Result<T, E>,
) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        prop_assert!(!e.to_string().trim().is_empty());
    }
    Ok(())
}

fn parse_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    assert_refusal_says_something(bamboohr::parse_payload(bytes))?;
    assert_refusal_says_something(generic::parse(bytes, "m", NOW_SECS, NOW_MS))?;
    assert_refusal_says_something(adp::parse_event(&String::from_utf8_lossy(bytes)))?;
    assert_refusal_says_something(workday::parse_report(bytes, &FieldMapping::default()))?;
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        assert_refusal_says_something(adp::Worker::from_response("X", &v))?;
        assert_refusal_says_something(Employee::from_json("X", &v))?;
        if let Some(obj) = v.as_object() {
            assert_refusal_says_something(WorkdayRow::from_entry(
                0,
                obj,
                &FieldMapping::default(),
            ))?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_parser_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        parse_all(&bytes)?;
    }

    #[test]
    fn no_parser_panics_on_arbitrary_json_ish_documents(doc in json_ish()) {
        parse_all(doc.to_string().as_bytes())?;
        // The same document wrapped the way each format nests it.
        parse_all(json!({"events": [doc.clone()]}).to_string().as_bytes())?;
        parse_all(json!({"Report_Entry": [doc.clone()]}).to_string().as_bytes())?;
        parse_all(json!({"employees": [doc.clone()]}).to_string().as_bytes())?;
        parse_all(json!({"type": "employee.updated", "timestamp": "t", "data": doc}).to_string().as_bytes())?;
    }

    #[test]
    fn no_parser_panics_on_form_encoded_noise(pairs in prop::collection::vec(("[a-zA-Z\\[\\]._]{0,20}", ".{0,20}"), 0..6)) {
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        parse_all(body.as_bytes())?;
    }

    #[test]
    fn the_signature_verifiers_never_panic_and_always_explain_a_refusal(
        id in ".{0,40}",
        ts in prop_oneof![".{0,20}", any::<i64>().prop_map(|n| n.to_string())],
        sig in prop_oneof![".{0,120}", "[0-9a-f]{64}", "v1,[A-Za-z0-9+/=]{0,60}( v1,[A-Za-z0-9+/=]{0,60})?"],
        body in prop::collection::vec(any::<u8>(), 0..64),
        key in prop_oneof![".{0,24}", "whsec_.{0,24}", "whsec_[A-Za-z0-9+/]{4,32}={0,2}"],
        now in any::<i64>(),
        window in any::<i64>(),
    ) {
        let secrets = [SecretString::from(key.clone())];
        let mut h = http::HeaderMap::new();
        for (name, value) in [("webhook-id", &id), ("webhook-timestamp", &ts), ("webhook-signature", &sig)] {
            if let Ok(v) = http::HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        }
        assert_refusal_says_something(generic::verify(&h, &body, &secrets, now, window))?;
        assert_refusal_says_something(generic::sign(&id, now, &body, &secrets[0]))?;
        assert_refusal_says_something(bamboohr::verify_signature(&secrets[0], &body, &ts, &sig, now, window))?;
        assert_refusal_says_something(bamboohr::verify_signature_any(&[], &body, &ts, &sig, now, window))?;
    }

    #[test]
    fn a_genuine_generic_delivery_always_verifies_and_any_flipped_body_byte_breaks_it(
        body in prop::collection::vec(any::<u8>(), 1..128),
        flip in any::<prop::sample::Index>(),
        raw_key in prop::collection::vec(any::<u8>(), 1..48),
    ) {
        let key = SecretString::from(format!("whsec_{}", STANDARD.encode(&raw_key)));
        let sig = generic::sign("msg_x", NOW_SECS, &body, &key).unwrap();
        let h = wh_headers("msg_x", &NOW_SECS.to_string(), &sig);
        prop_assert_eq!(generic::verify(&h, &body, std::slice::from_ref(&key), NOW_MS, WINDOW).unwrap(), "msg_x");
        let mut tampered = body.clone();
        let i = flip.index(tampered.len());
        tampered[i] ^= 0x01;
        prop_assert_eq!(generic::verify(&h, &tampered, &[key], NOW_MS, WINDOW).unwrap_err(), SignatureError::Mismatch);
    }
}

// =============================================================================================
// Request shapes against a recording server

fn assert_send<T: Send>(_: &T) {}

#[tokio::test]
async fn the_workday_client_gets_the_report_as_json_with_basic_auth_keeping_the_prompts() {
    let with_bad_row = r#"{"Report_Entry":[{"Employee_ID":"1","Email_-_Work":"a@b.co","Termination_Date":"2026-03-31"},{"Employee_ID":"2","Termination_Date":"2026-03-31"}]}"#;
    let rec = Recorder::start(vec![
        Reply::json(200, WORKDAY_SAMPLE),
        Reply::json(200, WORKDAY_SAMPLE),
        Reply::json(200, with_bad_row),
        Reply::json(200, "{}"),
        Reply::json(200, r#"{"Report_Data":[]}"#),
    ])
    .await;
    let report = Url::parse(&format!(
        "{}/ccx/service/customreport2/acme/ISU_demo/Terminations?Effective_as_of_Date=2026-03-01&format=csv&Worker_Type%21WID=abc",
        rec.url
    ))
    .unwrap();
    let client = WorkdayClient::new(
        report,
        "ISU_demo@acme".into(),
        secret("p@ss:word"),
        quick_http(),
    );
    let mapping = FieldMapping::default();
    let fut = client.fetch_report(&mapping, None);
    assert_send(&fut);
    let rows = fut.await.unwrap();
    assert_eq!(rows.len(), 1);
    let msg = client.verify(&FieldMapping::default(), None).await.unwrap();
    assert_eq!(msg, "Connected to Workday: report has 1 row");
    // A bad row is the report's to fix, not a failed connection; `{}` is an empty report;
    // another object is not a RaaS report.
    let msg = client.verify(&FieldMapping::default(), None).await.unwrap();
    assert_eq!(
        msg,
        "Connected to Workday: report has 2 rows; 1 cannot be read (first: Workday report row 2 has no column 'Email_-_Work' (mapped as email); check the field mapping)"
    );
    let msg = client.verify(&FieldMapping::default(), None).await.unwrap();
    assert_eq!(msg, "Connected to Workday: report has 0 rows");
    let err = client
        .verify(&FieldMapping::default(), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no 'Report_Entry' list"), "{err}");

    let req = &rec.requests()[0];
    assert_eq!(req.method, "GET");
    assert_eq!(
        req.path(),
        "/ccx/service/customreport2/acme/ISU_demo/Terminations"
    );
    assert_eq!(
        req.query(),
        vec![
            ("Effective_as_of_Date".to_string(), "2026-03-01".to_string()),
            ("Worker_Type!WID".to_string(), "abc".to_string()),
            ("format".to_string(), "json".to_string()),
        ]
    );
    let expected_auth = format!("Basic {}", STANDARD.encode("ISU_demo@acme:p@ss:word"));
    assert_eq!(req.header("authorization"), Some(expected_auth.as_str()));
    assert_eq!(req.header("accept"), Some("application/json"));
    assert!(
        !format!("{client:?}").contains("p@ss"),
        "Debug must not show the password"
    );
}

#[tokio::test]
async fn the_bamboohr_client_reads_one_employee_with_the_key_as_basic_user_and_asks_for_json() {
    let rec = Recorder::start(vec![
        Reply::json(200, r#"{"id":"42","workEmail":"Jane@Acme.example","status":"Inactive","terminationDate":"2026-03-31","extra":1}"#),
        Reply::json(200, r#"{"id":"0"}"#),
    ])
    .await;
    let base = Url::parse(&format!("{}/api/gateway.php/acme", rec.url)).unwrap();
    let client = BambooClient::new(base, secret("bamboo-key"), quick_http());
    let fut = client.employee("42", None);
    assert_send(&fut);
    let e = fut.await.unwrap();
    assert_eq!(
        e,
        Employee {
            id: "42".into(),
            work_email: Some("jane@acme.example".into()),
            status: Some("Inactive".into()),
            termination_date: Some(day("2026-03-31")),
        }
    );
    assert_eq!(client.verify(None).await.unwrap(), "Connected to BambooHR");
    let reqs = rec.requests();
    assert_eq!(
        reqs[0].target,
        "/api/gateway.php/acme/v1/employees/42?fields=workEmail,status,terminationDate&onlyCurrent=false"
    );
    let auth = format!("Basic {}", STANDARD.encode("bamboo-key:x"));
    assert_eq!(reqs[0].header("authorization"), Some(auth.as_str()));
    assert_eq!(reqs[0].header("accept"), Some("application/json"));
    assert_eq!(reqs[1].target, "/api/gateway.php/acme/v1/employees/0");
    assert!(!format!("{client:?}").contains("bamboo-key"));
}

fn adp_client(
    api: &str,
    token: &str,
    cert: (String, String),
    opts: ClientOptions,
) -> Result<AdpClient, ConnectorError> {
    AdpClient::new(
        Url::parse(api).unwrap(),
        Url::parse(token).unwrap(),
        AdpCredentials {
            client_id: "adp-demo".into(),
            client_secret: secret("adp-demo-secret"),
            cert_pem: cert.0,
            key_pem: SecretString::from(cert.1),
        },
        opts,
    )
}

#[tokio::test]
async fn the_adp_client_gets_one_token_then_reads_and_acknowledges_queue_messages() {
    let rec = Recorder::start(vec![
        Reply::json(
            200,
            r#"{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}"#,
        ),
        Reply::json(200, ADP_TERMINATE_SAMPLE).with_header("adp-msg-msgid", "msg-1"),
        Reply::empty(200),
        Reply::empty(204),
        Reply::json(404, r#"{"response":{"responseCode":404}}"#),
    ])
    .await;
    let client = adp_client(
        &rec.url,
        &format!("{}/auth/oauth/v2/token", rec.url),
        rogue_client_cert(),
        ClientOptions::new(true),
    )
    .unwrap();
    let fut = client.next_message(None);
    assert_send(&fut);
    let msg = fut.await.unwrap().unwrap();
    assert_eq!(msg.msg_id.as_deref(), Some("msg-1"));
    assert_eq!(msg.event().unwrap().associate_oid, "G3KXNKXW8VT5Q5M0");
    client.ack("msg-1", None).await.unwrap();
    assert_eq!(client.next_message(None).await.unwrap(), None);
    // An acknowledgement of a message that is already gone is fine.
    client.ack("msg/1", None).await.unwrap();

    let reqs = rec.requests();
    assert_eq!(reqs.len(), 5, "one token for all calls: {reqs:#?}");
    let tok = &reqs[0];
    assert_eq!(
        (tok.method.as_str(), tok.target.as_str()),
        ("POST", "/auth/oauth/v2/token")
    );
    let basic = format!("Basic {}", STANDARD.encode("adp-demo:adp-demo-secret"));
    assert_eq!(tok.header("authorization"), Some(basic.as_str()));
    assert_eq!(
        tok.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        tok.form(),
        vec![("grant_type".to_string(), "client_credentials".to_string())],
        "Basic credentials and one form field, nothing else (ADP: 400 Missing or duplicate parameters)"
    );
    assert_eq!(
        (reqs[1].method.as_str(), reqs[1].target.as_str()),
        ("GET", "/core/v1/event-notification-messages")
    );
    assert_eq!(reqs[1].header("authorization"), Some("Bearer tok-1"));
    assert_eq!(
        (reqs[2].method.as_str(), reqs[2].target.as_str()),
        ("DELETE", "/core/v1/event-notification-messages/msg-1")
    );
    assert_eq!(
        reqs[4].target,
        "/core/v1/event-notification-messages/msg%2F1"
    );
}

#[tokio::test]
async fn the_adp_client_gets_a_new_token_once_when_the_api_answers_401() {
    let rec = Recorder::start(vec![
        Reply::json(200, r#"{"access_token":"tok-1","expires_in":3600}"#),
        Reply::json(401, r#"{}"#),
        Reply::json(200, r#"{"access_token":"tok-2","expires_in":"3600"}"#),
        Reply::empty(204),
    ])
    .await;
    let client = adp_client(
        &rec.url,
        &format!("{}/token", rec.url),
        rogue_client_cert(),
        ClientOptions::new(true),
    )
    .unwrap();
    assert_eq!(client.next_message(None).await.unwrap(), None);
    let reqs = rec.requests();
    assert_eq!(reqs.len(), 4);
    assert_eq!(reqs[3].header("authorization"), Some("Bearer tok-2"));
}

#[tokio::test]
async fn an_adp_queue_message_without_its_id_header_is_read_with_no_id_not_skipped() {
    let rec = Recorder::start(vec![
        Reply::json(200, r#"{"access_token":"t","expires_in":3600}"#),
        Reply::json(200, ADP_TERMINATE_SAMPLE),
    ])
    .await;
    let client = adp_client(
        &rec.url,
        &format!("{}/token", rec.url),
        rogue_client_cert(),
        ClientOptions::new(true),
    )
    .unwrap();
    let msg = client.next_message(None).await.unwrap().expect("a message");
    assert_eq!(msg.msg_id, None);
    assert!(msg.event().unwrap().is_termination);
}

#[test]
fn adp_credentials_that_are_not_pem_are_refused_before_anything_is_sent() {
    let (cert, key) = rogue_client_cert();
    let err = adp_client(
        "https://api.adp.com",
        "https://accounts.adp.com/t",
        ("not a cert".into(), key.clone()),
        ClientOptions::new(false),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a PEM certificate"), "{err}");
    let err = adp_client(
        "https://api.adp.com",
        "https://accounts.adp.com/t",
        (cert.clone(), "secret".into()),
        ClientOptions::new(false),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a PEM private key"), "{err}");
    let garbled = key.replace("\n", "\nX");
    let err = adp_client(
        "https://api.adp.com",
        "https://accounts.adp.com/t",
        (cert, garbled),
        ClientOptions::new(false),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("adp: the ADP client certificate and private key cannot be used together"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("PRIVATE KEY-----\nX"),
        "the key never appears in messages"
    );
}

#[tokio::test]
async fn an_adp_certificate_paired_with_another_key_is_refused() {
    let (sb, url, tls) = adp_mtls().await;
    let (_, other_key) = rogue_client_cert();
    let err = adp_client(
        &url,
        &format!("{url}/auth/oauth/v2/token"),
        (tls.client_cert_pem.clone(), other_key),
        trusting(&tls),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "adp: the ADP client certificate and private key cannot be used together; give the certificate ADP issued and the private key it was made for, both as PEM"
    );
    sb.shutdown().await;
}

// =============================================================================================
// Against the sandbox

async fn sandbox() -> riskflow_sandbox::Sandbox {
    riskflow_sandbox::Sandbox::start(0).await.expect("sandbox")
}

#[tokio::test]
async fn the_workday_client_pulls_the_sandbox_report_and_names_the_system_on_a_bad_password() {
    let sb = sandbox().await;
    sb.state().set_workday_rows(vec![
        json!({"Employee_ID":"21004","Worker":"Jane Doe","Email_-_Work":"jdoe@example.com","Termination_Date":"2026-03-31",
               "Last_Day_of_Work":"2026-03-28","Primary_Termination_Reason":"Resignation","Business_Process_Event_WID":"wid-1"}),
        json!({"Employee_ID":"21005","Email_-_Work":"JSmith@example.com","Termination_Date":"2026-04-15"}),
    ]);
    let url = Url::parse(&format!(
        "{}/ccx/service/customreport2/acme/ISU_demo/Terminations?Effective_as_of_Date=2026-03-01",
        sb.url("workday")
    ))
    .unwrap();
    let client = WorkdayClient::new(
        url.clone(),
        "ISU_demo".into(),
        secret("workday-demo"),
        quick_http(),
    );
    let rows = client
        .fetch_report(&FieldMapping::default(), None)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].email, "jsmith@example.com");
    assert_eq!(rows[0].event_key(), "wid-1");
    assert_eq!(
        client.verify(&FieldMapping::default(), None).await.unwrap(),
        "Connected to Workday: report has 2 rows"
    );

    let wrong = WorkdayClient::new(url, "ISU_demo".into(), secret("nope"), quick_http());
    let err = wrong
        .fetch_report(&FieldMapping::default(), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(
        err.to_string()
            .starts_with("workday answered 401 to GET /workday/ccx/service/customreport2/"),
        "{err}"
    );
    assert!(!err.to_string().contains("nope"));
    sb.shutdown().await;
}

#[tokio::test]
async fn a_person_removed_from_the_sandbox_report_before_their_date_comes_back_as_a_cancellation() {
    let sb = sandbox().await;
    let url = Url::parse(&format!(
        "{}/ccx/service/customreport2/acme/ISU_demo/T",
        sb.url("workday")
    ))
    .unwrap();
    let client = WorkdayClient::new(url, "ISU_demo".into(), secret("workday-demo"), quick_http());
    let person = json!({"Employee_ID":"1","Email_-_Work":"a@x.co","Termination_Date":"2026-06-30"});
    sb.state().set_workday_rows(vec![person]);
    let first = client
        .fetch_report(&FieldMapping::default(), None)
        .await
        .unwrap();
    sb.state().set_workday_rows(vec![]);
    let second = client
        .fetch_report(&FieldMapping::default(), None)
        .await
        .unwrap();
    let out = workday::diff_snapshots(&first, &second, day("2026-03-01"), NOW_MS);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].kind, out[0].email.as_str()),
        (HrEventKind::Cancellation, "a@x.co")
    );
    sb.shutdown().await;
}

/// Workday authenticates an integration system user as `user@tenant`: a bare name gets the
/// report URL's tenant, a name with `@` is sent as typed, and the sandbox refuses the bare name.
#[tokio::test]
async fn the_workday_client_sends_the_isu_as_user_at_tenant() {
    let url = |s: &str| Url::parse(s).unwrap();
    let report = "https://wd5-services1.myworkday.com/ccx/service/customreport2/acme/ISU_x/Terms";
    let user = |u: &str, r: &str| {
        WorkdayClient::new(url(r), u.into(), secret("p"), quick_http()).basic_user()
    };
    assert_eq!(user("ISU_x", report), "ISU_x@acme");
    assert_eq!(user("ISU_x@other", report), "ISU_x@other");
    assert_eq!(user("ISU_x", "https://example.com/report"), "ISU_x");

    let sb = sandbox().await;
    let bare = reqwest::Client::new()
        .get(format!(
            "{}/ccx/service/customreport2/acme/ISU_demo/T?format=json",
            sb.url("workday")
        ))
        .basic_auth("ISU_demo", Some("workday-demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
    sb.shutdown().await;
}

fn sandbox_bamboo(sb: &riskflow_sandbox::Sandbox, key: &str) -> BambooClient {
    let base = Url::parse(&format!("{}/api/gateway.php/acme", sb.url("bamboohr"))).unwrap();
    BambooClient::new(base, secret(key), quick_http())
}

fn bamboo_employee(
    id: &str,
    fields: serde_json::Value,
) -> riskflow_sandbox::bamboohr::BambooEmployee {
    riskflow_sandbox::bamboohr::BambooEmployee {
        id: id.into(),
        fields: serde_json::from_value(fields).unwrap(),
    }
}

#[tokio::test]
async fn the_bamboohr_client_reads_sandbox_employees_and_refuses_a_wrong_key() {
    let sb = sandbox().await;
    sb.state().add_bamboohr_employee(bamboo_employee(
        "67890",
        json!({"workEmail":"Jane.Doe@Example.com","status":"Inactive","terminationDate":"2026-03-31","firstName":"Jane"}),
    ));
    // Employee 0 stands for the API key's own record (what the credentials check reads).
    sb.state()
        .add_bamboohr_employee(bamboo_employee("0", json!({"firstName":"Api"})));
    let client = sandbox_bamboo(&sb, "bamboo-demo");
    let e = client.employee("67890", None).await.unwrap();
    assert_eq!(e.work_email.as_deref(), Some("jane.doe@example.com"));
    assert_eq!(
        e.termination_date.map(|d| d.to_string()).as_deref(),
        Some("2026-03-31")
    );
    assert_eq!(client.verify(None).await.unwrap(), "Connected to BambooHR");

    let err = client.employee("404", None).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    let err = sandbox_bamboo(&sb, "wrong").verify(None).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(
        err.to_string().starts_with("bamboohr answered 401 to GET "),
        "{err}"
    );
    sb.shutdown().await;
}

/// BambooHR answers only current values of history-table fields unless `onlyCurrent=false`:
/// a termination dated after today is seen before its date only with it.
#[tokio::test]
async fn the_bamboohr_client_sees_a_future_dated_termination_before_its_date() {
    let sb = sandbox().await;
    let future = riskflow::clock::date_of_ms(riskflow::clock::now_ms() + 30 * 86_400_000);
    sb.state().add_bamboohr_employee(bamboo_employee(
        "777",
        json!({"workEmail":"leaver@example.com","status":"Active","terminationDate": future.to_string()}),
    ));
    let e = sandbox_bamboo(&sb, "bamboo-demo")
        .employee("777", None)
        .await
        .unwrap();
    assert_eq!(e.termination_date, Some(future));
    assert_eq!(e.status.as_deref(), Some("Active"));
    sb.shutdown().await;
}

#[tokio::test]
async fn a_webhook_the_sandbox_signs_and_sends_verifies_parses_and_becomes_a_departure() {
    let sb = sandbox().await;
    sb.state().add_bamboohr_employee(bamboo_employee(
        "67890",
        json!({"workEmail":"jane.doe@example.com","status":"Inactive","terminationDate":"2026-03-31"}),
    ));
    for format in ["event", "fields"] {
        let rec = Recorder::start(vec![Reply::empty(202)]).await;
        let delivery = sb
            .state()
            .send_bamboohr_webhook(riskflow_sandbox::WebhookRequest {
                url: format!("{}/webhooks/hr/bamboohr", rec.url),
                format: Some(format.into()),
                employee_id: "67890".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(delivery.status, 202);
        let req = rec.requests().remove(0);
        let mut headers = http::HeaderMap::new();
        for (k, v) in &req.headers {
            headers.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let now = riskflow::clock::now_ms();
        bamboohr::verify_headers(
            &headers,
            &req.body,
            &[secret("rotated-out"), secret(BAMBOO_KEY)],
            now,
            WINDOW,
        )
        .unwrap_or_else(|e| panic!("{format}: {e}"));
        let change = bamboohr::parse_payload(&req.body).unwrap().remove(0);
        assert_eq!(change.employee_id, "67890");
        let employee = match change.employee_from_fields() {
            Some(e) => e,
            None => sandbox_bamboo(&sb, "bamboo-demo")
                .employee(&change.employee_id, None)
                .await
                .unwrap(),
        };
        let sent = bamboohr::event_time(&headers, now).unwrap();
        let d = bamboohr::to_departure(&change, &employee, sent, now)
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                d.kind,
                d.email.as_str(),
                d.departure_date.map(|d| d.to_string()).as_deref()
            ),
            (
                HrEventKind::Departure,
                "jane.doe@example.com",
                Some("2026-03-31")
            )
        );

        // A tampered copy is refused.
        let mut tampered = req.body.clone();
        tampered.push(b' ');
        assert_eq!(
            bamboohr::verify_headers(&headers, &tampered, &[secret(BAMBOO_KEY)], now, WINDOW)
                .unwrap_err(),
            SignatureError::Mismatch
        );
    }
    sb.shutdown().await;
}

async fn adp_mtls() -> (
    riskflow_sandbox::Sandbox,
    String,
    riskflow_sandbox::TlsMaterial,
) {
    let mut sb = sandbox().await;
    let url = sb.start_adp_mtls(0).await.expect("mtls");
    let tls = sb.state().adp_tls().expect("tls material");
    (sb, url, tls)
}

fn trusting(tls: &riskflow_sandbox::TlsMaterial) -> ClientOptions {
    let mut opts = ClientOptions::new(true);
    opts.extra_root_pem = Some(tls.ca_cert_pem.clone().into_bytes());
    opts
}

#[tokio::test]
async fn the_adp_client_drains_the_sandbox_queue_over_mutual_tls_with_the_issued_certificate() {
    let (sb, url, tls) = adp_mtls().await;
    let state = sb.state();
    let raw = riskflow_sandbox::adp::terminate_event(
        "ev-1",
        "G3KXNKXW8VT5Q5M0",
        "GN4IKM9XR",
        "2026-03-31",
    )
    .to_string();
    let first = state.push_adp_message(raw);
    let second = state.push_adp_message("this is not JSON");
    state.add_adp_worker(riskflow_sandbox::adp::AdpWorker {
        associate_oid: "G3KXNKXW8VT5Q5M0".into(),
        business_email: Some("Jane.Doe@Example.com".into()),
        personal_email: Some("jane@home.example".into()),
        termination_date: Some("2026-03-31".into()),
        status_code: "T".into(),
        ..Default::default()
    });
    let client = adp_client(
        &url,
        &format!("{url}/auth/oauth/v2/token"),
        (tls.client_cert_pem.clone(), tls.client_key_pem.clone()),
        trusting(&tls),
    )
    .unwrap();
    assert_eq!(
        client.verify(None).await.unwrap(),
        "Connected to ADP (client adp-demo)"
    );

    let mut seen = Vec::new();
    while let Some(msg) = client.next_message(None).await.unwrap() {
        seen.push(msg.msg_id.clone().unwrap());
        if let Ok(ev) = msg.event() {
            assert!(ev.is_termination);
            let worker = client.worker(&ev.associate_oid, None).await.unwrap();
            let d = ev.to_departure(&worker).unwrap();
            assert_eq!(
                (
                    d.email.as_str(),
                    d.departure_date.map(|d| d.to_string()).as_deref()
                ),
                ("jane.doe@example.com", Some("2026-03-31"))
            );
            assert_eq!(d.source_event_id, "ev-1");
        } else {
            assert_eq!(
                msg.body, "this is not JSON",
                "the raw text is kept for the record"
            );
        }
        client
            .ack(msg.msg_id.as_deref().unwrap(), None)
            .await
            .unwrap();
    }
    assert_eq!(seen, vec![first.clone(), second.clone()]);
    assert_eq!(state.adp_acks(), vec![first, second]);
    assert!(state.adp_queue().is_empty());
    let err = client.worker("UNKNOWN", None).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(
        err.to_string(),
        "adp answered 404 to GET /hr/v2/workers/UNKNOWN: Worker UNKNOWN not found"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn a_certificate_adp_did_not_issue_reads_as_adp_refused_the_client_certificate() {
    let (sb, url, tls) = adp_mtls().await;
    let client = adp_client(
        &url,
        &format!("{url}/auth/oauth/v2/token"),
        rogue_client_cert(),
        trusting(&tls),
    )
    .unwrap()
    .with_retry(riskflow::http::RetryPolicy {
        max_attempts: 2,
        base: std::time::Duration::from_millis(5),
        ..Default::default()
    });
    let err = client.verify(None).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("ADP refused the client certificate"),
        "{err}"
    );
    assert!(matches!(err, ConnectorError::Invalid { system: "adp", .. }));
    sb.shutdown().await;
}

#[tokio::test]
async fn an_adp_answer_that_no_certificate_was_presented_reads_as_adp_refused_the_client_certificate()
 {
    let sb = sandbox().await;
    sb.state().update_config(riskflow_sandbox::ConfigPatch {
        adp_plain_requires_client_cert: Some(true),
        ..Default::default()
    });
    let base = sb.url("adp");
    let client = adp_client(
        &base,
        &format!("{base}/auth/oauth/v2/token"),
        rogue_client_cert(),
        ClientOptions::new(true),
    )
    .unwrap();
    let err = client.verify(None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "adp: ADP refused the client certificate (invalid_request: proper client ssl certificate was not presented); check that the certificate and key are the ones ADP issued for this client"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn a_wrong_adp_client_secret_is_a_401_naming_the_token_call_and_not_the_secret() {
    let sb = sandbox().await;
    let base = sb.url("adp");
    let (cert_pem, key_pem) = rogue_client_cert();
    let client = AdpClient::new(
        Url::parse(&base).unwrap(),
        Url::parse(&format!("{base}/auth/oauth/v2/token")).unwrap(),
        AdpCredentials {
            client_id: "adp-demo".into(),
            client_secret: secret("wrong-secret"),
            cert_pem,
            key_pem: SecretString::from(key_pem),
        },
        ClientOptions::new(true),
    )
    .unwrap();
    let err = client.verify(None).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        err.to_string(),
        "adp answered 401 to POST /adp/auth/oauth/v2/token: invalid_client: The given client credentials were not valid"
    );
    assert!(!format!("{client:?}").contains("wrong-secret"));
    sb.shutdown().await;
}

// ----- the rules production runs (hr-departures' HrDirectory port over the connectors) -----
//
// Before, the flow re-derived the fact from a reduced record and disagreed with the connector
// rules: a rehired employee with an old termination date went on the Departing watchlist, an
// Inactive employee without a date failed, a change with neither status nor date became a
// cancellation, and an ADP termination lost its reason. Each test states the intended
// behaviour, through the adapter the flow uses.

use riskflow::connectors::adp::AdpSource;
use riskflow::connectors::bamboohr::BambooDirectory;
use riskflow::ports::{HrDirectory, HrLookupError, RecordedHrChange};

const TODAY: Date = jiff::civil::date(2026, 3, 1);

fn bamboo_directory(sb: &riskflow_sandbox::Sandbox) -> BambooDirectory {
    BambooDirectory {
        client: std::sync::Arc::new(sandbox_bamboo(sb, "bamboo-demo")),
    }
}

fn recorded(employee_id: &str) -> RecordedHrChange {
    RecordedHrChange {
        employee_id: employee_id.into(),
        source_event_id: format!("chg-{employee_id}"),
        event_time: NOW_MS,
        ..Default::default()
    }
}

#[tokio::test]
async fn production_runs_the_bamboohr_rule_for_every_record_shape() {
    let sb = sandbox().await;
    let state = sb.state();
    // Rehired: Active again, the old termination date kept.
    state.add_bamboohr_employee(bamboo_employee(
        "1",
        json!({"workEmail":"rehired@example.com","status":"Active","terminationDate":"2025-06-30"}),
    ));
    // Inactive, no termination date.
    state.add_bamboohr_employee(bamboo_employee(
        "2",
        json!({"workEmail":"left@example.com","status":"Inactive"}),
    ));
    // Neither status nor date.
    state.add_bamboohr_employee(bamboo_employee(
        "3",
        json!({"workEmail":"unknown@example.com"}),
    ));
    // Active with a future termination date.
    state.add_bamboohr_employee(bamboo_employee(
        "4",
        json!({"workEmail":"leaving@example.com","status":"Active","terminationDate":"2026-04-15"}),
    ));
    // No work email in the record.
    state.add_bamboohr_employee(bamboo_employee(
        "5",
        json!({"status":"Inactive","terminationDate":"2026-02-27"}),
    ));
    let dir = bamboo_directory(&sb);

    let d = dir
        .departure(&recorded("1"), TODAY, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            d.kind,
            d.email.as_str(),
            d.departure_date.map(|d| d.to_string()).as_deref()
        ),
        (HrEventKind::Cancellation, "rehired@example.com", None),
        "a rehire is a cancellation, never a departure"
    );

    let d = dir
        .departure(&recorded("2"), TODAY, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (d.kind, d.departure_date.map(|d| d.to_string()).as_deref()),
        (
            HrEventKind::Departure,
            Some(riskflow::clock::date_of_ms(NOW_MS).to_string().as_str())
        ),
        "Inactive without a date departs on the change's date"
    );
    assert_eq!(
        (d.source_event_id.as_str(), d.event_time),
        ("chg-2", NOW_MS)
    );

    assert_eq!(
        dir.departure(&recorded("3"), TODAY, None).await.unwrap(),
        None,
        "neither status nor date is no fact (never a cancellation)"
    );

    let d = dir
        .departure(&recorded("4"), TODAY, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (d.kind, d.departure_date.map(|d| d.to_string()).as_deref()),
        (HrEventKind::Departure, Some("2026-04-15"))
    );

    // The change's own workEmail stands in for a record without one, normalised.
    let mut with_field = recorded("5");
    with_field
        .fields
        .insert("workEmail".into(), "  Pat.Doe@Example.com ".into());
    let d = dir
        .departure(&with_field, TODAY, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.email, "pat.doe@example.com");
    with_field
        .fields
        .insert("workEmail".into(), "not an address".into());
    match dir.departure(&with_field, TODAY, None).await {
        Err(HrLookupError::NotAnAddress(m)) => assert!(
            m.contains("'not an address' is not an address") || m.contains("not an address"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    match dir.departure(&recorded("5"), TODAY, None).await {
        Err(HrLookupError::Unusable(m)) => assert!(m.contains("has no work email"), "{m}"),
        other => panic!("{other:?}"),
    }
    match dir.departure(&recorded("404"), TODAY, None).await {
        Err(HrLookupError::Unusable(m)) => assert_eq!(m, "BambooHR has no employee 404"),
        other => panic!("{other:?}"),
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn production_keeps_an_adp_terminations_reason_and_its_dates() {
    let (sb, url, tls) = adp_mtls().await;
    sb.state().add_adp_worker(riskflow_sandbox::adp::AdpWorker {
        associate_oid: "G3KXNKXW8VT5Q5M0".into(),
        business_email: Some("Jane.Doe@Example.com".into()),
        termination_date: Some("2026-03-31".into()),
        status_code: "T".into(),
        ..Default::default()
    });
    let client = adp_client(
        &url,
        &format!("{url}/auth/oauth/v2/token"),
        (tls.client_cert_pem.clone(), tls.client_key_pem.clone()),
        trusting(&tls),
    )
    .unwrap();
    let dir = AdpSource {
        client: std::sync::Arc::new(client),
    };
    let ev = adp::parse_event(
        &riskflow_sandbox::adp::terminate_event("ev-9", "G3KXNKXW8VT5Q5M0", "W1", "2026-03-20")
            .to_string(),
    )
    .unwrap();
    let change = RecordedHrChange {
        employee_id: ev.associate_oid.clone(),
        source_event_id: ev.event_id.clone(),
        event_time: ev.event_time_ms,
        termination_date: ev.termination_date.map(|d| d.to_string()),
        reason: ev.reason.clone(),
        ..Default::default()
    };
    let d = dir.departure(&change, TODAY, None).await.unwrap().unwrap();
    assert_eq!(d.reason.as_deref(), Some("Attendance"));
    assert_eq!(
        d.departure_date,
        Some(day("2026-03-20")),
        "the event's date first"
    );
    assert_eq!(d.email, "jane.doe@example.com");
    // Exactly what the connector's rule says for the same event and worker.
    let worker = dir.client.worker("G3KXNKXW8VT5Q5M0", None).await.unwrap();
    assert_eq!(d, ev.to_departure(&worker).unwrap());
    let missing = RecordedHrChange {
        employee_id: "UNKNOWN".into(),
        ..change
    };
    match dir.departure(&missing, TODAY, None).await {
        Err(HrLookupError::Unusable(m)) => assert_eq!(m, "ADP has no worker UNKNOWN"),
        other => panic!("{other:?}"),
    }
    sb.shutdown().await;
}
