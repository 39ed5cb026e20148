//! `cargo +nightly fuzz run servicenow_answers`: see `riskflow::fuzzing::servicenow_answers` for the input's shape and
//! the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| riskflow::fuzzing::servicenow_answers(data));
