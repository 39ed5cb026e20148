//! `cargo +nightly fuzz run jira_answers`: see `riskflow::fuzzing::jira_answers` for the input's shape and
//! the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| riskflow::fuzzing::jira_answers(data));
