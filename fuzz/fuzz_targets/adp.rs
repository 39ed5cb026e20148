//! `cargo +nightly fuzz run adp`: see `riskflow::fuzzing::adp` for the input's shape and
//! the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| riskflow::fuzzing::adp(data));
