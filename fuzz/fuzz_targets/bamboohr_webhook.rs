//! `cargo +nightly fuzz run bamboohr_webhook`: see `riskflow::fuzzing::bamboohr_webhook` for the input's shape and
//! the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| riskflow::fuzzing::bamboohr_webhook(data));
