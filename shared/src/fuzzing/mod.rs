//! Entry points for fuzzing every parser that reads outside bytes (feature `fuzzing`).
//!
//! Each function takes any bytes, runs them through the production parse functions of one
//! family (never a copy of their logic) and panics only when a property fails: a parser
//! panics, a refusal has no message, a signature made for one body verifies another, a parsed
//! record does not survive the round trip it makes through storage. The libFuzzer targets in
//! `fuzz/fuzz_targets/` call them (`make fuzz`, and a few seconds each in `make test`), and
//! `shared/tests/fuzz_corpus.rs` replays the seed corpus in `fuzz/corpus/<target>/` through
//! them on stable Rust, so the corpus is checked even where no nightly toolchain is installed.
//!
//! Input shapes (so a seed file is readable and easy to write by hand):
//! - the webhook targets take header values on the first lines and the body after them
//!   ([`bamboohr_webhook`], [`generic_webhook`]);
//! - [`connections_body`] takes the kind, then the content type, then the body;
//! - [`workday_report`] takes an optional first line `mapping: <JSON object>` (the
//!   connection's `field_mapping` setting), then the report;
//! - every other target reads the whole input as one answer body.

mod api;
mod hr;
mod vendors;

pub use api::connections_body;
pub use hr::{adp, bamboohr_webhook, generic_webhook, workday_report};
pub use vendors::{incydr_answers, jira_answers, okta_answers, servicenow_answers};

/// One target's entry point: any bytes in, a panic only when a property fails.
pub type Target = fn(&[u8]);

/// Every target by the name of its folder in `fuzz/corpus/` and its file in
/// `fuzz/fuzz_targets/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("bamboohr_webhook", bamboohr_webhook),
    ("generic_webhook", generic_webhook),
    ("adp", adp),
    ("workday_report", workday_report),
    ("connections_body", connections_body),
    ("incydr_answers", incydr_answers),
    ("jira_answers", jira_answers),
    ("servicenow_answers", servicenow_answers),
    ("okta_answers", okta_answers),
];

/// 2026-03-01T12:00:00Z, the clock of every target that needs one.
const NOW_MS: i64 = 1_772_366_400_000;

/// The first `n` lines of `data` (without their `\n`; missing lines are empty) and the rest.
fn split_lines(data: &[u8], n: usize) -> (Vec<&[u8]>, &[u8]) {
    let mut lines = Vec::with_capacity(n);
    let mut rest = data;
    for _ in 0..n {
        match rest.iter().position(|b| *b == b'\n') {
            Some(i) => {
                lines.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                lines.push(rest);
                rest = &[];
            }
        }
    }
    (lines, rest)
}

/// A refusal a person reads must say something.
#[track_caller]
fn assert_says_something(e: &impl std::fmt::Display) {
    let text = e.to_string();
    assert!(!text.trim().is_empty(), "a refusal without a message");
}

/// A stored record reads back as it was written.
#[track_caller]
fn assert_round_trips<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let text = serde_json::to_string(value).expect("a parsed record serialises");
    let back: T = serde_json::from_str(&text).expect("a serialised record reads back");
    assert_eq!(&back, value, "the record changed through {text}");
}

/// A fact's email is in the normal form every source writes (trimmed, lower-cased, checked).
#[track_caller]
fn assert_fact_is_normal(fact: &crate::domain::Departure) {
    assert_eq!(
        crate::connectors::hr::normalize_email(&fact.email).as_deref(),
        Some(fact.email.as_str()),
        "a fact's email is not normalised"
    );
    if fact.kind == crate::domain::HrEventKind::Departure {
        assert!(fact.departure_date.is_some(), "a departure without a date");
    }
    assert_round_trips(fact);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_lines_gives_each_header_line_and_the_rest_as_the_body() {
        let (lines, rest) = split_lines(b"a\nb\n{\"x\":\n1}", 2);
        assert_eq!(lines, vec![&b"a"[..], &b"b"[..]]);
        assert_eq!(rest, b"{\"x\":\n1}");
        let (lines, rest) = split_lines(b"only", 3);
        assert_eq!(lines, vec![&b"only"[..], &b""[..], &b""[..]]);
        assert!(rest.is_empty());
    }
}
