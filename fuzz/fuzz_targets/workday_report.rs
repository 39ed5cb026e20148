//! `cargo +nightly fuzz run workday_report`: see `riskflow::fuzzing::workday_report` for the input's shape and
//! the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| riskflow::fuzzing::workday_report(data));
