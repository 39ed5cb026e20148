//! `cargo +nightly fuzz run generic_webhook`: see `riskflow::fuzzing::generic_webhook` for the input's shape and
//! the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| riskflow::fuzzing::generic_webhook(data));
