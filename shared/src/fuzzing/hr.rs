//! The HR sources: both webhook signature schemes and their bodies, ADP's queue messages,
//! worker and token answers, and Workday reports.

use super::{
    NOW_MS, assert_fact_is_normal, assert_round_trips, assert_says_something, split_lines,
};
use crate::clock::date_of_ms;
use crate::connectors::adp::client::{CachedToken, token_answer};
use crate::connectors::adp::{self, Worker};
use crate::connectors::bamboohr::{self, BambooChange, Employee};
use crate::connectors::generic::{self, SignatureError};
use crate::connectors::hr::{normalize_email, parse_instant_ms};
use crate::connectors::workday::{self, FieldMapping};
use crate::http::Call;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use secrecy::SecretString;
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::time::Instant;

/// The replay window both schemes use by default.
const WINDOW_MS: i64 = generic::DEFAULT_WINDOW_MS;
/// A BambooHR webhook's private key.
const BAMBOO_KEY: &str = "bamboo-webhook-key-for-fuzzing";
/// A Standard Webhooks secret (`whsec_` + base64) and a typed shared secret: the current and
/// the previous one during a rotation.
const GENERIC_SECRETS: [&str; 2] = ["whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=", "plain shared secret"];

fn put(headers: &mut HeaderMap, name: &'static str, value: &[u8]) {
    if let Ok(v) = HeaderValue::from_bytes(value) {
        headers.insert(name, v);
    }
}

/// `body` changed in one place (a byte flipped, or one added to an empty body).
fn tampered(body: &[u8]) -> Vec<u8> {
    let mut other = body.to_vec();
    match other.last_mut() {
        Some(b) => *b ^= 0x01,
        None => other.push(b' '),
    }
    other
}

/// A BambooHR delivery: line 1 `X-BambooHR-Timestamp`, line 2 `X-BambooHR-Signature`, then
/// the body.
///
/// - The headers as sent verify or are refused with a message.
/// - A body signed with the key (hex HMAC-SHA256 over body ‖ timestamp) verifies whenever
///   the timestamp can be read, is refused as stale past the window, and the same signature
///   never verifies a changed body.
/// - The body parses (both formats) or is refused with a message; every change's dedup key
///   ignores the order of its changed fields; every fact made from it is normal; the
///   directory's answer (the same bytes read as an employee record) reads or is refused.
pub fn bamboohr_webhook(data: &[u8]) {
    let (head, body) = split_lines(data, 2);
    let keys = [SecretString::from(BAMBOO_KEY.to_string())];

    let mut headers = HeaderMap::new();
    put(&mut headers, bamboohr::TIMESTAMP_HEADER, head[0]);
    put(&mut headers, bamboohr::SIGNATURE_HEADER, head[1]);
    if let Err(e) = bamboohr::verify_headers(&headers, body, &keys, NOW_MS, WINDOW_MS) {
        assert_says_something(&e);
    }

    let timestamp = String::from_utf8_lossy(head[0]);
    let timestamp = timestamp.trim();
    if let Some(at_ms) = parse_instant_ms(timestamp) {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(BAMBOO_KEY.as_bytes())
            .expect("HMAC takes any key");
        mac.update(body);
        mac.update(timestamp.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        let verify = |body: &[u8], now_ms: i64| {
            bamboohr::verify_signature_any(&keys, body, timestamp, &signature, now_ms, WINDOW_MS)
        };
        assert_eq!(verify(body, at_ms), Ok(()), "a signed delivery is refused");
        assert_eq!(
            verify(&tampered(body), at_ms),
            Err(SignatureError::Mismatch),
            "a signature verified a changed body"
        );
        if let Some(late) = at_ms.checked_add(WINDOW_MS + 1_000) {
            assert!(
                matches!(verify(body, late), Err(SignatureError::Stale { .. })),
                "a delivery past the window is accepted"
            );
        }
    }

    match bamboohr::parse_payload(body) {
        Ok(changes) => changes.iter().for_each(check_bamboo_change),
        Err(e) => assert_says_something(&e),
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        match Employee::from_json("42", &v) {
            Ok(employee) => {
                if let Some(email) = &employee.work_email {
                    assert_eq!(normalize_email(email).as_ref(), Some(email));
                }
            }
            Err(e) => assert_says_something(&e),
        }
    }
}

fn check_bamboo_change(change: &BambooChange) {
    let mut reordered = change.clone();
    reordered.changed_fields.reverse();
    assert_eq!(
        reordered.dedup_key(),
        change.dedup_key(),
        "the dedup key depends on the order of the changed fields"
    );
    // The record the change carries, else one that departs and has no email of its own (the
    // change's `workEmail` is then used).
    let employee = change.employee_from_fields().unwrap_or(Employee {
        id: change.employee_id.clone(),
        work_email: None,
        status: Some("Inactive".into()),
        termination_date: None,
    });
    match bamboohr::to_departure(change, &employee, NOW_MS, NOW_MS) {
        Ok(Some(fact)) => assert_fact_is_normal(&fact),
        Ok(None) => {}
        Err(e) => assert_says_something(&e),
    }
}

/// A generic (Standard Webhooks) delivery: lines 1 to 3 `webhook-id`, `webhook-timestamp`,
/// `webhook-signature`, then the body.
///
/// - The headers as sent verify or are refused with a message.
/// - A body signed with either configured secret ([`generic::sign`]) verifies and yields its
///   id; the same signature never verifies a changed body.
/// - The body parses into a normal fact or is refused with a message.
pub fn generic_webhook(data: &[u8]) {
    let (head, body) = split_lines(data, 3);
    let secrets = GENERIC_SECRETS.map(|s| SecretString::from(s.to_string()));

    let mut headers = HeaderMap::new();
    put(&mut headers, generic::ID_HEADER, head[0]);
    put(&mut headers, generic::TIMESTAMP_HEADER, head[1]);
    put(&mut headers, generic::SIGNATURE_HEADER, head[2]);
    if let Err(e) = generic::verify(&headers, body, &secrets, NOW_MS, WINDOW_MS) {
        assert_says_something(&e);
    }

    let id = String::from_utf8_lossy(head[0]).trim().to_string();
    let ts_secs = std::str::from_utf8(head[1])
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .filter(|t| (0..=999_999_999_999).contains(t))
        .unwrap_or(NOW_MS / 1000);
    let sendable =
        !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| (0x20..0x7f).contains(&b));
    if sendable {
        for secret in &secrets {
            let signature =
                generic::sign(&id, ts_secs, body, secret).expect("a usable secret signs");
            let mut signed = HeaderMap::new();
            put(&mut signed, generic::ID_HEADER, id.as_bytes());
            put(
                &mut signed,
                generic::TIMESTAMP_HEADER,
                ts_secs.to_string().as_bytes(),
            );
            put(&mut signed, generic::SIGNATURE_HEADER, signature.as_bytes());
            let now_ms = ts_secs * 1000;
            assert_eq!(
                generic::verify(&signed, body, &secrets, now_ms, WINDOW_MS),
                Ok(id.clone()),
                "a signed delivery is refused"
            );
            assert_eq!(
                generic::verify(&signed, &tampered(body), &secrets, now_ms, WINDOW_MS),
                Err(SignatureError::Mismatch),
                "a signature verified a changed body"
            );
        }
    }

    match generic::parse(body, if sendable { &id } else { "msg_1" }, ts_secs, NOW_MS) {
        Ok(fact) => assert_fact_is_normal(&fact),
        Err(e) => assert_says_something(&e),
    }
}

/// An ADP answer: the bytes as a queue message (both envelopes, read as the queue keeps them:
/// text, with invalid UTF-8 replaced), as a worker record and as a token answer.
///
/// - A parsed event survives its round trip through storage; a termination and the worker
///   read from the same bytes make a normal fact or a refusal with a message.
/// - A token answer gives a token whose expiry can be computed, or a refusal.
pub fn adp(data: &[u8]) {
    let body = String::from_utf8_lossy(data);
    let event = adp::parse_event(&body);
    match &event {
        Ok(event) => {
            assert_round_trips(event);
            assert!(!event.event_id.is_empty() && !event.associate_oid.is_empty());
        }
        Err(e) => assert_says_something(e),
    }
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        match Worker::from_response("G3R4TEST", &v) {
            Ok(worker) => {
                if let Some(email) = &worker.business_email {
                    assert_eq!(normalize_email(email).as_ref(), Some(email));
                }
                if let Ok(event) = &event {
                    match event.to_departure(&worker) {
                        Ok(fact) => assert_fact_is_normal(&fact),
                        Err(e) => assert_says_something(&e),
                    }
                }
            }
            Err(e) => assert_says_something(&e),
        }
    }
    let call = Call::new("adp", reqwest::Method::POST, "/auth/oauth/v2/token");
    match token_answer(&call, data) {
        Ok((token, lifetime)) => {
            let _ = CachedToken::new(token, lifetime, Instant::now());
        }
        Err(e) => assert_says_something(&e),
    }
}

/// A Workday RaaS report, after an optional first line `mapping: <JSON>` (the connection's
/// `field_mapping` setting).
///
/// - The mapping reads or is refused with a message; the report parses or is refused with a
///   message naming the row.
/// - Rows survive their round trip through the stored snapshot; every fact made from them is
///   normal; a report compared with itself yields no fact.
pub fn workday_report(data: &[u8]) {
    let (mapping, body) = match data.strip_prefix(b"mapping:") {
        Some(rest) => {
            let (line, body) = split_lines(rest, 1);
            let setting = serde_json::from_slice::<Value>(line[0]).unwrap_or(Value::Null);
            let settings = BTreeMap::from([(workday::MAPPING_SETTING.to_string(), setting)]);
            match FieldMapping::from_settings(&settings) {
                Ok(m) => (m, body),
                Err(e) => return assert_says_something(&e),
            }
        }
        None => (FieldMapping::default(), data),
    };
    let read = match workday::read_report(body, &mapping) {
        Ok(read) => read,
        Err(e) => return assert_says_something(&e),
    };
    for p in &read.problems {
        assert!(!p.problem.trim().is_empty(), "a row problem says nothing");
    }
    let rows = read.rows.clone();
    assert_round_trips(&rows);
    let today = date_of_ms(NOW_MS);
    let kept: Vec<workday::KeptRow> = rows.iter().cloned().map(Into::into).collect();
    let again = workday::compare(Some(&kept), &read, 20, today, NOW_MS);
    assert!(
        again.facts.is_empty(),
        "a report compared with itself yields facts"
    );
    let first = workday::compare(None, &read, 20, today, NOW_MS);
    let none = workday::ReportRead::default();
    let emptied = workday::compare(Some(&first.snapshot), &none, 100, today, NOW_MS);
    for fact in first.facts.iter().chain(&emptied.facts) {
        assert_fact_is_normal(fact);
    }
}
