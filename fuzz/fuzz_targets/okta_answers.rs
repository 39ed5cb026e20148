//! `cargo +nightly fuzz run okta_answers`: see `riskflow::fuzzing::okta_answers` for the input's shape and
//! the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| riskflow::fuzzing::okta_answers(data));
