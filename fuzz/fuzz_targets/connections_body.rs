//! `cargo +nightly fuzz run connections_body`: see `riskflow::fuzzing::connections_body` for the input's shape and
//! the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| riskflow::fuzzing::connections_body(data));
